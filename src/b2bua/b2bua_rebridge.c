/*
 * b2bua_rebridge.c — transfer mode bridge: an answered call's kept leg is re-bridged
 * to a new destination by a new outgoing leg that trunx places itself (no REFER).
 *
 * DESIGN
 * In database mode the destination is routed as POST /v1/calls routes `to`
 * (route_decide_api: an E.164 number by the tenant's outbound routes, a sip: URI only
 * to one of its peers; the caller ID is the call's own DID), and the new leg takes a
 * lease of its own in admission (the settings' outbound pool with the tenant and
 * global caps), asked of the control thread like any call's. In file mode (no
 * database) `to` is a number routed by the [route] table as an incoming call from the
 * kept leg's trunk would be; there is no admission. The new leg is offered, per
 * destination, what the leg it replaces negotiated plus the codecs trunx transcodes
 * to the kept leg's, with SRTP as the destination's trunk wants it, on the same media
 * port (b2bua_rebridge_sdp.c). Until it answers nothing changes: the kept leg stays
 * bridged to the old one, hears it, and a failure (busy, no answer, unreachable after
 * every destination, an unusable answer, the pool full) leaves the call exactly as it
 * was (call.transfer failed). On its answer the side's remote becomes the new party's
 * — relayed when it took the kept leg's codec, transcoded otherwise; the media
 * session keeps the kept leg's SSRC, sequence and timestamps across the change, and
 * the codec and keys toward the kept leg are unchanged, so it needs no re-INVITE —
 * the old leg gets BYE (its end logged with cause transferred), its lease goes back
 * and the new one becomes the call's. The call record stays one record: same id,
 * start and answer times; its legs and trunks are the ones at its end; the transfer
 * itself is in the call.transfer events.
 *
 * A call placed by the API (b2bua_orig.c) holds a lease per leg: the new leg's lease
 * replaces the one of the leg it replaces. Its leg b (the called party) may be kept
 * and bridged to a new leg a also when it has none yet (no bridge_to: the prompt
 * side's audio then gives way to the new party's, as bridge_to would have done).
 *
 * The API gets one answer: 202 once the new leg's INVITE is out, or the refusal
 * (route, authorisation, admission). The new leg's events are routed here by the
 * call's transfer hooks while it is not one of the call's legs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b2bua_int.h"
#include "log.h"

#define REBRIDGE_RING_DEFAULT_S 60

struct b2b_rebridge {
	b2bua_reply_h       *h;            /* NULL once the API was answered */
	void                *arg;
	struct route_target *targets;
	size_t               n, i;         /* destinations; the one being tried */
	struct admit_req     areq;         /* the new leg's lease */
	bool                 lease;        /* asked for and not (yet) the call's */
	struct sipua_leg    *leg;          /* the new leg while it is ours */
	bool                 got_provisional;
	int                  last_status;
	char                 caller[CALL_NUM_MAX];
	struct b2b_reoffer   off;          /* the offer to the current destination */
	const char          *why_code;     /* no destination could be offered: why */
	char                 why[160];
};

static const char *leg_name(int side)
{
	return side ? "b" : "a";
}

static const char *trunk_label(const struct trunk *t)
{
	return t ? trunk_get_cfg(t)->name : "uri";
}

static void answer_api(struct call *c, struct b2b_rebridge *rb, int status, const char *code,
		       const char *msg)
{
	const struct b2b_xfer *x = c->xfer;
	b2bua_reply_h *h = rb->h;
	json_t *o;
	char *s;

	if (!h)
		return;
	rb->h = NULL;
	if (status == 0 && x)
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", c->id, "leg", leg_name(x->side),
			      "mode", "bridge", "to", x->to, "target", x->target, "result",
			      "bridging");
	else
		o = json_pack("{s:s,s:s,s:s}", "id", c->id, "error", code, "message", msg);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	h(status, s, rb->arg);
}

/* Leaves a leg that is not the call's to the stack: its last events are not ours. */
static void drop_leg(struct sipua_leg **legp)
{
	if (!*legp)
		return;
	sipua_leg_set_ctx(*legp, NULL);
	sipua_leg_hangup(*legp, 0);
	*legp = NULL;
}

