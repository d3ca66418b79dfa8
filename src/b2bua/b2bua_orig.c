/*
 * b2bua_orig.c — calls placed by the control plane (POST /v1/calls): a call with no A
 * leg, whose one outgoing leg is answered by trunx's own media.
 *
 * DESIGN
 * The call is an ordinary struct call with c->a NULL and c->orig set, so listing,
 * hangup, media control, events, admission, failover and the call record are the
 * ones every call has. The route step is route_decide_api() (the caller ID must be a
 * DID of the tenant; a number goes by the tenant's outbound rules to carrier trunks
 * in their dial format, a sip: URI only to one of the tenant's peers); admission takes
 * the settings' outbound pool ("api") with the tenant and global caps, asked of the
 * control thread as for any call. Set-up is the delayed-offer path of
 * b2bua_call.c: trunx offers its own codecs to the leg, and side A of the media
 * session stays without a remote, so the session terminates the leg's audio: a
 * prompt plays toward it, the recorder and the detector tap what it sends.
 *
 * bridge_to: when the leg answers, trunx's answer to its own offer (the delayed-offer
 * step's output, built for side A) is the offer of a second leg, placed to bridge_to
 * as the call's A leg; its answer gives side A its remote, and the session relays (or
 * transcodes) between the two like any call. Either leg ending ends both. bridge_to is
 * routed as `to` is (route_decide_api: the tenant's outbound rules by prefix, priority
 * and weight), and the second leg goes through those destinations in turn as the
 * first leg does (b2bua_route.c): the next one on 5xx, 408 or no response before any
 * 18x. It takes its own lease first (the bridge's trunk group pool, the tenant and
 * global caps), asked of the control thread like any call's and given back when the
 * call ends; a refusal ends the call with the reason in its event and record.
 *
 * Without bridge_to side A has no remote, and nothing but a prompt would reach the
 * leg (until a re-bridge gives it a party): the media session sends it comfort noise
 * (media_session_fill: 50 packets a second of near-silent noise in its codec, its
 * stream continuous), so that its NAT bindings and media timers hold; a prompt
 * replaces it, and the bridge ends it. RFC 3389 CN is not used: trunx's own offer
 * does not carry it, so it is never negotiated on these legs.
 *
 * The API gets exactly one answer: when the INVITE is out (the call id), or when the
 * call was refused (the cause). Ringing is bounded by the request's timeout: then the
 * INVITE is cancelled and the call ends as no_answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b2bua_int.h"
#include "log.h"
#include "media_feat.h"

#define ORIG_TIMEOUT_DEFAULT_S 60

struct call_orig {
	b2bua_reply_h *h;          /* NULL once answered */
	void          *arg;
	unsigned       timeout_s;
	bool           amd;
	int16_t       *pcm;
	size_t         n;
	char           record_dir[400];
	bool           bridge;           /* bridge_to: the second leg's destinations */
	struct route_target *bt;         /* in turn, as routing ordered them */
	size_t         bn, bi;           /* how many; the one being tried */
	bool           b_ringing;        /* the second leg sent a 18x: no failover */
	char          *b_offer;          /* what each try offers */
	size_t         b_offer_len;
	struct admit_req bareq;          /* the second leg's own lease */
	bool           b_admitting;      /* asked, no answer yet (c->admit_pending too) */
	bool           b_leased;         /* asked: give it back at the end */
	bool           filling;          /* comfort noise toward the leg is on */
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void reply(b2bua_reply_h *h, void *arg, int status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	h(status, s, arg);
}

static void refuse_early(b2bua_reply_h *h, void *arg, int status, const char *cause,
			 const char *why)
{
	reply(h, arg, status, json_pack("{s:s,s:s}", "error", cause, "message", why));
}

static int status_of(const char *cause)
{
	if (!strcmp(cause, "pool_full") || !strcmp(cause, "tenant_over_cap") ||
	    !strcmp(cause, "global_cap"))
		return EBUSY;
	if (!strcmp(cause, "callerid_not_owned") || !strcmp(cause, "not_a_peer") ||
	    !strcmp(cause, "tenant_unconfigured"))
		return EPERM;
	if (!strcmp(cause, "no_route") || !strcmp(cause, "trunks_down"))
		return ENOENT;
	return EAGAIN;
}

