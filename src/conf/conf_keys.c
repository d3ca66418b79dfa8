/*
 * conf_keys.c — the declarative key tables of every section (name, type, field,
 * range, default) and the checks that relate the keys of one section. Adding a key
 * is one line here plus its field in conf.h / route.h and its entry in
 * conf/trunx.conf. Defaults are written in the file's own syntax.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_priv.h"
#include "events/events_sched.h"

#define CK(type_, member) offsetof(type_, member)
#define CSZ(type_, member) sizeof(((type_ *)0)->member)

static const char *const level_names[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const unknown_names[] = {"reject", "drop", NULL};
static const char *const rel100_names[] = {"off", "supported", "required", NULL};
static const char *const srtp_names[] = {"off", "optional", "required", NULL};
static const char *const io_names[] = {"auto", "uring", "epoll", NULL};
static const char *const kfwd_names[] = {"off", "auto", "on", NULL};
static const char *const latch_names[] = {"known", "any", NULL};
static const char *const trunk_latch_names[] = {"node", "known", "any", NULL};
static const char *const dtmf_names[] = {"rfc4733", "inband", "info", NULL};

_Static_assert(sizeof(enum log_level) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum conf_unknown_source) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum trunk_rel100) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum trunk_srtp) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum trunk_dtmf) == sizeof(int), "enum stored as int");
_Static_assert(LOG_OFF == 4 && CONF_UNKNOWN_DROP == 1 && TRUNK_REL100_REQUIRED == 2 &&
	       TRUNK_SRTP_REQUIRED == 2 && MEDIA_IO_EPOLL == 2,
	       "enum names follow the enum values");
_Static_assert(sizeof(enum media_io) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum media_kfwd) == sizeof(int) && MEDIA_KFWD_ON == 2,
	       "enum stored as int, names follow the values");
_Static_assert(sizeof(enum media_latch) == sizeof(int) && MEDIA_LATCH_KNOWN == 0 &&
	       MEDIA_LATCH_ANY == 1, "enum stored as int, names follow the values");
_Static_assert(sizeof(enum trunk_latch) == sizeof(int) && TRUNK_LATCH_NODE == 0 &&
	       TRUNK_LATCH_ANY == 2, "enum stored as int, names follow the values");

/* Unix socket paths must fit sockaddr_un.sun_path (108 bytes with the NUL). */
#define SUN_PATH_SIZE 108

static const struct conf_key general_keys[] = {
	{"log_level", CT_ENUM, CK(struct conf, general.log_level), 0, 0, 0, 0, 0,
	 level_names, "info"},
	{"control_socket", CT_PATH, CK(struct conf, general.control_socket), 0,
	 SUN_PATH_SIZE, 0, 0, 0, NULL, "/run/trunx/trunxd.sock"},
	{"log_repeat_interval", CT_UINT, CK(struct conf, general.log_repeat_ms), 0, 0, 0, 3600,
	 1000, NULL, "10"},
};

