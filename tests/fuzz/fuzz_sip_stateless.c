/* fuzz_sip_stateless.c — the stateless answers in front of the SIP stack (sip/ua/
 * sipua_stateless.c): raw bytes -> the stack's parser -> trunx's checks -> an answer,
 * for each verdict a source can get. Oracles: an answer is a complete response that
 * the stack's parser reads back as a response to that request (same Call-ID, CSeq and
 * From, a To tag, Content-Length 0), 200 only for a known source and 403 only for a
 * refused one; a dropped source never gets an answer; a request claiming a dialog
 * (To tag) is answered only for a refused source that is no live dialog's peer, and
 * keeps its To tag. The admission of new INVITEs from known sources (sipua_set_admit)
 * is asked only for INVITEs outside a dialog; its answer (503, or 404) comes only
 * when it refused, once per ask, with its status, its Retry-After (503), its Warning
 * (the first answer only) and the Supported of its policy, and the refusal's
 * record fields are the request's (Call-ID, key, first time or retransmission); a new
 * INVITE the call layer's own check refuses (400, 415, 406) is answered before the
 * admission is asked, with its reason in a Warning, and makes no record; out of a
 * dialog, a known source's request of a method trunx does not serve there gets 405
 * (or the check's 400), 481 (UPDATE) or 501 (unknown), naming the methods served.
 * Also the shape the stack's log lines are written in (sipua.c), on the same bytes
 * (those lines quote the wire's URIs): never longer than its input or its buffer,
 * always terminated. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipua_int.h"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[8192];

/* The admission's answers, in turn: pass, refuse, refuse again (a retransmission). */
struct admit_fake {
	unsigned                calls;
	enum sipua_sl_decision  last;
	uint64_t                key;
	unsigned                retry_after;
	enum sipua_rel100       rel100;
	int                     status;   /* 503 (a limit) or 404 (a number not routed) */
};

#define FAKE_WARNING "399 fuzz.invalid \"number not routed\""

static enum sipua_sl_decision fake_decide(void *arg, uint64_t key,
					  const struct sipua_incoming *in,
					  struct sipua_admit_answer *ans)
{
	struct admit_fake *a = arg;

	if (in->max_forwards < -1 || !in->ruri_user || !in->from_user || !in->call_id)
		abort();
	(void)strlen(in->ruri_user);
	(void)strlen(in->from_user);
	a->key = key;
	a->last = (enum sipua_sl_decision)(a->calls++ % 3);
	ans->status = a->status;
	ans->warning = a->status == 404 ? FAKE_WARNING : NULL;
	ans->retry_after = a->retry_after;
	ans->policy.rel100 = a->rel100;
	ans->policy.session_expires = a->retry_after % 2 ? 1800 : 0;
	return a->last;
}

static bool call_live_yes(void *arg, const char *call_id)
{
	(void)arg;
	return call_id != NULL;
}

static bool gate_no(void *arg, const char *call_id, const struct sockaddr *src)
{
	(void)arg;
	(void)call_id;
	(void)src;
	return false;
}

