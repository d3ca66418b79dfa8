/*
 * guard_rate.c — per-source request rate limits: one token bucket per source address
 * (IP, not port), in a fixed table so that memory stays bounded whatever a flood of
 * forged source addresses does.
 *
 * The table is set-associative: an address hashes to a set of WAYS slots; a new
 * address takes a free slot of its set or the one least recently taken from. A bucket holds
 * up to burst * SCALE tokens, a request costs SCALE, and per_s tokens flow in per ms
 * (so per_s * SCALE / 1000 per ms: SCALE = 1000 keeps it exact in integers).
 */
#include "guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define WAYS  8
#define SCALE 1000u

struct bucket {
	uint8_t  addr[16];
	uint64_t tokens;    /**< SCALE per request */
	uint64_t seen_ms;   /**< last refill */
	uint64_t used;      /**< r->seq when last taken from (eviction order); 0 = free */
};

struct guard_rate {
	struct bucket *b;
	size_t         sets;
	unsigned       per_s;
	uint64_t       cap;   /**< burst * SCALE */
	uint64_t       seed;
	uint64_t       seq;   /**< takes so far */
};

int guard_rate_create(struct guard_rate **rp, size_t sources)
{
	struct guard_rate *r;
	size_t sets = 1;

	if (!rp || !sources)
		return EINVAL;
	while (sets * WAYS < sources)
		sets <<= 1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->b = calloc(sets * WAYS, sizeof(*r->b));
	if (!r->b) {
		free(r);
		return ENOMEM;
	}
	r->sets = sets;
	r->seed = guard_mix((uint64_t)(uintptr_t)r ^ 0x9e3779b97f4a7c15ull);
	*rp = r;
	return 0;
}

void guard_rate_destroy(struct guard_rate *r)
{
	if (!r)
		return;
	free(r->b);
	free(r);
}

void guard_rate_set(struct guard_rate *r, unsigned per_s, unsigned burst)
{
	if (!r)
		return;
	r->per_s = per_s;
	r->cap = (uint64_t)(burst ? burst : per_s) * SCALE;
	for (size_t i = 0; i < r->sets * WAYS; i++)
		if (r->b[i].tokens > r->cap)
			r->b[i].tokens = r->cap;
}

bool guard_rate_take(struct guard_rate *r, const struct sockaddr *src, uint64_t now_ms)
{
	uint8_t key[16];
	uint64_t h, w[2];
	struct bucket *set, *b = NULL, *old = NULL;

	if (!r || !r->per_s || !src || !guard_addr_key(src, key))
		return true;
	memcpy(w, key, 16);
	h = guard_mix(w[0] ^ r->seed) ^ guard_mix(w[1] + r->seed);
	set = &r->b[(h & (r->sets - 1)) * WAYS];
	for (size_t i = 0; i < WAYS; i++) {
		struct bucket *s = &set[i];

		if (s->used && memcmp(s->addr, key, 16) == 0) {
			b = s;
			break;
		}
		if (!old || s->used < old->used)
			old = s;
	}
	if (!b) {
		b = old;
		memcpy(b->addr, key, 16);
		b->tokens = r->cap;
		b->seen_ms = now_ms;
	} else if (now_ms > b->seen_ms) {
		uint64_t add = (now_ms - b->seen_ms) * r->per_s;

		b->tokens = add >= r->cap - b->tokens ? r->cap : b->tokens + add;
		b->seen_ms = now_ms;
	}
	b->used = ++r->seq;
	if (b->tokens < SCALE)
		return false;
	b->tokens -= SCALE;
	return true;
}
