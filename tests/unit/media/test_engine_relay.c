/* test_engine_relay.c — the relay with real sockets: both ways with PT rewrite,
 * latching, third-party drops, strangers refused the latch (RTP bleed) unless the
 * side's own latch or the engine's is any, re-latch after silence and after an update,
 * one stable SSRC with continuous seq/ts and the marker across a source change, RTCP
 * rewrite, direction handling, and the final stats. The test plays both remote
 * parties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "rtcp.h"
#include "test_media.h"

#define WAIT_MS  3000   /* generous: the machine is shared */
#define QUIET_MS 300    /* "nothing arrives" window */

static void setup_relatch(struct mfx *f, unsigned relatch_ms)
{
	struct media_engine_cfg cfg;

	test_engine_cfg(&cfg, 8, 2);
	cfg.relatch_ms = relatch_ms;
	mfx_open(f, &cfg, 77);
}

static void setup(struct mfx *f)
{
	setup_relatch(f, 0);
}

/* Reads the counters once rtp_relayed reached want (the worker counts after the
 * send returns, which can be after the receiver already has the packet). */
static void counters_at(struct media_engine *me, uint64_t want,
			struct media_engine_counters *c)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_engine_counters(me, c);
		if (c->rtp_relayed >= want)
			return;
		sleep_ms(10);
	}
}

/* Sends from src to the session port and expects it at dst; returns the header. */
static struct rtp_hdr hop(struct peer *src, uint16_t port, struct peer *dst, uint8_t pt,
			  uint16_t seq, uint32_t ts, uint32_t ssrc, uint32_t tag)
{
	struct rtp_hdr h;
	uint32_t got;

	peer_send_rtp(src, port, pt, seq, ts, ssrc, false, tag);
	assert_true(peer_recv_rtp(dst, &h, &got, WAIT_MS, NULL));
	assert_int_equal(got, tag);
	return h;
}

static void test_both_ways_pt_rewrite(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct sockaddr_in from;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f);
	/* A sends telephone-event as 101, B negotiated it as 96. */
	f.p.side[0].pt_map[101] = 96;
	f.p.side[1].pt_map[101] = MEDIA_PT_NONE;
	f.p.side[1].pt_map[96] = 101;
	mfx_update(&f);
	for (uint16_t i = 0; i < 10; i++) {
		peer_send_rtp(&f.a, f.pa, 0, (uint16_t)(100 + i), 160u * i, 0xa, false, i);
		assert_true(peer_recv_rtp(&f.b, &h, &tag, WAIT_MS, &from));
		assert_int_equal(tag, i);
		assert_int_equal(h.pt, 0);
		/* Symmetric RTP: it leaves from the session's B port. */
		assert_int_equal(ntohs(from.sin_port), f.pb);
	}
	h = hop(&f.a, f.pa, &f.b, 101, 110, 1600, 0xa, 50);
	assert_int_equal(h.pt, 96);
	h = hop(&f.b, f.pb, &f.a, 96, 7, 0, 0xb, 51);
	assert_int_equal(h.pt, 101);
	h = hop(&f.b, f.pb, &f.a, 8, 8, 160, 0xb, 52);
	assert_int_equal(h.pt, 8);
	/* PT 18 is in neither map: dropped and counted. */
	peer_send_rtp(&f.a, f.pa, 18, 111, 1760, 0xa, false, 53);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	/* A malformed datagram is dropped too. */
	peer_send(&f.a, f.pa, "\x40\x00junk", 6);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 11);
	assert_int_equal(ev.stats[0].rtp_dropped, 2);
	assert_int_equal(ev.stats[1].rtp_out, 11);
	assert_int_equal(ev.stats[1].rtp_in, 2);
	assert_int_equal(ev.stats[0].rtp_out, 2);
}

/* A burst of updates is never refused, and the newest one is what applies. */
static void test_update_burst_newest_wins(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct peer c;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f);
	peer_open(&c, NULL);
	for (int i = 0; i < 20000; i++) {
		side_params(&f.p.side[1], peer_port(i % 2 ? &f.b : &c), 0, MEDIA_DIR_SENDRECV);
		mfx_update(&f);
	}
	side_params(&f.p.side[1], peer_port(&f.b), 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(100);
	peer_send_rtp(&f.a, f.pa, 0, 1, 160, 0xa, false, 7);
	assert_true(peer_recv_rtp(&f.b, &h, &tag, WAIT_MS, NULL));
	assert_int_equal(tag, 7);
	assert_int_equal(peer_drain(&c, QUIET_MS), 0);
	peer_close(&c);
	mfx_close(&f, &ev);
}

