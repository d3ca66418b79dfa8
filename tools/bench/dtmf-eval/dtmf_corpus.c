/*
 * dtmf_corpus.c — synthesises the DTMF test corpus (see dtmf_corpus.h).
 *
 * Every case is built in floating point from segments (silence, a tone pair, music),
 * then gets white Gaussian noise at the case's SNR, then an optional G.711 round trip
 * (mu-law or A-law), then is rounded to 16 bits. Onsets are placed at random sample
 * offsets so that tones fall anywhere relative to a detector's internal blocks. All
 * randomness comes from one splitmix64 stream per case, derived from the seed and the
 * case number, so a case does not change when another one is added or removed.
 */
#include "dtmf_corpus.h"
#include "dtmf.h"
#include "g711.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS(x) ((size_t)((x) * (DTMF_RATE / 1000.0) + 0.5))

enum codec { CODEC_LINEAR, CODEC_ULAW, CODEC_ALAW };

struct dtmf_corpus {
	struct dtmf_corpus_case *cases;
	size_t count, cap;
};

/* One case under construction. */
struct bld {
	uint64_t rng;
	float   *x;
	size_t   len, cap;
	struct dtmf_corpus_case *cc;
	int      ndig;
	bool     oom;
};

static const char *const set_names[DTMF_SET_COUNT] = {
	[DTMF_SET_EDGE] = "edge",
	[DTMF_SET_EDGE_TWIST] = "edge-twist",
	[DTMF_SET_LEVELS] = "levels",
	[DTMF_SET_NOISY] = "noisy",
	[DTMF_SET_NOISY_MEAN] = "noisy-mean",
	[DTMF_SET_LONG] = "long",
	[DTMF_SET_DROPOUT] = "dropout",
	[DTMF_SET_OFFFREQ] = "offfreq",
	[DTMF_SET_SHORT] = "short",
	[DTMF_SET_WEAK] = "weak",
	[DTMF_SET_TWIST] = "twist",
	[DTMF_SET_SINGLE] = "single",
	[DTMF_SET_MUSIC] = "music",
};

static const char digits16[] = "123A456B789C*0#D";

const char *dtmf_corpus_set_name(enum dtmf_corpus_set set)
{
	return set < DTMF_SET_COUNT ? set_names[set] : "?";
}

/* ---- randomness ---- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd_uni(uint64_t *s)
{
	return (double)(rnd_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double rnd_range(uint64_t *s, double a, double b)
{
	return a + (b - a) * rnd_uni(s);
}

static int rnd_int(uint64_t *s, int n)
{
	return (int)(rnd_next(s) % (uint64_t)n);
}

static double rnd_gauss(uint64_t *s)
{
	double u = rnd_uni(s), v = rnd_uni(s);

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static double sign(uint64_t *s)
{
	return (rnd_next(s) & 1) ? 1.0 : -1.0;
}

/* ---- levels ---- */

static double amp_of(double dbm0)
{
	return 32767.0 * pow(10.0, (dbm0 - 3.14) / 20.0);
}

/* ---- building ---- */

static float *grow(struct bld *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		float *nx;

		while (cap < b->len + n)
			cap *= 2;
		nx = realloc(b->x, cap * sizeof(float));
		if (!nx) {
			b->oom = true;
			return NULL;
		}
		memset(nx + b->cap, 0, (cap - b->cap) * sizeof(float));
		b->x = nx;
		b->cap = cap;
	}
	b->len += n;
	return b->x + b->len - n;
}

static void silence(struct bld *b, size_t n)
{
	float *p = grow(b, n);

	if (p)
		memset(p, 0, n * sizeof(float));
}

/* Appends a pair (or a single tone when a2 == 0) of abruptly gated sines. */
static void pair(struct bld *b, double f1, double a1, double f2, double a2, size_t n)
{
	double p1 = rnd_range(&b->rng, 0, 2 * M_PI), p2 = rnd_range(&b->rng, 0, 2 * M_PI);
	float *p = grow(b, n);

	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / DTMF_RATE;

		p[i] = (float)(a1 * sin(2 * M_PI * f1 * t + p1) + a2 * sin(2 * M_PI * f2 * t + p2));
	}
}

