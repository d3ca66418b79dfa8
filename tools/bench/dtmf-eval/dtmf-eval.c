/*
 * dtmf-eval — runs trunx's DTMF detector and spandsp's (stock, and with trunx's limits)
 * over the synthesised corpus of one seed, set by set, and over WAV files given on the
 * command line (speech for talk-off: every digit found there is a false detection).
 *
 *   dtmf-eval [--seed N] [--param k=v ...] [-v] [-t] [FILE.wav ...]
 *   dtmf-eval [--param k=v ...] --sweep
 *
 * Seed 1 is the tuning set; the unit tests assert on another seed. Parameters (k=v):
 * min_level, twist_min, twist_max, freq_tol, purity, min_hits, gap_ms.
 * -v lists every case that a detector gets wrong; -t traces trunx's digits.
 * --sweep measures the share of digits found as one condition moves away from the
 * combined Q.24 edge (320 trials per row and detector).
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

#define MAXD 256

struct result {
	float    max_ferr;        /* largest |frequency error| measured, % */
	char     digits[MAXD + 1];
	uint64_t start[MAXD];
	uint64_t end[MAXD];
	size_t   n;
};

/* ---- trunx ---- */

static bool g_trace;

static void trunx_ev(const struct dtmf_event *ev, void *arg)
{
	struct result *r = arg;

	if (ev->type != DTMF_EV_END || r->n >= MAXD)
		return;
	if (g_trace)
		printf("    trunx %c at %.1f-%.1f ms: low %.1f dBm0 %+.2f %%, high %.1f dBm0 "
		       "%+.2f %%\n", ev->digit, ev->start / 8.0, ev->end / 8.0,
		       ev->level_low_dbm0, ev->freq_err_low_pct, ev->level_high_dbm0,
		       ev->freq_err_high_pct);
	if (fabsf(ev->freq_err_low_pct) > r->max_ferr)
		r->max_ferr = fabsf(ev->freq_err_low_pct);
	if (fabsf(ev->freq_err_high_pct) > r->max_ferr)
		r->max_ferr = fabsf(ev->freq_err_high_pct);
	r->digits[r->n] = ev->digit;
	r->start[r->n] = ev->start;
	r->end[r->n] = ev->end;
	r->n++;
	r->digits[r->n] = '\0';
}

static struct dtmf_det_params g_params;

static int run_trunx(const int16_t *x, size_t n, struct result *r)
{
	struct dtmf_det *det;
	int err = dtmf_det_create(&det, &g_params, trunx_ev, r);

	if (err)
		return err;
	for (size_t i = 0; i < n; i += 160)
		dtmf_det_process(det, x + i, n - i < 160 ? n - i : 160);
	dtmf_det_flush(det);
	dtmf_det_destroy(det);
	return 0;
}

/* ---- spandsp ---- */

static void span_digits(void *arg, const char *digits, int len)
{
	struct result *r = arg;

	for (int i = 0; i < len && r->n < MAXD; i++)
		r->digits[r->n++] = digits[i];
	r->digits[r->n] = '\0';
}

static int run_span(const int16_t *x, size_t n, struct result *r, bool tuned)
{
	static const int16_t zeros[800];
	dtmf_rx_state_t *s = dtmf_rx_init(NULL, span_digits, r);

	if (!s)
		return ENOMEM;
	if (tuned)
		dtmf_rx_parms(s, 0, 10, 6, (int)g_params.min_level_dbm0);
	for (size_t i = 0; i < n; i += 160)
		dtmf_rx(s, x + i, (int)(n - i < 160 ? n - i : 160));
	dtmf_rx(s, zeros, 800);
	dtmf_rx_free(s);
	return 0;
}

static int run_span_stock(const int16_t *x, size_t n, struct result *r)
{
	return run_span(x, n, r, false);
}

static int run_span_tuned(const int16_t *x, size_t n, struct result *r)
{
	return run_span(x, n, r, true);
}

