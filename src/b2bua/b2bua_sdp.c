/*
 * b2bua_sdp.c — offer/answer across the two legs (RFC 3264) for a B2BUA that anchors
 * media: each offer is rewritten for the other leg (our address and port, only the
 * codecs trunx relays, payload types kept stable per leg), each answer is rewritten
 * for the offerer, and the payload-type maps for the media engine follow from the
 * negotiated codecs. Pure code over struct b2b_media; no I/O.
 *
 * DESIGN
 * A PT number in an SDP says what its author wants to receive. So for every codec we
 * keep pt[side] (what that side declared: we send it that) and sent[side] (what our
 * SDP toward that side declared: it sends us that). Our answers reuse the offerer's
 * numbers; our offers reuse the numbers already negotiated on that leg, so a
 * re-INVITE does not renumber a stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b2bua_int.h"

static void scopy(char *d, size_t n, const char *s)
{
	size_t l = strnlen(s, n - 1);

	memcpy(d, s, l);
	d[l] = '\0';
}

static void set_why(char *why, size_t len, const char *s)
{
	if (why && len)
		snprintf(why, len, "%s", s ? s : "refused");
}

static bool codec_eq(const char *n1, uint32_t r1, const char *n2, uint32_t r2)
{
	return r1 == r2 && strcasecmp(n1, n2) == 0;
}

static const struct b2b_codec *negotiated(const struct b2b_media *m, const char *name,
					  uint32_t rate)
{
	for (size_t i = 0; i < m->n_codecs; i++) {
		if (codec_eq(m->codecs[i].name, m->codecs[i].rate, name, rate))
			return &m->codecs[i];
	}
	return NULL;
}

/* Zeroes the session header and its first n media (the rest is never read). */
static void session_reset(struct sdp_session *s, size_t n)
{
	memset(s, 0, offsetof(struct sdp_session, media));
	for (size_t i = 0; i < n && i < SDP_MAX_MEDIA; i++)
		memset(&s->media[i], 0, offsetof(struct sdp_media, codecs));
}

static uint64_t body_hash(const char *sdp, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)sdp[i]) * 0x100000001b3ULL;
	return h;
}

static void side_remember_remote(struct b2b_side *sd, const struct sdp_session *s,
				 const struct sdp_media *am, const char *sdp, size_t len)
{
	sd->remote_hash = body_hash(sdp, len);
	sd->valid = true;
	scopy(sd->addr, sizeof(sd->addr), am->addr);
	sd->af = am->af;
	sd->port = am->port;
	sd->rtcp_port = am->rtcp_port;
	sd->rtcp_mux = am->rtcp_mux;
	sd->dir = am->dir;
	sd->remote_sess_id = s->sess_id;
	sd->remote_version = s->sess_version;
}

static void local_media(struct sdp_media *out, const struct b2b_sdp_ctx *c, int side)
{
	snprintf(out->type, sizeof(out->type), "audio");
	snprintf(out->proto, sizeof(out->proto), "RTP/AVP");
	out->port = c->port[side];
	out->rtcp_port = (uint16_t)(c->port[side] + 1);
	out->rtcp_mux = true;   /* offered always; in answers only if offered (below) */
	out->af = strchr(c->media_addr, ':') ? SDP_AF_IP6 : SDP_AF_IP4;
	scopy(out->addr, sizeof(out->addr), c->media_addr);
}

static int write_local(struct b2b_media *m, int side, struct sdp_session *s, char *out,
		       size_t outlen, size_t *outn, char *why, size_t whylen)
{
	struct b2b_side *sd = &m->side[side];
	int n;

	snprintf(s->origin_user, sizeof(s->origin_user), "trunx");
	snprintf(s->name, sizeof(s->name), "-");
	s->sess_id = m->sess_id;
	/* RFC 3264 8: the version changes with the description. The same description
	 * again (a refresh relayed, an offer that changes nothing on this leg) keeps it,
	 * so the leg sees a refresh; compared with the version in force, so an SDP put
	 * back by a withdrawn offer still gets a new one. */
	s->sess_version = sd->local_version;
	n = sd->local_version ? sdp_write(out, outlen, s) : -1;
	if (n >= 0 && (size_t)n == sd->last_local_len &&
	    memcmp(out, sd->last_local, (size_t)n) == 0) {
		*outn = (size_t)n;
		return 0;
	}
	s->sess_version = ++sd->local_version;
	n = sdp_write(out, outlen, s);
	if (n < 0 || (size_t)n >= SDP_BUF_MAX) {
		set_why(why, whylen, "SDP too large");
		return EINVAL;
	}
	memcpy(m->side[side].last_local, out, (size_t)n);
	m->side[side].last_local[n] = '\0';
	m->side[side].last_local_len = (size_t)n;
	*outn = (size_t)n;
	return 0;
}

/* ---- codecs trunx can decode and encode ---- */

static enum media_codec codec_id(const char *name, uint32_t rate)
{
	if (rate == 8000 && strcasecmp(name, "PCMU") == 0)
		return MEDIA_CODEC_PCMU;
	if (rate == 8000 && strcasecmp(name, "PCMA") == 0)
		return MEDIA_CODEC_PCMA;
	if (rate == 48000 && strcasecmp(name, "opus") == 0)
		return MEDIA_CODEC_OPUS;
	return MEDIA_CODEC_NONE;
}

static bool is_te(const char *name)
{
	return strcasecmp(name, "telephone-event") == 0;
}

static bool is_audio(const char *name)
{
	return name[0] && !is_te(name) && strcasecmp(name, "CN") != 0;
}

