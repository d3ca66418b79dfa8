/*
 * test_policy.c — the B2BUA's pure decisions: failure mapping toward A, the header
 * allow-list with its identity rule, Max-Forwards and the new-call rate window.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"

static void test_failure_mapping(void **state)
{
	(void)state;
	/* The stack's own answers: B never answered. */
	assert_int_equal(b2b_map_failure(408, true, false), 408);
	assert_int_equal(b2b_map_failure(503, true, false), 408);  /* ICMP unreachable */
	assert_int_equal(b2b_map_failure(408, true, true), 480);   /* it rang, then silence */
	/* B's challenge is never relayed; B's overload is not ours. */
	assert_int_equal(b2b_map_failure(401, false, false), 403);
	assert_int_equal(b2b_map_failure(407, false, true), 403);
	assert_int_equal(b2b_map_failure(503, false, false), 500);
	/* Redirects are not followed. */
	assert_int_equal(b2b_map_failure(302, false, false), 480);
	/* The rest keep their code. */
	assert_int_equal(b2b_map_failure(486, false, true), 486);
	assert_int_equal(b2b_map_failure(404, false, false), 404);
	assert_int_equal(b2b_map_failure(480, false, true), 480);
	assert_int_equal(b2b_map_failure(500, false, false), 500);
	assert_int_equal(b2b_map_failure(603, false, false), 603);
	assert_int_equal(b2b_map_failure(408, false, false), 408);  /* B's own 408 */
	/* Nonsense codes do not leak. */
	assert_int_equal(b2b_map_failure(200, false, false), 500);
	assert_int_equal(b2b_map_failure(900, false, false), 500);
}

static void trunk_with(struct trunk_cfg *t, bool trusted, const char *const *names, size_t n)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "t");
	t->trusted = trusted;
	for (size_t i = 0; i < n; i++)
		snprintf(t->pass_headers[t->n_pass_headers++], ROUTE_NAME_MAX, "%s", names[i]);
}

static void test_header_allow_list(void **state)
{
	static const char *const names[] = {"P-Asserted-Identity", "privacy", "X-Account",
					    "Via", "Contact", "Call-ID"};
	struct trunk_cfg t;

	(void)state;
	trunk_with(&t, false, names, 6);
	/* Listed ordinary header: copied. */
	assert_true(b2b_header_allowed(&t, "X-Account"));
	assert_true(b2b_header_allowed(&t, "x-account"));
	/* Identity headers only from a trusted trunk. */
	assert_false(b2b_header_allowed(&t, "P-Asserted-Identity"));
	assert_false(b2b_header_allowed(&t, "Privacy"));
	/* Not listed: not copied. */
	assert_false(b2b_header_allowed(&t, "X-Other"));
	assert_false(b2b_header_allowed(&t, "Remote-Party-ID"));
	/* Headers of the dialog and transport are never copied, listed or not. */
	assert_false(b2b_header_allowed(&t, "Via"));
	assert_false(b2b_header_allowed(&t, "contact"));
	assert_false(b2b_header_allowed(&t, "Call-ID"));
	assert_false(b2b_header_allowed(&t, ""));
	assert_false(b2b_header_allowed(NULL, "X-Account"));

	trunk_with(&t, true, names, 6);
	assert_true(b2b_header_allowed(&t, "P-Asserted-Identity"));
	assert_true(b2b_header_allowed(&t, "PRIVACY"));
	assert_false(b2b_header_allowed(&t, "Via"));
}

static void test_max_forwards(void **state)
{
	(void)state;
	assert_int_equal(b2b_max_forwards(0, 70), -1);    /* 483 */
	assert_int_equal(b2b_max_forwards(1, 70), 0);
	assert_int_equal(b2b_max_forwards(70, 70), 69);
	assert_int_equal(b2b_max_forwards(200, 70), 70);  /* capped */
	assert_int_equal(b2b_max_forwards(-1, 70), 69);   /* absent: as if 70 */
	assert_int_equal(b2b_max_forwards(10, 0), 9);     /* no cap */
}

static void test_rate_window(void **state)
{
	struct b2b_rate r = {0};

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(b2b_rate_admit(&r, 5000 + (uint64_t)i, 3));
	assert_false(b2b_rate_admit(&r, 5500, 3));
	assert_false(b2b_rate_admit(&r, 5999, 3));
	/* A new second opens a new window. */
	assert_true(b2b_rate_admit(&r, 6000, 3));
	/* 0 = unlimited. */
	for (int i = 0; i < 1000; i++)
		assert_true(b2b_rate_admit(&r, 7000, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_mapping),
		cmocka_unit_test(test_header_allow_list),
		cmocka_unit_test(test_max_forwards),
		cmocka_unit_test(test_rate_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
