/*
 * api_res.c — the generic resource handlers: list (cursor, filters), get, create,
 * update, delete over a resource description (api_fields.c), as parameterised SQL on
 * the API's own Postgres connection. Tenant isolation lives here: a tenant's key only
 * ever reaches rows whose tenant is its own, so another tenant's object answers 404
 * exactly like one that does not exist.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

#define SQL_MAX  8192
#define P_MAX    48

/* A statement under construction: text and parameters ($1...). */
struct stmt {
	char   sql[SQL_MAX];
	size_t len;
	bool   overflow;
	int    n;
	char  *p[P_MAX];      /**< owned; NULL = SQL NULL */
};

static void s_add(struct stmt *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_add(struct stmt *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->sql + s->len, sizeof(s->sql) - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(s->sql) - s->len)
		s->overflow = true;
	else
		s->len += (size_t)n;
}

/* Adds a parameter (copied; NULL = SQL NULL); returns its number, or 0 when full. */
static int s_param(struct stmt *s, const char *v)
{
	if (s->n >= P_MAX) {
		s->overflow = true;
		return 0;
	}
	s->p[s->n] = v ? strdup(v) : NULL;
	if (v && !s->p[s->n])
		s->overflow = true;
	return ++s->n;
}

static void s_free(struct stmt *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->p[i]);
}

static bool tenant_scoped(const struct api_req *r, const struct api_resource *res)
{
	return !r->who.operator_ && res->tenancy != AT_NONE;
}

/* " AND t.<tenant column> = $n" for a tenant's key. */
static void s_tenant(struct stmt *s, const struct api_req *r, const struct api_resource *res)
{
	if (!tenant_scoped(r, res))
		return;
	s_add(s, " AND t.%s = $%d", res->tenancy == AT_SELF ? "id" : "tenant_id",
	      s_param(s, r->who.tenant));
}

/* jsonb_build_object('name', t.col, ...) of the readable fields. */
static void s_object(struct stmt *s, const struct api_resource *res)
{
	bool first = true;

	s_add(s, "jsonb_build_object(");
	for (size_t i = 0; i < res->n_fields; i++) {
		const struct api_field *f = &res->fields[i];

		if ((f->flags & AF_SECRET) || !f->column[0])
			continue;
		s_add(s, "%s'%s', t.%s", first ? "" : ", ", f->name, f->column);
		first = false;
	}
	s_add(s, ")::text");
}

/* The SQL value of a JSON value for field f: "$n::cast" or an array expression. */
static void s_value(struct stmt *s, const struct api_field *f, json_t *v)
{
	char num[32];
	char *dump;
	int n;

	if (json_is_null(v)) {
		s_add(s, "NULL");
		return;
	}
	switch (f->type) {
	case AF_STRING:
		s_add(s, "$%d::%s", s_param(s, json_string_value(v)), f->cast);
		return;
	case AF_INT:
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s_add(s, "$%d::%s", s_param(s, num), f->cast);
		return;
	case AF_BOOL:
		s_add(s, "$%d::boolean", s_param(s, json_is_true(v) ? "true" : "false"));
		return;
	case AF_STRARRAY:
	case AF_OBJECT:
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		n = s_param(s, dump ? dump : "null");
		free(dump);
		if (f->type == AF_OBJECT)
			s_add(s, "$%d::jsonb", n);
		else
			s_add(s, "ARRAY(SELECT jsonb_array_elements_text($%d::jsonb))::%s", n,
			      f->cast);
		return;
	}
}

static bool key_ok(const struct api_resource *res, const char *key)
{
	struct api_err e;
	json_t *v;
	bool ok;

	if (strcmp(res->key_cast, "uuid") != 0)
		return key[0] != 0;
	v = json_string(key);
	ok = v && api_field_check(&(struct api_field){"id", AF_STRING, "", "", 0, AC_UUID,
						      0, 0, NULL, ""}, v, &e) == 0;
	json_decref(v);
	return ok;
}

static int s_run(struct api_req *r, struct stmt *s, db_result_h *h)
{
	int err;

	if (s->overflow) {
		s_free(s);
		api_fail(r, 500, "internal", "statement too long");
		return EINVAL;
	}
	err = db_query(api_db(r->api), s->sql, s->n, (const char *const *)s->p, 0, h, r);
	s_free(s);
	if (err) {
		api_reply_db_err(r, err, NULL, NULL);
		return err;
	}
	return 0;
}

/* ---- list ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The cursor is the hex of the last key of the previous page. */
static int cursor_decode(const char *hex, char *out, size_t outlen)
{
	size_t n = strlen(hex);

	if (n == 0 || n % 2 || n / 2 >= outlen)
		return EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int h = hexval(hex[2 * i]), l = hexval(hex[2 * i + 1]);

		if (h < 0 || l < 0 || (h == 0 && l == 0))
			return EINVAL;
		out[i] = (char)(h * 16 + l);
	}
	out[n / 2] = 0;
	return 0;
}

struct list_state {
	long limit;
};

