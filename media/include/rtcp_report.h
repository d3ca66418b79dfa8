/*
 * rtcp_report.h — RTCP that trunx writes and reads itself where it terminates media:
 * a compound SR (or RR) with one report block and an SDES CNAME (RFC 3550 6.4, 6.5),
 * and the reading of a peer's compound for what the quality figures need: the
 * middle of its last SR's NTP time (for our LSR) and its report block about our
 * stream (loss, jitter, and the round-trip time from LSR/DLSR, RFC 3550 6.4.1).
 * Pure code over caller buffers.
 */
#ifndef TRUNX_RTCP_REPORT_H
#define TRUNX_RTCP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What we send in one report. */
struct rtcp_report_out {
	uint32_t ssrc;          /**< our SSRC (the RTP SSRC we send this leg) */
	bool     sender;        /**< write an SR (we sent RTP since the last report) */
	uint64_t ntp;           /**< SR: wall clock, NTP 32.32 */
	uint32_t rtp_ts;        /**< SR: the same instant on the RTP clock */
	uint32_t packets;       /**< SR: packets sent */
	uint32_t octets;        /**< SR: payload octets sent */
	bool     have_block;    /**< a report block about the leg's stream */
	uint32_t src_ssrc;      /**< ...its SSRC */
	uint8_t  fraction;      /**< fraction lost since the last report (8 bits) */
	int32_t  lost;          /**< cumulative lost (24 bits signed) */
	uint32_t ext_max;       /**< extended highest sequence number */
	uint32_t jitter;        /**< interarrival jitter, timestamp units */
	uint32_t lsr;           /**< middle 32 bits of the last SR's NTP from the leg, 0 = none */
	uint32_t dlsr;          /**< delay since it, 1/65536 s */
	const char *cname;      /**< SDES CNAME */
};

/**
 * Writes the compound. @return bytes written, or 0 when size is too small
 */
size_t rtcp_report_build(uint8_t *buf, size_t size, const struct rtcp_report_out *r);

/** What a received compound says. */
struct rtcp_report_in {
	bool     have_sr;       /**< it held an SR */
	uint32_t sr_ssrc;
	uint32_t sr_mid;        /**< middle 32 bits of its NTP time (our next LSR) */
	bool     have_block;    /**< a report block about `about` */
	uint8_t  fraction;
	int32_t  lost;
	uint32_t jitter;
	uint32_t lsr, dlsr;
};

/**
 * Reads a compound (validated as rtcp_walk() does) for the SR and the report block
 * about SSRC `about`. @return 0 or EBADMSG
 */
int rtcp_report_parse(const uint8_t *buf, size_t len, uint32_t about, struct rtcp_report_in *in);

/** How far below zero (1/65536 s: 20 ms) a round trip from LSR/DLSR counts as 0. */
#define RTCP_RTT_SLACK (65536u * 20u / 1000u)

/**
 * Round-trip time in ms from a report block's LSR/DLSR at NTP time now (when the
 * report arrived); 0 when it comes out below zero by up to RTCP_RTT_SLACK (a peer's
 * coarse DLSR on a short path), -1 if unknown (no LSR, further below zero, > 10 s).
 */
int rtcp_rtt_ms(uint32_t lsr, uint32_t dlsr, uint64_t now_ntp);

/** NTP 32.32 time of a CLOCK_REALTIME reading in microseconds since 1970. */
uint64_t rtcp_ntp_of_us(uint64_t unix_us);

/**
 * E-model estimate (ITU-T G.107, simplified as in G.107 Annex / RFC 3611 practice):
 * R-factor from one-way delay (ms), packet loss (percent) and the codec's equipment
 * impairment (ie) and loss robustness (bpl); MOS from R.
 */
double quality_r(double delay_ms, double loss_pct, double ie, double bpl);
double quality_mos(double r);

#endif
