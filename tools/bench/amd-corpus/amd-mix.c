/*
 * amd-mix — renders the AMD test corpus from a recipe: places speech files, pure
 * tones and seeded noise on a timeline, scales them to the requested levels, applies
 * an optional G.711 round trip and writes 8 kHz 16-bit mono WAV files.
 *
 * The recipe is plain text, one directive per line ('#' starts a comment):
 *   clip  OUT.wav LENGTH_MS SEED CODEC     start a clip; CODEC = pcm | ulaw | alaw
 *   speech FILE.wav AT_MS LEVEL_DBFS       speech placed at AT_MS, scaled so that its
 *                                          active level (see active_level) is LEVEL
 *   tone  FREQ_HZ AT_MS DUR_MS LEVEL_DBFS [REVERSAL_MS]
 *                                          sine with 4 ms ramps; phase flips every
 *                                          REVERSAL_MS when given (fax CED)
 *   noise white|pink|brown LEVEL_DBFS      stationary noise over the whole clip
 *   babble LEVEL_DBFS FILE.wav...          the files looped from seeded offsets and
 *                                          summed, over the whole clip
 *   music AT_MS DUR_MS LEVEL_DBFS          seeded synthetic music (a plucked melody
 *                                          over a chord with tremolo; notes decay,
 *                                          so no note is a steady tone)
 *   end                                    render and write the clip
 * Levels are RMS in dB relative to a full-scale square wave (32768), so a full-scale
 * sine is -3 dBFS. Everything random comes from the clip's SEED: the same recipe
 * always gives the same bytes.
 *
 * Usage: amd-mix RECIPE   (exit 0 when every clip was written)
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "g711.h"
#include "wav.h"

#define RATE      8000
#define MAX_BABBLE 16

struct mix {
	double  *buf;      /**< the clip being built, linear, full scale 32768 */
	size_t   len;      /**< samples */
	uint64_t rng;      /**< splitmix64 state */
	char     out[512]; /**< output path */
	char     codec[8]; /**< pcm, ulaw or alaw */
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_gauss(uint64_t *s)
{
	double u1 = rng_uniform(s), u2 = rng_uniform(s);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double db_to_rms(double dbfs)
{
	return 32768.0 * pow(10.0, dbfs / 20.0);
}

static double rms(const double *x, size_t n)
{
	double acc = 0;

	for (size_t i = 0; i < n; i++)
		acc += x[i] * x[i];
	return n ? sqrt(acc / (double)n) : 0;
}

/*
 * Active speech level: the RMS over the 10 ms blocks that lie within 30 dB of the
 * loudest block, so leading and trailing silence and pauses do not dilute it (the
 * idea of ITU-T P.56, simplified).
 */
static double active_level(const int16_t *s, size_t n)
{
	size_t blk = RATE / 100, nb = n / blk;
	double peak = 0, acc = 0;
	size_t used = 0;

	for (size_t b = 0; b < nb; b++) {
		double e = 0;

		for (size_t i = 0; i < blk; i++)
			e += (double)s[b * blk + i] * s[b * blk + i];
		if (e > peak)
			peak = e;
	}
	for (size_t b = 0; b < nb; b++) {
		double e = 0;

		for (size_t i = 0; i < blk; i++)
			e += (double)s[b * blk + i] * s[b * blk + i];
		if (e >= peak * 1e-3) {
			acc += e;
			used += blk;
		}
	}
	return used ? sqrt(acc / (double)used) : 0;
}

static int load8k(struct wav *w, const char *path)
{
	char err[256];
	int rc = wav_load(w, path, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "amd-mix: %s: %s\n", path, err);
		return rc;
	}
	if (w->rate != RATE) {
		fprintf(stderr, "amd-mix: %s: %u Hz, need %d\n", path, w->rate, RATE);
		wav_free(w);
		return EINVAL;
	}
	return 0;
}

static int add_speech(struct mix *m, const char *path, double at_ms, double level)
{
	struct wav w;
	size_t at = (size_t)(at_ms * RATE / 1000.0);
	double act, g;
	int rc = load8k(&w, path);

	if (rc)
		return rc;
	act = active_level(w.samples, w.count);
	g = act > 0 ? db_to_rms(level) / act : 0;
	for (size_t i = 0; i < w.count && at + i < m->len; i++)
		m->buf[at + i] += g * w.samples[i];
	wav_free(&w);
	return 0;
}