/*
 * Appends one digit.
 * @param err_lo/err_hi frequency errors (fractions)
 * @param lvl_lo/lvl_hi levels, dBm0 per tone
 * @param expect        record it as an expected digit
 */
static void digit(struct bld *b, char d, double err_lo, double err_hi, double lvl_lo,
		  double lvl_hi, size_t n, bool expect)
{
	float flo, fhi;

	dtmf_digit_freqs(d, &flo, &fhi);
	if (expect && b->ndig < DTMF_CORPUS_MAX_DIGITS) {
		b->cc->expect[b->ndig] = d;
		b->cc->start[b->ndig] = (uint32_t)b->len;
		b->cc->end[b->ndig] = (uint32_t)(b->len + n);
		b->ndig++;
	}
	pair(b, flo * (1 + err_lo), amp_of(lvl_lo), fhi * (1 + err_hi), amp_of(lvl_hi), n);
}

/* Adds noise with the given power (sample units^2). */
static void noise(struct bld *b, double pw)
{
	double sd = sqrt(pw);

	for (size_t i = 0; i < b->len; i++)
		b->x[i] += (float)(sd * rnd_gauss(&b->rng));
}

/* Power of a tone pair at these levels. */
static double pair_pow(double lvl_lo, double lvl_hi)
{
	double a = amp_of(lvl_lo), c = amp_of(lvl_hi);

	return (a * a + c * c) / 2;
}

/* Rounds the builder's audio to 16 bits through the codec; frees the builder. */
static int16_t *render(struct bld *b, enum codec codec)
{
	int16_t *out = NULL;

	if (!b->oom && b->len)
		out = malloc(b->len * sizeof(int16_t));
	for (size_t i = 0; out && i < b->len; i++) {
		double v = lrint(b->x[i]);
		int16_t s = (int16_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));

		if (codec == CODEC_ULAW)
			s = g711_ulaw_decode(g711_ulaw_encode(s));
		else if (codec == CODEC_ALAW)
			s = g711_alaw_decode(g711_alaw_encode(s));
		out[i] = s;
	}
	free(b->x);
	b->x = NULL;
	return out;
}

static int finish(struct dtmf_corpus *c, struct bld *b, enum codec codec)
{
	struct dtmf_corpus_case *cc = b->cc;

	cc->len = b->len;
	cc->audio = render(b, codec);
	if (!cc->audio)
		return ENOMEM;
	cc->expect[b->ndig] = '\0';
	c->count++;
	return 0;
}

int dtmf_corpus_trial(uint64_t seed, char d, double err, double twist, double weak_dbm0,
		      double ms, double snr_db, int16_t **audio, size_t *len)
{
	struct dtmf_corpus_case cc;
	struct bld b;
	double lo, hi;

	if (!audio || !len || dtmf_digit_event(d) < 0 || ms <= 0)
		return EINVAL;
	memset(&b, 0, sizeof(b));
	memset(&cc, 0, sizeof(cc));
	b.cc = &cc;
	b.rng = seed * 0x9e3779b97f4a7c15ull + (uint64_t)(unsigned char)d;
	rnd_next(&b.rng);
	lo = twist >= 0 ? weak_dbm0 : weak_dbm0 - twist;
	hi = lo + twist;
	silence(&b, MS(30) + (size_t)rnd_int(&b.rng, MS(5)));
	digit(&b, d, sign(&b.rng) * err, sign(&b.rng) * err, lo, hi, MS(ms), true);
	silence(&b, MS(60));
	noise(&b, pair_pow(lo, hi) / pow(10.0, snr_db / 10.0));
	*len = b.len;
	*audio = render(&b, (seed & 1) ? CODEC_ULAW : CODEC_ALAW);
	return *audio ? 0 : ENOMEM;
}

