/* test_xcode.c — one transcoding direction with simulated time: PCMU -> Opus and
 * Opus -> PCMU keep a tone's frequency and level, Opus steps 960 per 20 ms, DTX input
 * gives continuous G.711 with nothing counted as concealed, FEC recovers a dropped
 * packet, 5 % random loss leaves no gap in the output, and G.711 loss is concealed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

#include "g711.h"
#include "test_media.h"
#include "xcode.h"

#define PI 3.14159265358979

/* Tone analysis of 8 kHz audio: frequency from zero crossings, RMS level in dBFS. */
static void tone_of(const int16_t *x, size_t n, double *hz, double *dbfs)
{
	size_t zc = 0;
	double e = 0;

	for (size_t i = 1; i < n; i++)
		if ((x[i - 1] < 0) != (x[i] < 0))
			zc++;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	*hz = zc / 2.0 / ((double)n / 8000.0);
	*dbfs = 10 * log10(e / n / (32768.0 * 32768.0 / 2) + 1e-12);
}

static void sine(int16_t *x, size_t n, double hz, double amp, double rate, size_t *phase)
{
	for (size_t i = 0; i < n; i++, (*phase)++)
		x[i] = (int16_t)(amp * sin(2 * PI * hz * (double)*phase / rate));
}

static void pcmu_to_opus(void **state)
{
	struct xcode *x;
	OpusDecoder *dec;
	int err;
	static int16_t heard[8000 * 3];
	size_t nh = 0, ph = 0;
	uint64_t t = 0;

	(void)state;
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_PCMU, MEDIA_CODEC_OPUS, 20,
				      &(struct media_opus_params){.complexity = 5}, 200), 0);
	assert_int_equal(xcode_out_step(x), 960);   /* 20 ms at the 48 kHz RTP clock */
	dec = opus_decoder_create(8000, 1, &err);
	assert_non_null(dec);
	for (int i = 0; i < 150; i++, t += 20000) {
		int16_t pcm[160];
		uint8_t pkt[160], out[CODEC_OUT_MAX];
		int n;

		sine(pcm, 160, 1000, 10000, 8000, &ph);
		for (int k = 0; k < 160; k++)
			pkt[k] = g711_ulaw_encode(pcm[k]);
		xcode_push(x, (uint16_t)i, (uint32_t)(i * 160), pkt, 160, t);
		n = xcode_pull(x, t + 500, out, sizeof(out));
		assert_true(n >= 0);
		if (n > 0 && nh + 160 <= sizeof(heard) / 2) {
			int d = opus_decode(dec, out, n, heard + nh, 960, 0);

			assert_int_equal(d, 160);
			nh += 160;
		}
	}
	assert_true(nh >= 140 * 160);
	{
		double hz, db, want = 20 * log10(10000.0 / 32768.0);

		tone_of(heard + 8000, nh - 8000, &hz, &db);
		print_message("pcmu->opus: %.1f Hz, %.1f dBFS (sent %.1f)\n", hz, db, want);
		assert_true(fabs(hz - 1000) < 10);
		assert_true(fabs(db - want) < 3);
	}
	opus_decoder_destroy(dec);
	xcode_destroy(x);
}

/* An Opus sender at 48 kHz (as softphones are), DTX and FEC as asked. */
struct sender {
	OpusEncoder *enc;
	bool         voice;   /* a voiced, syllabic signal instead of a tone */
	unsigned     seed;
	uint16_t     seq;
	uint32_t     ts;
	size_t       phase;
};

static void sender_open(struct sender *s, bool dtx, bool fec, int bitrate)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	assert_non_null(s->enc);
	opus_encoder_ctl(s->enc, OPUS_SET_DTX(dtx));
	opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(fec));
	opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(fec ? 20 : 0));
	opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(bitrate));
	opus_encoder_ctl(s->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	s->seq = 100;
	s->ts = 12345;
}

/* Encodes the next 20 ms (a tone, or silence when amp is 0). Returns the size;
 * sizes <= 2 are DTX frames a sender does not transmit. */
static int sender_frame(struct sender *s, double hz, double amp, uint8_t *out)
{
	int16_t pcm[960];
	int n;

	if (s->voice && amp > 0) {
		/* harmonics of hz, 3 Hz syllable envelope, a little noise: SILK's VAD
		 * calls it speech, so FEC (LBRR) is coded */
		for (int k = 0; k < 960; k++, s->phase++) {
			double t = (double)s->phase / 48000, v = 0;

			for (int h = 1; h <= 12; h++)
				v += sin(2 * PI * hz * h * t) / h;
			pcm[k] = (int16_t)(amp * 0.6 * (0.6 + 0.4 * sin(2 * PI * 3 * t)) * v +
					   (int)(rand_r(&s->seed) % 400) - 200);
		}
	} else {
		sine(pcm, 960, hz, amp, 48000, &s->phase);
	}
	n = opus_encode(s->enc, pcm, 960, out, 1500);
	assert_true(n > 0);
	s->ts += 960;
	return n;
}

