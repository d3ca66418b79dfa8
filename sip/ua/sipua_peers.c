/*
 * sipua_peers.c — the addresses (IP only) of the peers of live dialogs, counted: a
 * source in this set may send a Contact (see sipua_mclass.c) even when no trunk
 * matches it, e.g. the host of a route URI that answered our INVITE. Chained hash
 * table, grown by doubling; signalling thread only.
 */
#include "sipua_peers.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct peer_node {
	struct peer_node *next;
	uint8_t           key[17];   /**< family tag + 16 address bytes */
	unsigned          refs;
};

struct sipua_peers {
	struct peer_node **bucket;
	size_t             n_buckets;   /**< a power of two */
	size_t             count;
};

/* The IP of sa as a key; false for other families. */
static bool key_of(const struct sockaddr *sa, uint8_t key[17])
{
	memset(key, 0, 17);
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* An IPv4-mapped address is the IPv4 peer it stands for. */
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 16);
		}
		return true;
	}
	return false;
}

static size_t hash_of(const uint8_t key[17], size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < 17; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29)) & (n - 1);
}

int sipua_peers_create(struct sipua_peers **pp)
{
	struct sipua_peers *p;

	if (!pp)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->n_buckets = 256;
	p->bucket = calloc(p->n_buckets, sizeof(*p->bucket));
	if (!p->bucket) {
		free(p);
		return ENOMEM;
	}
	*pp = p;
	return 0;
}

void sipua_peers_destroy(struct sipua_peers *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct peer_node *n = p->bucket[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(p->bucket);
	free(p);
}

static void grow(struct sipua_peers *p)
{
	size_t nb = p->n_buckets * 2;
	struct peer_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;   /* longer chains, still correct */
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct peer_node *n = p->bucket[i], *next;

		for (; n; n = next) {
			size_t h = hash_of(n->key, nb);

			next = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(p->bucket);
	p->bucket = b;
	p->n_buckets = nb;
}

int sipua_peers_add(struct sipua_peers *p, const struct sockaddr *sa)
{
	uint8_t key[17];
	struct peer_node *n;
	size_t h;

	if (!p || !key_of(sa, key))
		return EINVAL;
	h = hash_of(key, p->n_buckets);
	for (n = p->bucket[h]; n; n = n->next) {
		if (memcmp(n->key, key, sizeof(key)) == 0) {
			n->refs++;
			return 0;
		}
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return ENOMEM;
	memcpy(n->key, key, sizeof(key));
	n->refs = 1;
	n->next = p->bucket[h];
	p->bucket[h] = n;
	if (++p->count > p->n_buckets * 2)
		grow(p);
	return 0;
}

void sipua_peers_del(struct sipua_peers *p, const struct sockaddr *sa)
{
	uint8_t key[17];
	struct peer_node **np;

	if (!p || !key_of(sa, key))
		return;
	for (np = &p->bucket[hash_of(key, p->n_buckets)]; *np; np = &(*np)->next) {
		struct peer_node *n = *np;

		if (memcmp(n->key, key, sizeof(key)) != 0)
			continue;
		if (--n->refs == 0) {
			*np = n->next;
			free(n);
			p->count--;
		}
		return;
	}
}

bool sipua_peers_has(const struct sipua_peers *p, const struct sockaddr *sa)
{
	uint8_t key[17];

	if (!p || !key_of(sa, key))
		return false;
	for (const struct peer_node *n = p->bucket[hash_of(key, p->n_buckets)]; n; n = n->next)
		if (memcmp(n->key, key, sizeof(key)) == 0)
			return true;
	return false;
}

bool sipua_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	uint8_t ka[17], kb[17];

	return key_of(a, ka) && key_of(b, kb) && memcmp(ka, kb, sizeof(ka)) == 0;
}

size_t sipua_peers_count(const struct sipua_peers *p)
{
	return p ? p->count : 0;
}