/* Position of a codec in a trunk's preference list; SIZE_MAX = not allowed there.
 * An empty list allows everything (in the offer's order); telephone-event passes
 * where the trunk carries digits as RFC 4733 only (trunk lists name audio codecs):
 * an INFO or in-band leg is neither offered nor answered it. */
static size_t pref_rank(const struct b2b_sdp_ctx *c, int side, const struct sdp_codec *k)
{
	char spec[SDP_NAME_MAX + 12];

	if (is_te(k->name) && c->dtmf[side] != MEDIA_DTMF_RFC4733)
		return SIZE_MAX;
	if (!c->n_prefer[side] || !is_audio(k->name))
		return c->n_prefer[side];
	snprintf(spec, sizeof(spec), "%s/%" PRIu32, k->name, k->rate);
	for (size_t i = 0; i < c->n_prefer[side]; i++) {
		const char *p = c->prefer[side][i];
		size_t n = strlen(spec);

		/* "opus/48000/2" in a list matches "opus/48000" */
		if (strncasecmp(p, spec, n) == 0 && (p[n] == '\0' || p[n] == '/'))
			return i;
	}
	return SIZE_MAX;
}

/* Our own fmtp for an Opus stream we decode at 8 kHz (the other leg is G.711). */
static void opus_fmtp_8k(char *out, size_t len, const struct b2b_opus_opts *o)
{
	struct sdp_opus op;

	sdp_opus_defaults(&op);
	op.maxplaybackrate = 8000;
	op.sprop_maxcapturerate = 8000;
	op.useinbandfec = o->fec;
	op.usedtx = o->dtx;
	if (sdp_opus_write(&op, out, len) < 0)
		out[0] = '\0';
}

/* Static payload types of trunx's own codecs; dynamic ones take 111 (opus) and 101. */
static bool local_codec(const char *spec, struct sdp_codec *k)
{
	memset(k, 0, sizeof(*k));
	k->channels = 1;
	k->rate = 8000;
	if (strcasecmp(spec, "PCMU/8000") == 0) {
		k->pt = 0;
		snprintf(k->name, sizeof(k->name), "PCMU");
	} else if (strcasecmp(spec, "PCMA/8000") == 0) {
		k->pt = 8;
		snprintf(k->name, sizeof(k->name), "PCMA");
	} else if (strcasecmp(spec, "opus/48000/2") == 0) {
		k->pt = 111;
		k->rate = 48000;
		k->channels = 2;
		snprintf(k->name, sizeof(k->name), "opus");
		snprintf(k->fmtp, sizeof(k->fmtp), "useinbandfec=1");
	} else if (strcasecmp(spec, "telephone-event/8000") == 0) {
		k->pt = 101;
		snprintf(k->name, sizeof(k->name), "telephone-event");
		snprintf(k->fmtp, sizeof(k->fmtp), "0-16");
	} else {
		return false;
	}
	return true;
}

uint8_t b2b_free_pt(const bool used[128], uint8_t want)
{
	if (want < 128 && !used[want])
		return want;
	for (uint8_t p = 96; p < 128; p++)
		if (!used[p])
			return p;
	return MEDIA_PT_NONE;
}

/* Keeps the offerer's codecs its own trunk allows (telephone-event always). */
static void trunk_filter(struct sdp_media *am, const struct b2b_sdp_ctx *c, int side)
{
	size_t kept = 0;

	for (size_t i = 0; i < am->n_codecs; i++) {
		if (pref_rank(c, side, &am->codecs[i]) == SIZE_MAX)
			continue;
		if (kept != i)
			am->codecs[kept] = am->codecs[i];
		kept++;
	}
	am->n_codecs = kept;
}

/*
 * An a=ptime every codec of the offer om can packetize. Opus frames are 10, 20, 40 or
 * 60 ms: with Opus offered, another ptime (30 ms G.711 from the offerer) becomes the
 * longest of those not above it, the packets trunx's own Opus encoder sends for it
 * (a UA takes the offer's ptime for its encoder, and cannot encode 30 ms of Opus).
 */
static uint32_t offer_ptime(const struct sdp_media *om)
{
	uint32_t p = om->ptime;

	if (!p || p == 10 || p == 20 || p == 40 || p == 60)
		return p;
	for (size_t i = 0; i < om->n_codecs; i++)
		if (codec_id(om->codecs[i].name, om->codecs[i].rate) == MEDIA_CODEC_OPUS)
			return p >= 60 ? 60 : p >= 40 ? 40 : p >= 20 ? 20 : 10;
	return p;
}

/*
 * The audio line we offer to `to` for the offerer's line am: the offerer's codecs
 * that to's trunk allows (relayed as they are, with the numbers already negotiated
 * on `to`), then every codec trunx can transcode that am lacks, in to's trunk
 * order when it has one. Fills m->offered/_src and m->offer_q.
 */