static void opus_to_pcmu_tone(void **state)
{
	struct xcode *x;
	struct sender s;
	static int16_t heard[8000 * 3];
	size_t nh = 0;
	uint64_t t = 0;

	(void)state;
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_OPUS, MEDIA_CODEC_PCMU, 20, NULL, 200), 0);
	assert_int_equal(xcode_out_step(x), 160);
	sender_open(&s, false, false, 32000);
	for (int i = 0; i < 150; i++, t += 20000) {
		uint8_t pkt[1500], out[CODEC_OUT_MAX];
		uint32_t ts = s.ts;
		int n = sender_frame(&s, 700, 8000, pkt);

		xcode_push(x, s.seq++, ts, pkt, (size_t)n, t);
		n = xcode_pull(x, t + 500, out, sizeof(out));
		if (n > 0) {
			assert_int_equal(n, 160);
			for (int k = 0; k < 160 && nh < sizeof(heard) / 2; k++)
				heard[nh++] = g711_ulaw_decode(out[k]);
		}
	}
	{
		double hz, db, want = 20 * log10(8000.0 / 32768.0);

		tone_of(heard + 4000, nh - 4000, &hz, &db);
		print_message("opus->pcmu: %.1f Hz, %.1f dBFS (sent %.1f)\n", hz, db, want);
		assert_true(fabs(hz - 700) < 10);
		assert_true(fabs(db - want) < 3);
	}
	opus_encoder_destroy(s.enc);
	xcode_destroy(x);
}

static void dtx_continuous(void **state)
{
	struct xcode *x;
	struct sender s;
	uint64_t t = 0;
	int pulls = 0, outs = 0, skipped = 0;
	bool started = false;

	(void)state;
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_OPUS, MEDIA_CODEC_PCMU, 20, NULL, 200), 0);
	sender_open(&s, true, false, 16000);
	for (int i = 0; i < 250; i++, t += 20000) {
		uint8_t pkt[1500], out[CODEC_OUT_MAX];
		bool talk = i < 60 || (i >= 160 && i < 200);
		uint32_t ts = s.ts;
		int n = sender_frame(&s, 500, talk ? 9000 : 0, pkt);

		if (n > 2)
			xcode_push(x, s.seq++, ts, pkt, (size_t)n, t);
		else
			skipped++;
		n = xcode_pull(x, t + 500, out, sizeof(out));
		if (n > 0)
			started = true;
		if (started) {
			pulls++;
			if (n == 160)
				outs++;
		}
	}
	print_message("dtx: %d frames not sent by the peer, %d/%d pulls gave 160 bytes\n",
		      skipped, outs, pulls);
	assert_true(skipped > 50);           /* the peer really was in DTX */
	assert_int_equal(outs, pulls);       /* continuous 50 pps out */
	assert_int_equal(x->c.concealed, 0); /* DTX is not loss */
	assert_int_equal(x->jb.c.lost, 0);
	opus_encoder_destroy(s.enc);
	xcode_destroy(x);
}

static void fec_recovers(void **state)
{
	struct xcode *x;
	struct sender s;
	uint64_t t = 0;

	(void)state;
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_OPUS, MEDIA_CODEC_PCMA, 20, NULL, 200), 0);
	sender_open(&s, false, true, 20000);
	s.voice = true;
	for (int i = 0; i < 100; i++, t += 20000) {
		uint8_t pkt[1500], out[CODEC_OUT_MAX];
		uint32_t ts = s.ts;
		int n = sender_frame(&s, 140, 9000, pkt);
		uint16_t seq = s.seq++;

		if (i != 50)   /* dropped on the way */
			xcode_push(x, seq, ts, pkt, (size_t)n, t);
		(void)xcode_pull(x, t + 500, out, sizeof(out));
	}
	print_message("fec: recovered %llu, concealed %llu\n", (unsigned long long)x->c.fec,
		      (unsigned long long)x->c.concealed);
	assert_int_equal(x->c.fec, 1);
	assert_int_equal(x->c.concealed, 0);
	opus_encoder_destroy(s.enc);
	xcode_destroy(x);
}

