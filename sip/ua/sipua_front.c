/*
 * sipua_front.c — the guards in front of the stack, wired to its SIP sockets through
 * sip/guard's socket hooks (see guard_net.c for why hooks).
 *
 * Connections (TCP and TLS alike, in one table under the same caps): each accepted one
 * is asked about by source. A source the check drops is closed at once; beyond the
 * caps (in total, per source address) likewise. A source the check refuses may stay
 * until its first request has been answered (the 403) or until tcp_unknown_ms, then
 * we shut the socket down and the stack, reading the end of the stream, closes it;
 * unless it was a live dialog's peer when accepted (a proxy of a callee's trunk that
 * matches no source): that one stays while the peer has a dialog, then
 * tcp_unknown_ms more (a proxy keeps its connection for the dialog's next requests,
 * and one sent as we close it is lost: TCP requests are not resent). A
 * trunk's connection that carries no dialog is shut down after
 * tcp_idle_ms without data either way (the kernel's TCP_INFO tells). Any connection
 * whose message (framed by guard_frame) is not whole tcp_message_ms after the read
 * that began it is shut down too (msg_watch): trickled bytes keep it from being
 * idle, and the stack waits for a message's end for ever. Out of
 * descriptors, accept() drains the backlog with a spare descriptor: no spin, and one
 * summary line every REPORT_MS instead of a line per connection. A TLS connection's
 * bytes are records that OpenSSL reads itself: the socket hooks only count, time and
 * close it like a TCP one; its decrypted bytes come here from the stack's SSL_read()
 * (sipua_tls.c, sipua_front_sealed) and go through the same framing and checks as a
 * TCP read's, the front's answers written with SSL_write(). Only refused sources
 * that are hosts trunx calls or live dialogs' peers get that far (sipua_tls.c refuses
 * other strangers at their ClientHello).
 *
 * Requests: each UDP datagram and each message on a connection (framed by
 * guard_frame) takes a token from its source's bucket; without one it is dropped
 * before the stack parses it. Then, over UDP, OPTIONS from known sources, their
 * out-of-dialog requests of methods trunx does not serve there (known_to_front), and
 * out-of-dialog requests from refused ones are answered here without transaction
 * state (sipua_stateless.c); so are a refused source's requests on a TCP or TLS
 * connection, in or out of a dialog (refused_answered): a whole message in one read
 * at once, one split across reads once the front has held all of it (refused_hold,
 * held_bytes: at most HOLD_MAX, allocated when a message is split and freed with the
 * connection; larger, or not one the front can answer, closes the connection
 * unanswered), so none of a stranger's bytes reach the stack's parser. A live
 * dialog's peer's requests are judged the same way, whole or split (up to
 * DGRAM_MAX): one naming another dialog is refused as a stranger's (the dialog gate,
 * sipua_leg_gate), one naming its own dialog is the stack's. A split one of those is
 * handed to the stack whole at its end (out_give, c->out), before the bytes of the
 * read that followed it; the stack's read has room for it: over TCP the socket hooks
 * count the held bytes in FIONREAD and take that much less from the socket
 * (on_reserve), over TLS the stack reads again while SSL_pending() says bytes wait
 * (sipua_front_sealed_left).
 *
 * New INVITEs from known sources (over UDP, and over TCP or TLS when the whole
 * message is in one read) are put to the admission handler (max_calls, max_cps, then a number
 * the route step routes nowhere) here, once per transaction, unless the call layer
 * refuses them whatever their route (malformed: 400, 415, 406, answered without
 * transaction state, counted, no record; sipua_stateless.c): a refused one is
 * answered (503, 404) without transaction state and handed to
 * the event handler as SIPUA_EV_REFUSED (posted to the signalling thread's queue: it
 * makes the call record); an admitted one goes to the stack, and its INVITE event
 * carries `admitted` so it is not counted twice. A table of recent decisions
 * (guard_recent, SIPUA_RECENT_SLOTS of 24 bytes, each kept SIPUA_RECENT_TTL_MS; in
 * sipua_admit.c) recognises
 * retransmissions: a refused INVITE's is answered again with no second record,
 * an admitted one's goes to the stack (which absorbs it) uncounted. When the table
 * is full the oldest decisions are forgotten first (counted): a retransmission of a
 * forgotten refusal is refused and recorded again. The ACK of such an answer (our To tag;
 * over TCP or TLS when whole in one read) is absorbed and counted: the stack has no
 * transaction for it.
 *
 * Housekeeping on a 250 ms tick: planned and idle closures, the log's repeat
 * summaries, the guards' summary line, and memory given back to the system once a
 * flood is over (malloc_trim when much of the heap is free).
 */
#include "sipua_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"

#define TICK_MS           250
#define REPORT_MS         10000     /**< at most one summary line this often */
#define ANSWER_GRACE_MS   200       /**< after a refused source's request, time for the
				         stack to send its answer before we close */
#define TRIM_EVERY_MS     10000
#define TRIM_FREE_MIN     (16u << 20)  /**< free heap above which it is given back */
#define DGRAM_MAX         65536
#define HOLD_MAX          8192      /**< a refused source's request split across reads
				         is held up to this size (refused_hold) */
#define REPLY_MAX         8192
#define MALFORMED_ACK_MS  32000     /**< 64*T1: a refused INVITE's ACK may come this late */
#define RATE_SOURCES      8192

static uint64_t now_ms(void)
{
	return sipua_now_ms();
}

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static enum sipua_verdict classify(struct sipua *ua, const struct sockaddr *src, bool connection)
{
	return ua->src_class ? ua->src_class(src, connection, ua->arg) : SIPUA_ACCEPT;
}

static socklen_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

