/* test_amd.c — answering-machine detector: app_amd's rules (classic), the adaptive
 * strategy on quiet and noisy lines, tones in context, beep reporting, stream end,
 * block-size independence, reset, parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "amd.h"
#include "synth.h"

#define MAX_EV 8

struct log {
	struct amd_event ev[MAX_EV];
	int n;
};

static void on_event(const struct amd_event *ev, void *arg)
{
	struct log *l = arg;

	if (ev->type != AMD_EV_FRAME && l->n < MAX_EV)
		l->ev[l->n++] = *ev;
}

static void run_params(const struct sig *s, const struct amd_params *p, size_t block,
		       struct log *l)
{
	struct amd *amd;
	int16_t *pcm = sig_pcm(s);

	memset(l, 0, sizeof(*l));
	assert_non_null(pcm);
	assert_int_equal(amd_create(&amd, p, on_event, l), 0);
	for (size_t i = 0; i < s->n; i += block)
		assert_int_equal(amd_process(amd, pcm + i, s->n - i < block ? s->n - i : block), 0);
	amd_finish(amd);
	assert_true(amd_done(amd));
	amd_destroy(amd);
	free(pcm);
}

static void run(const struct sig *s, enum amd_strategy st, struct log *l)
{
	struct amd_params p;

	amd_params_init(&p, st);
	run_params(s, &p, 160, l);
}

static void expect_decision(const struct log *l, enum amd_class c, enum amd_reason r)
{
	assert_true(l->n >= 1);
	assert_int_equal(l->ev[0].type, AMD_EV_DECISION);
	if (l->ev[0].cls != c || l->ev[0].reason != r)
		fail_msg("got %s %s at %u ms, expected %s %s", amd_class_name(l->ev[0].cls),
			 amd_reason_name(l->ev[0].reason), l->ev[0].decision_ms,
			 amd_class_name(c), amd_reason_name(r));
}

static void expect_time(const struct log *l, double ms, double tol)
{
	if (fabs((double)l->ev[0].decision_ms - ms) > tol)
		fail_msg("decision at %u ms, expected %.0f +- %.0f", l->ev[0].decision_ms, ms, tol);
}

/* ---- classic: app_amd's rules, frame-exact --------------------------------------- */

static void test_classic_initial_silence(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 4000, 1);
	run(&s, AMD_STRATEGY_CLASSIC, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
	assert_int_equal(l.ev[0].decision_ms, 2500);
	assert_int_equal(l.n, 1);                      /* no beep search in classic */
	sig_free(&s);
}

static void test_classic_human(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 4000, 2);
	sig_noise(&s, 200, 400, -20);                  /* "hello", well above 256 */
	run(&s, AMD_STRATEGY_CLASSIC, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	assert_int_equal(l.ev[0].decision_ms, 600 + 800);
	sig_free(&s);
}

static void test_classic_long_greeting(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 4000, 3);
	sig_noise(&s, 200, 3000, -20);
	run(&s, AMD_STRATEGY_CLASSIC, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_LONGGREETING);
	assert_int_equal(l.ev[0].decision_ms, 200 + 1500);
	sig_free(&s);
}

static void test_classic_max_words(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 4000, 4);
	sig_noise(&s, 200, 200, -20);
	sig_noise(&s, 500, 200, -20);                  /* second word after 100 ms */
	run(&s, AMD_STRATEGY_CLASSIC, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_MAXWORDS);
	assert_int_equal(l.ev[0].decision_ms, 500 + 100);
	sig_free(&s);
}

static void test_classic_limits(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 6000, 5);
	sig_noise(&s, 0, 6000, -20);
	amd_params_init(&p, AMD_STRATEGY_CLASSIC);
	assert_int_equal(amd_param_set(&p, "greeting", "100000"), 0);
	assert_int_equal(amd_param_set(&p, "maximum_word_length", "1000"), 0);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_MAXWORDLENGTH);
	assert_int_equal(l.ev[0].decision_ms, 1000);
	assert_int_equal(amd_param_set(&p, "maximum_word_length", "100000"), 0);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_NOTSURE, AMD_REASON_TOOLONG);
	assert_int_equal(l.ev[0].decision_ms, 5000);
	sig_free(&s);
}

/* ---- adaptive --------------------------------------------------------------------- */

