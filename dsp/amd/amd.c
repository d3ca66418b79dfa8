/*
 * amd.c — the answering-machine detector's stream: framing, time, tones, events.
 *
 * DESIGN
 * Audio is cut into 20 ms frames whatever the caller's block size. Each frame goes
 * first to the tone detector (when fax/SIT or beep detection is on), then, while the
 * call is undecided, to the strategy. Tone events are read in context:
 *   - SIT (at any time before the decision): MACHINE SIT;
 *   - fax CNG or CED before a second of speech was heard: MACHINE FAX (a 1,100 or
 *     2,100 Hz tone after a greeting is that machine's beep instead, unless the
 *     2,100 Hz tone lasts longer than any beep);
 *   - a beep before the decision: MACHINE BEEP, and the beep is reported at once;
 *   - a beep after a MACHINE decision: AMD_EV_BEEP, and the detector is done.
 * After MACHINE (unless for FAX or SIT) the tone detector keeps listening until the
 * beep or beep_wait; after HUMAN or NOTSURE nothing more is analysed.
 */
#include "amd_priv.h"
#ifdef AMD_TRACE_FEATURES
#include <stdio.h>
#endif

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CED_NOT_BEEP_MS 2300      /* a 2,100 Hz tone this long is no beep */
#define MSG_TAIL_MS 300           /* the weak end of the last word, under the
				     segmentation's threshold: reported greeting
				     end = last speech frame + this */
#define PHRASE_CONFIDENCE 0.95f  /* a spotted phrase (see docs/PERFORMANCE.md) */
#define FAX_AFTER_SPEECH_MS 1000  /* less speech than this is no greeting: a fax
				     tone after it is a fax, not a beep */

float amd_threshold_db(uint32_t mean_abs)
{
	/* For speech-like (Gaussian) signals RMS = mean|x| * sqrt(pi/2). */
	double rms = mean_abs * 1.2533141;

	return rms > 0 ? (float)(20.0 * log10(rms / 32768.0)) : -100.0f;
}

const char *amd_class_name(enum amd_class c)
{
	switch (c) {
	case AMD_HUMAN:   return "HUMAN";
	case AMD_MACHINE: return "MACHINE";
	case AMD_NOTSURE: return "NOTSURE";
	}
	return "?";
}

const char *amd_reason_name(enum amd_reason r)
{
	switch (r) {
	case AMD_REASON_HUMAN:          return "HUMAN";
	case AMD_REASON_INITIALSILENCE: return "INITIALSILENCE";
	case AMD_REASON_LONGGREETING:   return "LONGGREETING";
	case AMD_REASON_MAXWORDS:       return "MAXWORDS";
	case AMD_REASON_MAXWORDLENGTH:  return "MAXWORDLENGTH";
	case AMD_REASON_SENTENCES:      return "SENTENCES";
	case AMD_REASON_RESUMED:        return "RESUMED";
	case AMD_REASON_BEEP:           return "BEEP";
	case AMD_REASON_PHRASE:         return "PHRASE";
	case AMD_REASON_FAX:            return "FAX";
	case AMD_REASON_SIT:            return "SIT";
	case AMD_REASON_TOOLONG:        return "TOOLONG";
	case AMD_REASON_HANGUP:         return "HANGUP";
	case AMD_REASON_STATEMENT:      return "STATEMENT";
	}
	return "?";
}

static uint32_t stream_ms(const struct amd *amd)
{
	return (uint32_t)(amd->frames * AMD_FRAME_MS);
}

static void emit_decision_phrase(struct amd *amd, enum amd_class cls, enum amd_reason r,
				 uint32_t t_ms, float confidence, bool early, const char *phrase)
{
	struct amd_event ev = {
		.type = AMD_EV_DECISION, .cls = cls, .reason = r, .decision_ms = t_ms,
		.now_ms = t_ms, .confidence = confidence, .early = early, .phrase = phrase,
	};
	/* Voicemail beeps follow greetings, not fax tones or network announcements. */
	bool greeting = cls == AMD_MACHINE && r != AMD_REASON_FAX && r != AMD_REASON_SIT;

	amd->decided = true;
	amd->cls = cls;
	amd->waiting_beep = greeting && amd->p.beep && amd->tone;
	amd->waiting_end = greeting && amd->p.message_end;
	amd->done = !amd->waiting_beep && !amd->waiting_end;
	amd->h(&ev, amd->arg);
}

static void emit_decision(struct amd *amd, enum amd_class cls, enum amd_reason r,
			  uint32_t t_ms, float confidence, bool early)
{
	emit_decision_phrase(amd, cls, r, t_ms, confidence, early, NULL);
}

