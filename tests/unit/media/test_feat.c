/* test_feat.c — prompts, recording and their engine path (media_feat.h):
 *  - the prompt loader: 8 kHz kept as is, 16 and 48 kHz decimated (a tone keeps its
 *    frequency and level, a tone above 4 kHz is filtered out rather than folded
 *    into the band), and every refusal with its reason;
 *  - the recorder: each leg placed by its RTP timestamps, lost packets as silence,
 *    reordering within the window, late packets dropped and counted, a full ring
 *    turned into counted silence without blocking, the length kept;
 *  - playback through a live engine with real sockets: relay -> prompt -> relay
 *    toward one leg keeps one SSRC, contiguous sequence numbers and 160-sample
 *    timestamp steps; the prompt is what that leg hears meanwhile; events;
 *  - live AMD on a leg that stops sending (silence suppression, no RTP at all): the
 *    detector's time runs on, so the silent line is decided at its initial-silence
 *    limit, neither early (no silence counted twice) nor never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "amd.h"
#include "g711.h"
#include "media.h"
#include "media_feat.h"
#include "media_peer.h"
#include "test_media.h"
#include "record.h"

#define PI 3.14159265358979

/* ---- prompt loading --------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* A PCM WAV image of n samples per channel of a sine (hz, amplitude) at rate. */
static uint8_t *wav_img(uint32_t rate, uint16_t ch, size_t n, double hz, double amp,
			size_t *len)
{
	size_t data = n * ch * 2;
	uint8_t *b = calloc(1, 44 + data);

	assert_non_null(b);
	memcpy(b, "RIFF", 4);
	put32(b + 4, (uint32_t)(36 + data));
	memcpy(b + 8, "WAVEfmt ", 8);
	put32(b + 16, 16);
	put16(b + 20, 1);
	put16(b + 22, ch);
	put32(b + 24, rate);
	put32(b + 28, rate * ch * 2);
	put16(b + 32, (uint16_t)(ch * 2));
	put16(b + 34, 16);
	memcpy(b + 36, "data", 4);
	put32(b + 40, (uint32_t)data);
	for (size_t i = 0; i < n; i++)
		for (uint16_t c = 0; c < ch; c++)
			put16(b + 44 + (i * ch + c) * 2,
			      (uint16_t)(int16_t)lround(amp * sin(2 * PI * hz * (double)i / rate)));
	*len = 44 + data;
	return b;
}

/* Amplitude of frequency hz in x (8 kHz), by correlation. */
static double amp_at(const int16_t *x, size_t n, double hz)
{
	double re = 0, im = 0;

	for (size_t i = 0; i < n; i++) {
		re += x[i] * cos(2 * PI * hz * (double)i / 8000);
		im += x[i] * sin(2 * PI * hz * (double)i / 8000);
	}
	return 2 * sqrt(re * re + im * im) / (double)n;
}

static void prompt_rates(void **state)
{
	static const uint32_t rates[] = {8000, 16000, 48000};

	(void)state;
	for (size_t r = 0; r < 3; r++) {
		size_t len, n;
		uint8_t *img = wav_img(rates[r], 1, rates[r], 1000, 8000, &len);
		int16_t *pcm;
		char err[128] = "";

		assert_int_equal(media_prompt_parse(img, len, &pcm, &n, err, sizeof(err)), 0);
		assert_int_equal(n, 8000);   /* one second at 8 kHz */
		/* the middle of it: 1000 Hz within 0.2 dB, nothing at 3000 Hz */
		assert_true(fabs(20 * log10(amp_at(pcm + 2000, 4000, 1000) / 8000)) < 0.2);
		assert_true(amp_at(pcm + 2000, 4000, 3000) < 40);
		free(pcm);
		free(img);
	}
}

static void prompt_no_aliasing(void **state)
{
	/* 6 kHz at 48 kHz would fold to 2 kHz at 8 kHz if decimated without a filter. */
	size_t len, n;
	uint8_t *img = wav_img(48000, 1, 48000, 6000, 16000, &len);
	int16_t *pcm;

	(void)state;
	assert_int_equal(media_prompt_parse(img, len, &pcm, &n, NULL, 0), 0);
	assert_true(amp_at(pcm + 2000, 4000, 2000) < 16000 * 0.001);   /* below -60 dB */
	free(pcm);
	free(img);
	/* and 5 kHz at 16 kHz would fold to 3 kHz */
	img = wav_img(16000, 1, 16000, 5000, 16000, &len);
	assert_int_equal(media_prompt_parse(img, len, &pcm, &n, NULL, 0), 0);
	assert_true(amp_at(pcm + 2000, 4000, 3000) < 16000 * 0.001);
	free(pcm);
	free(img);
}

