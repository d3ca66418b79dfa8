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
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include "db/db.h"
#include "kv/kv.h"
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
	struct api      *api;
	struct fail_slot slots[FAIL_SLOTS];
};

struct lookup {
	struct api_auth *au;
	struct api_req  *r;
	api_auth_h      *h;
	char             hash[65];
};

int api_auth_create(struct api_auth **ap, struct api *a)
{
	struct api_auth *au = calloc(1, sizeof(*au));

	if (!au)
		return ENOMEM;
	au->api = a;
	*ap = au;
	return 0;
}

void api_auth_destroy(struct api_auth *au)
{
	free(au);
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

/* Seconds until the source may try again, or 0. */
static unsigned limited(struct api_auth *au, const char *addr)
{
	struct fail_slot *s = slot_of(au, addr);
	time_t now = time(NULL);

	if (strcmp(s->addr, addr) != 0 || now - s->start >= FAIL_WINDOW)
		return 0;
	if (s->fails < api_conf(au->api)->auth_fail_limit)
		return 0;
	return (unsigned)(FAIL_WINDOW - (now - s->start));
}

static void count_failure(struct api_auth *au, const char *addr)
{
	struct fail_slot *s = slot_of(au, addr);
	time_t now = time(NULL);

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
	granted(lk);
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
	granted(lk);
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

void api_auth_forget(struct api_auth *au, const char *key_hash)
{
	struct kv *kv = api_kv(au->api);
	char key[96];
	const char *argv[2] = {"DEL", key};
	size_t lens[2];

	if (!kv || !kv_up(kv))
		return;
	snprintf(key, sizeof(key), CACHE_PREFIX "%s", key_hash);
	lens[0] = 3;
	lens[1] = strlen(key);
	kv_command(kv, on_cache_set, NULL, 2, argv, lens);
}

void api_auth_invalidate(struct api_auth *au, const char *key_hash, const char *request_id)
{
	struct kv *kv = api_kv(au->api);
	char key[96], ttl[16];
	const char *set[5], *pub[3];
	size_t sl[5], pl[3];

	if (!kv || !kv_up(kv)) {
		struct log_rec rec;

		if (log_begin(&rec, LOG_WARN, "api.key_revoke")) {
			log_str(&rec, "request_id", request_id);
			log_fmt(&rec, "msg", "Redis is down: a cached copy of the key may live up "
				"to %u s more on nodes that cached it",
				api_conf(au->api)->key_cache_s);
			log_end(&rec);
		}
		return;
	}
	snprintf(key, sizeof(key), CACHE_PREFIX "%s", key_hash);
	snprintf(ttl, sizeof(ttl), "%u", api_conf(au->api)->key_cache_s * 2);
	set[0] = "SET"; set[1] = key; set[2] = "revoked"; set[3] = "EX"; set[4] = ttl;
	pub[0] = "PUBLISH"; pub[1] = REVOKE_CHANNEL; pub[2] = key_hash;
	for (int i = 0; i < 5; i++)
		sl[i] = strlen(set[i]);
	for (int i = 0; i < 3; i++)
		pl[i] = strlen(pub[i]);
	kv_command(kv, on_cache_set, NULL, 5, set, sl);
	kv_command(kv, on_cache_set, NULL, 3, pub, pl);
}