/* The ring time is over: cancel, the call ends as no_answer. */
static void orig_timeout(void *arg)
{
	struct call *c = arg;

	c->ring_timer = NULL;
	if (c->state != CALL_CALLING && c->state != CALL_EARLY)
		return;
	call_log(LOG_INFO, "call.timeout", c, "b", "no answer within %u s",
		 c->orig->timeout_s);
	c->final_code = 487;   /* the leg's own 487 is ours, not a failure to fail over */
	fail_call(c, 487, "no_answer", "ring timeout");
}

void call_orig_settled(struct call *c)
{
	struct call_orig *o = c->orig;
	b2bua_reply_h *h = o->h;

	if (!h)
		return;
	o->h = NULL;
	if (c->b_leg && c->state != CALL_ENDING) {
		sipua_timer_start(c->b->ua, o->timeout_s * 1000u, orig_timeout, c, &c->ring_timer);
		call_view_changed(c);   /* seen by a read that follows the answer */
		reply(h, o->arg, 0, json_pack("{s:s,s:s,s:s}", "id", c->id, "state",
					      call_state_name(c->state), "cdr_id", c->cdr_id));
		return;
	}
	reply(h, o->arg, status_of(c->cause[0] ? c->cause : "unavailable"),
	      json_pack("{s:s,s:s}", "error", c->cause[0] ? c->cause : "unavailable", "message",
			c->reason[0] ? c->reason : c->cause[0] ? c->cause : "not placed"));
}

void call_orig_free(struct call *c)
{
	struct call_orig *o = c->orig;

	c->orig = NULL;
	if (o->h)
		refuse_early(o->h, o->arg, EAGAIN, c->cause[0] ? c->cause : "shutting_down",
			     "the call ended before it was placed");
	if (o->b_leased && c->b->hooks.release)
		c->b->hooks.release(o->bareq.lease, c->b->hooks.arg);
	free(o->pcm);
	free(o->bt);
	free(o->b_offer);
	free(o);
}

void call_orig_fill(struct call *c)
{
	struct call_orig *o = c->orig;
	bool want;

	if (!o || !c->ms || c->ms_closing)
		return;
	/* Not while a bridge_to leg rings: its early media is what the leg hears then. */
	want = c->state == CALL_ANSWERED && !o->bridge && !c->media.side[MEDIA_SIDE_A].valid;
	if (want != o->filling && media_session_fill(c->ms, MEDIA_SIDE_B, want) == 0)
		o->filling = want;
}

void call_orig_take_lease(struct call *c, const struct admit_req *q)
{
	struct call_orig *o = c->orig;

	if (o->b_leased && c->b->hooks.release)
		c->b->hooks.release(o->bareq.lease, c->b->hooks.arg);
	o->bareq = *q;
	o->b_leased = true;
}

/* At answer: what the request asked for, on trunx's side of the leg. */
static void orig_media(struct call *c)
{
	struct call_orig *o = c->orig;
	char path[sizeof(c->rec_path)];
	int err;

	if (o->record_dir[0]) {
		snprintf(path, sizeof(path), "%s/%s.wav", o->record_dir, c->id);
		err = b2b_media_record(c, path);
		if (err)
			call_log(LOG_ERROR, "call.record", c, NULL, "cannot record to %s: %s", path,
				 strerror(err));
	}
	if (o->amd && (err = b2b_media_amd(c, MEDIA_SIDE_B)) != 0)
		call_log(LOG_ERROR, "call.amd", c, "b", "cannot start AMD: %s", strerror(err));
	if (o->pcm) {
		err = media_session_play(c->ms, MEDIA_SIDE_B, o->pcm, o->n, false);
		o->pcm = NULL;   /* taken in every case */
		if (err)
			call_log(LOG_ERROR, "call.play", c, "b", "cannot play: %s", strerror(err));
	}
}

static const char *trunk_label(const struct trunk *t)
{
	return t ? trunk_get_cfg(t)->name : "uri";
}

static void bridge_try(struct call *c);
static void bridge_refused(struct call *c, enum admit_verdict v);

/* The second leg failed, or the current try is given up: the next destination, if
 * routing failover allows it, else the call ends. */
