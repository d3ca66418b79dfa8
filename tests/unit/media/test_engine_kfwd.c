/* test_engine_kfwd.c — in-kernel forwarding ([media] kernel_forward, media/kfwd): a
 * pure relay's RTP goes through the tc program once both sides are latched (the
 * engine's kernel counters grow, the worker relays none of it), both ways, with
 * payload, order, source address and the relay's SSRC/sequence/timestamp rewrite
 * intact; an update takes it back to userspace with the sequence continuing; the
 * close leaves no entry in the table; with the option off everything stays in
 * userspace. Needs root (CAP_BPF, CAP_NET_ADMIN): skipped, and said so, without it.
 * Real sockets on 127.0.0.1; the program is attached to lo as a tcx link, which the
 * kernel removes with the process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "kfwd.h"
#include "media.h"
#include "media_peer.h"
#include "test_media.h"

#define WAIT_MS 3000   /* generous: the machine is shared */
#define BURST   100    /* packets each way through the kernel */

struct fixture {
	struct media_engine  *me;
	struct media_session *s;
	struct evlog          log;
	struct peer           a, b;
	uint16_t              pa, pb;
	struct media_session_params p;
};

static void setup(struct fixture *f, enum media_kfwd mode)
{
	struct media_engine_cfg cfg;

	memset(f, 0, sizeof(*f));
	evlog_init(&f->log);
	test_engine_cfg(&cfg, 4, 1);
	cfg.kernel_forward = mode;
	assert_int_equal(test_engine_create(&f->me, &cfg, evlog_handler, &f->log), 0);
	assert_int_equal(media_session_create(f->me, 91, &f->s), 0);
	f->pa = media_session_port(f->s, MEDIA_SIDE_A);
	f->pb = media_session_port(f->s, MEDIA_SIDE_B);
	peer_open(&f->a);
	peer_open(&f->b);
	side_params(&f->p.side[0], peer_port(&f->a), 0, MEDIA_DIR_SENDRECV);
	side_params(&f->p.side[1], peer_port(&f->b), 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(media_session_update(f->s, &f->p), 0);
}

static void teardown(struct fixture *f, struct media_event *closed)
{
	media_session_destroy(f->s);
	assert_true(evlog_wait(&f->log, MEDIA_EV_CLOSED, 91, WAIT_MS, closed));
	media_engine_destroy(f->me);
	peer_close(&f->a);
	peer_close(&f->b);
	evlog_fini(&f->log);
}

/* One packet from `from` (to trunx's port `port`), received by `to` from trunx's
 * `src_port`: payload intact (tag, then 156 bytes of 0xd5), its header returned. */
static void relay_ts(struct peer *from, uint16_t port, struct peer *to, uint16_t src_port,
		     uint16_t seq, uint32_t ts, uint32_t ssrc, uint32_t tag, struct rtp_hdr *h)
{
	uint8_t buf[2048];
	struct sockaddr_in sa;
	ssize_t n;

	peer_send_rtp(from, port, 0, seq, ts, ssrc, false, tag);
	n = peer_recv(to, buf, sizeof(buf), WAIT_MS, &sa);
	assert_int_equal(n, 12 + 160);
	assert_int_equal(ntohs(sa.sin_port), src_port);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(rtp_hdr_parse(h, buf, (size_t)n), 0);
	assert_int_equal(rtp_get32(buf + 12), tag);
	for (int i = 16; i < n; i++)
		assert_int_equal(buf[i], 0xd5);
}

static void relay_one(struct peer *from, uint16_t port, struct peer *to, uint16_t src_port,
		      uint16_t seq, uint32_t ssrc, uint32_t tag, struct rtp_hdr *h)
{
	relay_ts(from, port, to, src_port, seq, (uint32_t)seq * 160u, ssrc, tag, h);
}

/* B's stream: its sequence starts near the wrap, its timestamps count from 0. */
#define B_SEQ0 65480

static void b_to_a(struct fixture *f, uint16_t *seq, uint32_t tag, struct rtp_hdr *h)
{
	relay_ts(&f->b, f->pb, &f->a, f->pa, *seq, (uint16_t)(*seq - B_SEQ0) * 160u, 0xb, tag,
		 h);
	(*seq)++;
}

static bool wait_flows(struct media_engine *me, uint64_t want)
{
	struct media_engine_counters c;

	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_engine_counters(me, &c);
		if (c.kfwd_flows == want)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* The worker counts a packet just after sending it: wait until it has counted n. */
static void relayed_at_least(struct media_engine *me, uint64_t n,
			     struct media_engine_counters *c)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_engine_counters(me, c);
		if (c->rtp_relayed >= n)
			return;
		sleep_ms(10);
	}
}

