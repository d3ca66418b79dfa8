/*
 * sipua_info.c — DTMF over SIP INFO: the bodies (application/dtmf-relay with Signal=
 * and Duration= lines, application/dtmf with the digit alone), INFO requests received
 * in a dialog (answered here: 200, 400 for a DTMF body that does not parse, 415 for a
 * body of another type) and INFO sent on a leg, one at a time so that a burst of
 * digits arrives in order (the next goes when the previous one got its final answer).
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

#define INFO_DEFAULT_MS 100u
#define INFO_MAX_MS     10000u

static bool digit_ok(char c)
{
	return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D');
}

/* One "Key=value" line; value trimmed. Returns false when it is not one. */
static bool kv(const char *line, size_t n, char *key, size_t klen, char *val, size_t vlen)
{
	const char *eq = memchr(line, '=', n);
	size_t a = 0, b;

	if (!eq)
		return false;
	b = (size_t)(eq - line);
	while (a < b && isspace((unsigned char)line[a]))
		a++;
	while (b > a && isspace((unsigned char)line[b - 1]))
		b--;
	if (b - a == 0 || b - a >= klen)
		return false;
	memcpy(key, line + a, b - a);
	key[b - a] = 0;
	a = (size_t)(eq - line) + 1;
	b = n;
	while (a < b && isspace((unsigned char)line[a]))
		a++;
	while (b > a && isspace((unsigned char)line[b - 1]))
		b--;
	if (b - a >= vlen)
		return false;
	memcpy(val, line + a, b - a);
	val[b - a] = 0;
	return true;
}

static int parse_signal(const char *v, char *digit)
{
	char c = (char)toupper((unsigned char)v[0]);

	if (v[0] && !v[1] && digit_ok(c)) {
		*digit = c;
		return 0;
	}
	if (strcmp(v, "10") == 0 || strcmp(v, "11") == 0) {   /* event codes for * and # */
		*digit = v[1] == '0' ? '*' : '#';
		return 0;
	}
	return EBADMSG;
}

static int parse_ms(const char *v, unsigned *ms)
{
	unsigned long x = 0;

	if (!*v)
		return EBADMSG;
	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p) || x > 1000000)
			return EBADMSG;
		x = x * 10 + (unsigned long)(*p - '0');
	}
	*ms = x == 0 ? INFO_DEFAULT_MS : x > INFO_MAX_MS ? INFO_MAX_MS : (unsigned)x;
	return 0;
}

int sipua_dtmf_parse(const char *ctype, const char *body, size_t len, char *digit,
		     unsigned *duration_ms)
{
	bool relay;
	size_t off = 0;
	bool have = false;

	if (!ctype || !digit || !duration_ms || (!body && len))
		return EINVAL;
	if (strcasecmp(ctype, "application/dtmf-relay") == 0)
		relay = true;
	else if (strcasecmp(ctype, "application/dtmf") == 0)
		relay = false;
	else
		return ENOTSUP;
	*duration_ms = INFO_DEFAULT_MS;
	if (len > 1024)
		return EBADMSG;
	if (!relay) {
		char v[8];
		size_t a = 0, b = len;

		while (a < b && isspace((unsigned char)body[a]))
			a++;
		while (b > a && isspace((unsigned char)body[b - 1]))
			b--;
		if (b - a == 0 || b - a >= sizeof(v))
			return EBADMSG;
		memcpy(v, body + a, b - a);
		v[b - a] = 0;
		return parse_signal(v, digit);
	}
	while (off < len) {
		const char *line = body + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off;
		char key[16], val[16];
		bool blank = true;

		off += n + (nl ? 1 : 0);
		for (size_t i = 0; i < n; i++)
			blank = blank && isspace((unsigned char)line[i]);
		if (blank)
			continue;
		if (!kv(line, n, key, sizeof(key), val, sizeof(val)))
			return EBADMSG;
		if (strcasecmp(key, "Signal") == 0) {
			if (have || parse_signal(val, digit))
				return EBADMSG;
			have = true;
		} else if (strcasecmp(key, "Duration") == 0) {
			if (parse_ms(val, duration_ms))
				return EBADMSG;
		}   /* other keys are ignored */
	}
	return have ? 0 : EBADMSG;
}

void sipua_info_in(struct sipua *ua, nua_t *nua, struct sipua_leg *leg, sip_t const *sip)
{
	const char *ct = sip->sip_content_type && sip->sip_content_type->c_type ?
			 sip->sip_content_type->c_type : NULL;
	const char *body = sip->sip_payload ? sip->sip_payload->pl_data : NULL;
	size_t len = sip->sip_payload ? sip->sip_payload->pl_len : 0;
	struct sipua_ev ev = {0};
	int err;

	if (!len) {   /* an empty INFO (keep-alive): nothing to do */
		nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	err = ct ? sipua_dtmf_parse(ct, body, len, &ev.dtmf_digit, &ev.dtmf_duration_ms) :
		   ENOTSUP;
	if (err == ENOTSUP) {
		nua_respond(leg->nh, SIP_415_UNSUPPORTED_MEDIA, NUTAG_WITH_THIS(nua),
			    SIPTAG_ACCEPT_STR("application/dtmf-relay, application/dtmf"),
			    TAG_END());
		return;
	}
	if (err) {
		nua_respond(leg->nh, 400, "Bad DTMF Body", NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
	ev.type = SIPUA_EV_INFO;
	ev.leg = leg;
	ev.msg = nua_current_request(nua);
	sipua_deliver(ua, &ev);
}

/* Sends the first queued digit if none is in flight. */
static void info_kick(struct sipua_leg *leg)
{
	char body[64];

	if (leg->info_busy || leg->info_head == leg->info_n || leg->hung_up || !leg->nh)
		return;
	snprintf(body, sizeof(body), "Signal=%c\r\nDuration=%u\r\n",
		 leg->info_q[leg->info_head].digit, leg->info_q[leg->info_head].duration_ms);
	leg->info_head++;
	if (leg->info_head == leg->info_n)
		leg->info_head = leg->info_n = 0;
	leg->info_busy = true;
	nua_info(leg->nh, SIPTAG_CONTENT_TYPE_STR("application/dtmf-relay"),
		 SIPTAG_PAYLOAD_STR(body), TAG_END());
}

int sipua_leg_info_dtmf(struct sipua_leg *leg, char digit, unsigned duration_ms)
{
	if (!leg || !digit_ok(digit))
		return EINVAL;
	if (!leg->confirmed || leg->hung_up || leg->terminated)
		return ENOTCONN;
	if (leg->info_n >= SIPUA_INFO_QUEUE) {
		if (leg->info_head == 0)
			return ENOSPC;
		memmove(leg->info_q, leg->info_q + leg->info_head,
			(leg->info_n - leg->info_head) * sizeof(leg->info_q[0]));
		leg->info_n -= leg->info_head;
		leg->info_head = 0;
	}
	leg->info_q[leg->info_n].digit = digit;
	leg->info_q[leg->info_n].duration_ms = duration_ms ? (duration_ms > INFO_MAX_MS ?
					       INFO_MAX_MS : duration_ms) : INFO_DEFAULT_MS;
	leg->info_n++;
	info_kick(leg);
	return 0;
}

void sipua_info_answered(struct sipua_leg *leg, int status)
{
	if (status < 200)
		return;
	if (status >= 300)
		log_msg(LOG_WARN, "sip.info", "INFO on %s answered %d", leg->call_id, status);
	leg->info_busy = false;
	info_kick(leg);
}
