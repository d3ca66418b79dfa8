/*
 * b2bua_offer.c — offers in the middle of a call, both directions: a re-INVITE or
 * UPDATE with SDP on one leg is relayed to the other as a re-INVITE with the offer
 * rewritten, and the answer comes back rewritten; refreshes and offerless re-INVITEs
 * are answered with our current SDP; an answer in an ACK updates the media session,
 * and when it changes the direction (a hold answered in the ACK of an offerless
 * re-INVITE) it is relayed to the other leg as an offer whose answer stays with trunx.
 * One offer at a time per call (a second one gets 491). An offer its sender cancels is
 * cancelled on the other leg; if that leg took it anyway (or its answer cannot be
 * relayed), trunx offers it back the description it had, so the two legs and the media
 * engine always agree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

enum { SIDE_A = MEDIA_SIDE_A, SIDE_B = MEDIA_SIDE_B };

/* A direction change from an ACK meeting 491 is offered again this many times, after
 * 2.1-4 s each (RFC 3261 14.1: trunx owns the Call-ID of the leg it re-INVITEs). */
#define ACK_DIR_TRIES 3

static void ack_dir_drop(struct call *c);
static void ack_dir_resume(struct call *c);
static int ack_dir_retry_later(struct call *c);

/* ---- undoing an offer ---- */

/* Keeps the media state as it is before an offer is relayed. */
static int undo_save(struct call *c)
{
	if (!c->offer_undo)
		c->offer_undo = malloc(sizeof(*c->offer_undo));
	if (!c->offer_undo)
		return ENOMEM;
	*c->offer_undo = c->media;
	return 0;
}

static void undo_drop(struct call *c)
{
	free(c->offer_undo);
	c->offer_undo = NULL;
}

void call_offer_free(struct call *c)
{
	undo_drop(c);
	ack_dir_drop(c);
}

/* Puts the media state back as it was before the offer. The o= versions keep growing:
 * an SDP we sent is never followed by another with the same version. */
static void undo_restore(struct call *c)
{
	uint64_t v[2] = {c->media.side[0].local_version, c->media.side[1].local_version};

	if (c->offer_undo)
		c->media = *c->offer_undo;
	for (int i = 0; i < 2; i++)
		if (c->media.side[i].local_version < v[i])
			c->media.side[i].local_version = v[i];
	c->media.offer_from = -1;
	undo_drop(c);
}

/*
 * Our current SDP toward `side` as a new offer: the same description with the next
 * o= version (RFC 3264 8: a changed offer needs a new version, and so does the same
 * one sent again after another was agreed). Becomes our last SDP toward that side.
 */
static int sdp_next_version(struct b2b_media *m, int side, char *out, size_t outlen,
			    size_t *outn)
{
	struct b2b_side *sd = &m->side[side];
	const char *p = sd->last_local, *end = p + sd->last_local_len, *o = NULL, *eol;
	char user[128];
	unsigned long long id, ver;
	int head, n;

	for (const char *q = p; q < end; q = eol + 1) {
		eol = memchr(q, '\n', (size_t)(end - q));
		if (!eol)
			break;
		if (q[0] == 'o' && q + 1 < end && q[1] == '=') {
			o = q;
			break;
		}
	}
	if (!o || sscanf(o, "o=%127s %llu %llu", user, &id, &ver) != 3)
		return EINVAL;
	/* Skip "o=user id version" and keep the rest of the line as it was. */
	{
		const char *r = o + 2;

		for (int field = 0; field < 3 && r < end; field++) {
			while (r < end && *r == ' ')
				r++;
			while (r < end && *r != ' ' && *r != '\r' && *r != '\n')
				r++;
		}
		head = (int)(o - p);
		n = snprintf(out, outlen, "%.*so=%s %llu %llu%.*s", head, p, user, id,
			     (unsigned long long)(sd->local_version + 1), (int)(end - r), r);
	}
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= sizeof(sd->last_local))
		return ENOSPC;
	sd->local_version++;
	memcpy(sd->last_local, out, (size_t)n + 1);
	sd->last_local_len = (size_t)n;
	*outn = (size_t)n;
	return 0;
}

/*
 * The leg on `side` took an offer that its sender withdrew (CANCEL) or that the
 * sender was refused (its answer unusable): offer that leg the description it had
 * before, so both legs agree again with what the media engine does.
 */
