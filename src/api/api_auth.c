/*
 * api_auth.c — who is calling: the bearer token of a request becomes a principal
 * (operator or tenant, and scopes). Keys are looked up by their SHA-256: first in
 * Redis (trunx:apikey:<hash> -> {"id","tenant","scopes"} for key_cache seconds, filled
 * with SET NX so that a lookup racing a revocation cannot bring a revoked key back),
 * then in Postgres. A revocation overwrites the cache entry with "revoked" and
 * publishes the hash on trunx:apikey:revoked, so it takes effect at once on every node.
 * The internal service token is accepted on the service listener only. Failed
 * attempts are counted per source address in a fixed table; past auth_fail_limit in a
 * minute the source gets 429 until the minute is over.
 *
 * In front of Redis, the node's own copy (api_keycache.c, key_local_cache_ms):
 * used only while this node's subscription to trunx:apikey:revoked is confirmed live
 * (kv_sub.c) and its Redis command connection is up; every revocation message drops
 * the entry it names, a revocation made here drops it directly, and a change of
 * liveness empties the copy. A revocation answers once Redis has taken its PUBLISH.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "api/api_conns.h"
#include "api/api_keycache.h"
#include "db/db.h"
#include "kv/kv.h"
#include "kv/kv_sub.h"
#include "log.h"

#define FAIL_SLOTS  1024
#define FAIL_WINDOW 60      /* seconds */
#define CACHE_PREFIX "trunx:apikey:"
#define REVOKE_CHANNEL "trunx:apikey:revoked"

struct fail_slot {
	char     addr[64];
	time_t   start;
	unsigned fails;
};

struct api_auth {
	struct api          *api;
	struct api_keycache *cache;
	struct kv_sub       *sub;       /**< NULL without Redis: the copy stays off */
	bool                 sub_live, kv_live;
	/* Redis answering: a PING on the command connection every fresh_ms / 4; the copy
	 * is used only within fresh_ms of the sending of the last one answered. A Redis
	 * that stops answering (frozen, not closed) makes a revocation's PUBLISH time out
	 * after the command deadline (> fresh_ms): by then no node uses its copy. */
	struct event        *ping_ev;
	uint64_t             fresh_ms, answered_sent_ms;
	bool                 pinging;
	struct fail_slot     slots[FAIL_SLOTS];
};

