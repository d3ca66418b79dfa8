/*
 * events.h — the event stream of database mode, on the control thread: every state
 * change the B2BUA records becomes an `events` row (written through the CDR journal,
 * src/cdr, so none is lost while Postgres is away and none lands twice); once
 * committed, its ids are published on Redis (channel "trunx:events"); every node tails
 * the table and serves Server-Sent Events with Last-Event-ID replay; webhooks per
 * tenant are signed (Standard Webhooks) and retried on a schedule, their delivery state
 * kept in Postgres.
 *
 * DESIGN
 * Ids are drawn under a transaction-scoped advisory lock (migration 004), so id order is
 * commit order on every node: a reader that has seen id N has seen every committed id
 * below N. Each node reads new rows in id order (events_stream.c) when Redis says
 * something was committed, and every poll_interval whatever Redis says (a lost
 * publish, Redis down, another node killed between commit and publish); the stream
 * clients of the node get them from that one reader. A client with Last-Event-ID L
 * replays rows L < id <= H from the table (H: the reader's position when the page was
 * asked for) while the reader skips it; when its replay reaches the reader's position
 * it goes live. The two ranges meet exactly, so nothing is missed or sent twice, on
 * whichever node it reconnects to.
 *
 * Webhook deliveries are rows created in the transaction of their event; any node
 * claims due ones (FOR UPDATE SKIP LOCKED, with a lease: a node killed mid-attempt
 * leaves the delivery due again when the lease ends), posts them with libevent's HTTP
 * client, and records the outcome: delivered, due again after the next delay of
 * webhook_retry, or dead (re-drivable). Delivery is at least once; the webhook-id
 * header (the event id) is the receiver's idempotency key. Host names are resolved
 * with evdns on the control loop; https goes through OpenSSL, the certificate checked
 * against the system store (and [events] webhook_ca_file) and the URL's host; plain
 * http and non-public addresses are refused unless the operator allows them
 * (webhook_allow_http, webhook_allow_private; events_dial.c).
 *
 * HTTP seam: the events_http_* functions serve one request each on an evhttp request
 * of whichever server owns it (src/api, or the loopback listener of [events]
 * http_listen), given the caller's tenant (NULL: the operator, who sees every tenant).
 * They answer themselves: JSON bodies, errors as {"error": code, "message": text}.
 * Nothing here runs on the signalling or media threads.
 */
#ifndef TRUNX_EVENTS_H
#define TRUNX_EVENTS_H

#include <stddef.h>

#include <jansson.h>

#include "conf/conf.h"

struct event_base;
struct evhttp_request;
struct events;

/**
 * Creates the event stream on the control thread's loop: its own Postgres connections,
 * the Redis publisher and subscriber (when [data] redis is set), the webhook client
 * and, with [events] http_listen, the loopback listener.
 * @return 0, EINVAL (err says why), ENOMEM, or the errno of the listener's bind
 */
int events_create(struct events **ep, struct event_base *base, const struct conf *cf,
		  char *err, size_t errlen);

/** Starts connecting. */
int events_start(struct events *e);

/** Ends every stream and attempt; before the control loop's base is freed. */
void events_destroy(struct events *e);

/** Events were committed: their ids, "1,2,3" (the CDR writer's hook). Control thread. */
void events_committed(const char *ids, void *arg);

/** Adds {"events": {...}} (counters, stream clients, webhook backlog) to a status. */
void events_status(struct events *e, json_t *obj);

#define EVENTS_HOOK_LAT_BUCKETS 10

/** The le bounds (seconds) of the webhook attempt latency histogram. */
extern const double events_hook_lat_bounds[EVENTS_HOOK_LAT_BUCKETS];

/** This node's counters since start (gauges: now), for /metrics. */
struct events_counters {
	uint64_t hook_attempts;     /**< attempts started (claimed deliveries) */
	uint64_t hook_delivered;    /**< attempts answered 2xx */
	uint64_t hook_failed;       /**< attempts that did not deliver (retried or dead) */
	uint64_t hook_dead;         /**< deliveries dead-lettered */
	uint64_t hook_in_flight;    /**< gauge: attempts out now */
	int64_t  hook_retry_pending; /**< gauge: pending deliveries already tried once (all
				      nodes; read from Postgres every few seconds), -1 unknown */
	uint64_t hook_lat[EVENTS_HOOK_LAT_BUCKETS]; /**< answered attempts, cumulative le */
	uint64_t hook_lat_count;
	double   hook_lat_sum;      /**< seconds, request sent to answer (or error) */
	uint64_t sse_clients;       /**< gauge: streams open */
	uint64_t sse_sent, sse_replayed, sse_cut, sse_refused;
};

/** Fills c; control thread. */
void events_get_counters(struct events *e, struct events_counters *c);

/* ---- HTTP seam (control thread; each answers the request itself) ---- */

/**
 * GET /v1/events: Server-Sent Events, "id: <row id>", "event: <type>", "data: <JSON>";
 * a Last-Event-ID header replays what followed that id first. types: "call.*,trunk.up"
 * or NULL. 400 for a bad Last-Event-ID or filter. A stream opened before this node's
 * reader knows its position (Postgres not reached yet) starts when it does.
 * key_id: the API key (api_keys.id) the stream was opened with, or NULL (the service
 * token, the loopback listener): every few seconds the keys of the open streams are
 * looked up, and a stream whose key was revoked, deleted, or whose tenant is no
 * longer active is cut.
 */
void events_http_stream(struct events *e, struct evhttp_request *req, const char *tenant,
			const char *types, const char *key_id);

/** GET /v1/webhooks: the tenant's webhooks (the operator's: all), without secrets. */
void events_http_webhooks_list(struct events *e, struct evhttp_request *req,
			       const char *tenant);

/**
 * POST /v1/webhooks: {"url", "types"?, "description"?, "tenant"? (operator only;
 * absent: an operator webhook for every event)} -> 201 with the secret (shown here and
 * on rotation only). 400 malformed JSON, 422 bad or unknown field, 413 too long.
 */
void events_http_webhook_create(struct events *e, struct evhttp_request *req,
				const char *tenant);

/** DELETE /v1/webhooks/{id} -> 204, or 404 (also another tenant's). */
void events_http_webhook_delete(struct events *e, struct evhttp_request *req,
				const char *tenant, const char *id);

/**
 * POST /v1/webhooks/{id}/rotate-secret -> 200 with the new secret; the previous one
 * keeps signing (a second signature) for `grace_s` seconds (0: 24 h).
 */
void events_http_webhook_rotate(struct events *e, struct evhttp_request *req,
				const char *tenant, const char *id, unsigned grace_s);

/**
 * GET /v1/webhooks/{id}/deliveries: newest first, 100 a page; state: "pending",
 * "delivered", "dead" or NULL; before: a delivery id cursor or NULL.
 */
void events_http_deliveries(struct events *e, struct evhttp_request *req,
			    const char *tenant, const char *webhook_id, const char *state,
			    const char *before);

/** POST /v1/webhook-deliveries/{id}/redrive: a dead delivery due again now -> 202;
 *  404 unknown, 409 not dead. */
void events_http_redrive(struct events *e, struct evhttp_request *req, const char *tenant,
			 const char *delivery_id);

#endif