static void start_rollback(struct call *c, int side)
{
	struct sipua_leg *leg = call_leg(c, side);
	char out[SDP_BUF_MAX];
	size_t n = 0;

	call_media_update(c);
	if (!leg || sdp_next_version(&c->media, side, out, sizeof(out), &n) != 0 ||
	    sipua_leg_reoffer(leg, out, n) != 0) {
		call_log(LOG_WARN, "call.reinvite", c, side == SIDE_A ? "a" : "b",
			 "cannot restore the previous session: hanging up");
		call_hangup(c, "offer_rollback_failed");
		return;
	}
	c->rollback = true;
	call_log(LOG_INFO, "call.reinvite", c, side == SIDE_A ? "a" : "b",
		 "restoring the previous session");
}

/* ---- offers ---- */

void call_on_offer(struct call *c, int from, const struct sipua_ev *ev)
{
	struct sipua_leg *leg = call_leg(c, from), *other = call_leg(c, !from);
	struct b2b_side *sd = &c->media.side[from];
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char out[SDP_BUF_MAX], why[160] = "", hdr[512];
	size_t n = 0;
	int err;

	if (c->state != CALL_ANSWERED || !other) {
		sipua_leg_answer(leg, 491, NULL, 0, "Retry-After: 1\r\n");
		return;
	}
	if (c->offer_busy || c->rollback) {
		sipua_leg_answer(leg, 491, NULL, 0, NULL);
		return;
	}
	if (!ev->sdp || b2b_sdp_is_refresh(&c->media, from, ev->sdp, ev->sdp_len)) {
		/* A session refresh or an offerless re-INVITE: our current SDP answers it
		 * (and is our offer when there was none; the ACK brings the answer). */
		sipua_leg_answer(leg, 200, sd->last_local, sd->last_local_len, NULL);
		return;
	}
	if (undo_save(c) != 0) {
		sipua_leg_answer(leg, 500, NULL, 0, NULL);
		return;
	}
	call_sdp_ctx(c, &x, allowed);
	err = b2b_sdp_offer(&c->media, &x, from, ev->sdp, ev->sdp_len, out, sizeof(out), &n,
			    why, sizeof(why));
	if (err) {
		undo_restore(c);
		call_warning(c, hdr, sizeof(hdr), why);
		sipua_leg_answer(leg, 488, NULL, 0, hdr);
		return;
	}
	err = sipua_leg_reoffer(other, out, n);
	if (err) {
		undo_restore(c);
		sipua_leg_answer(leg, err == EBUSY ? 491 : 500, NULL, 0, NULL);
		return;
	}
	if (c->ack_dir_sdp && c->ack_dir_side == from)
		ack_dir_drop(c);   /* its newer offer says the direction itself */
	c->offer_busy = true;
	c->offer_cancelled = false;
	c->offer_side = from;
	call_log(LOG_DEBUG, "call.reinvite", c, from == SIDE_A ? "a" : "b", "offer relayed");
}

void call_on_offer_cancelled(struct call *c, int from)
{
	if (!c->offer_busy || c->offer_side != from || c->offer_cancelled)
		return;
	c->offer_cancelled = true;
	call_log(LOG_INFO, "call.reinvite", c, from == SIDE_A ? "a" : "b",
		 "offer cancelled: cancelling it on the other leg");
	sipua_leg_cancel_reoffer(call_leg(c, !from));
}

/* The answer to our re-INVITE restoring a leg's previous description. */
static void rollback_result(struct call *c, int side, const struct sipua_ev *ev)
{
	char why[128];

	c->rollback = false;
	if (ev->status >= 200 && ev->status < 300 && ev->sdp &&
	    b2b_sdp_remote(&c->media, side, ev->sdp, ev->sdp_len, why, sizeof(why)) == 0) {
		call_media_update(c);
		ack_dir_resume(c);
		return;
	}
	if (ev->status == 481 || ev->status == 408 || ev->status < 300) {
		call_log(LOG_WARN, "call.reinvite", c, side == SIDE_A ? "a" : "b",
			 "previous session not restored (%d): hanging up", ev->status);
		call_hangup(c, "offer_rollback_failed");
	}
}

/*
 * The answer to the offer relaying an ACK's answer (ack_relay): the negotiation is
 * completed for the media engine, but its answer toward the ACK's sender is not sent
 * (there is no transaction to carry it), so that leg's last SDP and version stay what
 * it was last sent.
 */
