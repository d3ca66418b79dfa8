/*
 * api_calls.c — calls through the API: list, get and hang up the calls in progress
 * (asked of the B2BUA, whose answer comes back to the control thread through the
 * API's inbox), and the checks of a new call's request. A tenant sees and touches
 * only its own calls; another tenant's call id answers 404.
 *
 * Live media control (dtmf, play, record, amd) is api_media.c's, once the call is
 * found here. Not served yet (501 with a clear message): placing a call (the B2BUA has
 * no origination step yet) and transfer.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua.h"
#include "db/db.h"

enum call_op { OP_LIST, OP_GET, OP_HANGUP, OP_HANGUP_DONE, OP_MEDIA };

struct call_job {
	struct api_req *r;
	enum call_op    op;
	int             status;
	char           *json;
};

static void job_answer(void *arg);

/* The B2BUA's answer, on the signalling thread: hand it to the control thread. */
static void on_b2bua(int status, char *json, void *arg)
{
	struct call_job *j = arg;

	j->status = status;
	j->json = json;
	if (api_post(j->r->api, job_answer, j) != 0) {
		/* Out of memory: the request stays unanswered until its connection times out. */
		free(json);
		free(j);
	}
}

static bool visible(const struct api_req *r, json_t *call)
{
	const char *t = json_string_value(json_object_get(call, "tenant"));

	return r->who.operator_ || (t && strcmp(t, r->who.tenant) == 0);
}

static json_t *find_call(struct api_req *r, json_t *arr)
{
	size_t i;
	json_t *c;

	json_array_foreach(arr, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));

		if (id && strcmp(id, r->params[0]) == 0 && visible(r, c))
			return c;
	}
	return NULL;
}

static void job_answer(void *arg)
{
	struct call_job *j = arg;
	struct api_req *r = j->r;
	json_t *arr = j->json ? json_loads(j->json, 0, NULL) : NULL, *c, *out;
	int err;

	free(j->json);
	j->json = NULL;
	if (j->op == OP_HANGUP_DONE) {
		int st = j->status;

		free(j);
		json_decref(arr);
		if (st == ENOENT) {
			api_fail(r, 404, "not_found", "no such call");
			return;
		}
		api_reply(r, 200, json_pack("{s:s,s:s}", "id", r->params[0], "result",
					    "hangup"));
		return;
	}
	if (j->status || !json_is_array(arr)) {
		free(j);
		json_decref(arr);
		api_fail(r, 503, "unavailable", "the call layer did not answer");
		return;
	}
	if (j->op == OP_LIST) {
		size_t i;

		out = json_array();
		json_array_foreach(arr, i, c)
			if (visible(r, c))
				json_array_append(out, c);
		free(j);
		json_decref(arr);
		api_reply(r, 200, json_pack("{s:o,s:n}", "data", out, "next_cursor"));
		return;
	}
	c = find_call(r, arr);
	if (!c) {
		free(j);
		json_decref(arr);
		api_fail(r, 404, "not_found", "no such call");
		return;
	}
	if (j->op == OP_MEDIA) {
		json_decref(arr);
		free(j);
		api_media_start(r);
		return;
	}
	if (j->op == OP_GET) {
		json_incref(c);
		json_decref(arr);
		free(j);
		api_reply(r, 200, c);
		return;
	}
	json_decref(arr);
	j->op = OP_HANGUP_DONE;
	err = api_b2bua(r->api) ? b2bua_hangup(api_b2bua(r->api), r->params[0], on_b2bua, j) :
				  ESHUTDOWN;
	if (err) {
		free(j);
		api_fail(r, 503, "unavailable", "the call layer is busy: retry");
	}
}

static void ask(struct api_req *r, enum call_op op)
{
	struct call_job *j = calloc(1, sizeof(*j));
	int err;

	if (!j) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	j->r = r;
	j->op = op;
	err = api_b2bua(r->api) ? b2bua_list_calls(api_b2bua(r->api), on_b2bua, j) : ENOTCONN;
	if (err) {
		free(j);
		api_fail(r, 503, "unavailable", "the call layer is busy: retry");
	}
}

