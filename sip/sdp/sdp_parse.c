/*
 * sdp_parse.c — SDP text (RFC 4566) into a struct sdp_session.
 *
 * DESIGN
 * One pass over the lines with a small state: session-level values (c=, direction,
 * ptime) are kept aside and folded into every m= section that does not set its own
 * once the last line is read. The parser is strict about what media handling relies
 * on — v=, o=, m= ports, formats and protocols, c= addresses, rtpmap, fmtp, ptime,
 * a=rtcp, direction — and skips everything else (i=, b=, t=, unknown attributes, an
 * over-long fmtp or formats beyond SDP_MAX_CODECS on a stream that is not audio).
 * Error reasons name the line and never quote the input, so they can go into a SIP
 * Warning header as they are. Nothing is allocated.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "sdp.h"

/** RFC 3551 static payload types: encoding name, clock rate, channels. */
static const struct {
	const char *name;
	uint32_t    rate;
	uint8_t     channels;
} static_pt[35] = {
	[0] = {"PCMU", 8000, 1},   [3] = {"GSM", 8000, 1},    [4] = {"G723", 8000, 1},
	[5] = {"DVI4", 8000, 1},   [6] = {"DVI4", 16000, 1},  [7] = {"LPC", 8000, 1},
	[8] = {"PCMA", 8000, 1},   [9] = {"G722", 8000, 1},   [10] = {"L16", 44100, 2},
	[11] = {"L16", 44100, 1},  [12] = {"QCELP", 8000, 1}, [13] = {"CN", 8000, 1},
	[14] = {"MPA", 90000, 1},  [15] = {"G728", 8000, 1},  [16] = {"DVI4", 11025, 1},
	[17] = {"DVI4", 22050, 1}, [18] = {"G729", 8000, 1},  [25] = {"CelB", 90000, 1},
	[26] = {"JPEG", 90000, 1}, [28] = {"nv", 90000, 1},   [31] = {"H261", 90000, 1},
	[32] = {"MPV", 90000, 1},  [33] = {"MP2T", 90000, 1}, [34] = {"H263", 90000, 1},
};

#define SDP_PT_DYNAMIC 96

struct level {
	enum sdp_addr_family af;      /**< SDP_AF_NONE: no c= seen */
	char                 addr[SDP_ADDR_MAX];
	bool                 dir_set;
	enum sdp_dir         dir;
	uint32_t             ptime;
};

struct parse {
	struct sdp_session *s;
	char               *err;
	size_t              errlen;
	unsigned            line;
	bool                have_v, have_o;
	struct level        sess;
	struct level        med[SDP_MAX_MEDIA];
	unsigned            m_line[SDP_MAX_MEDIA];
	bool                rtpmap_seen[SDP_MAX_MEDIA][SDP_MAX_CODECS];
};

static int fail(struct parse *p, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, int rc, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen) {
		if (p->line)
			snprintf(p->err, p->errlen, "SDP line %u: %s", p->line, why);
		else
			snprintf(p->err, p->errlen, "SDP: %s", why);
	}
	return rc;
}

/** Next blank-separated token of *cur, NUL-terminated in place; NULL at the end. */
static char *tok(char **cur)
{
	char *s = *cur, *t;

	s += strspn(s, " \t");
	if (!*s)
		return NULL;
	t = s;
	s += strcspn(s, " \t");
	if (*s)
		*s++ = '\0';
	*cur = s;
	return t;
}

/** Decimal number without sign, <= max. */
static bool num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (unsigned long)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return true;
}

/**
 * An a=ptime value (RFC 8866 9: a non-zero integer or decimal, "20" or "22.5") in
 * whole milliseconds, rounded to the nearest and at least 1; up to 10000.
 */
static bool ptime_ms(const char *s, unsigned long *out)
{
	const char *dot = s ? strchr(s, '.') : NULL;
	char whole[8];
	unsigned long v, frac = 0, scale = 1;
	bool nonzero = false;

	if (!dot)
		return num(s, 10000, out) && *out > 0;
	if (dot == s || (size_t)(dot - s) >= sizeof(whole) || !dot[1])
		return false;
	memcpy(whole, s, (size_t)(dot - s));
	whole[dot - s] = '\0';
	if (!num(whole, 10000, &v))
		return false;
	for (const char *d = dot + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return false;
		nonzero |= *d != '0';
		if (scale < 1000000) {
			frac = frac * 10 + (unsigned long)(*d - '0');
			scale *= 10;
		}
	}
	if (v == 0 && !nonzero)
		return false;
	v += frac * 2 >= scale ? 1 : 0;
	if (v > 10000)
		return false;
	*out = v ? v : 1;
	return true;
}

