/*
 * events_hook.c — webhook attempts (see events.h, DESIGN): due deliveries are claimed
 * from Postgres with a lease, posted with libevent's HTTP client, signed per Standard Webhooks over
 * the exact body sent, and their outcome written back: delivered, due again after the
 * schedule's next delay, or dead. Where and how an attempt connects (URL policy,
 * address policy, TLS): events_dial.c.
 */
#include "events/events_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "db/db.h"
#include "events/events_sign.h"
#include "log.h"

#define SECRETS_MAX 4
#define BODY_MAX    (64 * 1024)   /* longest receiver answer read */

static const char SQL_CLAIM[] =
	"WITH c AS (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND "
	"next_at <= now() AND (attempts > 0 OR created_at <= now() - make_interval(secs => "
	"$3::double precision)) ORDER BY next_at, id LIMIT $1::int FOR UPDATE SKIP LOCKED), "
	"u AS (UPDATE webhook_deliveries d SET attempts = d.attempts + 1, updated_at = now(), "
	"next_at = now() + make_interval(secs => $2::double precision) FROM c "
	"WHERE d.id = c.id RETURNING d.id, d.webhook_id, d.event_id, d.attempts) "
	"SELECT u.id, u.attempts, w.url, w.secrets::text, u.event_id, trunx_event_json(e) "
	"FROM u JOIN webhooks w ON w.id = u.webhook_id JOIN events e ON e.id = u.event_id";
static const char SQL_DONE[] =
	"UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(), "
	"last_status = $2::int, last_error = NULL, updated_at = now() "
	"WHERE id = $1::bigint AND state = 'pending'";
static const char SQL_AGAIN[] =
	"UPDATE webhook_deliveries SET next_at = now() + make_interval(secs => $2::double "
	"precision), last_status = nullif($3::int, 0), last_error = $4, updated_at = now() "
	"WHERE id = $1::bigint AND state = 'pending'";
static const char SQL_RETRY_PENDING[] =
	"SELECT count(*) FROM webhook_deliveries WHERE state = 'pending' AND attempts > 0";
static const char SQL_DEAD[] =
	"UPDATE webhook_deliveries SET state = 'dead', last_status = nullif($2::int, 0), "
	"last_error = $3, updated_at = now() WHERE id = $1::bigint AND state = 'pending'";

struct hook_attempt {
	struct hook_attempt     *next, *prev;
	struct events           *e;
	struct evhttp_connection *conn;
	struct evhttp_request   *req;     /**< until it completes */
	char                     delivery[24];
	char                     event_id[24];
	unsigned                 attempts;
	char                     error[128];
	int                      status;
	struct timespec          t0;      /**< sent (monotonic) */
	struct dial_target       t;
	struct dial_ticket      *ticket;  /**< resolving */
	bool                     in_start, resolved;
	char                     addr[48];   /**< the address connected to */
	struct ssl_st           *ssl;     /**< https: the connection's (not ours to free) */
	struct event            *free_ev;  /**< frees the connection after its callback */
};

static void claim(struct events *e);

/* ---- outcome ---- */

static void on_written(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	(void)arg;
	(void)res;
	(void)more;
	if (err && err != ESHUTDOWN)
		log_msg(LOG_WARN, "webhook.state", "cannot record an attempt's outcome (%s): "
			"the delivery is due again when its lease ends", msg ? msg : strerror(err));
}

static void record(struct hook_attempt *a)
{
	struct events *e = a->e;
	enum events_outcome o = events_outcome_of(a->status);
	char status[16], delay[32];
	uint32_t ms = 0;

	snprintf(status, sizeof(status), "%d", a->status);
	if (o == EVENTS_DELIVERED) {
		const char *p[2] = {a->delivery, status};

		e->n_hook_ok++;
		db_query(e->hook_db, SQL_DONE, 2, p, 0, on_written, e);
		log_msg(LOG_INFO, "webhook.delivered", "delivery %s (event %s) delivered on "
			"attempt %u: %d", a->delivery, a->event_id, a->attempts, a->status);
		return;
	}
	if (!a->error[0])
		snprintf(a->error, sizeof(a->error), "HTTP %d", a->status);
	if (o == EVENTS_RETRY && events_sched_next(&e->sched, a->attempts, &ms) == 0) {
		const char *p[4] = {a->delivery, delay, status, a->error};

		snprintf(delay, sizeof(delay), "%.3f", ms / 1000.0);
		e->n_hook_retry++;
		db_query(e->hook_db, SQL_AGAIN, 4, p, 0, on_written, e);
		log_msg(LOG_INFO, "webhook.retry", "delivery %s (event %s) attempt %u failed "
			"(%s): again in %.3f s", a->delivery, a->event_id, a->attempts, a->error,
			ms / 1000.0);
	} else {
		const char *p[3] = {a->delivery, status, a->error};

		e->n_hook_dead++;
		db_query(e->hook_db, SQL_DEAD, 3, p, 0, on_written, e);
		log_msg(LOG_WARN, "webhook.dead", "delivery %s (event %s) dead after attempt %u: "
			"%s", a->delivery, a->event_id, a->attempts, a->error);
	}
}

