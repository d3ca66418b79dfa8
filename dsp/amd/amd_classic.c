/*
 * amd_classic.c — the baseline strategy: Asterisk app_amd's algorithm, written from
 * its documentation and documented behaviour, kept so that the adaptive strategy can
 * be measured against what operators run today.
 *
 * Each 20 ms frame is silent when its mean |sample| (integer division) is below
 * silence_threshold; the silence detector counts consecutive silent ms. Then, per
 * frame, in this order:
 *   - total time >= total_analysis_time: NOTSURE TOOLONG;
 *   - silent frame: once the silence reaches between_words_silence the state becomes
 *     "in silence" and the word length restarts; still in the initial silence and
 *     silence >= initial_silence: MACHINE INITIALSILENCE; in the greeting and
 *     silence >= after_greeting_silence: HUMAN;
 *   - voiced frame: word length and voice duration grow; reaching min_word_length
 *     while "in silence" counts a word; word length >= maximum_word_length:
 *     MACHINE MAXWORDLENGTH; words >= maximum_number_of_words: MACHINE MAXWORDS;
 *     in the greeting and voice >= greeting: MACHINE LONGGREETING; voice >=
 *     min_word_length clears the silence count; a first word of min_word_length
 *     ends the initial silence and starts the greeting.
 * The state starts "in word", so a word is only counted after some silence. There is
 * no tone detection and no noise tracking: exactly what the comparison is about.
 */
#include "amd_priv.h"

#include <stdlib.h>
#include <string.h>

static void classic_reset(struct amd *amd)
{
	struct amd_classic *c = &amd->st.c;

	memset(c, 0, sizeof(*c));
	c->in_word = true;
	c->in_initial_silence = true;
}

static void decide(struct amd_verdict *v, enum amd_class cls, enum amd_reason r)
{
	v->decided = true;
	v->cls = cls;
	v->reason = r;
	v->confidence = cls == AMD_NOTSURE ? 0.5f : 0.75f;   /* app_amd states none */
}

static void classic_frame(struct amd *amd, const int16_t *s, uint32_t t_ms, bool tone_busy,
			  struct amd_verdict *v)
{
	const struct amd_params *p = &amd->p;
	struct amd_classic *c = &amd->st.c;
	int32_t accum = 0;

	(void)t_ms;
	(void)tone_busy;
	c->total_ms += AMD_FRAME_MS;
	if (c->total_ms >= p->total_analysis_time) {
		decide(v, AMD_NOTSURE, AMD_REASON_TOOLONG);
		return;
	}
	for (int i = 0; i < AMD_FRAME; i++)
		accum += abs(s[i]);
	accum /= AMD_FRAME;
	amd->trace_energy_db = amd_threshold_db((uint32_t)accum);
	amd->trace_floor_db = amd_threshold_db(p->silence_threshold);
	amd->trace_speech = accum >= (int32_t)p->silence_threshold;
	if (accum < (int32_t)p->silence_threshold)
		c->dsp_silence_ms += AMD_FRAME_MS;
	else
		c->dsp_silence_ms = 0;

	if (c->dsp_silence_ms > 0) {
		c->silence_ms = c->dsp_silence_ms;
		if (c->silence_ms >= p->between_words_silence) {
			c->in_word = false;
			c->consecutive_voice_ms = 0;
		}
		if (c->in_initial_silence && c->silence_ms >= p->initial_silence) {
			decide(v, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
			return;
		}
		if (c->silence_ms >= p->after_greeting_silence && c->in_greeting) {
			decide(v, AMD_HUMAN, AMD_REASON_HUMAN);
			return;
		}
		return;
	}

	c->consecutive_voice_ms += AMD_FRAME_MS;
	c->voice_ms += AMD_FRAME_MS;
	amd->last_speech_ms = c->total_ms;
	amd->heard_speech = true;
	amd->speech_ms = c->voice_ms;
	if (c->consecutive_voice_ms >= p->min_word_length && !c->in_word) {
		c->words++;
		c->in_word = true;
	}
	if (c->consecutive_voice_ms >= p->maximum_word_length) {
		decide(v, AMD_MACHINE, AMD_REASON_MAXWORDLENGTH);
		return;
	}
	if (p->maximum_number_of_words && c->words >= p->maximum_number_of_words) {
		decide(v, AMD_MACHINE, AMD_REASON_MAXWORDS);
		return;
	}
	if (c->in_greeting && c->voice_ms >= p->greeting) {
		decide(v, AMD_MACHINE, AMD_REASON_LONGGREETING);
		return;
	}
	if (c->voice_ms >= p->min_word_length)
		c->silence_ms = 0;
	if (c->consecutive_voice_ms >= p->min_word_length && !c->in_greeting) {
		c->in_initial_silence = false;
		c->in_greeting = true;
	}
}

/* After the decision: a frame at or above silence_threshold is speech. */
static bool classic_listen(struct amd *amd, const int16_t *s, uint32_t t_ms, bool tone_busy)
{
	int32_t accum = 0;

	for (int i = 0; i < AMD_FRAME; i++)
		accum += abs(s[i]);
	if (tone_busy || accum / AMD_FRAME < (int32_t)amd->p.silence_threshold)
		return false;
	amd->last_speech_ms = t_ms;
	return true;
}

const struct amd_ops amd_classic_ops = {
	.name = "classic",
	.reset = classic_reset,
	.frame = classic_frame,
	.listen = classic_listen,
};