/* xfer_end's hook: whatever the transfer still holds goes. */
static void rb_end(struct call *c)
{
	struct b2b_rebridge *rb = c->xfer->rb;
	struct b2bua *b = c->b;

	if (!rb)
		return;
	c->xfer->rb = NULL;
	drop_leg(&rb->leg);
	if (rb->lease && b->hooks.release)
		b->hooks.release(rb->areq.lease, b->hooks.arg);
	answer_api(c, rb, EAGAIN, "transfer_failed", "the transfer ended before its leg was "
		   "placed");
	free(rb->targets);
	free(rb);
}

static void ring_timeout(void *arg)
{
	struct call *c = arg;

	if (!c->xfer || !c->xfer->rb)
		return;
	c->xfer->timer = NULL;   /* fired: freed by the timer code */
	b2b_xfer_failed(c, 408, "the new party did not answer in time");
}

/* The call's SDP context with side `side` made the destination's: its trunk's codecs,
 * SRTP policy (keys only over TLS unless the trunk allows them without), Opus options
 * and DTMF way. */
static void target_ctx(const struct call *c, const struct route_target *t, int side,
		       struct b2b_sdp_ctx *x, const char **allowed)
{
	const struct trunk_cfg *tc = t->trunk ? trunk_get_cfg(t->trunk) : NULL;
	bool tls = sipua_uri_transport(t->ruri) == SIPUA_TP_TLS;

	call_sdp_ctx(c, x, allowed);
	x->scratch = NULL;
	x->prefer[side] = NULL;
	x->n_prefer[side] = 0;
	x->opus[side].complexity = 5;
	x->opus[side].fec = true;
	x->opus[side].dtx = false;
	x->dtmf[side] = MEDIA_DTMF_RFC4733;
	x->srtp[side].mode = B2B_SRTP_OFF;
	x->srtp[side].keys_ok = tls;
	if (!tc)
		return;
	x->srtp[side].mode = tc->srtp == TRUNK_SRTP_REQUIRED ? B2B_SRTP_REQUIRED :
			     tc->srtp == TRUNK_SRTP_OPTIONAL ? B2B_SRTP_OPTIONAL : B2B_SRTP_OFF;
	x->srtp[side].keys_ok = tls || tc->srtp_without_tls;
	x->prefer[side] = tc->codecs;
	x->n_prefer[side] = tc->n_codecs;
	x->opus[side].complexity = tc->opus_complexity;
	x->opus[side].fec = tc->opus_fec;
	x->opus[side].dtx = tc->opus_dtx;
	x->dtmf[side] = (uint8_t)b2b_trunk_dtmf(tc);
}

/* The INVITE of the new leg to the current destination, or the next ones. */
static int place(struct call *c)
{
	struct b2bua *b = c->b;
	struct b2b_xfer *x = c->xfer;
	struct b2b_rebridge *rb = x->rb;
	char from_uri[CALL_NUM_MAX + CONF_HOST_MAX + 16];
	unsigned ring_s = b->sip.ring_timeout ? b->sip.ring_timeout : REBRIDGE_RING_DEFAULT_S;

	for (; rb->i < rb->n; rb->i++) {
		const struct route_target *t = &rb->targets[rb->i];
		const char *allowed[B2B_ALLOWED_MAX];
		struct sipua_invite inv;
		struct b2b_sdp_ctx sx;
		char why[160];
		int err;

		target_ctx(c, t, !x->side, &sx, allowed);
		err = b2b_rebridge_offer(&c->media, !x->side, &sx, &rb->off, why, sizeof(why));
		if (err) {
			call_log(LOG_WARN, "call.transfer", c, leg_name(!x->side),
				 "cannot offer %s: %s", t->ruri, why);
			snprintf(rb->why, sizeof(rb->why), "%.60s: %.96s", t->ruri, why);
			rb->why_code = err == ENOTSUP ? "no_usable_media" : "unavailable";
			continue;
		}
		b2b_target_invite(b, t, rb->caller, rb->off.sdp, rb->off.len, from_uri,
				  sizeof(from_uri), &inv);
		if (sipua_leg_invite(b->ua, &inv, c, &rb->leg) != 0) {
			rb->leg = NULL;
			call_log(LOG_WARN, "call.transfer", c, leg_name(!x->side),
				 "cannot call %s", t->ruri);
			continue;
		}
		rb->got_provisional = false;
		rb->last_status = 0;
		snprintf(x->target, sizeof(x->target), "%s", t->ruri);
		call_log(LOG_INFO, "call.transfer_start", c, leg_name(!x->side),
			 "re-bridging leg %s: calling %s via %s", leg_name(x->side), t->ruri,
			 trunk_label(t->trunk));
		sipua_timer_cancel(x->timer);
		x->timer = NULL;
		if (sipua_timer_start(b->ua, ring_s * 1000u, ring_timeout, c, &x->timer) != 0)
			x->timer = NULL;
		if (rb->h) {
			answer_api(c, rb, 0, NULL, NULL);
			b2b_xfer_report(c, "requested", 0, NULL);
		}
		return 0;
	}
	return EIO;
}

