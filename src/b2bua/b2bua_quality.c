/*
 * b2bua_quality.c — per-leg audio quality of a call: loss and jitter as received from
 * each leg, what the leg reported about our stream (RTCP, where trunx terminates
 * media), the round-trip time, the jitter buffer's delay (where trunx buffers the
 * leg's audio), and an E-model MOS; in the call.end record (from the
 * final counters) and in trunxctl calls (from the counters the media worker last
 * published, at most a second old).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "b2bua_int.h"

static double round2(double v)
{
	return floor(v * 100 + 0.5) / 100;
}

static void put(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v ? v : json_null());
}

void call_quality_record(json_t *o, const struct call *c)
{
	static const char *const leg[2] = {"a", "b"};

	for (int s = 0; s < 2; s++) {
		struct media_quality q;
		char k[32];

		media_quality_of(&c->stats[s], b2b_sdp_media_codec(&c->media, s), &q);
		snprintf(k, sizeof(k), "loss_pct_%s", leg[s]);
		put(o, k, json_real(round2(q.loss_pct)));
		snprintf(k, sizeof(k), "jitter_ms_%s", leg[s]);
		put(o, k, json_real(round2(q.jitter_ms)));
		if (q.remote_loss_pct >= 0) {
			snprintf(k, sizeof(k), "remote_loss_pct_%s", leg[s]);
			put(o, k, json_real(round2(q.remote_loss_pct)));
		}
		if (q.rtt_ms >= 0) {
			snprintf(k, sizeof(k), "rtt_ms_%s", leg[s]);
			put(o, k, json_integer(q.rtt_ms));
		}
		if (c->stats[s].jb_delay_ms) {
			snprintf(k, sizeof(k), "jb_delay_ms_%s", leg[s]);
			put(o, k, json_integer((json_int_t)c->stats[s].jb_delay_ms));
		}
		snprintf(k, sizeof(k), "mos_%s", leg[s]);
		put(o, k, json_real(c->stats[s].rtp_in ? round2(q.mos) : 0));
		snprintf(k, sizeof(k), "concealed_%s", leg[s]);
		put(o, k, json_integer((json_int_t)c->stats[s].concealed));
		snprintf(k, sizeof(k), "rtp_dropped_late_%s", leg[s]);
		put(o, k, json_integer((json_int_t)c->stats[s].rtp_dropped_late));
		snprintf(k, sizeof(k), "rtp_foreign_%s", leg[s]);
		put(o, k, json_integer((json_int_t)c->stats[s].rtp_foreign));
		if (c->stats[s].frames_skipped) {
			snprintf(k, sizeof(k), "frames_skipped_%s", leg[s]);
			put(o, k, json_integer((json_int_t)c->stats[s].frames_skipped));
		}
		if (c->media.crypto[s].suite != SDP_CRYPTO_NONE) {
			snprintf(k, sizeof(k), "srtp_%s", leg[s]);
			put(o, k, json_string(b2b_srtp_suite_name(c->media.crypto[s].suite)));
		}
		if (c->media.crypto[s].suite != SDP_CRYPTO_NONE || c->stats[s].srtp_auth_fail ||
		    c->stats[s].srtp_replay) {
			snprintf(k, sizeof(k), "srtp_auth_fail_%s", leg[s]);
			put(o, k, json_integer((json_int_t)c->stats[s].srtp_auth_fail));
			snprintf(k, sizeof(k), "srtp_replay_%s", leg[s]);
			put(o, k, json_integer((json_int_t)c->stats[s].srtp_replay));
		}
	}
}

json_t *call_quality_json(const struct call *c)
{
	struct media_side_stats st[2];
	json_t *o;

	if (!c->ms || media_session_stats(c->ms, st) != 0)
		return NULL;
	o = json_object();
	for (int s = 0; o && s < 2; s++) {
		struct media_quality q;
		json_t *l;

		media_quality_of(&st[s], b2b_sdp_media_codec(&c->media, s), &q);
		l = json_pack("{s:I,s:I,s:f,s:f,s:f}", "rtp_in", (json_int_t)st[s].rtp_in,
			      "rtp_out", (json_int_t)st[s].rtp_out, "loss_pct", round2(q.loss_pct),
			      "jitter_ms", round2(q.jitter_ms),
			      "mos", st[s].rtp_in ? round2(q.mos) : 0.0);
		if (!l)
			continue;
		json_object_set_new(l, "rtp_dropped_late",
				    json_integer((json_int_t)st[s].rtp_dropped_late));
		json_object_set_new(l, "rtp_foreign",
				    json_integer((json_int_t)st[s].rtp_foreign));
		if (st[s].frames_skipped)
			json_object_set_new(l, "frames_skipped",
					    json_integer((json_int_t)st[s].frames_skipped));
		if (q.remote_loss_pct >= 0)
			json_object_set_new(l, "remote_loss_pct", json_real(round2(q.remote_loss_pct)));
		if (q.rtt_ms >= 0)
			json_object_set_new(l, "rtt_ms", json_integer(q.rtt_ms));
		if (st[s].jb_delay_ms)
			json_object_set_new(l, "jb_delay_ms",
					    json_integer((json_int_t)st[s].jb_delay_ms));
		if (c->media.crypto[s].suite != SDP_CRYPTO_NONE) {
			json_object_set_new(l, "srtp", json_string(
				b2b_srtp_suite_name(c->media.crypto[s].suite)));
			json_object_set_new(l, "srtp_auth_fail",
					    json_integer((json_int_t)st[s].srtp_auth_fail));
			json_object_set_new(l, "srtp_replay",
					    json_integer((json_int_t)st[s].srtp_replay));
		}
		json_object_set_new(o, s ? "b" : "a", l);
	}
	return o;
}
