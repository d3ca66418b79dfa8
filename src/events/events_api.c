/*
 * events_api.c — the webhook resources over HTTP (see events.h): list, create, delete,
 * rotate the secret, list deliveries, re-drive a dead one; and the JSON answers the
 * events_http_* functions share. Every statement names the caller's tenant, so another
 * tenant's webhook or delivery is "not found", never "forbidden".
 */
#include "events/events_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "db/db.h"
#include "events/events_sign.h"
#include "http_phrase.h"
#include "log.h"

#define BODY_LIMIT 16384
#define ROTATE_GRACE_S 86400u

static const char SQL_LIST[] =
	"SELECT coalesce(json_agg(json_build_object('id', w.id, 'tenant', w.tenant_id, "
	"'url', w.url, 'types', w.types, 'description', w.description, 'enabled', w.enabled, "
	"'created_at', w.created_at) ORDER BY w.created_at, w.id), '[]')::text "
	"FROM webhooks w WHERE ($1::text IS NULL OR w.tenant_id = $1)";
static const char SQL_CREATE[] =
	"INSERT INTO webhooks (tenant_id, url, types, secrets, description) "
	"SELECT $1, $2, $3::text[], jsonb_build_array(jsonb_build_object('secret', $4::text, "
	"'expires_at', NULL)), $5 WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM tenants "
	"WHERE id = $1) RETURNING json_build_object('id', id, 'tenant', tenant_id, 'url', url, "
	"'types', types, 'description', description, 'enabled', enabled, 'created_at', "
	"created_at, 'secret', $4::text)::text";
static const char SQL_DELETE[] =
	"DELETE FROM webhooks WHERE id = $1::uuid AND ($2::text IS NULL OR tenant_id = $2) "
	"RETURNING id";
static const char SQL_ROTATE[] =
	"UPDATE webhooks SET secrets = jsonb_build_array(jsonb_build_object('secret', $3::text, "
	"'expires_at', NULL), jsonb_build_object('secret', secrets->0->>'secret', 'expires_at', "
	"extract(epoch FROM now())::bigint + $4::bigint)) WHERE id = $1::uuid AND "
	"($2::text IS NULL OR tenant_id = $2) RETURNING json_build_object('id', id, 'secret', "
	"$3::text, 'previous_expires_at', extract(epoch FROM now())::bigint + $4::bigint)::text";
static const char SQL_DELIVERIES[] =
	"SELECT (SELECT count(*) FROM webhooks WHERE id = $1::uuid AND ($2::text IS NULL OR "
	"tenant_id = $2)), coalesce((SELECT json_agg(json_build_object('id', d.id, "
	"'webhook_id', d.webhook_id, 'event_id', d.event_id, 'state', d.state, 'attempts', "
	"d.attempts, 'next_at', CASE WHEN d.state = 'pending' THEN d.next_at END, "
	"'last_status', d.last_status, 'last_error', d.last_error, 'delivered_at', "
	"d.delivered_at, 'created_at', d.created_at) ORDER BY d.id DESC) FROM (SELECT * FROM "
	"webhook_deliveries WHERE webhook_id = $1::uuid AND ($3::text IS NULL OR state = $3) "
	"AND ($4::bigint IS NULL OR id < $4::bigint) ORDER BY id DESC LIMIT 100) d), "
	"'[]')::text";
static const char SQL_REDRIVE[] =
	"WITH t AS (SELECT d.id, d.state FROM webhook_deliveries d JOIN webhooks w ON "
	"w.id = d.webhook_id WHERE d.id = $1::bigint AND ($2::text IS NULL OR "
	"w.tenant_id = $2)), u AS (UPDATE webhook_deliveries d SET state = 'pending', "
	"attempts = 0, next_at = now(), last_error = NULL, updated_at = now() FROM t "
	"WHERE d.id = t.id AND t.state = 'dead' RETURNING d.id) "
	"SELECT (SELECT state FROM t), (SELECT count(*) FROM u)";

