/*
 * api_keycache.c — the control thread's copy of API key lookups (see api_keycache.h):
 * a fixed table of entries, chained by bucket (the key hash is already uniform: its
 * first 16 hex digits pick the bucket), a least-recently-used list for eviction and a
 * free list. Nothing is allocated after create.
 */
#include "api/api_keycache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NIL (-1)

struct entry {
	char                 hash[API_KEYCACHE_HASH_LEN + 1];
	struct api_principal who;
	uint64_t             expires_ms;
	int32_t              chain;        /**< next in bucket, or in the free list */
	int32_t              older, newer; /**< LRU list */
};

struct api_keycache {
	struct entry *e;
	size_t        cap;
	int32_t      *bucket;
	size_t        n_buckets;           /**< a power of two */
	int32_t       free_head;
	int32_t       newest, oldest;
	uint64_t      ttl_ms;
	uint64_t      epoch;
	bool          live;
	struct api_keycache_stats st;
};

static bool is_hash(const char *s, size_t len)
{
	if (len != API_KEYCACHE_HASH_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static size_t bucket_of(const struct api_keycache *k, const char *hash)
{
	uint64_t h = 0;

	for (int i = 0; i < 16 && hash[i]; i++)
		h = h * 16 + (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 0x20) - 'a' + 10);
	return (size_t)(h & (k->n_buckets - 1));
}

int api_keycache_create(struct api_keycache **kp, size_t capacity, uint64_t ttl_ms)
{
	struct api_keycache *k;

	if (!kp || capacity < 1 || capacity > (1u << 24))
		return EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return ENOMEM;
	k->cap = capacity;
	k->ttl_ms = ttl_ms;
	k->n_buckets = 1;
	while (k->n_buckets < capacity * 2)
		k->n_buckets <<= 1;
	k->e = calloc(capacity, sizeof(*k->e));
	k->bucket = malloc(k->n_buckets * sizeof(*k->bucket));
	if (!k->e || !k->bucket) {
		api_keycache_destroy(k);
		return ENOMEM;
	}
	k->live = false;
	k->st.flushes = 0;
	api_keycache_flush(k);
	k->epoch = 0;
	k->st.flushes = 0;
	*kp = k;
	return 0;
}

void api_keycache_destroy(struct api_keycache *k)
{
	if (!k)
		return;
	free(k->e);
	free(k->bucket);
	free(k);
}

void api_keycache_flush(struct api_keycache *k)
{
	for (size_t i = 0; i < k->n_buckets; i++)
		k->bucket[i] = NIL;
	for (size_t i = 0; i < k->cap; i++) {
		k->e[i].hash[0] = '\0';
		k->e[i].chain = i + 1 < k->cap ? (int32_t)(i + 1) : NIL;
	}
	k->free_head = 0;
	k->newest = k->oldest = NIL;
	k->st.entries = 0;
	k->st.flushes++;
	k->epoch++;
}

void api_keycache_set_live(struct api_keycache *k, bool live)
{
	if (k->live == live)
		return;
	k->live = live;
	api_keycache_flush(k);
}

bool api_keycache_live(const struct api_keycache *k)
{
	return k->live;
}

uint64_t api_keycache_epoch(const struct api_keycache *k)
{
	return k->epoch;
}

static void lru_unlink(struct api_keycache *k, int32_t i)
{
	struct entry *e = &k->e[i];

	if (e->older != NIL)
		k->e[e->older].newer = e->newer;
	else
		k->oldest = e->newer;
	if (e->newer != NIL)
		k->e[e->newer].older = e->older;
	else
		k->newest = e->older;
	e->older = e->newer = NIL;
}

static void lru_push(struct api_keycache *k, int32_t i)
{
	struct entry *e = &k->e[i];

	e->older = k->newest;
	e->newer = NIL;
	if (k->newest != NIL)
		k->e[k->newest].newer = i;
	k->newest = i;
	if (k->oldest == NIL)
		k->oldest = i;
}

/* The entry's index and the link that points at it, or NIL. */
static int32_t find(struct api_keycache *k, const char *hash, int32_t **link)
{
	int32_t *l = &k->bucket[bucket_of(k, hash)];

	while (*l != NIL) {
		if (memcmp(k->e[*l].hash, hash, API_KEYCACHE_HASH_LEN) == 0) {
			if (link)
				*link = l;
			return *l;
		}
		l = &k->e[*l].chain;
	}
	return NIL;
}

static void drop(struct api_keycache *k, const char *hash)
{
	int32_t *link = NULL, i = find(k, hash, &link);

	if (i == NIL)
		return;
	*link = k->e[i].chain;
	lru_unlink(k, i);
	memset(&k->e[i], 0, sizeof(k->e[i]));
	k->e[i].chain = k->free_head;
	k->free_head = i;
	k->st.entries--;
}

bool api_keycache_get(struct api_keycache *k, const char *hash, uint64_t now_ms,
		      struct api_principal *out)
{
	int32_t i;

	if (!k->live || !k->ttl_ms || !is_hash(hash, strlen(hash))) {
		k->st.bypassed++;
		return false;
	}
	i = find(k, hash, NULL);
	if (i == NIL || k->e[i].expires_ms <= now_ms) {
		if (i != NIL)
			drop(k, hash);
		k->st.misses++;
		return false;
	}
	lru_unlink(k, i);
	lru_push(k, i);
	*out = k->e[i].who;
	k->st.hits++;
	return true;
}

void api_keycache_put(struct api_keycache *k, const char *hash, uint64_t epoch,
		      const struct api_principal *p, uint64_t now_ms)
{
	int32_t i;

	if (!k->live || !k->ttl_ms || epoch != k->epoch || !is_hash(hash, strlen(hash)))
		return;
	drop(k, hash);
	if (k->free_head == NIL) {   /* full: the least recently used goes */
		drop(k, k->e[k->oldest].hash);
		k->st.evictions++;
	}
	i = k->free_head;
	k->free_head = k->e[i].chain;
	memcpy(k->e[i].hash, hash, API_KEYCACHE_HASH_LEN + 1);
	k->e[i].who = *p;
	k->e[i].who.authenticated = false;
	k->e[i].expires_ms = now_ms + k->ttl_ms;
	{
		size_t b = bucket_of(k, hash);

		k->e[i].chain = k->bucket[b];
		k->bucket[b] = i;
	}
	lru_push(k, i);
	k->st.entries++;
}

void api_keycache_invalidate(struct api_keycache *k, const char *hash)
{
	k->st.invalidations++;
	k->epoch++;
	if (is_hash(hash, strlen(hash)))
		drop(k, hash);
	else
		api_keycache_flush(k);
}

void api_keycache_on_message(struct api_keycache *k, const char *payload, size_t len)
{
	char h[API_KEYCACHE_HASH_LEN + 1];

	if (!payload || !is_hash(payload, len)) {
		k->st.invalidations++;
		api_keycache_flush(k);
		return;
	}
	memcpy(h, payload, len);
	h[len] = '\0';
	api_keycache_invalidate(k, h);
}

void api_keycache_get_stats(const struct api_keycache *k, struct api_keycache_stats *s)
{
	*s = k->st;
	s->live = k->live;
}
