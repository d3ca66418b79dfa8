/*
 * kfwd_map.h — the forwarding table shared by the tc program (kfwd_tc.bpf) and its
 * userspace side (kfwd.c): one entry per offloaded direction of a pure-relay session.
 *
 * Key: the packet as it reaches trunx (its source, the local RTP port it is sent to).
 * Value: where it goes (trunx's other-side address as source, the other party as
 * destination), the RTP rewrite of the userspace relay for the current source
 * (SSRC replaced, sequence and timestamp offset, payload type mapped), and what the
 * program counts for the worker (packets, bytes, the receive statistics of RFC 3550
 * A.1/A.8 and the highest sequence sent, so the userspace path can take over again
 * without a gap). Addresses and ports in network order, the rest in host order.
 */
#ifndef TRUNX_KFWD_MAP_H
#define TRUNX_KFWD_MAP_H

#include <linux/bpf.h>
#include <linux/types.h>

#define KFWD_MAP_MAX 65536   /**< entries: two per offloaded call */

struct kfwd_key {
	__u32 src_ip;     /**< the party sending */
	__u32 dst_ip;     /**< trunx's address it sends to */
	__u16 src_port;
	__u16 dst_port;   /**< trunx's RTP port of that side */
};

struct kfwd_val {
	/* Set by userspace. */
	__u32 new_src_ip;     /**< trunx's address toward the other party */
	__u32 new_dst_ip;     /**< the other party */
	__u16 new_src_port;   /**< trunx's RTP port of the other side */
	__u16 new_dst_port;
	__u32 ssrc_in;        /**< the source offloaded; another SSRC goes to userspace */
	__u32 ssrc_out;       /**< the stable SSRC trunx sends */
	__u32 ts_off;         /**< out ts = in ts + ts_off */
	__u16 seq_off;        /**< out seq = in seq + seq_off */
	__u8  pt_in;          /**< the only payload type forwarded here */
	__u8  pt_out;
	__u32 clock_hz;       /**< RTP clock, for the jitter estimate */
	__u32 local;          /**< 1: the party is on this host (loopback): the stack
			       *   delivers; 0: routed (bpf_fib_lookup) and redirected */
	/* Written by the program under the lock. */
	struct bpf_spin_lock lock;
	__u8  ttl;            /**< set by userspace: the TTL trunx's sockets send (0: kept) */
	__u8  pad[3];
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;        /**< bpf_ktime_get_ns() of the last packet (CLOCK_MONOTONIC) */
	__u32 cycles;         /**< sequence wraps, times 2^16 (as struct rtp_stats) */
	__u16 max_seq;        /**< highest incoming sequence number */
	__u16 seq_max_out;    /**< highest sequence number sent */
	__u32 ts_last_out;    /**< its timestamp */
	__u32 transit;        /**< arrival - timestamp of the last packet, clock units */
	__u64 jitter16;       /**< interarrival jitter times 16, clock units */
	__u32 have_transit;
	__u32 passed;         /**< packets left to userspace (jumps, other PT or SSRC) */
};

#endif