static struct dtmf_corpus_case *new_case(struct dtmf_corpus *c, struct bld *b, uint64_t seed,
					 enum dtmf_corpus_set set, enum dtmf_corpus_kind kind)
{
	struct dtmf_corpus_case *cc;

	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct dtmf_corpus_case *n = realloc(c->cases, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->cases = n;
		c->cap = cap;
	}
	cc = &c->cases[c->count];
	memset(cc, 0, sizeof(*cc));
	cc->set = set;
	cc->kind = kind;
	memset(b, 0, sizeof(*b));
	b->cc = cc;
	/* One stream per case: seed, set and the case's index within the corpus. */
	b->rng = seed * 0x100000001b3ull ^ ((uint64_t)set << 40) ^ (uint64_t)c->count;
	rnd_next(&b->rng);
	snprintf(cc->name, sizeof(cc->name), "%s-%zu", set_names[set], c->count);
	/* A random lead-in so that onsets fall anywhere. */
	silence(b, MS(20) + (size_t)rnd_int(&b->rng, MS(20)));
	return cc;
}

static void shuffle(uint64_t *rng, char *s, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rnd_int(rng, (int)i);
		char t = s[i - 1];

		s[i - 1] = s[j];
		s[j] = t;
	}
}

static enum codec codec_pick(uint64_t *rng)
{
	return (enum codec)(1 + rnd_int(rng, 2));
}

/* ---- must-detect sets ---- */

/*
 * All 16 digits in one case, every tone 40-50 ms with 40 ms pauses, both tones off by
 * exactly 1.5 % (signs given), twist given, the weaker (or the stronger) tone at
 * -26 dBm0, G.711, and noise 15 dB below the tones.
 */
static int edge_case(struct dtmf_corpus *c, uint64_t seed, enum dtmf_corpus_set set,
		     double s_lo, double s_hi, double twist, bool weaker_at_min)
{
	struct bld b;
	char order[17];
	double lo, hi;

	if (!new_case(c, &b, seed, set, DTMF_CORPUS_DETECT))
		return ENOMEM;
	if (weaker_at_min) {
		lo = twist >= 0 ? -26.0 : -26.0 - twist;
		hi = lo + twist;
	} else {
		lo = twist >= 0 ? -26.0 - twist : -26.0;
		hi = lo + twist;
	}
	memcpy(order, digits16, sizeof(order));
	shuffle(&b.rng, order, 16);
	for (int i = 0; i < 16; i++) {
		digit(&b, order[i], 0.015 * s_lo, 0.015 * s_hi, lo, hi,
		      MS(40) + (size_t)rnd_int(&b.rng, MS(10) + 1), true);
		silence(&b, MS(40));
	}
	silence(&b, MS(40));
	noise(&b, pair_pow(lo, hi) / pow(10.0, 1.5));
	snprintf(b.cc->name, sizeof(b.cc->name), "%s-%+.0f%%%+.0f%%-tw%+.0f-%s",
		 set_names[set], s_lo * 1.5, s_hi * 1.5, twist, weaker_at_min ? "weak" : "strong");
	return finish(c, &b, codec_pick(&b.rng));
}

static int levels_case(struct dtmf_corpus *c, uint64_t seed)
{
	static const double lv[] = {-26, -20, -15, -10, -6, -3};
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_LEVELS, DTMF_CORPUS_DETECT))
		return ENOMEM;
	for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		for (int k = 0; k < 4; k++) {
			char d = digits16[rnd_int(&b.rng, 16)];

			digit(&b, d, 0, 0, lv[i], lv[i], MS(40) + (size_t)rnd_int(&b.rng, MS(20)),
			      true);
			silence(&b, MS(40) + (size_t)rnd_int(&b.rng, MS(20)));
		}
	}
	return finish(c, &b, CODEC_LINEAR);
}

