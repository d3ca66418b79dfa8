/*
 * codec.c — G.711 and Opus behind one small interface (see codec.h).
 *
 * DESIGN
 * Opus runs at 8 kHz mono whatever the peer's capture or playback rate: the other
 * leg is G.711, so a wider band would only be resampled away (and maxplaybackrate,
 * which must be >= 8000, is always honoured). A stereo peer is down-mixed by the
 * decoder; we always send mono, which every Opus receiver accepts (RFC 7587 7.1).
 * The encoder uses the VoIP application; FEC, DTX, complexity and a bitrate cap come
 * from the negotiation. G.711 concealment is plc.c's; Opus uses its own decoder's
 * PLC, or the next packet's LBRR data when it has some (decode_fec = 1).
 */
#include "codec.h"

#include <errno.h>
#include <string.h>

#include <opus/opus.h>

#include "g711.h"

uint32_t codec_clock(enum media_codec id)
{
	return id == MEDIA_CODEC_OPUS ? 48000 : 8000;
}

const char *codec_name(enum media_codec id)
{
	switch (id) {
	case MEDIA_CODEC_PCMU: return "PCMU";
	case MEDIA_CODEC_PCMA: return "PCMA";
	case MEDIA_CODEC_OPUS: return "opus";
	default:               return "none";
	}
}

static bool known(enum media_codec id)
{
	return id == MEDIA_CODEC_PCMU || id == MEDIA_CODEC_PCMA || id == MEDIA_CODEC_OPUS;
}

int codec_dec_init(struct codec_dec *d, enum media_codec id)
{
	int err = 0;

	memset(d, 0, sizeof(*d));
	if (!known(id))
		return EINVAL;
	d->id = id;
	plc_init(&d->plc);
	if (id == MEDIA_CODEC_OPUS) {
		d->opus = opus_decoder_create(CODEC_RATE, 1, &err);
		if (!d->opus || err != OPUS_OK) {
			d->opus = NULL;
			return ENOMEM;
		}
	}
	return 0;
}

void codec_dec_fini(struct codec_dec *d)
{
	if (d->opus)
		opus_decoder_destroy(d->opus);
	memset(d, 0, sizeof(*d));
}

void codec_dec_reset(struct codec_dec *d)
{
	if (d->opus)
		opus_decoder_ctl(d->opus, OPUS_RESET_STATE);
	plc_init(&d->plc);
}

uint32_t codec_packet_dur(enum media_codec id, const uint8_t *p, size_t len)
{
	int n;

	if (!p || !len)
		return 0;
	switch (id) {
	case MEDIA_CODEC_PCMU:
	case MEDIA_CODEC_PCMA:
		return len <= CODEC_MAX_SAMPLES ? (uint32_t)len : 0;
	case MEDIA_CODEC_OPUS:
		if (len > 1275 * 3)
			return 0;
		n = opus_packet_get_nb_samples(p, (opus_int32)len, 48000);
		return n > 0 && n <= 5760 ? (uint32_t)n : 0;
	default:
		return 0;
	}
}

int codec_decode(struct codec_dec *d, const uint8_t *p, size_t len, int16_t *pcm, size_t max)
{
	int n;

	switch (d->id) {
	case MEDIA_CODEC_PCMU:
	case MEDIA_CODEC_PCMA:
		if (len > max)
			return -1;
		for (size_t i = 0; i < len; i++)
			pcm[i] = d->id == MEDIA_CODEC_PCMU ? g711_ulaw_decode(p[i])
							   : g711_alaw_decode(p[i]);
		n = (int)len;
		break;
	case MEDIA_CODEC_OPUS:
		n = opus_decode(d->opus, p, (opus_int32)len, pcm, (int)max, 0);
		if (n < 0)
			return -1;
		break;
	default:
		return -1;
	}
	if (d->id != MEDIA_CODEC_OPUS)   /* Opus conceals with its own decoder state */
		plc_good(&d->plc, pcm, (size_t)n);
	return n;
}

/*
 * True when an Opus packet's first frame carries LBRR (FEC) data for the frame
 * before it: SILK or hybrid mode, and the LBRR flag that follows the VAD flags at
 * the start of the range-coded frame (one VAD flag per 20 ms SILK frame).
 */
