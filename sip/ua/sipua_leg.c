/*
 * sipua_leg.c — legs (one dialog each): the operations on them (INVITE, responses,
 * re-offers, answers, hang-up) and their life cycle. A leg's handle is destroyed once,
 * on the signalling thread, after the leg terminated (sipua_leg_terminate).
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
#include <sofia-sip/url.h>

#include "log.h"

/* ---- helpers ---- */

/* A leg keeps the first LEG_CALL_ID_KEPT characters of its Call-ID (a longer one is
 * cut there): legs are found by those, so a request naming a dialog by a long Call-ID
 * still finds its legs (and the dialog gate does not let a stranger's through). */
#define LEG_CALL_ID_KEPT (sizeof(((struct sipua_leg *)0)->call_id) - 1)

static size_t call_id_bucket(const char *call_id)
{
	uint64_t h = 1469598103934665603ull;
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)call_id; *p && n < LEG_CALL_ID_KEPT;
	     p++, n++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h ^ (h >> 32)) % SIPUA_LEG_BUCKETS;
}

/* From l on along its bucket, the first leg with this Call-ID (NULL: none). */
static struct sipua_leg *call_id_next(struct sipua_leg *l, const char *call_id)
{
	while (l && strncmp(l->call_id, call_id, LEG_CALL_ID_KEPT) != 0)
		l = l->hnext;
	return l;
}

static struct sipua_leg *call_id_first(const struct sipua *ua, const char *call_id)
{
	return call_id_next(ua->by_call_id[call_id_bucket(call_id)], call_id);
}

void sipua_leg_link(struct sipua *ua, struct sipua_leg *leg)
{
	size_t b = call_id_bucket(leg->call_id);

	leg->next = ua->legs;
	if (ua->legs)
		ua->legs->prev = leg;
	ua->legs = leg;
	leg->hnext = ua->by_call_id[b];
	ua->by_call_id[b] = leg;
}

static void leg_unlink(struct sipua *ua, struct sipua_leg *leg)
{
	struct sipua_leg **pp = &ua->by_call_id[call_id_bucket(leg->call_id)];

	if (leg->prev)
		leg->prev->next = leg->next;
	else if (ua->legs == leg)
		ua->legs = leg->next;
	if (leg->next)
		leg->next->prev = leg->prev;
	leg->next = leg->prev = NULL;
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == leg) {
			*pp = leg->hnext;
			break;
		}
	}
	leg->hnext = NULL;
}

bool sipua_leg_gate(struct sipua *ua, const char *call_id, const struct sockaddr *src)
{
	bool found = false;

	if (!call_id)
		return true;
	for (const struct sipua_leg *l = call_id_first(ua, call_id); l;
	     l = call_id_next(l->hnext, call_id)) {
		if (sipua_leg_peer_has(l, src))
			return true;
		found = true;
	}
	if (!found || (ua->known && ua->known(src, ua->known_arg)))
		return true;
	atomic_fetch_add(&ua->st_in_dialog_refused, 1);
	if (log_get_level() <= LOG_DEBUG)
		log_msg(LOG_DEBUG, "sip.in_dialog_refused", "request in dialog %s from a "
			"source that is neither its peer nor known: cut loose", call_id);
	return false;
}

