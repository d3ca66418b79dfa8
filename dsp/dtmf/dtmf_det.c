/*
 * dtmf_det.c — streaming Q.24 DTMF detector (see dtmf.h).
 *
 * DESIGN
 * The audio (DC removed) is cut into 5 ms sub-blocks of 40 samples, aligned on the
 * absolute sample count. For each sub-block we keep its energy and, for each of the 8
 * DTMF frequencies, complex correlations referred to absolute time: a complex baseband
 * of each tone decimated to 200 Hz (a triangular 10 ms anti-alias taper, see struct
 * sub). Everything works on these numbers, computed once per whole sub-block, so the
 * results do not depend on how the caller cuts the audio.
 *
 * Every 5 ms the last 35 ms (7 sub-blocks) are analysed as one window:
 *  - the energy envelope must be flat (each sub-block within -3/+3 dB of the mean)
 *    and both tones present in every sub-block: a window the tone only partly covers
 *    is not a tone, which sets the duration limits (a 40 ms tone always contains 7
 *    whole sub-blocks; a 23 ms tone never covers 7 of them even half);
 *  - the strongest tone of each group is located on a fine frequency grid
 *    (-6 %..+6 % in 0.5 % steps, Hann-weighted, parabolic interpolation; error below
 *    0.2 % at the Q.24 edges): its frequency error must be within freq_tol_pct
 *    whatever the tone's duration, the sharp 1.5 % accept / 3.5 % reject edge that
 *    magnitude roll-off alone cannot give at 697 Hz;
 *  - per-tone level, twist and purity (the two tones' share of the window power);
 *  - talk-off guards: no note-and-octave pair, and narrowband probes where the other
 *    members of a harmonic series would be (see unclean()).
 * min_hits consecutive windows naming the same digit start it.
 * An active digit stays on while its tones are present in each sub-block; gap_ms of
 * absence ends it (a 10 ms dropout spans at most 3 sub-blocks and is bridged, a 40 ms
 * pause spans at least 7). Start and end are refined to ~1 ms from the energy of the
 * partly covered sub-block at each edge.
 */
#include "dtmf.h"
#include "dtmf_tab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUB        40   /* samples per sub-block (5 ms) */
#define WIN        6    /* filtered values per analysis window */
#define SPAN       (WIN + 1) /* sub-blocks an analysis window spans (35 ms) */
#define HIST       32   /* sub-blocks of history kept, for the walk back to a tone's start */
#define NGRID      25   /* frequency grid points */
#define GRID_STEP  0.005 /* grid spacing, fraction of the nominal frequency */
#define NTONES     8

#define ENV_LOW    0.5f  /* sub-block energy / window mean, lower bound */
#define ENV_HIGH   2.0f  /* upper bound */
#define SUB_SHARE  0.4f  /* both tones' share of a sub-block's power, lower bound */
#define ON_ENERGY  0.35f /* sub-block energy / reference for an active digit */
#define DC_POLE    0.995f
#define OCTAVE_GUARD 0.008f /* |high/low - 2| / 2 below this is a note and its octave */
#define PROBE_MAX   0.0316f /* probe power / reference tone power, upper bound (-15 dB) */
#define PROBE_CLEAR 99.0f   /* Hz a probe must keep from both tones to be measured */
#define PROBE_LOW   480.0f  /* Hz: probes below are not measured */
#define PROBE_HIGH  3700.0f /* Hz: probes above are not measured */
#define PROBE_STEP  50.0f   /* Hz between probes scanning the gap between the tones */
#define NSPAN      (SPAN * SUB) /* samples an analysis window spans */

#define FULL_SCALE_POW (32767.0 * 32767.0 / 2.0) /* power of a full-scale sine */
#define FULL_SCALE_DBM0 3.14

/*
 * One sub-block. Correlations are referred to absolute time (phase continuous from
 * one sub-block to the next). b is the plain sum over the sub-block (5 ms boxcar);
 * c is the sum over this sub-block and the previous one with a triangular taper
 * (10 ms), whose sidelobes keep the other group's tone from aliasing into the
 * 200 Hz decimated baseband (with the boxcar it biased the frequency estimate by up
 * to 0.4 %).
 */
