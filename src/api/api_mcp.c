/*
 * api_mcp.c — the Model Context Protocol at /v1/mcp: JSON-RPC 2.0 over streamable
 * HTTP (POST; one request, one JSON answer; no server-initiated stream, so GET answers
 * 405). Methods: initialize, ping, tools/list, tools/call; notifications get 202. Each
 * tool is one of the API's routes, described by the same field tables as the OpenAPI
 * document and run through the same handler with the same key and scope checks; the
 * route's JSON answer becomes the tool's result (isError for statuses >= 400).
 * list_events runs GET /v1/events (its scope and tenant) as a page, not a stream:
 * its arguments become the route's query (after, limit, types).
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MCP_PROTOCOL "2025-03-26"

struct tool {
	const char *name;
	const char *op_id;     /**< the route it runs */
	bool        needs_id;
	const char *desc;
	bool        query_args;   /**< the arguments become the route's query */
};

static const struct tool tools[] = {
	{"create_call", "createCall", false, "Place a call from one of the tenant's DIDs to a "
	 "number or SIP URI.", false},
	{"list_calls", "listCalls", false, "List the calls in progress.", false},
	{"get_call", "getCall", true, "Get one call in progress by id.", false},
	{"hangup_call", "hangupCall", true, "Hang a call up.", false},
	{"list_events", "streamEvents", false, "List the tenant's events (call.created, "
	 "call.answered, call.hungup, call.dtmf...) that followed event id `after`, oldest "
	 "first, at most `limit` (default 50, at most 200), optionally only `types` (comma-"
	 "separated, call.* for a family); next_after continues the listing.", true},
};

static void rpc_error(struct api_req *r, int http, json_t *id, int code, const char *msg)
{
	api_reply(r, http, json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id",
				     id ? id : json_null(), "error", "code", code, "message", msg));
}

static json_t *tool_list(void)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		json_t *schema;

		if (strcmp(tools[i].name, "create_call") == 0)
			schema = api_object_schema(api_call_fields, api_n_call_fields);
		else if (tools[i].query_args)
			schema = json_pack("{s:s,s:{s:{s:s,s:i},s:{s:s,s:i,s:i},s:{s:s}},s:b}",
					   "type", "object", "properties",
					   "after", "type", "integer", "minimum", 0,
					   "limit", "type", "integer", "minimum", 1, "maximum",
					   API_PAGE_MAX, "types", "type", "string",
					   "additionalProperties", false);
		else if (tools[i].needs_id)
			schema = json_pack("{s:s,s:{s:{s:s}},s:[s],s:b}", "type", "object",
					   "properties", "id", "type", "string", "required", "id",
					   "additionalProperties", false);
		else
			schema = json_pack("{s:s,s:{},s:b}", "type", "object", "properties",
					   "additionalProperties", false);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "name", tools[i].name,
						     "description", tools[i].desc,
						     "inputSchema", schema));
	}
	return arr;
}

static const struct api_route *route_of(const char *op_id)
{
	for (size_t i = 0; i < api_n_routes; i++)
		if (strcmp(api_routes[i].op_id, op_id) == 0)
			return &api_routes[i];
	return NULL;
}

/* The tool's arguments as the route's query: integers and strings only. */
static int args_to_query(struct api_req *r, json_t *args, char *why, size_t len)
{
	const char *k;
	json_t *v;

	if (r->query_parsed)
		evhttp_clear_headers(&r->query);
	evhttp_parse_query_str("", &r->query);   /* an empty, initialised list */
	r->query_parsed = true;
	json_object_foreach(args, k, v) {
		char val[256];

		if (strcmp(k, "after") && strcmp(k, "limit") && strcmp(k, "types")) {
			snprintf(why, len, "unknown argument: %s", k);
			return EINVAL;
		}
		if (json_is_integer(v) && strcmp(k, "types"))
			snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else if (json_is_string(v) && !strcmp(k, "types") &&
			 json_string_length(v) < sizeof(val))
			snprintf(val, sizeof(val), "%s", json_string_value(v));
		else {
			snprintf(why, len, "argument %s: %s expected", k,
				 strcmp(k, "types") ? "an integer" : "a string");
			return EINVAL;
		}
		evhttp_add_header(&r->query, k, val);
	}
	return 0;
}

