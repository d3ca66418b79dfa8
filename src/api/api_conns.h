/*
 * api_conns.h — the API's open connections counted per source address, so that one
 * host (an IPv6 host: its /64) cannot hold more than its share of the listener's
 * connections. A pure table (no I/O): api_wire.c adds each accepted connection once
 * its peer is known and removes it when evhttp frees the connection.
 */
#ifndef TRUNX_API_CONNS_H
#define TRUNX_API_CONNS_H

#include <sys/socket.h>

struct api_conns;

/**
 * @param max_sources     sources tracked at once (the listener's connection cap)
 * @param max_per_source  connections one source may hold
 * @return 0, EINVAL (a zero argument) or ENOMEM
 */
int api_conns_create(struct api_conns **out, unsigned max_sources, unsigned max_per_source);
void api_conns_destroy(struct api_conns *c);

/**
 * Counts one more connection from sa (AF_INET or AF_INET6; other families are not
 * counted and always admitted).
 * @return 0 (counted), EBUSY (the source already holds max_per_source: not counted) or
 *         ENOSPC (max_sources distinct sources already: not counted)
 */
int api_conns_add(struct api_conns *c, const struct sockaddr *sa);

/** Forgets one connection counted by api_conns_add() for sa. */
void api_conns_remove(struct api_conns *c, const struct sockaddr *sa);

/** Connections counted for sa's source. */
unsigned api_conns_of(const struct api_conns *c, const struct sockaddr *sa);

/**
 * The key the API counts a source's requests by (failed authentications), from the
 * address text evhttp gives: an IPv4 address (or an IPv4-mapped IPv6 one) as itself,
 * an IPv6 address as its /64 ("2001:db8:1:2::/64": one host may hold the whole
 * prefix), anything else (a Unix socket's "unix") as given.
 */
void api_source_key(const char *addr, char *out, size_t len);

/** Distinct sources holding connections. */
unsigned api_conns_sources(const struct api_conns *c);

#endif
