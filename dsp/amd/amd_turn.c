/*
 * amd_turn.c — reading a human's turn or a recorded greeting from the segmentation:
 * phrases, the pauses between them, and the intonation at the end of each phrase.
 *
 * DESIGN
 * A person who picks up says one thing and stops to let the caller speak: "Hello?",
 * or a whole sentence ("Good morning, Oak Dental, Maria here, how can I help?"), and
 * most often the turn ends with a question, whose pitch rises. A recorded greeting
 * goes on: sentence after sentence, each ending with a fall, pauses between them,
 * then a beep (amd.c) or silence. Length alone cannot tell them apart (a full
 * sentence lasts as long as a short greeting), so this file follows the structure:
 *
 *   - a phrase is speech up to a pause of PAUSE_MS; when it closes, its intonation
 *     q is measured over its last 400 ms of voiced frames: the final pitch's rise
 *     above the lowest point minus its fall below the highest (semitones; octave
 *     jumps of the tracker unwrapped, a 3-point median against stray estimates);
 *   - a sentence end is a phrase of SENTENCE_MIN_MS or more that falls (q <=
 *     FALL_Q) followed by a pause of SENTENCE_PAUSE_MS or more, a full stop one
 *     followed by FULL_STOP_MS or more (a person's sentence can fall at a comma
 *     and pause there for up to 300 ms: "Oak Dental, Maria here, ..."); a long
 *     pause is one of LONG_PAUSE_MS or more;
 *
 * and decides (times from answer, "span" from the first word to the last speech):
 *   - MACHINE LONGGREETING: the span reaches `greeting` (longer than people answer);
 *   - MACHINE SENTENCES: a full stop was heard and the span reaches
 *     `sentence_greeting` (a recording reads sentence after sentence); with
 *     `sentence_phrase` set (off by default), while the phrase after the full stop
 *     is shorter than that, it waits for its end and lets a rising one go ("Hello,
 *     this is Tom. Who's calling?"): fewer people lost, later decisions;
 *   - MACHINE RESUMED: after a sentence end or a long pause, another phrase of
 *     RESUME_MIN_MS or more ends falling (a greeting of phrases with pauses between
 *     them; a person who asks again asks a question);
 *   - HUMAN: the silence after the last phrase reaches the wait it deserves:
 *     `question_silence` after a rise; `after_greeting_silence` after a longer
 *     turn (2 s of span, or sentence ends) that does not fall (FALL_EXTRA_MS more
 *     when it falls); `answer_silence` after a short turn that does not rise, which
 *     may be the first phrase of a paused greeting ("Hi, it's Omar." - 1 s -
 *     "Please leave a message.").
 *   - MACHINE STATEMENT, only with `statement_greeting` set (off by default): where
 *     the HUMAN rule above would fire, a turn that never rose and spans that much
 *     is taken for a short beepless greeting instead. In the corpus such a turn is
 *     as often a person's ("Hello, this is Karen.") as a greeting's ("It's Sam,
 *     leave a message."), so this is a campaign's trade-off, not a gain:
 *     docs/PERFORMANCE.md gives the measured price.
 * The confidence of each decision grows with the margin by which its rule was met
 * and the strength of the intonation it relied on (CONF_*, measured on the tuning
 * seed: docs/PERFORMANCE.md).
 */
#include "amd_priv.h"

#include <math.h>
#include <string.h>

