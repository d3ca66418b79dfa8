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

/* ---- helpers ---- */

static bool is_sdp(sip_t const *sip)
{
	if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_payload->pl_len)
		return false;
	if (!sip->sip_content_type || !sip->sip_content_type->c_type)
		return true;
	return strncasecmp(sip->sip_content_type->c_type, "application/sdp", 15) == 0;
}

static void ev_set_sdp(struct sipua_ev *ev, sip_t const *sip)
{
	if (is_sdp(sip)) {
		ev->sdp = sip->sip_payload->pl_data;
		ev->sdp_len = sip->sip_payload->pl_len;
	}
}

/* The msg of the current event has no source address (family 0) when the stack made
 * it up: a timeout, an ICMP error, a transport failure. */
static bool response_is_local(nua_t *nua, int status)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai;

	if (status >= 700)
		return true;
	if (!msg)
		return true;
	ai = msg_addrinfo(msg);
	return !ai || !ai->ai_addr || ai->ai_addrlen == 0 || ai->ai_addr->sa_family == AF_UNSPEC;
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

static void src_of(nua_t *nua, struct sockaddr_storage *ss, enum sipua_transport *tp)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;

	memset(ss, 0, sizeof(*ss));
	*tp = SIPUA_TP_UDP;
	if (ai && ai->ai_addr && ai->ai_addrlen > 0 && ai->ai_addrlen <= sizeof(*ss) &&
	    ai->ai_addr->sa_family != AF_UNSPEC) {
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		if (ai->ai_protocol == IPPROTO_TCP)
			*tp = SIPUA_TP_TCP;
	}
}

static void url_str(char *out, size_t len, url_t const *url)
{
	out[0] = '\0';
	if (url && url_e(out, (isize_t)len, url) < 0)
		out[0] = '\0';
	out[len - 1] = '\0';
}

static bool peer_says_100rel(sip_t const *sip)
{
	return (sip->sip_supported && msg_header_find_item(sip->sip_supported->k_common, "100rel")) ||
	       (sip->sip_require && msg_header_find_item(sip->sip_require->k_common, "100rel"));
}

/* Headers whose value trunx relies on: a value the parser refused is a bad request. */
static const char *const vital_headers[] = {
	"Date", "Content-Type", "Content-Length", "Max-Forwards", "From", "To", "CSeq",
	"Call-ID", "Via", "Contact", "Session-Expires", "Min-SE", "Require", "Supported",
	"Accept",
};

static bool accepts_sdp(sip_t const *sip)
{
	if (!sip->sip_accept)
		return true;
	for (sip_accept_t const *a = sip->sip_accept; a; a = a->ac_next) {
		if (!a->ac_type || !a->ac_type[0])
			return true;   /* an empty Accept: no body wanted, fine for us */
		if (strcasecmp(a->ac_type, "application/sdp") == 0 ||
		    strcasecmp(a->ac_type, "application/*") == 0 ||
		    strcasecmp(a->ac_type, "*/*") == 0)
			return true;
	}
	return false;
}

/*
 * Checks of an INVITE the stack let through but trunx cannot serve. Answers it and
 * returns true when it is refused.
 */
