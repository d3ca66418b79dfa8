/*
 * sipua_int.h — private structures of the SIP user agent (sip/ua only).
 * The only place where sofia-sip types and trunx types meet.
 */
#ifndef TRUNX_SIPUA_INT_H
#define TRUNX_SIPUA_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct sipua;
struct sipua_leg;

#define SU_ROOT_MAGIC_T  struct sipua
#define SU_TIMER_ARG_T   struct sipua_timer
#define SU_WAKEUP_ARG_T  struct sipua
#define NUA_MAGIC_T      struct sipua
#define NUA_HMAGIC_T     struct sipua_leg

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/su_wait.h>

#include "mq.h"
#include "sipua.h"
#include "sipua_mclass.h"
#include "sipua_msg.h"
#include "sipua_peers.h"

/** The Allow we advertise: the methods trunx really serves. */
#define SIPUA_INFO_QUEUE 32   /**< DTMF digits waiting to be sent by INFO, per leg */
#define SIPUA_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO"
/** ...and on a leg that sent a REFER: the NOTIFYs of its subscription come back. */
#define SIPUA_ALLOW_REFERRING SIPUA_ALLOW ", NOTIFY"
#define SIPUA_DROP_MAX 1024   /**< handles of silently dropped requests kept at once */
#define SIPUA_LEG_BUCKETS 4096 /**< Call-ID index of the legs (chained) */
#define SIPUA_BYE_WAIT_MS 4000 /**< longest a BYE waits for our re-INVITE to complete */
/** Transaction lifetime (64*T1) once the stack is shutting down: the BYEs sent after the
 *  grace period give a silent peer this long, not the 32 s the stack would wait. */
#define SIPUA_SHUTDOWN_T1X64_MS 4000
#define SIPUA_DROP_MS  40000  /**< how long a dropped request's handle is kept (> Timer B) */

/** A request answered by silence: its handle is kept until the peer gave up. */
struct sipua_drop {
	nua_handle_t *nh;
	uint64_t      expires_ms;
};

/** UDP sockets of the stack watched for queueing delay (a wildcard listen address
 * has one per host address; those beyond are not measured). */
#define SIPUA_UDP_FDS 16

/** One sample of the UDP socket's queueing delay (sipua_qdelay.c). */
struct sipua_qsample {
	uint64_t ms;      /**< sipua_now_ms() when taken; at most one per ms */
	unsigned delay;   /**< age of the datagram at the head of the queue, ms */
};

/** Samples kept: one per ms at most, so more than any window asked about (ms). */
#define SIPUA_QSAMPLES 1024

struct guard_rate;
struct guard_conns;

/** The guards in front of the stack (sipua_front.c); signalling thread, but the
 *  counters, which any thread reads. */
struct sipua_front {
	bool                   attached;    /**< the socket hooks are ours */
	struct sipua_guard_cfg cfg;         /**< in force */
	struct guard_rate     *rate;
	struct guard_conns    *conns;       /**< accepted connections, TCP and TLS */
	int                    tls_lfd;     /**< the TLS listening socket, or -1 */
	su_timer_t            *tick;
	unsigned               ticks;
	uint64_t               secret;      /**< key of stateless To tags */
	char                  *scratch;     /**< a datagram made contiguous */
	char                  *reply;       /**< a stateless answer */
	uint64_t               report_ms;   /**< last summary line */
	struct sipua_guard_stats reported;  /**< counters at that time */
	uint64_t               trim_ms;     /**< last look at free heap memory */
	_Atomic uint64_t       c_not_sip;   /**< datagrams that cannot be SIP, dropped */
	struct guard_recent   *recent;      /**< recent INVITE decisions (admission) */
	struct sipua_sl_refusal *refusal;   /**< scratch of a refusal */
	_Atomic uint64_t       c_overload, c_overload_resent, c_recent_full;
	_Atomic uint64_t       c_acks;      /**< ACKs of our stateless answers, absorbed */
	_Atomic uint64_t       c_malformed; /**< new INVITEs the call layer's check refused */
	_Atomic uint64_t       c_unserved;  /**< requests of methods not served out of a
					         dialog, answered (405, 481, 501, or 400) */
	_Atomic uint64_t       malformed_ms; /**< when the last of those was answered */
	_Atomic uint64_t       c_rate_limited, c_ok, c_rejected, c_dropped, c_open,
			       c_accepted, c_refused_limit, c_refused_unknown, c_refused_fd,
			       c_closed_unknown, c_closed_idle, c_closed_incomplete;
};

