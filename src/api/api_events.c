/*
 * api_events.c — the routes of the event stream (src/events) behind the API's keys:
 * SSE on /v1/events, webhooks, their deliveries and redrive. The caller's tenant comes
 * from its key (an operator's: NULL, every tenant); src/events answers the request
 * itself, so the API hands it over once routed, authenticated and scoped.
 * Through MCP (list_events), GET /v1/events is a page instead of a stream: the
 * caller's events after an id, read from the events table here with the same tenant
 * rule and type filter as the stream.
 */
#include "api/api_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "events/events.h"
#include "events/events_sched.h"

/* The page: ids after $1 of the tenant ($2; NULL: every tenant), of the types $3 (a
 * text[] of names or families "call.*"; NULL: all), oldest first. */
static const char SQL_EVENTS_PAGE[] =
	"SELECT e.id, trunx_event_json(e)::text FROM events e WHERE e.id > $1::bigint AND "
	"($2::text IS NULL OR e.tenant_id = $2) AND ($3::text[] IS NULL OR EXISTS ("
	"SELECT 1 FROM unnest($3::text[]) AS p(t) WHERE p.t = e.type OR (right(p.t, 2) = "
	"'.*' AND left(e.type, length(p.t) - 1) = left(p.t, -1)))) ORDER BY e.id "
	"LIMIT $4::int";

/* The tenant events.h expects: NULL for an operator. */
static const char *tenant_of(const struct api_req *r, char *buf, size_t len)
{
	if (r->who.operator_)
		return NULL;
	snprintf(buf, len, "%s", r->who.tenant);
	return buf;
}

/* The events module, or a 503 answered (not configured, or reached through MCP,
 * whose tools do not include these routes but list_events). */
static struct events *events_or_fail(struct api_req *r)
{
	struct events *e = api_events(r->api);

	if (r->mcp_id) {
		api_fail(r, 501, "not_implemented", "this route is not served through MCP");
		return NULL;
	}
	if (!e)
		api_fail(r, 503, "events_unavailable",
			 "the event stream is not configured on this node");
	return e;
}

static void on_page(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;
	unsigned limit = (unsigned)(uintptr_t)r->state;
	json_t *data, *o;
	const char *next = NULL;
	int rows;

	(void)more;
	if (err) {
		api_reply_db_err(r, err, res, msg);
		return;
	}
	data = json_array();
	rows = PQntuples(res);
	for (int i = 0; i < rows && (unsigned)i < limit; i++) {
		json_t *ev = json_loads(PQgetvalue(res, i, 1), 0, NULL);

		if (ev)
			json_array_append_new(data, ev);
		next = PQgetvalue(res, i, 0);
	}
	o = json_pack("{s:o,s:b}", "data", data, "has_more", rows > (int)limit);
	if (o && next)
		json_object_set_new(o, "next_after", json_integer(strtoll(next, NULL, 10)));
	else if (o)
		json_object_set_new(o, "next_after", json_integer(
			strtoll(api_query(r, "after") ? api_query(r, "after") : "0", NULL, 10)));
	api_reply(r, 200, o);
}

/* list_events (MCP): ?after, ?limit, ?types as a page of the events table. */
static void events_page(struct api_req *r)
{
	const char *after = api_query(r, "after"), *lim = api_query(r, "limit");
	const char *types = api_query(r, "types");
	struct events_types t;
	char from[24], limit[16], arr[EVENTS_TYPES_MAX * (EVENTS_TYPE_LEN + 1) + 4];
	const char *p[4] = {from, r->who.operator_ ? NULL : r->who.tenant, NULL, limit};
	uint64_t id = 0;
	unsigned long n = API_PAGE_DEFAULT;
	char *end;
	int err;

	if (!api_events(r->api)) {
		api_fail(r, 503, "events_unavailable",
			 "the event stream is not configured on this node");
		return;
	}
	if (after && events_parse_last_id(after, &id) != 0) {
		api_fail(r, 400, "invalid_query", "after: an event id (decimal digits)");
		return;
	}
	if (lim) {
		n = strtoul(lim, &end, 10);
		if (!lim[0] || *end || lim[0] == '-' || n < 1 || n > API_PAGE_MAX) {
			api_fail(r, 400, "invalid_query", "limit: 1-%d", API_PAGE_MAX);
			return;
		}
	}
	if (events_parse_types(types, &t) != 0) {
		api_fail(r, 400, "bad_types", "types: comma-separated event types such as "
			 "call.answered or call.*");
		return;
	}
	if (t.n) {
		size_t o = 0;

		arr[o++] = '{';
		for (size_t i = 0; i < t.n; i++)
			o += (size_t)snprintf(arr + o, sizeof(arr) - o, "%s%s", i ? "," : "",
					      t.name[i]);
		snprintf(arr + o, sizeof(arr) - o, "}");
		p[2] = arr;
	}
	snprintf(from, sizeof(from), "%" PRIu64, id);
	snprintf(limit, sizeof(limit), "%lu", n + 1);   /* one more: has_more */
	r->state = (void *)(uintptr_t)n;
	err = db_query(api_db(r->api), SQL_EVENTS_PAGE, 4, p, 0, on_page, r);
	if (err)
		api_reply_db_err(r, err, NULL, NULL);
}

void api_h_events_stream(struct api_req *r)
{
	struct events *e = r->mcp_id ? NULL : events_or_fail(r);
	struct evhttp_request *req = r->req;
	char tb[API_TENANT_MAX], types[256], key[sizeof(r->who.key_id)];
	const char *t, *q;

	if (r->mcp_id) {
		events_page(r);
		return;
	}
	if (!e)
		return;
	q = api_query(r, "types");
	if (q && strlen(q) >= sizeof(types)) {
		api_fail(r, 400, "bad_types", "types: too long");
		return;
	}
	snprintf(types, sizeof(types), "%s", q ? q : "");
	t = tenant_of(r, tb, sizeof(tb));
	/* The service token has no key to revoke: its streams are not looked up. */
	snprintf(key, sizeof(key), "%s", r->who.service ? "" : r->who.key_id);
	api_handoff(r);
	events_http_stream(e, req, t, types[0] ? types : NULL, key[0] ? key : NULL);
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
