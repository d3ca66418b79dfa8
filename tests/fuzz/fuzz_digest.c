/* fuzz_digest.c — the Authorization header parser and the digest check
 * (src/auth/auth_digest.c) on arbitrary bytes: the header value a caller sends, checked
 * against a fresh nonce. Whatever parses must check without reading past its fields,
 * and fields must come out NUL-terminated within their sizes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_nonces *n;
	struct auth_creds c;
	char *v, nonce[AUTH_NONCE_LEN + 1];

	if (size > 8192)
		return 0;
	if (!n && auth_nonces_create(&n, 30000) != 0)
		abort();
	v = malloc(size + 1);
	if (!v)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	auth_nonce_new(n, 1000, nonce);
	if (auth_parse(v, &c) == 0) {
		if (memchr(c.username, 0, sizeof(c.username)) == NULL ||
		    memchr(c.uri, 0, sizeof(c.uri)) == NULL ||
		    memchr(c.nc, 0, sizeof(c.nc)) == NULL)
			abort();
		/* As is, then with our nonce in it (reaching the response check). */
		(void)auth_check(n, 1000, &c, "INVITE", "secret");
		memcpy(c.nonce, nonce, sizeof(nonce));
		if (auth_check(n, 1000, &c, "INVITE", "secret") == AUTH_OK &&
		    strlen(c.response) != 32)
			abort();
	}
	free(v);
	return 0;
}
