/*
 * db_rows.c — row text -> routing structures, and LISTEN payloads (see db_rows.h).
 * Every value is checked again here, whatever the table's constraints say: the schema
 * may be older or newer than this binary, and an operator may have dropped a check.
 */
#include "db/db_rows.h"

#include "conf/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

static int why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n < max &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static bool copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/** A decimal number in [min, max] (no sign, no blanks). */
static bool num(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool is_true(const char *s)
{
	return strcmp(s, "t") == 0 || strcmp(s, "true") == 0;
}

static bool bool_ok(const char *s)
{
	return is_true(s) || strcmp(s, "f") == 0 || strcmp(s, "false") == 0;
}

static bool e164_ok(const char *s)
{
	size_t n;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	n = strspn(s + 1, "0123456789");
	return n >= 1 && n <= 15 && s[1 + n] == '\0';
}

/** An IP literal or a DNS name. */
static bool host_ok(const char *h)
{
	unsigned char a[16];
	size_t n = strlen(h);

	if (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1)
		return true;
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.' || h[n - 1] == '.')
		return false;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n &&
	       !strstr(h, "..");
}

static int parse_cidrs(const char *list, struct trunk_cfg *t, char *why, size_t whylen)
{
	char tok[64];
	const char *p = list;

	t->n_cidrs = 0;
	while (*p) {
		size_t n;

		p += strspn(p, " ,{}");
		n = strcspn(p, " ,{}");
		if (!n)
			break;
		if (n >= sizeof(tok))
			return why_set(why, whylen, "bad CIDR in identify_match_ips");
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		if (t->n_cidrs == ROUTE_MAX_CIDRS)
			return why_set(why, whylen, "more than %d CIDRs", ROUTE_MAX_CIDRS);
		if (conf_cidr_parse(tok, &t->cidrs[t->n_cidrs], why, whylen))
			return EINVAL;
		for (size_t i = 0; i < t->n_cidrs; i++)
			if (t->cidrs[i].bits == t->cidrs[t->n_cidrs].bits &&
			    memcmp(&t->cidrs[i].addr, &t->cidrs[t->n_cidrs].addr,
				   sizeof(t->cidrs[i].addr)) == 0)
				return why_set(why, whylen, "CIDR %.60s listed twice", tok);
		t->n_cidrs++;
	}
	return 0;
}

/** Codec names of the tables ("PCMA", "alaw", "G711U", "telephone-event"). */
static int parse_codecs(const char *list, struct trunk_cfg *t)
{
	static const struct { const char *name, *canon; } map[] = {
		{"pcma", "PCMA/8000"}, {"alaw", "PCMA/8000"}, {"g711a", "PCMA/8000"},
		{"pcmu", "PCMU/8000"}, {"ulaw", "PCMU/8000"}, {"g711u", "PCMU/8000"},
		{"pcma/8000", "PCMA/8000"}, {"pcmu/8000", "PCMU/8000"},
		{"telephone-event", "telephone-event/8000"},
		{"telephone-event/8000", "telephone-event/8000"},
		{"opus", "opus/48000/2"}, {"opus/48000", "opus/48000/2"},
		{"opus/48000/2", "opus/48000/2"},
	};
	const char *p = list;
	size_t unknown = 0;

	t->n_codecs = 0;
	while (*p) {
		const char *canon = NULL;
		size_t n;

		p += strspn(p, " ,{}\"");
		n = strcspn(p, " ,{}\"");
		if (!n)
			break;
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strlen(map[i].name) == n && strncasecmp(p, map[i].name, n) == 0)
				canon = map[i].canon;
		p += n;
		if (!canon) {
			unknown++;   /* a codec trunx does not carry (yet) */
			continue;
		}
		for (size_t i = 0; i < t->n_codecs; i++)
			if (strcmp(t->codecs[i], canon) == 0) {
				canon = NULL;   /* named twice: once is enough */
				break;
			}
		if (canon && t->n_codecs < ROUTE_MAX_CODECS)
			snprintf(t->codecs[t->n_codecs++], sizeof(t->codecs[0]), "%s", canon);
	}
	/* Only codecs we cannot carry: the trunk can take no call. */
	return unknown && !t->n_codecs ? ENOTSUP : 0;
}

static bool digits_ok(const char *s, size_t max)
{
	return strlen(s) < max && strspn(s, "0123456789") == strlen(s);
}

