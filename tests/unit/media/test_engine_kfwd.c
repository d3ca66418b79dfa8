/* test_engine_kfwd.c — in-kernel forwarding ([media] kernel_forward, media/kfwd): a
 * pure relay's RTP goes through the tc program once both sides are latched (the
 * engine's kernel counters grow, the worker relays none of it), both ways, with
 * payload, order, source address and the relay's SSRC/sequence/timestamp rewrite
 * intact; an update takes it back to userspace with the sequence continuing; the
 * close leaves no entry in the table; with the option off everything stays in
 * userspace. Where the kernel has no tcx links (simulated), only `on` attaches, as a
 * tc filter that the destroy removes; `auto` stays off (such a filter would survive a
 * SIGKILL). Needs root (CAP_BPF, CAP_NET_ADMIN): skipped, and said so, without it.
 * Real sockets on 127.0.0.1; the program is attached to lo as a tcx link, which the
 * kernel removes with the process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<bpf/libbpf.h>)
#include <bpf/libbpf.h>
#define HAVE_LIBBPF 1
#endif

#include "engine.h"
#include "kfwd.h"
#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "test_media.h"

#define WAIT_MS 3000   /* generous: the machine is shared */
#define BURST   100    /* packets each way through the kernel */

static void setup_cfg(struct mfx *f, enum media_kfwd mode, unsigned relatch_ms,
		      unsigned rtp_timeout_ms)
{
	struct media_engine_cfg cfg;

	test_engine_cfg(&cfg, 4, 1);
	cfg.kernel_forward = mode;
	cfg.relatch_ms = relatch_ms;   /* 0: the engine's default */
	cfg.rtp_timeout_ms = rtp_timeout_ms;
	mfx_open(f, &cfg, 91);
	mfx_update(f);
}

static void setup(struct mfx *f, enum media_kfwd mode)
{
	setup_cfg(f, mode, 0, 0);
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

/* The engine of f must have attached its program (kernel_forward = mode), with its
 * counters in c: only where the process may not load BPF (not root) is the test
 * skipped; everywhere else a failure to attach is a failure of the test. */
static void require_kernel(struct mfx *f, struct media_engine_counters *c, const char *mode)
{
	struct media_event ev;

	media_engine_counters(f->me, c);
	if (c->kfwd_active)
		return;
	if (geteuid() != 0) {
		printf("# kernel forwarding: SKIPPED (not root: no CAP_BPF)\n");
		mfx_close(f, &ev);
		skip();
	}
	fail_msg("kernel_forward = %s did not attach as root", mode);
}

/* B's stream: its sequence starts near the wrap, its timestamps count from 0. */
#define B_SEQ0 65480

static void b_to_a(struct mfx *f, uint16_t *seq, uint32_t tag, struct rtp_hdr *h)
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

/* Latches both sides and validates both sources in userspace (two packets each way:
 * A's and B's sequence numbers 1 and 2, tags 1 to 4), then waits until the kernel has
 * both directions. a1, a2 (may be NULL): A's two packets as B got them. */
static void latch_both(struct mfx *f, struct rtp_hdr *a1, struct rtp_hdr *a2)
{
	struct rtp_hdr h, h1, h2;

	relay_one(&f->a, f->pa, &f->b, f->pb, 1, 0xa, 1, &h1);
	relay_one(&f->b, f->pb, &f->a, f->pa, 1, 0xb, 2, &h);
	relay_one(&f->a, f->pa, &f->b, f->pb, 2, 0xa, 3, &h2);
	relay_one(&f->b, f->pb, &f->a, f->pa, 2, 0xb, 4, &h);
	assert_true(wait_flows(f->me, 2));
	if (a1)
		*a1 = h1;
	if (a2)
		*a2 = h2;
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
	struct mfx f;
	struct media_engine_counters c0, c1;
	struct media_side_stats st[2];
	struct media_event ev;
	struct rtp_hdr h, ha[BURST], hb[BURST];
	uint16_t seq_a = 1000, seq_b = B_SEQ0;   /* B's wraps inside the kernel */

	(void)state;
	setup(&f, MEDIA_KFWD_ON);
	require_kernel(&f, &c0, "on");
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

	mfx_close(&f, &ev);
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
	struct mfx f;
	struct media_engine_counters c;
	struct media_event ev;
	struct rtp_hdr h;

	(void)state;
	setup(&f, MEDIA_KFWD_AUTO);
	require_kernel(&f, &c, "auto");
	latch_both(&f, NULL, NULL);
	media_session_destroy(f.s);
	assert_true(evlog_wait(&f.log, MEDIA_EV_CLOSED, 91, WAIT_MS, &ev));
	assert_int_equal(kfwd_count(f.me->kf), 0);
	media_engine_counters(f.me, &c);
	assert_int_equal(c.kfwd_flows, 0);
	/* With no entry, a packet to the old port reaches no one through the kernel. */
	peer_send_rtp(&f.a, f.pa, 0, 3, 480, 0xa, false, 4);
	assert_false(peer_recv_rtp(&f.b, &h, NULL, 300, NULL));
	mfx_free(&f);
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
	struct mfx f;
	struct media_engine_counters c;
	struct media_event ev;
	struct rtp_hdr h, h1;
	uint8_t buf[2048];
	uint64_t t0;
	ssize_t n;

	(void)state;
	setup(&f, MEDIA_KFWD_AUTO);
	require_kernel(&f, &c, "auto");
	latch_both(&f, &h1, NULL);
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
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 7);
	assert_int_equal(ev.stats[1].rtp_out, 7);
	assert_int_equal(ev.stats[0].rtp_lost, 0);
}

