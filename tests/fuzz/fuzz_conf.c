/* fuzz_conf.c — the configuration parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *cf;
	char err[256];

	if (conf_parse_buf(&cf, "fuzz.conf", (const char *)data, size, err, sizeof(err)) == 0)
		conf_free(cf);
	return 0;
}