/* Random digits anywhere inside the limits, noise 15 dB below the weakest digit. */
static int noisy_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;
	double weakest = 1e30;

	if (!new_case(c, &b, seed, DTMF_SET_NOISY, DTMF_CORPUS_DETECT))
		return ENOMEM;
	for (int k = 0; k < 12; k++) {
		char d = digits16[rnd_int(&b.rng, 16)];
		double tw = rnd_range(&b.rng, -8, 4);
		double lo = rnd_range(&b.rng, -22, -6), hi = lo + tw;

		if (hi < -26) {
			lo += -26 - hi;
			hi = -26;
		}
		if (pair_pow(lo, hi) < weakest)
			weakest = pair_pow(lo, hi);
		digit(&b, d, rnd_range(&b.rng, -0.015, 0.015), rnd_range(&b.rng, -0.015, 0.015),
		      lo, hi, MS(40) + (size_t)rnd_int(&b.rng, MS(60)), true);
		silence(&b, MS(40) + (size_t)rnd_int(&b.rng, MS(60)));
	}
	noise(&b, weakest / pow(10.0, 1.5));
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

/*
 * Noise measured the other common way: white noise 15-18 dB below the *mean* tone
 * power of the case (per tone, over the digits), not below the weakest digit. With
 * levels spread over -26..-6 dBm0 the weakest digits (one is always at -24..-26)
 * sit only 4-6 dB above the noise per tone: where a purity of 0.8 lost digits.
 */
static int noisy_mean_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;
	double sum = 0;

	if (!new_case(c, &b, seed, DTMF_SET_NOISY_MEAN, DTMF_CORPUS_DETECT))
		return ENOMEM;
	for (int k = 0; k < 12; k++) {
		char d = digits16[rnd_int(&b.rng, 16)];
		double tw = rnd_range(&b.rng, -4, 4);
		double mid = k == 0 ? rnd_range(&b.rng, -25, -23) : rnd_range(&b.rng, -24, -8);
		double lo = mid - tw / 2, hi = mid + tw / 2;

		sum += pair_pow(lo, hi) / 2;
		digit(&b, d, rnd_range(&b.rng, -0.015, 0.015), rnd_range(&b.rng, -0.015, 0.015),
		      lo, hi, MS(40) + (size_t)rnd_int(&b.rng, MS(30)), true);
		silence(&b, MS(40) + (size_t)rnd_int(&b.rng, MS(60)));
	}
	noise(&b, sum / 12 / pow(10.0, rnd_range(&b.rng, 1.5, 1.8)));
	return finish(c, &b, CODEC_ULAW);
}

static int long_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_LONG, DTMF_CORPUS_DETECT))
		return ENOMEM;
	for (int k = 0; k < 4; k++) {
		char d = digits16[rnd_int(&b.rng, 16)];
		double lvl = rnd_range(&b.rng, -20, -6);

		digit(&b, d, rnd_range(&b.rng, -0.015, 0.015), rnd_range(&b.rng, -0.015, 0.015),
		      lvl, lvl + rnd_range(&b.rng, -4, 2), MS(1000) +
		      (size_t)rnd_int(&b.rng, MS(2000)), true);
		silence(&b, MS(40));
	}
	silence(&b, MS(40));
	noise(&b, pair_pow(-26, -26) / pow(10.0, 1.5));
	return finish(c, &b, codec_pick(&b.rng));
}

/*
 * Tones of 90-400 ms muted for 10 ms once or twice (the phase runs on through the
 * mute, as with a lost packet). Only the first piece may be shorter than 40 ms.
 */
static int dropout_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_DROPOUT, DTMF_CORPUS_DETECT))
		return ENOMEM;
	for (int k = 0; k < 8; k++) {
		char d = digits16[rnd_int(&b.rng, 16)];
		double lvl = rnd_range(&b.rng, -26, -6);
		double tw = rnd_range(&b.rng, -4, 2);
		int drops = 1 + rnd_int(&b.rng, 2);
		size_t piece[3], total = 0, at;

		for (int i = 0; i <= drops; i++) {
			piece[i] = (i ? MS(40) : MS(25)) + (size_t)rnd_int(&b.rng, MS(100));
			total += piece[i] + (i ? MS(10) : 0);
		}
		at = b.len;
		digit(&b, d, 0, 0, lvl, lvl + tw, total, true);
		if (b.oom)
			return finish(c, &b, CODEC_LINEAR);
		for (int i = 0; i < drops; i++) {
			at += piece[i];
			memset(b.x + at, 0, MS(10) * sizeof(float));
			at += MS(10);
		}
		silence(&b, MS(40));
	}
	silence(&b, MS(40));
	return finish(c, &b, CODEC_LINEAR);
}

