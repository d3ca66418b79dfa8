/*
 * amd.h — answering-machine detection on 8 kHz linear audio, from the moment of
 * answer: HUMAN, MACHINE or NOTSURE with a reason and the decision time, then (for
 * machines) the end of the voicemail beep, so that a message drop can start after it.
 *
 * Energy based, in the family of Asterisk's app_amd, with its parameters (and
 * names). Two strategies share the parameters:
 *   - "adaptive" (default): frame energy against a tracked noise floor, so quiet
 *     lines and noisy ones are segmented alike; speech/silence timing rules on top;
 *     fax (CNG/CED), SIT and beep detection (tone.h).
 *   - "classic": app_amd's algorithm as documented, with a fixed silence threshold
 *     and no tone detection; kept as the baseline for comparisons.
 *
 * Push-style: feed audio with amd_process() (any block size; it is cut into 20 ms
 * frames inside, so results do not depend on the block size); results come out
 * through the handler. One owner thread; no I/O, no allocation after create.
 */
#ifndef TRUNX_AMD_H
#define TRUNX_AMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct amd;

#define AMD_PATH_MAX 200   /**< longest phrase_model path, bytes with the NUL */

enum amd_strategy {
	AMD_STRATEGY_ADAPTIVE,  /**< noise-tracking segmentation + tone detection */
	AMD_STRATEGY_CLASSIC,   /**< app_amd's fixed-threshold algorithm */
};

enum amd_class {
	AMD_HUMAN,
	AMD_MACHINE,
	AMD_NOTSURE,
};

enum amd_reason {
	AMD_REASON_HUMAN,          /**< a short greeting followed by silence */
	AMD_REASON_INITIALSILENCE, /**< nothing said for initial_silence ms */
	AMD_REASON_LONGGREETING,   /**< speech longer than greeting ms */
	AMD_REASON_MAXWORDS,       /**< maximum_number_of_words reached */
	AMD_REASON_MAXWORDLENGTH,  /**< one word longer than maximum_word_length ms */
	AMD_REASON_SENTENCES,      /**< sentence after sentence, each ending with a fall:
				        a recorded greeting reading on */
	AMD_REASON_RESUMED,        /**< after a sentence end or a long pause, another
				        statement: a greeting of phrases and pauses */
	AMD_REASON_BEEP,           /**< a voicemail beep before any other decision */
	AMD_REASON_PHRASE,         /**< with phrases: a voicemail phrase was spotted
				        ("leave a message", "after the tone", ...) */
	AMD_REASON_FAX,            /**< fax calling (CNG) or answer (CED) tone */
	AMD_REASON_SIT,            /**< special information tones: a network announcement */
	AMD_REASON_TOOLONG,        /**< total_analysis_time elapsed with no rule met:
				        adaptive gives the class the turn leans to
				        (NOTSURE if neither), classic NOTSURE */
	AMD_REASON_HANGUP,         /**< the audio ended undecided (amd_finish) */
	AMD_REASON_STATEMENT,      /**< with statement_greeting: a turn of statements
				        (no question's rise) this long, then silence */
};

enum amd_event_type {
	AMD_EV_DECISION,    /**< the classification, with its confidence; once per
			         stream: as soon as a rule is met (early), else at
			         total_analysis_time or the stream's end */
	AMD_EV_BEEP,        /**< after a MACHINE decision: the beep ended at beep_end_ms */
	AMD_EV_BEEP_NONE,   /**< after a MACHINE decision: no beep within beep_wait ms
			         (or the stream ended, or the message ended in silence) */
	AMD_EV_FRAME,       /**< with the trace parameter: one per 20 ms frame analysed
			         before the decision (energy_db, floor_db, speech) */
	AMD_EV_MESSAGE_END, /**< with message_end, after MACHINE: the greeting is over
			         (message_how says how, message_end_ms when); the
			         detector is done */
	AMD_EV_PROVISIONAL, /**< with provisional, before the decision: the class the
			         call leans to changed (cls, confidence; NOTSURE: it
			         leans neither way any more). What the decision would
			         be if the analysis ended now; it may change again,
			         and AMD_EV_DECISION is the verdict that counts */
};

/** How a greeting was found to end (AMD_EV_MESSAGE_END). */
enum amd_message_end {
	AMD_MSG_BEEP,       /**< its beep ended at message_end_ms */
	AMD_MSG_SILENCE,    /**< no beep: its last speech ended at message_end_ms and
			         message_silence ms of silence followed */
	AMD_MSG_TIMEOUT,    /**< neither within beep_wait (or before the stream ended):
			         message_end_ms is the time of giving up */
};

