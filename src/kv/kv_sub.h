/*
 * kv_sub.h — a Redis subscriber on the control thread (kv_sub.c): its own hiredis
 * asynchronous connection (a subscribed connection takes no other commands) on the
 * control thread's libevent loop, subscribed to one channel, reconnected after a
 * second when it drops.
 *
 * DESIGN
 * "Live" means Redis confirmed the SUBSCRIBE on the current connection: from then on
 * every message published on the channel reaches msg_h, in order. The state handler is
 * told when the subscription becomes live and when it stops being live (connection
 * lost, refused, Redis restarted); a user that must not miss a message (a cache
 * invalidated by them) treats everything it kept while not live as suspect.
 */
#ifndef TRUNX_KV_SUB_H
#define TRUNX_KV_SUB_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct kv_sub;

/** The subscription became live (true) or stopped being live (false). */
typedef void (kv_sub_state_h)(bool live, void *arg);
/** A message on the channel (payload not NUL-terminated; valid during the call). */
typedef void (kv_sub_msg_h)(const char *payload, size_t len, void *arg);

/**
 * @param url  a Redis URL (kv_url_parse)
 * @return 0, EINVAL (bad URL or channel), ENOMEM
 */
int kv_sub_create(struct kv_sub **sp, struct event_base *base, const char *url,
		  const char *channel, kv_sub_state_h *sh, kv_sub_msg_h *mh, void *arg);
/** Connects (and keeps reconnecting). */
int kv_sub_start(struct kv_sub *s);
bool kv_sub_live(const struct kv_sub *s);
/** Times the subscription became live (1 after the first SUBSCRIBE reply). */
unsigned long kv_sub_generation(const struct kv_sub *s);
/**
 * Reads what already waits on the connection, now (its handlers run before this
 * returns): a caller about to act on state the messages invalidate sees every message
 * Redis sent before it. One poll() when nothing waits.
 */
void kv_sub_drain(struct kv_sub *s);
/** No handler is called during or after this. */
void kv_sub_destroy(struct kv_sub *s);

#endif