struct sipua {
	struct sipua_cfg  cfg;
	sipua_event_h    *eh;
	sipua_check_h    *ch;
	sipua_source_h   *src_class;     /**< address-only check (front, accept) */
	sipua_admit_h    *admit;         /**< admission of new INVITEs (front), or NULL */
	void             *arg;
	sipua_known_h    *known;         /**< trunk check for in-dialog sources, or NULL */
	void             *known_arg;
	struct sipua_mclass *mclass;     /**< the strict message class the stack parses with */
	struct sipua_peers  *peers;      /**< IPs of the peers of live legs */

	pthread_t         thread;
	bool              thread_started;
	pthread_mutex_t   lock;          /**< guards ready/start_err during start-up */
	pthread_cond_t    cond;
	bool              ready;
	int               start_err;
	atomic_bool       accepting;     /**< sipua_post() allowed */
	bool              stopping;      /**< nua_shutdown() issued (signalling thread) */

	struct mq        *mq;            /**< jobs from other threads */
	int               mq_reg;        /**< su_root_register index */
	su_root_t        *root;
	nua_t            *nua;
	su_timer_t       *reaper;        /**< 1 s housekeeping timer (drop list) */

	int               udp_fd;        /**< the stack's UDP socket (read-only use), -1 */
	int               udp_fds[SIPUA_UDP_FDS]; /**< all of them: one per host address
						       with a wildcard listen address */
	size_t            n_udp_fds;
	bool              q_measuring;   /**< its queueing delay is sampled (qdelay.c) */
	struct sipua_qsample q[SIPUA_QSAMPLES];   /**< ring of delay samples */
	size_t            q_last, q_count;        /**< newest sample, samples kept */
	atomic_uint       retry_after;   /**< Retry-After (s) of SIPUA_BUSY answers */

	char              contact_udp[SIPUA_HOST_MAX + 32];
	char              contact_tcp[SIPUA_HOST_MAX + 48];
	char              contact_tls[SIPUA_HOST_MAX + 48];

	/* TLS (sipua_tls.c; signalling thread) */
	sipua_tls_verify_h *tls_verify;  /**< verification policy, or NULL (all) */
	void             *tls_verify_arg;
	struct sipua_tls_conn *tls_conns;/**< TLS connections peers opened to us */
	char              tls_dir[64];   /**< transient directory handed to the stack */
	atomic_uint_fast64_t st_tls_refused;
	atomic_uint_fast64_t st_tls_stranger;  /**< handshakes refused at the ClientHello */

	struct sipua_leg *legs;          /**< every live leg (for shutdown) */
	struct sipua_leg *by_call_id[SIPUA_LEG_BUCKETS]; /**< legs by Call-ID hash */
	struct sipua_aux *aux;           /**< REGISTER / OPTIONS in progress */
	struct sipua_drop drops[SIPUA_DROP_MAX];
	size_t            drop_head, drop_count;

	pthread_mutex_t   tap_lock;      /**< guards tap_fd (any thread sets or reads it) */
	int               tap_fd;        /**< packet socket counting filtered datagrams, -1 */
	atomic_uint_fast64_t tap_count;  /**< datagrams the source filter dropped so far */

	/* Counters (struct sipua_stats): written on the signalling thread. */
	atomic_uint_fast64_t st_in_dialog_refused, st_in_dialog_bad, st_contact_refused,
			     st_glare;

