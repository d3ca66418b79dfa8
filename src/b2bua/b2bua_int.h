/*
 * b2bua_int.h — private state of the call layer (src/b2bua only): the B2BUA context,
 * the call object, and the pure helpers (policy, SDP negotiation) that the unit
 * tests exercise without a network.
 */
#ifndef TRUNX_B2BUA_INT_H
#define TRUNX_B2BUA_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "admit/admit.h"
#include "b2bua/b2bua.h"
#include "conf/conf.h"
#include "log.h"
#include "media.h"
#include "route.h"
#include "sdp.h"
#include "sipua.h"

#define CALL_ID_MAX  40
#define CALL_NUM_MAX 64
#define SDP_BUF_MAX  4096

/* ---- pure helpers: b2bua_policy.c ---- */

/**
 * The final response A gets when B's INVITE failed.
 * @param status           B's final status (or the stack's local one)
 * @param local            the stack generated it (timeout, ICMP, transport error)
 * @param got_provisional  B sent a 18x before failing
 */
int b2b_map_failure(int status, bool local, bool got_provisional);

/** True if a header named `name` may be copied from trunk t's requests to the other leg. */
bool b2b_header_allowed(const struct trunk_cfg *t, const char *name);

/**
 * Max-Forwards for the B leg: the received value minus one, capped at `cap`.
 * @param received  the A leg's value, -1 if absent
 * @return the value, or -1 when the request must be refused with 483
 */
int b2b_max_forwards(int received, unsigned cap);

/** A destination written as E.164: + then 2-15 digits, the first not 0. */
bool b2b_is_e164(const char *s);

/**
 * Fills inv with the INVITE trunx sends to one route target on a leg it places itself
 * (API origination, bridge_to, re-bridge): R-URI and To the target's, From the
 * target's caller ID (else `caller`) at our host, our Max-Forwards, session timer and
 * 100rel support, the trunk's digest credentials. from_uri is the room for From.
 */
void b2b_target_invite(const struct b2bua *b, const struct route_target *t,
		       const char *caller, const char *sdp, size_t sdp_len,
		       char *from_uri, size_t from_len, struct sipua_invite *inv);

/** Fixed one-second window counter for the new-call rate limit. */
struct b2b_rate {
	uint64_t window_s;   /**< second the count belongs to */
	unsigned count;      /**< calls admitted in that second */
};

/** Counts a new call at now_ms; false (not counted) when max per second is reached. */
bool b2b_rate_admit(struct b2b_rate *r, uint64_t now_ms, unsigned max_per_s);

/* ---- SDP negotiation: b2bua_sdp.c ---- */

/** Negotiated view of one leg's audio stream. */
struct b2b_side {
	bool     valid;                   /**< remote SDP seen */
	char     addr[SDP_ADDR_MAX];      /**< remote connection address */
	enum sdp_addr_family af;
	uint16_t port;                    /**< remote RTP port (0 = rejected) */
	uint16_t rtcp_port;               /**< a=rtcp, 0 if absent */
	bool     rtcp_mux;                /**< its last SDP had a=rtcp-mux (we always offer
					       and accept it: RFC 5761) */
	enum sdp_dir dir;                 /**< direction the remote declared */
	uint64_t remote_version;          /**< o= version of the last remote SDP */
	uint64_t remote_sess_id;
	uint64_t remote_hash;             /**< FNV-1a of that SDP's bytes */
	uint64_t local_version;           /**< o= version of our SDP toward this leg */
	char     last_local[SDP_BUF_MAX]; /**< our last SDP toward this leg */
	size_t   last_local_len;
};

/** One negotiated codec. pt[s]: the PT side s declared (what it receives, and what
 *  we send it); sent[s]: the PT our SDP toward side s used (what s sends us). */
struct b2b_codec {
	char     name[SDP_NAME_MAX];
	uint32_t rate;
	uint8_t  channels;
	char     fmtp[SDP_FMTP_MAX];
	uint8_t  pt[2];
	uint8_t  sent[2];
};

/** The codec one leg uses (transcoding: each leg its own). */
struct b2b_choice {
	bool     valid;
	char     name[SDP_NAME_MAX];
	uint32_t rate;
	char     fmtp[SDP_FMTP_MAX];      /**< the leg's own fmtp for it (its preferences) */
	uint8_t  pt;                      /**< PT the leg declared: we send it that */
	uint8_t  sent;                    /**< PT our SDP toward it declared: it sends us that */
	uint8_t  te_pt, te_sent;          /**< telephone-event, MEDIA_PT_NONE = none */
	uint32_t te_rate;
	uint32_t ptime;                   /**< the leg's a=ptime, 0 = not given */
};

/** Per-trunk Opus options (complexity, whether FEC and DTX may be used). */
struct b2b_opus_opts {
	uint8_t complexity;
	bool    fec;
	bool    dtx;
};

/* ---- SDES-SRTP in the negotiation: b2bua_srtp.c ---- */

enum b2b_srtp_mode {
	B2B_SRTP_OFF = 0,       /**< plain RTP only (RTP/SAVP offers get 488) */
	B2B_SRTP_OPTIONAL,      /**< SRTP when the leg takes it; offered best-effort
				     (RTP/AVP with a=crypto) */
	B2B_SRTP_REQUIRED,      /**< SRTP only (RTP/SAVP; plain offers get 488) */
};

