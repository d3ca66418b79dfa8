/* test_engine_srtp.c — SDES-SRTP in the engine with real sockets on 127.0.0.1, the test
 * playing both parties with its own libsrtp contexts: RTP <-> SRTP bridging both ways
 * (80- and 32-bit tags, SRTCP), a call carried across the 16-bit sequence wrap (the
 * rollover counter), a kept key keeping the counter through an update, a new key (rekey
 * by re-INVITE) starting a fresh context and refusing the old key, tampered and
 * replayed packets dropped and counted, nothing sent in the clear toward a side whose
 * keys are pending, and SRTP on a transcoded call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <srtp2/srtp.h>

#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "test_media.h"

#define WAIT_MS  3000
#define QUIET_MS 300
#define PKT_MAX  (12 + 160 + 144)

/* One party's SRTP: its own key (it protects with it) and the engine's key toward it. */
struct party {
	srtp_t   tx, rx;
	uint8_t  key[MEDIA_SRTP_KEY_LEN];    /* the party's */
	uint8_t  ekey[MEDIA_SRTP_KEY_LEN];   /* the engine's toward it */
	enum media_srtp_suite suite;
};

static void key_fill(uint8_t *k, uint8_t seed)
{
	for (int i = 0; i < MEDIA_SRTP_KEY_LEN; i++)
		k[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static srtp_t ctx_make(enum media_srtp_suite suite, const uint8_t *key, bool inbound)
{
	srtp_policy_t pol;
	uint8_t k[MEDIA_SRTP_KEY_LEN];
	srtp_t ctx = NULL;

	memset(&pol, 0, sizeof(pol));
	if (suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
	else
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
	memcpy(k, key, sizeof(k));
	pol.key = k;
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.window_size = 1024;
	assert_int_equal(srtp_create(&ctx, &pol), srtp_err_status_ok);
	return ctx;
}

static void party_free(struct party *p)
{
	if (p->tx)
		srtp_dealloc(p->tx);
	if (p->rx)
		srtp_dealloc(p->rx);
	p->tx = p->rx = NULL;
}

/* Gives a party SRTP (its key from seed, the engine's from seed + 100) and puts the
 * matching parameters on side sp. */
static void party_srtp(struct party *p, struct media_side_params *sp,
		       enum media_srtp_suite suite, uint8_t seed)
{
	party_free(p);
	p->suite = suite;
	key_fill(p->key, seed);
	key_fill(p->ekey, (uint8_t)(seed + 100));
	p->tx = ctx_make(suite, p->key, false);
	p->rx = ctx_make(suite, p->ekey, true);
	memset(&sp->srtp, 0, sizeof(sp->srtp));
	sp->srtp.suite = suite;
	memcpy(sp->srtp.rx_key, p->key, MEDIA_SRTP_KEY_LEN);
	memcpy(sp->srtp.tx_key, p->ekey, MEDIA_SRTP_KEY_LEN);
}

static void fx_open(struct mfx *f)
{
	struct media_engine_cfg cfg;

	static bool inited;

	if (!inited)   /* once per process: a second call fails */
		assert_int_equal(srtp_init(), srtp_err_status_ok);
	inited = true;
	test_engine_cfg(&cfg, 8, 1);
	mfx_open(f, &cfg, 5);
}

/* Closes f and frees the parties' SRTP contexts. */
static void fx_close(struct mfx *f, struct media_event *closed, struct party *sa,
		     struct party *sb)
{
	mfx_close(f, closed);
	party_free(sa);
	party_free(sb);
}

static void update(struct mfx *f)
{
	assert_int_equal(media_session_update(f->s, &f->p), 0);
	sleep_ms(50);   /* the worker applies it before the next packets */
}

/* Builds an RTP packet (PT 0, 160 bytes, tag in the first 4), protected when p has
 * SRTP. Returns its length. */
static size_t make_rtp(const struct party *p, uint8_t *buf, uint16_t seq, uint32_t ts,
		       uint32_t ssrc, uint32_t tag)
{
	struct rtp_hdr h = {.pt = 0, .seq = seq, .ts = ts, .ssrc = ssrc};
	size_t n;
	int len;

	assert_int_equal(rtp_hdr_build(buf, PKT_MAX, &h, &n), 0);
	memset(buf + n, 0x55, 160);
	rtp_put32(buf + n, tag);
	len = (int)(n + 160);
	if (p && p->tx)
		assert_int_equal(srtp_protect(p->tx, buf, &len), srtp_err_status_ok);
	return (size_t)len;
}

/* Receives one packet at peer, unprotecting it with p's inbound context when p has
 * SRTP. Returns false on timeout or a packet that does not unprotect. */
static bool recv_rtp(struct peer *pe, const struct party *p, struct rtp_hdr *h,
		     uint32_t *tag, int timeout_ms)
{
	uint8_t buf[2048];
	ssize_t n = peer_recv(pe, buf, sizeof(buf), timeout_ms, NULL);
	int len = (int)n;

	if (n < 0)
		return false;
	if (p && p->rx && srtp_unprotect(p->rx, buf, &len) != srtp_err_status_ok)
		return false;
	if (rtp_hdr_parse(h, buf, (size_t)len))
		return false;
	*tag = h->payload_len >= 4 ? rtp_get32(buf + h->hdr_len) : 0;
	return true;
}

/* Sends count packets from a (its SRTP if any) from seq0 and checks that b gets them
 * all, decrypted and in order. Sends in bursts so that nothing overflows a socket. */
static void stream(struct mfx *f, struct peer *from, uint16_t to_port, struct party *fs,
		   struct peer *to, struct party *ts, uint16_t seq0, uint32_t ssrc, int count,
		   uint32_t tag0)
{
	uint8_t buf[PKT_MAX];
	int burst = 32, got = 0;
	uint16_t last = 0;

	(void)f;
	for (int i = 0; i < count; i += burst) {
		int k = count - i < burst ? count - i : burst;

		for (int j = 0; j < k; j++) {
			uint16_t seq = (uint16_t)(seq0 + i + j);
			size_t n = make_rtp(fs, buf, seq, (uint32_t)(i + j) * 160u, ssrc,
					    tag0 + (uint32_t)(i + j));

			peer_send(from, to_port, buf, n);
		}
		for (int j = 0; j < k; j++) {
			struct rtp_hdr h;
			uint32_t tag;

			assert_true(recv_rtp(to, ts, &h, &tag, WAIT_MS));
			assert_int_equal(tag, tag0 + (uint32_t)(i + j));
			if (got)
				assert_int_equal(h.seq, (uint16_t)(last + 1));
			last = h.seq;
			got++;
		}
	}
	assert_int_equal(got, count);
}

/* ---- bridging ---- */

static void bridge(enum media_srtp_suite suite)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;

	fx_open(&f);
	/* A plain RTP, B SRTP */
	party_srtp(&sb, &f.p.side[1], suite, 2);
	update(&f);
	stream(&f, &f.a, f.pa, NULL, &f.b, &sb, 1000, 0x1111, 50, 100);
	stream(&f, &f.b, f.pb, &sb, &f.a, NULL, 7000, 0x2222, 50, 500);
	/* the other way round: A SRTP, B plain */
	party_free(&sb);
	memset(&f.p.side[1].srtp, 0, sizeof(f.p.side[1].srtp));
	party_srtp(&sa, &f.p.side[0], suite, 1);
	update(&f);
	stream(&f, &f.a, f.pa, &sa, &f.b, NULL, 1050, 0x1111, 50, 200);
	stream(&f, &f.b, f.pb, NULL, &f.a, &sa, 7050, 0x2222, 50, 600);
	fx_close(&f, &closed, &sa, &sb);
	assert_int_equal(closed.stats[0].srtp_auth_fail, 0);
	assert_int_equal(closed.stats[0].srtp_replay, 0);
	assert_int_equal(closed.stats[1].srtp_auth_fail, 0);
}

static void test_bridge_80(void **state)
{
	(void)state;
	bridge(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
}

static void test_bridge_32(void **state)
{
	(void)state;
	bridge(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
}

/* SRTCP from an SRTP side arrives in the clear at a plain side and back. */
static void test_srtcp(void **state)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;
	uint8_t buf[PKT_MAX], rr[32] = {0x81, 201, 0, 7};
	struct peer ra, rb;
	struct sockaddr_in from;
	ssize_t n;
	int len;

	(void)state;
	fx_open(&f);
	peer_open(&ra, NULL);
	peer_open(&rb, NULL);
	side_params(&f.p.side[0], peer_port(&f.a), peer_port(&ra), MEDIA_DIR_SENDRECV);
	side_params(&f.p.side[1], peer_port(&f.b), peer_port(&rb), MEDIA_DIR_SENDRECV);
	party_srtp(&sa, &f.p.side[0], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, 3);
	update(&f);
	/* RTP both ways first: RTCP is mapped to the streams */
	stream(&f, &f.a, f.pa, &sa, &f.b, NULL, 10, 0xa1, 5, 1);
	stream(&f, &f.b, f.pb, NULL, &f.a, &sa, 20, 0xb1, 5, 1);
	/* an RR from A (SRTCP, 80-bit tag) */
	rtp_put32(rr + 4, 0xa1);
	rtp_put32(rr + 8, 0xb1);
	memcpy(buf, rr, sizeof(rr));
	len = (int)sizeof(rr);
	assert_int_equal(srtp_protect_rtcp(sa.tx, buf, &len), srtp_err_status_ok);
	assert_int_equal(len, (int)sizeof(rr) + 4 + 10);
	peer_send(&ra, (uint16_t)(f.pa + 1), buf, (size_t)len);
	n = peer_recv(&rb, buf, sizeof(buf), WAIT_MS, &from);
	assert_int_equal(n, (ssize_t)sizeof(rr));   /* plain RTCP at B */
	assert_int_equal(buf[1], 201);
	/* and one from B reaches A protected */
	memcpy(buf, rr, sizeof(rr));
	rtp_put32(buf + 4, 0xb1);
	rtp_put32(buf + 8, 0xa1);
	peer_send(&rb, (uint16_t)(f.pb + 1), buf, sizeof(rr));
	n = peer_recv(&ra, buf, sizeof(buf), WAIT_MS, &from);
	assert_int_equal(n, (ssize_t)sizeof(rr) + 14);
	len = (int)n;
	assert_int_equal(srtp_unprotect_rtcp(sa.rx, buf, &len), srtp_err_status_ok);
	assert_int_equal(len, (int)sizeof(rr));
	peer_close(&ra);
	peer_close(&rb);
	fx_close(&f, &closed, &sa, &sb);
	assert_int_equal(closed.stats[0].srtp_auth_fail, 0);
}

/* ---- rollover, kept key, rekey ---- */

/*
 * Both sides SRTP. A's stream starts at 65,000 and runs 66,000 packets: its sequence
 * wraps after 536 packets (the engine must move its inbound rollover counter), and the
 * stream the engine sends B wraps somewhere too (its outbound counter), since any
 * 65,536 consecutive packets cross a wrap. Then an update that keeps the keys keeps
 * the counters; a new key from A starts a fresh context, and the old key is refused.
 */
static void test_wrap_and_rekey(void **state)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;
	uint8_t buf[PKT_MAX];
	struct rtp_hdr h;
	uint32_t tag;
	size_t n;
	srtp_t old_tx;

	(void)state;
	fx_open(&f);
	party_srtp(&sa, &f.p.side[0], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 4);
	party_srtp(&sb, &f.p.side[1], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 5);
	update(&f);
	stream(&f, &f.a, f.pa, &sa, &f.b, &sb, 65000, 0xabc, 66000, 0);
	stream(&f, &f.b, f.pb, &sb, &f.a, &sa, 65500, 0xdef, 100, 0);

	/* an update with the same keys (hold and resume, say): the counters stay */
	f.p.side[0].dir = MEDIA_DIR_SENDRECV;
	update(&f);
	stream(&f, &f.a, f.pa, &sa, &f.b, &sb, (uint16_t)(65000 + 66000), 0xabc, 100,
	       66000);

	/* A rekeys (a re-INVITE with a new key): A's new context starts at counter 0,
	 * as does the engine's inbound one */
	old_tx = sa.tx;
	sa.tx = NULL;
	party_srtp(&sa, &f.p.side[0], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 6);
	update(&f);
	stream(&f, &f.a, f.pa, &sa, &f.b, &sb, 100, 0xabc, 50, 90000);
	/* a packet under the old key is refused, not forwarded */
	{
		struct party old = {.tx = old_tx};

		n = make_rtp(&old, buf, 150, 0, 0xabc, 1);
		peer_send(&f.a, f.pa, buf, n);
		assert_false(recv_rtp(&f.b, &sb, &h, &tag, QUIET_MS));
		srtp_dealloc(old_tx);
	}
	fx_close(&f, &closed, &sa, &sb);
	assert_int_equal(closed.stats[0].srtp_auth_fail, 1);
	assert_int_equal(closed.stats[1].srtp_auth_fail, 0);
	assert_true(closed.stats[1].rtp_out >= 66150);
}

/* ---- tampered and replayed ---- */

static void test_tamper_replay(void **state)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;
	uint8_t buf[PKT_MAX], copy[PKT_MAX];
	struct rtp_hdr h;
	uint32_t tag;
	size_t n, ncopy;

	(void)state;
	fx_open(&f);
	party_srtp(&sa, &f.p.side[0], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, 7);
	update(&f);
	stream(&f, &f.a, f.pa, &sa, &f.b, NULL, 500, 0x77, 10, 1);
	/* a good packet, then the same bytes again (replay) */
	n = make_rtp(&sa, buf, 510, 1600, 0x77, 42);
	memcpy(copy, buf, n);
	ncopy = n;
	peer_send(&f.a, f.pa, buf, n);
	assert_true(recv_rtp(&f.b, NULL, &h, &tag, WAIT_MS));
	assert_int_equal(tag, 42);
	peer_send(&f.a, f.pa, copy, ncopy);
	assert_false(recv_rtp(&f.b, NULL, &h, &tag, QUIET_MS));
	/* a tampered packet: one payload bit flipped */
	n = make_rtp(&sa, buf, 511, 1760, 0x77, 43);
	buf[20] ^= 0x01;
	peer_send(&f.a, f.pa, buf, n);
	/* a plain RTP packet on an SRTP side */
	n = make_rtp(NULL, buf, 512, 1920, 0x77, 44);
	peer_send(&f.a, f.pa, buf, n);
	/* from a stranger's address, a replay of the good packet: not forwarded either */
	{
		struct peer x;

		peer_open(&x, NULL);
		peer_send(&x, f.pa, copy, ncopy);
		peer_close(&x);
	}
	assert_false(recv_rtp(&f.b, NULL, &h, &tag, QUIET_MS));
	/* the stream goes on */
	stream(&f, &f.a, f.pa, &sa, &f.b, NULL, 513, 0x77, 5, 60);
	fx_close(&f, &closed, &sa, &sb);
	assert_int_equal(closed.stats[0].srtp_replay, 2);
	assert_int_equal(closed.stats[0].srtp_auth_fail, 2);
	assert_true(closed.stats[0].rtp_dropped >= 4);
	assert_int_equal(closed.stats[0].rtp_in, 16);
}

/* An SRTP side latches only to a source whose packet authenticated: a sender on the
 * party's host (which may latch) that sends first, in the clear or with a forged tag,
 * takes nothing; the party, behind a NAT (its packets from another port than its SDP
 * names), latches with its first packet and gets B's audio; the other sender none. */
static void test_unauthenticated_never_latches(void **state)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;
	struct peer a2, x;
	uint8_t buf[PKT_MAX];
	struct rtp_hdr h;
	uint32_t tag;
	size_t n;

	(void)state;
	fx_open(&f);
	peer_open(&a2, NULL);
	peer_open(&x, NULL);
	party_srtp(&sa, &f.p.side[0], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 9);
	update(&f);
	n = make_rtp(NULL, buf, 1, 0, 0x5, 1);               /* in the clear */
	peer_send(&x, f.pa, buf, n);
	n = make_rtp(NULL, buf, 2, 160, 0x5, 2);             /* a made-up tag */
	memset(buf + n, 0xa5, 10);
	peer_send(&x, f.pa, buf, n + 10);
	n = make_rtp(&sa, buf, 3, 320, 0x5, 3);              /* the party's, one bit off */
	buf[30] ^= 0x10;
	peer_send(&x, f.pa, buf, n);
	assert_false(recv_rtp(&f.b, NULL, &h, &tag, QUIET_MS));
	/* B talks: nothing has latched, so it goes to A's SDP address, not to x */
	stream(&f, &f.b, f.pb, NULL, &f.a, &sa, 100, 0xb, 3, 50);
	assert_int_equal(peer_drain(&x, 50), 0);
	/* the party (NAT: another port than its SDP's) latches at its first packet */
	stream(&f, &a2, f.pa, &sa, &f.b, NULL, 10, 0xa, 5, 10);
	stream(&f, &f.b, f.pb, NULL, &a2, &sa, 103, 0xb, 5, 60);
	n = make_rtp(NULL, buf, 4, 480, 0x5, 4);
	peer_send(&x, f.pa, buf, n);
	assert_false(recv_rtp(&f.b, NULL, &h, &tag, QUIET_MS));
	stream(&f, &f.b, f.pb, NULL, &a2, &sa, 108, 0xb, 3, 70);
	assert_int_equal(peer_drain(&x, 50), 0);
	fx_close(&f, &closed, &sa, &sb);
	assert_int_equal(closed.stats[0].srtp_auth_fail, 4);
	assert_int_equal(closed.stats[0].rtp_in, 5);
	peer_close(&a2);
	peer_close(&x);
}

