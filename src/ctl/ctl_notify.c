/*
 * ctl_notify.c — sd_notify() wrapper (see ctl_notify.h). Owns nothing.
 */
#include "ctl/ctl_notify.h"

#include <stdlib.h>

#include "log.h"

#ifdef TRUNX_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void ctl_notify(const char *state)
{
#ifdef TRUNX_HAVE_SYSTEMD
	const char *sock = getenv("NOTIFY_SOCKET");
	int rc;

	if (!sock || !*sock)
		return;
	rc = sd_notify(0, state);
	if (rc < 0)
		log_msg(LOG_WARN, "notify.failed", "sd_notify(%s): error %d", state, -rc);
#else
	(void)state;
#endif
}
