/*
 * test_engine_dtmf.c — DTMF interworking through the engine with real sockets (the
 * test plays both remote parties): in-band -> RFC 4733 with the tone gone from the
 * forwarded audio, RFC 4733 -> in-band tones, a burst of digits from signalling
 * ("123#") in order, duration and timestamp rescaling 8 kHz -> 48 kHz (a long press
 * in segments, an event type negotiated on one side only), a lost end ended by timeout,
 * an in-band digit ended although its leg stops sending right after it, and end
 * packets sent when the call ends mid-digit. Each checks the stream keeps one
 * SSRC and contiguous sequence numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "dtmf.h"
#include "g711.h"
#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "test_media_dtmf.h"

#define WAIT_MS 3000
#define COOKIE  88

static void dtmf_side(struct media_side_params *sp, enum media_dtmf_mode mode, uint32_t rate)
{
	sp->dtmf.enabled = true;
	sp->dtmf.mode = mode;
	sp->dtmf.te_pt = mode == MEDIA_DTMF_RFC4733 ? 101 : MEDIA_PT_NONE;
	sp->dtmf.te_pt_rx = sp->dtmf.te_pt;
	sp->dtmf.audio_pt_rx = 0;
	sp->dtmf.te_rate = rate;
	sp->dtmf.audio_pt = 0;
	sp->dtmf.alaw = false;
	sp->dtmf.ptime = 20;
}

static void setup(struct mfx *f, enum media_dtmf_mode ma, enum media_dtmf_mode mb,
		  uint32_t rate_b)
{
	struct media_engine_cfg cfg;

	test_engine_cfg(&cfg, 8, 1);
	mfx_open(f, &cfg, COOKIE);
	dtmf_side(&f->p.side[0], ma, 8000);
	dtmf_side(&f->p.side[1], mb, rate_b);
	mfx_update(f);
	sleep_ms(30);
}

static void send_pkt(struct peer *p, uint16_t port, uint8_t pt, bool m, uint16_t seq,
		     uint32_t ts, const uint8_t *pl, size_t n)
{
	uint8_t buf[12 + 160];

	buf[0] = 0x80;
	rtp_set_pt(buf, pt, m);
	rtp_set_seq(buf, seq);
	rtp_set_ts(buf, ts);
	rtp_set_ssrc(buf, 0x1234);
	memcpy(buf + 12, pl, n);
	peer_send(p, port, buf, 12 + n);
}

static void send_te(struct peer *p, uint16_t port, uint16_t seq, uint32_t ts, uint8_t ev,
		    bool end, uint16_t dur, bool m)
{
	uint8_t pl[4] = {ev, (uint8_t)((end ? 0x80 : 0) | 10), (uint8_t)(dur >> 8),
			 (uint8_t)dur};

	send_pkt(p, port, 101, m, seq, ts, pl, 4);
}

/* What one peer received, in order. */
struct rx {
	uint8_t  pt[400];
	uint16_t seq[400];
	uint32_t ts[400];
	uint32_t ssrc[400];
	bool     marker[400];
	uint8_t  pl[400][4];
	uint16_t len[400];
	int16_t  audio[400 * 160];
	size_t   naudio;
	int      n;
};

static void recv_all(struct peer *p, struct rx *r, int want, int quiet_ms)
{
	uint8_t buf[2048];

	while (r->n < 400 && (want <= 0 || r->n < want)) {
		ssize_t n = peer_recv(p, buf, sizeof(buf), r->n < want ? WAIT_MS : quiet_ms,
				      NULL);
		struct rtp_hdr h;

		if (n < 0)
			break;
		if (rtp_hdr_parse(&h, buf, (size_t)n))
			continue;
		r->pt[r->n] = h.pt;
		r->seq[r->n] = h.seq;
		r->ts[r->n] = h.ts;
		r->ssrc[r->n] = h.ssrc;
		r->marker[r->n] = h.marker;
		r->len[r->n] = (uint16_t)h.payload_len;
		memcpy(r->pl[r->n], buf + h.hdr_len, h.payload_len >= 4 ? 4 : h.payload_len);
		if (h.pt == 0)
			for (size_t i = 0; i < h.payload_len && r->naudio < 400 * 160; i++)
				r->audio[r->naudio++] = g711_ulaw_decode(buf[h.hdr_len + i]);
		r->n++;
	}
}

static void assert_one_stream(const struct rx *r)
{
	for (int i = 1; i < r->n; i++) {
		assert_int_equal(r->ssrc[i], r->ssrc[0]);
		assert_int_equal((uint16_t)(r->seq[i - 1] + 1), r->seq[i]);
	}
}

