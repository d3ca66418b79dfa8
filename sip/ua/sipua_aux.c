/*
 * sipua_aux.c — requests trunx sends outside calls: REGISTER for registration-based
 * trunks (refreshed by the stack before expiry, challenges answered with the trunk's
 * credentials) and OPTIONS to qualify a trunk (one request, one answer or a timeout).
 * Signalling thread only, like every sipua call.
 *
 * Their handles carry a struct sipua_leg marked `aux` as their magic, so the event
 * dispatch (sipua_event.c) hands their events here. Every object is on the agent's
 * aux list until it is done, and released without callbacks when the stack stops.
 */
#include "sipua_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>

#include "log.h"

#define AUTH_TRIES    2      /* challenges answered in a row before giving up */
#define UNREG_WAIT_MS 2000   /* for the registrar's answer to an un-REGISTER */

enum aux_kind { AUX_REG = 1, AUX_OPT };

struct sipua_aux {
	struct sipua_leg  leg;           /**< first: the handle's magic (leg.aux set) */
	enum aux_kind     kind;
	struct sipua_aux *next, *prev;   /**< the agent's aux list */
	char             *user, *secret; /**< digest credentials, or NULL */
	unsigned          tries;         /**< challenges answered since the last success */
	bool              stopping;      /**< REGISTER: un-registering, no callbacks */
	bool              registered;    /**< REGISTER: a 2xx came (something to undo) */
	sipua_reg_h      *rh;
	sipua_options_h  *oh;
	void             *arg;
	uint64_t          sent_ms;
	struct sipua_timer *timer;       /**< OPTIONS deadline */
};

static void aux_link(struct sipua *ua, struct sipua_aux *a)
{
	a->next = ua->aux;
	if (ua->aux)
		ua->aux->prev = a;
	ua->aux = a;
}

static void aux_free(struct sipua_aux *a)
{
	struct sipua *ua = a->leg.ua;

	if (a->prev)
		a->prev->next = a->next;
	else if (ua->aux == a)
		ua->aux = a->next;
	if (a->next)
		a->next->prev = a->prev;
	sipua_timer_cancel(a->timer);
	if (a->leg.nh) {
		nua_handle_bind(a->leg.nh, NULL);
		nua_handle_destroy(a->leg.nh);
	}
	free(a->user);
	free(a->secret);
	free(a);
}

bool sipua_aux_pending(const struct sipua *ua)
{
	return ua && ua->aux != NULL;
}

void sipua_aux_release_all(struct sipua *ua)
{
	while (ua->aux)
		aux_free(ua->aux);
}

static struct sipua_aux *aux_new(struct sipua *ua, enum aux_kind kind, const char *user,
				 const char *secret)
{
	struct sipua_aux *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->leg.ua = ua;
	a->leg.aux = true;
	a->kind = kind;
	if (user && user[0] && secret && secret[0]) {
		a->user = strdup(user);
		a->secret = strdup(secret);
		if (!a->user || !a->secret) {
			free(a->user);
			free(a->secret);
			free(a);
			return NULL;
		}
	}
	aux_link(ua, a);
	return a;
}

/* "Digest:"realm":user:secret" for the first challenge of a 401/407 (stack's format). */
bool sipua_auth_answer(nua_handle_t *nh, sip_t const *sip, const char *user,
		       const char *secret)
{
	msg_auth_t const *au = NULL;
	char realm[128] = "", cred[512];
	const char *r;

	if (!sip || !user || !secret)
		return false;
	au = sip->sip_www_authenticate ? (msg_auth_t const *)sip->sip_www_authenticate :
	     (msg_auth_t const *)sip->sip_proxy_authenticate;
	if (!au || !au->au_scheme || strcasecmp(au->au_scheme, "Digest") != 0)
		return false;
	r = msg_params_find(au->au_params, "realm=");
	if (!r || strlen(r) >= sizeof(realm) || strpbrk(r, "\r\n"))
		return false;
	snprintf(realm, sizeof(realm), "%s", r);   /* quotes kept: the stack wants them */
	if (snprintf(cred, sizeof(cred), "Digest:%s:%s:%s", realm, user, secret) >=
	    (int)sizeof(cred))
		return false;
	nua_authenticate(nh, NUTAG_AUTH(cred), TAG_END());
	return true;
}

/* ---- REGISTER ---- */

int sipua_reg_start(struct sipua *ua, const struct sipua_reg_cfg *cfg, sipua_reg_h *h,
		    void *arg, struct sipua_reg **rp)
{
	struct sipua_aux *a;
	char aor[512], expires[16];
	const char *host;

	if (!ua || !ua->nua || !cfg || !cfg->registrar || !cfg->aor_user || !h || !rp ||
	    ua->stopping)
		return EINVAL;
	host = strchr(cfg->registrar, ':');
	if (!host || strpbrk(cfg->aor_user, "@:;<>\" \r\n") || !cfg->aor_user[0])
		return EINVAL;
	a = aux_new(ua, AUX_REG, cfg->auth_user ? cfg->auth_user : cfg->aor_user,
		    cfg->auth_secret);
	if (!a)
		return ENOMEM;
	a->rh = h;
	a->arg = arg;
	/* The address of record: the account at the registrar's host. */
	snprintf(aor, sizeof(aor), "<sip:%s@%.*s>", cfg->aor_user,
		 (int)strcspn(host + 1, ";>"), host + 1);
	snprintf(expires, sizeof(expires), "%u", cfg->expires ? cfg->expires : 300);
	a->leg.nh = nua_handle(ua->nua, &a->leg, NUTAG_URL(cfg->registrar), SIPTAG_TO_STR(aor),
			       SIPTAG_FROM_STR(aor), TAG_END());
	if (!a->leg.nh) {
		aux_free(a);
		return ENOMEM;
	}
	nua_register(a->leg.nh, NUTAG_M_USERNAME(cfg->aor_user), SIPTAG_EXPIRES_STR(expires),
		     NUTAG_OUTBOUND("no-options-keepalive, no-validate"),
		     SIPTAG_USER_AGENT_STR(ua->cfg.user_agent), TAG_END());
	*rp = (struct sipua_reg *)a;
	h((struct sipua_reg *)a, SIPUA_REG_REGISTERING, 0, 0, arg);
	return 0;
}

