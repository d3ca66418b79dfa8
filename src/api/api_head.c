/*
 * api_head.c — an HTTP/1.x request's head, read before evhttp reads it (api_wire.c):
 * the request line (METHOD SP target SP HTTP/1.0|1.1, a method the API serves), the
 * header lines (token names, no folding, no control characters, at most
 * API_HEAD_LINES_MAX in API_HEAD_MAX bytes), one Host on HTTP/1.1, and the body's
 * framing (one Content-Length within the limit, or Transfer-Encoding: chunked alone);
 * and a chunk's size line. Pure functions over bytes: each refusal says the status,
 * the error code and the message the client gets.
 */
#include "api/api_head.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int refusal(struct api_verdict *v, int status, const char *code, const char *message)
{
	v->status = status;
	v->code = code;
	v->message = message;
	return -1;
}

/* METHOD SP target SP HTTP/1.x, nothing else. */
static int request_line(const char *p, size_t n, struct api_verdict *v)
{
	static const char *const served[] = {"GET", "POST", "PUT", "PATCH", "DELETE",
					     "OPTIONS"};
	const char *sp1 = memchr(p, ' ', n), *sp2, *ver;
	size_t m, t;
	bool ok = false;

	if (!sp1 || sp1 == p)
		return refusal(v, 400, "bad_request", "malformed request line");
	m = (size_t)(sp1 - p);
	for (size_t i = 0; i < m; i++)
		if (!tchar((unsigned char)p[i]))
			return refusal(v, 400, "bad_request", "malformed request line");
	sp2 = memchr(sp1 + 1, ' ', n - m - 1);
	t = sp2 ? (size_t)(sp2 - sp1 - 1) : n - m - 1;
	if (t > API_TARGET_MAX)
		return refusal(v, 414, "uri_too_long", "the request target is longer than 8192 "
			       "bytes");
	if (!sp2 || t == 0)
		return refusal(v, 400, "bad_request", "malformed request line");
	for (size_t i = 0; i < t; i++)
		if ((unsigned char)sp1[1 + i] <= 0x20 || (unsigned char)sp1[1 + i] >= 0x7f)
			return refusal(v, 400, "bad_request", "malformed request target");
	ver = sp2 + 1;
	if ((size_t)(p + n - ver) != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' ||
	    ver[5] < '0' || ver[5] > '9' || ver[7] < '0' || ver[7] > '9')
		return refusal(v, 400, "bad_request", "malformed HTTP version");
	if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
		return refusal(v, 505, "http_version_not_supported",
			       "only HTTP/1.1 and HTTP/1.0 are served");
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
		ok = ok || (strlen(served[i]) == m && memcmp(p, served[i], m) == 0);
	if (!ok)
		return refusal(v, 501, "not_implemented", "this method is not served");
	return 0;
}

static bool value_is(const char *p, size_t n, const char *word)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n == strlen(word) && strncasecmp(p, word, n) == 0;
}

/*
 * Reads a head from p (n bytes, at most API_HEAD_MAX). Lines end in LF or CRLF, as evhttp
 * reads them. @return 0: not whole yet; 1: sound, *used its length and the body's
 * framing in h; -1: refused, v says how.
 */
int api_head_scan(const char *p, size_t n, uint64_t body_limit, size_t *used,
		  struct api_head *h, struct api_verdict *v)
{
	size_t pos = 0, lines = 0;
	unsigned n_cl = 0, n_te = 0, n_host = 0;
	bool http11 = false;
	bool chunked = false, cl_bad = false;
	uint64_t cl = 0;

