/*
 * kfwd_session.c — which directions of a session the kernel forwards, and how the
 * worker's view of them (counters, receive statistics, the outgoing sequence) stays
 * what the userspace relay would have had. Runs on the session's worker.
 *
 * DESIGN
 * A direction (side -> other side) is offloaded once the userspace relay has done
 * everything a pure relay decides: both sides latched, the source known and its
 * outgoing stream started with fixed offsets, no transcoding, SRTP, prompt,
 * recording, AMD or DTMF conversion (RFC 4733 on both sides, no digit of our own
 * being sent), not on hold. The entry carries the relay's own rewrite for that
 * source, so the far side sees one continuous stream whichever path carried a
 * packet. Whatever the program leaves to userspace (another SSRC or payload type
 * such as telephone-event, a sequence jump, RTCP) arrives on the socket as before;
 * an RTP packet reaching userspace for an offloaded direction first takes the entry
 * back (kfwd_session_stop), so the relay decides from fresh state; a later packet
 * offloads the direction again if it is still a pure relay. Every control request
 * (update, features, digits, close) takes both entries back before it is applied.
 */
#include <string.h>
#include <time.h>

#include "engine.h"
#include "kfwd.h"
#include "mdtmf.h"
#include "session.h"
#include "kfwd_session.h"

#define KFWD_RETRY_MS       1000    /**< after a failed insert (table full) */
#define KFWD_BACKOFF_MAX_MS 30000   /**< an entry that forwards nothing, repeatedly */

static void make_key(const struct media_session *s, unsigned side, struct kfwd_key *k)
{
	const struct session_side *in = &s->side[side];

	memset(k, 0, sizeof(*k));
	k->src_ip = in->peer_rtp.in.sin_addr.s_addr;
	k->src_port = in->peer_rtp.in.sin_port;
	k->dst_ip = s->me->bind.in.sin_addr.s_addr;
	k->dst_port = htons(in->port);
}

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);   /* bpf_ktime_get_ns()'s clock */
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Folds what the kernel counted since the last fold into the side's state. now_ms is
 * the caller's time: the kernel may have forwarded a packet after the caller read
 * the clock, and a last-packet time later than the caller's now would wrap its
 * unsigned "now - last" (an instant RTP timeout, a relatch, a huge rebase step). */
static void fold(struct media_session *s, unsigned side, const struct kfwd_val *v,
		 uint64_t now_ms)
{
	struct session_side *in = &s->side[side], *to = &s->side[side ^ 1];
	uint64_t dp = v->packets - in->kf_packets, db = v->bytes - in->kf_bytes;
	uint64_t last_ms = v->last_ns / 1000000u;

	in->kf_packets = v->packets;
	in->kf_bytes = v->bytes;
	if (!dp)
		return;
	in->st.rtp_in += dp;
	in->st.bytes_in += db;
	to->st.rtp_out += dp;
	to->st.bytes_out += db;
	in->rx.received += (uint32_t)dp;
	in->rx.max_seq = v->max_seq;
	in->rx.cycles = v->cycles;
	in->rx.transit = v->transit;
	in->rx.have_transit = v->have_transit != 0;
	in->rx.jitter16 = v->jitter16;
	in->out.seq_max = v->seq_max_out;
	in->out.ts_last = v->ts_last_out;
	in->out.last_ms = last_ms < now_ms ? last_ms : now_ms;
	in->last_rx_ms = in->out.last_ms;
	if (in->last_rx_ms > s->last_activity_ms)
		s->last_activity_ms = in->last_rx_ms;
	atomic_fetch_add(&s->me->kf_packets, dp);
}

static bool dtmf_plain(const struct media_session *s)
{
	const struct mdtmf *d = s->dtmf;

	if (!d)
		return true;
	for (unsigned i = 0; i < 2; i++)
		if (d->side[i].known && d->side[i].p.enabled &&
		    d->side[i].p.mode != MEDIA_DTMF_RFC4733)
			return false;
	return !mdtmf_busy(s);
}

/* The audio codec's payload type (not an event): what the entry should carry. */
static bool audio_pt(const struct session_side *in)
{
	const struct media_codec_params *c = &in->codec;

	/* a steady stream of it: not the odd event packet when the codec is unknown */
	if (in->last_pt > 127 || in->pt_map[in->last_pt] > 127 || in->pt_run < 2)
		return false;
	if (c->codec == MEDIA_CODEC_NONE)
		return true;
	return in->last_pt == c->pt_rx[0] || in->last_pt == c->pt_rx[1] ||
	       (c->pt_rx[0] == MEDIA_PT_NONE && c->pt_rx[1] == MEDIA_PT_NONE &&
		in->last_pt == c->pt);
}

static bool plain_side(const struct session_side *sd)
{
	return !sd->srtp && !sd->srtp_block && !sd->xc && sd->latched;
}

