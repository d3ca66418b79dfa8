/*
 * test_opus_dtmf.c — in-band DTMF on Opus legs through the engine with real sockets
 * (the test plays both remote parties, libopus on its side):
 *  - transcoded: tones in an in-band Opus leg's audio -> RFC 4733 toward PCMU, with
 *    no residual tone energy in the PCMU audio; RFC 4733 from PCMU -> tones encoded
 *    into the Opus stream toward an in-band Opus leg, decoded back and detected;
 *  - relayed Opus <-> Opus: the same both ways while the session stays a relay (only
 *    the packets a digit needs are replaced, with the stream's sequence numbers).
 * Each direction checks one SSRC and contiguous sequence numbers, and the digit's
 * MEDIA_EV_DTMF (side, how it came).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <opus/opus.h>

#include "dtmf.h"
#include "g711.h"
#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "test_media_dtmf.h"

#define WAIT_MS 3000
#define COOKIE  77
#define OPT     111   /* Opus PT on both legs */
#define TEPT    101
#define RXN     200
#define PI      3.14159265358979323846

struct orx {
	int      n;
	struct rtp_hdr h[RXN];
	uint8_t  pl[RXN][400];
	uint16_t len[RXN];
};

/* A side: its codec (transcoding when the two differ) and its DTMF mode. */
static void oside(struct media_side_params *sp, enum media_codec c, enum media_dtmf_mode mode,
		  uint32_t te_rate)
{
	uint8_t pt = c == MEDIA_CODEC_OPUS ? OPT : 0;
	uint8_t te = mode == MEDIA_DTMF_RFC4733 ? TEPT : MEDIA_PT_NONE;

	sp->pt_map[OPT] = OPT;
	sp->codec.codec = c;
	sp->codec.pt = pt;
	sp->codec.pt_rx[0] = pt;
	sp->codec.pt_rx[1] = MEDIA_PT_NONE;
	sp->codec.te_pt = te;
	sp->codec.te_pt_rx[0] = te;
	sp->codec.te_pt_rx[1] = MEDIA_PT_NONE;
	sp->codec.te_rate = te_rate;
	sp->codec.ptime = 20;
	sp->codec.opus.complexity = 5;
	sp->dtmf.enabled = true;
	sp->dtmf.mode = mode;
	sp->dtmf.te_pt = sp->dtmf.te_pt_rx = te;
	sp->dtmf.te_rate = te_rate;
	sp->dtmf.audio_pt = sp->dtmf.audio_pt_rx = pt;
	sp->dtmf.opus = c == MEDIA_CODEC_OPUS;
	sp->dtmf.ptime = 20;
}

static void ofx_open(struct mfx *f, enum media_codec ca, enum media_dtmf_mode ma,
		     enum media_codec cb, enum media_dtmf_mode mb)
{
	struct media_engine_cfg cfg;

	test_engine_cfg(&cfg, 8, 1);
	mfx_open(f, &cfg, COOKIE);
	oside(&f->p.side[0], ca, ma, ca == MEDIA_CODEC_OPUS ? 48000 : 8000);
	oside(&f->p.side[1], cb, mb, cb == MEDIA_CODEC_OPUS ? 48000 : 8000);
	mfx_update(f);
	sleep_ms(30);
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void collect(struct peer *p, struct orx *r)
{
	uint8_t buf[1500];
	ssize_t n;

	while ((n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct rtp_hdr h;

		if (r->n == RXN || rtp_hdr_parse(&h, buf, (size_t)n))
			continue;
		assert_true(h.payload_len <= sizeof(r->pl[0]));
		r->h[r->n] = h;
		r->len[r->n] = (uint16_t)h.payload_len;
		memcpy(r->pl[r->n], buf + h.hdr_len, h.payload_len);
		r->n++;
	}
}

/* Sleeps until t_us, collecting what both peers receive meanwhile. */
static void pace(struct mfx *f, uint64_t t_us, struct orx *ra, struct orx *rb)
{
	for (;;) {
		uint64_t now = mono_us();

		collect(&f->a, ra);
		collect(&f->b, rb);
		if (now >= t_us)
			return;
		sleep_ms((unsigned)((t_us - now) / 1000u > 2 ? 2 : (t_us - now) / 1000u + 1));
	}
}

static void send_rtp(struct peer *p, uint16_t port, uint8_t pt, bool m, uint16_t seq,
		     uint32_t ts, const uint8_t *pl, size_t n)
{
	struct rtp_hdr h = {.pt = pt, .seq = seq, .ts = ts, .ssrc = 0x5151, .marker = m};
	uint8_t buf[1500];
	size_t hl;

	assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &hl), 0);
	memcpy(buf + hl, pl, n);
	peer_send(p, port, buf, hl + n);
}

