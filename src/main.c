/*
 * main.c — trunxd entry point: command line, start-up sequence, signal handling.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trunxd --config FILE [--check]\n"
		"       trunxd --version\n");
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
	char err[512];
	struct sigaction sa;
	int check = 0, c;

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
	if (conf_load(&cf, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		struct route_table *rt = NULL;
		int rc = conf_build_routes(cf, &rt, err, sizeof(err));

		if (rc)
			fprintf(stderr, "%s: %s\n", config, err);
		else
			printf("%s: ok\n", config);
		route_table_unref(rt);
		conf_free(cf);
		return rc ? 1 : 0;
	}
	log_set_level(cf->general.log_level);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_msg(LOG_INFO, "trunxd.start", "trunxd %s config %s", TRUNX_VERSION, config);
	while (!stop_requested)
		pause();
	log_msg(LOG_INFO, "trunxd.stop", "stopped by signal");
	conf_free(cf);
	return 0;
}
