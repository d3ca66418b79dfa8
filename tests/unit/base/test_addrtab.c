/* test_addrtab.c — the counted address table: keys (IPv4, IPv6, mapped, prefixes),
 * caps, a full table, removal, growth, and random use at full load checked against a
 * plain model (many addresses sharing home cells and probe runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "addrtab.h"
#include "test_base.h"

#define SA(x) ((const struct sockaddr *)&(x))

static struct sockaddr_in v4(const char *ip, unsigned port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6 v6(const char *ip, unsigned port)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s.sin6_addr), 1);
	return s;
}

static void test_keys(void **state)
{
	struct sockaddr_in a = v4("192.0.2.7", 5060);
	struct sockaddr_in6 m = v6("::ffff:192.0.2.7", 9), h = v6("2001:db8:1:2:aa::1", 1);
	struct sockaddr_un u = {.sun_family = AF_UNIX};
	uint8_t ka[16], km[16], kh[16];
	static const uint8_t want_a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
					   192, 0, 2, 7};
	static const uint8_t want_h64[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2};
	static const uint8_t want_h20[16] = {0x20, 0x01, 0x00};

	(void)state;
	assert_int_equal(addrtab_key(SA(a), 128, ka), 0);
	assert_memory_equal(ka, want_a, 16);
	assert_int_equal(addrtab_key(SA(m), 64, km), 0);   /* mapped: the IPv4 whatever the prefix */
	assert_memory_equal(km, want_a, 16);
	assert_int_equal(addrtab_key(SA(h), 64, kh), 0);
	assert_memory_equal(kh, want_h64, 16);
	assert_int_equal(addrtab_key(SA(h), 20, kh), 0);   /* a prefix inside a byte */
	assert_memory_equal(kh, want_h20, 16);
	assert_int_equal(addrtab_key(SA(h), 128, kh), 0);
	assert_memory_equal(kh, &h.sin6_addr, 16);
	assert_int_equal(addrtab_key(SA(u), 128, kh), EAFNOSUPPORT);
	assert_int_equal(addrtab_key(NULL, 128, kh), EINVAL);
	assert_int_equal(addrtab_key(SA(a), 129, kh), EINVAL);
}

static void test_ipv4_ipv6(void **state)
{
	struct addrtab *t;
	struct sockaddr_in a = v4("10.0.0.1", 1), a2 = v4("10.0.0.1", 2), b = v4("10.0.0.2", 1);
	struct sockaddr_in6 am = v6("::ffff:10.0.0.1", 3);
	struct sockaddr_in6 x = v6("2001:db8::1", 1), y = v6("2001:db8::2", 1);
	struct sockaddr_in6 z = v6("2001:db8:0:1::1", 1);
	struct sockaddr_un u = {.sun_family = AF_UNIX};

	(void)state;
	assert_int_equal(addrtab_create(&t, 8, 128), 0);
	assert_int_equal(addrtab_add(t, SA(a), 0), 0);
	assert_int_equal(addrtab_add(t, SA(a2), 0), 0);    /* ports ignored */
	assert_int_equal(addrtab_add(t, SA(am), 0), 0);    /* the same IPv4, mapped */
	assert_int_equal(addrtab_count(t, SA(a)), 3);
	assert_int_equal(addrtab_count(t, SA(b)), 0);
	assert_int_equal(addrtab_add(t, SA(x), 0), 0);
	assert_int_equal(addrtab_add(t, SA(y), 0), 0);     /* /128: another address */
	assert_int_equal(addrtab_count(t, SA(x)), 1);
	assert_int_equal(addrtab_size(t), 3);
	assert_int_equal(addrtab_add(t, SA(u), 0), EAFNOSUPPORT);
	assert_int_equal(addrtab_del(t, SA(u)), EAFNOSUPPORT);
	assert_int_equal(addrtab_add(t, NULL, 0), EINVAL);
	assert_int_equal(addrtab_count(t, SA(u)), 0);
	assert_int_equal(addrtab_count(t, NULL), 0);
	assert_int_equal(addrtab_size(t), 3);
	addrtab_destroy(t);

	assert_int_equal(addrtab_create(&t, 8, 64), 0);
	assert_int_equal(addrtab_add(t, SA(x), 2), 0);
	assert_int_equal(addrtab_add(t, SA(y), 2), 0);     /* the same /64 */
	assert_int_equal(addrtab_add(t, SA(x), 2), EBUSY);
	assert_int_equal(addrtab_add(t, SA(z), 2), 0);     /* another /64 */
	assert_int_equal(addrtab_add(t, SA(a), 2), 0);     /* IPv4 untouched by the prefix */
	assert_int_equal(addrtab_count(t, SA(y)), 2);
	assert_int_equal(addrtab_size(t), 3);
	addrtab_destroy(t);
}

