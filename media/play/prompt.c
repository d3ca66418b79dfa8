/*
 * prompt.c — loading a prompt: a WAV file read and converted to the 8 kHz linear audio
 * the media path plays (media_feat.h). Runs on a thread that may wait on disk (the
 * control thread), never on a media thread.
 *
 * DESIGN
 * dsp/wav parses the file (every length checked). Accepted: mono PCM 16-bit at 8, 16
 * or 48 kHz, and mono G.711 at 8 kHz. 16 and 48 kHz are brought to 8 kHz by a
 * windowed-sinc low-pass FIR (cut-off 3.6 kHz, -60 dB beyond 4 kHz) evaluated only at
 * the kept samples, so nothing above the new Nyquist folds back into the band.
 */
#include "media_feat.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wav.h"

#define PROMPT_RATE   8000
#define PROMPT_TAPS_2 47     /**< FIR length for 16 kHz -> 8 kHz */
#define PROMPT_TAPS_6 139    /**< ... and for 48 kHz -> 8 kHz */
#define PROMPT_CUTOFF 3600.0 /**< Hz */

static int say(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Blackman-windowed sinc, unity gain at DC. */
static void fir_design(double *h, unsigned taps, double rate)
{
	double fc = PROMPT_CUTOFF / rate, sum = 0;
	double mid = (taps - 1) / 2.0;

	for (unsigned i = 0; i < taps; i++) {
		double x = i - mid;
		double sinc = x == 0 ? 2 * fc : sin(2 * M_PI * fc * x) / (M_PI * x);
		double w = 0.42 - 0.5 * cos(2 * M_PI * i / (taps - 1)) +
			   0.08 * cos(4 * M_PI * i / (taps - 1));

		h[i] = sinc * w;
		sum += h[i];
	}
	for (unsigned i = 0; i < taps; i++)
		h[i] /= sum;
}

static int16_t clip16(double v)
{
	long r = lround(v);

	return (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r);
}

/* Decimates in[0..n) by factor (2 or 6) into a new buffer. */
static int decimate(const int16_t *in, size_t n, unsigned factor, int16_t **outp, size_t *outn)
{
	unsigned taps = factor == 2 ? PROMPT_TAPS_2 : PROMPT_TAPS_6;
	double h[PROMPT_TAPS_6];
	size_t m = n / factor;
	int16_t *out;
	long half = (long)taps / 2;

	fir_design(h, taps, (double)PROMPT_RATE * factor);
	out = malloc((m ? m : 1) * sizeof(*out));
	if (!out)
		return ENOMEM;
	for (size_t k = 0; k < m; k++) {
		long c = (long)(k * factor);
		double acc = 0;

		for (unsigned t = 0; t < taps; t++) {
			long j = c + (long)t - half;

			if (j >= 0 && (size_t)j < n)
				acc += h[t] * in[j];
		}
		out[k] = clip16(acc);
	}
	*outp = out;
	*outn = m;
	return 0;
}

static int convert(struct wav *w, int16_t **pcm, size_t *n, char *err, size_t errlen)
{
	int rc;

	if (w->channels != 1)
		return say(err, errlen, ENOTSUP, "%u channels: a prompt must be mono",
			   w->channels);
	if (w->format != 1 && w->rate != PROMPT_RATE)
		return say(err, errlen, ENOTSUP, "G.711 WAV at %u Hz: only 8000 Hz", w->rate);
	if (w->rate != 8000 && w->rate != 16000 && w->rate != 48000)
		return say(err, errlen, ENOTSUP,
			   "sample rate %u Hz: a prompt must be 8000, 16000 or 48000 Hz",
			   w->rate);
	if (w->count < w->rate / 50)
		return say(err, errlen, EINVAL, "%u samples: shorter than 20 ms",
			   (unsigned)w->count);
	if (w->count / w->rate > MEDIA_PROMPT_MAX_S)
		return say(err, errlen, EINVAL, "%u s long: prompts are limited to %u s",
			   (unsigned)(w->count / w->rate), MEDIA_PROMPT_MAX_S);
	if (w->rate == PROMPT_RATE) {
		*pcm = w->samples;
		*n = w->count;
		w->samples = NULL;
		return 0;
	}
	rc = decimate(w->samples, w->count, w->rate / PROMPT_RATE, pcm, n);
	return rc ? say(err, errlen, rc, "out of memory") : 0;
}

int media_prompt_parse(const uint8_t *data, size_t len, int16_t **pcm, size_t *n, char *err,
		       size_t errlen)
{
	struct wav w;
	int rc;

	if (!pcm || !n)
		return EINVAL;
	*pcm = NULL;
	*n = 0;
	rc = wav_parse(&w, data, len, err, errlen);
	if (rc)
		return rc;
	rc = convert(&w, pcm, n, err, errlen);
	wav_free(&w);
	return rc;
}

int media_prompt_load(const char *path, int16_t **pcm, size_t *n, char *err, size_t errlen)
{
	struct wav w;
	int rc;

	if (!path || !pcm || !n)
		return EINVAL;
	*pcm = NULL;
	*n = 0;
	rc = wav_load(&w, path, err, errlen);
	if (rc)
		return rc;
	rc = convert(&w, pcm, n, err, errlen);
	wav_free(&w);
	return rc;
}
