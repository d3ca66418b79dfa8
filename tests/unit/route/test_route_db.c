/* test_route_db.c — database-mode routing: the DID table (insert, replace, delete, copy,
 * a hundred thousand numbers, layered changes and their fold), identification of shared and inactive sources, and
 * route_decide() for calls from carriers and from tenants' peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

static char err[256];

/* ---- DID table ---- */

static struct did_cfg did(const char *num, const char *tenant, const char *peer)
{
	struct did_cfg d;

	memset(&d, 0, sizeof(d));
	snprintf(d.number, sizeof(d.number), "%s", num);
	snprintf(d.tenant, sizeof(d.tenant), "%s", tenant);
	snprintf(d.peer_id, sizeof(d.peer_id), "%s", peer);
	d.active = true;
	return d;
}

static void test_dids_basic(void **state)
{
	struct route_dids *d, *c;
	struct did_cfg x = did("+15550001000", "acme", "p1");
	struct did_view v;

	(void)state;
	assert_int_equal(route_dids_create(&d, 4), 0);
	assert_int_equal(route_dids_put(d, &x), 0);
	assert_true(route_dids_get(d, "+15550001000", &v));
	assert_string_equal(v.tenant, "acme");
	assert_string_equal(v.peer_id, "p1");
	assert_string_equal(v.uri, "");
	assert_false(route_dids_get(d, "+15550001001", &v));
	assert_false(route_dids_get(d, "15550001000", &v));   /* not E.164 */
	/* Replacing keeps one entry. */
	x = did("+15550001000", "other", "p2");
	assert_int_equal(route_dids_put(d, &x), 0);
	assert_int_equal(route_dids_count(d), 1);
	assert_true(route_dids_get(d, "+15550001000", &v));
	assert_string_equal(v.tenant, "other");
	/* Bad numbers are refused. */
	x = did("+0123", "t", "");
	assert_int_equal(route_dids_put(d, &x), EINVAL);
	x = did("+", "t", "");
	assert_int_equal(route_dids_put(d, &x), EINVAL);
	x = did("+12a4", "t", "");
	assert_int_equal(route_dids_put(d, &x), EINVAL);
	/* A copy changes without touching the original. */
	route_dids_freeze(d);
	assert_int_equal(route_dids_put(d, &x), EINVAL);   /* frozen */
	assert_int_equal(route_dids_copy(&c, d), 0);
	assert_int_equal(route_dids_del(c, "+15550001000"), 0);
	assert_int_equal(route_dids_del(c, "+15550001000"), ENOENT);
	assert_true(route_dids_get(d, "+15550001000", &v));
	assert_false(route_dids_get(c, "+15550001000", &v));
	route_dids_unref(c);
	route_dids_unref(d);
}

static void test_dids_many(void **state)
{
	enum { N = 100000 };
	struct route_dids *d, *c;
	struct did_view v;
	char num[32], ten[32];

	(void)state;
	assert_int_equal(route_dids_create(&d, 16), 0);   /* grows */
	for (int i = 0; i < N; i++) {
		struct did_cfg x;

		snprintf(num, sizeof(num), "+4420%08d", i * 7);
		snprintf(ten, sizeof(ten), "t%d", i % 50);
		x = did(num, ten, i % 2 ? "peer-a" : "peer-b");
		assert_int_equal(route_dids_put(d, &x), 0);
	}
	assert_int_equal(route_dids_count(d), N);
	/* Every text is stored once: far less than a name per number. */
	assert_true(route_dids_bytes(d) < (size_t)N * 64);
	route_dids_freeze(d);
	assert_int_equal(route_dids_copy(&c, d), 0);
	for (int i = 0; i < N; i += 2) {
		snprintf(num, sizeof(num), "+4420%08d", i * 7);
		assert_int_equal(route_dids_del(c, num), 0);
	}
	assert_int_equal(route_dids_count(c), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(num, sizeof(num), "+4420%08d", i * 7);
		snprintf(ten, sizeof(ten), "t%d", i % 50);
		assert_true(route_dids_get(d, num, &v));
		assert_string_equal(v.tenant, ten);
		assert_int_equal(route_dids_get(c, num, &v), i % 2 == 1);
		if (i % 2)
			assert_string_equal(v.peer_id, "peer-a");
		/* never-inserted neighbours */
		snprintf(num, sizeof(num), "+4420%08d", i * 7 + 1);
		assert_false(route_dids_get(d, num, &v));
	}
	route_dids_unref(c);
	route_dids_unref(d);
}

