/*
 * jb.c — the adaptive jitter buffer (see jb.h). Owns no memory beyond the caller's
 * struct; every operation is O(JB_SLOTS) at most.
 */
#include "jb.h"

#include <string.h>

#define JB_MASK        (JB_SLOTS - 1)
#define JB_TARGET_MIN  40   /**< ms buffered before a talk spurt plays, at least */

static int seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b);
}

static uint32_t ms_of(const struct jb *jb, uint32_t units)
{
	return (uint32_t)((uint64_t)units * 1000u / jb->clock_hz);
}

void jb_init(struct jb *jb, uint32_t clock_hz, uint32_t max_ms)
{
	memset(jb, 0, offsetof(struct jb, slot));
	for (unsigned i = 0; i < JB_SLOTS; i++)
		jb->slot[i].used = false;
	jb->clock_hz = clock_hz ? clock_hz : 8000;
	jb->max_ms = max_ms < JB_TARGET_MIN ? JB_TARGET_MIN : max_ms;
}

void jb_reset(struct jb *jb)
{
	struct jb_counters c = jb->c;
	uint32_t clock = jb->clock_hz, max = jb->max_ms, jit = jb->jitter_us;

	jb_init(jb, clock, max);
	jb->c = c;
	jb->jitter_us = jit;   /* the network did not change with the source */
	jb->have_transit = false;
}

static struct jb_slot *slot_of(struct jb *jb, uint16_t seq)
{
	struct jb_slot *s = &jb->slot[seq & JB_MASK];

	return s->used && s->seq == seq ? s : NULL;
}

static void slot_free(struct jb *jb, struct jb_slot *s)
{
	s->used = false;
	jb->held--;
	jb->held_dur -= s->dur;
}

/* The oldest held packet at or after next_seq, or NULL. */
static struct jb_slot *first_held(struct jb *jb)
{
	for (unsigned i = 0; jb->held && i < JB_SLOTS; i++) {
		struct jb_slot *s = slot_of(jb, (uint16_t)(jb->next_seq + i));

		if (s)
			return s;
	}
	return NULL;
}

/* Moves the cursor to seq, dropping what lies before it. */
static void skip_to(struct jb *jb, uint16_t seq)
{
	while (seq_diff(seq, jb->next_seq) > 0) {
		struct jb_slot *s = slot_of(jb, jb->next_seq);

		if (s) {
			slot_free(jb, s);
			jb->c.discarded++;
		} else if (jb->playing) {
			jb->c.lost++;
		}
		jb->next_seq++;
	}
}

static void jitter_update(struct jb *jb, uint32_t ts, uint64_t arrival_us)
{
	/* transit in microseconds; the timestamp is unwrapped against the last one */
	int64_t t = (int64_t)arrival_us - (int64_t)((uint64_t)ts * 1000000u / jb->clock_hz);

	if (jb->have_transit) {
		int64_t d = t - jb->transit;
		/* a timestamp wrap shows as a jump of 2^32 ticks: ignore that sample */
		int64_t wrap = (int64_t)((1ull << 32) * 1000000u / jb->clock_hz);

		if (d < 0)
			d = -d;
		/* a jump of a second or more is a new timeline (or a wrap), not jitter */
		if (d < 1000000 && d < wrap / 2)
			jb->jitter_us = (uint32_t)((int64_t)jb->jitter_us +
						   (d - (int64_t)jb->jitter_us) / 16);
	}
	jb->transit = t;
	jb->have_transit = true;
}

enum jb_put_result jb_put(struct jb *jb, uint16_t seq, uint32_t ts, const uint8_t *data,
			  size_t len, uint32_t dur, uint64_t arrival_us)
{
	enum jb_put_result r = JB_PUT_OK;
	struct jb_slot *s;
	int d;

	if (!data || len == 0 || len > JB_PAYLOAD_MAX || dur == 0 || dur > jb->clock_hz / 4) {
		jb->c.bad++;
		return JB_PUT_BAD;
	}
	if (jb->started) {
		d = seq_diff(seq, jb->next_seq);
		if (d >= JB_SLOTS || d < -JB_SLOTS) {
			int after = seq_diff(seq, jb->stray_seq);

			if (!jb->have_stray || after < 1 || after > 2) {
				jb->have_stray = true;
				jb->stray_seq = seq;
				jb->c.stray++;
				return JB_PUT_STRAY;
			}
			jb->have_stray = false;
			if (d > 0 && d <= JB_JUMP) {
				/* A burst loss: play on from the first packet after it. */
				skip_to(jb, jb->stray_seq);
				d = seq_diff(seq, jb->next_seq);
			}
		} else {
			jb->have_stray = false;
		}
		if (d > JB_JUMP || d < -JB_SLOTS) {
			jb_reset(jb);
			jb->c.resets++;
			r = JB_PUT_RESET;
		} else if (d < 0) {
			/* Before the cursor: late, unless still buffering and it fits. */
			if (jb->playing || seq_diff(jb->high_seq, seq) >= JB_SLOTS) {
				jb->c.late++;
				/* Too shallow for this network: grow by a frame. */
				if (jb->playing && jb->grow < 3)
					jb->grow++;
				return JB_PUT_LATE;
			}
			jb->next_seq = seq;
		}
	}
	jitter_update(jb, ts, arrival_us);
	if (!jb->started) {
		jb->started = true;
		jb->next_seq = seq;
		jb->high_seq = seq;
		jb->high_end_ts = ts + dur;
		jb->play_ts = ts;
	}
	s = &jb->slot[seq & JB_MASK];
	if (s->used) {
		jb->c.dup++;
		return JB_PUT_DUP;
	}
	s->used = true;
	s->seq = seq;
	s->ts = ts;
	s->dur = dur;
	s->len = (uint16_t)len;
	s->arrival_us = arrival_us;
	memcpy(s->data, data, len);
	jb->held++;
	jb->held_dur += dur;
	jb->c.put++;
	if (seq_diff(seq, jb->high_seq) >= 0) {
		jb->high_seq = seq;
		jb->high_end_ts = ts + dur;
	}
	return r;
}

enum jb_put_result jb_put_skip(struct jb *jb, uint16_t seq, uint32_t ts, uint64_t arrival_us)
{
	static const uint8_t none[1];
	enum jb_put_result r;
	struct jb_slot *s;

	int64_t transit = jb->transit;
	uint32_t jitter = jb->jitter_us;

	int d = seq_diff(seq, jb->next_seq);

	/* Only inside the window: a stray number must never move the cursor. */
	if (!jb->started || d < 0 || d >= JB_SLOTS)
		return JB_PUT_OK;
	r = jb_put(jb, seq, ts, none, 1, 1, arrival_us);
	jb->transit = transit;   /* an event's timestamp says nothing of the network */
	jb->jitter_us = jitter;
	s = slot_of(jb, seq);
	if (s && (r == JB_PUT_OK || r == JB_PUT_RESET)) {
		s->len = 0;   /* a placeholder: the number is used, not by audio */
		jb->held_dur -= s->dur;
		s->dur = 0;
		jb->c.put--;
	}
	return r;
}

static uint32_t target_ms(const struct jb *jb)
{
	uint32_t t = 20 + 3 * (jb->jitter_us / 1000);

	if (t < JB_TARGET_MIN)
		t = JB_TARGET_MIN;
	return t > jb->max_ms ? jb->max_ms : t;
}

uint32_t jb_depth_ms(const struct jb *jb)
{
	return jb->playing ? ms_of(jb, jb->held_dur) : 0;
}

uint32_t jb_delay_ms(const struct jb *jb)
{
	return jb->delay_avg_ms;
}

uint32_t jb_jitter_us(const struct jb *jb)
{
	return jb->jitter_us;
}

/* Buffering: true once the held audio (or the oldest packet's wait) reaches the target. */
static bool ready(struct jb *jb, uint64_t now_us)
{
	struct jb_slot *f = first_held(jb);
	uint32_t t = target_ms(jb);

	if (!f)
		return false;
	if (ms_of(jb, jb->held_dur) >= t || now_us - f->arrival_us >= (uint64_t)t * 1000u)
		return true;
	return false;
}

/* After stretching, the first frames of a gap were already covered: count them lost. */
static void settle_gap(struct jb *jb, uint16_t first)
{
	int gap = seq_diff(first, jb->next_seq);
	unsigned k = gap > 0 ? (unsigned)gap : 0;

	if (k > jb->stretched)
		k = jb->stretched;
	jb->c.expanded -= k;
	jb->c.lost += k;
	jb->next_seq = (uint16_t)(jb->next_seq + k);
	jb->stretched = 0;
}

static void empty(struct jb *jb, struct jb_out *out)
{
	out->kind = JB_EMPTY;
	out->dur = jb->last_dur ? jb->last_dur : jb->clock_hz / 50;
	jb->stretched++;
	jb->c.expanded++;
	if (++jb->empty_run >= JB_REBUFFER_FRAMES)
		jb->playing = false;
}