static const struct conf_key sip_keys[] = {
	{"listen", CT_LISTEN, CK(struct conf, sip.listen_addr), CK(struct conf, sip.listen_port),
	 CSZ(struct conf, sip.listen_addr), 0, 0, 0, NULL, "0.0.0.0:5060"},
	{"transports", CT_TRANSPORTS, CK(struct conf, sip.udp), CK(struct conf, sip.tcp),
	 0, 0, 0, 0, NULL, "udp,tcp"},
	{"tls_listen", CT_HOSTPORT, CK(struct conf, sip.tls_addr), CK(struct conf, sip.tls_port),
	 CSZ(struct conf, sip.tls_addr), 0, 0, 0, NULL, ""},
	{"tls_cert", CT_STR, CK(struct conf, sip.tls_cert), 0, CSZ(struct conf, sip.tls_cert),
	 0, 0, 0, NULL, ""},
	{"tls_key", CT_STR, CK(struct conf, sip.tls_key), 0, CSZ(struct conf, sip.tls_key),
	 0, 0, 0, NULL, ""},
	{"tls_ca", CT_STR, CK(struct conf, sip.tls_ca), 0, CSZ(struct conf, sip.tls_ca),
	 0, 0, 0, NULL, ""},
	{"tls_ciphers", CT_STR, CK(struct conf, sip.tls_ciphers), 0,
	 CSZ(struct conf, sip.tls_ciphers), 0, 0, 0, NULL, ""},
	{"advertise", CT_HOSTPORT, CK(struct conf, sip.advertise_addr),
	 CK(struct conf, sip.advertise_port), CSZ(struct conf, sip.advertise_addr),
	 0, 0, 0, NULL, ""},
	{"user_agent", CT_STR, CK(struct conf, sip.user_agent), 0,
	 CSZ(struct conf, sip.user_agent), 0, 0, 0, NULL, "trunx"},
	{"max_calls", CT_UINT, CK(struct conf, sip.max_calls), 0, 0, 1, 1000000, 1, NULL,
	 "1000"},
	{"max_cps", CT_UINT, CK(struct conf, sip.max_cps), 0, 0, 1, 100000, 1, NULL, "100"},
	{"retry_after", CT_UINT, CK(struct conf, sip.retry_after), 0, 0, 1, 3600, 1, NULL,
	 "5"},
	{"overload_delay", CT_UINT, CK(struct conf, sip.overload_delay_ms), 0, 0, 0, 10000, 1,
	 NULL, "250"},
	{"unknown_source", CT_ENUM, CK(struct conf, sip.unknown_source), 0, 0, 0, 0, 0,
	 unknown_names, "reject"},
	{"invite_timeout", CT_UINT, CK(struct conf, sip.invite_timeout), 0, 0, 1, 300, 1,
	 NULL, "32"},
	{"ring_timeout", CT_UINT, CK(struct conf, sip.ring_timeout), 0, 0, 1, 3600, 1, NULL,
	 "120"},
	{"max_forwards", CT_UINT, CK(struct conf, sip.max_forwards), 0, 0, 1, 255, 1, NULL,
	 "70"},
	{"shutdown_grace", CT_UINT, CK(struct conf, sip.shutdown_grace), 0, 0, 0, 3600, 1,
	 NULL, "10"},
	{"transaction_timeout", CT_UINT, CK(struct conf, sip.transaction_timeout_ms), 0, 0, 2,
	 32, 1000, NULL, "32"},
	{"timer_t4", CT_UINT, CK(struct conf, sip.timer_t4_ms), 0, 0, 1, 5, 1000, NULL, "5"},
	{"max_message_size", CT_UINT, CK(struct conf, sip.max_message_size), 0, 0, 4096,
	 2097152, 1, NULL, "65536"},
	{"rate_limit", CT_UINT, CK(struct conf, sip.rate_limit), 0, 0, 0, 1000000, 1, NULL,
	 "2000"},
	{"rate_burst", CT_UINT, CK(struct conf, sip.rate_burst), 0, 0, 0, 1000000, 1, NULL,
	 "0"},
	{"tcp_max_connections", CT_UINT, CK(struct conf, sip.tcp_max_connections), 0, 0, 0,
	 1000000, 1, NULL, "0"},
	{"tcp_max_per_source", CT_UINT, CK(struct conf, sip.tcp_max_per_source), 0, 0, 1,
	 1000000, 1, NULL, "32"},
	{"tcp_max_per_trunk", CT_UINT, CK(struct conf, sip.tcp_max_per_trunk), 0, 0, 0,
	 1000000, 1, NULL, "0"},
	{"tcp_idle_timeout", CT_UINT, CK(struct conf, sip.tcp_idle_ms), 0, 0, 0, 86400, 1000,
	 NULL, "120"},
	{"tcp_unknown_timeout", CT_UINT, CK(struct conf, sip.tcp_unknown_ms), 0, 0, 1, 3600,
	 1000, NULL, "5"},
	{"tcp_message_timeout", CT_UINT, CK(struct conf, sip.tcp_message_ms), 0, 0, 0, 3600,
	 1000, NULL, "20"},
};

