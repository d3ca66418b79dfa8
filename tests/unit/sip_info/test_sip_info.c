/*
 * test_sip_info.c — the DTMF INFO body parser: the forms peers send (CRLF or LF,
 * spaces, case, other keys, Signal 10/11), defaults and limits of Duration, and every
 * refusal (another content type, no Signal, two Signals, a bad digit or duration, a
 * line without '=', an oversized body).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sipua.h"

static int parse(const char *ct, const char *body, char *d, unsigned *ms)
{
	return sipua_dtmf_parse(ct, body, body ? strlen(body) : 0, d, ms);
}

static void test_relay_forms(void **state)
{
	char d;
	unsigned ms;

	(void)state;
	assert_int_equal(parse("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", &d, &ms), 0);
	assert_int_equal(d, '5');
	assert_int_equal(ms, 160);
	assert_int_equal(parse("Application/DTMF-Relay", "signal = #\nduration= 250", &d, &ms), 0);
	assert_int_equal(d, '#');
	assert_int_equal(ms, 250);
	assert_int_equal(parse("application/dtmf-relay", "Signal=*\r\n", &d, &ms), 0);
	assert_int_equal(d, '*');
	assert_int_equal(ms, 100);   /* no Duration */
	assert_int_equal(parse("application/dtmf-relay", "Signal=10\r\nDuration=0\r\n", &d, &ms), 0);
	assert_int_equal(d, '*');
	assert_int_equal(ms, 100);
	assert_int_equal(parse("application/dtmf-relay", "Signal=11\r\n", &d, &ms), 0);
	assert_int_equal(d, '#');
	assert_int_equal(parse("application/dtmf-relay", "\r\nSignal=d\r\nVolume=10\r\n\r\n", &d,
			       &ms), 0);
	assert_int_equal(d, 'D');
	assert_int_equal(parse("application/dtmf-relay", "Signal=1\r\nDuration=99999\r\n", &d,
			       &ms), 0);
	assert_int_equal(ms, 10000);   /* capped */
}

static void test_dtmf_form(void **state)
{
	char d;
	unsigned ms;

	(void)state;
	assert_int_equal(parse("application/dtmf", "7", &d, &ms), 0);
	assert_int_equal(d, '7');
	assert_int_equal(ms, 100);
	assert_int_equal(parse("application/dtmf", " A\r\n", &d, &ms), 0);
	assert_int_equal(d, 'A');
	assert_int_equal(parse("application/dtmf", "11", &d, &ms), 0);
	assert_int_equal(d, '#');
}

static void test_refusals(void **state)
{
	char d, big[1100];
	unsigned ms;

	(void)state;
	assert_int_equal(parse("application/sdp", "v=0", &d, &ms), ENOTSUP);
	assert_int_equal(parse("text/plain", "Signal=1", &d, &ms), ENOTSUP);
	assert_int_equal(parse("application/dtmf-relay", "", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Duration=100\r\n", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal=1\r\nSignal=2\r\n", &d, &ms),
			 EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal=E\r\n", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal=12\r\n", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal=\r\n", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal=1\r\nDuration=-5\r\n", &d, &ms),
			 EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal=1\r\nDuration=1e3\r\n", &d,
			       &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "Signal 1\r\n", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf-relay", "=1\r\n", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf", "", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf", "12", &d, &ms), EBADMSG);
	assert_int_equal(parse("application/dtmf", "Signal=1", &d, &ms), EBADMSG);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "Signal=1\r\n", 10);
	assert_int_equal(parse("application/dtmf-relay", big, &d, &ms), EBADMSG);
	assert_int_equal(sipua_dtmf_parse(NULL, "1", 1, &d, &ms), EINVAL);
	assert_int_equal(sipua_dtmf_parse("application/dtmf", NULL, 3, &d, &ms), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_forms),
		cmocka_unit_test(test_dtmf_form),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("sip_info", tests, NULL, NULL);
}
