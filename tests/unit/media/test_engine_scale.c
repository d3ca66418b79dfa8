/* test_engine_scale.c — 512 sessions spread over 4 workers, all relaying both ways
 * at once; everything is received, counted and closed, and every port comes back.
 * And a churn of short sessions through a small port range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "media.h"
#include "media_peer.h"
#include "test_media.h"
#include "worker.h"

#define NSESS   512
#define NPEERS  16      /* remote parties per side, shared by the sessions */
#define ROUNDS  4       /* packets per session and direction */
#define WORKERS 4

/* Receives everything on the peers until quiet; marks tags (session * 16 + round). */
static unsigned collect(struct peer *peers, uint8_t *seen)
{
	unsigned got = 0;

	for (int idle = 0; idle < 2;) {
		unsigned before = got;

		for (int i = 0; i < NPEERS; i++) {
			struct rtp_hdr h;
			uint32_t tag;

			while (peer_recv_rtp(&peers[i], &h, &tag, 0, NULL)) {
				if (tag < NSESS * 16 && !seen[tag]) {
					seen[tag] = 1;
					got++;
				}
			}
		}
		if (got == before) {
			idle++;
			sleep_ms(200);
		} else {
			idle = 0;
		}
	}
	return got;
}

static void test_many_sessions(void **state)
{
	struct media_engine_cfg cfg;
	struct media_engine_counters c;
	struct media_engine *me;
	struct media_session **s;
	struct peer pa[NPEERS], pb[NPEERS];
	struct evlog *l;
	uint8_t *seen_a, *seen_b;
	unsigned got_a = 0, got_b = 0;

	(void)state;
	s = calloc(NSESS, sizeof(*s));
	l = malloc(sizeof(*l));
	seen_a = calloc(NSESS * 16, 1);
	seen_b = calloc(NSESS * 16, 1);
	assert_non_null(s);
	assert_non_null(l);
	assert_non_null(seen_a);
	assert_non_null(seen_b);
	evlog_init(l);
	/* Slack for ports other programs on the machine may hold. */
	test_engine_cfg(&cfg, NSESS * 2 + 512, WORKERS);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, l), 0);
	for (int i = 0; i < NPEERS; i++) {
		peer_open(&pa[i], NULL);
		peer_open(&pb[i], NULL);
	}
	for (int i = 0; i < NSESS; i++) {
		struct media_session_params p;

		int err = media_session_create(me, (uint64_t)i, &s[i]);

		if (err) {
			media_engine_counters(me, &c);
			print_error("session %d: error %d, %llu pairs free\n", i, err,
				    (unsigned long long)c.ports_free);
		}
		assert_int_equal(err, 0);
		side_params(&p.side[0], peer_port(&pa[i % NPEERS]), 0, MEDIA_DIR_SENDRECV);
		side_params(&p.side[1], peer_port(&pb[i % NPEERS]), 0, MEDIA_DIR_SENDRECV);
		assert_int_equal(media_session_update(s[i], &p), 0);
	}
	/* Spread evenly over the workers. */
	for (unsigned w = 0; w < WORKERS; w++)
		assert_int_equal(worker_sessions(me->workers[w]), NSESS / WORKERS);
	sleep_ms(100);
	for (uint16_t r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < NSESS; i++) {
			uint32_t tag = (uint32_t)i * 16 + r;

			peer_send_rtp(&pa[i % NPEERS], media_session_port(s[i], MEDIA_SIDE_A), 0,
				      r, 160u * r, 0xa0000 + (uint32_t)i, false, tag);
			peer_send_rtp(&pb[i % NPEERS], media_session_port(s[i], MEDIA_SIDE_B), 0,
				      r, 160u * r, 0xb0000 + (uint32_t)i, false, tag);
		}
		got_b += collect(pb, seen_b);   /* A -> B arrives at the B peers */
		got_a += collect(pa, seen_a);
	}
	assert_int_equal(got_b, NSESS * ROUNDS);
	assert_int_equal(got_a, NSESS * ROUNDS);
	for (int i = 0; i < 300; i++) {   /* counted after the send returns */
		media_engine_counters(me, &c);
		if (c.rtp_relayed >= 2u * NSESS * ROUNDS)
			break;
		sleep_ms(10);
	}
	assert_int_equal(c.rtp_relayed, 2u * NSESS * ROUNDS);
	assert_int_equal(c.sessions_active, NSESS);
	for (int i = 0; i < NSESS; i++)
		media_session_destroy(s[i]);
	for (int i = 0; i < NSESS; i++) {
		struct media_event ev;

		assert_true(evlog_wait(l, MEDIA_EV_CLOSED, (uint64_t)i, 10000, &ev));
		assert_int_equal(ev.stats[0].rtp_in, ROUNDS);
		assert_int_equal(ev.stats[1].rtp_out, ROUNDS);
	}
	media_engine_counters(me, &c);
	assert_int_equal(c.sessions_active, 0);
	assert_int_equal(c.ports_free, NSESS * 2 + 512);
	media_engine_destroy(me);
	for (int i = 0; i < NPEERS; i++) {
		peer_close(&pa[i]);
		peer_close(&pb[i]);
	}
	evlog_fini(l);
	free(l);
	free(s);
	free(seen_a);
	free(seen_b);
}

