/*
 * rtcp_report.c — RTCP reports trunx writes and reads where it terminates media, and
 * the E-model quality estimate (see rtcp_report.h). Owns no state.
 */
#include "rtcp_report.h"

#include <errno.h>
#include <string.h>

#include "rtcp.h"
#include "rtp.h"

#define NTP_UNIX_OFFSET 2208988800ull   /* seconds from 1900 to 1970 */

uint64_t rtcp_ntp_of_us(uint64_t unix_us)
{
	uint64_t sec = unix_us / 1000000u + NTP_UNIX_OFFSET;
	uint64_t frac = ((unix_us % 1000000u) << 32) / 1000000u;

	return sec << 32 | frac;
}

size_t rtcp_report_build(uint8_t *buf, size_t size, const struct rtcp_report_out *r)
{
	size_t cn = r->cname ? strlen(r->cname) : 0, off = 0, words, sdes_len;
	unsigned rc = r->have_block ? 1 : 0;
	size_t first = 8 + (r->sender ? 20 : 0) + 24u * rc;

	if (cn > 255)
		cn = 255;
	/* SDES: header, SSRC, CNAME item (2 + cn), end item, padded to 32 bits */
	sdes_len = (8 + 2 + cn + 1 + 3) & ~(size_t)3;
	if (size < first + sdes_len)
		return 0;
	buf[0] = (uint8_t)(0x80 | rc);
	buf[1] = r->sender ? 200 : 201;
	rtp_put16(buf + 2, (uint16_t)(first / 4 - 1));
	rtp_put32(buf + 4, r->ssrc);
	off = 8;
	if (r->sender) {
		rtp_put32(buf + off, (uint32_t)(r->ntp >> 32));
		rtp_put32(buf + off + 4, (uint32_t)r->ntp);
		rtp_put32(buf + off + 8, r->rtp_ts);
		rtp_put32(buf + off + 12, r->packets);
		rtp_put32(buf + off + 16, r->octets);
		off += 20;
	}
	if (rc) {
		int32_t lost = r->lost > 0x7fffff ? 0x7fffff : r->lost < -0x800000 ? -0x800000 : r->lost;

		rtp_put32(buf + off, r->src_ssrc);
		rtp_put32(buf + off + 4, (uint32_t)r->fraction << 24 | ((uint32_t)lost & 0xffffff));
		rtp_put32(buf + off + 8, r->ext_max);
		rtp_put32(buf + off + 12, r->jitter);
		rtp_put32(buf + off + 16, r->lsr);
		rtp_put32(buf + off + 20, r->dlsr);
		off += 24;
	}
	words = sdes_len / 4 - 1;
	buf[off] = 0x81;
	buf[off + 1] = 202;
	rtp_put16(buf + off + 2, (uint16_t)words);
	rtp_put32(buf + off + 4, r->ssrc);
	buf[off + 8] = 1;   /* CNAME */
	buf[off + 9] = (uint8_t)cn;
	memcpy(buf + off + 10, r->cname ? r->cname : "", cn);
	memset(buf + off + 10 + cn, 0, sdes_len - 10 - cn);
	return off + sdes_len;
}

struct parse_arg {
	uint32_t about;
	struct rtcp_report_in *in;
};

static void block(const uint8_t *rb, unsigned count, struct parse_arg *a)
{
	for (unsigned i = 0; i < count; i++, rb += RTCP_RB_LEN) {
		uint32_t w;

		if (rtp_get32(rb) != a->about)
			continue;
		w = rtp_get32(rb + 4);
		a->in->have_block = true;
		a->in->fraction = (uint8_t)(w >> 24);
		/* 24-bit two's complement */
		a->in->lost = (w & 0x800000) ? (int32_t)(w & 0xffffff) - 0x1000000
					     : (int32_t)(w & 0xffffff);
		a->in->jitter = rtp_get32(rb + 12);
		a->in->lsr = rtp_get32(rb + 16);
		a->in->dlsr = rtp_get32(rb + 20);
	}
}

static int on_pkt(const struct rtcp_pkt *p, void *arg)
{
	struct parse_arg *a = arg;

	if (p->type == RTCP_SR) {
		a->in->have_sr = true;
		a->in->sr_ssrc = rtp_get32(p->p + 4);
		a->in->sr_mid = (uint32_t)rtp_get16(p->p + 10) << 16 | rtp_get16(p->p + 12);
		block(p->p + 8 + RTCP_SR_INFO_LEN, p->count, a);
	} else if (p->type == RTCP_RR) {
		block(p->p + 8, p->count, a);
	}
	return 0;
}

int rtcp_report_parse(const uint8_t *buf, size_t len, uint32_t about, struct rtcp_report_in *in)
{
	struct parse_arg a = {about, in};

	memset(in, 0, sizeof(*in));
	return rtcp_walk(buf, len, on_pkt, &a) ? EBADMSG : 0;
}

int rtcp_rtt_ms(uint32_t lsr, uint32_t dlsr, uint64_t now_ntp)
{
	uint32_t mid = (uint32_t)(now_ntp >> 16);
	uint32_t rtt;

	if (!lsr)
		return -1;
	rtt = mid - lsr - dlsr;
	/* Below zero by less than RTCP_RTT_SLACK: a round trip shorter than the peer's
	 * clock resolves (it measures its DLSR in ms, or on its 20 ms media tick, and
	 * may overstate it by that much): 0. Further below, or more than 10 s: not
	 * believable. */
	if (0u - rtt <= RTCP_RTT_SLACK)
		return 0;
	if (rtt > 65536u * 10)
		return -1;
	return (int)((uint64_t)rtt * 1000u / 65536u);
}

double quality_r(double delay_ms, double loss_pct, double ie, double bpl)
{
	double id = 0.024 * delay_ms + (delay_ms > 177.3 ? 0.11 * (delay_ms - 177.3) : 0);
	double ppl = loss_pct < 0 ? 0 : loss_pct > 100 ? 100 : loss_pct;
	double ie_eff = ie + (95 - ie) * ppl / (ppl + bpl);
	double r = 93.2 - id - ie_eff;

	return r < 0 ? 0 : r > 100 ? 100 : r;
}

double quality_mos(double r)
{
	if (r <= 0)
		return 1.0;
	if (r >= 100)
		return 4.5;
	return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}