static void call_tool(struct api_req *r, json_t *id, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *args = json_object_get(params, "arguments");
	const struct tool *t = NULL;

	for (size_t i = 0; name && i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(tools[i].name, name) == 0)
			t = &tools[i];
	if (!t) {
		rpc_error(r, 200, id, -32602, "unknown tool");
		return;
	}
	if (args && !json_is_object(args)) {
		rpc_error(r, 200, id, -32602, "arguments must be an object");
		return;
	}
	r->route = route_of(t->op_id);
	if (!r->route) {
		rpc_error(r, 200, id, -32603, "tool without a route");
		return;
	}
	if (t->needs_id) {
		const char *cid = json_string_value(json_object_get(args, "id"));

		if (!cid || !cid[0] || strlen(cid) >= API_PARAM_MAX ||
		    json_object_size(args) != 1) {
			rpc_error(r, 200, id, -32602, "arguments: {\"id\": string} expected");
			return;
		}
		snprintf(r->params[0], API_PARAM_MAX, "%s", cid);
	} else if (t->query_args) {
		char why[128];

		if (args_to_query(r, args ? args : NULL, why, sizeof(why)) != 0) {
			rpc_error(r, 200, id, -32602, why);
			return;
		}
		r->mcp_id = json_incref(id);
		api_run(r);
		return;
	} else if (r->route->flags & AR_BODY) {
		r->body_override = json_dumps(args ? args : json_object(), JSON_COMPACT);
		if (!r->body_override) {
			rpc_error(r, 200, id, -32603, "out of memory");
			return;
		}
	} else if (args && json_object_size(args)) {
		rpc_error(r, 200, id, -32602, "this tool takes no arguments");
		return;
	}
	r->mcp_id = json_incref(id);
	if (r->query_parsed) {   /* the MCP URL's query is not the tool's */
		evhttp_clear_headers(&r->query);
		r->query_parsed = false;
	}
	api_run(r);
}

void api_h_mcp(struct api_req *r)
{
	json_error_t je;
	json_t *msg, *id, *params;
	const char *method;
	char *buf;
	size_t len;

	if (api_body(r, &buf, &len)) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	msg = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!msg) {
		rpc_error(r, 400, NULL, -32700, "parse error");
		return;
	}
	id = json_object_get(msg, "id");
	method = json_string_value(json_object_get(msg, "method"));
	params = json_object_get(msg, "params");
	if (!json_is_object(msg) || !method ||
	    strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?
		   json_string_value(json_object_get(msg, "jsonrpc")) : "", "2.0") != 0 ||
	    (id && !json_is_string(id) && !json_is_integer(id))) {
		rpc_error(r, 400, json_is_string(id) || json_is_integer(id) ? id : NULL, -32600,
			  "invalid request (one JSON-RPC 2.0 object; batches are not taken)");
		json_decref(msg);
		return;
	}
	if (!id) {   /* a notification (notifications/initialized...) */
		json_decref(msg);
		api_reply_text(r, 202, "application/json", "", 0);
		return;
	}
	if (strcmp(method, "initialize") == 0) {
		const char *want = json_string_value(json_object_get(params, "protocolVersion"));

		api_reply(r, 200, json_pack("{s:s,s:O,s:{s:s,s:{s:{s:b}},s:{s:s,s:s}}}",
			"jsonrpc", "2.0", "id", id, "result", "protocolVersion",
			want && (strcmp(want, "2024-11-05") == 0 || strcmp(want, MCP_PROTOCOL) == 0)
			? want : MCP_PROTOCOL, "capabilities", "tools", "listChanged", false,
			"serverInfo", "name", "trunx", "version", TRUNX_VERSION));
	} else if (strcmp(method, "ping") == 0) {
		api_reply(r, 200, json_pack("{s:s,s:O,s:{}}", "jsonrpc", "2.0", "id", id,
					    "result"));
	} else if (strcmp(method, "tools/list") == 0) {
		api_reply(r, 200, json_pack("{s:s,s:O,s:{s:o}}", "jsonrpc", "2.0", "id", id,
					    "result", "tools", tool_list()));
	} else if (strcmp(method, "tools/call") == 0 && json_is_object(params)) {
		call_tool(r, id, params);
	} else {
		rpc_error(r, 200, id, -32601, "method not found");
	}
	json_decref(msg);
}
