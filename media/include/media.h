/*
 * media.h — the RTP engine: N worker threads relaying RTP/RTCP between the two legs
 * of a call.
 *
 * DESIGN
 * A media session anchors one call's audio: two sides (A = the caller's leg, B = the
 * callee's leg), each with a local RTP port and RTCP port (RTP+1) on the engine's
 * address. A session is pinned to one worker thread for its whole life; that worker
 * is the only thread that touches the session's sockets and state. The thread that
 * creates sessions (the signalling thread) holds a handle and changes the session
 * only by sending its worker a message (media_session_update / _destroy); results and
 * failures come back as events through the media_event_h given at engine creation,
 * which runs ON A WORKER THREAD and must only hand the event off (e.g. post it to the
 * signalling thread's queue).
 *
 * Two modes per session, chosen by every update:
 *  - relay (the same codec on both sides, or no codec given): packets are rewritten
 *    and forwarded, never decoded, with no jitter buffer;
 *  - transcoding (both sides name a codec, and they differ): each direction has a
 *    jitter buffer, a decoder with loss concealment (Opus FEC, Opus PLC, G.711 PLC),
 *    and an encoder for the other side, run on the worker's clock at the other
 *    side's packet time; telephone-event packets cross with their timestamps and
 *    durations rescaled between the two clocks. The internal audio is 8 kHz (the
 *    other leg is G.711), so Opus is encoded and decoded at 8 kHz and carried with
 *    its 48 kHz RTP clock. Switching mode keeps SSRC, sequence and timestamps
 *    continuous toward each side.
 *
 * SRTP is per side (media_side_params.srtp): what an SRTP side sends is authenticated
 * and decrypted on arrival, what goes to it encrypted on departure, so either mode
 * bridges RTP and SRTP. Refused packets are counted (srtp_auth_fail, srtp_replay).
 *
 * Relay rules:
 *  - Symmetric RTP with latching: packets are accepted from the remote address given
 *    by SDP; the first packet from another source latches the side to that source
 *    (NAT). Which sources may latch is cfg.latch, or the side's own
 *    media_side_params.latch: with MEDIA_LATCH_KNOWN (the default) only a source
 *    whose IP is the SDP address's or one the party's signalling came from
 *    (media_side_params.sig), so a stranger spraying the port range can neither
 *    take a call's audio nor inject its own ("RTP bleed"); others are dropped and
 *    counted (rtp_foreign). After latching, packets from other sources
 *    are dropped (counted), unless
 *    the latched source has been silent for cfg.relatch_ms, or an update changed the
 *    remote address, in which case the next source latches again; when that update
 *    replaced one remote address by another, a packet from the new SDP address then
 *    takes the latch at once (the old party's last packets, latched first after a
 *    re-bridge, must not hold it).
 *  - Each direction (A->B, B->A) leaves trunx with one stable SSRC chosen by trunx.
 *    When the incoming source changes (new SSRC, or a re-latch), the outgoing sequence
 *    number and timestamp continue from where they were (rebased) and the marker bit
 *    is set on the first packet of the new source, so the far side sees one continuous
 *    stream across re-INVITEs and re-latches.
 *  - Payload types are rewritten per direction with the map given in the update
 *    (incoming PT on one side -> PT negotiated on the other); a PT absent from the map
 *    is dropped and counted.
 *  - RTCP is relayed between the RTCP ports with the same SSRC mapping (sender SSRC
 *    and report-block SSRCs rewritten), so reports stay consistent with the rewritten
 *    RTP streams. RTCP from an unexpected source is dropped.
 *  - RTP inactivity: when cfg.rtp_timeout_ms > 0 and no RTP arrives from either side
 *    for that long while both sides are sendrecv, the worker emits MEDIA_EV_TIMEOUT once.
 *    While either side is on hold (sendonly, recvonly or inactive) the longer
 *    cfg.hold_timeout_ms applies instead, and RTCP counts as activity too (a held
 *    party sends no RTP but its RTCP goes on), so a call whose peers vanished while on
 *    hold still ends.
 *  - The hot path allocates nothing per packet; sockets are read in batches.
 */
