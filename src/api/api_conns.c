/*
 * api_conns.c — connections per source (see api_conns.h): a counted address table
 * (base/addrtab) keyed by the IPv4 address or the IPv6 /64 (one host's share of
 * addresses), holding as many sources as the listener may hold connections.
 */
#include "api/api_conns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrtab.h"

struct api_conns {
	struct addrtab *by_src;
	unsigned        max_per_source;
};

int api_conns_create(struct api_conns **out, unsigned max_sources, unsigned max_per_source)
{
	struct api_conns *c;
	int err;

	if (!out || !max_sources || !max_per_source)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	err = addrtab_create(&c->by_src, max_sources, 64);
	if (err) {
		free(c);
		return err;
	}
	c->max_per_source = max_per_source;
	*out = c;
	return 0;
}

void api_conns_destroy(struct api_conns *c)
{
	if (!c)
		return;
	addrtab_destroy(c->by_src);
	free(c);
}

int api_conns_add(struct api_conns *c, const struct sockaddr *sa)
{
	int err;

	if (!c)
		return 0;
	err = addrtab_add(c->by_src, sa, c->max_per_source);
	/* Not an IP source (or none): not counted, admitted. */
	return err == EAFNOSUPPORT || err == EINVAL ? 0 : err;
}

void api_conns_remove(struct api_conns *c, const struct sockaddr *sa)
{
	if (c)
		(void)addrtab_del(c->by_src, sa);
}

unsigned api_conns_of(const struct api_conns *c, const struct sockaddr *sa)
{
	return c ? addrtab_count(c->by_src, sa) : 0;
}

unsigned api_conns_sources(const struct api_conns *c)
{
	return c ? (unsigned)addrtab_size(c->by_src) : 0;
}

void api_source_key(const char *addr, char *out, size_t len)
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	if (!out || !len)
		return;
	if (!addr || inet_pton(AF_INET6, addr, &a6) != 1) {
		snprintf(out, len, "%s", addr ? addr : "");
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text));
		snprintf(out, len, "%s", text);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, text, sizeof(text));
	snprintf(out, len, "%s/64", text);
}
