/*
 * cdr_sync.h — the journal's sync thread: takes records from any thread, writes them
 * to the journal and fdatasyncs them in groups (group commit), and tells the control
 * thread, through an eventfd on its loop, "durable up to here": a record counts as
 * acknowledged only once that message arrives. It also carries out the control
 * thread's commits (segment deletion, rotation), so no journal write, sync, unlink or
 * directory sync ever runs on the control thread.
 *
 * DESIGN
 * Producers append to a mutex-guarded list and signal a condition; the thread waits
 * until the oldest record has waited gather_ms (or a flush is asked, or it stops),
 * takes the whole list, and appends it with one fdatasync (journal_append). Then,
 * under the lock, it publishes the journal's head and the running count of records
 * made durable, and writes the eventfd; the control thread's callback hands the new
 * count and the position to the owner (cdr.c), which reads the journal only up to that
 * position. A failed append keeps the records in hand, in order, and is tried again a
 * second later. The lock is never held across I/O: a producer never waits on the disk.
 * Stopping (destroy) writes and syncs everything still queued before the thread ends.
 */
#ifndef TRUNX_CDR_SYNC_H
#define TRUNX_CDR_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "cdr/cdr_journal.h"

struct event_base;
struct cdr_sync;

/**
 * Control thread: n more records are durable (and `dropped` were refused: too long
 * or empty, never journaled), the journal holds them all before `durable`.
 */
typedef void (cdr_sync_ack_h)(uint64_t n, uint64_t dropped, const struct journal_pos *durable,
			      void *arg);

/**
 * Starts the thread. The journal is the thread's to write from now on (the caller may
 * still read it with journal_read_to up to acknowledged positions).
 * @return 0, or an errno value
 */
int cdr_sync_create(struct cdr_sync **sp, struct journal *j, struct event_base *base,
		    unsigned gather_ms, cdr_sync_ack_h *ack, void *arg);

/** Queues a record (malloc'd text, ownership passes). Any thread; never waits on disk. */
void cdr_sync_submit(struct cdr_sync *s, char *rec, size_t len);

/** Records handed over since start (counted before they are queued). Any thread. */
uint64_t cdr_sync_submitted(struct cdr_sync *s);

/** Write what is queued now, without the gather wait (a drain). Any thread. */
void cdr_sync_flush(struct cdr_sync *s);

/** Control thread: everything before pos is in Postgres; the thread commits it. */
void cdr_sync_commit(struct cdr_sync *s, const struct journal_pos *pos);

/**
 * Stops the thread after it has written and synced what is queued (acknowledgements
 * not yet delivered are dropped: the records are in the journal, replayed at the next
 * start). After the control loop stopped. The journal stays the caller's.
 */
void cdr_sync_destroy(struct cdr_sync *s);

#endif