struct detector {
	const char *name;
	int (*run)(const int16_t *x, size_t n, struct result *r);
};

static const struct detector detectors[] = {
	{"trunx", run_trunx},
	{"spandsp", run_span_stock},
	{"spandsp-lim", run_span_tuned},
};
#define NDET (sizeof(detectors) / sizeof(detectors[0]))

/* ---- scoring ---- */

static size_t lcs(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	static size_t t[MAXD + 1][MAXD + 1];

	for (size_t i = 0; i <= la; i++) {
		for (size_t j = 0; j <= lb; j++) {
			if (!i || !j)
				t[i][j] = 0;
			else if (a[i - 1] == b[j - 1])
				t[i][j] = t[i - 1][j - 1] + 1;
			else
				t[i][j] = t[i - 1][j] > t[i][j - 1] ? t[i - 1][j] : t[i][j - 1];
		}
	}
	return t[la][lb];
}

struct score {
	size_t cases, cases_ok, expected, found, missed, extra;
	double max_start_err_ms, max_end_err_ms;
	float max_ferr;
};

static int set_param(const char *kv)
{
	const char *eq = strchr(kv, '=');
	double v;

	if (!eq)
		return EINVAL;
	v = atof(eq + 1);
#define P(name, field) if (!strncmp(kv, name "=", strlen(name) + 1)) { g_params.field = v; return 0; }
	P("min_level", min_level_dbm0);
	P("twist_min", twist_min_db);
	P("twist_max", twist_max_db);
	P("freq_tol", freq_tol_pct);
	P("purity", purity_min);
#undef P
	if (!strncmp(kv, "min_hits=", 9)) {
		g_params.min_hits = (unsigned)v;
		return 0;
	}
	if (!strncmp(kv, "gap_ms=", 7)) {
		g_params.gap_ms = (unsigned)v;
		return 0;
	}
	return EINVAL;
}

static void score_case(struct score *s, const struct dtmf_corpus_case *cc,
		       const struct result *r, bool timing, bool verbose, const char *det)
{
	size_t m = lcs(cc->expect, r->digits);
	bool ok = !strcmp(cc->expect, r->digits);

	s->cases++;
	s->cases_ok += ok;
	s->expected += strlen(cc->expect);
	s->found += m;
	s->missed += strlen(cc->expect) - m;
	s->extra += r->n - m;
	if (r->max_ferr > s->max_ferr)
		s->max_ferr = r->max_ferr;
	if (ok && timing) {
		for (size_t i = 0; i < r->n; i++) {
			double es = ((double)r->start[i] - cc->start[i]) / 8.0;
			double ee = ((double)r->end[i] - cc->end[i]) / 8.0;

			if (es < 0)
				es = -es;
			if (ee < 0)
				ee = -ee;
			if (es > s->max_start_err_ms)
				s->max_start_err_ms = es;
			if (ee > s->max_end_err_ms)
				s->max_end_err_ms = ee;
		}
	}
	if (!ok && verbose)
		printf("  %-12s %-28s expected \"%s\" got \"%s\"\n", det, cc->name, cc->expect,
		       r->digits);
}

/*
 * --sweep: share of digits found (exactly one, the right one) as one condition moves
 * away from the combined Q.24 edge (both tones 1.5 % off, +-4 dB twist, weaker tone at
 * -26 dBm0, 40 ms, 15 dB SNR, G.711) while the others stay there.
 */
struct sweep_row {
	const char *what;
	double err, twist, weak, ms, snr;
};

