/*
 * conf.c — reads trunxd's configuration file: splits it into lines, sections and
 * `key = value` pairs, hands each value to the key table of its section
 * (conf_keys.c, conf_value.c), then checks what spans sections (names unique,
 * routes naming existing trunks, one owner per source CIDR and port, the media
 * address). The first error stops parsing and is reported as "file:line: reason".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_priv.h"

enum { SEC_GENERAL = 0, SEC_SIP, SEC_MEDIA, SEC_TRUNK, SEC_ROUTE };

int conf_fail(struct conf_ctx *c, unsigned line, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen) {
		if (line)
			snprintf(c->err, c->errlen, "%s:%u: %s", c->name, line, why);
		else
			snprintf(c->err, c->errlen, "%s: %s", c->name, why);
	}
	return EINVAL;
}

static int apply_defaults(struct conf_ctx *c, const struct conf_section *sec, void *obj)
{
	char why[128];

	for (size_t i = 0; i < sec->n_keys; i++) {
		const struct conf_key *k = &sec->keys[i];

		if (k->def && conf_value_set(k, obj, k->def, why, sizeof(why)))
			return conf_fail(c, 0, "internal: bad default for %s.%s: %s", sec->name,
					 k->name, why);
	}
	return 0;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem, void **lines,
		size_t line_elem)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *a, *l;

	if (n < *cap)
		return 0;
	a = realloc(*arr, ncap * elem);
	if (!a)
		return ENOMEM;
	*arr = a;
	l = realloc(*lines, ncap * line_elem);
	if (!l)
		return ENOMEM;
	*lines = l;
	*cap = ncap;
	return 0;
}

/* ---- sections --------------------------------------------------------------- */

static int end_section(struct conf_ctx *c)
{
	const struct conf_section *sec = c->sec;
	int err;

	if (!sec)
		return 0;
	for (size_t i = 0; i < sec->n_keys; i++)
		if (!sec->keys[i].def && !c->cur.key[i])
			return conf_fail(c, c->cur.header, "[%s] is missing the key %s",
					 sec->name, sec->keys[i].name);
	if (sec->check) {
		err = sec->check(c, c->obj);
		if (err)
			return err;
	}
	if (sec == &conf_sections[SEC_TRUNK])
		c->trunk_lines[c->cf->n_trunks - 1] = c->cur;
	else if (sec == &conf_sections[SEC_ROUTE])
		c->route_lines[c->cf->n_routes - 1] = c->cur;
	else
		c->global[sec - conf_sections] = c->cur;
	c->sec = NULL;
	return 0;
}