bool sipua_same_endpoint(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

bool sipua_bound_endpoint(const struct sockaddr *sock, const struct sockaddr *want)
{
	if (sipua_same_endpoint(sock, want))
		return true;
	if (sock->sa_family != want->sa_family)
		return false;
	/* A wildcard listen address: the stack binds each of the host's addresses of
	 * that family on the port, not the wildcard itself. */
	if (want->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)sock, *y = (const void *)want;

		return y->sin_addr.s_addr == htonl(INADDR_ANY) && x->sin_port == y->sin_port;
	}
	if (want->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)sock, *y = (const void *)want;

		return IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr) && x->sin6_port == y->sin6_port;
	}
	return false;
}

bool sipua_leg_from(const struct sipua *ua, const struct sockaddr *peer)
{
	for (const struct sipua_leg *l = ua->legs; l; l = l->next)
		if (l->inbound && (l->transport == SIPUA_TP_TCP || l->transport == SIPUA_TP_TLS) &&
		    sipua_same_endpoint((const struct sockaddr *)&l->src, peer))
			return true;
	return false;
}

/*
 * The stateless answer to one request from src (a datagram, or a whole message of a
 * stream), written to f->reply: what to do with it (sipua_stateless()); *d says how
 * a refusal was decided.
 */
static bool front_gate(void *arg, const char *call_id, const struct sockaddr *src)
{
	return sipua_leg_gate(arg, call_id, src);
}

static bool front_call_live(void *arg, const char *call_id)
{
	return sipua_leg_call_id_live(arg, call_id);
}

static enum sipua_sl_action front_stateless(struct sipua *ua, enum sipua_verdict v,
					    const char *data, size_t len,
					    const struct sockaddr *src, enum sipua_transport tp,
					    int *statusp, size_t *np, struct sipua_admit_ctx *d)
{
	struct sipua_front *f = &ua->front;
	struct sipua_sl_ctx sl = {0};
	bool gated = false;
	enum sipua_sl_action act;

	d->ua = ua;
	d->src = src;
	d->tp = tp;
	d->aux = 0;
	d->refused = false;
	sl.verdict = v;
	sl.dialog_peer = v != SIPUA_ACCEPT && sipua_peers_has(ua->peers, src);
	sl.gate = front_gate;
	sl.gate_arg = ua;
	sl.gated_out = &gated;
	sl.call_live = front_call_live;
	sl.call_live_arg = ua;
	sl.user_agent = ua->cfg.user_agent[0] ? ua->cfg.user_agent : "trunx";
	sl.contact = sipua_contact_for(ua, tp);
	sl.secret = f->secret;
	sl.tpm = sipua_tpm(ua);
	sl.decide = v == SIPUA_ACCEPT && ua->admit && f->recent ? sipua_admit_decide : NULL;
	sl.decide_arg = d;
	sl.refusal = f->refusal;
	act = sipua_stateless(&sl, data, len, src, f->reply, REPLY_MAX, np, statusp);
	d->gated = gated;
	return act;
}

/* ---- connections ---- */

bool sipua_tls_welcome(struct sipua *ua, const struct sockaddr *peer)
{
	if (!ua->src_class || classify(ua, peer, true) == SIPUA_ACCEPT)
		return true;
	return sipua_peers_has(ua->peers, peer) || (ua->known && ua->known(peer, ua->known_arg));
}

static bool on_accepted(void *arg, int lfd, int fd, const struct sockaddr *peer)
{
	struct sipua *ua = arg;
	struct sipua_front *f = &ua->front;
	enum sipua_verdict v = classify(ua, peer, true);
	struct guard_conn *c;
	int err;

	if (v == SIPUA_DROP) {
		count(&f->c_refused_unknown);
		return false;
	}
	err = guard_conns_add(f->conns, fd, peer, v == SIPUA_ACCEPT, now_ms(), &c);
	if (err) {
		count(&f->c_refused_limit);
		return false;
	}
	c->dialog_peer = v != SIPUA_ACCEPT && sipua_peers_has(ua->peers, peer);
	if (v != SIPUA_ACCEPT && !c->dialog_peer && f->cfg.tcp_unknown_ms)
		c->close_at_ms = c->since_ms + f->cfg.tcp_unknown_ms;
	if (guard_net_watch(fd, lfd == f->tls_lfd ? GUARD_SEALED : GUARD_STREAM) != 0) {
		guard_conns_remove(f->conns, fd);
		count(&f->c_refused_limit);
		return false;
	}
	count(&f->c_accepted);
	atomic_store(&f->c_open, guard_conns_count(f->conns));
	return true;
}

static void on_exhausted(void *arg, unsigned dropped)
{
	struct sipua *ua = arg;

	atomic_fetch_add(&ua->front.c_refused_fd, dropped ? dropped : 1);
}

static void on_closed(void *arg, int fd)
{
	struct sipua *ua = arg;

	guard_conns_remove(ua->front.conns, fd);
	atomic_store(&ua->front.c_open, guard_conns_count(ua->front.conns));
}

/* May a known source's ACK be that of a stateless refusal of ours: one the admission
 * keeps in its table, or the call layer's refusal of a malformed INVITE in the last
 * 64*T1 (an ACK may come that late)? */
static bool refusals_open(struct sipua *ua, uint64_t now)
{
	struct sipua_front *f = &ua->front;
	uint64_t last = atomic_load_explicit(&f->malformed_ms, memory_order_relaxed);

	return f->recent && ua->admit &&
	       (guard_recent_count(f->recent, GUARD_RECENT_REFUSED) ||
		(last && now - last < MALFORMED_ACK_MS));
}

/* A known source's stateless answer was sent: counted by kind (an OPTIONS' 200, a
 * new INVITE's refusal by the call layer's check, or the answer to a method trunx
 * does not serve out of a dialog). */