void api_h_calls_list(struct api_req *r)
{
	if (r->query_parsed && r->query.tqh_first != NULL) {
		api_fail(r, 400, "invalid_query", "calls in progress take no query parameter");
		return;
	}
	ask(r, OP_LIST);
}

void api_h_calls_get(struct api_req *r)
{
	ask(r, OP_GET);
}

void api_h_calls_hangup(struct api_req *r)
{
	ask(r, OP_HANGUP);
}

/* The fields of POST /v1/calls (also its OpenAPI schema, api_openapi.c). */
const struct api_field api_call_fields[] = {
	{"from", AF_STRING, "", "", AF_REQ, AC_E164, 0, 16, NULL,
	 "caller ID: one of the tenant's DIDs (E.164)"},
	{"to", AF_STRING, "", "", AF_REQ, AC_DEST, 1, 240, NULL,
	 "an E.164 number or a sip: URI"},
	{"timeout", AF_INT, "", "", 0, AC_NONE, 1, 600, NULL, "seconds of ringing at most"},
	{"amd", AF_BOOL, "", "", 0, AC_NONE, 0, 0, NULL, "answering-machine detection"},
	{"play", AF_STRING, "", "", 0, AC_NONE, 1, 200, NULL, "a prompt to play on answer"},
	{"record", AF_BOOL, "", "", 0, AC_NONE, 0, 0, NULL, "record the call"},
	{"bridge_to", AF_STRING, "", "", 0, AC_DEST, 1, 240, NULL,
	 "on answer, bridge to this number or URI"},
	{"tenant_id", AF_STRING, "", "", AF_OPWRITE, AC_NAME, 1, 63, NULL,
	 "operators: the tenant the call is for"},
};
const size_t api_n_call_fields = sizeof(api_call_fields) / sizeof(api_call_fields[0]);

static void on_did(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;

	(void)more;
	if (err) {
		api_reply_db_err(r, err, res, msg);
		return;
	}
	if (PQntuples(res) < 1) {
		api_fail(r, 422, "callerid_not_owned", "from: the tenant owns no active DID "
			 "with this number");
		return;
	}
	api_fail(r, 501, "not_implemented", "placing calls by API is not available in this "
		 "build: the B2BUA has no origination step yet");
}

void api_h_calls_create(struct api_req *r)
{
	struct api_err e = {0};
	const char *p[2], *tenant;
	char *buf;
	size_t len;
	int err;

	if (api_body(r, &buf, &len)) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	err = api_json_decode(buf, len, api_call_fields, api_n_call_fields, AJ_CREATE,
			      r->who.operator_, &r->body, &e);
	free(buf);
	if (err) {
		api_reply_err(r, &e);
		return;
	}
	tenant = r->who.operator_ ? json_string_value(json_object_get(r->body, "tenant_id")) :
				    r->who.tenant;
	if (!tenant) {
		api_fail(r, 422, "missing_field", "tenant_id is required from an operator");
		return;
	}
	p[0] = json_string_value(json_object_get(r->body, "from"));
	p[1] = tenant;
	err = db_query(api_db(r->api), "SELECT 1 FROM did_numbers WHERE number = $1 AND "
		       "tenant_id = $2 AND status = 'active'", 2, p, 0, on_did, r);
	if (err)
		api_reply_db_err(r, err, NULL, NULL);
}

/* The body's fields and types are checked first (any of them optional here); whether
 * the call exists and is the caller's comes next (404), and only then what the
 * operation requires (422): another tenant learns nothing from its body. */
void api_h_calls_media(struct api_req *r)
{
	const struct api_media_op *op = api_media_op_of(r->path);
	struct api_err e = {0};
	char *buf;
	size_t len;

	if (!op) {
		api_fail(r, 404, "not_found", "no such operation");
		return;
	}
	if (api_body(r, &buf, &len)) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	if (len && api_json_decode(buf, len, op->fields, op->n_fields, AJ_OPTIONAL, true,
				   &r->body, &e)) {
		free(buf);
		api_reply_err(r, &e);
		return;
	}
	free(buf);
	ask(r, OP_MEDIA);
}
