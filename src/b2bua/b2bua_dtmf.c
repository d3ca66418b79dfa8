/*
 * b2bua_dtmf.c — DTMF interworking at the call level (signalling thread): each leg's
 * way of carrying digits comes from its trunk (`dtmf = rfc4733 | inband | info`) and
 * goes to the media session with the negotiated payload types; digits the media
 * worker reports (MEDIA_EV_DTMF) and digits received by SIP INFO are logged as
 * `call.dtmf` events (leg, digit, duration, how they came) and sent on toward the
 * other leg in its own way: by INFO (in order, one at a time) or through the media
 * session (RFC 4733 packets or tones). b2bua_send_digits() sends digits on a leg for
 * the control plane.
 *
 * The `call.dtmf` record goes through b2b_event(), so whatever the data plane hooks
 * there (hooks.event: the events table, Redis, webhooks) receives every digit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "b2bua_int.h"
#include "log.h"

enum { SIDE_A = MEDIA_SIDE_A, SIDE_B = MEDIA_SIDE_B };

static const char *const via_names[] = {"rfc4733", "inband", "info", "api"};

enum dtmf_via { VIA_RFC4733 = 0, VIA_INBAND, VIA_INFO, VIA_API };

enum media_dtmf_mode b2b_trunk_dtmf(const struct trunk_cfg *t)
{
	switch (t->dtmf) {
	case TRUNK_DTMF_INBAND:
		return MEDIA_DTMF_INBAND;
	case TRUNK_DTMF_INFO:
		return MEDIA_DTMF_INFO;
	default:
		return MEDIA_DTMF_RFC4733;
	}
}

/* The way a leg's trunk carries digits (RFC 4733 for a leg without a trunk). */
static enum media_dtmf_mode leg_mode(const struct call *c, int side)
{
	const struct trunk *t = side == SIDE_A ? c->trunk_in : c->trunk_out;

	if (!t)
		return MEDIA_DTMF_RFC4733;
	return b2b_trunk_dtmf(trunk_get_cfg(t));
}

void b2b_dtmf_media_params(const struct b2b_media *m, int side, struct media_dtmf_params *dp)
{
	const struct b2b_choice *ch = &m->choice[side];
	bool g711 = ch->valid && ch->rate == 8000 && (strcasecmp(ch->name, "PCMU") == 0 ||
						       strcasecmp(ch->name, "PCMA") == 0);
	/* in-band on Opus: found in (and generated into) the decoded audio */
	bool opus = ch->valid && strcasecmp(ch->name, "opus") == 0;

	memset(dp, 0, sizeof(*dp));
	dp->te_pt = dp->te_pt_rx = dp->audio_pt = dp->audio_pt_rx = MEDIA_PT_NONE;
	if (!ch->valid)
		return;
	dp->enabled = true;
	dp->mode = (enum media_dtmf_mode)m->dtmf[side];
	dp->alaw = g711 && strcasecmp(ch->name, "PCMA") == 0;
	dp->opus = opus;
	dp->ptime = (uint16_t)(ch->ptime && ch->ptime <= 60 ? ch->ptime : 20);
	/* The negotiated codecs give each side's own payload types (a relay's choice
	 * holds the answerer's numbers only). */
	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct b2b_codec *k = &m->codecs[i];

		if (k->pt[side] > 127)
			continue;
		if (strcasecmp(k->name, "telephone-event") == 0 && dp->te_pt > 127) {
			dp->te_pt = k->pt[side];
			dp->te_pt_rx = k->sent[side] <= 127 ? k->sent[side] : k->pt[side];
			dp->te_rate = k->rate;
		} else if (dp->audio_pt > 127 && ((g711 && k->rate == 8000) || opus) &&
			   strcasecmp(k->name, ch->name) == 0) {
			dp->audio_pt = k->pt[side];
			dp->audio_pt_rx = k->sent[side] <= 127 ? k->sent[side] : k->pt[side];
		}
	}
}

uint8_t b2b_dtmf_mode(const struct call *c, int side)
{
	return (uint8_t)leg_mode(c, side);
}

static void log_digit(struct call *c, int side, char digit, unsigned duration_ms,
		      enum dtmf_via via, bool timed_out)
{
	json_t *d = json_pack("{s:s,s:s%,s:i,s:s}", "leg", side == SIDE_A ? "a" : "b",
			      "digit", &digit, (size_t)1, "duration_ms", (json_int_t)duration_ms,
			      "source", via_names[via]);

	if (d && timed_out)
		json_object_set_new(d, "end_lost", json_true());
	b2b_event(c->b, LOG_INFO, "call.dtmf", c, NULL, NULL, d);
}