static void count_known_answer(struct sipua_front *f, int status, bool invite, uint64_t now)
{
	if (status == 200) {
		count(&f->c_ok);
	} else if (invite) {
		count(&f->c_malformed);
		atomic_store_explicit(&f->malformed_ms, now, memory_order_relaxed);
	} else {
		count(&f->c_unserved);
	}
}

/* Does a known source's datagram go through the front (sipua_stateless.c)? OPTIONS,
 * new INVITEs while the admission is in front, ACKs while refusals of ours may be
 * acknowledged, and every other method but BYE, CANCEL and PRACK: out of a dialog
 * those of a method trunx does not serve there are answered in front, in one the
 * stack has them. */
static bool known_to_front(struct sipua *ua, const char *m, size_t n)
{
#define STARTS(tok) (n >= sizeof(tok) - 1 && memcmp(m, tok, sizeof(tok) - 1) == 0)
	if (STARTS("OPTIONS "))
		return true;
	if (STARTS("INVITE "))
		return ua->front.recent != NULL;
	if (STARTS("ACK "))
		return refusals_open(ua, now_ms());
	return !STARTS("BYE ") && !STARTS("CANCEL ") && !STARTS("PRACK ");
#undef STARTS
}

/*
 * Is msg[0..len) (a whole ACK from a trunk's connection; len 0 when it is not all at
 * hand) the ACK of a refusal the front sent (its To tag is our keyed hash of the
 * transaction)? It acknowledges no transaction of the stack's (RFC 3261 17.2.1 and
 * 8.2.7: the ACK of a non-2xx answered statelessly creates none), so it is absorbed
 * here, as over UDP. Only parsed while refusals are remembered: otherwise no answer of
 * ours awaits an ACK, and a trunk's ACKs go to the stack as they are.
 */
static bool ack_of_refusal(struct sipua *ua, const char *msg, size_t len,
			   const struct sockaddr *peer, enum sipua_transport tp)
{
	struct sipua_admit_ctx d;
	size_t n = 0;
	int status = 0;

	if (!len || len > DGRAM_MAX || !refusals_open(ua, now_ms()))
		return false;
	return front_stateless(ua, SIPUA_ACCEPT, msg, len, peer, tp, &status, &n, &d) ==
	       SIPUA_SL_SWALLOW;
}

/* One read of a connection, as the framer's callbacks see it. */
struct admit_ctx {
	struct sipua        *ua;
	struct guard_conn   *c;
	uint64_t             now;
	sipua_front_write_h *write;   /**< how the front's answers are written */
	void                *warg;
	enum sipua_transport tp;      /**< SIPUA_TP_TCP or SIPUA_TP_TLS */
};

/* TCP: the front's answer goes straight to the socket. */
static bool stream_write(void *warg, const void *buf, size_t n)
{
	const struct guard_conn *c = warg;

	return send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n;
}

/* Writes an answer of the front's; a peer that does not read its answers (or a TLS
 * connection with the stack's own write pending) loses the connection rather than get
 * half of one. */
static void front_answer(struct admit_ctx *a, const char *buf, size_t n)
{
	if (!a->write(a->warg, buf, n)) {
		shutdown(a->c->fd, SHUT_RDWR);
		a->c->closing = true;
	}
}

/*
 * A whole request (len > 0) on the connection of a source the check refuses, answered
 * here as over UDP (sipua_stateless.c): 403 naming nothing (no Allow, no Supported),
 * in or out of a dialog it claims, unless the source is a live dialog's peer and the
 * request names a dialog (the stack's, behind the dialog gate). The stack would
 * answer some of these itself with its own lists: a BYE, UPDATE or PRACK cut loose
 * from a dialog gets its 481 with every method it knows. True when the message was
 * answered (or absorbed) and must not reach the stack.
 */
static bool refused_answered(struct admit_ctx *a, const char *msg, size_t len)
{
	struct sipua *ua = a->ua;
	struct guard_conn *c = a->c;
	struct sipua_front *f = &ua->front;
	const struct sockaddr *peer = (const struct sockaddr *)&c->peer;
	struct sipua_admit_ctx d;
	enum sipua_verdict v;
	size_t n = 0;
	int status = 0;

	if (!len || len > DGRAM_MAX)
		return false;
	v = classify(ua, peer, false);
	if (v == SIPUA_ACCEPT)
		return false;
	switch (front_stateless(ua, v, msg, len, peer, a->tp, &status, &n, &d)) {
	case SIPUA_SL_REPLY:
		front_answer(a, f->reply, n);
		if (!d.gated)
			count(&f->c_rejected);
		return true;
	case SIPUA_SL_SWALLOW:
		if (!d.gated)
			count(&f->c_dropped);
		return true;
	default:
		return false;
	}
}

/* The stack answers a refused source's request (or the front did: refused), then we
 * close; not a live dialog's peer's connection after a request into its own dialog
 * (the stack's), as the next in-dialog request may use it: one sent as we close it is
 * lost (over TCP no one resends it). */
static void close_after_answer(struct guard_conn *c, uint64_t now, bool refused)
{
	uint64_t at = now + ANSWER_GRACE_MS;

	if (c->dialog_peer && !refused)
		return;
	if (!c->close_at_ms || c->close_at_ms > at)
		c->close_at_ms = at;
}

/*
 * A request from a refused source whose bytes are not all in this read (msg[0..avail)
 * from its start): the front keeps it (held_bytes) rather than let the stack parse
 * any of it, unless the front cannot answer (no source check, stopping). A live
 * dialog's peer's is kept too (c->hold_peer), judged whole, and handed to the stack
 * whole when it is the stack's (into the peer's own dialog): see out_give.
 */
static bool refused_hold(struct admit_ctx *a, const char *msg, size_t avail)
{
	struct sipua *ua = a->ua;

	if (!ua->src_class || ua->stopping || guard_frame_length(msg, avail))
		return false;
	a->c->hold_peer = sipua_peers_has(ua->peers, (const struct sockaddr *)&a->c->peer);
	return true;
}

