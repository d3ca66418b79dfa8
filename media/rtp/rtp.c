/*
 * rtp.c — RTP fixed header parse and build (see rtp.h). Owns no state.
 */
#include "rtp.h"

#include <errno.h>
#include <string.h>

int rtp_hdr_parse(struct rtp_hdr *h, const uint8_t *buf, size_t len)
{
	size_t off;

	if (!h || (!buf && len))
		return EINVAL;
	if (len < RTP_HDR_MIN)
		return EBADMSG;
	h->version = buf[0] >> 6;
	if (h->version != RTP_VERSION)
		return EBADMSG;
	h->padding = (buf[0] & 0x20) != 0;
	h->ext = (buf[0] & 0x10) != 0;
	h->cc = buf[0] & 0x0f;
	h->marker = (buf[1] & 0x80) != 0;
	h->pt = buf[1] & 0x7f;
	h->seq = rtp_get16(buf + 2);
	h->ts = rtp_get32(buf + 4);
	h->ssrc = rtp_get32(buf + 8);
	off = RTP_HDR_MIN;
	if (len - off < 4u * h->cc)
		return EBADMSG;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		h->csrc[i] = rtp_get32(buf + off);
	h->ext_profile = 0;
	h->ext_len = 0;
	if (h->ext) {
		if (len - off < 4)
			return EBADMSG;
		h->ext_profile = rtp_get16(buf + off);
		h->ext_len = 4u * rtp_get16(buf + off + 2);
		off += 4;
		if (len - off < h->ext_len)
			return EBADMSG;
		off += h->ext_len;
	}
	h->hdr_len = off;
	h->pad_len = 0;
	if (h->padding) {
		h->pad_len = buf[len - 1];
		/* The count includes itself, so it is at least 1. */
		if (h->pad_len == 0 || h->pad_len > len - off)
			return EBADMSG;
	}
	h->payload_len = len - off - h->pad_len;
	return 0;
}

int rtp_hdr_build(uint8_t *buf, size_t size, const struct rtp_hdr *h, size_t *lenp)
{
	size_t need, off;

	if (!buf || !h || !lenp || h->cc > RTP_CSRC_MAX || h->pt > 127 ||
	    (h->ext && (h->ext_len % 4 || h->ext_len / 4 > 0xffff)))
		return EINVAL;
	need = RTP_HDR_MIN + 4u * h->cc + (h->ext ? 4 : 0);
	if (size < need)
		return ENOSPC;
	buf[0] = (uint8_t)((RTP_VERSION << 6) | (h->padding ? 0x20 : 0) |
			   (h->ext ? 0x10 : 0) | h->cc);
	rtp_set_pt(buf, h->pt, h->marker);
	rtp_set_seq(buf, h->seq);
	rtp_set_ts(buf, h->ts);
	rtp_set_ssrc(buf, h->ssrc);
	off = RTP_HDR_MIN;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		rtp_put32(buf + off, h->csrc[i]);
	if (h->ext) {
		rtp_put16(buf + off, h->ext_profile);
		rtp_put16(buf + off + 2, (uint16_t)(h->ext_len / 4));
		off += 4;
	}
	*lenp = off;
	return 0;
}
