/*
 * poll_epoll.c — the epoll backend of poller.h. Owns one epoll descriptor and a
 * scratch array of kernel events sized for the largest wait.
 */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EPOLL_BATCH 256   /**< events fetched per wait */

struct poller {
	int                epfd;
	struct epoll_event evs[EPOLL_BATCH];
};

static int ep_create(struct poller **pp)
{
	struct poller *p = calloc(1, sizeof(*p));

	if (!p)
		return ENOMEM;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		int err = errno;

		free(p);
		return err;
	}
	*pp = p;
	return 0;
}

static void ep_destroy(struct poller *p)
{
	if (!p)
		return;
	close(p->epfd);
	free(p);
}

static int ep_add(struct poller *p, int fd, void *ptr)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};

	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) ? errno : 0;
}

static int ep_del(struct poller *p, int fd)
{
	return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) ? errno : 0;
}

static int ep_wait(struct poller *p, struct poller_event *evs, int max, int timeout_ms)
{
	int n;

	if (max > EPOLL_BATCH)
		max = EPOLL_BATCH;
	n = epoll_wait(p->epfd, p->evs, max, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		evs[i].ptr = p->evs[i].data.ptr;
	return n;
}

const struct poller_ops poller_epoll_ops = {
	.name = "epoll",
	.create = ep_create,
	.destroy = ep_destroy,
	.add = ep_add,
	.del = ep_del,
	.wait = ep_wait,
};
