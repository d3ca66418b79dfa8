/*
 * route_match.c — numbers: normalising a dialled number to E.164 with the calling
 * trunk's number format, finding the route for an E.164 number, and expanding the
 * route's destination URI.
 *
 * DESIGN
 * Routes live in a decimal trie keyed by the digits of their match (after the '+').
 * Each node keeps two short lists, routes matching exactly there and prefix routes
 * ending there; "*" is a prefix route on the root. A lookup walks the number's
 * digits once (at most 15 nodes), remembering the deepest prefix route seen, and
 * at the last digit an exact route wins over any prefix. In each list a route
 * restricted to the calling trunk beats an unrestricted one. The trie is built as
 * routes are added (so duplicates are refused at once) and only read afterwards:
 * lookups allocate nothing and take no lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route_priv.h"

void route_match_free(struct route_table *rt)
{
	for (size_t i = 0; i < rt->n_routes; i++)
		free(rt->routes[i]);
	free(rt->routes);
	free(rt->nodes);
	free(rt->ents);
}

size_t route_table_route_count(const struct route_table *rt)
{
	return rt ? rt->n_routes : 0;
}

const struct route *route_table_route_at(const struct route_table *rt, size_t i)
{
	return rt && i < rt->n_routes ? rt->routes[i] : NULL;
}

const struct route_cfg *route_get_cfg(const struct route *r)
{
	return r ? &r->cfg : NULL;
}

const struct trunk *route_dest_trunk(const struct route *r)
{
	return r ? r->dest : NULL;
}

/** Digits of a valid "+E.164" string (1-15 digits, no leading 0), or NULL. */
static const char *e164_digits(const char *e164)
{
	size_t n;

	if (!e164 || e164[0] != '+' || e164[1] < '1' || e164[1] > '9')
		return NULL;
	n = strspn(e164 + 1, "0123456789");
	return n <= ROUTE_E164_MAX && e164[1 + n] == '\0' ? e164 + 1 : NULL;
}

/* ---- the trie --------------------------------------------------------------- */

static int trie_node_new(struct route_table *rt, int32_t *idx)
{
	struct trie_node *n;

	if (route_grow((void **)&rt->nodes, &rt->cap_nodes, rt->n_nodes, sizeof(*rt->nodes)))
		return ENOMEM;
	n = &rt->nodes[rt->n_nodes];
	memset(n->child, 0xff, sizeof(n->child));   /* -1 */
	n->exact = n->prefix = -1;
	*idx = (int32_t)rt->n_nodes++;
	return 0;
}

/** Node for a digit string, created on the way. */
static int trie_walk_create(struct route_table *rt, const char *digits, size_t n,
			    int32_t *node)
{
	int32_t cur;
	int rc;

	if (rt->n_nodes == 0) {
		rc = trie_node_new(rt, &cur);
		if (rc)
			return rc;
	}
	cur = 0;
	for (size_t i = 0; i < n; i++) {
		int d = digits[i] - '0';
		int32_t next = rt->nodes[cur].child[d];

		if (next < 0) {
			rc = trie_node_new(rt, &next);
			if (rc)
				return rc;
			rt->nodes[cur].child[d] = next;
		}
		cur = next;
	}
	*node = cur;
	return 0;
}

/** The best entry of a list for a calling trunk (index + 1, 0 = none), or -1. */
static int32_t trie_pick(const struct route_table *rt, int32_t head, uint32_t from)
{
	int32_t generic = -1;

	for (int32_t e = head; e >= 0; e = rt->ents[e].next) {
		if (from && rt->ents[e].from == from)
			return (int32_t)rt->ents[e].route;
		if (rt->ents[e].from == 0)
			generic = (int32_t)rt->ents[e].route;
	}
	return generic;
}

/* ---- adding routes ---------------------------------------------------------- */

/** Checks a URI template: sip:/sips: and only the {did} / {national} placeholders. */
static bool tmpl_ok(const char *t)
{
	if (strncasecmp(t, "sip:", 4) != 0 && strncasecmp(t, "sips:", 5) != 0)
		return false;
	for (const char *p = t; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '}')
			return false;
		if (*p == '{') {
			if (strncmp(p, "{did}", 5) == 0)
				p += 4;
			else if (strncmp(p, "{national}", 10) == 0)
				p += 9;
			else
				return false;
		}
	}
	return true;
}

/** "sip:{did}@" + host, port and parameters of the trunk's URI. */
static int default_tmpl(char *out, size_t len, const char *trunk_uri)
{
	const char *rest = strchr(trunk_uri, ':') + 1, *at = strchr(rest, '@');
	int n;

	if (at)
		rest = at + 1;
	n = snprintf(out, len, "%.*s{did}@%s", (int)(strchr(trunk_uri, ':') - trunk_uri + 1),
		     trunk_uri, rest);
	return n < 0 || (size_t)n >= len ? EINVAL : 0;
}

