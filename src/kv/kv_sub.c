/*
 * kv_sub.c — a Redis subscriber on the control thread (see kv_sub.h): connection,
 * AUTH, SUBSCRIBE, the confirmation that makes it live, messages, and the reconnection
 * timer. hiredis parses the replies; only their shape is checked here.
 */
#include "kv/kv_sub.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "kv/kv.h"
#include "log.h"

#define RETRY_MS 1000

struct kv_sub {
	struct event_base *base;
	struct kv_addr     addr;
	char               channel[128];
	kv_sub_state_h    *sh;
	kv_sub_msg_h      *mh;
	void              *arg;
	redisAsyncContext *ac;
	struct event      *retry_ev;
	bool               live, destroying;
	unsigned long      generation;
};

static void set_live(struct kv_sub *s, bool live)
{
	if (s->live == live)
		return;
	s->live = live;
	if (live)
		s->generation++;
	if (s->sh && !s->destroying)
		s->sh(live, s->arg);
}

static void schedule(struct kv_sub *s)
{
	struct timeval tv = {RETRY_MS / 1000, (RETRY_MS % 1000) * 1000};

	if (!s->destroying)
		event_add(s->retry_ev, &tv);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct kv_sub *s = priv;
	redisReply *r = reply;

	if (!r || s->destroying || ac != s->ac)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "message") == 0) {
		if (r->element[2]->type == REDIS_REPLY_STRING && s->mh)
			s->mh(r->element[2]->str, r->element[2]->len, s->arg);
	} else if (strcmp(r->element[0]->str, "subscribe") == 0) {
		log_msg(LOG_INFO, "kv.subscribed", "listening on Redis channel %s", s->channel);
		set_live(s, true);
	}
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct kv_sub *s = ac->data;

	if (status != REDIS_OK) {
		if (s->ac == ac)
			s->ac = NULL;   /* hiredis frees it */
		set_live(s, false);
		schedule(s);
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct kv_sub *s = ac->data;

	(void)status;
	if (s->ac == ac)
		s->ac = NULL;
	if (s->live && !s->destroying)   /* not our own close at the stop */
		log_msg(LOG_WARN, "kv.unsubscribed", "Redis subscription to %s lost: %s",
			s->channel, ac->errstr[0] ? ac->errstr : "closed");
	set_live(s, false);
	schedule(s);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	struct kv_sub *s = priv;
	redisReply *r = reply;

	if (!r || s->destroying || ac != s->ac)
		return;
	if (r->type == REDIS_REPLY_ERROR) {   /* wrong password: the SUBSCRIBE fails too */
		log_msg(LOG_WARN, "kv.unsubscribed", "Redis refused AUTH: %s", r->str);
		redisAsyncDisconnect(ac);
	}
}

static void connect_now(struct kv_sub *s)
{
	redisAsyncContext *ac;

	if (s->ac || s->destroying)
		return;
	ac = s->addr.unix_socket ? redisAsyncConnectUnix(s->addr.path) :
		redisAsyncConnect(s->addr.host, s->addr.port);
	if (!ac || ac->err || redisLibeventAttach(ac, s->base) != REDIS_OK) {
		if (ac)
			redisAsyncFree(ac);
		schedule(s);
		return;
	}
	ac->data = s;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	s->ac = ac;
	if (s->addr.password[0])
		redisAsyncCommand(ac, on_auth, s, "AUTH %s", s->addr.password);
	redisAsyncCommand(ac, on_reply, s, "SUBSCRIBE %s", s->channel);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

int kv_sub_create(struct kv_sub **sp, struct event_base *base, const char *url,
		  const char *channel, kv_sub_state_h *sh, kv_sub_msg_h *mh, void *arg)
{
	struct kv_sub *s;

	if (!sp || !base || !url || !channel || !channel[0] || strlen(channel) >= 128 ||
	    strchr(channel, ' '))
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	if (kv_url_parse(url, &s->addr) != 0) {
		free(s);
		return EINVAL;
	}
	s->base = base;
	snprintf(s->channel, sizeof(s->channel), "%s", channel);
	s->sh = sh;
	s->mh = mh;
	s->arg = arg;
	s->retry_ev = evtimer_new(base, on_retry, s);
	if (!s->retry_ev) {
		free(s);
		return ENOMEM;
	}
	*sp = s;
	return 0;
}

int kv_sub_start(struct kv_sub *s)
{
	if (!s)
		return EINVAL;
	connect_now(s);
	return 0;
}

bool kv_sub_live(const struct kv_sub *s)
{
	return s && s->live;
}

unsigned long kv_sub_generation(const struct kv_sub *s)
{
	return s ? s->generation : 0;
}

void kv_sub_drain(struct kv_sub *s)
{
	struct pollfd p;

	if (!s || !s->ac || !s->live || s->destroying)
		return;
	p.fd = s->ac->c.fd;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 0) > 0)
		redisAsyncHandleRead(s->ac);   /* may disconnect: handlers see it */
}

void kv_sub_destroy(struct kv_sub *s)
{
	if (!s)
		return;
	s->destroying = true;
	if (s->ac) {
		redisAsyncContext *ac = s->ac;

		s->ac = NULL;
		redisAsyncFree(ac);   /* its callbacks see destroying */
	}
	if (s->retry_ev)
		event_free(s->retry_ev);
	free(s);
}
