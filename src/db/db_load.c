/*
 * db_load.c — routing snapshots from the tables (see db_load.h): the load jobs, their
 * queries and row handlers, the snapshot builder, and the fold of the DID table's
 * changes into a new base on a builder thread.
 */
#include "db/db_load.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "db/db_rows.h"
#include "log.h"

#define DEBOUNCE_MS     20
#define RETRY_MS        1000
#define MAX_WANTED_DIDS 10000   /* more pending numbers than this: read them all */
#define MAX_ROW_LOGS    20      /* refused rows logged per load (then counted) */
#define MAX_COLS        32
/* A layered DID table is folded into a new base once its changes pass this share of
 * the base (1/256: 3,900 changes over a million), and at least FOLD_MIN. */
#ifndef FOLD_MIN
#define FOLD_MIN        64
#endif
#define FOLD_SHARE      256

/* The media columns of trunks and peers (db_rows.h, DBT_SRTP...): migration 005's,
 * then 006's latch. */
#define MEDIA_COLS ", srtp, srtp_without_tls::text, tls_verify::text, dtmf, " \
	"opus_complexity::text, opus_fec::text, opus_dtx::text, latch"
/* record_dir and amd of DIDs and rules. */
#define RECAMD_COLS "coalesce(record_dir, ''), amd::text"
static const char SQL_CARRIERS[] =
	"SELECT id::text, name, '', trunk_group, coalesce(endpoint_host, ''), "
	"endpoint_port::text, transport, array_to_string(identify_match_ips, ' '), "
	"identify_port::text, auth_type, coalesce(auth_username, ''), "
	"coalesce(auth_secret, ''), inbound_auth::text, registration::text, "
	"register_expires::text, array_to_string(codecs, ','), qualify_frequency::text, "
	"outbound_dial_format, status, configuration::text" MEDIA_COLS
	" FROM carrier_trunks ORDER BY name";
static const char SQL_PEERS[] =
	"SELECT id::text, name, tenant_id, '', coalesce(host, ''), port::text, transport, "
	"array_to_string(identify_match_ips, ' '), identify_port::text, "
	"CASE WHEN auth_username IS NULL THEN 'none' ELSE 'userpass' END, "
	"coalesce(auth_username, ''), coalesce(auth_secret, ''), inbound_auth::text, "
	"'false', '300', array_to_string(codecs, ','), qualify_frequency::text, "
	"outbound_dial_format, status, configuration::text" MEDIA_COLS
	" FROM customer_peers ORDER BY name";
static const char SQL_TENANTS[] =
	"SELECT id, name, status, (runtime_config IS NOT NULL AND "
	"jsonb_typeof(runtime_config) = 'object' AND "
	"coalesce(runtime_config->>'contract_version', '') ~ '^[1-9][0-9]{0,8}$')::text, "
	"coalesce(max_calls::text, ''), coalesce(default_did, '') FROM tenants ORDER BY id";
static const char SQL_ROUTES[] =
	"SELECT name, match, coalesce(from_trunk, ''), coalesce(to_trunk, ''), "
	"coalesce(uri, ''), " RECAMD_COLS " FROM routes ORDER BY name";
static const char SQL_OROUTES[] =
	"SELECT coalesce(o.tenant_id, ''), o.prefix, o.priority::text, o.weight::text, t.name, "
	"coalesce(o.record_dir, ''), o.amd::text "
	"FROM outbound_routes o JOIN carrier_trunks t ON t.id = o.trunk_id "
	"WHERE o.enabled ORDER BY o.id";
static const char SQL_POOLS[] =
	"SELECT trunk_group, pool, channels::text FROM channel_pools ORDER BY 1, 2";
static const char SQL_SETTINGS[] = "SELECT key, value FROM settings ORDER BY key";
#define DID_COLS "number, coalesce(trunk_id::text, ''), coalesce(tenant_id, ''), " \
	"destination_type, coalesce(peer_id::text, ''), coalesce(destination_uri, ''), " \
	"coalesce(announcement, ''), status, " RECAMD_COLS " FROM did_numbers"
static const char SQL_DIDS[] = "SELECT " DID_COLS;
static const char SQL_SOME_DIDS[] = "SELECT " DID_COLS " WHERE number = ANY($1::text[])";

