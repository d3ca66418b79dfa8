/*
 * jb.h — adaptive jitter buffer for one terminated RTP stream (transcoding,
 * playback, recording, analysis; never on a pure relay).
 *
 * DESIGN
 * Packets are stored by sequence number in a fixed ring (JB_SLOTS entries of up to
 * JB_PAYLOAD_MAX bytes), copied in: nothing is allocated after jb_init(). The reader
 * pulls one packet's worth of audio at a time, on its own clock (the transcoder's
 * 20 ms tick), and gets one of:
 *   JB_PACKET  the next packet in sequence: decode it;
 *   JB_LOST    the next packet is missing but later ones are here: conceal its
 *              duration (a following packet is offered for FEC recovery);
 *   JB_EMPTY   nothing to play: the sender is late, in DTX, or a burst was lost.
 *              The reader stretches (concealment, then silence) and the play cursor
 *              stays. When packets come back, the sequence gap (if any) is counted
 *              as lost-and-already-concealed up to the frames stretched, so a burst
 *              loss is never concealed twice; a DTX gap (contiguous sequence numbers,
 *              a timestamp jump) counts as no loss at all;
 *   JB_NONE    nothing yet (before the first talk spurt has been buffered).
 * The delay adapts both ways without a fixed target: an underflow adds one frame
 * (the stretch above), and so does a packet arriving after its turn; when the buffer
 * never fell below a packet and JB_SPARE_MS during the last JB_WINDOW_MS (the depth
 * that jitter needed is exceeded, or the sender's clock runs fast), a packet is
 * discarded, and when it stayed deeper than that by more, half the excess is (a
 * backlog: a reader that stalled while packets kept coming drains in a few windows,
 * not a frame a second). After a gap longer than JB_REBUFFER_FRAMES
 * the next talk spurt is buffered again up to a jitter-based target before it plays.
 * A packet outside the window (more than JB_SLOTS before or after the cursor) is
 * believed only once the next arrival is its successor (RFC 3550 A.1's probation): then
 * a jump beyond JB_JUMP, or back past the window (a sender restarting its numbering),
 * resets the buffer, and a shorter jump ahead (a burst loss) moves the cursor. Until
 * then it is dropped as stray, so one corrupted or forged packet cannot carry the
 * cursor away from the stream and leave every later packet "late". Times are passed in by the caller (microseconds, any origin), so the
 * buffer is deterministic under test and fuzzing.
 */
#ifndef TRUNX_JB_H
#define TRUNX_JB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_SLOTS           32     /**< packets held (power of two) */
#define JB_PAYLOAD_MAX     1280   /**< longest payload stored */
#define JB_JUMP            1000   /**< sequence distance treated as a restart */
#define JB_SPARE_MS        20     /**< depth kept in reserve by the discard rule */
#define JB_WINDOW_MS       1000   /**< window of the discard rule */
#define JB_REBUFFER_FRAMES 5      /**< empty pulls after which the next spurt re-buffers */

enum jb_put_result {
	JB_PUT_OK = 0,
	JB_PUT_LATE,      /**< its turn has passed: dropped */
	JB_PUT_DUP,       /**< already held: dropped */
	JB_PUT_BAD,       /**< empty, too long or without a duration: dropped */
	JB_PUT_RESET,     /**< a sequence restart: the buffer was emptied, then it was stored */
	JB_PUT_STRAY,     /**< outside the window, not (yet) followed by its successor: dropped */
};

enum jb_kind {
	JB_NONE = 0,
	JB_PACKET,
	JB_LOST,
	JB_EMPTY,
};

/** What jb_get() hands out; pointers stay valid until the next jb_put/jb_get. */
struct jb_out {
	enum jb_kind   kind;
	const uint8_t *data;      /**< JB_PACKET: payload */
	size_t         len;
	uint32_t       ts;        /**< JB_PACKET: its timestamp */
	uint32_t       dur;       /**< PACKET: its duration; LOST/EMPTY: the duration to
				       conceal (the last packet's), timestamp units */
	const uint8_t *fec;       /**< JB_LOST: the next packet if held (FEC source), or NULL */
	size_t         fec_len;
};

