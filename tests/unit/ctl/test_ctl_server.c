/*
 * test_ctl_server.c — the control thread over real Unix sockets: every command,
 * concurrency, pipelining, oversized lines, idle and slow clients, clients that leave
 * mid-reply or before their answer, request timeouts, shutdown with clients connected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "test_ctl.h"

struct env {
	char           dir[64];
	struct ctl_cfg cfg;
	struct fake    fake;
	struct ctl    *ctl;
};

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	tdir_make(e->dir, sizeof(e->dir));
	snprintf(e->cfg.socket_path, sizeof(e->cfg.socket_path), "%s/ctl.sock", e->dir);
	fake_init(&e->fake);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;

	ctl_destroy(e->ctl);
	fake_fini(&e->fake);
	tdir_remove(e->dir);
	free(e);
	return 0;
}

static void env_start(struct env *e, const struct ctl_ops *ops)
{
	assert_int_equal(ctl_create(&e->ctl, &e->cfg, ops ? ops : &fake_ops, &e->fake), 0);
	assert_int_equal(ctl_start(e->ctl), 0);
}

static json_t *req(struct env *e, const char *line)
{
	json_t *rep = tc_request(e->cfg.socket_path, line);

	assert_non_null(rep);
	return rep;
}

/** Sends one request and checks that it fails with the given error code. */
static void expect_error(struct env *e, const char *line, const char *code)
{
	json_t *rep = req(e, line);

	assert_string_equal(tc_error(rep), code);
	json_decref(rep);
}

/** Makes the fake's calls query fail with err (0: succeed). */
static void set_list_err(struct env *e, int err)
{
	FAKE_SET(&e->fake, list_err, err);
}

static json_t *result(json_t *rep)
{
	return json_object_get(rep, "result");
}

static json_t *read_reply(int fd)
{
	char buf[8192];

	if (tc_read_line(fd, buf, sizeof(buf), 10000) != 0)
		return NULL;
	return json_loads(buf, 0, NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Polls status until queries_in_flight is 0 (answers are handed over asynchronously). */
static void wait_no_queries(struct env *e)
{
	for (int i = 0; i < 500; i++) {
		json_t *rep = req(e, "status\n");
		json_int_t n = json_integer_value(json_object_get(
			json_object_get(result(rep), "control"), "queries_in_flight"));
		json_decref(rep);
		if (n == 0)
			return;
		sleep_ms(10);
	}
	fail_msg("queries still in flight");
}

static void test_status(void **state)
{
	struct env *e = *state;
	json_t *rep, *res;

	env_start(e, NULL);
	rep = req(e, "status\n");
	assert_true(tc_ok(rep));
	assert_string_equal(json_string_value(json_object_get(rep, "command")), "status");
	res = result(rep);
	assert_string_equal(json_string_value(json_object_get(res, "version")), TRUNX_VERSION);
	assert_int_equal(json_integer_value(json_object_get(res, "pid")), getpid());
	assert_true(json_is_integer(json_object_get(res, "uptime_s")));
	assert_string_equal(json_string_value(json_object_get(res, "log_level")),
			    log_level_name(log_get_level()));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "calls"),
							    "active")), 3);
	assert_int_equal(json_integer_value(json_object_get(res, "workers")), 2);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(res, "counters"), "rejected_overload")), 7);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(res, "control"), "clients")), 1);
	json_decref(rep);
}

static void test_loglevel(void **state)
{
	struct env *e = *state;
	enum log_level saved = log_get_level();
	json_t *rep;

	env_start(e, NULL);
	log_set_level(LOG_ERROR);
	rep = req(e, "loglevel\n");
	assert_true(tc_ok(rep));
	assert_string_equal(json_string_value(json_object_get(result(rep), "log_level")), "error");
	json_decref(rep);
	rep = req(e, "loglevel OFF\n");
	assert_true(tc_ok(rep));
	assert_int_equal(log_get_level(), LOG_OFF);
	assert_string_equal(json_string_value(json_object_get(result(rep), "previous")), "error");
	assert_string_equal(json_string_value(json_object_get(result(rep), "log_level")), "off");
	json_decref(rep);
	rep = req(e, "loglevel loud\n");
	assert_false(tc_ok(rep));
	assert_string_equal(tc_error(rep), "bad_request");
	assert_int_equal(log_get_level(), LOG_OFF);
	json_decref(rep);
	log_set_level(saved);
}

