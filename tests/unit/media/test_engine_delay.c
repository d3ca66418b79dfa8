/* test_engine_delay.c — bounded delay: with [media] max_delay_ms set, an RTP packet
 * that waited in trunx longer than the bound (its worker stalled) is dropped and
 * counted per side, per worker and engine-wide, and a fresh one is forwarded; with
 * the bound off, the same stalled packet is forwarded late; a transcoded session's
 * stalled packet feeds its jitter buffer (not dropped) and the frames it generates
 * that fell due during the stall are skipped and counted; and the RTCP a transcoded
 * session terminates is timed by its arrival, not by the stalled worker: the round
 * trip taken from a report (over rtcp-mux and on the RTCP port) and the DLSR of the
 * session's own next report. The worker is stalled for real (blocked in the event
 * handler of another session's close), so the age comes from the kernel's receive
 * timestamp. Real sockets on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "media_fixture.h"
#include "rtcp_report.h"
#include "media_peer.h"
#include "test_media.h"

#define WAIT_MS  3000   /* generous: the machine is shared */
#define QUIET_MS 300    /* "nothing arrives" window */
#define BOUND_MS 150    /* well above a loaded machine's scheduling delay */
#define STALL_MS 500    /* well above the bound */

/* How B sends RTCP to the session in the transcoding cases: rtcp_b (its own port, to
 * the session's B RTCP port), or NULL with mux (RFC 5761: from B's RTP port to the
 * session's B RTP port); neither: the default (unused). */
struct b_rtcp {
	struct peer *rtcp_b;
	bool         mux;
	uint32_t     ssrc_to_b;   /* out: the SSRC of the stream the session sends B */
};

/* The session under test (77) on f, and a victim (78) whose close stalls the worker.
 * xcode: A PCMU, B PCMA (transcoded, played out on the worker's clock); br (may be
 * NULL) how B's RTCP reaches it. */
static void setup_codecs(struct mfx *f, struct media_session **victim, unsigned max_delay_ms,
			 bool xcode, struct b_rtcp *br)
{
	struct media_engine_cfg cfg;
	struct rtp_hdr h;
	uint32_t tag;

	test_engine_cfg(&cfg, 8, 1);       /* one worker: the victim's close stalls it */
	cfg.max_delay_ms = max_delay_ms;
	mfx_open(f, &cfg, 77);
	assert_int_equal(media_session_create(f->me, 78, victim), 0);
	if (br && br->rtcp_b)
		side_params(&f->p.side[1], peer_port(&f->b), peer_port(br->rtcp_b),
			    MEDIA_DIR_SENDRECV);
	if (br && br->mux)
		f->p.side[1].rtcp_mux = true;
	for (int i = 0; xcode && i < 2; i++) {
		struct media_codec_params *c = &f->p.side[i].codec;

		c->codec = i ? MEDIA_CODEC_PCMA : MEDIA_CODEC_PCMU;
		c->pt = c->pt_rx[0] = i ? 8 : 0;
		c->pt_rx[1] = c->te_pt = c->te_pt_rx[0] = c->te_pt_rx[1] = MEDIA_PT_NONE;
		c->ptime = 20;
	}
	mfx_update(f);
	/* The worker has applied the update and waits for packets (a worker still
	 * starting up on a loaded machine would find the first packet older than the
	 * bound: dropped as late, rightly). */
	mfx_sync(f, 79);
	/* The path works before the stall. */
	peer_send_rtp(&f->a, f->pa, 0, 1, 0, 0xa, false, 1);
	assert_true(peer_recv_rtp(&f->b, &h, &tag, WAIT_MS, NULL));
	if (xcode)
		assert_int_equal(h.pt, 8);
	else
		assert_int_equal(tag, 1);
	if (br)
		br->ssrc_to_b = h.ssrc;
}

static void setup(struct mfx *f, struct media_session **victim, unsigned max_delay_ms)
{
	setup_codecs(f, victim, max_delay_ms, false, NULL);
}

