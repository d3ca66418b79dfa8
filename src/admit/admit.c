/*
 * admit.c — admission on the control thread (see admit.h): the Redis scripts and their
 * calls, this node's lease table and its refresh, the per-process fallback, and the
 * budgets report. The per-key counts are this node's leases in each set: with no
 * Redis they are the admission itself, with Redis what /metrics shows of this node.
 */
#include "admit/admit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "kv/kv.h"
#include "log.h"

#define KEY_MAX      160
#define KEY_NONE     "trunx:{b}:none"
#define REFRESH_MAX  50    /* leases per refresh call */
#define REPORT_MAX   200   /* tenants in a report */

/* KEYS: pool, tenant, global (KEY_NONE: skip). ARGV: member, ttl ms, caps x3. */
static const char LUA_ADMIT[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local m = ARGV[1]\n"
	"local exp = now + tonumber(ARGV[2])\n"
	"local names = {'pool', 'tenant', 'global'}\n"
	"for i = 1, 3 do\n"
	"  if KEYS[i] ~= '" KEY_NONE "' then\n"
	"    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)\n"
	"    local cap = tonumber(ARGV[2 + i])\n"
	"    if cap >= 0 and not redis.call('ZSCORE', KEYS[i], m) and\n"
	"       redis.call('ZCARD', KEYS[i]) >= cap then\n"
	"      return {0, names[i]}\n"
	"    end\n"
	"  end\n"
	"end\n"
	"for i = 1, 3 do\n"
	"  if KEYS[i] ~= '" KEY_NONE "' then redis.call('ZADD', KEYS[i], exp, m) end\n"
	"end\n"
	"return {1, 'ok'}\n";

/* KEYS: triplets per lease. ARGV: ttl ms, then one member per triplet. */
static const char LUA_REFRESH[] =
	"local t = redis.call('TIME')\n"
	"local exp = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])\n"
	"for i = 2, #ARGV do\n"
	"  for k = 1, 3 do\n"
	"    local key = KEYS[(i - 2) * 3 + k]\n"
	"    if key ~= '" KEY_NONE "' then redis.call('ZADD', key, exp, ARGV[i]) end\n"
	"  end\n"
	"end\n"
	"return #ARGV - 1\n";

/* KEYS: the lease's three sets. ARGV: member. */
static const char LUA_RELEASE[] =
	"local n = 0\n"
	"for i = 1, 3 do\n"
	"  if KEYS[i] ~= '" KEY_NONE "' then n = n + redis.call('ZREM', KEYS[i], ARGV[1]) end\n"
	"end\n"
	"return n\n";

/* KEYS: sets. Returns the live members of each. */
static const char LUA_REPORT[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local out = {}\n"
	"for i = 1, #KEYS do out[i] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf') end\n"
	"return out\n";

enum script { S_ADMIT = 0, S_REFRESH, S_RELEASE, S_REPORT, S_N };

static const char *const scripts[S_N] = {LUA_ADMIT, LUA_REFRESH, LUA_RELEASE, LUA_REPORT};

struct lease {
	struct lease *next;            /**< bucket chain */
	struct lease *lprev, *lnext;   /**< every lease, for the refresh */
	char          id[ADMIT_LEASE_MAX];
	char          keys[3][KEY_MAX];
	long          caps[3];
};

struct count {
	struct count *next;
	char          key[KEY_MAX];
	long          n;
};

struct admit {
	struct admit_cfg   cfg;
	struct event_base *base;
	struct kv         *kv;           /**< NULL: counters in this process */
	char               sha[S_N][41];
	struct lease     **buckets;
	size_t             n_buckets, n_leases;
	struct lease      *all;
	struct count      *counts[256];  /**< local backend */
	struct event      *refresh_ev;
	uint64_t           unavailable;  /**< refused for want of Redis since the last log */
	time_t             unavailable_logged;
};

const char *admit_verdict_name(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_OK:          return "ok";
	case ADMIT_POOL_FULL:   return "pool_full";
	case ADMIT_TENANT_CAP:  return "tenant_cap";
	case ADMIT_GLOBAL_CAP:  return "global_cap";
	case ADMIT_UNAVAILABLE: return "unavailable";
	}
	return "?";
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* ---- the lease table ---- */

static struct lease *lease_find(struct admit *a, const char *id)
{
	for (struct lease *l = a->buckets[hash(id) & (a->n_buckets - 1)]; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static void lease_grow(struct admit *a)
{
	size_t n = a->n_buckets * 2;
	struct lease **b = calloc(n, sizeof(*b));

	if (!b)
		return;   /* longer chains, still correct */
	for (struct lease *l = a->all; l; l = l->lnext) {
		size_t i = hash(l->id) & (n - 1);

		l->next = b[i];
		b[i] = l;
	}
	free(a->buckets);
	a->buckets = b;
	a->n_buckets = n;
}

static struct lease *lease_add(struct admit *a, const char *id, char keys[3][KEY_MAX],
			       const long caps[3])
{
	struct lease *l = calloc(1, sizeof(*l));
	size_t i;

	if (!l)
		return NULL;
	snprintf(l->id, sizeof(l->id), "%s", id);
	memcpy(l->keys, keys, sizeof(l->keys));
	memcpy(l->caps, caps, sizeof(l->caps));
	if (a->n_leases + 1 > a->n_buckets * 2)
		lease_grow(a);
	i = hash(id) & (a->n_buckets - 1);
	l->next = a->buckets[i];
	a->buckets[i] = l;
	l->lnext = a->all;
	if (a->all)
		a->all->lprev = l;
	a->all = l;
	a->n_leases++;
	return l;
}

static void lease_remove(struct admit *a, struct lease *l)
{
	struct lease **pp = &a->buckets[hash(l->id) & (a->n_buckets - 1)];

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	if (l->lprev)
		l->lprev->lnext = l->lnext;
	else
		a->all = l->lnext;
	if (l->lnext)
		l->lnext->lprev = l->lprev;
	a->n_leases--;
	free(l);
}

/* ---- keys ---- */

static void make_keys(const struct admit_req *r, char keys[3][KEY_MAX], long caps[3])
{
	if (r->pool[0])
		snprintf(keys[0], KEY_MAX, "trunx:{b}:pool:%s:%s", r->group[0] ? r->group : "default",
			 r->pool);
	else
		snprintf(keys[0], KEY_MAX, KEY_NONE);
	if (r->tenant[0])
		snprintf(keys[1], KEY_MAX, "trunx:{b}:tenant:%s", r->tenant);
	else
		snprintf(keys[1], KEY_MAX, KEY_NONE);
	snprintf(keys[2], KEY_MAX, "trunx:{b}:global");
	caps[0] = r->pool[0] ? r->pool_cap : -1;
	caps[1] = r->tenant[0] ? r->tenant_cap : -1;
	caps[2] = r->global_cap;
}

/* ---- the per-process backend ---- */

static struct count *count_of(struct admit *a, const char *key, bool create)
{
	size_t i = hash(key) & 255;

	for (struct count *c = a->counts[i]; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	if (!create)
		return NULL;
	{
		struct count *c = calloc(1, sizeof(*c));

		if (!c)
			return NULL;
		snprintf(c->key, sizeof(c->key), "%.*s", KEY_MAX - 1, key);
		c->next = a->counts[i];
		a->counts[i] = c;
		return c;
	}
}

static enum admit_verdict local_admit(struct admit *a, char keys[3][KEY_MAX],
				      const long caps[3])
{
	static const enum admit_verdict full[3] = {ADMIT_POOL_FULL, ADMIT_TENANT_CAP,
						   ADMIT_GLOBAL_CAP};
	struct count *c[3] = {NULL, NULL, NULL};

	for (int i = 0; i < 3; i++) {
		if (strcmp(keys[i], KEY_NONE) == 0)
			continue;
		c[i] = count_of(a, keys[i], true);
		if (!c[i])
			return ADMIT_UNAVAILABLE;
		if (caps[i] >= 0 && c[i]->n >= caps[i])
			return full[i];
	}
	for (int i = 0; i < 3; i++)
		if (c[i])
			c[i]->n++;
	return ADMIT_OK;
}

static void local_release(struct admit *a, const struct lease *l)
{
	for (int i = 0; i < 3; i++) {
		struct count *c = strcmp(l->keys[i], KEY_NONE) ? count_of(a, l->keys[i], false) : NULL;

		if (c && c->n > 0)
			c->n--;
	}
}

/* Redis backend: this node's count of a granted lease in each of its sets. */
static void node_take(struct admit *a, char keys[3][KEY_MAX])
{
	for (int i = 0; i < 3; i++) {
		struct count *c = strcmp(keys[i], KEY_NONE) ? count_of(a, keys[i], true) : NULL;

		if (c)
			c->n++;
	}
}

/* ---- scripts ---- */

struct call {
	struct admit *a;
	enum script   s;
	int           argc;
	char        **argv;
	size_t       *lens;
	void        (*done)(int err, redisReply *r, void *arg);
	void         *arg;
	bool          retried;   /**< sent again with EVAL after NOSCRIPT */
};

static void call_free(struct call *c)
{
	/* argv is NULL when its allocation failed in script(): argc is already set */
	for (int i = 0; c->argv && i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->lens);
	free(c);
}

static void on_script(int err, redisReply *r, void *arg);

static int call_send(struct call *c, bool eval)
{
	free(c->argv[0]);
	free(c->argv[1]);
	c->argv[0] = strdup(eval ? "EVAL" : "EVALSHA");
	c->argv[1] = strdup(eval ? scripts[c->s] : c->a->sha[c->s]);
	if (!c->argv[0] || !c->argv[1])
		return ENOMEM;
	c->lens[0] = strlen(c->argv[0]);
	c->lens[1] = strlen(c->argv[1]);
	return kv_command(c->a->kv, on_script, c, c->argc, (const char **)c->argv, c->lens);
}

static void on_script(int err, redisReply *r, void *arg)
{
	struct call *c = arg;

	if (!err && r->type == REDIS_REPLY_ERROR && !c->retried &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		c->retried = true;
		if (call_send(c, true) == 0)
			return;
		err = ENOTCONN;
	}
	c->done(err, err ? NULL : r, c->arg);
	call_free(c);
}

/* Runs a script: keys then args (all strings). */
static int script(struct admit *a, enum script s, int nkeys, char *const *keys, int nargs,
		  char *const *args, void (*done)(int, redisReply *, void *), void *arg)
{
	struct call *c;
	char nk[16];
	int err;

	if (!a->kv || !kv_up(a->kv))
		return ENOTCONN;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->a = a;
	c->s = s;
	c->done = done;
	c->arg = arg;
	c->argc = 3 + nkeys + nargs;
	c->argv = calloc((size_t)c->argc, sizeof(*c->argv));
	c->lens = calloc((size_t)c->argc, sizeof(*c->lens));
	if (!c->argv || !c->lens)
		goto nomem;
	c->argv[0] = strdup("");
	c->argv[1] = strdup("");
	snprintf(nk, sizeof(nk), "%d", nkeys);
	c->argv[2] = strdup(nk);
	for (int i = 0; i < nkeys; i++)
		c->argv[3 + i] = strdup(keys[i]);
	for (int i = 0; i < nargs; i++)
		c->argv[3 + nkeys + i] = strdup(args[i]);
	for (int i = 0; i < c->argc; i++) {
		if (!c->argv[i])
			goto nomem;
		c->lens[i] = strlen(c->argv[i]);
	}
	err = call_send(c, false);
	if (err)
		call_free(c);
	return err;
nomem:
	call_free(c);
	return ENOMEM;
}

/* ---- admission ---- */

struct pending {
	struct admit *a;
	admit_done_h *h;
	void         *arg;
	char          id[ADMIT_LEASE_MAX];
	char          keys[3][KEY_MAX];
	long          caps[3];
};

static void note_unavailable(struct admit *a, const char *why)
{
	time_t now = time(NULL);

	a->unavailable++;
	if (now == a->unavailable_logged)
		return;
	log_msg(LOG_WARN, "admission.unavailable", "new calls refused (503): Redis %s "
		"(%llu refused since the last line)", why, (unsigned long long)a->unavailable);
	a->unavailable = 0;
	a->unavailable_logged = now;
}

static void on_admit(int err, redisReply *r, void *arg)
{
	struct pending *p = arg;
	struct admit *a = p->a;
	enum admit_verdict v = ADMIT_UNAVAILABLE;

	if (err) {
		note_unavailable(a, err == ETIMEDOUT ? "did not answer in time" : "is unreachable");
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		   r->element[0]->type == REDIS_REPLY_INTEGER &&
		   r->element[1]->type == REDIS_REPLY_STRING) {
		const char *what = r->element[1]->str;

		if (r->element[0]->integer == 1)
			v = ADMIT_OK;
		else if (strcmp(what, "pool") == 0)
			v = ADMIT_POOL_FULL;
		else if (strcmp(what, "tenant") == 0)
			v = ADMIT_TENANT_CAP;
		else if (strcmp(what, "global") == 0)
			v = ADMIT_GLOBAL_CAP;
	} else {
		log_msg(LOG_ERROR, "admission.error", "unexpected answer from Redis: %s",
			r->type == REDIS_REPLY_ERROR ? r->str : "(not the script's)");
	}
	if (v == ADMIT_OK && !lease_find(a, p->id)) {
		if (!lease_add(a, p->id, p->keys, p->caps))
			log_msg(LOG_ERROR, "admission.error", "out of memory: lease %s is not "
				"refreshed", p->id);
		else
			node_take(a, p->keys);
	}
	p->h(v, p->arg);
	free(p);
}

void admit_request(struct admit *a, const struct admit_req *req, admit_done_h *h, void *arg)
{
	char keys[3][KEY_MAX], member[KEY_MAX], ttl[24], caps_s[3][24];
	char *kp[3], *args[5];
	long caps[3];
	struct pending *p;
	int err;

	make_keys(req, keys, caps);
	if (!a->kv) {
		enum admit_verdict v = local_admit(a, keys, caps);

		if (v == ADMIT_OK && !lease_add(a, req->lease, keys, caps)) {
			/* Not recorded: undo the counts it took. */
			struct lease tmp;

			memcpy(tmp.keys, keys, sizeof(tmp.keys));
			local_release(a, &tmp);
			v = ADMIT_UNAVAILABLE;
		}
		h(v, arg);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		h(ADMIT_UNAVAILABLE, arg);
		return;
	}
	p->a = a;
	p->h = h;
	p->arg = arg;
	snprintf(p->id, sizeof(p->id), "%s", req->lease);
	memcpy(p->keys, keys, sizeof(p->keys));
	memcpy(p->caps, caps, sizeof(p->caps));
	snprintf(member, sizeof(member), "%s|%s", a->cfg.node_id, req->lease);
	snprintf(ttl, sizeof(ttl), "%u", a->cfg.lease_ttl_s * 1000u);
	for (int i = 0; i < 3; i++) {
		snprintf(caps_s[i], sizeof(caps_s[i]), "%ld", caps[i] < 0 ? -1L : caps[i]);
		kp[i] = keys[i];
	}
	args[0] = member;
	args[1] = ttl;
	args[2] = caps_s[0];
	args[3] = caps_s[1];
	args[4] = caps_s[2];
	err = script(a, S_ADMIT, 3, kp, 5, args, on_admit, p);
	if (err) {
		note_unavailable(a, err == ENOTCONN ? "is unreachable" : "cannot be asked");
		free(p);
		h(ADMIT_UNAVAILABLE, arg);
	}
}

static void on_release(int err, redisReply *r, void *arg)
{
	(void)r;
	(void)arg;
	if (err && err != ESHUTDOWN)
		log_msg(LOG_DEBUG, "admission.release", "a release did not reach Redis (%s): the "
			"lease expires by itself", strerror(err));
}

void admit_release(struct admit *a, const char *lease)
{
	struct lease *l = lease ? lease_find(a, lease) : NULL;
	char member[KEY_MAX];
	char *kp[3], *args[1] = {member};

	if (!l)
		return;
	local_release(a, l);   /* the admission's counts, or (Redis) this node's view */
	if (a->kv) {
		snprintf(member, sizeof(member), "%s|%s", a->cfg.node_id, l->id);
		for (int i = 0; i < 3; i++)
			kp[i] = l->keys[i];
		script(a, S_RELEASE, 3, kp, 1, args, on_release, NULL);
	}
	lease_remove(a, l);
}

/* ---- refresh ---- */

static void on_refresh(int err, redisReply *r, void *arg)
{
	(void)r;
	(void)arg;
	if (err && err != ESHUTDOWN)
		log_msg(LOG_DEBUG, "admission.refresh", "a lease refresh failed: %s", strerror(err));
}

static void refresh_all(struct admit *a)
{
	char *kp[3 * REFRESH_MAX], *args[1 + REFRESH_MAX];
	char members[REFRESH_MAX][KEY_MAX], ttl[24];
	struct lease *l = a->all;

	if (!a->kv || !kv_up(a->kv))
		return;
	snprintf(ttl, sizeof(ttl), "%u", a->cfg.lease_ttl_s * 1000u);
	args[0] = ttl;
	while (l) {
		int n = 0;

		for (; l && n < REFRESH_MAX; l = l->lnext, n++) {
			snprintf(members[n], KEY_MAX, "%s|%s", a->cfg.node_id, l->id);
			args[1 + n] = members[n];
			for (int k = 0; k < 3; k++)
				kp[3 * n + k] = l->keys[k];
		}
		if (script(a, S_REFRESH, 3 * n, kp, 1 + n, args, on_refresh, NULL) != 0)
			return;
	}
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	refresh_all(arg);
}

static void on_kv_state(bool up, void *arg)
{
	struct admit *a = arg;

	if (up) {
		log_msg(LOG_INFO, "admission.available", "admission through Redis available; "
			"refreshing %zu leases", a->n_leases);
		refresh_all(a);   /* Redis may have lost them (a restart): put them back */
	}
}

/* ---- report ---- */

struct report {
	struct admit   *a;
	admit_report_h *h;
	void           *arg;
	json_t         *pools, *tenants, *global;   /**< entries waiting for their "used" */
	size_t          n_keys;
};

static json_t *report_base(struct admit *a)
{
	return json_pack("{s:s,s:s,s:s,s:i,s:I}", "backend", a->kv ? "redis" : "local",
			 "redis", !a->kv ? "-" : kv_up(a->kv) ? "up" : "down",
			 "node_id", a->cfg.node_id, "lease_ttl", (int)a->cfg.lease_ttl_s,
			 "leases", (json_int_t)a->n_leases);
}

static void report_finish(struct report *rp, json_t *counts)
{
	json_t *o = report_base(rp->a), *e;
	size_t i, k = 0;
	char *s;

	json_array_foreach(rp->pools, i, e)
		json_object_set(e, "used", counts ? json_array_get(counts, k++) : json_null());
	json_object_set(rp->global, "used", counts ? json_array_get(counts, k++) : json_null());
	json_array_foreach(rp->tenants, i, e)
		json_object_set(e, "used", counts ? json_array_get(counts, k++) : json_null());
	json_object_set_new(o, "pools", rp->pools);
	json_object_set_new(o, "global", rp->global);
	json_object_set_new(o, "tenants", rp->tenants);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rp->h(s, rp->arg);
	free(rp);
}

static void on_report(int err, redisReply *r, void *arg)
{
	struct report *rp = arg;
	json_t *counts = NULL;

	if (!err && r->type == REDIS_REPLY_ARRAY && r->elements == rp->n_keys) {
		counts = json_array();
		for (size_t i = 0; i < r->elements; i++)
			json_array_append_new(counts, json_integer(r->element[i]->type ==
				REDIS_REPLY_INTEGER ? (json_int_t)r->element[i]->integer : -1));
	}
	report_finish(rp, counts);
	json_decref(counts);
}

static long local_used(struct admit *a, const char *key)
{
	struct count *c = count_of(a, key, false);

	return c ? c->n : 0;
}

void admit_report(struct admit *a, const struct route_table *rt, admit_report_h *h, void *arg)
{
	struct report *rp = calloc(1, sizeof(*rp));
	const struct route_settings *st = route_table_settings(rt);
	char (*keys)[KEY_MAX] = NULL;
	char **kp = NULL;
	size_t np = route_table_pool_count(rt), nt = route_table_tenant_count(rt);

	if (!rp) {
		h(NULL, arg);
		return;
	}
	if (nt > REPORT_MAX)
		nt = REPORT_MAX;
	rp->a = a;
	rp->h = h;
	rp->arg = arg;
	rp->pools = json_array();
	rp->tenants = json_array();
	rp->global = json_pack("{s:I}", "cap", st && st->global_max_calls ?
			       (json_int_t)st->global_max_calls : (json_int_t)-1);
	keys = calloc(np + nt + 1, sizeof(*keys));
	kp = calloc(np + nt + 1, sizeof(*kp));
	if (!keys || !kp || !rp->pools || !rp->tenants || !rp->global) {
		free(keys);
		free(kp);
		report_finish(rp, NULL);
		return;
	}
	for (size_t i = 0; i < np; i++) {
		const struct pool_cfg *p = route_table_pool_at(rt, i);

		snprintf(keys[rp->n_keys], KEY_MAX, "trunx:{b}:pool:%s:%s", p->group, p->pool);
		json_array_append_new(rp->pools, json_pack("{s:s,s:s,s:I}", "group", p->group,
			"pool", p->pool, "channels", (json_int_t)p->channels));
		rp->n_keys++;
	}
	snprintf(keys[rp->n_keys++], KEY_MAX, "trunx:{b}:global");
	for (size_t i = 0; i < nt; i++) {
		const struct tenant_cfg *t = route_table_tenant_at(rt, i);
		long cap = t->max_calls >= 0 ? t->max_calls :
			   st && st->tenant_max_calls ? (long)st->tenant_max_calls : -1;

		snprintf(keys[rp->n_keys++], KEY_MAX, "trunx:{b}:tenant:%s", t->id);
		json_array_append_new(rp->tenants, json_pack("{s:s,s:I}", "tenant", t->id,
							     "cap", (json_int_t)cap));
	}
	for (size_t i = 0; i < rp->n_keys; i++)
		kp[i] = keys[i];
	if (!a->kv) {
		json_t *counts = json_array();

		for (size_t i = 0; i < rp->n_keys; i++)
			json_array_append_new(counts, json_integer(local_used(a, keys[i])));
		report_finish(rp, counts);
		json_decref(counts);
	} else if (script(a, S_REPORT, (int)rp->n_keys, kp, 0, NULL, on_report, rp) != 0) {
		report_finish(rp, NULL);
	}
	free(keys);
	free(kp);
}

void admit_node_use(struct admit *a, const struct route_table *rt, admit_use_h *h,
		    void *arg)
{
	const struct route_settings *st = rt ? route_table_settings(rt) : NULL;
	size_t np = rt ? route_table_pool_count(rt) : 0, nt = rt ? route_table_tenant_count(rt) : 0;
	char key[KEY_MAX];
	struct admit_use u;

	if (!a || !rt)
		return;
	for (size_t i = 0; i < np; i++) {
		const struct pool_cfg *p = route_table_pool_at(rt, i);

		snprintf(key, sizeof(key), "trunx:{b}:pool:%s:%s", p->group, p->pool);
		u = (struct admit_use){.scope = "pool", .group = p->group, .pool = p->pool,
				       .used = local_used(a, key), .cap = (long)p->channels};
		h(&u, arg);
	}
	u = (struct admit_use){.scope = "global", .used = local_used(a, "trunx:{b}:global"),
			       .cap = st && st->global_max_calls ? (long)st->global_max_calls : -1};
	h(&u, arg);
	for (size_t i = 0; i < nt; i++) {
		const struct tenant_cfg *t = route_table_tenant_at(rt, i);
		long cap = t->max_calls >= 0 ? t->max_calls :
			   st && st->tenant_max_calls ? (long)st->tenant_max_calls : -1;

		snprintf(key, sizeof(key), "trunx:{b}:tenant:%s", t->id);
		u = (struct admit_use){.scope = "tenant", .tenant = t->id,
				       .used = local_used(a, key), .cap = cap};
		if (u.cap >= 0 || u.used > 0)
			h(&u, arg);
	}
}

/* ---- life cycle ---- */

int admit_create(struct admit **ap, struct event_base *base, const struct admit_cfg *cfg)
{
	struct admit *a;
	int err = 0;

	if (!ap || !base || !cfg || cfg->lease_ttl_s < 2)
		return EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->cfg = *cfg;
	a->base = base;
	a->n_buckets = 1024;
	a->buckets = calloc(a->n_buckets, sizeof(*a->buckets));
	if (!a->buckets) {
		free(a);
		return ENOMEM;
	}
	for (int s = 0; s < S_N; s++) {
		unsigned char md[SHA_DIGEST_LENGTH];

		SHA1((const unsigned char *)scripts[s], strlen(scripts[s]), md);
		for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
			snprintf(a->sha[s] + 2 * i, 3, "%02x", md[i]);
	}
	if (cfg->redis_url[0]) {
		struct kv_cfg kc = {0};

		snprintf(kc.url, sizeof(kc.url), "%s", cfg->redis_url);
		kc.timeout_ms = cfg->timeout_ms;
		err = kv_create(&a->kv, base, &kc, on_kv_state, a);
		if (!err) {
			struct timeval tv = {cfg->lease_ttl_s / 3 ? cfg->lease_ttl_s / 3 : 1, 0};

			if (cfg->lease_ttl_s < 3)
				tv.tv_sec = 0, tv.tv_usec = 500000;
			a->refresh_ev = event_new(base, -1, EV_PERSIST, on_refresh_timer, a);
			if (!a->refresh_ev || event_add(a->refresh_ev, &tv) != 0)
				err = ENOMEM;
		}
	}
	if (err) {
		admit_destroy(a);
		return err;
	}
	*ap = a;
	return 0;
}

int admit_start(struct admit *a)
{
	return a && a->kv ? kv_start(a->kv) : 0;
}

void admit_destroy(struct admit *a)
{
	if (!a)
		return;
	if (a->refresh_ev)
		event_free(a->refresh_ev);
	kv_destroy(a->kv);   /* answers what is in flight (ESHUTDOWN) */
	while (a->all)
		lease_remove(a, a->all);
	for (int i = 0; i < 256; i++) {
		while (a->counts[i]) {
			struct count *c = a->counts[i];

			a->counts[i] = c->next;
			free(c);
		}
	}
	free(a->buckets);
	free(a);
}

size_t admit_leases(const struct admit *a)
{
	return a ? a->n_leases : 0;
}

bool admit_available(const struct admit *a)
{
	return a && (!a->kv || kv_up(a->kv));
}