static void send_ev(struct peer *p, uint16_t port, uint16_t seq, uint32_t ts, uint8_t ev,
		    bool end, uint16_t dur, bool m)
{
	uint8_t pl[4] = {ev, (uint8_t)((end ? 0x80 : 0) | 10), (uint8_t)(dur >> 8), (uint8_t)dur};

	send_rtp(p, port, TEPT, m, seq, ts, pl, 4);
}

/* 20 ms at 48 kHz: a quiet 300 Hz background, plus a digit's two tones from sample
 * `on` of the call for `len` samples (-12 dBFS each). */
static void frame48(int16_t *x, unsigned frame, char digit, unsigned on, unsigned len)
{
	float lo = 0, hi = 0;

	if (digit)
		assert_int_equal(dtmf_digit_freqs(digit, &lo, &hi), 0);
	for (unsigned k = 0; k < 960; k++) {
		unsigned t = frame * 960 + k;
		double v = 800 * sin(2 * PI * 300 * t / 48000.0);

		if (digit && t >= on && t < on + len)
			v += 8000 * (sin(2 * PI * lo * t / 48000.0) + sin(2 * PI * hi * t / 48000.0));
		x[k] = (int16_t)v;
	}
}

/* Mean power of frequency f in x[0..n) at 8 kHz (a sine of amplitude A: A^2 / 2). */
static double power_at(const int16_t *x, size_t n, double f)
{
	double c = 2 * cos(2 * PI * f / 8000), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return (s1 * s1 + s2 * s2 - c * s1 * s2) * 2 / ((double)n * n);
}

/* Highest power of a digit's tones in any 10 ms block of x, dB below one sent tone
 * (8000 amplitude). */
static double residual_db(const int16_t *x, size_t n, char digit)
{
	float lo, hi;
	double worst = 1e-3;

	assert_int_equal(dtmf_digit_freqs(digit, &lo, &hi), 0);
	for (size_t off = 0; off + 80 <= n; off += 80) {
		double p = fmax(power_at(x + off, 80, lo), power_at(x + off, 80, hi));

		worst = fmax(worst, p);
	}
	return 10 * log10(8000.0 * 8000.0 / 2 / worst);
}

/* 20 ms frames of x that carry the 300 Hz background (-8 dB margin). */
static unsigned background_frames(const int16_t *x, size_t n)
{
	unsigned k = 0;

	for (size_t off = 0; off + 160 <= n; off += 160)
		k += power_at(x + off, 160, 300) > 800.0 * 800.0 / 2 / 6.3;
	return k;
}

struct heard {
	char     d[16];
	unsigned n;
};

static void on_det(const struct dtmf_event *ev, void *arg)
{
	struct heard *h = arg;

	if (ev->type == DTMF_EV_BEGIN && h->n < 15)
		h->d[h->n++] = ev->digit;
}

static void detect(const int16_t *x, size_t n, struct heard *h)
{
	struct dtmf_det *d;

	memset(h, 0, sizeof(*h));
	assert_int_equal(dtmf_det_create(&d, NULL, on_det, h), 0);
	(void)dtmf_det_process(d, x, n);
	dtmf_det_flush(d);
	dtmf_det_destroy(d);
}

static void one_stream(const struct orx *r)
{
	for (int i = 1; i < r->n; i++) {
		assert_int_equal(r->h[i].ssrc, r->h[0].ssrc);
		assert_int_equal((uint16_t)(r->h[i].seq - r->h[i - 1].seq), 1);
	}
}

/* The RFC 4733 digits in r (one per timestamp) and their end packets. */
static void events_in(const struct orx *r, char *out, unsigned *ends)
{
	size_t n = 0;
	bool have = false;
	uint32_t ts = 0;

	*ends = 0;
	for (int i = 0; i < r->n; i++) {
		if (r->h[i].pt != TEPT)
			continue;
		if (!have || r->h[i].ts != ts) {
			assert_true(r->h[i].marker);
			out[n++] = dtmf_event_digit(r->pl[i][0]);
			ts = r->h[i].ts;
			have = true;
		}
		*ends += (r->pl[i][1] & 0x80) != 0;
	}
	out[n] = 0;
}

/* Decodes the Opus packets of r at 8 kHz, in order, into x. */
static size_t decode_opus(const struct orx *r, int16_t *x, size_t cap)
{
	int err;
	OpusDecoder *dec = opus_decoder_create(8000, 1, &err);
	size_t n = 0;

	assert_non_null(dec);
	for (int i = 0; i < r->n; i++) {
		int k;

		if (r->h[i].pt != OPT || n + 960 > cap)
			continue;
		k = opus_decode(dec, r->pl[i], r->len[i], x + n, 960, 0);
		assert_true(k > 0);
		n += (size_t)k;
	}
	opus_decoder_destroy(dec);
	return n;
}

static OpusEncoder *peer_encoder(void)
{
	int err;
	OpusEncoder *e = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);

	assert_non_null(e);
	opus_encoder_ctl(e, OPUS_SET_BITRATE(32000));
	return e;
}

static void check_event(struct mfx *f, char digit, enum media_side side, bool inband)
{
	struct media_event ev;

	assert_true(evlog_wait(&f->log, MEDIA_EV_DTMF, COOKIE, WAIT_MS, &ev));
	assert_int_equal(ev.dtmf.digit, digit);
	assert_int_equal(ev.dtmf.side, side);
	assert_int_equal(ev.dtmf.inband, inband);
	assert_true(ev.dtmf.duration_ms >= 80 && ev.dtmf.duration_ms <= 200);
}

/* A (Opus, in-band) plays '5' for 120 ms; B (PCMU) gets it as RFC 4733, and its audio
 * keeps the background but none of the tone. */
static void test_xc_opus_inband_to_rfc4733(void **state)
{
	static struct mfx f;
	static struct orx ra, rb;
	static int16_t heard[60 * 160];
	OpusEncoder *enc = peer_encoder();
	struct heard det;
	size_t nh = 0;
	unsigned ends;
	char digits[8];
	uint64_t t0;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	ofx_open(&f, MEDIA_CODEC_OPUS, MEDIA_DTMF_INBAND, MEDIA_CODEC_PCMU, MEDIA_DTMF_RFC4733);
	t0 = mono_us();
	for (unsigned i = 0; i < 50; i++) {
		int16_t x[960];
		uint8_t op[400];
		int n;

		frame48(x, i, '5', 15 * 960 + 333, 5760);
		n = opus_encode(enc, x, 960, op, sizeof(op));
		assert_true(n > 0);
		send_rtp(&f.a, f.pa, OPT, i == 0, (uint16_t)(100 + i), 4800u + 960u * i, op,
			 (size_t)n);
		pace(&f, t0 + 20000u * (i + 1), &ra, &rb);
	}
	pace(&f, mono_us() + 250000, &ra, &rb);
	opus_encoder_destroy(enc);
	assert_true(rb.n >= 40);
	one_stream(&rb);
	events_in(&rb, digits, &ends);
	assert_string_equal(digits, "5");
	assert_int_equal(ends, 3);
	for (int i = 0; i < rb.n; i++)
		for (unsigned k = 0; rb.h[i].pt == 0 && k < rb.len[i] && nh < 60 * 160; k++)
			heard[nh++] = g711_ulaw_decode(rb.pl[i][k]);
	detect(heard, nh, &det);
	assert_int_equal(det.n, 0);                        /* no double digit */
	print_message("transcoded: residual tone %.1f dB below the tone\n",
		      residual_db(heard, nh, '5'));
	assert_true(residual_db(heard, nh, '5') > 35.0);   /* no tone energy left */
	assert_true(background_frames(heard, nh) >= 25);   /* the rest of the audio goes on */
	check_event(&f, '5', MEDIA_SIDE_A, true);
	mfx_close(&f, NULL);
}

/* A (PCMU) sends '7' as RFC 4733; B (Opus) takes in-band: its Opus stream carries
 * the tone (decoded back and detected), and no event packet. */
static void test_xc_rfc4733_to_opus_inband(void **state)
{
	static struct mfx f;
	static struct orx ra, rb;
	static int16_t heard[80 * 960];
	uint8_t silence[160];
	struct heard det;
	size_t nh;
	uint16_t seq = 700;
	uint64_t t0;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	memset(silence, 0xff, sizeof(silence));
	ofx_open(&f, MEDIA_CODEC_PCMU, MEDIA_DTMF_RFC4733, MEDIA_CODEC_OPUS, MEDIA_DTMF_INBAND);
	t0 = mono_us();
	for (unsigned i = 0; i < 40; i++) {
		if (i >= 10 && i < 18)
			send_ev(&f.a, f.pa, seq++, 1600, 7, false, (uint16_t)(160 * (i - 9)), i == 10);
		if (i == 18)
			for (int k = 0; k < 3; k++)
				send_ev(&f.a, f.pa, seq++, 1600, 7, true, 1280, false);
		send_rtp(&f.a, f.pa, 0, i == 0, seq++, 160u * i, silence, 160);
		pace(&f, t0 + 20000u * (i + 1), &ra, &rb);
	}
	pace(&f, mono_us() + 250000, &ra, &rb);
	assert_true(rb.n >= 30);
	one_stream(&rb);
	for (int i = 0; i < rb.n; i++)
		assert_int_equal(rb.h[i].pt, OPT);
	nh = decode_opus(&rb, heard, sizeof(heard) / sizeof(heard[0]));
	detect(heard, nh, &det);
	assert_string_equal(det.d, "7");
	check_event(&f, '7', MEDIA_SIDE_A, false);
	mfx_close(&f, NULL);
}

/* Opus on both legs stays a relay: A (in-band) plays '3' -> RFC 4733 toward B with the
 * tone gone from B's audio; B sends '9' as RFC 4733 -> tones in A's Opus stream. */
static void test_relay_opus_both_ways(void **state)
{
	static struct mfx f;
	static struct orx ra, rb;
	static int16_t heard[80 * 960];
	OpusEncoder *ea = peer_encoder(), *eb = peer_encoder();
	struct heard det;
	struct media_event ev;
	size_t nh;
	unsigned ends;
	char digits[8];
	uint16_t seq_b = 3000;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	ofx_open(&f, MEDIA_CODEC_OPUS, MEDIA_DTMF_INBAND, MEDIA_CODEC_OPUS, MEDIA_DTMF_RFC4733);
	for (unsigned i = 0; i < 45; i++) {
		int16_t x[960];
		uint8_t op[400];
		int n;

		frame48(x, i, '3', 12 * 960 + 500, 5760);
		n = opus_encode(ea, x, 960, op, sizeof(op));
		assert_true(n > 0);
		send_rtp(&f.a, f.pa, OPT, i == 0, (uint16_t)(10 + i), 960u * i, op, (size_t)n);
		/* B: background, and '9' as events (48 kHz clock) over packets 20..27 */
		if (i >= 20 && i < 28)
			send_ev(&f.b, f.pb, seq_b++, 90000, 9, false, (uint16_t)(960 * (i - 19)),
				i == 20);
		if (i == 28)
			for (int k = 0; k < 3; k++)
				send_ev(&f.b, f.pb, seq_b++, 90000, 9, true, 7680, false);
		frame48(x, i, 0, 0, 0);
		n = opus_encode(eb, x, 960, op, sizeof(op));
		assert_true(n > 0);
		send_rtp(&f.b, f.pb, OPT, i == 0, seq_b++, 70000u + 960u * i, op, (size_t)n);
		sleep_ms(3);
		collect(&f.a, &ra);
		collect(&f.b, &rb);
	}
	pace(&f, mono_us() + 250000, &ra, &rb);
	opus_encoder_destroy(ea);
	opus_encoder_destroy(eb);
	/* A -> B: every packet relayed or replaced, '3' as RFC 4733, no tone left */
	one_stream(&rb);
	events_in(&rb, digits, &ends);
	assert_string_equal(digits, "3");
	assert_int_equal(ends, 3);
	nh = decode_opus(&rb, heard, sizeof(heard) / sizeof(heard[0]));
	detect(heard, nh, &det);
	assert_int_equal(det.n, 0);
	print_message("relayed: residual tone %.1f dB below the tone\n",
		      residual_db(heard, nh, '3'));
	assert_true(residual_db(heard, nh, '3') > 35.0);
	assert_true(background_frames(heard, nh) >= 25);
	/* B -> A: the events gone, the tone in the Opus audio; 45 packets in one stream */
	assert_true(ra.n >= 45);   /* (a stalled loop may let digits go in packets of their own) */
	one_stream(&ra);
	for (int i = 0; i < ra.n; i++)
		assert_int_equal(ra.h[i].pt, OPT);
	nh = decode_opus(&ra, heard, sizeof(heard) / sizeof(heard[0]));
	detect(heard, nh, &det);
	assert_string_equal(det.d, "9");
	/* both digits reported, each with how it came */
	assert_true(evlog_wait(&f.log, MEDIA_EV_DTMF, COOKIE, WAIT_MS, &ev));
	for (int k = 0; k < 100 && evlog_count(&f.log, MEDIA_EV_DTMF, COOKIE) < 2; k++)
		sleep_ms(10);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_DTMF, COOKIE), 2);
	pthread_mutex_lock(&f.log.lock);
	for (int i = 0; i < f.log.n; i++) {
		const struct media_event *e = &f.log.ev[i];

		if (e->type != MEDIA_EV_DTMF)
			continue;
		assert_int_equal(e->dtmf.digit, e->dtmf.side == MEDIA_SIDE_A ? '3' : '9');
		assert_int_equal(e->dtmf.inband, e->dtmf.side == MEDIA_SIDE_A);
	}
	pthread_mutex_unlock(&f.log.lock);
	mfx_close(&f, NULL);
}

int test_opus_dtmf_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xc_opus_inband_to_rfc4733),
		cmocka_unit_test(test_xc_rfc4733_to_opus_inband),
		cmocka_unit_test(test_relay_opus_both_ways),
	};

	return cmocka_run_group_tests_name("opus_dtmf", tests, NULL, NULL);
}
