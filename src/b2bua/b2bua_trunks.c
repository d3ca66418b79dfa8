/*
 * b2bua_trunks.c — `trunxctl trunks`: every trunk and peer of the routing snapshot with
 * its kind, status, sources, destination and the calls it carries now (signalling
 * thread, where the snapshot and the calls live).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"

static const char *kind_name(enum trunk_kind k)
{
	return k == TRUNK_KIND_CARRIER ? "carrier" : k == TRUNK_KIND_PEER ? "peer" : "file";
}

static const char *status_name(enum trunk_status s)
{
	return s == TRUNK_INACTIVE ? "inactive" : s == TRUNK_MAINTENANCE ? "maintenance" : "active";
}

static json_t *sources(const struct trunk_cfg *t)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < t->n_cidrs; i++) {
		char ip[INET6_ADDRSTRLEN] = "?", s[INET6_ADDRSTRLEN + 12];
		const struct route_cidr *c = &t->cidrs[i];
		const void *b = c->addr.ss_family == AF_INET ?
				(const void *)&((const struct sockaddr_in *)&c->addr)->sin_addr :
				(const void *)&((const struct sockaddr_in6 *)&c->addr)->sin6_addr;

		inet_ntop(c->addr.ss_family, b, ip, sizeof(ip));
		snprintf(s, sizeof(s), "%s/%u", ip, c->bits);
		json_array_append_new(a, json_string(s));
	}
	return a;
}

json_t *b2b_trunks_json(struct b2bua *b)
{
	json_t *arr = json_array();
	size_t n = route_table_trunk_count(b->rt);

	for (size_t i = 0; arr && i < n; i++) {
		const struct trunk *t = route_table_trunk_at(b->rt, i);
		const struct trunk_cfg *tc = trunk_get_cfg(t);
		unsigned in = 0, out = 0;
		json_t *o;

		for (struct call *c = b->calls; c; c = c->next) {
			if (!c->a && !c->b_leg)
				continue;
			if (c->trunk_in && !strcmp(trunk_get_cfg(c->trunk_in)->name, tc->name))
				in++;
			if (c->trunk_out && !strcmp(trunk_get_cfg(c->trunk_out)->name, tc->name))
				out++;
		}
		o = json_pack("{s:s,s:s,s:s,s:o,s:i,s:s?,s:s?,s:s?,s:I,s:I}", "name", tc->name,
			      "kind", kind_name(tc->kind), "status", status_name(tc->status),
			      "sources", sources(tc), "port", (int)tc->port,
			      "uri", tc->uri[0] ? tc->uri : NULL,
			      "tenant", tc->tenant[0] ? tc->tenant : NULL,
			      "group", tc->group[0] ? tc->group : NULL,
			      "calls_in", (json_int_t)in, "calls_out", (json_int_t)out);
		if (!o)
			continue;
		b2b_trunk_state_json(b, t, o);
		json_array_append_new(arr, o);
	}
	return arr;
}
