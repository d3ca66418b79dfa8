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
 * The same per-connection object is the listener's connection guard: every connection
 * is counted while it lives (at max_connections the listener stops accepting until one
 * closes), counted per source (over max_connections_per_source: 429 and closed), and
 * must deliver each request whole and see it answered within the deadline (timeout +
 * 2 s from its first byte: slow senders get 408 and are closed). An accept() error
 * (out of descriptors) pauses accepting for a second instead of spinning.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
#include "http_phrase.h"
#include "log.h"

#define HDR_MAX 16384
/* Bytes of a connection's output handed to its socket bufferevent at a time: the
 * rest waits in the filter's output, where evhttp (and an event stream) see it as not
 * yet written. */
#define OUT_MAX (64u << 10)
/* Bytes read ahead of evhttp, in each of the two bufferevents (evhttp reads nothing
 * while it writes a response): past it the socket is not read, so a client that
 * sends without reading meets TCP's own flow control. Holds a request's headers
 * (HDR_MAX) with room to spare; a body is taken out as it arrives. */
#define IN_MAX (64u << 10)

enum wstate { W_HDR = 0, W_PASS, W_SKIP, W_RAW, W_SINK };

struct wire {
	struct api_listener *l;
	struct bufferevent  *bev;
	struct event        *flush_ev;  /**< see on_added */
	struct event        *check_ev;  /**< once evhttp gave the descriptor: its source */
	struct event        *deadline_ev;  /**< the request in progress must be answered */
	struct sockaddr_storage peer;
	bool                 counted;   /**< in l->conns */
	bool                 idle;      /**< no request in progress (deadline off) */
	enum wstate          state;
	size_t               remain;
};

static const char *code_of(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 404: return "route_not_found";
	case 405: return "method_not_allowed";
	case 413: return "payload_too_large";
	case 431: return "headers_too_large";
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

static void json_error(struct wire *w, int status, struct evbuffer *dst)
{
	char id[API_ID_LEN], body[320];
	int n;

	new_request_id(id);
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\","
		     "\"request_id\":\"%s\"}", code_of(status), message_of(status), id);
	evbuffer_add_printf(dst, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			    "X-Request-Id: %s\r\nCache-Control: no-store\r\nConnection: close\r\n"
			    "Content-Length: %d\r\n\r\n%s", status, http_phrase(status), id, n, body);
	api_metrics_observe(api_metrics(w->l->api), status, 0);
	{
		struct log_rec r;

		if (log_begin(&r, LOG_INFO, "api.request")) {
			log_str(&r, "request_id", id);
			log_int(&r, "status", status);
			log_str(&r, "listener", w->l->name);
			log_str(&r, "error", code_of(status));
			log_end(&r);
		}
	}
}

/* ---- the connection guard ---- */

static void deadline_arm(struct wire *w)
{
	struct timeval tv = {w->l->deadline_ms / 1000, (w->l->deadline_ms % 1000) * 1000};

	w->idle = false;
	evtimer_add(w->deadline_ev, &tv);
}

/* A response began: the request is answered. Bytes already waiting are the next
 * request (pipelined): its deadline starts now; else none until a byte arrives. */
static void request_answered(struct wire *w)
{
	if (!w->deadline_ev)
		return;
	evtimer_del(w->deadline_ev);
	w->idle = true;
	if (evbuffer_get_length(bufferevent_get_input(w->bev)) > 0)
		deadline_arm(w);
}

static void on_input(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct wire *w = arg;

	(void)b;
	if (info->n_added && w->idle && w->deadline_ev)
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
	refuse(w, 408, "request_timeout", "the request did not arrive whole in time");
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
	guarded_set(l, false);
	if (l->resume_ev)
		event_free(l->resume_ev);
	l->resume_ev = NULL;
	api_conns_destroy(l->conns);
	l->conns = NULL;
	l->lev = NULL;
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
				if (len > HDR_MAX) {   /* not a response we understand */
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

static void wire_free(void *arg)
{
	struct wire *w = arg;

	if (w->counted)
		api_conns_remove(w->l->conns, (struct sockaddr *)&w->peer);
	wire_closed(w->l);
	event_free(w->flush_ev);
	event_free(w->check_ev);
	event_free(w->deadline_ev);
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
	}
	if (!sock || !w || !w->flush_ev || !w->check_ev || !w->deadline_ev)
		goto fail;
	w->l = arg;
	w->idle = true;
	f = bufferevent_filter_new(sock, NULL, out_filter, BEV_OPT_CLOSE_ON_FREE, wire_free, w);
	if (!f)
		goto fail;
	bufferevent_setwatermark(sock, EV_WRITE, 0, OUT_MAX);
	bufferevent_setwatermark(sock, EV_READ, 0, IN_MAX);
	bufferevent_setwatermark(f, EV_READ, 0, IN_MAX);
	w->bev = f;
	wire_opened(w->l);   /* from here wire_free counts it out */
	if (!evbuffer_add_cb(bufferevent_get_output(f), on_added, w) ||
	    !evbuffer_add_cb(bufferevent_get_input(f), on_input, w)) {
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
	}
	free(w);
	return NULL;
}

void api_wire_attach(struct api_listener *l)
{
	evhttp_set_bevcb(l->http, new_bev, l);
}