/* The tenant a table answers for num, or NULL. */
static const char *tenant_of(const struct route_dids *d, const char *num)
{
	struct did_view v;

	return route_dids_get(d, num, &v) ? v.tenant : NULL;
}

static void count_uri(const char *uri, void *arg)
{
	(void)uri;
	(*(int *)arg)++;
}

/* Layered tables: changes over a shared base (add, replace, delete shadowing the base),
 * derived again, folded into a new base and rebased on it. */
static void test_dids_overlay(void **state)
{
	struct route_dids *b, *l1, *l2, *f, *r;
	struct did_cfg x;
	int uris = 0;

	(void)state;
	assert_int_equal(route_dids_create(&b, 4), 0);
	x = did("+15550000001", "acme", "p1");
	assert_int_equal(route_dids_put(b, &x), 0);
	x = did("+15550000002", "acme", "p2");
	assert_int_equal(route_dids_put(b, &x), 0);
	x = did("+15550000003", "acme", "");
	snprintf(x.uri, sizeof(x.uri), "sip:10.0.0.1");
	assert_int_equal(route_dids_put(b, &x), 0);
	assert_int_equal(route_dids_derive(&l1, b), EINVAL);   /* base not frozen */
	route_dids_freeze(b);
	assert_int_equal(route_dids_derive(&l1, b), 0);
	x = did("+15550000001", "other", "p1");                /* replace */
	assert_int_equal(route_dids_put(l1, &x), 0);
	x = did("+15550000004", "new", "p4");                  /* add */
	assert_int_equal(route_dids_put(l1, &x), 0);
	assert_int_equal(route_dids_del(l1, "+15550000002"), 0);   /* shadow */
	assert_int_equal(route_dids_del(l1, "+15550000002"), ENOENT);
	assert_int_equal(route_dids_del(l1, "+15550000009"), ENOENT);
	assert_int_equal(route_dids_del(l1, "+15550000004"), 0);   /* an added one */
	assert_null(tenant_of(l1, "+15550000004"));
	assert_int_equal(route_dids_put(l1, &x), 0);
	assert_int_equal(route_dids_count(l1), 3);
	assert_int_equal(route_dids_changes(l1), 3);
	assert_string_equal(tenant_of(l1, "+15550000001"), "other");
	assert_null(tenant_of(l1, "+15550000002"));
	assert_string_equal(tenant_of(l1, "+15550000003"), "acme");   /* from the base */
	assert_string_equal(tenant_of(l1, "+15550000004"), "new");
	assert_string_equal(tenant_of(b, "+15550000001"), "acme");    /* base untouched */
	assert_string_equal(tenant_of(b, "+15550000002"), "acme");
	/* Derived again: the same base, the changes copied. */
	route_dids_freeze(l1);
	assert_int_equal(route_dids_derive(&l2, l1), 0);
	assert_ptr_equal(route_dids_base(l2), b);
	x = did("+15550000005", "late", "");
	assert_int_equal(route_dids_put(l2, &x), 0);
	assert_int_equal(route_dids_del(l2, "+15550000003"), 0);
	assert_int_equal(route_dids_count(l2), 3);
	assert_null(tenant_of(l1, "+15550000005"));
	assert_string_equal(tenant_of(l1, "+15550000003"), "acme");
	/* Fold l1 (as a builder would while l2 was made), then rebase l2 onto it. */
	assert_int_equal(route_dids_copy(&f, l1), 0);
	route_dids_freeze(f);
	assert_int_equal(route_dids_changes(f), 0);
	assert_int_equal(route_dids_count(f), 3);
	assert_null(tenant_of(f, "+15550000002"));
	assert_string_equal(tenant_of(f, "+15550000004"), "new");
	assert_int_equal(route_dids_rebase(&r, l2, f), 0);
	assert_int_equal(route_dids_changes(r), 2);   /* only what came after the fold */
	assert_int_equal(route_dids_count(r), 3);
	for (int i = 1; i <= 6; i++) {
		char num[16];
		const char *a, *c;

		snprintf(num, sizeof(num), "+1555000000%d", i);
		a = tenant_of(l2, num);
		c = tenant_of(r, num);
		assert_true(a == c || (a && c && strcmp(a, c) == 0));
	}
	route_dids_each_uri(b, count_uri, &uris);
	assert_int_equal(uris, 1);
	route_dids_unref(l2);
	route_dids_unref(l1);
	route_dids_unref(b);     /* l1, l2 gone: f and r hold what is left */
	route_dids_freeze(r);
	assert_string_equal(tenant_of(r, "+15550000005"), "late");
	route_dids_unref(f);
	route_dids_unref(r);
}

