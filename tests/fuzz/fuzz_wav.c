/* fuzz_wav.c — the WAV reader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wav w;
	char err[128];

	if (wav_parse(&w, data, size, err, sizeof(err)) == 0)
		wav_free(&w);
	return 0;
}
