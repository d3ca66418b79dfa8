/*
 * api.h — the HTTP/JSON API of trunxd (database mode): libevent's evhttp on the
 * control thread, JSON with jansson, API keys in Postgres with a Redis cache.
 *
 * DESIGN
 * Everything runs on the control thread's event loop: the listeners (a public one,
 * and a service one on loopback or a Unix socket, the only door for the internal
 * service token), the Postgres and Redis clients of the API, and every request from
 * its first byte to its answer. A request that needs Postgres, Redis or the B2BUA
 * waits for their asynchronous answers; nothing here blocks, and the signalling and
 * media threads never wait on it. Routes are one table (api_route.c) from which the
 * router and the OpenAPI document are both made. Every answer carries X-Request-Id,
 * the same id as its log line; every error is {"error": CODE, "message": TEXT}.
 */
#ifndef TRUNX_API_H
#define TRUNX_API_H

#include <stddef.h>

#include "conf/conf.h"

struct event_base;
struct b2bua;
struct events;
struct data;
struct api;

/**
 * Creates the API and binds its listeners (cf->api), on base (the control thread's
 * loop, before that thread starts; freed after ctl_stop()).
 * @return 0, EINVAL (no listener configured, or not database mode), EADDRINUSE and
 *         the errno of the socket calls (err says which), ENOMEM
 */
int api_create(struct api **ap, struct event_base *base, const struct conf *cf,
	       struct b2bua *b, char *err, size_t errlen);

/** Starts the API's Postgres and Redis clients. */
int api_start(struct api *a);

/**
 * Serves the event stream's routes (/v1/events, /v1/webhooks...) through e (src/data's
 * data_events()); NULL or never set: they answer 503 events_unavailable.
 */
void api_set_events(struct api *a, struct events *e);

/** Gives /metrics the control thread's view of trunks and channel pools (src/data). */
void api_set_data(struct api *a, struct data *d);

void api_destroy(struct api *a);

/**
 * Start-up tool (`trunxd --create-api-key`): creates an API key in Postgres, blocking.
 * tenant NULL or "" makes an operator key. key receives the key (shown once).
 * @return 0, EINVAL (bad tenant or scope), EIO (Postgres said no: err), ENOMEM
 */
int api_key_create_blocking(const char *conninfo, const char *tenant, const char *name,
			    const char *scopes_csv, char *key, size_t keylen, char *err,
			    size_t errlen);

#endif
