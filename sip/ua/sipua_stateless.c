/*
 * sipua_stateless.c — requests answered without transaction state, in front of the
 * stack (RFC 3261 8.2.7, stateless UAS behaviour): OPTIONS from a known source gets
 * 200, an out-of-dialog request from a source the check refuses gets 403 (or, when it
 * drops, nothing; the 403 names no method nor extension we serve: no Allow, no
 * Supported), and the ACK of such a 403 is absorbed; so does a request that
 * claims a dialog (To tag) from such a source when it is not the peer of any live
 * dialog, or is the peer of some but not of a dialog with that Call-ID (the dialog
 * gate: the stack would answer a BYE, UPDATE or PRACK cut loose from the dialog with
 * its own 481 naming every method it knows); an ACK of that kind is absorbed. Over UDP the stack would
 * keep each of these as a transaction for 64*T1 (32 s, ~8.7 KB each): a flood of
 * them filled memory. A retransmission is simply answered again; the To tag is a
 * keyed hash of the request's transaction identifiers, so it is the same each time
 * and the ACK of a 403 can be recognised by it.
 *
 * An INVITE's body does not matter to its refusal: an INVITE with SDP from a refused
 * source is answered here too (through the stack, each kept ~6 KB of state for 32 s).
 *
 * A new INVITE (no To tag) from a known source that the call layer refuses whatever
 * its route (sipua_request_check: a header it relies on repeated or broken, a body it
 * cannot take; and a Contact or Record-Route that is no target, which trunx's own
 * message class would have refused while parsing) gets that refusal here (400, 415,
 * 406 with the reason in a Warning, as the stack path writes it), even when the
 * parser did not take it cleanly, provided the headers the answer copies are sound:
 * through the stack it was a transaction, its 400 resent until ACKed and ~10 KB kept
 * for 32 s. So is a known source's out-of-dialog request of a method trunx does not
 * serve there answered here (unserved_status: 405, 481 for UPDATE, 501 for an
 * unknown one; the check's 400 first for a 405), naming in Allow the methods served,
 * unless its Call-ID is a live dialog's (ctx->call_live: the stack may match it).
 * One the stack would serve is put to the admission (ctx->decide: the call
 * layer's max_calls and max_cps, then its route step for a number routed nowhere,
 * sipua_front.c): when it refuses, the answer is the one the call layer's refusal
 * through the stack gives (a 404 with its Warning, or a 503 with Retry-After; Allow,
 * the trunk's Supported, a To tag), and the request's fields are handed back for its
 * call record; otherwise the stack has it. A retransmission of a refused INVITE gets
 * the same status and To tag, without the Warning (the table keeps 4 bytes a refusal).
 * A refused source's request is refused here even when the parser did not take it
 * cleanly, provided the headers the 403 copies are sound. Anything unusual goes to the
 * stack as before (DELIVER): from a known source a message the parser did not take
 * cleanly (other than those two kinds), in-dialog requests (To tag) from a trunk or a
 * live dialog's peer, OPTIONS with Require or with Max-Forwards 0, and ACK, BYE,
 * CANCEL and PRACK outside a dialog from known sources (other than the ACK of an
 * answer of ours). The message is parsed with the stack's own parser (msg_make) and
 * never trusted further than its fields say; the answer is parsed back before it is
 * sent, and must read as the answer to it.
 */
#include "sipua_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>

#include "guard.h"

static uint64_t hstr(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

uint64_t sipua_sl_key(uint64_t secret, sip_t const *sip)
{
	uint64_t h = 0xcbf29ce484222325ull ^ secret;

	if (!sip || !sip->sip_call_id || !sip->sip_from || !sip->sip_via || !sip->sip_cseq)
		return 0;
	h = hstr(h, sip->sip_call_id->i_id);
	h = hstr(h, sip->sip_from->a_tag);
	h = hstr(h, sip->sip_via->v_branch);
	h = guard_mix(h ^ sip->sip_cseq->cs_seq);
	return h ? h : 1;
}

/* The To tag of our stateless answer to this request (and to its ACK). */
static void stateless_tag(uint64_t secret, sip_t const *sip, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)sipua_sl_key(secret, sip));
}

