/*
 * route_decide.c — database mode: where a new call goes, or which configured answer it
 * gets, from the snapshot alone (pure: no I/O, no clock; the randomness of weighted
 * rules comes in as an argument and the trunks' qualify state as a callback).
 *
 * From a carrier: the request-URI becomes an E.164 DID; its tenant must be active and
 * configured; its destination is the tenant's PBX peer, a URI, or an announcement.
 * A number that is not a DID may still match the table's [route]-style rules; anything
 * else gets the "unassigned" answer. Nothing falls through to a silent 404: every
 * refusal carries the settings' code, a cause and a reason.
 *
 * From a tenant's peer: the caller ID must be one of the tenant's own DIDs (the one the
 * PBX asks for, else the tenant's default; a number it does not own is refused, never
 * replaced); the outbound rules give the carrier trunks to try in turn: longest
 * matching prefix first, the tenant's own rules before the shared ones, then lower
 * priority, then a weighted random order among equal priorities.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "route_priv.h"

#define CALLER_MIN_DIGITS 7   /* shorter From users are extensions, not caller IDs */

static void refuse(struct route_decision *d, int code, const char *cause, const char *event,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void refuse(struct route_decision *d, int code, const char *cause, const char *event,
		   const char *fmt, ...)
{
	va_list ap;

	d->code = code >= 300 && code <= 699 ? code : 480;
	d->cause = cause;
	d->event = event;
	d->n_targets = 0;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

int route_dial_format(const struct trunk_cfg *t, const char *e164, const char *asis,
		      char *out, size_t len)
{
	const char *digits, *cc;
	int n;

	if (!t || !e164 || e164[0] != '+' || !out || !len)
		return EINVAL;
	digits = e164 + 1;
	cc = t->country_code;
	switch (t->dial_format) {
	case DIAL_PLUS_E164:
		n = snprintf(out, len, "%s", e164);
		break;
	case DIAL_LEADING_ZERO:
		if (cc[0] && strncmp(digits, cc, strlen(cc)) == 0 && digits[strlen(cc)])
			n = snprintf(out, len, "0%s", digits + strlen(cc));
		else
			n = snprintf(out, len, "%s%s", t->international_prefix[0] ?
				     t->international_prefix : "00", digits);
		break;
	case DIAL_ASIS:
	default:
		if (asis && asis[0]) {
			size_t k = strcspn(asis, ";");

			n = snprintf(out, len, "%.*s", (int)k, asis);
		} else {
			n = snprintf(out, len, "%s", digits);
		}
		break;
	}
	return n < 0 || (size_t)n >= len ? ENOSPC : 0;
}

/* "sip:" user "@" + host, port and parameters of a trunk's URI. */
static int uri_with_user(const char *uri, const char *user, char *out, size_t len)
{
	const char *colon = strchr(uri, ':'), *rest, *at;
	int n;

	if (!colon || !user[0])
		return EINVAL;
	rest = colon + 1;
	at = strchr(rest, '@');
	if (at)
		rest = at + 1;
	n = snprintf(out, len, "%.*s%s@%s", (int)(colon - uri + 1), uri, user, rest);
	return n < 0 || (size_t)n >= len ? ENOSPC : 0;
}

static long cap_of(long v)
{
	return v > 0 ? v : -1;
}

static void tenant_caps(const struct route_table *rt, const struct tenant_cfg *t,
			struct route_decision *d)
{
	const struct route_settings *s = &rt->settings;

	d->tenant = t;
	d->tenant_cap = t->max_calls >= 0 ? t->max_calls : cap_of((long)s->tenant_max_calls);
	d->global_cap = cap_of((long)s->global_max_calls);
}

static bool usable(const struct trunk *t, route_up_h *up, void *arg)
{
	return t->cfg.status == TRUNK_ACTIVE && (!up || up(t, arg));
}

/* Caller number as the carrier sent it, in E.164 when it is a number. */
static void caller_of(const struct trunk *from, const char *from_user, char *out, size_t len)
{
	if (route_normalize(from, from_user, out, len) != 0)
		snprintf(out, len, "%.*s", (int)(len - 1), from_user ? from_user : "");
}

/* ---- from a carrier ---- */

static void add_target(struct route_decision *d, const struct trunk *t, const char *ruri,
		       const char *caller)
{
	struct route_target *x;

	if (d->n_targets == ROUTE_MAX_TARGETS)
		return;
	x = &d->targets[d->n_targets++];
	memset(x, 0, sizeof(*x));
	x->trunk = t;
	snprintf(x->ruri, sizeof(x->ruri), "%s", ruri);
	snprintf(x->caller, sizeof(x->caller), "%s", caller);
}

static void to_peer(const struct route_table *rt, const struct trunk *from,
		    const struct did_view *v, const char *ruri_user, route_up_h *up, void *arg,
		    struct route_decision *d)
{
	const struct trunk *peer = route_table_trunk_by_id(rt, v->peer_id);
	char user[64], ruri[ROUTE_URI_MAX], caller[ROUTE_E164_SIZE + 8];

	(void)from;
	if (!peer || peer->cfg.kind != TRUNK_KIND_PEER || !peer->cfg.uri[0] ||
	    strcmp(peer->cfg.tenant, d->tenant->id) != 0) {
		refuse(d, rt->settings.answer_unconfigured, "tenant_unconfigured", NULL,
		       "DID %s: tenant %s has no PBX peer to take it", d->did, d->tenant->id);
		return;
	}
	if (!usable(peer, up, arg)) {
		refuse(d, 480, "peer_unavailable", NULL, "DID %s: peer %s is %s", d->did,
		       peer->cfg.name, peer->cfg.status == TRUNK_ACTIVE ? "down" :
		       peer->cfg.status == TRUNK_MAINTENANCE ? "in maintenance" : "inactive");
		return;
	}
	if (route_dial_format(&peer->cfg, d->did, ruri_user, user, sizeof(user)) ||
	    uri_with_user(peer->cfg.uri, user, ruri, sizeof(ruri))) {
		refuse(d, 500, "bad_destination", NULL, "DID %s: peer %s's URI is unusable",
		       d->did, peer->cfg.name);
		return;
	}
	if (d->caller[0] == '+')
		route_dial_format(&peer->cfg, d->caller, NULL, caller, sizeof(caller));
	else
		snprintf(caller, sizeof(caller), "%s", d->caller);
	add_target(d, peer, ruri, caller);
}

/* The recording and AMD options of the last target added (pointers into the snapshot). */
static void target_media(struct route_decision *d, size_t before, const char *record_dir,
			 bool amd)
{
	if (d->n_targets == before)
		return;
	d->targets[d->n_targets - 1].record_dir = record_dir && record_dir[0] ? record_dir : NULL;
	d->targets[d->n_targets - 1].amd = amd;
}

/* {did} and {national} (the number without "+" and the carrier's country code). */
static int expand_tmpl(const char *tmpl, const char *e164, const char *cc, char *out,
		       size_t len)
{
	const char *national = e164 + 1;

	if (cc[0] && strncmp(national, cc, strlen(cc)) == 0)
		national += strlen(cc);
	return route_fill_template(tmpl, e164, national, out, len);
}

static void inbound(const struct route_table *rt, const struct trunk *from,
		    const char *ruri_user, const char *from_user, route_up_h *up, void *arg,
		    struct route_decision *d)
{
	const struct route_settings *s = &rt->settings;
	const struct tenant_cfg *t;
	const struct route *r;
	struct did_view v;
	char ruri[ROUTE_URI_MAX];

	if (route_normalize(from, ruri_user, d->did, sizeof(d->did)) != 0) {
		d->did[0] = '\0';
		refuse(d, 404, "no_route", NULL, "not a telephone number");
		return;
	}
	caller_of(from, from_user, d->caller, sizeof(d->caller));
	d->group = from->cfg.group[0] ? from->cfg.group : "default";
	if (!rt->dids || !route_dids_get(rt->dids, d->did, &v) || !v.active) {
		/* Not a DID: the [route]-style rules may still know the number. */
		r = route_lookup(rt, d->did, from);
		if (r && route_expand_uri(r, d->did, ruri, sizeof(ruri)) == 0) {
			add_target(d, route_dest_trunk(r), ruri, d->caller);
			target_media(d, 0, route_get_cfg(r)->record_dir, route_get_cfg(r)->amd);
			d->pool = s->inbound_pool;
			d->pool_channels = route_table_pool_channels(rt, d->group, d->pool);
			return;
		}
		refuse(d, s->answer_unassigned, "did_unassigned", NULL,
		       "number %s is not assigned", d->did);
		return;
	}
	if (!v.tenant[0]) {
		refuse(d, s->answer_unassigned, "did_unassigned", NULL,
		       "DID %s is not assigned to a tenant", d->did);
		return;
	}
	t = route_table_tenant(rt, v.tenant);
	if (!t || !t->active || !t->configured) {
		refuse(d, s->answer_unconfigured, "tenant_unconfigured", NULL,
		       "DID %s: tenant %s is %s", d->did, v.tenant,
		       !t ? "unknown" : !t->active ? "inactive" : "not configured");
		return;
	}
	tenant_caps(rt, t, d);
	d->pool = s->inbound_pool;
	d->pool_channels = route_table_pool_channels(rt, d->group, d->pool);
	switch (v.dest) {
	case DID_DEST_PEER:
		to_peer(rt, from, &v, ruri_user, up, arg, d);
		target_media(d, 0, v.record_dir, v.amd);
		break;
	case DID_DEST_URI:
		if (!v.uri[0] || expand_tmpl(v.uri, d->did, from->cfg.country_code, ruri,
					     sizeof(ruri))) {
			refuse(d, 500, "bad_destination", NULL, "DID %s: destination URI unusable",
			       d->did);
			break;
		}
		add_target(d, NULL, ruri, d->caller);
		target_media(d, 0, v.record_dir, v.amd);
		break;
	case DID_DEST_ANNOUNCEMENT:
		refuse(d, s->answer_announcement, "announcement", NULL,
		       "DID %s: announcement %s (recordings are not played yet)", d->did,
		       v.announcement[0] ? v.announcement : "-");
		break;
	}
}

/* ---- from a tenant's peer ---- */

static bool owns(const struct route_table *rt, const struct tenant_cfg *t, const char *e164)
{
	struct did_view v;

	return rt->dids && route_dids_get(rt->dids, e164, &v) && v.active &&
	       strcmp(v.tenant, t->id) == 0;
}

/* The caller ID the tenant may use, or a refusal. */
static bool pick_caller(const struct route_table *rt, const struct trunk *from,
			const char *from_user, struct route_decision *d)
{
	const struct tenant_cfg *t = d->tenant;
	char e164[ROUTE_E164_SIZE];
	size_t digits = 0;

	for (const char *p = from_user ? from_user : ""; *p && *p != ';'; p++)
		digits += *p >= '0' && *p <= '9';
	if (digits >= CALLER_MIN_DIGITS &&
	    route_normalize(from, from_user, e164, sizeof(e164)) == 0) {
		if (owns(rt, t, e164)) {
			snprintf(d->caller, sizeof(d->caller), "%s", e164);
			return true;
		}
		refuse(d, 403, "callerid_not_owned", "callerid.rejected",
		       "caller ID %s is not a number of tenant %s", e164, t->id);
		snprintf(d->caller, sizeof(d->caller), "%s", e164);
		return false;
	}
	/* No number asked (anonymous, an extension): the tenant's default. */
	if (t->default_did[0] && owns(rt, t, t->default_did)) {
		snprintf(d->caller, sizeof(d->caller), "%s", t->default_did);
		return true;
	}
	refuse(d, 403, "callerid_not_owned", "callerid.rejected",
	       "tenant %s has no default caller ID of its own", t->id);
	return false;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static bool same_rank(const struct oroute *a, const struct oroute *b)
{
	return a->plen == b->plen && (a->cfg.tenant[0] == '\0') == (b->cfg.tenant[0] == '\0') &&
	       a->cfg.priority == b->cfg.priority;
}

/* from: the tenant's peer, or NULL for a call the tenant places through the API. */
static void outbound(const struct route_table *rt, const struct trunk *from,
		     const char *tenant, const char *ruri_user, const char *from_user,
		     uint64_t rnd, route_up_h *up, void *arg, struct route_decision *d)
{
	const struct route_settings *s = &rt->settings;
	const struct tenant_cfg *t = route_table_tenant(rt, tenant);
	const struct oroute *match[64];
	size_t n = 0, matched = 0;
	uint64_t x = rnd ? rnd : 0x9e3779b97f4a7c15ull;

	d->outbound = true;
	if (!t || !t->active || !t->configured) {
		refuse(d, s->answer_unconfigured, "tenant_unconfigured", NULL,
		       "%s %s: tenant %s is %s", from ? "peer" : "caller", from ? from->cfg.name :
		       "api", tenant,
		       !t ? "unknown" : !t->active ? "inactive" : "not configured");
		return;
	}
	tenant_caps(rt, t, d);
	if (route_normalize(from, ruri_user, d->did, sizeof(d->did)) != 0) {
		d->did[0] = '\0';
		refuse(d, 404, "no_route", NULL, "not a telephone number");
		return;
	}
	if (!pick_caller(rt, from, from_user, d))
		return;
	/* Rules are sorted by rank (route_db.c): collect those the number starts with. */
	for (size_t i = 0; i < rt->n_oroutes && n < sizeof(match) / sizeof(match[0]); i++) {
		const struct oroute *o = &rt->oroutes[i];

		if (o->cfg.tenant[0] && strcmp(o->cfg.tenant, t->id) != 0)
			continue;
		if (strncmp(d->did + 1, o->cfg.prefix, o->plen) != 0)
			continue;
		matched++;
		if (o->trunk->cfg.status != TRUNK_ACTIVE || !o->trunk->cfg.uri[0])
			continue;
		match[n++] = o;
	}
	/* Weighted order inside each group of equal rank. */
	for (size_t g = 0; g < n; ) {
		size_t e = g + 1;

		while (e < n && same_rank(match[g], match[e]))
			e++;
		for (size_t k = g; k + 1 < e; k++) {
			uint64_t total = 0, pick;

			for (size_t j = k; j < e; j++)
				total += match[j]->cfg.weight;
			pick = total ? next_rand(&x) % total : 0;   /* weights are >= 1 */
			for (size_t j = k; j < e; j++) {
				if (pick < match[j]->cfg.weight) {
					const struct oroute *tmp = match[k];

					match[k] = match[j];
					match[j] = tmp;
					break;
				}
				pick -= match[j]->cfg.weight;
			}
		}
		g = e;
	}
	for (size_t i = 0; i < n && d->n_targets < ROUTE_MAX_TARGETS; i++) {
		const struct trunk *tr = match[i]->trunk;
		char user[64], ruri[ROUTE_URI_MAX], caller[ROUTE_E164_SIZE + 8];
		bool dup = false;

		for (size_t j = 0; j < d->n_targets; j++)
			dup |= d->targets[j].trunk == tr;
		if (dup || !usable(tr, up, arg))
			continue;
		/* Failover stays in the carrier group the call's channel is counted in. */
		if (d->group && strcmp(tr->cfg.group[0] ? tr->cfg.group : "default", d->group))
			continue;
		if (route_dial_format(&tr->cfg, d->did, ruri_user, user, sizeof(user)) ||
		    uri_with_user(tr->cfg.uri, user, ruri, sizeof(ruri)) ||
		    route_dial_format(&tr->cfg, d->caller, NULL, caller, sizeof(caller)))
			continue;
		add_target(d, tr, ruri, caller);
		target_media(d, d->n_targets - 1, match[i]->cfg.record_dir, match[i]->cfg.amd);
		if (!d->group)
			d->group = tr->cfg.group[0] ? tr->cfg.group : "default";
	}
	if (!d->n_targets) {
		if (!matched)
			refuse(d, s->answer_no_route, "no_route", NULL,
			       "no outbound route for %s", d->did);
		else
			refuse(d, s->answer_trunks_down, "trunks_down", NULL,
			       "every trunk for %s is down or inactive", d->did);
		return;
	}
	d->pool = s->outbound_pool;
	d->pool_channels = route_table_pool_channels(rt, d->group, d->pool);
}

/* ---- entry ---- */

int route_decide(const struct route_table *rt, const struct trunk *from,
		 const char *ruri_user, const char *from_user, uint64_t rnd, route_up_h *up,
		 void *up_arg, struct route_decision *d)
{
	if (!rt || !from || !ruri_user || !d)
		return EINVAL;
	memset(d, 0, sizeof(*d));
	d->pool_channels = d->tenant_cap = d->global_cap = -1;
	d->global_cap = cap_of((long)rt->settings.global_max_calls);
	if (from->cfg.status == TRUNK_MAINTENANCE) {
		refuse(d, 503, "trunk_maintenance", NULL, "%s is in maintenance", from->cfg.name);
		return 0;
	}
	if (from->cfg.status == TRUNK_INACTIVE) {
		refuse(d, 403, "trunk_inactive", NULL, "%s is inactive", from->cfg.name);
		return 0;
	}
	if (from->cfg.kind == TRUNK_KIND_PEER)
		outbound(rt, from, from->cfg.tenant, ruri_user, from_user, rnd, up, up_arg, d);
	else
		inbound(rt, from, ruri_user, from_user, up, up_arg, d);
	return 0;
}

/* ---- calls placed by the API ---- */

/* The host[:port] part of a sip:/sips: URI (after any user@, up to ;?>). */
static size_t uri_hostport(const char *uri, const char **hp)
{
	const char *p = strchr(uri, ':'), *at;

	if (!p)
		return 0;
	p++;
	at = strchr(p, '@');
	if (at)
		p = at + 1;
	*hp = p;
	return strcspn(p, ";?>");
}

static void to_tenant_peer(const struct route_table *rt, const struct tenant_cfg *t,
			   const char *uri, route_up_h *up, void *arg, struct route_decision *d)
{
	const char *hp, *php;
	size_t n = uri_hostport(uri, &hp);

	for (size_t i = 0; n && i < route_table_trunk_count(rt); i++) {
		const struct trunk *tr = route_table_trunk_at(rt, i);
		size_t pn;

		if (tr->cfg.kind != TRUNK_KIND_PEER || strcmp(tr->cfg.tenant, t->id) != 0 ||
		    !tr->cfg.uri[0])
			continue;
		pn = uri_hostport(tr->cfg.uri, &php);
		if (pn != n || strncasecmp(hp, php, n) != 0)
			continue;
		if (!usable(tr, up, arg)) {
			refuse(d, rt->settings.answer_trunks_down, "trunks_down", NULL,
			       "peer %s is down or inactive", tr->cfg.name);
			return;
		}
		add_target(d, tr, uri, d->caller);
		d->group = tr->cfg.group[0] ? tr->cfg.group : "default";
		d->pool = rt->settings.outbound_pool;
		d->pool_channels = route_table_pool_channels(rt, d->group, d->pool);
		return;
	}
	refuse(d, 403, "not_a_peer", NULL, "%s is not one of tenant %s's peers", uri, t->id);
}

int route_decide_api(const struct route_table *rt, const char *tenant, const char *to,
		     const char *from, uint64_t rnd, route_up_h *up, void *up_arg,
		     struct route_decision *d)
{
	const struct tenant_cfg *t;
	char e164[ROUTE_E164_SIZE];

	if (!rt || !tenant || !to || !from || !d)
		return EINVAL;
	memset(d, 0, sizeof(*d));
	d->pool_channels = d->tenant_cap = -1;
	d->global_cap = cap_of((long)rt->settings.global_max_calls);
	d->outbound = true;
	t = route_table_tenant(rt, tenant);
	if (!t || !t->active || !t->configured) {
		refuse(d, rt->settings.answer_unconfigured, "tenant_unconfigured", NULL,
		       "tenant %s is %s", tenant, !t ? "unknown" : !t->active ? "inactive" :
		       "not configured");
		return 0;
	}
	/* The caller ID must be one of the tenant's numbers: never a default instead. */
	if (route_normalize(NULL, from, e164, sizeof(e164)) != 0 || !owns(rt, t, e164)) {
		refuse(d, 403, "callerid_not_owned", "callerid.rejected",
		       "caller ID %s is not a number of tenant %s", from, t->id);
		snprintf(d->caller, sizeof(d->caller), "%s", from);
		return 0;
	}
	if (strncasecmp(to, "sip:", 4) == 0 || strncasecmp(to, "sips:", 5) == 0) {
		tenant_caps(rt, t, d);
		snprintf(d->caller, sizeof(d->caller), "%s", e164);
		to_tenant_peer(rt, t, to, up, up_arg, d);
		return 0;
	}
	outbound(rt, NULL, tenant, to, e164, rnd, up, up_arg, d);
	return 0;
}