static bool identity_header(const char *h)
{
	static const char *const ids[] = {
		"P-Asserted-Identity", "P-Preferred-Identity", "Privacy", "Remote-Party-ID",
		"Identity",
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (strcasecmp(h, ids[i]) == 0)
			return true;
	return false;
}

/* The configuration JSON: number format and the policies a file's [trunk] has. */
static int parse_config(const char *text, struct trunk_cfg *t, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *o, *v;
	int rc = 0;

	t->min_se = 90;
	t->rel100 = TRUNK_REL100_SUPPORTED;
	if (!text[0])
		return 0;
	o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return why_set(why, whylen, "configuration is not a JSON object");
	}
	v = json_object_get(o, "country_code");
	if (v && (!json_is_string(v) || !digits_ok(json_string_value(v), 4) ||
		  json_string_value(v)[0] == '0' ||
		  !copy(t->country_code, sizeof(t->country_code), json_string_value(v)))) {
		rc = why_set(why, whylen, "configuration.country_code: 1-3 digits");
		goto out;
	}
	v = json_object_get(o, "national_prefix");
	if (v && (!json_is_string(v) || !digits_ok(json_string_value(v), sizeof(t->national_prefix)) ||
		  !copy(t->national_prefix, sizeof(t->national_prefix), json_string_value(v)))) {
		rc = why_set(why, whylen, "configuration.national_prefix: digits");
		goto out;
	}
	v = json_object_get(o, "international_prefix");
	if (v && (!json_is_string(v) ||
		  !digits_ok(json_string_value(v), sizeof(t->international_prefix)) ||
		  !copy(t->international_prefix, sizeof(t->international_prefix),
			json_string_value(v)))) {
		rc = why_set(why, whylen, "configuration.international_prefix: digits");
		goto out;
	}
	if (t->national_prefix[0] && !t->country_code[0]) {
		rc = why_set(why, whylen, "configuration.national_prefix needs country_code");
		goto out;
	}
	if (t->national_prefix[0] && strcmp(t->national_prefix, t->international_prefix) == 0) {
		rc = why_set(why, whylen, "configuration: international_prefix equals "
			     "national_prefix");
		goto out;
	}
	v = json_object_get(o, "min_se");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 90 ||
		    json_integer_value(v) > 86400) {
			rc = why_set(why, whylen, "configuration.min_se: 90-86400");
			goto out;
		}
		t->min_se = (unsigned)json_integer_value(v);
	}
	v = json_object_get(o, "session_expires");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 86400 ||
		    (json_integer_value(v) && json_integer_value(v) < (json_int_t)t->min_se)) {
			rc = why_set(why, whylen, "configuration.session_expires: 0 or min_se-86400");
			goto out;
		}
		t->session_expires = (unsigned)json_integer_value(v);
	}
	v = json_object_get(o, "100rel");
	if (v) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(s, "off") == 0)
			t->rel100 = TRUNK_REL100_OFF;
		else if (strcmp(s, "supported") == 0)
			t->rel100 = TRUNK_REL100_SUPPORTED;
		else if (strcmp(s, "required") == 0)
			t->rel100 = TRUNK_REL100_REQUIRED;
		else {
			rc = why_set(why, whylen, "configuration.100rel: off, supported, required");
			goto out;
		}
	}
	v = json_object_get(o, "trusted");
	if (v) {
		if (!json_is_boolean(v)) {
			rc = why_set(why, whylen, "configuration.trusted: true or false");
			goto out;
		}
		t->trusted = json_is_true(v);
	}
	v = json_object_get(o, "pass_headers");
	if (v) {
		size_t i;
		json_t *h;

		if (!json_is_array(v) || json_array_size(v) > ROUTE_MAX_HEADERS) {
			rc = why_set(why, whylen, "configuration.pass_headers: up to %d names",
				     ROUTE_MAX_HEADERS);
			goto out;
		}
		json_array_foreach(v, i, h) {
			const char *name = json_is_string(h) ? json_string_value(h) : "";

			if (!name[0] || !printable(name) || strchr(name, ':') ||
			    !copy(t->pass_headers[t->n_pass_headers], ROUTE_NAME_MAX, name)) {
				rc = why_set(why, whylen, "configuration.pass_headers: bad name");
				goto out;
			}
			if (identity_header(name) && !t->trusted) {
				rc = why_set(why, whylen, "configuration.pass_headers: %s needs "
					     "trusted", name);
				goto out;
			}
			t->n_pass_headers++;
		}
	}
