/*
 * test_sipua_msg.c — trunx's message class and the reading of parsed messages
 * (sip/ua/sipua_mclass.c, sipua_msg.c) on hand-made messages: what the error list
 * holds and how each entry is named, the Contact / Record-Route policy with and
 * without a trusted source, the request checks, and headers built by the stack
 * still fitting into messages of our class; and the shape the stack's log lines are
 * written in (sipua.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su.h>

#include "sipua_int.h"
#include "sipua_mclass.h"
#include "sipua_msg.h"

#define TPM_UDP_TCP (SIPUA_TPM_UDP | SIPUA_TPM_TCP)

/* Trusts 127.0.0.1 only. */
static bool trust_loopback1(const struct sockaddr *src, void *arg)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

	(void)arg;
	return src->sa_family == AF_INET && sin->sin_addr.s_addr == htonl(0x7f000001);
}

/* The dialog "dialog-1" belongs to 127.0.0.1; every other Call-ID is nobody's. */
static bool gate_test(const char *call_id, const struct sockaddr *src, void *arg)
{
	(void)arg;
	return strcmp(call_id, "dialog-1") != 0 || trust_loopback1(src, NULL);
}

struct fx {
	struct sipua_mclass *mc;
	su_home_t           *home;
	msg_t               *msg;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(sipua_mclass_create(&f.mc, TPM_UDP_TCP, trust_loopback1, gate_test, NULL), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->msg)
		msg_destroy(f->msg);
	sipua_mclass_destroy(f->mc);
	return 0;
}

/* Parses text as a message received from ip (NULL: made locally), as the transport does. */
static sip_t *parse_from(struct fx *f, const char *text, const char *ip)
{
	size_t len = strlen(text);
	char *b;

	if (f->msg)
		msg_destroy(f->msg);
	f->msg = msg_create(sipua_mclass_get(f->mc), 0);
	assert_non_null(f->msg);
	if (ip) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5060)};

		assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
		assert_int_equal(msg_set_address(f->msg, (su_sockaddr_t *)&sin, sizeof(sin)), 0);
	}
	b = msg_buf_alloc(f->msg, len + 1);
	assert_non_null(b);
	memcpy(b, text, len);
	msg_buf_commit(f->msg, len, 1);
	assert_true(msg_extract(f->msg) > 0);
	return sip_object(f->msg);
}

static char req_buf[4096];

/* An INVITE with extra header lines (and the given Contact, "" for none). */
static const char *invite(const char *contact, const char *extra)
{
	snprintf(req_buf, sizeof(req_buf),
		 "INVITE sip:+15551230000@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: \"Alice\" <sip:alice@127.0.0.1>;tag=t1\r\n"
		 "To: <sip:+15551230000@127.0.0.1>\r\n"
		 "Call-ID: test-1\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "%s%s%s"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 contact[0] ? "Contact: " : "", contact, contact[0] ? "\r\n" : "",
		 extra ? extra : "");
	return req_buf;
}

static int check(sip_t const *sip, struct fx *f, enum sipua_req_kind kind, char *why)
{
	return sipua_request_check(sip, kind, TPM_UDP_TCP, sipua_mclass_refusal(f->mc, f->msg),
				   why, 160);
}

/* ---- the error list ---- */

static void test_duplicate_single_header(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip = parse_from(f, invite("<sip:alice@127.0.0.1>", "Max-Forwards: 70\r\n"),
				"127.0.0.1");
	bool dup = false;

	/* The second Max-Forwards sits on the error list with its own class: its
	 * er_name slot holds its count. */
	assert_non_null(sip->sip_error);
	assert_string_equal(sipua_error_name((msg_header_t *)sip->sip_error, &dup),
			    "Max-Forwards");
	assert_true(dup);
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 400);
	assert_string_equal(why, "duplicate Max-Forwards");
	assert_int_equal(check(sip, f, SIPUA_REQ_OTHER, why), 400);
}

static void test_malformed_header(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip = parse_from(f, invite("<sip:alice@127.0.0.1>", "Date: not a date\r\n"),
				"127.0.0.1");
	bool dup = true;

	assert_non_null(sip->sip_error);
	assert_string_equal(sipua_error_name((msg_header_t *)sip->sip_error, &dup), "Date");
	assert_false(dup);
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 400);
	assert_string_equal(why, "malformed Date");
}

