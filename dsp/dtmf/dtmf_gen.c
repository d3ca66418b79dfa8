/*
 * dtmf_gen.c — DTMF tone generator for RFC 4733 -> in-band conversion (see dtmf.h),
 * and the digit <-> RFC 4733 event code mapping.
 *
 * Two phase accumulators (double precision, so a tone of any length keeps its exact
 * frequency) and a 1 ms raised-cosine ramp at each end to keep the spectrum narrow.
 * The duration may be changed while the tone plays, as RFC 4733 updates arrive; the
 * ramp down then starts at the new end.
 */
#include "dtmf.h"
#include "dtmf_tab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RAMP 8  /* samples in each ramp (1 ms) */

struct dtmf_gen {
	double ph_lo, ph_hi;   /* phases, radians */
	double w_lo, w_hi;     /* phase increments per sample, radians */
	double a_lo, a_hi;     /* peak amplitudes, sample units */
	uint64_t pos;          /* samples produced since the tone started */
	uint64_t end;          /* sample at which the tone ends (UINT64_MAX: open) */
	bool busy;
	float ramp[RAMP];      /* rising ramp gains */
};

static const char event_digits[16] = {
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
};

char dtmf_event_digit(int event)
{
	return event >= 0 && event < 16 ? event_digits[event] : 0;
}

int dtmf_digit_event(char digit)
{
	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	for (int i = 0; i < 16; i++) {
		if (event_digits[i] == digit)
			return i;
	}
	return -1;
}

int dtmf_digit_freqs(char digit, float *low_hz, float *high_hz)
{
	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	for (int i = 0; i < 16; i++) {
		if (dtmf_tab_digit[i] == digit) {
			if (low_hz)
				*low_hz = dtmf_tab_freq[i / 4];
			if (high_hz)
				*high_hz = dtmf_tab_freq[4 + i % 4];
			return 0;
		}
	}
	return EINVAL;
}

int dtmf_gen_create(struct dtmf_gen **genp)
{
	struct dtmf_gen *g;

	if (!genp)
		return EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ENOMEM;
	for (int i = 0; i < RAMP; i++)
		g->ramp[i] = (float)(0.5 - 0.5 * cos(M_PI * (i + 0.5) / RAMP));
	*genp = g;
	return 0;
}

void dtmf_gen_destroy(struct dtmf_gen *gen)
{
	free(gen);
}

int dtmf_gen_start(struct dtmf_gen *gen, char digit, uint32_t duration,
		   float level_dbm0, float twist_db)
{
	float lo, hi;
	double a;

	if (!gen || dtmf_digit_freqs(digit, &lo, &hi))
		return EINVAL;
	if (!(level_dbm0 >= -63.0f && level_dbm0 <= 3.14f) ||
	    !(twist_db >= -10.0f && twist_db <= 10.0f))
		return EINVAL;
	/* A full-scale sine (32767) is +3.14 dBm0. */
	a = 32767.0 * pow(10.0, (level_dbm0 - 3.14) / 20.0);
	gen->a_lo = a;
	gen->a_hi = a * pow(10.0, twist_db / 20.0);
	gen->w_lo = 2.0 * M_PI * lo / DTMF_RATE;
	gen->w_hi = 2.0 * M_PI * hi / DTMF_RATE;
	gen->ph_lo = 0.0;
	gen->ph_hi = 0.0;
	gen->pos = 0;
	gen->end = duration ? duration : UINT64_MAX;
	gen->busy = true;
	return 0;
}

/* The end to use for a requested end: never sooner than one ramp from now, never
 * later than an end already closer than that. */
static uint64_t ramp_end(const struct dtmf_gen *g, uint64_t want)
{
	uint64_t soonest = g->pos + RAMP;

	if (want >= soonest)
		return want;
	return g->end < soonest ? g->end : soonest;
}

int dtmf_gen_set_duration(struct dtmf_gen *gen, uint32_t duration)
{
	if (!gen || duration == 0)
		return EINVAL;
	if (!gen->busy)
		return EALREADY;
	gen->end = ramp_end(gen, duration);
	return 0;
}

void dtmf_gen_stop(struct dtmf_gen *gen)
{
	if (gen && gen->busy)
		gen->end = ramp_end(gen, 0);
}

bool dtmf_gen_busy(const struct dtmf_gen *gen)
{
	return gen && gen->busy;
}

/* Gain of the envelope at sample pos of a tone ending at end (end > pos). */
static double envelope(const struct dtmf_gen *g, uint64_t pos)
{
	uint64_t left = g->end - pos;
	double e = 1.0;

	if (pos < RAMP)
		e = g->ramp[pos];
	if (left <= RAMP) {
		double r = g->ramp[left - 1];

		if (r < e)
			e = r;
	}
	return e;
}

size_t dtmf_gen_fill(struct dtmf_gen *gen, int16_t *out, size_t count)
{
	size_t n = 0;

	if (!gen || !out)
		return 0;
	for (; n < count && gen->busy && gen->pos < gen->end; n++) {
		double v = envelope(gen, gen->pos) *
		    (gen->a_lo * sin(gen->ph_lo) + gen->a_hi * sin(gen->ph_hi));
		gen->ph_lo = fmod(gen->ph_lo + gen->w_lo, 2.0 * M_PI);
		gen->ph_hi = fmod(gen->ph_hi + gen->w_hi, 2.0 * M_PI);
		gen->pos++;
		if (v > 32767.0)
			v = 32767.0;
		else if (v < -32768.0)
			v = -32768.0;
		out[n] = (int16_t)lrint(v);
	}
	if (gen->busy && gen->pos >= gen->end)
		gen->busy = false;
	memset(out + n, 0, (count - n) * sizeof(*out));
	return n;
}