static void test_reload(void **state)
{
	struct env *e = *state;
	json_t *rep;
	unsigned seen;

	env_start(e, NULL);
	rep = req(e, "reload\n");
	assert_true(tc_ok(rep));
	assert_int_equal(json_integer_value(json_object_get(result(rep), "routes")), 5);
	json_decref(rep);

	pthread_mutex_lock(&e->fake.lock);
	e->fake.reload_err = EINVAL;
	e->fake.reload_msg = "trunx.conf:12: unknown key 'bogus'";
	pthread_mutex_unlock(&e->fake.lock);
	rep = req(e, "reload\n");
	assert_false(tc_ok(rep));
	assert_string_equal(tc_error(rep), "reload_failed");
	assert_string_equal(json_string_value(json_object_get(rep, "message")),
			    "trunx.conf:12: unknown key 'bogus'");
	json_decref(rep);

	/* The signal path: runs on the control thread, not the caller's. */
	pthread_mutex_lock(&e->fake.lock);
	e->fake.reload_err = 0;
	seen = e->fake.reloads;
	pthread_mutex_unlock(&e->fake.lock);
	ctl_request_reload(e->ctl);
	for (int i = 0; i < 1000; i++) {
		unsigned n;
		pthread_mutex_lock(&e->fake.lock);
		n = e->fake.reloads;
		pthread_mutex_unlock(&e->fake.lock);
		if (n > seen)
			break;
		sleep_ms(10);
	}
	pthread_mutex_lock(&e->fake.lock);
	assert_int_equal(e->fake.reloads, seen + 1);
	assert_false(pthread_equal(e->fake.reload_thread, pthread_self()));
	pthread_mutex_unlock(&e->fake.lock);
}

static void test_calls_and_hangup(void **state)
{
	struct env *e = *state;
	json_t *rep;

	FAKE_SET(&e->fake, calls_json,
		 "[{\"id\":\"c1\",\"from\":\"+15550001\",\"to\":\"+15550002\"}]");
	env_start(e, NULL);
	rep = req(e, "calls\n");
	assert_true(tc_ok(rep));
	assert_true(json_is_array(result(rep)));
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(result(rep), 0), "from")), "+15550001");
	json_decref(rep);
	rep = req(e, "hangup c1\n");
	assert_true(tc_ok(rep));
	assert_true(json_is_true(json_object_get(result(rep), "hungup")));
	json_decref(rep);
	rep = req(e, "hangup c-unknown\n");
	assert_false(tc_ok(rep));
	assert_string_equal(tc_error(rep), "not_found");
	assert_string_equal(json_string_value(json_object_get(rep, "message")),
			    "no call c-unknown");
	json_decref(rep);
	wait_no_queries(e);
}

static void test_bad_requests_keep_connection(void **state)
{
	struct env *e = *state;
	json_t *rep;
	int fd;

	env_start(e, NULL);
	fd = tc_connect(e->cfg.socket_path);
	assert_true(fd >= 0);
	assert_int_equal(tc_send(fd, "frobnicate\r\n"), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "unknown_command");
	assert_non_null(strstr(json_string_value(json_object_get(rep, "message")), "status"));
	json_decref(rep);
	assert_int_equal(tc_send(fd, "hangup\n"), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "bad_request");
	json_decref(rep);
	assert_int_equal(tc_send(fd, "\n"), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "bad_request");
	json_decref(rep);
	assert_int_equal(tc_send(fd, "status\n"), 0);
	rep = read_reply(fd);
	assert_true(tc_ok(rep));
	json_decref(rep);
	close(fd);
}

static void test_pipelined(void **state)
{
	struct env *e = *state;
	const char *want[] = {"status", "calls", "loglevel", "hangup", "status"};
	int fd;

	env_start(e, NULL);
	fd = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(fd, "status\ncalls\nloglevel\nhangup nope\nstatus\n"), 0);
	for (size_t i = 0; i < 5; i++) {
		json_t *rep = read_reply(fd);
		assert_non_null(rep);
		assert_string_equal(json_string_value(json_object_get(rep, "command")), want[i]);
		json_decref(rep);
	}
	close(fd);
}

static void test_oversized_line(void **state)
{
	struct env *e = *state;
	char big[300];
	json_t *rep;
	int fd;

	e->cfg.line_max = 64;
	env_start(e, NULL);
	/* No newline at all. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fd = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(fd, big), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "line_too_long");
	json_decref(rep);
	assert_true(tc_wait_eof(fd, 10000));
	close(fd);
	/* A complete line that is too long. */
	big[100] = '\n';
	big[101] = '\0';
	fd = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(fd, big), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "line_too_long");
	json_decref(rep);
	assert_true(tc_wait_eof(fd, 10000));
	close(fd);
	/* Exactly line_max is fine (an unknown command, but answered and kept). */
	big[64] = '\n';
	big[65] = '\0';
	fd = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(fd, big), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "unknown_command");
	json_decref(rep);
	assert_int_equal(tc_send(fd, "status\n"), 0);
	rep = read_reply(fd);
	assert_true(tc_ok(rep));
	json_decref(rep);
	close(fd);
}

