/*
 * hash64.h — the 64-bit mixer the tables keyed on addresses and transactions hash
 * with (the MurmurHash3 finaliser: every input bit reaches every output bit), so that
 * base/ and the layers above share one definition.
 */
#ifndef TRUNX_HASH64_H
#define TRUNX_HASH64_H

#include <stdint.h>

static inline uint64_t hash64_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif
