/*
 * b2bua_auth.c — database mode: trunks and peers identified by digest. Where the
 * source of an INVITE is claimed by trunks that are challenged (inbound_auth), the
 * INVITE must carry credentials for one of them: without them it gets a 401 with a
 * fresh nonce (src/auth: expiring, single use, this node's own); with a stale or
 * foreign nonce, a 401 again (stale=true); with a username none of them has, or a
 * wrong password, 403 and an auth.failed event. Challenges and refusals here create no
 * call (and no call record): only an authenticated INVITE becomes a call, from the
 * trunk its username names. Signalling thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_digest.h"
#include "b2bua_int.h"
#include "log.h"

#define AUTH_REALM   "trunx"
#define MAX_CLAIMANTS 16

static void challenge(struct b2bua *b, const struct sipua_ev *ev, bool stale)
{
	char nonce[AUTH_NONCE_LEN + 1], hdr[256];

	auth_nonce_new(b->nonces, sipua_now_ms(), nonce);
	snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", "
		 "algorithm=MD5, qop=\"auth\"%s\r\n", AUTH_REALM, nonce, stale ? ", stale=true" : "");
	atomic_fetch_add(&b->c_auth_challenged, 1);
	sipua_leg_respond(ev->leg, 401, NULL, 0, hdr);
}

static void refuse(struct b2bua *b, const struct sipua_ev *ev, const char *user,
		   const char *trunk, const char *why)
{
	char hdr[256];

	snprintf(hdr, sizeof(hdr), "Warning: 399 %s \"%s\"\r\n", b->sip_host, why);
	atomic_fetch_add(&b->c_auth_failed, 1);
	b2b_event(b, LOG_WARN, "auth.failed", NULL, trunk, NULL,
		  json_pack("{s:s,s:s?,s:s?}", "reason", why, "username", user,
			    "from", ev->in->from_user));
	sipua_leg_respond(ev->leg, 403, NULL, 0, hdr);
}

/* The value of the first Authorization header of the event's message, or "". */
static void authorization(const struct sipua_ev *ev, char *out, size_t len)
{
	char buf[2048] = "";
	const char *v, *end;

	out[0] = '\0';
	if (sipua_ev_header(ev, "Authorization", buf, sizeof(buf)) != 0)
		return;
	v = strchr(buf, ':');
	if (!v)
		return;
	v++;
	end = strstr(v, "\r\n");
	snprintf(out, len, "%.*s", end ? (int)(end - v) : (int)strlen(v), v);
}

/* The user part of a SIP URI string ("" if none). */
static void uri_user(const char *uri, char *out, size_t len)
{
	const char *p = strchr(uri, ':'), *at;

	out[0] = '\0';
	if (!p)
		return;
	p++;
	at = strchr(p, '@');
	if (at)
		snprintf(out, len, "%.*s", (int)(at - p), p);
}

bool call_auth_incoming(struct b2bua *b, const struct sipua_ev *ev, const struct trunk **who)
{
	const struct trunk *cands[MAX_CLAIMANTS], *t = NULL;
	struct auth_creds cr;
	char value[1024], user[128];
	size_t n;
	bool challenged = false;
	enum auth_result r;

	*who = ev->in->peer;
	n = route_identify_all(b->rt, (const struct sockaddr *)&ev->in->src, cands, MAX_CLAIMANTS);
	for (size_t i = 0; i < n; i++)
		challenged |= trunk_get_cfg(cands[i])->auth_inbound;
	if (!challenged)
		return false;   /* identified by its source alone */
	authorization(ev, value, sizeof(value));
	if (!value[0] || auth_parse(value, &cr) != 0) {
		challenge(b, ev, false);
		return true;
	}
	for (size_t i = 0; i < n && !t; i++) {
		const struct trunk_cfg *tc = trunk_get_cfg(cands[i]);

		if (tc->auth_inbound && strcmp(tc->auth_user, cr.username) == 0)
			t = cands[i];
	}
	if (!t) {
		refuse(b, ev, cr.username, NULL, "unknown username");
		return true;
	}
	if (strcmp(cr.realm, AUTH_REALM) != 0) {
		challenge(b, ev, false);
		return true;
	}
	r = auth_check(b->nonces, sipua_now_ms(), &cr, "INVITE", trunk_get_cfg(t)->auth_secret);
	switch (r) {
	case AUTH_OK:
		/* The digest covers the URI it names: a number there must be this
		 * request's (some clients, SIPp among them, name only our host). */
		uri_user(cr.uri, user, sizeof(user));
		if (user[0] && strcmp(user, ev->in->ruri_user) != 0) {
			refuse(b, ev, cr.username, trunk_get_cfg(t)->name,
			       "credentials for another request-URI");
			return true;
		}
		*who = t;
		return false;
	case AUTH_STALE:
	case AUTH_BAD_NONCE:
		challenge(b, ev, r == AUTH_STALE);
		return true;
	case AUTH_MALFORMED:
		challenge(b, ev, false);
		return true;
	case AUTH_MISMATCH:
	default:
		refuse(b, ev, cr.username, trunk_get_cfg(t)->name, "wrong credentials");
		return true;
	}
}
