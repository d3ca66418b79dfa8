/*
 * guard_net.c — trunxd's own accept(), recvmsg(), recv(), __recv_chk(), ioctl() and
 * close(): the hooks sofia-sip does not have.
 *
 * WHY
 * sofia-sip accepts every TCP connection it is offered, keeps idle ones for ever, and
 * when descriptors run out its tport_accept() logs the error and returns while the
 * listening socket stays readable, so the signalling thread spins; and it parses
 * every datagram and every message into a transaction before trunx sees anything.
 * It offers no accept hook and no pre-parse hook. Its calls to these functions go
 * through its PLT; a definition in the executable comes first in the symbol search
 * order, so the library's calls (and libevent's, and our own) land here. Each one
 * forwards to the next definition (dlsym RTLD_NEXT: the C library, or under
 * AddressSanitizer its interceptor) and acts only on descriptors watched here: the
 * SIP listening sockets, the UDP SIP socket and the connections accepted on the
 * former. Everything else costs one array lookup. A TLS connection is read by OpenSSL
 * with read(), not through these hooks, and its bytes are records, not SIP text: it
 * is watched as GUARD_SEALED, which only accept() and close() act on (its decrypted
 * bytes are framed by the user, at the stack's SSL_read(): sip/ua/sipua_tls.c).
 *
 * The stack sizes each read of a connection by ioctl(FIONREAD) (su_getmsgsize()). A
 * handler that may add bytes of its own to the next read (guard_net_ops.reserve: a
 * message it held and hands over whole) has them counted there too, when the socket
 * has data, and that read takes that much less from the socket, so the stack's buffer
 * has room for both.
 *
 * STATE
 * One table per process (an accept() call carries no context): the kind of each
 * watched descriptor (one byte per descriptor up to RLIMIT_NOFILE, read with relaxed
 * atomics because close() runs on every thread), the handlers of the one user (the
 * signalling thread, which is the only thread that accepts or reads SIP sockets), and
 * a spare descriptor. The kind array is allocated once and never freed.
 *
 * A listening socket's backlog is raised when it is watched (GUARD_LISTEN_BACKLOG):
 * the stack listens with 64, and a burst of connection attempts overflowed that
 * queue. The kernel then dropped SYNs (a trunk's too, which tried again only after
 * 1 s, 3 s, 7 s ...) and answered others with SYN cookies, completing handshakes it
 * then threw away while the queue was full: a client with nothing to send yet never
 * reached the guards, which neither counted nor closed it.
 *
 * accept() on a watched listening socket takes every pending connection in one call
 * and asks the handler about each: kept ones are returned to the stack one at a time
 * (the rest stay queued), refused ones are closed at once. When there are no
 * descriptors left, the spare one is released to accept and close what is pending,
 * then taken again; without a spare the backlog is reset (shutdown + listen). The
 * stack is told "no error" (errno 0) so it neither logs nor spins.
 */
#include "guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define KINDS_MAX (1u << 20)
#define ACCEPT_BATCH 256   /**< connections taken per accept() call at most */

/* Not declared without _FORTIFY_SOURCE; the stack imports it. */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);

typedef int (accept_f)(int, struct sockaddr *, socklen_t *);
typedef ssize_t (recvmsg_f)(int, struct msghdr *, int);
typedef ssize_t (recv_f)(int, void *, size_t, int);
typedef ssize_t (recv_chk_f)(int, void *, size_t, size_t, int);
typedef int (close_f)(int);
typedef int (ioctl_f)(int, unsigned long, ...);

static struct {
	_Atomic(accept_f *)   accept;
	_Atomic(recvmsg_f *)  recvmsg;
	_Atomic(recv_f *)     recv;
	_Atomic(recv_chk_f *) recv_chk;
	_Atomic(close_f *)    close;
	_Atomic(ioctl_f *)    ioctl;
} real;

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(_Atomic uint8_t *) kinds;
static _Atomic unsigned nkinds;
static _Atomic(const struct guard_net_ops *) gops;   /* set/cleared under attach_lock */
static void *garg;
static int spare_fd = -1;                   /* signalling thread */

static void *next_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p)
		abort();   /* no C library below us: nothing can work */
	return p;
}

/* The next definition of each function, looked up once (racing lookups agree). */
#define NEXT_FN(field, type, name)                                                 \
	static type *next_##field(void)                                            \
	{                                                                          \
		type *f = atomic_load_explicit(&real.field, memory_order_relaxed); \
		if (!f) {                                                          \
			f = (type *)next_sym(name);                                \
			atomic_store(&real.field, f);                              \
		}                                                                  \
		return f;                                                          \
	}
