/*
 * b2bua_xfer_ctl.c — the control plane's transfer request (b2bua_transfer): posted to
 * the signalling thread, which finds the answered call, builds the Refer-To from the
 * destination (checked again here: nothing that could break out of the header or add
 * headers to the transferee's INVITE), sends the REFER on the leg and answers. The
 * progress that follows is b2bua_xfer.c's; mode bridge is b2bua_rebridge.c's. Kept
 * apart from them so that the call layer's tests, which replace the SIP stack, do not
 * link the REFER sender.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

struct xfer_job {
	struct b2bua         *b;
	struct b2bua_xfer_req req;
	b2bua_reply_h        *h;
	void                 *arg;
};

/* A sip:/sips: URI that can sit in <...> of a Refer-To as it is: printable, no
 * spaces, no characters that end the name-addr, no ?headers (they would be copied
 * into the transferee's INVITE), something after the scheme. */
static bool uri_ok(const char *s)
{
	size_t start = strncmp(s, "sip:", 4) == 0 ? 4 : strncmp(s, "sips:", 5) == 0 ? 5 : 0;
	size_t n = strlen(s);

	if (!start || n <= start || n >= B2B_XFER_URI_MAX)
		return false;
	for (size_t i = start; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch > '~' || strchr("<>\"\\?,", ch))
			return false;
	}
	return s[start] != '@' && s[n - 1] != '@';
}

/* The host[:port] of the trunk's uri ("sip:[user@]host:port;params"). */
static bool trunk_hostport(const struct trunk *t, char *out, size_t len)
{
	const char *u = t ? trunk_get_cfg(t)->uri : "";
	const char *p = strncmp(u, "sips:", 5) == 0 ? u + 5 : strncmp(u, "sip:", 4) == 0 ? u + 4 :
			NULL;
	const char *at;
	size_t n;

	if (!p)
		return false;
	at = strchr(p, '@');
	if (at)
		p = at + 1;
	n = strcspn(p, ";?>");
	if (n == 0 || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = 0;
	return true;
}

static struct call *find(struct b2bua *b, const char *id)
{
	for (struct call *c = b->calls; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

/* Starts the REFER; 0 or an errno with *why. */
static int start(struct call *c, const struct b2bua_xfer_req *r, struct b2b_xfer **xp,
		 const char **why)
{
	struct b2bua *b = c->b;
	struct sipua_leg *leg = call_leg(c, r->leg ? 1 : 0);
	const struct trunk *t = r->leg ? c->trunk_out : c->trunk_in;
	struct b2b_xfer *x;
	char refer_to[B2B_XFER_URI_MAX + 4], by[CONF_HOST_MAX + 32], hp[128];
	int err;

	if (r->mode != B2BUA_XFER_REFER) {
		*why = "unknown transfer mode";
		return ENOTSUP;
	}
	if (c->state != CALL_ANSWERED || !c->a || !c->b_leg || !leg || !c->ms ||
	    c->ms_closing) {
		*why = "the call is not answered (or is ending)";
		return ENOTCONN;
	}
	if (c->xfer || c->offer_busy) {
		*why = c->xfer ? "a transfer of this call is in progress" :
				 "a media renegotiation is in progress: retry";
		return EBUSY;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return ENOMEM;
	x->side = r->leg ? 1 : 0;
	snprintf(x->to, sizeof(x->to), "%s", r->to);
	if (b2b_is_e164(r->to)) {
		if (!trunk_hostport(t, hp, sizeof(hp))) {
			free(x);
			*why = "an E.164 number needs the leg's trunk to have a uri: give a sip: URI";
			return EINVAL;
		}
		snprintf(x->target, sizeof(x->target), "sip:%.20s@%s", r->to, hp);
	} else if (uri_ok(r->to)) {
		snprintf(x->target, sizeof(x->target), "%s", r->to);
	} else {
		free(x);
		*why = "to: an E.164 number or a sip:/sips: URI without spaces, <>\"\\,? characters";
		return EINVAL;
	}
	snprintf(refer_to, sizeof(refer_to), "<%s>", x->target);
	snprintf(by, sizeof(by), "<sip:trunx@%s>", b->sip_host);
	err = sipua_leg_refer(leg, refer_to, by);
	if (err) {
		free(x);
		*why = err == EBUSY ? "a REFER on this leg is still running" :
		       err == ENOTCONN ? "the leg is not confirmed (or is ending)" :
					 "the REFER could not be built";
		return err == ENOTCONN || err == EBUSY ? err : EINVAL;
	}
	if (sipua_timer_start(b->ua, B2B_XFER_WAIT_MS, b2b_xfer_timeout, c, &x->timer) != 0)
		x->timer = NULL;   /* the stack's own NOTIFY timeout still ends it */
	*xp = x;
	return 0;
}

static void xfer_run(void *arg)
{
	struct xfer_job *j = arg;
	const struct b2bua_xfer_req *r = &j->req;
	struct call *c = find(j->b, r->call_id);
	struct b2b_xfer *x = NULL;
	const char *why = "no call with that id";
	int err;
	json_t *o;
	char *s;

	if (c && r->mode == B2BUA_XFER_BRIDGE) {
		b2b_rebridge_start(c, r, j->h, j->arg);   /* b2bua_rebridge.c answers */
		free(j);
		return;
	}
	err = c ? start(c, r, &x, &why) : ENOENT;

	if (!err) {
		c->xfer = x;
		call_log(LOG_INFO, "call.transfer_start", c, x->side ? "b" : "a", "REFER to %s",
			 x->target);
		b2b_xfer_report(c, "requested", 0, NULL);
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", r->call_id, "leg",
			      x->side ? "b" : "a", "mode", "refer", "to", x->to, "refer_to",
			      x->target, "result", "referring");
	} else {
		o = json_pack("{s:s,s:s}", "id", r->call_id, "message",
			      err == ENOMEM ? "out of memory" : why);
	}
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	j->h(err, s, j->arg);
	free(j);
}

int b2bua_transfer(struct b2bua *b, const struct b2bua_xfer_req *req, b2bua_reply_h *h,
		   void *arg)
{
	struct xfer_job *j;
	int err;

	if (!b || !req || !h || !memchr(req->call_id, 0, sizeof(req->call_id)) ||
	    !memchr(req->to, 0, sizeof(req->to)))
		return EINVAL;
	j = malloc(sizeof(*j));
	if (!j)
		return ENOMEM;
	j->b = b;
	j->req = *req;
	j->h = h;
	j->arg = arg;
	err = sipua_post(b->ua, xfer_run, j);
	if (err) {
		free(j);
		return err == ESHUTDOWN ? ESHUTDOWN : EAGAIN;
	}
	return 0;
}
