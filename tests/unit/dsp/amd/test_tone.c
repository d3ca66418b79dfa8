/* test_tone.c — tone detector: FFT, beep edges and range, rejections, fax, SIT,
 * noise, block-size independence, stream end, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "synth.h"
#include "tone.h"
#include "tone_fft.h"

#define MAX_EV 32

struct log {
	struct tone_event ev[MAX_EV];
	int n;
};

static void on_event(const struct tone_event *ev, void *arg)
{
	struct log *l = arg;

	if (l->n < MAX_EV)
		l->ev[l->n++] = *ev;
}

/* Runs a detector over the signal in blocks of `block` samples. */
static void run(const struct sig *s, size_t block, struct log *l)
{
	struct tone_det *td;
	int16_t *pcm = sig_pcm(s);

	memset(l, 0, sizeof(*l));
	assert_non_null(pcm);
	assert_int_equal(tone_det_create(&td, NULL, on_event, l), 0);
	for (size_t i = 0; i < s->n; i += block)
		assert_int_equal(tone_det_process(td, pcm + i, s->n - i < block ? s->n - i : block), 0);
	tone_det_finish(td);
	tone_det_destroy(td);
	free(pcm);
}

static int count(const struct log *l, enum tone_event_type t)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += l->ev[i].type == t;
	return n;
}

static const struct tone_event *first(const struct log *l, enum tone_event_type t)
{
	for (int i = 0; i < l->n; i++)
		if (l->ev[i].type == t)
			return &l->ev[i];
	return NULL;
}

static void test_fft_matches_dft(void **state)
{
	struct tone_fft f;
	float x[TONE_FFT_N], p[TONE_FFT_BINS];
	struct sig s;

	(void)state;
	sig_init(&s, 40, 7);
	sig_noise(&s, 0, 40, -10);
	for (int i = 0; i < TONE_FFT_N; i++)
		x[i] = (float)s.x[i];
	tone_fft_init(&f);
	tone_fft_power(&f, x, p);
	for (int k = 0; k < TONE_FFT_BINS; k++) {
		double re = 0, im = 0, want;

		for (int n = 0; n < TONE_FFT_N; n++) {
			re += x[n] * cos(2 * M_PI * k * n / TONE_FFT_N);
			im -= x[n] * sin(2 * M_PI * k * n / TONE_FFT_N);
		}
		want = re * re + im * im;
		assert_true(fabs(p[k] - want) <= 1e-3 * want + 1e-3 * 1e9);
	}
	sig_free(&s);
}

/* A beep anywhere in the band, 80 ms to 2 s, loud or quiet: one BEEP, edges exact. */
static void test_beep_edges(void **state)
{
	static const double freqs[] = {400, 1000, 1777, 2100};
	static const double durs[] = {80, 500, 2000};
	static const double levels[] = {-10, -40};

	(void)state;
	for (size_t fi = 0; fi < 4; fi++)
		for (size_t di = 0; di < 3; di++)
			for (size_t li = 0; li < 2; li++) {
				struct sig s;
				struct log l;
				const struct tone_event *b;

				sig_init(&s, 300 + durs[di] + 600, fi * 10 + di + li);
				sig_tone(&s, freqs[fi], 300, durs[di], levels[li], 0);
				run(&s, 160, &l);
				b = first(&l, TONE_EV_BEEP);
				assert_int_equal(count(&l, TONE_EV_BEEP), 1);
				assert_non_null(b);
				assert_true(fabs(b->freq_hz - freqs[fi]) < 2.0);
				assert_true(fabs((double)b->start_ms - 300) <= 10);
				assert_true(fabs((double)b->end_ms - (300 + durs[di])) <= 10);
				assert_true(fabs(b->level_db - levels[li]) < 1.5);
				assert_true(b->now_ms >= b->end_ms);
				assert_int_equal(count(&l, TONE_EV_SIT), 0);
				sig_free(&s);
			}
}

static void expect_nothing(struct sig *s)
{
	struct log l;

	run(s, 160, &l);
	assert_int_equal(count(&l, TONE_EV_BEEP), 0);
	assert_int_equal(count(&l, TONE_EV_SIT), 0);
	assert_int_equal(count(&l, TONE_EV_FAX_CNG), 0);
	sig_free(s);
}

