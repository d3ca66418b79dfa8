/*
 * route_db.c — the database-mode parts of a routing snapshot: tenants, outbound route
 * rules, channel pools, shared settings, the id index of trunks and the attached DID
 * table; their validation when added and their indexes when the table freezes.
 *
 * DESIGN
 * Like the rest of the snapshot these are written once, while the table is built on
 * the control thread, and only read afterwards. Freezing sorts trunks and tenants by
 * id (binary search per call) and the outbound rules by (prefix length descending,
 * tenant-specific first, priority, weight) so that a lookup is one pass collecting
 * the rules whose prefix the number starts with.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_priv.h"

void route_settings_default(struct route_settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->inbound_pool, sizeof(s->inbound_pool), "ivr");
	snprintf(s->outbound_pool, sizeof(s->outbound_pool), "api");
	s->answer_unassigned = 404;
	s->answer_unconfigured = 480;
	s->answer_over_cap = 503;
	s->answer_no_route = 404;
	s->answer_trunks_down = 503;
	s->answer_announcement = 480;
}

void route_db_free(struct route_table *rt)
{
	free(rt->dests);
	free(rt->by_id);
	free(rt->tenants);
	free(rt->oroutes);
	free(rt->pools);
	route_dids_unref(rt->dids);
}

static bool str_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int route_table_add_tenant(struct route_table *rt, const struct tenant_cfg *cfg, char *err,
			   size_t errlen)
{
	if (!rt || !cfg)
		return EINVAL;
	if (rt->frozen)
		return route_fail(err, errlen, EINVAL, "table is frozen");
	if (!str_ok(cfg->id, sizeof(cfg->id)) || !cfg->id[0] ||
	    !str_ok(cfg->name, sizeof(cfg->name)) ||
	    !str_ok(cfg->default_did, sizeof(cfg->default_did)))
		return route_fail(err, errlen, EINVAL, "tenant without an id");
	for (size_t i = 0; i < rt->n_tenants; i++)
		if (strcmp(rt->tenants[i].id, cfg->id) == 0)
			return route_fail(err, errlen, EINVAL, "duplicate tenant %s", cfg->id);
	if (route_grow((void **)&rt->tenants, &rt->cap_tenants, rt->n_tenants,
		       sizeof(*rt->tenants)))
		return route_fail(err, errlen, ENOMEM, "out of memory");
	rt->tenants[rt->n_tenants++] = *cfg;
	rt->db = true;
	return 0;
}

int route_table_add_oroute(struct route_table *rt, const struct oroute_cfg *cfg, char *err,
			   size_t errlen)
{
	struct oroute *o;
	long t;

	if (!rt || !cfg)
		return EINVAL;
	if (rt->frozen)
		return route_fail(err, errlen, EINVAL, "table is frozen");
	if (!str_ok(cfg->tenant, sizeof(cfg->tenant)) || !str_ok(cfg->trunk, sizeof(cfg->trunk)) ||
	    !route_digits_ok(cfg->prefix, sizeof(cfg->prefix)) || strlen(cfg->prefix) > 15 ||
	    cfg->prefix[0] == '0' || cfg->weight == 0)
		return route_fail(err, errlen, EINVAL, "outbound route: bad prefix or weight");
	t = route_trunk_index(rt, cfg->trunk);
	if (t < 0 || rt->trunks[t]->cfg.kind != TRUNK_KIND_CARRIER)
		return route_fail(err, errlen, EINVAL, "outbound route to %s: not a carrier trunk",
				  cfg->trunk);
	if (route_grow((void **)&rt->oroutes, &rt->cap_oroutes, rt->n_oroutes,
		       sizeof(*rt->oroutes)))
		return route_fail(err, errlen, ENOMEM, "out of memory");
	o = &rt->oroutes[rt->n_oroutes++];
	o->cfg = *cfg;
	o->trunk = rt->trunks[t];
	o->plen = strlen(cfg->prefix);
	rt->db = true;
	return 0;
}

int route_table_add_pool(struct route_table *rt, const struct pool_cfg *cfg, char *err,
			 size_t errlen)
{
	if (!rt || !cfg)
		return EINVAL;
	if (rt->frozen)
		return route_fail(err, errlen, EINVAL, "table is frozen");
	if (!str_ok(cfg->group, sizeof(cfg->group)) || !str_ok(cfg->pool, sizeof(cfg->pool)) ||
	    !cfg->group[0] || !cfg->pool[0])
		return route_fail(err, errlen, EINVAL, "channel pool without a name");
	for (size_t i = 0; i < rt->n_pools; i++)
		if (strcmp(rt->pools[i].group, cfg->group) == 0 &&
		    strcmp(rt->pools[i].pool, cfg->pool) == 0)
			return route_fail(err, errlen, EINVAL, "duplicate pool %s/%s", cfg->group,
					  cfg->pool);
	if (route_grow((void **)&rt->pools, &rt->cap_pools, rt->n_pools, sizeof(*rt->pools)))
		return route_fail(err, errlen, ENOMEM, "out of memory");
	rt->pools[rt->n_pools++] = *cfg;
	return 0;
}

void route_table_set_settings(struct route_table *rt, const struct route_settings *s)
{
	if (rt && s && !rt->frozen) {
		rt->settings = *s;
		rt->settings.inbound_pool[sizeof(s->inbound_pool) - 1] = '\0';
		rt->settings.outbound_pool[sizeof(s->outbound_pool) - 1] = '\0';
		rt->db = true;
	}
}

int route_table_set_dids(struct route_table *rt, struct route_dids *d)
{
	if (!rt || rt->frozen)
		return EINVAL;
	route_dids_unref(rt->dids);
	rt->dids = route_dids_ref(d);
	rt->db = true;
	return 0;
}

struct route_dids *route_table_dids(const struct route_table *rt)
{
	return rt ? rt->dids : NULL;
}

/* ---- freezing ---- */

