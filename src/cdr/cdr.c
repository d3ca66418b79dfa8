/*
 * cdr.c — the call-record writer of the control thread (see cdr.h): hand-over from
 * other threads, grouped journal appends, batched INSERTs from the journal, replay,
 * and the isolation of a record Postgres refuses.
 */
#include "cdr/cdr.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cdr/cdr_journal.h"
#include "cdr/cdr_sync.h"
#include "db/db.h"
#include "log.h"

#define RETRY_MS 1000

static const char SQL_CALLS[] =
	"INSERT INTO calls (cdr_id, node_id, call_id, a_call_id, b_call_id, from_number, "
	"to_number, did, tenant_id, trunk_in, trunk_out, start_at, answer_at, end_at, "
	"setup_ms, answer_ms, duration_ms, result, sip_code, cause, reason, codec_a, codec_b, "
	"rtp_a_in, rtp_a_out, rtp_a_lost, rtp_b_in, rtp_b_out, rtp_b_lost, rtp_dropped, record) "
	"SELECT (r->>'cdr_id')::uuid, r->>'node_id', r->>'call_id', r->>'a_call_id', "
	"r->>'b_call_id', r->>'from', r->>'to', r->>'did', r->>'tenant', r->>'trunk_in', "
	"r->>'trunk_out', (r->>'start')::timestamptz, (r->>'answer')::timestamptz, "
	"(r->>'end')::timestamptz, (r->>'setup_ms')::int, (r->>'answer_ms')::int, "
	"(r->>'duration_ms')::bigint, r->>'result', (r->>'sip_code')::int, r->>'cause', "
	"r->>'reason', r->>'codec_a', r->>'codec_b', (r->>'rtp_a_in')::bigint, "
	"(r->>'rtp_a_out')::bigint, (r->>'rtp_a_lost')::bigint, (r->>'rtp_b_in')::bigint, "
	"(r->>'rtp_b_out')::bigint, (r->>'rtp_b_lost')::bigint, (r->>'rtp_dropped')::bigint, "
	"r - 'kind' FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (cdr_id) DO NOTHING";
/* Events take their ids in commit order and their webhook deliveries in the same
 * transaction (migration 004); the answer is the new ids, "1,2,3". */
static const char SQL_EVENTS[] = "SELECT trunx_events_insert($1::jsonb)";

struct batch {
	struct cdr        *c;
	int                remaining;   /**< statements still to answer */
	int                err;
	char               msg[256];
	char               state[6];    /**< the failure's SQLSTATE ("" when none) */
	struct journal_pos end;
	size_t             n;
	char              *first;       /**< the record, when the batch holds only one */
	char              *ev_ids;      /**< ids the events statement added ("1,2") */
};

struct cdr {
	struct event_base *base;
	struct db         *db;
	struct cdr_cfg     cfg;
	struct journal    *j;
	struct cdr_sync   *sync;         /**< writes and syncs the journal (its thread) */
	struct journal_pos durable;      /**< the journal is read up to here: acknowledged */
	struct journal_pos committed;    /**< what lies before is in Postgres */
	uint64_t           accounted;    /**< records acknowledged (or refused) by the sync */

	int                efd;          /**< wakes the loop for a drain */
	struct event      *wake_ev, *flush_ev, *send_ev;
	bool               flush_armed;

	bool               db_up;
	struct batch      *inflight;
	size_t             single_left;  /**< send one by one: a refused batch is being
					      searched for its bad record */
	uint64_t           pending;      /**< control thread's count (journal - committed) */

	pthread_mutex_t    dlock;        /**< guards drain_done with dcond */
	pthread_cond_t     dcond;
	atomic_uint_fast64_t drain_want;
	uint64_t           drain_done;

	atomic_uint_fast64_t n_submitted, n_journaled, n_committed, n_replayed, n_rejected,
			     n_pending;
	atomic_bool        up;
	cdr_events_h      *ev_h;         /**< told the ids of committed events */
	void              *ev_arg;
};

