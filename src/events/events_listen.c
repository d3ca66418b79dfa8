/*
 * events_listen.c — a loopback-only HTTP listener for the events routes, for tests and
 * local use until src/api serves them behind its keys: the caller's tenant is the
 * X-Trunx-Tenant header (none: the operator), which is why it refuses to bind
 * anything but a loopback address. Routes: GET /v1/events, GET and POST /v1/webhooks,
 * DELETE /v1/webhooks/{id}, POST /v1/webhooks/{id}/rotate-secret,
 * GET /v1/webhooks/{id}/deliveries, POST /v1/webhook-deliveries/{id}/redrive.
 */
#include "events/events_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"

#define ID_MAX 64

static bool loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* "/v1/webhooks/<id><rest>": copies <id>, returns rest ("" or "/..."), NULL if none. */
static const char *segment(const char *path, const char *prefix, char *id, size_t len)
{
	size_t n = strlen(prefix), k;

	if (strncmp(path, prefix, n) != 0)
		return NULL;
	path += n;
	k = strcspn(path, "/");
	if (k == 0 || k >= len)
		return NULL;
	memcpy(id, path, k);
	id[k] = '\0';
	return path + k;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct events *e = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL, *rest;
	const char *tenant = evhttp_find_header(evhttp_request_get_input_headers(req),
						"X-Trunx-Tenant");
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evkeyvalq q;
	char id[ID_MAX];

	if (!path) {
		api_error(req, 400, "bad_request", "no path");
		return;
	}
	memset(&q, 0, sizeof(q));
	q.tqh_last = &q.tqh_first;
	if (u && evhttp_uri_get_query(u))
		evhttp_parse_query_str(evhttp_uri_get_query(u), &q);
	if (strcmp(path, "/v1/events") == 0 && m == EVHTTP_REQ_GET) {
		events_http_stream(e, req, tenant, evhttp_find_header(&q, "types"), NULL);
	} else if (strcmp(path, "/v1/webhooks") == 0 && m == EVHTTP_REQ_GET) {
		events_http_webhooks_list(e, req, tenant);
	} else if (strcmp(path, "/v1/webhooks") == 0 && m == EVHTTP_REQ_POST) {
		events_http_webhook_create(e, req, tenant);
	} else if ((rest = segment(path, "/v1/webhooks/", id, sizeof(id))) != NULL) {
		if (!rest[0] && m == EVHTTP_REQ_DELETE)
			events_http_webhook_delete(e, req, tenant, id);
		else if (!strcmp(rest, "/rotate-secret") && m == EVHTTP_REQ_POST)
			events_http_webhook_rotate(e, req, tenant, id, 0);
		else if (!strcmp(rest, "/deliveries") && m == EVHTTP_REQ_GET)
			events_http_deliveries(e, req, tenant, id, evhttp_find_header(&q, "state"),
					       evhttp_find_header(&q, "before"));
		else
			api_error(req, 404, "not_found", "no such route");
	} else if ((rest = segment(path, "/v1/webhook-deliveries/", id, sizeof(id))) != NULL &&
		   !strcmp(rest, "/redrive") && m == EVHTTP_REQ_POST) {
		events_http_redrive(e, req, tenant, id);
	} else {
		api_error(req, 404, "not_found", "no such route");
	}
	evhttp_clear_headers(&q);
}

int listen_init(struct events *e, char *err, size_t errlen)
{
	if (!loopback(e->cfg.http_addr)) {
		snprintf(err, errlen, "[events] http_listen %s: loopback addresses only (the "
			 "tenant is taken from a header)", e->cfg.http_addr);
		return EINVAL;
	}
	e->http = evhttp_new(e->base);
	if (!e->http)
		return ENOMEM;
	evhttp_set_max_body_size(e->http, 65536);
	evhttp_set_max_headers_size(e->http, 16384);
	evhttp_set_allowed_methods(e->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_DELETE);
	evhttp_set_gencb(e->http, on_request, e);
	if (evhttp_bind_socket(e->http, e->cfg.http_addr, e->cfg.http_port) != 0) {
		int rc = errno ? errno : EADDRINUSE;

		snprintf(err, errlen, "[events] http_listen %s:%u: %s", e->cfg.http_addr,
			 e->cfg.http_port, strerror(rc));
		return rc;
	}
	log_msg(LOG_INFO, "events.listen", "events routes on http://%s:%u (loopback)",
		e->cfg.http_addr, e->cfg.http_port);
	return 0;
}

void listen_fini(struct events *e)
{
	if (e->http)
		evhttp_free(e->http);   /* closes the streams (their close callbacks) */
	e->http = NULL;
}
