/*
 * sipua_filter.c — the kernel-level source filter of the UDP SIP socket (classic BPF,
 * SO_ATTACH_FILTER), used when unknown sources must get no answer at all: the stack
 * would otherwise send its transaction-layer 100 Trying to an INVITE left unanswered,
 * and it would still parse every datagram of a flood.
 *
 * The program sees a datagram from its UDP header on: the IPv4 source is read through
 * the network-header offset, the payload starts at byte 8. Each allowed network costs
 * four instructions (load source, mask, compare, accept) so no jump is long; then a
 * datagram starting with "SIP/" (a response) is accepted; everything else is dropped.
 */
#include "sipua_int.h"

#include <errno.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define FILTER_MAX_INSNS 4096

/* Finds the stack's UDP socket: the datagram socket bound to our SIP address and port. */
static int find_udp_socket(const struct sipua *ua)
{
	struct sockaddr_in want = {.sin_family = AF_INET, .sin_port = htons(ua->cfg.bind_port)};

	if (inet_pton(AF_INET, ua->cfg.bind_addr, &want.sin_addr) != 1)
		return -1;
	for (int fd = 3; fd < 4096; fd++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		int type = 0;
		socklen_t tlen = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0 || sin.sin_family != AF_INET)
			continue;
		if (sin.sin_port == want.sin_port && sin.sin_addr.s_addr == want.sin_addr.s_addr)
			return fd;
	}
	return -1;
}

int sipua_set_source_filter(struct sipua *ua, const struct sipua_net *allow, size_t n)
{
	struct sock_filter *prog;
	struct sock_fprog fp;
	size_t k = 0;
	int fd, err = 0;

	if (!ua || (n && !allow))
		return EINVAL;
	fd = find_udp_socket(ua);
	if (fd < 0)
		return ENOTSUP;
	if (n == 0) {
		int dummy = 0;

		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy)) != 0 &&
		    errno != ENOENT)
			return errno;
		return 0;
	}
	if (n * 4 + 6 > FILTER_MAX_INSNS)
		return E2BIG;
	prog = calloc(n * 4 + 6, sizeof(*prog));
	if (!prog)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&allow[i].addr;
		uint32_t mask, net;

		if (a->sin_family != AF_INET || allow[i].bits > 32)
			continue;
		mask = allow[i].bits ? 0xffffffffu << (32 - allow[i].bits) : 0;
		net = ntohl(a->sin_addr.s_addr) & mask;
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12);
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask);
		prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, net, 0, 1);
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	}
	/* Responses from anywhere: our own requests may go to hosts that are no trunk. */
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8);
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x5349502fu, 0, 1);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	fp.len = (unsigned short)k;
	fp.filter = prog;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) != 0)
		err = errno;
	free(prog);
	if (!err)
		log_msg(LOG_INFO, "sip.source_filter", "UDP sources outside %zu networks dropped", n);
	return err;
}