#ifndef TRUNX_MEDIA_H
#define TRUNX_MEDIA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct media_engine;
struct media_session;

enum media_side {
	MEDIA_SIDE_A = 0,   /**< the caller's (inbound) leg */
	MEDIA_SIDE_B = 1,   /**< the callee's (outbound) leg */
};

/** Direction as declared by the remote party in its SDP (RFC 3264). */
enum media_dir {
	MEDIA_DIR_SENDRECV = 0,
	MEDIA_DIR_SENDONLY,     /**< remote sends, will not receive: we must not send to it */
	MEDIA_DIR_RECVONLY,     /**< remote receives only: it is not expected to send */
	MEDIA_DIR_INACTIVE,
};

/** How the workers receive and send packets. */
enum media_io {
	MEDIA_IO_AUTO = 0,   /**< io_uring when the kernel allows it, else epoll */
	MEDIA_IO_URING,      /**< io_uring only: the engine fails to start without it */
	MEDIA_IO_EPOLL,      /**< epoll readiness + recvmmsg/sendmmsg */
};

/** In-kernel forwarding of pure relays ([media] kernel_forward). */
enum media_kfwd {
	MEDIA_KFWD_OFF = 0,  /**< userspace relay only */
	MEDIA_KFWD_AUTO,     /**< used when the program loads, else logged once (info) */
	MEDIA_KFWD_ON,       /**< the same, but a failure to load is logged as an error */
};

/** Which sources may latch a side (see the relay rules above). */
enum media_latch {
	MEDIA_LATCH_KNOWN = 0, /**< the SDP address's IP or the party's signalling IPs */
	MEDIA_LATCH_ANY,       /**< any source (the first packet wins) */
};

/** One side's own choice of enum media_latch (media_side_params.latch). */
enum media_side_latch {
	MEDIA_SIDE_LATCH_ENGINE = 0, /**< the engine's cfg.latch (zeroed parameters) */
	MEDIA_SIDE_LATCH_KNOWN,      /**< MEDIA_LATCH_KNOWN on this side */
	MEDIA_SIDE_LATCH_ANY,        /**< MEDIA_LATCH_ANY on this side */
};

struct media_engine_cfg {
	unsigned workers;        /**< worker threads; 0 = one per online CPU */
	char     bind_addr[64];  /**< IPv4 or IPv6 literal the RTP sockets bind to */
	uint16_t port_min;       /**< first port of the RTP range (rounded up to even) */
	uint16_t port_max;       /**< last port of the range (inclusive) */
	unsigned rtp_timeout_ms; /**< inactivity timeout; 0 = off */
	unsigned hold_timeout_ms; /**< inactivity timeout while on hold; 0 = off */
	unsigned relatch_ms;     /**< silence after which another source may latch; 0 = 2000 */
	enum media_latch latch;  /**< which sources may latch */
	unsigned jb_max_ms;      /**< longest jitter-buffer target (transcoding); 0 = 200 */
	/** Bounded delay: an RTP packet that waited longer than this in trunx (kernel
	 *  receive timestamp -> the moment its worker would forward it) is dropped and
	 *  counted (rtp_dropped_late) instead of being forwarded late; 0 = off (no
	 *  receive timestamps taken). */
	unsigned max_delay_ms;
	enum media_io io;        /**< receive/send path of the workers */
	/** Pure-relay RTP forwarded by a tc program in the kernel (media/kfwd). */
	enum media_kfwd kernel_forward;
};

