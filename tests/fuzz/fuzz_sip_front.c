/*
 * fuzz_sip_front.c — the SIP front as trunx uses it: raw bytes -> the stack's message
 * parser with trunx's message class (Contact / Record-Route policy, source trust) ->
 * trunx's own request checks and header accessors: the error-list walk, the checks of
 * a new INVITE, an offer and any other request, the fields of a new INVITE, number
 * normalisation of its user parts, the allow-listed header copy, and the call record
 * built from those fields.
 *
 * Input: byte 0 picks the message's source (trusted peer, untrusted, made locally)
 * and the transports trunx has; the rest is the message, committed in one piece or
 * in two (as a TCP stream may arrive). Properties checked (abort on violation): a
 * check answers 0, 400, 406 or 415 with a reason; an accepted new INVITE has a usable
 * target; copied headers are whole "Name: value" lines; the call record is one line
 * of valid JSON with the same strings.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su.h>

#include "b2bua/b2bua_int.h"
#include "log.h"
#include "route.h"
#include "sipua_mclass.h"
#include "sipua_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sipua_mclass *mclass;
static struct route_table  *table;
static struct trunk_cfg     pass_cfg;
static int                  log_fd = -1;

/* Trusts 127.0.0.1 only. */
static bool trust(const struct sockaddr *src, void *arg)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

	(void)arg;
	return src->sa_family == AF_INET && sin->sin_addr.s_addr == htonl(0x7f000001);
}

/* Dialogs whose Call-ID starts with 'd' belong to 127.0.0.1 only. */
static bool gate_refused;

static bool gate(const char *call_id, const struct sockaddr *src, void *arg)
{
	bool ok = call_id[0] != 'd' || trust(src, arg);

	if (!ok)
		gate_refused = true;
	return ok;
}

static void setup(void)
{
	struct trunk_cfg c;

	su_init();
	if (sipua_mclass_create(&mclass, SIPUA_TPM_UDP | SIPUA_TPM_TCP, trust, gate, NULL))
		abort();
	if (route_table_create(&table))
		abort();
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "carrier");
	snprintf(c.country_code, sizeof(c.country_code), "1");
	snprintf(c.national_prefix, sizeof(c.national_prefix), "1");
	snprintf(c.international_prefix, sizeof(c.international_prefix), "011");
	if (route_table_add_trunk(table, &c, NULL, 0) || route_table_freeze(table))
		abort();
	memset(&pass_cfg, 0, sizeof(pass_cfg));
	pass_cfg.trusted = true;
	pass_cfg.n_pass_headers = 5;
	snprintf(pass_cfg.pass_headers[0], ROUTE_NAME_MAX, "P-Asserted-Identity");
	snprintf(pass_cfg.pass_headers[1], ROUTE_NAME_MAX, "X-Account");
	snprintf(pass_cfg.pass_headers[2], ROUTE_NAME_MAX, "Subject");
	snprintf(pass_cfg.pass_headers[3], ROUTE_NAME_MAX, "Via");       /* never copied */
	snprintf(pass_cfg.pass_headers[4], ROUTE_NAME_MAX, "Privacy");
	log_fd = memfd_create("fuzz-log", 0);
	if (log_fd < 0)
		abort();
	log_set_fd(log_fd);
	log_set_level(LOG_INFO);
}

static void check_status(int st, const char *why)
{
	if (st != 0 && st != 400 && st != 406 && st != 415)
		abort();
	if (st && !why[0])
		abort();
}

/* Every line "Name: value\r\n", no bare CR or LF, and never a Via (a header trunx
 * must not copy, even when a trunk's list names it). */