/* ---- answers ---- */

void api_json(struct evhttp_request *req, int status, const char *json)
{
	struct evbuffer *buf = evbuffer_new();
	const char *reason = http_phrase(status);

	if (json) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
		if (buf)
			evbuffer_add_printf(buf, "%s\n", json);
	}
	evhttp_send_reply(req, status, reason, buf);
	if (buf)
		evbuffer_free(buf);
}

const char *events_request_id(struct evhttp_request *req)
{
	return req ? evhttp_find_header(evhttp_request_get_output_headers(req), "X-Request-Id") :
		     NULL;
}

/* The error object of an answer, with the request id where the API handed it over. */
static json_t *error_object(struct evhttp_request *req, const char *code, const char *msg)
{
	json_t *o = json_pack("{s:s,s:s}", "error", code, "message", msg);
	const char *rid = events_request_id(req);

	if (o && rid)
		json_object_set_new(o, "request_id", json_string(rid));
	return o;
}

void api_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
	       ...)
{
	char msg[300];
	va_list ap;
	json_t *o;
	char *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = error_object(req, code, msg);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	api_json(req, status, s ? s : "{\"error\":\"internal\",\"message\":\"out of memory\"}");
	free(s);
	json_decref(o);
}

/* A 422 naming the field at fault (as the API's own 422s do): `why` reads
 * "field: what is wrong". */
static void field_error(struct evhttp_request *req, const char *code, const char *field,
			const char *why)
{
	json_t *o = error_object(req, code, why);
	char *s;

	if (o)
		json_object_set_new(o, "field", json_string(field));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	api_json(req, 422, s ? s : "{\"error\":\"internal\",\"message\":\"out of memory\"}");
	free(s);
	json_decref(o);
}

static void why_error(struct evhttp_request *req, const char *why)
{
	char field[32];
	size_t n = strcspn(why, ":");

	snprintf(field, sizeof(field), "%.*s", (int)(n < sizeof(field) ? n : 0), why);
	field_error(req, "invalid_field", field, why);
}

/* A query's answer, with the request it answers. */
struct pending {
	struct events         *e;
	struct evhttp_request *req;
	int                    kind;
};

enum { K_LIST, K_CREATE, K_DELETE, K_ROTATE, K_DELIVERIES, K_REDRIVE };

static bool uuid_ok(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static void on_answer(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct pending *p = arg;
	struct evhttp_request *req = p->req;
	int rows;

	(void)more;
	if (err) {
		if (err == EIO && p->kind == K_CREATE && msg && strstr(msg, "check constraint"))
			field_error(req, "invalid_field", "url", "url: not accepted");
		else
			api_error(req, 503, "unavailable", "database unavailable: %s",
				  err == EIO ? "statement failed" : strerror(err));
		if (err == EIO) {
			struct log_rec rec;

			if (log_begin(&rec, LOG_WARN, "events.api")) {
				log_str(&rec, "request_id", events_request_id(req));
				log_fmt(&rec, "msg", "statement failed: %s", msg ? msg : "");
				log_end(&rec);
			}
		}
		free(p);
		return;
	}
	rows = PQntuples(res);
	switch (p->kind) {
	case K_LIST:
		{
			char *s = NULL;
			int n = asprintf(&s, "{\"data\":%s}", PQgetvalue(res, 0, 0));

			if (n < 0)
				api_error(req, 503, "unavailable", "out of memory");
			else
				api_json(req, 200, s);
			free(s);
		}
		break;
	case K_CREATE:
		if (rows == 0)
			field_error(req, "invalid_field", "tenant", "tenant: no such tenant");
		else
			api_json(req, 201, PQgetvalue(res, 0, 0));
		break;
	case K_DELETE:
		if (rows == 0)
			api_error(req, 404, "not_found", "no such webhook");
		else
			api_json(req, 204, NULL);
		break;
	case K_ROTATE:
		if (rows == 0)
			api_error(req, 404, "not_found", "no such webhook");
		else
			api_json(req, 200, PQgetvalue(res, 0, 0));
		break;
	case K_DELIVERIES:
		if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
			api_error(req, 404, "not_found", "no such webhook");
		} else {
			char *s = NULL;

			if (asprintf(&s, "{\"data\":%s}", PQgetvalue(res, 0, 1)) < 0)
				api_error(req, 503, "unavailable", "out of memory");
			else
				api_json(req, 200, s);
			free(s);
		}
		break;
	case K_REDRIVE:
		if (PQgetisnull(res, 0, 0))
			api_error(req, 404, "not_found", "no such delivery");
		else if (strcmp(PQgetvalue(res, 0, 1), "1") != 0)
			api_error(req, 409, "not_dead", "the delivery is %s, not dead",
				  PQgetvalue(res, 0, 0));
		else {
			api_json(req, 202, "{\"state\":\"pending\"}");
			hook_kick(p->e);
		}
		break;
	}
	free(p);
}

