/*
 * b2bua_rebridge_sdp.c — the SDP of a re-bridge (transfer mode bridge): the offer a new
 * leg gets in place of side `side`, and its answer taken into the call's negotiated
 * state. Pure code over struct b2b_media; no I/O.
 *
 * DESIGN
 * The new leg is offered first what the leg it replaces negotiated: our last SDP
 * toward that side, kept to the codecs negotiated on it (with the payload types our
 * SDP declared, so what the new party sends maps as the old one's did), sendrecv, on
 * the same local port. When the kept leg's codec is one trunx transcodes (PCMU, PCMA,
 * opus), the other codecs trunx transcodes are offered too; all of it filtered and
 * ordered by the new destination's trunk (its codec list, its DTMF way). SRTP is the
 * new trunk's policy with keys of its own (b2b_srtp_make_offer): each leg keeps its
 * own keys, the kept one's are not touched.
 *
 * The answer's first audio codec that we offered decides: the kept leg's codec means
 * relay (as before the transfer); another one means transcoding between the kept
 * leg's codec and the new one — the media session switches mode keeping SSRC,
 * sequence and timestamps continuous toward the kept leg, whose codec, payload types
 * and SRTP do not change, so it needs no re-INVITE. A call that was transcoding may
 * so end up relaying, and the other way round. An answer that rejects the stream,
 * picks nothing we offered, or misses the crypto we required fails the re-bridge and
 * the call stays as it was.
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

static bool is_te(const char *name)
{
	return strcasecmp(name, "telephone-event") == 0;
}

static bool is_audio(const char *name)
{
	return name[0] && !is_te(name) && strcasecmp(name, "CN") != 0;
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

static const struct sdp_codec *find(const struct sdp_media *am, const char *name, uint32_t rate)
{
	for (size_t i = 0; i < am->n_codecs; i++)
		if (same(am->codecs[i].name, am->codecs[i].rate, name, rate))
			return &am->codecs[i];
	return NULL;
}

static bool has_te(const struct sdp_media *am)
{
	for (size_t i = 0; i < am->n_codecs; i++)
		if (is_te(am->codecs[i].name))
			return true;
	return false;
}

/* am's codecs: those the replaced side negotiated that the new trunk allows, then
 * (kept codec transcodable) every other codec trunx transcodes it allows, in its
 * order. @return whether an audio codec is left */
static bool offer_codecs(const struct b2b_media *m, int side, const struct b2b_sdp_ctx *c,
			 struct sdp_media *am)
{
	const struct b2b_choice *ck = &m->choice[!side];
	struct sdp_codec list[SDP_MAX_CODECS];
	size_t rank[SDP_MAX_CODECS], n = 0;
	bool used[128] = {false};

	for (size_t i = 0; i < am->n_codecs && n < SDP_MAX_CODECS; i++) {
		const struct sdp_codec *k = &am->codecs[i];

		if (k->pt > 127 || used[k->pt] || !negotiated_pt(m, side, k->pt) ||
		    !b2b_sdp_trunk_allows(c, side, k, &rank[n]))
			continue;
		used[k->pt] = true;
		list[n++] = *k;
	}
	if (ck->valid && b2b_sdp_transcodable(ck->name, ck->rate)) {
		for (size_t a = 0; a < c->n_allowed && n < SDP_MAX_CODECS; a++) {
			struct sdp_codec k;
			struct sdp_media cur = {.n_codecs = n};
			bool dup;

			memcpy(cur.codecs, list, n * sizeof(list[0]));
			if (!b2b_sdp_local_codec(c->allowed[a], &c->opus[side], &k))
				continue;
			dup = is_te(k.name) ? has_te(&cur) : find(&cur, k.name, k.rate) != NULL;
			if (dup || (!is_te(k.name) && !b2b_sdp_transcodable(k.name, k.rate)) ||
			    !b2b_sdp_trunk_allows(c, side, &k, &rank[n]))
				continue;
			k.pt = b2b_free_pt(used, k.pt);
			if (k.pt > 127)
				continue;
			used[k.pt] = true;
			list[n++] = k;
		}
	}
	/* Stable order by the trunk's rank (telephone-event last). */
	for (size_t i = 1; i < n; i++) {
		struct sdp_codec kc = list[i];
		size_t rc = rank[i], j = i;

		for (; j > 0 && rank[j - 1] > rc; j--) {
			list[j] = list[j - 1];
			rank[j] = rank[j - 1];
		}
		list[j] = kc;
		rank[j] = rc;
	}
	memcpy(am->codecs, list, n * sizeof(list[0]));
	am->n_codecs = n;
	return sdp_media_has_audio_codec(am);
}

