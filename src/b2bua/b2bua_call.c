/*
 * b2bua_call.c — one call: the A leg (inbound), the B leg (outbound) and the media
 * session between them, driven by sipua and media events on the signalling thread.
 *
 * DESIGN
 * A call is created for every INVITE that passed the source check, so every such
 * INVITE leaves exactly one `call.end` record. Set-up runs as a chain of steps —
 * route (trunk, DID, route lookup, limits) -> admit -> proceed (media ports, SDP,
 * B leg) — and admit is the place where an asynchronous step (budgets in Redis)
 * can later suspend the chain and resume it from its reply; everything the later
 * steps need is copied into the call first, nothing is read from the INVITE after
 * the route step. Tear-down is symmetric: when one leg ends, the other is ended
 * (CANCEL, BYE or a mapped final response); when both are gone, the media session
 * is closed and the record is written once its final counters (MEDIA_EV_CLOSED)
 * are back. The call is freed only then, so a media event can always find it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "b2bua_int.h"
#include "log.h"

enum { SIDE_A = MEDIA_SIDE_A, SIDE_B = MEDIA_SIDE_B };

/* telephone-event/8000 is what trunx offers itself; other rates are relayed. */
static const char *const trunx_codecs[] = {"PCMU/8000", "PCMA/8000", "opus/48000/2",
					   "telephone-event/8000", "telephone-event"};

const char *call_state_name(enum call_state s)
{
	switch (s) {
	case CALL_ROUTING:  return "routing";
	case CALL_CALLING:  return "calling";
	case CALL_EARLY:    return "early";
	case CALL_ANSWERED: return "answered";
	case CALL_ENDING:   return "ending";
	}
	return "?";
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *trunk_name(const struct trunk *t)
{
	return t ? trunk_get_cfg(t)->name : NULL;
}

void call_log(enum log_level lvl, const char *event, const struct call *c,
		     const char *leg, const char *fmt, ...)
{
	struct log_rec r;
	char msg[512];
	va_list ap;

	if (!log_begin(&r, lvl, event))
		return;
	log_str(&r, "call_id", c->id);
	if (c->api_rid[0])   /* skipped when the thread works for that request already */
		log_str(&r, "request_id", c->api_rid);
	if (leg)
		log_str(&r, "leg", leg);
	if (c->trunk_in)
		log_str(&r, "trunk", trunk_name(c->trunk_in));
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_str(&r, "msg", msg);
	}
	log_end(&r);
}

void call_sdp_ctx(const struct call *c, struct b2b_sdp_ctx *x, const char **allowed)
{
	const struct trunk_cfg *ts[2] = {
		c->trunk_in ? trunk_get_cfg(c->trunk_in) : NULL,
		c->trunk_out ? trunk_get_cfg(c->trunk_out) : NULL,
	};
	size_t n = 0;

	memset(x, 0, sizeof(*x));
	/* Each leg's trunk filters and orders its own leg (b2bua_sdp.c): trunx can
	 * transcode between what the two allow. */
	for (size_t i = 0; i < sizeof(trunx_codecs) / sizeof(trunx_codecs[0]); i++)
		allowed[n++] = trunx_codecs[i];
	for (int k = 0; k < 2; k++) {
		x->opus[k].complexity = 5;
		x->opus[k].fec = true;
		x->dtmf[k] = b2b_dtmf_mode(c, k);
		x->srtp[k].keys_ok = c->tls[k];
		if (!ts[k])
			continue;
		x->srtp[k].mode = ts[k]->srtp == TRUNK_SRTP_REQUIRED ? B2B_SRTP_REQUIRED :
				  ts[k]->srtp == TRUNK_SRTP_OPTIONAL ? B2B_SRTP_OPTIONAL :
				  B2B_SRTP_OFF;
		x->srtp[k].keys_ok = c->tls[k] || ts[k]->srtp_without_tls;
		x->prefer[k] = ts[k]->codecs;
		x->n_prefer[k] = ts[k]->n_codecs;
		x->opus[k].complexity = ts[k]->opus_complexity;
		x->opus[k].fec = ts[k]->opus_fec;
		x->opus[k].dtx = ts[k]->opus_dtx;
	}
	x->media_addr = c->b->media_addr;
	x->port[SIDE_A] = c->ms ? media_session_port(c->ms, MEDIA_SIDE_A) : 0;
	x->port[SIDE_B] = c->ms ? media_session_port(c->ms, MEDIA_SIDE_B) : 0;
	x->allowed = allowed;
	x->n_allowed = n;
	x->scratch = c->b->sdp_scratch;
}

struct sipua_leg *call_leg(const struct call *c, int side)
{
	return side == SIDE_A ? c->a : c->b_leg;
}

void b2b_warning_value(const struct b2bua *b, char *out, size_t len, const char *why)
{
	sipua_warning_value(b->sip_host, why, out, len);
}

void call_warning(const struct call *c, char *out, size_t len, const char *why)
{
	char value[400];

	b2b_warning_value(c->b, value, sizeof(value), why);
	snprintf(out, len, "Warning: %s\r\n", value);
}

/* Which sources may latch a side: its trunk's latch, else (unset, or no trunk) the
 * node's [media] latch, which the engine applies. */
static enum media_side_latch side_latch(const struct trunk *t)
{
	switch (t ? trunk_get_cfg(t)->latch : TRUNK_LATCH_NODE) {
	case TRUNK_LATCH_KNOWN: return MEDIA_SIDE_LATCH_KNOWN;
	case TRUNK_LATCH_ANY:   return MEDIA_SIDE_LATCH_ANY;
	case TRUNK_LATCH_NODE:  break;
	}
	return MEDIA_SIDE_LATCH_ENGINE;
}