static void test_latch_and_third_party(void **state)
{
	struct mfx f;
	struct peer a2, a3;
	struct media_event ev;
	struct media_engine_counters c;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f);
	peer_open(&a2, NULL);
	peer_open(&a3, NULL);
	mfx_update(&f);
	/* SDP names f.a, but the packets come from a2 (a NAT): latch to a2. */
	hop(&a2, f.pa, &f.b, 0, 1, 0, 0xa, 1);
	hop(&f.b, f.pb, &a2, 0, 1, 0, 0xb, 2);
	assert_int_equal(peer_drain(&f.a, 100), 0);
	/* A third address is dropped and counted; the latch holds. */
	peer_send_rtp(&a3, f.pa, 0, 2, 160, 0xc, false, 3);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	hop(&a2, f.pa, &f.b, 0, 2, 160, 0xa, 5);
	assert_true(peer_recv_rtp(&a2, &h, &tag, 10, NULL) == false);
	hop(&f.b, f.pb, &a2, 0, 2, 160, 0xb, 6);
	counters_at(f.me, 4, &c);
	assert_int_equal(c.rtp_dropped, 1);
	assert_int_equal(c.rtp_relayed, 4);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_dropped, 1);
	assert_int_equal(ev.stats[0].rtp_in, 2);
	peer_close(&a2);
	peer_close(&a3);
}

/* Side A moved to another party (a re-bridge): the old party's last packet arrives
 * first and latches, but the new SDP address takes the side back at once; the old
 * party is dropped from then on and B's audio goes to the new one. */
static void test_new_remote_takes_back_latch(void **state)
{
	struct mfx f;
	struct peer a2;
	struct media_event ev;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f);
	peer_open(&a2, NULL);
	mfx_update(&f);
	hop(&f.a, f.pa, &f.b, 0, 1, 0, 0xa, 1);            /* latched to A's SDP address */
	side_params(&f.p.side[0], peer_port(&a2), 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(50);
	hop(&f.a, f.pa, &f.b, 0, 2, 160, 0xa, 2);          /* the old party, late: latches */
	hop(&a2, f.pa, &f.b, 0, 1, 0, 0x2a, 3);            /* the new address takes over */
	hop(&f.b, f.pb, &a2, 0, 1, 0, 0xb, 4);             /* B's audio goes to it */
	assert_int_equal(peer_drain(&f.a, 50), 0);
	peer_send_rtp(&f.a, f.pa, 0, 3, 320, 0xa, false, 5);   /* the old party: dropped */
	assert_false(peer_recv_rtp(&f.b, &h, &tag, QUIET_MS, NULL));
	hop(&a2, f.pa, &f.b, 0, 2, 160, 0x2a, 6);
	mfx_close(&f, &ev);
	peer_close(&a2);
}

/* RTP bleed at a call's start: another sender on the party's host (a previous call's
 * stream still arriving at a reused port, another process, a scan from a host that
 * may latch) sends first and latches; the party's first packet, from the exact
 * address its SDP names, takes the side back at once: B's audio goes to the party,
 * the other sender is dropped from then on, and so is its RTCP once the party's
 * RTCP address speaks. */
