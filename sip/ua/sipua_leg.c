/*
 * sipua_leg.c — legs (one dialog each) and the NUA event dispatch: turns sofia-sip
 * events into struct sipua_ev for the handler, answers out-of-dialog requests after
 * the source check, and keeps handle ownership straight (a handle is destroyed once,
 * on the signalling thread, after its leg terminated).
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

static void leg_link(struct sipua *ua, struct sipua_leg *leg)
{
	leg->next = ua->legs;
	if (ua->legs)
		ua->legs->prev = leg;
	ua->legs = leg;
}

static void leg_unlink(struct sipua *ua, struct sipua_leg *leg)
{
	if (leg->prev)
		leg->prev->next = leg->next;
	else if (ua->legs == leg)
		ua->legs = leg->next;
	if (leg->next)
		leg->next->prev = leg->prev;
	leg->next = leg->prev = NULL;
}

/* Copies a possibly unterminated body for the tag list (which copies it again). */
static char *body_dup(const char *sdp, size_t len)
{
	char *s;

	if (!sdp)
		return NULL;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	memcpy(s, sdp, len);
	s[len] = '\0';
	return s;
}

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

static void deliver(struct sipua *ua, struct sipua_ev *ev)
{
	ua->eh(ev, ua->arg);
}

static const char *leg_contact(const struct sipua_leg *leg)
{
	return leg->transport == SIPUA_TP_TCP ? leg->ua->contact_tcp : leg->ua->contact_udp;
}

static const char *supported_for(const struct sipua_policy *p)
{
	bool timer = p->session_expires > 0;
	bool rel = p->rel100 != SIPUA_REL100_OFF;

	if (timer && rel)
		return "timer, 100rel";
	if (timer)
		return "timer";
	if (rel)
		return "100rel";
	return "";
}

static void leg_free(struct sipua_leg *leg)
{
	if (leg->offer == OFFER_UPDATE)
		nua_destroy_event(leg->saved);
	free(leg);
}

/* Delivers TERMINATED once and releases the leg and its handle. */
static void leg_terminate(struct sipua *ua, struct sipua_leg *leg, int status)
{
	struct sipua_ev ev = {0};

	if (leg->terminated)
		return;
	if (!leg->inbound && !leg->confirmed && !leg->failed) {
		struct sipua_ev fev = {0};

		leg->failed = true;
		fev.type = SIPUA_EV_FAILED;
		fev.leg = leg;
		fev.status = status >= 300 ? status : 500;
		fev.local = true;
		deliver(ua, &fev);
	}
	leg->terminated = true;
	ev.type = SIPUA_EV_TERMINATED;
	ev.leg = leg;
	ev.status = status;
	ev.end = leg->end ? leg->end : SIPUA_END_ERROR;
	deliver(ua, &ev);
	nua_handle_bind(leg->nh, NULL);
	nua_handle_destroy(leg->nh);
	leg->nh = NULL;
	leg_unlink(ua, leg);
	leg_free(leg);
}

void sipua_legs_release_all(struct sipua *ua)
{
	while (ua->legs) {
		struct sipua_leg *leg = ua->legs;

		leg_unlink(ua, leg);
		if (leg->nh) {
			nua_handle_bind(leg->nh, NULL);
			nua_handle_destroy(leg->nh);
		}
		leg_free(leg);
	}
}

/* ---- silently dropped requests ---- */

static void drop_add(struct sipua *ua, nua_handle_t *nh)
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
	leg_link(ua, leg);
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
	deliver(ua, &ev);
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
		drop_add(ua, nh);
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
		deliver(ua, &ev);
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
	deliver(ua, &ev);
	if (end_now)
		leg_terminate(ua, leg, status);
}