static void test_adaptive_human_and_machine(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 5000, 6);
	sig_speech(&s, 500, 500, -20);                 /* "hello" then waiting */
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	/* No pitch to read: a short turn that does not rise waits answer_silence. */
	expect_time(&l, 1000 + 2000, 80);
	assert_true(l.ev[0].early);
	assert_true(l.ev[0].confidence >= 0.5f && l.ev[0].confidence <= 0.99f);
	assert_int_equal(l.n, 1);
	sig_free(&s);

	sig_init(&s, 6000, 7);
	sig_speech(&s, 300, 5000, -20);                /* a greeting that goes on */
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_LONGGREETING);
	expect_time(&l, 300 + 4800, 100);
	assert_int_equal(l.ev[1].type, AMD_EV_BEEP_NONE);   /* stream ended, no beep */
	sig_free(&s);

	sig_init(&s, 4000, 8);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
	assert_int_equal(l.ev[0].decision_ms, 2500);
	sig_free(&s);
}

/*
 * At total_analysis_time with no rule met, the verdict is the side the turn leans
 * to (reason TOOLONG, not early, a low confidence): a turn still going after 2 s is
 * a machine's, a short turn followed by half the wait it deserves a person's, and
 * nothing heard at all stays NOTSURE.
 */
static void test_adaptive_deadline(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_int_equal(amd_param_set(&p, "total_analysis_time", "3500"), 0);
	assert_int_equal(amd_param_set(&p, "sentence_greeting", "100000"), 0);
	sig_init(&s, 5000, 30);
	sig_speech(&s, 300, 2000, -20);
	sig_speech(&s, 2600, 2000, -20);               /* still talking at 3.5 s */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_TOOLONG);
	assert_int_equal(l.ev[0].decision_ms, 3500);
	assert_false(l.ev[0].early);
	assert_true(l.ev[0].confidence >= 0.5f && l.ev[0].confidence < 0.7f);
	sig_free(&s);

	assert_int_equal(amd_param_set(&p, "answer_silence", "5000"), 0);
	sig_init(&s, 5000, 31);
	sig_speech(&s, 500, 500, -20);                 /* "hello", then 2.5 s of waiting */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_TOOLONG);
	assert_int_equal(l.ev[0].decision_ms, 3500);
	assert_false(l.ev[0].early);
	sig_free(&s);

	assert_int_equal(amd_param_set(&p, "initial_silence", "10000"), 0);
	sig_init(&s, 5000, 32);
	sig_noise(&s, 0, 5000, -60);                   /* nothing said */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_NOTSURE, AMD_REASON_TOOLONG);
	sig_free(&s);
}

/*
 * provisional=1: before the decision, an AMD_EV_PROVISIONAL each time the side the
 * call leans to changes; the decision follows as usual. Off by default.
 */
static void test_adaptive_provisional(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 5000, 33);
	sig_speech(&s, 500, 500, -20);                 /* "hello" then waiting */
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	assert_int_equal(l.n, 1);
	assert_int_equal(amd_param_set(&p, "provisional", "1"), 0);
	run_params(&s, &p, 160, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ev[0].type, AMD_EV_PROVISIONAL);
	assert_int_equal(l.ev[0].cls, AMD_HUMAN);
	/* half of answer_silence (2,000 ms) after the end of the word */
	assert_true(fabs((double)l.ev[0].now_ms - (1000 + 1000)) <= 80);
	assert_true(l.ev[0].confidence >= 0.5f && l.ev[0].confidence < 0.7f);
	assert_int_equal(l.ev[1].type, AMD_EV_DECISION);
	assert_int_equal(l.ev[1].cls, AMD_HUMAN);
	assert_true(l.ev[1].decision_ms > l.ev[0].now_ms);
	sig_free(&s);

	sig_init(&s, 7000, 34);
	sig_speech(&s, 300, 6000, -20);                /* a greeting that goes on */
	run_params(&s, &p, 160, &l);
	assert_int_equal(l.ev[0].type, AMD_EV_PROVISIONAL);
	assert_int_equal(l.ev[0].cls, AMD_MACHINE);
	assert_true(fabs((double)l.ev[0].now_ms - (300 + 2000)) <= 80);
	assert_int_equal(l.ev[1].type, AMD_EV_DECISION);
	assert_int_equal(l.ev[1].cls, AMD_MACHINE);
	assert_int_equal(l.ev[1].reason, AMD_REASON_LONGGREETING);
	sig_free(&s);
}