/* Placing failed for every destination left. */
static void place_failed(struct call *c)
{
	struct b2b_rebridge *rb = c->xfer->rb;

	if (rb->h) {
		/* Every destination refused by its own policy (codecs, SRTP over plain
		 * signalling) is the request's fault: 422 with the reason. */
		if (rb->why_code && !strcmp(rb->why_code, "no_usable_media"))
			answer_api(c, rb, EINVAL, rb->why_code, rb->why);
		else
			answer_api(c, rb, EAGAIN, "bridge_failed", "the new leg could not be placed");
		b2b_xfer_done(c);   /* never requested: no event */
	} else {
		b2b_xfer_failed(c, 503, "no destination left to try");
	}
}

/* Why the call's leg `kept` cannot be re-bridged now, or NULL. */
static const char *not_bridgeable(const struct call *c, int kept)
{
	if (!c->b_leg)
		return "the call has no leg b (or it is ending): nothing to re-bridge";
	if (!c->a && c->orig && !kept)
		return "the call was placed by the API without bridge_to: it has no leg a to "
		       "keep; keep leg b (\"leg\": \"b\")";
	if (!c->a && !c->orig)
		return "the call has one leg (or its other leg is not answered yet): nothing to "
		       "re-bridge";
	if (c->a && c->orig && !c->media.side[MEDIA_SIDE_A].valid)
		return "its bridge_to leg is not answered yet";
	return NULL;
}

static void rb_admitted(struct call *c, enum admit_verdict v)
{
	struct b2b_rebridge *rb = c->xfer->rb;
	const char *code = "admission_unavailable";
	char why[160];
	int status = EAGAIN;

	if (c->state != CALL_ANSWERED || not_bridgeable(c, c->xfer->side)) {
		answer_api(c, rb, ENOTCONN, "not_answered", "the call ended meanwhile");
		b2b_xfer_done(c);
		call_maybe_end(c);
		return;
	}
	if (v == ADMIT_OK) {
		if (place(c) != 0)
			place_failed(c);
		return;
	}
	switch (v) {
	case ADMIT_POOL_FULL:
		code = "pool_full";
		snprintf(why, sizeof(why), "channel pool %s/%s full (%ld channels)",
			 rb->areq.group, rb->areq.pool, rb->areq.pool_cap);
		call_ev_budget(c, "pool", why);
		status = EDQUOT;
		break;
	case ADMIT_TENANT_CAP:
		code = "tenant_over_cap";
		snprintf(why, sizeof(why), "tenant %s at its cap of %ld calls", rb->areq.tenant,
			 rb->areq.tenant_cap);
		call_ev_budget(c, "tenant", why);
		status = EDQUOT;
		break;
	case ADMIT_GLOBAL_CAP:
		code = "global_cap";
		snprintf(why, sizeof(why), "global cap of %ld calls reached", rb->areq.global_cap);
		call_ev_budget(c, "global", why);
		status = EDQUOT;
		break;
	default:
		snprintf(why, sizeof(why), "admission unavailable");
		break;
	}
	call_log(LOG_INFO, "call.transfer_refused", c, leg_name(!c->xfer->side), "%s", why);
	answer_api(c, rb, status, code, why);
	b2b_xfer_done(c);
}

