/* test_route.c — routing snapshot: identification by source, E.164 normalisation,
 * route lookup precedence, URI expansion, validation and reference counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "route.h"

static char err[256];

static struct trunk_cfg tcfg(const char *name, const char *cidrs, uint16_t port)
{
	struct trunk_cfg c;
	char buf[512], *save = NULL;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.port = port;
	snprintf(buf, sizeof(buf), "%s", cidrs);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct route_cidr *rc = &c.cidrs[c.n_cidrs++];
		char *slash = strchr(tok, '/');
		int bits = -1;

		if (slash) {
			*slash = '\0';
			bits = atoi(slash + 1);
		}
		if (inet_pton(AF_INET, tok, &((struct sockaddr_in *)&rc->addr)->sin_addr) == 1) {
			rc->addr.ss_family = AF_INET;
			rc->bits = (uint8_t)(bits < 0 ? 32 : bits);
		} else {
			assert_int_equal(inet_pton(AF_INET6, tok,
				&((struct sockaddr_in6 *)&rc->addr)->sin6_addr), 1);
			rc->addr.ss_family = AF_INET6;
			rc->bits = (uint8_t)(bits < 0 ? 128 : bits);
		}
	}
	return c;
}

static struct route_cfg rcfg(const char *name, const char *match, const char *from,
			     const char *to, const char *uri)
{
	struct route_cfg r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.match, sizeof(r.match), "%s", match);
	snprintf(r.from_trunk, sizeof(r.from_trunk), "%s", from);
	snprintf(r.to_trunk, sizeof(r.to_trunk), "%s", to);
	snprintf(r.uri, sizeof(r.uri), "%s", uri);
	return r;
}

static void add_trunk(struct route_table *rt, struct trunk_cfg c)
{
	if (route_table_add_trunk(rt, &c, err, sizeof(err)) != 0)
		fail_msg("add trunk %s: %s", c.name, err);
}

static void add_route(struct route_table *rt, struct route_cfg c)
{
	if (route_table_add_route(rt, &c, err, sizeof(err)) != 0)
		fail_msg("add route %s: %s", c.name, err);
}

static const char *who(const struct route_table *rt, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	const struct trunk *t;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	t = route_identify(rt, (const struct sockaddr *)&ss);
	return t ? trunk_get_cfg(t)->name : "-";
}

/* ---- identification ---------------------------------------------------------- */

