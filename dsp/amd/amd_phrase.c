/*
 * amd_phrase.c — the optional phrase-spotting layer of the AMD: a local recogniser
 * (pocketsphinx, keyword-spotting search, an en-us acoustic model) listens for what
 * voicemail greetings say ("leave a message", "after the tone", "you've reached",
 * "not available" ...); one spotted phrase decides MACHINE PHRASE.
 *
 * DESIGN
 * English only (the phrases and the model are), so it is off by default and the
 * acoustic path never relies on it: a campaign that calls English speakers turns it
 * on (`phrases=1`). The model is a 16 kHz one: each 20 ms frame is upsampled 2x
 * (a half-band windowed-sinc interpolator of UP_TAPS taps: the band above 4 kHz
 * stays empty, as on any telephone line) and fed to the decoder, which spots
 * phrases as the audio streams (within about 100 ms of a phrase's end); each stream
 * starts from the mean cepstrum of telephone speech (telephone_cmn). The phrase
 * list is built in, each phrase with the threshold tuned for it; pocketsphinx reads
 * it from a private temporary file at create time (its keyword search takes a file
 * only), removed at once. `phrase_threshold` shifts every threshold: 20 is as tuned,
 * each unit more multiplies the thresholds by 1e-1 (more phrases spotted, and more
 * wrongly).
 *
 * Costs (docs/PERFORMANCE.md): the decoder loads its model at create (about 30 MB
 * and a few hundred ms per channel) and costs about 0.3 ms per 20 ms frame, some
 * 200 times the acoustic path; it allocates inside the recogniser while it runs.
 * pocketsphinx's logging is global: creating a detector silences it for the process.
 */
#include "amd_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>

#define UP_TAPS 16          /* interpolator taps (8 each side of the new sample) */
#define CEPLEN  13
#define AMD_PHRASE_THRESHOLD_TUNED 20.0f   /* phrase_threshold that means "as tuned" */

/*
 * The mean cepstrum a stream starts from (live cepstral mean normalisation then
 * follows the line). The model's own (41.0, -5.3, ...) is that of wideband speech;
 * telephone-band audio, upsampled, sits far from it, and a fresh decoder spotted a
 * third of the phrases it spots once warmed up. This is the mean over the speech of
 * the tuning seed's clips (a channel calibration, not a per-clip value).
 */
static const float telephone_cmn[CEPLEN] = {
	46.39f, 21.03f, -35.04f, 33.62f, -34.82f, 10.25f, -11.19f, -11.58f, 1.78f, -9.45f,
	4.98f, -9.11f, 2.65f,
};

/*
 * What greetings say, one keyword-search line each (lower case, words of the
 * model's dictionary), with the detection threshold 1e-N of each: on the tuning
 * seed, one step (1e5) stricter than the loosest of 1e-10 .. 1e-30 at which the
 * phrase was never heard in a person's answer before the acoustic decision (short
 * phrases need stricter ones). Not there: "call you back" (people say "can I
 * call you back?"), and the two-syllable phrases "please leave" and "leave your",
 * heard in people's answers on the asserting seed ("who's this, please?"; a name
 * in white noise) even one step stricter: a keyword that short is too easy to hear.
 */
static const struct {
	const char *text;
	int exp;
} phrases[] = {
	{ "leave a message", 25 },   { "leave me a message", 15 },
	{ "after the tone", 25 },    { "after the beep", 25 },     { "you have reached", 15 },
	{ "you've reached", 10 },    { "not available", 25 },      { "recording", 15 },
};

struct amd_phrase {
	cmd_ln_t *config;
	ps_decoder_t *ps;
	float taps[UP_TAPS];        /* interpolating filter for the odd samples */
	float hist[UP_TAPS];        /* last UP_TAPS input samples */
	int16_t up[2 * AMD_FRAME];  /* one frame at 16 kHz */
	bool in_utt;
	char heard[64];             /* the phrase spotted, "" until then */
};

static int write_phrases(char *path, size_t len, float threshold)
{
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	if (snprintf(path, len, "%s/trunx-amd-phrases-XXXXXX", dir && *dir ? dir : "/tmp") >= (int)len)
		return ENAMETOOLONG;
	fd = mkstemp(path);
	if (fd < 0)
		return errno;
	f = fdopen(fd, "w");
	if (!f) {
		int err = errno;

		close(fd);
		unlink(path);
		return err;
	}
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		double exp = phrases[i].exp + threshold - AMD_PHRASE_THRESHOLD_TUNED;

		fprintf(f, "%s /1e-%g/\n", phrases[i].text, exp < 1 ? 1.0 : exp);
	}
	if (fclose(f)) {
		unlink(path);
		return EIO;
	}
	return 0;
}

