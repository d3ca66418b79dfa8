/* test_ctl_main.c — runs every control plane test group. */
#include "log.h"
#include "test_ctl.h"

int main(void)
{
	int failed = 0;

	/* SIGPIPE is left at its default on purpose: the control thread must cope with
	 * clients that leave mid-reply without the process ignoring it. */
	log_set_level(LOG_ERROR);
	failed += test_ctl_proto_run();
	failed += test_ctl_sock_run();
	failed += test_ctl_server_run();
	failed += test_ctl_conf_run();
	failed += test_ctl_signal_run();
	return failed ? 1 : 0;
}
