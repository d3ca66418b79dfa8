/*
 * sipua.h — the SIP user agent: sofia-sip's NUA on its own signalling thread,
 * exposed to the rest of trunx with plain C types only.
 *
 * DESIGN
 * One sipua owns one signalling thread. The thread creates the su_root, switches it
 * to single-thread mode (the protocol engine runs on the same thread) and creates the
 * NUA with its media handling off: SDP bodies are opaque text written by the caller.
 * Everything that touches a sipua object after sipua_start() runs on that thread:
 * the event handler, the out-of-dialog check, timers, posted jobs and every
 * sipua_leg_* call. Other threads reach it only through sipua_post().
 *
 * A leg is one dialog: an inbound leg is created by the stack for a new INVITE (its
 * SIPUA_EV_INCOMING event), an outbound leg by sipua_leg_invite(). Legs are owned by
 * the sipua: the handler receives SIPUA_EV_TERMINATED exactly once per leg, after
 * which the leg is freed and must not be used again.
 *
 * Out-of-dialog requests of every method are first passed to the check handler,
 * which says whether the source is known (accept), refused (403) or ignored (no
 * answer). Known peers get 200 to OPTIONS, 405 to methods trunx does not serve, and
 * INVITE becomes an SIPUA_EV_INCOMING event.
 *
 * Requests inside a dialog are served only from the dialog's peer (the address its
 * INVITE or our INVITE's responses came from) or a known source (sipua_set_known);
 * others get 403. A Contact or Record-Route that trunx could not send to, or a Contact
 * from a source that is neither, never becomes a dialog's target or route: the
 * request is answered 400 or 403, a response with one ends the call setup.
 *
 * SIP over TLS (cfg.tls): a listener, and TLS connections to sips: / transport=tls
 * targets. Each peer's certificate is verified or not as the TLS verification handler
 * says (sipua_set_tls_verify); an incoming leg whose request came on a TLS connection
 * the peer opened has transport SIPUA_TP_TLS.
 *
 * In front of the stack (sipua_front.c, over sip/guard's socket hooks), the guards
 * see every connection and request before the stack does: connection caps and
 * timeouts, a per-source request rate, and stateless answers over UDP to OPTIONS from
 * known sources and to out-of-dialog requests from refused ones (sipua_set_guard,
 * sipua_set_source_class, sipua_guard_stats).
 *
 * Stack policy: responses go to the packet's source address and port (received= and
 * rport= on every request, RFC 3581), so a Via host name is never resolved; 3xx is
 * never followed; UDP requests of any size stay on UDP; the phrase of every response
 * is a static string.
 */
#ifndef TRUNX_SIPUA_H
#define TRUNX_SIPUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sipua;
struct sipua_leg;
struct sipua_timer;

#define SIPUA_HOST_MAX 128

/**
 * The SIP front's guards (sip/guard, wired in sipua_front.c). Connections are the
 * TCP (later TLS) connections peers open to the SIP port.
 */
struct sipua_guard_cfg {
	unsigned tcp_max_connections;   /**< accepted connections at once (>= 1); further
					     ones are closed at once */
	unsigned tcp_max_per_source;    /**< from one source address the check does not
					     accept; 0 = no own cap */
	unsigned tcp_max_per_trunk;     /**< from one source address it accepts (a trunk's:
					     the TCP handshake proved it); 0 = no own cap */
	unsigned tcp_idle_ms;           /**< a connection from a trunk that carries no
					     dialog is closed after this long without
					     data; 0 = never */
	unsigned tcp_unknown_ms;        /**< a connection from a source the check does
					     not accept is closed after this long, or
					     right after its first request is answered */
	unsigned max_message;           /**< bytes: a connection whose message's header
					     passes this, or whose Content-Length does, is
					     closed (what follows never reaches the stack);
					     0 = the stack's own 2 MB limit only */
	unsigned tcp_message_ms;        /**< a connection whose message, once begun, is
					     not whole after this long is closed (a
					     peer trickling bytes is never idle); 0 = never */
	unsigned rate_per_s;            /**< requests a second per source address, UDP
					     datagrams and TCP messages; over it they are
					     dropped before the stack; 0 = no limit */
	unsigned rate_burst;            /**< bucket size; 0 = rate_per_s */
};

