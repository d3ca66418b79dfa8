/*
 * sipua_refer.c — call transfer by REFER (RFC 3515) on a leg: the REFER trunx sends
 * inside a confirmed dialog (Refer-To, Referred-By), its final answer, and the NOTIFYs
 * of the implied "refer" subscription whose message/sipfrag body tells how the
 * transferee's new call went. The stack answers those NOTIFYs 200 itself (they match
 * the subscription the REFER made); here their bodies are read — by our own parser,
 * never trusting the stack's view of the body — and handed up as events.
 *
 * A REFER a peer sends to trunx is never served: a stranger must never make trunx
 * place calls to arbitrary URIs, and a trunk peer has no business steering trunx's
 * own legs either. REFER is not in any leg's Allow, so the stack answers it 405
 * before anything of it is looked at; should one reach us anyway, it gets 403 here.
 */
#include "sipua_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>

#include "log.h"

#define SIPFRAG_MAX 8192   /**< larger sipfrag bodies are not read */

int sipua_sipfrag_status(const char *ctype, const char *body, size_t len, int *status)
{
	static const char ver[] = "SIP/2.0 ";
	const size_t vl = sizeof(ver) - 1;
	size_t tl;
	int st = 0;

	if (!ctype || !status || (!body && len))
		return EINVAL;
	*status = 0;
	/* "message/sipfrag", optionally with parameters (;version=2.0) */
	tl = strlen("message/sipfrag");
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, "message/sipfrag", tl) != 0 ||
	    (ctype[tl] && ctype[tl] != ';' && ctype[tl] != ' ' && ctype[tl] != '\t'))
		return ENOTSUP;
	if (len > SIPFRAG_MAX || len < vl + 3)
		return EBADMSG;
	/* The status line alone decides: "SIP/2.0 NNN[ reason]" up to the line end. */
	if (strncasecmp(body, ver, vl) != 0)
		return EBADMSG;
	for (size_t i = vl; i < vl + 3; i++) {
		if (!isdigit((unsigned char)body[i]))
			return EBADMSG;
		st = st * 10 + (body[i] - '0');
	}
	if (len > vl + 3 && body[vl + 3] != ' ' && body[vl + 3] != '\r' && body[vl + 3] != '\n')
		return EBADMSG;
	if (st < 100 || st > 699)
		return EBADMSG;
	*status = st;
	return 0;
}

int sipua_leg_refer(struct sipua_leg *leg, const char *refer_to, const char *referred_by)
{
	if (!leg || !refer_to || !refer_to[0])
		return EINVAL;
	if (!leg->confirmed || leg->hung_up || leg->terminated || !leg->nh)
		return ENOTCONN;
	if (leg->refer_busy)
		return EBUSY;
	/* The values were built by the caller from checked parts; the stack still parses
	 * them, and a header it cannot parse would be dropped: refuse those here. */
	if (strpbrk(refer_to, "\r\n") || (referred_by && strpbrk(referred_by, "\r\n")))
		return EINVAL;
	leg->refer_busy = true;
	leg->refer_final = false;
	/* The Allow sticks to the handle: without NOTIFY in it the stack would answer
	 * the subscription's NOTIFYs 405 itself. */
	nua_refer(leg->nh, SIPTAG_REFER_TO_STR(refer_to),
		  SIPTAG_ALLOW_STR(SIPUA_ALLOW_REFERRING),
		  TAG_IF(referred_by && referred_by[0], SIPTAG_REFERRED_BY_STR(referred_by)),
		  TAG_END());
	return 0;
}

/* The REFER's own answers: 100 (the stack's, with the subscription's Event) is
 * skipped; a final one is delivered. A failure ends the transfer attempt. */
void sipua_refer_answered(struct sipua *ua, struct sipua_leg *leg, int status, bool local)
{
	struct sipua_ev ev = {0};

	if (status < 200 || !leg->refer_busy)
		return;
	if (status >= 300) {
		leg->refer_busy = false;
		leg->refer_final = true;
	}
	ev.type = SIPUA_EV_REFER_ANSWER;
	ev.leg = leg;
	ev.status = status;
	ev.local = local;
	ev.sub_terminated = status >= 300;
	sipua_deliver(ua, &ev);
}

/* A NOTIFY of the refer subscription (already answered by the stack), or the stack's
 * own word that none came (sip NULL: status 408 or an internal error). */
void sipua_refer_notify(struct sipua *ua, struct sipua_leg *leg, int status, sip_t const *sip)
{
	struct sipua_ev ev = {0};
	const char *ct = NULL, *body = NULL;
	size_t len = 0;
	int frag = 0;

	if (!leg->refer_busy || leg->refer_final)
		return;   /* none of ours is running: nothing to report */
	ev.type = SIPUA_EV_REFER_NOTIFY;
	ev.leg = leg;
	if (!sip || !sip->sip_request) {
		ev.local = true;
		ev.status = status >= 300 ? status : 408;
		ev.sub_terminated = true;
	} else {
		if (status >= 300)
			return;   /* the stack refused this NOTIFY (481 ...): not ours */
		if (!sip->sip_event || !sip->sip_event->o_type ||
		    strcasecmp(sip->sip_event->o_type, "refer") != 0)
			return;
		if (sip->sip_content_type && sip->sip_content_type->c_type)
			ct = sip->sip_content_type->c_type;
		if (sip->sip_payload) {
			body = sip->sip_payload->pl_data;
			len = sip->sip_payload->pl_len;
		}
		if (!ct || sipua_sipfrag_status(ct, body, len, &frag) != 0)
			frag = 0;   /* unreadable: reported as status 0 */
		ev.status = frag;
		ev.sub_terminated = !sip->sip_subscription_state ||
			!sip->sip_subscription_state->ss_substate ||
			strcasecmp(sip->sip_subscription_state->ss_substate, "terminated") == 0;
		ev.msg = nua_current_request(ua->nua);
	}
	if (ev.sub_terminated || ev.status >= 200) {
		leg->refer_busy = false;
		leg->refer_final = true;
	}
	sipua_deliver(ua, &ev);
}

/* A REFER from the peer, inside a dialog: never served. */
void sipua_refer_in(struct sipua *ua, nua_t *nua, struct sipua_leg *leg)
{
	(void)ua;
	log_msg(LOG_INFO, "sip.refer_refused", "REFER on %s refused: transfer by the peer "
		"is not allowed", leg->call_id);
	nua_respond(leg->nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua),
		    SIPTAG_WARNING_STR("399 trunx \"transfer by REFER is not accepted\""),
		    SIPTAG_ALLOW_STR(SIPUA_ALLOW), TAG_END());
}