/* The digits in a received RFC 4733 stream, one per event (timestamp). */
static void te_digits(const struct rx *r, char *out, size_t cap, unsigned *ends)
{
	size_t n = 0;
	bool have = false;
	uint32_t ts = 0;

	*ends = 0;
	for (int i = 0; i < r->n; i++) {
		if (r->pt[i] != 101)
			continue;
		if (!have || r->ts[i] != ts) {
			assert_true(r->marker[i]);   /* the first packet of an event */
			if (n + 1 < cap)
				out[n++] = dtmf_event_digit(r->pl[i][0]);
			ts = r->ts[i];
			have = true;
		} else {
			assert_false(r->marker[i]);
		}
		*ends += (r->pl[i][1] & 0x80) != 0;
	}
	out[n] = 0;
}

struct found {
	char     d[16];
	unsigned n;
};

static void on_det(const struct dtmf_event *ev, void *arg)
{
	struct found *f = arg;

	if (ev->type == DTMF_EV_BEGIN && f->n < 15)
		f->d[f->n++] = ev->digit;
}

static void detect(const int16_t *x, size_t n, struct found *f)
{
	struct dtmf_det *d;

	memset(f, 0, sizeof(*f));
	assert_int_equal(dtmf_det_create(&d, NULL, on_det, f), 0);
	(void)dtmf_det_process(d, x, n);
	dtmf_det_flush(d);
	dtmf_det_destroy(d);
}

/* A's '5' (120 ms at -10 dBm0) starting at sample `at` of sig, then packets of 20 ms
 * of PCMU from A: `n` of them, sequence numbers from seq0. */
static void send_tone_5(struct mfx *f, int16_t *sig, size_t at, int n, uint16_t seq0)
{
	struct dtmf_gen *g;

	assert_int_equal(dtmf_gen_create(&g), 0);
	assert_int_equal(dtmf_gen_start(g, '5', 960, -10.0f, 2.0f), 0);
	(void)dtmf_gen_fill(g, sig + at, 960);
	dtmf_gen_destroy(g);
	for (int i = 0; i < n; i++) {
		uint8_t pl[160];

		for (int k = 0; k < 160; k++)
			pl[k] = g711_ulaw_encode(sig[i * 160 + k]);
		send_pkt(&f->a, f->pa, 0, i == 0, (uint16_t)(seq0 + i), 160u * i, pl, 160);
		sleep_ms(2);
	}
}

/* In-band '5' from A (PCMU) -> RFC 4733 toward B; B's audio keeps no tone. */
static void test_inband_to_rfc4733(void **state)
{
	static struct mfx f;
	static struct rx r;
	static int16_t sig[40 * 160];
	struct media_event ev;
	struct found heard;
	char digits[8];
	unsigned ends;

	(void)state;
	memset(&r, 0, sizeof(r));
	setup(&f, MEDIA_DTMF_INBAND, MEDIA_DTMF_RFC4733, 8000);
	send_tone_5(&f, sig, 10 * 160 + 50, 40, 500);
	recv_all(&f.b, &r, 40, 200);
	assert_int_equal(r.n, 40);
	assert_one_stream(&r);
	te_digits(&r, digits, sizeof(digits), &ends);
	assert_string_equal(digits, "5");
	assert_int_equal(ends, 3);
	detect(r.audio, r.naudio, &heard);
	assert_int_equal(heard.n, 0);   /* B does not also hear the tone */
	assert_true(evlog_wait(&f.log, MEDIA_EV_DTMF, COOKIE, WAIT_MS, &ev));
	assert_int_equal(ev.dtmf.digit, '5');
	assert_int_equal(ev.dtmf.side, MEDIA_SIDE_A);
	assert_true(ev.dtmf.inband);
	assert_true(ev.dtmf.duration_ms >= 100 && ev.dtmf.duration_ms <= 140);
	mfx_close(&f, NULL);
}

