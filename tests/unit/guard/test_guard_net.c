/* test_guard_net.c — the interposed socket calls (sip/guard/guard_net.c) in a test
 * binary: pass-through for unwatched descriptors, accept() asking the handler, and
 * accept() out of descriptors draining with the spare one and never reporting an
 * error to its caller, a listening socket's backlog raised for a burst, and a
 * connection's reads sized for the bytes the handler reserves (FIONREAD, recvmsg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guard.h"

struct seen {
	int      accepted, refused, closed, datagrams;
	unsigned exhausted, dropped;
	bool     refuse;
};

static bool on_accepted(void *arg, int lfd, int fd, const struct sockaddr *peer)
{
	struct seen *s = arg;

	(void)lfd;
	(void)peer;
	if (s->refuse) {
		s->refused++;
		return false;
	}
	s->accepted++;
	guard_net_watch(fd, GUARD_STREAM);
	return true;
}

static void on_exhausted(void *arg, unsigned dropped)
{
	struct seen *s = arg;

	s->exhausted++;
	s->dropped += dropped;
}

static bool on_datagram(void *arg, int fd, const struct sockaddr *src, const struct iovec *iov,
			size_t iovcnt, size_t len)
{
	struct seen *s = arg;

	(void)fd;
	(void)src;
	(void)iovcnt;
	s->datagrams++;
	return !(len >= 4 && memcmp(iov[0].iov_base, "DROP", 4) == 0);
}

static void on_closed(void *arg, int fd)
{
	struct seen *s = arg;

	(void)fd;
	s->closed++;
}

static const struct guard_net_ops ops = {
	.accepted = on_accepted, .exhausted = on_exhausted, .datagram = on_datagram,
	.closed = on_closed,
};

static int listener(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static int client(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* True when the server side closed: the client reads EOF or a reset. */
static bool closed_by_peer(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	return poll(&p, 1, 2000) == 1 && read(fd, &c, 1) <= 0;
}

static void test_accept_asks_and_passes_through(void **state)
{
	struct seen s = {0};
	uint16_t port, port2;
	int l = listener(&port), other = listener(&port2), c1, c2, c3, a;

	(void)state;
	assert_int_equal(guard_net_attach(&ops, &s), 0);
	assert_int_equal(guard_net_attach(&ops, &s), EBUSY);
	assert_int_equal(guard_net_watch(l, GUARD_LISTEN), 0);
	c1 = client(port);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(guard_net_kind(a), GUARD_STREAM);
	close(a);
	assert_int_equal(s.closed, 1);
	assert_int_equal(guard_net_kind(a), GUARD_NONE);
	/* Refused ones are closed at once; the caller gets -1 with errno 0. */
	s.refuse = true;
	c2 = client(port);
	c3 = client(port);
	usleep(20000);
	errno = EINVAL;
	assert_int_equal(accept(l, NULL, NULL), -1);
	assert_int_equal(errno, 0);
	assert_int_equal(s.refused, 2);
	assert_true(closed_by_peer(c2));
	assert_true(closed_by_peer(c3));
	/* An unwatched socket is not asked about. */
	close(client(port2));
	usleep(20000);
	a = accept(other, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(s.refused, 2);
	close(a);
	assert_int_equal(s.closed, 1);
	guard_net_detach();
	close(c1);
	close(l);
	close(other);
}

static void test_accept_out_of_descriptors(void **state)
{
	struct seen s = {0};
	struct rlimit old, low;
	uint16_t port;
	int l = listener(&port), c[8], top, a;

	(void)state;
	assert_int_equal(guard_net_attach(&ops, &s), 0);
	assert_int_equal(guard_net_watch(l, GUARD_LISTEN), 0);
	for (int i = 0; i < 8; i++)
		c[i] = client(port);
	usleep(20000);
	/* No descriptor left: the lowest free one is the limit. */
	top = open("/dev/null", O_RDONLY);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)top;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	close(top);   /* one free slot: the limit is top, the next fd would be top */
	errno = EINVAL;
	a = accept(l, NULL, NULL);
	assert_int_equal(a, -1);
	assert_int_equal(errno, 0);
	assert_int_equal(s.exhausted, 1);
	assert_int_equal(s.dropped, 8);
	assert_int_equal(s.accepted, 0);
	for (int i = 0; i < 8; i++)
		assert_true(closed_by_peer(c[i]));
	/* Nothing pending any more: accept() does not report again. */
	assert_int_equal(accept(l, NULL, NULL), -1);
	assert_int_equal(s.exhausted, 1);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* Descriptors again: accepted as usual. */
	c[0] = client(port);
	usleep(20000);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(s.accepted, 1);
	close(a);
	for (int i = 0; i < 8; i++)
		close(c[i]);
	guard_net_detach();
	close(l);
}

/* The listening socket's backlog and its accept queue now (TCP_INFO of a socket in
 * LISTEN: tcpi_sacked is the backlog, tcpi_unacked the queue). */
static void listen_queue(int fd, unsigned *backlog, unsigned *queued)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	*backlog = ti.tcpi_sacked;
	*queued = ti.tcpi_unacked;
}

/* A burst of 300 connection attempts to a watched listening socket (the stack listens
 * with 64) all wait in its queue: none is dropped or lost to a SYN cookie. */
