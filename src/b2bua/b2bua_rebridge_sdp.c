/*
 * b2bua_rebridge_sdp.c — the SDP of a re-bridge (transfer mode bridge): the offer a new
 * leg gets in place of side `side`, and its answer taken into the call's negotiated
 * state. Pure code over struct b2b_media; no I/O.
 *
 * DESIGN
 * The new leg is offered exactly what the leg it replaces negotiated: our last SDP
 * toward that side, kept to the codecs negotiated on it (with the payload types our
 * SDP declared, so what the new party sends maps as the old one's did), sendrecv, on
 * the same local port. The kept leg's codec, payload types and SRTP are not touched:
 * no re-INVITE toward it is needed, and when the call was transcoding it goes on
 * transcoding between the same two codecs. An answer that picks another codec (or
 * rejects the stream) fails the re-bridge and the call stays as it was; its payload
 * type numbers, address, port and direction become the side's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b2bua_int.h"

static bool same(const char *n1, uint32_t r1, const char *n2, uint32_t r2)
{
	return r1 == r2 && strcasecmp(n1, n2) == 0;
}

static bool is_audio(const char *name)
{
	return strcasecmp(name, "telephone-event") != 0 && strcasecmp(name, "CN") != 0;
}

static void say(char *why, size_t len, const char *s)
{
	if (why && len)
		snprintf(why, len, "%s", s);
}

/* The negotiated entry side `side` uses for codec k (by our declared PT), or NULL. */
static const struct b2b_codec *negotiated_pt(const struct b2b_media *m, int side, uint8_t pt)
{
	for (size_t i = 0; i < m->n_codecs; i++)
		if (m->codecs[i].sent[side] == pt)
			return &m->codecs[i];
	return NULL;
}

int b2b_rebridge_offer(struct b2b_media *m, int side, char *out, size_t outlen, size_t *outn,
		       char *why, size_t whylen)
{
	struct b2b_side *sd;
	struct sdp_session *s;
	struct sdp_media *am;
	int audio, n, err = 0;
	size_t k = 0;

	if (!m || (side != 0 && side != 1) || !out || !outn)
		return EINVAL;
	sd = &m->side[side];
	if (!m->choice[side].valid || !sd->last_local_len) {
		say(why, whylen, "the leg has no negotiated audio");
		return ENOTSUP;
	}
	if (m->crypto[side].suite != SDP_CRYPTO_NONE) {
		say(why, whylen, "the leg uses SRTP: re-bridging it is not supported");
		return ENOTSUP;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	if (sdp_parse(s, sd->last_local, sd->last_local_len, why, whylen) != 0 ||
	    (audio = sdp_first_audio(s)) < 0) {
		say(why, whylen, "our last SDP toward the leg is unusable");
		err = EINVAL;
		goto out;
	}
	am = &s->media[audio];
	for (size_t i = 0; i < am->n_codecs; i++)
		if (negotiated_pt(m, side, am->codecs[i].pt))
			am->codecs[k++] = am->codecs[i];
	am->n_codecs = k;
	if (!sdp_media_has_audio_codec(am)) {
		say(why, whylen, "no negotiated codec left to offer");
		err = ENOTSUP;
		goto out;
	}
	am->dir = SDP_DIR_SENDRECV;
	am->n_crypto = 0;
	snprintf(am->proto, sizeof(am->proto), "RTP/AVP");
	am->rtcp_mux = true;
	if (audio != 0)
		s->media[0] = *am;
	s->n_media = 1;
	s->sess_id = m->sess_id;
	s->sess_version = sd->local_version + 1;
	n = sdp_write(out, outlen, s);
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= SDP_BUF_MAX) {
		say(why, whylen, "SDP too large");
		err = EINVAL;
		goto out;
	}
	*outn = (size_t)n;
out:
	free(s);
	return err;
}

int b2b_rebridge_answer(struct b2b_media *m, int side, const char *offer, size_t offer_len,
			const char *sdp, size_t len, char *why, size_t whylen)
{
	struct sdp_session *s;
	const struct sdp_media *am;
	const struct sdp_codec *pick = NULL;
	struct b2b_choice *ch;
	int audio, err = 0;

	if (!m || (side != 0 && side != 1) || !sdp || !offer)
		return EINVAL;
	ch = &m->choice[side];
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	if (sdp_parse(s, sdp, len, why, whylen) != 0) {
		err = EINVAL;
		goto out;
	}
	audio = sdp_first_audio(s);
	if (audio < 0 || s->media[audio].port == 0) {
		say(why, whylen, "audio stream rejected by the new party");
		err = ENOTSUP;
		goto out;
	}
	am = &s->media[audio];
	for (size_t i = 0; i < am->n_codecs && !pick; i++)
		if (is_audio(am->codecs[i].name))
			pick = &am->codecs[i];
	if (!pick || !same(pick->name, pick->rate, ch->name, ch->rate)) {
		char w[160];

		snprintf(w, sizeof(w), "the new party answered %s, not the call's %s/%u",
			 pick ? pick->name : "no audio codec", ch->name, (unsigned)ch->rate);
		say(why, whylen, w);
		err = ENOTSUP;
		goto out;
	}
	err = b2b_sdp_remote(m, side, sdp, len, why, whylen);
	if (err)
		goto out;
	/* Its numbers become the side's: what we send it. */
	for (size_t i = 0; i < m->n_codecs; i++) {
		struct b2b_codec *k = &m->codecs[i];
		const struct sdp_codec *a = NULL;

		if (k->sent[side] > 127)
			continue;
		for (size_t j = 0; j < am->n_codecs && !a; j++)
			if (same(am->codecs[j].name, am->codecs[j].rate, k->name, k->rate))
				a = &am->codecs[j];
		k->pt[side] = a ? a->pt : MEDIA_PT_NONE;
		if (!a && !is_audio(k->name))
			k->sent[side] = MEDIA_PT_NONE;   /* no events from it either */
	}
	ch->pt = pick->pt;
	ch->ptime = am->ptime;
	if (ch->te_pt != MEDIA_PT_NONE) {
		ch->te_pt = MEDIA_PT_NONE;
		for (size_t j = 0; j < am->n_codecs; j++)
			if (same(am->codecs[j].name, am->codecs[j].rate, "telephone-event",
				 ch->te_rate))
				ch->te_pt = am->codecs[j].pt;
		if (ch->te_pt == MEDIA_PT_NONE)
			ch->te_sent = MEDIA_PT_NONE;
	}
	/* The offer it answered is our SDP toward the side now. */
	if (offer_len < sizeof(m->side[side].last_local)) {
		memcpy(m->side[side].last_local, offer, offer_len);
		m->side[side].last_local[offer_len] = '\0';
		m->side[side].last_local_len = offer_len;
		m->side[side].local_version++;
	}
out:
	free(s);
	return err;
}
