/*
 * b2bua_route.c — the route step of a call in database mode: the snapshot's decision
 * (sip/route/route_decide.c) applied to the call — its DID, tenant and destinations —
 * or the configured answer with its reason, and the event records of refusals that
 * matter (a caller ID the tenant does not own). Also the route step in file mode
 * (call_route_file) and, in either mode, the refusals that depend on the number
 * alone, asked before a call exists (call_route_refusal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

uint64_t b2b_rand(struct b2bua *b)
{
	uint64_t x = b->rng ? b->rng : 0x2545f4914f6cdd1dull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return x;
}

void call_event(struct call *c, const char *type, const char *reason)
{
	b2b_event(c->b, LOG_WARN, type, c, NULL, NULL,
		  json_pack("{s:s?,s:s?,s:s?,s:s?}", "reason", reason, "from", c->from, "to",
			    c->to, "did", c->did[0] ? c->did : NULL));
}

int call_route_db(struct call *c, const struct sipua_incoming *in, struct call_setup *su)
{
	struct b2bua *b = c->b;
	struct route_decision *d;

	if (!c->trunk_in) {
		fail_call(c, 403, "unknown_source", "unknown source");
		return -1;
	}
	d = malloc(sizeof(*d));
	if (!d) {
		fail_call(c, 500, "no_memory", NULL);
		return -1;
	}
	route_decide(c->rt, c->trunk_in, in->ruri_user, in->from_user, b2b_rand(b),
		     b2b_trunk_usable, b, d);
	snprintf(c->did, sizeof(c->did), "%s", d->did);
	if (d->tenant)
		snprintf(c->tenant, sizeof(c->tenant), "%s", d->tenant->id);
	if (d->code) {
		if (d->event) {
			atomic_fetch_add(&b->c_callerid, 1);
			call_event(c, d->event, d->reason);
		} else if (d->code == 404) {
			atomic_fetch_add(&b->c_no_route, 1);
		} else {
			atomic_fetch_add(&b->c_refused, 1);
		}
		fail_call(c, d->code, d->cause, d->reason);
		free(d);
		return -1;
	}
	c->targets = calloc(d->n_targets, sizeof(*c->targets));
	if (!c->targets) {
		free(d);
		fail_call(c, 500, "no_memory", NULL);
		return -1;
	}
	memcpy(c->targets, d->targets, d->n_targets * sizeof(*c->targets));
	c->n_targets = d->n_targets;
	c->target = 0;
	/* What admission takes for it: the lease is the record's id. */
	snprintf(c->areq.lease, sizeof(c->areq.lease), "%s", c->cdr_id);
	snprintf(c->areq.group, sizeof(c->areq.group), "%s", d->group ? d->group : "default");
	snprintf(c->areq.pool, sizeof(c->areq.pool), "%s", d->pool ? d->pool : "");
	c->areq.pool_cap = d->pool_channels;
	snprintf(c->areq.tenant, sizeof(c->areq.tenant), "%s", d->tenant ? d->tenant->id : "");
	c->areq.tenant_cap = d->tenant_cap;
	c->areq.global_cap = d->global_cap;
	c->trunk_out = c->targets[0].trunk;
	snprintf(su->ruri_b, sizeof(su->ruri_b), "%s", c->targets[0].ruri);
	snprintf(su->from_user, sizeof(su->from_user), "%s",
		 c->targets[0].caller[0] ? c->targets[0].caller : "anonymous");
	free(d);
	return 0;
}

bool call_failover(struct call *c, int status, bool local)
{
	struct b2bua *b = c->b;
	struct sipua_leg *old = c->b_leg;
	const struct route_target *t;
	const char *from = c->trunk_out ? trunk_get_cfg(c->trunk_out)->name : "uri";

	if (!c->fo_su || c->got_provisional || c->target + 1 >= c->n_targets ||
	    (!c->a && !c->orig) ||
	    c->final_code)
		return false;
	if (!local && status != 408 && (status < 500 || status > 599))
		return false;   /* a real answer (busy, not found...) is the caller's */
	/* The leg that failed is left to the stack: its last events are not ours. */
	if (old) {
		sipua_leg_set_ctx(old, NULL);
		sipua_leg_hangup(old, 0);
	}
	c->b_leg = NULL;
	t = &c->targets[++c->target];
	c->trunk_out = t->trunk;
	snprintf(c->fo_su->ruri_b, sizeof(c->fo_su->ruri_b), "%s", t->ruri);
	snprintf(c->fo_su->from_user, sizeof(c->fo_su->from_user), "%s",
		 t->caller[0] ? t->caller : "anonymous");
	atomic_fetch_add(&b->c_failover, 1);
	call_log(LOG_INFO, "call.failover", c, "b", "%s answered %d%s: trying %s", from, status,
		 local ? " (no answer)" : "", t->trunk ? trunk_get_cfg(t->trunk)->name : t->ruri);
	if (call_send_b(c, c->fo_su, c->fo_offer, c->fo_offer_len) != 0)
		return false;
	return true;
}

const struct route *call_route_file(const struct route_table *rt, const struct trunk *t,
				    const char *ruri_user, char *did, size_t didlen, char *ruri,
				    size_t rurilen, const char **why)
{
	const struct route *route;

	if (!t || !ruri_user || route_normalize(t, ruri_user, did, didlen)) {
		did[0] = '\0';
		*why = "not a telephone number";
		return NULL;
	}
	route = route_lookup(rt, did, t);
	if (!route || route_expand_uri(route, did, ruri, rurilen)) {
		*why = "number not routed";
		return NULL;
	}
	return route;
}

int call_route_refusal(struct b2bua *b, const struct trunk *t, const char *ruri_user,
		       const char *from_user, struct b2b_route_refusal *r)
{
	struct route_decision *d;
	char ruri[ROUTE_URI_MAX];
	const char *why;

	memset(r, 0, sizeof(*r));
	if (!t || !ruri_user)
		return 0;
	if (!route_table_is_db(b->rt)) {
		if (!call_route_file(b->rt, t, ruri_user, r->did, sizeof(r->did), ruri,
				     sizeof(ruri), &why)) {
			r->cause = "no_route";
			snprintf(r->reason, sizeof(r->reason), "%s", why);
			r->code = 404;
		}
		return r->code;
	}
	d = malloc(sizeof(*d));
	if (!d)
		return 0;   /* the call decides it, as it would have */
	if (route_decide(b->rt, t, ruri_user, from_user ? from_user : "", b2b_rand(b),
			 b2b_trunk_usable, b, d) == 0 &&
	    d->code && !d->event && d->cause &&
	    (strcmp(d->cause, "no_route") == 0 || strcmp(d->cause, "did_unassigned") == 0)) {
		r->code = d->code;
		r->cause = d->cause;
		snprintf(r->reason, sizeof(r->reason), "%s", d->reason);
		snprintf(r->did, sizeof(r->did), "%s", d->did);
		if (d->tenant)
			snprintf(r->tenant, sizeof(r->tenant), "%s", d->tenant->id);
	}
	free(d);
	return r->code;
}