/** Per-side counters, as seen on that side's sockets. */
struct media_side_stats {
	uint64_t rtp_in;         /**< RTP packets received and accepted */
	uint64_t rtp_out;        /**< RTP packets sent to this side */
	uint64_t bytes_in;       /**< RTP payload+header bytes accepted */
	uint64_t bytes_out;
	uint64_t rtp_lost;       /**< packets missing in the received sequence (RFC 3550 A.3) */
	uint64_t rtp_dropped;    /**< rejected: unexpected source, bad header, unmapped PT */
	uint64_t rtp_foreign;    /**< of rtp_dropped: from a source that may not latch
				      (MEDIA_LATCH_KNOWN: neither the SDP address's IP nor
				      one of the party's signalling IPs) */
	uint64_t rtp_dropped_late; /**< arrived here but waited longer than max_delay_ms
				       in trunx: dropped, not forwarded (not in rtp_dropped) */
	uint64_t rtcp_in;
	uint64_t rtcp_out;
	uint32_t jitter_us;      /**< interarrival jitter of received RTP (RFC 3550 6.4.1) */
	uint32_t ssrc_changes;   /**< times the incoming source changed (re-latch, new SSRC) */
	/* Where this side's audio is decoded (transcoding): */
	uint64_t concealed;      /**< frames of lost audio concealed (PLC) */
	uint64_t fec_recovered;  /**< lost frames recovered from Opus in-band FEC */
	uint64_t jb_late;        /**< packets that came after their turn, or outside the
				      stream's numbering and not followed (dropped) */
	uint64_t jb_discarded;   /**< packets dropped to keep the delay down */
	uint64_t jb_expanded;    /**< frames stretched while nothing was there (DTX, late) */
	uint32_t jb_delay_ms;    /**< jitter-buffer delay, smoothed over packets played */
	uint64_t frames_out;     /**< encoded frames sent to this side (transcoding) */
	uint64_t frames_skipped; /**< frames generated for this side (transcoding, a
				      prompt) that were due while the worker was more than
				      100 ms late: skipped (a timestamp gap), not sent in a
				      burst */
	/* RTCP where trunx terminates media (transcoding): what this side reported about
	 * the stream we send it, and our own reports to it. */
	uint64_t rtcp_sent;      /**< reports trunx generated toward this side */
	bool     have_report;    /**< the side sent a report block about our stream */
	uint8_t  remote_fraction_lost; /**< its last fraction lost (x/256) */
	int32_t  remote_lost;    /**< its cumulative lost count */
	uint32_t remote_jitter_us;/**< its interarrival jitter of our stream */
	int32_t  rtt_ms;         /**< round-trip time from its LSR/DLSR, -1 = unknown */
	/* SRTP on this side: packets it sent that were refused (never forwarded). */
	uint64_t srtp_auth_fail; /**< SRTP/SRTCP authentication failures */
	uint64_t srtp_replay;    /**< replayed or too old (outside the replay window) */
};

enum media_event_type {
	MEDIA_EV_TIMEOUT = 1,    /**< RTP inactivity: the call should be hung up */
	MEDIA_EV_CLOSED,         /**< the session is gone; final stats attached */
	MEDIA_EV_FEAT,           /**< a prompt, recording or AMD result (media_feat.h);
				      always before MEDIA_EV_CLOSED */
	MEDIA_EV_DTMF,           /**< a digit received on a side has ended (ev.dtmf);
				      stats are not filled */
};

/** What MEDIA_EV_FEAT reports (media_feat.h fills it). */
struct media_feat_ev {
	uint8_t  kind;           /**< enum media_feat_kind */
	uint8_t  side;           /**< the leg concerned */
	bool     mix;            /**< play: mixed with the relayed audio */
	uint32_t ms;             /**< play: ms played; record: the file's duration;
				      amd: decision time; beep: its end, from answer */
	uint64_t frames;         /**< record: stereo frames written */
	uint64_t late;           /**< record: packets too late for the recording */
	uint64_t overflow;       /**< record: frames the writer could not take (silence) */
	int      cls;            /**< amd: enum amd_class */
	int      reason;         /**< amd: enum amd_reason */
	float    confidence;     /**< amd */
	float    hz;             /**< beep: its frequency */
	uint32_t cost_ns;        /**< amd: mean CPU time per 20 ms frame so far (decode
				      excluded), measured in the worker */
	uint32_t start_ms;       /**< beep: its start */
};