static void on_list(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;
	long limit = (long)(intptr_t)r->state;
	json_t *data, *o;
	int rows;

	(void)more;
	if (err) {
		api_reply_db_err(r, err, res, msg);
		return;
	}
	rows = PQntuples(res);
	data = json_array();
	for (int i = 0; i < rows && i < limit; i++) {
		json_t *x = json_loads(PQgetvalue(res, i, 0), 0, NULL);

		if (x)
			json_array_append_new(data, x);
	}
	o = json_pack("{s:o}", "data", data);
	if (rows > limit) {
		const char *k = PQgetvalue(res, (int)limit - 1, 1);
		size_t n = strlen(k);
		char *hex = malloc(2 * n + 1);

		for (size_t i = 0; hex && i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)k[i]);
		if (hex)
			hex[2 * n] = 0;
		json_object_set_new(o, "next_cursor", hex ? json_string(hex) : json_null());
		free(hex);
	} else {
		json_object_set_new(o, "next_cursor", json_null());
	}
	api_reply(r, 200, o);
}

void api_h_list(struct api_req *r)
{
	const struct api_resource *res = r->route->res;
	struct stmt *s = calloc(1, sizeof(*s));
	long limit = API_PAGE_DEFAULT;
	struct evkeyval *kv;
	struct api_err e = {0};

	if (!s) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	s_add(s, "SELECT ");
	s_object(s, res);
	s_add(s, ", t.%s::text FROM %s t WHERE true", res->key, res->table);
	s_tenant(s, r, res);
	if (r->query_parsed) {
		for (kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
			const struct api_field *f = NULL;

			if (strcmp(kv->key, "limit") == 0) {
				char *end;

				limit = strtol(kv->value, &end, 10);
				if (!kv->value[0] || *end || limit < 1 || limit > API_PAGE_MAX) {
					s_free(s);
					free(s);
					api_fail(r, 400, "invalid_query", "limit: 1 to %d",
						 API_PAGE_MAX);
					return;
				}
				continue;
			}
			if (strcmp(kv->key, "cursor") == 0) {
				char key[256];

				if (cursor_decode(kv->value, key, sizeof(key)) ||
				    !key_ok(res, key)) {
					s_free(s);
					free(s);
					api_fail(r, 400, "invalid_cursor", "cursor: not one this "
						 "API gave");
					return;
				}
				s_add(s, " AND t.%s > $%d::%s", res->key, s_param(s, key),
				      res->key_cast);
				continue;
			}
			for (size_t i = 0; i < res->n_fields; i++)
				if ((res->fields[i].flags & AF_FILTER) &&
				    strcmp(res->fields[i].name, kv->key) == 0)
					f = &res->fields[i];
			if (!f) {
				s_free(s);
				free(s);
				api_fail(r, 400, "invalid_query", "unknown query parameter: %.64s",
					 kv->key);
				return;
			}
			{
				json_t *v = json_string(kv->value);
				int bad = !v || api_field_check(f, v, &e);

				json_decref(v);
				if (bad) {
					s_free(s);
					free(s);
					e.status = 400;
					snprintf(e.code, sizeof(e.code), "invalid_query");
					api_reply_err(r, &e);
					return;
				}
			}
			s_add(s, " AND t.%s = $%d::%s", f->column, s_param(s, kv->value),
			      f->cast);
		}
	}
	s_add(s, " ORDER BY t.%s LIMIT %ld", res->key, limit + 1);
	r->state = (void *)(intptr_t)limit;
	s_run(r, s, on_list);
	free(s);
}

/* ---- get / create / update / delete ---- */

static void on_one(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;
	json_t *o;

	(void)more;
	if (err) {
		api_reply_db_err(r, err, res, msg);
		return;
	}
	if (PQntuples(res) < 1) {
		api_fail(r, 404, "not_found", "no such object");
		return;
	}
	o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!o) {
		api_fail(r, 500, "internal", "unreadable row");
		return;
	}
	if (PQnfields(res) > 1 && !PQgetisnull(res, 0, 1)) {
		char *hashes = strdup(PQgetvalue(res, 0, 1)), *save = NULL;

		for (char *h = hashes ? strtok_r(hashes, ",", &save) : NULL; h;
		     h = strtok_r(NULL, ",", &save))
			api_auth_forget(api_auth_of(r->api), h);
		free(hashes);
	}
	api_reply(r, r->route->status, o);
}

