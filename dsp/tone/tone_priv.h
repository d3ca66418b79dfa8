/*
 * tone_priv.h — the tone detector's state and the functions its files share
 * (private to dsp/tone): tone.c analyses hops and tracks the tone being heard,
 * tone_seg.c measures a finished tone, tone_run.c reads runs of tones as beeps,
 * fax tones or SIT.
 */
#ifndef TRUNX_TONE_PRIV_H
#define TRUNX_TONE_PRIV_H

#include <math.h>

#include "tone.h"
#include "tone_fft.h"

#define TONE_RATE    8000.0
#define TONE_HOP     80     /**< samples between analyses (10 ms) */
#define TONE_HOP_MS  10.0
#define TONE_HALF_MS 16.0   /**< half the analysis window (256 samples), ms */
#define TONE_PRE     3      /**< hops before a tone kept to see it rise */
#define TONE_HIST    6      /**< spectra kept, to measure the rise of a new tone */
#define TONE_HEAD    64     /**< per-hop values kept from a tone's start */
#define TONE_TAIL    16     /**< per-hop values kept at a tone's end (ring) */
#define TONE_CHAIN   4      /**< finished tones kept in a run (SIT needs 3) */
#define TONE_RUN_GAP_MS 60.0  /**< tones this close follow one another in a run */
#define TONE_FULL2   (32768.0 * 32768.0)

/* One tone: tracked while it sounds, then measured and kept in the current run. */
struct tone_seg {
	float    freq_hz;          /**< mean frequency of its tonal hops, Hz */
	double   fsum;             /**< sum of those frequencies, Hz */
	int      ntonal;           /**< tonal hops */
	int      gap;              /**< non-tonal hops since the last tonal one */
	int      k;                /**< FFT bin of the tone */
	double   t0_ms;            /**< centre time of hop 0 (first pre-hop), ms */
	int      nh;               /**< hops recorded (pre-hops included) */
	int      npre;             /**< pre-hops taken from the spectrum history */
	int      last_tonal;       /**< index of the last tonal hop */
	float    head[TONE_HEAD];  /**< band energy at bin k, hops 0 .. TONE_HEAD-1 */
	float    fhead[TONE_HEAD]; /**< frequency of those hops, Hz (0: not tonal) */
	float    phead[TONE_HEAD]; /**< purity of those hops */
	float    tail[TONE_TAIL];  /**< the same for the last hops (index % TONE_TAIL) */
	float    ftail[TONE_TAIL];
	float    ptail[TONE_TAIL];
	int      nnext;            /**< hops agreeing on another frequency (a new tone
				        taking over without a gap, as in SIT) */
	double   next_fsum;        /**< sum of their frequencies, Hz */
	/* set by tone_seg_close() */
	double   start_ms;         /**< half-energy start, ms */
	double   end_ms;           /**< half-energy end, ms */
	float    level_db;         /**< tone level, dB re full-scale square */
	float    rise_db;          /**< band energy rise into the tone, dB */
	float    fall_db;          /**< band energy fall after it, dB */
	bool     steady;           /**< a machine's tone: clean edges, still inside */
};

struct tone_det {
	struct tone_params p;
	tone_h  *h;
	void    *arg;

	struct tone_fft fft;
	float    win[TONE_FFT_N];        /**< Hann window */
	float    ring[TONE_FFT_N];       /**< last N samples, oldest at ring_pos */
	unsigned ring_pos;
	unsigned since_hop;              /**< samples since the last analysis */
	uint64_t samples;                /**< samples fed since start */
	bool     finished;               /**< tone_det_finish() was called */
	double   gate_ms;                /**< mean square below which a block is silent */

	float    buf[TONE_FFT_N];        /**< windowed block */
	float    pow[TONE_FFT_BINS];     /**< its power spectrum */
	float    hist[TONE_HIST][TONE_FFT_BINS]; /**< recent spectra (ring) */
	int      hist_pos;               /**< next slot in hist */
	int      hist_n;                 /**< valid entries */
	float    sortbuf[TONE_FFT_BINS]; /**< scratch for the noise-floor median */
	float    purity;                 /**< purity of the last hop */

	bool     active;                 /**< cur holds a tone (candidate or confirmed) */
	bool     confirmed;              /**< cur has enough tonal hops to count */
	struct tone_seg cur;

	struct tone_seg chain[TONE_CHAIN]; /**< finished tones of the current run */
	int      nchain;
	bool     sit_sent;               /**< SIT reported for the current run */
	bool     ced_sent;               /**< CED reported for the current tone */
};

/** Stream time, ms. */
static inline double tone_now_ms(const struct tone_det *td)
{
	return (double)td->samples * 1000.0 / TONE_RATE;
}

/** Centre time of hop i of a tone, ms. */
static inline double tone_seg_t(const struct tone_seg *s, int i)
{
	return s->t0_ms + TONE_HOP_MS * i;
}

/** Tone level in dB re full scale from its energy in +-2 bins of a Hann FFT. */
float tone_level_db(float eband);

/* tone_seg.c */
/** Records one hop of a tone: band energy e, frequency f (0: not tonal), purity. */
void tone_seg_push(struct tone_seg *s, float e, float f, float purity);
/** Fixes start, end, level and steadiness of a tone that ended (eos: with the
 *  stream) at now_ms. */
void tone_seg_close(struct tone_seg *s, bool eos, double now_ms);

/* tone_run.c */
/** Adds a finished tone to the current run (a new run if it does not follow). */
void tone_run_add(struct tone_det *td, const struct tone_seg *s);
/** The run is over: emits what it was (SIT, beep, CNG) and clears it. */
void tone_run_close(struct tone_det *td);
/** Reports what the confirmed tone still sounding already is (CED, end of SIT). */
void tone_run_sounding(struct tone_det *td, double t_ms, double start_ms);
/** Sends an event to the handler. */
void tone_emit(struct tone_det *td, enum tone_event_type type, float f, float lvl,
	       double start_ms, double end_ms);

#endif
