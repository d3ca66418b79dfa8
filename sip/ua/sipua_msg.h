/*
 * sipua_msg.h — reading what the stack parsed from the wire (sip/ua only): the error
 * list, the checks trunx makes before it serves a request, the fields of a new INVITE
 * and headers by name. Pure functions over a parsed message: no stack state, so the
 * SIP-front fuzzer runs them on raw bytes.
 */
#ifndef TRUNX_SIPUA_MSG_H
#define TRUNX_SIPUA_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "sipua.h"

/**
 * What an entry of sip->sip_error stands for. The list holds two kinds of object
 * (msg_parser.c): msg_error_t entries for header fields that did not parse (er_name
 * names the header, NULL when even the name did not parse), and the extra copies of a
 * single-valued header, which keep their own class (their er_name would read some
 * other field of theirs).
 * @param dup  set to true for an extra copy, false for a parse error
 * @return the header's name, or NULL when unknown
 */
const char *sipua_error_name(msg_header_t const *h, bool *dup);

/** Which request a check is for. */
enum sipua_req_kind {
	SIPUA_REQ_INITIAL_INVITE,  /**< out-of-dialog INVITE: a new call */
	SIPUA_REQ_OFFER,           /**< re-INVITE or UPDATE inside a dialog (a target
				        refresh) */
	SIPUA_REQ_OTHER,           /**< any other request: its Contact is not used, so
				        only a Contact that did not parse is refused */
};

/**
 * The checks of a request the stack let through that trunx makes before serving it:
 * header fields trunx relies on must have parsed and be present once, Contact and
 * Record-Route must be usable (see sipua_mclass.c), INVITE has no headers in its
 * request-URI and a usable target (its Contact, or its From without one), offers
 * are application/sdp and INVITE answers may be.
 * @param tpm      transports trunx can send on (enum sipua_tp_mask)
 * @param refusal  why trunx's class refused the Contact (sipua_mclass_refusal()), NULL
 *                 if it did not, or if it did not parse
 * @param why      receives the reason when refused
 * @return 0 to serve it, else the status to answer (400, 406, 415)
 */
int sipua_request_check(sip_t const *sip, enum sipua_req_kind kind, unsigned tpm,
			const char *refusal, char *why, size_t whylen);

/**
 * True when a response to our INVITE carries a Contact or Record-Route that did not
 * parse or that trunx refused (a dialog it would create could not be reached).
 */
bool sipua_response_bad_target(sip_t const *sip);

/** Room for the strings of a struct sipua_incoming. */
struct sipua_incoming_buf {
	char call_id[128];
	char ruri[512];
	char from[512];
	char to[512];
};

/**
 * Fills the fields of a new INVITE (strings point into sip or buf; absent ones are "";
 * over-long ones are cut). Source, transport and peer are the caller's to set.
 */
void sipua_incoming_fill(sip_t const *sip, struct sipua_incoming *in,
			 struct sipua_incoming_buf *buf);

/**
 * Appends every header of msg named `name` (case-insensitive, compact forms
 * included) to out as "Name: value\r\n" lines, NUL-terminated. Parse errors are never
 * copied.
 * @return 0, ENOENT (no such header), ENOSPC (out too small; out unchanged)
 */
int sipua_msg_header(msg_t *msg, const char *name, char *out, size_t outlen);

/** True if the peer said Supported or Require: 100rel. */
bool sipua_peer_100rel(sip_t const *sip);

/**
 * The message's SDP: a non-empty application/sdp (or untyped) body, or the SDP part
 * of a well-formed multipart/mixed one (sipua_body_multipart(), lenient: the parts a
 * request may not carry were refused by sipua_request_check()). False (NULL, 0) when
 * there is none.
 */
bool sipua_body_sdp(sip_t const *sip, const char **sdp, size_t *len);

/** True if the message carries an SDP (sipua_body_sdp()). */
bool sipua_has_sdp(sip_t const *sip);

#endif