/** How a side carries digits (per trunk). */
enum media_dtmf_mode {
	MEDIA_DTMF_RFC4733 = 0,  /**< telephone-event packets (the default) */
	MEDIA_DTMF_INBAND,       /**< tones in the audio (G.711 or Opus) */
	MEDIA_DTMF_INFO,         /**< SIP INFO: signalling carries them, media drops events */
};

/** A digit received on a side (MEDIA_EV_DTMF). */
struct media_dtmf_event {
	uint8_t  side;           /**< enum media_side it came from */
	char     digit;          /**< '0'-'9' '*' '#' 'A'-'D' */
	uint32_t duration_ms;
	bool     inband;         /**< detected in the audio (else RFC 4733) */
	bool     timed_out;      /**< RFC 4733: its end packets were lost */
};

struct media_event {
	enum media_event_type   type;
	uint64_t                cookie;    /**< the caller's id given at session creation */
	struct media_side_stats stats[2];  /**< indexed by enum media_side */
	struct media_feat_ev    feat;      /**< MEDIA_EV_FEAT only */
	struct media_dtmf_event dtmf;      /**< MEDIA_EV_DTMF only */
};

/** Event handler; runs on a worker thread. ev is valid only during the call. */
typedef void (media_event_h)(const struct media_event *ev, void *arg);

/**
 * Starts the engine and its workers.
 * @return 0, EINVAL (bad cfg), ENOMEM, or the errno of thread/socket creation
 */
int media_engine_create(struct media_engine **mep, const struct media_engine_cfg *cfg,
			media_event_h *eh, void *arg);

/** Stops the workers and frees every session without emitting events. */
void media_engine_destroy(struct media_engine *me);

struct media_engine_counters {
	unsigned workers;
	uint64_t sessions_active;
	uint64_t sessions_total;
	uint64_t ports_free;     /**< RTP/RTCP pairs still free in the range */
	uint64_t rtp_relayed;    /**< packets relayed since start, all sessions */
	uint64_t rtp_dropped;
	uint64_t rtp_dropped_late; /**< of rtp_dropped: waited longer than max_delay_ms */
	bool     kfwd_active;    /**< the kernel forwarding program is attached */
	uint64_t kfwd_flows;     /**< directions forwarded in the kernel now */
	uint64_t kfwd_packets;   /**< RTP packets the kernel forwarded (counted about once
				      a second per session, and when a direction ends) */
};

/** Reads the engine-wide counters; any thread. */
void media_engine_counters(const struct media_engine *me, struct media_engine_counters *c);

/** One worker's share of the load (to see how evenly sessions are spread). */
struct media_worker_counters {
	uint64_t sessions;       /**< sessions pinned to it now */
	uint64_t rtp_relayed;
	uint64_t rtp_dropped;
	uint64_t rtp_dropped_late;
};

/** Reads worker idx's counters; any thread. @return 0 or EINVAL (no such worker) */
int media_engine_worker_counters(const struct media_engine *me, unsigned idx,
				 struct media_worker_counters *c);

/**
 * Creates a session: allocates a local RTP/RTCP port pair for each side (bound at
 * once, so the ports can go into SDP right away) and pins the session to a worker.
 * No packets are relayed until the first update gives the remote addresses.
 * Call from one thread only (the owner of the handle).
 * @param cookie  the caller's id, echoed in every event of this session
 * @return 0, EINVAL, ENOMEM, or EADDRINUSE when the port range is exhausted
 */
int media_session_create(struct media_engine *me, uint64_t cookie,
			 struct media_session **msp);

/** Local RTP port of a side (RTCP is this + 1). */
uint16_t media_session_port(const struct media_session *ms, enum media_side side);