/* RFC 4733 '7' from A -> tones in B's PCMU audio; the events themselves stay out. */
static void test_rfc4733_to_inband(void **state)
{
	static struct mfx f;
	static struct rx r;
	struct media_event ev;
	struct found heard;
	uint8_t silence[160];
	uint16_t seq = 900;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(silence, 0xff, sizeof(silence));
	setup(&f, MEDIA_DTMF_RFC4733, MEDIA_DTMF_INBAND, 8000);
	for (int i = 0; i < 30; i++) {
		if (i >= 5 && i < 13)
			send_te(&f.a, f.pa, seq++, 800, 7, false, (uint16_t)(160 * (i - 4)), i == 5);
		if (i == 13)
			for (int k = 0; k < 3; k++)
				send_te(&f.a, f.pa, seq++, 800, 7, true, 1280, false);
		send_pkt(&f.a, f.pa, 0, false, seq++, 160u * i, silence, 160);
		sleep_ms(2);
	}
	recv_all(&f.b, &r, 30, 200);
	assert_int_equal(r.n, 30);
	assert_one_stream(&r);
	for (int i = 0; i < r.n; i++)
		assert_int_equal(r.pt[i], 0);
	detect(r.audio, r.naudio, &heard);
	assert_int_equal(heard.n, 1);
	assert_int_equal(heard.d[0], '7');
	assert_true(evlog_wait(&f.log, MEDIA_EV_DTMF, COOKIE, WAIT_MS, &ev));
	assert_int_equal(ev.dtmf.digit, '7');
	assert_false(ev.dtmf.inband);
	assert_int_equal(ev.dtmf.duration_ms, 160);
	mfx_close(&f, NULL);
}

/* Events arrive ahead of the audio that carries their tones (three digits before any
 * audio packet, as when the audio lags): each tone follows the previous one after a
 * pause, none is cut or lost. */
static void test_rfc4733_to_inband_events_ahead(void **state)
{
	static struct mfx f;
	static struct rx r;
	struct found heard;
	uint8_t silence[160];
	uint16_t seq = 300;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(silence, 0xff, sizeof(silence));
	setup(&f, MEDIA_DTMF_RFC4733, MEDIA_DTMF_INBAND, 8000);
	send_pkt(&f.a, f.pa, 0, false, seq++, 0, silence, 160);
	for (int k = 0; k < 3; k++) {
		uint32_t ts = 1000u + 2000u * (uint32_t)k;

		send_te(&f.a, f.pa, seq++, ts, (uint8_t)(k + 1), false, 160, true);
		for (int e = 0; e < 3; e++)
			send_te(&f.a, f.pa, seq++, ts, (uint8_t)(k + 1), true, 800, false);
	}
	for (int i = 1; i < 40; i++) {
		send_pkt(&f.a, f.pa, 0, false, seq++, 160u * (uint32_t)i, silence, 160);
		sleep_ms(2);
	}
	recv_all(&f.b, &r, 40, 200);
	assert_int_equal(r.n, 40);
	assert_one_stream(&r);
	detect(r.audio, r.naudio, &heard);
	assert_string_equal(heard.d, "123");
	mfx_close(&f, NULL);
}

/* Digits from signalling (an INFO burst "123#") leave toward B in order. */
static void test_burst_in_order(void **state)
{
	static struct mfx f;
	static struct rx r;
	uint8_t silence[160];
	char digits[8];
	unsigned ends;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(silence, 0xff, sizeof(silence));
	setup(&f, MEDIA_DTMF_INFO, MEDIA_DTMF_RFC4733, 8000);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '1', 60), 0);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '2', 60), 0);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '3', 60), 0);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '#', 60), 0);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, 'x', 60), EINVAL);
	sleep_ms(30);
	for (int i = 0; i < 60; i++) {
		send_pkt(&f.a, f.pa, 0, false, (uint16_t)(10 + i), 160u * i, silence, 160);
		sleep_ms(2);
	}
	recv_all(&f.b, &r, 60, 200);
	assert_int_equal(r.n, 60);
	assert_one_stream(&r);
	te_digits(&r, digits, sizeof(digits), &ends);
	assert_string_equal(digits, "123#");
	assert_int_equal(ends, 12);
	mfx_close(&f, NULL);
}

/* 8 kHz telephone-event from A, 48 kHz on B: durations six times larger. */
static void test_rescale_8k_48k(void **state)
{
	static struct mfx f;
	static struct rx r;

	(void)state;
	memset(&r, 0, sizeof(r));
	setup(&f, MEDIA_DTMF_RFC4733, MEDIA_DTMF_RFC4733, 48000);
	send_te(&f.a, f.pa, 1, 100, 3, false, 160, true);
	send_te(&f.a, f.pa, 2, 100, 3, true, 800, false);
	recv_all(&f.b, &r, 2, 200);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.pl[0][2] << 8 | r.pl[0][3], 960);
	assert_int_equal(r.pl[1][2] << 8 | r.pl[1][3], 4800);
	mfx_close(&f, NULL);
}