static void test_identify(void **state)
{
	struct route_table *rt;
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	add_trunk(rt, tcfg("A", "10.0.0.0/8", 0));
	add_trunk(rt, tcfg("B", "10.1.0.0/16", 0));
	add_trunk(rt, tcfg("C", "10.1.2.3", 5070));
	add_trunk(rt, tcfg("D", "2001:db8::/32", 0));
	add_trunk(rt, tcfg("E", "2001:db8:1::/48", 5060));
	add_trunk(rt, tcfg("G", "192.0.2.0/24", 5060));
	add_trunk(rt, tcfg("H", "192.0.2.0/24 203.0.113.0/24", 0));
	add_trunk(rt, tcfg("I", "198.51.100.0/24", 5060));
	add_trunk(rt, tcfg("J", "198.51.100.0/22", 0));
	add_trunk(rt, tcfg("K", "::1 127.0.0.1", 0));
	add_trunk(rt, tcfg("OUT", "", 0));

	/* nothing identifies before freezing */
	assert_string_equal(who(rt, "10.1.2.3", 5070), "-");
	assert_int_equal(route_table_freeze(rt), 0);
	assert_int_equal(route_table_freeze(rt), 0);   /* idempotent */

	assert_string_equal(who(rt, "10.1.2.3", 5070), "C");   /* /32 + port */
	assert_string_equal(who(rt, "10.1.2.3", 5060), "B");   /* port mismatch: /16 */
	assert_string_equal(who(rt, "10.1.2.4", 5070), "B");
	assert_string_equal(who(rt, "10.2.0.1", 5060), "A");
	assert_string_equal(who(rt, "10.255.255.255", 1), "A");
	assert_string_equal(who(rt, "11.0.0.1", 5060), "-");
	assert_string_equal(who(rt, "9.255.255.255", 5060), "-");
	assert_string_equal(who(rt, "::ffff:10.1.2.3", 5070), "C");   /* v4-mapped */
	assert_string_equal(who(rt, "::ffff:10.9.9.9", 5070), "A");
	assert_string_equal(who(rt, "2001:db8:1::5", 5060), "E");
	assert_string_equal(who(rt, "2001:db8:1::5", 5061), "D");
	assert_string_equal(who(rt, "2001:db8:ffff::1", 5060), "D");
	assert_string_equal(who(rt, "2001:db9::1", 5060), "-");
	assert_string_equal(who(rt, "192.0.2.5", 5060), "G");   /* same CIDR: port first */
	assert_string_equal(who(rt, "192.0.2.5", 5080), "H");
	assert_string_equal(who(rt, "203.0.113.77", 5060), "H");
	assert_string_equal(who(rt, "198.51.100.7", 5060), "I");
	assert_string_equal(who(rt, "198.51.100.7", 5080), "J");   /* falls to the /22 */
	assert_string_equal(who(rt, "198.51.103.255", 5060), "J");
	assert_string_equal(who(rt, "198.51.104.0", 5060), "-");
	assert_string_equal(who(rt, "::1", 5060), "K");
	assert_string_equal(who(rt, "127.0.0.1", 40000), "K");
	assert_string_equal(who(rt, "127.0.0.2", 40000), "-");
	assert_string_equal(who(rt, "::", 0), "-");
	assert_null(route_identify(rt, (const struct sockaddr *)&un));
	assert_null(route_identify(rt, NULL));
	assert_null(route_identify(NULL, (const struct sockaddr *)&un));

	assert_int_equal(route_table_trunk_count(rt), 11);
	assert_string_equal(trunk_get_cfg(route_table_trunk_at(rt, 2))->name, "C");
	assert_null(route_table_trunk_at(rt, 11));
	assert_ptr_equal(route_table_trunk_by_name(rt, "E"), route_table_trunk_at(rt, 4));
	assert_null(route_table_trunk_by_name(rt, "e"));
	assert_null(route_table_trunk_by_name(rt, NULL));
	route_table_unref(rt);
}

static void test_identify_catch_all(void **state)
{
	struct route_table *rt;

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	add_trunk(rt, tcfg("any4", "0.0.0.0/0", 0));
	add_trunk(rt, tcfg("any6", "::/0", 0));
	add_trunk(rt, tcfg("one", "192.0.2.1", 0));
	assert_int_equal(route_table_freeze(rt), 0);
	assert_string_equal(who(rt, "192.0.2.1", 5060), "one");
	assert_string_equal(who(rt, "192.0.2.2", 5060), "any4");
	assert_string_equal(who(rt, "2001:db8::1", 5060), "any6");
	route_table_unref(rt);

	/* an empty table identifies nobody */
	assert_int_equal(route_table_create(&rt), 0);
	assert_int_equal(route_table_freeze(rt), 0);
	assert_string_equal(who(rt, "192.0.2.1", 5060), "-");
	assert_null(route_lookup(rt, "+15551234567", NULL));
	assert_int_equal(route_table_trunk_count(rt), 0);
	assert_int_equal(route_table_route_count(rt), 0);
	route_table_unref(rt);
}

