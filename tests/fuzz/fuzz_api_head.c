/* fuzz_api_head.c — the API's own reading of a request's head and of chunk size lines
 * (src/api/api_head.c), ahead of evhttp: any bytes, at two body limits. A sound head
 * ends at a blank line within the input and frames its body one way; a refusal names
 * one of the statuses the connection filter answers, with a code and a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_verdict(const struct api_verdict *v)
{
	static const int statuses[] = {400, 413, 414, 431, 501, 505};
	int known = 0;

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known |= v->status == statuses[i];
	if (!known || !v->code || !v->message || !v->code[0] || !v->message[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t limits[] = {0, 1u << 20};
	const char *p;
	char *copy;

	if (size > 2 * API_HEAD_MAX)
		return 0;
	copy = malloc(size ? size : 1);   /* exact size: a read past the end is caught */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	p = copy;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		struct api_verdict v = {0};
		struct api_head h = {0};
		size_t used = 0;
		int rc = api_head_scan(p, size, limits[i], &used, &h, &v);

		if (rc == 1) {
			if (used == 0 || used > size || p[used - 1] != '\n' ||
			    (h.chunked && h.length) || h.length > limits[i])
				abort();
		} else if (rc == -1) {
			check_verdict(&v);
		} else if (rc != 0) {
			abort();
		}
	}
	/* Every line as a chunk size line. */
	for (size_t pos = 0; pos < size;) {
		const char *lf = memchr(p + pos, '\n', size - pos);
		size_t len = lf ? (size_t)(lf - (p + pos)) : size - pos;
		struct api_verdict v = {0};
		uint64_t sz = 0;

		if (api_chunk_size(p + pos, len, &sz, &v) != 0)
			check_verdict(&v);
		pos += len + 1;
	}
	free(copy);
	return 0;
}