struct sipua_cfg {
	char     bind_addr[SIPUA_HOST_MAX];      /**< IP literal the SIP sockets bind to */
	uint16_t bind_port;                      /**< UDP/TCP port; 0 = ephemeral */
	bool     udp;                            /**< listen on UDP */
	bool     tcp;                            /**< listen on TCP */
	char     advertise_addr[SIPUA_HOST_MAX]; /**< host in Via/Contact; "" = bind_addr */
	uint16_t advertise_port;                 /**< port in Contact; 0 = bound port */
	char     user_agent[64];                 /**< User-Agent / Server value */
	unsigned retry_after;                    /**< Retry-After (s) of SIPUA_BUSY 503s;
						      0 = 5 */
	/* SIP over TLS (sofia-sip's TLS transport): a listener, and connections to
	 * sips: / transport=tls targets. */
	bool     tls;                            /**< TLS on */
	char     tls_addr[SIPUA_HOST_MAX];       /**< IP literal the TLS listener binds */
	uint16_t tls_port;                       /**< its port */
	char     tls_cert[256];                  /**< PEM certificate chain of trunx */
	char     tls_key[256];                   /**< PEM private key */
	char     tls_ca[256];                    /**< PEM CAs for verified peers ("" = none) */
	char     tls_ciphers[256];               /**< TLS 1.2 cipher list, OpenSSL syntax
						      ("" = forward-secret AEAD only) */
	unsigned t1x64_ms;                       /**< 64*T1: timers B, F, H, J and how
						      long our ACKs are kept; 0 = 32 s */
	unsigned t4_ms;                          /**< T4: timers I, K; 0 = 5 s */
	struct sipua_guard_cfg guard;
};

enum sipua_transport { SIPUA_TP_UDP = 0, SIPUA_TP_TCP, SIPUA_TP_TLS };

enum sipua_ev_type {
	SIPUA_EV_INCOMING = 1, /**< new INVITE from an accepted source; answer it with
				    sipua_leg_respond() (now or later) */
	SIPUA_EV_PROGRESS,     /**< outbound leg: 101-199 response to our INVITE */
	SIPUA_EV_ANSWERED,     /**< outbound leg: 2xx to our initial INVITE (ACK sent) */
	SIPUA_EV_FAILED,       /**< outbound leg: final >= 300 to our initial INVITE */
	SIPUA_EV_OFFER,        /**< re-INVITE or UPDATE received in a dialog; answer it
				    with sipua_leg_answer() */
	SIPUA_EV_OFFER_RESULT, /**< final response to our re-INVITE (status, sdp) */
	SIPUA_EV_ACK,          /**< inbound leg: ACK for our 2xx (sdp when it carries one) */
	SIPUA_EV_TERMINATED,   /**< the leg is over; it is freed when the handler returns */
	SIPUA_EV_OFFER_CANCELLED, /**< the peer cancelled the re-INVITE of the pending
				       OFFER; the stack answered it 487 (no answer is due) */
	SIPUA_EV_INFO,         /**< a DTMF digit by INFO (dtmf_digit, dtmf_duration_ms);
				    already answered 200 */
	SIPUA_EV_REFER_ANSWER, /**< final answer to our REFER (sipua_leg_refer): status;
				    >= 300 (sub_terminated) ends the attempt */
	SIPUA_EV_REFER_NOTIFY, /**< a NOTIFY of our REFER's subscription: status is its
				    message/sipfrag status line (0 when unreadable);
				    sub_terminated when no further NOTIFY will come; local
				    (status 408 ...) when the stack gave up waiting */
	SIPUA_EV_REFUSED,      /**< a new INVITE the admission handler refused
				    (sipua_set_admit), already answered (status) in front of
				    the stack: `in` describes it, there is no leg. Once per
				    INVITE, not per retransmission */
};

/** Why a leg terminated. */
enum sipua_end {
	SIPUA_END_NONE = 0,
	SIPUA_END_BYE_REMOTE,  /**< the peer sent BYE */
	SIPUA_END_BYE_LOCAL,   /**< we sent BYE */
	SIPUA_END_CANCEL,      /**< the peer cancelled its INVITE */
	SIPUA_END_REJECTED,    /**< the INVITE failed (we or the peer answered >= 300) */
	SIPUA_END_ERROR,       /**< the stack ended the dialog (timeout, transport error) */
	SIPUA_END_SESSION_EXPIRED, /**< the peer let the session interval (RFC 4028) run
				    out unrefreshed: the stack sent BYE */
};