static void test_trunk_errors(void **state)
{
	struct route_table *rt;
	struct trunk_cfg c;

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	add_trunk(rt, tcfg("A", "10.0.0.0/8 2001:db8::/32", 5060));

	c = tcfg("B", "192.0.2.0/24 10.0.0.0/8", 5060);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EEXIST);
	assert_string_equal(err, "trunk B: CIDR 10.0.0.0/8 port 5060 already belongs to trunk A");
	c = tcfg("B", "2001:db8::/32", 5060);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EEXIST);
	c = tcfg("B", "10.0.0.0/8", 0);   /* another port: allowed */
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), 0);

	c = tcfg("A", "192.0.2.0/24", 0);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "duplicate trunk A");
	c = tcfg("", "192.0.2.0/24", 0);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk without a name");
	c = tcfg("X", "192.0.2.1/24", 0);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk X: CIDR 192.0.2.1/24 has host bits set");
	c = tcfg("X", "192.0.2.0/33", 0);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk X: bad CIDR");
	c = tcfg("X", "192.0.2.0/24 192.0.2.0/24", 0);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk X: CIDR 192.0.2.0/24 listed twice");
	c = tcfg("X", "192.0.2.0/24", 0);
	c.cidrs[0].addr.ss_family = AF_UNIX;
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	c = tcfg("X", "", 0);
	c.n_cidrs = ROUTE_MAX_CIDRS + 1;
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk X: list too long");
	c = tcfg("X", "", 0);
	strcpy(c.country_code, "1a");
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk X: bad number format");
	c = tcfg("X", "", 0);
	strcpy(c.country_code, "0");
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	c = tcfg("X", "", 0);
	strcpy(c.uri, "tel:+1555");
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "trunk X: uri is not a sip: URI");
	c = tcfg("X", "", 0);
	memset(c.name, 'n', sizeof(c.name));   /* unterminated */
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);

	assert_int_equal(route_table_add_trunk(NULL, &c, err, sizeof(err)), EINVAL);
	assert_int_equal(route_table_add_trunk(rt, NULL, err, sizeof(err)), EINVAL);
	assert_int_equal(route_table_freeze(rt), 0);
	c = tcfg("Z", "", 0);
	assert_int_equal(route_table_add_trunk(rt, &c, NULL, 0), EINVAL);
	assert_int_equal(route_table_add_trunk(rt, &c, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "table is frozen");
	assert_int_equal(route_table_trunk_count(rt), 2);
	route_table_unref(rt);
	assert_int_equal(route_table_create(NULL), EINVAL);
	assert_int_equal(route_table_freeze(NULL), EINVAL);
	route_table_unref(NULL);
	assert_null(route_table_ref(NULL));
}

/* ---- normalisation ----------------------------------------------------------- */

struct norm_case {
	const char *user;
	const char *want;   /**< NULL: EINVAL */
};

static void check_norm(const struct trunk *t, const struct norm_case *cases, size_t n)
{
	char out[32];

	for (size_t i = 0; i < n; i++) {
		int rc = route_normalize(t, cases[i].user, out, sizeof(out));

		if (cases[i].want && (rc != 0 || strcmp(out, cases[i].want) != 0))
			fail_msg("%s: \"%s\" -> rc %d \"%s\", want \"%s\"",
				 t ? trunk_get_cfg(t)->name : "NULL", cases[i].user, rc,
				 rc ? "" : out, cases[i].want);
		if (!cases[i].want && rc != EINVAL)
			fail_msg("%s: \"%s\" -> rc %d, want EINVAL",
				 t ? trunk_get_cfg(t)->name : "NULL", cases[i].user, rc);
	}
}

