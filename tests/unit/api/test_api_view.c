/* test_api_view.c — the control thread's copy of the calls' view (src/api/api_view.c):
 * calls set, changed and gone by numbered messages; tenant scoping (another tenant's
 * call is not found, an operator sees every call); the clock's fields computed at read
 * time; a lost message or a full table making the copy stale until a whole list that
 * fits; the B2BUA's order kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_view.h"

struct spec {
	const char *id, *tenant, *state;
	uint64_t    t_start, t_answer;
};

static struct b2bua_view *msg(uint64_t seq, enum b2bua_view_kind kind, const struct spec *s,
			      size_t n)
{
	struct b2bua_view *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	v->seq = seq;
	v->kind = kind;
	v->n = n;
	v->calls = n ? calloc(n, sizeof(*v->calls)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct b2bua_view_call *c = &v->calls[i];

		snprintf(c->id, sizeof(c->id), "%s", s[i].id);
		snprintf(c->tenant, sizeof(c->tenant), "%s", s[i].tenant ? s[i].tenant : "");
		c->t_start_ms = s[i].t_start;
		c->t_answer_ms = s[i].t_answer;
		if (kind != B2BUA_VIEW_GONE)
			c->obj = json_pack("{s:s,s:s,s:o,s:[]}", "id", s[i].id, "state",
					   s[i].state ? s[i].state : "calling", "tenant",
					   s[i].tenant ? json_string(s[i].tenant) : json_null(),
					   "legs");
	}
	return v;
}

static struct b2bua_view *one(uint64_t seq, enum b2bua_view_kind kind, const char *id,
			      const char *tenant, const char *state)
{
	struct spec s = {id, tenant, state, 1000, 0};

	return msg(seq, kind, &s, 1);
}

static const char *state_of(const struct api_view *v, const char *id, const char *tenant)
{
	static char buf[32];
	json_t *o = NULL;

	if (api_view_get(v, id, tenant, 5000, &o) != 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(o, "state")));
	json_decref(o);
	return buf;
}

static size_t listed(const struct api_view *v, const char *tenant, char ids[][16], size_t max)
{
	json_t *arr = NULL, *c;
	size_t i, n;

	assert_int_equal(api_view_list(v, tenant, 5000, &arr), 0);
	n = json_array_size(arr);
	json_array_foreach(arr, i, c)
		if (i < max)
			snprintf(ids[i], 16, "%s", json_string_value(json_object_get(c, "id")));
	json_decref(arr);
	return n;
}

static void test_scoping_and_clock(void **state)
{
	struct api_view *v;
	struct spec s = {"c1", "acme", "answered", 1000, 3000};
	json_t *o = NULL;
	char ids[4][16];

	(void)state;
	assert_int_equal(api_view_create(&v, 0), EINVAL);
	assert_int_equal(api_view_create(&v, 16), 0);
	assert_true(api_view_synced(v));   /* nothing sent yet: nothing to miss */
	assert_int_equal(api_view_get(v, "c1", NULL, 5000, &o), ENOENT);
	api_view_apply(v, msg(1, B2BUA_VIEW_SET, &s, 1));
	api_view_apply(v, one(2, B2BUA_VIEW_SET, "c2", NULL, "routing"));   /* no tenant */

	assert_int_equal(api_view_get(v, "c1", "acme", 5000, &o), 0);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "answered");
	assert_int_equal(json_integer_value(json_object_get(o, "age_ms")), 4000);
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 2000);
	assert_true(json_is_array(json_object_get(o, "legs")));
	/* The reader's object is its own: changing it leaves the copy as it was. */
	json_object_set_new(o, "state", json_string("tampered"));
	json_decref(o);
	assert_string_equal(state_of(v, "c1", NULL), "answered");

	/* Another tenant does not find it; an operator finds both. */
	assert_int_equal(api_view_get(v, "c1", "other", 5000, &o), ENOENT);
	assert_null(state_of(v, "c2", "acme"));
	assert_null(state_of(v, "c2", ""));
	assert_string_equal(state_of(v, "c2", NULL), "routing");
	assert_int_equal(listed(v, "other", ids, 4), 0);
	assert_int_equal(listed(v, "acme", ids, 4), 1);
	assert_string_equal(ids[0], "c1");
	assert_int_equal(listed(v, NULL, ids, 4), 2);
	assert_string_equal(ids[0], "c2");   /* newest first */
	assert_string_equal(ids[1], "c1");

	/* Not answered: duration 0. */
	assert_int_equal(api_view_get(v, "c2", NULL, 5000, &o), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "age_ms")), 4000);
	json_decref(o);
	api_view_destroy(v);
}