/* Off: the same call stays in userspace, the worker relays every packet. */
static void test_off_stays_in_userspace(void **state)
{
	struct mfx f;
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
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 20);
}

/* Hold and resume by re-INVITE while both directions are in the kernel: the hold
 * (B sendonly: music on hold toward A) takes both back and offloads nothing while it
 * lasts (B's stream relayed by the worker, nothing sent to B); the resume offloads
 * both again, and A's stream reaches B with its sequence continuing across the hold. */
static void test_hold_resume(void **state)
{
	struct mfx f;
	struct media_engine_counters c0, c1;
	struct media_event ev;
	struct rtp_hdr h, ha;
	uint16_t seq_a = 3, seq_b = 3;
	int i;

	(void)state;
	setup(&f, MEDIA_KFWD_AUTO);
	require_kernel(&f, &c0, "auto");
	latch_both(&f, NULL, &ha);
	for (i = 0; i < 10; i++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 10 + i, &ha);
		relay_one(&f.b, f.pb, &f.a, f.pa, seq_b++, 0xb, 10 + i, &h);
	}
	/* hold: B sends only */
	side_params(&f.p.side[1], peer_port(&f.b), 0, MEDIA_DIR_SENDONLY);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	assert_true(wait_flows(f.me, 0));
	sleep_ms(100);
	media_engine_counters(f.me, &c0);
	for (i = 0; i < 10; i++)
		relay_one(&f.b, f.pb, &f.a, f.pa, seq_b++, 0xb, 100 + i, &h);   /* on hold */
	for (i = 0; i < 3; i++, seq_a++)
		peer_send_rtp(&f.a, f.pa, 0, seq_a, (uint32_t)seq_a * 160u, 0xa, false, 200);
	assert_false(peer_recv_rtp(&f.b, &h, NULL, 300, NULL));   /* not sent to B */
	relayed_at_least(f.me, c0.rtp_relayed + 10, &c1);
	assert_int_equal(c1.rtp_relayed, c0.rtp_relayed + 10);   /* by the worker */
	assert_int_equal(c1.kfwd_flows, 0);
	/* resume */
	side_params(&f.p.side[1], peer_port(&f.b), 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	for (i = 0; i < 20; i++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 300 + i, &h);
		assert_int_equal(h.ssrc, ha.ssrc);
		assert_int_equal(h.seq, (uint16_t)(ha.seq + 1));   /* continues across the hold */
		ha = h;
		relay_one(&f.b, f.pb, &f.a, f.pa, seq_b++, 0xb, 300 + i, &h);
		media_engine_counters(f.me, &c1);
		if (c1.kfwd_flows == 2)
			break;
	}
	assert_true(wait_flows(f.me, 2));
	sleep_ms(100);
	media_engine_counters(f.me, &c0);
	for (i = 0; i < 10; i++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 400 + i, &h);   /* kernel */
		assert_int_equal(h.seq, (uint16_t)(ha.seq + 1));
		ha = h;
		relay_one(&f.b, f.pb, &f.a, f.pa, seq_b++, 0xb, 400 + i, &h);
	}
	sleep_ms(100);
	media_engine_counters(f.me, &c1);
	assert_int_equal(c1.rtp_relayed, c0.rtp_relayed);
	mfx_close(&f, &ev);
}

/* rtp_timeout with both directions in the kernel: media the program forwards is
 * activity (no timeout while it flows, for longer than the timeout), and when it
 * stops the timeout comes as it would in userspace. */
