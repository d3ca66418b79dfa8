/*
 * session.h — the media session object behind the media.h handle, and the relay that
 * moves packets between its two sides. Private to media/.
 *
 * Ownership: a few fields are fixed when the session is created on the owner
 * (signalling) thread and read-only afterwards (engine, worker, cookie, owner, ports);
 * the ctl_* fields are guarded by the worker's control lock; everything else belongs to
 * the worker thread the session is pinned to, which is the only thread touching the
 * sockets, the latching state and the counters.
 */
#ifndef TRUNX_SESSION_H
#define TRUNX_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kfwd/kfwd_map.h"
#include "codec.h"
#include "mdtmf.h"
#include "media.h"
#include "msrtp.h"
#include "rtp.h"
#include "rtp_stats.h"
#include "sa.h"

struct media_engine;
struct worker;

/** RTP clock assumed when a side names no codec (G.711 and telephone-event). */
#define SESSION_CLOCK_HZ 8000

struct xcode;
struct feat;
struct feat_cmd;

enum session_fd { SESSION_FD_RTP = 0, SESSION_FD_RTCP = 1 };

/** What the poller hands back for a socket: which session, side and socket. */
struct session_fdh {
	struct media_session *s;
	uint8_t               side;   /**< enum media_side */
	uint8_t               kind;   /**< enum session_fd */
	uint32_t              io_slot; /**< its slot in the worker's io_uring (uio.h) */
};

/** The stream leaving trunx from one side toward the other (one stable SSRC). */
struct session_out {
	uint32_t ssrc;          /**< chosen at creation, never changes */
	uint16_t seq_init;      /**< random first sequence number */
	uint32_t ts_init;       /**< random first timestamp */
	bool     started;       /**< a packet went out: the offsets below are set */
	bool     rebase;        /**< next packet opens a new source: rebase, set marker */
	uint16_t seq_off;       /**< out seq = in seq + seq_off (mod 2^16) */
	uint32_t ts_off;        /**< out ts = in ts + ts_off (mod 2^32) */
	uint16_t seq_max;       /**< highest sequence number sent */
	uint32_t ts_last;       /**< timestamp of that packet */
	uint64_t last_ms;       /**< when it was sent, monotonic ms */
	uint32_t rebase_min;    /**< least timestamp advance at the next rebase (one
				 *   packet time after a generated stream), 0 = 1 */
	uint32_t clock_hz;      /**< RTP clock of the stream (the receiving side's codec) */
	/* Generated stream (transcoding): */
	bool     gen;           /**< frames are generated on the clock, not relayed */
	bool     gen_sent;      /**< the last tick sent a packet (else: marker next) */
	uint32_t gen_ts;        /**< timestamp of the next generated frame */
	uint64_t gen_due_us;    /**< when the next frame is due, monotonic us */
	uint32_t gen_period_us; /**< packet time */
	/* telephone-event crossing a transcoded call: timestamps and durations moved to
	 * the receiving side's event clock, an event placed where the stream is */
	struct telev_map te_map;
};

struct session_side {
	int                 fd[2];         /**< RTP, RTCP sockets (owner creates, worker closes) */
	uint16_t            port;          /**< local RTP port; RTCP is port + 1 */
	struct session_fdh  fdh[2];

	/* From the last update. */
	bool                have_remote;   /**< an RTP address was given */
	bool                null_remote;   /**< ...but it is 0.0.0.0 or :: (RFC 2543 hold):
					    *   nothing is sent toward it */
	union media_sa      sdp_rtp;       /**< remote RTP address from SDP */
	union media_sa      sdp_rtcp;      /**< remote RTCP address */
	union media_sa      sig[MEDIA_SIG_ADDRS]; /**< the party's signalling IPs */
	unsigned            n_sig;
	bool                latch_any;     /**< any source may latch (the side's own
					    *   latch, else the engine's) */
	enum media_dir      dir;           /**< as declared by the remote */
	bool                rtcp_mux;      /**< RTCP on the RTP ports, both ways */
	uint8_t             pt_map[128];   /**< incoming PT -> PT toward the other side */
	struct media_codec_params codec;   /**< the codec it negotiated (NONE = unknown) */
	uint32_t            clock_hz;      /**< RTP clock of what it sends us */
	struct xcode       *xc;            /**< transcoding from this side to the other,
					    *   NULL on a relay */
	struct msrtp       *srtp;          /**< SRTP contexts of this side, NULL = plain */
	bool                srtp_block;    /**< SRTP expected but no keys (pending offer,
					    *   or the contexts could not be made): nothing
					    *   is taken from or sent to this side */

