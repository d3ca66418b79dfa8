/*
 * route_table.c — the routing snapshot's life cycle (create, add trunks, freeze,
 * reference counting) and trunk identification by source address.
 *
 * DESIGN
 * Identification runs for every out-of-dialog request on the signalling thread, so
 * freezing turns the trunks' CIDRs into one sorted array per address family, cut
 * into slices of equal prefix length, longest first. A lookup masks the source
 * address to each prefix length in turn and binary-searches that slice, first for
 * the source port, then for "any port": the first hit is the most specific claim.
 * That is O(L log n) for L distinct prefix lengths, with no allocation and no lock:
 * a frozen table is never written again, and its reference count is atomic so the
 * last holder on any thread frees it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route_priv.h"

int route_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int route_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *a;

	if (n < *cap)
		return 0;
	a = realloc(*arr, ncap * elem);
	if (!a)
		return ENOMEM;
	*arr = a;
	*cap = ncap;
	return 0;
}

bool route_digits_ok(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	return end && strspn(s, "0123456789") == (size_t)(end - s);
}

int route_table_create(struct route_table **rtp)
{
	struct route_table *rt;

	if (!rtp)
		return EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return ENOMEM;
	atomic_init(&rt->refs, 1);
	route_settings_default(&rt->settings);
	rt->v4.alen = 4;
	rt->v6.alen = 16;
	*rtp = rt;
	return 0;
}

static void table_free(struct route_table *rt)
{
	for (size_t i = 0; i < rt->n_trunks; i++)
		free(rt->trunks[i]);
	free(rt->trunks);
	free(rt->v4.ents);
	free(rt->v6.ents);
	route_match_free(rt);
	route_db_free(rt);
	free(rt);
}

struct route_table *route_table_ref(struct route_table *rt)
{
	if (rt)
		atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
	return rt;
}

void route_table_unref(struct route_table *rt)
{
	if (rt && atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
		table_free(rt);
}

size_t route_table_trunk_count(const struct route_table *rt)
{
	return rt ? rt->n_trunks : 0;
}

const struct trunk *route_table_trunk_at(const struct route_table *rt, size_t i)
{
	return rt && i < rt->n_trunks ? rt->trunks[i] : NULL;
}

long route_trunk_index(const struct route_table *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_trunks; i++)
		if (strcmp(rt->trunks[i]->cfg.name, name) == 0)
			return (long)i;
	return -1;
}

const struct trunk *route_table_trunk_by_name(const struct route_table *rt, const char *name)
{
	long i;

	if (!rt || !name)
		return NULL;
	i = route_trunk_index(rt, name);
	return i < 0 ? NULL : rt->trunks[i];
}

const struct trunk_cfg *trunk_get_cfg(const struct trunk *t)
{
	return t ? &t->cfg : NULL;
}

/* ---- adding trunks ---------------------------------------------------------- */

/** Address bytes of a CIDR (IPv4 or IPv6), or NULL for another family. */
static const uint8_t *cidr_bytes(const struct route_cidr *c, size_t *alen)
{
	*alen = 0;
	if (c->addr.ss_family == AF_INET) {
		*alen = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)&c->addr)->sin_addr;
	}
	if (c->addr.ss_family == AF_INET6) {
		*alen = 16;
		return (const uint8_t *)&((const struct sockaddr_in6 *)&c->addr)->sin6_addr;
	}
	return NULL;
}

static void mask_bytes(uint8_t *dst, const uint8_t *src, size_t alen, unsigned bits)
{
	for (size_t i = 0; i < alen; i++) {
		size_t lo = i * 8;

		dst[i] = lo >= bits ? 0 : lo + 8 <= bits ? src[i] :
			 (uint8_t)(src[i] & (0xff << (8 - (bits - lo))));
	}
}

static bool cidr_equal(const struct route_cidr *a, const struct route_cidr *b)
{
	size_t la = 0, lb = 0;
	const uint8_t *x = cidr_bytes(a, &la), *y = cidr_bytes(b, &lb);

	return x && y && la == lb && a->bits == b->bits && memcmp(x, y, la) == 0;
}

