/*
 * kfwd.h — in-kernel forwarding of pure-relay RTP: the tc program's loader and its
 * forwarding table (kfwd_map.h). Private to media/.
 *
 * One struct kfwd per engine, created on the engine's thread and read-only after;
 * every worker adds, reads and removes its own sessions' entries through it (each
 * call is one bpf() system call, safe from any thread).
 */
#ifndef TRUNX_KFWD_H
#define TRUNX_KFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kfwd_map.h"
#include "sa.h"

struct kfwd;

/* kfwd_create() flags. */
#define KFWD_TC_FALLBACK 1u   /**< where the kernel has no tcx links (before 6.6), attach
			       *   as a tc clsact filter: it outlives a trunxd killed by
			       *   SIGKILL, entries and all ([media] kernel_forward = on) */
#define KFWD_NO_TCX      2u   /**< tests: behave as on a kernel without tcx links */

/**
 * Loads the program and attaches it to the ingress of the interface that owns addr
 * (an IPv4 address; 127.0.0.0/8 is the loopback interface) as a tcx link, which the
 * kernel detaches when trunxd exits, even by kill -9. Without tcx (kernels before
 * 6.6) only with KFWD_TC_FALLBACK: as a tc clsact filter removed by kfwd_destroy(),
 * which a crash leaves in place.
 * @param flags KFWD_*
 * @param why  on failure, a short reason for the log
 * @return 0, ENOTSUP (no BPF support built in, wildcard or IPv6 address, a
 *         non-loopback interface that does not forward IPv4: the kernel's route lookup
 *         for BPF refuses there, or no tcx links without KFWD_TC_FALLBACK), ENODEV (no
 *         interface has addr), or the errno of the load/attach (EPERM without CAP_BPF)
 */
int kfwd_create(struct kfwd **kp, const union media_sa *addr, unsigned flags,
		const char **why);

/**
 * Loads the program and its table without attaching them anywhere: for
 * kfwd_test_run() (tests). local: how kfwd_local() answers.
 * @return 0 or the errno of the load (EPERM without CAP_BPF), ENOTSUP without BPF
 */
int kfwd_open_detached(struct kfwd **kp, bool local, const char **why);

/**
 * Runs the program once on a frame (Ethernet header first) with BPF_PROG_TEST_RUN,
 * against the table as it is, as if it arrived on ifindex (0: the loopback).
 * *out_len: out's size in, the frame's length after.
 * @param verdict  the program's return value (TC_ACT_*)
 * @return 0 or errno
 */
int kfwd_test_run(struct kfwd *k, unsigned ifindex, const void *pkt, size_t len, void *out,
		  size_t *out_len, int *verdict);

/** Where k is attached as a tc filter (KFWD_TC_FALLBACK): its ifindex, handle and
 *  priority on the ingress hook (tests). @return 0, or ENOENT for a tcx link */
int kfwd_tc_filter(const struct kfwd *k, unsigned *ifindex, unsigned *handle,
		   unsigned *priority);

/** Detaches the program and frees the table. NULL is a no-op. */
void kfwd_destroy(struct kfwd *k);

/** True when the attached interface is the loopback: parties are on this host. */
bool kfwd_local(const struct kfwd *k);

/** The TTL this host's UDP sockets send with: what an entry's ttl should carry. */
uint8_t kfwd_ttl(const struct kfwd *k);

/** Adds or replaces an entry. @return 0 or errno (E2BIG when the table is full) */
int kfwd_put(struct kfwd *k, const struct kfwd_key *key, const struct kfwd_val *val);

/** Copies an entry's current state (under its lock). @return 0 or ENOENT */
int kfwd_get(struct kfwd *k, const struct kfwd_key *key, struct kfwd_val *val);

/** Removes an entry, copying its last state into *last. @return 0 or ENOENT */
int kfwd_del(struct kfwd *k, const struct kfwd_key *key, struct kfwd_val *last);

/** Entries in the table (walks it; for tests and status). */
unsigned kfwd_count(struct kfwd *k);

#endif
