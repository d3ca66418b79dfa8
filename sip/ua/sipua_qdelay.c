/*
 * sipua_qdelay.c — how far behind the signalling thread is: the queueing delay of the
 * stack's UDP SIP socket, sampled before each loop iteration, and the standing part of
 * it (what stays when bursts are discounted), which load shedding acts on.
 *
 * The stack reads one datagram per loop iteration. Before each iteration's wait (the
 * su_root prepoll hook, at most once a millisecond), the datagram waiting at the head
 * of the socket, the next one the stack will read, is peeked at (not taken) and its
 * age computed from the kernel's receive timestamp (SO_TIMESTAMPNS). An empty socket
 * reads as no delay. Samples go into a ring that covers more than the longest window
 * asked about.
 *
 * A burst (a peer's retransmission wave, a harness starting at full rate, a long batch
 * of timers) queues datagrams for a moment and drains by itself; a load above capacity
 * leaves a queue that never drains. As in CoDel, the standing delay over a window is
 * the smallest delay seen in it, and it counts only when the delay was already above
 * that at the window's start: a queue that emptied at any point of the window, or
 * that only began at a stall inside it, is not standing.
 */
#include "sipua_int.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Finds the stack's UDP sockets: the datagram sockets bound to our SIP address and
 * port, or with a wildcard address to its port on each host address (sofia-sip has no
 * call that hands them out). Returns how many. */
static size_t find_udp_fds(struct sipua *ua)
{
	struct sockaddr_storage want;

	ua->n_udp_fds = 0;
	if (!sipua_endpoint_of(ua->cfg.bind_addr, ua->cfg.bind_port, &want))
		return 0;
	for (int fd = 3; fd < 4096 && ua->n_udp_fds < SIPUA_UDP_FDS; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), tlen = sizeof(int);
		int type = 0;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    sipua_bound_endpoint((struct sockaddr *)&ss, (struct sockaddr *)&want))
			ua->udp_fds[ua->n_udp_fds++] = fd;
	}
	return ua->n_udp_fds;
}

/* Age in ms of the datagram at the head of fd's queue; 0 when the queue is empty. */
static unsigned head_delay_fd(int fd)
{
	char byte, cbuf[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct timespec now, ts;
	int64_t waited_ns;

	if (recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) < 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		clock_gettime(CLOCK_REALTIME, &now);
		waited_ns = (int64_t)(now.tv_sec - ts.tv_sec) * 1000000000 +
			    (now.tv_nsec - ts.tv_nsec);
		return waited_ns > 0 ? (unsigned)(waited_ns / 1000000) : 0;
	}
	return 0;
}

/* The longest head-of-queue age over the stack's UDP sockets. */
static unsigned head_delay_ms(const struct sipua *ua)
{
	unsigned worst = 0;

	for (size_t i = 0; i < ua->n_udp_fds; i++) {
		unsigned d = head_delay_fd(ua->udp_fds[i]);

		if (d > worst)
			worst = d;
	}
	return worst;
}

/* One sample a millisecond at most. */
static void take_sample(struct sipua *ua, uint64_t now)
{
	struct sipua_qsample *s;

	if (ua->q_count && now == ua->q[ua->q_last].ms)
		return;
	ua->q_last = (ua->q_last + 1) % SIPUA_QSAMPLES;
	if (ua->q_count < SIPUA_QSAMPLES)
		ua->q_count++;
	s = &ua->q[ua->q_last];
	s->ms = now;
	s->delay = head_delay_ms(ua);
}

static void on_prepoll(su_prepoll_magic_t *magic, su_root_t *root)
{
	struct sipua *ua = (struct sipua *)magic;

	(void)root;
	if (ua->udp_fd >= 0)
		take_sample(ua, sipua_now_ms());
}

int sipua_qdelay_start(struct sipua *ua)
{
	int on = 1;

	if (find_udp_fds(ua) == 0)
		return -1;
	ua->udp_fd = ua->udp_fds[0];
	for (size_t i = 0; i < ua->n_udp_fds; i++)
		if (setsockopt(ua->udp_fds[i], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0)
			return -1;
	if (su_root_add_prepoll(ua->root, on_prepoll, (su_prepoll_magic_t *)ua) != 0)
		return -1;
	ua->q_measuring = true;
	return 0;
}

unsigned sipua_rx_delay_ms(const struct sipua *ua)
{
	return ua && ua->q_measuring && ua->q_count ? ua->q[ua->q_last].delay : 0;
}

unsigned sipua_rx_standing_delay_ms(struct sipua *ua, unsigned window_ms)
{
	uint64_t now, start;
	unsigned least = ~0u;

	if (!ua || !ua->q_measuring || !ua->q_count || window_ms == 0 ||
	    window_ms >= SIPUA_QSAMPLES)
		return 0;
	now = sipua_now_ms();
	/* No sample in the whole window: the thread waited (or stood still) longer than
	 * that, and its last sample shows the queue as it was before. A queue empty now
	 * is not standing (the first INVITE after a flood was shed on such a sample);
	 * one that is not keeps that sample as the state at the window's start. */
	if (ua->q[ua->q_last].ms + window_ms <= now && head_delay_ms(ua) == 0) {
		take_sample(ua, now);
		return 0;
	}
	start = now > window_ms ? now - window_ms : 0;
	for (size_t i = 0, k = ua->q_last; i < ua->q_count; i++) {
		const struct sipua_qsample *s = &ua->q[k];

		if (s->delay < least)
			least = s->delay;
		if (s->ms <= start)
			return least;   /* this sample is the state at the window's start */
		k = k ? k - 1 : SIPUA_QSAMPLES - 1;
	}
	return 0;   /* history shorter than the window */
}