struct amd_event {
	enum amd_event_type type;
	enum amd_class  cls;          /**< AMD_EV_DECISION, _PROVISIONAL: the class */
	enum amd_reason reason;       /**< AMD_EV_DECISION: why */
	float    confidence;          /**< AMD_EV_DECISION, _PROVISIONAL: 0.5 (a guess)
				           .. 0.99; the share of decisions of that kind
				           and strength that were right on the tuning
				           corpus */
	bool     early;               /**< AMD_EV_DECISION: a rule was met before
				           total_analysis_time (not the deadline or the
				           stream's end) */
	uint32_t decision_ms;         /**< AMD_EV_DECISION, _PROVISIONAL: its time, ms */
	const char *phrase;           /**< AMD_EV_DECISION for PHRASE: what was heard
				           (valid during the call only), else NULL */
	enum amd_message_end message_how; /**< AMD_EV_MESSAGE_END: beep, silence, timeout */
	uint32_t message_end_ms;      /**< AMD_EV_MESSAGE_END: the greeting's end, ms */
	uint32_t beep_start_ms;       /**< AMD_EV_BEEP: start of the beep, ms */
	uint32_t beep_end_ms;         /**< AMD_EV_BEEP: end of the beep, ms */
	float    beep_hz;             /**< AMD_EV_BEEP: its frequency, Hz */
	float    energy_db;           /**< AMD_EV_FRAME: frame level, dB re full scale */
	float    floor_db;            /**< AMD_EV_FRAME: noise floor (adaptive) or the
				           silence threshold (classic), dB */
	bool     speech;              /**< AMD_EV_FRAME: the frame counted as speech */
	float    f0_hz;               /**< AMD_EV_FRAME: pitch, Hz (0: unvoiced) */
	float    voicing;             /**< AMD_EV_FRAME: periodicity, 0..1 */
	uint32_t now_ms;              /**< stream time when the event is emitted, ms */
};

/** Receives each event, from inside amd_process()/amd_finish(). */
typedef void (amd_h)(const struct amd_event *ev, void *arg);

/*
 * Parameters. Times in ms from answer (the first sample fed). The names accepted by
 * amd_param_set() are given in brackets; the first nine are app_amd's amd.conf keys
 * and mean the same thing. Defaults differ per strategy (amd_params_init()).
 */
