/*
 * fuzz_dtmf_det.c — the DTMF detector on arbitrary audio cut into arbitrary blocks.
 * Input: byte 0 seeds the block sizes, the rest is 16-bit little-endian audio. The
 * events must be the same as with 160-sample blocks (results never depend on how the
 * audio is cut); any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf.h"

#define MAXEV 64

struct evs {
	struct dtmf_event ev[MAXEV];
	size_t n;
};

static void collect(const struct dtmf_event *ev, void *arg)
{
	struct evs *e = arg;

	if (e->n < MAXEV)
		e->ev[e->n++] = *ev;
}

static void run(const int16_t *x, size_t n, unsigned seed, struct evs *e)
{
	struct dtmf_det *det;
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	if (dtmf_det_create(&det, NULL, collect, e))
		abort();
	while (i < n) {
		size_t b = seed ? 1 + seed % 397 : 160;

		if (b > n - i)
			b = n - i;
		dtmf_det_process(det, x + i, b);
		i += b;
		seed = seed ? seed * 1103515245u + 12345u : 0;
		seed = seed ? seed : 1;
	}
	dtmf_det_flush(det);
	dtmf_det_destroy(det);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evs a, b;
	int16_t *x;
	size_t n;

	if (size < 3)
		return 0;
	n = (size - 1) / 2;
	x = malloc(n * sizeof(int16_t));
	if (!x)
		return 0;
	for (size_t i = 0; i < n; i++)
		x[i] = (int16_t)(data[1 + 2 * i] | (data[2 + 2 * i] << 8));
	run(x, n, 0, &a);
	run(x, n, 1u + data[0], &b);
	if (a.n != b.n)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		if (a.ev[i].type != b.ev[i].type || a.ev[i].digit != b.ev[i].digit ||
		    a.ev[i].start != b.ev[i].start || a.ev[i].end != b.ev[i].end ||
		    a.ev[i].end < a.ev[i].start || a.ev[i].end > (uint64_t)n + 8000)
			abort();
	}
	free(x);
	return 0;
}
