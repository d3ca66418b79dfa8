/*
 * api_events.c — the routes of the event stream (src/events) behind the API's keys:
 * SSE on /v1/events, webhooks, their deliveries and redrive. The caller's tenant comes
 * from its key (an operator's: NULL, every tenant); src/events answers the request
 * itself, so the API hands it over once routed, authenticated and scoped.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "events/events.h"

/* The tenant events.h expects: NULL for an operator. */
static const char *tenant_of(const struct api_req *r, char *buf, size_t len)
{
	if (r->who.operator_)
		return NULL;
	snprintf(buf, len, "%s", r->who.tenant);
	return buf;
}

/* The events module, or a 503 answered (not configured, or reached through MCP,
 * whose tools do not include these routes). */
static struct events *events_or_fail(struct api_req *r)
{
	struct events *e = api_events(r->api);

	if (r->mcp_id) {
		api_fail(r, 501, "not_implemented", "events are not served through MCP");
		return NULL;
	}
	if (!e)
		api_fail(r, 503, "events_unavailable",
			 "the event stream is not configured on this node");
	return e;
}

void api_h_events_stream(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX], types[256];
	const char *t, *q;

	if (!e)
		return;
	q = api_query(r, "types");
	if (q && strlen(q) >= sizeof(types)) {
		api_fail(r, 400, "bad_types", "types: too long");
		return;
	}
	snprintf(types, sizeof(types), "%s", q ? q : "");
	t = tenant_of(r, tb, sizeof(tb));
	api_handoff(r);
	events_http_stream(e, req, t, types[0] ? types : NULL);
}

void api_h_webhooks_list(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX];
	const char *t;

	if (!e)
		return;
	t = tenant_of(r, tb, sizeof(tb));
	api_handoff(r);
	events_http_webhooks_list(e, req, t);
}

void api_h_webhook_create(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX];
	const char *t;

	if (!e)
		return;
	t = tenant_of(r, tb, sizeof(tb));
	api_handoff(r);
	events_http_webhook_create(e, req, t);
}

void api_h_webhook_delete(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX], id[API_PARAM_MAX];
	const char *t;

	if (!e)
		return;
	t = tenant_of(r, tb, sizeof(tb));
	snprintf(id, sizeof(id), "%s", r->params[0]);
	api_handoff(r);
	events_http_webhook_delete(e, req, t, id);
}

void api_h_webhook_rotate(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX], id[API_PARAM_MAX], *end;
	const char *t, *g;
	unsigned long grace = 0;

	if (!e)
		return;
	g = api_query(r, "grace");
	if (g) {
		grace = strtoul(g, &end, 10);
		if (!g[0] || *end || g[0] == '-' || grace < 1 || grace > 7 * 86400) {
			api_fail(r, 400, "invalid_query", "grace: 1-604800 seconds");
			return;
		}
	}
	t = tenant_of(r, tb, sizeof(tb));
	snprintf(id, sizeof(id), "%s", r->params[0]);
	api_handoff(r);
	events_http_webhook_rotate(e, req, t, id, (unsigned)grace);
}

void api_h_webhook_deliveries(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX], id[API_PARAM_MAX], state[16], before[24];
	const char *t, *s, *b;

	if (!e)
		return;
	s = api_query(r, "state");
	b = api_query(r, "before");
	if (s && strcmp(s, "pending") && strcmp(s, "delivered") && strcmp(s, "dead")) {
		api_fail(r, 400, "invalid_query", "state: pending, delivered or dead");
		return;
	}
	if (b && (!b[0] || strlen(b) >= sizeof(before) ||
		  strspn(b, "0123456789") != strlen(b))) {
		api_fail(r, 400, "invalid_query", "before: a delivery id");
		return;
	}
	snprintf(state, sizeof(state), "%s", s ? s : "");
	snprintf(before, sizeof(before), "%s", b ? b : "");
	t = tenant_of(r, tb, sizeof(tb));
	snprintf(id, sizeof(id), "%s", r->params[0]);
	api_handoff(r);
	events_http_deliveries(e, req, t, id, state[0] ? state : NULL,
			       before[0] ? before : NULL);
}

void api_h_webhook_redrive(struct api_req *r)
{
	struct events *e = events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX], id[API_PARAM_MAX];
	const char *t;

	if (!e)
		return;
	t = tenant_of(r, tb, sizeof(tb));
	snprintf(id, sizeof(id), "%s", r->params[0]);
	api_handoff(r);
	events_http_redrive(e, req, t, id);
}
