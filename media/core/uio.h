/*
 * uio.h — a media worker's io_uring: completion-based receive and send for its sockets.
 * Owned by one worker thread (worker_destroy may use it after the thread is joined).
 *
 * Each watched socket has one multishot recvmsg in flight that takes its buffers from
 * the worker's provided-buffer ring, so one io_uring_enter() harvests the datagrams of
 * every ready socket; replies go out as sendmsg SQEs from the same buffers, submitted
 * together with the next wait, and each buffer returns to the ring when its send has
 * completed (or when the packet is dropped). The control eventfd is one multishot
 * poll. Nothing is allocated per packet.
 *
 * Watched descriptors live in generation-tagged slots: a completion names its slot and
 * the generation it was armed with, and uio_owner() resolves it to the owner's pointer
 * only while the slot still holds that generation. uio_del() bumps the generation and
 * cancels the request (synchronously submitted, before the caller closes the socket),
 * so a completion already harvested for a closed session resolves to NULL, never to
 * freed memory.
 */
#ifndef TRUNX_UIO_H
#define TRUNX_UIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct uio;

enum uio_ev_type {
	UIO_EV_RX = 0,     /**< a datagram (or a receive error when res < 0) */
	UIO_EV_SENT,       /**< a send completed: res = bytes or -errno */
	UIO_EV_CTL,        /**< the control descriptor became readable */
};

/** One harvested completion. */
struct uio_event {
	uint8_t  type;     /**< enum uio_ev_type */
	uint16_t bid;      /**< RX with res >= 0: the buffer holding it */
	uint32_t slot, gen;
	int32_t  res;
};

/** A received datagram, in place in its buffer. */
struct uio_rx {
	uint8_t        *data;     /**< payload; room for uio's pkt_max bytes */
	size_t          len;      /**< bytes received (the datagram's length if truncated) */
	int             trunc;    /**< the datagram did not fit */
	const void     *name;     /**< the source address */
	socklen_t       namelen;
	struct msghdr   ctl;      /**< msg_control/msg_controllen: its control data */
};

/**
 * Creates the ring. pkt_max: payload room per buffer (received packets may fill it);
 * namelen/ctllen: source address and control data room per datagram.
 * Returns 0 or an errno (e.g. ENOSYS/EPERM when io_uring is unavailable).
 */
int  uio_create(struct uio **up, size_t pkt_max, socklen_t namelen, size_t ctllen);
void uio_destroy(struct uio *u);
/**
 * Called once by the thread that will wait on it, before its first uio_wait(): that
 * thread becomes the ring's only submitter. Returns 0 or an errno.
 */
int  uio_start(struct uio *u);

/** Starts receiving on fd; *slot names it in events and uio_del. Returns 0 or errno. */
int  uio_add(struct uio *u, int fd, void *owner, uint32_t *slot);
/** Stops receiving on the slot's fd (call before closing it). Returns 0 or errno. */
int  uio_del(struct uio *u, uint32_t slot);
/** Watches the control descriptor (multishot poll). Returns 0 or an errno. */
int  uio_add_ctl(struct uio *u, int fd);

/**
 * Submits what is queued (sends, re-armed receives, returned buffers) and waits up to
 * timeout_ms (-1 = forever, 0 = not at all) for completions; stores up to max.
 * @return the number stored, or -errno
 */
int  uio_wait(struct uio *u, struct uio_event *evs, int max, int timeout_ms);

/** The owner given to uio_add for ev's slot, or NULL when that slot was deleted since. */
void *uio_owner(const struct uio *u, const struct uio_event *ev);
/** Locates an RX event's datagram. Returns 0 or EINVAL (malformed: release it). */
int  uio_rx_view(struct uio *u, const struct uio_event *ev, struct uio_rx *rx);
/** Gives an RX event's buffer back to the ring (dropped packet). */
void uio_release(struct uio *u, uint16_t bid);
/**
 * Queues buffer bid's first len bytes at data for sending on the slot's fd toward dst;
 * the buffer returns to the ring when the send completes (UIO_EV_SENT names slot).
 * Returns 0 or an errno (the buffer has been released then).
 */
int  uio_send(struct uio *u, uint32_t slot, int fd, uint16_t bid, const uint8_t *data,
	      size_t len, const struct sockaddr *dst, socklen_t dstlen);

/**
 * Submits the queued sends now (one io_uring_enter() when any are queued), for a caller
 * about to send directly on a socket: packets of one stream leave in order.
 */
void uio_flush(struct uio *u);

#endif