int amd_phrase_create(struct amd_phrase **pp, const struct amd_params *p)
{
	char hmm[AMD_PATH_MAX + 8], dict[AMD_PATH_MAX + 32], kws[256];
	struct amd_phrase *ph;
	int err;

	*pp = NULL;
	if (snprintf(hmm, sizeof(hmm), "%s/en-us", p->phrase_model) >= (int)sizeof(hmm) ||
	    snprintf(dict, sizeof(dict), "%s/cmudict-en-us.dict", p->phrase_model) >=
		    (int)sizeof(dict))
		return ENAMETOOLONG;
	if (access(hmm, R_OK) || access(dict, R_OK))
		return ENOENT;
	ph = calloc(1, sizeof(*ph));
	if (!ph)
		return ENOMEM;
	for (int k = 0; k < UP_TAPS; k++) {
		/* sinc at the half-sample offsets, Hann-windowed */
		double x = k - UP_TAPS / 2 + 0.5, w = 0.5 + 0.5 * cos(M_PI * x / (UP_TAPS / 2 + 0.5));

		ph->taps[k] = (float)(sin(M_PI * x) / (M_PI * x) * w);
	}
	err = write_phrases(kws, sizeof(kws), p->phrase_threshold);
	if (err) {
		free(ph);
		return err;
	}
	err_set_logfp(NULL);
	ph->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict,
				 "-kws", kws, "-cmn", "live", NULL);
	ph->ps = ph->config ? ps_init(ph->config) : NULL;
	unlink(kws);
	if (!ph->ps) {
		amd_phrase_destroy(ph);
		return EINVAL;
	}
	amd_phrase_reset(ph);
	*pp = ph;
	return 0;
}

void amd_phrase_reset(struct amd_phrase *ph)
{
	if (ph->in_utt)
		ps_end_utt(ph->ps);
	memset(ph->hist, 0, sizeof(ph->hist));
	ph->heard[0] = '\0';
	ph->in_utt = ps_start_utt(ph->ps) == 0;
	if (ph->in_utt) {
		feat_t *feat = ps_get_feat(ph->ps);
		mfcc_t cmn[CEPLEN];

		for (int i = 0; i < CEPLEN; i++)
			cmn[i] = (mfcc_t)telephone_cmn[i];
		if (feat && feat->cmn_struct && feat->cmn_struct->veclen == CEPLEN)
			cmn_live_set(feat->cmn_struct, cmn);
	}
}

const char *amd_phrase_frame(struct amd_phrase *ph, const int16_t *s)
{
	const char *hyp;

	if (!ph->in_utt)
		return NULL;
	for (int j = 0; j < AMD_FRAME; j++) {
		float acc = 0;

		memmove(ph->hist, ph->hist + 1, sizeof(ph->hist[0]) * (UP_TAPS - 1));
		ph->hist[UP_TAPS - 1] = s[j];
		for (int k = 0; k < UP_TAPS; k++)
			acc += ph->taps[k] * ph->hist[k];
		acc = acc > 32767.0f ? 32767.0f : acc < -32768.0f ? -32768.0f : acc;
		ph->up[2 * j] = (int16_t)ph->hist[UP_TAPS / 2 - 1];
		ph->up[2 * j + 1] = (int16_t)lrintf(acc);
	}
	if (ps_process_raw(ph->ps, ph->up, 2 * AMD_FRAME, FALSE, FALSE) < 0)
		return NULL;
	hyp = ps_get_hyp(ph->ps, NULL);
	if (!hyp || !*hyp)
		return NULL;
	snprintf(ph->heard, sizeof(ph->heard), "%s", hyp);
	return ph->heard;
}

void amd_phrase_destroy(struct amd_phrase *ph)
{
	if (!ph)
		return;
	if (ph->ps) {
		if (ph->in_utt)
			ps_end_utt(ph->ps);
		ps_free(ph->ps);
	}
	if (ph->config)
		cmd_ln_free_r(ph->config);
	free(ph);
}
