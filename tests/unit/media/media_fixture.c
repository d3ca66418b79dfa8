/* media_fixture.c — the engine tests' shared fixture (see media_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "media_fixture.h"
#include "test_media.h"

#include <string.h>

void mfx_open(struct mfx *f, const struct media_engine_cfg *cfg, uint64_t cookie)
{
	memset(f, 0, sizeof(*f));
	evlog_init(&f->log);
	assert_int_equal(test_engine_create(&f->me, cfg, evlog_handler, &f->log), 0);
	f->cookie = cookie;
	assert_int_equal(media_session_create(f->me, cookie, &f->s), 0);
	f->pa = media_session_port(f->s, MEDIA_SIDE_A);
	f->pb = media_session_port(f->s, MEDIA_SIDE_B);
	peer_open(&f->a, NULL);
	peer_open(&f->b, NULL);
	side_params(&f->p.side[0], peer_port(&f->a), 0, MEDIA_DIR_SENDRECV);
	side_params(&f->p.side[1], peer_port(&f->b), 0, MEDIA_DIR_SENDRECV);
}

void mfx_update(struct mfx *f)
{
	assert_int_equal(media_session_update(f->s, &f->p), 0);
}

void mfx_sync(struct mfx *f, uint64_t cookie)
{
	struct media_session *s;

	assert_int_equal(media_session_create(f->me, cookie, &s), 0);
	media_session_destroy(s);
	assert_true(evlog_wait(&f->log, MEDIA_EV_CLOSED, cookie, MFX_WAIT_MS, NULL));
}

void mfx_close(struct mfx *f, struct media_event *closed)
{
	media_session_destroy(f->s);
	assert_true(evlog_wait(&f->log, MEDIA_EV_CLOSED, f->cookie, MFX_WAIT_MS, closed));
	mfx_free(f);
}

void mfx_free(struct mfx *f)
{
	media_engine_destroy(f->me);
	peer_close(&f->a);
	peer_close(&f->b);
	evlog_fini(&f->log);
}
