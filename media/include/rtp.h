/*
 * rtp.h — RTP fixed header (RFC 3550 section 5.1): parse and build without allocation,
 * plus in-place field writers for a relay that rewrites packets in its receive buffer.
 *
 * All multi-byte fields are read and written byte by byte in network order, so a
 * buffer at any alignment is fine.
 */
#ifndef TRUNX_RTP_H
#define TRUNX_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_VERSION   2
#define RTP_HDR_MIN   12    /**< fixed header bytes */
#define RTP_CSRC_MAX  15

/** A parsed RTP header. Offsets refer to the buffer that was parsed. */
struct rtp_hdr {
	uint8_t  version;            /**< always 2 after a successful parse */
	bool     padding;            /**< P bit */
	bool     ext;                /**< X bit */
	uint8_t  cc;                 /**< CSRC count */
	bool     marker;             /**< M bit */
	uint8_t  pt;                 /**< payload type, 0..127 */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t csrc[RTP_CSRC_MAX]; /**< cc entries valid */
	uint16_t ext_profile;        /**< when ext: the profile-defined 16 bits */
	size_t   ext_len;            /**< when ext: extension data bytes (after its 4-byte header) */
	size_t   hdr_len;            /**< bytes before the payload: fixed + CSRCs + extension */
	size_t   payload_len;        /**< payload bytes, padding excluded */
	uint8_t  pad_len;            /**< padding bytes at the end (0 without P) */
};

/**
 * Parses and validates an RTP header: version 2, CSRC list, extension and padding all
 * inside len bytes, padding count non-zero and not larger than what follows the header.
 * @param h    receives the fields (undefined on error)
 * @param buf  packet bytes
 * @param len  packet length
 * @return 0, EINVAL (NULL argument) or EBADMSG (not a valid RTP packet)
 */
int rtp_hdr_parse(struct rtp_hdr *h, const uint8_t *buf, size_t len);

/**
 * Writes the fixed header, the CSRC list and, when h->ext is set, the 4-byte extension
 * header (profile and ext_len/4 words; the caller writes the extension data after it).
 * Padding is not written: the caller appends it and sets h->padding.
 * @param buf   output buffer
 * @param size  its size
 * @param h     fields to write (version ignored; cc <= 15; pt <= 127; ext_len % 4 == 0)
 * @param lenp  receives the header bytes written
 * @return 0, EINVAL (bad field) or ENOSPC (size too small)
 */
int rtp_hdr_build(uint8_t *buf, size_t size, const struct rtp_hdr *h, size_t *lenp);

/* In-place writers for a buffer already validated by rtp_hdr_parse(). */

static inline void rtp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rtp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t rtp_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rtp_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/** Sets the payload type and the marker bit. */
static inline void rtp_set_pt(uint8_t *buf, uint8_t pt, bool marker)
{
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
}

static inline void rtp_set_seq(uint8_t *buf, uint16_t seq)
{
	rtp_put16(buf + 2, seq);
}

static inline void rtp_set_ts(uint8_t *buf, uint32_t ts)
{
	rtp_put32(buf + 4, ts);
}

static inline void rtp_set_ssrc(uint8_t *buf, uint32_t ssrc)
{
	rtp_put32(buf + 8, ssrc);
}

/** True when sequence number a comes after b in modulo-2^16 order. */
static inline bool rtp_seq_after(uint16_t a, uint16_t b)
{
	return a != b && (uint16_t)(a - b) < 0x8000;
}

#endif
