/*
 * sipua_peers.h — a counted set of peer IP addresses (sip/ua only; no sofia types).
 */
#ifndef TRUNX_SIPUA_PEERS_H
#define TRUNX_SIPUA_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct sipua_peers;

/** @return 0, EINVAL, ENOMEM */
int  sipua_peers_create(struct sipua_peers **pp);
void sipua_peers_destroy(struct sipua_peers *p);

/** Counts one more use of sa's IP (port ignored). @return 0, EINVAL (not IP), ENOMEM */
int  sipua_peers_add(struct sipua_peers *p, const struct sockaddr *sa);
/** Counts one use less; the address leaves the set at zero. */
void sipua_peers_del(struct sipua_peers *p, const struct sockaddr *sa);
bool sipua_peers_has(const struct sipua_peers *p, const struct sockaddr *sa);
/** Distinct addresses in the set. */
size_t sipua_peers_count(const struct sipua_peers *p);

/** True when both are IP addresses and the same one (ports ignored; IPv4-mapped
 *  IPv6 equals its IPv4). */
bool sipua_same_ip(const struct sockaddr *a, const struct sockaddr *b);

#endif
