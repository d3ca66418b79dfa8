/* test_api_conns.c — the API's connections per source: the per-source cap, IPv6 /64
 * grouping, the distinct-source cap, and removal that keeps every other source findable
 * (backward-shift deletion under heavy collisions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "api/api_conns.h"

static struct sockaddr_in v4(uint32_t host)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(host);
	s.sin_port = htons((uint16_t)(1024 + host % 5000));   /* ports never matter */
	return s;
}

static struct sockaddr_in6 v6(const char *text)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &s.sin6_addr), 1);
	return s;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_per_source_cap(void **state)
{
	struct api_conns *c;
	struct sockaddr_in a = v4(0x7f000001), b = v4(0x7f000002);

	(void)state;
	assert_int_equal(api_conns_create(&c, 16, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(api_conns_add(c, SA(a)), 0);
	assert_int_equal(api_conns_add(c, SA(a)), EBUSY);
	assert_int_equal(api_conns_of(c, SA(a)), 3);
	/* Another source is not affected. */
	assert_int_equal(api_conns_add(c, SA(b)), 0);
	assert_int_equal(api_conns_sources(c), 2);
	/* One closes: room again; all close: the source is forgotten. */
	api_conns_remove(c, SA(a));
	assert_int_equal(api_conns_add(c, SA(a)), 0);
	for (int i = 0; i < 3; i++)
		api_conns_remove(c, SA(a));
	assert_int_equal(api_conns_of(c, SA(a)), 0);
	assert_int_equal(api_conns_sources(c), 1);
	/* Removing what is not there changes nothing. */
	api_conns_remove(c, SA(a));
	assert_int_equal(api_conns_of(c, SA(b)), 1);
	api_conns_destroy(c);
}

static void test_ipv6_by_64(void **state)
{
	struct api_conns *c;
	struct sockaddr_in6 x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff:1:2:3");
	struct sockaddr_in6 other = v6("2001:db8:1:3::1");
	struct sockaddr_in6 mapped = v6("::ffff:127.0.0.1");
	struct sockaddr_in plain = v4(0x7f000001);

	(void)state;
	assert_int_equal(api_conns_create(&c, 16, 2), 0);
	assert_int_equal(api_conns_add(c, SA(x)), 0);
	assert_int_equal(api_conns_add(c, SA(y)), 0);      /* same /64 */
	assert_int_equal(api_conns_add(c, SA(x)), EBUSY);
	assert_int_equal(api_conns_add(c, SA(other)), 0);  /* another /64 */
	/* A v4-mapped peer is that IPv4 host, not a /64. */
	assert_int_equal(api_conns_add(c, SA(plain)), 0);
	assert_int_equal(api_conns_add(c, SA(mapped)), 0);
	assert_int_equal(api_conns_add(c, SA(plain)), EBUSY);
	assert_int_equal(api_conns_sources(c), 3);
	api_conns_destroy(c);
}

static void test_other_families_not_counted(void **state)
{
	struct api_conns *c;
	struct sockaddr_un u;

	(void)state;
	memset(&u, 0, sizeof(u));
	u.sun_family = AF_UNIX;
	assert_int_equal(api_conns_create(&c, 16, 1), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(api_conns_add(c, SA(u)), 0);
	assert_int_equal(api_conns_sources(c), 0);
	assert_int_equal(api_conns_add(c, NULL), 0);
	api_conns_remove(c, NULL);
	api_conns_destroy(c);
	assert_int_equal(api_conns_create(&c, 0, 1), EINVAL);
	assert_int_equal(api_conns_create(&c, 1, 0), EINVAL);
	api_conns_destroy(NULL);
}

static void test_distinct_source_cap(void **state)
{
	struct api_conns *c;

	(void)state;
	assert_int_equal(api_conns_create(&c, 100, 5), 0);
	for (uint32_t i = 0; i < 100; i++) {
		struct sockaddr_in s = v4(0x0a000000 + i);

		assert_int_equal(api_conns_add(c, SA(s)), 0);
	}
	{
		struct sockaddr_in s = v4(0x0b000000);

		assert_int_equal(api_conns_add(c, SA(s)), ENOSPC);
	}
	api_conns_destroy(c);
}

/* Many sources added and removed in a pseudo-random order against a plain array
 * model: every count stays exact, so no removal ever hides another source. */
static void test_churn_matches_model(void **state)
{
	enum { SOURCES = 700, STEPS = 200000 };
	static unsigned model[SOURCES];
	struct api_conns *c;
	uint32_t rnd = 12345;

	(void)state;
	memset(model, 0, sizeof(model));
	assert_int_equal(api_conns_create(&c, SOURCES, 4), 0);
	for (int step = 0; step < STEPS; step++) {
		unsigned i;
		struct sockaddr_in s;

		rnd = rnd * 1103515245u + 12345u;
		i = (rnd >> 8) % SOURCES;
		s = v4(0xc0a80000 + i * 7919u);
		if ((rnd >> 4) & 1) {
			int e = api_conns_add(c, SA(s));

			if (model[i] < 4) {
				assert_int_equal(e, 0);
				model[i]++;
			} else {
				assert_int_equal(e, EBUSY);
			}
		} else {
			api_conns_remove(c, SA(s));
			if (model[i])
				model[i]--;
		}
		if (step % 997 == 0) {
			unsigned n = 0;

			for (unsigned k = 0; k < SOURCES; k++) {
				struct sockaddr_in t = v4(0xc0a80000 + k * 7919u);

				assert_int_equal(api_conns_of(c, SA(t)), model[k]);
				n += model[k] != 0;
			}
			assert_int_equal(api_conns_sources(c), n);
		}
	}
	api_conns_destroy(c);
}

/* The key failed authentications are counted by: an IPv6 source's /64, an IPv4
 * address (also written IPv4-mapped) as itself. */
static void test_source_key(void **state)
{
	char a[64], b[64];

	(void)state;
	api_source_key("2001:db8:1:2::1", a, sizeof(a));
	api_source_key("2001:db8:1:2:ffff:ffff:ffff:fffe", b, sizeof(b));
	assert_string_equal(a, "2001:db8:1:2::/64");
	assert_string_equal(a, b);
	api_source_key("2001:db8:1:3::1", b, sizeof(b));
	assert_string_not_equal(a, b);
	api_source_key("::1", a, sizeof(a));
	assert_string_equal(a, "::/64");
	api_source_key("127.0.0.9", a, sizeof(a));
	assert_string_equal(a, "127.0.0.9");
	api_source_key("::ffff:127.0.0.9", b, sizeof(b));
	assert_string_equal(b, "127.0.0.9");
	api_source_key("127.0.0.10", b, sizeof(b));
	assert_string_not_equal(a, b);
	api_source_key("unix", a, sizeof(a));
	assert_string_equal(a, "unix");
	api_source_key(NULL, a, sizeof(a));
	assert_string_equal(a, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_source_cap),
		cmocka_unit_test(test_ipv6_by_64),
		cmocka_unit_test(test_other_families_not_counted),
		cmocka_unit_test(test_distinct_source_cap),
		cmocka_unit_test(test_churn_matches_model),
		cmocka_unit_test(test_source_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
