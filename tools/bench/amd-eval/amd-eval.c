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
 * Configurations: "adaptive" (trunx defaults, message_end and provisional on),
 * "adaptive+phrases" (the same with phrase spotting, with --phrases),
 * "adaptive-notones" (the defaults without fax, SIT and beep detection: the acoustic
 * path alone), "classic" (app_amd's algorithm with
 * the defaults of Asterisk's amd.conf) and "classic3" (the same with app_amd's
 * built-in default of 3 words). Extra --param NAME=VALUE options apply to adaptive.
 * Accuracy is also broken down by shape (category), noise, codec and language, with
 * humans called MACHINE among full-sentence answers, the confidence calibration and,
 * for adaptive, the message end: the beep's end within +-60 ms, or (no beep) the
 * reported end within 0..500 ms after the greeting's last speech.
 *
 * Usage: amd-eval [--list] [--only NAME] [--phrases] [--param N=V ...] [--cost SECONDS]
 *                 MANIFEST
 *   --list     one line per clip and configuration (for tuning)
 *   --phrases  also "adaptive+phrases": adaptive with the phrase-spotting layer
 *              (English; slow: the recogniser runs at about 1/70 of real time)
 *   --cost     also time each configuration, adaptive with its optional layers
 *              taken off one at a time (provisional verdicts, message end), the
 *              acoustic path with provisional verdicts, and the tone detector
 *              alone, over the corpus' clips played back to back for SECONDS, with
 *              the detector kept analysing (reset whenever it is done):
 *              microseconds per 20 ms frame, median and 99th percentile of batches
 *              of 50 frames, and the mean (the recogniser works in bursts).
 * The adaptive run also grades its provisional verdicts: the first verdict of each
 * clip (provisional or final) and the one in force at AT_MS.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amd.h"
#include "tone.h"
#include "wav.h"

#define BLOCK     160
#define MAX_CLIPS 4096
#define BEEP_TOL  60
#define NCFG      5
#define BATCH     50

#define MAX_GROUPS 64
#define AT_MS      2500   /* the verdict in force at this time is also graded */

struct clip {
	char name[64];
	char path[512];
	char cat[32];
	enum amd_class expect;
	char reason[16];
	int  beep_end;          /* ms, -1 none */
	int  speech_end;        /* end of the last speech, ms, -1 none */
	char noise[16];         /* none, white, pink, brown, babble */
	char snr[8];
	char codec[8];
	char lang[8];
	bool full;              /* a full-sentence human answer */
};

/* Right / total per value of one dimension (shape, noise, ...). */
struct group {
	char key[40];
	unsigned ok, n;
};

struct result {
	char phrase[48];           /* PHRASE decisions: what was heard */
	bool first;                /* a first verdict: provisional or final */
	enum amd_class first_cls;
	uint32_t first_ms;
	enum amd_class at_cls;     /* the verdict in force at AT_MS (NOTSURE: none) */
	bool decided;
	enum amd_class cls;
	enum amd_reason reason;
	float confidence;
	uint32_t decision_ms;
	bool beep;
	uint32_t beep_ms;
	bool message;
	enum amd_message_end how;
	uint32_t message_ms;
};

enum dim { DIM_SHAPE, DIM_NOISE, DIM_SNR, DIM_CODEC, DIM_LANG, NDIM };

struct config {
	const char *name;
	struct amd_params p;
	bool enabled;
	struct amd *amd;        /* created once, reset for each clip */
	struct result *cur;     /* where the clip being run reports */
	/* totals */
	unsigned n, correct, conf[2][3], nhuman, notsure;
	unsigned beep_truth, beep_ok, beep_off, beep_missed, beep_false;
	unsigned fax_n, fax_ok, sit_n, sit_ok;
	uint32_t *dec;          /* decision times of all clips */
	uint32_t *first_dec;    /* times of the first verdict (provisional or final) */
	unsigned first_n, first_ok, at_ok, at_none;
	double cpu_ns;
	uint64_t frames;
	double max_beep_err;
	unsigned full_n, full_machine, machines, machine_human;
	unsigned greet_beep, greet_beep_human, greet_nobeep, greet_nobeep_human;
	struct group groups[NDIM][MAX_GROUPS];
	unsigned ngroups[NDIM];
	unsigned conf_ok[5], conf_n[5];   /* confidence 0.5-0.6, ..., 0.9-1.0 */
	unsigned msg_beep_n, msg_beep_ok, msg_sil_n, msg_sil_ok, msg_early, msg_missing;
	int msg_sil_worst;
};

