/*
 * addrtab.c — the counted address table (see addrtab.h): open addressing with linear
 * probing and backward-shift deletion (no tombstones), at least twice as many cells as
 * the addresses it may hold, so a probe always ends at an empty cell. A cell is the
 * address's 16-byte key and its count; count 0 marks an empty cell. The hash is seeded
 * per table so that the cells addresses land in cannot be chosen from outside.
 */
#include "addrtab.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hash64.h"

#define MAX_ADDRS ((size_t)1 << 30)

struct cell {
	uint8_t  key[16];
	unsigned count;      /**< 0: empty */
};

struct addrtab {
	struct cell *cell;
	size_t       mask;          /**< cells - 1; cells a power of two >= 2 * max_addrs */
	size_t       size, max_addrs;
	unsigned     v6_prefix;
	uint64_t     seed;
};

int addrtab_key(const struct sockaddr *sa, unsigned v6_prefix, uint8_t key[16])
{
	const struct in6_addr *a6;

	memset(key, 0, 16);
	if (!sa || v6_prefix > 128)
		return EINVAL;
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return EAFNOSUPPORT;
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	memcpy(key, a6, 16);
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return 0;
	if (v6_prefix < 128) {
		size_t whole = v6_prefix / 8;

		if (v6_prefix % 8)
			key[whole++] &= (uint8_t)(0xff00u >> (v6_prefix % 8));
		memset(key + whole, 0, 16 - whole);
	}
	return 0;
}

static size_t home_of(const struct addrtab *t, const uint8_t key[16])
{
	uint64_t w[2];

	memcpy(w, key, 16);
	return (size_t)hash64_mix(hash64_mix(w[0] ^ t->seed) ^ w[1]) & t->mask;
}

/* The cell holding key, or the empty cell where it would go. */
static size_t find(const struct addrtab *t, const uint8_t key[16])
{
	size_t i = home_of(t, key);

	while (t->cell[i].count && memcmp(t->cell[i].key, key, 16) != 0)
		i = (i + 1) & t->mask;
	return i;
}

/* sa's key and the cell holding it (or where it would go). */
static int locate(const struct addrtab *t, const struct sockaddr *sa, uint8_t key[16],
		  size_t *i)
{
	int err;

	if (!t)
		return EINVAL;
	err = addrtab_key(sa, t->v6_prefix, key);
	if (!err)
		*i = find(t, key);
	return err;
}

static int cells_for(size_t max_addrs, size_t *cells)
{
	size_t n = 16;

	if (!max_addrs || max_addrs > MAX_ADDRS)
		return EINVAL;
	while (n < 2 * max_addrs)
		n *= 2;
	*cells = n;
	return 0;
}

int addrtab_create(struct addrtab **out, size_t max_addrs, unsigned v6_prefix)
{
	struct addrtab *t;
	size_t n;

	if (!out || v6_prefix > 128 || cells_for(max_addrs, &n))
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->cell = calloc(n, sizeof(*t->cell));
	if (!t->cell) {
		free(t);
		return ENOMEM;
	}
	t->mask = n - 1;
	t->max_addrs = max_addrs;
	t->v6_prefix = v6_prefix;
	t->seed = hash64_mix((uint64_t)(uintptr_t)t ^ 0x2545f4914f6cdd1dull);
	*out = t;
	return 0;
}

void addrtab_destroy(struct addrtab *t)
{
	if (!t)
		return;
	free(t->cell);
	free(t);
}

int addrtab_add(struct addrtab *t, const struct sockaddr *sa, unsigned max_count)
{
	uint8_t key[16];
	size_t i;
	int err = locate(t, sa, key, &i);

	if (err)
		return err;
	if (t->cell[i].count) {
		if (t->cell[i].count >= (max_count ? max_count : ~0u))
			return EBUSY;
		t->cell[i].count++;
		return 0;
	}
	if (t->size >= t->max_addrs)
		return ENOSPC;
	memcpy(t->cell[i].key, key, 16);
	t->cell[i].count = 1;
	t->size++;
	return 0;
}

int addrtab_del(struct addrtab *t, const struct sockaddr *sa)
{
	uint8_t key[16];
	size_t i, j;
	int err = locate(t, sa, key, &i);

	if (err)
		return err;
	if (!t->cell[i].count)
		return ENOENT;
	if (--t->cell[i].count)
		return 0;
	t->size--;
	/* Backward shift: pull later members of the probe run into the hole, so that a
	 * lookup never stops early at it. */
	for (j = i;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (!t->cell[j].count)
			return 0;
		home = home_of(t, t->cell[j].key);
		/* j stays unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->cell[i] = t->cell[j];
		t->cell[j].count = 0;
		i = j;
	}
}

unsigned addrtab_count(const struct addrtab *t, const struct sockaddr *sa)
{
	uint8_t key[16];
	size_t i;

	return locate(t, sa, key, &i) ? 0 : t->cell[i].count;
}

size_t addrtab_size(const struct addrtab *t)
{
	return t ? t->size : 0;
}

size_t addrtab_max(const struct addrtab *t)
{
	return t ? t->max_addrs : 0;
}

int addrtab_grow(struct addrtab *t, size_t max_addrs)
{
	struct cell *old;
	size_t n, old_n;

	if (!t || cells_for(max_addrs, &n))
		return EINVAL;
	if (max_addrs <= t->max_addrs)
		return 0;
	old_n = t->mask + 1;
	if (n > old_n) {
		struct cell *c = calloc(n, sizeof(*c));

		if (!c)
			return ENOMEM;
		old = t->cell;
		t->cell = c;
		t->mask = n - 1;
		for (size_t k = 0; k < old_n; k++)
			if (old[k].count)
				t->cell[find(t, old[k].key)] = old[k];
		free(old);
	}
	t->max_addrs = max_addrs;
	return 0;
}