struct sub {
	float e;               /* energy: sum of x^2 over the sub-block */
	float b[NTONES][2];    /* boxcar correlation with each tone */
	float r[NTONES][2];    /* the rising half of the taper over this sub-block */
	float c[NTONES][2];    /* tapered correlation over the previous and this one */
};

struct dtmf_det {
	struct dtmf_det_params p;
	dtmf_det_h *h;
	void *arg;

	/* constants derived at create */
	/* e^{-j w m} for m = 0..SUB-1, real and imaginary parts, and the same times the
	 * rising taper (m + 0.5) / SUB; tone index last so the 8 tones vectorise. */
	float tab_re[SUB][NTONES], tab_im[SUB][NTONES];
	float tabr_re[SUB][NTONES], tabr_im[SUB][NTONES];
	double step[NTONES][2];       /* e^{-j w SUB}: phase advance per sub-block */
	float grid[NTONES][NGRID][2]; /* e^{-j dw SUB} for each grid offset dw */
	float win[WIN];               /* window weights, oldest first */
	float ewin[SPAN];             /* the matching weight of each sub-block's energy */
	float win_sum;
	float hann[NSPAN];            /* taper for the probes of unclean() */
	float hann_sum;
	float xw[NSPAN];              /* the span's samples times hann (scratch) */
	float min_pow;                /* per-tone power at min_level, sample units^2 */
	float twist_min, twist_max;   /* power ratios high/low */
	unsigned n_gap;               /* sub-blocks of absence that end a digit */

	/* stream state */
	float buf[SUB];
	unsigned fill;
	float dc_x1, dc_y1;
	double rot[NTONES][2];        /* phase reference of the current sub-block */
	uint64_t nsub;                /* sub-blocks completed */
	struct sub ring[HIST];
	float xs[SPAN][SUB];          /* samples of the last SPAN sub-blocks */

	int last_hit;                 /* digit index of the previous window, -1 none */
	unsigned hit_run;             /* consecutive windows naming last_hit */
	struct dtmf_event hit_ev;     /* measurements of the latest hit window */

	int active;                   /* digit index sounding, -1 none */
	struct dtmf_event ev;         /* the active digit's event */
	float e_ref;                  /* reference sub-block energy of the active tone */
	uint64_t last_on;             /* last sub-block where the tone was present */
	unsigned absent;              /* consecutive sub-blocks without the tone */
};

void dtmf_det_params_default(struct dtmf_det_params *params)
{
	if (!params)
		return;
	params->min_level_dbm0 = -36.0f;
	params->twist_min_db = -10.0f;
	params->twist_max_db = 6.0f;
	params->freq_tol_pct = 2.0f;
	params->purity_min = 0.8f;
	params->min_hits = 1;
	params->gap_ms = 20;
}

static int params_check(const struct dtmf_det_params *p)
{
	if (!(p->min_level_dbm0 >= -60.0f && p->min_level_dbm0 <= 0.0f))
		return EINVAL;
	if (!(p->twist_min_db >= -20.0f && p->twist_min_db <= 0.0f))
		return EINVAL;
	if (!(p->twist_max_db >= 0.0f && p->twist_max_db <= 20.0f))
		return EINVAL;
	if (!(p->freq_tol_pct > 0.0f && p->freq_tol_pct <= 5.0f))
		return EINVAL;
	if (!(p->purity_min > 0.0f && p->purity_min < 1.0f))
		return EINVAL;
	if (p->min_hits < 1 || p->min_hits > 8)
		return EINVAL;
	if (p->gap_ms < 5 || p->gap_ms > 100)
		return EINVAL;
	return 0;
}

static float dbm0_to_pow(double dbm0)
{
	return (float)(FULL_SCALE_POW * pow(10.0, (dbm0 - FULL_SCALE_DBM0) / 10.0));
}

static float pow_to_dbm0(float p)
{
	if (p <= 0.0f)
		return -120.0f;
	return (float)(FULL_SCALE_DBM0 + 10.0 * log10(p / FULL_SCALE_POW));
}

