/*
 * conf.h — trunxd's configuration: the parsed, validated, frozen settings.
 *
 * The file is INI-like: `[section]` or `[section NAME]` headers, `key = value` lines,
 * `#` or `;` comments on their own lines. Sections: general, sip, media, and any
 * number of `[trunk NAME]` and `[route NAME]`. conf/trunx.conf documents every key.
 * conf_parse_buf() lets tests and the fuzzer skip files. Errors name file:line and the
 * reason; --check prints them and exits non-zero.
 *
 * A struct conf never changes once loaded. A reload parses a new one, and the parts
 * that can change live (routes, trunks, limits, log level) are swapped in; the rest
 * (listen addresses, ports, workers) needs a restart and is logged as such.
 */
#ifndef TRUNX_CONF_H
#define TRUNX_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "media.h"
#include "route.h"

#define CONF_PATH_MAX 256
#define CONF_HOST_MAX 128

enum conf_unknown_source {
	CONF_UNKNOWN_REJECT = 0,   /**< answer 403 */
	CONF_UNKNOWN_DROP,         /**< answer nothing */
};

struct conf_general {
	enum log_level log_level;
	char control_socket[CONF_PATH_MAX];  /**< Unix socket path for trunxctl */
	unsigned log_repeat_ms;              /**< identical records suppressed this long
					          after each is written; 0 = off */
};

struct conf_sip {
	char     listen_addr[CONF_HOST_MAX];  /**< IP literal to bind */
	uint16_t listen_port;                 /**< UDP and TCP port */
	bool     udp, tcp, tls;               /**< transports enabled (tls right after tcp:
					           the transports parser writes it there) */
	char     tls_addr[CONF_HOST_MAX];     /**< IP literal the TLS listener binds */
	uint16_t tls_port;                    /**< its port */
	char     tls_cert[CONF_PATH_MAX];     /**< PEM certificate (chain) of trunx */
	char     tls_key[CONF_PATH_MAX];      /**< PEM private key */
	char     tls_ca[CONF_PATH_MAX];       /**< PEM CAs that peers' certificates must
					           chain to (tls_verify) */
	char     tls_ciphers[256];            /**< TLS 1.2 cipher list (OpenSSL syntax);
					           "" = trunx's forward-secret AEAD list */
	char     advertise_addr[CONF_HOST_MAX]; /**< host in Via/Contact; "" = listen_addr */
	uint16_t advertise_port;              /**< 0 = listen_port */
	char     user_agent[64];              /**< User-Agent / Server value */
	unsigned max_calls;                   /**< concurrent calls; beyond: 503 */
	unsigned max_cps;                     /**< new calls per second; beyond: 503 */
	unsigned retry_after;                 /**< seconds in Retry-After of overload 503s */
	unsigned overload_delay_ms;           /**< queueing delay of the UDP SIP socket above
					           which new INVITEs get 503 at once; 0 = off */
	enum conf_unknown_source unknown_source;
	unsigned invite_timeout;              /**< s without any response from B -> 408 */
	unsigned ring_timeout;                /**< s from B's first 18x without answer -> 480 */
	unsigned max_forwards;                /**< Max-Forwards on requests we originate */
	unsigned shutdown_grace;              /**< s to wait for BYEs to complete on SIGTERM */
	unsigned transaction_timeout_ms;      /**< 64*T1: timers B, F, H, J */
	unsigned timer_t4_ms;                 /**< T4: timers I, K (completed transactions
					           kept over UDP after their last message) */
	unsigned max_message_size;            /**< bytes: a larger incoming SIP message is
					           refused (413, or its connection closed) */
	unsigned rate_limit;                  /**< requests/s per source address; 0 = off */
	unsigned rate_burst;                  /**< bucket size; 0 = rate_limit */
	unsigned tcp_max_connections;         /**< accepted connections; 0 = from the
					           open-file budget */
	unsigned tcp_max_per_source;          /**< accepted connections per source address
					           no trunk matches */
	unsigned tcp_max_per_trunk;           /**< accepted connections per trunk source
					           address; 0 = tcp_max_connections */
	unsigned tcp_idle_ms;                 /**< a trunk's connection without a dialog is
					           closed after this long idle; 0 = never */
	unsigned tcp_unknown_ms;              /**< a connection from an unknown source is
					           closed after this long at most */
	unsigned tcp_message_ms;              /**< a message begun on a connection must be
					           whole within this long; 0 = no limit */
};

