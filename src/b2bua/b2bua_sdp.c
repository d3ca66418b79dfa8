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
		snprintf(why, len, "%s", s);
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

static void side_remember_remote(struct b2b_side *sd, const struct sdp_session *s,
				 const struct sdp_media *am)
{
	sd->valid = true;
	scopy(sd->addr, sizeof(sd->addr), am->addr);
	sd->af = am->af;
	sd->port = am->port;
	sd->rtcp_port = am->rtcp_port;
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
	out->rtcp_mux = false;
	out->af = strchr(c->media_addr, ':') ? SDP_AF_IP6 : SDP_AF_IP4;
	scopy(out->addr, sizeof(out->addr), c->media_addr);
}

static int write_local(struct b2b_media *m, int side, struct sdp_session *s, char *out,
		       size_t outlen, size_t *outn, char *why, size_t whylen)
{
	int n;

	snprintf(s->origin_user, sizeof(s->origin_user), "trunx");
	snprintf(s->name, sizeof(s->name), "-");
	s->sess_id = m->sess_id;
	s->sess_version = ++m->side[side].local_version;
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

int b2b_sdp_offer(struct b2b_media *m, const struct b2b_sdp_ctx *c, int from,
		  const char *sdp, size_t len, char *out, size_t outlen, size_t *outn,
		  char *why, size_t whylen)
{
	struct sdp_session *s, *o;
	struct sdp_media *am;
	int to = !from, audio, err = 0;
	bool used[128] = {false};

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
	audio = sdp_first_audio(s);
	if (audio < 0) {
		set_why(why, whylen, "no audio stream offered");
		err = ENOTSUP;
		goto out;
	}
	am = &s->media[audio];
	if (strcasecmp(am->proto, "RTP/AVP") != 0) {
		set_why(why, whylen, "only RTP/AVP audio is supported");
		err = ENOTSUP;
		goto out;
	}
	sdp_media_filter(am, c->allowed, c->n_allowed);
	if (!sdp_media_has_audio_codec(am)) {
		set_why(why, whylen, "no common codec (PCMU, PCMA)");
		err = ENOTSUP;
		goto out;
	}
	side_remember_remote(&m->side[from], s, am);

	/* Remember the offer's shape so the answer can mirror it. */
	m->n_mlines = s->n_media;
	for (size_t i = 0; i < s->n_media; i++) {
		struct b2b_mline *ml = &m->mlines[i];

		scopy(ml->type, sizeof(ml->type), s->media[i].type);
		scopy(ml->proto, sizeof(ml->proto), s->media[i].proto);
		memset(&ml->first, 0, sizeof(ml->first));
		if (s->media[i].n_codecs)
			ml->first = s->media[i].codecs[0];
	}
	m->audio_idx = audio;
	m->offer_audio = *am;
	m->offer_from = from;

	/* Our offer to the other side: its negotiated PT numbers where known. */
	session_reset(o, 1);
	o->n_media = 1;
	o->media[0] = *am;
	local_media(&o->media[0], c, to);
	for (size_t i = 0; i < am->n_codecs; i++) {
		const struct b2b_codec *k = negotiated(m, am->codecs[i].name, am->codecs[i].rate);
		uint8_t q = k ? k->sent[to] : am->codecs[i].pt;

		if (q >= 128 || used[q])
			q = am->codecs[i].pt;
		used[q] = true;
		m->offer_q[i] = q;
		o->media[0].codecs[i].pt = q;
	}
	err = write_local(m, to, o, out, outlen, outn, why, whylen);
out:
	if (s != c->scratch)
		free(s);
	return err;
}

/* Static payload types of trunx's own offers; telephone-event takes 101. */
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
	} else if (strcasecmp(spec, "telephone-event/8000") == 0) {
		k->pt = 101;
		snprintf(k->name, sizeof(k->name), "telephone-event");
		snprintf(k->fmtp, sizeof(k->fmtp), "0-16");
	} else {
		return false;
	}
	return true;
}

