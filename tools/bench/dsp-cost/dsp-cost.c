/*
 * dsp-cost — CPU cost per channel of trunx's DSP blocks: microseconds to process one
 * 20 ms frame (160 samples at 8 kHz), median and 99th percentile, on several signals.
 *
 *   dsp-cost [--seconds N] [FILE.wav ...]
 *
 * Each block runs alone on one thread over the signal (looped to N seconds of audio,
 * default 60), timed per batch of 50 frames so that clock overhead stays negligible;
 * the figures are per frame (batch time / 50). WAV files (8 kHz mono) are added as
 * signals. spandsp's DTMF receiver is measured alongside as a reference.
 * To add a block, add a row to blocks[].
 */
#include "dtmf.h"
#include "dtmf_corpus.h"
#include "wav.h"

#include <spandsp.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME 160
#define BATCH 50

struct signal {
	char     name[64];
	int16_t *x;
	size_t   n;
};

/* A block under test: one channel's state, fed FRAME samples at a time. */
struct block {
	const char *name;
	void *(*create)(void);
	void (*process)(void *st, const int16_t *x, size_t n);
	void (*destroy)(void *st);
};

static void dtmf_ev(const struct dtmf_event *ev, void *arg)
{
	(*(unsigned *)arg)++;
	(void)ev;
}

static unsigned sink;

static void *dtmf_create(void)
{
	struct dtmf_det *d;

	return dtmf_det_create(&d, NULL, dtmf_ev, &sink) ? NULL : d;
}

static void dtmf_process(void *st, const int16_t *x, size_t n)
{
	dtmf_det_process(st, x, n);
}

static void dtmf_destroy(void *st)
{
	dtmf_det_destroy(st);
}

static void span_digits(void *arg, const char *digits, int len)
{
	(*(unsigned *)arg) += (unsigned)len;
	(void)digits;
}

static void *span_create(void)
{
	return dtmf_rx_init(NULL, span_digits, &sink);
}

static void span_process(void *st, const int16_t *x, size_t n)
{
	dtmf_rx(st, x, (int)n);
}

static void span_destroy(void *st)
{
	dtmf_rx_free(st);
}

static const struct block blocks[] = {
	{"trunx dtmf_det", dtmf_create, dtmf_process, dtmf_destroy},
	{"spandsp dtmf_rx", span_create, span_process, span_destroy},
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Runs a block over a signal looped to `frames` frames; prints median and p99. */
static int measure(const struct block *b, const struct signal *s, size_t frames)
{
	size_t batches = frames / BATCH, pos = 0;
	double *t = malloc(batches * sizeof(double));
	void *st = b->create();

	if (!t || !st) {
		free(t);
		if (st)
			b->destroy(st);
		return ENOMEM;
	}
	for (size_t i = 0; i < batches; i++) {
		double t0 = now_us();

		for (int f = 0; f < BATCH; f++) {
			if (pos + FRAME > s->n)
				pos = 0;
			b->process(st, s->x + pos, FRAME);
			pos += FRAME;
		}
		t[i] = (now_us() - t0) / BATCH;
	}
	qsort(t, batches, sizeof(double), cmp_double);
	printf("  %-18s %-22s %8.2f %8.2f\n", b->name, s->name, t[batches / 2],
	       t[batches * 99 / 100]);
	b->destroy(st);
	free(t);
	return 0;
}

static int add_signal(struct signal *sig, size_t *n, const char *name, const int16_t *x,
		      size_t len)
{
	if (len < FRAME)
		return EINVAL;
	snprintf(sig[*n].name, sizeof(sig[*n].name), "%s", name);
	sig[*n].x = malloc(len * sizeof(int16_t));
	if (!sig[*n].x)
		return ENOMEM;
	memcpy(sig[*n].x, x, len * sizeof(int16_t));
	sig[*n].n = len;
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct signal sig[32];
	size_t nsig = 0, seconds = 60;
	struct dtmf_corpus *c;
	int16_t *buf;
	bool got_edge = false, got_long = false, got_music = false;
	int argi = 1;

	if (argi + 1 < argc && !strcmp(argv[argi], "--seconds")) {
		seconds = strtoul(argv[argi + 1], NULL, 10);
		argi += 2;
	}
	if (seconds < 2)
		seconds = 2;
	/* Silence, and white noise at about -30 dBm0. */
	buf = calloc(8000, sizeof(int16_t));
	if (!buf || add_signal(sig, &nsig, "silence", buf, 8000))
		return 1;
	for (int i = 0; i < 8000; i++)
		buf[i] = (int16_t)((rand() % 2001) - 1000);
	if (add_signal(sig, &nsig, "noise -30 dBm0", buf, 8000))
		return 1;
	free(buf);
	/* DTMF digits (the Q.24 edge set: about 50 % tone) and music from the corpus. */
	if (dtmf_corpus_create(&c, 1))
		return 1;
	for (size_t i = 0; i < dtmf_corpus_count(c); i++) {
		const struct dtmf_corpus_case *cc = dtmf_corpus_get(c, i);

		if (cc->set == DTMF_SET_LONG && !got_long) {
			add_signal(sig, &nsig, "dtmf tones (long)", cc->audio, cc->len);
			got_long = true;
		} else if (cc->set == DTMF_SET_EDGE && !got_edge) {
			add_signal(sig, &nsig, "dtmf digits (edge)", cc->audio, cc->len);
			got_edge = true;
		} else if (cc->set == DTMF_SET_MUSIC && !got_music) {
			add_signal(sig, &nsig, "music", cc->audio, cc->len);
			got_music = true;
		}
	}
	dtmf_corpus_destroy(c);
	for (; argi < argc && nsig < 32; argi++) {
		struct wav w;
		char why[160];
		const char *base = strrchr(argv[argi], '/');

		if (wav_load(&w, argv[argi], why, sizeof(why)) || w.rate != 8000) {
			fprintf(stderr, "dsp-cost: %s: %s\n", argv[argi],
				w.rate != 8000 ? "not 8 kHz" : why);
			return 1;
		}
		add_signal(sig, &nsig, base ? base + 1 : argv[argi], w.samples, w.count);
		wav_free(&w);
	}
	printf("us per 20 ms frame, one channel, %zu s of audio per row\n", seconds);
	printf("  %-18s %-22s %8s %8s\n", "block", "signal", "median", "p99");
	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		for (size_t i = 0; i < nsig; i++) {
			if (measure(&blocks[b], &sig[i], seconds * 50))
				return 1;
		}
	}
	for (size_t i = 0; i < nsig; i++)
		free(sig[i].x);
	return sink == 0xffffffffu;
}
