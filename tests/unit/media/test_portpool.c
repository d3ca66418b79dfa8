/* test_portpool.c — the RTP port pool: rounding, pairs, FIFO reuse, exhaustion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>

#include "portpool.h"
#include "test_media.h"

static void test_range_rounding(void **state)
{
	struct portpool *p;
	uint16_t port;

	(void)state;
	assert_int_equal(portpool_create(&p, 10001, 10008), 0);   /* 10002..10008 */
	assert_int_equal(portpool_size(p), 3);                    /* 10002, 10004, 10006 */
	assert_int_equal(portpool_take(p, &port), 0);
	assert_int_equal(port, 10002);
	portpool_destroy(p);
	assert_int_equal(portpool_create(&p, 10001, 10002), EINVAL);  /* 10002 alone */
	assert_int_equal(portpool_create(&p, 0, 100), EINVAL);
	assert_int_equal(portpool_create(&p, 200, 100), EINVAL);
	assert_int_equal(portpool_create(&p, 65534, 65535), 0);
	assert_int_equal(portpool_size(p), 1);
	portpool_destroy(p);
}

static void test_exhaustion_and_fifo(void **state)
{
	struct portpool *p;
	uint16_t a, b, c, d;

	(void)state;
	assert_int_equal(portpool_create(&p, 20000, 20005), 0);
	assert_int_equal(portpool_free_count(p), 3);
	assert_int_equal(portpool_take(p, &a), 0);
	assert_int_equal(portpool_take(p, &b), 0);
	assert_int_equal(portpool_take(p, &c), 0);
	assert_int_equal(portpool_take(p, &d), EADDRINUSE);
	assert_int_equal(portpool_free_count(p), 0);
	portpool_put(p, b);
	portpool_put(p, b);          /* double put ignored */
	portpool_put(p, 20001);      /* odd: ignored */
	portpool_put(p, 30000);      /* outside: ignored */
	assert_int_equal(portpool_free_count(p), 1);
	portpool_put(p, a);
	assert_int_equal(portpool_take(p, &d), 0);
	assert_int_equal(d, b);      /* oldest free first */
	assert_int_equal(portpool_take(p, &d), 0);
	assert_int_equal(d, a);
	portpool_destroy(p);
}

struct churn {
	struct portpool *p;
	unsigned         ok;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;

	for (int i = 0; i < 20000; i++) {
		uint16_t port;

		if (portpool_take(c->p, &port) == 0) {
			c->ok++;
			portpool_put(c->p, port);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct churn c[4];
	pthread_t t[4];
	struct portpool *p;

	(void)state;
	assert_int_equal(portpool_create(&p, 30000, 30007), 0);
	for (int i = 0; i < 4; i++) {
		c[i].p = p;
		c[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(c[i].ok > 0);
	}
	assert_int_equal(portpool_free_count(p), 4);
	portpool_destroy(p);
}

int test_portpool_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_rounding),
		cmocka_unit_test(test_exhaustion_and_fifo),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests_name("portpool", tests, NULL, NULL);
}
