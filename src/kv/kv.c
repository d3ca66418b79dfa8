/*
 * kv.c — the Redis connection of the control thread (see kv.h): URL parsing, connecting
 * (AUTH, SELECT) with back-off, commands with a deadline, and the hiredis libevent
 * adapter.
 */
#include "kv/kv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"

#define SWEEP_MS 50

struct kv_cmd {
	struct kv     *k;
	struct kv_cmd *prev, *next;
	kv_reply_h    *h;
	void          *arg;
	uint64_t       sent_ms;
	bool           internal;   /**< AUTH / SELECT of the connection itself */
};

struct kv {
	struct kv_cfg      cfg;
	struct kv_addr     addr;
	struct event_base *base;
	kv_state_h        *sh;
	void              *arg;
	redisAsyncContext *ac;
	bool               started;
	bool               up;
	bool               connecting;
	bool               fail_logged;
	bool               timed_out;    /**< we dropped the connection for a deadline */
	bool               destroying;
	unsigned           retry_ms;
	struct event      *retry_ev, *sweep_ev;
	struct kv_cmd     *head, *tail;  /**< in flight, oldest first */
	size_t             n;
	unsigned           setup_left;   /**< AUTH/SELECT answers still awaited */
	uint64_t           connect_ms;   /**< when the attempt started */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- URL ---- */

int kv_url_parse(const char *url, struct kv_addr *out)
{
	const char *p, *at, *slash, *colon;
	size_t n;

	if (!url || !out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		n = strlen(p);
		if (n == 0 || p[0] != '/' || n >= sizeof(out->path))
			return EINVAL;
		out->unix_socket = true;
		memcpy(out->path, p, n + 1);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return EINVAL;
	p = url + 8;
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (at && slash && at > slash)
		at = NULL;
	if (at) {
		const char *pw = memchr(p, ':', (size_t)(at - p));

		if (!pw)
			pw = p - 1;   /* "password@" without a user */
		n = (size_t)(at - pw - 1);
		if (n >= sizeof(out->password))
			return EINVAL;
		memcpy(out->password, pw + 1, n);
		out->password[n] = '\0';
		p = at + 1;
	}
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0)
		return EINVAL;
	if (p[0] == '[') {
		const char *rb = memchr(p, ']', n);

		if (!rb || (size_t)(rb - p - 1) >= sizeof(out->host) || rb == p + 1)
			return EINVAL;
		memcpy(out->host, p + 1, (size_t)(rb - p - 1));
		out->host[rb - p - 1] = '\0';
		colon = rb + 1 < p + n && rb[1] == ':' ? rb + 1 : NULL;
		if (!colon && rb + 1 != p + n)
			return EINVAL;
	} else {
		colon = memchr(p, ':', n);
		if ((size_t)((colon ? colon : p + n) - p) >= sizeof(out->host) || colon == p)
			return EINVAL;
		memcpy(out->host, p, (size_t)((colon ? colon : p + n) - p));
		out->host[(colon ? colon : p + n) - p] = '\0';
	}
	if (strspn(out->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
	    strlen(out->host))
		return EINVAL;
	if (colon) {
		unsigned long v = 0;
		const char *q = colon + 1, *end = p + n;

		if (q == end || end - q > 5)
			return EINVAL;
		for (; q < end; q++) {
			if (*q < '0' || *q > '9')
				return EINVAL;
			v = v * 10 + (unsigned long)(*q - '0');
		}
		if (v == 0 || v > 65535)
			return EINVAL;
		out->port = (uint16_t)v;
	}
	if (slash && slash[1]) {
		unsigned long v = 0;

		for (const char *q = slash + 1; *q; q++) {
			if (*q < '0' || *q > '9' || v > 100000)
				return EINVAL;
			v = v * 10 + (unsigned long)(*q - '0');
		}
		out->db = (unsigned)v;
	}
	return 0;
}

/* ---- commands ---- */

static void cmd_unlink(struct kv *k, struct kv_cmd *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		k->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		k->tail = c->prev;
	k->n--;
}

static void connect_now(struct kv *k);
static void went_down(struct kv *k, const char *why);

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct kv_cmd *c = priv;
	struct kv *k = c->k;
	int err = 0;

	(void)ac;
	cmd_unlink(k, c);
	if (!r)
		err = k->destroying ? ESHUTDOWN : k->timed_out ? ETIMEDOUT : ECONNRESET;
	if (c->internal) {
		redisReply *rep = r;

		if (!err && rep->type == REDIS_REPLY_ERROR) {
			log_msg(LOG_ERROR, "kv.setup", "Redis refused the connection set-up: %.*s",
				(int)rep->len, rep->str);
			k->timed_out = false;
			redisAsyncDisconnect(k->ac);
		} else if (!err && --k->setup_left == 0) {
			k->up = true;
			k->fail_logged = false;
			k->retry_ms = k->cfg.retry_min_ms;
			log_msg(LOG_INFO, "kv.up", "Redis connection ready");
			if (k->sh)
				k->sh(true, k->arg);
		}
	} else if (c->h) {
		c->h(err, r, c->arg);
	}
	free(c);
}

static int send_cmd(struct kv *k, struct kv_cmd *c, int argc, const char **argv,
		    const size_t *argvlen)
{
	c->k = k;
	c->sent_ms = now_ms();
	c->prev = k->tail;
	c->next = NULL;
	if (k->tail)
		k->tail->next = c;
	else
		k->head = c;
	k->tail = c;
	k->n++;
	if (redisAsyncCommandArgv(k->ac, on_reply, c, argc, argv, argvlen) != REDIS_OK) {
		cmd_unlink(k, c);
		return ENOMEM;
	}
	return 0;
}

static void setup_cmd(struct kv *k, int argc, const char **argv)
{
	struct kv_cmd *c = calloc(1, sizeof(*c));
	size_t lens[2];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (!c || send_cmd(k, c, argc, argv, lens)) {
		free(c);
		redisAsyncDisconnect(k->ac);
		return;
	}
	c->internal = true;
	k->setup_left++;
}

/* ---- connection ---- */

static void schedule_retry(struct kv *k)
{
	struct timeval tv = {k->retry_ms / 1000, (k->retry_ms % 1000) * 1000};

	if (!k->started || k->destroying)
		return;
	event_add(k->retry_ev, &tv);
	k->retry_ms *= 2;
	if (k->retry_ms > k->cfg.retry_max_ms)
		k->retry_ms = k->cfg.retry_max_ms;
}

static void went_down(struct kv *k, const char *why)
{
	bool was_up = k->up;

	k->up = false;
	k->connecting = false;
	k->ac = NULL;
	k->setup_left = 0;
	if (k->destroying)   /* our own close at the stop: nothing was lost */
		return;
	if (was_up || !k->fail_logged)
		log_msg(LOG_WARN, "kv.down", "%s: %s",
			was_up ? "Redis connection lost" : "cannot connect to Redis", why);
	k->fail_logged = true;
	if (was_up && k->sh)
		k->sh(false, k->arg);
	schedule_retry(k);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct kv *k = ac->data;
	char db[16];

	if (status != REDIS_OK) {
		/* hiredis frees the context after this. */
		went_down(k, ac->errstr[0] ? ac->errstr : "connection failed");
		return;
	}
	k->connecting = false;
	if (k->addr.password[0]) {
		const char *a[2] = {"AUTH", k->addr.password};

		setup_cmd(k, 2, a);
	}
	if (k->addr.db) {
		const char *a[2] = {"SELECT", db};

		snprintf(db, sizeof(db), "%u", k->addr.db);
		setup_cmd(k, 2, a);
	}
	if (!k->setup_left) {
		const char *a[1] = {"PING"};

		setup_cmd(k, 1, a);   /* ready once it answers */
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct kv *k = ac->data;

	(void)status;
	went_down(k, k->timed_out ? "a command timed out" :
		     ac->errstr[0] ? ac->errstr : "closed");
	k->timed_out = false;
}

static void connect_now(struct kv *k)
{
	redisAsyncContext *ac;

	if (k->ac || k->destroying)
		return;
	k->timed_out = false;
	ac = k->addr.unix_socket ? redisAsyncConnectUnix(k->addr.path) :
				   redisAsyncConnect(k->addr.host, k->addr.port);
	if (!ac || ac->err) {
		const char *why = ac && ac->errstr[0] ? ac->errstr : "out of memory";

		if (!k->fail_logged)
			log_msg(LOG_WARN, "kv.down", "cannot connect to Redis: %s", why);
		k->fail_logged = true;
		if (ac)
			redisAsyncFree(ac);
		schedule_retry(k);
		return;
	}
	ac->data = k;
	if (redisLibeventAttach(ac, k->base) != REDIS_OK) {
		redisAsyncFree(ac);
		schedule_retry(k);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	k->ac = ac;
	k->connecting = true;
	k->connect_ms = now_ms();
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

/* Deadlines: the oldest command, or a connection attempt, overdue drops the link. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct kv *k = arg;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	if (!k->ac)
		return;
	if ((k->head && now - k->head->sent_ms > k->cfg.timeout_ms) ||
	    (k->connecting && now - k->connect_ms > k->cfg.timeout_ms)) {
		redisAsyncContext *ac = k->ac;

		log_msg(LOG_WARN, "kv.timeout", "no answer from Redis within %u ms; reconnecting",
			k->cfg.timeout_ms);
		k->timed_out = true;
		if (k->connecting) {
			/* No callback comes for an attempt freed before it completed. */
			k->ac = NULL;
			redisAsyncFree(ac);
			went_down(k, "connection attempt timed out");
			return;
		}
		redisAsyncFree(ac);   /* pending answers: NULL, then on_disconnect */
	}
}

/* ---- API ---- */

int kv_create(struct kv **kp, struct event_base *base, const struct kv_cfg *cfg,
	      kv_state_h *sh, void *arg)
{
	struct timeval tv = {0, SWEEP_MS * 1000};
	struct kv *k;

	if (!kp || !base || !cfg || !memchr(cfg->url, '\0', sizeof(cfg->url)))
		return EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return ENOMEM;
	k->cfg = *cfg;
	if (kv_url_parse(cfg->url, &k->addr)) {
		free(k);
		return EINVAL;
	}
	if (!k->cfg.timeout_ms)
		k->cfg.timeout_ms = 1000;
	if (!k->cfg.retry_min_ms)
		k->cfg.retry_min_ms = 100;
	if (!k->cfg.retry_max_ms)
		k->cfg.retry_max_ms = 2000;
	k->retry_ms = k->cfg.retry_min_ms;
	k->base = base;
	k->sh = sh;
	k->arg = arg;
	k->retry_ev = evtimer_new(base, on_retry, k);
	k->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, k);
	if (!k->retry_ev || !k->sweep_ev || event_add(k->sweep_ev, &tv) != 0) {
		kv_destroy(k);
		return ENOMEM;
	}
	*kp = k;
	return 0;
}

int kv_start(struct kv *k)
{
	if (!k)
		return EINVAL;
	k->started = true;
	connect_now(k);
	return 0;
}

void kv_destroy(struct kv *k)
{
	if (!k)
		return;
	k->destroying = true;
	k->sh = NULL;
	if (k->ac) {
		redisAsyncContext *ac = k->ac;

		k->ac = NULL;
		redisAsyncFree(ac);   /* pending answers get ESHUTDOWN */
	}
	if (k->retry_ev)
		event_free(k->retry_ev);
	if (k->sweep_ev)
		event_free(k->sweep_ev);
	free(k);
}

int kv_command(struct kv *k, kv_reply_h *h, void *arg, int argc, const char **argv,
	       const size_t *argvlen)
{
	struct kv_cmd *c;
	int err;

	if (!k || argc < 1 || !argv || !argvlen)
		return EINVAL;
	if (!k->up || !k->ac)
		return ENOTCONN;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->h = h;
	c->arg = arg;
	err = send_cmd(k, c, argc, argv, argvlen);
	if (err)
		free(c);
	return err;
}

bool kv_up(const struct kv *k)
{
	return k && k->up;
}

size_t kv_pending(const struct kv *k)
{
	return k ? k->n : 0;
}
