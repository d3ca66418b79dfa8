/*
 * worker.c — one media worker thread (see worker.h).
 *
 * DESIGN
 * The thread loops on its own poller. Ready RTP/RTCP sockets are read with one
 * recvmmsg() of up to WORKER_BATCH datagrams into the worker's fixed buffers; each
 * packet is handed to the relay, which rewrites it in place, and the accepted ones go
 * out with one sendmmsg() on the other side's socket. Nothing is allocated per packet.
 *
 * One eventfd carries work from other threads: it announces sessions linked on the
 * control list, with the requests pending for each (add, update, close). An update
 * stores its parameters in the session (the latest replaces an older one not yet
 * taken: only the newest state matters), so no request can fail or be lost, however
 * many come at once. A round keeps every session's requests in the order they were
 * made: take the control list, add new sessions, apply updates, then close. Closing
 * removes the sockets from the poller, closes them, gives the ports back, emits
 * MEDIA_EV_CLOSED and frees the session, after this round's packets were handled, so
 * no ready event can point to a freed session.
 *
 * Inactivity timers are checked every WORKER_TICK_MS by a scan of the worker's
 * sessions (a few thousand comparisons a second at most).
 *
 * Bounded delay (cfg.max_delay_ms > 0): the engine's sockets have SO_TIMESTAMPNS on,
 * so each datagram comes with the kernel's arrival time in its batch slot's control
 * buffer (preallocated here, like the packet buffers). An RTP packet that waited
 * longer than the bound by the time its batch is handled (one clock read per batch)
 * is dropped and counted (rtp_dropped_late, per side and per worker) instead of
 * being forwarded: an overloaded worker sheds its backlog and catches up rather than
 * delivering audio seconds late. A transcoded session's packets are exempt: they feed
 * its jitter buffer, whose playout clock runs on the same (stalled) worker and skips
 * ahead instead of sending late. The arrival stamp is CLOCK_REALTIME: a clock step
 * can misjudge at most the packets already queued when it happens. The same stamp,
 * taken back onto the monotonic clock, is each packet's arrival: RTP's interarrival
 * jitter, and for RTCP a transcoded session terminates, the round trip from a report
 * and the DLSR of ours (rtcp_term.c), on both RTCP's own port and rtcp-mux, are
 * counted from it rather than from when the worker got to the packet. Without stamps
 * (the bound off) the time the worker reads the packet stands in.
 *
 * I/O paths (cfg.io): epoll (above: one wait, then one recvmmsg() and one sendmmsg()
 * per ready socket) or io_uring (uio.h: a multishot recvmsg per socket fed from the
 * worker's provided-buffer ring, so one io_uring_enter() harvests the packets of every
 * ready socket; replies are queued as sendmsg SQEs and submitted with the next wait;
 * the control eventfd is a multishot poll). Both hand each packet to relay_one(), so
 * the relay rules are the same. With io_uring, completions name generation-tagged
 * slots: the packets harvested with a control round are resolved to their session
 * after the round, and those of a session it closed are dropped (uio_owner() = NULL).
 */
#include "worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "feat.h"
#include "msrtp.h"
#include "log.h"
#include "kfwd_session.h"
#include "poller.h"
#include "uio.h"

#define WORKER_BATCH   32     /**< datagrams per recvmmsg()/sendmmsg() */
#define WORKER_PKT_MAX 2048   /**< buffer per datagram: received packets up to
				 *   WORKER_RX_MAX, room for an SRTP trailer after */
#define WORKER_RX_MAX  (WORKER_PKT_MAX - MSRTP_TRAILER)
_Static_assert(SESSION_RELAY_ROOM + MSRTP_TRAILER <= WORKER_PKT_MAX, "relay room");
#define WORKER_EVENTS  256    /**< ready descriptors per poller wait */
#define WORKER_TICK_MS 100    /**< timer scan period */
#define WORKER_CTL_ROUNDS 4   /**< control rounds before the sockets are served */
#define WORKER_CTL_LEN CMSG_SPACE(sizeof(struct timespec))  /**< one SCM_TIMESTAMPNS */

struct worker {
	struct media_engine   *me;
	unsigned               idx;
	pthread_t              thread;
	bool                   started;
	pthread_t              tid;        /**< owning thread (set by the thread itself) */
	const struct poller_ops *pops;
	struct poller         *poller;    /**< epoll path (NULL with io_uring) */
	struct uio            *uio;       /**< io_uring path (NULL with epoll) */
	bool                   ctl_pending; /**< io_uring: a control event not yet served */
	int                    ctl_efd;    /**< wakes the thread for the control list */
	atomic_bool            stop;
	bool                   draining;   /**< shutting down: updates are discarded */
	uint8_t                ctl_tag;    /**< its address marks the control eventfd */