static void ask(struct events *e, struct evhttp_request *req, int kind, const char *sql,
		int n, const char *const *params)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p) {
		api_error(req, 503, "unavailable", "out of memory");
		return;
	}
	p->e = e;
	p->req = req;
	p->kind = kind;
	if (db_query(e->hook_db, sql, n, params, 0, on_answer, p) != 0) {
		free(p);
		api_error(req, 503, "unavailable", "database unavailable");
	}
}

/* ---- resources ---- */

void events_http_webhooks_list(struct events *e, struct evhttp_request *req,
			       const char *tenant)
{
	const char *p[1] = {tenant};

	ask(e, req, K_LIST, SQL_LIST, 1, p);
}

/* "{a,b}" of validated type names. */
static int types_array(json_t *types, char *out, size_t len, char *why, size_t wlen)
{
	size_t i, used = 0;
	json_t *t;

	out[used++] = '{';
	if (types && !json_is_array(types)) {
		snprintf(why, wlen, "types: an array of event types");
		return EINVAL;
	}
	json_array_foreach(types, i, t) {
		const char *s = json_string_value(t);
		struct events_types one;

		if (!s || strchr(s, ',') || events_parse_types(s, &one) != 0 || one.n != 1 ||
		    i >= EVENTS_TYPES_MAX) {
			snprintf(why, wlen, "types[%zu]: not an event type (call.answered, "
				 "call.*)", i);
			return EINVAL;
		}
		if (used + strlen(s) + 3 > len)
			return EINVAL;
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", s);
	}
	snprintf(out + used, len - used, "}");
	return 0;
}