	/* Latching. */
	bool                latched;       /**< peer_rtp is the only accepted source */
	union media_sa      peer_rtp;      /**< latched RTP source, also our send target */
	uint64_t            last_rx_ms;    /**< last RTP accepted from this side */
	bool                rtcp_latched;
	union media_sa      peer_rtcp;     /**< latched RTCP source and RTCP target */
	uint64_t            last_rtcp_ms;  /**< last RTCP accepted from this side */
	union media_sa      rtcp_guess;    /**< latched RTP source with port + 1 (NAT) */

	/* The incoming source: (address, SSRC) of the last packet accepted. */
	bool                have_src;
	union media_sa      src_addr;
	uint32_t            src_ssrc;
	struct rtp_stats    rx;            /**< statistics of the current source */
	int64_t             lost_prev;     /**< loss of earlier sources */

	struct session_out  out;           /**< stream from this side toward the other */
	struct media_side_stats st;        /**< counters reported in MEDIA_EV_CLOSED */

	/* RTCP terminated here (transcoding). */
	uint32_t            lsr;           /**< middle of the NTP time of its last SR */
	uint64_t            lsr_at_us;     /**< when that SR arrived, monotonic */
	uint64_t            rtcp_due_us;   /**< our next report to it */
	uint64_t            rtcp_pkts_at;  /**< rtp_out at our last report (sender or not) */

	/* In-kernel forwarding of this side's RTP toward the other (media/kfwd). */
	uint8_t             last_pt;       /**< payload type of the last RTP accepted */
	uint8_t             pt_run;        /**< ...and how many in a row carried it */
	bool                kf_on;         /**< an entry forwards it in the kernel */
	struct kfwd_key     kf_key;        /**< ...under this key */
	uint64_t            kf_packets;    /**< the entry's counters already folded in */
	uint64_t            kf_bytes;
	uint64_t            kf_retry_ms;   /**< no new attempt before (insert failed) */
	uint32_t            kf_backoff_ms; /**< the last wait after an entry forwarded nothing */
};

/* 64-bit words holding both sides' published counters (session_publish). */
#define SESSION_PUB_WORDS ((2 * sizeof(struct media_side_stats) + 7) / 8)

struct media_session {
	/* Fixed at creation. */
	struct media_engine *me;
	struct worker       *w;            /**< the worker it is pinned to */
	uint64_t             cookie;
	pthread_t            owner;        /**< thread that created it: updates, destroy */

	/* Control requests; guarded by the worker's control lock. */
	struct media_session *ctl_next;
	unsigned              ctl_flags;   /**< WORKER_CTL_* bits pending */
	bool                  ctl_queued;  /**< linked on the worker's control list */
	struct media_session_params ctl_params; /**< the pending update's parameters */
	struct feat_cmd      *ctl_cmds;    /**< prompt/record/AMD requests, oldest first */

	/* Worker thread only. */
	struct media_session *work_next;   /**< chain of one control round */
	unsigned              work_flags;  /**< the WORKER_CTL_* bits taken this round */
	struct media_session_params work_params; /**< the update taken this round */
	struct feat_cmd      *work_cmds;   /**< the feature requests taken this round */
	struct feat          *feat;        /**< prompts, recording, AMD (feat.h); NULL = none */
	struct mdtmf_queue    ctl_digits;  /**< digits posted (ctl lock), WORKER_CTL_DIGITS */
	struct mdtmf_queue    work_digits; /**< ...taken this round */
	struct mdtmf         *dtmf;        /**< DTMF interworking (media/dtmf), NULL = none */
	struct media_session *prev, *next; /**< the worker's session list */
	bool                  added;       /**< sockets in the poller, on the list */
	bool                  timer_armed; /**< inactivity timer running */
	bool                  on_hold;     /**< armed with the hold timeout (RTCP counts) */
	bool                  timeout_sent;
	uint64_t              last_activity_ms; /**< last RTP from either side (or arm) */
	bool                  transcoding; /**< both directions run through xcode */
	bool                  clocked;     /**< on the worker's clock list */
	uint32_t              rnd;         /**< report interval randomisation state */
	/* Counters published for the owner thread (seqlock: odd = being written). The
	 * copy is kept in atomic words, so the reader's racing load is a defined one. */
	_Atomic unsigned      pub_seq;
	uint64_t              pub_next_ms;
	_Atomic uint64_t      pub[SESSION_PUB_WORDS];
	struct media_session *clk_prev, *clk_next;
	struct session_side   side[2];
};

