/* test_engine_xcode.c — transcoding sessions with real sockets on 127.0.0.1, the test
 * playing both parties in real time: PCMU <-> Opus both ways (payload types, 20 ms
 * timestamp steps of 160 and 960, one SSRC, contiguous sequence numbers, the tones
 * heard at the right frequency and level), telephone-event rescaled from 8 kHz to
 * 48 kHz, a peer resetting SSRC and sequence mid-call, and the switches relay ->
 * transcoding -> relay keeping the far side's stream continuous, and many streams'
 * frames sent in one clock round without one overtaking another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <opus/opus.h>

#include "g711.h"
#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "rtcp_report.h"
#include "test_media.h"

#define WAIT_MS 3000
#define PI      3.14159265358979
#define RX_MAX  400

struct rx {
	int      n;
	struct rtp_hdr h[RX_MAX];
	uint8_t  pl[RX_MAX][200];
	size_t   len[RX_MAX];
};

static void codec_side(struct media_side_params *sp, enum media_codec c, uint8_t pt,
		       uint32_t te_rate)
{
	sp->codec.codec = c;
	sp->codec.pt = pt;
	sp->codec.pt_rx[0] = pt;
	sp->codec.pt_rx[1] = MEDIA_PT_NONE;
	sp->codec.te_pt = 101;
	sp->codec.te_pt_rx[0] = 101;
	sp->codec.te_pt_rx[1] = MEDIA_PT_NONE;
	sp->codec.te_rate = te_rate;
	sp->codec.ptime = 20;
	sp->codec.opus.complexity = 5;
}

static void fx_open(struct mfx *f)
{
	struct media_engine_cfg cfg;

	test_engine_cfg(&cfg, 8, 1);
	mfx_open(f, &cfg, 9);
}

static void collect(struct peer *p, struct rx *rx)
{
	uint8_t buf[1500];
	ssize_t n;

	while ((n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct rtp_hdr h;

		if (rx->n == RX_MAX || rtp_hdr_parse(&h, buf, (size_t)n))
			continue;
		rx->h[rx->n] = h;
		rx->len[rx->n] = h.payload_len > 200 ? 200 : h.payload_len;
		memcpy(rx->pl[rx->n], buf + h.hdr_len, rx->len[rx->n]);
		rx->n++;
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Sleeps until t_us (monotonic), collecting what arrives meanwhile. */
static void pace(struct mfx *f, uint64_t t_us, struct rx *ra, struct rx *rb)
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

static void send_pkt(struct peer *p, uint16_t port, uint8_t pt, bool m, uint16_t seq,
		     uint32_t ts, uint32_t ssrc, const uint8_t *pl, size_t n)
{
	struct rtp_hdr h = {.pt = pt, .seq = seq, .ts = ts, .ssrc = ssrc, .marker = m};
	uint8_t buf[1500];
	size_t hl;

	assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &hl), 0);
	memcpy(buf + hl, pl, n);
	peer_send(p, port, buf, hl + n);
}

static void pcmu_tone(uint8_t *pl, double hz, double amp, size_t *ph)
{
	for (int k = 0; k < 160; k++, (*ph)++)
		pl[k] = g711_ulaw_encode((int16_t)(amp * sin(2 * PI * hz * (double)*ph / 8000)));
}

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

/* One stream: one SSRC and +1 sequence numbers over every packet; the packets of
 * the audio PT a whole number of steps apart, almost always one (a worker starved by
 * a loaded machine skips ahead rather than send late: a timestamp jump, no seq gap).
 * Returns the audio packets. */
static int check_stream(const struct rx *rx, uint8_t pt, uint32_t step)
{
	int n = 0, prev = -1, exact = 0;

	for (int i = 0; i < rx->n; i++) {
		if (i) {
			assert_int_equal(rx->h[i].ssrc, rx->h[0].ssrc);
			assert_int_equal((uint16_t)(rx->h[i].seq - rx->h[i - 1].seq), 1);
		}
		if (rx->h[i].pt != pt)
			continue;
		if (prev >= 0) {
			uint32_t d = rx->h[i].ts - rx->h[prev].ts;

			assert_int_equal(d % step, 0);
			assert_true(d >= step && d <= 20 * step);
			exact += d == step;
		}
		prev = i;
		n++;
	}
	assert_true(exact >= (n - 1) * 9 / 10);
	return n;
}

