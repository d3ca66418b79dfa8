/*
 * rtcp.h — RTCP compound packets (RFC 3550 section 6): a validating walk over the
 * packets of a compound, and the in-place SSRC rewrite a relay needs so that reports
 * stay consistent with the SSRCs it rewrote on the RTP streams.
 *
 * The walk checks the framing every packet shares (version 2, length words inside the
 * buffer and summing exactly to it, padding count valid) and the inner layout of the
 * types the rewrite touches (SR, RR, SDES, BYE: report blocks, chunks and source lists
 * inside their packet). Any other type (APP, RTPFB, PSFB, XR, ...) is passed through
 * with only its sender SSRC (the word after the header, when there is one) rewritten,
 * and for RTPFB and PSFB the media source SSRC mapped like a report block's.
 * Nothing is allocated.
 */
#ifndef TRUNX_RTCP_H
#define TRUNX_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rtcp_type {
	RTCP_SR   = 200,
	RTCP_RR   = 201,
	RTCP_SDES = 202,
	RTCP_BYE  = 203,
	RTCP_APP  = 204,
	RTCP_RTPFB = 205,   /**< RFC 4585 transport-layer feedback */
	RTCP_PSFB  = 206,   /**< RFC 4585 payload-specific feedback */
};

#define RTCP_HDR_LEN     4
#define RTCP_SR_INFO_LEN 20   /**< NTP ts (8) + RTP ts + packet count + octet count */
#define RTCP_RB_LEN      24   /**< one report block */

/** One packet of a compound, as seen by the walk handler. */
struct rtcp_pkt {
	uint8_t        type;     /**< packet type (200 = SR, ...) */
	uint8_t        count;    /**< the 5-bit RC/SC/subtype field */
	bool           padding;  /**< P bit */
	const uint8_t *p;        /**< first byte of the packet (its header) */
	size_t         len;      /**< bytes of the packet, header and padding included */
	size_t         pad_len;  /**< padding bytes at its end */
};

/** Walk handler: return 0 to continue, anything else stops the walk with that value. */
typedef int (rtcp_pkt_h)(const struct rtcp_pkt *pkt, void *arg);

/**
 * Validates a compound packet and calls h (if not NULL) for each packet in order.
 * @return 0, EINVAL (NULL buffer), EBADMSG (malformed), or the handler's non-zero value
 */
int rtcp_walk(const uint8_t *buf, size_t len, rtcp_pkt_h *h, void *arg);

/** What rtcp_rewrite() changes. */
struct rtcp_map {
	/** New SSRC for every sender-side identifier: SR/RR sender, SDES chunk items,
	 *  BYE sources, the sender SSRC of any other type. One stream per direction
	 *  leaves the relay, so they all collapse onto it. */
	uint32_t sender_ssrc;
	/** Added (mod 2^32) to the RTP timestamp of SRs: the sender's timestamp offset. */
	uint32_t sr_ts_add;
	/** When true, report blocks (and RTPFB/PSFB media sources) about report_from
	 *  are rewritten to be about report_to,
	 *  and report_seq_add is added (mod 2^16) to the low 16 bits of their extended
	 *  highest sequence number. Blocks about other SSRCs are left alone. */
	bool     report_map;
	uint32_t report_from;
	uint32_t report_to;
	uint16_t report_seq_add;
};

/**
 * Validates buf as rtcp_walk() does and rewrites its SSRCs in place per m. The length
 * never changes. On EBADMSG the buffer may be partly rewritten and must be dropped.
 * @return 0, EINVAL or EBADMSG
 */
int rtcp_rewrite(uint8_t *buf, size_t len, const struct rtcp_map *m);

#endif