	uint64_t          cid_state;     /**< Call-ID generator state (xorshift) */
	uint64_t          cid_seq;

	char              logline[1024]; /**< sofia log line being assembled */
	size_t            loglen;

	struct sipua_front front;
};

enum sipua_offer_kind { OFFER_NONE = 0, OFFER_INVITE, OFFER_UPDATE };

#define SIPUA_LEG_PEERS 4   /**< peer addresses remembered per leg */

struct sipua_leg {
	struct sipua     *ua;
	nua_handle_t     *nh;
	void             *ctx;
	bool              aux;            /**< the handle is a REGISTER or OPTIONS of
					       sipua_aux.c, not a call leg */
	char             *auth_user;      /**< outbound: credentials for a challenge */
	char             *auth_secret;
	unsigned          auth_tries;     /**< challenges answered on this leg */
	struct sipua_leg *next, *prev;
	struct sipua_leg *hnext;          /**< next in its by_call_id bucket */
	bool              inbound;
	bool              confirmed;      /**< 2xx sent or received */
	bool              final_sent;     /**< inbound: final response to the INVITE given */
	bool              responded;      /**< inbound: a response (and the preferences) sent */
	bool              failed;         /**< outbound: FAILED delivered */
	bool              hung_up;        /**< sipua_leg_hangup() done */
	bool              terminated;     /**< TERMINATED delivered */
	bool              reoffer_pending;/**< our re-INVITE awaits its final response */
	bool              inv_server_open;/**< an INVITE of the peer is not done: unanswered,
					       or answered 2xx and not yet ACKed */
	bool              cancel_pending; /**< our CANCEL of a re-INVITE awaits its answer
					       (a new INVITE would queue behind it) */
	bool              bye_deferred;   /**< a BYE (ours or the peer's, in bye_saved)
					       waits for our re-INVITE to complete */
	nua_saved_event_t bye_saved[1];   /**< the peer's BYE to answer then, or NULL */
	struct sipua_timer *bye_timer;    /**< answers it anyway after SIPUA_BYE_WAIT_MS */
	bool              cancelled;      /**< CANCEL sent */
	bool              bye_sent;       /**< outbound or answered: our BYE sent (or
					       deferred behind our re-INVITE) */
	enum sipua_offer_kind offer;      /**< incoming offer awaiting sipua_leg_answer() */
	nua_saved_event_t saved[1];       /**< its request (offer != OFFER_NONE) */
	struct sockaddr_storage peer[SIPUA_LEG_PEERS]; /**< the peer's IPs (ports zero) */
	unsigned          n_peer;
	enum sipua_end    end;
	enum sipua_transport transport;
	struct sockaddr_storage src;      /**< inbound: where the INVITE came from */
	struct sipua_policy policy;
	char              early_sdp_tag[64]; /**< outbound: To-tag of the first 18x with
					       SDP ("" until one came) */
	bool              peer_100rel;    /**< inbound: the INVITE said Supported/Require 100rel */
	char              call_id[128];
	/* DTMF digits sent by INFO (sipua_info.c), one in flight at a time. */
	struct { char digit; unsigned duration_ms; } info_q[SIPUA_INFO_QUEUE];
	unsigned          info_head, info_n;
	bool              info_busy;      /**< an INFO awaits its final response */
	bool              refer_busy;     /**< our REFER runs: its answer or NOTIFYs due */
	bool              refer_final;    /**< ...and its outcome was delivered */
	/* Our PRACKs of the peer's reliable 18x (the stack sends them), see sipua_leg.c. */
	unsigned          prack_out;      /**< PRACKs awaiting their final response */
	struct sipua_timer *prack_timer;  /**< the INVITE's end before the PRACK's timeout */
	bool              prack_late;     /**< the timer ran: CANCEL sent for the PRACK */
	int               prack_refused;  /**< the session-ending answer to our PRACK that
					   *  trunx took from the stack (the leg ends) */
};

