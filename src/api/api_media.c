/*
 * api_media.c — live media control of a call through the API: DTMF digits sent on a
 * leg, a prompt played, a recording started or stopped, answering-machine detection.
 *
 * The call was first found visible to the caller (api_calls.c: another tenant's call
 * answers 404 before its body is looked at); here the body is checked against the
 * operation's fields (422 naming the field), a prompt read and converted on the
 * control thread (media_prompt_load, as trunxctl play does: the signalling and media
 * threads never wait on disk), and the request posted to the B2BUA, whose answer
 * comes back to the control thread through the API's inbox. transfer sends a REFER
 * toward the leg's far end, or (mode bridge) re-bridges the kept leg to a new one
 * (b2bua_transfer).
 */
#include "api/api_int.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b2bua/b2bua.h"
#include "log.h"
#include "media_feat.h"

static const char *const legs[] = {"a", "b", NULL};

static const struct api_field dtmf_fields[] = {
	{"digits", AF_STRING, "", "", AF_REQ, AC_NONE, 1, B2BUA_DIGITS_MAX, NULL,
	 "1 to 32 of 0-9 * # A-D, sent in order"},
	{"leg", AF_STRING, "", "", 0, AC_ENUM, 0, 0, legs,
	 "a (the caller) or b (the called party, the default)"},
	{"duration_ms", AF_INT, "", "", 0, AC_NONE, 20, 10000, NULL,
	 "per digit (default 100)"},
};

static const struct api_field play_fields[] = {
	{"file", AF_STRING, "", "", AF_REQ, AC_NONE, 1, 200, NULL,
	 "a WAV file (PCM 16-bit, A-law or mu-law; converted to 8 kHz mono) named relative "
	 "to the server's media folder (a tenant's own subfolder of [api] media_dir)"},
	{"leg", AF_STRING, "", "", 0, AC_ENUM, 0, 0, legs,
	 "the leg that hears it: a (the caller) or b (the called party, the default)"},
	{"mix", AF_BOOL, "", "", 0, AC_NONE, 0, 0, NULL,
	 "mixed with the bridged audio (default: replaces it while playing)"},
};

static const struct api_field record_fields[] = {
	{"path", AF_STRING, "", "", 0, AC_NONE, 1, 200, NULL,
	 "the WAV file to write, named relative to the server's media folder (a tenant's "
	 "own subfolder of [api] media_dir; a subfolder named must exist); required unless "
	 "stop"},
	{"stop", AF_BOOL, "", "", 0, AC_NONE, 0, 0, NULL, "true: stop the running recording"},
};

static const struct api_field amd_fields[] = {
	{"leg", AF_STRING, "", "", 0, AC_ENUM, 0, 0, legs,
	 "the leg to listen to: a or b (the called party, the default)"},
};

static const char *const xfer_modes[] = {"refer", "bridge", NULL};

static const struct api_field transfer_fields[] = {
	{"to", AF_STRING, "", "", AF_REQ, AC_DEST, 1, 240, NULL,
	 "the destination: an E.164 number or a sip:/sips: URI (no ?headers). refer: a "
	 "number is referred to at the leg's trunk host. bridge: routed as POST /v1/calls "
	 "routes its destination (a number by the tenant's outbound routes, with failover "
	 "across their trunks; a URI only to one of the tenant's peers; without a "
	 "database, a number by the [route] table): 403 not_a_peer/callerid_not_owned, "
	 "422 when it has no route, or when no destination's trunk allows a codec or the "
	 "SRTP the kept leg can be bridged to (no_usable_media)"},
	{"leg", AF_STRING, "", "", 0, AC_ENUM, 0, 0, legs,
	 "the leg whose far end ends up with the destination: a (the caller) or b (the "
	 "called party). refer: the far end that is sent the REFER (default b); the other "
	 "leg is hung up once the transfer succeeds. bridge: the leg kept (default a, the "
	 "caller; a call placed by POST /v1/calls without bridge_to has only leg b: keep "
	 "b, 409 otherwise); the other leg is replaced by the new one and gets BYE (cause "
	 "transferred) once it answers"},
	{"mode", AF_STRING, "", "", 0, AC_ENUM, 0, 0, xfer_modes,
	 "refer (the default: blind REFER toward the leg's far end, RFC 3515) or bridge "
	 "(trunx calls the destination on a new leg with a channel lease of its own; the "
	 "kept leg stays bridged to the old party until the new one answers, then hears "
	 "the new party with its RTP stream unbroken - same SSRC, sequence and timestamps, "
	 "same codec and keys: when the new party answers another codec trunx transcodes, "
	 "no re-INVITE toward the kept leg; the new leg negotiates SRTP as its own trunk "
	 "wants; a busy, unreachable or unanswered destination leaves the call as it "
	 "was. The call keeps its id and its one record: the record's legs and trunks are "
	 "those at its end, its cause how it finally ended)"},
};