static int build_offer(struct b2b_media *m, const struct b2b_sdp_ctx *c, int to,
		       const struct sdp_media *am, struct sdp_media *om)
{
	struct sdp_codec *list = om->codecs;
	int8_t src[SDP_MAX_CODECS];
	size_t rank[SDP_MAX_CODECS], n = 0;
	bool used[128] = {false}, can_decode = false, has_te = false;

	for (size_t i = 0; i < am->n_codecs; i++) {
		m->offer_q[i] = MEDIA_PT_NONE;
		if (codec_id(am->codecs[i].name, am->codecs[i].rate))
			can_decode = true;
		if (is_te(am->codecs[i].name))
			has_te = true;
	}
	for (size_t i = 0; i < am->n_codecs && n < SDP_MAX_CODECS; i++) {
		const struct sdp_codec *k = &am->codecs[i];
		const struct b2b_codec *neg = negotiated(m, k->name, k->rate);
		uint8_t q = neg && neg->sent[to] < 128 ? neg->sent[to] : k->pt;

		if (pref_rank(c, to, k) == SIZE_MAX)
			continue;
		if (used[q])
			q = k->pt;
		if (used[q])
			continue;
		used[q] = true;
		m->offer_q[i] = q;
		list[n] = *k;
		list[n].pt = q;
		src[n] = (int8_t)i;
		rank[n] = pref_rank(c, to, k);
		n++;
	}
	for (size_t a = 0; can_decode && a < c->n_allowed && n < SDP_MAX_CODECS; a++) {
		struct sdp_codec k;
		const struct b2b_codec *neg;

		/* the codecs trunx transcodes, and telephone-event/8000 for digits on a
		 * G.711 clock when the offerer sends digits at another rate, or sends
		 * them otherwise (INFO, in-band: trunx turns them into events) */
		if (!local_codec(c->allowed[a], &k) ||
		    (!codec_id(k.name, k.rate) &&
		     !(is_te(k.name) && (has_te || c->dtmf[!to] != MEDIA_DTMF_RFC4733))) ||
		    sdp_media_find(am, k.name, k.rate) || pref_rank(c, to, &k) == SIZE_MAX)
			continue;
		neg = negotiated(m, k.name, k.rate);
		k.pt = b2b_free_pt(used, neg && neg->sent[to] < 128 ? neg->sent[to] : k.pt);
		if (k.pt > 127)
			continue;
		used[k.pt] = true;
		if (codec_id(k.name, k.rate) == MEDIA_CODEC_OPUS)
			opus_fmtp_8k(k.fmtp, sizeof(k.fmtp), &c->opus[to]);
		list[n] = k;
		src[n] = -1;
		rank[n] = pref_rank(c, to, &k);
		n++;
	}
	/* Stable order: by the trunk's rank (telephone-event ranks last). */
	for (size_t i = 1; i < n; i++) {
		struct sdp_codec kc = list[i];
		int8_t sc = src[i];
		size_t rc = rank[i], j = i;

		while (j > 0 && rank[j - 1] > rc) {
			list[j] = list[j - 1];
			src[j] = src[j - 1];
			rank[j] = rank[j - 1];
			j--;
		}
		list[j] = kc;
		src[j] = sc;
		rank[j] = rc;
	}
	om->n_codecs = n;
	if (!sdp_media_has_audio_codec(om))
		return ENOTSUP;
	om->ptime = offer_ptime(om);
	m->offered = *om;
	memcpy(m->offered_src, src, sizeof(src));
	return 0;
}

/*
 * RFC 2543 hold (RFC 3264 8.4): a stream whose connection address is the unspecified
 * one does not want media, whatever its direction attribute says. It counts as the
 * direction that leaves out receiving (sendrecv -> sendonly, recvonly -> inactive), so
 * the other leg hears of the hold in the relayed SDP as well.
 */
static void hold_2543(struct sdp_media *am)
{
	if (!am->port || (strcmp(am->addr, "0.0.0.0") != 0 && strcmp(am->addr, "::") != 0))
		return;
	if (am->dir == SDP_DIR_SENDRECV)
		am->dir = SDP_DIR_SENDONLY;
	else if (am->dir == SDP_DIR_RECVONLY)
		am->dir = SDP_DIR_INACTIVE;
}

/*
 * The audio line of an offer trunx takes: the first active one whose profile it can
 * serve under the offerer's SRTP policy, so an offer that lists alternatives (a
 * DTLS-SRTP or RTP/AVPF line first, then RTP/AVP; RTP/SAVP then RTP/AVP for best-effort
 * SRTP) is answered on the alternative and the others are rejected with port 0.
 * Without such a line, the first active audio line (refused below with a reason).
 */
static int pick_audio(const struct sdp_session *s, const struct b2b_srtp_policy *pol)
{
	/* a line without feedback first (what trunx speaks), then an AVPF/SAVPF one */
	for (int fb = 0; fb < 2; fb++) {
		for (size_t i = 0; i < s->n_media; i++) {
			const struct sdp_media *x = &s->media[i];

			if (x->port && strcasecmp(x->type, "audio") == 0 &&
			    b2b_srtp_proto_takes(x->proto, pol) &&
			    b2b_srtp_proto_fb(x->proto) == (fb == 1))
				return (int)i;
		}
	}
	return sdp_first_audio(s);
}