/** [data]: where the shared data lives (Postgres, Redis) and how this node uses it. */
struct conf_data {
	char     postgres[512];           /**< libpq conninfo or URI; "" = file mode */
	char     redis[256];              /**< redis://host[:port][/db] or unix:/path; "" =
					       per-node admission counters */
	char     node_id[64];             /**< this node's name in leases and records;
					       "" = hostname:sip port */
	char     journal_dir[CONF_PATH_MAX]; /**< CDR journal (fsynced, replayed) */
	unsigned startup_timeout;         /**< s to wait for Postgres at start-up */
	unsigned query_timeout_ms;        /**< a Postgres query silent this long: reconnect */
	unsigned lease_ttl;               /**< s a channel lease lives without refresh */
	unsigned admit_timeout_ms;        /**< admission answer deadline; then 503 */
	unsigned cdr_batch;               /**< most CDRs per INSERT */
	unsigned cdr_flush_ms;            /**< longest wait before a batch is written */
};

/** [api]: the HTTP/JSON API (src/api); database mode only. */
struct conf_api {
	char     listen_addr[CONF_HOST_MAX];  /**< IP literal; "" = no public listener */
	uint16_t listen_port;
	char     service_listen[CONF_PATH_MAX]; /**< "unix:/path" or a loopback "ip:port";
					          "" = none. The only door for the service token */
	char     service_token[128];          /**< internal callers' token; "" = none */
	unsigned body_limit;                  /**< bytes of a request body; beyond: 413 */
	unsigned auth_fail_limit;             /**< failed authentications per source address
					           per minute; beyond: 429 */
	unsigned key_cache_s;                 /**< s a key's (tenant, scopes) stay in Redis */
	unsigned key_local_cache_ms;          /**< ms a key stays in the node's own copy
					           (capped at key_cache_s); 0 = off */
	unsigned key_local_cache_size;        /**< keys the node's own copy holds at most */
	unsigned timeout_ms;                  /**< a request unanswered this long: 503 */
	unsigned max_connections;             /**< open connections per listener; at the
					           cap, accepting pauses */
	unsigned max_conn_per_source;         /**< connections one address (IPv6: one
					           /64) may hold; beyond: 429, closed */
	unsigned api_pool_retry;              /**< Retry-After s when the API pool is full */
	unsigned db_connections;              /**< Postgres connections of the API */
	char     media_dir[CONF_PATH_MAX];    /**< the only folder the API's play and record
					           reach (a tenant: its own subfolder);
					           "" = no file operations by API */
};

/** [events]: the event stream, SSE and webhooks (src/events; database mode). All of it
 *  needs a restart: a new member goes into events_diff (src/ctl/ctl_conf.c) too. */
struct conf_events {
	char     http_addr[CONF_HOST_MAX];  /**< loopback listener of the events routes
					         until src/api serves them; "" = none */
	uint16_t http_port;
	char     webhook_retry[128];      /**< delays of the attempts ("0s,1m,5m,30m,2h") */
	unsigned webhook_timeout_ms;      /**< an attempt unanswered this long failed */
	unsigned webhook_concurrency;     /**< attempts out at once, per node */
	unsigned sse_keepalive_ms;        /**< comment line on an idle stream */
	unsigned sse_buffer;              /**< bytes a slow client may have unsent; then cut */
	unsigned sse_max_per_tenant;      /**< streams one tenant may hold on a node; 0 = any */
	unsigned poll_ms;                 /**< the table is read at least this often */
	char     webhook_ca_file[CONF_PATH_MAX]; /**< PEM CAs for https webhooks; "" = the
					         system store */
	bool     webhook_allow_http;      /**< plain http:// webhook URLs accepted */
	bool     webhook_allow_private;   /**< loopback, link-local, private and other
					       non-public addresses may be delivered to */
};