/** The small tables as last read (kept to rebuild a snapshot around new DIDs). */
struct small {
	struct trunk_cfg      *carriers, *peers;
	size_t                 n_carriers, n_peers;
	struct tenant_cfg     *tenants;
	size_t                 n_tenants;
	struct route_cfg      *routes;
	size_t                 n_routes;
	struct oroute_cfg     *oroutes;
	size_t                 n_oroutes;
	struct pool_cfg       *pools;
	size_t                 n_pools;
	struct route_settings  settings;
};

enum job_kind { JOB_FULL, JOB_SMALL, JOB_DIDS_ALL, JOB_DIDS_SOME };

struct job {
	struct db_load     *l;
	enum job_kind       kind;
	bool                failed;
	struct small        s;          /**< JOB_FULL, JOB_SMALL */
	struct route_dids  *dids;       /**< being built or changed */
	char              (*some)[ROUTE_E164_SIZE];   /**< JOB_DIDS_SOME: the numbers */
	size_t              n_some;
	bool               *seen;       /**< JOB_DIDS_SOME: a row came back for some[i] */
	size_t              dids_read, skipped, logged;
	struct timespec     t0;
};

/** A fold: the DID table `src` (frozen, layered) copied into a plain table on a thread. */
struct fold {
	pthread_t          thread;
	bool               running;      /**< thread started, not yet joined */
	struct route_dids *src;
	struct route_dids *out;          /**< frozen; NULL on failure */
	int                err;
	struct timespec    t0;
	int                efd;          /**< the thread's "done" (eventfd) */
	struct event      *ev;
	bool               done;         /**< waits for the job in flight to end */
};

struct db_load {
	struct event_base *base;
	struct db         *db;
	db_load_apply_h   *h;
	void              *arg;
	struct event      *timer;
	bool               timer_armed;
	struct job        *job;          /**< in flight */
	bool               have_small;   /**< a full load succeeded once */
	struct small       small;
	struct route_dids *dids;         /**< current (frozen) */
	bool               want_small, want_dids_all;
	char             (*want)[ROUTE_E164_SIZE];
	size_t             n_want, cap_want;
	unsigned           generation;
	struct fold        fold;
	char               listen[CONF_HOST_MAX], tls_listen[CONF_HOST_MAX];
};

/* ---- small tables ---- */

static void small_free(struct small *s)
{
	free(s->carriers);
	free(s->peers);
	free(s->tenants);
	free(s->routes);
	free(s->oroutes);
	free(s->pools);
	memset(s, 0, sizeof(*s));
}

static int push(void **arr, size_t *n, size_t elem, const void *item)
{
	void *a = realloc(*arr, (*n + 1) * elem);

	if (!a)
		return ENOMEM;
	memcpy((char *)a + *n * elem, item, elem);
	*arr = a;
	(*n)++;
	return 0;
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
	if (!j)
		return;
	small_free(&j->s);
	route_dids_unref(j->dids);
	free(j->some);
	free(j->seen);
	free(j);
}

static void row_refused(struct job *j, const char *table, const char *key, const char *why)
{
	j->skipped++;
	if (j->logged++ < MAX_ROW_LOGS)
		log_msg(LOG_WARN, "routing.row", "%s %.80s skipped: %s", table, key, why);
}

static size_t row_cols(const PGresult *r, int row, const char **cols)
{
	int n = PQnfields(r);

	if (n > MAX_COLS)
		n = MAX_COLS;
	for (int c = 0; c < n; c++)
		cols[c] = PQgetvalue(r, row, c);
	return (size_t)n;
}

static void job_failed(struct job *j, int err, const char *msg)
{
	if (!j->failed)
		log_msg(LOG_WARN, "routing.load_failed", "routing load failed: %s",
			msg && *msg ? msg : strerror(err));
	j->failed = true;
}

static void on_trunks(int err, const PGresult *r, const char *msg, bool more, void *arg,
		      enum trunk_kind kind)
{
	struct job *j = arg;
	const char *cols[MAX_COLS];
	char why[400];

