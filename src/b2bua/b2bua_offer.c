/*
 * b2bua_offer.c — offers in the middle of a call, both directions: a re-INVITE or
 * UPDATE with SDP on one leg is relayed to the other as a re-INVITE with the offer
 * rewritten, and the answer comes back rewritten; refreshes and offerless re-INVITEs
 * are answered with our current SDP; an answer in an ACK updates the media session.
 * One offer at a time per call (a second one gets 491).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua_int.h"
#include "log.h"

enum { SIDE_A = MEDIA_SIDE_A, SIDE_B = MEDIA_SIDE_B };

void call_on_offer(struct call *c, int from, const struct sipua_ev *ev)
{
	struct sipua_leg *leg = call_leg(c, from), *other = call_leg(c, !from);
	struct b2b_side *sd = &c->media.side[from];
	struct b2b_sdp_ctx x;
	const char *allowed[4];
	char out[SDP_BUF_MAX], why[160] = "", hdr[512];
	size_t n = 0;
	int err;

	if (c->state != CALL_ANSWERED || !other) {
		sipua_leg_answer(leg, 491, NULL, 0, "Retry-After: 1\r\n");
		return;
	}
	if (c->offer_busy) {
		sipua_leg_answer(leg, 491, NULL, 0, NULL);
		return;
	}
	if (!ev->sdp || b2b_sdp_is_refresh(&c->media, from, ev->sdp, ev->sdp_len)) {
		/* A session refresh or an offerless re-INVITE: our current SDP answers it
		 * (and is our offer when there was none; the ACK brings the answer). */
		sipua_leg_answer(leg, 200, sd->last_local, sd->last_local_len, NULL);
		return;
	}
	call_sdp_ctx(c, &x, allowed);
	err = b2b_sdp_offer(&c->media, &x, from, ev->sdp, ev->sdp_len, out, sizeof(out), &n,
			    why, sizeof(why));
	if (err) {
		call_warning(c, hdr, sizeof(hdr), why);
		sipua_leg_answer(leg, 488, NULL, 0, hdr);
		return;
	}
	err = sipua_leg_reoffer(other, out, n);
	if (err) {
		c->media.offer_from = -1;
		sipua_leg_answer(leg, err == EBUSY ? 491 : 500, NULL, 0, NULL);
		return;
	}
	c->offer_busy = true;
	c->offer_side = from;
	call_log(LOG_DEBUG, "call.reinvite", c, from == SIDE_A ? "a" : "b", "offer relayed");
}

void call_on_offer_result(struct call *c, const struct sipua_ev *ev)
{
	struct sipua_leg *leg;
	struct b2b_sdp_ctx x;
	const char *allowed[4];
	char out[SDP_BUF_MAX], why[160] = "", hdr[512];
	size_t n = 0;
	int err, code;

	if (!c->offer_busy)
		return;
	c->offer_busy = false;
	leg = call_leg(c, c->offer_side);
	if (ev->status >= 200 && ev->status < 300 && ev->sdp) {
		call_sdp_ctx(c, &x, allowed);
		err = b2b_sdp_answer(&c->media, &x, ev->sdp, ev->sdp_len, out, sizeof(out), &n,
				     why, sizeof(why));
		if (!err) {
			if (leg)
				sipua_leg_answer(leg, 200, out, n, NULL);
			call_media_update(c);
			return;
		}
		c->media.offer_from = -1;
		call_warning(c, hdr, sizeof(hdr), why);
		if (leg)
			sipua_leg_answer(leg, 488, NULL, 0, hdr);
		return;
	}
	c->media.offer_from = -1;
	code = ev->local ? 500 : ev->status;
	if (code < 300 || code > 699)
		code = 500;
	if (leg)
		sipua_leg_answer(leg, code, NULL, 0, NULL);
	if (ev->status == 481 || ev->status == 408)
		call_hangup(c, "dialog_lost");
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

		if (b2b_sdp_remote(&c->media, side, ev->sdp, ev->sdp_len, why,
				   sizeof(why)) == 0)
			call_media_update(c);
		else
			call_log(LOG_INFO, "call.ack_sdp", c, side == SIDE_A ? "a" : "b",
				 "answer in ACK ignored: %s", why);
	}
}
