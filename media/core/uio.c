/*
 * uio.c — the io_uring receive/send path of a media worker (see uio.h). Owns the ring,
 * the provided-buffer ring with its packet buffers, the per-buffer send headers and the
 * generation-tagged slot table of watched descriptors.
 *
 * user_data: bits 62-63 the request type; receive and poll requests carry the slot in
 * bits 0-31 and its generation in bits 32-61; a send carries its buffer id (the slot
 * and generation of its socket are kept beside the buffer's send header).
 */
#include "uio.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UIO_SQ      1024       /**< submission entries */
#define UIO_CQ      8192       /**< completion entries */
#define UIO_NBUF    2048       /**< packet buffers (power of two) */
#define UIO_BGID    0          /**< buffer group of the ring */
#define UIO_GEN_MASK ((1ull << 30) - 1)

enum { T_RECV = 0, T_SEND = 1, T_CTL = 2, T_CANCEL = 3 };

#define UD(t, slot, gen) (((uint64_t)(t) << 62) | (((uint64_t)(gen) & UIO_GEN_MASK) << 32) \
			  | (uint64_t)(slot))
#define UD_TYPE(ud)  ((unsigned)((ud) >> 62))
#define UD_SLOT(ud)  ((uint32_t)(ud))
#define UD_GEN(ud)   ((uint32_t)(((ud) >> 32) & UIO_GEN_MASK))

struct uio_slot {
	void    *owner;       /**< NULL: free or deleted */
	int      fd;
	uint32_t gen;
	uint32_t next;        /**< free list / re-arm list link */
	bool     rearm;       /**< on the re-arm list */
};

struct uio_tx {
	struct msghdr   mh;
	struct iovec    iov;
	struct sockaddr_storage dst;
	uint32_t        slot, gen;
};

struct uio {
	struct io_uring          ring;
	struct io_uring_buf_ring *br;
	size_t                   br_size;
	uint8_t                 *bufs;
	size_t                   buf_size;
	unsigned                 br_added;    /**< buffers added, not yet published */
	struct msghdr            rx_tmpl;     /**< name/control room of each datagram */
	struct uio_tx           *tx;          /**< per buffer */
	struct uio_slot         *slots;
	uint32_t                 nslots, cap;
	uint32_t                 free_head;   /**< UINT32_MAX = none */
	uint32_t                 rearm_head;
	int                      ctl_fd;
	bool                     ctl_rearm;
	bool                     ring_ok;
	bool                     disabled;    /**< created disabled: uio_start() enables */
};

#define NONE UINT32_MAX

static uint8_t *buf_at(const struct uio *u, uint16_t bid)
{
	return u->bufs + (size_t)bid * u->buf_size;
}

void uio_release(struct uio *u, uint16_t bid)
{
	io_uring_buf_ring_add(u->br, buf_at(u, bid), (unsigned)u->buf_size, bid,
			      io_uring_buf_ring_mask(UIO_NBUF), (int)u->br_added);
	u->br_added++;
}

static void publish_bufs(struct uio *u)
{
	if (u->br_added) {
		io_uring_buf_ring_advance(u->br, (int)u->br_added);
		u->br_added = 0;
	}
}

/* An SQE, submitting what is queued first when the queue is full. */
static struct io_uring_sqe *get_sqe(struct uio *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		publish_bufs(u);
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static int arm_recv(struct uio *u, uint32_t slot)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return EBUSY;
	io_uring_prep_recvmsg_multishot(sqe, u->slots[slot].fd, &u->rx_tmpl, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UIO_BGID;
	io_uring_sqe_set_data64(sqe, UD(T_RECV, slot, u->slots[slot].gen));
	return 0;
}

static int arm_ctl(struct uio *u)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return EBUSY;
	io_uring_prep_poll_multishot(sqe, u->ctl_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, UD(T_CTL, 0, 0));
	return 0;
}