/* Sends a digit toward side `to` in that leg's way. */
static int send_toward(struct call *c, int to, char digit, unsigned duration_ms)
{
	struct sipua_leg *leg = call_leg(c, to);

	if (leg_mode(c, to) == MEDIA_DTMF_INFO)
		return leg ? sipua_leg_info_dtmf(leg, digit, duration_ms) : ENOTCONN;
	if (!c->ms || c->ms_closing)
		return ENOTCONN;
	return media_session_send_digit(c->ms, to == SIDE_A ? MEDIA_SIDE_A : MEDIA_SIDE_B,
					digit, duration_ms);
}

void call_on_dtmf(struct call *c, const struct media_dtmf_event *d)
{
	int side = d->side == MEDIA_SIDE_A ? SIDE_A : SIDE_B;

	log_digit(c, side, d->digit, d->duration_ms, d->inband ? VIA_INBAND : VIA_RFC4733,
		  d->timed_out);
	/* The media session converts toward RFC 4733 and in-band legs itself. */
	if (leg_mode(c, !side) == MEDIA_DTMF_INFO && c->state == CALL_ANSWERED) {
		int err = send_toward(c, !side, d->digit, d->duration_ms);

		if (err)
			call_log(LOG_WARN, "call.dtmf_lost", c, side ? "a" : "b",
				 "digit %c not sent by INFO: %s", d->digit, strerror(err));
	}
}

void call_on_info(struct call *c, int side, const struct sipua_ev *ev)
{
	int err;

	log_digit(c, side, ev->dtmf_digit, ev->dtmf_duration_ms, VIA_INFO, false);
	if (c->state != CALL_ANSWERED)
		return;
	err = send_toward(c, !side, ev->dtmf_digit, ev->dtmf_duration_ms);
	if (err)
		call_log(LOG_WARN, "call.dtmf_lost", c, side ? "a" : "b",
			 "digit %c from INFO not sent on: %s", ev->dtmf_digit, strerror(err));
}

/* ---- b2bua_send_digits: control thread -> signalling thread ---- */

struct digits_job {
	struct b2bua  *b;
	char           call_id[CALL_ID_MAX];
	int            side;
	char           digits[B2BUA_DIGITS_MAX + 1];
	unsigned       duration_ms;
	b2bua_reply_h *h;
	void          *arg;
};

static void digits_run(void *arg)
{
	struct digits_job *j = arg;
	struct call *c;
	int err = 0;
	size_t sent = 0;
	json_t *o;
	char *s;

	for (c = j->b->calls; c; c = c->next)
		if (strcmp(c->id, j->call_id) == 0 && (c->a || c->b_leg))
			break;
	if (!c)
		err = ENOENT;
	else if (c->state != CALL_ANSWERED)
		err = ENOTCONN;
	for (const char *p = j->digits; !err && *p; p++) {
		err = send_toward(c, j->side, *p, j->duration_ms);
		if (!err) {
			log_digit(c, j->side, *p, j->duration_ms, VIA_API, false);
			sent++;
		}
	}
	o = json_pack("{s:s,s:s,s:i,s:s}", "id", j->call_id, "leg", j->side ? "b" : "a",
		      "sent", (json_int_t)sent,
		      "result", !err ? "sent" : err == ENOENT ? "not found" :
		      err == ENOTCONN ? "not answered" : strerror(err));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (j->h)
		j->h(err, s, j->arg);
	else
		free(s);
	free(j);
}

int b2bua_send_digits(struct b2bua *b, const char *call_id, char leg, const char *digits,
		      unsigned duration_ms, b2bua_reply_h *h, void *arg)
{
	struct digits_job *j;
	size_t n;

	if (!b || !call_id || !digits || (leg != 'a' && leg != 'b'))
		return EINVAL;
	n = strlen(digits);
	if (!n || n > B2BUA_DIGITS_MAX || strlen(call_id) >= CALL_ID_MAX ||
	    duration_ms > 10000)
		return EINVAL;
	for (size_t i = 0; i < n; i++) {
		char d = digits[i];

		if (!((d >= '0' && d <= '9') || d == '*' || d == '#' || (d >= 'A' && d <= 'D')))
			return EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->b = b;
	memcpy(j->call_id, call_id, strlen(call_id) + 1);
	memcpy(j->digits, digits, n + 1);
	j->side = leg == 'a' ? SIDE_A : SIDE_B;
	j->duration_ms = duration_ms;
	j->h = h;
	j->arg = arg;
	if (sipua_post(b->ua, digits_run, j) != 0) {
		free(j);
		return EAGAIN;
	}
	return 0;
}
