/*
 * api_openapi.c — the OpenAPI 3.1 document, generated from the route table and the
 * field tables (the same ones the router and the body decoder use), so that what is
 * documented is what is served. Also the small documents: health and "who am I".
 */
#include "api/api_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "kv/kv.h"

static json_t *field_schema(const struct api_field *f)
{
	json_t *s = json_object();

	switch (f->type) {
	case AF_STRING: json_object_set_new(s, "type", json_string("string")); break;
	case AF_INT: json_object_set_new(s, "type", json_string("integer")); break;
	case AF_BOOL: json_object_set_new(s, "type", json_string("boolean")); break;
	case AF_OBJECT: json_object_set_new(s, "type", json_string("object")); break;
	case AF_STRARRAY:
		json_object_set_new(s, "type", json_string("array"));
		json_object_set_new(s, "items", json_pack("{s:s}", "type", "string"));
		break;
	}
	if (f->flags & AF_NULL)
		json_object_set_new(s, "type", json_pack("[O,s]", json_object_get(s, "type"),
							 "null"));
	if (f->type == AF_INT) {
		json_object_set_new(s, "minimum", json_integer(f->min));
		json_object_set_new(s, "maximum", json_integer(f->max));
	}
	if (f->check == AC_ENUM && f->enums) {
		json_t *e = json_array();

		for (size_t i = 0; f->enums[i]; i++)
			json_array_append_new(e, json_string(f->enums[i]));
		json_object_set_new(s, "enum", e);
	}
	if (f->check == AC_E164)
		json_object_set_new(s, "pattern", json_string("^\\+[1-9][0-9]{1,14}$"));
	if (f->check == AC_NAME)
		json_object_set_new(s, "pattern", json_string("^[A-Za-z0-9_.-]{1,63}$"));
	if (f->check == AC_UUID)
		json_object_set_new(s, "format", json_string("uuid"));
	if (f->check == AC_FOLDER)
		json_object_set_new(s, "pattern", json_string("^/[!-~]*$"));
	if (f->check == AC_SCOPES) {
		json_t *e = json_array();

		for (size_t i = 0; api_scope_names[i]; i++)
			json_array_append_new(e, json_string(api_scope_names[i]));
		json_object_set_new(json_object_get(s, "items"), "enum", e);
	}
	if (f->flags & AF_RO)
		json_object_set_new(s, "readOnly", json_true());
	if (f->flags & AF_SECRET)
		json_object_set_new(s, "writeOnly", json_true());
	if (f->desc && f->desc[0])
		json_object_set_new(s, "description", json_string(f->desc));
	return s;
}

json_t *api_object_schema(const struct api_field *f, size_t n)
{
	json_t *props = json_object(), *req = json_array();

	for (size_t i = 0; i < n; i++) {
		json_object_set_new(props, f[i].name, field_schema(&f[i]));
		if (f[i].flags & AF_REQ)
			json_array_append_new(req, json_string(f[i].name));
	}
	return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props,
			 "required", req, "additionalProperties", false);
}