/* A quiet line: classic never hears the "hello"; adaptive does. */
static void test_adaptive_quiet_line(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 5000, 9);
	sig_noise(&s, 0, 5000, -75);
	sig_speech(&s, 600, 500, -48);
	run(&s, AMD_STRATEGY_CLASSIC, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_INITIALSILENCE);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	sig_free(&s);
}

/* Noisy lines: classic hears the noise as a long greeting; adaptive hears the hello. */
static void test_adaptive_noisy_lines(void **state)
{
	static const double noise_db[] = {-60, -45, -35, -30};

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct sig s;
		struct log l;

		sig_init(&s, 5000, 10 + i);
		sig_noise(&s, 0, 5000, noise_db[i]);
		sig_speech(&s, 700, 600, noise_db[i] + 15);
		run(&s, AMD_STRATEGY_ADAPTIVE, &l);
		expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
		expect_time(&l, 1300 + 2000, 120);
		if (noise_db[i] >= -35) {
			run(&s, AMD_STRATEGY_CLASSIC, &l);
			assert_int_equal(l.ev[0].cls, AMD_MACHINE);
		}
		sig_free(&s);
	}
}

/* A voicemail: greeting, pause, beep. MACHINE, then the beep's end. */
static void test_greeting_then_beep(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 7000, 14);
	sig_noise(&s, 0, 7000, -60);
	sig_speech(&s, 300, 4000, -20);
	sig_tone(&s, 1000, 4700, 600, -18, 0);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	/* 4 s of speech is not yet a long greeting, but the beep is sound too (a tone
	 * never ends a greeting): the span passes 4.8 s during the beep, MACHINE
	 * LONGGREETING, and the beep is then reported with its true times. */
	expect_decision(&l, AMD_MACHINE, AMD_REASON_LONGGREETING);
	assert_true(l.ev[0].decision_ms < 5300);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ev[1].type, AMD_EV_BEEP);
	assert_true(fabs((double)l.ev[1].beep_end_ms - 5300) <= 15);
	assert_true(fabs((double)l.ev[1].beep_start_ms - 4700) <= 15);
	assert_true(fabs(l.ev[1].beep_hz - 1000) < 3);
	sig_free(&s);
}

/* A question (final rise) makes HUMAN after question_silence; the same phrase
 * falling waits answer_silence, in case it is the first phrase of a greeting. */
static void test_intonation(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 6000, 21);
	sig_noise(&s, 0, 6000, -65);
	sig_voiced(&s, 500, 700, 120, 180, -22);       /* "hello?" rising */
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	expect_time(&l, 1200 + 1100, 100);
	assert_true(l.ev[0].confidence >= 0.8f);
	sig_free(&s);

	sig_init(&s, 6000, 22);
	sig_noise(&s, 0, 6000, -65);
	sig_voiced(&s, 500, 700, 180, 120, -22);       /* "hello." falling */
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	expect_time(&l, 1200 + 2000, 100);
	sig_free(&s);
}

/* statement_greeting: a falling turn that spans it and is followed by the human
 * wait is MACHINE STATEMENT (low confidence); a shorter one, or one that rose,
 * stays HUMAN; off by default. */
static void test_statement_tradeoff(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_int_equal(p.statement_greeting, 0u);
	assert_int_equal(amd_param_set(&p, "statement_greeting", "1200"), 0);
	assert_int_equal(amd_param_set(&p, "statement_greeting", "-1"), EINVAL);
	sig_init(&s, 6000, 40);
	sig_noise(&s, 0, 6000, -65);
	sig_voiced(&s, 500, 1500, 180, 120, -22);      /* "It's Sam, leave a message." */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_STATEMENT);
	expect_time(&l, 2000 + 2000, 100);
	assert_true(l.ev[0].confidence >= 0.5f && l.ev[0].confidence < 0.7f);
	assert_string_equal(amd_reason_name(l.ev[0].reason), "STATEMENT");
	sig_free(&s);

	sig_init(&s, 6000, 41);
	sig_noise(&s, 0, 6000, -65);
	sig_voiced(&s, 500, 800, 180, 120, -22);       /* "Hello." shorter than 1.2 s */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	sig_free(&s);

	sig_init(&s, 6000, 42);
	sig_noise(&s, 0, 6000, -65);
	sig_voiced(&s, 500, 1500, 120, 180, -22);      /* a long question */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	sig_free(&s);

	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);    /* off: the same turn is HUMAN */
	sig_init(&s, 6000, 40);
	sig_noise(&s, 0, 6000, -65);
	sig_voiced(&s, 500, 1500, 180, 120, -22);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	sig_free(&s);
}

