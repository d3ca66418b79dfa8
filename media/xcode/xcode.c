/*
 * xcode.c — one transcoding direction (see xcode.h).
 *
 * DESIGN
 * The reader pulls one output packet at a time. Decoded audio accumulates in a
 * FIFO at 8 kHz until an output packet's worth is there, so input and output packet
 * times are independent (an Opus peer sending 60 ms, a G.711 peer taking 20 ms).
 * Every jitter-buffer result becomes samples: a packet is decoded; a lost one is
 * recovered from the next packet's FEC when it has some, else concealed by the
 * decoder; an empty buffer (late packet, DTX, burst loss) is concealed for
 * XCODE_PLC_FRAMES frames and then filled with silence, so the output never has a
 * gap once the first talk spurt has started.
 */
#include "xcode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool ptime_ok(enum media_codec out, unsigned ms)
{
	if (out == MEDIA_CODEC_OPUS)
		return ms == 10 || ms == 20 || ms == 40 || ms == 60;
	return ms >= 10 && ms <= 60 && ms % 10 == 0;
}

int xcode_create(struct xcode **xp, enum media_codec in, enum media_codec out,
		 unsigned ptime_ms, const struct media_opus_params *op, unsigned jb_max_ms)
{
	struct xcode *x;
	int err;

	if (!xp || !ptime_ok(out, ptime_ms))
		return EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return ENOMEM;
	x->in = in;
	x->out = out;
	x->in_clock = codec_clock(in);
	x->out_clock = codec_clock(out);
	x->out_samples = ptime_ms * (CODEC_RATE / 1000);
	jb_init(&x->jb, x->in_clock, jb_max_ms ? jb_max_ms : 200);
	err = codec_dec_init(&x->dec, in);
	if (!err)
		err = codec_enc_init(&x->enc, out, op);
	if (err) {
		xcode_destroy(x);
		return err;
	}
	*xp = x;
	return 0;
}

void xcode_destroy(struct xcode *x)
{
	if (!x)
		return;
	codec_dec_fini(&x->dec);
	codec_enc_fini(&x->enc);
	free(x);
}

void xcode_reset_source(struct xcode *x)
{
	jb_reset(&x->jb);
	codec_dec_reset(&x->dec);
	x->empty_run = 0;
}

uint32_t xcode_out_step(const struct xcode *x)
{
	return (uint32_t)((uint64_t)x->out_samples * x->out_clock / CODEC_RATE);
}

enum jb_put_result xcode_push(struct xcode *x, uint16_t seq, uint32_t ts, const uint8_t *p,
			      size_t len, uint64_t arrival_us)
{
	uint32_t dur = codec_packet_dur(x->in, p, len);

	return jb_put(&x->jb, seq, ts, p, len, dur, arrival_us);
}

/* Samples at 8 kHz for dur units of the input clock, bounded by the FIFO room. */
static size_t samples_of(const struct xcode *x, uint32_t dur)
{
	size_t n = (size_t)((uint64_t)dur * CODEC_RATE / x->in_clock);
	size_t room = XCODE_FIFO - x->fifo_n;

	if (n > CODEC_MAX_SAMPLES)
		n = CODEC_MAX_SAMPLES;
	return n > room ? room : n;
}

static void conceal(struct xcode *x, const uint8_t *fec, size_t fec_len, size_t n, bool lost)
{
	int16_t *dst = x->fifo + x->fifo_n;
	bool used_fec = false;
	int r;

	r = codec_conceal(&x->dec, fec, fec_len, dst, n, &used_fec);
	if (r < (int)n) {
		if (r < 0)
			r = 0;
		memset(dst + r, 0, (n - (size_t)r) * sizeof(int16_t));
	}
	x->fifo_n += n;
	if (lost) {
		if (used_fec)
			x->c.fec++;
		else
			x->c.concealed++;
	}
}

/* Adds one jitter-buffer result to the FIFO. Returns false when there is none yet. */
static bool refill(struct xcode *x, uint64_t now_us)
{
	struct jb_out o;
	size_t n;
	int r;

	jb_get(&x->jb, now_us, &o);
	switch (o.kind) {
	case JB_PACKET:
		x->started = true;
		x->empty_run = 0;
		r = codec_decode(&x->dec, o.data, o.len, x->fifo + x->fifo_n,
				 XCODE_FIFO - x->fifo_n);
		if (r >= 0) {
			x->fifo_n += (size_t)r;
			return true;
		}
		x->c.decode_errors++;
		conceal(x, NULL, 0, samples_of(x, o.dur), true);
		return true;
	case JB_LOST:
		x->empty_run = 0;
		conceal(x, o.fec, o.fec_len, samples_of(x, o.dur), true);
		return true;
	case JB_EMPTY:
		if (!x->started)
			return false;
		n = samples_of(x, o.dur);
		if (x->empty_run++ < XCODE_PLC_FRAMES) {
			conceal(x, NULL, 0, n, false);
		} else {
			memset(x->fifo + x->fifo_n, 0, n * sizeof(int16_t));
			x->fifo_n += n;
		}
		return true;
	default:
		return false;
	}
}

/* Fills the FIFO to one output packet. Returns false when there is nothing yet. */
static bool fill(struct xcode *x, uint64_t now_us)
{
	while (x->fifo_n < x->out_samples) {
		size_t before = x->fifo_n;

		if (!refill(x, now_us) || x->fifo_n == before) {
			if (!x->started || x->fifo_n == 0)
				return false;
			/* Short of a whole frame: pad with silence rather than stall. */
			memset(x->fifo + x->fifo_n, 0,
			       (x->out_samples - x->fifo_n) * sizeof(int16_t));
			x->fifo_n = x->out_samples;
		}
	}
	return true;
}

int xcode_pull_pcm(struct xcode *x, uint64_t now_us, int16_t *pcm)
{
	if (!fill(x, now_us))
		return 0;
	if (x->tap)
		x->tap(x->tap_arg, x->fifo, x->out_samples);
	memcpy(pcm, x->fifo, x->out_samples * sizeof(int16_t));
	x->fifo_n -= x->out_samples;
	memmove(x->fifo, x->fifo + x->out_samples, x->fifo_n * sizeof(int16_t));
	return (int)x->out_samples;
}

int xcode_pull(struct xcode *x, uint64_t now_us, uint8_t *out, size_t max)
{
	int r;

	if (!fill(x, now_us))
		return 0;
	if (x->tap)
		x->tap(x->tap_arg, x->fifo, x->out_samples);
	r = codec_encode(&x->enc, x->fifo, x->out_samples, out, max);
	x->fifo_n -= x->out_samples;
	memmove(x->fifo, x->fifo + x->out_samples, x->fifo_n * sizeof(int16_t));
	if (r < 0)
		return -1;
	x->c.frames++;
	if (r == 0)
		x->c.dtx++;
	return r;
}