static void setup(struct dtmf_det *d)
{
	for (int t = 0; t < NTONES; t++) {
		double w = 2.0 * M_PI * dtmf_tab_freq[t] / DTMF_RATE;

		for (int m = 0; m < SUB; m++) {
			double r = (m + 0.5) / SUB;

			d->tab_re[m][t] = (float)cos(w * m);
			d->tab_im[m][t] = (float)-sin(w * m);
			d->tabr_re[m][t] = (float)(r * cos(w * m));
			d->tabr_im[m][t] = (float)(r * -sin(w * m));
		}
		d->step[t][0] = cos(w * SUB);
		d->step[t][1] = -sin(w * SUB);
		for (int g = 0; g < NGRID; g++) {
			double dw = w * GRID_STEP * (g - NGRID / 2);

			d->grid[t][g][0] = (float)cos(dw * SUB);
			d->grid[t][g][1] = (float)-sin(dw * SUB);
		}
	}
	d->win_sum = 0.0f;
	for (int k = 0; k < WIN; k++) {
		double s = sin(M_PI * (k + 0.5) / WIN);

		d->win[k] = (float)(s * s);
		d->win_sum += d->win[k];
	}
	d->hann_sum = 0.0f;
	for (int n = 0; n < NSPAN; n++) {
		double s = sin(M_PI * (n + 0.5) / NSPAN);

		d->hann[n] = (float)(s * s);
		d->hann_sum += d->hann[n];
	}
	for (int j = 0; j < SPAN; j++)
		d->ewin[j] = 0.5f * ((j < WIN ? d->win[j] : 0.0f) + (j ? d->win[j - 1] : 0.0f));
	d->min_pow = dbm0_to_pow(d->p.min_level_dbm0);
	d->twist_min = (float)pow(10.0, d->p.twist_min_db / 10.0);
	d->twist_max = (float)pow(10.0, d->p.twist_max_db / 10.0);
	d->n_gap = (d->p.gap_ms * (DTMF_RATE / 1000) + SUB - 1) / SUB;
}

void dtmf_det_reset(struct dtmf_det *d)
{
	if (!d)
		return;
	d->fill = 0;
	d->dc_x1 = 0.0f;
	d->dc_y1 = 0.0f;
	for (int t = 0; t < NTONES; t++) {
		d->rot[t][0] = 1.0;
		d->rot[t][1] = 0.0;
	}
	d->nsub = 0;
	memset(d->ring, 0, sizeof(d->ring));
	d->last_hit = -1;
	d->hit_run = 0;
	d->active = -1;
	d->absent = 0;
}

int dtmf_det_create(struct dtmf_det **detp, const struct dtmf_det_params *params,
		    dtmf_det_h *handler, void *arg)
{
	struct dtmf_det *d;
	int err;

	if (!detp || !handler)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	if (params)
		d->p = *params;
	else
		dtmf_det_params_default(&d->p);
	err = params_check(&d->p);
	if (err)
		goto out;
	d->h = handler;
	d->arg = arg;
	setup(d);
	dtmf_det_reset(d);
	*detp = d;
	return 0;
out:
	free(d);
	return err;
}

void dtmf_det_destroy(struct dtmf_det *det)
{
	free(det);
}

static struct sub *sub_at(struct dtmf_det *d, uint64_t k)
{
	return &d->ring[k % HIST];
}

/* Power of tone t in sub-block s, in the units of a tone's A^2/2. */
static float sub_tone_pow(const struct sub *s, int t)
{
	return 2.0f * (s->b[t][0] * s->b[t][0] + s->b[t][1] * s->b[t][1]) /
	       (float)(SUB * SUB);
}

/* True when the pair (lo, hi) carries its share of sub-block s's power. */
static bool sub_has_pair(const struct sub *s, int lo, int hi)
{
	float mean = s->e / SUB;

	return sub_tone_pow(s, lo) + sub_tone_pow(s, hi) >= SUB_SHARE * mean && mean > 0.0f;
}

