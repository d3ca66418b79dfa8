/*
 * sipua_event.c — the NUA event dispatch: turns sofia-sip events into struct sipua_ev
 * for the handler, runs the source check on every out-of-dialog request and answers
 * those that are not calls, refuses INVITEs trunx cannot serve, keeps the handles of
 * silently dropped requests, and reads headers of the event's message by name.
 */
#include "sipua_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>

#include "log.h"
#include "sipua_msg.h"

/* ---- helpers ---- */

static void ev_set_sdp(struct sipua_ev *ev, sip_t const *sip)
{
	const char *sdp;
	size_t len;

	if (sipua_body_sdp(sip, &sdp, &len)) {
		ev->sdp = sdp;
		ev->sdp_len = len;
	}
}

/* The source address of the current event's message; false when it has none. */
static bool msg_src(nua_t *nua, struct sockaddr_storage *ss, enum sipua_transport *tp)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;

	memset(ss, 0, sizeof(*ss));
	if (tp)
		*tp = SIPUA_TP_UDP;
	if (!ai || !ai->ai_addr || ai->ai_addrlen == 0 || ai->ai_addrlen > sizeof(*ss) ||
	    ai->ai_addr->sa_family == AF_UNSPEC)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	/* A stream from the peer of a TLS connection it opened is TLS (sipua_tls.c). */
	if (tp && ai->ai_protocol == IPPROTO_TCP)
		*tp = sipua_tls_source(nua_magic(nua), (struct sockaddr *)ss) ? SIPUA_TP_TLS
									     : SIPUA_TP_TCP;
	return true;
}

/* Why our parser refused the Contact of the current event's message (NULL: it did
 * not, or the header did not parse). */
static const char *refusal_of(struct sipua *ua, nua_t *nua)
{
	return sipua_mclass_refusal(ua->mclass, nua_current_request(nua));
}

/* The msg of the current event has no source address (family 0) when the stack made
 * it up: a timeout, an ICMP error, a transport failure. */
static bool response_is_local(nua_t *nua, int status)
{
	struct sockaddr_storage ss;

	if (status >= 700)
		return true;
	return !msg_src(nua, &ss, NULL);
}

/* ---- silently dropped requests ---- */

void sipua_drop_add(struct sipua *ua, nua_handle_t *nh)
{
	struct sipua_drop *d;

	nua_handle_bind(nh, NULL);
	if (ua->drop_count == SIPUA_DROP_MAX) {
		/* Flood: release the oldest; the stack answers it (500) long after. */
		nua_handle_destroy(ua->drops[ua->drop_head].nh);
		ua->drop_head = (ua->drop_head + 1) % SIPUA_DROP_MAX;
		ua->drop_count--;
	}
	d = &ua->drops[(ua->drop_head + ua->drop_count) % SIPUA_DROP_MAX];
	d->nh = nh;
	d->expires_ms = sipua_now_ms() + SIPUA_DROP_MS;
	ua->drop_count++;
}

void sipua_drop_reap(struct sipua *ua, bool all)
{
	uint64_t now = sipua_now_ms();

	while (ua->drop_count) {
		struct sipua_drop *d = &ua->drops[ua->drop_head];

		if (!all && d->expires_ms > now)
			break;
		nua_handle_destroy(d->nh);
		d->nh = NULL;
		ua->drop_head = (ua->drop_head + 1) % SIPUA_DROP_MAX;
		ua->drop_count--;
	}
}

/* ---- out-of-dialog requests ---- */

