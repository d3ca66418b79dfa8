/* test_engine.c — engine lifecycle: config checks, port allocation and exhaustion,
 * busy ports skipped, update validation, destroy with a full queue, engine destroy
 * with live sessions, thread ownership check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media.h"
#include "media_peer.h"
#include "test_media.h"

static void test_bad_config(void **state)
{
	struct media_engine_cfg cfg;
	struct media_engine *me;

	(void)state;
	test_engine_cfg(&cfg, 4, 1);
	strcpy(cfg.bind_addr, "not-an-ip");
	assert_int_equal(media_engine_create(&me, &cfg, NULL, NULL), EINVAL);
	test_engine_cfg(&cfg, 4, 1);
	cfg.port_max = cfg.port_min;
	assert_int_equal(media_engine_create(&me, &cfg, NULL, NULL), EINVAL);
	test_engine_cfg(&cfg, 4, 1);
	cfg.workers = 100000;
	assert_int_equal(media_engine_create(&me, &cfg, NULL, NULL), EINVAL);
	assert_int_equal(media_engine_create(NULL, &cfg, NULL, NULL), EINVAL);
	assert_int_equal(media_engine_create(&me, NULL, NULL, NULL), EINVAL);
}

static int bind_port(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static void test_ports_and_exhaustion(void **state)
{
	struct media_engine_cfg cfg;
	struct media_engine_counters c;
	struct media_engine *me;
	struct media_session *s1, *s2, *s3;
	struct evlog l;

	(void)state;
	evlog_init(&l);
	test_engine_cfg(&cfg, 4, 2);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, &l), 0);
	media_engine_counters(me, &c);
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.ports_free, 4);
	assert_int_equal(media_session_create(me, 1, &s1), 0);
	assert_int_equal(media_session_create(me, 2, &s2), 0);
	for (int side = 0; side < 2; side++) {
		uint16_t p = media_session_port(s1, (enum media_side)side);

		assert_int_equal(p % 2, 0);
		assert_in_range(p, cfg.port_min, cfg.port_max - 1);
		/* RTP and RTCP are bound right away. */
		assert_int_equal(bind_port(p), -EADDRINUSE);
		assert_int_equal(bind_port((uint16_t)(p + 1)), -EADDRINUSE);
	}
	assert_int_not_equal(media_session_port(s1, MEDIA_SIDE_A),
			     media_session_port(s1, MEDIA_SIDE_B));
	assert_int_equal(media_session_port(NULL, MEDIA_SIDE_A), 0);
	media_engine_counters(me, &c);
	assert_int_equal(c.ports_free, 0);
	assert_int_equal(c.sessions_active, 2);
	assert_int_equal(media_session_create(me, 3, &s3), EADDRINUSE);

	/* Closing gives the ports back; CLOSED comes after that. */
	media_session_destroy(s1);
	assert_true(evlog_wait(&l, MEDIA_EV_CLOSED, 1, 5000, NULL));
	media_engine_counters(me, &c);
	assert_int_equal(c.ports_free, 2);
	assert_int_equal(c.sessions_active, 1);
	assert_int_equal(media_session_create(me, 3, &s3), 0);
	media_session_destroy(s2);
	media_session_destroy(s3);
	assert_true(evlog_wait(&l, MEDIA_EV_CLOSED, 2, 5000, NULL));
	assert_true(evlog_wait(&l, MEDIA_EV_CLOSED, 3, 5000, NULL));
	media_engine_counters(me, &c);
	assert_int_equal(c.ports_free, 4);
	assert_int_equal(c.sessions_total, 3);
	assert_int_equal(c.sessions_active, 0);
	media_engine_destroy(me);
	evlog_fini(&l);
}

static void test_busy_port_skipped(void **state)
{
	struct media_engine_cfg cfg;
	struct media_engine *me;
	struct media_session *s;
	int fd;

	(void)state;
	/* Another program holds the RTCP port of the first pair. */
	for (;;) {
		test_engine_cfg(&cfg, 3, 1);
		fd = bind_port((uint16_t)(cfg.port_min + 1));
		if (fd >= 0)
			break;
	}
	assert_int_equal(test_engine_create(&me, &cfg, NULL, NULL), 0);
	assert_int_equal(media_session_create(me, 1, &s), 0);
	assert_int_not_equal(media_session_port(s, MEDIA_SIDE_A), cfg.port_min);
	assert_int_not_equal(media_session_port(s, MEDIA_SIDE_B), cfg.port_min);
	media_session_destroy(s);
	/* With only the held pair left free, creation fails cleanly. */
	media_engine_destroy(me);
	cfg.port_max = (uint16_t)(cfg.port_min + 1);
	assert_int_equal(test_engine_create(&me, &cfg, NULL, NULL), 0);
	assert_int_equal(media_session_create(me, 2, &s), EADDRINUSE);
	media_engine_destroy(me);
	close(fd);
}