static void pcmu_opus_both_ways(void **state)
{
	static struct rx ra, rb;
	struct mfx f;
	struct media_event ev;
	OpusEncoder *enc;
	OpusDecoder *dec;
	static int16_t heard_a[8000 * 4], heard_b[8000 * 4];
	size_t na = 0, nb = 0, ph_a = 0, ph_b = 0;
	uint64_t t0;
	int err, te = 0;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	fx_open(&f);
	codec_side(&f.p.side[0], MEDIA_CODEC_PCMU, 0, 8000);
	codec_side(&f.p.side[1], MEDIA_CODEC_OPUS, 111, 48000);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	dec = opus_decoder_create(8000, 1, &err);
	assert_non_null(enc);
	assert_non_null(dec);
	t0 = mono_us();
	for (int i = 0; i < 120; i++) {
		uint8_t pl[160], op[1500];
		int16_t pcm[960];
		int n;

		pcmu_tone(pl, 1000, 10000, &ph_a);
		send_pkt(&f.a, f.pa, 0, i == 0, (uint16_t)(500 + i), 8000u + 160u * i, 0xaaaa, pl, 160);
		for (int k = 0; k < 960; k++, ph_b++)
			pcm[k] = (int16_t)(8000 * sin(2 * PI * 700 * (double)ph_b / 48000));
		n = opus_encode(enc, pcm, 960, op, sizeof(op));
		assert_true(n > 0);
		send_pkt(&f.b, f.pb, 111, i == 0, (uint16_t)(60000 + i), 96000u * 7 + 960u * i,
			 0xbbbb, op, (size_t)n);
		if (i == 60 || i == 61 || i == 62) {
			/* digit 5, 8 kHz clock: 20 ms then 40 ms, then an end packet */
			unsigned dur = 160u * (unsigned)(i - 59);
			uint8_t ev5[4] = {5, (uint8_t)((i == 62 ? 0x80 : 0) | 10), (uint8_t)(dur >> 8),
					  (uint8_t)dur};

			send_pkt(&f.a, f.pa, 101, i == 60, (uint16_t)(900 + i), 12345, 0xaaaa,
				 ev5, 4);
		}
		pace(&f, t0 + 20000u * (i + 1), &ra, &rb);
	}
	pace(&f, mono_us() + 300000, &ra, &rb);
	/* B hears Opus, 960 per 20 ms */
	assert_true(check_stream(&rb, 111, 960) >= 100);
	assert_true(check_stream(&ra, 0, 160) >= 100);
	for (int i = 0; i < rb.n; i++) {
		if (rb.h[i].pt == 101) {
			/* 8 kHz durations 160/320/480 become 960/1920/2880 */
			uint16_t d = (uint16_t)(rb.pl[i][2] << 8 | rb.pl[i][3]);

			assert_int_equal(d, 960u * (unsigned)(te + 1));
			assert_int_equal(rb.h[i].marker, te == 0);
			assert_int_equal(rb.h[i].ssrc, rb.h[0].ssrc);
			te++;
		} else if (nb + 160 <= sizeof(heard_b) / 2) {
			int d = opus_decode(dec, rb.pl[i], (int)rb.len[i], heard_b + nb, 960, 0);

			assert_int_equal(d, 160);
			nb += 160;
		}
	}
	assert_int_equal(te, 3);
	for (int i = 0; i < ra.n; i++) {
		if (ra.h[i].pt != 0)
			continue;
		assert_int_equal(ra.len[i], 160);
		for (int k = 0; k < 160 && na < sizeof(heard_a) / 2; k++)
			heard_a[na++] = g711_ulaw_decode(ra.pl[i][k]);
	}
	{
		struct media_event st;

		media_session_destroy(f.s);
		assert_true(evlog_wait(&f.log, MEDIA_EV_CLOSED, 9, WAIT_MS, &st));
		ev = st;
		for (int k = 0; k < 2; k++)
			print_message("side %d: in %llu concealed %llu late %llu discarded %llu "
				      "expanded %llu out %llu\n", k,
				      (unsigned long long)st.stats[k].rtp_in,
				      (unsigned long long)st.stats[k].concealed,
				      (unsigned long long)st.stats[k].jb_late,
				      (unsigned long long)st.stats[k].jb_discarded,
				      (unsigned long long)st.stats[k].jb_expanded,
				      (unsigned long long)st.stats[k].frames_out);
	}
	{
		double hz, db;

		assert_true(nb >= 16000);
		tone_of(heard_b + 4000, 12000, &hz, &db);   /* 0.5-2 s: before the senders stop */
		print_message("B heard %.1f Hz at %.1f dBFS\n", hz, db);
		assert_true(fabs(hz - 1000) < 10);
		assert_true(fabs(db - 20 * log10(10000.0 / 32768)) < 3);
		assert_true(na >= 16000);
		tone_of(heard_a + 4000, 12000, &hz, &db);
		print_message("A heard %.1f Hz at %.1f dBFS\n", hz, db);
		assert_true(fabs(hz - 700) < 10);
		assert_true(fabs(db - 20 * log10(8000.0 / 32768)) < 3);
	}
	opus_encoder_destroy(enc);
	opus_decoder_destroy(dec);
	mfx_free(&f);
	assert_true(ev.stats[1].frames_out >= 100);
	assert_true(ev.stats[0].frames_out >= 100);
	assert_int_equal(ev.stats[0].concealed, 0);
}