static json_t *ref(const char *name)
{
	char r[96];

	snprintf(r, sizeof(r), "#/components/schemas/%s", name);
	return json_pack("{s:s}", "$ref", r);
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

/* Query parameters of the routes outside the resource tables. */
static const struct {
	const char *op_id, *name, *type, *desc;
} query_params[] = {
	{"streamEvents", "types", "string", "comma-separated event types: call.*,trunk.up"},
	{"rotateWebhookSecret", "grace", "integer", "seconds the previous secret keeps "
	 "signing (1-604800; default 86400)"},
	{"listWebhookDeliveries", "state", "string", "pending, delivered or dead"},
	{"listWebhookDeliveries", "before", "string", "a delivery id: the page before it"},
};

/* A media operation's body may be left out when none of its fields is required. */
static bool body_required(const char *schema)
{
	for (size_t i = 0; i < api_n_media_ops; i++) {
		if (strcmp(api_media_ops[i].schema, schema) != 0)
			continue;
		for (size_t k = 0; k < api_media_ops[i].n_fields; k++)
			if (api_media_ops[i].fields[k].flags & AF_REQ)
				return true;
		return false;
	}
	return true;
}

/* POST /v1/calls: its header and each error it answers. */
static void add_create_call(json_t *params, json_t *resp)
{
	static const struct {
		const char *status, *desc;
	} errs[] = {
		{"400", "invalid JSON or Idempotency-Key"},
		{"401", "missing, invalid or revoked token"},
		{"403", "caller ID not the tenant's (callerid_not_owned), a URI that is not "
			"one of its peers (not_a_peer), media files disabled, scope"},
		{"404", "no outbound route for the number (no_route)"},
		{"409", "a request with this Idempotency-Key is in progress "
			"(idempotency_in_flight)"},
		{"413", "body over the limit"},
		{"422", "a field missing, unknown, of the wrong type or value (field named); "
			"callerid_not_owned; idempotency_key_reused (the key with another body)"},
		{"429", "the API channel pool, the tenant's or the global cap is full "
			"(Retry-After)"},
		{"503", "routing, admission or the call layer unavailable: retry"},
	};

	json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s,s:i,s:i}}", "name",
		"Idempotency-Key", "in", "header", "description", "the same key and body within "
		"24 h get the first answer (the same call), not a second call", "schema", "type",
		"string", "minLength", 1, "maxLength", API_IDEM_KEY_MAX));
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		json_object_set_new(resp, errs[i].status, json_pack("{s:s,s:o}", "description",
			errs[i].desc, "content", json_content(ref("Error"))));
}

static json_t *operation(const struct api_route *rt)
{
	json_t *op = json_object(), *params = json_array(), *resp = json_object();
	char status[8];

	json_object_set_new(op, "operationId", json_string(rt->op_id));
	json_object_set_new(op, "summary", json_string(rt->summary));
	if (strstr(rt->pattern, "{id}"))
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", "id",
							"in", "path", "required", true,
							"schema", "type", "string"));
	if (rt->flags & AR_LIST && rt->res) {
		json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s,s:i,s:i}}", "name",
							"limit", "in", "query", "schema", "type",
							"integer", "minimum", 1, "maximum",
							API_PAGE_MAX));
		json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name", "cursor",
							"in", "query", "schema", "type",
							"string"));
		for (size_t i = 0; i < rt->res->n_fields; i++)
			if (rt->res->fields[i].flags & AF_FILTER)
				json_array_append_new(params, json_pack(
					"{s:s,s:s,s:o}", "name", rt->res->fields[i].name, "in",
					"query", "schema", field_schema(&rt->res->fields[i])));
	}
	for (size_t i = 0; i < sizeof(query_params) / sizeof(query_params[0]); i++)
		if (strcmp(query_params[i].op_id, rt->op_id) == 0)
			json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name",
				query_params[i].name, "in", "query", "description",
				query_params[i].desc, "schema", "type", query_params[i].type));
	if (rt->flags & AR_STREAM)
		json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name",
			"Last-Event-ID", "in", "header", "description", "replay the events "
			"after this id first", "schema", "type", "string"));
	json_object_set_new(op, "parameters", params);
	if (rt->body)
		json_object_set_new(op, "requestBody", json_pack("{s:b,s:o}", "required",
			body_required(rt->body), "content", json_content(ref(rt->body))));
	snprintf(status, sizeof(status), "%d", rt->status);
	if (rt->status == 204) {
		json_object_set_new(resp, status, json_pack("{s:s}", "description", "done"));
	} else if (rt->flags & AR_STREAM) {
		json_object_set_new(resp, status, json_pack("{s:s,s:{s:{s:{s:s,s:s}}}}",
			"description", "Server-Sent Events: \"id: N\", \"event: TYPE\", \"data: "
			"JSON\" (an Event), and keep-alive comments", "content", "text/event-stream",
			"schema", "type", "string", "description", "an endless event stream"));
	} else if (rt->flags & AR_TEXT) {
		json_object_set_new(resp, status, json_pack("{s:s,s:{s:{s:{s:s}}}}", "description",
			"ok", "content", "text/plain", "schema", "type", "string"));
	} else if (rt->reply && (rt->flags & AR_LIST)) {
		json_object_set_new(resp, status, json_pack("{s:s,s:o}", "description", "a page",
			"content", json_content(json_pack("{s:s,s:{s:{s:s,s:o},s:{s:[s,s]}},s:[s]}",
				"type", "object", "properties", "data", "type", "array", "items",
				ref(rt->reply), "next_cursor", "type", "string", "null",
				"required", "data"))));
	} else if (rt->reply) {
		json_object_set_new(resp, status, json_pack("{s:s,s:o}", "description", "ok",
			"content", json_content(ref(rt->reply))));
	} else {
		json_object_set_new(resp, status, json_pack("{s:s,s:o}", "description", "ok",
			"content", json_content(json_pack("{s:s}", "type", "object"))));
	}
	json_object_set_new(resp, "default", json_pack("{s:s,s:o}", "description",
		"an error", "content", json_content(ref("Error"))));
	if (strcmp(rt->op_id, "createCall") == 0)
		add_create_call(params, resp);
	json_object_set_new(op, "responses", resp);
	if (rt->flags & AR_PUBLIC)
		json_object_set_new(op, "security", json_array());
	if (rt->flags & AR_OPERATOR)
		json_object_set_new(op, "x-trunx-operator", json_true());
	if (rt->scope && rt->scope[0])
		json_object_set_new(op, "x-trunx-scope", json_string(rt->scope));
	return op;
}