static void test_normalize(void **state)
{
	static const struct norm_case us[] = {
		{"5551234567", "+15551234567"},
		{"15551234567", "+15551234567"},
		{"+15551234567", "+15551234567"},
		{"011442071234567", "+442071234567"},
		{"(555) 123-4567", "+15551234567"},
		{"555.123.4567", "+15551234567"},
		{"+1-555-123-4567", "+15551234567"},
		{"+1 (555) 123-4567", "+15551234567"},
		{"5551234567;npdi;rn=+15550000000", "+15551234567"},
		{"911", "+1911"},
		{"+123456789012345", "+123456789012345"},       /* 15 digits */
		{"+1234567890123456", NULL},                     /* 16 */
		{"12345678901234567890123456789012", NULL},     /* long digit run */
		{"555123456789012", NULL},                       /* 1 + 15 digits */
		{"abc", NULL},
		{"alice", NULL},
		{"555*1234", NULL},
		{"#123", NULL},
		{"123#", NULL},
		{"", NULL},
		{"+", NULL},
		{"-", NULL},
		{"1+555", NULL},
		{"++15551234567", NULL},
		{"011", NULL},      /* the international prefix alone */
		{"1", NULL},        /* the national prefix alone */
		{"+0123", NULL},    /* no country code starts with 0 */
		{"01144", "+44"},
		{"555%201234", NULL},
		{"555\t1234", NULL},
		{";npdi", NULL},
	};
	static const struct norm_case uk[] = {
		{"02071234567", "+442071234567"},
		{"2071234567", "+442071234567"},
		{"00155512345", "+155512345"},
		{"+442071234567", "+442071234567"},
		{"020 7123 4567", "+442071234567"},
		{"012345678901234", NULL},   /* 44 + 14 digits = 16 */
		{"01234567890123", "+441234567890123"},
		{"00", NULL},
		{"0", NULL},
	};
	static const struct norm_case e164[] = {
		{"442071234567", "+442071234567"},
		{"+442071234567", "+442071234567"},
		{"00442071234567", "+442071234567"},   /* international prefix, no cc */
		{"0123", NULL},
	};
	static const struct norm_case none[] = {
		{"+15551234567", "+15551234567"},
		{"15551234567", "+15551234567"},
		{"0044", NULL},
	};
	struct route_table *rt;
	struct trunk_cfg c;
	char out[32];

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	c = tcfg("us", "", 0);
	strcpy(c.country_code, "1");
	strcpy(c.national_prefix, "1");
	strcpy(c.international_prefix, "011");
	strcpy(c.uri, "sip:us.example.com");
	add_trunk(rt, c);
	c = tcfg("uk", "", 0);
	strcpy(c.country_code, "44");
	strcpy(c.national_prefix, "0");
	strcpy(c.international_prefix, "00");
	strcpy(c.uri, "sip:uk.example.com");
	add_trunk(rt, c);
	c = tcfg("e164", "", 0);
	strcpy(c.international_prefix, "00");
	strcpy(c.uri, "sip:e164.example.com");
	add_trunk(rt, c);
	assert_int_equal(route_table_freeze(rt), 0);

	check_norm(route_table_trunk_by_name(rt, "us"), us, sizeof(us) / sizeof(us[0]));
	check_norm(route_table_trunk_by_name(rt, "uk"), uk, sizeof(uk) / sizeof(uk[0]));
	check_norm(route_table_trunk_by_name(rt, "e164"), e164, sizeof(e164) / sizeof(e164[0]));
	check_norm(NULL, none, sizeof(none) / sizeof(none[0]));

	/* output buffer: exact fit, one short */
	assert_int_equal(route_normalize(NULL, "15551234567", out, 13), 0);
	assert_string_equal(out, "+15551234567");
	assert_int_equal(route_normalize(NULL, "15551234567", out, 12), ENOSPC);
	assert_int_equal(route_normalize(NULL, NULL, out, sizeof(out)), EINVAL);
	assert_int_equal(route_normalize(NULL, "1", NULL, 0), EINVAL);
	route_table_unref(rt);
}

/* ---- lookup ------------------------------------------------------------------ */

static const char *lookup(const struct route_table *rt, const char *e164, const char *from)
{
	const struct route *r = route_lookup(rt, e164, from ? route_table_trunk_by_name(rt, from)
						 : NULL);

	return r ? route_get_cfg(r)->name : "-";
}

static struct route_table *lookup_table(void)
{
	struct route_table *rt;
	struct trunk_cfg a = tcfg("A", "10.0.0.0/8", 0), b = tcfg("B", "10.1.0.0/16", 0);

	strcpy(a.uri, "sip:a.example.com");
	strcpy(b.uri, "sip:b.example.com");
	assert_int_equal(route_table_create(&rt), 0);
	add_trunk(rt, a);
	add_trunk(rt, b);
	add_route(rt, rcfg("any", "*", "", "B", ""));
	add_route(rt, rcfg("nanp", "+1*", "", "B", ""));
	add_route(rt, rcfg("555", "+1555*", "", "B", ""));
	add_route(rt, rcfg("exact", "+15551234567", "", "B", ""));
	add_route(rt, rcfg("exact-prefix", "+15551234567*", "", "B", ""));
	add_route(rt, rcfg("555-a", "+1555*", "A", "B", ""));
	add_route(rt, rcfg("44-a", "+44*", "A", "B", ""));
	add_route(rt, rcfg("exact-a", "+16005550000", "A", "B", ""));
	add_route(rt, rcfg("short", "+7", "", "B", ""));
	assert_int_equal(route_table_freeze(rt), 0);
	return rt;
}