/*
 * Churn: 3000 sessions created, updated, fed a packet and destroyed with 16 alive at
 * a time, over a range too small to hold them all at once: every close must come
 * back, every port be reused, nothing leak (ASan) or race (the workers close while
 * packets still arrive).
 */
#define CHURN_N    3000
#define CHURN_LIVE 16

static void test_churn(void **state)
{
	struct media_engine_cfg cfg;
	struct media_engine_counters c;
	struct media_engine *me;
	struct media_session *live[CHURN_LIVE] = {0};
	struct peer a, b;
	struct evlog *l = malloc(sizeof(*l));
	unsigned waits = 0;

	(void)state;
	assert_non_null(l);
	evlog_init(l);
	test_engine_cfg(&cfg, 4 * CHURN_LIVE, 2);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, l), 0);
	peer_open(&a, NULL);
	peer_open(&b, NULL);
	for (int i = 0; i < CHURN_N; i++) {
		struct media_session_params p;
		struct media_session **slot = &live[i % CHURN_LIVE];
		int err;

		if (*slot)
			media_session_destroy(*slot);
		/* Closed sessions return their ports asynchronously: wait if needed. */
		while ((err = media_session_create(me, (uint64_t)i, slot)) == EADDRINUSE &&
		       waits < 100000) {
			waits++;
			sleep_ms(1);
		}
		assert_int_equal(err, 0);
		side_params(&p.side[0], peer_port(&a), 0, MEDIA_DIR_SENDRECV);
		side_params(&p.side[1], peer_port(&b), 0, MEDIA_DIR_SENDRECV);
		assert_int_equal(media_session_update(*slot, &p), 0);
		peer_send_rtp(&a, media_session_port(*slot, MEDIA_SIDE_A), 0, 1, 0, 1, false, 0);
		if (i % 64 == 0)
			(void)peer_drain(&b, 0);
	}
	for (int i = 0; i < CHURN_LIVE; i++)
		media_session_destroy(live[i]);
	for (int i = 0; i < CHURN_N; i++)
		assert_true(evlog_wait(l, MEDIA_EV_CLOSED, (uint64_t)i, 10000, NULL));
	media_engine_counters(me, &c);
	assert_int_equal(c.sessions_total, CHURN_N);
	assert_int_equal(c.sessions_active, 0);
	assert_int_equal(c.ports_free, 4 * CHURN_LIVE);
	media_engine_destroy(me);
	peer_close(&a);
	peer_close(&b);
	evlog_fini(l);
	free(l);
}

int test_engine_scale_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_sessions),
		cmocka_unit_test(test_churn),
	};

	return cmocka_run_group_tests_name("engine scale", tests, NULL, NULL);
}
