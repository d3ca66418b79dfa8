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
 *
 * Dropped datagrams are counted by a packet socket (AF_PACKET, cooked) carrying the
 * same test as its own filter: it accepts exactly the datagrams the socket filter
 * drops, one byte each, and is never read; the kernel's PACKET_STATISTICS (received
 * plus queue drops) is the count.
 */
#include "sipua_int.h"

#include <errno.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define FILTER_MAX_INSNS 4096

/* Filter of the counting socket: incoming IPv4 UDP to our address and port, from
 * outside `allow`, not a response. The packet starts at its IP header. */
static int tap_open(const struct sipua *ua, const struct sipua_net *allow, size_t n)
{
	struct sock_filter *prog;
	struct sock_fprog fp;
	struct in_addr local;
	size_t k = 0;
	int fd, rcv = 4096;

	if (inet_pton(AF_INET, ua->cfg.bind_addr, &local) != 1)
		return -1;
	prog = calloc(n * 4 + 20, sizeof(*prog));   /* 13 head + 4 per net + 4 tail */
	if (!prog)
		return -1;
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_HOST, 1, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9);
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 1, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16);
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(local.s_addr), 1, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2);
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ua->cfg.bind_port, 1, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&allow[i].addr;
		uint32_t mask;

		if (a->sin_family != AF_INET || allow[i].bits > 32)
			continue;
		mask = allow[i].bits ? 0xffffffffu << (32 - allow[i].bits) : 0;
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12);
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask);
		prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							 ntohl(a->sin_addr.s_addr) & mask, 0, 1);
		prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	}
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_IND, 8);
	prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x5349502fu, 0, 1);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 1);
	fp.len = (unsigned short)k;
	fp.filter = prog;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP));
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) != 0 ||
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) != 0)) {
		close(fd);
		fd = -1;
	}
	free(prog);
	return fd;
}

/* Adds what the counting socket saw since the last read (the kernel resets it). */
static void tap_collect(struct sipua *ua)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (ua->tap_fd >= 0 && getsockopt(ua->tap_fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		atomic_fetch_add(&ua->tap_count, (uint64_t)st.tp_packets);
}

uint64_t sipua_filtered(struct sipua *ua)
{
	if (!ua)
		return 0;
	pthread_mutex_lock(&ua->tap_lock);
	tap_collect(ua);
	pthread_mutex_unlock(&ua->tap_lock);
	return atomic_load(&ua->tap_count);
}

static void tap_replace(struct sipua *ua, const struct sipua_net *allow, size_t n)
{
	pthread_mutex_lock(&ua->tap_lock);
	tap_collect(ua);
	if (ua->tap_fd >= 0)
		close(ua->tap_fd);
	ua->tap_fd = n ? tap_open(ua, allow, n) : -1;
	if (n && ua->tap_fd < 0)
		log_msg(LOG_WARN, "sip.source_filter", "dropped datagrams are not counted: "
			"a packet socket needs CAP_NET_RAW (%s)", strerror(errno));
	pthread_mutex_unlock(&ua->tap_lock);
}

int sipua_set_source_filter(struct sipua *ua, const struct sipua_net *allow, size_t n)
{
	struct sock_filter *prog;
	struct sock_fprog fp;
	struct in_addr v4;
	size_t k = 0;
	int fd, err = 0;

	if (!ua || (n && !allow))
		return EINVAL;
	if (n == 0)
		tap_replace(ua, NULL, 0);
	fd = ua->udp_fd;
	if (fd < 0 || inet_pton(AF_INET, ua->cfg.bind_addr, &v4) != 1)
		return ENOTSUP;   /* the program reads IPv4 sources only */
	if (n == 0) {
		int dummy = 0;

		/* Every UDP socket of the stack: one per host address with 0.0.0.0. */
		for (size_t i = 0; i < ua->n_udp_fds; i++)
			if (setsockopt(ua->udp_fds[i], SOL_SOCKET, SO_DETACH_FILTER, &dummy,
				       sizeof(dummy)) != 0 && errno != ENOENT)
				err = errno;
		return err;
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
	for (size_t i = 0; i < ua->n_udp_fds && !err; i++)
		if (setsockopt(ua->udp_fds[i], SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) != 0)
			err = errno;
	free(prog);
	if (!err) {
		tap_replace(ua, allow, n);
		log_msg(LOG_INFO, "sip.source_filter", "UDP sources outside %zu networks dropped", n);
	}
	return err;
}