out:
	json_decref(o);
	return rc;
}

static int build_uri(struct trunk_cfg *t, const char *host, const char *port,
		     const char *transport, char *why, size_t whylen)
{
	unsigned long p;
	unsigned char a6[16];
	bool v6;
	int n;

	if (!host[0]) {
		t->uri[0] = '\0';
		return 0;
	}
	if (!host_ok(host))
		return why_set(why, whylen, "bad host \"%.60s\"", host);
	if (!num(port, 1, 65535, &p))
		return why_set(why, whylen, "bad port \"%.10s\"", port);
	v6 = inet_pton(AF_INET6, host, a6) == 1;
	if (strcmp(transport, "udp") != 0 && strcmp(transport, "tcp") != 0 &&
	    strcmp(transport, "tls") != 0)
		return why_set(why, whylen, "bad transport \"%.10s\"", transport);
	n = snprintf(t->uri, sizeof(t->uri), "sip:%s%s%s:%lu%s%s", v6 ? "[" : "", host,
		     v6 ? "]" : "", p, strcmp(transport, "udp") ? ";transport=" : "",
		     strcmp(transport, "udp") ? transport : "");
	if (n < 0 || (size_t)n >= sizeof(t->uri) - 40)   /* room for a user part */
		return why_set(why, whylen, "host too long");
	return 0;
}

/* The media columns: the file's [trunk] keys of the same names, by its parsers. */
static int parse_media(const char *const *col, struct trunk_cfg *t, char *why, size_t whylen)
{
	static const struct { int col; const char *key; } keys[] = {
		{DBT_SRTP, "srtp"}, {DBT_SRTP_NO_TLS, "srtp_without_tls"},
		{DBT_TLS_VERIFY, "tls_verify"}, {DBT_DTMF, "dtmf"},
		{DBT_OPUS_COMPLEXITY, "opus_complexity"}, {DBT_OPUS_FEC, "opus_fec"},
		{DBT_OPUS_DTX, "opus_dtx"}, {DBT_LATCH, "latch"},
	};
	char r[128];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (conf_trunk_set(t, keys[i].key, col[keys[i].col], r, sizeof(r)))
			return why_set(why, whylen, "bad %s: %s", keys[i].key, r);
	/* As the file's check: SDES keys cross only TLS unless the trunk allows it. */
	if (t->srtp == TRUNK_SRTP_REQUIRED && t->uri[0] && !strstr(t->uri, ";transport=tls") &&
	    !t->srtp_without_tls)
		return why_set(why, whylen, "srtp required sends SDES keys: transport must be "
			       "tls, or srtp_without_tls set");
	return 0;
}

/* An absolute folder, printable without blanks, no "." or ".." part (migration 005). */
static bool folder_ok(const char *s)
{
	if (s[0] != '/' || !printable(s))
		return false;
	for (const char *p = s; p; p = strchr(p + 1, '/')) {
		size_t n = strcspn(p + 1, "/");

		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			return false;
	}
	return true;
}

/* record_dir and amd of a DID, a route or an outbound rule: the [route] keys. */
static int parse_record_amd(const char *rec, const char *amd, char *dir, size_t dirlen,
			    bool *on, char *why, size_t whylen)
{
	struct route_cfg r;
	char e[128] = "";

	memset(&r, 0, sizeof(r));
	if (rec[0] && !folder_ok(rec))
		return why_set(why, whylen, "bad record_dir: an absolute folder without . or ..");
	if (conf_route_set(&r, "record", rec, e, sizeof(e)) || strlen(r.record_dir) >= dirlen)
		return why_set(why, whylen, "bad record_dir: %s", e[0] ? e : "too long");
	if (conf_route_set(&r, "amd", amd, e, sizeof(e)))
		return why_set(why, whylen, "bad amd: %s", e);
	memcpy(dir, r.record_dir, strlen(r.record_dir) + 1);
	*on = r.amd;
	return 0;
}

int db_row_trunk(const char *const *col, size_t n, enum trunk_kind kind,
		 struct trunk_cfg *t, char *why, size_t whylen)
{
	unsigned long v;
	const char *s;
	int rc;

	memset(t, 0, sizeof(*t));
	if (n < DBT_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBT_N);
	if (kind != TRUNK_KIND_CARRIER && kind != TRUNK_KIND_PEER)
		return why_set(why, whylen, "bad kind");
	t->kind = kind;
	if (!name_ok(col[DBT_NAME], ROUTE_NAME_MAX) || !copy(t->name, sizeof(t->name), col[DBT_NAME]))
		return why_set(why, whylen, "bad name \"%.70s\"", col[DBT_NAME]);
	if (!col[DBT_ID][0] || !printable(col[DBT_ID]) || !copy(t->id, sizeof(t->id), col[DBT_ID]))
		return why_set(why, whylen, "bad id");
	if (kind == TRUNK_KIND_PEER &&
	    (!name_ok(col[DBT_TENANT], ROUTE_NAME_MAX) ||
	     !copy(t->tenant, sizeof(t->tenant), col[DBT_TENANT])))
		return why_set(why, whylen, "bad tenant");
	if (kind == TRUNK_KIND_CARRIER) {
		s = col[DBT_GROUP][0] ? col[DBT_GROUP] : "default";
		if (!name_ok(s, ROUTE_NAME_MAX) || !copy(t->group, sizeof(t->group), s))
			return why_set(why, whylen, "bad trunk_group");
	}
	rc = build_uri(t, col[DBT_HOST], col[DBT_PORT], col[DBT_TRANSPORT], why, whylen);
	if (rc)
		return rc;
	rc = parse_cidrs(col[DBT_IPS], t, why, whylen);
	if (rc)
		return rc;
	if (!num(col[DBT_IDENT_PORT][0] ? col[DBT_IDENT_PORT] : "0", 0, 65535, &v))
		return why_set(why, whylen, "bad identify_port");
	t->port = (uint16_t)v;
	s = col[DBT_AUTH_TYPE];
	if (strcmp(s, "userpass") == 0 || (!s[0] && col[DBT_AUTH_USER][0])) {
		if (!col[DBT_AUTH_USER][0] || !printable(col[DBT_AUTH_USER]) ||
		    !copy(t->auth_user, sizeof(t->auth_user), col[DBT_AUTH_USER]) ||
		    !col[DBT_AUTH_SECRET][0] ||
		    !copy(t->auth_secret, sizeof(t->auth_secret), col[DBT_AUTH_SECRET]))
			return why_set(why, whylen, "auth: bad username or secret");
	} else if (s[0] && strcmp(s, "none") != 0) {
		return why_set(why, whylen, "bad auth_type");
	}
	if (!bool_ok(col[DBT_INBOUND_AUTH]) || !bool_ok(col[DBT_REGISTRATION]))
		return why_set(why, whylen, "bad boolean");
	t->auth_inbound = is_true(col[DBT_INBOUND_AUTH]);
	t->registration = is_true(col[DBT_REGISTRATION]);
	if (t->auth_inbound && !t->auth_user[0])
		return why_set(why, whylen, "inbound_auth without credentials");
	if (t->registration && (!t->auth_user[0] || !t->uri[0]))
		return why_set(why, whylen, "registration needs credentials and a host");
	if (!num(col[DBT_REG_EXPIRES][0] ? col[DBT_REG_EXPIRES] : "300", 60, 86400, &v))
		return why_set(why, whylen, "bad register_expires");
	t->register_expires = (unsigned)v;
	if (parse_codecs(col[DBT_CODECS], t) == ENOTSUP)
		return why_set(why, whylen, "no codec trunx can carry in \"%.60s\"", col[DBT_CODECS]);
	if (!num(col[DBT_QUALIFY][0] ? col[DBT_QUALIFY] : "0", 0, 3600, &v))
		return why_set(why, whylen, "bad qualify_frequency");
	t->qualify_s = (unsigned)v;
	s = col[DBT_DIAL_FORMAT];
	if (strcmp(s, "asis") == 0)
		t->dial_format = DIAL_ASIS;
	else if (strcmp(s, "leading_zero") == 0)
		t->dial_format = DIAL_LEADING_ZERO;
	else if (strcmp(s, "plus_e164") == 0)
		t->dial_format = DIAL_PLUS_E164;
	else
		return why_set(why, whylen, "bad outbound_dial_format \"%.20s\"", s);
	s = col[DBT_STATUS];
	if (strcmp(s, "active") == 0)
		t->status = TRUNK_ACTIVE;
	else if (strcmp(s, "inactive") == 0)
		t->status = TRUNK_INACTIVE;
	else if (strcmp(s, "maintenance") == 0)
		t->status = TRUNK_MAINTENANCE;
	else
		return why_set(why, whylen, "bad status \"%.20s\"", s);
	rc = parse_config(col[DBT_CONFIG], t, why, whylen);
	if (rc)
		return rc;
	rc = parse_media(col, t, why, whylen);
	if (rc)
		return rc;
	if (!t->n_cidrs && !t->uri[0] && t->status != TRUNK_INACTIVE)
		return why_set(why, whylen, "neither identify_match_ips nor a host");
	return 0;
}