static void test_harmless_duplicate_passes(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip = parse_from(f, invite("<sip:alice@127.0.0.1>",
					  "Subject: a\r\nSubject: b\r\nX-Junk: \x01\r\n"),
				"127.0.0.1");

	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 0);
}

static void test_error_name_null(void **state)
{
	bool dup = true;

	(void)state;
	assert_null(sipua_error_name(NULL, &dup));
	assert_false(dup);
}

/* ---- Contact and Record-Route policy ---- */

static void test_contact_refused_uris(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"*", "<tel:+15551234567>", "<sip:alice@host.invalid>", "<sips:alice@127.0.0.1>",
		"<sip:alice@127.0.0.1;transport=sctp>", "<sip:alice@127.0.0.1;transport=tls>",
		"<sip:alice@127.0.0.1:0>", "<sip:alice@127.0.0.1:70000>",
		"<sip:alice@127.0.0.1;maddr=bad..name>", "<sip:alice@-bad.example.com>",
		"<sip:alice@127.0.0.1>, *", "<mailto:alice@example.com>", "<sip:alice@1234>",
	};
	char why[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_t *sip = parse_from(f, invite(bad[i], NULL), "127.0.0.1");

		assert_null(sip->sip_contact);
		assert_non_null(sip->sip_error);
		assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 400);
		assert_non_null(strstr(why, "Contact"));
		assert_int_equal(check(sip, f, SIPUA_REQ_OFFER, why), 400);
		/* Well-formed but not a target: fine where the Contact is not used. */
		assert_int_equal(check(sip, f, SIPUA_REQ_OTHER, why), 0);
	}
}

static void test_contact_usable_uris(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {
		"<sip:alice@127.0.0.1>", "<sip:alice@127.0.0.1:5080;transport=tcp>",
		"<sip:pbx.example.com>", "\"A\" <sip:alice@[::1]:5060>",
		"<sip:alice@127.0.0.1;maddr=10.0.0.1>", "sip:alice@127.0.0.1",
		"<sip:alice@127.0.0.1>;expires=60, <sip:bob@127.0.0.2>",
	};
	char why[160];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		sip_t *sip = parse_from(f, invite(good[i], NULL), "127.0.0.1");

		assert_non_null(sip->sip_contact);
		assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 0);
	}
}

static void test_contact_syntax_error_vs_policy(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip = parse_from(f, invite("sip:user@example.com?Route=%3Csip:x%3E", NULL),
				"127.0.0.1");

	/* A Contact that does not parse is refused whatever the request. */
	assert_null(sip->sip_contact);
	assert_null(sipua_mclass_refusal(f->mc, f->msg));
	assert_int_equal(check(sip, f, SIPUA_REQ_OTHER, why), 400);
	assert_string_equal(why, "unusable Contact");
}

static void test_contact_untrusted_source(void **state)
{
	struct fx *f = *state;
	char why[160];
	unsigned long before = sipua_mclass_refused_source(f->mc);
	sip_t *sip = parse_from(f, invite("<sip:attacker@127.0.0.9>", NULL), "127.0.0.9");

	assert_null(sip->sip_contact);
	assert_int_equal(sipua_mclass_refused_source(f->mc), before + 1);
	assert_string_equal(sipua_mclass_refusal(f->mc, f->msg), "source may not set a target");
	assert_int_equal(check(sip, f, SIPUA_REQ_OFFER, why), 400);

	/* The same from a trusted source, or made locally, is taken. */
	sip = parse_from(f, invite("<sip:attacker@127.0.0.9>", NULL), "127.0.0.1");
	assert_non_null(sip->sip_contact);
	sip = parse_from(f, invite("<sip:attacker@127.0.0.9>", NULL), NULL);
	assert_non_null(sip->sip_contact);
}

static void test_no_contact_uses_from(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip = parse_from(f, invite("", NULL), "127.0.0.1");

	/* RFC 2543 style: no Contact, the From URI is the target (a SIP one here). */
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 0);
	sip = parse_from(f,
		"INVITE sip:+15551230000@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-2\r\n"
		"From: <tel:+15550001111>;tag=t1\r\nTo: <sip:x@127.0.0.1>\r\n"
		"Call-ID: test-2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", "127.0.0.1");
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 400);
	assert_string_equal(why, "no usable Contact");
}

