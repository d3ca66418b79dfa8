/*
 * events.c — the event stream's life (see events.h): its connections, the Redis
 * publish after each commit and the subscriber that wakes this node's table reader
 * and webhook claims when any node committed events.
 */
#include "events/events_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "db/db.h"
#include "kv/kv.h"
#include "log.h"

#define SUB_RETRY_MS 1000

/* ---- publish ---- */

static void on_published(int err, struct redisReply *r, void *arg)
{
	(void)r;
	(void)arg;
	if (err)
		log_msg(LOG_DEBUG, "events.publish", "publish failed: %s (readers poll)",
			strerror(err));
}

void events_committed(const char *ids, void *arg)
{
	struct events *e = arg;
	char msg[256];
	const char *comma;

	if (!e || !ids || !ids[0])
		return;
	/* {"node": ..., "first": id, "last": id}: enough to wake a reader behind. */
	comma = strrchr(ids, ',');
	snprintf(msg, sizeof(msg), "{\"node\":\"%s\",\"first\":%.*s,\"last\":%s}", e->node_id,
		 (int)strcspn(ids, ","), ids, comma ? comma + 1 : ids);
	if (e->pub && kv_up(e->pub)) {
		const char *argv[3] = {"PUBLISH", EVENTS_CHANNEL, msg};
		size_t lens[3] = {7, strlen(EVENTS_CHANNEL), strlen(msg)};

		if (kv_command(e->pub, on_published, e, 3, argv, lens) == 0)
			e->n_published++;
	}
	stream_kick(e);
	hook_kick(e);
}

/* ---- subscriber: its own connection (a subscribed connection takes no commands) ---- */

static void sub_connect(struct events *e);

static void sub_schedule(struct events *e)
{
	struct timeval tv = {SUB_RETRY_MS / 1000, 0};

	if (!e->destroying)
		event_add(e->sub_retry_ev, &tv);
}

static void on_sub_msg(redisAsyncContext *ac, void *reply, void *priv)
{
	struct events *e = priv;
	redisReply *r = reply;

	(void)ac;
	if (!r || e->destroying)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING) {
		if (strcmp(r->element[0]->str, "message") == 0) {
			stream_kick(e);
			hook_kick(e);
		} else if (strcmp(r->element[0]->str, "subscribe") == 0) {
			e->sub_up = true;
			log_msg(LOG_INFO, "events.subscribed", "listening on Redis channel %s",
				EVENTS_CHANNEL);
			stream_kick(e);   /* publishes while we were away */
		}
	}
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
	struct events *e = ac->data;

	if (status != REDIS_OK) {
		e->sub = NULL;   /* hiredis frees it */
		sub_schedule(e);
	}
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
	struct events *e = ac->data;

	(void)status;
	e->sub = NULL;
	if (e->sub_up && !e->destroying)   /* not our own close at the stop */
		log_msg(LOG_WARN, "events.unsubscribed", "Redis subscription lost: %s",
			ac->errstr[0] ? ac->errstr : "closed");
	e->sub_up = false;
	sub_schedule(e);
}

static void sub_connect(struct events *e)
{
	struct kv_addr a;
	redisAsyncContext *ac;

	if (e->sub || e->destroying || kv_url_parse(e->redis_url, &a) != 0)
		return;
	ac = a.unix_socket ? redisAsyncConnectUnix(a.path) : redisAsyncConnect(a.host, a.port);
	if (!ac || ac->err || redisLibeventAttach(ac, e->base) != REDIS_OK) {
		if (ac)
			redisAsyncFree(ac);
		sub_schedule(e);
		return;
	}
	ac->data = e;
	redisAsyncSetConnectCallback(ac, on_sub_connect);
	redisAsyncSetDisconnectCallback(ac, on_sub_disconnect);
	e->sub = ac;
	if (a.password[0])
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s", a.password);
	redisAsyncCommand(ac, on_sub_msg, e, "SUBSCRIBE %s", EVENTS_CHANNEL);
}

static void on_sub_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sub_connect(arg);
}

/* ---- life ---- */

static void on_stream_state(bool up, void *arg)
{
	stream_db_state(arg, up);
}

static void on_hook_state(bool up, void *arg)
{
	if (up)
		hook_kick(arg);
}

