/*
 * amd-eval — compares AMD strategies on a corpus, in the same run, on the same audio.
 *
 * Reads the manifest written by tools/bench/amd-corpus (one clip per line: name,
 * path, expected class, category, expected reason, beep end ms, ...), runs every
 * configuration over every clip through the public dsp/amd API in 20 ms blocks, and
 * prints for each: accuracy (NOTSURE counts as wrong), the confusion matrix, humans
 * called MACHINE, the NOTSURE rate, decision times, fax/SIT reasons, beep timing,
 * and the CPU cost per channel (microseconds per 20 ms frame while the detector is
 * active, thread CPU time).
 *
 * Configurations: "adaptive" (trunx defaults), "classic" (app_amd's algorithm with
 * the defaults of Asterisk's amd.conf), and "classic3" (the same with app_amd's
 * built-in default of 3 words). Extra --param NAME=VALUE options apply to adaptive.
 *
 * Usage: amd-eval [--list] [--only adaptive|classic|classic3] [--param N=V ...] MANIFEST
 *   --list  one line per clip and configuration (for tuning)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amd.h"
#include "wav.h"

#define BLOCK     160
#define MAX_CLIPS 4096
#define BEEP_TOL  60

struct clip {
	char name[64];
	char path[512];
	char cat[32];
	enum amd_class expect;
	char reason[16];
	int  beep_end;          /* ms, -1 none */
};

struct result {
	bool decided;
	enum amd_class cls;
	enum amd_reason reason;
	uint32_t decision_ms;
	bool beep;
	uint32_t beep_ms;
};

struct config {
	const char *name;
	struct amd_params p;
	/* totals */
	unsigned n, correct, conf[2][3], nhuman, notsure;
	unsigned beep_truth, beep_ok, beep_off, beep_missed, beep_false;
	unsigned fax_n, fax_ok, sit_n, sit_ok;
	uint32_t *dec;          /* decision times of all clips */
	double cpu_ns;
	uint64_t frames;
	double max_beep_err;
};

static void on_event(const struct amd_event *ev, void *arg)
{
	struct result *r = arg;

	if (ev->type == AMD_EV_DECISION) {
		r->decided = true;
		r->cls = ev->cls;
		r->reason = ev->reason;
		r->decision_ms = ev->decision_ms;
	} else if (ev->type == AMD_EV_BEEP) {
		r->beep = true;
		r->beep_ms = ev->beep_end_ms;
	}
}

static double thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int run(struct config *c, const struct wav *w, struct result *r)
{
	struct amd *amd;
	int err = amd_create(&amd, &c->p, on_event, r);
	double t0;

	if (err)
		return err;
	t0 = thread_ns();
	for (size_t i = 0; i < w->count && !amd_done(amd); i += BLOCK) {
		amd_process(amd, w->samples + i, w->count - i < BLOCK ? w->count - i : BLOCK);
		c->frames++;
	}
	amd_finish(amd);
	c->cpu_ns += thread_ns() - t0;
	amd_destroy(amd);
	return 0;
}