int db_row_tenant(const char *const *col, size_t n, struct tenant_cfg *t, char *why,
		  size_t whylen)
{
	unsigned long v;

	memset(t, 0, sizeof(*t));
	if (n < DBTN_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBTN_N);
	if (!name_ok(col[DBTN_ID], ROUTE_NAME_MAX) || !copy(t->id, sizeof(t->id), col[DBTN_ID]))
		return why_set(why, whylen, "bad id \"%.70s\"", col[DBTN_ID]);
	snprintf(t->name, sizeof(t->name), "%s", col[DBTN_NAME]);
	if (strcmp(col[DBTN_STATUS], "active") != 0 && strcmp(col[DBTN_STATUS], "inactive") != 0)
		return why_set(why, whylen, "bad status");
	t->active = strcmp(col[DBTN_STATUS], "active") == 0;
	if (!bool_ok(col[DBTN_CONFIGURED]))
		return why_set(why, whylen, "bad configured flag");
	t->configured = is_true(col[DBTN_CONFIGURED]);
	t->max_calls = -1;
	if (col[DBTN_MAX_CALLS][0]) {
		if (!num(col[DBTN_MAX_CALLS], 0, 10000000, &v))
			return why_set(why, whylen, "bad max_calls");
		t->max_calls = (int)v;
	}
	if (col[DBTN_DEFAULT_DID][0]) {
		if (!e164_ok(col[DBTN_DEFAULT_DID]))
			return why_set(why, whylen, "bad default_did");
		snprintf(t->default_did, sizeof(t->default_did), "%s", col[DBTN_DEFAULT_DID]);
	}
	return 0;
}

int db_row_did(const char *const *col, size_t n, struct did_cfg *d, char *why, size_t whylen)
{
	const char *s;

	memset(d, 0, sizeof(*d));
	if (n < DBD_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBD_N);
	if (!e164_ok(col[DBD_NUMBER]))
		return why_set(why, whylen, "bad number \"%.20s\"", col[DBD_NUMBER]);
	snprintf(d->number, sizeof(d->number), "%s", col[DBD_NUMBER]);
	if (!printable(col[DBD_TRUNK_ID]) || !copy(d->trunk_id, sizeof(d->trunk_id), col[DBD_TRUNK_ID]) ||
	    !printable(col[DBD_PEER_ID]) || !copy(d->peer_id, sizeof(d->peer_id), col[DBD_PEER_ID]))
		return why_set(why, whylen, "bad id");
	if (col[DBD_TENANT][0] && (!name_ok(col[DBD_TENANT], ROUTE_NAME_MAX) ||
				   !copy(d->tenant, sizeof(d->tenant), col[DBD_TENANT])))
		return why_set(why, whylen, "bad tenant");
	s = col[DBD_DEST_TYPE];
	if (strcmp(s, "peer") == 0)
		d->dest = DID_DEST_PEER;
	else if (strcmp(s, "uri") == 0)
		d->dest = DID_DEST_URI;
	else if (strcmp(s, "announcement") == 0)
		d->dest = DID_DEST_ANNOUNCEMENT;
	else
		return why_set(why, whylen, "bad destination_type \"%.20s\"", s);
	if (col[DBD_URI][0]) {
		if (!printable(col[DBD_URI]) ||
		    (strncasecmp(col[DBD_URI], "sip:", 4) != 0 &&
		     strncasecmp(col[DBD_URI], "sips:", 5) != 0) ||
		    !copy(d->uri, sizeof(d->uri) - 32, col[DBD_URI]))
			return why_set(why, whylen, "bad destination_uri");
	}
	if (!printable(col[DBD_ANNOUNCEMENT]) ||
	    !copy(d->announcement, sizeof(d->announcement), col[DBD_ANNOUNCEMENT]))
		return why_set(why, whylen, "bad announcement");
	if (d->dest == DID_DEST_URI && !d->uri[0])
		return why_set(why, whylen, "destination 'uri' without destination_uri");
	if (strcmp(col[DBD_STATUS], "active") != 0 && strcmp(col[DBD_STATUS], "inactive") != 0)
		return why_set(why, whylen, "bad status");
	d->active = strcmp(col[DBD_STATUS], "active") == 0;
	return parse_record_amd(col[DBD_RECORD], col[DBD_AMD], d->record_dir,
				sizeof(d->record_dir), &d->amd, why, whylen);
}

