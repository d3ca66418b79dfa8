/*
 * data.c — database mode on the control thread (see data.h): the routing connection,
 * its loader, the hand-over of snapshots to the B2BUA, and what the B2BUA asks of or
 * tells the control thread (admission, trunk states).
 */
#include "data/data.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "admit/admit.h"
#include "cdr/cdr.h"
#include "db/db.h"
#include "db/db_load.h"
#include "events/events.h"
#include "log.h"

#define ROUTING_CHANNEL "trunx_routing"
#define ANSWER_RETRY_MS 10   /* the signalling thread's queue was full */

/* A job from another thread for the control thread (admission asks, releases). */
struct job {
	struct job *next;
	struct data *d;
	void      (*fn)(struct data *d, struct job *j);
	void       *token;               /**< the call, for its answer */
	enum admit_verdict v;            /**< the answer, while it waits to be delivered */
	struct admit_req req;
	char trunk[ROUTE_NAME_MAX];      /**< a trunk state change: the trunk */
	char tstate[12];                 /**< its state, "" = no longer probed */
};

/* A probed trunk's live state as the signalling thread last told it (hooks.trunk_state). */
struct tview {
	struct tview *next;
	char          name[ROUTE_NAME_MAX];
	char          state[12];
};

struct data {
	struct event_base *base;
	struct conf_data   cfg;
	struct b2bua      *b;
	struct db         *routing;     /**< LISTEN + snapshot loads */
	struct db_load    *loader;
	struct db         *writer;      /**< call records and events */
	struct cdr        *cdr;
	struct admit      *admit;
	struct events     *events;      /**< the event stream, SSE and webhooks */
	char               node_id[64];
	struct route_table *rt;         /**< the snapshot handed over last (reports) */

	pthread_mutex_t    lock;        /**< guards inbox */
	struct job        *inbox, *inbox_tail;
	int                efd;
	struct event      *inbox_ev, *answer_ev;
	struct job        *answers;     /**< answers the signalling thread could not take yet */
	bool               have_first;  /**< a snapshot reached the B2BUA */
	size_t             n_trunks, n_routes, n_dids;
	struct tview      *tviews;      /**< probed trunks' live states (control thread) */
};

static void on_snapshot(struct route_table *rt, const struct db_load_stats *st, void *arg)
{
	struct data *d = arg;
	int err = b2bua_set_routes(d->b, rt);

	if (err)
		log_msg(LOG_ERROR, "routing.apply", "cannot hand the routing snapshot over: %s",
			strerror(err));
	else
		d->have_first = true;
	d->n_trunks = st->carriers + st->peers;
	d->n_routes = st->routes + st->oroutes;
	d->n_dids = st->dids;
	route_table_unref(d->rt);
	d->rt = rt;   /* our reference: kept for reports */
}

/* ---- jobs from other threads ---- */

