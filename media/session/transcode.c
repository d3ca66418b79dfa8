/*
 * transcode.c — the packet path of a transcoded session: received audio goes into
 * the side's transcoder (xcode.h), telephone-event crosses at once with its
 * timestamp and durations moved to the other side's clock, and the worker's clock
 * pulls one encoded frame per packet time from each direction and sends it. Runs on
 * the session's worker; nothing is allocated.
 *
 * DESIGN
 * A generated stream keeps the session_out fields the relay uses (started, seq_max,
 * ts_last, last_ms), so a switch between relay and transcoding continues the same
 * SSRC, sequence and timeline. Its timestamps advance by one packet time per tick
 * whether or not a packet goes out: a DTX frame or a hold leaves a timestamp gap with
 * contiguous sequence numbers, and the next packet sent carries the marker bit.
 * Frames are due on an absolute schedule (no drift); a worker that fell more than
 * XC_CATCHUP periods behind skips ahead instead of sending a burst.
 */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "feat.h"
#include "msrtp.h"
#include "session.h"
#include "xcode.h"

#define XC_SLACK_US 500   /**< frames due this soon are sent in the current round */
#define XC_CATCHUP  5

static bool pt_in(const uint8_t rx[2], uint8_t pt)
{
	return pt < 128 && (rx[0] == pt || rx[1] == pt);
}

static uint16_t next_seq(struct session_out *o)
{
	uint16_t seq = o->started ? (uint16_t)(o->seq_max + 1) : o->seq_init;

	o->started = true;
	o->seq_max = seq;
	return seq;
}

/* Moves an RFC 4733 packet onto the generated stream toward `to`, in place: a new
 * event starts where the stream is now; its durations and the timestamps of a long
 * press's segments go to the other side's event clock. */
static void te_cross(struct session_side *in, struct session_side *to, uint8_t *buf,
		     const struct rtp_hdr *h)
{
	struct session_out *o = &in->out;
	uint32_t in_rate = in->codec.te_rate ? in->codec.te_rate : in->clock_hz;
	uint32_t out_rate = to->codec.te_rate ? to->codec.te_rate : to->clock_hz;
	uint32_t ts = o->gen_ts;

	if (o->te_map.from_hz != in_rate || o->te_map.to_hz != out_rate)
		telev_map_init(&o->te_map, in_rate, out_rate);
	(void)telev_map_packet(&o->te_map, h->ts, buf + h->hdr_len, h->payload_len, o->gen_ts,
			       &ts);
	rtp_set_pt(buf, to->codec.te_pt, o->te_map.began);
	rtp_set_seq(buf, next_seq(o));
	rtp_set_ts(buf, ts);
	rtp_set_ssrc(buf, o->ssrc);
}

enum relay_verdict xc_rtp(struct media_session *s, unsigned side, uint8_t *buf, size_t len,
			  const struct rtp_hdr *h, uint64_t now_us, struct relay_out *out)
{
	struct session_side *in = &s->side[side], *to = &s->side[side ^ 1];
	const struct media_codec_params *c = &in->codec;

	if (pt_in(c->pt_rx, h->pt)) {
		in->st.rtp_in++;
		in->st.bytes_in += len;
		if (s->dtmf)   /* in-band digits: detected, muted before decoding */
			(void)mdtmf_in(s, side, buf, len, h, now_us);
		(void)xcode_push(in->xc, h->seq, h->ts, buf + h->hdr_len, h->payload_len, now_us);
		return RELAY_KEEP;
	}
	if (pt_in(c->te_pt_rx, h->pt)) {
		in->st.rtp_in++;
		in->st.bytes_in += len;
		(void)jb_put_skip(&in->xc->jb, h->seq, h->ts, now_us);
		if (s->dtmf &&
		    !mdtmf_xc_event(s, side, h->ts, buf + h->hdr_len, h->payload_len, now_us))
			return RELAY_KEEP;   /* the other leg gets it by INFO */
		if (to->codec.te_pt > 127 || !session_takes_rtp(to) || h->payload_len < 4)
			return RELAY_KEEP;
		te_cross(in, to, buf, h);
		out->fd = to->fd[SESSION_FD_RTP];
		out->dst = to->latched ? &to->peer_rtp : &to->sdp_rtp;
		out->side = side ^ 1;
		out->len = len;
		return RELAY_SEND;
	}
	in->st.rtp_dropped++;
	return RELAY_DROP;
}

/* Builds one generated frame of in's stream toward `to` into pkt (SESSION_TXQ_PKT
 * bytes): RTP header, payload, a digit replacing it, SRTP. Returns its length, 0 when
 * nothing is to be sent. */