static const char *cidr_str(const struct route_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	size_t alen;
	const uint8_t *b = cidr_bytes(c, &alen);

	if (b)
		inet_ntop(c->addr.ss_family, b, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->bits);
	return buf;
}

static int check_trunk(const struct route_table *rt, const struct trunk_cfg *cfg, char *err,
		       size_t errlen)
{
	const char *name = cfg->name;
	char cs[INET6_ADDRSTRLEN + 8];

	if (!memchr(cfg->name, '\0', sizeof(cfg->name)) || !cfg->name[0])
		return route_fail(err, errlen, EINVAL, "trunk without a name");
	if (route_trunk_index(rt, name) >= 0)
		return route_fail(err, errlen, EINVAL, "duplicate trunk %s", name);
	if (cfg->n_cidrs > ROUTE_MAX_CIDRS || cfg->n_pass_headers > ROUTE_MAX_HEADERS ||
	    cfg->n_codecs > ROUTE_MAX_CODECS)
		return route_fail(err, errlen, EINVAL, "trunk %s: list too long", name);
	if (!route_digits_ok(cfg->country_code, sizeof(cfg->country_code)) ||
	    !route_digits_ok(cfg->national_prefix, sizeof(cfg->national_prefix)) ||
	    !route_digits_ok(cfg->international_prefix, sizeof(cfg->international_prefix)) ||
	    strlen(cfg->country_code) > 3 || cfg->country_code[0] == '0')
		return route_fail(err, errlen, EINVAL, "trunk %s: bad number format", name);
	if (!memchr(cfg->id, '\0', sizeof(cfg->id)) ||
	    !memchr(cfg->tenant, '\0', sizeof(cfg->tenant)) ||
	    !memchr(cfg->group, '\0', sizeof(cfg->group)) ||
	    !memchr(cfg->auth_user, '\0', sizeof(cfg->auth_user)) ||
	    !memchr(cfg->auth_secret, '\0', sizeof(cfg->auth_secret)) ||
	    (unsigned)cfg->kind > TRUNK_KIND_PEER || (unsigned)cfg->status > TRUNK_MAINTENANCE ||
	    (unsigned)cfg->dial_format > DIAL_PLUS_E164)
		return route_fail(err, errlen, EINVAL, "trunk %s: bad database fields", name);
	if (cfg->auth_inbound && (!cfg->auth_user[0] || !cfg->auth_secret[0]))
		return route_fail(err, errlen, EINVAL,
				  "trunk %s: inbound digest needs a username and a secret", name);
	if (cfg->kind != TRUNK_KIND_FILE && !cfg->id[0])
		return route_fail(err, errlen, EINVAL, "trunk %s: no id", name);
	if (cfg->kind == TRUNK_KIND_PEER && !cfg->tenant[0])
		return route_fail(err, errlen, EINVAL, "peer %s: no tenant", name);
	if (!memchr(cfg->uri, '\0', sizeof(cfg->uri)) ||
	    (cfg->uri[0] && strncasecmp(cfg->uri, "sip:", 4) != 0 &&
	     strncasecmp(cfg->uri, "sips:", 5) != 0))
		return route_fail(err, errlen, EINVAL, "trunk %s: uri is not a sip: URI", name);
	for (size_t i = 0; i < cfg->n_cidrs; i++) {
		const struct route_cidr *c = &cfg->cidrs[i];
		uint8_t masked[16];
		size_t alen;
		const uint8_t *b = cidr_bytes(c, &alen);

		if (!b || c->bits > alen * 8)
			return route_fail(err, errlen, EINVAL, "trunk %s: bad CIDR", name);
		mask_bytes(masked, b, alen, c->bits);
		if (memcmp(masked, b, alen) != 0)
			return route_fail(err, errlen, EINVAL, "trunk %s: CIDR %s has host bits set",
				    name, cidr_str(c, cs, sizeof(cs)));
		for (size_t j = 0; j < i; j++)
			if (cidr_equal(c, &cfg->cidrs[j]))
				return route_fail(err, errlen, EINVAL, "trunk %s: CIDR %s listed twice",
					    name, cidr_str(c, cs, sizeof(cs)));
		for (size_t t = 0; t < rt->n_trunks; t++) {
			const struct trunk_cfg *o = &rt->trunks[t]->cfg;

			if (o->port != cfg->port || o->status == TRUNK_INACTIVE ||
			    cfg->status == TRUNK_INACTIVE || route_claim_shared_ok(o, cfg))
				continue;
			for (size_t j = 0; j < o->n_cidrs; j++)
				if (cidr_equal(c, &o->cidrs[j]))
					return route_fail(err, errlen, EEXIST,
						    "trunk %s: CIDR %s port %u already belongs "
						    "to trunk %s", name,
						    cidr_str(c, cs, sizeof(cs)), cfg->port, o->name);
		}
	}
	return 0;
}