static void test_change_and_gone(void **state)
{
	struct api_view *v;
	struct api_view_stats st;
	char ids[4][16];

	(void)state;
	assert_int_equal(api_view_create(&v, 16), 0);
	api_view_apply(v, one(1, B2BUA_VIEW_SET, "a", "t", "routing"));
	api_view_apply(v, one(2, B2BUA_VIEW_SET, "b", "t", "calling"));
	api_view_apply(v, one(3, B2BUA_VIEW_SET, "a", "t", "answered"));   /* changed */
	assert_string_equal(state_of(v, "a", "t"), "answered");
	assert_int_equal(listed(v, "t", ids, 4), 2);
	assert_string_equal(ids[0], "b");   /* a change keeps the call's place */
	api_view_apply(v, one(4, B2BUA_VIEW_SET, "a", "t", "ending"));
	assert_string_equal(state_of(v, "a", "t"), "ending");
	api_view_apply(v, one(5, B2BUA_VIEW_GONE, "a", "t", NULL));
	assert_null(state_of(v, "a", "t"));
	assert_null(state_of(v, "a", NULL));
	assert_int_equal(listed(v, NULL, ids, 4), 1);
	api_view_apply(v, one(6, B2BUA_VIEW_GONE, "never", "t", NULL));   /* harmless */
	api_view_apply(v, one(7, B2BUA_VIEW_GONE, "b", "t", NULL));
	assert_int_equal(listed(v, NULL, ids, 4), 0);
	assert_true(api_view_synced(v));
	api_view_get_stats(v, &st);
	assert_int_equal(st.calls, 0);
	assert_int_equal(st.applied, 7);
	assert_int_equal(st.gaps, 0);
	api_view_destroy(v);
}

static void test_gap_then_resync(void **state)
{
	struct api_view *v;
	struct api_view_stats st;
	struct spec all[2] = {{"n2", "t", "answered", 1000, 2000}, {"n1", "t", "early", 1000, 0}};
	json_t *o = (json_t *)1;
	char ids[4][16];

	(void)state;
	assert_int_equal(api_view_create(&v, 16), 0);
	api_view_apply(v, one(1, B2BUA_VIEW_SET, "x", "t", "answered"));
	/* Message 2 (x gone, say) was lost: the copy must not answer from what it has. */
	api_view_apply(v, one(3, B2BUA_VIEW_SET, "y", "t", "calling"));
	assert_false(api_view_synced(v));
	assert_int_equal(api_view_get(v, "x", "t", 5000, &o), ESTALE);
	assert_int_equal(api_view_get(v, "y", "t", 5000, &o), ESTALE);
	assert_int_equal(api_view_list(v, NULL, 5000, &o), ESTALE);
	assert_ptr_equal(o, (json_t *)1);   /* untouched */
	/* Still stale with consecutive messages after the gap. */
	api_view_apply(v, one(4, B2BUA_VIEW_GONE, "y", "t", NULL));
	assert_false(api_view_synced(v));
	/* The whole list replaces everything: x is gone for good. */
	api_view_apply(v, msg(5, B2BUA_VIEW_ALL, all, 2));
	assert_true(api_view_synced(v));
	assert_null(state_of(v, "x", NULL));
	assert_string_equal(state_of(v, "n1", "t"), "early");
	assert_int_equal(listed(v, NULL, ids, 4), 2);
	assert_string_equal(ids[0], "n2");   /* the list's order */
	assert_string_equal(ids[1], "n1");
	/* A later change goes on from there; an empty whole list empties the copy. */
	api_view_apply(v, one(6, B2BUA_VIEW_SET, "n3", "t", "routing"));
	assert_int_equal(listed(v, NULL, ids, 4), 3);
	assert_string_equal(ids[0], "n3");
	api_view_apply(v, msg(7, B2BUA_VIEW_ALL, NULL, 0));
	assert_true(api_view_synced(v));
	assert_int_equal(listed(v, NULL, ids, 4), 0);
	api_view_get_stats(v, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.resyncs, 2);
	api_view_destroy(v);
}

