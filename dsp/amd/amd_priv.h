/*
 * amd_priv.h — the answering-machine detector's state and its strategy interface
 * (private to dsp/amd).
 *
 * amd.c owns the stream: it cuts audio into 20 ms frames, keeps time, runs the tone
 * detector, turns tone events into decisions and waits for the beep. A strategy
 * (amd_classic.c, amd_adaptive.c) sees one frame at a time and says when it has
 * classified the call.
 */
#ifndef TRUNX_AMD_PRIV_H
#define TRUNX_AMD_PRIV_H

#include "amd.h"
#include "tone.h"
#include "amd_pitch.h"

#define AMD_FRAME    160   /**< samples per frame (20 ms at 8 kHz) */
#define AMD_FRAME_MS 20
#define AMD_NOISE_SUB    8   /**< frames per noise-floor sub-window (160 ms) */
#define AMD_NOISE_NSUB   16  /**< sub-windows remembered (2.56 s) */

struct amd;

/* What a strategy concludes from one frame. */
struct amd_verdict {
	bool decided;
	enum amd_class cls;
	enum amd_reason reason;
	float confidence;      /**< 0.5 (a guess) .. 1 (certain) */
};

#define AMD_TURN_PITCH 32   /**< voiced frames of a phrase kept for its intonation */

/*
 * The turn analysis (amd_turn.c): the greeting cut into phrases at pauses, the
 * intonation at the end of each phrase, the pauses between them, and the rules that
 * read a human's turn or a recorded greeting from them.
 */
struct amd_turn {
	bool     started;            /**< a first word has been heard */
	uint32_t start_ms;           /**< start of the greeting (its first word), ms */
	uint32_t last_speech_ms;     /**< end of the last speech frame, ms */
	uint32_t silence_ms;         /**< current run of non-speech, ms */
	/* the phrase being spoken (or the last one, once closed) */
	bool     in_phrase;          /**< speech since the last pause of PAUSE_MS */
	uint32_t phrase_start_ms;
	uint32_t phrase_voiced_ms;
	float    phrase_q;           /**< intonation of the last closed phrase: semitones of
					  final rise minus final fall (0: unknown) */
	uint32_t phrase_dur_ms;      /**< duration of the last closed phrase, ms */
	uint16_t npitch;             /**< entries in pitch[] */
	uint16_t npending;           /**< of them, from speech not yet confirmed */
	uint32_t pitch_t[AMD_TURN_PITCH]; /**< frame end times, ms */
	float    pitch_st[AMD_TURN_PITCH]; /**< F0 in semitones re 100 Hz */
	uint32_t phrases;            /**< closed phrases */
	uint32_t rises;              /**< of them, ending with a question's rise */
	uint32_t sentence_ends;      /**< falling phrase ends followed by a pause and more
					  speech */
	uint32_t full_stops;         /**< of them, with a pause of FULL_STOP_MS or more */
	uint32_t long_pauses;        /**< pauses of LONG_PAUSE_MS or more inside the greeting */
	bool     last_closed_falls;  /**< the last closed phrase qualifies as a sentence end */
	bool     sentences_pending;  /**< with sentence_phrase: SENTENCES met during a
					  phrase shorter than it, decided when it ends
					  unless it rises */
#ifdef AMD_TRACE_FEATURES
	struct amd_turn_trace {      /**< the study build's extra features (amd_turn.c) */
		uint32_t lvl_n;          /**< confirmed speech frames */
		float    lvl_sum, lvl_sq; /**< their levels, dB, and squares */
		uint32_t f0_n;           /**< of them, voiced */
		float    f0_sum, f0_sq;  /**< their F0, semitones re 100 Hz, and squares */
		uint32_t first_dur_ms;   /**< duration of the first closed phrase, ms */
		uint32_t first_gap_ms;   /**< the pause after it, ms (0: none yet) */
	} tr;
#endif
};

/* One classification strategy. */
struct amd_ops {
	const char *name;
	/** Clears the strategy's state at the start of a stream. */
	void (*reset)(struct amd *amd);
	/**
	 * Takes one frame ending at t_ms. tone_busy: the tone detector hears a tone
	 * (the adaptive strategy keeps it out of the speech that tells a fax tone
	 * from a beep).
	 */
	void (*frame)(struct amd *amd, const int16_t *s, uint32_t t_ms, bool tone_busy,
		      struct amd_verdict *v);
	/**
	 * After the decision, for the message end: segments one frame only and says
	 * whether it is (confirmed) speech.
	 */
	bool (*listen)(struct amd *amd, const int16_t *s, uint32_t t_ms, bool tone_busy);
	/**
	 * Before the decision, after frame(): the class the call leans to now and its
	 * confidence (NOTSURE: neither), for AMD_EV_PROVISIONAL. NULL: no leaning.
	 */
	void (*lean)(const struct amd *amd, uint32_t t_ms, enum amd_class *cls, float *conf);
};

extern const struct amd_ops amd_classic_ops;
extern const struct amd_ops amd_adaptive_ops;

/* app_amd's counters (names follow its documentation). */
struct amd_classic {
	uint32_t total_ms;            /**< iTotalTime */
	uint32_t dsp_silence_ms;      /**< consecutive silent ms seen by the silence detector */
	uint32_t silence_ms;          /**< silenceDuration */
	uint32_t voice_ms;            /**< voiceDuration */
	uint32_t consecutive_voice_ms;
	uint32_t words;
	bool     in_word;             /**< currentState == STATE_IN_WORD */
	bool     in_initial_silence;
	bool     in_greeting;
};

