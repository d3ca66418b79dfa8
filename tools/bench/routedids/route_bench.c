/*
 * route_bench.c — trunx-route-bench: the routing snapshot's DID table under N numbers.
 * Prints one JSON object: the table's size (its own accounting and the process's RSS
 * growth), the build time, lookups per second and ns per lookup (hits and misses, the
 * median of R rounds), route_decide() for a call to a DID (the whole inbound decision),
 * one number changed through a layered table (what a DID INSERT costs with N loaded:
 * the base shared, the changes copied) with no change pending and with N/256 pending
 * (the most before a fold), the lookup through such a layered table, the fold of those
 * changes into a new base, and as references measured in the same run: binary search
 * over a sorted array of the same keys (the simplest table one could use instead) and
 * the copy-and-change of the whole table (what a DID INSERT cost before layering).
 *
 *   trunx-route-bench [N (1000000)] [ROUNDS (7)] [LOOKUPS per round (2000000)]
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The i-th number: +1 NPA NXX XXXX spread over the North American plan. */
static void number(uint64_t i, char *out)
{
	snprintf(out, 17, "+1%03" PRIu64 "%07" PRIu64, 200 + (i / 10000000) % 800,
		 (i * 7919) % 10000000);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	size_t lookups = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000000;
	struct route_dids *d, *copy, *lay;
	struct route_table *rt;
	struct trunk_cfg tc;
	struct tenant_cfg ten;
	uint64_t *keys = malloc(n * sizeof(*keys));
	char (*probe)[17] = malloc(lookups * 17);
	double t0, build_s, *hit = calloc((size_t)rounds, sizeof(double)),
	       *ref = calloc((size_t)rounds, sizeof(double)), *dec = calloc((size_t)rounds, sizeof(double));
	long rss0, rss1;
	const struct trunk *carrier;
	char own[1000][17];
	volatile size_t sink = 0;
	double copy_s, *layhit = calloc((size_t)rounds, sizeof(double)), derive0_ms[15],
	       derive_ms[15], fold_s;
	size_t pending = n / 256 > 64 ? n / 256 : 64;

	if (!keys || !probe || !hit || !ref || !dec || !layhit || rounds < 1 || n < 1)
		return 1;
	rss0 = rss_kb();
	t0 = now_s();
	if (route_dids_create(&d, n))
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct did_cfg c;

		memset(&c, 0, sizeof(c));
		number(i, c.number);
		snprintf(c.tenant, sizeof(c.tenant), "tenant%zu", i % 500);
		snprintf(c.peer_id, sizeof(c.peer_id), "peer-%zu", i % 500);
		snprintf(c.trunk_id, sizeof(c.trunk_id), "carrier-%zu", i % 8);
		c.active = true;
		if (route_dids_put(d, &c))
			return 1;
		keys[i] = strtoull(c.number + 1, NULL, 10);
	}
	route_dids_freeze(d);
	build_s = now_s() - t0;
	rss1 = rss_kb();
	/* Probes: half numbers of the table, half not (a different NPA range). */
	for (size_t i = 0; i < lookups; i++) {
		uint64_t r = next();

		if (r & 1)
			number(r % n, probe[i]);
		else
			snprintf(probe[i], 17, "+44%09" PRIu64, (uint64_t)(r % 1000000000u));
	}
	qsort(keys, n, sizeof(*keys), cmp_u64);
	/* A snapshot around it: one carrier, one tenant, its peer. */
	route_table_create(&rt);
	memset(&tc, 0, sizeof(tc));
	snprintf(tc.name, sizeof(tc.name), "carrier");
	snprintf(tc.id, sizeof(tc.id), "carrier-0");
	tc.kind = TRUNK_KIND_CARRIER;
	tc.min_se = 90;
	{
		struct sockaddr_in *a = (struct sockaddr_in *)&tc.cidrs[0].addr;

		a->sin_family = AF_INET;
		inet_pton(AF_INET, "10.0.0.1", &a->sin_addr);
		tc.cidrs[0].bits = 32;
		tc.n_cidrs = 1;
	}
	route_table_add_trunk(rt, &tc, NULL, 0);
	memset(&tc, 0, sizeof(tc));
	snprintf(tc.name, sizeof(tc.name), "pbx");
	snprintf(tc.id, sizeof(tc.id), "peer-0");
	snprintf(tc.tenant, sizeof(tc.tenant), "tenant0");
	snprintf(tc.uri, sizeof(tc.uri), "sip:10.0.0.9:5060");
	tc.kind = TRUNK_KIND_PEER;
	tc.dial_format = DIAL_PLUS_E164;
	route_table_add_trunk(rt, &tc, NULL, 0);
	memset(&ten, 0, sizeof(ten));
	snprintf(ten.id, sizeof(ten.id), "tenant0");
	ten.active = ten.configured = true;
	ten.max_calls = -1;
	route_table_add_tenant(rt, &ten, NULL, 0);
	route_table_set_dids(rt, d);
	route_table_freeze(rt);
	carrier = route_table_trunk_by_name(rt, "carrier");
	/* A layered table with the most changes a fold lets pend: half replaced numbers of
	 * the table, a quarter new, a quarter deleted (spread over it). */
	if (route_dids_derive(&lay, d))
		return 1;
	for (size_t i = 0; i < pending; i++) {
		struct did_cfg c;
		size_t at = (i * 7919 + 13) % n;

		memset(&c, 0, sizeof(c));
		number(at, c.number);
		snprintf(c.tenant, sizeof(c.tenant), "tenant%zu", at % 500);
		snprintf(c.peer_id, sizeof(c.peer_id), "peer-%zu", (at + 1) % 500);
		c.active = true;
		if (i % 4 == 2)
			snprintf(c.number, sizeof(c.number), "+1999%07u", (unsigned)(i % 10000000));
		if (i % 4 == 3)
			route_dids_del(lay, c.number);
		else if (route_dids_put(lay, &c))
			return 1;
	}
	route_dids_freeze(lay);
	for (size_t i = 0; i < 1000; i++)
		number((i * 500) % n, own[i]);
	for (int r = 0; r < rounds; r++) {
		struct did_view v;
		size_t found = 0;

		t0 = now_s();
		for (size_t i = 0; i < lookups; i++)
			found += route_dids_get(d, probe[i], &v);
		hit[r] = (now_s() - t0) / (double)lookups * 1e9;
		sink += found;
		t0 = now_s();
		for (size_t i = 0; i < lookups; i++)
			found += route_dids_get(lay, probe[i], &v);
		layhit[r] = (now_s() - t0) / (double)lookups * 1e9;
		sink += found;
		t0 = now_s();
		for (size_t i = 0; i < lookups; i++) {
			uint64_t k = strtoull(probe[i] + 1, NULL, 10);

			found += bsearch(&k, keys, n, sizeof(*keys), cmp_u64) != NULL;
		}
		ref[r] = (now_s() - t0) / (double)lookups * 1e9;
		sink += found;
		t0 = now_s();
		for (size_t i = 0; i < lookups / 10; i++) {
			struct route_decision dd;

			/* tenant0's numbers: every 500th */
			route_decide(rt, carrier, own[i % 1000] + 1, "15551230000", i, NULL, NULL,
				     &dd);
			sink += dd.n_targets;
		}
		dec[r] = (now_s() - t0) / (double)(lookups / 10) * 1e9;
	}
	/* One DID changed with N loaded: copy, change, freeze (what trunxd does). */
	t0 = now_s();
	for (int r = 0; r < 3; r++) {
		struct did_cfg c;

		memset(&c, 0, sizeof(c));
		snprintf(c.number, sizeof(c.number), "+19990000%03d", r);
		snprintf(c.tenant, sizeof(c.tenant), "tenant1");
		c.active = true;
		route_dids_copy(&copy, d);
		route_dids_put(copy, &c);
		route_dids_freeze(copy);
		route_dids_unref(copy);
	}
	copy_s = (now_s() - t0) / 3;
	/* The same through a layered table: over the plain table, and over `lay`. */
	for (int r = 0; r < 15; r++) {
		for (int k = 0; k < 2; k++) {
			struct did_cfg c;

			memset(&c, 0, sizeof(c));
			snprintf(c.number, sizeof(c.number), "+19980000%03d", r);
			snprintf(c.tenant, sizeof(c.tenant), "tenant1");
			c.active = true;
			t0 = now_s();
			if (route_dids_derive(&copy, k ? lay : d))
				return 1;
			route_dids_put(copy, &c);
			route_dids_freeze(copy);
			route_dids_unref(copy);
			(k ? derive_ms : derive0_ms)[r] = (now_s() - t0) * 1000;
		}
	}
	/* The fold of `lay`'s changes into a new base (a builder thread's work). */
	t0 = now_s();
	if (route_dids_copy(&copy, lay))
		return 1;
	route_dids_freeze(copy);
	fold_s = now_s() - t0;
	if (route_dids_count(copy) != route_dids_count(lay))
		return 1;
	route_dids_unref(copy);
	printf("{\"dids\":%zu,\"table_bytes\":%zu,\"rss_growth_kb\":%ld,\"build_s\":%.3f,"
	       "\"lookup_ns_median\":%.1f,\"bsearch_ns_median\":%.1f,\"decide_ns_median\":%.1f,"
	       "\"copy_change_ms\":%.1f,\"layered_changes\":%zu,\"layered_bytes\":%zu,"
	       "\"lookup_layered_ns_median\":%.1f,\"derive_change_ms_median\":%.3f,"
	       "\"derive_change_full_ms_median\":%.3f,\"fold_ms\":%.1f,"
	       "\"rounds\":%d,\"lookups\":%zu,\"sink\":%zu}\n",
	       route_dids_count(d), route_dids_bytes(d), rss1 - rss0, build_s,
	       median(hit, rounds), median(ref, rounds), median(dec, rounds), copy_s * 1000,
	       route_dids_changes(lay), route_dids_bytes(lay) - route_dids_bytes(d),
	       median(layhit, rounds), median(derive0_ms, 15), median(derive_ms, 15),
	       fold_s * 1000, rounds, lookups, (size_t)sink);
	route_dids_unref(lay);
	free(layhit);
	route_table_unref(rt);
	route_dids_unref(d);
	free(keys);
	free(probe);
	free(hit);
	free(ref);
	free(dec);
	return 0;
}