static int cmp_trunk_id(const void *a, const void *b)
{
	const struct trunk *const *x = a, *const *y = b;

	return strcmp((*x)->cfg.id, (*y)->cfg.id);
}

static int cmp_tenant(const void *a, const void *b)
{
	return strcmp(((const struct tenant_cfg *)a)->id, ((const struct tenant_cfg *)b)->id);
}

static int cmp_oroute(const void *a, const void *b)
{
	const struct oroute *x = a, *y = b;
	int d;

	if (x->plen != y->plen)
		return x->plen > y->plen ? -1 : 1;
	d = (x->cfg.tenant[0] == '\0') - (y->cfg.tenant[0] == '\0');   /* own rules first */
	if (d)
		return d;
	if (x->cfg.priority != y->cfg.priority)
		return x->cfg.priority < y->cfg.priority ? -1 : 1;
	d = strcmp(x->cfg.prefix, y->cfg.prefix);
	if (d)
		return d;
	return strcmp(x->cfg.trunk, y->cfg.trunk);
}

/* ---- destination addresses ---- */

struct dests {
	uint8_t (*a)[17];
	size_t    n, cap;
};

/* The IP literal host of a sip:/sips: URI (user part, port and parameters skipped). */
static void dest_add(const char *uri, void *arg)
{
	struct dests *ds = arg;
	const char *p = strchr(uri, ':'), *at, *end;
	char host[64];
	uint8_t e[17] = {0};
	size_t n;

	if (!p)
		return;
	p++;
	at = strchr(p, '@');
	if (at)
		p = at + 1;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return;
		p++;
	} else {
		end = p + strcspn(p, ":;?>");
	}
	n = (size_t)(end - p);
	if (!n || n >= sizeof(host))
		return;
	memcpy(host, p, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, e + 1) == 1)
		e[0] = 4;
	else if (inet_pton(AF_INET6, host, e + 1) == 1)
		e[0] = 6;
	else
		return;   /* a name: resolved by the stack, not a source we can match */
	if (ds->n == ds->cap) {
		size_t cap = ds->cap ? ds->cap * 2 : 16;
		void *a = realloc(ds->a, cap * sizeof(*ds->a));

		if (!a)
			return;
		ds->a = a;
		ds->cap = cap;
	}
	memcpy(ds->a[ds->n++], e, sizeof(e));
}

static int cmp_dest(const void *a, const void *b)
{
	return memcmp(a, b, 17);
}