void events_http_webhook_create(struct events *e, struct evhttp_request *req,
				const char *tenant)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char types[EVENTS_TYPES_MAX * EVENTS_TYPE_LEN + 8], secret[EVENTS_SECRET_LEN];
	char why[160] = "";
	const char *k, *url, *desc, *owner = tenant;
	json_error_t jerr;
	json_t *o, *v;

	if (n > BODY_LIMIT) {
		api_error(req, 413, "payload_too_large", "body over %d bytes", BODY_LIMIT);
		return;
	}
	o = json_loadb((const char *)evbuffer_pullup(in, -1), n, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		api_error(req, 400, "invalid_json", "the body is not a JSON object");
		return;
	}
	json_object_foreach(o, k, v) {
		if (strcmp(k, "url") && strcmp(k, "types") && strcmp(k, "description") &&
		    strcmp(k, "tenant")) {
			char uf[100];

			snprintf(uf, sizeof(uf), "unknown field: %.60s", k);
			field_error(req, "unknown_field", k, uf);
			json_decref(o);
			return;
		}
	}
	url = json_string_value(json_object_get(o, "url"));
	desc = json_string_value(json_object_get(o, "description"));
	if (!url || strlen(url) > 2000 || strlen(url) < 8) {
		snprintf(why, sizeof(why), "url: an https:// URL of at most 2000 bytes");
	} else {
		struct dial_target t;

		for (const char *c = url; !why[0] && *c; c++)
			if (*c <= ' ' || *c > '~')
				snprintf(why, sizeof(why), "url: not a URL");
		/* scheme and literal address against this node's policy */
		if (!why[0])
			dial_parse(e, url, &t, why, sizeof(why));
	}
	if (!why[0] && json_object_get(o, "description") &&
	    (!desc || strlen(desc) > 500))
		snprintf(why, sizeof(why), "description: a string of at most 500 bytes");
	if (!why[0] && json_object_get(o, "tenant")) {
		const char *t = json_string_value(json_object_get(o, "tenant"));

		if (tenant)
			snprintf(why, sizeof(why), "tenant: set by your key");
		else if (!t || !t[0] || strlen(t) > 63)
			snprintf(why, sizeof(why), "tenant: a tenant id");
		else
			owner = t;
	}
	if (!why[0])
		types_array(json_object_get(o, "types"), types, sizeof(types), why, sizeof(why));
	if (why[0]) {
		why_error(req, why);
		json_decref(o);
		return;
	}
	if (events_secret_new(secret, sizeof(secret)) != 0) {
		api_error(req, 503, "unavailable", "no randomness");
		json_decref(o);
		return;
	}
	{
		const char *p[5] = {owner, url, types, secret, desc ? desc : ""};

		ask(e, req, K_CREATE, SQL_CREATE, 5, p);
	}
	json_decref(o);
}

void events_http_webhook_delete(struct events *e, struct evhttp_request *req,
				const char *tenant, const char *id)
{
	const char *p[2] = {id, tenant};

	if (!uuid_ok(id)) {
		api_error(req, 404, "not_found", "no such webhook");
		return;
	}
	ask(e, req, K_DELETE, SQL_DELETE, 2, p);
}

void events_http_webhook_rotate(struct events *e, struct evhttp_request *req,
				const char *tenant, const char *id, unsigned grace_s)
{
	char secret[EVENTS_SECRET_LEN], grace[16];
	const char *p[4] = {id, tenant, secret, grace};

	if (!uuid_ok(id)) {
		api_error(req, 404, "not_found", "no such webhook");
		return;
	}
	if (events_secret_new(secret, sizeof(secret)) != 0) {
		api_error(req, 503, "unavailable", "no randomness");
		return;
	}
	snprintf(grace, sizeof(grace), "%u", grace_s ? grace_s : ROTATE_GRACE_S);
	ask(e, req, K_ROTATE, SQL_ROTATE, 4, p);
}

void events_http_deliveries(struct events *e, struct evhttp_request *req,
			    const char *tenant, const char *webhook_id, const char *state,
			    const char *before)
{
	const char *p[4] = {webhook_id, tenant, state, before};
	uint64_t b;

	if (!uuid_ok(webhook_id)) {
		api_error(req, 404, "not_found", "no such webhook");
		return;
	}
	if (state && strcmp(state, "pending") && strcmp(state, "delivered") &&
	    strcmp(state, "dead")) {
		api_error(req, 400, "bad_state", "state: pending, delivered or dead");
		return;
	}
	if (before && events_parse_last_id(before, &b) != 0) {
		api_error(req, 400, "bad_cursor", "before: a delivery id");
		return;
	}
	ask(e, req, K_DELIVERIES, SQL_DELIVERIES, 4, p);
}

void events_http_redrive(struct events *e, struct evhttp_request *req, const char *tenant,
			 const char *delivery_id)
{
	const char *p[2] = {delivery_id, tenant};
	uint64_t id;

	if (!delivery_id || events_parse_last_id(delivery_id, &id) != 0) {
		api_error(req, 404, "not_found", "no such delivery");
		return;
	}
	ask(e, req, K_REDRIVE, SQL_REDRIVE, 2, p);
}