/* A refused source's connection we end now: it sent what we will not answer. */
static void refused_close(struct sipua_front *f, struct guard_conn *c)
{
	if (!c->closing) {
		shutdown(c->fd, SHUT_RDWR);
		c->closing = true;
		count(&f->c_closed_unknown);
	}
	count(&f->c_dropped);
}

/*
 * The bytes of a message the framer drops (guard_frame_hold_h). While a refused
 * source's split request is being held, they are gathered in c->held (allocated at
 * its first byte: HOLD_MAX, or DGRAM_MAX for a dialog peer's; freed with the
 * connection) and the whole request is then answered as one that came in one read
 * (refused_answered): the stack sees none of it. A request larger than that, or one
 * the front would leave to the stack (one it cannot answer statelessly: a Via, From,
 * To, Call-ID or CSeq it cannot use ...), has its connection closed unanswered; one never
 * finished, tcp_unknown_ms after the accept. A dialog peer's that the front leaves to
 * the stack (one into its own dialog, a response ...) moves to c->out, for the reader
 * to hand over whole (sipua_front_sealed).
 */
static void held_bytes(const char *p, size_t n, bool end, void *arg)
{
	struct admit_ctx *a = arg;
	struct guard_conn *c = a->c;
	struct sipua_front *f = &a->ua->front;
	size_t cap = c->hold_peer ? DGRAM_MAX : HOLD_MAX;
	char *all;

	if (!c->holding)
		return;   /* a message dropped whole (rate limit, ACK) */
	if (n > cap - c->held_len || (!c->held && !(c->held = malloc(cap)))) {
		/* (its buffer goes too: one of another size may be needed next) */
		free(c->held);
		c->held = NULL;
		c->held_len = 0;
		c->holding = false;
		refused_close(f, c);
		return;
	}
	memcpy(c->held + c->held_len, p, n);
	c->held_len += (uint32_t)n;
	if (!end)
		return;
	c->holding = false;
	if (c->closing)
		return;
	if (refused_answered(a, c->held, c->held_len)) {
		close_after_answer(c, a->now, true);
	} else if (c->hold_peer && !c->out) {
		/* The stack's: handed over whole by the reader, before what follows. */
		c->out = c->held;
		c->out_len = c->held_len;
		c->out_off = 0;
		c->held = NULL;
		close_after_answer(c, a->now, false);
		return;
	} else if (c->hold_peer && c->held_len <= UINT32_MAX - c->out_len &&
		   (all = realloc(c->out, c->out_len + c->held_len))) {
		/* After what the stack has yet to read of an earlier one. */
		memcpy(all + c->out_len, c->held, c->held_len);
		c->out = all;
		c->out_len += c->held_len;
		close_after_answer(c, a->now, false);
	} else {
		refused_close(f, c);
	}
	/* Most connections never hold anything; one that did is closed soon. */
	free(c->held);
	c->held = NULL;
}

static bool admit_message(enum guard_msg kind, const char *msg, size_t avail, void *arg)
{
	struct admit_ctx *a = arg;
	struct sipua_front *f = &a->ua->front;

	if (kind == GUARD_MSG_ACK) {
		/* Not rate-limited (one dropped costs a call), but from a source that is
		 * neither a trunk nor a live dialog's peer it acknowledges nothing of ours. */
		if (!a->c->known && !sipua_peers_has(a->ua->peers,
						     (const struct sockaddr *)&a->c->peer)) {
			count(&f->c_dropped);
			return false;
		}
		if (a->c->known && ack_of_refusal(a->ua, msg, guard_frame_length(msg, avail),
						  (const struct sockaddr *)&a->c->peer, a->tp)) {
			count(&f->c_acks);
			return false;
		}
		return true;
	}
	if (kind == GUARD_MSG_UNSURE) {
		/* A response or not: kept as a response was, unless a refused source's
		 * (then it is held like any request of its split across reads, and a
		 * response it turns out to be closes the connection). */
		if (a->c->known || !refused_hold(a, msg, avail))
			return true;
	}
	if (!a->c->known && refused_hold(a, msg, avail)) {
		/* Not all here yet: kept by the front until it is (held_bytes). */
		if (!guard_rate_take(f->rate, (const struct sockaddr *)&a->c->peer, a->now)) {
			count(&f->c_rate_limited);
			return false;
		}
		a->c->holding = true;
		a->c->held_len = 0;
		return false;
	}
	if (!a->c->known)
		close_after_answer(a->c, a->now, false);
	if (!guard_rate_take(f->rate, (const struct sockaddr *)&a->c->peer, a->now)) {
		count(&f->c_rate_limited);
		return false;
	}
	if (!a->c->known && a->ua->src_class && !a->ua->stopping &&
	    refused_answered(a, msg, guard_frame_length(msg, avail))) {
		close_after_answer(a->c, a->now, true);
		return false;
	}
	if (a->c->known && a->ua->admit && !a->ua->stopping && avail >= 7 &&
	    memcmp(msg, "INVITE ", 7) == 0) {
		/* A new INVITE whose every byte is at hand: the admission may refuse it here
		 * (a message split across reads goes to the stack, which asks the call
		 * layer as before). */
		size_t len = guard_frame_length(msg, avail), n = 0;
		const struct sockaddr *peer = (const struct sockaddr *)&a->c->peer;
		struct sipua_admit_ctx d;
		int status = 0;

		if (len && len <= DGRAM_MAX &&
		    front_stateless(a->ua, SIPUA_ACCEPT, msg, len, peer, a->tp, &status,
				    &n, &d) == SIPUA_SL_REPLY && status != 200) {
			/* The admission's refusal, or the call layer's of a malformed one. */
			front_answer(a, f->reply, n);
			if (d.refused)
				sipua_admit_refused(a->ua, peer, a->tp, d.aux);
			else
				count_known_answer(f, status, true, a->now);
			return false;
		}
	}
	return true;
}