int b2b_sdp_offer(struct b2b_media *m, const struct b2b_sdp_ctx *c, int from,
		  const char *sdp, size_t len, char *out, size_t outlen, size_t *outn,
		  char *why, size_t whylen)
{
	struct sdp_session *s, *o;
	struct sdp_media *am;
	const char *w = NULL;
	int to = !from, audio, err = 0;

	if (!m || !c || !sdp || (from != 0 && from != 1))
		return EINVAL;
	s = c->scratch ? c->scratch : calloc(2, sizeof(*s));
	if (!s)
		return ENOMEM;
	o = s + 1;
	if (sdp_parse(s, sdp, len, why, whylen) != 0) {
		err = EINVAL;
		goto out;
	}
	audio = pick_audio(s, &c->srtp[from]);
	if (audio < 0) {
		set_why(why, whylen, "no audio stream offered");
		err = ENOTSUP;
		goto out;
	}
	am = &s->media[audio];
	hold_2543(am);
	if (!b2b_srtp_proto_ok(am->proto)) {
		set_why(why, whylen, "only RTP/AVP, RTP/AVPF, RTP/SAVP and RTP/SAVPF audio are supported");
		err = ENOTSUP;
		goto out;
	}
	sdp_media_filter(am, c->allowed, c->n_allowed);
	trunk_filter(am, c, from);
	if (!sdp_media_has_audio_codec(am)) {
		set_why(why, whylen, "no common codec (PCMU, PCMA, opus)");
		err = ENOTSUP;
		goto out;
	}
	err = b2b_srtp_take_offer(am, &c->srtp[from], &m->crypto[from], &m->crypto_pend, &w);
	if (err) {
		set_why(why, whylen, w);
		goto out;
	}

	/* Our offer to the other side. */
	session_reset(o, 1);
	o->n_media = 1;
	o->media[0] = *am;
	local_media(&o->media[0], c, to);
	if (build_offer(m, c, to, am, &o->media[0]) != 0) {
		set_why(why, whylen, "no codec allowed toward the called trunk");
		err = ENOTSUP;
		goto out;
	}
	err = b2b_srtp_make_offer(&o->media[0], &c->srtp[to], &m->crypto[to],
				  &m->crypto_offered, &w);
	if (err) {
		set_why(why, whylen, w ? w : "cannot write the crypto attributes");
		goto out;
	}
	side_remember_remote(&m->side[from], s, am, sdp, len);

	/* Remember the offer's shape so the answer can mirror it. */
	m->n_mlines = s->n_media;
	for (size_t i = 0; i < s->n_media; i++) {
		struct b2b_mline *ml = &m->mlines[i];

		scopy(ml->type, sizeof(ml->type), s->media[i].type);
		scopy(ml->proto, sizeof(ml->proto), s->media[i].proto);
		ml->first_pt = 0;
		ml->first_name[0] = '\0';
		if (s->media[i].n_codecs) {
			const struct sdp_codec *k = &s->media[i].codecs[0];

			/* a rejected RTP line needs its PT only (RFC 3264 6): no rtpmap,
			 * which keeps an answer with many such lines short */
			ml->first_pt = k->pt;
			if (!strstr(ml->proto, "RTP/"))
				scopy(ml->first_name, sizeof(ml->first_name), k->name);
		}
	}
	m->audio_idx = audio;
	m->offer_audio = *am;
	m->offer_from = from;
	m->opus[0] = c->opus[0];
	m->opus[1] = c->opus[1];
	m->dtmf[0] = c->dtmf[0];
	m->dtmf[1] = c->dtmf[1];
	err = write_local(m, to, o, out, outlen, outn, why, whylen);
out:
	if (s != c->scratch)
		free(s);
	return err;
}

int b2b_sdp_offer_local(struct b2b_media *m, const struct b2b_sdp_ctx *c, int to, char *out,
			size_t outlen, size_t *outn, char *why, size_t whylen)
{
	struct sdp_session *o;
	struct sdp_media *am = &m->offer_audio;
	const char *w = NULL;
	int from = !to, err;

	if (!m || !c || (to != 0 && to != 1))
		return EINVAL;
	if (c->srtp[from].mode == B2B_SRTP_REQUIRED) {
		/* our SDP to that leg would be an offer, answered in its ACK: not done with
		 * keys */
		set_why(why, whylen, "SRTP is required on this trunk: send an offer");
		return ENOTSUP;
	}
	memset(&m->crypto_pend, 0, sizeof(m->crypto_pend));
	memset(am, 0, offsetof(struct sdp_media, codecs));
	snprintf(am->type, sizeof(am->type), "audio");
	snprintf(am->proto, sizeof(am->proto), "RTP/AVP");
	am->dir = SDP_DIR_SENDRECV;
	am->n_codecs = 0;
	for (size_t i = 0; i < c->n_allowed && am->n_codecs < SDP_MAX_CODECS; i++) {
		struct sdp_codec *k = &am->codecs[am->n_codecs];

		/* events go to `to` if it takes them; the answer drops them for `from`
		 * if it does not */
		if (local_codec(c->allowed[i], k) && pref_rank(c, to, k) != SIZE_MAX &&
		    (is_te(k->name) || pref_rank(c, from, k) != SIZE_MAX)) {
			m->offer_q[am->n_codecs] = k->pt;
			m->offered_src[am->n_codecs] = (int8_t)am->n_codecs;
			am->n_codecs++;
		}
	}
	if (!sdp_media_has_audio_codec(am)) {
		set_why(why, whylen, "no codec allowed on this route");
		return ENOTSUP;
	}
	m->offered = *am;
	m->n_mlines = 1;
	memset(&m->mlines[0], 0, sizeof(m->mlines[0]));
	snprintf(m->mlines[0].type, sizeof(m->mlines[0].type), "audio");
	snprintf(m->mlines[0].proto, sizeof(m->mlines[0].proto), "RTP/AVP");
	m->audio_idx = 0;
	m->offer_from = from;
	m->side[from].valid = false;
	m->opus[0] = c->opus[0];
	m->opus[1] = c->opus[1];
	m->dtmf[0] = c->dtmf[0];
	m->dtmf[1] = c->dtmf[1];
	o = c->scratch ? c->scratch + 1 : calloc(1, sizeof(*o));
	if (!o)
		return ENOMEM;
	session_reset(o, 1);
	o->n_media = 1;
	o->media[0] = *am;
	local_media(&o->media[0], c, to);
	err = b2b_srtp_make_offer(&o->media[0], &c->srtp[to], &m->crypto[to],
				  &m->crypto_offered, &w);
	if (err)
		set_why(why, whylen, w ? w : "cannot write the crypto attributes");
	else
		err = write_local(m, to, o, out, outlen, outn, why, whylen);
	if (!c->scratch)
		free(o);
	return err;
}

