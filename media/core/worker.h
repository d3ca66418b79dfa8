/*
 * worker.h — a media worker thread: one poller, the sessions pinned to it, a control
 * path from the owner thread, the inactivity timers and batched socket I/O.
 *
 * Other threads reach a worker only through worker_post_*(): session creation,
 * updates and closing go through an intrusive list inside the session objects
 * themselves (an update's parameters are stored in the session, the newest replacing
 * one not yet applied), so none can fail and none is lost.
 */
#ifndef TRUNX_WORKER_H
#define TRUNX_WORKER_H

#include <stdint.h>

#include "media.h"

struct media_engine;
struct media_session;
struct worker;

/** Control requests a session may have pending (bits). */
#define WORKER_CTL_ADD    1u
#define WORKER_CTL_CLOSE  2u
#define WORKER_CTL_UPDATE 4u
#define WORKER_CTL_FEAT   8u   /**< feature requests queued on ctl_cmds */
#define WORKER_CTL_DIGITS 16u  /**< digits to send (media/dtmf) */

/**
 * Creates a worker (not yet running).
 * @return 0, ENOMEM, or the errno of the poller/eventfd
 */
int worker_create(struct worker **wp, struct media_engine *me, unsigned idx);

/** Starts its thread. Returns 0 or the pthread_create() error. */
int worker_start(struct worker *w);

/**
 * Stops and joins the thread (if started), then frees every session it still holds or
 * has pending, without events, and the worker itself.
 */
void worker_destroy(struct worker *w);

/** Hands a freshly created session to the worker. Any thread; never fails. */
void worker_post_add(struct worker *w, struct media_session *s);

/** Asks the worker to close a session and emit MEDIA_EV_CLOSED. Never fails. */
void worker_post_close(struct worker *w, struct media_session *s);

/**
 * Gives a session new parameters (copied; they replace any not yet applied). Any
 * thread; never fails.
 */
void worker_post_update(struct worker *w, struct media_session *s,
			const struct media_session_params *p);

struct feat_cmd;

/** Queues a prompt/record/AMD request (owned by the worker from here). Never fails. */
void worker_post_feat(struct worker *w, struct media_session *s, struct feat_cmd *c);
/**
 * Queues a digit to send toward side `to` (media_session_send_digit). Any thread.
 * @return 0 or ENOSPC when MEDIA_DTMF_QUEUE digits already wait
 */
int worker_post_digit(struct worker *w, struct media_session *s, unsigned to, char digit,
		      unsigned duration_ms);

/** Sessions living on this worker (any thread; a snapshot). */
uint64_t worker_sessions(const struct worker *w);

/** Packets relayed and dropped by this worker since start (any thread). */
void worker_packet_counters(const struct worker *w, uint64_t *relayed, uint64_t *dropped,
			    uint64_t *late);

#endif
