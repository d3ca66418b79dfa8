/*
 * api_metrics.c — /metrics in the Prometheus text format: the B2BUA's call and media
 * counters (read without waiting: b2bua_get_counters), the API's own requests,
 * latency histogram and authentication failures, and the event stream's webhook
 * deliveries and SSE clients (events_get_counters; absent without [events]).
 */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua.h"
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
	counter(o, "trunx_sse_clients_cut_total", "SSE clients cut for not reading",
		c.sse_cut);
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
	counter(&o, "trunx_calls_rejected_overload_total", "503 for max_calls or max_cps",
		c.rejected_overload);
	counter(&o, "trunx_calls_rejected_budget_total", "Calls refused by a pool or cap",
		c.rejected_budget);
	gauge(&o, "trunx_media_sessions", "Media sessions open", c.media_sessions);
	gauge(&o, "trunx_media_ports_free", "RTP/RTCP port pairs free", c.media_ports_free);
	counter(&o, "trunx_rtp_relayed_total", "RTP packets relayed", c.rtp_relayed);
	counter(&o, "trunx_rtp_dropped_total", "RTP/RTCP packets dropped", c.rtp_dropped);
	counter(&o, "trunx_rtp_timeouts_total", "Calls hung up for RTP inactivity",
		c.rtp_timeouts);
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
	if (api_events(r->api))
		events_metrics(&o, api_events(r->api));
	if (!o.buf) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	api_reply_text(r, 200, "text/plain; version=0.0.4", o.buf, o.len);
	free(o.buf);
}