/* ---- a database-mode table ---- */

static struct trunk_cfg trunk(const char *name, enum trunk_kind kind, const char *id,
			      const char *cidr, const char *uri)
{
	struct trunk_cfg t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.id, sizeof(t.id), "%s", id);
	t.kind = kind;
	t.min_se = 90;
	if (cidr) {
		struct sockaddr_in *a = (struct sockaddr_in *)&t.cidrs[0].addr;

		a->sin_family = AF_INET;
		inet_pton(AF_INET, cidr, &a->sin_addr);
		t.cidrs[0].bits = 32;
		t.n_cidrs = 1;
	}
	if (uri)
		snprintf(t.uri, sizeof(t.uri), "%s", uri);
	snprintf(t.group, sizeof(t.group), "default");
	return t;
}

static void add_t(struct route_table *rt, struct trunk_cfg t)
{
	if (route_table_add_trunk(rt, &t, err, sizeof(err)))
		fail_msg("add trunk %s: %s", t.name, err);
}

static void add_tenant(struct route_table *rt, const char *id, bool configured, int max,
		       const char *default_did)
{
	struct tenant_cfg t;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "%s", id);
	t.active = true;
	t.configured = configured;
	t.max_calls = max;
	snprintf(t.default_did, sizeof(t.default_did), "%s", default_did ? default_did : "");
	assert_int_equal(route_table_add_tenant(rt, &t, err, sizeof(err)), 0);
}

static void add_orule(struct route_table *rt, const char *tenant, const char *prefix,
		      unsigned prio, unsigned weight, const char *trunk_name)
{
	struct oroute_cfg o;

	memset(&o, 0, sizeof(o));
	snprintf(o.tenant, sizeof(o.tenant), "%s", tenant);
	snprintf(o.prefix, sizeof(o.prefix), "%s", prefix);
	o.priority = prio;
	o.weight = weight;
	snprintf(o.trunk, sizeof(o.trunk), "%s", trunk_name);
	if (route_table_add_oroute(rt, &o, err, sizeof(err)))
		fail_msg("add rule: %s", err);
}

/* carriers c1, c2, c3; tenants acme (configured, cap 5, default +15550000009), ghost
 * (not configured); acme's peer "pbx" at 10.0.0.9 (sends national numbers of +1). */
static struct route_table *db_table(void)
{
	struct route_table *rt;
	struct route_dids *d;
	struct trunk_cfg t;
	struct did_cfg x;
	struct pool_cfg p = {"default", "ivr", 15};

	assert_int_equal(route_table_create(&rt), 0);
	t = trunk("c1", TRUNK_KIND_CARRIER, "id-c1", "10.0.0.1", "sip:sbc1.example:5060");
	t.dial_format = DIAL_PLUS_E164;
	add_t(rt, t);
	t = trunk("c2", TRUNK_KIND_CARRIER, "id-c2", "10.0.0.2", "sip:10.0.0.2:5080;transport=tcp");
	t.dial_format = DIAL_LEADING_ZERO;
	snprintf(t.country_code, sizeof(t.country_code), "44");
	add_t(rt, t);
	t = trunk("c3", TRUNK_KIND_CARRIER, "id-c3", "10.0.0.3", "sip:10.0.0.3");
	t.dial_format = DIAL_ASIS;
	add_t(rt, t);
	t = trunk("pbx", TRUNK_KIND_PEER, "id-pbx", "10.0.0.9", "sip:10.0.0.9:5070");
	snprintf(t.tenant, sizeof(t.tenant), "acme");
	snprintf(t.country_code, sizeof(t.country_code), "1");
	t.dial_format = DIAL_PLUS_E164;
	add_t(rt, t);
	t = trunk("gpbx", TRUNK_KIND_PEER, "id-gpbx", "10.0.0.8", "sip:10.0.0.8");
	snprintf(t.tenant, sizeof(t.tenant), "ghost");
	add_t(rt, t);
	add_tenant(rt, "acme", true, 5, "+15550000009");
	add_tenant(rt, "ghost", false, -1, NULL);
	assert_int_equal(route_table_add_pool(rt, &p, err, sizeof(err)), 0);
	assert_int_equal(route_dids_create(&d, 8), 0);
	x = did("+15550000001", "acme", "id-pbx");
	route_dids_put(d, &x);
	x = did("+15550000009", "acme", "id-pbx");
	route_dids_put(d, &x);
	x = did("+15550000002", "ghost", "id-gpbx");
	route_dids_put(d, &x);
	x = did("+15550000003", "", "");
	route_dids_put(d, &x);
	x = did("+15550000004", "acme", "");
	x.dest = DID_DEST_URI;
	snprintf(x.uri, sizeof(x.uri), "sip:{national}@ivr.example");
	route_dids_put(d, &x);
	x = did("+15550000005", "acme", "");
	x.dest = DID_DEST_ANNOUNCEMENT;
	snprintf(x.announcement, sizeof(x.announcement), "closed");
	route_dids_put(d, &x);
	x = did("+15550000006", "nobody", "id-pbx");
	route_dids_put(d, &x);
	route_dids_freeze(d);
	route_table_set_dids(rt, d);
	route_dids_unref(d);
	add_orule(rt, "", "", 100, 1, "c3");               /* default, last resort */
	add_orule(rt, "", "44", 10, 1, "c2");
	add_orule(rt, "acme", "1", 20, 3, "c1");
	add_orule(rt, "acme", "1", 20, 1, "c2");
	add_orule(rt, "acme", "1", 10, 1, "c3");            /* better priority */
	add_orule(rt, "acme", "1555", 50, 1, "c1");         /* longest prefix */
	assert_int_equal(route_table_freeze(rt), 0);
	return rt;
}

