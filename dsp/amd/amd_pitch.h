/*
 * amd_pitch.h — a small pitch (F0) tracker for the answering-machine detector
 * (private to dsp/amd): one estimate per 20 ms frame of 8 kHz audio.
 */
#ifndef TRUNX_AMD_PITCH_H
#define TRUNX_AMD_PITCH_H

#include <stdbool.h>
#include <stdint.h>

#define AMD_PITCH_DEC   2                      /**< decimation: analysis at 4 kHz */
#define AMD_PITCH_HOP   (160 / AMD_PITCH_DEC)  /**< decimated samples per frame */
#define AMD_PITCH_MINLAG 10                    /**< 400 Hz */
#define AMD_PITCH_MAXLAG 67                    /**< 60 Hz */
#define AMD_PITCH_WIN   96                     /**< correlation length (24 ms) */
#define AMD_PITCH_BUF   (AMD_PITCH_WIN + AMD_PITCH_MAXLAG + 1)

struct amd_pitch {
	float  x[AMD_PITCH_BUF];   /**< decimated low-passed audio, oldest first */
	double lp[4];              /**< low-pass biquad cascade memory */
	float  last_hz;            /**< previous voiced estimate (continuity), 0 none */
};

/** Clears the tracker. */
void amd_pitch_reset(struct amd_pitch *p);

/**
 * Takes one 20 ms frame (160 samples). When analyse is false the audio is only
 * buffered (cheap).
 * @param hz     receives F0 in Hz, 0 when the frame is not voiced
 * @param voicing receives the normalised correlation at that period (0..1)
 */
void amd_pitch_frame(struct amd_pitch *p, const int16_t *s, bool analyse, float *hz,
		     float *voicing);

#endif