static size_t out_give(struct sipua_front *f, struct guard_conn *c, struct iovec *iov,
		       size_t iovcnt, size_t kept);

/*
 * After a read of connection c: when did the message it is inside (if any) begin?
 * The read that began it, whether whole messages came before it in that read or not
 * (frame.messages tells a new one from the same one). The sweep closes a connection
 * whose message is not whole tcp_message_ms after that: a peer that trickles a
 * message byte by byte keeps its connection busy, never idle, and the stack waits for
 * the end of a message without a limit of its own.
 */
static void msg_watch(struct sipua *ua, struct guard_conn *c, uint64_t now)
{
	/* A message over max_message: this read still goes to the stack (which may
	 * answer 413 from the header), nothing after it; the sweep shuts the connection.
	 * The stack parses a header again as each read adds to it, so megabytes of header
	 * would hold the signalling thread for seconds. */
	if (guard_frame_oversize(&c->frame, ua->front.cfg.max_message))
		c->oversize = true;
	if (!guard_frame_within(&c->frame)) {
		c->msg_since_ms = 0;
	} else if (!c->msg_since_ms || c->msg_nth != c->frame.messages) {
		c->msg_since_ms = now;
		c->msg_nth = c->frame.messages;
	}
}

static void conn_shutdown(struct guard_conn *c);

/* A read after the one that began a message over max_message: dropped, and the
 * connection shut down (the stack reads the end of the stream and closes it). */
static size_t oversize_drop(struct sipua *ua, struct guard_conn *c)
{
	if (!c->closing) {
		conn_shutdown(c);
		count(&ua->front.c_closed_incomplete);
	}
	return 0;
}

static size_t on_stream(void *arg, int fd, struct iovec *iov, size_t iovcnt, size_t len,
			bool may_drop)
{
	struct sipua *ua = arg;
	struct admit_ctx a = {ua, guard_conns_get(ua->front.conns, fd), now_ms(), stream_write,
			      NULL, SIPUA_TP_TCP};
	size_t kept;

	if (!a.c)
		return len;
	if (a.c->oversize)
		return oversize_drop(ua, a.c);
	a.warg = a.c;
	kept = guard_frame_filter_hold(&a.c->frame, iov, iovcnt, len,
				       may_drop ? admit_message : NULL, held_bytes, &a);
	msg_watch(ua, a.c, a.now);
	if (!a.c->out || !may_drop)
		return kept;
	return out_give(&ua->front, a.c, iov, iovcnt, kept);
}

/* What a connection's next read may carry besides the socket's bytes: a dialog peer's
 * request being held (it may be let through whole at its end) or let through already. */
static size_t on_reserve(void *arg, int fd)
{
	struct sipua *ua = arg;
	const struct guard_conn *c = ua->front.conns ? guard_conns_get(ua->front.conns, fd) : NULL;

	if (!c)
		return 0;
	return (c->holding && c->hold_peer ? c->held_len : 0) +
	       (c->out ? c->out_len - c->out_off : 0);
}

static struct guard_conn *sealed_conn(struct sipua *ua, int fd)
{
	if (!ua->front.attached || !ua->front.conns || guard_net_kind(fd) != GUARD_SEALED)
		return NULL;
	return guard_conns_get(ua->front.conns, fd);
}

static void out_drop(struct guard_conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* Hands what c->out holds to the reader's iov[0..iovcnt) (as much as fits): how many. */
static size_t out_take(struct guard_conn *c, struct iovec *iov, size_t iovcnt)
{
	size_t given = 0;

	for (size_t i = 0; i < iovcnt && c->out_off < c->out_len; i++) {
		size_t k = c->out_len - c->out_off;

		if (k > iov[i].iov_len)
			k = iov[i].iov_len;
		memcpy(iov[i].iov_base, c->out + c->out_off, k);
		c->out_off += (uint32_t)k;
		given += k;
	}
	if (c->out_off == c->out_len)
		out_drop(c);
	return given;
}

/*
 * After a read that let a held message of a dialog peer's through (c->out): that
 * message came before every byte kept of the read (its end began the read), so the
 * reader gets it first, then them (kept, at the start of iov). The reader's buffer has
 * room for both (guard_net_ops.reserve: the stack's read was sized for it and took
 * that much less from the socket); what does not fit waits in c->out for the next read.
 */
static size_t out_give(struct sipua_front *f, struct guard_conn *c, struct iovec *iov,
		       size_t iovcnt, size_t kept)
{
	char *all;
	size_t off = 0;

	if (kept > UINT32_MAX - c->out_len ||
	    !(all = kept ? realloc(c->out, c->out_len + kept) : c->out)) {
		out_drop(c);
		refused_close(f, c);
		return 0;
	}
	c->out = all;
	for (size_t i = 0; i < iovcnt && off < kept; i++) {
		size_t k = kept - off < iov[i].iov_len ? kept - off : iov[i].iov_len;

		memcpy(all + c->out_len + off, iov[i].iov_base, k);
		off += k;
	}
	c->out_len += (uint32_t)kept;
	return out_take(c, iov, iovcnt);
}

size_t sipua_front_sealed(struct sipua *ua, int fd, char *buf, size_t n, size_t cap,
			  sipua_front_write_h *write, void *warg)
{
	struct admit_ctx a = {ua, NULL, now_ms(), write, warg, SIPUA_TP_TLS};
	struct iovec iov = {.iov_base = buf, .iov_len = n};
	size_t kept;

	if (!(a.c = sealed_conn(ua, fd)))
		return n;
	if (a.c->oversize)
		return oversize_drop(ua, a.c);
	kept = guard_frame_filter_hold(&a.c->frame, &iov, 1, n, admit_message, held_bytes, &a);
	msg_watch(ua, a.c, a.now);
	if (!a.c->out)
		return kept;
	iov.iov_len = cap;
	return out_give(&ua->front, a.c, &iov, 1, kept);
}

size_t sipua_front_sealed_take(struct sipua *ua, int fd, char *buf, size_t cap)
{
	struct guard_conn *c = sealed_conn(ua, fd);

	struct iovec iov = {.iov_base = buf, .iov_len = cap};

	return c && c->out ? out_take(c, &iov, 1) : 0;
}

size_t sipua_front_sealed_left(struct sipua *ua, int fd)
{
	struct guard_conn *c = sealed_conn(ua, fd);

	return c && c->out ? c->out_len - c->out_off : 0;
}

/* ---- datagrams ---- */

/* Can c begin a SIP message: a method (a token, RFC 3261 25.1) or "SIP/"? */
static bool token_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("-.!%*_+`'~", c) != NULL);
}

