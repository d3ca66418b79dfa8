/*
 * feat_api.c — the owner thread's half of media_feat.h: each request is built here
 * (the recorder allocated and handed to the writer thread, the detector created) and
 * queued to the session's worker, which applies it in order with the session's other
 * requests.
 */
#include "media_feat.h"

#include <errno.h>
#include <stdlib.h>

#include "amd.h"
#include "engine.h"
#include "feat.h"
#include "record.h"
#include "worker.h"

static bool side_ok(enum media_side s)
{
	return s == MEDIA_SIDE_A || s == MEDIA_SIDE_B;
}

static int post(struct media_session *ms, enum feat_cmd_kind kind, uint8_t side,
		struct feat_cmd **cp)
{
	struct feat_cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return ENOMEM;
	c->kind = kind;
	c->side = side;
	if (cp)
		*cp = c;
	else
		worker_post_feat(ms->w, ms, c);
	return 0;
}

int media_session_play(struct media_session *ms, enum media_side to, int16_t *pcm, size_t n,
		       bool mix)
{
	struct feat_cmd *c;
	int err;

	if (!ms || !side_ok(to) || !pcm || !n) {
		free(pcm);
		return EINVAL;
	}
	MEDIA_ASSERT_THREAD(ms->owner);
	err = post(ms, FEAT_CMD_PLAY, (uint8_t)to, &c);
	if (err) {
		free(pcm);
		return err;
	}
	c->pcm = pcm;
	c->n = n;
	c->mix = mix;
	worker_post_feat(ms->w, ms, c);
	return 0;
}

int media_session_fill(struct media_session *ms, enum media_side to, bool on)
{
	struct feat_cmd *c;
	int err;

	if (!ms || !side_ok(to))
		return EINVAL;
	MEDIA_ASSERT_THREAD(ms->owner);
	err = post(ms, FEAT_CMD_FILL, (uint8_t)to, &c);
	if (err)
		return err;
	c->mix = on;
	worker_post_feat(ms->w, ms, c);
	return 0;
}

int media_session_play_stop(struct media_session *ms, enum media_side to)
{
	if (!ms || !side_ok(to))
		return EINVAL;
	MEDIA_ASSERT_THREAD(ms->owner);
	return post(ms, FEAT_CMD_PLAY_STOP, (uint8_t)to, NULL);
}

int media_session_record(struct media_session *ms, const char *path)
{
	struct feat_cmd *c;
	struct recorder *r;
	int err;

	if (!ms || !path)
		return EINVAL;
	MEDIA_ASSERT_THREAD(ms->owner);
	err = post(ms, FEAT_CMD_RECORD, 0, &c);
	if (err)
		return err;
	err = rec_create(&r, path);
	if (err) {
		free(c);
		return err;
	}
	rec_writer_add(ms->me->writer, r);   /* it opens the file */
	c->rec = r;
	worker_post_feat(ms->w, ms, c);
	return 0;
}

int media_session_record_stop(struct media_session *ms)
{
	if (!ms)
		return EINVAL;
	MEDIA_ASSERT_THREAD(ms->owner);
	return post(ms, FEAT_CMD_RECORD_STOP, 0, NULL);
}

int media_session_amd(struct media_session *ms, enum media_side side,
		      const struct amd_params *p)
{
	struct amd_params ap;
	struct feat_amd *fa;
	struct feat_cmd *c;
	int err;

	if (!ms || !side_ok(side))
		return EINVAL;
	MEDIA_ASSERT_THREAD(ms->owner);
	if (p)
		ap = *p;
	else
		amd_params_init(&ap, AMD_STRATEGY_ADAPTIVE);
	ap.phrases = false;
	ap.trace = false;
	fa = calloc(1, sizeof(*fa));
	if (!fa)
		return ENOMEM;
	fa->side = (uint8_t)side;
	err = amd_create(&fa->amd, &ap, feat_amd_event, fa);
	if (!err)
		err = post(ms, FEAT_CMD_AMD, (uint8_t)side, &c);
	if (err) {
		amd_destroy(fa->amd);
		free(fa);
		return err;
	}
	c->amd = fa;
	worker_post_feat(ms->w, ms, c);
	return 0;
}
