/*
 * guard_conn.c — the table of accepted SIP connections: one entry per descriptor,
 * a count per source address, and the caps (in total, per source address, and per
 * known source address). An eighth of
 * the total (at least one slot when the total is two or more) is kept for known
 * sources: a flood of connections from strangers, each under its per-source cap,
 * cannot take the last slots a trunk needs to reconnect.
 *
 * Entries live in an array of `capacity` slots (free slots on a list); an open-
 * addressing hash table with linear probing (and backward-shift deletion, so no
 * tombstones) finds a slot by descriptor, with twice as many cells as the capacity so
 * that it never fills up; a counted address table (base/addrtab) of `capacity`
 * addresses holds the count by source. An entry may own a buffer its user filled
 * (held: a refused source's split request; out: one to hand to the reader), freed when
 * the entry is removed.
 *
 * An IPv6 source no trunk matches is counted by its /64 (the prefix a single host or
 * subscriber is given, and may rotate its source through), as the HTTP API counts
 * its sources; a known source (a trunk, a dialog's peer) by its own address.
 */
#include "guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addrtab.h"

struct guard_conns {
	struct guard_conn *slot;      /**< capacity entries; fd -1 = free */
	unsigned           capacity;
	unsigned           count;
	unsigned           unknown;       /**< entries from sources not known */
	unsigned           max_total, max_per_source, max_per_known;
	int32_t           *free_next; /**< free list through slot indexes */
	int32_t            free_head;
	int32_t           *by_fd;     /**< cells: slot index + 1, 0 = empty */
	size_t             cells;     /**< a power of two >= 2 * capacity */
	struct addrtab    *by_src;    /**< connections per source address */
};

static size_t fd_cell(const struct guard_conns *t, int fd)
{
	return (size_t)guard_mix((uint64_t)(unsigned)fd) & (t->cells - 1);
}

int guard_conns_create(struct guard_conns **tp, unsigned capacity)
{
	struct guard_conns *t;

	if (!tp || !capacity || capacity > (1u << 24))
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->cells = 1;
	while (t->cells < 2 * (size_t)capacity)
		t->cells <<= 1;
	t->slot = calloc(capacity, sizeof(*t->slot));
	t->free_next = calloc(capacity, sizeof(*t->free_next));
	t->by_fd = calloc(t->cells, sizeof(*t->by_fd));
	if (!t->slot || !t->free_next || !t->by_fd ||
	    addrtab_create(&t->by_src, capacity, 128) != 0) {
		guard_conns_destroy(t);
		return ENOMEM;
	}
	t->capacity = t->max_total = t->max_per_source = t->max_per_known = capacity;
	for (unsigned i = 0; i < capacity; i++) {
		t->slot[i].fd = -1;
		t->free_next[i] = i + 1 < capacity ? (int32_t)(i + 1) : -1;
	}
	t->free_head = 0;
	*tp = t;
	return 0;
}

void guard_conns_destroy(struct guard_conns *t)
{
	if (!t)
		return;
	for (unsigned i = 0; t->slot && i < t->capacity; i++) {
		free(t->slot[i].held);
		free(t->slot[i].out);
	}
	free(t->slot);
	free(t->free_next);
	free(t->by_fd);
	addrtab_destroy(t->by_src);
	free(t);
}

unsigned guard_conns_reserve(unsigned max_total)
{
	return max_total >= 2 ? (max_total / 8 ? max_total / 8 : 1) : 0;
}

void guard_conns_set_limits(struct guard_conns *t, unsigned max_total, unsigned max_per_source,
			    unsigned max_per_known)
{
	if (!t)
		return;
	t->max_total = max_total && max_total < t->capacity ? max_total : t->capacity;
	t->max_per_source = max_per_source ? max_per_source : t->max_total;
	t->max_per_known = max_per_known ? max_per_known : t->max_total;
}

/* ---- fd -> slot ---- */

static size_t fd_find(const struct guard_conns *t, int fd)
{
	for (size_t c = fd_cell(t, fd);; c = (c + 1) & (t->cells - 1)) {
		int32_t v = t->by_fd[c];

		if (!v || t->slot[v - 1].fd == fd)
			return c;
	}
}