static void ack_offer_result(struct call *c, int side, const struct sipua_ev *ev)
{
	int from = c->offer_side;
	struct b2b_side keep = c->media.side[from];
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char out[SDP_BUF_MAX], why[160] = "";
	size_t n = 0;

	c->offer_from_ack = false;
	if (ev->status >= 200 && ev->status < 300 && ev->sdp) {
		call_sdp_ctx(c, &x, allowed);
		if (b2b_sdp_answer(&c->media, &x, ev->sdp, ev->sdp_len, out, sizeof(out), &n,
				   why, sizeof(why)) == 0) {
			struct b2b_side *sd = &c->media.side[from];

			memcpy(sd->last_local, keep.last_local, sizeof(sd->last_local));
			sd->last_local_len = keep.last_local_len;
			sd->local_version = keep.local_version;
			undo_drop(c);
			ack_dir_drop(c);
			call_media_update(c);
			return;
		}
	} else if (ev->status >= 200 && ev->status < 300) {
		snprintf(why, sizeof(why), "the other party answered without SDP");
	}
	undo_restore(c);
	if (ev->status >= 200 && ev->status < 300) {
		ack_dir_drop(c);
		call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
			 "answer to the relayed direction unusable: %s", why);
		start_rollback(c, side);
		return;
	}
	if (ev->status == 491 && !ev->local && c->ack_dir_sdp &&
	    c->ack_dir_tries < ACK_DIR_TRIES && ack_dir_retry_later(c) == 0) {
		call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
			 "direction change met 491: offered again later");
		return;
	}
	ack_dir_drop(c);
	call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
		 "direction change refused (%d)", ev->status);
	if (ev->status == 481 || ev->status == 408)
		call_hangup(c, "dialog_lost");
}

void call_on_offer_result(struct call *c, const struct sipua_ev *ev)
{
	int side = ev->leg == c->a ? SIDE_A : SIDE_B;
	bool ok = ev->status >= 200 && ev->status < 300;
	struct sipua_leg *leg;
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char out[SDP_BUF_MAX], why[160] = "", hdr[512];
	size_t n = 0;
	int err, code;

	if (c->rollback) {
		rollback_result(c, side, ev);
		return;
	}
	if (!c->offer_busy) {
		call_log(LOG_WARN, "call.offer_result", c, side == SIDE_A ? "a" : "b",
			 "an answer (%d) to an offer no one waits for", ev->status);
		return;
	}
	c->offer_busy = false;
	if (c->offer_from_ack) {
		ack_offer_result(c, side, ev);
		return;
	}
	leg = call_leg(c, c->offer_side);
	if (c->offer_cancelled) {
		/* Its sender withdrew it (and got 487): nothing to answer. */
		c->offer_cancelled = false;
		undo_restore(c);
		if (ok)
			start_rollback(c, side);
		else if (ev->status == 481 || ev->status == 408)
			call_hangup(c, "dialog_lost");
		else
			ack_dir_resume(c);
		return;
	}
	if (ok && ev->sdp) {
		call_sdp_ctx(c, &x, allowed);
		err = b2b_sdp_answer(&c->media, &x, ev->sdp, ev->sdp_len, out, sizeof(out), &n,
				     why, sizeof(why));
		if (!err) {
			undo_drop(c);
			if (leg && (err = sipua_leg_answer(leg, 200, out, n, NULL)) != 0)
				call_log(LOG_WARN, "call.offer_result", c,
					 c->offer_side == SIDE_A ? "a" : "b",
					 "the offer's sender could not be answered: %s",
					 strerror(err));
			call_media_update(c);
			ack_dir_resume(c);
			return;
		}
	} else if (ok) {
		snprintf(why, sizeof(why), "the other party answered without SDP");
	}
	if (ok) {
		/* The other leg took the offer but its answer cannot be relayed: refuse the
		 * sender and give the other leg back what it had. */
		undo_restore(c);
		call_warning(c, hdr, sizeof(hdr), why);
		if (leg)
			sipua_leg_answer(leg, 488, NULL, 0, hdr);
		start_rollback(c, side);
		return;
	}
	undo_restore(c);
	code = ev->local ? 500 : ev->status;
	if (code < 300 || code > 699)
		code = 500;
	if (leg)
		sipua_leg_answer(leg, code, NULL, 0, NULL);
	if (ev->status == 481 || ev->status == 408)
		call_hangup(c, "dialog_lost");
	else
		ack_dir_resume(c);
}

