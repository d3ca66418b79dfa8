/*
 * sipua_mclass.c — trunx's SIP message class: a copy of the stack's default class in
 * which Contact and Record-Route parse strictly.
 *
 * DESIGN
 * sofia-sip takes a dialog's remote target from the Contact of every target-refresh
 * request (re-INVITE, UPDATE, ...) as it receives it, before trunx sees the request,
 * and its route set from Record-Route. A target it cannot send to ("*", tel:, an
 * unknown transport) makes its next request fail at once, and that failure creates a
 * BYE that fails at once too, without end, until the thread's stack overflows. The
 * parser is the only place before all that, so trunx's classes parse as the stack's
 * do, then check each URI (sipua_target_check) and, for Contact, that the message's
 * source may set a target at all (the trust callback: a trunk's network or the peer of
 * a live dialog). A header that fails becomes an entry of the message's error list
 * named after it; the stack never sees it as a Contact, so the target stays what it
 * was, and trunx answers the request (403 for the source, 400 for the URI). The error
 * flags of the two classes are cleared so the transaction layer does not answer 400 on
 * its own: trunx's source check comes first.
 *
 * The same parser keeps requests from strangers out of dialogs (the dialog gate). The
 * stack matches a request to a dialog by Call-ID and tags, never by source, and acts
 * on it before trunx can refuse it (a BYE ends the call whatever trunx answers). So
 * once a request's Call-ID, To and top Via are parsed, the gate callback says whether
 * its source may speak in the dialog of that Call-ID (its peer or a trunk); if not,
 * the request is cut loose from the dialog before the stack sees it: its From and To
 * tags are removed (the stack matches a request without a To tag loosely, but never
 * one without a From tag), so it arrives as an out-of-dialog request from an unknown
 * source (403 or silence like any, 481 for a method that needs a dialog), or, for a
 * CANCEL, its branch is changed so it matches no transaction (481).
 *
 * A request's top Via whose sent-by is a host name gets received=<source IP> as soon as
 * it is parsed. The stack sends a response to the Via's received address, or else
 * resolves its host with a blocking lookup on the signalling thread; it adds received
 * itself only after a check that a malformed request fails first (a Via naming another
 * transport than the one it came on), and then answered the request's 400 by name.
 *
 * The same parser also holds back a response to a PRACK of trunx that would end the
 * session while the INVITE it acknowledges is still open (481, 404, 408, 480... to
 * the PRACK of a reliable 18x: sip_response_terminates_dialog()). The stack would
 * remove the session with that INVITE's transaction live, and this version then keeps
 * a reference to the INVITE's request for good (nua_session_usage_remove()): the
 * request, its signal and the handle stay allocated (about 4 KB a call) before trunx
 * hears of the answer, so nothing trunx does afterwards can free them. Once such a
 * response's status, Call-ID, CSeq and top Via are parsed, the answer callback says
 * whether trunx takes it over (a leg of that Call-ID, whose peer sent it, has its
 * INVITE open behind a PRACK); if so its top Via's branch is changed so it matches no
 * transaction and the stack drops it, and trunx ends the leg itself (sipua_leg.c).
 *
 * The source is that of the message whose first line was parsed: the first-line
 * classes are wrapped too and record (message, source) in a small ring. The stack
 * parses a first line only from extract_first(), which passes msg_home(msg), that is
 * the message itself (msg.h). A Contact parsed for a home not in the ring (a header
 * string trunx or the stack builds) is checked for its URI only, and such a message is
 * never gated.
 */
#include "sipua_mclass.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/hostdomain.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>

#define PROVENANCE_RING 64

/** A header class of ours: the stack's, with its parser wrapped. */
struct strict_hclass {
	struct msg_hclass_s  hc;     /**< first: h->sh_class points here */
	struct sipua_mclass *mc;
	msg_parse_f         *orig;   /**< the stack's parser */
};

