/*
 * dtmf_win.c — analysis of one 35 ms window of the DTMF detector (see dtmf_det.c for
 * the whole design): is it one DTMF digit, and which?
 *
 * In order, cheapest first: the window's power reaches the minimum level; the energy
 * envelope is flat (each sub-block within -3/+3 dB of the mean); the strongest tone
 * of each group, located on a frequency grid (-6..+6 % in 0.5 % steps, Hann-weighted
 * over the 6 filtered values, parabolic interpolation), is within freq_tol_pct; both
 * tones reach the minimum level; the twist is within limits; the two tones carry
 * purity_min of the power; both are present in every sub-block; they are not a note
 * and its octave; and probes find no other member of a harmonic series (unclean()).
 */
#include "dtmf_det.h"
#include "dtmf_tab.h"

#include <math.h>

#define ENV_LOW    0.5f  /* sub-block energy / window mean, lower bound */
#define ENV_HIGH   2.0f  /* upper bound */
#define OCTAVE_GUARD 0.008f /* |high/low - 2| / 2 below this is a note and its octave */
#define PROBE_MAX   0.0316f /* probe power / reference tone power, upper bound (-15 dB) */
#define PROBE_CLEAR 99.0f   /* Hz a probe must keep from both tones to be measured */
#define PROBE_LOW   480.0f  /* Hz: probes below are not measured */
#define PROBE_HIGH  3700.0f /* Hz: probes above are not measured */
#define PROBE_STEP  50.0f   /* Hz between probes scanning the gap between the tones */

void dtmf_win_setup(struct dtmf_det *d)
{
	for (int t = 0; t < NTONES; t++) {
		double w = 2.0 * M_PI * dtmf_tab_freq[t] / DTMF_RATE;

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
	for (int j = 0; j < SPAN; j++)
		d->ewin[j] = 0.5f * ((j < WIN ? d->win[j] : 0.0f) + (j ? d->win[j - 1] : 0.0f));
	d->hann_sum = 0.0f;
	for (int n = 0; n < NSPAN; n++) {
		double s = sin(M_PI * (n + 0.5) / NSPAN);

		d->hann[n] = (float)(s * s);
		d->hann_sum += d->hann[n];
	}
}

static float pow_to_dbm0(float p)
{
	if (p <= 0.0f)
		return -120.0f;
	return (float)(FULL_SCALE_DBM0 + 10.0 * log10(p / FULL_SCALE_POW));
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

int dtmf_win_analyse(struct dtmf_det *d)
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