	(void)more;
	if (err) {
		job_failed(j, err, msg);
		return;
	}
	for (int i = 0; r && i < PQntuples(r); i++) {
		struct trunk_cfg t;
		size_t n = row_cols(r, i, cols);

		if (db_row_trunk(cols, n, kind, &t, why, sizeof(why)) ||
		    conf_uri_family_check(t.uri, j->l->listen, j->l->tls_listen, why,
					  sizeof(why))) {
			row_refused(j, kind == TRUNK_KIND_PEER ? "customer_peers" : "carrier_trunks",
				    n > DBT_NAME ? cols[DBT_NAME] : "?", why);
			continue;
		}
		if (kind == TRUNK_KIND_PEER ?
		    push((void **)&j->s.peers, &j->s.n_peers, sizeof(t), &t) :
		    push((void **)&j->s.carriers, &j->s.n_carriers, sizeof(t), &t))
			job_failed(j, ENOMEM, NULL);
	}
}

static void on_carriers(int err, const PGresult *r, const char *msg, bool more, void *arg)
{
	on_trunks(err, r, msg, more, arg, TRUNK_KIND_CARRIER);
}

static void on_peers(int err, const PGresult *r, const char *msg, bool more, void *arg)
{
	on_trunks(err, r, msg, more, arg, TRUNK_KIND_PEER);
}

/*
 * A row handler for a table whose rows become one array of the snapshot: each row is
 * parsed by parse() (a row it refuses is logged under its key column) and appended.
 */
#define ROWS_INTO(fn, table, keycol, type, parse, field)                                  \
	static void fn(int err, const PGresult *r, const char *msg, bool more, void *arg) \
	{                                                                                 \
		struct job *j = arg;                                                      \
		const char *cols[MAX_COLS];                                               \
		char why[160];                                                            \
                                                                                          \
		(void)more;                                                               \
		if (err) {                                                                \
			job_failed(j, err, msg);                                          \
			return;                                                           \
		}                                                                         \
		for (int i = 0; r && i < PQntuples(r); i++) {                             \
			type row;                                                         \
			size_t n = row_cols(r, i, cols);                                  \
                                                                                          \
			if (parse(cols, n, &row, why, sizeof(why)))                       \
				row_refused(j, table, n > keycol ? cols[keycol] : "?", why); \
			else if (push((void **)&j->s.field, &j->s.n_##field, sizeof(row), \
				      &row))                                              \
				job_failed(j, ENOMEM, NULL);                              \
		}                                                                         \
	}

ROWS_INTO(on_tenants, "tenants", 0, struct tenant_cfg, db_row_tenant, tenants)
ROWS_INTO(on_routes, "routes", 0, struct route_cfg, db_row_route, routes)
ROWS_INTO(on_oroutes, "outbound_routes", 0, struct oroute_cfg, db_row_oroute, oroutes)
ROWS_INTO(on_pools, "channel_pools", 1, struct pool_cfg, db_row_pool, pools)

static void on_settings(int err, const PGresult *r, const char *msg, bool more, void *arg)
{
	struct job *j = arg;
	const char *cols[MAX_COLS];
	char why[160];

	(void)more;
	if (err) {
		job_failed(j, err, msg);
		return;
	}
	route_settings_default(&j->s.settings);
	for (int i = 0; r && i < PQntuples(r); i++) {
		size_t n = row_cols(r, i, cols);

		if (db_row_setting(cols, n, &j->s.settings, why, sizeof(why)))
			row_refused(j, "settings", n ? cols[0] : "?", why);
	}
}

static void on_did_row(int err, const PGresult *r, const char *msg, bool more, void *arg)
{
	struct job *j = arg;
	const char *cols[MAX_COLS];
	char why[160];

	if (err) {
		job_failed(j, err, msg);
		return;
	}
	if (!more || !r || j->failed)
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		struct did_cfg d;
		size_t n = row_cols(r, i, cols);

		j->dids_read++;
		if (db_row_did(cols, n, &d, why, sizeof(why))) {
			row_refused(j, "did_numbers", n ? cols[0] : "?", why);
			continue;
		}
		if (j->seen) {
			for (size_t k = 0; k < j->n_some; k++)
				if (strcmp(j->some[k], d.number) == 0)
					j->seen[k] = true;
		}
		if (route_dids_put(j->dids, &d))
			job_failed(j, ENOMEM, NULL);
	}
}

/* ---- building and applying ---- */

static const char *kind_name(const struct trunk_cfg *t)
{
	return t->kind == TRUNK_KIND_PEER ? "customer_peers" : "carrier_trunks";
}