/* Stalls the worker STALL_MS with one packet (tag 2) from A queued on its socket. */
static void stall_with_packet(struct mfx *f, struct media_session *victim)
{
	evlog_set_block(&f->log, true);
	media_session_destroy(victim);
	assert_true(evlog_wait_blocked(&f->log, 5000));
	peer_send_rtp(&f->a, f->pa, 0, 2, 160, 0xa, false, 2);
	sleep_ms(STALL_MS);
	evlog_set_block(&f->log, false);
}

static void late_counters(struct media_engine *me, uint64_t want,
			  struct media_engine_counters *c)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_engine_counters(me, c);
		if (c->rtp_dropped_late >= want)
			return;
		sleep_ms(10);
	}
}

static void test_late_packet_dropped_fresh_forwarded(void **state)
{
	struct mfx f;
	struct media_session *victim;
	struct media_engine_counters c;
	struct media_worker_counters wc;
	struct media_event ev;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f, &victim, BOUND_MS);
	stall_with_packet(&f, victim);
	/* The stalled packet never reaches B... */
	assert_int_equal(peer_drain(&f.b, QUIET_MS), 0);
	late_counters(f.me, 1, &c);
	assert_int_equal(c.rtp_dropped_late, 1);
	assert_int_equal(media_engine_worker_counters(f.me, 0, &wc), 0);
	assert_int_equal(wc.rtp_dropped_late, 1);
	assert_int_equal(media_engine_worker_counters(f.me, 1, &wc), EINVAL);
	/* ...and the next, fresh one does. */
	peer_send_rtp(&f.a, f.pa, 0, 3, 320, 0xa, false, 3);
	assert_true(peer_recv_rtp(&f.b, &h, &tag, WAIT_MS, NULL));
	assert_int_equal(tag, 3);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[MEDIA_SIDE_A].rtp_dropped_late, 1);
	assert_int_equal(ev.stats[MEDIA_SIDE_A].rtp_in, 2);
	assert_int_equal(ev.stats[MEDIA_SIDE_B].rtp_out, 2);
	assert_int_equal(ev.stats[MEDIA_SIDE_B].rtp_dropped_late, 0);
	/* A relay generates nothing: nothing to skip. */
	assert_int_equal(ev.stats[MEDIA_SIDE_B].frames_skipped, 0);
}

/* The same stall with the bound off: the packet is forwarded, late. */
static void test_bound_off_forwards_late(void **state)
{
	struct mfx f;
	struct media_session *victim;
	struct media_engine_counters c;
	struct media_event ev;
	struct rtp_hdr h;
	uint32_t tag;

	(void)state;
	setup(&f, &victim, 0);
	stall_with_packet(&f, victim);
	assert_true(peer_recv_rtp(&f.b, &h, &tag, WAIT_MS, NULL));
	assert_int_equal(tag, 2);
	media_engine_counters(f.me, &c);
	assert_int_equal(c.rtp_dropped_late, 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[MEDIA_SIDE_A].rtp_dropped_late, 0);
	assert_int_equal(ev.stats[MEDIA_SIDE_B].rtp_out, 2);
}

/* The same stall on a transcoded session: the packet is not dropped as late but
 * reaches the jitter buffer (counted in), since the playout clock stalled with it. */