/** Copies src into dst[size]; false if it does not fit. */
static bool put(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/** True if s has no control characters but tabs (values copied into the session). */
static bool clean(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static bool is_rtp(const char *proto)
{
	return strstr(proto, "RTP/") != NULL;
}

static bool host_ok(const char *h)
{
	bool alpha = false;

	for (const char *c = h; *c; c++) {
		if (isalpha((unsigned char)*c))
			alpha = true;
		else if (!isdigit((unsigned char)*c) && *c != '-' && *c != '.')
			return false;
	}
	return alpha && h[0] != '.' && h[0] != '-' && !strstr(h, "..");
}

static struct level *cur_level(struct parse *p)
{
	return p->s->n_media ? &p->med[p->s->n_media - 1] : &p->sess;
}

/* ---- one parser per line type ---------------------------------------------- */

static int parse_o(struct parse *p, char *v)
{
	char *user = tok(&v), *id = tok(&v), *ver = tok(&v);
	uint64_t x[2] = {0, 0};
	const char *n[2] = {id, ver};

	if (p->have_o)
		return fail(p, EINVAL, "second o= line");
	if (!user || !id || !ver || !tok(&v) || !tok(&v) || !tok(&v))
		return fail(p, EINVAL, "o= line needs 6 fields");
	for (int i = 0; i < 2; i++) {
		if (strspn(n[i], "0123456789") != strlen(n[i]))
			return fail(p, EINVAL, "o= session id and version must be numeric");
		for (const char *c = n[i]; *c; c++)   /* wraps beyond 64 bits */
			x[i] = x[i] * 10 + (uint64_t)(*c - '0');
	}
	snprintf(p->s->origin_user, sizeof(p->s->origin_user), "%.*s",
		 (int)sizeof(p->s->origin_user) - 1, user);   /* truncated */
	p->s->sess_id = x[0];
	p->s->sess_version = x[1];
	p->have_o = true;
	return 0;
}

static int parse_c(struct parse *p, char *v)
{
	char *net = tok(&v), *type = tok(&v), *addr = tok(&v);
	struct level *l = cur_level(p);
	unsigned char bin[16];
	enum sdp_addr_family af;

	if (!net || !type || !addr)
		return fail(p, EINVAL, "c= line needs 3 fields");
	if (strcasecmp(net, "IN") != 0)
		return fail(p, EINVAL, "c= network type is not IN");
	if (strcasecmp(type, "IP4") == 0)
		af = SDP_AF_IP4;
	else if (strcasecmp(type, "IP6") == 0)
		af = SDP_AF_IP6;
	else
		return fail(p, EINVAL, "c= address type is not IP4 or IP6");
	addr[strcspn(addr, "/")] = '\0';   /* multicast TTL / count */
	if (strlen(addr) >= SDP_ADDR_MAX)
		return fail(p, EOVERFLOW, "c= address longer than %d", SDP_ADDR_MAX - 1);
	if (inet_pton(af == SDP_AF_IP4 ? AF_INET : AF_INET6, addr, bin) != 1 && !host_ok(addr))
		return fail(p, EINVAL, "bad c= address");
	if (l->af != SDP_AF_NONE)
		return 0;   /* further c= lines (layered multicast) are not used */
	l->af = af;
	memcpy(l->addr, addr, strlen(addr) + 1);
	return 0;
}

static int parse_m(struct parse *p, char *v)
{
	char *type = tok(&v), *port = tok(&v), *proto = tok(&v), *fmt, *slash;
	struct sdp_media *m;
	unsigned long n;

	if (p->s->n_media == SDP_MAX_MEDIA)
		return fail(p, EOVERFLOW, "more than %d m= lines", SDP_MAX_MEDIA);
	if (!type || !port || !proto)
		return fail(p, EINVAL, "m= line needs media, port, protocol and formats");
	if (!clean(type) || !clean(proto) || !clean(v))
		return fail(p, EINVAL, "control character in m= line");
	m = &p->s->media[p->s->n_media];
	memset(m, 0, sizeof(*m));
	if (!put(m->type, sizeof(m->type), type) || !put(m->proto, sizeof(m->proto), proto))
		return fail(p, EOVERFLOW, "m= media or protocol too long");
	slash = strchr(port, '/');
	if (slash)
		*slash++ = '\0';
	if (!num(port, 65535, &n))
		return fail(p, EINVAL, "bad m= port");
	m->port = (uint16_t)n;
	if (slash && (!num(slash, 65535, &n) || n == 0))
		return fail(p, EINVAL, "bad m= port count");
	while ((fmt = tok(&v)) != NULL) {
		struct sdp_codec *c;

		if (m->n_codecs == SDP_MAX_CODECS) {
			/* a browser's or room system's video line lists more; trunx only
			 * ever rejects such a line, which needs one of them */
			if (strcasecmp(m->type, "audio") != 0)
				continue;
			return fail(p, EOVERFLOW, "more than %d formats", SDP_MAX_CODECS);
		}
		c = &m->codecs[m->n_codecs];
		memset(c, 0, sizeof(*c));
		c->channels = 1;
		if (!is_rtp(m->proto)) {   /* e.g. "t38": kept by name for the answer */
			if (!put(c->name, sizeof(c->name), fmt))
				return fail(p, EOVERFLOW, "format too long");
			m->n_codecs++;
			continue;
		}
		if (!num(fmt, 127, &n))
			return fail(p, EINVAL, "bad payload type");
		for (size_t i = 0; i < m->n_codecs; i++)
			if (m->codecs[i].pt == n)
				return fail(p, EINVAL, "payload type %lu listed twice", n);
		c->pt = (uint8_t)n;
		if (n < 35 && static_pt[n].name) {
			snprintf(c->name, sizeof(c->name), "%s", static_pt[n].name);
			c->rate = static_pt[n].rate;
			c->channels = static_pt[n].channels;
		}
		m->n_codecs++;
	}
	if (m->n_codecs == 0)
		return fail(p, EINVAL, "m= line without formats");
	memset(&p->med[p->s->n_media], 0, sizeof(p->med[0]));
	memset(p->rtpmap_seen[p->s->n_media], 0, sizeof(p->rtpmap_seen[0]));
	p->m_line[p->s->n_media] = p->line;
	p->s->n_media++;
	return 0;
}

/** Codec of the current m= with payload type text pt, or NULL; EINVAL-worthy if bad. */
static struct sdp_codec *codec_of(struct parse *p, const char *pt, bool *bad, size_t *idx)
{
	struct sdp_media *m = &p->s->media[p->s->n_media - 1];
	unsigned long n;

	*bad = false;
	if (!is_rtp(m->proto))
		return NULL;
	*bad = !num(pt, 127, &n);
	if (*bad)
		return NULL;
	for (size_t i = 0; i < m->n_codecs; i++) {
		if (m->codecs[i].pt == n) {
			*idx = i;
			return &m->codecs[i];
		}
	}
	return NULL;   /* not offered in m=: ignored (RFC 4566 6) */
}

static int parse_rtpmap(struct parse *p, char *v)
{
	char *pt = tok(&v), *enc = tok(&v), *name, *rate, *ch;
	struct sdp_codec *c;
	unsigned long r, n = 1;
	size_t idx = 0;
	bool bad;

	if (!pt || !enc || tok(&v) || !clean(enc))
		return fail(p, EINVAL, "bad rtpmap");
	name = enc;
	rate = strchr(enc, '/');
	if (!rate)
		return fail(p, EINVAL, "rtpmap without clock rate");
	*rate++ = '\0';
	ch = strchr(rate, '/');
	if (ch)
		*ch++ = '\0';
	if (!*name || !num(rate, 0xffffffffUL, &r) || r == 0 || (ch && (!num(ch, 255, &n) || !n)))
		return fail(p, EINVAL, "bad rtpmap");
	if (strlen(name) >= SDP_NAME_MAX)
		return fail(p, EOVERFLOW, "rtpmap encoding name too long");
	if (!p->s->n_media)
		return 0;   /* session level: meaningless, skipped */
	c = codec_of(p, pt, &bad, &idx);
	if (bad)
		return fail(p, EINVAL, "bad rtpmap payload type");
	if (!c)
		return 0;
	if (p->rtpmap_seen[p->s->n_media - 1][idx]) {
		/* the same mapping twice (some PBXs repeat the telephone-event line) */
		if (strcasecmp(c->name, name) == 0 && c->rate == r && c->channels == n)
			return 0;
		return fail(p, EINVAL, "second rtpmap for payload type %u", c->pt);
	}
	p->rtpmap_seen[p->s->n_media - 1][idx] = true;
	memset(c->name, 0, sizeof(c->name));   /* equal sessions stay equal bytewise */
	memcpy(c->name, name, strlen(name) + 1);
	c->rate = (uint32_t)r;
	c->channels = (uint8_t)n;
	return 0;
}

static int parse_fmtp(struct parse *p, char *v)
{
	char *pt = tok(&v), *params;
	struct sdp_codec *c;
	size_t idx = 0, n;
	bool bad;

	if (!pt)
		return fail(p, EINVAL, "bad fmtp");
	params = v + strspn(v, " \t");
	n = strlen(params);
	while (n && (params[n - 1] == ' ' || params[n - 1] == '\t'))
		params[--n] = '\0';
	if (!p->s->n_media)
		return 0;
	c = codec_of(p, pt, &bad, &idx);
	if (bad) {
		if (is_rtp(p->s->media[p->s->n_media - 1].proto))
			return fail(p, EINVAL, "bad fmtp payload type");
		return 0;
	}
	if (!c)
		return 0;
	if (n >= SDP_FMTP_MAX) {
		const struct sdp_media *m = &p->s->media[p->s->n_media - 1];

		/* Video and other non-audio streams carry long parameter lists (H.264
		 * from room systems: max-mbps, max-fs, sprop-parameter-sets...); trunx
		 * never relays those streams, so their fmtp is not kept. */
		if (strcasecmp(m->type, "audio") != 0)
			return 0;
		return fail(p, EOVERFLOW, "fmtp longer than %d", SDP_FMTP_MAX - 1);
	}
	if (!clean(params))
		return fail(p, EINVAL, "control character in fmtp");
	memset(c->fmtp, 0, sizeof(c->fmtp));   /* a later fmtp replaces an earlier one */
	memcpy(c->fmtp, params, n + 1);
	return 0;
}

/* Keeps an a=crypto value as received (blanks trimmed) for the negotiation, which
 * parses it leniently; one that is too long, has control characters, or comes after
 * SDP_MAX_CRYPTO others is not kept (it could not be served anyway). */
static void keep_crypto(struct sdp_media *m, const char *val)
{
	size_t n;

	val += strspn(val, " \t");
	n = strlen(val);
	while (n && (val[n - 1] == ' ' || val[n - 1] == '\t'))
		n--;
	if (!n || n >= SDP_CRYPTO_MAX || m->n_crypto >= SDP_MAX_CRYPTO)
		return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)val[i] < ' ' || val[i] == 0x7f)
			return;
	memcpy(m->crypto[m->n_crypto], val, n);
	m->crypto[m->n_crypto][n] = '\0';
	m->n_crypto++;
}