struct lookup {
	struct api_auth *au;
	struct api_req  *r;
	api_auth_h      *h;
	uint64_t         epoch;         /**< the copy's epoch when the lookup began */
	char             hash[65];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The copy is used while the subscription and the command connection are up and
 * Redis answered lately. */
static void update_live(struct api_auth *au)
{
	bool was = api_keycache_live(au->cache), now = au->sub_live && au->kv_live &&
		now_ms() - au->answered_sent_ms <= au->fresh_ms;

	api_keycache_set_live(au->cache, now);
	if (was != now)
		log_msg(now ? LOG_INFO : LOG_WARN, "api.key_cache", now ?
			"revocations are heard: keys answered from this node's copy" :
			"revocations may be missed: every key is checked in Redis/Postgres");
}

static void on_sub_state(bool live, void *arg)
{
	struct api_auth *au = arg;

	au->sub_live = live;
	update_live(au);
}

static void on_sub_msg(const char *payload, size_t len, void *arg)
{
	struct api_auth *au = arg;

	api_keycache_on_message(au->cache, payload, len);
}

struct ping {
	struct api_auth *au;
	uint64_t         sent_ms;
};

static void on_pong(int err, struct redisReply *r, void *arg)
{
	struct ping *p = arg;

	p->au->pinging = false;
	if (!err && r && r->type != REDIS_REPLY_ERROR && p->sent_ms > p->au->answered_sent_ms)
		p->au->answered_sent_ms = p->sent_ms;
	if (err != ESHUTDOWN)
		update_live(p->au);
	free(p);
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
	struct api_auth *au = arg;
	struct kv *kv = api_kv(au->api);
	const char *argv[1] = {"PING"};
	size_t lens[1] = {4};
	struct ping *p;

	(void)fd;
	(void)what;
	update_live(au);   /* stale now? stop using the copy */
	if (au->pinging || !kv || !kv_up(kv) || !(p = malloc(sizeof(*p))))
		return;
	p->au = au;
	p->sent_ms = now_ms();
	if (kv_command(kv, on_pong, p, 1, argv, lens) == 0)
		au->pinging = true;
	else
		free(p);
}

void api_auth_kv_state(struct api_auth *au, bool up)
{
	if (!au)
		return;
	au->kv_live = up;
	update_live(au);
}

int api_auth_create(struct api_auth **ap, struct api *a, struct event_base *base,
		    const char *redis_url, unsigned kv_timeout_ms)
{
	const struct conf_api *cfg = api_conf(a);
	struct api_auth *au = calloc(1, sizeof(*au));
	uint64_t ttl_ms = (uint64_t)cfg->key_local_cache_ms;
	int e;

	if (!au)
		return ENOMEM;
	au->api = a;
	if (ttl_ms > (uint64_t)cfg->key_cache_s * 1000)   /* never beyond Redis's copy */
		ttl_ms = (uint64_t)cfg->key_cache_s * 1000;
	e = api_keycache_create(&au->cache, cfg->key_local_cache_size ?
				cfg->key_local_cache_size : 4096, ttl_ms);
	if (!e && redis_url && redis_url[0] && ttl_ms) {
		e = kv_sub_create(&au->sub, base, redis_url, REVOKE_CHANNEL, on_sub_state,
				  on_sub_msg, au);
		au->fresh_ms = (kv_timeout_ms ? kv_timeout_ms : 1000) / 2;
		au->ping_ev = e ? NULL : event_new(base, -1, EV_PERSIST, on_ping_timer, au);
		if (!e && !au->ping_ev)
			e = ENOMEM;
	}
	if (e) {
		api_auth_destroy(au);
		return e;
	}
	*ap = au;
	return 0;
}

int api_auth_start(struct api_auth *au)
{
	struct timeval tv;

	if (!au || !au->sub)
		return 0;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)(au->fresh_ms / 4 * 1000);
	if (event_add(au->ping_ev, &tv) != 0)
		return ENOMEM;
	return kv_sub_start(au->sub);
}

void api_auth_destroy(struct api_auth *au)
{
	if (!au)
		return;
	if (au->ping_ev)
		event_free(au->ping_ev);
	kv_sub_destroy(au->sub);
	api_keycache_destroy(au->cache);
	free(au);
}

void api_auth_cache_stats(struct api_auth *au, struct api_keycache_stats *s)
{
	api_keycache_get_stats(au->cache, s);
}

bool api_principal_has(const struct api_principal *p, const char *scope)
{
	if (p->operator_)
		return true;
	for (size_t i = 0; i < p->n_scopes; i++)
		if (strcmp(p->scopes[i], scope) == 0)
			return true;
	return false;
}

static struct fail_slot *slot_of(struct api_auth *au, const char *addr)
{
	uint32_t h = 2166136261u;

	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &au->slots[h % FAIL_SLOTS];
}

/* Seconds until the source may try again, or 0. A source is an IPv4 address or an
 * IPv6 /64 (api_source_key): a host rotating its addresses through its prefix has
 * one budget, not 2^64. */
static unsigned limited(struct api_auth *au, const char *src)
{
	char addr[64];
	struct fail_slot *s;
	time_t now = time(NULL);

	api_source_key(src, addr, sizeof(addr));
	s = slot_of(au, addr);

	if (strcmp(s->addr, addr) != 0 || now - s->start >= FAIL_WINDOW)
		return 0;
	if (s->fails < api_conf(au->api)->auth_fail_limit)
		return 0;
	return (unsigned)(FAIL_WINDOW - (now - s->start));
}