static int start_section(struct conf_ctx *c, char *hdr)
{
	const struct conf_section *sec = NULL;
	struct conf *cf = c->cf;
	char *name;
	size_t idx;
	int err;

	name = hdr + strcspn(hdr, " \t");
	if (*name) {
		*name++ = '\0';
		name += strspn(name, " \t");
	}
	for (size_t i = 0; i < conf_n_sections; i++)
		if (strcmp(conf_sections[i].name, hdr) == 0)
			sec = &conf_sections[i];
	if (!sec)
		return conf_fail(c, c->line, "unknown section [%s]", hdr);
	idx = (size_t)(sec - conf_sections);
	memset(&c->cur, 0, sizeof(c->cur));
	c->cur.header = c->line;
	if (!sec->named) {
		if (*name)
			return conf_fail(c, c->line, "[%s] takes no name", hdr);
		if (c->global[idx].header)
			return conf_fail(c, c->line, "duplicate section [%s] (first on line %u)",
					 hdr, c->global[idx].header);
		c->obj = cf;
		c->sec = sec;
		return 0;
	}
	if (!*name)
		return conf_fail(c, c->line, "[%s] needs a name: [%s NAME]", hdr, hdr);
	if (!conf_name_valid(name))
		return conf_fail(c, c->line,
				 "bad %s name \"%s\" (1-%d of A-Z a-z 0-9 _ . -)", hdr, name,
				 ROUTE_NAME_MAX - 1);
	if (idx == SEC_TRUNK) {
		struct trunk_cfg *t;

		if (cf->n_trunks == CONF_MAX_TRUNKS)
			return conf_fail(c, c->line, "more than %d trunks", CONF_MAX_TRUNKS);
		err = grow((void **)&cf->trunks, &c->cap_trunks, cf->n_trunks, sizeof(*t),
			   (void **)&c->trunk_lines, sizeof(*c->trunk_lines));
		if (err)
			return err;
		t = &cf->trunks[cf->n_trunks++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", name);
		c->obj = t;
	} else {
		struct route_cfg *r;

		if (cf->n_routes == CONF_MAX_ROUTES)
			return conf_fail(c, c->line, "more than %d routes", CONF_MAX_ROUTES);
		err = grow((void **)&cf->routes, &c->cap_routes, cf->n_routes, sizeof(*r),
			   (void **)&c->route_lines, sizeof(*c->route_lines));
		if (err)
			return err;
		r = &cf->routes[cf->n_routes++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", name);
		c->obj = r;
	}
	c->sec = sec;
	return apply_defaults(c, sec, c->obj);
}

static int set_key(struct conf_ctx *c, char *key, const char *val)
{
	char why[192];
	int i;

	if (!c->sec)
		return conf_fail(c, c->line, "key %s before any [section]", key);
	i = conf_key_index(c->sec, key);
	if (i < 0)
		return conf_fail(c, c->line, "unknown key %s in [%s]", key, c->sec->name);
	if (c->cur.key[i])
		return conf_fail(c, c->line, "duplicate key %s (first set on line %u)", key,
				 c->cur.key[i]);
	if (conf_value_set(&c->sec->keys[i], c->obj, val, why, sizeof(why)))
		return conf_fail(c, c->line, "%s: %s", key, why);
	c->cur.key[i] = c->line;
	return 0;
}

static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int parse_line(struct conf_ctx *c, char *l)
{
	char *eq, *key;
	size_t n;

	l = trim(l);
	if (!*l || *l == '#' || *l == ';')
		return 0;
	if (*l == '[') {
		int err;

		n = strlen(l);
		if (l[n - 1] != ']')
			return conf_fail(c, c->line, "section header without ']'");
		l[n - 1] = '\0';
		err = end_section(c);
		return err ? err : start_section(c, trim(l + 1));
	}
	eq = strchr(l, '=');
	if (!eq)
		return conf_fail(c, c->line, "expected key = value");
	*eq = '\0';
	key = trim(l);
	if (!*key)
		return conf_fail(c, c->line, "missing key before '='");
	return set_key(c, key, trim(eq + 1));
}

/* ---- checks across sections ------------------------------------------------- */

struct name_ent {
	const char *name;
	const char *extra;  /**< second sort key (routes: from_trunk), or "" */
	unsigned    line;
	size_t      idx;
};

static int cmp_name(const void *a, const void *b)
{
	const struct name_ent *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (!d)
		d = strcmp(x->extra, y->extra);
	return d ? d : (x->line > y->line) - (x->line < y->line);
}

/** Sorts ents and fails on the first pair with equal name and extra. */
static int find_dup(struct conf_ctx *c, struct name_ent *ents, size_t n, const char *what)
{
	qsort(ents, n, sizeof(*ents), cmp_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(ents[i].name, ents[i - 1].name) == 0 &&
		    strcmp(ents[i].extra, ents[i - 1].extra) == 0)
			return conf_fail(c, ents[i].line, "%s %s%s%s (first on line %u)", what,
					 ents[i].name, ents[i].extra[0] ? " from_trunk " : "",
					 ents[i].extra, ents[i - 1].line);
	return 0;
}

static const struct name_ent *find_name(const struct name_ent *ents, size_t n,
					const char *name)
{
	/* ents is sorted by name and the names are distinct by now */
	for (size_t lo = 0, hi = n; lo < hi; ) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, ents[mid].name);

		if (!d)
			return &ents[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct cidr_ent {
	struct route_cidr cidr;
	uint16_t          port;
	size_t            trunk;
};

/* Orders by family, address and prefix length: member by member, as a CIDR's padding
 * (and an IPv4 address's unused bytes) are no part of its value. */
static int cidr_order(const struct route_cidr *x, const struct route_cidr *y)
{
	sa_family_t fx = x->addr.ss_family, fy = y->addr.ss_family;
	const struct sockaddr_in *x4 = (const void *)&x->addr, *y4 = (const void *)&y->addr;
	const struct sockaddr_in6 *x6 = (const void *)&x->addr, *y6 = (const void *)&y->addr;
	int d = (fx > fy) - (fx < fy);

	if (!d && fx == AF_INET)
		d = memcmp(&x4->sin_addr, &y4->sin_addr, sizeof(x4->sin_addr));
	else if (!d && fx == AF_INET6)
		d = memcmp(&x6->sin6_addr, &y6->sin6_addr, sizeof(x6->sin6_addr));
	return d ? d : (x->bits > y->bits) - (x->bits < y->bits);
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct cidr_ent *x = a, *y = b;
	int d = cidr_order(&x->cidr, &y->cidr);

	if (!d)
		d = (x->port > y->port) - (x->port < y->port);
	return d ? d : (x->trunk > y->trunk) - (x->trunk < y->trunk);
}

static int check_cidr_owners(struct conf_ctx *c)
{
	const struct conf *cf = c->cf;
	struct cidr_ent *ents;
	size_t n = 0;
	int err = 0;

	ents = calloc(cf->n_trunks * ROUTE_MAX_CIDRS + 1, sizeof(*ents));
	if (!ents)
		return ENOMEM;
	for (size_t t = 0; t < cf->n_trunks; t++)
		for (size_t i = 0; i < cf->trunks[t].n_cidrs; i++) {
			ents[n].cidr = cf->trunks[t].cidrs[i];
			ents[n].port = cf->trunks[t].port;
			ents[n++].trunk = t;
		}
	qsort(ents, n, sizeof(*ents), cmp_cidr);
	for (size_t i = 1; i < n; i++) {
		const struct trunk_cfg *a, *b;

		if (cidr_order(&ents[i].cidr, &ents[i - 1].cidr) != 0 ||
		    ents[i].port != ents[i - 1].port)
			continue;
		a = &cf->trunks[ents[i - 1].trunk];
		b = &cf->trunks[ents[i].trunk];
		err = conf_fail(c, conf_key_line(&conf_sections[SEC_TRUNK],
						 &c->trunk_lines[ents[i].trunk], "match"),
				"trunk %s claims the same source (CIDR and port) as trunk %s",
				b->name, a->name);
		break;
	}
	free(ents);
	return err;
}

/**
 * A route without a uri sends to its trunk's uri with the user part replaced by
 * "{did}" (sip/route); that template must fit where the table keeps it.
 */
static bool default_uri_fits(const char *trunk_uri)
{
	const char *rest = strchr(trunk_uri, ':') + 1, *at = strchr(rest, '@');
	size_t len = (size_t)(rest - trunk_uri) + strlen("{did}@");

	len += strlen(at ? at + 1 : rest);
	return len < ROUTE_URI_MAX;
}

static int check_routes(struct conf_ctx *c, struct name_ent *trunks)
{
	const struct conf_section *rs = &conf_sections[SEC_ROUTE];
	const struct conf *cf = c->cf;

	for (size_t i = 0; i < cf->n_routes; i++) {
		const struct route_cfg *r = &cf->routes[i];
		const struct conf_lines *l = &c->route_lines[i];
		const struct name_ent *to = NULL;

		if (r->from_trunk[0] && !find_name(trunks, cf->n_trunks, r->from_trunk))
			return conf_fail(c, conf_key_line(rs, l, "from_trunk"),
					 "route %s: unknown trunk %s", r->name, r->from_trunk);
		if (r->to_trunk[0]) {
			to = find_name(trunks, cf->n_trunks, r->to_trunk);
			if (!to)
				return conf_fail(c, conf_key_line(rs, l, "to_trunk"),
						 "route %s: unknown trunk %s", r->name,
						 r->to_trunk);
		}
		if (to && !r->uri[0] && !cf->trunks[to->idx].uri[0])
			return conf_fail(c, conf_key_line(rs, l, "to_trunk"),
					 "route %s: trunk %s has no uri; set the route's uri",
					 r->name, r->to_trunk);
		if (to && !r->uri[0] && !default_uri_fits(cf->trunks[to->idx].uri))
			return conf_fail(c, conf_key_line(rs, l, "to_trunk"),
					 "route %s: trunk %s's uri leaves no room for {did} "
					 "(%d bytes at most); set the route's uri",
					 r->name, r->to_trunk, ROUTE_URI_MAX - 1);
	}
	return 0;
}

/* The address family of an IP literal, 0 for anything else. */
static int ip_family(const char *ip)
{
	struct in6_addr a;

	if (inet_pton(AF_INET, ip, &a) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, ip, &a) == 1)
		return AF_INET6;
	return 0;
}

/* The family of a SIP URI's host when it is an IP literal ([IPv6] or IPv4), else 0. */
static int uri_family(const char *uri)
{
	const char *p = strchr(uri, ':'), *at, *end;
	char host[CONF_HOST_MAX];
	size_t n;

	if (!p)
		return 0;
	p++;
	at = strchr(p, '@');
	if (at)
		p = at + 1;
	if (*p == '[') {
		end = strchr(++p, ']');
		if (!end)
			return 0;
	} else {
		end = p + strcspn(p, ":;?>");
	}
	n = (size_t)(end - p);
	if (!n || n >= sizeof(host))
		return 0;
	memcpy(host, p, n);
	host[n] = '\0';
	return ip_family(host);
}

/*
 * The SIP stack sends from the family of its listen address only (a wildcard binds
 * the host's addresses of that family): a trunk or route uri naming an IP literal of
 * the other family could never be reached, its calls would fail after the stack's
 * local 503. Such a uri is refused (here at load and reload, by the database loader
 * for a trunk row), with the reason.
 */
int conf_uri_family_check(const char *uri, const char *listen, const char *tls_listen,
			  char *why, size_t whylen)
{
	bool tls = strncasecmp(uri, "sips:", 5) == 0 || strcasestr(uri, ";transport=tls");
	const char *l = tls && tls_listen && tls_listen[0] ? tls_listen : listen;
	int want = l ? ip_family(l) : 0, got = uri[0] ? uri_family(uri) : 0;

	if (!want || !got || want == got)
		return 0;
	if (why && whylen)
		snprintf(why, whylen, "uri %s is %s but [sip] %s %s is %s: trunx sends SIP "
			 "from one address family only", uri, got == AF_INET6 ? "IPv6" : "IPv4",
			 tls && tls_listen && tls_listen[0] ? "tls_listen" : "listen", l,
			 want == AF_INET6 ? "IPv6" : "IPv4");
	return EAFNOSUPPORT;
}

static int check_uri_family(struct conf_ctx *c, const char *what, const char *name,
			    const char *uri, unsigned line)
{
	const struct conf *cf = c->cf;
	char why[400];

	if (!conf_uri_family_check(uri, cf->sip.listen_addr, cf->sip.tls_addr, why,
				   sizeof(why)))
		return 0;
	return conf_fail(c, line, "%s %s: %s", what, name, why);
}

static int check_all(struct conf_ctx *c)
{
	struct conf *cf = c->cf;
	const struct conf_lines *sipl = &c->global[SEC_SIP], *medl = &c->global[SEC_MEDIA];
	size_t n = cf->n_trunks > cf->n_routes ? cf->n_trunks : cf->n_routes;
	struct name_ent *ents = NULL, *trunks = NULL;
	int err;

	if (!cf->media.bind_addr[0])
		snprintf(cf->media.bind_addr, sizeof(cf->media.bind_addr), "%.*s",
			 (int)sizeof(cf->media.bind_addr) - 1, cf->sip.listen_addr);
	if (conf_is_wildcard(cf->media.bind_addr) && !cf->media_advertise[0]) {
		unsigned line = conf_key_line(&conf_sections[SEC_MEDIA], medl, "address");

		if (!line)
			line = conf_key_line(&conf_sections[SEC_SIP], sipl, "listen");
		return conf_fail(c, line,
				 "media address %s is a wildcard: set [media] address or "
				 "advertise to the address peers send RTP to",
				 cf->media.bind_addr);
	}
	ents = calloc(n + 1, sizeof(*ents));
	trunks = calloc(cf->n_trunks + 1, sizeof(*trunks));
	if (!ents || !trunks) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cf->n_trunks; i++)
		trunks[i] = (struct name_ent){cf->trunks[i].name, "", c->trunk_lines[i].header, i};
	err = find_dup(c, trunks, cf->n_trunks, "duplicate trunk");
	if (err)
		goto out;
	for (size_t i = 0; i < cf->n_routes; i++)
		ents[i] = (struct name_ent){cf->routes[i].name, "", c->route_lines[i].header, i};
	err = find_dup(c, ents, cf->n_routes, "duplicate route");
	if (err)
		goto out;
	for (size_t i = 0; i < cf->n_routes; i++)
		ents[i] = (struct name_ent){cf->routes[i].match, cf->routes[i].from_trunk,
			conf_key_line(&conf_sections[SEC_ROUTE], &c->route_lines[i], "match"), i};
	err = find_dup(c, ents, cf->n_routes, "another route has match");
	if (err)
		goto out;
	err = check_routes(c, trunks);
	if (err)
		goto out;
	for (size_t i = 0; i < cf->n_trunks && !err; i++)
		err = check_uri_family(c, "trunk", cf->trunks[i].name, cf->trunks[i].uri,
				       conf_key_line(&conf_sections[SEC_TRUNK], &c->trunk_lines[i],
						     "uri"));
	for (size_t i = 0; i < cf->n_routes && !err; i++)
		err = check_uri_family(c, "route", cf->routes[i].name, cf->routes[i].uri,
				       conf_key_line(&conf_sections[SEC_ROUTE], &c->route_lines[i],
						     "uri"));
	if (err)
		goto out;
	err = check_cidr_owners(c);
out:
	free(ents);
	free(trunks);
	return err;
}

/* ---- entry points ----------------------------------------------------------- */

int conf_parse_buf(struct conf **confp, const char *name, const char *buf, size_t len,
		   char *err, size_t errlen)
{
	struct conf_ctx c = {0};
	char line[CONF_LINE_MAX + 2];
	size_t pos = 0;
	int rc;

	if (!confp || (!buf && len))
		return EINVAL;
	*confp = NULL;
	if (err && errlen)
		err[0] = '\0';
	c.name = name ? name : "(buffer)";
	c.err = err;
	c.errlen = errlen;
	c.cf = calloc(1, sizeof(*c.cf));
	if (!c.cf)
		return ENOMEM;
	for (size_t i = 0; i < conf_n_sections; i++) {
		if (conf_sections[i].named)
			continue;
		rc = apply_defaults(&c, &conf_sections[i], c.cf);
		if (rc)
			goto out;
	}
	if (len > CONF_FILE_MAX) {
		rc = conf_fail(&c, 0, "larger than %d bytes", CONF_FILE_MAX);
		goto out;
	}
	while (pos < len) {
		const char *p = buf + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;

		c.line++;
		pos += n + (nl ? 1 : 0);
		if (n && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n)) {
			rc = conf_fail(&c, c.line, "NUL byte in line");
			goto out;
		}
		if (n > CONF_LINE_MAX) {
			rc = conf_fail(&c, c.line, "line longer than %d bytes", CONF_LINE_MAX);
			goto out;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		rc = parse_line(&c, line);
		if (rc)
			goto out;
	}
	rc = end_section(&c);
	if (!rc)
		rc = check_all(&c);
out:
	if (rc == ENOMEM)
		conf_fail(&c, 0, "out of memory");
	free(c.trunk_lines);
	free(c.route_lines);
	if (rc) {
		conf_free(c.cf);
		return rc;
	}
	*confp = c.cf;
	return 0;
}

int conf_load(struct conf **confp, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	struct stat st;
	FILE *f = NULL;
	size_t len;
	int rc;

	if (!confp || !path)
		return EINVAL;
	*confp = NULL;
	if (strlen(path) >= CONF_PATH_MAX) {
		rc = ENAMETOOLONG;
		goto fail;
	}
	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st) != 0) {
		rc = errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = EISDIR;
		goto fail;
	}
	if (st.st_size > CONF_FILE_MAX) {
		rc = EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = ENOMEM;
		goto fail;
	}
	len = fread(buf, 1, (size_t)st.st_size + 1, f);
	if (ferror(f)) {
		rc = EIO;
		goto fail;
	}
	if (len > (size_t)st.st_size) {   /* grew while we read it */
		rc = EAGAIN;
		goto fail;
	}
	rc = conf_parse_buf(confp, path, buf, len, err, errlen);
	if (!rc)
		snprintf((*confp)->path, sizeof((*confp)->path), "%s", path);
	goto out;
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
out:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