int events_create(struct events **ep, struct event_base *base, const struct conf *cf,
		  char *err, size_t errlen)
{
	struct db_cfg dcfg = {0};
	struct events *e;
	int rc;

	if (!ep || !base || !cf || conf_mode(cf) != CONF_MODE_DB) {
		snprintf(err, errlen, "events need database mode");
		return EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->hook_retry_pending = -1;
	e->base = base;
	e->cfg = cf->events;
	if (events_sched_parse(e->cfg.webhook_retry, &e->sched) != 0) {
		snprintf(err, errlen, "bad [events] webhook_retry \"%s\"", e->cfg.webhook_retry);
		free(e);
		return EINVAL;
	}
	conf_node_id(cf, e->node_id, sizeof(e->node_id));
	snprintf(e->redis_url, sizeof(e->redis_url), "%s", cf->data.redis);
	snprintf(dcfg.conninfo, sizeof(dcfg.conninfo), "%s", cf->data.postgres);
	dcfg.query_timeout_ms = cf->data.query_timeout_ms;
	rc = db_create(&e->stream_db, base, &dcfg, on_stream_state, NULL, e);
	if (!rc)
		rc = db_create(&e->hook_db, base, &dcfg, on_hook_state, NULL, e);
	if (!rc && e->redis_url[0]) {
		struct kv_cfg kcfg = {0};

		snprintf(kcfg.url, sizeof(kcfg.url), "%s", e->redis_url);
		rc = kv_create(&e->pub, base, &kcfg, NULL, NULL);
		e->sub_retry_ev = rc ? NULL : evtimer_new(base, on_sub_retry, e);
		if (!rc && !e->sub_retry_ev)
			rc = ENOMEM;
	}
	if (rc)
		snprintf(err, errlen, "cannot create the event stream's connections: %s",
			 strerror(rc));
	if (!rc) {
		rc = stream_init(e);
		if (!rc)
			rc = hook_init(e);
		if (rc)
			snprintf(err, errlen, "cannot set up the event stream: %s", strerror(rc));
	}
	if (!rc)
		rc = dial_init(e, err, errlen);
	if (!rc && e->cfg.http_addr[0])
		rc = listen_init(e, err, errlen);
	if (rc) {
		events_destroy(e);
		return rc;
	}
	*ep = e;
	return 0;
}

int events_start(struct events *e)
{
	int err;

	if (!e)
		return EINVAL;
	err = db_start(e->stream_db);
	if (!err)
		err = db_start(e->hook_db);
	if (!err && e->pub)
		err = kv_start(e->pub);
	if (!err && e->redis_url[0])
		sub_connect(e);
	return err;
}

void events_status(struct events *e, json_t *obj)
{
	if (!e)
		return;
	json_object_set_new(obj, "events", json_pack(
		"{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:{s:I,s:I,s:I,s:I}}",
		"ready", e->ready, "last_id", (json_int_t)e->last,
		"published", (json_int_t)e->n_published, "read", (json_int_t)e->n_read,
		"sse_clients", (json_int_t)e->n_clients, "sse_sent", (json_int_t)e->n_sent,
		"sse_cut", (json_int_t)e->n_cut, "redis_subscribed", e->sub_up,
		"webhooks", "out", (json_int_t)e->n_out, "delivered", (json_int_t)e->n_hook_ok,
		"retried", (json_int_t)e->n_hook_retry, "dead", (json_int_t)e->n_hook_dead));
}

const double events_hook_lat_bounds[EVENTS_HOOK_LAT_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};

void events_get_counters(struct events *e, struct events_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->hook_retry_pending = -1;
	if (!e)
		return;
	c->hook_attempts = e->n_hook_attempts;
	c->hook_delivered = e->n_hook_ok;
	c->hook_failed = e->n_hook_retry + e->n_hook_dead;
	c->hook_dead = e->n_hook_dead;
	c->hook_in_flight = e->n_out;
	c->hook_retry_pending = e->hook_retry_pending;
	memcpy(c->hook_lat, e->hook_lat, sizeof(c->hook_lat));
	c->hook_lat_count = e->hook_lat_count;
	c->hook_lat_sum = e->hook_lat_sum;
	c->sse_clients = e->n_clients;
	c->sse_sent = e->n_sent;
	c->sse_replayed = e->n_replayed;
	c->sse_cut = e->n_cut;
	c->sse_refused = e->n_refused;
}

void events_destroy(struct events *e)
{
	if (!e)
		return;
	e->destroying = true;
	listen_fini(e);
	stream_fini(e);
	hook_fini(e);
	dial_fini(e);
	if (e->sub) {
		redisAsyncContext *ac = e->sub;

		e->sub = NULL;
		ac->data = e;
		redisAsyncFree(ac);
	}
	if (e->sub_retry_ev)
		event_free(e->sub_retry_ev);
	kv_destroy(e->pub);
	db_destroy(e->stream_db);
	db_destroy(e->hook_db);
	free(e);
}
