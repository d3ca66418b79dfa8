/*
 * b2bua.h — the call layer: every call is an A leg, a B leg and one media session.
 *
 * The B2BUA owns the signalling thread (sofia-sip su_root + nua, single-thread mode,
 * through the sip/ layer) and the media engine. Every call object lives on the
 * signalling thread. Other threads talk to it only through this API, which posts
 * messages to that thread; replies come back through callbacks that run on the
 * signalling thread and must only hand the result off.
 */
#ifndef TRUNX_B2BUA_H
#define TRUNX_B2BUA_H

#include <stddef.h>
#include <stdint.h>

#include "admit/admit.h"
#include "conf/conf.h"

struct b2bua;

#define B2BUA_LOSS_BUCKETS 8   /**< loss-ratio histogram: 7 bounds and +Inf */

struct b2bua_counters {
	uint64_t calls_active;            /**< calls with at least one leg alive */
	uint64_t calls_total;             /**< INVITEs accepted for routing */
	uint64_t calls_answered;
	uint64_t calls_failed;            /**< ended without answer (any final >= 300 to A) */
	uint64_t rejected_overload;       /**< 503 for max_calls / max_cps */
	uint64_t shed_overload;           /**< 503 at once: the next datagram had waited more
					       than overload_delay (no call record) */
	uint64_t rejected_unknown_source; /**< 403 to unknown sources */
	uint64_t dropped_unknown_source;  /**< silently dropped unknown sources */
	uint64_t rejected_no_route;       /**< 404 unknown DID */
	uint64_t rejected_bad_request;    /**< 400/483/488 from trunx */
	uint64_t rtp_timeouts;            /**< calls hung up for RTP inactivity */
	uint64_t in_dialog_refused;       /**< in-dialog requests from a source that is
					       neither the dialog's peer nor a trunk: 403 */
	uint64_t in_dialog_bad;           /**< in-dialog requests refused as malformed */
	uint64_t contact_refused;         /**< Contacts not taken as targets (source) */
	uint64_t offer_glare;             /**< offers answered 491 by the user agent */
	uint64_t tls_refused;             /**< TLS handshakes failed on certificate checks */
	uint64_t tls_refused_stranger;    /**< TLS handshakes refused at the ClientHello */
	uint64_t rejected_callerid;       /**< 403: a caller ID the tenant does not own */
	uint64_t rejected_refused;        /**< other configured answers (database mode: DID of
					       an unconfigured tenant, announcement, trunk in
					       maintenance, every trunk down...) */
	uint64_t rejected_budget;         /**< a channel pool full, a tenant or global cap */
	uint64_t rejected_admission;      /**< 503: admission could not answer (Redis) */
	uint64_t auth_challenged;         /**< 401 challenges sent (digest identification) */
	uint64_t auth_failed;             /**< 403: wrong digest credentials */
	uint64_t failovers;               /**< calls moved on to their next destination */
	unsigned media_workers;
	uint64_t media_sessions;          /**< media sessions open */
	uint64_t media_ports_free;        /**< RTP/RTCP port pairs still free */
	uint64_t rtp_relayed;             /**< RTP packets relayed since start */
	uint64_t rtp_dropped;             /**< RTP/RTCP packets dropped since start */
	uint64_t rtp_dropped_late;        /**< of those: waited past [media] max_delay_ms */
	uint64_t rtp_foreign;             /**< ended calls' RTP from sources that may not
					       latch ([media] latch = known), dropped */
	bool     kfwd_active;             /**< [media] kernel_forward is attached */
	uint64_t kfwd_flows;              /**< call directions forwarded in the kernel now */
	uint64_t kfwd_packets;            /**< RTP packets the kernel forwarded (synced ~1 s) */
	/* The guards in front of the SIP stack (sipua_guard_stats) and the logger. */
	uint64_t rate_limited;            /**< requests over the per-source rate, dropped */
	uint64_t dropped_not_sip;         /**< datagrams that cannot be SIP, dropped */
	uint64_t options_stateless;       /**< OPTIONS answered without transaction state */
	uint64_t malformed_stateless;     /**< new INVITEs from trunks refused as malformed
					       (400, 415, 406) without transaction state */
	uint64_t methods_stateless;       /**< out-of-dialog requests from trunks of methods
					       not served there (405, 481, 501) answered
					       without transaction state */
	uint64_t overload_stateless;      /**< of rejected_overload: refused in front of the SIP
					       stack (no transaction state) */
	uint64_t overload_resent;         /**< those 503s sent again to retransmissions */
	uint64_t overload_forgotten;      /**< recent INVITE decisions dropped early: the
					       table was full */
	uint64_t acks_absorbed;           /**< ACKs of the front's stateless answers, kept
					       from the SIP stack */
	uint64_t tcp_open;                /**< SIP connections open now */
	uint64_t tcp_accepted;
	uint64_t tcp_refused_limit;       /**< closed at once: over a connection cap */
	uint64_t tcp_refused_unknown;     /**< closed at once: unknown source, drop mode */
	uint64_t tcp_refused_fd;          /**< closed at once: no descriptor left */
	uint64_t tcp_closed_unknown;      /**< unknown source: closed after its answer */
	uint64_t tcp_closed_idle;         /**< idle, no dialog: closed */
	uint64_t tcp_closed_incomplete;   /**< a message not whole in time: closed */
	uint64_t log_suppressed;          /**< repeated log records counted, not written */
	/* Ended calls' RTP, per leg (0: a, the caller; 1: b, the called party). */
	uint64_t rtp_in_leg[2];           /**< packets received from the leg */
	uint64_t rtp_lost_leg[2];         /**< packets missing in its received sequence */
	/** Legs with media by loss ratio lost/(received+lost): cumulative, bucket i counts
	 *  legs at most b2bua_loss_bounds[i]; the last, every leg. */
	uint64_t loss_legs[B2BUA_LOSS_BUCKETS];
	double   loss_sum;                /**< the sum of those legs' loss ratios */
};