static void test_kernel_path(void **state)
{
	struct fixture f;
	struct media_engine_counters c0, c1;
	struct media_side_stats st[2];
	struct media_event ev;
	struct rtp_hdr h, ha[BURST], hb[BURST];
	uint16_t seq_a = 1000, seq_b = B_SEQ0;   /* B's wraps inside the kernel */

	(void)state;
	setup(&f, MEDIA_KFWD_ON);
	media_engine_counters(f.me, &c0);
	if (!c0.kfwd_active) {
		/* Only where the process may not load BPF (no root): everywhere else a
		 * failure to load is a failure of this test. */
		if (geteuid() != 0) {
			printf("# kernel forwarding: SKIPPED (not root: no CAP_BPF)\n");
			teardown(&f, &ev);
			skip();
		}
		fail_msg("kernel_forward = on did not attach as root");
	}
	/* Userspace first: two packets each way (both sides latched, each source's
	 * sequence validated), then the kernel takes both directions. */
	relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 1, &h);
	b_to_a(&f, &seq_b, 2, &h);
	relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 3, &ha[0]);
	b_to_a(&f, &seq_b, 4, &hb[0]);
	assert_true(wait_flows(f.me, 2));
	relayed_at_least(f.me, 4, &c0);
	assert_int_equal(c0.rtp_relayed, 4);

	/* Through the kernel, interleaved both ways. */
	for (unsigned i = 1; i < BURST; i++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 100 + i, &ha[i]);
		b_to_a(&f, &seq_b, 1000 + i, &hb[i]);
	}
	for (unsigned i = 1; i < BURST; i++) {
		assert_int_equal(ha[i].ssrc, ha[0].ssrc);
		assert_int_equal((uint16_t)(ha[i].seq - ha[0].seq), i);
		assert_int_equal(ha[i].ts - ha[0].ts, 160u * i);
		assert_int_equal(ha[i].pt, 0);
		assert_int_equal(hb[i].ssrc, hb[0].ssrc);
		assert_int_equal((uint16_t)(hb[i].seq - hb[0].seq), i);
		assert_int_equal(hb[i].ts - hb[0].ts, 160u * i);
	}
	assert_int_not_equal(ha[0].ssrc, 0xa);   /* the relay's own SSRC, as in userspace */
	sleep_ms(100);   /* a packet through the worker would be counted by now */
	media_engine_counters(f.me, &c1);
	assert_int_equal(c1.rtp_relayed, c0.rtp_relayed);   /* none through the worker */
	assert_int_equal(c1.kfwd_flows, 2);
	assert_int_equal(kfwd_count(f.me->kf), 2);

	/* The counters reach the session's stats (folded about once a second). */
	for (int i = 0; i < 300; i++) {
		if (media_session_stats(f.s, st) == 0 && st[0].rtp_in >= 1 + BURST &&
		    st[1].rtp_in >= 1 + BURST)
			break;
		sleep_ms(10);
	}
	assert_int_equal(st[0].rtp_in, 1 + BURST);
	assert_int_equal(st[1].rtp_in, 1 + BURST);
	assert_int_equal(st[1].rtp_out, 1 + BURST);
	assert_int_equal(st[0].rtp_lost, 0);
	media_engine_counters(f.me, &c1);
	assert_int_equal(c1.kfwd_packets, 2 * (BURST - 1));

	/* A packet the program leaves to userspace (telephone-event, PT 101) takes its
	 * direction back: relayed by the worker in sequence; the audio after it is
	 * offloaded again once two packets in a row carry its payload type, the
	 * sequence still continuous; the other direction stays in the kernel (its
	 * destination, A's latch, did not move). */
	{
		uint16_t sa0 = ha[BURST - 1].seq, sb0 = hb[BURST - 1].seq;
		uint8_t buf[2048];
		struct sockaddr_in sa;
		ssize_t n;

		peer_send_rtp(&f.a, f.pa, 101, seq_a, (uint32_t)seq_a * 160u, 0xa, true, 5);
		seq_a++;
		n = peer_recv(&f.b, buf, sizeof(buf), WAIT_MS, &sa);
		assert_true(n > 12);
		assert_int_equal(rtp_hdr_parse(&h, buf, (size_t)n), 0);
		assert_int_equal(h.pt, 101);
		assert_int_equal(h.ssrc, ha[0].ssrc);
		assert_int_equal(h.seq, (uint16_t)(sa0 + 1));
		assert_true(wait_flows(f.me, 1));
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 6, &h);   /* userspace */
		assert_int_equal(h.seq, (uint16_t)(sa0 + 2));
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 6, &h);   /* userspace */
		assert_int_equal(h.seq, (uint16_t)(sa0 + 3));
		assert_true(wait_flows(f.me, 2));
		b_to_a(&f, &seq_b, 7, &h);                                 /* kernel */
		assert_int_equal(h.seq, (uint16_t)(sb0 + 1));
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 8, &ha[BURST - 1]);   /* kernel */
		assert_int_equal(ha[BURST - 1].seq, (uint16_t)(sa0 + 4));
		b_to_a(&f, &seq_b, 9, &hb[BURST - 1]);                                 /* kernel */
		assert_int_equal(hb[BURST - 1].seq, (uint16_t)(sb0 + 2));
		relayed_at_least(f.me, c0.rtp_relayed + 3, &c1);
		sleep_ms(100);
		media_engine_counters(f.me, &c1);
		assert_int_equal(c1.rtp_relayed, c0.rtp_relayed + 3);   /* the event and the
									  * two audio after it */
	}

	/* An update takes both directions back; the stream goes on without a gap. */
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	assert_true(wait_flows(f.me, 0));
	assert_int_equal(kfwd_count(f.me->kf), 0);
	relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 7, &h);
	assert_int_equal(h.ssrc, ha[0].ssrc);
	assert_int_equal(h.seq, (uint16_t)(ha[BURST - 1].seq + 1));
	assert_int_equal(h.ts, ha[BURST - 1].ts + 160u);
	b_to_a(&f, &seq_b, 8, &h);
	assert_int_equal(h.seq, (uint16_t)(hb[BURST - 1].seq + 1));
	/* ...and, still a pure relay, goes back to the kernel at once. */
	assert_true(wait_flows(f.me, 2));
	relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 9, &h);
	assert_int_equal(h.seq, (uint16_t)(ha[BURST - 1].seq + 2));
	b_to_a(&f, &seq_b, 10, &h);
	assert_int_equal(h.seq, (uint16_t)(hb[BURST - 1].seq + 2));

	teardown(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 7 + BURST);
	assert_int_equal(ev.stats[1].rtp_in, 5 + BURST);
	assert_int_equal(ev.stats[0].rtp_out, 5 + BURST);
	assert_int_equal(ev.stats[1].rtp_out, 7 + BURST);
	assert_int_equal(ev.stats[0].rtp_lost, 0);
	assert_int_equal(ev.stats[1].rtp_lost, 0);
}