	pthread_mutex_t        ctl_lock;   /**< guards ctl_head/ctl_tail and sessions' ctl_* */
	struct media_session  *ctl_head, *ctl_tail;

	/* Worker thread only. */
	struct media_session  *sessions;   /**< doubly linked through prev/next */
	uint64_t               next_tick_ms;
	struct media_session  *clocked;    /**< transcoding sessions, through clk_prev/next */
	uint64_t               next_clock_us; /**< earliest frame due, UINT64_MAX = none */

	/* Written by the worker (assigned also by the owner), read by anyone. */
	atomic_uint_fast64_t   assigned;   /**< sessions handed to it and not yet closed */
	atomic_uint_fast64_t   relayed;    /**< RTP packets sent */
	atomic_uint_fast64_t   dropped;    /**< packets rejected or failed to send */
	atomic_uint_fast64_t   late;       /**< of dropped: waited past max_delay_ms */
	int64_t                max_delay_ns; /**< 0 = no receive timestamps */

	/* I/O scratch, worker thread only. */
	struct poller_event      evs[WORKER_EVENTS];
	struct uio_event       uevs[WORKER_EVENTS];
	struct mmsghdr         rx[WORKER_BATCH];
	struct iovec           rx_iov[WORKER_BATCH];
	union media_sa         rx_addr[WORKER_BATCH];
	union {
		struct cmsghdr align;
		uint8_t        b[WORKER_CTL_LEN];
	}                      rx_ctl[WORKER_BATCH];   /**< arrival timestamps */
	struct mmsghdr         tx[WORKER_BATCH];
	struct iovec           tx_iov[WORKER_BATCH];
	uint8_t                buf[WORKER_BATCH][WORKER_PKT_MAX];
	struct session_txq     txq;        /**< a clock round's frames, sent after it */
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void count(atomic_uint_fast64_t *c, uint64_t n)
{
	/* Single writer: a relaxed load + store is enough and avoids a locked add. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static void emit(struct worker *w, struct media_session *s, enum media_event_type type)
{
	struct media_event ev = {.type = type, .cookie = s->cookie};

	if (!w->me->eh)
		return;
	session_stats(s, ev.stats);
	w->me->eh(&ev, w->me->arg);
}

/* ---- sessions joining and leaving ------------------------------------------------ */

static void session_add(struct worker *w, struct media_session *s)
{
	if (s->added)
		return;
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			struct session_fdh *fh = &s->side[i].fdh[k];
			int err = w->uio ? uio_add(w->uio, s->side[i].fd[k], fh, &fh->io_slot)
					 : w->pops->add(w->poller, s->side[i].fd[k], fh);

			if (err)
				log_msg(LOG_ERROR, "media.poller", "worker %u: add fd: %s", w->idx,
					strerror(err));
		}
	}
	s->added = true;
	s->prev = NULL;
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
}

/* Puts a session on the clock list while it transcodes, takes it off otherwise. */
static void clock_sync(struct worker *w, struct media_session *s)
{
	bool want = s->transcoding || feat_clocked(s->feat) || mdtmf_busy(s);

	if (want && !s->clocked) {
		s->clk_prev = NULL;
		s->clk_next = w->clocked;
		if (w->clocked)
			w->clocked->clk_prev = s;
		w->clocked = s;
		s->clocked = true;
		w->next_clock_us = 0;   /* recomputed by the next clock round */
	} else if (!want && s->clocked) {
		if (s->clk_prev)
			s->clk_prev->clk_next = s->clk_next;
		else
			w->clocked = s->clk_next;
		if (s->clk_next)
			s->clk_next->clk_prev = s->clk_prev;
		s->clocked = false;
	}
}

/* Closes sockets, returns ports, emits CLOSED (if asked) and frees the session. */
static void session_close(struct worker *w, struct media_session *s, bool events)
{
	struct media_engine *me = w->me;

	MEDIA_ASSERT_THREAD(w->tid);
	kfwd_session_stop_all(s);   /* its last counters, and no stale entry */
	mdtmf_close(s);   /* a digit in progress gets its end packets */
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			if (s->added && w->uio)
				(void)uio_del(w->uio, s->side[i].fdh[k].io_slot);
			else if (s->added)
				(void)w->pops->del(w->poller, s->side[i].fd[k]);
			close(s->side[i].fd[k]);
		}
		portpool_put(me->pool, s->side[i].port);
	}
	if (s->added) {
		if (s->prev)
			s->prev->next = s->next;
		else
			w->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
	}
	atomic_fetch_sub(&w->assigned, 1);
	atomic_fetch_sub(&me->sessions_active, 1);
	while (s->ctl_cmds) {   /* requests it never took */
		struct feat_cmd *c = s->ctl_cmds;

		s->ctl_cmds = c->next;
		feat_cmd_free(c);
	}
	feat_fini(s, events);   /* its last events come before CLOSED */
	if (events)
		emit(w, s, MEDIA_EV_CLOSED);
	s->transcoding = false;
	clock_sync(w, s);
	session_fini(s);
	free(s);
}