static int check_route(struct route_table *rt, const struct route_cfg *cfg,
		       struct route *r, size_t *ndigits, bool *prefix, char *err, size_t errlen)
{
	const char *name = cfg->name, *m = cfg->match;
	long from = -1, to = -1;

	if (!memchr(cfg->name, '\0', sizeof(cfg->name)) || !cfg->name[0])
		return route_fail(err, errlen, EINVAL, "route without a name");
	if (!memchr(cfg->match, '\0', sizeof(cfg->match)) ||
	    !memchr(cfg->from_trunk, '\0', sizeof(cfg->from_trunk)) ||
	    !memchr(cfg->to_trunk, '\0', sizeof(cfg->to_trunk)) ||
	    !memchr(cfg->uri, '\0', sizeof(cfg->uri)))
		return route_fail(err, errlen, EINVAL, "route %s: unterminated field", name);
	if (strcmp(m, "*") == 0) {
		*ndigits = 0;
		*prefix = true;
	} else {
		size_t len = strlen(m);

		*ndigits = m[0] == '+' ? strspn(m + 1, "0123456789") : 0;
		*prefix = len == *ndigits + 2 && m[len - 1] == '*';
		if (m[0] != '+' || *ndigits == 0 || *ndigits > ROUTE_E164_MAX ||
		    m[1] == '0' || (len != *ndigits + 1 && !*prefix))
			return route_fail(err, errlen, EINVAL,
				    "route %s: match \"%s\" is not +E.164, +prefix* or *", name,
				    m);
	}
	if (cfg->from_trunk[0]) {
		from = route_trunk_index(rt, cfg->from_trunk);
		if (from < 0)
			return route_fail(err, errlen, EINVAL, "route %s: unknown trunk %s", name,
				    cfg->from_trunk);
	}
	if (cfg->to_trunk[0]) {
		to = route_trunk_index(rt, cfg->to_trunk);
		if (to < 0)
			return route_fail(err, errlen, EINVAL, "route %s: unknown trunk %s", name,
				    cfg->to_trunk);
	}
	r->cfg = *cfg;
	r->from = (uint32_t)(from + 1);
	r->dest = to >= 0 ? rt->trunks[to] : NULL;
	if (cfg->uri[0]) {
		if (!tmpl_ok(cfg->uri))
			return route_fail(err, errlen, EINVAL, "route %s: bad uri template \"%s\"", name,
				    cfg->uri);
		memcpy(r->tmpl, cfg->uri, sizeof(r->tmpl));
	} else if (!r->dest || !r->dest->cfg.uri[0]) {
		return route_fail(err, errlen, EINVAL, "route %s: no destination (uri or a "
			    "to_trunk with a uri)", name);
	} else if (default_tmpl(r->tmpl, sizeof(r->tmpl), r->dest->cfg.uri)) {
		return route_fail(err, errlen, EINVAL, "route %s: destination uri too long", name);
	}
	return 0;
}

int route_table_add_route(struct route_table *rt, const struct route_cfg *cfg, char *err,
			  size_t errlen)
{
	struct route *r = NULL;
	size_t ndigits = 0;
	int32_t node, *head;
	bool prefix = false;
	int rc;

	if (!rt || !cfg)
		return EINVAL;
	if (rt->frozen)
		return route_fail(err, errlen, EINVAL, "table is frozen");
	r = calloc(1, sizeof(*r));
	if (!r)
		return route_fail(err, errlen, ENOMEM, "out of memory");
	rc = check_route(rt, cfg, r, &ndigits, &prefix, err, errlen);
	if (rc)
		goto out;
	rc = trie_walk_create(rt, cfg->match + 1, ndigits, &node);
	if (!rc)
		rc = route_grow((void **)&rt->ents, &rt->cap_ents, rt->n_ents, sizeof(*rt->ents));
	if (!rc)
		rc = route_grow((void **)&rt->routes, &rt->cap_routes, rt->n_routes,
				sizeof(*rt->routes));
	if (rc) {
		route_fail(err, errlen, rc, "out of memory");
		goto out;
	}
	head = prefix ? &rt->nodes[node].prefix : &rt->nodes[node].exact;
	for (int32_t e = *head; e >= 0; e = rt->ents[e].next) {
		if (rt->ents[e].from == r->from) {
			rc = route_fail(err, errlen, EINVAL, "route %s: route %s has the same match "
				  "and from_trunk", cfg->name, rt->routes[rt->ents[e].route]->cfg.name);
			goto out;
		}
	}
	rt->ents[rt->n_ents] = (struct trie_ent){(uint32_t)rt->n_routes, r->from, *head};
	*head = (int32_t)rt->n_ents++;
	rt->routes[rt->n_routes++] = r;
	r = NULL;
out:
	free(r);
	return rc;
}

