/*
 * ctl_signal.h — trunxd's signal handling, without signal handlers.
 *
 * DESIGN
 * SIGHUP, SIGTERM and SIGINT are blocked in every thread (ctl_signals_block() runs in
 * main before any thread exists, and threads inherit the mask), so the kernel keeps
 * them pending until the main thread takes them synchronously with sigwaitinfo() in
 * ctl_signals_wait(). Nothing runs in signal context, so nothing has to be
 * async-signal-safe. SIGHUP becomes a reload request to the control thread (an
 * eventfd write); SIGTERM or SIGINT returns to main, which runs the shutdown. SIGPIPE
 * is ignored process-wide: a peer that disappears costs an EPIPE on its socket only.
 */
#ifndef TRUNX_CTL_SIGNAL_H
#define TRUNX_CTL_SIGNAL_H

struct ctl;

/**
 * Blocks SIGHUP, SIGTERM and SIGINT in the calling thread and ignores SIGPIPE.
 * Call from main before starting any thread.
 * @return 0 or an errno value
 */
int ctl_signals_block(void);

/**
 * Waits for the blocked signals: each SIGHUP requests a reload from ctl (ignored when
 * ctl is NULL); returns at the first SIGTERM or SIGINT.
 * @return the signal number that asked trunxd to stop
 */
int ctl_signals_wait(struct ctl *ctl);

#endif
