/* fuzz_route_normalize.c — number normalisation, route lookup and URI expansion on
 * arbitrary strings. The first byte picks the calling trunk's number format; the
 * rest is the request-URI user part. A normalised number must be +E.164, stay the
 * same when normalised again, and route and expand without error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct route_table *table;

static void add_trunk(const char *name, const char *cc, const char *np, const char *ip,
		      const char *uri)
{
	struct trunk_cfg c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.country_code, sizeof(c.country_code), "%s", cc);
	snprintf(c.national_prefix, sizeof(c.national_prefix), "%s", np);
	snprintf(c.international_prefix, sizeof(c.international_prefix), "%s", ip);
	snprintf(c.uri, sizeof(c.uri), "%s", uri);
	if (route_table_add_trunk(table, &c, NULL, 0))
		abort();
}

static void add_route(const char *name, const char *match, const char *from,
		      const char *to, const char *uri)
{
	struct route_cfg r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.match, sizeof(r.match), "%s", match);
	snprintf(r.from_trunk, sizeof(r.from_trunk), "%s", from);
	snprintf(r.to_trunk, sizeof(r.to_trunk), "%s", to);
	snprintf(r.uri, sizeof(r.uri), "%s", uri);
	if (route_table_add_route(table, &r, NULL, 0))
		abort();
}

static void build(void)
{
	if (route_table_create(&table))
		abort();
	add_trunk("us", "1", "1", "011", "sip:us.example.com:5060;transport=tcp");
	add_trunk("uk", "44", "0", "00", "sips:u@[2001:db8::1]");
	add_trunk("de", "49", "0", "00", "sip:de.example.com");
	add_trunk("e164", "", "", "", "sip:e164.example.com");
	add_trunk("ip", "", "", "00", "");
	add_route("any", "*", "", "us", "");
	add_route("uk", "+44*", "", "uk", "sip:{national}@pbx;x={did}");
	add_route("uk-us", "+44*", "us", "uk", "");
	add_route("exact", "+15551234567", "", "", "sip:{did}@10.0.0.1");
	add_route("de", "+49*", "de", "de", "sip:0{national}@de.example.com");
	add_route("long", "+123456789012345", "", "e164", "");
	if (route_table_freeze(table))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[256], e164[32], again[32], uri[ROUTE_URI_MAX];
	const struct trunk *t;
	const struct route *r;
	size_t n;

	if (!table)
		build();
	if (size == 0)
		return 0;
	t = route_table_trunk_at(table, data[0] % (route_table_trunk_count(table) + 1));
	n = size - 1 < sizeof(user) - 1 ? size - 1 : sizeof(user) - 1;
	memcpy(user, data + 1, n);
	user[n] = '\0';

	/* raw strings straight into lookup and expansion: never a crash */
	r = route_lookup(table, user, t);
	if (r)
		(void)route_expand_uri(r, user, uri, sizeof(uri));

	if (route_normalize(t, user, e164, sizeof(e164)) != 0)
		return 0;
	n = strlen(e164);
	if (e164[0] != '+' || n < 2 || n > 16 || strspn(e164 + 1, "0123456789") != n - 1 ||
	    e164[1] == '0')
		abort();
	if (route_normalize(NULL, e164, again, sizeof(again)) != 0 || strcmp(again, e164))
		abort();
	r = route_lookup(table, e164, t);
	if (!r)
		abort();   /* "*" catches every number */
	if (route_expand_uri(r, e164, uri, sizeof(uri)) != 0 || !strstr(uri, "@"))
		abort();
	return 0;
}