#define PAUSE_MS          200   /* a pause this long closes a phrase */
#define SENTENCE_PAUSE_MS 250
#define FULL_STOP_MS      350   /* SENTENCES wants a pause longer than a comma's */
#define SENTENCE_MIN_MS   500
#define LONG_PAUSE_MS     700
#define RESUME_MIN_MS     500
#define LONG_TURN_MS      2000  /* from this span on a turn is "longer" */
#define FALL_EXTRA_MS     400
#define RISE_Q            1.5f  /* semitones: a question's final rise */
#define FALL_Q            (-1.5f) /* a statement's final fall */
#define END_WINDOW_MS     400   /* intonation is read over the phrase's last 400 ms */
#define OCTAVE_JUMP       7.0f  /* semitones: a larger step is a tracker octave error */
#define DEADLINE_SPAN_MS  2000  /* at the deadline, a turn this long leans MACHINE */
#define DEADLINE_LONG_MS  3000  /* ... and one this long unless it ended rising */
#define DEADLINE_RISES    2     /* ... but a turn of this many questions is a person's */
#define STATEMENT_CONF    0.55f /* STATEMENT is right about half the time (tuning seed) */

void amd_turn_reset(struct amd_turn *tn)
{
	memset(tn, 0, sizeof(*tn));
}

void amd_turn_restart(struct amd_turn *tn, uint32_t start_ms)
{
	tn->start_ms = start_ms;
	tn->phrases = 0;
	tn->sentence_ends = 0;
	tn->full_stops = 0;
	tn->long_pauses = 0;
	tn->rises = 0;
	tn->last_closed_falls = false;
	tn->sentences_pending = false;
	tn->phrase_start_ms = start_ms;
#ifdef AMD_TRACE_FEATURES
	memset(&tn->tr, 0, sizeof(tn->tr));
#endif
}

static void pitch_push(struct amd_turn *tn, uint32_t t_ms, float f0_hz)
{
	if (f0_hz <= 0)
		return;
	if (tn->npitch == AMD_TURN_PITCH) {
		memmove(tn->pitch_t, tn->pitch_t + 1, sizeof(tn->pitch_t[0]) * (AMD_TURN_PITCH - 1));
		memmove(tn->pitch_st, tn->pitch_st + 1, sizeof(tn->pitch_st[0]) * (AMD_TURN_PITCH - 1));
		tn->npitch--;
		if (tn->npending > tn->npitch)
			tn->npending = tn->npitch;
	}
	tn->pitch_t[tn->npitch] = t_ms;
	tn->pitch_st[tn->npitch] = 12.0f * log2f(f0_hz / 100.0f);
	tn->npitch++;
}

void amd_turn_pending(struct amd_turn *tn, uint32_t t_ms, float f0_hz)
{
	uint16_t before = tn->npitch;

	pitch_push(tn, t_ms, f0_hz);
	if (tn->npitch > before || (f0_hz > 0 && before == AMD_TURN_PITCH))
		tn->npending++;
}

