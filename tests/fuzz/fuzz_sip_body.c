/*
 * fuzz_sip_body.c — a multipart/mixed body's SDP part (sipua_body_multipart) on
 * arbitrary bytes and boundaries: on success the SDP, if any, lies inside the body;
 * a refusal is 400 or 415 (400 only when lenient) and says why.
 *
 * Input: [boundary length n (odd: lenient)][n bytes of boundary][body bytes]
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char boundary[256], why[128] = "";
	const char *sdp = (const char *)1;
	size_t n, len = 12345;
	char *body;
	int rc;

	if (size < 1)
		return 0;
	n = data[0];
	if (n > size - 1)
		n = size - 1;
	memcpy(boundary, data + 1, n);
	boundary[n] = '\0';
	size -= 1 + n;
	body = malloc(size ? size : 1);   /* exact size: overreads are caught */
	if (!body)
		return 0;
	memcpy(body, data + 1 + n, size);
	rc = sipua_body_multipart(body, size, data[0] == 255 ? NULL : boundary, n & 1, &sdp,
				  &len, why, sizeof(why));
	if (rc == 0) {
		if (sdp && (sdp < body || sdp + len > body + size))
			abort();
		if (!sdp && len)
			abort();
	} else if ((rc != 400 && (rc != 415 || (n & 1))) || !why[0]) {
		abort();
	}
	free(body);
	return 0;
}
