/*
 * tone_priv.h — the tone detector's state (private to dsp/tone).
 */
#ifndef TRUNX_TONE_PRIV_H
#define TRUNX_TONE_PRIV_H

#include "tone.h"
#include "tone_fft.h"

#define TONE_HOP    80   /**< samples between analyses (10 ms) */
#define TONE_HIST   6    /**< spectra kept, to measure the rise of a new tone */
#define TONE_HEAD   64   /**< band energies kept from a tone's start */
#define TONE_TAIL   16   /**< band energies kept at a tone's end (ring) */
#define TONE_CHAIN  4    /**< finished tones kept in a run (SIT needs 3) */

/* One tone: tracked while it sounds, then kept in the current run. */
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
	float    tail[TONE_TAIL];  /**< band energy of the last hops (index % TONE_TAIL) */
	float    fhead[TONE_HEAD]; /**< frequency of those hops, Hz (0: not tonal) */
	float    ftail[TONE_TAIL];
	float    phead[TONE_HEAD]; /**< purity of those hops */
	float    ptail[TONE_TAIL];
	double   start_ms;         /**< half-energy start, ms (set when the tone ends) */
	double   end_ms;           /**< half-energy end, ms (set when the tone ends) */
	float    level_db;         /**< tone level, dB re full-scale square */
	float    rise_db;          /**< band energy rise into the tone, dB */
	float    fall_db;          /**< band energy fall after it, dB */
	bool     steady;           /**< level and frequency held still inside the tone */
	int      nnext;            /**< hops agreeing on another frequency (a new tone
				        taking over without a gap, as in SIT) */
	double   next_fsum;        /**< sum of their frequencies, Hz */
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

#endif
