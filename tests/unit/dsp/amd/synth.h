/*
 * synth.h — test signals for the tone and AMD unit tests: silence, sines, seeded
 * noise and a speech-like noise with a syllable rhythm, written into a buffer at
 * given times and levels. Levels are RMS in dB re a full-scale square wave (a
 * full-scale sine is -3 dB), as in the detectors.
 */
#ifndef TEST_DSP_SYNTH_H
#define TEST_DSP_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SR 8000
#define MS(ms) ((size_t)(ms) * SR / 1000)

struct sig {
	double  *x;     /* samples, linear */
	size_t   n;
	uint64_t rng;
};

static inline void sig_init(struct sig *s, double ms, uint64_t seed)
{
	s->n = MS(ms);
	s->x = calloc(s->n ? s->n : 1, sizeof(double));
	s->rng = seed * 2654435761u + 1;
}

static inline double sig_uniform(struct sig *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (double)(s->rng >> 11) / 9007199254740992.0;
}

static inline double sig_gauss(struct sig *s)
{
	double u1 = sig_uniform(s) + 1e-12, u2 = sig_uniform(s);

	return sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
}

static inline double rms_of(double db)
{
	return 32768.0 * pow(10.0, db / 20.0);
}

/* Sine with 4 ms ramps; reversal_ms > 0 flips its phase periodically. */
static inline void sig_tone(struct sig *s, double f, double at_ms, double dur_ms, double db,
			    double reversal_ms)
{
	size_t a = MS(at_ms), n = MS(dur_ms), ramp = MS(4), rev = MS(reversal_ms);
	double amp = rms_of(db) * sqrt(2.0);

	for (size_t i = 0; i < n && a + i < s->n; i++) {
		double env = i < ramp ? (double)i / ramp : n - i < ramp ? (double)(n - i) / ramp : 1;
		double ph = rev && (i / rev) % 2 ? M_PI : 0;

		s->x[a + i] += amp * env * sin(2 * M_PI * f * (double)i / SR + ph);
	}
}

/* Frequency sweep from f0 to f1. */
static inline void sig_chirp(struct sig *s, double f0, double f1, double at_ms, double dur_ms,
			     double db)
{
	size_t a = MS(at_ms), n = MS(dur_ms);
	double amp = rms_of(db) * sqrt(2.0), ph = 0;

	for (size_t i = 0; i < n && a + i < s->n; i++) {
		ph += 2 * M_PI * (f0 + (f1 - f0) * (double)i / n) / SR;
		s->x[a + i] += amp * sin(ph);
	}
}

static inline void sig_noise(struct sig *s, double at_ms, double dur_ms, double db)
{
	size_t a = MS(at_ms), n = MS(dur_ms);
	double g = rms_of(db);

	for (size_t i = 0; i < n && a + i < s->n; i++)
		s->x[a + i] += g * sig_gauss(s);
}

/*
 * Speech-like noise: 4 syllables a second (raised-cosine envelope between 10 % and
 * 100 %), scaled so that the active level is db. Energy detectors see what they see
 * in speech: bursts, dips, no single frequency.
 */
static inline void sig_speech(struct sig *s, double at_ms, double dur_ms, double db)
{
	size_t a = MS(at_ms), n = MS(dur_ms);
	double g = rms_of(db) * 1.5;

	for (size_t i = 0; i < n && a + i < s->n; i++) {
		double env = 0.55 - 0.45 * cos(2 * M_PI * 4.0 * (double)i / SR);

		s->x[a + i] += g * env * sig_gauss(s);
	}
}

/*
 * Voiced speech-like sound: 8 harmonics of a pitch gliding (in semitones, linearly)
 * from f0a to f0b, under the syllable envelope of sig_speech, active level db. An
 * intonation: a rise at the end for a question, a fall for a statement.
 */
static inline void sig_voiced(struct sig *s, double at_ms, double dur_ms, double f0a,
			      double f0b, double db)
{
	size_t a = MS(at_ms), n = MS(dur_ms);
	double g = rms_of(db) * 1.5 / sqrt(8 * 0.5 / 3.0), ph = 0;

	for (size_t i = 0; i < n && a + i < s->n; i++) {
		double u = (double)i / n, f0 = f0a * pow(f0b / f0a, u);
		double env = 0.55 - 0.45 * cos(2 * M_PI * 4.0 * (double)i / SR), v = 0;

		ph += 2 * M_PI * f0 / SR;
		for (int h = 1; h <= 8; h++)
			if (f0 * h < 3400)
				v += sin(h * ph) / sqrt((double)h);
		s->x[a + i] += g * env * v;
	}
}

/* Converts to 16-bit (saturating); caller frees. */
static inline int16_t *sig_pcm(const struct sig *s)
{
	int16_t *p = malloc((s->n ? s->n : 1) * sizeof(*p));

	for (size_t i = 0; p && i < s->n; i++) {
		double v = s->x[i];

		p[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
	}
	return p;
}

static inline void sig_free(struct sig *s)
{
	free(s->x);
	s->x = NULL;
}

#endif