static const struct trunk *by_name(const struct route_table *rt, const char *name)
{
	const struct trunk *t = route_table_trunk_by_name(rt, name);

	assert_non_null(t);
	return t;
}

static void test_inbound(void **state)
{
	struct route_table *rt = db_table();
	const struct trunk *c1 = by_name(rt, "c1");
	struct route_decision d;

	(void)state;
	route_decide(rt, c1, "+15550000001", "+442071234567", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(d.did, "+15550000001");
	assert_int_equal(d.n_targets, 1);
	assert_string_equal(d.targets[0].ruri, "sip:+15550000001@10.0.0.9:5070");
	assert_ptr_equal(d.targets[0].trunk, by_name(rt, "pbx"));
	assert_string_equal(d.tenant->id, "acme");
	assert_int_equal(d.tenant_cap, 5);
	assert_string_equal(d.pool, "ivr");
	assert_int_equal(d.pool_channels, 15);
	assert_string_equal(d.group, "default");
	/* Unknown number, no tenant, tenant not configured, tenant unknown. */
	route_decide(rt, c1, "+15559999999", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 404);
	assert_string_equal(d.cause, "did_unassigned");
	assert_non_null(strstr(d.reason, "not assigned"));
	route_decide(rt, c1, "+15550000003", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 404);
	route_decide(rt, c1, "+15550000002", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 480);
	assert_string_equal(d.cause, "tenant_unconfigured");
	route_decide(rt, c1, "+15550000006", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 480);
	assert_non_null(strstr(d.reason, "unknown"));
	/* A URI destination, {national} without the carrier's country code (none: all). */
	route_decide(rt, c1, "+15550000004", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(d.targets[0].ruri, "sip:15550000004@ivr.example");
	assert_null(d.targets[0].trunk);
	route_decide(rt, c1, "+15550000005", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 480);
	assert_string_equal(d.cause, "announcement");
	/* Not a telephone number. */
	route_decide(rt, c1, "alice", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 404);
	assert_string_equal(d.cause, "no_route");
	route_table_unref(rt);
}

static bool c1_down(const struct trunk *t, void *arg)
{
	(void)arg;
	return strcmp(trunk_get_cfg(t)->name, "c1") != 0;
}

static bool all_down(const struct trunk *t, void *arg)
{
	(void)t;
	(void)arg;
	return false;
}

static void test_outbound(void **state)
{
	struct route_table *rt = db_table();
	const struct trunk *pbx = by_name(rt, "pbx");
	struct route_decision d;
	int c1_first = 0, c2_first = 0;

	(void)state;
	/* Longest prefix first (1555 -> c1), then the tenant's 1* rules by priority (c3 at
	 * 10, then c1/c2 at 20 by weight), then the shared default (c3, already in). */
	route_decide(rt, pbx, "5551234567", "5550000001", 7, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_true(d.outbound);
	assert_string_equal(d.did, "+15551234567");
	assert_string_equal(d.caller, "+15550000001");
	assert_int_equal(d.n_targets, 3);
	assert_string_equal(trunk_get_cfg(d.targets[0].trunk)->name, "c1");
	assert_string_equal(d.targets[0].ruri, "sip:+15551234567@sbc1.example:5060");
	assert_string_equal(d.targets[0].caller, "+15550000001");
	assert_string_equal(trunk_get_cfg(d.targets[1].trunk)->name, "c3");
	assert_string_equal(d.targets[1].ruri, "sip:5551234567@10.0.0.3");   /* as dialled */
	assert_string_equal(trunk_get_cfg(d.targets[2].trunk)->name, "c2");
	assert_string_equal(d.targets[2].ruri, "sip:0015551234567@10.0.0.2:5080;transport=tcp");
	assert_string_equal(d.pool, "api");
	/* The weighted pair (c1 3, c2 1) at equal priority for a 1-number outside 1555. */
	for (uint64_t r = 1; r <= 400; r++) {
		route_decide(rt, pbx, "+12125550100", "+15550000001", r * 0x9e3779b97f4a7c15ull,
			     NULL, NULL, &d);
		assert_int_equal(d.code, 0);
		assert_string_equal(trunk_get_cfg(d.targets[0].trunk)->name, "c3");
		if (strcmp(trunk_get_cfg(d.targets[1].trunk)->name, "c1") == 0)
			c1_first++;
		else
			c2_first++;
	}
	assert_true(c1_first > 220 && c1_first < 380);   /* ~300 of 400 */
	assert_true(c2_first > 20);
	/* The UK prefix rule is shared: leading zero with country 44 for c2. */
	route_decide(rt, pbx, "+442071234567", "+15550000001", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(d.targets[0].ruri, "sip:02071234567@10.0.0.2:5080;transport=tcp");
	/* A trunk down is skipped; all down is its own answer. */
	route_decide(rt, pbx, "+15551234567", "+15550000001", 1, c1_down, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(trunk_get_cfg(d.targets[0].trunk)->name, "c3");
	route_decide(rt, pbx, "+15551234567", "+15550000001", 1, all_down, NULL, &d);
	assert_int_equal(d.code, 503);
	assert_string_equal(d.cause, "trunks_down");
	/* Caller ID: someone else's number is refused (never replaced); an extension or
	 * anonymous gets the tenant's default. */
	route_decide(rt, pbx, "+15551234567", "+15550000002", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 403);
	assert_string_equal(d.event, "callerid.rejected");
	assert_non_null(strstr(d.reason, "+15550000002"));
	route_decide(rt, pbx, "+15551234567", "201", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(d.caller, "+15550000009");
	route_decide(rt, pbx, "+15551234567", "anonymous", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(d.caller, "+15550000009");
	/* A tenant without configuration cannot call out. */
	route_decide(rt, by_name(rt, "gpbx"), "+15551234567", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 480);
	route_table_unref(rt);
}

/* Recording and AMD travel with each destination: a DID's for its inbound calls, each
 * outbound rule's for the trunk it gives; none for the rest. */
static void test_record_amd(void **state)
{
	struct route_table *rt;
	struct route_dids *d;
	struct trunk_cfg t;
	struct did_cfg x;
	struct oroute_cfg o;
	struct route_decision dec;
	struct did_view v;

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	add_t(rt, trunk("c1", TRUNK_KIND_CARRIER, "id-c1", "10.0.0.1", "sip:10.0.0.1"));
	add_t(rt, trunk("c2", TRUNK_KIND_CARRIER, "id-c2", "10.0.0.2", "sip:10.0.0.2"));
	t = trunk("pbx", TRUNK_KIND_PEER, "id-pbx", "10.0.0.9", "sip:10.0.0.9");
	snprintf(t.tenant, sizeof(t.tenant), "acme");
	add_t(rt, t);
	add_tenant(rt, "acme", true, -1, "+15550000009");
	assert_int_equal(route_dids_create(&d, 4), 0);
	x = did("+15550000001", "acme", "id-pbx");
	snprintf(x.record_dir, sizeof(x.record_dir), "/var/rec");
	x.amd = true;
	assert_int_equal(route_dids_put(d, &x), 0);
	x = did("+15550000009", "acme", "id-pbx");
	assert_int_equal(route_dids_put(d, &x), 0);
	assert_true(route_dids_get(d, "+15550000001", &v));
	assert_string_equal(v.record_dir, "/var/rec");
	assert_string_equal(v.announcement, "");
	assert_true(v.amd);
	/* An announcement DID keeps its announcement (it is never answered to record). */
	x = did("+15550000002", "acme", "");
	x.dest = DID_DEST_ANNOUNCEMENT;
	snprintf(x.announcement, sizeof(x.announcement), "closed");
	snprintf(x.record_dir, sizeof(x.record_dir), "/var/rec");
	assert_int_equal(route_dids_put(d, &x), 0);
	assert_true(route_dids_get(d, "+15550000002", &v));
	assert_string_equal(v.announcement, "closed");
	assert_string_equal(v.record_dir, "");
	route_dids_freeze(d);
	route_table_set_dids(rt, d);
	route_dids_unref(d);
	memset(&o, 0, sizeof(o));
	snprintf(o.prefix, sizeof(o.prefix), "44");
	o.priority = 10;
	o.weight = 1;
	snprintf(o.trunk, sizeof(o.trunk), "c1");
	snprintf(o.record_dir, sizeof(o.record_dir), "/srv/out");
	assert_int_equal(route_table_add_oroute(rt, &o, err, sizeof(err)), 0);
	o.priority = 20;
	snprintf(o.trunk, sizeof(o.trunk), "c2");
	o.record_dir[0] = '\0';
	o.amd = true;
	assert_int_equal(route_table_add_oroute(rt, &o, err, sizeof(err)), 0);
	assert_int_equal(route_table_freeze(rt), 0);

	route_decide(rt, by_name(rt, "c1"), "+15550000001", "", 1, NULL, NULL, &dec);
	assert_int_equal(dec.code, 0);
	assert_string_equal(dec.targets[0].record_dir, "/var/rec");
	assert_true(dec.targets[0].amd);
	route_decide(rt, by_name(rt, "c1"), "+15550000009", "", 1, NULL, NULL, &dec);
	assert_int_equal(dec.code, 0);
	assert_null(dec.targets[0].record_dir);
	assert_false(dec.targets[0].amd);
	route_decide(rt, by_name(rt, "pbx"), "+442071234567", "anonymous", 1, NULL, NULL, &dec);
	assert_int_equal(dec.code, 0);
	assert_int_equal(dec.n_targets, 2);
	assert_string_equal(trunk_get_cfg(dec.targets[0].trunk)->name, "c1");
	assert_string_equal(dec.targets[0].record_dir, "/srv/out");
	assert_false(dec.targets[0].amd);
	assert_null(dec.targets[1].record_dir);
	assert_true(dec.targets[1].amd);
	route_table_unref(rt);
}

/* Failover targets stay in the first target's carrier group: the call's channel is
 * counted in that group's pools. */
static void test_failover_group(void **state)
{
	struct route_table *rt;
	struct trunk_cfg t;
	struct route_decision d;

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	add_t(rt, trunk("c1", TRUNK_KIND_CARRIER, "id-c1", "10.0.0.1", "sip:10.0.0.1"));
	t = trunk("c2", TRUNK_KIND_CARRIER, "id-c2", "10.0.0.2", "sip:10.0.0.2");
	snprintf(t.group, sizeof(t.group), "wholesale");
	add_t(rt, t);
	add_t(rt, trunk("c3", TRUNK_KIND_CARRIER, "id-c3", "10.0.0.3", "sip:10.0.0.3"));
	t = trunk("pbx", TRUNK_KIND_PEER, "id-pbx", "10.0.0.9", "sip:10.0.0.9");
	snprintf(t.tenant, sizeof(t.tenant), "acme");
	add_t(rt, t);
	add_tenant(rt, "acme", true, -1, "+15550000009");
	{
		struct route_dids *ds;
		struct did_cfg x = did("+15550000009", "acme", "id-pbx");

		assert_int_equal(route_dids_create(&ds, 1), 0);
		route_dids_put(ds, &x);
		route_dids_freeze(ds);
		route_table_set_dids(rt, ds);
		route_dids_unref(ds);
	}
	add_orule(rt, "acme", "", 10, 1, "c1");
	add_orule(rt, "acme", "", 20, 1, "c2");
	add_orule(rt, "acme", "", 30, 1, "c3");
	assert_int_equal(route_table_freeze(rt), 0);
	route_decide(rt, by_name(rt, "pbx"), "+15551234567", "201", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_int_equal(d.n_targets, 2);
	assert_string_equal(trunk_get_cfg(d.targets[0].trunk)->name, "c1");
	assert_string_equal(trunk_get_cfg(d.targets[1].trunk)->name, "c3");
	assert_string_equal(d.group, "default");
	route_decide(rt, by_name(rt, "pbx"), "+15551234567", "201", 1, c1_down, NULL, &d);
	assert_int_equal(d.code, 0);
	assert_int_equal(d.n_targets, 1);
	assert_string_equal(trunk_get_cfg(d.targets[0].trunk)->name, "c2");
	assert_string_equal(d.group, "wholesale");
	route_table_unref(rt);
}

static void test_no_outbound_rule(void **state)
{
	struct route_table *rt;
	struct trunk_cfg t;
	struct route_decision d;
	struct route_dids *ds;
	struct did_cfg x = did("+15550000009", "acme", "");

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	t = trunk("pbx", TRUNK_KIND_PEER, "id-pbx", "10.0.0.9", NULL);
	snprintf(t.tenant, sizeof(t.tenant), "acme");
	add_t(rt, t);
	add_tenant(rt, "acme", true, -1, "+15550000009");
	route_dids_create(&ds, 1);
	route_dids_put(ds, &x);
	route_dids_freeze(ds);
	route_table_set_dids(rt, ds);
	route_dids_unref(ds);
	assert_int_equal(route_table_freeze(rt), 0);
	route_decide(rt, by_name(rt, "pbx"), "+4930123456", "", 1, NULL, NULL, &d);
	assert_int_equal(d.code, 404);
	assert_string_equal(d.cause, "no_route");
	assert_int_equal(d.tenant_cap, -1);
	route_table_unref(rt);
}

static void test_identify_shared_and_inactive(void **state)
{
	struct route_table *rt;
	struct trunk_cfg a, b, c;
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(5060)};
	const struct trunk *out[4];

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	a = trunk("a", TRUNK_KIND_CARRIER, "id-a", "10.1.1.1", NULL);
	b = trunk("b", TRUNK_KIND_CARRIER, "id-b", "10.1.1.1", NULL);
	a.auth_inbound = b.auth_inbound = true;
	snprintf(a.auth_user, sizeof(a.auth_user), "ua");
	snprintf(a.auth_secret, sizeof(a.auth_secret), "sa");
	snprintf(b.auth_user, sizeof(b.auth_user), "ub");
	snprintf(b.auth_secret, sizeof(b.auth_secret), "sb");
	add_t(rt, a);
	add_t(rt, b);
	/* Without digest a shared source is refused... */
	c = trunk("c", TRUNK_KIND_CARRIER, "id-c", "10.1.1.1", NULL);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EEXIST);
	/* ...unless the other claimant is inactive. */
	c = trunk("d", TRUNK_KIND_CARRIER, "id-d", "10.1.1.2", NULL);
	c.status = TRUNK_INACTIVE;
	add_t(rt, c);
	c = trunk("e", TRUNK_KIND_CARRIER, "id-e", "10.1.1.2", NULL);
	add_t(rt, c);
	assert_int_equal(route_table_freeze(rt), 0);
	inet_pton(AF_INET, "10.1.1.1", &src.sin_addr);
	assert_int_equal(route_identify_all(rt, (struct sockaddr *)&src, out, 4), 2);
	assert_string_equal(trunk_get_cfg(out[0])->name, "a");
	assert_string_equal(trunk_get_cfg(out[1])->name, "b");
	inet_pton(AF_INET, "10.1.1.2", &src.sin_addr);
	assert_int_equal(route_identify_all(rt, (struct sockaddr *)&src, out, 4), 1);
	assert_string_equal(trunk_get_cfg(out[0])->name, "e");
	assert_ptr_equal(route_table_trunk_by_id(rt, "id-b"), route_table_trunk_by_name(rt, "b"));
	assert_null(route_table_trunk_by_id(rt, "nope"));
	route_table_unref(rt);
}

static void test_dial_format(void **state)
{
	struct trunk_cfg t;
	char out[64];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.dial_format = DIAL_LEADING_ZERO;
	snprintf(t.country_code, sizeof(t.country_code), "91");
	assert_int_equal(route_dial_format(&t, "+919876543210", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "09876543210");
	assert_int_equal(route_dial_format(&t, "+15551234567", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "0015551234567");
	snprintf(t.international_prefix, sizeof(t.international_prefix), "011");
	assert_int_equal(route_dial_format(&t, "+15551234567", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "01115551234567");
	t.dial_format = DIAL_ASIS;
	assert_int_equal(route_dial_format(&t, "+15551234567", "5551234567;npdi", out,
					   sizeof(out)), 0);
	assert_string_equal(out, "5551234567");
	assert_int_equal(route_dial_format(&t, "+15551234567", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "15551234567");
	t.dial_format = DIAL_PLUS_E164;
	assert_int_equal(route_dial_format(&t, "+15551234567", NULL, out, 5), ENOSPC);
	assert_int_equal(route_dial_format(&t, "15551234567", NULL, out, sizeof(out)), EINVAL);
}

/* Calls placed through the API: the caller ID must be the tenant's own DID (no default
 * instead), numbers follow its outbound rules, URIs go to its peers only. */
static void test_api_call(void **state)
{
	struct route_table *rt = db_table();
	struct route_decision d;

	(void)state;
	assert_int_equal(route_decide_api(rt, "acme", "+15559990000", "+15550000001", 1, NULL,
					  NULL, &d), 0);
	assert_int_equal(d.code, 0);
	assert_true(d.outbound);
	assert_string_equal(d.did, "+15559990000");
	assert_int_equal(d.n_targets, 3);   /* the longest prefix first: 1555 -> c1 */
	assert_string_equal(d.targets[0].ruri, "sip:+15559990000@sbc1.example:5060");
	assert_string_equal(d.targets[0].caller, "+15550000001");
	assert_string_equal(d.pool, "api");
	assert_int_equal(d.tenant_cap, 5);
	/* Another number: priority 10 (c3, as dialled) before 20 (c1, c2). */
	assert_int_equal(route_decide_api(rt, "acme", "+12125550000", "+15550000001", 1, NULL,
					  NULL, &d), 0);
	assert_int_equal(d.code, 0);
	assert_int_equal(d.n_targets, 3);
	assert_string_equal(d.targets[0].ruri, "sip:+12125550000@10.0.0.3");
	/* A number not the tenant's, another tenant's, one not a DID: 403, no default. */
	assert_int_equal(route_decide_api(rt, "acme", "+15559990000", "+15550000002", 1, NULL,
					  NULL, &d), 0);
	assert_int_equal(d.code, 403);
	assert_string_equal(d.cause, "callerid_not_owned");
	assert_int_equal(d.n_targets, 0);
	assert_int_equal(route_decide_api(rt, "acme", "+15559990000", "+15550000077", 1, NULL,
					  NULL, &d), 0);
	assert_int_equal(d.code, 403);
	assert_int_equal(route_decide_api(rt, "acme", "+15559990000", "", 1, NULL, NULL, &d),
			 0);
	assert_int_equal(d.code, 403);
	/* A tenant without configuration, an unknown one. */
	assert_int_equal(route_decide_api(rt, "ghost", "+15559990000", "+15550000002", 1, NULL,
					  NULL, &d), 0);
	assert_string_equal(d.cause, "tenant_unconfigured");
	assert_int_equal(route_decide_api(rt, "nobody", "+15559990000", "+15550000006", 1,
					  NULL, NULL, &d), 0);
	assert_string_equal(d.cause, "tenant_unconfigured");
	/* URIs: the tenant's peer (host and port), not another's, not a stranger. */
	assert_int_equal(route_decide_api(rt, "acme", "sip:desk@10.0.0.9:5070;transport=udp",
					  "+15550000001", 1, NULL, NULL, &d), 0);
	assert_int_equal(d.code, 0);
	assert_int_equal(d.n_targets, 1);
	assert_string_equal(d.targets[0].ruri, "sip:desk@10.0.0.9:5070;transport=udp");
	assert_string_equal(d.targets[0].caller, "+15550000001");
	assert_int_equal(route_decide_api(rt, "acme", "sip:desk@10.0.0.9:5071",
					  "+15550000001", 1, NULL, NULL, &d), 0);
	assert_string_equal(d.cause, "not_a_peer");
	assert_int_equal(route_decide_api(rt, "acme", "sip:x@10.0.0.8", "+15550000001", 1,
					  NULL, NULL, &d), 0);
	assert_string_equal(d.cause, "not_a_peer");
	/* Every trunk down. */
	assert_int_equal(route_decide_api(rt, "acme", "+15559990000", "+15550000001", 1,
					  all_down, NULL, &d), 0);
	assert_string_equal(d.cause, "trunks_down");
	assert_int_equal(route_decide_api(NULL, "acme", "+1", "+1", 1, NULL, NULL, &d), EINVAL);
	route_table_unref(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dids_basic),
		cmocka_unit_test(test_dids_many),
		cmocka_unit_test(test_dids_overlay),
		cmocka_unit_test(test_inbound),
		cmocka_unit_test(test_outbound),
		cmocka_unit_test(test_record_amd),
		cmocka_unit_test(test_failover_group),
		cmocka_unit_test(test_no_outbound_rule),
		cmocka_unit_test(test_identify_shared_and_inactive),
		cmocka_unit_test(test_dial_format),
		cmocka_unit_test(test_api_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
