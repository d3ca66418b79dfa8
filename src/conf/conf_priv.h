/*
 * conf_priv.h — inside the configuration parser: the declarative key tables, the
 * value types they use, and the parse context shared by conf.c (the driver and the
 * cross-section checks), conf_value.c (one parser per value type) and conf_keys.c
 * (the tables and the per-section checks).
 */
#ifndef TRUNX_CONF_PRIV_H
#define TRUNX_CONF_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

#define CONF_LINE_MAX   1024      /**< bytes per line, line end excluded */
#define CONF_FILE_MAX   (1 << 20) /**< bytes per file */
#define CONF_MAX_KEYS   32        /**< keys per section table */
#define CONF_MAX_TRUNKS 1024
#define CONF_MAX_ROUTES 65536

/** Value types of the key tables; each has one parser in conf_value.c. */
enum conf_type {
	CT_STR,        /**< char[size]: printable ASCII, may be empty */
	CT_PATH,       /**< char[size]: non-empty printable path */
	CT_BOOL,       /**< bool: yes/no, true/false, on/off, 1/0 */
	CT_UINT,       /**< unsigned in [min, max], stored times scale */
	CT_PORT,       /**< uint16_t in [min, max] */
	CT_ENUM,       /**< int: one of names[] (index = value) */
	CT_IP,         /**< char[size]: IPv4/IPv6 literal, or "" when min == 0 */
	CT_LISTEN,     /**< char[size] ip at off, uint16_t port at off2: "ip:port", "[v6]:port" */
	CT_HOSTPORT,   /**< char[size] host at off, uint16_t port at off2: "host[:port]" or "" */
	CT_TRANSPORTS, /**< bool udp at off, bool tcp at off2, bool tls right after tcp:
			    "udp", "tcp", "tls" in any combination */
	CT_CIDRS,      /**< struct route_cidr[] at off, size_t count at off2 */
	CT_HEADERS,    /**< char[][ROUTE_NAME_MAX] at off, size_t count at off2 */
	CT_CODECS,     /**< char[][32] at off, size_t count at off2 (canonical "PCMU/8000") */
	CT_DIGITS,     /**< char[size]: 0-9 only, may be empty */
	CT_SIPURI,     /**< char[size]: "" or a sip:/sips: URI */
	CT_URITMPL,    /**< char[size]: "" or a sip:/sips: URI with {did} / {national} */
	CT_MATCH,      /**< char[size]: route match "+digits", "+digits*" or "*" */
	CT_NAMEREF,    /**< char[size]: "" or a section name (resolved after parsing) */
};

/** One key of a section: the whole description of how it is parsed and stored. */
struct conf_key {
	const char        *name;
	enum conf_type     type;
	size_t             off;     /**< offset of the field in the section's struct */
	size_t             off2;    /**< second field (port, count, tcp), by type */
	size_t             size;    /**< field size (strings) or element count (lists) */
	unsigned           min, max;  /**< range (CT_UINT, CT_PORT); CT_IP: min 1 = required */
	unsigned           scale;   /**< CT_UINT: stored value = parsed value * scale */
	const char *const *names;   /**< CT_ENUM: value names, NULL-terminated */
	const char        *def;     /**< default, in the file's syntax; parsed like a value */
};

struct conf_ctx;

/** A section kind: [general], [sip], [media] (once each), [trunk NAME], [route NAME]. */
struct conf_section {
	const char            *name;
	bool                   named;  /**< takes a NAME and may repeat */
	const struct conf_key *keys;
	size_t                 n_keys;
	/** Checks a finished section (relations between its keys); 0 or EINVAL. */
	int (*check)(struct conf_ctx *c, void *obj);
};

/** Where a trunk's or route's keys were set, for cross-section messages. */
struct conf_lines {
	unsigned header;                 /**< line of the [section NAME] header */
	unsigned key[CONF_MAX_KEYS];     /**< line of each key, 0 = default */
};

struct conf_ctx {
	struct conf              *cf;
	const char               *name;      /**< file name for messages */
	char                     *err;
	size_t                    errlen;
	unsigned                  line;      /**< current line, 1-based */
	const struct conf_section *sec;      /**< current section, NULL before the first */
	void                     *obj;       /**< base of the current section's struct */
	struct conf_lines         cur;       /**< lines of the current section */
	struct conf_lines         global[8]; /**< unnamed sections, by index in conf_sections;
						  header 0 = not seen */
	size_t                    cap_trunks, cap_routes;
	struct conf_lines        *trunk_lines;  /**< parallel to cf->trunks */
	struct conf_lines        *route_lines;  /**< parallel to cf->routes */
};

extern const struct conf_section conf_sections[];
extern const size_t conf_n_sections;

/** Index of the key called name in a section table, or -1. */
int conf_key_index(const struct conf_section *sec, const char *name);

/**
 * Parses val for key k into the struct at base.
 * @return 0, or EINVAL with the reason in why
 */
int conf_value_set(const struct conf_key *k, void *base, const char *val,
		   char *why, size_t whylen);

/** Formats "name:line: reason" into c->err. @return EINVAL */
int conf_fail(struct conf_ctx *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Line to blame for key `key` of a section: where it was set, else the header. */
unsigned conf_key_line(const struct conf_section *sec, const struct conf_lines *l,
		       const char *key);

/** True for a valid section name: 1-63 of [A-Za-z0-9_.-]. */
bool conf_name_valid(const char *s);

/** True for an IPv4 or IPv6 literal (no brackets, no zone). */
bool conf_is_ip(const char *s);

/** True for a host: an IP literal or a DNS name. */
bool conf_is_host(const char *s);

/** True for a wildcard IP literal (0.0.0.0, ::). */
bool conf_is_wildcard(const char *s);

/** Header names that identify the caller: passed only from trusted trunks. */
bool conf_header_is_identity(const char *name);

#endif
