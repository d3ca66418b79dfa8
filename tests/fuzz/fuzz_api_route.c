/* fuzz_api_route.c — the HTTP request path of the API: the request line and the
 * headers parsed as evhttp parses them (evhttp_uri_parse, the query string), then the
 * router (src/api/api_route.c) on the path with every method. A match must give a
 * route whose pattern has as many {parameters} as were filled, each NUL-terminated;
 * a 405 must name methods. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum evhttp_cmd_type methods[] = {
	EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_PATCH, EVHTTP_REQ_DELETE, EVHTTP_REQ_PUT,
	EVHTTP_REQ_HEAD, EVHTTP_REQ_OPTIONS,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char params[API_MAX_PARAMS][API_PARAM_MAX], allow[64], *line;
	const struct api_route *r;
	struct evhttp_uri *uri;
	const char *path, *q;

	if (size > 8192 || api_routes_init() != 0)
		return 0;
	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	uri = evhttp_uri_parse_with_flags(line, 0);
	path = uri ? evhttp_uri_get_path(uri) : line;
	q = uri ? evhttp_uri_get_query(uri) : NULL;
	if (q) {
		struct evkeyvalq kv;

		memset(&kv, 0, sizeof(kv));
		if (evhttp_parse_query_str(q, &kv) == 0)
			evhttp_clear_headers(&kv);
		else
			evhttp_clear_headers(&kv);
	}
	for (size_t m = 0; path && m < sizeof(methods) / sizeof(methods[0]); m++) {
		int err;

		memset(params, 0x55, sizeof(params));
		err = api_route_match(methods[m], path, &r, params, allow, sizeof(allow));
		if (err == 0) {
			size_t want = 0;

			for (const char *p = r->pattern; (p = strchr(p, '{')) != NULL; p++)
				want++;
			for (size_t i = 0; i < want; i++)
				if (!memchr(params[i], 0, API_PARAM_MAX) || !params[i][0])
					abort();
		} else if (err == EPERM && !allow[0]) {
			abort();
		}
	}
	if (uri)
		evhttp_uri_free(uri);
	free(line);
	return 0;
}
