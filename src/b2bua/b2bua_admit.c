/*
 * b2bua_admit.c — database mode: a routed call waits for its lease (channel pool,
 * tenant and global caps: src/admit through the data plane) and resumes with the
 * answer on the signalling thread: set-up continues, or the caller gets the configured
 * answer — 503 with Retry-After for a full pool, the global cap or no answer at all;
 * the settings' code for a tenant over its cap. The signalling thread never waits:
 * the call keeps its set-up scratch until the answer comes, and an answer that comes
 * too late (the caller gave up, or the overdue timer answered first) only ends it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

#define ADMIT_GRACE_MS 2000   /* after admit_timeout: the answer is overdue */

static void setup_free(struct call_setup *su)
{
	if (su) {
		free(su->offer_a);
		free(su);
	}
}

static void admit_overdue(void *arg)
{
	struct call *c = arg;

	c->admit_timer = NULL;
	if (!c->admit_pending || c->final_code)
		return;
	atomic_fetch_add(&c->b->c_admit_unavailable, 1);
	/* The call stays (admit_pending) until the answer: its token must stay valid. */
	fail_call(c, 503, "admission_timeout", "no admission answer");
}

void call_admit_async(struct call *c, struct call_setup *su)
{
	struct b2bua *b = c->b;

	c->su = su;
	c->admit_pending = c->admit_requested = true;
	if (b->hooks.admit(&c->areq, c, b->hooks.arg) != 0) {
		c->admit_pending = false;
		c->su = NULL;
		setup_free(su);
		atomic_fetch_add(&b->c_admit_unavailable, 1);
		fail_call(c, 503, "admission_unavailable", "admission unavailable");
		return;
	}
	sipua_timer_start(b->ua, b->admit_timeout_ms + ADMIT_GRACE_MS, admit_overdue, c,
			  &c->admit_timer);
}

static void refuse(struct call *c, enum admit_verdict v)
{
	struct b2bua *b = c->b;
	const struct route_settings *st = route_table_settings(c->rt);
	char why[160];

	switch (v) {
	case ADMIT_POOL_FULL:
		atomic_fetch_add(&b->c_budget, 1);
		snprintf(why, sizeof(why), "channel pool %s/%s full (%ld channels)",
			 c->areq.group, c->areq.pool, c->areq.pool_cap);
		call_ev_budget(c, "pool", why);
		fail_call(c, 503, "pool_full", why);
		break;
	case ADMIT_TENANT_CAP:
		atomic_fetch_add(&b->c_budget, 1);
		snprintf(why, sizeof(why), "tenant %s at its cap of %ld calls", c->areq.tenant,
			 c->areq.tenant_cap);
		call_ev_budget(c, "tenant", why);
		fail_call(c, st ? st->answer_over_cap : 503, "tenant_over_cap", why);
		break;
	case ADMIT_GLOBAL_CAP:
		atomic_fetch_add(&b->c_budget, 1);
		snprintf(why, sizeof(why), "global cap of %ld calls reached", c->areq.global_cap);
		call_ev_budget(c, "global", why);
		fail_call(c, 503, "global_cap", why);
		break;
	default:
		atomic_fetch_add(&b->c_admit_unavailable, 1);
		fail_call(c, 503, "admission_unavailable", "admission unavailable");
		break;
	}
}

void call_admitted(struct call *c, enum admit_verdict v)
{
	struct call_setup *su = c->su;

	if (c->orig && call_orig_bridge_admitted(c, v))
		return;   /* the answer for the bridged leg's own lease (b2bua_orig.c) */
	if (c->xfer && c->xfer->admitting) {
		/* The lease of a re-bridge's new leg (b2bua_rebridge.c). */
		c->admit_pending = false;
		c->xfer->admitting = false;
		c->xfer->on_admitted(c, v);
		return;
	}
	c->admit_pending = false;
	c->su = NULL;
	sipua_timer_cancel(c->admit_timer);
	c->admit_timer = NULL;
	if ((!c->a && !c->orig) || c->final_code || c->state == CALL_ENDING) {
		/* The caller is gone, or was answered meanwhile: the lease goes back when
		 * the call is freed. */
		setup_free(su);
		if (c->orig)
			call_orig_settled(c);
		call_maybe_end(c);
	} else if (v == ADMIT_OK) {
		call_proceed(c, su);
		if (c->orig) {   /* an API call: the INVITE is out, or it failed */
			call_orig_settled(c);
			call_maybe_end(c);
		}
	} else {
		setup_free(su);
		refuse(c, v);
		if (c->orig)
			call_orig_settled(c);
		call_maybe_end(c);
	}
}
