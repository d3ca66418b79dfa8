/*
 * kfwd_session.h — offloading a session's directions to the kernel (kfwd_session.c).
 * Worker thread of the session only. All are no-ops when the engine has no kfwd.
 */
#ifndef TRUNX_KFWD_SESSION_H
#define TRUNX_KFWD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct media_session;
struct session_cfg;

/** After the userspace relay sent an RTP packet from side: offloads that direction
 *  when the session is a pure relay whose state is settled. */
void kfwd_session_try(struct media_session *s, unsigned side, uint64_t now_ms);

/** An RTP packet from side reached userspace while its direction was offloaded (the
 *  program left it to the stack, or it was queued on the socket before the entry
 *  went in): takes the direction back, and when the entry forwarded nothing but
 *  refused something, waits before offloading it again (1 s, doubling up to 30 s),
 *  so a party the kernel cannot forward to (no route, no neighbour yet, forwarding
 *  off) costs no table update per packet. */
void kfwd_session_passed(struct media_session *s, unsigned side, uint64_t now_ms);

/** Takes the direction from side back to userspace, its counters folded in (the
 *  kernel's last-packet time no later than now_ms, the caller's clock). */
void kfwd_session_stop(struct media_session *s, unsigned side, uint64_t now_ms);

/** Both directions (before an update, a feature, digits, the close). */
void kfwd_session_stop_all(struct media_session *s);

/** Before the inactivity check: folds the kernel's counters in when the timeout
 *  would otherwise expire (packets forwarded by the kernel are activity). */
void kfwd_session_timer(struct media_session *s, const struct session_cfg *cfg,
			uint64_t now_ms);

/** Folds the kernel's counters into the session (before its stats are published);
 *  now_ms: the caller's clock, which later checks compare with. */
void kfwd_session_sync(struct media_session *s, uint64_t now_ms);

#endif