static void add_event_schemas(json_t *schemas)
{
	json_t *hook = json_pack("{s:s,s:{s:{s:s,s:s},s:{s:[s,s]},s:{s:s},s:{s:s,s:{s:s}},"
		"s:{s:[s,s]},s:{s:s},s:{s:s,s:s}}}", "type", "object", "properties",
		"id", "type", "string", "format", "uuid", "tenant", "type", "string", "null",
		"url", "type", "string", "types", "type", "array", "items", "type", "string",
		"description", "type", "string", "null", "enabled", "type", "boolean",
		"created_at", "type", "string", "format", "date-time");
	json_t *created = json_deep_copy(hook);

	json_object_set_new(json_object_get(created, "properties"), "secret", json_pack(
		"{s:s,s:s}", "type", "string", "description", "whsec_...: shown here and on "
		"rotation only"));
	json_object_set_new(schemas, "WebhookCreated", created);
	json_object_set_new(schemas, "Webhook", hook);
	json_object_set_new(schemas, "WebhookCreate", json_pack(
		"{s:s,s:{s:{s:s,s:s},s:{s:s,s:{s:s},s:s},s:{s:s,s:i},s:{s:s,s:s}},s:[s],s:b}",
		"type", "object", "properties",
		"url", "type", "string", "description", "http:// URL (https not yet)",
		"types", "type", "array", "items", "type", "string", "description",
		"event types (call.*); absent: every event",
		"description", "type", "string", "maxLength", 500,
		"tenant", "type", "string", "description", "operators only; absent: every "
		"tenant's events", "required", "url", "additionalProperties", false));
	json_object_set_new(schemas, "WebhookSecret", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}}", "type", "object", "properties", "id", "type",
		"string", "secret", "type", "string", "previous_expires_at", "type", "integer"));
	json_object_set_new(schemas, "WebhookDelivery", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:[s,s,s]},s:{s:s},"
		"s:{s:[s,s]},s:{s:[s,s]},s:{s:[s,s]},s:{s:[s,s]},s:{s:s}}}", "type", "object",
		"properties", "id", "type", "integer", "webhook_id",
		"type", "string", "event_id", "type", "integer", "state", "type", "string",
		"enum", "pending", "delivered", "dead", "attempts", "type", "integer", "next_at",
		"type", "string", "null", "last_status", "type", "integer", "null", "last_error",
		"type", "string", "null", "delivered_at", "type", "string", "null", "created_at",
		"type", "string"));
	json_object_set_new(schemas, "WebhookRedrive", json_pack(
		"{s:s,s:{s:{s:s,s:[s]}}}", "type", "object", "properties", "state", "type",
		"string", "enum", "pending"));
	json_object_set_new(schemas, "Event", json_pack(
		"{s:s,s:s,s:{s:{s:s},s:{s:s},s:{s:[s,s]},s:{s:s}}}", "type", "object",
		"description", "the data: line of an SSE event", "properties", "id", "type",
		"integer", "type", "type", "string", "tenant", "type", "string", "null",
		"data", "type", "object"));
}