static void test_bound(void **state)
{
	struct api_view *v;
	struct api_view_stats st;
	struct spec two[2] = {{"b", "t", "calling", 1, 0}, {"a", "t", "calling", 1, 0}};
	struct spec three[3] = {{"c", "t", "calling", 1, 0}, {"b", "t", "calling", 1, 0},
				{"a", "t", "calling", 1, 0}};
	char ids[4][16];

	(void)state;
	assert_int_equal(api_view_create(&v, 2), 0);
	api_view_apply(v, one(1, B2BUA_VIEW_SET, "a", "t", "calling"));
	api_view_apply(v, one(2, B2BUA_VIEW_SET, "b", "t", "calling"));
	api_view_apply(v, one(3, B2BUA_VIEW_SET, "b", "t", "early"));   /* a change fits */
	assert_true(api_view_synced(v));
	api_view_apply(v, one(4, B2BUA_VIEW_SET, "c", "t", "calling"));   /* does not */
	assert_false(api_view_synced(v));
	/* A whole list larger than the table leaves it stale... */
	api_view_apply(v, msg(5, B2BUA_VIEW_ALL, three, 3));
	assert_false(api_view_synced(v));
	/* ...one that fits makes it current. */
	api_view_apply(v, msg(6, B2BUA_VIEW_ALL, two, 2));
	assert_true(api_view_synced(v));
	assert_int_equal(listed(v, "t", ids, 4), 2);
	api_view_get_stats(v, &st);
	assert_int_equal(st.overflows, 2);
	assert_int_equal(st.calls, 2);
	api_view_destroy(v);
}

static void test_many(void **state)
{
	struct api_view *v;
	char id[16], ids[4][16];
	uint64_t seq = 0;

	(void)state;
	/* More calls than buckets at the start: chains, removal from their middle. */
	assert_int_equal(api_view_create(&v, 5000), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		api_view_apply(v, one(++seq, B2BUA_VIEW_SET, id, i % 2 ? "odd" : "even", "calling"));
	}
	assert_true(api_view_synced(v));
	for (int i = 0; i < 5000; i += 3) {
		snprintf(id, sizeof(id), "k%d", i);
		api_view_apply(v, one(++seq, B2BUA_VIEW_GONE, id, NULL, NULL));
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		if (i % 3 == 0)
			assert_null(state_of(v, id, NULL));
		else
			assert_non_null(state_of(v, id, i % 2 ? "odd" : "even"));
		if (i % 3)
			assert_null(state_of(v, id, i % 2 ? "even" : "odd"));
	}
	assert_int_equal(listed(v, NULL, ids, 4), 5000 - 1667);
	assert_string_equal(ids[0], "k4999");
	api_view_destroy(v);
	api_view_destroy(NULL);
	api_view_apply(NULL, one(1, B2BUA_VIEW_SET, "z", "t", NULL));   /* freed, no crash */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scoping_and_clock),
		cmocka_unit_test(test_change_and_gone),
		cmocka_unit_test(test_gap_then_resync),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