/* ---- pending keys ---- */

/* While B's keys are pending, nothing goes to B in the clear and B's packets are not
 * taken; once its keys arrive, the call works. */
static void test_pending(void **state)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;
	uint8_t buf[PKT_MAX];
	struct rtp_hdr h;
	uint32_t tag;
	size_t n;

	(void)state;
	fx_open(&f);
	f.p.side[1].srtp.pending = true;
	update(&f);
	n = make_rtp(NULL, buf, 1, 0, 0x9, 1);
	peer_send(&f.a, f.pa, buf, n);
	assert_false(recv_rtp(&f.b, NULL, &h, &tag, QUIET_MS));
	peer_send(&f.b, f.pb, buf, n);
	assert_false(recv_rtp(&f.a, NULL, &h, &tag, QUIET_MS));
	party_srtp(&sb, &f.p.side[1], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 8);
	update(&f);
	stream(&f, &f.a, f.pa, NULL, &f.b, &sb, 2, 0x9, 10, 10);
	stream(&f, &f.b, f.pb, &sb, &f.a, NULL, 20, 0x19, 10, 30);
	fx_close(&f, &closed, &sa, &sb);
	assert_int_equal(closed.stats[1].srtp_auth_fail, 0);
}

/* ---- transcoding ---- */

/* PCMU over SRTP on A, Opus in the clear on B: the frames trunx generates toward A are
 * protected, and A's SRTP audio is decoded. */