int b2b_sdp_offer_local(struct b2b_media *m, const struct b2b_sdp_ctx *c, int to, char *out,
			size_t outlen, size_t *outn, char *why, size_t whylen)
{
	struct sdp_session *o;
	struct sdp_media *am = &m->offer_audio;
	int from = !to, err;

	if (!m || !c || (to != 0 && to != 1))
		return EINVAL;
	memset(am, 0, offsetof(struct sdp_media, codecs));
	snprintf(am->type, sizeof(am->type), "audio");
	snprintf(am->proto, sizeof(am->proto), "RTP/AVP");
	am->dir = SDP_DIR_SENDRECV;
	am->n_codecs = 0;
	for (size_t i = 0; i < c->n_allowed && am->n_codecs < SDP_MAX_CODECS; i++) {
		if (local_codec(c->allowed[i], &am->codecs[am->n_codecs])) {
			m->offer_q[am->n_codecs] = am->codecs[am->n_codecs].pt;
			am->n_codecs++;
		}
	}
	if (!sdp_media_has_audio_codec(am)) {
		set_why(why, whylen, "no codec allowed on this route");
		return ENOTSUP;
	}
	m->n_mlines = 1;
	memset(&m->mlines[0], 0, sizeof(m->mlines[0]));
	snprintf(m->mlines[0].type, sizeof(m->mlines[0].type), "audio");
	snprintf(m->mlines[0].proto, sizeof(m->mlines[0].proto), "RTP/AVP");
	m->audio_idx = 0;
	m->offer_from = from;
	m->side[from].valid = false;
	o = c->scratch ? c->scratch + 1 : calloc(1, sizeof(*o));
	if (!o)
		return ENOMEM;
	session_reset(o, 1);
	o->n_media = 1;
	o->media[0] = *am;
	local_media(&o->media[0], c, to);
	err = write_local(m, to, o, out, outlen, outn, why, whylen);
	if (!c->scratch)
		free(o);
	return err;
}

int b2b_sdp_answer(struct b2b_media *m, const struct b2b_sdp_ctx *c, const char *sdp,
		   size_t len, char *out, size_t outlen, size_t *outn, char *why,
		   size_t whylen)
{
	struct sdp_session *s, *o;
	struct sdp_media *am, *om;
	struct b2b_codec codecs[SDP_MAX_CODECS];
	size_t n = 0;
	int from, to, err = 0;
	bool audio_ok = false;

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
	for (size_t i = 0; i < am->n_codecs && n < SDP_MAX_CODECS; i++) {
		const struct sdp_codec *ac = &am->codecs[i];

		for (size_t j = 0; j < m->offer_audio.n_codecs; j++) {
			const struct sdp_codec *oc = &m->offer_audio.codecs[j];
			struct b2b_codec *k;

			if (!codec_eq(oc->name, oc->rate, ac->name, ac->rate))
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
			if (strcasecmp(k->name, "telephone-event") != 0 &&
			    strcasecmp(k->name, "CN") != 0)
				audio_ok = true;
			break;
		}
	}
	if (!audio_ok) {
		set_why(why, whylen, "no common codec (PCMU, PCMA)");
		err = ENOTSUP;
		goto out;
	}
	side_remember_remote(&m->side[to], s, am);
	memcpy(m->codecs, codecs, n * sizeof(codecs[0]));
	m->n_codecs = n;

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
		x->codecs[0] = m->mlines[i].first;
		x->dir = SDP_DIR_INACTIVE;
	}
	om = &o->media[m->audio_idx];
	memset(om, 0, offsetof(struct sdp_media, codecs));
	local_media(om, c, from);
	om->dir = am->dir;
	om->ptime = am->ptime;
	for (size_t i = 0; i < n; i++) {
		struct sdp_codec *x = &om->codecs[om->n_codecs++];

		x->pt = codecs[i].pt[from];
		scopy(x->name, sizeof(x->name), codecs[i].name);
		x->rate = codecs[i].rate;
		x->channels = codecs[i].channels ? codecs[i].channels : 1;
		scopy(x->fmtp, sizeof(x->fmtp), codecs[i].fmtp);
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
	int audio, err = 0;

	if (!s)
		return ENOMEM;
	if (sdp_parse(s, sdp, len, why, whylen) != 0) {
		err = EINVAL;
	} else if ((audio = sdp_first_audio(s)) < 0) {
		set_why(why, whylen, "no audio stream");
		err = ENOTSUP;
	} else {
		side_remember_remote(&m->side[side], s, &s->media[audio]);
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

void b2b_sdp_media_params(const struct b2b_media *m, struct media_session_params *p)
{
	memset(p, 0, sizeof(*p));
	for (int s = 0; s < 2; s++) {
		const struct b2b_side *sd = &m->side[s];
		struct media_side_params *mp = &p->side[s];
		int other = !s;

		fill_addr(&mp->rtp, sd, sd->port);
		fill_addr(&mp->rtcp, sd, sd->rtcp_port);
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
			return id == sd->remote_sess_id && ver == sd->remote_version;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}