/* Each side's signalling addresses: with latch = known, the only sources besides the
 * SDP address that may latch its media; and each side's latch, from the trunk of its
 * leg (A: the trunk the call came from, B: the trunk it was routed to). */
void call_media_sig(const struct call *c, struct media_session_params *p)
{
	for (int s = 0; s < 2; s++) {
		unsigned n = sipua_leg_peers(call_leg(c, s), p->side[s].sig, MEDIA_SIG_ADDRS);

		if (s == SIDE_A && n == 0 && c->src.ss_family)
			p->side[s].sig[0] = c->src;
		p->side[s].latch = side_latch(s == SIDE_A ? c->trunk_in : c->trunk_out);
	}
}

/* The IPv4 address of a signalling peer of side s, if one is known. */
static bool sig_ip4(const struct media_session_params *p, int s, struct in_addr *out)
{
	for (int i = 0; i < MEDIA_SIG_ADDRS; i++) {
		const struct sockaddr_storage *ss = &p->side[s].sig[i];
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

		if (ss->ss_family == AF_INET) {
			*out = ((const struct sockaddr_in *)ss)->sin_addr;
			return true;
		}
		if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			memcpy(out, &a6->sin6_addr.s6_addr[12], 4);
			return true;
		}
	}
	return false;
}

/* The IPv6 address (not an IPv4-mapped one) of a signalling peer of side s. */
static bool sig_ip6(const struct media_session_params *p, int s, struct sockaddr_in6 *out)
{
	for (int i = 0; i < MEDIA_SIG_ADDRS; i++) {
		const struct sockaddr_storage *ss = &p->side[s].sig[i];
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

		if (ss->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) &&
		    !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr)) {
			*out = *a6;
			return true;
		}
	}
	return false;
}

/*
 * The same for media bound to one IPv6 address, which reaches IPv6 parties only: an
 * IPv4 SDP address (or an IPv4-mapped one) is replaced by the IPv6 address the
 * party's signalling came from, with the SDP's port; without one the side gets "::"
 * and nothing is sent to it. Either is logged once per leg (call.media, warn).
 */
static void call_media_reachable6(struct call *c, struct media_session_params *p)
{
	for (int s = 0; s < 2; s++) {
		struct sockaddr_storage *as[2] = { &p->side[s].rtp, &p->side[s].rtcp };

		for (int i = 0; i < 2; i++) {
			struct sockaddr_in6 *x6 = (struct sockaddr_in6 *)as[i];
			struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
			char was[INET6_ADDRSTRLEN] = "", now[INET6_ADDRSTRLEN] = "";
			struct in_addr v4;
			bool replaced = false;

			if (as[i]->ss_family == AF_INET) {
				v4 = ((const struct sockaddr_in *)as[i])->sin_addr;
				a6.sin6_port = ((const struct sockaddr_in *)as[i])->sin_port;
			} else if (as[i]->ss_family == AF_INET6 &&
				   IN6_IS_ADDR_V4MAPPED(&x6->sin6_addr)) {
				memcpy(&v4, &x6->sin6_addr.s6_addr[12], 4);
				a6.sin6_port = x6->sin6_port;
			} else {
				continue;
			}
			if (v4.s_addr != htonl(INADDR_ANY)) {
				uint16_t port = a6.sin6_port;

				inet_ntop(AF_INET, &v4, was, sizeof(was));
				replaced = sig_ip6(p, s, &a6);
				a6.sin6_port = port;
				if (replaced)
					inet_ntop(AF_INET6, &a6.sin6_addr, now, sizeof(now));
				else
					a6 = (struct sockaddr_in6){ .sin6_family = AF_INET6,
								    .sin6_port = port };
			}
			memset(as[i], 0, sizeof(*as[i]));
			memcpy(as[i], &a6, sizeof(a6));
			if (!was[0] || c->media_af_noted[s])
				continue;
			c->media_af_noted[s] = true;
			if (replaced)
				call_log(LOG_WARN, "call.media", c, s == SIDE_A ? "a" : "b",
					 "SDP address %s is IPv4 and media is IPv6: sending to "
					 "the leg's signalling address %s instead", was, now);
			else
				call_log(LOG_WARN, "call.media", c, s == SIDE_A ? "a" : "b",
					 "SDP address %s is IPv4 and media is IPv6, and no IPv6 "
					 "signalling address is known: nothing is sent to this leg",
					 was);
		}
	}
}

/*
 * An SDP address the media sockets cannot reach - an IPv6 address while media is
 * bound to IPv4, as a dual-stack UA may offer while it signals over IPv4 - is
 * replaced by the IPv4 address the party's signalling came from, with the SDP's port
 * (as a NAT fix-up does: the party's media socket listens on both families). Without
 * such an address the side gets the unspecified address: nothing is sent to it, and
 * the update is not refused (which would leave the call without media). IPv4-mapped
 * addresses are their IPv4 address; the unspecified "::" is "0.0.0.0". Run after
 * call_media_sig(), whose addresses it reads.
 */
