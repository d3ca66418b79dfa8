/*
 * b2bua_xfer.c — a blind transfer's progress on the signalling thread: the answer to
 * the REFER trunx sent toward one leg's peer (the transferee), then the NOTIFYs whose
 * sipfrag tells how the transferee's new call goes (RFC 3515).
 *
 *   REFER refused (>= 300), a final sipfrag >= 300, the subscription ended with no
 *   final status, or no final NOTIFY within B2B_XFER_WAIT_MS: the transfer failed and
 *   the call goes on unchanged (call.transfer state "failed").
 *   A final sipfrag 2xx: the transferee's new call replaced ours; trunx hangs the call
 *   up (BYE on both legs, RFC 5589's transferor BYE included) with cause
 *   "transferred" in its record (call.transfer state "completed").
 *
 * Every step is a call.transfer event (requested, accepted, progress, completed,
 * failed). Starting one is b2bua_xfer_ctl.c's (the control plane's request); mode
 * bridge (a new leg swapped in) is b2bua_rebridge.c's, ended through the same calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

void b2b_xfer_report(struct call *c, const char *state, int status, const char *reason)
{
	const struct b2b_xfer *x = c->xfer;
	json_t *d;

	if (!x)
		return;
	d = json_pack("{s:s,s:s,s:s,s:s,s:s}", "state", state, "mode",
		      x->bridge ? "bridge" : "refer", "leg", x->side ? "b" : "a", "to", x->to,
		      x->bridge ? "target" : "refer_to", x->target);
	if (d && status)
		json_object_set_new(d, "status", json_integer(status));
	if (d && reason && reason[0])
		json_object_set_new(d, "reason", json_string(reason));
	if (d && (strcmp(state, "completed") == 0 || strcmp(state, "failed") == 0))
		json_object_set_new(d, "result", json_string(state[0] == 'c' ? "transferred" :
							     "failed"));
	b2b_event(c->b, strcmp(state, "failed") == 0 ? LOG_WARN : LOG_INFO, "call.transfer",
		  c, NULL, NULL, d);
}

static void xfer_end(struct call *c)
{
	if (!c->xfer)
		return;
	if (c->xfer->on_end)
		c->xfer->on_end(c);
	sipua_timer_cancel(c->xfer->timer);
	free(c->xfer);
	c->xfer = NULL;
}

void b2b_xfer_done(struct call *c)
{
	xfer_end(c);
}

static void xfer_failed(struct call *c, int status, const char *reason)
{
	b2b_xfer_report(c, "failed", status, reason);
	call_log(LOG_INFO, "call.transfer_failed", c, c->xfer->side ? "b" : "a",
		 "transfer failed (%d %s): the call goes on", status, reason);
	xfer_end(c);
}

void b2b_xfer_failed(struct call *c, int status, const char *reason)
{
	if (c->xfer)
		xfer_failed(c, status, reason);
}

void b2b_xfer_timeout(void *arg)
{
	struct call *c = arg;

	if (!c->xfer)
		return;
	c->xfer->timer = NULL;   /* fired: freed by the timer code */
	xfer_failed(c, 408, "no final NOTIFY in time");
}

void b2b_xfer_free(struct call *c, const char *reason)
{
	if (!c->xfer)
		return;
	b2b_xfer_report(c, "failed", 0, reason);
	xfer_end(c);
}

void b2b_xfer_on_event(struct call *c, int side, const struct sipua_ev *ev)
{
	struct b2b_xfer *x = c->xfer;
	char why[64];

	if (!x || x->bridge || side != x->side)
		return;   /* no transfer of ours on this leg (late NOTIFY): ignored */
	if (ev->type == SIPUA_EV_REFER_ANSWER) {
		if (ev->status >= 300) {
			snprintf(why, sizeof(why), "REFER refused%s", ev->local ? " (no answer)" :
				 "");
			xfer_failed(c, ev->status, why);
			return;
		}
		x->accepted = true;
		b2b_xfer_report(c, "accepted", ev->status, NULL);
		return;
	}
	/* SIPUA_EV_REFER_NOTIFY */
	if (ev->status >= 100 && ev->status < 200 && !ev->sub_terminated) {
		if (ev->status != x->last_status)
			b2b_xfer_report(c, "progress", ev->status, NULL);
		x->last_status = ev->status;
		return;
	}
	if (ev->status >= 200 && ev->status < 300) {
		b2b_xfer_report(c, "completed", ev->status, NULL);
		call_log(LOG_INFO, "call.transferred", c, x->side ? "b" : "a",
			 "the transferee's call to %s was answered: hanging up", x->target);
		xfer_end(c);
		call_hangup(c, "transferred");
		return;
	}
	if (ev->local)
		xfer_failed(c, ev->status, "no NOTIFY from the transferee");
	else if (ev->status >= 300)
		xfer_failed(c, ev->status, "the transferee's call failed");
	else if (ev->status == 0 && !ev->sub_terminated)
		return;   /* an unreadable NOTIFY in the middle: wait for the next */
	else
		xfer_failed(c, ev->status, "the subscription ended without a final status");
}
