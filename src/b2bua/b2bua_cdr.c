/*
 * b2bua_cdr.c — the records a call leaves: its call.end record (one JSON object, both
 * the log line and what the data plane writes to Postgres, so that the two never
 * disagree) and event records, with their ids.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b2bua_int.h"
#include "log.h"

enum { SIDE_A = MEDIA_SIDE_A, SIDE_B = MEDIA_SIDE_B };

void b2b_iso8601(char *out, size_t len, uint64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ms % 1000));
}

static uint64_t next64(struct b2bua *b)
{
	return b2b_rand(b) * 0x2545f4914f6cdd1dull;
}

void b2b_uuid(struct b2bua *b, char out[40])
{
	uint64_t hi = next64(b), lo = next64(b);

	/* Version 4, variant 10. */
	hi = (hi & ~0xf000ull) | 0x4000ull;
	lo = (lo & ~(3ull << 62)) | (2ull << 62);
	snprintf(out, 40, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
		 hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
		 (uint64_t)(lo & 0xffffffffffffull));
}

/* A JSON string of any bytes: what is not UTF-8 becomes '?' (Postgres takes UTF-8). */
static json_t *jstr(const char *s)
{
	char buf[512];
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;

	if (!s)
		return json_null();
	while (*p && o + 5 < sizeof(buf)) {
		size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 :
			   (*p >> 3) == 30 ? 4 : 0;
		bool ok = n > 0;

		for (size_t k = 1; ok && k < n; k++)
			ok = (p[k] & 0xc0) == 0x80;
		if (!ok || (n == 1 && *p == 0x7f)) {
			buf[o++] = '?';
			p++;
			continue;
		}
		memcpy(buf + o, p, n);
		o += n;
		p += n;
	}
	buf[o] = '\0';
	{
		json_t *v = json_string(buf);

		return v ? v : json_string("?");
	}
}

static void put(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v ? v : json_null());
}

static const char *trunk_name(const struct trunk *t)
{
	return t ? trunk_get_cfg(t)->name : NULL;
}

static json_t *record_json(struct call *c)
{
	json_t *o = json_object();
	char t[64], codec[48];
	const char *result;

	if (!o)
		return NULL;
	if (c->a_answered)
		result = "answered";
	else if (!strcmp(c->cause, "cancelled"))
		result = "cancelled";
	else if (c->state == CALL_ROUTING || !c->b_call_id[0])
		result = "rejected";
	else
		result = "failed";
	put(o, "kind", json_string("cdr"));
	put(o, "call_id", jstr(c->id));
	put(o, "a_call_id", jstr(c->a_call_id));
	put(o, "b_call_id", c->b_call_id[0] ? jstr(c->b_call_id) : NULL);
	put(o, "from", jstr(c->from));
	put(o, "to", jstr(c->to));
	put(o, "did", c->did[0] ? jstr(c->did) : NULL);
	put(o, "trunk", jstr(trunk_name(c->trunk_in)));
	put(o, "trunk_in", jstr(trunk_name(c->trunk_in)));
	put(o, "trunk_out", jstr(trunk_name(c->trunk_out)));
	b2b_iso8601(t, sizeof(t), c->t_start_ms);
	put(o, "start", json_string(t));
	if (c->t_answer_ms)
		b2b_iso8601(t, sizeof(t), c->t_answer_ms);
	put(o, "answer", c->t_answer_ms ? json_string(t) : NULL);
	b2b_iso8601(t, sizeof(t), c->t_end_ms);
	put(o, "end", json_string(t));
	put(o, "setup_ms", json_integer(c->t_progress_ms ? (json_int_t)(c->t_progress_ms - c->t_start_ms) :
				       c->t_answer_ms ? (json_int_t)(c->t_answer_ms - c->t_start_ms) : -1));
	put(o, "answer_ms", json_integer(c->t_answer_ms ? (json_int_t)(c->t_answer_ms - c->t_start_ms) : -1));
	put(o, "duration_ms", json_integer(c->t_answer_ms ? (json_int_t)(c->t_end_ms - c->t_answer_ms) : 0));
	put(o, "result", json_string(result));
	put(o, "sip_code", json_integer(c->final_code));
	put(o, "cause", jstr(c->cause[0] ? c->cause : "normal"));
	if (c->reason[0])
		put(o, "reason", jstr(c->reason));
	/* Each leg's codec; they differ when trunx transcoded. */
	b2b_sdp_codec_side(&c->media, SIDE_A, codec, sizeof(codec));
	put(o, "codec_a", codec[0] ? jstr(codec) : NULL);
	b2b_sdp_codec_side(&c->media, SIDE_B, codec, sizeof(codec));
	put(o, "codec_b", codec[0] ? jstr(codec) : NULL);
	put(o, "rtp_a_in", json_integer((json_int_t)c->stats[SIDE_A].rtp_in));
	put(o, "rtp_a_out", json_integer((json_int_t)c->stats[SIDE_A].rtp_out));
	put(o, "rtp_a_lost", json_integer((json_int_t)c->stats[SIDE_A].rtp_lost));
	put(o, "rtp_b_in", json_integer((json_int_t)c->stats[SIDE_B].rtp_in));
	put(o, "rtp_b_out", json_integer((json_int_t)c->stats[SIDE_B].rtp_out));
	put(o, "rtp_b_lost", json_integer((json_int_t)c->stats[SIDE_B].rtp_lost));
	put(o, "rtp_dropped", json_integer((json_int_t)(c->stats[SIDE_A].rtp_dropped +
						       c->stats[SIDE_B].rtp_dropped)));
	put(o, "rtp_stats", json_boolean(c->have_stats));
	if (c->have_stats)   /* calls refused before media cost nothing more to record */
		call_quality_record(o, c);
	put(o, "cdr_id", json_string(c->cdr_id));
	put(o, "node_id", jstr(c->b->node_id));
	if (c->tenant[0])
		put(o, "tenant", jstr(c->tenant));
	if (c->api_rid[0])   /* the POST /v1/calls that placed it */
		put(o, "request_id", jstr(c->api_rid));
	return o;
}