static void test_transcoded_stall_reaches_jitter_buffer(void **state)
{
	struct mfx f;
	struct media_session *victim;
	struct media_engine_counters c;
	struct media_event ev;

	(void)state;
	setup_codecs(&f, &victim, BOUND_MS, true, NULL);
	stall_with_packet(&f, victim);
	/* Wait until the worker has taken the stalled packet (B keeps getting generated
	 * frames, so quiet cannot tell): the session's published counters (about once
	 * a second) count it in. */
	for (int i = 0; i < WAIT_MS / 10; i++) {
		struct media_side_stats st[2];

		if (media_session_stats(f.s, st) == 0 && st[MEDIA_SIDE_A].rtp_in >= 2)
			break;
		sleep_ms(10);
	}
	media_engine_counters(f.me, &c);
	assert_int_equal(c.rtp_dropped_late, 0);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[MEDIA_SIDE_A].rtp_dropped_late, 0);
	assert_int_equal(ev.stats[MEDIA_SIDE_A].rtp_in, 2);
	/* The frames generated toward each side on the worker's clock that fell due
	 * during the stall were skipped (a timestamp gap), not sent in a burst, and
	 * counted: about STALL_MS / 20, less the 5 periods a late worker catches up. */
	for (int i = 0; i < 2; i++)
		assert_in_range(ev.stats[i].frames_skipped, STALL_MS / 20 - 7, 2 * STALL_MS / 20);
}

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* B's RTCP about the session's stream toward it (ssrc): a report block whose LSR and
 * DLSR say the round trip was complete the moment it leaves (LSR one second ago, DLSR
 * one second), so its RTT, taken when it reached the host, is the loopback's, near 0.
 * sr: an SR (NTP time now, whose middle is returned in *sr_mid), else an RR. */
static void send_b_report(struct peer *from, uint16_t port, uint32_t ssrc, bool sr,
			  uint32_t *sr_mid)
{
	uint64_t ntp = rtcp_ntp_of_us(wall_us());
	struct rtcp_report_out r = {
		.ssrc = 0xb, .sender = sr, .ntp = ntp, .packets = 1, .octets = 160,
		.have_block = true, .src_ssrc = ssrc, .lsr = (uint32_t)(ntp >> 16) - 65536u,
		.dlsr = 65536u, .cname = "b",
	};
	uint8_t buf[200];
	size_t n = rtcp_report_build(buf, sizeof(buf), &r);

	assert_true(n > 0);
	if (sr_mid)
		*sr_mid = (uint32_t)(ntp >> 16);
	peer_send(from, port, buf, n);
}

/* Stalls the worker STALL_MS with B's report queued on the session's socket. */
static void stall_with_report(struct mfx *f, struct media_session *victim, struct peer *from,
			      uint16_t port, uint32_t ssrc, bool sr, uint32_t *sr_mid)
{
	evlog_set_block(&f->log, true);
	media_session_destroy(victim);
	assert_true(evlog_wait_blocked(&f->log, 5000));
	send_b_report(from, port, ssrc, sr, sr_mid);
	sleep_ms(STALL_MS);
	evlog_set_block(&f->log, false);
}

/* The round trip B's report gives, once the worker has read it (published counters,
 * about once a second); -1 when it never does. */
static int32_t rtt_of_b(struct mfx *f)
{
	for (int i = 0; i < 2 * WAIT_MS / 10; i++) {
		struct media_side_stats st[2];

		if (media_session_stats(f->s, st) == 0 && st[MEDIA_SIDE_B].have_report)
			return st[MEDIA_SIDE_B].rtt_ms;
		sleep_ms(10);
	}
	return -1;
}

/* A transcoded session terminates RTCP and takes each leg's round-trip time from its
 * reports (RFC 3550 6.4.1). An RR that reached the host while the worker was stalled
 * gives the network's round trip, not the stall: its arrival is the kernel's receive
 * timestamp. Here over rtcp-mux (B's RTCP on its RTP port). */
static void test_stalled_report_rtt_mux(void **state)
{
	struct b_rtcp br = {.mux = true};
	struct media_session *victim;
	struct media_event ev;
	struct mfx f;
	int32_t rtt;

	(void)state;
	setup_codecs(&f, &victim, BOUND_MS, true, &br);
	stall_with_report(&f, victim, &f.b, f.pb, br.ssrc_to_b, false, NULL);
	rtt = rtt_of_b(&f);
	print_message("RTT from an RR that waited %u ms in a stalled worker: %d ms\n",
		      STALL_MS, (int)rtt);
	assert_true(rtt >= 0);
	assert_true(rtt < STALL_MS / 2);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[MEDIA_SIDE_B].rtcp_in, 1);
	assert_int_equal(ev.stats[MEDIA_SIDE_B].rtt_ms, rtt);
}

