/* test_auth_digest.c — the Authorization parser (RFC 2617 vector, SIP clients' forms,
 * refusals), the MD5 response, and nonces: good once, stale when used or old, foreign
 * or altered ones refused, the replay window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_digest.h"

static void test_rfc2617(void **state)
{
	struct auth_creds c;
	char out[33];

	(void)state;
	assert_int_equal(auth_parse("Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
				    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
				    "uri=\"/dir/index.html\", qop=auth, nc=00000001, "
				    "cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", "
				    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"", &c), 0);
	assert_string_equal(c.username, "Mufasa");
	assert_string_equal(c.realm, "testrealm@host.com");
	assert_string_equal(c.uri, "/dir/index.html");
	assert_string_equal(c.qop, "auth");
	assert_string_equal(c.nc, "00000001");
	assert_string_equal(c.cnonce, "0a4f113b");
	auth_response(c.username, c.realm, "Circle Of Life", "GET", c.uri, c.nonce, c.nc,
		      c.cnonce, c.qop, out);
	assert_string_equal(out, c.response);
	/* Without qop (RFC 2069 form, what many SIP phones still send). */
	auth_response("alice", "trunx", "pw", "INVITE", "sip:1@h", "abc", "", "", "", out);
	assert_int_equal(strlen(out), 32);
}

static void test_parse_forms(void **state)
{
	struct auth_creds c;

	(void)state;
	/* Spaces around '=', tabs, escaped quote, algorithm in capitals. */
	assert_int_equal(auth_parse("  Digest\tusername = \"a\\\"b\" ,realm=\"r\",nonce=\"n\","
				    "uri=\"sip:x@y\",response=\"00\",algorithm=MD5", &c), 0);
	assert_string_equal(c.username, "a\"b");
	assert_string_equal(c.algorithm, "MD5");
	assert_string_equal(c.qop, "");
	/* Refusals: other scheme, repeated parameter, no value, garbage, too long. */
	assert_int_equal(auth_parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l", &c), EINVAL);
	assert_int_equal(auth_parse("Digest username=\"a\", username=\"b\"", &c), EINVAL);
	assert_int_equal(auth_parse("Digest username=", &c), EINVAL);
	assert_int_equal(auth_parse("Digest username=\"a", &c), EINVAL);
	assert_int_equal(auth_parse("Digest username=\"a\" realm=\"b\"", &c), EINVAL);
	assert_int_equal(auth_parse("Digestusername=\"a\"", &c), EINVAL);
	assert_int_equal(auth_parse(NULL, &c), EINVAL);
	{
		char big[400];

		memset(big, 'x', sizeof(big));
		memcpy(big, "Digest nonce=", 13);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(auth_parse(big, &c), EINVAL);
	}
	/* Empty parameter list: parsed, then refused by the check as malformed. */
	assert_int_equal(auth_parse("Digest ", &c), 0);
}

/* Credentials a client would send for nonce, password pw. */
static void creds(struct auth_creds *c, const char *nonce, const char *pw, const char *uri)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->username, sizeof(c->username), "bravo");
	snprintf(c->realm, sizeof(c->realm), "trunx");
	snprintf(c->nonce, sizeof(c->nonce), "%s", nonce);
	snprintf(c->uri, sizeof(c->uri), "%s", uri);
	snprintf(c->qop, sizeof(c->qop), "auth");
	snprintf(c->nc, sizeof(c->nc), "00000001");
	snprintf(c->cnonce, sizeof(c->cnonce), "c0ffee");
	auth_response(c->username, c->realm, pw, "INVITE", c->uri, c->nonce, c->nc, c->cnonce,
		      c->qop, c->response);
}

