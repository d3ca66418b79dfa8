/*
 * api_wire.c — the JSON face of the errors evhttp answers by itself. libevent 2.1's
 * evhttp refuses some requests before any callback of ours runs — a body over the
 * limit (413, the body is never buffered), a malformed request line or header (400),
 * a method it does not parse (501) — and answers them with an HTML page. Every
 * connection's bufferevent is a filter (evhttp_set_bevcb) whose output side follows
 * the responses (header, then Content-Length bytes of body) and replaces such a page,
 * recognised by its text/html type (the API itself never sends HTML), with the API's
 * JSON error, a request id and a log line. Everything else passes unchanged.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "log.h"

#define HDR_MAX 16384

enum wstate { W_HDR = 0, W_PASS, W_SKIP, W_RAW };

struct wire {
	struct api_listener *l;
	struct bufferevent  *bev;
	struct event        *flush_ev;  /**< see on_added */
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

static void json_error(struct wire *w, int status, struct evbuffer *dst)
{
	unsigned char rnd[8];
	char id[API_ID_LEN], body[320];
	int n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(id, sizeof(id), "req_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\","
		     "\"request_id\":\"%s\"}", code_of(status), message_of(status), id);
	evbuffer_add_printf(dst, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			    "X-Request-Id: %s\r\nCache-Control: no-store\r\nConnection: close\r\n"
			    "Content-Length: %d\r\n\r\n%s", status, code_of(status), id, n, body);
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

static enum bufferevent_filter_result out_filter(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *arg)
{
	struct wire *w = arg;
	bool wrote = false;

	(void)limit;
	(void)mode;
	while (evbuffer_get_length(src) > 0) {
		size_t len = evbuffer_get_length(src), n;

		if (w->state == W_RAW) {
			evbuffer_add_buffer(dst, src);
			wrote = true;
			break;
		}
		if (w->state == W_PASS || w->state == W_SKIP) {
			n = len < w->remain ? len : w->remain;
			if (w->state == W_PASS)
				evbuffer_remove_buffer(src, dst, n);
			else
				evbuffer_drain(src, n);
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
			ct = header_value(hdr, "Content-Type");
			cl = header_value(hdr, "Content-Length");
			w->remain = cl ? strtoul(cl, NULL, 10) : 0;
			if (status >= 400 && ct && strncasecmp(ct + strspn(ct, " "), "text/html",
							       9) == 0) {
				evbuffer_drain(src, n);
				json_error(w, status, dst);
				w->state = w->remain ? W_SKIP : W_HDR;
			} else if (!cl && header_value(hdr, "Transfer-Encoding")) {
				/* Chunked: an event stream (src/events), which does not end;
				 * its bytes pass as they come from here on. */
				evbuffer_remove_buffer(src, dst, n);
				w->state = W_RAW;
			} else {
				evbuffer_remove_buffer(src, dst, n);
				w->state = w->remain ? W_PASS : W_HDR;
			}
			free(hdr);
			wrote = true;
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

	event_free(w->flush_ev);
	free(w);
}

static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
	struct bufferevent *sock = bufferevent_socket_new(base, -1, 0), *f = NULL;
	struct wire *w = calloc(1, sizeof(*w));

	if (w)
		w->flush_ev = event_new(base, -1, 0, on_flush, w);
	if (!sock || !w || !w->flush_ev)
		goto fail;
	w->l = arg;
	f = bufferevent_filter_new(sock, NULL, out_filter, BEV_OPT_CLOSE_ON_FREE, wire_free, w);
	if (!f)
		goto fail;
	w->bev = f;
	if (!evbuffer_add_cb(bufferevent_get_output(f), on_added, w)) {
		bufferevent_free(f);   /* frees sock and w */
		return NULL;
	}
	return f;
fail:
	if (sock)
		bufferevent_free(sock);
	if (w && w->flush_ev)
		event_free(w->flush_ev);
	free(w);
	return NULL;
}

void api_wire_attach(struct api_listener *l)
{
	evhttp_set_bevcb(l->http, new_bev, l);
}
