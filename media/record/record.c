/*
 * record.c — the worker's half of a recording and the lock-free ring to the writer
 * (see record.h).
 *
 * DESIGN
 * Frame 0 of the recording is the arrival of the first packet of either leg. Each
 * leg is anchored once: its first packet lands at the frame of its arrival, and every
 * later packet at the anchor plus its timestamp distance, so a lost packet leaves its
 * 20 ms of silence and a late or reordered one still lands where it belongs as long as
 * it is within the staging window. A leg whose timestamps stray more than REC_REANCHOR
 * from its arrival times (a new source, a timestamp jump) is anchored again; a packet
 * that arrives more than REC_EARLY earlier than its place shows the anchor came from
 * delayed packets, and the leg's audio still in the window moves earlier (the least
 * delay seen wins, as in a jitter buffer). Frames
 * leave the window, oldest first, as newer audio pushes past its end, and all of them
 * at the finish; the recording ends with the last audio placed.
 */
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rec_create(struct recorder **rp, const char *path)
{
	struct recorder *r;
	size_t len;

	if (!rp || !path || !path[0])
		return EINVAL;
	len = strlen(path);
	if (len + sizeof(REC_PART_SUFFIX) > REC_PATH_MAX)
		return ENAMETOOLONG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	memcpy(r->path, path, len + 1);
	*rp = r;
	return 0;
}

void rec_destroy(struct recorder *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r);
}

/* Moves frames [commit, upto) from the window to the ring (or counts them lost). */
static void flush(struct recorder *r, int64_t upto)
{
	while (r->commit < upto) {
		uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		size_t n = (size_t)(upto - r->commit);
		struct rec_chunk *c;

		if (n > REC_CHUNK)
			n = REC_CHUNK;
		if (head - tail >= REC_RING) {
			for (size_t i = 0; i < n; i++)
				memset(r->stage[(r->commit + (int64_t)i) % REC_STAGE], 0,
				       sizeof(r->stage[0]));
			r->pending_silence += (uint32_t)n;
			r->overflow += n;
			r->commit += (int64_t)n;
			continue;
		}
		c = &r->ring[head % REC_RING];
		c->silence_before = r->pending_silence;
		c->n = (uint16_t)n;
		r->pending_silence = 0;
		for (size_t i = 0; i < n; i++) {
			int16_t *fr = r->stage[(r->commit + (int64_t)i) % REC_STAGE];

			c->s[i][0] = fr[0];
			c->s[i][1] = fr[1];
			fr[0] = fr[1] = 0;
		}
		r->commit += (int64_t)n;
		atomic_store_explicit(&r->head, head + 1, memory_order_release);
	}
}

static int64_t arrival_frame(const struct recorder *r, uint64_t now_us)
{
	return (int64_t)((now_us - r->t0_us) * REC_RATE / 1000000u);
}

void rec_new_source(struct recorder *r, unsigned ch)
{
	if (r && ch < 2)
		r->ch[ch].anchored = false;
}

/* Moves what leg ch placed since its anchor `shift` frames earlier, in the window. */
static void shift_earlier(struct recorder *r, unsigned ch, int64_t shift)
{
	struct rec_chan *c = &r->ch[ch];

	for (int64_t p = c->first; p < c->end; p++) {
		r->stage[(p - shift) % REC_STAGE][ch] = r->stage[p % REC_STAGE][ch];
		r->stage[p % REC_STAGE][ch] = 0;
	}
	c->pos0 -= shift;
	c->first -= shift;
	c->end -= shift;
	r->hi = r->ch[0].end > r->ch[1].end ? r->ch[0].end : r->ch[1].end;
}

void rec_put(struct recorder *r, unsigned ch, uint32_t ts, uint32_t clock_hz,
	     const int16_t *pcm, size_t n, uint64_t now_us)
{
	struct rec_chan *c;
	int64_t arr, pos;

	if (!r || ch > 1 || !clock_hz || !n || n > REC_STAGE / 2 ||
	    atomic_load_explicit(&r->done, memory_order_relaxed))
		return;
	if (!r->started) {
		r->started = true;
		r->t0_us = now_us;
	}
	c = &r->ch[ch];
	arr = arrival_frame(r, now_us);
	if (!c->anchored || c->clock_hz != clock_hz) {
		c->anchored = true;
		c->ts0 = ts;
		c->clock_hz = clock_hz;
		c->pos0 = c->first = c->end = arr;
	}
	pos = c->pos0 + (int64_t)(int32_t)(ts - c->ts0) * REC_RATE / clock_hz;
	if (pos - arr > REC_REANCHOR || arr - pos > REC_REANCHOR) {
		c->ts0 = ts;
		c->pos0 = c->first = c->end = pos = arr;
	} else if (pos - arr > REC_EARLY && c->first > r->commit) {
		/* Less delay than the anchor assumed: the leg's first packets came late
		 * (as a jitter buffer plays out at the least delay seen). */
		int64_t shift = pos - arr;

		if (shift > c->first - r->commit)
			shift = c->first - r->commit;
		shift_earlier(r, ch, shift);
		pos -= shift;
	}
	if (pos + (int64_t)n <= r->commit) {
		r->late++;
		return;
	}
	if (pos < r->commit) {   /* the head of it already left the window */
		size_t skip = (size_t)(r->commit - pos);

		pcm += skip;
		n -= skip;
		pos = r->commit;
	}
	if (pos + (int64_t)n > r->commit + REC_STAGE)
		flush(r, pos + (int64_t)n - REC_STAGE);
	for (size_t k = 0; k < n; k++)
		r->stage[(pos + (int64_t)k) % REC_STAGE][ch] = pcm[k];
	if (pos < c->first)
		c->first = pos;
	if (pos + (int64_t)n > c->end)
		c->end = pos + (int64_t)n;
	if (pos + (int64_t)n > r->hi)
		r->hi = pos + (int64_t)n;
}

void rec_finish(struct recorder *r, uint64_t *frames, uint64_t *late, uint64_t *overflow)
{
	if (!r || atomic_load_explicit(&r->done, memory_order_relaxed))
		return;
	flush(r, r->hi);
	r->tail_silence = r->pending_silence;
	r->pending_silence = 0;
	r->total_frames = (uint64_t)r->hi;
	if (frames)
		*frames = r->total_frames;
	if (late)
		*late = r->late;
	if (overflow)
		*overflow = r->overflow;
	atomic_store_explicit(&r->done, true, memory_order_release);
}

bool rec_drain(struct recorder *r, void (*put)(void *arg, const int16_t (*fr)[2], size_t n),
	       void *arg)
{
	bool done = atomic_load_explicit(&r->done, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	while (tail != head) {
		const struct rec_chunk *c = &r->ring[tail % REC_RING];

		if (c->silence_before)
			put(arg, NULL, c->silence_before);
		put(arg, (const int16_t (*)[2])c->s, c->n);
		tail++;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	if (!done)
		return false;
	if (r->tail_silence) {
		put(arg, NULL, r->tail_silence);
		r->tail_silence = 0;
	}
	return true;
}
