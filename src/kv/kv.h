/*
 * kv.h — the Redis client of the control thread: one hiredis asynchronous connection
 * on the control thread's libevent loop (hiredis' libevent adapter), reconnected with
 * back-off, with a deadline on every command.
 *
 * DESIGN
 * Commands are pipelined on the one connection, so their answers come back in the
 * order they were sent; a FIFO of send times is enough to see the oldest one overdue.
 * When one is (Redis stopped, or stopped answering), the connection is dropped: every
 * command in flight fails with ETIMEDOUT, and the client connects again. A command
 * sent while not connected fails at once (ENOTCONN): the caller decides (admission
 * answers 503; nothing waits on a dead Redis). URLs: redis://[:password@]host[:port][/db]
 * or unix:/path/to/socket (also unix:///path).
 */
#ifndef TRUNX_KV_H
#define TRUNX_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct redisReply;
struct kv;

struct kv_addr {
	bool     unix_socket;
	char     path[108];     /**< unix socket */
	char     host[128];     /**< TCP host */
	uint16_t port;          /**< default 6379 */
	char     password[128]; /**< "" = none */
	unsigned db;            /**< SELECT db; 0 = default */
};

/**
 * Parses a Redis URL.
 * @return 0, EINVAL (not a redis:// or unix: URL, bad port, path too long...)
 */
int kv_url_parse(const char *url, struct kv_addr *out);

struct kv_cfg {
	char     url[256];
	unsigned timeout_ms;     /**< a command unanswered this long drops the connection;
				      0 = 1000 */
	unsigned retry_min_ms;   /**< first reconnection delay; 0 = 100 */
	unsigned retry_max_ms;   /**< longest; 0 = 2000 */
};

/** Connected (and authenticated / db selected) or not. Control thread. */
typedef void (kv_state_h)(bool up, void *arg);

/**
 * A command's answer. err: 0 (r is the reply, valid during the call; it may be a
 * Redis error reply), ENOTCONN / ECONNRESET (no connection), ETIMEDOUT (deadline),
 * ESHUTDOWN (the client is being destroyed).
 */
typedef void (kv_reply_h)(int err, struct redisReply *r, void *arg);

int kv_create(struct kv **kp, struct event_base *base, const struct kv_cfg *cfg,
	      kv_state_h *sh, void *arg);
int kv_start(struct kv *k);
void kv_destroy(struct kv *k);

/**
 * Sends a command (argv with lengths). The handler is called exactly once unless this
 * returns an error.
 * @return 0, EINVAL, ENOMEM, ENOTCONN
 */
int kv_command(struct kv *k, kv_reply_h *h, void *arg, int argc, const char **argv,
	       const size_t *argvlen);

bool kv_up(const struct kv *k);

/** Commands in flight. */
size_t kv_pending(const struct kv *k);

#endif
