/* test_budget.c — the open-file budget: what max_calls and the SIP connection cap need,
 * the automatic cap, and the refusal with the numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget.h"

static struct conf conf_with(unsigned max_calls, unsigned tcp_max)
{
	struct conf cf;

	memset(&cf, 0, sizeof(cf));
	cf.sip.max_calls = max_calls;
	cf.sip.tcp = true;
	cf.sip.tcp_max_connections = tcp_max;
	return cf;
}

static void test_raises_soft_limit(void **state)
{
	struct conf cf = conf_with(1000, 0);
	struct budget b;
	char err[512] = "";

	(void)state;
	assert_int_equal(budget_plan(&cf, 2, 1024, 524288, &b, err, sizeof(err)), 0);
	assert_int_equal(b.media, 4000);
	assert_int_equal(b.tcp, BUDGET_TCP_AUTO);
	assert_int_equal(b.reserve, BUDGET_BASE + 2 * BUDGET_PER_WORKER);
	assert_int_equal(b.limit, b.reserve + 4000 + BUDGET_TCP_AUTO);
	assert_false(b.tcp_shrunk);
	/* A soft limit already high enough stays. */
	assert_int_equal(budget_plan(&cf, 2, 100000, UINT64_MAX, &b, err, sizeof(err)), 0);
	assert_int_equal(b.limit, 100000);
}

static void test_auto_cap_shrinks_to_fit(void **state)
{
	struct conf cf = conf_with(100, 0);
	struct budget b;
	char err[512] = "";

	(void)state;
	/* 1,024 descriptors, hard: 400 for media, the reserve, the rest for SIP. */
	assert_int_equal(budget_plan(&cf, 2, 1024, 1024, &b, err, sizeof(err)), 0);
	assert_true(b.tcp_shrunk);
	assert_int_equal(b.tcp, 1024 - 400 - b.reserve);
	assert_int_equal(b.needed, 1024);
	assert_int_equal(b.limit, 1024);
}

static void test_refuses_with_numbers(void **state)
{
	struct conf cf = conf_with(1000, 0);
	struct budget b;
	char err[512] = "";

	(void)state;
	assert_int_equal(budget_plan(&cf, 2, 1024, 1024, &b, err, sizeof(err)), EMFILE);
	assert_non_null(strstr(err, "max_calls 1000"));
	assert_non_null(strstr(err, "needs 4000"));
	assert_non_null(strstr(err, "hard limit is 1024"));
	/* An explicit cap that does not fit is refused too, not shrunk. */
	cf = conf_with(100, 1000);
	err[0] = '\0';
	assert_int_equal(budget_plan(&cf, 2, 1024, 1024, &b, err, sizeof(err)), EMFILE);
	assert_non_null(strstr(err, "tcp_max_connections 1000"));
}

static void test_api_connections_counted(void **state)
{
	struct conf cf = conf_with(1000, 0);
	struct budget b;
	char err[512] = "";

	(void)state;
	snprintf(cf.api.listen_addr, sizeof(cf.api.listen_addr), "127.0.0.1");
	snprintf(cf.api.service_listen, sizeof(cf.api.service_listen), "unix:/run/t.sock");
	cf.api.max_connections = 1024;
	assert_int_equal(budget_plan(&cf, 2, 1024, 524288, &b, err, sizeof(err)), 0);
	assert_int_equal(b.api, 2048);
	assert_int_equal(b.limit, b.reserve + 4000 + 2048 + BUDGET_TCP_AUTO);
	/* The automatic SIP cap gives way to them under a low hard limit. */
	assert_int_equal(budget_plan(&cf, 2, 1024, 6500, &b, err, sizeof(err)), 0);
	assert_true(b.tcp_shrunk);
	assert_int_equal(b.tcp, 6500 - b.reserve - 4000 - 2048);
	/* And a limit that cannot hold them says so. */
	err[0] = '\0';
	assert_int_equal(budget_plan(&cf, 2, 1024, 6000, &b, err, sizeof(err)), EMFILE);
	assert_non_null(strstr(err, "2048 for API connections"));
}

static void test_no_tcp(void **state)
{
	struct conf cf = conf_with(200, 0);
	struct budget b;
	char err[512] = "";

	(void)state;
	cf.sip.tcp = false;
	assert_int_equal(budget_plan(&cf, 1, 1024, 1024, &b, err, sizeof(err)), 0);
	assert_int_equal(b.tcp, 0);
	assert_int_equal(b.needed, 800 + b.reserve);
}

/* TLS connections take descriptors like TCP ones and share their cap. */
static void test_tls_only_counts(void **state)
{
	struct conf cf = conf_with(100, 0);
	struct budget b;
	char err[512] = "";

	(void)state;
	cf.sip.tcp = false;
	cf.sip.tls = true;
	assert_int_equal(budget_plan(&cf, 2, 1024, 1024, &b, err, sizeof(err)), 0);
	assert_true(b.tcp_shrunk);
	assert_int_equal(b.tcp, 1024 - 400 - b.reserve);
	assert_int_equal(b.needed, 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raises_soft_limit),
		cmocka_unit_test(test_auto_cap_shrinks_to_fit),
		cmocka_unit_test(test_refuses_with_numbers),
		cmocka_unit_test(test_api_connections_counted),
		cmocka_unit_test(test_no_tcp),
		cmocka_unit_test(test_tls_only_counts),
	};
	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
