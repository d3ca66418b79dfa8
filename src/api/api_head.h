/*
 * api_head.h — the checks of an HTTP/1.x request's head and chunk size lines that the
 * API's connection filter applies before evhttp reads them (api_head.c).
 */
#ifndef TRUNX_API_HEAD_H
#define TRUNX_API_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_HEAD_MAX       16384   /**< a request's head, bytes (431 beyond) */
#define API_TARGET_MAX     8192    /**< its target, bytes (414 beyond) */
#define API_HEAD_LINES_MAX 100     /**< its header lines (431 beyond) */

/** Why a request is refused: HTTP status, error code and message of the JSON body. */
struct api_verdict {
	int         status;
	const char *code, *message;
};

/** A sound head's body framing. */
struct api_head {
	uint64_t length;    /**< Content-Length (0: none) */
	bool     chunked;   /**< Transfer-Encoding: chunked */
};

/**
 * Reads a head from p (n bytes; lines end in LF or CRLF). @return 0: not whole yet;
 * 1: sound, *used its length and h its body's framing; -1: refused, v says how.
 */
int api_head_scan(const char *p, size_t n, uint64_t body_limit, size_t *used,
		  struct api_head *h, struct api_verdict *v);

/** A chunk size line without its LF (a CR before it is allowed): 1-16 hex digits,
 * then any chunk extensions, which are checked and ignored.
 * @return 0 with *size, or -1 with v. */
int api_chunk_size(const char *p, size_t len, uint64_t *size, struct api_verdict *v);

#endif
