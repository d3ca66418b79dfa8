/*
 * api_route.c — the one table of the API's routes, built from the resource
 * descriptions plus the fixed routes (calls, keys, documents), and the matching of a
 * method and a path against it. The OpenAPI document is generated from the same
 * table (api_openapi.c), so the router and the document cannot disagree.
 */
#include "api/api_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROUTES 96

static struct api_route table[MAX_ROUTES];
static char patterns[MAX_ROUTES][64];
const struct api_route *api_routes = table;
size_t api_n_routes;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_err;

static void add(enum evhttp_cmd_type m, const char *pattern, api_handler_h *h,
		const struct api_resource *res, unsigned flags, const char *scope,
		const char *op_id, const char *summary, int status, const char *body,
		const char *reply)
{
	struct api_route *r;

	if (api_n_routes >= MAX_ROUTES) {
		init_err = ENOSPC;
		return;
	}
	snprintf(patterns[api_n_routes], sizeof(patterns[0]), "%s", pattern);
	r = &table[api_n_routes++];
	*r = (struct api_route){m, patterns[api_n_routes - 1], h, res, flags, scope, op_id,
				summary, status, body, reply};
}

/* operationIds are built here and live as long as the table. */
static char op_ids[MAX_ROUTES][48];
static size_t n_op_ids;

static const char *op_id(const char *verb, const char *schema, const char *suffix)
{
	char *o = op_ids[n_op_ids < MAX_ROUTES ? n_op_ids++ : MAX_ROUTES - 1];

	snprintf(o, sizeof(op_ids[0]), "%s%s%s", verb, schema, suffix);
	return o;
}

static void add_resource(const struct api_resource *res)
{
	char col[64], one[64];
	unsigned w = res->tenant_write ? 0 : AR_OPERATOR;
	unsigned rd = res->tenancy == AT_NONE ? AR_OPERATOR : 0;
	bool keys = strcmp(res->name, "api-keys") == 0;

	snprintf(col, sizeof(col), "/v1/%s", res->name);
	snprintf(one, sizeof(one), "/v1/%s/{id}", res->name);
	add(EVHTTP_REQ_GET, col, api_h_list, res, rd | AR_LIST, res->read_scope,
	    op_id("list", res->schema, "s"), "List (cursor pagination, filters)", 200, NULL,
	    res->schema);
	add(EVHTTP_REQ_POST, col, keys ? api_h_keys_create : api_h_create, res, w | AR_BODY,
	    res->write_scope, op_id("create", res->schema, ""), "Create", 201, res->schema,
	    res->schema);
	add(EVHTTP_REQ_GET, one, api_h_get, res, rd, res->read_scope,
	    op_id("get", res->schema, ""), "Get one", 200, NULL, res->schema);
	if (!keys)
		add(EVHTTP_REQ_PATCH, one, api_h_update, res, w | AR_BODY, res->write_scope,
		    op_id("update", res->schema, ""), "Update some fields", 200, res->schema,
		    res->schema);
	add(EVHTTP_REQ_DELETE, one, keys ? api_h_keys_revoke : api_h_delete, res, w,
	    res->write_scope, op_id(keys ? "revoke" : "delete", res->schema, ""),
	    keys ? "Revoke (takes effect at once)" : "Delete", 204, NULL, NULL);
}

