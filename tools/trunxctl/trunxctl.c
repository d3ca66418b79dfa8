/*
 * trunxctl.c — the operator CLI for trunxd's control socket.
 *
 *   trunxctl [-s SOCKET] [-t SECONDS] [--json] status|calls|hangup ID|reload|loglevel [LEVEL]
 *            |trunks|budgets
 *
 * Sends one request line, reads one reply line (a JSON object) and prints it: as a
 * human-readable table by default (trunxctl_fmt.c), verbatim with --json.
 * Exit codes: 0 ok, 1 the daemon answered with an error, 2 usage, 3 cannot connect
 * (or the connection failed before a whole reply arrived).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "trunxctl.h"

#define EXIT_OK      0
#define EXIT_REPLY   1
#define EXIT_USAGE   2
#define EXIT_CONNECT 3
#define EXIT_OUTPUT  4

#define DEV_SOCKET "var/trunxd.sock"
#define REPLY_MAX (64u << 20)   /* refuse absurd replies rather than exhaust memory */

static const struct {
	const char *name;
	int         min_args, max_args;
} commands[] = {
	{"status", 0, 0}, {"calls", 0, 0}, {"hangup", 1, 1}, {"reload", 0, 0},
	{"loglevel", 0, 1}, {"trunks", 0, 0}, {"budgets", 0, 0},
	{"play", 3, 4}, {"record", 2, 2}, {"amd", 1, 2}, {"dtmf", 3, 5},
	{"transfer", 3, 4},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trunxctl [-s SOCKET] [-t SECONDS] [--json] COMMAND [ARG...]\n"
		"commands:\n"
		"  status            uptime, version, calls, workers, counters\n"
		"  calls             one line per call\n"
		"  hangup ID         hang up a call (both legs)\n"
		"  reload            re-read the configuration file\n"
		"  loglevel [LEVEL]  show or set the log level (debug|info|warn|error|off)\n"
		"  trunks            carriers and peers: status, qualify, registration, calls\n"
		"  budgets           channel pools, caps and leases (shared through Redis)\n"
		"  play ID a|b FILE [--mix]\n"
		"                    play a WAV (PCM mono 8/16/48 kHz) to a leg of an answered\n"
		"                    call, replacing (--mix: over) the bridged audio\n"
		"  record ID FILE    record the call to a stereo WAV (A left, B right)\n"
		"  record ID --stop  stop that recording\n"
		"  amd ID [a|b]      answering-machine detection on a leg (default b)\n"
		"  dtmf ID a|b DIGITS [--duration MS]\n"
		"                    send digits (0-9 * # A-D) toward a leg, the way its trunk\n"
		"                    takes them (RFC 4733, tones or SIP INFO); MS 20-10000\n"
		"  transfer ID a|b DEST [--refer|--bridge]\n"
		"                    transfer the leg's far end to DEST (+E.164 or sip: URI) by\n"
		"                    REFER, or (--bridge) keep that leg and re-bridge it to a\n"
		"                    new leg trunx places to DEST (routed as API calls are); the\n"
		"                    other leg gets BYE on its answer; call.transfer follows\n"
		"options:\n"
		"  -s, --socket PATH   control socket (default: $TRUNXCTL_SOCKET, else\n"
		"                      %s if it exists (tools/run.sh), else %s)\n"
		"  -t, --timeout SEC   wait this long for the reply (default 15)\n"
		"  -j, --json          print the daemon's JSON reply as is\n"
		"exit codes: 0 ok, 1 error reply, 2 usage, 3 cannot connect,\n"
		"            4 the answer could not be written to standard output\n",
		DEV_SOCKET, TRUNXCTL_DEFAULT_SOCKET);
}

/* The socket of the default run (tools/run.sh from the repository root) if it is
 * there, else the system default of [general] control_socket. */