static void add_tone(struct mix *m, double f, double at_ms, double dur_ms, double level,
		     double rev_ms)
{
	size_t at = (size_t)(at_ms * RATE / 1000.0);
	size_t n = (size_t)(dur_ms * RATE / 1000.0);
	size_t ramp = RATE * 4 / 1000, rev = (size_t)(rev_ms * RATE / 1000.0);
	double a = db_to_rms(level) * sqrt(2.0);
	double ph0 = rng_uniform(&m->rng) * 2 * M_PI;

	for (size_t i = 0; i < n && at + i < m->len; i++) {
		double env = 1.0, ph = ph0;

		if (i < ramp)
			env = (double)i / ramp;
		else if (n - i < ramp)
			env = (double)(n - i) / ramp;
		if (rev && (i / rev) % 2)
			ph += M_PI;
		m->buf[at + i] += a * env * sin(2 * M_PI * f * (double)i / RATE + ph);
	}
}

/* Stationary noise, scaled to LEVEL over the clip. Pink is approximated by a sum of
 * one-pole low-passed white noises with corners an octave apart (about -3 dB/octave
 * across the telephone band); brown is leaky-integrated white noise. */
static int add_noise(struct mix *m, const char *type, double level)
{
	double *nz = calloc(m->len ? m->len : 1, sizeof(*nz));
	double st[8] = {0}, g;

	if (!nz)
		return ENOMEM;
	for (size_t i = 0; i < m->len; i++) {
		double w = rng_gauss(&m->rng);

		if (!strcmp(type, "white")) {
			nz[i] = w;
		} else if (!strcmp(type, "pink")) {
			double acc = 0, fc = 4000;

			for (int k = 0; k < 7; k++, fc /= 2) {
				double a = exp(-2 * M_PI * fc / RATE);

				st[k] = a * st[k] + (1 - a) * w;
				acc += st[k] * sqrt(fc);
			}
			nz[i] = acc;
		} else if (!strcmp(type, "brown")) {
			st[0] = 0.995 * st[0] + w;
			nz[i] = st[0];
		} else {
			free(nz);
			fprintf(stderr, "amd-mix: unknown noise '%s'\n", type);
			return EINVAL;
		}
	}
	g = db_to_rms(level) / (rms(nz, m->len) + 1e-12);
	for (size_t i = 0; i < m->len; i++)
		m->buf[i] += g * nz[i];
	free(nz);
	return 0;
}

static int add_babble(struct mix *m, double level, char **files, int nfiles)
{
	double *bb = calloc(m->len ? m->len : 1, sizeof(*bb));
	int rc = 0;

	if (!bb)
		return ENOMEM;
	for (int f = 0; f < nfiles; f++) {
		struct wav w;
		double act;
		size_t off;

		rc = load8k(&w, files[f]);
		if (rc)
			goto out;
		act = active_level(w.samples, w.count);
		off = w.count ? (size_t)(rng_uniform(&m->rng) * (double)w.count) : 0;
		for (size_t i = 0; i < m->len && w.count && act > 0; i++)
			bb[i] += w.samples[(off + i) % w.count] / act;
		wav_free(&w);
	}
	{
		double g = db_to_rms(level) / (rms(bb, m->len) + 1e-12);

		for (size_t i = 0; i < m->len; i++)
			m->buf[i] += g * bb[i];
	}
out:
	free(bb);
	return rc;
}

/*
 * Music as a greeting's jingle or hold music: a melody of plucked notes (5 harmonics,
 * exponential decay of 0.15-0.6 s, a touch of vibrato) over a three-note chord whose
 * level swings with a 4-6 Hz tremolo, all from one random key and tempo.
 */
static int add_music(struct mix *m, double at_ms, double dur_ms, double level)
{
	static const int scale[] = {0, 2, 4, 5, 7, 9, 11, 12};
	size_t at = (size_t)(at_ms * RATE / 1000.0), n = (size_t)(dur_ms * RATE / 1000.0);
	double *mu = calloc(n ? n : 1, sizeof(*mu)), g;
	double root = 196.0 * pow(2.0, (double)(rng_next(&m->rng) % 12) / 12.0);
	double note_ms = 150 + 250 * rng_uniform(&m->rng), trem = 4 + 2 * rng_uniform(&m->rng);
	double tau = 0.15 + 0.45 * rng_uniform(&m->rng);
	int chord[3] = {0, 4, 7};

	if (!mu)
		return ENOMEM;
	if (rng_uniform(&m->rng) < 0.5)
		chord[1] = 3;
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / RATE, env = 0.6 + 0.4 * sin(2 * M_PI * trem * t);

		for (int k = 0; k < 3; k++) {
			double f = root / 2 * pow(2.0, chord[k] / 12.0);

			for (int h = 1; h <= 3; h++)
				mu[i] += 0.25 * env / h * sin(2 * M_PI * f * h * t + k + h);
		}
	}
	for (size_t s0 = 0; s0 < n;) {
		size_t len = (size_t)(note_ms * RATE / 1000.0 * (rng_uniform(&m->rng) < 0.3 ? 2 : 1));
		double f = root * pow(2.0, scale[rng_next(&m->rng) % 8] / 12.0);
		double vib = 5 + rng_uniform(&m->rng), ph = 0;

		for (size_t i = 0; i < len && s0 + i < n; i++) {
			double t = (double)i / RATE, a = exp(-t / tau) * (i < 40 ? i / 40.0 : 1.0);
			double fi = f * (1 + 0.004 * sin(2 * M_PI * vib * t));

			ph += 2 * M_PI * fi / RATE;
			for (int h = 1; h <= 5; h++)
				mu[s0 + i] += a / (h * h * 0.7 + 0.3) * sin(h * ph);
		}
		s0 += len;
	}
	g = db_to_rms(level) / (rms(mu, n) + 1e-12);
	for (size_t i = 0; i < n && at + i < m->len; i++)
		m->buf[at + i] += g * mu[i];
	free(mu);
	return 0;
}

