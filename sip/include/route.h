/*
 * route.h — trunks and routes as an immutable, reference-counted snapshot.
 *
 * DESIGN
 * The signalling thread routes every call from a snapshot it can read without
 * waiting: a route_table is built (route_table_create + _add_*), frozen, and then
 * never changes. A reload builds a new table and swaps the pointer on the signalling
 * thread; calls in progress keep a reference (route_table_ref) to the table they were
 * routed with, so the trunk policies they point at stay valid until they end.
 * Reference counts are atomic so a table may be released from any thread.
 *
 * Identification: an out-of-dialog request is matched to a trunk by its packet's
 * source address (CIDR, most specific prefix first) and, if the trunk sets one, source
 * port. Normalisation turns the request-URI user part (the DID as the trunk writes it)
 * into E.164 with the trunk's country code and prefixes. Lookup finds the route for an
 * E.164 number: an exact match beats a prefix, a longer prefix beats a shorter one,
 * and a route restricted to a source trunk beats an unrestricted one of equal length.
 */
#ifndef TRUNX_ROUTE_H
#define TRUNX_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ROUTE_NAME_MAX    64
#define ROUTE_URI_MAX     256
#define ROUTE_MAX_CIDRS   32
#define ROUTE_MAX_HEADERS 16
#define ROUTE_MAX_CODECS  8

enum trunk_srtp {
	TRUNK_SRTP_OFF = 0,       /**< plain RTP only */
	TRUNK_SRTP_OPTIONAL,      /**< SRTP when the peer takes it (best-effort offers) */
	TRUNK_SRTP_REQUIRED,      /**< SRTP only (RTP/SAVP) */
};

enum trunk_rel100 {
	TRUNK_REL100_OFF = 0,     /**< no 100rel: never send or require reliable 18x */
	TRUNK_REL100_SUPPORTED,   /**< advertise Supported: 100rel; use it when the peer asks */
	TRUNK_REL100_REQUIRED,    /**< Require: 100rel on our INVITEs / reliable 18x always */
};

struct route_cidr {
	struct sockaddr_storage addr;  /**< network address (host bits zero) */
	uint8_t                 bits;  /**< prefix length */
};

/** A trunk (carrier or PBX peer) as configured. Plain data, copied into the table. */
struct trunk_cfg {
	char     name[ROUTE_NAME_MAX];
	size_t   n_cidrs;
	struct route_cidr cidrs[ROUTE_MAX_CIDRS];  /**< sources identified as this trunk */
	uint16_t port;                      /**< required source port; 0 = any */
	char     country_code[8];           /**< e.g. "1", "44"; "" = numbers arrive in E.164 */
	char     national_prefix[8];        /**< trunk prefix stripped from national numbers ("0", "1") */
	char     international_prefix[8];   /**< e.g. "00", "011"; "+" is always accepted */
	char     uri[ROUTE_URI_MAX];        /**< where calls routed to this trunk go:
					         "sip:host:port[;transport=tcp]"; "" = inbound only */
	unsigned session_expires;           /**< RFC 4028 interval (s) we use on this trunk; 0 = off */
	unsigned min_se;                    /**< Min-SE (s) accepted from this trunk (>= 90) */
	enum trunk_rel100 rel100;
	bool     trusted;                   /**< may assert identity (P-Asserted-Identity, Privacy) */
	size_t   n_pass_headers;
	char     pass_headers[ROUTE_MAX_HEADERS][ROUTE_NAME_MAX];
				            /**< headers copied from this trunk's requests to the
					         other leg (allow-list; identity headers only if trusted) */
	size_t   n_codecs;
	char     codecs[ROUTE_MAX_CODECS][32];  /**< allowed codecs "PCMU/8000"...; 0 = all supported */
	unsigned opus_complexity;           /**< Opus encoder complexity toward this trunk (0-10) */
	bool     opus_fec;                  /**< send Opus in-band FEC when the peer asks for it */
	bool     opus_dtx;                  /**< use Opus DTX when the peer asks for it */
	enum trunk_srtp srtp;               /**< SDES-SRTP policy of this trunk's legs */
	bool     srtp_without_tls;          /**< SDES keys may cross signalling that is not
					         TLS (they are readable on the wire) */
	bool     tls_verify;                /**< TLS peers' certificates must chain to the
					         configured CAs (and name the uri's host) */
};