/* ---- per call --------------------------------------------------------------- */

const struct route *route_lookup(const struct route_table *rt, const char *e164,
				 const struct trunk *from)
{
	const char *d = e164_digits(e164);
	uint32_t fidx = 0;
	int32_t best, node = 0;

	if (!rt || !d || rt->n_nodes == 0)
		return NULL;
	if (from && from->rt == rt)
		fidx = (uint32_t)from->idx + 1;
	else if (from)   /* a trunk of another snapshot: match it by name */
		fidx = (uint32_t)(route_trunk_index(rt, from->cfg.name) + 1);
	best = trie_pick(rt, rt->nodes[0].prefix, fidx);
	for (; *d; d++) {
		int32_t r;

		node = rt->nodes[node].child[*d - '0'];
		if (node < 0)
			break;
		r = trie_pick(rt, rt->nodes[node].prefix, fidx);
		if (r >= 0)
			best = r;
		if (d[1] == '\0') {
			r = trie_pick(rt, rt->nodes[node].exact, fidx);
			if (r >= 0)
				best = r;
		}
	}
	return best >= 0 ? rt->routes[best] : NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int route_normalize(const struct trunk *t, const char *user, char *e164, size_t len)
{
	static const struct trunk_cfg none;
	const struct trunk_cfg *c = t ? &t->cfg : &none;
	char d[ROUTE_E164_MAX * 2 + 1], out[ROUTE_E164_MAX + 2];
	const char *nsn;
	size_t n = 0;
	bool plus = false;
	int w;

	if (!user || !e164)
		return EINVAL;
	/* digits and a leading '+'; visual separators dropped; ";params" ignored */
	for (const char *p = user; *p && *p != ';'; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n == sizeof(d) - 1)
				return EINVAL;
			d[n++] = *p;
		} else if (*p == '+' && n == 0 && !plus) {
			plus = true;
		} else if (!strchr("-.() ", *p)) {
			return EINVAL;
		}
	}
	d[n] = '\0';
	if (n == 0)
		return EINVAL;
	if (plus || !c->country_code[0]) {
		if (!plus && c->international_prefix[0] && starts_with(d, c->international_prefix))
			nsn = d + strlen(c->international_prefix);
		else
			nsn = d;
		w = snprintf(out, sizeof(out), "+%s", nsn);
	} else if (c->international_prefix[0] && starts_with(d, c->international_prefix)) {
		w = snprintf(out, sizeof(out), "+%s", d + strlen(c->international_prefix));
	} else {
		nsn = c->national_prefix[0] && starts_with(d, c->national_prefix) ?
		      d + strlen(c->national_prefix) : d;
		if (!*nsn)
			return EINVAL;
		w = snprintf(out, sizeof(out), "+%s%s", c->country_code, nsn);
	}
	if (w < 0 || (size_t)w >= sizeof(out) || !e164_digits(out))
		return EINVAL;   /* empty, over 15 digits or a leading 0 */
	if ((size_t)w >= len)
		return ENOSPC;
	memcpy(e164, out, (size_t)w + 1);
	return 0;
}

/* tmpl with "{did}" as e164 and "{national}" as national. */
int route_fill_template(const char *tmpl, const char *e164, const char *national, char *out,
			size_t len)
{
	size_t o = 0;

	for (const char *p = tmpl; *p; ) {
		const char *sub = NULL;
		size_t sl;

		if (strncmp(p, "{did}", 5) == 0) {
			sub = e164;
			p += 5;
		} else if (strncmp(p, "{national}", 10) == 0) {
			sub = national;
			p += 10;
		}
		if (!sub) {
			sub = p++;
			sl = 1;
		} else {
			sl = strlen(sub);
		}
		if (o + sl >= len)
			return ENOSPC;
		memcpy(out + o, sub, sl);
		o += sl;
	}
	out[o] = '\0';
	return 0;
}

int route_expand_uri(const struct route *r, const char *e164, char *out, size_t len)
{
	const char *digits = e164_digits(e164), *national;

	if (!r || !digits || !out || !len)
		return EINVAL;
	/* {national}: without '+' and the destination trunk's country code */
	national = digits;
	if (r->dest && r->dest->cfg.country_code[0] &&
	    starts_with(digits, r->dest->cfg.country_code))
		national = digits + strlen(r->dest->cfg.country_code);
	return route_fill_template(r->tmpl, e164, national, out, len);
}