#define OP(name, schema, summary, f) \
	{name, schema, summary, f, sizeof(f) / sizeof(f[0])}

const struct api_media_op api_media_ops[] = {
	OP("dtmf", "CallDtmf", "Send DTMF digits on a leg (RFC 4733, tones or SIP INFO, as "
	   "the leg's trunk says); 202 once queued, each digit logged as call.dtmf",
	   dtmf_fields),
	OP("play", "CallPlay", "Play a WAV prompt to a leg; 202 once it starts (call.play "
	   "at its end); 422 with the reason for an unreadable or invalid file",
	   play_fields),
	OP("record", "CallRecord", "Start recording the call to a WAV file (202; 409 if one "
	   "runs already), or stop it ({\"stop\": true}, 200; 409 if none runs)",
	   record_fields),
	OP("amd", "CallAmd", "Start answering-machine detection on a leg (202; call.amd "
	   "and call.beep follow as events)", amd_fields),
	OP("transfer", "CallTransfer", "Transfer the call: a REFER toward the leg's far end "
	   "(202 once sent; call.transfer events follow: accepted, progress, then completed "
	   "- the call ends with cause transferred - or failed - the call goes on), or mode "
	   "bridge: the kept leg re-bridged to a new leg trunx places (202 once its INVITE "
	   "is out; call.transfer requested, progress, then completed - the call goes on "
	   "with the new party - or failed - the call goes on unchanged); 409 if the call "
	   "is not answered or a transfer runs; 429 when the new leg's pool or a cap is "
	   "full", transfer_fields),
};
const size_t api_n_media_ops = sizeof(api_media_ops) / sizeof(api_media_ops[0]);

const struct api_media_op *api_media_op_of(const char *path)
{
	const char *name = strrchr(path, '/');

	name = name ? name + 1 : path;
	for (size_t i = 0; i < api_n_media_ops; i++)
		if (strcmp(api_media_ops[i].name, name) == 0)
			return &api_media_ops[i];
	return NULL;
}

struct media_job {
	struct api_req *r;
	bool            stop;     /* record stop: 200, and ENOENT means none runs */
	bool            xfer;     /* transfer: its own 403/409/422/429/501 */
	int             status;
	char           *json;
};