/** Details of a new inbound INVITE (SIPUA_EV_INCOMING). Strings valid during the handler. */
struct sipua_incoming {
	struct sockaddr_storage src;        /**< the packet's source address and port */
	enum sipua_transport    transport;
	void       *peer;                   /**< what the check handler returned */
	const char *call_id;
	const char *ruri_user;              /**< request-URI user part ("" if none) */
	const char *ruri;                   /**< whole request-URI */
	const char *from_user;              /**< From URI user ("" if none) */
	const char *from_uri;
	const char *from_display;           /**< "" if none */
	const char *to_user;
	const char *to_uri;
	int         max_forwards;           /**< -1 when the header is absent */
	unsigned    session_expires;        /**< Session-Expires delta (s), 0 if absent */
	bool        admitted;               /**< the admission handler counted it in front
					         of the stack already (sipua_set_admit) */
	uint64_t    at_ms;                  /**< REFUSED: wall-clock time of the refusal */
};

/** An event delivered to the handler on the signalling thread. */
struct sipua_ev {
	enum sipua_ev_type  type;
	struct sipua_leg   *leg;
	int                 status;         /**< SIP status of the response, if any */
	bool                local;          /**< the response was generated by our stack
					         (timeout, ICMP, transport error) */
	const char         *sdp;            /**< application/sdp body, NULL if none */
	size_t              sdp_len;
	enum sipua_end      end;            /**< TERMINATED: why */
	bool                update;         /**< OFFER: it came as UPDATE, not re-INVITE */
	bool                bad_target;     /**< PROGRESS / ANSWERED: the response's Contact or
					         Record-Route was unusable (not taken) */
	bool                other_dialog;   /**< ANSWERED: the 2xx came on another early
					         dialog (To-tag) than the first 18x with SDP:
					         a fork answered elsewhere, so its SDP is
					         the answer, not the 18x's */
	const struct sipua_incoming *in;    /**< INCOMING only */
	char                dtmf_digit;     /**< INFO: '0'-'9' '*' '#' 'A'-'D' */
	unsigned            dtmf_duration_ms; /**< INFO: its Duration (100 when absent) */
	bool                sub_terminated; /**< REFER_*: the refer subscription is over */
	const void         *msg;            /**< private: the message, for sipua_ev_header() */
};

/** Event handler; runs on the signalling thread. ev is valid only during the call. */
typedef void (sipua_event_h)(const struct sipua_ev *ev, void *arg);

enum sipua_verdict {
	SIPUA_ACCEPT = 0,  /**< known source: serve the request */
	SIPUA_REJECT,      /**< answer 403 Forbidden */
	SIPUA_DROP,        /**< send no final response */
	SIPUA_BUSY,        /**< overloaded: answer 503 with Retry-After at once (no 100
			        Trying, no call) */
};

/**
 * Out-of-dialog request check; runs on the signalling thread for every request that
 * does not belong to a dialog. May set *peer (handed back in SIPUA_EV_INCOMING).
 */
typedef enum sipua_verdict (sipua_check_h)(const struct sockaddr *src, const char *method,
					   void **peer, void *arg);

/**
 * Is this source a known peer (a trunk)? No side effects; signalling thread. Used for
 * requests inside dialogs and for the sources allowed to send a Contact.
 */
typedef bool (sipua_known_h)(const struct sockaddr *src, void *arg);

/**
 * Must a TLS peer's certificate be verified (chain to tls_ca)? Runs on the signalling
 * thread during each handshake. `incoming`: the peer connected to trunx (it must then
 * present a client certificate). For an outgoing connection, `name` may receive the
 * host name or IP literal the certificate must carry ("" = the chain alone).
 */
typedef bool (sipua_tls_verify_h)(const struct sockaddr *peer, bool incoming, char *name,
				  size_t namelen, void *arg);

/**
 * What the source check says about a source address alone. With `connection` false
 * it is the verdict its requests get (as the check handler would give an
 * out-of-dialog OPTIONS): requests answered before the stack sees them follow it.
 * With `connection` true it is whether a TCP connection from there is accepted:
 * ACCEPT (a trunk), REJECT (accepted, but closed once its first request was answered
 * or after tcp_unknown_ms) or DROP (closed at once). Must not count anything. Runs
 * on the signalling thread.
 */
typedef enum sipua_verdict (sipua_source_h)(const struct sockaddr *src, bool connection,
					    void *arg);