static void schedule_send(struct cdr *c, bool now);

/* ---- drain ---- */

static bool idle(struct cdr *c)
{
	return c->accounted == cdr_sync_submitted(c->sync) && !c->inflight && c->pending == 0;
}

static void drain_check(struct cdr *c)
{
	uint64_t want = atomic_load(&c->drain_want);

	if (c->drain_done >= want || !idle(c))
		return;
	pthread_mutex_lock(&c->dlock);
	c->drain_done = want;
	pthread_cond_broadcast(&c->dcond);
	pthread_mutex_unlock(&c->dlock);
}

/* ---- journal appends (the sync thread's acknowledgements) ---- */

static void on_synced(uint64_t n, uint64_t dropped, const struct journal_pos *durable,
		      void *arg)
{
	struct cdr *c = arg;

	c->durable = *durable;
	c->accounted += n + dropped;
	c->pending += n;
	atomic_store(&c->n_pending, c->pending);
	atomic_fetch_add(&c->n_journaled, n);
	if (n)
		schedule_send(c, c->pending >= c->cfg.batch ||
				 atomic_load(&c->drain_want) > c->drain_done);
	drain_check(c);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct cdr *c = arg;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	if (atomic_load(&c->drain_want) > c->drain_done)
		schedule_send(c, true);
	drain_check(c);
}

/* ---- sending ---- */

static bool is_kind(const char *rec, const char *kind)
{
	char want[32];

	snprintf(want, sizeof(want), "{\"kind\":\"%s\"", kind);
	return strncmp(rec, want, strlen(want)) == 0;
}

/* Appends a refused record to rejected.log, durably. Fails (errno) when the record is
 * not there: the caller keeps it in the journal and tries again. */
static int set_aside(struct cdr *c, const char *rec, const char *why)
{
	char path[300];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/rejected.log", c->cfg.journal_dir);
	f = fopen(path, "a");
	if (!f)
		err = errno ? errno : EIO;
	else {
		if (fprintf(f, "# %s\n%s\n", why, rec) < 0 || fflush(f) != 0 ||
		    fdatasync(fileno(f)) != 0)
			err = errno ? errno : EIO;
		if (fclose(f) != 0 && !err)
			err = errno ? errno : EIO;
	}
	if (err) {
		log_msg(LOG_ERROR, "cdr.set_aside_failed", "Postgres refused a record and it "
			"cannot be kept in %s (%s): it stays in the journal, tried again in %d ms: "
			"%s", path, strerror(err), RETRY_MS, why);
		return err;
	}
	atomic_fetch_add(&c->n_rejected, 1);
	log_msg(LOG_ERROR, "cdr.rejected", "Postgres refused a record (kept in %s): %s", path,
		why);
	return 0;
}

static void batch_done(struct cdr *c, struct batch *b)
{
	bool retry = false;

	c->inflight = NULL;
	if (b->err == EIO && b->n > 1) {
		/* One of them is refused: find it, one at a time. */
		c->single_left = b->n;
		log_msg(LOG_WARN, "cdr.batch_refused", "a batch of %zu records was refused (%s); "
			"sending them one by one", b->n, b->msg);
		schedule_send(c, true);
	} else if (b->err == EIO || b->err == EBADMSG) {
		if (set_aside(c, b->first ? b->first : "(unreadable)", b->msg) == 0)
			b->err = 0;   /* skipped: counts as done */
		else
			retry = true;   /* not kept anywhere else: the journal keeps it */
	}
	if (!b->err) {
		if (b->ev_ids && b->ev_ids[0] && c->ev_h)
			c->ev_h(b->ev_ids, c->ev_arg);
		c->committed = b->end;
		cdr_sync_commit(c->sync, &b->end);
		c->pending -= b->n <= c->pending ? b->n : c->pending;
		atomic_store(&c->n_pending, c->pending);
		atomic_fetch_add(&c->n_committed, b->n);
		if (c->single_left)
			c->single_left -= b->n <= c->single_left ? b->n : c->single_left;
		if (c->pending)
			schedule_send(c, c->pending >= c->cfg.batch || c->single_left ||
					 atomic_load(&c->drain_want) > c->drain_done);
	} else if (b->err != EIO || retry) {
		/* The connection, Postgres' own state, or rejected.log: the journal keeps
		 * them; send again once it is back. */
		struct timeval tv = {RETRY_MS / 1000, 0};

		if (b->err == EAGAIN)
			log_msg(LOG_WARN, "cdr.batch_deferred", "Postgres could not take a batch of "
				"%zu records now (SQLSTATE %s: %s); it is sent again in %d ms",
				b->n, b->state[0] ? b->state : "none", b->msg, RETRY_MS);

		evtimer_add(c->send_ev, &tv);
	}
	free(b->first);
	free(b->ev_ids);
	free(b);
	drain_check(c);
}