NEXT_FN(accept, accept_f, "accept")
NEXT_FN(recvmsg, recvmsg_f, "recvmsg")
NEXT_FN(recv, recv_f, "recv")
NEXT_FN(recv_chk, recv_chk_f, "__recv_chk")
NEXT_FN(close, close_f, "close")
NEXT_FN(ioctl, ioctl_f, "ioctl")

static const struct guard_net_ops *ops_get(void)
{
	return atomic_load_explicit(&gops, memory_order_acquire);
}

static enum guard_sock kind_of(int fd)
{
	_Atomic uint8_t *k = atomic_load_explicit(&kinds, memory_order_acquire);

	if (!k || fd < 0 || (unsigned)fd >= atomic_load_explicit(&nkinds, memory_order_relaxed))
		return GUARD_NONE;
	return (enum guard_sock)atomic_load_explicit(&k[fd], memory_order_relaxed);
}

static void kind_set(int fd, enum guard_sock kind)
{
	_Atomic uint8_t *k = atomic_load(&kinds);

	if (k && fd >= 0 && (unsigned)fd < atomic_load(&nkinds))
		atomic_store_explicit(&k[fd], (uint8_t)kind, memory_order_relaxed);
}

/* ---- registry ---- */

int guard_net_attach(const struct guard_net_ops *ops, void *arg)
{
	int err = 0;

	pthread_mutex_lock(&attach_lock);
	if (atomic_load(&gops)) {
		err = EBUSY;
		goto out;
	}
	if (!atomic_load(&kinds)) {
		struct rlimit rl;
		unsigned n = 65536;
		_Atomic uint8_t *k;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur > n)
			n = rl.rlim_cur < KINDS_MAX ? (unsigned)rl.rlim_cur : KINDS_MAX;
		k = calloc(n, sizeof(*k));
		if (!k) {
			err = ENOMEM;
			goto out;
		}
		atomic_store(&nkinds, n);
		atomic_store(&kinds, k);
	}
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	garg = arg;
	atomic_store(&gops, ops);
out:
	pthread_mutex_unlock(&attach_lock);
	return err;
}

void guard_net_detach(void)
{
	_Atomic uint8_t *k = atomic_load(&kinds);
	unsigned n = atomic_load(&nkinds);

	pthread_mutex_lock(&attach_lock);
	for (unsigned i = 0; k && i < n; i++)
		atomic_store_explicit(&k[i], GUARD_NONE, memory_order_relaxed);
	atomic_store(&gops, NULL);
	garg = NULL;
	if (spare_fd >= 0)
		next_close()(spare_fd);
	spare_fd = -1;
	pthread_mutex_unlock(&attach_lock);
}

int guard_net_watch(int fd, enum guard_sock kind)
{
	if (fd < 0 || kind > GUARD_SEALED)
		return EINVAL;
	if (!atomic_load(&kinds) || (unsigned)fd >= atomic_load(&nkinds))
		return ERANGE;
	/* listen() again on a listening socket only changes its backlog (Linux); should
	 * it fail, the stack's stays, and the socket is guarded all the same. */
	if (kind == GUARD_LISTEN)
		(void)listen(fd, GUARD_LISTEN_BACKLOG);
	kind_set(fd, kind);
	return 0;
}

enum guard_sock guard_net_kind(int fd)
{
	return kind_of(fd);
}

/* ---- accept ---- */

/* No descriptor left: take what is pending with the spare one and close it. */
static unsigned drain_without_fds(int lfd)
{
	accept_f *acc = next_accept();
	close_f *cls = next_close();
	unsigned dropped = 0;

	if (spare_fd >= 0) {
		cls(spare_fd);
		spare_fd = -1;
		for (int s; dropped < ACCEPT_BATCH && (s = acc(lfd, NULL, NULL)) >= 0; dropped++)
			cls(s);
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (spare_fd < 0) {
		/* Nothing to accept with: reset the whole backlog so the socket stops
		 * being readable (shutdown() of a listening socket drops its queue and
		 * listen() opens it again at once). */
		shutdown(lfd, SHUT_RD);
		listen(lfd, GUARD_LISTEN_BACKLOG);
		dropped++;
	}
	return dropped;
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	/* glibc's __SOCKADDR_ARG is a transparent union under _GNU_SOURCE. */
	struct sockaddr *sa = addr.__sockaddr__;
	const struct guard_net_ops *ops = ops_get();
	unsigned tries = 0;

	if (!ops || kind_of(fd) != GUARD_LISTEN)
		return next_accept()(fd, sa, len);
	while (tries++ < ACCEPT_BATCH) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int s = next_accept()(fd, (struct sockaddr *)&peer, &plen);

		if (s < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				unsigned n = drain_without_fds(fd);

				if (n && ops->exhausted)
					ops->exhausted(garg, n);
			}
			/* Nothing (more) to hand over; errno 0 keeps the stack quiet. */
			errno = 0;
			return -1;
		}
		if (ops->accepted && !ops->accepted(garg, fd, s, (struct sockaddr *)&peer)) {
			next_close()(s);
			continue;
		}
		if (sa && len) {
			socklen_t n = *len < plen ? *len : plen;

			memcpy(sa, &peer, n);
			*len = plen;
		}
		return s;
	}
	errno = 0;
	return -1;
}