static bool on_datagram(void *arg, int fd, const struct sockaddr *src, const struct iovec *iov,
			size_t iovcnt, size_t len)
{
	struct sipua *ua = arg;
	struct sipua_front *f = &ua->front;
	struct sipua_admit_ctx d;
	const char *data = iov[0].iov_base;
	enum sipua_verdict v;
	size_t i = 0, n = 0;
	int status = 0;

	if (len > DGRAM_MAX)
		return true;
	if (iovcnt > 1 && iov[0].iov_len < len) {
		for (size_t k = 0, off = 0; k < iovcnt && off < len; k++) {
			size_t c = iov[k].iov_len < len - off ? iov[k].iov_len : len - off;

			memcpy(f->scratch + off, iov[k].iov_base, c);
			off += c;
		}
		data = f->scratch;
	}
	while (i < len && (data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < len && !token_start(data[i])) {
		/* Not SIP: the stack would answer a STUN-shaped datagram (first byte 0
		 * or 1) with an error of its own to whatever address it claims, and tries
		 * SigComp on others; trunx uses neither. */
		count(&f->c_not_sip);
		return false;
	}
	if (len - i < 4 || memcmp(data + i, "SIP/", 4) == 0)
		return true;   /* keepalives and responses */
	/* ACKs pass the rate limit: no answer, no state, and one dropped costs a call. */
	if ((len - i < 4 || memcmp(data + i, "ACK ", 4) != 0) &&
	    !guard_rate_take(f->rate, src, now_ms())) {
		count(&f->c_rate_limited);
		return false;
	}
	if (!ua->src_class)
		return true;   /* no address-only check: every request goes to the stack */
	v = classify(ua, src, false);
	/* From a known source: OPTIONS, new INVITEs (the admission), methods trunx does
	 * not serve out of a dialog, and while refusals of ours may be acknowledged, ACKs
	 * (those of our refusals have our To tag). */
	if ((v == SIPUA_ACCEPT && !known_to_front(ua, data + i, len - i)) || ua->stopping)
		return true;
	if (v != SIPUA_ACCEPT && !sipua_peers_has(ua->peers, src) && len - i >= 4 &&
	    memcmp(data + i, "ACK ", 4) == 0) {
		/* No dialog of ours has this sender: whatever it acknowledges (our
		 * stateless 403, or nothing) is not the stack's business. */
		count(&f->c_dropped);
		return false;
	}
	switch (front_stateless(ua, v, data, len, src, SIPUA_TP_UDP, &status, &n, &d)) {
	case SIPUA_SL_REPLY:
		sendto(fd, f->reply, n, MSG_DONTWAIT | MSG_NOSIGNAL, src, sa_len(src));
		if (d.refused)
			sipua_admit_refused(ua, src, SIPUA_TP_UDP, d.aux);
		else if (v == SIPUA_ACCEPT)
			count_known_answer(f, status, memcmp(data + i, "INVITE ", 7) == 0,
					   now_ms());
		else if (!d.gated)
			count(&f->c_rejected);
		return false;
	case SIPUA_SL_SWALLOW:
		/* Dropped source, or the ACK of a stateless answer of ours. */
		count(v == SIPUA_DROP ? &f->c_dropped : &f->c_acks);
		return false;
	default:
		return true;
	}
}

static const struct guard_net_ops front_ops = {
	.accepted = on_accepted,
	.exhausted = on_exhausted,
	.datagram = on_datagram,
	.stream = on_stream,
	.reserve = on_reserve,
	.closed = on_closed,
};

/* ---- housekeeping ---- */

/* Milliseconds since data last went either way on a TCP socket; 0 if unknown. */
static uint64_t tcp_quiet_ms(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return 0;
	return ti.tcpi_last_data_recv < ti.tcpi_last_data_sent ? ti.tcpi_last_data_recv
							     : ti.tcpi_last_data_sent;
}

static void conn_shutdown(struct guard_conn *c)
{
	/* The stack reads the end of the stream and closes the socket itself; our
	 * close() hook then removes the entry. */
	shutdown(c->fd, SHUT_RDWR);
	c->closing = true;
}

static void sweep_connections(struct sipua *ua, uint64_t now, bool idle_scan)
{
	struct sipua_front *f = &ua->front;
	unsigned idle = f->cfg.tcp_idle_ms, whole = f->cfg.tcp_message_ms, pos = 0;
	struct guard_conn *c;

	while ((c = guard_conns_next(f->conns, &pos)) != NULL) {
		if (c->closing)
			continue;
		if (c->dialog_peer &&
		    !sipua_peers_has(ua->peers, (const struct sockaddr *)&c->peer)) {
			/* Its dialogs are over: a refused source's connection again, closed
			 * tcp_unknown_ms from now (the last answers go out meanwhile). */
			c->dialog_peer = false;
			c->close_at_ms = now + (f->cfg.tcp_unknown_ms ? f->cfg.tcp_unknown_ms
								   : ANSWER_GRACE_MS);
		}
		if (c->close_at_ms && now >= c->close_at_ms) {
			conn_shutdown(c);
			count(&f->c_closed_unknown);
		} else if (c->oversize ||
			   (whole && c->msg_since_ms && now - c->msg_since_ms >= whole)) {
			conn_shutdown(c);
			count(&f->c_closed_incomplete);
		} else if (idle_scan && idle && c->known && now - c->since_ms >= idle &&
			   tcp_quiet_ms(c->fd) >= idle &&
			   !sipua_leg_from(ua, (const struct sockaddr *)&c->peer)) {
			conn_shutdown(c);
			count(&f->c_closed_idle);
		}
	}
}

/* One line every REPORT_MS at most, when the guards did something. */
static void report(struct sipua *ua, uint64_t now)
{
	struct sipua_front *f = &ua->front;
	struct sipua_guard_stats s, *o = &f->reported;
	struct log_rec r;

	if (now - f->report_ms < REPORT_MS)
		return;
	sipua_guard_stats(ua, &s);
	if (s.rate_limited == o->rate_limited && s.tcp_refused_limit == o->tcp_refused_limit &&
	    s.tcp_refused_unknown == o->tcp_refused_unknown && s.tcp_refused_fd == o->tcp_refused_fd &&
	    s.tcp_closed_idle == o->tcp_closed_idle && s.tcp_closed_unknown == o->tcp_closed_unknown &&
	    s.tcp_closed_incomplete == o->tcp_closed_incomplete)
		return;
	if (log_begin(&r, s.tcp_refused_fd != o->tcp_refused_fd ? LOG_ERROR : LOG_WARN,
		      "sip.guard")) {
		log_uint(&r, "interval_s", (now - f->report_ms) / 1000);
		log_uint(&r, "rate_limited", s.rate_limited - o->rate_limited);
		log_uint(&r, "tcp_open", s.tcp_open);
		log_uint(&r, "tcp_refused_limit", s.tcp_refused_limit - o->tcp_refused_limit);
		log_uint(&r, "tcp_refused_unknown", s.tcp_refused_unknown - o->tcp_refused_unknown);
		log_uint(&r, "tcp_refused_no_descriptor", s.tcp_refused_fd - o->tcp_refused_fd);
		log_uint(&r, "tcp_closed_unknown", s.tcp_closed_unknown - o->tcp_closed_unknown);
		log_uint(&r, "tcp_closed_idle", s.tcp_closed_idle - o->tcp_closed_idle);
		log_uint(&r, "tcp_closed_incomplete",
			 s.tcp_closed_incomplete - o->tcp_closed_incomplete);
		log_end(&r);
	}
	f->report_ms = now;
	*o = s;
}

/* After a flood the heap holds freed memory glibc keeps for reuse: give it back. */
static void trim_heap(uint64_t now, struct sipua_front *f)
{
	struct mallinfo2 mi;

	if (now - f->trim_ms < TRIM_EVERY_MS)
		return;
	f->trim_ms = now;
	mi = mallinfo2();
	if (mi.fordblks < TRIM_FREE_MIN || mi.fordblks < mi.uordblks / 2)
		return;
	malloc_trim(0);
	log_msg(LOG_INFO, "memory.trim", "%zu MB of free heap given back (%zu MB in use)",
		mi.fordblks >> 20, mi.uordblks >> 20);
}

static void front_tick(struct sipua *ua, su_timer_t *t, struct sipua_timer *unused)
{
	struct sipua_front *f = &ua->front;
	uint64_t now = now_ms();
	bool second = ++f->ticks % (1000 / TICK_MS) == 0;

	(void)t;
	(void)unused;
	if (f->conns)
		sweep_connections(ua, now, second);
	if (second) {
		if (f->recent)
			guard_recent_lapse(f->recent, GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED,
					   SIPUA_ADMIT_LAPSE_MS, now);
		log_flush_repeats(false);
		report(ua, now);
		trim_heap(now, f);
	}
}

/* ---- life cycle ---- */

bool sipua_endpoint_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	} else {
		return false;
	}
	return true;
}