/*
 * Whether a failed statement says something about Postgres' state rather than about
 * the records it carried: SQLSTATE classes 08 (connection), 40 (transaction rollback:
 * deadlock, serialization), 53 (insufficient resources: disk full, out of memory,
 * too many connections), 55 (object not in prerequisite state: a lock not
 * available), 57 (operator intervention: a cancelled statement, a server shutting
 * down), 58 (system error: I/O) and XX (internal error), or no SQLSTATE at all
 * (libpq's own error: the connection). Such a batch is neither split nor set aside:
 * the records are good and are sent again later.
 */
static bool transient_failure(const PGresult *res, char state[6])
{
	static const char classes[][3] = {"08", "40", "53", "55", "57", "58", "XX"};
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	state[0] = '\0';
	if (!st || strlen(st) != 5)
		return true;
	memcpy(state, st, 6);
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strncmp(st, classes[i], 2) == 0)
			return true;
	return false;
}

static void on_result(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct batch *b = arg;

	(void)more;
	if (err && !b->err) {
		if (err == EIO && transient_failure(res, b->state))
			err = EAGAIN;
		b->err = err;
		snprintf(b->msg, sizeof(b->msg), "%s", msg ? msg : strerror(err));
	}
	if (--b->remaining == 0 && b->c)
		batch_done(b->c, b);
	else if (b->remaining == 0) {
		free(b->first);
		free(b->ev_ids);
		free(b);   /* the writer is gone */
	}
}

/* The events statement: its answer names the ids it added. */
static void on_events_result(int err, const PGresult *res, const char *msg, bool more,
			     void *arg)
{
	struct batch *b = arg;

	if (!err && res && PQntuples(res) == 1 && !b->ev_ids)
		b->ev_ids = strdup(PQgetvalue(res, 0, 0));
	on_result(err, res, msg, more, arg);
}

/* Appends rec to "[...]" under construction. */
static int add_json(char **buf, size_t *len, size_t *cap, const char *rec, size_t n)
{
	char sep;

	if (*len + n + 3 > *cap) {
		size_t ncap = (*cap + n + 3) * 2;
		char *p = realloc(*buf, ncap);

		if (!p)
			return ENOMEM;
		*buf = p;
		*cap = ncap;
	}
	sep = *len == 0 ? '[' : ',';
	(*buf)[(*len)++] = sep;
	memcpy(*buf + *len, rec, n);
	*len += n;
	return 0;
}

