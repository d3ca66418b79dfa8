/*
 * mdtmf.h — DTMF interworking inside a media session (private to media/): the hooks
 * the relay calls per packet, and the state they keep. The packet formats and the
 * in-band detector live in telev.h and inband.h; this file joins them to the
 * session's two sides.
 *
 * DESIGN
 * Each side has a mode (media_dtmf_params: RFC 4733, in-band, SIP INFO). What a side
 * sends is read on arrival (mdtmf_in): telephone-event packets go through the RFC 4733
 * receiver, G.711 audio of an in-band side through the in-band detector, which mutes
 * tone frames in place when the other side does not take in-band (so the far side
 * never hears the leading tone). Every digit that ends is reported to the owner as
 * MEDIA_EV_DTMF. Digits bound for a side that does not take them as they came are
 * generated on the stream toward it (mdtmf_out, after the relay's rewrite): RFC 4733
 * packets that take the place of the audio packets while the digit lasts, or tones
 * written into its G.711 audio; either way the stream keeps its SSRC, sequence and
 * timestamps, since each generated packet is a relayed packet transformed in place.
 * The relayed stream is the clock: one generated packet per audio packet; when no
 * packet flows toward a side that has digits coming (the other side silent, DTX, on
 * hold), the session goes on the worker's clock and mdtmf_clock() sends them in
 * packets of their own, continuing the stream's sequence and timeline. Events
 * relayed between sides whose event clocks differ get their durations and
 * timestamps moved to the receiving side's clock together (telev_map). Digits
 * from signalling (SIP INFO, the API) wait in a per-session queue and go out in order
 * with a pause between them. Nothing is allocated per packet; the in-band detector
 * and the tone generators are created when an update asks for them.
 *
 * In-band on an Opus side. The detector runs at 8 kHz on decoded audio. On a
 * transcoded session the transcoder already decodes at 8 kHz: its tap (xcode.h) hands
 * each output frame to mdtmf before it is encoded, where tones from an in-band Opus
 * side are detected and zeroed, and tones toward an in-band Opus side are written.
 * On a relay (Opus on both sides) the session stays a relay: what an in-band Opus side
 * sends is also decoded at 8 kHz for the detector (decoding only; the packets still
 * cross untouched), and only the packets that carry a tone are replaced, by Opus
 * frames of the same duration encoded here (silence, or toward an in-band Opus side
 * the generated tone), with the relayed packet's sequence number and timestamp. So
 * media is terminated only for the packets a digit needs, the relayed audio keeps its
 * full band, and the far side's decoder sees one stream with a change of encoder.
 */
#ifndef TRUNX_MDTMF_H
#define TRUNX_MDTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media.h"
#include "rtp.h"
#include "telev.h"

struct media_session;
struct inband;
struct dtmf_gen;
struct codec_dec;
struct codec_enc;

/** Digits posted by the owner thread, waiting for the worker (ctl lock). */
struct mdtmf_queue {
	unsigned n;
	struct {
		uint8_t  to;            /**< enum media_side */
		char     digit;
		uint16_t duration_ms;
	} d[MEDIA_DTMF_QUEUE];
};

/** Generation toward one side. */
struct mdtmf_dir {
	struct telev_tx  tx;         /**< RFC 4733 toward the side */
	bool             tx_pending; /**< an event waits for the next packet (its ts) */
	uint8_t          tx_event;
	uint64_t         tx_total;   /**< 0 = open (an in-band digit still sounding) */
	struct dtmf_gen *gen;        /**< tones toward an in-band side */
	bool             gen_on;     /**< a generated tone is running */
	bool             gen_open;   /**< ...for an RFC 4733 digit whose end has not come */
	char             pend_digit; /**< RFC 4733 digit that began while the previous
				          tone was still playing: it follows after a pause */
	uint32_t         pend_samples; /**< its length, 0 = its end not known yet */
	unsigned         gap;        /**< packets to wait before the next queued digit */
	struct mdtmf_queue q;        /**< digits from signalling, in order; also RFC 4733
				          digits toward an in-band side that came while
				          another waited (duration 0 until their end) */
	unsigned         q_head;
	struct telev_map map;        /**< relayed events from the other side's clock */
	bool             filled;     /**< the last mdtmf_out() wrote an event or a tone */
	bool             own;        /**< the last packet toward the side was our own */
	uint64_t         own_ms;     /**< ...sent then (the stream's last_ms) */
	uint64_t         own_due_us; /**< when the next one of our own is due */
	struct codec_enc *enc;       /**< Opus frames of our own toward an Opus side on a
				          relay: tones, or a muted tone from the other side */
	bool             tapped;     /**< the transcoder's tap wrote a tone into the frame
				          being sent */
};