/* Watches the stack's listening sockets on our address and port (sofia-sip has no
 * call that hands them out), its UDP sockets, and its TLS listening sockets on the TLS
 * address and port; with a wildcard address, those on each of the host's addresses.
 * Returns how many were found. */
static int watch_sockets(struct sipua *ua)
{
	struct sockaddr_storage want, want_tls;
	bool sip = sipua_endpoint_of(ua->cfg.bind_addr, ua->cfg.bind_port, &want);
	bool tls = ua->cfg.tls && sipua_endpoint_of(ua->cfg.tls_addr, ua->cfg.tls_port, &want_tls);
	int found = 0;

	if (!sip && !tls)
		return 0;
	for (int fd = 3; fd < 4096; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), ilen = sizeof(int);
		int type = 0, listening = 0;
		bool is_sip, is_tls;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) != 0)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			continue;
		is_sip = sip && sipua_bound_endpoint((struct sockaddr *)&ss, (struct sockaddr *)&want);
		is_tls = tls && sipua_bound_endpoint((struct sockaddr *)&ss,
						     (struct sockaddr *)&want_tls);
		if (!is_sip && !is_tls)
			continue;
		ilen = sizeof(int);
		if (type == SOCK_STREAM &&
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) == 0 && listening) {
			if (guard_net_watch(fd, GUARD_LISTEN) != 0)
				continue;
			found++;
			if (is_tls)
				ua->front.tls_lfd = fd;
		} else if (type == SOCK_DGRAM && is_sip) {
			found += guard_net_watch(fd, GUARD_DGRAM) == 0;
		}
	}
	return found;
}

