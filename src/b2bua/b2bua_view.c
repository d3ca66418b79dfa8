/*
 * b2bua_view.c — the calls' public view, pushed to the control plane: each time a
 * call appears, changes state, legs, trunks or codecs, or is freed, its object (as
 * b2bua_get_call shows it, without the fields the clock gives) goes to the view hook
 * at once; every second the whole list goes too, which refreshes the media quality
 * counters and repairs a copy that lost a message (the hook's post failed). The
 * receiver (the API, on the control thread) answers reads of calls from its copy, so
 * that a read never waits on this thread. Signalling thread; nothing here waits.
 */
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

#define VIEW_RESEND_MS 1000u

/* One call as the control plane sees it (trunxctl calls, GET /v1/calls), but for
 * the fields the clock gives (b2bua.c's list adds them; the API's copy at read time). */
json_t *b2b_call_json_base(const struct call *c)
{
	json_t *o = json_object(), *legs = json_array();
	char codec[48], codec_b[48];

	b2b_sdp_codec_side(&c->media, MEDIA_SIDE_A, codec, sizeof(codec));
	b2b_sdp_codec_side(&c->media, MEDIA_SIDE_B, codec_b, sizeof(codec_b));
	if (!o || !legs) {
		json_decref(o);
		json_decref(legs);
		return NULL;
	}
	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "from", json_string(c->from));
	json_object_set_new(o, "to", json_string(c->did[0] ? c->did : c->to));
	json_object_set_new(o, "state", json_string(call_state_name(c->state)));
	json_object_set_new(o, "tenant", c->tenant[0] ? json_string(c->tenant) : json_null());
	if (c->a)
		json_array_append_new(legs, json_pack("{s:s,s:s}", "leg", "a", "call_id",
						      c->a_call_id));
	if (c->b_leg)
		json_array_append_new(legs, json_pack("{s:s,s:s}", "leg", "b", "call_id",
						      c->b_call_id));
	json_object_set_new(o, "legs", legs);
	json_object_set_new(o, "codecs", json_string(codec));
	json_object_set_new(o, "codec_a", json_string(codec));
	json_object_set_new(o, "codec_b", json_string(codec_b));
	{
		json_t *q = call_quality_json(c);

		if (q)
			json_object_set_new(o, "quality", q);
	}
	json_object_set_new(o, "trunk_in",
			    c->trunk_in ? json_string(trunk_get_cfg(c->trunk_in)->name)
					: json_null());
	json_object_set_new(o, "trunk_out",
			    c->trunk_out ? json_string(trunk_get_cfg(c->trunk_out)->name)
					 : json_null());
	return o;
}

void b2bua_view_free(struct b2bua_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		json_decref(v->calls[i].obj);
	free(v->calls);
	free(v);
}

static struct b2bua_view *view_new(struct b2bua *b, enum b2bua_view_kind kind, size_t n)
{
	struct b2bua_view *v = calloc(1, sizeof(*v));

	/* Numbered even when it cannot be built: the receiver must see the gap. */
	b->view_seq++;
	if (!v)
		return NULL;
	v->seq = b->view_seq;
	v->kind = kind;
	v->calls = n ? calloc(n, sizeof(*v->calls)) : NULL;
	if (n && !v->calls) {
		free(v);
		return NULL;
	}
	return v;
}

static void fill(struct b2bua_view_call *vc, const struct call *c, bool with_obj)
{
	snprintf(vc->id, sizeof(vc->id), "%s", c->id);
	snprintf(vc->tenant, sizeof(vc->tenant), "%s", c->tenant);
	vc->t_start_ms = c->t_start_ms;
	vc->t_answer_ms = c->t_answer_ms;
	vc->obj = with_obj ? b2b_call_json_base(c) : NULL;
}

static void resend_all(void *arg);

static void send_view(struct b2bua *b, struct b2bua_view *v)
{
	if (!b->view_timer && !b->stopping)
		sipua_timer_start(b->ua, VIEW_RESEND_MS, resend_all, b, &b->view_timer);
	if (v)
		b->view_hook(v, b->view_hook_arg);
}

static void send_one(struct call *c, enum b2bua_view_kind kind)
{
	struct b2bua *b = c->b;
	struct b2bua_view *v;

	if (!b->view_hook)
		return;
	v = view_new(b, kind, 1);
	if (v) {
		v->n = 1;
		fill(&v->calls[0], c, kind == B2BUA_VIEW_SET);
		if (kind == B2BUA_VIEW_SET && !v->calls[0].obj) {   /* out of memory */
			b2bua_view_free(v);
			v = NULL;
		}
	}
	send_view(b, v);
}

void call_view_changed(struct call *c)
{
	send_one(c, B2BUA_VIEW_SET);
}

void call_view_gone(struct call *c)
{
	send_one(c, B2BUA_VIEW_GONE);
}

static void resend_all(void *arg)
{
	struct b2bua *b = arg;
	struct b2bua_view *v;
	size_t i = 0;

	b->view_timer = NULL;
	if (!b->view_hook)
		return;
	v = view_new(b, B2BUA_VIEW_ALL, b->n_calls);
	for (struct call *c = b->calls; v && c && i < b->n_calls; c = c->next, i++) {
		fill(&v->calls[i], c, true);
		v->n = i + 1;
		if (!v->calls[i].obj) {
			b2bua_view_free(v);
			v = NULL;
		}
	}
	send_view(b, v);
}

void b2b_view_stop(struct b2bua *b)
{
	sipua_timer_cancel(b->view_timer);
	b->view_timer = NULL;
	b->view_hook = NULL;
}

void b2bua_set_view_hook(struct b2bua *b, b2bua_view_hook *fn, void *arg)
{
	if (!b)
		return;
	b->view_hook = fn;
	b->view_hook_arg = arg;
}
