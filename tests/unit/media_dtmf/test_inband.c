/*
 * test_inband.c — in-band DTMF on a G.711 leg: digits found in order with their
 * durations, the tones removed from the forwarded audio (residual tone energy
 * measured, and a second detector run over the forwarded audio finds nothing: the far
 * side cannot hear a double digit), and speech-like audio neither reported nor muted.
 */
#include <math.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtmf.h"
#include "g711.h"
#include "inband.h"
#include "test_media_dtmf.h"

#define RATE 8000
#define MAXS (RATE * 4)

struct tone_at {
	char     digit;
	uint32_t start;   /* sample */
	uint32_t len;     /* samples */
};

/* Starts given as frame * 160 + offset: tones begin anywhere inside a 20 ms frame,
 * down to its last 10 samples. */
static const struct tone_at tones[] = {
	{'1', 15 * 160 + 37, 640},   /* 80 ms */
	{'5', 25 * 160 + 113, 720},
	{'#', 36 * 160 + 45, 560},   /* 70 ms */
	{'0', 46 * 160 + 130, 800},
	{'D', 58 * 160 + 150, 640},
};
#define NTONES (sizeof(tones) / sizeof(tones[0]))
#define TOTAL  12000

static uint32_t rnd_state = 12345;

static int noise(int amp)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (int)((rnd_state >> 16) % (unsigned)(2 * amp + 1)) - amp;
}

static void make_signal(int16_t *x, size_t n, float level)
{
	struct dtmf_gen *g;

	assert_int_equal(dtmf_gen_create(&g), 0);
	for (size_t i = 0; i < n; i++)
		x[i] = (int16_t)noise(20);   /* a quiet line, about -55 dBm0 */
	for (size_t t = 0; t < NTONES; t++) {
		int16_t buf[1000];

		assert_int_equal(dtmf_gen_start(g, tones[t].digit, tones[t].len, level, 2.0f), 0);
		(void)dtmf_gen_fill(g, buf, tones[t].len);
		for (uint32_t k = 0; k < tones[t].len; k++)
			x[tones[t].start + k] = (int16_t)(x[tones[t].start + k] + buf[k]);
	}
	dtmf_gen_destroy(g);
}