static const struct conf_key media_keys[] = {
	{"address", CT_IP, CK(struct conf, media.bind_addr), 0, CSZ(struct conf, media.bind_addr),
	 0, 0, 0, NULL, ""},
	{"advertise", CT_IP, CK(struct conf, media_advertise), 0,
	 CSZ(struct conf, media_advertise), 0, 0, 0, NULL, ""},
	{"port_min", CT_PORT, CK(struct conf, media.port_min), 0, 0, 1024, 65535, 1, NULL,
	 "16384"},
	{"port_max", CT_PORT, CK(struct conf, media.port_max), 0, 0, 1024, 65535, 1, NULL,
	 "32767"},
	{"workers", CT_UINT, CK(struct conf, media.workers), 0, 0, 0, 256, 1, NULL, "0"},
	{"rtp_timeout", CT_UINT, CK(struct conf, media.rtp_timeout_ms), 0, 0, 0, 3600, 1000,
	 NULL, "60"},
	{"hold_timeout", CT_UINT, CK(struct conf, media.hold_timeout_ms), 0, 0, 0, 86400, 1000,
	 NULL, "3600"},
	{"relatch", CT_UINT, CK(struct conf, media.relatch_ms), 0, 0, 1, 3600, 1000, NULL,
	 "2"},
	{"latch", CT_ENUM, CK(struct conf, media.latch), 0, 0, 0, 0, 0, latch_names, "known"},
	{"max_delay_ms", CT_UINT, CK(struct conf, media.max_delay_ms), 0, 0, 0, 10000, 1, NULL,
	 "50"},
	{"io", CT_ENUM, CK(struct conf, media.io), 0, 0, 0, 0, 0, io_names, "epoll"},
	{"kernel_forward", CT_ENUM, CK(struct conf, media.kernel_forward), 0, 0, 0, 0, 0,
	 kfwd_names, "off"},
};

static const struct conf_key trunk_keys[] = {
	{"match", CT_CIDRS, CK(struct trunk_cfg, cidrs), CK(struct trunk_cfg, n_cidrs),
	 ROUTE_MAX_CIDRS, 0, 0, 0, NULL, ""},
	{"port", CT_PORT, CK(struct trunk_cfg, port), 0, 0, 0, 65535, 1, NULL, "0"},
	{"country_code", CT_DIGITS, CK(struct trunk_cfg, country_code), 0,
	 CSZ(struct trunk_cfg, country_code), 0, 0, 0, NULL, ""},
	{"national_prefix", CT_DIGITS, CK(struct trunk_cfg, national_prefix), 0,
	 CSZ(struct trunk_cfg, national_prefix), 0, 0, 0, NULL, ""},
	{"international_prefix", CT_DIGITS, CK(struct trunk_cfg, international_prefix), 0,
	 CSZ(struct trunk_cfg, international_prefix), 0, 0, 0, NULL, ""},
	{"uri", CT_SIPURI, CK(struct trunk_cfg, uri), 0, CSZ(struct trunk_cfg, uri), 0, 0, 0,
	 NULL, ""},
	{"session_expires", CT_UINT, CK(struct trunk_cfg, session_expires), 0, 0, 0, 86400, 1,
	 NULL, "0"},
	{"min_se", CT_UINT, CK(struct trunk_cfg, min_se), 0, 0, 90, 86400, 1, NULL, "90"},
	{"100rel", CT_ENUM, CK(struct trunk_cfg, rel100), 0, 0, 0, 0, 0, rel100_names,
	 "supported"},
	{"trusted", CT_BOOL, CK(struct trunk_cfg, trusted), 0, 0, 0, 0, 0, NULL, "no"},
	{"pass_headers", CT_HEADERS, CK(struct trunk_cfg, pass_headers),
	 CK(struct trunk_cfg, n_pass_headers), ROUTE_MAX_HEADERS, 0, 0, 0, NULL, ""},
	{"codecs", CT_CODECS, CK(struct trunk_cfg, codecs), CK(struct trunk_cfg, n_codecs),
	 ROUTE_MAX_CODECS, 0, 0, 0, NULL, ""},
	{"opus_complexity", CT_UINT, CK(struct trunk_cfg, opus_complexity), 0, 0, 0, 10, 1, NULL,
	 "5"},
	{"opus_fec", CT_BOOL, CK(struct trunk_cfg, opus_fec), 0, 0, 0, 0, 0, NULL, "yes"},
	{"opus_dtx", CT_BOOL, CK(struct trunk_cfg, opus_dtx), 0, 0, 0, 0, 0, NULL, "no"},
	{"srtp", CT_ENUM, CK(struct trunk_cfg, srtp), 0, 0, 0, 0, 0, srtp_names, "off"},
	{"srtp_without_tls", CT_BOOL, CK(struct trunk_cfg, srtp_without_tls), 0, 0, 0, 0, 0,
	 NULL, "no"},
	{"tls_verify", CT_BOOL, CK(struct trunk_cfg, tls_verify), 0, 0, 0, 0, 0, NULL, "yes"},
	{"dtmf", CT_ENUM, CK(struct trunk_cfg, dtmf), 0, 0, 0, 0, 0, dtmf_names, "rfc4733"},
	{"latch", CT_ENUM, CK(struct trunk_cfg, latch), 0, 0, 0, 0, 0, trunk_latch_names,
	 "node"},
};

