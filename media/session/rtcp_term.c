/*
 * rtcp_term.c — RTCP where trunx terminates media (transcoding): each side's reports
 * about the stream we send it are read (loss, jitter, round-trip time), and trunx
 * sends each side its own SR (or RR) with a report block about that side's stream and
 * an SDES CNAME, about every 5 s (randomised 0.5-1.5x, RFC 3550 6.2), with the SSRC of
 * the RTP it sends that side and the NTP/RTP mapping at the codec's clock. A report's
 * round trip and the DLSR we answer an SR with are counted from when the packet reached
 * the host (the kernel's receive timestamp the worker hands in), so a worker that was
 * slow to read it does not show as network delay. Runs on the session's worker;
 * nothing is allocated.
 */
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "msrtp.h"
#include "rtcp_report.h"
#include "session.h"

#define RTCP_INTERVAL_US 5000000u

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void xc_rtcp_in(struct media_session *s, unsigned side, const uint8_t *buf, size_t len,
		uint64_t arrival_us, uint64_t arrival_wall_us)
{
	struct session_side *in = &s->side[side];
	const struct session_out *ours = &s->side[side ^ 1].out;   /* what we send it */
	struct rtcp_report_in r;

	if (rtcp_report_parse(buf, len, ours->ssrc, &r))
		return;
	if (r.have_sr) {
		in->lsr = r.sr_mid;
		in->lsr_at_us = arrival_us;
	}
	if (r.have_block) {
		in->st.have_report = true;
		in->st.remote_fraction_lost = r.fraction;
		in->st.remote_lost = r.lost;
		in->st.remote_jitter_us = (uint32_t)((uint64_t)r.jitter * 1000000u / in->clock_hz);
		/* RFC 3550 6.4.1: A is when the report arrived, not when it is read */
		in->st.rtt_ms = rtcp_rtt_ms(r.lsr, r.dlsr,
					    rtcp_ntp_of_us(arrival_wall_us ? arrival_wall_us
									   : wall_us()));
	}
}

static uint64_t next_interval(struct media_session *s)
{
	s->rnd = s->rnd * 1103515245u + 12345u;
	/* 0.5 .. 1.5 times the interval */
	return RTCP_INTERVAL_US / 2 + (uint64_t)(s->rnd >> 8) % RTCP_INTERVAL_US;
}

/* One report to side x. */
static void report(struct media_session *s, unsigned x, uint64_t now_us)
{
	struct session_side *sd = &s->side[x];
	const struct session_out *o = &s->side[x ^ 1].out;   /* the stream we send x */
	const union media_sa *dst = session_rtcp_target(sd);
	struct rtcp_report_out r = {.ssrc = o->ssrc, .cname = "trunx"};
	uint8_t buf[128 + MSRTP_TRAILER];
	size_t n;

	if (!dst)
		return;
	r.sender = sd->st.rtp_out > sd->rtcp_pkts_at;
	if (r.sender) {
		int64_t ahead = (int64_t)o->gen_due_us - (int64_t)now_us;

		r.ntp = rtcp_ntp_of_us(wall_us());
		/* gen_ts is the timestamp of the frame due at gen_due_us */
		r.rtp_ts = o->gen_ts - (uint32_t)(ahead * (int64_t)sd->clock_hz / 1000000);
		r.packets = (uint32_t)sd->st.rtp_out;
		r.octets = (uint32_t)(sd->st.bytes_out - 12u * sd->st.rtp_out);
	}
	if (sd->have_src) {
		r.have_block = true;
		r.src_ssrc = sd->src_ssrc;
		r.fraction = rtp_stats_fraction_lost(&sd->rx);
		r.lost = (int32_t)(sd->lost_prev + rtp_stats_lost(&sd->rx));
		r.ext_max = rtp_stats_ext_max(&sd->rx);
		r.jitter = rtp_stats_jitter(&sd->rx);
		if (sd->lsr) {
			r.lsr = sd->lsr;
			r.dlsr = (uint32_t)((now_us - sd->lsr_at_us) * 65536u / 1000000u);
		}
	}
	sd->rtcp_pkts_at = sd->st.rtp_out;
	n = rtcp_report_build(buf, 128, &r);
	if (n && session_srtp_out(sd, true, buf, &n, sizeof(buf)) &&
	    sendto(session_rtcp_fd(sd), buf, n, MSG_DONTWAIT, &dst->sa, sa_len(dst)) > 0) {
		sd->st.rtcp_out++;
		sd->st.rtcp_sent++;
	}
}

void xc_rtcp_tick(struct media_session *s, uint64_t now_us, uint64_t *next_due_us)
{
	for (unsigned x = 0; x < 2; x++) {
		struct session_side *sd = &s->side[x];

		if (!sd->rtcp_due_us) {
			if (!s->rnd)
				s->rnd = s->side[0].out.ssrc ^ s->side[1].out.ssrc;
			sd->rtcp_due_us = now_us + next_interval(s);
		}
		if (now_us >= sd->rtcp_due_us) {
			report(s, x, now_us);
			sd->rtcp_due_us = now_us + next_interval(s);
		}
		if (sd->rtcp_due_us < *next_due_us)
			*next_due_us = sd->rtcp_due_us;
	}
}