json_t *api_openapi_doc(void)
{
	json_t *doc, *paths = json_object(), *schemas = json_object();

	api_routes_init();
	for (size_t i = 0; i < api_n_routes; i++) {
		const struct api_route *rt = &api_routes[i];
		json_t *item = json_object_get(paths, rt->pattern);
		char m[16];

		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->pattern, item);
		}
		snprintf(m, sizeof(m), "%s", api_method_name(rt->method));
		for (char *p = m; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		json_object_set_new(item, m, operation(rt));
	}
	for (size_t i = 0; i < api_n_resources; i++)
		json_object_set_new(schemas, api_resources[i].schema,
				    api_object_schema(api_resources[i].fields,
						  api_resources[i].n_fields));
	/* The key itself is in the creation's answer only. */
	json_object_set_new(json_object_get(json_object_get(schemas, "ApiKey"), "properties"),
			    "key", json_pack("{s:s,s:b,s:s}", "type", "string", "readOnly", true,
					     "description", "tk_live_...: shown once, at creation"));
	json_object_set_new(schemas, "CallCreate", api_object_schema(api_call_fields,
								 api_n_call_fields));
	for (size_t i = 0; i < api_n_media_ops; i++)
		json_object_set_new(schemas, api_media_ops[i].schema,
				    api_object_schema(api_media_ops[i].fields,
						      api_media_ops[i].n_fields));
	json_object_set_new(schemas, "Call", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:[s,s]}}}", "type", "object",
		"properties", "id", "type", "string", "from", "type", "string", "to", "type",
		"string", "state", "type", "string", "tenant", "type", "string", "null"));
	json_object_set_new(schemas, "CallCreated", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s}},s:[s,s]}", "type", "object",
		"properties", "id", "type", "string", "state", "type", "string", "location",
		"type", "string", "cdr_id", "type", "string", "required", "id", "state"));
	add_event_schemas(schemas);
	json_object_set_new(schemas, "Error", json_pack(
		"{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s}},s:[s,s]}", "type", "object",
		"properties", "error", "type", "string", "message", "type", "string",
		"request_id", "type", "string", "field", "type", "string", "required",
		"error", "message"));
	doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:{s:{s:s,s:s,s:s}}},s:[{s:[]}]}",
		"openapi", "3.1.0",
		"info", "title", "trunx API", "version", "1", "description",
		"Operators and tenants drive trunx: tenants, trunks, DIDs, peers, outbound "
		"routes, API keys and calls. Errors are {\"error\": code, \"message\": text}.",
		"paths", paths,
		"components", "schemas", schemas, "securitySchemes", "bearer", "type", "http",
		"scheme", "bearer", "description", "Authorization: Bearer tk_live_...",
		"security", "bearer");
	return doc;
}

void api_h_openapi(struct api_req *r)
{
	size_t len;
	const char *text = api_openapi_text(r->api, &len);

	if (r->mcp_id)   /* a JSON-RPC result wraps the document */
		api_reply(r, 200, api_openapi_doc());
	else
		api_reply_text(r, 200, "application/json", text, len);
}

void api_h_health(struct api_req *r)
{
	bool pg = db_up(api_db(r->api));
	struct kv *kv = api_kv(r->api);

	json_t *o = json_pack("{s:s,s:s,s:s}", "status", pg ? "ok" : "degraded", "postgres",
			      pg ? "up" : "down", "redis", !kv ? "none" : kv_up(kv) ? "up" : "down");

	if (o && !pg) {   /* an error like any other, with the details */
		json_object_set_new(o, "error", json_string("unavailable"));
		json_object_set_new(o, "message", json_string("Postgres is not reachable"));
	}
	api_reply(r, pg ? 200 : 503, o);
}

void api_h_me(struct api_req *r)
{
	json_t *s = json_array();

	if (r->who.operator_) {
		for (size_t i = 0; api_scope_names[i]; i++)
			json_array_append_new(s, json_string(api_scope_names[i]));
	} else {
		for (size_t i = 0; i < r->who.n_scopes; i++)
			json_array_append_new(s, json_string(r->who.scopes[i]));
	}
	api_reply(r, 200, json_pack("{s:s,s:b,s:o,s:o,s:b}", "key_id", r->who.key_id,
		"operator", r->who.operator_, "tenant", r->who.tenant[0] ?
		json_string(r->who.tenant) : json_null(), "scopes", s, "service", r->who.service));
}
