/*
 * b2bua_orig_ctl.c — the control plane's door to b2bua_orig.c: a call to place is
 * posted to the signalling thread, which routes, admits and starts it. Kept apart
 * from b2bua_orig.c so that the call layer's tests, which replace the SIP stack, do
 * not link the job queue.
 */
#include <errno.h>
#include <stdlib.h>

#include "b2bua_int.h"

static void orig_run(void *arg)
{
	struct b2b_req_job *j = arg;

	b2b_orig_start(j->b, j->req, j->h, j->arg);
	free(j);
}

int b2bua_originate(struct b2bua *b, struct b2bua_orig_req *req, b2bua_reply_h *h, void *arg)
{
	return b2b_post_req(b, orig_run, req, req ? req->pcm : NULL, h, arg);
}