static void fd_erase(struct guard_conns *t, size_t c)
{
	size_t mask = t->cells - 1, j = c;

	t->by_fd[c] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->by_fd[j])
			return;
		home = fd_cell(t, t->slot[t->by_fd[j] - 1].fd);
		/* Move j back into the hole unless its home lies cyclically in (c, j]. */
		if ((c <= j) ? (c < home && home <= j) : (c < home || home <= j))
			continue;
		t->by_fd[c] = t->by_fd[j];
		t->by_fd[j] = 0;
		c = j;
	}
}

/* The address a connection is counted under: see the comment atop the file. */
static const struct sockaddr *count_key(const struct sockaddr *peer, bool known,
					struct sockaddr_in6 *buf)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)peer;

	if (known || peer->sa_family != AF_INET6 || IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
		return peer;
	*buf = *a6;
	memset(&buf->sin6_addr.s6_addr[8], 0, 8);
	return (const struct sockaddr *)buf;
}

/* ---- API ---- */

int guard_conns_add(struct guard_conns *t, int fd, const struct sockaddr *peer, bool known,
		    uint64_t now_ms, struct guard_conn **cp)
{
	size_t fc, plen;
	int32_t i;
	struct guard_conn *c;
	struct sockaddr_in6 key;
	int err;

	if (!t || fd < 0 || !peer)
		return EINVAL;
	fc = fd_find(t, fd);
	if (t->by_fd[fc])
		return EEXIST;
	if (t->count >= t->max_total || t->free_head < 0)
		return ENFILE;
	if (!known && t->unknown >= t->max_total - guard_conns_reserve(t->max_total))
		return ENFILE;
	/* Counted last: nothing after it can fail. A source not IP is not counted. */
	err = addrtab_add(t->by_src, count_key(peer, known, &key),
			  known ? t->max_per_known : t->max_per_source);
	if (err == EBUSY)
		return EMLINK;
	i = t->free_head;
	t->free_head = t->free_next[i];
	c = &t->slot[i];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	plen = peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	memcpy(&c->peer, peer, plen);
	c->known = known;
	c->since_ms = now_ms;
	t->by_fd[fc] = i + 1;
	t->count++;
	t->unknown += !known;
	if (cp)
		*cp = c;
	return 0;
}

struct guard_conn *guard_conns_get(struct guard_conns *t, int fd)
{
	size_t c;

	if (!t || fd < 0)
		return NULL;
	c = fd_find(t, fd);
	return t->by_fd[c] ? &t->slot[t->by_fd[c] - 1] : NULL;
}

void guard_conns_remove(struct guard_conns *t, int fd)
{
	size_t fc;
	int32_t i;
	struct sockaddr_in6 key;

	if (!t || fd < 0)
		return;
	fc = fd_find(t, fd);
	if (!t->by_fd[fc])
		return;
	i = t->by_fd[fc] - 1;
	(void)addrtab_del(t->by_src, count_key((const struct sockaddr *)&t->slot[i].peer,
					       t->slot[i].known, &key));
	fd_erase(t, fc);
	free(t->slot[i].held);
	free(t->slot[i].out);
	t->slot[i].held = t->slot[i].out = NULL;
	t->slot[i].fd = -1;
	t->free_next[i] = t->free_head;
	t->free_head = i;
	t->count--;
	t->unknown -= !t->slot[i].known;
}

unsigned guard_conns_count(const struct guard_conns *t)
{
	return t ? t->count : 0;
}

unsigned guard_conns_from(const struct guard_conns *t, const struct sockaddr *src)
{
	return t ? addrtab_count(t->by_src, src) : 0;
}

struct guard_conn *guard_conns_next(struct guard_conns *t, unsigned *pos)
{
	if (!t || !pos)
		return NULL;
	while (*pos < t->capacity) {
		struct guard_conn *c = &t->slot[(*pos)++];

		if (c->fd >= 0)
			return c;
	}
	return NULL;
}
