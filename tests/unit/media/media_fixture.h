/*
 * media_fixture.h — the set-up most engine tests share: an engine (on the I/O path
 * under test), one session, its two remote parties A and B (peers on 127.0.0.1), the
 * session's local RTP ports, an event log, and the session's parameters with both
 * sides sendrecv toward the parties (filled in, not yet applied); and the teardown
 * that closes all of it.
 */
#ifndef MEDIA_FIXTURE_H
#define MEDIA_FIXTURE_H

#include <stdint.h>

#include "media.h"
#include "media_peer.h"

#define MFX_WAIT_MS 3000   /* generous: the machine is shared */

struct mfx {
	struct media_engine        *me;
	struct media_session       *s;
	uint64_t                    cookie;   /**< the session's */
	struct evlog                log;
	struct peer                 a, b;     /**< the two remote parties (RTP) */
	uint16_t                    pa, pb;   /**< the session's local RTP ports */
	struct media_session_params p;
};

/** Opens f: the engine over cfg (from test_engine_cfg(), adjusted by the caller), its
 *  session `cookie`, the parties and f->p. Asserts on failure. */
void mfx_open(struct mfx *f, const struct media_engine_cfg *cfg, uint64_t cookie);

/** Applies f->p to the session. */
void mfx_update(struct mfx *f);

/** Waits until f's engine (one worker) has applied everything posted to it before this
 *  call (updates, closes): a throw-away session `cookie` is created and destroyed, and
 *  its CLOSED event (emitted after the updates of the same control round) awaited.
 *  Asserts on timeout. */
void mfx_sync(struct mfx *f, uint64_t cookie);

/** Destroys the session, waits for its CLOSED event (copied to closed, may be NULL),
 *  then mfx_free(). */
void mfx_close(struct mfx *f, struct media_event *closed);

/** Destroys the engine (with the session, if still open) and closes the parties. */
void mfx_free(struct mfx *f);

#endif
