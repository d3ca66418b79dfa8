/* fuzz_api_keycache.c — the node's key copy (src/api/api_keycache.c) driven by
 * revocation channel messages as they come off the wire (any bytes), mixed with lookups,
 * stores, liveness changes and a moving clock. Invariants: never more entries than
 * its capacity; a key named by a message (or any entry, after a message that is not a
 * key hash) is not answered until stored again; nothing is answered while not live. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_keycache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 8

static void hash_of(uint8_t n, char out[65])
{
	snprintf(out, 65, "%02x%062x", n & 0x0f, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_keycache *k = NULL;
	struct api_keycache_stats st;
	struct api_principal p, got;
	bool gone[256];
	uint64_t now = 1;
	size_t i = 0;
	char h[65];

	if (api_keycache_create(&k, CAP, 50) != 0)
		return 0;
	memset(&p, 0, sizeof(p));
	snprintf(p.tenant, sizeof(p.tenant), "acme");
	memset(gone, 1, sizeof(gone));
	api_keycache_set_live(k, true);
	while (i < size) {
		uint8_t op = data[i++], n = i < size ? data[i++] : 0;

		hash_of(n, h);
		switch (op % 6) {
		case 0: {   /* a message: the next n bytes, or a key's hash */
			size_t len = n % 80;

			if (op & 0x80) {
				api_keycache_on_message(k, h, 64);
				gone[n] = true;
				break;
			}
			if (len > size - i)
				len = size - i;
			api_keycache_on_message(k, (const char *)data + i, len);
			/* Whatever it named is gone (all, unless it was a key hash). */
			if (len == 64) {
				for (unsigned j = 0; j < 256; j++) {
					char hj[65];

					hash_of((uint8_t)j, hj);
					if (memcmp(hj, data + i, 64) == 0)
						gone[j] = true;
				}
			} else {
				memset(gone, 1, sizeof(gone));
			}
			i += len;
			break;
		}
		case 1:
			api_keycache_put(k, h, api_keycache_epoch(k), &p, now);
			gone[n] = !api_keycache_live(k);
			break;
		case 2:
			if (api_keycache_get(k, h, now, &got)) {
				if (gone[n] || !api_keycache_live(k))
					abort();
			}
			break;
		case 3:   /* a change of liveness empties it; no change keeps it */
			if (api_keycache_live(k) != ((op & 0x80) != 0))
				memset(gone, 1, sizeof(gone));
			api_keycache_set_live(k, op & 0x80);
			break;
		case 4:
			now += n;
			break;
		default:
			api_keycache_invalidate(k, h);
			gone[n] = true;
			break;
		}
		api_keycache_get_stats(k, &st);
		if (st.entries > CAP)
			abort();
	}
	api_keycache_destroy(k);
	return 0;
}
