/*
 * portpool.h — the RTP port range as a pool of RTP/RTCP pairs (even RTP port,
 * RTCP = RTP + 1).
 *
 * Thread-safe: pairs are taken on the thread that creates sessions and given back by
 * the media worker that closed them. Free pairs are handed out oldest-first (FIFO), so
 * a pair just released is reused as late as possible and stray packets of a finished
 * call rarely reach the next one.
 */
#ifndef TRUNX_PORTPOOL_H
#define TRUNX_PORTPOOL_H

#include <stdint.h>

struct portpool;

/**
 * Creates a pool over [port_min, port_max]: port_min is rounded up to even, and a pair
 * is included only when both its ports are in the range.
 * @return 0, EINVAL (no whole pair in the range) or ENOMEM
 */
int portpool_create(struct portpool **pp, uint16_t port_min, uint16_t port_max);

void portpool_destroy(struct portpool *p);

/**
 * Takes the oldest free pair.
 * @param portp  receives its RTP port
 * @return 0 or EADDRINUSE when every pair is in use
 */
int portpool_take(struct portpool *p, uint16_t *portp);

/** Returns a pair taken earlier; a port outside the pool or already free is ignored. */
void portpool_put(struct portpool *p, uint16_t port);

/** Free pairs right now (any thread; a snapshot). */
unsigned portpool_free_count(struct portpool *p);

/** Pairs in the pool. */
unsigned portpool_size(const struct portpool *p);

#endif