static void bad(struct api_req *r, const char *field, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void bad(struct api_req *r, const char *field, const char *code, const char *fmt, ...)
{
	struct api_err e = {0};
	va_list ap;

	e.status = 422;
	snprintf(e.code, sizeof(e.code), "%s", code);
	snprintf(e.field, sizeof(e.field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	api_reply_err(r, &e);
}

static void answer(void *arg)
{
	struct media_job *j = arg;
	struct api_req *r = j->r;
	json_t *o = j->json ? json_loads(j->json, 0, NULL) : NULL;
	const char *m = json_string_value(json_object_get(o, "message"));
	const char *ec = json_string_value(json_object_get(o, "error"));
	char msgbuf[256], code[48] = "";
	const char *msg = m ? msgbuf : NULL;
	int status = j->status;
	bool stop = j->stop, xfer = j->xfer;
	bool none = m && strstr(m, "no recording");

	if (m)
		snprintf(msgbuf, sizeof(msgbuf), "%s", m);
	if (ec)
		snprintf(code, sizeof(code), "%s", ec);

	free(j->json);
	free(j);
	if (status == 0 && o) {
		api_reply(r, stop ? 200 : 202, o);
		return;
	}
	json_decref(o);
	if (status == ENOENT && stop && none)
		api_fail(r, 409, "not_recording", "no recording is running on this call");
	else if (status == ENOTCONN && xfer && msg)
		api_fail(r, 409, "not_answered", "%s", msg);   /* why this call cannot */
	else if (status == ENOENT || status == ENOTCONN)
		api_fail(r, 409, "not_answered", "the call is not answered (or has just ended)");
	else if (status == EBUSY && xfer)
		api_fail(r, 409, "transfer_in_progress", "%s", msg ? msg : "a transfer runs");
	else if (status == EBUSY)
		api_fail(r, 409, "recording_running", "a recording is already running on this "
			 "call: stop it first ({\"stop\": true})");
	else if (status == EINVAL && xfer)
		bad(r, "to", code[0] ? code : "invalid_value", "%s",
		    msg ? msg : "to: cannot be referred to");
	else if (status == EPERM && xfer)
		api_fail(r, 403, code[0] ? code : "forbidden", "%s", msg ? msg : "refused");
	else if (status == EDQUOT && xfer) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
		api_fail(r, 429, code[0] ? code : "pool_full", "%s", msg ? msg : "no channel free");
	}
	else if (status == ENOTSUP && xfer)
		api_fail(r, 501, "not_implemented", "%s", msg ? msg : "not available");
	else if (status == 0)
		api_fail(r, 503, "unavailable", "out of memory");
	else
		api_fail(r, 503, "unavailable", "the call layer failed: %s", strerror(status));
}

/* The B2BUA's answer, on the signalling thread: hand it to the control thread. */
static void on_b2bua(int status, char *json, void *arg)
{
	struct media_job *j = arg;

	j->status = status;
	j->json = json;
	if (api_post(j->r->api, answer, j) != 0) {
		/* Out of memory: the request stays unanswered until its connection times out. */
		free(json);
		free(j);
	}
}

static const char *str(const struct api_req *r, const char *name)
{
	return json_string_value(json_object_get(r->body, name));
}

static int leg_of(const struct api_req *r)
{
	const char *l = str(r, "leg");

	return l && strcmp(l, "a") == 0 ? 0 : 1;
}

/*
 * A file a caller names, made a path under [api] media_dir: a tenant's key reaches
 * media_dir/TENANT/ only, an operator's media_dir/. The name is parts of
 * [A-Za-z0-9_.-], none starting with '.', joined by single '/': nothing absolute, no
 * "." or "..", so no name leaves the folder. False once answered (403 or 422).
 */
bool api_media_file(struct api_req *r, const char *field, const char *name, char *out,
		    size_t len)
{
	const char *dir = api_conf(r->api)->media_dir;
	const char *tenant = r->who.operator_ ? "" : r->who.tenant;
	bool part_start = true;
	int n;

	if (!dir[0]) {
		api_fail(r, 403, "media_files_disabled", "%s: files are not reachable through "
			 "the API on this server ([api] media_dir is not set)", field);
		return false;
	}
	for (const char *p = name; *p; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';

		if (ch == '/' ? part_start : !ok || (part_start && ch == '.'))
			goto bad_name;
		part_start = ch == '/';
	}
	if (part_start)
		goto bad_name;
	n = snprintf(out, len, "%s/%s%s%s", dir, tenant, tenant[0] ? "/" : "", name);
	if (n < 0 || (size_t)n >= len)
		goto bad_name;
	return true;
bad_name:
	bad(r, field, "invalid_value", "%s: a name relative to the media folder: parts of "
	    "A-Z a-z 0-9 _ . - (none starting with '.') joined by '/'", field);
	return false;
}

static int dtmf(struct api_req *r, struct media_job *j)
{
	const char *d = str(r, "digits");
	json_t *dur = json_object_get(r->body, "duration_ms");

	if (!d) {
		bad(r, "digits", "missing_field", "digits is required");
		return -1;
	}
	for (const char *p = d; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || *p == '*' || *p == '#' ||
		      (*p >= 'A' && *p <= 'D'))) {
			bad(r, "digits", "invalid_value", "digits: 1 to %d of 0-9 * # A-D (not "
			    "'%c')", B2BUA_DIGITS_MAX, *p >= 0x20 && *p < 0x7f ? *p : '?');
			return -1;
		}
	}
	return b2bua_send_digits(api_b2bua(r->api), r->params[0], leg_of(r) ? 'b' : 'a', d,
				 dur ? (unsigned)json_integer_value(dur) : 0, on_b2bua, j);
}