static void test_transcoded(void **state)
{
	struct mfx f;
	struct party sa = {0}, sb = {0};
	struct media_event closed;
	uint8_t buf[PKT_MAX];
	int got_a = 0, got_b = 0;

	(void)state;
	fx_open(&f);
	party_srtp(&sa, &f.p.side[0], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 9);
	f.p.side[0].codec.codec = MEDIA_CODEC_PCMU;
	f.p.side[0].codec.pt = 0;
	f.p.side[0].codec.pt_rx[0] = 0;
	f.p.side[0].codec.pt_rx[1] = MEDIA_PT_NONE;
	f.p.side[0].codec.te_pt = f.p.side[0].codec.te_pt_rx[0] = MEDIA_PT_NONE;
	f.p.side[0].codec.te_pt_rx[1] = MEDIA_PT_NONE;
	f.p.side[1].codec = f.p.side[0].codec;
	f.p.side[1].codec.codec = MEDIA_CODEC_OPUS;
	f.p.side[1].codec.pt = 111;
	f.p.side[1].codec.pt_rx[0] = 111;
	f.p.side[1].codec.opus.complexity = 1;
	update(&f);
	for (int i = 0; i < 50; i++) {
		size_t n = make_rtp(&sa, buf, (uint16_t)(100 + i), (uint32_t)i * 160u, 0x5,
				    (uint32_t)i);
		struct rtp_hdr h;
		uint32_t tag;

		peer_send(&f.a, f.pa, buf, n);
		sleep_ms(20);
		while (recv_rtp(&f.b, NULL, &h, &tag, 0))
			got_b += h.pt == 111;
	}
	/* nothing from B yet: no frames to A; B starts (a short Opus frame each) */
	for (int i = 0; i < 30; i++) {
		static const uint8_t silence[3] = {0x08, 0xff, 0xfe};   /* a TOC + bytes */
		struct rtp_hdr h = {.pt = 111, .seq = (uint16_t)(900 + i),
				    .ts = (uint32_t)i * 960u, .ssrc = 0x6};
		size_t hl;
		struct rtp_hdr rh;
		uint32_t tag;

		assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &hl), 0);
		memcpy(buf + hl, silence, sizeof(silence));
		peer_send(&f.b, f.pb, buf, hl + sizeof(silence));
		sleep_ms(20);
		while (recv_rtp(&f.a, &sa, &rh, &tag, 0))
			got_a += rh.pt == 0 && rh.payload_len == 160;
	}
	sleep_ms(200);
	{
		struct rtp_hdr rh;
		uint32_t tag;

		while (recv_rtp(&f.a, &sa, &rh, &tag, 0))
			got_a += rh.pt == 0 && rh.payload_len == 160;
	}
	fx_close(&f, &closed, &sa, &sb);
	assert_true(got_b >= 40);
	assert_true(got_a >= 20);
	assert_int_equal(closed.stats[0].srtp_auth_fail, 0);
}

int test_engine_srtp_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_80),
		cmocka_unit_test(test_bridge_32),
		cmocka_unit_test(test_srtcp),
		cmocka_unit_test(test_tamper_replay),
		cmocka_unit_test(test_unauthenticated_never_latches),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_transcoded),
		cmocka_unit_test(test_wrap_and_rekey),
	};

	return cmocka_run_group_tests_name("engine_srtp", tests, NULL, NULL);
}
