/* media_peer.c — helpers of the engine tests (see media_peer.h). */
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "media_peer.h"
#include "test_media.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void peer_open(struct peer *p, const char *ip)
{
	socklen_t len = sizeof(p->addr);
	int big = 1 << 20;

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(p->fd >= 0);
	(void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	memset(&p->addr, 0, sizeof(p->addr));
	p->addr.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip ? ip : "127.0.0.1", &p->addr.sin_addr), 1);
	assert_int_equal(bind(p->fd, (struct sockaddr *)&p->addr, sizeof(p->addr)), 0);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&p->addr, &len), 0);
}

void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

uint16_t peer_port(const struct peer *p)
{
	return ntohs(p->addr.sin_port);
}

void peer_send(struct peer *p, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	assert_int_equal(sendto(p->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)len);
}

void peer_send_rtp(struct peer *p, uint16_t port, uint8_t pt, uint16_t seq, uint32_t ts,
		   uint32_t ssrc, bool marker, uint32_t tag)
{
	struct rtp_hdr h = {.pt = pt, .seq = seq, .ts = ts, .ssrc = ssrc, .marker = marker};
	uint8_t buf[12 + 160];
	size_t n;

	assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &h, &n), 0);
	memset(buf + n, 0xd5, 160);
	rtp_put32(buf + n, tag);
	peer_send(p, port, buf, n + 160);
}

ssize_t peer_recv(struct peer *p, void *buf, size_t size, int timeout_ms,
		  struct sockaddr_in *from)
{
	struct pollfd pf = {.fd = p->fd, .events = POLLIN};
	socklen_t flen = sizeof(*from);

	if (poll(&pf, 1, timeout_ms) != 1)
		return -1;
	return recvfrom(p->fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)from,
			from ? &flen : NULL);
}

bool peer_recv_rtp(struct peer *p, struct rtp_hdr *h, uint32_t *tag, int timeout_ms,
		   struct sockaddr_in *from)
{
	uint8_t buf[2048];
	ssize_t n = peer_recv(p, buf, sizeof(buf), timeout_ms, from);

	if (n < 0 || rtp_hdr_parse(h, buf, (size_t)n))
		return false;
	if (tag)
		*tag = h->payload_len >= 4 ? rtp_get32(buf + h->hdr_len) : 0;
	return true;
}

int peer_drain(struct peer *p, int quiet_ms)
{
	uint8_t buf[2048];
	int n = 0;

	while (peer_recv(p, buf, sizeof(buf), quiet_ms, NULL) >= 0)
		n++;
	return n;
}

void evlog_init(struct evlog *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
}

void evlog_fini(struct evlog *l)
{
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
}

void evlog_handler(const struct media_event *ev, void *arg)
{
	struct evlog *l = arg;

	pthread_mutex_lock(&l->lock);
	if (l->n < EVLOG_MAX)
		l->ev[l->n++] = *ev;
	pthread_cond_broadcast(&l->cond);
	while (l->block) {
		l->blocked = true;
		pthread_cond_broadcast(&l->cond);
		pthread_cond_wait(&l->cond, &l->lock);
	}
	l->blocked = false;
	pthread_mutex_unlock(&l->lock);
}

static void deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int find(struct evlog *l, enum media_event_type type, uint64_t cookie)
{
	for (int i = 0; i < l->n; i++)
		if (l->ev[i].type == type && l->ev[i].cookie == cookie)
			return i;
	return -1;
}

bool evlog_wait(struct evlog *l, enum media_event_type type, uint64_t cookie,
		int timeout_ms, struct media_event *out)
{
	struct timespec ts;
	int i;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&l->lock);
	while ((i = find(l, type, cookie)) < 0)
		if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
			break;
	if (i >= 0 && out)
		*out = l->ev[i];
	pthread_mutex_unlock(&l->lock);
	return i >= 0;
}

int evlog_count(struct evlog *l, enum media_event_type type, uint64_t cookie)
{
	int n = 0;

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < l->n; i++)
		if (l->ev[i].type == type && l->ev[i].cookie == cookie)
			n++;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void evlog_set_block(struct evlog *l, bool block)
{
	pthread_mutex_lock(&l->lock);
	l->block = block;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

bool evlog_wait_blocked(struct evlog *l, int timeout_ms)
{
	struct timespec ts;
	bool b;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&l->lock);
	while (!l->blocked)
		if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
			break;
	b = l->blocked;
	pthread_mutex_unlock(&l->lock);
	return b;
}