static void test_nonce_once(void **state)
{
	struct auth_nonces *n, *other;
	struct auth_creds c;
	char nonce[AUTH_NONCE_LEN + 1], nonce2[AUTH_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(auth_nonces_create(&n, 30000), 0);
	assert_int_equal(auth_nonces_create(&other, 30000), 0);
	auth_nonce_new(n, 1000, nonce);
	assert_int_equal(strlen(nonce), AUTH_NONCE_LEN);
	creds(&c, nonce, "secret", "sip:1555@127.0.0.1");
	/* Another process's secret: not ours. */
	assert_int_equal(auth_check(other, 1500, &c, "INVITE", "secret"), AUTH_BAD_NONCE);
	assert_int_equal(auth_check(n, 1500, &c, "INVITE", "secret"), AUTH_OK);
	/* Replay of the very same credentials. */
	assert_int_equal(auth_check(n, 1600, &c, "INVITE", "secret"), AUTH_STALE);
	/* Wrong password uses the nonce up too. */
	auth_nonce_new(n, 2000, nonce2);
	assert_string_not_equal(nonce, nonce2);
	creds(&c, nonce2, "wrong", "sip:1555@127.0.0.1");
	assert_int_equal(auth_check(n, 2100, &c, "INVITE", "secret"), AUTH_MISMATCH);
	creds(&c, nonce2, "secret", "sip:1555@127.0.0.1");
	assert_int_equal(auth_check(n, 2200, &c, "INVITE", "secret"), AUTH_STALE);
	/* The method is covered. */
	auth_nonce_new(n, 3000, nonce);
	creds(&c, nonce, "secret", "sip:1555@127.0.0.1");
	assert_int_equal(auth_check(n, 3000, &c, "BYE", "secret"), AUTH_MISMATCH);
	/* Expiry: 30 s. */
	auth_nonce_new(n, 4000, nonce);
	creds(&c, nonce, "secret", "sip:1555@127.0.0.1");
	assert_int_equal(auth_check(n, 34001, &c, "INVITE", "secret"), AUTH_STALE);
	/* Issued "in the future" (clock or forgery): not ours. */
	auth_nonce_new(n, 50000, nonce);
	creds(&c, nonce, "secret", "sip:1555@127.0.0.1");
	assert_int_equal(auth_check(n, 40000, &c, "INVITE", "secret"), AUTH_BAD_NONCE);
	auth_nonces_destroy(n);
	auth_nonces_destroy(other);
}

static void test_nonce_altered(void **state)
{
	struct auth_nonces *n;
	struct auth_creds c;
	char nonce[AUTH_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(auth_nonces_create(&n, 30000), 0);
	auth_nonce_new(n, 1000, nonce);
	/* Each digit changed in turn: the MAC no longer matches. */
	for (int i = 0; i < AUTH_NONCE_LEN; i++) {
		char alt[AUTH_NONCE_LEN + 1];

		memcpy(alt, nonce, sizeof(alt));
		alt[i] = alt[i] == '0' ? '1' : '0';
		creds(&c, alt, "secret", "sip:1@h");
		assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_BAD_NONCE);
	}
	creds(&c, "00", "secret", "sip:1@h");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_BAD_NONCE);
	creds(&c, "ZZ0000000000000000000000000000000000000000000000", "secret", "sip:1@h");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_BAD_NONCE);
	/* Upper-case hex is not what we issue. */
	{
		char up[AUTH_NONCE_LEN + 1];

		for (int i = 0; i <= AUTH_NONCE_LEN; i++)
			up[i] = (char)(nonce[i] >= 'a' && nonce[i] <= 'f' ? nonce[i] - 32 : nonce[i]);
		creds(&c, up, "secret", "sip:1@h");
		if (strcmp(up, nonce) != 0)
			assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"),
					 AUTH_BAD_NONCE);
	}
	/* The original still works once. */
	creds(&c, nonce, "secret", "sip:1@h");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_OK);
	auth_nonces_destroy(n);
}

static void test_malformed(void **state)
{
	struct auth_nonces *n;
	struct auth_creds c;
	char nonce[AUTH_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(auth_nonces_create(&n, 30000), 0);
	assert_int_equal(auth_nonces_create(NULL, 30000), EINVAL);
	auth_nonce_new(n, 1000, nonce);
	creds(&c, nonce, "secret", "sip:1@h");
	snprintf(c.algorithm, sizeof(c.algorithm), "SHA-256");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_MALFORMED);
	creds(&c, nonce, "secret", "sip:1@h");
	snprintf(c.qop, sizeof(c.qop), "auth-int");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_MALFORMED);
	creds(&c, nonce, "secret", "sip:1@h");
	c.cnonce[0] = '\0';
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_MALFORMED);
	creds(&c, nonce, "secret", "sip:1@h");
	c.response[0] = '\0';
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_MALFORMED);
	/* Malformed answers do not use the nonce up. */
	creds(&c, nonce, "secret", "sip:1@h");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_OK);
	assert_string_equal(auth_result_name(AUTH_STALE), "stale");
	auth_nonces_destroy(n);
}

static void test_window(void **state)
{
	struct auth_nonces *n;
	struct auth_creds c;
	char first[AUTH_NONCE_LEN + 1], last[AUTH_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(auth_nonces_create(&n, 30000), 0);
	auth_nonce_new(n, 1000, first);
	for (unsigned i = 0; i < AUTH_WINDOW; i++)
		auth_nonce_new(n, 1000, last);
	/* The first fell out of the window: stale, though fresh by time. */
	creds(&c, first, "secret", "sip:1@h");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_STALE);
	creds(&c, last, "secret", "sip:1@h");
	assert_int_equal(auth_check(n, 1000, &c, "INVITE", "secret"), AUTH_OK);
	auth_nonces_destroy(n);
}

/* What SIPp and the integration test's client send: parsed and accepted. */
static void test_client_strings(void **state)
{
	struct auth_nonces *n;
	struct auth_creds c;
	char nonce[AUTH_NONCE_LEN + 1], resp[33], hdr[1024];

	(void)state;
	assert_int_equal(auth_nonces_create(&n, 30000), 0);
	auth_nonce_new(n, 1000, nonce);
	auth_response("bravo", "trunx", "bravo-secret", "INVITE", "sip:15550009999@127.0.0.1:5060",
		      nonce, "00000001", "6b8b4567", "auth", resp);
	snprintf(hdr, sizeof(hdr), "Digest username=\"bravo\",realm=\"trunx\",cnonce=\"6b8b4567\","
		 "nc=00000001,qop=auth,uri=\"sip:15550009999@127.0.0.1:5060\",nonce=\"%s\","
		 "response=\"%s\",algorithm=MD5", nonce, resp);
	assert_int_equal(auth_parse(hdr, &c), 0);
	assert_int_equal(auth_check(n, 1001, &c, "INVITE", "bravo-secret"), AUTH_OK);
	auth_nonces_destroy(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_nonce_once),
		cmocka_unit_test(test_nonce_altered),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_client_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