static bool opus_has_fec(const uint8_t *p, size_t len)
{
	const unsigned char *frames[48];
	opus_int16 size[48];
	int nf, per_frame, nsilk, stereo;
	uint8_t b;

	if (len < 2 || (p[0] >> 3) >= 16)
		return false;   /* CELT-only: no LBRR */
	nf = opus_packet_parse(p, (opus_int32)len, NULL, frames, size, NULL);
	if (nf <= 0 || size[0] == 0)
		return false;
	per_frame = opus_packet_get_samples_per_frame(p, 48000);
	nsilk = per_frame > 960 ? per_frame / 960 : 1;
	stereo = opus_packet_get_nb_channels(p) == 2;
	b = frames[0][0];
	if ((b >> (7 - nsilk)) & 1)
		return true;
	return stereo && ((b >> (7 - 2 * nsilk - 1)) & 1);
}

int codec_conceal(struct codec_dec *d, const uint8_t *fec, size_t fec_len, int16_t *pcm,
		  size_t n, bool *used_fec)
{
	int r;

	*used_fec = false;
	if (d->id != MEDIA_CODEC_OPUS) {
		plc_conceal(&d->plc, pcm, n);
		return (int)n;
	}
	/* Opus frames are multiples of 2.5 ms (20 samples at 8 kHz). */
	n -= n % 20;
	if (!n)
		return 0;
	if (fec && fec_len && opus_has_fec(fec, fec_len)) {
		r = opus_decode(d->opus, fec, (opus_int32)fec_len, pcm, (int)n, 1);
		if (r == (int)n) {
			*used_fec = true;
			return r;
		}
	}
	r = opus_decode(d->opus, NULL, 0, pcm, (int)n, 0);
	return r < 0 ? -1 : r;
}

int codec_enc_init(struct codec_enc *e, enum media_codec id, const struct media_opus_params *op)
{
	int err = 0;

	memset(e, 0, sizeof(*e));
	if (!known(id))
		return EINVAL;
	e->id = id;
	if (id != MEDIA_CODEC_OPUS)
		return 0;
	e->opus = opus_encoder_create(CODEC_RATE, 1, OPUS_APPLICATION_VOIP, &err);
	if (!e->opus || err != OPUS_OK) {
		e->opus = NULL;
		return ENOMEM;
	}
	if (op) {
		opus_encoder_ctl(e->opus, OPUS_SET_COMPLEXITY(op->complexity > 10 ? 10 : op->complexity));
		opus_encoder_ctl(e->opus, OPUS_SET_INBAND_FEC(op->fec ? 1 : 0));
		if (op->fec)
			opus_encoder_ctl(e->opus, OPUS_SET_PACKET_LOSS_PERC(5));
		opus_encoder_ctl(e->opus, OPUS_SET_DTX(op->dtx ? 1 : 0));
		e->dtx = op->dtx;
		if (op->max_bitrate >= 6000)
			opus_encoder_ctl(e->opus, OPUS_SET_BITRATE((opus_int32)(op->max_bitrate > 510000
							   ? 510000 : op->max_bitrate)));
	}
	opus_encoder_ctl(e->opus, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	opus_encoder_ctl(e->opus, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_NARROWBAND));
	return 0;
}

void codec_enc_fini(struct codec_enc *e)
{
	if (e->opus)
		opus_encoder_destroy(e->opus);
	memset(e, 0, sizeof(*e));
}

int codec_encode(struct codec_enc *e, const int16_t *pcm, size_t n, uint8_t *out, size_t max)
{
	int r;

	switch (e->id) {
	case MEDIA_CODEC_PCMU:
	case MEDIA_CODEC_PCMA:
		if (n > max)
			return -1;
		for (size_t i = 0; i < n; i++)
			out[i] = e->id == MEDIA_CODEC_PCMU ? g711_ulaw_encode(pcm[i])
							   : g711_alaw_encode(pcm[i]);
		return (int)n;
	case MEDIA_CODEC_OPUS:
		r = opus_encode(e->opus, pcm, (int)n, out, (opus_int32)max);
		if (r < 0)
			return -1;
		/* A DTX frame (TOC only) is not sent (RFC 7587 3.1.3). */
		return r <= 2 && e->dtx ? 0 : r;
	default:
		return -1;
	}
}