/* sentence_phrase: "Hello, this is Tom." - a full stop - "Who's calling?" reaches
 * sentence_greeting during the question: SENTENCES by default; with the knob the
 * question's end decides (a rise: HUMAN), and a falling phrase there is SENTENCES
 * at its end. */
static void test_sentence_phrase(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_int_equal(p.sentence_phrase, 0u);
	assert_int_equal(amd_param_set(&p, "sentence_phrase", "-5"), EINVAL);
	sig_init(&s, 7000, 50);
	sig_noise(&s, 0, 7000, -65);
	sig_voiced(&s, 300, 1300, 200, 130, -22);      /* "Hello, this is Tom." */
	sig_voiced(&s, 2050, 700, 120, 190, -22);      /* "Who's calling?" */
	run_params(&s, &p, 160, &l);                   /* off: cut short */
	expect_decision(&l, AMD_MACHINE, AMD_REASON_SENTENCES);
	expect_time(&l, 300 + 2400, 100);
	assert_int_equal(amd_param_set(&p, "sentence_phrase", "800"), 0);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	sig_free(&s);

	sig_init(&s, 7000, 51);
	sig_noise(&s, 0, 7000, -65);
	sig_voiced(&s, 300, 1300, 200, 130, -22);
	sig_voiced(&s, 2050, 700, 190, 120, -22);      /* "Leave a message." */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_SENTENCES);
	expect_time(&l, 2750 + 200, 100);
	sig_free(&s);
}

/* Two falling sentences with a pause: a recording reading on (SENTENCES); a
 * falling phrase after a long pause: a greeting of phrases (RESUMED); the same
 * after a question: a person asking again (HUMAN). */
static void test_greeting_structure(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 7000, 23);
	sig_noise(&s, 0, 7000, -65);
	sig_voiced(&s, 300, 1200, 200, 130, -22);
	sig_voiced(&s, 1900, 1500, 190, 120, -22);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_SENTENCES);
	expect_time(&l, 300 + 2400, 100);
	sig_free(&s);

	sig_init(&s, 7000, 24);
	sig_noise(&s, 0, 7000, -65);
	sig_voiced(&s, 300, 400, 190, 130, -22);       /* "Hi, Omar." */
	sig_voiced(&s, 2000, 900, 190, 120, -22);      /* 1.2 s later: "Leave a message." */
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_RESUMED);
	expect_time(&l, 2900 + 200, 100);
	sig_free(&s);

	sig_init(&s, 7000, 25);
	sig_noise(&s, 0, 7000, -65);
	sig_voiced(&s, 300, 600, 130, 120, -22);
	sig_voiced(&s, 2000, 800, 120, 180, -22);      /* then "hello?" again */
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_HUMAN, AMD_REASON_HUMAN);
	sig_free(&s);
}

/* Message end: a greeting without a beep ends message_silence after its last
 * speech (reported at the speech's end + 300 ms); with a beep, at the beep's end. */
static void test_message_end(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	p.message_end = true;
	sig_init(&s, 12000, 26);
	sig_noise(&s, 0, 12000, -60);
	sig_speech(&s, 300, 5500, -20);
	sig_speech(&s, 6300, 1200, -20);               /* the greeting goes on after 0.5 s */
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_LONGGREETING);
	assert_int_equal(l.ev[l.n - 1].type, AMD_EV_MESSAGE_END);
	assert_int_equal(l.ev[l.n - 1].message_how, AMD_MSG_SILENCE);
	assert_true(l.ev[l.n - 1].message_end_ms >= 7500 - 60 &&
		    l.ev[l.n - 1].message_end_ms <= 7500 + 500);
	assert_true(l.ev[l.n - 1].now_ms >= 7500 + 2500 - 100);
	sig_free(&s);

	sig_init(&s, 9000, 27);
	sig_noise(&s, 0, 9000, -60);
	sig_speech(&s, 300, 5500, -20);
	sig_tone(&s, 850, 6300, 400, -18, 0);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_LONGGREETING);
	assert_int_equal(l.ev[l.n - 1].type, AMD_EV_MESSAGE_END);
	assert_int_equal(l.ev[l.n - 1].message_how, AMD_MSG_BEEP);
	assert_true(fabs((double)l.ev[l.n - 1].message_end_ms - 6700) <= 15);
	sig_free(&s);

	/* Off by default: no such event. */
	sig_init(&s, 9000, 27);
	sig_speech(&s, 300, 5500, -20);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	for (int i = 0; i < l.n; i++)
		assert_int_not_equal(l.ev[i].type, AMD_EV_MESSAGE_END);
	sig_free(&s);
}