struct provenance {
	const void             *home;   /**< the message (msg_home(msg) == msg) */
	struct sockaddr_storage src;    /**< family 0: made locally */
	const char             *refused;/**< why trunx's policy refused a Contact of it */
	bool                    request;/**< its first line is a request line */
	bool                    cancel; /**< ...of a CANCEL */
	bool                    gated;  /**< the dialog gate ran */
	bool                    checked;/**< the answer check ran (a response) */
	int                     status; /**< a response's status */
	bool                    cseq;   /**< its CSeq was parsed */
	bool                    prack;  /**< ...and names a PRACK */
	const char             *call_id;   /**< its Call-ID, once parsed */
	msg_header_t           *from;      /**< its From, once parsed */
	msg_header_t           *to;        /**< its To, once parsed */
	msg_header_t           *via;       /**< its top Via, once parsed */
};

struct sipua_mclass {
	msg_mclass_t        *mclass;
	unsigned             tpm;
	sipua_trust_h       *trust;
	sipua_gate_h        *gate;
	sipua_answer_h      *answer;
	void                *arg;
	struct strict_hclass request, status, contact, record_route, call_id, from, to, via,
			     cseq;
	struct provenance    ring[PROVENANCE_RING];
	unsigned             ring_next;
	unsigned long        refused_source;
};

/* ---- URI policy ---- */

/* A DNS name: labels of letters, digits and '-', 1-63 chars, not starting or ending
 * with '-', at most 253 chars, a last label that is not all digits; optional final
 * dot. Names that never resolve (RFC 6761) are refused. */
static bool domain_usable(const char *h)
{
	size_t len = strlen(h), label = 0, i;
	bool all_digits = true;
	const char *last;

	if (len && h[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			all_digits = true;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (c < '0' || c > '9')
			all_digits = false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || h[len - 1] == '-' || all_digits)
		return false;
	last = h + len - label;
	if ((label == 7 && strncasecmp(last, "invalid", 7) == 0) ||
	    (label == 9 && strncasecmp(last, "localhost", 9) == 0))
		return false;
	return true;
}

static bool host_usable(const char *h)
{
	if (!h || !h[0])
		return false;
	if (host_is_ip4_address(h) || host_is_ip6_reference(h))
		return true;
	return domain_usable(h);
}

const char *sipua_target_check(url_t const *u, unsigned tpm)
{
	char val[256];
	bool tls = false;

	if (!u)
		return "no URI";
	if (u->url_type == url_any)
		return "'*' is not a target";
	if (u->url_type != url_sip && u->url_type != url_sips)
		return "not a SIP URI";
	if (u->url_type == url_sips)
		tls = true;
	if (!host_usable(u->url_host))
		return "host cannot be resolved";
	if (u->url_port && u->url_port[0]) {
		unsigned long port = 0;

		for (const char *p = u->url_port; *p; p++) {
			if (*p < '0' || *p > '9' || port > 65535)
				return "bad port";
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return "bad port";
	}
	if (u->url_params) {
		isize_t n = url_param(u->url_params, "maddr", val, sizeof(val));

		if (n > 0 && !host_usable(val))
			return "maddr cannot be resolved";
		if (n >= (isize_t)sizeof(val))
			return "maddr too long";
		n = url_param(u->url_params, "transport", val, sizeof(val));
		if (n >= (isize_t)sizeof(val))
			return "unknown transport";
		if (n > 0) {
			if (su_casematch(val, "tls"))
				tls = true;
			else if (su_casematch(val, "udp")) {
				if (!(tpm & SIPUA_TPM_UDP))
					return "transport not available";
			} else if (su_casematch(val, "tcp")) {
				if (!(tpm & SIPUA_TPM_TCP))
					return "transport not available";
			} else {
				return "unknown transport";
			}
		}
	}
	if (tls && !(tpm & SIPUA_TPM_TLS))
		return "TLS not available";
	return NULL;
}

/* ---- provenance of the message being parsed ---- */

static void provenance_note(struct sipua_mclass *mc, void *home)
{
	struct provenance *p = &mc->ring[mc->ring_next++ % PROVENANCE_RING];
	su_addrinfo_t *ai = msg_addrinfo((msg_t *)home);

	memset(p, 0, sizeof(*p));
	p->home = home;
	if (ai && ai->ai_addr && ai->ai_addrlen > 0 && ai->ai_addrlen <= sizeof(p->src))
		memcpy(&p->src, ai->ai_addr, ai->ai_addrlen);
}

/* The record of the message owning `home`, newest first; NULL if unknown. */
static struct provenance *provenance_find(const struct sipua_mclass *mc, const void *home)
{
	for (unsigned i = 1; i <= PROVENANCE_RING; i++) {
		const struct provenance *p = &mc->ring[(mc->ring_next - i) % PROVENANCE_RING];

		if (p->home == home)
			return (struct provenance *)(uintptr_t)p;
	}
	return NULL;
}

const char *sipua_mclass_refusal(const struct sipua_mclass *mc, const void *msg)
{
	const struct provenance *p = mc && msg ? provenance_find(mc, msg) : NULL;

	return p ? p->refused : NULL;
}

/* ---- wrapped parsers ---- */

static struct strict_hclass *strict_of(msg_header_t const *h)
{
	return (struct strict_hclass *)(uintptr_t)h->sh_class;
}

static issize_t first_line_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);
	struct provenance *p;
	issize_t n;

	provenance_note(sc->mc, home);
	n = sc->orig(home, h, s, slen);
	p = provenance_find(sc->mc, home);
	if (n >= 0 && p && sc == &sc->mc->request) {
		p->request = true;
		p->cancel = ((sip_request_t *)h)->rq_method == sip_method_cancel;
	}
	if (n >= 0 && p && sc == &sc->mc->status)
		p->status = ((sip_status_t *)h)->st_status;
	return n;
}

