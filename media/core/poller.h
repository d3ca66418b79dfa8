/*
 * poller.h — the readiness poller behind a small ops struct, one backend per file
 * (poll_epoll.c first). A poller belongs to one media worker: only that thread adds,
 * removes and waits.
 *
 * Interest is always "readable", level-triggered: a socket that still holds packets
 * after a batched read is reported again, so one busy socket cannot starve the others.
 */
#ifndef TRUNX_POLLER_H
#define TRUNX_POLLER_H

struct poller;

/** One ready descriptor: the pointer given when it was added. */
struct poller_event {
	void *ptr;
};

struct poller_ops {
	const char *name;
	/** Creates a poller. Returns 0 or an errno value. */
	int  (*create)(struct poller **pp);
	void (*destroy)(struct poller *p);
	/** Watches fd for input; ptr comes back in poll_event. Returns 0 or an errno. */
	int  (*add)(struct poller *p, int fd, void *ptr);
	/** Stops watching fd (before it is closed). Returns 0 or an errno. */
	int  (*del)(struct poller *p, int fd);
	/**
	 * Waits up to timeout_ms (-1 = forever) for ready descriptors.
	 * @return the number stored in evs (0 on timeout or EINTR), or -errno
	 */
	int  (*wait)(struct poller *p, struct poller_event *evs, int max, int timeout_ms);
};

/** Linux epoll backend. */
extern const struct poller_ops poller_epoll_ops;

#endif