static void build(void)
{
	add(EVHTTP_REQ_GET, "/v1/openapi.json", api_h_openapi, NULL, AR_PUBLIC, NULL,
	    "getOpenAPI", "This document", 200, NULL, NULL);
	add(EVHTTP_REQ_GET, "/v1/health", api_h_health, NULL, AR_PUBLIC, NULL, "getHealth",
	    "Liveness and the state of Postgres and Redis", 200, NULL, NULL);
	add(EVHTTP_REQ_GET, "/v1/me", api_h_me, NULL, 0, NULL, "getMe",
	    "The caller: tenant and scopes of the key", 200, NULL, NULL);
	add(EVHTTP_REQ_GET, "/metrics", api_h_metrics, NULL, AR_OPERATOR | AR_TEXT, NULL,
	    "getMetrics", "Prometheus metrics (operator)", 200, NULL, NULL);
	for (size_t i = 0; i < api_n_resources; i++)
		add_resource(&api_resources[i]);
	add(EVHTTP_REQ_POST, "/v1/calls", api_h_calls_create, NULL, AR_BODY, "calls:write",
	    "createCall", "Place a call from a tenant DID (Idempotency-Key honoured 24 h)", 202,
	    "CallCreate", "CallCreated");
	add(EVHTTP_REQ_GET, "/v1/calls", api_h_calls_list, NULL, AR_LIST, "calls:read",
	    "listCalls", "Calls in progress", 200, NULL, "Call");
	add(EVHTTP_REQ_GET, "/v1/calls/{id}", api_h_calls_get, NULL, 0, "calls:read",
	    "getCall", "One call in progress", 200, NULL, "Call");
	add(EVHTTP_REQ_POST, "/v1/calls/{id}/hangup", api_h_calls_hangup, NULL, 0,
	    "calls:write", "hangupCall", "Hang a call up (BYE or CANCEL on both legs)", 200,
	    NULL, NULL);
	for (size_t i = 0; i < api_n_media_ops; i++) {
		const struct api_media_op *m = &api_media_ops[i];
		char p[64];

		snprintf(p, sizeof(p), "/v1/calls/{id}/%s", m->name);
		add(EVHTTP_REQ_POST, p, api_h_calls_media, NULL, AR_BODY, "calls:write",
		    op_id(m->name, "Call", ""), m->summary, 202, m->schema, NULL);
	}
	add(EVHTTP_REQ_POST, "/v1/mcp", api_h_mcp, NULL, AR_BODY, NULL, "mcp",
	    "Model Context Protocol (JSON-RPC 2.0): initialize, tools/list, tools/call",
	    200, NULL, NULL);
	/* The event stream (src/events answers these; api_events.c hands them over). */
	add(EVHTTP_REQ_GET, "/v1/events", api_h_events_stream, NULL, AR_STREAM, "events:read",
	    "streamEvents", "Events as Server-Sent Events (Last-Event-ID replays what "
	    "followed; ?types=call.*,trunk.up filters); the stream does not end", 200, NULL,
	    "Event");
	add(EVHTTP_REQ_GET, "/v1/webhooks", api_h_webhooks_list, NULL, AR_LIST,
	    "events:read", "listWebhooks", "Webhooks (without their secrets)", 200, NULL,
	    "Webhook");
	add(EVHTTP_REQ_POST, "/v1/webhooks", api_h_webhook_create, NULL, AR_BODY,
	    "webhooks:write", "createWebhook", "Create a webhook; its secret is in this "
	    "answer (and on rotation) only", 201, "WebhookCreate", "WebhookCreated");
	add(EVHTTP_REQ_DELETE, "/v1/webhooks/{id}", api_h_webhook_delete, NULL, 0,
	    "webhooks:write", "deleteWebhook", "Delete a webhook", 204, NULL, NULL);
	add(EVHTTP_REQ_POST, "/v1/webhooks/{id}/rotate-secret", api_h_webhook_rotate, NULL, 0,
	    "webhooks:write", "rotateWebhookSecret", "A new secret; the previous one keeps "
	    "signing for ?grace seconds (default 24 h)", 200, NULL, "WebhookSecret");
	add(EVHTTP_REQ_GET, "/v1/webhooks/{id}/deliveries", api_h_webhook_deliveries, NULL,
	    AR_LIST, "events:read", "listWebhookDeliveries", "Deliveries, newest first, 100 a page "
	    "(?state=pending|delivered|dead, ?before=delivery id)", 200, NULL,
	    "WebhookDelivery");
	add(EVHTTP_REQ_POST, "/v1/webhook-deliveries/{id}/redrive", api_h_webhook_redrive,
	    NULL, 0, "webhooks:write", "redriveWebhookDelivery", "A dead delivery due again "
	    "now (409 if it is not dead)", 202, NULL, "WebhookRedrive");
}

int api_routes_init(void)
{
	pthread_once(&once, build);
	return init_err;
}

const char *api_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes one segment into out; EINVAL for bad escapes, NUL or too long. */
static int seg_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return EINVAL;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return EINVAL;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen)
			return EINVAL;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return 0;
}

/* Matches path against pattern; 1 match (params filled), 0 not. EINVAL bad path. */
static int match_one(const char *pattern, const char *path,
		     char params[API_MAX_PARAMS][API_PARAM_MAX])
{
	const char *p = pattern, *s = path;
	int np = 0;

	while (*p && *s) {
		const char *pe = strchr(p + 1, '/'), *se = strchr(s + 1, '/');
		size_t pn, sn;

		if (*p != '/' || *s != '/')
			return 0;
		p++;
		s++;
		pe = pe ? pe : p + strlen(p);
		se = se ? se : s + strlen(s);
		pn = (size_t)(pe - p);
		sn = (size_t)(se - s);
		if (pn >= 2 && p[0] == '{') {
			if (sn == 0 || np >= API_MAX_PARAMS)
				return 0;
			if (seg_decode(s, sn, params[np], API_PARAM_MAX))
				return -1;
			np++;
		} else if (pn != sn || memcmp(p, s, pn) != 0) {
			return 0;
		}
		p = pe;
		s = se;
	}
	return *p == 0 && *s == 0;
}

int api_route_match(enum evhttp_cmd_type method, const char *path,
		    const struct api_route **rp, char params[API_MAX_PARAMS][API_PARAM_MAX],
		    char *allow, size_t allowlen)
{
	char tmp[API_MAX_PARAMS][API_PARAM_MAX];
	bool other = false;

	if (!path || path[0] != '/')
		return EINVAL;
	if (allowlen)
		allow[0] = 0;
	for (size_t i = 0; i < api_n_routes; i++) {
		int m = match_one(table[i].pattern, path, tmp);

		if (m < 0)
			return EINVAL;
		if (!m)
			continue;
		if (table[i].method == method) {
			*rp = &table[i];
			memcpy(params, tmp, sizeof(tmp));
			return 0;
		}
		other = true;
		if (allowlen) {
			size_t n = strlen(allow);

			snprintf(allow + n, allowlen - n, "%s%s", n ? ", " : "",
				 api_method_name(table[i].method));
		}
	}
	return other ? EPERM : ENOENT;
}