void kfwd_session_try(struct media_session *s, unsigned side, uint64_t now_ms)
{
	struct session_side *in = &s->side[side], *to = &s->side[side ^ 1];
	struct kfwd_key k;
	struct kfwd_val v;
	int err;

	if (in->kf_on || !s->me->kf || now_ms < in->kf_retry_ms || s->transcoding || s->feat ||
	    s->on_hold || s->me->scfg.family != AF_INET || !plain_side(in) ||
	    !plain_side(to) || !session_takes_rtp(to) || !in->have_src ||
	    !sa_eq(&in->src_addr, &in->peer_rtp) || !in->out.started || in->out.rebase ||
	    !in->rx.started || in->rx.probation ||   /* receive statistics validated */
	    !audio_pt(in) || !dtmf_plain(s))
		return;
	make_key(s, side, &k);
	memset(&v, 0, sizeof(v));
	v.new_src_ip = s->me->bind.in.sin_addr.s_addr;
	v.new_src_port = htons(to->port);
	v.new_dst_ip = to->peer_rtp.in.sin_addr.s_addr;
	v.new_dst_port = to->peer_rtp.in.sin_port;
	v.ssrc_in = in->src_ssrc;
	v.ssrc_out = in->out.ssrc;
	v.seq_off = in->out.seq_off;
	v.ts_off = in->out.ts_off;
	v.pt_in = in->last_pt;
	v.pt_out = in->pt_map[in->last_pt];
	v.clock_hz = in->clock_hz ? in->clock_hz : SESSION_CLOCK_HZ;
	v.local = kfwd_local(s->me->kf);
	v.ttl = kfwd_ttl(s->me->kf);
	v.cycles = in->rx.cycles;
	v.max_seq = in->rx.max_seq;
	v.seq_max_out = in->out.seq_max;
	v.ts_last_out = in->out.ts_last;
	v.transit = in->rx.transit;
	v.have_transit = in->rx.have_transit;
	v.jitter16 = in->rx.jitter16;
	err = kfwd_put(s->me->kf, &k, &v);
	if (err) {
		in->kf_retry_ms = now_ms + KFWD_RETRY_MS;
		return;
	}
	in->kf_on = true;
	atomic_fetch_add(&s->me->kf_flows, 1);
	in->kf_key = k;
	in->kf_packets = in->kf_bytes = 0;
}

/* Removes the entry and folds it; *passed: the packets the program left to the
 * stack under it (0 when it could not be read). */
static void stop(struct media_session *s, unsigned side, uint64_t now_ms, uint32_t *passed)
{
	struct session_side *in = &s->side[side];
	struct kfwd_val v;

	*passed = 0;
	if (!in->kf_on)
		return;
	in->kf_on = false;
	atomic_fetch_sub(&s->me->kf_flows, 1);
	if (!kfwd_del(s->me->kf, &in->kf_key, &v)) {
		fold(s, side, &v, now_ms);
		*passed = v.passed;
	}
}

void kfwd_session_stop(struct media_session *s, unsigned side, uint64_t now_ms)
{
	uint32_t passed;

	stop(s, side, now_ms, &passed);
}

void kfwd_session_passed(struct media_session *s, unsigned side, uint64_t now_ms)
{
	struct session_side *in = &s->side[side];
	uint32_t passed;

	if (!in->kf_on)
		return;
	stop(s, side, now_ms, &passed);   /* folds: kf_packets = all it forwarded */
	/* Forwarded some, or refused none (this packet was already queued on the socket
	 * when the entry went in: a busy worker's backlog): offload again at once. */
	if (in->kf_packets || !passed) {
		in->kf_backoff_ms = 0;
		return;
	}
	in->kf_backoff_ms = in->kf_backoff_ms ? in->kf_backoff_ms * 2 : KFWD_RETRY_MS;
	if (in->kf_backoff_ms > KFWD_BACKOFF_MAX_MS)
		in->kf_backoff_ms = KFWD_BACKOFF_MAX_MS;
	in->kf_retry_ms = now_ms + in->kf_backoff_ms;
}

void kfwd_session_stop_all(struct media_session *s)
{
	uint64_t now_ms;

	if (!s->side[0].kf_on && !s->side[1].kf_on)
		return;
	now_ms = clock_ms();   /* the callers read the clock after this */
	kfwd_session_stop(s, 0, now_ms);
	kfwd_session_stop(s, 1, now_ms);
}

void kfwd_session_timer(struct media_session *s, const struct session_cfg *cfg,
			uint64_t now_ms)
{
	unsigned timeout_ms = s->on_hold ? cfg->hold_timeout_ms : cfg->rtp_timeout_ms;

	if (now_ms - s->last_activity_ms >= timeout_ms)
		kfwd_session_sync(s, now_ms);
}

void kfwd_session_sync(struct media_session *s, uint64_t now_ms)
{
	struct kfwd_val v;

	for (unsigned i = 0; i < 2; i++)
		if (s->side[i].kf_on && !kfwd_get(s->me->kf, &s->side[i].kf_key, &v))
			fold(s, i, &v, now_ms);
}