int route_table_add_trunk(struct route_table *rt, const struct trunk_cfg *cfg, char *err,
			  size_t errlen)
{
	struct trunk *t;
	int rc;

	if (!rt || !cfg)
		return EINVAL;
	if (rt->frozen)
		return route_fail(err, errlen, EINVAL, "table is frozen");
	rc = check_trunk(rt, cfg, err, errlen);
	if (rc)
		return rc;
	rc = route_grow((void **)&rt->trunks, &rt->cap_trunks, rt->n_trunks, sizeof(*rt->trunks));
	if (rc)
		return route_fail(err, errlen, rc, "out of memory");
	t = calloc(1, sizeof(*t));
	if (!t)
		return route_fail(err, errlen, ENOMEM, "out of memory");
	t->cfg = *cfg;
	t->idx = rt->n_trunks;
	t->rt = rt;
	rt->trunks[rt->n_trunks++] = t;
	if (cfg->kind != TRUNK_KIND_FILE)
		rt->db = true;
	return 0;
}

bool route_claim_shared_ok(const struct trunk_cfg *a, const struct trunk_cfg *b)
{
	return a->auth_inbound && b->auth_inbound;
}

/* ---- the identification index ----------------------------------------------- */

struct sort_ent {
	struct cidr_ent e;
	uint8_t         bits;
};

static int cmp_sort_ent(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;
	int d;

	if (x->bits != y->bits)
		return x->bits > y->bits ? -1 : 1;    /* longest prefix first */
	d = memcmp(x->e.addr, y->e.addr, sizeof(x->e.addr));
	if (d)
		return d;
	d = (x->e.port > y->e.port) - (x->e.port < y->e.port);
	if (d)
		return d;
	return (x->e.trunk > y->e.trunk) - (x->e.trunk < y->e.trunk);
}

static int build_index(struct route_table *rt, struct cidr_index *ix, int family)
{
	struct sort_ent *tmp;
	size_t n = 0, total = 0;

	for (size_t t = 0; t < rt->n_trunks; t++)
		total += rt->trunks[t]->cfg.n_cidrs;
	tmp = calloc(total + 1, sizeof(*tmp));
	free(ix->ents);   /* a freeze that failed for lack of memory may be retried */
	ix->ents = calloc(total + 1, sizeof(*ix->ents));
	if (!tmp || !ix->ents) {
		free(tmp);
		return ENOMEM;
	}
	for (size_t t = 0; t < rt->n_trunks; t++) {
		const struct trunk_cfg *c = &rt->trunks[t]->cfg;

		for (size_t i = 0; i < c->n_cidrs; i++) {
			size_t alen = 0;
			const uint8_t *b = cidr_bytes(&c->cidrs[i], &alen);

			if (c->cidrs[i].addr.ss_family != family || c->status == TRUNK_INACTIVE)
				continue;
			memcpy(tmp[n].e.addr, b, alen);
			tmp[n].e.port = c->port;
			tmp[n].e.trunk = (uint32_t)t;
			tmp[n++].bits = c->cidrs[i].bits;
		}
	}
	qsort(tmp, n, sizeof(*tmp), cmp_sort_ent);
	ix->n = n;
	ix->n_levels = 0;
	for (size_t i = 0; i < n; i++) {
		ix->ents[i] = tmp[i].e;
		if (i == 0 || tmp[i].bits != tmp[i - 1].bits)
			ix->levels[ix->n_levels++] = (struct cidr_level){tmp[i].bits, i, 0};
		ix->levels[ix->n_levels - 1].n++;
	}
	free(tmp);
	return 0;
}