static void test_beep_rejects(void **state)
{
	struct sig s;

	(void)state;
	sig_init(&s, 1000, 1);                  /* too short */
	sig_tone(&s, 1000, 300, 50, -15, 0);
	expect_nothing(&s);
	sig_init(&s, 3500, 2);                  /* too long for a beep */
	sig_tone(&s, 1000, 300, 2600, -15, 0);
	expect_nothing(&s);
	sig_init(&s, 1500, 3);                  /* below the band */
	sig_tone(&s, 300, 300, 500, -15, 0);
	expect_nothing(&s);
	sig_init(&s, 1500, 4);                  /* above it */
	sig_tone(&s, 2400, 300, 500, -15, 0);
	expect_nothing(&s);
	sig_init(&s, 1500, 5);                  /* two frequencies (a DTMF digit) */
	sig_tone(&s, 697, 300, 500, -15, 0);
	sig_tone(&s, 1209, 300, 500, -15, 0);
	expect_nothing(&s);
	sig_init(&s, 1500, 6);                  /* a sweep */
	sig_chirp(&s, 500, 1500, 300, 600, -15);
	expect_nothing(&s);
	sig_init(&s, 3000, 7);                  /* noise */
	sig_noise(&s, 0, 3000, -20);
	expect_nothing(&s);
	sig_init(&s, 3000, 8);                  /* speech-like noise */
	sig_speech(&s, 200, 2500, -15);
	expect_nothing(&s);
	sig_init(&s, 1500, 9);                  /* too quiet */
	sig_tone(&s, 1000, 300, 500, -60, 0);
	expect_nothing(&s);
}

static void test_beep_in_noise(void **state)
{
	struct sig s;
	struct log l;
	const struct tone_event *b;

	(void)state;
	sig_init(&s, 2000, 11);
	sig_noise(&s, 0, 2000, -32);            /* beep 10 dB above white noise */
	sig_tone(&s, 1000, 700, 300, -22, 0);
	run(&s, 160, &l);
	b = first(&l, TONE_EV_BEEP);
	assert_int_equal(count(&l, TONE_EV_BEEP), 1);
	assert_true(fabs((double)b->end_ms - 1000) <= 15);
	sig_free(&s);
}

static void test_fax_cng(void **state)
{
	struct sig s;
	struct log l;
	const struct tone_event *c;

	(void)state;
	sig_init(&s, 4800, 12);
	sig_tone(&s, 1100, 500, 500, -18, 0);   /* 0.5 s on, 3 s off */
	sig_tone(&s, 1100, 4000, 500, -18, 0);
	run(&s, 160, &l);
	c = first(&l, TONE_EV_FAX_CNG);
	assert_non_null(c);
	assert_true(fabs((double)c->end_ms - 1000) <= 10);
	assert_int_equal(count(&l, TONE_EV_FAX_CNG), 2);
	sig_free(&s);
}

static void test_fax_ced(void **state)
{
	for (int rev = 0; rev <= 1; rev++) {
		struct sig s;
		struct log l;
		const struct tone_event *c;

		(void)state;
		sig_init(&s, 4500, 13 + rev);
		sig_tone(&s, 2100, 800, 3300, -15, rev ? 450 : 0);
		run(&s, 160, &l);
		c = first(&l, TONE_EV_FAX_CED);
		assert_non_null(c);
		assert_int_equal(count(&l, TONE_EV_FAX_CED), 1);
		assert_true(c->now_ms >= 800 + 400 && c->now_ms <= 800 + 500);
		assert_int_equal(count(&l, TONE_EV_BEEP), 0);
		sig_free(&s);
	}
}

static void test_sit(void **state)
{
	static const double f1[] = {913.8, 985.2}, f2[] = {1370.6, 1428.5};

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct sig s;
		struct log l;
		double d1 = k & 1 ? 380 : 274, d2 = k & 2 ? 380 : 274;

		sig_init(&s, 3000, 20 + k);
		sig_tone(&s, f1[k & 1], 200, d1, -20, 0);
		sig_tone(&s, f2[(k >> 1) & 1], 200 + d1, d2, -20, 0);
		sig_tone(&s, 1776.7, 200 + d1 + d2, 380, -20, 0);
		sig_speech(&s, 200 + d1 + d2 + 380 + 100, 1500, -20);
		run(&s, 160, &l);
		assert_int_equal(count(&l, TONE_EV_SIT), 1);
		assert_int_equal(count(&l, TONE_EV_BEEP), 0);
		assert_true(first(&l, TONE_EV_SIT)->now_ms <= 200 + d1 + d2 + 380);
		sig_free(&s);
	}
}