/* A long press relayed from an 8 kHz to a 48 kHz event clock, where B's event type
 * was negotiated on B only (101 -> 96, no PT map entry): timestamps move with the
 * durations, so B's segments start at multiples of 0xFFFF from the event's onset. */
static void test_relay_segments_8k_48k(void **state)
{
	static struct mfx f;
	static struct rx r;
	static const uint32_t want_dts[] = {0, 5u * 0xffff, 6u * 0xffff, 6u * 0xffff};
	static const uint16_t want_dur[] = {960, 392400 - 5 * 0xffff, 960, 1920};

	(void)state;
	memset(&r, 0, sizeof(r));
	setup(&f, MEDIA_DTMF_RFC4733, MEDIA_DTMF_RFC4733, 48000);
	f.p.side[0].pt_map[101] = MEDIA_PT_NONE;   /* events are not in the PT map */
	f.p.side[1].dtmf.te_pt = f.p.side[1].dtmf.te_pt_rx = 96;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(30);
	send_te(&f.a, f.pa, 1, 100, 7, false, 160, true);
	send_te(&f.a, f.pa, 2, 100, 7, false, 65400, false);
	send_te(&f.a, f.pa, 3, 100 + 0xffff, 7, false, 160, false);
	send_te(&f.a, f.pa, 4, 100 + 0xffff, 7, true, 320, false);
	recv_all(&f.b, &r, 4, 200);
	assert_int_equal(r.n, 4);
	assert_one_stream(&r);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r.pt[i], 96);
		assert_int_equal((uint32_t)(r.ts[i] - r.ts[0]), want_dts[i]);
		assert_int_equal(r.pl[i][2] << 8 | r.pl[i][3], want_dur[i]);
	}
	mfx_close(&f, NULL);
}

/* Digits from signalling toward B while no audio flows toward it (A silent): they go
 * out in packets of their own, one per 20 ms; audio that comes afterwards continues
 * the same stream (SSRC, next sequence number, timestamp advanced by the time). */
static void test_digits_without_audio_rfc4733(void **state)
{
	static struct mfx f;
	static struct rx r;
	uint8_t silence[160];
	unsigned ends;
	char digits[4];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(silence, 0xff, sizeof(silence));
	setup(&f, MEDIA_DTMF_INFO, MEDIA_DTMF_RFC4733, 8000);
	/* one audio packet first: the stream toward B has started */
	send_pkt(&f.a, f.pa, 0, false, 500, 16000, silence, 160);
	recv_all(&f.b, &r, 1, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '7', 100), 0);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '8', 60), 0);
	/* 7: 4 packets + 3 ends; 8: 2 + 3 ends */
	recv_all(&f.b, &r, 13, 0);
	assert_int_equal(r.n, 13);
	sleep_ms(100);
	send_pkt(&f.a, f.pa, 0, false, 501, 16160, silence, 160);
	recv_all(&f.b, &r, 14, 300);
	assert_int_equal(r.n, 14);
	assert_one_stream(&r);
	te_digits(&r, digits, sizeof(digits), &ends);
	assert_string_equal(digits, "78");
	assert_int_equal(ends, 6);
	assert_int_equal(r.pl[7][2] << 8 | r.pl[7][3], 800);
	assert_int_equal(r.pl[12][2] << 8 | r.pl[12][3], 480);
	/* the event began where the stream was; the audio after it is later still, by at
	 * least the digits' time (about 400 ms of packets and pauses) */
	assert_true((uint32_t)(r.ts[1] - r.ts[0]) < 8000);
	assert_int_equal(r.pt[13], 0);
	assert_true(r.marker[13]);
	assert_true((uint32_t)(r.ts[13] - r.ts[0]) >= 160 * 13);
	assert_true((uint32_t)(r.ts[13] - r.ts[0]) < 8000 * 3);
	mfx_close(&f, NULL);
}

/* The same toward an in-band side that has received nothing yet: tones of their own. */
static void test_digits_without_audio_inband(void **state)
{
	static struct mfx f;
	static struct rx r;
	struct found det;

	(void)state;
	memset(&r, 0, sizeof(r));
	setup(&f, MEDIA_DTMF_INFO, MEDIA_DTMF_INBAND, 8000);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '5', 120), 0);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '#', 120), 0);
	recv_all(&f.b, &r, 12, 300);   /* 6 tone frames each, nothing in the pause */
	assert_int_equal(r.n, 12);
	assert_one_stream(&r);
	for (int i = 0; i < r.n; i++)
		assert_int_equal(r.pt[i], 0);
	detect(r.audio, r.naudio, &det);
	assert_string_equal(det.d, "5#");
	mfx_close(&f, NULL);
}