static void choose(struct b2b_choice *ch, const struct sdp_codec *k, uint8_t pt, uint8_t sent,
		   uint32_t ptime)
{
	memset(ch, 0, sizeof(*ch));
	ch->valid = true;
	scopy(ch->name, sizeof(ch->name), k->name);
	ch->rate = k->rate;
	scopy(ch->fmtp, sizeof(ch->fmtp), k->fmtp);
	ch->pt = pt;
	ch->sent = sent;
	ch->te_pt = ch->te_sent = MEDIA_PT_NONE;
	ch->ptime = ptime;
}

static void add_codec(struct b2b_codec *codecs, size_t *n, const struct sdp_codec *k, int side,
		      uint8_t pt, uint8_t sent)
{
	struct b2b_codec *x;

	if (*n >= SDP_MAX_CODECS)
		return;
	x = &codecs[(*n)++];
	memset(x, 0, sizeof(*x));
	scopy(x->name, sizeof(x->name), k->name);
	x->rate = k->rate;
	x->channels = k->channels;
	scopy(x->fmtp, sizeof(x->fmtp), k->fmtp);
	x->pt[side] = pt;
	x->sent[side] = sent;
	x->pt[!side] = x->sent[!side] = MEDIA_PT_NONE;
}

/* The answerer chose a codec trunx added: each leg keeps its own, trunx transcodes. */
static void negotiate_transcoded(struct b2b_media *m, const struct sdp_media *am,
				 const struct sdp_codec *bk, size_t e, struct b2b_codec *codecs,
				 size_t *n)
{
	int from = m->offer_from, to = !from;
	const struct sdp_media *oa = &m->offer_audio;
	const struct sdp_codec *ak = NULL;
	enum media_codec aid = MEDIA_CODEC_NONE;

	choose(&m->choice[to], bk, bk->pt, m->offered.codecs[e].pt, am->ptime);
	add_codec(codecs, n, bk, to, bk->pt, m->offered.codecs[e].pt);
	for (size_t i = 0; i < am->n_codecs; i++) {
		const struct sdp_codec *t = &am->codecs[i];

		if (!is_te(t->name))
			continue;
		for (size_t j = 0; j < m->offered.n_codecs; j++) {
			const struct sdp_codec *q = &m->offered.codecs[j];

			if (is_te(q->name) && q->rate == t->rate) {
				m->choice[to].te_pt = t->pt;
				m->choice[to].te_sent = q->pt;
				m->choice[to].te_rate = t->rate;
				add_codec(codecs, n, t, to, t->pt, q->pt);
				i = am->n_codecs;
				break;
			}
		}
	}
	for (size_t i = 0; i < oa->n_codecs && !ak; i++) {
		aid = codec_id(oa->codecs[i].name, oa->codecs[i].rate);
		if (aid)
			ak = &oa->codecs[i];
	}
	if (!ak)
		return;   /* build_offer added no codec then: cannot happen */
	choose(&m->choice[from], ak, ak->pt, ak->pt, oa->ptime);
	add_codec(codecs, n, ak, from, ak->pt, ak->pt);
	{
		uint32_t want = aid == MEDIA_CODEC_OPUS ? 48000 : 8000;
		const struct sdp_codec *te = NULL;

		for (size_t i = 0; i < oa->n_codecs; i++) {
			const struct sdp_codec *t = &oa->codecs[i];

			if (is_te(t->name) && (!te || (t->rate == want && te->rate != want)))
				te = t;
		}
		if (te) {
			m->choice[from].te_pt = m->choice[from].te_sent = te->pt;
			m->choice[from].te_rate = te->rate;
			add_codec(codecs, n, te, from, te->pt, te->pt);
		}
	}
	m->transcode = true;
}

/* A relay whose legs carry digits differently, or at different event clocks:
 * telephone-event negotiated on each leg on its own (the media session moves events
 * between the clocks, or turns them into tones or INFO and back). The answerer's
 * event codec counts when it answered one trunx added to the offer; the offerer's
 * is answered when its leg takes RFC 4733 and the events go somewhere: the other
 * leg took events too, or takes digits another way. */
static void relay_te_one_side(struct b2b_media *m, const struct sdp_media *am,
			      struct b2b_codec *codecs, size_t *n)
{
	int from = m->offer_from, to = !from;
	bool te_from = false, te_to = false;

	for (size_t i = 0; i < *n; i++) {
		if (is_te(codecs[i].name)) {
			te_from |= codecs[i].pt[from] < 128;
			te_to |= codecs[i].pt[to] < 128;
		}
	}
	for (size_t i = 0; !te_to && m->dtmf[to] == MEDIA_DTMF_RFC4733 && i < am->n_codecs;
	     i++) {
		const struct sdp_codec *t = &am->codecs[i];

		for (size_t j = 0; is_te(t->name) && j < m->offered.n_codecs; j++) {
			const struct sdp_codec *q = &m->offered.codecs[j];

			if (is_te(q->name) && q->rate == t->rate && m->offered_src[j] < 0) {
				add_codec(codecs, n, t, to, t->pt, q->pt);
				te_to = true;
				break;
			}
		}
	}
	if (!te_from && m->dtmf[from] == MEDIA_DTMF_RFC4733 &&
	    (te_to || m->dtmf[to] != MEDIA_DTMF_RFC4733)) {
		const struct sdp_codec *te = NULL;

		for (size_t i = 0; i < m->offer_audio.n_codecs; i++) {
			const struct sdp_codec *t = &m->offer_audio.codecs[i];

			if (is_te(t->name) && (!te || t->rate == m->choice[from].rate))
				te = t;
		}
		if (te)
			add_codec(codecs, n, te, from, te->pt, te->pt);
	}
}