/** How a configuration gets its trunks and routes. */
enum conf_mode {
	CONF_MODE_FILE = 0,   /**< [trunk] / [route] sections; per-node budgets */
	CONF_MODE_DB,         /**< Postgres tables, applied live (LISTEN/NOTIFY) */
};

struct conf {
	char                    path[CONF_PATH_MAX];  /**< file it came from, "" for buffers */
	struct conf_general     general;
	struct conf_sip         sip;
	struct conf_data        data;
	struct conf_api         api;
	struct conf_events      events;
	struct media_engine_cfg media;
	char                    media_advertise[CONF_HOST_MAX];  /**< c= address; "" = bind */
	size_t                  n_trunks;
	struct trunk_cfg       *trunks;   /**< owned */
	size_t                  n_routes;
	struct route_cfg       *routes;   /**< owned */
};

/**
 * Parses and validates a configuration.
 * @param confp  receives a new conf (free with conf_free)
 * @param name   file name used in error messages
 * @param err    receives "name:line: reason" on error
 * @return 0, EINVAL (syntax or validation error), ENOMEM
 */
int conf_parse_buf(struct conf **confp, const char *name, const char *buf, size_t len,
		   char *err, size_t errlen);

/** Reads a file and parses it; errors as conf_parse_buf plus the errno of reading. */
int conf_load(struct conf **confp, const char *path, char *err, size_t errlen);

void conf_free(struct conf *cf);

/** This node's id: [data] node_id, else "<host name>:<SIP port>". */
void conf_node_id(const struct conf *cf, char *out, size_t len);

/** The mode a configuration selects: database when [data] postgres is set. */
enum conf_mode conf_mode(const struct conf *cf);

/**
 * Describes the mode for `--check`, three lines without the last line end:
 * "mode: file (...)" or "mode: database (...)", "postgres: URL" and "redis: URL"
 * ("-" when not set; passwords masked).
 */
void conf_mode_describe(const struct conf *cf, char *out, size_t len);

/**
 * Builds the frozen routing snapshot from a conf's trunks and routes.
 * @return 0 or EINVAL with a reason
 */
int conf_build_routes(const struct conf *cf, struct route_table **rtp, char *err,
		      size_t errlen);

/* ---- the file's value parsers, for trunks and routes that come from elsewhere ---- */

/**
 * Sets one [trunk] key of t ("srtp", "dtmf", "opus_fec"...) from its text, with the
 * parser and checks the file uses; "" sets the key's default. The database rows
 * (src/db/db_rows.c) go through this, so both modes read values alike.
 * @return 0, EINVAL (unknown key or bad value; why says which)
 */
int conf_trunk_set(struct trunk_cfg *t, const char *key, const char *val, char *why,
		   size_t whylen);

/** As conf_trunk_set, for a [route] key ("record", "amd"...). */
int conf_route_set(struct route_cfg *r, const char *key, const char *val, char *why,
		   size_t whylen);

/**
 * Parses one CIDR ("10.0.0.0/8", "2001:db8::/32", a bare address = host route);
 * host bits must be zero.
 * @return 0, EINVAL with the reason in why
 */
/**
 * A trunk or route uri whose host is an IP literal of the other family than the
 * listen address it would be sent from (tls_listen for a sips: or TLS uri when set):
 * @return 0 (usable, or not an IP literal); EAFNOSUPPORT with the reason in why,
 *         naming both
 */
int conf_uri_family_check(const char *uri, const char *listen, const char *tls_listen,
			  char *why, size_t whylen);

int conf_cidr_parse(const char *tok, struct route_cidr *c, char *why, size_t whylen);

#endif
