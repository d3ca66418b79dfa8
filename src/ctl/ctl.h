/*
 * ctl.h — the control plane thread and its Unix control socket (`trunxctl`).
 *
 * DESIGN
 * ctl owns one thread running a libevent event_base. Everything libevent touches
 * (the listening socket, client bufferevents, timers) is created, used and freed on
 * that thread only; other threads reach it through two doors, neither of which calls
 * libevent:
 *  - a wake-up eventfd plus atomic flags, for stop and reload requests
 *    (ctl_request_reload() is async-signal-safe, so a signal handler may call it);
 *  - a bounded MPSC queue (base/include/mq.h) whose descriptor is registered in the
 *    event_base, for replies to asynchronous queries. Reply handlers run on whatever
 *    thread the daemon answers from (the B2BUA's signalling thread) and only post.
 *
 * The daemon is reached through a small ops table given at creation (struct ctl_ops),
 * so ctl knows nothing of the B2BUA or the configuration and is tested on its own with
 * real sockets.
 *
 * Protocol: a client writes one request line (`status`, `calls`, `hangup ID`,
 * `reload`, `loglevel [LEVEL]`, LF or CRLF terminated) and gets one reply line, always
 * one JSON object: {"ok":true,"command":C,"result":R} or
 * {"ok":false,"command":C,"error":CODE,"message":TEXT}. Several requests may follow on
 * one connection; each is answered before the next is read. A line longer than
 * cfg.line_max gets error "line_too_long" and the connection is closed; an idle client
 * gets "idle_timeout" and is closed; a query the daemon does not answer within
 * cfg.request_timeout_ms gets "timeout".
 */
#ifndef TRUNX_CTL_H
#define TRUNX_CTL_H

#include <jansson.h>
#include <stddef.h>

struct ctl_req;

struct ctl;

#define CTL_PATH_MAX 108   /**< sizeof(sun_path), terminating NUL included */

struct ctl_cfg {
	char     socket_path[CTL_PATH_MAX]; /**< Unix socket to create (mode 0660) */
	unsigned idle_timeout_ms;     /**< close clients silent this long; 0 = 30000 */
	unsigned request_timeout_ms;  /**< give up on an unanswered query; 0 = 10000 */
	unsigned max_clients;         /**< connections at once; beyond: "busy"; 0 = 32 */
	size_t   line_max;            /**< longest request line in bytes; 0 = 1024 */
};

/**
 * Answer to an asynchronous query. Called exactly once per accepted query, from any
 * thread (it only posts the answer to the control thread).
 * @param status 0, ENOENT (no such call) or another errno value
 * @param json   malloc'd JSON text (ownership passes to ctl), or NULL
 * @param arg    the harg given with the query
 * Same shape as b2bua_reply_h, so the B2BUA's callbacks can be this function.
 */
typedef void (ctl_reply_h)(int status, char *json, void *arg);

/**
 * What ctl needs from the daemon. Each member may be NULL (the command then answers
 * error "unavailable"). All run on the control thread.
 */
struct ctl_ops {
	/** Adds the daemon's fields (calls, workers, counters, ...) to obj. Must not
	 *  block. */
	void (*status)(void *arg, json_t *obj);
	/** Starts listing calls; the answer is a JSON array. Returns 0 when posted (h
	 *  will be called), or an errno value (h will not be called). */
	int (*list_calls)(void *arg, ctl_reply_h *h, void *harg);
	/** Starts hanging up call `id`; the answer is a JSON object. As list_calls. */
	int (*hangup)(void *arg, const char *id, ctl_reply_h *h, void *harg);
	/** Re-reads and applies the configuration. May block on file I/O. Fills
	 *  result with what was applied. @return 0, or an errno value with err set to
	 *  the reason ("file:line: reason"). */
	int (*reload)(void *arg, json_t *result, char *err, size_t errlen);
	/** Starts listing trunks (a JSON array); as list_calls. */
	int (*trunks)(void *arg, ctl_reply_h *h, void *harg);
	/** Starts the budgets report (a JSON object); as list_calls. */
	int (*budgets)(void *arg, ctl_reply_h *h, void *harg);
	/** Starts a prompt, recording or AMD request (play, record, amd); may read the
	 *  prompt file. As list_calls; on an error, err may say why (sent to the
	 *  client). */
	int (*media)(void *arg, const struct ctl_req *req, ctl_reply_h *h, void *harg,
		     char *err, size_t errlen);
};

/**
 * Creates the control plane: binds and listens on cfg->socket_path (a stale socket
 * left by a dead process is replaced; a live one, or a file that is not a socket,
 * is an error) but does not start the thread.
 * @param ops  copied; arg is passed to every op
 * @return 0, EINVAL, ENAMETOOLONG, EADDRINUSE (another process serves the path),
 *         EEXIST (the path is not a socket), ENOMEM, or the errno of a socket call
 */
int ctl_create(struct ctl **ctlp, const struct ctl_cfg *cfg, const struct ctl_ops *ops,
	       void *arg);

/**
 * The control thread's event loop, for the daemon's other clients of that thread (the
 * Postgres and Redis clients): objects created on it before ctl_start() belong to the
 * control thread from then on, and must be freed after ctl_stop().
 */
struct event_base *ctl_event_base(struct ctl *ctl);

/** Starts the control thread. @return 0 or the errno of pthread_create. */
int ctl_start(struct ctl *ctl);

/**
 * Requests a reload (ops->reload on the control thread, result logged).
 * Async-signal-safe; any thread.
 */
void ctl_request_reload(struct ctl *ctl);

/**
 * Stops the control thread: closes every client connection (answers still owed to
 * them are discarded when they arrive) and joins the thread. Idempotent.
 */
void ctl_stop(struct ctl *ctl);

/**
 * Stops if needed, frees everything and removes the socket file (only if it is still
 * the one ctl created). A query answered after this is still safe: the reply handler
 * holds a reference to a small shared mailbox and frees the late answer itself.
 */
void ctl_destroy(struct ctl *ctl);

#endif