/* Energy at frequency f in x[from..to) (Goertzel, unnormalised). */
static double tone_energy(const int16_t *x, size_t from, size_t to, double f)
{
	double c = 2 * cos(2 * M_PI * f / RATE), s1 = 0, s2 = 0;

	for (size_t i = from; i < to; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

struct found {
	char     digits[16];
	unsigned n;
};

static void on_digit(const struct dtmf_event *ev, void *arg)
{
	struct found *f = arg;

	if (ev->type == DTMF_EV_BEGIN && f->n < sizeof(f->digits) - 1)
		f->digits[f->n++] = ev->digit;
}

/* Runs the stream through inband_process in 20 ms frames; out = forwarded audio. */
static void run(enum inband_law law, const int16_t *in, int16_t *out, size_t n,
		char *begins, char *ends, uint32_t *dur_ms, uint64_t *muted)
{
	struct inband *ib;
	size_t nb = 0, ne = 0;

	assert_int_equal(inband_create(&ib, law), 0);
	for (size_t off = 0; off + 160 <= n; off += 160) {
		uint8_t frame[160];
		struct inband_note notes[INBAND_NOTES_MAX];
		size_t k;

		for (size_t i = 0; i < 160; i++)
			frame[i] = law == INBAND_PCMU ? g711_ulaw_encode(in[off + i]) :
							g711_alaw_encode(in[off + i]);
		k = inband_process(ib, frame, sizeof(frame), notes, NULL);
		for (size_t j = 0; j < k; j++) {
			if (notes[j].type == INBAND_BEGIN) {
				begins[nb++] = notes[j].digit;
			} else {
				dur_ms[ne] = notes[j].duration_ms;
				ends[ne++] = notes[j].digit;
			}
		}
		for (size_t i = 0; i < 160; i++)
			out[off + i] = law == INBAND_PCMU ? g711_ulaw_decode(frame[i]) :
							    g711_alaw_decode(frame[i]);
	}
	begins[nb] = ends[ne] = 0;
	*muted = inband_muted_frames(ib);
	inband_destroy(ib);
}

static void check_law(enum inband_law law)
{
	static int16_t in[MAXS], out[MAXS];
	char begins[16], ends[16];
	uint32_t dur[16];
	uint64_t muted;
	struct dtmf_det *det;
	struct found again = {0};
	double worst = -200;

	make_signal(in, TOTAL, -8.0f);
	run(law, in, out, TOTAL, begins, ends, dur, &muted);
	assert_string_equal(begins, "15#0D");
	assert_string_equal(ends, "15#0D");
	for (size_t t = 0; t < NTONES; t++) {
		uint32_t want = tones[t].len * 1000 / RATE;

		assert_true(dur[t] + 10 >= want && dur[t] <= want + 10);
	}
	/* Residual tone energy in what is forwarded, per digit, at both its frequencies,
	 * over the tone and 40 ms on either side. */
	for (size_t t = 0; t < NTONES; t++) {
		float fl, fh;
		size_t a = tones[t].start - 320, b = tones[t].start + tones[t].len + 320;
		double ein, eout, db;

		assert_int_equal(dtmf_digit_freqs(tones[t].digit, &fl, &fh), 0);
		ein = tone_energy(in, a, b, fl) + tone_energy(in, a, b, fh);
		eout = tone_energy(out, a, b, fl) + tone_energy(out, a, b, fh);
		db = 10 * log10((eout + 1e-9) / ein);
		print_message("  %c: %.1f dB\n", tones[t].digit, db);
		if (db > worst)
			worst = db;
	}
	print_message("in-band %s: residual tone energy worst %.1f dB, %llu frames muted\n",
		      law == INBAND_PCMU ? "PCMU" : "PCMA", worst, (unsigned long long)muted);
	assert_true(worst < -40.0);
	/* Muting stays near the tones: 5 tones of 4-5 frames plus onset and hang-over. */
	assert_true(muted <= NTONES * 9);
	/* The far side's own detector hears no digit in the forwarded audio. */
	assert_int_equal(dtmf_det_create(&det, NULL, on_digit, &again), 0);
	(void)dtmf_det_process(det, out, TOTAL);
	dtmf_det_flush(det);
	dtmf_det_destroy(det);
	assert_int_equal(again.n, 0);
}

static void test_strip_pcmu(void **state)
{
	(void)state;
	check_law(INBAND_PCMU);
}

static void test_strip_pcma(void **state)
{
	(void)state;
	check_law(INBAND_PCMA);
}

/* Voiced, speech-like audio (a harmonic complex with a moving pitch and level): no
 * digit, and almost nothing muted. */
static void test_speech_untouched(void **state)
{
	static int16_t in[MAXS], out[MAXS];
	char begins[16], ends[16];
	uint32_t dur[16];
	uint64_t muted;
	double ph[30] = {0};

	(void)state;
	for (size_t i = 0; i < MAXS; i++) {
		double t = (double)i / RATE;
		double f0 = 130 + 60 * sin(2 * M_PI * 0.7 * t), amp = 0.5 + 0.5 * sin(2 * M_PI * 3 * t);
		double v = 0;

		for (int h = 1; h < 30; h++) {
			ph[h] += 2 * M_PI * f0 * h / RATE;
			v += sin(ph[h]) / h;
		}
		in[i] = (int16_t)(v * amp * 5000 + noise(30));
	}
	run(INBAND_PCMU, in, out, MAXS, begins, ends, dur, &muted);
	assert_string_equal(begins, "");
	print_message("speech-like 4 s: %llu of 200 frames muted\n", (unsigned long long)muted);
	assert_true(muted <= 4);
}

/* A steady tone (a test tone, a caller's hold music note, a fax or modem's carrier)
 * is no digit and must be forwarded: a 3 ms tail cannot tell one tone between the
 * groups (1000 Hz) from a low- and a high-group pair, so a tail alone must not mute a
 * tone that was there before it. Each at -12 dBFS for 2 s, in both laws. */
static void test_steady_tones_untouched(void **state)
{
	static const double freqs[] = {1000.0, 1050.0, 1100.0, 600.0, 941.0, 1209.0, 440.0};
	static int16_t in[MAXS], out[MAXS];
	char begins[16], ends[16];
	uint32_t dur[16];
	uint64_t muted;

	(void)state;
	for (size_t f = 0; f < sizeof(freqs) / sizeof(freqs[0]); f++) {
		for (int law = 0; law < 2; law++) {
			for (size_t i = 0; i < RATE * 2; i++)
				in[i] = (int16_t)(32767 * 0.25 * sin(2 * M_PI * freqs[f] * i / RATE));
			run(law ? INBAND_PCMA : INBAND_PCMU, in, out, RATE * 2, begins, ends, dur,
			    &muted);
			print_message("%.0f Hz %s: %llu of 100 frames muted\n", freqs[f],
				      law ? "PCMA" : "PCMU", (unsigned long long)muted);
			assert_string_equal(begins, "");
			assert_true(muted <= 1);
		}
	}
}

static void test_args(void **state)
{
	struct inband *ib;

	(void)state;
	assert_int_equal(inband_create(NULL, INBAND_PCMU), EINVAL);
	assert_int_equal(inband_create(&ib, (enum inband_law)7), EINVAL);
	assert_int_equal(inband_create(&ib, INBAND_PCMA), 0);
	assert_int_equal(inband_process(ib, NULL, 0, NULL, NULL), 0);
	inband_reset(ib);
	inband_destroy(ib);
	inband_destroy(NULL);
}

int test_inband_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_pcmu),
		cmocka_unit_test(test_strip_pcma),
		cmocka_unit_test(test_speech_untouched),
		cmocka_unit_test(test_steady_tones_untouched),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests_name("inband", tests, NULL, NULL);
}