static void attempt_unlink(struct hook_attempt *a)
{
	struct events *e = a->e;

	if (a->prev)
		a->prev->next = a->next;
	else if (e->attempts == a)
		e->attempts = a->next;
	if (a->next)
		a->next->prev = a->prev;
	e->n_out--;
}

static void attempt_free(struct hook_attempt *a)
{
	dial_cancel(a->ticket);
	if (a->conn)
		evhttp_connection_free(a->conn);   /* frees a pending request, no callback */
	else if (a->req)
		evhttp_request_free(a->req);      /* never sent */
	if (a->free_ev)
		event_free(a->free_ev);
	free(a);
}

/* A finished attempt's connection is freed outside its own callbacks. */
static void free_later(evutil_socket_t fd, short what, void *arg)
{
	struct hook_attempt *a = arg;
	struct events *e = a->e;

	(void)fd;
	(void)what;
	if (a->prev)
		a->prev->next = a->next;
	else if (e->finished == a)
		e->finished = a->next;
	if (a->next)
		a->next->prev = a->prev;
	attempt_free(a);
}

static void observe_latency(struct events *e, const struct hook_attempt *a)
{
	struct timespec now;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &now);
	s = (double)(now.tv_sec - a->t0.tv_sec) + (now.tv_nsec - a->t0.tv_nsec) / 1e9;
	for (size_t i = 0; i < EVENTS_HOOK_LAT_BUCKETS; i++)
		if (s <= events_hook_lat_bounds[i])
			e->hook_lat[i]++;
	e->hook_lat_count++;
	e->hook_lat_sum += s;
}

static void on_error(enum evhttp_request_error err, void *arg)
{
	struct hook_attempt *a = arg;
	const char *why = err == EVREQ_HTTP_TIMEOUT ? "timeout" :
			  err == EVREQ_HTTP_EOF ? "connection closed" :
			  err == EVREQ_HTTP_INVALID_HEADER ? "invalid answer" :
			  err == EVREQ_HTTP_DATA_TOO_LONG ? "answer too long" : "connection error";

	snprintf(a->error, sizeof(a->error), "%s", why);
	if (a->ssl && a->conn)
		dial_tls_error(a->ssl, evhttp_connection_get_bufferevent(a->conn), a->error,
			       sizeof(a->error));
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct hook_attempt *a = arg;
	struct events *e = a->e;
	struct timeval zero = {0, 0};

	a->status = req ? evhttp_request_get_response_code(req) : 0;
	observe_latency(e, a);
	if (a->status == 0 && !a->error[0])
		snprintf(a->error, sizeof(a->error), "connection error");
	attempt_unlink(a);
	record(a);
	a->req = NULL;
	a->prev = NULL;
	a->next = e->finished;
	if (e->finished)
		e->finished->prev = a;
	e->finished = a;
	evtimer_add(a->free_ev, &zero);
	claim(e);
}

/* ---- an attempt ---- */

static size_t secrets_of(const char *json, char out[][EVENTS_SECRET_LEN + 8], size_t max)
{
	json_t *arr = json_loads(json, 0, NULL), *s;
	size_t i, n = 0;
	time_t now = time(NULL);

	json_array_foreach(arr, i, s) {
		const char *v = json_string_value(json_object_get(s, "secret"));
		json_t *exp = json_object_get(s, "expires_at");

		if (!v || strlen(v) >= EVENTS_SECRET_LEN + 8 || n >= max)
			continue;
		if (json_is_integer(exp) && json_integer_value(exp) < (json_int_t)now)
			continue;   /* rotated out */
		snprintf(out[n++], EVENTS_SECRET_LEN + 8, "%s", v);
	}
	json_decref(arr);
	return n;
}

