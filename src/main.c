/*
 * main.c — trunxd entry point: command line, start-up sequence, signal handling.
 *
 * Start-up: load and validate the configuration, build the routing snapshot, create
 * the B2BUA (which starts the media workers), start signalling, then wait for a
 * signal. SIGTERM/SIGINT stop gracefully: new calls are refused, every call gets
 * BYE/CANCEL, and the stack shuts down after the configured grace period. The
 * signal handler only writes to an eventfd; all work happens on the main thread.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "b2bua/b2bua.h"
#include "conf/conf.h"
#include "log.h"

static int signal_fd = -1;   /* eventfd written by the signal handler */

static void on_signal(int sig)
{
	uint64_t v = (uint64_t)sig;
	int saved = errno;

	if (write(signal_fd, &v, sizeof(v)) < 0) {
		/* nothing an async-signal-safe handler can do */
	}
	errno = saved;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trunxd --config FILE [--check]\n"
		"       trunxd --version\n");
}

/* Loads the configuration and its routing snapshot; prints the reason on failure. */
static int load(const char *path, struct conf **cfp, struct route_table **rtp)
{
	char err[512];
	int e;

	e = conf_load(cfp, path, err, sizeof(err));
	if (e) {
		fprintf(stderr, "%s\n", err);
		return e;
	}
	e = conf_build_routes(*cfp, rtp, err, sizeof(err));
	if (e) {
		fprintf(stderr, "%s: %s\n", path, err);
		conf_free(*cfp);
		*cfp = NULL;
	}
	return e;
}

/* Blocks until SIGTERM or SIGINT. */
static void wait_for_stop(void)
{
	for (;;) {
		struct pollfd p = {.fd = signal_fd, .events = POLLIN};
		uint64_t v;

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return;
		if (p.revents & POLLIN && read(signal_fd, &v, sizeof(v)) == sizeof(v)) {
			log_msg(LOG_INFO, "trunxd.signal", "signal %d: stopping", (int)v);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	struct conf *cf = NULL;
	struct route_table *rt = NULL;
	struct b2bua *b = NULL;
	struct sigaction sa;
	int check = 0, c, err, rc = 1;

	while ((c = getopt_long(argc, argv, "c:kVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = 1; break;
		case 'V': printf("trunxd %s\n", TRUNX_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config) {
		usage(stderr);
		return 2;
	}
	if (load(config, &cf, &rt))
		return 1;
	if (check) {
		printf("%s: ok\n", config);
		rc = 0;
		goto out;
	}
	log_set_level(cf->general.log_level);

	signal_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (signal_fd < 0) {
		log_msg(LOG_ERROR, "trunxd.start", "eventfd: %s", strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = b2bua_create(&b, cf, rt);
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "cannot create the B2BUA: %s", strerror(err));
		goto out;
	}
	err = b2bua_start(b);
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "cannot start signalling: %s", strerror(err));
		goto out;
	}
	log_msg(LOG_INFO, "trunxd.ready", "trunxd %s listening on %s:%u (config %s)",
		TRUNX_VERSION, cf->sip.listen_addr, cf->sip.listen_port, config);

	wait_for_stop();
	b2bua_stop(b);
	log_msg(LOG_INFO, "trunxd.stop", "stopped");
	rc = 0;
out:
	b2bua_destroy(b);
	route_table_unref(rt);
	conf_free(cf);
	if (signal_fd >= 0)
		close(signal_fd);
	return rc;
}