/** Relay settings copied from the engine configuration. */
struct session_cfg {
	unsigned rtp_timeout_ms;   /**< 0 = off */
	unsigned hold_timeout_ms;  /**< while on hold; 0 = off */
	unsigned jb_max_ms;        /**< jitter-buffer target limit */
	unsigned relatch_ms;       /**< silence before another source may latch */
	bool     latch_any;        /**< any source may latch (MEDIA_LATCH_ANY), for a
				        side whose parameters name no latch of their own */
	int      family;           /**< AF_INET or AF_INET6 of the sockets */
};

/** Bytes relay_rtp() may write at buf (its callers' buffers hold 2,048, with room
 *  left for an SRTP trailer after). */
#define SESSION_RELAY_ROOM 1400

/** What the relay decided for one packet. */
enum relay_verdict {
	RELAY_SEND = 0,   /**< rewritten in place; send it as relay_out says */
	RELAY_DROP,       /**< rejected (counted in rtp_dropped) */
	RELAY_KEEP,       /**< accepted and counted, but the other side takes nothing now */
};

/** Where to send a relayed packet. */
struct relay_out {
	int                   fd;     /**< socket to send from */
	const union media_sa *dst;    /**< destination */
	unsigned              side;   /**< side it goes to (for its counters) */
	size_t                len;    /**< bytes to send (SRTP changes the length) */
};

/**
 * Unprotects a packet that arrived from a side using SRTP, in place (nothing to do on
 * a plain side). A refused packet is counted on the side (authentication, replay)
 * and must be dropped.
 * @return true when the packet may go on (now plain RTP/RTCP in buf[0..*len))
 */
bool session_srtp_in(struct session_side *in, bool rtcp, uint8_t *buf, size_t *len);

/**
 * Protects a packet going to side `to` if it uses SRTP (cap: bytes available at buf).
 * @return true when it may be sent (buf[0..*len))
 */
bool session_srtp_out(struct session_side *to, bool rtcp, uint8_t *buf, size_t *len,
		      size_t cap);

/** True when packets may be sent toward side `to` (a known, non-null remote that
 *  receives). */
static inline bool session_takes_rtp(const struct session_side *to)
{
	return to->have_remote && !to->null_remote && !to->srtp_block &&
	       (to->dir == MEDIA_DIR_SENDRECV || to->dir == MEDIA_DIR_RECVONLY);
}

/**
 * Fills the per-session random state (SSRCs, first seq/ts). Owner thread, at creation.
 * @return 0 or the errno of getrandom()
 */
int session_init(struct media_session *s);

/**
 * Validates update parameters (families, directions) without applying them.
 * @return 0 or EINVAL
 */
int session_params_check(const struct media_session_params *p, int family);

/** Applies parameters on the worker: remotes, directions, PT maps, re-latch, timer,
 *  and the mode (relay or transcoding; the transcoders are created here). */
void session_apply(struct media_session *s, const struct session_cfg *cfg,
		   const struct media_session_params *p, uint64_t now_ms);

/** Frees what session_apply() created (the transcoders). Worker, at close. */
void session_fini(struct media_session *s);

/**
 * Generated frames of one clock round, held until the round's encodes are done and
 * then sent back to back (session_txq_flush()): the codec and the kernel's send path
 * then take turns once per round instead of once per frame, and a receiver woken by
 * the first datagram finds the rest queued. The worker owns one; nothing is allocated.
 */
#define SESSION_TXQ_LEN 64
#define SESSION_TXQ_PKT (RTP_HDR_MIN + CODEC_OUT_MAX + MSRTP_TRAILER)
struct session_txq_slot {
	struct session_side  *to;    /**< counted on it once sent */
	const union media_sa *dst;
	uint16_t              len;
	uint8_t               pkt[SESSION_TXQ_PKT];
};
struct session_txq {
	unsigned                n;
	struct session_txq_slot slot[SESSION_TXQ_LEN];
};

/** Sends what q holds, in order, and empties it. @return packets sent */
unsigned session_txq_flush(struct session_txq *q);