static void test_record_route_refused(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip = parse_from(f, invite("<sip:alice@127.0.0.1>",
					  "Record-Route: <tel:+15551234567>\r\n"), "127.0.0.1");

	assert_null(sip->sip_record_route);
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 400);
	assert_string_equal(why, "unusable Record-Route");
	assert_true(sipua_response_bad_target(sip));
	sip = parse_from(f, invite("<sip:alice@127.0.0.1>",
				   "Record-Route: <sip:proxy.example.com;lr>\r\n"), "127.0.0.1");
	assert_non_null(sip->sip_record_route);
	assert_false(sipua_response_bad_target(sip));
}

/* Headers the stack or trunx build with the stack's own classes still go into a
 * message of our class (the class table holds both). */
static void test_stack_headers_insert(void **state)
{
	struct fx *f = *state;
	sip_t *sip = parse_from(f, invite("<sip:alice@127.0.0.1>", NULL), "127.0.0.1");
	su_home_t *home = msg_home(f->msg);
	sip_contact_t *m = sip_contact_make(home, "<sip:trunx@127.0.0.1:5060>");
	sip_record_route_t *rr = sip_record_route_make(home, "<sip:p.example.com;lr>");

	assert_non_null(m);
	assert_non_null(rr);
	assert_int_equal(msg_header_insert(f->msg, (msg_pub_t *)sip, (msg_header_t *)m), 0);
	assert_int_equal(msg_header_insert(f->msg, (msg_pub_t *)sip, (msg_header_t *)rr), 0);
	assert_int_equal(msg_header_add_str(f->msg, (msg_pub_t *)sip,
					    "Contact: <sip:x@127.0.0.1>\r\n"), 0);
	assert_non_null(sip->sip_contact);
}

/* ---- the dialog gate ---- */

static const char *in_dialog(const char *method, const char *call_id)
{
	snprintf(req_buf, sizeof(req_buf),
		 "%s sip:trunx@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK-7\r\n"
		 "From: <sip:a@127.0.0.1>;tag=ft\r\nTo: <sip:b@127.0.0.1>;tag=tt\r\n"
		 "Call-ID: %s\r\nCSeq: 2 %s\r\nContent-Length: 0\r\n\r\n",
		 method, call_id, method);
	return req_buf;
}

static void test_gate_cuts_foreign_requests_loose(void **state)
{
	struct fx *f = *state;
	sip_t *sip;

	/* From the dialog's peer: untouched. */
	sip = parse_from(f, in_dialog("BYE", "dialog-1"), "127.0.0.1");
	assert_string_equal(sip->sip_to->a_tag, "tt");
	/* From a stranger: the tags go, the request no longer names the dialog. */
	sip = parse_from(f, in_dialog("BYE", "dialog-1"), "127.0.0.9");
	assert_null(sip->sip_to->a_tag);
	assert_null(sip->sip_from->a_tag);
	assert_string_equal(sip->sip_call_id->i_id, "dialog-1");
	sip = parse_from(f, in_dialog("INVITE", "dialog-1"), "127.0.0.9");
	assert_null(sip->sip_to->a_tag);
	assert_null(sip->sip_from->a_tag);
	/* A CANCEL keeps its tags but matches no transaction. */
	sip = parse_from(f, in_dialog("CANCEL", "dialog-1"), "127.0.0.9");
	assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-trunx-refused");
	/* Another dialog, or a message made locally: untouched. */
	sip = parse_from(f, in_dialog("BYE", "dialog-2"), "127.0.0.9");
	assert_string_equal(sip->sip_to->a_tag, "tt");
	sip = parse_from(f, in_dialog("BYE", "dialog-1"), NULL);
	assert_string_equal(sip->sip_to->a_tag, "tt");
	/* Responses are never gated. */
	sip = parse_from(f,
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-8\r\n"
		"From: <sip:a@127.0.0.1>;tag=ft\r\nTo: <sip:b@127.0.0.1>;tag=tt\r\n"
		"Call-ID: dialog-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n", "127.0.0.9");
	assert_string_equal(sip->sip_to->a_tag, "tt");
}

/* ---- the answer check (responses to our PRACKs) ---- */

/* Takes every answer it is asked about for the dialog "dialog-1" from 127.0.0.1;
 * counts the questions. */
static int answer_asked;

static bool answer_test(const char *call_id, const struct sockaddr *src, int status,
			void *arg)
{
	(void)arg;
	(void)status;
	answer_asked++;
	return strcmp(call_id, "dialog-1") == 0 && trust_loopback1(src, NULL);
}

