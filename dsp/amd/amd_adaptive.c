/*
 * amd_adaptive.c — the default strategy: energy segmentation that adapts to the
 * line, then app_amd-style timing rules.
 *
 * DESIGN
 * A fixed threshold (app_amd's silence_threshold) fails both ways: a quiet line
 * never "speaks" (INITIALSILENCE on a human who said hello), a noisy one never falls
 * "silent" (LONGGREETING on a human waiting for an answer). Here each 20 ms frame is
 * high-passed (2nd-order Butterworth at 200 Hz: hum and rumble carry no speech
 * timing) and its energy compared with a threshold built from three estimates:
 *   - the noise floor: the minimum frame energy of the last 2.56 s, kept as 16
 *     sub-window minima of 160 ms, so it follows a rising floor within 2.6 s and a
 *     falling one at once (digital silence counts as -85 dB);
 *   - the noise spread: how far noise frames sit above that floor on average
 *     (steady hiss ~1.3 dB, a crowd several dB), followed over ~0.4 s;
 *   - the speech peak: the loudest recent frame, decaying 2.5 dB/s.
 * The margin above the floor is the largest of speech_margin_db, 2.5 x the spread
 * and half the way from floor to peak; 3 dB less keeps a frame in speech, and
 * silence_threshold (mean |sample|) sets an absolute minimum. Bursts shorter than
 * CONFIRM_MS are blips and count as silence. While the tone detector (tone.h, run
 * by amd.c) hears a tone, the frame is segmented like any other: a sustained vowel
 * often has one harmonic strong enough to look like a tone, and dropping those
 * frames broke words in two and hid their pitch (measured: +1.5 points on the tuning
 * seed). A real beep so only ever makes a greeting longer, never ends one; the tone
 * events themselves are read by amd.c, and fax tones are kept out of the speech
 * count that tells a fax from a greeting's beep.
 *
 * Timing, on that segmentation (ms since answer):
 *   - no word by initial_silence: MACHINE INITIALSILENCE;
 *   - a word is min_word_length of speech; between_words_silence separates words;
 *   - the greeting starts with the first word; if, early in it, a voice far louder
 *     than anything so far starts, what came before was background talk and the
 *     greeting starts again there;
 *   - greeting from its first word to its last speech >= greeting: MACHINE
 *     LONGGREETING (app_amd counts voiced time instead; the span is steadier when
 *     noise eats weak syllables);
 *   - silence after the greeting >= human_silence(): HUMAN;
 *   - maximum_number_of_words (if set), maximum_word_length: as in app_amd;
 *   - total_analysis_time undecided: the side the turn leans to, reason TOOLONG
 *     (amd_turn_deadline()).
 * The constants below were tuned on the corpus of seed 1 (docs/PERFORMANCE.md).
 */
#include "amd_priv.h"

#include <math.h>
#include <string.h>

#define DIGITAL_SILENCE_DB (-85.0f)  /* quieter frames say nothing about the noise */
#define HYSTERESIS_DB      3.0f
#define SPREAD_K           2.5f    /* margin = max(speech_margin_db, K * spread) */
#define SPREAD_ALPHA       0.05f   /* spread follows noise frames over ~0.4 s */
#define SPREAD_INIT_DB     2.0f
#define SPREAD_MAX_DB      12.0f   /* noise frames sit at most this far above the floor */
#define CONFIRM_MS         60      /* speech shorter than this is a blip */
#define PEAK_SHARE         0.5f    /* margin >= this share of (peak - floor) */
#define PEAK_DECAY_DB      0.05f   /* per frame: the peak level falls 2.5 dB/s */
#define REANCHOR_DB        8.0f    /* see the greeting restart in adaptive_frame() */
#define REANCHOR_WITHIN_MS 1500

/* 2nd-order Butterworth high-pass, 200 Hz at 8 kHz (bilinear transform). */
static const double hp_b0 = 0.894858606, hp_b1 = -1.789717212, hp_b2 = 0.894858606;
static const double hp_a1 = -1.778631777, hp_a2 = 0.800802647;

static void adaptive_reset(struct amd *amd)
{
	struct amd_adaptive *a = &amd->st.a;

	memset(a, 0, sizeof(*a));
	a->cur_min = 999.0f;
	a->floor_db = 999.0f;
	a->spread_db = SPREAD_INIT_DB;
	a->peak_db = -100.0f;
	amd_pitch_reset(&a->pitch);
	amd_turn_reset(&a->turn);
}