int db_row_route(const char *const *col, size_t n, struct route_cfg *r, char *why,
		 size_t whylen)
{
	memset(r, 0, sizeof(*r));
	if (n < DBR_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBR_N);
	if (!name_ok(col[DBR_NAME], ROUTE_NAME_MAX) || !copy(r->name, sizeof(r->name), col[DBR_NAME]))
		return why_set(why, whylen, "bad name");
	if (!printable(col[DBR_MATCH]) || !copy(r->match, sizeof(r->match), col[DBR_MATCH]))
		return why_set(why, whylen, "bad match");
	if ((col[DBR_FROM][0] && !name_ok(col[DBR_FROM], ROUTE_NAME_MAX)) ||
	    (col[DBR_TO][0] && !name_ok(col[DBR_TO], ROUTE_NAME_MAX)))
		return why_set(why, whylen, "bad trunk name");
	copy(r->from_trunk, sizeof(r->from_trunk), col[DBR_FROM]);
	copy(r->to_trunk, sizeof(r->to_trunk), col[DBR_TO]);
	if (col[DBR_URI][0] && (!printable(col[DBR_URI]) || !copy(r->uri, sizeof(r->uri), col[DBR_URI])))
		return why_set(why, whylen, "bad uri");
	if (!r->to_trunk[0] && !r->uri[0])
		return why_set(why, whylen, "neither to_trunk nor uri");
	return parse_record_amd(col[DBR_RECORD], col[DBR_AMD], r->record_dir,
				sizeof(r->record_dir), &r->amd, why, whylen);
}

int db_row_oroute(const char *const *col, size_t n, struct oroute_cfg *o, char *why,
		  size_t whylen)
{
	unsigned long v;

	memset(o, 0, sizeof(*o));
	if (n < DBO_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBO_N);
	if (col[DBO_TENANT][0] && (!name_ok(col[DBO_TENANT], ROUTE_NAME_MAX) ||
				   !copy(o->tenant, sizeof(o->tenant), col[DBO_TENANT])))
		return why_set(why, whylen, "bad tenant");
	if (!digits_ok(col[DBO_PREFIX], 16) || col[DBO_PREFIX][0] == '0' ||
	    !copy(o->prefix, sizeof(o->prefix), col[DBO_PREFIX]))
		return why_set(why, whylen, "bad prefix");
	if (!num(col[DBO_PRIORITY], 0, 1000000, &v))
		return why_set(why, whylen, "bad priority");
	o->priority = (unsigned)v;
	if (!num(col[DBO_WEIGHT], 1, 1000000, &v))
		return why_set(why, whylen, "bad weight");
	o->weight = (unsigned)v;
	if (!name_ok(col[DBO_TRUNK], ROUTE_NAME_MAX) || !copy(o->trunk, sizeof(o->trunk), col[DBO_TRUNK]))
		return why_set(why, whylen, "bad trunk");
	return parse_record_amd(col[DBO_RECORD], col[DBO_AMD], o->record_dir,
				sizeof(o->record_dir), &o->amd, why, whylen);
}