/* ---- must-reject sets ---- */

static double off_err(uint64_t *rng)
{
	return sign(rng) * rnd_range(rng, 0.035, 0.06);
}

/* At least one tone 3.5-6 % off (the other one anywhere inside +-1.5 %). */
static int offfreq_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_OFFFREQ, DTMF_CORPUS_REJECT))
		return ENOMEM;
	for (int k = 0; k < 16; k++) {
		char d = digits16[k];
		int which = rnd_int(&b.rng, 3);
		double el = which != 1 ? off_err(&b.rng) : rnd_range(&b.rng, -0.015, 0.015);
		double eh = which != 0 ? off_err(&b.rng) : rnd_range(&b.rng, -0.015, 0.015);
		double lvl = rnd_range(&b.rng, -20, -3);
		size_t n = (k & 1) ? MS(40) + (size_t)rnd_int(&b.rng, MS(10)) :
				     MS(100) + (size_t)rnd_int(&b.rng, MS(400));

		digit(&b, d, el, eh, lvl, lvl + rnd_range(&b.rng, -4, 2), n, false);
		silence(&b, MS(60));
	}
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

static int short_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_SHORT, DTMF_CORPUS_REJECT))
		return ENOMEM;
	for (int k = 0; k < 16; k++) {
		double lvl = rnd_range(&b.rng, -20, -3);
		/* Half just under the limit, half anywhere from 10 ms. */
		size_t n = (k & 1) ? MS(22.9) - (size_t)rnd_int(&b.rng, MS(2)) :
				     MS(10) + (size_t)rnd_int(&b.rng, MS(12.9));

		digit(&b, digits16[k], 0, 0, lvl, lvl + rnd_range(&b.rng, -4, 2), n, false);
		silence(&b, MS(60) + (size_t)rnd_int(&b.rng, MS(40)));
	}
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

static int weak_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_WEAK, DTMF_CORPUS_REJECT))
		return ENOMEM;
	for (int k = 0; k < 16; k++) {
		/* Both tones at or below -55 dBm0, or one there and the other 4 dB above. */
		double lo = rnd_range(&b.rng, -65, -55), hi = rnd_range(&b.rng, -65, -55);

		if (k % 4 == 1)
			hi = lo + 4;
		else if (k % 4 == 2)
			lo = hi + 4;
		digit(&b, digits16[k], 0, 0, lo, hi, MS(40) + (size_t)rnd_int(&b.rng, MS(500)),
		      false);
		silence(&b, MS(60));
	}
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

static int twist_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_TWIST, DTMF_CORPUS_REJECT))
		return ENOMEM;
	for (int k = 0; k < 16; k++) {
		double tw = (k & 1) ? rnd_range(&b.rng, 8, 12) : -rnd_range(&b.rng, 12, 16);
		double strong = rnd_range(&b.rng, -15, -3);
		double lo = tw > 0 ? strong - tw : strong, hi = lo + tw;

		digit(&b, digits16[k], 0, 0, lo, hi, MS(40) + (size_t)rnd_int(&b.rng, MS(300)),
		      false);
		silence(&b, MS(60));
	}
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