/* A short greeting whose beep comes before silence could make it HUMAN. */
static void test_short_greeting_beep_decides(void **state)
{
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 4000, 15);
	sig_speech(&s, 300, 1200, -20);
	sig_tone(&s, 600, 1800, 400, -20, 0);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_BEEP);
	assert_int_equal(l.ev[1].type, AMD_EV_BEEP);
	assert_true(fabs((double)l.ev[1].beep_end_ms - 2200) <= 15);
	sig_free(&s);
}

static void test_fax_and_sit(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 5000, 16);                        /* answering fax */
	sig_tone(&s, 2100, 1500, 3000, -15, 450);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_FAX);
	assert_true(l.ev[0].decision_ms <= 2000);
	assert_int_equal(l.n, 1);                      /* no beep search after a fax */

	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);    /* tones off: no FAX */
	assert_int_equal(amd_param_set(&p, "tones", "0"), 0);
	assert_int_equal(amd_param_set(&p, "beep", "0"), 0);
	run_params(&s, &p, 160, &l);
	assert_int_not_equal(l.ev[0].reason, AMD_REASON_FAX);
	sig_free(&s);

	sig_init(&s, 5000, 17);                        /* calling fax */
	sig_tone(&s, 1100, 600, 500, -15, 0);
	sig_tone(&s, 1100, 4100, 500, -15, 0);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_FAX);
	sig_free(&s);

	sig_init(&s, 5000, 18);                        /* network announcement */
	sig_tone(&s, 985.2, 300, 380, -20, 0);
	sig_tone(&s, 1428.5, 680, 380, -20, 0);
	sig_tone(&s, 1776.7, 1060, 380, -20, 0);
	sig_speech(&s, 1600, 3000, -20);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_SIT);
	assert_true(l.ev[0].decision_ms <= 1440);
	sig_free(&s);
}

static void test_beep_wait_and_hangup(void **state)
{
	struct amd_params p;
	struct sig s;
	struct log l;

	(void)state;
	sig_init(&s, 12000, 19);
	sig_speech(&s, 300, 11000, -20);
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_int_equal(amd_param_set(&p, "beep_wait", "8000"), 0);
	run_params(&s, &p, 160, &l);
	expect_decision(&l, AMD_MACHINE, AMD_REASON_LONGGREETING);
	assert_int_equal(l.ev[1].type, AMD_EV_BEEP_NONE);
	assert_int_equal(l.ev[1].now_ms, 8000);
	sig_free(&s);

	sig_init(&s, 1200, 20);                        /* hung up while saying hello */
	sig_speech(&s, 500, 600, -20);
	run(&s, AMD_STRATEGY_ADAPTIVE, &l);
	expect_decision(&l, AMD_NOTSURE, AMD_REASON_HANGUP);
	assert_int_equal(l.ev[0].decision_ms, 1200);
	sig_free(&s);
}

static void test_block_sizes_agree(void **state)
{
	static const size_t blocks[] = {1, 80, 160, 1000};
	struct amd_params p;
	struct log ref, l;
	struct sig s;

	(void)state;
	sig_init(&s, 8000, 21);
	sig_noise(&s, 0, 8000, -50);
	sig_speech(&s, 400, 3500, -22);
	sig_tone(&s, 1400, 4500, 300, -20, 0);
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	run_params(&s, &p, blocks[0], &ref);
	assert_int_equal(ref.n, 2);
	for (size_t b = 1; b < 4; b++) {
		run_params(&s, &p, blocks[b], &l);
		assert_int_equal(l.n, ref.n);
		assert_memory_equal(l.ev, ref.ev, sizeof(ref.ev[0]) * (size_t)ref.n);
	}
	sig_free(&s);
}