/** Fills key with random bytes (tests make it deterministic). */
typedef void (b2b_keygen_h)(uint8_t *key, size_t n);

/** One leg's SRTP policy. */
struct b2b_srtp_policy {
	enum b2b_srtp_mode mode;
	bool               keys_ok;  /**< its signalling may carry SDES keys (TLS, or the
				          trunk allows keys without it) */
	b2b_keygen_h      *keygen;   /**< NULL = the kernel's random source */
};

/** A leg's SRTP as negotiated (suite NONE = plain RTP). */
struct b2b_crypto {
	enum sdp_crypto_suite suite;
	uint32_t tag;                          /**< the a=crypto tag agreed on */
	uint8_t  local[SDP_CRYPTO_KEY_LEN];    /**< our key toward the leg */
	uint8_t  remote[SDP_CRYPTO_KEY_LEN];   /**< the leg's key */
	bool     savp;                         /**< its m= line says RTP/SAVP(F) */
	bool     fb;                           /**< its m= line says RTP/AVPF or RTP/SAVPF */
};

/** The crypto lines of an offer we sent (one per suite, or the line in use). */
struct b2b_offered {
	size_t            n;
	bool              savp;
	struct b2b_crypto line[2];
};

bool b2b_srtp_proto_ok(const char *proto);
/** True for RTP/AVPF and RTP/SAVPF (the feedback profiles). */
bool b2b_srtp_proto_fb(const char *proto);
/** True if an audio line with this protocol can be taken under pol: RTP/AVP(F), or
 *  RTP/SAVP(F) where the trunk allows SDES keys. */
bool b2b_srtp_proto_takes(const char *proto, const struct b2b_srtp_policy *pol);
/** The offerer's crypto from its audio line (pending until answered).
 *  @return 0 or ENOTSUP with a reason */
int b2b_srtp_take_offer(const struct sdp_media *am, const struct b2b_srtp_policy *pol,
			const struct b2b_crypto *cur, struct b2b_crypto *out, const char **why);
/** Sets om's proto and crypto lines for our offer to a leg using `cur` now.
 *  @return 0, ENOTSUP (required but keys not allowed), EINVAL */
int b2b_srtp_make_offer(struct sdp_media *om, const struct b2b_srtp_policy *pol,
			const struct b2b_crypto *cur, struct b2b_offered *off, const char **why);
/** The answerer's crypto from its answer to our offer `off`. @return 0, ENOTSUP */
int b2b_srtp_take_answer(const struct sdp_media *am, const struct b2b_offered *off,
			 struct b2b_crypto *out, const char **why);
/** Sets om's proto and crypto line for our answer (the offer's tag echoed). */
void b2b_srtp_write_answer(struct sdp_media *om, const struct b2b_crypto *c);
/** A leg's answer to an SDP of ours repeated (its key may change). @return 0, ENOTSUP */
int b2b_srtp_take_reanswer(const struct sdp_media *am, struct b2b_crypto *cur,
			   const char **why);
/** The media engine's view of a leg's crypto. */
void b2b_srtp_media(const struct b2b_crypto *c, struct media_srtp_params *p);
/** "AES_CM_128_HMAC_SHA1_80", ... or NULL for plain RTP. */
const char *b2b_srtp_suite_name(enum sdp_crypto_suite s);

/** An m= line of the offer being relayed, kept to mirror it in the answer. */
struct b2b_mline {
	char             type[16];
	char             proto[32];
	uint8_t          first_pt;        /**< its first format, for a rejected line: */
	char             first_name[SDP_NAME_MAX]; /**< the PT, or the name (not RTP) */
};

struct b2b_media {
	struct b2b_side  side[2];         /**< MEDIA_SIDE_A, MEDIA_SIDE_B */
	int              offer_from;      /**< side whose offer awaits an answer, -1 = none */
	size_t           n_mlines;        /**< m= lines of that offer */
	struct b2b_mline mlines[SDP_MAX_MEDIA];
	int              audio_idx;       /**< its audio line */
	struct sdp_media offer_audio;     /**< its audio line, codecs filtered */
	uint8_t          offer_q[SDP_MAX_CODECS]; /**< PT we offered the other side, per codec */
	size_t           n_codecs;
	struct b2b_codec codecs[SDP_MAX_CODECS];  /**< negotiated, answer order */
	uint64_t         sess_id;         /**< our o= session id */
	/* The offer we sent for the pending offer: its audio line, and for each of its
	 * codecs the index of the offerer's codec it relays, or -1 for a codec trunx
	 * added because it can transcode it. */
	struct sdp_media offered;
	int8_t           offered_src[SDP_MAX_CODECS];
	bool             transcode;       /**< the legs use different codecs */
	struct b2b_choice choice[2];      /**< each leg's codec */
	struct b2b_opus_opts opus[2];     /**< per leg, from its trunk */
	uint8_t          dtmf[2];         /**< per leg: enum media_dtmf_mode of its trunk */
	struct b2b_crypto crypto[2];      /**< each leg's SRTP (suite NONE = plain) */
	struct b2b_crypto crypto_pend;    /**< the pending offer's sender's, once answered */
	struct b2b_offered crypto_offered;/**< what our offer for it proposed */
};

#define B2B_ALLOWED_MAX 8              /**< entries of an `allowed` array */

