/*
 * test_db_client.c — the asynchronous Postgres client (src/db/db.c) against a real
 * server: parameters, row-by-row results in bounded turns, statement errors, LISTEN/
 * NOTIFY, a connection killed under a query (and the reconnection, LISTENs included),
 * the query timeout, an unreachable server and the migrations. db_test.py starts the
 * server and passes its URL in TRUNX_TEST_PG.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "db/db.h"

struct t {
	struct event_base *base;
	struct db         *db;
	int                ups, downs;
	int                answers, err;
	char               msg[256];
	char               value[256];
	long               rows;
	int                ends;
	int                notes;
	char               payload[256];
	int                max_rows_seen_in_turn;
};

static const char *pg_url(void)
{
	const char *u = getenv("TRUNX_TEST_PG");

	if (!u || !*u)
		fail_msg("TRUNX_TEST_PG is not set (run through db_test.py)");
	return u;
}

static void on_state(bool up, void *arg)
{
	struct t *t = arg;

	if (up)
		t->ups++;
	else
		t->downs++;
}

static void on_notify(const char *chan, const char *payload, void *arg)
{
	struct t *t = arg;

	(void)chan;
	t->notes++;
	snprintf(t->payload, sizeof(t->payload), "%s", payload);
}

static void on_result(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct t *t = arg;

	if (more) {
		t->rows++;
		return;
	}
	t->answers++;
	t->err = err;
	snprintf(t->msg, sizeof(t->msg), "%s", msg ? msg : "");
	t->value[0] = '\0';
	if (res && PQntuples(res) > 0 && PQnfields(res) > 0)
		snprintf(t->value, sizeof(t->value), "%s", PQgetvalue(res, 0, 0));
	if (res)
		t->rows += PQntuples(res);
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(t, cond, ms) do { \
	for (int _i = 0; _i < (ms) / 10 && !(cond); _i++) { \
		struct timeval _tv = {0, 10000}; \
		event_base_loopexit((t)->base, &_tv); \
		event_base_dispatch((t)->base); \
	} \
	assert_true(cond); \
} while (0)

static void t_open(struct t *t, const char *conninfo, unsigned timeout_ms)
{
	struct db_cfg cfg = {0};

	memset(t, 0, sizeof(*t));
	t->base = event_base_new();
	assert_non_null(t->base);
	snprintf(cfg.conninfo, sizeof(cfg.conninfo), "%s", conninfo);
	cfg.query_timeout_ms = timeout_ms;
	cfg.retry_min_ms = 50;
	cfg.retry_max_ms = 200;
	assert_int_equal(db_create(&t->db, t->base, &cfg, on_state, on_notify, t), 0);
}

static void t_close(struct t *t)
{
	db_destroy(t->db);
	event_base_free(t->base);
}

static void query(struct t *t, const char *sql, int n, const char *const *p, unsigned flags)
{
	int before = t->answers;

	assert_int_equal(db_query(t->db, sql, n, p, flags, on_result, t), 0);
	RUN_UNTIL(t, t->answers > before, 10000);
}

static void test_params_and_errors(void **state)
{
	struct t t;
	const char *p[2] = {"20", "22"};

	(void)state;
	t_open(&t, pg_url(), 5000);
	assert_int_equal(db_query(t.db, "SELECT 1", 0, NULL, 0, on_result, &t), ENOTCONN);
	assert_int_equal(db_start(t.db), 0);
	RUN_UNTIL(&t, t.ups == 1, 10000);
	query(&t, "SELECT $1::int + $2::int", 2, p, 0);
	assert_int_equal(t.err, 0);
	assert_string_equal(t.value, "42");
	/* A refused statement answers EIO with the server's reason; the connection stays. */
	query(&t, "SELECT * FROM no_such_table", 0, NULL, 0);
	assert_int_equal(t.err, EIO);
	assert_non_null(strstr(t.msg, "no_such_table"));
	query(&t, "SELECT 'still here'", 0, NULL, 0);
	assert_int_equal(t.err, 0);
	assert_string_equal(t.value, "still here");
	assert_int_equal(t.downs, 0);
	/* A statement without a handler does not hold up the next one. */
	assert_int_equal(db_query(t.db, "SELECT 1", 0, NULL, 0, NULL, NULL), 0);
	query(&t, "SELECT 'after'", 0, NULL, 0);
	assert_string_equal(t.value, "after");
	/* NULL parameters are SQL NULL. */
	{
		const char *np[1] = {NULL};
		query(&t, "SELECT coalesce($1::text, 'null')", 1, np, 0);
		assert_string_equal(t.value, "null");
	}
	t_close(&t);
}