static void copy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

/* A refused INVITE's fields, as the stack's INVITE event would give them. */
static void refusal_fill(struct sipua_sl_refusal *r, sip_t const *sip, uint64_t key, bool first)
{
	struct sipua_incoming *in = &r->in;

	memset(in, 0, sizeof(*in));
	r->key = key;
	r->first = first;
	sipua_incoming_fill(sip, in, &r->buf);
	copy(r->ruri_user, sizeof(r->ruri_user), in->ruri_user);
	copy(r->from_user, sizeof(r->from_user), in->from_user);
	copy(r->from_display, sizeof(r->from_display), in->from_display);
	copy(r->to_user, sizeof(r->to_user), in->to_user);
	in->ruri_user = r->ruri_user;
	in->from_user = r->from_user;
	in->from_display = r->from_display;
	in->to_user = r->to_user;
}

/* The Supported of the stack's first answer on a leg with this policy. */
static const char *supported_of(const struct sipua_policy *p)
{
	bool timer = p->session_expires > 0, rel = p->rel100 != SIPUA_REL100_OFF;

	return timer && rel ? "timer, 100rel" : timer ? "timer" : rel ? "100rel" : "";
}

struct out {
	char  *p;
	size_t len, cap;
	bool   full;
};

static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->full || o->len + n >= o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* "Name: value" of one header (a single value of a list), then CRLF. A value that
 * encodes with a line break or a NUL in it (a folded value the parser kept as text)
 * spoils the answer: the stack answers such a request instead. */
static void put_header(struct out *o, const char *name, msg_header_t const *h, const char *tail)
{
	issize_t n;

	put(o, name);
	put(o, ": ");
	if (o->full)
		return;
	n = msg_header_field_e(o->p + o->len, (isize_t)(o->cap - o->len), h, 0);
	if (n <= 0 || (size_t)n >= o->cap - o->len || memchr(o->p + o->len, '\r', (size_t)n) ||
	    memchr(o->p + o->len, '\n', (size_t)n) || memchr(o->p + o->len, '\0', (size_t)n)) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
	o->p[o->len] = '\0';
	if (tail)
		put(o, tail);
	put(o, "\r\n");
}

/* The top Via as the stack writes it in its answers: rport= the source port (it
 * runs in "always" mode), received= the source address when it differs from the
 * sent-by host. */
static bool put_top_via(struct out *o, su_home_t *home, sip_via_t const *v,
			const struct sockaddr *src)
{
	char ip[INET6_ADDRSTRLEN], param[INET6_ADDRSTRLEN + 16];
	sip_via_t *c = (sip_via_t *)msg_header_dup_one(home, (msg_header_t const *)v);
	uint16_t port;

	if (!c)
		return false;
	if (src->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)src)->sin_addr, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in *)src)->sin_port);
	} else if (src->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)src)->sin6_addr, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in6 *)src)->sin6_port);
	} else {
		return false;
	}
	/* Remove, then add (replacing does not add a parameter that is absent); the
	 * header keeps a pointer to the text, so it lives in the message's home. */
	snprintf(param, sizeof(param), "rport=%u", port);
	msg_header_remove_param(c->v_common, "rport");
	if (msg_header_add_param(home, c->v_common, su_strdup(home, param)) < 0)
		return false;
	if (!c->v_host || strcasecmp(c->v_host, ip) != 0) {
		snprintf(param, sizeof(param), "received=%s", ip);
		msg_header_remove_param(c->v_common, "received");
		if (msg_header_add_param(home, c->v_common, su_strdup(home, param)) < 0)
			return false;
	}
	put_header(o, "Via", (msg_header_t const *)c, NULL);
	return !o->full;
}