int b2b_rebridge_offer(struct b2b_media *m, int side, const struct b2b_sdp_ctx *c,
		       struct b2b_reoffer *o, char *why, size_t whylen)
{
	static const struct b2b_crypto none;
	struct b2b_side *sd;
	struct sdp_session *s;
	struct sdp_media *am;
	const char *w = NULL;
	int audio, n, err = 0;

	if (!m || !c || !o || (side != 0 && side != 1))
		return EINVAL;
	sd = &m->side[side];
	if (!m->choice[side].valid || !sd->last_local_len) {
		say(why, whylen, "the leg has no negotiated audio");
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
	if (!offer_codecs(m, side, c, am)) {
		say(why, whylen, "the new destination's trunk allows none of the codecs the kept "
		    "leg can be bridged to");
		err = ENOTSUP;
		goto out;
	}
	am->dir = SDP_DIR_SENDRECV;
	am->rtcp_mux = true;
	err = b2b_srtp_make_offer(am, &c->srtp[side], &none, &o->crypto, &w);
	if (err) {
		say(why, whylen, w ? w : "no SRTP offer");
		goto out;
	}
	if (audio != 0)
		s->media[0] = *am;
	s->n_media = 1;
	s->sess_id = m->sess_id;
	s->sess_version = sd->local_version + 1;
	n = sdp_write(o->sdp, sizeof(o->sdp), s);
	if (n < 0 || (size_t)n >= sizeof(o->sdp)) {
		say(why, whylen, "SDP too large");
		err = EINVAL;
		goto out;
	}
	o->len = (size_t)n;
out:
	free(s);
	return err;
}

static void add(struct b2b_codec *codecs, size_t *n, const struct sdp_codec *a, int side,
		uint8_t q)
{
	struct b2b_codec *x;

	if (*n >= SDP_MAX_CODECS)
		return;
	x = &codecs[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", a->name);
	x->rate = a->rate;
	x->channels = a->channels;
	snprintf(x->fmtp, sizeof(x->fmtp), "%s", a->fmtp);
	x->pt[side] = a->pt;
	x->sent[side] = q;
	x->pt[!side] = x->sent[!side] = MEDIA_PT_NONE;
}

/* The kept side's choice with its own numbers, from its negotiated entries. */
static void kept_choice(struct b2b_media *m, int k)
{
	struct b2b_choice *ck = &m->choice[k];

	ck->te_pt = ck->te_sent = MEDIA_PT_NONE;
	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct b2b_codec *e = &m->codecs[i];
		uint8_t rx = e->sent[k] < 128 ? e->sent[k] : e->pt[k];

		if (e->pt[k] > 127)
			continue;
		if (same(e->name, e->rate, ck->name, ck->rate)) {
			ck->pt = e->pt[k];
			ck->sent = rx;
		} else if (is_te(e->name) && ck->te_pt == MEDIA_PT_NONE) {
			ck->te_pt = e->pt[k];
			ck->te_sent = rx;
			ck->te_rate = e->rate;
		}
	}
}

int b2b_rebridge_answer(struct b2b_media *m, int side, const struct b2b_sdp_ctx *c,
			const struct b2b_reoffer *o, const char *sdp, size_t len, char *why,
			size_t whylen)
{
	struct sdp_session *s;
	const struct sdp_media *am, *om;
	const struct sdp_codec *pick = NULL, *te = NULL;
	struct b2b_codec codecs[SDP_MAX_CODECS];
	struct b2b_choice *ck, *ch;
	struct b2b_crypto cto;
	const char *w = NULL;
	size_t n = 0;
	int audio, k = !side, err = 0;
	bool transcode;

	if (!m || !c || !o || (side != 0 && side != 1) || !sdp)
		return EINVAL;
	ck = &m->choice[k];
	ch = &m->choice[side];
	s = calloc(2, sizeof(*s));
	if (!s)
		return ENOMEM;
	if (sdp_parse(&s[1], o->sdp, o->len, why, whylen) != 0 || sdp_first_audio(&s[1]) < 0) {
		err = EINVAL;
		goto out;
	}
	om = &s[1].media[sdp_first_audio(&s[1])];
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
	for (size_t i = 0; i < am->n_codecs; i++) {
		const struct sdp_codec *a = &am->codecs[i];

		if (!find(om, a->name, a->rate))
			continue;
		if (!pick && is_audio(a->name))
			pick = a;
		if (!te && is_te(a->name))
			te = a;
	}
	if (!pick) {
		char t[160];

		snprintf(t, sizeof(t), "the new party answered %s, none of the codecs offered",
			 am->n_codecs ? am->codecs[0].name : "no codec");
		say(why, whylen, t);
		err = ENOTSUP;
		goto out;
	}
	transcode = !same(pick->name, pick->rate, ck->name, ck->rate);
	if (transcode && (!b2b_sdp_transcodable(pick->name, pick->rate) ||
			  !b2b_sdp_transcodable(ck->name, ck->rate))) {
		char t[160];

		snprintf(t, sizeof(t), "the new party answered %s/%u: no transcoding to the kept "
			 "leg's %s/%u", pick->name, (unsigned)pick->rate, ck->name,
			 (unsigned)ck->rate);
		say(why, whylen, t);
		err = ENOTSUP;
		goto out;
	}
	err = b2b_srtp_take_answer(am, &o->crypto, &cto, &w);
	if (err) {
		say(why, whylen, w ? w : "unusable crypto in the answer");
		goto out;
	}
	/* The kept side's entries stay; the replaced side's numbers go. */
	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct b2b_codec *e = &m->codecs[i];

		if (e->pt[k] > 127 && e->sent[k] > 127)
			continue;
		codecs[n] = *e;
		codecs[n].pt[side] = codecs[n].sent[side] = MEDIA_PT_NONE;
		n++;
	}
	/* The new side's: relay merges each into the kept entry of the same codec (what
	 * one sends maps to the other's number); transcoding keeps them apart. */
	for (size_t i = 0; i < am->n_codecs; i++) {
		const struct sdp_codec *a = &am->codecs[i], *q = find(om, a->name, a->rate);
		bool merged = false;

		if (!q || (a != pick && a != te && (transcode || !is_audio(a->name))))
			continue;
		for (size_t j = 0; !transcode && j < n && !merged; j++) {
			if (codecs[j].pt[side] > 127 &&
			    same(codecs[j].name, codecs[j].rate, a->name, a->rate)) {
				codecs[j].pt[side] = a->pt;
				codecs[j].sent[side] = q->pt;
				merged = true;
			}
		}
		if (!merged)
			add(codecs, &n, a, side, q->pt);
	}
	memcpy(m->codecs, codecs, n * sizeof(codecs[0]));
	m->n_codecs = n;
	{
		const struct sdp_codec *q = find(om, pick->name, pick->rate);
		uint32_t te_rate = ch->te_rate;

		memset(ch, 0, sizeof(*ch));
		ch->valid = true;
		snprintf(ch->name, sizeof(ch->name), "%s", pick->name);
		ch->rate = pick->rate;
		snprintf(ch->fmtp, sizeof(ch->fmtp), "%s", pick->fmtp);
		ch->pt = pick->pt;
		ch->sent = q->pt;
		ch->ptime = am->ptime;
		ch->te_pt = ch->te_sent = MEDIA_PT_NONE;
		ch->te_rate = te_rate;
		if (te) {
			ch->te_pt = te->pt;
			ch->te_sent = find(om, te->name, te->rate)->pt;
			ch->te_rate = te->rate;
		}
	}
	if (transcode)
		kept_choice(m, k);
	m->transcode = transcode;
	m->crypto[side] = cto;
	memset(&cto, 0, sizeof(cto));
	m->opus[side] = c->opus[side];
	m->dtmf[side] = c->dtmf[side];
	b2b_sdp_side_remote(&m->side[side], s, am, sdp, len);
	/* The offer it answered is our SDP toward the side now. */
	if (o->len < sizeof(m->side[side].last_local)) {
		memcpy(m->side[side].last_local, o->sdp, o->len);
		m->side[side].last_local[o->len] = '\0';
		m->side[side].last_local_len = o->len;
		m->side[side].local_version++;
	}
out:
	free(s);
	return err;
}