static void test_rows_in_turns(void **state)
{
	struct t t;

	(void)state;
	t_open(&t, pg_url(), 5000);
	db_start(t.db);
	RUN_UNTIL(&t, t.ups == 1, 10000);
	assert_int_equal(db_query(t.db, "SELECT g FROM generate_series(1, 25000) g", 0, NULL,
				  DB_Q_ROWS, on_result, &t), 0);
	/* Other work keeps going meanwhile: a second query waits its turn. */
	assert_int_equal(db_query(t.db, "SELECT 7", 0, NULL, 0, on_result, &t), 0);
	RUN_UNTIL(&t, t.answers == 2, 20000);
	assert_int_equal(t.rows, 25000 + 1);
	assert_string_equal(t.value, "7");
	t_close(&t);
}

static void test_notify_and_reconnect(void **state)
{
	struct t t;

	(void)state;
	t_open(&t, pg_url(), 5000);
	assert_int_equal(db_listen(t.db, "trunx_test"), 0);
	assert_int_equal(db_listen(t.db, "Bad-Name"), EINVAL);
	db_start(t.db);
	RUN_UNTIL(&t, t.ups == 1, 10000);
	query(&t, "SELECT pg_notify('trunx_test', 'hello')", 0, NULL, 0);
	RUN_UNTIL(&t, t.notes == 1, 5000);
	assert_string_equal(t.payload, "hello");
	/* The server ends our backend under a query: the query fails, the client comes back
	 * by itself and listens again. */
	query(&t, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL, 0);
	assert_int_not_equal(t.err, 0);
	RUN_UNTIL(&t, t.downs == 1 && t.ups == 2, 10000);
	query(&t, "SELECT pg_notify('trunx_test', 'again')", 0, NULL, 0);
	assert_int_equal(t.err, 0);
	RUN_UNTIL(&t, t.notes == 2, 5000);
	assert_string_equal(t.payload, "again");
	t_close(&t);
}

static void test_query_timeout(void **state)
{
	struct t t;

	(void)state;
	t_open(&t, pg_url(), 300);
	db_start(t.db);
	RUN_UNTIL(&t, t.ups == 1, 10000);
	assert_int_equal(db_query(t.db, "SELECT pg_sleep(3)", 0, NULL, 0, on_result, &t), 0);
	assert_int_equal(db_query(t.db, "SELECT 2", 0, NULL, 0, on_result, &t), 0);
	RUN_UNTIL(&t, t.answers == 2, 5000);
	assert_int_equal(t.err, ETIMEDOUT);   /* both failed: the connection was dropped */
	RUN_UNTIL(&t, t.ups == 2, 10000);
	query(&t, "SELECT 3", 0, NULL, 0);
	assert_string_equal(t.value, "3");
	t_close(&t);
}

static void test_unreachable(void **state)
{
	struct t t;

	(void)state;
	t_open(&t, "postgresql://trunx@/trunx?host=/nonexistent-trunx-dir", 500);
	db_start(t.db);
	{
		struct timeval tv = {0, 500000};
		event_base_loopexit(t.base, &tv);
		event_base_dispatch(t.base);
	}
	assert_int_equal(t.ups, 0);
	assert_false(db_up(t.db));
	assert_int_equal(db_query(t.db, "SELECT 1", 0, NULL, 0, on_result, &t), ENOTCONN);
	t_close(&t);
}

static void test_migrate(void **state)
{
	char err[512] = "";
	int applied = -1, version = -1;

	(void)state;
	assert_int_equal(db_migrate(pg_url(), 10, &applied, &version, err, sizeof(err)), 0);
	assert_true(db_n_migrations >= 1);
	assert_int_equal(version, db_migrations[db_n_migrations - 1].version);
	/* A second run finds nothing to do. */
	assert_int_equal(db_migrate(pg_url(), 10, &applied, &version, err, sizeof(err)), 0);
	assert_int_equal(applied, 0);
	/* No server: a clear error after the wait. */
	assert_int_equal(db_migrate("postgresql://trunx@/trunx?host=/nonexistent-trunx-dir", 1,
				    &applied, &version, err, sizeof(err)), ETIMEDOUT);
	assert_non_null(strstr(err, "cannot connect"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_and_errors),
		cmocka_unit_test(test_rows_in_turns),
		cmocka_unit_test(test_notify_and_reconnect),
		cmocka_unit_test(test_query_timeout),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_migrate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
