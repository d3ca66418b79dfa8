/*
 * b2bua_srtp.c — SDES-SRTP (RFC 4568) in the offer/answer across the legs: each leg
 * gets SRTP or plain RTP on its own, by its trunk's policy, and the media engine
 * bridges them. Pure code over struct b2b_crypto; keys come from the context's
 * generator (the kernel's random source in trunxd).
 *
 * DESIGN
 * Taking an offer: RTP/SAVP must carry a usable a=crypto line (the first one trunx can
 * serve is taken: an MKI line, another suite or key method is skipped for the next)
 * and needs a policy that allows SRTP and signalling that may carry keys; RTP/AVP
 * with a=crypto is best-effort SRTP (RFC 4568 3.1.4, taken when allowed, else
 * plain); plain RTP/AVP is refused only under `required`. Our answer echoes the tag
 * and suite of the line taken. Offering: `required` writes RTP/SAVP, `optional`
 * RTP/AVP with a=crypto, each suite on its own line with its own key; a leg that
 * already uses SRTP is offered its current line again (same tag, suite and key), so a
 * re-INVITE keeps the contexts and their rollover counters. Our key toward a leg
 * stays for the whole call unless the suite changes; the leg's own key is whatever
 * its latest SDP says (a new one starts a fresh context in the engine).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "b2bua_int.h"

static void set_why(const char **why, const char *s)
{
	if (why)
		*why = s;
}

static void keygen(const struct b2b_srtp_policy *pol, uint8_t *key)
{
	size_t got = 0;

	if (pol->keygen) {
		pol->keygen(key, SDP_CRYPTO_KEY_LEN);
		return;
	}
	while (got < SDP_CRYPTO_KEY_LEN) {
		ssize_t n = getrandom(key + got, SDP_CRYPTO_KEY_LEN - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
}

/* RTP/SAVP, or RTP/SAVPF (RFC 5124: SAVP with feedback) */
static bool proto_savp(const char *proto)
{
	return strcasecmp(proto, "RTP/SAVP") == 0 || strcasecmp(proto, "RTP/SAVPF") == 0;
}

/* RTP/AVPF or RTP/SAVPF: the feedback profiles (RFC 4585, RFC 5124). An endpoint of
 * those profiles talks to one that sends no feedback message: trunx answers with the
 * profile offered, asks for no feedback (no a=rtcp-fb) and relays RTCP as it is. */
bool b2b_srtp_proto_fb(const char *proto)
{
	return strcasecmp(proto, "RTP/AVPF") == 0 || strcasecmp(proto, "RTP/SAVPF") == 0;
}

bool b2b_srtp_proto_ok(const char *proto)
{
	return strcasecmp(proto, "RTP/AVP") == 0 || strcasecmp(proto, "RTP/AVPF") == 0 ||
	       proto_savp(proto);
}

bool b2b_srtp_proto_takes(const char *proto, const struct b2b_srtp_policy *pol)
{
	if (proto_savp(proto))
		return pol->mode != B2B_SRTP_OFF && pol->keys_ok;
	return strcasecmp(proto, "RTP/AVP") == 0 || strcasecmp(proto, "RTP/AVPF") == 0;
}

/* The m= protocol of a leg's line: SAVP or AVP, with the feedback suffix if its
 * offer had it. */
static const char *leg_proto(bool savp, bool fb)
{
	return savp ? (fb ? "RTP/SAVPF" : "RTP/SAVP") : (fb ? "RTP/AVPF" : "RTP/AVP");
}

/* The first a=crypto line of m trunx can serve, or false. */
static bool first_usable(const struct sdp_media *m, struct sdp_crypto *out)
{
	for (size_t i = 0; i < m->n_crypto; i++)
		if (sdp_crypto_parse(m->crypto[i], out, NULL) == 0)
			return true;
	return false;
}

int b2b_srtp_take_offer(const struct sdp_media *am, const struct b2b_srtp_policy *pol,
			const struct b2b_crypto *cur, struct b2b_crypto *out, const char **why)
{
	bool savp = proto_savp(am->proto);
	struct sdp_crypto k;
	bool usable = first_usable(am, &k);

	memset(out, 0, sizeof(*out));
	out->fb = b2b_srtp_proto_fb(am->proto);
	if (savp) {
		if (pol->mode == B2B_SRTP_OFF) {
			set_why(why, "SRTP is not allowed on this trunk");
			return ENOTSUP;
		}
		if (!pol->keys_ok) {
			set_why(why, "SDES keys need TLS signalling on this trunk");
			return ENOTSUP;
		}
		if (!usable) {
			set_why(why, "no usable crypto attribute (AES_CM_128_HMAC_SHA1_80/_32)");
			return ENOTSUP;
		}
	} else if (!usable || pol->mode == B2B_SRTP_OFF || !pol->keys_ok) {
		if (pol->mode == B2B_SRTP_REQUIRED) {
			set_why(why, pol->keys_ok ? "SRTP is required on this trunk"
				     : "SRTP is required and needs TLS signalling on this trunk");
			return ENOTSUP;
		}
		return 0;   /* plain RTP */
	}
	out->suite = k.suite;
	out->tag = k.tag;
	out->savp = savp;
	memcpy(out->remote, k.key, sizeof(out->remote));
	/* Our key toward this leg stays while the suite does. */
	if (cur->suite == k.suite)
		memcpy(out->local, cur->local, sizeof(out->local));
	else
		keygen(pol, out->local);
	return 0;
}

