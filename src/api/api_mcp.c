/*
 * api_mcp.c — the Model Context Protocol at /v1/mcp: JSON-RPC 2.0 over streamable
 * HTTP (POST; one request, one JSON answer; no server-initiated stream, so GET answers
 * 405). Methods: initialize, ping, tools/list, tools/call; notifications get 202. Each
 * tool is one of the API's routes, described by the same field tables as the OpenAPI
 * document and run through the same handler with the same key and scope checks; the
 * route's JSON answer becomes the tool's result (isError for statuses >= 400).
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
};

static const struct tool tools[] = {
	{"create_call", "createCall", false, "Place a call from one of the tenant's DIDs to a "
	 "number or SIP URI."},
	{"list_calls", "listCalls", false, "List the calls in progress."},
	{"get_call", "getCall", true, "Get one call in progress by id."},
	{"hangup_call", "hangupCall", true, "Hang a call up."},
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