static void loss5_no_gap(enum media_codec in)
{
	struct xcode *x;
	struct sender s;
	uint64_t t = 0;
	unsigned seed = 5, dropped = 0;
	int pulls = 0, outs = 0;
	bool started = false;
	size_t ph = 0;
	enum media_codec out = in == MEDIA_CODEC_OPUS ? MEDIA_CODEC_PCMU : MEDIA_CODEC_OPUS;

	assert_int_equal(xcode_create(&x, in, out, 20, NULL, 200), 0);
	sender_open(&s, false, false, 24000);
	for (int i = 0; i < 1000; i++, t += 20000) {
		uint8_t pkt[1500], o[CODEC_OUT_MAX];
		uint32_t ts = in == MEDIA_CODEC_OPUS ? s.ts : (uint32_t)i * 160;
		int n;

		if (in == MEDIA_CODEC_OPUS) {
			n = sender_frame(&s, 440, 8000, pkt);
		} else {
			int16_t pcm[160];

			sine(pcm, 160, 440, 8000, 8000, &ph);
			for (int k = 0; k < 160; k++)
				pkt[k] = g711_ulaw_encode(pcm[k]);
			n = 160;
		}
		if (i > 5 && rand_r(&seed) % 100 < 5)
			dropped++;
		else
			xcode_push(x, (uint16_t)(100 + i), ts, pkt, (size_t)n, t);
		n = xcode_pull(x, t + 500, o, sizeof(o));
		if (n > 0)
			started = true;
		if (started) {
			pulls++;
			if (n > 0)
				outs++;
		}
	}
	print_message("5 %% loss %s: dropped %u, concealed %llu, %d/%d pulls with audio\n",
		      codec_name(in), dropped, (unsigned long long)x->c.concealed, outs, pulls);
	assert_int_equal(outs, pulls);
	assert_true(dropped > 30);
	/* every dropped packet concealed once (the last ones may still be buffered) */
	assert_true(x->c.concealed + x->c.fec <= dropped && x->c.concealed + x->c.fec + 3 >= dropped);
	opus_encoder_destroy(s.enc);
	xcode_destroy(x);
}

static void loss5_opus(void **state)
{
	(void)state;
	loss5_no_gap(MEDIA_CODEC_OPUS);
}

static void loss5_pcmu(void **state)
{
	(void)state;
	loss5_no_gap(MEDIA_CODEC_PCMU);
}

static void plc_continues_tone(void **state)
{
	struct plc p;
	int16_t a[480], c[160];
	size_t ph = 0;
	double hz, db;

	(void)state;
	plc_init(&p);
	sine(a, 480, 250, 10000, 8000, &ph);
	plc_good(&p, a, 480);
	plc_conceal(&p, c, 160);   /* the period repeats, at full level for 10 ms */
	tone_of(c, 160, &hz, &db);
	assert_true(fabs(hz - 250) < 30);
	tone_of(c, 80, &hz, &db);
	assert_true(db > 20 * log10(10000.0 / 32768.0) - 2);
	plc_conceal(&p, c, 160);
	plc_conceal(&p, c, 160);
	plc_conceal(&p, c, 160);   /* 60-80 ms: silent */
	for (int i = 0; i < 160; i++)
		assert_int_equal(c[i], 0);
}

static void bad_args(void **state)
{
	struct xcode *x;
	uint8_t junk[3] = {0xff, 0xff, 0xff}, out[CODEC_OUT_MAX];

	(void)state;
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_PCMU, MEDIA_CODEC_OPUS, 30, NULL, 200),
			 EINVAL);   /* Opus has no 30 ms frame */
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_NONE, MEDIA_CODEC_PCMU, 20, NULL, 200),
			 EINVAL);
	assert_int_equal(xcode_create(&x, MEDIA_CODEC_OPUS, MEDIA_CODEC_PCMU, 20, NULL, 200), 0);
	assert_int_equal(xcode_push(x, 1, 0, junk, 3, 0), JB_PUT_BAD);  /* not Opus */
	assert_int_equal(xcode_pull(x, 100000, out, sizeof(out)), 0);
	xcode_destroy(x);
}

int test_xcode_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pcmu_to_opus),
		cmocka_unit_test(opus_to_pcmu_tone),
		cmocka_unit_test(dtx_continuous),
		cmocka_unit_test(fec_recovers),
		cmocka_unit_test(loss5_opus),
		cmocka_unit_test(loss5_pcmu),
		cmocka_unit_test(plc_continues_tone),
		cmocka_unit_test(bad_args),
	};

	return cmocka_run_group_tests_name("xcode", tests, NULL, NULL);
}
