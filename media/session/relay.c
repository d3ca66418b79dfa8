/*
 * relay.c — the per-packet path of a media session: source acceptance and latching,
 * receive statistics, payload-type mapping, direction checks and the rewrite that
 * gives each direction one stable SSRC with continuous sequence numbers and
 * timestamps. Runs on the session's worker; packets are rewritten in the worker's
 * receive buffer, nothing is allocated.
 *
 * DESIGN
 * A side accepts RTP from a source that may latch until it latches (first packet),
 * then only from the latched address, until that address has been silent for
 * relatch_ms, an update gives a new remote address, or a packet comes from the exact
 * address the party's SDP names (the party itself: a previous call's stream still
 * arriving at a reused port, or another sender on the party's host, that latched
 * first gives way to it at once). A source may latch when its IP
 * is the SDP address's, one the party's signalling came from, or the one the side was
 * latched to before (or any source, when the side's latch_any is set: its own latch
 * parameter, else the engine's): the port range is no open door
 * for a stranger's packets. The incoming source is the pair (address, SSRC) of the
 * last accepted packet; when it changes, receive statistics restart (the loss so far
 * is kept) and the outgoing stream is rebased: its next packet continues one sequence
 * number after the highest sent, its timestamp advanced by the wall-clock time since
 * the last packet sent, with the marker bit set. Within one source, out = in + offset,
 * so gaps and reordering reach the far side unchanged. A packet the other side must
 * not receive (it declared sendonly or inactive, or gave the unspecified address as
 * in RFC 2543 hold) is counted but not sent, and the stream is rebased on resume, so
 * hold leaves no sequence gap. RTCP latches to the SDP
 * RTCP address or to the IP RTP latched to, and is rewritten with the same SSRC
 * mapping: sender identifiers become the outgoing SSRC, SR timestamps get the same
 * offset as RTP, and report blocks about our outgoing stream are turned back into
 * reports about the original source with its own sequence numbers.
 */
#include "session.h"

#include "feat.h"
#include "msrtp.h"
#include "rtcp.h"
#include "rtp.h"
#include "xcode.h"

bool session_srtp_in(struct session_side *in, bool rtcp, uint8_t *buf, size_t *len)
{
	if (in->srtp_block)
		goto drop;
	if (!in->srtp)
		return true;
	switch (msrtp_unprotect(in->srtp, rtcp, buf, len)) {
	case MSRTP_OK:
		return true;
	case MSRTP_AUTH:
		in->st.srtp_auth_fail++;
		break;
	case MSRTP_REPLAY:
		in->st.srtp_replay++;
		break;
	default:
		break;
	}
drop:
	in->st.rtp_dropped++;
	return false;
}

bool session_srtp_out(struct session_side *to, bool rtcp, uint8_t *buf, size_t *len,
		      size_t cap)
{
	if (to->srtp_block)
		return false;
	return !to->srtp || msrtp_protect(to->srtp, rtcp, buf, len, cap) == 0;
}

static uint32_t clock_units(uint64_t us, uint32_t clock_hz)
{
	return (uint32_t)(us * clock_hz / 1000000u);
}

static bool may_latch(const struct session_side *in, const union media_sa *src)
{
	if (in->latch_any || (!in->null_remote && sa_ip_eq(src, &in->sdp_rtp)))
		return true;
	/* The host it was latched to before (an update, e.g. an RFC 2543 hold, unlatched
	 * it): it passed this check then. */
	if (in->have_src && sa_ip_eq(src, &in->peer_rtp))
		return true;
	for (unsigned i = 0; i < in->n_sig; i++)
		if (sa_ip_eq(src, &in->sig[i]))
			return true;
	return false;
}

/* True when src is exactly the address the party's SDP names for RTP. */
static bool sdp_source(const struct session_side *in, const union media_sa *src)
{
	return in->have_remote && !in->null_remote && sa_eq(src, &in->sdp_rtp);
}

