/*
 * sipua_body.c — the SDP inside a multipart/mixed message body (RFC 2046 5.1), as
 * carriers interworking with ISUP send it (SIP-T, RFC 3204; SIP-I): the one
 * application/sdp part is the offer or answer, and every other part is judged by its
 * Content-Disposition's handling (RFC 3261 20.11, RFC 5621 9.1): "optional" is
 * dropped, "required" (the default) cannot be honoured by trunx and refuses the
 * request (415); in an answer, which cannot be refused, it is dropped too. A pure function over bytes: nothing of the body is trusted, every
 * walk is bounded, and what is returned points into the body.
 */
#include "sipua.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70     /* RFC 2046 5.1.1 */
#define PARTS_MAX    16
#define PART_HEADERS_MAX 32

/* The start of the next delimiter line "--boundary" at p (at the body's start or
 * after a line end), or NULL. *after: just past the boundary. */
static const char *find_delimiter(const char *p, const char *end, const char *b, size_t bl,
				  const char **after)
{
	for (const char *q = p; q + 2 + bl <= end; q++) {
		q = memchr(q, '-', (size_t)(end - q));
		if (!q || q + 2 + bl > end)
			return NULL;
		if (q[1] == '-' && memcmp(q + 2, b, bl) == 0 && (q == p || q[-1] == '\n')) {
			*after = q + 2 + bl;
			return q;
		}
	}
	return NULL;
}

/* The rest of the line from p (after a delimiter): only blanks may stand there.
 * Returns the next line's start, or NULL. */
static const char *end_of_line(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		return p + 1;
	return NULL;
}

/* Lowercase, trimmed copy of [p, e) into out (cut to its size). */
static void copy_trim(char *out, size_t size, const char *p, const char *e)
{
	size_t n;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	n = (size_t)(e - p) < size - 1 ? (size_t)(e - p) : size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] - 'A' + 'a' : p[i]);
	out[n] = '\0';
}

struct part {
	char type[64];          /* media type, lowercase, no parameters ("" if none) */
	bool optional;          /* Content-Disposition ...;handling=optional */
	const char *body;
	size_t len;
};

/* A part: header lines up to an empty line, then its body (to `end`). */
static int read_part(const char *p, const char *end, struct part *pt, char *why,
		     size_t whylen)
{
	unsigned lines = 0;
	const char *nl;

	memset(pt, 0, sizeof(*pt));
	for (;;) {
		const char *colon;
		char name[32], value[256];

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(why, whylen, "a body part without the empty line after its headers");
			return 400;
		}
		if (nl == p || (nl == p + 1 && *p == '\r'))
			break;
		if (++lines > PART_HEADERS_MAX) {
			snprintf(why, whylen, "a body part with too many header lines");
			return 400;
		}
		colon = memchr(p, ':', (size_t)(nl - p));
		if (!colon) {
			snprintf(why, whylen, "a body part header line without a colon");
			return 400;
		}
		copy_trim(name, sizeof(name), p, colon);
		copy_trim(value, sizeof(value), colon + 1, nl);
		if (strcmp(name, "content-type") == 0) {
			size_t n = strcspn(value, "; \t");

			if (n >= sizeof(pt->type))
				n = sizeof(pt->type) - 1;
			memcpy(pt->type, value, n);
			pt->type[n] = '\0';
		} else if (strcmp(name, "content-disposition") == 0) {
			for (char *s = strchr(value, ';'); s; s = strchr(s + 1, ';')) {
				const char *v = s + 1 + strspn(s + 1, " \t");

				if (strncmp(v, "handling", 8) == 0) {
					v += 8 + strspn(v + 8, " \t");
					if (*v == '=') {
						v++;
						v += strspn(v, " \t\"");
						pt->optional = strncmp(v, "optional", 8) == 0;
					}
				}
			}
		}
		p = nl + 1;
	}
	pt->body = nl + 1;
	pt->len = (size_t)(end - pt->body);
	return 0;
}

int sipua_body_multipart(const char *body, size_t len, const char *boundary, bool lenient,
			 const char **sdp, size_t *sdp_len, char *why, size_t whylen)
{
	const char *end, *p, *after, *d;
	char b[BOUNDARY_MAX + 1];
	size_t bl = 0;
	unsigned parts = 0;
	bool closed = false;

	*sdp = NULL;
	*sdp_len = 0;
	if (boundary) {
		if (*boundary == '"')
			boundary++;
		while (boundary[bl] && boundary[bl] != '"' && bl < sizeof(b) - 1) {
			b[bl] = boundary[bl];
			bl++;
		}
		b[bl] = '\0';
	}
	if (!body || bl == 0 || (boundary[bl] && boundary[bl] != '"')) {
		snprintf(why, whylen, "multipart body without a usable boundary");
		return 400;
	}
	end = body + len;
	d = find_delimiter(body, end, b, bl, &after);
	while (d && !closed) {
		const char *next, *next_after, *part_end;
		struct part pt;
		int rc;

		if (after + 2 <= end && after[0] == '-' && after[1] == '-') {
			closed = true;
			break;
		}
		p = end_of_line(after, end);
		if (!p) {
			snprintf(why, whylen, "a multipart delimiter line with more after it");
			return 400;
		}
		next = find_delimiter(p, end, b, bl, &next_after);
		if (!next) {
			snprintf(why, whylen, "a multipart body without its closing delimiter");
			return 400;
		}
		if (++parts > PARTS_MAX) {
			snprintf(why, whylen, "more than %d body parts", PARTS_MAX);
			return 400;
		}
		/* The line end before the next delimiter belongs to it (RFC 2046 5.1.1). */
		part_end = next;
		if (part_end > p && part_end[-1] == '\n')
			part_end--;
		if (part_end > p && part_end[-1] == '\r')
			part_end--;
		rc = read_part(p, next, &pt, why, whylen);
		if (rc)
			return rc;
		if (pt.body > part_end)
			pt.len = 0;
		else
			pt.len = (size_t)(part_end - pt.body);
		if (strcmp(pt.type, "application/sdp") == 0 && !*sdp) {
			*sdp = pt.body;
			*sdp_len = pt.len;
		} else if (!pt.optional && !lenient) {
			snprintf(why, whylen, "a required body part of type %s", pt.type[0] ?
				 pt.type : "text/plain");
			return 415;
		}
		d = next;
		after = next_after;
	}
	if (!d) {
		snprintf(why, whylen, "a multipart body without its boundary");
		return 400;
	}
	if (!closed) {
		snprintf(why, whylen, "a multipart body without its closing delimiter");
		return 400;
	}
	return 0;
}