static float frame_energy_db(struct amd_adaptive *a, const int16_t *s)
{
	double acc = 0;

	for (int i = 0; i < AMD_FRAME; i++) {
		double x = s[i];
		double y = hp_b0 * x + hp_b1 * a->hp_x1 + hp_b2 * a->hp_x2 -
			   hp_a1 * a->hp_y1 - hp_a2 * a->hp_y2;

		a->hp_x2 = a->hp_x1;
		a->hp_x1 = x;
		a->hp_y2 = a->hp_y1;
		a->hp_y1 = y;
		acc += y * y;
	}
	/* Keep the filter memory out of the denormal range during digital silence. */
	if (fabs(a->hp_y1) < 1e-9 && fabs(a->hp_y2) < 1e-9)
		a->hp_y1 = a->hp_y2 = 0;
	return (float)(10.0 * log10(acc / AMD_FRAME / (32768.0 * 32768.0) + 1e-10));
}

static void floor_update(struct amd_adaptive *a, float e)
{
	float f;

	if (e < DIGITAL_SILENCE_DB)
		e = DIGITAL_SILENCE_DB;
	if (e < a->cur_min)
		a->cur_min = e;
	if (++a->cur_n == AMD_NOISE_SUB) {
		a->sub_min[a->sub_pos] = a->cur_min;
		a->sub_pos = (a->sub_pos + 1) % AMD_NOISE_NSUB;
		if (a->nsub < AMD_NOISE_NSUB)
			a->nsub++;
		a->cur_min = 999.0f;
		a->cur_n = 0;
	}
	f = a->cur_min;
	for (int i = 0; i < a->nsub; i++)
		if (a->sub_min[i] < f)
			f = a->sub_min[i];
	a->floor_db = f;
}

static void decide(struct amd_verdict *v, enum amd_class cls, enum amd_reason r)
{
	v->decided = true;
	v->cls = cls;
	v->reason = r;
	v->confidence = cls == AMD_NOTSURE ? 0.5f : 0.9f;
}

/* Speech or not, from the frame energy: floor + margin, the margin widening with
 * how much the noise itself moves above its floor. */
static bool classify(struct amd *amd, float e)
{
	const struct amd_params *p = &amd->p;
	struct amd_adaptive *a = &amd->st.a;
	float margin = SPREAD_K * a->spread_db, thr;

	if (margin < p->speech_margin_db)
		margin = p->speech_margin_db;
	if (margin < PEAK_SHARE * (a->peak_db - a->floor_db))
		margin = PEAK_SHARE * (a->peak_db - a->floor_db);
	thr = a->floor_db + margin;
	if (a->raw_speech)
		thr -= HYSTERESIS_DB;
	if (thr < amd_threshold_db(p->silence_threshold))
		thr = amd_threshold_db(p->silence_threshold);
	a->raw_speech = e > thr;
	if (!a->raw_speech && e > DIGITAL_SILENCE_DB) {
		float d = e - a->floor_db;

		/* Frames far above the floor are the weak ends of words, not noise: over
		 * digital silence they would widen the margin until nothing is speech. */
		if (d <= SPREAD_MAX_DB)
			a->spread_db += SPREAD_ALPHA * (d - a->spread_db);
	}
	return a->raw_speech;
}

/* Energy, noise floor, speech peak and the speech/silence call for one frame. */
static float segment(struct amd *amd, const int16_t *s)
{
	struct amd_adaptive *a = &amd->st.a;
	float e = frame_energy_db(a, s);

	floor_update(a, e);
	a->peak_db -= PEAK_DECAY_DB;
	if (a->peak_db < e)
		a->peak_db = e;
	classify(amd, e);
	return e;
}

/* After the decision: the same segmentation, blips dropped, for the message end. */
static bool adaptive_listen(struct amd *amd, const int16_t *s, uint32_t t_ms, bool tone_busy)
{
	struct amd_adaptive *a = &amd->st.a;

	segment(amd, s);
	if (!a->raw_speech || tone_busy) {
		a->pending_ms = 0;
		a->speech = false;
		return false;
	}
	a->pending_ms += AMD_FRAME_MS;
	if (!a->speech && a->pending_ms < CONFIRM_MS)
		return false;
	a->speech = true;
	amd->last_speech_ms = t_ms;
	return true;
}

