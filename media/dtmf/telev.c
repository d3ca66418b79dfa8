/*
 * telev.c — RFC 4733 telephone-event payloads: parse and write, clock rescaling, the
 * receiver (digits from event packets, de-duplicated on (timestamp, event), ended by
 * timeout when the end packets are lost) and the generator (marker, growing
 * duration, three end packets, segments past 0xFFFF). See telev.h for the design.
 */
#include "telev.h"

#include <errno.h>
#include <string.h>

#include "dtmf.h"

int telev_parse(struct telev_payload *p, const uint8_t *buf, size_t len)
{
	if (!p || (!buf && len))
		return EINVAL;
	if (len < TELEV_PAYLOAD_LEN)
		return EBADMSG;
	p->event = buf[0];
	p->end = (buf[1] & 0x80) != 0;
	p->volume = buf[1] & 0x3f;
	p->duration = (uint16_t)(buf[2] << 8 | buf[3]);
	return 0;
}

void telev_write(uint8_t *buf, const struct telev_payload *p)
{
	buf[0] = p->event;
	buf[1] = (uint8_t)((p->end ? 0x80 : 0) | (p->volume & 0x3f));
	buf[2] = (uint8_t)(p->duration >> 8);
	buf[3] = (uint8_t)p->duration;
}

uint64_t telev_rescale(uint64_t v, uint32_t from_hz, uint32_t to_hz)
{
	if (!from_hz || !to_hz || from_hz == to_hz)
		return v;
	return v * to_hz / from_hz;
}

void telev_rescale_payload(uint8_t *buf, size_t len, uint32_t from_hz, uint32_t to_hz)
{
	for (size_t off = 0; off + TELEV_PAYLOAD_LEN <= len; off += TELEV_PAYLOAD_LEN) {
		uint8_t *e = buf + off;
		uint64_t d = telev_rescale((uint64_t)(e[2] << 8 | e[3]), from_hz, to_hz);

		if (d > TELEV_SEG_MAX)
			d = TELEV_SEG_MAX;
		e[2] = (uint8_t)(d >> 8);
		e[3] = (uint8_t)d;
	}
}

/* ---- relaying between event clocks ---- */

void telev_map_init(struct telev_map *m, uint32_t from_hz, uint32_t to_hz)
{
	memset(m, 0, sizeof(*m));
	m->from_hz = from_hz ? from_hz : 8000;
	m->to_hz = to_hz ? to_hz : 8000;
}

int telev_map_packet(struct telev_map *m, uint32_t ts, uint8_t *pl, size_t len,
		     uint32_t out_base, uint32_t *out_ts)
{
	struct telev_payload p;
	uint64_t total;
	uint32_t k, delta = ts - m->in_ts;

	if (telev_parse(&p, pl, len))
		return EBADMSG;
	m->began = false;
	if (m->active && p.event == m->event && ts == m->in_ts) {
		/* the current segment (a later or repeated packet) */
	} else if (m->active && p.event == m->event && delta > 0 && delta <= TELEV_SEG_MAX &&
		   delta >= m->in_dur && m->in_dur > TELEV_SEG_MAX / 2) {
		m->in_base += delta;   /* the next segment of a long press */
		m->in_ts = ts;
		m->in_dur = 0;
	} else {
		m->active = true;
		m->event = p.event;
		m->in_ts = ts;
		m->in_dur = 0;
		m->in_base = 0;
		m->out_ts0 = out_base;
		m->began = true;
	}
	if (p.duration > m->in_dur)
		m->in_dur = p.duration;
	total = telev_rescale(m->in_base + p.duration, m->from_hz, m->to_hz);
	k = total ? (uint32_t)((total - 1) / TELEV_SEG_MAX) : 0;
	p.duration = (uint16_t)(total - (uint64_t)k * TELEV_SEG_MAX);
	for (size_t off = 0; off + TELEV_PAYLOAD_LEN <= len; off += TELEV_PAYLOAD_LEN) {
		pl[off + 2] = (uint8_t)(p.duration >> 8);
		pl[off + 3] = (uint8_t)p.duration;
	}
	*out_ts = m->out_ts0 + k * TELEV_SEG_MAX;
	return 0;
}

/* ---- receiver ---- */

void telev_rx_init(struct telev_rx *rx, uint32_t clock_hz, uint32_t timeout_us)
{
	memset(rx, 0, sizeof(*rx));
	rx->clock_hz = clock_hz ? clock_hz : 8000;
	rx->timeout_us = timeout_us ? timeout_us : TELEV_TIMEOUT_US;
}

static bool rx_seen(const struct telev_rx *rx, uint32_t ts, uint8_t event)
{
	for (unsigned i = 0; i < TELEV_HISTORY; i++)
		if (rx->done[i].used && rx->done[i].ts == ts && rx->done[i].event == event)
			return true;
	return false;
}

/* Closes the active digit with total duration dur; fills n. */
static void rx_finish(struct telev_rx *rx, uint64_t dur, bool timed_out, struct telev_note *n)
{
	n->type = TELEV_END;
	n->event = rx->event;
	n->digit = dtmf_event_digit(rx->event);
	n->ts = rx->ts0;
	n->duration = dur;
	n->duration_ms = (uint32_t)(dur * 1000u / rx->clock_hz);
	n->timed_out = timed_out;
	rx->done[rx->done_next].ts = rx->seg_ts;
	rx->done[rx->done_next].event = rx->event;
	rx->done[rx->done_next].used = true;
	rx->done_next = (rx->done_next + 1) % TELEV_HISTORY;
	rx->active = false;
}

