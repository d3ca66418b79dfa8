/*
 * b2bua_qualify.c — the live state of trunks and peers (database mode), kept by name
 * across routing snapshots on the signalling thread:
 *  - qualify: an OPTIONS every qualify_frequency seconds; no answer (or only our own
 *    stack's, a timeout or an ICMP error) marks the trunk down, any answer from it up;
 *    each change is a trunk.down / trunk.up event; routing skips trunks that are down;
 *  - registration: REGISTER for registration-based trunks, refreshed by the stack
 *    before expiry; a refusal or silence is retried with an exponential back-off (1 s
 *    to 5 min), and a trunk that is not registered is not routed to.
 * The state of a trunk whose settings change is started over; that of a trunk gone
 * from the snapshot is stopped (un-REGISTER) and freed. Each change of a trunk's
 * overall state (up, down, unknown) goes to hooks.trunk_state: the control thread's
 * view of the trunks (/metrics), which never asks this thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

#define QUALIFY_TIMEOUT_MAX_MS 2000
#define REG_BACKOFF_MIN_MS     1000
#define REG_BACKOFF_MAX_MS     300000

enum qstate { Q_OFF = 0, Q_UNKNOWN, Q_UP, Q_DOWN };
enum rstate { R_OFF = 0, R_REGISTERING, R_REGISTERED, R_FAILED };

struct tstate {
	struct tstate      *next;
	struct b2bua       *b;
	char                name[ROUTE_NAME_MAX];
	char                tenant[ROUTE_NAME_MAX];
	bool                seen;         /**< in the snapshot being synced */
	/* qualify */
	char                qkey[ROUTE_URI_MAX + 16];   /**< uri and frequency in effect */
	unsigned            qualify_s;
	char                uri[ROUTE_URI_MAX];
	enum qstate         q;
	unsigned            rtt_ms;
	int                 last_status;
	uint64_t            changed_ms;
	struct sipua_opt   *opt;
	struct sipua_timer *qtimer;
	/* registration */
	char                rkey[ROUTE_URI_MAX + 256];  /**< what the registration uses */
	enum rstate         r;
	int                 r_status;
	unsigned            r_expires;
	uint64_t            r_since;
	unsigned            r_backoff_ms;
	struct sipua_reg   *reg;
	struct sipua_timer *rtimer;
	struct trunk_cfg    cfg;          /**< the settings in effect (registration) */
	bool                reg_on;       /**< registration configured */
	bool                reg_known;    /**< a registration attempt has ended */
	const char         *pub;          /**< the state last given to hooks.trunk_state */
};

static const char *qname(enum qstate q)
{
	return q == Q_UP ? "up" : q == Q_DOWN ? "down" : q == Q_UNKNOWN ? "unknown" : "off";
}

static const char *rname(enum rstate r)
{
	return r == R_REGISTERED ? "registered" : r == R_REGISTERING ? "registering" :
	       r == R_FAILED ? "failed" : NULL;
}