enum sipua_rel100 {
	SIPUA_REL100_OFF = 0,    /**< never use reliable provisionals */
	SIPUA_REL100_SUPPORTED,  /**< Supported: 100rel */
	SIPUA_REL100_REQUIRED,   /**< Require: 100rel */
};

/** Per-leg session policy. */
struct sipua_policy {
	unsigned          session_expires;  /**< RFC 4028 interval (s); 0 = no session timer */
	unsigned          min_se;           /**< Min-SE (s), >= 90 */
	enum sipua_rel100 rel100;
};

/** What the admission handler says of a new INVITE. */
enum sipua_admit {
	SIPUA_ADMIT_PASS = 0,  /**< not decided here: the stack and the event handler decide
				    (nothing counted) */
	SIPUA_ADMIT_OK,        /**< counted as a new call; the event handler must not count
				    it again (sipua_incoming.admitted) */
	SIPUA_ADMIT_REFUSE,    /**< refused: answered (status, 503 by default) in front of
				    the stack */
};

/** A new INVITE from a source the source check accepts, read in front of the stack. */
struct sipua_admit_req {
	const struct sockaddr *src;
	enum sipua_transport   transport;     /**< UDP or TCP (TLS is read by the stack) */
	int                    max_forwards;  /**< -1 when absent */
	const char            *ruri_user;     /**< as sipua_incoming's; NULL: not read */
	const char            *from_user;
};

/** How to refuse it (SIPUA_ADMIT_REFUSE). */
struct sipua_admit_answer {
	int                 status;        /**< 300-699; 0 = 503 (over a limit) */
	const char         *warning;       /**< a Warning header's value, or NULL; read
					        during the call only, and only for the first
					        answer (a retransmission's has none) */
	unsigned            retry_after;   /**< seconds; 0 = no Retry-After (503 only) */
	struct sipua_policy policy;        /**< the source's (the answer's Supported) */
	void               *peer;          /**< handed back in SIPUA_EV_REFUSED (in->peer) */
};

/**
 * The admission of new calls, asked in front of the stack (signalling thread, from
 * inside the read of the SIP socket: it must not call into sipua). Asked once per
 * INVITE transaction (retransmissions are recognised), for INVITEs outside a dialog
 * from accepted sources that the stack would serve (sipua_request_check passes).
 * Deciding here keeps the stack free of refused INVITEs: a 503 (or a 404 to a
 * number scan) through the stack keeps ~7 KB until timer H.
 */
typedef enum sipua_admit (sipua_admit_h)(const struct sipua_admit_req *rq,
					 struct sipua_admit_answer *ans, void *arg);

/** A function run on the signalling thread by sipua_post() or a timer. */
typedef void (sipua_job_h)(void *arg);

/**
 * Creates a user agent (nothing runs yet).
 * @param cfg   copied
 * @param eh    event handler (required)
 * @param ch    out-of-dialog check (NULL = accept everything)
 * @return 0, EINVAL, ENOMEM
 */
int sipua_create(struct sipua **uap, const struct sipua_cfg *cfg, sipua_event_h *eh,
		 sipua_check_h *ch, void *arg);

/** Sets the address-only source check (before sipua_start; NULL accepts all). */
void sipua_set_source_class(struct sipua *ua, sipua_source_h *fn);

/** Sets the admission handler (before sipua_start; NULL: every INVITE goes to the
 *  stack, as without the front). It receives the agent's arg. */
void sipua_set_admit(struct sipua *ua, sipua_admit_h *fn);

/** INVITEs the admission handler admitted whose SIPUA_EV_INCOMING has not come yet
 *  (forgotten after 2 s: the stack refused or dropped them). Signalling thread. */
unsigned sipua_admit_pending(const struct sipua *ua);

/**
 * Changes the guards' settings while running (tcp_max_connections can only be
 * lowered below the value the agent started with). Any thread.
 * @return 0, or the error of sipua_post()
 */
int sipua_set_guard(struct sipua *ua, const struct sipua_guard_cfg *g);

