/*
 * ctl_notify.h — service manager notifications (sd_notify): READY=1 once trunxd
 * serves, RELOADING=1 / READY=1 around a reload, STOPPING=1 when shutdown starts.
 * A no-op unless NOTIFY_SOCKET is set (trunxd started by systemd with Type=notify),
 * or when trunx was built without libsystemd.
 */
#ifndef TRUNX_CTL_NOTIFY_H
#define TRUNX_CTL_NOTIFY_H

/** Sends one state line ("READY=1", ...). Never fails the caller; any thread. */
void ctl_notify(const char *state);

#endif