/* Every header a response copies was parsed (a copy of a single header, or a header
 * that did not parse, is on the error list and not among these) and agrees with the
 * request line: a top Via with a host, From, To, Call-ID and the request's CSeq. */
static bool answerable_request(sip_t const *sip)
{
	return sip && sip->sip_request && sip->sip_request->rq_method_name &&
	       sip->sip_via && sip->sip_via->v_host && sip->sip_from && sip->sip_to &&
	       sip->sip_call_id && sip->sip_call_id->i_id && sip->sip_cseq &&
	       sip->sip_cseq->cs_method == sip->sip_request->rq_method &&
	       (sip->sip_request->rq_method != sip_method_unknown ||
		(sip->sip_cseq->cs_method_name &&
		 strcmp(sip->sip_cseq->cs_method_name, sip->sip_request->rq_method_name) == 0));
}

/* The request is one trunx may answer statelessly whoever sent it: answerable, SIP/2.0
 * to a sip: or sips: URI, a body (if any) of exactly its Content-Length, and (clean)
 * nothing on the error list; a sound one may have headers there (a copy of a single
 * one, or one that did not parse), which the call layer's own check judges
 * (sipua_request_check). Anything else from a known source the stack answers (505,
 * 416, 400 ...). */
static bool sound_request(msg_t *msg, sip_t const *sip, bool clean)
{
	msg_pub_t const *pub = msg_object(msg);

	return pub && !(pub->msg_flags & MSG_FLG_ERROR) && answerable_request(sip) &&
	       (!clean || !sip->sip_error) && sip->sip_request->rq_version &&
	       strcasecmp(sip->sip_request->rq_version, SIP_VERSION_CURRENT) == 0 &&
	       (sip->sip_request->rq_url->url_type == url_sip ||
		sip->sip_request->rq_url->url_type == url_sips) &&
	       /* A body is not read, but must be what Content-Length says it is. */
	       (sip->sip_payload ? sip->sip_content_length &&
				   sip->sip_payload->pl_len == sip->sip_content_length->l_length
				 : !sip->sip_content_length ||
				   sip->sip_content_length->l_length == 0);
}

static bool clean_request(msg_t *msg, sip_t const *sip)
{
	return sound_request(msg, sip, true);
}

/*
 * What a known source's out-of-dialog request of a method trunx does not serve there
 * gets through the stack, which the front answers alike: 405 from trunx's
 * out-of-dialog handler (ood_request, sipua_event.c), 481 from the stack for an
 * UPDATE (a dialog's method, and no dialog), and 501 for a method it does not know
 * (RFC 3261 8.2.1); the stack's own answers also named every method it parses
 * (REGISTER, SUBSCRIBE, PUBLISH ...) in Allow, where the front names those trunx
 * serves. 0: a method served out of a dialog (INVITE, OPTIONS) or one whose
 * out-of-dialog form is the stack's business (ACK, BYE, CANCEL, PRACK).
 */
static int unserved_status(sip_method_t m)
{
	switch (m) {
	case sip_method_register: case sip_method_message: case sip_method_subscribe:
	case sip_method_notify: case sip_method_refer: case sip_method_publish:
	case sip_method_info:
		return 405;
	case sip_method_update:
		return 481;
	case sip_method_unknown:
		return 501;
	default:
		return 0;
	}
}

/* A known source's request outside a dialog that the front answers whatever its
 * headers the call layer does not rely on say: a new INVITE it admits or refuses
 * (decide), or a method trunx does not serve there; sound enough to be answered. */
static bool front_refusable(const struct sipua_sl_ctx *c, msg_t *msg, sip_t const *sip)
{
	return c->verdict == SIPUA_ACCEPT && sound_request(msg, sip, false) &&
	       !sip->sip_to->a_tag &&
	       ((sip->sip_request->rq_method == sip_method_invite && c->decide) ||
		unserved_status(sip->sip_request->rq_method));
}

