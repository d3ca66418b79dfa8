/*
 * data.h — database mode on the control thread: the Postgres connection that keeps
 * the routing snapshot current (LISTEN/NOTIFY, src/db/db_load.c) and hands each new
 * snapshot to the B2BUA; later steps add the CDR writer and admission here.
 *
 * Call records and events (the B2BUA's hooks) go through the journal to Postgres on a
 * second connection of their own (src/cdr), so a million-DID reload never delays them.
 *
 * DESIGN
 * Everything is created on the control thread's event loop before that thread starts.
 * Start-up runs that loop on the main thread (data_wait_first) until the first
 * snapshot is in place, so trunxd never answers a call before it knows its routing;
 * from ctl_start() on, the control thread owns it all. Destroy after ctl_stop().
 */
#ifndef TRUNX_DATA_H
#define TRUNX_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "admit/admit.h"
#include "b2bua/b2bua.h"
#include "conf/conf.h"

struct event_base;
struct data;
struct events;

/**
 * @param cf  the running configuration ([data] is copied)
 * @param b   the B2BUA the snapshots go to (not owned; outlives data)
 */
int data_create(struct data **dp, struct event_base *base, const struct conf *cf,
		struct b2bua *b);

/** Starts connecting. */
int data_start(struct data *d);

/**
 * Runs the event loop on the calling thread (before ctl_start) until the first routing
 * snapshot has been handed to the B2BUA.
 * @return 0, ETIMEDOUT (err says why)
 */
int data_wait_first(struct data *d, unsigned timeout_s, char *err, size_t errlen);

/** The hooks to give the B2BUA (records and events go to the journal). */
void data_hooks(struct data *d, struct b2bua_hooks *h);

/**
 * At shutdown, while the control thread still runs: makes every record durable and
 * waits up to timeout_ms for Postgres to have them (the rest stays in the journal).
 */
int data_drain(struct data *d, unsigned timeout_ms);

/** Adds {"postgres": ..., "routing": ..., "cdr": ...} to a status reply. Control thread. */
void data_status(struct data *d, json_t *obj);

/**
 * Budgets report for `trunxctl budgets`: h gets a JSON object text (malloc'd) or NULL.
 * Control thread.
 */
void data_budgets(struct data *d, void (*h)(char *json, void *arg), void *arg);

/** Reads every table again (`trunxctl reload`). Control thread. */
void data_reload(struct data *d);

/** Counts of the current snapshot (control thread). */
void data_counts(const struct data *d, size_t *trunks, size_t *routes, size_t *dids);

/**
 * Each trunk and peer of the current snapshot with its state as this node knows it:
 * "up", "down", "unknown" (probed, no answer yet), "maintenance" or "inactive" (its
 * status); a trunk that is not probed (no qualify, no registration) is "up". Live
 * states come from the signalling thread as they change (hooks.trunk_state); this
 * never asks it. kind: "carrier", "peer" or "file". Control thread.
 */
typedef void (data_trunk_h)(const char *name, const char *kind, const char *state,
			    void *arg);
void data_trunk_states(struct data *d, data_trunk_h *h, void *arg);

/** This node's use of each channel pool, tenant cap and the global cap (admit.h). */
void data_pool_use(struct data *d, admit_use_h *h, void *arg);

/** The event stream (src/events): for the HTTP routes that serve it. Control thread. */
struct events *data_events(struct data *d);

void data_destroy(struct data *d);

#endif
