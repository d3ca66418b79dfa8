/* test_engine_timers.c — RTP inactivity: one TIMEOUT after rtp_timeout_ms of silence,
 * none while RTP flows, none while held (sendonly/recvonly/inactive), a fresh timeout
 * after resume, none before both sides are known, none when off; while held, the
 * longer hold_timeout_ms, which RTCP keeps from firing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "media.h"
#include "media_fixture.h"
#include "media_peer.h"
#include "test_media.h"

#define TIMEOUT_MS 300

static void tsetup_hold(struct mfx *f, unsigned timeout_ms, unsigned hold_timeout_ms)
{
	struct media_engine_cfg cfg;

	test_engine_cfg(&cfg, 4, 1);
	cfg.rtp_timeout_ms = timeout_ms;
	cfg.hold_timeout_ms = hold_timeout_ms;
	mfx_open(f, &cfg, 5);
}

static void tsetup(struct mfx *f, unsigned timeout_ms)
{
	tsetup_hold(f, timeout_ms, 0);
}

static void test_timeout_once(void **state)
{
	struct mfx f;
	struct media_event ev;

	(void)state;
	tsetup(&f, TIMEOUT_MS);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, &ev));
	assert_int_equal(ev.cookie, 5);
	sleep_ms(3 * TIMEOUT_MS);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 1);
	mfx_close(&f, NULL);
}

static void test_flowing_rtp_keeps_alive(void **state)
{
	struct mfx f;
	uint16_t pa;

	(void)state;
	tsetup(&f, TIMEOUT_MS);
	pa = media_session_port(f.s, MEDIA_SIDE_A);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	/* Only A talks (one-way audio still counts as activity), for 4 timeouts. */
	for (uint16_t i = 0; i < 24; i++) {
		peer_send_rtp(&f.a, pa, 0, i, 160u * i, 0xa, false, i);
		sleep_ms(50);
	}
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	/* Then silence. */
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, NULL));
	mfx_close(&f, NULL);
}

static void test_hold_pauses_then_resume(void **state)
{
	struct mfx f;

	(void)state;
	tsetup(&f, TIMEOUT_MS);
	f.p.side[0].dir = MEDIA_DIR_SENDONLY;
	f.p.side[1].dir = MEDIA_DIR_RECVONLY;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(4 * TIMEOUT_MS);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	f.p.side[0].dir = MEDIA_DIR_INACTIVE;
	f.p.side[1].dir = MEDIA_DIR_INACTIVE;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(4 * TIMEOUT_MS);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	/* Resume: the timer restarts from now and fires after the timeout. */
	f.p.side[0].dir = MEDIA_DIR_SENDRECV;
	f.p.side[1].dir = MEDIA_DIR_SENDRECV;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, NULL));
	mfx_close(&f, NULL);
}

static void test_hold_after_running(void **state)
{
	struct mfx f;

	(void)state;
	tsetup(&f, 600);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(200);
	/* Held before it expires: no timeout however long the hold lasts. */
	f.p.side[1].dir = MEDIA_DIR_SENDONLY;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(1500);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	f.p.side[1].dir = MEDIA_DIR_SENDRECV;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, NULL));
	mfx_close(&f, NULL);
}

static void test_hold_timeout(void **state)
{
	struct mfx f;
	struct media_event ev;

	(void)state;
	tsetup_hold(&f, TIMEOUT_MS, 3 * TIMEOUT_MS);
	f.p.side[1].dir = MEDIA_DIR_INACTIVE;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(2 * TIMEOUT_MS);   /* past rtp_timeout, short of hold_timeout */
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, &ev));
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 1);
	mfx_close(&f, NULL);
}

static void test_hold_rtcp_keeps_alive(void **state)
{
	/* An empty receiver report (V=2, PT=201, length 1, SSRC). */
	static const uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 0x0b};
	struct mfx f;
	uint16_t pa;

	(void)state;
	tsetup_hold(&f, TIMEOUT_MS, 3 * TIMEOUT_MS);
	pa = media_session_port(f.s, MEDIA_SIDE_A);
	f.p.side[0].dir = MEDIA_DIR_SENDONLY;
	f.p.side[1].dir = MEDIA_DIR_RECVONLY;
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	peer_send_rtp(&f.a, pa, 0, 1, 160, 0xa, false, 1);   /* latches A's address */
	/* A held party's RTCP (from its RTP socket) for 3 hold timeouts: it is alive. */
	for (int i = 0; i < 18; i++) {
		peer_send(&f.a, (uint16_t)(pa + 1), rr, sizeof(rr));
		sleep_ms(TIMEOUT_MS / 2);
	}
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, NULL));
	mfx_close(&f, NULL);
}

static void test_not_before_both_known(void **state)
{
	struct mfx f;

	(void)state;
	tsetup(&f, TIMEOUT_MS);
	side_params(&f.p.side[1], 0, 0, MEDIA_DIR_SENDRECV);   /* B still ringing */
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(4 * TIMEOUT_MS);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	mfx_close(&f, NULL);
}

static void test_null_address_pauses(void **state)
{
	struct mfx f;

	(void)state;
	tsetup(&f, TIMEOUT_MS);
	side_params(&f.p.side[1], peer_port(&f.b), 0, MEDIA_DIR_SENDRECV);
	((struct sockaddr_in *)&f.p.side[1].rtp)->sin_addr.s_addr = 0;   /* c=0.0.0.0 */
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(4 * TIMEOUT_MS);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	side_params(&f.p.side[1], peer_port(&f.b), 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	assert_true(evlog_wait(&f.log, MEDIA_EV_TIMEOUT, 5, 5000, NULL));
	mfx_close(&f, NULL);
}

static void test_off(void **state)
{
	struct mfx f;

	(void)state;
	tsetup(&f, 0);
	assert_int_equal(media_session_update(f.s, &f.p), 0);
	sleep_ms(1000);
	assert_int_equal(evlog_count(&f.log, MEDIA_EV_TIMEOUT, 5), 0);
	mfx_close(&f, NULL);
}

int test_engine_timers_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_once),
		cmocka_unit_test(test_flowing_rtp_keeps_alive),
		cmocka_unit_test(test_hold_pauses_then_resume),
		cmocka_unit_test(test_hold_after_running),
		cmocka_unit_test(test_hold_timeout),
		cmocka_unit_test(test_hold_rtcp_keeps_alive),
		cmocka_unit_test(test_not_before_both_known),
		cmocka_unit_test(test_null_address_pauses),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests_name("engine timers", tests, NULL, NULL);
}
