/* fuzz_prompt.c — a prompt's WAV image read and converted to 8 kHz (media_feat.h):
 * the WAV reader, the checks on rate, channels and length, and the decimator. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "media_feat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int16_t *pcm;
	size_t n;
	char err[160];

	if (media_prompt_parse(data, size, &pcm, &n, err, sizeof(err)) == 0) {
		if (!pcm || !n)
			abort();
		free(pcm);
	}
	return 0;
}
