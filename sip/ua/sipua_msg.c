/*
 * sipua_msg.c — reading what the stack parsed from the wire: the error list, the
 * checks trunx makes before it serves a request, the fields of a new INVITE, headers
 * by name. Nothing here trusts a structure to be complete: every optional field is
 * tested, every list walk is bounded, and an entry of the error list is read
 * according to its class.
 */
#include "sipua_msg.h"
#include "sipua_mclass.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>

/* Error-list entries read at most (a message holds far fewer). */
#define ERROR_WALK_MAX 256

const char *sipua_error_name(msg_header_t const *h, bool *dup)
{
	msg_hclass_t *hc = h ? h->sh_class : NULL;

	if (dup)
		*dup = false;
	if (!hc)
		return NULL;
	if (hc->hc_hash == msg_error_hash)
		return ((msg_error_t const *)h)->er_name;
	if (dup)
		*dup = true;
	if (hc->hc_hash == msg_unknown_hash)
		return ((msg_unknown_t const *)h)->un_name;
	return hc->hc_name;
}

/* Header fields whose value trunx relies on: one that did not parse, or a second copy
 * of a single-valued one, makes the request a bad one. */
static const char *const vital_headers[] = {
	"Date", "Content-Type", "Content-Length", "Max-Forwards", "From", "To", "CSeq",
	"Call-ID", "Via", "Contact", "Record-Route", "Session-Expires", "Min-SE", "Require",
	"Supported", "Accept", "RSeq", "RAck",
};

static bool is_vital(const char *name)
{
	for (size_t i = 0; i < sizeof(vital_headers) / sizeof(vital_headers[0]); i++)
		if (strcasecmp(name, vital_headers[i]) == 0)
			return true;
	return false;
}

static bool is_multipart(sip_content_type_t const *ct)
{
	return ct && ct->c_type && strcasecmp(ct->c_type, "multipart/mixed") == 0;
}

/* The multipart body's SDP part (0), or why it cannot be used (400, 415). */
static int multipart_sdp(sip_t const *sip, bool lenient, const char **sdp, size_t *len,
			 char *why, size_t whylen)
{
	sip_content_type_t const *ct = sip->sip_content_type;

	return sipua_body_multipart(sip->sip_payload->pl_data, sip->sip_payload->pl_len,
				    msg_params_find(ct->c_params, "boundary="), lenient, sdp,
				    len, why, whylen);
}

bool sipua_body_sdp(sip_t const *sip, const char **sdp, size_t *len)
{
	char why[128];

	*sdp = NULL;
	*len = 0;
	if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_payload->pl_len)
		return false;
	if (is_multipart(sip->sip_content_type)) {
		/* A request with a required part was refused (sipua_request_check): what
		 * comes here with one is an answer, whose SDP is taken all the same. */
		if (multipart_sdp(sip, true, sdp, len, why, sizeof(why)) != 0 || !*sdp ||
		    !*len) {
			*sdp = NULL;
			*len = 0;
			return false;
		}
		return true;
	}
	if (sip->sip_content_type && sip->sip_content_type->c_type &&
	    strncasecmp(sip->sip_content_type->c_type, "application/sdp", 15) != 0)
		return false;
	*sdp = sip->sip_payload->pl_data;
	*len = sip->sip_payload->pl_len;
	return true;
}

bool sipua_has_sdp(sip_t const *sip)
{
	const char *sdp;
	size_t len;

	return sipua_body_sdp(sip, &sdp, &len);
}

static bool accepts_sdp(sip_t const *sip)
{
	size_t n = 0;

	if (!sip->sip_accept)
		return true;
	for (sip_accept_t const *a = sip->sip_accept; a && n < ERROR_WALK_MAX; a = a->ac_next, n++) {
		if (!a->ac_type || !a->ac_type[0])
			return true;   /* an empty Accept: no body wanted, fine for us */
		if (strcasecmp(a->ac_type, "application/sdp") == 0 ||
		    strcasecmp(a->ac_type, "application/*") == 0 ||
		    strcasecmp(a->ac_type, "*/*") == 0)
			return true;
	}
	return false;
}

void sipua_warning_value(const char *agent, const char *why, char *out, size_t cap)
{
	char clean[160];
	size_t n = 0;

	for (const char *p = why; p && *p && n + 1 < sizeof(clean); p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 && *p != 0x7f)
			clean[n++] = *p;
	clean[n] = '\0';
	snprintf(out, cap, "399 %s \"%s\"", agent && agent[0] ? agent : "-", clean);
}

