/*
 * api_wire.c — the JSON face of the errors evhttp answers by itself. libevent 2.1's
 * evhttp refuses some requests before any callback of ours runs — a body over the
 * limit (413, the body is never buffered), a malformed request line or header (400),
 * a method it does not parse (501) — and answers them with an HTML page. Every
 * connection's bufferevent is a filter (evhttp_set_bevcb) whose output side follows
 * the responses (header, then Content-Length bytes of body) and replaces such a page,
 * recognised by its text/html type (the API itself never sends HTML), with the API's
 * JSON error, a request id and a log line. Everything else passes unchanged, at most
 * OUT_MAX bytes waiting in the socket's bufferevent at a time: the rest stays in the
 * filter's output, so evhttp does not take the next request (nor an event stream its
 * next event) while a client does not read, and its write timeout can see that.
 *
 * Its input side reads each request's head before evhttp does (evhttp sees a head only
 * once it is whole and sound) and follows its body to its end, so that it knows where
 * the next request begins: a request line that is not METHOD SP target SP HTTP/1.0|1.1
 * (400; 505 for another major version: evhttp would echo the version in its answer),
 * a method not served (501), an HTTP/1.1 request without one Host (400), a target
 * over API_TARGET_MAX (414), more than API_HEAD_LINES_MAX
 * header lines or a head over API_HEAD_MAX (431), a header line without a colon, with space
 * before it, folded or holding a control character (400), a body length two readers
 * could take differently (400), a Content-Length over body_limit (413 at once: evhttp
 * would drain the body, or wait for it, and then close without a word), a chunk size
 * that is not hexadecimal digits (400) or chunks over body_limit (413) are answered
 * here, in JSON, and the connection ends (the rest of what the client sends is read
 * and dropped for LINGER_MS, so that its answer is not lost to a reset).
 *
 * The same per-connection object is the listener's connection guard: every connection
 * is counted while it lives (at max_connections the listener stops accepting until one
 * closes), counted per source (over max_connections_per_source: 429 and closed), and
 * must deliver each request whole and see it answered within the deadline (timeout +
 * 2 s from its first byte: slow senders get 408 and are closed). Reading is timed here
 * too, not by evhttp (which closed a half-sent request at its timeout without an
 * answer): a connection that receives nothing for the timeout is closed, with 408
 * when a request had begun. An accept() error
 * (out of descriptors) pauses accepting for a second instead of spinning.
 */
#include "api/api_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/rand.h>

#include "api/api_conns.h"
#include "api/api_head.h"
#include "http_phrase.h"
#include "log.h"

/* Bytes of a connection's output handed to its socket bufferevent at a time: the
 * rest waits in the filter's output, where evhttp (and an event stream) see it as not
 * yet written. */
#define OUT_MAX (64u << 10)
/* Bytes read ahead of evhttp, in each of the two bufferevents (evhttp reads nothing
 * while it writes a response): past it the socket is not read, so a client that
 * sends without reading meets TCP's own flow control. Holds a request's headers
 * (API_HEAD_MAX) with room to spare; the filter's own input holds more when body_limit
 * is larger (evhttp takes a body only whole: see new_bev). */
#define IN_MAX (64u << 10)
/* A chunk size line with its extensions, a refused connection's last words. */
#define CHUNK_LINE_MAX 256
#define LINGER_MS 2000

enum wstate { W_HDR = 0, W_PASS, W_SKIP, W_RAW, W_SINK };
/* The input side: a head; a Content-Length body; chunked: size line, data, its CRLF,
 * trailer lines; a refused connection's input, dropped. */
enum istate { I_HEAD = 0, I_BODY, I_CSIZE, I_CDATA, I_CCRLF, I_TRAILER, I_SINK };


struct wire {
	struct api_listener *l;         /**< NULL once the listener is gone */
	struct wire         *next, **pprev;   /**< in l->wires */
	struct bufferevent  *bev;
	struct event        *flush_ev;  /**< see on_added */
	struct event        *check_ev;  /**< once evhttp gave the descriptor: its source */
	struct event        *deadline_ev;  /**< the request in progress must be answered */
	struct event        *idle_ev;   /**< nothing received for the timeout; linger end */
	struct event        *pump_ev;   /**< see on_pump */
	struct bufferevent  *sock;      /**< the socket's bufferevent, under bev */
	struct sockaddr_storage peer;
	bool                 counted;   /**< in l->conns */
	bool                 idle;      /**< no request in progress (deadline off) */
	bool                 partial;   /**< a request begun and not whole */
	unsigned             blank_lines; /**< empty lines before this request line */
	bool                 closing;   /**< answered here: shut once the answer is out */
	bool                 shut;      /**< shutdown(SHUT_WR) done */
	enum wstate          state;
	size_t               remain;
	enum istate          in;
	uint64_t             in_remain; /**< body or chunk bytes still to pass */
	uint64_t             in_total;  /**< chunked: the body's bytes so far */
	size_t               in_trailer;
	uint64_t             last_ms;   /**< a byte in or out */
	unsigned             inflight;  /**< requests passed whole, not yet answered */
	struct api_verdict       pending;   /**< a refusal waiting for those answers */
};

