/*
 * tone.c — single-frequency tone detector: beeps, fax CNG/CED, SIT (see tone.h).
 *
 * DESIGN
 * Every 10 ms (80 samples) the last 32 ms (256 samples) are Hann-windowed and
 * transformed. In the telephone band (300-3,400 Hz) the median bin power estimates
 * the noise floor; the strongest bin between 300 and 2,300 Hz is the tone candidate.
 * A hop is "tonal" when, once that floor is subtracted, at least min_purity of the
 * band's energy lies within +-2 bins of the peak, and the tone is loud enough. Speech
 * spreads its energy over several harmonics and moves them within tens of ms, so it
 * rarely stays tonal; wideband noise is removed by the floor subtraction.
 *
 * Consecutive tonal hops at one frequency (within max(8 Hz, 0.6 %)) form a tone; three
 * of them confirm it, gaps of up to 4 hops are bridged (phase reversals, dropouts), and
 * two hops agreeing on a new frequency end it (SIT tones follow one another with no
 * gap). Each tone's start and end are the points where the energy in its band
 * crosses half its median level, interpolated between hops: with a symmetric
 * window that is where the window's centre crosses the tone's edge, so edges are
 * accurate to a few ms although hops are 10 ms apart.
 *
 * Finished tones that follow one another within 60 ms form a run, closed 100 ms after
 * its last tone ends. A run of three tones in the SIT bands (in order) is a SIT;
 * otherwise a run in the beep band whose length is within the beep range is a beep,
 * reported with its end; a lone 1,100 Hz burst of about 0.5 s is also a fax CNG.
 * A 2,100 Hz tone is reported as CED while it sounds, once it has lasted ced_min_ms.
 * Events describe what was heard; callers (AMD) decide what they mean in context.
 */
#include "tone_priv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RATE          8000.0
#define BIN_HZ        (RATE / TONE_FFT_N)
#define K_BAND_LO     10    /* 312 Hz: telephone band used for totals */
#define K_BAND_HI     108   /* 3,375 Hz */
#define K_PEAK_LO     10    /* tones are searched in 312 .. 2,281 Hz */
#define K_PEAK_HI     73
#define HALF_WIN_MS   16.0  /* half the analysis window */
#define HOP_MS        10.0
#define CONFIRM_HOPS  3
#define GAP_MAX       4
#define PRE_HOPS      3
#define RUN_GAP_MS    60.0
#define RUN_HOLD_MS   100.0
#define FULL_SCALE2   (32768.0 * 32768.0)
#define STEADY_MIN_HOPS 3
#define STEADY_DB     0.6
#define STEADY_HZ     1.5
#define STEADY_LONG_HOPS 10
#define STEADY_DB_LONG 1.0
#define STEADY_HZ_LONG 2.5
#define STEADY_REL    0.001
#define STEADY_PURITY 0.88f
#define EDGE_DB       12.0f

/* SIT bands (Hz) and the duration range of its first two tones (ms). */
static const float sit_band[3][2] = {{880, 1020}, {1330, 1470}, {1730, 1830}};
#define SIT_MIN_MS    200.0
#define SIT_MAX_MS    450.0
#define SIT_EARLY_MS  150.0
#define CNG_HZ        1100.0f
#define CNG_TOL_HZ    38.0f
#define CNG_MIN_MS    380.0
#define CNG_MAX_MS    700.0
#define CED_HZ        2100.0f
#define CED_TOL_HZ    25.0f

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

static double now_ms(const struct tone_det *td)
{
	return (double)td->samples * 1000.0 / RATE;
}

