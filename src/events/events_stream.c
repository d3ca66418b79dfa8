/*
 * events_stream.c — this node's reader of the events table and its Server-Sent Events
 * clients (see events.h, DESIGN). The reader reads rows after `last` in id order; each
 * live client whose cursor is behind a row, and whose tenant and filter match, gets it.
 * A client with Last-Event-ID replays from the table up to the reader's position, then
 * joins the live ones. A client whose unsent output passes sse_buffer pauses (takes no
 * more) until its socket drained, then catches up from the table; one that does not
 * drain is cut, and replays after its reconnect. A slow reader costs itself only:
 * memory stays about sse_buffer plus one event per client, and nothing waits for it.
 */
#include "events/events_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "db/db.h"
#include "log.h"

#define READ_PAGE   1000
#define REPLAY_PAGE 500
#define RETRY_MS    1000
#define DRAIN_MS    100      /* a paused client's socket is looked at this often */
#define STALL_MS    5000     /* at least this long paused without draining: cut */
#define KEYCHECK_MS 5000     /* the open streams' API keys are looked up this often */

static const char SQL_LAST[] = "SELECT coalesce(max(id), 0) FROM events";
static const char SQL_READ[] =
	"SELECT e.id, e.type, coalesce(e.tenant_id, ''), trunx_event_json(e) FROM events e "
	"WHERE e.id > $1::bigint ORDER BY e.id LIMIT 1000";
static const char SQL_REPLAY[] =
	"SELECT e.id, e.type, coalesce(e.tenant_id, ''), trunx_event_json(e) FROM events e "
	"WHERE e.id > $1::bigint AND e.id <= $2::bigint AND ($3::text IS NULL OR "
	"e.tenant_id = $3) ORDER BY e.id LIMIT 500";

struct sse_client {
	struct sse_client     *next, *prev;
	struct events         *e;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	char                   rid[32];    /**< the API's request id, "" = none */
	bool                   operator;
	char                   tenant[64];
	char                   key_id[40]; /**< the API key's id, "" = none to look up */
	uint64_t               key_gen;    /**< the key lookup that covers it */
	struct events_types    types;
	uint64_t               cursor;     /**< every id up to this was considered */
	uint64_t               upto;       /**< the replay's bound (the reader's position) */
	bool                   live;
	bool                   want_replay; /**< a replay waits for the reader's start */
	bool                   querying;   /**< a replay page is out */
	bool                   gone;       /**< closed while a page was out */
	bool                   paused;     /**< behind: waits for its socket to drain */
	uint64_t               paused_ms;  /**< since when (monotonic ms) */
	struct event          *ka_ev;
	struct event          *retry_ev;
};

/* ---- clients ---- */

static void client_unlink(struct sse_client *c)
{
	struct events *e = c->e;

	if (c->prev)
		c->prev->next = c->next;
	else if (e->clients == c)
		e->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	e->n_clients--;
	event_del(c->ka_ev);
	event_del(c->retry_ev);
}

static void client_free(struct sse_client *c)
{
	if (c->ka_ev)
		event_free(c->ka_ev);
	if (c->retry_ev)
		event_free(c->retry_ev);
	free(c);
}

/* The connection went away (the peer closed, a write failed, or the server is freed). */
static void on_client_close(struct evhttp_connection *conn, void *arg)
{
	struct sse_client *c = arg;

	(void)conn;
	client_unlink(c);
	/* A request the connection let go of is ours to free. */
	if (c->req && !evhttp_request_get_connection(c->req))
		evhttp_send_reply_end(c->req);
	c->req = NULL;
	if (c->querying) {
		c->gone = true;   /* the page's answer frees it */
		return;
	}
	client_free(c);
}

/* Cuts a client: its connection is closed now (its close callback is ours no more). */
static void client_cut(struct sse_client *c, const char *why)
{
	struct events *e = c->e;
	struct evhttp_connection *conn = c->conn;

	struct log_rec rec;

	e->n_cut++;
	if (log_begin(&rec, LOG_WARN, "events.sse_cut")) {
		if (c->rid[0])
			log_str(&rec, "request_id", c->rid);
		log_fmt(&rec, "msg", "SSE client cut at id %" PRIu64 ": %s", c->cursor, why);
		log_end(&rec);
	}
	evhttp_connection_set_closecb(conn, NULL, NULL);
	client_unlink(c);
	c->req = NULL;
	if (c->querying)
		c->gone = true;
	else
		client_free(c);
	evhttp_connection_free(conn);
}