struct worker {
	struct env *e;
	int         ok;
};

static void *client_thread(void *arg)
{
	static const char *lines[] = {"status\n", "calls\n", "hangup c1\n", "loglevel\n"};
	static const char *names[] = {"status", "calls", "hangup", "loglevel"};
	struct worker *w = arg;
	int fd = tc_connect(w->e->cfg.socket_path);

	if (fd < 0)
		return NULL;
	for (int i = 0; i < 40; i++) {
		const char *line = lines[i % 4];
		json_t *rep;

		if (tc_send(fd, line) != 0)
			break;
		rep = read_reply(fd);
		if (tc_ok(rep) && strcmp(json_string_value(json_object_get(rep, "command")),
					 names[i % 4]) == 0 &&
		    (i % 4 != 2 || json_is_true(json_object_get(result(rep), "hungup"))))
			w->ok++;
		json_decref(rep);
	}
	close(fd);
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	struct env *e = *state;
	enum { N = 12 };
	pthread_t th[N];
	struct worker w[N];

	env_start(e, NULL);
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){.e = e};
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].ok, 40);
	}
	wait_no_queries(e);
}

static void test_idle_and_slow_clients(void **state)
{
	struct env *e = *state;
	json_t *rep;
	int idle, slow;

	e->cfg.idle_timeout_ms = 1500;
	env_start(e, NULL);
	idle = tc_connect(e->cfg.socket_path);
	slow = tc_connect(e->cfg.socket_path);
	/* The slow client writes a byte every 100 ms: each one is activity. */
	for (const char *p = "status\n"; *p; p++) {
		char c[2] = {*p, 0};
		assert_int_equal(tc_send(slow, c), 0);
		sleep_ms(100);
	}
	rep = read_reply(slow);
	assert_true(tc_ok(rep));
	json_decref(rep);
	close(slow);
	/* The idle one is told and closed. */
	rep = read_reply(idle);
	assert_string_equal(tc_error(rep), "idle_timeout");
	json_decref(rep);
	assert_true(tc_wait_eof(idle, 10000));
	close(idle);
}

static void test_client_leaves_mid_reply(void **state)
{
	struct env *e = *state;
	char buf[100];
	json_t *rep;

	FAKE_SET(&e->fake, big_reply, 8 << 20);   /* far more than the socket buffers hold */
	env_start(e, NULL);
	for (int i = 0; i < 3; i++) {
		int fd = tc_connect(e->cfg.socket_path);
		assert_int_equal(tc_send(fd, "calls\n"), 0);
		assert_true(read(fd, buf, sizeof(buf)) > 0);
		close(fd);
	}
	/* The process is alive (no SIGPIPE) and serving. */
	rep = req(e, "status\n");
	assert_true(tc_ok(rep));
	json_decref(rep);
	wait_no_queries(e);
}

static void wait_held(struct env *e, size_t n)
{
	for (int i = 0; i < 1000 && fake_held(&e->fake) < n; i++)
		sleep_ms(10);
	assert_int_equal(fake_held(&e->fake), n);
}

static void test_answer_after_client_left(void **state)
{
	struct env *e = *state;
	json_t *rep;
	int fd;

	FAKE_SET(&e->fake, hold, true);
	env_start(e, NULL);
	for (int i = 0; i < 4; i++) {
		fd = tc_connect(e->cfg.socket_path);
		assert_int_equal(tc_send(fd, i % 2 ? "calls\n" : "hangup c1\n"), 0);
		wait_held(e, (size_t)i + 1);
		close(fd);
	}
	/* Let the control thread notice the closes before the answers come. */
	sleep_ms(100);
	assert_int_equal(fake_release(&e->fake), 4);
	wait_no_queries(e);
	rep = req(e, "loglevel\n");
	assert_true(tc_ok(rep));
	json_decref(rep);
}

static void test_request_timeout(void **state)
{
	struct env *e = *state;
	json_t *rep;
	int fd;

	e->cfg.request_timeout_ms = 200;
	FAKE_SET(&e->fake, hold, true);
	env_start(e, NULL);
	fd = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(fd, "calls\n"), 0);
	rep = read_reply(fd);
	assert_string_equal(tc_error(rep), "timeout");
	assert_string_equal(json_string_value(json_object_get(rep, "command")), "calls");
	json_decref(rep);
	/* The connection goes on; the late answer is dropped, not written. */
	assert_int_equal(fake_release(&e->fake), 1);
	assert_int_equal(tc_send(fd, "loglevel\n"), 0);
	rep = read_reply(fd);
	assert_string_equal(json_string_value(json_object_get(rep, "command")), "loglevel");
	json_decref(rep);
	close(fd);
	wait_no_queries(e);
}

