/*
 * inband.c — in-band DTMF on a G.711 leg or on decoded 8 kHz audio (an Opus leg): the
 * dsp/ detector for digits, and a per-frame Goertzel test that mutes tone frames
 * before the detector has confirmed them (see inband.h for the design).
 */
#include "inband.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf.h"
#include "g711.h"

#define IB_CHUNK        160      /**< samples per Goertzel block (20 ms) */
#define IB_PURITY       0.70f    /**< share of the energy in the two strongest tones */
#define IB_MIN_POWER    40000.0f /**< per-tone mean power (~-37 dBm0) */
#define IB_TWIST_DB     10.0f    /**< largest level difference between the two tones */

static const float ib_freq[8] = {
	697.0f, 770.0f, 852.0f, 941.0f, 1209.0f, 1336.0f, 1477.0f, 1633.0f,
};

struct inband {
	enum inband_law     law;
	struct dtmf_det    *det;
	float               coef[8];
	bool                in_digit;   /**< the detector holds a digit */
	unsigned            hang;       /**< frames still muted after a digit */
	uint64_t            muted;
	struct inband_note *notes;      /**< where the detector's handler writes */
	size_t              n_notes;
};

static void on_det(const struct dtmf_event *ev, void *arg)
{
	struct inband *ib = arg;
	struct inband_note *n;

	if (ev->type == DTMF_EV_BEGIN) {
		ib->in_digit = true;
	} else {
		ib->in_digit = false;
		ib->hang = INBAND_HANGOVER;
	}
	if (!ib->notes || ib->n_notes >= INBAND_NOTES_MAX)
		return;
	n = &ib->notes[ib->n_notes++];
	n->type = ev->type == DTMF_EV_BEGIN ? INBAND_BEGIN : INBAND_END;
	n->digit = ev->digit;
	n->start = ev->start;
	n->duration_ms = ev->type == DTMF_EV_END ?
		(uint32_t)((ev->end - ev->start) * 1000u / DTMF_RATE) : 0;
}

int inband_create(struct inband **ibp, enum inband_law law)
{
	struct inband *ib;
	int err;

	if (!ibp || (law != INBAND_PCMU && law != INBAND_PCMA && law != INBAND_PCM))
		return EINVAL;
	ib = calloc(1, sizeof(*ib));
	if (!ib)
		return ENOMEM;
	ib->law = law;
	for (int i = 0; i < 8; i++)
		ib->coef[i] = 2.0f * cosf(2.0f * (float)M_PI * ib_freq[i] / DTMF_RATE);
	err = dtmf_det_create(&ib->det, NULL, on_det, ib);
	if (err) {
		free(ib);
		return err;
	}
	*ibp = ib;
	return 0;
}

void inband_destroy(struct inband *ib)
{
	if (!ib)
		return;
	dtmf_det_destroy(ib->det);
	free(ib);
}

void inband_reset(struct inband *ib)
{
	dtmf_det_reset(ib->det);
	ib->in_digit = false;
	ib->hang = 0;
}

bool inband_holding(const struct inband *ib)
{
	return ib->in_digit;
}

uint64_t inband_muted_frames(const struct inband *ib)
{
	return ib->muted;
}