int db_row_pool(const char *const *col, size_t n, struct pool_cfg *p, char *why,
		size_t whylen)
{
	unsigned long v;

	memset(p, 0, sizeof(*p));
	if (n < DBP_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBP_N);
	if (!name_ok(col[DBP_GROUP], ROUTE_NAME_MAX) || !copy(p->group, sizeof(p->group), col[DBP_GROUP]) ||
	    !name_ok(col[DBP_POOL], ROUTE_POOL_MAX) || !copy(p->pool, sizeof(p->pool), col[DBP_POOL]))
		return why_set(why, whylen, "bad group or pool name");
	if (!num(col[DBP_CHANNELS], 0, 10000000, &v))
		return why_set(why, whylen, "bad channels");
	p->channels = (unsigned)v;
	return 0;
}

int db_row_setting(const char *const *col, size_t n, struct route_settings *s, char *why,
		   size_t whylen)
{
	static const struct {
		const char *key;
		size_t      off;
		bool        code;   /* a SIP code; else a count */
	} ints[] = {
		{"global_max_calls", offsetof(struct route_settings, global_max_calls), false},
		{"tenant_max_calls", offsetof(struct route_settings, tenant_max_calls), false},
		{"answer_unassigned", offsetof(struct route_settings, answer_unassigned), true},
		{"answer_unconfigured", offsetof(struct route_settings, answer_unconfigured), true},
		{"answer_over_cap", offsetof(struct route_settings, answer_over_cap), true},
		{"answer_no_route", offsetof(struct route_settings, answer_no_route), true},
		{"answer_trunks_down", offsetof(struct route_settings, answer_trunks_down), true},
		{"answer_announcement", offsetof(struct route_settings, answer_announcement), true},
	};
	const char *k, *val;
	unsigned long v;

	if (n < DBS_N)
		return why_set(why, whylen, "%zu columns, %d expected", n, DBS_N);
	k = col[DBS_KEY];
	val = col[DBS_VALUE];
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (strcmp(k, ints[i].key) != 0)
			continue;
		if (ints[i].code ? !num(val, 300, 699, &v) : !num(val, 0, 10000000, &v))
			return why_set(why, whylen, "setting %s: \"%.20s\" is not %s", k, val,
				       ints[i].code ? "a SIP code 300-699" : "a count");
		if (ints[i].code)
			*(int *)(void *)((char *)s + ints[i].off) = (int)v;
		else
			*(unsigned *)(void *)((char *)s + ints[i].off) = (unsigned)v;
		return 0;
	}
	if (strcmp(k, "inbound_pool") == 0 || strcmp(k, "outbound_pool") == 0) {
		char *dst = strcmp(k, "inbound_pool") == 0 ? s->inbound_pool : s->outbound_pool;

		if (!name_ok(val, ROUTE_POOL_MAX))
			return why_set(why, whylen, "setting %s: bad pool name", k);
		snprintf(dst, ROUTE_POOL_MAX, "%s", val);
		return 0;
	}
	return why_set(why, whylen, "unknown setting \"%.40s\"", k);
}

/* ---- LISTEN payloads ---- */

void db_notify_parse(const char *payload, struct db_notify *out)
{
	static const char *const tables[] = {
		"tenants", "carrier_trunks", "customer_peers", "outbound_routes", "channel_pools",
		"settings", "routes",
	};
	const char *p;

	memset(out, 0, sizeof(*out));
	if (!payload)
		return;
	if (strncmp(payload, "did_numbers", 11) == 0) {
		if (payload[11] == '\0') {
			out->kind = DB_NOTIFY_DIDS_ALL;
			return;
		}
		if (payload[11] != ':')
			return;
		out->kind = DB_NOTIFY_DIDS;
		for (p = payload + 12; *p; ) {
			size_t n = strcspn(p, ",");
			char num_[ROUTE_E164_SIZE];

			if (n == 0 || n >= sizeof(num_) || out->n == DB_NOTIFY_MAX_DIDS) {
				out->kind = DB_NOTIFY_DIDS_ALL;
				out->n = 0;
				return;
			}
			memcpy(num_, p, n);
			num_[n] = '\0';
			if (!e164_ok(num_)) {
				out->kind = DB_NOTIFY_DIDS_ALL;
				out->n = 0;
				return;
			}
			memcpy(out->dids[out->n++], num_, n + 1);
			p += n;
			if (*p == ',')
				p++;
		}
		if (!out->n)
			out->kind = DB_NOTIFY_DIDS_ALL;
		return;
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(payload, tables[i]) == 0) {
			out->kind = DB_NOTIFY_TABLES;
			return;
		}
}
