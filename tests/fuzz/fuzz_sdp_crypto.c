/*
 * fuzz_sdp_crypto.c — the SDES a=crypto parser on arbitrary text: it answers 0,
 * ENOTSUP or EINVAL with a reason, and a usable line written back parses to the same
 * tag, suite and key.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_crypto c, back;
	const char *why = NULL;
	char text[SDP_LINE_MAX + 1], out[160];
	size_t n = size < SDP_LINE_MAX ? size : SDP_LINE_MAX;
	int err;

	memcpy(text, data, n);
	text[n] = '\0';
	err = sdp_crypto_parse(text, &c, &why);
	if (err != 0 && err != ENOTSUP && err != EINVAL)
		abort();
	if (err && !why)
		abort();
	if (err)
		return 0;
	if (sdp_crypto_write(&c, out, sizeof(out)) < 0 || sdp_crypto_parse(out, &back, NULL) ||
	    back.tag != c.tag || back.suite != c.suite || memcmp(back.key, c.key, sizeof(c.key)))
		abort();
	return 0;
}
