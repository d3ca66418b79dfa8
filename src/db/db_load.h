/*
 * db_load.h — builds routing snapshots from the tables and keeps them current: a full
 * load when the connection comes up (or on request), a rebuild of the small tables
 * when one of them changes, and for DIDs only the numbers a notification names (a
 * layered DID table: the current one's base shared, the changes copied and these
 * numbers changed, so the cost does not grow with the table), or all of them after a
 * bulk change. Once the changes pass 1/256 of the base, a builder thread folds them
 * into a new base (the one step that copies the whole table) and the control thread
 * moves the current table onto it. Control thread (the fold excepted); the snapshots
 * go to the apply handler, which owns them.
 *
 * DESIGN
 * Requests only set flags; a load starts 20 ms after the first (a burst of changes
 * costs one load) and never while another runs: changes that arrive meanwhile make
 * another load follow. The tables are read in one REPEATABLE READ transaction, so a
 * snapshot never mixes two states of the database; DIDs are read row by row (a
 * million rows never sit in memory twice). A row that cannot be used is logged and
 * skipped; a load that fails (connection lost, statement refused) changes nothing and
 * is retried.
 */
#ifndef TRUNX_DB_LOAD_H
#define TRUNX_DB_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "db/db.h"
#include "route.h"

struct db_load;

struct db_load_stats {
	size_t   carriers, peers, tenants, routes, oroutes, pools;
	size_t   dids;          /**< DIDs in the snapshot */
	size_t   dids_read;     /**< DID rows read by this load */
	size_t   skipped;       /**< rows refused */
	bool     full;          /**< every table was read */
	unsigned ms;            /**< how long the load took */
};

/**
 * A new snapshot (frozen). The handler receives one reference and must release it.
 * Control thread.
 */
typedef void (db_load_apply_h)(struct route_table *rt, const struct db_load_stats *st,
			       void *arg);

int db_load_create(struct db_load **lp, struct event_base *base, struct db *db,
		   db_load_apply_h *h, void *arg);
void db_load_destroy(struct db_load *l);

/**
 * The SIP listen addresses ([sip] listen, tls_listen; "" = none): a trunk row whose
 * uri names an IP literal of the other family is skipped with a routing.row record
 * naming both, as the file's [trunk] is refused. Control thread.
 */
void db_load_set_listen(struct db_load *l, const char *listen, const char *tls_listen);

/** Everything is to be read again (connection up, `trunxctl reload`). */
void db_load_all(struct db_load *l);

/** A NOTIFY payload on the routing channel. */
void db_load_notify(struct db_load *l, const char *payload);

/** Loads completed since creation (any outcome counts once it applied). */
unsigned db_load_generation(const struct db_load *l);

#endif