/** The upper bounds of the loss-ratio buckets (the last is +Inf). */
extern const double b2bua_loss_bounds[B2BUA_LOSS_BUCKETS];

/**
 * What the B2BUA hands to the data plane (database mode). Each runs on the signalling
 * thread and must not block; the JSON texts are malloc'd and owned by the callee.
 */
struct b2bua_hooks {
	/** A call record: the call.end record as a JSON object, "kind":"cdr" first. */
	void (*cdr)(char *json, void *arg);
	/** An event: {"kind":"event","event_id","type","at","node_id",...}. */
	void (*event)(char *json, void *arg);
	/**
	 * Asks for a call's lease (copied); the answer comes through b2bua_admitted()
	 * with the token. @return 0, or an errno value (the call gets 503)
	 */
	int (*admit)(const struct admit_req *req, void *token, void *arg);
	/** Gives a call's lease back (also when it was not granted: harmless). */
	void (*release)(const char *lease, void *arg);
	/**
	 * A probed trunk's live state changed (qualify, registration): "up", "down",
	 * "unknown" (no answer yet), or NULL once it is no longer probed. May be NULL.
	 */
	void (*trunk_state)(const char *trunk, const char *state, void *arg);
	void *arg;
};

/**
 * The answer to hooks.admit; any thread. The call resumes on the signalling thread.
 * @return 0, EAGAIN (the signalling thread's queue is full: try again soon),
 *         ESHUTDOWN (the B2BUA stopped: drop it), ENOMEM
 */
int b2bua_admitted(struct b2bua *b, void *token, enum admit_verdict v);

/** Sets the hooks (copied). Before b2bua_start(). */
void b2bua_set_hooks(struct b2bua *b, const struct b2bua_hooks *h);

/**
 * Creates the B2BUA from a loaded configuration (copied: the caller may free it after
 * the call) and a frozen routing table (a reference is taken). Starts the media
 * engine. Does not start signalling yet.
 */
