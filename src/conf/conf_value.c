/*
 * conf_value.c — one parser per configuration value type (enum conf_type): turns
 * the text after `key =` into the typed field the key table points at, or explains
 * why it cannot. Defaults go through the same parsers, so they obey the same rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf_priv.h"

#define FIELD(base, off) ((void *)((char *)(base) + (off)))

static int why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* ---- shared checks ---------------------------------------------------------- */

bool conf_is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

bool conf_is_wildcard(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1)
		return a4.s_addr == htonl(INADDR_ANY);
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return IN6_IS_ADDR_UNSPECIFIED(&a6);
	return false;
}

bool conf_is_host(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (conf_is_ip(s))
		return true;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-')
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	/* an all-numeric dotted name is a mistyped address, not a host name */
	return strspn(s, "0123456789.") != len;
}

bool conf_name_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len < ROUTE_NAME_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789_.-") == len;
}

bool conf_header_is_identity(const char *name)
{
	static const char *const ids[] = {
		"P-Asserted-Identity", "P-Preferred-Identity", "Privacy",
		"Remote-Party-ID", "Identity",
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (strcasecmp(name, ids[i]) == 0)
			return true;
	return false;
}

static bool is_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool copy_str(char *dst, size_t size, const char *val)
{
	size_t len = strlen(val);

	if (len >= size)
		return false;
	memcpy(dst, val, len + 1);
	return true;
}

/** Parses a decimal number without sign into *out (<= max). */
static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return true;
}

/**
 * Next list item of a comma- and/or blank-separated list.
 * @return item length, 0 at the end, -1 if an item does not fit tok
 */
static int next_item(const char **p, char *tok, size_t toklen)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == ',' || *s == ' ' || *s == '\t')
		s++;
	while (s[n] && s[n] != ',' && s[n] != ' ' && s[n] != '\t')
		n++;
	*p = s + n;
	if (n >= toklen)
		return -1;
	memcpy(tok, s, n);
	tok[n] = '\0';
	return (int)n;
}

/**
 * Splits "host[:port]" / "[v6]:port" / "v6" into host and port (0 if absent).
 * A bare IPv6 literal has no port; an IPv6 literal with a port needs brackets.
 */
static int split_hostport(const char *val, char *host, size_t hostlen, uint16_t *port,
			  char *why, size_t whylen)
{
	const char *end, *colon = NULL;
	unsigned long p;
	size_t hl;

	*port = 0;
	if (val[0] == '[') {
		end = strchr(val, ']');
		if (!end)
			return why_set(why, whylen, "missing ']' in \"%s\"", val);
		hl = (size_t)(end - val - 1);
		if (hl >= hostlen)
			return why_set(why, whylen, "address too long");
		memcpy(host, val + 1, hl);
		host[hl] = '\0';
		{
			unsigned char a6[16];

			if (inet_pton(AF_INET6, host, a6) != 1)
				return why_set(why, whylen, "\"%s\" is not an IPv6 address", host);
		}
		if (end[1] == '\0')
			return 0;
		if (end[1] != ':')
			return why_set(why, whylen, "unexpected text after ']' in \"%s\"", val);
		colon = end + 1;
	} else {
		colon = strchr(val, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;   /* bare IPv6 literal */
		hl = colon ? (size_t)(colon - val) : strlen(val);
		if (hl >= hostlen)
			return why_set(why, whylen, "host too long");
		memcpy(host, val, hl);
		host[hl] = '\0';
		if (!conf_is_host(host))
			return why_set(why, whylen, "\"%s\" is not a host name or address", host);
		if (!colon)
			return 0;
	}
	if (!parse_ulong(colon + 1, 65535, &p) || p == 0)
		return why_set(why, whylen, "bad port \"%s\" (1-65535)", colon + 1);
	*port = (uint16_t)p;
	return 0;
}

/* ---- one parser per type ---------------------------------------------------- */

static int set_str(const struct conf_key *k, void *base, const char *val, char *why,
		   size_t whylen)
{
	if (!is_printable(val))
		return why_set(why, whylen, "control characters in value");
	if (k->type == CT_PATH && !*val)
		return why_set(why, whylen, "empty value");
	if (!copy_str(FIELD(base, k->off), k->size, val))
		return why_set(why, whylen, "longer than %zu characters", k->size - 1);
	return 0;
}

static int set_bool(const struct conf_key *k, void *base, const char *val, char *why,
		    size_t whylen)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	bool *b = FIELD(base, k->off);

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return why_set(why, whylen, "\"%s\" is not a boolean (yes/no)", val);
}