static const struct conf_key route_keys[] = {
	{"match", CT_MATCH, CK(struct route_cfg, match), 0, CSZ(struct route_cfg, match),
	 0, 0, 0, NULL, NULL /* required */},
	{"from_trunk", CT_NAMEREF, CK(struct route_cfg, from_trunk), 0,
	 CSZ(struct route_cfg, from_trunk), 0, 0, 0, NULL, ""},
	{"to_trunk", CT_NAMEREF, CK(struct route_cfg, to_trunk), 0,
	 CSZ(struct route_cfg, to_trunk), 0, 0, 0, NULL, ""},
	{"uri", CT_URITMPL, CK(struct route_cfg, uri), 0, CSZ(struct route_cfg, uri), 0, 0, 0,
	 NULL, ""},
	{"record", CT_STR, CK(struct route_cfg, record_dir), 0, CSZ(struct route_cfg, record_dir),
	 0, 0, 0, NULL, ""},
	{"amd", CT_BOOL, CK(struct route_cfg, amd), 0, 0, 0, 0, 0, NULL, "no"},
};

static const struct conf_key data_keys[] = {
	{"postgres", CT_STR, CK(struct conf, data.postgres), 0, CSZ(struct conf, data.postgres),
	 0, 0, 0, NULL, ""},
	{"redis", CT_STR, CK(struct conf, data.redis), 0, CSZ(struct conf, data.redis),
	 0, 0, 0, NULL, ""},
	{"node_id", CT_STR, CK(struct conf, data.node_id), 0, CSZ(struct conf, data.node_id),
	 0, 0, 0, NULL, ""},
	{"journal_dir", CT_PATH, CK(struct conf, data.journal_dir), 0,
	 CSZ(struct conf, data.journal_dir), 0, 0, 0, NULL, "/var/lib/trunx/journal"},
	{"startup_timeout", CT_UINT, CK(struct conf, data.startup_timeout), 0, 0, 0, 3600, 1,
	 NULL, "30"},
	{"query_timeout", CT_UINT, CK(struct conf, data.query_timeout_ms), 0, 0, 100, 600000, 1,
	 NULL, "10000"},
	{"lease_ttl", CT_UINT, CK(struct conf, data.lease_ttl), 0, 0, 2, 3600, 1, NULL, "30"},
	{"admit_timeout", CT_UINT, CK(struct conf, data.admit_timeout_ms), 0, 0, 50, 60000, 1,
	 NULL, "1000"},
	{"cdr_batch", CT_UINT, CK(struct conf, data.cdr_batch), 0, 0, 1, 10000, 1, NULL, "200"},
	{"cdr_flush", CT_UINT, CK(struct conf, data.cdr_flush_ms), 0, 0, 1, 60000, 1, NULL,
	 "200"},
};

