/*
 * engine.h — private view of the media engine shared by engine.c and worker.c.
 *
 * Ownership: struct media_engine is created and destroyed by the thread that calls
 * media_engine_create(); its configuration is frozen after creation and read by every
 * worker. The counters are atomics; the port pool locks itself.
 */
#ifndef TRUNX_ENGINE_H
#define TRUNX_ENGINE_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "media.h"
#include "portpool.h"
#include "sa.h"
#include "session.h"

struct worker;
struct rec_writer;
struct kfwd;

struct media_engine {
	struct media_engine_cfg cfg;        /**< frozen copy (relatch_ms defaulted) */
	struct session_cfg      scfg;       /**< what the relay needs of it */
	media_event_h          *eh;         /**< runs on worker threads */
	void                   *arg;
	union media_sa          bind;       /**< address the sockets bind to (port 0) */
	struct portpool        *pool;
	unsigned                nworkers;
	struct worker         **workers;
	atomic_uint             rr;         /**< round-robin cursor for ties */
	atomic_uint_fast64_t    sessions_active;
	atomic_uint_fast64_t    sessions_total;
	struct rec_writer      *writer;     /**< recordings' writer thread (record.h) */
	struct kfwd            *kf;         /**< in-kernel forwarding, NULL = userspace only */
	atomic_uint_fast64_t    kf_packets; /**< RTP forwarded in the kernel (as folded in) */
	atomic_uint_fast64_t    kf_flows;   /**< entries in its table now */
};

/*
 * Thread ownership checks, compiled in debug builds only: the caller must be the
 * thread that owns the object (a worker for its sessions' state, the creating thread
 * for a session handle).
 */
#ifdef NDEBUG
#define MEDIA_ASSERT_THREAD(tid) ((void)0)
#else
#define MEDIA_ASSERT_THREAD(tid) assert(pthread_equal(pthread_self(), (tid)))
#endif

#endif
