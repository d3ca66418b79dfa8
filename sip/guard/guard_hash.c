/*
 * guard_hash.c — the hashing the guards' tables share: a 64-bit mixer and an address
 * as the 16 bytes they key on (IPv4 mapped into IPv6), so the rate limiter, the
 * connection table and the stateless answers agree on what one source is.
 */
#include "guard.h"

#include <netinet/in.h>
#include <string.h>

uint64_t guard_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

bool guard_addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}
