/*
 * ctl_conf.h — what a configuration reload can and cannot change.
 *
 * A reload applies trunks, routes, limits (max_calls, max_cps, retry_after,
 * unknown_source, timeouts, max_forwards, shutdown_grace) and the log level at once.
 * Settings bound at start-up — sockets, addresses, the media engine's workers, port
 * range and timers, the User-Agent of the stack, the control socket — keep their
 * running values until trunxd restarts; a reload that changes them reports them.
 */
#ifndef TRUNX_CTL_CONF_H
#define TRUNX_CTL_CONF_H

#include <stddef.h>

#include "conf/conf.h"

#define CTL_CONF_RESTART_MAX 32   /**< more than there are restart-only keys */

/**
 * Lists the restart-only keys ("sip.listen", "media.workers", ...) whose value in
 * next differs from running.
 * @param keys receives up to max static strings
 * @return the number of keys found (never more than max)
 */
size_t ctl_conf_restart_keys(const struct conf *running, const struct conf *next,
			     const char *keys[], size_t max);

#endif