/* True when every port of [lo, hi] can be bound on 127.0.0.1 right now. */
static bool range_free(uint16_t lo, uint16_t hi)
{
	for (uint32_t port = lo; port <= hi; port++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

		if (fd >= 0)
			close(fd);
		if (!ok)
			return false;
	}
	return true;
}

uint16_t test_port_lo = 20000;
unsigned test_port_pairs = 6000;

void test_ports_from_env(void)
{
	const char *v = getenv("TRUNX_TEST_PORTS");
	unsigned lo, hi;

	if (!v)
		return;
	if (sscanf(v, "%u-%u", &lo, &hi) != 2 || lo < 1024 || hi > 65536 || hi < lo + 64) {
		fprintf(stderr, "TRUNX_TEST_PORTS=%s: not LO-HI (1024 <= LO, LO + 64 <= HI)\n", v);
		exit(2);
	}
	test_port_lo = (uint16_t)(lo + (lo & 1));
	test_port_pairs = (hi - test_port_lo) / 2;
	printf("# ports: [%u, %u)\n", test_port_lo, test_port_lo + 2 * test_port_pairs);
	fflush(stdout);
}

void test_engine_cfg(struct media_engine_cfg *cfg, unsigned pairs, unsigned workers)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = workers;
	strcpy(cfg->bind_addr, "127.0.0.1");
	/* Other programs on the machine pick ports here too: take a range that is free
	 * now (it can still be taken later; tests that need every pair are short). */
	for (int tries = 0; tries < 200; tries++) {
		uint16_t r = 0;

		assert_int_equal(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
		cfg->port_min = (uint16_t)(test_port_lo + 2 * (r % (test_port_pairs - pairs)));
		cfg->port_max = (uint16_t)(cfg->port_min + 2 * pairs - 1);
		if (range_free(cfg->port_min, cfg->port_max))
			return;
	}
	fail_msg("no free range of %u port pairs found", pairs);
}

void side_params(struct media_side_params *sp, uint16_t rtp_port, uint16_t rtcp_port,
		 enum media_dir dir)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&sp->rtp;
	struct sockaddr_in *c = (struct sockaddr_in *)&sp->rtcp;

	memset(sp, 0, sizeof(*sp));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(rtp_port);
	if (rtcp_port) {
		c->sin_family = AF_INET;
		c->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c->sin_port = htons(rtcp_port);
	}
	/* The party's signalling comes from 127.0.0.1 too (what the b2bua hands on). */
	((struct sockaddr_in *)&sp->sig[0])->sin_family = AF_INET;
	((struct sockaddr_in *)&sp->sig[0])->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sp->dir = dir;
	memset(sp->pt_map, MEDIA_PT_NONE, sizeof(sp->pt_map));
	sp->pt_map[0] = 0;
	sp->pt_map[8] = 8;
	sp->pt_map[13] = 13;
	sp->pt_map[101] = 101;
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the engine's I/O path under test ------------------------------------------- */

enum media_io test_media_io = MEDIA_IO_AUTO;

int test_engine_create(struct media_engine **mep, const struct media_engine_cfg *cfg,
		       media_event_h *eh, void *arg)
{
	struct media_engine_cfg c;

	if (!cfg)
		return media_engine_create(mep, cfg, eh, arg);
	c = *cfg;
	c.io = test_media_io;
	return media_engine_create(mep, &c, eh, arg);
}

const char *test_media_io_name(void)
{
	return test_media_io == MEDIA_IO_URING ? "io_uring"
	       : test_media_io == MEDIA_IO_EPOLL ? "epoll" : "auto";
}

bool test_uring_allowed(void)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

void test_raise_priority(void)
{
	/* PRIO_PROCESS with who 0 is the calling thread on Linux (nice is per thread). */
	if (setpriority(PRIO_PROCESS, 0, TEST_NICE) == 0)
		printf("# priority: nice %d\n", TEST_NICE);
	else
		printf("# priority: nice %d refused (%s): running at the inherited nice\n",
		       TEST_NICE, strerror(errno));
	fflush(stdout);
}