static int finish(struct mix *m)
{
	int16_t *pcm = malloc((m->len ? m->len : 1) * sizeof(*pcm));
	int rc;

	if (!pcm)
		return ENOMEM;
	for (size_t i = 0; i < m->len; i++) {
		double v = m->buf[i];
		int16_t s = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));

		if (!strcmp(m->codec, "ulaw"))
			s = g711_ulaw_decode(g711_ulaw_encode(s));
		else if (!strcmp(m->codec, "alaw"))
			s = g711_alaw_decode(g711_alaw_encode(s));
		pcm[i] = s;
	}
	rc = wav_save(m->out, pcm, m->len, RATE);
	if (rc)
		fprintf(stderr, "amd-mix: %s: %s\n", m->out, strerror(rc));
	free(pcm);
	return rc;
}

static int directive(struct mix *m, char **tok, int n)
{
	if (!strcmp(tok[0], "clip") && n == 5) {
		free(m->buf);
		snprintf(m->out, sizeof(m->out), "%s", tok[1]);
		m->len = (size_t)(atof(tok[2]) * RATE / 1000.0);
		m->rng = strtoull(tok[3], NULL, 10);
		snprintf(m->codec, sizeof(m->codec), "%s", tok[4]);
		m->buf = calloc(m->len ? m->len : 1, sizeof(*m->buf));
		return m->buf ? 0 : ENOMEM;
	}
	if (!m->buf)
		return EINVAL;
	if (!strcmp(tok[0], "speech") && n == 4)
		return add_speech(m, tok[1], atof(tok[2]), atof(tok[3]));
	if (!strcmp(tok[0], "tone") && (n == 5 || n == 6)) {
		add_tone(m, atof(tok[1]), atof(tok[2]), atof(tok[3]), atof(tok[4]),
			 n == 6 ? atof(tok[5]) : 0);
		return 0;
	}
	if (!strcmp(tok[0], "noise") && n == 3)
		return add_noise(m, tok[1], atof(tok[2]));
	if (!strcmp(tok[0], "music") && n == 4)
		return add_music(m, atof(tok[1]), atof(tok[2]), atof(tok[3]));
	if (!strcmp(tok[0], "babble") && n >= 3 && n - 2 <= MAX_BABBLE)
		return add_babble(m, atof(tok[1]), tok + 2, n - 2);
	if (!strcmp(tok[0], "end") && n == 1) {
		int rc = finish(m);

		free(m->buf);
		m->buf = NULL;
		return rc;
	}
	return EINVAL;
}

int main(int argc, char **argv)
{
	struct mix m = {0};
	char line[4096];
	unsigned lineno = 0, clips = 0;
	FILE *f;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: amd-mix RECIPE\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "amd-mix: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *tok[MAX_BABBLE + 4], *save = NULL, *t;
		int n = 0;

		lineno++;
		if ((t = strchr(line, '#')))
			*t = '\0';
		for (t = strtok_r(line, " \t\r\n", &save); t && n < (int)(sizeof(tok) / sizeof(*tok));
		     t = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = t;
		if (!n)
			continue;
		rc = directive(&m, tok, n);
		if (rc)
			fprintf(stderr, "amd-mix: %s:%u: cannot apply '%s' (%s)\n", argv[1], lineno,
				tok[0], strerror(rc));
		else if (!strcmp(tok[0], "end"))
			clips++;
	}
	fclose(f);
	free(m.buf);
	if (!rc)
		printf("amd-mix: %u clips written\n", clips);
	return rc ? 1 : 0;
}