/** A route: E.164 match -> destination. */
struct route_cfg {
	char name[ROUTE_NAME_MAX];
	char match[40];              /**< "+15551234567" exact, or "+1555*" prefix, or "*" */
	char from_trunk[ROUTE_NAME_MAX];  /**< only for calls from this trunk; "" = any */
	char to_trunk[ROUTE_NAME_MAX];    /**< destination trunk (its uri and policy); "" = none */
	char uri[ROUTE_URI_MAX];     /**< destination URI template; "{did}" expands to the
				          E.164 number, "{national}" to it without "+" and
				          without to_trunk's country code (when the number starts
				          with it); "" = "sip:{did}@" + host, port and parameters
				          of to_trunk's uri */
};

struct route_table;
struct trunk;   /**< a trunk inside a table: read its config with trunk_get_cfg() */
struct route;   /**< a route inside a table */

/** Creates an empty, unfrozen table with one reference. */
int route_table_create(struct route_table **rtp);

/**
 * Adds a trunk (copied). EINVAL on an empty/duplicate name or bad CIDR;
 * EEXIST if the same CIDR+port is claimed by another trunk. err gets a reason.
 */
int route_table_add_trunk(struct route_table *rt, const struct trunk_cfg *cfg,
			  char *err, size_t errlen);

/** Adds a route (copied). EINVAL on bad match syntax or an unknown trunk name. */
int route_table_add_route(struct route_table *rt, const struct route_cfg *cfg,
			  char *err, size_t errlen);

/** Freezes the table (builds lookup indexes). No add after this. */
int route_table_freeze(struct route_table *rt);

struct route_table *route_table_ref(struct route_table *rt);
/** Drops a reference; the last one frees the table. NULL is ignored. */
void route_table_unref(struct route_table *rt);

size_t route_table_trunk_count(const struct route_table *rt);
size_t route_table_route_count(const struct route_table *rt);
const struct trunk *route_table_trunk_at(const struct route_table *rt, size_t i);
const struct trunk *route_table_trunk_by_name(const struct route_table *rt, const char *name);

/**
 * The trunk a packet from src belongs to, or NULL (unknown source, or the table is
 * not frozen yet). IPv4-mapped IPv6 sources are matched as IPv4.
 */
const struct trunk *route_identify(const struct route_table *rt, const struct sockaddr *src);

const struct trunk_cfg *trunk_get_cfg(const struct trunk *t);

/**
 * Normalises a dialled number from trunk t to E.164 ("+" and 1-15 digits).
 * Accepts "+E164", international prefix + number, national prefix + national number,
 * or a national number (country code prepended); visual separators (-.() and spaces)
 * are ignored, and so is anything from the first ';' (user parameters such as
 * ";npdi"). t may be NULL (numbers are taken as E.164, with or without "+").
 * @return 0, EINVAL when user is not a telephone number (letters, '*', '#', more
 *         than 15 digits, a result whose first digit is 0), or ENOSPC
 *         when len cannot hold the result and its NUL
 */
int route_normalize(const struct trunk *t, const char *user, char *e164, size_t len);

/** The route for an E.164 number from trunk `from` (may be NULL), or NULL. */
const struct route *route_lookup(const struct route_table *rt, const char *e164,
				 const struct trunk *from);

const struct route_cfg *route_get_cfg(const struct route *r);
/** The destination trunk of a route, or NULL. */
const struct trunk *route_dest_trunk(const struct route *r);

/**
 * Expands the route's destination URI for a number.
 * @return 0, EINVAL if e164 is not "+" and 1-15 digits, or ENOSPC if out is too small
 */
int route_expand_uri(const struct route *r, const char *e164, char *out, size_t len);

#endif
