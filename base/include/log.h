/*
 * log.h — structured logging: one JSON object per line on a file descriptor.
 *
 * Every record carries "ts" (UTC, ISO 8601 with milliseconds), "level" and "event";
 * further fields are added one by one, each a JSON string, integer or boolean.
 * A record is built in a caller-owned buffer and written with one write(2), so lines
 * from different threads never interleave. The level filter is a process-wide atomic,
 * the only global in trunx that is not inside a context struct (it is set once at
 * start-up and by `trunxctl loglevel`).
 *
 *   struct log_rec r;
 *   if (log_begin(&r, LOG_INFO, "call.end")) {
 *           log_str(&r, "call_id", id);
 *           log_int(&r, "sip_code", 200);
 *           log_end(&r);
 *   }
 *
 *   log_msg(LOG_WARN, "media.port_pool", "no free port in %u-%u", lo, hi);
 *
 * Storms: once log_set_repeat_interval() is set, a record identical to one written
 * less than that interval ago (same level, event and fields; only "ts" differs) is
 * not written but counted. When the interval is over, the record is written once
 * more with "repeated": N (the records suppressed) and "repeat_s" (the interval), and
 * the next identical record starts a new interval. So a storm of one record costs at
 * most two lines per interval. log_flush_repeats() writes the counts that are due
 * when nothing else is logged (call it about once a second) and all of them at exit.
 *
 * Request ids: while a thread works for an API request (log_set_request_id), every
 * record it begins carries "request_id" (once: an explicit field of that name is then
 * skipped). A job posted to another thread takes its poster's id along (sipua_post) and
 * runs with it set, so the signalling thread's lines about that request carry it too.
 */
#ifndef TRUNX_LOG_H
#define TRUNX_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO  = 1,
	LOG_WARN  = 2,
	LOG_ERROR = 3,
	LOG_OFF   = 4,
};

/** Size of one record; longer records are truncated and marked "truncated":true. */
#define LOG_REC_MAX 4096

struct log_rec {
	char   buf[LOG_REC_MAX];
	size_t len;        /**< bytes used in buf */
	size_t body;       /**< where the fields after "ts" start (the repeat key) */
	int    level;
	bool   truncated;  /**< a field did not fit */
	bool   has_rid;    /**< "request_id" added from the thread's request (below) */
};

/** Sets the output descriptor (default 2, stderr). Not thread-safe: call at start-up. */
void log_set_fd(int fd);

/** Sets the minimum level written. Thread-safe. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/** Parses "debug", "info", "warn", "error", "off". Returns 0 or EINVAL. */
int log_level_parse(const char *name, enum log_level *levelp);
const char *log_level_name(enum log_level level);

/**
 * Starts a record. Returns false (and the record must not be used) when the level
 * is filtered out, so callers can skip formatting work.
 */
bool log_begin(struct log_rec *r, enum log_level level, const char *event);

void log_str(struct log_rec *r, const char *key, const char *val);   /**< NULL -> null */
void log_strn(struct log_rec *r, const char *key, const char *val, size_t n);
void log_int(struct log_rec *r, const char *key, int64_t val);
void log_uint(struct log_rec *r, const char *key, uint64_t val);
void log_bool(struct log_rec *r, const char *key, bool val);
void log_double(struct log_rec *r, const char *key, double val);
/** Adds a preformatted JSON value (object, array, number) verbatim. */
void log_raw(struct log_rec *r, const char *key, const char *json);
void log_fmt(struct log_rec *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Sets (NULL or "" clears) the request this thread now works for. Thread-local. */
void log_set_request_id(const char *id);

/** The request this thread works for, or NULL. Thread-local. */
const char *log_request_id(void);

/** Closes the record and writes it as one line. */
void log_end(struct log_rec *r);

/**
 * Suppresses repeated identical records for ms milliseconds after each is written
 * (see the top of this file); 0 (the default) writes every record. Thread-safe.
 */
void log_set_repeat_interval(unsigned ms);

/**
 * Writes the "repeated" record of every suppressed record whose interval is over
 * (all of them, over or not, when `all`). Thread-safe.
 */
void log_flush_repeats(bool all);

/** Records suppressed as repeats since start. Thread-safe. */
uint64_t log_suppressed(void);

/** Shorthand: a record with a formatted "msg" field. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * Appends val to out as the body of a JSON string (no quotes), escaping as RFC 8259
 * requires; invalid UTF-8 bytes become \u00XX. Returns the bytes written, stopping
 * before outlen would be exceeded (out is always NUL-terminated when outlen > 0).
 */
size_t log_json_escape(char *out, size_t outlen, const char *val, size_t n);

#endif