static int transfer(struct api_req *r, struct media_job *j)
{
	struct b2bua_xfer_req q = {0};
	const char *to = str(r, "to"), *mode = str(r, "mode");

	if (!to) {
		bad(r, "to", "missing_field", "to is required");
		return -1;
	}
	j->xfer = true;
	snprintf(q.call_id, sizeof(q.call_id), "%s", r->params[0]);
	snprintf(q.to, sizeof(q.to), "%s", to);
	q.leg = leg_of(r);
	q.mode = B2BUA_XFER_REFER;
	if (mode && strcmp(mode, "bridge") == 0) {
		const char *l = str(r, "leg");

		q.mode = B2BUA_XFER_BRIDGE;
		q.leg = l && strcmp(l, "b") == 0 ? 1 : 0;   /* the kept leg: a by default */
	}
	return b2bua_transfer(api_b2bua(r->api), &q, on_b2bua, j);
}

static int media(struct api_req *r, const struct api_media_op *op, struct media_job *j)
{
	struct b2bua_media_req *q = calloc(1, sizeof(*q));
	const char *path;
	char err[256], full[sizeof(q->path)];

	if (!q)
		return ENOMEM;
	snprintf(q->call_id, sizeof(q->call_id), "%s", r->params[0]);
	q->leg = leg_of(r);
	if (strcmp(op->name, "play") == 0) {
		path = str(r, "file");
		q->op = B2BUA_MEDIA_PLAY;
		q->mix = json_is_true(json_object_get(r->body, "mix"));
		if (!path) {
			bad(r, "file", "missing_field", "file is required");
			goto refused;
		}
		if (!api_media_file(r, "file", path, full, sizeof(full)))
			goto refused;
		if (media_prompt_load(full, &q->pcm, &q->n, err, sizeof(err))) {
			/* The loader's reason, with the caller's name for the file. */
			size_t fl = strlen(full);
			const char *why = strncmp(err, full, fl) == 0 ? err + fl : err;

			bad(r, "file", "invalid_prompt", "file %s%s%s", path,
			    why == err ? ": " : "", why);
			goto refused;
		}
	} else if (strcmp(op->name, "record") == 0) {
		path = str(r, "path");
		j->stop = json_is_true(json_object_get(r->body, "stop"));
		if (j->stop && path) {
			bad(r, "path", "invalid_value", "give path to start, or stop: true, not both");
			goto refused;
		}
		if (j->stop) {
			q->op = B2BUA_MEDIA_RECORD_STOP;
		} else {
			char dir[sizeof(q->path)];

			if (!path) {
				bad(r, "path", "missing_field", "path is required (or stop: true)");
				goto refused;
			}
			if (!api_media_file(r, "path", path, q->path, sizeof(q->path)))
				goto refused;
			q->op = B2BUA_MEDIA_RECORD;
			if (!r->who.operator_) {   /* the tenant's folder, on its first use */
				snprintf(dir, sizeof(dir), "%s/%s", api_conf(r->api)->media_dir,
					 r->who.tenant);
				if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
					bad(r, "path", "invalid_value", "path: the tenant's media "
					    "folder cannot be made: %s", strerror(errno));
					goto refused;
				}
			}
			snprintf(dir, sizeof(dir), "%s", q->path);
			if (access(dirname(dir), W_OK) != 0) {
				int e = errno;

				snprintf(dir, sizeof(dir), "%s", path);
				bad(r, "path", "invalid_value", "path: the folder of %s: %s", path,
				    strerror(e));
				goto refused;
			}
		}
	} else {
		q->op = B2BUA_MEDIA_AMD;
	}
	return b2bua_media(api_b2bua(r->api), q, on_b2bua, j);
refused:
	free(q->pcm);
	free(q);
	return -1;
}

void api_media_start(struct api_req *r)
{
	const struct api_media_op *op = api_media_op_of(r->path);
	struct media_job *j;
	int err;

	if (!op) {
		api_fail(r, 404, "not_found", "no such operation");
		return;
	}
	if (!api_b2bua(r->api)) {
		api_fail(r, 503, "unavailable", "the call layer is not running");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		api_fail(r, 503, "unavailable", "out of memory");
		return;
	}
	j->r = r;
	log_set_request_id(r->id);   /* the signalling thread's lines carry it */
	err = strcmp(op->name, "dtmf") == 0 ? dtmf(r, j) :
	      strcmp(op->name, "transfer") == 0 ? transfer(r, j) : media(r, op, j);
	log_set_request_id(NULL);
	if (err == 0)
		return;
	free(j);
	if (err == -1)
		return;   /* answered already (422) */
	if (err == EINVAL)
		bad(r, "", "invalid_value", "the call layer refused the request");
	else
		api_fail(r, 503, "unavailable", "the call layer is busy: retry");
}