/* The discard rule: the buffer never came close to empty for a whole window. How many
 * packets to take out: one when its least depth passed a packet and the spare, half
 * the excess in packets when that is more (a backlog after a stall); 0 otherwise. */
static unsigned should_discard(struct jb *jb, uint64_t now_us, const struct jb_slot *s)
{
	uint32_t depth = jb->held_dur;   /* durations held: timestamp jumps do not count */
	unsigned drop = 0;

	if (!jb->win_valid || depth < jb->win_min_depth)
		jb->win_min_depth = depth;
	if (!jb->win_valid) {
		jb->win_valid = true;
		jb->win_start_us = now_us;
		return 0;
	}
	if (now_us - jb->win_start_us >= (uint64_t)JB_WINDOW_MS * 1000u) {
		uint32_t least = ms_of(jb, jb->win_min_depth), dur = ms_of(jb, s->dur);

		if (jb->held > 1 && dur && least > dur + JB_SPARE_MS) {
			drop = (least - JB_SPARE_MS) / dur / 2;
			if (drop < 1)
				drop = 1;
		}
		jb->win_valid = false;
	}
	return drop;
}

void jb_get(struct jb *jb, uint64_t now_us, struct jb_out *out)
{
	struct jb_slot *s;

	memset(out, 0, sizeof(*out));
	if (!jb->started)
		return;
	if (!jb->playing) {
		if (!ready(jb, now_us)) {
			/* Re-buffering after a gap keeps the output going. */
			if (jb->last_dur)
				empty(jb, out);
			return;
		}
		s = first_held(jb);
		if (jb->last_dur) {
			int rest;

			settle_gap(jb, s->seq);
			rest = seq_diff(s->seq, jb->next_seq);   /* longer than the stretch */
			if (rest > 0)
				jb->c.lost += (unsigned)rest;
		}
		jb->next_seq = s->seq;
		jb->playing = true;
		jb->play_ts = s->ts;
		jb->win_valid = false;
		jb->discard_left = 0;
	}
	if (jb->grow) {
		/* Stretch one frame to deepen the buffer (not a gap: nothing is settled
		 * against it). */
		jb->grow--;
		out->kind = JB_EMPTY;
		out->dur = jb->last_dur ? jb->last_dur : jb->clock_hz / 50;
		jb->c.expanded++;
		jb->win_valid = false;
		jb->discard_left = 0;
		return;
	}
	for (;;) {
		s = slot_of(jb, jb->next_seq);
		if (!s && jb->held && jb->stretched) {
			struct jb_slot *f = first_held(jb);

			if (f)
				settle_gap(jb, f->seq);
			else
				jb->stretched = 0;
			continue;
		}
		if (!s)
			break;
		if (s->len == 0) {   /* a number telephone-event used: not a loss */
			slot_free(jb, s);
			jb->next_seq++;
			continue;
		}
		{
			unsigned d = should_discard(jb, now_us, s);

			if (d > jb->discard_left)
				jb->discard_left = d;
		}
		if (jb->discard_left && !slot_of(jb, (uint16_t)(s->seq + 1)))
			jb->discard_left = 0;   /* the backlog is gone */
		if (jb->discard_left) {
			jb->discard_left--;
			jb->c.discarded++;
			slot_free(jb, s);
			jb->next_seq++;
			continue;
		}
		out->kind = JB_PACKET;
		out->data = s->data;
		out->len = s->len;
		out->ts = s->ts;
		out->dur = s->dur;
		slot_free(jb, s);   /* the data stays readable until the next put */
		jb->next_seq++;
		jb->play_ts = s->ts + s->dur;
		jb->last_dur = s->dur;
		jb->empty_run = 0;
		jb->stretched = 0;
		jb->c.played++;
		/* the delay it adds, smoothed: what was held when this packet played */
		jb->delay_avg_ms += ((int32_t)ms_of(jb, jb->held_dur + s->dur) -
				     (int32_t)jb->delay_avg_ms) / 16;
		return;
	}
	if (jb->held) {
		out->kind = JB_LOST;
		out->dur = jb->last_dur ? jb->last_dur : jb->clock_hz / 50;
		jb->c.lost++;
		jb->next_seq++;
		jb->play_ts += out->dur;
		jb->empty_run = 0;
		s = slot_of(jb, jb->next_seq);
		if (s) {
			out->fec = s->data;
			out->fec_len = s->len;
		}
		return;
	}
	empty(jb, out);
}
