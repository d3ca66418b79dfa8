/* fuzz_conf.c — the configuration parser on arbitrary bytes; a configuration that
 * parses must also build its routing table (the parser checks what the table does). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_table *rt;
	struct conf *cf;
	char err[256];

	if (conf_parse_buf(&cf, "fuzz.conf", (const char *)data, size, err, sizeof(err)) != 0)
		return 0;
	if (conf_build_routes(cf, &rt, err, sizeof(err)) != 0)
		abort();   /* parser and table disagree */
	route_table_unref(rt);
	conf_free(cf);
	return 0;
}
