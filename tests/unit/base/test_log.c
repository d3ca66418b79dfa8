/* test_log.c — the JSON line logger: escaping, filtering, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "test_base.h"

/* Captures what the logger writes through a pipe. */
static char *capture(void (*emit)(void))
{
	static char out[48 * 1024];   /* what a pipe holds without a reader */
	size_t got = 0;
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	log_set_fd(fds[1]);
	emit();
	close(fds[1]);
	while (got < sizeof(out) - 1 && (n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	log_set_fd(2);
	out[got] = '\0';
	return out;
}

static void emit_fields(void)
{
	struct log_rec r;

	log_set_level(LOG_INFO);
	if (log_begin(&r, LOG_INFO, "call.end")) {
		log_str(&r, "call_id", "a\"b\\c\n\x01");
		log_int(&r, "code", -486);
		log_uint(&r, "pkts", 18446744073709551615ULL);
		log_bool(&r, "ok", true);
		log_str(&r, "none", NULL);
		log_end(&r);
	}
}

static void test_fields_escaped(void **state)
{
	const char *out = capture(emit_fields);

	(void)state;
	assert_non_null(strstr(out, "\"level\":\"info\",\"event\":\"call.end\""));
	assert_non_null(strstr(out, "\"call_id\":\"a\\\"b\\\\c\\n\\u0001\""));
	assert_non_null(strstr(out, "\"code\":-486"));
	assert_non_null(strstr(out, "\"pkts\":18446744073709551615"));
	assert_non_null(strstr(out, "\"ok\":true"));
	assert_non_null(strstr(out, "\"none\":null}\n"));
	assert_int_equal(out[0], '{');
}

/* A thread working for a request: its lines carry the id once, then no more. */
static void emit_request(void)
{
	struct log_rec r;

	log_set_level(LOG_INFO);
	log_set_request_id("req_0123456789abcdef");
	if (log_begin(&r, LOG_INFO, "call.hangup")) {
		log_str(&r, "request_id", "req_0123456789abcdef");   /* explicit: skipped */
		log_str(&r, "call_id", "c1");
		log_end(&r);
	}
	log_set_request_id(NULL);
	log_msg(LOG_INFO, "after", "x");
}

static void test_request_id(void **state)
{
	const char *out = capture(emit_request);

	(void)state;
	assert_non_null(strstr(out, "\"event\":\"call.hangup\",\"request_id\":"
			       "\"req_0123456789abcdef\",\"call_id\":\"c1\"}\n"));
	assert_null(strstr(strstr(out, "request_id") + 1, "request_id"));
	assert_null(log_request_id());
}

static void emit_filtered(void)
{
	log_set_level(LOG_WARN);
	log_msg(LOG_INFO, "hidden", "x");
	log_msg(LOG_ERROR, "shown", "n=%d", 7);
	log_set_level(LOG_INFO);
}

static void test_level_filter(void **state)
{
	const char *out = capture(emit_filtered);

	(void)state;
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "\"event\":\"shown\",\"msg\":\"n=7\""));
}

static void emit_huge(void)
{
	static char big[LOG_REC_MAX * 2];

	memset(big, '"', sizeof(big) - 1);
	log_msg(LOG_ERROR, "huge", "%s", big);
}

static void test_truncation_stays_valid(void **state)
{
	const char *out = capture(emit_huge);
	size_t n = strlen(out);

	(void)state;
	assert_true(n <= LOG_REC_MAX);
	assert_non_null(strstr(out, "\"truncated\":true}\n"));
	/* No dangling escape before the closing quote of the cut string. */
	assert_null(strstr(out, "\\\",\"truncated\""));
}

static void test_level_parse(void **state)
{
	enum log_level l;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_not_equal(log_level_parse("loud", &l), 0);
}