/** What the guards in front of the stack did, since start. */
struct sipua_guard_stats {
	uint64_t rate_limited;         /**< requests dropped by the per-source rate limit */
	uint64_t not_sip;              /**< datagrams that cannot be SIP (binary: STUN,
					    SigComp, other protocols' probes), dropped */
	uint64_t stateless_ok;         /**< OPTIONS answered 200 without transaction state */
	uint64_t stateless_malformed;  /**< new INVITEs from known sources that the call
					    layer's check refuses (a vital header repeated
					    or broken, an unusable Contact, a body it cannot
					    take: 400, 415, 406) answered without transaction
					    state */
	uint64_t stateless_unserved;   /**< out-of-dialog requests from known sources of
					    methods trunx does not serve there (REGISTER,
					    SUBSCRIBE, MESSAGE, ...: 405; UPDATE 481; unknown
					    501) answered over UDP without transaction state */
	uint64_t stateless_rejected;   /**< out-of-dialog requests from refused sources
					    answered 403 without transaction state */
	uint64_t stateless_dropped;    /**< ... and from dropped sources, unanswered */
	uint64_t tcp_open;             /**< accepted connections open now */
	uint64_t tcp_accepted;         /**< connections handed to the stack */
	uint64_t tcp_refused_limit;    /**< closed at once: total or per-source cap */
	uint64_t tcp_refused_unknown;  /**< closed at once: unknown source, drop mode */
	uint64_t tcp_refused_fd;       /**< closed or reset: no descriptor left */
	uint64_t tcp_closed_unknown;   /**< closed after a refused source's request was
					    answered, or after tcp_unknown_ms */
	uint64_t tcp_closed_idle;      /**< closed after tcp_idle_ms without a dialog */
	uint64_t tcp_closed_incomplete; /**< closed: a message not whole tcp_message_ms
					     after its first byte */
	uint64_t overload_refused;     /**< new INVITEs refused 503 by the admission handler
					    without transaction state (one per INVITE) */
	uint64_t overload_resent;      /**< ... those 503s sent again to retransmissions */
	uint64_t overload_table_full;  /**< decisions forgotten early: the table was full */
	uint64_t acks_absorbed;        /**< ACKs of the front's stateless answers (a 503 to a
					    trunk, over UDP or TCP; a 403 to a dialog's peer
					    over UDP), kept from the stack: they acknowledge
					    no transaction of its */
};

/** Reads the guards' counters. Any thread. */
void sipua_guard_stats(const struct sipua *ua, struct sipua_guard_stats *s);

/**
 * Starts the signalling thread and waits until the stack is bound and running.
 * @return 0, or EADDRINUSE / EINVAL / ENOMEM (reason logged); the thread is gone then
 */
int sipua_start(struct sipua *ua);

/**
 * Shuts the stack down (every remaining dialog is ended by it), waits for the
 * shutdown to complete and joins the thread. Any thread but the signalling thread.
 * Pending posted jobs are run first. Idempotent.
 */
void sipua_stop(struct sipua *ua);

/** Frees a stopped (or never started) user agent. */
void sipua_destroy(struct sipua *ua);

/**
 * Runs fn(arg) on the signalling thread. Any thread.
 * @return 0, EAGAIN when the queue is full, ESHUTDOWN when the thread is not running
 */
int sipua_post(struct sipua *ua, sipua_job_h *fn, void *arg);

/** True when the caller runs on the signalling thread. */
bool sipua_on_thread(const struct sipua *ua);

/**
 * The signalling thread's queueing delay, in ms: the age of the datagram waiting at
 * the head of the UDP SIP socket, the next the stack reads (sampled before each loop
 * iteration, at most once a millisecond, from the kernel's receive timestamps).
 * 0 when nothing waits or when unknown (no UDP transport). Signalling thread.
 */
unsigned sipua_rx_delay_ms(const struct sipua *ua);

/**
 * The standing part of that delay over the last window_ms (1-1023): the smallest
 * sample in the window, provided the delay was already at least that when the window
 * began; 0 when the queue emptied in the window, when the samples do not reach back
 * to its start, or when unknown. A burst that drains within the window reads as 0.
 * When no sample falls inside the window (the thread was idle or stalled longer) and
 * the socket is empty now, 0: the last sample may show a queue drained since.
 * Signalling thread.
 */
unsigned sipua_rx_standing_delay_ms(struct sipua *ua, unsigned window_ms);

/**
 * Sets the known-peer check (before sipua_start()). Without one, in-dialog requests
 * are accepted only from the dialog's own peer.
 */
void sipua_set_known(struct sipua *ua, sipua_known_h *h, void *arg);

/** Sets the TLS verification policy (before sipua_start(); none = verify every peer). */
void sipua_set_tls_verify(struct sipua *ua, sipua_tls_verify_h *h, void *arg);

