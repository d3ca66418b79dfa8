/*
 * trunx-dtmf — prints the DTMF digits found in a WAV file.
 *
 *   trunx-dtmf [-v] FILE.wav
 *
 * Line 1: the digits, in order (an empty line when there are none). Then one line per
 * digit: the digit and its start time in ms from the start of the file; with -v also
 * its end time, the measured levels (dBm0) and frequency errors (%).
 * Input: 8 kHz mono, 16-bit PCM or G.711 (mu-law, A-law). Anything else is refused
 * with a message on stderr and exit status 1 (2 for a usage error).
 * The audio goes through the detector in 20 ms frames, as on a live call.
 */
#include "dtmf.h"
#include "wav.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME 160

struct found {
	struct dtmf_event *ev;
	size_t n, cap;
	int err;
};

static void on_event(const struct dtmf_event *ev, void *arg)
{
	struct found *f = arg;

	if (ev->type != DTMF_EV_END || f->err)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct dtmf_event *n = realloc(f->ev, cap * sizeof(*n));

		if (!n) {
			f->err = 1;
			return;
		}
		f->ev = n;
		f->cap = cap;
	}
	f->ev[f->n++] = *ev;
}

static int usage(void)
{
	fprintf(stderr, "usage: trunx-dtmf [-v] FILE.wav\n"
		"  prints the digits on line 1, then one line per digit: digit start_ms\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct found f = {0};
	struct dtmf_det *det = NULL;
	struct wav w;
	char why[256];
	const char *path = NULL;
	int verbose = 0, rc = 1, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage();
		else if (argv[i][0] == '-' && argv[i][1])
			return usage();
		else if (!path)
			path = argv[i];
		else
			return usage();
	}
	if (!path)
		return usage();
	err = wav_load(&w, path, why, sizeof(why));
	if (err) {
		/* Read errors already name the file. */
		if (strncmp(why, path, strlen(path)) == 0)
			fprintf(stderr, "trunx-dtmf: %s\n", why);
		else
			fprintf(stderr, "trunx-dtmf: %s: %s\n", path, why);
		return 1;
	}
	if (w.rate != DTMF_RATE) {
		fprintf(stderr, "trunx-dtmf: %s: sample rate %u Hz is not supported "
			"(need 8000 Hz; convert first, e.g. sox IN -r 8000 OUT.wav)\n",
			path, w.rate);
		goto out;
	}
	if (w.channels != 1) {
		fprintf(stderr, "trunx-dtmf: %s: %u channels are not supported (need mono)\n",
			path, w.channels);
		goto out;
	}
	err = dtmf_det_create(&det, NULL, on_event, &f);
	if (err) {
		fprintf(stderr, "trunx-dtmf: detector: %s\n", strerror(err));
		goto out;
	}
	for (size_t i = 0; i < w.count; i += FRAME)
		dtmf_det_process(det, w.samples + i, w.count - i < FRAME ? w.count - i : FRAME);
	dtmf_det_flush(det);
	if (f.err) {
		fprintf(stderr, "trunx-dtmf: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < f.n; i++)
		putchar(f.ev[i].digit);
	putchar('\n');
	for (size_t i = 0; i < f.n; i++) {
		const struct dtmf_event *e = &f.ev[i];

		printf("%c %llu", e->digit, (unsigned long long)(e->start / (DTMF_RATE / 1000)));
		if (verbose)
			printf(" end=%llu low=%.1fdBm0/%+.2f%% high=%.1fdBm0/%+.2f%%",
			       (unsigned long long)(e->end / (DTMF_RATE / 1000)),
			       e->level_low_dbm0, e->freq_err_low_pct, e->level_high_dbm0,
			       e->freq_err_high_pct);
		putchar('\n');
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	dtmf_det_destroy(det);
	free(f.ev);
	wav_free(&w);
	return rc;
}
