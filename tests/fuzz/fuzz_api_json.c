/* fuzz_api_json.c — request bodies (src/api/api_json.c) on arbitrary bytes, against
 * every resource's field table and the calls' own, as an operator and as a tenant, for
 * creation and update. A body that decodes must be an object whose every member is a
 * field of the table; the error's code and field must be NUL-terminated within size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct api_field *f;
	struct api_err e;
	size_t nf, pick;
	json_t *o = NULL;
	const char *k;
	json_t *v;

	if (size < 1 || size > 65536)
		return 0;
	pick = data[0] % (api_n_resources + 1);
	if (pick < api_n_resources) {
		f = api_resources[pick].fields;
		nf = api_resources[pick].n_fields;
	} else {
		f = api_call_fields;
		nf = api_n_call_fields;
	}
	memset(&e, 0, sizeof(e));
	if (api_json_decode((const char *)data + 1, size - 1, f, nf,
			    (data[0] & 0x40) ? AJ_UPDATE : AJ_CREATE, (data[0] & 0x80) != 0,
			    &o, &e) == 0) {
		if (!json_is_object(o))
			abort();
		json_object_foreach(o, k, v) {
			bool known = false;

			for (size_t i = 0; i < nf; i++)
				known |= strcmp(f[i].name, k) == 0;
			if (!known)
				abort();
		}
		json_decref(o);
	} else if (o || e.status < 400 || !memchr(e.code, 0, sizeof(e.code)) ||
		   !memchr(e.field, 0, sizeof(e.field)) ||
		   !memchr(e.message, 0, sizeof(e.message))) {
		abort();
	}
	return 0;
}
