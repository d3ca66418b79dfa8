/*
 * dtmf_corpus.h — a DTMF test corpus synthesised from a seed: digits at the ITU-T Q.24
 * limits (alone and all at once), noisy and G.711-coded digits, long tones, dropouts,
 * and signals that must give no digit (off-frequency, short, too weak, twist beyond,
 * single tones, music-like signals). Used by the unit tests (one seed set) and by
 * tools/bench/dtmf-eval (another seed set, for tuning and for comparing detectors).
 *
 * Level convention as in dtmf.h: dBm0 per tone, full-scale sine = +3.14 dBm0.
 */
#ifndef TRUNX_DTMF_CORPUS_H
#define TRUNX_DTMF_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#define DTMF_CORPUS_MAX_DIGITS 32

enum dtmf_corpus_kind {
	DTMF_CORPUS_DETECT = 0,  /**< every digit must be found, nothing else */
	DTMF_CORPUS_REJECT = 1,  /**< tones that must give no digit */
	DTMF_CORPUS_TALKOFF = 2, /**< music-like signal: no digit */
};

/** The sets the corpus is made of (one case belongs to one set). */
enum dtmf_corpus_set {
	DTMF_SET_EDGE,       /**< +-1.5 % both tones, +-4 dB twist, -26 dBm0, 40-50 ms,
				  40 ms pauses, G.711, 15 dB SNR: all at once */
	DTMF_SET_EDGE_TWIST, /**< the same with twist -8 / +4 dB */
	DTMF_SET_LEVELS,     /**< clean digits from -26 to -3 dBm0 */
	DTMF_SET_NOISY,      /**< random digits within limits, 15 dB SNR */
	DTMF_SET_NOISY_MEAN, /**< digits of -26..-6 dBm0 in one case, white noise 15-18 dB
				  below the mean tone power of the case (so the weakest
				  digits sit near 4-6 dB per tone), mu-law */
	DTMF_SET_LONG,       /**< 1-3 s tones: one digit each */
	DTMF_SET_DROPOUT,    /**< 10 ms dropouts inside tones: bridged */
	DTMF_SET_OFFFREQ,    /**< a tone off by 3.5-6 %: reject */
	DTMF_SET_SHORT,      /**< tones of 10-22.9 ms: reject */
	DTMF_SET_WEAK,       /**< tones at -55 dBm0 and below: reject */
	DTMF_SET_TWIST,      /**< twist of +8..+12 or -12..-16 dB: reject */
	DTMF_SET_SINGLE,     /**< one tone alone: reject */
	DTMF_SET_MUSIC,      /**< music-like signals: no digit */
	DTMF_SET_COUNT
};

struct dtmf_corpus_case {
	char     name[64];
	enum dtmf_corpus_set set;
	enum dtmf_corpus_kind kind;
	char     expect[DTMF_CORPUS_MAX_DIGITS + 1];    /**< digits, in order */
	uint32_t start[DTMF_CORPUS_MAX_DIGITS];         /**< each tone's first sample */
	uint32_t end[DTMF_CORPUS_MAX_DIGITS];           /**< one past its last sample */
	int16_t *audio;                                 /**< 8 kHz linear samples */
	size_t   len;                                   /**< samples in audio */
};

struct dtmf_corpus;

/**
 * Synthesises the corpus for a seed (the same seed always gives the same audio).
 * @return 0, ENOMEM
 */
int dtmf_corpus_create(struct dtmf_corpus **cp, uint64_t seed);
void dtmf_corpus_destroy(struct dtmf_corpus *c);

size_t dtmf_corpus_count(const struct dtmf_corpus *c);
const struct dtmf_corpus_case *dtmf_corpus_get(const struct dtmf_corpus *c, size_t i);

/**
 * Synthesises one digit at a chosen edge, for sweeps: both tones off by err (signs
 * random), twist dB (high - low) with the weaker tone at weak_dbm0, ms
 * long, white noise snr_db below the pair, a G.711 round trip (mu-law for odd seeds,
 * A-law for even), a random onset after about 30 ms of lead-in, 60 ms after.
 * @param audio receives the samples (free() them)
 * @return 0, EINVAL, ENOMEM
 */
int dtmf_corpus_trial(uint64_t seed, char digit, double err, double twist, double weak_dbm0,
		      double ms, double snr_db, int16_t **audio, size_t *len);

/** Short name of a set ("edge", "offfreq", ...). */
const char *dtmf_corpus_set_name(enum dtmf_corpus_set set);

#endif