static void test_reset_and_trace(void **state)
{
	struct amd_params p;
	struct log l = {0};
	struct amd *amd;
	struct sig s;
	int16_t *pcm;

	(void)state;
	sig_init(&s, 4000, 22);
	sig_speech(&s, 500, 500, -20);
	pcm = sig_pcm(&s);
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_int_equal(amd_create(&amd, &p, on_event, &l), 0);
	amd_process(amd, pcm, s.n);
	assert_true(amd_done(amd));
	assert_int_equal(l.n, 1);
	amd_reset(amd);
	assert_false(amd_done(amd));
	amd_process(amd, pcm, s.n);
	assert_int_equal(l.n, 2);
	assert_memory_equal(&l.ev[0], &l.ev[1], sizeof(l.ev[0]));
	amd_destroy(amd);
	free(pcm);
	sig_free(&s);
}

static void count_frames(const struct amd_event *ev, void *arg)
{
	if (ev->type == AMD_EV_FRAME)
		(*(int *)arg)++;
}

static void test_trace_frames(void **state)
{
	struct amd_params p;
	struct amd *amd;
	int16_t pcm[1600] = {0};
	int frames = 0;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_int_equal(amd_param_set(&p, "trace", "1"), 0);
	assert_int_equal(amd_create(&amd, &p, count_frames, &frames), 0);
	amd_process(amd, pcm, 1600);
	assert_int_equal(frames, 10);
	amd_destroy(amd);
}

/*
 * The phrase layer's parameters are bounded (a path of AMD_PATH_MAX - 1 bytes at
 * most, no control characters; a threshold of 1e-1..1e-60), a missing model is a
 * clear error, and the installed en-us model loads, listens to a call made of
 * noise bursts without "hearing" a phrase, and starts over with the detector.
 */
static void test_phrases(void **state)
{
	struct amd_params p;
	char long_path[AMD_PATH_MAX + 10], buf[2048];
	struct amd *amd;
	struct sig s;
	struct log l;
	int16_t *pcm;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	assert_false(p.phrases);
	assert_true(fabsf(p.phrase_threshold - 20.0f) < 1e-6f);
	assert_string_equal(p.phrase_model, "/usr/share/pocketsphinx/model/en-us");
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(amd_param_set(&p, "phrase_model", long_path), EINVAL);
	long_path[AMD_PATH_MAX - 1] = '\0';
	assert_int_equal(amd_param_set(&p, "phrase_model", long_path), 0);
	assert_int_equal(strlen(p.phrase_model), AMD_PATH_MAX - 1);
	assert_int_equal(amd_param_set(&p, "phrase_model", ""), EINVAL);
	assert_int_equal(amd_param_set(&p, "phrase_model", "/tmp/a\nb"), EINVAL);
	assert_int_equal(amd_param_set(&p, "phrase_threshold", "0"), EINVAL);
	assert_int_equal(amd_param_set(&p, "phrase_threshold", "61"), EINVAL);
	assert_int_equal(amd_param_set(&p, "phrase_threshold", "25"), 0);
	assert_int_equal(amd_param_set(&p, "phrases", "1"), 0);
	assert_int_equal(amd_param_set(&p, "phrase_model", "/nonexistent/model"), 0);
	assert_non_null(strstr(amd_params_str(&p, buf, sizeof(buf)),
			       "phrase_model=/nonexistent/model"));
	assert_int_equal(amd_create(&amd, &p, on_event, &l), ENOENT);
	assert_null(amd);

	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	p.phrases = true;
	sig_init(&s, 6000, 40);
	sig_noise(&s, 0, 6000, -60);
	sig_speech(&s, 400, 600, -20);
	sig_speech(&s, 1300, 900, -20);
	pcm = sig_pcm(&s);
	assert_non_null(pcm);
	memset(&l, 0, sizeof(l));
	assert_int_equal(amd_create(&amd, &p, on_event, &l), 0);
	for (int round = 0; round < 2; round++) {
		memset(&l, 0, sizeof(l));
		for (size_t i = 0; i < s.n && !amd_done(amd); i += 160)
			assert_int_equal(amd_process(amd, pcm + i, 160), 0);
		amd_finish(amd);
		assert_true(l.n >= 1);
		assert_int_equal(l.ev[0].type, AMD_EV_DECISION);
		assert_int_not_equal(l.ev[0].reason, AMD_REASON_PHRASE);
		assert_null(l.ev[0].phrase);
		amd_reset(amd);
	}
	amd_destroy(amd);
	free(pcm);
	sig_free(&s);
}