bool sipua_leg_call_id_live(const struct sipua *ua, const char *call_id)
{
	return call_id && call_id_first(ua, call_id);
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

void sipua_deliver(struct sipua *ua, struct sipua_ev *ev)
{
	ua->eh(ev, ua->arg);
}

const char *sipua_contact_for(const struct sipua *ua, enum sipua_transport tp)
{
	switch (tp) {
	case SIPUA_TP_TCP: return ua->contact_tcp;
	case SIPUA_TP_TLS: return ua->contact_tls;
	default:           return ua->contact_udp;
	}
}

const char *sipua_leg_contact(const struct sipua_leg *leg)
{
	return sipua_contact_for(leg->ua, leg->transport);
}

enum sipua_transport sipua_uri_transport(const char *uri)
{
	if (!uri)
		return SIPUA_TP_UDP;
	if (strncasecmp(uri, "sips:", 5) == 0 || strcasestr(uri, ";transport=tls"))
		return SIPUA_TP_TLS;
	return strcasestr(uri, ";transport=tcp") ? SIPUA_TP_TCP : SIPUA_TP_UDP;
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

void sipua_leg_refuse_stranger(struct sipua_leg *leg, nua_t *nua)
{
	const char *sup = supported_for(&leg->policy);

	/* The stack adds the handle's Allow and Supported to every answer on it; the
	 * three calls reach it in this order, so only this 403 goes without them. The
	 * lists put back are the ones the leg set (its INVITE or its first answer; the
	 * Allow with NOTIFY while a REFER of ours runs, sipua_refer.c). */
	nua_set_hparams(leg->nh, SIPTAG_ALLOW(SIP_NONE), SIPTAG_SUPPORTED(SIP_NONE), TAG_END());
	nua_respond(leg->nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua), TAG_END());
	nua_set_hparams(leg->nh,
			SIPTAG_ALLOW_STR(leg->refer_busy ? SIPUA_ALLOW_REFERRING : SIPUA_ALLOW),
			TAG_IF(sup[0], SIPTAG_SUPPORTED_STR(sup)),
			TAG_IF(!sup[0], SIPTAG_SUPPORTED(SIP_NONE)), TAG_END());
}

void sipua_leg_peer_add(struct sipua_leg *leg, const struct sockaddr *sa)
{
	struct sockaddr_storage ip;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    sipua_leg_peer_has(leg, sa) || leg->n_peer >= SIPUA_LEG_PEERS)
		return;
	memset(&ip, 0, sizeof(ip));
	memcpy(&ip, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6));
	if (ip.ss_family == AF_INET)
		((struct sockaddr_in *)&ip)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ip)->sin6_port = 0;
	if (sipua_peers_add(leg->ua->peers, (const struct sockaddr *)&ip) != 0)
		return;
	leg->peer[leg->n_peer++] = ip;
}

/* The host of a URL when it is an IP literal (brackets of an IPv6 one stripped),
 * remembered as an address of the leg's peer. A name (DNS) is left to the responses. */