static void crypto_line(char *out, size_t len, uint32_t tag, enum sdp_crypto_suite suite,
			const uint8_t *key)
{
	struct sdp_crypto c = {.tag = tag, .suite = suite};

	memcpy(c.key, key, sizeof(c.key));
	if (sdp_crypto_write(&c, out, len) < 0)
		out[0] = '\0';
	memset(&c, 0, sizeof(c));
}

int b2b_srtp_make_offer(struct sdp_media *om, const struct b2b_srtp_policy *pol,
			const struct b2b_crypto *cur, struct b2b_offered *off, const char **why)
{
	memset(off, 0, sizeof(*off));
	om->n_crypto = 0;
	/* a leg on a feedback profile keeps it in our re-offers */
	snprintf(om->proto, sizeof(om->proto), "%s", leg_proto(false, cur->fb));
	if (pol->mode == B2B_SRTP_OFF)
		return 0;
	if (!pol->keys_ok) {
		if (pol->mode == B2B_SRTP_REQUIRED) {
			set_why(why, "SRTP is required toward the called trunk, whose signalling "
				     "is not TLS");
			return ENOTSUP;
		}
		return 0;
	}
	off->savp = pol->mode == B2B_SRTP_REQUIRED;
	if (off->savp)
		snprintf(om->proto, sizeof(om->proto), "%s", leg_proto(true, cur->fb));
	if (cur->suite != SDP_CRYPTO_NONE) {
		/* the line in use, again: the leg keeps its contexts */
		off->line[0] = *cur;
		off->n = 1;
	} else {
		static const enum sdp_crypto_suite suites[2] = {
			SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32,
		};

		for (unsigned i = 0; i < 2; i++) {
			memset(&off->line[i], 0, sizeof(off->line[i]));
			off->line[i].suite = suites[i];
			off->line[i].tag = i + 1;
			keygen(pol, off->line[i].local);
		}
		off->n = 2;
	}
	for (size_t i = 0; i < off->n; i++) {
		off->line[i].savp = off->savp;
		crypto_line(om->crypto[i], sizeof(om->crypto[i]), off->line[i].tag,
			    off->line[i].suite, off->line[i].local);
		if (!om->crypto[i][0])
			return EINVAL;
	}
	om->n_crypto = off->n;
	return 0;
}

static int take_answer(const struct sdp_media *am, const struct b2b_offered *off,
			 struct b2b_crypto *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (!off->n)
		return 0;   /* none offered: plain, whatever the answer says */
	for (size_t i = 0; i < am->n_crypto; i++) {
		struct sdp_crypto k;

		if (sdp_crypto_parse(am->crypto[i], &k, NULL) != 0)
			continue;
		for (size_t j = 0; j < off->n; j++) {
			if (off->line[j].tag != k.tag || off->line[j].suite != k.suite)
				continue;
			*out = off->line[j];
			memcpy(out->remote, k.key, sizeof(out->remote));
			memset(&k, 0, sizeof(k));
			return 0;
		}
	}
	if (off->savp) {
		set_why(why, "the called party answered RTP/SAVP without a crypto line it was "
			     "offered");
		return ENOTSUP;
	}
	return 0;   /* best-effort SRTP declined: plain RTP */
}

int b2b_srtp_take_answer(const struct sdp_media *am, const struct b2b_offered *off,
			 struct b2b_crypto *out, const char **why)
{
	int err = take_answer(am, off, out, why);

	out->fb = b2b_srtp_proto_fb(am->proto);   /* the answer mirrors our offer's */
	return err;
}

void b2b_srtp_write_answer(struct sdp_media *om, const struct b2b_crypto *c)
{
	om->n_crypto = 0;
	snprintf(om->proto, sizeof(om->proto), "%s", leg_proto(c->savp, c->fb));
	if (c->suite == SDP_CRYPTO_NONE)
		return;
	crypto_line(om->crypto[0], sizeof(om->crypto[0]), c->tag, c->suite, c->local);
	om->n_crypto = om->crypto[0][0] ? 1 : 0;
}

int b2b_srtp_take_reanswer(const struct sdp_media *am, struct b2b_crypto *cur,
			   const char **why)
{
	if (cur->suite == SDP_CRYPTO_NONE)
		return 0;
	for (size_t i = 0; i < am->n_crypto; i++) {
		struct sdp_crypto k;

		if (sdp_crypto_parse(am->crypto[i], &k, NULL) != 0 || k.tag != cur->tag ||
		    k.suite != cur->suite)
			continue;
		memcpy(cur->remote, k.key, sizeof(cur->remote));
		memset(&k, 0, sizeof(k));
		return 0;
	}
	if (cur->savp) {
		set_why(why, "answer without the crypto line offered");
		return ENOTSUP;
	}
	{
		bool fb = cur->fb;

		memset(cur, 0, sizeof(*cur));   /* best effort declined */
		cur->fb = fb;
	}
	return 0;
}

void b2b_srtp_media(const struct b2b_crypto *c, struct media_srtp_params *p)
{
	memset(p, 0, sizeof(*p));
	switch (c->suite) {
	case SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80:
		p->suite = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
		break;
	case SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32:
		p->suite = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32;
		break;
	default:
		return;
	}
	memcpy(p->rx_key, c->remote, sizeof(p->rx_key));
	memcpy(p->tx_key, c->local, sizeof(p->tx_key));
}

const char *b2b_srtp_suite_name(enum sdp_crypto_suite s)
{
	switch (s) {
	case SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80: return "AES_CM_128_HMAC_SHA1_80";
	case SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32: return "AES_CM_128_HMAC_SHA1_32";
	default:                                 return NULL;
	}
}
