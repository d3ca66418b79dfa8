/*
 * codec.h — the audio codecs of the transcoding path, on 8 kHz 16-bit mono audio:
 * G.711 mu-law and A-law (dsp/g711, with the loss concealment of plc.h) and Opus
 * (libopus, coded at 8 kHz, carried with its 48 kHz RTP clock, RFC 7587).
 *
 * A decoder or encoder is set up once per negotiation (this may allocate: the Opus
 * state); decoding, concealing and encoding never allocate. Not thread-safe: one
 * owner (the session's worker).
 */
#ifndef TRUNX_CODEC_H
#define TRUNX_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media.h"
#include "plc.h"

#define CODEC_RATE        8000   /**< internal sample rate */
#define CODEC_MAX_SAMPLES 960    /**< longest packet decoded: 120 ms at 8 kHz */
#define CODEC_OUT_MAX     1275   /**< longest encoded frame (Opus limit) */

struct OpusDecoder;
struct OpusEncoder;

struct codec_dec {
	enum media_codec    id;
	struct OpusDecoder *opus;
	struct plc          plc;
};

struct codec_enc {
	enum media_codec    id;
	struct OpusEncoder *opus;
	bool                dtx;
};

/** RTP clock of a codec on the wire (8000 for G.711, 48000 for Opus). */
uint32_t codec_clock(enum media_codec id);

/** Static name for logs ("PCMU", "PCMA", "opus"). */
const char *codec_name(enum media_codec id);

/** @return 0, EINVAL (unknown codec), ENOMEM */
int codec_dec_init(struct codec_dec *d, enum media_codec id);
void codec_dec_fini(struct codec_dec *d);
/** Forgets the decoder's history (a new source). */
void codec_dec_reset(struct codec_dec *d);

/**
 * Duration of an encoded packet in RTP timestamp units, or 0 when it is not a valid
 * packet of the codec (empty, a bad Opus TOC, longer than 120 ms).
 */
uint32_t codec_packet_dur(enum media_codec id, const uint8_t *p, size_t len);

/**
 * Decodes a packet into pcm (at most max samples).
 * @return samples written, or -1 when the packet does not decode
 */
int codec_decode(struct codec_dec *d, const uint8_t *p, size_t len, int16_t *pcm, size_t max);

/**
 * Produces n samples for lost audio: from the next packet's in-band FEC when fec is
 * given and carries it (Opus), else by concealment.
 * @param used_fec  set to true when FEC data was used
 * @return samples written (n), or -1 on a decoder error
 */
int codec_conceal(struct codec_dec *d, const uint8_t *fec, size_t fec_len, int16_t *pcm,
		  size_t n, bool *used_fec);

/** @return 0, EINVAL (unknown codec, bad parameters), ENOMEM */
int codec_enc_init(struct codec_enc *e, enum media_codec id, const struct media_opus_params *op);
void codec_enc_fini(struct codec_enc *e);

/**
 * Encodes n samples (a 10, 20, 40 or 60 ms frame) into out.
 * @return bytes written; 0 for a frame DTX leaves unsent; -1 on error
 */
int codec_encode(struct codec_enc *e, const int16_t *pcm, size_t n, uint8_t *out, size_t max);

#endif
