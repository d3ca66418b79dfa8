/* test_dtmf_gen.c — DTMF generator: digit tables, levels, durations, ramps, updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf.h"

static void test_event_codes(void **state)
{
	const char *order = "0123456789*#ABCD";

	(void)state;
	for (int i = 0; i < 16; i++) {
		assert_int_equal(dtmf_event_digit(i), order[i]);
		assert_int_equal(dtmf_digit_event(order[i]), i);
	}
	assert_int_equal(dtmf_digit_event('b'), 13);
	assert_int_equal(dtmf_event_digit(16), 0);
	assert_int_equal(dtmf_event_digit(-1), 0);
	assert_int_equal(dtmf_digit_event('E'), -1);
	assert_int_equal(dtmf_digit_event('\0'), -1);
}

static void test_freqs(void **state)
{
	float lo, hi;

	(void)state;
	assert_int_equal(dtmf_digit_freqs('1', &lo, &hi), 0);
	assert_float_equal(lo, 697.0f, 0.01f);
	assert_float_equal(hi, 1209.0f, 0.01f);
	assert_int_equal(dtmf_digit_freqs('#', &lo, &hi), 0);
	assert_float_equal(lo, 941.0f, 0.01f);
	assert_float_equal(hi, 1477.0f, 0.01f);
	assert_int_equal(dtmf_digit_freqs('d', &lo, &hi), 0);
	assert_float_equal(lo, 941.0f, 0.01f);
	assert_float_equal(hi, 1633.0f, 0.01f);
	assert_int_equal(dtmf_digit_freqs('x', &lo, &hi), EINVAL);
}

static void test_bad_args(void **state)
{
	struct dtmf_gen *g;
	int16_t buf[8];

	(void)state;
	assert_int_equal(dtmf_gen_create(NULL), EINVAL);
	assert_int_equal(dtmf_gen_create(&g), 0);
	assert_int_equal(dtmf_gen_start(g, 'x', 160, -10, 0), EINVAL);
	assert_int_equal(dtmf_gen_start(g, '5', 160, -70, 0), EINVAL);
	assert_int_equal(dtmf_gen_start(g, '5', 160, 4, 0), EINVAL);
	assert_int_equal(dtmf_gen_start(g, '5', 160, -10, 11), EINVAL);
	assert_int_equal(dtmf_gen_start(NULL, '5', 160, -10, 0), EINVAL);
	assert_int_equal(dtmf_gen_set_duration(g, 100), EALREADY);
	assert_false(dtmf_gen_busy(g));
	assert_int_equal(dtmf_gen_fill(g, buf, 8), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0);
	dtmf_gen_destroy(g);
	dtmf_gen_destroy(NULL);
}

/* Mean power of x[from, to). */
static double power(const int16_t *x, size_t from, size_t to)
{
	double s = 0.0;

	for (size_t i = from; i < to; i++)
		s += (double)x[i] * x[i];
	return s / (double)(to - from);
}

static void test_duration_and_level(void **state)
{
	struct dtmf_gen *g;
	int16_t buf[2000];
	double want, got;

	(void)state;
	assert_int_equal(dtmf_gen_create(&g), 0);
	/* -10 dBm0 per tone, +2 dB twist: power = a_lo^2/2 + a_hi^2/2. */
	assert_int_equal(dtmf_gen_start(g, '8', 800, -10.0f, 2.0f), 0);
	assert_true(dtmf_gen_busy(g));
	assert_int_equal(dtmf_gen_fill(g, buf, 2000), 800);
	assert_false(dtmf_gen_busy(g));
	for (int i = 800; i < 2000; i++)
		assert_int_equal(buf[i], 0);
	want = 32767.0 * 32767.0 / 2 * pow(10, (-10 - 3.14) / 10) * (1 + pow(10, 0.2));
	got = power(buf, 100, 700);
	assert_float_equal(10 * log10(got / want), 0.0, 0.05);
	/* Ramps: the first and last samples are small, the middle is not. */
	assert_in_range(abs(buf[0]), 0, 400);
	assert_in_range(abs(buf[799]), 0, 400);
	dtmf_gen_destroy(g);
}

