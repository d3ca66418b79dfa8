/*
 * events_priv.h — the event stream's context, shared by its files (events.c: life and
 * Redis; events_stream.c: the table reader and SSE clients; events_hook.c: webhook
 * attempts; events_api.c: the webhook resources; events_listen.c: the loopback
 * listener). Control thread only.
 */
#ifndef TRUNX_EVENTS_PRIV_H
#define TRUNX_EVENTS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "events/events.h"
#include "events/events_sched.h"

struct db;
struct kv;
struct evdns_base;
struct evhttp;
struct evhttp_request;
struct sse_client;
struct hook_attempt;
struct redisAsyncContext;
struct ssl_ctx_st;
struct ssl_st;
struct bufferevent;
struct evhttp_connection;

#define EVENTS_CHANNEL "trunx:events"

struct events {
	struct event_base  *base;
	struct conf_events  cfg;
	struct events_sched sched;
	char                node_id[64];
	char                redis_url[256];

	struct db          *stream_db;   /**< table reader and replays */
	struct db          *hook_db;     /**< webhook claims, outcomes and resources */
	struct kv          *pub;         /**< PUBLISH (NULL without Redis) */

	/* Redis subscriber (events.c) */
	struct redisAsyncContext *sub;
	struct event       *sub_retry_ev;
	bool                sub_up, destroying;

	/* table reader (events_stream.c) */
	bool                ready;       /**< `last` is known */
	uint64_t            last;        /**< every committed id up to this was read */
	bool                reading, read_again;
	struct event       *poll_ev;     /**< poll_interval timer */
	struct event       *keycheck_ev; /**< the streams' API keys looked up again */
	bool                keychecking; /**< that lookup is out */
	uint64_t            keycheck_gen; /**< its number: the streams it covers */
	struct sse_client  *clients;
	size_t              n_clients;

	/* webhooks (events_hook.c, events_dial.c) */
	struct evdns_base  *dns;
	struct ssl_ctx_st  *tls;         /**< https client context */
	struct hook_attempt *attempts;  /**< out */
	struct hook_attempt *finished;  /**< answered; their connections freed next turn */
	unsigned            n_out;       /**< attempts out */
	bool                claiming, claim_again;
	struct event       *hook_ev;

	/* loopback listener (events_listen.c) */
	struct evhttp      *http;

	/* counters */
	uint64_t            n_published, n_read, n_sent, n_cut, n_replayed;
	uint64_t            n_refused;   /**< streams refused: sse_max_per_tenant */
	uint64_t            n_hook_ok, n_hook_retry, n_hook_dead;
	uint64_t            n_hook_attempts;
	uint64_t            hook_lat[EVENTS_HOOK_LAT_BUCKETS];
	uint64_t            hook_lat_count;
	double              hook_lat_sum;
	int64_t             hook_retry_pending;  /**< -1 until read */
	bool                counting;            /**< the pending count query is out */
	uint64_t            counted_ms;          /**< when it was last asked (monotonic) */
};

/* events_stream.c */
int  stream_init(struct events *e);
void stream_fini(struct events *e);
void stream_kick(struct events *e);          /**< read new rows now */
void stream_db_state(struct events *e, bool up);

/* events_hook.c */
int  hook_init(struct events *e);
void hook_fini(struct events *e);
void hook_kick(struct events *e);            /**< claim due deliveries now */

/* events_dial.c: a webhook URL's connection (policy, evdns, TLS) */
struct dial_target {
	bool tls;             /**< https */
	bool literal;         /**< host is an IP address */
	char host[256];       /**< as in the URL (IPv6 without brackets) */
	int  port;
	char target[2100];    /**< path and query */
	char hostport[300];   /**< the Host header */
};
struct dial_ticket;
/** A resolution's answer: an address (text) to connect to, or why there is none. */
typedef void (dial_h)(void *arg, const char *addr, const char *error);

int  dial_init(struct events *e, char *err, size_t errlen);
void dial_fini(struct events *e);
/** Checks a webhook URL against the node's policy (scheme; a literal address's
 *  class). @return 0, EINVAL (why says it, for a 422 or a failed attempt) */
int  dial_parse(const struct events *e, const char *url, struct dial_target *t,
		char *why, size_t wlen);
/** Resolves t's host on the loop; h runs once, maybe before this returns (*tk NULL
 *  then). @return 0, ENOMEM (h not called) */
int  dial_resolve(struct events *e, const struct dial_target *t, dial_h *h, void *arg,
		  struct dial_ticket **tk);
/** h of a pending resolution will not run. */
void dial_cancel(struct dial_ticket *tk);
/** A connection to addr, TLS-verified for t->host when t->tls (*ssl: its session). */
struct evhttp_connection *dial_connect(struct events *e, const struct dial_target *t,
				       const char *addr, struct ssl_st **ssl, char *why,
				       size_t wlen);
/** Why a TLS connection failed, when it says (verification result, OpenSSL error). */
void dial_tls_error(struct ssl_st *ssl, struct bufferevent *bev, char *why, size_t wlen);

/* events_listen.c */
int  listen_init(struct events *e, char *err, size_t errlen);
void listen_fini(struct events *e);

/* events_api.c: the answer helpers */
void api_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));
void api_json(struct evhttp_request *req, int status, const char *json);
/** The API's id of a request it handed over (its X-Request-Id answer header), or NULL
 *  (the events module's own loopback listener): for answers and log lines. */
const char *events_request_id(struct evhttp_request *req);

#endif