static const char *response(int status, const char *method, const char *call_id,
			    bool via_last)
{
	static const char via[] = "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-8\r\n";

	snprintf(req_buf, sizeof(req_buf),
		 "SIP/2.0 %d Whatever\r\n%s"
		 "From: <sip:a@127.0.0.1>;tag=ft\r\nTo: <sip:b@127.0.0.1>;tag=tt\r\n"
		 "Call-ID: %s\r\nCSeq: 2 %s\r\n%sContent-Length: 0\r\n\r\n",
		 status, via_last ? "" : via, call_id, method, via_last ? via : "");
	return req_buf;
}

/* A response to a PRACK that ends the session (481, 404, 408, 480) is asked about once
 * its status, Call-ID, CSeq and top Via are parsed, whatever their order; taken, it
 * matches no transaction. Other statuses and methods are never asked about. */
static void test_prack_answer_taken(void **state)
{
	struct fx *f = *state;
	static const int ends[] = {481, 404, 408, 480, 410};
	static const int keeps[] = {183, 200, 400, 401, 487, 488, 500};
	sip_t *sip;

	sipua_mclass_set_answer(f->mc, answer_test);
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		answer_asked = 0;
		sip = parse_from(f, response(ends[i], "PRACK", "dialog-1", i % 2), "127.0.0.1");
		assert_int_equal(answer_asked, 1);
		assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-trunx-taken");
		assert_int_equal(sip->sip_status->st_status, ends[i]);
		/* Not taken (another dialog, a stranger): untouched. */
		sip = parse_from(f, response(ends[i], "PRACK", "dialog-2", i % 2), "127.0.0.1");
		assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-8");
		sip = parse_from(f, response(ends[i], "PRACK", "dialog-1", i % 2), "127.0.0.9");
		assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-8");
		/* The same status to another request, or made locally: never asked. */
		answer_asked = 0;
		sip = parse_from(f, response(ends[i], "INVITE", "dialog-1", i % 2), "127.0.0.1");
		assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-8");
		sip = parse_from(f, response(ends[i], "PRACK", "dialog-1", i % 2), NULL);
		assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-8");
		assert_int_equal(answer_asked, 0);
	}
	for (size_t i = 0; i < sizeof(keeps) / sizeof(keeps[0]); i++) {
		answer_asked = 0;
		sip = parse_from(f, response(keeps[i], "PRACK", "dialog-1", false), "127.0.0.1");
		assert_string_equal(sip->sip_via->v_branch, "z9hG4bK-8");
		assert_int_equal(answer_asked, 0);
	}
	/* A request is never asked about. */
	sip = parse_from(f, in_dialog("PRACK", "dialog-1"), "127.0.0.1");
	assert_int_equal(answer_asked, 0);
}

/* A top Via naming a host gets the source's address at once (no lookup can be needed
 * to answer it); one with an address, or a message made locally, is left alone. */
static void test_via_named_host_gets_received(void **state)
{
	struct fx *f = *state;
	sip_t *sip;
	static const char named[] =
		"OPTIONS sip:trunx@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP c.example.com:5060;branch=z9hG4bK-9\r\n"
		"Via: SIP/2.0/UDP d.example.com;branch=z9hG4bK-10\r\n"
		"From: <sip:a@127.0.0.1>;tag=ft\r\nTo: <sip:b@127.0.0.1>\r\n"
		"Call-ID: via-1\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n";

	sip = parse_from(f, named, "127.0.0.9");
	assert_string_equal(sip->sip_via->v_received, "127.0.0.9");
	assert_null(sip->sip_via->v_next->v_received);
	sip = parse_from(f, named, NULL);
	assert_null(sip->sip_via->v_received);
	sip = parse_from(f, in_dialog("BYE", "dialog-2"), "127.0.0.1");
	assert_null(sip->sip_via->v_received);
}

/* ---- request checks ---- */