/* sipua_aux.c */
/** Events of REGISTER / OPTIONS handles; `local`: the answer is our stack's own. */
void sipua_aux_event(struct sipua *ua, nua_event_t event, int status, nua_t *nua,
		     struct sipua_leg *leg, sip_t const *sip, bool local);
/** Frees every REGISTER / OPTIONS object without callbacks (the stack stopped). */
void sipua_aux_release_all(struct sipua *ua);
/** Answers a 401/407 on a handle with credentials (the challenge's realm). */
bool sipua_auth_answer(nua_handle_t *nh, sip_t const *sip, const char *user,
		       const char *secret);

/* sipua_info.c */
/** An INFO received on a leg: answered here; a DTMF digit becomes SIPUA_EV_INFO. */
void sipua_info_in(struct sipua *ua, nua_t *nua, struct sipua_leg *leg, sip_t const *sip);
/** The final response to our INFO: the next queued digit goes. */
void sipua_info_answered(struct sipua_leg *leg, int status);
/* sipua_refer.c: REFER sent, its answers and NOTIFYs, REFERs from peers refused */
void sipua_refer_answered(struct sipua *ua, struct sipua_leg *leg, int status, bool local);
void sipua_refer_notify(struct sipua *ua, struct sipua_leg *leg, int status, sip_t const *sip);
void sipua_refer_in(struct sipua *ua, nua_t *nua, struct sipua_leg *leg);

/* sipua_event.c */
void sipua_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
		     struct sipua *ua, nua_handle_t *nh, struct sipua_leg *leg,
		     sip_t const *sip, tagi_t tags[]);
/** Keeps the handle of a request answered by silence until the peer gave up. */
void sipua_drop_add(struct sipua *ua, nua_handle_t *nh);
/** Releases the kept handles that expired (all of them if `all`). */
void sipua_drop_reap(struct sipua *ua, bool all);

/** The transports trunx can send on (enum sipua_tp_mask). */
unsigned sipua_tpm(const struct sipua *ua);

/* sipua_leg.c */
void sipua_leg_link(struct sipua *ua, struct sipua_leg *leg);
/** Runs the handler for an event. */
void sipua_deliver(struct sipua *ua, struct sipua_ev *ev);
/** Our Contact for the leg's transport. */
const char *sipua_leg_contact(const struct sipua_leg *leg);
/** Our Contact for a peer reached over tp: "<sip:addr:port>" with tp's port and
 *  transport parameter (never sips:, which would name the TLS listener). */
const char *sipua_contact_for(const struct sipua *ua, enum sipua_transport tp);
/** Delivers TERMINATED once and releases the leg and its handle. */
void sipua_leg_terminate(struct sipua *ua, struct sipua_leg *leg, int status);
/** Releases every leg without events (after the stack shut down). */
void sipua_legs_release_all(struct sipua *ua);
/** Remembers an address the leg's peer uses (IP only; at most SIPUA_LEG_PEERS). */
void sipua_leg_peer_add(struct sipua_leg *leg, const struct sockaddr *sa);
/** Remembers the first hop of a dialog's route set (from the Record-Route of the
 *  INVITE, uac false, or of a response to ours, uac true) when it is an IP literal:
 *  trunx sends the dialog's requests there, so the peer's come from there too (a
 *  proxy may record-route with an address of its own other than the one called). */
void sipua_leg_peer_route(struct sipua_leg *leg, const sip_record_route_t *rr, bool uac);
/**
 * A BYE (the peer's, when bye is its saved event, or ours) meets our re-INVITE in
 * progress: the session's end waits for the re-INVITE to complete (CANCELled to make
 * it quick), see sipua_leg.c.
 */