static void on_event(const struct amd_event *ev, void *arg)
{
	struct result *r = ((struct config *)arg)->cur;

	if ((ev->type == AMD_EV_DECISION || ev->type == AMD_EV_PROVISIONAL) &&
	    ev->now_ms <= AT_MS)
		r->at_cls = ev->cls;
	if ((ev->type == AMD_EV_DECISION || ev->type == AMD_EV_PROVISIONAL) && !r->first &&
	    ev->cls != AMD_NOTSURE) {
		r->first = true;
		r->first_cls = ev->cls;
		r->first_ms = ev->now_ms;
	}
	if (ev->type == AMD_EV_DECISION) {
		r->decided = true;
		r->cls = ev->cls;
		r->reason = ev->reason;
		r->confidence = ev->confidence;
		r->decision_ms = ev->decision_ms;
		if (ev->phrase)
			snprintf(r->phrase, sizeof(r->phrase), "%s", ev->phrase);
	} else if (ev->type == AMD_EV_BEEP) {
		r->beep = true;
		r->beep_ms = ev->beep_end_ms;
	} else if (ev->type == AMD_EV_MESSAGE_END) {
		r->message = true;
		r->how = ev->message_how;
		r->message_ms = ev->message_end_ms;
	}
}

static double thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One clip through the configuration's detector (created on first use, then reset:
 * the phrase spotter's model loads once). */
