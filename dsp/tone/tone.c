/*
 * tone.c — single-frequency tone detector: analysis and tracking (see tone.h).
 *
 * DESIGN
 * Every 10 ms (80 samples) the last 32 ms (256 samples) are Hann-windowed and
 * transformed. In the telephone band (300-3,400 Hz) the median bin power estimates
 * the noise floor; the strongest bin between 300 and 2,300 Hz is the tone candidate.
 * A hop is "tonal" when, once that floor is subtracted, at least min_purity of the
 * band's energy lies within +-2 bins of the peak and the tone is loud enough; its
 * frequency is refined by interpolating the log spectrum around the peak. Speech
 * spreads its energy over several harmonics and moves them, so it seldom stays
 * tonal; wideband noise is removed by the floor subtraction.
 *
 * Consecutive tonal hops at one frequency (within max(8 Hz, 0.6 %)) are one tone:
 * three confirm it, gaps of up to GAP_MAX hops are bridged (phase reversals,
 * dropouts), and two hops agreeing on a new frequency end it and start the next (SIT
 * tones follow one another with no gap). A tone that ends is measured and judged by
 * tone_seg.c, and runs of tones are read by tone_run.c. Blocks far below the
 * quietest tone are not transformed at all.
 */
#include "tone_priv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BIN_HZ        (TONE_RATE / TONE_FFT_N)
#define K_BAND_LO     10    /* 312 Hz: telephone band used for totals */
#define K_BAND_HI     108   /* 3,375 Hz */
#define K_PEAK_LO     10    /* tones are searched in 312 .. 2,281 Hz */
#define K_PEAK_HI     73
#define CONFIRM_HOPS  3
#define GAP_MAX       4
#define RUN_HOLD_MS   100.0 /* a run ends this long after its last tone */

void tone_params_init(struct tone_params *p)
{
	p->beep_min_hz = 390.0f;
	p->beep_max_hz = 2110.0f;
	p->beep_min_ms = 65;
	p->beep_max_ms = 2100;
	p->min_level_db = -50.0f;
	p->min_purity = 0.80f;
	p->ced_min_ms = 400;
}

const char *tone_event_name(enum tone_event_type t)
{
	switch (t) {
	case TONE_EV_BEEP:    return "BEEP";
	case TONE_EV_FAX_CNG: return "FAX_CNG";
	case TONE_EV_FAX_CED: return "FAX_CED";
	case TONE_EV_SIT:     return "SIT";
	}
	return "?";
}

static float tolerance(float f)
{
	float t = 0.006f * f;

	return t > 8.0f ? t : 8.0f;
}

static float band_energy(const float *pow, int k)
{
	float e = 0;

	for (int i = k - 2; i <= k + 2; i++)
		if (i >= 0 && i < TONE_FFT_BINS)
			e += pow[i];
	return e;
}

