/* fuzz_sip_stateless.c — the stateless answers in front of the SIP stack (sip/ua/
 * sipua_stateless.c): raw bytes -> the stack's parser -> trunx's checks -> an answer,
 * for each verdict a source can get. Oracles: an answer is a complete response that
 * the stack's parser reads back as a response to that request (same Call-ID, CSeq and
 * From, a To tag, Content-Length 0), 200 only for a known source and 403 only for a
 * refused one; a dropped source never gets an answer; a request claiming a dialog
 * (To tag) is answered only for a refused source that is no live dialog's peer, and
 * keeps its To tag. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipua_int.h"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[8192];

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum sipua_verdict verdicts[] = {SIPUA_ACCEPT, SIPUA_REJECT, SIPUA_DROP};
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(5062)};

	inet_pton(AF_INET, "192.0.2.7", &src.sin_addr);
	for (size_t i = 0; i < 6; i++) {
		struct sipua_sl_ctx c = {.verdict = verdicts[i % 3], .user_agent = "trunx-fuzz",
					 .contact = "<sip:198.51.100.1:5060>", .secret = 42,
					 .dialog_peer = i >= 3};
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
		if ((verdicts[i % 3] == SIPUA_ACCEPT && status != 200) ||
		    (verdicts[i % 3] == SIPUA_REJECT && status != 403) ||
		    verdicts[i % 3] == SIPUA_DROP)
			abort();
		/* What claims a dialog is answered here only for a refused source that is no
		 * live dialog's peer; everything else in a dialog is the stack's. */
		if (check_reply((const char *)data, size, out, n, status) &&
		    (verdicts[i % 3] != SIPUA_REJECT || c.dialog_peer))
			abort();
	}
	return 0;
}
