/*
 * data.c — database mode on the control thread (see data.h): the routing connection,
 * its loader, and the hand-over of snapshots to the B2BUA.
 */
#include "data/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cdr/cdr.h"
#include "db/db.h"
#include "db/db_load.h"
#include "log.h"

#define ROUTING_CHANNEL "trunx_routing"

struct data {
	struct event_base *base;
	struct conf_data   cfg;
	struct b2bua      *b;
	struct db         *routing;     /**< LISTEN + snapshot loads */
	struct db_load    *loader;
	struct db         *writer;      /**< call records and events */
	struct cdr        *cdr;
	bool               have_first;  /**< a snapshot reached the B2BUA */
	size_t             n_trunks, n_routes, n_dids;
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
	route_table_unref(rt);
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
	snprintf(dcfg.conninfo, sizeof(dcfg.conninfo), "%s", cf->data.postgres);
	dcfg.query_timeout_ms = cf->data.query_timeout_ms;
	err = db_create(&d->routing, base, &dcfg, on_routing_state, on_routing_notify, d);
	if (!err)
		err = db_listen(d->routing, ROUTING_CHANNEL);
	if (!err)
		err = db_load_create(&d->loader, base, d->routing, on_snapshot, d);
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
	return err ? err : db_start(d->writer);
}

void data_hooks(struct data *d, struct b2bua_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->cdr = on_record;
	h->event = on_record;
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
	/* The loader first: the client then answers its job in flight (ESHUTDOWN) and
	 * the job, orphaned, frees itself. */
	db_load_destroy(d->loader);
	db_destroy(d->routing);
	cdr_destroy(d->cdr);   /* journals what is still in hand */
	db_destroy(d->writer);
	free(d);
}