static uint32_t ms_u32(double ms)
{
	return ms <= 0 ? 0 : (uint32_t)lround(ms);
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

/* Mean square of a tone from its band energy: a sine of mean square P gives
 * sum |X|^2 = (N/2) * P * sum(w^2) = P * 3N^2/16 over the positive bins (Hann). */
static float level_db(float eband)
{
	double p = eband * 16.0 / (3.0 * TONE_FFT_N * TONE_FFT_N);

	return (float)(10.0 * log10(p / FULL_SCALE2 + 1e-20));
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
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

static void emit(struct tone_det *td, enum tone_event_type type, float f, float lvl,
		 double start, double end)
{
	struct tone_event ev = {
		.type = type, .freq_hz = f, .level_db = lvl,
		.start_ms = ms_u32(start), .end_ms = ms_u32(end), .now_ms = ms_u32(now_ms(td)),
	};

	if (td->h)
		td->h(&ev, td->arg);
}

/* ---- one tone: energies, edges ------------------------------------------------ */

static void seg_push(struct tone_seg *s, float e, float f, float pur)
{
	if (s->nh < TONE_HEAD) {
		s->head[s->nh] = e;
		s->fhead[s->nh] = f;
		s->phead[s->nh] = pur;
	}
	s->tail[s->nh % TONE_TAIL] = e;
	s->ftail[s->nh % TONE_TAIL] = f;
	s->ptail[s->nh % TONE_TAIL] = pur;
	s->nh++;
}

static float seg_p(const struct tone_seg *s, int i)
{
	if (i >= s->nh - TONE_TAIL && i < s->nh)
		return s->ptail[i % TONE_TAIL];
	return i < TONE_HEAD ? s->phead[i] : 0;
}

static float seg_f(const struct tone_seg *s, int i)
{
	if (i >= s->nh - TONE_TAIL && i < s->nh)
		return s->ftail[i % TONE_TAIL];
	return i < TONE_HEAD ? s->fhead[i] : 0;
}

static float seg_e(const struct tone_seg *s, int i)
{
	if (i >= s->nh - TONE_TAIL && i < s->nh)
		return s->tail[i % TONE_TAIL];
	return i < TONE_HEAD ? s->head[i] : 0;
}

static double seg_t(const struct tone_seg *s, int i)
{
	return s->t0_ms + HOP_MS * i;
}

/*
 * A beep, a fax tone or a SIT tone is a machine's steady sine: inside it (hops whose
 * window lies wholly within the tone) the level stays within STEADY_DB and the
 * frequency within max(STEADY_HZ, STEADY_REL * f). A vowel can hold one dominant
 * harmonic for a while, but its level and pitch move. Hops not kept (the middle of
 * tones longer than TONE_HEAD + TONE_TAIL hops) are not checked.
 */
static bool seg_steady(const struct tone_seg *s)
{
	double se = 0, se2 = 0, sf = 0, sf2 = 0, sd, fd;
	int n = 0, impure = 0;
	bool longer;

	for (int i = 0; i < s->nh; i++) {
		double t = seg_t(s, i), e;
		float f;

		if (i >= TONE_HEAD && i < s->nh - TONE_TAIL)
			continue;
		if (t < s->start_ms + HALF_WIN_MS + 2 || t > s->end_ms - HALF_WIN_MS - 2)
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
	sd = n ? sqrt(fmax(0, se2 / n - (se / n) * (se / n))) : 0;
	fd = n ? sqrt(fmax(0, sf2 / n - (sf / n) * (sf / n))) : 0;
	if (n < STEADY_MIN_HOPS)
		return false;
	/* Over 100 ms and more, noise may spoil a hop now and then, and a vowel can no
	 * longer pass for a tone: the limits widen a little. */
	longer = n >= STEADY_LONG_HOPS;
	return sd <= (longer ? STEADY_DB_LONG : STEADY_DB) &&
	       fd <= fmax(longer ? STEADY_HZ_LONG : STEADY_HZ, STEADY_REL * s->freq_hz) &&
	       impure <= n / 10;
}

/* Time where the energy crosses `half` between hops i and j = i + 1. */
static double cross(const struct tone_seg *s, int i, float half)
{
	float a = seg_e(s, i), b = seg_e(s, i + 1);
	double f = (a == b) ? 0.5 : (half - a) / (b - a);

	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	return seg_t(s, i) + HOP_MS * f;
}

/* Fixes start, end and level of a finished tone. `eos`: the stream ended. */
static void seg_edges(struct tone_det *td, struct tone_seg *s, bool eos)
{
	float vals[TONE_HEAD];
	int n = 0, last = s->last_tonal < TONE_HEAD ? s->last_tonal : TONE_HEAD - 1;
	float plateau, half;
	bool rise, fall;
	int i;

	for (i = s->npre; i <= last; i++)
		vals[n++] = s->head[i];
	qsort(vals, (size_t)n, sizeof(*vals), cmp_float);
	plateau = n ? vals[n / 2] : 0;
	half = 0.5f * plateau;
	s->level_db = level_db(plateau);

	/* A machine's tone rises out of something quieter and falls back when it ends;
	 * a harmonic of speech usually loses its purity while still loud. */
	s->start_ms = seg_t(s, 0) - HALF_WIN_MS;
	rise = false;
	for (i = 0; i < s->nh && i < TONE_HEAD; i++) {
		if (s->head[i] >= half) {
			/* At the very start of the stream there is no "before". */
			rise = i > 0 || s->t0_ms < HOP_MS * PRE_HOPS;
			if (i > 0)
				s->start_ms = cross(s, i - 1, half);
			break;
		}
	}
	s->end_ms = eos ? now_ms(td) : seg_t(s, s->nh - 1);
	fall = eos;
	for (i = s->last_tonal; i + 1 < s->nh; i++) {
		if (seg_e(s, i + 1) < half) {
			s->end_ms = cross(s, i, half);
			fall = true;
			break;
		}
	}
	if (s->end_ms < s->start_ms)
		s->end_ms = s->start_ms;
	{
		float before = plateau, after = plateau;

		for (i = 0; i < s->npre; i++)
			before = fminf(before, s->head[i]);
		for (i = s->last_tonal + 1; i < s->nh; i++)
			after = fminf(after, seg_e(s, i));
		s->rise_db = 10.0f * log10f((plateau + 1e-20f) / (before + 1e-20f));
		s->fall_db = 10.0f * log10f((plateau + 1e-20f) / (after + 1e-20f));
		if (s->t0_ms < HOP_MS * PRE_HOPS)
			s->rise_db = 99.0f;   /* the stream began with the tone */
		if (eos)
			s->fall_db = 99.0f;   /* the stream ended in it */
	}
	s->steady = rise && fall && s->rise_db >= EDGE_DB && s->fall_db >= EDGE_DB &&
		    seg_steady(s);
}

static bool in_band(float f, const float band[2])
{
	return f >= band[0] && f <= band[1];
}

static double seg_len(const struct tone_seg *s)
{
	return s->end_ms - s->start_ms;
}

/* Approximate start of the tone being tracked (its edges are fixed when it ends). */
static double cur_start_est(const struct tone_det *td)
{
	return seg_t(&td->cur, td->cur.npre) - HALF_WIN_MS;
}

/* ---- runs of tones ---------------------------------------------------------- */

static bool sit_pair(const struct tone_seg *a, const struct tone_seg *b)
{
	return a->steady && b->steady && in_band(a->freq_hz, sit_band[0]) && in_band(b->freq_hz, sit_band[1]) &&
	       seg_len(a) >= SIT_MIN_MS && seg_len(a) <= SIT_MAX_MS &&
	       seg_len(b) >= SIT_MIN_MS && seg_len(b) <= SIT_MAX_MS;
}

static bool run_is_sit(const struct tone_det *td)
{
	for (int i = 0; i + 2 < td->nchain; i++)
		if (sit_pair(&td->chain[i], &td->chain[i + 1]) &&
		    in_band(td->chain[i + 2].freq_hz, sit_band[2]) && td->chain[i + 2].steady &&
		    seg_len(&td->chain[i + 2]) >= SIT_MIN_MS)
			return true;
	return false;
}

/* The run is over: say what it was. */
static void run_close(struct tone_det *td)
{
	const struct tone_seg *first, *last;
	bool sit = td->sit_sent;
	double len;

	if (!td->nchain)
		return;
	first = &td->chain[0];
	last = &td->chain[td->nchain - 1];
	if (!sit && run_is_sit(td)) {
		emit(td, TONE_EV_SIT, last->freq_hz, last->level_db, first->start_ms,
		     last->end_ms);
		sit = true;
	}
	if (!sit) {
		bool band_ok = true;

		if (td->nchain == 1 && first->steady && fabsf(first->freq_hz - CNG_HZ) <= CNG_TOL_HZ &&
		    seg_len(first) >= CNG_MIN_MS && seg_len(first) <= CNG_MAX_MS)
			emit(td, TONE_EV_FAX_CNG, first->freq_hz, first->level_db,
			     first->start_ms, first->end_ms);
		for (int i = 0; i < td->nchain; i++)
			if (!td->chain[i].steady || td->chain[i].freq_hz < td->p.beep_min_hz ||
			    td->chain[i].freq_hz > td->p.beep_max_hz)
				band_ok = false;
		len = last->end_ms - first->start_ms;
		if (band_ok && len >= td->p.beep_min_ms && len <= td->p.beep_max_ms)
			emit(td, TONE_EV_BEEP, last->freq_hz, last->level_db, first->start_ms,
			     last->end_ms);
	}
	td->nchain = 0;
	td->sit_sent = false;
}

static void run_add(struct tone_det *td, const struct tone_seg *s)
{
	if (!s->steady)
		return;        /* not a machine's tone (speech, noise): not part of any run */
	if (td->nchain && s->start_ms - td->chain[td->nchain - 1].end_ms > RUN_GAP_MS)
		run_close(td);
	if (td->nchain == TONE_CHAIN) {
		memmove(&td->chain[0], &td->chain[1], sizeof(td->chain[0]) * (TONE_CHAIN - 1));
		td->nchain--;
	}
	td->chain[td->nchain++] = *s;
}

/* ---- the tone being tracked --------------------------------------------------- */

static void cur_end(struct tone_det *td, bool eos)
{
	seg_edges(td, &td->cur, eos);
	run_add(td, &td->cur);
	td->active = false;
	td->confirmed = false;
	td->ced_sent = false;
}

/* Starts a candidate at frequency f whose last `ntonal` hops (this one included)
 * were tonal; the rise before it comes from the spectrum history. */
static void cur_start(struct tone_det *td, double t, float f, int ntonal, double fsum)
{
	struct tone_seg *s = &td->cur;
	int back = ntonal - 1 + PRE_HOPS;

	memset(s, 0, sizeof(*s));
	s->k = (int)lroundf(f / (float)BIN_HZ);
	if (back > td->hist_n)
		back = td->hist_n;
	s->t0_ms = t - HOP_MS * back;
	for (int i = back; i > 0; i--) {
		int slot = (td->hist_pos - i + TONE_HIST) % TONE_HIST;

		seg_push(s, band_energy(td->hist[slot], s->k), 0, 0);
	}
	s->npre = back - (ntonal - 1);
	seg_push(s, band_energy(td->pow, s->k), f, td->purity);
	s->ntonal = ntonal;
	s->fsum = fsum;
	s->freq_hz = (float)(fsum / ntonal);
	s->last_tonal = s->nh - 1;
	td->active = true;
	td->confirmed = ntonal >= CONFIRM_HOPS;
}

/* Reports what a confirmed, still sounding tone already is: CED, or the last of SIT. */
static void cur_sounding(struct tone_det *td, double t)
{
	const struct tone_seg *s = &td->cur;
	double len = t - cur_start_est(td);

	if (!td->ced_sent && fabsf(s->freq_hz - CED_HZ) <= CED_TOL_HZ && len >= td->p.ced_min_ms) {
		emit(td, TONE_EV_FAX_CED, s->freq_hz, level_db(band_energy(td->pow, s->k)),
		     cur_start_est(td), t);
		td->ced_sent = true;
	}
	if (!td->sit_sent && td->nchain >= 2 && in_band(s->freq_hz, sit_band[2]) &&
	    len >= SIT_EARLY_MS &&
	    cur_start_est(td) - td->chain[td->nchain - 1].end_ms <= RUN_GAP_MS &&
	    sit_pair(&td->chain[td->nchain - 2], &td->chain[td->nchain - 1])) {
		emit(td, TONE_EV_SIT, s->freq_hz, level_db(band_energy(td->pow, s->k)),
		     td->chain[td->nchain - 2].start_ms, t);
		td->sit_sent = true;
	}
}

/* One analysis hop: t is the window centre (ms); tonal/f describe this hop. */
static void hop(struct tone_det *td, double t, bool tonal, float f)
{
	if (td->active) {
		struct tone_seg *s = &td->cur;
		bool same = tonal && fabsf(f - s->freq_hz) <= tolerance(s->freq_hz);

		seg_push(s, band_energy(td->pow, s->k), same ? f : 0, same ? td->purity : 0);
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
				    td->chain[td->nchain - 1].end_ms > RUN_GAP_MS)
					run_close(td);
			}
			if (td->confirmed)
				cur_sounding(td, t);
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
	double t = now_ms(td) - HALF_WIN_MS, ms = 0;
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
		if (purity >= td->p.min_purity && level_db(eb) >= td->p.min_level_db &&
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
		run_close(td);
}

/* ---- public ----------------------------------------------------------------- */

static void tables_init(struct tone_det *td)
{
	tone_fft_init(&td->fft);
	for (int i = 0; i < TONE_FFT_N; i++)
		td->win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (i + 0.5) / TONE_FFT_N));
	/* Blocks 6 dB quieter than the quietest tone are not transformed at all. */
	td->gate_ms = FULL_SCALE2 * pow(10.0, (td->p.min_level_db - 6.0) / 10.0);
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
	run_close(td);
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
