/*
 * test_sdp_crypto.c — SDES key attributes (RFC 4568): the lenient parser (suites in
 * any case, "2^N" and decimal lifetimes, several keys, session parameters), the lines
 * it refuses so another can be taken (an MKI, another suite or key method,
 * unencrypted SRTP), malformed ones, and the writer round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sdp.h"

#define KEY "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

static void usable(void **state)
{
	struct sdp_crypto c;
	const char *why = NULL;
	char out[128];

	(void)state;
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "|2^31", &c,
					  &why), 0);
	assert_int_equal(c.tag, 1);
	assert_int_equal(c.suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80);
	assert_true(c.lifetime == 1ull << 31);
	assert_int_equal(c.key[0], 0x3d);
	assert_true(sdp_crypto_write(&c, out, sizeof(out)) > 0);
	assert_string_equal(out, "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY);
	assert_int_equal(sdp_crypto_parse("  7\taes_cm_128_hmac_sha1_32  inline:" KEY "|1048576;"
					  "inline:" KEY " KDR=1 FEC_ORDER=FEC_SRTP WSH=64", &c,
					  &why), 0);
	assert_int_equal(c.tag, 7);
	assert_int_equal(c.suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(c.lifetime, 1048576);
	assert_int_equal(sdp_crypto_write(&c, out, 10), -1);
}

static void skipped_for_another(void **state)
{
	struct sdp_crypto c;
	const char *why = NULL;

	(void)state;
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "|2^20|1:32",
					  &c, &why), ENOTSUP);
	assert_string_equal(why, "MKI not supported");
	assert_int_equal(sdp_crypto_parse("2 F8_128_HMAC_SHA1_80 inline:" KEY, &c, &why), ENOTSUP);
	assert_int_equal(sdp_crypto_parse("3 AES_256_CM_HMAC_SHA1_80 inline:" KEY, &c, &why),
			 ENOTSUP);
	assert_int_equal(sdp_crypto_parse("4 AES_CM_128_HMAC_SHA1_80 uri:http://k", &c, &why),
			 ENOTSUP);
	assert_int_equal(sdp_crypto_parse("5 AES_CM_128_HMAC_SHA1_80 inline:" KEY
					  " UNENCRYPTED_SRTP", &c, &why), ENOTSUP);
	assert_int_equal(sdp_crypto_parse("6 AES_CM_128_HMAC_SHA1_80 inline:" KEY
					  " UNAUTHENTICATED_SRTP", &c, &why), ENOTSUP);
}

static void malformed(void **state)
{
	static const char *const bad[] = {
		"", "x AES_CM_128_HMAC_SHA1_80 inline:" KEY, "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" KEY,
		"1", "1 AES_CM_128_HMAC_SHA1_80", "1 AES_CM_128_HMAC_SHA1_80 inline:abc",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "AAAA",
		"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB*",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "|2^64",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "|forever",
	};
	struct sdp_crypto c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(sdp_crypto_parse(bad[i], &c, &why), EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(sdp_crypto_parse(NULL, &c, NULL), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usable),
		cmocka_unit_test(skipped_for_another),
		cmocka_unit_test(malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