void conf_free(struct conf *cf)
{
	if (!cf)
		return;
	free(cf->trunks);
	free(cf->routes);
	free(cf);
}

/* ---- mode -------------------------------------------------------------------- */

void conf_node_id(const struct conf *cf, char *out, size_t len)
{
	char host[64] = "trunxd";

	if (cf->data.node_id[0]) {
		snprintf(out, len, "%s", cf->data.node_id);
		return;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "trunxd");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, len, "%.40s:%u", host, cf->sip.listen_port);
}

enum conf_mode conf_mode(const struct conf *cf)
{
	return cf && cf->data.postgres[0] ? CONF_MODE_DB : CONF_MODE_FILE;
}

/* Copies a URL or conninfo with any password replaced by "***". */
static void mask_secret(char *out, size_t len, const char *in)
{
	const char *scheme = strstr(in, "://"), *at, *colon, *pw;
	size_t o = 0;

	out[0] = '\0';
	if (scheme && (at = strchr(scheme + 3, '@')) != NULL &&
	    (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) != NULL) {
		snprintf(out, len, "%.*s***%s", (int)(colon + 1 - in), in, at);
		return;
	}
	pw = strstr(in, "password");
	if (!pw) {
		snprintf(out, len, "%s", in);
		return;
	}
	o = (size_t)snprintf(out, len, "%.*s", (int)(pw - in), in);
	if (o < len) {
		const char *end = pw + strcspn(pw, " \t");
		snprintf(out + o, len - o, "password=***%s", end);
	}
}

void conf_mode_describe(const struct conf *cf, char *out, size_t len)
{
	char pg[600], rd[300];
	bool db = conf_mode(cf) == CONF_MODE_DB;

	mask_secret(pg, sizeof(pg), cf->data.postgres);
	mask_secret(rd, sizeof(rd), cf->data.redis);
	if (!db)
		snprintf(out, len, "mode: file (%zu trunk%s and %zu route%s from the file; "
			 "budgets counted per node)\n", cf->n_trunks,
			 cf->n_trunks == 1 ? "" : "s", cf->n_routes, cf->n_routes == 1 ? "" : "s");
	else
		snprintf(out, len, "mode: database (trunks, DIDs, tenants and routes from "
			 "Postgres, applied live%s; budgets %s)\n",
			 cf->n_trunks || cf->n_routes ? "; the file's [trunk] and [route] "
			 "sections are not used" : "",
			 cf->data.redis[0] ? "shared through Redis" : "counted per node");
	snprintf(out + strlen(out), len - strlen(out), "postgres: %s\nredis: %s",
		 pg[0] ? pg : "-", rd[0] ? rd : "-");
}