/* Mean power of frequency i in x[0..n) (a sine of amplitude A gives A^2 / 2). */
static float goertzel(float coef, const int16_t *x, size_t n)
{
	float s1 = 0, s2 = 0;

	for (size_t k = 0; k < n; k++) {
		float s0 = (float)x[k] + coef * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return (s1 * s1 + s2 * s2 - coef * s1 * s2) * 2.0f / ((float)n * (float)n);
}

/* True when the block is (nearly) all one low-group plus one high-group tone. */
static bool block_is_dtmf(const struct inband *ib, const int16_t *x, size_t n)
{
	float energy = 0, lo = 0, hi = 0, ratio;

	if (n < 24)
		return false;
	for (size_t k = 0; k < n; k++)
		energy += (float)x[k] * (float)x[k];
	energy /= (float)n;
	if (energy < 2 * IB_MIN_POWER)
		return false;
	for (int i = 0; i < 4; i++) {
		float p = goertzel(ib->coef[i], x, n);

		if (p > lo)
			lo = p;
	}
	for (int i = 4; i < 8; i++) {
		float p = goertzel(ib->coef[i], x, n);

		if (p > hi)
			hi = p;
	}
	if (lo < IB_MIN_POWER || hi < IB_MIN_POWER || lo + hi < IB_PURITY * energy)
		return false;
	ratio = lo > hi ? lo / hi : hi / lo;
	return ratio < powf(10.0f, IB_TWIST_DB / 10.0f);
}

/*
 * A tone pair that starts in the last len samples of x[0..n): the tail passes the test
 * and the len samples before it do not. A short tail resolves frequencies coarsely (3
 * ms: 333 Hz): one steady tone between the groups (1000 Hz) passes it as a pair, so a
 * tail counts only as the start of something, never as more of what came before (the
 * whole block's finer test has already judged that).
 */
static bool tail_starts_dtmf(const struct inband *ib, const int16_t *x, size_t n, size_t len)
{
	return n >= 2 * len && block_is_dtmf(ib, x + n - len, len) &&
	       !block_is_dtmf(ib, x + n - 2 * len, len);
}

/* Runs the detector and the per-block test over pcm; returns the mute decision. */
static bool frame_step(struct inband *ib, const int16_t *pcm, size_t n)
{
	bool tone, mute;

	(void)dtmf_det_process(ib->det, pcm, n);
	/* The whole block, or a tone that starts late in it (its tail). */
	tone = block_is_dtmf(ib, pcm, n) || tail_starts_dtmf(ib, pcm, n, 80) ||
	       tail_starts_dtmf(ib, pcm, n, 40) || tail_starts_dtmf(ib, pcm, n, 24);
	mute = tone || ib->in_digit || ib->hang > 0;
	if (!tone && !ib->in_digit && ib->hang > 0)
		ib->hang--;
	else if (tone && !ib->in_digit)
		ib->hang = INBAND_HANGOVER;   /* a tone the detector may still confirm */
	return mute;
}

size_t inband_process(struct inband *ib, uint8_t *payload, size_t len,
		      struct inband_note notes[INBAND_NOTES_MAX], bool *muted)
{
	int16_t pcm[IB_CHUNK];
	bool mute = false;

	ib->notes = notes;
	ib->n_notes = 0;
	for (size_t off = 0; off < len; off += IB_CHUNK) {
		size_t n = len - off < IB_CHUNK ? len - off : IB_CHUNK;

		for (size_t k = 0; k < n; k++)
			pcm[k] = ib->law == INBAND_PCMA ? g711_alaw_decode(payload[off + k]) :
							  g711_ulaw_decode(payload[off + k]);
		if (frame_step(ib, pcm, n))
			mute = true;
	}
	ib->notes = NULL;
	if (mute) {
		memset(payload, ib->law == INBAND_PCMA ? 0xd5 : 0xff, len);
		ib->muted++;
	}
	if (muted)
		*muted = mute;
	return ib->n_notes;
}

size_t inband_process_pcm(struct inband *ib, int16_t *pcm, size_t n,
			  struct inband_note notes[INBAND_NOTES_MAX], bool *muted)
{
	bool mute = false;

	ib->notes = notes;
	ib->n_notes = 0;
	for (size_t off = 0; off < n; off += IB_CHUNK)
		if (frame_step(ib, pcm + off, n - off < IB_CHUNK ? n - off : IB_CHUNK))
			mute = true;
	ib->notes = NULL;
	if (mute) {
		memset(pcm, 0, n * sizeof(int16_t));
		ib->muted++;
	}
	if (muted)
		*muted = mute;
	return ib->n_notes;
}