int sipua_request_check(sip_t const *sip, enum sipua_req_kind kind, unsigned tpm,
			const char *refusal, char *why, size_t whylen)
{
	msg_header_t const *h;
	size_t n = 0;
	bool offer = kind == SIPUA_REQ_INITIAL_INVITE || kind == SIPUA_REQ_OFFER;

	if (!sip || !sip->sip_request) {
		snprintf(why, whylen, "not a request");
		return 400;
	}
	for (h = (msg_header_t const *)sip->sip_error; h && n < ERROR_WALK_MAX;
	     h = h->sh_next, n++) {
		bool dup;
		const char *name = sipua_error_name(h, &dup);

		if (!name || !is_vital(name))
			continue;
		if (strcasecmp(name, "Contact") == 0 && refusal) {
			if (kind == SIPUA_REQ_OTHER)
				continue;   /* well-formed, just not a target we take */
			snprintf(why, whylen, "unusable Contact: %s", refusal);
		} else if (strcasecmp(name, "Contact") == 0 ||
			   strcasecmp(name, "Record-Route") == 0)
			snprintf(why, whylen, "unusable %s", name);
		else
			snprintf(why, whylen, "%s %s", dup ? "duplicate" : "malformed", name);
		return 400;
	}
	if (kind == SIPUA_REQ_INITIAL_INVITE) {
		if (sip->sip_request->rq_url->url_headers) {
			snprintf(why, whylen, "headers in the request-URI");
			return 400;
		}
		/* Without a Contact (RFC 2543) the dialog's target is the From URI. */
		if (!sip->sip_contact &&
		    (!sip->sip_from || sipua_target_check(sip->sip_from->a_url, tpm))) {
			snprintf(why, whylen, "no usable Contact");
			return 400;
		}
	}
	if (offer && sip->sip_payload && sip->sip_payload->pl_len) {
		const char *sdp;
		size_t len;

		if (is_multipart(sip->sip_content_type)) {
			int rc = multipart_sdp(sip, false, &sdp, &len, why, whylen);

			if (rc)
				return rc;
		} else if (sip->sip_content_type && sip->sip_content_type->c_type &&
			   strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0) {
			snprintf(why, whylen, "only application/sdp bodies (alone or in "
				 "multipart/mixed) are accepted");
			return 415;
		}
	}
	if (kind == SIPUA_REQ_INITIAL_INVITE && !accepts_sdp(sip)) {
		snprintf(why, whylen, "answers carry application/sdp");
		return 406;
	}
	return 0;
}

bool sipua_response_bad_target(sip_t const *sip)
{
	size_t n = 0;

	if (!sip)
		return false;
	for (msg_header_t const *h = (msg_header_t const *)sip->sip_error; h && n < ERROR_WALK_MAX;
	     h = h->sh_next, n++) {
		const char *name = sipua_error_name(h, NULL);

		if (name && (strcasecmp(name, "Contact") == 0 ||
			     strcasecmp(name, "Record-Route") == 0))
			return true;
	}
	return false;
}

/* ---- fields of a new INVITE ---- */

static void url_str(char *out, size_t len, url_t const *url)
{
	out[0] = '\0';
	if (url && url_e(out, (isize_t)len, url) < 0)
		out[0] = '\0';
	out[len - 1] = '\0';
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

void sipua_incoming_fill(sip_t const *sip, struct sipua_incoming *in,
			 struct sipua_incoming_buf *buf)
{
	url_t const *ruri = sip && sip->sip_request ? sip->sip_request->rq_url : NULL;
	url_t const *from = sip && sip->sip_from ? sip->sip_from->a_url : NULL;
	url_t const *to = sip && sip->sip_to ? sip->sip_to->a_url : NULL;
	unsigned long mf;

	buf->call_id[0] = '\0';
	if (sip && sip->sip_call_id && sip->sip_call_id->i_id)
		snprintf(buf->call_id, sizeof(buf->call_id), "%s", sip->sip_call_id->i_id);
	url_str(buf->ruri, sizeof(buf->ruri), ruri);
	url_str(buf->from, sizeof(buf->from), from);
	url_str(buf->to, sizeof(buf->to), to);
	in->call_id = buf->call_id;
	in->ruri = buf->ruri;
	in->ruri_user = or_empty(ruri ? ruri->url_user : NULL);
	in->from_uri = buf->from;
	in->from_user = or_empty(from ? from->url_user : NULL);
	in->from_display = or_empty(sip && sip->sip_from ? sip->sip_from->a_display : NULL);
	in->to_uri = buf->to;
	in->to_user = or_empty(to ? to->url_user : NULL);
	in->max_forwards = -1;
	if (sip && sip->sip_max_forwards) {
		mf = sip->sip_max_forwards->mf_count;
		in->max_forwards = mf > INT_MAX ? INT_MAX : (int)mf;
	}
	in->session_expires = 0;
	if (sip && sip->sip_session_expires)
		in->session_expires = sip->sip_session_expires->x_delta > UINT_MAX ?
				      UINT_MAX : (unsigned)sip->sip_session_expires->x_delta;
}

bool sipua_peer_100rel(sip_t const *sip)
{
	return sip && ((sip->sip_supported &&
			msg_header_find_item(sip->sip_supported->k_common, "100rel")) ||
		       (sip->sip_require &&
			msg_header_find_item(sip->sip_require->k_common, "100rel")));
}

/* ---- headers by name ---- */

static bool name_matches(msg_header_t const *h, const char *name)
{
	msg_hclass_t *hc = h->sh_class;

	if (hc->hc_hash == msg_unknown_hash) {
		msg_unknown_t const *u = (msg_unknown_t const *)h;
		return u->un_name && strcasecmp(u->un_name, name) == 0;
	}
	if (!hc->hc_name)
		return false;
	if (strcasecmp(hc->hc_name, name) == 0)
		return true;
	return hc->hc_short[0] && name[0] && !name[1] &&
	       (hc->hc_short[0] | 0x20) == (name[0] | 0x20);
}

int sipua_msg_header(msg_t *msg, const char *name, char *out, size_t outlen)
{
	msg_header_t **head;
	size_t start, pos;
	bool found = false;

	if (!msg || !name || !name[0] || !out || !outlen)
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
			msg_unknown_t const *u = (msg_unknown_t const *)h;

			if (!u->un_name)
				continue;
			hname = u->un_name;
			snprintf(val, sizeof(val), "%s", or_empty(u->un_value));
		} else {
			n = msg_header_field_e(val, sizeof(val), h, 0);
			if (n < 0 || (size_t)n >= sizeof(val))
				continue;
			hname = h->sh_class->hc_name;
		}
		/* A value never carries a line break into the header we write. */
		if (strpbrk(val, "\r\n"))
			continue;
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