static void test_update_validation(void **state)
{
	struct media_engine_cfg cfg;
	struct media_session_params p;
	struct media_engine *me;
	struct media_session *s;

	(void)state;
	test_engine_cfg(&cfg, 2, 1);
	assert_int_equal(test_engine_create(&me, &cfg, NULL, NULL), 0);
	assert_int_equal(media_session_create(me, 1, &s), 0);
	side_params(&p.side[0], 4000, 0, MEDIA_DIR_SENDRECV);
	side_params(&p.side[1], 0, 0, MEDIA_DIR_SENDRECV);
	assert_int_equal(media_session_update(s, &p), 0);
	assert_int_equal(media_session_update(s, NULL), EINVAL);
	assert_int_equal(media_session_update(NULL, &p), EINVAL);
	p.side[1].dir = (enum media_dir)7;
	assert_int_equal(media_session_update(s, &p), EINVAL);
	p.side[1].dir = MEDIA_DIR_INACTIVE;
	/* An IPv6 remote cannot be reached from IPv4 sockets. */
	{
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p.side[1].rtp;

		memset(a6, 0, sizeof(*a6));
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(4000);
		a6->sin6_addr = in6addr_loopback;
		assert_int_equal(media_session_update(s, &p), EINVAL);
	}
	media_session_destroy(s);
	media_session_destroy(NULL);
	media_engine_destroy(me);
	media_engine_destroy(NULL);
}

static void test_destroy_after_update_burst(void **state)
{
	struct media_engine_cfg cfg;
	struct media_session_params p;
	struct media_engine_counters c;
	struct media_engine *me;
	struct media_session *s1, *s2;
	struct evlog l;
	int pushed = 0, err = 0;

	(void)state;
	evlog_init(&l);
	test_engine_cfg(&cfg, 4, 1);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, &l), 0);
	assert_int_equal(media_session_create(me, 1, &s1), 0);
	assert_int_equal(media_session_create(me, 2, &s2), 0);
	/* Stall the only worker inside the CLOSED handler of s1. */
	evlog_set_block(&l, true);
	media_session_destroy(s1);
	assert_true(evlog_wait_blocked(&l, 5000));
	side_params(&p.side[0], 4000, 0, MEDIA_DIR_SENDRECV);
	side_params(&p.side[1], 4002, 0, MEDIA_DIR_SENDRECV);
	/* The worker is stalled: updates still never fail (each replaces the last). */
	while (pushed < 100000 && (err = media_session_update(s2, &p)) == 0)
		pushed++;
	assert_int_equal(err, 0);
	assert_int_equal(pushed, 100000);
	/* And the close goes through. */
	media_session_destroy(s2);
	evlog_set_block(&l, false);
	assert_true(evlog_wait(&l, MEDIA_EV_CLOSED, 2, 5000, NULL));
	media_engine_counters(me, &c);
	assert_int_equal(c.ports_free, 4);
	assert_int_equal(c.sessions_active, 0);
	media_engine_destroy(me);
	evlog_fini(&l);
}

static void test_engine_destroy_with_sessions(void **state)
{
	struct media_engine_cfg cfg;
	struct media_session_params p;
	struct media_engine *me;
	struct media_session *s[8];
	struct evlog l;

	(void)state;
	evlog_init(&l);
	test_engine_cfg(&cfg, 16, 2);
	assert_int_equal(test_engine_create(&me, &cfg, evlog_handler, &l), 0);
	side_params(&p.side[0], 4000, 0, MEDIA_DIR_SENDRECV);
	side_params(&p.side[1], 4002, 0, MEDIA_DIR_SENDRECV);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(media_session_create(me, (uint64_t)i, &s[i]), 0);
		if (i % 2)
			assert_int_equal(media_session_update(s[i], &p), 0);
	}
	media_session_destroy(s[0]);
	/* Destroyed at once, some sessions maybe not even seen by their worker yet:
	 * everything is freed (ASan checks) and no event is emitted. */
	media_engine_destroy(me);
	assert_int_equal(l.n <= 1, 1);   /* at most s[0]'s CLOSED */
	evlog_fini(&l);
}

#ifndef NDEBUG
struct wrong_thread {
	struct media_session *s;
};

static void *update_from_elsewhere(void *arg)
{
	struct wrong_thread *wt = arg;
	struct media_session_params p;

	side_params(&p.side[0], 4000, 0, MEDIA_DIR_SENDRECV);
	side_params(&p.side[1], 4002, 0, MEDIA_DIR_SENDRECV);
	(void)media_session_update(wt->s, &p);
	return NULL;
}
#endif

static void test_owner_thread_asserted(void **state)
{
#ifdef NDEBUG
	(void)state;
	skip();
#else
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct media_engine_cfg cfg;
		struct media_engine *me;
		struct wrong_thread wt;
		pthread_t t;

		/* Only the abort is expected here; keep the sanitizers quiet. */
		signal(SIGABRT, SIG_DFL);
		test_engine_cfg(&cfg, 2, 1);
		if (test_engine_create(&me, &cfg, NULL, NULL) ||
		    media_session_create(me, 1, &wt.s))
			_exit(3);
		pthread_create(&t, NULL, update_from_elsewhere, &wt);
		pthread_join(t, NULL);
		_exit(0);   /* not reached in a debug build */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
					    WEXITSTATUS(status) != 3));
#endif
}

int test_engine_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_ports_and_exhaustion),
		cmocka_unit_test(test_busy_port_skipped),
		cmocka_unit_test(test_update_validation),
		cmocka_unit_test(test_destroy_after_update_burst),
		cmocka_unit_test(test_engine_destroy_with_sessions),
		cmocka_unit_test(test_owner_thread_asserted),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