/* Answers a request with a status and a Warning carrying the reason. */
static void respond_why(nua_t *nua, nua_handle_t *nh, int status, const char *why,
			nua_saved_event_t *saved)
{
	char warn[200];

	sipua_warning_value(NULL, why, warn, sizeof(warn));
	nua_respond(nh, status, sipua_phrase(status)[0] ? sipua_phrase(status) : NULL,
		    TAG_IF(saved, NUTAG_WITH_SAVED(saved)), TAG_IF(!saved, NUTAG_WITH_THIS(nua)),
		    SIPTAG_WARNING_STR(warn),
		    TAG_IF(status == 415, SIPTAG_ACCEPT_STR("application/sdp, multipart/mixed")),
		    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
}

static void incoming_invite(struct sipua *ua, nua_t *nua, nua_handle_t *nh, sip_t const *sip,
			    const struct sockaddr_storage *src, enum sipua_transport tp,
			    void *peer)
{
	struct sipua_incoming in = {0};
	struct sipua_incoming_buf buf;
	struct sipua_ev ev = {0};
	struct sipua_leg *leg;
	char why[128];
	int status;

	status = sipua_request_check(sip, SIPUA_REQ_INITIAL_INVITE, sipua_tpm(ua),
				     refusal_of(ua, nua), why, sizeof(why));
	if (status) {
		respond_why(nua, nh, status, why, NULL);
		nua_handle_destroy(nh);
		return;
	}
	leg = calloc(1, sizeof(*leg));
	if (!leg) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	leg->ua = ua;
	leg->nh = nh;
	leg->inbound = true;
	leg->inv_server_open = true;   /* until the ACK of our 2xx */
	leg->transport = tp;
	leg->src = *src;
	leg->peer_100rel = sipua_peer_100rel(sip);
	leg->policy.min_se = 90;
	sipua_incoming_fill(sip, &in, &buf);
	snprintf(leg->call_id, sizeof(leg->call_id), "%s", buf.call_id);
	sipua_leg_peer_add(leg, (const struct sockaddr *)src);
	sipua_leg_peer_route(leg, sip->sip_record_route, false);
	nua_handle_bind(nh, leg);
	sipua_leg_link(ua, leg);
	in.src = *src;
	in.transport = tp;
	in.peer = peer;
	in.call_id = leg->call_id;
	in.admitted = tp != SIPUA_TP_TLS && sipua_front_claim(ua, sip);

	/* The stack's automatic 100 is off (see sipua.c): stop A's retransmissions now. */
	nua_respond(nh, SIP_100_TRYING, TAG_END());

	ev.type = SIPUA_EV_INCOMING;
	ev.leg = leg;
	ev.in = &in;
	ev.msg = nua_current_request(nua);
	ev_set_sdp(&ev, sip);
	sipua_deliver(ua, &ev);
}

static void ood_request(struct sipua *ua, nua_event_t event, nua_t *nua, nua_handle_t *nh,
			sip_t const *sip)
{
	struct sockaddr_storage src;
	enum sipua_transport tp;
	enum sipua_verdict v = SIPUA_ACCEPT;
	const char *method = sip && sip->sip_request ? sip->sip_request->rq_method_name : "?";
	void *peer = NULL;

	msg_src(nua, &src, &tp);
	if (ua->stopping) {
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, NUTAG_WITH_THIS(nua),
			    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (ua->ch)
		v = ua->ch((const struct sockaddr *)&src, method, &peer, ua->arg);
	if (v == SIPUA_DROP) {
		sipua_drop_add(ua, nh);
		return;
	}
	if (v == SIPUA_BUSY) {
		char retry[16];

		snprintf(retry, sizeof(retry), "%u", atomic_load(&ua->retry_after));
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, NUTAG_WITH_THIS(nua),
			    SIPTAG_RETRY_AFTER_STR(retry), SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (v == SIPUA_REJECT) {
		/* A refused source learns nothing of what we serve (nmap's sip-methods
		 * reads Allow off any answer): the stack adds its Allow and Supported to
		 * every answer unless the handle's own say none. The handle is this
		 * request's alone; the two calls reach the stack in this order. */
		nua_set_hparams(nh, SIPTAG_ALLOW(SIP_NONE), SIPTAG_SUPPORTED(SIP_NONE), TAG_END());
		nua_respond(nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (event != nua_i_invite) {
		char why[128];
		int code = sipua_request_check(sip, SIPUA_REQ_OTHER, sipua_tpm(ua),
					       refusal_of(ua, nua), why, sizeof(why));

		if (code) {
			respond_why(nua, nh, code, why, NULL);
			nua_handle_destroy(nh);
			return;
		}
	}
	switch (event) {
	case nua_i_invite:
		incoming_invite(ua, nua, nh, sip, &src, tp, peer);
		return;
	case nua_i_options:
		/* Our Contact on the transport the request came on (RFC 3261 8.2.6,
		 * 11.2): left to the stack it named the TLS listener (sips:) whatever
		 * the request came on. */
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
			    SIPTAG_CONTACT_STR(sipua_contact_for(ua, tp)),
			    SIPTAG_ALLOW_STR(SIPUA_ALLOW),
			    SIPTAG_SUPPORTED_STR("timer, 100rel"), TAG_END());
		break;
	default:
		nua_respond(nh, SIP_405_METHOD_NOT_ALLOWED, NUTAG_WITH_THIS(nua),
			    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
		break;
	}
	nua_handle_destroy(nh);
}

/* ---- events on legs ---- */

static void on_r_invite(struct sipua *ua, nua_t *nua, struct sipua_leg *leg, int status,
			char const *phrase, sip_t const *sip)
{
	struct sipua_ev ev = {0};
	struct sockaddr_storage src;
	bool end_now = false, remote;

	ev.leg = leg;
	ev.status = status;
	remote = msg_src(nua, &src, NULL);
	if (remote && status > 100 && !leg->inbound)
		sipua_leg_peer_add(leg, (const struct sockaddr *)&src);
	/* The route set comes with the 18x/2xx of the INVITE that makes the dialog. */
	if (remote && status > 100 && status < 300 && !leg->inbound && !leg->confirmed && sip)
		sipua_leg_peer_route(leg, sip->sip_record_route, true);
	if (sip && sip->sip_call_id && sip->sip_call_id->i_id && !leg->call_id[0])
		snprintf(leg->call_id, sizeof(leg->call_id), "%s", sip->sip_call_id->i_id);
	/* A reliable 18x reported: the stack PRACKs it now (sipua_leg.c, PRACK). */
	if (status > 100 && status < 200 && remote && sip && sip->sip_rseq &&
	    (!leg->inbound || leg->reoffer_pending))
		sipua_leg_prack_sent(leg);
	if (leg->reoffer_pending) {
		if (status < 200)
			return;
		leg->reoffer_pending = false;
		if (leg->bye_deferred) {
			/* The session is ending: nobody waits for this answer. */
			sipua_leg_bye_resume(leg);
			return;
		}
		ev.type = SIPUA_EV_OFFER_RESULT;
		ev.local = !remote || status >= 700;
		ev_set_sdp(&ev, sip);
		sipua_deliver(ua, &ev);
		return;
	}
	if (leg->inbound || leg->confirmed || leg->failed)
		return;
	if (status == 100 && phrase && strncmp(phrase, "Retry After", 11) == 0) {
		/* The stack swallowed a 5xx with Retry-After and would re-send the INVITE
		 * by itself later: that is B refusing the call now. */
		status = 503;
		end_now = true;
	} else if (status == 401 || status == 407) {
		/* The trunk's credentials, once; without them the stack would keep the
		 * INVITE waiting for credentials we do not have. */
		if (leg->auth_user && leg->auth_tries < 1 &&
		    sipua_auth_answer(leg->nh, sip, leg->auth_user, leg->auth_secret)) {
			leg->auth_tries++;
			return;
		}
		end_now = true;
	}
	if (status < 200) {
		if (status == 100)
			return;
		ev.type = SIPUA_EV_PROGRESS;
	} else if (status < 300) {
		leg->confirmed = true;
		ev.type = SIPUA_EV_ANSWERED;
	} else {
		leg->failed = true;
		leg->end = SIPUA_END_REJECTED;
		ev.type = SIPUA_EV_FAILED;
		ev.local = !end_now && response_is_local(nua, status);
		if (leg->prack_late && !leg->hung_up) {
			/* Our CANCEL for a PRACK left unanswered: the PRACK's timeout, as
			 * the stack would have reported it (sipua_leg.c). */
			status = 408;
			ev.local = true;
			leg->end = SIPUA_END_ERROR;
		}
	}
	if (status < 300 && remote)
		ev.bad_target = sipua_response_bad_target(sip);
	if (status > 100 && status < 300 && remote && sip && sip->sip_to) {
		const char *tag = sip->sip_to->a_tag ? sip->sip_to->a_tag : "";

		if (status < 200 && sipua_has_sdp(sip) && !leg->early_sdp_tag[0])
			snprintf(leg->early_sdp_tag, sizeof(leg->early_sdp_tag), "%s", tag);
		else if (status >= 200 && leg->early_sdp_tag[0])
			ev.other_dialog = strncmp(tag, leg->early_sdp_tag,
						  sizeof(leg->early_sdp_tag) - 1) != 0;
	}
	ev.status = status;
	ev.msg = nua_current_request(nua);
	ev_set_sdp(&ev, sip);
	sipua_deliver(ua, &ev);
	if (end_now)
		sipua_leg_terminate(ua, leg, status);
}

/* 491 to an offer that meets another one on the same leg (RFC 3261 14.2, RFC 3311
 * 5.2): an offer of the peer's still unanswered, or our own re-INVITE pending. */
static bool offer_collides(struct sipua *ua, nua_t *nua, struct sipua_leg *leg)
{
	if (leg->offer == OFFER_NONE && !leg->reoffer_pending)
		return false;
	atomic_fetch_add(&ua->st_glare, 1);
	nua_respond(leg->nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_THIS(nua), TAG_END());
	return true;
}

static void on_offer(struct sipua *ua, nua_t *nua, struct sipua_leg *leg, sip_t const *sip,
		     bool update)
{
	struct sipua_ev ev = {0};

	if (update && !sipua_has_sdp(sip)) {
		/* A session refresh: nothing to negotiate. */
		nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
			    SIPTAG_CONTACT_STR(sipua_leg_contact(leg)), TAG_END());
		return;
	}
	if (offer_collides(ua, nua, leg))
		return;
	if (nua_save_event(nua, leg->saved) <= 0) {
		nua_respond(leg->nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_THIS(nua),
			    TAG_END());
		return;
	}
	leg->offer = update ? OFFER_UPDATE : OFFER_INVITE;
	if (!update)
		leg->inv_server_open = true;
	ev.type = SIPUA_EV_OFFER;
	ev.leg = leg;
	ev.update = update;
	ev.msg = nua_current_request(nua);
	ev_set_sdp(&ev, sip);
	sipua_deliver(ua, &ev);
}

/* The peer cancelled a request of the dialog. For the initial INVITE the leg ends;
 * for a re-INVITE the stack answered it 487 and only the pending offer goes. */
static void on_cancel(struct sipua *ua, struct sipua_leg *leg)
{
	struct sipua_ev ev = {0};

	if (!leg->confirmed) {
		leg->end = SIPUA_END_CANCEL;
		return;
	}
	if (leg->offer != OFFER_INVITE)
		return;
	leg->offer = OFFER_NONE;
	leg->inv_server_open = false;   /* answered 487 by the stack */
	nua_destroy_event(leg->saved);
	ev.type = SIPUA_EV_OFFER_CANCELLED;
	ev.leg = leg;
	sipua_deliver(ua, &ev);
}

/*
 * The gate of every request inside a dialog: from the dialog's peer or a known source
 * only (403 otherwise, counted), then the header checks (400/415). Answers the request
 * and returns true when it is refused. The stack may have answered it already
 * (status >= 200): then it is only counted.
 */
static bool in_dialog_refused(struct sipua *ua, nua_t *nua, nua_event_t event,
			      struct sipua_leg *leg, int status, sip_t const *sip)
{
	struct sockaddr_storage src;
	enum sipua_req_kind kind = SIPUA_REQ_OTHER;
	char why[128];
	int code;

	if (!msg_src(nua, &src, NULL))
		return false;   /* made up by the stack itself */
	if (!sipua_leg_peer_has(leg, (const struct sockaddr *)&src) &&
	    !(ua->known && ua->known((const struct sockaddr *)&src, ua->known_arg))) {
		atomic_fetch_add(&ua->st_in_dialog_refused, 1);
		if (log_get_level() <= LOG_DEBUG) {
			char ip[64] = "";
			struct log_rec r;

			if (src.ss_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)&src)->sin_addr, ip,
					  sizeof(ip));
			else if (src.ss_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&src)->sin6_addr, ip,
					  sizeof(ip));
			if (log_begin(&r, LOG_DEBUG, "sip.in_dialog_refused")) {
				log_str(&r, "call_id", leg->call_id);
				log_str(&r, "method", sip && sip->sip_request ?
					sip->sip_request->rq_method_name : "?");
				log_str(&r, "src", ip);
				log_end(&r);
			}
		}
		if (status < 200 && event != nua_i_ack)
			sipua_leg_refuse_stranger(leg, nua);
		return true;
	}
	if (event == nua_i_invite || event == nua_i_update)
		kind = SIPUA_REQ_OFFER;
	code = sipua_request_check(sip, kind, sipua_tpm(ua), refusal_of(ua, nua), why,
				   sizeof(why));
	if (!code)
		return false;
	atomic_fetch_add(&ua->st_in_dialog_bad, 1);
	if (status < 200 && event != nua_i_ack)
		respond_why(nua, leg->nh, code, why, NULL);
	return true;
}

void sipua_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
		     struct sipua *ua, nua_handle_t *nh, struct sipua_leg *leg,
		     sip_t const *sip, tagi_t tags[])
{
	switch (event) {
	case nua_r_shutdown:
		if (status >= 200)
			su_root_break(ua->root);
		return;
	case nua_i_error:
		log_msg(LOG_WARN, "sip.stack_error", "%d %s", status, phrase ? phrase : "");
		/* ACK or PRACK timeout: the BYE the stack sends next is its own. */
		if (leg && !leg->aux && !leg->end)
			leg->end = SIPUA_END_ERROR;
		return;
	default:
		break;
	}
	if (leg && leg->aux) {
		sipua_aux_event(ua, event, status, nua, leg, sip, response_is_local(nua, status));
		return;
	}
	if (!leg) {
		switch (event) {
		case nua_i_invite: case nua_i_options: case nua_i_info: case nua_i_update:
		case nua_i_message: case nua_i_register: case nua_i_subscribe:
		case nua_i_notify: case nua_i_refer: case nua_i_publish: case nua_i_method:
			if (nh && sip && sip->sip_request && status < 200)
				ood_request(ua, event, nua, nh, sip);
			else if (nh)
				nua_handle_destroy(nh);
			break;
		default:
			/* Events on handles we released or dropped: nothing to do. */
			break;
		}
		return;
	}

	if (event == nua_i_notify && (!sip || !sip->sip_request)) {
		/* The stack's own: no NOTIFY came for our REFER (sipua_refer.c). */
		sipua_refer_notify(ua, leg, status, NULL);
		return;
	}
	switch (event) {
	case nua_i_invite: case nua_i_update: case nua_i_info: case nua_i_options:
	case nua_i_ack: case nua_i_message: case nua_i_register:
	case nua_i_subscribe: case nua_i_notify: case nua_i_refer: case nua_i_publish:
	case nua_i_method:
		if (!sip || !sip->sip_request)
			return;
		if (in_dialog_refused(ua, nua, event, leg, status, sip))
			return;
		break;
	default:
		break;
	}

	switch (event) {
	case nua_i_state: {
		int cs = nua_callstate_init;

		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_ready)
			leg->confirmed = true;
		else if (cs == nua_callstate_terminated)
			sipua_leg_terminate(ua, leg, status);
		return;
	}
	case nua_r_invite:
		on_r_invite(ua, nua, leg, status, phrase, sip);
		return;
	case nua_i_invite:
		if (status < 200)   /* >= 200: the stack refused it (glare, overlap) */
			on_offer(ua, nua, leg, sip, false);
		return;
	case nua_i_update:
		if (status < 200)
			on_offer(ua, nua, leg, sip, true);
		return;
	case nua_i_ack: {
		struct sipua_ev ev = {0};

		leg->inv_server_open = false;
		ev.type = SIPUA_EV_ACK;
		ev.leg = leg;
		ev.msg = nua_current_request(nua);
		ev_set_sdp(&ev, sip);
		sipua_deliver(ua, &ev);
		return;
	}
	case nua_i_bye:
		leg->end = SIPUA_END_BYE_REMOTE;
		if (status >= 200)
			return;
		if (leg->reoffer_pending)
			sipua_leg_defer_bye(leg, nua, true);
		else
			nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	case nua_i_cancel:
		on_cancel(ua, leg);
		return;
	case nua_r_cancel:
		if (status >= 200)
			leg->cancel_pending = false;
		return;
	case nua_r_prack:
		if (status >= 200)
			sipua_leg_prack_done(leg);
		return;
	case nua_r_bye:
		/* A BYE nobody asked for on an answered leg: the stack's session timer
		 * found the interval run out unrefreshed (RFC 4028 10). */
		if (!leg->end && leg->confirmed && !leg->hung_up)
			leg->end = SIPUA_END_SESSION_EXPIRED;
		return;
	case nua_i_info:
		if (status < 200)
			sipua_info_in(ua, nua, leg, sip);
		return;
	case nua_r_info:
		sipua_info_answered(leg, status);
		return;
	case nua_i_options:
		if (status < 200)
			nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	case nua_r_refer:
		sipua_refer_answered(ua, leg, status, response_is_local(nua, status));
		return;
	case nua_i_notify:
		if (status >= 200) {   /* answered by the stack: our REFER's subscription */
			sipua_refer_notify(ua, leg, status, sip);
			return;
		}
		nua_respond(nh, SIP_481_NO_TRANSACTION, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	case nua_i_refer:
		if (status < 200)
			sipua_refer_in(ua, nua, leg);
		return;
	case nua_i_message: case nua_i_register: case nua_i_subscribe:
	case nua_i_publish: case nua_i_method:
		if (status < 200)
			nua_respond(nh, SIP_405_METHOD_NOT_ALLOWED, NUTAG_WITH_THIS(nua),
				    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
		return;
	default:
		/* r_bye, r_cancel, r_prack, i_prack, r_update, i_active, i_terminated ... */
		return;
	}
}

/* ---- header access ---- */

int sipua_ev_header(const struct sipua_ev *ev, const char *name, char *out, size_t outlen)
{
	return sipua_msg_header(ev ? (msg_t *)ev->msg : NULL, name, out, outlen);
}