static void test_listen_backlog(void **state)
{
	enum { BURST = 300 };
	struct seen s = {0};
	struct sockaddr_in a = {.sin_family = AF_INET};
	unsigned backlog, queued = 0, somaxconn = 4096;
	uint16_t port;
	int l = listener(&port), c[BURST];
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");

	(void)state;
	if (f) {
		assert_int_equal(fscanf(f, "%u", &somaxconn), 1);
		fclose(f);
	}
	listen_queue(l, &backlog, &queued);
	assert_int_equal(backlog, 64);
	assert_int_equal(guard_net_attach(&ops, &s), 0);
	assert_int_equal(guard_net_watch(l, GUARD_LISTEN), 0);
	listen_queue(l, &backlog, &queued);
	assert_int_equal(backlog, somaxconn < GUARD_LISTEN_BACKLOG ? somaxconn
								   : GUARD_LISTEN_BACKLOG);
	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	for (int i = 0; i < BURST; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(c[i] >= 0);
		assert_true(connect(c[i], (struct sockaddr *)&a, sizeof(a)) == 0 ||
			    errno == EINPROGRESS);
	}
	for (int i = 0; i < 100 && queued < BURST; i++) {
		usleep(10000);
		listen_queue(l, &backlog, &queued);
	}
	assert_int_equal(queued, BURST);
	s.refuse = true;
	for (int i = 0; i < 4 && s.refused < BURST; i++)   /* a batch a call at most */
		assert_int_equal(accept(l, NULL, NULL), -1);
	assert_int_equal(s.refused, BURST);
	for (int i = 0; i < BURST; i++)
		close(c[i]);
	guard_net_detach();
	close(l);
}

static void test_datagrams_filtered(void **state)
{
	struct seen s = {0};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64];
	struct iovec iov = {buf, sizeof(buf)};
	struct sockaddr_in from;
	struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
			   .msg_iovlen = 1};

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(u, (struct sockaddr *)&a, &len);
	assert_int_equal(guard_net_attach(&ops, &s), 0);
	assert_int_equal(guard_net_watch(u, GUARD_DGRAM), 0);
	sendto(tx, "DROP me", 7, 0, (struct sockaddr *)&a, sizeof(a));
	sendto(tx, "KEEP me", 7, 0, (struct sockaddr *)&a, sizeof(a));
	usleep(20000);
	/* A peek is never filtered. */
	assert_int_equal(recvmsg(u, &m, MSG_PEEK), 7);
	assert_int_equal(s.datagrams, 0);
	m.msg_namelen = sizeof(from);
	errno = 0;
	assert_int_equal(recvmsg(u, &m, 0), -1);
	assert_int_equal(errno, EAGAIN);
	m.msg_namelen = sizeof(from);
	assert_int_equal(recvmsg(u, &m, 0), 7);
	assert_memory_equal(buf, "KEEP me", 7);
	assert_int_equal(s.datagrams, 2);
	guard_net_detach();
	assert_int_equal(guard_net_kind(u), GUARD_NONE);
	close(u);
	close(tx);
}

struct reserving {
	size_t reserve;   /* what the handler says the next read may add */
	size_t streamed;  /* bytes the stream handler saw */
};

static size_t on_stream_r(void *arg, int fd, struct iovec *iov, size_t iovcnt, size_t len,
			  bool may_drop)
{
	struct reserving *r = arg;

	(void)fd;
	(void)iov;
	(void)iovcnt;
	(void)may_drop;
	r->streamed += len;
	return len;
}

static size_t on_reserve(void *arg, int fd)
{
	struct reserving *r = arg;

	(void)fd;
	return r->reserve;
}

static const struct guard_net_ops reserve_ops = {
	.stream = on_stream_r, .reserve = on_reserve,
};

static void test_stream_reserve(void **state)
{
	struct reserving r = {.reserve = 3};
	int sv[2], avail = -1;
	char buf[13];
	struct iovec iov[2] = {{buf, 8}, {buf + 8, 5}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(guard_net_attach(&reserve_ops, &r), 0);
	/* Nothing to read: 0 stays 0 (the stack reads it as the end of the stream). */
	assert_int_equal(guard_net_watch(sv[0], GUARD_STREAM), 0);
	assert_int_equal(ioctl(sv[0], FIONREAD, &avail), 0);
	assert_int_equal(avail, 0);
	assert_int_equal(write(sv[1], "0123456789abcdefghij", 20), 20);
	/* The socket's 20 bytes and the 3 reserved. */
	assert_int_equal(ioctl(sv[0], FIONREAD, &avail), 0);
	assert_int_equal(avail, 23);
	/* A 13-byte read leaves 3 free: 10 come from the socket, across both iovecs. */
	assert_int_equal(recvmsg(sv[0], &m, 0), 10);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(r.streamed, 10);
	/* Nothing reserved: as asked. */
	r.reserve = 0;
	assert_int_equal(recvmsg(sv[0], &m, 0), 10);
	assert_memory_equal(buf, "abcdefghij", 10);
	/* An unwatched socket is left alone. */
	r.reserve = 3;
	assert_int_equal(write(sv[0], "xy", 2), 2);
	assert_int_equal(ioctl(sv[1], FIONREAD, &avail), 0);
	assert_int_equal(avail, 2);
	guard_net_detach();
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_asks_and_passes_through),
		cmocka_unit_test(test_accept_out_of_descriptors),
		cmocka_unit_test(test_datagrams_filtered),
		cmocka_unit_test(test_listen_backlog),
		cmocka_unit_test(test_stream_reserve),
	};
	return cmocka_run_group_tests_name("guard_net", tests, NULL, NULL);
}