int b2bua_create(struct b2bua **bp, const struct conf *cf, struct route_table *rt);

/**
 * Starts the signalling thread. Returns 0 once the SIP sockets are bound and the stack
 * is running, or an errno value (EADDRINUSE, ...) with the reason logged.
 */
int b2bua_start(struct b2bua *b);

/**
 * Graceful stop: refuses new calls, sends BYE/CANCEL on every call, waits up to the
 * configured grace for them to complete, shuts the stack down and joins the thread.
 */
void b2bua_stop(struct b2bua *b);

void b2bua_destroy(struct b2bua *b);

/**
 * Applies the live-changeable parts of a new conf (limits; copied) and a new routing
 * table (a reference is taken; the old one is released once no call uses it). rt NULL
 * keeps the routing as it is (database mode: the tables, not the file, give it).
 */
int b2bua_reload(struct b2bua *b, const struct conf *cf, struct route_table *rt);

/**
 * Swaps in a new routing snapshot (database mode; a reference is taken). Any thread;
 * before b2bua_start() it is applied at once by the caller's thread.
 */
int b2bua_set_routes(struct b2bua *b, struct route_table *rt);

/** Reads the counters; any thread. */
void b2bua_get_counters(const struct b2bua *b, struct b2bua_counters *c);

/** One media worker's load and packet counters (idx < media_workers); any thread.
 *  @return 0 or EINVAL */
int b2bua_media_worker_counters(const struct b2bua *b, unsigned idx,
				struct media_worker_counters *c);

/**
 * Reply to a query: status 0 or an errno (ENOENT: no such call), and a JSON text
 * (malloc'd; the handler owns it) — an array of call objects for calls, an object for
 * hangup. Runs on the signalling thread.
 */
typedef void (b2bua_reply_h)(int status, char *json, void *arg);

/**
 * Lists calls: [{"id","from","to","state","legs":[...],"codecs","duration_ms",...}].
 * @return 0 if posted, EAGAIN if the signalling thread's queue is full
 */
int b2bua_list_calls(struct b2bua *b, b2bua_reply_h *h, void *arg);

/**
 * One call by id, as b2bua_list_calls shows it: a JSON array of that call, or empty
 * (no such call). Costs the signalling thread one call's worth, however many there are.
 * @return 0 if posted, EINVAL (no id or too long), EAGAIN if the queue is full
 */
int b2bua_get_call(struct b2bua *b, const char *call_id, b2bua_reply_h *h, void *arg);

/* ---- the calls' public view, pushed to the control plane (b2bua_view.c) ---- */

#define B2BUA_VIEW_ID_MAX      40   /**< a call id's bytes with its NUL */
#define B2BUA_VIEW_TENANT_MAX  64

/** One call as b2bua_get_call shows it, without its clock-derived fields. */
struct b2bua_view_call {
	char      id[B2BUA_VIEW_ID_MAX];
	char      tenant[B2BUA_VIEW_TENANT_MAX];   /**< "" = none */
	uint64_t  t_start_ms;    /**< wall clock: age_ms = now - t_start_ms */
	uint64_t  t_answer_ms;   /**< wall clock, 0 = not answered: duration_ms */
	json_t   *obj;           /**< the call's object without duration_ms and age_ms;
				      NULL for B2BUA_VIEW_GONE */
};

enum b2bua_view_kind {
	B2BUA_VIEW_SET = 1,   /**< calls[0] is new or changed */
	B2BUA_VIEW_GONE,      /**< calls[0] (its id) was freed */
	B2BUA_VIEW_ALL,       /**< the whole list, newest first: replaces what was known */
};

/**
 * A change of the calls' public view. seq numbers every message the B2BUA meant to
 * send, from 1 with no gap: a receiver seeing a gap lost one (its post failed) and
 * knows its copy is stale until the next B2BUA_VIEW_ALL (sent every second while
 * the hook is set). The message and its JSON objects belong to the receiver, which
 * frees it with b2bua_view_free (any thread).
 */
