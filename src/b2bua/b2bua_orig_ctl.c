/*
 * b2bua_orig_ctl.c — the control plane's door to b2bua_orig.c: a call to place is
 * posted to the signalling thread, which routes, admits and starts it. Kept apart
 * from b2bua_orig.c so that the call layer's tests, which replace the SIP stack, do
 * not link the job queue.
 */
#include <errno.h>
#include <stdlib.h>

#include "b2bua_int.h"

struct orig_job {
	struct b2bua          *b;
	struct b2bua_orig_req *req;
	b2bua_reply_h         *h;
	void                  *arg;
};

static void orig_run(void *arg)
{
	struct orig_job *j = arg;

	b2b_orig_start(j->b, j->req, j->h, j->arg);
	free(j);
}

int b2bua_originate(struct b2bua *b, struct b2bua_orig_req *req, b2bua_reply_h *h, void *arg)
{
	struct orig_job *j;
	int err;

	if (!b || !req || !h) {
		if (req)
			free(req->pcm);
		free(req);
		return EINVAL;
	}
	j = malloc(sizeof(*j));
	if (!j) {
		free(req->pcm);
		free(req);
		return ENOMEM;
	}
	j->b = b;
	j->req = req;
	j->h = h;
	j->arg = arg;
	err = sipua_post(b->ua, orig_run, j);
	if (err) {
		free(req->pcm);
		free(req);
		free(j);
		return err == ESHUTDOWN ? ESHUTDOWN : EAGAIN;
	}
	return 0;
}