static void test_caps_and_full(void **state)
{
	struct addrtab *t;
	struct sockaddr_in a[5];
	char ip[32];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		a[i] = v4(ip, 1);
	}
	assert_int_equal(addrtab_create(&t, 4, 128), 0);
	assert_int_equal(addrtab_max(t), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(addrtab_add(t, SA(a[i]), 3), 0);
	assert_int_equal(addrtab_add(t, SA(a[4]), 3), ENOSPC);    /* full: no fifth address */
	assert_int_equal(addrtab_count(t, SA(a[4])), 0);
	assert_int_equal(addrtab_add(t, SA(a[0]), 3), 0);        /* a known one still counts */
	assert_int_equal(addrtab_add(t, SA(a[0]), 3), 0);
	assert_int_equal(addrtab_add(t, SA(a[0]), 3), EBUSY);    /* its own cap */
	assert_int_equal(addrtab_count(t, SA(a[0])), 3);
	assert_int_equal(addrtab_add(t, SA(a[0]), 4), 0);        /* the cap is the caller's */
	assert_int_equal(addrtab_size(t), 4);

	assert_int_equal(addrtab_del(t, SA(a[1])), 0);           /* count 1 -> gone */
	assert_int_equal(addrtab_del(t, SA(a[1])), ENOENT);
	assert_int_equal(addrtab_size(t), 3);
	assert_int_equal(addrtab_add(t, SA(a[4]), 3), 0);        /* room again */
	assert_int_equal(addrtab_add(t, SA(a[1]), 3), ENOSPC);
	for (int k = 0; k < 3; k++)
		assert_int_equal(addrtab_del(t, SA(a[0])), 0);
	assert_int_equal(addrtab_count(t, SA(a[0])), 1);         /* one of four left */
	assert_int_equal(addrtab_size(t), 4);

	assert_int_equal(addrtab_grow(t, 3), 0);                 /* not a shrink */
	assert_int_equal(addrtab_max(t), 4);
	assert_int_equal(addrtab_grow(t, 100), 0);
	assert_int_equal(addrtab_max(t), 100);
	assert_int_equal(addrtab_add(t, SA(a[1]), 3), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(addrtab_count(t, SA(a[i])), 1);
	assert_int_equal(addrtab_size(t), 5);
	addrtab_destroy(t);

	assert_int_equal(addrtab_create(&t, 0, 128), EINVAL);
	assert_int_equal(addrtab_create(&t, 4, 129), EINVAL);
	assert_int_equal(addrtab_create(NULL, 4, 128), EINVAL);
	assert_int_equal(addrtab_create(&t, ((size_t)1 << 30) + 1, 128), EINVAL);
	assert_int_equal(addrtab_add(NULL, SA(a[0]), 0), EINVAL);
	assert_int_equal(addrtab_del(NULL, SA(a[0])), EINVAL);
	assert_int_equal(addrtab_grow(NULL, 8), EINVAL);
	assert_int_equal(addrtab_count(NULL, SA(a[0])), 0);
	assert_int_equal(addrtab_size(NULL), 0);
	addrtab_destroy(NULL);
}

/* 8 addresses in 16 cells: home cells shared and probe runs crossing the end of the
 * array all the time; every operation checked against the model. */
#define POOL 48
#define MAXA 8

static struct sockaddr_storage pool_addr(unsigned k)
{
	struct sockaddr_storage s;
	char ip[64];

	memset(&s, 0, sizeof(s));
	if (k % 2) {
		snprintf(ip, sizeof(ip), "2001:db8:%x::%x", k, k * 7);
		*(struct sockaddr_in6 *)&s = v6(ip, k);
	} else {
		snprintf(ip, sizeof(ip), "203.0.113.%u", k);
		*(struct sockaddr_in *)&s = v4(ip, k);
	}
	return s;
}

static void test_model(void **state)
{
	struct sockaddr_storage pool[POOL];
	unsigned model[POOL] = {0}, distinct = 0, cap = 3;
	uint64_t rng = 0x853c49e6748fea9bull;
	struct addrtab *t;
	unsigned full = 0, busy = 0, gone = 0;

	(void)state;
	for (unsigned k = 0; k < POOL; k++)
		pool[k] = pool_addr(k);
	assert_int_equal(addrtab_create(&t, MAXA, 128), 0);
	for (int op = 0; op < 40000; op++) {
		unsigned k, r;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		r = (unsigned)(rng >> 33);
		k = r % POOL;
		if ((r >> 8) % 2) {
			int e = addrtab_add(t, SA(pool[k]), cap), want = 0;

			if (model[k] >= cap)
				want = EBUSY;
			else if (!model[k] && distinct >= MAXA)
				want = ENOSPC;
			assert_int_equal(e, want);
			if (!want) {
				distinct += !model[k];
				model[k]++;
			}
			full += want == ENOSPC;
			busy += want == EBUSY;
		} else {
			int e = addrtab_del(t, SA(pool[k]));

			assert_int_equal(e, model[k] ? 0 : ENOENT);
			if (model[k] && !--model[k]) {
				distinct--;
				gone++;
			}
		}
		for (unsigned j = 0; j < POOL; j++)
			assert_int_equal(addrtab_count(t, SA(pool[j])), model[j]);
		assert_int_equal(addrtab_size(t), distinct);
	}
	/* The run went through a full table, capped addresses and removals. */
	assert_true(full > 1000 && busy > 100 && gone > 1000);
	assert_int_equal(addrtab_grow(t, 40), 0);
	for (unsigned j = 0; j < POOL; j++)
		assert_int_equal(addrtab_count(t, SA(pool[j])), model[j]);
	addrtab_destroy(t);
}

int test_addrtab_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_ipv4_ipv6),
		cmocka_unit_test(test_caps_and_full),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests_name("addrtab", tests, NULL, NULL);
}