static void test_sdp_address_takes_back_latch(void **state)
{
	struct mfx f;
	struct peer old, old_rtcp, a_rtcp;
	struct media_event ev;
	struct rtp_hdr h;
	uint32_t tag;
	const uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 7};   /* an empty RR */

	(void)state;
	setup(&f);   /* default relatch: 2 s, far longer than this test waits */
	peer_open(&old, NULL);
	peer_open(&old_rtcp, NULL);
	peer_open(&a_rtcp, NULL);
	/* A's RTCP at a_rtcp's port, as an SDP a=rtcp line would name it */
	((struct sockaddr_in *)&f.p.side[0].rtcp)->sin_family = AF_INET;
	((struct sockaddr_in *)&f.p.side[0].rtcp)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	((struct sockaddr_in *)&f.p.side[0].rtcp)->sin_port = htons(peer_port(&a_rtcp));
	mfx_update(&f);
	sleep_ms(50);
	hop(&old, f.pa, &f.b, 0, 100, 0, 0x01d, 1);        /* first: latches (a known host) */
	hop(&f.b, f.pb, &old, 0, 1, 0, 0xb, 2);            /* B's audio goes there, for now */
	hop(&f.a, f.pa, &f.b, 0, 1, 0, 0xa, 3);            /* the SDP address takes over */
	hop(&f.b, f.pb, &f.a, 0, 2, 160, 0xb, 4);          /* B's audio reaches the party */
	assert_int_equal(peer_drain(&old, 50), 0);
	peer_send_rtp(&old, f.pa, 0, 101, 160, 0x01d, false, 5);   /* dropped from now on */
	assert_false(peer_recv_rtp(&f.b, &h, &tag, QUIET_MS, NULL));
	hop(&f.a, f.pa, &f.b, 0, 2, 160, 0xa, 6);
	hop(&f.b, f.pb, &f.a, 0, 3, 320, 0xb, 7);
	assert_int_equal(peer_drain(&old, 50), 0);
	/* RTCP: a report from the other sender's host latches first (nothing else has
	 * spoken), then the party's own RTCP address takes it back. */
	peer_send(&old_rtcp, (uint16_t)(f.pa + 1), rr, sizeof(rr));
	sleep_ms(50);
	peer_send(&a_rtcp, (uint16_t)(f.pa + 1), rr, sizeof(rr));
	sleep_ms(50);
	peer_send(&old_rtcp, (uint16_t)(f.pa + 1), rr, sizeof(rr));   /* dropped */
	sleep_ms(100);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 3);
	assert_int_equal(ev.stats[0].rtp_dropped, 2);   /* its RTP and its last RTCP */
	assert_int_equal(ev.stats[0].ssrc_changes, 1);
	assert_int_equal(ev.stats[0].rtcp_in, 2);
	peer_close(&old);
	peer_close(&old_rtcp);
	peer_close(&a_rtcp);
}

static void test_relatch_after_silence(void **state)
{
	struct mfx f;
	struct peer a2, a3;
	struct media_event ev;

	(void)state;
	setup_relatch(&f, 300);
	peer_open(&a2, NULL);
	peer_open(&a3, NULL);
	mfx_update(&f);
	hop(&a2, f.pa, &f.b, 0, 1, 0, 0xa, 1);
	peer_send_rtp(&a3, f.pa, 0, 1, 0, 0xc, false, 2);          /* too early */
	assert_int_equal(peer_drain(&f.b, 100), 0);
	sleep_ms(600);                                              /* a2 falls silent */
	hop(&a3, f.pa, &f.b, 0, 50, 8000, 0xc, 3);                  /* a3 latches */
	hop(&f.b, f.pb, &a3, 0, 1, 0, 0xb, 4);                      /* B now reaches a3 */
	assert_int_equal(peer_drain(&a2, 100), 0);
	peer_send_rtp(&a2, f.pa, 0, 2, 160, 0xa, false, 5);         /* old source: dropped */
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_dropped, 2);
	assert_int_equal(ev.stats[0].ssrc_changes, 1);
	peer_close(&a2);
	peer_close(&a3);
}

static void test_relatch_after_update(void **state)
{
	struct mfx f;
	struct peer a2;
	struct media_event ev;

	(void)state;
	setup(&f);   /* default relatch: 2 s, far longer than this test waits */
	peer_open(&a2, NULL);
	mfx_update(&f);
	hop(&f.a, f.pa, &f.b, 0, 1, 0, 0xa, 1);
	peer_send_rtp(&a2, f.pa, 0, 1, 0, 0xa2, false, 2);
	assert_int_equal(peer_drain(&f.b, 100), 0);
	/* A re-INVITE moves A to a2: the next source latches at once. */
	side_params(&f.p.side[0], peer_port(&a2), 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(50);
	hop(&a2, f.pa, &f.b, 0, 9, 99, 0xa2, 3);
	hop(&f.b, f.pb, &a2, 0, 1, 0, 0xb, 4);
	peer_send_rtp(&f.a, f.pa, 0, 2, 160, 0xa, false, 5);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_dropped, 2);
	peer_close(&a2);
}