static struct route_table *build(struct job *j, const struct small *s,
				 struct route_dids *dids, struct db_load_stats *st)
{
	struct route_table *rt = NULL;
	char why[256];

	if (route_table_create(&rt))
		return NULL;
	for (size_t k = 0; k < 2; k++) {
		const struct trunk_cfg *arr = k ? s->peers : s->carriers;
		size_t n = k ? s->n_peers : s->n_carriers;

		for (size_t i = 0; i < n; i++) {
			if (route_table_add_trunk(rt, &arr[i], why, sizeof(why)))
				row_refused(j, kind_name(&arr[i]), arr[i].name, why);
			else if (k)
				st->peers++;
			else
				st->carriers++;
		}
	}
	for (size_t i = 0; i < s->n_routes; i++) {
		if (route_table_add_route(rt, &s->routes[i], why, sizeof(why)))
			row_refused(j, "routes", s->routes[i].name, why);
		else
			st->routes++;
	}
	for (size_t i = 0; i < s->n_tenants; i++) {
		if (route_table_add_tenant(rt, &s->tenants[i], why, sizeof(why)))
			row_refused(j, "tenants", s->tenants[i].id, why);
		else
			st->tenants++;
	}
	for (size_t i = 0; i < s->n_oroutes; i++) {
		if (route_table_add_oroute(rt, &s->oroutes[i], why, sizeof(why)))
			row_refused(j, "outbound_routes", s->oroutes[i].prefix, why);
		else
			st->oroutes++;
	}
	for (size_t i = 0; i < s->n_pools; i++) {
		if (route_table_add_pool(rt, &s->pools[i], why, sizeof(why)))
			row_refused(j, "channel_pools", s->pools[i].pool, why);
		else
			st->pools++;
	}
	route_table_set_settings(rt, &s->settings);
	if (dids)
		route_table_set_dids(rt, dids);
	if (route_table_freeze(rt)) {
		route_table_unref(rt);
		return NULL;
	}
	st->dids = route_dids_count(dids);
	return rt;
}

static void schedule(struct db_load *l, unsigned ms);

static unsigned elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (unsigned)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Puts a failed job's requests back so that the next load covers them. */
static void job_requeue(struct db_load *l, struct job *j)
{
	if (j->kind == JOB_FULL || j->kind == JOB_SMALL || !l->have_small)
		l->want_small = true;
	if (j->kind == JOB_FULL || j->kind == JOB_DIDS_ALL || !l->dids)
		l->want_dids_all = true;
	if (j->kind == JOB_DIDS_SOME)
		l->want_dids_all = true;   /* simpler than merging lists back */
}

/* ---- the fold ---- */

static void *fold_thread(void *arg)
{
	struct fold *f = arg;
	uint64_t one = 1;

	f->err = route_dids_copy(&f->out, f->src);
	if (!f->err)
		route_dids_freeze(f->out);
	if (write(f->efd, &one, sizeof(one)) < 0)
		f->err = f->err ? f->err : errno;
	return NULL;
}

/* Folds the current DID table's changes into a new base when they have grown. */
static void fold_maybe(struct db_load *l)
{
	struct fold *f = &l->fold;
	size_t base = route_dids_count(route_dids_base(l->dids));
	size_t at = base / FOLD_SHARE > FOLD_MIN ? base / FOLD_SHARE : FOLD_MIN;

	if (f->running || !l->dids || route_dids_changes(l->dids) < at)
		return;
	f->src = route_dids_ref(l->dids);
	f->out = NULL;
	f->err = 0;
	f->done = false;
	clock_gettime(CLOCK_MONOTONIC, &f->t0);
	if (pthread_create(&f->thread, NULL, fold_thread, f) != 0) {
		route_dids_unref(f->src);
		f->src = NULL;
		return;   /* tried again after the next change */
	}
	f->running = true;
}

static void fold_apply(struct db_load *l);

static void on_fold_done(evutil_socket_t fd, short what, void *arg)
{
	struct db_load *l = arg;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 || !l->fold.running)
		return;
	pthread_join(l->fold.thread, NULL);
	l->fold.running = false;
	l->fold.done = true;
	if (!l->job)   /* else when the job ends: it changes the table being rebased */
		fold_apply(l);
}

