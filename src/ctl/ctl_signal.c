/*
 * ctl_signal.c — blocked signals taken synchronously by the main thread (see
 * ctl_signal.h). Owns no state: the mask lives in the threads.
 */
#include "ctl/ctl_signal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>

#include "ctl/ctl.h"
#include "log.h"

static void stop_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int ctl_signals_block(void)
{
	struct sigaction sa;
	sigset_t set;
	int err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return errno;
	stop_set(&set);
	err = pthread_sigmask(SIG_BLOCK, &set, NULL);
	return err;
}

int ctl_signals_wait(struct ctl *ctl)
{
	sigset_t set;

	stop_set(&set);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		if (sig < 0)
			continue;   /* EINTR from a signal outside the set */
		if (sig == SIGHUP) {
			log_msg(LOG_INFO, "signal.hup", "reload requested (pid %ld)",
				(long)si.si_pid);
			ctl_request_reload(ctl);
			continue;
		}
		log_msg(LOG_INFO, "signal.stop", "%s received (pid %ld): stopping",
			sig == SIGTERM ? "SIGTERM" : "SIGINT", (long)si.si_pid);
		return sig;
	}
}
