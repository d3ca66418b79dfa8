/*
 * api_int.h — inside the HTTP API (src/api): the server context, one request in
 * flight, the route table and the resource descriptions shared by the files of the
 * module. Nothing here leaves src/api.
 */
#ifndef TRUNX_API_INT_H
#define TRUNX_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "api/api.h"

struct api;
struct api_req;
struct api_view;
struct b2bua_view;
struct evhttp;
struct evhttp_bound_socket;
struct evconnlistener;
struct api_conns;
struct event;
struct event_base;

#define API_ID_LEN      24    /**< "req_" + 16 hex + NUL, rounded */
#define API_PARAM_MAX   128   /**< a path parameter's bytes */
#define API_PATH_MAX    512
#define API_TENANT_MAX  64
#define API_MAX_SCOPES  16
#define API_SCOPE_MAX   32
#define API_PAGE_MAX    200   /**< most rows a list returns */
#define API_PAGE_DEFAULT 50
#define API_DB_MAX      16    /**< Postgres connections of the API at most */
#define API_VIEW_CALLS_MAX 65536   /**< calls the control thread's copy holds at most
					 when no max_calls is configured */

/* ---- errors (api.c) ---- */

/** An error to answer: HTTP status, a stable code and a sentence. */
struct api_err {
	int  status;
	char code[40];
	char message[256];
	char field[64];     /**< the offending field, "" = none */
};