/* The kernel grows a stream socket's send buffer by itself, up to tcp_wmem's maximum
 * (4 MB here): a client that stops reading would hold that much of ours before its
 * unsent output even began to count against sse_buffer. Bound it to sse_buffer (the
 * kernel doubles the figure for its bookkeeping); events are small, a reading client
 * never needs more in flight. */
static void bound_send_buffer(struct sse_client *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	int size = (int)c->e->cfg.sse_buffer;

	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static uint64_t stall_ms(const struct events *e)
{
	return e->cfg.sse_keepalive_ms * 2u > STALL_MS ? e->cfg.sse_keepalive_ms * 2u : STALL_MS;
}

/* The connection's timeouts are its listener's idle ones (the API's `timeout`): the
 * read one would end every stream that long after it began, its client having
 * nothing more to send (quiet or not: writing does not reset it). A stream reads no
 * more (only the peer's close, which needs no timeout); its writing is judged by the
 * pause and cut below, the write timeout (twice the stall) only backs that up. */
static void stream_timeouts(struct sse_client *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	uint64_t ms = stall_ms(c->e) * 2u;
	struct timeval wr = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};

	if (bev)
		bufferevent_set_timeouts(bev, NULL, &wr);
}

static size_t unsent(const struct sse_client *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);

	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* Its output not yet taken by the socket passed sse_buffer. */
static bool behind(const struct sse_client *c)
{
	return unsent(c) > c->e->cfg.sse_buffer;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * A client that is behind stops taking events (its cursor stays at the last one it
 * was given) until its socket drained, then catches up from the table; one that does
 * not drain within max(STALL_MS, two keep-alives) is cut. Memory per client stays
 * about sse_buffer plus one event.
 */
static void pause_client(struct sse_client *c)
{
	struct timeval tv = {0, DRAIN_MS * 1000};

	c->live = false;
	c->paused = true;
	c->paused_ms = mono_ms();
	evtimer_add(c->retry_ev, &tv);
}

static void client_write(struct sse_client *c, struct evbuffer *buf)
{
	evhttp_send_reply_chunk(c->req, buf);
}

static bool client_wants(const struct sse_client *c, const char *type, const char *tenant)
{
	if (!c->operator && strcmp(c->tenant, tenant) != 0)
		return false;
	return events_types_match(&c->types, type);
}

static void frame(struct evbuffer *buf, const char *id, const char *type, const char *json)
{
	evbuffer_add_printf(buf, "id: %s\nevent: %s\ndata: %s\n\n", id, type, json);
}

static void keepalive_arm(struct sse_client *c)
{
	struct timeval tv = {c->e->cfg.sse_keepalive_ms / 1000,
			     (c->e->cfg.sse_keepalive_ms % 1000) * 1000};

	evtimer_add(c->ka_ev, &tv);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct sse_client *c = arg;
	struct evbuffer *buf = evbuffer_new();

	(void)fd;
	(void)what;
	if (!buf || c->paused) {
		if (buf)
			evbuffer_free(buf);
		keepalive_arm(c);
		return;
	}
	evbuffer_add_printf(buf, ": keep-alive\n\n");
	client_write(c, buf);
	keepalive_arm(c);
	evbuffer_free(buf);
}

/* ---- replay ---- */

static void replay(struct sse_client *c);

static void replay_later(struct sse_client *c)
{
	struct timeval tv = {RETRY_MS / 1000, 0};

	evtimer_add(c->retry_ev, &tv);
}

static void on_replay(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct sse_client *c = arg;
	struct events *e = c->e;
	struct evbuffer *buf;
	int rows;

	(void)more;
	c->querying = false;
	if (c->gone || err == ESHUTDOWN) {
		client_free(c);
		return;
	}
	if (err) {
		struct log_rec rec;

		if (log_begin(&rec, LOG_WARN, "events.replay")) {
			if (c->rid[0])
				log_str(&rec, "request_id", c->rid);
			log_fmt(&rec, "msg", "replay from id %" PRIu64 " failed: %s", c->cursor,
				msg ? msg : strerror(err));
			log_end(&rec);
		}
		replay_later(c);
		return;
	}
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		const char *type = PQgetvalue(res, i, 1);

		if (client_wants(c, type, PQgetvalue(res, i, 2))) {
			if (behind(c)) {
				pause_client(c);
				return;
			}
			buf = evbuffer_new();
			if (!buf) {
				replay_later(c);
				return;
			}
			frame(buf, PQgetvalue(res, i, 0), type, PQgetvalue(res, i, 3));
			client_write(c, buf);
			evbuffer_free(buf);
			e->n_replayed++;
			e->n_sent++;
		}
		c->cursor = strtoull(PQgetvalue(res, i, 0), NULL, 10);
	}
	if (rows < REPLAY_PAGE && c->cursor < c->upto)
		c->cursor = c->upto;   /* nothing else up to the bound */
	if (c->cursor >= e->last)
		c->live = true;   /* the reader takes it from here */
	else
		replay(c);
}