static void emit_message_end(struct amd *amd, enum amd_message_end how, uint32_t end_ms,
			     uint32_t now_ms)
{
	struct amd_event ev = {
		.type = AMD_EV_MESSAGE_END, .message_how = how, .message_end_ms = end_ms,
		.now_ms = now_ms,
	};

	amd->waiting_end = false;
	amd->done = !amd->waiting_beep;
	amd->h(&ev, amd->arg);
}

static void emit_beep(struct amd *amd, const struct tone_event *te)
{
	struct amd_event ev = {
		.type = AMD_EV_BEEP, .beep_start_ms = te->start_ms, .beep_end_ms = te->end_ms,
		.beep_hz = te->freq_hz, .now_ms = te->now_ms,
	};

	amd->waiting_beep = false;
	amd->done = !amd->waiting_end;
	amd->h(&ev, amd->arg);
	if (amd->waiting_end)
		emit_message_end(amd, AMD_MSG_BEEP, te->end_ms, te->now_ms);
}

/* No beep (any more): given up, the stream ended, or the message ended in silence. */
static void emit_beep_none(struct amd *amd)
{
	struct amd_event ev = { .type = AMD_EV_BEEP_NONE, .now_ms = stream_ms(amd) };

	amd->waiting_beep = false;
	amd->done = !amd->waiting_end;
	amd->h(&ev, amd->arg);
}

static void on_tone(const struct tone_event *te, void *arg)
{
	struct amd *amd = arg;

	if (amd->done)
		return;
	if (amd->decided) {
		if (amd->waiting_beep && te->type == TONE_EV_BEEP)
			emit_beep(amd, te);
		return;
	}
	switch (te->type) {
	case TONE_EV_SIT:
		if (amd->p.tones)
			emit_decision(amd, AMD_MACHINE, AMD_REASON_SIT, te->now_ms, 0.99f, true);
		break;
	case TONE_EV_FAX_CNG:
	case TONE_EV_FAX_CED:
		if (!amd->p.tones)
			break;
		if (amd->speech_ms < FAX_AFTER_SPEECH_MS)
			emit_decision(amd, AMD_MACHINE, AMD_REASON_FAX, te->now_ms, 0.99f, true);
		else if (te->type == TONE_EV_FAX_CED)
			amd->ced_start_ms = te->start_ms + 1;   /* a beep, unless it lasts */
		break;
	case TONE_EV_BEEP:
		if (amd->p.beep) {
			emit_decision(amd, AMD_MACHINE, AMD_REASON_BEEP, te->now_ms, 0.97f, true);
			if (amd->waiting_beep)
				emit_beep(amd, te);
			else if (amd->waiting_end)
				emit_message_end(amd, AMD_MSG_BEEP, te->end_ms, te->now_ms);
		}
		break;
	}
}

/*
 * After MACHINE: the tone detector goes on for the beep (on_tone); with message_end
 * the strategy also keeps segmenting, and a silence of message_silence after the
 * last speech (no tone sounding) ends a greeting that has no beep.
 */
static void after_decision(struct amd *amd, uint32_t t, bool busy)
{
	if (amd->waiting_end) {
		bool speech = amd->ops->listen(amd, amd->frame, t, busy);

		if (speech)
			amd->heard_speech = true;
		if (!speech && !busy && amd->heard_speech &&
		    t - amd->last_speech_ms >= amd->p.message_silence) {
			if (amd->waiting_beep)
				emit_beep_none(amd);
			emit_message_end(amd, AMD_MSG_SILENCE, amd->last_speech_ms + MSG_TAIL_MS, t);
			return;
		}
	}
	if (t >= amd->p.beep_wait) {
		if (amd->waiting_beep)
			emit_beep_none(amd);
		if (amd->waiting_end)
			emit_message_end(amd, AMD_MSG_TIMEOUT, t, t);
	}
}

/* Undecided: a provisional verdict whenever the side the call leans to changes. */
static void emit_provisional(struct amd *amd, uint32_t t)
{
	struct amd_event ev = { .type = AMD_EV_PROVISIONAL, .now_ms = t, .decision_ms = t };

	amd->ops->lean(amd, t, &ev.cls, &ev.confidence);
	if (ev.cls == amd->provisional)
		return;
	amd->provisional = ev.cls;
	amd->h(&ev, amd->arg);
}