static void peer_of_url(struct sipua_leg *leg, const url_t *u)
{
	char host[64];
	struct sockaddr_storage ss;
	size_t n;

	if (!u || !u->url_host)
		return;
	n = strlen(u->url_host);
	if (n >= 2 && u->url_host[0] == '[' && u->url_host[n - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(n - 2), u->url_host + 1);
	else
		snprintf(host, sizeof(host), "%s", u->url_host);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return;
	sipua_leg_peer_add(leg, (const struct sockaddr *)&ss);
}

/* The host our INVITE's request-URI names is the called party's address before any
 * response came from it (its media may arrive with its first answer, before that
 * answer is read). */
static void peer_of_uri(struct sipua_leg *leg, const char *uri)
{
	char buf[512];
	url_t u[1];

	if (!uri || strlen(uri) >= sizeof(buf))
		return;
	memcpy(buf, uri, strlen(uri) + 1);
	if (url_d(u, buf) < 0)
		return;
	peer_of_url(leg, u);
}

void sipua_leg_peer_route(struct sipua_leg *leg, const sip_record_route_t *rr, bool uac)
{
	if (!leg || !rr)
		return;
	/* The route set is the Record-Route as received by the UAS, reversed by the
	 * UAC (RFC 3261 12.1.1, 12.1.2): its first hop is the top entry for a UAS, the
	 * bottom one for a UAC. */
	if (uac)
		while (rr->r_next)
			rr = rr->r_next;
	peer_of_url(leg, rr->r_url);
}

bool sipua_leg_peer_has(const struct sipua_leg *leg, const struct sockaddr *sa)
{
	for (unsigned i = 0; i < leg->n_peer; i++)
		if (sipua_same_ip((const struct sockaddr *)&leg->peer[i], sa))
			return true;
	return false;
}

unsigned sipua_leg_peers(const struct sipua_leg *leg, struct sockaddr_storage *out,
			 unsigned max)
{
	unsigned n = 0;

	for (; leg && out && n < leg->n_peer && n < max; n++)
		out[n] = leg->peer[n];
	return n;
}

static void leg_free(struct sipua_leg *leg)
{
	free(leg->auth_user);
	free(leg->auth_secret);
	if (leg->offer != OFFER_NONE)
		nua_destroy_event(leg->saved);
	nua_destroy_event(leg->bye_saved);
	sipua_timer_cancel(leg->bye_timer);
	sipua_timer_cancel(leg->prack_timer);
	for (unsigned i = 0; i < leg->n_peer; i++)
		sipua_peers_del(leg->ua->peers, (const struct sockaddr *)&leg->peer[i]);
	free(leg);
}

/* Delivers TERMINATED once and releases the leg and its handle. */
void sipua_leg_terminate(struct sipua *ua, struct sipua_leg *leg, int status)
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
		sipua_deliver(ua, &fev);
	}
	leg->terminated = true;
	ev.type = SIPUA_EV_TERMINATED;
	ev.leg = leg;
	ev.status = status;
	ev.end = leg->end ? leg->end : SIPUA_END_ERROR;
	sipua_deliver(ua, &ev);
	if (leg->reoffer_pending || leg->cancel_pending) {
		/* Our re-INVITE (or its CANCEL) is still out: the stack frees it only when
		 * it completes, never when the handle goes first. Keep the handle until
		 * the transaction is surely over (past timer B), like a dropped request. */
		sipua_drop_add(ua, leg->nh);
	} else {
		nua_handle_bind(leg->nh, NULL);
		nua_handle_destroy(leg->nh);
	}
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
	if (inv->auth_user && inv->auth_user[0] && inv->auth_secret && inv->auth_secret[0]) {
		leg->auth_user = strdup(inv->auth_user);
		leg->auth_secret = strdup(inv->auth_secret);
	}
	leg->transport = sipua_uri_transport(inv->ruri);
	next_call_id(ua, leg->call_id, sizeof(leg->call_id));
	name_addr(from, sizeof(from), inv->from_display, inv->from_uri);
	name_addr(to, sizeof(to), NULL, inv->to_uri);
	snprintf(mf, sizeof(mf), "%d", inv->max_forwards > 0 ? inv->max_forwards : 0);
	leg->nh = nua_handle(ua->nua, leg, NUTAG_URL(inv->ruri), SIPTAG_TO_STR(to),
			     SIPTAG_FROM_STR(from), SIPTAG_CALL_ID_STR(leg->call_id), TAG_END());
	if (!leg->nh) {
		free(leg->auth_user);
		free(leg->auth_secret);
		free(leg);
		free(body);
		return ENOMEM;
	}
	peer_of_uri(leg, inv->ruri);
	sipua_leg_link(ua, leg);
	nua_invite(leg->nh,
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(body),
		   SIPTAG_CONTACT_STR(sipua_leg_contact(leg)),
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
		    TAG_IF(status < 300, SIPTAG_CONTACT_STR(sipua_leg_contact(leg))),
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
	sipua_drop_add(ua, leg->nh);
	leg->nh = NULL;
	leg_unlink(ua, leg);
	leg_free(leg);
}