static void count_failure(struct api_auth *au, const char *src)
{
	char addr[64];
	struct fail_slot *s;
	time_t now = time(NULL);

	api_source_key(src, addr, sizeof(addr));
	s = slot_of(au, addr);

	api_metrics(au->api)->auth_failed++;
	if (strcmp(s->addr, addr) != 0 || now - s->start >= FAIL_WINDOW) {
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->start = now;
		s->fails = 0;
	}
	s->fails++;
}

static void fail(struct lookup *lk, const char *code, const char *msg)
{
	struct api_err e = {0};

	count_failure(lk->au, lk->r->src);
	evhttp_add_header(evhttp_request_get_output_headers(lk->r->req), "WWW-Authenticate",
			  "Bearer realm=\"trunx\"");
	api_err_set(&e, 401, code, "%s", msg);
	lk->h(lk->r, 401, &e);
	free(lk);
}

static void unavailable(struct lookup *lk, const char *what)
{
	struct api_err e = {0};

	api_err_set(&e, 503, "unavailable", "%s is not reachable: try again", what);
	lk->h(lk->r, 503, &e);
	free(lk);
}

static void granted(struct lookup *lk)
{
	lk->r->who.authenticated = true;
	lk->h(lk->r, 0, NULL);
	free(lk);
}

/* Granted from what Redis or Postgres said: kept, unless revoked meanwhile. */
static void granted_fresh(struct lookup *lk)
{
	api_keycache_put(lk->au->cache, lk->hash, lk->epoch, &lk->r->who, now_ms());
	granted(lk);
}

/* Fills the principal from {"id","tenant","scopes"}; false if malformed. */
static bool principal_from(struct api_principal *p, json_t *o)
{
	json_t *t = json_object_get(o, "tenant"), *s = json_object_get(o, "scopes"), *x;
	const char *id = json_string_value(json_object_get(o, "id"));
	size_t i;

	if (!id || !json_is_array(s) || !(json_is_null(t) || json_is_string(t)))
		return false;
	snprintf(p->key_id, sizeof(p->key_id), "%s", id);
	p->operator_ = json_is_null(t);
	snprintf(p->tenant, sizeof(p->tenant), "%s", t && json_is_string(t) ?
		 json_string_value(t) : "");
	p->n_scopes = 0;
	json_array_foreach(s, i, x) {
		if (json_is_string(x) && p->n_scopes < API_MAX_SCOPES)
			snprintf(p->scopes[p->n_scopes++], API_SCOPE_MAX, "%s",
				 json_string_value(x));
	}
	return true;
}

static void on_cache_set(int err, struct redisReply *r, void *arg)
{
	(void)err;
	(void)r;
	(void)arg;
}

static void cache_fill(struct api_auth *au, const char *hash, const char *val)
{
	struct kv *kv = api_kv(au->api);
	char key[96], ttl[16];
	const char *argv[6];
	size_t lens[6];

	if (!kv || !kv_up(kv))
		return;
	snprintf(key, sizeof(key), CACHE_PREFIX "%s", hash);
	snprintf(ttl, sizeof(ttl), "%u", api_conf(au->api)->key_cache_s);
	argv[0] = "SET"; argv[1] = key; argv[2] = val; argv[3] = "EX"; argv[4] = ttl;
	argv[5] = "NX";
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	kv_command(kv, on_cache_set, NULL, 6, argv, lens);
}

static void on_db(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct lookup *lk = arg;
	json_t *o;

	(void)msg;
	(void)more;
	if (err) {
		unavailable(lk, "the key store (Postgres)");
		return;
	}
	if (PQntuples(res) < 1) {
		fail(lk, "invalid_token", "unknown API key");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		fail(lk, "revoked_token", "this API key was revoked");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {   /* not a failure of the caller's */
		struct api_err e = {0};

		api_err_set(&e, 403, "tenant_inactive", "the key's tenant is not active");
		lk->h(lk->r, 403, &e);
		free(lk);
		return;
	}
	o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!o || !principal_from(&lk->r->who, o)) {
		json_decref(o);
		unavailable(lk, "the key store (bad row)");
		return;
	}
	json_decref(o);
	cache_fill(lk->au, lk->hash, PQgetvalue(res, 0, 0));
	granted_fresh(lk);
}