/* A log line made of a record's fields (all but "kind"), with the id of the API request
 * that placed the call when there is one (rid: NULL or ""). */
static void log_object(enum log_level level, const char *event, json_t *o, const char *rid)
{
	struct log_rec r;
	const char *k;
	json_t *v;

	if (!log_begin(&r, level, event))
		return;
	if (rid && rid[0] && !json_object_get(o, "request_id"))
		log_str(&r, "request_id", rid);
	json_object_foreach(o, k, v) {
		char *txt;

		if (!strcmp(k, "kind"))
			continue;
		txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
		log_raw(&r, k, txt ? txt : "null");
		free(txt);
	}
	log_end(&r);
}

const double b2bua_loss_bounds[B2BUA_LOSS_BUCKETS] = {0, 0.001, 0.005, 0.01, 0.02, 0.05,
							 0.1, 1};

/* The call's RTP into the node's per-leg totals and loss-ratio histogram (/metrics). */
static void count_rtp(struct call *c)
{
	struct b2bua *b = c->b;

	if (!c->have_stats)
		return;
	for (int s = 0; s < 2; s++) {
		uint64_t in = c->stats[s].rtp_in, lost = c->stats[s].rtp_lost;
		double ratio;
		int i = 0;

		atomic_fetch_add(&b->c_rtp_foreign, c->stats[s].rtp_foreign);
		if (!in && !lost)
			continue;   /* no media on this leg */
		atomic_fetch_add(&b->c_rtp_in[s], in);
		atomic_fetch_add(&b->c_rtp_lost[s], lost);
		ratio = (double)lost / (double)(in + lost);
		while (i < B2BUA_LOSS_BUCKETS - 1 && ratio > b2bua_loss_bounds[i])
			i++;
		atomic_fetch_add(&b->c_loss_legs[i], 1);
		atomic_fetch_add(&b->c_loss_sum_ppm, (uint64_t)(ratio * 1e6 + 0.5));
	}
}

void call_record(struct call *c)
{
	struct b2bua *b = c->b;
	json_t *o = record_json(c);

	count_rtp(c);

	if (!o) {
		log_msg(LOG_ERROR, "call.end", "out of memory: call %s has no record", c->id);
		return;
	}
	/* Handed to the journal before it is logged: whoever reads call.end in the log
	 * may count on the record being on its way to disk. */
	if (b->hooks.cdr) {
		char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));

		if (s)
			b->hooks.cdr(s, b->hooks.arg);
		else
			log_msg(LOG_ERROR, "call.end", "out of memory: call %s's record is lost",
				c->id);
	}
	log_object(LOG_INFO, "call.end", o, NULL);
	json_decref(o);
}

void b2b_event(struct b2bua *b, enum log_level level, const char *type, const struct call *c,
	       const char *trunk, const char *tenant, json_t *data)
{
	json_t *o = json_object();
	char id[40], t[64];
	struct timespec ts;

	if (!o) {
		json_decref(data);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	b2b_uuid(b, id);
	b2b_iso8601(t, sizeof(t), (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
	put(o, "kind", json_string("event"));
	put(o, "event_id", json_string(id));
	put(o, "type", json_string(type));
	put(o, "at", json_string(t));
	put(o, "node_id", jstr(b->node_id));
	if (c)
		put(o, "call_id", jstr(c->id));
	if (!trunk && c && c->trunk_in)
		trunk = trunk_name(c->trunk_in);
	if (!tenant && c && c->tenant[0])
		tenant = c->tenant;
	if (trunk)
		put(o, "trunk", jstr(trunk));
	if (tenant)
		put(o, "tenant", jstr(tenant));
	put(o, "data", data ? data : json_object());
	log_object(level, type, o, c ? c->api_rid : NULL);
	if (b->hooks.event) {
		char *s = json_dumps(o, JSON_COMPACT);

		if (s)
			b->hooks.event(s, b->hooks.arg);
	}
	json_decref(o);
}
