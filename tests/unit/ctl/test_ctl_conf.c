/* test_ctl_conf.c — which reloaded settings need a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ctl/ctl_conf.h"
#include "test_ctl.h"

static struct conf *parse(const char *text)
{
	struct conf *cf = NULL;
	char err[256] = "";

	if (conf_parse_buf(&cf, "t.conf", text, strlen(text), err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return cf;
}

#define BASE "[general]\ncontrol_socket = /tmp/a.sock\n[sip]\nlisten = 127.0.0.1:5060\n" \
	     "[media]\nport_min = 20000\nport_max = 20999\n"

static void test_nothing_changed(void **state)
{
	struct conf *a = parse(BASE), *b = parse(BASE "[trunk t]\nmatch = 10.0.0.0/8\n");
	const char *keys[CTL_CONF_RESTART_MAX];

	(void)state;
	/* Trunks, routes, limits and the log level are live: no restart. */
	conf_free(b);
	b = parse("[general]\nlog_level = debug\ncontrol_socket = /tmp/a.sock\n"
		  "[sip]\nlisten = 127.0.0.1:5060\nmax_calls = 5\nmax_cps = 2\n"
		  "unknown_source = drop\nring_timeout = 9\n"
		  "rate_limit = 10\ntcp_idle_timeout = 3\ntcp_max_per_source = 2\n"
		  "[media]\nport_min = 20000\nport_max = 20999\n"
		  "[trunk t]\nmatch = 10.0.0.0/8\n");
	assert_int_equal(ctl_conf_restart_keys(a, b, keys, CTL_CONF_RESTART_MAX), 0);
	conf_free(a);
	conf_free(b);
}

static void test_restart_keys(void **state)
{
	struct conf *a = parse(BASE);
	struct conf *b = parse("[general]\ncontrol_socket = /tmp/b.sock\n"
			       "[sip]\nlisten = 127.0.0.1:5062\ntransports = udp\n"
			       "advertise = 192.0.2.1\ntransaction_timeout = 8\ntimer_t4 = 1\n"
			       "tcp_max_connections = 100\n"
			       "[media]\nport_min = 20000\nport_max = 21999\nworkers = 3\n"
			       "rtp_timeout = 5\n");
	const char *keys[CTL_CONF_RESTART_MAX];
	size_t n = ctl_conf_restart_keys(a, b, keys, CTL_CONF_RESTART_MAX);
	char joined[512] = "";

	(void)state;
	for (size_t i = 0; i < n; i++) {
		strcat(joined, keys[i]);
		strcat(joined, " ");
	}
	assert_string_equal(joined, "general.control_socket sip.listen sip.transports "
			    "sip.advertise sip.transaction_timeout sip.timer_t4 "
			    "sip.tcp_max_connections "
			    "media.port_max media.workers media.rtp_timeout ");
	/* The list is bounded by the caller's array. */
	assert_int_equal(ctl_conf_restart_keys(a, b, keys, 2), 2);
	conf_free(a);
	conf_free(b);
}

/* [events] is compared by value: the bytes after a string's end and the struct's
 * padding say nothing about the setting. */
static void test_events_by_value(void **state)
{
	struct conf *a = parse(BASE "[events]\nwebhook_retry = 1m\n");
	struct conf *b = parse(BASE "[events]\nwebhook_retry = 1m\n");
	const char *keys[CTL_CONF_RESTART_MAX];

	(void)state;
	/* The same values, reached through other contents of the buffers. */
	memset(a->events.webhook_ca_file, 'x', sizeof(a->events.webhook_ca_file));
	a->events.webhook_ca_file[0] = '\0';
	memset(a->events.webhook_retry, 'y', sizeof(a->events.webhook_retry));
	memcpy(a->events.webhook_retry, "1m", 3);
	memset(b->events.http_addr, 'z', sizeof(b->events.http_addr));
	b->events.http_addr[0] = '\0';
	assert_int_equal(ctl_conf_restart_keys(a, b, keys, CTL_CONF_RESTART_MAX), 0);
	/* A real change of each kind of member still needs a restart. */
	b->events.poll_ms++;
	assert_int_equal(ctl_conf_restart_keys(a, b, keys, CTL_CONF_RESTART_MAX), 1);
	assert_string_equal(keys[0], "events");
	b->events.poll_ms--;
	memcpy(b->events.webhook_retry, "2m", 3);
	assert_int_equal(ctl_conf_restart_keys(a, b, keys, CTL_CONF_RESTART_MAX), 1);
	memcpy(b->events.webhook_retry, "1m", 3);
	b->events.webhook_allow_private = !a->events.webhook_allow_private;
	assert_int_equal(ctl_conf_restart_keys(a, b, keys, CTL_CONF_RESTART_MAX), 1);
	conf_free(a);
	conf_free(b);
}

int test_ctl_conf_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_changed),
		cmocka_unit_test(test_restart_keys),
		cmocka_unit_test(test_events_by_value),
	};
	return cmocka_run_group_tests_name("ctl_conf", tests, NULL, NULL);
}