static void test_stable_ssrc_across_sources(void **state)
{
	struct mfx f;
	struct peer a2;
	struct media_event ev;
	struct rtp_hdr h, first;
	uint16_t seq;
	uint32_t ts;

	(void)state;
	setup(&f);
	peer_open(&a2, NULL);
	mfx_update(&f);
	first = hop(&f.a, f.pa, &f.b, 0, 1000, 50000, 0x1111, 0);
	seq = first.seq;
	ts = first.ts;
	for (uint16_t i = 1; i < 5; i++) {
		h = hop(&f.a, f.pa, &f.b, 0, (uint16_t)(1000 + i), 50000u + 160u * i, 0x1111, i);
		assert_int_equal(h.ssrc, first.ssrc);
		assert_int_equal(h.seq, (uint16_t)(seq + i));
		assert_int_equal(h.ts, ts + 160u * i);
		assert_false(h.marker);
	}
	seq = h.seq;
	ts = h.ts;
	assert_int_not_equal(first.ssrc, 0x1111);   /* trunx's own SSRC */
	/* The same party restarts with a new SSRC and unrelated seq/ts. */
	sleep_ms(40);
	h = hop(&f.a, f.pa, &f.b, 0, 60000, 7, 0x2222, 10);
	assert_int_equal(h.ssrc, first.ssrc);
	assert_int_equal(h.seq, (uint16_t)(seq + 1));
	assert_true(h.marker);
	assert_true((int32_t)(h.ts - ts) >= 160);   /* moved on by at least the gap */
	assert_true((int32_t)(h.ts - ts) < 8000 * 5);
	seq = h.seq;
	ts = h.ts;
	h = hop(&f.a, f.pa, &f.b, 0, 60001, 167, 0x2222, 11);
	assert_int_equal(h.seq, (uint16_t)(seq + 1));
	assert_int_equal(h.ts, ts + 160);
	assert_false(h.marker);
	/* A re-INVITE moves A elsewhere: still one stream toward B. */
	seq = h.seq;
	ts = h.ts;
	side_params(&f.p.side[0], peer_port(&a2), 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(50);
	h = hop(&a2, f.pa, &f.b, 0, 3, 3, 0x2222, 12);   /* same SSRC, new address */
	assert_int_equal(h.ssrc, first.ssrc);
	assert_int_equal(h.seq, (uint16_t)(seq + 1));
	assert_true(h.marker);
	assert_true((int32_t)(h.ts - ts) > 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].ssrc_changes, 2);
	peer_close(&a2);
}

static void test_rtcp_relay(void **state)
{
	struct mfx f;
	struct peer ar, br, x;
	struct media_event ev;
	struct rtp_hdr to_b, to_a;
	uint8_t b[256];
	ssize_t n;
	size_t o = 0;

	(void)state;
	setup(&f);
	peer_open(&ar, NULL);
	peer_open(&br, NULL);
	peer_open(&x, NULL);
	side_params(&f.p.side[0], peer_port(&f.a), peer_port(&ar), MEDIA_DIR_SENDRECV);
	side_params(&f.p.side[1], peer_port(&f.b), peer_port(&br), MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	to_b = hop(&f.a, f.pa, &f.b, 0, 500, 1000, 0xaaaa, 1);   /* A's stream as B sees it */
	to_a = hop(&f.b, f.pb, &f.a, 0, 900, 2000, 0xbbbb, 2);   /* B's stream as A sees it */

	/* A reports: SR from 0xaaaa, one block about the stream it receives (to_a). */
	b[o] = 0x81; b[o + 1] = RTCP_SR; rtp_put16(b + o + 2, 52 / 4 - 1);
	rtp_put32(b + o + 4, 0xaaaa);
	memset(b + o + 8, 0, 8);
	rtp_put32(b + o + 16, 1000);
	rtp_put32(b + o + 20, 1); rtp_put32(b + o + 24, 172);
	rtp_put32(b + o + 28, to_a.ssrc);
	rtp_put32(b + o + 32, 0);
	rtp_put32(b + o + 36, (uint32_t)to_a.seq);
	memset(b + o + 40, 0, 12);
	o += 52;
	b[o] = 0x81; b[o + 1] = RTCP_SDES; rtp_put16(b + o + 2, 3);
	rtp_put32(b + o + 4, 0xaaaa);
	b[o + 8] = 1; b[o + 9] = 2; b[o + 10] = 'a'; b[o + 11] = 'b';
	memset(b + o + 12, 0, 4);
	o += 16;
	peer_send(&ar, (uint16_t)(f.pa + 1), b, o);
	n = peer_recv(&br, b, sizeof(b), WAIT_MS, NULL);
	assert_int_equal(n, (ssize_t)o);
	assert_int_equal(rtcp_walk(b, (size_t)n, NULL, NULL), 0);
	assert_int_equal(rtp_get32(b + 4), to_b.ssrc);       /* the SSRC B knows for A */
	assert_int_equal(rtp_get32(b + 16), to_b.ts);         /* SR ts in B's view */
	assert_int_equal(rtp_get32(b + 28), 0xbbbb);          /* about B's own stream... */
	assert_int_equal(rtp_get32(b + 36) & 0xffff, 900);    /* ...in its own numbers */
	assert_int_equal(rtp_get32(b + 52 + 4), to_b.ssrc);   /* SDES */

	/* RTCP from elsewhere and malformed RTCP are dropped. */
	peer_send(&x, (uint16_t)(f.pa + 1), b, o);
	peer_send(&ar, (uint16_t)(f.pa + 1), b, o - 4);
	assert_int_equal(peer_drain(&br, QUIET_MS), 0);

	/* B's RR goes the other way. */
	memset(b, 0, 32);
	b[0] = 0x81; b[1] = RTCP_RR; rtp_put16(b + 2, 7);
	rtp_put32(b + 4, 0xbbbb);
	rtp_put32(b + 8, to_b.ssrc);
	rtp_put32(b + 16, (uint32_t)to_b.seq);
	peer_send(&br, (uint16_t)(f.pb + 1), b, 32);
	n = peer_recv(&ar, b, sizeof(b), WAIT_MS, NULL);
	assert_int_equal(n, 32);
	assert_int_equal(rtp_get32(b + 4), to_a.ssrc);
	assert_int_equal(rtp_get32(b + 8), 0xaaaa);
	assert_int_equal(rtp_get32(b + 16) & 0xffff, 500);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtcp_in, 1);
	assert_int_equal(ev.stats[1].rtcp_out, 1);
	assert_int_equal(ev.stats[1].rtcp_in, 1);
	assert_int_equal(ev.stats[0].rtcp_out, 1);
	assert_int_equal(ev.stats[0].rtp_dropped, 2);
	peer_close(&ar);
	peer_close(&br);
	peer_close(&x);
}