/* Once status, Call-ID, CSeq and top Via of a response from the network are known:
 * does trunx take over this answer to its PRACK? If so the stack never matches it
 * (see DESIGN). */
static void answer_try(struct sipua_mclass *mc, struct provenance *p)
{
	if (!p || p->checked || p->request || !p->status || !p->call_id || !p->cseq ||
	    !p->via || p->src.ss_family == AF_UNSPEC || !mc->answer)
		return;
	p->checked = true;
	if (!p->prack || p->status < 300 || p->status > 699 ||
	    !sip_response_terminates_dialog(p->status, sip_method_prack, NULL))
		return;
	if (!mc->answer(p->call_id, (const struct sockaddr *)&p->src, p->status, mc->arg))
		return;
	msg_header_replace_param((su_home_t *)(uintptr_t)p->home, p->via->sh_common,
				 "branch=z9hG4bK-trunx-taken");
}

/* Once Call-ID, To and top Via of a request from the network are known: may its
 * source speak in the dialog of that Call-ID? If not, cut it loose (see DESIGN). */
static void gate_try(struct sipua_mclass *mc, struct provenance *p)
{
	if (!p || p->gated || !p->request || !p->call_id || !p->from || !p->to || !p->via ||
	    p->src.ss_family == AF_UNSPEC || !mc->gate)
		return;
	p->gated = true;
	if (mc->gate(p->call_id, (const struct sockaddr *)&p->src, mc->arg))
		return;
	if (p->cancel) {
		msg_header_replace_param((su_home_t *)(uintptr_t)p->home, p->via->sh_common,
					 "branch=z9hG4bK-trunx-refused");
		return;
	}
	msg_header_remove_param(p->from->sh_common, "tag");
	msg_header_remove_param(p->to->sh_common, "tag");
}

static issize_t call_id_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);
	struct provenance *p;

	if (sc->orig(home, h, s, slen) < 0)
		return -1;
	p = provenance_find(sc->mc, home);
	if (p && !p->call_id) {
		p->call_id = ((sip_call_id_t *)h)->i_id;
		gate_try(sc->mc, p);
		answer_try(sc->mc, p);
	}
	return 0;
}

static issize_t cseq_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);
	struct provenance *p;

	if (sc->orig(home, h, s, slen) < 0)
		return -1;
	p = provenance_find(sc->mc, home);
	if (p && !p->cseq) {
		p->cseq = true;
		p->prack = ((sip_cseq_t *)h)->cs_method == sip_method_prack;
		answer_try(sc->mc, p);
	}
	return 0;
}

/* From and To: the first of each parsed for a message (a second copy is an error
 * entry, never used by the stack). */
static issize_t from_to_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);
	struct provenance *p;
	msg_header_t **slot;

	if (sc->orig(home, h, s, slen) < 0)
		return -1;
	p = provenance_find(sc->mc, home);
	if (!p)
		return 0;
	slot = sc == &sc->mc->from ? &p->from : &p->to;
	if (!*slot) {
		*slot = h;
		gate_try(sc->mc, p);
	}
	return 0;
}

