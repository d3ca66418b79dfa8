/*
 * db.c — the asynchronous Postgres connection of the control thread (see db.h):
 * connecting with back-off, the query FIFO, single-row delivery in bounded turns,
 * LISTEN/NOTIFY, and the query timeout.
 */
#include "db/db.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"

enum db_conn_state { DB_IDLE = 0, DB_CONNECTING, DB_LISTENING, DB_READY };

struct db_q {
	struct db_q *next;
	char        *sql;
	char       **params;
	int          nparams;
	unsigned     flags;
	bool         internal;   /**< a LISTEN issued by the client itself */
	db_result_h *h;
	void        *arg;
};

struct db_chan {
	struct db_chan *next;
	char            name[64];
};

struct db {
	struct db_cfg      cfg;
	struct event_base *base;
	db_state_h        *sh;
	db_notify_h       *nh;
	void              *arg;

	PGconn            *conn;
	enum db_conn_state state;
	bool               started;
	bool               was_up;      /**< sh(true) was called for this connection */
	bool               fail_logged; /**< the current outage has been logged */
	unsigned           listens;     /**< LISTENs of this connection not yet answered */
	unsigned           retry_ms;    /**< next reconnection delay */
	struct event      *sock_ev;     /**< readable (persistent) while connected */
	struct event      *write_ev;    /**< writable, while libpq has unsent data */
	struct event      *poll_ev;     /**< one step of PQconnectPoll */
	struct event      *retry_ev;    /**< reconnection timer */
	struct event      *timeout_ev;  /**< the query in flight takes too long */
	struct event      *resume_ev;   /**< continue handing out rows next turn */
	int                sock;

	struct db_q       *head, *tail; /**< head is in flight once sent */
	bool               sent;        /**< head has been sent */
	size_t             n_q;
	struct db_chan    *chans;
	char               errmsg[256];
};

/* ---- queue ---- */