static void test_content_checks(void **state)
{
	struct fx *f = *state;
	char why[160];
	sip_t *sip;

	sip = parse_from(f,
		"INVITE sip:+15551230000@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-3\r\n"
		"From: <sip:a@127.0.0.1>;tag=t1\r\nTo: <sip:x@127.0.0.1>\r\n"
		"Call-ID: test-3\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n"
		"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", "127.0.0.1");
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 415);
	assert_int_equal(check(sip, f, SIPUA_REQ_OFFER, why), 415);
	assert_int_equal(check(sip, f, SIPUA_REQ_OTHER, why), 0);
	sip = parse_from(f, invite("<sip:a@127.0.0.1>", "Accept: text/html\r\n"), "127.0.0.1");
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 406);
	sip = parse_from(f,
		"INVITE sip:+15551230000@127.0.0.1?Subject=x SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-4\r\n"
		"From: <sip:a@127.0.0.1>;tag=t1\r\nTo: <sip:x@127.0.0.1>\r\n"
		"Call-ID: test-4\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n"
		"Content-Length: 0\r\n\r\n", "127.0.0.1");
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 400);
	assert_string_equal(why, "headers in the request-URI");
	assert_int_equal(sipua_request_check(NULL, SIPUA_REQ_OTHER, 0, NULL, why, sizeof(why)),
			 400);
}

/* ---- multipart bodies (SIP-T / SIP-I: SDP beside ISUP) ---- */

#define SDP_PART "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
		 "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
/* ISUP IAM bytes (no NUL, so the C strings below stay whole; one LF inside) */
#define ISUP_PART "\x01\x10\x49\x20\x01\x03\x02\x05\x07\x04\x10\x11\x33\x0a\x21\x43\x0b"

static int mp(const char *body, const char *boundary, const char **sdp, size_t *len)
{
	char why[128] = "";
	int rc = sipua_body_multipart(body, strlen(body), boundary, false, sdp, len, why,
				      sizeof(why));

	assert_true(rc == 0 || why[0]);
	return rc;
}

static void test_multipart_sdp(void **state)
{
	const char *sdp;
	size_t len;

	(void)state;
	/* SIP-I as carriers send it: SDP, then ISUP marked optional */
	assert_int_equal(mp("--unique-boundary-1\r\n"
			    "Content-Type: application/sdp\r\n\r\n" SDP_PART
			    "\r\n--unique-boundary-1\r\n"
			    "Content-Type: application/ISUP; version=itu-t92+\r\n"
			    "Content-Disposition: signal; handling=optional\r\n\r\n" ISUP_PART
			    "\r\n--unique-boundary-1--\r\n", "unique-boundary-1", &sdp, &len), 0);
	assert_int_equal(len, strlen(SDP_PART));
	assert_memory_equal(sdp, SDP_PART, len);
	/* quoted boundary, preamble, epilogue, padding after a delimiter, ISUP first,
	 * LF line ends, HANDLING in capitals and quoted */
	assert_int_equal(mp("preamble\n--b\t \n"
			    "content-type: application/isup\n"
			    "Content-Disposition: signal;handling=\"optional\"\n\n" ISUP_PART
			    "\n--b\nCONTENT-TYPE: Application/SDP\n\n" SDP_PART "\n--b--\nepilogue",
			    "\"b\"", &sdp, &len), 0);
	assert_memory_equal(sdp, SDP_PART, strlen(SDP_PART));
	/* binary with NULs, by length */
	{
		static const char bin[] = "--b\r\nContent-Type: application/isup\r\n"
			"Content-Disposition: signal;handling=optional\r\n\r\n\x00\x01\x00\r\n"
			"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--";
		char why[128];

		assert_int_equal(sipua_body_multipart(bin, sizeof(bin) - 1, "b", false, &sdp,
						      &len, why, sizeof(why)), 0);
		assert_int_equal(len, 3);
		assert_memory_equal(sdp, "v=0", 3);
	}
	/* lenient (an answer): a required part it cannot use is dropped, not refused */
	{
		static const char req[] = "--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"
			"--b\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b--";
		char why[128];

		assert_int_equal(sipua_body_multipart(req, sizeof(req) - 1, "b", true, &sdp,
						      &len, why, sizeof(why)), 0);
		assert_int_equal(len, 3);
		assert_int_equal(sipua_body_multipart(req, sizeof(req) - 1, "b", false, &sdp,
						      &len, why, sizeof(why)), 415);
		assert_int_equal(sipua_body_multipart(req, sizeof(req) - 3, "b", true, &sdp,
						      &len, why, sizeof(why)), 400);
	}
	/* no SDP at all: only optional parts (a delayed offer) */
	assert_int_equal(mp("--b\r\nContent-Type: application/isup\r\n"
			    "Content-Disposition: signal;handling=optional\r\n\r\nx\r\n--b--",
			    "b", &sdp, &len), 0);
	assert_null(sdp);
	assert_int_equal(len, 0);
}