static void post(struct data *d, struct job *j)
{
	uint64_t one = 1;
	bool wake;

	j->next = NULL;
	pthread_mutex_lock(&d->lock);
	wake = d->inbox == NULL;
	if (d->inbox_tail)
		d->inbox_tail->next = j;
	else
		d->inbox = j;
	d->inbox_tail = j;
	pthread_mutex_unlock(&d->lock);
	if (wake)
		while (write(d->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct data *d = arg;
	struct job *list, *j;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&d->lock);
	list = d->inbox;
	d->inbox = d->inbox_tail = NULL;
	pthread_mutex_unlock(&d->lock);
	while ((j = list) != NULL) {
		list = j->next;
		j->fn(d, j);
	}
}

/* Delivers an answer; one the signalling thread cannot take now waits its turn. */
static void deliver(struct data *d, struct job *j)
{
	int err = d->b ? b2bua_admitted(d->b, j->token, j->v) : ESHUTDOWN;

	if (err == EAGAIN || err == ENOMEM) {
		struct timeval tv = {0, ANSWER_RETRY_MS * 1000};

		j->next = d->answers;
		d->answers = j;
		evtimer_add(d->answer_ev, &tv);
		return;
	}
	free(j);   /* delivered, or the B2BUA stopped */
}

static void on_answer_retry(evutil_socket_t fd, short what, void *arg)
{
	struct data *d = arg;
	struct job *list = d->answers, *j, *rev = NULL;

	(void)fd;
	(void)what;
	d->answers = NULL;
	while ((j = list) != NULL) {   /* oldest first */
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while ((j = rev) != NULL) {
		rev = j->next;
		deliver(d, j);
	}
}

static void on_verdict(enum admit_verdict v, void *arg)
{
	struct job *j = arg;

	j->v = v;
	deliver(j->d, j);
}

static void job_admit(struct data *d, struct job *j)
{
	j->d = d;
	admit_request(d->admit, &j->req, on_verdict, j);
}

static void job_release(struct data *d, struct job *j)
{
	admit_release(d->admit, j->req.lease);
	free(j);
}

static int hook_admit(const struct admit_req *req, void *token, void *arg)
{
	struct data *d = arg;
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return ENOMEM;
	j->fn = job_admit;
	j->token = token;
	j->req = *req;
	post(d, j);
	return 0;
}

static void hook_release(const char *lease, void *arg)
{
	struct data *d = arg;
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		log_msg(LOG_WARN, "admission.release", "out of memory: lease %s expires by itself",
			lease);
		return;
	}
	j->fn = job_release;
	snprintf(j->req.lease, sizeof(j->req.lease), "%s", lease);
	post(d, j);
}

static void job_trunk(struct data *d, struct job *j)
{
	struct tview **pp = &d->tviews, *v;

	while (*pp && strcmp((*pp)->name, j->trunk) != 0)
		pp = &(*pp)->next;
	v = *pp;
	if (!j->tstate[0]) {
		if (v) {
			*pp = v->next;
			free(v);
		}
	} else {
		if (!v && (v = calloc(1, sizeof(*v))) != NULL) {
			snprintf(v->name, sizeof(v->name), "%s", j->trunk);
			v->next = d->tviews;
			d->tviews = v;
		}
		if (v)
			snprintf(v->state, sizeof(v->state), "%s", j->tstate);
	}
	free(j);
}

static void hook_trunk_state(const char *trunk, const char *state, void *arg)
{
	struct data *d = arg;
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return;   /* /metrics shows the previous state until the next change */
	j->fn = job_trunk;
	snprintf(j->trunk, sizeof(j->trunk), "%s", trunk);
	snprintf(j->tstate, sizeof(j->tstate), "%s", state ? state : "");
	post(d, j);
}

static void on_routing_state(bool up, void *arg)
{
	struct data *d = arg;

	if (up)
		db_load_all(d->loader);   /* notifications may have been missed */
}

static void on_routing_notify(const char *chan, const char *payload, void *arg)
{
	struct data *d = arg;

	if (strcmp(chan, ROUTING_CHANNEL) == 0)
		db_load_notify(d->loader, payload);
}

static void on_writer_state(bool up, void *arg)
{
	struct data *d = arg;

	cdr_db_state(d->cdr, up);
}

static void on_record(char *json, void *arg)
{
	struct data *d = arg;

	cdr_submit(d->cdr, json);
}

int data_create(struct data **dp, struct event_base *base, const struct conf *cf,
		struct b2bua *b)
{
	struct db_cfg dcfg = {0};
	struct cdr_cfg ccfg = {0};
	struct data *d;
	char why[512] = "";
	int err;

	if (!dp || !base || !cf || !b || conf_mode(cf) != CONF_MODE_DB)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->base = base;
	d->cfg = cf->data;
	d->b = b;
	d->efd = -1;
	pthread_mutex_init(&d->lock, NULL);
	snprintf(dcfg.conninfo, sizeof(dcfg.conninfo), "%s", cf->data.postgres);
	dcfg.query_timeout_ms = cf->data.query_timeout_ms;
	err = db_create(&d->routing, base, &dcfg, on_routing_state, on_routing_notify, d);
	if (!err)
		err = db_listen(d->routing, ROUTING_CHANNEL);
	if (!err)
		err = db_load_create(&d->loader, base, d->routing, on_snapshot, d);
	if (!err)
		db_load_set_listen(d->loader, cf->sip.listen_addr, cf->sip.tls_addr);
	if (!err)
		err = db_create(&d->writer, base, &dcfg, on_writer_state, NULL, d);
	if (!err) {
		snprintf(ccfg.journal_dir, sizeof(ccfg.journal_dir), "%s", cf->data.journal_dir);
		ccfg.batch = cf->data.cdr_batch;
		ccfg.flush_ms = cf->data.cdr_flush_ms;
		err = cdr_create(&d->cdr, base, d->writer, &ccfg, why, sizeof(why));
		if (err)
			log_msg(LOG_ERROR, "cdr.journal", "%s", why);
	}
	if (!err) {
		struct admit_cfg acfg = {0};

		snprintf(acfg.redis_url, sizeof(acfg.redis_url), "%s", cf->data.redis);
		conf_node_id(cf, acfg.node_id, sizeof(acfg.node_id));
		snprintf(d->node_id, sizeof(d->node_id), "%s", acfg.node_id);
		acfg.lease_ttl_s = cf->data.lease_ttl;
		acfg.timeout_ms = cf->data.admit_timeout_ms;
		err = admit_create(&d->admit, base, &acfg);
	}
	if (!err) {
		err = events_create(&d->events, base, cf, why, sizeof(why));
		if (err)
			log_msg(LOG_ERROR, "events.start", "%s", why);
		else
			cdr_set_events_hook(d->cdr, events_committed, d->events);
	}
	if (!err) {
		d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		d->inbox_ev = d->efd >= 0 ? event_new(base, d->efd, EV_READ | EV_PERSIST, on_inbox, d) :
					    NULL;
		d->answer_ev = evtimer_new(base, on_answer_retry, d);
		if (!d->inbox_ev || !d->answer_ev || event_add(d->inbox_ev, NULL) != 0)
			err = ENOMEM;
	}
	if (err) {
		data_destroy(d);
		return err;
	}
	*dp = d;
	return 0;
}

int data_start(struct data *d)
{
	int err;

	if (!d)
		return EINVAL;
	err = db_start(d->routing);
	if (!err)
		err = db_start(d->writer);
	if (!err)
		err = events_start(d->events);
	return err ? err : admit_start(d->admit);
}

void data_hooks(struct data *d, struct b2bua_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->cdr = on_record;
	h->event = on_record;
	h->admit = hook_admit;
	h->release = hook_release;
	h->trunk_state = hook_trunk_state;
	h->arg = d;
}

int data_drain(struct data *d, unsigned timeout_ms)
{
	return d ? cdr_drain(d->cdr, timeout_ms) : 0;
}

void data_status(struct data *d, json_t *obj)
{
	struct cdr_stats st;

	if (!d)
		return;
	cdr_get_stats(d->cdr, &st);
	json_object_set_new(obj, "data", json_pack(
		"{s:s,s:s,s:{s:I,s:I,s:I},s:{s:s,s:I,s:I,s:I,s:I,s:I,s:I}}",
		"mode", "database",
		"postgres", db_up(d->routing) ? "up" : "down",
		"routing", "trunks", (json_int_t)d->n_trunks, "routes", (json_int_t)d->n_routes,
		"dids", (json_int_t)d->n_dids,
		"cdr", "postgres", st.db_up ? "up" : "down",
		"submitted", (json_int_t)st.submitted, "journaled", (json_int_t)st.journaled,
		"committed", (json_int_t)st.committed, "pending", (json_int_t)st.pending,
		"replayed", (json_int_t)st.replayed, "rejected", (json_int_t)st.rejected));
	json_object_set_new(json_object_get(obj, "data"), "node_id", json_string(d->node_id));
	json_object_set_new(json_object_get(obj, "data"), "admission", json_pack("{s:s,s:s,s:I}",
		"backend", d->cfg.redis[0] ? "redis" : "local",
		"available", admit_available(d->admit) ? "yes" : "no",
		"leases", (json_int_t)admit_leases(d->admit)));
	events_status(d->events, json_object_get(obj, "data"));
}

struct events *data_events(struct data *d)
{
	return d ? d->events : NULL;
}

void data_budgets(struct data *d, void (*h)(char *json, void *arg), void *arg)
{
	if (!d || !d->rt) {
		h(NULL, arg);
		return;
	}
	admit_report(d->admit, d->rt, h, arg);
}

void data_trunk_states(struct data *d, data_trunk_h *h, void *arg)
{
	size_t n = d && d->rt ? route_table_trunk_count(d->rt) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct trunk_cfg *tc = trunk_get_cfg(route_table_trunk_at(d->rt, i));
		const char *kind = tc->kind == TRUNK_KIND_CARRIER ? "carrier" :
				   tc->kind == TRUNK_KIND_PEER ? "peer" : "file";
		const char *st = "up";   /* not probed: routed to, as b2b_trunk_usable does */

		if (tc->status == TRUNK_MAINTENANCE) {
			st = "maintenance";
		} else if (tc->status == TRUNK_INACTIVE) {
			st = "inactive";
		} else {
			for (const struct tview *v = d->tviews; v; v = v->next)
				if (strcmp(v->name, tc->name) == 0) {
					st = v->state;
					break;
				}
		}
		h(tc->name, kind, st, arg);
	}
}

