/*
 * fuzz_ctl.c — the control protocol's request line parser and reply builders.
 * The input is split at LF like the control socket does; every line is parsed, and
 * the reply the control thread would send for it is built and checked to be one
 * line of valid JSON.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(char *line, size_t len)
{
	json_t *obj;

	if (!line)
		return;
	if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	obj = json_loadb(line, len, 0, NULL);
	if (!obj)
		abort();
	json_decref(obj);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct ctl_req req;
		char err[160];
		size_t len = 0;
		int rc = ctl_req_parse(p, n, &req, err, sizeof(err));

		if (rc == 0) {
			if (req.cmd == CTL_CMD_NONE || strlen(req.arg) >= sizeof(req.arg))
				abort();
			check_line(ctl_reply_ok(req.cmd, json_string(req.arg), &len), len);
		} else {
			if (rc != EINVAL && rc != ENOENT)
				abort();
			check_line(ctl_reply_err(CTL_CMD_NONE, "bad_request", err, &len), len);
			/* Client bytes quoted back in a message must not break the reply. */
			{
				char *copy = strndup(p, n);
				check_line(ctl_reply_err(CTL_CMD_NONE, "x", copy, &len), len);
				free(copy);
			}
		}
		p += n + (nl ? 1 : 0);
	}
	return 0;
}