static bool accept_rtp_source(struct session_side *in, const struct session_cfg *cfg,
			      const union media_sa *src, uint64_t now_ms)
{
	if (in->latched) {
		if (sa_eq(src, &in->peer_rtp))
			return true;
		/* A side latched to a source other than the party's own SDP address (the
		 * old party after an update moved the side, a previous call's stream
		 * still arriving at a reused port, another sender on a known host, a NAT's
		 * port) is taken back by the first packet from that exact address: the
		 * party itself, who would otherwise be dropped and cut off from the call's
		 * audio for as long as the other source keeps sending. */
		if (!sdp_source(in, src) && now_ms - in->last_rx_ms < cfg->relatch_ms) {
			if (!may_latch(in, src))
				in->st.rtp_foreign++;
			return false;
		}
	}
	if (!may_latch(in, src)) {
		in->st.rtp_foreign++;
		return false;
	}
	/* First packet, silence long enough, the SDP address, or a new remote from an
	 * update: latch. */
	if (in->rtcp_latched && !sa_ip_eq(src, &in->peer_rtcp))
		in->rtcp_latched = false;   /* RTCP follows RTP to the new host */
	in->peer_rtp = *src;
	in->rtcp_guess = *src;
	sa_set_port(&in->rtcp_guess, (uint16_t)(sa_port(src) + 1));
	in->latched = true;
	return true;
}

static void new_source(struct session_side *in, const union media_sa *src, uint32_t ssrc)
{
	if (in->have_src) {
		in->st.ssrc_changes++;
		in->lost_prev += rtp_stats_lost(&in->rx);
		rtp_stats_init(&in->rx);
		if (in->out.started)
			in->out.rebase = true;
		if (in->xc)
			xcode_reset_source(in->xc);
	}
	in->have_src = true;
	in->src_addr = *src;
	in->src_ssrc = ssrc;
}


/* Rewrites seq/ts/SSRC/PT/marker of a packet leaving through o. */
static void rewrite(struct session_out *o, uint8_t *buf, const struct rtp_hdr *h, uint8_t pt,
		    uint64_t now_ms)
{
	bool first = !o->started, marker = h->marker;
	uint16_t seq;
	uint32_t ts;

	if (first) {
		o->seq_off = (uint16_t)(o->seq_init - h->seq);
		o->ts_off = o->ts_init - h->ts;
		o->started = true;
		o->rebase = false;
	} else if (o->rebase) {
		uint64_t step = (now_ms - o->last_ms) * o->clock_hz / 1000u;

		if (step < o->rebase_min)
			step = o->rebase_min;
		o->rebase_min = 0;
		o->seq_off = (uint16_t)(o->seq_max + 1u - h->seq);
		o->ts_off = o->ts_last + (uint32_t)(step ? step : 1) - h->ts;
		o->rebase = false;
		marker = true;
	}
	seq = (uint16_t)(h->seq + o->seq_off);
	ts = h->ts + o->ts_off;
	if (first || rtp_seq_after(seq, o->seq_max)) {
		o->seq_max = seq;
		o->ts_last = ts;
	}
	o->last_ms = now_ms;
	rtp_set_pt(buf, pt, marker);
	rtp_set_seq(buf, seq);
	rtp_set_ts(buf, ts);
	rtp_set_ssrc(buf, o->ssrc);
}

enum relay_verdict relay_rtp(struct media_session *s, const struct session_cfg *cfg,
			     unsigned side, uint8_t *buf, size_t len, const union media_sa *src,
			     uint64_t now_us, uint64_t arrival_us, struct relay_out *out)
{
	struct session_side *in = &s->side[side], *to = &s->side[side ^ 1];
	uint64_t now_ms = now_us / 1000u;
	enum mdtmf_verdict v;
	struct rtp_hdr h;
	uint8_t pt;

	if (!in->have_remote || rtp_hdr_parse(&h, buf, len) ||
	    !accept_rtp_source(in, cfg, src, now_ms))
		goto drop;
	if (!in->have_src || h.ssrc != in->src_ssrc || !sa_eq(src, &in->src_addr))
		new_source(in, src, h.ssrc);
	(void)rtp_stats_update(&in->rx, h.seq, h.ts, clock_units(arrival_us, in->clock_hz));
	in->last_rx_ms = now_ms;
	in->pt_run = h.pt == in->last_pt && in->pt_run < UINT8_MAX ? in->pt_run + 1 : 1;
	in->last_pt = h.pt;
	s->last_activity_ms = now_ms;
	if (s->feat && feat_rx(s, side, buf, &h, now_us)) {   /* a prompt replaces it */
		in->st.rtp_in++;
		in->st.bytes_in += len;
		return RELAY_KEEP;
	}
	if (s->transcoding)
		return xc_rtp(s, side, buf, len, &h, now_us, out);
	v = s->dtmf ? mdtmf_in(s, side, buf, len, &h, now_us) : MDTMF_PASS;
	if (v == MDTMF_CONSUME) {
		in->st.rtp_in++;
		in->st.bytes_in += len;
		return RELAY_KEEP;
	}
	/* an event goes out as the other side's event type, negotiated there or not */
	pt = v == MDTMF_EVENT ? mdtmf_event_pt(s, side ^ 1) : in->pt_map[h.pt];
	if (pt > 127)
		goto drop;
	in->st.rtp_in++;
	in->st.bytes_in += len;
	if (!session_takes_rtp(to)) {
		if (in->out.started)
			in->out.rebase = true;   /* resume continues the sequence */
		return RELAY_KEEP;
	}
	rewrite(&in->out, buf, &h, pt, now_ms);
	out->fd = to->fd[SESSION_FD_RTP];
	out->dst = to->latched ? &to->peer_rtp : &to->sdp_rtp;
	out->side = side ^ 1;
	/* a digit may put a longer payload of its own in the packet (an Opus tone) */
	out->len = s->dtmf ? mdtmf_out(s, side ^ 1, buf, len,
				       len > SESSION_RELAY_ROOM ? len : SESSION_RELAY_ROOM) : len;
	return RELAY_SEND;
drop:
	in->st.rtp_dropped++;
	return RELAY_DROP;
}

