/*
 * cdr.h — call records and events on their way to Postgres: taken from any thread,
 * made durable in the journal (cdr_journal.h), then written in batches, in order, by
 * the control thread; replayed from the journal after an outage or a restart. Nothing
 * acknowledged by the journal is lost, and nothing lands twice: every record carries
 * its own id (cdr_id, event_id) and the INSERTs skip ids already there.
 *
 * DESIGN
 * Producers (the signalling thread) hand over malloc'd JSON texts through a short
 * mutex-guarded list; they never wait on disk. The journal's sync thread (cdr_sync.h)
 * gathers them for up to CDR_GATHER_MS, appends the lot with one fdatasync and tells
 * the control thread how far the journal is durable: only then does a record count as
 * journaled. The control thread sends from the journal — never from memory — up to that
 * point, when a batch is full or cdr_flush has passed: `INSERT ... SELECT FROM
 * jsonb_array_elements($1) ON CONFLICT DO NOTHING`. Its commits (deleting sent
 * segments) are carried out by the sync thread too, so no journal write or sync runs on
 * the control thread (it reads the journal, and syncs rejected.log for a refused
 * record, a rare event).
 * A batch that fails for the connection is sent again once Postgres is back; so is one
 * that fails for Postgres' own state rather than the records' (SQLSTATE classes 08,
 * 40, 53, 55, 57, 58, XX: a full disk, a shutdown, a deadlock ...), which is no
 * refusal. A batch the server refuses is split until the one bad record is found,
 * which is set aside in rejected.log (logged), so that one record can never block the
 * others.
 */
#ifndef TRUNX_CDR_H
#define TRUNX_CDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct db;
struct cdr;

#define CDR_GATHER_MS 10   /* journal appends are grouped this long (sync thread) */

struct cdr_cfg {
	char     journal_dir[256];
	unsigned batch;        /**< most records per INSERT */
	unsigned flush_ms;     /**< longest wait before a partial batch is sent */
};

struct cdr_stats {
	uint64_t submitted;    /**< records handed over since start */
	uint64_t journaled;    /**< of them, durable in the journal */
	uint64_t committed;    /**< records written to Postgres since start (replays too) */
	uint64_t replayed;     /**< records found in the journal at start */
	uint64_t rejected;     /**< records Postgres refused (set aside) */
	uint64_t pending;      /**< in the journal, not yet in Postgres */
	bool     db_up;
	uint64_t journal_bytes;
};

/**
 * Opens the journal (records found there are sent again) and prepares the writer on
 * the control thread's loop. db: the writer's own connection (not owned).
 * @return 0, or an errno value (err says why)
 */
int cdr_create(struct cdr **cp, struct event_base *base, struct db *db,
	       const struct cdr_cfg *cfg, char *err, size_t errlen);

/**
 * Hands a record over (a JSON object text, malloc'd; ownership passes, even on error).
 * Any thread; never blocks on disk or network.
 */
void cdr_submit(struct cdr *c, char *json);

/**
 * The ids ("1,2,3", ascending) of events a batch has just added to the events table,
 * after its statement succeeded. Control thread.
 */
typedef void (cdr_events_h)(const char *ids, void *arg);

/** Sets the handler told about committed events (src/events). Control thread. */
void cdr_set_events_hook(struct cdr *c, cdr_events_h *h, void *arg);

/** The writer connection went up or down (control thread). */
void cdr_db_state(struct cdr *c, bool up);

/**
 * Makes everything submitted so far durable and waits up to timeout_ms for Postgres to
 * have it all (what it does not have stays in the journal for the next start). Any
 * thread but the control thread, while the control loop runs.
 * @return 0 (all written), ETIMEDOUT
 */
int cdr_drain(struct cdr *c, unsigned timeout_ms);

/** Counters; any thread. */
void cdr_get_stats(struct cdr *c, struct cdr_stats *st);

/**
 * Journals whatever is still in hand and frees the writer. After the control loop
 * stopped, before the db client is destroyed.
 */
void cdr_destroy(struct cdr *c);

#endif
