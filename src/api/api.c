/*
 * api.c — the HTTP server of the API (see api.h): listeners, the life of one request
 * (id, route, content type, authentication, scope, handler, answer, log line,
 * metrics), JSON errors, and the inbox through which the B2BUA's answers come back
 * to the control thread.
 */
#include "api/api.h"
#include "api/api_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>

#include "api/api_view.h"
#include "b2bua/b2bua.h"
#include "db/db.h"
#include "kv/kv.h"
#include "http_phrase.h"
#include "log.h"

struct api_job {
	struct api_job *next;
	void          (*fn)(void *arg);
	void           *arg;
};

struct api {
	struct event_base     *base;
	struct conf_api        cfg;
	struct b2bua          *b;
	struct events         *events;      /**< NULL: the events routes answer 503 */
	struct data           *data;        /**< trunk states, pool use (/metrics) */
	struct db             *db[API_DB_MAX];  /**< queries go to the least busy */
	unsigned               n_db;
	struct kv             *kv;          /**< NULL without Redis */
	struct api_auth       *auth;
	struct api_metrics     metrics;
	struct api_listener    pub, svc;
	char                   unix_path[108];
	pthread_mutex_t        lock;        /**< guards inbox */
	struct api_job        *inbox, *inbox_tail;
	int                    efd;
	struct event          *inbox_ev;
	struct event          *tick_ev;     /**< 1 s: the setup rate's samples */
	struct api_view       *view;        /**< the calls' copy (GET /v1/calls[/{id}]) */
	char                  *openapi;     /**< the OpenAPI document, rendered once */
	size_t                 openapi_len;
};

struct db *api_db(struct api *a)
{
	struct db *best = a->db[0];

	for (unsigned i = 1; i < a->n_db; i++)
		if ((db_up(a->db[i]) && !db_up(best)) ||
		    (db_up(a->db[i]) == db_up(best) && db_pending(a->db[i]) < db_pending(best)))
			best = a->db[i];
	return best;
}
struct kv *api_kv(struct api *a) { return a->kv; }
struct b2bua *api_b2bua(struct api *a) { return a->b; }
struct api_view *api_view_of(struct api *a) { return a->view; }
struct events *api_events(struct api *a) { return a->events; }
struct data *api_data(struct api *a) { return a->data; }
unsigned api_connections_open(struct api *a) { return a->pub.open + a->svc.open; }

const char *api_openapi_text(struct api *a, size_t *len)
{
	*len = a->openapi_len;
	return a->openapi;
}

void api_set_data(struct api *a, struct data *d)
{
	if (a)
		a->data = d;
}

void api_set_events(struct api *a, struct events *e)
{
	if (a)
		a->events = e;
}
const struct conf_api *api_conf(struct api *a) { return &a->cfg; }
struct api_metrics *api_metrics(struct api *a) { return &a->metrics; }
struct api_auth *api_auth_of(struct api *a) { return a->auth; }

