/*
 * log.c — the JSON line logger (see log.h). Owns the output descriptor, the level
 * filter and the repeat filter; records are assembled in the caller's struct log_rec.
 *
 * The repeat filter keeps the last REPEAT_SLOTS distinct records (their text after
 * "ts", up to REPEAT_KEY_MAX bytes; longer ones are always written) with when each
 * was written and how many identical ones were suppressed since. A new record takes
 * a free slot or the one that entered the table first (its pending count is written
 * first).
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static _Atomic int log_level = LOG_INFO;
static _Atomic unsigned repeat_ms;

#define REPEAT_SLOTS   64
#define REPEAT_KEY_MAX 1024

struct repeat {
	bool     used;
	uint64_t hash;
	size_t   len;                   /**< bytes of rec */
	uint64_t start_ms;              /**< when the interval began */
	uint64_t count;                 /**< suppressed in this interval */
	uint64_t seq;                   /**< order of insertion: the smallest goes first */
	char     rec[REPEAT_KEY_MAX];   /**< the record after "ts", "}\n" included */
};

static pthread_mutex_t repeat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct repeat repeats[REPEAT_SLOTS];
static _Atomic uint64_t repeat_total;
static uint64_t repeat_seq;       /* under repeat_lock */

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

/* Writes {"ts":"...Z" into buf (at least 40 bytes); returns its length. */
static size_t ts_open(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, len, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	return n > 0 ? (size_t)n : 0;
}

#define RID_MAX 48
static _Thread_local char thread_rid[RID_MAX];

void log_set_request_id(const char *id)
{
	snprintf(thread_rid, sizeof(thread_rid), "%s", id ? id : "");
}

const char *log_request_id(void)
{
	return thread_rid[0] ? thread_rid : NULL;
}

bool log_begin(struct log_rec *r, enum log_level level, const char *event)
{
	int n;

	if ((int)level < atomic_load(&log_level) || level >= LOG_OFF)
		return false;
	r->truncated = false;
	r->has_rid = false;
	r->level = (int)level;
	r->body = ts_open(r->buf, sizeof(r->buf));
	n = snprintf(r->buf + r->body, sizeof(r->buf) - r->body, ",\"level\":\"%s\"",
		     level_names[level]);
	r->len = r->body + (size_t)n;
	log_str(r, "event", event);
	if (thread_rid[0]) {
		log_str(r, "request_id", thread_rid);
		r->has_rid = true;
	}
	return true;
}

void log_strn(struct log_rec *r, const char *key, const char *val, size_t n)
{
	char tmp[LOG_REC_MAX];
	size_t elen, room;

	if (r->has_rid && strcmp(key, "request_id") == 0)
		return;   /* the thread's request id is there already */
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
	if (r->has_rid && strcmp(key, "request_id") == 0)
		return;   /* the thread's request id is there already */
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

static void write_all(const char *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(log_fd, p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* ---- repeats ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The record of slot e once more, with its count; a new interval begins. Locked. */
static void repeat_write(struct repeat *e, uint64_t now, unsigned ival)
{
	char buf[REPEAT_KEY_MAX + 128];
	size_t n = ts_open(buf, sizeof(buf));
	int w;

	/* e->rec ends with "}\n": the count goes in before them. */
	memcpy(buf + n, e->rec, e->len - 2);
	n += e->len - 2;
	w = snprintf(buf + n, sizeof(buf) - n, ",\"repeated\":%" PRIu64 ",\"repeat_s\":%u}\n",
		     e->count, (ival + 999) / 1000);
	if (w > 0)
		write_all(buf, n + (size_t)w);
	e->count = 0;
	e->start_ms = now;
}

static void repeat_flush_locked(uint64_t now, unsigned ival, bool all)
{
	for (size_t i = 0; i < REPEAT_SLOTS; i++) {
		struct repeat *e = &repeats[i];

		if (e->used && e->count && (all || now - e->start_ms >= ival))
			repeat_write(e, now, ival);
	}
}

/* True when the finished record r must be written; false when it is a repeat. */
static bool repeat_admit(const struct log_rec *r)
{
	unsigned ival = atomic_load(&repeat_ms);
	const char *key = r->buf + r->body;
	size_t len = r->len - r->body;
	struct repeat *e = NULL, *victim = NULL;
	uint64_t now, h;

	if (!ival || len > REPEAT_KEY_MAX)
		return true;
	now = mono_ms();
	h = fnv1a(key, len);
	pthread_mutex_lock(&repeat_lock);
	repeat_flush_locked(now, ival, false);
	for (size_t i = 0; i < REPEAT_SLOTS && !e; i++) {
		struct repeat *s = &repeats[i];

		if (s->used && s->hash == h && s->len == len && memcmp(s->rec, key, len) == 0)
			e = s;
		else if (!victim || (victim->used && (!s->used || s->seq < victim->seq)))
			victim = s;
	}
	if (e && now - e->start_ms < ival) {
		e->count++;
		atomic_fetch_add(&repeat_total, 1);
		pthread_mutex_unlock(&repeat_lock);
		return false;
	}
	if (!e) {
		e = victim;
		if (e->used && e->count)
			repeat_write(e, now, ival);
		e->used = true;
		e->seq = ++repeat_seq;
		e->hash = h;
		e->len = len;
		memcpy(e->rec, key, len);
	}
	e->start_ms = now;
	e->count = 0;
	pthread_mutex_unlock(&repeat_lock);
	return true;
}

void log_set_repeat_interval(unsigned ms)
{
	atomic_store(&repeat_ms, ms);
	if (!ms)
		log_flush_repeats(true);
}

void log_flush_repeats(bool all)
{
	unsigned ival = atomic_load(&repeat_ms);

	pthread_mutex_lock(&repeat_lock);
	repeat_flush_locked(mono_ms(), ival, all || !ival);
	pthread_mutex_unlock(&repeat_lock);
}

uint64_t log_suppressed(void)
{
	return atomic_load(&repeat_total);
}

void log_end(struct log_rec *r)
{
	static const char trunc[] = ",\"truncated\":true";

	if (r->truncated) {
		memcpy(r->buf + r->len, trunc, sizeof(trunc) - 1);
		r->len += sizeof(trunc) - 1;
	}
	r->buf[r->len++] = '}';
	r->buf[r->len++] = '\n';
	if (repeat_admit(r))
		write_all(r->buf, r->len);
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
