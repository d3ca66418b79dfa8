/*
 * api_metrics.c — /metrics in the Prometheus text format: the B2BUA's call and media
 * counters (read without waiting: b2bua_get_counters) with the setup rate sampled
 * here once a second and the RTP loss of ended calls per leg, and the SIP front's
 * guards and refusals (trunx_sip_*, as `trunxctl status` names them); each trunk's
 * state and each channel budget's use as the control thread knows them (src/data:
 * never asks the signalling thread or Redis); the API's own requests, latency
 * histogram and authentication failures; and the event stream's webhook deliveries
 * and SSE clients (events_get_counters; absent without [events]).
 */
#include "api/api_int.h"
#include "api/api_keycache.h"
#include "api/api_view.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua.h"
#include "data/data.h"
#include "events/events.h"

const double api_lat_bounds[12] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				   0.25, 0.5, 1.0, 2.5};

void api_metrics_observe(struct api_metrics *m, int status, double seconds)
{
	int cls = status / 100;

	m->by_class[cls >= 1 && cls <= 5 ? cls : 0]++;
	for (size_t i = 0; i < 12; i++)
		if (seconds <= api_lat_bounds[i])
			m->lat_buckets[i]++;
	m->lat_sum += seconds;
}

void api_metrics_tick(struct api_metrics *m, uint64_t calls_total)
{
	m->setups[m->setups_n++ % (API_SETUP_WINDOW + 1)] = calls_total;
}

/* Calls started per second over the last API_SETUP_WINDOW seconds (fewer at start). */
static double setup_rate(const struct api_metrics *m)
{
	unsigned n = m->setups_n, span = n > API_SETUP_WINDOW ? API_SETUP_WINDOW : n - 1;

	if (n < 2)
		return 0;
	return (double)(m->setups[(n - 1) % (API_SETUP_WINDOW + 1)] -
			m->setups[(n - 1 - span) % (API_SETUP_WINDOW + 1)]) / span;
}

struct out {
	char  *buf;
	size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0,
			      fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (o->buf && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t cap = (o->cap ? o->cap * 2 : 8192) + (size_t)n;
			char *b = realloc(o->buf, cap);

			if (!b)
				return;
			o->buf = b;
			o->cap = cap;
		}
	}
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static const char *label(const char *v, char *buf, size_t n)
{
	size_t k = 0;

	for (; v && *v && k + 3 < n; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			buf[k++] = '\\';
		buf[k++] = *v == '\n' ? 'n' : *v;
	}
	buf[k] = 0;
	return buf;
}

static const char *const trunk_states[] = {"up", "down", "unknown", "maintenance", "inactive"};

static void on_trunk(const char *name, const char *kind, const char *state, void *arg)
{
	struct out *o = arg;
	char nb[160];

	label(name, nb, sizeof(nb));
	for (size_t i = 0; i < sizeof(trunk_states) / sizeof(trunk_states[0]); i++)
		put(o, "trunx_trunk_state{trunk=\"%s\",kind=\"%s\",state=\"%s\"} %d\n", nb, kind,
		    trunk_states[i], strcmp(state, trunk_states[i]) == 0);
}

struct uses {
	struct out *o;
	bool        limits;   /* the second pass: the caps */
};

static void on_use(const struct admit_use *u, void *arg)
{
	struct uses *us = arg;
	char a[160], b[160];

	if (us->limits && u->cap < 0)
		return;
	if (!strcmp(u->scope, "pool"))
		put(us->o, "trunx_channels_%s{scope=\"pool\",group=\"%s\",pool=\"%s\"} %ld\n",
		    us->limits ? "limit" : "in_use", label(u->group, a, sizeof(a)),
		    label(u->pool, b, sizeof(b)), us->limits ? u->cap : u->used);
	else if (!strcmp(u->scope, "tenant"))
		put(us->o, "trunx_channels_%s{scope=\"tenant\",tenant=\"%s\"} %ld\n",
		    us->limits ? "limit" : "in_use", label(u->tenant, a, sizeof(a)),
		    us->limits ? u->cap : u->used);
	else
		put(us->o, "trunx_channels_%s{scope=\"global\"} %ld\n",
		    us->limits ? "limit" : "in_use", us->limits ? u->cap : u->used);
}

