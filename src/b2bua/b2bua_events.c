/*
 * b2bua_events.c — a call's life as events (call.created, call.ringing, call.answered,
 * call.hungup), plus the entry point the DTMF hook uses for call.dtmf (call.amd and the
 * other media records come through b2bua_media.c's publish).
 * Each becomes an event record (b2b_event: in database mode a row of the events table
 * through the journal). The call.* lifecycle records are logged at debug level only:
 * call.end already tells each call in one line, and in file mode (no event hook) they
 * are not even built unless debug logging is on. Signalling thread; nothing here waits.
 */
#include <stdio.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

/* Someone takes call events: the data plane's hook, or a debug log. */
static bool wanted(const struct call *c)
{
	return c->b->hooks.event || log_get_level() <= LOG_DEBUG;
}

static json_t *call_data(const struct call *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "from", json_string(c->from));
	json_object_set_new(o, "to", json_string(c->to));
	if (c->did[0])
		json_object_set_new(o, "did", json_string(c->did));
	if (c->trunk_out)
		json_object_set_new(o, "trunk_out", json_string(trunk_get_cfg(c->trunk_out)->name));
	return o;
}

void call_ev_created(struct call *c)
{
	call_view_changed(c);
	if (c->ev_created)
		return;
	c->ev_created = true;
	if (wanted(c))
		b2b_event(c->b, LOG_DEBUG, "call.created", c, NULL, NULL, call_data(c));
}

void call_ev_ringing(struct call *c, int status)
{
	json_t *d;

	call_view_changed(c);
	if (c->ev_ringing || !c->ev_created)
		return;
	c->ev_ringing = true;
	if (!wanted(c))
		return;
	d = call_data(c);
	if (d)
		json_object_set_new(d, "status", json_integer(status));
	b2b_event(c->b, LOG_DEBUG, "call.ringing", c, NULL, NULL, d);
}

void call_ev_answered(struct call *c)
{
	call_view_changed(c);
	if (!c->ev_created || !wanted(c))
		return;
	b2b_event(c->b, LOG_DEBUG, "call.answered", c, NULL, NULL, call_data(c));
}

void call_ev_hungup(struct call *c)
{
	json_t *d;

	if (!c->ev_created)
		return;
	c->ev_created = false;   /* once */
	if (!wanted(c))
		return;
	d = call_data(c);
	if (d) {
		json_object_set_new(d, "cause", json_string(c->cause[0] ? c->cause : "normal"));
		json_object_set_new(d, "sip_code", json_integer(c->final_code));
		json_object_set_new(d, "answered", json_boolean(c->a_answered));
		if (c->a_answered && c->t_end_ms >= c->t_answer_ms)
			json_object_set_new(d, "duration_ms",
					    json_integer((json_int_t)(c->t_end_ms - c->t_answer_ms)));
	}
	b2b_event(c->b, LOG_DEBUG, "call.hungup", c, NULL, NULL, d);
}

void call_ev_dtmf(struct call *c, char digit, unsigned duration_ms, const char *source)
{
	char d[2] = {digit, '\0'};

	b2b_event(c->b, LOG_INFO, "call.dtmf", c, NULL, NULL,
		  json_pack("{s:s,s:i,s:s}", "digit", d, "duration_ms", (int)duration_ms,
			    "source", source ? source : "rfc4733"));
}

void call_ev_budget(struct call *c, const char *budget, const char *why)
{
	b2b_event(c->b, LOG_WARN, "budget.exhausted", c, NULL, NULL,
		  json_pack("{s:s,s:s}", "budget", budget, "reason", why));
}