static int run(struct config *c, const struct wav *w, struct result *r)
{
	struct amd *amd;
	double t0;

	c->cur = r;
	if (!c->amd) {
		int err = amd_create(&c->amd, &c->p, on_event, c);

		if (err)
			return err;
	} else {
		amd_reset(c->amd);
	}
	amd = c->amd;
	t0 = thread_ns();
	for (size_t i = 0; i < w->count && !amd_done(amd); i += BLOCK) {
		amd_process(amd, w->samples + i, w->count - i < BLOCK ? w->count - i : BLOCK);
		c->frames++;
	}
	amd_finish(amd);
	c->cpu_ns += thread_ns() - t0;
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
		char *fld[12], *save = NULL, *t;
		int k = 0;
		struct clip *c = &clips[*n];

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (t = strtok_r(line, "\t\n", &save); t && k < 12; t = strtok_r(NULL, "\t\n", &save))
			fld[k++] = t;
		if (k < 6)
			continue;
		snprintf(c->name, sizeof(c->name), "%s", fld[0]);
		snprintf(c->path, sizeof(c->path), "%s", fld[1]);
		c->expect = !strcmp(fld[2], "HUMAN") ? AMD_HUMAN : AMD_MACHINE;
		snprintf(c->cat, sizeof(c->cat), "%s", fld[3]);
		snprintf(c->reason, sizeof(c->reason), "%s", fld[4]);
		c->beep_end = atoi(fld[5]);
		c->speech_end = k > 7 ? atoi(fld[7]) : -1;
		snprintf(c->noise, sizeof(c->noise), "-");
		snprintf(c->snr, sizeof(c->snr), "-");
		snprintf(c->codec, sizeof(c->codec), "-");
		if (k > 8)
			sscanf(fld[8], "level=%*s noise=%15s snr=%7s codec=%7s", c->noise, c->snr,
			       c->codec);
		snprintf(c->lang, sizeof(c->lang), "%s", k > 9 ? fld[9] : "-");
		c->full = k > 10 && !strcmp(fld[10], "full");
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

static void group_add(struct config *c, enum dim d, const char *key, bool ok)
{
	unsigned i;

	for (i = 0; i < c->ngroups[d]; i++)
		if (!strcmp(c->groups[d][i].key, key))
			break;
	if (i == c->ngroups[d]) {
		if (i == MAX_GROUPS)
			return;
		snprintf(c->groups[d][i].key, sizeof(c->groups[d][i].key), "%s", key);
		c->ngroups[d]++;
	}
	c->groups[d][i].ok += ok;
	c->groups[d][i].n++;
}

/* The message end against the truth: the beep's end, or the last speech. */
static void account_message(struct config *c, const struct clip *k, const struct result *r)
{
	if (k->expect != AMD_MACHINE || r->cls != AMD_MACHINE || strcmp(k->reason, "-") ||
	    !c->p.message_end)
		return;
	if (!r->message) {
		c->msg_missing++;
		return;
	}
	if (k->beep_end >= 0) {
		c->msg_beep_n++;
		c->msg_beep_ok += r->how == AMD_MSG_BEEP &&
				  abs((int)r->message_ms - k->beep_end) <= BEEP_TOL;
	} else if (k->speech_end >= 0) {
		int d = (int)r->message_ms - k->speech_end;

		c->msg_sil_n++;
		c->msg_sil_ok += r->how == AMD_MSG_SILENCE && d >= -BEEP_TOL && d <= 500;
		if (r->how == AMD_MSG_SILENCE && abs(d) > abs(c->msg_sil_worst))
			c->msg_sil_worst = d;
	}
}

static void account(struct config *c, const struct clip *k, const struct result *r, bool list)
{
	int e = k->expect == AMD_HUMAN ? 0 : 1;
	bool ok = r->cls == k->expect;
	char snr[48];
	int cb = (int)((r->confidence - 0.5f) * 10.0f);

	c->dec[c->n++] = r->decision_ms;
	if (r->first) {
		c->first_dec[c->first_n++] = r->first_ms;
		c->first_ok += r->first_cls == k->expect;
	}
	c->at_ok += r->at_cls == k->expect;
	c->at_none += r->at_cls == AMD_NOTSURE;
	c->conf[e][r->cls]++;
	if (r->cls == k->expect)
		c->correct++;
	if (k->expect == AMD_HUMAN)
		c->nhuman++;
	if (r->cls == AMD_NOTSURE)
		c->notsure++;
	if (k->full) {
		c->full_n++;
		c->full_machine += r->cls == AMD_MACHINE;
	}
	if (k->expect == AMD_MACHINE) {
		c->machines++;
		c->machine_human += r->cls == AMD_HUMAN;
	}
	/* Greetings (not fax or SIT) with and without a beep: without one, a short
	 * greeting is in this corpus only told from a person's answer by its words. */
	if (k->expect == AMD_MACHINE && !strcmp(k->reason, "-")) {
		if (k->beep_end >= 0) {
			c->greet_beep++;
			c->greet_beep_human += r->cls == AMD_HUMAN;
		} else {
			c->greet_nobeep++;
			c->greet_nobeep_human += r->cls == AMD_HUMAN;
		}
	}
	snprintf(snr, sizeof(snr), "%s %s dB", k->noise, k->snr);
	group_add(c, DIM_SHAPE, k->cat, ok);
	group_add(c, DIM_NOISE, k->noise, ok);
	group_add(c, DIM_SNR, strcmp(k->snr, "-") ? snr : "no noise", ok);
	group_add(c, DIM_CODEC, k->codec, ok);
	group_add(c, DIM_LANG, k->lang, ok);
	cb = cb < 0 ? 0 : cb > 4 ? 4 : cb;
	c->conf_n[cb]++;
	c->conf_ok[cb] += ok;
	account_message(c, k, r);
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
		printf("%-9s %-22s %-14s %-3s expect=%-7s got=%-7s reason=%-14s conf=%.2f "
		       "decision_ms=%-5u beep=%d/%d msg=%d/%d%s%s%s\n", c->name, k->name, k->cat,
		       k->lang, amd_class_name(k->expect), amd_class_name(r->cls),
		       amd_reason_name(r->reason), (double)r->confidence, r->decision_ms,
		       k->beep_end, r->beep ? (int)r->beep_ms : -1, k->speech_end,
		       r->message ? (int)r->message_ms : -1,
		       r->cls == k->expect ? "" : "   <-- WRONG", r->phrase[0] ? "  heard: " : "",
		       r->phrase);
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
	if (c->p.provisional && c->first_n) {
		qsort(c->first_dec, c->first_n, sizeof(*c->first_dec), cmp_u32);
		printf("first verdict (provisional or final): %u clips, right %.1f %%, median %u ms; "
		       "verdict in force at %d ms: right %.1f %%, none %.1f %%\n", c->first_n,
		       100.0 * c->first_ok / c->n, c->first_dec[c->first_n / 2], AT_MS,
		       100.0 * c->at_ok / c->n, 100.0 * c->at_none / c->n);
	}
	printf("reasons: fax %u/%u FAX, sit %u/%u SIT\n", c->fax_ok, c->fax_n, c->sit_ok,
	       c->sit_n);
	printf("beeps: %u with a beep: %u within +-%d ms, %u off, %u missed; %u false; "
	       "worst error %.0f ms\n", c->beep_truth, c->beep_ok, BEEP_TOL, c->beep_off,
	       c->beep_missed, c->beep_false, c->max_beep_err);
	printf("humans called MACHINE among full-sentence answers %.1f %% (%u/%u); machines "
	       "called HUMAN %.1f %% (%u/%u)\n",
	       c->full_n ? 100.0 * c->full_machine / c->full_n : 0, c->full_machine, c->full_n,
	       c->machines ? 100.0 * c->machine_human / c->machines : 0, c->machine_human,
	       c->machines);
	printf("greetings called HUMAN: with a beep %u/%u, without a beep %u/%u\n",
	       c->greet_beep_human, c->greet_beep, c->greet_nobeep_human, c->greet_nobeep);
	printf("confidence: right / decisions per band 0.5-0.6 .. 0.9-1.0:");
	for (int i = 0; i < 5; i++)
		printf(" %u/%u", c->conf_ok[i], c->conf_n[i]);
	printf("\n");
	if (c->p.message_end)
		printf("message end: beep %u/%u within +-%d ms; no beep %u/%u within 0..500 ms "
		       "after the last speech (worst %+d ms); %u MACHINE clips without one\n",
		       c->msg_beep_ok, c->msg_beep_n, BEEP_TOL, c->msg_sil_ok, c->msg_sil_n,
		       c->msg_sil_worst, c->msg_missing);
	for (int d = 0; d < NDIM; d++) {
		static const char *const dn[NDIM] = {"shape", "noise", "snr", "codec", "language"};

		printf("by %s:", dn[d]);
		for (unsigned i = 0; i < c->ngroups[d]; i++)
			printf("%s %s %u/%u", i ? "," : "", c->groups[d][i].key, c->groups[d][i].ok,
			       c->groups[d][i].n);
		printf("\n");
	}
	printf("cpu: %.2f us per 20 ms frame analysed, creation and cold start included "
	       "(%llu frames)\n",
	       c->frames ? c->cpu_ns / 1000.0 / c->frames : 0, (unsigned long long)c->frames);
}

/* ---- CPU cost ------------------------------------------------------------- */

static void count_tone(const struct tone_event *ev, void *arg)
{
	(void)ev;
	(*(unsigned *)arg)++;
}

static void count_amd(const struct amd_event *ev, void *arg)
{
	(void)ev;
	(*(unsigned *)arg)++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void cost_line(const char *name, double *batch_us, size_t nb)
{
	double sum = 0;

	for (size_t i = 0; i < nb; i++)
		sum += batch_us[i];
	qsort(batch_us, nb, sizeof(*batch_us), cmp_double);
	printf("  %-22s median %6.2f us  p99 %6.2f us  mean %6.2f us per 20 ms frame\n", name,
	       batch_us[nb / 2] / BATCH, batch_us[(nb * 99) / 100] / BATCH, sum / nb / BATCH);
}

/*
 * Times each configuration on the clips played back to back (SECONDS of audio),
 * the detector kept analysing: limits pushed out of reach and a reset whenever it
 * is done anyway (a fax tone or a beep decides at once). Then the tone detector
 * alone, which is all that runs while a machine's beep is awaited.
 */
static int cost(const struct config *cfg, const struct clip *clips, int nclips, double seconds)
{
	size_t want = (size_t)(seconds * 8000) / (BLOCK * BATCH) * (BLOCK * BATCH), have = 0;
	size_t nb = want / (BLOCK * BATCH);
	int16_t *sig = malloc((want ? want : 1) * sizeof(*sig));
	double *us = calloc(nb ? nb : 1, sizeof(*us));
	unsigned events = 0;
	int rc = 0;

	if (!sig || !us || !nb) {
		rc = 1;
		goto out;
	}
	for (int i = 0; have < want; i = (i + 1) % nclips) {
		struct wav w;
		char why[256];

		if (wav_load(&w, clips[i].path, why, sizeof(why))) {
			rc = 1;
			goto out;
		}
		for (size_t k = 0; k < w.count && have < want; k++)
			sig[have++] = w.samples[k];
		wav_free(&w);
	}
	printf("\ncpu cost, %.0f s of the corpus back to back, one thread:\n", seconds);
	/* Each configuration, then the optional layers of the adaptive one one at a time. */
	struct { const char *name; struct amd_params p; } t[NCFG + 5];
	int nt = 0;

	for (int c = 0; c < NCFG; c++) {
		if (!cfg[c].enabled)
			continue;
		t[nt].name = cfg[c].name;
		t[nt++].p = cfg[c].p;
	}
	t[nt].name = "adaptive -prov";
	t[nt].p = cfg[0].p;
	t[nt++].p.provisional = false;
	t[nt].name = "adaptive -prov -msgend";
	t[nt].p = t[nt - 1].p;
	t[nt++].p.message_end = false;
	t[nt].name = "notones +prov";
	t[nt].p = cfg[1].p;
	t[nt++].p.provisional = true;
	if (cfg[2].enabled) {
		t[nt].name = "notones +phrases";
		t[nt].p = cfg[1].p;
		t[nt++].p.phrases = true;
	}
	for (int c = 0; c < nt + 1; c++) {
		struct amd_params p;
		struct amd *amd = NULL;
		struct tone_det *td = NULL;

		if (c < nt) {
			p = t[c].p;
			p.initial_silence = p.greeting = p.after_greeting_silence = 3600000;
			p.total_analysis_time = p.maximum_word_length = 3600000;
			p.question_silence = p.answer_silence = p.sentence_greeting = 3600000;
			p.maximum_number_of_words = 0;
			if (amd_create(&amd, &p, count_amd, &events)) {
				rc = 1;
				goto out;
			}
		} else if (tone_det_create(&td, NULL, count_tone, &events)) {
			rc = 1;
			goto out;
		}
		for (size_t b = 0; b < nb; b++) {
			const int16_t *x = sig + b * BLOCK * BATCH;
			double t0 = thread_ns();

			for (int f = 0; f < BATCH; f++) {
				if (amd) {
					if (amd_done(amd))
						amd_reset(amd);
					amd_process(amd, x + f * BLOCK, BLOCK);
				} else {
					tone_det_process(td, x + f * BLOCK, BLOCK);
				}
			}
			us[b] = (thread_ns() - t0) / 1000.0;
		}
		cost_line(c < nt ? t[c].name : "tone detector", us, nb);
		amd_destroy(amd);
		tone_det_destroy(td);
	}
out:
	free(sig);
	free(us);
	return rc;
}

static const char usage[] =
	"usage: amd-eval [--list] [--only NAME] [--phrases] [--param N=V ...] [--cost SECONDS] "
	"MANIFEST\n";

int main(int argc, char **argv)
{
	static struct clip clips[MAX_CLIPS];
	struct config cfg[NCFG] = { { .name = "adaptive" }, { .name = "adaptive-notones" },
				    { .name = "adaptive+phrases" },
				    { .name = "classic" }, { .name = "classic3" } };
	const char *manifest = NULL, *only = NULL;
	bool list = false;
	double cost_s = 0;
	int n = 0, err;

	amd_params_init(&cfg[0].p, AMD_STRATEGY_ADAPTIVE);
	cfg[0].p.message_end = true;
	cfg[0].p.provisional = true;
	amd_params_init(&cfg[1].p, AMD_STRATEGY_ADAPTIVE);
	cfg[1].p.tones = cfg[1].p.beep = false;
	cfg[2].p = cfg[0].p;
	cfg[2].p.phrases = true;
	amd_params_init(&cfg[3].p, AMD_STRATEGY_CLASSIC);
	amd_params_init(&cfg[4].p, AMD_STRATEGY_CLASSIC);
	cfg[4].p.maximum_number_of_words = 3;
	for (int c = 0; c < NCFG; c++)
		cfg[c].enabled = c != 2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--phrases")) {
			cfg[2].enabled = true;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--cost") && i + 1 < argc) {
			cost_s = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--param") && i + 1 < argc) {
			char name[64], *eq = strchr(argv[++i], '=');

			if (!eq || (size_t)(eq - argv[i]) >= sizeof(name)) {
				fprintf(stderr, "amd-eval: --param NAME=VALUE\n");
				return 2;
			}
			memcpy(name, argv[i], (size_t)(eq - argv[i]));
			name[eq - argv[i]] = '\0';
			if (amd_param_set(&cfg[0].p, name, eq + 1) ||
			    amd_param_set(&cfg[1].p, name, eq + 1) ||
			    amd_param_set(&cfg[2].p, name, eq + 1)) {
				fprintf(stderr, "amd-eval: bad parameter %s\n", argv[i]);
				return 2;
			}
		} else if (!manifest) {
			manifest = argv[i];
		} else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (!manifest) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	err = load_manifest(manifest, clips, &n);
	if (err || !n) {
		fprintf(stderr, "amd-eval: %s: %s\n", manifest, err ? strerror(err) : "no clips");
		return 1;
	}
	for (int c = 0; c < NCFG; c++) {
		cfg[c].dec = calloc((size_t)n, sizeof(uint32_t));
		cfg[c].first_dec = calloc((size_t)n, sizeof(uint32_t));
		if (!cfg[c].dec || !cfg[c].first_dec)
			return 1;
	}
	for (int i = 0; i < n; i++) {
		struct wav w;
		char why[256];

		if (wav_load(&w, clips[i].path, why, sizeof(why)) || w.rate != 8000) {
			fprintf(stderr, "amd-eval: %s: %s\n", clips[i].path, why);
			return 1;
		}
		for (int c = 0; c < NCFG; c++) {
			struct result r = { .at_cls = AMD_NOTSURE };

			if (!cfg[c].enabled || (only && strcmp(only, cfg[c].name)))
				continue;
			err = run(&cfg[c], &w, &r);
			if (err) {
				fprintf(stderr, "amd-eval: cannot create the %s detector: %s\n",
					cfg[c].name, strerror(err));
				return 1;
			}
			account(&cfg[c], &clips[i], &r, list);
		}
		wav_free(&w);
	}
	printf("corpus %s: %d clips\n", manifest, n);
	for (int c = 0; c < NCFG; c++) {
		if (cfg[c].enabled && (!only || !strcmp(only, cfg[c].name)))
			report(&cfg[c]);
		free(cfg[c].dec);
		free(cfg[c].first_dec);
		amd_destroy(cfg[c].amd);
	}
	if (cost_s > 0)
		return cost(cfg, clips, n, cost_s);
	return 0;
}
