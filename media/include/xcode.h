/*
 * xcode.h — one direction of a transcoded call: packets of one codec in, packets of
 * another out, on the reader's clock. Jitter buffer (jb.h) -> decoder with FEC and
 * concealment (codec.h) -> 8 kHz sample FIFO -> encoder, one output packet per pull.
 *
 * Owned by the session's worker; xcode_create() allocates (once per negotiation),
 * push and pull never do. Pure code (no sockets, no clocks of its own), so it is
 * tested and fuzzed with simulated time.
 */
#ifndef TRUNX_XCODE_H
#define TRUNX_XCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "jb.h"

#define XCODE_FIFO       2048   /**< decoded samples held between packets */
#define XCODE_PLC_FRAMES 3      /**< empty pulls concealed before plain silence */

struct xcode_counters {
	uint64_t concealed;       /**< lost frames concealed (decoder PLC or G.711 PLC) */
	uint64_t fec;             /**< lost frames recovered from FEC */
	uint64_t decode_errors;   /**< packets that did not decode (concealed instead) */
	uint64_t frames;          /**< frames encoded */
	uint64_t dtx;             /**< frames the encoder left unsent (DTX) */
};

struct xcode {
	enum media_codec  in, out;
	uint32_t          in_clock, out_clock;
	unsigned          out_samples;     /**< samples per output packet (8 kHz) */
	struct jb         jb;
	struct codec_dec  dec;
	struct codec_enc  enc;
	bool              started;         /**< the first talk spurt began playing */
	unsigned          empty_run;       /**< consecutive JB_EMPTY pulls */
	size_t            fifo_n;
	int16_t           fifo[XCODE_FIFO];
	struct xcode_counters c;
	/** Sees (and may change) each output packet's audio before it is encoded, or
	 *  NULL: in-band DTMF on an Opus leg (detected and muted, or tones written). */
	void            (*tap)(void *arg, int16_t *pcm, size_t n);
	void             *tap_arg;
};

/**
 * Creates a transcoder.
 * @param ptime_ms  output packet time (10..60 ms, a multiple of 10; Opus: 10/20/40/60)
 * @param op        Opus encoder settings when out is Opus (NULL = defaults)
 * @param jb_max_ms longest jitter-buffer target
 * @return 0, EINVAL, ENOMEM
 */
int xcode_create(struct xcode **xp, enum media_codec in, enum media_codec out,
		 unsigned ptime_ms, const struct media_opus_params *op, unsigned jb_max_ms);
void xcode_destroy(struct xcode *x);

/** A new incoming source: buffer and decoder history are dropped. */
void xcode_reset_source(struct xcode *x);

/**
 * Takes one received payload.
 * @return the jitter buffer's verdict (JB_PUT_BAD also for an undecodable size)
 */
enum jb_put_result xcode_push(struct xcode *x, uint16_t seq, uint32_t ts, const uint8_t *p,
			      size_t len, uint64_t arrival_us);

/**
 * Produces the next output packet's payload (one ptime of audio).
 * @return bytes written to out; 0 when there is nothing to send (no talk spurt yet,
 *         or a DTX frame); -1 on an encoder error
 */
int xcode_pull(struct xcode *x, uint64_t now_us, uint8_t *out, size_t max);

/**
 * As xcode_pull() without the encoding: one packet's worth of 8 kHz audio
 * (out_samples) into pcm, for a caller that encodes it itself (a prompt mixed in).
 * @return out_samples, or 0 when there is nothing yet
 */
int xcode_pull_pcm(struct xcode *x, uint64_t now_us, int16_t *pcm);

/** Output packet duration in the output's RTP clock. */
uint32_t xcode_out_step(const struct xcode *x);

#endif
