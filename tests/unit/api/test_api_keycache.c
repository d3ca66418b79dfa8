/* test_api_keycache.c — the node's own copy of API key lookups (src/api/api_keycache.c):
 * bypassed while not live (nothing kept, nothing answered), emptied when liveness
 * changes; entries expire after the TTL; the least recently used is evicted when full;
 * an invalidation drops one entry and refuses what a lookup started before it found;
 * a revocation message that is not a key hash empties everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_keycache.h"

static void hash_of(unsigned n, char out[65])
{
	/* Distinct hashes that also share buckets: vary the tail and the head. */
	snprintf(out, 65, "%016x%048x", n % 4, n);
}

static struct api_principal who(const char *tenant, const char *scope)
{
	struct api_principal p;

	memset(&p, 0, sizeof(p));
	snprintf(p.tenant, sizeof(p.tenant), "%s", tenant);
	snprintf(p.key_id, sizeof(p.key_id), "key-%s", tenant);
	p.n_scopes = 1;
	snprintf(p.scopes[0], sizeof(p.scopes[0]), "%s", scope);
	return p;
}

static struct api_keycache *make(size_t cap, uint64_t ttl)
{
	struct api_keycache *k = NULL;

	assert_int_equal(api_keycache_create(&k, cap, ttl), 0);
	api_keycache_set_live(k, true);
	return k;
}

static void put(struct api_keycache *k, unsigned n, const char *tenant, uint64_t now)
{
	char h[65];
	struct api_principal p = who(tenant, "calls:read");

	hash_of(n, h);
	api_keycache_put(k, h, api_keycache_epoch(k), &p, now);
}

static bool has(struct api_keycache *k, unsigned n, uint64_t now, char *tenant_out)
{
	char h[65];
	struct api_principal p;

	hash_of(n, h);
	if (!api_keycache_get(k, h, now, &p))
		return false;
	if (tenant_out)
		strcpy(tenant_out, p.tenant);
	assert_false(p.authenticated);
	return true;
}

static void test_bad_args(void **state)
{
	struct api_keycache *k = NULL;

	(void)state;
	assert_int_equal(api_keycache_create(&k, 0, 1000), EINVAL);
	assert_int_equal(api_keycache_create(NULL, 1, 1000), EINVAL);
}

static void test_hit_and_ttl(void **state)
{
	struct api_keycache *k = make(16, 3000);
	struct api_keycache_stats st;
	char t[64];

	(void)state;
	assert_false(has(k, 1, 1000, NULL));
	put(k, 1, "acme", 1000);
	assert_true(has(k, 1, 1000, t));
	assert_string_equal(t, "acme");
	assert_true(has(k, 1, 3999, NULL));
	assert_false(has(k, 1, 4000, NULL));   /* expired: gone */
	assert_false(has(k, 1, 1000, NULL));   /* and not back for an earlier clock */
	api_keycache_get_stats(k, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.entries, 0);
	/* Put again refreshes the entry (and its value). */
	put(k, 1, "acme", 5000);
	put(k, 1, "bravo", 6000);
	assert_true(has(k, 1, 8999, t));
	assert_string_equal(t, "bravo");
	api_keycache_get_stats(k, &st);
	assert_int_equal(st.entries, 1);
	api_keycache_destroy(k);
}

static void test_bypass_when_not_live(void **state)
{
	struct api_keycache *k = NULL;
	struct api_keycache_stats st;

	(void)state;
	assert_int_equal(api_keycache_create(&k, 8, 5000), 0);
	/* Not live from the start: nothing kept, nothing answered. */
	put(k, 1, "acme", 0);
	assert_false(has(k, 1, 1, NULL));
	api_keycache_set_live(k, true);
	assert_false(has(k, 1, 1, NULL));
	put(k, 1, "acme", 1);
	put(k, 2, "acme", 1);
	assert_true(has(k, 1, 2, NULL));
	/* The subscription lost: every entry is dropped and bypassed. */
	api_keycache_set_live(k, false);
	assert_false(api_keycache_live(k));
	assert_false(has(k, 1, 3, NULL));
	put(k, 3, "acme", 3);
	/* Live again: empty (revocations may have been missed meanwhile). */
	api_keycache_set_live(k, true);
	assert_false(has(k, 1, 4, NULL));
	assert_false(has(k, 2, 4, NULL));
	assert_false(has(k, 3, 4, NULL));
	api_keycache_get_stats(k, &st);
	assert_int_equal(st.bypassed, 2);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.entries, 0);
	assert_true(st.flushes >= 2);
	api_keycache_destroy(k);
}

