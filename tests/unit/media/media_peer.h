/*
 * media_peer.h — test helpers for the engine tests: a remote RTP party (a UDP socket
 * on a loopback address with an ephemeral port), an event log fed by the engine's
 * handler, and an engine configuration over a port range chosen at run time.
 */
#ifndef MEDIA_PEER_H
#define MEDIA_PEER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "media.h"
#include "rtp.h"

struct peer {
	int                fd;
	struct sockaddr_in addr;   /**< where it is bound */
};

/** Opens a peer on the IPv4 address ip (NULL = 127.0.0.1; another loopback address
 *  such as 127.0.0.5 plays a stranger to the call), ephemeral port; asserts on
 *  failure. */
void peer_open(struct peer *p, const char *ip);
void peer_close(struct peer *p);

/** Sends raw bytes to 127.0.0.1:port. */
void peer_send(struct peer *p, uint16_t port, const void *buf, size_t len);

/** Sends an RTP packet with a 160-byte payload whose first 4 bytes are tag. */
void peer_send_rtp(struct peer *p, uint16_t port, uint8_t pt, uint16_t seq, uint32_t ts,
		   uint32_t ssrc, bool marker, uint32_t tag);

/**
 * Receives one datagram within timeout_ms.
 * @return its length, or -1 on timeout
 */
ssize_t peer_recv(struct peer *p, void *buf, size_t size, int timeout_ms,
		  struct sockaddr_in *from);

/** Receives and parses one RTP packet; returns false on timeout or a bad packet.
 *  *tag gets the first 4 payload bytes. */
bool peer_recv_rtp(struct peer *p, struct rtp_hdr *h, uint32_t *tag, int timeout_ms,
		   struct sockaddr_in *from);

/** Counts datagrams until none arrives for quiet_ms. */
int peer_drain(struct peer *p, int quiet_ms);

#define EVLOG_MAX 4096

struct evlog {
	pthread_mutex_t    lock;
	pthread_cond_t     cond;
	struct media_event ev[EVLOG_MAX];
	int                n;
	/* When block is set, the handler waits until it is cleared (to stall a worker). */
	bool               block;
	bool               blocked;   /**< the handler is waiting */
};

void evlog_init(struct evlog *l);
void evlog_fini(struct evlog *l);
/** The media_event_h to give the engine, with the evlog as arg. */
void evlog_handler(const struct media_event *ev, void *arg);
/** Waits up to timeout_ms for an event of type for cookie; copies it to out (may be
 *  NULL). */
bool evlog_wait(struct evlog *l, enum media_event_type type, uint64_t cookie,
		int timeout_ms, struct media_event *out);
int evlog_count(struct evlog *l, enum media_event_type type, uint64_t cookie);
void evlog_set_block(struct evlog *l, bool block);
/** Waits until the handler is stuck in a block; returns false on timeout. */
bool evlog_wait_blocked(struct evlog *l, int timeout_ms);

/** An engine config on 127.0.0.1 over pairs random even ports in [test_port_lo,
 *  test_port_lo + 2 * test_port_pairs), by default [20000, 32000). */
void test_engine_cfg(struct media_engine_cfg *cfg, unsigned pairs, unsigned workers);
/** Where test_engine_cfg() takes its ports: two test processes running at once each
 *  take their own half, so that one's ranges are never bound by the other's engines. */
extern uint16_t test_port_lo;
extern unsigned test_port_pairs;
/** TRUNX_TEST_PORTS=LO-HI in the environment (set by ctest for a test that runs beside
 *  other engine tests, each with its own range): test_port_lo and test_port_pairs from
 *  it, said on stdout; unset, they stay. A malformed value ends the process (status 2). */
void test_ports_from_env(void);

/** Side parameters: remote = 127.0.0.1:rtp_port (0 = unknown), rtcp port (0 = +1),
 *  signalling from 127.0.0.1, direction, identity PT map for 0, 8, 13 and 101. */
void side_params(struct media_side_params *sp, uint16_t rtp_port, uint16_t rtcp_port,
		 enum media_dir dir);

uint16_t peer_port(const struct peer *p);

void sleep_ms(unsigned ms);

/** Whether this kernel lets the process set up an io_uring (seccomp and
 *  kernel.io_uring_disabled can refuse it): the io_uring passes are skipped if not. */
bool test_uring_allowed(void);

/**
 * Raises the calling thread's priority (nice TEST_NICE; threads it creates later, the
 * engine's workers among them, inherit it) where the process may (root, or
 * CAP_SYS_NICE), and says which on stdout. The engine tests play parties in real time
 * against workers that run on their own clock (20 ms frames, a jitter buffer, a
 * bounded delay): on a loaded 2-core machine, threads at nice 0 sharing the cores with
 * builds wait 100 ms and more for a core, and the worker skips ahead or the test's own
 * sender falls behind. What is checked does not change; without the privilege the
 * tests run as before.
 */
void test_raise_priority(void);
#define TEST_NICE (-10)

#endif