static void on_offer(struct sipua *ua, nua_t *nua, struct sipua_leg *leg, sip_t const *sip,
		     bool update)
{
	struct sipua_ev ev = {0};

	if (update) {
		if (!is_sdp(sip)) {
			/* A session refresh: nothing to negotiate. */
			nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
				    SIPTAG_CONTACT_STR(leg_contact(leg)), TAG_END());
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
	deliver(ua, &ev);
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
			leg_terminate(ua, leg, status);
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
		deliver(ua, &ev);
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

/* ---- leg operations ---- */

static void next_call_id(struct sipua *ua, char *out, size_t len)
{
	uint64_t x = ua->cid_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ua->cid_state = x;
	snprintf(out, len, "%016llx%08llx", (unsigned long long)x,
		 (unsigned long long)(++ua->cid_seq & 0xffffffffu));
}

/* Writes "\"display\" <uri>" with the display's quotes and backslashes removed. */
static void name_addr(char *out, size_t len, const char *display, const char *uri)
{
	char d[128];
	size_t n = 0;

	for (const char *p = display; p && *p && n + 1 < sizeof(d); p++) {
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			d[n++] = *p;
	}
	d[n] = '\0';
	if (n)
		snprintf(out, len, "\"%s\" <%s>", d, uri);
	else
		snprintf(out, len, "<%s>", uri);
}

int sipua_leg_invite(struct sipua *ua, const struct sipua_invite *inv, void *ctx,
		     struct sipua_leg **legp)
{
	struct sipua_leg *leg;
	char from[600], to[600], mf[16];
	char *body;

	if (!ua || !ua->nua || !inv || !inv->ruri || !inv->from_uri || !inv->to_uri ||
	    !inv->sdp || !legp || ua->stopping)
		return EINVAL;
	leg = calloc(1, sizeof(*leg));
	body = body_dup(inv->sdp, inv->sdp_len);
	if (!leg || !body) {
		free(leg);
		free(body);
		return ENOMEM;
	}
	leg->ua = ua;
	leg->ctx = ctx;
	leg->policy = inv->policy;
	leg->transport = strcasestr(inv->ruri, "transport=tcp") ? SIPUA_TP_TCP : SIPUA_TP_UDP;
	next_call_id(ua, leg->call_id, sizeof(leg->call_id));
	name_addr(from, sizeof(from), inv->from_display, inv->from_uri);
	name_addr(to, sizeof(to), NULL, inv->to_uri);
	snprintf(mf, sizeof(mf), "%d", inv->max_forwards > 0 ? inv->max_forwards : 0);
	leg->nh = nua_handle(ua->nua, leg, NUTAG_URL(inv->ruri), SIPTAG_TO_STR(to),
			     SIPTAG_FROM_STR(from), SIPTAG_CALL_ID_STR(leg->call_id), TAG_END());
	if (!leg->nh) {
		free(leg);
		free(body);
		return ENOMEM;
	}
	leg_link(ua, leg);
	nua_invite(leg->nh,
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(body),
		   SIPTAG_CONTACT_STR(leg_contact(leg)),
		   SIPTAG_MAX_FORWARDS_STR(mf),
		   SIPTAG_ALLOW_STR(SIPUA_ALLOW),
		   SIPTAG_SUPPORTED_STR(supported_for(&inv->policy)),
		   TAG_IF(inv->policy.rel100 == SIPUA_REL100_REQUIRED,
			  SIPTAG_REQUIRE_STR("100rel")),
		   NUTAG_SESSION_TIMER(inv->policy.session_expires),
		   NUTAG_MIN_SE(inv->policy.min_se >= 90 ? inv->policy.min_se : 90),
		   NUTAG_SESSION_REFRESHER(nua_any_refresher),
		   NUTAG_UPDATE_REFRESH(1),
		   TAG_IF(inv->headers && inv->headers[0], SIPTAG_HEADER_STR(inv->headers)),
		   TAG_END());
	free(body);
	*legp = leg;
	return 0;
}

void sipua_leg_set_ctx(struct sipua_leg *leg, void *ctx)
{
	if (leg)
		leg->ctx = ctx;
}

void *sipua_leg_ctx(const struct sipua_leg *leg)
{
	return leg ? leg->ctx : NULL;
}

void sipua_leg_set_policy(struct sipua_leg *leg, const struct sipua_policy *p)
{
	if (!leg || !p)
		return;
	leg->policy = *p;
}

int sipua_leg_respond(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		      const char *headers)
{
	char *body = NULL;
	bool reliable, first;

	if (!leg || !leg->nh || !leg->inbound || status < 101 || status > 699)
		return EINVAL;
	if (leg->final_sent)
		return EALREADY;
	if (status >= 200 && status < 300 && !sdp)
		return EINVAL;
	if (sdp && !(body = body_dup(sdp, sdp_len)))
		return ENOMEM;
	reliable = status < 200 && leg->policy.rel100 == SIPUA_REL100_REQUIRED && leg->peer_100rel;
	first = !leg->responded;
	leg->responded = true;
	if (status >= 200)
		leg->final_sent = true;
	if (status >= 300)
		leg->end = SIPUA_END_REJECTED;
	/* The first response sets the dialog's preferences (they stick to the handle):
	 * our precise Allow, and timer / 100rel only as the trunk's policy says. */
	nua_respond(leg->nh, status, sipua_phrase(status)[0] ? sipua_phrase(status) : NULL,
		    TAG_IF(first, SIPTAG_ALLOW_STR(SIPUA_ALLOW)),
		    TAG_IF(first, SIPTAG_SUPPORTED_STR(supported_for(&leg->policy))),
		    TAG_IF(first, NUTAG_SESSION_TIMER(leg->policy.session_expires)),
		    TAG_IF(first, NUTAG_MIN_SE(leg->policy.min_se >= 90 ? leg->policy.min_se : 90)),
		    TAG_IF(first && leg->policy.session_expires,
			   NUTAG_SESSION_REFRESHER(nua_any_refresher)),
		    TAG_IF(first && leg->policy.session_expires, NUTAG_UPDATE_REFRESH(1)),
		    TAG_IF(first && leg->policy.rel100 == SIPUA_REL100_REQUIRED,
			   NUTAG_EARLY_MEDIA(1)),
		    TAG_IF(status < 300, SIPTAG_CONTACT_STR(leg_contact(leg))),
		    TAG_IF(body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		    TAG_IF(body, SIPTAG_PAYLOAD_STR(body)),
		    TAG_IF(reliable, SIPTAG_REQUIRE_STR("100rel")),
		    TAG_IF(headers && headers[0], SIPTAG_HEADER_STR(headers)),
		    TAG_END());
	free(body);
	return 0;
}

void sipua_leg_drop(struct sipua_leg *leg)
{
	struct sipua *ua;

	if (!leg || !leg->nh || !leg->inbound || leg->final_sent)
		return;
	ua = leg->ua;
	drop_add(ua, leg->nh);
	leg->nh = NULL;
	leg_unlink(ua, leg);
	leg_free(leg);
}

int sipua_leg_reoffer(struct sipua_leg *leg, const char *sdp, size_t sdp_len)
{
	char *body;

	if (!leg || !leg->nh || !sdp || leg->hung_up)
		return EINVAL;
	if (leg->reoffer_pending)
		return EBUSY;
	body = body_dup(sdp, sdp_len);
	if (!body)
		return ENOMEM;
	leg->reoffer_pending = true;
	nua_invite(leg->nh,
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(body),
		   SIPTAG_CONTACT_STR(leg_contact(leg)), TAG_END());
	free(body);
	return 0;
}

int sipua_leg_answer(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		     const char *headers)
{
	char *body = NULL;
	enum sipua_offer_kind kind;

	if (!leg || !leg->nh || leg->offer == OFFER_NONE || status < 200 || status > 699)
		return EINVAL;
	if (sdp && !(body = body_dup(sdp, sdp_len)))
		return ENOMEM;
	kind = leg->offer;
	leg->offer = OFFER_NONE;
	nua_respond(leg->nh, status, sipua_phrase(status)[0] ? sipua_phrase(status) : NULL,
		    TAG_IF(kind == OFFER_UPDATE, NUTAG_WITH_SAVED(leg->saved)),
		    TAG_IF(status < 300, SIPTAG_CONTACT_STR(leg_contact(leg))),
		    TAG_IF(body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		    TAG_IF(body, SIPTAG_PAYLOAD_STR(body)),
		    TAG_IF(headers && headers[0], SIPTAG_HEADER_STR(headers)),
		    TAG_END());
	if (kind == OFFER_UPDATE)
		nua_destroy_event(leg->saved);
	free(body);
	return 0;
}

void sipua_leg_hangup(struct sipua_leg *leg, int status)
{
	if (!leg || !leg->nh || leg->terminated)
		return;
	if (leg->inbound && !leg->final_sent) {
		if (status < 300 || status > 699)
			status = 480;
		leg->final_sent = true;
		leg->hung_up = true;
		leg->end = SIPUA_END_REJECTED;
		nua_respond(leg->nh, status, sipua_phrase(status)[0] ? sipua_phrase(status) : NULL,
			    TAG_END());
		return;
	}
	if (!leg->inbound && !leg->confirmed) {
		if (!leg->cancelled) {
			leg->cancelled = true;
			leg->hung_up = true;
			nua_cancel(leg->nh, TAG_END());
		}
		return;
	}
	if (!leg->hung_up) {
		leg->hung_up = true;
		if (!leg->end)
			leg->end = SIPUA_END_BYE_LOCAL;
		nua_bye(leg->nh, TAG_END());
	}
}

bool sipua_leg_confirmed(const struct sipua_leg *leg)
{
	return leg && leg->confirmed;
}

bool sipua_leg_inbound(const struct sipua_leg *leg)
{
	return leg && leg->inbound;
}

const char *sipua_leg_call_id(const struct sipua_leg *leg)
{
	return leg ? leg->call_id : "";
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