static const struct conf_key api_keys[] = {
	{"listen", CT_HOSTPORT, CK(struct conf, api.listen_addr), CK(struct conf, api.listen_port),
	 CSZ(struct conf, api.listen_addr), 0, 0, 0, NULL, ""},
	{"service_listen", CT_STR, CK(struct conf, api.service_listen), 0,
	 CSZ(struct conf, api.service_listen), 0, 0, 0, NULL, ""},
	{"service_token", CT_STR, CK(struct conf, api.service_token), 0,
	 CSZ(struct conf, api.service_token), 0, 0, 0, NULL, ""},
	{"body_limit", CT_UINT, CK(struct conf, api.body_limit), 0, 0, 256, 16777216, 1, NULL,
	 "65536"},
	{"auth_fail_limit", CT_UINT, CK(struct conf, api.auth_fail_limit), 0, 0, 1, 100000, 1,
	 NULL, "20"},
	{"key_cache", CT_UINT, CK(struct conf, api.key_cache_s), 0, 0, 1, 3600, 1, NULL, "60"},
	{"key_local_cache_ms", CT_UINT, CK(struct conf, api.key_local_cache_ms), 0, 0, 0, 60000,
	 1, NULL, "5000"},
	{"key_local_cache_size", CT_UINT, CK(struct conf, api.key_local_cache_size), 0, 0, 1,
	 1000000, 1, NULL, "4096"},
	{"timeout", CT_UINT, CK(struct conf, api.timeout_ms), 0, 0, 100, 600000, 1, NULL,
	 "10000"},
	{"max_connections", CT_UINT, CK(struct conf, api.max_connections), 0, 0, 16, 65536, 1,
	 NULL, "1024"},
	{"max_connections_per_source", CT_UINT, CK(struct conf, api.max_conn_per_source), 0, 0,
	 1, 65536, 1, NULL, "64"},
	{"pool_retry_after", CT_UINT, CK(struct conf, api.api_pool_retry), 0, 0, 1, 3600, 1, NULL,
	 "5"},
	{"db_connections", CT_UINT, CK(struct conf, api.db_connections), 0, 0, 1, 16, 1, NULL,
	 "4"},
	{"media_dir", CT_STR, CK(struct conf, api.media_dir), 0, CSZ(struct conf, api.media_dir),
	 0, 0, 0, NULL, ""},
};

