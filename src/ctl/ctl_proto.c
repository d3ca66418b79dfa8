/*
 * ctl_proto.c — request line parsing and reply line building for the control socket
 * (see ctl_proto.h). Owns nothing; every result is returned to the caller.
 */
#include "ctl/ctl_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char  *name;
	enum ctl_cmd cmd;
	int          min_args, max_args;
	const char  *usage;
} cmds[] = {
	{"status",   CTL_CMD_STATUS,   0, 0, "status"},
	{"calls",    CTL_CMD_CALLS,    0, 0, "calls"},
	{"hangup",   CTL_CMD_HANGUP,   1, 1, "hangup ID"},
	{"reload",   CTL_CMD_RELOAD,   0, 0, "reload"},
	{"loglevel", CTL_CMD_LOGLEVEL, 0, 1, "loglevel [debug|info|warn|error|off]"},
	{"trunks",   CTL_CMD_TRUNKS,   0, 0, "trunks"},
	{"budgets",  CTL_CMD_BUDGETS,  0, 0, "budgets"},
	{"play",     CTL_CMD_PLAY,     3, 4, "play ID a|b FILE [--mix]"},
	{"record",   CTL_CMD_RECORD,   2, 2, "record ID FILE|--stop"},
	{"amd",      CTL_CMD_AMD,      1, 2, "amd ID [a|b]"},
	{"dtmf",     CTL_CMD_DTMF,     3, 5, "dtmf ID a|b DIGITS [--duration MS]"},
	{"transfer", CTL_CMD_TRANSFER, 3, 4, "transfer ID a|b DEST [--refer|--bridge]"},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))
#define MAX_WORDS 7   /* one more than any command takes, to report extras */

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
	for (size_t i = 0; i < N_CMDS; i++) {
		if (cmds[i].cmd == cmd)
			return cmds[i].name;
	}
	return "";
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *a)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a);
}

int ctl_req_parse(const char *line, size_t len, struct ctl_req *req, char *err,
		  size_t errlen)
{
	const char *word[MAX_WORDS];
	size_t wlen[MAX_WORDS];
	size_t nwords = 0, i = 0;

	if (!req || (!line && len))
		return EINVAL;
	memset(req, 0, sizeof(*req));
	if (len && line[len - 1] == '\r')
		len--;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];
		if (c != '\t' && (c < 0x20 || c > 0x7e)) {
			set_err(err, errlen, "%s", "request contains control or non-ASCII bytes");
			return EINVAL;
		}
	}
	while (i < len) {
		size_t start;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (nwords == MAX_WORDS) {
			set_err(err, errlen, "%s", "too many arguments");
			return EINVAL;
		}
		word[nwords] = line + start;
		wlen[nwords] = i - start;
		nwords++;
	}
	if (nwords == 0) {
		set_err(err, errlen, "%s", "empty request");
		return EINVAL;
	}
	for (size_t c = 0; c < N_CMDS; c++) {
		int nargs = (int)nwords - 1;

		if (strlen(cmds[c].name) != wlen[0] ||
		    strncasecmp(cmds[c].name, word[0], wlen[0]) != 0)
			continue;
		if (nargs < cmds[c].min_args || nargs > cmds[c].max_args) {
			set_err(err, errlen, "usage: %s", cmds[c].usage);
			return EINVAL;
		}
		if (nargs >= 1) {
			if (wlen[1] >= sizeof(req->arg)) {
				set_err(err, errlen, "%s", "argument too long");
				return EINVAL;
			}
			memcpy(req->arg, word[1], wlen[1]);
			req->arg[wlen[1]] = '\0';
			req->has_arg = true;
		}
		for (size_t k = 2; k < nwords; k++) {
			if (wlen[k] >= sizeof(req->more[0])) {
				set_err(err, errlen, "%s", "argument too long");
				return EINVAL;
			}
			memcpy(req->more[k - 2], word[k], wlen[k]);
			req->more[k - 2][wlen[k]] = '\0';
			req->n_more = (unsigned)(k - 1);
		}
		req->cmd = cmds[c].cmd;
		return 0;
	}
	set_err(err, errlen, "%s",
		"unknown command; commands: status, calls, hangup ID, reload, loglevel LEVEL, "
		"trunks, budgets, play, record, amd, dtmf");
	return ENOENT;
}

static char *dump_line(json_t *obj, size_t *lenp)
{
	char *s, *line;
	size_t n;

	if (!obj)
		return NULL;
	/* Compact output never contains a raw newline: strings are escaped. */
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (lenp)
		*lenp = n + 1;
	return line;
}

char *ctl_reply_ok(enum ctl_cmd cmd, json_t *result, size_t *lenp)
{
	json_t *obj = json_object();

	if (!obj) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(obj, "ok", json_true());
	json_object_set_new(obj, "command", json_string(ctl_cmd_name(cmd)));
	json_object_set_new(obj, "result", result ? result : json_null());
	return dump_line(obj, lenp);
}

char *ctl_reply_err(enum ctl_cmd cmd, const char *code, const char *message,
		    size_t *lenp)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	json_object_set_new(obj, "ok", json_false());
	json_object_set_new(obj, "command", json_string(ctl_cmd_name(cmd)));
	json_object_set_new(obj, "error", json_string(code ? code : "error"));
	/* The message may quote client bytes; jansson refuses invalid UTF-8, so fall
	 * back to a generic text rather than lose the reply. */
	if (json_object_set_new(obj, "message", json_string(message ? message : "")) != 0)
		json_object_set_new(obj, "message", json_string("(unprintable)"));
	return dump_line(obj, lenp);
}