static void from_db(struct lookup *lk)
{
	const char *p[1] = {lk->hash};
	int err = db_query(api_db(lk->au->api),
			   "SELECT json_build_object('id', k.id, 'tenant', k.tenant_id, 'scopes', "
			   "k.scopes)::text, k.revoked_at IS NOT NULL, coalesce(t.status <> "
			   "'active', false) FROM api_keys k LEFT JOIN tenants t ON t.id = "
			   "k.tenant_id WHERE k.key_hash = $1", 1, p, 0, on_db, lk);

	if (err)
		unavailable(lk, "the key store (Postgres)");
}

static void on_cache(int err, struct redisReply *rep, void *arg)
{
	struct lookup *lk = arg;
	json_t *o;

	if (err == ESHUTDOWN) {
		unavailable(lk, "the key cache");
		return;
	}
	if (err || !rep || rep->type != REDIS_REPLY_STRING) {
		from_db(lk);   /* a miss, or Redis down: Postgres decides */
		return;
	}
	if (strcmp(rep->str, "revoked") == 0) {
		fail(lk, "revoked_token", "this API key was revoked");
		return;
	}
	o = json_loads(rep->str, 0, NULL);
	if (!o || !principal_from(&lk->r->who, o)) {
		json_decref(o);
		from_db(lk);
		return;
	}
	json_decref(o);
	granted_fresh(lk);
}

void api_auth_check(struct api_auth *au, struct api_req *r, api_auth_h *h)
{
	const char *hdr = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					     "Authorization");
	const struct conf_api *cfg = api_conf(au->api);
	struct lookup *lk;
	unsigned wait = limited(au, r->src);
	const char *tok;

	if (wait) {
		struct api_err e = {0};
		char ra[16];

		api_metrics(au->api)->auth_limited++;
		snprintf(ra, sizeof(ra), "%u", wait);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", ra);
		api_err_set(&e, 429, "too_many_auth_failures",
			    "too many failed authentications from this address; retry in %u s",
			    wait);
		h(r, 429, &e);
		return;
	}
	lk = calloc(1, sizeof(*lk));
	if (!lk) {
		struct api_err e = {0};

		api_err_set(&e, 503, "unavailable", "out of memory");
		h(r, 503, &e);
		return;
	}
	lk->au = au;
	lk->r = r;
	lk->h = h;
	if (!hdr) {
		fail(lk, "missing_token", "Authorization: Bearer <API key> is required");
		return;
	}
	if (strncasecmp(hdr, "Bearer ", 7) != 0) {
		fail(lk, "invalid_token", "the Authorization scheme must be Bearer");
		return;
	}
	tok = hdr + 7;
	while (*tok == ' ')
		tok++;
	if (cfg->service_token[0] && strlen(tok) == strlen(cfg->service_token) &&
	    CRYPTO_memcmp(tok, cfg->service_token, strlen(tok)) == 0) {
		if (!r->l->service) {
			fail(lk, "invalid_token", "this token is not accepted here");
			return;
		}
		r->who.operator_ = true;
		r->who.service = true;
		snprintf(r->who.key_id, sizeof(r->who.key_id), "service");
		granted(lk);
		return;
	}
	if (!api_key_wellformed(tok)) {
		fail(lk, "invalid_token", "malformed API key");
		return;
	}
	api_key_hash(tok, lk->hash);
	if (api_keycache_live(au->cache)) {
		kv_sub_drain(au->sub);   /* a revocation already sent is applied first */
		update_live(au);         /* and Redis answered lately */
	}
	if (api_keycache_get(au->cache, lk->hash, now_ms(), &r->who)) {
		granted(lk);
		return;
	}
	lk->epoch = api_keycache_epoch(au->cache);
	if (api_kv(au->api) && kv_up(api_kv(au->api))) {
		char key[96];
		const char *argv[2] = {"GET", key};
		size_t lens[2];

		snprintf(key, sizeof(key), CACHE_PREFIX "%s", lk->hash);
		lens[0] = 3;
		lens[1] = strlen(key);
		if (kv_command(api_kv(au->api), on_cache, lk, 2, argv, lens) == 0)
			return;
	}
	from_db(lk);
}