/* The new party answered: it takes the replaced side's place. */
static void answered(struct call *c, const struct sipua_ev *ev)
{
	struct b2bua *b = c->b;
	struct b2b_xfer *x = c->xfer;
	struct b2b_rebridge *rb = x->rb;
	int side = !x->side;
	const struct route_target *t = &rb->targets[rb->i];
	struct b2b_media *m;
	struct sipua_leg *old;
	const char *allowed[B2B_ALLOWED_MAX];
	struct b2b_sdp_ctx sx;
	char why[160] = "", old_id[128], codec[2][48];

	sipua_timer_cancel(x->timer);
	x->timer = NULL;
	if (c->state != CALL_ANSWERED || !call_leg(c, x->side) ||
	    (!call_leg(c, side) && !c->orig)) {
		b2b_xfer_failed(c, 481, "the call ended meanwhile");
		return;
	}
	if (c->offer_busy) {
		b2b_xfer_failed(c, 491, "a media renegotiation ran meanwhile");
		return;
	}
	if (ev->bad_target || !ev->sdp) {
		b2b_xfer_failed(c, 502, ev->sdp ? "unusable Contact or Record-Route" :
				"the new party answered without SDP");
		return;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		b2b_xfer_failed(c, 500, "out of memory");
		return;
	}
	*m = c->media;
	target_ctx(c, t, side, &sx, allowed);
	if (b2b_rebridge_answer(m, side, &sx, &rb->off, ev->sdp, ev->sdp_len, why,
				sizeof(why)) != 0) {
		free(m);
		b2b_xfer_failed(c, 488, why);
		return;
	}
	/* The swap: the old leg leaves, the new one is the call's. */
	old = call_leg(c, side);
	snprintf(old_id, sizeof(old_id), "%s", !old ? "none" : side ? c->b_call_id :
		 c->a_call_id);
	if (old) {
		sipua_leg_set_ctx(old, NULL);
		sipua_leg_hangup(old, 0);
	}
	if (side) {
		c->b_leg = rb->leg;
		c->trunk_out = t->trunk;
		snprintf(c->b_call_id, sizeof(c->b_call_id), "%s", sipua_leg_call_id(rb->leg));
	} else {
		c->a = rb->leg;
		c->trunk_in = t->trunk;
		snprintf(c->a_call_id, sizeof(c->a_call_id), "%s", sipua_leg_call_id(rb->leg));
	}
	c->tls[side] = sipua_uri_transport(t->ruri) == SIPUA_TP_TLS;
	rb->leg = NULL;
	c->media = *m;
	free(m);
	call_media_update(c);
	call_orig_fill(c);   /* an API call's leg b hears the new party now */
	if (rb->lease && c->orig && side == MEDIA_SIDE_A) {
		call_orig_take_lease(c, &rb->areq);   /* the bridged leg's lease */
		rb->lease = false;
	} else if (rb->lease) {
		if (c->admit_requested && b->hooks.release)
			b->hooks.release(c->areq.lease, b->hooks.arg);
		c->areq = rb->areq;
		c->admit_requested = true;
		rb->lease = false;
	}
	b2b_sdp_codec_side(&c->media, x->side, codec[0], sizeof(codec[0]));
	b2b_sdp_codec_side(&c->media, side, codec[1], sizeof(codec[1]));
	call_log(LOG_INFO, "call.transferred", c, leg_name(side),
		 "leg %s bridged to %s via %s (%s, %s %s %s); %s%s%s", leg_name(x->side),
		 t->ruri, trunk_label(t->trunk), c->media.transcode ? "transcoding" : "relay",
		 codec[0], c->media.transcode ? "<->" : "=", codec[1],
		 old ? "the old leg (Call-ID " : "it had no other leg (trunx's media answered it)",
		 old ? old_id : "", old ? ") gets BYE, cause transferred" : "");
	b2b_xfer_report(c, "completed", ev->status, NULL);
	b2b_xfer_done(c);
}

static void failed(struct call *c, const struct sipua_ev *ev)
{
	struct b2b_xfer *x = c->xfer;
	struct b2b_rebridge *rb = x->rb;
	bool next = !rb->got_provisional && rb->i + 1 < rb->n &&
		    (ev->local || ev->status == 408 || (ev->status >= 500 && ev->status <= 599));
	char why[96];

	sipua_leg_set_ctx(rb->leg, NULL);   /* it ends by itself */
	rb->leg = NULL;
	if (next) {
		call_log(LOG_INFO, "call.failover", c, leg_name(!x->side),
			 "%s answered %d%s: trying the next destination",
			 rb->targets[rb->i].ruri, ev->status, ev->local ? " (no answer)" : "");
		atomic_fetch_add(&c->b->c_failover, 1);
		rb->i++;
		if (place(c) == 0)
			return;
	}
	snprintf(why, sizeof(why), "the new party answered %d%s", ev->status,
		 ev->local ? " (no answer)" : "");
	b2b_xfer_failed(c, ev->status, why);
}

