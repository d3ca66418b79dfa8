/* test_media_engine_main.c — runs the engine tests (real sockets on 127.0.0.1), once on
 * each worker I/O path: epoll, then io_uring (skipped, and said so, where the kernel
 * refuses io_uring: seccomp, kernel.io_uring_disabled). The transcoding and SRTP groups
 * run on the epoll path only: they work on packets the I/O path has already handed
 * over, and the io_uring pass covers the receive/send, timer, scale and delay paths. */
#include <stdio.h>
#include <sys/resource.h>

#include "media_peer.h"
#include "test_media.h"

int main(void)
{
	struct rlimit rl;
	int failed = 0;

	/* The scale test needs a few thousand descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	static const enum media_io paths[] = {MEDIA_IO_EPOLL, MEDIA_IO_URING};

	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		test_media_io = paths[i];
		if (test_media_io == MEDIA_IO_URING && !test_uring_allowed()) {
			printf("# worker I/O path io_uring: SKIPPED (the kernel refuses "
			       "io_uring_setup here)\n");
			continue;
		}
		printf("# worker I/O path: %s\n", test_media_io_name());
		fflush(stdout);
		failed += test_engine_run();
		failed += test_engine_relay_run();
		failed += test_engine_timers_run();
		failed += test_engine_scale_run();
		failed += test_engine_delay_run();
		if (test_media_io == MEDIA_IO_EPOLL) {
			failed += test_engine_kfwd_run();
			failed += test_engine_xcode_run();
			failed += test_engine_srtp_run();
		}
	}
	return failed ? 1 : 0;
}
