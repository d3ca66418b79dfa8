/*
 * amd_pitch.c — pitch tracker for the AMD's intonation features (see amd_pitch.h).
 *
 * Each frame is low-passed (two 2nd-order Butterworth sections at 900 Hz: F0 and the
 * first harmonics carry the period; formants above only blur it) and decimated to
 * 4 kHz. The normalised cross-correlation of the last 24 ms with the same span one
 * period earlier is computed for periods of 2.5-16.75 ms (400-60 Hz). The frame is
 * voiced when the best correlation reaches VOICED_R; the period is the shortest
 * one whose correlation comes within OCTAVE_SHARE of the best (multiples of the
 * period correlate as well, and choosing them would halve F0), refined by a
 * parabola through its neighbours. About 5,500 multiply-adds per analysed frame.
 */
#include "amd_pitch.h"

#include <math.h>
#include <string.h>

#define VOICED_R      0.55f
#define OCTAVE_SHARE  0.90f

/* 2nd-order Butterworth low-pass, 900 Hz at 8 kHz (bilinear transform). */
static const double lp_b0 = 0.08315986, lp_b1 = 0.16631972, lp_b2 = 0.08315986;
static const double lp_a1 = -1.03517834, lp_a2 = 0.36781778;

void amd_pitch_reset(struct amd_pitch *p)
{
	memset(p, 0, sizeof(*p));
}

static double lowpass(double *m, double x)
{
	double y = lp_b0 * x + m[0];

	m[0] = lp_b1 * x - lp_a1 * y + m[1];
	m[1] = lp_b2 * x - lp_a2 * y;
	return y;
}

void amd_pitch_frame(struct amd_pitch *p, const int16_t *s, bool analyse, float *hz,
		     float *voicing)
{
	float r[AMD_PITCH_MAXLAG + 2];
	const float *cur;
	double e0 = 0;
	float best = 0;
	int lag = 0;

	memmove(p->x, p->x + AMD_PITCH_HOP, sizeof(float) * (AMD_PITCH_BUF - AMD_PITCH_HOP));
	for (int i = 0; i < 160; i++) {
		double y = lowpass(p->lp + 2, lowpass(p->lp, s[i]));

		if (i % AMD_PITCH_DEC == AMD_PITCH_DEC - 1)
			p->x[AMD_PITCH_BUF - AMD_PITCH_HOP + i / AMD_PITCH_DEC] = (float)y;
	}
	if (fabs(p->lp[0]) < 1e-12 && fabs(p->lp[2]) < 1e-12)
		p->lp[0] = p->lp[1] = p->lp[2] = p->lp[3] = 0;
	*hz = 0;
	*voicing = 0;
	if (!analyse)
		return;
	cur = p->x + AMD_PITCH_BUF - AMD_PITCH_WIN;
	for (int i = 0; i < AMD_PITCH_WIN; i++)
		e0 += (double)cur[i] * cur[i];
	if (e0 <= 1e-3)
		return;
	{
		/* Energy of the lagged span, slid one sample at a time. */
		const float *lg = cur - AMD_PITCH_MINLAG;
		double el = 0;

		for (int i = 0; i < AMD_PITCH_WIN; i++)
			el += (double)lg[i] * lg[i];
		for (int k = AMD_PITCH_MINLAG - 1; k <= AMD_PITCH_MAXLAG + 1; k++)
			r[k - AMD_PITCH_MINLAG + 1] = 0;
		for (int k = AMD_PITCH_MINLAG; k <= AMD_PITCH_MAXLAG; k++) {
			const float *q = cur - k;
			float acc = 0;

			if (k > AMD_PITCH_MINLAG)
				el += (double)q[0] * q[0] - (double)q[AMD_PITCH_WIN] * q[AMD_PITCH_WIN];
			for (int i = 0; i < AMD_PITCH_WIN; i++)
				acc += cur[i] * q[i];
			r[k - AMD_PITCH_MINLAG + 1] = el > 1e-3 ? (float)(acc / sqrt(e0 * el)) : 0;
			if (r[k - AMD_PITCH_MINLAG + 1] > best)
				best = r[k - AMD_PITCH_MINLAG + 1];
		}
	}
	*voicing = best;
	if (best < VOICED_R)
		return;
	/* The shortest period at a local maximum close to the best. */
	for (int k = AMD_PITCH_MINLAG; k <= AMD_PITCH_MAXLAG; k++) {
		int j = k - AMD_PITCH_MINLAG + 1;
		float v = r[j];

		if (v >= OCTAVE_SHARE * best && v >= r[j - 1] && v >= r[j + 1]) {
			lag = k;
			break;
		}
	}
	if (!lag)
		return;
	{
		int j = lag - AMD_PITCH_MINLAG + 1;
		float a = r[j - 1], b = r[j], c = r[j + 1], den = a - 2 * b + c;
		float off = (den < 0 && lag > AMD_PITCH_MINLAG && lag < AMD_PITCH_MAXLAG) ?
			    0.5f * (a - c) / den : 0;

		*hz = (float)(8000.0 / AMD_PITCH_DEC) / ((float)lag + off);
	}
	p->last_hz = *hz;
}
