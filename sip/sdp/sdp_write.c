/*
 * sdp_write.c — struct sdp_session back into SDP text, and the small offer/answer
 * helpers (direction, codec filter and search) the B2BUA uses to build its own
 * offers and answers. The writer refuses sessions it cannot express as valid SDP
 * rather than emitting something a peer would misread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sdp.h"

struct out {
	char  *buf;
	size_t cap, len;
	bool   full;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

/** A NUL-terminated, non-empty token without blanks or control characters. */
static bool token_ok(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	if (!end || end == s)
		return false;
	for (; s < end; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/** A NUL-terminated text without control characters other than tab. */
static bool text_ok(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	if (!end)
		return false;
	for (; s < end; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static bool is_rtp(const char *proto)
{
	return strstr(proto, "RTP/") != NULL;
}

static const char *af_name(enum sdp_addr_family af)
{
	return af == SDP_AF_IP6 ? "IP6" : "IP4";
}

static bool media_ok(const struct sdp_media *m)
{
	if (!token_ok(m->type, sizeof(m->type)) || !token_ok(m->proto, sizeof(m->proto)) ||
	    m->n_codecs > SDP_MAX_CODECS || (unsigned)m->dir > SDP_DIR_INACTIVE ||
	    (unsigned)m->af > SDP_AF_IP6)
		return false;
	if (m->port && (m->af == SDP_AF_NONE || m->n_codecs == 0))
		return false;
	if (m->af != SDP_AF_NONE && !token_ok(m->addr, sizeof(m->addr)))
		return false;
	if (m->n_crypto > SDP_MAX_CRYPTO)
		return false;
	for (size_t i = 0; i < m->n_crypto; i++)
		if (!m->crypto[i][0] || !text_ok(m->crypto[i], sizeof(m->crypto[i])))
			return false;
	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct sdp_codec *c = &m->codecs[i];

		if (!is_rtp(m->proto)) {
			if (!token_ok(c->name, sizeof(c->name)))
				return false;
			continue;
		}
		if (c->pt > 127 || !text_ok(c->fmtp, sizeof(c->fmtp)) ||
		    !memchr(c->name, '\0', sizeof(c->name)) ||
		    (c->name[0] && (!token_ok(c->name, sizeof(c->name)) || c->rate == 0)))
			return false;
	}
	return true;
}

static void write_media(struct out *o, const struct sdp_media *m)
{
	bool rtp = is_rtp(m->proto);

	emit(o, "m=%s %u %s", m->type, m->port, m->proto);
	for (size_t i = 0; i < m->n_codecs; i++) {
		if (rtp)
			emit(o, " %u", m->codecs[i].pt);
		else
			emit(o, " %s", m->codecs[i].name);
	}
	if (m->n_codecs == 0)
		emit(o, " 0");   /* a rejected stream still needs a format */
	emit(o, "\r\n");
	if (m->af != SDP_AF_NONE)
		emit(o, "c=IN %s %s\r\n", af_name(m->af), m->addr);
	for (size_t i = 0; rtp && i < m->n_codecs; i++) {
		const struct sdp_codec *c = &m->codecs[i];

		if (!c->name[0])
			continue;   /* an unnamed static payload type: nothing to map */
		emit(o, "a=rtpmap:%u %s/%" PRIu32, c->pt, c->name, c->rate);
		if (c->channels > 1)
			emit(o, "/%u", c->channels);
		emit(o, "\r\n");
	}
	for (size_t i = 0; rtp && i < m->n_codecs; i++)
		if (m->codecs[i].fmtp[0])
			emit(o, "a=fmtp:%u %s\r\n", m->codecs[i].pt, m->codecs[i].fmtp);
	if (m->ptime)
		emit(o, "a=ptime:%" PRIu32 "\r\n", m->ptime);
	if (m->rtcp_port && m->rtcp_port != m->port + 1)
		emit(o, "a=rtcp:%u\r\n", m->rtcp_port);
	if (m->rtcp_mux)
		emit(o, "a=rtcp-mux\r\n");
	for (size_t i = 0; i < m->n_crypto; i++)
		emit(o, "a=crypto:%s\r\n", m->crypto[i]);
	emit(o, "a=%s\r\n", sdp_dir_name(m->dir));
}

int sdp_write(char *buf, size_t buflen, const struct sdp_session *s)
{
	struct out o = {buf, buflen, 0, false};
	const struct sdp_media *first = NULL;
	const char *user;

	if (!buf || !buflen || !s || s->n_media > SDP_MAX_MEDIA)
		return -1;
	for (size_t i = 0; i < s->n_media; i++) {
		if (!media_ok(&s->media[i]))
			return -1;
		if (!first && s->media[i].af != SDP_AF_NONE)
			first = &s->media[i];
	}
	user = token_ok(s->origin_user, sizeof(s->origin_user)) ? s->origin_user : "-";
	emit(&o, "v=0\r\no=%s %" PRIu64 " %" PRIu64 " IN %s %s\r\ns=-\r\nt=0 0\r\n", user,
	     s->sess_id, s->sess_version, first ? af_name(first->af) : "IP4",
	     first ? first->addr : "0.0.0.0");
	for (size_t i = 0; i < s->n_media; i++)
		write_media(&o, &s->media[i]);
	if (o.full)
		return -1;
	return (int)o.len;
}

/* ---- offer/answer helpers --------------------------------------------------- */

const char *sdp_dir_name(enum sdp_dir dir)
{
	switch (dir) {
	case SDP_DIR_SENDRECV: return "sendrecv";
	case SDP_DIR_SENDONLY: return "sendonly";
	case SDP_DIR_RECVONLY: return "recvonly";
	case SDP_DIR_INACTIVE: return "inactive";
	}
	return "?";
}

enum sdp_dir sdp_dir_reverse(enum sdp_dir d)
{
	return d == SDP_DIR_SENDONLY ? SDP_DIR_RECVONLY :
	       d == SDP_DIR_RECVONLY ? SDP_DIR_SENDONLY : d;
}

/** True if codec c is "name[/rate[/channels]]" (name case-insensitive; no rate = any
 *  rate; the channel count is not compared: "opus/48000/2" matches "opus/48000"). */
static bool codec_is(const struct sdp_codec *c, const char *spec)
{
	const char *slash = strchr(spec, '/');
	size_t nl = slash ? (size_t)(slash - spec) : strlen(spec);
	unsigned long rate = 0;

	if (strlen(c->name) != nl || strncasecmp(c->name, spec, nl) != 0)
		return false;
	if (!slash)
		return true;
	for (const char *p = slash + 1; *p && *p != '/'; p++) {
		if (*p < '0' || *p > '9' || rate > 0xffffffffUL / 10)
			return false;
		rate = rate * 10 + (unsigned long)(*p - '0');
	}
	return rate == c->rate;
}

size_t sdp_media_filter(struct sdp_media *m, const char *const *allowed, size_t n_allowed)
{
	size_t kept = 0;

	if (!m)
		return 0;
	for (size_t i = 0; i < m->n_codecs && i < SDP_MAX_CODECS; i++) {
		bool ok = false;

		for (size_t a = 0; a < n_allowed && !ok; a++)
			ok = allowed[a] && m->codecs[i].name[0] && codec_is(&m->codecs[i], allowed[a]);
		if (!ok)
			continue;
		if (kept != i)
			m->codecs[kept] = m->codecs[i];
		kept++;
	}
	m->n_codecs = kept;
	return kept;
}

const struct sdp_codec *sdp_media_find(const struct sdp_media *m, const char *name,
				       uint32_t rate)
{
	if (!m || !name)
		return NULL;
	for (size_t i = 0; i < m->n_codecs && i < SDP_MAX_CODECS; i++) {
		const struct sdp_codec *c = &m->codecs[i];

		if (strcasecmp(c->name, name) == 0 && (rate == 0 || c->rate == rate))
			return c;
	}
	return NULL;
}

bool sdp_media_has_audio_codec(const struct sdp_media *m)
{
	if (!m)
		return false;
	for (size_t i = 0; i < m->n_codecs && i < SDP_MAX_CODECS; i++) {
		const char *n = m->codecs[i].name;

		if (n[0] && strcasecmp(n, "telephone-event") != 0 && strcasecmp(n, "CN") != 0)
			return true;
	}
	return false;
}

int sdp_first_audio(const struct sdp_session *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < s->n_media && i < SDP_MAX_MEDIA; i++)
		if (s->media[i].port && strcasecmp(s->media[i].type, "audio") == 0)
			return (int)i;
	return -1;
}