static void bridge_next(struct call *c, int status, bool local)
{
	struct call_orig *o = c->orig;
	struct sipua_leg *old = c->a;
	const char *from = trunk_label(c->trunk_in);

	if (o->b_ringing || o->bi + 1 >= o->bn ||
	    (!local && status != 408 && (status < 500 || status > 599))) {
		call_log(LOG_INFO, "call.bridge", c, "a", "%s answered %d%s", from, status,
			 local ? " (no answer)" : "");
		snprintf(c->reason, sizeof(c->reason), "bridge_to answered %d%s", status,
			 local ? " (no answer)" : "");
		call_hangup(c, "bridge_failed");
		return;
	}
	/* The leg that failed is left to the stack: its last events are not ours. */
	if (old) {
		sipua_leg_set_ctx(old, NULL);
		sipua_leg_hangup(old, 0);
	}
	c->a = NULL;
	o->bi++;
	atomic_fetch_add(&c->b->c_failover, 1);
	call_log(LOG_INFO, "call.failover", c, "a", "%s answered %d%s: trying %s", from, status,
		 local ? " (no answer)" : "", trunk_label(o->bt[o->bi].trunk));
	bridge_try(c);
}

/* No response from the second leg's destination within invite_timeout. */
static void bridge_invite_timeout(void *arg)
{
	struct call *c = arg;

	c->invite_timer = NULL;
	if (c->state != CALL_ANSWERED || !c->a || c->orig->b_ringing)
		return;
	bridge_next(c, 408, true);
}

/* The second leg to the current destination, offered what the first one's answer
 * left for side A. */
static void bridge_try(struct call *c)
{
	struct b2bua *b = c->b;
	struct call_orig *o = c->orig;
	struct route_target *t = &o->bt[o->bi];
	char from_uri[CALL_NUM_MAX + CONF_HOST_MAX + 16];
	struct sipua_invite inv;

	b2b_target_invite(b, t, c->from, o->b_offer, o->b_offer_len, from_uri, sizeof(from_uri),
			  &inv);
	c->trunk_in = t->trunk;
	c->tls[MEDIA_SIDE_A] = sipua_uri_transport(t->ruri) == SIPUA_TP_TLS;
	if (sipua_leg_invite(b->ua, &inv, c, &c->a) != 0) {
		c->a = NULL;
		call_log(LOG_WARN, "call.bridge", c, "a", "cannot call %s", t->ruri);
		snprintf(c->reason, sizeof(c->reason), "bridge_to: cannot call %.120s", t->ruri);
		call_hangup(c, "bridge_failed");
		return;
	}
	snprintf(c->a_call_id, sizeof(c->a_call_id), "%s", sipua_leg_call_id(c->a));
	call_view_changed(c);   /* its new leg */
	sipua_timer_cancel(c->invite_timer);
	c->invite_timer = NULL;
	if (b->sip.invite_timeout)
		sipua_timer_start(b->ua, b->sip.invite_timeout * 1000u, bridge_invite_timeout, c,
				  &c->invite_timer);
	call_log(LOG_INFO, "call.bridge", c, "a", "calling %s via %s", t->ruri,
		 trunk_label(t->trunk));
}

/* The lease's answer is overdue: the call ends (and stays until the answer comes). */
static void bridge_admit_overdue(void *arg)
{
	struct call *c = arg;

	c->admit_timer = NULL;
	if (!c->orig->b_admitting || c->state == CALL_ENDING)
		return;
	atomic_fetch_add(&c->b->c_admit_unavailable, 1);
	snprintf(c->reason, sizeof(c->reason), "bridge_to: no admission answer");
	call_hangup(c, "bridge_admission_timeout");
}

#define BRIDGE_ADMIT_GRACE_MS 2000   /* after admit_timeout: the answer is overdue */

/* The second leg's lease is asked for; call_orig_bridge_admitted() goes on. */
static void bridge_start(struct call *c)
{
	struct b2bua *b = c->b;
	struct call_orig *o = c->orig;

	if (!b->hooks.admit || !o->bareq.lease[0]) {
		bridge_try(c);
		return;
	}
	o->b_admitting = o->b_leased = c->admit_pending = true;
	if (b->hooks.admit(&o->bareq, c, b->hooks.arg) != 0) {
		o->b_admitting = c->admit_pending = false;
		bridge_refused(c, ADMIT_UNAVAILABLE);
		return;
	}
	sipua_timer_start(b->ua, b->admit_timeout_ms + BRIDGE_ADMIT_GRACE_MS,
			  bridge_admit_overdue, c, &c->admit_timer);
}

