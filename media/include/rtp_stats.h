/*
 * rtp_stats.h — receive statistics of one RTP source (RFC 3550 appendix A):
 * sequence tracking with wrap-around, probation of a new source and resync after a
 * large jump (A.1), expected/lost counts and the interval fraction lost (A.3), and
 * interarrival jitter (A.8). Plain value struct: the owner embeds it, no allocation.
 *
 * Arrival times are passed in timestamp units of the stream's RTP clock, so that
 * jitter comes out in the same units; the caller converts.
 */
#ifndef TRUNX_RTP_STATS_H
#define TRUNX_RTP_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define RTP_STATS_MIN_SEQUENTIAL 2     /**< packets in sequence before a source is valid */
#define RTP_STATS_MAX_DROPOUT    3000  /**< larger forward jumps need a resync */
#define RTP_STATS_MAX_MISORDER   100   /**< older packets within this are reordering */

struct rtp_stats {
	bool     started;        /**< a first packet was seen */
	uint16_t max_seq;        /**< highest sequence number seen */
	uint32_t cycles;         /**< wraps of the sequence number, times 2^16 */
	uint32_t base_seq;       /**< first sequence number counted */
	uint32_t bad_seq;        /**< the next seq expected after a jump (resync check) */
	uint32_t probation;      /**< sequential packets still needed to validate */
	uint32_t received;       /**< packets counted since base_seq */
	uint32_t expected_prior; /**< expected at the last fraction_lost() */
	uint32_t received_prior; /**< received at the last fraction_lost() */
	int64_t  lost_carried;   /**< loss of the sequence spans before the last resync */
	bool     have_transit;   /**< transit holds a value */
	uint32_t transit;        /**< last arrival - RTP timestamp, timestamp units */
	uint64_t jitter16;       /**< interarrival jitter times 16, timestamp units */
};

/** Resets s to "no packet seen". */
void rtp_stats_init(struct rtp_stats *s);

/**
 * Accounts one received packet.
 * @param seq      its sequence number
 * @param ts       its RTP timestamp
 * @param arrival  its arrival time in timestamp units (any origin, wrapping mod 2^32)
 * @return true when the packet counts (source valid, not a stray after a jump)
 */
bool rtp_stats_update(struct rtp_stats *s, uint16_t seq, uint32_t ts, uint32_t arrival);

/** Extended highest sequence number received (cycles + max_seq). */
uint32_t rtp_stats_ext_max(const struct rtp_stats *s);

/** Packets expected since the first counted one (A.3); 0 before validation. */
uint32_t rtp_stats_expected(const struct rtp_stats *s);

/** Cumulative packets lost (A.3): expected - received, over all resyncs. Negative
 *  values (duplicates) are possible, as in RTCP. */
int64_t rtp_stats_lost(const struct rtp_stats *s);

/** Fraction lost since the previous call, as the 8-bit RTCP field (A.3). */
uint8_t rtp_stats_fraction_lost(struct rtp_stats *s);

/** Interarrival jitter in timestamp units (A.8). */
uint32_t rtp_stats_jitter(const struct rtp_stats *s);

#endif
