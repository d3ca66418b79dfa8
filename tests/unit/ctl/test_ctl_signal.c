/*
 * test_ctl_signal.c — SIGHUP becomes a reload on the control thread, SIGTERM ends the
 * wait, SIGPIPE is ignored. Runs in a child process so the blocked mask and the
 * signals stay out of the test runner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl_signal.h"
#include "test_ctl.h"

static unsigned reloads(struct fake *f)
{
	unsigned n;

	pthread_mutex_lock(&f->lock);
	n = f->reloads;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* The child: 2 = setup failed, 3 = wrong signal, 4 = reloads missing. */
static int child(const char *dir)
{
	struct ctl_cfg cfg = {0};
	struct ctl *ctl;
	struct fake f;
	int sig, rc = 0;

	snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s/sig.sock", dir);
	if (ctl_signals_block() != 0)
		return 2;
	fake_init(&f);   /* threads start with the signals blocked */
	if (ctl_create(&ctl, &cfg, &fake_ops, &f) != 0 || ctl_start(ctl) != 0)
		return 2;
	/* Tell the parent we are ready: it sends HUP, HUP, PIPE, then TERM. */
	if (write(1, "r", 1) != 1)
		return 2;
	sig = ctl_signals_wait(ctl);
	if (sig != SIGTERM)
		rc = 3;
	/* The HUPs were taken before the TERM; their reloads run on the control thread
	 * (two requests may fold into one if the second came before the first ran). */
	for (int i = 0; i < 500 && reloads(&f) == 0; i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	if (!rc && reloads(&f) == 0)
		rc = 4;
	if (!rc && pthread_equal(f.reload_thread, pthread_self()))
		rc = 5;
	ctl_destroy(ctl);
	fake_fini(&f);
	return rc;
}

static void test_signals(void **state)
{
	char dir[64], c;
	int p[2], status;
	pid_t pid;

	(void)state;
	tdir_make(dir, sizeof(dir));
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		_exit(child(dir));
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_int_equal(kill(pid, SIGPIPE), 0);   /* ignored, not fatal */
	assert_int_equal(kill(pid, SIGHUP), 0);
	/* Pending signals are taken lowest number first: both HUPs before the TERM. */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(p[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	tdir_remove(dir);
}

int test_ctl_signal_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals),
	};
	return cmocka_run_group_tests_name("ctl_signal", tests, NULL, NULL);
}