/** What the negotiation needs to know about trunx and the two trunks. */
struct b2b_sdp_ctx {
	const char *media_addr;           /**< our c= address */
	uint16_t    port[2];              /**< our RTP port per side */
	const char *const *allowed;       /**< codecs trunx accepts ("PCMU/8000" ...) */
	size_t      n_allowed;
	/** Per side: the codecs its trunk allows, by preference (NULL/0 = all trunx has). */
	const char (*prefer[2])[32];
	size_t      n_prefer[2];
	struct b2b_opus_opts opus[2];     /**< per side, from its trunk */
	uint8_t     dtmf[2];              /**< per side: enum media_dtmf_mode of its trunk */
	struct b2b_srtp_policy srtp[2];   /**< per side, from its trunk and transport */
	struct sdp_session *scratch;      /**< 2 sessions of working space (caller-owned,
					       reused call after call); NULL = allocate */
};

/**
 * Takes an offer from side `from` and writes the offer for the other side.
 * @return 0; EINVAL with a reason (malformed SDP, no audio); ENOTSUP (no common codec)
 */
int b2b_sdp_offer(struct b2b_media *m, const struct b2b_sdp_ctx *c, int from,
		  const char *sdp, size_t len, char *out, size_t outlen, size_t *outn,
		  char *why, size_t whylen);

/**
 * Writes trunx's own offer (the codecs of c->allowed with static payload types) for
 * side `to`, for an INVITE that came without one (delayed offer). The answer is then
 * taken by b2b_sdp_answer(), whose output becomes our offer to the other side.
 * @return 0, ENOTSUP (no codec allowed), EINVAL
 */
int b2b_sdp_offer_local(struct b2b_media *m, const struct b2b_sdp_ctx *c, int to, char *out,
			size_t outlen, size_t *outn, char *why, size_t whylen);

/**
 * Takes the answer to the relayed offer (from the other side) and writes the answer
 * for the offering side. Fills the negotiated codec list.
 * @return 0; EINVAL (malformed / rejected stream); ENOTSUP (no codec in common)
 */
int b2b_sdp_answer(struct b2b_media *m, const struct b2b_sdp_ctx *c, const char *sdp,
		   size_t len, char *out, size_t outlen, size_t *outn, char *why,
		   size_t whylen);

/**
 * Takes an answer to an offer we made from our current SDP (an offerless re-INVITE's
 * answer, in the ACK): only the side's address, port and direction change.
 * @return 0, EINVAL (malformed), ENOTSUP (no audio)
 */
int b2b_sdp_remote(struct b2b_media *m, int side, const char *sdp, size_t len, char *why,
		   size_t whylen);

/** Builds the media engine parameters from the negotiated state. */
void b2b_sdp_media_params(const struct b2b_media *m, struct media_session_params *p);

/**
 * Media parameters while the initial offer awaits its answer: the offerer's side as
 * offered, the answerer's side with the unspecified address (its early packets latch
 * and are relayed; nothing is sent to it yet).
 */
void b2b_sdp_media_params_pending(const struct b2b_media *m, struct media_session_params *p);

/** The first negotiated audio codec as "name/rate" ("" if none). */
void b2b_sdp_codec(const struct b2b_media *m, char *out, size_t len);

/** The media engine's id of the codec leg `side` uses (NONE if unknown). */
enum media_codec b2b_sdp_media_codec(const struct b2b_media *m, int side);

/** The audio codec leg `side` uses, as "name/rate" ("" if none). */
void b2b_sdp_codec_side(const struct b2b_media *m, int side, char *out, size_t len);

/** trunx can decode and encode name/rate (PCMU, PCMA, opus): it may transcode it. */
bool b2b_sdp_transcodable(const char *name, uint32_t rate);
/** Whether side's trunk (c->prefer[side], c->dtmf[side]) allows codec k; *rank (may be
 *  NULL) its place in the trunk's order. */
bool b2b_sdp_trunk_allows(const struct b2b_sdp_ctx *c, int side, const struct sdp_codec *k,
			  size_t *rank);
/** One of trunx's own codecs ("PCMU/8000" ...) with its static PT (opus: 111 and our
 *  8 kHz fmtp with o's options). @return false for a spec trunx has no entry for */
bool b2b_sdp_local_codec(const char *spec, const struct b2b_opus_opts *o, struct sdp_codec *k);
/** Takes a remote SDP's audio line am (of session s) as side sd's address, port and
 *  direction. */
void b2b_sdp_side_remote(struct b2b_side *sd, const struct sdp_session *s,
			 const struct sdp_media *am, const char *sdp, size_t len);

/** True if sdp repeats the last SDP seen from `side`: the same o= id and version and
 *  the same bytes (a changed SDP under an unchanged version is a new offer). */
bool b2b_sdp_is_refresh(const struct b2b_media *m, int side, const char *sdp, size_t len);

/* ---- the call: b2bua_call.c ---- */

/* Per-call scratch that only lives between the route and proceed steps. */
struct call_setup {
	char   ruri_b[ROUTE_URI_MAX];
	char   from_user[CALL_NUM_MAX];
	char   from_display[64];
	char  *offer_a;          /**< A's offer, copied */
	size_t offer_a_len;
	char   headers[2048];    /**< allow-listed headers for B */
	int    max_forwards;
};

enum call_state {
	CALL_ROUTING = 0,   /**< INVITE received, deciding */
	CALL_CALLING,       /**< B INVITE sent */
	CALL_EARLY,         /**< B sent 18x */
	CALL_ANSWERED,      /**< 2xx relayed to A */
	CALL_ENDING,        /**< at least one leg ended; tearing down */
};