static void job_done(int err, const PGresult *r, const char *msg, bool more, void *arg)
{
	struct job *j = arg;
	struct db_load *l = j->l;
	struct db_load_stats st = {0};
	struct route_table *rt;
	const struct small *s;

	(void)r;
	(void)more;
	if (!l) {   /* the loader is gone (shutdown) */
		job_free(j);
		return;
	}
	if (err)
		job_failed(j, err, msg);
	l->job = NULL;
	if (j->failed) {
		job_requeue(l, j);
		job_free(j);
		if (l->fold.done)
			fold_apply(l);
		schedule(l, RETRY_MS);
		return;
	}
	if (j->kind == JOB_DIDS_SOME) {
		for (size_t k = 0; k < j->n_some; k++)
			if (!j->seen[k])
				route_dids_del(j->dids, j->some[k]);   /* deleted rows */
	}
	if (j->dids) {
		route_dids_freeze(j->dids);
		route_dids_unref(l->dids);
		l->dids = route_dids_ref(j->dids);
	}
	if (j->kind == JOB_FULL || j->kind == JOB_SMALL) {
		small_free(&l->small);
		l->small = j->s;
		memset(&j->s, 0, sizeof(j->s));
		l->have_small = true;
	}
	s = &l->small;
	rt = build(j, s, l->dids, &st);
	st.dids_read = j->dids_read;
	st.skipped = j->skipped;
	st.full = j->kind == JOB_FULL;
	st.ms = elapsed_ms(&j->t0);
	if (j->logged > MAX_ROW_LOGS)
		log_msg(LOG_WARN, "routing.row", "%zu more rows skipped", j->logged - MAX_ROW_LOGS);
	job_free(j);
	l->generation++;
	if (!rt) {
		log_msg(LOG_ERROR, "routing.load_failed", "cannot build the routing snapshot: "
			"out of memory");
		l->want_small = true;
		schedule(l, RETRY_MS);
		return;
	}
	{
		/* The generation makes every snapshot's record its own: two loads with the
		 * same counts are two events, not a repeat for the log to fold. */
		struct log_rec rec;

		if (log_begin(&rec, LOG_INFO, "routing.load")) {
			log_fmt(&rec, "msg", "routing %s: %zu carriers, %zu peers, %zu tenants, "
				"%zu DIDs (%zu read), %zu routes, %zu outbound rules, %zu pools, "
				"%zu rows skipped, %u ms", st.full ? "loaded" : "updated",
				st.carriers, st.peers, st.tenants, st.dids, st.dids_read, st.routes,
				st.oroutes, st.pools, st.skipped, st.ms);
			log_uint(&rec, "generation", l->generation);
			log_end(&rec);
		}
	}
	l->h(rt, &st, l->arg);
	if (l->fold.done)
		fold_apply(l);
	else
		fold_maybe(l);
	/* Changes that arrived meanwhile. */
	if (l->want_small || l->want_dids_all || l->n_want)
		schedule(l, 0);
}

/* A finished fold: the current table moved onto the new base, and a snapshot with it
 * (the old base is freed when the last snapshot holding it is released). */
static void fold_apply(struct db_load *l)
{
	struct fold *f = &l->fold;
	struct route_dids *d = NULL;
	struct db_load_stats st = {0};
	struct route_table *rt;
	struct job j = {0};
	unsigned ms = elapsed_ms(&f->t0);
	int err = f->err;

	f->done = false;
	/* A full load since replaced the table: the fold is of no use. */
	if (!err && f->out && route_dids_base(l->dids) == route_dids_base(f->src))
		err = route_dids_rebase(&d, l->dids, f->out);
	else if (!err)
		err = ESTALE;
	route_dids_unref(f->src);
	route_dids_unref(f->out);
	f->src = f->out = NULL;
	if (err) {
		if (err != ESTALE)
			log_msg(LOG_WARN, "routing.fold", "DID changes not folded: %s", strerror(err));
		return;
	}
	route_dids_freeze(d);
	j.l = l;
	rt = build(&j, &l->small, d, &st);
	if (!rt) {
		route_dids_unref(d);
		return;
	}
	route_dids_unref(l->dids);
	l->dids = d;
	l->generation++;
	st.ms = ms;
	log_msg(LOG_INFO, "routing.fold", "DID changes folded into a new base: %zu DIDs, %zu "
		"changes left over it, %u ms", st.dids, route_dids_changes(d), ms);
	l->h(rt, &st, l->arg);
}