static const char *code_of(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 404: return "route_not_found";
	case 405: return "method_not_allowed";
	case 408: return "request_timeout";
	case 413: return "payload_too_large";
	case 414: return "uri_too_long";
	case 417: return "expectation_failed";
	case 431: return "headers_too_large";
	case 505: return "http_version_not_supported";
	case 501: return "not_implemented";
	case 503: return "unavailable";
	default: return "http_error";
	}
}

static const char *message_of(int status)
{
	switch (status) {
	case 413: return "the body is larger than the configured limit";
	case 400: return "malformed HTTP request";
	case 501: return "this method is not served";
	case 417: return "only Expect: 100-continue is understood";
	default: return "the request was refused";
	}
}

/* Finds "\r\nName:" in hdr (case-insensitive); returns the value or NULL. */
static const char *header_value(const char *hdr, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(hdr, "\r\n"); p; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':')
			return p + 3 + n;
	return NULL;
}

static void new_request_id(char id[API_ID_LEN])
{
	unsigned char rnd[8];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(id, API_ID_LEN, "req_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

static void json_answer(struct wire *w, int status, const char *code, const char *message,
			struct evbuffer *dst)
{
	char id[API_ID_LEN], body[400], src[64] = "unix";
	int n;

	new_request_id(id);
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\","
		     "\"request_id\":\"%s\"}", code, message, id);
	evbuffer_add_printf(dst, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			    "X-Request-Id: %s\r\nCache-Control: no-store\r\nConnection: close\r\n"
			    "Content-Length: %d\r\n\r\n%s", status, http_phrase(status), id, n, body);
	api_metrics_observe(api_metrics(w->l->api), status, 0);
	if (w->peer.ss_family == AF_INET || w->peer.ss_family == AF_INET6)
		evutil_inet_ntop(w->peer.ss_family, w->peer.ss_family == AF_INET ?
				 (void *)&((struct sockaddr_in *)&w->peer)->sin_addr :
				 (void *)&((struct sockaddr_in6 *)&w->peer)->sin6_addr,
				 src, sizeof(src));
	{
		struct log_rec r;

		if (log_begin(&r, LOG_INFO, "api.request")) {
			log_str(&r, "request_id", id);
			log_int(&r, "status", status);
			log_str(&r, "src", src);
			log_str(&r, "listener", w->l->name);
			log_str(&r, "error", code);
			log_end(&r);
		}
	}
}

static void json_error(struct wire *w, int status, struct evbuffer *dst)
{
	json_answer(w, status, code_of(status), message_of(status), dst);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void idle_arm(struct wire *w, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(w->idle_ev, &tv);
}

/*
 * Answers a request evhttp never saw (or abandons the one it has) with a JSON error
 * and ends the connection: the answer goes after whatever the socket still has to
 * send, the write side is shut once it is out, what the client still sends is read
 * and dropped (a close with unread input would reset the connection and could take
 * the answer with it) until the client closes or LINGER_MS pass. Whatever evhttp
 * writes from here on is dropped.
 */
static void wire_answer(struct wire *w, int status, const char *code, const char *message)
{
	struct evbuffer *out = bufferevent_get_output(w->sock);
	evutil_socket_t fd = bufferevent_getfd(w->sock);

	if (w->closing)
		return;
	if (w->state != W_HDR) {   /* in the middle of an answer: nothing can follow */
		w->closing = true;
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
		return;
	}
	json_answer(w, status, code, message, out);
	w->closing = true;
	w->in = I_SINK;
	w->state = W_SINK;
	w->partial = false;
	w->idle = false;
	evtimer_del(w->deadline_ev);
	idle_arm(w, LINGER_MS);
	if (fd >= 0) {
		evbuffer_write(out, fd);
		if (evbuffer_get_length(out) == 0 && !w->shut) {
			shutdown(fd, SHUT_WR);
			w->shut = true;
		}
	}
}

/* The socket's output: once a wire_answer() is all out, the write side is shut. */
static void on_sock_out(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct wire *w = arg;
	evutil_socket_t fd;

	(void)info;
	if (!w->closing || w->shut || evbuffer_get_length(b) > 0)
		return;
	fd = bufferevent_getfd(w->sock);
	if (fd >= 0) {
		shutdown(fd, SHUT_WR);
		w->shut = true;
	}
}

/* ---- the connection guard ---- */

static void deadline_arm(struct wire *w)
{
	struct timeval tv = {w->l->deadline_ms / 1000, (w->l->deadline_ms % 1000) * 1000};

	if (w->closing)
		return;
	w->idle = false;
	evtimer_add(w->deadline_ev, &tv);
}

/* A response began: the request is answered. Bytes already waiting are the next
 * request (pipelined): its deadline starts now; else none until a byte arrives. */
static void request_answered(struct wire *w)
{
	if (!w->deadline_ev || w->closing)
		return;
	evtimer_del(w->deadline_ev);
	w->idle = true;
	if (w->inflight)
		w->inflight--;
	if (evbuffer_get_length(bufferevent_get_input(w->bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_input(w->sock)) > 0)
		deadline_arm(w);
}

/* Answers status on the socket itself (evhttp is not involved: no request exists or
 * the one in progress is abandoned) and shuts the connection; evhttp then reads the
 * end of it and frees the connection. */
static void refuse(struct wire *w, int status, const char *code, const char *message)
{
	evutil_socket_t fd = bufferevent_getfd(w->bev);
	char id[API_ID_LEN], out[640];
	int n, len;

	if (fd < 0)
		return;
	new_request_id(id);
	n = snprintf(out + 320, 320, "{\"error\":\"%s\",\"message\":\"%s\","
		     "\"request_id\":\"%s\"}", code, message, id);
	len = snprintf(out, 320, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		       "X-Request-Id: %s\r\nCache-Control: no-store\r\nConnection: close\r\n"
		       "%sContent-Length: %d\r\n\r\n", status, http_phrase(status), id,
		       status == 429 ? "Retry-After: 1\r\n" : "", n);
	if (len > 0 && len < 320 && n > 0 && n < 320) {
		memmove(out + len, out + 320, (size_t)n);
		(void)!send(fd, out, (size_t)len + (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	shutdown(fd, SHUT_RDWR);
	if (w->deadline_ev)
		evtimer_del(w->deadline_ev);
	w->idle = false;
	api_metrics_observe(api_metrics(w->l->api), status, 0);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct wire *w = arg;
	char src[64] = "unix";

	(void)fd;
	(void)what;
	api_metrics(w->l->api)->conn_timed_out++;
	if (w->peer.ss_family == AF_INET || w->peer.ss_family == AF_INET6)
		evutil_inet_ntop(w->peer.ss_family, w->peer.ss_family == AF_INET ?
				 (void *)&((struct sockaddr_in *)&w->peer)->sin_addr :
				 (void *)&((struct sockaddr_in6 *)&w->peer)->sin6_addr,
				 src, sizeof(src));
	log_msg(LOG_INFO, "api.conn_timeout", "a request from %s on the %s listener was not "
		"whole and answered within %u ms: connection closed", src, w->l->name,
		w->l->deadline_ms);
	wire_answer(w, 408, "request_timeout", "the request did not arrive whole in time");
}

/*
 * Reading is timed here (evhttp's read timeout is off, see on_check): nothing in or
 * out for the timeout while evhttp waits for a request closes the connection, with
 * 408 when a request had begun (evhttp closed it without a word). While evhttp
 * serves a request or writes its answer it does not wait for one: its write timeout
 * and the request deadline hold then. After wire_answer(): the linger is over.
 */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct wire *w = arg;
	evutil_socket_t s = bufferevent_getfd(w->sock);
	uint64_t now = now_ms(), idle_ms = w->l->idle_ms ? w->l->idle_ms : 10000;

	(void)fd;
	(void)what;
	if (w->closing) {
		if (s >= 0)
			shutdown(s, SHUT_RDWR);
		return;
	}
	/* evhttp serving a request or writing (an event stream writes for as long as it
	 * lives, with its own timing, src/events) is not waiting for one. */
	if (!(bufferevent_get_enabled(w->bev) & EV_READ) || w->inflight || w->state != W_HDR) {
		idle_arm(w, idle_ms);
		return;
	}
	if (now - w->last_ms < idle_ms) {
		idle_arm(w, idle_ms - (now - w->last_ms));
		return;
	}
	if (w->partial) {
		api_metrics(w->l->api)->conn_timed_out++;
		log_msg(LOG_INFO, "api.conn_timeout", "a request on the %s listener stopped "
			"part-way: nothing received for %u ms: 408, connection closed",
			w->l->name, (unsigned)idle_ms);
		wire_answer(w, 408, "request_timeout",
			    "the request stopped part-way: nothing received for the timeout");
		return;
	}
	if (s >= 0)   /* an idle connection: closed without a word */
		shutdown(s, SHUT_RDWR);
}

/* Runs once evhttp has handed the descriptor to the bufferevent. */
static void on_check(evutil_socket_t fd, short what, void *arg)
{
	struct wire *w = arg;
	socklen_t len = sizeof(w->peer);
	evutil_socket_t s = bufferevent_getfd(w->bev);

	(void)fd;
	(void)what;
	if (s < 0 || getpeername(s, (struct sockaddr *)&w->peer, &len) != 0)
		return;
	if (w->peer.ss_family == AF_INET || w->peer.ss_family == AF_INET6) {
		int e = api_conns_add(w->l->conns, (struct sockaddr *)&w->peer);

		if (e) {
			api_metrics(w->l->api)->conn_refused++;
			log_msg(LOG_WARN, "api.conn_refused", "%s listener: a source holds %s; "
				"connection refused (429)", w->l->name,
				e == EBUSY ? "max_connections_per_source" :
				"a slot while max_connections sources are connected");
			refuse(w, 429, "too_many_connections",
			       "this address holds too many connections");
			return;
		}
		w->counted = true;
	}
	{
		/* evhttp's read timeout off: on_idle times reading (evhttp's closed a
		 * half-sent request without an answer); its write timeout stays. */
		struct timeval wr = {(time_t)((w->l->idle_ms + 999) / 1000), 0};

		bufferevent_set_timeouts(w->bev, NULL, &wr);
		w->last_ms = now_ms();
		idle_arm(w, w->l->idle_ms ? w->l->idle_ms : 10000);
	}
	if (w->idle)   /* no byte yet: the first request's deadline starts at accept */
		deadline_arm(w);
}

static void accepting_update(struct api_listener *l)
{
	if (!l->lev)
		return;
	if (l->full || l->erred)
		evconnlistener_disable(l->lev);
	else
		evconnlistener_enable(l->lev);
}

static void wire_opened(struct api_listener *l)
{
	l->open++;
	if (l->max_open && l->open >= l->max_open && !l->full) {
		l->full = true;
		api_metrics(l->api)->conn_paused++;
		log_msg(LOG_WARN, "api.conn_full", "%s listener: %u connections open "
			"(max_connections): accepting paused until one closes", l->name, l->open);
		accepting_update(l);
	}
}

static void wire_closed(struct api_listener *l)
{
	if (l->open)
		l->open--;
	if (l->full && l->open < l->max_open) {
		l->full = false;
		accepting_update(l);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct api_listener *l = arg;

	(void)fd;
	(void)what;
	l->erred = false;
	accepting_update(l);
}

/*
 * libevent calls a listener's error callback with the listener's argument, which
 * evhttp set to its struct evhttp; nothing maps that back to ours. This table does:
 * the listeners guarded in this process (the public and the service listener of the
 * one API), touched by the control thread only.
 */
#define GUARDED_MAX 8
static struct api_listener *guarded[GUARDED_MAX];

static struct api_listener *guarded_of(const void *http)
{
	for (int i = 0; i < GUARDED_MAX; i++)
		if (guarded[i] && guarded[i]->http == http)
			return guarded[i];
	return NULL;
}

static void guarded_set(struct api_listener *l, bool on)
{
	for (int i = 0; i < GUARDED_MAX; i++)
		if (on ? !guarded[i] : guarded[i] == l) {
			guarded[i] = on ? l : NULL;
			return;
		}
}

static void on_accept_error(struct evconnlistener *lev, void *http)
{
	struct api_listener *l = guarded_of(http);
	struct timeval second = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	if (!l) {   /* not ours (cannot happen): stop it spinning all the same */
		evconnlistener_disable(lev);
		return;
	}
	api_metrics(l->api)->accept_errors++;
	log_msg(LOG_WARN, "api.accept_error", "%s listener: accept: %s; accepting paused 1 s",
		l->name, strerror(e));
	l->erred = true;
	accepting_update(l);
	evtimer_add(l->resume_ev, &second);
}

int api_wire_guard(struct api_listener *l, struct event_base *base,
		   struct evhttp_bound_socket *bs, unsigned max_open, unsigned max_per_source,
		   unsigned deadline_ms)
{
	l->max_open = max_open;
	l->deadline_ms = deadline_ms;
	if (api_conns_create(&l->conns, max_open ? max_open : 1024,
			     max_per_source ? max_per_source : 64))
		return ENOMEM;
	l->resume_ev = evtimer_new(base, on_resume, l);
	if (!l->resume_ev)
		return ENOMEM;
	l->lev = bs ? evhttp_bound_socket_get_listener(bs) : NULL;
	if (l->lev) {
		guarded_set(l, true);
		evconnlistener_set_error_cb(l->lev, on_accept_error);
	}
	if (l->full)
		accepting_update(l);
	return 0;
}

void api_wire_release(struct api_listener *l)
{
	/* Connections whose bufferevent libevent has not finalized yet outlive l. */
	while (l->wires) {
		struct wire *w = l->wires;

		l->wires = w->next;
		w->l = NULL;
		w->counted = false;
		w->next = NULL;
		w->pprev = NULL;
	}
	guarded_set(l, false);
	if (l->resume_ev)
		event_free(l->resume_ev);
	l->resume_ev = NULL;
	api_conns_destroy(l->conns);
	l->conns = NULL;
	l->lev = NULL;
}

/* ---- the input side: each request's head checked (api_head.c), its body followed ---- */

static int head_scan(struct wire *w, const char *p, size_t n, size_t *used,
		     struct api_verdict *v)
{
	struct api_head h;
	int rc = api_head_scan(p, n, w->l->body_limit, used, &h, v);

	if (rc != 1)
		return rc;
	w->in_total = 0;
	w->in_remain = h.length;
	w->in = h.chunked ? I_CSIZE : h.length ? I_BODY : I_HEAD;
	return 1;
}

static void got_whole(struct wire *w)
{
	w->in = I_HEAD;
	w->blank_lines = 0;
	w->partial = false;
	w->inflight++;
}

/* A refusal comes after the answers to the requests before it (pipelined): until
 * then it waits, and nothing more is read. */
static void wire_refuse(struct wire *w, int status, const char *code, const char *message)
{
	if (!w->inflight) {
		wire_answer(w, status, code, message);
		return;
	}
	w->pending.status = status;
	w->pending.code = code;
	w->pending.message = message;
	w->in = I_SINK;
	w->partial = false;
}

static enum bufferevent_filter_result in_filter(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit,
						enum bufferevent_flush_mode mode, void *arg)
{
	struct wire *w = arg;
	bool moved = false;
	/* One byte short of the high-water mark: at the mark libevent refills the input
	 * from inside evhttp's own reading of it (re-entering evhttp's parser); below it,
	 * on_pump refills it on the next turn of the loop. */
	size_t len, room = limit > 0 ? (size_t)limit - 1 : limit < 0 ? SIZE_MAX : 0;

	(void)mode;
	if (evbuffer_get_length(src) > 0) {
		w->last_ms = now_ms();
		if (w->idle && !w->closing)
			deadline_arm(w);
	}
	while ((len = evbuffer_get_length(src)) > 0) {
		struct api_verdict v = {0};
		struct evbuffer_ptr eol;
		size_t n, used = 0;
		const char *p;
		int rc;

		switch (w->in) {
		case I_SINK:
			evbuffer_drain(src, len);
			continue;
		case I_HEAD:
			/* RFC 9112 2.2: empty lines before a request line (a client's CRLF
			 * after a body) are ignored, up to two; a third is a malformed
			 * request line. */
			p = (const char *)evbuffer_pullup(src, len < 2 ? (ev_ssize_t)len : 2);
			if (!p)
				return BEV_ERROR;
			if (p[0] == '\r' && len < 2)
				return moved ? BEV_OK : BEV_NEED_MORE;
			if ((p[0] == '\n' || (p[0] == '\r' && p[1] == '\n')) &&
			    w->blank_lines < 2) {
				w->blank_lines++;
				evbuffer_drain(src, p[0] == '\n' ? 1 : 2);
				continue;
			}
			n = len < API_HEAD_MAX ? len : API_HEAD_MAX;
			p = (const char *)evbuffer_pullup(src, (ev_ssize_t)n);
			if (!p)
				return BEV_ERROR;
			w->partial = true;
			rc = head_scan(w, p, n, &used, &v);
			if (rc == 0)
				return moved ? BEV_OK : BEV_NEED_MORE;
			if (rc < 0) {
				wire_refuse(w, v.status, v.code, v.message);
				evbuffer_drain(src, evbuffer_get_length(src));
				return moved ? BEV_OK : BEV_NEED_MORE;
			}
			if (used > room)   /* evhttp has not read the last one yet */
				return moved ? BEV_OK : BEV_NEED_MORE;
			evbuffer_remove_buffer(src, dst, used);
			room -= used;
			moved = true;
			if (w->in == I_HEAD)
				got_whole(w);
			continue;
		case I_BODY:
		case I_CDATA:
			n = len < w->in_remain ? len : (size_t)w->in_remain;
			n = n < room ? n : room;
			if (n == 0)
				return moved ? BEV_OK : BEV_NEED_MORE;
			evbuffer_remove_buffer(src, dst, n);
			room -= n;
			moved = true;
			w->in_remain -= n;
			if (w->in_remain == 0) {
				if (w->in == I_BODY)
					got_whole(w);
				else
					w->in = I_CCRLF;
			}
			continue;
		case I_CCRLF:
			p = (const char *)evbuffer_pullup(src, len < 2 ? (ev_ssize_t)len : 2);
			n = p[0] == '\n' ? 1 : p[0] == '\r' && len >= 2 && p[1] == '\n' ? 2 : 0;
			if (n == 0 && p[0] == '\r' && len < 2)
				return moved ? BEV_OK : BEV_NEED_MORE;
			if (n == 0) {
				wire_refuse(w, 400, "bad_request", "a chunk not followed by CRLF");
				evbuffer_drain(src, evbuffer_get_length(src));
				return moved ? BEV_OK : BEV_NEED_MORE;
			}
			if (n > room)
				return moved ? BEV_OK : BEV_NEED_MORE;
			evbuffer_remove_buffer(src, dst, n);
			room -= n;
			moved = true;
			w->in = I_CSIZE;
			continue;
		case I_CSIZE:
		case I_TRAILER:
			eol = evbuffer_search(src, "\n", 1, NULL);
			if (eol.pos < 0) {
				if (w->in == I_CSIZE ? len > CHUNK_LINE_MAX :
				    w->in_trailer + len > API_HEAD_MAX) {
					wire_refuse(w, w->in == I_CSIZE ? 400 : 431,
						    w->in == I_CSIZE ? "bad_request" :
						    "headers_too_large", w->in == I_CSIZE ?
						    "malformed chunk size" :
						    "the request's trailer is too large");
					evbuffer_drain(src, evbuffer_get_length(src));
				}
				return moved ? BEV_OK : BEV_NEED_MORE;
			}
			n = (size_t)eol.pos + 1;
			if (n > room)
				return moved ? BEV_OK : BEV_NEED_MORE;
			if (w->in == I_CSIZE) {
				uint64_t size = 0;

				p = (const char *)evbuffer_pullup(src, (ev_ssize_t)n);
				if (n > CHUNK_LINE_MAX || api_chunk_size(p, n - 1, &size, &v)) {
					if (!v.status)   /* too long to be one */
						v = (struct api_verdict){400, "bad_request",
									 "malformed chunk size"};
					wire_refuse(w, v.status, v.code, v.message);
					evbuffer_drain(src, evbuffer_get_length(src));
					return moved ? BEV_OK : BEV_NEED_MORE;
				}
				if (size > w->l->body_limit - w->in_total) {
					wire_refuse(w, 413, "payload_too_large", "the body is "
						    "larger than the configured limit");
					evbuffer_drain(src, evbuffer_get_length(src));
					return moved ? BEV_OK : BEV_NEED_MORE;
				}
				w->in_total += size;
				w->in_remain = size;
				w->in = size ? I_CDATA : I_TRAILER;
				w->in_trailer = 0;
				/* evhttp takes no extension: it gets the size alone, in no
				 * more bytes than the line had. */
				char line[24];
				int m = snprintf(line, sizeof line, "%" PRIx64 "%s", size,
						 n >= 2 && p[n - 2] == '\r' ? "\r\n" : "\n");

				evbuffer_drain(src, n);
				evbuffer_add(dst, line, (size_t)m);
				room -= (size_t)m;
				moved = true;
				continue;
			} else {
				p = (const char *)evbuffer_pullup(src, (ev_ssize_t)n);
				w->in_trailer += n;
				if (w->in_trailer > API_HEAD_MAX) {
					wire_refuse(w, 431, "headers_too_large",
						    "the request's trailer is too large");
					evbuffer_drain(src, evbuffer_get_length(src));
					return moved ? BEV_OK : BEV_NEED_MORE;
				}
				if (n == 1 || (n == 2 && p[0] == '\r'))
					got_whole(w);
			}
			evbuffer_remove_buffer(src, dst, n);
			room -= n;
			moved = true;
			continue;
		}
	}
	return moved ? BEV_OK : BEV_NEED_MORE;
}

/*
 * What in_filter left in the socket's input (the filter's input held enough) is
 * passed on once evhttp has read some of it, or has answered and reads again: on the
 * next turn of the loop, then evhttp is told.
 */
static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct wire *w = arg;

	(void)fd;
	(void)what;
	if (!(bufferevent_get_enabled(w->bev) & EV_READ) ||
	    evbuffer_get_length(bufferevent_get_input(w->sock)) == 0)
		return;
	if (bufferevent_flush(w->bev, EV_READ, BEV_NORMAL) > 0)
		bufferevent_trigger(w->bev, EV_READ, 0);
}

static void pump_soon(struct wire *w)
{
	if (evbuffer_get_length(bufferevent_get_input(w->sock)) > 0 &&
	    !event_pending(w->pump_ev, EV_TIMEOUT, NULL))
		event_active(w->pump_ev, EV_TIMEOUT, 1);
}

static void on_in_drained(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	(void)b;
	if (info->n_deleted)
		pump_soon(arg);
}

static enum bufferevent_filter_result out_filter(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *arg)
{
	struct wire *w = arg;
	bool wrote = false;
	size_t held = evbuffer_get_length(dst);
	/* What the socket's bufferevent may take now: at most OUT_MAX waits there (a
	 * client that does not read must not make trunxd hold its answers, pipelined
	 * requests after pipelined requests); libevent's limit says the same in
	 * normal mode, and nothing in a flush. */
	size_t room = held < OUT_MAX ? OUT_MAX - held : 0;

	(void)mode;
	if (limit >= 0 && (size_t)limit < room)
		room = (size_t)limit;
	while (evbuffer_get_length(src) > 0 && room > 0) {
		size_t len = evbuffer_get_length(src), n;

		if (w->state == W_SINK) {   /* a replaced page that runs to the close */
			evbuffer_drain(src, len);
			wrote = true;
			continue;
		}
		if (w->state == W_RAW) {
			n = len < room ? len : room;
			evbuffer_remove_buffer(src, dst, n);
			room -= n;
			wrote = true;
			continue;
		}
		if (w->state == W_PASS || w->state == W_SKIP) {
			n = len < w->remain ? len : w->remain;
			if (w->state == W_PASS) {
				n = n < room ? n : room;
				evbuffer_remove_buffer(src, dst, n);
				room -= n;
			} else {
				evbuffer_drain(src, n);
			}
			wrote = true;
			w->remain -= n;
			if (w->remain == 0)
				w->state = W_HDR;
			continue;
		}
		{
			struct evbuffer_ptr end = evbuffer_search(src, "\r\n\r\n", 4, NULL);
			char *hdr;
			const char *ct, *cl;
			int status;
			bool to_close;

			if (end.pos < 0) {
				if (len > API_HEAD_MAX) {   /* not a response we understand */
					w->state = W_RAW;
					continue;
				}
				return wrote ? BEV_OK : BEV_NEED_MORE;
			}
			n = (size_t)end.pos + 4;
			hdr = malloc(n + 1);
			if (!hdr) {
				w->state = W_RAW;
				continue;
			}
			evbuffer_copyout(src, hdr, n);
			hdr[n] = 0;
			status = strncmp(hdr, "HTTP/1.", 7) == 0 ? atoi(hdr + 9) : 0;
			if (status >= 200)
				request_answered(w);
			ct = header_value(hdr, "Content-Type");
			cl = header_value(hdr, "Content-Length");
			w->remain = cl ? strtoul(cl, NULL, 10) : 0;
			/* No length and not chunked: the body runs to the end of the
			 * connection (evhttp's answers to HTTP/1.0 without keep-alive). */
			to_close = !cl && !header_value(hdr, "Transfer-Encoding") &&
				   status >= 200 && status != 204 && status != 304;
			if (status >= 400 && ct && strncasecmp(ct + strspn(ct, " "), "text/html",
							       9) == 0) {
				evbuffer_drain(src, n);
				json_error(w, status, dst);
				w->state = w->remain ? W_SKIP : to_close ? W_SINK : W_HDR;
			} else if (!cl) {
				/* Chunked (an event stream, src/events, which does not end) or
				 * to the close: its bytes pass as they come from here on. */
				evbuffer_remove_buffer(src, dst, n);
				w->state = to_close || header_value(hdr, "Transfer-Encoding") ?
					   W_RAW : W_HDR;
			} else {
				evbuffer_remove_buffer(src, dst, n);
				w->state = w->remain ? W_PASS : W_HDR;
			}
			free(hdr);
			wrote = true;
			room = n < room ? room - n : 0;
		}
	}
	/* Straight to the socket: once this filter returns, evhttp hears "written" and
	 * may close the connection (after an error, or Connection: close) while the
	 * bytes would still wait in the socket bufferevent. What the kernel does not take
	 * now still goes out the ordinary way on a connection that stays open. */
	if (w->pending.status && !w->inflight && w->state == W_HDR &&
	    evbuffer_get_length(src) == 0) {
		struct api_verdict v = w->pending;

		w->pending.status = 0;
		wire_answer(w, v.status, v.code, v.message);
	}
	if (wrote) {
		w->last_ms = now_ms();
		pump_soon(w);   /* evhttp reads again once this answer is handed over */
	}
	if (wrote && w->bev && bufferevent_getfd(w->bev) >= 0)
		evbuffer_write(dst, bufferevent_getfd(w->bev));
	return wrote ? BEV_OK : BEV_NEED_MORE;
}

/*
 * A filter bufferevent only runs its output filter on data added while writing is
 * enabled, and evhttp adds a response before it enables writing: each addition
 * schedules a flush on the next turn of the loop, when evhttp is done with it.
 */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct wire *w = arg;

	(void)fd;
	(void)what;
	bufferevent_flush(w->bev, EV_WRITE, BEV_FLUSH);
}

static void on_added(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct wire *w = arg;

	(void)b;
	if (info->n_added && !event_pending(w->flush_ev, EV_TIMEOUT, NULL))
		event_active(w->flush_ev, EV_TIMEOUT, 1);
}

/* libevent finalizes a freed bufferevent later (its free callback may run in
 * event_base_free, after the API and its listeners are gone: api_wire_release has
 * then detached the connection from its listener). */
static void wire_free(void *arg)
{
	struct wire *w = arg;

	evbuffer_remove_cb(bufferevent_get_output(w->sock), on_sock_out, w);
	if (w->l) {
		if (w->counted)
			api_conns_remove(w->l->conns, (struct sockaddr *)&w->peer);
		wire_closed(w->l);
		if (w->next)
			w->next->pprev = w->pprev;
		*w->pprev = w->next;
	}
	event_free(w->flush_ev);
	event_free(w->check_ev);
	event_free(w->deadline_ev);
	event_free(w->idle_ev);
	event_free(w->pump_ev);
	free(w);
}

static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
	/* BEV_OPT_CLOSE_ON_FREE on both: evhttp leaves the descriptor to its bufferevent
	 * when that has the option (the filter), and the filter passes the free on to the
	 * socket bufferevent, which alone knows the descriptor. */
	struct bufferevent *sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct bufferevent *f = NULL;
	struct wire *w = calloc(1, sizeof(*w));

	if (w) {
		w->flush_ev = event_new(base, -1, 0, on_flush, w);
		w->check_ev = event_new(base, -1, 0, on_check, w);
		w->deadline_ev = evtimer_new(base, on_deadline, w);
		w->idle_ev = evtimer_new(base, on_idle, w);
		w->pump_ev = event_new(base, -1, 0, on_pump, w);
	}
	if (!sock || !w || !w->flush_ev || !w->check_ev || !w->deadline_ev || !w->idle_ev ||
	    !w->pump_ev)
		goto fail;
	w->l = arg;
	w->idle = true;
	w->sock = sock;
	f = bufferevent_filter_new(sock, in_filter, out_filter, BEV_OPT_CLOSE_ON_FREE,
				   wire_free, w);
	if (!f)
		goto fail;
	bufferevent_setwatermark(sock, EV_WRITE, 0, OUT_MAX);
	bufferevent_setwatermark(sock, EV_READ, 0, IN_MAX);
	/* The filter's input holds what evhttp needs whole: a head and a body (evhttp
	 * takes a Content-Length body only once all of it is there). */
	bufferevent_setwatermark(f, EV_READ, 0, IN_MAX > w->l->body_limit + API_HEAD_MAX + 256 ?
				 IN_MAX : (size_t)w->l->body_limit + API_HEAD_MAX + 256);
	w->bev = f;
	wire_opened(w->l);   /* from here wire_free counts it out */
	w->next = w->l->wires;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &w->l->wires;
	w->l->wires = w;
	if (!evbuffer_add_cb(bufferevent_get_output(f), on_added, w) ||
	    !evbuffer_add_cb(bufferevent_get_output(sock), on_sock_out, w) ||
	    !evbuffer_add_cb(bufferevent_get_input(f), on_in_drained, w)) {
		bufferevent_free(f);   /* frees sock and w */
		return NULL;
	}
	/* evhttp sets the descriptor right after this returns. */
	event_active(w->check_ev, EV_TIMEOUT, 1);
	return f;
fail:
	if (sock)
		bufferevent_free(sock);
	if (w) {
		if (w->flush_ev)
			event_free(w->flush_ev);
		if (w->check_ev)
			event_free(w->check_ev);
		if (w->deadline_ev)
			event_free(w->deadline_ev);
		if (w->idle_ev)
			event_free(w->idle_ev);
		if (w->pump_ev)
			event_free(w->pump_ev);
	}
	free(w);
	return NULL;
}

void api_wire_attach(struct api_listener *l)
{
	evhttp_set_bevcb(l->http, new_bev, l);
}