static void call_media_reachable(struct call *c, struct media_session_params *p)
{
	if (c->b->media_dual)
		return;   /* "::": the sockets reach both families */
	if (c->b->media_ip6) {
		call_media_reachable6(c, p);
		return;
	}
	for (int s = 0; s < 2; s++) {
		struct sockaddr_storage *as[2] = { &p->side[s].rtp, &p->side[s].rtcp };

		for (int i = 0; i < 2; i++) {
			const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)as[i];
			struct sockaddr_in a4 = { .sin_family = AF_INET };
			char was[INET6_ADDRSTRLEN] = "", now[INET_ADDRSTRLEN] = "";
			bool replaced = false;

			if (as[i]->ss_family != AF_INET6)
				continue;
			a4.sin_port = a6->sin6_port;
			if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
				memcpy(&a4.sin_addr, &a6->sin6_addr.s6_addr[12], 4);
			} else if (!IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr)) {
				inet_ntop(AF_INET6, &a6->sin6_addr, was, sizeof(was));
				replaced = sig_ip4(p, s, &a4.sin_addr);
				if (replaced)
					inet_ntop(AF_INET, &a4.sin_addr, now, sizeof(now));
			}
			memset(as[i], 0, sizeof(*as[i]));
			memcpy(as[i], &a4, sizeof(a4));
			if (!was[0] || c->media_af_noted[s])
				continue;
			c->media_af_noted[s] = true;
			if (replaced)
				call_log(LOG_WARN, "call.media", c, s == SIDE_A ? "a" : "b",
					 "SDP address %s is IPv6 and media is IPv4: sending to "
					 "the leg's signalling address %s instead", was, now);
			else
				call_log(LOG_WARN, "call.media", c, s == SIDE_A ? "a" : "b",
					 "SDP address %s is IPv6 and media is IPv4, and no IPv4 "
					 "signalling address is known: nothing is sent to this leg",
					 was);
		}
	}
}

void call_media_update(struct call *c)
{
	struct media_session_params p;

	if (!c->ms)
		return;
	b2b_sdp_media_params(&c->media, &p);
	call_media_sig(c, &p);
	call_media_reachable(c, &p);
	if (media_session_update(c->ms, &p) != 0)
		call_log(LOG_WARN, "call.media", c, NULL, "media parameters refused");
	call_view_changed(c);   /* its codecs */
}

static void timers_cancel(struct call *c)
{
	sipua_timer_cancel(c->invite_timer);
	sipua_timer_cancel(c->ring_timer);
	c->invite_timer = c->ring_timer = NULL;
}

/* ---- end of a call ---- */

static void set_cause(struct call *c, const char *cause)
{
	if (!c->cause[0] && cause)
		snprintf(c->cause, sizeof(c->cause), "%s", cause);
}

/* The call.end record: logged, and handed to the data plane (b2bua_cdr.c). */
static void emit_cdr(struct call *c)
{
	call_ev_hungup(c);
	call_record(c);
}

void call_free(struct call *c)
{
	struct b2bua *b = c->b;

	call_view_gone(c);
	if (c->orig)
		call_orig_free(c);
	if (c->prev)
		c->prev->next = c->next;
	else if (b->calls == c)
		b->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	b->n_calls--;
	if (c->admit_requested && b->hooks.release)
		b->hooks.release(c->areq.lease, b->hooks.arg);
	route_table_unref(c->rt);
	b2b_xfer_free(c, "call ended");
	call_offer_free(c);
	free(c->targets);
	free(c->fo_offer);
	if (c->fo_su) {
		free(c->fo_su->offer_a);
		free(c->fo_su);
	}
	free(c);
}

void call_abandon(struct call *c)
{
	set_cause(c, "shutdown");
	if (!c->t_end_ms)
		c->t_end_ms = wall_ms();
	emit_cdr(c);
	call_free(c);
}

/* Both legs are gone: close the media, then write the record and free the call. */
static void maybe_end(struct call *c)
{
	struct b2bua *b = c->b;

	if (c->a || c->b_leg || c->ms_closing || c->admit_pending)
		return;   /* a pending admission keeps the call until its answer */
	timers_cancel(c);
	c->state = CALL_ENDING;
	c->t_end_ms = wall_ms();
	atomic_fetch_sub(&b->c_active, 1);
	if (!c->a_answered)
		atomic_fetch_add(&b->c_failed, 1);
	if (c->ms) {
		c->ms_closing = true;
		media_session_destroy(c->ms);
		c->ms = NULL;
		call_view_changed(c);
		return;   /* MEDIA_EV_CLOSED finishes the call */
	}
	emit_cdr(c);
	call_free(c);
}

void call_maybe_end(struct call *c)
{
	maybe_end(c);
}