static int q(struct job *j, const char *sql, int n, const char *const *p, unsigned flags,
	     db_result_h *h)
{
	int err = db_query(j->l->db, sql, n, p, flags, h, j);

	if (err)
		job_failed(j, err, NULL);
	return err;
}

/* Everything after BEGIN is queued at once; COMMIT's answer ends the job. */
static void start_tx(struct job *j, bool small, bool dids)
{
	if (q(j, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, 0, NULL))
		goto fail;
	if (small && (q(j, SQL_SETTINGS, 0, NULL, 0, on_settings) ||
		      q(j, SQL_POOLS, 0, NULL, 0, on_pools) ||
		      q(j, SQL_TENANTS, 0, NULL, 0, on_tenants) ||
		      q(j, SQL_CARRIERS, 0, NULL, 0, on_carriers) ||
		      q(j, SQL_PEERS, 0, NULL, 0, on_peers) ||
		      q(j, SQL_ROUTES, 0, NULL, 0, on_routes) ||
		      q(j, SQL_OROUTES, 0, NULL, 0, on_oroutes)))
		goto fail;
	if (dids && q(j, SQL_DIDS, 0, NULL, DB_Q_ROWS, on_did_row))
		goto fail;
	if (q(j, "COMMIT", 0, NULL, 0, job_done))
		goto fail;
	return;
fail:
	/* Queries already queued still answer (and fail); COMMIT was not queued, so end
	 * the job once they have: a ROLLBACK carries job_done. */
	if (db_query(j->l->db, "ROLLBACK", 0, NULL, 0, job_done, j) != 0) {
		/* Not even that: nothing is queued for this job (the connection is down). */
		j->l->job = NULL;
		job_requeue(j->l, j);
		job_free(j);
	}
}

static void start(struct db_load *l)
{
	struct job *j;
	bool first = !l->have_small || !l->dids;
	int err = 0;

	if (l->job || !db_up(l->db))
		return;
	if (!first && !l->want_small && !l->want_dids_all && !l->n_want)
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		schedule(l, RETRY_MS);
		return;
	}
	j->l = l;
	clock_gettime(CLOCK_MONOTONIC, &j->t0);
	route_settings_default(&j->s.settings);
	if (first || (l->want_small && l->want_dids_all))
		j->kind = JOB_FULL;
	else if (l->want_dids_all)
		j->kind = JOB_DIDS_ALL;
	else if (l->want_small)
		j->kind = JOB_SMALL;
	else
		j->kind = JOB_DIDS_SOME;
	/* A small-table job leaves wanted numbers for the next one. */
	if (j->kind == JOB_DIDS_ALL || j->kind == JOB_FULL) {
		err = route_dids_create(&j->dids, route_dids_count(l->dids) + 1024);
		l->n_want = 0;
		l->want_dids_all = false;
	} else if (j->kind == JOB_DIDS_SOME) {
		err = route_dids_derive(&j->dids, l->dids);
		j->some = l->want;
		j->n_some = l->n_want;
		j->seen = calloc(j->n_some, sizeof(*j->seen));
		l->want = NULL;
		l->n_want = l->cap_want = 0;
		if (!err && !j->seen)
			err = ENOMEM;
	}
	if (j->kind == JOB_FULL || j->kind == JOB_SMALL)
		l->want_small = false;
	if (err) {
		job_requeue(l, j);
		job_free(j);
		schedule(l, RETRY_MS);
		return;
	}
	l->job = j;
	if (j->kind == JOB_DIDS_SOME) {
		/* '{+1...,+2...}': the numbers were validated when the payload was parsed. */
		size_t len = 3 + j->n_some * ROUTE_E164_SIZE;
		char *arr = malloc(len), *p = arr;
		const char *params[1] = {arr};

		if (!arr) {
			l->job = NULL;
			job_requeue(l, j);
			job_free(j);
			schedule(l, RETRY_MS);
			return;
		}
		*p++ = '{';
		for (size_t k = 0; k < j->n_some; k++)
			p += sprintf(p, "%s%s", k ? "," : "", j->some[k]);
		*p++ = '}';
		*p = '\0';
		if (q(j, SQL_SOME_DIDS, 1, params, DB_Q_ROWS, on_did_row) ||
		    q(j, "SELECT 1", 0, NULL, 0, job_done)) {
			/* Down: nothing answers; undo here. */
			if (l->job == j) {
				l->job = NULL;
				job_requeue(l, j);
				job_free(j);
			}
		}
		free(arr);
		return;
	}
	start_tx(j, j->kind != JOB_DIDS_ALL, j->kind != JOB_SMALL);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_load *l = arg;

	(void)fd;
	(void)what;
	l->timer_armed = false;
	start(l);
}

