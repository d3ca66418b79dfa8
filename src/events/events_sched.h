/*
 * events_sched.h — pure decisions of the event stream, with no I/O: the webhook retry
 * schedule (parse, next delay), what an HTTP answer means for a delivery, and the
 * request values SSE reads (Last-Event-ID, the type filter). Fuzzed (fuzz_events).
 */
#ifndef TRUNX_EVENTS_SCHED_H
#define TRUNX_EVENTS_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_SCHED_MAX   16          /* attempts in a schedule */
#define EVENTS_DELAY_MAX   (7u * 86400u * 1000u)   /* longest delay: a week, in ms */
#define EVENTS_TYPES_MAX   16          /* types in one filter */
#define EVENTS_TYPE_LEN    48          /* longest type name, with the NUL */

/** The delays of a webhook's attempts: attempt k is due delay_ms[k-1] after the
 *  previous one failed (the first after the event). */
struct events_sched {
	unsigned n;
	uint32_t delay_ms[EVENTS_SCHED_MAX];
};

/**
 * Parses "0s,1m,5m,30m,2h": 1 to EVENTS_SCHED_MAX delays, each digits with a unit
 * (ms, s, m, h; none = s), at most EVENTS_DELAY_MAX; no blanks.
 * @return 0, EINVAL
 */
int events_sched_parse(const char *s, struct events_sched *out);

/**
 * After `attempts` attempts failed with a retryable outcome: the delay before the next.
 * @return 0, ENOENT (none left: the delivery is dead)
 */
int events_sched_next(const struct events_sched *s, unsigned attempts, uint32_t *delay_ms);

enum events_outcome {
	EVENTS_DELIVERED = 0,   /**< 2xx */
	EVENTS_RETRY,           /**< no answer (connection error, timeout), 408, 429, 5xx */
	EVENTS_REFUSED,         /**< any other status: retrying would not help */
};

/** What an attempt's answer means; status 0 = no HTTP answer at all. */
enum events_outcome events_outcome_of(int status);

/**
 * Parses a Last-Event-ID value: decimal digits only, 1 to 19 of them, at most
 * INT64_MAX (an event row id).
 * @return 0, EINVAL
 */
int events_parse_last_id(const char *s, uint64_t *id);

/** A type filter: names such as "call.answered", or a family "call.*". */
struct events_types {
	size_t n;   /**< 0 = every type */
	char   name[EVENTS_TYPES_MAX][EVENTS_TYPE_LEN];
};

/**
 * Parses "call.answered,trunk.*": comma-separated names of a-z 0-9 _ in dot-separated
 * parts, the last part of a family being "*". NULL or "" gives an empty filter.
 * @return 0, EINVAL
 */
int events_parse_types(const char *s, struct events_types *out);

/** True when the filter lets an event of this type through. */
bool events_types_match(const struct events_types *t, const char *type);

/**
 * True for an address a webhook may be delivered to without [events]
 * webhook_allow_private: a public unicast one. Refused: IPv4 0/8, 10/8, 100.64/10,
 * 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.168/16, 198.18/15,
 * 198.51.100/24, 203.0.113/24, 224/4 and above; IPv6 ::, ::1, fc00::/7, fe80::/10,
 * fec0::/10, ff00::/8, 2001:db8::/32, 64:ff9b::/96 and ::ffff:0:0/96 (NAT64 and mapped:
 * judged by the IPv4 inside), and any other family. addr: struct in_addr (4 bytes)
 * or struct in6_addr (16 bytes) in network order.
 */
bool events_addr_public(const unsigned char *addr, size_t len);

#endif