static void apply_cfg(struct sipua *ua, const struct sipua_guard_cfg *g)
{
	struct sipua_front *f = &ua->front;

	f->cfg = *g;
	if (f->conns) {
		/* The table's capacity is the cap the agent started with. */
		guard_conns_set_limits(f->conns, g->tcp_max_connections, g->tcp_max_per_source,
				       g->tcp_max_per_trunk);
	}
	guard_rate_set(f->rate, g->rate_per_s, g->rate_burst);
}

void sipua_front_start(struct sipua *ua)
{
	struct sipua_front *f = &ua->front;
	unsigned cap = ua->cfg.guard.tcp_max_connections ? ua->cfg.guard.tcp_max_connections : 1;
	int err;

	if (getrandom(&f->secret, sizeof(f->secret), 0) != sizeof(f->secret))
		f->secret = sipua_now_ms() * 0x9e3779b97f4a7c15ull;
	f->scratch = malloc(DGRAM_MAX);
	f->reply = malloc(REPLY_MAX);
	f->refusal = malloc(sizeof(*f->refusal));
	err = f->scratch && f->reply && f->refusal ? guard_rate_create(&f->rate, RATE_SOURCES)
						   : ENOMEM;
	if (!err && ua->admit)
		err = guard_recent_create(&f->recent, SIPUA_RECENT_SLOTS, SIPUA_RECENT_TTL_MS);
	if (!err)
		err = guard_conns_create(&f->conns, cap);
	if (!err) {
		apply_cfg(ua, &ua->cfg.guard);
		err = guard_net_attach(&front_ops, ua);
	}
	if (err) {
		log_msg(LOG_WARN, "sip.guard", "no guards in front of the SIP stack: %s",
			strerror(err));
		sipua_front_stop(ua);
		return;
	}
	f->attached = true;
	f->tls_lfd = -1;
	if (watch_sockets(ua) == 0)
		log_msg(LOG_WARN, "sip.guard", "the SIP sockets were not found: no guards");
	else if (ua->cfg.tls && f->tls_lfd < 0)
		log_msg(LOG_WARN, "sip.guard", "the TLS listening socket was not found: "
			"TLS connections are not guarded");
	f->report_ms = f->trim_ms = now_ms();
	f->tick = su_timer_create(su_root_task(ua->root), TICK_MS);
	if (f->tick)
		su_timer_set_for_ever(f->tick, front_tick, NULL);
}

void sipua_front_stop(struct sipua *ua)
{
	struct sipua_front *f = &ua->front;

	if (f->tick)
		su_timer_destroy(f->tick);
	f->tick = NULL;
	if (f->attached)
		guard_net_detach();
	f->attached = false;
	f->tls_lfd = -1;
	guard_conns_destroy(f->conns);
	guard_rate_destroy(f->rate);
	guard_recent_destroy(f->recent);
	free(f->scratch);
	free(f->reply);
	free(f->refusal);
	f->refusal = NULL;
	f->recent = NULL;
	f->conns = NULL;
	f->rate = NULL;
	f->scratch = f->reply = NULL;
	atomic_store(&f->c_open, 0);
}

/* ---- API ---- */

void sipua_set_source_class(struct sipua *ua, sipua_source_h *fn)
{
	if (ua && !ua->thread_started)
		ua->src_class = fn;
}

struct guard_job {
	struct sipua          *ua;
	struct sipua_guard_cfg g;
};

static void guard_job_run(void *arg)
{
	struct guard_job *j = arg;

	if (j->ua->front.rate)
		apply_cfg(j->ua, &j->g);
	free(j);
}

int sipua_set_guard(struct sipua *ua, const struct sipua_guard_cfg *g)
{
	struct guard_job *j;
	int err;

	if (!ua || !g)
		return EINVAL;
	j = malloc(sizeof(*j));
	if (!j)
		return ENOMEM;
	j->ua = ua;
	j->g = *g;
	err = sipua_post(ua, guard_job_run, j);
	if (err == ESHUTDOWN) {
		ua->cfg.guard = *g;   /* not running: applied at start */
		free(j);
		return 0;
	}
	if (err)
		free(j);
	return err;
}

void sipua_guard_stats(const struct sipua *ua, struct sipua_guard_stats *s)
{
	struct sipua_front *f;

	memset(s, 0, sizeof(*s));
	if (!ua)
		return;
	f = (struct sipua_front *)&ua->front;   /* atomics are only read */
	s->rate_limited = atomic_load(&f->c_rate_limited);
	s->not_sip = atomic_load(&f->c_not_sip);
	s->stateless_ok = atomic_load(&f->c_ok);
	s->stateless_malformed = atomic_load(&f->c_malformed);
	s->stateless_unserved = atomic_load(&f->c_unserved);
	s->stateless_rejected = atomic_load(&f->c_rejected);
	s->stateless_dropped = atomic_load(&f->c_dropped);
	s->tcp_open = atomic_load(&f->c_open);
	s->tcp_accepted = atomic_load(&f->c_accepted);
	s->tcp_refused_limit = atomic_load(&f->c_refused_limit);
	s->tcp_refused_unknown = atomic_load(&f->c_refused_unknown);
	s->tcp_refused_fd = atomic_load(&f->c_refused_fd);
	s->tcp_closed_unknown = atomic_load(&f->c_closed_unknown);
	s->tcp_closed_idle = atomic_load(&f->c_closed_idle);
	s->tcp_closed_incomplete = atomic_load(&f->c_closed_incomplete);
	s->overload_refused = atomic_load(&f->c_overload);
	s->overload_resent = atomic_load(&f->c_overload_resent);
	s->overload_table_full = atomic_load(&f->c_recent_full);
	s->acks_absorbed = atomic_load(&f->c_acks);
}