int api_err_set(struct api_err *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- JSON bodies (api_json.c; pure) ---- */

enum api_ftype {
	AF_STRING = 0,
	AF_INT,
	AF_BOOL,
	AF_STRARRAY,   /**< array of strings */
	AF_OBJECT,     /**< any JSON object (stored as jsonb) */
};

enum api_fflags {
	AF_REQ     = 1u << 0,  /**< required on create */
	AF_RO      = 1u << 1,  /**< read only: never accepted in a body */
	AF_SECRET  = 1u << 2,  /**< write only: never returned */
	AF_OPWRITE = 1u << 3,  /**< only an operator may set it */
	AF_CREATE  = 1u << 4,  /**< settable on create only */
	AF_FILTER  = 1u << 5,  /**< a list may filter on it (?name=value) */
	AF_NULL    = 1u << 6,  /**< null accepted (clears the column) */
};

enum api_fcheck {
	AC_NONE = 0,
	AC_E164,       /**< +[1-9] and up to 14 more digits */
	AC_NAME,       /**< 1-63 of A-Z a-z 0-9 _ . - */
	AC_ENUM,       /**< one of enums[] */
	AC_DIGITS,     /**< 0-15 digits */
	AC_SIPURI,     /**< sip: or sips: followed by printable ASCII */
	AC_DEST,       /**< an E.164 number or a sip:/sips: URI */
	AC_UUID,
	AC_SCOPES,     /**< each element a known scope */
	AC_FOLDER,     /**< an absolute folder: "/" and printable ASCII, no . or .. parts */
};

struct api_field {
	const char        *name;
	enum api_ftype     type;
	const char        *column;   /**< SQL column ("" = not a column) */
	const char        *cast;     /**< SQL cast of the parameter ("text", "cidr[]"...) */
	unsigned           flags;
	enum api_fcheck    check;
	long               min, max; /**< AF_INT range; AF_STRING length (max 0 = 255) */
	const char *const *enums;
	const char        *desc;
};

/** The decoding modes of api_json_decode. */
enum api_jmode {
	AJ_CREATE = 0,   /**< required fields must be there */
	AJ_UPDATE,       /**< every field optional; AF_CREATE fields refused */
	AJ_OPTIONAL,     /**< every field optional, none needed (checked later) */
};

/**
 * Parses a request body and checks it against a field table: a JSON object, no
 * unknown field (422 unknown_field naming it), each of the right type (422
 * invalid_type) and value (422 invalid_value), required ones present (422
 * missing_field), operator-only ones only from an operator (403 forbidden_field).
 * @return 0 with *out the object (caller frees), or EINVAL with e filled
 */
int api_json_decode(const char *buf, size_t len, const struct api_field *f, size_t nf,
		    enum api_jmode mode, bool operator_, json_t **out, struct api_err *e);

/** Validates one value against a field (used for query filters too). */
int api_field_check(const struct api_field *f, json_t *v, struct api_err *e);

/** True for a number in E.164 form (+ and 2-15 digits, no leading 0). */
bool api_is_e164(const char *s);

/** The scopes a key may hold (NULL-terminated). */
extern const char *const api_scope_names[];

/* ---- resources (api_res.c, api_fields.c) ---- */

enum api_tenancy {
	AT_NONE = 0,     /**< infrastructure: operator only */
	AT_OWNED,        /**< every row belongs to one tenant (tenant_id NOT NULL) */
	AT_OPTIONAL,     /**< tenant_id may be NULL (shared rows, operator's) */
	AT_SELF,         /**< the tenants table: a tenant sees its own row */
};

struct api_resource {
	const char             *name;      /**< path segment: "trunks" */
	const char             *schema;    /**< OpenAPI schema name: "Trunk" */
	const char             *table;
	const char             *key;       /**< key column ("id", "number") */
	const char             *key_cast;  /**< "uuid" or "text" */
	enum api_tenancy        tenancy;
	const char             *read_scope, *write_scope;
	bool                    tenant_write;  /**< tenants may create/update/delete */
	const struct api_field *fields;
	size_t                  n_fields;
	const char             *notify;    /**< NOTIFY channel after a change, or NULL */
};

extern const struct api_resource api_resources[];
extern const size_t api_n_resources;
const struct api_resource *api_resource_find(const char *name);

/* ---- routes (api_route.c; pure) ---- */

enum api_rflags {
	AR_PUBLIC   = 1u << 0,  /**< no authentication */
	AR_OPERATOR = 1u << 1,  /**< operator keys only */
	AR_BODY     = 1u << 2,  /**< takes a JSON body */
	AR_LIST     = 1u << 3,  /**< a list: cursor, limit, filters */
	AR_TEXT     = 1u << 4,  /**< answers text, not JSON (metrics) */
	AR_HIDDEN   = 1u << 5,  /**< served but not an API operation (none today) */
	AR_STREAM   = 1u << 6,  /**< answers a text/event-stream that does not end */
};

typedef void (api_handler_h)(struct api_req *r);

struct api_route {
	enum evhttp_cmd_type        method;
	const char                 *pattern;   /**< "/v1/trunks/{id}" */
	api_handler_h              *h;
	const struct api_resource  *res;       /**< for the generic handlers */
	unsigned                    flags;
	const char                 *scope;     /**< needed scope ("" = any valid key) */
	const char                 *op_id;     /**< OpenAPI operationId */
	const char                 *summary;
	int                         status;    /**< success status */
	const char                 *body;      /**< request schema name, or NULL */
	const char                 *reply;     /**< response schema name, or NULL */
};

extern const struct api_route *api_routes;
extern size_t api_n_routes;

/** Builds the route table (resources x operations + the fixed routes). Once. */
int api_routes_init(void);

#define API_MAX_PARAMS 2

/**
 * Finds the route for a method and a path ("/v1/trunks/abc"): 0 with *rp and the
 * path parameters (percent-decoded), ENOENT (no path matches: 404), EPERM (the path
 * matches with another method: 405, allow lists the methods), EINVAL (a bad path).
 */
int api_route_match(enum evhttp_cmd_type method, const char *path,
		    const struct api_route **rp, char params[API_MAX_PARAMS][API_PARAM_MAX],
		    char *allow, size_t allowlen);

const char *api_method_name(enum evhttp_cmd_type m);

/* ---- the caller (api_auth.c) ---- */

struct api_principal {
	bool     authenticated;
	bool     operator_;                 /**< operator key or service token */
	bool     service;                   /**< the internal service token */
	char     tenant[API_TENANT_MAX];    /**< "" for operators */
	char     key_id[40];
	size_t   n_scopes;
	char     scopes[API_MAX_SCOPES][API_SCOPE_MAX];
};

bool api_principal_has(const struct api_principal *p, const char *scope);

/* ---- one request ---- */

struct wire;

struct api_listener {
	struct api                 *api;
	struct evhttp              *http;
	bool                        service;   /**< loopback/unix: the service token works */
	char                        name[16];
	/* Connection guard (api_wire.c). */
	struct evconnlistener      *lev;       /**< evhttp's accepting socket */
	struct api_conns           *conns;     /**< connections per source */
	struct event               *resume_ev; /**< after an accept error: accept again */
	unsigned                    open;      /**< connections alive */
	unsigned                    max_open;  /**< [api] max_connections */
	unsigned                    deadline_ms;  /**< a request whole and answered within */
	unsigned                    idle_ms;   /**< [api] timeout: nothing received this long */
	uint64_t                    body_limit;   /**< [api] body_limit */
	bool                        full;      /**< accepting paused: open == max_open */
	bool                        erred;     /**< accepting paused: an accept error */
	struct wire                *wires;     /**< connections alive (api_wire.c) */
};

struct api_req {
	struct api                 *api;
	struct evhttp_request      *req;
	struct api_listener        *l;
	char                        id[API_ID_LEN];
	char                        src[64];
	char                        path[API_PATH_MAX];
	struct evkeyvalq            query;
	bool                        query_parsed;
	const struct api_route     *route;
	char                        params[API_MAX_PARAMS][API_PARAM_MAX];
	struct api_principal        who;
	json_t                     *body;
	struct timespec             t0;
	void                       *state;     /**< a handler's own */
	json_t                     *mcp_id;    /**< MCP tools/call: the JSON-RPC id; the
						    answer is wrapped as its result */
	char                       *body_override; /**< MCP: the tool's arguments */
};

/** Checks the route's operator flag and scope, then runs its handler. */
void api_run(struct api_req *r);
void api_h_mcp(struct api_req *r);
/** A JSON Schema object of a field table (api_openapi.c). */
json_t *api_object_schema(const struct api_field *f, size_t n);

/** Makes evhttp's own error pages JSON on this listener and counts its connections
 * (api_wire.c); before the listener is bound. */
void api_wire_attach(struct api_listener *l);
/** Guards the bound listener: the connection caps, the request deadline, accept errors.
 * @return 0 or ENOMEM */
int api_wire_guard(struct api_listener *l, struct event_base *base,
		   struct evhttp_bound_socket *bs, unsigned max_open, unsigned max_per_source,
		   unsigned deadline_ms);
/** Frees the guard; after evhttp_free() of the listener (its connections are gone). */
void api_wire_release(struct api_listener *l);
/** Connections open on both listeners. */
unsigned api_connections_open(struct api *a);

/** Logs r as handed over to another module, which answers r->req itself, and frees
 *  r (read what you need of it first). */
void api_handoff(struct api_req *r);

/** Sends a JSON reply (steals j) and ends the request. */
void api_reply(struct api_req *r, int status, json_t *j);
/** Sends an error reply and ends the request. */
void api_reply_err(struct api_req *r, const struct api_err *e);
void api_fail(struct api_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/** Sends a text reply and ends the request. */
void api_reply_text(struct api_req *r, int status, const char *ctype, const char *text,
		    size_t len);
/** Answers a database error (SQLSTATE mapped: 409, 422, 503...). */
void api_reply_db_err(struct api_req *r, int err, const PGresult *res, const char *msg);

/** The request's query parameter, or NULL. */
const char *api_query(struct api_req *r, const char *name);

/** The body bytes (NUL-terminated copy in *buf, caller frees). */
int api_body(struct api_req *r, char **buf, size_t *len);

struct db;
struct kv;
struct b2bua;

/** Runs fn(arg) on the control thread; any thread. @return 0, ENOMEM */
int api_post(struct api *a, void (*fn)(void *arg), void *arg);

/** The least busy of the API's Postgres connections (answers come back in order on
 *  each; requests never need an order between them). */
struct db *api_db(struct api *a);
struct kv *api_kv(struct api *a);
struct b2bua *api_b2bua(struct api *a);
/** The calls' copy on the control thread (api_view.h). */
struct api_view *api_view_of(struct api *a);
struct events *api_events(struct api *a);
struct data *api_data(struct api *a);
const struct conf_api *api_conf(struct api *a);
struct api_metrics *api_metrics(struct api *a);

/* ---- auth (api_auth.c) ---- */

struct api_auth;
typedef void (api_auth_h)(struct api_req *r, int status, const struct api_err *e);

struct event_base;
struct api_keycache_stats;
/** redis_url "" or NULL: no subscriber, the node's own key copy stays off.
 *  kv_timeout_ms: the Redis command deadline (the copy needs an answer within half). */
int api_auth_create(struct api_auth **ap, struct api *a, struct event_base *base,
		    const char *redis_url, unsigned kv_timeout_ms);
/** Starts the revocation subscriber. */
int api_auth_start(struct api_auth *au);
void api_auth_destroy(struct api_auth *au);
/** The API's Redis command connection went up or down (the copy is off while down). */
void api_auth_kv_state(struct api_auth *au, bool up);
void api_auth_cache_stats(struct api_auth *au, struct api_keycache_stats *s);
/** Authenticates r (fills r->who); h gets status 0 or an error. */
void api_auth_check(struct api_auth *au, struct api_req *r, api_auth_h *h);
/** Drops a key's cached copies (here, in Redis, and on every node by publish): the
 *  next request reads Postgres (a tenant changed). */
void api_auth_forget(struct api_auth *au, const char *key_hash);
/** Marks a key hash revoked at once: this node's copy dropped, Redis's entry set to
 *  "revoked", the hash published to every node. done(arg) (may be NULL) runs once
 *  Redis took the publish (or at once when Redis is down). */
void api_auth_invalidate(struct api_auth *au, const char *key_hash, const char *request_id,
			 void (*done)(void *arg), void *arg);
struct api_auth *api_auth_of(struct api *a);

/* ---- keys (api_key.c) ---- */

#define API_KEY_PREFIX "tk_live_"
#define API_KEY_LEN    (8 + 40)   /**< prefix + 40 base62 characters */

/** A new random key (NUL-terminated, API_KEY_LEN + 1 bytes). */
int api_key_generate(char *out, size_t len);
/** The lowercase hex SHA-256 of a key (65 bytes with the NUL). */
void api_key_hash(const char *key, char out[65]);
/** True if s has the form of a key (prefix and base62 body). */
bool api_key_wellformed(const char *s);

/* ---- handlers ---- */

void api_h_list(struct api_req *r);
void api_h_get(struct api_req *r);
void api_h_create(struct api_req *r);
void api_h_update(struct api_req *r);
void api_h_delete(struct api_req *r);
void api_h_keys_create(struct api_req *r);
void api_h_keys_revoke(struct api_req *r);
void api_h_calls_create(struct api_req *r);
/** The B2BUA's view hook (signalling thread): hands the message to the control thread. */
void api_calls_on_view(struct b2bua_view *m, void *arg);
void api_h_calls_list(struct api_req *r);
void api_h_calls_get(struct api_req *r);
void api_h_calls_hangup(struct api_req *r);
void api_h_calls_media(struct api_req *r);
void api_h_openapi(struct api_req *r);
void api_h_metrics(struct api_req *r);
void api_h_health(struct api_req *r);
void api_h_me(struct api_req *r);
void api_h_events_stream(struct api_req *r);
void api_h_webhooks_list(struct api_req *r);
void api_h_webhook_create(struct api_req *r);
void api_h_webhook_delete(struct api_req *r);
void api_h_webhook_rotate(struct api_req *r);
void api_h_webhook_deliveries(struct api_req *r);
void api_h_webhook_redrive(struct api_req *r);

/* ---- metrics (api_metrics.c) ---- */

#define API_SETUP_WINDOW 10   /**< seconds the setup rate is averaged over */

struct api_metrics {
	uint64_t requests;
	uint64_t by_class[6];          /**< 1xx..5xx by status / 100 */
	uint64_t auth_failed;
	uint64_t auth_limited;         /**< answered 429 for failed authentication */
	uint64_t conn_refused;         /**< connections over a source's share (429) */
	uint64_t conn_timed_out;       /**< connections cut at the request deadline (408) */
	uint64_t conn_paused;          /**< times accepting paused at max_connections */
	uint64_t accept_errors;        /**< accept() failures (each pauses accepting 1 s) */
	uint64_t lat_buckets[12];      /**< request latency histogram (le buckets) */
	double   lat_sum;
	uint64_t setups[API_SETUP_WINDOW + 1];   /**< calls started, one sample a second */
	unsigned setups_n;             /**< samples taken (ring of API_SETUP_WINDOW + 1) */
};

void api_metrics_observe(struct api_metrics *m, int status, double seconds);
/** Once a second (control thread): the B2BUA's calls started so far. */
void api_metrics_tick(struct api_metrics *m, uint64_t calls_total);
extern const double api_lat_bounds[12];

extern const struct api_field api_call_fields[];
extern const size_t api_n_call_fields;

/* ---- live media control of a call (api_media.c) ---- */

/** POST /v1/calls/{id}/NAME: its request schema (named schema) and summary. */
struct api_media_op {
	const char             *name;     /**< "dtmf", "play", "record", "amd", "transfer" */
	const char             *schema;   /**< OpenAPI request schema: "CallDtmf" */
	const char             *summary;
	const struct api_field *fields;
	size_t                  n_fields;
};

extern const struct api_media_op api_media_ops[];
extern const size_t api_n_media_ops;

/** The operation a request path ends with, or NULL. */
const struct api_media_op *api_media_op_of(const char *path);

/** Runs r's media operation on call r->params[0], already found visible to the caller;
 *  r->body holds the decoded body (or NULL). Answers r. */
void api_media_start(struct api_req *r);

/** A media file name of the request's caller (tenant: its subfolder of [api]
 *  media_dir) as a path in out; false after answering r (403 or 422 naming field). */
bool api_media_file(struct api_req *r, const char *field, const char *name, char *out,
		    size_t len);

/* ---- Idempotency-Key (api_idem.c) ---- */

#define API_IDEM_KEY_MAX 255

/** Where a request's key is kept and what the request was. */
struct api_idem {
	char rkey[160];    /**< the Redis key (tenant, sha256 of the header) */
	char hash[65];     /**< sha256 of the decoded body, keys sorted */
};

enum api_idem_state {
	API_IDEM_NEW = 0,  /**< claimed: go on, then api_idem_finish() */
	API_IDEM_REPLAY,   /**< answered before: status and body given */
	API_IDEM_BUSY,     /**< a request with this key is in flight (409) */
	API_IDEM_REUSED,   /**< the key was used for another request (422) */
	API_IDEM_DOWN,     /**< Redis did not answer (503) */
};

typedef void (api_idem_h)(struct api_req *r, enum api_idem_state st, int status,
			  json_t *body);

/** 1-255 visible ASCII characters. */
bool api_idem_key_ok(const char *key);
void api_idem_names(const char *tenant, const char *key, const json_t *body,
		    struct api_idem *out);
/** Claims the key (SET NX, a pending marker); h answers (body borrowed). */
void api_idem_claim(struct api_req *r, const struct api_idem *id, api_idem_h *h);
/** Keeps the answer for 24 h (or drops the claim: 429 and 5xx are retried anew). */
void api_idem_finish(struct api *a, const struct api_idem *id, int status,
		     const json_t *body);

/** The OpenAPI document (new reference). */
json_t *api_openapi_doc(void);
/** The OpenAPI document as served (rendered once by api_create). */
const char *api_openapi_text(struct api *a, size_t *len);

#endif