/* Power (A^2/2 units) of tone t at grid point g over the window from `first`. */
static float grid_pow(struct dtmf_det *d, uint64_t first, int t, int g)
{
	float norm = 2.0f / ((float)SUB * d->win_sum * (float)SUB * d->win_sum);
	float zr = 0.0f, zi = 0.0f;
	float rr = d->grid[t][g][0], ri = d->grid[t][g][1];

	/* Horner: sum_k w_k c_k r^k, newest first. */
	for (int k = WIN - 1; k >= 0; k--) {
		const struct sub *s = sub_at(d, first + (uint64_t)k);
		float nr = zr * rr - zi * ri + d->win[k] * s->c[t][0];
		float ni = zr * ri + zi * rr + d->win[k] * s->c[t][1];

		zr = nr;
		zi = ni;
	}
	return (zr * zr + zi * zi) * norm;
}

/*
 * Locates tone t's peak within the window on the frequency grid, climbing from the
 * nominal frequency (a tone within the grid lies inside the window's main lobe seen
 * from there, so the climb ends on its peak).
 * @param first  oldest filtered value of the window
 * @param powp   receives the peak power (A^2/2 units)
 * @return the frequency error as a fraction of nominal (grid edge = out of range)
 */
static float refine(struct dtmf_det *d, uint64_t first, int t, float *powp)
{
	float pw[NGRID];
	int best = NGRID / 2, dir;

	pw[best] = grid_pow(d, first, t, best);
	pw[best - 1] = grid_pow(d, first, t, best - 1);
	pw[best + 1] = grid_pow(d, first, t, best + 1);
	dir = pw[best + 1] > pw[best - 1] ? 1 : -1;
	while (pw[best + dir] > pw[best]) {
		best += dir;
		if (best == 0 || best == NGRID - 1)
			break;
		pw[best + dir] = grid_pow(d, first, t, best + dir);
	}
	*powp = pw[best];
	if (best == 0 || best == NGRID - 1)
		return (float)(GRID_STEP * (best - NGRID / 2));
	{
		/* Parabola through the log powers around the peak. */
		float a = logf(pw[best - 1] + 1e-9f), b = logf(pw[best] + 1e-9f);
		float c = logf(pw[best + 1] + 1e-9f);
		float den = a - 2.0f * b + c;
		float off = den < 0.0f ? 0.5f * (a - c) / den : 0.0f;

		return (float)(GRID_STEP * ((float)(best - NGRID / 2) + off));
	}
}