static size_t build_frame(struct session_side *in, struct session_side *to, const uint8_t *pl,
			  size_t n, uint32_t ts, uint64_t now_us, uint8_t *pkt)
{
	struct session_out *o = &in->out;
	bool marker = !o->gen_sent;
	size_t len = RTP_HDR_MIN + n;

	if (n > CODEC_OUT_MAX)
		return 0;
	pkt[0] = RTP_VERSION << 6;
	rtp_set_pt(pkt, to->codec.pt, marker);
	rtp_set_seq(pkt, next_seq(o));
	rtp_set_ts(pkt, ts);
	rtp_set_ssrc(pkt, o->ssrc);
	memcpy(pkt + RTP_HDR_MIN, pl, n);
	o->ts_last = ts;
	o->last_ms = now_us / 1000u;
	o->gen_sent = true;
	/* The session of the two sides: side[0] is the lower address. */
	struct media_session *s = (struct media_session *)(void *)((char *)(in < to ? in : to) -
								offsetof(struct media_session, side));

	if (s->dtmf)   /* a digit toward `to` replaces or overwrites the frame */
		len = mdtmf_out(s, (unsigned)(to - s->side), pkt, len, SESSION_TXQ_PKT);
	if (!session_srtp_out(to, false, pkt, &len, SESSION_TXQ_PKT))
		return 0;
	return len;
}

static unsigned send_built(struct session_side *to, const union media_sa *dst,
			   const uint8_t *pkt, size_t len)
{
	ssize_t r = sendto(to->fd[SESSION_FD_RTP], pkt, len, MSG_DONTWAIT, &dst->sa, sa_len(dst));

	if (r < 0)
		return 0;
	to->st.rtp_out++;
	to->st.bytes_out += (uint64_t)r;
	to->st.frames_out++;
	return 1;
}

unsigned session_send_frame(struct session_side *in, struct session_side *to, const uint8_t *pl,
			    size_t n, uint32_t ts, uint64_t now_us)
{
	uint8_t pkt[SESSION_TXQ_PKT];
	const union media_sa *dst = to->latched ? &to->peer_rtp : &to->sdp_rtp;
	size_t len = build_frame(in, to, pl, n, ts, now_us, pkt);

	return len ? send_built(to, dst, pkt, len) : 0;
}

unsigned session_txq_flush(struct session_txq *q)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < q->n; i++)
		sent += send_built(q->slot[i].to, q->slot[i].dst, q->slot[i].pkt, q->slot[i].len);
	q->n = 0;
	return sent;
}

/* Builds the frame into the next slot of q (flushed first when full). Returns the
 * packets a flush sent. */
static unsigned queue_frame(struct session_txq *q, struct session_side *in,
			    struct session_side *to, const uint8_t *pl, size_t n, uint32_t ts,
			    uint64_t now_us)
{
	unsigned sent = q->n == SESSION_TXQ_LEN ? session_txq_flush(q) : 0;
	struct session_txq_slot *sl = &q->slot[q->n];
	size_t len = build_frame(in, to, pl, n, ts, now_us, sl->pkt);

	if (len) {
		sl->to = to;
		sl->dst = to->latched ? &to->peer_rtp : &to->sdp_rtp;
		sl->len = (uint16_t)len;
		q->n++;
	}
	return sent;
}

unsigned session_clock(struct media_session *s, uint64_t now_us, uint64_t *next_due_us,
		       struct session_txq *q)
{
	uint8_t pl[CODEC_OUT_MAX];
	unsigned sent = 0;

	if (s->dtmf || s->feat)   /* digits and prompts are sent directly: keep the order */
		q = NULL;
	for (int i = 0; i < 2; i++) {
		struct session_side *in = &s->side[i], *to = &s->side[i ^ 1];
		struct session_out *o = &in->out;
		uint64_t period = o->gen_period_us ? o->gen_period_us : 20000;

		if (feat_playing(s->feat, (unsigned)i ^ 1)) {   /* a prompt owns the stream */
			sent += feat_clock(s, (unsigned)i ^ 1, now_us, next_due_us);
			continue;
		}
		if (!o->gen || !in->xc)
			continue;
		if (now_us > o->gen_due_us + XC_CATCHUP * period) {
			uint64_t k = (now_us - o->gen_due_us) / period - 1;

			o->gen_due_us += k * period;
			o->gen_ts += (uint32_t)(k * xcode_out_step(in->xc));
			to->st.frames_skipped += k;
		}
		while (o->gen_due_us <= now_us + XC_SLACK_US) {
			uint32_t ts = o->gen_ts;
			/* A side that declared it will not send (hold) is not pulled. */
			bool live = in->dir == MEDIA_DIR_SENDRECV || in->dir == MEDIA_DIR_SENDONLY;
			int n = live ? xcode_pull(in->xc, now_us, pl, sizeof(pl)) : 0;

			o->gen_ts += xcode_out_step(in->xc);
			o->gen_due_us += period;
			if (n > 0 && session_takes_rtp(to) && q)
				sent += queue_frame(q, in, to, pl, (size_t)n, ts, now_us);
			else if (n > 0 && session_takes_rtp(to))
				sent += session_send_frame(in, to, pl, (size_t)n, ts, now_us);
			else
				o->gen_sent = false;
		}
		if (o->gen_due_us < *next_due_us)
			*next_due_us = o->gen_due_us;
	}
	if (s->transcoding)
		xc_rtcp_tick(s, now_us, next_due_us);
	if (s->dtmf)   /* digits toward a side no audio flows to */
		mdtmf_clock(s, now_us, next_due_us);
	return sent;
}