/* relay -> transcoding -> relay, and a peer resetting SSRC and sequence: B sees one
 * stream throughout. */
static void switches_keep_stream(void **state)
{
	static struct rx ra, rb;
	struct mfx f;
	struct media_event ev;
	size_t ph = 0;
	uint64_t t0;
	uint16_t prev_seq = 0;
	uint32_t prev_ts = 0, ssrc = 0;
	int got = 0;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	fx_open(&f);
	assert_int_equal(media_session_update(f.s, &f.p), 0);   /* relay: no codecs */
	t0 = mono_us();
	for (int i = 0; i < 200; i++) {
		uint8_t pl[160];
		uint16_t seq = (uint16_t)(i < 100 ? 65500 + i : 17 + i);   /* wraps, then resets */
		uint32_t a_ssrc = i < 100 ? 0x1111 : 0x2222;

		if (i == 40) {   /* B re-negotiates Opus: transcoding */
			codec_side(&f.p.side[0], MEDIA_CODEC_PCMU, 0, 8000);
			codec_side(&f.p.side[1], MEDIA_CODEC_PCMA, 8, 8000);
			assert_int_equal(media_session_update(f.s, &f.p), 0);
		}
		if (i == 150) {  /* back to PCMU: a relay again */
			codec_side(&f.p.side[1], MEDIA_CODEC_PCMU, 0, 8000);
			assert_int_equal(media_session_update(f.s, &f.p), 0);
		}
		pcmu_tone(pl, 500, 8000, &ph);
		send_pkt(&f.a, f.pa, 0, false, seq, 1000u + 160u * i, a_ssrc, pl, 160);
		pace(&f, t0 + 20000u * (i + 1), &ra, &rb);
	}
	pace(&f, mono_us() + 300000, &ra, &rb);
	for (int i = 0; i < rb.n; i++) {
		const struct rtp_hdr *h = &rb.h[i];

		assert_true(h->pt == 0 || h->pt == 8);
		if (got) {
			assert_int_equal(h->ssrc, ssrc);
			assert_int_equal((uint16_t)(h->seq - prev_seq), 1);
			/* forward in time, never more than a few frames at once */
			assert_true((int32_t)(h->ts - prev_ts) > 0);
			assert_true(h->ts - prev_ts <= 160u * 8);
		}
		ssrc = h->ssrc;
		prev_seq = h->seq;
		prev_ts = h->ts;
		got++;
	}
	print_message("B got %d packets across relay/transcoding/relay and a source reset\n",
		      got);
	assert_true(got >= 180);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].ssrc_changes, 1);
}