static void test_multipart_refused(void **state)
{
	static const struct { const char *body, *boundary; int rc; } cases[] = {
		/* a part trunx cannot use, required (explicitly or by default) */
		{"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b\r\n"
		 "Content-Type: application/isup\r\n\r\nx\r\n--b--", "b", 415},
		{"--b\r\nContent-Type: application/isup\r\n"
		 "Content-Disposition: signal;handling=required\r\n\r\nx\r\n--b--", "b", 415},
		{"--b\r\n\r\nplain text\r\n--b--", "b", 415},
		{"--b\r\nContent-Type: multipart/mixed;boundary=c\r\n\r\n--c--\r\n--b--", "b",
		 415},
		/* not well-formed */
		{"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n", "b", 400},
		{"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b", "b", 400},
		{"no delimiter here", "b", 400},
		{"--b\r\nContent-Type: application/sdp\r\nv=0\r\n--b--", "b", 400},
		{"--b\r\nContent-Type application/sdp\r\n\r\nv=0\r\n--b--", "b", 400},
		{"--bx\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--", "b", 400},
		{"--b\r\n\r\n\r\n--b--", NULL, 400},
		{"--b\r\n\r\n\r\n--b--", "", 400},
		{"--b\r\n\r\n\r\n--b--", "\"", 400},
		{"--b\r\n\r\n\r\n--b--",
		 "0123456789012345678901234567890123456789012345678901234567890123456789x",
		 400},
	};
	const char *sdp;
	size_t len;
	char many[4096];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(mp(cases[i].body, cases[i].boundary, &sdp, &len), cases[i].rc);
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "--b\r\nContent-Type: x/y\r\n"
				      "Content-Disposition: a;handling=optional\r\n\r\n\r\n");
	snprintf(many + n, sizeof(many) - n, "--b--");
	assert_int_equal(mp(many, "b", &sdp, &len), 400);
}

