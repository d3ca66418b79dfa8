/*
 * events_sched.c — the retry schedule, outcomes and request values of the event stream
 * (see events_sched.h): pure code.
 */
#include "events/events_sched.h"

#include <errno.h>
#include <string.h>

int events_sched_parse(const char *s, struct events_sched *out)
{
	const char *p = s;

	if (!s || !out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	for (;;) {
		uint64_t v = 0, scale = 1000;
		size_t digits = 0;

		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p++ - '0');
			if (++digits > 10)
				return EINVAL;
		}
		if (!digits)
			return EINVAL;
		if (p[0] == 'm' && p[1] == 's')
			scale = 1, p += 2;
		else if (*p == 's')
			scale = 1000, p++;
		else if (*p == 'm')
			scale = 60000, p++;
		else if (*p == 'h')
			scale = 3600000, p++;
		v *= scale;
		if (v > EVENTS_DELAY_MAX || out->n >= EVENTS_SCHED_MAX)
			return EINVAL;
		out->delay_ms[out->n++] = (uint32_t)v;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return EINVAL;
	}
}

int events_sched_next(const struct events_sched *s, unsigned attempts, uint32_t *delay_ms)
{
	if (!s || attempts >= s->n)
		return ENOENT;
	*delay_ms = s->delay_ms[attempts];
	return 0;
}

enum events_outcome events_outcome_of(int status)
{
	if (status >= 200 && status <= 299)
		return EVENTS_DELIVERED;
	if (status <= 0 || status == 408 || status == 429 || (status >= 500 && status <= 599))
		return EVENTS_RETRY;
	return EVENTS_REFUSED;
}

int events_parse_last_id(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!s || !id)
		return EINVAL;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 19)
			return EINVAL;
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (n == 0 || v > (uint64_t)INT64_MAX)
		return EINVAL;
	*id = v;
	return 0;
}

/* One name: parts of [a-z0-9_]+ joined by '.', the last part possibly "*". */
static bool type_name_ok(const char *p, size_t len)
{
	size_t part = 0;

	if (len == 0 || len >= EVENTS_TYPE_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (ch == '.') {
			if (part == 0)
				return false;
			part = 0;
		} else if (ch == '*') {
			if (part != 0 || i + 1 != len || i == 0)
				return false;
			part = 1;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') {
			part++;
		} else {
			return false;
		}
	}
	return part != 0;
}

int events_parse_types(const char *s, struct events_types *out)
{
	if (!out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return 0;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (!type_name_ok(s, len) || out->n >= EVENTS_TYPES_MAX)
			return EINVAL;
		memcpy(out->name[out->n], s, len);
		out->name[out->n++][len] = '\0';
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

bool events_types_match(const struct events_types *t, const char *type)
{
	if (!t || t->n == 0)
		return true;
	for (size_t i = 0; i < t->n; i++) {
		const char *f = t->name[i];
		size_t len = strlen(f);

		if (len && f[len - 1] == '*') {
			if (strncmp(type, f, len - 1) == 0)
				return true;
		} else if (strcmp(type, f) == 0) {
			return true;
		}
	}
	return false;
}

static bool v4_public(const unsigned char *a)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	static const struct {
		uint32_t net;
		unsigned bits;
	} refused[] = {
		{0x00000000u, 8},  {0x0a000000u, 8},  {0x64400000u, 10}, {0x7f000000u, 8},
		{0xa9fe0000u, 16}, {0xac100000u, 12}, {0xc0000000u, 24}, {0xc0000200u, 24},
		{0xc0a80000u, 16}, {0xc6120000u, 15}, {0xc6336400u, 24}, {0xcb007100u, 24},
		{0xe0000000u, 3},   /* 224/4 multicast and 240/4 reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - refused[i].bits);

		if ((v & mask) == refused[i].net)
			return false;
	}
	return true;
}

bool events_addr_public(const unsigned char *a, size_t len)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char zero[15] = {0};

	if (!a)
		return false;
	if (len == 4)
		return v4_public(a);
	if (len != 16)
		return false;
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_public(a + 12);
	if (memcmp(a, zero, 15) == 0)
		return false;                                  /* :: and ::1 */
	if ((a[0] & 0xfe) == 0xfc || a[0] == 0xff)
		return false;                                  /* fc00::/7, ff00::/8 */
	if (a[0] == 0xfe && (a[1] & 0x80) == 0x80)
		return false;                                  /* fe80::/10, fec0::/10 */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return false;                                  /* 2001:db8::/32 */
	return true;
}