int api_err_set(struct api_err *e, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* ---- the inbox: answers from other threads ---- */

int api_post(struct api *a, void (*fn)(void *arg), void *arg)
{
	struct api_job *j = calloc(1, sizeof(*j));
	uint64_t one = 1;
	bool wake;

	if (!j)
		return ENOMEM;
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&a->lock);
	wake = a->inbox == NULL;
	if (a->inbox_tail)
		a->inbox_tail->next = j;
	else
		a->inbox = j;
	a->inbox_tail = j;
	pthread_mutex_unlock(&a->lock);
	if (wake)
		while (write(a->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	return 0;
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	struct api_job *list, *j;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&a->lock);
	list = a->inbox;
	a->inbox = a->inbox_tail = NULL;
	pthread_mutex_unlock(&a->lock);
	while ((j = list) != NULL) {
		list = j->next;
		j->fn(j->arg);
		free(j);
	}
}

/* ---- answers ---- */

static void req_log(struct api_req *r, int status, double secs)
{
	struct log_rec rec;

	if (!log_begin(&rec, status >= 500 ? LOG_WARN : LOG_INFO, "api.request"))
		return;
	log_str(&rec, "request_id", r->id);
	log_str(&rec, "method", api_method_name(evhttp_request_get_command(r->req)));
	log_str(&rec, "path", r->path);
	log_int(&rec, "status", status);
	log_double(&rec, "ms", secs * 1000.0);
	log_str(&rec, "src", r->src);
	log_str(&rec, "listener", r->l->name);
	if (r->who.authenticated) {
		log_str(&rec, "tenant", r->who.tenant[0] ? r->who.tenant : NULL);
		log_str(&rec, "key_id", r->who.key_id);
	}
	log_end(&rec);
}

static void req_free(struct api_req *r)
{
	if (r->query_parsed)
		evhttp_clear_headers(&r->query);
	json_decref(r->body);
	json_decref(r->mcp_id);
	free(r->body_override);
	free(r);
}

void api_handoff(struct api_req *r)
{
	struct log_rec rec;

	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Request-Id", r->id);
	if (log_begin(&rec, LOG_INFO, "api.request")) {
		log_str(&rec, "request_id", r->id);
		log_str(&rec, "method", api_method_name(evhttp_request_get_command(r->req)));
		log_str(&rec, "path", r->path);
		log_str(&rec, "handed_to", "events");
		log_str(&rec, "src", r->src);
		log_str(&rec, "listener", r->l->name);
		log_str(&rec, "tenant", r->who.tenant[0] ? r->who.tenant : NULL);
		log_str(&rec, "key_id", r->who.key_id);
		log_end(&rec);
	}
	req_free(r);
}

static void send_buf(struct api_req *r, int status, const char *ctype, struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct timespec t;
	double secs;

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "X-Request-Id", r->id);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(r->req, status, http_phrase(status), b);
	clock_gettime(CLOCK_MONOTONIC, &t);
	secs = (double)(t.tv_sec - r->t0.tv_sec) + (double)(t.tv_nsec - r->t0.tv_nsec) / 1e9;
	api_metrics_observe(&r->api->metrics, status, secs);
	req_log(r, status, secs);
	req_free(r);
}

void api_reply_text(struct api_req *r, int status, const char *ctype, const char *text,
		    size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b && len)
		evbuffer_add(b, text, len);
	send_buf(r, status, ctype, b);
	if (b)
		evbuffer_free(b);
}

/* An MCP tool's answer: the route's JSON becomes the JSON-RPC result. */
static void reply_mcp(struct api_req *r, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_t *res = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text",
				text ? text : "", "isError", status >= 400);
	json_t *o;

	free(text);
	if (res && json_is_object(j))
		json_object_set(res, "structuredContent", j);
	json_decref(j);
	o = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", r->mcp_id, "result", res);
	json_decref(r->mcp_id);
	r->mcp_id = NULL;
	api_reply(r, 200, o);
}

void api_reply(struct api_req *r, int status, json_t *j)
{
	char *s;

	if (r->mcp_id) {
		reply_mcp(r, status, j);
		return;
	}
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (j && !s) {
		api_fail(r, 500, "internal", "out of memory");
		return;
	}
	if (!s) {   /* 204 */
		api_reply_text(r, status, "application/json", "", 0);
		return;
	}
	api_reply_text(r, status, "application/json", s, strlen(s));
	free(s);
}

void api_reply_err(struct api_req *r, const struct api_err *e)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "error", e->code, "message", e->message,
			      "request_id", r->id);

	if (o && e->field[0])
		json_object_set_new(o, "field", json_string(e->field));
	api_reply(r, e->status, o);
}

