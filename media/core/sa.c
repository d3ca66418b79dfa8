/*
 * sa.c — media socket address helpers (see sa.h). No state.
 */
#include "sa.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

socklen_t sa_len(const union media_sa *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return sizeof(a->in);
	case AF_INET6:
		return sizeof(a->in6);
	default:
		return 0;
	}
}

uint16_t sa_port(const union media_sa *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return ntohs(a->in.sin_port);
	case AF_INET6:
		return ntohs(a->in6.sin6_port);
	default:
		return 0;
	}
}

void sa_set_port(union media_sa *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->in.sin_port = htons(port);
	else if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
}

bool sa_ip_eq(const union media_sa *a, const union media_sa *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) == 0;
	return false;
}

bool sa_is_any(const union media_sa *a)
{
	static const uint8_t zero[16];

	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == 0;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->in6.sin6_addr, zero, 16) == 0 ||
		       (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr) &&
			memcmp(&a->in6.sin6_addr.s6_addr[12], zero, 4) == 0);
	return false;
}

bool sa_eq(const union media_sa *a, const union media_sa *b)
{
	return sa_ip_eq(a, b) && sa_port(a) == sa_port(b);
}

int sa_from_storage(union media_sa *out, const struct sockaddr_storage *in, int family)
{
	memset(out, 0, sizeof(*out));
	if (in->ss_family == AF_INET && family == AF_INET) {
		memcpy(&out->in, in, sizeof(out->in));
		return 0;
	}
	if (in->ss_family == AF_INET6 && family == AF_INET6) {
		memcpy(&out->in6, in, sizeof(out->in6));
		return 0;
	}
	if (in->ss_family == AF_INET && family == AF_INET6) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)in;

		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = v4->sin_port;
		out->in6.sin6_addr.s6_addr[10] = 0xff;
		out->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&out->in6.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
		return 0;
	}
	return EAFNOSUPPORT;
}

int sa_parse(union media_sa *out, const char *ip, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (!ip)
		return EINVAL;
	if (inet_pton(AF_INET, ip, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return 0;
	}
	return EINVAL;
}