static int set_uint(const struct conf_key *k, void *base, const char *val, char *why,
		    size_t whylen)
{
	unsigned long v;

	if (!parse_ulong(val, 0xffffffffUL, &v) || v < k->min || v > k->max)
		return why_set(why, whylen, "\"%s\" is not a number in %u-%u", val, k->min,
			       k->max);
	if (k->type == CT_PORT)
		*(uint16_t *)FIELD(base, k->off) = (uint16_t)v;
	else
		*(unsigned *)FIELD(base, k->off) = (unsigned)v * (k->scale ? k->scale : 1);
	return 0;
}

static int set_enum(const struct conf_key *k, void *base, const char *val, char *why,
		    size_t whylen)
{
	char list[128] = "";

	for (int i = 0; k->names[i]; i++) {
		if (strcasecmp(val, k->names[i]) == 0) {
			*(int *)FIELD(base, k->off) = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? "|" : "", k->names[i]);
	}
	return why_set(why, whylen, "\"%s\" is not one of %s", val, list);
}

static int set_ip(const struct conf_key *k, void *base, const char *val, char *why,
		  size_t whylen)
{
	if (!*val && k->min == 0) {
		*(char *)FIELD(base, k->off) = '\0';
		return 0;
	}
	if (!conf_is_ip(val))
		return why_set(why, whylen, "\"%s\" is not an IP address", val);
	if (!copy_str(FIELD(base, k->off), k->size, val))
		return why_set(why, whylen, "address too long");
	return 0;
}

static int set_hostport(const struct conf_key *k, void *base, const char *val, char *why,
			size_t whylen)
{
	char host[CONF_HOST_MAX];
	uint16_t port;
	int err;

	if (!*val && k->type == CT_HOSTPORT) {
		*(char *)FIELD(base, k->off) = '\0';
		*(uint16_t *)FIELD(base, k->off2) = 0;
		return 0;
	}
	err = split_hostport(val, host, sizeof(host), &port, why, whylen);
	if (err)
		return err;
	if (k->type == CT_LISTEN) {
		if (!conf_is_ip(host))
			return why_set(why, whylen, "\"%s\" is not an IP address", host);
		if (!port)
			return why_set(why, whylen, "missing port (ip:port)");
	}
	if (!copy_str(FIELD(base, k->off), k->size, host))
		return why_set(why, whylen, "host too long");
	*(uint16_t *)FIELD(base, k->off2) = port;
	return 0;
}

static int set_transports(const struct conf_key *k, void *base, const char *val,
			  char *why, size_t whylen)
{
	bool udp = false, tcp = false, tls = false;
	char tok[16];
	int n;

	while ((n = next_item(&val, tok, sizeof(tok))) != 0) {
		bool *t = n < 0 ? NULL : strcasecmp(tok, "udp") == 0 ? &udp :
			  strcasecmp(tok, "tcp") == 0 ? &tcp :
			  strcasecmp(tok, "tls") == 0 ? &tls : NULL;

		if (!t)
			return why_set(why, whylen, "unknown transport (udp, tcp, tls)");
		if (*t)
			return why_set(why, whylen, "transport %s listed twice", tok);
		*t = true;
	}
	if (!udp && !tcp)
		return why_set(why, whylen, "no udp or tcp transport (tls comes in addition)");
	*(bool *)FIELD(base, k->off) = udp;
	*(bool *)FIELD(base, k->off2) = tcp;
	*(bool *)FIELD(base, k->off2 + sizeof(bool)) = tls;
	return 0;
}

