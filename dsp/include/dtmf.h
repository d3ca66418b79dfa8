/*
 * dtmf.h — in-band DTMF: a streaming ITU-T Q.24 detector and a tone generator for
 * RFC 4733 -> in-band conversion, both on 8 kHz 16-bit linear audio.
 *
 * Level convention (used by both halves): levels are per tone, in dBm0, with a
 * full-scale 16-bit sine (amplitude 32767) at +3.14 dBm0. Twist is
 * level(high group tone) - level(low group tone), in dB.
 *
 * Detector: push-style. dtmf_det_process() takes any number of samples; results come
 * out through the handler, at the sample the decision is made, identical whatever the
 * block sizes the audio is split into. Each digit gives a DTMF_EV_BEGIN event (about
 * 35-40 ms after the tone starts) and a DTMF_EV_END event (about 20 ms after it stops),
 * both carrying the tone's start sample; the END event also carries its end sample.
 * Sample positions count from the first sample given after create/reset.
 *
 * Digits are the ASCII characters 0-9 * # A B C D.
 */
#ifndef TRUNX_DTMF_H
#define TRUNX_DTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Sample rate both the detector and the generator work at. */
#define DTMF_RATE 8000

/** Detector thresholds; fill with dtmf_det_params_default() and adjust. */
struct dtmf_det_params {
	float min_level_dbm0;  /**< weakest tone accepted, dBm0 per tone (-36) */
	float twist_min_db;    /**< most negative twist accepted (low louder), dB (-10) */
	float twist_max_db;    /**< most positive twist accepted (high louder), dB (+6) */
	float freq_tol_pct;    /**< largest frequency error accepted, % of nominal (2.0;
				    Q.24 wants 1.5 % accepted and 3.5 % rejected) */
	float purity_min;      /**< share of the signal power the two tones must carry,
				    0..1 (0.7); noise 15 dB down leaves 0.97, and 0.7
				    keeps digits whose tones are 4-6 dB over white
				    noise each (weak digits where the noise was set
				    against a louder mean) */
	unsigned min_hits;     /**< consecutive 35 ms analysis windows (5 ms apart) that
				    must agree before a digit starts (1; each one more adds
				    5 ms to the shortest tone recognised, 40 ms needs 1) */
	unsigned gap_ms;       /**< absence of the tones that ends a digit, ms (20):
				    shorter dropouts are bridged (10 ms always are); keep it
				    well under the 40 ms pause that separates digits */
};

enum dtmf_ev_type {
	DTMF_EV_BEGIN = 1,  /**< a digit was recognised; end is not yet known */
	DTMF_EV_END   = 2,  /**< the digit's tone stopped */
};

/** One detection result, valid only during the handler call. */
struct dtmf_event {
	enum dtmf_ev_type type;
	char     digit;          /**< '0'-'9', '*', '#', 'A'-'D' */
	uint64_t start;          /**< first sample of the tone (estimated to ~1 ms) */
	uint64_t end;            /**< END: one past the last sample of the tone;
				      BEGIN: the sample at which the digit was recognised */
	float    level_low_dbm0; /**< measured low group tone level, dBm0 */
	float    level_high_dbm0;/**< measured high group tone level, dBm0 */
	float    freq_err_low_pct;  /**< measured frequency error of the low tone, % */
	float    freq_err_high_pct; /**< measured frequency error of the high tone, % */
};

/** Receives detection results; called from inside dtmf_det_process/flush. */
typedef void (dtmf_det_h)(const struct dtmf_event *ev, void *arg);

struct dtmf_det;

/** Fills params with the defaults documented on struct dtmf_det_params. */
void dtmf_det_params_default(struct dtmf_det_params *params);

/**
 * Creates a detector.
 * @param detp    receives the detector; free with dtmf_det_destroy()
 * @param params  thresholds (copied), or NULL for the defaults
 * @param handler called for every result (required)
 * @param arg     passed to handler
 * @return 0, EINVAL (bad argument or out-of-range parameter), ENOMEM
 */
int dtmf_det_create(struct dtmf_det **detp, const struct dtmf_det_params *params,
		    dtmf_det_h *handler, void *arg);

/**
 * Feeds samples. Never allocates.
 * @return 0, or EINVAL if det is NULL or samples is NULL with count > 0
 */
int dtmf_det_process(struct dtmf_det *det, const int16_t *samples, size_t count);

/**
 * Declares the end of the stream: the audio is completed with silence so that a digit
 * still sounding (or about to be confirmed) is reported, then the detector is reset.
 */
void dtmf_det_flush(struct dtmf_det *det);

/** Forgets all state (no event is emitted); the sample count restarts at 0. */
void dtmf_det_reset(struct dtmf_det *det);

void dtmf_det_destroy(struct dtmf_det *det);

/* ---- generator ---- */

struct dtmf_gen;

/** Creates an idle generator. @return 0, EINVAL, ENOMEM */
int dtmf_gen_create(struct dtmf_gen **genp);

void dtmf_gen_destroy(struct dtmf_gen *gen);

/**
 * Starts a tone, replacing any tone in progress (which is cut without a ramp only
 * if the new one starts in the same sample).
 * @param digit      '0'-'9', '*', '#', 'A'-'D' (lower case a-d accepted)
 * @param duration   length in samples (8 kHz); 0 = until dtmf_gen_stop()
 * @param level_dbm0 level of the low group tone, dBm0 per tone (-63 .. +3)
 * @param twist_db   high group level minus low group level, dB (-10 .. +10)
 * @return 0, or EINVAL for an unknown digit or a level out of range
 */
int dtmf_gen_start(struct dtmf_gen *gen, char digit, uint32_t duration,
		   float level_dbm0, float twist_db);

/**
 * Changes the total duration of the tone in progress, counted from its start. For
 * RFC 4733 -> in-band: start the tone open (duration 0) on the first packet of an
 * event, ignore the updates, and give the final duration from the end packet here
 * (or call dtmf_gen_stop() when the end never comes). A tone that reaches its end
 * ramps down and goes idle; extend it before that to keep it going. A duration
 * already passed ends the tone within one ramp (1 ms).
 * @return 0, EINVAL, or EALREADY when no tone is in progress
 */
int dtmf_gen_set_duration(struct dtmf_gen *gen, uint32_t duration);

/** Ends the tone in progress now (with the usual short ramp down). */
void dtmf_gen_stop(struct dtmf_gen *gen);

/** True while a tone (including its ramp down) is being produced. */
bool dtmf_gen_busy(const struct dtmf_gen *gen);

/**
 * Produces the next count samples: the tone while one is in progress, then silence.
 * Amplitude ramps (1 ms raised cosine) shape the start and end. Never allocates.
 * @return the number of samples that carried tone (the rest of out is zero)
 */
size_t dtmf_gen_fill(struct dtmf_gen *gen, int16_t *out, size_t count);

/**
 * Maps an RFC 4733 event code (0-15) to its digit. @return the digit, or 0 when the
 * code is not a DTMF event
 */
char dtmf_event_digit(int event);

/** Maps a digit to its RFC 4733 event code. @return 0-15, or -1 for an unknown digit */
int dtmf_digit_event(char digit);

/**
 * Looks up a digit's two frequencies. @return 0, or EINVAL for an unknown digit
 */
int dtmf_digit_freqs(char digit, float *low_hz, float *high_hz);

#endif