static void build_dests(struct route_table *rt)
{
	struct dests ds = {0};
	size_t o = 0;

	if (!rt->db)
		return;   /* file mode: only the trunks' sources are known (as always) */
	for (size_t i = 0; i < rt->n_trunks; i++)
		if (rt->trunks[i]->cfg.uri[0] && rt->trunks[i]->cfg.status != TRUNK_INACTIVE)
			dest_add(rt->trunks[i]->cfg.uri, &ds);
	for (size_t i = 0; i < route_table_route_count(rt); i++)
		dest_add(route_get_cfg(route_table_route_at(rt, i))->uri, &ds);
	route_dids_each_uri(rt->dids, dest_add, &ds);
	if (ds.n)
		qsort(ds.a, ds.n, sizeof(*ds.a), cmp_dest);
	for (size_t i = 0; i < ds.n; i++)
		if (!o || memcmp(ds.a[i], ds.a[o - 1], 17) != 0)
			memmove(ds.a[o++], ds.a[i], 17);
	free(rt->dests);
	rt->dests = ds.a;
	rt->n_dests = o;
}

bool route_is_destination(const struct route_table *rt, const struct sockaddr *src)
{
	uint8_t e[17] = {0};
	size_t lo = 0, hi;

	if (!rt || !src || !rt->n_dests)
		return false;
	if (src->sa_family == AF_INET) {
		e[0] = 4;
		memcpy(e + 1, &((const struct sockaddr_in *)src)->sin_addr, 4);
	} else if (src->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)src)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			e[0] = 4;
			memcpy(e + 1, a6->s6_addr + 12, 4);
		} else {
			e[0] = 6;
			memcpy(e + 1, a6, 16);
		}
	} else {
		return false;
	}
	hi = rt->n_dests;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(e, rt->dests[mid], 17);

		if (!d)
			return true;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

int route_db_freeze(struct route_table *rt)
{
	size_t n = 0;

	build_dests(rt);
	free(rt->by_id);
	rt->by_id = calloc(rt->n_trunks + 1, sizeof(*rt->by_id));
	if (!rt->by_id)
		return ENOMEM;
	for (size_t i = 0; i < rt->n_trunks; i++)
		if (rt->trunks[i]->cfg.id[0])
			rt->by_id[n++] = rt->trunks[i];
	qsort(rt->by_id, n, sizeof(*rt->by_id), cmp_trunk_id);
	rt->n_by_id = n;
	if (rt->n_tenants)
		qsort(rt->tenants, rt->n_tenants, sizeof(*rt->tenants), cmp_tenant);
	if (rt->n_oroutes)
		qsort(rt->oroutes, rt->n_oroutes, sizeof(*rt->oroutes), cmp_oroute);
	return 0;
}

/* ---- lookups ---- */

const struct trunk *route_table_trunk_by_id(const struct route_table *rt, const char *id)
{
	size_t lo = 0, hi;

	if (!rt || !id || !rt->frozen || !id[0])
		return NULL;
	hi = rt->n_by_id;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(id, rt->by_id[mid]->cfg.id);

		if (!d)
			return rt->by_id[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct tenant_cfg *route_table_tenant(const struct route_table *rt, const char *id)
{
	size_t lo = 0, hi;

	if (!rt || !id || !id[0] || !rt->frozen)
		return NULL;
	hi = rt->n_tenants;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(id, rt->tenants[mid].id);

		if (!d)
			return &rt->tenants[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t route_table_tenant_count(const struct route_table *rt)
{
	return rt ? rt->n_tenants : 0;
}

const struct tenant_cfg *route_table_tenant_at(const struct route_table *rt, size_t i)
{
	return rt && i < rt->n_tenants ? &rt->tenants[i] : NULL;
}

size_t route_table_oroute_count(const struct route_table *rt)
{
	return rt ? rt->n_oroutes : 0;
}

size_t route_table_pool_count(const struct route_table *rt)
{
	return rt ? rt->n_pools : 0;
}

const struct pool_cfg *route_table_pool_at(const struct route_table *rt, size_t i)
{
	return rt && i < rt->n_pools ? &rt->pools[i] : NULL;
}

long route_table_pool_channels(const struct route_table *rt, const char *group,
			       const char *pool)
{
	if (!rt || !group || !pool)
		return -1;
	for (size_t i = 0; i < rt->n_pools; i++)
		if (strcmp(rt->pools[i].group, group) == 0 && strcmp(rt->pools[i].pool, pool) == 0)
			return (long)rt->pools[i].channels;
	return -1;
}

const struct route_settings *route_table_settings(const struct route_table *rt)
{
	return rt ? &rt->settings : NULL;
}

bool route_table_is_db(const struct route_table *rt)
{
	return rt && rt->db;
}