static float median3(float a, float b, float c)
{
	if (a > b) {
		float t = a;

		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

/* The intonation of the phrase that just ended at end_ms (see the design). */
static float phrase_q(const struct amd_turn *tn, uint32_t end_ms)
{
	float un[AMD_TURN_PITCH], sm[AMD_TURN_PITCH], lo = 1e9f, hi = -1e9f, endv;
	int n = tn->npitch, first = -1, k = 0;

	if (n < 4)
		return 0;
	for (int i = 0; i < n; i++) {
		float v = tn->pitch_st[i];

		if (i) {
			while (v - un[i - 1] > OCTAVE_JUMP)
				v -= 12.0f;
			while (un[i - 1] - v > OCTAVE_JUMP)
				v += 12.0f;
		}
		un[i] = v;
	}
	/* A 3-point median; the ends have two neighbours only: the higher one. */
	for (int i = 1; i + 1 < n; i++)
		sm[i] = median3(un[i - 1], un[i], un[i + 1]);
	sm[0] = fmaxf(un[0], un[1]);
	sm[n - 1] = fmaxf(un[n - 2], un[n - 1]);
	for (int i = 0; i < n; i++) {
		if (tn->pitch_t[i] + END_WINDOW_MS < end_ms + 1)
			continue;
		if (first < 0)
			first = i;
		if (sm[i] < lo)
			lo = sm[i];
		if (sm[i] > hi)
			hi = sm[i];
		k++;
	}
	if (k < 3)
		return 0;
	endv = 0.5f * (sm[n - 1] + sm[n - 2]);
	return (endv - lo) - (hi - endv);
}

static void decide(struct amd_verdict *v, enum amd_class cls, enum amd_reason r, float conf)
{
	v->decided = true;
	v->cls = cls;
	v->reason = r;
	v->confidence = conf < 0.5f ? 0.5f : conf > 0.99f ? 0.99f : conf;
}

/* Silence after the last phrase that makes the turn a human's (see the design). */
static uint32_t human_wait(const struct amd_params *p, const struct amd_turn *tn)
{
	uint32_t span = tn->last_speech_ms - tn->start_ms;

	if (tn->phrase_q >= RISE_Q)
		return p->question_silence;
	if (span >= LONG_TURN_MS || tn->sentence_ends)
		return p->after_greeting_silence + (tn->phrase_q <= FALL_Q ? FALL_EXTRA_MS : 0);
	return p->answer_silence;
}

/* With statement_greeting set (a campaign that favours catching greetings): a turn
 * that never rose, of that span or more, is taken for a short greeting. */
static bool statement_turn(const struct amd_params *p, const struct amd_turn *tn)
{
	return p->statement_greeting && !tn->rises && tn->phrase_q < RISE_Q &&
	       tn->last_speech_ms - tn->start_ms >= p->statement_greeting;
}

static float sentences_conf(const struct amd_turn *tn)
{
	return 0.75f + 0.05f * (float)(tn->full_stops > 3 ? 3 : tn->full_stops);
}

static void close_phrase(struct amd *amd, struct amd_verdict *v)
{
	const struct amd_params *p = &amd->p;
	struct amd_turn *tn = &amd->st.a.turn;
	uint32_t end = tn->last_speech_ms;

	tn->in_phrase = false;
	tn->phrase_dur_ms = end - tn->phrase_start_ms;
	tn->phrase_q = phrase_q(tn, end);
	tn->phrases++;
#ifdef AMD_TRACE_FEATURES
	if (tn->phrases == 1)
		tn->tr.first_dur_ms = tn->phrase_dur_ms;
#endif
	if (tn->phrase_q >= RISE_Q)
		tn->rises++;
	tn->npitch = tn->npending = 0;
	if (tn->sentences_pending && tn->phrase_q < RISE_Q) {
		decide(v, AMD_MACHINE, AMD_REASON_SENTENCES, sentences_conf(tn));
		return;
	}
	tn->sentences_pending = false;
	/* Another falling phrase after a sentence end or a long pause: a greeting that
	 * reads on. (A person who asks again asks a question.) */
	if ((tn->sentence_ends || tn->long_pauses) && tn->phrase_q <= FALL_Q &&
	    tn->phrase_dur_ms >= RESUME_MIN_MS) {
		decide(v, AMD_MACHINE, AMD_REASON_RESUMED,
		       0.75f + 0.03f * fminf(5.0f, -tn->phrase_q));
		return;
	}
	tn->last_closed_falls = tn->phrase_q <= FALL_Q && tn->phrase_dur_ms >= SENTENCE_MIN_MS;
	(void)p;
}

void amd_turn_speech(struct amd *amd, uint32_t t_ms, uint32_t gained_ms, float f0_hz,
		     float e_db, struct amd_verdict *v)
{
	const struct amd_params *p = &amd->p;
	struct amd_turn *tn = &amd->st.a.turn;
	uint32_t span;

	if (tn->started && !tn->in_phrase) {
		/* A pause ended: what was it? */
		uint32_t gap = tn->silence_ms;

		if (gap >= SENTENCE_PAUSE_MS && tn->last_closed_falls)
			tn->sentence_ends++;
		if (gap >= FULL_STOP_MS && tn->last_closed_falls)
			tn->full_stops++;
		if (gap >= LONG_PAUSE_MS)
			tn->long_pauses++;
#ifdef AMD_TRACE_FEATURES
		if (tn->phrases == 1 && !tn->tr.first_gap_ms)
			tn->tr.first_gap_ms = gap;
#endif
	}
	if (!tn->in_phrase) {
		tn->in_phrase = true;
		tn->phrase_start_ms = t_ms - gained_ms;
		tn->phrase_voiced_ms = 0;
		/* pending pitch entries belong to this phrase already */
	}
	tn->npending = 0;
	pitch_push(tn, t_ms, f0_hz);
	tn->phrase_voiced_ms += gained_ms;
#ifdef AMD_TRACE_FEATURES
	tn->tr.lvl_n++;
	tn->tr.lvl_sum += e_db;
	tn->tr.lvl_sq += e_db * e_db;
	if (f0_hz > 0) {
		float st = 12.0f * log2f(f0_hz / 100.0f);

		tn->tr.f0_n++;
		tn->tr.f0_sum += st;
		tn->tr.f0_sq += st * st;
	}
#else
	(void)e_db;
#endif
	tn->silence_ms = 0;
	tn->last_speech_ms = t_ms;
	if (!tn->started) {
		tn->started = true;
		tn->start_ms = t_ms - gained_ms;
		tn->phrase_start_ms = tn->start_ms;
	}
	span = t_ms - tn->start_ms;
	if (span >= p->greeting) {
		decide(v, AMD_MACHINE, AMD_REASON_LONGGREETING,
		       0.85f + 0.1f * fminf(1.0f, (float)(span - p->greeting) / 1000.0f));
		return;
	}
	if (!tn->full_stops || span < p->sentence_greeting)
		return;
	/* With sentence_phrase, a short phrase after the full stop may be a person's
	 * question ("Hello, this is Tom. Who's calling?"): its end decides. */
	if (t_ms - tn->phrase_start_ms < p->sentence_phrase) {
		tn->sentences_pending = true;
		return;
	}
	decide(v, AMD_MACHINE, AMD_REASON_SENTENCES, sentences_conf(tn));
}

/*
 * The side the turn leans to now, before any rule is met: the provisional verdict
 * (AMD_EV_PROVISIONAL) and, at total_analysis_time, the final one (reason TOOLONG):
 * what the detector would answer if it had to answer now. Two questions or more
 * (a person asking), or silent for at least half the wait a human deserves after
 * a turn without sentence ends or long pauses that was short or ended with a
 * question: HUMAN. Speaking on past DEADLINE_SPAN_MS, or silent after a turn that
 * long or after sentence ends or long pauses (a greeting of phrases): MACHINE.
 * Otherwise (nothing heard, or a short turn just spoken): NOTSURE. The confidence
 * is low: these are guesses, right about two times in three on the tuning seed.
 */
void amd_turn_lean(const struct amd *amd, uint32_t t_ms, enum amd_class *cls, float *conf)
{
	const struct amd_turn *tn = &amd->st.a.turn;
	uint32_t span, silence, wait;

	*cls = AMD_NOTSURE;
	*conf = 0.5f;
	if (!tn->started)
		return;
	span = tn->last_speech_ms - tn->start_ms;
	silence = t_ms - tn->last_speech_ms;
	wait = human_wait(&amd->p, tn);
	if (!tn->in_phrase && statement_turn(&amd->p, tn)) {
		*cls = AMD_MACHINE;
		*conf = STATEMENT_CONF;
		return;
	}
	if (tn->rises >= DEADLINE_RISES ||
	    (!tn->in_phrase && silence * 2 >= wait && !tn->sentence_ends && !tn->long_pauses &&
	     (tn->phrase_q >= RISE_Q || span < DEADLINE_LONG_MS))) {
		*cls = AMD_HUMAN;
		*conf = 0.55f + 0.1f * fminf(1.0f, (float)silence / (float)wait);
	} else if (span >= DEADLINE_SPAN_MS || tn->sentence_ends || tn->long_pauses) {
		*cls = AMD_MACHINE;
		*conf = 0.6f;
	}
}

void amd_turn_deadline(struct amd *amd, uint32_t t_ms, struct amd_verdict *v)
{
	v->decided = true;
	v->reason = AMD_REASON_TOOLONG;
	amd_turn_lean(amd, t_ms, &v->cls, &v->confidence);
}

#ifdef AMD_TRACE_FEATURES
/*
 * A study build only (cmake -DCMAKE_C_FLAGS=-DAMD_TRACE_FEATURES, used by
 * tools/bench/amd-train): the turn's features on stderr at 600 ms and 1 s of
 * silence after a phrase and when a HUMAN wait is reached, one line each.
 */
#include <stdio.h>
static void trace(const struct amd *amd, const char *tag, uint32_t t_ms)
{
	const struct amd_turn *tn = &amd->st.a.turn;
	const struct amd_turn_trace *tr = &tn->tr;
	float ln = tr->lvl_n ? (float)tr->lvl_n : 1, fn = tr->f0_n ? (float)tr->f0_n : 1;
	float lm = tr->lvl_sum / ln, fm = tr->f0_sum / fn;

	fprintf(stderr, "TRACE %s t=%u span=%u phrases=%u rises=%u sends=%u fstops=%u lpauses=%u "
		"q=%.2f pdur=%u silence=%u voiced=%u lvlstd=%.2f f0std=%.2f pitched=%.3f "
		"firstdur=%u firstgap=%u start=%u wait=%u\n", tag, t_ms,
		tn->last_speech_ms - tn->start_ms, tn->phrases, tn->rises, tn->sentence_ends,
		tn->full_stops, tn->long_pauses, tn->phrase_q, tn->phrase_dur_ms, tn->silence_ms,
		amd->st.a.voiced_ms, sqrtf(fmaxf(0, tr->lvl_sq / ln - lm * lm)),
		sqrtf(fmaxf(0, tr->f0_sq / fn - fm * fm)), (float)tr->f0_n / ln,
		tr->first_dur_ms, tr->first_gap_ms, tn->start_ms, human_wait(&amd->p, tn));
}
#endif

void amd_turn_silence(struct amd *amd, uint32_t t_ms, struct amd_verdict *v)
{
	const struct amd_params *p = &amd->p;
	struct amd_turn *tn = &amd->st.a.turn;
	uint32_t wait;

	(void)t_ms;
	if (tn->npending) {
		/* The burst was a blip: its pitch goes with it. */
		tn->npitch = tn->npitch >= tn->npending ? tn->npitch - tn->npending : 0;
		tn->npending = 0;
	}
	if (!tn->started)
		return;
	tn->silence_ms = t_ms - tn->last_speech_ms;
	if (tn->in_phrase && tn->silence_ms >= PAUSE_MS) {
		close_phrase(amd, v);
		if (v->decided)
			return;
	}
	if (tn->in_phrase)
		return;
	wait = human_wait(p, tn);
#ifdef AMD_TRACE_FEATURES
	if (tn->silence_ms == 600 || tn->silence_ms == 1000)
		trace(amd, tn->silence_ms == 600 ? "S600" : "S1000", t_ms);
	if (tn->silence_ms >= wait)
		trace(amd, "WAIT", t_ms);
#endif
	if (tn->silence_ms >= wait && statement_turn(p, tn)) {
		decide(v, AMD_MACHINE, AMD_REASON_STATEMENT, STATEMENT_CONF);
		return;
	}
	if (tn->silence_ms >= wait) {
		float conf = 0.7f;

		if (tn->phrase_q >= RISE_Q)
			conf = 0.8f + 0.03f * fminf(5.0f, tn->phrase_q);
		else if (tn->last_speech_ms - tn->start_ms < 1200)
			conf = 0.8f;
		decide(v, AMD_HUMAN, AMD_REASON_HUMAN, conf);
	}
}
