/*
 * telev.h — RFC 4733 telephone-events (DTMF digits 0-9 * # A-D, event codes 0-15) at
 * the packet level: the 4-byte payload, a receiver that turns a stream of event
 * packets into digits, a generator that turns digits into a stream of event packets,
 * and the rescaling of timestamps and durations between RTP clocks.
 *
 * Pure code: no sockets, no clock of its own (the caller passes the time), no
 * allocation. The media worker keeps one receiver per side and one generator per
 * outgoing stream inside the session, and the tests drive them packet by packet.
 *
 * DESIGN
 * Receiving (RFC 4733 2.5.2): an event is identified by (timestamp, event code), never
 * by the marker bit, which may be lost or repeated. The first packet of a new pair
 * begins a digit; later packets with the same pair update its duration; the first
 * packet with the E bit ends it and the retransmitted end packets are recognised as
 * duplicates (the last few ended pairs are remembered). A long press arrives as
 * segments (2.5.1.3): a packet of the same event whose timestamp is the previous
 * segment's timestamp plus that segment's duration continues the digit. A digit
 * whose end packets were all lost is ended by telev_rx_tick() once no packet came
 * for the timeout; a new event while one is active ends the active one first.
 *
 * Generating (2.5.1): every packet of an event carries the event's timestamp (the
 * time it began), the first one the marker bit; the duration grows by one packet
 * time per packet; the end is sent three times (the caller gives each packet its own
 * sequence number). When the duration would pass 0xFFFF the segment is closed with
 * a packet of duration 0xFFFF and a new segment begins at timestamp + 0xFFFF without
 * the marker bit. telev_tx_end() ends a digit at once (the call ends mid-digit).
 */
#ifndef TRUNX_TELEV_H
#define TRUNX_TELEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TELEV_PAYLOAD_LEN 4      /**< bytes of one event block */
#define TELEV_EVENT_MAX   15     /**< highest DTMF event code (D) */
#define TELEV_SEG_MAX     0xffffu/**< largest duration of one segment */
#define TELEV_END_COUNT   3      /**< end packets sent per event */
#define TELEV_HISTORY     4      /**< ended (timestamp, event) pairs remembered */
#define TELEV_NOTES_MAX   3      /**< notes one packet can give */
#define TELEV_TIMEOUT_US  400000u/**< default silence that ends a digit (lost end) */

/** One RFC 4733 event block. */
struct telev_payload {
	uint8_t  event;     /**< event code, 0..255 (DTMF: 0..15) */
	bool     end;       /**< E bit */
	uint8_t  volume;    /**< 0..63, -dBm0 */
	uint16_t duration;  /**< in units of the event's RTP clock */
};

/**
 * Reads the first event block of a payload (further blocks, as some senders repeat,
 * are ignored).
 * @return 0, EINVAL (NULL argument) or EBADMSG (shorter than 4 bytes)
 */
int telev_parse(struct telev_payload *p, const uint8_t *buf, size_t len);

/** Writes one event block into buf[0..4). */
void telev_write(uint8_t *buf, const struct telev_payload *p);

/** v clock units of from_hz in to_hz units (rounded down; from_hz 0 = unchanged). */
uint64_t telev_rescale(uint64_t v, uint32_t from_hz, uint32_t to_hz);

/**
 * Rescales an event payload's durations in place (every block), saturating at
 * 0xFFFF. For a relay between sides whose telephone-event clocks differ.
 */
void telev_rescale_payload(uint8_t *buf, size_t len, uint32_t from_hz, uint32_t to_hz);

/* ---- relaying between event clocks ---- */

/**
 * Moves the events of one stream onto another stream whose telephone-event clock
 * differs (telephone-event/48000 on an Opus leg, /8000 on a G.711 leg): durations
 * and timestamps together. An event keeps one output timestamp per segment; its
 * first segment starts where the caller places it (its position on the outgoing
 * stream), and later segments of a long press start at the output segment
 * boundaries, so the receiver sees a continuation in its own clock. A slower
 * output clock merges input segments (a 48 kHz segment of 0xFFFF is 10,922 at
 * 8 kHz); a faster one splits them (an 8 kHz segment of 0xFFFF becomes six at
 * 48 kHz), each packet carrying the segment its total duration falls in.
 */
struct telev_map {
	uint32_t from_hz, to_hz;
	bool     active;
	uint8_t  event;
	uint32_t in_ts;        /**< current input segment's timestamp */
	uint16_t in_dur;       /**< longest duration seen in it */
	uint64_t in_base;      /**< duration of the closed input segments */
	uint32_t out_ts0;      /**< output timestamp of the event's first segment */
	bool     began;        /**< the last packet began a new event (marker) */
};

/** Prepares a map between two clocks (0 = 8000). */
void telev_map_init(struct telev_map *m, uint32_t from_hz, uint32_t to_hz);

