/*
 * trunx-amd — runs the answering-machine detector over a WAV file and prints
 *   HUMAN|MACHINE|NOTSURE reason=R confidence=C decision_ms=N [beep_ms=M]
 *                                              [message=HOW message_end_ms=E]
 * (beep_ms: end of the voicemail beep; message: with message_end=1, how the greeting
 * ended, BEEP, SILENCE or TIMEOUT, and when; times in ms from the start of the file),
 * preceded, with provisional=1, by one line per provisional verdict:
 *   PROVISIONAL HUMAN|MACHINE|NOTSURE confidence=C at_ms=N
 *
 * The audio is fed in 20 ms blocks to the same dsp/amd code a live call uses.
 * Input: 8 kHz mono WAV, 16-bit PCM or G.711 (decoded exactly); anything else is
 * refused with a reason and a non-zero exit, never guessed at.
 *
 * Options:
 *   --param NAME=VALUE  set a detector parameter (see amd.h; repeatable;
 *                       strategy=classic selects the app_amd baseline)
 *   --trace             also print one line per analysed frame to stderr
 *   --tones             print every tone event of the whole file instead
 *                       (beeps, fax, SIT; one per line), for diagnosis
 * Exit: 0 done, 1 unreadable or unsupported file, 2 bad usage, 3 the verdict could not
 * be written to standard output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amd.h"
#include "tone.h"
#include "wav.h"

#define BLOCK 160

struct outcome {
	bool     decided;
	struct amd_event decision;
	bool     beep;
	uint32_t beep_ms;
	bool     message;
	struct amd_event message_end;
};

static void on_amd(const struct amd_event *ev, void *arg)
{
	struct outcome *o = arg;

	switch (ev->type) {
	case AMD_EV_DECISION:
		o->decided = true;
		o->decision = *ev;
		break;
	case AMD_EV_BEEP:
		o->beep = true;
		o->beep_ms = ev->beep_end_ms;
		break;
	case AMD_EV_BEEP_NONE:
		break;
	case AMD_EV_MESSAGE_END:
		o->message = true;
		o->message_end = *ev;
		break;
	case AMD_EV_PROVISIONAL:
		printf("PROVISIONAL %s confidence=%.2f at_ms=%u\n", amd_class_name(ev->cls),
		       (double)ev->confidence, ev->now_ms);
		break;
	case AMD_EV_FRAME:
		fprintf(stderr, "frame t=%u energy=%.1f floor=%.1f speech=%d f0=%.1f voicing=%.2f\n",
			ev->now_ms, (double)ev->energy_db, (double)ev->floor_db, ev->speech,
			(double)ev->f0_hz, (double)ev->voicing);
		break;
	}
}

static void on_tone(const struct tone_event *ev, void *arg)
{
	(void)arg;
	printf("%s freq=%.1f level=%.1f start_ms=%u end_ms=%u\n", tone_event_name(ev->type),
	       (double)ev->freq_hz, (double)ev->level_db, ev->start_ms, ev->end_ms);
}

static const char help[] =
	"usage: trunx-amd [--param NAME=VALUE ...] [--trace] [--tones] FILE.wav\n"
	"\n"
	"Runs trunx's answering-machine detector (the code live calls run) over an 8 kHz\n"
	"mono WAV file (16-bit PCM or G.711) and prints one line:\n"
	"  CLASS reason=R confidence=C decision_ms=N [beep_ms=M] [message=HOW message_end_ms=E]\n"
	"CLASS is HUMAN, MACHINE or NOTSURE; R one of HUMAN, LONGGREETING, SENTENCES,\n"
	"RESUMED, BEEP, PHRASE, FAX, SIT, INITIALSILENCE, MAXWORDS, MAXWORDLENGTH, TOOLONG,\n"
	"HANGUP;\n"
	"C the confidence (0.5 a guess .. 0.99).\n"
	"\n"
	"Options:\n"
	"  --param NAME=VALUE  set a parameter (repeatable; give strategy first)\n"
	"  --trace             one line per analysed frame on stderr (level, floor,\n"
	"                      speech, pitch)\n"
	"  --tones             print every tone event of the file instead (diagnosis)\n"
	"  -h, --help          this text\n"
	"\n"
	"Parameters (ms unless said; adaptive defaults, classic in brackets):\n"
	"  strategy               adaptive | classic (app_amd's algorithm)\n"
	"  initial_silence        no speech this long: MACHINE INITIALSILENCE (2500)\n"
	"  greeting               span of speech from the first word: MACHINE\n"
	"                         LONGGREETING (4800) [voiced ms, 1500]\n"
	"  after_greeting_silence silence after a turn of 2 s or more not ending in a\n"
	"                         question: HUMAN; +400 if it ends falling (1200) [800]\n"
	"  question_silence       silence after a phrase ending with a rise: HUMAN (1100)\n"
	"  answer_silence         silence after a short turn not ending with a rise:\n"
	"                         HUMAN (2000)\n"
	"  sentence_greeting      span at which a greeting that read one falling\n"
	"                         sentence and went on is MACHINE SENTENCES (2400)\n"
	"  sentence_phrase        0 off (0): SENTENCES waits until the phrase after the\n"
	"                         full stop lasts this long, or ends without a rise\n"
	"                         (a person's \"... Who's calling?\"); fewer people\n"
	"                         called MACHINE, later MACHINE decisions (800:\n"
	"                         +0.2 s median, docs/PERFORMANCE.md)\n"
	"  statement_greeting     a campaign's trade-off, 0 off (0): a turn that never\n"
	"                         rose, of this span or more, is MACHINE STATEMENT where\n"
	"                         it would be HUMAN; catches short beepless greetings\n"
	"                         and costs as many or more people (1400: about 1.5\n"
	"                         people per greeting caught, docs/PERFORMANCE.md)\n"
	"  total_analysis_time    undecided this long: the side the turn leans to,\n"
	"                         reason TOOLONG; NOTSURE if neither (7000) [5000]\n"
	"  min_word_length        shortest word (100)\n"
	"  between_words_silence  silence between words (150) [50]\n"
	"  maximum_number_of_words words: MACHINE MAXWORDS; 0 off (0) [2]\n"
	"  maximum_word_length    one word this long: MACHINE MAXWORDLENGTH (5000)\n"
	"  silence_threshold      mean |sample| floor of speech (24) [256]\n"
	"  speech_margin_db       smallest margin over the noise floor, dB (5)\n"
	"  tones                  fax and SIT tones decide MACHINE, 0/1 (1) [0]\n"
	"  beep                   a beep decides MACHINE and is reported, 0/1 (1) [0]\n"
	"  beep_wait              stop waiting for the beep this long after answer (30000)\n"
	"  message_end            report the end of the greeting after MACHINE, 0/1 (0)\n"
	"  message_silence        with message_end: silence after the last speech that\n"
	"                         ends a greeting without a beep (2500)\n"
	"  trace                  as --trace, 0/1 (0)\n"
	"  phrases                spot voicemail phrases (\"leave a message\", \"after the\n"
	"                         tone\" ...; English) with the local recogniser:\n"
	"                         MACHINE PHRASE, 0/1 (0)\n"
	"  phrase_threshold       20: each phrase's threshold as tuned; each unit\n"
	"                         more spots more (x10), and more wrongly (20)\n"
	"  phrase_model           folder of the recogniser's en-us model\n"
	"                         (/usr/share/pocketsphinx/model/en-us)\n"
	"  provisional            before the decision, print a line PROVISIONAL CLASS\n"
	"                         confidence=C at_ms=N whenever the side the call\n"
	"                         leans to changes (what it would answer if the\n"
	"                         analysis ended then), 0/1 (0)\n"
	"\n"
	"Exit: 0 done, 1 unreadable or unsupported file, 2 bad usage, 3 the verdict\n"
	"could not be written to standard output.\n";

static int usage(void)
{
	fprintf(stderr, "usage: trunx-amd [--param NAME=VALUE ...] [--trace] [--tones] FILE.wav\n"
		"       trunx-amd --help   (parameters and output)\n");
	return 2;
}

static int run_tones(const struct wav *w)
{
	struct tone_det *td;
	int err = tone_det_create(&td, NULL, on_tone, NULL);

	if (err)
		return err;
	for (size_t i = 0; i < w->count; i += BLOCK)
		tone_det_process(td, w->samples + i, w->count - i < BLOCK ? w->count - i : BLOCK);
	tone_det_finish(td);
	tone_det_destroy(td);
	return 0;
}

static int run_amd(const struct wav *w, const struct amd_params *p)
{
	struct outcome o = {0};
	struct amd *amd;
	int err = amd_create(&amd, p, on_amd, &o);

	if (err)
		return err;
	for (size_t i = 0; i < w->count && !amd_done(amd); i += BLOCK)
		amd_process(amd, w->samples + i, w->count - i < BLOCK ? w->count - i : BLOCK);
	amd_finish(amd);
	amd_destroy(amd);
	printf("%s reason=%s confidence=%.2f decision_ms=%u", amd_class_name(o.decision.cls),
	       amd_reason_name(o.decision.reason), (double)o.decision.confidence,
	       o.decision.decision_ms);
	if (o.beep)
		printf(" beep_ms=%u", o.beep_ms);
	if (o.message)
		printf(" message=%s message_end_ms=%u",
		       o.message_end.message_how == AMD_MSG_BEEP ? "BEEP" :
		       o.message_end.message_how == AMD_MSG_SILENCE ? "SILENCE" : "TIMEOUT",
		       o.message_end.message_end_ms);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct amd_params p;
	const char *path = NULL;
	bool tones = false;
	char err[256];
	struct wav w;
	int rc;

	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *kv = NULL;

		if (!strcmp(a, "--param") && i + 1 < argc)
			kv = argv[++i];
		else if (!strncmp(a, "--param=", 8))
			kv = a + 8;
		else if (!strcmp(a, "--trace"))
			p.trace = true;
		else if (!strcmp(a, "--tones"))
			tones = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return fputs(help, stdout), 0;
		else if (a[0] == '-' && a[1])
			return usage();
		else if (!path)
			path = a;
		else
			return usage();
		if (kv) {
			char name[64];
			const char *eq = strchr(kv, '=');

			if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(name)) {
				fprintf(stderr, "trunx-amd: --param wants NAME=VALUE, got '%s'\n", kv);
				return 2;
			}
			memcpy(name, kv, (size_t)(eq - kv));
			name[eq - kv] = '\0';
			if (amd_param_set(&p, name, eq + 1)) {
				fprintf(stderr, "trunx-amd: unknown parameter or bad value: %s\n", kv);
				return 2;
			}
		}
	}
	if (!path)
		return usage();

	rc = wav_load(&w, path, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "trunx-amd: %s: %s\n", path, rc == ENOENT || rc == EACCES ?
			strerror(rc) : err);
		return 1;
	}
	if (w.rate != 8000 || w.channels != 1) {
		fprintf(stderr, "trunx-amd: %s: %u Hz, %u channel(s); trunx-amd reads 8000 Hz mono "
			"(convert first, e.g. sox IN -r 8000 -c 1 OUT.wav)\n",
			path, w.rate, w.channels);
		wav_free(&w);
		return 1;
	}
	rc = tones ? run_tones(&w) : run_amd(&w, &p);
	wav_free(&w);
	if (rc) {
		if (p.phrases && !tones)
			fprintf(stderr, "trunx-amd: cannot start the phrase spotter (model %s): %s\n",
				p.phrase_model, strerror(rc));
		else
			fprintf(stderr, "trunx-amd: %s\n", strerror(rc));
		return 1;
	}
	/* A verdict cut short (a full disk, a closed pipe) is not a verdict. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "trunx-amd: cannot write the verdict to standard output: %s\n",
			strerror(errno ? errno : EIO));
		return 3;
	}
	return 0;
}