static void test_block_sizes_agree(void **state)
{
	static const size_t blocks[] = {1, 80, 160, 1000};
	struct log ref, l;
	struct sig s;

	(void)state;
	sig_init(&s, 5000, 30);
	sig_noise(&s, 0, 5000, -45);
	sig_speech(&s, 300, 1500, -20);
	sig_tone(&s, 850, 2200, 400, -22, 0);
	sig_tone(&s, 2100, 3000, 1500, -22, 0);
	run(&s, blocks[0], &ref);
	assert_true(ref.n >= 2);
	for (size_t b = 1; b < 4; b++) {
		run(&s, blocks[b], &l);
		assert_int_equal(l.n, ref.n);
		assert_memory_equal(l.ev, ref.ev, sizeof(ref.ev[0]) * (size_t)ref.n);
	}
	sig_free(&s);
}

static void test_finish_closes_tone(void **state)
{
	struct sig s;
	struct log l;
	const struct tone_event *b;

	(void)state;
	sig_init(&s, 900, 31);
	sig_tone(&s, 1200, 500, 400, -20, 0);   /* still sounding when the audio ends */
	run(&s, 160, &l);
	b = first(&l, TONE_EV_BEEP);
	assert_non_null(b);
	assert_int_equal(b->end_ms, 900);
	sig_free(&s);
}

static void test_busy_and_reset(void **state)
{
	struct tone_det *td;
	struct log l = {0};
	struct sig s;
	int16_t *pcm;

	(void)state;
	sig_init(&s, 1500, 32);
	sig_tone(&s, 1000, 200, 600, -20, 0);
	pcm = sig_pcm(&s);
	assert_int_equal(tone_det_create(&td, NULL, on_event, &l), 0);
	assert_false(tone_det_busy(td));
	tone_det_process(td, pcm, MS(500));
	assert_true(tone_det_busy(td));
	tone_det_process(td, pcm + MS(500), s.n - MS(500));
	assert_false(tone_det_busy(td));
	assert_int_equal(l.n, 1);
	tone_det_reset(td);
	tone_det_process(td, pcm, s.n);
	assert_int_equal(l.n, 2);
	assert_memory_equal(&l.ev[0], &l.ev[1], sizeof(l.ev[0]));
	tone_det_finish(td);
	tone_det_process(td, pcm, s.n);          /* ignored after finish */
	assert_int_equal(l.n, 2);
	tone_det_destroy(td);
	free(pcm);
	sig_free(&s);
}

static void test_create_errors(void **state)
{
	struct tone_params p;
	struct tone_det *td;

	(void)state;
	assert_int_equal(tone_det_create(NULL, NULL, NULL, NULL), EINVAL);
	tone_params_init(&p);
	p.beep_min_hz = 3000;
	assert_int_equal(tone_det_create(&td, &p, NULL, NULL), EINVAL);
	assert_null(td);
	tone_params_init(&p);
	p.min_purity = 0;
	assert_int_equal(tone_det_create(&td, &p, NULL, NULL), EINVAL);
	assert_int_equal(tone_det_process(NULL, NULL, 0), EINVAL);
	assert_string_equal(tone_event_name(TONE_EV_SIT), "SIT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fft_matches_dft),
		cmocka_unit_test(test_beep_edges),
		cmocka_unit_test(test_beep_rejects),
		cmocka_unit_test(test_beep_in_noise),
		cmocka_unit_test(test_fax_cng),
		cmocka_unit_test(test_fax_ced),
		cmocka_unit_test(test_sit),
		cmocka_unit_test(test_block_sizes_agree),
		cmocka_unit_test(test_finish_closes_tone),
		cmocka_unit_test(test_busy_and_reset),
		cmocka_unit_test(test_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