/* Terminated RTCP: trunx reports to each leg itself, SSRC = the RTP SSRC it sends. */
static void rtcp_generated(void **state)
{
	static struct rx ra, rb;
	struct mfx f;
	struct media_event ev;
	struct peer rtcp_b;
	size_t ph = 0;
	uint64_t t0;
	bool got_sr = false;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	fx_open(&f);
	peer_open(&rtcp_b, NULL);
	side_params(&f.p.side[1], peer_port(&f.b), peer_port(&rtcp_b), MEDIA_DIR_SENDRECV);
	codec_side(&f.p.side[0], MEDIA_CODEC_PCMU, 0, 8000);
	codec_side(&f.p.side[1], MEDIA_CODEC_PCMA, 8, 8000);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	t0 = mono_us();
	for (int i = 0; i < 400 && !got_sr; i++) {   /* up to 8 s: the first is due in 2.5-7.5 s */
		uint8_t pl[160], buf[1500];
		ssize_t n;

		pcmu_tone(pl, 500, 8000, &ph);
		send_pkt(&f.a, f.pa, 0, false, (uint16_t)i, 160u * i, 0x1234, pl, 160);
		pace(&f, t0 + 20000u * (i + 1), &ra, &rb);
		while ((n = recv(rtcp_b.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			struct rtcp_report_in in;

			assert_int_equal(rtcp_report_parse(buf, (size_t)n, 0, &in), 0);
			if (in.have_sr) {
				assert_true(rb.n > 0);
				assert_int_equal(in.sr_ssrc, rb.h[0].ssrc);
				got_sr = true;
			}
		}
	}
	assert_true(got_sr);
	mfx_close(&f, &ev);
	assert_true(ev.stats[1].rtcp_sent >= 1);
	peer_close(&rtcp_b);
}

/* RFC 5761: A multiplexes RTCP on its RTP port, B does not; relayed both ways. */
static void rtcp_mux_relay(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct peer rtcp_b;
	uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 0xa}, buf[1500];
	struct rtp_hdr h;
	uint32_t tag;
	ssize_t n;

	(void)state;
	fx_open(&f);
	peer_open(&rtcp_b, NULL);
	side_params(&f.p.side[1], peer_port(&f.b), peer_port(&rtcp_b), MEDIA_DIR_SENDRECV);
	f.p.side[0].rtcp_mux = true;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	/* RTP from A latches A; its RTCP arrives on the same port */
	peer_send_rtp(&f.a, f.pa, 0, 1, 0, 0xa, false, 7);
	assert_true(peer_recv_rtp(&f.b, &h, &tag, WAIT_MS, NULL));
	peer_send(&f.a, f.pa, rr, sizeof(rr));
	n = peer_recv(&rtcp_b, buf, sizeof(buf), WAIT_MS, NULL);
	assert_int_equal(n, 8);
	assert_int_equal(buf[1], 201);
	/* B's RTCP goes to A's RTP port, from trunx's A RTP port */
	peer_send_rtp(&f.b, f.pb, 0, 1, 0, 0xb, false, 8);
	assert_true(peer_recv_rtp(&f.a, &h, &tag, WAIT_MS, NULL));
	rr[7] = 0xb;
	peer_send(&rtcp_b, (uint16_t)(f.pb + 1), rr, sizeof(rr));
	{
		struct sockaddr_in from;

		n = peer_recv(&f.a, buf, sizeof(buf), WAIT_MS, &from);
		assert_int_equal(n, 8);
		assert_int_equal(buf[1], 201);
		assert_int_equal(ntohs(from.sin_port), f.pa);
	}
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtcp_in, 1);
	assert_int_equal(ev.stats[1].rtcp_in, 1);
	peer_close(&rtcp_b);
}

/* Many transcoded streams due in one clock round (a worker stalled 80 ms while 36
 * sessions' frames fell due: several queue-fulls of frames, sent after the encodes):
 * every stream arrives in order, one SSRC, its sequence numbers rising. */
