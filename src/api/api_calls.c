/*
 * api_calls.c — calls through the API: list, get and hang up the calls in progress,
 * and the checks of a new call's request. A tenant sees and touches only its own
 * calls; another tenant's call id answers 404.
 *
 * Reads (list, get) are answered on the control thread from its copy of the calls'
 * view (api_view.c), which the B2BUA's view messages keep current through the API's
 * inbox — no hop through the signalling thread. While that copy is stale (a message
 * lost, the table full) reads are asked of the B2BUA, as writes (hangup, media) are:
 * its answer comes back through the inbox.
 *
 * Placing a call: the body checked, its Idempotency-Key claimed (api_idem.c), the
 * caller ID checked against the tenant's DIDs, the prompt read here (the control
 * thread may wait on disk), then the B2BUA routes, admits (the API channel pool: full
 * -> 429 with Retry-After) and sends the INVITE; 202 with the call's id and Location.
 *
 * Live media control (dtmf, play, record, amd) is api_media.c's, once the call is
 * found here; so is transfer (REFER, or re-bridging to a new leg).
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api_view.h"
#include "b2bua/b2bua.h"
#include "db/db.h"
#include "log.h"
#include "media_feat.h"

enum call_op { OP_LIST, OP_GET, OP_HANGUP, OP_HANGUP_DONE, OP_MEDIA };

struct call_job {
	struct api_req *r;
	enum call_op    op;
	int             status;
	char           *json;
};

static void job_answer(void *arg);

/* A view message on its way to the control thread. */
struct view_msg_job {
	struct api        *a;
	struct b2bua_view *m;
};

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
	log_set_request_id(r->id);   /* the signalling thread's lines carry it */
	err = api_b2bua(r->api) ? b2bua_hangup(api_b2bua(r->api), r->params[0], on_b2bua, j) :
				  ESHUTDOWN;
	log_set_request_id(NULL);
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
	/* A call by id asks for that call only: the signalling thread's cost does not grow
	 * with the calls in progress. */
	err = !api_b2bua(r->api) ? ENOTCONN : op == OP_LIST ?
	      b2bua_list_calls(api_b2bua(r->api), on_b2bua, j) :
	      b2bua_get_call(api_b2bua(r->api), r->params[0], on_b2bua, j);
	if (err == EINVAL) {   /* an id no call can have */
		free(j);
		api_fail(r, 404, "not_found", "no such call");
		return;
	}
	if (err) {
		free(j);
		api_fail(r, 503, "unavailable", "the call layer is busy: retry");
	}
}

/* ---- reads from the control thread's copy ---- */

static void view_job(void *arg)
{
	struct view_msg_job *j = arg;

	api_view_apply(api_view_of(j->a), j->m);
	free(j);
}

void api_calls_on_view(struct b2bua_view *m, void *arg)
{
	struct view_msg_job *j = malloc(sizeof(*j));

	/* A message not posted is a gap in the numbers: the copy knows it is stale. */
	if (!j) {
		b2bua_view_free(m);
		return;
	}
	j->a = arg;
	j->m = m;
	if (api_post(j->a, view_job, j) != 0) {
		b2bua_view_free(m);
		free(j);
	}
}

static uint64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *reader_tenant(const struct api_req *r)
{
	return r->who.operator_ ? NULL : r->who.tenant;
}

/* The copy answers while the B2BUA is there to keep it (else ask(): 503). */
static struct api_view *view_of(struct api_req *r)
{
	return api_b2bua(r->api) ? api_view_of(r->api) : NULL;
}

void api_h_calls_list(struct api_req *r)
{
	json_t *arr;
	int err;

	if (r->query_parsed && r->query.tqh_first != NULL) {
		api_fail(r, 400, "invalid_query", "calls in progress take no query parameter");
		return;
	}
	err = api_view_list(view_of(r), reader_tenant(r), wall_now_ms(), &arr);
	if (err == ESTALE) {
		ask(r, OP_LIST);
		return;
	}
	if (err) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	api_reply(r, 200, json_pack("{s:o,s:n}", "data", arr, "next_cursor"));
}