static void test_lookup(void **state)
{
	struct route_table *rt = lookup_table(), *other;
	struct trunk_cfg a = tcfg("A", "10.0.0.0/8", 0);

	(void)state;
	assert_int_equal(route_table_route_count(rt), 9);
	/* exact beats every prefix, also a trunk-specific one of the same length */
	assert_string_equal(lookup(rt, "+15551234567", NULL), "exact");
	assert_string_equal(lookup(rt, "+15551234567", "A"), "exact");
	/* longer prefix beats shorter */
	assert_string_equal(lookup(rt, "+155512345678", NULL), "exact-prefix");
	assert_string_equal(lookup(rt, "+155512345678", "A"), "exact-prefix");
	assert_string_equal(lookup(rt, "+1555123456", NULL), "555");
	assert_string_equal(lookup(rt, "+16005551212", NULL), "nanp");
	/* trunk-specific beats generic of the same length */
	assert_string_equal(lookup(rt, "+15559999999", "A"), "555-a");
	assert_string_equal(lookup(rt, "+15559999999", "B"), "555");
	assert_string_equal(lookup(rt, "+15559999999", NULL), "555");
	/* a specific route applies only to its trunk */
	assert_string_equal(lookup(rt, "+442071234567", NULL), "any");
	assert_string_equal(lookup(rt, "+442071234567", "B"), "any");
	assert_string_equal(lookup(rt, "+442071234567", "A"), "44-a");
	assert_string_equal(lookup(rt, "+16005550000", "A"), "exact-a");
	assert_string_equal(lookup(rt, "+16005550000", "B"), "nanp");
	/* an exact route does not match longer or shorter numbers */
	assert_string_equal(lookup(rt, "+7", NULL), "short");
	assert_string_equal(lookup(rt, "+71", NULL), "any");
	assert_string_equal(lookup(rt, "+8", NULL), "any");
	/* numbers that are not +E.164 */
	assert_string_equal(lookup(rt, "15551234567", NULL), "-");
	assert_string_equal(lookup(rt, "+", NULL), "-");
	assert_string_equal(lookup(rt, "+1555abc", NULL), "-");
	assert_string_equal(lookup(rt, "+05551234567", NULL), "-");
	assert_string_equal(lookup(rt, "+1234567890123456", NULL), "-");
	assert_string_equal(lookup(rt, "", NULL), "-");
	assert_null(route_lookup(rt, NULL, NULL));
	assert_null(route_lookup(NULL, "+1", NULL));
	assert_string_equal(trunk_get_cfg(route_dest_trunk(route_lookup(rt, "+1", NULL)))->name,
			    "B");

	/* a trunk from another snapshot is matched by name */
	assert_int_equal(route_table_create(&other), 0);
	add_trunk(other, a);
	assert_int_equal(route_table_freeze(other), 0);
	assert_string_equal(route_get_cfg(route_lookup(rt, "+15559999999",
		route_table_trunk_by_name(other, "A")))->name, "555-a");
	route_table_unref(other);
	route_table_unref(rt);

	/* without "*", an unmatched number has no route */
	assert_int_equal(route_table_create(&rt), 0);
	add_route(rt, rcfg("uk", "+44*", "", "", "sip:{did}@uk.example.com"));
	assert_int_equal(route_table_freeze(rt), 0);
	assert_string_equal(lookup(rt, "+15551234567", NULL), "-");
	assert_string_equal(lookup(rt, "+4420", NULL), "uk");
	assert_null(route_dest_trunk(route_lookup(rt, "+4420", NULL)));
	route_table_unref(rt);
}