static const struct sweep_row sweep_rows[] = {
	{"edge (all at once)", 0.015, 4, -26, 40, 15},
	{"snr 12 dB", 0.015, 4, -26, 40, 12},
	{"snr 10 dB", 0.015, 4, -26, 40, 10},
	{"snr 8 dB", 0.015, 4, -26, 40, 8},
	{"twist -8 dB", 0.015, -8, -26, 40, 15},
	{"twist +8 dB (reject)", 0.015, 8, -26, 40, 15},
	{"twist -12 dB (reject)", 0.015, -12, -26, 40, 15},
	{"weaker tone -30 dBm0", 0.015, 4, -30, 40, 15},
	{"weaker tone -34 dBm0", 0.015, 4, -34, 40, 15},
	{"36 ms", 0.015, 4, -26, 36, 15},
	{"33 ms", 0.015, 4, -26, 33, 15},
	{"30 ms", 0.015, 4, -26, 30, 15},
	{"23 ms (reject)", 0.015, 4, -26, 23, 15},
	{"freq 2.0 %, 60 ms", 0.020, 4, -26, 60, 15},
	{"freq 2.5 %, 60 ms", 0.025, 4, -26, 60, 15},
	{"freq 3.0 %, 60 ms", 0.030, 4, -26, 60, 15},
	{"freq 3.5 %, 60 ms (reject)", 0.035, 4, -26, 60, 15},
	{"-55 dBm0, 60 ms (reject)", 0.0, 0, -55, 60, 40},
};