static void replay(struct sse_client *c)
{
	struct events *e = c->e;
	char from[24], upto[24];
	const char *p[3] = {from, upto, c->operator ? NULL : c->tenant};

	if (!e->ready) {
		c->want_replay = true;
		return;
	}
	c->want_replay = false;
	c->upto = e->last;
	if (c->cursor >= c->upto) {
		/* Nothing to replay (a client that saw more than this node's reader, on a
		 * node ahead of it, keeps its cursor: the reader skips what it saw). */
		c->live = true;
		return;
	}
	snprintf(from, sizeof(from), "%" PRIu64, c->cursor);
	snprintf(upto, sizeof(upto), "%" PRIu64, c->upto);
	if (db_query(e->stream_db, SQL_REPLAY, 3, p, 0, on_replay, c) == 0)
		c->querying = true;
	else
		replay_later(c);
}

static void on_replay_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sse_client *c = arg;
	struct events *e = c->e;
	uint64_t stall = stall_ms(e);

	(void)fd;
	(void)what;
	if (!c->paused) {
		replay(c);
	} else if (unsent(c) <= e->cfg.sse_buffer / 2) {
		c->paused = false;
		replay(c);   /* catches up from the table */
	} else if (mono_ms() - c->paused_ms > stall) {
		client_cut(c, "too slow: its unsent output stayed over sse_buffer");
	} else {
		struct timeval tv = {0, DRAIN_MS * 1000};

		evtimer_add(c->retry_ev, &tv);
	}
}

/* ---- the streams' keys ---- */

/* Which of the keys given ($1) still open a stream: not revoked, not deleted (with
 * their tenant or alone), their tenant active. */
static const char SQL_KEYS[] =
	"SELECT k.id::text FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id "
	"WHERE k.id = ANY($1::uuid[]) AND k.revoked_at IS NULL AND "
	"coalesce(t.status = 'active', k.tenant_id IS NULL)";

static void on_keys(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct events *e = arg;
	struct sse_client *c, *next;
	int rows;

	(void)more;
	if (err == ESHUTDOWN)
		return;
	e->keychecking = false;
	if (err) {   /* Postgres away: the streams go on, looked up again next time */
		log_msg(LOG_DEBUG, "events.keys", "looking up the streams' keys failed: %s",
			msg ? msg : strerror(err));
		return;
	}
	rows = PQntuples(res);
	for (c = e->clients; c; c = next) {
		bool valid = false;

		next = c->next;
		if (!c->key_id[0] || c->key_gen != e->keycheck_gen)
			continue;   /* no key, or opened since the lookup was sent */
		for (int i = 0; i < rows && !valid; i++)
			valid = strcmp(PQgetvalue(res, i, 0), c->key_id) == 0;
		if (!valid)
			client_cut(c, "its API key was revoked or deleted, or its tenant is "
				   "no longer active");
	}
}

static void on_keycheck(evutil_socket_t fd, short what, void *arg)
{
	struct events *e = arg;
	struct sse_client *c;
	size_t n = 0, o = 0;
	char *arr;
	const char *p[1];

	(void)fd;
	(void)what;
	if (e->keychecking || e->destroying || !db_up(e->stream_db))
		return;
	for (c = e->clients; c; c = c->next)
		n += c->key_id[0] ? 1 : 0;
	if (!n || !(arr = malloc(n * (sizeof(c->key_id) + 1) + 3)))
		return;
	e->keycheck_gen++;
	arr[o++] = '{';
	for (c = e->clients; c; c = c->next) {
		if (!c->key_id[0])
			continue;
		/* key_id: the principal's id as Postgres gave it (a uuid) */
		o += (size_t)sprintf(arr + o, "%s%s", o > 1 ? "," : "", c->key_id);
		c->key_gen = e->keycheck_gen;
	}
	arr[o++] = '}';
	arr[o] = '\0';
	p[0] = arr;
	if (db_query(e->stream_db, SQL_KEYS, 1, p, 0, on_keys, e) == 0)
		e->keychecking = true;
	free(arr);
}