static int single_case(struct dtmf_corpus *c, uint64_t seed)
{
	static const double f[8] = {697, 770, 852, 941, 1209, 1336, 1477, 1633};
	struct bld b;

	if (!new_case(c, &b, seed, DTMF_SET_SINGLE, DTMF_CORPUS_REJECT))
		return ENOMEM;
	for (int k = 0; k < 16; k++) {
		pair(&b, f[k % 8], amp_of(rnd_range(&b.rng, -26, -3)), 0, 0,
		     MS(40) + (size_t)rnd_int(&b.rng, MS(500)));
		silence(&b, MS(60));
	}
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

/* ---- music-like signals ---- */

enum timbre { T_SAW, T_SQUARE, T_ORGAN, T_PLUCK, T_REED, T_COUNT };

/* Harmonic amplitudes for a timbre (fundamental first). */
static int harmonics(uint64_t *rng, enum timbre t, double *h, int max)
{
	int n = 0;

	for (int k = 1; k <= max; k++) {
		double a = 0.0;

		switch (t) {
		case T_SAW:
		case T_PLUCK:
			a = 1.0 / k;
			break;
		case T_SQUARE:
			a = (k & 1) ? 1.0 / k : 0.0;
			break;
		case T_ORGAN:
			a = k <= 4 ? rnd_range(rng, 0.4, 1.0) : rnd_range(rng, 0.0, 0.3);
			break;
		case T_REED:
			a = k == 1 ? 1.0 : rnd_range(rng, 0.3, 0.9) / sqrt(k);
			break;
		default:
			break;
		}
		h[n++] = a;
	}
	return n;
}

/* Adds a note (with vibrato and an attack/decay/release envelope) at sample pos. */
static void note(struct bld *b, size_t pos, size_t n, double f, double amp, enum timbre t)
{
	double h[12], ph[12];
	int nh = harmonics(&b->rng, t, h, 12);
	double vib_rate = rnd_range(&b->rng, 4.5, 6.5);
	double vib = (rnd_next(&b->rng) & 1) ? rnd_range(&b->rng, 0.002, 0.008) : 0.0;
	double att = rnd_range(&b->rng, 0.005, 0.05) * DTMF_RATE;
	double rel = rnd_range(&b->rng, 0.02, 0.1) * DTMF_RATE;
	double decay = t == T_PLUCK ? rnd_range(&b->rng, 2, 8) : 0.0;

	if (pos + n > b->len)
		return;
	for (int k = 0; k < nh; k++)
		ph[k] = rnd_range(&b->rng, 0, 2 * M_PI);
	for (size_t i = 0; i < n; i++) {
		double tm = (double)i / DTMF_RATE;
		double env = 1.0, v = 0.0;
		double fi = f * (1.0 + vib * sin(2 * M_PI * vib_rate * tm));

		if (i < att)
			env = i / att;
		if (n - i < rel)
			env *= (n - i) / rel;
		for (int k = 0; k < nh; k++) {
			double fk = fi * (k + 1);

			if (fk >= 3800.0 || h[k] == 0.0)
				continue;
			ph[k] += 2 * M_PI * fk / DTMF_RATE;
			v += h[k] * exp(-decay * (k + 1) * tm) * sin(ph[k]);
		}
		b->x[pos + i] += (float)(amp * env * v);
	}
}

static double midi_hz(int m)
{
	return 440.0 * pow(2.0, (m - 69) / 12.0);
}

/* About 4 s of melody over chords, or two voices, or arpeggios, with drum hits. */
static int music_case(struct dtmf_corpus *c, uint64_t seed)
{
	struct bld b;
	size_t len = MS(4000), pos;
	int style;
	double amp;

	if (!new_case(c, &b, seed, DTMF_SET_MUSIC, DTMF_CORPUS_TALKOFF))
		return ENOMEM;
	pos = b.len;
	silence(&b, len);
	if (b.oom)
		return finish(c, &b, CODEC_LINEAR);
	style = rnd_int(&b.rng, 3);
	amp = amp_of(rnd_range(&b.rng, -20, -6)) * 0.4;
	for (size_t t = 0; t < len;) {
		size_t dur = MS(120) + (size_t)rnd_int(&b.rng, MS(500));
		enum timbre tb = (enum timbre)rnd_int(&b.rng, T_COUNT);
		int root = 55 + rnd_int(&b.rng, 24);

		if (t + dur > len)
			dur = len - t;
		switch (style) {
		case 0: /* melody over a triad */
			note(&b, pos + t, dur, midi_hz(root + 12), amp, tb);
			note(&b, pos + t, dur, midi_hz(root), amp * 0.6, tb);
			note(&b, pos + t, dur, midi_hz(root + 4 - rnd_int(&b.rng, 2)), amp * 0.6, tb);
			note(&b, pos + t, dur, midi_hz(root + 7), amp * 0.6, tb);
			break;
		case 1: /* two voices */
			note(&b, pos + t, dur, midi_hz(root), amp, tb);
			note(&b, pos + t, dur, midi_hz(root + 3 + rnd_int(&b.rng, 17)), amp, tb);
			break;
		default: /* arpeggio */
			for (size_t a = 0; a + MS(60) <= dur; a += MS(60))
				note(&b, pos + t + a, MS(90) < dur - a ? MS(90) : dur - a,
				     midi_hz(root + 4 * rnd_int(&b.rng, 4)), amp, tb);
			break;
		}
		if (rnd_int(&b.rng, 3) == 0) {
			/* A drum hit: decaying noise burst. */
			for (size_t i = 0; i < MS(80) && t + i < len; i++)
				b.x[pos + t + i] += (float)(amp * rnd_gauss(&b.rng) *
							    exp(-(double)i / MS(15)));
		}
		t += dur;
	}
	silence(&b, MS(40));
	noise(&b, amp * amp * 1e-4);
	return finish(c, &b, (enum codec)rnd_int(&b.rng, 3));
}

/* ---- corpus ---- */

int dtmf_corpus_create(struct dtmf_corpus **cp, uint64_t seed)
{
	struct dtmf_corpus *c;
	int err = 0;

	if (!cp)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	for (int s = 0; s < 4 && !err; s++) {
		double sl = (s & 1) ? 1 : -1, sh = (s & 2) ? 1 : -1;

		for (int w = 0; w < 2 && !err; w++) {
			err = edge_case(c, seed, DTMF_SET_EDGE, sl, sh, 4, w);
			if (!err)
				err = edge_case(c, seed, DTMF_SET_EDGE, sl, sh, -4, w);
			if (!err)
				err = edge_case(c, seed, DTMF_SET_EDGE_TWIST, sl, sh, -8, w);
		}
	}
	for (int i = 0; i < 2 && !err; i++)
		err = levels_case(c, seed);
	for (int i = 0; i < 12 && !err; i++)
		err = noisy_case(c, seed);
	for (int i = 0; i < 8 && !err; i++)
		err = noisy_mean_case(c, seed);
	for (int i = 0; i < 3 && !err; i++)
		err = long_case(c, seed);
	for (int i = 0; i < 6 && !err; i++)
		err = dropout_case(c, seed);
	for (int i = 0; i < 6 && !err; i++)
		err = offfreq_case(c, seed);
	for (int i = 0; i < 4 && !err; i++)
		err = short_case(c, seed);
	for (int i = 0; i < 3 && !err; i++)
		err = weak_case(c, seed);
	for (int i = 0; i < 3 && !err; i++)
		err = twist_case(c, seed);
	for (int i = 0; i < 2 && !err; i++)
		err = single_case(c, seed);
	for (int i = 0; i < 16 && !err; i++)
		err = music_case(c, seed);
	if (err) {
		dtmf_corpus_destroy(c);
		return err;
	}
	*cp = c;
	return 0;
}

void dtmf_corpus_destroy(struct dtmf_corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++)
		free(c->cases[i].audio);
	free(c->cases);
	free(c);
}

size_t dtmf_corpus_count(const struct dtmf_corpus *c)
{
	return c ? c->count : 0;
}

const struct dtmf_corpus_case *dtmf_corpus_get(const struct dtmf_corpus *c, size_t i)
{
	return c && i < c->count ? &c->cases[i] : NULL;
}