#define MEDIA_PT_NONE 0xff

enum media_codec {
	MEDIA_CODEC_NONE = 0,   /**< not given: the session relays */
	MEDIA_CODEC_PCMU,
	MEDIA_CODEC_PCMA,
	MEDIA_CODEC_OPUS,       /**< RFC 7587: 48 kHz RTP clock, coded at 8 kHz here */
};

/** Opus encoder settings toward one side (from its fmtp and the trunk's options). */
struct media_opus_params {
	uint8_t  complexity;       /**< 0..10 */
	bool     fec;              /**< send in-band FEC (the peer asked useinbandfec=1) */
	bool     dtx;              /**< use DTX (the peer asked usedtx=1) */
	uint32_t max_bitrate;      /**< the peer's maxaveragebitrate, 0 = the encoder's choice */
	uint32_t max_playback_rate;/**< the peer's maxplaybackrate, 0 = 48000 */
};

/** The codec a side negotiated (transcoding); codec NONE on either side = relay. */
struct media_codec_params {
	enum media_codec codec;
	uint8_t  pt;               /**< PT we send this side for the codec */
	uint8_t  pt_rx[2];         /**< PTs it may send us for it (MEDIA_PT_NONE = unused) */
	uint8_t  te_pt;            /**< telephone-event PT we send it, MEDIA_PT_NONE = none */
	uint8_t  te_pt_rx[2];      /**< telephone-event PTs it may send us */
	uint32_t te_rate;          /**< telephone-event clock (8000, 48000; 0 = the codec's) */
	uint16_t ptime;            /**< ms per packet we send it (10..60, 0 = 20) */
	struct media_opus_params opus;
};

/** SRTP suites (RFC 4568); SRTCP always has the 80-bit tag. */
enum media_srtp_suite {
	MEDIA_SRTP_NONE = 0,                  /**< plain RTP */
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
};

#define MEDIA_SRTP_KEY_LEN 30   /**< master key (16) || master salt (14) */

/** SDES-SRTP of one side. */
struct media_srtp_params {
	enum media_srtp_suite suite;     /**< NONE: plain RTP */
	bool    pending;                 /**< SRTP may be used but the keys are not known
					      yet (an offer awaits its answer): what the side
					      sends is dropped, nothing is sent to it */
	uint8_t rx_key[MEDIA_SRTP_KEY_LEN]; /**< the side's key: it protects what it sends */
	uint8_t tx_key[MEDIA_SRTP_KEY_LEN]; /**< trunx's key toward it */
};

/** How one side carries digits. A relayed session converts between the two sides'
 *  modes; the same mode on both sides (RFC 4733) is a plain relay with the events
 *  logged. In-band needs G.711 or Opus on the side (audio_pt). */
struct media_dtmf_params {
	bool     enabled;        /**< false (zeroed parameters): digits are relayed
				      untouched and not reported */
	enum media_dtmf_mode mode;
	uint8_t  te_pt;          /**< telephone-event PT we send the side,
				      MEDIA_PT_NONE = none negotiated */
	uint8_t  te_pt_rx;       /**< ...and the one it sends us (MEDIA_PT_NONE = te_pt) */
	uint32_t te_rate;        /**< its clock (8000, 48000; 0 = 8000) */
	uint8_t  audio_pt;       /**< the side's audio PT we send it: G.711 (0 PCMU, 8 PCMA,
				      or dynamic) or Opus (opus set); MEDIA_PT_NONE = none
				      in-band digits can be carried in */
	uint8_t  audio_pt_rx;    /**< ...and the one it sends us (MEDIA_PT_NONE = audio_pt) */
	bool     alaw;           /**< audio_pt is PCMA */
	bool     opus;           /**< audio_pt is Opus (RFC 7587): in-band digits are found
				      in its decoded audio and generated tones encoded */
	uint16_t ptime;          /**< ms per audio packet (0 = 20) */
};