/* ---- the reader ---- */

static void read_rows(struct events *e);

static void deliver(struct events *e, const PGresult *res)
{
	int rows = PQntuples(res);

	for (int i = 0; i < rows; i++) {
		const char *ids = PQgetvalue(res, i, 0), *type = PQgetvalue(res, i, 1);
		const char *tenant = PQgetvalue(res, i, 2), *json = PQgetvalue(res, i, 3);
		uint64_t id = strtoull(ids, NULL, 10);
		struct sse_client *c, *next;

		for (c = e->clients; c; c = next) {
			next = c->next;
			if (!c->live || c->cursor >= id)
				continue;
			if (client_wants(c, type, tenant)) {
				struct evbuffer *buf;

				if (behind(c)) {
					pause_client(c);
					continue;
				}
				buf = evbuffer_new();
				if (!buf) {
					pause_client(c);   /* it catches up later */
					continue;
				}
				frame(buf, ids, type, json);
				client_write(c, buf);
				e->n_sent++;
				evbuffer_free(buf);
			}
			c->cursor = id;
		}
		e->last = id;
		e->n_read++;
	}
}

static void on_read(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct events *e = arg;

	(void)more;
	if (err == ESHUTDOWN)
		return;
	e->reading = false;
	if (err) {
		log_msg(LOG_DEBUG, "events.read", "reading the events table failed: %s",
			msg ? msg : strerror(err));
		return;   /* the poll timer tries again */
	}
	if (!e->ready) {
		struct sse_client *c, *next;

		e->last = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		e->ready = true;
		log_msg(LOG_INFO, "events.ready", "event stream ready at id %" PRIu64, e->last);
		for (c = e->clients; c; c = next) {
			next = c->next;
			if (c->cursor == UINT64_MAX)
				c->cursor = e->last;   /* "from now" */
			if (c->want_replay)
				replay(c);
		}
		read_rows(e);
		return;
	}
	deliver(e, res);
	if (PQntuples(res) >= READ_PAGE || e->read_again) {
		e->read_again = false;
		read_rows(e);
	}
}

static void read_rows(struct events *e)
{
	char from[24];
	const char *p[1] = {from};

	if (e->destroying)
		return;
	if (e->reading) {
		e->read_again = true;
		return;
	}
	snprintf(from, sizeof(from), "%" PRIu64, e->last);
	if (db_query(e->stream_db, e->ready ? SQL_READ : SQL_LAST, e->ready ? 1 : 0,
		     e->ready ? p : NULL, 0, on_read, e) == 0)
		e->reading = true;
}

void stream_kick(struct events *e)
{
	if (e && db_up(e->stream_db))
		read_rows(e);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct events *e = arg;
	struct timeval tv = {e->cfg.poll_ms / 1000, (e->cfg.poll_ms % 1000) * 1000};

	(void)fd;
	(void)what;
	stream_kick(e);
	evtimer_add(e->poll_ev, &tv);
}

void stream_db_state(struct events *e, bool up)
{
	if (!up) {
		e->reading = false;   /* its answer (ECONNRESET) came or comes */
		return;
	}
	read_rows(e);
}

int stream_init(struct events *e)
{
	struct timeval tv = {e->cfg.poll_ms / 1000, (e->cfg.poll_ms % 1000) * 1000};

	struct timeval kc = {KEYCHECK_MS / 1000, (KEYCHECK_MS % 1000) * 1000};

	e->poll_ev = evtimer_new(e->base, on_poll, e);
	if (!e->poll_ev || evtimer_add(e->poll_ev, &tv) != 0)
		return ENOMEM;
	e->keycheck_ev = event_new(e->base, -1, EV_PERSIST, on_keycheck, e);
	if (!e->keycheck_ev || evtimer_add(e->keycheck_ev, &kc) != 0)
		return ENOMEM;
	return 0;
}