/*
 * What the call layer refuses in a request whatever the admission says, as its
 * refusal through the stack does (sipua_request_check on trunx's message class,
 * whose Contact and Record-Route parse strictly, sipua_mclass.c): the status and its
 * reason, or 0. The front parses with the stack's default class, so the URIs of those
 * two are checked here: a new INVITE's Contacts (another request's Contact does not
 * become a target, and the stack path lets it be) and every Record-Route (the source
 * check of a Contact is the stack's: this source is a trunk's).
 */
static int request_refusal(const struct sipua_sl_ctx *c, sip_t const *sip,
			   enum sipua_req_kind kind, char *why, size_t whylen)
{
	int status = sipua_request_check(sip, kind, c->tpm, NULL, why, whylen);
	const char *bad;

	if (status)
		return status;
	for (sip_contact_t const *m = sip->sip_contact;
	     kind == SIPUA_REQ_INITIAL_INVITE && m; m = m->m_next)
		if ((bad = sipua_target_check(m->m_url, c->tpm)) != NULL) {
			snprintf(why, whylen, "unusable Contact: %s", bad);
			return 400;
		}
	for (sip_record_route_t const *r = sip->sip_record_route; r; r = r->r_next)
		if (sipua_target_check(r->r_url, c->tpm)) {
			snprintf(why, whylen, "unusable Record-Route");
			return 400;
		}
	return 0;
}

