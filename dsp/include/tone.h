/*
 * tone.h — single-frequency tone detection on 8 kHz linear audio: voicemail beeps,
 * fax calling and answer tones (CNG 1,100 Hz, CED 2,100 Hz) and the three-tone
 * special information tone (SIT) that precedes carrier announcements.
 *
 * Push-style and streaming: feed any number of samples at a time; events come out
 * through the handler, with times in ms from the first sample fed. Results do not
 * depend on how the audio is cut into blocks. No threads, no I/O, no allocation
 * after create. Used by the answering-machine detector (amd.h), usable alone.
 */
#ifndef TRUNX_TONE_H
#define TRUNX_TONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tone_det;

enum tone_event_type {
	TONE_EV_BEEP,     /**< a single tone (or a short run of tones) in the beep band
			       and duration range has ended */
	TONE_EV_FAX_CNG,  /**< a 1,100 Hz burst of about 0.5 s has ended (calling fax) */
	TONE_EV_FAX_CED,  /**< a 2,100 Hz tone has lasted ced_min_ms (answering fax or
			       modem); reported while it continues */
	TONE_EV_SIT,      /**< the three SIT tones, in order, have been heard */
};

struct tone_event {
	enum tone_event_type type;
	float    freq_hz;   /**< frequency of the (last) tone, Hz */
	float    level_db;  /**< tone level, dB relative to a full-scale square wave */
	uint32_t start_ms;  /**< start of the tone (the first tone of a SIT), ms */
	uint32_t end_ms;    /**< end of the tone; for CED the time of the report, ms */
	uint32_t now_ms;    /**< stream time when the event is emitted, ms */
};

/** Receives each event; called from inside tone_det_process()/tone_det_finish(). */
typedef void (tone_h)(const struct tone_event *ev, void *arg);

struct tone_params {
	float beep_min_hz;      /**< beep band, Hz (default 390) */
	float beep_max_hz;      /**< (default 2,110) */
	uint32_t beep_min_ms;   /**< shortest beep, ms (default 65: an 80 ms tone passes) */
	uint32_t beep_max_ms;   /**< longest beep, ms (default 2,100) */
	float min_level_db;     /**< quietest tone, dB re full-scale square (default -50) */
	float min_purity;       /**< share of the band's energy (noise floor removed) that
				     must sit within +-2 bins of the peak (default 0.80) */
	uint32_t ced_min_ms;    /**< 2,100 Hz held this long gives TONE_EV_FAX_CED
				     (default 400) */
};

/** Fills params with the defaults above. */
void tone_params_init(struct tone_params *p);

/**
 * Creates a detector.
 * @param tdp     receives the detector (owned by the caller: tone_det_destroy())
 * @param p       parameters (copied); NULL for the defaults
 * @param h       event handler (may be NULL: only tone_det_busy() is then useful)
 * @param arg     passed to h
 * @return 0, EINVAL (bad parameters), ENOMEM
 */
int tone_det_create(struct tone_det **tdp, const struct tone_params *p, tone_h *h, void *arg);

/** Feeds n samples (8 kHz, 16-bit linear). Returns 0 or EINVAL. */
int tone_det_process(struct tone_det *td, const int16_t *s, size_t n);

/**
 * Ends the stream: a tone still sounding is closed at the current time and its
 * events (beep, CNG, SIT) are emitted. Audio fed afterwards is ignored until
 * tone_det_reset().
 */
void tone_det_finish(struct tone_det *td);

/** True while a confirmed tone is sounding or a run of tones may still grow. */
bool tone_det_busy(const struct tone_det *td);

/** Forgets all state; time restarts at 0. */
void tone_det_reset(struct tone_det *td);

void tone_det_destroy(struct tone_det *td);

/** "BEEP", "FAX_CNG", "FAX_CED", "SIT". */
const char *tone_event_name(enum tone_event_type t);

#endif
