/*
 * db_migrate.c — applies the schema migrations compiled into trunxd (src/db/migrations,
 * embedded by embed_sql.cmake) at start-up, with a blocking connection: each missing
 * version in its own transaction, recorded in schema_migrations, all under an
 * advisory lock so that several nodes starting at once apply each migration once.
 */
#include "db/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define MIGRATE_LOCK_KEY "7340163001"   /* pg_advisory_lock key of the migrations */

static void set_err(char *err, size_t errlen, const char *what, const char *pgmsg)
{
	size_t n;

	if (!err || !errlen)
		return;
	snprintf(err, errlen, "%s%s%s", what, pgmsg ? ": " : "", pgmsg ? pgmsg : "");
	n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == '\r'))
		err[--n] = '\0';
	for (char *p = err; *p; p++)   /* libpq's messages span lines: one line for logs */
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *connect_wait(const char *conninfo, unsigned wait_s, char *err, size_t errlen)
{
	const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *const vals[] = {conninfo, "5", "trunxd-migrate", NULL};
	double deadline = now_s() + wait_s;
	bool logged = false;

	for (;;) {
		PGconn *c = PQconnectdbParams(keys, vals, 1);

		if (c && PQstatus(c) == CONNECTION_OK)
			return c;
		if (now_s() >= deadline) {
			set_err(err, errlen, "cannot connect to Postgres",
				c ? PQerrorMessage(c) : "out of memory");
			PQfinish(c);
			return NULL;
		}
		if (!logged) {
			log_msg(LOG_INFO, "db.wait", "waiting up to %u s for Postgres", wait_s);
			logged = true;
		}
		PQfinish(c);
		nanosleep(&(struct timespec){0, 250 * 1000000}, NULL);
	}
}

/* Runs one or more statements; false with err set on failure. */
static bool exec_ok(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		set_err(err, errlen, what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	return ok;
}

static int current_version(PGconn *c, int *v, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");

	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		set_err(err, errlen, "reading schema_migrations",
			r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		return EIO;
	}
	*v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int apply_one(PGconn *c, const struct db_migration *m, char *err, size_t errlen)
{
	char what[160], ver[16];
	const char *params[2] = {ver, m->name};
	PGresult *r;

	snprintf(what, sizeof(what), "migration %s", m->name);
	snprintf(ver, sizeof(ver), "%d", m->version);
	if (!exec_ok(c, "BEGIN", what, err, errlen))
		return EIO;
	if (!exec_ok(c, m->sql, what, err, errlen))
		goto rollback;
	r = PQexecParams(c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
			 2, NULL, params, NULL, NULL, 0);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		set_err(err, errlen, what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		goto rollback;
	}
	PQclear(r);
	if (!exec_ok(c, "COMMIT", what, err, errlen))
		goto rollback;
	log_msg(LOG_INFO, "db.migrate", "applied migration %s", m->name);
	return 0;
rollback:
	PQclear(PQexec(c, "ROLLBACK"));
	return EIO;
}

int db_migrate(const char *conninfo, unsigned wait_s, int *applied, int *version,
	       char *err, size_t errlen)
{
	PGconn *c;
	int v = 0, n = 0, rc = 0;

	if (applied)
		*applied = 0;
	if (!conninfo)
		return EINVAL;
	c = connect_wait(conninfo, wait_s, err, errlen);
	if (!c)
		return ETIMEDOUT;
	if (!exec_ok(c, "SET client_min_messages = warning", "session", err, errlen) ||
	    !exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "advisory lock",
		     err, errlen) ||
	    !exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			"version integer PRIMARY KEY, name text NOT NULL, "
			"applied_at timestamptz NOT NULL DEFAULT now())",
		     "creating schema_migrations", err, errlen)) {
		rc = EIO;
		goto out;
	}
	rc = current_version(c, &v, err, errlen);
	for (size_t i = 0; !rc && i < db_n_migrations; i++) {
		if (db_migrations[i].version <= v)
			continue;
		rc = apply_one(c, &db_migrations[i], err, errlen);
		if (!rc) {
			v = db_migrations[i].version;
			n++;
		}
	}
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
out:
	PQfinish(c);
	if (applied)
		*applied = n;
	if (version)
		*version = v;
	return rc;
}