static void run_frame(struct amd *amd)
{
	uint32_t t;
	struct amd_verdict v = {0};
	bool busy;

	amd->frames++;
	t = stream_ms(amd);
	if (amd->tone)
		tone_det_process(amd->tone, amd->frame, AMD_FRAME);
	if (amd->done)
		return;
	busy = amd->tone && tone_det_busy(amd->tone);
	if (amd->decided) {
		after_decision(amd, t, busy);
		return;
	}
	if (!busy) {
		amd->ced_start_ms = 0;
	} else if (amd->ced_start_ms && t >= amd->ced_start_ms + CED_NOT_BEEP_MS) {
		/* 2,100 Hz for longer than any beep: an answering fax or modem. */
		emit_decision(amd, AMD_MACHINE, AMD_REASON_FAX, t, 0.99f, true);
		return;
	}
	if (amd->phrase) {
		const char *heard = amd_phrase_frame(amd->phrase, amd->frame);

		if (heard) {
			emit_decision_phrase(amd, AMD_MACHINE, AMD_REASON_PHRASE, t,
					     PHRASE_CONFIDENCE, true, heard);
			return;
		}
	}
	amd->ops->frame(amd, amd->frame, t, busy, &v);
	if (amd->p.trace) {
		struct amd_event ev = {
			.type = AMD_EV_FRAME, .energy_db = amd->trace_energy_db,
			.floor_db = amd->trace_floor_db, .speech = amd->trace_speech, .now_ms = t,
			.f0_hz = amd->trace_f0, .voicing = amd->trace_voicing,
		};

		amd->h(&ev, amd->arg);
	}
	if (v.decided) {
		emit_decision(amd, v.cls, v.reason, t, v.confidence,
			      v.reason != AMD_REASON_TOOLONG);
		return;
	}
	if (amd->p.provisional && amd->ops->lean)
		emit_provisional(amd, t);
}

int amd_create(struct amd **amdp, const struct amd_params *p, amd_h *h, void *arg)
{
	struct amd *amd;
	int err = 0;

	if (!amdp || !h)
		return EINVAL;
	*amdp = NULL;
	amd = calloc(1, sizeof(*amd));
	if (!amd)
		return ENOMEM;
	if (p)
		amd->p = *p;
	else
		amd_params_init(&amd->p, AMD_STRATEGY_ADAPTIVE);
	if (amd->p.total_analysis_time == 0 || amd->p.min_word_length == 0) {
		err = EINVAL;
		goto out;
	}
	amd->ops = amd->p.strategy == AMD_STRATEGY_CLASSIC ? &amd_classic_ops
							    : &amd_adaptive_ops;
	amd->h = h;
	amd->arg = arg;
	amd->provisional = AMD_NOTSURE;
	if (amd->p.tones || amd->p.beep) {
		err = tone_det_create(&amd->tone, NULL, on_tone, amd);
		if (err)
			goto out;
	}
	if (amd->p.phrases) {
		err = amd_phrase_create(&amd->phrase, &amd->p);
		if (err)
			goto out;
	}
#ifdef AMD_TRACE_FEATURES
	fprintf(stderr, "TRACE CLIP\n");
#endif
	amd->ops->reset(amd);
out:
	if (err) {
		amd_destroy(amd);
		return err;
	}
	*amdp = amd;
	return 0;
}

int amd_process(struct amd *amd, const int16_t *s, size_t n)
{
	if (!amd || (!s && n))
		return EINVAL;
	for (size_t i = 0; i < n && !amd->done; i++) {
		amd->frame[amd->fill++] = s[i];
		if (amd->fill == AMD_FRAME) {
			amd->fill = 0;
			run_frame(amd);
		}
	}
	return 0;
}

void amd_finish(struct amd *amd)
{
	if (!amd || amd->done)
		return;
	if (!amd->decided) {
		emit_decision(amd, AMD_NOTSURE, AMD_REASON_HANGUP, stream_ms(amd), 0.5f, false);
		return;
	}
	if (amd->waiting_beep)
		tone_det_finish(amd->tone);
	if (amd->waiting_beep)
		emit_beep_none(amd);
	if (amd->waiting_end)
		emit_message_end(amd, AMD_MSG_TIMEOUT, stream_ms(amd), stream_ms(amd));
	amd->done = true;
}

bool amd_done(const struct amd *amd)
{
	return !amd || amd->done;
}

void amd_reset(struct amd *amd)
{
	if (!amd)
		return;
#ifdef AMD_TRACE_FEATURES
	fprintf(stderr, "TRACE CLIP\n");   /* a new stream (tools/bench/amd-train) */
#endif
	if (amd->tone)
		tone_det_reset(amd->tone);
	if (amd->phrase)
		amd_phrase_reset(amd->phrase);
	amd->fill = 0;
	amd->frames = 0;
	amd->decided = false;
	amd->provisional = AMD_NOTSURE;
	amd->waiting_beep = false;
	amd->waiting_end = false;
	amd->heard_speech = false;
	amd->last_speech_ms = 0;
	amd->done = false;
	amd->speech_ms = 0;
	amd->ced_start_ms = 0;
	amd->ops->reset(amd);
}

void amd_destroy(struct amd *amd)
{
	if (!amd)
		return;
	tone_det_destroy(amd->tone);
	amd_phrase_destroy(amd->phrase);
	free(amd);
}