/* Final failure to A (if A is still waiting) and the B leg ended. */
void fail_call(struct call *c, int code, const char *cause, const char *why)
{
	char hdr[512] = "";

	set_cause(c, cause);
	if (why && why[0] && !c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	if (c->a && !c->final_code) {
		c->final_code = code;
		if (why && why[0])
			call_warning(c, hdr, sizeof(hdr), why);
		if (code == 503 && c->b->sip.retry_after) {
			size_t n = strlen(hdr);
			snprintf(hdr + n, sizeof(hdr) - n, "Retry-After: %u\r\n", c->b->sip.retry_after);
		}
		sipua_leg_respond(c->a, code, NULL, 0, hdr);
	}
	if (c->b_leg)
		sipua_leg_hangup(c->b_leg, 0);
	c->state = CALL_ENDING;
	timers_cancel(c);
	call_view_changed(c);
}

void call_hangup(struct call *c, const char *cause)
{
	set_cause(c, cause);
	if (c->a) {
		if (!c->final_code) {
			c->final_code = 480;
			sipua_leg_respond(c->a, 480, NULL, 0, NULL);
		} else {
			sipua_leg_hangup(c->a, 0);
		}
	}
	if (c->b_leg)
		sipua_leg_hangup(c->b_leg, 0);
	c->state = CALL_ENDING;
	timers_cancel(c);
	call_view_changed(c);
	maybe_end(c);
}

/* ---- timers ---- */

static void invite_timeout(void *arg)
{
	struct call *c = arg;

	c->invite_timer = NULL;
	if (c->state != CALL_CALLING)
		return;
	if (call_failover(c, 408, true))
		return;   /* the next destination has it */
	call_log(LOG_INFO, "call.timeout", c, "b", "no response from the called party");
	fail_call(c, 408, "no_response", NULL);
}

static void ring_timeout(void *arg)
{
	struct call *c = arg;

	c->ring_timer = NULL;
	if (c->state != CALL_EARLY)
		return;
	call_log(LOG_INFO, "call.timeout", c, "b", "no answer");
	fail_call(c, 480, "no_answer", NULL);
}

/* ---- set-up: route -> admit -> proceed ---- */


static void copy_headers(const struct call *c, const struct sipua_ev *ev, char *out, size_t len)
{
	const struct trunk_cfg *t = c->trunk_in ? trunk_get_cfg(c->trunk_in) : NULL;

	out[0] = '\0';
	if (!t)
		return;
	for (size_t i = 0; i < t->n_pass_headers; i++) {
		if (b2b_header_allowed(t, t->pass_headers[i]))
			sipua_ev_header(ev, t->pass_headers[i], out, len);
	}
}

/*
 * Admission: decides whether a routed call may proceed. File mode has only the local
 * limits of the route step, so it continues at once; database mode asks the data
 * plane for a lease (b2bua_admit.c), keeps `su` in the call and resumes from the reply
 * (call_proceed() or a refusal), after checking that A is still there.
 */
static void call_admit(struct call *c, struct call_setup *su)
{
	if (c->b->hooks.admit && c->areq.lease[0])
		call_admit_async(c, su);
	else
		call_proceed(c, su);
}

static struct sipua_policy policy_of(const struct trunk *t)
{
	struct sipua_policy p = {0, 90, SIPUA_REL100_SUPPORTED};

	if (t) {
		const struct trunk_cfg *tc = trunk_get_cfg(t);

		p.session_expires = tc->session_expires;
		p.min_se = tc->min_se >= 90 ? tc->min_se : 90;
		p.rel100 = tc->rel100 == TRUNK_REL100_OFF ? SIPUA_REL100_OFF :
			   tc->rel100 == TRUNK_REL100_REQUIRED ? SIPUA_REL100_REQUIRED :
			   SIPUA_REL100_SUPPORTED;
	}
	return p;
}

struct sipua_policy call_policy_of(const struct trunk *t)
{
	return policy_of(t);
}

uint64_t call_load(struct b2bua *b, bool linked)
{
	uint64_t n = atomic_load(&b->c_active);

	return (linked && n ? n - 1 : n) + sipua_admit_pending(b->ua);
}

bool call_limits_admit(struct b2bua *b, uint64_t others)
{
	if (b->sip.max_calls && others >= b->sip.max_calls)
		return false;
	return b2b_rate_admit(&b->rate, sipua_now_ms(), b->sip.max_cps);
}

bool b2b_shedding(struct b2bua *b)
{
	return b->sip.overload_delay_ms &&
	       sipua_rx_standing_delay_ms(b->ua, B2B_SHED_WINDOW_MS) > b->sip.overload_delay_ms;
}

#define CLAIMANTS_MAX 16

/*
 * A new INVITE from a trunk's address, read in front of the stack. Decided here only
 * when call_on_incoming would come to the limits with nothing refused before them:
 * not while stopping (503 shutting_down), not with Max-Forwards 0 (483), not for
 * sources identified by digest (401 first), not while load shedding answers INVITEs
 * itself (no record). Then the one limiter decides; a refusal is answered 503 (with
 * the Retry-After and the trunk's Supported of fail_call's answer) by the front. An
 * admitted INVITE whose number the route step refuses whatever the trunks' state
 * (call_route_refusal) is answered there too, as fail_call would (404 and its
 * Warning).
 */
enum sipua_admit b2b_front_admit(const struct sipua_admit_req *rq,
				 struct sipua_admit_answer *ans, void *arg)
{
	struct b2bua *b = arg;
	const struct trunk *cands[CLAIMANTS_MAX];
	size_t n;

	if (b->stopping || b2b_max_forwards(rq->max_forwards, b->sip.max_forwards) < 0)
		return SIPUA_ADMIT_PASS;
	n = route_identify_all(b->rt, rq->src, cands, CLAIMANTS_MAX);
	if (!n)
		return SIPUA_ADMIT_PASS;
	for (size_t i = 0; i < n; i++)
		if (trunk_get_cfg(cands[i])->auth_inbound)
			return SIPUA_ADMIT_PASS;
	if (b2b_shedding(b))
		return SIPUA_ADMIT_PASS;
	if (call_limits_admit(b, call_load(b, false))) {
		/* A number routed nowhere (a scan of numbers, say) is refused here too,
		 * without the stack's transaction; as through the stack, after the limits
		 * (its second's max_cps is spent). */
		struct b2b_route_refusal r;
		const struct trunk *t = route_identify(b->rt, rq->src);

		if (!rq->ruri_user || !t ||
		    !call_route_refusal(b, t, rq->ruri_user, rq->from_user, &r))
			return SIPUA_ADMIT_OK;
		b2b_warning_value(b, b->front_warning, sizeof(b->front_warning), r.reason);
		ans->status = r.code;
		ans->warning = b->front_warning;
		ans->retry_after = 0;
		ans->policy = call_policy_of(t);
		ans->peer = NULL;
		return SIPUA_ADMIT_REFUSE;
	}
	ans->status = 503;
	ans->warning = NULL;
	ans->retry_after = b->sip.retry_after;
	ans->policy = call_policy_of(route_identify(b->rt, rq->src));
	ans->peer = NULL;
	return SIPUA_ADMIT_REFUSE;
}

void call_link(struct call *c)
{
	struct b2bua *b = c->b;

	c->next = b->calls;
	if (b->calls)
		b->calls->prev = c;
	b->calls = c;
	b->n_calls++;
	atomic_fetch_add(&b->c_active, 1);
	call_view_changed(c);
}

/* A new call for an incoming INVITE, linked into the b2bua's list and counted active:
 * ids, route table, source, transport, caller and callee as the INVITE gave them; its
 * trunk is in->peer, or with identify the trunk the table names for the source now. */
static struct call *call_new(struct b2bua *b, const struct sipua_incoming *in, bool identify,
			     uint64_t t_start_ms)
{
	struct call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->b = b;
	b2b_uuid(b, c->cdr_id);
	c->media.offer_from = -1;
	c->media.sess_id = (b->id_salt ^ ++b->seq) & 0x7fffffffffffull;
	snprintf(c->id, sizeof(c->id), "%08" PRIx64 "%08" PRIx64, (uint64_t)(b->id_salt & 0xffffffffu),
		 b->seq);
	c->rt = route_table_ref(b->rt);
	c->trunk_in = identify ? route_identify(c->rt, (const struct sockaddr *)&in->src) : in->peer;
	c->src = in->src;
	c->tls[SIDE_A] = in->transport == SIPUA_TP_TLS;
	c->t_start_ms = t_start_ms;
	snprintf(c->a_call_id, sizeof(c->a_call_id), "%s", in->call_id);
	snprintf(c->from, sizeof(c->from), "%s", in->from_user);
	snprintf(c->to, sizeof(c->to), "%s", in->ruri_user);
	call_link(c);
	return c;
}

void call_on_refused(struct b2bua *b, const struct sipua_ev *ev)
{
	const struct sipua_incoming *in = ev->in;
	struct b2b_route_refusal r = {0};
	struct call *c;

	/* The same call, record and counters as a refusal through the stack
	 * (call_on_incoming), without an A leg: the answer is sent already. The trunk
	 * is the table's now (a reload may have come since the refusal). */
	c = call_new(b, in, true, in->at_ms ? in->at_ms : wall_ms());
	if (!c) {
		log_msg(LOG_ERROR, "call.end", "out of memory: a call refused %d has no record",
			ev->status);
		return;
	}
	if (ev->status == 503) {
		atomic_fetch_add(&b->c_overload, 1);
		fail_call(c, ev->status, "overload", NULL);
	} else {
		/* The route step's refusal, asked again for the record's number, tenant
		 * and reason (the same snapshot, unless a reload came between). */
		atomic_fetch_add(&b->c_no_route, 1);
		if (c->trunk_in &&
		    call_route_refusal(b, c->trunk_in, in->ruri_user, in->from_user, &r)) {
			snprintf(c->did, sizeof(c->did), "%s", r.did);
			snprintf(c->tenant, sizeof(c->tenant), "%s", r.tenant);
		}
		fail_call(c, ev->status, r.cause ? r.cause : "no_route", r.reason);
	}
	c->final_code = ev->status;
	maybe_end(c);
}

void call_proceed(struct call *c, struct call_setup *su)
{
	struct b2bua *b = c->b;
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char offer[SDP_BUF_MAX], why[160] = "";
	size_t n = 0;
	int err;

	c->tls[SIDE_B] = sipua_uri_transport(su->ruri_b) == SIPUA_TP_TLS;
	err = media_session_create(b->me, (uint64_t)(uintptr_t)c, &c->ms);
	if (err) {
		call_log(LOG_WARN, "call.media", c, NULL, "no media session: %s", strerror(err));
		fail_call(c, 503, "no_media_ports", "no media ports");
		goto out;
	}
	call_sdp_ctx(c, &x, allowed);
	if (c->delayed_offer)
		err = b2b_sdp_offer_local(&c->media, &x, SIDE_B, offer, sizeof(offer), &n, why,
					  sizeof(why));
	else
		err = b2b_sdp_offer(&c->media, &x, SIDE_A, su->offer_a, su->offer_a_len, offer,
				    sizeof(offer), &n, why, sizeof(why));
	if (err) {
		atomic_fetch_add(&b->c_bad_request, 1);
		fail_call(c, 488, err == ENOTSUP ? "no_common_codec" : "bad_sdp", why);
		goto out;
	}
	if (call_send_b(c, su, offer, n)) {
		fail_call(c, 500, "b_leg_failed", "cannot create the outgoing call");
		goto out;
	}
	if (log_get_level() <= LOG_DEBUG) {
		struct log_rec r;

		if (log_begin(&r, LOG_DEBUG, "call.start")) {
			log_str(&r, "call_id", c->id);
			log_str(&r, "leg", "b");
			log_str(&r, "trunk", trunk_name(c->trunk_in));
			log_str(&r, "trunk_out", trunk_name(c->trunk_out));
			log_str(&r, "a_call_id", c->a_call_id);
			log_str(&r, "b_call_id", c->b_call_id);
			log_str(&r, "from", c->from);
			log_str(&r, "did", c->did);
			log_str(&r, "uri", su->ruri_b);
			log_end(&r);
		}
	}
	if (c->n_targets > 1) {
		/* Database mode: the next destination may take the call if this one
		 * fails before ringing; it gets the same offer. */
		c->fo_offer = malloc(n + 1);
		if (c->fo_offer) {
			memcpy(c->fo_offer, offer, n);
			c->fo_offer[n] = '\0';
			c->fo_offer_len = n;
			free(su->offer_a);
			su->offer_a = NULL;
			c->fo_su = su;
			su = NULL;
		}
	}
out:
	if (su) {
		free(su->offer_a);
		free(su);
	}
}

int call_send_b(struct call *c, struct call_setup *su, const char *offer, size_t n)
{
	struct b2bua *b = c->b;
	const struct trunk_cfg *out = c->trunk_out ? trunk_get_cfg(c->trunk_out) : NULL;
	char from_uri[CALL_NUM_MAX + CONF_HOST_MAX + 16];
	struct sipua_invite inv = {0};
	int err;

	snprintf(from_uri, sizeof(from_uri), "sip:%s@%s", su->from_user[0] ? su->from_user : "anonymous",
		 b->sip_host);
	inv.ruri = su->ruri_b;
	inv.from_uri = from_uri;
	inv.from_display = su->from_display;
	inv.to_uri = su->ruri_b;
	inv.sdp = offer;
	inv.sdp_len = n;
	inv.max_forwards = su->max_forwards;
	inv.headers = su->headers;
	inv.policy = policy_of(c->trunk_out);
	if (out && out->auth_user[0] && out->auth_secret[0]) {
		/* A carrier (or PBX) that challenges trunx gets its credentials. */
		inv.auth_user = out->auth_user;
		inv.auth_secret = out->auth_secret;
	}
	err = sipua_leg_invite(b->ua, &inv, c, &c->b_leg);
	if (err)
		return err;
	snprintf(c->b_call_id, sizeof(c->b_call_id), "%s", sipua_leg_call_id(c->b_leg));
	c->state = CALL_CALLING;
	call_ev_created(c);
	sipua_timer_cancel(c->invite_timer);
	c->invite_timer = NULL;
	if (b->sip.invite_timeout)
		sipua_timer_start(b->ua, b->sip.invite_timeout * 1000u, invite_timeout, c,
				  &c->invite_timer);
	call_media_pending(c);
	return 0;
}

/* While B's answer is awaited: the offerer's side as offered, B's side without an
 * address, so B's first packets (which may come with its answer, before we have read
 * it) latch from the addresses known for B (its request-URI's IP, then those of its
 * responses) and reach A, while nothing is sent toward B. */
void call_media_pending(struct call *c)
{
	struct media_session_params p;

	if (!c->ms)
		return;
	b2b_sdp_media_params_pending(&c->media, &p);
	call_media_sig(c, &p);
	call_media_reachable(c, &p);
	media_session_update(c->ms, &p);
}

void call_on_incoming(struct b2bua *b, const struct sipua_ev *ev)
{
	const struct sipua_incoming *in = ev->in;
	struct call_setup *su = NULL;
	const struct route *route;
	struct call *c;

	c = call_new(b, in, false, wall_ms());
	if (!c) {
		sipua_leg_respond(ev->leg, 500, NULL, 0, NULL);
		return;
	}
	c->a = ev->leg;
	sipua_leg_set_ctx(ev->leg, c);
	{
		struct sipua_policy p = policy_of(c->trunk_in);

		/* RFC 4028 9: a caller asking for a session timer gets it from trunx,
		 * which supports the extension, even where its trunk sets none: its
		 * interval is taken (the 200 echoes it and the refresher). One below our
		 * Min-SE is left alone (no 422 for a timer the trunk did not ask for). */
		if (!p.session_expires && in->session_expires >= p.min_se)
			p.session_expires = in->session_expires;
		sipua_leg_set_policy(ev->leg, &p);
	}

	if (b->stopping) {
		fail_call(c, 503, "shutting_down", NULL);
		return;
	}
	su = calloc(1, sizeof(*su));
	if (!su) {
		fail_call(c, 500, "no_memory", NULL);
		return;
	}
	su->max_forwards = b2b_max_forwards(in->max_forwards, b->sip.max_forwards);
	if (su->max_forwards < 0) {
		atomic_fetch_add(&b->c_bad_request, 1);
		fail_call(c, 483, "too_many_hops", "Max-Forwards exhausted");
		goto out;
	}
	/* The node's limits, unless the SIP front counted this INVITE already. */
	if (!in->admitted &&
	    !call_limits_admit(b, call_load(b, true))) {
		atomic_fetch_add(&b->c_overload, 1);
		fail_call(c, 503, "overload", NULL);
		goto out;
	}
	if (route_table_is_db(c->rt)) {
		if (call_route_db(c, in, su))   /* b2bua_route.c; it failed the call */
			goto out;
	} else {
		const char *why;

		route = call_route_file(c->rt, c->trunk_in, in->ruri_user, c->did,
					sizeof(c->did), su->ruri_b, sizeof(su->ruri_b), &why);
		if (!route) {
			atomic_fetch_add(&b->c_no_route, 1);
			fail_call(c, 404, "no_route", why);
			goto out;
		}
		c->trunk_out = route_dest_trunk(route);
		c->route = route;
	}
	atomic_fetch_add(&b->c_total, 1);
	if (ev->sdp) {
		su->offer_a = malloc(ev->sdp_len + 1);
		if (!su->offer_a) {
			fail_call(c, 500, "no_memory", NULL);
			goto out;
		}
		memcpy(su->offer_a, ev->sdp, ev->sdp_len);
		su->offer_a[ev->sdp_len] = '\0';
		su->offer_a_len = ev->sdp_len;
	} else {
		c->delayed_offer = true;   /* trunx offers to B; A answers in its ACK */
	}
	/* The caller's number crosses in E.164 when it is one (database mode: as the
	 * route step chose it for the destination). */
	if (!su->from_user[0] &&
	    route_normalize(c->trunk_in, in->from_user, su->from_user, sizeof(su->from_user)))
		snprintf(su->from_user, sizeof(su->from_user), "%s", in->from_user);
	snprintf(su->from_display, sizeof(su->from_display), "%s", in->from_display);
	copy_headers(c, ev, su->headers, sizeof(su->headers));
	call_admit(c, su);
	return;
out:
	free(su);
}

/* ---- B leg ---- */

static void b_progress(struct call *c, const struct sipua_ev *ev)
{
	struct b2bua *b = c->b;
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char out[SDP_BUF_MAX], why[160] = "";
	const char *sdp = NULL;
	size_t n = 0;

	if (c->state != CALL_CALLING && c->state != CALL_EARLY)
		return;
	if (ev->bad_target) {
		fail_call(c, 502, "bad_target", "unusable Contact or Record-Route from the called party");
		return;
	}
	sipua_timer_cancel(c->invite_timer);
	c->invite_timer = NULL;
	c->got_provisional = true;
	if (!c->t_progress_ms)
		c->t_progress_ms = wall_ms();
	if (!c->ring_timer && b->sip.ring_timeout)
		sipua_timer_start(b->ua, b->sip.ring_timeout * 1000u, ring_timeout, c,
				  &c->ring_timer);
	c->state = CALL_EARLY;
	if (ev->status > 100)
		call_ev_ringing(c, ev->status);
	if (!ev->sdp && c->media.offer_from == SIDE_A && !c->media.side[SIDE_B].valid)
		call_media_pending(c);   /* B's address, from this response, may latch */
	if (ev->sdp) {
		if (c->media.offer_from == SIDE_A) {
			call_sdp_ctx(c, &x, allowed);
			if (b2b_sdp_answer(&c->media, &x, ev->sdp, ev->sdp_len, out, sizeof(out), &n,
					   why, sizeof(why)) == 0) {
				/* With a delayed offer ours would be an offer, which an
				 * unreliable 18x must not carry: it goes in the 200. */
				sdp = c->delayed_offer ? NULL : out;
				call_media_update(c);
			} else {
				call_log(LOG_INFO, "call.early_media", c, "b", "early SDP unusable: %s",
					 why);
			}
		} else if (c->media.side[SIDE_A].last_local_len && !c->delayed_offer) {
			sdp = c->media.side[SIDE_A].last_local;
			n = c->media.side[SIDE_A].last_local_len;
		}
	}
	if (c->a)
		sipua_leg_respond(c->a, ev->status, sdp, n, NULL);
}

int call_b_answer_sdp(struct call *c, const struct sipua_ev *ev, char *out, size_t outlen,
		      size_t *n)
{
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char why[160] = "";

	if (!ev->sdp) {
		fail_call(c, 500, "no_answer_sdp", "the called party answered without SDP");
		return -1;
	}
	call_sdp_ctx(c, &x, allowed);
	if (b2b_sdp_answer(&c->media, &x, ev->sdp, ev->sdp_len, out, outlen, n, why,
			   sizeof(why)) != 0) {
		atomic_fetch_add(&c->b->c_bad_request, 1);
		fail_call(c, 488, "no_common_codec", why);
		return -1;
	}
	return 0;
}

static void b_answered(struct call *c, const struct sipua_ev *ev)
{
	struct b2bua *b = c->b;
	char out[SDP_BUF_MAX];
	const char *sdp;
	size_t n = 0;

	timers_cancel(c);
	if (c->orig) {
		call_orig_answered(c, ev);   /* no A leg: trunx's media takes the call */
		return;
	}
	if (!c->a || c->final_code) {
		/* A gave up meanwhile: the answer comes too late. */
		sipua_leg_hangup(c->b_leg, 0);
		return;
	}
	if (ev->bad_target) {
		fail_call(c, 502, "bad_target", "unusable Contact or Record-Route from the called party");
		return;
	}
	if (ev->other_dialog && ev->sdp && !c->delayed_offer && !c->offer_busy &&
	    c->media.offer_from < 0 && c->media.side[SIDE_B].valid) {
		/* A fork behind B: the early media came on one early dialog, the 2xx on
		 * another, whose own SDP is the answer to our offer (RFC 3261 13.2.1,
		 * RFC 3264): the media follows it and A's 200 carries what results. */
		call_log(LOG_INFO, "call.fork", c, "b", "answered on another early dialog "
			 "than the early media's: its SDP is taken");
		c->media.offer_from = SIDE_A;
	}
	if (c->media.offer_from == SIDE_A) {
		if (call_b_answer_sdp(c, ev, out, sizeof(out), &n) != 0)
			return;
		sdp = out;
		call_media_update(c);
	} else {
		/* B's early SDP answered already. Without 100rel that 18x SDP is a preview:
		 * the 200's is the answer (RFC 3261 13.2.1; RFC 6337 3.1.1), and gateways
		 * that move the call from an announcement to the line change address or
		 * port there. Its address, port, direction and keys are taken; A's side
		 * (trunx's own address) does not change. */
		if (ev->sdp && c->media.side[SIDE_B].valid &&
		    !b2b_sdp_is_refresh(&c->media, SIDE_B, ev->sdp, ev->sdp_len)) {
			char why[128];

			if (b2b_sdp_remote(&c->media, SIDE_B, ev->sdp, ev->sdp_len, why,
					   sizeof(why)) == 0)
				call_media_update(c);
			else
				call_log(LOG_INFO, "call.early_media", c, "b",
					 "the answer's SDP is unusable, the early one stays: %s",
					 why);
		}
		sdp = c->media.side[SIDE_A].last_local;
		n = c->media.side[SIDE_A].last_local_len;
	}
	if (sipua_leg_respond(c->a, 200, sdp, n, NULL) != 0) {
		fail_call(c, 500, "answer_failed", NULL);
		return;
	}
	c->final_code = 200;
	c->a_answered = true;
	c->state = CALL_ANSWERED;
	c->t_answer_ms = wall_ms();
	atomic_fetch_add(&b->c_answered, 1);
	call_ev_answered(c);
	b2b_media_on_answer(c);
	if (log_get_level() <= LOG_DEBUG) {
		char codec[48];

		b2b_sdp_codec(&c->media, codec, sizeof(codec));
		call_log(LOG_DEBUG, "call.answer", c, "b", "codec %s", codec);
	}
}

static void b_failed(struct call *c, const struct sipua_ev *ev)
{
	int code = b2b_map_failure(ev->status, ev->local, c->got_provisional);
	char cause[32];

	if (c->final_code || (!c->a && !c->orig))
		return;
	if (call_failover(c, ev->status, ev->local))
		return;   /* the next destination has it */
	if (c->orig)
		c->final_code = ev->status;   /* what the API's call ended with */
	snprintf(cause, sizeof(cause), "%s_%d", ev->local ? "local" : "remote", ev->status);
	call_log(LOG_INFO, "call.failed", c, "b", "B answered %d%s; A gets %d", ev->status,
		 ev->local ? " (local)" : "", code);
	fail_call(c, code, cause, NULL);
}

/* ---- event dispatch ---- */

void call_on_leg_event(struct b2bua *b, struct call *c, const struct sipua_ev *ev)
{
	int side = ev->leg == c->a ? SIDE_A : SIDE_B;

	(void)b;
	if (c->xfer && c->xfer->on_leg && ev->leg != c->a && ev->leg != c->b_leg &&
	    c->xfer->on_leg(c, ev))
		return;   /* the new leg of a re-bridge, until it replaces one (b2bua_rebridge.c) */
	if (c->orig && side == SIDE_A && call_orig_bridge_event(c, ev))
		return;   /* the leg bridge_to placed: outgoing, answered by its callee */
	switch (ev->type) {
	case SIPUA_EV_PROGRESS:
		if (side == SIDE_B)
			b_progress(c, ev);
		break;
	case SIPUA_EV_ANSWERED:
		if (side == SIDE_B)
			b_answered(c, ev);
		break;
	case SIPUA_EV_FAILED:
		if (side == SIDE_B)
			b_failed(c, ev);
		break;
	case SIPUA_EV_OFFER:
		call_on_offer(c, side, ev);
		break;
	case SIPUA_EV_OFFER_RESULT:
		call_on_offer_result(c, ev);
		break;
	case SIPUA_EV_OFFER_CANCELLED:
		call_on_offer_cancelled(c, side);
		break;
	case SIPUA_EV_ACK:
		call_on_ack(c, side, ev);
		break;
	case SIPUA_EV_INFO:
		call_on_info(c, side, ev);
		break;
	case SIPUA_EV_REFER_ANSWER:
	case SIPUA_EV_REFER_NOTIFY:
		b2b_xfer_on_event(c, side, ev);
		break;
	case SIPUA_EV_TERMINATED:
		if (side == SIDE_A) {
			c->a = NULL;
			if (ev->end == SIPUA_END_CANCEL) {
				set_cause(c, "cancelled");
				if (!c->final_code)
					c->final_code = 487;   /* the stack answered the INVITE */
			}
			else if (ev->end == SIPUA_END_BYE_REMOTE)
				set_cause(c, "bye_a");
			else if (ev->end == SIPUA_END_SESSION_EXPIRED)
				set_cause(c, "session_timeout");
			else if ((!c->a_answered && !c->final_code) ||
				 (c->a_answered && ev->end == SIPUA_END_ERROR))
				set_cause(c, "a_lost");
			if (c->b_leg)
				sipua_leg_hangup(c->b_leg, 0);
		} else {
			c->b_leg = NULL;
			if (ev->end == SIPUA_END_BYE_REMOTE)
				set_cause(c, "bye_b");
			else if (ev->end == SIPUA_END_SESSION_EXPIRED)
				set_cause(c, "session_timeout");
			else if (ev->end == SIPUA_END_ERROR && c->a_answered)
				set_cause(c, "b_lost");
			if (c->a) {
				if (c->a_answered)
					sipua_leg_hangup(c->a, 0);
				else if (!c->final_code)
					fail_call(c, 500, "b_lost", NULL);
			}
		}
		if (c->state != CALL_ENDING && (!c->a || !c->b_leg))
			c->state = CALL_ENDING;
		timers_cancel(c);
		call_view_changed(c);   /* a leg less */
		maybe_end(c);
		break;
	default:
		break;
	}
}

void call_on_media_event(struct b2bua *b, const struct media_event *ev)
{
	struct call *c = (struct call *)(uintptr_t)ev->cookie;

	if (ev->type == MEDIA_EV_CLOSED) {
		memcpy(c->stats, ev->stats, sizeof(c->stats));
		c->have_stats = true;
		if (c->ms_closing) {
			emit_cdr(c);
			call_free(c);
		}
		return;
	}
	if (ev->type == MEDIA_EV_FEAT) {
		b2b_media_event(c, ev);
		return;
	}
	if (ev->type == MEDIA_EV_DTMF) {
		call_on_dtmf(c, &ev->dtmf);
		return;
	}
	if (ev->type == MEDIA_EV_TIMEOUT && c->ms && !c->ms_closing && c->state == CALL_ANSWERED) {
		atomic_fetch_add(&b->c_rtp_timeouts, 1);
		call_log(LOG_INFO, "call.rtp_timeout", c, NULL, "no RTP: hanging up");
		call_hangup(c, "rtp_timeout");
	}
}