/* A packet of the active event that opens the next segment of a long press. */
static bool rx_next_segment(const struct telev_rx *rx, uint32_t ts, uint8_t event)
{
	uint32_t delta = ts - rx->seg_ts;

	return event == rx->event && delta > 0 && delta <= TELEV_SEG_MAX &&
	       delta >= rx->seg_dur && rx->seg_dur > TELEV_SEG_MAX / 2;
}

int telev_rx_packet(struct telev_rx *rx, uint32_t ts, const uint8_t *pl, size_t len,
		    uint64_t now_us, struct telev_note notes[TELEV_NOTES_MAX])
{
	struct telev_payload p;
	int n = 0;

	if (telev_parse(&p, pl, len))
		return -EBADMSG;
	if (rx->active) {
		if (p.event == rx->event && ts == rx->seg_ts) {
			if (p.duration > rx->seg_dur)
				rx->seg_dur = p.duration;
			rx->last_us = now_us;
			if (p.end)
				rx_finish(rx, rx->base + p.duration, false, &notes[n++]);
			return n;
		}
		if (rx_next_segment(rx, ts, p.event)) {
			rx->base += ts - rx->seg_ts;
			rx->seg_ts = ts;
			rx->seg_dur = p.duration;
			rx->last_us = now_us;
			if (p.end)
				rx_finish(rx, rx->base + p.duration, false, &notes[n++]);
			return n;
		}
		if (rx_seen(rx, ts, p.event)) {
			rx->dups++;
			return 0;
		}
		/* Another event: the active one lost its end packets. */
		rx_finish(rx, rx->base + rx->seg_dur, true, &notes[n++]);
	}
	if (rx_seen(rx, ts, p.event)) {
		rx->dups++;
		return n;
	}
	rx->active = true;
	rx->event = p.event;
	rx->ts0 = rx->seg_ts = ts;
	rx->seg_dur = p.duration;
	rx->base = 0;
	rx->last_us = now_us;
	memset(&notes[n], 0, sizeof(notes[n]));
	notes[n].type = TELEV_BEGIN;
	notes[n].event = p.event;
	notes[n].digit = dtmf_event_digit(p.event);
	notes[n].ts = ts;
	n++;
	if (p.end)
		rx_finish(rx, p.duration, false, &notes[n++]);
	return n;
}

int telev_rx_tick(struct telev_rx *rx, uint64_t now_us, bool force, struct telev_note *note)
{
	/* a packet stamped after the caller's `now` (a clock read earlier, or rounded
	 * down to the millisecond) is recent, not 2^64 us old */
	if (!rx->active ||
	    (!force && (now_us < rx->last_us || now_us - rx->last_us < rx->timeout_us)))
		return 0;
	rx_finish(rx, rx->base + rx->seg_dur, true, note);
	return 1;
}

/* ---- generator ---- */

int telev_tx_init(struct telev_tx *tx, uint32_t clock_hz, unsigned ptime_ms)
{
	uint64_t step;

	if (!tx || !clock_hz || ptime_ms > 200)
		return EINVAL;
	memset(tx, 0, sizeof(*tx));
	step = (uint64_t)clock_hz * (ptime_ms ? ptime_ms : 20) / 1000u;
	if (!step || step > TELEV_SEG_MAX / 2)
		return EINVAL;
	tx->clock_hz = clock_hz;
	tx->step = (uint16_t)step;
	return 0;
}

int telev_tx_start(struct telev_tx *tx, unsigned event, uint8_t volume, uint32_t ts,
		   uint64_t total)
{
	if (event > 255 || volume > 63)
		return EINVAL;
	tx->active = true;
	tx->event = (uint8_t)event;
	tx->volume = volume;
	tx->first = true;
	tx->seg_ts = ts;
	tx->base = 0;
	tx->elapsed = 0;
	tx->total = total;
	tx->ends_left = 0;
	return 0;
}

void telev_tx_end(struct telev_tx *tx)
{
	if (!tx->active || tx->ends_left)
		return;
	if (tx->first) {
		tx->active = false;   /* nothing was sent: nothing to end */
		return;
	}
	tx->total = tx->elapsed;
	tx->ends_left = TELEV_END_COUNT;
}

static void tx_fill(struct telev_tx *tx, struct telev_pkt *p, uint64_t dur, bool end)
{
	struct telev_payload pl = {
		.event = tx->event, .end = end, .volume = tx->volume,
		.duration = (uint16_t)(dur > TELEV_SEG_MAX ? TELEV_SEG_MAX : dur),
	};

	p->ts = tx->seg_ts;
	p->marker = tx->first;
	p->end = end;
	p->last = false;
	tx->first = false;
	telev_write(p->payload, &pl);
}

int telev_tx_next(struct telev_tx *tx, struct telev_pkt *p)
{
	uint64_t next;

	if (!tx->active)
		return 0;
	if (!tx->ends_left) {
		next = tx->elapsed + tx->step;
		if (tx->total && next >= tx->total) {
			tx->elapsed = tx->total;
			tx->ends_left = TELEV_END_COUNT;
		} else if (next - tx->base > TELEV_SEG_MAX) {
			/* Close this segment at 0xFFFF; the next one starts there. */
			tx->elapsed = tx->base + TELEV_SEG_MAX;
			tx_fill(tx, p, TELEV_SEG_MAX, false);
			tx->base = tx->elapsed;
			tx->seg_ts += TELEV_SEG_MAX;
			return 1;
		} else {
			tx->elapsed = next;
			tx_fill(tx, p, tx->elapsed - tx->base, false);
			return 1;
		}
	}
	tx_fill(tx, p, tx->elapsed - tx->base, true);
	if (--tx->ends_left == 0) {
		p->last = true;
		tx->active = false;
	}
	return 1;
}