/*
 * An answer in side's ACK changed its direction (sendonly: the party holds the call):
 * the other leg must follow, as with a hold offered in a re-INVITE. That answer is
 * relayed to the other leg as an offer (re-INVITE); its answer completes the
 * negotiation (ack_offer_result). The answer is kept until the other leg took it: an
 * offer in progress defers it to that offer's end (ack_dir_resume), a 491 to a retry
 * 2.1-4 s later, so the other party never stays unaware of a hold.
 */
static void ack_relay(struct call *c)
{
	int side = c->ack_dir_side;
	struct sipua_leg *other = call_leg(c, !side);
	struct b2b_sdp_ctx x;
	const char *allowed[B2B_ALLOWED_MAX];
	char out[SDP_BUF_MAX], why[160] = "";
	size_t n = 0;
	int err;

	if (!other || c->state != CALL_ANSWERED) {
		ack_dir_drop(c);
		return;
	}
	if (c->offer_busy || c->rollback || c->ack_dir_timer) {
		call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
			 "direction change deferred: an offer is in progress");
		return;
	}
	if (undo_save(c) != 0) {
		ack_dir_drop(c);
		return;
	}
	call_sdp_ctx(c, &x, allowed);
	err = b2b_sdp_offer(&c->media, &x, side, c->ack_dir_sdp, c->ack_dir_len, out,
			    sizeof(out), &n, why, sizeof(why));
	if (!err)
		err = sipua_leg_reoffer(other, out, n);
	if (err) {
		undo_restore(c);
		if (err == EBUSY && c->ack_dir_tries < ACK_DIR_TRIES &&
		    ack_dir_retry_later(c) == 0) {
			call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
				 "direction change deferred: the other leg is busy");
			return;
		}
		ack_dir_drop(c);
		call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
			 "direction change not relayed: %s", why[0] ? why : strerror(err));
		return;
	}
	c->offer_busy = true;
	c->offer_cancelled = false;
	c->offer_side = side;
	c->offer_from_ack = true;
	call_log(LOG_DEBUG, "call.reinvite", c, side == SIDE_A ? "a" : "b",
		 "direction of the ACK's answer relayed");
}

static void ack_dir_drop(struct call *c)
{
	sipua_timer_cancel(c->ack_dir_timer);
	c->ack_dir_timer = NULL;
	free(c->ack_dir_sdp);
	c->ack_dir_sdp = NULL;
	c->ack_dir_len = 0;
	c->ack_dir_tries = 0;
}

/* Keeps side's ACK answer as the direction change to relay (a newer one replaces it). */
static int ack_dir_keep(struct call *c, int side, const char *sdp, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return ENOMEM;
	memcpy(copy, sdp, len);
	ack_dir_drop(c);
	c->ack_dir_sdp = copy;
	c->ack_dir_len = len;
	c->ack_dir_side = side;
	return 0;
}

/* No offer is in progress any more: a deferred direction change goes out now. */
static void ack_dir_resume(struct call *c)
{
	if (c->ack_dir_sdp && !c->ack_dir_timer && !c->offer_busy && !c->rollback)
		ack_relay(c);
}

static void ack_dir_retry(void *arg)
{
	struct call *c = arg;

	c->ack_dir_timer = NULL;
	ack_dir_resume(c);
}

static int ack_dir_retry_later(struct call *c)
{
	unsigned ms = 2100 + (unsigned)(b2b_rand(c->b) % 1901);

	c->ack_dir_tries++;
	return sipua_timer_start(c->b->ua, ms, ack_dir_retry, c, &c->ack_dir_timer);
}

/* An ACK on a leg: with a delayed offer it must carry A's answer. */
void call_on_ack(struct call *c, int side, const struct sipua_ev *ev)
{
	if (side == SIDE_A && c->delayed_offer && !c->media.side[SIDE_A].valid &&
	    !ev->sdp) {
		call_log(LOG_INFO, "call.ack_sdp", c, "a", "no answer in the ACK");
		call_hangup(c, "no_answer_sdp");
		return;
	}
	/* The answer to the offer our 200 made (delayed offer, offerless re-INVITE). */
	if (ev->sdp && c->state == CALL_ANSWERED) {
		char why[128];
		bool was = c->media.side[side].valid;
		enum sdp_dir dir = c->media.side[side].dir;

		if (b2b_sdp_remote(&c->media, side, ev->sdp, ev->sdp_len, why,
				   sizeof(why)) == 0) {
			call_media_update(c);
			if (was && c->media.side[side].dir != dir &&
			    ack_dir_keep(c, side, ev->sdp, ev->sdp_len) == 0)
				ack_relay(c);
		} else
			call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
				 "answer in ACK ignored: %s", why);
	}
}