/* ---- requests from other threads ------------------------------------------------- */

/* Marks a request and links the session on the control list (ctl_lock held).
 * Returns true when the list was empty: the thread needs a wake-up. */
static bool ctl_link(struct worker *w, struct media_session *s, unsigned flag)
{
	bool wake = false;

	s->ctl_flags |= flag;
	if (!s->ctl_queued) {
		s->ctl_queued = true;
		s->ctl_next = NULL;
		wake = w->ctl_head == NULL;
		if (w->ctl_tail)
			w->ctl_tail->ctl_next = s;
		else
			w->ctl_head = s;
		w->ctl_tail = s;
	}
	return wake;
}

static void ctl_wake(struct worker *w)
{
	uint64_t one = 1;

	while (write(w->ctl_efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void ctl_push(struct worker *w, struct media_session *s, unsigned flag)
{
	bool wake;

	pthread_mutex_lock(&w->ctl_lock);
	wake = ctl_link(w, s, flag);
	pthread_mutex_unlock(&w->ctl_lock);
	if (wake)
		ctl_wake(w);
}

void worker_post_add(struct worker *w, struct media_session *s)
{
	atomic_fetch_add(&w->assigned, 1);
	ctl_push(w, s, WORKER_CTL_ADD);
}

void worker_post_close(struct worker *w, struct media_session *s)
{
	ctl_push(w, s, WORKER_CTL_CLOSE);
}

void worker_post_update(struct worker *w, struct media_session *s,
			const struct media_session_params *p)
{
	bool wake = false;

	pthread_mutex_lock(&w->ctl_lock);
	s->ctl_params = *p;
	wake = ctl_link(w, s, WORKER_CTL_UPDATE);
	pthread_mutex_unlock(&w->ctl_lock);
	if (wake)
		ctl_wake(w);
}

void worker_post_feat(struct worker *w, struct media_session *s, struct feat_cmd *c)
{
	struct feat_cmd **pp;
	bool wake;

	c->next = NULL;
	pthread_mutex_lock(&w->ctl_lock);
	for (pp = &s->ctl_cmds; *pp; pp = &(*pp)->next)
		;
	*pp = c;
	wake = ctl_link(w, s, WORKER_CTL_FEAT);
	pthread_mutex_unlock(&w->ctl_lock);
	if (wake)
		ctl_wake(w);
}

int worker_post_digit(struct worker *w, struct media_session *s, unsigned to, char digit,
		      unsigned duration_ms)
{
	bool wake = false;
	int err;

	pthread_mutex_lock(&w->ctl_lock);
	err = mdtmf_queue_push(&s->ctl_digits, to, digit, duration_ms);
	if (!err)
		wake = ctl_link(w, s, WORKER_CTL_DIGITS);
	pthread_mutex_unlock(&w->ctl_lock);
	if (wake)
		ctl_wake(w);
	return err;
}

/*
 * Serves the control list. The list is detached under the lock and re-chained through
 * the worker-owned work_* fields (an update's parameters copied into work_params), so
 * the owner may queue a new request for a session while this round still walks it.
 */
static void serve_control(struct worker *w)
{
	struct media_session *list = NULL, **tail = &list, *s, *next;
	uint64_t v;

	MEDIA_ASSERT_THREAD(w->tid);
	while (read(w->ctl_efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&w->ctl_lock);
	for (s = w->ctl_head; s; s = s->ctl_next) {
		s->work_flags = s->ctl_flags;
		if (s->ctl_flags & WORKER_CTL_UPDATE)
			s->work_params = s->ctl_params;
		s->work_cmds = s->ctl_cmds;
		s->ctl_cmds = NULL;
		if (s->ctl_flags & WORKER_CTL_DIGITS) {
			s->work_digits = s->ctl_digits;
			s->ctl_digits.n = 0;
		}
		s->ctl_flags = 0;
		s->ctl_queued = false;
		s->work_next = NULL;
		*tail = s;
		tail = &s->work_next;
	}
	w->ctl_head = w->ctl_tail = NULL;
	pthread_mutex_unlock(&w->ctl_lock);

	/* Adds, then updates (some may be for these sessions), then closes. */
	for (s = list; s; s = s->work_next)
		if (s->work_flags & WORKER_CTL_ADD)
			session_add(w, s);
	for (s = list; s; s = s->work_next) {
		/* anything asked of a session takes it back from the kernel first */
		if (s->work_flags & ~WORKER_CTL_ADD || s->work_cmds)
			kfwd_session_stop_all(s);
		if ((s->work_flags & WORKER_CTL_UPDATE) && !w->draining) {
			session_add(w, s);
			session_apply(s, &w->me->scfg, &s->work_params, now_us() / 1000u);
			clock_sync(w, s);
		}
		if (s->work_cmds) {
			struct feat_cmd *c = s->work_cmds;

			s->work_cmds = NULL;
			if (w->draining || (s->work_flags & WORKER_CTL_CLOSE)) {
				while (c) {   /* closing: dropped (recordings finish empty) */
					struct feat_cmd *cn = c->next;

					feat_cmd_free(c);
					c = cn;
				}
			} else {
				session_add(w, s);
				feat_apply(s, c, now_us());
				clock_sync(w, s);
				if (s->clocked)
					w->next_clock_us = 0;   /* a prompt may be due now */
			}
		}
		if (s->work_flags & WORKER_CTL_DIGITS) {
			mdtmf_take(s, &s->work_digits);
			clock_sync(w, s);   /* they go out even when no audio flows */
		}
	}
	for (s = list; s; s = next) {
		next = s->work_next;
		if (s->work_flags & WORKER_CTL_CLOSE)
			session_close(w, s, !w->draining);
	}
}

/* Every WORKER_TICK_MS: inactivity timers, and the counters published for the owner. */
static void run_timers(struct worker *w, uint64_t now_ms)
{
	if (!w->sessions || now_ms < w->next_tick_ms)
		return;
	w->next_tick_ms = now_ms + WORKER_TICK_MS;
	for (struct media_session *s = w->sessions; s; s = s->next) {
		if ((s->side[0].kf_on || s->side[1].kf_on) && now_ms >= s->pub_next_ms)
			kfwd_session_sync(s, now_ms);
		session_publish(s, now_ms);
		if (s->feat || s->dtmf)
			clock_sync(w, s);   /* a prompt or digits that ended leave the clock */
		feat_tick(s, now_ms * 1000u);
		mdtmf_tick(s, now_ms * 1000u);
		if ((s->side[0].kf_on || s->side[1].kf_on) && s->timer_armed)
			kfwd_session_timer(s, &w->me->scfg, now_ms);   /* kernel activity counts */
		if (session_timer(s, &w->me->scfg, now_ms))
			emit(w, s, MEDIA_EV_TIMEOUT);
	}
}

/* Sends the transcoded frames that are due, all encoded first and then sent back to
 * back (session_txq); notes when the next one is due. */
static void run_clock(struct worker *w, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	unsigned sent = 0;

	if (!w->clocked || now + 500 < w->next_clock_us)
		return;
	for (struct media_session *s = w->clocked; s; s = s->clk_next)
		sent += session_clock(s, now, &next, &w->txq);
	sent += session_txq_flush(&w->txq);
	w->next_clock_us = next;
	if (sent)
		count(&w->relayed, sent);
}

static int wait_ms(const struct worker *w, uint64_t now_us)
{
	uint64_t now_ms = now_us / 1000u;
	int t = -1;

	if (w->sessions)
		t = now_ms >= w->next_tick_ms ? 0 : (int)(w->next_tick_ms - now_ms);
	if (w->clocked && w->next_clock_us != UINT64_MAX) {   /* MAX: nothing due */
		int c = w->next_clock_us <= now_us ? 0
			: (int)((w->next_clock_us - now_us + 999) / 1000u);

		if (t < 0 || c < t)
			t = c;
	}
	return t;
}

/* ---- packets ---------------------------------------------------------------------- */

static void send_batch(struct worker *w, struct media_session *s, int fd, unsigned side,
		       unsigned kind, unsigned n)
{
	struct media_side_stats *st = &s->side[side].st;
	unsigned done = 0;

	while (done < n) {
		int r = sendmmsg(fd, w->tx + done, n - done, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			count(&w->dropped, 1);   /* this datagram failed; go on with the rest */
			done++;
			continue;
		}
		for (unsigned i = done; i < done + (unsigned)r; i++) {
			if (kind == SESSION_FD_RTP) {
				st->rtp_out++;
				st->bytes_out += w->tx[i].msg_len;
			} else {
				st->rtcp_out++;
			}
		}
		if (kind == SESSION_FD_RTP)
			count(&w->relayed, (uint64_t)r);
		done += (unsigned)r;
	}
}

/* How long the datagram in slot i has waited since the kernel received it (ns; 0
 * when it carries no timestamp, e.g. a truncated control buffer). */
static int64_t rx_age_ns(const struct msghdr *mh, int64_t now_ns)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return now_ns - ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
		}
	}
	return 0;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * One received datagram of side's socket of this kind: MSG_TRUNC, rtcp-mux demux, the
 * bounded delay (ctl: its control data, NULL when none), SRTP in, relay, SRTP out in
 * place (buf has WORKER_PKT_MAX bytes of room). Returns true when it is to be sent:
 * out says where, *len how many bytes, *kindp the kind it was handled as; *kf_try set
 * when the side may go to the kernel (kfwd_session_try()), which the caller does only
 * once what it relayed has left: a packet still queued here would otherwise leave
 * after a newer one the kernel forwarded.
 */
static bool relay_one(struct worker *w, struct media_session *s, unsigned side,
		      unsigned *kindp, bool trunc, uint8_t *buf, size_t *len,
		      const union media_sa *from, const struct msghdr *ctl, uint64_t t,
		      int64_t rt, struct relay_out *out, unsigned *drops, unsigned *late,
		      bool *kf_try)
{
	const struct session_cfg *cfg = &w->me->scfg;
	unsigned kind = *kindp;
	enum relay_verdict v;
	uint64_t arrival = t, arrival_wall = 0;   /* wall 0: unknown, RTCP reads the clock */

	if (trunc || *len > WORKER_RX_MAX) {
		s->side[side].st.rtp_dropped++;
		(*drops)++;
		return false;
	}
	/* RFC 5761: RTCP may share a multiplexed side's RTP port. */
	if (kind == SESSION_FD_RTP && s->side[side].rtcp_mux && session_is_rtcp(buf, *len))
		kind = SESSION_FD_RTCP;
	*kindp = kind;
	if (w->max_delay_ns && ctl) {
		int64_t age = rx_age_ns(ctl, rt);

		/* A transcoded packet goes into a jitter buffer played out by this
		 * worker's own clock, which was held up by the same stall: it is not
		 * late for that playout, and dropping it would only make the decoder
		 * conceal audio that is here. The buffer judges lateness itself and the
		 * clock skips ahead rather than send late; the backlog a stall leaves in
		 * the buffer is delay, which its discard rule takes out within seconds.
		 * RTCP is never late: it is not played. */
		if (kind == SESSION_FD_RTP && age > w->max_delay_ns && !s->transcoding) {
			s->side[side].st.rtp_dropped_late++;
			(*late)++;
			(*drops)++;
			return false;
		}
		/* The kernel's arrival time, on both clocks: RTP's interarrival jitter and
		 * a terminated RTCP report's round trip (and the DLSR we answer with) are
		 * what the network did, not when this worker got round to the packet. No
		 * stamp, or one from after a clock step back: the batch's own time. */
		if (age < 0 || (uint64_t)(age / 1000) >= t)
			age = 0;
		arrival = t - (uint64_t)(age / 1000);
		arrival_wall = (uint64_t)(rt - age) / 1000u;
	}
	if (!session_srtp_in(&s->side[side], kind == SESSION_FD_RTCP, buf, len)) {
		(*drops)++;
		return false;
	}
	if (kind == SESSION_FD_RTP) {
		union media_sa latch = s->side[side].peer_rtp;

		/* From the latched source: the program left it to us (another SSRC or
		 * payload type, a jump), decide from fresh state. From anywhere else (a
		 * stray or spoofed packet the relay drops unless the latched source went
		 * silent): the entry stays, or a sender of junk would take every call it
		 * hits back out of the kernel; its counters are folded in, so the relatch
		 * check sees when the latched source last sent. */
		if (s->side[side].kf_on) {
			if (sa_eq(from, &latch))
				kfwd_session_passed(s, side, t / 1000u);
			else
				kfwd_session_sync(s, t / 1000u);
		}
		v = relay_rtp(s, cfg, side, buf, *len, from, t, arrival, out);
		/* a new latch here: this side's entry is keyed by the old source, and the
		 * other direction's entry sends to it */
		if (!sa_eq(&latch, &s->side[side].peer_rtp)) {
			if (s->side[side].kf_on)
				kfwd_session_stop(s, side, t / 1000u);
			if (s->side[side ^ 1].kf_on)
				kfwd_session_stop(s, side ^ 1, t / 1000u);
		}
		if (s->dtmf && !s->clocked && mdtmf_busy(s))
			clock_sync(w, s);   /* a digit began: it needs the clock */
	} else {
		v = relay_rtcp(s, cfg, side, buf, *len, from, t, arrival, arrival_wall, out);
	}
	if (v == RELAY_DROP)
		(*drops)++;
	if (v != RELAY_SEND)
		return false;
	*len = out->len;
	if (!session_srtp_out(&s->side[out->side], kind == SESSION_FD_RTCP, buf, len,
			      WORKER_PKT_MAX)) {
		s->side[out->side].st.rtp_dropped++;
		(*drops)++;
		return false;
	}
	if (kind == SESSION_FD_RTP && w->me->kf)
		*kf_try = true;
	return true;
}

static void on_readable(struct worker *w, struct session_fdh *fh)
{
	struct media_session *s = fh->s;
	int fd = s->side[fh->side].fd[fh->kind];
	unsigned ntx = 0, out_side = 0, out_kind = 0, drops = 0, late = 0;
	int n, out_fd = -1;
	uint64_t t;
	int64_t rt = 0;
	bool kf_try = false;

	MEDIA_ASSERT_THREAD(w->tid);
	for (int i = 0; i < WORKER_BATCH; i++) {
		w->rx[i].msg_hdr.msg_namelen = sizeof(w->rx_addr[i]);
		w->rx[i].msg_hdr.msg_flags = 0;
		if (w->max_delay_ns)
			w->rx[i].msg_hdr.msg_controllen = sizeof(w->rx_ctl[i]);
	}
	n = recvmmsg(fd, w->rx, WORKER_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	t = now_us();
	if (w->max_delay_ns)
		rt = realtime_ns();
	for (int i = 0; i < n; i++) {
		struct relay_out out;
		size_t len = w->rx[i].msg_len;
		unsigned kind = fh->kind;

		if (!relay_one(w, s, fh->side, &kind, w->rx[i].msg_hdr.msg_flags & MSG_TRUNC,
			       w->buf[i], &len, &w->rx_addr[i],
			       w->max_delay_ns ? &w->rx[i].msg_hdr : NULL, t, rt, &out, &drops,
			       &late, &kf_try))
			continue;
		/* One sendmmsg() per socket and kind: flush when either changes. */
		if (ntx && (out.fd != out_fd || kind != out_kind)) {
			send_batch(w, s, out_fd, out_side, out_kind, ntx);
			ntx = 0;
		}
		w->tx_iov[ntx].iov_base = w->buf[i];
		w->tx_iov[ntx].iov_len = len;
		w->tx[ntx].msg_hdr.msg_name = (void *)(uintptr_t)out.dst;
		w->tx[ntx].msg_hdr.msg_namelen = sa_len(out.dst);
		w->tx[ntx].msg_hdr.msg_iov = &w->tx_iov[ntx];
		w->tx[ntx].msg_hdr.msg_iovlen = 1;
		out_fd = out.fd;
		out_side = out.side;
		out_kind = kind;
		ntx++;
	}
	if (drops)
		count(&w->dropped, drops);
	if (late)
		count(&w->late, late);
	if (ntx)
		send_batch(w, s, out_fd, out_side, out_kind, ntx);
	if (kf_try)   /* after the batch left: see relay_one() */
		kfwd_session_try(s, fh->side, t / 1000u);
}

/* ---- the io_uring path ------------------------------------------------------------ */

/* Counts a packet queued for sending on the socket of fh (done when it is queued, so a
 * session closed before the completion still has it). */
static void uring_queued(struct session_fdh *fh, size_t len)
{
	struct media_side_stats *st = &fh->s->side[fh->side].st;

	if (fh->kind == SESSION_FD_RTP) {
		st->rtp_out++;
		st->bytes_out += len;
	} else {
		st->rtcp_out++;
	}
}

/* A send failed on the socket of fh (NULL: its session closed since): taken back from
 * the counters it was added to when queued (its bytes stay counted). */
static void uring_send_failed(struct worker *w, struct session_fdh *fh)
{
	count(&w->dropped, 1);
	if (!fh)
		return;
	if (fh->kind == SESSION_FD_RTP) {
		fh->s->side[fh->side].st.rtp_out--;
		count(&w->relayed, UINT64_MAX);   /* minus one (single writer, wraps) */
	} else {
		fh->s->side[fh->side].st.rtcp_out--;
	}
}

/* The completions of one pass, in order (control rounds were served before). */
static void uring_packets(struct worker *w, int n)
{
	unsigned drops = 0, late = 0, sent = 0;
	bool direct = false;
	uint64_t t = now_us();
	int64_t rt = w->max_delay_ns ? realtime_ns() : 0;

	for (int i = 0; i < n; i++) {
		const struct uio_event *ev = &w->uevs[i];
		struct session_fdh *fh = uio_owner(w->uio, ev);
		struct media_session *s;
		struct relay_out out;
		struct uio_rx rx;
		unsigned kind;
		bool kf_try;

		if (ev->type == UIO_EV_SENT) {
			if (ev->res < 0)
				uring_send_failed(w, fh);
			continue;
		}
		if (ev->type != UIO_EV_RX)
			continue;
		if (!fh || uio_rx_view(w->uio, ev, &rx)) {   /* closed, or malformed */
			uio_release(w->uio, ev->bid);
			continue;
		}
		s = fh->s;
		kind = fh->kind;
		/* Sessions that may also send directly (transcoding, DTMF, prompts): what
		 * is queued leaves first, so their streams stay in order. */
		if (s->transcoding || s->clocked || s->feat || s->dtmf) {
			uio_flush(w->uio);
			direct = true;
		}
		kf_try = false;
		if (!relay_one(w, s, fh->side, &kind, rx.trunc, rx.data, &rx.len, rx.name,
			       w->max_delay_ns ? &rx.ctl : NULL, t, rt, &out, &drops, &late,
			       &kf_try)) {
			uio_release(w->uio, ev->bid);
			continue;
		}
		if (uio_send(w->uio, s->side[out.side].fdh[kind].io_slot, out.fd, ev->bid,
			     rx.data, rx.len, &out.dst->sa, sa_len(out.dst))) {
			drops++;
			continue;
		}
		if (kf_try) {   /* what is queued leaves first: see relay_one() */
			uio_flush(w->uio);
			kfwd_session_try(s, fh->side, t / 1000u);
		}
		uring_queued(&s->side[out.side].fdh[kind], rx.len);
		if (kind == SESSION_FD_RTP)
			sent++;
	}
	if (sent)
		count(&w->relayed, sent);
	if (drops)
		count(&w->dropped, drops);
	if (late)
		count(&w->late, late);
	/* The clock and the timers may send directly too (frames, digits): otherwise the
	 * sends go with the next wait, in the same io_uring_enter(). */
	if (direct || w->clocked || t / 1000u >= w->next_tick_ms)
		uio_flush(w->uio);
}

static bool uring_has_control(const struct worker *w, int from, int n)
{
	for (int i = from; i < n; i++)
		if (w->uevs[i].type == UIO_EV_CTL)
			return true;
	return false;
}

/* The loop of the io_uring path (see worker_main for the control ordering). */
static void uring_loop(struct worker *w)
{
	bool warned = false;

	while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
		int to = w->ctl_pending ? 0 : wait_ms(w, now_us());
		int n = uio_wait(w->uio, w->uevs, WORKER_EVENTS, to);
		bool ctl;

		if (n < 0) {
			if (!warned)
				log_msg(LOG_ERROR, "media.uring", "worker %u: wait: %s",
					w->idx, strerror(-n));
			warned = true;
			usleep(10000);
			continue;
		}
		ctl = w->ctl_pending || uring_has_control(w, 0, n);
		w->ctl_pending = false;
		for (unsigned r = 0; ctl && r < WORKER_CTL_ROUNDS; r++) {
			int m;

			serve_control(w);
			m = n < WORKER_EVENTS ? uio_wait(w->uio, w->uevs + n, WORKER_EVENTS - n, 0)
					      : 0;
			if (m < 0)
				m = 0;
			ctl = uring_has_control(w, n, n + m);
			n += m;
		}
		w->ctl_pending = ctl;   /* served first on the next pass */
		uring_packets(w, n);
		run_clock(w, now_us());
		run_timers(w, now_us() / 1000u);
	}
}

/* ---- the thread -------------------------------------------------------------------- */

static bool has_control(const struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		if (w->evs[i].ptr == &w->ctl_tag)
			return true;
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	bool warned = false;

	w->tid = pthread_self();
	snprintf(name, sizeof(name), "media-w%u", w->idx);
	pthread_setname_np(w->tid, name);
	if (w->uio) {
		int err = uio_start(w->uio);

		if (err)
			log_msg(LOG_ERROR, "media.uring", "worker %u: enable: %s", w->idx,
				strerror(err));
		uring_loop(w);
		return NULL;
	}
	while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
		int n = w->pops->wait(w->poller, w->evs, WORKER_EVENTS, wait_ms(w, now_us()));
		bool ctl = false;

		if (n < 0) {
			if (!warned)
				log_msg(LOG_ERROR, "media.poller", "worker %u: wait: %s",
					w->idx, strerror(-n));
			warned = true;
			usleep(10000);
			continue;
		}
		ctl = has_control(w, n);
		/*
		 * Requests first: a packet that arrives together with the update giving its
		 * destination is relayed, not dropped. The events of this round are stale
		 * after a control round (a close may have freed their session), so they are
		 * fetched again without waiting (the poller is level-triggered). A request
		 * made while the last round ran shows in that fetch, maybe beside the packet
		 * it is for, so it is served first too; after WORKER_CTL_ROUNDS rounds the
		 * sockets are served and further requests wait for the next pass: a stream
		 * of requests cannot starve the packets.
		 */
		for (unsigned r = 0; ctl && r < WORKER_CTL_ROUNDS; r++) {
			serve_control(w);
			n = w->pops->wait(w->poller, w->evs, WORKER_EVENTS, 0);
			ctl = has_control(w, n);
		}
		for (int i = 0; i < n; i++) {
			void *p = w->evs[i].ptr;

			if (p != &w->ctl_tag)
				on_readable(w, p);
		}
		run_clock(w, now_us());
		run_timers(w, now_us() / 1000u);
	}
	return NULL;
}

/* The I/O path cfg.io asks for; auto falls back to epoll when io_uring is refused. */
static int io_open(struct worker *w)
{
	enum media_io io = w->me->cfg.io;
	int err;

	if (io != MEDIA_IO_EPOLL) {
		err = uio_create(&w->uio, WORKER_PKT_MAX, sizeof(union media_sa),
				 w->max_delay_ns ? WORKER_CTL_LEN : 0);
		if (!err)
			err = uio_add_ctl(w->uio, w->ctl_efd);
		if (!err) {
			if (w->idx == 0)
				log_msg(LOG_INFO, "media.io", "workers use io_uring");
			return 0;
		}
		uio_destroy(w->uio);
		w->uio = NULL;
		if (io == MEDIA_IO_URING) {
			log_msg(LOG_ERROR, "media.io", "io_uring unavailable: %s", strerror(err));
			return err;
		}
		if (w->idx == 0)
			log_msg(LOG_INFO, "media.io", "io_uring unavailable (%s): workers use epoll",
				strerror(err));
	} else if (w->idx == 0) {
		log_msg(LOG_INFO, "media.io", "workers use epoll");
	}
	err = w->pops->create(&w->poller);
	if (!err)
		err = w->pops->add(w->poller, w->ctl_efd, &w->ctl_tag);
	return err;
}

int worker_create(struct worker **wp, struct media_engine *me, unsigned idx)
{
	struct worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return ENOMEM;
	w->me = me;
	w->idx = idx;
	w->tid = pthread_self();
	w->pops = &poller_epoll_ops;
	w->ctl_efd = -1;
	pthread_mutex_init(&w->ctl_lock, NULL);
	for (int i = 0; i < WORKER_BATCH; i++) {
		w->rx_iov[i].iov_base = w->buf[i];
		w->rx_iov[i].iov_len = WORKER_RX_MAX;
		w->rx[i].msg_hdr.msg_iov = &w->rx_iov[i];
		w->rx[i].msg_hdr.msg_iovlen = 1;
		w->rx[i].msg_hdr.msg_name = &w->rx_addr[i];
		if (me->cfg.max_delay_ms)
			w->rx[i].msg_hdr.msg_control = &w->rx_ctl[i];
	}
	w->max_delay_ns = (int64_t)me->cfg.max_delay_ms * 1000000;
	w->ctl_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->ctl_efd < 0) {
		err = errno;
		goto out;
	}
	err = io_open(w);
out:
	if (err) {
		worker_destroy(w);
		return err;
	}
	*wp = w;
	return 0;
}