static void prompt_refused(void **state)
{
	struct {
		uint32_t rate;
		uint16_t ch;
		size_t n;
		int rc;
		const char *why;
	} bad[] = {
		{22050, 1, 22050, ENOTSUP, "22050 Hz"},
		{44100, 1, 44100, ENOTSUP, "44100 Hz"},
		{8000, 2, 8000, ENOTSUP, "mono"},
		{8000, 1, 100, EINVAL, "shorter than 20 ms"},
		{8000, 1, 8000 * (MEDIA_PROMPT_MAX_S + 1), EINVAL, "limited"},
	};
	static const uint8_t junk[] = "RIFX\x10\0\0\0WAVEfmt garbage";
	int16_t *pcm = (int16_t *)(uintptr_t)1;
	size_t n = 7;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len;
		uint8_t *img = wav_img(bad[i].rate, bad[i].ch, bad[i].n, 440, 1000, &len);

		err[0] = '\0';
		assert_int_equal(media_prompt_parse(img, len, &pcm, &n, err, sizeof(err)),
				 bad[i].rc);
		assert_null(pcm);
		assert_int_equal(n, 0);
		assert_non_null(strstr(err, bad[i].why));
		free(img);
	}
	err[0] = '\0';
	assert_int_equal(media_prompt_parse(junk, sizeof(junk), &pcm, &n, err, sizeof(err)),
			 EINVAL);
	assert_true(err[0] != '\0');
	assert_int_not_equal(media_prompt_load("/nonexistent/prompt.wav", &pcm, &n, err,
					       sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent/prompt.wav"));
}

/* ---- the recorder ----------------------------------------------------------------------- */

struct sink {
	int16_t *s;      /* stereo frames */
	size_t   n, cap;
	size_t   silence_calls;
};

static void sink_put(void *arg, const int16_t (*fr)[2], size_t n)
{
	struct sink *k = arg;

	assert_true(k->n + n <= k->cap);
	for (size_t i = 0; i < n; i++) {
		k->s[2 * (k->n + i)] = fr ? fr[i][0] : 0;
		k->s[2 * (k->n + i) + 1] = fr ? fr[i][1] : 0;
	}
	if (!fr)
		k->silence_calls++;
	k->n += n;
}

/* 20 ms of a constant value (so positions can be read back). */
static void frame_of(int16_t *x, int16_t v)
{
	for (int i = 0; i < 160; i++)
		x[i] = v;
}

static void record_places_by_timestamp(void **state)
{
	struct recorder *r;
	struct sink k = {.cap = 20000};
	uint64_t t = 1000000, frames, late, over;
	int16_t x[160];

	(void)state;
	k.s = calloc(k.cap * 2, sizeof(int16_t));
	assert_int_equal(rec_create(&r, "/tmp/unused.wav"), 0);
	/* leg A: packets 0..49 (1 s), 10 and 11 lost, 20 and 21 swapped; its ts start
	 * anywhere. Leg B starts 100 ms later on its own clock, 48 kHz units. */
	for (int p = 0; p < 50; p++) {
		int q = p == 20 ? 21 : p == 21 ? 20 : p;

		if (q != 10 && q != 11) {
			frame_of(x, (int16_t)(100 + q));
			rec_put(r, 0, 0xfffff000u + (uint32_t)q * 160, 8000, x, 160,
				t + (uint64_t)p * 20000);
		}
		if (p >= 5) {
			frame_of(x, (int16_t)(-100 - p));
			rec_put(r, 1, 777u + (uint32_t)(p - 5) * 960, 48000, x, 160,
				t + (uint64_t)p * 20000 + 300);
		}
		if (p % 10 == 9)
			(void)rec_drain(r, sink_put, &k);   /* the writer runs meanwhile */
	}
	/* a packet from before the window: counted, not placed */
	frame_of(x, 5000);
	rec_put(r, 0, 0xfffff000u + 2 * 160, 8000, x, 160, t + 49 * 20000);
	rec_finish(r, &frames, &late, &over);
	/* B's packets arrive 300 us after A's: 2 samples later, so the end is there */
	assert_int_equal(frames, 50 * 160 + 2);
	assert_int_equal(late, 1);
	assert_int_equal(over, 0);
	assert_true(rec_drain(r, sink_put, &k));
	assert_int_equal(k.n, 50 * 160 + 2);
	for (int p = 0; p < 50; p++) {
		int16_t a = k.s[2 * (p * 160 + 80)], b = k.s[2 * (p * 160 + 80) + 1];

		assert_int_equal(a, p == 10 || p == 11 ? 0 : 100 + p);   /* lost: silence */
		assert_int_equal(b, p < 5 ? 0 : -100 - p);
	}
	rec_destroy(r);
	free(k.s);
}

static void record_overflow_is_silence(void **state)
{
	struct recorder *r;
	struct sink k = {.cap = 60000};
	uint64_t frames, late, over;
	int16_t x[160];
	int total = REC_RING + 60 + REC_STAGE / 160;

	(void)state;
	k.s = calloc(k.cap * 2, sizeof(int16_t));
	assert_int_equal(rec_create(&r, "/tmp/unused.wav"), 0);
	/* Nobody drains: the ring fills, the rest is counted, the worker never waits. */
	for (int p = 0; p < total; p++) {
		frame_of(x, 1000);
		rec_put(r, 0, (uint32_t)p * 160, 8000, x, 160, (uint64_t)p * 20000);
	}
	rec_finish(r, &frames, &late, &over);
	assert_int_equal(frames, (uint64_t)total * 160);
	assert_true(over > 0);
	assert_true(rec_drain(r, sink_put, &k));
	/* the file keeps its length: audio, then the lost frames as silence, then the
	 * frames that could still be queued */
	assert_int_equal(k.n, (size_t)total * 160);
	assert_true(k.silence_calls > 0);
	{
		size_t zeros = 0;

		for (size_t i = 0; i < k.n; i++)
			zeros += k.s[2 * i] == 0;
		assert_int_equal(zeros, over);
	}
	rec_destroy(r);
	free(k.s);
}

static void record_reanchors_on_jump(void **state)
{
	struct recorder *r;
	struct sink k = {.cap = 40000};
	uint64_t frames;
	int16_t x[160];

	(void)state;
	k.s = calloc(k.cap * 2, sizeof(int16_t));
	assert_int_equal(rec_create(&r, "/tmp/unused.wav"), 0);
	frame_of(x, 7);
	for (int p = 0; p < 10; p++)
		rec_put(r, 0, (uint32_t)p * 160, 8000, x, 160, (uint64_t)p * 20000);
	/* a new source with a timestamp 10 minutes away, arriving right after: placed
	 * where it arrives, not 10 minutes later */
	for (int p = 10; p < 20; p++)
		rec_put(r, 0, 4800000u + (uint32_t)p * 160, 8000, x, 160, (uint64_t)p * 20000);
	rec_finish(r, &frames, NULL, NULL);
	assert_int_equal(frames, 20 * 160);
	assert_true(rec_drain(r, sink_put, &k));
	rec_destroy(r);
	free(k.s);
}

static void record_late_start_moves_earlier(void **state)
{
	struct recorder *r;
	struct sink k = {.cap = 20000};
	uint64_t frames;
	int16_t x[160];

	(void)state;
	k.s = calloc(k.cap * 2, sizeof(int16_t));
	assert_int_equal(rec_create(&r, "/tmp/unused.wav"), 0);
	/* Both legs start at 0 by their timestamps; B's first 6 packets arrive 110 ms
	 * late (a burst), the rest on time: B must start at 0, not at 110 ms. */
	for (int p = 0; p < 25; p++) {
		uint64_t at = (uint64_t)p * 20000, at_b = p < 6 ? 110000 + (uint64_t)p * 200 : at;

		frame_of(x, 11);
		rec_put(r, 0, (uint32_t)p * 160, 8000, x, 160, at);
		frame_of(x, (int16_t)(20 + p));
		rec_put(r, 1, 5000u + (uint32_t)p * 160, 8000, x, 160, at_b > at ? at_b : at);
	}
	rec_finish(r, &frames, NULL, NULL);
	assert_int_equal(frames, 25 * 160);
	assert_true(rec_drain(r, sink_put, &k));
	for (int p = 0; p < 25; p++)
		assert_int_equal(k.s[2 * (p * 160 + 80) + 1], 20 + p);
	rec_destroy(r);
	free(k.s);
}

/* ---- playback through the engine ------------------------------------------------------ */

struct pkt {
	struct rtp_hdr h;
	double         rms;
	uint64_t       at_us;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void collect(struct peer *p, struct pkt *got, int *n, int max)
{
	uint8_t buf[1500];
	ssize_t len;

	while ((len = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct rtp_hdr h;
		double e = 0;

		if (*n == max || rtp_hdr_parse(&h, buf, (size_t)len))
			continue;
		for (size_t i = 0; i < h.payload_len; i++) {
			double v = g711_ulaw_decode(buf[h.hdr_len + i]);

			e += v * v;
		}
		got[*n].h = h;
		got[*n].at_us = mono_us();
		got[*n].rms = h.payload_len ? sqrt(e / (double)h.payload_len) : 0;
		(*n)++;
	}
}

/* An engine with one relayed session `id` between peers a (side A) and b (side B),
 * its events in log. */
static void bridge_open(struct media_engine **me, struct media_session **s, unsigned id,
			struct evlog *log, struct peer *a, struct peer *b)
{
	struct media_engine_cfg cfg;
	struct media_session_params p;

	evlog_init(log);
	test_engine_cfg(&cfg, 4, 1);
	assert_int_equal(test_engine_create(me, &cfg, evlog_handler, log), 0);
	assert_int_equal(media_session_create(*me, id, s), 0);
	peer_open(a, NULL);
	peer_open(b, NULL);
	side_params(&p.side[0], peer_port(a), 0, MEDIA_DIR_SENDRECV);
	side_params(&p.side[1], peer_port(b), 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(media_session_update(*s, &p), 0);
}

static void play_keeps_stream(void **state)
{
	struct media_engine *me;
	struct media_session *s;
	struct media_event ev;
	struct evlog log;
	struct peer a, b;
	static struct pkt got[200];
	int n = 0, prompt_pkts = 0, steps = 0;
	uint8_t pl[160];
	uint64_t t0;
	int16_t *pcm;

	(void)state;
	bridge_open(&me, &s, 5, &log, &a, &b);
	memset(pl, 0xff, sizeof(pl));   /* mu-law silence from A */
	t0 = mono_us();
	/* 2.4 s of A -> B; a 0.6 s prompt to B starts at 0.6 s */
	for (int k = 0; k < 120; k++) {
		struct rtp_hdr h = {.pt = 0, .seq = (uint16_t)(60000 + k), .ts = 1000u + k * 160u,
				    .ssrc = 0x1234};
		uint8_t buf[200];
		size_t hl;

		while (mono_us() < t0 + (uint64_t)k * 20000) {
			collect(&b, got, &n, 200);
			sleep_ms(1);
		}
		if (k == 30) {
			pcm = malloc(4800 * sizeof(int16_t));
			assert_non_null(pcm);
			for (int i = 0; i < 4800; i++)
				pcm[i] = (int16_t)lround(8000 * sin(2 * PI * 1000 * i / 8000.0));
			assert_int_equal(media_session_play(s, MEDIA_SIDE_B, pcm, 4800, false), 0);
		}
		assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &hl), 0);
		memcpy(buf + hl, pl, sizeof(pl));
		peer_send(&a, media_session_port(s, MEDIA_SIDE_A), buf, hl + sizeof(pl));
	}
	sleep_ms(100);
	collect(&b, got, &n, 200);
	assert_true(evlog_wait(&log, MEDIA_EV_FEAT, 5, 1000, &ev));
	assert_int_equal(ev.feat.kind, MEDIA_FEAT_PLAY_START);
	assert_int_equal(evlog_count(&log, MEDIA_EV_FEAT, 5), 2);
	media_session_destroy(s);
	assert_true(evlog_wait(&log, MEDIA_EV_CLOSED, 5, 3000, NULL));
	/* what B got: one stream throughout */
	assert_true(n >= 115);
	for (int i = 0; i < n; i++) {
		prompt_pkts += got[i].rms > 3000;
		assert_int_equal(got[i].h.ssrc, got[0].h.ssrc);
		if (i == 0)
			continue;
		assert_int_equal((uint16_t)(got[i].h.seq - got[i - 1].h.seq), 1);
		if (got[i].h.ts - got[i - 1].h.ts != 160) {
			/* only where the source switched: the time elapsed, at least one
			 * packet time (+10 ms for the receiving side's own scheduling) */
			uint64_t gap = got[i].at_us - got[i - 1].at_us;

			assert_true(got[i].h.ts - got[i - 1].h.ts > 160);
			assert_true(got[i].h.ts - got[i - 1].h.ts <= 160 + (gap + 10000) * 8 / 1000);
			assert_true(got[i].h.marker);
			steps++;
		}
	}
	assert_true(steps <= 2);
	assert_in_range(prompt_pkts, 29, 30);   /* 600 ms of prompt, nothing else loud */
	media_engine_destroy(me);
	peer_close(&a);
	peer_close(&b);
	evlog_fini(&log);
}

/* Comfort noise toward B (A has no remote: nothing else would reach B): 50 quiet
 * packets a second, no events; a prompt replaces it (its two events), then it takes up
 * again; switched off, nothing more is sent. One stream throughout. */
static void fill_gives_way_to_prompt(void **state)
{
	struct media_engine_cfg cfg;
	struct media_engine *me;
	struct media_session *s;
	struct media_session_params p;
	struct evlog log;
	struct peer b;
	static struct pkt got[200];
	int n = 0, quiet1 = 0, loud = 0, quiet2, n_off;
	uint64_t t0, t1;
	int16_t *pcm;

	(void)state;
	evlog_init(&log);
	test_engine_cfg(&cfg, 4, 1);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, &log), 0);
	assert_int_equal(media_session_create(me, 6, &s), 0);
	peer_open(&b, NULL);
	side_params(&p.side[0], 0, 0, MEDIA_DIR_SENDRECV);
	memset(&p.side[0].rtp, 0, sizeof(p.side[0].rtp));   /* no remote */
	side_params(&p.side[1], peer_port(&b), 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(media_session_update(s, &p), 0);
	t0 = mono_us();
	assert_int_equal(media_session_fill(s, MEDIA_SIDE_B, true), 0);
	while (mono_us() < t0 + 400000) {   /* 0.4 s */
		sleep_ms(10);
		collect(&b, got, &n, 200);
	}
	quiet1 = n;
	t1 = mono_us();
	pcm = malloc(1600 * sizeof(int16_t));   /* a 0.2 s prompt */
	assert_non_null(pcm);
	for (int i = 0; i < 1600; i++)
		pcm[i] = (int16_t)lround(8000 * sin(2 * PI * 1000 * i / 8000.0));
	assert_int_equal(media_session_play(s, MEDIA_SIDE_B, pcm, 1600, false), 0);
	for (int k = 0; k < 60; k++) {   /* the prompt, then 0.4 s of noise again */
		sleep_ms(10);
		collect(&b, got, &n, 200);
	}
	quiet2 = n;
	assert_int_equal(media_session_fill(s, MEDIA_SIDE_B, false), 0);
	sleep_ms(60);
	collect(&b, got, &n, 200);
	n_off = n;
	sleep_ms(200);
	collect(&b, got, &n, 200);
	assert_int_equal(n, n_off);   /* off: nothing more */
	assert_int_equal(evlog_count(&log, MEDIA_EV_FEAT, 6), 2);   /* the prompt's only */
	media_session_destroy(s);
	assert_true(evlog_wait(&log, MEDIA_EV_CLOSED, 6, 3000, NULL));
	/* one packet per 20 ms of the time it ran (the worker may be late, never ahead) */
	assert_in_range(quiet1, (int)((t1 - t0) / 20000) * 3 / 4, (int)((t1 - t0) / 20000) + 2);
	assert_true(quiet2 - quiet1 >= 15);
	for (int i = 0; i < n; i++) {
		if (got[i].rms > 3000)
			loud++;
		else
			assert_true(got[i].rms < 30);   /* the noise: near silence */
		assert_int_equal(got[i].h.ssrc, got[0].h.ssrc);
		assert_int_equal(got[i].h.pt, 0);
		if (i) {
			assert_int_equal((uint16_t)(got[i].h.seq - got[i - 1].h.seq), 1);
			assert_int_equal((got[i].h.ts - got[i - 1].h.ts) % 160, 0);
			assert_true(got[i].h.ts - got[i - 1].h.ts >= 160);
		}
	}
	assert_in_range(loud, 6, 10);   /* a late worker skips frames, never adds */
	media_engine_destroy(me);
	peer_close(&b);
	evlog_fini(&log);
}

/* AMD on B, which sends `packets` packets of mu-law silence (20 ms each, from the
 * start) and then nothing: the decision is MACHINE INITIALSILENCE at 2.5 s of the
 * detector's time, reached at about that wall time (the worker's 100 ms tick and the
 * 240 ms idle bound late at most). Before, the detector's time stopped with B's
 * packets: no decision until B sent again. */
static void amd_decides_silent_leg(int packets)
{
	struct media_engine *me;
	struct media_session *s;
	struct media_event ev;
	struct evlog log;
	struct peer a, b;
	uint8_t buf[200];
	uint64_t t0, took;

	bridge_open(&me, &s, 7, &log, &a, &b);
	t0 = mono_us();
	assert_int_equal(media_session_amd(s, MEDIA_SIDE_B, NULL), 0);
	for (int k = 0; k < packets; k++) {
		struct rtp_hdr h = {.pt = 0, .seq = (uint16_t)(100 + k), .ts = 4000u + k * 160u,
				    .ssrc = 0x4321};
		size_t hl;

		while (mono_us() < t0 + (uint64_t)k * 20000)
			sleep_ms(1);
		assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &hl), 0);
		memset(buf + hl, 0xff, 160);
		peer_send(&b, media_session_port(s, MEDIA_SIDE_B), buf, hl + 160);
	}
	assert_true(evlog_wait(&log, MEDIA_EV_FEAT, 7, 4000, &ev));
	took = mono_us() - t0;
	assert_int_equal(ev.feat.kind, MEDIA_FEAT_AMD);
	assert_int_equal(ev.feat.side, MEDIA_SIDE_B);
	assert_int_equal(ev.feat.cls, AMD_MACHINE);
	assert_int_equal(ev.feat.reason, AMD_REASON_INITIALSILENCE);
	assert_in_range(ev.feat.ms, 2500, 2520);
	assert_in_range(took, 2400000, 3400000);
	media_session_destroy(s);
	assert_true(evlog_wait(&log, MEDIA_EV_CLOSED, 7, 3000, NULL));
	media_engine_destroy(me);
	peer_close(&a);
	peer_close(&b);
	evlog_fini(&log);
}

