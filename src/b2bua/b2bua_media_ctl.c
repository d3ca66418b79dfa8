/*
 * b2bua_media_ctl.c — the control plane's prompt, recording and AMD requests
 * (b2bua_media): posted to the signalling thread, which finds the answered call and
 * starts what was asked (b2bua_media.c). Kept apart from b2bua_media.c so that the
 * call layer's tests, which replace the SIP stack, do not link the job queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua_int.h"
#include "media_feat.h"

static struct call *find_answered(struct b2bua *b, const char *id)
{
	for (struct call *c = b->calls; c; c = c->next) {
		if (strcmp(c->id, id) == 0)
			return c->state == CALL_ANSWERED && c->ms && !c->ms_closing ? c : NULL;
	}
	return NULL;
}

static void media_run(void *arg)
{
	struct b2b_req_job *j = arg;
	struct b2bua_media_req *r = j->req;
	struct call *c = find_answered(j->b, r->call_id);
	const char *result = NULL;
	json_t *o;
	char *s;
	int err = ENOENT;

	if (c) {
		switch (r->op) {
		case B2BUA_MEDIA_PLAY:
			err = media_session_play(c->ms, r->leg ? MEDIA_SIDE_B : MEDIA_SIDE_A,
						 r->pcm, r->n, r->mix);
			r->pcm = NULL;   /* taken in every case */
			result = "playing";
			break;
		case B2BUA_MEDIA_RECORD:
			err = b2b_media_record(c, r->path);
			result = "recording";
			break;
		case B2BUA_MEDIA_RECORD_STOP:
			err = c->rec_path[0] ? media_session_record_stop(c->ms) : ENOENT;
			result = "stopped";
			break;
		case B2BUA_MEDIA_AMD:
			err = b2b_media_amd(c, r->leg);
			result = "detecting";
			break;
		default:
			err = EINVAL;
			break;
		}
	}
	if (err == ENOENT)
		o = json_pack("{s:s,s:s}", "id", r->call_id, "message",
			      c ? "no recording running" : "no answered call with that id");
	else if (err == EBUSY)
		o = json_pack("{s:s,s:s}", "id", r->call_id, "message",
			      "a recording is already running (record ID --stop first)");
	else if (err)
		o = json_pack("{s:s,s:s}", "id", r->call_id, "message", strerror(err));
	else
		o = json_pack("{s:s,s:s}", "id", r->call_id, "result", result);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	j->h(err, s, j->arg);
	free(r->pcm);
	free(r);
	free(j);
}

int b2b_post_req(struct b2bua *b, void (*run)(void *), void *req, void *pcm,
		 b2bua_reply_h *h, void *arg)
{
	struct b2b_req_job *j;
	int err;

	if (!b || !req || !h) {
		free(pcm);
		free(req);
		return EINVAL;
	}
	j = malloc(sizeof(*j));
	if (!j) {
		free(pcm);
		free(req);
		return ENOMEM;
	}
	j->b = b;
	j->req = req;
	j->h = h;
	j->arg = arg;
	err = sipua_post(b->ua, run, j);
	if (err) {
		free(pcm);
		free(req);
		free(j);
		return err == ESHUTDOWN ? ESHUTDOWN : EAGAIN;
	}
	return 0;
}

int b2bua_media(struct b2bua *b, struct b2bua_media_req *req, b2bua_reply_h *h, void *arg)
{
	return b2b_post_req(b, media_run, req, req ? req->pcm : NULL, h, arg);
}