int uio_create(struct uio **up, size_t pkt_max, socklen_t namelen, size_t ctllen)
{
	/* Completion work deferred to our own waits (one issuer: the worker thread, which
	 * enables the ring in uio_start()); older kernels: cooperative task work. */
	struct io_uring_params prm = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
					       IORING_SETUP_SINGLE_ISSUER |
					       IORING_SETUP_DEFER_TASKRUN |
					       IORING_SETUP_R_DISABLED,
				      .cq_entries = UIO_CQ};
	struct io_uring_buf_reg reg = {0};
	struct uio *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return ENOMEM;
	u->free_head = u->rearm_head = NONE;
	u->ctl_fd = -1;
	err = -io_uring_queue_init_params(UIO_SQ, &u->ring, &prm);
	if (err == EINVAL) {
		memset(&prm, 0, sizeof(prm));
		prm.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
			    IORING_SETUP_COOP_TASKRUN;
		prm.cq_entries = UIO_CQ;
		err = -io_uring_queue_init_params(UIO_SQ, &u->ring, &prm);
	}
	if (err) {
		free(u);
		return err;
	}
	u->ring_ok = true;
	u->disabled = prm.flags & IORING_SETUP_R_DISABLED;
	/* Rounded up so the control data after the name is aligned for struct cmsghdr. */
	u->rx_tmpl.msg_namelen = (namelen + 7) & ~(socklen_t)7;
	u->rx_tmpl.msg_controllen = ctllen;
	u->buf_size = (sizeof(struct io_uring_recvmsg_out) + u->rx_tmpl.msg_namelen + ctllen +
		       pkt_max + 63) &
		      ~(size_t)63;
	u->br_size = UIO_NBUF * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, u->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
		     -1, 0);
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		err = errno;
		goto fail;
	}
	u->bufs = malloc(u->buf_size * UIO_NBUF);
	u->tx = calloc(UIO_NBUF, sizeof(*u->tx));
	if (!u->bufs || !u->tx) {
		err = ENOMEM;
		goto fail;
	}
	io_uring_buf_ring_init(u->br);
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	reg.ring_entries = UIO_NBUF;
	reg.bgid = UIO_BGID;
	err = -io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (err)
		goto fail;
	for (unsigned i = 0; i < UIO_NBUF; i++) {
		u->tx[i].mh.msg_iov = &u->tx[i].iov;
		u->tx[i].mh.msg_iovlen = 1;
		u->tx[i].mh.msg_name = &u->tx[i].dst;
		uio_release(u, (uint16_t)i);
	}
	publish_bufs(u);
	*up = u;
	return 0;
fail:
	uio_destroy(u);
	return err;
}

void uio_destroy(struct uio *u)
{
	if (!u)
		return;
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);   /* cancels what is in flight */
	if (u->br)
		munmap(u->br, u->br_size);
	free(u->bufs);
	free(u->tx);
	free(u->slots);
	free(u);
}

int uio_add(struct uio *u, int fd, void *owner, uint32_t *slot)
{
	uint32_t i;
	int err;

	if (u->free_head != NONE) {
		i = u->free_head;
		u->free_head = u->slots[i].next;
	} else {
		if (u->nslots == u->cap) {
			uint32_t cap = u->cap ? u->cap * 2 : 64;
			struct uio_slot *ns = realloc(u->slots, cap * sizeof(*ns));

			if (!ns)
				return ENOMEM;
			u->slots = ns;
			u->cap = cap;
		}
		i = u->nslots++;
		u->slots[i].gen = 0;
	}
	u->slots[i].owner = owner;
	u->slots[i].fd = fd;
	u->slots[i].rearm = false;
	u->slots[i].next = NONE;
	err = arm_recv(u, i);
	if (err) {
		u->slots[i].owner = NULL;
		u->slots[i].next = u->free_head;
		u->free_head = i;
		return err;
	}
	*slot = i;
	return 0;
}

int uio_del(struct uio *u, uint32_t slot)
{
	struct uio_slot *sl;
	struct io_uring_sqe *sqe;
	uint64_t ud;

	if (slot >= u->nslots || !u->slots[slot].owner)
		return EINVAL;
	sl = &u->slots[slot];
	ud = UD(T_RECV, slot, sl->gen);
	sl->owner = NULL;
	sl->fd = -1;
	sl->gen = (sl->gen + 1) & (uint32_t)UIO_GEN_MASK;
	/* A slot on the re-arm list stays there (skipped: no owner) until it is walked;
	 * it joins the free list then, so the list is never corrupted. */
	if (!sl->rearm) {
		sl->next = u->free_head;
		u->free_head = slot;
	}
	sqe = get_sqe(u);
	if (!sqe)
		return EBUSY;
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, UD(T_CANCEL, 0, 0));
	/* Now, and with the deferred completion work run, so the ring drops its
	 * reference before the caller closes the socket (the port can be bound again at
	 * once). */
	publish_bufs(u);
	io_uring_submit_and_get_events(&u->ring);
	return 0;
}

int uio_add_ctl(struct uio *u, int fd)
{
	u->ctl_fd = fd;
	return arm_ctl(u);
}

static void rearm_all(struct uio *u)
{
	uint32_t i = u->rearm_head;

	u->rearm_head = NONE;
	while (i != NONE) {
		struct uio_slot *sl = &u->slots[i];
		uint32_t next = sl->next;

		sl->rearm = false;
		if (sl->owner) {
			sl->next = NONE;
			if (arm_recv(u, i)) {   /* SQ exhausted: try on the next pass */
				sl->rearm = true;
				sl->next = u->rearm_head;
				u->rearm_head = i;
			}
		} else {
			sl->next = u->free_head;
			u->free_head = i;
		}
		i = next;
	}
	if (u->ctl_rearm && arm_ctl(u) == 0)
		u->ctl_rearm = false;
}