struct b2bua;

struct call {
	struct b2bua       *b;
	struct call        *next, *prev;
	char                id[CALL_ID_MAX];
	enum call_state     state;
	struct sipua_leg   *a, *b_leg;
	struct media_session *ms;
	bool                ms_closing;       /**< destroyed, waiting for MEDIA_EV_CLOSED */
	bool                media_af_noted[2]; /**< a side's unreachable SDP address logged */
	struct route_table *rt;               /**< reference held for the call's life */
	const struct trunk *trunk_in, *trunk_out;
	char                a_call_id[128];
	char                b_call_id[128];
	char                from[CALL_NUM_MAX];
	char                to[CALL_NUM_MAX];   /**< request-URI user as received */
	char                did[CALL_NUM_MAX];  /**< normalised E.164 */
	struct sockaddr_storage src;
	bool                tls[2];             /**< each leg's signalling is TLS */
	struct sipua_timer *invite_timer, *ring_timer;
	bool                got_provisional;
	bool                a_answered;         /**< 2xx sent to A */
	bool                ev_created, ev_ringing; /**< call.created / call.ringing sent */
	bool                offer_busy;         /**< a mid-call offer is being relayed */
	bool                offer_cancelled;    /**< ...and its sender cancelled it: the
						     other leg's answer must be undone */
	bool                rollback;           /**< our re-INVITE restoring the other
						     leg's previous SDP is pending */
	struct b2b_media   *offer_undo;         /**< the media state before the relayed
						     offer (NULL when none is relayed) */
	bool                delayed_offer;      /**< A's INVITE had no SDP: our 200 offers,
						     A's ACK answers */
	int                 offer_side;         /**< side whose offer is relayed */
	bool                offer_from_ack;     /**< ...it is the answer in that side's ACK
						     (to our offer in a 200), relayed as an
						     offer because it changed the direction:
						     the other leg's answer goes to no one */
	char               *ack_dir_sdp;        /**< an ACK's direction change still to be
						     relayed (an offer was in progress, or
						     the other leg answered 491); NULL: none */
	size_t              ack_dir_len;
	int                 ack_dir_side;       /**< the side whose ACK it came in */
	unsigned            ack_dir_tries;      /**< 491s met so far */
	struct sipua_timer *ack_dir_timer;      /**< the retry after a 491 */
	int                 final_code;         /**< final status A got (0 = none yet) */
	char                cause[48];          /**< why the call ended */
	char                reason[160];        /**< detail (Warning text) */
	uint64_t            t_start_ms, t_progress_ms, t_answer_ms, t_end_ms; /**< wall ms */
	char                cdr_id[40];       /**< the record's id (uuid): written once */
	char                tenant[ROUTE_NAME_MAX];  /**< database mode: the call's tenant */
	char                api_rid[48];      /**< placed by API: that request's id (log lines, record) */
	struct route_target *targets;          /**< database mode: destinations in turn */
	struct admit_req    areq;             /**< database mode: what admission takes */
	bool                admit_pending;    /**< asked, no answer yet: the call stays */
	bool                admit_requested;  /**< a lease was asked for: give it back */
	struct call_setup  *su;               /**< kept while admission is pending */
	struct sipua_timer *admit_timer;      /**< the answer is overdue */
	struct call_setup  *fo_su;            /**< kept for failover (more targets) */
	char               *fo_offer;         /**< the offer sent to B, for the next */
	size_t              fo_offer_len;
	size_t              n_targets, target; /**< how many; the one being tried */
	struct b2b_media    media;
	struct media_side_stats stats[2];
	bool                have_stats;
	char                rec_path[512];    /**< the recording running ("" = none) */
	const struct route *route;            /**< file mode: the route taken (in rt) */
	struct call_orig   *orig;             /**< placed by the API (b2bua_orig.c) */
	struct b2b_xfer    *xfer;             /**< a transfer in progress (b2bua_xfer.c) */
};