int conf_cidr_parse(const char *tok, struct route_cidr *c, char *why, size_t whylen)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(tok, '/');
	size_t iplen = slash ? (size_t)(slash - tok) : strlen(tok);
	unsigned long bits, maxbits;
	unsigned char *a;
	size_t alen;

	memset(c, 0, sizeof(*c));
	if (iplen == 0 || iplen >= sizeof(ip))
		return why_set(why, whylen, "bad CIDR \"%.60s\"", tok);
	memcpy(ip, tok, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&c->addr)->sin_addr) == 1) {
		c->addr.ss_family = AF_INET;
		a = (unsigned char *)&((struct sockaddr_in *)&c->addr)->sin_addr;
		alen = 4;
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&c->addr)->sin6_addr) == 1) {
		c->addr.ss_family = AF_INET6;
		a = (unsigned char *)&((struct sockaddr_in6 *)&c->addr)->sin6_addr;
		alen = 16;
	} else {
		return why_set(why, whylen, "bad CIDR \"%s\": not an address", tok);
	}
	maxbits = alen * 8;
	bits = maxbits;
	if (slash && (!parse_ulong(slash + 1, maxbits, &bits)))
		return why_set(why, whylen, "bad CIDR \"%s\": prefix length 0-%lu", tok, maxbits);
	for (size_t i = 0; i < alen; i++) {
		size_t lo = i * 8;
		unsigned char keep = lo >= bits ? 0 : lo + 8 <= bits ? 0xff :
				     (unsigned char)(0xff << (8 - (bits - lo)));

		if (a[i] & ~keep)
			return why_set(why, whylen, "bad CIDR \"%s\": host bits set", tok);
	}
	c->bits = (uint8_t)bits;
	return 0;
}

static int set_cidrs(const struct conf_key *k, void *base, const char *val, char *why,
		     size_t whylen)
{
	struct route_cidr *cidrs = FIELD(base, k->off);
	size_t *count = FIELD(base, k->off2), n = 0;
	char tok[64];
	int len;

	while ((len = next_item(&val, tok, sizeof(tok))) != 0) {
		int err;

		if (len < 0)
			return why_set(why, whylen, "bad CIDR (too long)");
		if (n == k->size)
			return why_set(why, whylen, "more than %zu CIDRs", k->size);
		err = conf_cidr_parse(tok, &cidrs[n], why, whylen);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++)
			if (cidrs[i].bits == cidrs[n].bits &&
			    memcmp(&cidrs[i].addr, &cidrs[n].addr, sizeof(cidrs[n].addr)) == 0)
				return why_set(why, whylen, "CIDR \"%s\" listed twice", tok);
		n++;
	}
	*count = n;
	return 0;
}