/**
 * Runs the transcoding clock: every frame due at now_us is encoded and sent with
 * sendto() on the receiving side's socket, or, with q, queued there (q is flushed
 * first when full; the caller flushes it after the round). A session that also sends
 * digits or prompts sends directly, so its packets never overtake each other.
 * @param next_due_us  lowered to the time the next frame of this session is due
 * @return packets sent (not those left queued in q)
 */
unsigned session_clock(struct media_session *s, uint64_t now_us, uint64_t *next_due_us,
		       struct session_txq *q);

/** Where RTCP toward `to` goes (latched, SDP, or a NAT guess), or NULL. */
const union media_sa *session_rtcp_target(const struct session_side *to);

/** The socket RTCP toward `to` leaves from (its RTP socket when multiplexed). */
static inline int session_rtcp_fd(const struct session_side *to)
{
	return to->fd[to->rtcp_mux ? SESSION_FD_RTP : SESSION_FD_RTCP];
}

/** True for an RTCP packet on a multiplexed RTP port (RFC 5761 4: PT 64-95). */
static inline bool session_is_rtcp(const uint8_t *buf, size_t len)
{
	return len >= 8 && (buf[0] >> 6) == 2 && (buf[1] & 0x7f) >= 64 && (buf[1] & 0x7f) <= 95;
}

/** Publishes the counters for media_session_stats() (worker; about once a second). */
void session_publish(struct media_session *s, uint64_t now_ms);

/** Sends one generated frame from in's stream toward `to` (transcode.c).
 *  @return 1 if a packet went out */
unsigned session_send_frame(struct session_side *in, struct session_side *to, const uint8_t *pl,
			    size_t n, uint32_t ts, uint64_t now_us);

/** Sends the RTCP reports of a transcoding session that are due. */
void xc_rtcp_tick(struct media_session *s, uint64_t now_us, uint64_t *next_due_us);

/**
 * Reads an RTCP compound from a side in transcoding mode (reports about our stream).
 * @param arrival_us       when it reached the host, monotonic (the clock of now_us):
 *                         an SR's arrival, from which our next DLSR counts
 * @param arrival_wall_us  the same instant on CLOCK_REALTIME, for the round trip from
 *                         a report block's LSR/DLSR; 0 = unknown (the clock is read)
 */
void xc_rtcp_in(struct media_session *s, unsigned side, const uint8_t *buf, size_t len,
		uint64_t arrival_us, uint64_t arrival_wall_us);

/** Transcoding half of relay_rtp(): a packet accepted from side, in transcoding mode. */
enum relay_verdict xc_rtp(struct media_session *s, unsigned side, uint8_t *buf, size_t len,
			  const struct rtp_hdr *h, uint64_t now_us, struct relay_out *out);

/**
 * Runs the inactivity check.
 * @return true once, when the timeout expires (the caller emits MEDIA_EV_TIMEOUT)
 */
bool session_timer(struct media_session *s, const struct session_cfg *cfg, uint64_t now_ms);

/** Copies the final per-side counters (with loss and jitter) into st[2]. */
void session_stats(const struct media_session *s, struct media_side_stats st[2]);

/**
 * Handles one RTP packet that arrived on side's RTP socket, rewriting it in place
 * (buf has room for SESSION_RELAY_ROOM bytes).
 * Updates the session's counters except rtp_out/bytes_out, which the caller adds once
 * the packet is actually sent.
 * @param now_us      the time it is handled, monotonic microseconds
 * @param arrival_us  when it reached the host (kernel stamp, else now_us), same clock:
 *                    the interarrival jitter is computed from it
 * @return the verdict; out is filled for RELAY_SEND
 */
enum relay_verdict relay_rtp(struct media_session *s, const struct session_cfg *cfg, unsigned side,
	       uint8_t *buf, size_t len, const union media_sa *src, uint64_t now_us,
	       uint64_t arrival_us, struct relay_out *out);

/**
 * Same for an RTCP compound on side's RTCP socket, or on its RTP socket with rtcp-mux
 * (rtcp_out left to the caller).
 * @param arrival_us       when it reached the host (kernel stamp, else now_us), same
 *                         clock as now_us
 * @param arrival_wall_us  the same instant on CLOCK_REALTIME, 0 = unknown: a report
 *                         terminated here (transcoding) is timed by them, see xc_rtcp_in()
 */
enum relay_verdict relay_rtcp(struct media_session *s, const struct session_cfg *cfg, unsigned side,
		uint8_t *buf, size_t len, const union media_sa *src, uint64_t now_us,
		uint64_t arrival_us, uint64_t arrival_wall_us, struct relay_out *out);

#endif
