/*
 * fuzz_dtmf_info.c — the DTMF body of SIP INFO (sipua_dtmf_parse) on arbitrary bytes,
 * under both content types: a success must give a valid digit and a duration within
 * 1..10,000 ms.
 *
 * Input: [type selector][body bytes]
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"application/dtmf-relay", "application/dtmf",
					    "text/plain"};
	char *body;
	char d = 0;
	unsigned ms = 0;

	if (size < 1)
		return 0;
	body = malloc(size - 1 ? size - 1 : 1);   /* exact size: overreads are caught */
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	if (sipua_dtmf_parse(types[data[0] % 3], body, size - 1, &d, &ms) == 0) {
		if (!strchr("0123456789*#ABCD", d) || !d || ms < 1 || ms > 10000)
			abort();
	}
	free(body);
	return 0;
}