static void data_metrics(struct out *o, struct data *d)
{
	struct uses us = {o, false};

	put(o, "# HELP trunx_trunk_state Each trunk and peer: 1 for its state (up, down, "
	    "unknown before its first qualify answer, maintenance, inactive), 0 for the others\n"
	    "# TYPE trunx_trunk_state gauge\n");
	data_trunk_states(d, on_trunk, o);
	put(o, "# HELP trunx_channels_in_use Channels this node's calls hold in each channel "
	    "pool, tenant cap and the global cap\n# TYPE trunx_channels_in_use gauge\n");
	data_pool_use(d, on_use, &us);
	put(o, "# HELP trunx_channels_limit The cap of each channel pool, tenant and the "
	    "global cap (those that have one)\n# TYPE trunx_channels_limit gauge\n");
	us.limits = true;
	data_pool_use(d, on_use, &us);
}

static void rtp_metrics(struct out *o, const struct b2bua_counters *c)
{
	static const char *const leg[2] = {"a", "b"};

	put(o, "# HELP trunx_rtp_received_total RTP packets received from each leg of ended "
	    "calls (a: the caller, b: the called party)\n"
	    "# TYPE trunx_rtp_received_total counter\n");
	for (int s = 0; s < 2; s++)
		put(o, "trunx_rtp_received_total{leg=\"%s\"} %llu\n", leg[s],
		    (unsigned long long)c->rtp_in_leg[s]);
	put(o, "# HELP trunx_rtp_lost_total RTP packets missing in the sequence received from "
	    "each leg of ended calls\n# TYPE trunx_rtp_lost_total counter\n");
	for (int s = 0; s < 2; s++)
		put(o, "trunx_rtp_lost_total{leg=\"%s\"} %llu\n", leg[s],
		    (unsigned long long)c->rtp_lost_leg[s]);
	put(o, "# HELP trunx_rtp_leg_loss_ratio Loss ratio lost/(received+lost) of each leg "
	    "of ended calls that had media\n# TYPE trunx_rtp_leg_loss_ratio histogram\n");
	for (int i = 0; i < B2BUA_LOSS_BUCKETS - 1; i++)
		put(o, "trunx_rtp_leg_loss_ratio_bucket{le=\"%g\"} %llu\n", b2bua_loss_bounds[i],
		    (unsigned long long)c->loss_legs[i]);
	put(o, "trunx_rtp_leg_loss_ratio_bucket{le=\"+Inf\"} %llu\n"
	    "trunx_rtp_leg_loss_ratio_sum %.6f\ntrunx_rtp_leg_loss_ratio_count %llu\n",
	    (unsigned long long)c->loss_legs[B2BUA_LOSS_BUCKETS - 1], c->loss_sum,
	    (unsigned long long)c->loss_legs[B2BUA_LOSS_BUCKETS - 1]);
}

/* The SIP front's guards and the user agent's own refusals (the same counters as
 * `trunxctl status`, named trunx_sip_<its name>). */