static struct tstate *find(struct b2bua *b, const char *name)
{
	for (struct tstate *s = b->tstates; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* The trunk's overall state, as routing sees it (b2b_trunk_usable), to the hook. */
static void publish(struct tstate *s)
{
	struct b2bua *b = s->b;
	const char *st;

	if (s->q == Q_DOWN || (s->reg_on && s->reg_known && s->r != R_REGISTERED))
		st = "down";
	else if (s->q == Q_UNKNOWN || (s->reg_on && !s->reg_known))
		st = "unknown";
	else
		st = "up";
	if (st == s->pub)
		return;
	s->pub = st;
	if (b->hooks.trunk_state)
		b->hooks.trunk_state(s->name, st, b->hooks.arg);
}

/* ---- qualify ---- */

static void qualify_send(void *arg);

static void qualify_schedule(struct tstate *s, unsigned ms)
{
	sipua_timer_cancel(s->qtimer);
	s->qtimer = NULL;
	sipua_timer_start(s->b->ua, ms, qualify_send, s, &s->qtimer);
}

static void set_q(struct tstate *s, enum qstate q, int status, bool local)
{
	struct b2bua *b = s->b;
	enum qstate old = s->q;

	s->q = q;
	s->last_status = status;
	if (old == q || (old == Q_UNKNOWN && q == Q_UP))
		return;   /* first answer of a fresh trunk: no event */
	s->changed_ms = sipua_now_ms();
	if (q == Q_DOWN)
		b2b_event(b, LOG_WARN, "trunk.down", NULL, s->name, s->tenant[0] ? s->tenant : NULL,
			  json_pack("{s:s,s:i,s:b,s:s}", "reason", local ? "no answer to OPTIONS" :
				    "refused OPTIONS", "status", status, "local", local, "uri",
				    s->uri));
	else if (q == Q_UP)
		b2b_event(b, LOG_INFO, "trunk.up", NULL, s->name, s->tenant[0] ? s->tenant : NULL,
			  json_pack("{s:i,s:i,s:s}", "status", status, "rtt_ms", (int)s->rtt_ms,
				    "uri", s->uri));
}

static void on_options(int status, bool local, unsigned rtt_ms, void *arg)
{
	struct tstate *s = arg;

	s->opt = NULL;
	s->rtt_ms = rtt_ms;
	/* Any answer of its own means alive (even 405 or 503); ours means silence. */
	set_q(s, local ? Q_DOWN : Q_UP, status, local);
	publish(s);
	qualify_schedule(s, s->qualify_s * 1000u);
}

static void qualify_send(void *arg)
{
	struct tstate *s = arg;
	unsigned timeout = s->qualify_s * 1000u;

	s->qtimer = NULL;
	if (timeout > QUALIFY_TIMEOUT_MAX_MS)
		timeout = QUALIFY_TIMEOUT_MAX_MS;
	if (sipua_options(s->b->ua, s->uri, timeout, on_options, s, &s->opt) != 0)
		qualify_schedule(s, s->qualify_s * 1000u);
}

static void qualify_stop(struct tstate *s)
{
	sipua_timer_cancel(s->qtimer);
	s->qtimer = NULL;
	sipua_options_cancel(s->opt);
	s->opt = NULL;
	s->q = Q_OFF;
}

/* ---- registration ---- */

static void reg_start(void *arg);

static void on_reg(struct sipua_reg *r, enum sipua_reg_state st, int status, unsigned expires,
		   void *arg)
{
	struct tstate *s = arg;
	struct b2bua *b = s->b;
	enum rstate old = s->r;

	(void)r;
	s->r_status = status;
	if (st == SIPUA_REG_REGISTERING) {
		s->r = R_REGISTERING;
		return;
	}
	if (st == SIPUA_REG_REGISTERED) {
		s->r = R_REGISTERED;
		s->reg_known = true;
		publish(s);
		s->r_expires = expires;
		s->r_since = sipua_now_ms();
		s->r_backoff_ms = REG_BACKOFF_MIN_MS;
		if (old != R_REGISTERED)
			b2b_event(b, LOG_INFO, "trunk.registered", NULL, s->name, NULL,
				  json_pack("{s:i,s:i}", "status", status, "expires", (int)expires));
		return;
	}
	/* Failed: try again later, from scratch. */
	s->r = R_FAILED;
	s->r_since = sipua_now_ms();
	s->reg_known = true;
	publish(s);
	if (old != R_FAILED)
		b2b_event(b, LOG_WARN, "trunk.register_failed", NULL, s->name, NULL,
			  json_pack("{s:i,s:i}", "status", status, "retry_ms",
				    (int)s->r_backoff_ms));
	sipua_reg_stop(s->reg);
	s->reg = NULL;
	sipua_timer_cancel(s->rtimer);
	sipua_timer_start(b->ua, s->r_backoff_ms, reg_start, s, &s->rtimer);
	s->r_backoff_ms = s->r_backoff_ms * 2 > REG_BACKOFF_MAX_MS ? REG_BACKOFF_MAX_MS :
			  s->r_backoff_ms * 2;
}

static void reg_start(void *arg)
{
	struct tstate *s = arg;
	struct sipua_reg_cfg rc = {
		.registrar = s->cfg.uri, .aor_user = s->cfg.auth_user,
		.auth_user = s->cfg.auth_user, .auth_secret = s->cfg.auth_secret,
		.expires = s->cfg.register_expires,
	};

	s->rtimer = NULL;
	if (sipua_reg_start(s->b->ua, &rc, on_reg, s, &s->reg) != 0) {
		s->r = R_FAILED;
		s->reg_known = true;
		publish(s);
		sipua_timer_start(s->b->ua, s->r_backoff_ms, reg_start, s, &s->rtimer);
	}
}

static void reg_stop(struct tstate *s)
{
	sipua_timer_cancel(s->rtimer);
	s->rtimer = NULL;
	sipua_reg_stop(s->reg);
	s->reg = NULL;
	s->r = R_OFF;
}

/* ---- sync with a snapshot ---- */

static void tstate_free(struct b2bua *b, struct tstate *s)
{
	struct tstate **pp = &b->tstates;

	qualify_stop(s);
	reg_stop(s);
	if (s->pub && b->hooks.trunk_state)
		b->hooks.trunk_state(s->name, NULL, b->hooks.arg);
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	free(s);
}

void b2b_trunks_sync(struct b2bua *b)
{
	size_t n = route_table_trunk_count(b->rt);

	for (struct tstate *s = b->tstates; s; s = s->next)
		s->seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct trunk_cfg *tc = trunk_get_cfg(route_table_trunk_at(b->rt, i));
		bool qualify = tc->qualify_s && tc->uri[0] && tc->status == TRUNK_ACTIVE;
		bool reg = tc->registration && tc->uri[0] && tc->auth_user[0] &&
			   tc->status != TRUNK_INACTIVE;
		char qkey[sizeof(((struct tstate *)0)->qkey)];
		char rkey[sizeof(((struct tstate *)0)->rkey)];
		struct tstate *s = find(b, tc->name);

		if (!qualify && !reg) {
			if (s)
				s->seen = false;   /* nothing to keep: freed below */
			continue;
		}
		if (!s) {
			s = calloc(1, sizeof(*s));
			if (!s)
				continue;
			s->b = b;
			snprintf(s->name, sizeof(s->name), "%s", tc->name);
			s->next = b->tstates;
			b->tstates = s;
		}
		s->seen = true;
		snprintf(s->tenant, sizeof(s->tenant), "%s", tc->tenant);
		snprintf(qkey, sizeof(qkey), "%s|%u", tc->uri, qualify ? tc->qualify_s : 0);
		if (strcmp(qkey, s->qkey) != 0) {
			qualify_stop(s);
			snprintf(s->qkey, sizeof(s->qkey), "%s", qkey);
			snprintf(s->uri, sizeof(s->uri), "%s", tc->uri);
			s->qualify_s = qualify ? tc->qualify_s : 0;
			if (qualify) {
				s->q = Q_UNKNOWN;
				qualify_schedule(s, 1);
			}
		}
		snprintf(rkey, sizeof(rkey), "%s|%s|%s|%u|%d", tc->uri, tc->auth_user,
			 tc->auth_secret, tc->register_expires, reg);
		if (strcmp(rkey, s->rkey) != 0) {
			reg_stop(s);
			snprintf(s->rkey, sizeof(s->rkey), "%s", rkey);
			s->cfg = *tc;
			s->r_backoff_ms = REG_BACKOFF_MIN_MS;
			s->reg_on = reg;
			s->reg_known = false;
			if (reg)
				reg_start(s);
		}
		publish(s);
	}
	for (struct tstate *s = b->tstates, *next; s; s = next) {
		next = s->next;
		if (!s->seen)
			tstate_free(b, s);
	}
}

void b2b_trunks_stop(struct b2bua *b)
{
	while (b->tstates)
		tstate_free(b, b->tstates);
}

bool b2b_trunk_usable(const struct trunk *t, void *arg)
{
	struct b2bua *b = arg;
	const struct trunk_cfg *tc = trunk_get_cfg(t);
	struct tstate *s = find(b, tc->name);

	if (!s)
		return true;
	if (s->q == Q_DOWN)
		return false;
	if (tc->registration && s->r != R_REGISTERED)
		return false;
	return true;
}

void b2b_trunk_state_json(struct b2bua *b, const struct trunk *t, json_t *o)
{
	const struct trunk_cfg *tc = trunk_get_cfg(t);
	struct tstate *s = find(b, tc->name);
	uint64_t now = sipua_now_ms();

	json_object_set_new(o, "qualify", json_string(s ? qname(s->q) : "off"));
	if (s && s->q != Q_OFF && s->q != Q_UNKNOWN)
		json_object_set_new(o, "rtt_ms", json_integer(s->rtt_ms));
	if (s && s->r != R_OFF) {
		char txt[96];

		if (s->r == R_REGISTERED && s->r_expires)
			snprintf(txt, sizeof(txt), "registered (%u s left)",
				 (unsigned)(s->r_expires - ((now - s->r_since) / 1000 <
					    s->r_expires ? (now - s->r_since) / 1000 : s->r_expires)));
		else if (s->r == R_FAILED)
			snprintf(txt, sizeof(txt), "failed (%d), retrying", s->r_status);
		else
			snprintf(txt, sizeof(txt), "%s", rname(s->r));
		json_object_set_new(o, "registration", json_string(txt));
	}
}
