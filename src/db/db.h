/*
 * db.h — the Postgres client of the control thread: one libpq connection driven
 * asynchronously by the control thread's libevent loop, and the schema migrations
 * applied at start-up.
 *
 * DESIGN
 * Everything here runs on the thread that owns the event_base (the control thread;
 * the creating thread before that thread starts). The connection is opened with
 * PQconnectStart/PQconnectPoll and used non-blocking; queries wait in a FIFO and go
 * out one at a time, so their answers come back in order. A query that takes longer
 * than query_timeout_ms, or a connection that breaks, fails every query in flight or
 * waiting (their handlers get ETIMEDOUT / ECONNRESET) and the client reconnects with
 * an exponential back-off. After each (re)connection the LISTEN channels are issued
 * again before the state handler hears "up": notifications sent while it was down
 * are lost, so a listener treats "up" as "reload everything".
 *
 * A query that asks for rows one by one (DB_Q_ROWS, libpq's single-row mode) has its
 * handler called once per row and once at the end; at most DB_ROWS_PER_TURN rows are
 * handed out per turn of the event loop, so a million-row result never keeps the
 * control thread from its other work for long.
 *
 * Nothing here ever blocks except db_migrate(), which is meant for start-up.
 */
#ifndef TRUNX_DB_H
#define TRUNX_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

struct event_base;
struct db;

#define DB_ROWS_PER_TURN 2000

struct db_cfg {
	char     conninfo[512];     /**< libpq conninfo or URI */
	unsigned query_timeout_ms;  /**< a query unanswered this long breaks the connection;
				         0 = 10000 */
	unsigned retry_min_ms;      /**< first reconnection delay; 0 = 200 */
	unsigned retry_max_ms;      /**< longest reconnection delay; 0 = 5000 */
};

/** The connection went up (LISTENs issued) or down. Control thread. */
typedef void (db_state_h)(bool up, void *arg);

/** A NOTIFY on one of the LISTEN channels. Control thread. */
typedef void (db_notify_h)(const char *channel, const char *payload, void *arg);

/**
 * The answer to a query. err: 0, or an errno value (ECONNRESET: the connection broke,
 * ETIMEDOUT: query timeout, EIO: the server refused the statement, msg says why,
 * ESHUTDOWN: the client is being destroyed). res is valid during the call only
 * (NULL on error, except EIO: the error result, whose PG_DIAG_SQLSTATE field says
 * which constraint or syntax the statement broke). With DB_Q_ROWS, `more` is true for each row; the last call has
 * more = false (and no row). Control thread.
 */
typedef void (db_result_h)(int err, const PGresult *res, const char *msg, bool more,
			   void *arg);

enum db_flags {
	DB_Q_ROWS = 1,   /**< deliver the result row by row */
};

/**
 * Creates the client; nothing connects before db_start().
 * @return 0, EINVAL, ENOMEM
 */
int db_create(struct db **dbp, struct event_base *base, const struct db_cfg *cfg,
	      db_state_h *sh, db_notify_h *nh, void *arg);

/** Starts connecting (and reconnecting whenever the connection breaks). */
int db_start(struct db *db);

/**
 * Fails every query (ESHUTDOWN), closes the connection and frees the client. Owner
 * thread, with the event loop not running or from inside it.
 */
void db_destroy(struct db *db);

/** Adds a channel to LISTEN on (now if connected, and after every reconnection). */
int db_listen(struct db *db, const char *channel);

/**
 * Queues a statement with text parameters ($1...). The handler is called exactly
 * once (or, with DB_Q_ROWS, once per row and once at the end) unless this returns
 * an error.
 * @return 0, EINVAL, ENOMEM, ENOTCONN (not connected: nothing queued)
 */
int db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	     unsigned flags, db_result_h *h, void *arg);

/** True while connected (and the LISTENs issued). */
bool db_up(const struct db *db);

/** Queries waiting or in flight. */
size_t db_pending(const struct db *db);

/* ---- migrations (db_migrate.c) ---- */

struct db_migration {
	int         version;
	const char *name;
	const char *sql;
};

extern const struct db_migration db_migrations[];
extern const size_t db_n_migrations;

/**
 * Connects (retrying for up to wait_s seconds while the server is not there yet) and
 * applies the migrations the database lacks, each in its own transaction, under an
 * advisory lock so that nodes starting together apply each once. Blocking: start-up
 * only.
 * @param applied  receives how many were applied (may be NULL)
 * @param version  receives the schema version afterwards (may be NULL)
 * @return 0, ETIMEDOUT (no server within wait_s), EIO (a statement failed; err says
 *         which), ENOMEM
 */
int db_migrate(const char *conninfo, unsigned wait_s, int *applied, int *version,
	       char *err, size_t errlen);

#endif