#define MEDIA_SIG_ADDRS 4   /**< signalling addresses remembered per side */

/** What one side's remote party negotiated. */
struct media_side_params {
	struct sockaddr_storage rtp;     /**< remote RTP address from SDP; port 0 = not known */
	/** IPs the party's signalling came from (ports ignored; family 0 = unused): with
	 *  MEDIA_LATCH_KNOWN, a NATed party whose SDP names a private address may still
	 *  latch from one of these. */
	struct sockaddr_storage sig[MEDIA_SIG_ADDRS];
	/** Which sources may latch this side: the engine's cfg.latch unless the side
	 *  names its own (one trunk's NATed parties may need ANY while the other side
	 *  keeps KNOWN). */
	enum media_side_latch   latch;
	struct sockaddr_storage rtcp;    /**< remote RTCP address; port 0 = rtp port + 1 */
	enum media_dir          dir;     /**< direction the remote declared */
	bool                    rtcp_mux;/**< RTCP shares the RTP ports (RFC 5761) */
	/** pt_map[x] = PT to use toward the OTHER side for a packet arriving here with
	 *  PT x, or MEDIA_PT_NONE to drop it. */
	uint8_t                 pt_map[128];
	/** Used only when both sides give a codec and the codecs differ. */
	struct media_codec_params codec;
	/** SRTP on this side (independent of the other side: RTP <-> SRTP bridges). A
	 *  kept key keeps its context (rollover counter), a new key starts a fresh one. */
	struct media_srtp_params srtp;
	/** Digits on this side (media/dtmf: interworking between the two sides' modes). */
	struct media_dtmf_params dtmf;
};

struct media_session_params {
	struct media_side_params side[2];  /**< indexed by enum media_side */
};

/**
 * The session's counters as its worker last published them (about once a second);
 * the owner thread may call this at any time (no lock; a consistent snapshot).
 * @return 0, EINVAL, or EAGAIN before the first publication
 */
int media_session_stats(const struct media_session *ms, struct media_side_stats st[2]);

/** Quality of one side's audio, from its counters (E-model, G.107 simplified). */
struct media_quality {
	double loss_pct;      /**< received from the side: lost / expected, % */
	double jitter_ms;     /**< received from the side */
	double remote_loss_pct; /**< what the side reported about our stream (-1 = none) */
	int    rtt_ms;        /**< -1 = unknown */
	double r;             /**< R-factor 0..100 */
	double mos;           /**< 1..4.5 */
};

/** Computes the quality of a side that uses codec c (relay: the side's codec too). */
void media_quality_of(const struct media_side_stats *st, enum media_codec c,
		      struct media_quality *q);

/**
 * Sends new parameters to the session's worker (asynchronous). Parameters replace
 * those of an update the worker has not applied yet, so a burst of updates never
 * fails: the newest state is the one applied. A changed remote address allows a new
 * latch on that side.
 * @return 0, EINVAL (bad parameters)
 */
int media_session_update(struct media_session *ms, const struct media_session_params *p);

/**
 * Sends a digit toward a side (SIP INFO received on the other leg, or an operator's
 * request): RFC 4733 events or generated tones, as that side's mode says, replacing
 * its audio while the digit lasts. Asynchronous; digits queued for a side are sent in
 * order (up to MEDIA_DTMF_QUEUE waiting).
 * @param duration_ms  0 = 100 ms; at most 10 s (longer is cut)
 * @return 0, EINVAL (bad side or digit), ENOSPC (queue full)
 */
int media_session_send_digit(struct media_session *ms, enum media_side to, char digit,
			     unsigned duration_ms);

#define MEDIA_DTMF_QUEUE 32

/**
 * Closes the session: the worker closes its sockets, returns its ports and emits
 * MEDIA_EV_CLOSED with the final stats. The handle is invalid after this call.
 */
void media_session_destroy(struct media_session *ms);

#endif
