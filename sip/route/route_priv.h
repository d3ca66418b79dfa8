/*
 * route_priv.h — the inside of a routing snapshot: trunks, routes and the two lookup
 * indexes (source CIDRs for identification, a decimal trie for number lookup).
 * Shared by route_table.c (life cycle, trunks, identification) and route_match.c
 * (routes, normalisation, lookup, URI expansion).
 */
#ifndef TRUNX_ROUTE_PRIV_H
#define TRUNX_ROUTE_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"

#define ROUTE_E164_MAX 15   /**< digits in an E.164 number */

struct trunk {
	struct trunk_cfg          cfg;
	size_t                    idx;   /**< position in the table */
	const struct route_table *rt;    /**< the table holding it */
};

struct route {
	struct route_cfg    cfg;
	const struct trunk *dest;   /**< to_trunk, or NULL */
	uint32_t            from;   /**< from_trunk index + 1; 0 = any trunk */
	char                tmpl[ROUTE_URI_MAX];  /**< URI template in effect */
};

/** One source claimed by a trunk: address bytes masked to the prefix length. */
struct cidr_ent {
	uint8_t  addr[16];   /**< IPv4 in the first 4 bytes */
	uint16_t port;       /**< 0 = any */
	uint32_t trunk;      /**< trunk index */
};

/** All entries of one prefix length, sorted by (addr, port). */
struct cidr_level {
	uint8_t bits;
	size_t  off, n;      /**< slice of cidr_index.ents */
};

struct cidr_index {
	struct cidr_ent  *ents;
	size_t            n;
	struct cidr_level levels[129];   /**< longest prefix first */
	size_t            n_levels;
	size_t            alen;          /**< address bytes: 4 or 16 */
};

/** Trie node: one per digit position of a route's match. */
struct trie_node {
	int32_t child[10];   /**< next digit, -1 = none */
	int32_t exact;       /**< first trie_ent of routes matching exactly here, -1 = none */
	int32_t prefix;      /**< first trie_ent of prefix routes ending here, -1 = none */
};

struct trie_ent {
	uint32_t route;      /**< route index */
	uint32_t from;       /**< route's from (trunk index + 1, 0 = any) */
	int32_t  next;       /**< next entry of the same node and kind, -1 = end */
};

/** An outbound rule inside a table. */
struct oroute {
	struct oroute_cfg   cfg;
	const struct trunk *trunk;
	size_t              plen;        /**< prefix length */
};

struct route_table {
	atomic_uint        refs;
	bool               frozen;
	bool               db;           /**< database-mode data was added */
	struct trunk     **trunks;     /**< each allocated alone: pointers stay valid */
	size_t             n_trunks, cap_trunks;
	struct route     **routes;
	size_t             n_routes, cap_routes;
	struct cidr_index  v4, v6;     /**< built by route_table_freeze */
	struct trie_node  *nodes;      /**< nodes[0] = root (no digit; "*" lives here) */
	size_t             n_nodes, cap_nodes;
	struct trie_ent   *ents;
	size_t             n_ents, cap_ents;

	/* database mode */
	struct trunk     **by_id;        /**< trunks with an id, sorted by id (frozen) */
	size_t             n_by_id;
	struct tenant_cfg *tenants;      /**< sorted by id when frozen */
	size_t             n_tenants, cap_tenants;
	struct oroute     *oroutes;      /**< sorted for lookup when frozen */
	size_t             n_oroutes, cap_oroutes;
	struct pool_cfg   *pools;
	size_t             n_pools, cap_pools;
	struct route_settings settings;
	struct route_dids *dids;         /**< reference held; NULL in file mode */
	uint8_t          (*dests)[17];   /**< destination addresses: family byte (4/6) then
					      the address; sorted (route_is_destination) */
	size_t             n_dests;
};

/** Frees the database-mode parts of a table (route_db.c). */
void route_db_free(struct route_table *rt);

/** Builds the database-mode indexes at freeze time (route_db.c). */
int route_db_freeze(struct route_table *rt);

/** Checks that a CIDR claim may be shared: every claimant is challenged (digest). */
bool route_claim_shared_ok(const struct trunk_cfg *a, const struct trunk_cfg *b);

/** Frees the route side of a table (routes, trie). */
void route_match_free(struct route_table *rt);

/** Writes a formatted reason into err (if given) and returns rc. */
int route_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** Grows an array of elem-sized items to hold n + 1. @return 0 or ENOMEM */
int route_grow(void **arr, size_t *cap, size_t n, size_t elem);

/** True if s is a string of decimal digits (possibly empty) ending within size. */
bool route_digits_ok(const char *s, size_t size);

/** Index of trunk `name` in rt, or -1. */
long route_trunk_index(const struct route_table *rt, const char *name);

/** tmpl with "{did}" replaced by e164 and "{national}" by national (route_match.c).
 *  @return 0, ENOSPC */
int route_fill_template(const char *tmpl, const char *e164, const char *national, char *out,
			size_t len);

#endif