static void check_header_lines(const char *out)
{
	const char *p = out;

	while (*p) {
		const char *eol = strstr(p, "\r\n");
		const char *colon = strstr(p, ": ");

		if (!eol || !colon || colon > eol || colon == p)
			abort();
		if (memchr(p, '\n', (size_t)(eol - p)) || memchr(p, '\r', (size_t)(eol - p)))
			abort();
		if (colon - p == 3 && strncasecmp(p, "Via", 3) == 0)
			abort();
		p = eol + 2;
	}
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* The call record's strings, written by the logger and read back as JSON. */
static void check_record(const struct sipua_incoming *in, const char *did)
{
	char buf[16384];
	struct log_rec r;
	json_t *j;
	ssize_t n;

	if (ftruncate(log_fd, 0) || lseek(log_fd, 0, SEEK_SET))
		abort();
	if (!log_begin(&r, LOG_INFO, "call.end"))
		abort();
	log_str(&r, "a_call_id", in->call_id);
	log_str(&r, "from", in->from_user);
	log_str(&r, "to", in->ruri_user);
	log_str(&r, "did", did[0] ? did : NULL);
	log_str(&r, "display", in->from_display);
	log_end(&r);
	n = pread(log_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		abort();
	buf[n] = '\0';
	if (buf[n - 1] != '\n' || memchr(buf, '\n', (size_t)n - 1))
		abort();
	j = json_loads(buf, 0, NULL);
	if (!j || !json_is_object(j))
		abort();
	/* A short printable Call-ID comes back unchanged. */
	if (printable(in->call_id) && strlen(in->call_id) < 100) {
		const char *got = json_string_value(json_object_get(j, "a_call_id"));

		if (!got || strcmp(got, in->call_id))
			abort();
	}
	json_decref(j);
}

static void fuzz_request(msg_t *msg, sip_t const *sip, unsigned tpm)
{
	const char *refusal = sipua_mclass_refusal(mclass, msg);
	struct sipua_incoming in;
	struct sipua_incoming_buf buf;
	char why[160], did[CALL_NUM_MAX], from[CALL_NUM_MAX], hdrs[2048];
	const struct trunk *t = route_table_trunk_at(table, 0);
	int st;

	for (int k = SIPUA_REQ_INITIAL_INVITE; k <= SIPUA_REQ_OTHER; k++) {
		why[0] = '\0';
		st = sipua_request_check(sip, (enum sipua_req_kind)k, tpm, refusal, why,
					 sizeof(why));
		check_status(st, why);
		if (k != SIPUA_REQ_INITIAL_INVITE || st)
			continue;
		/* Accepted as a new call: the dialog's target must be usable. */
		if (sip->sip_contact) {
			for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next)
				if (sipua_target_check(m->m_url, tpm))
					abort();
		} else if (!sip->sip_from || sipua_target_check(sip->sip_from->a_url, tpm)) {
			abort();
		}
	}
	sipua_incoming_fill(sip, &in, &buf);
	(void)sipua_peer_100rel(sip);
	{   /* the SDP it would negotiate: the body, or a part inside it */
		const char *sdp;
		size_t sdp_len;

		if (sipua_body_sdp(sip, &sdp, &sdp_len) &&
		    (!sip->sip_payload || sdp < sip->sip_payload->pl_data || sdp_len == 0 ||
		     sdp + sdp_len > sip->sip_payload->pl_data + sip->sip_payload->pl_len))
			abort();
	}
	did[0] = '\0';
	if (route_normalize(t, in.ruri_user, did, sizeof(did)))
		did[0] = '\0';
	if (route_normalize(t, in.from_user, from, sizeof(from)))
		from[0] = '\0';
	hdrs[0] = '\0';
	for (size_t i = 0; i < pass_cfg.n_pass_headers; i++)
		if (b2b_header_allowed(&pass_cfg, pass_cfg.pass_headers[i]))
			(void)sipua_msg_header(msg, pass_cfg.pass_headers[i], hdrs, sizeof(hdrs));
	check_header_lines(hdrs);
	check_record(&in, did);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5060)};
	unsigned tpm, mode;
	size_t len, first;
	msg_t *msg;
	sip_t *sip;
	char *b;
	int r;

	if (!mclass)
		setup();
	if (size < 2 || size > 65536)
		return 0;
	mode = data[0];
	data++;
	len = size - 1;
	tpm = (mode & 4) ? (SIPUA_TPM_UDP | SIPUA_TPM_TCP) : SIPUA_TPM_UDP;
	gate_refused = false;
	msg = msg_create(sipua_mclass_get(mclass), 0);
	if (!msg)
		return 0;
	if ((mode & 3) != 2) {
		inet_pton(AF_INET, (mode & 3) == 0 ? "127.0.0.1" : "127.0.0.9", &sin.sin_addr);
		msg_set_address(msg, (su_sockaddr_t *)&sin, sizeof(sin));
	}
	/* One piece (a datagram), or two reads (a stream), each appended as the transport
	 * appends: room asked for, bytes copied, committed, then parsed. */
	first = (mode & 8) ? len / 2 : len;
	b = msg_buf_alloc(msg, first + 1);
	if (!b) {
		msg_destroy(msg);
		return 0;
	}
	memcpy(b, data, first);
	msg_buf_commit(msg, first, first == len);
	r = msg_extract(msg);
	if (r == 0 && first < len) {
		b = msg_buf_alloc(msg, len - first + 1);
		if (b) {
			memcpy(b, data + first, len - first);
			msg_buf_commit(msg, len - first, 1);
			r = msg_extract(msg);
		}
	}
	sip = sip_object(msg);
	/* A request the gate refused no longer names its dialog. */
	if (r > 0 && sip && sip->sip_request && gate_refused) {
		if (sip->sip_request->rq_method == sip_method_cancel) {
			if (!sip->sip_via || !sip->sip_via->v_branch ||
			    strcmp(sip->sip_via->v_branch, "z9hG4bK-trunx-refused"))
				abort();
		} else if ((sip->sip_to && sip->sip_to->a_tag) ||
			   (sip->sip_from && sip->sip_from->a_tag)) {
			abort();
		}
	}
	if (r > 0 && sip) {
		size_t n = 0;

		for (msg_header_t const *h = (msg_header_t const *)sip->sip_error; h && n < 1000;
		     h = h->sh_next, n++) {
			bool dup;
			const char *name = sipua_error_name(h, &dup);

			if (name && !name[0] && !dup)
				abort();
		}
		if (sip->sip_request)
			fuzz_request(msg, sip, tpm);
		else if (sip->sip_status)
			(void)sipua_response_bad_target(sip);
	}
	msg_destroy(msg);
	return 0;
}