/*
 * The direction of our answer to an offer with direction `offer`, relaying an answer
 * with direction `ans`: what the answerer said, less what the offer does not allow
 * (RFC 3264 6.1: sendonly is answered recvonly or inactive, and so on). A callee that
 * answers a held call sendrecv does not make trunx answer the holder sendrecv.
 */
static enum sdp_dir answer_dir(enum sdp_dir offer, enum sdp_dir ans)
{
	static const unsigned bits[] = {
		[SDP_DIR_SENDRECV] = 3, [SDP_DIR_SENDONLY] = 1,
		[SDP_DIR_RECVONLY] = 2, [SDP_DIR_INACTIVE] = 0,
	};
	unsigned o = bits[offer & 3], allowed = ((o & 1) << 1) | ((o & 2) >> 1);

	switch (bits[ans & 3] & allowed) {
	case 3:  return SDP_DIR_SENDRECV;
	case 1:  return SDP_DIR_SENDONLY;
	case 2:  return SDP_DIR_RECVONLY;
	default: return SDP_DIR_INACTIVE;
	}
}

int b2b_sdp_answer(struct b2b_media *m, const struct b2b_sdp_ctx *c, const char *sdp,
		   size_t len, char *out, size_t outlen, size_t *outn, char *why,
		   size_t whylen)
{
	struct sdp_session *s, *o;
	struct sdp_media *am, *om;
	struct b2b_codec codecs[SDP_MAX_CODECS];
	const struct sdp_codec *bk = NULL;
	struct b2b_crypto cto;
	const char *w = NULL;
	size_t n = 0, e = 0;
	int from, to, err = 0;

	if (!m || !c || !sdp || m->offer_from < 0)
		return EINVAL;
	from = m->offer_from;
	to = !from;
	s = c->scratch ? c->scratch : calloc(2, sizeof(*s));
	if (!s)
		return ENOMEM;
	o = s + 1;
	if (sdp_parse(s, sdp, len, why, whylen) != 0) {
		err = EINVAL;
		goto out;
	}
	if (s->n_media < 1 || strcasecmp(s->media[0].type, "audio") != 0 ||
	    s->media[0].port == 0) {
		set_why(why, whylen, "audio stream rejected by the called party");
		err = ENOTSUP;
		goto out;
	}
	am = &s->media[0];
	hold_2543(am);
	/* The answerer's first audio codec that we offered decides the mode. */
	for (size_t i = 0; i < am->n_codecs && !bk; i++) {
		if (!is_audio(am->codecs[i].name))
			continue;
		for (size_t j = 0; j < m->offered.n_codecs; j++) {
			if (codec_eq(m->offered.codecs[j].name, m->offered.codecs[j].rate,
				     am->codecs[i].name, am->codecs[i].rate)) {
				bk = &am->codecs[i];
				e = j;
				break;
			}
		}
	}
	if (!bk) {
		set_why(why, whylen, "no common codec (PCMU, PCMA, opus)");
		err = ENOTSUP;
		goto out;
	}
	err = b2b_srtp_take_answer(am, &m->crypto_offered, &cto, &w);
	if (err) {
		set_why(why, whylen, w);
		goto out;
	}
	m->transcode = false;
	if (m->offered_src[e] < 0) {
		negotiate_transcoded(m, am, bk, e, codecs, &n);
	} else {
		/* Relay: every answered codec that relays one of the offerer's. */
		for (size_t i = 0; i < am->n_codecs && n < SDP_MAX_CODECS; i++) {
			const struct sdp_codec *ac = &am->codecs[i];

			for (size_t j = 0; j < m->offer_audio.n_codecs; j++) {
				const struct sdp_codec *oc = &m->offer_audio.codecs[j];
				struct b2b_codec *k;

				if (m->offer_q[j] > 127 ||
				    !codec_eq(oc->name, oc->rate, ac->name, ac->rate))
					continue;
				k = &codecs[n++];
				memset(k, 0, sizeof(*k));
				scopy(k->name, sizeof(k->name), oc->name);
				k->rate = oc->rate;
				k->channels = oc->channels;
				scopy(k->fmtp, sizeof(k->fmtp), oc->fmtp);
				k->pt[from] = oc->pt;
				k->sent[from] = oc->pt;
				k->pt[to] = ac->pt;
				k->sent[to] = m->offer_q[j];
				if (is_te(oc->name) && m->dtmf[from] != MEDIA_DTMF_RFC4733)
					k->pt[from] = k->sent[from] = MEDIA_PT_NONE;
				break;
			}
		}
		for (int sd = 0; sd < 2; sd++)
			choose(&m->choice[sd], bk, bk->pt, bk->pt, 0);
		relay_te_one_side(m, am, codecs, &n);
	}
	side_remember_remote(&m->side[to], s, am, sdp, len);
	memcpy(m->codecs, codecs, n * sizeof(codecs[0]));
	m->n_codecs = n;
	m->crypto[to] = cto;
	m->crypto[from] = m->crypto_pend;
	memset(&cto, 0, sizeof(cto));

	/* The answer to the offerer mirrors its m= lines; only the audio one is kept. */
	session_reset(o, m->n_mlines);
	o->n_media = m->n_mlines;
	for (size_t i = 0; i < m->n_mlines; i++) {
		struct sdp_media *x = &o->media[i];

		if ((int)i == m->audio_idx)
			continue;
		scopy(x->type, sizeof(x->type), m->mlines[i].type);
		scopy(x->proto, sizeof(x->proto), m->mlines[i].proto);
		x->port = 0;
		x->af = strchr(c->media_addr, ':') ? SDP_AF_IP6 : SDP_AF_IP4;
		scopy(x->addr, sizeof(x->addr), c->media_addr);
		x->n_codecs = 1;
		memset(&x->codecs[0], 0, sizeof(x->codecs[0]));
		x->codecs[0].pt = m->mlines[i].first_pt;
		x->codecs[0].channels = 1;
		scopy(x->codecs[0].name, sizeof(x->codecs[0].name), m->mlines[i].first_name);
		x->dir = SDP_DIR_INACTIVE;
	}
	om = &o->media[m->audio_idx];
	memset(om, 0, offsetof(struct sdp_media, codecs));
	local_media(om, c, from);
	b2b_srtp_write_answer(om, &m->crypto[from]);
	om->rtcp_mux = m->side[from].rtcp_mux;
	om->dir = m->side[from].valid ? answer_dir(m->side[from].dir, am->dir) : am->dir;
	om->ptime = m->transcode ? m->offer_audio.ptime : am->ptime;
	for (size_t i = 0; i < n; i++) {
		struct sdp_codec *x;

		if (codecs[i].pt[from] > 127)
			continue;   /* the other leg's codec (transcoding) */
		x = &om->codecs[om->n_codecs++];
		x->pt = codecs[i].pt[from];
		scopy(x->name, sizeof(x->name), codecs[i].name);
		x->rate = codecs[i].rate;
		x->channels = codecs[i].channels ? codecs[i].channels : 1;
		scopy(x->fmtp, sizeof(x->fmtp), codecs[i].fmtp);
		if (m->transcode && codec_id(x->name, x->rate) == MEDIA_CODEC_OPUS)
			opus_fmtp_8k(x->fmtp, sizeof(x->fmtp), &m->opus[from]);
	}
	err = write_local(m, from, o, out, outlen, outn, why, whylen);
	if (!err)
		m->offer_from = -1;
out:
	if (s != c->scratch)
		free(s);
	return err;
}