void stream_fini(struct events *e)
{
	while (e->clients) {
		struct sse_client *c = e->clients;

		evhttp_connection_set_closecb(c->conn, NULL, NULL);
		client_unlink(c);
		if (c->req)
			evhttp_send_reply_end(c->req);
		if (c->querying)
			c->gone = true;   /* db_destroy answers it (ESHUTDOWN) */
		else
			client_free(c);
	}
	if (e->poll_ev)
		event_free(e->poll_ev);
	e->poll_ev = NULL;
	if (e->keycheck_ev)
		event_free(e->keycheck_ev);
	e->keycheck_ev = NULL;
}

/* ---- GET /v1/events ---- */

void events_http_stream(struct events *e, struct evhttp_request *req, const char *tenant,
			const char *types, const char *key_id)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *lei = evhttp_find_header(in, "Last-Event-ID");
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct sse_client *c;
	struct evbuffer *buf;
	uint64_t from = UINT64_MAX;

	if (!e || !req)
		return;
	if (tenant && (!tenant[0] || strlen(tenant) >= sizeof(c->tenant))) {
		api_error(req, 400, "bad_tenant", "bad tenant");
		return;
	}
	if (tenant && e->cfg.sse_max_per_tenant) {
		unsigned n = 0;

		for (c = e->clients; c; c = c->next)
			n += !c->operator && strcmp(c->tenant, tenant) == 0;
		if (n >= e->cfg.sse_max_per_tenant) {
			struct log_rec rec;

			e->n_refused++;
			if (log_begin(&rec, LOG_WARN, "events.sse_refused")) {
				if (events_request_id(req))
					log_str(&rec, "request_id", events_request_id(req));
				log_str(&rec, "tenant", tenant);
				log_fmt(&rec, "msg", "tenant holds %u streams (sse_max_per_tenant)",
					n);
				log_end(&rec);
			}
			evhttp_add_header(out, "Retry-After", "5");
			api_error(req, 429, "too_many_streams", "this tenant holds %u event "
				  "streams on this node (sse_max_per_tenant)", n);
			return;
		}
	}
	if (lei && lei[0] && events_parse_last_id(lei, &from) != 0) {
		api_error(req, 400, "bad_last_event_id",
			  "Last-Event-ID must be an event id (decimal digits)");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		api_error(req, 503, "unavailable", "out of memory");
		return;
	}
	if (events_parse_types(types, &c->types) != 0) {
		free(c);
		api_error(req, 400, "bad_types", "types: comma-separated event types such as "
			  "call.answered or call.*");
		return;
	}
	c->e = e;
	c->req = req;
	snprintf(c->rid, sizeof(c->rid), "%s", events_request_id(req) ? events_request_id(req) : "");
	c->conn = evhttp_request_get_connection(req);
	c->operator = tenant == NULL;
	if (tenant)
		snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	/* Only a uuid goes into the lookup's array literal. */
	if (key_id && strlen(key_id) == 36 && strspn(key_id, "0123456789abcdefABCDEF-") == 36)
		snprintf(c->key_id, sizeof(c->key_id), "%s", key_id);
	c->ka_ev = evtimer_new(e->base, on_keepalive, c);
	c->retry_ev = evtimer_new(e->base, on_replay_retry, c);
	buf = evbuffer_new();
	if (!c->conn || !c->ka_ev || !c->retry_ev || !buf) {
		if (buf)
			evbuffer_free(buf);
		client_free(c);
		api_error(req, 503, "unavailable", "out of memory");
		return;
	}
	bound_send_buffer(c);
	evhttp_add_header(out, "Content-Type", "text/event-stream");
	evhttp_add_header(out, "Cache-Control", "no-cache");
	evhttp_add_header(out, "X-Accel-Buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	stream_timeouts(c);
	c->next = e->clients;
	if (e->clients)
		e->clients->prev = c;
	e->clients = c;
	e->n_clients++;
	evhttp_connection_set_closecb(c->conn, on_client_close, c);
	evbuffer_add_printf(buf, "retry: 1000\n\n");
	evhttp_send_reply_chunk(req, buf);
	evbuffer_free(buf);
	keepalive_arm(c);
	if (from == UINT64_MAX) {
		/* From now on. */
		c->cursor = e->ready ? e->last : UINT64_MAX;
		c->live = e->ready;
		if (!e->ready)
			c->want_replay = true;
		return;
	}
	c->cursor = from;
	replay(c);
}