int sipua_leg_reoffer(struct sipua_leg *leg, const char *sdp, size_t sdp_len)
{
	char *body;

	if (!leg || !leg->nh || !sdp || leg->hung_up)
		return EINVAL;
	/* RFC 3261 14.1: no new INVITE while another INVITE transaction of the dialog is
	 * in progress in either direction. Nor behind our CANCEL: the stack would queue
	 * the INVITE, and a queued request is never freed if the call ends first. */
	if (leg->reoffer_pending || leg->inv_server_open || leg->cancel_pending)
		return EBUSY;
	body = body_dup(sdp, sdp_len);
	if (!body)
		return ENOMEM;
	leg->reoffer_pending = true;
	nua_invite(leg->nh,
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(body),
		   SIPTAG_CONTACT_STR(sipua_leg_contact(leg)), TAG_END());
	free(body);
	return 0;
}

int sipua_leg_cancel_reoffer(struct sipua_leg *leg)
{
	if (!leg || !leg->nh || !leg->reoffer_pending || leg->cancel_pending)
		return EINVAL;
	leg->cancel_pending = true;
	nua_cancel(leg->nh, TAG_END());
	return 0;
}

int sipua_leg_answer(struct sipua_leg *leg, int status, const char *sdp, size_t sdp_len,
		     const char *headers)
{
	char *body = NULL;

	if (!leg || !leg->nh || leg->offer == OFFER_NONE || status < 200 || status > 699)
		return EINVAL;
	if (sdp && !(body = body_dup(sdp, sdp_len)))
		return ENOMEM;
	if (leg->offer == OFFER_INVITE && status >= 300)
		leg->inv_server_open = false;   /* the stack takes the ACK of a failure */
	leg->offer = OFFER_NONE;
	/* The saved request names the transaction: an UPDATE and a re-INVITE may both be
	 * open on the handle (one of them refused meanwhile). */
	nua_respond(leg->nh, status, sipua_phrase(status)[0] ? sipua_phrase(status) : NULL,
		    NUTAG_WITH_SAVED(leg->saved),
		    TAG_IF(status < 300, SIPTAG_CONTACT_STR(sipua_leg_contact(leg))),
		    TAG_IF(body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		    TAG_IF(body, SIPTAG_PAYLOAD_STR(body)),
		    TAG_IF(headers && headers[0], SIPTAG_HEADER_STR(headers)),
		    TAG_END());
	nua_destroy_event(leg->saved);
	free(body);
	return 0;
}

/*
 * BYE against our re-INVITE. When a session ends while our re-INVITE is in progress,
 * this version of the stack keeps a reference to that request for ever
 * (nua_session_usage_remove() takes one and skips its release for the request whose
 * transaction is live): a leak per race, and the race is common under attack. So the
 * session ends only once the re-INVITE completed: the peer's BYE is answered then, and
 * our own BYE is sent then; the re-INVITE is CANCELled to make that quick, and after
 * SIPUA_BYE_WAIT_MS the BYE goes ahead anyway (a peer answering neither).
 */
static void bye_now(struct sipua_leg *leg)
{
	sipua_timer_cancel(leg->bye_timer);
	leg->bye_timer = NULL;
	if (!leg->bye_deferred || !leg->nh)
		return;
	leg->bye_deferred = false;
	if (leg->bye_saved[0]) {
		nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_SAVED(leg->bye_saved), TAG_END());
		nua_destroy_event(leg->bye_saved);
	} else {
		nua_bye(leg->nh, TAG_END());
	}
}

static void bye_wait_over(void *arg)
{
	struct sipua_leg *leg = arg;

	leg->bye_timer = NULL;
	bye_now(leg);
}