int b2b_sdp_remote(struct b2b_media *m, int side, const char *sdp, size_t len, char *why,
		   size_t whylen)
{
	struct sdp_session *s = calloc(1, sizeof(*s));
	const char *w = NULL;
	int audio, err = 0;

	if (!s)
		return ENOMEM;
	if (sdp_parse(s, sdp, len, why, whylen) != 0) {
		err = EINVAL;
	} else if ((audio = sdp_first_audio(s)) < 0) {
		set_why(why, whylen, "no audio stream");
		err = ENOTSUP;
	} else if ((err = b2b_srtp_take_reanswer(&s->media[audio], &m->crypto[side], &w))) {
		set_why(why, whylen, w);
	} else {
		hold_2543(&s->media[audio]);
		side_remember_remote(&m->side[side], s, &s->media[audio], sdp, len);
	}
	free(s);
	return err;
}

static enum media_dir media_dir_of(enum sdp_dir d)
{
	switch (d) {
	case SDP_DIR_SENDONLY: return MEDIA_DIR_SENDONLY;
	case SDP_DIR_RECVONLY: return MEDIA_DIR_RECVONLY;
	case SDP_DIR_INACTIVE: return MEDIA_DIR_INACTIVE;
	default:               return MEDIA_DIR_SENDRECV;
	}
}

static void fill_addr(struct sockaddr_storage *ss, const struct b2b_side *sd, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (!sd->valid || !port)
		return;
	if (sd->af == SDP_AF_IP6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, sd->addr, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(port);
		}
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, sd->addr, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons(port);
		}
	}
}

/* The media engine's view of a leg's codec (relay: both legs the same codec). */
static void codec_params(const struct b2b_media *m, int side, struct media_codec_params *cp)
{
	const struct b2b_choice *ch = &m->choice[side];
	struct sdp_opus op;

	memset(cp, 0, sizeof(*cp));
	cp->pt = cp->te_pt = MEDIA_PT_NONE;
	memset(cp->pt_rx, MEDIA_PT_NONE, sizeof(cp->pt_rx));
	memset(cp->te_pt_rx, MEDIA_PT_NONE, sizeof(cp->te_pt_rx));
	if (!ch->valid)
		return;
	cp->codec = codec_id(ch->name, ch->rate);
	cp->pt = ch->pt;
	cp->pt_rx[0] = ch->sent;
	cp->pt_rx[1] = ch->pt;
	cp->te_pt = ch->te_pt;
	cp->te_pt_rx[0] = ch->te_sent;
	cp->te_pt_rx[1] = ch->te_pt;
	cp->te_rate = ch->te_rate;
	cp->ptime = (uint16_t)(ch->ptime <= 60 ? ch->ptime : 0);
	/* What this leg asked of our encoder, within what its trunk allows. */
	sdp_opus_parse(&op, ch->fmtp);
	if (op.ptime && !cp->ptime)
		cp->ptime = op.ptime;
	cp->opus.complexity = m->opus[side].complexity;
	cp->opus.fec = op.useinbandfec && m->opus[side].fec;
	cp->opus.dtx = op.usedtx && m->opus[side].dtx;
	cp->opus.max_bitrate = op.maxaveragebitrate;
	cp->opus.max_playback_rate = op.maxplaybackrate;
}