/* The close removes the entries: nothing is left in the table. */
static void test_close_leaves_no_entry(void **state)
{
	struct fixture f;
	struct media_engine_counters c;
	struct media_event ev;
	struct rtp_hdr h;

	(void)state;
	setup(&f, MEDIA_KFWD_AUTO);
	media_engine_counters(f.me, &c);
	if (!c.kfwd_active) {
		if (geteuid() != 0) {
			printf("# kernel forwarding: SKIPPED (not root: no CAP_BPF)\n");
			teardown(&f, &ev);
			skip();
		}
		fail_msg("kernel_forward = auto did not attach as root");
	}
	relay_one(&f.a, f.pa, &f.b, f.pb, 1, 0xa, 1, &h);
	relay_one(&f.b, f.pb, &f.a, f.pa, 1, 0xb, 2, &h);
	relay_one(&f.a, f.pa, &f.b, f.pb, 2, 0xa, 3, &h);
	relay_one(&f.b, f.pb, &f.a, f.pa, 2, 0xb, 4, &h);
	assert_true(wait_flows(f.me, 2));
	media_session_destroy(f.s);
	assert_true(evlog_wait(&f.log, MEDIA_EV_CLOSED, 91, WAIT_MS, &ev));
	assert_int_equal(kfwd_count(f.me->kf), 0);
	media_engine_counters(f.me, &c);
	assert_int_equal(c.kfwd_flows, 0);
	/* With no entry, a packet to the old port reaches no one through the kernel. */
	peer_send_rtp(&f.a, f.pa, 0, 3, 480, 0xa, false, 4);
	assert_false(peer_recv_rtp(&f.b, &h, NULL, 300, NULL));
	media_engine_destroy(f.me);
	peer_close(&f.a);
	peer_close(&f.b);
	evlog_fini(&f.log);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A direction whose entry refused its first packet (a telephone-event right after the
 * offload) before forwarding any is not offloaded again at once (1 s back-off: a
 * party the kernel cannot forward to must not cost a table update per packet), and
 * is once the back-off has passed; the stream stays continuous throughout. */
static void test_backoff_after_refusal(void **state)
{
	struct fixture f;
	struct media_engine_counters c;
	struct media_event ev;
	struct rtp_hdr h, h1;
	uint8_t buf[2048];
	uint64_t t0;
	ssize_t n;

	(void)state;
	setup(&f, MEDIA_KFWD_AUTO);
	media_engine_counters(f.me, &c);
	if (!c.kfwd_active) {
		if (geteuid() != 0) {
			printf("# kernel forwarding: SKIPPED (not root: no CAP_BPF)\n");
			teardown(&f, &ev);
			skip();
		}
		fail_msg("kernel_forward = auto did not attach as root");
	}
	relay_one(&f.a, f.pa, &f.b, f.pb, 1, 0xa, 1, &h1);
	relay_one(&f.b, f.pb, &f.a, f.pa, 1, 0xb, 2, &h);
	relay_one(&f.a, f.pa, &f.b, f.pb, 2, 0xa, 3, &h);
	relay_one(&f.b, f.pb, &f.a, f.pa, 2, 0xb, 4, &h);
	assert_true(wait_flows(f.me, 2));
	/* A's next packet is an event: the program refuses it, having forwarded none. */
	peer_send_rtp(&f.a, f.pa, 101, 3, 480, 0xa, true, 5);
	t0 = mono_ms();
	n = peer_recv(&f.b, buf, sizeof(buf), WAIT_MS, NULL);
	assert_true(n > 12);
	assert_true(wait_flows(f.me, 1));
	relay_one(&f.a, f.pa, &f.b, f.pb, 4, 0xa, 6, &h);
	relay_one(&f.a, f.pa, &f.b, f.pb, 5, 0xa, 7, &h);
	sleep_ms(50);
	media_engine_counters(f.me, &c);
	if (mono_ms() - t0 < 800)   /* only meaningful well inside the back-off */
		assert_int_equal(c.kfwd_flows, 1);
	sleep_ms(1100);
	relay_one(&f.a, f.pa, &f.b, f.pb, 6, 0xa, 8, &h);   /* userspace: offloads again */
	assert_true(wait_flows(f.me, 2));
	relay_one(&f.a, f.pa, &f.b, f.pb, 7, 0xa, 9, &h);   /* kernel */
	assert_int_equal(h.ssrc, h1.ssrc);
	assert_int_equal(h.seq, (uint16_t)(h1.seq + 6));
	assert_int_equal(h.ts, h1.ts + 6 * 160u);
	teardown(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 7);
	assert_int_equal(ev.stats[1].rtp_out, 7);
	assert_int_equal(ev.stats[0].rtp_lost, 0);
}

/* Off: the same call stays in userspace, the worker relays every packet. */
static void test_off_stays_in_userspace(void **state)
{
	struct fixture f;
	struct media_engine_counters c0, c1;
	struct media_event ev;
	struct rtp_hdr h;

	(void)state;
	setup(&f, MEDIA_KFWD_OFF);
	media_engine_counters(f.me, &c0);
	assert_false(c0.kfwd_active);
	for (uint16_t i = 1; i <= 20; i++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, i, 0xa, i, &h);
		relay_one(&f.b, f.pb, &f.a, f.pa, i, 0xb, i, &h);
	}
	relayed_at_least(f.me, c0.rtp_relayed + 40, &c1);
	assert_int_equal(c1.rtp_relayed - c0.rtp_relayed, 40);
	assert_int_equal(c1.kfwd_flows, 0);
	assert_int_equal(c1.kfwd_packets, 0);
	teardown(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 20);
}

int test_engine_kfwd_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_path),
		cmocka_unit_test(test_close_leaves_no_entry),
		cmocka_unit_test(test_backoff_after_refusal),
		cmocka_unit_test(test_off_stays_in_userspace),
	};

	return cmocka_run_group_tests_name("media_engine_kfwd", tests, NULL, NULL);
}