/**
 * Rewrites one event payload's duration (first block; others get the same value) for
 * the output clock and gives the packet's output timestamp.
 * @param ts        the packet's timestamp (input clock, any fixed offset)
 * @param out_base  where a new event starts on the output stream
 * @return 0 with *out_ts set, or EBADMSG (shorter than 4 bytes: leave it alone)
 */
int telev_map_packet(struct telev_map *m, uint32_t ts, uint8_t *pl, size_t len,
		     uint32_t out_base, uint32_t *out_ts);

/* ---- receiver ---- */

enum telev_note_type {
	TELEV_BEGIN = 1,   /**< a digit started */
	TELEV_END,         /**< a digit ended (end packet, timeout, or a new event) */
};

/** A digit's begin or end. */
struct telev_note {
	enum telev_note_type type;
	uint8_t  event;        /**< event code */
	char     digit;        /**< '0'-'9' '*' '#' 'A'-'D', or 0 for a non-DTMF event */
	uint32_t ts;           /**< the event's first timestamp (first segment) */
	uint64_t duration;     /**< END: total duration in clock units (all segments) */
	uint32_t duration_ms;  /**< END: the same in ms */
	bool     timed_out;    /**< END: no end packet came (lost) */
};

struct telev_rx {
	uint32_t clock_hz;     /**< clock of the event timestamps (8000, 48000) */
	uint32_t timeout_us;   /**< silence that ends an active digit */
	bool     active;
	uint8_t  event;
	uint32_t ts0;          /**< first segment's timestamp */
	uint32_t seg_ts;       /**< current segment's timestamp */
	uint16_t seg_dur;      /**< longest duration seen in the current segment */
	uint64_t base;         /**< duration of the closed segments */
	uint64_t last_us;      /**< last packet of the active digit */
	struct { uint32_t ts; uint8_t event; bool used; } done[TELEV_HISTORY];
	unsigned done_next;
	uint64_t dups;         /**< packets recognised as duplicates */
};

/** Resets a receiver for a clock (timeout_us 0 = TELEV_TIMEOUT_US). */
void telev_rx_init(struct telev_rx *rx, uint32_t clock_hz, uint32_t timeout_us);

/**
 * Takes one event packet (its RTP timestamp and payload).
 * @param notes  receives up to TELEV_NOTES_MAX notes: an implicit end of the active
 *               digit, then a begin, then an end (a digit whose only packet seen is
 *               an end packet)
 * @return the number of notes written, or -EBADMSG for a malformed payload
 */
int telev_rx_packet(struct telev_rx *rx, uint32_t ts, const uint8_t *pl, size_t len,
		    uint64_t now_us, struct telev_note notes[TELEV_NOTES_MAX]);

/**
 * Ends the active digit if no packet came for the timeout (or when force is set: the
 * stream ends).
 * @return 1 with note filled, or 0
 */
int telev_rx_tick(struct telev_rx *rx, uint64_t now_us, bool force, struct telev_note *note);

/* ---- generator ---- */

struct telev_tx {
	uint32_t clock_hz;
	uint16_t step;         /**< duration added per packet (clock units per packet time) */
	bool     active;
	uint8_t  event;
	uint8_t  volume;
	bool     first;        /**< next packet is the event's first (marker) */
	uint32_t seg_ts;       /**< timestamp of the current segment */
	uint64_t base;         /**< duration of the closed segments */
	uint64_t elapsed;      /**< duration sent so far, all segments */
	uint64_t total;        /**< requested duration, 0 = until telev_tx_end() */
	unsigned ends_left;    /**< end packets still to send (ending when > 0) */
};

/** One packet to send: the caller adds the RTP header (its own SSRC and next seq). */
struct telev_pkt {
	uint32_t ts;
	bool     marker;
	uint8_t  payload[TELEV_PAYLOAD_LEN];
	bool     end;          /**< an end packet */
	bool     last;         /**< the last packet of the event (the third end) */
};

/**
 * Prepares a generator for a clock and packet time (ptime_ms 0 = 20).
 * @return 0 or EINVAL
 */
int telev_tx_init(struct telev_tx *tx, uint32_t clock_hz, unsigned ptime_ms);

/**
 * Starts an event at RTP timestamp ts, replacing one in progress (which is dropped:
 * end it first with telev_tx_end() and drain it to send its end packets).
 * @param total  duration in clock units, 0 = open until telev_tx_end()
 * @return 0, or EINVAL for an event code over 255 or volume over 63
 */
int telev_tx_start(struct telev_tx *tx, unsigned event, uint8_t volume, uint32_t ts,
		   uint64_t total);

/** Ends the event now: the next packets are its three end packets. */
void telev_tx_end(struct telev_tx *tx);

/** True while packets remain to be sent. */
static inline bool telev_tx_busy(const struct telev_tx *tx)
{
	return tx->active;
}

/**
 * The next packet of the event, one per packet time.
 * @return 1 with p filled, 0 when idle
 */
int telev_tx_next(struct telev_tx *tx, struct telev_pkt *p);

#endif