/* Does the answer (reply[0..n)) have a header line "name:"? */
static bool says(const char *reply, size_t n, const char *name)
{
	size_t k = strlen(name);

	for (const char *p = reply; p && p < reply + n; ) {
		const char *e = memchr(p, '\n', (size_t)(reply + n - p));

		if (p != reply && (size_t)(reply + n - p) > k && strncasecmp(p, name, k) == 0 &&
		    p[k] == ':')
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* Checks the answer; returns whether the request claimed a dialog (a To tag). */
static bool check_reply(const char *req, size_t len, const char *reply, size_t n, int status)
{
	bool in_dialog;

	msg_t *qm, *rm;
	sip_t const *q, *r;

	if (n == 0 || n >= sizeof(out) || memcmp(reply + n - 4, "\r\n\r\n", 4) != 0)
		abort();
	qm = msg_make(sip_default_mclass(), 0, req, (ssize_t)len);
	rm = msg_make(sip_default_mclass(), 0, reply, (ssize_t)n);
	q = sip_object(qm);
	r = sip_object(rm);
	if (!q || !r || !r->sip_status || r->sip_status->st_status != status || r->sip_request ||
	    !r->sip_call_id || strcmp(r->sip_call_id->i_id, q->sip_call_id->i_id) != 0 ||
	    !r->sip_cseq || r->sip_cseq->cs_seq != q->sip_cseq->cs_seq ||
	    !r->sip_to || !r->sip_to->a_tag || !r->sip_from ||
	    (q->sip_from->a_tag && (!r->sip_from->a_tag ||
				    strcmp(r->sip_from->a_tag, q->sip_from->a_tag) != 0)) ||
	    !r->sip_via || !r->sip_via->v_rport || strcmp(r->sip_via->v_rport, "5062") != 0 ||
	    !r->sip_content_length || r->sip_content_length->l_length != 0 || r->sip_error)
		abort();
	/* A request that claims a dialog keeps its To tag, the only one in the answer. */
	if (q->sip_to->a_tag && strcmp(r->sip_to->a_tag, q->sip_to->a_tag) != 0)
		abort();
	in_dialog = q->sip_to->a_tag != NULL;
	msg_destroy(qm);
	msg_destroy(rm);
	return in_dialog;
}

/* Does the stack's parser read these bytes as an INVITE request? */
static bool is_invite(const char *req, size_t len)
{
	msg_t *qm = msg_make(sip_default_mclass(), 0, req, (ssize_t)len);
	sip_t const *q = sip_object(qm);
	bool yes = q && q->sip_request && q->sip_request->rq_method == sip_method_invite;

	msg_destroy(qm);
	return yes;
}

/* A known source's request outside a dialog of a method trunx does not serve there:
 * answered 405 (or 400 by the call layer's check, with its Warning), 481 for an
 * UPDATE, 501 for an unknown method, naming the methods trunx serves. Aborts
 * otherwise. */
static void check_unserved(const char *req, size_t len, const char *reply, size_t n,
			   int status)
{
	msg_t *qm = msg_make(sip_default_mclass(), 0, req, (ssize_t)len);
	sip_t const *q = sip_object(qm);
	int want;

	if (!q || !q->sip_request || q->sip_to->a_tag)
		abort();
	switch (q->sip_request->rq_method) {
	case sip_method_register: case sip_method_message: case sip_method_subscribe:
	case sip_method_notify: case sip_method_refer: case sip_method_publish:
	case sip_method_info:
		want = 405;
		break;
	case sip_method_update:
		want = 481;
		break;
	case sip_method_unknown:
		want = 501;
		break;
	default:
		abort();
	}
	if (check_reply(req, len, reply, n, status) || !says(reply, n, "Allow") ||
	    says(reply, n, "Supported") ||
	    (status != want && !(want == 405 && status == 400)) ||
	    (status == 400) != says(reply, n, "Warning"))
		abort();
	msg_destroy(qm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum sipua_verdict verdicts[] = {SIPUA_ACCEPT, SIPUA_REJECT, SIPUA_DROP};
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(5062)};

	inet_pton(AF_INET, "192.0.2.7", &src.sin_addr);
	{
		static char shape[256];
		size_t n = sipua_stack_log_shape((const char *)data, size, shape, sizeof(shape));

		if (n >= sizeof(shape) || n > size || shape[n] != '\0')
			abort();
	}
	/* A known source with the admission in front: three answers in turn. */
	for (unsigned k = 0; k < 3; k++) {
		static struct sipua_sl_refusal ref;
		struct admit_fake af = {.calls = k, .retry_after = size % 7,
					.rel100 = (enum sipua_rel100)(size % 3),
					.status = size % 5 == 0 ? 404 : 503};
		struct sipua_sl_ctx c = {.verdict = SIPUA_ACCEPT, .user_agent = "trunx-fuzz",
					 .contact = "<sip:198.51.100.1:5060>", .secret = 42,
					 .tpm = SIPUA_TPM_UDP | SIPUA_TPM_TCP,
					 .decide = fake_decide, .decide_arg = &af,
					 .refusal = &ref};
		size_t n = 0;
		int status = 0;
		enum sipua_sl_action a;

		memset(&ref, 0, sizeof(ref));
		a = sipua_stateless(&c, (const char *)data, size, (const struct sockaddr *)&src,
				    out, sizeof(out), &n, &status);
		if (af.calls > k + 1)
			abort();   /* asked once at most */
		if (a == SIPUA_SL_SWALLOW) {
			/* Only the ACK of a stateless answer of ours (its To tag) is absorbed. */
			msg_t *qm = msg_make(sip_default_mclass(), 0, (const char *)data, (ssize_t)size);
			sip_t const *q = sip_object(qm);
			char tag[17];

			if (!q || !q->sip_request || q->sip_request->rq_method != sip_method_ack ||
			    !q->sip_to || !q->sip_to->a_tag || af.calls != k)
				abort();
			snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)sipua_sl_key(42, q));
			if (strcmp(tag, q->sip_to->a_tag) != 0)
				abort();
			msg_destroy(qm);
			continue;
		}
		if (a != SIPUA_SL_REPLY) {
			if (n != 0)
				abort();
			continue;
		}
		if (status == 200)
			continue;   /* OPTIONS: the oracles below are the other loop's */
		if (af.calls == k && ref.status == 0 && !is_invite((const char *)data, size)) {
			check_unserved((const char *)data, size, out, n, status);
			continue;
		}
		if (status == 400 || status == 415 || status == 406) {
			/* The call layer's own refusal of a new INVITE (a vital header
			 * repeated or broken, an unusable Contact, a body it cannot take):
			 * before the admission, with the reason in a Warning and the
			 * methods served; no call record. */
			msg_t *qm = msg_make(sip_default_mclass(), 0, (const char *)data,
					     (ssize_t)size);
			sip_t const *q = sip_object(qm);

			if (!q || !q->sip_request || q->sip_request->rq_method != sip_method_invite ||
			    af.calls != k || ref.status != 0 ||
			    check_reply((const char *)data, size, out, n, status) ||
			    !says(out, n, "Warning") || !says(out, n, "Allow") ||
			    (status == 415) != says(out, n, "Accept"))
				abort();
			out[n] = '\0';
			if (!strstr(out, "\r\nWarning: 399 - \""))
				abort();
			msg_destroy(qm);
			continue;
		}
		if (status != af.status || af.calls != k + 1 || af.last == SIPUA_SL_PASS ||
		    ref.status != status || ref.first != (af.last == SIPUA_SL_REFUSE))
			abort();
		if (check_reply((const char *)data, size, out, n, status))
			abort();   /* only a new INVITE, outside any dialog, is refused here */
		{
			char want[48] = "";
			bool timer = af.retry_after % 2, rel = af.rel100 != SIPUA_REL100_OFF;
			const char *sup = timer && rel ? "\r\nSupported: timer, 100rel\r\n" :
					  timer ? "\r\nSupported: timer\r\n" :
					  rel ? "\r\nSupported: 100rel\r\n" : NULL;

			const char *line = status == 503 ? "SIP/2.0 503 Service Unavailable\r\n"
							 : "SIP/2.0 404 Not Found\r\n";
			bool warned = status == 404 && af.last == SIPUA_SL_REFUSE;

			out[n] = '\0';
			if (af.retry_after && status == 503)
				snprintf(want, sizeof(want), "\r\nRetry-After: %u\r\n", af.retry_after);
			if ((want[0] && !strstr(out, want)) ||
			    (!want[0] && strstr(out, "\r\nRetry-After:")) ||
			    (sup && !strstr(out, sup)) || (!sup && strstr(out, "\r\nSupported:")) ||
			    (warned != (strstr(out, "\r\nWarning: " FAKE_WARNING "\r\n") != NULL)) ||
			    (!warned && strstr(out, "\r\nWarning:")) ||
			    strncmp(out, line, strlen(line)) != 0)
				abort();
		}
		/* The refusal describes this request. */
		{
			msg_t *qm = msg_make(sip_default_mclass(), 0, (const char *)data, (ssize_t)size);
			sip_t const *q = sip_object(qm);

			if (!q || !q->sip_request || q->sip_request->rq_method != sip_method_invite ||
			    ref.key != af.key || ref.key != sipua_sl_key(42, q) ||
			    ref.first != (af.last == SIPUA_SL_REFUSE) ||
			    strncmp(ref.in.call_id, q->sip_call_id->i_id, sizeof(ref.buf.call_id) - 1) != 0)
				abort();
			msg_destroy(qm);
		}
	}
	for (size_t i = 0; i < 9; i++) {
		/* i >= 6: the peer of a live dialog, but not of the one the request names
		 * (the dialog gate says no): a stranger there; and for a known source,
		 * every Call-ID is a live dialog's. */
		bool gated = false;
		struct sipua_sl_ctx c = {.verdict = verdicts[i % 3], .user_agent = "trunx-fuzz",
					 .contact = "<sip:198.51.100.1:5060>", .secret = 42,
					 .dialog_peer = i >= 3,
					 .gate = i >= 6 ? gate_no : NULL, .gated_out = &gated,
					 .call_live = i >= 6 ? call_live_yes : NULL};
		size_t n = 0;
		int status = 0;
		enum sipua_sl_action a = sipua_stateless(&c, (const char *)data, size,
						       (const struct sockaddr *)&src, out,
						       sizeof(out), &n, &status);

		if (a != SIPUA_SL_REPLY) {
			if (n != 0)
				abort();
			continue;
		}
		if (verdicts[i % 3] == SIPUA_ACCEPT && status != 200) {
			/* Never for a Call-ID of a live dialog: the stack may match it. */
			if (c.call_live)
				abort();
			check_unserved((const char *)data, size, out, n, status);
			continue;
		}
		if ((verdicts[i % 3] == SIPUA_REJECT && status != 403) ||
		    verdicts[i % 3] == SIPUA_DROP)
			abort();
		/* What claims a dialog is answered here only for a refused source that is no
		 * live dialog's peer, or not that dialog's (gated); everything else in a
		 * dialog is the stack's. A refusal names no method nor extension. */
		if (check_reply((const char *)data, size, out, n, status) &&
		    (verdicts[i % 3] != SIPUA_REJECT || (c.dialog_peer && !gated)))
			abort();
		if (status == 403 && (says(out, n, "Allow") || says(out, n, "Supported") ||
				      says(out, n, "Accept")))
			abort();
	}
	return 0;
}