static const char *default_socket(void)
{
	struct stat st;

	if (stat(DEV_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
		return DEV_SOCKET;
	return TRUNXCTL_DEFAULT_SOCKET;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* -t SECONDS: a whole number in 1-3600, nothing after it; 0 when it is not. */
static int parse_timeout(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 3600)
		return 0;
	return (int)v;
}

static const char *str_or(const json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);
	return s ? s : dflt;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads up to the first LF. Returns the malloc'd line (LF removed) or NULL. */
static char *read_reply(int fd, int timeout_ms, const char **why)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	long long deadline = now_ms() + timeout_ms;

	*why = "out of memory";
	while (buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		char *nl;
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			*why = "timed out waiting for the reply";
			break;
		}
		if (len + 1 == cap) {
			char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				*why = "reply too large";
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*why = r == 0 ? "connection closed before a reply" : strerror(errno);
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)r);
		len += (size_t)r;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* A file argument the daemon opens: made absolute (trunxd runs elsewhere). */
static bool is_file_arg(const char *cmd, int i, const char *arg)
{
	return arg[0] != '-' && ((strcasecmp(cmd, "play") == 0 && i == 2) ||
				 (strcasecmp(cmd, "record") == 0 && i == 1));
}

/* The request line: the command and its arguments (no blanks inside one). */
static int build_line(char *line, size_t len, const char *cmd, char **args, int nargs)
{
	size_t n = (size_t)snprintf(line, len, "%s", cmd);
	char cwd[1024];

	for (int i = 0; i < nargs; i++) {
		const char *a = args[i], *pre = "";

		if (strpbrk(a, " \t\r\n") || strlen(a) > (i ? 500u : 127u)) {
			fprintf(stderr, "trunxctl: bad argument '%s'\n", a);
			return -1;
		}
		if (is_file_arg(cmd, i, a) && a[0] != '/') {
			if (!getcwd(cwd, sizeof(cwd) - 1)) {
				fprintf(stderr, "trunxctl: cannot resolve %s: %s\n", a, strerror(errno));
				return -1;
			}
			strcat(cwd, "/");
			pre = cwd;
		}
		n += (size_t)snprintf(line + n, n < len ? len - n : 0, " %s%s", pre, a);
	}
	if (n + 2 > len) {
		fprintf(stderr, "trunxctl: arguments too long\n");
		return -1;
	}
	strcat(line, "\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"mix", no_argument, NULL, 'm'},    /* play ... --mix */
		{"stop", no_argument, NULL, 'S'},   /* record ID --stop */
		{"duration", required_argument, NULL, 'd'},   /* dtmf ... --duration MS */
		{"refer", no_argument, NULL, 'R'},  /* transfer ... --refer */
		{"bridge", no_argument, NULL, 'B'}, /* transfer ... --bridge */
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("TRUNXCTL_SOCKET");
	const char *why;
	char line[1800], *reply;
	int json = 0, timeout_s = 15, c, nargs, fd, found = -1, rc;
	const char *flag = NULL, *duration = NULL;
	char *args[10];
	json_t *obj;

	if (!path || !*path)
		path = default_socket();
	while ((c = getopt_long(argc, argv, "s:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 't':
			timeout_s = parse_timeout(optarg);
			if (timeout_s <= 0) {
				fprintf(stderr, "trunxctl: bad timeout '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		case 'm': flag = "--mix"; break;
		case 'S': flag = "--stop"; break;
		case 'd': duration = optarg; break;
		case 'R': flag = "--refer"; break;
		case 'B': flag = "--bridge"; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	nargs = argc - optind - 1;
	if (nargs < 0 || nargs > 6) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = 0; i < nargs; i++)
		args[i] = argv[optind + 1 + i];
	if (flag)   /* getopt took it wherever it was: it goes last */
		args[nargs++] = (char *)(uintptr_t)flag;
	if (duration) {
		args[nargs++] = (char *)(uintptr_t)"--duration";
		args[nargs++] = (char *)(uintptr_t)duration;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcasecmp(argv[optind], commands[i].name) == 0)
			found = (int)i;
	}
	if (found < 0) {
		fprintf(stderr, "trunxctl: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (nargs < commands[found].min_args || nargs > commands[found].max_args) {
		fprintf(stderr, "trunxctl: wrong number of arguments for %s\n",
			commands[found].name);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (build_line(line, sizeof(line), commands[found].name, args, nargs))
		return EXIT_USAGE;

	fd = connect_to(path);
	if (fd < 0) {
		fprintf(stderr, "trunxctl: cannot connect to %s: %s\n", path, strerror(errno));
		return EXIT_CONNECT;
	}
	if (send_all(fd, line, strlen(line)) != 0) {
		fprintf(stderr, "trunxctl: %s: %s\n", path, strerror(errno));
		close(fd);
		return EXIT_CONNECT;
	}
	reply = read_reply(fd, timeout_s * 1000, &why);
	close(fd);
	if (!reply) {
		fprintf(stderr, "trunxctl: %s: %s\n", path, why);
		return EXIT_CONNECT;
	}
	obj = json_loads(reply, 0, NULL);
	if (!obj || !json_is_object(obj)) {
		fprintf(stderr, "trunxctl: malformed reply: %.200s\n", reply);
		json_decref(obj);
		free(reply);
		return EXIT_REPLY;
	}
	rc = json_is_true(json_object_get(obj, "ok")) ? EXIT_OK : EXIT_REPLY;
	if (json)
		printf("%s\n", reply);
	else if (rc == EXIT_OK)
		trunxctl_print(stdout, commands[found].name, json_object_get(obj, "result"));
	else
		fprintf(stderr, "trunxctl: %s: %s\n",
			str_or(json_object_get(obj, "error"), "error"),
			str_or(json_object_get(obj, "message"), ""));
	json_decref(obj);
	free(reply);
	/* What a script reads: an answer cut short (a full disk, a closed pipe) is not
	 * a success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "trunxctl: cannot write the answer to standard output: %s\n",
			strerror(errno ? errno : EIO));
		return EXIT_OUTPUT;
	}
	return rc;
}
