/*
 * tone_fft.h — the fixed-size real FFT behind the tone detector (private to dsp/tone).
 *
 * 256 real samples -> 129 power bins, computed as a 128-point complex FFT of the
 * even/odd sample pairs plus the usual split step. Tables live in the caller's
 * struct, so there is no global state and nothing is allocated per call.
 */
#ifndef TRUNX_TONE_FFT_H
#define TRUNX_TONE_FFT_H

#define TONE_FFT_N    256              /**< real input length */
#define TONE_FFT_BINS (TONE_FFT_N / 2 + 1)

struct tone_fft {
	float cos_n[TONE_FFT_N / 2];       /**< cos(2*pi*k/N), k < N/2 (split step) */
	float sin_n[TONE_FFT_N / 2];       /**< sin(2*pi*k/N) */
	unsigned short rev[TONE_FFT_N / 2]; /**< bit reversal of 7-bit indexes */
	float re[TONE_FFT_N / 2];          /**< work buffers */
	float im[TONE_FFT_N / 2];
};

/** Fills the tables. */
void tone_fft_init(struct tone_fft *f);

/**
 * Power spectrum of a real block.
 * @param f   tables and work space from tone_fft_init()
 * @param x   TONE_FFT_N input samples (already windowed)
 * @param pow receives TONE_FFT_BINS values |X[k]|^2, k = 0 .. N/2
 */
void tone_fft_power(struct tone_fft *f, const float *x, float *pow);

#endif
