/*
 * tone_run.c — reading runs of tones: SIT, beeps, fax CNG and CED.
 *
 * Steady tones (tone_seg.c) that follow one another within TONE_RUN_GAP_MS form a
 * run; tone.c closes it RUN_HOLD_MS after its last tone ends. A run holding three
 * tones in the SIT bands, in order, the first two 200-450 ms long, is a SIT
 * (reported as soon as the third has sounded SIT_EARLY_MS). Any other run whose
 * tones all lie in the beep band and whose length is within the beep range is a
 * beep, reported with its end (a multi-tone beep ends with its last tone); a lone
 * 1,100 Hz burst of 380-700 ms is also a fax CNG. A 2,100 Hz tone is reported as
 * CED while it sounds, once it has lasted ced_min_ms. Tones that are not steady
 * (speech, noise) never join a run.
 */
#include "tone_priv.h"

#include <string.h>

static const float sit_band[3][2] = {{880, 1020}, {1330, 1470}, {1730, 1830}}; /* Hz */
#define SIT_MIN_MS    200.0
#define SIT_MAX_MS    450.0
#define SIT_EARLY_MS  150.0
#define CNG_HZ        1100.0f
#define CNG_TOL_HZ    38.0f
#define CNG_MIN_MS    380.0
#define CNG_MAX_MS    700.0
#define CED_HZ        2100.0f
#define CED_TOL_HZ    25.0f

static uint32_t ms_u32(double ms)
{
	return ms <= 0 ? 0 : (uint32_t)lround(ms);
}

void tone_emit(struct tone_det *td, enum tone_event_type type, float f, float lvl,
	       double start_ms, double end_ms)
{
	struct tone_event ev = {
		.type = type, .freq_hz = f, .level_db = lvl, .start_ms = ms_u32(start_ms),
		.end_ms = ms_u32(end_ms), .now_ms = ms_u32(tone_now_ms(td)),
	};

	if (td->h)
		td->h(&ev, td->arg);
}

static bool in_band(float f, const float band[2])
{
	return f >= band[0] && f <= band[1];
}

static double seg_len(const struct tone_seg *s)
{
	return s->end_ms - s->start_ms;
}

static bool sit_pair(const struct tone_seg *a, const struct tone_seg *b)
{
	return in_band(a->freq_hz, sit_band[0]) && in_band(b->freq_hz, sit_band[1]) &&
	       seg_len(a) >= SIT_MIN_MS && seg_len(a) <= SIT_MAX_MS &&
	       seg_len(b) >= SIT_MIN_MS && seg_len(b) <= SIT_MAX_MS;
}

static bool run_is_sit(const struct tone_det *td)
{
	for (int i = 0; i + 2 < td->nchain; i++)
		if (sit_pair(&td->chain[i], &td->chain[i + 1]) &&
		    in_band(td->chain[i + 2].freq_hz, sit_band[2]) &&
		    seg_len(&td->chain[i + 2]) >= SIT_MIN_MS)
			return true;
	return false;
}

void tone_run_close(struct tone_det *td)
{
	const struct tone_seg *first, *last;
	bool band_ok = true;
	double len;

	if (!td->nchain)
		return;
	first = &td->chain[0];
	last = &td->chain[td->nchain - 1];
	if (!td->sit_sent && run_is_sit(td)) {
		tone_emit(td, TONE_EV_SIT, last->freq_hz, last->level_db, first->start_ms,
			  last->end_ms);
		td->sit_sent = true;
	}
	if (td->sit_sent)
		goto out;
	if (td->nchain == 1 && fabsf(first->freq_hz - CNG_HZ) <= CNG_TOL_HZ &&
	    seg_len(first) >= CNG_MIN_MS && seg_len(first) <= CNG_MAX_MS)
		tone_emit(td, TONE_EV_FAX_CNG, first->freq_hz, first->level_db, first->start_ms,
			  first->end_ms);
	for (int i = 0; i < td->nchain; i++)
		if (td->chain[i].freq_hz < td->p.beep_min_hz || td->chain[i].freq_hz > td->p.beep_max_hz)
			band_ok = false;
	len = last->end_ms - first->start_ms;
	if (band_ok && len >= td->p.beep_min_ms && len <= td->p.beep_max_ms)
		tone_emit(td, TONE_EV_BEEP, last->freq_hz, last->level_db, first->start_ms,
			  last->end_ms);
out:
	td->nchain = 0;
	td->sit_sent = false;
}

void tone_run_add(struct tone_det *td, const struct tone_seg *s)
{
	if (!s->steady)
		return;
	if (td->nchain && s->start_ms - td->chain[td->nchain - 1].end_ms > TONE_RUN_GAP_MS)
		tone_run_close(td);
	if (td->nchain == TONE_CHAIN) {
		memmove(&td->chain[0], &td->chain[1], sizeof(td->chain[0]) * (TONE_CHAIN - 1));
		td->nchain--;
	}
	td->chain[td->nchain++] = *s;
}

void tone_run_sounding(struct tone_det *td, double t_ms, double start_ms)
{
	const struct tone_seg *s = &td->cur;
	double len = t_ms - start_ms;
	float lvl;

	if (!td->ced_sent && fabsf(s->freq_hz - CED_HZ) <= CED_TOL_HZ && len >= td->p.ced_min_ms) {
		lvl = tone_level_db(td->cur.tail[(s->nh - 1) % TONE_TAIL]);
		tone_emit(td, TONE_EV_FAX_CED, s->freq_hz, lvl, start_ms, t_ms);
		td->ced_sent = true;
	}
	if (!td->sit_sent && td->nchain >= 2 && in_band(s->freq_hz, sit_band[2]) &&
	    len >= SIT_EARLY_MS && start_ms - td->chain[td->nchain - 1].end_ms <= TONE_RUN_GAP_MS &&
	    sit_pair(&td->chain[td->nchain - 2], &td->chain[td->nchain - 1])) {
		lvl = tone_level_db(td->cur.tail[(s->nh - 1) % TONE_TAIL]);
		tone_emit(td, TONE_EV_SIT, s->freq_hz, lvl, td->chain[td->nchain - 2].start_ms, t_ms);
		td->sit_sent = true;
	}
}