void sipua_leg_defer_bye(struct sipua_leg *leg, nua_t *nua, bool peer);
/** Our re-INVITE completed: runs a deferred BYE. */
void sipua_leg_bye_resume(struct sipua_leg *leg);
/** The stack sent a PRACK for a reliable 18x of the peer (to our INVITE). */
void sipua_leg_prack_sent(struct sipua_leg *leg);
/** The final response to one of those PRACKs came (or the stack's own). */
void sipua_leg_prack_done(struct sipua_leg *leg);
/** Ends (TERMINATED, handle destroyed) the legs whose INVITE has no final response and
 *  a PRACK of ours unanswered: before the stack shuts down (sipua_leg.c, PRACK). */
void sipua_legs_end_prack(struct sipua *ua);
/**
 * In the stack's parser (sipua_mclass.c): a response `status` that would end the
 * session came from src to a PRACK of ours in the dialog(s) of call_id. True when a
 * leg of that Call-ID, whose peer src is, has its INVITE open behind a PRACK: trunx
 * takes the answer over (the stack drops it) and ends that leg at once, after the
 * parse; false leaves the answer to the stack.
 */
bool sipua_leg_prack_refused(struct sipua *ua, const char *call_id,
			     const struct sockaddr *src, int status);
/**
 * Answers the current request on the leg, a stranger's, 403 naming nothing of what
 * trunx serves (no Allow, no Supported), then gives the handle back its own lists.
 */
void sipua_leg_refuse_stranger(struct sipua_leg *leg, nua_t *nua);
/** True when sa is one of the leg's peer addresses (IP compare). */
bool sipua_leg_peer_has(const struct sipua_leg *leg, const struct sockaddr *sa);
/**
 * The dialog gate (see sipua_mclass.c): may src speak in the dialogs of call_id?
 * True when no leg has that Call-ID, when src is the peer of one that has, or when
 * src is known; false (counted) otherwise.
 */
bool sipua_leg_gate(struct sipua *ua, const char *call_id, const struct sockaddr *src);
/** True when a leg of trunx has this Call-ID (its first LEG_CALL_ID_KEPT characters). */
bool sipua_leg_call_id_live(const struct sipua *ua, const char *call_id);

/* sipua_tls.c */
/**
 * Prepares the files the stack's TLS transport reads (a private directory) and checks
 * that the certificate and key load and match. Before the signalling thread starts.
 * @return 0, or EINVAL with the reason logged
 */
int sipua_tls_prepare(struct sipua *ua);
/** Removes that directory (the stack has read it). */
void sipua_tls_unprepare(struct sipua *ua);
/** Marks the agent whose stack the calling thread is creating (NULL: done); the TLS
 *  context it creates gets trunx's verification. */
void sipua_tls_attach(struct sipua *ua);
/** True when src is the peer of a TLS connection it opened to us (signalling thread). */
bool sipua_tls_source(const struct sipua *ua, const struct sockaddr *src);
/* sipua_front.c */
/** Installs the guards on the stack's SIP sockets (signalling thread, after the
 *  transports are bound); a failure only loses the guards and is logged. */
void sipua_front_start(struct sipua *ua);
/** Removes them (signalling thread, after the stack is destroyed). */
void sipua_front_stop(struct sipua *ua);
/** May peer complete a TLS handshake with us: a source the check accepts, a host we
 *  send calls to, or the peer of a live dialog (signalling thread). */
bool sipua_tls_welcome(struct sipua *ua, const struct sockaddr *peer);
/** Writes an answer of the front's on a connection: true when all of buf[0..n) went. */
typedef bool (sipua_front_write_h)(void *warg, const void *buf, size_t n);
/**
 * The decrypted bytes buf[0..n) just read on the accepted TLS connection fd (a buffer
 * of cap >= n bytes), through the same framing and per-message checks as a TCP
 * connection's (signalling thread): dropped and held messages are squeezed out in
 * place, the front's stateless answers go through write(warg, ...). A dialog peer's
 * request held across reads and then let through comes first, whole: what does not
 * fit in cap waits for sipua_front_sealed_take(). Returns the bytes in buf for the
 * stack (n when fd is not a connection the front watches).
 */