static bool accept_rtcp_source(struct session_side *in, const struct session_cfg *cfg,
			       const union media_sa *src, uint64_t now_ms)
{
	if (in->rtcp_latched) {
		if (sa_eq(src, &in->peer_rtcp))
			goto ok;
		/* as for RTP: the SDP's RTCP address takes the latch back at once */
		if (!sa_eq(src, &in->sdp_rtcp) && now_ms - in->last_rtcp_ms < cfg->relatch_ms)
			return false;
	}
	if (!sa_eq(src, &in->sdp_rtcp) && !(in->latched && sa_ip_eq(src, &in->peer_rtp)))
		return false;
	in->peer_rtcp = *src;
	in->rtcp_latched = true;
ok:
	in->last_rtcp_ms = now_ms;
	return true;
}

const union media_sa *session_rtcp_target(const struct session_side *to)
{
	if (to->srtp_block)
		return NULL;
	if (to->rtcp_latched)
		return &to->peer_rtcp;
	if (!to->have_remote || to->null_remote)
		return NULL;
	if (to->rtcp_mux)
		return to->latched ? &to->peer_rtp : &to->sdp_rtp;
	/* Latched to another host than SDP named (NAT): its RTCP is likely next door. */
	if (to->latched && !sa_ip_eq(&to->peer_rtp, &to->sdp_rtp))
		return &to->rtcp_guess;
	return &to->sdp_rtcp;
}

enum relay_verdict relay_rtcp(struct media_session *s, const struct session_cfg *cfg,
			      unsigned side, uint8_t *buf, size_t len, const union media_sa *src,
			      uint64_t now_us, uint64_t arrival_us, uint64_t arrival_wall_us,
			      struct relay_out *out)
{
	struct session_side *in = &s->side[side], *to = &s->side[side ^ 1];
	const union media_sa *dst;
	struct rtcp_map map = {
		.sender_ssrc = in->out.ssrc,
		.sr_ts_add = in->out.started ? in->out.ts_off : 0,
		/* Reports about the stream we send to this side describe the other side's
		 * source: give them back its SSRC and sequence space. */
		.report_map = to->out.started && to->have_src,
		.report_from = to->out.ssrc,
		.report_to = to->src_ssrc,
		.report_seq_add = (uint16_t)(0u - to->out.seq_off),
	};

	if (!in->have_remote || !accept_rtcp_source(in, cfg, src, now_us / 1000u) ||
	    (!s->transcoding && rtcp_rewrite(buf, len, &map)) ||
	    (s->transcoding && rtcp_walk(buf, len, NULL, NULL)))
		goto drop;
	in->st.rtcp_in++;
	if (s->on_hold)
		s->last_activity_ms = now_us / 1000u;
	if (s->transcoding) {
		xc_rtcp_in(s, side, buf, len, arrival_us, arrival_wall_us);   /* terminated here */
		return RELAY_KEEP;
	}
	dst = session_rtcp_target(to);
	if (!dst)
		return RELAY_KEEP;
	out->fd = session_rtcp_fd(to);
	out->dst = dst;
	out->side = side ^ 1;
	out->len = len;
	return RELAY_SEND;
drop:
	in->st.rtp_dropped++;
	return RELAY_DROP;
}