static void test_directions(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct rtp_hdr h, last;

	(void)state;
	setup(&f);
	mfx_update(&f);
	last = hop(&f.b, f.pb, &f.a, 0, 1, 0, 0xb, 1);
	/* A puts the call on hold: A is sendonly, B answers recvonly. */
	f.p.side[0].dir = MEDIA_DIR_SENDONLY;
	f.p.side[1].dir = MEDIA_DIR_RECVONLY;
	mfx_update(&f);
	sleep_ms(50);
	for (uint16_t i = 2; i < 7; i++)
		peer_send_rtp(&f.b, f.pb, 0, i, 160u * (i - 1), 0xb, false, i);
	assert_int_equal(peer_drain(&f.a, QUIET_MS), 0);      /* nothing toward A */
	hop(&f.a, f.pa, &f.b, 0, 1, 0, 0xa, 10);              /* A's music on hold flows */
	/* Inactive on A's side: still nothing toward A. */
	f.p.side[0].dir = MEDIA_DIR_INACTIVE;
	f.p.side[1].dir = MEDIA_DIR_INACTIVE;
	mfx_update(&f);
	sleep_ms(50);
	peer_send_rtp(&f.b, f.pb, 0, 7, 960, 0xb, false, 7);
	assert_int_equal(peer_drain(&f.a, QUIET_MS), 0);
	/* Resume: B's stream continues without a sequence gap, marker set. */
	f.p.side[0].dir = MEDIA_DIR_SENDRECV;
	f.p.side[1].dir = MEDIA_DIR_SENDRECV;
	mfx_update(&f);
	sleep_ms(50);
	h = hop(&f.b, f.pb, &f.a, 0, 8, 1120, 0xb, 8);
	assert_int_equal(h.ssrc, last.ssrc);
	assert_int_equal(h.seq, (uint16_t)(last.seq + 1));
	assert_true(h.marker);
	assert_true((int32_t)(h.ts - last.ts) > 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[1].rtp_in, 8);     /* all counted on arrival */
	assert_int_equal(ev.stats[0].rtp_out, 2);    /* only two reached A */
	assert_int_equal(ev.stats[1].rtp_dropped, 0);
}

