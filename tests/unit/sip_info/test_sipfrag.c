/*
 * test_sipfrag.c — the message/sipfrag status line of a REFER's NOTIFY: the forms
 * transferees send (with and without reason, headers after, LF only, version
 * parameter, case of the type) and every refusal (another type, a request line, a
 * short or long code, codes out of 100-699, trailing junk on the code, empty and
 * oversized bodies).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipua.h"

static int frag(const char *ct, const char *body, int *st)
{
	return sipua_sipfrag_status(ct, body, body ? strlen(body) : 0, st);
}

static void test_good(void **state)
{
	int st;

	(void)state;
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 100 Trying\r\n", &st), 0);
	assert_int_equal(st, 100);
	assert_int_equal(frag("message/sipfrag;version=2.0", "SIP/2.0 200 OK", &st), 0);
	assert_int_equal(st, 200);
	assert_int_equal(frag("Message/SipFrag ;version=2.0", "SIP/2.0 603 Declined\r\n"
			      "Warning: 399 x \"no\"\r\n\r\n", &st), 0);
	assert_int_equal(st, 603);
	assert_int_equal(frag("message/sipfrag", "sip/2.0 180\n", &st), 0);
	assert_int_equal(st, 180);
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 486", &st), 0);
	assert_int_equal(st, 486);
}

static void test_bad(void **state)
{
	int st = 7;
	char *big;

	(void)state;
	assert_int_equal(frag("text/plain", "SIP/2.0 200 OK\r\n", &st), ENOTSUP);
	assert_int_equal(frag("message/sipfragx", "SIP/2.0 200 OK\r\n", &st), ENOTSUP);
	assert_int_equal(frag("application/sdp", "SIP/2.0 200 OK\r\n", &st), ENOTSUP);
	assert_int_equal(frag("message/sipfrag", "INVITE sip:a@b SIP/2.0\r\n", &st), EBADMSG);
	assert_int_equal(st, 0);
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 20 OK\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 2000 OK\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 099 x\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 700 x\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", "SIP/2.0 2x0 OK\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", " SIP/2.0 200 OK\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", "SIP/3.0 200 OK\r\n", &st), EBADMSG);
	assert_int_equal(frag("message/sipfrag", "", &st), EBADMSG);
	assert_int_equal(sipua_sipfrag_status("message/sipfrag", "SIP/2.0 200", 5, &st),
			 EBADMSG);   /* the length given, not the NUL, bounds the read */
	big = malloc(10000);
	assert_non_null(big);
	memset(big, ' ', 9999);
	memcpy(big, "SIP/2.0 200 OK\r\n", 16);
	big[9999] = 0;
	assert_int_equal(frag("message/sipfrag", big, &st), EBADMSG);
	free(big);
	assert_int_equal(sipua_sipfrag_status(NULL, "SIP/2.0 200", 11, &st), EINVAL);
	assert_int_equal(sipua_sipfrag_status("message/sipfrag", NULL, 11, &st), EINVAL);
	assert_int_equal(sipua_sipfrag_status("message/sipfrag", "SIP/2.0 200", 11, NULL),
			 EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