static void amd_no_rtp_at_all(void **state)
{
	(void)state;
	amd_decides_silent_leg(0);
}

static void amd_rtp_stops(void **state)
{
	(void)state;
	amd_decides_silent_leg(40);   /* 0.8 s, then silence suppression */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prompt_rates),
		cmocka_unit_test(prompt_no_aliasing),
		cmocka_unit_test(prompt_refused),
		cmocka_unit_test(record_places_by_timestamp),
		cmocka_unit_test(record_overflow_is_silence),
		cmocka_unit_test(record_reanchors_on_jump),
		cmocka_unit_test(record_late_start_moves_earlier),
		cmocka_unit_test(play_keeps_stream),
		cmocka_unit_test(fill_gives_way_to_prompt),
		cmocka_unit_test(amd_no_rtp_at_all),
		cmocka_unit_test(amd_rtp_stops),
	};

	int failed = 0;

	/* Every test on each worker I/O path. */
	test_media_io = MEDIA_IO_EPOLL;
	failed += cmocka_run_group_tests_name("media_feat (epoll)", tests, NULL, NULL);
	if (!test_uring_allowed()) {
		printf("# media_feat (io_uring): SKIPPED (the kernel refuses io_uring_setup)\n");
		return failed ? 1 : 0;
	}
	test_media_io = MEDIA_IO_URING;
	failed += cmocka_run_group_tests_name("media_feat (io_uring)", tests, NULL, NULL);
	return failed ? 1 : 0;
}