/* Without receive timestamps (the bound off), the round trip is taken when the worker
 * reads the report: still the loopback's when nothing stalls, never unknown. */
static void test_report_rtt_without_stamps(void **state)
{
	struct b_rtcp br = {.mux = true};
	struct media_session *victim;
	struct media_event ev;
	struct mfx f;
	int32_t rtt;

	(void)state;
	setup_codecs(&f, &victim, 0, true, &br);
	media_session_destroy(victim);
	send_b_report(&f.b, f.pb, br.ssrc_to_b, false, NULL);
	rtt = rtt_of_b(&f);
	print_message("RTT from an RR without a receive timestamp: %d ms\n", (int)rtt);
	assert_true(rtt >= 0);
	assert_true(rtt < STALL_MS / 2);
	mfx_close(&f, &ev);
}

/* The same on B's own RTCP port, with an SR: besides our RTT, the DLSR of the report
 * trunx sends B next counts from the SR's arrival (RFC 3550 6.4.1: the delay between
 * receiving it and sending the report), so B's own RTT from it is the loopback's too,
 * not the stall. */
static void test_stalled_sr_rtt_and_dlsr(void **state)
{
	struct peer rtcp_b;
	struct b_rtcp br = {.rtcp_b = &rtcp_b};
	struct media_session *victim;
	struct media_event ev;
	struct mfx f;
	uint32_t sr_mid = 0;
	int32_t rtt, rtt_b = -1;

	(void)state;
	peer_open(&rtcp_b, NULL);
	setup_codecs(&f, &victim, BOUND_MS, true, &br);
	/* B sends RTP too: the session's reports to it carry a block about its stream */
	peer_send_rtp(&f.b, f.pb, 8, 1, 0, 0xb, false, 1);
	stall_with_report(&f, victim, &rtcp_b, (uint16_t)(f.pb + 1), br.ssrc_to_b, true,
			  &sr_mid);
	rtt = rtt_of_b(&f);
	print_message("RTT from an SR that waited %u ms in a stalled worker: %d ms\n",
		      STALL_MS, (int)rtt);
	assert_true(rtt >= 0);
	assert_true(rtt < STALL_MS / 2);
	/* The session's next report to B (the first is due 2.5-7.5 s after it began) */
	for (int i = 0; i < 100 && rtt_b < 0; i++) {
		uint8_t buf[1500];
		ssize_t n = peer_recv(&rtcp_b, buf, sizeof(buf), 100, NULL);
		struct rtcp_report_in in;

		if (n <= 0 || rtcp_report_parse(buf, (size_t)n, 0xb, &in) || !in.have_block ||
		    in.lsr != sr_mid)
			continue;
		rtt_b = rtcp_rtt_ms(in.lsr, in.dlsr, rtcp_ntp_of_us(wall_us()));
		print_message("B's RTT from the session's report (DLSR %u ms): %d ms\n",
			      (unsigned)((uint64_t)in.dlsr * 1000u / 65536u), (int)rtt_b);
		assert_true(rtt_b >= 0);
	}
	assert_true(rtt_b >= 0);
	assert_true(rtt_b < STALL_MS / 2);
	mfx_close(&f, &ev);
	assert_int_equal(ev.stats[MEDIA_SIDE_B].rtt_ms, rtt);
	peer_close(&rtcp_b);
}

int test_engine_delay_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_late_packet_dropped_fresh_forwarded),
		cmocka_unit_test(test_bound_off_forwards_late),
		cmocka_unit_test(test_transcoded_stall_reaches_jitter_buffer),
		cmocka_unit_test(test_stalled_report_rtt_mux),
		cmocka_unit_test(test_report_rtt_without_stamps),
		cmocka_unit_test(test_stalled_sr_rtt_and_dlsr),
	};

	return cmocka_run_group_tests_name("engine bounded delay", tests, NULL, NULL);
}
