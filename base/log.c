/*
 * log.c — the JSON line logger (see log.h). Owns the output descriptor and the
 * level filter; records are assembled in the caller's struct log_rec.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level);
}

int log_level_parse(const char *name, enum log_level *levelp)
{
	if (!name || !levelp)
		return EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*levelp = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*levelp = LOG_WARN;
		return 0;
	}
	return EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_OFF)
		return "?";
	return level_names[level];
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if there is none. */
static size_t utf8_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		len = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		len = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	if (u[1] < lo || u[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if ((u[k] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t log_json_escape(char *out, size_t outlen, const char *val, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)val[i];
		char esc[7];
		size_t elen = 0;

		if (c == '"' || c == '\\') {
			esc[0] = '\\'; esc[1] = (char)c; elen = 2;
		} else if (c == '\n') {
			esc[0] = '\\'; esc[1] = 'n'; elen = 2;
		} else if (c == '\r') {
			esc[0] = '\\'; esc[1] = 'r'; elen = 2;
		} else if (c == '\t') {
			esc[0] = '\\'; esc[1] = 't'; elen = 2;
		} else if (c < 0x20 || c >= 0x80) {
			/* Multi-byte UTF-8 is kept when well-formed (RFC 3629: no overlong
			 * forms, no surrogates, nothing past U+10FFFF), else escaped per byte. */
			size_t ulen = utf8_len(val + i, n - i);
			bool ok = ulen > 0;
			if (ok) {
				if (o + ulen >= outlen)
					break;
				memcpy(out + o, val + i, ulen);
				o += ulen;
				i += ulen - 1;
				continue;
			}
			esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; elen = 6;
		} else {
			esc[0] = (char)c; elen = 1;
		}
		if (o + elen >= outlen)
			break;
		memcpy(out + o, esc, elen);
		o += elen;
	}
	out[o] = '\0';
	return o;
}

/* Reserve for the closing "}\n" and a possible ,"truncated":true. */
#define LOG_TAIL_RESERVE 24

static size_t rec_room(const struct log_rec *r)
{
	size_t cap = sizeof(r->buf) - LOG_TAIL_RESERVE;
	return r->len < cap ? cap - r->len : 0;
}

/* Once a record is truncated nothing more is added, so it stays valid JSON. */
static void rec_append(struct log_rec *r, const char *s, size_t n)
{
	if (r->truncated)
		return;
	if (n > rec_room(r)) {
		r->truncated = true;
		return;
	}
	memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static void rec_key(struct log_rec *r, const char *key)
{
	char tmp[128];
	size_t n = log_json_escape(tmp, sizeof(tmp), key, strlen(key));

	if (n + 4 + 8 > rec_room(r)) {
		r->truncated = true;
		return;
	}
	rec_append(r, ",\"", 2);
	rec_append(r, tmp, n);
	rec_append(r, "\":", 2);
}

bool log_begin(struct log_rec *r, enum log_level level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	int n;

	if ((int)level < atomic_load(&log_level) || level >= LOG_OFF)
		return false;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	r->truncated = false;
	n = snprintf(r->buf, sizeof(r->buf),
		     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
	r->len = (size_t)n;
	log_str(r, "event", event);
	return true;
}

void log_strn(struct log_rec *r, const char *key, const char *val, size_t n)
{
	char tmp[LOG_REC_MAX];
	size_t elen, room;

	rec_key(r, key);
	if (r->truncated)
		return;
	if (!val) {
		rec_append(r, "null", 4);
		return;
	}
	elen = log_json_escape(tmp, sizeof(tmp), val, n);
	room = rec_room(r);
	if (elen + 2 > room) {
		/* Re-escape into what fits: the escaper stops on a whole character. */
		elen = room > 2 ? log_json_escape(tmp, room - 1, val, n) : 0;
		r->truncated = true;
		if (room < 2)
			return;
	}
	r->buf[r->len++] = '"';
	memcpy(r->buf + r->len, tmp, elen);
	r->len += elen;
	r->buf[r->len++] = '"';
}

void log_str(struct log_rec *r, const char *key, const char *val)
{
	log_strn(r, key, val, val ? strlen(val) : 0);
}

void log_int(struct log_rec *r, const char *key, int64_t val)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, val);

	rec_key(r, key);
	rec_append(r, tmp, (size_t)n);
}

void log_uint(struct log_rec *r, const char *key, uint64_t val)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, val);

	rec_key(r, key);
	rec_append(r, tmp, (size_t)n);
}

void log_bool(struct log_rec *r, const char *key, bool val)
{
	rec_key(r, key);
	rec_append(r, val ? "true" : "false", val ? 4 : 5);
}

void log_double(struct log_rec *r, const char *key, double val)
{
	char tmp[48];
	int n;

	rec_key(r, key);
	if (val != val || val > 1e300 || val < -1e300) {
		rec_append(r, "null", 4);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.6g", val);
	rec_append(r, tmp, (size_t)n);
}

void log_raw(struct log_rec *r, const char *key, const char *json)
{
	rec_key(r, key);
	if (!json) {
		rec_append(r, "null", 4);
		return;
	}
	rec_append(r, json, strlen(json));
}

static void log_vfmt(struct log_rec *r, const char *key, const char *fmt, va_list ap)
{
	char tmp[LOG_REC_MAX];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	log_strn(r, key, tmp, (size_t)n);
}

void log_fmt(struct log_rec *r, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfmt(r, key, fmt, ap);
	va_end(ap);
}

void log_end(struct log_rec *r)
{
	static const char trunc[] = ",\"truncated\":true";
	ssize_t off = 0;

	if (r->truncated) {
		memcpy(r->buf + r->len, trunc, sizeof(trunc) - 1);
		r->len += sizeof(trunc) - 1;
	}
	r->buf[r->len++] = '}';
	r->buf[r->len++] = '\n';
	while ((size_t)off < r->len) {
		ssize_t w = write(log_fd, r->buf + off, r->len - (size_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += w;
	}
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	struct log_rec r;
	va_list ap;

	if (!log_begin(&r, level, event))
		return;
	va_start(ap, fmt);
	log_vfmt(&r, "msg", fmt, ap);
	va_end(ap);
	log_end(&r);
}