void api_h_calls_get(struct api_req *r)
{
	json_t *c;
	int err = api_view_get(view_of(r), r->params[0], reader_tenant(r),
			       wall_now_ms(), &c);

	if (err == ESTALE) {
		ask(r, OP_GET);
		return;
	}
	if (err == ENOENT) {
		api_fail(r, 404, "not_found", "no such call");
		return;
	}
	if (err) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	api_reply(r, 200, c);
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

/* ---- placing a call ---- */

/* A POST /v1/calls in flight (r->state). */
struct create_job {
	struct api_req *r;
	bool            idem;
	struct api_idem id;
	char            tenant[API_TENANT_MAX];
	int             status;
	char           *json;
};

static struct create_job *job_of(struct api_req *r)
{
	return r->state;
}

/* Answers r, and keeps the answer for its Idempotency-Key (steals body). */
static void finish(struct api_req *r, int status, json_t *body)
{
	struct create_job *j = job_of(r);

	if (j && j->idem)
		api_idem_finish(r->api, &j->id, status, body);
	if (j) {
		free(j->json);
		free(j);
		r->state = NULL;
	}
	api_reply(r, status, body);
}

static void finish_err(struct api_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void finish_err(struct api_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	finish(r, status, json_pack("{s:s,s:s,s:s}", "error", code, "message", msg,
				    "request_id", r->id));
}

static void location(struct api_req *r, const char *id)
{
	char loc[API_PATH_MAX];

	snprintf(loc, sizeof(loc), "/v1/calls/%s", id);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
}

static void placed(void *arg)
{
	struct create_job *j = arg;
	struct api_req *r = j->r;
	json_t *o = j->json ? json_loads(j->json, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *code = json_string_value(json_object_get(o, "error"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	char ra[16];

	if (j->status == 0 && id) {
		location(r, id);
		finish(r, 202, json_pack("{s:s,s:s,s:s,s:s?}", "id", id, "state", "calling",
					 "location", evhttp_find_header(
						 evhttp_request_get_output_headers(r->req),
						 "Location"), "cdr_id",
					 json_string_value(json_object_get(o, "cdr_id"))));
	} else if (j->status == EBUSY) {
		snprintf(ra, sizeof(ra), "%u", api_conf(r->api)->api_pool_retry ?
			 api_conf(r->api)->api_pool_retry : 1);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", ra);
		finish_err(r, 429, code ? code : "pool_full", "%s", msg ? msg : "no channel free");
	} else if (j->status == EPERM) {
		finish_err(r, 403, code ? code : "forbidden", "%s", msg ? msg : "refused");
	} else if (j->status == ENOENT) {
		finish_err(r, 404, code ? code : "no_route", "%s", msg ? msg : "no route");
	} else {
		finish_err(r, 503, code ? code : "unavailable", "%s",
			   msg ? msg : "the call layer did not answer");
	}
	json_decref(o);
}

/* The B2BUA's answer, on the signalling thread: hand it to the control thread. */
static void on_placed(int status, char *json, void *arg)
{
	struct create_job *j = arg;

	j->status = status;
	j->json = json;
	if (api_post(j->r->api, placed, j) != 0) {
		free(json);
		j->json = NULL;   /* out of memory: the request times out */
	}
}

static const char *body_str(struct api_req *r, const char *name)
{
	return json_string_value(json_object_get(r->body, name));
}

static void place(struct api_req *r)
{
	struct create_job *j = job_of(r);
	struct b2bua_orig_req *q = calloc(1, sizeof(*q));
	const char *play = body_str(r, "play");
	const struct conf_api *ca = api_conf(r->api);
	struct api *a = r->api;
	char err[256], full[512];
	int e;

	if (!q) {
		finish_err(r, 503, "unavailable", "out of memory");
		return;
	}
	snprintf(q->tenant, sizeof(q->tenant), "%s", j->tenant);
	snprintf(q->from, sizeof(q->from), "%s", body_str(r, "from"));
	snprintf(q->to, sizeof(q->to), "%s", body_str(r, "to"));
	q->timeout_s = (unsigned)json_integer_value(json_object_get(r->body, "timeout"));
	q->amd = json_is_true(json_object_get(r->body, "amd"));
	if (body_str(r, "bridge_to"))
		snprintf(q->bridge_to, sizeof(q->bridge_to), "%s", body_str(r, "bridge_to"));
	if (play) {
		/* api_media_file answers the refusals itself: not kept for the key. */
		if (!api_media_file(r, "play", play, full, sizeof(full)))
			goto refused_answered;
		if (media_prompt_load(full, &q->pcm, &q->n, err, sizeof(err))) {
			size_t fl = strlen(full);
			const char *why = strncmp(err, full, fl) == 0 ? err + fl : err;

			finish_err(r, 422, "invalid_prompt", "play: file %s%s%s", play,
				   why == err ? ": " : "", why);
			goto refused;
		}
	}
	if (json_is_true(json_object_get(r->body, "record"))) {
		if (!ca->media_dir[0]) {
			finish_err(r, 403, "media_files_disabled", "record: files are not "
				   "reachable through the API on this server ([api] media_dir "
				   "is not set)");
			goto refused;
		}
		snprintf(q->record_dir, sizeof(q->record_dir), "%s/%s", ca->media_dir, j->tenant);
		if (mkdir(q->record_dir, 0750) != 0 && errno != EEXIST) {
			finish_err(r, 422, "invalid_value", "record: the tenant's media folder "
				   "cannot be made: %s", strerror(errno));
			goto refused;
		}
	}
	if (!api_b2bua(r->api)) {
		finish_err(r, 503, "unavailable", "no call layer in this process");
		goto refused;
	}
	/* b2bua_originate takes q (and its prompt) in every case. */
	log_set_request_id(r->id);   /* the signalling thread's lines carry it */
	e = b2bua_originate(api_b2bua(r->api), q, on_placed, j);
	log_set_request_id(NULL);
	if (e)
		finish_err(r, 503, "unavailable", "the call layer is busy: retry");
	return;
refused_answered:
	/* The answer went out (r is gone): the claim must not stay pending. */
	if (j->idem)
		api_idem_finish(a, &j->id, 503, NULL);
	free(j);
refused:
	free(q->pcm);
	free(q);
}

static void on_did(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct api_req *r = arg;

	(void)more;
	if (err) {
		struct create_job *j = job_of(r);

		if (j->idem)
			api_idem_finish(r->api, &j->id, 503, NULL);
		free(j);
		r->state = NULL;
		api_reply_db_err(r, err, res, msg);
		return;
	}
	if (PQntuples(res) < 1) {
		finish_err(r, 422, "callerid_not_owned", "from: the tenant owns no active DID "
			   "with this number");
		return;
	}
	place(r);
}

static void check_did(struct api_req *r)
{
	struct create_job *j = job_of(r);
	const char *p[2] = {body_str(r, "from"), j->tenant};
	int err;

	err = db_query(api_db(r->api), "SELECT 1 FROM did_numbers WHERE number = $1 AND "
		       "tenant_id = $2 AND status = 'active'", 2, p, 0, on_did, r);
	if (err)
		finish_err(r, 503, "unavailable", "the database is not reachable: retry");
}

static void on_idem(struct api_req *r, enum api_idem_state st, int status, json_t *body)
{
	struct create_job *j = job_of(r);

	switch (st) {
	case API_IDEM_NEW:
		check_did(r);
		return;
	case API_IDEM_REPLAY:
		free(j);
		r->state = NULL;
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Idempotent-Replayed",
				  "true");
		if (status == 202 && json_string_value(json_object_get(body, "id")))
			location(r, json_string_value(json_object_get(body, "id")));
		api_reply(r, status, json_incref(body));
		return;
	default:
		break;
	}
	free(j);
	r->state = NULL;
	if (st == API_IDEM_BUSY)
		api_fail(r, 409, "idempotency_in_flight", "a request with this Idempotency-Key "
			 "is still in progress: retry later");
	else if (st == API_IDEM_REUSED)
		api_fail(r, 422, "idempotency_key_reused", "this Idempotency-Key was used with "
			 "another request body");
	else
		api_fail(r, 503, "unavailable", "Idempotency-Key: the key store is not reachable");
}

void api_h_calls_create(struct api_req *r)
{
	struct api_err e = {0};
	struct create_job *j;
	const char *tenant, *key;
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
	key = r->req ? evhttp_find_header(evhttp_request_get_input_headers(r->req),
					  "Idempotency-Key") : NULL;
	if (key && !api_idem_key_ok(key)) {
		api_fail(r, 400, "invalid_idempotency_key", "Idempotency-Key: 1 to %d visible "
			 "ASCII characters", API_IDEM_KEY_MAX);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	j->r = r;
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant);
	r->state = j;
	if (key) {
		j->idem = true;
		api_idem_names(tenant, key, r->body, &j->id);
		api_idem_claim(r, &j->id, on_idem);
		return;
	}
	check_did(r);
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