static void test_shutdown_with_clients(void **state)
{
	struct env *e = *state;
	int idle, waiting, partial;

	FAKE_SET(&e->fake, hold, true);
	env_start(e, NULL);
	idle = tc_connect(e->cfg.socket_path);
	waiting = tc_connect(e->cfg.socket_path);
	partial = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(waiting, "calls\n"), 0);
	assert_int_equal(tc_send(partial, "sta"), 0);
	wait_held(e, 1);
	ctl_destroy(e->ctl);
	e->ctl = NULL;
	assert_true(tc_wait_eof(idle, 10000));
	assert_true(tc_wait_eof(waiting, 10000));
	assert_true(tc_wait_eof(partial, 10000));
	close(idle);
	close(waiting);
	close(partial);
	/* The daemon answers after ctl is gone: freed by the reply path. */
	assert_int_equal(fake_release(&e->fake), 1);
	assert_int_equal(tc_connect(e->cfg.socket_path), -1);
}

static void test_max_clients(void **state)
{
	struct env *e = *state;
	json_t *rep;
	int a, b, c;

	e->cfg.max_clients = 2;
	env_start(e, NULL);
	a = tc_connect(e->cfg.socket_path);
	b = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(a, "status\n"), 0);
	json_decref(read_reply(a));   /* both accepted by now */
	assert_int_equal(tc_send(b, "status\n"), 0);
	json_decref(read_reply(b));
	c = tc_connect(e->cfg.socket_path);
	rep = read_reply(c);
	assert_string_equal(tc_error(rep), "busy");
	json_decref(rep);
	assert_true(tc_wait_eof(c, 10000));
	close(c);
	close(a);
	/* Once a slot is free again, a new client is served. */
	for (int i = 0; i < 500; i++) {
		rep = tc_request(e->cfg.socket_path, "status\n");
		if (tc_ok(rep)) {
			json_decref(rep);
			break;
		}
		json_decref(rep);
		rep = NULL;
		sleep_ms(10);
	}
	close(b);
}

static void test_half_close(void **state)
{
	struct env *e = *state;
	json_t *rep;
	int fd;

	FAKE_SET(&e->fake, hold, true);
	env_start(e, NULL);
	fd = tc_connect(e->cfg.socket_path);
	assert_int_equal(tc_send(fd, "calls\n"), 0);
	shutdown(fd, SHUT_WR);
	wait_held(e, 1);
	fake_release(&e->fake);
	rep = read_reply(fd);
	assert_true(tc_ok(rep));
	json_decref(rep);
	assert_true(tc_wait_eof(fd, 10000));
	close(fd);
}

static void test_daemon_failures(void **state)
{
	struct env *e = *state;
	static const struct ctl_ops none = {0};
	json_t *rep;

	FAKE_SET(&e->fake, calls_json, "[not json");
	env_start(e, NULL);
	expect_error(e, "calls\n", "internal");
	set_list_err(e, EAGAIN);
	expect_error(e, "calls\n", "busy");
	pthread_mutex_lock(&e->fake.lock);
	e->fake.list_err = ESHUTDOWN;
	e->fake.reload_err = ESHUTDOWN;
	e->fake.reload_msg = "trunxd is shutting down";
	pthread_mutex_unlock(&e->fake.lock);
	rep = req(e, "calls\n");
	assert_string_equal(tc_error(rep), "unavailable");
	assert_string_equal(json_string_value(json_object_get(rep, "message")),
			    "trunxd is shutting down");
	json_decref(rep);
	expect_error(e, "reload\n", "unavailable");
	set_list_err(e, EINVAL);
	expect_error(e, "calls\n", "bad_request");
	ctl_destroy(e->ctl);
	e->ctl = NULL;

	/* A daemon that offers nothing: status still answers, the rest say so. */
	env_start(e, &none);
	rep = req(e, "status\n");
	assert_true(tc_ok(rep));
	assert_null(json_object_get(result(rep), "calls"));
	json_decref(rep);
	expect_error(e, "calls\n", "unavailable");
	expect_error(e, "hangup x\n", "unavailable");
	expect_error(e, "reload\n", "unavailable");
}

int test_ctl_server_run(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		T(test_status),
		T(test_loglevel),
		T(test_reload),
		T(test_calls_and_hangup),
		T(test_bad_requests_keep_connection),
		T(test_pipelined),
		T(test_oversized_line),
		T(test_concurrent_clients),
		T(test_idle_and_slow_clients),
		T(test_client_leaves_mid_reply),
		T(test_answer_after_client_left),
		T(test_request_timeout),
		T(test_shutdown_with_clients),
		T(test_max_clients),
		T(test_half_close),
		T(test_daemon_failures),
	};
#undef T
	return cmocka_run_group_tests_name("ctl_server", tests, NULL, NULL);
}
