/*
 * plc.c — G.711-style packet loss concealment (see plc.h).
 */
#include "plc.h"

#include <string.h>

void plc_init(struct plc *p)
{
	memset(p, 0, sizeof(*p));
}

static void hist_push(struct plc *p, const int16_t *pcm, size_t n)
{
	if (n >= PLC_HIST) {
		memcpy(p->hist, pcm + n - PLC_HIST, PLC_HIST * sizeof(int16_t));
		return;
	}
	memmove(p->hist, p->hist + n, (PLC_HIST - n) * sizeof(int16_t));
	memcpy(p->hist + PLC_HIST - n, pcm, n * sizeof(int16_t));
}

/* Pitch period of the history: the lag with the best normalised correlation. */
static unsigned find_pitch(const struct plc *p)
{
	const int16_t *h = p->hist;
	const unsigned win = 120, end = PLC_HIST;
	int64_t best_num = 0, best_den = 1;
	unsigned best = PLC_PMAX;

	for (unsigned lag = PLC_PMIN; lag <= PLC_PMAX; lag++) {
		int64_t num = 0, den = 1;

		for (unsigned i = end - win; i < end; i++) {
			num += (int64_t)h[i] * h[i - lag];
			den += (int64_t)h[i - lag] * h[i - lag];
		}
		/* num/sqrt(den) compared as num^2/den, keeping the sign */
		if (num > 0 && (double)num * num * best_den > (double)best_num * best_num * den) {
			best_num = num;
			best_den = den;
			best = lag;
		}
	}
	return best;
}

/* Gain (Q15) of concealment sample k: 1 for 10 ms, then -20 % per 10 ms, 0 at 60 ms. */
static int32_t gain_q15(unsigned k)
{
	if (k < 80)
		return 32768;
	if (k >= 480)
		return 0;
	return (int32_t)(32768 - (int64_t)(k - 80) * 32768 / 400);
}

void plc_conceal(struct plc *p, int16_t *out, size_t n)
{
	if (!p->lost) {
		p->pitch = find_pitch(p);
		p->pos = 0;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t v = p->hist[PLC_HIST - p->pitch + p->pos];

		out[i] = (int16_t)((v * gain_q15(p->lost)) >> 15);
		if (++p->pos == p->pitch)
			p->pos = 0;
		if (p->lost < 100000)
			p->lost++;
	}
	/* The concealment is not added to the history: the repeated period stays the
	 * last real one. */
}

void plc_good(struct plc *p, int16_t *pcm, size_t n)
{
	if (p->lost && n) {
		/* Cross-fade from the continuing synthetic signal into the real one. */
		unsigned m = n < PLC_OLA ? (unsigned)n : PLC_OLA;
		int32_t g = gain_q15(p->lost);

		for (unsigned i = 0; i < m; i++) {
			int32_t syn = (p->hist[PLC_HIST - p->pitch + p->pos] * g) >> 15;
			int32_t v = (pcm[i] * (int32_t)(i + 1) + syn * (int32_t)(m - i)) / (int32_t)(m + 1);

			pcm[i] = (int16_t)v;
			if (++p->pos == p->pitch)
				p->pos = 0;
		}
		p->lost = 0;
	}
	hist_push(p, pcm, n);
}