static void send_batch(struct cdr *c)
{
	char *calls = NULL, *events = NULL;
	size_t lc = 0, le = 0, cc = 0, ce = 0, limit;
	struct journal_pos pos;
	struct batch *b;
	int err = 0;

	if (c->inflight || !c->db_up || !c->pending)
		return;
	limit = c->single_left ? 1 : c->cfg.batch;
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->c = c;
	pos = c->committed;
	while (b->n < limit) {
		struct journal_pos prev = pos;
		char *rec = NULL;
		size_t len = 0;

		err = journal_read_to(c->j, &pos, &c->durable, &rec, &len);
		if (err)
			break;
		if (!is_kind(rec, "cdr") && !is_kind(rec, "event")) {
			if (b->n) {
				/* A stranger: the batch ends before it; it goes alone next. */
				pos = prev;
				free(rec);
				c->single_left = 1;
				break;
			}
			b->n = 1;
			b->first = rec;
			err = EBADMSG;   /* set aside */
			break;
		}
		b->n++;
		err = is_kind(rec, "cdr") ? add_json(&calls, &lc, &cc, rec, len) :
					    add_json(&events, &le, &ce, rec, len);
		if (limit == 1)
			b->first = rec;
		else
			free(rec);
		if (err)
			break;
	}
	if (err == ENOENT || err == EBADMSG)
		err = err == EBADMSG ? EBADMSG : 0;
	if (!b->n) {
		/* The journal holds nothing more to send. */
		c->pending = 0;
		atomic_store(&c->n_pending, 0);
		free(b);
		free(calls);
		free(events);
		drain_check(c);
		return;
	}
	b->end = pos;
	if (err == EBADMSG) {
		snprintf(b->msg, sizeof(b->msg), "a record that is neither a call record nor an "
			 "event");
		b->err = EBADMSG;
		c->inflight = b;
		batch_done(c, b);
		free(calls);
		free(events);
		return;
	}
	if (err) {
		log_msg(LOG_ERROR, "cdr.journal", "cannot read the journal: %s", strerror(err));
		free(b->first);
		free(b);
		free(calls);
		free(events);
		schedule_send(c, false);
		return;
	}
	if (lc)
		calls[lc++] = ']', calls[lc] = '\0';
	if (le)
		events[le++] = ']', events[le] = '\0';
	c->inflight = b;
	b->remaining = (lc ? 1 : 0) + (le ? 1 : 0);
	if (!b->remaining) {
		batch_done(c, b);
	} else {
		int e1 = 0, e2 = 0, queued = 0;
		const char *p1[1] = {calls}, *p2[1] = {events};

		if (lc && (e1 = db_query(c->db, SQL_CALLS, 1, p1, 0, on_result, b)) == 0)
			queued++;
		if (le && (e2 = db_query(c->db, SQL_EVENTS, 1, p2, 0, on_events_result, b)) == 0)
			queued++;
		if (e1 || e2) {
			/* Not connected: those queued fail too, by themselves. */
			b->err = b->err ? b->err : ENOTCONN;
			b->remaining = queued;
			if (!queued)
				batch_done(c, b);
		}
	}
	free(calls);
	free(events);
}

static void on_send(evutil_socket_t fd, short what, void *arg)
{
	struct cdr *c = arg;

	(void)fd;
	(void)what;
	c->flush_armed = false;
	send_batch(c);
}

static void schedule_send(struct cdr *c, bool now)
{
	if (now) {
		event_active(c->send_ev, EV_TIMEOUT, 0);
		return;
	}
	if (!c->flush_armed) {
		struct timeval tv = {c->cfg.flush_ms / 1000, (c->cfg.flush_ms % 1000) * 1000};

		c->flush_armed = true;
		evtimer_add(c->flush_ev, &tv);
	}
}

/* ---- API ---- */