static void sip_metrics(struct out *o, const struct b2bua_counters *c)
{
	static const struct {
		const char *name, *help;
		size_t      off;
	} k[] = {
#define K(n, f, h) {"trunx_sip_" n "_total", h, offsetof(struct b2bua_counters, f)}
		K("rate_limited", rate_limited, "Requests over [sip] rate_limit from their "
		  "source, dropped before the SIP stack"),
		K("dropped_not_sip", dropped_not_sip, "UDP datagrams that cannot be SIP "
		  "(STUN, SigComp, other protocols' probes), dropped before the SIP stack"),
		K("options_stateless", options_stateless, "OPTIONS over UDP answered 200 "
		  "without transaction state"),
		K("malformed_stateless", malformed_stateless, "New INVITEs from trunks "
		  "refused as malformed (400, 415, 406 with a Warning) without transaction "
		  "state"),
		K("methods_stateless", methods_stateless, "Out-of-dialog requests from trunks "
		  "of methods trunx does not serve there (REGISTER, SUBSCRIBE, MESSAGE...: "
		  "405; UPDATE: 481; unknown: 501) answered over UDP without transaction "
		  "state"),
		K("rejected_unknown_source", rejected_unknown_source, "Requests from sources "
		  "matching no trunk answered 403"),
		K("dropped_unknown_source", dropped_unknown_source, "Requests from sources "
		  "matching no trunk dropped unanswered (unknown_source = drop)"),
		K("overload_stateless", overload_stateless, "New INVITEs refused 503 "
		  "(max_calls, max_cps) in front of the SIP stack, without transaction state"),
		K("overload_resent", overload_resent, "Those 503s sent again to "
		  "retransmissions of the refused INVITEs"),
		K("overload_forgotten", overload_forgotten, "Recent INVITE decisions forgotten "
		  "early because their table was full"),
		K("acks_absorbed", acks_absorbed, "ACKs of the front's stateless answers kept "
		  "from the SIP stack"),
		K("shed_overload", shed_overload, "INVITEs answered 503 by load shedding "
		  "(overload_delay), before any call state"),
		K("tcp_accepted", tcp_accepted, "SIP connections (TCP and TLS) accepted"),
		K("tcp_refused_limit", tcp_refused_limit, "SIP connections closed at once: "
		  "over tcp_max_connections, tcp_max_per_source or tcp_max_per_trunk"),
		K("tcp_refused_unknown", tcp_refused_unknown, "SIP connections closed at once: "
		  "unknown source, unknown_source = drop"),
		K("tcp_refused_no_descriptor", tcp_refused_fd, "SIP connections closed at once: "
		  "no descriptor left"),
		K("tcp_closed_unknown", tcp_closed_unknown, "SIP connections from unknown "
		  "sources closed after their answer or tcp_unknown_timeout"),
		K("tcp_closed_idle", tcp_closed_idle, "Trunk connections without a dialog "
		  "closed after tcp_idle_timeout"),
		K("tcp_closed_incomplete", tcp_closed_incomplete, "SIP connections closed: "
		  "a message not whole tcp_message_timeout after its first byte, or over "
		  "max_message_size"),
		K("in_dialog_refused", in_dialog_refused, "In-dialog requests from a source "
		  "that is neither the dialog's peer nor a trunk, refused"),
		K("in_dialog_bad", in_dialog_bad, "In-dialog requests refused as malformed"),
		K("contact_refused", contact_refused, "Contacts not taken as a dialog's target"),
		K("offer_glare", offer_glare, "Offers answered 491 (another offer pending)"),
		K("tls_refused", tls_refused, "TLS handshakes failed on certificate checks"),
		K("tls_refused_stranger", tls_refused_stranger, "TLS handshakes refused at the "
		  "ClientHello: the source is no trunk, no host called, no dialog's peer"),
#undef K
	};

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		counter(o, k[i].name, k[i].help,
			*(const uint64_t *)((const char *)c + k[i].off));
	gauge(o, "trunx_sip_tcp_open", "SIP connections (TCP and TLS) open", c->tcp_open);
	counter(o, "trunx_log_suppressed_total", "Log records not written: an identical one "
		"was written less than log_repeat_interval ago", c->log_suppressed);
}