static const struct conf_key events_keys[] = {
	{"http_listen", CT_HOSTPORT, CK(struct conf, events.http_addr),
	 CK(struct conf, events.http_port), CSZ(struct conf, events.http_addr), 0, 0, 0, NULL,
	 ""},
	{"webhook_retry", CT_STR, CK(struct conf, events.webhook_retry), 0,
	 CSZ(struct conf, events.webhook_retry), 0, 0, 0, NULL, "0s,1m,5m,30m,2h"},
	{"webhook_timeout", CT_UINT, CK(struct conf, events.webhook_timeout_ms), 0, 0, 100,
	 600000, 1, NULL, "10000"},
	{"webhook_concurrency", CT_UINT, CK(struct conf, events.webhook_concurrency), 0, 0, 1,
	 1000, 1, NULL, "32"},
	{"sse_keepalive", CT_UINT, CK(struct conf, events.sse_keepalive_ms), 0, 0, 50, 3600000,
	 1, NULL, "15000"},
	{"sse_buffer", CT_UINT, CK(struct conf, events.sse_buffer), 0, 0, 4096, 1u << 30, 1,
	 NULL, "1048576"},
	{"sse_max_per_tenant", CT_UINT, CK(struct conf, events.sse_max_per_tenant), 0, 0, 0,
	 1000000, 1, NULL, "64"},
	{"poll_interval", CT_UINT, CK(struct conf, events.poll_ms), 0, 0, 10, 60000, 1, NULL,
	 "1000"},
	{"webhook_ca_file", CT_STR, CK(struct conf, events.webhook_ca_file), 0,
	 CSZ(struct conf, events.webhook_ca_file), 0, 0, 0, NULL, ""},
	{"webhook_allow_http", CT_BOOL, CK(struct conf, events.webhook_allow_http), 0, 0, 0, 0,
	 0, NULL, "no"},
	{"webhook_allow_private", CT_BOOL, CK(struct conf, events.webhook_allow_private), 0, 0,
	 0, 0, 0, NULL, "no"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(N(trunk_keys) <= CONF_MAX_KEYS && N(sip_keys) <= CONF_MAX_KEYS,
	       "key tables fit the per-section line array");

static int check_media(struct conf_ctx *c, void *obj)
{
	struct conf *cf = obj;
	const struct conf_section *sec = c->sec;
	unsigned first_pair = cf->media.port_min + (cf->media.port_min & 1u);

	if (cf->media.port_min >= cf->media.port_max)
		return conf_fail(c, conf_key_line(sec, &c->cur, "port_max"),
				 "port_max (%u) must be above port_min (%u)",
				 cf->media.port_max, cf->media.port_min);
	if (first_pair + 1 > cf->media.port_max)
		return conf_fail(c, conf_key_line(sec, &c->cur, "port_max"),
				 "port range %u-%u holds no RTP/RTCP port pair",
				 cf->media.port_min, cf->media.port_max);
	return 0;
}

static int check_sip(struct conf_ctx *c, void *obj)
{
	struct conf *cf = obj;
	const struct conf_section *sec = c->sec;

	if (!cf->sip.tls) {
		if (cf->sip.tls_cert[0] || cf->sip.tls_key[0] || cf->sip.tls_ca[0] ||
		    cf->sip.tls_ciphers[0] || cf->sip.tls_addr[0])
			return conf_fail(c, conf_key_line(sec, &c->cur, "transports"),
					 "tls_* keys are set but transports has no tls");
		return 0;
	}
	if (!cf->sip.tls_cert[0] || !cf->sip.tls_key[0])
		return conf_fail(c, conf_key_line(sec, &c->cur, "tls_cert"),
				 "transports has tls: tls_cert and tls_key are required");
	if (cf->sip.tls_addr[0] && !conf_is_ip(cf->sip.tls_addr))
		return conf_fail(c, conf_key_line(sec, &c->cur, "tls_listen"),
				 "tls_listen: \"%s\" is not an IP address", cf->sip.tls_addr);
	if (!cf->sip.tls_addr[0])
		snprintf(cf->sip.tls_addr, sizeof(cf->sip.tls_addr), "%s", cf->sip.listen_addr);
	if (!cf->sip.tls_port)
		cf->sip.tls_port = 5061;
	if (strcmp(cf->sip.tls_addr, cf->sip.listen_addr) == 0 &&
	    cf->sip.tls_port == cf->sip.listen_port)
		return conf_fail(c, conf_key_line(sec, &c->cur, "tls_listen"),
				 "tls_listen must differ from listen (port %u)", cf->sip.tls_port);
	return 0;
}

/* The uri names TLS: sips: or ;transport=tls. */
static bool uri_tls(const char *uri)
{
	return strncasecmp(uri, "sips:", 5) == 0 || strcasestr(uri, ";transport=tls") != NULL;
}

static int check_trunk(struct conf_ctx *c, void *obj)
{
	const struct trunk_cfg *t = obj;
	const struct conf_section *sec = c->sec;
	size_t cc = strlen(t->country_code);

	if (cc > 3 || (cc && t->country_code[0] == '0'))
		return conf_fail(c, conf_key_line(sec, &c->cur, "country_code"),
				 "country_code must be 1-3 digits not starting with 0");
	if (t->national_prefix[0] && !cc)
		return conf_fail(c, conf_key_line(sec, &c->cur, "national_prefix"),
				 "national_prefix needs a country_code");
	if (t->national_prefix[0] &&
	    strcmp(t->national_prefix, t->international_prefix) == 0)
		return conf_fail(c, conf_key_line(sec, &c->cur, "international_prefix"),
				 "international_prefix equals national_prefix");
	if (t->session_expires && t->session_expires < t->min_se)
		return conf_fail(c, conf_key_line(sec, &c->cur, "session_expires"),
				 "session_expires (%u) is below min_se (%u)",
				 t->session_expires, t->min_se);
	if (!t->trusted) {
		for (size_t i = 0; i < t->n_pass_headers; i++)
			if (conf_header_is_identity(t->pass_headers[i]))
				return conf_fail(c, conf_key_line(sec, &c->cur, "pass_headers"),
						 "%s is passed only from trusted trunks "
						 "(set trusted = yes)", t->pass_headers[i]);
	}
	if (!t->n_cidrs && !t->uri[0])
		return conf_fail(c, c->cur.header,
				 "trunk %s has neither match (inbound) nor uri (outbound)",
				 t->name);
	if (t->srtp == TRUNK_SRTP_REQUIRED && t->uri[0] && !uri_tls(t->uri) &&
	    !t->srtp_without_tls)
		return conf_fail(c, conf_key_line(sec, &c->cur, "srtp"),
				 "srtp = required sends SDES keys: the uri must use TLS "
				 "(;transport=tls or sips:), or set srtp_without_tls = yes");
	return 0;
}

static int check_route(struct conf_ctx *c, void *obj)
{
	const struct route_cfg *r = obj;

	if (!r->to_trunk[0] && !r->uri[0])
		return conf_fail(c, c->cur.header, "route %s has neither to_trunk nor uri",
				 r->name);
	return 0;
}

static bool printable_no_blank_end(const char *s)
{
	size_t n = strlen(s);

	return !n || (s[0] != ' ' && s[n - 1] != ' ');
}

static int check_data(struct conf_ctx *c, void *obj)
{
	const struct conf *cf = obj;
	const struct conf_section *sec = c->sec;
	const char *r = cf->data.redis;

	if (!printable_no_blank_end(cf->data.postgres))
		return conf_fail(c, conf_key_line(sec, &c->cur, "postgres"), "bad postgres");
	if (r[0] && strncmp(r, "redis://", 8) != 0 && strncmp(r, "unix:", 5) != 0)
		return conf_fail(c, conf_key_line(sec, &c->cur, "redis"),
				 "redis: \"%s\" is not redis://host[:port][/db] or unix:/path", r);
	if (cf->data.node_id[0] && !conf_name_valid(cf->data.node_id))
		return conf_fail(c, conf_key_line(sec, &c->cur, "node_id"),
				 "node_id: 1-63 of A-Z a-z 0-9 _ . -");
	return 0;
}

/* A loopback address: 127.0.0.0/8 or ::1. */
static bool is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

/* A port: 1-65535 in decimal digits and nothing else ("8080x", " 80" and an
 * overflowing number are not ports). */
static bool port_ok(const char *s)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5 || s[strspn(s, "0123456789")])
		return false;
	v = strtoul(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

static int check_api(struct conf_ctx *c, void *obj)
{
	struct conf *cf = obj;
	const struct conf_section *sec = c->sec;
	const char *sl = cf->api.service_listen;
	size_t tl = strlen(cf->api.service_token);

	if (cf->api.listen_addr[0] && !conf_is_ip(cf->api.listen_addr))
		return conf_fail(c, conf_key_line(sec, &c->cur, "listen"),
				 "listen: \"%s\" is not an IP address", cf->api.listen_addr);
	if (cf->api.listen_addr[0] && !cf->api.listen_port)
		return conf_fail(c, conf_key_line(sec, &c->cur, "listen"),
				 "listen needs a port (ip:port)");
	if (sl[0] && strncmp(sl, "unix:", 5) == 0) {
		if (sl[5] != '/' || strlen(sl + 5) >= SUN_PATH_SIZE)
			return conf_fail(c, conf_key_line(sec, &c->cur, "service_listen"),
					 "service_listen: unix:/absolute/path (at most %d bytes)",
					 SUN_PATH_SIZE - 1);
	} else if (sl[0]) {
		char ip[CONF_HOST_MAX];
		const char *colon = strrchr(sl, ':');
		size_t n = colon ? (size_t)(colon - sl) : 0;

		if (n >= 2 && sl[0] == '[' && sl[n - 1] == ']' && n - 2 < sizeof(ip)) {
			memcpy(ip, sl + 1, n - 2);
			ip[n - 2] = 0;
		} else if (n && n < sizeof(ip)) {
			memcpy(ip, sl, n);
			ip[n] = 0;
		} else {
			ip[0] = 0;
		}
		if (!colon || !conf_is_ip(ip) || !is_loopback(ip) || !port_ok(colon + 1))
			return conf_fail(c, conf_key_line(sec, &c->cur, "service_listen"),
					 "service_listen: \"%s\" is neither unix:/path nor a "
					 "loopback ip:port", sl);
	}
	if (tl && tl < 32)
		return conf_fail(c, conf_key_line(sec, &c->cur, "service_token"),
				 "service_token: at least 32 characters");
	if (tl && !sl[0])
		return conf_fail(c, conf_key_line(sec, &c->cur, "service_token"),
				 "service_token is accepted on service_listen only: set it");
	return 0;
}

static int check_events(struct conf_ctx *c, void *obj)
{
	const struct conf *cf = obj;
	struct events_sched sc;

	if (events_sched_parse(cf->events.webhook_retry, &sc) != 0)
		return conf_fail(c, conf_key_line(c->sec, &c->cur, "webhook_retry"),
				 "webhook_retry: \"%s\" is not a list of 1-%d delays (0s,1m,5m,"
				 "30m,2h; units ms, s, m, h)", cf->events.webhook_retry,
				 EVENTS_SCHED_MAX);
	return 0;
}

const struct conf_section conf_sections[] = {
	{"general", false, general_keys, N(general_keys), NULL},
	{"sip", false, sip_keys, N(sip_keys), check_sip},
	{"media", false, media_keys, N(media_keys), check_media},
	{"trunk", true, trunk_keys, N(trunk_keys), check_trunk},
	{"route", true, route_keys, N(route_keys), check_route},
	{"data", false, data_keys, N(data_keys), check_data},
	{"api", false, api_keys, N(api_keys), check_api},
	{"events", false, events_keys, N(events_keys), check_events},
};
const size_t conf_n_sections = N(conf_sections);

int conf_key_index(const struct conf_section *sec, const char *name)
{
	for (size_t i = 0; i < sec->n_keys; i++)
		if (strcmp(sec->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

unsigned conf_key_line(const struct conf_section *sec, const struct conf_lines *l,
		       const char *key)
{
	int i = conf_key_index(sec, key);

	return i >= 0 && l->key[i] ? l->key[i] : l->header;
}

/* One key of a named section's table, parsed the file's way ("" = its default). */
static int key_set(const struct conf_key *keys, size_t n, void *obj, const char *key,
		   const char *val, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].name, key) != 0)
			continue;
		if (!val || !*val) {
			if (!keys[i].def) {
				snprintf(why, whylen, "%s: a value is required", key);
				return EINVAL;
			}
			val = keys[i].def;
		}
		return conf_value_set(&keys[i], obj, val, why, whylen);
	}
	snprintf(why, whylen, "unknown key %.40s", key);
	return EINVAL;
}

int conf_trunk_set(struct trunk_cfg *t, const char *key, const char *val, char *why,
		   size_t whylen)
{
	if (!t || !key || !why)
		return EINVAL;
	return key_set(trunk_keys, N(trunk_keys), t, key, val, why, whylen);
}

int conf_route_set(struct route_cfg *r, const char *key, const char *val, char *why,
		   size_t whylen)
{
	if (!r || !key || !why)
		return EINVAL;
	return key_set(route_keys, N(route_keys), r, key, val, why, whylen);
}
