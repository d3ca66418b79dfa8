/* test_mq.c — the MPSC queue: order, bound, wake-up, many producers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "mq.h"
#include "test_base.h"

struct sink {
	uintptr_t seen[4096];
	size_t    n;
};

static void collect(void *msg, void *arg)
{
	struct sink *s = arg;

	s->seen[s->n++] = (uintptr_t)msg;
}

static void test_order_and_bound(void **state)
{
	struct sink s = {0};
	struct mq *q;
	struct pollfd p;

	(void)state;
	assert_int_equal(mq_create(&q, 4, collect, &s), 0);
	p.fd = mq_fd(q);
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 0), 0);
	for (uintptr_t i = 1; i <= 4; i++)
		assert_int_equal(mq_push(q, (void *)i), 0);
	assert_int_equal(mq_push(q, (void *)5), EAGAIN);
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(mq_drain(q), 4);
	assert_int_equal(poll(&p, 1, 0), 0);
	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(s.seen[i], i + 1);
	mq_destroy(q);
}

struct producer {
	struct mq *q;
	uintptr_t  base;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (uintptr_t i = 0; i < 1000; i++) {
		while (mq_push(p->q, (void *)(p->base + i)) == EAGAIN)
			;
	}
	return NULL;
}

static void test_many_producers(void **state)
{
	static struct sink s;
	struct producer pr[4];
	pthread_t th[4];
	struct mq *q;
	struct pollfd p;
	size_t last[4] = {0};

	(void)state;
	s.n = 0;
	assert_int_equal(mq_create(&q, 64, collect, &s), 0);
	for (int i = 0; i < 4; i++) {
		pr[i].q = q;
		pr[i].base = (uintptr_t)(i + 1) << 16;
		pthread_create(&th[i], NULL, produce, &pr[i]);
	}
	p.fd = mq_fd(q);
	p.events = POLLIN;
	while (s.n < 4000) {
		poll(&p, 1, 100);
		mq_drain(q);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(s.n, 4000);
	/* Each producer's messages arrive in its own order. */
	for (size_t i = 0; i < s.n; i++) {
		size_t who = (s.seen[i] >> 16) - 1;
		size_t seq = s.seen[i] & 0xffff;
		assert_true(who < 4);
		assert_int_equal(seq, last[who]);
		last[who]++;
	}
	mq_destroy(q);
}

int test_mq_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bound),
		cmocka_unit_test(test_many_producers),
	};
	return cmocka_run_group_tests_name("mq", tests, NULL, NULL);
}
