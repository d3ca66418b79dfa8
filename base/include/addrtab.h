/*
 * addrtab.h — a bounded table of IP addresses, each with a count (connections from a
 * source, dialogs with a peer): add counts one more use of an address, del one less,
 * and the address leaves the table at zero. Ports are ignored; an IPv4-mapped IPv6
 * address is the IPv4 address it stands for; IPv6 addresses may be grouped by a
 * prefix (a /64 is one host's share). Pure data: no I/O, no locks (one thread at a
 * time), nothing allocated after creation except by addrtab_grow().
 */
#ifndef TRUNX_ADDRTAB_H
#define TRUNX_ADDRTAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addrtab;

/**
 * The 16 bytes an address is keyed on: IPv4 (and IPv4-mapped IPv6) as ::ffff:a.b.c.d,
 * other IPv6 with the bits after v6_prefix cleared. Two addresses are the same entry
 * exactly when their keys are equal.
 * @return 0; EAFNOSUPPORT (not AF_INET/AF_INET6: key all zero); EINVAL (NULL, or
 *         v6_prefix over 128: key all zero)
 */
int addrtab_key(const struct sockaddr *sa, unsigned v6_prefix, uint8_t key[16]);

/**
 * @param max_addrs  distinct addresses held at once (1 to 2^30)
 * @param v6_prefix  IPv6 bits that make an address (128: each address; 64: each /64)
 * @return 0, EINVAL or ENOMEM
 */
int  addrtab_create(struct addrtab **out, size_t max_addrs, unsigned v6_prefix);
void addrtab_destroy(struct addrtab *t);

/**
 * Counts one more use of sa's address.
 * @param max_count  the count an address may reach (0: no cap of its own)
 * @return 0 (counted); EBUSY (the address already has max_count: not counted); ENOSPC
 *         (max_addrs distinct addresses already: not counted); EAFNOSUPPORT (not IP);
 *         EINVAL (NULL)
 */
int addrtab_add(struct addrtab *t, const struct sockaddr *sa, unsigned max_count);

/** Counts one use less. @return 0; ENOENT (not in the table); EAFNOSUPPORT; EINVAL */
int addrtab_del(struct addrtab *t, const struct sockaddr *sa);

/** sa's count (0 when absent, not IP or NULL). */
unsigned addrtab_count(const struct addrtab *t, const struct sockaddr *sa);

/** Distinct addresses in the table. */
size_t addrtab_size(const struct addrtab *t);

/** The most distinct addresses it holds (max_addrs of the last create or grow). */
size_t addrtab_max(const struct addrtab *t);

/**
 * Raises max_addrs (rehashes into a new array; for an owner that chooses to grow when
 * addrtab_add says ENOSPC). @return 0 (also when max_addrs is not more than now);
 * EINVAL; ENOMEM (the table is left as it was)
 */
int addrtab_grow(struct addrtab *t, size_t max_addrs);

#endif