/* End packets all lost: the digit is reported once the timeout passes. */
static void test_lost_end_reported(void **state)
{
	static struct mfx f;
	struct media_event ev;

	(void)state;
	setup(&f, MEDIA_DTMF_RFC4733, MEDIA_DTMF_RFC4733, 8000);
	send_te(&f.a, f.pa, 1, 100, 9, false, 160, true);
	send_te(&f.a, f.pa, 2, 100, 9, false, 320, false);
	assert_true(evlog_wait(&f.log, MEDIA_EV_DTMF, COOKIE, WAIT_MS, &ev));
	assert_int_equal(ev.dtmf.digit, '9');
	assert_true(ev.dtmf.timed_out);
	assert_int_equal(ev.dtmf.duration_ms, 40);
	mfx_close(&f, NULL);
}

/* The call ends in the middle of a long digit: B gets its three end packets. */
static void test_end_on_close(void **state)
{
	static struct mfx f;
	static struct rx r;
	uint8_t silence[160];
	unsigned ends;
	char digits[4];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(silence, 0xff, sizeof(silence));
	setup(&f, MEDIA_DTMF_INFO, MEDIA_DTMF_RFC4733, 8000);
	assert_int_equal(media_session_send_digit(f.s, MEDIA_SIDE_B, '4', 5000), 0);
	sleep_ms(30);
	for (int i = 0; i < 5; i++) {
		send_pkt(&f.a, f.pa, 0, false, (uint16_t)(10 + i), 160u * i, silence, 160);
		sleep_ms(2);
	}
	/* the digit also goes on in packets of its own (no audio flows after those) */
	recv_all(&f.b, &r, 8, 200);
	assert_true(r.n >= 8);
	media_session_destroy(f.s);
	assert_true(evlog_wait(&f.log, MEDIA_EV_CLOSED, COOKIE, WAIT_MS, NULL));
	recv_all(&f.b, &r, 0, 300);
	assert_true(r.n >= 11);
	assert_one_stream(&r);
	te_digits(&r, digits, sizeof(digits), &ends);
	assert_string_equal(digits, "4");
	assert_int_equal(ends, 3);
	for (int i = r.n - 3; i < r.n; i++)   /* the three ends: every packet before, 160 */
		assert_int_equal(r.pl[i][2] << 8 | r.pl[i][3], 160 * (r.n - 3));
	media_engine_destroy(f.me);
	peer_close(&f.a);
	peer_close(&f.b);
	evlog_fini(&f.log);
}

/* In-band '5' from A, then nothing: A stops sending as the key is released (silence
 * suppression). The digit still ends without A's next packet: reported with its
 * length, and its three end packets reach B. */
static void test_inband_digit_then_no_rtp(void **state)
{
	static struct mfx f;
	static struct rx r;
	static int16_t sig[16 * 160];
	struct media_event ev;
	char digits[8];
	unsigned ends;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(sig, 0, sizeof(sig));
	setup(&f, MEDIA_DTMF_INBAND, MEDIA_DTMF_RFC4733, 8000);
	send_tone_5(&f, sig, 10 * 160, 16, 700);   /* the tone in the last 6 packets */
	assert_true(evlog_wait(&f.log, MEDIA_EV_DTMF, COOKIE, 1000, &ev));
	assert_int_equal(ev.dtmf.digit, '5');
	assert_true(ev.dtmf.inband);
	assert_true(ev.dtmf.duration_ms >= 100 && ev.dtmf.duration_ms <= 140);
	recv_all(&f.b, &r, 0, 300);
	te_digits(&r, digits, sizeof(digits), &ends);
	assert_string_equal(digits, "5");
	assert_int_equal(ends, 3);
	assert_one_stream(&r);
	mfx_close(&f, NULL);
}

int test_engine_dtmf_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inband_to_rfc4733),
		cmocka_unit_test(test_inband_digit_then_no_rtp),
		cmocka_unit_test(test_rfc4733_to_inband),
		cmocka_unit_test(test_rfc4733_to_inband_events_ahead),
		cmocka_unit_test(test_burst_in_order),
		cmocka_unit_test(test_rescale_8k_48k),
		cmocka_unit_test(test_relay_segments_8k_48k),
		cmocka_unit_test(test_digits_without_audio_rfc4733),
		cmocka_unit_test(test_digits_without_audio_inband),
		cmocka_unit_test(test_lost_end_reported),
		cmocka_unit_test(test_end_on_close),
	};

	return cmocka_run_group_tests_name("engine_dtmf", tests, NULL, NULL);
}