	for (;;) {
		const char *lf = memchr(p + pos, '\n', n - pos);
		const char *line = p + pos, *colon;
		size_t len;

		if (!lf) {
			if (pos == 0 && n > API_TARGET_MAX + 64)
				return refusal(v, 414, "uri_too_long", "the request target is "
					       "longer than 8192 bytes");
			if (n >= API_HEAD_MAX)
				return refusal(v, 431, "headers_too_large", "the request's "
					       "header is larger than 16384 bytes");
			return 0;
		}
		len = (size_t)(lf - line);
		if (len && line[len - 1] == '\r')
			len--;
		if (memchr(line, '\r', len) || memchr(line, 0, len))
			return refusal(v, 400, "bad_request", "a control character in the "
				       "request's header");
		if (pos == 0) {
			if (request_line(line, len, v))
				return -1;
			http11 = line[len - 1] == '1';
		} else if (len == 0) {
			*used = (size_t)(lf - p) + 1;
			break;
		} else {
			if (++lines > API_HEAD_LINES_MAX)
				return refusal(v, 431, "headers_too_large", "more than 100 "
					       "header lines");
			colon = memchr(line, ':', len);
			if (!colon || colon == line)
				return refusal(v, 400, "bad_request", "a header line without a "
					       "name and colon");
			for (const char *c = line; c < colon; c++)
				if (!tchar((unsigned char)*c))
					return refusal(v, 400, "bad_request", "a header name "
						       "that is not a token (space before "
						       "the colon, or a folded line)");
			for (const char *c = colon + 1; c < line + len; c++)
				if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
					return refusal(v, 400, "bad_request", "a control "
						       "character in a header value");
			if ((size_t)(colon - line) == 14 &&
			    strncasecmp(line, "Content-Length", 14) == 0) {
				const char *d = colon + 1, *e = line + len;

				while (d < e && (*d == ' ' || *d == '\t'))
					d++;
				while (e > d && (e[-1] == ' ' || e[-1] == '\t'))
					e--;
				n_cl++;
				cl_bad = cl_bad || d == e;
				for (cl = 0; d < e; d++) {
					if (*d < '0' || *d > '9')
						cl_bad = true;
					else if (cl <= UINT64_MAX / 20)
						cl = cl * 10 + (uint64_t)(*d - '0');
				}
			} else if ((size_t)(colon - line) == 4 &&
				   strncasecmp(line, "Host", 4) == 0) {
				n_host++;
			} else if ((size_t)(colon - line) == 17 &&
				   strncasecmp(line, "Transfer-Encoding", 17) == 0) {
				n_te++;
				chunked = value_is(colon + 1, (size_t)(line + len - colon - 1),
						   "chunked");
			}
		}
		pos = (size_t)(lf - p) + 1;
	}
	/* RFC 9112 3.2: an HTTP/1.1 request has one Host; two would let two readers
	 * take different ones. */
	if (n_host > 1 || (http11 && !n_host))
		return refusal(v, 400, "bad_request", "an HTTP/1.1 request needs exactly one "
			       "Host header");
	if (n_cl > 1 || n_te > 1 || (n_te && (n_cl || !chunked)) || cl_bad)
		return refusal(v, 400, "bad_request", "the body's length is ambiguous "
			       "(Transfer-Encoding with Content-Length, or either twice)");
	if (n_cl && cl > body_limit)
		return refusal(v, 413, "payload_too_large", "the body is larger than the "
			       "configured limit");
	h->length = chunked ? 0 : cl;
	h->chunked = chunked;
	return 1;
}

/* Skips optional whitespace (RFC 9110 BWS: SP and HTAB) from i. */
static size_t skip_ws(const char *p, size_t len, size_t i)
{
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

/* A chunk extension's value from i: a token or a quoted-string (no control
 * characters, backslash escapes a visible character). @return the index after it,
 * or 0 when malformed. */
static size_t ext_value(const char *p, size_t len, size_t i)
{
	size_t start = i;

	if (i < len && p[i] != '"') {
		while (i < len && tchar((unsigned char)p[i]))
			i++;
		return i > start ? i : 0;
	}
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"')
			return i + 1;
		if (c == '\\' && i + 1 < len && (unsigned char)p[i + 1] >= 0x20 &&
		    p[i + 1] != 0x7f)
			i++;
		else if ((c < 0x20 && c != '\t') || c == 0x7f || c == '\\')
			return 0;
	}
	return 0;
}

/* A chunk size line: 1 to 16 hexadecimal digits (no sign, no 0x), then any chunk
 * extensions (RFC 9112 7.1.1: ;name[=token|quoted-string], ignored once checked). */
int api_chunk_size(const char *p, size_t len, uint64_t *size, struct api_verdict *v)
{
	uint64_t x = 0;
	size_t i = 0;

	if (len && p[len - 1] == '\r')
		len--;
	for (; i < len; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			break;
		if (i == 16)
			return refusal(v, 400, "bad_request", "malformed chunk size");
		x = x * 16 + (uint64_t)d;
	}
	if (i == 0)
		return refusal(v, 400, "bad_request", "malformed chunk size");
	while ((i = skip_ws(p, len, i)) < len) {
		size_t name;

		if (p[i] != ';')
			return refusal(v, 400, "bad_request", "malformed chunk size");
		i = name = skip_ws(p, len, i + 1);
		while (i < len && tchar((unsigned char)p[i]))
			i++;
		if (i == name)
			return refusal(v, 400, "bad_request", "malformed chunk extension");
		i = skip_ws(p, len, i);
		if (i < len && p[i] == '=') {
			i = ext_value(p, len, skip_ws(p, len, i + 1));
			if (i == 0)
				return refusal(v, 400, "bad_request", "malformed chunk extension");
		}
	}
	*size = x;
	return 0;
}
