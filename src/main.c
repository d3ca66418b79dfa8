/*
 * main.c — trunxd entry point: command line, start-up sequence, signal handling.
 *
 * Start-up: load and validate the configuration, build the routing snapshot, create
 * the B2BUA (which starts the media workers), start signalling, then wait for a
 * signal. SIGTERM/SIGINT stop gracefully: new calls are refused, every call gets
 * BYE/CANCEL, and the stack shuts down after the configured grace period.
 *
 * Signals have no handlers: they are blocked before any thread starts and taken by
 * the main thread with sigwaitinfo() (ctl/ctl_signal.h). SIGHUP asks the control
 * thread to reload; SIGTERM/SIGINT end the wait and start the shutdown.
 *
 * Shutdown order: the B2BUA stops first (calls end while `trunxctl status` still
 * answers), then the control thread, so that no control op reaches the B2BUA once it
 * is destroyed; the control socket is removed last.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "b2bua/b2bua.h"
#include "budget/budget.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_daemon.h"
#include "ctl/ctl_notify.h"
#include "ctl/ctl_signal.h"
#include "data/data.h"
#include "db/db.h"
#include "db/db_seed.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trunxd --config FILE [--postgres URL] [--redis URL] [--check | --seed]\n"
		"       trunxd --config FILE --create-api-key NAME [--tenant ID] [--scopes LIST]\n"
		"       trunxd --version\n"
		"  --postgres, --redis  override [data] postgres / redis of the file\n"
		"  --check              validate FILE, say which mode it selects, and exit\n"
		"  --seed               migrate the database, add the file's [trunk] and [route]\n"
		"                       sections to it (existing names are kept), and exit\n"
		"  --create-api-key     migrate the database, create an API key (an operator key\n"
		"                       without --tenant), print it once, and exit\n");
}

/* Command-line values replace the file's [data] URLs. */
static int override_urls(struct conf *cf, const char *pg, const char *redis)
{
	if (pg && strlen(pg) >= sizeof(cf->data.postgres))
		return ENAMETOOLONG;
	if (redis && strlen(redis) >= sizeof(cf->data.redis))
		return ENAMETOOLONG;
	if (redis && redis[0] && strncmp(redis, "redis://", 8) != 0 &&
	    strncmp(redis, "unix:", 5) != 0)
		return EINVAL;
	if (pg)
		snprintf(cf->data.postgres, sizeof(cf->data.postgres), "%s", pg);
	if (redis)
		snprintf(cf->data.redis, sizeof(cf->data.redis), "%s", redis);
	return 0;
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

/* Database mode: the schema is brought up to date before anything starts. */
static int migrate(const struct conf *cf)
{
	char err[512] = "";
	int applied = 0, version = 0, rc;

	rc = db_migrate(cf->data.postgres, cf->data.startup_timeout, &applied, &version, err,
			sizeof(err));
	if (rc) {
		log_msg(LOG_ERROR, "trunxd.start", "database: %s", err);
		return rc;
	}
	log_msg(LOG_INFO, "db.schema", "schema version %d (%d migration%s applied)", version,
		applied, applied == 1 ? "" : "s");
	return 0;
}

/* The control socket settings from the configuration. */
static int ctl_config(const struct conf *cf, struct ctl_cfg *cc)
{
	size_t n = strlen(cf->general.control_socket);

	memset(cc, 0, sizeof(*cc));
	if (n >= sizeof(cc->socket_path))
		return ENAMETOOLONG;
	memcpy(cc->socket_path, cf->general.control_socket, n + 1);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"postgres", required_argument, NULL, 'P'},
		{"redis", required_argument, NULL, 'R'},
		{"seed", no_argument, NULL, 'S'},
		{"version", no_argument, NULL, 'V'},
		{"create-api-key", required_argument, NULL, 'K'},
		{"tenant", required_argument, NULL, 'T'},
		{"scopes", required_argument, NULL, 'O'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *pg_url = NULL, *redis_url = NULL;
	const char *key_name = NULL, *key_tenant = NULL, *key_scopes = NULL;
	struct api *api = NULL;
	struct conf *cf = NULL;
	struct route_table *rt = NULL;
	struct b2bua *b = NULL;
	struct ctl_daemon *cd = NULL;
	struct ctl *ctl = NULL;
	struct data *data = NULL;
	struct ctl_cfg ccfg;
	struct budget bud;
	char berr[512];
	int check = 0, seed = 0, c, err, rc = 1;

	while ((c = getopt_long(argc, argv, "c:kVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = 1; break;
		case 'P': pg_url = optarg; break;
		case 'R': redis_url = optarg; break;
		case 'S': seed = 1; break;
		case 'V': printf("trunxd %s\n", TRUNX_VERSION); return 0;
		case 'K': key_name = optarg; break;
		case 'T': key_tenant = optarg; break;
		case 'O': key_scopes = optarg; break;
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
	err = override_urls(cf, pg_url, redis_url);
	if (err) {
		fprintf(stderr, "trunxd: %s: %s\n", pg_url && err == ENAMETOOLONG ?
			"--postgres/--redis" : "--redis", err == EINVAL ?
			"not redis://host[:port][/db] or unix:/path" : strerror(err));
		goto out;
	}
	if (check) {
		char mode[1024];

		conf_mode_describe(cf, mode, sizeof(mode));
		printf("%s: ok\n%s\n", config, mode);
		rc = 0;
		goto out;
	}
	log_set_level(cf->general.log_level);
	log_set_repeat_interval(cf->general.log_repeat_ms);
	if (seed) {
		char why[512] = "";
		int nt = 0, nr = 0;

		if (conf_mode(cf) != CONF_MODE_DB) {
			fprintf(stderr, "trunxd: --seed needs a database (--postgres or [data] "
				"postgres)\n");
			goto out;
		}
		if (migrate(cf))
			goto out;
		if (db_seed(cf->data.postgres, cf, &nt, &nr, why, sizeof(why))) {
			fprintf(stderr, "trunxd: --seed: %s\n", why);
			goto out;
		}
		printf("%s: %d trunk%s and %d route%s added to the database (%zu and %zu in "
		       "the file)\n", config, nt, nt == 1 ? "" : "s", nr, nr == 1 ? "" : "s",
		       cf->n_trunks, cf->n_routes);
		rc = 0;
		goto out;
	}
	if (key_name) {
		char key[128], why[512] = "";

		if (conf_mode(cf) != CONF_MODE_DB) {
			fprintf(stderr, "trunxd: --create-api-key needs a database\n");
			goto out;
		}
		if (migrate(cf))
			goto out;
		if (api_key_create_blocking(cf->data.postgres, key_tenant, key_name, key_scopes,
					    key, sizeof(key), why, sizeof(why))) {
			fprintf(stderr, "trunxd: --create-api-key: %s\n", why);
			goto out;
		}
		printf("%s\n", key);
		rc = 0;
		goto out;
	}
	if ((cf->api.listen_addr[0] || cf->api.service_listen[0]) &&
	    conf_mode(cf) != CONF_MODE_DB) {
		fprintf(stderr, "%s: [api] needs database mode ([data] postgres)\n", config);
		goto out;
	}
	/* Descriptors for every call's media and the SIP connections, or no start. */
	err = budget_apply(cf, &bud, berr, sizeof(berr));
	if (err) {
		fprintf(stderr, "%s: %s\n", config, berr);
		log_msg(LOG_ERROR, "trunxd.start", "%s", berr);
		goto out;
	}
	{
		struct log_rec r;

		if (log_begin(&r, bud.tcp_shrunk ? LOG_WARN : LOG_INFO, "trunxd.open_files")) {
			log_uint(&r, "limit", bud.limit);
			log_uint(&r, "was", bud.soft);
			log_uint(&r, "hard", bud.hard);
			log_uint(&r, "media", bud.media);
			log_uint(&r, "tcp_connections", bud.tcp);
			log_uint(&r, "api_connections", bud.api);
			log_uint(&r, "reserve", bud.reserve);
			log_end(&r);
		}
	}
	if (conf_mode(cf) == CONF_MODE_DB) {
		if (migrate(cf))
			goto out;
		/* The file's trunks and routes are not used: the tables are. */
		route_table_unref(rt);
		rt = NULL;
		if (route_table_create(&rt) || route_table_freeze(rt))
			goto out;
	}

	/* Before any thread exists, so that every thread inherits the mask. */
	err = ctl_signals_block();
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "signal mask: %s", strerror(err));
		goto out;
	}
	err = b2bua_create(&b, cf, rt);
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "cannot create the B2BUA: %s", strerror(err));
		goto out;
	}
	/* The control socket before SIP: a second trunxd given a live daemon's socket
	 * stops here, before it binds anything else. */
	err = ctl_config(cf, &ccfg);
	if (!err)
		err = ctl_daemon_create(&cd, config, cf, b);
	if (!err)
		err = ctl_daemon_set_urls(cd, pg_url, redis_url);
	if (!err)
		err = ctl_create(&ctl, &ccfg, &ctl_daemon_ops, cd);
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "cannot create the control socket %s: %s",
			cf->general.control_socket, strerror(err));
		goto out;
	}
	if (conf_mode(cf) == CONF_MODE_DB) {
		char why[256];

		/* The control thread's loop runs here until the routing is known. */
		err = data_create(&data, ctl_event_base(ctl), cf, b);
		if (!err)
			err = data_start(data);
		if (err) {
			log_msg(LOG_ERROR, "trunxd.start", "database mode: %s", strerror(err));
			goto out;
		}
		err = data_wait_first(data, cf->data.startup_timeout, why, sizeof(why));
		if (err) {
			log_msg(LOG_ERROR, "trunxd.start", "database mode: %s", why);
			goto out;
		}
		ctl_daemon_set_data(cd, data);
		{
			struct b2bua_hooks h;

			data_hooks(data, &h);
			b2bua_set_hooks(b, &h);
		}
		if (cf->api.listen_addr[0] || cf->api.service_listen[0]) {
			err = api_create(&api, ctl_event_base(ctl), cf, b, why, sizeof(why));
			if (!err)
				api_set_events(api, data_events(data));
			if (!err)
				api_set_data(api, data);
			if (!err && (err = api_start(api)) != 0)
				snprintf(why, sizeof(why), "api: %s", strerror(err));
			if (err) {
				log_msg(LOG_ERROR, "trunxd.start", "%s", why);
				goto out;
			}
		}
	}
	err = b2bua_start(b);
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "cannot start signalling: %s", strerror(err));
		goto out;
	}
	err = ctl_start(ctl);
	if (err) {
		log_msg(LOG_ERROR, "trunxd.start", "cannot start the control thread: %s",
			strerror(err));
		goto out;
	}
	log_msg(LOG_INFO, "trunxd.ready", strchr(cf->sip.listen_addr, ':') ?
		"trunxd %s listening on [%s]:%u (config %s)" :
		"trunxd %s listening on %s:%u (config %s)",
		TRUNX_VERSION, cf->sip.listen_addr, cf->sip.listen_port, config);
	ctl_notify("READY=1");

	ctl_signals_wait(ctl);
	ctl_notify("STOPPING=1");
	ctl_daemon_stopping(cd);   /* no reload may overlap the stop */
	b2bua_stop(b);
	if (data && data_drain(data, 3000))
		log_msg(LOG_WARN, "cdr.drain", "Postgres did not take every record before the "
			"stop: the rest is in the journal for the next start");
	log_msg(LOG_INFO, "trunxd.stop", "stopped");
	rc = 0;
out:
	ctl_stop(ctl);
	b2bua_destroy(b);     /* records of abandoned calls still reach the journal */
	api_destroy(api);     /* after the B2BUA: no answer of it can arrive any more */
	data_destroy(data);   /* its events live in the control thread's loop */
	ctl_destroy(ctl);
	ctl_daemon_destroy(cd);
	route_table_unref(rt);
	conf_free(cf);
	log_flush_repeats(true);
	return rc;
}