size_t sipua_front_sealed(struct sipua *ua, int fd, char *buf, size_t n, size_t cap,
			  sipua_front_write_h *write, void *warg);
/** Bytes of fd's that wait for the stack (sipua_front_sealed_left() of them), copied
 *  to buf[0..cap), before anything more is read: how many (0: none wait). */
size_t sipua_front_sealed_take(struct sipua *ua, int fd, char *buf, size_t cap);
/** How many bytes of fd's wait for the stack. */
size_t sipua_front_sealed_left(struct sipua *ua, int fd);
/** True when an inbound leg's INVITE came over a connection from peer. */
bool sipua_leg_from(const struct sipua *ua, const struct sockaddr *peer);
/** addr (numeric IPv4/IPv6) and port as a socket address; false if addr is neither. */
bool sipua_endpoint_of(const char *addr, uint16_t port, struct sockaddr_storage *ss);
/** Same family, address and port. */
bool sipua_same_endpoint(const struct sockaddr *a, const struct sockaddr *b);
/** sock (a socket's own address) is want, or want is the wildcard address of sock's
 * family and has its port: the stack binds a wildcard listen address as one socket
 * per host address. */
bool sipua_bound_endpoint(const struct sockaddr *sock, const struct sockaddr *want);
/* sipua_admit.c */
#define SIPUA_RECENT_SLOTS   65536   /**< recent INVITE decisions kept (24 bytes each) */
#define SIPUA_RECENT_TTL_MS  32000   /**< 64*T1: how long a peer retransmits an INVITE */
#define SIPUA_ADMIT_LAPSE_MS 2000    /**< an admission whose INVITE event did not come */

/** One request's admission in front of the stack (sipua_admit_decide's arg). */
struct sipua_admit_ctx {
	struct sipua          *ua;
	const struct sockaddr *src;
	enum sipua_transport   tp;
	uint32_t               aux;   /**< a refusal's answer, packed (for its table entry) */
	bool                   gated; /**< refused by the dialog gate (counted there) */
	bool                   refused; /**< the admission refused it (now or before) */
};

/** sipua_sl_decide_h of the front: the table of recent decisions, then the admission
 *  handler (an admission is kept in the table as ADMITTED). */
enum sipua_sl_decision sipua_admit_decide(void *arg, uint64_t key,
					  const struct sipua_incoming *in,
					  struct sipua_admit_answer *ans);

/** The admission's refusal in ua->front.refusal was answered: kept in the table and
 *  its record posted the first time; a 503 counted. */
void sipua_admit_refused(struct sipua *ua, const struct sockaddr *src, enum sipua_transport tp,
			 uint32_t aux);

/** The stack's event for an INVITE the front admitted has come: true (once) if the
 *  admission counted this INVITE (sipua_incoming.admitted). */
bool sipua_front_claim(struct sipua *ua, sip_t const *sip);

/* sipua_stateless.c */
enum sipua_sl_action {
	SIPUA_SL_DELIVER = 0,   /**< the stack handles it */
	SIPUA_SL_SWALLOW,       /**< nothing is sent, the stack never sees it */
	SIPUA_SL_REPLY,         /**< send the answer written, the stack never sees it */
};

/** The admission's word on a new INVITE (sipua_sl_ctx.decide). */
enum sipua_sl_decision {
	SIPUA_SL_PASS = 0,       /**< to the stack (admitted, or not decided in front) */
	SIPUA_SL_REFUSE,         /**< refused now: answer (ans), record it */
	SIPUA_SL_REFUSE_AGAIN,   /**< a retransmission of a refused one: answer again */
};

/**
 * Asked once per INVITE outside a dialog from an accepted source that the stack would
 * serve: key is the transaction's (sipua_sl_key), in its fields as the stack's event
 * would give them. Fills ans for a refusal.
 */
