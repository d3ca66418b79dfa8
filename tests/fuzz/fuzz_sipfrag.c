/*
 * fuzz_sipfrag.c — the message/sipfrag status line of a REFER's NOTIFY
 * (sipua_sipfrag_status) on arbitrary bytes, under a few content types: a success
 * must give a status within 100..699.
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
	static const char *const types[] = {"message/sipfrag", "message/sipfrag;version=2.0",
					    "Message/SIPfrag ; version=2.0", "text/plain",
					    "message/sipfragment"};
	char *body;
	int st = -1;

	if (size < 1)
		return 0;
	body = malloc(size - 1 ? size - 1 : 1);   /* exact size: overreads are caught */
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	if (sipua_sipfrag_status(types[data[0] % 5], body, size - 1, &st) == 0) {
		if (st < 100 || st > 699)
			abort();
	}
	free(body);
	return 0;
}