static void test_closed_stats(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct media_engine_counters c;
	unsigned sent_a = 0, sent_b = 0;

	(void)state;
	setup(&f);
	mfx_update(&f);
	/* A: seq 1..60 with 1, 2 and 3 packets missing at three places. */
	for (uint16_t q = 1; q <= 60; q++) {
		if (q == 10 || q == 20 || q == 21 || q == 30 || q == 31 || q == 32)
			continue;
		peer_send_rtp(&f.a, f.pa, 0, q, 160u * q, 0xa, false, q);
		sent_a++;
		if (q % 10 == 0)
			sleep_ms(5);
	}
	/* B: 20 in order. */
	for (uint16_t q = 1; q <= 20; q++, sent_b++)
		peer_send_rtp(&f.b, f.pb, 0, q, 160u * q, 0xb, false, q);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), (int)sent_a);
	assert_int_equal(peer_drain(&f.a, QUIET_MS), (int)sent_b);
	counters_at(f.me, sent_a + sent_b, &c);
	assert_int_equal(c.rtp_relayed, sent_a + sent_b);
	assert_int_equal(c.rtp_dropped, 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.type, MEDIA_EV_CLOSED);
	assert_int_equal(ev.cookie, 77);
	assert_int_equal(ev.stats[0].rtp_in, sent_a);
	assert_int_equal(ev.stats[0].bytes_in, sent_a * 172u);
	assert_int_equal(ev.stats[0].rtp_lost, 6);
	assert_int_equal(ev.stats[1].rtp_out, sent_a);
	assert_int_equal(ev.stats[1].bytes_out, sent_a * 172u);
	assert_int_equal(ev.stats[1].rtp_in, sent_b);
	assert_int_equal(ev.stats[1].rtp_lost, 0);
	assert_int_equal(ev.stats[0].rtp_out, sent_b);
	assert_int_equal(ev.stats[0].rtp_dropped, 0);
	assert_int_equal(ev.stats[0].ssrc_changes, 0);
	assert_int_equal(ev.stats[0].rtcp_in, 0);
	/* Sent in a burst: the jitter estimate is finite, well under a second. */
	assert_true(ev.stats[0].jitter_us < 1000000);
}

static void test_no_remote_yet(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f);
	/* Before any update nothing is relayed. */
	peer_send_rtp(&f.a, f.pa, 0, 1, 0, 0xa, false, 1);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	/* Early: only A is known (B has not answered). A's packets go nowhere; B's
	 * side still rejects everything. */
	side_params(&f.p.side[1], 0, 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(50);
	peer_send_rtp(&f.a, f.pa, 0, 2, 160, 0xa, false, 2);
	peer_send_rtp(&f.b, f.pb, 0, 1, 0, 0xb, false, 3);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	assert_int_equal(peer_drain(&f.a, 50), 0);
	/* B answers. */
	side_params(&f.p.side[1], peer_port(&f.b), 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(50);
	peer_send_rtp(&f.a, f.pa, 0, 3, 320, 0xa, false, 4);
	assert_true(peer_recv_rtp(&f.b, &h, &tag, WAIT_MS, NULL));
	assert_int_equal(tag, 4);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_dropped, 1);
	assert_int_equal(ev.stats[1].rtp_dropped, 1);
	assert_int_equal(ev.stats[0].rtp_in, 2);
}

static void test_null_address_hold(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct rtp_hdr h, last;

	(void)state;
	setup(&f);
	mfx_update(&f);
	last = hop(&f.b, f.pb, &f.a, 0, 1, 0, 0xb, 1);
	/* Old-style hold: A's SDP says c=0.0.0.0. Nothing goes toward A. */
	((struct sockaddr_in *)&f.p.side[0].rtp)->sin_addr.s_addr = htonl(INADDR_ANY);
	mfx_update(&f);
	sleep_ms(50);
	peer_send_rtp(&f.b, f.pb, 0, 2, 160, 0xb, false, 2);
	assert_int_equal(peer_drain(&f.a, QUIET_MS), 0);
	/* A itself may still send (music on hold): it latches and is relayed. */
	hop(&f.a, f.pa, &f.b, 0, 1, 0, 0xa, 3);
	/* Resume with the real address. */
	side_params(&f.p.side[0], peer_port(&f.a), 0, MEDIA_DIR_SENDRECV);
	mfx_update(&f);
	sleep_ms(50);
	h = hop(&f.b, f.pb, &f.a, 0, 3, 320, 0xb, 4);
	assert_int_equal(h.seq, (uint16_t)(last.seq + 1));
	assert_true(h.marker);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_out, 2);
}

/* RTP bleed: a stranger (127.0.0.5) sprays the session's ports first. With the
 * default latch = known it takes neither side: its packets are dropped and counted,
 * the parties latch and are relayed, it receives nothing, and once a party has been
 * silent past relatch it still cannot take the side. */