int route_table_freeze(struct route_table *rt)
{
	int rc;

	if (!rt)
		return EINVAL;
	if (rt->frozen)
		return 0;
	rc = build_index(rt, &rt->v4, AF_INET);
	if (!rc)
		rc = build_index(rt, &rt->v6, AF_INET6);
	if (!rc)
		rc = route_db_freeze(rt);
	if (rc)
		return rc;
	rt->frozen = true;
	return 0;
}

/** Binary search of a level's slice for (addr, port). */
static const struct cidr_ent *level_find(const struct cidr_index *ix,
					 const struct cidr_level *lv, const uint8_t *addr,
					 uint16_t port)
{
	size_t lo = lv->off, hi = lv->off + lv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cidr_ent *e = &ix->ents[mid];
		int d = memcmp(addr, e->addr, ix->alen);

		if (!d)
			d = (port > e->port) - (port < e->port);
		if (!d) {
			/* The first of the claimants of this source (several: digest decides). */
			while (mid > lv->off && memcmp(ix->ents[mid - 1].addr, addr, ix->alen) == 0 &&
			       ix->ents[mid - 1].port == port)
				mid--;
			return &ix->ents[mid];
		}
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The index entry of the most specific claim on src (the first of its claimants). */
static const struct cidr_ent *identify_ent(const struct route_table *rt,
					   const struct sockaddr *src,
					   const struct cidr_index **ixp,
					   const struct cidr_ent **endp)
{
	const struct cidr_index *ix;
	const uint8_t *addr;
	uint16_t port;

	if (!rt || !src || !rt->frozen)
		return NULL;
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;

		ix = &rt->v4;
		addr = (const uint8_t *)&s4->sin_addr;
		port = ntohs(s4->sin_port);
	} else if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;

		port = ntohs(s6->sin6_port);
		addr = (const uint8_t *)&s6->sin6_addr;
		ix = &rt->v6;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {   /* dual-stack socket */
			ix = &rt->v4;
			addr += 12;
		}
	} else {
		return NULL;
	}
	for (size_t l = 0; l < ix->n_levels; l++) {
		const struct cidr_level *lv = &ix->levels[l];
		const struct cidr_ent *e;
		uint8_t masked[16] = {0};

		mask_bytes(masked, addr, ix->alen, lv->bits);
		e = port ? level_find(ix, lv, masked, port) : NULL;
		if (!e)
			e = level_find(ix, lv, masked, 0);
		if (e) {
			*ixp = ix;
			*endp = ix->ents + lv->off + lv->n;
			return e;
		}
	}
	return NULL;
}

const struct trunk *route_identify(const struct route_table *rt, const struct sockaddr *src)
{
	const struct cidr_index *ix = NULL;
	const struct cidr_ent *end = NULL, *e = identify_ent(rt, src, &ix, &end);

	return e ? rt->trunks[e->trunk] : NULL;
}

size_t route_identify_all(const struct route_table *rt, const struct sockaddr *src,
			  const struct trunk **out, size_t max)
{
	const struct cidr_index *ix = NULL;
	const struct cidr_ent *end = NULL, *e = identify_ent(rt, src, &ix, &end);
	size_t n = 0;

	if (!e || !out)
		return 0;
	for (const struct cidr_ent *x = e; x < end && n < max; x++) {
		if (memcmp(x->addr, e->addr, ix->alen) != 0 || x->port != e->port)
			break;
		out[n++] = rt->trunks[x->trunk];
	}
	return n;
}