static void schedule(struct db_load *l, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (l->timer_armed)
		return;
	l->timer_armed = true;
	evtimer_add(l->timer, &tv);
}

/* ---- API ---- */

int db_load_create(struct db_load **lp, struct event_base *base, struct db *db,
		   db_load_apply_h *h, void *arg)
{
	struct db_load *l;

	if (!lp || !base || !db || !h)
		return EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->base = base;
	l->db = db;
	l->h = h;
	l->arg = arg;
	l->timer = evtimer_new(base, on_timer, l);
	l->fold.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->fold.ev = l->fold.efd >= 0 ?
		     event_new(base, l->fold.efd, EV_READ | EV_PERSIST, on_fold_done, l) : NULL;
	if (!l->timer || !l->fold.ev || event_add(l->fold.ev, NULL)) {
		if (l->fold.ev)
			event_free(l->fold.ev);
		if (l->fold.efd >= 0)
			close(l->fold.efd);
		if (l->timer)
			event_free(l->timer);
		free(l);
		return ENOMEM;
	}
	*lp = l;
	return 0;
}

void db_load_set_listen(struct db_load *l, const char *listen, const char *tls_listen)
{
	if (!l)
		return;
	snprintf(l->listen, sizeof(l->listen), "%s", listen ? listen : "");
	snprintf(l->tls_listen, sizeof(l->tls_listen), "%s", tls_listen ? tls_listen : "");
}

void db_load_destroy(struct db_load *l)
{
	if (!l)
		return;
	/* A job in flight is answered (ESHUTDOWN) by db_destroy: destroy the db first. */
	if (l->job)
		l->job->l = NULL;
	event_free(l->timer);
	if (l->fold.running)
		pthread_join(l->fold.thread, NULL);
	route_dids_unref(l->fold.src);
	route_dids_unref(l->fold.out);
	event_free(l->fold.ev);
	close(l->fold.efd);
	small_free(&l->small);
	route_dids_unref(l->dids);
	free(l->want);
	free(l);
}

void db_load_all(struct db_load *l)
{
	if (!l)
		return;
	l->want_small = true;
	l->want_dids_all = true;
	l->n_want = 0;
	schedule(l, 0);
}

void db_load_notify(struct db_load *l, const char *payload)
{
	struct db_notify n;

	if (!l)
		return;
	db_notify_parse(payload, &n);
	switch (n.kind) {
	case DB_NOTIFY_IGNORE:
		return;
	case DB_NOTIFY_TABLES:
		l->want_small = true;
		break;
	case DB_NOTIFY_DIDS_ALL:
		l->want_dids_all = true;
		break;
	case DB_NOTIFY_DIDS:
		if (l->want_dids_all)
			break;
		for (size_t i = 0; i < n.n; i++) {
			bool dup = false;

			for (size_t k = 0; k < l->n_want && !dup; k++)
				dup = strcmp(l->want[k], n.dids[i]) == 0;
			if (dup)
				continue;
			if (l->n_want == MAX_WANTED_DIDS) {
				l->want_dids_all = true;
				l->n_want = 0;
				break;
			}
			if (l->n_want == l->cap_want) {
				size_t cap = l->cap_want ? l->cap_want * 2 : 64;
				void *w = realloc(l->want, cap * sizeof(*l->want));

				if (!w) {
					l->want_dids_all = true;
					break;
				}
				l->want = w;
				l->cap_want = cap;
			}
			memcpy(l->want[l->n_want++], n.dids[i], ROUTE_E164_SIZE);
		}
		break;
	}
	schedule(l, DEBOUNCE_MS);
}

unsigned db_load_generation(const struct db_load *l)
{
	return l ? l->generation : 0;
}