/* Gives a request's top Via naming a host the received address of its source, so no
 * response to it is ever sent after a name lookup (see DESIGN). */
static void via_received(su_home_t *home, sip_via_t *v, const struct provenance *p)
{
	char ip[64], param[80];

	if (!p->request || !v->v_host || host_is_ip_address(v->v_host) || v->v_received)
		return;
	if (p->src.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&p->src)->sin_addr, ip, sizeof(ip));
	else if (p->src.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&p->src)->sin6_addr, ip,
			  sizeof(ip));
	else
		return;
	snprintf(param, sizeof(param), "received=%s", ip);
	msg_header_replace_param(home, v->v_common, su_strdup(home, param));
}

/* Via is a list: the first object parsed for a message is its top Via. */
static issize_t via_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);
	struct provenance *p = provenance_find(sc->mc, home);

	if (p && !p->via)
		p->via = h;
	if (sc->orig(home, h, s, slen) < 0) {
		if (p && p->via == h)
			p->via = NULL;
		return -1;
	}
	if (p && p->via == h)
		via_received(home, (sip_via_t *)h, p);
	gate_try(sc->mc, p);
	answer_try(sc->mc, p);
	return 0;
}

static issize_t contact_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);
	struct sipua_mclass *mc = sc->mc;
	struct provenance *p;
	const char *why;

	if (sc->orig(home, h, s, slen) < 0)
		return -1;
	p = provenance_find(mc, home);
	why = sipua_target_check(((sip_contact_t *)h)->m_url, mc->tpm);
	if (!why && p && p->src.ss_family != AF_UNSPEC && mc->trust &&
	    !mc->trust((const struct sockaddr *)&p->src, mc->arg)) {
		mc->refused_source++;
		why = "source may not set a target";
	}
	if (!why)
		return 0;
	if (p && !p->refused)
		p->refused = why;
	return -1;
}

static issize_t record_route_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	struct strict_hclass *sc = strict_of(h);

	if (sc->orig(home, h, s, slen) < 0)
		return -1;
	return sipua_target_check(((sip_record_route_t *)h)->r_url, sc->mc->tpm) ? -1 : 0;
}

/* ---- the class ---- */

static void strict_init(struct strict_hclass *sc, struct sipua_mclass *mc,
			msg_hclass_t *orig, msg_parse_f *parse)
{
	sc->hc = *orig;
	sc->hc.hc_parse = parse;
	sc->mc = mc;
	sc->orig = orig->hc_parse;
}

/* Points every reference to class `from` at `to`, flags cleared. */
static void href_replace(msg_href_t *hr, msg_hclass_t *from, struct strict_hclass *to)
{
	if (hr->hr_class == from) {
		hr->hr_class = &to->hc;
		hr->hr_flags = 0;
	}
}

/* The same, keeping the error flags (the transaction layer still answers 400 when
 * these did not parse: it could not match or answer the request otherwise). */
static void href_replace_keep(msg_href_t *hr, msg_hclass_t *from, struct strict_hclass *to)
{
	if (hr->hr_class == from)
		hr->hr_class = &to->hc;
}

/*
 * Parsing finds a header class by name, the first match along the hash table's probe
 * chain; inserting a header (one trunx or the stack builds with the stack's own class)
 * finds its place by class pointer along the same chain. So ours takes the original's
 * slot, and the original goes to the next free slot of the chain, with the same
 * offset: names parse with ours, both kinds of header object insert.
 */
static int hash_append(msg_mclass_t *m, msg_hclass_t *orig, struct strict_hclass *ours)
{
	int n = m->mc_hash_size, j = orig->hc_hash % n, start = j;
	unsigned short offset = 0, flags = 0;

	for (; m->mc_hash[j].hr_class; j = (j + 1) % n) {
		if (m->mc_hash[j].hr_class == &ours->hc) {
			offset = m->mc_hash[j].hr_offset;
			flags = m->mc_hash[j].hr_flags;
		}
		if ((j + 1) % n == start)
			return ENOSPC;
	}
	if (!offset)
		return ENOENT;
	m->mc_hash[j].hr_class = orig;
	m->mc_hash[j].hr_offset = offset;
	m->mc_hash[j].hr_flags = flags;
	m->mc_hash_used++;
	return 0;
}