static bool invite_refused(nua_handle_t *nh, sip_t const *sip)
{
	const char *why = NULL;
	char warn[160];
	int status = 400;

	for (sip_error_t const *e = sip->sip_error; e && !why; e = e->er_next) {
		for (size_t i = 0; e->er_name && i < sizeof(vital_headers) / sizeof(vital_headers[0]); i++) {
			if (strcasecmp(e->er_name, vital_headers[i]) == 0) {
				why = "malformed header";
				break;
			}
		}
	}
	if (!why && sip->sip_request->rq_url->url_headers)
		why = "headers in the request-URI";
	if (!why && sip->sip_payload && sip->sip_payload->pl_len && sip->sip_content_type &&
	    sip->sip_content_type->c_type &&
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0) {
		status = 415;
		why = "only application/sdp bodies are accepted";
	}
	if (!why && !accepts_sdp(sip)) {
		status = 406;
		why = "answers carry application/sdp";
	}
	if (!why)
		return false;
	snprintf(warn, sizeof(warn), "399 - \"%s\"", why);
	nua_respond(nh, status, sipua_phrase(status), SIPTAG_WARNING_STR(warn),
		    TAG_IF(status == 415, SIPTAG_ACCEPT_STR("application/sdp")),
		    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
	nua_handle_destroy(nh);
	return true;
}

static void incoming_invite(struct sipua *ua, nua_t *nua, nua_handle_t *nh, sip_t const *sip,
			    const struct sockaddr_storage *src, enum sipua_transport tp,
			    void *peer)
{
	struct sipua_incoming in = {0};
	struct sipua_ev ev = {0};
	struct sipua_leg *leg;
	char ruri[512], from[512], to[512];

	if (invite_refused(nh, sip))
		return;
	leg = calloc(1, sizeof(*leg));
	if (!leg) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	leg->ua = ua;
	leg->nh = nh;
	leg->inbound = true;
	leg->transport = tp;
	leg->peer_100rel = peer_says_100rel(sip);
	leg->policy.min_se = 90;
	if (sip->sip_call_id && sip->sip_call_id->i_id)
		snprintf(leg->call_id, sizeof(leg->call_id), "%s", sip->sip_call_id->i_id);
	nua_handle_bind(nh, leg);
	sipua_leg_link(ua, leg);
	url_str(ruri, sizeof(ruri), sip->sip_request->rq_url);
	url_str(from, sizeof(from), sip->sip_from ? sip->sip_from->a_url : NULL);
	url_str(to, sizeof(to), sip->sip_to ? sip->sip_to->a_url : NULL);
	in.src = *src;
	in.transport = tp;
	in.peer = peer;
	in.call_id = leg->call_id;
	in.ruri = ruri;
	in.ruri_user = sip->sip_request->rq_url->url_user ? sip->sip_request->rq_url->url_user : "";
	in.from_uri = from;
	in.from_user = sip->sip_from && sip->sip_from->a_url->url_user ?
		       sip->sip_from->a_url->url_user : "";
	in.from_display = sip->sip_from && sip->sip_from->a_display ?
			  sip->sip_from->a_display : "";
	in.to_uri = to;
	in.to_user = sip->sip_to && sip->sip_to->a_url->url_user ? sip->sip_to->a_url->url_user : "";
	in.max_forwards = sip->sip_max_forwards ? (int)sip->sip_max_forwards->mf_count : -1;
	in.session_expires = sip->sip_session_expires ?
			     (unsigned)sip->sip_session_expires->x_delta : 0;

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

	src_of(nua, &src, &tp);
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
		nua_respond(nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua),
			    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	switch (event) {
	case nua_i_invite:
		incoming_invite(ua, nua, nh, sip, &src, tp, peer);
		return;
	case nua_i_options:
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
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
	bool end_now = false;

	ev.leg = leg;
	ev.status = status;
	if (sip && sip->sip_call_id && !leg->call_id[0])
		snprintf(leg->call_id, sizeof(leg->call_id), "%s", sip->sip_call_id->i_id);
	if (leg->reoffer_pending) {
		if (status < 200)
			return;
		leg->reoffer_pending = false;
		ev.type = SIPUA_EV_OFFER_RESULT;
		ev.local = response_is_local(nua, status);
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
		/* The stack keeps the INVITE waiting for credentials we do not have. */
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
	}
	ev.status = status;
	ev.msg = nua_current_request(nua);
	ev_set_sdp(&ev, sip);
	sipua_deliver(ua, &ev);
	if (end_now)
		sipua_leg_terminate(ua, leg, status);
}

static void on_offer(struct sipua *ua, nua_t *nua, struct sipua_leg *leg, sip_t const *sip,
		     bool update)
{
	struct sipua_ev ev = {0};

	if (update) {
		if (!is_sdp(sip)) {
			/* A session refresh: nothing to negotiate. */
			nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
				    SIPTAG_CONTACT_STR(sipua_leg_contact(leg)), TAG_END());
			return;
		}
		if (leg->offer != OFFER_NONE) {
			nua_respond(leg->nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_THIS(nua),
				    TAG_END());
			return;
		}
		if (nua_save_event(nua, leg->saved) <= 0) {
			nua_respond(leg->nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_THIS(nua),
				    TAG_END());
			return;
		}
		leg->offer = OFFER_UPDATE;
	} else {
		leg->offer = OFFER_INVITE;
	}
	ev.type = SIPUA_EV_OFFER;
	ev.leg = leg;
	ev.update = update;
	ev.msg = nua_current_request(nua);
	ev_set_sdp(&ev, sip);
	sipua_deliver(ua, &ev);
}

void sipua_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
		     struct sipua *ua, nua_handle_t *nh, struct sipua_leg *leg,
		     sip_t const *sip, tagi_t tags[])
{
	(void)phrase;
	switch (event) {
	case nua_r_shutdown:
		if (status >= 200)
			su_root_break(ua->root);
		return;
	case nua_i_error:
		log_msg(LOG_WARN, "sip.stack_error", "%d %s", status, phrase ? phrase : "");
		return;
	default:
		break;
	}
	if (!leg) {
		switch (event) {
		case nua_i_invite: case nua_i_options: case nua_i_info: case nua_i_update:
		case nua_i_message: case nua_i_register: case nua_i_subscribe:
		case nua_i_notify: case nua_i_refer: case nua_i_publish: case nua_i_method:
			if (nh && sip && sip->sip_request)
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
		on_offer(ua, nua, leg, sip, false);
		return;
	case nua_i_update:
		on_offer(ua, nua, leg, sip, true);
		return;
	case nua_i_ack: {
		struct sipua_ev ev = {0};

		ev.type = SIPUA_EV_ACK;
		ev.leg = leg;
		ev.msg = nua_current_request(nua);
		ev_set_sdp(&ev, sip);
		sipua_deliver(ua, &ev);
		return;
	}
	case nua_i_bye:
		leg->end = SIPUA_END_BYE_REMOTE;
		return;
	case nua_i_cancel:
		leg->end = SIPUA_END_CANCEL;
		return;
	case nua_i_info: case nua_i_options:
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	case nua_i_message: case nua_i_register: case nua_i_subscribe: case nua_i_notify:
	case nua_i_refer: case nua_i_publish: case nua_i_method:
		nua_respond(nh, SIP_405_METHOD_NOT_ALLOWED, NUTAG_WITH_THIS(nua),
			    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
		return;
	default:
		/* r_bye, r_cancel, r_prack, i_prack, r_update, i_active, i_terminated ... */
		return;
	}
}

/* ---- header access ---- */

static bool name_matches(msg_header_t const *h, const char *name)
{
	msg_hclass_t const *hc = h->sh_class;

	if (hc->hc_hash == msg_unknown_hash) {
		sip_unknown_t const *u = (sip_unknown_t const *)h;
		return u->un_name && strcasecmp(u->un_name, name) == 0;
	}
	if (!hc->hc_name)
		return false;
	if (strcasecmp(hc->hc_name, name) == 0)
		return true;
	return hc->hc_short[0] && name[0] && !name[1] &&
	       (hc->hc_short[0] | 0x20) == (name[0] | 0x20);
}

int sipua_ev_header(const struct sipua_ev *ev, const char *name, char *out, size_t outlen)
{
	msg_t *msg = (msg_t *)ev->msg;
	msg_header_t **head;
	size_t start, pos;
	bool found = false;

	if (!msg || !name || !out || !outlen)
		return ENOENT;
	start = pos = strnlen(out, outlen);
	if (pos >= outlen)
		return ENOSPC;
	head = msg_chain_head(msg);
	for (msg_header_t const *h = head ? *head : NULL; h; h = h->sh_succ) {
		char val[1024];
		const char *hname;
		issize_t n;
		int w;

		/* Skip the request/status line, separator, payload and parse errors. */
		if (!h->sh_class ||
		    (h->sh_class->hc_hash < 0 && h->sh_class->hc_hash != msg_unknown_hash))
			continue;
		if (!name_matches(h, name))
			continue;
		if (h->sh_class->hc_hash == msg_unknown_hash) {
			sip_unknown_t const *u = (sip_unknown_t const *)h;
			hname = u->un_name;
			snprintf(val, sizeof(val), "%s", u->un_value ? u->un_value : "");
		} else {
			n = msg_header_field_e(val, sizeof(val), h, 0);
			if (n < 0 || (size_t)n >= sizeof(val))
				continue;
			hname = h->sh_class->hc_name;
		}
		w = snprintf(out + pos, outlen - pos, "%s: %s\r\n", hname, val);
		if (w < 0 || (size_t)w >= outlen - pos) {
			out[start] = '\0';
			return ENOSPC;
		}
		pos += (size_t)w;
		found = true;
	}
	return found ? 0 : ENOENT;
}
