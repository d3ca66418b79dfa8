/*
 * tone_fft.c — 256-point real FFT (power only) for the tone detector.
 *
 * The real block x[0..255] is packed as z[n] = x[2n] + i*x[2n+1], transformed with
 * an in-place iterative radix-2 FFT of 128 points, then split into the spectrum of
 * x:  X[k] = (Z[k] + conj Z[M-k]) / 2 - i/2 * W^k (Z[k] - conj Z[M-k]),  W = e^(-2*pi*i/N),
 * M = N/2. About 2,000 multiply-adds per call.
 */
#include "tone_fft.h"

#include <math.h>

#define M (TONE_FFT_N / 2)

void tone_fft_init(struct tone_fft *f)
{
	for (int k = 0; k < M; k++) {
		unsigned r = 0;

		f->cos_n[k] = (float)cos(2.0 * M_PI * k / TONE_FFT_N);
		f->sin_n[k] = (float)sin(2.0 * M_PI * k / TONE_FFT_N);
		for (int b = 0; b < 7; b++)
			r |= (unsigned)((k >> b) & 1) << (6 - b);
		f->rev[k] = (unsigned short)r;
	}
}

/* In-place complex FFT of M points; twiddles of M points are every other entry of
 * the N-point table. */
static void fft_complex(struct tone_fft *f)
{
	float *re = f->re, *im = f->im;

	for (int span = 1, tw_step = M; span < M; span <<= 1, tw_step >>= 1) {
		for (int start = 0; start < M; start += 2 * span) {
			for (int j = 0; j < span; j++) {
				int a = start + j, b = a + span;
				float wr = f->cos_n[j * tw_step], wi = -f->sin_n[j * tw_step];
				float tr = re[b] * wr - im[b] * wi;
				float ti = re[b] * wi + im[b] * wr;

				re[b] = re[a] - tr;
				im[b] = im[a] - ti;
				re[a] += tr;
				im[a] += ti;
			}
		}
	}
}

void tone_fft_power(struct tone_fft *f, const float *x, float *pow)
{
	for (int n = 0; n < M; n++) {
		f->re[f->rev[n]] = x[2 * n];
		f->im[f->rev[n]] = x[2 * n + 1];
	}
	fft_complex(f);

	/* DC and Nyquist come from Z[0] alone. */
	pow[0] = (f->re[0] + f->im[0]) * (f->re[0] + f->im[0]);
	pow[M] = (f->re[0] - f->im[0]) * (f->re[0] - f->im[0]);
	for (int k = 1; k < M; k++) {
		float ar = f->re[k], ai = f->im[k];
		float br = f->re[M - k], bi = -f->im[M - k];          /* conj Z[M-k] */
		float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);   /* even part */
		float dr = 0.5f * (ar - br), di = 0.5f * (ai - bi);
		/* odd part: -i * W^k * d, W^k = cos - i sin */
		float c = f->cos_n[k], s = f->sin_n[k];
		float wr = dr * c + di * s, wi = di * c - dr * s;     /* W^k * d */
		float xr = er + wi, xi = ei - wr;                     /* e - i*(W^k d) */

		pow[k] = xr * xr + xi * xi;
	}
}