void sipua_leg_defer_bye(struct sipua_leg *leg, nua_t *nua, bool peer)
{
	if (peer && leg->bye_saved[0]) {
		/* Another BYE (a new transaction) while one is held. Saving it too would
		 * overwrite the first (never answered, its event leaked), and answering it
		 * now, even with an error, makes the stack end the session's other server
		 * requests, the held BYE among them (nua_bye_server_report). Left pending:
		 * when the held BYE gets its 200, the stack answers this one 487. */
		return;
	}
	if (peer && nua_save_event(nua, leg->bye_saved) <= 0) {
		nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	leg->bye_deferred = true;
	if (!leg->cancel_pending) {
		leg->cancel_pending = true;
		nua_cancel(leg->nh, TAG_END());
	}
	if (!leg->bye_timer)
		sipua_timer_start(leg->ua, SIPUA_BYE_WAIT_MS, bye_wait_over, leg, &leg->bye_timer);
}

void sipua_leg_bye_resume(struct sipua_leg *leg)
{
	if (leg->bye_deferred)
		bye_now(leg);
}

/*
 * PRACK unanswered while our INVITE has no final response. The PRACK's timeout (timer
 * F, 64*T1; or an answer such as 481 that ends the session, which trunx takes from the
 * stack, see prack_refused_now() below) makes the stack remove the session while the
 * INVITE's transaction is live, and this version then keeps a reference to that
 * INVITE for ever (nua_session_usage_remove(), as for a BYE against our re-INVITE
 * above): its request, signal and handle, about 4 KB a call, for any
 * callee that sends a reliable 18x and never answers the PRACK. So trunx ends such an
 * INVITE itself before the PRACK can time out. Half of 64*T1 after the PRACK it
 * CANCELs the INVITE (a 487, or a 2xx that crosses the CANCEL, is read as usual: the
 * 2xx makes the call, and the INVITE done, the PRACK's timeout costs nothing). At 7/8
 * of 64*T1, the INVITE still without final response, the leg ends as the PRACK's
 * timeout would have ended it (FAILED 408, local) and its handle is destroyed: the
 * stack completes every request of a destroyed handle before it removes the session,
 * and so releases them all. A PRACK answered meanwhile stops the count. The stack's
 * shutdown shortens every timeout (sipua.c): such legs end before it, the same way.
 * The same holds for a reliable 18x to our re-INVITE (on either leg): half-way the
 * re-INVITE is CANCELled (its 487 fails the offer as usual, and the INVITE done, the
 * PRACK's timeout only ends the session, as the stack does); at 7/8, the re-INVITE
 * still open, the leg ends and its handle is destroyed at once, not kept for the
 * re-INVITE as sipua_leg_terminate() otherwise does: kept, the PRACK's timeout would
 * come first and keep it for ever.
 */
static unsigned prack_t1x64(const struct sipua_leg *leg)
{
	return leg->ua->cfg.t1x64_ms ? leg->ua->cfg.t1x64_ms : 32000;
}

static bool prack_matters(const struct sipua_leg *leg)
{
	if (!leg->prack_out || !leg->nh || leg->terminated)
		return false;
	if (leg->confirmed)   /* a reliable 18x to our re-INVITE */
		return leg->reoffer_pending;
	return !leg->inbound && !leg->failed;
}

static void prack_wait_over(void *arg)
{
	struct sipua_leg *leg = arg;
	struct log_rec r;

	leg->prack_timer = NULL;
	if (!prack_matters(leg))
		return;
	if (!leg->prack_late) {
		leg->prack_late = true;
		if (log_begin(&r, LOG_WARN, "sip.prack_unanswered")) {
			log_str(&r, "call_id", leg->call_id);
			log_str(&r, "action", leg->cancelled ? "wait" : "cancel");
			log_end(&r);
		}
		if (leg->confirmed) {
			sipua_leg_cancel_reoffer(leg);
		} else if (!leg->cancelled) {
			leg->cancelled = true;
			nua_cancel(leg->nh, TAG_END());
		}
		sipua_timer_start(leg->ua, prack_t1x64(leg) / 8 * 3, prack_wait_over, leg,
				  &leg->prack_timer);
		return;
	}
	if (log_begin(&r, LOG_WARN, "sip.prack_unanswered")) {
		log_str(&r, "call_id", leg->call_id);
		log_str(&r, "action", "end");
		log_end(&r);
	}
	if (!leg->end)
		leg->end = SIPUA_END_ERROR;
	if (leg->confirmed)   /* our re-INVITE and its PRACK go with the handle, now */
		leg->reoffer_pending = leg->cancel_pending = false;
	sipua_leg_terminate(leg->ua, leg, 408);
}

/*
 * An answer to our PRACK that ends the session (481, 404, 408, 480... from the peer)
 * while the INVITE is open does, inside the stack, what the PRACK's timeout does
 * (above), before trunx hears of it; so trunx's parser takes such an answer from the
 * stack (sipua_mclass.c) and the leg ends here, at once after the parse, as the stack
 * would have ended it (FAILED with that status, local: B refused no call, our PRACK),
 * its handle destroyed: the stack CANCELs the INVITE and completes its requests, so
 * nothing of the call stays. The answer's retransmissions are taken as well while the
 * leg is still there.
 */
static void prack_refused_now(void *arg)
{
	struct sipua_leg *leg = arg;
	struct log_rec r;

	leg->prack_timer = NULL;
	if (!prack_matters(leg))
		return;
	if (log_begin(&r, LOG_WARN, "sip.prack_refused")) {
		log_str(&r, "call_id", leg->call_id);
		log_int(&r, "status", leg->prack_refused);
		log_end(&r);
	}
	if (!leg->end)
		leg->end = SIPUA_END_ERROR;
	if (leg->confirmed)   /* our re-INVITE and its PRACK go with the handle, now */
		leg->reoffer_pending = leg->cancel_pending = false;
	sipua_leg_terminate(leg->ua, leg, leg->prack_refused);
}

bool sipua_leg_prack_refused(struct sipua *ua, const char *call_id,
			     const struct sockaddr *src, int status)
{
	bool taken = false;

	if (!call_id || !src)
		return false;
	for (struct sipua_leg *l = call_id_first(ua, call_id); l;
	     l = call_id_next(l->hnext, call_id)) {
		if (!sipua_leg_peer_has(l, src) || !prack_matters(l))
			continue;
		if (!l->prack_refused) {
			sipua_timer_cancel(l->prack_timer);
			l->prack_timer = NULL;
			if (sipua_timer_start(ua, 0, prack_refused_now, l, &l->prack_timer) != 0)
				continue;   /* left to the stack */
			l->prack_refused = status;
		}
		taken = true;
	}
	return taken;
}

void sipua_leg_prack_sent(struct sipua_leg *leg)
{
	leg->prack_out++;
	if (leg->prack_timer || leg->prack_late || leg->prack_refused || !prack_matters(leg))
		return;
	sipua_timer_start(leg->ua, prack_t1x64(leg) / 2, prack_wait_over, leg,
			  &leg->prack_timer);
}

void sipua_legs_end_prack(struct sipua *ua)
{
	struct sipua_leg *leg = ua->legs;

	while (leg) {
		if (!prack_matters(leg)) {
			leg = leg->next;
			continue;
		}
		if (!leg->end)
			leg->end = SIPUA_END_ERROR;
		sipua_leg_terminate(ua, leg, 408);
		leg = ua->legs;   /* the handler may have ended others */
	}
}

void sipua_leg_prack_done(struct sipua_leg *leg)
{
	if (leg->prack_out)
		leg->prack_out--;
	if (leg->prack_out || leg->prack_refused)
		return;
	sipua_timer_cancel(leg->prack_timer);
	leg->prack_timer = NULL;
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
	/* A leg we cancelled may still be answered: its 2xx crossed our CANCEL (the
	 * stack ACKs it), and the dialog it made must get its BYE now (RFC 3261 9.1,
	 * 15), or the called party stays in a call nobody is on. */
	if (!leg->hung_up || (leg->cancelled && !leg->bye_sent)) {
		leg->hung_up = true;
		leg->bye_sent = true;
		if (!leg->end)
			leg->end = SIPUA_END_BYE_LOCAL;
		if (leg->reoffer_pending)
			sipua_leg_defer_bye(leg, NULL, false);
		else
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
