/* test_events.c — webhook schedule and outcomes, Last-Event-ID and type filters, and
 * Standard Webhooks signatures (the specification's published test vector). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "events/events_sched.h"
#include "events/events_sign.h"

static void test_schedule_default(void **state)
{
	struct events_sched s;
	uint32_t ms = 0;
	const uint32_t want[] = {0, 60000, 300000, 1800000, 7200000};

	(void)state;
	assert_int_equal(events_sched_parse("0s,1m,5m,30m,2h", &s), 0);
	assert_int_equal(s.n, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(s.delay_ms[i], want[i]);
	/* After attempt k failed, the next waits delay[k]; after the fifth: dead. */
	assert_int_equal(events_sched_next(&s, 1, &ms), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(events_sched_next(&s, 4, &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(events_sched_next(&s, 5, &ms), ENOENT);
	assert_int_equal(events_sched_next(&s, 99, &ms), ENOENT);
}

static void test_schedule_units_and_errors(void **state)
{
	struct events_sched s;

	(void)state;
	assert_int_equal(events_sched_parse("250ms,2,1h", &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.delay_ms[0], 250);
	assert_int_equal(s.delay_ms[1], 2000);
	assert_int_equal(s.delay_ms[2], 3600000);
	assert_int_equal(events_sched_parse("168h", &s), 0);   /* a week: the longest */
	const char *bad[] = {"", ",", "1m,", ",1m", "1x", "1 m", "-1s", "169h", "1m,,2m",
			     "99999999999s", "0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s,0s",
			     "s", "ms"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(events_sched_parse(bad[i], &s), EINVAL);
	assert_int_equal(events_sched_parse(NULL, &s), EINVAL);
}

static void test_outcomes(void **state)
{
	(void)state;
	assert_int_equal(events_outcome_of(200), EVENTS_DELIVERED);
	assert_int_equal(events_outcome_of(204), EVENTS_DELIVERED);
	assert_int_equal(events_outcome_of(0), EVENTS_RETRY);     /* no answer */
	assert_int_equal(events_outcome_of(500), EVENTS_RETRY);
	assert_int_equal(events_outcome_of(503), EVENTS_RETRY);
	assert_int_equal(events_outcome_of(408), EVENTS_RETRY);
	assert_int_equal(events_outcome_of(429), EVENTS_RETRY);
	assert_int_equal(events_outcome_of(301), EVENTS_REFUSED);
	assert_int_equal(events_outcome_of(400), EVENTS_REFUSED);
	assert_int_equal(events_outcome_of(410), EVENTS_REFUSED);
}

static void test_last_event_id(void **state)
{
	uint64_t id = 0;

	(void)state;
	assert_int_equal(events_parse_last_id("0", &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(events_parse_last_id("9223372036854775807", &id), 0);
	assert_true(id == 9223372036854775807ull);
	const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "9223372036854775808",
			     "99999999999999999999", "1.5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(events_parse_last_id(bad[i], &id), EINVAL);
}

static void test_types(void **state)
{
	struct events_types t;

	(void)state;
	assert_int_equal(events_parse_types(NULL, &t), 0);
	assert_int_equal(t.n, 0);
	assert_true(events_types_match(&t, "anything"));
	assert_int_equal(events_parse_types("call.answered,trunk.*", &t), 0);
	assert_int_equal(t.n, 2);
	assert_true(events_types_match(&t, "call.answered"));
	assert_true(events_types_match(&t, "trunk.up"));
	assert_false(events_types_match(&t, "call.hungup"));
	assert_false(events_types_match(&t, "trunkx.up"));
	const char *bad[] = {"Call", "call.", ".call", "call..x", "*", "call.*x", "a,,b", "a,",
			     "call answered", "call.a*", "x*"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(events_parse_types(bad[i], &t), EINVAL);
}

/* The Standard Webhooks specification's example: this secret, id, timestamp and body
 * give this signature. */
static void test_sign_vector(void **state)
{
	const char *body = "{\"test\": 2432232314}";
	char sig[EVENTS_SIG_LEN];

	(void)state;
	assert_int_equal(events_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
				     strlen(body), sig, sizeof(sig)), 0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* One byte of the body, the id or the timestamp changes it. */
	assert_int_equal(events_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
				     strlen(body), sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_sign_header_rotation(void **state)
{
	const char *secrets[2] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL};
	char fresh[EVENTS_SECRET_LEN], hdr[2 * EVENTS_SIG_LEN + 4], one[EVENTS_SIG_LEN];
	char two[EVENTS_SIG_LEN];
	uint8_t key[64];
	size_t klen = 0;

	(void)state;
	assert_int_equal(events_secret_new(fresh, sizeof(fresh)), 0);
	assert_int_equal(strncmp(fresh, "whsec_", 6), 0);
	assert_int_equal(events_secret_key(fresh, key, sizeof(key), &klen), 0);
	assert_int_equal(klen, EVENTS_SECRET_BYTES);
	secrets[1] = fresh;
	assert_int_equal(events_sign_header(secrets, 2, "42", 1700000000, "{}", 2, hdr,
					    sizeof(hdr)), 0);
	assert_int_equal(events_sign(secrets[0], "42", 1700000000, "{}", 2, one, sizeof(one)),
			 0);
	assert_int_equal(events_sign(secrets[1], "42", 1700000000, "{}", 2, two, sizeof(two)),
			 0);
	{
		char want[sizeof(hdr)];

		snprintf(want, sizeof(want), "%s %s", one, two);
		assert_string_equal(hdr, want);
	}
	assert_int_equal(events_sign_header(secrets, 2, "42", 1, "{}", 2, hdr, 20), EINVAL);
}

static void test_bad_secrets(void **state)
{
	uint8_t key[64];
	size_t klen;
	char sig[EVENTS_SIG_LEN];
	const char *bad[] = {"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_abc",
			     "whsec_!!!!", "whsec_ab=c", "whsec_====",
			     ("whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
			      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(events_secret_key(bad[i], key, sizeof(key), &klen), EINVAL);
		/* The last one is only too long for a 64-byte key buffer. */
		if (i + 1 < sizeof(bad) / sizeof(bad[0]))
			assert_int_equal(events_sign(bad[i], "1", 1, "x", 1, sig, sizeof(sig)),
					 EINVAL);
	}
	assert_int_equal(events_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "1", 1, "x", 1,
				     sig, 10), EINVAL);
}

static bool pub(const char *text)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, text, a) == 1)
		return events_addr_public(a, 4);
	assert_int_equal(inet_pton(AF_INET6, text, a), 1);
	return events_addr_public(a, 16);
}

/* Webhook targets: public unicast only unless the operator allows the rest. */
static void test_addr_public(void **state)
{
	static const char *const refused[] = {
		"127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0",
		"0.1.2.3", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		"192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
		"203.0.113.9", "::", "::1", "fe80::1", "febf::1", "fec0::1", "fc00::1",
		"fd12:3456::1", "ff02::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
		"64:ff9b::a9fe:a9fe", "::ffff:169.254.169.254",
	};
	static const char *const allowed[] = {
		"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255",
		"100.128.0.1", "169.253.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1",
		"223.255.255.255", "11.0.0.1", "2606:4700::1111", "2001:4860::8888",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "fe00::1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (pub(refused[i]))
			fail_msg("%s taken as public", refused[i]);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!pub(allowed[i]))
			fail_msg("%s refused", allowed[i]);
	assert_false(events_addr_public(NULL, 4));
	assert_false(events_addr_public((const unsigned char *)"abcdefgh", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_default),
		cmocka_unit_test(test_schedule_units_and_errors),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_last_event_id),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_sign_vector),
		cmocka_unit_test(test_sign_header_rotation),
		cmocka_unit_test(test_bad_secrets),
		cmocka_unit_test(test_addr_public),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
