/*
 * tone_seg.c — measuring one tone once it has ended: its edges, level, and whether
 * it is a machine's tone at all.
 *
 * Each hop of a tone records the energy in +-2 bins of the tone's FFT bin, the hop's
 * frequency (when the hop agreed with the tone) and its purity. Edges are where that
 * energy crosses half its median, interpolated between hop centres (with a symmetric
 * window, that is where the window's centre crosses the tone's edge). A beep, fax or
 * SIT tone is a steady sine: it rises out of something at least EDGE_DB quieter,
 * falls back as much when it ends, and inside (hops whose window lies wholly within
 * it) holds its level and frequency still. A vowel can keep one dominant harmonic
 * pure for a while, but it glides in pitch and level, and usually loses its purity
 * while still loud; that is what these checks tell apart.
 */
#include "tone_priv.h"

#include <stdlib.h>

#define STEADY_MIN_HOPS  3
#define STEADY_DB        0.6   /* level std deviation inside the tone, dB */
#define STEADY_HZ        1.5   /* frequency std deviation, Hz */
#define STEADY_LONG_HOPS 10    /* from 100 ms on the limits widen a little */
#define STEADY_DB_LONG   1.0
#define STEADY_HZ_LONG   2.5
#define STEADY_REL       0.001 /* or this share of the frequency, if larger */
#define STEADY_PURITY    0.88f /* at most one hop in ten may be less pure */
#define EDGE_DB          12.0f

float tone_level_db(float eband)
{
	/* A sine of mean square P gives sum |X|^2 = P * 3N^2/16 over the positive
	 * bins of a Hann-windowed N-point FFT. */
	double p = eband * 16.0 / (3.0 * TONE_FFT_N * TONE_FFT_N);

	return (float)(10.0 * log10(p / TONE_FULL2 + 1e-20));
}

void tone_seg_push(struct tone_seg *s, float e, float f, float purity)
{
	if (s->nh < TONE_HEAD) {
		s->head[s->nh] = e;
		s->fhead[s->nh] = f;
		s->phead[s->nh] = purity;
	}
	s->tail[s->nh % TONE_TAIL] = e;
	s->ftail[s->nh % TONE_TAIL] = f;
	s->ptail[s->nh % TONE_TAIL] = purity;
	s->nh++;
}

static bool in_tail(const struct tone_seg *s, int i)
{
	return i >= s->nh - TONE_TAIL && i < s->nh;
}

static float seg_e(const struct tone_seg *s, int i)
{
	return in_tail(s, i) ? s->tail[i % TONE_TAIL] : i < TONE_HEAD ? s->head[i] : 0;
}

static float seg_f(const struct tone_seg *s, int i)
{
	return in_tail(s, i) ? s->ftail[i % TONE_TAIL] : i < TONE_HEAD ? s->fhead[i] : 0;
}

static float seg_p(const struct tone_seg *s, int i)
{
	return in_tail(s, i) ? s->ptail[i % TONE_TAIL] : i < TONE_HEAD ? s->phead[i] : 0;
}

/* Level and frequency held still inside the tone. Hops not kept (the middle of
 * tones longer than TONE_HEAD + TONE_TAIL hops) are not checked. */
static bool seg_still(const struct tone_seg *s)
{
	double se = 0, se2 = 0, sf = 0, sf2 = 0, sd, fd;
	int n = 0, impure = 0;
	bool longer;

	for (int i = 0; i < s->nh; i++) {
		double t = tone_seg_t(s, i), e;
		float f;

		if (i >= TONE_HEAD && !in_tail(s, i))
			continue;
		if (t < s->start_ms + TONE_HALF_MS + 2 || t > s->end_ms - TONE_HALF_MS - 2)
			continue;
		f = seg_f(s, i);
		if (f <= 0)
			continue;
		e = 10.0 * log10(seg_e(s, i) + 1e-20);
		se += e;
		se2 += e * e;
		sf += f;
		sf2 += (double)f * f;
		impure += seg_p(s, i) < STEADY_PURITY;
		n++;
	}
	if (n < STEADY_MIN_HOPS)
		return false;
	sd = sqrt(fmax(0, se2 / n - (se / n) * (se / n)));
	fd = sqrt(fmax(0, sf2 / n - (sf / n) * (sf / n)));
	longer = n >= STEADY_LONG_HOPS;
	return sd <= (longer ? STEADY_DB_LONG : STEADY_DB) &&
	       fd <= fmax(longer ? STEADY_HZ_LONG : STEADY_HZ, STEADY_REL * s->freq_hz) &&
	       impure <= n / 10;
}

/* Time where the energy crosses `half` between hops i and i + 1. */
static double cross(const struct tone_seg *s, int i, float half)
{
	float a = seg_e(s, i), b = seg_e(s, i + 1);
	double f = (a == b) ? 0.5 : (half - a) / (b - a);

	f = f < 0 ? 0 : f > 1 ? 1 : f;
	return tone_seg_t(s, i) + TONE_HOP_MS * f;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

void tone_seg_close(struct tone_seg *s, bool eos, double now_ms)
{
	float vals[TONE_HEAD], plateau, half, before, after;
	int n = 0, last = s->last_tonal < TONE_HEAD ? s->last_tonal : TONE_HEAD - 1;
	bool stream_start = s->t0_ms < TONE_HOP_MS * TONE_PRE, rose = false, fell = eos;
	int i;

	for (i = s->npre; i <= last; i++)
		vals[n++] = s->head[i];
	if (n > 1)
		qsort(vals, (size_t)n, sizeof(*vals), cmp_float);
	plateau = n ? vals[n / 2] : 0;
	half = 0.5f * plateau;
	s->level_db = tone_level_db(plateau);

	s->start_ms = tone_seg_t(s, 0) - TONE_HALF_MS;
	for (i = 0; i < s->nh && i < TONE_HEAD; i++) {
		if (s->head[i] >= half) {
			rose = i > 0 || stream_start;
			if (i > 0)
				s->start_ms = cross(s, i - 1, half);
			break;
		}
	}
	s->end_ms = eos ? now_ms : tone_seg_t(s, s->nh - 1);
	for (i = s->last_tonal; i + 1 < s->nh; i++) {
		if (seg_e(s, i + 1) < half) {
			s->end_ms = cross(s, i, half);
			fell = true;
			break;
		}
	}
	if (s->end_ms < s->start_ms)
		s->end_ms = s->start_ms;

	before = after = plateau;
	for (i = 0; i < s->npre; i++)
		before = fminf(before, s->head[i]);
	for (i = s->last_tonal + 1; i < s->nh; i++)
		after = fminf(after, seg_e(s, i));
	/* At the stream's start there is no "before", at its end no "after". */
	s->rise_db = stream_start ? 99.0f : 10.0f * log10f((plateau + 1e-20f) / (before + 1e-20f));
	s->fall_db = eos ? 99.0f : 10.0f * log10f((plateau + 1e-20f) / (after + 1e-20f));
	s->steady = rose && fell && s->rise_db >= EDGE_DB && s->fall_db >= EDGE_DB &&
		    seg_still(s);
}
