/*
 * ctl_daemon.h — the control plane's ops wired to the running daemon: status from
 * the B2BUA's counters, calls and hangup through its asynchronous API, and the
 * configuration reload (SIGHUP or `trunxctl reload`).
 *
 * Reload: the file trunxd was started with is parsed again (conf_load) and its
 * routing table built; only if both succeed are the trunks, routes and limits handed
 * to the B2BUA (b2bua_reload) and the log level set. On failure nothing changes and
 * the reason ("file:line: reason") goes to the log and to the reload reply. Settings
 * that only a restart applies (ctl_conf.h) are compared with the values trunxd
 * started with and listed as "restart_required". With NOTIFY_SOCKET set, systemd is
 * told RELOADING=1 and READY=1 around it.
 */
#ifndef TRUNX_CTL_DAEMON_H
#define TRUNX_CTL_DAEMON_H

#include "b2bua/b2bua.h"
#include "conf/conf.h"
#include "ctl/ctl.h"

struct ctl_daemon;

/**
 * @param conf_path  the file to re-read on reload (copied)
 * @param running    the configuration trunxd started with (its start-up-only
 *                   settings are copied; the caller keeps ownership)
 * @param b          the B2BUA (not owned; must outlive every op call, i.e. stop the
 *                   control thread before destroying it)
 * @return 0, EINVAL, ENOMEM
 */
int ctl_daemon_create(struct ctl_daemon **dp, const char *conf_path,
		      const struct conf *running, struct b2bua *b);

void ctl_daemon_destroy(struct ctl_daemon *d);

struct data;
/**
 * Database mode: a reload re-reads the file's live settings and every routing table
 * (the file's [trunk] and [route] sections are not used). Before ctl_start().
 */
void ctl_daemon_set_data(struct ctl_daemon *d, struct data *data);

/**
 * The --postgres / --redis values trunxd was started with (NULL: none): a reloaded
 * file gets them too, as it did at start-up.
 */
int ctl_daemon_set_urls(struct ctl_daemon *d, const char *postgres, const char *redis);

/**
 * Marks the start of the shutdown: from now on reloads are refused ("unavailable",
 * trunxd is shutting down). Waits for a reload in progress to finish, so that none
 * overlaps b2bua_stop(). Call from main before b2bua_stop(); any thread.
 */
void ctl_daemon_stopping(struct ctl_daemon *d);

/** The B2BUA the daemon steers. */
struct b2bua *ctl_daemon_b2bua(struct ctl_daemon *d);

/** The media op (ctl_media.c): play, record, amd. */
int ctl_daemon_media(void *arg, const struct ctl_req *q, ctl_reply_h *h, void *harg,
		     char *err, size_t errlen);

/** The ops to give ctl_create() with the ctl_daemon as arg. */
extern const struct ctl_ops ctl_daemon_ops;

#endif
