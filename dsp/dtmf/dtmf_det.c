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
 * Every 5 ms the last 35 ms (7 sub-blocks) are analysed as one window (dtmf_win.c):
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
 *    members of a harmonic series would be.
 * min_hits consecutive windows naming the same digit start it.
 * An active digit stays on while its tones are present in each sub-block; gap_ms of
 * absence ends it (a 10 ms dropout spans at most 3 sub-blocks and is bridged, a 40 ms
 * pause spans at least 7). Start and end are refined to ~1 ms from the energy of the
 * partly covered sub-block at each edge. This file owns the stream (sub-blocks, the
 * digit state machine, events); dtmf_win.c judges one window.
 */
#include "dtmf_det.h"
#include "dtmf_tab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ON_ENERGY  0.35f /* sub-block energy / reference for an active digit */
#define DC_POLE    0.995f /* DC blocker pole (corner about 6 Hz) */

void dtmf_det_params_default(struct dtmf_det_params *params)
{
	if (!params)
		return;
	params->min_level_dbm0 = -36.0f;
	params->twist_min_db = -10.0f;
	params->twist_max_db = 6.0f;
	params->freq_tol_pct = 2.0f;
	params->purity_min = 0.7f;
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
	}
	dtmf_win_setup(d);
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
		if (e > 0.5f * d->e_ref && e < 2.0f * d->e_ref)
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
	track(d, d->nsub >= SPAN ? dtmf_win_analyse(d) : -1);
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
