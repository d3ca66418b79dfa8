/*
 * msrtp.h — SRTP/SRTCP (RFC 3711) for one side of a media session, over libsrtp2:
 * an inbound context (the side's own SDES key: unprotects what it sends) and an
 * outbound one (trunx's key toward it: protects what we send). SRTCP always uses the
 * 80-bit tag (RFC 4568 6.2), whatever the SRTP tag length.
 *
 * DESIGN
 * Each context takes any SSRC: a new source gets a fresh stream (rollover counter 0)
 * once its first packet authenticates; a known source keeps its rollover counter and
 * replay window for as long as the key stays. msrtp_set() compares the keys it is given
 * with the ones in use and replaces only the context whose key changed, so an update
 * that keeps a key (a re-INVITE for hold, a codec switch) keeps the counter, and a new
 * key (rekey by re-INVITE) starts a fresh context. Nothing is allocated per packet
 * (libsrtp allocates a stream for a new SSRC, after it authenticated, and keeps it
 * until the context goes, searching them one by one for each packet). So each
 * context holds at most MSRTP_SSRC_MAX SSRCs: inbound, a new one frees the stream of
 * the one unused longest (a party that changes SSRC without end cannot grow memory
 * or the search; an SSRC that comes back after that starts afresh, its replay window
 * and rollover counter gone); outbound, where a stream made again would repeat its
 * keystream, a packet of a new SSRC over the bound is refused.
 *
 * Buffers given to the protect calls must have MSRTP_TRAILER bytes of room after the
 * packet. Owned by one thread (the session's worker).
 */
#ifndef TRUNX_MSRTP_H
#define TRUNX_MSRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media.h"

#define MSRTP_TRAILER 144   /**< libsrtp may write this much past the packet */
#define MSRTP_SSRC_MAX 16   /**< SSRCs (libsrtp streams) one context holds */

struct msrtp;

/** Outcome of an unprotect call. */
enum msrtp_result {
	MSRTP_OK = 0,
	MSRTP_AUTH,      /**< authentication failed (tampered, wrong key, not SRTP) */
	MSRTP_REPLAY,    /**< a packet already received, or older than the window */
	MSRTP_BAD,       /**< too short or otherwise unusable */
};

/**
 * Creates or updates a side's contexts from p (suite and keys). A context whose key
 * did not change is kept. p->suite NONE frees everything (*mp becomes NULL).
 * @return 0, EINVAL (bad suite), ENOMEM, EIO (libsrtp refused)
 */
int msrtp_set(struct msrtp **mp, const struct media_srtp_params *p);

void msrtp_destroy(struct msrtp *m);

/** Unprotects an SRTP (rtcp false) or SRTCP packet in place; *len shrinks. */
enum msrtp_result msrtp_unprotect(struct msrtp *m, bool rtcp, uint8_t *buf, size_t *len);

/**
 * Protects an RTP or RTCP packet in place; *len grows by the tag (and the SRTCP index).
 * @param cap  bytes available at buf (must leave MSRTP_TRAILER after *len)
 * @return 0, ENOSPC, EIO (too short, libsrtp refused, or a new SSRC over
 *         MSRTP_SSRC_MAX)
 */
int msrtp_protect(struct msrtp *m, bool rtcp, uint8_t *buf, size_t *len, size_t cap);

#endif
