/*
 * admit.h — admission: channel budgets and concurrent-call caps, checked and taken in
 * one atomic step for every new call, shared by every node through Redis (one Lua
 * script), or counted in this process when no Redis is configured.
 *
 * DESIGN
 * A call asks for a lease: one member in each of up to three sorted sets — its trunk
 * group's channel pool, its tenant, and the global set — scored with the lease's
 * expiry time. The admission script drops expired members, refuses when a set is at
 * its cap, and otherwise adds the lease to all of them; Redis runs scripts one at a
 * time, so two nodes can never both take the last channel. A lease is
 * "<node id>|<lease id>": every node refreshes the leases of its live calls every
 * lease_ttl/3 and removes them when the calls end, so the channels of a node that
 * died come back by themselves within lease_ttl. Keys share the hash tag {b} (one
 * cluster slot).
 *
 * Everything here runs on the control thread. When Redis cannot be reached (or does
 * not answer within the timeout) the verdict is ADMIT_UNAVAILABLE at once — calls in
 * progress are not touched — and leases are refreshed again as soon as it is back.
 */
#ifndef TRUNX_ADMIT_H
#define TRUNX_ADMIT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "route.h"

struct event_base;
struct admit;

#define ADMIT_LEASE_MAX 40

/** What a call asks for. A cap of -1 counts without a limit; a "" name skips the set. */
struct admit_req {
	char lease[ADMIT_LEASE_MAX];       /**< unique per call (its record id) */
	char group[ROUTE_NAME_MAX];        /**< trunk group of the pool */
	char pool[ROUTE_POOL_MAX];         /**< channel pool; "" = none */
	long pool_cap;
	char tenant[ROUTE_NAME_MAX];       /**< "" = none */
	long tenant_cap;
	long global_cap;
};

enum admit_verdict {
	ADMIT_OK = 0,
	ADMIT_POOL_FULL,      /**< the channel pool is full */
	ADMIT_TENANT_CAP,     /**< the tenant is at its cap */
	ADMIT_GLOBAL_CAP,     /**< the global cap is reached */
	ADMIT_UNAVAILABLE,    /**< no answer: Redis unreachable, slow or refusing */
};

const char *admit_verdict_name(enum admit_verdict v);

typedef void (admit_done_h)(enum admit_verdict v, void *arg);

/** A budgets report (JSON object text, malloc'd, the handler owns it; NULL on error). */
typedef void (admit_report_h)(char *json, void *arg);

struct admit_cfg {
	char     redis_url[256];   /**< "" = counters in this process */
	char     node_id[64];
	unsigned lease_ttl_s;      /**< >= 2 */
	unsigned timeout_ms;       /**< admission answer deadline */
};

int admit_create(struct admit **ap, struct event_base *base, const struct admit_cfg *cfg);
int admit_start(struct admit *a);
void admit_destroy(struct admit *a);

/** Asks for a lease; h is called exactly once (perhaps before this returns). */
void admit_request(struct admit *a, const struct admit_req *req, admit_done_h *h, void *arg);

/** Gives a lease back (unknown leases are ignored). */
void admit_release(struct admit *a, const char *lease);

/**
 * Reports pools, caps and leases (`trunxctl budgets`): the snapshot's pools and
 * tenants with their current use across every node, this node's leases.
 */
void admit_report(struct admit *a, const struct route_table *rt, admit_report_h *h,
		  void *arg);

/** One budget as this node knows it: its calls' leases in it, and its cap. */
struct admit_use {
	const char *scope;    /**< "pool", "tenant" or "global" */
	const char *group;    /**< pool: its trunk group */
	const char *pool;     /**< pool: its name */
	const char *tenant;   /**< tenant: its id */
	long        used;     /**< this node's leases (every node's: ask admit_report) */
	long        cap;      /**< -1: no cap */
};

typedef void (admit_use_h)(const struct admit_use *u, void *arg);

/**
 * This node's use of each budget of the snapshot, without asking Redis: every pool,
 * the global cap, each tenant with a cap or a lease here (/metrics). Control thread.
 */
void admit_node_use(struct admit *a, const struct route_table *rt, admit_use_h *h,
		    void *arg);

/** Leases this node holds. */
size_t admit_leases(const struct admit *a);

/** Whether admission can answer now (Redis connected, or no Redis). */
bool admit_available(const struct admit *a);

#endif
