/*
 * api_conns.c — connections per source (see api_conns.h): an open-addressing table
 * with linear probing and backward-shift deletion, keyed by the IPv4 address or the
 * IPv6 /64 (one host's share of addresses), sized to twice the sources it may hold.
 */
#include "api/api_conns.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	uint8_t  key[16];
	unsigned count;          /**< 0: empty */
};

struct api_conns {
	struct slot *slots;
	size_t       mask;
	unsigned     sources, max_sources, max_per_source;
};

int api_conns_create(struct api_conns **out, unsigned max_sources, unsigned max_per_source)
{
	struct api_conns *c;
	size_t n = 16;

	if (!out || !max_sources || !max_per_source)
		return EINVAL;
	while (n < 2 * (size_t)max_sources)
		n *= 2;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->slots = calloc(n, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return ENOMEM;
	}
	c->mask = n - 1;
	c->max_sources = max_sources;
	c->max_per_source = max_per_source;
	*out = c;
	return 0;
}

void api_conns_destroy(struct api_conns *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c);
}

/* IPv4 as ::ffff:a.b.c.d, IPv6 as its /64; false for other families. */
static bool key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(key, &s6->sin6_addr, 16);
		/* A v4-mapped peer is the IPv4 host itself; any other: its /64. */
		if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memset(key + 8, 0, 8);
		return true;
	}
	return false;
}

static size_t hash_of(const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const struct api_conns *c, const uint8_t key[16])
{
	size_t i = hash_of(key) & c->mask;

	while (c->slots[i].count && memcmp(c->slots[i].key, key, 16) != 0)
		i = (i + 1) & c->mask;
	return i;
}

int api_conns_add(struct api_conns *c, const struct sockaddr *sa)
{
	uint8_t key[16];
	size_t i;

	if (!c || !key_of(sa, key))
		return 0;
	i = find(c, key);
	if (c->slots[i].count) {
		if (c->slots[i].count >= c->max_per_source)
			return EBUSY;
		c->slots[i].count++;
		return 0;
	}
	if (c->sources >= c->max_sources)
		return ENOSPC;
	memcpy(c->slots[i].key, key, 16);
	c->slots[i].count = 1;
	c->sources++;
	return 0;
}

void api_conns_remove(struct api_conns *c, const struct sockaddr *sa)
{
	uint8_t key[16];
	size_t i, j;

	if (!c || !key_of(sa, key))
		return;
	i = find(c, key);
	if (!c->slots[i].count || --c->slots[i].count)
		return;
	c->sources--;
	/* Backward shift: pull later members of the probe run into the hole, so that a
	 * lookup never stops early at it. */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & c->mask;
		if (!c->slots[j].count)
			break;
		home = hash_of(c->slots[j].key) & c->mask;
		/* Slot j may move to the hole i when its home is not in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			c->slots[i] = c->slots[j];
			c->slots[j].count = 0;
			i = j;
		}
	}
}

unsigned api_conns_of(const struct api_conns *c, const struct sockaddr *sa)
{
	uint8_t key[16];

	if (!c || !key_of(sa, key))
		return 0;
	return c->slots[find(c, key)].count;
}

unsigned api_conns_sources(const struct api_conns *c)
{
	return c ? c->sources : 0;
}