/** The call layer's context; everything but the counters lives on the signalling thread. */
struct b2bua {
	b2bua_media_hook    *media_hook;       /**< media events for the events module */
	void                *media_hook_arg;
	b2bua_view_hook     *view_hook;        /**< the calls' view for the control plane */
	void                *view_hook_arg;
	uint64_t             view_seq;         /**< the last view message's number */
	struct sipua_timer  *view_timer;       /**< the next whole-list resend */
	struct conf_sip      sip;              /**< copied at create / reload */
	struct media_engine_cfg media_cfg;
	char                 media_addr[CONF_HOST_MAX];  /**< c= address we advertise */
	bool                 media_ip6;        /**< media sockets bound to IPv6 (IPv4
						    otherwise): they reach that family */
	bool                 media_dual;       /**< bound to "::": both families (IPv4
						    as IPv4-mapped addresses) */
	char                 sip_host[CONF_HOST_MAX];    /**< host in our From URIs */
	char                 front_warning[400];  /**< the Warning of the front's refusal
						       being written (b2b_front_admit) */
	struct route_table  *rt;               /**< current snapshot (reference held) */
	struct sipua        *ua;
	struct media_engine *me;
	struct call         *calls;            /**< every call not yet freed */
	size_t               n_calls;          /**< calls in the list */
	struct b2b_rate      rate;
	bool                 stopping;         /**< new calls refused */
	bool                 started;          /**< b2bua_start() was called */
	uint64_t             seq;              /**< call id counter */
	uint64_t             id_salt;
	struct sdp_session   sdp_scratch[2];   /**< working space of the SDP rewriting */
	uint64_t             shed_log_ms;      /**< when load shedding was last logged */
	uint64_t             shed_unlogged;    /**< INVITEs shed since then */
	uint64_t             rng;              /**< xorshift state (weighted route order,
						    record ids) */
	char                 node_id[64];      /**< this node in records and leases */
	struct auth_nonces  *nonces;           /**< digest challenges (b2bua_auth.c) */
	struct tstate       *tstates;          /**< live trunk state (b2bua_qualify.c) */
	unsigned             admit_timeout_ms; /**< [data] admit_timeout */
	struct b2bua_hooks   hooks;            /**< the data plane (database mode) */
	struct sipua_net    *drop_nets;        /**< networks passing the drop-mode filter */
	size_t               n_drop_nets;      /**< 0 = no filter (reject mode) */
	struct sipua_net    *peer_nets;        /**< the same, owned by the signalling thread */
	size_t               n_peer_nets;
	/* Control thread only: what the drop-mode networks are made of, so that a file
	 * reload and a database snapshot swap (b2bua_set_routes) rebuild them from the
	 * routing the signalling thread is being given, never from b->rt. */
	struct route_table  *ctl_rt;           /**< the routing last handed over */
	enum conf_unknown_source ctl_unknown_source;

	/* Counters: written on the signalling thread, read from any thread. */
	_Atomic uint64_t     c_active, c_total, c_answered, c_failed, c_overload,
			     c_unknown_rejected, c_unknown_dropped, c_no_route, c_bad_request,
			     c_rtp_timeouts, c_shed, c_callerid, c_refused, c_budget,
			     c_admit_unavailable, c_auth_challenged, c_auth_failed, c_failover;
	/* Ended calls' RTP per leg (a, b): packets received, lost; legs by loss ratio. */
	_Atomic uint64_t     c_rtp_in[2], c_rtp_lost[2], c_loss_legs[B2BUA_LOSS_BUCKETS],
			     c_loss_sum_ppm;
	_Atomic uint64_t     c_rtp_foreign;   /* ended calls' packets from sources that may
						 not latch ([media] latch = known) */
	_Atomic bool         aux_busy;   /* un-REGISTERs unanswered (stop) */
};

#define UNREGISTER_WAIT_MS 2000   /* at stop, for registrars to answer */

/* b2bua_guard.c: the guards in front of the SIP stack */
/** Their settings from a configuration (the connection cap from the budget). */
void b2b_guard_cfg(const struct conf *cf, struct sipua_guard_cfg *g);
/** The address-only source check (sipua_source_h); signalling thread. */
enum sipua_verdict b2b_source_class(const struct sockaddr *src, bool connection, void *arg);
/** A malloc'd copy of n networks (NULL when n is 0). @return 0, ENOMEM */
int b2b_nets_copy(const struct sipua_net *nets, size_t n, struct sipua_net **outp);
/** Adds the guards' counters. */
void b2b_guard_counters(struct b2bua *b, struct b2bua_counters *c);

/* b2bua_call.c: event entry points (signalling thread) */
void call_on_incoming(struct b2bua *b, const struct sipua_ev *ev);

/** A new INVITE the SIP front refused (SIPUA_EV_REFUSED): its call record and
 *  counters, as call_on_incoming makes them for a refusal. */
void call_on_refused(struct b2bua *b, const struct sipua_ev *ev);

/**
 * The node's limits on new calls (max_calls, max_cps): the one limiter, asked once
 * per call, by the SIP front (b2b_front_admit) or by call_on_incoming for an INVITE
 * the front did not decide. Counts the call in max_cps when it says yes.
 * @param others  calls there are besides this one (active, and admitted by the front
 *                but not yet arrived)
 */
bool call_limits_admit(struct b2bua *b, uint64_t others);

/**
 * The calls that count toward max_calls besides a new one: those with a leg alive
 * (c_active; less the new call itself when `linked`, already in the list) and the
 * INVITEs the SIP front admitted whose event has not come yet. The one count of the
 * three ways a call starts: the front (b2b_front_admit), the stack's INVITE
 * (call_on_incoming) and the API (b2b_orig_start). Signalling thread.
 */
uint64_t call_load(struct b2bua *b, bool linked);

/** The session policy of a trunk's legs (NULL: the defaults). */
struct sipua_policy call_policy_of(const struct trunk *t);

/** The SIP front's admission handler (sipua_set_admit). */
enum sipua_admit b2b_front_admit(const struct sipua_admit_req *rq,
				 struct sipua_admit_answer *ans, void *arg);

/** The window of load shedding's standing-delay test (b2bua.c). */
#define B2B_SHED_WINDOW_MS 100

/** Load shedding is on (overload_delay): the queue check, nothing counted. */
bool b2b_shedding(struct b2bua *b);
void call_on_leg_event(struct b2bua *b, struct call *c, const struct sipua_ev *ev);
void call_on_media_event(struct b2bua *b, const struct media_event *ev);
/** Final failure to A (if A is still waiting) and the B leg ended. */
void fail_call(struct call *c, int code, const char *cause, const char *why);
/** Puts a new call c in its b2bua's list, counted active, and publishes its view. */
void call_link(struct call *c);
/** The set-up after admission: media, offer, B leg (takes su). */
void call_proceed(struct call *c, struct call_setup *su);
/** Ends the call if both legs are gone (and nothing pending keeps it). */
void call_maybe_end(struct call *c);
/** Hangs a call up (both legs) with a cause for its record. */
void call_hangup(struct call *c, const char *cause);
/** Frees a call without signalling. */
void call_free(struct call *c);
/** At shutdown, after the stack and the media engine are gone: writes the call's
 *  record (cause "shutdown" unless it had one) and frees it. */
