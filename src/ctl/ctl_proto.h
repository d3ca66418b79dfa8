/*
 * ctl_proto.h — the control protocol's request line parser and reply builders.
 * Pure functions (no I/O, no threads), shared by the control thread and the fuzzer.
 */
#ifndef TRUNX_CTL_PROTO_H
#define TRUNX_CTL_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum ctl_cmd {
	CTL_CMD_NONE = 0,   /**< not parsed (error replies before a command is known) */
	CTL_CMD_STATUS,
	CTL_CMD_CALLS,
	CTL_CMD_HANGUP,     /**< arg: call id */
	CTL_CMD_RELOAD,
	CTL_CMD_LOGLEVEL,   /**< arg: level name; no arg: report the current level */
	CTL_CMD_TRUNKS,     /**< trunks and peers with their state */
	CTL_CMD_BUDGETS,    /**< channel pools, caps, leases */
	CTL_CMD_PLAY,       /**< arg: call id; more: leg (a|b), file, [--mix] */
	CTL_CMD_RECORD,     /**< arg: call id; more: file, or --stop */
	CTL_CMD_AMD,        /**< arg: call id; more: [leg] (default b) */
	CTL_CMD_DTMF,       /**< arg: call id; more: leg, digits, [--duration MS] */
	CTL_CMD_TRANSFER,   /**< arg: call id; more: leg (a|b), destination, [--refer|--bridge] */
};

#define CTL_ARG_MAX  128   /**< longest first argument, terminating NUL included */
#define CTL_MORE_MAX 4     /**< arguments after the first */
#define CTL_MORE_LEN 512   /**< longest later argument (a file path), NUL included */

struct ctl_req {
	enum ctl_cmd cmd;
	bool         has_arg;
	char         arg[CTL_ARG_MAX];
	unsigned     n_more;                     /**< arguments after arg */
	char         more[CTL_MORE_MAX][CTL_MORE_LEN];
};

/**
 * Parses one request line (without its LF; a trailing CR is ignored). Words are
 * separated by spaces or tabs; the command is case-insensitive; only printable
 * ASCII is accepted.
 * @param err receives a human-readable reason on error
 * @return 0; ENOENT for an unknown command; EINVAL for anything else malformed
 *         (empty line, control bytes, missing, extra or oversized arguments)
 */
int ctl_req_parse(const char *line, size_t len, struct ctl_req *req, char *err,
		  size_t errlen);

/** The protocol name of a command ("status", ...); "" for CTL_CMD_NONE. */
const char *ctl_cmd_name(enum ctl_cmd cmd);

/**
 * Builds a reply line: the JSON object followed by "\n", malloc'd.
 * ctl_reply_ok steals `result` (a JSON value; NULL becomes null).
 * @return the line, or NULL on allocation failure
 */
char *ctl_reply_ok(enum ctl_cmd cmd, json_t *result, size_t *lenp);
char *ctl_reply_err(enum ctl_cmd cmd, const char *code, const char *message,
		    size_t *lenp);

#endif