static void test_rtp_timeout_in_kernel(void **state)
{
	struct mfx f;
	struct media_engine_counters c;
	struct media_event ev;
	struct rtp_hdr h;
	uint16_t seq = 3;
	uint64_t t0;

	(void)state;
	setup_cfg(&f, MEDIA_KFWD_AUTO, 0, 1000);
	require_kernel(&f, &c, "auto");
	latch_both(&f, NULL, NULL);
	/* 2.5 s of media both ways, all through the kernel */
	for (int i = 0; i < 50; i++, seq++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, seq, 0xa, 10 + i, &h);
		relay_one(&f.b, f.pb, &f.a, f.pa, seq, 0xb, 10 + i, &h);
		sleep_ms(50);
	}
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 91), 0);
	media_engine_counters(f.me, &c);
	assert_int_equal(c.kfwd_flows, 2);
	t0 = mono_ms();
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 91, 5000, NULL));
	/* the timeout (1 s) after the last packet, give or take the 100 ms scan */
	assert_true(mono_ms() - t0 >= 800);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 91), 1);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 52);
	assert_int_equal(ev.stats[1].rtp_in, 52);
}

/* A's source restarts mid-call (new SSRC, sequence and timestamps, as after a
 * phone's re-registration) while its direction is in the kernel: the program leaves
 * the first packet to userspace, which takes the direction back and rebases, so B
 * sees one stream with the sequence continuing; once the new source is validated
 * the direction goes back to the kernel, the stream still continuous. */
static void test_new_source_mid_call(void **state)
{
	struct mfx f;
	struct media_engine_counters c0, c1;
	struct media_event ev;
	struct rtp_hdr h, prev;
	uint16_t seq_a = 3, seq_n = 30000;
	uint32_t ts_n = 123456789;
	int i;

	(void)state;
	setup(&f, MEDIA_KFWD_AUTO);
	require_kernel(&f, &c0, "auto");
	latch_both(&f, NULL, NULL);
	for (i = 0; i < 20; i++)
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 10 + i, &prev);   /* kernel */
	/* the new source: relayed by the worker until validated, then the kernel */
	for (i = 0; i < 40; i++) {
		relay_ts(&f.a, f.pa, &f.b, f.pb, seq_n, ts_n, 0xa2, 100 + i, &h);
		seq_n++;
		ts_n += 160;
		assert_int_equal(h.ssrc, prev.ssrc);
		assert_int_equal(h.seq, (uint16_t)(prev.seq + 1));
		if (i > 0)
			assert_int_equal(h.ts, prev.ts + 160u);
		prev = h;
		media_engine_counters(f.me, &c1);
		if (i >= 2 && c1.kfwd_flows == 2)
			break;
	}
	assert_true(wait_flows(f.me, 2));
	sleep_ms(100);   /* the worker counts its last packet just after sending it */
	media_engine_counters(f.me, &c0);
	for (i = 0; i < 20; i++) {
		relay_ts(&f.a, f.pa, &f.b, f.pb, seq_n, ts_n, 0xa2, 200 + i, &h);   /* kernel */
		seq_n++;
		ts_n += 160;
		assert_int_equal(h.ssrc, prev.ssrc);
		assert_int_equal(h.seq, (uint16_t)(prev.seq + 1));
		assert_int_equal(h.ts, prev.ts + 160u);
		prev = h;
	}
	sleep_ms(100);
	media_engine_counters(f.me, &c1);
	assert_int_equal(c1.rtp_relayed, c0.rtp_relayed);   /* none through the worker */
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].ssrc_changes, 1);
	assert_int_equal(ev.stats[0].rtp_lost, 0);
	assert_int_equal(ev.stats[0].rtp_in, ev.stats[1].rtp_out);
}

/* Packets from another source than the latched one (stray or spoofed) while both
 * directions are in the kernel: dropped as before, and the entries stay (a sender of
 * junk must not take the calls it hits back through the worker); the relatch check
 * still sees the packets the kernel forwarded, so a stray source never takes the
 * latch from one that keeps sending, even with a relatch time (1 s) no longer than
 * the interval at which counters are folded. */
static void test_stray_source_keeps_kernel(void **state)
{
	struct mfx f;
	struct peer x;
	struct media_engine_counters c0, c1;
	struct media_event ev;
	struct rtp_hdr h, prev;
	uint16_t seq_a = 3;

	(void)state;
	setup_cfg(&f, MEDIA_KFWD_AUTO, 1000, 0);
	require_kernel(&f, &c0, "auto");
	latch_both(&f, NULL, NULL);
	relayed_at_least(f.me, 4, &c0);
	/* 1.5 s of A's stream through the kernel: longer than the relatch time */
	for (int i = 0; i < 75; i++) {
		relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 100 + i, &prev);
		sleep_ms(20);
	}
	peer_open(&x, NULL);
	for (uint16_t i = 0; i < 5; i++)
		peer_send_rtp(&x, f.pa, 0, (uint16_t)(5000 + i), 0, 0x77, false, 999);
	assert_false(peer_recv_rtp(&f.b, &h, NULL, 300, NULL));   /* not relayed */
	media_engine_counters(f.me, &c1);
	assert_int_equal(c1.kfwd_flows, 2);                    /* both still offloaded */
	assert_int_equal(c1.rtp_relayed, c0.rtp_relayed);
	/* A's stream goes on through the kernel, to B, from the same latch */
	relay_one(&f.a, f.pa, &f.b, f.pb, seq_a++, 0xa, 200, &h);
	assert_int_equal(h.ssrc, prev.ssrc);
	assert_int_equal(h.seq, (uint16_t)(prev.seq + 1));
	relay_one(&f.b, f.pb, &f.a, f.pa, 3, 0xb, 201, &h);
	sleep_ms(100);
	media_engine_counters(f.me, &c1);
	assert_int_equal(c1.rtp_relayed, c0.rtp_relayed);     /* none through the worker */
	assert_int_equal(c1.kfwd_flows, 2);
	peer_close(&x);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[0].rtp_in, 2 + 75 + 1);
	assert_int_equal(ev.stats[0].rtp_dropped, 5);
	assert_int_equal(ev.stats[1].rtp_out, 2 + 75 + 1);
	assert_int_equal(ev.stats[1].rtp_in, 3);
}

