/*
 * api_view.c — the control thread's copy of the calls' public view: a table of the
 * calls in progress by id (chained hash) in the B2BUA's order (newest first), each
 * with its public object as the signalling thread last sent it, its tenant and its
 * start and answer times (age_ms and duration_ms are computed at read time).
 *
 * Kept in step by numbered messages (b2bua_view): a call set or changed, a call gone,
 * and the whole list every second. A missing number (the B2BUA could not post one) or
 * a call beyond the table's bound makes the copy stale: reads then go to the B2BUA as
 * before, until a whole list that fits replaces the table. Control thread only.
 */
#include "api/api_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct view_call {
	struct view_call *prev, *next;   /* the B2BUA's order, newest first */
	struct view_call *hnext;         /* the bucket's chain */
	char      id[B2BUA_VIEW_ID_MAX];
	char      tenant[B2BUA_VIEW_TENANT_MAX];
	uint64_t  t_start_ms, t_answer_ms;
	json_t   *obj;
};

struct api_view {
	struct view_call **buckets;
	size_t             n_buckets;    /* a power of two */
	struct view_call  *head, *tail;
	size_t             n, max;
	uint64_t           last_seq;
	bool               stale;
	struct api_view_stats st;
};

static uint64_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int api_view_create(struct api_view **vp, size_t max_calls)
{
	struct api_view *v;
	size_t nb = 64;

	if (!vp || !max_calls)
		return EINVAL;
	while (nb < max_calls && nb < ((size_t)1 << 20))
		nb <<= 1;
	v = calloc(1, sizeof(*v));
	if (!v)
		return ENOMEM;
	v->buckets = calloc(nb, sizeof(*v->buckets));
	if (!v->buckets) {
		free(v);
		return ENOMEM;
	}
	v->n_buckets = nb;
	v->max = max_calls;
	*vp = v;
	return 0;
}

static struct view_call **slot_of(const struct api_view *v, const char *id)
{
	struct view_call **p = &v->buckets[hash_id(id) & (v->n_buckets - 1)];

	while (*p && strcmp((*p)->id, id) != 0)
		p = &(*p)->hnext;
	return p;
}

static void unlink_call(struct api_view *v, struct view_call *c)
{
	struct view_call **p = slot_of(v, c->id);

	if (*p == c)
		*p = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		v->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		v->tail = c->prev;
	v->n--;
	json_decref(c->obj);
	free(c);
}

static void clear(struct api_view *v)
{
	while (v->head)
		unlink_call(v, v->head);
}

void api_view_destroy(struct api_view *v)
{
	if (!v)
		return;
	clear(v);
	free(v->buckets);
	free(v);
}

static void take(struct view_call *c, struct b2bua_view_call *m)
{
	json_decref(c->obj);
	c->obj = m->obj;
	m->obj = NULL;
	memcpy(c->tenant, m->tenant, sizeof(c->tenant));
	c->tenant[sizeof(c->tenant) - 1] = '\0';
	c->t_start_ms = m->t_start_ms;
	c->t_answer_ms = m->t_answer_ms;
}

static void go_stale(struct api_view *v, const char *why)
{
	if (!v->stale)
		log_msg(LOG_WARN, "api.view", "the calls' copy is stale (%s): reads go to the "
			"signalling thread until the next whole list", why);
	v->stale = true;
}

/* A call set: changed in place, or new (newest first, or last while a whole list is
 * laid out in order). */
static void set_call(struct api_view *v, struct b2bua_view_call *m, bool at_tail)
{
	struct view_call **p, *c;

	if (!m->obj || !m->id[0])
		return;
	m->id[sizeof(m->id) - 1] = '\0';
	p = slot_of(v, m->id);
	if (*p) {
		take(*p, m);
		return;
	}
	if (v->n >= v->max) {
		v->st.overflows++;
		go_stale(v, "more calls than the table holds");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		go_stale(v, "out of memory");
		return;
	}
	memcpy(c->id, m->id, sizeof(c->id));
	take(c, m);
	*p = c;
	if (at_tail) {
		c->prev = v->tail;
		if (v->tail)
			v->tail->next = c;
		else
			v->head = c;
		v->tail = c;
	} else {
		c->next = v->head;
		if (v->head)
			v->head->prev = c;
		else
			v->tail = c;
		v->head = c;
	}
	v->n++;
}

void api_view_apply(struct api_view *v, struct b2bua_view *m)
{
	if (!v || !m) {
		b2bua_view_free(m);
		return;
	}
	if (m->seq != v->last_seq + 1) {
		v->st.gaps++;
		go_stale(v, "a message was lost");
	}
	v->last_seq = m->seq;
	v->st.applied++;
	switch (m->kind) {
	case B2BUA_VIEW_SET:
		if (m->n)
			set_call(v, &m->calls[0], false);
		break;
	case B2BUA_VIEW_GONE:
		if (m->n) {
			struct view_call **p;

			m->calls[0].id[sizeof(m->calls[0].id) - 1] = '\0';
			p = slot_of(v, m->calls[0].id);
			if (*p)
				unlink_call(v, *p);
		}
		break;
	case B2BUA_VIEW_ALL: {
		bool was_stale = v->stale;

		clear(v);
		v->stale = false;
		v->st.resyncs++;
		for (size_t i = 0; i < m->n; i++)
			set_call(v, &m->calls[i], true);
		if (was_stale && !v->stale)
			log_msg(LOG_INFO, "api.view", "the calls' copy is current again (%zu calls)",
				v->n);
		break;
	}
	}
	b2bua_view_free(m);
}

bool api_view_synced(const struct api_view *v)
{
	return v && !v->stale;
}

static bool visible(const struct view_call *c, const char *tenant)
{
	return !tenant || (c->tenant[0] && strcmp(c->tenant, tenant) == 0);
}

/* A reader's own object: the stored one's fields (shared, not copied) and the clock's. */
static json_t *answer(const struct view_call *c, uint64_t now_ms)
{
	json_t *o = json_copy(c->obj);

	if (!o)
		return NULL;
	if (json_object_set_new(o, "duration_ms", json_integer(
		    c->t_answer_ms ? (json_int_t)(now_ms - c->t_answer_ms) : 0)) ||
	    json_object_set_new(o, "age_ms", json_integer((json_int_t)(now_ms - c->t_start_ms)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int api_view_get(const struct api_view *v, const char *id, const char *tenant,
		 uint64_t now_ms, json_t **out)
{
	struct view_call *c;

	if (!api_view_synced(v))
		return ESTALE;
	if (!id || !out)
		return ENOENT;
	c = *slot_of(v, id);
	if (!c || !visible(c, tenant))
		return ENOENT;
	*out = answer(c, now_ms);
	return *out ? 0 : ENOMEM;
}

int api_view_list(const struct api_view *v, const char *tenant, uint64_t now_ms,
		  json_t **out)
{
	json_t *arr;

	if (!api_view_synced(v))
		return ESTALE;
	arr = json_array();
	for (const struct view_call *c = v->head; arr && c; c = c->next) {
		json_t *o;

		if (!visible(c, tenant))
			continue;
		o = answer(c, now_ms);
		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			arr = NULL;
		}
	}
	*out = arr;
	return arr ? 0 : ENOMEM;
}

void api_view_get_stats(const struct api_view *v, struct api_view_stats *s)
{
	*s = v->st;
	s->calls = v->n;
}
