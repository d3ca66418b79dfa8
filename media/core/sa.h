/*
 * sa.h — socket addresses of the media layer: one union big enough for IPv4 and IPv6,
 * with the comparisons the latching rules need. Plain values, no state.
 */
#ifndef TRUNX_SA_H
#define TRUNX_SA_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

union media_sa {
	struct sockaddr     sa;
	struct sockaddr_in  in;
	struct sockaddr_in6 in6;
};

/** Length to pass to the socket calls for this address's family (0 if unknown). */
socklen_t sa_len(const union media_sa *a);

/** Port in host order (0 for an unknown family). */
uint16_t sa_port(const union media_sa *a);

void sa_set_port(union media_sa *a, uint16_t port);

/** Same family, address and port. */
bool sa_eq(const union media_sa *a, const union media_sa *b);

/** The unspecified address (0.0.0.0, ::, or ::ffff:0.0.0.0). */
bool sa_is_any(const union media_sa *a);

/** Same family and address (any port). */
bool sa_ip_eq(const union media_sa *a, const union media_sa *b);

/**
 * Converts a sockaddr_storage from the API into a media address for sockets of the
 * given family: AF_INET stays as is, AF_INET6 too, and an IPv4 address meant for an
 * IPv6 socket becomes IPv4-mapped (::ffff:a.b.c.d).
 * @return 0, or EAFNOSUPPORT (unknown family, or IPv6 toward an IPv4 socket)
 */
int sa_from_storage(union media_sa *out, const struct sockaddr_storage *in, int family);

/** Parses an IPv4 or IPv6 literal with a port. Returns 0 or EINVAL. */
int sa_parse(union media_sa *out, const char *ip, uint16_t port);

#endif