static void test_chunking_identical(void **state)
{
	struct dtmf_gen *a, *b;
	int16_t whole[1200], parts[1200];
	size_t n = 0, k = 1;

	(void)state;
	assert_int_equal(dtmf_gen_create(&a), 0);
	assert_int_equal(dtmf_gen_create(&b), 0);
	assert_int_equal(dtmf_gen_start(a, 'A', 1000, -6, 0), 0);
	assert_int_equal(dtmf_gen_start(b, 'A', 1000, -6, 0), 0);
	dtmf_gen_fill(a, whole, 1200);
	while (n < 1200) {
		size_t c = k < 1200 - n ? k : 1200 - n;

		dtmf_gen_fill(b, parts + n, c);
		n += c;
		k = k * 3 % 97 + 1;
	}
	assert_memory_equal(whole, parts, sizeof(whole));
	dtmf_gen_destroy(a);
	dtmf_gen_destroy(b);
}

/* RFC 4733: an open tone ended by the final duration; a finite one extended in time. */
static void test_updates(void **state)
{
	struct dtmf_gen *g;
	int16_t buf[160];
	size_t tone = 0;

	(void)state;
	assert_int_equal(dtmf_gen_create(&g), 0);
	assert_int_equal(dtmf_gen_start(g, '#', 0, -10, 0), 0);
	for (int i = 0; i < 5; i++)
		tone += dtmf_gen_fill(g, buf, 160);
	assert_int_equal(tone, 800);
	assert_true(dtmf_gen_busy(g));
	/* Final duration 1000: 200 more samples, then silence. */
	assert_int_equal(dtmf_gen_set_duration(g, 1000), 0);
	tone += dtmf_gen_fill(g, buf, 160);
	tone += dtmf_gen_fill(g, buf, 160);
	assert_int_equal(tone, 1000);
	assert_false(dtmf_gen_busy(g));
	assert_int_equal(buf[159], 0);
	assert_int_equal(dtmf_gen_set_duration(g, 2000), EALREADY);
	/* Extending a finite tone before its end keeps it at full level. */
	assert_int_equal(dtmf_gen_start(g, '4', 320, -10, 0), 0);
	assert_int_equal(dtmf_gen_fill(g, buf, 160), 160);
	assert_int_equal(dtmf_gen_set_duration(g, 640), 0);
	assert_int_equal(dtmf_gen_fill(g, buf, 160), 160);
	assert_int_equal(dtmf_gen_fill(g, buf, 160), 160);
	assert_true(abs(buf[0]) > 400 || abs(buf[1]) > 400); /* no ramp at 320 */
	assert_int_equal(dtmf_gen_fill(g, buf, 160), 160);
	assert_false(dtmf_gen_busy(g));
	/* A duration already passed ends the tone within one ramp. */
	assert_int_equal(dtmf_gen_start(g, '1', 0, -10, 0), 0);
	assert_int_equal(dtmf_gen_fill(g, buf, 100), 100);
	assert_int_equal(dtmf_gen_set_duration(g, 50), 0);
	assert_int_equal(dtmf_gen_fill(g, buf, 160), 8);
	assert_in_range(abs(buf[7]), 0, 400);
	/* stop: the same. */
	assert_int_equal(dtmf_gen_start(g, '2', 0, -10, 0), 0);
	assert_int_equal(dtmf_gen_fill(g, buf, 100), 100);
	dtmf_gen_stop(g);
	assert_int_equal(dtmf_gen_fill(g, buf, 160), 8);
	assert_false(dtmf_gen_busy(g));
	dtmf_gen_destroy(g);
}

/* A full-scale pair does not wrap around: it saturates. */
static void test_no_wrap(void **state)
{
	struct dtmf_gen *g;
	int16_t buf[800];
	int peak = 0;

	(void)state;
	assert_int_equal(dtmf_gen_create(&g), 0);
	assert_int_equal(dtmf_gen_start(g, '0', 800, 3.0f, 0), 0);
	dtmf_gen_fill(g, buf, 800);
	for (int i = 1; i < 800; i++) {
		int jump = abs(buf[i] - buf[i - 1]);

		/*
		 * 941 + 1336 Hz at 32245 each move at most 57,600 per sample; a wrap
		 * around (+32767 to about -32000) would jump more.
		 */
		assert_in_range(jump, 0, 58000);
		if (abs(buf[i]) > peak)
			peak = abs(buf[i]);
	}
	assert_in_range(peak, 32767, 32768);
	dtmf_gen_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_codes),
		cmocka_unit_test(test_freqs),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_duration_and_level),
		cmocka_unit_test(test_chunking_identical),
		cmocka_unit_test(test_updates),
		cmocka_unit_test(test_no_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
