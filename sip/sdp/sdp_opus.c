/*
 * sdp_opus.c — the Opus fmtp parameters of RFC 7587 section 6.1: a lenient parser
 * (any order, blanks around items, case-insensitive names, unknown or malformed
 * parameters skipped, out-of-range values ignored) and a writer for trunx's own.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sdp.h"

void sdp_opus_defaults(struct sdp_opus *o)
{
	memset(o, 0, sizeof(*o));
	o->maxplaybackrate = 48000;
	o->sprop_maxcapturerate = 48000;
}

/* Decimal value of s[0..n) within [lo, hi]; false if not a plain number in range. */
static bool uval(const char *s, size_t n, unsigned long lo, unsigned long hi,
		 unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

void sdp_opus_parse(struct sdp_opus *o, const char *fmtp)
{
	const char *p = fmtp;

	sdp_opus_defaults(o);
	while (p && *p) {
		const char *item = p, *end = strchr(p, ';'), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p), nl, vl;
		const char *v;
		unsigned long x;

		p = end ? end + 1 : NULL;
		while (len && (*item == ' ' || *item == '\t')) {
			item++;
			len--;
		}
		while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
			len--;
		eq = memchr(item, '=', len);
		if (!eq)
			continue;
		nl = (size_t)(eq - item);
		while (nl && (item[nl - 1] == ' ' || item[nl - 1] == '\t'))
			nl--;
		v = eq + 1;
		vl = len - (size_t)(v - item);
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		if (name_is(item, nl, "maxplaybackrate") && uval(v, vl, 8000, 48000, &x))
			o->maxplaybackrate = (uint32_t)x;
		else if (name_is(item, nl, "sprop-maxcapturerate") && uval(v, vl, 8000, 48000, &x))
			o->sprop_maxcapturerate = (uint32_t)x;
		else if (name_is(item, nl, "maxaveragebitrate") && uval(v, vl, 6000, 510000, &x))
			o->maxaveragebitrate = (uint32_t)x;
		else if (name_is(item, nl, "stereo") && uval(v, vl, 0, 1, &x))
			o->stereo = x;
		else if (name_is(item, nl, "sprop-stereo") && uval(v, vl, 0, 1, &x))
			o->sprop_stereo = x;
		else if (name_is(item, nl, "cbr") && uval(v, vl, 0, 1, &x))
			o->cbr = x;
		else if (name_is(item, nl, "useinbandfec") && uval(v, vl, 0, 1, &x))
			o->useinbandfec = x;
		else if (name_is(item, nl, "usedtx") && uval(v, vl, 0, 1, &x))
			o->usedtx = x;
		else if (name_is(item, nl, "minptime") && uval(v, vl, 3, 120, &x))
			o->minptime = (uint16_t)x;
		else if (name_is(item, nl, "maxptime") && uval(v, vl, 3, 120, &x))
			o->maxptime = (uint16_t)x;
		else if (name_is(item, nl, "ptime") && uval(v, vl, 3, 120, &x))
			o->ptime = (uint16_t)x;
	}
}

int sdp_opus_write(const struct sdp_opus *o, char *buf, size_t len)
{
	int n = snprintf(buf, len, "maxplaybackrate=%u;sprop-maxcapturerate=%u;stereo=%d;"
			 "sprop-stereo=%d;useinbandfec=%d;usedtx=%d", (unsigned)o->maxplaybackrate,
			 (unsigned)o->sprop_maxcapturerate, o->stereo, o->sprop_stereo,
			 o->useinbandfec, o->usedtx);

	if (n < 0 || (size_t)n >= len)
		return -1;
	if (o->maxaveragebitrate) {
		int m = snprintf(buf + n, len - (size_t)n, ";maxaveragebitrate=%u",
				 (unsigned)o->maxaveragebitrate);

		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -1;
		n += m;
	}
	return n;
}