static void test_utf8_kept_invalid_escaped(void **state)
{
	char out[64];

	(void)state;
	log_json_escape(out, sizeof(out), "\xc3\xa9\xff", 3);
	assert_string_equal(out, "\xc3\xa9\\u00ff");
	/* Overlong forms and surrogates are not UTF-8: escaped byte by byte. */
	log_json_escape(out, sizeof(out), "\xe0\x8c\x96", 3);
	assert_string_equal(out, "\\u00e0\\u008c\\u0096");
	log_json_escape(out, sizeof(out), "\xed\xa0\x80", 3);
	assert_string_equal(out, "\\u00ed\\u00a0\\u0080");
	log_json_escape(out, sizeof(out), "\xf4\x90\x80\x80", 4);
	assert_string_equal(out, "\\u00f4\\u0090\\u0080\\u0080");
	/* The largest code points of each length are kept. */
	log_json_escape(out, sizeof(out), "\xef\xbf\xbd\xf4\x8f\xbf\xbf", 7);
	assert_string_equal(out, "\xef\xbf\xbd\xf4\x8f\xbf\xbf");
}

static int count_lines(const char *out, const char *needle)
{
	int n = 0;

	for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* A storm of one record: written once, the rest counted and written as one record. */
static void emit_storm(void)
{
	uint64_t before = log_suppressed();

	log_set_repeat_interval(60000);
	for (int i = 0; i < 1000; i++)
		log_msg(LOG_WARN, "sip.stack", "tport: Too many open files");
	log_msg(LOG_WARN, "other", "x");
	log_msg(LOG_WARN, "sip.stack", "tport: Too many open files (2)");
	assert_int_equal(log_suppressed() - before, 999);
	log_flush_repeats(false);   /* nothing is due yet */
	log_flush_repeats(true);
	log_set_repeat_interval(0);
}

static void test_repeats_counted_once(void **state)
{
	const char *out = capture(emit_storm);

	(void)state;
	assert_int_equal(count_lines(out, "\"msg\":\"tport: Too many open files\""), 2);
	assert_int_equal(count_lines(out, "\"repeated\":999,\"repeat_s\":60}\n"), 1);
	assert_int_equal(count_lines(out, "\"event\":\"other\""), 1);
	assert_int_equal(count_lines(out, "open files (2)"), 1);
	assert_int_equal(count_lines(out, "\n"), 4);
}

/* After the interval the count is written by the next record, which starts anew. */
static void emit_intervals(void)
{
	struct timespec ts = {0, 60 * 1000000};

	log_set_repeat_interval(50);
	log_msg(LOG_ERROR, "e", "same");
	log_msg(LOG_ERROR, "e", "same");
	log_msg(LOG_ERROR, "e", "same");
	nanosleep(&ts, NULL);
	log_msg(LOG_ERROR, "e", "same");   /* writes "repeated":2, then is counted */
	nanosleep(&ts, NULL);
	log_flush_repeats(false);          /* "repeated":1 */
	nanosleep(&ts, NULL);
	log_msg(LOG_ERROR, "e", "same");   /* quiet interval passed: written */
	log_set_repeat_interval(0);
}

static void test_repeats_per_interval(void **state)
{
	const char *out = capture(emit_intervals);

	(void)state;
	assert_int_equal(count_lines(out, "\"repeated\":2,"), 1);
	assert_int_equal(count_lines(out, "\"repeated\":1,"), 1);
	assert_int_equal(count_lines(out, "\"msg\":\"same\"}\n"), 2);
	assert_int_equal(count_lines(out, "\n"), 4);
}

/* With many distinct records the oldest slot is reused and its count written first. */
static void emit_many(void)
{
	log_set_repeat_interval(60000);
	log_msg(LOG_WARN, "first", "x");
	log_msg(LOG_WARN, "first", "x");
	for (int i = 0; i < 200; i++)
		log_msg(LOG_WARN, "distinct", "%d", i);
	log_set_repeat_interval(0);
}

static void test_repeats_evicted(void **state)
{
	const char *out = capture(emit_many);

	(void)state;
	assert_int_equal(count_lines(out, "\"event\":\"first\""), 2);
	assert_int_equal(count_lines(out, "\"event\":\"first\",\"msg\":\"x\",\"repeated\":1"), 1);
	assert_int_equal(count_lines(out, "\"event\":\"distinct\""), 200);
}

int test_log_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_escaped),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_truncation_stays_valid),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_utf8_kept_invalid_escaped),
		cmocka_unit_test(test_repeats_counted_once),
		cmocka_unit_test(test_repeats_per_interval),
		cmocka_unit_test(test_repeats_evicted),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