/* The k-th smallest of v[0..n-1] (v is reordered): Hoare's selection, O(n). */
static float select_kth(float *v, int n, int k)
{
	int lo = 0, hi = n - 1;

	while (lo < hi) {
		float pivot = v[(lo + hi) / 2];
		int i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				float t = v[i];

				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* ---- the tone being tracked --------------------------------------------------- */

/* Approximate start of the tone being tracked (its edges are fixed when it ends). */
static double cur_start_est(const struct tone_det *td)
{
	return tone_seg_t(&td->cur, td->cur.npre) - TONE_HALF_MS;
}

static void cur_end(struct tone_det *td, bool eos)
{
	tone_seg_close(&td->cur, eos, tone_now_ms(td));
	tone_run_add(td, &td->cur);
	td->active = false;
	td->confirmed = false;
	td->ced_sent = false;
}

/* Starts a candidate at frequency f whose last `ntonal` hops (this one included)
 * were tonal; the rise before it comes from the spectrum history. */
static void cur_start(struct tone_det *td, double t, float f, int ntonal, double fsum)
{
	struct tone_seg *s = &td->cur;
	int back = ntonal - 1 + TONE_PRE;

	memset(s, 0, sizeof(*s));
	s->k = (int)lroundf(f / (float)BIN_HZ);
	if (back > td->hist_n)
		back = td->hist_n;
	s->t0_ms = t - TONE_HOP_MS * back;
	for (int i = back; i > 0; i--) {
		int slot = (td->hist_pos - i + TONE_HIST) % TONE_HIST;

		tone_seg_push(s, band_energy(td->hist[slot], s->k), 0, 0);
	}
	s->npre = back - (ntonal - 1);
	tone_seg_push(s, band_energy(td->pow, s->k), f, td->purity);
	s->ntonal = ntonal;
	s->fsum = fsum;
	s->freq_hz = (float)(fsum / ntonal);
	s->last_tonal = s->nh - 1;
	td->active = true;
	td->confirmed = ntonal >= CONFIRM_HOPS;
}

/* One analysis hop: t is the window centre (ms); tonal/f describe this hop. */
static void hop(struct tone_det *td, double t, bool tonal, float f)
{
	if (td->active) {
		struct tone_seg *s = &td->cur;
		bool same = tonal && fabsf(f - s->freq_hz) <= tolerance(s->freq_hz);

		tone_seg_push(s, band_energy(td->pow, s->k), same ? f : 0, same ? td->purity : 0);
		if (same) {
			s->fsum += f;
			s->ntonal++;
			s->freq_hz = (float)(s->fsum / s->ntonal);
			s->gap = 0;
			s->nnext = 0;
			s->last_tonal = s->nh - 1;
			if (!td->confirmed && s->ntonal >= CONFIRM_HOPS) {
				td->confirmed = true;
				if (td->nchain && cur_start_est(td) -
				    td->chain[td->nchain - 1].end_ms > TONE_RUN_GAP_MS)
					tone_run_close(td);
			}
			if (td->confirmed)
				tone_run_sounding(td, t, cur_start_est(td));
			return;
		}
		s->gap++;
		if (tonal && s->nnext &&
		    fabsf(f - (float)(s->next_fsum / s->nnext)) <= tolerance(f)) {
			s->nnext++;
			s->next_fsum += f;
		} else if (tonal) {
			s->nnext = 1;
			s->next_fsum = f;
		} else {
			s->nnext = 0;
		}
		if (!td->confirmed) {
			td->active = false;            /* a candidate must not stutter */
		} else if (s->gap > GAP_MAX || s->nnext >= 2) {
			int n = s->nnext;
			double fs = s->next_fsum;

			cur_end(td, false);
			if (n >= 2) {
				cur_start(td, t, f, n, fs);
				return;
			}
		} else {
			return;
		}
	}
	if (tonal)
		cur_start(td, t, f, 1, f);
}

static void analyse(struct tone_det *td)
{
	double t = tone_now_ms(td) - TONE_HALF_MS, ms = 0;
	bool tonal = false;
	float f = 0;

	for (unsigned i = 0; i < TONE_FFT_N; i++) {
		float x = td->ring[(td->ring_pos + i) % TONE_FFT_N];

		ms += (double)x * x;
		td->buf[i] = x * td->win[i];
	}
	ms /= TONE_FFT_N;
	if (ms < td->gate_ms) {
		memset(td->pow, 0, sizeof(td->pow));
	} else {
		float *pw = td->pow, nf, etot = 0, eb, purity;
		int k = K_PEAK_LO, nb = K_BAND_HI - K_BAND_LO + 1;

		tone_fft_power(&td->fft, td->buf, pw);
		memcpy(td->sortbuf, pw + K_BAND_LO, sizeof(float) * (size_t)nb);
		nf = select_kth(td->sortbuf, nb, nb / 2);
		for (int i = K_BAND_LO; i <= K_BAND_HI; i++)
			etot += pw[i];
		for (int i = K_PEAK_LO + 1; i <= K_PEAK_HI; i++)
			if (pw[i] > pw[k])
				k = i;
		eb = band_energy(pw, k);
		etot -= nf * (float)nb;
		purity = etot > 0 ? (eb - 5.0f * nf) / etot : 0;
		td->purity = purity;
		if (purity >= td->p.min_purity && tone_level_db(eb) >= td->p.min_level_db &&
		    k > K_PEAK_LO && k < K_PEAK_HI) {
			double a = log(pw[k - 1] + 1e-9), b = log(pw[k] + 1e-9),
			       c = log(pw[k + 1] + 1e-9), den = a - 2 * b + c;
			double d = den < 0 ? 0.5 * (a - c) / den : 0;

			f = (float)((k + d) * BIN_HZ);
			tonal = true;
		}
	}
	hop(td, t, tonal, f);
	memcpy(td->hist[td->hist_pos], td->pow, sizeof(td->pow));
	td->hist_pos = (td->hist_pos + 1) % TONE_HIST;
	if (td->hist_n < TONE_HIST)
		td->hist_n++;
	if (td->nchain && !(td->active && td->confirmed) &&
	    t - td->chain[td->nchain - 1].end_ms > RUN_HOLD_MS)
		tone_run_close(td);
}

/* ---- public ----------------------------------------------------------------- */

static void tables_init(struct tone_det *td)
{
	tone_fft_init(&td->fft);
	for (int i = 0; i < TONE_FFT_N; i++)
		td->win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (i + 0.5) / TONE_FFT_N));
	/* Blocks 6 dB quieter than the quietest tone are not transformed at all. */
	td->gate_ms = TONE_FULL2 * pow(10.0, (td->p.min_level_db - 6.0) / 10.0);
}

int tone_det_create(struct tone_det **tdp, const struct tone_params *p, tone_h *h, void *arg)
{
	struct tone_det *td;

	if (!tdp)
		return EINVAL;
	*tdp = NULL;
	if (p && (p->beep_min_hz >= p->beep_max_hz || p->beep_min_ms > p->beep_max_ms ||
		  p->min_purity <= 0 || p->min_purity > 1))
		return EINVAL;
	td = calloc(1, sizeof(*td));
	if (!td)
		return ENOMEM;
	if (p)
		td->p = *p;
	else
		tone_params_init(&td->p);
	td->h = h;
	td->arg = arg;
	tables_init(td);
	*tdp = td;
	return 0;
}

int tone_det_process(struct tone_det *td, const int16_t *s, size_t n)
{
	if (!td || (!s && n))
		return EINVAL;
	if (td->finished)
		return 0;
	for (size_t i = 0; i < n; i++) {
		td->ring[td->ring_pos] = s[i];
		td->ring_pos = (td->ring_pos + 1) % TONE_FFT_N;
		td->samples++;
		if (++td->since_hop == TONE_HOP) {
			td->since_hop = 0;
			analyse(td);
		}
	}
	return 0;
}

void tone_det_finish(struct tone_det *td)
{
	if (!td || td->finished)
		return;
	if (td->active && td->confirmed)
		cur_end(td, true);
	td->active = false;
	tone_run_close(td);
	td->finished = true;
}

bool tone_det_busy(const struct tone_det *td)
{
	return td && ((td->active && td->confirmed) || td->nchain > 0);
}

void tone_det_reset(struct tone_det *td)
{
	struct tone_params p;
	tone_h *h;
	void *arg;

	if (!td)
		return;
	p = td->p;
	h = td->h;
	arg = td->arg;
	memset(td, 0, sizeof(*td));
	td->p = p;
	td->h = h;
	td->arg = arg;
	tables_init(td);
}

void tone_det_destroy(struct tone_det *td)
{
	free(td);
}
