/* test_media_engine_main.c — runs the engine tests (real sockets on 127.0.0.1), once on
 * each worker I/O path: epoll, and io_uring (skipped, and said so, where the kernel
 * refuses io_uring: seccomp, kernel.io_uring_disabled). The transcoding and SRTP groups
 * run on the epoll path only: they work on packets the I/O path has already handed
 * over, and the io_uring pass covers the receive/send, timer, scale and delay paths.
 *
 * The tests mostly wait on the engine's timers (a few seconds of CPU in 90 s), so the
 * io_uring pass of the groups that need few ports (basic, relay, timers, delay) runs in
 * a second process beside the epoll pass of the same groups (its output printed after
 * the epoll pass's), each process taking its engines' ports in its own half of the
 * range. Once it has ended, the rest runs alone over the whole range: the scale test
 * on each path (a few thousand ports in one range), and the epoll-only groups (the
 * kernel forwarding tests attach a program to lo).
 * The process runs at a raised priority where it may (see test_raise_priority()).
 * TRUNX_TEST_FILTER (a cmocka pattern such as "*late*") runs only the matching cases.
 *
 * With an argument it runs one part, so that ctest runs the parts as tests of their own
 * beside each other (each with its own ports: TRUNX_TEST_PORTS, test_ports_from_env()):
 *   epoll, uring               the basic and relay groups on that path
 *   epoll_timers, uring_timers the timers group on that path
 *                              (the io_uring ones skipped, and said so, as above)
 *   xcode                      transcoding, then SRTP (epoll)
 *   scale                      the scale test on each path (run alone, over the
 *                              whole range: a few thousand ports in one range)
 *   delay                      the delay group on each path (a stalled worker's
 *                              packets judged by their age: run alone)
 *   kfwd                       kernel forwarding (epoll; attaches a program to lo)
 * Without one it runs them all, as above. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media_peer.h"
#include "test_media.h"

/* The groups both I/O paths run at the same time (small port ranges each). */
static int common_groups(void)
{
	int failed = 0;

	failed += test_engine_run();
	failed += test_engine_relay_run();
	failed += test_engine_timers_run();
	failed += test_engine_delay_run();
	return failed;
}

static void path_banner(const char *how)
{
	printf("# worker I/O path: %s%s\n", test_media_io_name(), how);
	fflush(stdout);
}

/* Starts the io_uring pass in a child writing to out; returns its pid, or -1 when it
 * could not be started (the pass then runs here, after the epoll pass). */
static pid_t uring_start(FILE *out)
{
	pid_t pid;

	if (!out)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid != 0)
		return pid;
	/* A parent killed by ctest's timeout takes this pass with it. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(fileno(out), STDOUT_FILENO) < 0 || dup2(fileno(out), STDERR_FILENO) < 0)
		_exit(2);
	test_media_io = MEDIA_IO_URING;
	test_port_lo = 26000;   /* the upper half of the ports: the epoll pass has the lower */
	test_port_pairs = 3000;
	path_banner(" (a second process, beside the epoll pass)");
	exit(common_groups() ? 1 : 0);
}

/* Waits for the io_uring pass, copies its output; returns its failure (0 or 1). */
static int uring_finish(pid_t pid, FILE *out)
{
	char buf[4096];
	size_t n;
	int st;

	while (waitpid(pid, &st, 0) < 0)
		;
	fflush(stdout);
	rewind(out);
	while ((n = fread(buf, 1, sizeof(buf), out)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(out);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	printf("# worker I/O path io_uring: FAILED (%s %d)\n",
	       WIFEXITED(st) ? "exit status" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 1;
}

static void uring_skipped(void)
{
	printf("# worker I/O path io_uring: SKIPPED (the kernel refuses "
	       "io_uring_setup here)\n");
}

/* One part (see the top of the file); -1 for a name that is none. */
static int run_part(const char *part, bool uring)
{
	static const struct {
		const char *name;
		enum media_io io;
		int (*groups[2])(void);
	} parts[] = {
		{"epoll", MEDIA_IO_EPOLL, {test_engine_run, test_engine_relay_run}},
		{"uring", MEDIA_IO_URING, {test_engine_run, test_engine_relay_run}},
		{"epoll_timers", MEDIA_IO_EPOLL, {test_engine_timers_run}},
		{"uring_timers", MEDIA_IO_URING, {test_engine_timers_run}},
		{"xcode", MEDIA_IO_EPOLL, {test_engine_xcode_run, test_engine_srtp_run}},
		{"kfwd", MEDIA_IO_EPOLL, {test_engine_kfwd_run}},
	};
	int failed = 0;

	test_ports_from_env();
	if (strcmp(part, "scale") == 0) {
		if (uring) {
			test_media_io = MEDIA_IO_URING;
			path_banner(" (scale)");
			failed += test_engine_scale_run();
		} else {
			uring_skipped();
		}
		test_media_io = MEDIA_IO_EPOLL;
		path_banner(" (scale)");
		return failed + test_engine_scale_run();
	}
	if (strcmp(part, "delay") == 0) {
		test_media_io = MEDIA_IO_EPOLL;
		path_banner(" (delay)");
		failed += test_engine_delay_run();
		if (!uring) {
			uring_skipped();
			return failed;
		}
		test_media_io = MEDIA_IO_URING;
		path_banner(" (delay)");
		return failed + test_engine_delay_run();
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (strcmp(part, parts[i].name) != 0)
			continue;
		if (parts[i].io == MEDIA_IO_URING && !uring) {
			uring_skipped();
			return 0;
		}
		test_media_io = parts[i].io;
		path_banner("");
		for (size_t g = 0; g < 2 && parts[i].groups[g]; g++)
			failed += parts[i].groups[g]();
		return failed;
	}
	fprintf(stderr, "usage: test_media_engine [epoll|uring|epoll_timers|uring_timers|"
		"scale|xcode|delay|kfwd]\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	int failed = 0;
	bool uring = test_uring_allowed();
	FILE *out = NULL;
	pid_t child = -1;

	/* The scale test needs a few thousand descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	test_raise_priority();
	if (getenv("TRUNX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("TRUNX_TEST_FILTER"));
	if (argc > 1) {
		failed = run_part(argv[1], uring);
		return failed < 0 ? 2 : failed ? 1 : 0;
	}

	if (!uring)
		uring_skipped();
	else
		child = uring_start(out = tmpfile());
	if (child > 0)
		test_port_pairs = 3000;   /* [20000, 26000): the io_uring pass has the rest */
	test_media_io = MEDIA_IO_EPOLL;
	path_banner("");
	failed += common_groups();
	if (child > 0)
		failed += uring_finish(child, out);
	/* Alone again, over the whole range: the groups that need many ports or lo. */
	test_port_pairs = 6000;
	if (uring && child <= 0) {
		if (out)
			fclose(out);
		test_media_io = MEDIA_IO_URING;
		path_banner("");
		failed += common_groups();
	}
	if (uring) {
		test_media_io = MEDIA_IO_URING;
		path_banner(" (scale)");
		failed += test_engine_scale_run();
	}
	test_media_io = MEDIA_IO_EPOLL;
	path_banner(" (scale, kernel forwarding, transcoding, SRTP)");
	failed += test_engine_scale_run();
	failed += test_engine_kfwd_run();
	failed += test_engine_xcode_run();
	failed += test_engine_srtp_run();
	return failed ? 1 : 0;
}