/* The second leg may not be placed: the call ends, its event and record say why. */
static void bridge_refused(struct call *c, enum admit_verdict v)
{
	const struct admit_req *q = &c->orig->bareq;
	const char *budget = NULL, *cause;
	char why[sizeof(c->reason)];

	switch (v) {
	case ADMIT_POOL_FULL:
		budget = "pool";
		cause = "bridge_pool_full";
		snprintf(why, sizeof(why), "bridge_to: channel pool %s/%s full (%ld channels)",
			 q->group, q->pool, q->pool_cap);
		break;
	case ADMIT_TENANT_CAP:
		budget = "tenant";
		cause = "bridge_tenant_over_cap";
		snprintf(why, sizeof(why), "bridge_to: tenant %s at its cap of %ld calls",
			 q->tenant, q->tenant_cap);
		break;
	case ADMIT_GLOBAL_CAP:
		budget = "global";
		cause = "bridge_global_cap";
		snprintf(why, sizeof(why), "bridge_to: global cap of %ld calls reached",
			 q->global_cap);
		break;
	default:
		cause = "bridge_admission_unavailable";
		snprintf(why, sizeof(why), "bridge_to: admission unavailable");
		break;
	}
	if (budget) {
		atomic_fetch_add(&c->b->c_budget, 1);
		call_ev_budget(c, budget, why);
	} else {
		atomic_fetch_add(&c->b->c_admit_unavailable, 1);
	}
	call_log(LOG_INFO, "call.bridge", c, "a", "refused: %s", why);
	snprintf(c->reason, sizeof(c->reason), "%s", why);
	call_hangup(c, cause);
}

bool call_orig_bridge_admitted(struct call *c, enum admit_verdict v)
{
	struct call_orig *o = c->orig;

	if (!o->b_admitting)
		return false;   /* the first leg's answer */
	o->b_admitting = c->admit_pending = false;
	sipua_timer_cancel(c->admit_timer);
	c->admit_timer = NULL;
	if (c->state != CALL_ANSWERED || !c->b_leg)
		call_maybe_end(c);   /* ended meanwhile: the lease goes back with the call */
	else if (v == ADMIT_OK)
		bridge_try(c);
	else
		bridge_refused(c, v);
	return true;
}

bool call_orig_bridge_event(struct call *c, const struct sipua_ev *ev)
{
	char why[128];

	switch (ev->type) {
	case SIPUA_EV_PROGRESS:
		/* The first leg hears trunx's side until the answer; past a 18x the
		 * destination has the call (no failover). */
		if (ev->status > 100) {
			c->orig->b_ringing = true;
			sipua_timer_cancel(c->invite_timer);
			c->invite_timer = NULL;
		}
		return true;
	case SIPUA_EV_ANSWERED:
		sipua_timer_cancel(c->invite_timer);
		c->invite_timer = NULL;
		if (c->state != CALL_ANSWERED || !ev->sdp ||
		    b2b_sdp_remote(&c->media, MEDIA_SIDE_A, ev->sdp, ev->sdp_len, why,
				   sizeof(why)) != 0) {
			call_log(LOG_INFO, "call.bridge", c, "a", "answer unusable: %s",
				 ev->sdp ? why : "no SDP");
			call_hangup(c, "bridge_failed");
			return true;
		}
		call_media_update(c);
		call_log(LOG_INFO, "call.bridge", c, "a", "bridged");
		return true;
	case SIPUA_EV_FAILED:
		sipua_timer_cancel(c->invite_timer);
		c->invite_timer = NULL;
		if (c->state != CALL_ANSWERED)
			return true;   /* ending: the leg's end finishes the call */
		bridge_next(c, ev->status, ev->local);
		return true;
	default:
		return false;   /* offers, INFO, the end: as for any A leg */
	}
}