static void test_route_errors(void **state)
{
	static const char *const bad_match[] = {
		"1555", "+", "+1*5", "+0*", "**", "+1234567890123456", "+1234567890123456*",
		"", "+1 555", "*1", "+*",
	};
	struct route_table *rt;
	struct trunk_cfg a = tcfg("A", "10.0.0.0/8", 0), in = tcfg("IN", "10.2.0.0/16", 0);
	struct route_cfg r;

	(void)state;
	strcpy(a.uri, "sip:a.example.com");
	assert_int_equal(route_table_create(&rt), 0);
	add_trunk(rt, a);
	add_trunk(rt, in);
	for (size_t i = 0; i < sizeof(bad_match) / sizeof(bad_match[0]); i++) {
		r = rcfg("r", bad_match[i], "", "A", "");
		if (route_table_add_route(rt, &r, err, sizeof(err)) != EINVAL)
			fail_msg("match \"%s\" accepted", bad_match[i]);
	}
	r = rcfg("r", "1555", "", "A", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route r: match \"1555\" is not +E.164, +prefix* or *");
	r = rcfg("r", "*", "nobody", "A", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route r: unknown trunk nobody");
	r = rcfg("r", "*", "", "nobody", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route r: unknown trunk nobody");
	r = rcfg("r", "*", "", "", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route r: no destination (uri or a to_trunk with a uri)");
	r = rcfg("r", "*", "", "IN", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	r = rcfg("r", "*", "", "", "sip:{dn}@h");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route r: bad uri template \"sip:{dn}@h\"");
	r = rcfg("r", "*", "", "", "sip:{did@h");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	r = rcfg("r", "*", "", "", "sip:did}@h");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	r = rcfg("r", "*", "", "", "tel:{did}");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	r = rcfg("r", "*", "", "", "sip:{did} @h");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	r = rcfg("", "*", "", "A", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route without a name");
	r = rcfg("r", "*", "", "A", "");
	memset(r.match, '1', sizeof(r.match));
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route r: unterminated field");

	/* duplicates: same match and from_trunk; a different from_trunk is fine */
	add_route(rt, rcfg("one", "+1*", "", "A", ""));
	r = rcfg("two", "+1*", "", "A", "sip:x@y");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "route two: route one has the same match and from_trunk");
	add_route(rt, rcfg("three", "+1*", "IN", "A", ""));
	add_route(rt, rcfg("four", "+1", "", "A", ""));   /* exact vs prefix: distinct */
	r = rcfg("five", "+1*", "IN", "A", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);

	assert_int_equal(route_table_add_route(NULL, &r, err, sizeof(err)), EINVAL);
	assert_int_equal(route_table_add_route(rt, NULL, err, sizeof(err)), EINVAL);
	assert_int_equal(route_table_freeze(rt), 0);
	r = rcfg("six", "+2*", "", "A", "");
	assert_int_equal(route_table_add_route(rt, &r, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "table is frozen");
	assert_int_equal(route_table_route_count(rt), 3);
	route_table_unref(rt);
}

/* ---- URI expansion ----------------------------------------------------------- */

static void test_expand(void **state)
{
	struct route_table *rt;
	struct trunk_cfg gw = tcfg("gw", "", 0), uk = tcfg("uk", "", 0);
	char out[ROUTE_URI_MAX];
	const struct route *r;

	(void)state;
	strcpy(gw.uri, "sip:gw.example.com:5080;transport=tcp");
	strcpy(gw.country_code, "1");
	strcpy(uk.uri, "sips:trunkuser@[2001:db8::1]:5061");
	strcpy(uk.country_code, "44");
	assert_int_equal(route_table_create(&rt), 0);
	add_trunk(rt, gw);
	add_trunk(rt, uk);
	add_route(rt, rcfg("default", "+1*", "", "gw", ""));
	add_route(rt, rcfg("uk", "+44*", "", "uk", ""));
	add_route(rt, rcfg("nat", "+1555*", "", "gw", "sip:{national}@pbx.local;user=phone"));
	add_route(rt, rcfg("both", "+1666*", "", "uk", "sip:{did}@h;x={national}"));
	add_route(rt, rcfg("bare", "+1777*", "", "", "sip:{national}@10.0.0.1:5060"));
	add_route(rt, rcfg("fixed", "+1888*", "", "", "sip:operator@10.0.0.1"));
	assert_int_equal(route_table_freeze(rt), 0);

#define EXPAND(num, want) do { \
	r = route_lookup(rt, num, NULL); \
	assert_non_null(r); \
	assert_int_equal(route_expand_uri(r, num, out, sizeof(out)), 0); \
	assert_string_equal(out, want); \
} while (0)
	EXPAND("+16005551212", "sip:+16005551212@gw.example.com:5080;transport=tcp");
	EXPAND("+442071234567", "sips:+442071234567@[2001:db8::1]:5061");
	EXPAND("+15551234567", "sip:5551234567@pbx.local;user=phone");
	EXPAND("+16661234567", "sip:+16661234567@h;x=16661234567");  /* cc 44 not a prefix */
	EXPAND("+17771234567", "sip:17771234567@10.0.0.1:5060");
	EXPAND("+18881234567", "sip:operator@10.0.0.1");
#undef EXPAND

	r = route_lookup(rt, "+16005551212", NULL);
	/* exact fit and one byte short */
	assert_int_equal(route_expand_uri(r, "+16005551212", out, 51), 0);
	assert_int_equal(strlen(out), 50);
	assert_int_equal(route_expand_uri(r, "+16005551212", out, 50), ENOSPC);
	assert_int_equal(route_expand_uri(r, "16005551212", out, sizeof(out)), EINVAL);
	assert_int_equal(route_expand_uri(r, "+1600;x", out, sizeof(out)), EINVAL);
	assert_int_equal(route_expand_uri(r, NULL, out, sizeof(out)), EINVAL);
	assert_int_equal(route_expand_uri(NULL, "+1", out, sizeof(out)), EINVAL);
	assert_int_equal(route_expand_uri(r, "+1", out, 0), EINVAL);
	assert_null(route_get_cfg(NULL));
	assert_null(route_dest_trunk(NULL));
	assert_null(trunk_get_cfg(NULL));
	route_table_unref(rt);
}

/* ---- reference counting across threads --------------------------------------- */

struct reader {
	struct route_table *rt;
	unsigned hits;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	for (int i = 0; i < 20000; i++) {
		struct route_table *mine = route_table_ref(rd->rt);

		if (route_lookup(mine, "+15559999999", NULL) &&
		    strcmp(who(mine, "10.1.2.3", 5060), "B") == 0)
			rd->hits++;
		route_table_unref(mine);
	}
	route_table_unref(rd->rt);   /* the reference the thread was given */
	return NULL;
}

static void test_refcount_threads(void **state)
{
	struct route_table *rt = lookup_table();
	struct reader rd[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		rd[i].rt = route_table_ref(rt);
		rd[i].hits = 0;
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	route_table_unref(rt);   /* the threads now hold the last references */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(rd[i].hits, 20000);
	}
}

/* ---- a larger table ---------------------------------------------------------- */

static void test_large_table(void **state)
{
	struct route_table *rt;
	char name[32], match[32], num[32];

	(void)state;
	assert_int_equal(route_table_create(&rt), 0);
	for (int i = 0; i < 1000; i++) {
		struct trunk_cfg c;
		char cidr[64];

		snprintf(name, sizeof(name), "t%d", i);
		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", i / 256, i % 256);
		c = tcfg(name, cidr, 0);
		snprintf(c.uri, sizeof(c.uri), "sip:gw%d.example.com", i);
		add_trunk(rt, c);
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		snprintf(match, sizeof(match), "+1%07d%s", i * 13, i % 2 ? "*" : "");
		snprintf(num, sizeof(num), "t%d", i % 1000);
		add_route(rt, rcfg(name, match, "", num, ""));
	}
	assert_int_equal(route_table_freeze(rt), 0);
	for (int i = 0; i < 20000; i += 7) {
		snprintf(num, sizeof(num), "+1%07d%s", i * 13, i % 2 ? "99" : "");
		snprintf(name, sizeof(name), "r%d", i);
		assert_string_equal(lookup(rt, num, NULL), name);
	}
	assert_string_equal(who(rt, "10.3.231.9", 5060), "t999");
	assert_string_equal(who(rt, "10.0.0.1", 5060), "t0");
	assert_string_equal(who(rt, "10.3.232.1", 5060), "-");
	route_table_unref(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_identify_catch_all),
		cmocka_unit_test(test_trunk_errors),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_route_errors),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_refcount_threads),
		cmocka_unit_test(test_large_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