static bool harvest_one(struct uio *u, const struct io_uring_cqe *cqe, struct uio_event *ev)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	bool more = cqe->flags & IORING_CQE_F_MORE;

	ev->res = cqe->res;
	ev->bid = 0;
	switch (UD_TYPE(ud)) {
	case T_RECV: {
		uint32_t slot = UD_SLOT(ud), gen = UD_GEN(ud);

		ev->type = UIO_EV_RX;
		ev->slot = slot;
		ev->gen = gen;
		if (cqe->flags & IORING_CQE_F_BUFFER)
			ev->bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (!more && slot < u->nslots && u->slots[slot].owner &&
		    u->slots[slot].gen == gen && !u->slots[slot].rearm) {
			u->slots[slot].rearm = true;   /* ended (e.g. ENOBUFS): arm again */
			u->slots[slot].next = u->rearm_head;
			u->rearm_head = slot;
		}
		if (cqe->res < 0)
			return false;   /* no buffer, no datagram */
		if (!(cqe->flags & IORING_CQE_F_BUFFER))
			return false;
		return true;
	}
	case T_SEND: {
		struct uio_tx *tx = &u->tx[UD_SLOT(ud) % UIO_NBUF];

		ev->type = UIO_EV_SENT;
		ev->slot = tx->slot;
		ev->gen = tx->gen;
		uio_release(u, (uint16_t)(UD_SLOT(ud) % UIO_NBUF));
		return true;
	}
	case T_CTL:
		ev->type = UIO_EV_CTL;
		if (!more)
			u->ctl_rearm = true;
		return true;
	default:
		return false;   /* a cancellation's own completion */
	}
}

int uio_wait(struct uio *u, struct uio_event *evs, int max, int timeout_ms)
{
	struct io_uring_cqe *cqes[256];
	int n = 0, r;

	rearm_all(u);
	publish_bufs(u);
	if (timeout_ms == 0) {
		r = io_uring_submit_and_get_events(&u->ring);
	} else if (timeout_ms < 0) {
		r = io_uring_submit_and_wait(&u->ring, 1);
	} else {
		struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
					       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
		struct io_uring_cqe *cqe;

		r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	}
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
		return r;
	while (n < max) {
		unsigned want = (unsigned)(max - n) < 256 ? (unsigned)(max - n) : 256;
		unsigned got = io_uring_peek_batch_cqe(&u->ring, cqes, want);

		if (!got)
			break;
		for (unsigned i = 0; i < got; i++)
			if (harvest_one(u, cqes[i], &evs[n]))
				n++;
		io_uring_cq_advance(&u->ring, got);
	}
	return n;
}

void *uio_owner(const struct uio *u, const struct uio_event *ev)
{
	const struct uio_slot *sl;

	if (ev->slot >= u->nslots)
		return NULL;
	sl = &u->slots[ev->slot];
	return sl->gen == ev->gen ? sl->owner : NULL;
}

int uio_rx_view(struct uio *u, const struct uio_event *ev, struct uio_rx *rx)
{
	uint8_t *buf = buf_at(u, ev->bid);
	struct io_uring_recvmsg_out *o;

	o = io_uring_recvmsg_validate(buf, ev->res, &u->rx_tmpl);
	if (!o)
		return EINVAL;
	rx->data = io_uring_recvmsg_payload(o, &u->rx_tmpl);
	rx->len = o->payloadlen;
	rx->trunc = (o->flags & MSG_TRUNC) ||
		    o->payloadlen > io_uring_recvmsg_payload_length(o, ev->res, &u->rx_tmpl);
	rx->name = io_uring_recvmsg_name(o);
	rx->namelen = o->namelen > u->rx_tmpl.msg_namelen ? u->rx_tmpl.msg_namelen
							   : o->namelen;
	memset(&rx->ctl, 0, sizeof(rx->ctl));
	if (u->rx_tmpl.msg_controllen) {
		rx->ctl.msg_control = (uint8_t *)rx->name + u->rx_tmpl.msg_namelen;
		rx->ctl.msg_controllen = o->controllen;
	}
	return 0;
}

int uio_send(struct uio *u, uint32_t slot, int fd, uint16_t bid, const uint8_t *data,
	     size_t len, const struct sockaddr *dst, socklen_t dstlen)
{
	struct uio_tx *tx = &u->tx[bid % UIO_NBUF];
	struct io_uring_sqe *sqe;

	if (dstlen > sizeof(tx->dst) || slot >= u->nslots) {
		uio_release(u, bid);
		return EINVAL;
	}
	sqe = get_sqe(u);
	if (!sqe) {
		uio_release(u, bid);
		return EBUSY;
	}
	memcpy(&tx->dst, dst, dstlen);
	tx->mh.msg_namelen = dstlen;
	tx->iov.iov_base = (void *)(uintptr_t)data;
	tx->iov.iov_len = len;
	tx->slot = slot;
	tx->gen = u->slots[slot].gen;
	io_uring_prep_sendmsg(sqe, fd, &tx->mh, MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, UD(T_SEND, bid, 0));
	return 0;
}

void uio_flush(struct uio *u)
{
	if (io_uring_sq_ready(&u->ring)) {
		publish_bufs(u);
		io_uring_submit(&u->ring);
	}
}

int uio_start(struct uio *u)
{
	if (!u->disabled)
		return 0;
	u->disabled = false;
	/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
	if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
		    NULL, 0) < 0)
		return errno;
	return 0;
}