/* ---- reads ---- */

/* A read of a connection that leaves `reserve` bytes of the caller's buffer free. */
static ssize_t recvmsg_short(int fd, struct msghdr *m, int flags, size_t reserve)
{
	struct iovec iov[16];
	struct msghdr s = *m;
	size_t room = 0, want;

	for (size_t i = 0; i < m->msg_iovlen; i++)
		room += m->msg_iov[i].iov_len;
	if (room <= reserve || m->msg_iovlen > 16)
		return next_recvmsg()(fd, m, flags);   /* no room to keep: as asked */
	want = room - reserve;
	s.msg_iov = iov;
	s.msg_iovlen = 0;
	for (size_t i = 0; i < m->msg_iovlen && want; i++) {
		iov[i] = m->msg_iov[i];
		if (iov[i].iov_len > want)
			iov[i].iov_len = want;
		want -= iov[i].iov_len;
		s.msg_iovlen++;
	}
	return next_recvmsg()(fd, &s, flags);
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	const struct guard_net_ops *ops = ops_get();
	size_t reserve = 0;
	ssize_t n;
	enum guard_sock k;

	if (ops && ops->reserve && !(flags & MSG_PEEK) && kind_of(fd) == GUARD_STREAM)
		reserve = ops->reserve(garg, fd);
	n = reserve ? recvmsg_short(fd, m, flags, reserve) : next_recvmsg()(fd, m, flags);

	if (n <= 0 || (flags & MSG_PEEK) || (k = kind_of(fd)) == GUARD_NONE ||
	    !(ops = ops_get()))
		return n;
	if (k == GUARD_DGRAM && ops->datagram) {
		if (m->msg_name && !ops->datagram(garg, fd, m->msg_name, m->msg_iov,
						  m->msg_iovlen, (size_t)n)) {
			errno = EAGAIN;
			return -1;
		}
	} else if (k == GUARD_STREAM && ops->stream) {
		size_t kept = ops->stream(garg, fd, m->msg_iov, m->msg_iovlen, (size_t)n, true);

		if (!kept) {
			/* Whole messages were dropped: "nothing yet", never 0 (end of stream). */
			errno = EAGAIN;
			return -1;
		}
		n = (ssize_t)kept;
	}
	return n;
}

/* The stack consumes the whitespace between stream messages with recv(): the framer
 * must count those bytes too, but may not drop any. */
static void stream_seen(int fd, void *buf, ssize_t n, int flags)
{
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
	const struct guard_net_ops *ops;

	if (n > 0 && !(flags & MSG_PEEK) && kind_of(fd) == GUARD_STREAM && (ops = ops_get()) &&
	    ops->stream)
		ops->stream(garg, fd, &iov, 1, (size_t)n, false);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = next_recv()(fd, buf, len, flags);

	stream_seen(fd, buf, n, flags);
	return n;
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	ssize_t n = next_recv_chk()(fd, buf, len, buflen, flags);

	stream_seen(fd, buf, n, flags);
	return n;
}

/* The stack sizes its read of a connection by FIONREAD (su_getmsgsize()). */
int ioctl(int fd, unsigned long req, ...)
{
	const struct guard_net_ops *ops;
	va_list ap;
	void *argp;
	int r;

	va_start(ap, req);
	argp = va_arg(ap, void *);
	va_end(ap);
	r = next_ioctl()(fd, req, argp);
	if (r == 0 && req == FIONREAD && argp && kind_of(fd) == GUARD_STREAM &&
	    (ops = ops_get()) && ops->reserve) {
		int *avail = argp;

		if (*avail > 0) {
			size_t extra = ops->reserve(garg, fd);

			*avail = extra > (size_t)(INT_MAX - *avail) ? INT_MAX
								    : *avail + (int)extra;
		}
	}
	return r;
}

/* ---- close ---- */

int close(int fd)
{
	enum guard_sock k = kind_of(fd);

	if (k != GUARD_NONE) {
		const struct guard_net_ops *ops = ops_get();

		kind_set(fd, GUARD_NONE);
		if ((k == GUARD_STREAM || k == GUARD_SEALED) && ops && ops->closed)
			ops->closed(garg, fd);
	}
	return next_close()(fd);
}