void data_pool_use(struct data *d, admit_use_h *h, void *arg)
{
	if (d && d->rt)
		admit_node_use(d->admit, d->rt, h, arg);
}

int data_wait_first(struct data *d, unsigned timeout_s, char *err, size_t errlen)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!d->have_first) {
		struct timeval tv = {0, 100000};

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= (time_t)timeout_s) {
			snprintf(err, errlen, "no routing snapshot from Postgres within %u s%s",
				 timeout_s, db_up(d->routing) ? "" : " (not connected)");
			return ETIMEDOUT;
		}
		event_base_loopexit(d->base, &tv);
		event_base_dispatch(d->base);
	}
	return 0;
}

void data_reload(struct data *d)
{
	if (d)
		db_load_all(d->loader);
}

void data_counts(const struct data *d, size_t *trunks, size_t *routes, size_t *dids)
{
	if (trunks)
		*trunks = d ? d->n_trunks : 0;
	if (routes)
		*routes = d ? d->n_routes : 0;
	if (dids)
		*dids = d ? d->n_dids : 0;
}

void data_destroy(struct data *d)
{
	if (!d)
		return;
	d->b = NULL;   /* destroyed before us: late answers are dropped */
	/* The loader first: the client then answers its job in flight (ESHUTDOWN) and
	 * the job, orphaned, frees itself. */
	db_load_destroy(d->loader);
	db_destroy(d->routing);
	events_destroy(d->events);   /* ends the streams and attempts first */
	d->events = NULL;
	cdr_set_events_hook(d->cdr, NULL, NULL);
	cdr_destroy(d->cdr);   /* journals what is still in hand */
	db_destroy(d->writer);
	/* Jobs still in the inbox: releases matter to Redis only (leases expire);
	 * admission asks belong to calls the B2BUA has freed. */
	while (d->inbox) {
		struct job *j = d->inbox;

		d->inbox = j->next;
		free(j);
	}
	while (d->answers) {
		struct job *j = d->answers;

		d->answers = j->next;
		free(j);
	}
	admit_destroy(d->admit);
	while (d->tviews) {
		struct tview *v = d->tviews;

		d->tviews = v->next;
		free(v);
	}
	if (d->inbox_ev)
		event_free(d->inbox_ev);
	if (d->answer_ev)
		event_free(d->answer_ev);
	if (d->efd >= 0)
		close(d->efd);
	route_table_unref(d->rt);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