/* Power (A^2/2 units) at freq Hz in d->xw, the windowed span (Goertzel). */
static float probe_pow(const struct dtmf_det *d, float freq)
{
	float c = 2.0f * (float)cos(2.0 * M_PI * freq / DTMF_RATE);
	float s1 = 0.0f, s2 = 0.0f;

	for (int n = 0; n < NSPAN; n++) {
		float s0 = d->xw[n] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return 2.0f * (s1 * s1 + s2 * s2 - c * s1 * s2) / (d->hann_sum * d->hann_sum);
}

/* Compares the power at f with ref * PROBE_MAX; probes out of range pass. */
static bool probe_loud(const struct dtmf_det *d, float f, float ref, float f_lo, float f_hi)
{
	if (f < PROBE_LOW || f > PROBE_HIGH || fabsf(f - f_lo) < PROBE_CLEAR ||
	    fabsf(f - f_hi) < PROBE_CLEAR)
		return false;
	return probe_pow(d, f) > PROBE_MAX * ref;
}

/*
 * True when the spectrum around the two tones is not clean. A DTMF signal is two pure
 * tones; the notes of instruments and the voiced sounds of speech are harmonic series,
 * and two members of a series can fall on a DTMF pair (ratios such as 4:3, 5:4, 3:2,
 * 8:5 sit close to pairs). The rest of the series then shows at predictable places:
 *  - the 2nd and 3rd harmonics of each tone (compared with that tone);
 *  - for two consecutive members, their neighbours 2 f_lo - f_hi and 2 f_hi - f_lo;
 *  - otherwise, members between the two tones: probes every PROBE_STEP Hz there
 *    (these compared with the weaker tone).
 * Each probe is narrowband (a Hann-windowed Goertzel over the 35 ms span), so it sees
 * a component 15 dB down where the broadband purity test cannot tell it from noise:
 * white noise 15 dB below the tones puts about -30 dB into a probe. Probes too close
 * to a tone, below PROBE_LOW (dial tones at 350-450 Hz may sound with a digit) or
 * above PROBE_HIGH are skipped.
 */
static bool unclean(struct dtmf_det *d, uint64_t efirst, float f_lo, float f_hi)
{
	float p_lo, p_hi, weak, gap;
	int n = 0, steps;

	for (int j = 0; j < SPAN; j++) {
		const float *x = d->xs[(efirst + (uint64_t)j) % SPAN];

		for (int m = 0; m < SUB; m++, n++)
			d->xw[n] = d->hann[n] * x[m];
	}
	p_lo = probe_pow(d, f_lo);
	p_hi = probe_pow(d, f_hi);
	weak = p_lo < p_hi ? p_lo : p_hi;
	if (probe_loud(d, 2.0f * f_lo, p_lo, f_lo, f_hi) ||
	    probe_loud(d, 3.0f * f_lo, p_lo, f_lo, f_hi) ||
	    probe_loud(d, 2.0f * f_hi, p_hi, f_lo, f_hi) ||
	    probe_loud(d, 3.0f * f_hi, p_hi, f_lo, f_hi) ||
	    probe_loud(d, 2.0f * f_lo - f_hi, weak, f_lo, f_hi) ||
	    probe_loud(d, 2.0f * f_hi - f_lo, weak, f_lo, f_hi))
		return true;
	gap = f_hi - f_lo - 2.0f * PROBE_CLEAR;
	steps = (int)ceilf(gap / PROBE_STEP);
	for (int i = 0; i <= steps; i++) {
		float f = f_lo + PROBE_CLEAR + gap * (float)i / (float)(steps ? steps : 1);

		if (probe_loud(d, f, weak, f_lo, f_hi))
			return true;
	}
	return false;
}

/*
 * Analyses the window ending with the newest sub-block.
 * @return the digit index (0-15) it shows, or -1; fills d->hit_ev on a hit
 */
static int analyse(struct dtmf_det *d)
{
	uint64_t first = d->nsub - WIN;   /* oldest filtered value */
	uint64_t efirst = d->nsub - SPAN; /* oldest sub-block spanned */
	float mean_e = 0.0f, pw_tot = 0.0f, best_lo = 0.0f, best_hi = 0.0f;
	float norm = 2.0f / ((float)SUB * d->win_sum * (float)SUB * d->win_sum);
	float p_lo, p_hi, err_lo, err_hi, ratio, tol = d->p.freq_tol_pct / 100.0f;
	int lo = 0, hi = 4;

	for (int j = 0; j < SPAN; j++) {
		const struct sub *s = sub_at(d, efirst + (uint64_t)j);

		mean_e += s->e;
		pw_tot += d->ewin[j] * s->e;
	}
	mean_e /= SPAN;
	pw_tot /= (float)SUB * d->win_sum;
	if (pw_tot < d->min_pow)
		return -1;
	for (int j = 0; j < SPAN; j++) {
		float e = sub_at(d, efirst + (uint64_t)j)->e;

		if (e < ENV_LOW * mean_e || e > ENV_HIGH * mean_e)
			return -1;
	}
	for (int t = 0; t < NTONES; t++) {
		float zr = 0.0f, zi = 0.0f, pw;

		for (int k = 0; k < WIN; k++) {
			const struct sub *s = sub_at(d, first + (uint64_t)k);

			zr += d->win[k] * s->c[t][0];
			zi += d->win[k] * s->c[t][1];
		}
		pw = (zr * zr + zi * zi) * norm;
		if (t < 4 && pw > best_lo) {
			best_lo = pw;
			lo = t;
		} else if (t >= 4 && pw > best_hi) {
			best_hi = pw;
			hi = t;
		}
	}
	/* Cheap early exit: even a perfect peak cannot reach the purity needed. */
	if ((best_lo + best_hi) < 0.5f * d->p.purity_min * pw_tot)
		return -1;
	/* While a digit sounds, a window that looks like it only needs to say so. */
	if (lo * 4 + hi - 4 == d->active)
		return d->active;
	err_lo = refine(d, first, lo, &p_lo);
	err_hi = refine(d, first, hi, &p_hi);
	if (fabsf(err_lo) > tol || fabsf(err_hi) > tol)
		return -1;
	if (p_lo < d->min_pow || p_hi < d->min_pow)
		return -1;
	if (p_hi < d->twist_min * p_lo || p_hi > d->twist_max * p_lo)
		return -1;
	if (p_lo + p_hi < d->p.purity_min * pw_tot)
		return -1;
	/*
	 * A single note and its second harmonic: 852 + 1633 Hz ("C"; also "2" and "6")
	 * are 4.3 % short of an octave, which two errors within the tolerance can
	 * bridge. A true digit within +-1.5 % stays 1.3 % away from 2:1.
	 */
	ratio = dtmf_tab_freq[hi] * (1.0f + err_hi) / (dtmf_tab_freq[lo] * (1.0f + err_lo));
	if (fabsf(ratio - 2.0f) < 2.0f * OCTAVE_GUARD)
		return -1;
	for (int j = 0; j < SPAN; j++) {
		if (!sub_has_pair(sub_at(d, efirst + (uint64_t)j), lo, hi))
			return -1;
	}
	if (unclean(d, efirst, dtmf_tab_freq[lo] * (1.0f + err_lo),
		    dtmf_tab_freq[hi] * (1.0f + err_hi)))
		return -1;
	d->hit_ev.level_low_dbm0 = pow_to_dbm0(p_lo);
	d->hit_ev.level_high_dbm0 = pow_to_dbm0(p_hi);
	d->hit_ev.freq_err_low_pct = err_lo * 100.0f;
	d->hit_ev.freq_err_high_pct = err_hi * 100.0f;
	return lo * 4 + (hi - 4);
}

/* Fraction (0..1) of sub-block k that the active tone covers, from its energy. */
static float cover(struct dtmf_det *d, uint64_t k)
{
	float f = sub_at(d, k)->e / d->e_ref;

	return f < 0.0f ? 0.0f : (f > 1.0f ? 1.0f : f);
}

static bool tone_on(struct dtmf_det *d, uint64_t k, int digit)
{
	const struct sub *s = sub_at(d, k);

	return s->e >= ON_ENERGY * d->e_ref && sub_has_pair(s, digit / 4, 4 + digit % 4);
}

static void end_digit(struct dtmf_det *d, uint64_t end)
{
	d->ev.type = DTMF_EV_END;
	d->ev.end = end;
	d->active = -1;
	d->absent = 0;
	d->h(&d->ev, d->arg);
}

static void begin_digit(struct dtmf_det *d, int digit)
{
	uint64_t newest = d->nsub - 1;
	uint64_t k = d->nsub - SPAN - (d->hit_run - 1); /* first sub-block of the run */
	uint64_t oldest = d->nsub > HIST ? d->nsub - HIST : 0;
	float e = 0.0f;

	for (uint64_t i = d->nsub - SPAN; i <= newest; i++)
		e += sub_at(d, i)->e;
	d->e_ref = e / SPAN;
	/* Walk back to the tone's first sub-block, across dropouts as track() bridges. */
	for (;;) {
		uint64_t j = k;

		while (j > oldest && j + d->n_gap > k + 1 && !tone_on(d, j - 1, digit))
			j--;
		if (j > oldest && tone_on(d, j - 1, digit))
			k = j - 1;
		else
			break;
	}
	d->ev = d->hit_ev;
	d->ev.type = DTMF_EV_BEGIN;
	d->ev.digit = dtmf_tab_digit[digit];
	/* Sub-block k may be partly covered itself, or the one before it. */
	d->ev.start = (k + 1) * SUB - (uint64_t)lrintf(cover(d, k) * SUB);
	if (k > oldest)
		d->ev.start -= (uint64_t)lrintf(cover(d, k - 1) * SUB);
	d->ev.end = d->nsub * SUB;
	d->active = digit;
	d->last_on = newest;
	d->absent = 0;
	d->h(&d->ev, d->arg);
}

static void track(struct dtmf_det *d, int hit)
{
	uint64_t k = d->nsub - 1;

	if (hit >= 0 && hit == d->last_hit) {
		d->hit_run++;
	} else {
		d->last_hit = hit;
		d->hit_run = hit >= 0 ? 1 : 0;
	}
	if (d->active < 0) {
		if (hit >= 0 && d->hit_run >= d->p.min_hits)
			begin_digit(d, hit);
		return;
	}
	if (hit >= 0 && hit != d->active && d->hit_run >= d->p.min_hits) {
		/* A new digit without a pause: the old one ends where the new run began. */
		end_digit(d, (d->nsub - SPAN - (d->hit_run - 1)) * SUB);
		begin_digit(d, hit);
		return;
	}
	if (tone_on(d, k, d->active)) {
		float e = sub_at(d, k)->e;

		d->last_on = k;
		d->absent = 0;
		if (e > ENV_LOW * d->e_ref && e < ENV_HIGH * d->e_ref)
			d->e_ref += (e - d->e_ref) * 0.125f;
		return;
	}
	if (++d->absent >= d->n_gap) {
		/* The last sub-block with the tone may be partly covered, or the next. */
		uint64_t end = d->last_on * SUB + (uint64_t)lrintf(cover(d, d->last_on) * SUB);

		end += (uint64_t)lrintf(cover(d, d->last_on + 1) * SUB);
		end_digit(d, end);
	}
}

/* Computes the sub-block in d->buf and runs the detector logic on it. */
static void sub_done(struct dtmf_det *d)
{
	struct sub *s = sub_at(d, d->nsub);
	const struct sub *prev = sub_at(d, d->nsub + HIST - 1);
	float br[NTONES] = {0}, bi[NTONES] = {0}, qr[NTONES] = {0}, qi[NTONES] = {0};
	float e = 0.0f;

	for (int m = 0; m < SUB; m++)
		e += d->buf[m] * d->buf[m];
	s->e = e;
	memcpy(d->xs[d->nsub % SPAN], d->buf, sizeof(d->buf));
	for (int m = 0; m < SUB; m++) {
		float x = d->buf[m];

		for (int t = 0; t < NTONES; t++) {
			br[t] += x * d->tab_re[m][t];
			bi[t] += x * d->tab_im[m][t];
			qr[t] += x * d->tabr_re[m][t];
			qi[t] += x * d->tabr_im[m][t];
		}
	}
	for (int t = 0; t < NTONES; t++) {
		double pr = d->rot[t][0], pi = d->rot[t][1], nr, ni, mag;

		s->b[t][0] = (float)(br[t] * pr - bi[t] * pi);
		s->b[t][1] = (float)(br[t] * pi + bi[t] * pr);
		s->r[t][0] = (float)(qr[t] * pr - qi[t] * pi);
		s->r[t][1] = (float)(qr[t] * pi + qi[t] * pr);
		/* Falling half here (b - r) plus the rising half of the previous one. */
		s->c[t][0] = prev->r[t][0] + s->b[t][0] - s->r[t][0];
		s->c[t][1] = prev->r[t][1] + s->b[t][1] - s->r[t][1];
		nr = pr * d->step[t][0] - pi * d->step[t][1];
		ni = pr * d->step[t][1] + pi * d->step[t][0];
		mag = sqrt(nr * nr + ni * ni);
		d->rot[t][0] = nr / mag;
		d->rot[t][1] = ni / mag;
	}
	d->nsub++;
	d->fill = 0;
	track(d, d->nsub >= SPAN ? analyse(d) : -1);
}

int dtmf_det_process(struct dtmf_det *det, const int16_t *samples, size_t count)
{
	struct dtmf_det *d = det;

	if (!d || (!samples && count))
		return EINVAL;
	for (size_t i = 0; i < count; i++) {
		float x = samples[i];
		float y = x - d->dc_x1 + DC_POLE * d->dc_y1;

		d->dc_x1 = x;
		d->dc_y1 = y;
		d->buf[d->fill++] = y;
		if (d->fill == SUB)
			sub_done(d);
	}
	return 0;
}

void dtmf_det_flush(struct dtmf_det *det)
{
	static const int16_t zeros[SUB];

	if (!det)
		return;
	if (det->fill)
		dtmf_det_process(det, zeros, SUB - det->fill);
	for (unsigned i = 0; det->active >= 0 && i <= det->n_gap + 1; i++)
		dtmf_det_process(det, zeros, SUB);
	dtmf_det_reset(det);
}