static bool rb_on_leg(struct call *c, const struct sipua_ev *ev)
{
	struct b2b_rebridge *rb = c->xfer->rb;

	if (!rb || ev->leg != rb->leg)
		return true;   /* no leg of the call's: nothing to do with it */
	switch (ev->type) {
	case SIPUA_EV_PROGRESS:
		if (ev->status > 100)
			rb->got_provisional = true;
		if (ev->status != rb->last_status)
			b2b_xfer_report(c, "progress", ev->status, NULL);
		rb->last_status = ev->status;
		break;
	case SIPUA_EV_ANSWERED:
		answered(c, ev);
		break;
	case SIPUA_EV_FAILED:
		failed(c, ev);
		break;
	case SIPUA_EV_TERMINATED:
		rb->leg = NULL;
		b2b_xfer_failed(c, 487, "the new leg ended before it was bridged");
		break;
	default:
		break;   /* nothing else comes before its answer */
	}
	return true;
}

static int refusal_status(const char *cause)
{
	if (!strcmp(cause, "callerid_not_owned") || !strcmp(cause, "not_a_peer") ||
	    !strcmp(cause, "tenant_unconfigured"))
		return EPERM;
	return EINVAL;   /* no route, trunks down, a destination that is not one */
}

static void refuse(struct call *c, b2bua_reply_h *h, void *arg, int status, const char *code,
		   const char *msg)
{
	struct b2b_rebridge rb = {.h = h, .arg = arg};

	answer_api(c, &rb, status, code, msg);
}

/* Routes r->to for the call (its own snapshot: the trunks stay valid while it lives),
 * from the call's DID or, failing that, its caller. */
static int route(struct call *c, const struct b2bua_xfer_req *r, struct route_decision *d,
		 char *caller, size_t len)
{
	const char *callers[2] = {c->did, c->from};
	bool tried = false;

	for (size_t i = 0; i < 2; i++) {
		if (!callers[i][0] || (i && !strcmp(callers[0], callers[1])))
			continue;
		tried = true;
		route_decide_api(c->rt, c->tenant, r->to, callers[i],
				 c->b->rng ^ c->t_start_ms ^ (uint64_t)time(NULL) ^ i,
				 b2b_trunk_usable, c->b, d);
		snprintf(caller, len, "%s", callers[i]);
		if (!d->code || !d->cause || strcmp(d->cause, "callerid_not_owned") != 0)
			break;
	}
	return tried ? 0 : EPERM;
}

/* File mode: `to` by the [route] table, as a call to it from the kept leg's trunk (or
 * from anywhere) would go; the caller ID the call's own number. */
static int route_file(struct call *c, const struct b2bua_xfer_req *r, int kept,
		      struct route_decision *d, char *caller, size_t len)
{
	const struct trunk *from = kept ? c->trunk_out : c->trunk_in;
	const struct route *rt = route_lookup(c->rt, r->to, from);
	struct route_target *t = &d->targets[0];

	memset(d, 0, offsetof(struct route_decision, targets));
	snprintf(caller, len, "%s", c->did[0] ? c->did : c->from);
	if (!rt && from)
		rt = route_lookup(c->rt, r->to, NULL);
	if (!rt) {
		d->code = 404;
		d->cause = "no_route";
		snprintf(d->reason, sizeof(d->reason), "no [route] for %.40s", r->to);
		return 0;
	}
	memset(t, 0, sizeof(*t));
	t->trunk = route_dest_trunk(rt);
	if (route_expand_uri(rt, r->to, t->ruri, sizeof(t->ruri)) != 0 || !t->ruri[0]) {
		d->code = 404;
		d->cause = "no_route";
		snprintf(d->reason, sizeof(d->reason), "route %.40s has no destination for %.40s",
			 route_get_cfg(rt)->name, r->to);
		return 0;
	}
	if (t->trunk && !b2b_trunk_usable(t->trunk, c->b)) {
		d->code = 503;
		d->cause = "trunks_down";
		snprintf(d->reason, sizeof(d->reason), "trunk %s of route %s is down",
			 trunk_get_cfg(t->trunk)->name, route_get_cfg(rt)->name);
		return 0;
	}
	d->pool_channels = d->tenant_cap = d->global_cap = -1;
	d->n_targets = 1;
	return 0;
}

static void lease_of(struct call *c, const struct route_decision *d, struct admit_req *q)
{
	b2b_uuid(c->b, q->lease);
	snprintf(q->group, sizeof(q->group), "%s", d->group ? d->group : "default");
	snprintf(q->pool, sizeof(q->pool), "%s", d->pool ? d->pool : "");
	q->pool_cap = d->pool_channels;
	snprintf(q->tenant, sizeof(q->tenant), "%s", c->tenant);
	q->tenant_cap = d->tenant_cap;
	q->global_cap = d->global_cap;
}