/* The Warning of a refusal as the stack path writes it (respond_why, sipua_event.c). */
static void put_warning(struct out *o, const char *why)
{
	char warn[200];

	sipua_warning_value(NULL, why, warn, sizeof(warn));
	put(o, "Warning: ");
	put(o, warn);
	put(o, "\r\n");
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/*
 * The answer written reads back, with the stack's parser, as a clean response to
 * this request: the same Call-ID, CSeq, From tag and number of Vias, a To tag. A
 * header the parser took but cannot write back the same way (odd characters in a
 * URI, say) fails this, and the stack answers the request instead.
 */
static bool reply_reads_back(const char *reply, size_t n, sip_t const *q)
{
	msg_t *m = msg_make(sip_default_mclass(), 0, reply, (ssize_t)n);
	sip_t const *r = m ? sip_object(m) : NULL;
	msg_pub_t const *pub = m ? msg_object(m) : NULL;
	size_t vq = 0, vr = 0;
	bool ok;

	for (sip_via_t const *v = q->sip_via; v; v = v->v_next)
		vq++;
	for (sip_via_t const *v = r ? r->sip_via : NULL; v; v = v->v_next)
		vr++;
	ok = r && pub && !(pub->msg_flags & MSG_FLG_ERROR) && !r->sip_error && r->sip_status &&
	     !r->sip_request && vq == vr && r->sip_call_id &&
	     same_str(r->sip_call_id->i_id, q->sip_call_id->i_id) && r->sip_cseq &&
	     r->sip_cseq->cs_seq == q->sip_cseq->cs_seq &&
	     r->sip_cseq->cs_method == q->sip_cseq->cs_method && r->sip_from &&
	     same_str(r->sip_from->a_tag, q->sip_from->a_tag) && r->sip_to && r->sip_to->a_tag;
	msg_destroy(m);
	return ok;
}

enum sipua_sl_action sipua_stateless(const struct sipua_sl_ctx *c, const char *data, size_t len,
				     const struct sockaddr *src, char *buf, size_t buflen,
				     size_t *outn, int *statusp)
{
	enum sipua_sl_action act = SIPUA_SL_DELIVER;
	struct out o = {.p = buf, .cap = buflen};
	char tag[17];
	msg_t *msg;
	sip_t const *sip;
	int status = 0;
	bool in_dialog;
	enum sipua_sl_decision decision = SIPUA_SL_PASS;
	struct sipua_admit_answer ans = {0};
	bool admission = false;   /* the answer is the admission's refusal */
	bool clean;
	bool unserved = false;    /* a method trunx does not serve out of a dialog */
	char why[128];            /* the reason of the call layer's refusal, or "" */

	*outn = 0;
	*statusp = 0;
	why[0] = '\0';
	if (!len || !buflen)
		return SIPUA_SL_DELIVER;
	buf[0] = '\0';
	msg = msg_make(sip_default_mclass(), 0, data, (ssize_t)len);
	if (!msg)
		return SIPUA_SL_DELIVER;
	sip = sip_object(msg);
	/* A source the check refuses is refused whatever else is wrong with its request
	 * (a header repeated or broken, an odd URI, version or body length), as long as
	 * what the 403 copies is sound: through the stack, such a request was answered
	 * statefully, an INVITE's 403 resent ten times over 32 s to whatever address
	 * its datagram claimed, ~10 KB kept meanwhile. From anyone else the stack has it. */
	clean = clean_request(msg, sip);
	if (!clean && (c->verdict == SIPUA_ACCEPT || !answerable_request(sip)) &&
	    !front_refusable(c, msg, sip))
		goto out;
	stateless_tag(c->secret, sip, tag);
	in_dialog = sip->sip_to->a_tag != NULL;
	if (in_dialog && c->verdict != SIPUA_ACCEPT && c->dialog_peer && c->gate &&
	    !c->gate(c->gate_arg, sip->sip_call_id->i_id, src)) {
		/* The peer of another dialog, naming this one: a stranger here. */
		if (c->gated_out)
			*c->gated_out = true;
	} else if (in_dialog && (c->verdict == SIPUA_ACCEPT || c->dialog_peer)) {
		/* In a dialog: the stack's business, except the ACK of our own 403 (or of
		 * our own 503 to a known source). */
		if ((c->verdict != SIPUA_ACCEPT || c->decide) &&
		    sip->sip_request->rq_method == sip_method_ack &&
		    strcmp(sip->sip_to->a_tag, tag) == 0)
			act = SIPUA_SL_SWALLOW;
		goto out;
	}
	/* From here: out of dialog, or "in a dialog" from a source that is neither a trunk
	 * nor the peer of a live dialog, which has no dialog here (403 like out of one). */
	switch (c->verdict) {
	case SIPUA_DROP:
		act = SIPUA_SL_SWALLOW;
		goto out;
	case SIPUA_REJECT:
		if (sip->sip_request->rq_method == sip_method_ack) {
			act = SIPUA_SL_SWALLOW;
			goto out;
		}
		status = 403;
		break;
	case SIPUA_ACCEPT:
		if (sip->sip_request->rq_method == sip_method_invite && c->decide) {
			/* A new call: served by the stack unless the call layer's own check
			 * (a header repeated or broken, an unusable Contact, a body it
			 * cannot take) or the admission refuses it. Through the stack such a
			 * refusal was a transaction: ~10 KB kept for 32 s and the answer
			 * resent until ACKed. A request with only headers the call layer
			 * does not rely on broken is still the stack's. */
			struct sipua_incoming in;
			struct sipua_incoming_buf ib;

			status = request_refusal(c, sip, SIPUA_REQ_INITIAL_INVITE, why,
						 sizeof(why));
			if (status)
				break;
			if (!clean)
				goto out;
			memset(&in, 0, sizeof(in));
			sipua_incoming_fill(sip, &in, &ib);
			memset(&ans, 0, sizeof(ans));
			decision = c->decide(c->decide_arg, sipua_sl_key(c->secret, sip), &in, &ans);
			if (decision == SIPUA_SL_PASS)
				goto out;
			status = ans.status >= 300 && ans.status <= 699 ? ans.status : 503;
			admission = true;
			break;
		}
		if (!in_dialog && (status = unserved_status(sip->sip_request->rq_method))) {
			/* The stack's own 481 and 501 come before trunx's check. One
			 * naming a Call-ID of a live dialog is the stack's (see
			 * call_live). */
			if (c->call_live && c->call_live(c->call_live_arg, sip->sip_call_id->i_id))
				goto out;
			int refusal = status == 405 ? request_refusal(c, sip, SIPUA_REQ_OTHER,
								      why, sizeof(why)) : 0;

			if (refusal)
				status = refusal;
			unserved = true;
			break;
		}
		if (sip->sip_request->rq_method != sip_method_options || sip->sip_require ||
		    (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0))
			goto out;
		status = 200;
		break;
	default:
		goto out;
	}
	{
		char line[64];

		snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", status, sipua_phrase(status));
		put(&o, line);
	}
	if (!put_top_via(&o, msg_home(msg), sip->sip_via, src))
		goto out;
	for (sip_via_t const *v = sip->sip_via->v_next; v; v = v->v_next)
		put_header(&o, "Via", (msg_header_t const *)v, NULL);
	put_header(&o, "From", (msg_header_t const *)sip->sip_from, NULL);
	{
		char t[24];

		snprintf(t, sizeof(t), ";tag=%s", tag);
		put_header(&o, "To", (msg_header_t const *)sip->sip_to, in_dialog ? NULL : t);
	}
	put_header(&o, "Call-ID", (msg_header_t const *)sip->sip_call_id, NULL);
	put_header(&o, "CSeq", (msg_header_t const *)sip->sip_cseq, NULL);
	if (status == 200 && c->contact && c->contact[0]) {
		put(&o, "Contact: ");
		put(&o, c->contact);
		put(&o, "\r\n");
	}
	if (admission && decision == SIPUA_SL_REFUSE && ans.warning && ans.warning[0] &&
	    !strpbrk(ans.warning, "\r\n")) {
		/* The headers in the order of the call layer's refusal through the stack. */
		put(&o, "Warning: ");
		put(&o, ans.warning);
		put(&o, "\r\n");
	}
	if (admission && status == 503 && ans.retry_after) {
		char ra[40];

		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", ans.retry_after);
		put(&o, ra);
	}
	if (why[0])
		put_warning(&o, why);
	if (c->user_agent && c->user_agent[0]) {
		put(&o, "User-Agent: ");
		put(&o, c->user_agent);
		put(&o, "\r\n");
	}
	if (status == 200 || status == 415)
		put(&o, "Accept: application/sdp, multipart/mixed\r\n");
	if (why[0] || unserved) {
		put(&o, "Allow: " SIPUA_ALLOW "\r\nContent-Length: 0\r\n\r\n");
	} else if (admission) {
		/* As the call layer's refusal through the stack writes it (sipua_leg_respond:
		 * the leg's first answer, with the trunk's policy; fail_call's Warning and
		 * Retry-After). */
		const char *sup = supported_of(&ans.policy);

		put(&o, "Allow: " SIPUA_ALLOW "\r\n");
		if (sup[0]) {
			put(&o, "Supported: ");
			put(&o, sup);
			put(&o, "\r\n");
		}
		put(&o, "Content-Length: 0\r\n\r\n");
	} else if (status == 403) {
		/* A refused source learns nothing of what we serve: no Allow, no
		 * Supported (as the stack's 403 to it, sipua_event.c). */
		put(&o, "Content-Length: 0\r\n\r\n");
	} else {
		put(&o, "Allow: " SIPUA_ALLOW "\r\nSupported: timer, 100rel\r\nContent-Length: 0\r\n\r\n");
	}
	if (!o.full && reply_reads_back(o.p, o.len, sip)) {
		act = SIPUA_SL_REPLY;
		*outn = o.len;
		*statusp = status;
		if (admission && c->refusal) {
			refusal_fill(c->refusal, sip, sipua_sl_key(c->secret, sip),
				     decision == SIPUA_SL_REFUSE);
			c->refusal->status = status;
			c->refusal->in.peer = ans.peer;
		}
	}
out:
	msg_destroy(msg);
	return act;
}
