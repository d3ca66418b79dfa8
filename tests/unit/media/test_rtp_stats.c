/* test_rtp_stats.c — RFC 3550 A.1/A.3/A.8 statistics: probation, loss, wrap,
 * reordering, duplicates, resync after a jump, fraction lost and jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "rtp_stats.h"
#include "test_media.h"

/* Feeds seq with ts = 160 * i and arrival = 160 * i (no jitter). */
static void feed(struct rtp_stats *s, uint16_t seq, uint32_t i)
{
	(void)rtp_stats_update(s, seq, 160 * i, 160 * i + 5000);
}

static void test_probation_and_sequence(void **state)
{
	struct rtp_stats s;

	(void)state;
	rtp_stats_init(&s);
	assert_false(rtp_stats_update(&s, 100, 0, 0));   /* first: on probation */
	assert_int_equal(rtp_stats_expected(&s), 0);
	assert_true(rtp_stats_update(&s, 101, 160, 160));
	for (uint16_t q = 102; q < 200; q++)
		assert_true(rtp_stats_update(&s, q, 160u * (q - 100), 160u * (q - 100)));
	assert_int_equal(s.received, 99);
	assert_int_equal(rtp_stats_expected(&s), 99);
	assert_int_equal(rtp_stats_lost(&s), 0);
	assert_int_equal(rtp_stats_ext_max(&s), 199);
	assert_int_equal(rtp_stats_jitter(&s), 0);
}

static void test_probation_restarts(void **state)
{
	struct rtp_stats s;

	(void)state;
	rtp_stats_init(&s);
	assert_false(rtp_stats_update(&s, 10, 0, 0));
	assert_false(rtp_stats_update(&s, 500, 0, 0));   /* not in sequence: restart */
	assert_true(rtp_stats_update(&s, 501, 0, 0));
	assert_int_equal(s.base_seq, 501);
}

static void test_loss_from_gaps(void **state)
{
	struct rtp_stats s;
	uint32_t i = 0;

	(void)state;
	rtp_stats_init(&s);
	for (uint16_t q = 1000; q < 1100; q++, i++) {
		if (q == 1010 || (q >= 1020 && q <= 1022))
			continue;
		feed(&s, q, i);
	}
	assert_int_equal(rtp_stats_lost(&s), 4);
	assert_int_equal(rtp_stats_expected(&s), 99);
}

static void test_wrap(void **state)
{
	struct rtp_stats s;
	uint16_t q = 65530;

	(void)state;
	rtp_stats_init(&s);
	for (uint32_t i = 0; i < 20; i++, q++)
		feed(&s, q, i);
	assert_int_equal(s.cycles, 65536);
	assert_int_equal(rtp_stats_ext_max(&s), 65536u + 13);
	assert_int_equal(rtp_stats_lost(&s), 0);
	assert_int_equal(rtp_stats_expected(&s), 19);
}

static void test_reorder_and_duplicates(void **state)
{
	struct rtp_stats s;
	const uint16_t order[] = {1, 2, 3, 5, 4, 6, 8, 7, 9, 10};

	(void)state;
	rtp_stats_init(&s);
	for (uint32_t i = 0; i < 10; i++)
		feed(&s, order[i], i);
	assert_int_equal(rtp_stats_lost(&s), 0);
	assert_int_equal(rtp_stats_ext_max(&s), 10);
	feed(&s, 10, 11);   /* duplicate */
	feed(&s, 9, 12);
	assert_int_equal(rtp_stats_lost(&s), -2);
}

static void test_resync_after_jump(void **state)
{
	struct rtp_stats s;
	uint32_t i = 0;

	(void)state;
	rtp_stats_init(&s);
	for (uint16_t q = 1; q <= 50; q++, i++)
		if (q != 25)
			feed(&s, q, i);
	assert_int_equal(rtp_stats_lost(&s), 1);
	/* A restarted sender: a jump far beyond MAX_DROPOUT, then in sequence. */
	assert_false(rtp_stats_update(&s, 40000, 0, 0));
	assert_true(rtp_stats_update(&s, 40001, 160, 160));
	for (uint16_t q = 40002; q < 40010; q++)
		assert_true(rtp_stats_update(&s, q, 160u * (q - 40000), 160u * (q - 40000)));
	assert_int_equal(s.base_seq, 40001);
	assert_int_equal(rtp_stats_lost(&s), 1);   /* the earlier loss is carried */
	/* A lone stray far away is not counted. */
	assert_false(rtp_stats_update(&s, 5, 0, 0));
	assert_int_equal(rtp_stats_ext_max(&s), 40009);
}

static void test_fraction_lost(void **state)
{
	struct rtp_stats s;
	uint32_t i = 0;

	(void)state;
	rtp_stats_init(&s);
	for (uint16_t q = 0; q < 101; q++, i++)
		if (q == 0 || q % 10 != 5)
			feed(&s, q, i);
	/* 100 expected after probation, 10 lost: 25.6/256 */
	assert_int_equal(rtp_stats_fraction_lost(&s), 25);
	for (uint16_t q = 101; q < 151; q++, i++)
		feed(&s, q, i);
	assert_int_equal(rtp_stats_fraction_lost(&s), 0);   /* interval without loss */
}

static void test_jitter(void **state)
{
	struct rtp_stats s;
	uint32_t arrival = 0;

	(void)state;
	rtp_stats_init(&s);
	/* ts advances 160 per packet; arrivals alternate 150 and 170 apart: |D| = 10. */
	for (uint32_t i = 0; i < 400; i++) {
		(void)rtp_stats_update(&s, (uint16_t)i, 160 * i, arrival);
		arrival += (i % 2) ? 170 : 150;
	}
	assert_in_range(rtp_stats_jitter(&s), 9, 10);
	/* A steady stream decays it back toward zero. */
	for (uint32_t i = 400; i < 800; i++) {
		(void)rtp_stats_update(&s, (uint16_t)i, 160 * i, arrival);
		arrival += 160;
	}
	assert_in_range(rtp_stats_jitter(&s), 0, 1);
}

int test_rtp_stats_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probation_and_sequence),
		cmocka_unit_test(test_probation_restarts),
		cmocka_unit_test(test_loss_from_gaps),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_reorder_and_duplicates),
		cmocka_unit_test(test_resync_after_jump),
		cmocka_unit_test(test_fraction_lost),
		cmocka_unit_test(test_jitter),
	};

	return cmocka_run_group_tests_name("rtp_stats", tests, NULL, NULL);
}
