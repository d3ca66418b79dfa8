/*
 * b2bua_policy.c — the B2BUA's small pure decisions: how B's failures map to what A
 * is told, which headers may cross from one leg to the other, Max-Forwards, the
 * new-call rate window, what an E.164 destination is, and the INVITE of a leg trunx
 * places itself to a route target. No I/O, no state beyond the arguments.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "b2bua_int.h"

int b2b_map_failure(int status, bool local, bool got_provisional)
{
	/* The stack made the answer up: B never answered (timer B, ICMP, transport). */
	if (local)
		return got_provisional ? 480 : 408;
	if (status == 401 || status == 407)
		return 403;   /* B's challenge is for us, never for A */
	if (status == 503)
		return 500;   /* A must not take it as our own overload */
	if (status >= 300 && status < 400)
		return 480;   /* redirects are not followed, and B's Contact is not relayed */
	if (status < 300 || status > 699)
		return 500;
	return status;
}

/* Headers the stack writes itself or that describe the other leg's routing and
 * transport: never copied, whatever the allow-list says. */
static const char *const never_copied[] = {
	"Via", "v", "Route", "Record-Route", "Contact", "m", "Call-ID", "i", "CSeq", "From",
	"f", "To", "t", "Max-Forwards", "Content-Length", "l", "Content-Type", "c",
	"Content-Encoding", "e", "Content-Disposition", "Supported", "k", "Require",
	"Proxy-Require", "Allow", "Session-Expires", "x", "Min-SE", "RSeq", "RAck",
	"Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
	"User-Agent", "Server", "Path", "Service-Route",
};

/* Identity assertions: only a trusted trunk may make them. */
static const char *const identity[] = {
	"P-Asserted-Identity", "P-Preferred-Identity", "Privacy", "Remote-Party-ID",
	"Identity", "y",
};

bool b2b_header_allowed(const struct trunk_cfg *t, const char *name)
{
	bool listed = false;

	if (!t || !name || !name[0])
		return false;
	for (size_t i = 0; i < sizeof(never_copied) / sizeof(never_copied[0]); i++) {
		if (strcasecmp(name, never_copied[i]) == 0)
			return false;
	}
	for (size_t i = 0; i < t->n_pass_headers; i++) {
		if (strcasecmp(name, t->pass_headers[i]) == 0) {
			listed = true;
			break;
		}
	}
	if (!listed)
		return false;
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
		if (strcasecmp(name, identity[i]) == 0)
			return t->trusted;
	}
	return true;
}

int b2b_max_forwards(int received, unsigned cap)
{
	int mf;

	if (received == 0)
		return -1;
	if (received < 0)
		received = 70;
	mf = received - 1;
	if (cap && (unsigned)mf > cap)
		mf = (int)cap;
	return mf;
}

bool b2b_is_e164(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

void b2b_target_invite(const struct b2bua *b, const struct route_target *t,
		       const char *caller, const char *sdp, size_t sdp_len,
		       char *from_uri, size_t from_len, struct sipua_invite *inv)
{
	const struct trunk_cfg *tc = t->trunk ? trunk_get_cfg(t->trunk) : NULL;

	memset(inv, 0, sizeof(*inv));
	snprintf(from_uri, from_len, "sip:%s@%s", t->caller[0] ? t->caller : caller,
		 b->sip_host);
	inv->ruri = t->ruri;
	inv->from_uri = from_uri;
	inv->to_uri = t->ruri;
	inv->sdp = sdp;
	inv->sdp_len = sdp_len;
	inv->max_forwards = b2b_max_forwards(-1, b->sip.max_forwards);
	inv->policy.min_se = 90;
	inv->policy.rel100 = SIPUA_REL100_SUPPORTED;
	if (tc && tc->auth_user[0] && tc->auth_secret[0]) {
		inv->auth_user = tc->auth_user;
		inv->auth_secret = tc->auth_secret;
	}
}

bool b2b_rate_admit(struct b2b_rate *r, uint64_t now_ms, unsigned max_per_s)
{
	uint64_t s = now_ms / 1000;

	if (s != r->window_s) {
		r->window_s = s;
		r->count = 0;
	}
	if (max_per_s && r->count >= max_per_s)
		return false;
	r->count++;
	return true;
}
