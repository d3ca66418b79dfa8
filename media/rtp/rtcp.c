/*
 * rtcp.c — RTCP compound walk and SSRC rewrite (see rtcp.h). Owns no state.
 *
 * One internal pass does both jobs: it validates every packet and, when given a map,
 * rewrites the identifiers of the packet it has just validated. The buffer is only
 * written when a map is given, so rtcp_walk() can share the pass over const data.
 */
#include "rtcp.h"

#include <errno.h>

#include "rtp.h"

/* Validates (and maybe rewrites) the SDES chunks in body[0..len). */
static int sdes_chunks(uint8_t *body, size_t len, unsigned count, const struct rtcp_map *m)
{
	size_t off = 0;

	for (unsigned c = 0; c < count; c++) {
		if (len - off < 4)
			return EBADMSG;
		if (m)
			rtp_put32(body + off, m->sender_ssrc);
		off += 4;
		/* Items until a zero type byte; then zero padding to the next word. */
		for (;;) {
			if (off >= len)
				return EBADMSG;
			if (body[off] == 0)
				break;
			if (len - off < 2 || len - off - 2 < body[off + 1])
				return EBADMSG;
			off += 2u + body[off + 1];
		}
		off = (off + 4) & ~(size_t)3;   /* the null item, then pad to 32 bits */
		if (off > len)
			return EBADMSG;
	}
	return 0;
}

static void report_blocks(uint8_t *rb, unsigned count, const struct rtcp_map *m)
{
	if (!m || !m->report_map)
		return;
	for (unsigned i = 0; i < count; i++, rb += RTCP_RB_LEN) {
		if (rtp_get32(rb) != m->report_from)
			continue;
		rtp_put32(rb, m->report_to);
		/* Extended highest sequence number: cycles (16) + seq (16), at offset 8. */
		rtp_put16(rb + 10, (uint16_t)(rtp_get16(rb + 10) + m->report_seq_add));
	}
}

/* Validates (and maybe rewrites) one packet's inner layout; body excludes padding. */
static int one_packet(uint8_t *p, size_t body_len, uint8_t type, unsigned count,
		      const struct rtcp_map *m)
{
	size_t need;

	switch (type) {
	case RTCP_SR:
		need = RTCP_HDR_LEN + 4 + RTCP_SR_INFO_LEN + (size_t)count * RTCP_RB_LEN;
		if (body_len < need)
			return EBADMSG;
		if (m) {
			rtp_put32(p + 4, m->sender_ssrc);
			rtp_put32(p + 16, rtp_get32(p + 16) + m->sr_ts_add);
		}
		report_blocks(p + 8 + RTCP_SR_INFO_LEN, count, m);
		return 0;
	case RTCP_RR:
		need = RTCP_HDR_LEN + 4 + (size_t)count * RTCP_RB_LEN;
		if (body_len < need)
			return EBADMSG;
		if (m)
			rtp_put32(p + 4, m->sender_ssrc);
		report_blocks(p + 8, count, m);
		return 0;
	case RTCP_SDES:
		return sdes_chunks(p + RTCP_HDR_LEN, body_len - RTCP_HDR_LEN, count, m);
	case RTCP_BYE:
		need = RTCP_HDR_LEN + 4u * count;
		if (body_len < need)
			return EBADMSG;
		/* Optional reason: a length byte and that many bytes. */
		if (body_len > need && body_len - need - 1 < p[need])
			return EBADMSG;
		for (unsigned i = 0; m && i < count; i++)
			rtp_put32(p + RTCP_HDR_LEN + 4 * i, m->sender_ssrc);
		return 0;
	case RTCP_RTPFB:
	case RTCP_PSFB:
		/* RFC 4585: sender SSRC, then the media source the feedback is about */
		if (body_len >= RTCP_HDR_LEN + 8 && m) {
			rtp_put32(p + 4, m->sender_ssrc);
			if (m->report_map && rtp_get32(p + 8) == m->report_from)
				rtp_put32(p + 8, m->report_to);
		}
		return 0;
	default:
		/* APP, XR and the rest start with their sender's SSRC too; what follows
		 * is passed through untouched */
		if (body_len >= RTCP_HDR_LEN + 4 && m)
			rtp_put32(p + 4, m->sender_ssrc);
		return 0;
	}
}

static int pass(uint8_t *buf, size_t len, const struct rtcp_map *m, rtcp_pkt_h *h, void *arg)
{
	size_t off = 0;

	if (!buf)
		return EINVAL;
	if (len < RTCP_HDR_LEN || len % 4)
		return EBADMSG;
	while (off < len) {
		uint8_t *p = buf + off;
		struct rtcp_pkt pk;
		size_t plen;
		int err;

		if (len - off < RTCP_HDR_LEN || (p[0] >> 6) != RTP_VERSION)
			return EBADMSG;
		plen = 4u * ((size_t)rtp_get16(p + 2) + 1);
		if (plen > len - off)
			return EBADMSG;
		pk.type = p[1];
		pk.count = p[0] & 0x1f;
		pk.padding = (p[0] & 0x20) != 0;
		pk.p = p;
		pk.len = plen;
		pk.pad_len = 0;
		if (pk.padding) {
			pk.pad_len = p[plen - 1];
			if (pk.pad_len == 0 || pk.pad_len > plen - RTCP_HDR_LEN)
				return EBADMSG;
		}
		err = one_packet(p, plen - pk.pad_len, pk.type, pk.count, m);
		if (err)
			return err;
		if (h) {
			err = h(&pk, arg);
			if (err)
				return err;
		}
		off += plen;
	}
	return 0;
}

int rtcp_walk(const uint8_t *buf, size_t len, rtcp_pkt_h *h, void *arg)
{
	/* Without a map the pass never writes, so dropping const here is safe. */
	return pass((uint8_t *)(uintptr_t)buf, len, NULL, h, arg);
}

int rtcp_rewrite(uint8_t *buf, size_t len, const struct rtcp_map *m)
{
	if (!m)
		return EINVAL;
	return pass(buf, len, m, NULL, NULL);
}