struct b2bua_view {
	uint64_t                 seq;
	enum b2bua_view_kind     kind;
	size_t                   n;
	struct b2bua_view_call  *calls;
};

/** Runs on the signalling thread and must only hand the message off (it owns it). */
typedef void (b2bua_view_hook)(struct b2bua_view *v, void *arg);

/** Sets the hook (NULL: none, and nothing is built). Before b2bua_start(). */
void b2bua_set_view_hook(struct b2bua *b, b2bua_view_hook *fn, void *arg);

void b2bua_view_free(struct b2bua_view *v);

/** Lists trunks and peers with their state: a JSON array (as b2bua_list_calls). */
int b2bua_list_trunks(struct b2bua *b, b2bua_reply_h *h, void *arg);

#define B2BUA_DIGITS_MAX 32   /**< digits one b2bua_send_digits() call takes */

/**
 * Sends DTMF digits on a leg of an answered call, in that leg's way (its trunk's
 * `dtmf`: RFC 4733, tones, or INFO), in order; each is logged as call.dtmf (via
 * "api"). The reply is {"id","leg","sent","result"}, status 0, ENOENT (no such call)
 * or ENOTCONN (not answered). Any thread.
 * @param leg          'a' (the caller) or 'b' (the called party)
 * @param digits       1 to B2BUA_DIGITS_MAX of 0-9 * # A-D
 * @param duration_ms  per digit, 0 = 100, at most 10,000
 * @return 0 if posted, EINVAL, ENOMEM, EAGAIN (queue full)
 */
int b2bua_send_digits(struct b2bua *b, const char *call_id, char leg, const char *digits,
		      unsigned duration_ms, b2bua_reply_h *h, void *arg);

/** Hangs up a call by id (BYE or CANCEL on both legs). */
int b2bua_hangup(struct b2bua *b, const char *call_id, b2bua_reply_h *h, void *arg);

/* ---- transfer of an answered call (b2bua_xfer*.c) ---- */

enum b2bua_xfer_mode {
	B2BUA_XFER_REFER = 1,      /**< blind: REFER toward the leg's peer (RFC 3515) */
	B2BUA_XFER_BRIDGE,         /**< a new leg to the destination swapped in for the
				        other leg (b2bua_rebridge.c) */
};

struct b2bua_xfer_req {
	char     call_id[128];
	int      leg;             /**< 0 = A, 1 = B: the leg whose peer is transferred */
	enum b2bua_xfer_mode mode;
	char     to[256];         /**< "+E164" or a sip:/sips: URI (checked again here) */
};

/**
 * Starts transferring an answered call. REFER: the leg's peer is asked to call `to`
 * (an E.164 number becomes sip:+NUMBER@ the leg's trunk host); the outcome comes as
 * call.transfer events, and a success ends the call with cause "transferred". The
 * reply ({"id","leg","mode","to","refer_to","result":"referring"}) comes once the
 * REFER is sent: status 0, ENOENT (no such call), ENOTCONN (not answered), EBUSY (a
 * transfer runs), EINVAL (a destination that cannot be referred to; "message" says
 * why), ENOTSUP (mode not available). Any thread; takes nothing.
 * BRIDGE: `leg` is the leg kept; trunx calls `to` (routed as POST /v1/calls routes
 * its destination, under the same rules) with a lease of its own and, on its answer,
 * bridges the kept leg to it and hangs the other up (call.transfer requested,
 * progress, completed or failed; a failure leaves the call as it was). The reply
 * ({"id","leg","mode","to","target","result":"bridging"}) comes once its INVITE is
 * out; errors carry "error" (a code) and "message": also EPERM (not the tenant's to
 * call), EINVAL (no route), EDQUOT (a pool or cap full), EAGAIN.
 * @return 0 if posted, EINVAL, ENOMEM, EAGAIN (queue full), ESHUTDOWN
 */