/* A kernel without tcx links (before 6.6; simulated with KFWD_NO_TCX): the program
 * could only be a tc clsact filter, which the kernel keeps after a SIGKILL with its
 * table, rewriting packets for ports the next trunxd hands out again. The engine's
 * auto (no KFWD_TC_FALLBACK) refuses with a reason naming tcx; on (KFWD_TC_FALLBACK)
 * attaches the filter, and the destroy removes it. */
static void test_tc_filter_only_when_on(void **state)
{
	union media_sa a;
	struct kfwd *k = NULL;
	const char *why = "";
	unsigned ifindex, handle, prio;
	int err;

	(void)state;
	assert_int_equal(sa_parse(&a, "127.0.0.1", 0), 0);
	err = kfwd_create(&k, &a, KFWD_NO_TCX, &why);
	if (err == EPERM && geteuid() != 0) {
		printf("# kernel forwarding: SKIPPED (not root: no CAP_BPF)\n");
		skip();
	}
	if (err == ENOTSUP && strstr(why, "without BPF")) {
		printf("# kernel forwarding: SKIPPED (%s)\n", why);
		skip();
	}
#ifdef HAVE_LIBBPF
	assert_int_equal(err, ENOTSUP);
	assert_null(k);
	assert_non_null(strstr(why, "tcx"));
	{
		struct bpf_tc_hook hook = {.sz = sizeof(hook), .attach_point = BPF_TC_INGRESS};
		struct bpf_tc_opts q;
		bool made;

		/* the clsact qdisc is left by kfwd_destroy() (others' filters may use it):
		 * the test removes it if it made it */
		hook.ifindex = (int)if_nametoindex("lo");
		made = bpf_tc_hook_create(&hook) == 0;
		err = kfwd_create(&k, &a, KFWD_NO_TCX | KFWD_TC_FALLBACK, &why);
		assert_int_equal(err, 0);
		assert_int_equal(kfwd_tc_filter(k, &ifindex, &handle, &prio), 0);
		assert_int_equal(ifindex, (unsigned)hook.ifindex);
		q = (struct bpf_tc_opts){.sz = sizeof(q), .handle = handle, .priority = prio};
		assert_int_equal(bpf_tc_query(&hook, &q), 0);   /* the filter is there */
		assert_int_not_equal(q.prog_id, 0);
		kfwd_destroy(k);
		q = (struct bpf_tc_opts){.sz = sizeof(q), .handle = handle, .priority = prio};
		/* and gone: no such filter (ENOENT), or no filter chain left (EINVAL) */
		err = bpf_tc_query(&hook, &q);
		assert_true(err == -ENOENT || err == -EINVAL);
		if (made) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			(void)bpf_tc_hook_destroy(&hook);
		}
	}
	/* With tcx (this kernel), no filter: the link goes with the process. */
	if (kfwd_create(&k, &a, KFWD_TC_FALLBACK, &why) == 0) {
		assert_int_equal(kfwd_tc_filter(k, &ifindex, &handle, &prio), ENOENT);
		kfwd_destroy(k);
	}
#else
	(void)ifindex, (void)handle, (void)prio;
	kfwd_destroy(k);
	skip();   /* no libbpf headers to look at the filter with */
#endif
}

int test_engine_kfwd_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_path),
		cmocka_unit_test(test_close_leaves_no_entry),
		cmocka_unit_test(test_backoff_after_refusal),
		cmocka_unit_test(test_off_stays_in_userspace),
		cmocka_unit_test(test_hold_resume),
		cmocka_unit_test(test_rtp_timeout_in_kernel),
		cmocka_unit_test(test_new_source_mid_call),
		cmocka_unit_test(test_stray_source_keeps_kernel),
		cmocka_unit_test(test_tc_filter_only_when_on),
	};

	return cmocka_run_group_tests_name("media_engine_kfwd", tests, NULL, NULL);
}
