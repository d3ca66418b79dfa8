/*
 * quality.c — per-side call quality from the session's counters: loss and jitter as
 * received, what the side reported about our stream, and an E-model R-factor / MOS.
 */
#include "media.h"

#include "rtcp_report.h"

void media_quality_of(const struct media_side_stats *st, enum media_codec c,
		      struct media_quality *q)
{
	double expected = (double)st->rtp_in + (double)st->rtp_lost, loss, delay;
	/* Equipment impairment and loss robustness (G.113 Appendix I; Opus as a modern
	 * codec with concealment in the same class as G.711 with PLC). */
	double ie = 0, bpl = c == MEDIA_CODEC_OPUS ? 20.0 : 25.1;

	q->loss_pct = expected > 0 ? 100.0 * (double)st->rtp_lost / expected : 0;
	q->jitter_ms = st->jitter_us / 1000.0;
	q->remote_loss_pct = st->have_report ? 100.0 * st->remote_fraction_lost / 256.0 : -1;
	q->rtt_ms = st->have_report ? st->rtt_ms : -1;
	loss = q->remote_loss_pct > q->loss_pct ? q->remote_loss_pct : q->loss_pct;
	/* one-way: half the round trip (or a LAN-like 20 ms), a packet, the jitter
	 * buffer (what it held, or twice the jitter on a relay) */
	delay = (q->rtt_ms >= 0 ? q->rtt_ms / 2.0 : 20.0) + 20.0 +
		(st->jb_delay_ms ? st->jb_delay_ms : 2 * q->jitter_ms);
	q->r = quality_r(delay, loss, ie, bpl);
	q->mos = quality_mos(q->r);
}
