/*
 * api_keys.c — creating and revoking API keys through the API. A key is shown once,
 * in the creation's answer; Postgres keeps its SHA-256. A tenant's key with
 * keys:write makes keys for its own tenant with at most its own scopes; an operator
 * makes keys for any tenant, or operator keys (no tenant_id). Revocation marks the
 * row and invalidates the cache at once (api_auth_invalidate).
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

struct key_job {
	struct api_req *r;
	char            key[API_KEY_LEN + 1];
};

static const char OBJ[] =
	"jsonb_build_object('id', id, 'tenant_id', tenant_id, 'name', name, 'scopes', scopes, "
	"'prefix', prefix, 'revoked_at', revoked_at, 'created_at', created_at)::text";

static void on_created(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct key_job *j = arg;
	struct api_req *r = j->r;
	json_t *o;

	(void)more;
	if (err) {
		memset(j->key, 0, sizeof(j->key));
		free(j);
		api_reply_db_err(r, err, res, msg);
		return;
	}
	o = PQntuples(res) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	if (o)
		json_object_set_new(o, "key", json_string(j->key));
	memset(j->key, 0, sizeof(j->key));
	free(j);
	if (!o) {
		api_fail(r, 500, "internal", "unreadable row");
		return;
	}
	api_reply(r, 201, o);
}

void api_h_keys_create(struct api_req *r)
{
	const struct api_resource *res = r->route->res;
	struct api_err e = {0};
	struct key_job *j;
	char *buf, hash[65], prefix[16], *scopes;
	const char *p[5], *tenant;
	json_t *sc, *x;
	size_t len, i;
	int err;

	if (api_body(r, &buf, &len)) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	err = api_json_decode(buf, len, res->fields, res->n_fields, AJ_CREATE,
			      r->who.operator_, &r->body, &e);
	free(buf);
	if (err) {
		api_reply_err(r, &e);
		return;
	}
	sc = json_object_get(r->body, "scopes");
	if (!r->who.operator_) {
		json_array_foreach(sc, i, x) {
			if (!api_principal_has(&r->who, json_string_value(x))) {
				api_fail(r, 403, "scope_escalation", "a key cannot grant %s, which "
					 "it does not hold", json_string_value(x));
				return;
			}
		}
		tenant = r->who.tenant;
	} else {
		tenant = json_string_value(json_object_get(r->body, "tenant_id"));
	}
	j = calloc(1, sizeof(*j));
	if (!j || api_key_generate(j->key, sizeof(j->key))) {
		free(j);
		api_fail(r, 503, "unavailable", "no key could be made");
		return;
	}
	j->r = r;
	api_key_hash(j->key, hash);
	snprintf(prefix, sizeof(prefix), "%.12s", j->key);
	scopes = sc ? json_dumps(sc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	p[0] = hash;
	p[1] = prefix;
	p[2] = json_string_value(json_object_get(r->body, "name"));
	p[2] = p[2] ? p[2] : "";
	p[3] = tenant && tenant[0] ? tenant : NULL;
	p[4] = scopes ? scopes : "[]";
	{
		char sql[768];

		snprintf(sql, sizeof(sql), "INSERT INTO api_keys (key_hash, prefix, name, "
			 "tenant_id, scopes) VALUES ($1, $2, $3, $4, ARRAY(SELECT "
			 "jsonb_array_elements_text($5::jsonb))) RETURNING %s", OBJ);
		err = db_query(api_db(r->api), sql, 5, p, 0, on_created, j);
	}
	free(scopes);
	if (err) {
		memset(j->key, 0, sizeof(j->key));
		free(j);
		api_reply_db_err(r, err, NULL, NULL);
	}
}

static void on_published(void *arg)
{
	api_reply(arg, 204, NULL);
}

static void on_revoked(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;

	(void)more;
	if (err) {
		api_reply_db_err(r, err, res, msg);
		return;
	}
	if (PQntuples(res) < 1) {
		api_fail(r, 404, "not_found", "no such key");
		return;
	}
	api_auth_invalidate(api_auth_of(r->api), PQgetvalue(res, 0, 0), r->id, on_published,
			    r);
}

void api_h_keys_revoke(struct api_req *r)
{
	const char *p[2] = {r->params[0], r->who.tenant};
	struct api_err e;
	json_t *v = json_string(r->params[0]);
	int bad = !v || api_field_check(&r->route->res->fields[0], v, &e);
	int err;

	json_decref(v);
	if (bad) {
		api_fail(r, 404, "not_found", "no such key");
		return;
	}
	/* Revoking twice answers 204 again (the row is there); the cache is reset. */
	if (r->who.operator_)
		err = db_query(api_db(r->api), "UPDATE api_keys SET revoked_at = "
			       "coalesce(revoked_at, now()) WHERE id = $1::uuid RETURNING "
			       "key_hash", 1, p, 0, on_revoked, r);
	else
		err = db_query(api_db(r->api), "UPDATE api_keys SET revoked_at = "
			       "coalesce(revoked_at, now()) WHERE id = $1::uuid AND tenant_id = "
			       "$2 RETURNING key_hash", 2, p, 0, on_revoked, r);
	if (err)
		api_reply_db_err(r, err, NULL, NULL);
}