/* The request goes out on a connection to the address resolved. */
static int connect_now(struct hook_attempt *a)
{
	struct events *e = a->e;
	struct timeval tv = {e->cfg.webhook_timeout_ms / 1000,
			     (e->cfg.webhook_timeout_ms % 1000) * 1000};

	clock_gettime(CLOCK_MONOTONIC, &a->t0);
	a->conn = dial_connect(e, &a->t, a->addr, &a->ssl, a->error, sizeof(a->error));
	if (!a->conn)
		return EIO;
	evhttp_connection_set_timeout_tv(a->conn, &tv);
	evhttp_connection_set_retries(a->conn, 0);
	evhttp_connection_set_max_body_size(a->conn, BODY_MAX);
	if (evhttp_make_request(a->conn, a->req, EVHTTP_REQ_POST, a->t.target) != 0) {
		/* libevent freed the request */
		a->req = NULL;
		snprintf(a->error, sizeof(a->error), "cannot send");
		return EIO;
	}
	return 0;
}

/* An attempt that ended before its request went out, outside on_claimed. */
static void fail_early(struct hook_attempt *a)
{
	struct events *e = a->e;

	attempt_unlink(a);
	a->status = 0;
	record(a);
	attempt_free(a);
	claim(e);
}

static void on_addr(void *arg, const char *addr, const char *error)
{
	struct hook_attempt *a = arg;

	a->ticket = NULL;
	if (addr)
		snprintf(a->addr, sizeof(a->addr), "%s", addr);
	else
		snprintf(a->error, sizeof(a->error), "%s", error ? error : "no address");
	if (a->in_start) {   /* start_attempt goes on */
		a->resolved = true;
		return;
	}
	if (!addr || connect_now(a) != 0)
		fail_early(a);
}

static int start_attempt(struct events *e, struct hook_attempt *a, const char *url,
			 const char *secrets_json, const char *body)
{
	char secrets[SECRETS_MAX][EVENTS_SECRET_LEN + 8], sig[SECRETS_MAX * EVENTS_SIG_LEN + 8];
	const char *sp[SECRETS_MAX];
	struct evkeyvalq *h;
	char ts[24];
	size_t n;
	int64_t now = (int64_t)time(NULL);

	if (dial_parse(e, url, &a->t, a->error, sizeof(a->error)) != 0)
		return EINVAL;
	n = secrets_of(secrets_json, secrets, SECRETS_MAX);
	for (size_t i = 0; i < n; i++)
		sp[i] = secrets[i];
	if (n == 0 || events_sign_header(sp, n, a->event_id, now, body, strlen(body), sig,
					 sizeof(sig)) != 0) {
		snprintf(a->error, sizeof(a->error), "no usable secret");
		return EINVAL;
	}
	a->req = evhttp_request_new(on_response, a);
	if (!a->req) {
		snprintf(a->error, sizeof(a->error), "out of memory");
		return ENOMEM;
	}
	evhttp_request_set_error_cb(a->req, on_error);
	snprintf(ts, sizeof(ts), "%" PRId64, now);
	h = evhttp_request_get_output_headers(a->req);
	evhttp_add_header(h, "Host", a->t.hostport);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "User-Agent", "trunx-webhooks");
	evhttp_add_header(h, "webhook-id", a->event_id);
	evhttp_add_header(h, "webhook-timestamp", ts);
	evhttp_add_header(h, "webhook-signature", sig);
	evhttp_add_header(h, "Connection", "close");
	evbuffer_add(evhttp_request_get_output_buffer(a->req), body, strlen(body));
	a->in_start = true;
	if (dial_resolve(e, &a->t, on_addr, a, &a->ticket) != 0) {
		a->in_start = false;
		snprintf(a->error, sizeof(a->error), "out of memory");
		return ENOMEM;
	}
	a->in_start = false;
	if (!a->resolved)
		return 0;   /* on_addr connects */
	if (!a->addr[0])
		return EHOSTUNREACH;
	return connect_now(a);
}