static void q_free(struct db_q *q)
{
	if (!q)
		return;
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

static struct db_q *q_new(const char *sql, int nparams, const char *const *params)
{
	struct db_q *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->sql = strdup(sql);
	if (!q->sql)
		goto fail;
	if (nparams > 0) {
		q->params = calloc((size_t)nparams, sizeof(*q->params));
		if (!q->params)
			goto fail;
		q->nparams = nparams;
		for (int i = 0; i < nparams; i++) {
			if (!params[i])
				continue;   /* SQL NULL */
			q->params[i] = strdup(params[i]);
			if (!q->params[i])
				goto fail;
		}
	}
	return q;
fail:
	q_free(q);
	return NULL;
}

static void q_push(struct db *db, struct db_q *q, bool front)
{
	if (front) {
		q->next = db->head;
		db->head = q;
		if (!db->tail)
			db->tail = q;
	} else {
		if (db->tail)
			db->tail->next = q;
		else
			db->head = q;
		db->tail = q;
	}
	db->n_q++;
}

static struct db_q *q_pop(struct db *db)
{
	struct db_q *q = db->head;

	if (!q)
		return NULL;
	db->head = q->next;
	if (!db->head)
		db->tail = NULL;
	db->n_q--;
	db->sent = false;
	return q;
}

static void q_answer(struct db_q *q, int err, const PGresult *res, const char *msg, bool more)
{
	if (q->h)
		q->h(err, res, msg, more, q->arg);
}

/* ---- connection life cycle ---- */

static void pump(struct db *db);
static void try_send(struct db *db);
static void on_sock(evutil_socket_t fd, short what, void *arg);

static void events_drop(struct db *db)
{
	if (db->sock_ev) {
		event_free(db->sock_ev);
		db->sock_ev = NULL;
	}
	if (db->write_ev) {
		event_free(db->write_ev);
		db->write_ev = NULL;
	}
	if (db->poll_ev) {
		event_free(db->poll_ev);
		db->poll_ev = NULL;
	}
	if (db->timeout_ev)
		event_del(db->timeout_ev);
	if (db->resume_ev)
		event_del(db->resume_ev);
}

static void fail_all(struct db *db, int err, const char *msg)
{
	struct db_q *q;

	while ((q = q_pop(db)) != NULL) {
		q_answer(q, err, NULL, msg, false);
		q_free(q);
	}
}

static void schedule_retry(struct db *db)
{
	struct timeval tv = {db->retry_ms / 1000, (db->retry_ms % 1000) * 1000};

	event_add(db->retry_ev, &tv);
	db->retry_ms *= 2;
	if (db->retry_ms > db->cfg.retry_max_ms)
		db->retry_ms = db->cfg.retry_max_ms;
}

/* The connection is gone (or never came): fail the queries and try again later. */
static void conn_lost(struct db *db, int err, const char *why)
{
	bool was_up = db->was_up;

	events_drop(db);
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	db->state = DB_IDLE;
	db->was_up = false;
	if (was_up || !db->fail_logged)
		log_msg(LOG_WARN, "db.down", "%s: %s",
			was_up ? "Postgres connection lost" : "cannot connect to Postgres", why);
	db->fail_logged = true;
	fail_all(db, err, why);
	if (was_up && db->sh)
		db->sh(false, db->arg);
	if (db->started)
		schedule_retry(db);
}

/* libpq's messages end with a line feed and may span lines: one line for logs. */
static void one_line(char *s, size_t size, const char *m, const char *dflt)
{
	size_t n;

	snprintf(s, size, "%s", m && *m ? m : dflt);
	n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

static void conn_error(struct db *db, int err)
{
	char why[256];

	one_line(why, sizeof(why), db->conn ? PQerrorMessage(db->conn) : NULL,
		 "connection failed");
	conn_lost(db, err, why);
}

static void became_ready(struct db *db)
{
	db->state = DB_READY;
	db->was_up = true;
	db->fail_logged = false;
	db->retry_ms = db->cfg.retry_min_ms;
	log_msg(LOG_INFO, "db.up", "Postgres connection ready");
	if (db->sh)
		db->sh(true, db->arg);
}

static void listen_done(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct db *db = arg;

	(void)res;
	(void)more;
	if (err == ECONNRESET || err == ETIMEDOUT || err == ESHUTDOWN)
		return;   /* the connection is gone; the next one listens again */
	if (err)
		log_msg(LOG_WARN, "db.listen", "LISTEN failed: %s", msg ? msg : strerror(err));
	/* The last LISTEN of the connection marks it ready. */
	if (db->listens && --db->listens == 0 && db->state == DB_LISTENING)
		became_ready(db);
}

static int queue_listen(struct db *db, const char *chan, bool front)
{
	char sql[96];
	struct db_q *q;

	snprintf(sql, sizeof(sql), "LISTEN \"%s\"", chan);
	q = q_new(sql, 0, NULL);
	if (!q)
		return ENOMEM;
	q->internal = true;
	q->h = listen_done;
	q->arg = db;
	q_push(db, q, front);
	if (db->state == DB_LISTENING)
		db->listens++;
	return 0;
}

static void arm_timeout(struct db *db);

static void connected(struct db *db)
{
	event_del(db->timeout_ev);
	PQsetnonblocking(db->conn, 1);
	db->sock = PQsocket(db->conn);
	db->sock_ev = event_new(db->base, db->sock, EV_READ | EV_PERSIST, on_sock, db);
	db->write_ev = event_new(db->base, db->sock, EV_WRITE, on_sock, db);
	if (!db->sock_ev || !db->write_ev || event_add(db->sock_ev, NULL) != 0) {
		conn_lost(db, ENOMEM, "out of memory");
		return;
	}
	db->state = DB_LISTENING;
	db->listens = 0;
	/* Nothing but our LISTENs can be queued: queries are refused while not ready. */
	for (struct db_chan *c = db->chans; c; c = c->next)
		if (queue_listen(db, c->name, false)) {
			conn_lost(db, ENOMEM, "out of memory");
			return;
		}
	if (!db->head) {
		became_ready(db);   /* no channel to listen on */
		return;
	}
	try_send(db);
}

static void on_poll(evutil_socket_t fd, short what, void *arg);

static void poll_step(struct db *db)
{
	PostgresPollingStatusType st = PQconnectPoll(db->conn);
	short want;

	if (db->poll_ev) {
		event_free(db->poll_ev);
		db->poll_ev = NULL;
	}
	switch (st) {
	case PGRES_POLLING_OK:
		connected(db);
		return;
	case PGRES_POLLING_READING:
		want = EV_READ;
		break;
	case PGRES_POLLING_WRITING:
		want = EV_WRITE;
		break;
	default:
		conn_error(db, ECONNREFUSED);
		return;
	}
	/* The socket may change from one step to the next (several addresses). */
	db->poll_ev = event_new(db->base, PQsocket(db->conn), want, on_poll, db);
	if (!db->poll_ev || event_add(db->poll_ev, NULL) != 0)
		conn_lost(db, ENOMEM, "out of memory");
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_step(arg);
}

static void connect_now(struct db *db)
{
	db->conn = PQconnectStart(db->cfg.conninfo);
	if (!db->conn) {
		conn_lost(db, ENOMEM, "out of memory");
		return;
	}
	if (PQstatus(db->conn) == CONNECTION_BAD) {
		conn_error(db, ECONNREFUSED);
		return;
	}
	db->state = DB_CONNECTING;
	arm_timeout(db);   /* connecting counts as a query: a silent server times out */
	poll_step(db);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

/* ---- queries ---- */

static void arm_timeout(struct db *db)
{
	struct timeval tv = {db->cfg.query_timeout_ms / 1000,
			     (db->cfg.query_timeout_ms % 1000) * 1000};

	event_add(db->timeout_ev, &tv);
}

static void flush_out(struct db *db)
{
	int r = PQflush(db->conn);

	if (r < 0)
		conn_error(db, ECONNRESET);
	else if (r > 0)
		event_add(db->write_ev, NULL);
}

static void try_send(struct db *db)
{
	struct db_q *q = db->head;
	int ok;

	if (!q || db->sent || !db->conn || db->state < DB_LISTENING)
		return;
	if (q->nparams)
		ok = PQsendQueryParams(db->conn, q->sql, q->nparams, NULL,
				       (const char *const *)q->params, NULL, NULL, 0);
	else
		ok = PQsendQuery(db->conn, q->sql);
	if (!ok) {
		conn_error(db, ECONNRESET);
		return;
	}
	if (q->flags & DB_Q_ROWS)
		PQsetSingleRowMode(db->conn);
	db->sent = true;
	arm_timeout(db);
	flush_out(db);
}

static bool res_ok(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE ||
	       st == PGRES_EMPTY_QUERY;
}

/*
 * Hands out what libpq has ready, without reading the socket. Returns false when it
 * stopped early (row budget spent: resume next turn) or the client went away.
 */
static bool drain_results(struct db *db)
{
	unsigned rows = 0;

	while (db->conn && db->head && db->sent && !PQisBusy(db->conn)) {
		struct db_q *q = db->head;
		PGresult *r = PQgetResult(db->conn);

		if (!r) {
			/* The statement is complete. */
			event_del(db->timeout_ev);
			q = q_pop(db);
			if (q->flags & DB_Q_ROWS)
				q_answer(q, 0, NULL, NULL, false);   /* the end of the rows */
			q_free(q);
			try_send(db);
			continue;
		}
		if (!res_ok(r)) {
			char msg[256];

			one_line(msg, sizeof(msg), PQresultErrorMessage(r), "statement failed");
			/* Answer now and forget the handler; the rest of the result set is
			 * drained and discarded. */
			q_answer(q, EIO, r, msg, false);   /* r: SQLSTATE for callers */
			q->h = NULL;
			q->flags &= ~(unsigned)DB_Q_ROWS;
			PQclear(r);
			continue;
		}
		if (q->h) {
			if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
				q_answer(q, 0, r, NULL, true);
				rows++;
			} else if (q->flags & DB_Q_ROWS) {
				/* The zero-row PGRES_TUPLES_OK that ends single-row mode. */
			} else {
				q_answer(q, 0, r, NULL, false);
				q->h = NULL;   /* one answer per statement */
			}
		}
		PQclear(r);
		if (rows >= DB_ROWS_PER_TURN) {
			event_active(db->resume_ev, EV_TIMEOUT, 0);
			return false;
		}
	}
	return true;
}

static void take_notifies(struct db *db)
{
	PGnotify *n;

	while (db->conn && (n = PQnotifies(db->conn)) != NULL) {
		if (db->nh)
			db->nh(n->relname, n->extra ? n->extra : "", db->arg);
		PQfreemem(n);
	}
}

static void pump(struct db *db)
{
	if (!db->conn)
		return;
	if (!drain_results(db))
		return;
	take_notifies(db);
	if (db->conn && PQstatus(db->conn) == CONNECTION_BAD)
		conn_error(db, ECONNRESET);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	if (what & EV_WRITE) {
		flush_out(db);
		return;
	}
	if (!PQconsumeInput(db->conn)) {
		conn_error(db, ECONNRESET);
		return;
	}
	if (db->sent)
		arm_timeout(db);   /* progress: the timeout counts silence, not length */
	pump(db);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	(void)what;
	if (db->state == DB_CONNECTING) {
		conn_lost(db, ETIMEDOUT, "connection attempt timed out");
		return;
	}
	log_msg(LOG_WARN, "db.timeout", "no answer from Postgres within %u ms; reconnecting",
		db->cfg.query_timeout_ms);
	conn_lost(db, ETIMEDOUT, "query timed out");
}

/* ---- API ---- */

int db_create(struct db **dbp, struct event_base *base, const struct db_cfg *cfg,
	      db_state_h *sh, db_notify_h *nh, void *arg)
{
	struct db *db;

	if (!dbp || !base || !cfg || !memchr(cfg->conninfo, '\0', sizeof(cfg->conninfo)))
		return EINVAL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return ENOMEM;
	db->cfg = *cfg;
	if (!db->cfg.query_timeout_ms)
		db->cfg.query_timeout_ms = 10000;
	if (!db->cfg.retry_min_ms)
		db->cfg.retry_min_ms = 200;
	if (!db->cfg.retry_max_ms)
		db->cfg.retry_max_ms = 5000;
	if (db->cfg.retry_max_ms < db->cfg.retry_min_ms)
		db->cfg.retry_max_ms = db->cfg.retry_min_ms;
	db->retry_ms = db->cfg.retry_min_ms;
	db->base = base;
	db->sh = sh;
	db->nh = nh;
	db->arg = arg;
	db->sock = -1;
	db->retry_ev = evtimer_new(base, on_retry, db);
	db->timeout_ev = evtimer_new(base, on_timeout, db);
	db->resume_ev = event_new(base, -1, 0, on_resume, db);
	if (!db->retry_ev || !db->timeout_ev || !db->resume_ev) {
		db_destroy(db);
		return ENOMEM;
	}
	*dbp = db;
	return 0;
}

int db_start(struct db *db)
{
	if (!db)
		return EINVAL;
	if (db->started)
		return 0;
	db->started = true;
	connect_now(db);
	return 0;
}

void db_destroy(struct db *db)
{
	struct db_chan *c;

	if (!db)
		return;
	db->started = false;
	db->sh = NULL;
	events_drop(db);
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	fail_all(db, ESHUTDOWN, "shutting down");
	if (db->retry_ev)
		event_free(db->retry_ev);
	if (db->timeout_ev)
		event_free(db->timeout_ev);
	if (db->resume_ev)
		event_free(db->resume_ev);
	while ((c = db->chans) != NULL) {
		db->chans = c->next;
		free(c);
	}
	free(db);
}

int db_listen(struct db *db, const char *channel)
{
	struct db_chan *c;
	size_t n;

	if (!db || !channel)
		return EINVAL;
	n = strlen(channel);
	if (n == 0 || n >= sizeof(c->name) ||
	    strspn(channel, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return EINVAL;
	for (c = db->chans; c; c = c->next)
		if (strcmp(c->name, channel) == 0)
			return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	memcpy(c->name, channel, n + 1);
	c->next = db->chans;
	db->chans = c;
	if (db->state == DB_READY) {
		if (queue_listen(db, channel, false))
			return ENOMEM;
		try_send(db);
	}
	return 0;
}

int db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	     unsigned flags, db_result_h *h, void *arg)
{
	struct db_q *q;

	if (!db || !sql || nparams < 0 || (nparams && !params))
		return EINVAL;
	if (db->state != DB_READY)
		return ENOTCONN;
	q = q_new(sql, nparams, params);
	if (!q)
		return ENOMEM;
	q->flags = flags;
	q->h = h;
	q->arg = arg;
	q_push(db, q, false);
	try_send(db);
	return 0;
}

bool db_up(const struct db *db)
{
	return db && db->state == DB_READY;
}

size_t db_pending(const struct db *db)
{
	return db ? db->n_q : 0;
}