/** What the user agent refused on its own, since start. */
struct sipua_stats {
	uint64_t in_dialog_refused;  /**< in-dialog requests from a source that is neither
				          the dialog's peer nor known: 403 */
	uint64_t in_dialog_bad;      /**< in-dialog requests refused as malformed: 400/415 */
	uint64_t contact_refused;    /**< Contacts not taken: source may not set a target */
	uint64_t glare;              /**< offers answered 491 (another one pending) */
	uint64_t tls_refused;        /**< TLS handshakes failed on certificate checks */
	uint64_t tls_stranger;       /**< TLS handshakes refused at the ClientHello: the
				          source is no trunk, no host we call, no dialog's peer */
};

/** Reads the counters. Any thread. */
void sipua_get_stats(struct sipua *ua, struct sipua_stats *st);

/** Sets the Retry-After of SIPUA_BUSY answers (0 = 5 s). Any thread. */
void sipua_set_retry_after(struct sipua *ua, unsigned seconds);

/** The bound SIP port (useful when cfg.bind_port was 0). */
uint16_t sipua_port(const struct sipua *ua);

/** An IPv4 or IPv6 network (host bits zero). */
struct sipua_net {
	struct sockaddr_storage addr;
	uint8_t                 bits;
};

/**
 * Kernel-level silence for unknown sources on the UDP SIP socket: datagrams from
 * outside `allow` are dropped before the stack sees them, except responses (which
 * start with "SIP/"), so calls to any destination keep working. IPv4 sources only:
 * IPv6 networks in `allow` are ignored and IPv6 datagrams always pass. n == 0 removes
 * the filter. Any thread.
 * @return 0, EINVAL, ENOTSUP (no IPv4 UDP socket), E2BIG (too many networks), or the
 *         errno of setsockopt()
 */
int sipua_set_source_filter(struct sipua *ua, const struct sipua_net *allow, size_t n);

/**
 * Datagrams the source filter dropped since start. Counted by a packet socket that
 * mirrors the filter (it needs CAP_NET_RAW; without it the count stays 0 and a
 * warning is logged once). Any thread.
 */
uint64_t sipua_filtered(struct sipua *ua);

/** Monotonic milliseconds (the clock timers use). */
uint64_t sipua_now_ms(void);

/**
 * One-shot timer on the signalling thread. Signalling thread only.
 * @return 0, ENOMEM; *tp receives the timer (valid until it fires or is cancelled)
 */
int sipua_timer_start(struct sipua *ua, unsigned ms, sipua_job_h *fn, void *arg,
		      struct sipua_timer **tp);

/** Cancels a pending timer and frees it; NULL is ignored. Signalling thread only. */
void sipua_timer_cancel(struct sipua_timer *t);

/* ---- legs (signalling thread only) ---- */

struct sipua_invite {
	const char *ruri;          /**< request-URI (also the next hop) */
	const char *from_uri;      /**< From URI; the stack adds the tag */
	const char *from_display;  /**< NULL or "" for none */
	const char *to_uri;
	const char *sdp;           /**< offer (required) */
	size_t      sdp_len;
	int         max_forwards;  /**< Max-Forwards value */
	const char *headers;       /**< extra header lines ("Name: value\r\n"...), or NULL */
	struct sipua_policy policy;
	const char *auth_user;     /**< digest credentials for a 401/407 from the called
				        side (answered once), or NULL */
	const char *auth_secret;
};

/**
 * Creates an outbound leg and sends its INVITE with our own Call-ID, tags and Contact.
 * @return 0, EINVAL, ENOMEM
 */
int sipua_leg_invite(struct sipua *ua, const struct sipua_invite *inv, void *ctx,
		     struct sipua_leg **legp);

/** Attaches the caller's context to a leg (returned by sipua_leg_ctx). */
void  sipua_leg_set_ctx(struct sipua_leg *leg, void *ctx);
void *sipua_leg_ctx(const struct sipua_leg *leg);

/** Sets the session policy of an inbound leg; it applies from its first response on. */
void sipua_leg_set_policy(struct sipua_leg *leg, const struct sipua_policy *p);

/**
 * Answers an inbound leg's INVITE: 18x (sdp optional, early media), 2xx (sdp
 * required; our Contact is added) or a failure (>= 300). The phrase is the standard
 * one for the code.
 * @param headers  extra header lines ("Retry-After: 5\r\nWarning: ...\r\n"), or NULL
 * @return 0, EINVAL (bad status or no INVITE to answer), EALREADY (final sent)
 */
int sipua_leg_respond(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		      const char *headers);