static int sweep(unsigned trials)
{
	static const char digits[] = "123A456B789C*0#D";

	printf("found / trials at the combined edge, one condition moved (G.711, random "
	       "alignment)\n%-28s", "condition");
	for (size_t d = 0; d < NDET; d++)
		printf(" %12s", detectors[d].name);
	printf("\n");
	for (size_t r = 0; r < sizeof(sweep_rows) / sizeof(sweep_rows[0]); r++) {
		const struct sweep_row *w = &sweep_rows[r];

		printf("%-28s", w->what);
		for (size_t d = 0; d < NDET; d++) {
			unsigned ok = 0;

			for (unsigned t = 0; t < trials; t++) {
				struct result res = {0};
				int16_t *x;
				size_t n;
				/* +-4 dB rows alternate the sign; other twists are as given. */
				double tw = w->twist == 4 && (t & 2) ? -4 : w->twist;
				int err = dtmf_corpus_trial(1000 + t, digits[t % 16], w->err,
							    tw, w->weak, w->ms, w->snr, &x, &n);

				if (err)
					return err;
				detectors[d].run(x, n, &res);
				ok += res.n == 1 && res.digits[0] == digits[t % 16];
				free(x);
			}
			printf(" %7u/%-4u", ok, trials);
		}
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct score sc[DTMF_SET_COUNT][NDET];
	struct score tot[3][NDET];
	struct dtmf_corpus *corpus;
	uint64_t seed = 1;
	bool verbose = false;
	int argi = 1, err;

	dtmf_det_params_default(&g_params);
	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--seed") && argi + 1 < argc) {
			seed = strtoull(argv[++argi], NULL, 0);
		} else if (!strcmp(argv[argi], "--param") && argi + 1 < argc) {
			if (set_param(argv[++argi])) {
				fprintf(stderr, "dtmf-eval: bad parameter %s\n", argv[argi]);
				return 2;
			}
		} else if (!strcmp(argv[argi], "-v")) {
			verbose = true;
		} else if (!strcmp(argv[argi], "-t")) {
			g_trace = true;
		} else if (!strcmp(argv[argi], "--sweep")) {
			return sweep(320) ? 1 : 0;
		} else {
			fprintf(stderr, "usage: dtmf-eval [--seed N] [--param k=v ...] [-v] [-t] "
				"[--sweep] [FILE.wav ...]\n");
			return 2;
		}
	}
	err = dtmf_corpus_create(&corpus, seed);
	if (err) {
		fprintf(stderr, "dtmf-eval: corpus: %s\n", strerror(err));
		return 1;
	}
	memset(sc, 0, sizeof(sc));
	memset(tot, 0, sizeof(tot));
	printf("seed %llu, %zu cases\n", (unsigned long long)seed, dtmf_corpus_count(corpus));
	for (size_t i = 0; i < dtmf_corpus_count(corpus); i++) {
		const struct dtmf_corpus_case *cc = dtmf_corpus_get(corpus, i);

		for (size_t d = 0; d < NDET; d++) {
			struct result r = {0};

			err = detectors[d].run(cc->audio, cc->len, &r);
			if (err) {
				fprintf(stderr, "dtmf-eval: %s: %s\n", detectors[d].name,
					strerror(err));
				return 1;
			}
			score_case(&sc[cc->set][d], cc, &r, d == 0, verbose, detectors[d].name);
			score_case(&tot[cc->kind][d], cc, &r, d == 0, false, detectors[d].name);
		}
	}
	printf("\n%-11s %-7s %5s %6s", "set", "kind", "cases", "digits");
	for (size_t d = 0; d < NDET; d++)
		printf(" | %-11s %4s %4s %4s", detectors[d].name, "ok", "miss", "extra");
	printf("\n");
	for (int s = 0; s < DTMF_SET_COUNT; s++) {
		const char *kind = "";

		if (!sc[s][0].cases)
			continue;
		for (size_t i = 0; i < dtmf_corpus_count(corpus); i++) {
			const struct dtmf_corpus_case *cc = dtmf_corpus_get(corpus, i);

			if ((int)cc->set == s) {
				kind = cc->kind == DTMF_CORPUS_DETECT ? "detect" :
				       cc->kind == DTMF_CORPUS_REJECT ? "reject" : "talkoff";
				break;
			}
		}
		printf("%-11s %-7s %5zu %6zu", dtmf_corpus_set_name((enum dtmf_corpus_set)s),
		       kind, sc[s][0].cases, sc[s][0].expected);
		for (size_t d = 0; d < NDET; d++)
			printf(" | %-11s %4zu %4zu %4zu", "", sc[s][d].found, sc[s][d].missed,
			       sc[s][d].extra);
		printf("\n");
	}
	printf("\nmust-detect digits found / expected, false digits on must-reject and "
	       "music:\n");
	for (size_t d = 0; d < NDET; d++) {
		printf("  %-12s detect %zu/%zu (%.1f %%)  extra %zu  reject-false %zu  "
		       "music-false %zu", detectors[d].name, tot[0][d].found, tot[0][d].expected,
		       100.0 * (double)tot[0][d].found / (double)tot[0][d].expected,
		       tot[0][d].extra, tot[1][d].extra, tot[2][d].extra);
		if (d == 0)
			printf("  max start err %.1f ms, max end err %.1f ms, "
			       "largest freq error measured %.2f %%",
			       tot[0][d].max_start_err_ms, tot[0][d].max_end_err_ms,
			       tot[0][d].max_ferr);
		printf("\n");
	}
	dtmf_corpus_destroy(corpus);

	if (argi < argc) {
		size_t talk[NDET] = {0};
		double secs = 0;

		printf("\ntalk-off files (%d):\n", argc - argi);
		for (; argi < argc; argi++) {
			struct wav w;
			char why[160];

			if (wav_load(&w, argv[argi], why, sizeof(why))) {
				fprintf(stderr, "dtmf-eval: %s\n", why);
				return 1;
			}
			if (w.rate != DTMF_RATE) {
				fprintf(stderr, "dtmf-eval: %s: %u Hz\n", argv[argi], w.rate);
				wav_free(&w);
				return 1;
			}
			secs += (double)w.count / DTMF_RATE;
			for (size_t d = 0; d < NDET; d++) {
				struct result r = {0};

				detectors[d].run(w.samples, w.count, &r);
				talk[d] += r.n;
				if (r.n && verbose)
					printf("  %-12s %s: \"%s\"\n", detectors[d].name,
					       argv[argi], r.digits);
			}
			wav_free(&w);
		}
		printf("  %.1f s of audio\n", secs);
		for (size_t d = 0; d < NDET; d++)
			printf("  %-12s %zu digits\n", detectors[d].name, talk[d]);
	}
	return 0;
}