typedef enum sipua_sl_decision (sipua_sl_decide_h)(void *arg, uint64_t key,
						   const struct sipua_incoming *in,
						   struct sipua_admit_answer *ans);

/** A refused INVITE's fields, for its call record (SIPUA_EV_REFUSED). */
struct sipua_sl_refusal {
	uint64_t                 key;
	bool                     first;      /**< SIPUA_SL_REFUSE (not a retransmission) */
	int                      status;     /**< the answer's */
	struct sipua_incoming    in;         /**< strings in buf and below; src, transport
					          and peer are the caller's */
	struct sipua_incoming_buf buf;
	char ruri_user[128], from_user[128], from_display[128], to_user[128];
};

struct sipua_sl_ctx {
	enum sipua_verdict verdict;     /**< what the source check says of the sender */
	bool               dialog_peer; /**< the sender is the peer of a live dialog */
	/** With dialog_peer: may the sender speak in the dialogs of this Call-ID (the
	 *  dialog gate, sipua_leg_gate)? NULL: yes. When it says no, the request is
	 *  answered as a stranger's and gated_out set. */
	bool             (*gate)(void *arg, const char *call_id, const struct sockaddr *src);
	void              *gate_arg;
	bool              *gated_out;
	/** Does a leg of trunx have this Call-ID? NULL: none has. A request without a To
	 *  tag may still match that dialog in the stack (it matches such requests
	 *  loosely, by Call-ID and From tag): its answer is then the stack's. */
	bool             (*call_live)(void *arg, const char *call_id);
	void              *call_live_arg;
	const char        *user_agent;
	const char        *contact;     /**< "<sip:...>" in a 200, or NULL */
	uint64_t           secret;      /**< key of the To tags */
	unsigned           tpm;         /**< transports (sipua_request_check) */
	sipua_sl_decide_h *decide;      /**< new INVITEs from accepted sources; NULL: the
					     stack's */
	void              *decide_arg;
	struct sipua_sl_refusal *refusal; /**< receives a refused INVITE (decide), or NULL */
};

/**
 * Decides what happens to a request (not a response) received from src (over UDP, or
 * one whole message of a TCP stream) before the stack sees it, and writes the
 * stateless answer when there is one.
 * @param statusp  the answer's status when SIPUA_SL_REPLY: 200, 403, the admission's
 *                 refusal, or from a known source the call layer's refusal of a new
 *                 INVITE (400, 415, 406: sipua_request_check, with its Warning), or
 *                 its answer out of a dialog to a method trunx does not serve there
 *                 (405, 481 for UPDATE, 501 for an unknown one; 400 with a Warning)
 */
enum sipua_sl_action sipua_stateless(const struct sipua_sl_ctx *c, const char *data, size_t len,
				     const struct sockaddr *src, char *buf, size_t buflen,
				     size_t *outn, int *statusp);

/** The key of a request's transaction (keyed hash of Call-ID, From tag, top Via
 *  branch, CSeq): the same for its retransmissions; 0 if those are missing. */
uint64_t sipua_sl_key(uint64_t secret, sip_t const *sip);

/** Finds the UDP socket and starts sampling its queueing delay (sipua_qdelay.c);
 * signalling thread, after the transports are bound. -1 if it cannot. */
int sipua_qdelay_start(struct sipua *ua);

/** Whether the stack's calls to su_root_yield() land on trunx's no-op
 * (sipua_yield.c); false if the executable does not export it. */
bool sipua_yield_interposed(void);

/**
 * The shape of one of the stack's log lines (sipua.c), as it is written: what it says
 * without what it names - the text between < and > (URIs) and the digits of 0x
 * handle addresses left out - so that one complaint about many requests (a scanner's
 * thousand stray ACKs, "strange ACK from <sip:...>") is one line and the log's
 * repeat count, not a line per request.
 * @return the length written to out (NUL-terminated; at most cap - 1)
 */
size_t sipua_stack_log_shape(const char *in, size_t len, char *out, size_t cap);

#endif