static void events_metrics(struct out *o, struct events *e)
{
	struct events_counters c;

	events_get_counters(e, &c);
	counter(o, "trunx_webhook_attempts_total", "Webhook delivery attempts started",
		c.hook_attempts);
	counter(o, "trunx_webhook_delivered_total", "Webhook attempts answered 2xx",
		c.hook_delivered);
	counter(o, "trunx_webhook_failed_total", "Webhook attempts that did not deliver "
		"(retried later or dead-lettered)", c.hook_failed);
	counter(o, "trunx_webhook_dead_total", "Webhook deliveries dead-lettered after their "
		"last attempt", c.hook_dead);
	gauge(o, "trunx_webhook_in_flight", "Webhook attempts out on this node",
	      c.hook_in_flight);
	if (c.hook_retry_pending >= 0)
		gauge(o, "trunx_webhook_retries_pending", "Deliveries waiting for a retry "
		      "(every node; read from Postgres every 5 s)",
		      (uint64_t)c.hook_retry_pending);
	put(o, "# HELP trunx_webhook_attempt_seconds Webhook attempt latency, sent to "
	    "answered or failed\n# TYPE trunx_webhook_attempt_seconds histogram\n");
	for (size_t i = 0; i < EVENTS_HOOK_LAT_BUCKETS; i++)
		put(o, "trunx_webhook_attempt_seconds_bucket{le=\"%g\"} %llu\n",
		    events_hook_lat_bounds[i], (unsigned long long)c.hook_lat[i]);
	put(o, "trunx_webhook_attempt_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "trunx_webhook_attempt_seconds_sum %.6f\ntrunx_webhook_attempt_seconds_count %llu\n",
	    (unsigned long long)c.hook_lat_count, c.hook_lat_sum,
	    (unsigned long long)c.hook_lat_count);
	gauge(o, "trunx_sse_clients", "Event streams (SSE) open on this node", c.sse_clients);
	counter(o, "trunx_sse_events_sent_total", "Events written to SSE clients (replayed "
		"ones included)", c.sse_sent);
	counter(o, "trunx_sse_events_replayed_total", "Events replayed to SSE clients after "
		"a Last-Event-ID", c.sse_replayed);
	counter(o, "trunx_sse_clients_cut_total", "SSE clients cut (not reading, or their key "
		"revoked)",
		c.sse_cut);
	counter(o, "trunx_sse_clients_refused_total", "Event streams refused: the tenant "
		"held sse_max_per_tenant", c.sse_refused);
}