/**
 * Sends no final answer to an inbound INVITE: the leg is released silently (the
 * stack keeps the transaction until the peer gives up). No TERMINATED event follows.
 */
void sipua_leg_drop(struct sipua_leg *leg);

/**
 * Sends a re-INVITE with an offer on a confirmed leg; the result comes as
 * SIPUA_EV_OFFER_RESULT. @return 0, EINVAL, EBUSY (an offer is pending)
 */
int sipua_leg_reoffer(struct sipua_leg *leg, const char *sdp, size_t sdp_len);

/**
 * Cancels our re-INVITE of sipua_leg_reoffer() if it is still pending (its
 * SIPUA_EV_OFFER_RESULT follows, 487 or whatever the peer answered first).
 * @return 0, EINVAL (none pending)
 */
int sipua_leg_cancel_reoffer(struct sipua_leg *leg);

/**
 * Answers the offer of the last SIPUA_EV_OFFER (status 200 with sdp, or a failure
 * such as 488 / 491 / 500 with optional headers). A leg has at most one offer
 * awaiting an answer: a second one (re-INVITE against UPDATE, or any offer while our
 * own re-INVITE is pending) is answered 491 by the user agent and never delivered.
 * @return 0, EINVAL (no offer pending)
 */
int sipua_leg_answer(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		     const char *headers);

/**
 * Ends a leg whatever its state: CANCEL for an outbound leg not yet answered, BYE for
 * a confirmed one, `status` (e.g. 480, 503) for an unanswered inbound INVITE.
 * TERMINATED follows. Calling it again is harmless.
 */
void sipua_leg_hangup(struct sipua_leg *leg, int status);

/** True while the dialog is confirmed (2xx sent or received). */
/**
 * Sends a DTMF digit by INFO (application/dtmf-relay) on a confirmed leg. Digits are
 * sent one at a time, in the order given (the next after the previous got its final
 * response); up to 32 wait.
 * @return 0, EINVAL (not a digit), ENOTCONN (leg not confirmed or ending), ENOSPC
 */
int sipua_leg_info_dtmf(struct sipua_leg *leg, char digit, unsigned duration_ms);

/**
 * Reads a DTMF INFO body: application/dtmf-relay ("Signal=5", "Duration=160" lines,
 * other keys ignored; Signal 10 and 11 taken as * and #) or application/dtmf (the
 * digit alone). Pure; fuzzed.
 * @param duration_ms  100 when absent or 0; at most 10,000
 * @return 0, ENOTSUP (another content type), EBADMSG (the body does not parse), EINVAL
 */
int sipua_dtmf_parse(const char *ctype, const char *body, size_t len, char *digit,
		     unsigned *duration_ms);

/**
 * Sends a REFER (RFC 3515) on a confirmed leg: the peer is asked to call refer_to
 * (a name-addr, "<sip:...>"). Its answer comes as SIPUA_EV_REFER_ANSWER, the progress
 * of the peer's new call as SIPUA_EV_REFER_NOTIFY events (until one is final or the
 * subscription ends). One REFER at a time per leg; from then on the leg's Allow
 * includes NOTIFY. Incoming REFERs are always refused: 405 by the stack (REFER is not
 * in the Allow of a leg), 403 should one reach the user agent (sipua_refer.c).
 * @param referred_by  Referred-By value, or NULL (the stack then uses our From)
 * @return 0, EINVAL (empty or multi-line values), ENOTCONN (not confirmed / ending),
 *         EBUSY (a REFER of ours is still running)
 */
int sipua_leg_refer(struct sipua_leg *leg, const char *refer_to, const char *referred_by);

/**
 * Reads the status line of a message/sipfrag body (RFC 3420; a NOTIFY of a REFER
 * subscription): "SIP/2.0 NNN reason". Pure; fuzzed.
 * @return 0 with *status 100-699, ENOTSUP (another content type), EBADMSG, EINVAL
 */
int sipua_sipfrag_status(const char *ctype, const char *body, size_t len, int *status);

/**
 * The SDP of a multipart/mixed body (RFC 2046 5.1; SIP-T/SIP-I carry ISUP beside it):
 * its application/sdp part, the other parts dropped when their Content-Disposition
 * says handling=optional. Pure; fuzzed.
 * @param boundary  the Content-Type's boundary parameter (quotes allowed), or NULL
 * @param lenient   drop a required part trunx cannot use instead of refusing (for a
 *                  response, which cannot be refused)
 * @param sdp       receives the SDP part (pointing into body; NULL with *sdp_len 0
 *                  when the body has none)
 * @return 0; 415 when a part trunx cannot use is required (the default handling) and
 *         not lenient; 400 when the body is not well-formed multipart; why says which
 */