static void adaptive_frame(struct amd *amd, const int16_t *s, uint32_t t_ms, bool tone_busy,
			   struct amd_verdict *v)
{
	const struct amd_params *p = &amd->p;
	struct amd_adaptive *a = &amd->st.a;
	float e = segment(amd, s);
	bool raw = a->raw_speech;
	uint32_t gained;

	amd_pitch_frame(&a->pitch, s, raw, &amd->trace_f0, &amd->trace_voicing);
	amd->trace_energy_db = e;
	amd->trace_floor_db = a->floor_db;
	amd->trace_speech = raw;

	if (t_ms >= p->total_analysis_time) {
		amd_turn_deadline(amd, t_ms, v);
		return;
	}

	/*
	 * A burst of speech frames counts once it lasts CONFIRM_MS (or continues
	 * confirmed speech); a shorter blip (a click, a noise peak) counts as silence.
	 */
	if (!raw) {
		a->silence_ms += a->pending_ms + AMD_FRAME_MS;
		a->pending_ms = 0;
		a->speech = false;
		if (a->silence_ms >= p->between_words_silence) {
			a->in_word = false;
			a->consecutive_voice_ms = 0;
		}
		if (!a->in_greeting && t_ms >= p->initial_silence) {
			decide(v, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
			return;
		}
		amd_turn_silence(amd, t_ms, v);
		return;
	}
	a->pending_ms += AMD_FRAME_MS;
	if (!a->speech && a->pending_ms < CONFIRM_MS) {
		amd_turn_pending(&a->turn, t_ms, amd->trace_f0);
		if (!a->in_greeting && t_ms >= p->initial_silence)
			decide(v, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
		return;
	}
	gained = a->pending_ms;
	a->pending_ms = 0;
	a->speech = true;
	a->silence_ms = 0;
	a->consecutive_voice_ms += gained;
	a->last_speech_ms = t_ms;
	amd->last_speech_ms = t_ms;
	amd->heard_speech = true;
	if (a->in_greeting) {
		a->voiced_ms += gained;
		if (tone_busy)
			a->tone_ms += gained;
	}
	/*
	 * Background talk can start a "greeting" before the callee speaks. When a voice
	 * far louder than anything in the greeting so far arrives early in it, what came
	 * before was background: the greeting starts again with this word.
	 */
	if (a->in_greeting && e > a->greeting_peak_db + REANCHOR_DB &&
	    t_ms - a->greeting_start_ms < REANCHOR_WITHIN_MS) {
		a->greeting_start_ms = t_ms - a->consecutive_voice_ms;
		a->voiced_ms = a->consecutive_voice_ms;
		a->tone_ms = 0;
		a->words = 1;
		amd_turn_restart(&a->turn, a->greeting_start_ms);
	}
	if (a->in_greeting && e > a->greeting_peak_db)
		a->greeting_peak_db = e;
	if (a->in_greeting)
		amd->speech_ms = a->voiced_ms - a->tone_ms;
	if (a->consecutive_voice_ms >= p->min_word_length && !a->in_word) {
		a->in_word = true;
		a->words++;
		if (!a->in_greeting) {
			/* The greeting starts with its first word, which counts in full. */
			a->in_greeting = true;
			a->voiced_ms = a->consecutive_voice_ms;
			a->tone_ms = 0;
			a->greeting_start_ms = t_ms - a->consecutive_voice_ms;
			a->greeting_peak_db = e;
		}
	}
	if (!a->in_greeting && t_ms >= p->initial_silence) {
		decide(v, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
		return;
	}
	if (a->consecutive_voice_ms >= p->maximum_word_length) {
		decide(v, AMD_MACHINE, AMD_REASON_MAXWORDLENGTH);
		return;
	}
	if (p->maximum_number_of_words && a->words >= p->maximum_number_of_words) {
		decide(v, AMD_MACHINE, AMD_REASON_MAXWORDS);
		return;
	}
	amd_turn_speech(amd, t_ms, gained, amd->trace_f0, e, v);
}

const struct amd_ops amd_adaptive_ops = {
	.name = "adaptive",
	.reset = adaptive_reset,
	.frame = adaptive_frame,
	.listen = adaptive_listen,
	.lean = amd_turn_lean,
};