static void test_params(void **state)
{
	struct amd_params p, q;
	char buf[1024];
	struct amd *amd;

	(void)state;
	amd_params_init(&p, AMD_STRATEGY_CLASSIC);
	assert_int_equal(p.initial_silence, 2500);
	assert_int_equal(p.greeting, 1500);
	assert_int_equal(p.after_greeting_silence, 800);
	assert_int_equal(p.total_analysis_time, 5000);
	assert_int_equal(p.min_word_length, 100);
	assert_int_equal(p.between_words_silence, 50);
	assert_int_equal(p.maximum_number_of_words, 2);
	assert_int_equal(p.silence_threshold, 256);
	assert_int_equal(p.maximum_word_length, 5000);
	assert_false(p.tones);
	assert_false(p.beep);

	assert_int_equal(amd_param_set(&p, "strategy", "adaptive"), 0);
	amd_params_init(&q, AMD_STRATEGY_ADAPTIVE);
	assert_memory_equal(&p, &q, sizeof(p));
	assert_int_equal(amd_param_set(&p, "after_greeting_silence", "900"), 0);
	assert_int_equal(p.after_greeting_silence, 900);
	assert_int_equal(amd_param_set(&p, "speech_margin_db", "6.5"), 0);
	assert_true(fabsf(p.speech_margin_db - 6.5f) < 1e-6f);
	assert_int_equal(amd_param_set(&p, "nonsense", "1"), EINVAL);
	assert_int_equal(amd_param_set(&p, "greeting", "abc"), EINVAL);
	assert_int_equal(amd_param_set(&p, "greeting", "-5"), EINVAL);
	assert_int_equal(amd_param_set(&p, "greeting", "1.5"), EINVAL);
	assert_int_equal(amd_param_set(&p, "silence_threshold", "40000"), EINVAL);
	assert_int_equal(amd_param_set(&p, "strategy", "magic"), EINVAL);
	assert_int_equal(amd_param_set(&p, "greeting", ""), EINVAL);
	assert_non_null(strstr(amd_params_str(&p, buf, sizeof(buf)), "after_greeting_silence=900"));
	assert_non_null(strstr(buf, "strategy=adaptive"));

	assert_int_equal(amd_create(&amd, &p, NULL, NULL), EINVAL);
	p.total_analysis_time = 0;
	assert_int_equal(amd_create(&amd, &p, on_event, NULL), EINVAL);
	assert_null(amd);
	assert_int_equal(amd_process(NULL, NULL, 0), EINVAL);
	assert_string_equal(amd_class_name(AMD_NOTSURE), "NOTSURE");
	assert_string_equal(amd_reason_name(AMD_REASON_LONGGREETING), "LONGGREETING");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_initial_silence),
		cmocka_unit_test(test_classic_human),
		cmocka_unit_test(test_classic_long_greeting),
		cmocka_unit_test(test_classic_max_words),
		cmocka_unit_test(test_classic_limits),
		cmocka_unit_test(test_adaptive_human_and_machine),
		cmocka_unit_test(test_adaptive_quiet_line),
		cmocka_unit_test(test_adaptive_noisy_lines),
		cmocka_unit_test(test_adaptive_deadline),
		cmocka_unit_test(test_adaptive_provisional),
		cmocka_unit_test(test_greeting_then_beep),
		cmocka_unit_test(test_short_greeting_beep_decides),
		cmocka_unit_test(test_intonation),
		cmocka_unit_test(test_greeting_structure),
		cmocka_unit_test(test_statement_tradeoff),
		cmocka_unit_test(test_sentence_phrase),
		cmocka_unit_test(test_message_end),
		cmocka_unit_test(test_fax_and_sit),
		cmocka_unit_test(test_beep_wait_and_hangup),
		cmocka_unit_test(test_block_sizes_agree),
		cmocka_unit_test(test_reset_and_trace),
		cmocka_unit_test(test_trace_frames),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_phrases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