void call_abandon(struct call *c);
const char *call_state_name(enum call_state s);

/* b2bua_view.c (signalling thread): the calls' public view pushed to the control plane */
/** The call's public object without its clock-derived fields (duration_ms, age_ms). */
struct json_t *b2b_call_json_base(const struct call *c);
/** The call is new or its public view changed: sent at once (when a hook is set). */
void call_view_changed(struct call *c);
/** The call is being freed. */
void call_view_gone(struct call *c);
/** The signalling thread stops: the resend timer cancelled, nothing sent any more. */
void b2b_view_stop(struct b2bua *b);

/* b2bua_media.c (signalling thread): prompts, recording, AMD */
/** Logs a MEDIA_EV_FEAT of call c (call.play, call.record, call.amd, call.beep). */
void b2b_media_event(struct call *c, const struct media_event *ev);
/** At answer: starts what the call's route asks (recording, AMD on B). */
void b2b_media_on_answer(struct call *c);
/** Starts recording the call to path. @return 0 or an errno value */
int b2b_media_record(struct call *c, const char *path);
/** Starts AMD on leg side (0 = A, 1 = B). @return 0 or an errno value */
int b2b_media_amd(struct call *c, int side);

/* b2bua_call.c: helpers shared with b2bua_offer.c */
void call_log(enum log_level lvl, const char *event, const struct call *c, const char *leg,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** The SDP rewriting context of a call; `allowed` must hold B2B_ALLOWED_MAX entries. */
void call_sdp_ctx(const struct call *c, struct b2b_sdp_ctx *x, const char **allowed);
struct sipua_leg *call_leg(const struct call *c, int side);
/** Writes "Warning: 399 <our host> \"why\"\r\n". */
void call_warning(const struct call *c, char *out, size_t len, const char *why);
/** Writes that header's value alone: "399 <our host> \"why\"". */
void b2b_warning_value(const struct b2bua *b, char *out, size_t len, const char *why);
/** Sends the negotiated parameters to the media session. */
void call_media_update(struct call *c);
/** Fills what the media engine needs from signalling into p: each side's signalling
 *  addresses and its trunk's latch. */
void call_media_sig(const struct call *c, struct media_session_params *p);
void call_media_pending(struct call *c);

/* b2bua_dtmf.c (signalling thread): DTMF interworking between the legs */
/** A side's digits for the media session (its trunk's way, the negotiated PTs). */
void b2b_dtmf_media_params(const struct b2b_media *m, int side, struct media_dtmf_params *dp);
/** The way (enum media_dtmf_mode) the trunk of a call's side carries digits. */
uint8_t b2b_dtmf_mode(const struct call *c, int side);
/** A digit the media session received (MEDIA_EV_DTMF): logged, sent on by INFO. */
void call_on_dtmf(struct call *c, const struct media_dtmf_event *d);
/** A digit received by INFO on side: logged and sent on toward the other leg. */
void call_on_info(struct call *c, int side, const struct sipua_ev *ev);

/* b2bua_xfer.c (signalling thread): transfer of an answered call by REFER toward a
 * leg's peer (the request itself: b2bua_xfer_ctl.c) */
#define B2B_XFER_URI_MAX 256
#define B2B_XFER_WAIT_MS 120000u  /**< longest a REFER waits for its final NOTIFY */

struct b2b_xfer {
	int                 side;        /**< the leg whose peer is asked to transfer */
	bool                accepted;    /**< the REFER got 2xx */
	int                 last_status; /**< last sipfrag status (0 = none yet) */
	char                to[B2B_XFER_URI_MAX];      /**< the destination as asked */
	char                target[B2B_XFER_URI_MAX];  /**< the Refer-To URI */
	struct sipua_timer *timer;       /**< the final NOTIFY is overdue */
	/* Mode bridge (b2bua_rebridge.c): `side` is the kept leg; a new leg replaces the
	 * other. Hooks, so that what links b2bua_call.c needs no SIP sender of it. */
	bool                bridge;
	bool                admitting;   /**< the new leg's lease is asked (the call stays) */
	struct b2b_rebridge *rb;
	/** An event of a leg that is not (yet) the call's: true when it was the new leg's. */
	bool (*on_leg)(struct call *c, const struct sipua_ev *ev);
	void (*on_admitted)(struct call *c, enum admit_verdict v);
	void (*on_end)(struct call *c);   /**< the transfer is over: frees rb */
};
/** A REFER answer or NOTIFY on leg `side`: progress, success (the call ends as
 *  "transferred"), or failure (the call goes on). */
void b2b_xfer_on_event(struct call *c, int side, const struct sipua_ev *ev);
/** The call.transfer event of the call's transfer (state, status, reason). */
void b2b_xfer_report(struct call *c, const char *state, int status, const char *reason);
/** The transfer timer fired (arg: the call). */
void b2b_xfer_timeout(void *arg);
/** Ends the call's transfer, if any, as failed for `reason` (the call is ending). */
void b2b_xfer_free(struct call *c, const char *reason);
/** Ends a transfer as failed (call.transfer failed; the call goes on). */
void b2b_xfer_failed(struct call *c, int status, const char *reason);
/** Ends a transfer that succeeded (frees it; the call is left as it is). */
void b2b_xfer_done(struct call *c);

/* b2bua_rebridge_sdp.c: the SDP of a re-bridge (pure) */
/** The offer of a re-bridge's new leg, and the crypto it proposed (for its answer). */
struct b2b_reoffer {
	char               sdp[SDP_BUF_MAX];
	size_t             len;
	struct b2b_offered crypto;
};
/** Our offer to a new leg replacing side `side`: what that side negotiated, and the
 *  codecs trunx transcodes to the kept leg's, as the new leg's trunk (c's entries at
 *  index `side`: codecs, SRTP, DTMF, Opus) allows.
 *  @return 0, ENOTSUP (nothing negotiated, no codec allowed, SRTP required but not
 *  possible), EINVAL, ENOMEM */
int b2b_rebridge_offer(struct b2b_media *m, int side, const struct b2b_sdp_ctx *c,
		       struct b2b_reoffer *o, char *why, size_t whylen);
/** The new leg's answer to offer o, taken into side `side` of m (only when usable):
 *  relay when it keeps the kept leg's codec, else transcoding.
 *  @return 0, ENOTSUP (stream rejected, no codec offered, no transcoding, crypto),
 *  EINVAL (malformed) */
int b2b_rebridge_answer(struct b2b_media *m, int side, const struct b2b_sdp_ctx *c,
			const struct b2b_reoffer *o, const char *sdp, size_t len, char *why,
			size_t whylen);
/* b2bua_rebridge.c (signalling thread): transfer mode bridge; answers through h. */
void b2b_rebridge_start(struct call *c, const struct b2bua_xfer_req *r, b2bua_reply_h *h,
			void *arg);

/* b2bua_quality.c: per-leg loss, jitter, RTT and MOS in call.end and trunxctl calls */
/** Puts the per-leg quality fields (loss, jitter, RTT, MOS, concealment, SRTP) of the
 *  call's final counters into its call.end record o. */
void call_quality_record(struct json_t *o, const struct call *c);
/** The live figures of a call (its media session's last published counters), or NULL. */
struct json_t *call_quality_json(const struct call *c);

/* b2bua_cdr.c (signalling thread) */
/** Writes the call.end record (log line) and hands it to the data plane. */
void call_record(struct call *c);

/* b2bua_events.c: a call's events (signalling thread) */
void call_ev_created(struct call *c);
void call_ev_ringing(struct call *c, int status);
void call_ev_answered(struct call *c);
void call_ev_hungup(struct call *c);
/** call.dtmf: a digit heard on the call (source: "rfc4733", "inband", "info"). */
void call_ev_dtmf(struct call *c, char digit, unsigned duration_ms, const char *source);
/** budget.exhausted: a call refused by a pool, a tenant cap or the global cap. */
void call_ev_budget(struct call *c, const char *budget, const char *why);
/** A random uuid (8-4-4-4-12 hex) for records. */
/** The next value of the b2bua's xorshift generator (not for secrets). */
uint64_t b2b_rand(struct b2bua *b);
void b2b_uuid(struct b2bua *b, char out[40]);
/** The times of the call records: UTC, ISO 8601 with milliseconds. */
void b2b_iso8601(char *out, size_t len, uint64_t ms);
/**
 * An event record: logged at `level` as `type` with the call's (or trunk's) fields and
 * the extra data (a JSON object, stolen; may be NULL), and handed to the data plane.
 */
void b2b_event(struct b2bua *b, enum log_level level, const char *type, const struct call *c,
	       const char *trunk, const char *tenant, json_t *data);

/* b2bua_auth.c (signalling thread): database mode */
/**
 * Digest identification of a new INVITE. Returns true when it was answered here (401
 * challenge, 403); otherwise *who is the trunk the INVITE comes from.
 */
bool call_auth_incoming(struct b2bua *b, const struct sipua_ev *ev, const struct trunk **who);

/* b2bua_qualify.c (signalling thread): database mode */
/** Starts, changes or stops qualify and registration after a snapshot swap. */
void b2b_trunks_sync(struct b2bua *b);
/** Stops them all (shutdown). */
void b2b_trunks_stop(struct b2bua *b);
/** Whether routing may try a trunk now (not down, registered when it registers). */
bool b2b_trunk_usable(const struct trunk *t, void *arg);

/* b2bua_trunks.c (signalling thread) */
/** Every trunk of the snapshot with its state, for `trunxctl trunks`. */
json_t *b2b_trunks_json(struct b2bua *b);
/** Adds the trunk's live state (qualify, registration) to its object. */
void b2b_trunk_state_json(struct b2bua *b, const struct trunk *t, json_t *o);

/* b2bua_admit.c (signalling thread): database mode */
/** Asks the data plane for the call's lease; the answer resumes the call. Takes su. */
void call_admit_async(struct call *c, struct call_setup *su);
/** The answer: the call proceeds, is refused, or (caller gone) ends. */
void call_admitted(struct call *c, enum admit_verdict v);

/* b2bua_call.c: sends the INVITE of the B leg for su (the offer given) */
int call_send_b(struct call *c, struct call_setup *su, const char *offer, size_t n);
/**
 * The B leg's answer to our offer (its 200's SDP): negotiated, and the answer for the
 * offering side written to out. On no SDP or no common codec the call is failed here
 * (500 no_answer_sdp, 488 no_common_codec). @return 0, or -1 when it was failed
 */
int call_b_answer_sdp(struct call *c, const struct sipua_ev *ev, char *out, size_t outlen,
		      size_t *n);

/* b2bua_route.c (signalling thread): database mode */
/**
 * B failed before any 18x (5xx, 408, no answer): tries the call's next destination.
 * @return true when a new B leg was sent
 */
bool call_failover(struct call *c, int status, bool local);
/**
 * The route step in database mode: decides from the snapshot (route_decide) and fills
 * the call (did, tenant, destinations) and su (request-URI and caller of the first
 * destination). On a refusal it answers the caller, records the reason (and the
 * event, if any) and returns -1.
 */
int call_route_db(struct call *c, const struct sipua_incoming *in, struct call_setup *su);

/**
 * The route step in file mode: the route trunk t's call to ruri_user takes, with the
 * number normalised into did ("" when it is none) and the B leg's request-URI in
 * ruri; NULL and why ("not a telephone number", "number not routed") when none.
 */
const struct route *call_route_file(const struct route_table *rt, const struct trunk *t,
				    const char *ruri_user, char *did, size_t didlen, char *ruri,
				    size_t rurilen, const char **why);

/** A number the route step refuses whatever the state of trunks and tenants. */
struct b2b_route_refusal {
	int         code;                  /**< the answer (0: not refused here) */
	const char *cause;                 /**< the record's cause */
	char        reason[160];           /**< its Warning and the record's reason */
	char        did[CALL_NUM_MAX];     /**< the called number as the call has it */
	char        tenant[ROUTE_NAME_MAX];
};
/**
 * The route step's refusal of a number, asked before any call exists (the SIP front's
 * admission, and the record of what it refused): a request-URI user trunk t routes
 * nowhere, in either mode (not a telephone number, no route; database mode: a DID
 * not assigned). What depends on trunks', tenants' or the caller's state is left to
 * the call (r->code 0).
 * @return r->code
 */
int call_route_refusal(struct b2bua *b, const struct trunk *t, const char *ruri_user,
		       const char *from_user, struct b2b_route_refusal *r);
/** Writes an event record (log line) about a call: `type` with a `reason`. */
void call_event(struct call *c, const char *type, const char *reason);

/* b2bua_orig.c (signalling thread): calls placed by the control plane */
/** Starts a call for req (taken); replies through h once the INVITE is out or not. */
void b2b_orig_start(struct b2bua *b, struct b2bua_orig_req *req, b2bua_reply_h *h, void *arg);
/** After admission (any verdict) or a refusal: answers the API once. */
void call_orig_settled(struct call *c);
/** The called party answered an API call (instead of relaying to an A leg). */
void call_orig_answered(struct call *c, const struct sipua_ev *ev);
/** Comfort noise toward an API call's leg while it has no other party (no bridge_to:
 *  on at answer, off once a re-bridge's new leg answers). */
void call_orig_fill(struct call *c);
/** A re-bridge's new leg a replaced the bridged one (or is the first): its lease q
 *  becomes the bridged leg's, the one held before goes back. */
void call_orig_take_lease(struct call *c, const struct admit_req *q);
/** Frees the API part of a call (answers the API if it never was). */
void call_orig_free(struct call *c);
/** An event of the bridged leg (c->a, placed by bridge_to); true when handled. */
bool call_orig_bridge_event(struct call *c, const struct sipua_ev *ev);
/** An admission answer for the bridged leg's lease, if one was asked; true when it was
 *  that (the leg is placed, or the call ends with the refusal's reason). */
bool call_orig_bridge_admitted(struct call *c, enum admit_verdict v);

/* b2bua_offer.c (signalling thread) */
void call_on_offer(struct call *c, int from, const struct sipua_ev *ev);
void call_on_offer_result(struct call *c, const struct sipua_ev *ev);
/** The sender of the offer being relayed cancelled it (its re-INVITE got 487). */
void call_on_offer_cancelled(struct call *c, int from);
/** Frees what an offer in flight holds (at the end of the call). */
void call_offer_free(struct call *c);
void call_on_ack(struct call *c, int side, const struct sipua_ev *ev);

/* A control-plane request posted to the signalling thread (b2bua_media_ctl.c): run(job)
 * gets the job, answers through h and frees job, req and what req owns. */
struct b2b_req_job {
	struct b2bua  *b;
	void          *req;
	b2bua_reply_h *h;
	void          *arg;
};

/** Posts run(job) for req; on any error frees req and its pcm (owned by req) here.
 *  @return 0, EINVAL, ENOMEM, ESHUTDOWN or EAGAIN (queue full) */
int b2b_post_req(struct b2bua *b, void (*run)(void *), void *req, void *pcm,
		 b2bua_reply_h *h, void *arg);

/** The DTMF mode a trunk's configuration asks for (b2bua_dtmf.c). */
enum media_dtmf_mode b2b_trunk_dtmf(const struct trunk_cfg *t);
/** want if free in used[], else the first free dynamic payload type (b2bua_sdp.c). */
uint8_t b2b_free_pt(const bool used[128], uint8_t want);

#endif