int cdr_create(struct cdr **cp, struct event_base *base, struct db *db,
	       const struct cdr_cfg *cfg, char *err, size_t errlen)
{
	struct journal_stats js;
	struct cdr *c;
	int rc;

	if (!cp || !base || !db || !cfg || !memchr(cfg->journal_dir, '\0', sizeof(cfg->journal_dir)))
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->base = base;
	c->db = db;
	c->cfg = *cfg;
	if (!c->cfg.batch)
		c->cfg.batch = 200;
	if (!c->cfg.flush_ms)
		c->cfg.flush_ms = 200;
	c->efd = -1;
	pthread_mutex_init(&c->dlock, NULL);
	pthread_cond_init(&c->dcond, NULL);
	rc = journal_open(&c->j, cfg->journal_dir, 0, err, errlen);
	if (rc)
		goto fail;
	journal_get_stats(c->j, &js);
	c->committed = journal_tail(c->j);
	c->durable = journal_head(c->j);
	c->pending = js.records_open;
	atomic_store(&c->n_pending, c->pending);
	atomic_store(&c->n_replayed, js.records_open);
	if (js.records_open)
		log_msg(LOG_INFO, "cdr.replay", "%llu records in the journal %s will be written "
			"to Postgres", (unsigned long long)js.records_open, cfg->journal_dir);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		rc = errno;
		snprintf(err, errlen, "eventfd: %s", strerror(rc));
		goto fail;
	}
	c->wake_ev = event_new(base, c->efd, EV_READ | EV_PERSIST, on_wake, c);
	c->flush_ev = evtimer_new(base, on_send, c);
	c->send_ev = event_new(base, -1, 0, on_send, c);
	if (!c->wake_ev || !c->flush_ev || !c->send_ev || event_add(c->wake_ev, NULL) != 0) {
		rc = ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = cdr_sync_create(&c->sync, c->j, base, CDR_GATHER_MS, on_synced, c);
	if (rc) {
		snprintf(err, errlen, "journal sync thread: %s", strerror(rc));
		goto fail;
	}
	*cp = c;
	return 0;
fail:
	cdr_destroy(c);
	return rc;
}

void cdr_submit(struct cdr *c, char *json)
{
	if (!c || !json) {
		free(json);
		return;
	}
	atomic_fetch_add(&c->n_submitted, 1);
	cdr_sync_submit(c->sync, json, strlen(json));
}

void cdr_set_events_hook(struct cdr *c, cdr_events_h *h, void *arg)
{
	if (c) {
		c->ev_h = h;
		c->ev_arg = arg;
	}
}

void cdr_db_state(struct cdr *c, bool up)
{
	if (!c)
		return;
	c->db_up = up;
	atomic_store(&c->up, up);
	if (up && c->pending)
		schedule_send(c, true);   /* the replay */
}

int cdr_drain(struct cdr *c, unsigned timeout_ms)
{
	uint64_t want = atomic_fetch_add(&c->drain_want, 1) + 1, one = 1;
	struct timespec dl;
	int rc = 0;

	cdr_sync_flush(c->sync);
	while (write(c->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->dlock);
	while (c->drain_done < want && rc == 0)
		rc = pthread_cond_timedwait(&c->dcond, &c->dlock, &dl);
	pthread_mutex_unlock(&c->dlock);
	return rc ? ETIMEDOUT : 0;
}

void cdr_get_stats(struct cdr *c, struct cdr_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!c)
		return;
	st->submitted = atomic_load(&c->n_submitted);
	st->journaled = atomic_load(&c->n_journaled);
	st->committed = atomic_load(&c->n_committed);
	st->replayed = atomic_load(&c->n_replayed);
	st->rejected = atomic_load(&c->n_rejected);
	st->pending = atomic_load(&c->n_pending);
	st->db_up = atomic_load(&c->up);
}

void cdr_destroy(struct cdr *c)
{
	if (!c)
		return;
	/* What is still in hand goes to the journal: the next start sends it. */
	cdr_sync_destroy(c->sync);
	if (c->inflight)
		c->inflight->c = NULL;   /* its answer (ESHUTDOWN) frees it */
	if (c->wake_ev)
		event_free(c->wake_ev);
	if (c->flush_ev)
		event_free(c->flush_ev);
	if (c->send_ev)
		event_free(c->send_ev);
	if (c->efd >= 0)
		close(c->efd);
	journal_close(c->j);
	pthread_mutex_destroy(&c->dlock);
	pthread_cond_destroy(&c->dcond);
	free(c);
}