int b2bua_transfer(struct b2bua *b, const struct b2bua_xfer_req *req, b2bua_reply_h *h,
		   void *arg);

/* ---- prompts, recording, AMD (b2bua_media.c) ---- */

enum b2bua_media_op {
	B2BUA_MEDIA_PLAY = 1,      /**< play pcm to leg */
	B2BUA_MEDIA_RECORD,        /**< record the call to path */
	B2BUA_MEDIA_RECORD_STOP,
	B2BUA_MEDIA_AMD,           /**< detect an answering machine on leg */
};

/** A request for an answered call; built off the signalling thread (the prompt
 *  already read and converted: the signalling thread never waits on disk). */
struct b2bua_media_req {
	enum b2bua_media_op op;
	char     call_id[128];
	int      leg;             /**< 0 = A, 1 = B */
	int16_t *pcm;             /**< play: 8 kHz samples, owned by the request */
	size_t   n;
	bool     mix;             /**< play: mixed with the bridged audio */
	char     path[512];       /**< record: the WAV file to write */
};

/**
 * Posts a media request to the signalling thread; the answer is a JSON object
 * ({"id","result"}), ENOENT when no answered call has that id. Takes the request
 * (and its pcm) in every case.
 * @return 0 if posted, EAGAIN (queue full), ENOMEM
 */
int b2bua_media(struct b2bua *b, struct b2bua_media_req *req, b2bua_reply_h *h, void *arg);

/**
 * What the events module may publish: each media event of a call (call.play,
 * call.record, call.amd, call.beep) as a JSON object, on the signalling thread, after
 * it was logged. fields is borrowed (valid during the call).
 */
typedef void (b2bua_media_hook)(const char *event, const char *call_id, const json_t *fields,
				void *arg);

/* ---- calls placed by the control plane (b2bua_orig.c) ---- */

#define B2BUA_ORIG_TO_MAX 256

/** A call to place for a tenant: one leg, its media terminated by trunx. Built off the
 *  signalling thread (the prompt already read and converted). */
struct b2bua_orig_req {
	char     tenant[64];
	char     from[24];                 /**< E.164: one of the tenant's DIDs */
	char     to[B2BUA_ORIG_TO_MAX];    /**< E.164 (outbound rules) or sip: URI (a peer) */
	unsigned timeout_s;                /**< ringing at most (CANCEL, no_answer); 0 = 60 */
	bool     amd;                      /**< live AMD on the leg from answer */
	int16_t *pcm;                      /**< played on answer (8 kHz), owned; or NULL */
	size_t   n;
	char     record_dir[400];          /**< record the call as DIR/<call id>.wav; "" none */
	char     bridge_to[B2BUA_ORIG_TO_MAX]; /**< on answer, call this (E.164 or a peer's
					        URI, routed as `to`) and bridge the two; "" none */
};

/**
 * Places a call (database mode). The answer comes once the INVITE is out — status 0
 * and {"id","state"} — or the call was refused: an errno and {"error": cause,
 * "message"}; causes: callerid_not_owned, not_a_peer, no_route, trunks_down,
 * tenant_unconfigured (EPERM/ENOENT), pool_full, tenant_over_cap, global_cap (EBUSY),
 * admission_unavailable, admission_timeout, no_media_ports, shutting_down (EAGAIN).
 * From then on it is a call like any other (list, hangup, media, events, record).
 * Takes the request (and its pcm) in every case. Any thread.
 * @return 0 if posted, EINVAL, ENOMEM, EAGAIN (queue full), ESHUTDOWN
 */
int b2bua_originate(struct b2bua *b, struct b2bua_orig_req *req, b2bua_reply_h *h, void *arg);

/** Sets the hook (NULL: none). Before b2bua_start(). */
void b2bua_set_media_hook(struct b2bua *b, b2bua_media_hook *fn, void *arg);

#endif