/* A registrar that does not answer the un-REGISTER does not hold up a shutdown. */
static void unreg_timeout(void *arg)
{
	struct sipua_aux *a = arg;

	a->timer = NULL;
	aux_free(a);
}

void sipua_reg_stop(struct sipua_reg *r)
{
	struct sipua_aux *a = (struct sipua_aux *)r;

	if (!a || a->stopping)
		return;
	a->stopping = true;
	a->rh = NULL;
	if (a->leg.nh && a->registered && !a->leg.ua->stopping &&
	    sipua_timer_start(a->leg.ua, UNREG_WAIT_MS, unreg_timeout, a, &a->timer) == 0)
		nua_unregister(a->leg.nh, TAG_END());   /* freed on its answer, or after a while */
	else
		aux_free(a);   /* nothing registered: nothing to undo */
}

static unsigned granted_expires(sip_t const *sip)
{
	if (sip && sip->sip_contact && sip->sip_contact->m_expires)
		return (unsigned)strtoul(sip->sip_contact->m_expires, NULL, 10);
	if (sip && sip->sip_expires)
		return (unsigned)sip->sip_expires->ex_delta;
	return 0;
}

static void on_register(struct sipua_aux *a, nua_event_t event, int status, sip_t const *sip)
{
	if (event == nua_r_unregister) {
		if (status >= 200 || a->stopping)
			aux_free(a);
		return;
	}
	if (status < 200 || a->stopping)
		return;
	if ((status == 401 || status == 407) && a->user && a->tries < AUTH_TRIES &&
	    sipua_auth_answer(a->leg.nh, sip, a->user, a->secret)) {
		a->tries++;
		return;
	}
	if (status < 300) {
		a->tries = 0;
		a->registered = true;
		if (a->rh)
			a->rh((struct sipua_reg *)a, SIPUA_REG_REGISTERED, status,
			      granted_expires(sip), a->arg);
		return;
	}
	/* Refused (or no answer): the owner decides when to try again. */
	if (a->rh)
		a->rh((struct sipua_reg *)a, SIPUA_REG_FAILED, status, 0, a->arg);
}

/* ---- OPTIONS ---- */

static void opt_done(struct sipua_aux *a, int status, bool local)
{
	sipua_options_h *h = a->oh;
	void *arg = a->arg;
	unsigned rtt = (unsigned)(sipua_now_ms() - a->sent_ms);

	a->oh = NULL;
	aux_free(a);
	if (h)
		h(status, local, rtt, arg);
}

static void opt_timeout(void *arg)
{
	struct sipua_aux *a = arg;

	a->timer = NULL;
	opt_done(a, 408, true);
}

int sipua_options(struct sipua *ua, const char *uri, unsigned timeout_ms, sipua_options_h *h,
		  void *arg, struct sipua_opt **op)
{
	struct sipua_aux *a;
	char to[512];

	if (!ua || !ua->nua || !uri || !h || ua->stopping)
		return EINVAL;
	a = aux_new(ua, AUX_OPT, NULL, NULL);
	if (!a)
		return ENOMEM;
	a->oh = h;
	a->arg = arg;
	snprintf(to, sizeof(to), "<%s>", uri);
	a->leg.nh = nua_handle(ua->nua, &a->leg, NUTAG_URL(uri), SIPTAG_TO_STR(to), TAG_END());
	if (!a->leg.nh || sipua_timer_start(ua, timeout_ms ? timeout_ms : 2000, opt_timeout, a,
					     &a->timer)) {
		aux_free(a);
		return ENOMEM;
	}
	a->sent_ms = sipua_now_ms();
	nua_options(a->leg.nh, SIPTAG_USER_AGENT_STR(ua->cfg.user_agent), TAG_END());
	if (op)
		*op = (struct sipua_opt *)a;
	return 0;
}

void sipua_options_cancel(struct sipua_opt *o)
{
	struct sipua_aux *a = (struct sipua_aux *)o;

	if (a) {
		a->oh = NULL;
		aux_free(a);
	}
}

/* ---- events ---- */

void sipua_aux_event(struct sipua *ua, nua_event_t event, int status, nua_t *nua,
		     struct sipua_leg *leg, sip_t const *sip, bool local)
{
	struct sipua_aux *a = (struct sipua_aux *)leg;

	(void)ua;
	(void)nua;
	switch (event) {
	case nua_r_register:
	case nua_r_unregister:
		if (a->kind == AUX_REG)
			on_register(a, event, status, sip);
		break;
	case nua_r_options:
		if (a->kind == AUX_OPT && status >= 200)
			opt_done(a, status, local);
		break;
	default:
		break;
	}
}
