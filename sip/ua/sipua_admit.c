/*
 * sipua_admit.c — the admission of new INVITEs in front of the stack (called from the
 * socket hooks of sipua_front.c): the table of recent decisions (guard_recent) asked
 * first, so a retransmission is recognised; the call layer's admission handler asked
 * once per INVITE; a refusal's call record posted to the signalling thread's queue as
 * SIPUA_EV_REFUSED; the stack's INVITE event claiming an admission; and the count of
 * admissions in flight.
 */
#include "sipua_int.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard.h"

/* The status of a refusal (an answer's 0 is 503). */
static int status_of(const struct sipua_admit_answer *a)
{
	return a->status >= 300 && a->status <= 699 ? a->status : 503;
}

/* A refusal's answer as kept in the table: what the answer to a retransmission needs
 * (its status in bits 18-27; the Warning is not kept). */
static uint32_t aux_of(const struct sipua_admit_answer *a)
{
	return (a->retry_after > 0xffff ? 0xffffu : a->retry_after) |
	       (a->policy.session_expires ? 1u << 16 : 0) |
	       (a->policy.rel100 != SIPUA_REL100_OFF ? 1u << 17 : 0) |
	       (uint32_t)status_of(a) << 18;
}

static void answer_of(uint32_t aux, struct sipua_admit_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->retry_after = aux & 0xffff;
	a->policy.session_expires = aux & (1u << 16) ? 1 : 0;
	a->policy.rel100 = aux & (1u << 17) ? SIPUA_REL100_SUPPORTED : SIPUA_REL100_OFF;
	a->status = (int)(aux >> 18 & 0x3ff);
	a->status = status_of(a);
}

static void recent_put(struct sipua_front *f, uint64_t key, enum guard_recent_state st,
		       uint32_t aux, uint64_t now)
{
	if (guard_recent_put(f->recent, key, st, aux, now) != GUARD_RECENT_NONE)
		atomic_fetch_add_explicit(&f->c_recent_full, 1, memory_order_relaxed);
}

enum sipua_sl_decision sipua_admit_decide(void *arg, uint64_t key,
					  const struct sipua_incoming *in,
					  struct sipua_admit_answer *ans)
{
	struct sipua_admit_ctx *d = arg;
	struct sipua *ua = d->ua;
	struct sipua_front *f = &ua->front;
	struct sipua_admit_req rq;
	uint64_t now = sipua_now_ms();
	uint32_t aux;

	if (!f->recent || !ua->admit || !key)
		return SIPUA_SL_PASS;
	switch (guard_recent_get(f->recent, key, now, &aux)) {
	case GUARD_RECENT_REFUSED:
		answer_of(aux, ans);
		d->refused = true;
		return SIPUA_SL_REFUSE_AGAIN;
	case GUARD_RECENT_ADMITTED:
	case GUARD_RECENT_CLAIMED:
		return SIPUA_SL_PASS;   /* a retransmission: the stack absorbs it */
	default:
		break;
	}
	rq.src = d->src;
	rq.transport = d->tp;
	rq.max_forwards = in->max_forwards > 255 ? 255 : in->max_forwards;
	rq.ruri_user = in->ruri_user;
	rq.from_user = in->from_user;
	switch (ua->admit(&rq, ans, ua->arg)) {
	case SIPUA_ADMIT_OK:
		recent_put(f, key, GUARD_RECENT_ADMITTED, 0, now);
		return SIPUA_SL_PASS;
	case SIPUA_ADMIT_REFUSE:
		ans->status = status_of(ans);
		if (ans->status != 503)
			ans->retry_after = 0;
		d->aux = aux_of(ans);
		d->refused = true;
		return SIPUA_SL_REFUSE;
	default:
		return SIPUA_SL_PASS;
	}
}

struct refused_job {
	struct sipua           *ua;
	struct sipua_sl_refusal r;
};

/* Hands a refusal to the event handler (strings copied with the struct are pointed at
 * again). */
static void refused_deliver(struct sipua *ua, struct sipua_sl_refusal *r)
{
	struct sipua_ev ev = {0};

	r->in.call_id = r->buf.call_id;
	r->in.ruri = r->buf.ruri;
	r->in.from_uri = r->buf.from;
	r->in.to_uri = r->buf.to;
	r->in.ruri_user = r->ruri_user;
	r->in.from_user = r->from_user;
	r->in.from_display = r->from_display;
	r->in.to_user = r->to_user;
	ev.type = SIPUA_EV_REFUSED;
	ev.status = r->status;
	ev.in = &r->in;
	sipua_deliver(ua, &ev);
}

static void refused_run(void *arg)
{
	struct refused_job *j = arg;

	refused_deliver(j->ua, &j->r);
	free(j);
}

/* An INVITE the admission refused was answered: the first time, it is kept in the
 * table and its record posted to the signalling thread's queue, to be made once the
 * stack's read is over (made at once if the queue is full or memory short: the
 * handler only writes the record, and nothing is lost). 503s are counted here, other
 * refusals (a number not routed) by the call layer with their record. */
void sipua_admit_refused(struct sipua *ua, const struct sockaddr *src, enum sipua_transport tp,
			 uint32_t aux)
{
	struct sipua_front *f = &ua->front;
	struct sipua_sl_refusal *r = f->refusal;
	struct refused_job *j;
	struct timespec ts;

	if (!r->first) {
		if (r->status == 503)
			atomic_fetch_add_explicit(&f->c_overload_resent, 1, memory_order_relaxed);
		return;
	}
	recent_put(f, r->key, GUARD_RECENT_REFUSED, aux, sipua_now_ms());
	if (r->status == 503)
		atomic_fetch_add_explicit(&f->c_overload, 1, memory_order_relaxed);
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&r->in.src, 0, sizeof(r->in.src));
	memcpy(&r->in.src, src, src->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in));
	r->in.transport = tp;
	r->in.at_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	j = malloc(sizeof(*j));
	if (!j) {
		refused_deliver(ua, r);
		return;
	}
	j->ua = ua;
	j->r = *r;
	if (sipua_post(ua, refused_run, j) != 0)
		refused_run(j);
}

bool sipua_front_claim(struct sipua *ua, sip_t const *sip)
{
	struct sipua_front *f = &ua->front;

	return f->recent && guard_recent_change(f->recent, sipua_sl_key(f->secret, sip),
						GUARD_RECENT_ADMITTED, GUARD_RECENT_CLAIMED,
						sipua_now_ms());
}

void sipua_set_admit(struct sipua *ua, sipua_admit_h *fn)
{
	if (ua && !ua->thread_started)
		ua->admit = fn;
}

unsigned sipua_admit_pending(const struct sipua *ua)
{
	return ua ? (unsigned)guard_recent_count(ua->front.recent, GUARD_RECENT_ADMITTED) : 0;
}