int sipua_mclass_create(struct sipua_mclass **mcp, unsigned tpm, sipua_trust_h *trust,
			sipua_gate_h *gate, void *arg)
{
	struct sipua_mclass *mc;
	msg_mclass_t *m;

	if (!mcp)
		return EINVAL;
	mc = calloc(1, sizeof(*mc));
	if (!mc)
		return ENOMEM;
	m = msg_mclass_clone(sip_default_mclass(), 0, 0);
	if (!m) {
		free(mc);
		return ENOMEM;
	}
	mc->mclass = m;
	mc->tpm = tpm;
	mc->trust = trust;
	mc->gate = gate;
	mc->arg = arg;
	strict_init(&mc->request, mc, m->mc_request->hr_class, first_line_parse);
	strict_init(&mc->status, mc, m->mc_status->hr_class, first_line_parse);
	strict_init(&mc->contact, mc, sip_contact_class, contact_parse);
	strict_init(&mc->record_route, mc, sip_record_route_class, record_route_parse);
	strict_init(&mc->call_id, mc, sip_call_id_class, call_id_parse);
	strict_init(&mc->from, mc, sip_from_class, from_to_parse);
	strict_init(&mc->to, mc, sip_to_class, from_to_parse);
	strict_init(&mc->via, mc, sip_via_class, via_parse);
	strict_init(&mc->cseq, mc, sip_cseq_class, cseq_parse);
	m->mc_request->hr_class = &mc->request.hc;
	m->mc_status->hr_class = &mc->status.hc;
	for (int i = 0; i < m->mc_hash_size; i++) {
		href_replace(&m->mc_hash[i], sip_contact_class, &mc->contact);
		href_replace(&m->mc_hash[i], sip_record_route_class, &mc->record_route);
		href_replace_keep(&m->mc_hash[i], sip_call_id_class, &mc->call_id);
		href_replace_keep(&m->mc_hash[i], sip_from_class, &mc->from);
		href_replace_keep(&m->mc_hash[i], sip_to_class, &mc->to);
		href_replace_keep(&m->mc_hash[i], sip_via_class, &mc->via);
		href_replace_keep(&m->mc_hash[i], sip_cseq_class, &mc->cseq);
	}
	if (hash_append(m, sip_contact_class, &mc->contact) ||
	    hash_append(m, sip_record_route_class, &mc->record_route) ||
	    hash_append(m, sip_call_id_class, &mc->call_id) ||
	    hash_append(m, sip_from_class, &mc->from) ||
	    hash_append(m, sip_to_class, &mc->to) ||
	    hash_append(m, sip_via_class, &mc->via) ||
	    hash_append(m, sip_cseq_class, &mc->cseq)) {
		free(m);
		free(mc);
		return ENOMEM;
	}
	if (m->mc_short) {
		msg_href_t *shorts = (msg_href_t *)(uintptr_t)m->mc_short;

		for (int i = 0; i < MC_SHORT_SIZE; i++) {
			href_replace(&shorts[i], sip_contact_class, &mc->contact);
			href_replace_keep(&shorts[i], sip_call_id_class, &mc->call_id);
			href_replace_keep(&shorts[i], sip_from_class, &mc->from);
			href_replace_keep(&shorts[i], sip_to_class, &mc->to);
			href_replace_keep(&shorts[i], sip_via_class, &mc->via);
		}
	}
	*mcp = mc;
	return 0;
}

void sipua_mclass_destroy(struct sipua_mclass *mc)
{
	if (!mc)
		return;
	free(mc->mclass);
	free(mc);
}

void sipua_mclass_set_answer(struct sipua_mclass *mc, sipua_answer_h *answer)
{
	if (mc)
		mc->answer = answer;
}

msg_mclass_t const *sipua_mclass_get(const struct sipua_mclass *mc)
{
	return mc ? mc->mclass : NULL;
}

unsigned long sipua_mclass_refused_source(const struct sipua_mclass *mc)
{
	return mc ? mc->refused_source : 0;
}