static int load_manifest(const char *path, struct clip *clips, int *n)
{
	char line[2048];
	FILE *f = fopen(path, "r");

	if (!f)
		return errno;
	*n = 0;
	while (fgets(line, sizeof(line), f) && *n < MAX_CLIPS) {
		char *fld[9], *save = NULL, *t;
		int k = 0;
		struct clip *c = &clips[*n];

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (t = strtok_r(line, "\t\n", &save); t && k < 9; t = strtok_r(NULL, "\t\n", &save))
			fld[k++] = t;
		if (k < 6)
			continue;
		snprintf(c->name, sizeof(c->name), "%s", fld[0]);
		snprintf(c->path, sizeof(c->path), "%s", fld[1]);
		c->expect = !strcmp(fld[2], "HUMAN") ? AMD_HUMAN : AMD_MACHINE;
		snprintf(c->cat, sizeof(c->cat), "%s", fld[3]);
		snprintf(c->reason, sizeof(c->reason), "%s", fld[4]);
		c->beep_end = atoi(fld[5]);
		(*n)++;
	}
	fclose(f);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void account(struct config *c, const struct clip *k, const struct result *r, bool list)
{
	int e = k->expect == AMD_HUMAN ? 0 : 1;

	c->dec[c->n++] = r->decision_ms;
	c->conf[e][r->cls]++;
	if (r->cls == k->expect)
		c->correct++;
	if (k->expect == AMD_HUMAN)
		c->nhuman++;
	if (r->cls == AMD_NOTSURE)
		c->notsure++;
	if (!strcmp(k->reason, "FAX")) {
		c->fax_n++;
		c->fax_ok += r->reason == AMD_REASON_FAX;
	} else if (!strcmp(k->reason, "SIT")) {
		c->sit_n++;
		c->sit_ok += r->reason == AMD_REASON_SIT;
	}
	if (k->beep_end >= 0) {
		c->beep_truth++;
		if (!r->beep) {
			c->beep_missed++;
		} else {
			double d = fabs((double)r->beep_ms - k->beep_end);

			if (d <= BEEP_TOL)
				c->beep_ok++;
			else
				c->beep_off++;
			if (d > c->max_beep_err)
				c->max_beep_err = d;
		}
	} else if (r->beep) {
		c->beep_false++;
	}
	if (list)
		printf("%-9s %-22s %-14s expect=%-7s got=%-7s reason=%-14s decision_ms=%-5u "
		       "beep=%d/%d%s\n", c->name, k->name, k->cat, amd_class_name(k->expect),
		       amd_class_name(r->cls), amd_reason_name(r->reason), r->decision_ms,
		       k->beep_end, r->beep ? (int)r->beep_ms : -1,
		       r->cls == k->expect ? "" : "   <-- WRONG");
}

static void report(struct config *c)
{
	double med = 0;

	qsort(c->dec, c->n, sizeof(*c->dec), cmp_u32);
	if (c->n)
		med = c->n % 2 ? c->dec[c->n / 2] : 0.5 * (c->dec[c->n / 2 - 1] + c->dec[c->n / 2]);
	printf("\n== %s\n", c->name);
	printf("clips %u  accuracy %.1f %%  humans called MACHINE %.1f %% (%u/%u)  NOTSURE %.1f %%\n",
	       c->n, 100.0 * c->correct / c->n,
	       c->nhuman ? 100.0 * c->conf[0][AMD_MACHINE] / c->nhuman : 0,
	       c->conf[0][AMD_MACHINE], c->nhuman, 100.0 * c->notsure / c->n);
	printf("confusion (rows expected, columns got):   HUMAN  MACHINE  NOTSURE\n");
	printf("  HUMAN                                   %5u  %7u  %7u\n", c->conf[0][0],
	       c->conf[0][1], c->conf[0][2]);
	printf("  MACHINE                                 %5u  %7u  %7u\n", c->conf[1][0],
	       c->conf[1][1], c->conf[1][2]);
	printf("decision ms: median %.0f  p90 %u  max %u\n", med,
	       c->n ? c->dec[(c->n * 9) / 10] : 0, c->n ? c->dec[c->n - 1] : 0);
	printf("reasons: fax %u/%u FAX, sit %u/%u SIT\n", c->fax_ok, c->fax_n, c->sit_ok,
	       c->sit_n);
	printf("beeps: %u with a beep: %u within +-%d ms, %u off, %u missed; %u false; "
	       "worst error %.0f ms\n", c->beep_truth, c->beep_ok, BEEP_TOL, c->beep_off,
	       c->beep_missed, c->beep_false, c->max_beep_err);
	printf("cpu: %.2f us per 20 ms frame while active (%llu frames)\n",
	       c->frames ? c->cpu_ns / 1000.0 / c->frames : 0, (unsigned long long)c->frames);
}

int main(int argc, char **argv)
{
	static struct clip clips[MAX_CLIPS];
	struct config cfg[3] = { { .name = "adaptive" }, { .name = "classic" },
				 { .name = "classic3" } };
	const char *manifest = NULL, *only = NULL;
	bool list = false;
	int n = 0, err;

	amd_params_init(&cfg[0].p, AMD_STRATEGY_ADAPTIVE);
	amd_params_init(&cfg[1].p, AMD_STRATEGY_CLASSIC);
	amd_params_init(&cfg[2].p, AMD_STRATEGY_CLASSIC);
	cfg[2].p.maximum_number_of_words = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--param") && i + 1 < argc) {
			char name[64], *eq = strchr(argv[++i], '=');

			if (!eq || (size_t)(eq - argv[i]) >= sizeof(name)) {
				fprintf(stderr, "amd-eval: --param NAME=VALUE\n");
				return 2;
			}
			memcpy(name, argv[i], (size_t)(eq - argv[i]));
			name[eq - argv[i]] = '\0';
			if (amd_param_set(&cfg[0].p, name, eq + 1)) {
				fprintf(stderr, "amd-eval: bad parameter %s\n", argv[i]);
				return 2;
			}
		} else if (!manifest) {
			manifest = argv[i];
		} else {
			fprintf(stderr, "usage: amd-eval [--list] [--only NAME] [--param N=V] MANIFEST\n");
			return 2;
		}
	}
	if (!manifest) {
		fprintf(stderr, "usage: amd-eval [--list] [--only NAME] [--param N=V] MANIFEST\n");
		return 2;
	}
	err = load_manifest(manifest, clips, &n);
	if (err || !n) {
		fprintf(stderr, "amd-eval: %s: %s\n", manifest, err ? strerror(err) : "no clips");
		return 1;
	}
	for (int c = 0; c < 3; c++) {
		cfg[c].dec = calloc((size_t)n, sizeof(uint32_t));
		if (!cfg[c].dec)
			return 1;
	}
	for (int i = 0; i < n; i++) {
		struct wav w;
		char why[256];

		if (wav_load(&w, clips[i].path, why, sizeof(why)) || w.rate != 8000) {
			fprintf(stderr, "amd-eval: %s: %s\n", clips[i].path, why);
			return 1;
		}
		for (int c = 0; c < 3; c++) {
			struct result r = {0};

			if (only && strcmp(only, cfg[c].name))
				continue;
			if (run(&cfg[c], &w, &r)) {
				fprintf(stderr, "amd-eval: cannot create detector\n");
				return 1;
			}
			account(&cfg[c], &clips[i], &r, list);
		}
		wav_free(&w);
	}
	printf("corpus %s: %d clips\n", manifest, n);
	for (int c = 0; c < 3; c++) {
		if (!only || !strcmp(only, cfg[c].name))
			report(&cfg[c]);
		free(cfg[c].dec);
	}
	return 0;
}
