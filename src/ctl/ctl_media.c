/*
 * ctl_media.c — the control socket's play, record and amd commands: the arguments
 * checked, a prompt read and converted here on the control thread (it may wait on
 * the disk; the signalling and media threads never do), a recording's folder checked
 * for writing, and the request posted to the B2BUA.
 *
 *   play ID a|b FILE [--mix]   record ID FILE | record ID --stop   amd ID [a|b]
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl_daemon.h"
#include "ctl/ctl_proto.h"
#include "media_feat.h"

static int say(char *err, size_t errlen, const char *msg, const char *a)
{
	snprintf(err, errlen, msg, a);
	return EINVAL;
}

static int leg_of(const char *s, int *leg)
{
	if (strcmp(s, "a") == 0 || strcmp(s, "A") == 0)
		*leg = 0;
	else if (strcmp(s, "b") == 0 || strcmp(s, "B") == 0)
		*leg = 1;
	else
		return EINVAL;
	return 0;
}

/* The folder of path must exist and be writable (the writer thread creates the file). */
static int check_writable(const char *path, char *err, size_t errlen)
{
	char copy[CTL_MORE_LEN];
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (access(dir, W_OK) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return EINVAL;
	}
	return 0;
}

static int fill(const struct ctl_req *q, struct b2bua_media_req *r, char *err, size_t errlen)
{
	snprintf(r->call_id, sizeof(r->call_id), "%s", q->arg);
	switch (q->cmd) {
	case CTL_CMD_PLAY:
		r->op = B2BUA_MEDIA_PLAY;
		if (leg_of(q->more[0], &r->leg))
			return say(err, errlen, "leg %s: must be a or b", q->more[0]);
		if (q->n_more == 3) {
			if (strcmp(q->more[2], "--mix") != 0)
				return say(err, errlen, "unknown option %s (usage: play ID a|b FILE "
					   "[--mix])", q->more[2]);
			r->mix = true;
		}
		if (media_prompt_load(q->more[1], &r->pcm, &r->n, err, errlen))
			return EINVAL;
		return 0;
	case CTL_CMD_RECORD:
		if (strcmp(q->more[0], "--stop") == 0) {
			r->op = B2BUA_MEDIA_RECORD_STOP;
			return 0;
		}
		r->op = B2BUA_MEDIA_RECORD;
		if (strlen(q->more[0]) >= sizeof(r->path))
			return say(err, errlen, "%s", "file name too long");
		snprintf(r->path, sizeof(r->path), "%s", q->more[0]);
		return check_writable(r->path, err, errlen);
	case CTL_CMD_AMD:
		r->op = B2BUA_MEDIA_AMD;
		r->leg = 1;
		if (q->n_more && leg_of(q->more[0], &r->leg))
			return say(err, errlen, "leg %s: must be a or b", q->more[0]);
		return 0;
	default:
		return EINVAL;
	}
}

int ctl_daemon_media(void *arg, const struct ctl_req *q, ctl_reply_h *h, void *harg,
		     char *err, size_t errlen)
{
	struct b2bua_media_req *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return ENOMEM;
	rc = fill(q, r, err, errlen);
	if (rc) {
		free(r->pcm);
		free(r);
		return rc;
	}
	return b2bua_media(ctl_daemon_b2bua(arg), r, h, harg);
}