/* The adaptive strategy: energy, noise floor, segmentation, timing. */
struct amd_adaptive {
	double   hp_x1, hp_x2, hp_y1, hp_y2; /**< high-pass filter memory */
	float    sub_min[AMD_NOISE_NSUB];    /**< minimum energy of past sub-windows, dB */
	int      nsub;                       /**< valid entries in sub_min */
	int      sub_pos;                    /**< next slot */
	float    cur_min;                    /**< minimum of the sub-window being filled, dB */
	int      cur_n;                      /**< frames in it */
	float    floor_db;                   /**< current noise floor, dB */
	float    spread_db;                  /**< mean height of noise frames above the
						  floor, dB */
	float    peak_db;                    /**< recent loudest frame (speech level), dB */
	bool     raw_speech;                 /**< last frame was above the threshold */
	bool     speech;                     /**< in confirmed speech */
	uint32_t pending_ms;                 /**< speech frames not yet confirmed */

	uint32_t voiced_ms;                  /**< speech since the greeting began */
	uint32_t tone_ms;                    /**< of it, while a tone was sounding */
	uint32_t greeting_start_ms;          /**< start of the first word, ms */
	uint32_t last_speech_ms;             /**< end of the last speech frame, ms */
	float    greeting_peak_db;           /**< loudest speech frame of the greeting, dB */
	uint32_t consecutive_voice_ms;       /**< current run of speech frames */
	uint32_t silence_ms;                 /**< current run of non-speech frames */
	uint32_t words;
	bool     in_word;
	bool     in_greeting;                /**< a first word has been heard */
	struct amd_pitch pitch;              /**< F0 tracker */
	struct amd_turn turn;                /**< phrases, intonation, turn rules */
};

struct amd {
	struct amd_params p;
	const struct amd_ops *ops;
	amd_h   *h;
	void    *arg;
	struct tone_det *tone;        /**< NULL when neither tones nor beep are wanted */
	struct amd_phrase *phrase;    /**< the phrase spotter, NULL unless phrases=1 */

	int16_t  frame[AMD_FRAME];    /**< partial frame being filled */
	unsigned fill;
	uint64_t frames;              /**< frames processed */

	bool     decided;             /**< AMD_EV_DECISION sent */
	enum amd_class provisional;   /**< the last AMD_EV_PROVISIONAL's class (NOTSURE:
					   none sent yet) */
	enum amd_class cls;
	bool     waiting_beep;        /**< MACHINE decided, beep still awaited */
	bool     waiting_end;         /**< MACHINE decided, message end still awaited */
	bool     heard_speech;        /**< some speech was heard (message end) */
	uint32_t last_speech_ms;      /**< end of the last speech frame, ms (strategies
					   keep it, before and after the decision) */
	bool     done;                /**< nothing more to report */
	uint32_t speech_ms;           /**< speech heard in the greeting so far, as the
					   strategy counts it (for reading tones), ms */
	uint32_t ced_start_ms;        /**< start + 1 of a 2,100 Hz tone heard after speech,
					   0 when none is sounding, ms */
	float    trace_energy_db;     /**< last frame's level, for AMD_EV_FRAME */
	float    trace_floor_db;      /**< last frame's floor or threshold */
	bool     trace_speech;        /**< last frame counted as speech */
	float    trace_f0;            /**< last frame's F0, Hz (0: unvoiced) */
	float    trace_voicing;       /**< and its periodicity, 0..1 */

	union {
		struct amd_classic  c;
		struct amd_adaptive a;
	} st;
};

/* amd_phrase.c: the phrase-spotting layer */
struct amd_phrase;
/** Loads the recogniser (p: phrase_model, phrase_threshold). 0 or errno. */
int amd_phrase_create(struct amd_phrase **pp, const struct amd_params *p);
/** Starts a new stream. */
void amd_phrase_reset(struct amd_phrase *ph);
/** One 20 ms frame; returns the phrase(s) spotted so far, NULL while none. */
const char *amd_phrase_frame(struct amd_phrase *ph, const int16_t *s);
void amd_phrase_destroy(struct amd_phrase *ph);

/* amd_turn.c */
void amd_turn_reset(struct amd_turn *tn);
/** A frame of unconfirmed speech: its pitch is kept in case it is confirmed. */
void amd_turn_pending(struct amd_turn *tn, uint32_t t_ms, float f0_hz);
/** A frame of confirmed speech at t_ms (gained_ms of speech counted with it; e_db:
 *  its level, read by the study build only). */
void amd_turn_speech(struct amd *amd, uint32_t t_ms, uint32_t gained_ms, float f0_hz,
		     float e_db, struct amd_verdict *v);
/** A frame without speech (silence_ms: the run of non-speech so far). */
void amd_turn_silence(struct amd *amd, uint32_t t_ms, struct amd_verdict *v);
/** The class the turn leans to at t_ms (NOTSURE: neither), with its confidence. */
void amd_turn_lean(const struct amd *amd, uint32_t t_ms, enum amd_class *cls, float *conf);
/** total_analysis_time reached undecided: the lean, reason TOOLONG. */
void amd_turn_deadline(struct amd *amd, uint32_t t_ms, struct amd_verdict *v);
/** The greeting starts again at start_ms (background talk came before it). */
void amd_turn_restart(struct amd_turn *tn, uint32_t start_ms);

/** Mean |sample| threshold (app_amd's unit) as an RMS level in dB re full scale. */
float amd_threshold_db(uint32_t mean_abs);

#endif