static void test_latch_refuses_stranger(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct peer x;

	(void)state;
	setup_relatch(&f, 100);
	mfx_update(&f);
	peer_open(&x, "127.0.0.5");
	for (uint16_t i = 0; i < 5; i++) {
		peer_send_rtp(&x, f.pa, 0, (uint16_t)(900 + i), 160u * i, 0x66, false, 66);
		peer_send_rtp(&x, f.pb, 0, (uint16_t)(900 + i), 160u * i, 0x66, false, 66);
	}
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	assert_int_equal(peer_drain(&f.a, QUIET_MS), 0);
	hop(&f.a, f.pa, &f.b, 0, 1, 0, 0xa, 1);
	hop(&f.b, f.pb, &f.a, 0, 1, 0, 0xb, 2);
	assert_int_equal(peer_drain(&x, QUIET_MS), 0);
	/* Both parties silent past relatch (100 ms): the stranger tries again. */
	sleep_ms(250);
	peer_send_rtp(&x, f.pa, 0, 950, 8000, 0x66, false, 67);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	hop(&f.b, f.pb, &f.a, 0, 2, 160, 0xb, 3);   /* still to A, not to the stranger */
	assert_int_equal(peer_drain(&x, QUIET_MS), 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_foreign, 6);
	assert_int_equal(ev.stats[1].rtp_foreign, 5);
	assert_int_equal(ev.stats[0].rtp_in, 1);
	peer_close(&x);
}

/* A NATed party: its SDP names a private address, its packets come from the address
 * its signalling came from, which may latch; without that address they may not. */
static void test_latch_from_signalling_address(void **state)
{
	struct mfx f;
	struct media_event ev;
	struct sockaddr_in *sdp;

	(void)state;
	setup(&f);
	sdp = (struct sockaddr_in *)&f.p.side[0].rtp;
	assert_int_equal(inet_pton(AF_INET, "10.0.0.7", &sdp->sin_addr), 1);
	memset(&f.p.side[0].sig, 0, sizeof(f.p.side[0].sig));
	mfx_update(&f);
	sleep_ms(50);
	peer_send_rtp(&f.a, f.pa, 0, 1, 0, 0xa, false, 1);
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	/* The b2bua hands on the signalling address: now it latches. */
	side_params(&f.p.side[0], peer_port(&f.a), 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(inet_pton(AF_INET, "10.0.0.7", &sdp->sin_addr), 1);
	mfx_update(&f);
	sleep_ms(50);
	hop(&f.a, f.pa, &f.b, 0, 2, 160, 0xa, 2);
	hop(&f.b, f.pb, &f.a, 0, 1, 0, 0xb, 3);     /* symmetric: back to where A sends from */
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_foreign, 1);
}

/* latch = any: the first source wins, whoever it is (the behaviour it names). */
static void test_latch_any(void **state)
{
	struct mfx f;
	struct media_engine_cfg cfg;
	struct media_event ev;
	struct peer x;

	(void)state;
	test_engine_cfg(&cfg, 8, 2);
	cfg.latch = MEDIA_LATCH_ANY;
	mfx_open(&f, &cfg, 77);
	mfx_update(&f);
	peer_open(&x, "127.0.0.5");
	hop(&x, f.pa, &f.b, 0, 1, 0, 0x66, 1);
	hop(&f.b, f.pb, &x, 0, 1, 0, 0xb, 2);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_foreign, 0);
	peer_close(&x);
}

/* Each side's own latch over the engine's (a per-trunk latch): a stranger (127.0.0.5)
 * sprays both ports. The side whose latch is any takes it, and its packets reach the
 * other party; the side whose latch is known refuses it (counted foreign), and that
 * side's own party is still relayed, toward the stranger that now holds the open
 * side. Run over an engine whose latch is known (side A says any) and over one whose
 * latch is any (side A says known, side B follows the engine). */
static void latch_sides(enum media_latch engine, enum media_side_latch la,
			enum media_side_latch lb, int open)
{
	struct mfx f;
	struct media_engine_cfg cfg;
	struct media_event ev;
	struct peer x, *party[2];
	uint16_t port[2];
	int shut = !open;

	test_engine_cfg(&cfg, 8, 2);
	cfg.latch = engine;
	mfx_open(&f, &cfg, 78);
	party[0] = &f.a;
	party[1] = &f.b;
	port[0] = f.pa;
	port[1] = f.pb;
	f.p.side[0].latch = la;
	f.p.side[1].latch = lb;
	mfx_update(&f);
	sleep_ms(50);
	peer_open(&x, "127.0.0.5");
	for (uint16_t i = 0; i < 3; i++)
		peer_send_rtp(&x, port[shut], 0, (uint16_t)(900 + i), 160u * i, 0x66, false, 66);
	assert_int_equal(peer_drain(party[open], QUIET_MS), 0);
	hop(&x, port[open], party[shut], 0, 1, 0, 0x67, 1);
	hop(party[shut], port[shut], &x, 0, 1, 0, 0xb, 2);
	assert_int_equal(peer_drain(party[open], QUIET_MS), 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[shut].rtp_foreign, 3);
	assert_int_equal(ev.stats[shut].rtp_in, 1);
	assert_int_equal(ev.stats[open].rtp_foreign, 0);
	assert_int_equal(ev.stats[open].rtp_in, 1);
	peer_close(&x);
}