void call_orig_answered(struct call *c, const struct sipua_ev *ev)
{
	struct b2bua *b = c->b;
	struct call_orig *o = c->orig;
	char out[SDP_BUF_MAX];
	size_t n = 0;

	if (c->final_code || c->state == CALL_ENDING) {
		sipua_leg_hangup(c->b_leg, 0);   /* hung up or timed out meanwhile */
		return;
	}
	if (ev->bad_target) {
		fail_call(c, 502, "bad_target", "unusable Contact or Record-Route from the called party");
		return;
	}
	if (ev->sdp || c->orig->bridge) {
		if (call_b_answer_sdp(c, ev, out, sizeof(out), &n) != 0)
			return;
	} else if (!c->media.side[MEDIA_SIDE_B].valid) {
		fail_call(c, 500, "no_answer_sdp", "the called party answered without SDP");
		return;
	}
	/* Side A has no remote: the session terminates the leg's audio. */
	call_media_update(c);
	c->final_code = 200;
	c->a_answered = true;
	c->state = CALL_ANSWERED;
	c->t_answer_ms = wall_ms();
	atomic_fetch_add(&b->c_answered, 1);
	call_ev_answered(c);
	orig_media(c);
	call_orig_fill(c);   /* without bridge_to nothing else reaches the leg */
	if (o->bridge) {
		o->b_offer = n ? malloc(n + 1) : NULL;
		if (!o->b_offer) {
			call_hangup(c, "bridge_failed");   /* nothing to offer the second leg */
			return;
		}
		memcpy(o->b_offer, out, n);
		o->b_offer[n] = '\0';
		o->b_offer_len = n;
		bridge_start(c);
	}
}