static void test_multipart_request(void **state)
{
	struct fx *f = *state;
	char why[160], text[2048];
	const char *sdp;
	size_t len;
	sip_t *sip;
	const char *body = "--sep\r\nContent-Type: application/sdp\r\n\r\n" SDP_PART
			   "\r\n--sep\r\nContent-Type: application/isup\r\n"
			   "Content-Disposition: signal;handling=optional\r\n\r\n" ISUP_PART
			   "\r\n--sep--\r\n";

	snprintf(text, sizeof(text),
		 "INVITE sip:+15551230000@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-9\r\n"
		 "From: <sip:a@127.0.0.1>;tag=t1\r\nTo: <sip:x@127.0.0.1>\r\n"
		 "Call-ID: test-9\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n"
		 "Content-Type: multipart/mixed;boundary=sep\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	sip = parse_from(f, text, "127.0.0.1");
	assert_int_equal(check(sip, f, SIPUA_REQ_INITIAL_INVITE, why), 0);
	assert_true(sipua_body_sdp(sip, &sdp, &len));
	assert_int_equal(len, strlen(SDP_PART));
	assert_memory_equal(sdp, SDP_PART, len);
	/* the same with the ISUP part required: 415 */
	snprintf(text, sizeof(text),
		 "INVITE sip:+15551230000@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-10\r\n"
		 "From: <sip:a@127.0.0.1>;tag=t1\r\nTo: <sip:x@127.0.0.1>\r\n"
		 "Call-ID: test-10\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n"
		 "Content-Type: multipart/mixed;boundary=sep\r\nContent-Length: 54\r\n\r\n"
		 "--sep\r\nContent-Type: application/isup\r\n\r\nxx\r\n--sep--\r\n");
	sip = parse_from(f, text, "127.0.0.1");
	assert_int_equal(check(sip, f, SIPUA_REQ_OFFER, why), 415);
	assert_false(sipua_body_sdp(sip, &sdp, &len));
}

static void test_incoming_fill(void **state)
{
	struct fx *f = *state;
	struct sipua_incoming in;
	struct sipua_incoming_buf buf;
	sip_t *sip = parse_from(f, invite("<sip:a@127.0.0.1>", "Session-Expires: 300\r\n"),
				"127.0.0.1");

	sipua_incoming_fill(sip, &in, &buf);
	assert_string_equal(in.call_id, "test-1");
	assert_string_equal(in.ruri_user, "+15551230000");
	assert_string_equal(in.from_user, "alice");
	assert_string_equal(in.from_display, "\"Alice\"");
	assert_int_equal(in.max_forwards, 70);
	assert_int_equal(in.session_expires, 300);
	/* Nothing at all: every field empty, nothing read. */
	sipua_incoming_fill(NULL, &in, &buf);
	assert_string_equal(in.call_id, "");
	assert_string_equal(in.ruri, "");
	assert_int_equal(in.max_forwards, -1);
}

static void test_header_by_name(void **state)
{
	struct fx *f = *state;
	char out[256] = "";

	parse_from(f, invite("<sip:a@127.0.0.1>",
			     "P-Asserted-Identity: <sip:+1555@c>\r\nX-A: 1\r\nx-a: 2\r\n"),
		   "127.0.0.1");
	assert_int_equal(sipua_msg_header(f->msg, "x-A", out, sizeof(out)), 0);
	assert_string_equal(out, "X-A: 1\r\nx-a: 2\r\n");
	assert_int_equal(sipua_msg_header(f->msg, "P-Asserted-Identity", out, sizeof(out)), 0);
	assert_int_equal(sipua_msg_header(f->msg, "Nope", out, sizeof(out)), ENOENT);
	{
		char small[12] = "";

		assert_int_equal(sipua_msg_header(f->msg, "X-A", small, sizeof(small)), ENOSPC);
		assert_string_equal(small, "");
	}
	assert_int_equal(sipua_msg_header(NULL, "X-A", out, sizeof(out)), ENOENT);
}

static void test_target_check(void **state)
{
	url_t u[1];
	char s[128];

	(void)state;
	snprintf(s, sizeof(s), "sip:a@127.0.0.1;transport=TCP");
	assert_int_equal(url_d(u, s), 0);
	assert_null(sipua_target_check(u, TPM_UDP_TCP));
	assert_non_null(sipua_target_check(u, SIPUA_TPM_UDP));
	snprintf(s, sizeof(s), "sips:a@127.0.0.1");
	assert_int_equal(url_d(u, s), 0);
	assert_null(sipua_target_check(u, SIPUA_TPM_TLS));
	snprintf(s, sizeof(s), "sip:a@localhost");
	assert_int_equal(url_d(u, s), 0);
	assert_non_null(sipua_target_check(u, TPM_UDP_TCP));
	assert_non_null(sipua_target_check(NULL, TPM_UDP_TCP));
}

/* The stack's complaints about many requests are one line each in the log: what they
 * name (URIs, handle addresses) is left out; bounds and odd text are safe. */
static void test_stack_log_shape(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "nua(0x7fb52c002750): strange ACK from <sip:100@127.0.0.1>",
		  "nua(0x): strange ACK from <>" },
		{ "nua(0x55aa): strange ACK from <sip:4711@10.0.0.1;transport=udp>",
		  "nua(0x): strange ACK from <>" },
		{ "tport: Too many open files (2)", "tport: Too many open files (2)" },
		{ "a < b without a close", "a < b without a close" },
		{ "ends in 0x", "ends in 0x" },
		{ "<>", "<>" },
		{ "", "" },
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = sipua_stack_log_shape(cases[i].in, strlen(cases[i].in), out,
						 sizeof(out));

		assert_string_equal(out, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
	}
	/* A small output buffer: cut, terminated, never overrun. */
	assert_int_equal(sipua_stack_log_shape("0x1234 <abc> tail", 17, out, 4), 3);
	assert_string_equal(out, "0x ");
	assert_int_equal(sipua_stack_log_shape("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(sipua_stack_log_shape("abc", 3, out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_duplicate_single_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_harmless_duplicate_passes, setup, teardown),
		cmocka_unit_test(test_error_name_null),
		cmocka_unit_test(test_multipart_sdp),
		cmocka_unit_test(test_multipart_refused),
		cmocka_unit_test_setup_teardown(test_multipart_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contact_refused_uris, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contact_usable_uris, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contact_syntax_error_vs_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_contact_untrusted_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_contact_uses_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_route_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stack_headers_insert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate_cuts_foreign_requests_loose, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prack_answer_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_via_named_host_gets_received, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_content_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incoming_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_by_name, setup, teardown),
		cmocka_unit_test(test_target_check),
		cmocka_unit_test(test_stack_log_shape),
	};

	su_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