static void test_latch_per_side(void **state)
{
	(void)state;
	latch_sides(MEDIA_LATCH_KNOWN, MEDIA_SIDE_LATCH_ANY, MEDIA_SIDE_LATCH_ENGINE, 0);
	latch_sides(MEDIA_LATCH_KNOWN, MEDIA_SIDE_LATCH_ENGINE, MEDIA_SIDE_LATCH_ANY, 1);
	latch_sides(MEDIA_LATCH_ANY, MEDIA_SIDE_LATCH_KNOWN, MEDIA_SIDE_LATCH_ENGINE, 1);
}

/* A side's latch outside the enum is refused by the update. */
static void test_latch_bad_value(void **state)
{
	struct mfx f;

	(void)state;
	setup(&f);
	f.p.side[1].latch = (enum media_side_latch)3;
	assert_int_equal(media_session_update(f.s, &f.p), EINVAL);
	mfx_close(&f, NULL);
}

static int open6(struct sockaddr_in6 *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(a, 0, sizeof(*a));
	a->sin6_family = AF_INET6;
	a->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_ipv6(void **state)
{
	struct media_engine_cfg cfg;
	struct media_session_params p;
	struct media_engine *me;
	struct media_session *s;
	struct sockaddr_in6 aa, ab, to;
	struct evlog l;
	struct pollfd pf;
	struct rtp_hdr h = {.pt = 8, .seq = 1, .ssrc = 9};
	uint8_t buf[64];
	size_t n;
	int fa, fb;

	(void)state;
	fa = open6(&aa);
	fb = open6(&ab);
	if (fa < 0 || fb < 0) {
		if (fa >= 0)
			close(fa);
		if (fb >= 0)
			close(fb);
		skip();   /* no IPv6 loopback here */
	}
	evlog_init(&l);
	test_engine_cfg(&cfg, 4, 1);
	strcpy(cfg.bind_addr, "::1");
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, &l), 0);
	assert_int_equal(media_session_create(me, 6, &s), 0);
	side_params(&p.side[0], 1, 0, MEDIA_DIR_SENDRECV);
	side_params(&p.side[1], 1, 0, MEDIA_DIR_SENDRECV);
	memcpy(&p.side[0].rtp, &aa, sizeof(aa));
	memcpy(&p.side[1].rtp, &ab, sizeof(ab));
	assert_int_equal(media_session_update(s, &p), 0);
	assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &n), 0);
	memset(buf + n, 0x2a, 20);
	to = aa;
	to.sin6_port = htons(media_session_port(s, MEDIA_SIDE_A));
	assert_int_equal(sendto(fa, buf, n + 20, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)(n + 20));
	pf.fd = fb;
	pf.events = POLLIN;
	assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
	assert_int_equal(recv(fb, buf, sizeof(buf), 0), (ssize_t)(n + 20));
	assert_int_equal(rtp_hdr_parse(&h, buf, n + 20), 0);
	assert_int_equal(h.pt, 8);
	media_session_destroy(s);
	assert_true(evlog_wait(&l, MEDIA_EV_CLOSED, 6, WAIT_MS, NULL));
	media_engine_destroy(me);
	evlog_fini(&l);
	close(fa);
	close(fb);
}

int test_engine_relay_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways_pt_rewrite),
		cmocka_unit_test(test_latch_and_third_party),
		cmocka_unit_test(test_new_remote_takes_back_latch),
		cmocka_unit_test(test_sdp_address_takes_back_latch),
		cmocka_unit_test(test_update_burst_newest_wins),
		cmocka_unit_test(test_relatch_after_silence),
		cmocka_unit_test(test_relatch_after_update),
		cmocka_unit_test(test_stable_ssrc_across_sources),
		cmocka_unit_test(test_rtcp_relay),
		cmocka_unit_test(test_directions),
		cmocka_unit_test(test_closed_stats),
		cmocka_unit_test(test_no_remote_yet),
		cmocka_unit_test(test_null_address_hold),
		cmocka_unit_test(test_latch_refuses_stranger),
		cmocka_unit_test(test_latch_from_signalling_address),
		cmocka_unit_test(test_latch_any),
		cmocka_unit_test(test_latch_per_side),
		cmocka_unit_test(test_latch_bad_value),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests_name("engine relay", tests, NULL, NULL);
}