void b2b_orig_start(struct b2bua *b, struct b2bua_orig_req *req, b2bua_reply_h *h, void *arg)
{
	struct route_decision *d = NULL;
	struct call_setup *su = NULL;
	struct call_orig *o = NULL;
	struct call *c = NULL;

	if (b->stopping || !route_table_is_db(b->rt)) {
		refuse_early(h, arg, EAGAIN, b->stopping ? "shutting_down" : "no_database",
			     b->stopping ? "trunx is stopping" :
			     "calls by API need the database routing");
		goto out;
	}
	d = malloc(sizeof(*d));
	o = calloc(1, sizeof(*o));
	su = calloc(1, sizeof(*su));
	c = calloc(1, sizeof(*c));
	if (!d || !o || !su || !c) {
		refuse_early(h, arg, EAGAIN, "no_memory", "out of memory");
		goto out;
	}
	route_decide_api(b->rt, req->tenant, req->to, req->from, b->rng ^ (uint64_t)wall_ms(),
			 b2b_trunk_usable, b, d);
	if (d->code) {
		if (d->event)
			atomic_fetch_add(&b->c_callerid, 1);
		refuse_early(h, arg, status_of(d->cause), d->cause, d->reason);
		goto out;
	}
	if (req->bridge_to[0]) {
		struct route_decision *d2 = malloc(sizeof(*d2));

		if (!d2) {
			refuse_early(h, arg, EAGAIN, "no_memory", "out of memory");
			goto out;
		}
		route_decide_api(b->rt, req->tenant, req->bridge_to, req->from,
				 b->rng ^ (uint64_t)wall_ms() ^ 1u, b2b_trunk_usable, b, d2);
		if (d2->code) {
			char why[200];

			snprintf(why, sizeof(why), "bridge_to: %s", d2->reason);
			refuse_early(h, arg, status_of(d2->cause), d2->cause, why);
			free(d2);
			goto out;
		}
		o->bt = calloc(d2->n_targets, sizeof(*o->bt));
		if (!o->bt) {
			refuse_early(h, arg, EAGAIN, "no_memory", "out of memory");
			free(d2);
			goto out;
		}
		memcpy(o->bt, d2->targets, d2->n_targets * sizeof(*o->bt));
		o->bn = d2->n_targets;
		o->bridge = true;
		snprintf(o->bareq.group, sizeof(o->bareq.group), "%s",
			 d2->group ? d2->group : "default");
		snprintf(o->bareq.pool, sizeof(o->bareq.pool), "%s", d2->pool ? d2->pool : "");
		o->bareq.pool_cap = d2->pool_channels;
		snprintf(o->bareq.tenant, sizeof(o->bareq.tenant), "%s", req->tenant);
		o->bareq.tenant_cap = d2->tenant_cap;
		o->bareq.global_cap = d2->global_cap;
		free(d2);
	}
	/* The call, as call_on_incoming makes one, without an A leg. */
	c->b = b;
	b2b_uuid(b, c->cdr_id);
	c->media.offer_from = -1;
	c->media.sess_id = (b->id_salt ^ ++b->seq) & 0x7fffffffffffull;
	snprintf(c->id, sizeof(c->id), "%08" PRIx64 "%08" PRIx64,
		 (uint64_t)(b->id_salt & 0xffffffffu), b->seq);
	c->rt = route_table_ref(b->rt);
	c->t_start_ms = wall_ms();
	c->delayed_offer = true;   /* trunx offers its own codecs to the leg */
	snprintf(c->a_call_id, sizeof(c->a_call_id), "api-%s", c->id);
	snprintf(c->api_rid, sizeof(c->api_rid), "%s", log_request_id() ? log_request_id() : "");
	snprintf(c->from, sizeof(c->from), "%s", req->from);
	snprintf(c->to, sizeof(c->to), "%.*s", (int)sizeof(c->to) - 1, req->to);
	snprintf(c->did, sizeof(c->did), "%s", d->did);
	snprintf(c->tenant, sizeof(c->tenant), "%s", req->tenant);
	o->h = h;
	o->arg = arg;
	o->timeout_s = req->timeout_s ? req->timeout_s : ORIG_TIMEOUT_DEFAULT_S;
	o->amd = req->amd;
	o->pcm = req->pcm;
	o->n = req->n;
	req->pcm = NULL;
	snprintf(o->record_dir, sizeof(o->record_dir), "%s", req->record_dir);
	c->orig = o;
	o = NULL;
	c->targets = calloc(d->n_targets, sizeof(*c->targets));
	atomic_fetch_add(&b->c_total, 1);
	call_link(c);
	if (!c->targets) {
		fail_call(c, 500, "no_memory", NULL);
		goto settle;
	}
	memcpy(c->targets, d->targets, d->n_targets * sizeof(*c->targets));
	c->n_targets = d->n_targets;
	snprintf(c->areq.lease, sizeof(c->areq.lease), "%s", c->cdr_id);
	if (c->orig->bridge)   /* the second leg's lease: the record's id, marked */
		snprintf(c->orig->bareq.lease, sizeof(c->orig->bareq.lease), "%.36s-b", c->cdr_id);
	snprintf(c->areq.group, sizeof(c->areq.group), "%s", d->group ? d->group : "default");
	snprintf(c->areq.pool, sizeof(c->areq.pool), "%s", d->pool ? d->pool : "");
	c->areq.pool_cap = d->pool_channels;
	snprintf(c->areq.tenant, sizeof(c->areq.tenant), "%s", req->tenant);
	c->areq.tenant_cap = d->tenant_cap;
	c->areq.global_cap = d->global_cap;
	c->trunk_out = c->targets[0].trunk;
	snprintf(su->ruri_b, sizeof(su->ruri_b), "%s", c->targets[0].ruri);
	snprintf(su->from_user, sizeof(su->from_user), "%s", c->targets[0].caller);
	su->max_forwards = b2b_max_forwards(-1, b->sip.max_forwards);
	/* max_calls counts the calls there are and the SIP front's admissions in flight,
	 * as for a call from a trunk (not max_cps: that is the trunks' rate). */
	if (b->sip.max_calls && call_load(b, true) >= b->sip.max_calls) {
		atomic_fetch_add(&b->c_overload, 1);
		fail_call(c, 503, "overload", "max_calls reached");
		goto settle;
	}
	if (b->hooks.admit) {
		call_admit_async(c, su);   /* call_admitted() settles it */
		su = NULL;
		if (c->admit_pending)
			goto out;
	} else {
		call_proceed(c, su);
		su = NULL;
	}
settle:
	call_orig_settled(c);
	call_maybe_end(c);
	c = NULL;
out:
	if (c && !c->b) {
		free(c);
	}
	free(su);
	if (o)
		free(o->bt);
	free(o);
	free(d);
	free(req->pcm);
	free(req);
}