struct amd_params {
	enum amd_strategy strategy;    /**< [strategy] "adaptive" or "classic" */
	uint32_t initial_silence;      /**< [initial_silence] silence before any speech
					    longer than this: MACHINE INITIALSILENCE
					    (2500) */
	uint32_t greeting;             /**< [greeting] a greeting longer than this:
					    MACHINE LONGGREETING. Classic counts voiced
					    ms (1500); adaptive measures from the first
					    word to the last speech, pauses included,
					    and sets it past the longest answers people
					    give (4800) */
	uint32_t after_greeting_silence; /**< [after_greeting_silence] silence after the
					    greeting longer than this: HUMAN (classic
					    800). Adaptive: after a turn of 2 s or more
					    that does not end with a question (1200;
					    400 more when it ends falling) */
	uint32_t total_analysis_time;  /**< [total_analysis_time] undecided this long:
					    reason TOOLONG: adaptive's best guess,
					    classic's NOTSURE (5000) */
	uint32_t min_word_length;      /**< [min_word_length] shortest word (100) */
	uint32_t between_words_silence; /**< [between_words_silence] silence that
					    separates words (classic 50, adaptive 150) */
	uint32_t maximum_number_of_words; /**< [maximum_number_of_words] this many words:
					    MACHINE MAXWORDS; 0 disables (classic 2,
					    adaptive 0) */
	uint32_t silence_threshold;    /**< [silence_threshold] mean |sample| (0..32767)
					    under which a frame is silence: classic's
					    only threshold (256); adaptive's absolute
					    floor under its tracked one (24) */
	uint32_t maximum_word_length;  /**< [maximum_word_length] one word longer than
					    this: MACHINE MAXWORDLENGTH (5000) */
	/* trunx's own (classic defaults: tones 0, beep 0, message_end 0) */
	uint32_t question_silence;     /**< [question_silence] adaptive: silence after a
					    phrase ending with a rise (a question) that
					    makes HUMAN (1100) */
	uint32_t answer_silence;       /**< [answer_silence] adaptive: silence after a
					    short turn (under 2 s) that does not rise;
					    longer than the pauses of greetings made of
					    short phrases (2000) */
	uint32_t sentence_greeting;    /**< [sentence_greeting] adaptive: once a sentence
					    ended with a fall and a pause and speech
					    went on, a span this long: MACHINE
					    SENTENCES (2400) */
	uint32_t sentence_phrase;      /**< [sentence_phrase] adaptive: SENTENCES waits
					    for the phrase after the full stop to last
					    this long; a shorter one decides it when it
					    ends, unless it rose ("Hello, this is Tom.
					    Who's calling?"): fewer full-sentence
					    answers called MACHINE for a later
					    decision (0: off) */
	uint32_t statement_greeting;   /**< [statement_greeting] adaptive: a turn that
					    does not end with a question's rise, of
					    this span or more, followed by the silence
					    that would make it HUMAN: MACHINE STATEMENT
					    instead. The per-campaign trade-off: it
					    takes short beepless greetings and as many
					    or more people's answers (0: off) */
	bool     message_end;          /**< [message_end] after MACHINE, report
					    AMD_EV_MESSAGE_END (0) */
	uint32_t message_silence;      /**< [message_silence] with message_end: silence
					    after the last speech that ends a greeting
					    without a beep (2500) */
	float    speech_margin_db;     /**< [speech_margin_db] smallest margin above the
					    noise floor for a frame to be speech; noisier
					    or louder lines widen it; adaptive only (5 dB) */
	bool     tones;                /**< [tones] fax and SIT tones decide MACHINE (1) */
	bool     beep;                 /**< [beep] a beep before the decision decides
					    MACHINE; after MACHINE, report the beep (1) */
	uint32_t beep_wait;            /**< [beep_wait] give up the beep this long after
					    answer (30000) */
	bool     trace;                /**< [trace] emit AMD_EV_FRAME events (0) */
	bool     provisional;          /**< [provisional] adaptive: emit AMD_EV_PROVISIONAL
					    events before the decision (0) */
	/* The optional phrase-spotting layer (English; amd_phrase.c) */
	bool     phrases;              /**< [phrases] spot voicemail phrases with the
					    local recogniser: MACHINE PHRASE (0) */
	float    phrase_threshold;     /**< [phrase_threshold] 20: each phrase's
					    spotting threshold as tuned; each unit
					    more spots more (x10), and more wrongly */
	char     phrase_model[AMD_PATH_MAX]; /**< [phrase_model] folder of the en-us
					    model: en-us/ and cmudict-en-us.dict
					    (/usr/share/pocketsphinx/model/en-us) */
};

/** Fills p with the defaults of strategy s. */
void amd_params_init(struct amd_params *p, enum amd_strategy s);

/**
 * Sets one parameter by name (the names above), value as text (ms, dB, 0/1,
 * "adaptive"/"classic"). Setting "strategy" reloads that strategy's defaults, so
 * give it first.
 * @return 0, EINVAL (unknown name or bad value)
 */
int amd_param_set(struct amd_params *p, const char *name, const char *value);

/** Writes "name=value" pairs of every parameter into buf (for logs); returns buf. */
const char *amd_params_str(const struct amd_params *p, char *buf, size_t len);

/**
 * Creates a detector. With phrases=1 this loads the recogniser's model (hundreds
 * of ms, about 30 MB).
 * @param amdp receives the detector (caller owns it: amd_destroy())
 * @param p    parameters (copied); NULL for the adaptive defaults
 * @param h    event handler (required)
 * @param arg  passed to h
 * @return 0, EINVAL, ENOMEM; with phrases: ENOENT (no model at phrase_model),
 *         ENAMETOOLONG, or an error creating the phrase list's temporary file
 */
int amd_create(struct amd **amdp, const struct amd_params *p, amd_h *h, void *arg);

/**
 * Feeds n samples of 8 kHz 16-bit linear audio. Audio after the detector is done
 * (HUMAN/NOTSURE decided, or the beep found or given up) is ignored.
 * @return 0, EINVAL
 */
int amd_process(struct amd *amd, const int16_t *s, size_t n);

/**
 * Ends the stream: a partial frame is dropped; an undecided detector reports
 * NOTSURE HANGUP; a beep still sounding is closed and reported; a machine still
 * waiting for its beep gets AMD_EV_BEEP_NONE.
 */
void amd_finish(struct amd *amd);

/** True once nothing more will be reported. */
bool amd_done(const struct amd *amd);

/** Starts over with the same parameters (time restarts at 0). */
void amd_reset(struct amd *amd);

void amd_destroy(struct amd *amd);

const char *amd_class_name(enum amd_class c);     /**< "HUMAN", "MACHINE", "NOTSURE" */
const char *amd_reason_name(enum amd_reason r);   /**< "LONGGREETING", ... */

#endif