struct mdtmf_side {
	struct media_dtmf_params p;
	bool             known;      /**< the update gave this side's DTMF parameters */
	struct telev_rx  rx;
	struct inband   *ib;         /**< detector on an in-band side (G.711 or Opus) */
	struct codec_dec *dec;       /**< decodes an in-band Opus side on a relay */
	uint32_t         mute_samples; /**< the Opus packet just read carried a tone: its
				           length (8 kHz), to go on as silence */
	uint64_t         ib_rx_us;   /**< the last audio packet this path's detector took
				          (not the transcoder's tap, which runs on its own
				          clock; 0: none since the last idle fill) */
};

/** What the transcoder's tap of one direction needs (xcode.h). */
struct mdtmf_tap {
	struct media_session *s;
	unsigned              from;
};

struct mdtmf {
	struct mdtmf_side side[2];
	struct mdtmf_dir  dir[2];    /**< indexed by the side generated toward */
	struct mdtmf_tap  tap[2];    /**< indexed by the side decoded */
};

enum mdtmf_verdict {
	MDTMF_PASS = 0,   /**< relay the packet (possibly changed in place) */
	MDTMF_CONSUME,    /**< taken here: count it, send nothing */
	MDTMF_EVENT,      /**< an event that crosses as one: it takes the other side's
			       event payload type (mdtmf_event_pt) */
};

/** The event payload type of side `to` (MEDIA_PT_NONE when it has none). */
uint8_t mdtmf_event_pt(const struct media_session *s, unsigned to);

/** Applies the sides' DTMF parameters (worker, at each update). @return 0 or ENOMEM */
int mdtmf_apply(struct media_session *s, const struct media_session_params *p);

/** Frees the state (worker, at close). */
void mdtmf_fini(struct media_session *s);

/** Queues digits taken from the owner (worker). */
void mdtmf_take(struct media_session *s, const struct mdtmf_queue *q);

/** A packet accepted from side (relay mode), before the PT map. */
enum mdtmf_verdict mdtmf_in(struct media_session *s, unsigned side, uint8_t *buf,
			    size_t len, const struct rtp_hdr *h, uint64_t now_us);

/**
 * A packet rewritten toward side `to` (relay mode): may become an RFC 4733 packet or
 * carry a generated tone. @return the packet's new length
 */
size_t mdtmf_out(struct media_session *s, unsigned to, uint8_t *buf, size_t len,
		 size_t cap);

/**
 * A telephone-event packet arriving on a transcoded session: reported, and turned
 * into tones when the other side takes in-band.
 * @return false when the other side does not take RFC 4733 (it gets the digit by
 *         INFO from the owner): the packet must not cross
 */
bool mdtmf_xc_event(struct media_session *s, unsigned side, uint32_t ts, const uint8_t *pl,
		    size_t len, uint64_t now_us);

/** True while digits wait or play toward a side: the worker keeps the session on its
 *  clock so that they go out when no audio flows toward that side. */
bool mdtmf_busy(const struct media_session *s);

/**
 * The session's clock (worker): toward a side with digits to send and no packet sent
 * to it for one and a half packet times (the other side silent, in DTX or on hold),
 * sends the RFC 4733 packets or G.711 tone frames on their own, one per packet time,
 * on the stream's SSRC with the next sequence numbers and timestamps advanced by the
 * time elapsed; the relay continues after them with a rebase. Lowers *next_due_us to
 * when it wants to run again.
 */
void mdtmf_clock(struct media_session *s, uint64_t now_us, uint64_t *next_due_us);

/** Ends digits whose end packets were lost (worker tick). */
void mdtmf_tick(struct media_session *s, uint64_t now_us);

/** The call ends: digits in progress end now (RFC 4733 end packets sent). Before the
 *  sockets close. */
void mdtmf_close(struct media_session *s);

/** Adds a digit to a queue (owner side, under the ctl lock). @return 0 or ENOSPC */
int mdtmf_queue_push(struct mdtmf_queue *q, unsigned to, char digit, unsigned duration_ms);

#endif