static void publish(struct api_auth *au, const char *key_hash, kv_reply_h *h, void *arg)
{
	const char *pub[3] = {"PUBLISH", REVOKE_CHANNEL, key_hash};
	size_t pl[3] = {7, strlen(REVOKE_CHANNEL), strlen(key_hash)};
	struct kv *kv = api_kv(au->api);

	if (!kv || kv_command(kv, h, arg, 3, pub, pl) != 0) {
		if (h)
			h(ENOTCONN, NULL, arg);
	}
}

void api_auth_forget(struct api_auth *au, const char *key_hash)
{
	struct kv *kv = api_kv(au->api);
	char key[96];
	const char *argv[2] = {"DEL", key};
	size_t lens[2];

	api_keycache_invalidate(au->cache, key_hash);
	if (!kv || !kv_up(kv))
		return;
	snprintf(key, sizeof(key), CACHE_PREFIX "%s", key_hash);
	lens[0] = 3;
	lens[1] = strlen(key);
	kv_command(kv, on_cache_set, NULL, 2, argv, lens);
	publish(au, key_hash, on_cache_set, NULL);   /* other nodes drop their copies */
}

struct revoke_wait {
	void (*done)(void *arg);
	void *arg;
};

static void on_revoke_published(int err, struct redisReply *r, void *arg)
{
	struct revoke_wait *w = arg;

	(void)err;
	(void)r;
	w->done(w->arg);
	free(w);
}

void api_auth_invalidate(struct api_auth *au, const char *key_hash, const char *request_id,
			 void (*done)(void *arg), void *arg)
{
	struct kv *kv = api_kv(au->api);
	char key[96], ttl[16];
	const char *set[5];
	size_t sl[5];
	struct revoke_wait *w;

	api_keycache_invalidate(au->cache, key_hash);   /* this node: at once */
	if (!kv || !kv_up(kv)) {
		struct log_rec rec;

		if (log_begin(&rec, LOG_WARN, "api.key_revoke")) {
			log_str(&rec, "request_id", request_id);
			log_fmt(&rec, "msg", "Redis is down: a cached copy of the key may live up "
				"to %u s more on nodes that cached it",
				api_conf(au->api)->key_cache_s);
			log_end(&rec);
		}
		if (done)
			done(arg);
		return;
	}
	snprintf(key, sizeof(key), CACHE_PREFIX "%s", key_hash);
	snprintf(ttl, sizeof(ttl), "%u", api_conf(au->api)->key_cache_s * 2);
	set[0] = "SET"; set[1] = key; set[2] = "revoked"; set[3] = "EX"; set[4] = ttl;
	for (int i = 0; i < 5; i++)
		sl[i] = strlen(set[i]);
	kv_command(kv, on_cache_set, NULL, 5, set, sl);
	/* The answer waits for Redis to take the PUBLISH: by then every live subscriber
	 * has the message in its socket. */
	w = done ? malloc(sizeof(*w)) : NULL;
	if (w) {
		w->done = done;
		w->arg = arg;
		publish(au, key_hash, on_revoke_published, w);
		return;
	}
	publish(au, key_hash, on_cache_set, NULL);
	if (done)
		done(arg);
}