#define MANY      36
#define MANY_PKTS 40
static void many_streams_one_round(void **state)
{
	static uint32_t ssrc[2][2 * MANY];
	static uint16_t last[2][2 * MANY];
	static int got[2][2 * MANY], steps1[2][2 * MANY];
	struct media_engine_cfg cfg;
	struct media_engine *me;
	struct media_session *s[MANY], *victim;
	uint16_t port[MANY][2];
	struct evlog log;
	struct peer a, b;
	uint8_t buf[1500];
	uint64_t t0;
	int nstreams[2] = {0, 0};

	(void)state;
	memset(ssrc, 0, sizeof(ssrc));
	memset(got, 0, sizeof(got));
	memset(steps1, 0, sizeof(steps1));
	evlog_init(&log);
	test_engine_cfg(&cfg, 4 * MANY + 8, 1);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, &log), 0);
	peer_open(&a, NULL);
	peer_open(&b, NULL);
	assert_int_equal(media_session_create(me, 999, &victim), 0);
	for (int i = 0; i < MANY; i++) {
		struct media_session_params p;

		memset(&p, 0, sizeof(p));
		assert_int_equal(media_session_create(me, (uint64_t)(100 + i), &s[i]), 0);
		port[i][0] = media_session_port(s[i], MEDIA_SIDE_A);
		port[i][1] = media_session_port(s[i], MEDIA_SIDE_B);
		side_params(&p.side[0], peer_port(&a), 0, MEDIA_DIR_SENDRECV);
		side_params(&p.side[1], peer_port(&b), 0, MEDIA_DIR_SENDRECV);
		codec_side(&p.side[0], MEDIA_CODEC_PCMU, 0, 8000);
		codec_side(&p.side[1], MEDIA_CODEC_PCMA, 8, 8000);
		assert_int_equal(media_session_update(s[i], &p), 0);
	}
	t0 = mono_us();
	for (int k = 0; k < MANY_PKTS; k++) {
		uint8_t pl[160];

		memset(pl, 0x55, sizeof(pl));
		for (int i = 0; i < MANY; i++) {
			send_pkt(&a, port[i][0], 0, k == 0, (uint16_t)(k + 7 * i), 160u * k,
				 (uint32_t)(0xa000 + i), pl, 160);
			send_pkt(&b, port[i][1], 8, k == 0, (uint16_t)(k + 9 * i), 160u * k,
				 (uint32_t)(0xb000 + i), pl, 160);
		}
		if (k == MANY_PKTS / 2) {   /* the worker stalls in the event handler */
			evlog_set_block(&log, true);
			media_session_destroy(victim);
			assert_true(evlog_wait_blocked(&log, 5000));
			sleep_ms(80);
			evlog_set_block(&log, false);
		}
		while (mono_us() < t0 + 20000u * (uint64_t)(k + 1))
			sleep_ms(2);
		/* what came back so far, per peer and stream */
		for (int side = 0; side < 2; side++) {
			struct peer *pp = side ? &b : &a;
			ssize_t n;

			while ((n = recv(pp->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
				struct rtp_hdr h;
				int j;

				if (rtp_hdr_parse(&h, buf, (size_t)n))
					continue;
				for (j = 0; j < nstreams[side] && ssrc[side][j] != h.ssrc; j++)
					;
				if (j == nstreams[side]) {
					assert_true(j < 2 * MANY);
					ssrc[side][j] = h.ssrc;
					nstreams[side]++;
				} else {
					int16_t d = (int16_t)(h.seq - last[side][j]);

					assert_true(d > 0);   /* never overtaken */
					steps1[side][j] += d == 1;
				}
				last[side][j] = h.seq;
				got[side][j]++;
			}
		}
	}
	for (int side = 0; side < 2; side++) {
		assert_int_equal(nstreams[side], MANY);
		for (int j = 0; j < MANY; j++) {
			assert_true(got[side][j] >= MANY_PKTS / 2);
			assert_true(steps1[side][j] >= (got[side][j] - 1) * 9 / 10);
		}
	}
	for (int i = 0; i < MANY; i++)
		media_session_destroy(s[i]);
	media_engine_destroy(me);
	peer_close(&a);
	peer_close(&b);
	evlog_fini(&log);
}

int test_engine_xcode_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pcmu_opus_both_ways),
		cmocka_unit_test(switches_keep_stream),
		cmocka_unit_test(rtcp_generated),
		cmocka_unit_test(rtcp_mux_relay),
		cmocka_unit_test(many_streams_one_round),
	};

	return cmocka_run_group_tests_name("engine_xcode", tests, NULL, NULL);
}