void api_h_get(struct api_req *r)
{
	const struct api_resource *res = r->route->res;
	struct stmt *s;

	if (!key_ok(res, r->params[0])) {
		api_fail(r, 404, "not_found", "no such object");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	s_add(s, "SELECT ");
	s_object(s, res);
	s_add(s, " FROM %s t WHERE t.%s = $%d::%s", res->table, res->key,
	      s_param(s, r->params[0]), res->key_cast);
	s_tenant(s, r, res);
	s_run(r, s, on_one);
	free(s);
}

/* Decodes the body for a create or an update; replies and returns EINVAL on error. */
static int decode(struct api_req *r, enum api_jmode mode)
{
	const struct api_resource *res = r->route->res;
	struct api_err e = {0};
	char *buf;
	size_t len;

	if (api_body(r, &buf, &len)) {
		api_fail(r, 503, "unavailable", "out of memory");
		return ENOMEM;
	}
	if (api_json_decode(buf, len, res->fields, res->n_fields, mode, r->who.operator_,
			    &r->body, &e)) {
		free(buf);
		api_reply_err(r, &e);
		return EINVAL;
	}
	free(buf);
	return 0;
}

static const struct api_field *field_of(const struct api_resource *res, const char *name)
{
	for (size_t i = 0; i < res->n_fields; i++)
		if (strcmp(res->fields[i].name, name) == 0)
			return &res->fields[i];
	return NULL;
}

void api_h_create(struct api_req *r)
{
	const struct api_resource *res = r->route->res;
	struct stmt *s;
	const char *k;
	json_t *v;
	bool first = true;
	bool own = tenant_scoped(r, res) && res->tenancy != AT_SELF;

	if (decode(r, AJ_CREATE))
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	s_add(s, "INSERT INTO %s AS t (", res->table);
	json_object_foreach(r->body, k, v) {
		s_add(s, "%s%s", first ? "" : ", ", field_of(res, k)->column);
		first = false;
	}
	if (own) {
		s_add(s, "%stenant_id", first ? "" : ", ");
		first = false;
	}
	if (first) {
		s->len = 0;
		s_add(s, "INSERT INTO %s AS t DEFAULT VALUES", res->table);
	} else {
		s_add(s, ") VALUES (");
		first = true;
		json_object_foreach(r->body, k, v) {
			s_add(s, "%s", first ? "" : ", ");
			s_value(s, field_of(res, k), v);
			first = false;
		}
		if (own)
			s_add(s, "%s$%d", first ? "" : ", ", s_param(s, r->who.tenant));
		s_add(s, ")");
	}
	s_add(s, " RETURNING ");
	s_object(s, res);
	s_run(r, s, on_one);
	free(s);
}

void api_h_update(struct api_req *r)
{
	const struct api_resource *res = r->route->res;
	struct stmt *s;
	const char *k;
	json_t *v;
	bool first = true;

	if (!key_ok(res, r->params[0])) {
		api_fail(r, 404, "not_found", "no such object");
		return;
	}
	if (decode(r, AJ_UPDATE))
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	s_add(s, "UPDATE %s t SET ", res->table);
	json_object_foreach(r->body, k, v) {
		s_add(s, "%s%s = ", first ? "" : ", ", field_of(res, k)->column);
		s_value(s, field_of(res, k), v);
		first = false;
	}
	if (res->tenancy != AT_OPTIONAL && strcmp(res->table, "outbound_routes") != 0)
		s_add(s, ", updated_at = now()");
	s_add(s, " WHERE t.%s = $%d::%s", res->key, s_param(s, r->params[0]), res->key_cast);
	s_tenant(s, r, res);
	s_add(s, " RETURNING ");
	s_object(s, res);
	if (res->tenancy == AT_SELF)   /* its keys' cached copies are read again */
		s_add(s, ", (SELECT string_agg(k.key_hash, ',') FROM api_keys k WHERE "
		      "k.tenant_id = t.id)");
	s_run(r, s, on_one);
	free(s);
}

static void on_keys_gone(void *arg)
{
	api_reply(arg, 204, NULL);
}

static void on_deleted(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;

	(void)more;
	if (err) {
		api_reply_db_err(r, err, res, msg);
		return;
	}
	if (PQntuples(res) < 1) {
		api_fail(r, 404, "not_found", "no such object");
		return;
	}
	/* A tenant's keys went with it (ON DELETE CASCADE): forget their cached copies;
	 * the answer waits for the last publish (Redis takes them in order). */
	if (PQnfields(res) > 1 && !PQgetisnull(res, 0, 1)) {
		char *hashes = strdup(PQgetvalue(res, 0, 1)), *save = NULL, *next;
		char *h = hashes ? strtok_r(hashes, ",", &save) : NULL;

		for (; h; h = next) {
			next = strtok_r(NULL, ",", &save);
			api_auth_invalidate(api_auth_of(r->api), h, r->id, next ? NULL : on_keys_gone,
					    next ? NULL : r);
			if (!next) {
				free(hashes);
				return;
			}
		}
		free(hashes);
	}
	api_reply(r, 204, NULL);
}

void api_h_delete(struct api_req *r)
{
	const struct api_resource *res = r->route->res;
	struct stmt *s;

	if (!key_ok(res, r->params[0])) {
		api_fail(r, 404, "not_found", "no such object");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	s_add(s, "DELETE FROM %s t WHERE t.%s = $%d::%s", res->table, res->key,
	      s_param(s, r->params[0]), res->key_cast);
	s_tenant(s, r, res);
	s_add(s, " RETURNING 1");
	if (res->tenancy == AT_SELF)
		s_add(s, ", (SELECT string_agg(k.key_hash, ',') FROM api_keys k WHERE "
		      "k.tenant_id = t.id)");
	s_run(r, s, on_deleted);
	free(s);
}