static bool is_token(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789-.!%*_+`'~") == len;
}

static int set_headers(const struct conf_key *k, void *base, const char *val, char *why,
		       size_t whylen)
{
	/* headers the stack and the B2BUA write themselves on each leg */
	static const char *const managed[] = {
		"Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Route",
		"Record-Route", "Content-Length", "Content-Type", "Content-Encoding",
		"Require", "Supported", "Session-Expires", "Min-SE", "RSeq", "RAck",
		"Allow", "Authorization", "Proxy-Authorization", "WWW-Authenticate",
		"Proxy-Authenticate", "User-Agent", "Server",
	};
	char (*hdrs)[ROUTE_NAME_MAX] = FIELD(base, k->off);
	size_t *count = FIELD(base, k->off2), n = 0;
	char tok[ROUTE_NAME_MAX];
	int len;

	while ((len = next_item(&val, tok, sizeof(tok))) != 0) {
		if (len < 0 || !is_token(tok))
			return why_set(why, whylen, "bad header name");
		if (n == k->size)
			return why_set(why, whylen, "more than %zu headers", k->size);
		for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
			if (strcasecmp(tok, managed[i]) == 0)
				return why_set(why, whylen,
					       "%s is written by trunx, it cannot be passed", tok);
		for (size_t i = 0; i < n; i++)
			if (strcasecmp(hdrs[i], tok) == 0)
				return why_set(why, whylen, "header %s listed twice", tok);
		memcpy(hdrs[n++], tok, (size_t)len + 1);
	}
	*count = n;
	return 0;
}

static int set_codecs(const struct conf_key *k, void *base, const char *val, char *why,
		      size_t whylen)
{
	static const char *const known[] = {"PCMU/8000", "PCMA/8000", "opus/48000/2",
					    "telephone-event/8000"};
	char (*codecs)[32] = FIELD(base, k->off);
	size_t *count = FIELD(base, k->off2), n = 0;
	char tok[32];
	int len;

	while ((len = next_item(&val, tok, sizeof(tok))) != 0) {
		const char *canon = NULL;

		for (size_t i = 0; len > 0 && i < sizeof(known) / sizeof(known[0]); i++) {
			size_t nl = strchr(known[i], '/') - known[i];

			if (strcasecmp(tok, known[i]) == 0 ||
			    ((size_t)len == nl && strncasecmp(tok, known[i], nl) == 0))
				canon = known[i];
		}
		if (!canon)
			return why_set(why, whylen,
				       "unsupported codec (PCMU/8000, PCMA/8000, "
				       "opus/48000/2, telephone-event/8000)");
		if (n == k->size)
			return why_set(why, whylen, "more than %zu codecs", k->size);
		for (size_t i = 0; i < n; i++)
			if (strcmp(codecs[i], canon) == 0)
				return why_set(why, whylen, "codec %s listed twice", canon);
		snprintf(codecs[n++], sizeof(codecs[0]), "%s", canon);
	}
	*count = n;
	return 0;
}

static int set_digits(const struct conf_key *k, void *base, const char *val, char *why,
		      size_t whylen)
{
	if (strspn(val, "0123456789") != strlen(val))
		return why_set(why, whylen, "\"%s\" is not a digit string", val);
	if (!copy_str(FIELD(base, k->off), k->size, val))
		return why_set(why, whylen, "longer than %zu digits", k->size - 1);
	return 0;
}

/**
 * Checks a SIP URI the way trunx writes them: sip:/sips:, optional user@, host
 * (name, IPv4, [IPv6]), optional :port, optional ;params; no headers, no blanks.
 */
static int check_sip_uri(const char *uri, char *why, size_t whylen)
{
	const char *p = uri, *at, *end;
	char hostport[CONF_HOST_MAX + 8], host[CONF_HOST_MAX];
	uint16_t port;
	size_t n;

	if (strncasecmp(p, "sip:", 4) == 0)
		p += 4;
	else if (strncasecmp(p, "sips:", 5) == 0)
		p += 5;
	else
		return why_set(why, whylen, "\"%s\" is not a sip: or sips: URI", uri);
	at = strchr(p, '@');
	if (at) {
		if (at == p || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789-_.!~*'()&=+$,;?/%") < (size_t)(at - p))
			return why_set(why, whylen, "bad user part in \"%s\"", uri);
		p = at + 1;
	}
	end = p + strcspn(p, ";");
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(hostport))
		return why_set(why, whylen, "bad host in \"%s\"", uri);
	memcpy(hostport, p, n);
	hostport[n] = '\0';
	if (split_hostport(hostport, host, sizeof(host), &port, why, whylen))
		return EINVAL;
	for (p = end; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(";=-_.!~*'()%+:[]", *p))
			return why_set(why, whylen, "bad parameter in \"%s\"", uri);
	return 0;
}

static int set_sipuri(const struct conf_key *k, void *base, const char *val, char *why,
		      size_t whylen)
{
	char sample[ROUTE_URI_MAX + 64];
	size_t o = 0;

	if (*val && k->type == CT_SIPURI && check_sip_uri(val, why, whylen))
		return EINVAL;
	if (*val && k->type == CT_URITMPL) {
		/* check the URI with sample numbers in place of the placeholders */
		for (const char *p = val; *p && o + 16 < sizeof(sample); ) {
			if (*p == '{') {
				const char *sub = strncmp(p, "{did}", 5) == 0 ? "+15550100" :
						  strncmp(p, "{national}", 10) == 0 ? "5550100" :
						  NULL;

				if (!sub)
					return why_set(why, whylen,
						       "unknown placeholder (use {did} or {national})");
				p += sub[0] == '+' ? 5 : 10;
				o += (size_t)snprintf(sample + o, sizeof(sample) - o, "%s", sub);
				continue;
			}
			if (*p == '}')
				return why_set(why, whylen, "stray '}'");
			sample[o++] = *p++;
		}
		sample[o] = '\0';
		if (check_sip_uri(sample, why, whylen))
			return why_set(why, whylen, "\"%s\" is not a sip: or sips: URI template",
				       val);
	}
	if (!is_printable(val) || !copy_str(FIELD(base, k->off), k->size, val))
		return why_set(why, whylen, "URI longer than %zu characters", k->size - 1);
	return 0;
}

static int set_match(const struct conf_key *k, void *base, const char *val, char *why,
		     size_t whylen)
{
	size_t len = strlen(val), digits;

	if (strcmp(val, "*") != 0) {
		digits = val[0] == '+' ? strspn(val + 1, "0123456789") : 0;
		if (val[0] != '+' || digits == 0 || digits > 15 || val[1] == '0' ||
		    (1 + digits != len && !(2 + digits == len && val[len - 1] == '*')))
			return why_set(why, whylen,
				       "\"%s\" is not +E.164 (1-15 digits), +prefix* or *", val);
	}
	if (!copy_str(FIELD(base, k->off), k->size, val))
		return why_set(why, whylen, "too long");
	return 0;
}

static int set_nameref(const struct conf_key *k, void *base, const char *val, char *why,
		       size_t whylen)
{
	if (*val && !conf_name_valid(val))
		return why_set(why, whylen, "\"%s\" is not a valid name", val);
	if (!copy_str(FIELD(base, k->off), k->size, val))
		return why_set(why, whylen, "name too long");
	return 0;
}

int conf_value_set(const struct conf_key *k, void *base, const char *val, char *why,
		   size_t whylen)
{
	if (!*val && (k->type == CT_BOOL || k->type == CT_UINT || k->type == CT_PORT ||
		      k->type == CT_ENUM || k->type == CT_LISTEN || k->type == CT_MATCH ||
		      k->type == CT_TRANSPORTS))
		return why_set(why, whylen, "empty value");
	switch (k->type) {
	case CT_STR:
	case CT_PATH:       return set_str(k, base, val, why, whylen);
	case CT_BOOL:       return set_bool(k, base, val, why, whylen);
	case CT_UINT:
	case CT_PORT:       return set_uint(k, base, val, why, whylen);
	case CT_ENUM:       return set_enum(k, base, val, why, whylen);
	case CT_IP:         return set_ip(k, base, val, why, whylen);
	case CT_LISTEN:
	case CT_HOSTPORT:   return set_hostport(k, base, val, why, whylen);
	case CT_TRANSPORTS: return set_transports(k, base, val, why, whylen);
	case CT_CIDRS:      return set_cidrs(k, base, val, why, whylen);
	case CT_HEADERS:    return set_headers(k, base, val, why, whylen);
	case CT_CODECS:     return set_codecs(k, base, val, why, whylen);
	case CT_DIGITS:     return set_digits(k, base, val, why, whylen);
	case CT_SIPURI:
	case CT_URITMPL:    return set_sipuri(k, base, val, why, whylen);
	case CT_MATCH:      return set_match(k, base, val, why, whylen);
	case CT_NAMEREF:    return set_nameref(k, base, val, why, whylen);
	}
	return why_set(why, whylen, "internal: unknown value type");
}
