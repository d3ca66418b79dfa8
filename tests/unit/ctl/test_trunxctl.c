/* test_trunxctl.c — the trunxctl CLI: output formats, exit codes, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "test_ctl.h"

struct env {
	char           dir[64];
	struct ctl_cfg cfg;
	struct fake    fake;
	struct ctl    *ctl;
	char           out[65536];
	char           err[8192];
};

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	tdir_make(e->dir, sizeof(e->dir));
	snprintf(e->cfg.socket_path, sizeof(e->cfg.socket_path), "%s/ctl.sock", e->dir);
	fake_init(&e->fake);
	e->fake.calls_json =
		"[{\"id\":\"a1b2\",\"from\":\"+15550001\",\"to\":\"+15550002\","
		"\"state\":\"answered\",\"legs\":[{\"leg\":\"A\",\"state\":\"confirmed\"},"
		"{\"leg\":\"B\",\"state\":\"confirmed\"}],\"codecs\":\"PCMU\","
		"\"duration_ms\":65000},"
		"{\"id\":\"c3d4\",\"from\":\"+15550003\",\"to\":\"+15550004\","
		"\"state\":\"ringing\",\"legs\":[],\"codecs\":[\"PCMA\",\"PCMU\"]}]";
	assert_int_equal(ctl_create(&e->ctl, &e->cfg, &fake_ops, &e->fake), 0);
	assert_int_equal(ctl_start(e->ctl), 0);
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

static void drain(int fd, char *buf, size_t len, size_t *n)
{
	ssize_t r = read(fd, buf + *n, len - 1 - *n);

	if (r > 0)
		*n += (size_t)r;
	buf[*n] = '\0';
}

/* Runs trunxctl with args (NULL-terminated); returns its exit code. */
static int run(struct env *e, const char *sock_env, ...)
{
	const char *argv[16] = {"trunxctl"};
	int out[2], err[2], status, argc = 1;
	size_t no = 0, ne = 0;
	va_list ap;
	pid_t pid;

	va_start(ap, sock_env);
	while (argc < 15 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (sock_env)
			setenv("TRUNXCTL_SOCKET", sock_env, 1);
		else
			unsetenv("TRUNXCTL_SOCKET");
		execv(TRUNXCTL_BIN, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	for (;;) {
		struct pollfd p[2] = {{.fd = out[0], .events = POLLIN},
				      {.fd = err[0], .events = POLLIN}};
		size_t before = no + ne;

		if (poll(p, 2, 30000) <= 0)
			break;
		if (p[0].revents)
			drain(out[0], e->out, sizeof(e->out), &no);
		if (p[1].revents)
			drain(err[0], e->err, sizeof(e->err), &ne);
		if (no + ne == before)
			break;   /* both at EOF */
	}
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_status(void **state)
{
	struct env *e = *state;
	json_t *rep;

	assert_int_equal(run(e, NULL, "-s", e->cfg.socket_path, "status", NULL), 0);
	assert_non_null(strstr(e->out, "version"));
	assert_non_null(strstr(e->out, "uptime "));
	assert_non_null(strstr(e->out, "rejected_overload  7"));
	assert_non_null(strstr(e->out, "calls\n  active  3\n  total   42\n"));
	/* --json, after the command, and the socket from the environment. */
	assert_int_equal(run(e, e->cfg.socket_path, "status", "--json", NULL), 0);
	rep = json_loads(e->out, 0, NULL);
	assert_true(tc_ok(rep));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rep, "result"),
							    "workers")), 2);
	json_decref(rep);
}

