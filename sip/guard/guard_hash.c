/*
 * guard_hash.c — the hashing the guards' tables share: a 64-bit mixer (base/hash64)
 * and an address as the 16 bytes they key on (IPv4 mapped into IPv6: base/addrtab's
 * key of the whole address), so the rate limiter, the connection table and the
 * stateless answers agree on what one source is.
 */
#include "guard.h"

#include "addrtab.h"
#include "hash64.h"

uint64_t guard_mix(uint64_t x)
{
	return hash64_mix(x);
}

bool guard_addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	return addrtab_key(sa, 128, key) == 0;
}