static void on_claimed(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct events *e = arg;
	int rows;

	(void)more;
	if (err == ESHUTDOWN)
		return;
	e->claiming = false;
	if (err) {
		log_msg(LOG_DEBUG, "webhook.claim", "claiming deliveries failed: %s",
			msg ? msg : strerror(err));
		return;
	}
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		struct hook_attempt *a = calloc(1, sizeof(*a));

		if (a)
			a->free_ev = evtimer_new(e->base, free_later, a);
		if (!a || !a->free_ev) {
			free(a);
			break;   /* the lease brings it back */
		}
		a->e = e;
		snprintf(a->delivery, sizeof(a->delivery), "%s", PQgetvalue(res, i, 0));
		a->attempts = (unsigned)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		snprintf(a->event_id, sizeof(a->event_id), "%s", PQgetvalue(res, i, 4));
		a->next = e->attempts;
		a->prev = NULL;
		if (e->attempts)
			e->attempts->prev = a;
		e->attempts = a;
		e->n_out++;
		e->n_hook_attempts++;
		if (start_attempt(e, a, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
				  PQgetvalue(res, i, 5)) != 0) {
			attempt_unlink(a);
			a->status = 0;
			record(a);
			attempt_free(a);
		}
	}
	if (e->claim_again || rows > 0) {
		e->claim_again = false;
		claim(e);
	}
}

static void claim(struct events *e)
{
	char limit[16], lease[32], first[32];
	const char *p[3] = {limit, lease, first};
	unsigned room;

	if (e->destroying || !db_up(e->hook_db))
		return;
	if (e->claiming) {
		e->claim_again = true;
		return;
	}
	room = e->cfg.webhook_concurrency > e->n_out ? e->cfg.webhook_concurrency - e->n_out : 0;
	if (!room)
		return;
	snprintf(limit, sizeof(limit), "%u", room);
	/* The lease: the attempt's timeout, plus margin for recording its outcome. */
	snprintf(lease, sizeof(lease), "%.3f", e->cfg.webhook_timeout_ms / 1000.0 * 2 + 5);
	/* The schedule's first delay: from the event to the first attempt. */
	snprintf(first, sizeof(first), "%.3f", e->sched.delay_ms[0] / 1000.0);
	if (db_query(e->hook_db, SQL_CLAIM, 3, p, 0, on_claimed, e) == 0)
		e->claiming = true;
}

void hook_kick(struct events *e)
{
	if (e)
		claim(e);
}

/* ---- the retries-pending gauge (every node's, from Postgres) ---- */

#define COUNT_EVERY_MS 5000

static void on_counted(int err, const PGresult *res, const char *msg, bool more, void *arg)
{
	struct events *e = arg;

	(void)msg;
	(void)more;
	if (err == ESHUTDOWN)
		return;
	e->counting = false;
	if (!err && PQntuples(res) == 1)
		e->hook_retry_pending = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

static void count_pending(struct events *e)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (e->counting || !db_up(e->hook_db) ||
	    (e->counted_ms && now - e->counted_ms < COUNT_EVERY_MS))
		return;
	e->counted_ms = now;
	if (db_query(e->hook_db, SQL_RETRY_PENDING, 0, NULL, 0, on_counted, e) == 0)
		e->counting = true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct events *e = arg;
	struct timeval tv = {e->cfg.poll_ms / 1000, (e->cfg.poll_ms % 1000) * 1000};

	(void)fd;
	(void)what;
	claim(e);
	count_pending(e);
	evtimer_add(e->hook_ev, &tv);
}

int hook_init(struct events *e)
{
	struct timeval tv = {e->cfg.poll_ms / 1000, (e->cfg.poll_ms % 1000) * 1000};

	/* resolv.conf is read here, at start-up, before the control thread runs. */
	e->dns = evdns_base_new(e->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
					 EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!e->dns)
		e->dns = evdns_base_new(e->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	e->hook_ev = evtimer_new(e->base, on_tick, e);
	if (!e->dns || !e->hook_ev || evtimer_add(e->hook_ev, &tv) != 0)
		return ENOMEM;
	return 0;
}

void hook_fini(struct events *e)
{
	while (e->attempts) {
		struct hook_attempt *a = e->attempts;

		/* Abandoned: its lease brings it back, on this node's next start or another. */
		attempt_unlink(a);
		attempt_free(a);
	}
	while (e->finished) {
		struct hook_attempt *a = e->finished;

		e->finished = a->next;
		attempt_free(a);
	}
	if (e->hook_ev)
		event_free(e->hook_ev);
	e->hook_ev = NULL;
	if (e->dns)
		evdns_base_free(e->dns, 0);
	e->dns = NULL;
}
