/*
 * api_keycache.h — the control thread's own copy of API key lookups (api_keycache.c):
 * key hash -> principal (tenant, scopes), in front of the Redis cache and Postgres, so
 * that an authenticated read needs no round trip. Control thread only; pure (the clock
 * is given), so the rules below are unit-tested without a server.
 *
 * DESIGN
 * Only answers that let a key in are kept (never "unknown", "revoked" or "tenant
 * inactive": a key made a moment ago works at once), each for ttl_ms at most (a few
 * seconds, never longer than the Redis copy), capacity entries at most (the least
 * recently used goes). The copy is used only while it is "live": while this node's
 * subscription to the revocation channel is confirmed. Not live, every lookup misses
 * and nothing is stored (bypassed); a change of liveness empties it (revocations may
 * have been missed while the subscription was down). An invalidation (a revocation
 * published by any node, or made here) drops the entry and moves the epoch: a lookup
 * that started before it (and may have read the key's old state in Redis or Postgres)
 * does not store what it found.
 */
#ifndef TRUNX_API_KEYCACHE_H
#define TRUNX_API_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_int.h"

struct api_keycache;

#define API_KEYCACHE_HASH_LEN 64   /**< lowercase hex SHA-256 */

struct api_keycache_stats {
	uint64_t hits;           /**< answered from the copy */
	uint64_t misses;         /**< live, not there (or expired): asked Redis/Postgres */
	uint64_t bypassed;       /**< not live: asked Redis/Postgres */
	uint64_t invalidations;  /**< revocation messages and local revocations applied */
	uint64_t evictions;      /**< entries dropped to make room */
	uint64_t flushes;        /**< whole copy dropped (liveness changed, bad message) */
	size_t   entries;        /**< held now */
	bool     live;
};

/**
 * @param capacity  entries at most (>= 1)
 * @param ttl_ms    how long an entry is used; 0 = the copy is off (always bypassed)
 * @return 0, EINVAL, ENOMEM
 */
int api_keycache_create(struct api_keycache **kp, size_t capacity, uint64_t ttl_ms);
void api_keycache_destroy(struct api_keycache *k);

/** The subscription is confirmed (true) or not (false); a change empties the copy. */
void api_keycache_set_live(struct api_keycache *k, bool live);
bool api_keycache_live(const struct api_keycache *k);

/** Moves on every invalidation and flush: read it when a lookup starts. */
uint64_t api_keycache_epoch(const struct api_keycache *k);

/**
 * Looks a key hash up at now_ms (monotonic ms).
 * @return true with *out filled (a hit); false: ask Redis/Postgres
 */
bool api_keycache_get(struct api_keycache *k, const char *hash, uint64_t now_ms,
		      struct api_principal *out);

/**
 * Keeps what a lookup started at epoch found (p lets the key in) until now_ms + ttl.
 * Ignored when not live, or when an invalidation or flush came since epoch.
 */
void api_keycache_put(struct api_keycache *k, const char *hash, uint64_t epoch,
		      const struct api_principal *p, uint64_t now_ms);

/** Drops a key's entry (revoked or changed) and moves the epoch. */
void api_keycache_invalidate(struct api_keycache *k, const char *hash);

/**
 * A message from the revocation channel: a key hash (64 lowercase hex) drops that
 * entry; anything else empties the whole copy (better a miss than a stale key).
 */
void api_keycache_on_message(struct api_keycache *k, const char *payload, size_t len);

/** Drops every entry and moves the epoch. */
void api_keycache_flush(struct api_keycache *k);

void api_keycache_get_stats(const struct api_keycache *k, struct api_keycache_stats *s);

#endif
