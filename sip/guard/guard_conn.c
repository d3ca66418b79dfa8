/*
 * guard_conn.c — the table of accepted SIP connections: one entry per descriptor,
 * a count per source address, and the caps (in total and per source). An eighth of
 * the total (at least one slot when the total is two or more) is kept for known
 * sources: a flood of connections from strangers, each under its per-source cap,
 * cannot take the last slots a trunk needs to reconnect.
 *
 * Entries live in an array of `capacity` slots (free slots on a list); two open-
 * addressing hash tables with linear probing (and backward-shift deletion, so no
 * tombstones) find a slot by descriptor and a count by source address. Both tables
 * have twice as many cells as the capacity, so they never fill up.
 */
#include "guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct src_count {
	uint8_t  addr[16];
	uint32_t count;      /**< 0 = empty cell */
};

struct guard_conns {
	struct guard_conn *slot;      /**< capacity entries; fd -1 = free */
	unsigned           capacity;
	unsigned           count;
	unsigned           unknown;       /**< entries from sources not known */
	unsigned           max_total, max_per_source;
	int32_t           *free_next; /**< free list through slot indexes */
	int32_t            free_head;
	int32_t           *by_fd;     /**< cells: slot index + 1, 0 = empty */
	struct src_count  *by_src;
	size_t             cells;     /**< a power of two >= 2 * capacity */
};

static size_t addr_cell(const struct guard_conns *t, const uint8_t key[16])
{
	uint64_t w[2];

	memcpy(w, key, 16);
	return (size_t)(guard_mix(w[0]) ^ guard_mix(w[1] + 1)) & (t->cells - 1);
}

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
	t->by_src = calloc(t->cells, sizeof(*t->by_src));
	if (!t->slot || !t->free_next || !t->by_fd || !t->by_src) {
		guard_conns_destroy(t);
		return ENOMEM;
	}
	t->capacity = t->max_total = t->max_per_source = capacity;
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
	free(t->slot);
	free(t->free_next);
	free(t->by_fd);
	free(t->by_src);
	free(t);
}

unsigned guard_conns_reserve(unsigned max_total)
{
	return max_total >= 2 ? (max_total / 8 ? max_total / 8 : 1) : 0;
}

void guard_conns_set_limits(struct guard_conns *t, unsigned max_total, unsigned max_per_source)
{
	if (!t)
		return;
	t->max_total = max_total && max_total < t->capacity ? max_total : t->capacity;
	t->max_per_source = max_per_source ? max_per_source : t->max_total;
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

/* ---- source -> count ---- */

static size_t src_find(const struct guard_conns *t, const uint8_t key[16])
{
	for (size_t c = addr_cell(t, key);; c = (c + 1) & (t->cells - 1)) {
		if (!t->by_src[c].count || memcmp(t->by_src[c].addr, key, 16) == 0)
			return c;
	}
}

static void src_erase(struct guard_conns *t, size_t c)
{
	size_t mask = t->cells - 1, j = c;

	t->by_src[c].count = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->by_src[j].count)
			return;
		home = addr_cell(t, t->by_src[j].addr);
		if ((c <= j) ? (c < home && home <= j) : (c < home || home <= j))
			continue;
		t->by_src[c] = t->by_src[j];
		t->by_src[j].count = 0;
		c = j;
	}
}

/* ---- API ---- */

int guard_conns_add(struct guard_conns *t, int fd, const struct sockaddr *peer, bool known,
		    uint64_t now_ms, struct guard_conn **cp)
{
	uint8_t key[16];
	size_t fc, sc;
	int32_t i;
	struct guard_conn *c;
	size_t plen;

	if (!t || fd < 0 || !peer)
		return EINVAL;
	fc = fd_find(t, fd);
	if (t->by_fd[fc])
		return EEXIST;
	if (t->count >= t->max_total || t->free_head < 0)
		return ENFILE;
	if (!known && t->unknown >= t->max_total - guard_conns_reserve(t->max_total))
		return ENFILE;
	guard_addr_key(peer, key);
	sc = src_find(t, key);
	if (t->by_src[sc].count >= t->max_per_source)
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
	if (!t->by_src[sc].count)
		memcpy(t->by_src[sc].addr, key, 16);
	t->by_src[sc].count++;
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
	uint8_t key[16];
	size_t fc, sc;
	int32_t i;

	if (!t || fd < 0)
		return;
	fc = fd_find(t, fd);
	if (!t->by_fd[fc])
		return;
	i = t->by_fd[fc] - 1;
	guard_addr_key((const struct sockaddr *)&t->slot[i].peer, key);
	sc = src_find(t, key);
	if (t->by_src[sc].count > 1)
		t->by_src[sc].count--;
	else if (t->by_src[sc].count == 1)
		src_erase(t, sc);
	fd_erase(t, fc);
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
	uint8_t key[16];

	if (!t || !src)
		return 0;
	guard_addr_key(src, key);
	return t->by_src[src_find(t, key)].count;
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