int worker_start(struct worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);

	w->started = err == 0;
	return err;
}

void worker_destroy(struct worker *w)
{
	struct media_session *s;

	if (!w)
		return;
	if (w->started) {
		uint64_t one = 1;

		atomic_store_explicit(&w->stop, true, memory_order_release);
		while (write(w->ctl_efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_join(w->thread, NULL);
	}
	/* The thread is gone: its sessions now belong to the caller. */
	w->tid = pthread_self();
	w->draining = true;
	/* Pending adds join the list, pending updates are dropped, closes happen (all
	 * without events), then whatever is left is freed. */
	if (w->ctl_efd >= 0)
		serve_control(w);
	while ((s = w->sessions) != NULL)
		session_close(w, s, false);
	if (w->ctl_efd >= 0)
		close(w->ctl_efd);
	if (w->poller)
		w->pops->destroy(w->poller);
	uio_destroy(w->uio);
	pthread_mutex_destroy(&w->ctl_lock);
	free(w);
}

uint64_t worker_sessions(const struct worker *w)
{
	return atomic_load(&w->assigned);
}

void worker_packet_counters(const struct worker *w, uint64_t *relayed, uint64_t *dropped,
			    uint64_t *late)
{
	*late = atomic_load_explicit(&w->late, memory_order_relaxed);
	*relayed = atomic_load_explicit(&w->relayed, memory_order_relaxed);
	*dropped = atomic_load_explicit(&w->dropped, memory_order_relaxed);
}