void api_fail(struct api_req *r, int status, const char *code, const char *fmt, ...)
{
	struct api_err e = {0};
	va_list ap;

	e.status = status;
	snprintf(e.code, sizeof(e.code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	api_reply_err(r, &e);
}

void api_reply_db_err(struct api_req *r, int err, const PGresult *res, const char *msg)
{
	const char *st = err == EIO && res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = err == EIO && res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)
					       : NULL;

	if (st && strcmp(st, "23505") == 0) {
		api_fail(r, 409, "conflict", "an object with this %s already exists",
			 detail ? detail : "key");
	} else if (st && strcmp(st, "23503") == 0) {
		api_fail(r, 422, "invalid_reference", "a referenced object does not exist (%s)",
			 detail ? detail : "foreign key");
	} else if (st && (strcmp(st, "23514") == 0 || strcmp(st, "23502") == 0)) {
		api_fail(r, 422, "invalid_value", "a value breaks the rule %s",
			 detail ? detail : "of the table");
	} else if (st && strncmp(st, "22", 2) == 0) {
		api_fail(r, 422, "invalid_value", "a value has the wrong form");
	} else if (err == EIO) {
		struct log_rec rec;

		if (log_begin(&rec, LOG_WARN, "api.db")) {
			log_str(&rec, "request_id", r->id);
			log_str(&rec, "msg", msg ? msg : "statement failed");
			log_end(&rec);
		}
		api_fail(r, 500, "internal", "the database refused the statement");
	} else {
		api_fail(r, 503, "unavailable", "the database is not reachable (%s)",
			 strerror(err));
	}
}

const char *api_query(struct api_req *r, const char *name)
{
	return r->query_parsed ? evhttp_find_header(&r->query, name) : NULL;
}

int api_body(struct api_req *r, char **buf, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = in ? evbuffer_get_length(in) : 0;
	char *s;

	if (r->body_override) {   /* an MCP tool's arguments */
		in = NULL;
		n = strlen(r->body_override);
	}
	s = malloc(n + 1);
	if (!s)
		return ENOMEM;
	if (r->body_override)
		memcpy(s, r->body_override, n);
	else if (n)
		evbuffer_copyout(in, s, n);
	s[n] = 0;
	*buf = s;
	*len = n;
	return 0;
}

/* ---- one request ---- */

void api_run(struct api_req *r)
{
	const struct api_route *rt = r->route;

	if ((rt->flags & AR_OPERATOR) && !r->who.operator_) {
		api_fail(r, 403, "operator_only", "this route needs an operator key");
		return;
	}
	if (rt->scope && rt->scope[0] && !api_principal_has(&r->who, rt->scope)) {
		api_fail(r, 403, "insufficient_scope", "this key lacks the scope %s", rt->scope);
		return;
	}
	rt->h(r);
}

static void on_authed(struct api_req *r, int status, const struct api_err *e)
{
	if (status) {
		api_reply_err(r, e);
		return;
	}
	api_run(r);
}

static bool json_ctype(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

/*
 * A body's framing that two HTTP readers could take differently (RFC 9112 6.3): a
 * Transfer-Encoding other than one "chunked", one beside a Content-Length, more than
 * one Content-Length, or one that is not only digits. evhttp reads the first of each header only; a proxy in
 * front may read another, and the two would then disagree on where the next request
 * starts. Such a request is refused and its connection closed.
 */
static bool framing_ambiguous(struct evhttp_request *req)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const struct evkeyval *kv;
	unsigned cl = 0, te = 0;
	bool te_chunked = false;

	for (kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
		if (strcasecmp(kv->key, "Content-Length") == 0) {
			/* 1*DIGIT only: evhttp's strtoll also takes "+5" or " -0", which
			 * another reader may refuse or read otherwise. */
			if (!kv->value[0] || strspn(kv->value, "0123456789") != strlen(kv->value))
				return true;
			cl++;
		} else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
			te++;
			te_chunked = strcasecmp(kv->value, "chunked") == 0;
		}
	}
	return cl > 1 || te > 1 || (te && (cl || !te_chunked));
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct api_listener *l = arg;
	struct api_req *r = calloc(1, sizeof(*r));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	char allow[64] = "";
	unsigned char rnd[8];
	int err;

	if (!r) {
		evhttp_send_error(req, 503, http_phrase(503));
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->api = l->api;
	r->req = req;
	r->l = l;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(r->id, sizeof(r->id), "req_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	{
		struct evhttp_connection *c = evhttp_request_get_connection(req);
		const char *host = NULL;
		ev_uint16_t port = 0;

		if (c)
			evhttp_connection_get_peer(c, (char **)&host, &port);
		snprintf(r->src, sizeof(r->src), "%s", host && host[0] ? host : "unix");
	}
	snprintf(r->path, sizeof(r->path), "%s", path ? path : "");
	l->api->metrics.requests++;
	if (framing_ambiguous(req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		api_fail(r, 400, "bad_request", "the body's length is ambiguous "
			 "(Transfer-Encoding with Content-Length, or either twice)");
		return;
	}
	if (!path || strlen(path) >= sizeof(r->path)) {
		api_fail(r, 404, "route_not_found", "no such route");
		return;
	}
	if (q) {
		if (evhttp_parse_query_str(q, &r->query) != 0) {
			evhttp_clear_headers(&r->query);
			api_fail(r, 400, "invalid_query", "the query string is malformed");
			return;
		}
		r->query_parsed = true;
	}
	err = api_route_match(evhttp_request_get_command(req), path, &r->route, r->params,
			      allow, sizeof(allow));
	if (err == EPERM) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		api_fail(r, 405, "method_not_allowed", "this route allows %s", allow);
		return;
	}
	if (err) {
		api_fail(r, 404, "route_not_found", "no such route");
		return;
	}
	if ((r->route->flags & AR_BODY) &&
	    !json_ctype(evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Content-Type"))) {
		api_fail(r, 415, "unsupported_media_type",
			 "the body must be application/json");
		return;
	}
	if (r->route->flags & AR_PUBLIC) {
		r->route->h(r);
		return;
	}
	api_auth_check(l->api->auth, r, on_authed);
}

/* ---- listeners ---- */

static int listen_unix(const char *path, evutil_socket_t *fdp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return EEXIST;
		unlink(path);   /* a stale socket: trunxd's control socket already
				   proved no live trunxd holds this configuration */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0660) != 0 ||
	    listen(fd, 128) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

static int listener_open(struct api *a, struct api_listener *l, bool service,
			 const char *addr, uint16_t port, const char *unix_path, char *err,
			 size_t errlen)
{
	struct evhttp_bound_socket *bs;

	l->api = a;
	l->service = service;
	snprintf(l->name, sizeof(l->name), "%s", service ? "service" : "public");
	l->http = evhttp_new(a->base);
	if (!l->http)
		return ENOMEM;
	evhttp_set_max_body_size(l->http, a->cfg.body_limit);
	evhttp_set_max_headers_size(l->http, 16384);
	evhttp_set_timeout(l->http, (int)(a->cfg.timeout_ms + 999) / 1000);
	/* HEAD is not served (evhttp answers 501 and closes): a keep-alive connection
	 * stopped reading after evhttp's answer to a HEAD. */
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_OPTIONS);
	evhttp_set_flags(l->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(l->http, on_request, l);
	l->idle_ms = a->cfg.timeout_ms;
	l->body_limit = a->cfg.body_limit;
	api_wire_attach(l);
	if (unix_path) {
		evutil_socket_t fd;
		int e = listen_unix(unix_path, &fd);

		if (e) {
			snprintf(err, errlen, "api service_listen unix:%s: %s", unix_path,
				 strerror(e));
			return e;
		}
		bs = evhttp_accept_socket_with_handle(l->http, fd);
		if (!bs) {
			close(fd);
			return ENOMEM;
		}
		snprintf(a->unix_path, sizeof(a->unix_path), "%s", unix_path);
	} else {
		bs = evhttp_bind_socket_with_handle(l->http, addr, port);
		if (!bs) {
			int e = errno ? errno : EADDRINUSE;

			snprintf(err, errlen, "api %s %s:%u: %s",
				 service ? "service_listen" : "listen", addr, port, strerror(e));
			return e;
		}
	}
	if (api_wire_guard(l, a->base, bs, a->cfg.max_connections, a->cfg.max_conn_per_source,
			   a->cfg.timeout_ms + 2000)) {
		snprintf(err, errlen, "api %s: out of memory", l->name);
		return ENOMEM;
	}
	return 0;
}

static int open_service(struct api *a, char *err, size_t errlen)
{
	const char *sl = a->cfg.service_listen;
	char ip[CONF_HOST_MAX];
	const char *colon;
	size_t n;

	if (strncmp(sl, "unix:", 5) == 0)
		return listener_open(a, &a->svc, true, NULL, 0, sl + 5, err, errlen);
	colon = strrchr(sl, ':');
	n = (size_t)(colon - sl);
	if (sl[0] == '[') {
		memcpy(ip, sl + 1, n - 2);
		ip[n - 2] = 0;
	} else {
		memcpy(ip, sl, n);
		ip[n] = 0;
	}
	return listener_open(a, &a->svc, true, ip, (uint16_t)atoi(colon + 1), NULL, err,
			     errlen);
}

static void on_kv_state(bool up, void *arg);

int api_create(struct api **ap, struct event_base *base, const struct conf *cf,
	       struct b2bua *b, char *err, size_t errlen)
{
	struct db_cfg dcfg = {0};
	struct api *a;
	int e;

	if (!ap || !base || !cf || conf_mode(cf) != CONF_MODE_DB ||
	    (!cf->api.listen_addr[0] && !cf->api.service_listen[0])) {
		snprintf(err, errlen, "the API needs database mode and a listener");
		return EINVAL;
	}
	e = api_routes_init();
	if (e) {
		snprintf(err, errlen, "api routes: %s", strerror(e));
		return e;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->base = base;
	a->cfg = cf->api;
	a->b = b;
	a->efd = -1;
	pthread_mutex_init(&a->lock, NULL);
	snprintf(dcfg.conninfo, sizeof(dcfg.conninfo), "%s", cf->data.postgres);
	dcfg.query_timeout_ms = cf->data.query_timeout_ms;
	a->n_db = cf->api.db_connections ? cf->api.db_connections : 1;
	if (a->n_db > API_DB_MAX)
		a->n_db = API_DB_MAX;
	e = 0;
	for (unsigned i = 0; !e && i < a->n_db; i++)
		e = db_create(&a->db[i], base, &dcfg, NULL, NULL, a);
	if (!e && cf->data.redis[0]) {
		struct kv_cfg kc = {0};

		snprintf(kc.url, sizeof(kc.url), "%s", cf->data.redis);
		kc.timeout_ms = cf->data.admit_timeout_ms;
		e = kv_create(&a->kv, base, &kc, on_kv_state, a);
	}
	if (!e)
		e = api_auth_create(&a->auth, a, base, cf->data.redis,
				    cf->data.admit_timeout_ms);
	if (!e)   /* calls still ending count too; 0 = no cap configured */
		e = api_view_create(&a->view, cf->sip.max_calls ?
				    (size_t)cf->sip.max_calls * 2 + 1024 : API_VIEW_CALLS_MAX);
	if (!e) {   /* the same for every request: 1 ms to render, served as bytes */
		json_t *doc = api_openapi_doc();

		a->openapi = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		a->openapi_len = a->openapi ? strlen(a->openapi) : 0;
		json_decref(doc);
		if (!a->openapi)
			e = ENOMEM;
	}
	if (!e) {
		a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		a->inbox_ev = a->efd >= 0 ?
			event_new(base, a->efd, EV_READ | EV_PERSIST, on_inbox, a) : NULL;
		if (!a->inbox_ev || event_add(a->inbox_ev, NULL) != 0)
			e = ENOMEM;
	}
	if (e)
		snprintf(err, errlen, "api: %s", strerror(e));
	if (!e && cf->api.listen_addr[0])
		e = listener_open(a, &a->pub, false, cf->api.listen_addr, cf->api.listen_port,
				  NULL, err, errlen);
	if (!e && cf->api.service_listen[0])
		e = open_service(a, err, errlen);
	if (e) {
		api_destroy(a);
		return e;
	}
	if (b)   /* before the B2BUA starts: its first message is number 1 */
		b2bua_set_view_hook(b, api_calls_on_view, a);
	*ap = a;
	return 0;
}

static void on_kv_state(bool up, void *arg)
{
	struct api *a = arg;

	api_auth_kv_state(a->auth, up);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	struct b2bua_counters c = {0};

	(void)fd;
	(void)what;
	if (a->b)
		b2bua_get_counters(a->b, &c);
	api_metrics_tick(&a->metrics, c.calls_total);
}

int api_start(struct api *a)
{
	struct timeval sec = {1, 0};
	int e;

	if (!a)
		return EINVAL;
	a->tick_ev = event_new(a->base, -1, EV_PERSIST, on_tick, a);
	e = !a->tick_ev || event_add(a->tick_ev, &sec) != 0 ? ENOMEM : 0;
	/* The setup rate's first sample is the count at start: a call started before the
	 * first tick would otherwise be in every sample, and never in the rate. */
	if (!e)
		on_tick(-1, 0, a);
	for (unsigned i = 0; !e && i < a->n_db; i++)
		e = db_start(a->db[i]);
	if (!e && a->kv)
		e = kv_start(a->kv);
	if (!e)
		e = api_auth_start(a->auth);
	if (!e)
		log_msg(LOG_INFO, "api.start", "API listening on %s%s%s%s%u%s%s",
			strchr(a->cfg.listen_addr, ':') ? "[" : "",
			a->cfg.listen_addr[0] ? a->cfg.listen_addr : "",
			strchr(a->cfg.listen_addr, ':') ? "]" : "",
			a->cfg.listen_addr[0] ? ":" : "", a->cfg.listen_addr[0] ?
			a->cfg.listen_port : 0u, a->cfg.service_listen[0] ? " and " : "",
			a->cfg.service_listen);
	return e;
}

void api_destroy(struct api *a)
{
	if (!a)
		return;
	/* The clients first: their requests in flight are answered (503) while the
	 * HTTP servers still exist. The B2BUA is gone: late answers reach nothing. */
	a->b = NULL;
	a->events = NULL;
	a->data = NULL;
	if (a->tick_ev)
		event_free(a->tick_ev);
	for (unsigned i = 0; i < API_DB_MAX; i++)
		db_destroy(a->db[i]);
	kv_destroy(a->kv);
	/* Answers from the B2BUA (stopped before us) that were not handled yet. */
	while (a->inbox) {
		struct api_job *j = a->inbox;

		a->inbox = j->next;
		j->fn(j->arg);
		free(j);
	}
	api_view_destroy(a->view);   /* after the inbox: it held view messages too */
	api_auth_destroy(a->auth);
	if (a->pub.http)
		evhttp_free(a->pub.http);
	if (a->svc.http)
		evhttp_free(a->svc.http);
	api_wire_release(&a->pub);   /* after evhttp_free: its connections counted out */
	api_wire_release(&a->svc);
	if (a->unix_path[0])
		unlink(a->unix_path);
	if (a->inbox_ev)
		event_free(a->inbox_ev);
	if (a->efd >= 0)
		close(a->efd);
	pthread_mutex_destroy(&a->lock);
	free(a->openapi);
	free(a);
}