static int parse_a(struct parse *p, char *v)
{
	static const char *const dirs[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
	struct level *l = cur_level(p);
	char *val = strchr(v, ':');
	unsigned long n;

	if (val)
		*val++ = '\0';
	for (int i = 0; i < 4; i++) {
		if (strcmp(v, dirs[i]) == 0) {
			l->dir = (enum sdp_dir)i;
			l->dir_set = true;
			return 0;
		}
	}
	if (!val)
		val = v + strlen(v);   /* "" */
	if (strcmp(v, "rtpmap") == 0)
		return parse_rtpmap(p, val);
	if (strcmp(v, "fmtp") == 0)
		return parse_fmtp(p, val);
	if (strcmp(v, "ptime") == 0) {
		if (!ptime_ms(tok(&val), &n))
			return fail(p, EINVAL, "bad ptime");
		l->ptime = (uint32_t)n;
		return 0;
	}
	if (strcmp(v, "rtcp") == 0) {
		char *t = tok(&val);

		if (!num(t, 65535, &n))
			return fail(p, EINVAL, "bad rtcp port");
		if (p->s->n_media)
			p->s->media[p->s->n_media - 1].rtcp_port = (uint16_t)n;
		return 0;
	}
	if (strcmp(v, "rtcp-mux") == 0 && p->s->n_media)
		p->s->media[p->s->n_media - 1].rtcp_mux = true;
	if (strcmp(v, "crypto") == 0 && p->s->n_media)
		keep_crypto(&p->s->media[p->s->n_media - 1], val);
	return 0;
}

static int parse_line(struct parse *p, char *l)
{
	char type = l[0], *v = l + 2;

	if (!(type >= 'a' && type <= 'z') || l[1] != '=')
		return fail(p, EINVAL, "not a type=value line");
	if (!p->have_v) {
		if (type != 'v')
			return fail(p, EINVAL, "does not start with v=");
		if (strcmp(v, "0") != 0)
			return fail(p, EINVAL, "unsupported version");
		p->have_v = true;
		return 0;
	}
	switch (type) {
	case 'v': return fail(p, EINVAL, "second v= line");
	case 'o': return parse_o(p, v);
	case 's':
		if (!p->s->n_media) {
			memset(p->s->name, 0, sizeof(p->s->name));
			snprintf(p->s->name, sizeof(p->s->name), "%.*s",
				 (int)sizeof(p->s->name) - 1, v);   /* truncated */
		}
		return 0;
	case 'c': return parse_c(p, v);
	case 'm': return parse_m(p, v);
	case 'a': return parse_a(p, v);
	default:  return 0;   /* i u e p b t r z k and unknown types: not needed */
	}
}

/** Folds session-level values into the streams and checks what media needs. */
static int finish(struct parse *p)
{
	struct sdp_session *s = p->s;

	p->line = 0;
	if (!p->have_v)
		return fail(p, EINVAL, "missing v= line");
	if (!p->have_o)
		return fail(p, EINVAL, "missing o= line");
	if (!s->n_media)
		return fail(p, EINVAL, "missing m= line");
	for (size_t i = 0; i < s->n_media; i++) {
		struct sdp_media *m = &s->media[i];
		const struct level *l = &p->med[i], *src = l->af ? l : &p->sess;

		m->af = src->af;
		memcpy(m->addr, src->addr, sizeof(m->addr));
		m->dir = l->dir_set ? l->dir : p->sess.dir_set ? p->sess.dir : SDP_DIR_SENDRECV;
		m->ptime = l->ptime ? l->ptime : p->sess.ptime;
		p->line = p->m_line[i];
		if (m->port && m->af == SDP_AF_NONE)
			return fail(p, EINVAL, "m=%s has no connection address (c=)", m->type);
		if (!m->port || !is_rtp(m->proto) || strcasecmp(m->type, "audio") != 0)
			continue;
		for (size_t k = 0; k < m->n_codecs; k++)
			if (m->codecs[k].pt >= SDP_PT_DYNAMIC && !m->codecs[k].name[0])
				return fail(p, EINVAL, "payload type %u has no rtpmap",
					    m->codecs[k].pt);
	}
	return 0;
}

int sdp_parse(struct sdp_session *s, const char *buf, size_t len, char *err, size_t errlen)
{
	struct parse p;
	char line[SDP_LINE_MAX + 1];
	size_t pos = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (!s || (!buf && len))
		return fail(&p, EINVAL, "no session");
	/* The header only: each m= line clears its own entry when it starts (an entry
	 * is 6 KB, the array 200 KB: clearing it all cost more than the parse). */
	memset(s, 0, offsetof(struct sdp_session, media));
	p.s = s;
	if (len > SDP_MAX_LEN)
		return fail(&p, EOVERFLOW, "body longer than %d bytes", SDP_MAX_LEN);
	if (len && memchr(buf, '\0', len))
		return fail(&p, EINVAL, "NUL byte in body");
	while (pos < len) {
		const char *b = buf + pos, *nl = memchr(b, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - b) : len - pos;

		pos += n + (nl ? 1 : 0);
		p.line++;
		if (n && b[n - 1] == '\r')
			n--;
		if (n > SDP_LINE_MAX)
			return fail(&p, EOVERFLOW, "longer than %d bytes", SDP_LINE_MAX);
		memcpy(line, b, n);
		line[n] = '\0';
		if (strspn(line, " \t") == n)
			continue;   /* blank line */
		rc = parse_line(&p, line);
		if (rc)
			return rc;
	}
	return finish(&p);
}
