/*
 * sipua_mclass.h — trunx's SIP message class (sip/ua only): the stack's parser with
 * Contact and Record-Route made strict, so that a URI trunx cannot send a request to,
 * or a Contact from a source that may not change a dialog, never reaches a dialog.
 */
#ifndef TRUNX_SIPUA_MCLASS_H
#define TRUNX_SIPUA_MCLASS_H

#include <stdbool.h>
#include <sys/socket.h>

#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/url.h>

struct sipua_mclass;

/** Transports trunx can send on, for sipua_target_check(). */
enum sipua_tp_mask {
	SIPUA_TPM_UDP = 1 << 0,
	SIPUA_TPM_TCP = 1 << 1,
	SIPUA_TPM_TLS = 1 << 2,
};

/**
 * May a message from `src` set a dialog's remote target (a trunk's network, or the
 * peer of a live dialog)? Runs on the parsing thread, for every Contact parsed from
 * the network.
 */
typedef bool (sipua_trust_h)(const struct sockaddr *src, void *arg);

/**
 * May a request from `src` speak in the dialog(s) of this Call-ID (true also when no
 * dialog of trunx has it)? Runs on the parsing thread for every request from the
 * network, once its Call-ID, To and top Via are parsed.
 */
typedef bool (sipua_gate_h)(const char *call_id, const struct sockaddr *src, void *arg);

/**
 * Does trunx take over this response to a PRACK of its own, one that would make the
 * stack end the session (status 300-699 that sip_response_terminates_dialog() says
 * ends the usage or the dialog)? true: the stack never sees it. Runs on the parsing
 * thread, once the response's status, Call-ID, CSeq and top Via are parsed.
 */
typedef bool (sipua_answer_h)(const char *call_id, const struct sockaddr *src, int status,
			      void *arg);

/**
 * Creates the message class.
 * @param tpm    transports trunx can send on (enum sipua_tp_mask)
 * @param trust  source check for Contacts (NULL = every source may)
 * @param gate   the dialog gate (NULL = none)
 * @return 0, ENOMEM
 */
int sipua_mclass_create(struct sipua_mclass **mcp, unsigned tpm, sipua_trust_h *trust,
			sipua_gate_h *gate, void *arg);
void sipua_mclass_destroy(struct sipua_mclass *mc);

/** Sets the answer check (NULL = none; the arg is the one given at creation). */
void sipua_mclass_set_answer(struct sipua_mclass *mc, sipua_answer_h *answer);

/** The class to hand to the stack (NTATAG_MCLASS) or to msg_create(). */
msg_mclass_t const *sipua_mclass_get(const struct sipua_mclass *mc);

/**
 * Why trunx's policy (not the syntax) refused a Contact of msg, a message parsed with
 * this class lately: a reason, or NULL (none refused, a syntax error, or unknown).
 */
const char *sipua_mclass_refusal(const struct sipua_mclass *mc, const void *msg);

/** Contacts the source check refused, since creation. */
unsigned long sipua_mclass_refused_source(const struct sipua_mclass *mc);

/**
 * Can trunx send a request to this URI (a dialog target or a route entry)? sip: or
 * sips:, a host that is an IP literal or a well-formed domain name outside the names
 * that never resolve (.invalid, .localhost), a numeric port 1-65535, a maddr that is
 * a valid host, and a transport trunx has (sips: and transport=tls need TLS).
 * @return NULL when usable, else a short reason
 */
const char *sipua_target_check(url_t const *u, unsigned tpm);

#endif
