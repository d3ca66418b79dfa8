/* test_ctl_proto.c — the request line parser and the reply line builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_proto.h"
#include "test_ctl.h"

static int parse(const char *line, struct ctl_req *req, char *err, size_t errlen)
{
	return ctl_req_parse(line, strlen(line), req, err, errlen);
}

static void test_commands(void **state)
{
	struct ctl_req req;
	char err[160];

	(void)state;
	assert_int_equal(parse("status", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_STATUS);
	assert_false(req.has_arg);
	assert_int_equal(parse("calls\r", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_CALLS);
	assert_int_equal(parse("  RELOAD \t", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_RELOAD);
	assert_int_equal(parse("hangup\tabc-123@host", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_HANGUP);
	assert_true(req.has_arg);
	assert_string_equal(req.arg, "abc-123@host");
	assert_int_equal(parse("loglevel debug", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_LOGLEVEL);
	assert_string_equal(req.arg, "debug");
	assert_int_equal(parse("LogLevel", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_LOGLEVEL);
	assert_false(req.has_arg);
	assert_string_equal(ctl_cmd_name(CTL_CMD_HANGUP), "hangup");
	assert_string_equal(ctl_cmd_name(CTL_CMD_NONE), "");
}

static void test_errors(void **state)
{
	struct ctl_req req;
	char err[160], longarg[300];

	(void)state;
	assert_int_equal(parse("frobnicate", &req, err, sizeof(err)), ENOENT);
	assert_non_null(strstr(err, "unknown command"));
	assert_int_equal(parse("statusx", &req, err, sizeof(err)), ENOENT);
	assert_int_equal(parse("stat", &req, err, sizeof(err)), ENOENT);
	assert_int_equal(parse("", &req, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "empty request");
	assert_int_equal(parse("  \r", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("hangup", &req, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "usage: hangup ID");
	assert_int_equal(parse("hangup a b", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("status now", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("a b c d e f g h", &req, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "too many arguments");
	assert_int_equal(parse("play 12 b", &req, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "usage: play ID a|b FILE [--mix]");
	assert_int_equal(parse("play 12 b /p.wav --mix x", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("record 12", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("play 12 b /p.wav --mix", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_PLAY);
	assert_string_equal(req.arg, "12");
	assert_int_equal(req.n_more, 3);
	assert_string_equal(req.more[0], "b");
	assert_string_equal(req.more[1], "/p.wav");
	assert_string_equal(req.more[2], "--mix");
	assert_int_equal(parse("amd 12", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CTL_CMD_AMD);
	assert_int_equal(req.n_more, 0);
	assert_int_equal(ctl_req_parse("sta\0tus", 7, &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("status\x01", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("hangup \xc3\xa9", &req, err, sizeof(err)), EINVAL);
	assert_int_equal(parse("status\r\r", &req, err, sizeof(err)), EINVAL);
	memset(longarg, 'x', sizeof(longarg));
	memcpy(longarg, "hangup ", 7);
	longarg[7 + CTL_ARG_MAX] = '\0';   /* an argument one byte too long */
	assert_int_equal(parse(longarg, &req, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "argument too long");
	longarg[7 + CTL_ARG_MAX - 1] = '\0';
	assert_int_equal(parse(longarg, &req, err, sizeof(err)), 0);
	assert_int_equal(strlen(req.arg), CTL_ARG_MAX - 1);
	/* A NULL error buffer is allowed. */
	assert_int_equal(parse("nope", &req, NULL, 0), ENOENT);
}

static void test_replies(void **state)
{
	size_t len = 0;
	char *line;
	json_t *obj;

	(void)state;
	line = ctl_reply_ok(CTL_CMD_STATUS, json_pack("{ss}", "k", "a\nb"), &len);
	assert_non_null(line);
	assert_int_equal(strlen(line), len);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));   /* one line */
	obj = json_loads(line, 0, NULL);
	assert_true(tc_ok(obj));
	assert_string_equal(json_string_value(json_object_get(obj, "command")), "status");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(obj, "result"), "k")), "a\nb");
	json_decref(obj);
	free(line);

	line = ctl_reply_err(CTL_CMD_NONE, "unknown_command", "no \"such\"", &len);
	obj = json_loads(line, 0, NULL);
	assert_false(tc_ok(obj));
	assert_string_equal(tc_error(obj), "unknown_command");
	assert_string_equal(json_string_value(json_object_get(obj, "message")), "no \"such\"");
	json_decref(obj);
	free(line);

	/* Invalid UTF-8 in a message still gives a valid reply. */
	line = ctl_reply_err(CTL_CMD_RELOAD, "reload_failed", "bad \xff byte", &len);
	obj = json_loads(line, 0, NULL);
	assert_non_null(obj);
	assert_string_equal(tc_error(obj), "reload_failed");
	json_decref(obj);
	free(line);

	line = ctl_reply_ok(CTL_CMD_CALLS, NULL, &len);
	assert_non_null(strstr(line, "\"result\":null"));
	free(line);
}

int test_ctl_proto_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests_name("ctl_proto", tests, NULL, NULL);
}