void b2b_sdp_media_params(const struct b2b_media *m, struct media_session_params *p)
{
	memset(p, 0, sizeof(*p));
	for (int s = 0; s < 2; s++) {
		const struct b2b_side *sd = &m->side[s];
		struct media_side_params *mp = &p->side[s];
		int other = !s;

		fill_addr(&mp->rtp, sd, sd->port);
		fill_addr(&mp->rtcp, sd, sd->rtcp_port);
		mp->rtcp_mux = sd->rtcp_mux;
		mp->dir = media_dir_of(sd->dir);
		memset(mp->pt_map, MEDIA_PT_NONE, sizeof(mp->pt_map));
		/* A side sends what our SDP told it; tolerate its own numbers too. */
		for (size_t i = 0; i < m->n_codecs; i++) {
			const struct b2b_codec *k = &m->codecs[i];

			if (k->sent[s] < 128)
				mp->pt_map[k->sent[s]] = k->pt[other];
		}
		for (size_t i = 0; i < m->n_codecs; i++) {
			const struct b2b_codec *k = &m->codecs[i];

			if (k->pt[s] < 128 && mp->pt_map[k->pt[s]] == MEDIA_PT_NONE)
				mp->pt_map[k->pt[s]] = k->pt[other];
		}
		codec_params(m, s, &mp->codec);
		b2b_srtp_media(&m->crypto[s], &mp->srtp);
		b2b_dtmf_media_params(m, s, &mp->dtmf);
	}
}

void b2b_sdp_media_params_pending(const struct b2b_media *m, struct media_session_params *p)
{
	int from = m->offer_from, to = !from;
	struct media_side_params *mf, *mt;

	memset(p, 0, sizeof(*p));
	if (from != 0 && from != 1)
		return;
	mf = &p->side[from];
	mt = &p->side[to];
	fill_addr(&mf->rtp, &m->side[from], m->side[from].port);
	fill_addr(&mf->rtcp, &m->side[from], m->side[from].rtcp_port);
	mf->rtcp_mux = m->side[from].rtcp_mux;
	mf->dir = media_dir_of(m->side[from].dir);
	/* The answerer's address is not known yet: the unspecified address lets its first
	 * packets latch and reach the offerer, while nothing is sent toward it. */
	if (m->side[from].af == SDP_AF_IP6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&mt->rtp;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(9);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&mt->rtp;

		a4->sin_family = AF_INET;
		a4->sin_port = htons(9);
	}
	mt->dir = MEDIA_DIR_SENDRECV;
	/* The offerer's keys are known; the answerer's only with its answer. */
	b2b_srtp_media(&m->crypto_pend, &mf->srtp);
	mt->srtp.pending = m->crypto_offered.n > 0;
	memset(mf->pt_map, MEDIA_PT_NONE, sizeof(mf->pt_map));
	memset(mt->pt_map, MEDIA_PT_NONE, sizeof(mt->pt_map));
	for (size_t i = 0; i < m->offer_audio.n_codecs; i++) {
		uint8_t pt = m->offer_audio.codecs[i].pt, q = m->offer_q[i];

		if (pt < 128 && q < 128) {
			mf->pt_map[pt] = q;
			mt->pt_map[q] = pt;
		}
	}
}

enum media_codec b2b_sdp_media_codec(const struct b2b_media *m, int side)
{
	const struct b2b_choice *ch = &m->choice[side & 1];

	return ch->valid ? codec_id(ch->name, ch->rate) : MEDIA_CODEC_NONE;
}

void b2b_sdp_codec_side(const struct b2b_media *m, int side, char *out, size_t len)
{
	const struct b2b_choice *ch = &m->choice[side & 1];

	if (!ch->valid) {
		b2b_sdp_codec(m, out, len);
		return;
	}
	snprintf(out, len, "%.*s/%u", SDP_NAME_MAX, ch->name, (unsigned)ch->rate);
}

void b2b_sdp_codec(const struct b2b_media *m, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < m->n_codecs; i++) {
		if (strcasecmp(m->codecs[i].name, "telephone-event") != 0 &&
		    strcasecmp(m->codecs[i].name, "CN") != 0) {
			snprintf(out, len, "%.*s/%u", SDP_NAME_MAX, m->codecs[i].name,
				 (unsigned)m->codecs[i].rate);
			return;
		}
	}
}

bool b2b_sdp_is_refresh(const struct b2b_media *m, int side, const char *sdp, size_t len)
{
	const struct b2b_side *sd = &m->side[side];
	char line[256];
	const char *p = sdp, *end = sdp + len;
	unsigned long long id, ver;

	if (!sd->valid)
		return false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l > 2 && p[0] == 'o' && p[1] == '=') {
			if (l >= sizeof(line))
				return false;
			memcpy(line, p, l);
			line[l] = '\0';
			if (sscanf(line, "o=%*s %llu %llu", &id, &ver) != 2)
				return false;
			/* RFC 3264 8: an unchanged version means an unchanged SDP, but some
			 * peers (OCS/Lync heritage, older PBXs) change direction or codecs
			 * without a new version: only the same bytes are a refresh. */
			return id == sd->remote_sess_id && ver == sd->remote_version &&
			       body_hash(sdp, len) == sd->remote_hash;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

/* ---- for the re-bridge's own offer and answer (b2bua_rebridge_sdp.c) ---- */

bool b2b_sdp_transcodable(const char *name, uint32_t rate)
{
	return codec_id(name, rate) != MEDIA_CODEC_NONE;
}

bool b2b_sdp_trunk_allows(const struct b2b_sdp_ctx *c, int side, const struct sdp_codec *k,
			  size_t *rank)
{
	size_t r = pref_rank(c, side, k);

	if (rank)
		*rank = r;
	return r != SIZE_MAX;
}

bool b2b_sdp_local_codec(const char *spec, const struct b2b_opus_opts *o, struct sdp_codec *k)
{
	if (!local_codec(spec, k))
		return false;
	if (codec_id(k->name, k->rate) == MEDIA_CODEC_OPUS)
		opus_fmtp_8k(k->fmtp, sizeof(k->fmtp), o);
	return true;
}

void b2b_sdp_side_remote(struct b2b_side *sd, const struct sdp_session *s,
			 const struct sdp_media *am, const char *sdp, size_t len)
{
	side_remember_remote(sd, s, am, sdp, len);
}