struct jb_counters {
	uint64_t put;          /**< packets stored */
	uint64_t played;       /**< JB_PACKET results */
	uint64_t lost;         /**< sequence numbers never played (concealed) */
	uint64_t late;         /**< arrived after their turn */
	uint64_t dup;
	uint64_t bad;
	uint64_t discarded;    /**< dropped to shrink the delay (and on overflow) */
	uint64_t expanded;     /**< JB_EMPTY results that no loss explains (DTX, late) */
	uint64_t resets;       /**< sequence restarts */
	uint64_t stray;        /**< outside the window and not confirmed: dropped */
};

struct jb_slot {
	bool     used;
	uint16_t seq;
	uint16_t len;
	uint32_t ts;
	uint32_t dur;
	uint64_t arrival_us;
	uint8_t  data[JB_PAYLOAD_MAX];
};

struct jb {
	uint32_t       clock_hz;      /**< RTP clock of the stream */
	uint32_t       max_ms;        /**< upper bound of the buffering target */
	bool           started;       /**< a packet was stored since init/reset */
	bool           playing;       /**< play cursor valid (else buffering) */
	uint16_t       next_seq;      /**< next sequence number to play */
	uint16_t       high_seq;      /**< highest sequence number held or played */
	bool           have_stray;    /**< the last arrival was outside the window */
	uint16_t       stray_seq;     /**< its sequence number */
	uint32_t       high_end_ts;   /**< end timestamp of that packet */
	uint32_t       play_ts;       /**< timestamp of the next audio to play */
	uint32_t       last_dur;      /**< duration of the last packet, for concealment */
	unsigned       held;          /**< packets in the ring */
	uint32_t       held_dur;      /**< their durations, timestamp units (the depth) */
	uint32_t       delay_avg_ms;  /**< buffering delay, smoothed over played packets */
	unsigned       empty_run;     /**< consecutive JB_EMPTY results */
	unsigned       stretched;     /**< frames stretched since the last packet played */
	unsigned       grow;          /**< frames to stretch because packets came late */
	/* discard rule: minimum depth over the current window */
	uint64_t       win_start_us;
	uint32_t       win_min_depth; /**< timestamp units */
	bool           win_valid;
	unsigned       discard_left;  /**< packets the rule still takes out (a backlog) */
	/* jitter estimate (RFC 3550 A.8) used for the buffering target */
	bool           have_transit;
	int64_t        transit;       /**< arrival - ts, microseconds */
	uint32_t       jitter_us;
	struct jb_counters c;
	struct jb_slot slot[JB_SLOTS];
};

/**
 * Initialises an empty buffer.
 * @param clock_hz  the stream's RTP clock (8000 for G.711, 48000 for Opus)
 * @param max_ms    longest buffering target (e.g. 200)
 */
void jb_init(struct jb *jb, uint32_t clock_hz, uint32_t max_ms);

/** Empties the buffer (a new source); counters are kept. */
void jb_reset(struct jb *jb);

/**
 * Stores a packet (copied).
 * @param dur  its duration in timestamp units (from the codec); 0 = unknown (bad)
 */
enum jb_put_result jb_put(struct jb *jb, uint16_t seq, uint32_t ts, const uint8_t *data,
			  size_t len, uint32_t dur, uint64_t arrival_us);

/**
 * Marks a sequence number as used by something other than audio (telephone-event
 * packets share the stream's numbering): it is skipped, not counted lost.
 */
enum jb_put_result jb_put_skip(struct jb *jb, uint16_t seq, uint32_t ts, uint64_t arrival_us);

/** Takes the next packet's worth of audio (see the kinds above). */
void jb_get(struct jb *jb, uint64_t now_us, struct jb_out *out);

/** Audio held ahead of the play cursor, ms (0 when not playing). */
uint32_t jb_depth_ms(const struct jb *jb);

/** The buffering delay it adds, smoothed (1/16 per packet played), ms. */
uint32_t jb_delay_ms(const struct jb *jb);

/** Current interarrival jitter estimate, microseconds. */
uint32_t jb_jitter_us(const struct jb *jb);

#endif