static void test_calls_table(void **state)
{
	struct env *e = *state;

	assert_int_equal(run(e, e->cfg.socket_path, "calls", NULL), 0);
	assert_non_null(strstr(e->out, "ID    FROM       TO         STATE     LEGS"));
	assert_non_null(strstr(e->out, "a1b2  +15550001  +15550002  answered  A:confirmed,B:confirmed  PCMU"));
	assert_non_null(strstr(e->out, "00:01:05"));
	assert_non_null(strstr(e->out, "PCMA,PCMU"));
	assert_non_null(strstr(e->out, "2 calls\n"));
	/* Cells wider than a column are cut with "~". */
	FAKE_SET(&e->fake, calls_json,
		 "[{\"id\":\"x\",\"from\":\"sip:a-very-long-user-part-that-"
		 "goes-on@example.com\",\"duration_ms\":3723000}]");
	assert_int_equal(run(e, e->cfg.socket_path, "calls", NULL), 0);
	assert_non_null(strstr(e->out, "x   sip:a-very-long-user-part-that-goes-on@~  -   -"));
	assert_non_null(strstr(e->out, "01:02:03\n1 call\n"));
	FAKE_SET(&e->fake, calls_json, "[]");
	assert_int_equal(run(e, e->cfg.socket_path, "calls", NULL), 0);
	assert_string_equal(e->out, "no calls\n");
}

static void test_hangup_reload_loglevel(void **state)
{
	struct env *e = *state;
	enum log_level saved = log_get_level();

	assert_int_equal(run(e, e->cfg.socket_path, "hangup", "c1", NULL), 0);
	assert_non_null(strstr(e->out, "hangup sent"));
	assert_int_equal(run(e, e->cfg.socket_path, "hangup", "zz", NULL), 1);
	assert_non_null(strstr(e->err, "not_found: no call c-unknown"));
	assert_int_equal(run(e, e->cfg.socket_path, "reload", NULL), 0);
	assert_non_null(strstr(e->out, "configuration reloaded\n  routes  5\n"));
	pthread_mutex_lock(&e->fake.lock);
	e->fake.reload_err = EINVAL;
	e->fake.reload_msg = "t.conf:3: bad value";
	pthread_mutex_unlock(&e->fake.lock);
	assert_int_equal(run(e, e->cfg.socket_path, "reload", NULL), 1);
	assert_string_equal(e->err, "trunxctl: reload_failed: t.conf:3: bad value\n");
	assert_int_equal(run(e, e->cfg.socket_path, "reload", "--json", NULL), 1);
	assert_non_null(strstr(e->out, "\"ok\":false"));
	log_set_level(LOG_WARN);
	assert_int_equal(run(e, e->cfg.socket_path, "loglevel", "error", NULL), 0);
	assert_string_equal(e->out, "log level error (was warn)\n");
	assert_int_equal(log_get_level(), LOG_ERROR);
	assert_int_equal(run(e, e->cfg.socket_path, "loglevel", NULL), 0);
	assert_string_equal(e->out, "log level error\n");
	assert_int_equal(run(e, e->cfg.socket_path, "loglevel", "shouty", NULL), 1);
	log_set_level(saved);
}

static void test_usage_and_connect_errors(void **state)
{
	struct env *e = *state;
	char missing[128];

	assert_int_equal(run(e, e->cfg.socket_path, NULL), 2);
	assert_int_equal(run(e, e->cfg.socket_path, "frob", NULL), 2);
	assert_int_equal(run(e, e->cfg.socket_path, "hangup", NULL), 2);
	assert_int_equal(run(e, e->cfg.socket_path, "status", "extra", NULL), 2);
	assert_int_equal(run(e, e->cfg.socket_path, "-t", "0", "status", NULL), 2);
	assert_int_equal(run(e, e->cfg.socket_path, "--bogus", "status", NULL), 2);
	assert_int_equal(run(e, e->cfg.socket_path, "--help", NULL), 0);
	assert_non_null(strstr(e->out, "usage: trunxctl"));
	snprintf(missing, sizeof(missing), "%s/none.sock", e->dir);
	assert_int_equal(run(e, NULL, "-s", missing, "status", NULL), 3);
	assert_non_null(strstr(e->err, "cannot connect"));
	/* The daemon does not answer in time. */
	FAKE_SET(&e->fake, hold, true);
	assert_int_equal(run(e, e->cfg.socket_path, "-t", "1", "calls", NULL), 3);
	assert_non_null(strstr(e->err, "timed out"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		T(test_status),
		T(test_calls_table),
		T(test_hangup_reload_loglevel),
		T(test_usage_and_connect_errors),
	};
#undef T
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("trunxctl", tests, NULL, NULL);
}