int sipua_body_multipart(const char *body, size_t len, const char *boundary, bool lenient,
			 const char **sdp, size_t *sdp_len, char *why, size_t whylen);

bool sipua_leg_confirmed(const struct sipua_leg *leg);

/** Copies up to max of the IP addresses (ports zero) the leg's peer has sent its
 *  signalling from (its INVITE, or the responses to ours); returns how many. */
unsigned sipua_leg_peers(const struct sipua_leg *leg, struct sockaddr_storage *out,
			 unsigned max);
bool sipua_leg_inbound(const struct sipua_leg *leg);

/** The leg's Call-ID (ours for outbound legs); "" while unknown. */
const char *sipua_leg_call_id(const struct sipua_leg *leg);

/**
 * Appends every header of the event's message named `name` (case-insensitive, compact
 * forms included) to out as "Name: value\r\n" lines, NUL-terminated.
 * @return 0, ENOENT (no such header), ENOSPC (out too small; out unchanged)
 */
int sipua_ev_header(const struct sipua_ev *ev, const char *name, char *out, size_t outlen);

/** The transport a request to uri goes over: TLS for sips: or ;transport=tls, TCP for
 *  ;transport=tcp, else UDP. */
enum sipua_transport sipua_uri_transport(const char *uri);
/* ---- requests outside calls (sipua_aux.c; signalling thread only) ---- */

struct sipua_reg;
struct sipua_opt;

enum sipua_reg_state {
	SIPUA_REG_REGISTERING = 1,   /**< sent, no final answer yet */
	SIPUA_REG_REGISTERED,        /**< 2xx; the stack refreshes it before expiry */
	SIPUA_REG_FAILED,            /**< refused, or no answer: stop it, try again later */
};

struct sipua_reg_cfg {
	const char *registrar;    /**< sip:host[:port][;transport=tcp] */
	const char *aor_user;     /**< the account: sip:aor_user@registrar host */
	const char *auth_user;    /**< digest username (NULL: aor_user) */
	const char *auth_secret;  /**< digest password (NULL: no credentials) */
	unsigned    expires;      /**< asked for, s (0 = 300) */
};

/** Registration state changes; `expires`: what the registrar granted (REGISTERED). */
typedef void (sipua_reg_h)(struct sipua_reg *r, enum sipua_reg_state st, int status,
			   unsigned expires, void *arg);

/**
 * Starts registering (REGISTERING is reported at once). Challenges are answered with the
 * credentials (twice at most in a row).
 * @return 0, EINVAL, ENOMEM
 */
int sipua_reg_start(struct sipua *ua, const struct sipua_reg_cfg *cfg, sipua_reg_h *h,
		    void *arg, struct sipua_reg **rp);

/** Stops (un-registers if registered); no callback follows. May run from h. */
void sipua_reg_stop(struct sipua_reg *r);

/**
 * Whether requests outside calls are still waiting for answers (an un-REGISTER, an
 * OPTIONS). A stopping owner may wait a little for them; the stack's stop releases
 * whatever is left without waiting.
 */
bool sipua_aux_pending(const struct sipua *ua);

/** The answer to an OPTIONS: its status, whether our stack made it up (timeout, ICMP). */
typedef void (sipua_options_h)(int status, bool local, unsigned rtt_ms, void *arg);

/**
 * Sends one OPTIONS to uri; h is called once, with the final answer or (408, local)
 * after timeout_ms.
 * @return 0, EINVAL, ENOMEM
 */
int sipua_options(struct sipua *ua, const char *uri, unsigned timeout_ms, sipua_options_h *h,
		  void *arg, struct sipua_opt **op);

/** Forgets an OPTIONS in progress (no callback). */
void sipua_options_cancel(struct sipua_opt *o);

/**
 * The Warning value (RFC 3261 20.43) of a refusal with this reason, as trunx writes
 * it everywhere: 399, the agent (NULL: "-"), the reason quoted without quotes,
 * backslashes or control characters (cut to fit out).
 */
void sipua_warning_value(const char *agent, const char *why, char *out, size_t cap);

/** Standard reason phrase for a status code ("" for unknown codes). */
const char *sipua_phrase(int status);

#endif
