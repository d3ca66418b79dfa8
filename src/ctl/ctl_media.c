/*
 * ctl_media.c — the control socket's play, record, amd and dtmf commands: the
 * arguments checked, a prompt read and converted here on the control thread (it may
 * wait on the disk; the signalling and media threads never do), a recording's folder
 * checked for writing, and the request posted to the B2BUA. Digits go through
 * b2bua_send_digits(), the function the API's POST /v1/calls/{id}/dtmf uses.
 *
 *   play ID a|b FILE [--mix]   record ID FILE | record ID --stop   amd ID [a|b]
 *   dtmf ID a|b DIGITS [--duration MS]
 *   transfer ID a|b DEST [--refer|--bridge]   (b2bua_transfer: REFER toward the leg's
 *                                              far end; --bridge: leg a|b is kept and
 *                                              re-bridged to a new leg to DEST)
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

/* dtmf ID a|b DIGITS [--duration MS]: checked here, sent as the API sends them. */
static int send_digits(void *arg, const struct ctl_req *q, ctl_reply_h *h, void *harg,
		       char *err, size_t errlen)
{
	const char *digits = q->more[1];
	unsigned long ms = 0;
	size_t n = strlen(digits);
	int leg;

	if (leg_of(q->more[0], &leg))
		return say(err, errlen, "leg %s: must be a or b", q->more[0]);
	if (n == 0 || n > B2BUA_DIGITS_MAX || strspn(digits, "0123456789*#ABCD") != n) {
		snprintf(err, errlen, "digits %.40s: 1 to %d of 0-9 * # A-D", digits,
			 B2BUA_DIGITS_MAX);
		return EINVAL;
	}
	if (q->n_more == 3 || (q->n_more == 4 && strcmp(q->more[2], "--duration") != 0))
		return say(err, errlen, "%s", "usage: dtmf ID a|b DIGITS [--duration MS]");
	if (q->n_more == 4) {
		char *end;

		errno = 0;
		ms = strtoul(q->more[3], &end, 10);
		if (errno || *end || end == q->more[3] || q->more[3][0] == '-' || ms < 20 ||
		    ms > 10000)
			return say(err, errlen, "duration %.20s: 20 to 10000 ms", q->more[3]);
	}
	return b2bua_send_digits(ctl_daemon_b2bua(arg), q->arg, leg ? 'b' : 'a', digits,
				 (unsigned)ms, h, harg);
}

static int transfer(void *arg, const struct ctl_req *q, ctl_reply_h *h, void *harg,
		    char *err, size_t errlen)
{
	struct b2bua_xfer_req r = {0};
	size_t n = strlen(q->more[1]);

	snprintf(r.call_id, sizeof(r.call_id), "%s", q->arg);
	if (leg_of(q->more[0], &r.leg))
		return say(err, errlen, "leg %s: must be a or b", q->more[0]);
	if (n >= sizeof(r.to))
		return say(err, errlen, "%s", "destination too long");
	memcpy(r.to, q->more[1], n + 1);
	r.mode = B2BUA_XFER_REFER;
	if (q->n_more == 3) {
		if (strcmp(q->more[2], "--bridge") == 0)
			r.mode = B2BUA_XFER_BRIDGE;   /* the leg given is the one kept */
		else if (strcmp(q->more[2], "--refer") != 0)
			return say(err, errlen, "unknown option %s (usage: transfer ID a|b DEST "
				   "[--refer|--bridge])", q->more[2]);
	}
	return b2bua_transfer(ctl_daemon_b2bua(arg), &r, h, harg);
}

int ctl_daemon_media(void *arg, const struct ctl_req *q, ctl_reply_h *h, void *harg,
		     char *err, size_t errlen)
{
	struct b2bua_media_req *r;
	int rc;

	if (q->cmd == CTL_CMD_DTMF)
		return send_digits(arg, q, h, harg, err, errlen);
	if (q->cmd == CTL_CMD_TRANSFER)
		return transfer(arg, q, h, harg, err, errlen);
	r = calloc(1, sizeof(*r));
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