static void test_off(void **state)
{
	struct api_keycache *k = make(8, 0);

	(void)state;
	put(k, 1, "acme", 0);
	assert_false(has(k, 1, 0, NULL));
	api_keycache_destroy(k);
}

static void test_eviction_lru(void **state)
{
	struct api_keycache *k = make(4, 60000);
	struct api_keycache_stats st;

	(void)state;
	for (unsigned i = 1; i <= 4; i++)
		put(k, i, "acme", 0);
	assert_true(has(k, 1, 1, NULL));   /* 1 is now the most recent; 2 the oldest */
	put(k, 5, "acme", 2);
	assert_false(has(k, 2, 3, NULL));
	for (unsigned i = 1; i <= 5; i++)
		if (i != 2)
			assert_true(has(k, i, 3, NULL));
	/* Many more than it holds: never more than capacity, the newest kept. */
	for (unsigned i = 100; i < 1100; i++)
		put(k, i, "acme", 4);
	api_keycache_get_stats(k, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 1 + 1000);
	for (unsigned i = 1096; i < 1100; i++)
		assert_true(has(k, i, 5, NULL));
	assert_false(has(k, 1095, 5, NULL));
	api_keycache_destroy(k);
}

static void test_invalidate(void **state)
{
	struct api_keycache *k = make(64, 60000);
	struct api_principal p = who("acme", "calls:read");
	struct api_keycache_stats st;
	char h[65], h2[65];
	uint64_t before;

	(void)state;
	for (unsigned i = 0; i < 20; i++)
		put(k, i, "acme", 0);
	hash_of(7, h);
	api_keycache_invalidate(k, h);
	assert_false(has(k, 7, 1, NULL));
	for (unsigned i = 0; i < 20; i++)
		if (i != 7)
			assert_true(has(k, i, 1, NULL));
	/* A lookup that began before a revocation does not keep what it read. */
	hash_of(30, h2);
	before = api_keycache_epoch(k);
	api_keycache_on_message(k, h2, 64);       /* another node revoked key 30 */
	api_keycache_put(k, h2, before, &p, 2);
	assert_false(has(k, 30, 3, NULL));
	/* Nor does one that began before an unrelated revocation (simple and safe). */
	before = api_keycache_epoch(k);
	api_keycache_invalidate(k, h);
	api_keycache_put(k, h2, before, &p, 2);
	assert_false(has(k, 30, 3, NULL));
	/* One that began after it does. */
	api_keycache_put(k, h2, api_keycache_epoch(k), &p, 2);
	assert_true(has(k, 30, 3, NULL));
	/* A message that is not a hash (upper case, short, junk) empties everything. */
	api_keycache_on_message(k, "ABC", 3);
	assert_false(has(k, 0, 4, NULL));
	assert_false(has(k, 30, 4, NULL));
	put(k, 1, "acme", 5);
	put(k, 0xabc, "acme", 5);
	hash_of(0xabc, h);
	for (size_t i = 0; i < 64; i++)
		h[i] = (char)toupper((unsigned char)h[i]);
	api_keycache_on_message(k, h, 64);
	assert_false(has(k, 1, 6, NULL));
	assert_false(has(k, 0xabc, 6, NULL));
	api_keycache_on_message(k, NULL, 0);
	api_keycache_get_stats(k, &st);
	assert_int_equal(st.invalidations, 6);
	/* A lookup of something that is not a hash is bypassed, never matched. */
	assert_false(api_keycache_get(k, "nothex", 6, &p));
	api_keycache_destroy(k);
}

/* Entries added and dropped in every order keep the table consistent. */
static void test_churn(void **state)
{
	struct api_keycache *k = make(32, 1000);
	struct api_keycache_stats st;
	unsigned seed = 12345;
	char h[65];

	(void)state;
	for (unsigned round = 0; round < 20000; round++) {
		unsigned n, op;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % 64;
		op = (seed >> 20) % 4;
		hash_of(n, h);
		if (op == 0)
			api_keycache_invalidate(k, h);
		else if (op == 1)
			put(k, n, "acme", round / 10);
		else
			(void)has(k, n, round / 10, NULL);
		api_keycache_get_stats(k, &st);
		assert_true(st.entries <= 32);
	}
	api_keycache_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_hit_and_ttl),
		cmocka_unit_test(test_bypass_when_not_live),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_invalidate),
		cmocka_unit_test(test_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