void api_h_metrics(struct api_req *r)
{
	struct api_metrics *m = api_metrics(r->api);
	struct b2bua_counters c = {0};
	struct out o = {0};

	if (api_b2bua(r->api))
		b2bua_get_counters(api_b2bua(r->api), &c);
	gauge(&o, "trunx_calls_active", "Calls with a leg alive", c.calls_active);
	put(&o, "# HELP trunx_calls_total Calls accepted for routing, by result\n"
	    "# TYPE trunx_calls_total counter\n"
	    "trunx_calls_total{result=\"answered\"} %llu\n"
	    "trunx_calls_total{result=\"failed\"} %llu\n",
	    (unsigned long long)c.calls_answered, (unsigned long long)c.calls_failed);
	counter(&o, "trunx_calls_started_total", "INVITEs accepted for routing", c.calls_total);
	put(&o, "# HELP trunx_calls_setup_rate Calls started per second over the last %d s\n"
	    "# TYPE trunx_calls_setup_rate gauge\ntrunx_calls_setup_rate %.2f\n",
	    API_SETUP_WINDOW, setup_rate(m));
	counter(&o, "trunx_calls_rejected_overload_total", "503 for max_calls or max_cps",
		c.rejected_overload);
	counter(&o, "trunx_calls_rejected_budget_total", "Calls refused by a pool or cap",
		c.rejected_budget);
	gauge(&o, "trunx_media_sessions", "Media sessions open", c.media_sessions);
	gauge(&o, "trunx_media_ports_free", "RTP/RTCP port pairs free", c.media_ports_free);
	counter(&o, "trunx_rtp_relayed_total", "RTP packets relayed", c.rtp_relayed);
	counter(&o, "trunx_rtp_dropped_total", "RTP/RTCP packets dropped", c.rtp_dropped);
	counter(&o, "trunx_rtp_foreign_total",
		"RTP from sources that may not latch a call (ended calls), dropped",
		c.rtp_foreign);
	counter(&o, "trunx_rtp_timeouts_total", "Calls hung up for RTP inactivity",
		c.rtp_timeouts);
	rtp_metrics(&o, &c);
	sip_metrics(&o, &c);
	if (api_data(r->api))
		data_metrics(&o, api_data(r->api));
	counter(&o, "trunx_api_requests_total", "API requests", m->requests);
	put(&o, "# HELP trunx_api_responses_total API responses by status class\n"
	    "# TYPE trunx_api_responses_total counter\n");
	for (int i = 1; i <= 5; i++)
		put(&o, "trunx_api_responses_total{class=\"%dxx\"} %llu\n", i,
		    (unsigned long long)m->by_class[i]);
	counter(&o, "trunx_api_auth_failures_total", "Failed API authentications",
		m->auth_failed);
	counter(&o, "trunx_api_auth_limited_total", "Requests refused (429) after failed "
		"authentications", m->auth_limited);
	gauge(&o, "trunx_api_connections_open", "API connections open (both listeners)",
	      api_connections_open(r->api));
	counter(&o, "trunx_api_connections_refused_total", "API connections refused (429) "
		"over max_connections_per_source", m->conn_refused);
	counter(&o, "trunx_api_connections_timed_out_total", "API connections closed (408) "
		"for a request not whole and answered in time", m->conn_timed_out);
	counter(&o, "trunx_api_accept_paused_total", "Times accepting paused at "
		"max_connections", m->conn_paused);
	counter(&o, "trunx_api_accept_errors_total", "accept() failures on the API listeners "
		"(each pauses accepting 1 s)", m->accept_errors);
	{
		struct api_keycache_stats ks;

		api_auth_cache_stats(api_auth_of(r->api), &ks);
		counter(&o, "trunx_api_key_cache_hits_total", "API keys checked from the node's "
			"own copy (no Redis round trip)", ks.hits);
		counter(&o, "trunx_api_key_cache_misses_total", "API keys not in the node's copy "
			"(asked Redis/Postgres)", ks.misses);
		counter(&o, "trunx_api_key_cache_bypassed_total", "API keys asked of Redis/"
			"Postgres because revocations were not heard (subscription down)",
			ks.bypassed);
		counter(&o, "trunx_api_key_cache_invalidations_total", "Revocations applied to "
			"the node's copy (published by any node, or made here)",
			ks.invalidations);
		counter(&o, "trunx_api_key_cache_evictions_total", "Keys dropped from the "
			"node's copy to make room", ks.evictions);
		counter(&o, "trunx_api_key_cache_flushes_total", "Times the node's copy was "
			"emptied", ks.flushes);
		gauge(&o, "trunx_api_key_cache_entries", "Keys in the node's copy", ks.entries);
		gauge(&o, "trunx_api_key_cache_live", "1 while the revocation channel is "
		      "subscribed (the copy is used)", ks.live ? 1 : 0);
	}
	put(&o, "# HELP trunx_api_request_seconds API request latency\n"
	    "# TYPE trunx_api_request_seconds histogram\n");
	for (size_t i = 0; i < 12; i++)
		put(&o, "trunx_api_request_seconds_bucket{le=\"%g\"} %llu\n", api_lat_bounds[i],
		    (unsigned long long)m->lat_buckets[i]);
	{
		uint64_t n = 0;

		for (int i = 0; i < 6; i++)
			n += m->by_class[i];
		put(&o, "trunx_api_request_seconds_bucket{le=\"+Inf\"} %llu\n"
		    "trunx_api_request_seconds_sum %.6f\ntrunx_api_request_seconds_count %llu\n",
		    (unsigned long long)n, m->lat_sum, (unsigned long long)n);
	}
	if (api_view_of(r->api)) {
		struct api_view_stats vs;

		api_view_get_stats(api_view_of(r->api), &vs);
		gauge(&o, "trunx_api_calls_view_calls", "Calls in the control thread's copy of "
		      "the calls' view (what GET /v1/calls reads)", vs.calls);
		gauge(&o, "trunx_api_calls_view_stale", "1 while that copy is not current (a "
		      "message lost or the table full): reads ask the signalling thread",
		      api_view_synced(api_view_of(r->api)) ? 0 : 1);
		counter(&o, "trunx_api_calls_view_gaps_total", "View messages found missing",
			vs.gaps);
		counter(&o, "trunx_api_calls_view_overflows_total", "Calls the copy could not "
			"hold", vs.overflows);
		counter(&o, "trunx_api_calls_view_resyncs_total", "Whole lists of calls applied",
			vs.resyncs);
	}
	if (api_events(r->api))
		events_metrics(&o, api_events(r->api));
	if (!o.buf) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	api_reply_text(r, 200, "text/plain; version=0.0.4", o.buf, o.len);
	free(o.buf);
}