void b2b_rebridge_start(struct call *c, const struct b2bua_xfer_req *r, b2bua_reply_h *h,
			void *arg)
{
	struct b2bua *b = c->b;
	struct b2b_rebridge *rb = NULL;
	struct b2b_xfer *x = NULL;
	struct route_decision *d = NULL;
	int kept = r->leg ? 1 : 0;
	const char *why_s;
	char why[200];

	if (c->state != CALL_ANSWERED || !c->ms || c->ms_closing) {
		refuse(c, h, arg, ENOTCONN, "not_answered", "the call is not answered (or is "
		       "ending)");
		return;
	}
	if ((why_s = not_bridgeable(c, kept)) != NULL) {
		refuse(c, h, arg, ENOTCONN, "not_answered", why_s);
		return;
	}
	if (c->xfer || c->offer_busy) {
		refuse(c, h, arg, EBUSY, "transfer_in_progress", c->xfer ?
		       "a transfer of this call is in progress" :
		       "a media renegotiation is in progress: retry");
		return;
	}
	if (route_table_is_db(c->rt) && !c->tenant[0]) {
		refuse(c, h, arg, ENOTSUP, "not_implemented", "the call has no tenant (it came "
		       "by a [route] rule of the database snapshot): nothing to route its new "
		       "leg by");
		return;
	}
	if (!route_table_is_db(c->rt) && !b2b_is_e164(r->to)) {
		refuse(c, h, arg, EINVAL, "invalid_value", "to: without a database trunx routes "
		       "the new leg by the [route] table: give an E.164 number");
		return;
	}
	if (!b2b_is_e164(r->to) && strncmp(r->to, "sip:", 4) != 0 && strncmp(r->to, "sips:", 5) != 0) {
		refuse(c, h, arg, EINVAL, "invalid_value", "to: an E.164 number or a sip:/sips: "
		       "URI of one of the tenant's peers");
		return;
	}
	rb = calloc(1, sizeof(*rb));
	x = calloc(1, sizeof(*x));
	d = malloc(sizeof(*d));
	if (!rb || !x || !d) {
		refuse(c, h, arg, ENOMEM, "unavailable", "out of memory");
		goto out;
	}
	if ((route_table_is_db(c->rt) ? route(c, r, d, rb->caller, sizeof(rb->caller)) :
	     route_file(c, r, kept, d, rb->caller, sizeof(rb->caller))) != 0) {
		refuse(c, h, arg, EPERM, "callerid_not_owned", "the call has no number of the "
		       "tenant's to call from");
		goto out;
	}
	if (d->code) {
		snprintf(why, sizeof(why), "to: %s", d->reason);
		refuse(c, h, arg, refusal_status(d->cause ? d->cause : ""),
		       d->cause ? d->cause : "no_route", why);
		goto out;
	}
	rb->targets = d->n_targets ? calloc(d->n_targets, sizeof(*rb->targets)) : NULL;
	if (!rb->targets) {
		refuse(c, h, arg, ENOMEM, "unavailable", "out of memory");
		goto out;
	}
	memcpy(rb->targets, d->targets, d->n_targets * sizeof(*rb->targets));
	rb->n = d->n_targets;
	rb->h = h;
	rb->arg = arg;
	lease_of(c, d, &rb->areq);
	x->side = kept;
	x->bridge = true;
	snprintf(x->to, sizeof(x->to), "%s", r->to);
	snprintf(x->target, sizeof(x->target), "%s", rb->targets[0].ruri);
	x->rb = rb;
	x->on_leg = rb_on_leg;
	x->on_admitted = rb_admitted;
	x->on_end = rb_end;
	c->xfer = x;
	x = NULL;
	if (b->hooks.admit) {
		/* The new leg's own lease; the call stays until its answer. */
		rb->lease = true;
		c->xfer->admitting = c->admit_pending = true;
		if (b->hooks.admit(&rb->areq, c, b->hooks.arg) != 0) {
			c->xfer->admitting = c->admit_pending = false;
			rb->lease = false;
			atomic_fetch_add(&b->c_admit_unavailable, 1);
			answer_api(c, rb, EAGAIN, "admission_unavailable", "admission unavailable");
			b2b_xfer_done(c);
		}
		rb = NULL;
		goto out;   /* rb_admitted() goes on */
	}
	rb = NULL;
	if (place(c) != 0)
		place_failed(c);
out:
	if (rb) {
		free(rb->targets);
		free(rb);
	}
	free(x);
	free(d);
}
