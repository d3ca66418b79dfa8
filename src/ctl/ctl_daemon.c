/*
 * ctl_daemon.c — the control plane's view of the daemon (see ctl_daemon.h). Owns a
 * copy of the start-up settings and the config path; every op runs on the control
 * thread.
 */
#include "ctl/ctl_daemon.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/budget.h"
#include "ctl/ctl_conf.h"
#include "data/data.h"
#include "log.h"
#include "ctl/ctl_notify.h"

struct ctl_daemon {
	char          path[CONF_PATH_MAX];
	struct conf   running;   /**< start-up settings; trunks/routes not kept */
	struct b2bua *b;
	struct data  *data;       /**< database mode: routing comes from the tables */
	char          pg_url[sizeof(((struct conf_data *)0)->postgres)];  /**< --postgres */
	char          redis_url[sizeof(((struct conf_data *)0)->redis)];  /**< --redis */
	bool          has_pg, has_redis;
	pthread_mutex_t reload_lock;  /**< held by a reload; guards stopping */
	bool          stopping;     /**< shutdown started: no more reloads */
};

int ctl_daemon_create(struct ctl_daemon **dp, const char *conf_path,
		      const struct conf *running, struct b2bua *b)
{
	struct ctl_daemon *d;

	if (!dp || !conf_path || !running || !b || strlen(conf_path) >= sizeof(d->path))
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	memcpy(d->path, conf_path, strlen(conf_path) + 1);
	d->running = *running;
	d->running.n_trunks = 0;
	d->running.trunks = NULL;
	d->running.n_routes = 0;
	d->running.routes = NULL;
	d->b = b;
	pthread_mutex_init(&d->reload_lock, NULL);
	*dp = d;
	return 0;
}

void ctl_daemon_destroy(struct ctl_daemon *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->reload_lock);
	free(d);
}

void ctl_daemon_set_data(struct ctl_daemon *d, struct data *data)
{
	if (d)
		d->data = data;
}

int ctl_daemon_set_urls(struct ctl_daemon *d, const char *postgres, const char *redis)
{
	if (!d || (postgres && strlen(postgres) >= sizeof(d->pg_url)) ||
	    (redis && strlen(redis) >= sizeof(d->redis_url)))
		return EINVAL;
	d->has_pg = postgres != NULL;
	d->has_redis = redis != NULL;
	snprintf(d->pg_url, sizeof(d->pg_url), "%s", postgres ? postgres : "");
	snprintf(d->redis_url, sizeof(d->redis_url), "%s", redis ? redis : "");
	return 0;
}

void ctl_daemon_stopping(struct ctl_daemon *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->reload_lock);
	d->stopping = true;
	pthread_mutex_unlock(&d->reload_lock);
}

/* Each media worker's sessions and packets: shows how evenly the load is spread. */
static json_t *media_workers_json(const struct ctl_daemon *d, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++) {
		struct media_worker_counters w;

		if (b2bua_media_worker_counters(d->b, i, &w) != 0)
			break;
		json_array_append_new(a, json_pack("{sIsIsIsI}",
			"sessions", (json_int_t)w.sessions,
			"rtp_relayed", (json_int_t)w.rtp_relayed,
			"rtp_dropped", (json_int_t)w.rtp_dropped,
			"rtp_dropped_late", (json_int_t)w.rtp_dropped_late));
	}
	return a ? a : json_array();
}

static void d_status(void *arg, json_t *obj)
{
	struct ctl_daemon *d = arg;
	struct b2bua_counters c;

	b2bua_get_counters(d->b, &c);
	json_object_set_new(obj, "calls", json_pack("{sIsIsIsI}",
		"active", (json_int_t)c.calls_active, "total", (json_int_t)c.calls_total,
		"answered", (json_int_t)c.calls_answered,
		"failed", (json_int_t)c.calls_failed));
	json_object_set_new(obj, "workers", json_integer(c.media_workers));
	json_object_set_new(obj, "media", json_pack("{sIsIsIsIsIsIsoso}",
		"sessions", (json_int_t)c.media_sessions,
		"ports_free", (json_int_t)c.media_ports_free,
		"rtp_relayed", (json_int_t)c.rtp_relayed,
		"rtp_dropped", (json_int_t)c.rtp_dropped,
		"rtp_dropped_late", (json_int_t)c.rtp_dropped_late,
		"rtp_foreign", (json_int_t)c.rtp_foreign,
		"per_worker", media_workers_json(d, c.media_workers),
		"kernel_forward", json_pack("{sbsIsI}", "active", c.kfwd_active,
					    "flows", (json_int_t)c.kfwd_flows,
					    "packets", (json_int_t)c.kfwd_packets)));
	json_object_set_new(obj, "counters", json_pack("{sIsIsIsIsIsIsIsIsIsIsIsIsIsIsIsIsIsI}",
		"calls_active", (json_int_t)c.calls_active,
		"calls_total", (json_int_t)c.calls_total,
		"calls_answered", (json_int_t)c.calls_answered,
		"calls_failed", (json_int_t)c.calls_failed,
		"rejected_overload", (json_int_t)c.rejected_overload,
		"shed_overload", (json_int_t)c.shed_overload,
		"rejected_unknown_source", (json_int_t)c.rejected_unknown_source,
		"dropped_unknown_source", (json_int_t)c.dropped_unknown_source,
		"rejected_no_route", (json_int_t)c.rejected_no_route,
		"rejected_bad_request", (json_int_t)c.rejected_bad_request,
		"rtp_timeouts", (json_int_t)c.rtp_timeouts,
		"rejected_callerid", (json_int_t)c.rejected_callerid,
		"rejected_refused", (json_int_t)c.rejected_refused,
		"rejected_budget", (json_int_t)c.rejected_budget,
		"rejected_admission", (json_int_t)c.rejected_admission,
		"auth_challenged", (json_int_t)c.auth_challenged,
		"auth_failed", (json_int_t)c.auth_failed,
		"failovers", (json_int_t)c.failovers));
	json_object_set_new(obj, "dialogs", json_pack("{sIsIsIsI}",
		"in_dialog_refused", (json_int_t)c.in_dialog_refused,
		"in_dialog_bad", (json_int_t)c.in_dialog_bad,
		"contact_refused", (json_int_t)c.contact_refused,
		"offer_glare", (json_int_t)c.offer_glare));
	json_object_set_new(obj, "tls", json_pack("{sIsI}",
		"tls_refused", (json_int_t)c.tls_refused,
		"tls_refused_stranger", (json_int_t)c.tls_refused_stranger));
	{
		/* The allocator's view (all arenas): objects alive against what the heap
		 * holds, to tell kept state from free memory not yet given back. */
		struct mallinfo2 mi = mallinfo2();

		json_object_set_new(obj, "memory", json_pack("{sIsIsI}",
			"heap_in_use_kb", (json_int_t)((mi.uordblks + mi.hblkhd) >> 10),
			"heap_free_kb", (json_int_t)(mi.fordblks >> 10),
			"heap_total_kb", (json_int_t)((mi.arena + mi.hblkhd) >> 10)));
	}
	{
		json_t *k = json_object_get(obj, "counters");
		const struct { const char *name; uint64_t v; } g[] = {
			{"rate_limited", c.rate_limited},
			{"dropped_not_sip", c.dropped_not_sip},
			{"options_stateless", c.options_stateless},
			{"malformed_stateless", c.malformed_stateless},
			{"methods_stateless", c.methods_stateless},
			{"overload_stateless", c.overload_stateless},
			{"overload_resent", c.overload_resent},
			{"overload_forgotten", c.overload_forgotten},
			{"acks_absorbed", c.acks_absorbed},
			{"tcp_open", c.tcp_open},
			{"tcp_accepted", c.tcp_accepted},
			{"tcp_refused_limit", c.tcp_refused_limit},
			{"tcp_refused_unknown", c.tcp_refused_unknown},
			{"tcp_refused_no_descriptor", c.tcp_refused_fd},
			{"tcp_closed_unknown", c.tcp_closed_unknown},
			{"tcp_closed_idle", c.tcp_closed_idle},
			{"tcp_closed_incomplete", c.tcp_closed_incomplete},
			{"log_suppressed", c.log_suppressed},
		};

		for (size_t i = 0; k && i < sizeof(g) / sizeof(g[0]); i++)
			json_object_set_new(k, g[i].name, json_integer((json_int_t)g[i].v));
	}
	if (d->data)
		data_status(d->data, obj);
}

static int d_list_calls(void *arg, ctl_reply_h *h, void *harg)
{
	struct ctl_daemon *d = arg;

	return b2bua_list_calls(d->b, h, harg);
}

static int d_hangup(void *arg, const char *id, ctl_reply_h *h, void *harg)
{
	struct ctl_daemon *d = arg;

	return b2bua_hangup(d->b, id, h, harg);
}

static int reload_locked(struct ctl_daemon *d, json_t *result, char *err, size_t errlen)
{
	struct conf *cf = NULL;
	struct route_table *rt = NULL;
	const char *keys[CTL_CONF_RESTART_MAX];
	json_t *restart;
	size_t n;
	int rc;

	ctl_notify("RELOADING=1");
	rc = conf_load(&cf, d->path, err, errlen);
	if (rc)
		goto out;
	if (d->has_pg)
		memcpy(cf->data.postgres, d->pg_url, sizeof(d->pg_url));
	if (d->has_redis)
		memcpy(cf->data.redis, d->redis_url, sizeof(d->redis_url));
	if (!d->data) {
		rc = conf_build_routes(cf, &rt, err, errlen);
		if (rc)
			goto out;
	}
	{
		/* A max_calls the open-file limit cannot hold is refused (the soft
		 * limit is raised if the hard one allows). */
		struct budget bud;
		char berr[512];

		rc = budget_apply(cf, &bud, berr, sizeof(berr));
		if (rc) {
			snprintf(err, errlen, "%s: %s", d->path, berr);
			goto out;
		}
	}
	rc = b2bua_reload(d->b, cf, rt);   /* rt NULL: the database keeps the routing */
	if (rc) {
		snprintf(err, errlen, "%s: cannot apply: %s", d->path, strerror(rc));
		goto out;
	}
	log_set_level(cf->general.log_level);
	log_set_repeat_interval(cf->general.log_repeat_ms);
	n = ctl_conf_restart_keys(&d->running, cf, keys, CTL_CONF_RESTART_MAX);
	restart = json_array();
	for (size_t i = 0; i < n; i++) {
		log_msg(LOG_WARN, "reload.restart_required",
			"%s changed; the running value stays until trunxd restarts", keys[i]);
		json_array_append_new(restart, json_string(keys[i]));
	}
	json_object_set_new(result, "file", json_string(d->path));
	if (d->data) {
		size_t trunks, routes, dids;

		data_reload(d->data);
		data_counts(d->data, &trunks, &routes, &dids);
		json_object_set_new(result, "mode", json_string("database"));
		json_object_set_new(result, "trunks", json_integer((json_int_t)trunks));
		json_object_set_new(result, "routes", json_integer((json_int_t)routes));
		json_object_set_new(result, "dids", json_integer((json_int_t)dids));
	} else {
		json_object_set_new(result, "trunks", json_integer((json_int_t)cf->n_trunks));
		json_object_set_new(result, "routes", json_integer((json_int_t)cf->n_routes));
	}
	json_object_set_new(result, "log_level",
			    json_string(log_level_name(cf->general.log_level)));
	json_object_set_new(result, "restart_required", restart);
out:
	route_table_unref(rt);
	conf_free(cf);
	ctl_notify("READY=1");
	return rc;
}

static int d_reload(void *arg, json_t *result, char *err, size_t errlen)
{
	struct ctl_daemon *d = arg;
	int rc;

	pthread_mutex_lock(&d->reload_lock);
	if (d->stopping) {
		snprintf(err, errlen, "trunxd is shutting down");
		rc = ESHUTDOWN;
	} else {
		rc = reload_locked(d, result, err, errlen);
	}
	pthread_mutex_unlock(&d->reload_lock);
	return rc;
}

static int d_trunks(void *arg, ctl_reply_h *h, void *harg)
{
	struct ctl_daemon *d = arg;

	return b2bua_list_trunks(d->b, h, harg);
}

struct budgets_req {
	ctl_reply_h *h;
	void        *harg;
};

static void budgets_done(char *json, void *arg)
{
	struct budgets_req *r = arg;

	r->h(json ? 0 : EIO, json, r->harg);
	free(r);
}

static int d_budgets(void *arg, ctl_reply_h *h, void *harg)
{
	struct ctl_daemon *d = arg;
	struct budgets_req *r;

	if (!d->data) {
		/* File mode: the limits of this node are the budget. */
		struct b2bua_counters c;
		json_t *o;
		char *s;

		b2bua_get_counters(d->b, &c);
		o = json_pack("{s:s,s:I,s:I,s:I}", "backend", "file",
			      "max_calls", (json_int_t)d->running.sip.max_calls,
			      "max_cps", (json_int_t)d->running.sip.max_cps,
			      "calls_active", (json_int_t)c.calls_active);
		s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		h(s ? 0 : ENOMEM, s, harg);
		return 0;
	}
	r = malloc(sizeof(*r));
	if (!r)
		return ENOMEM;
	r->h = h;
	r->harg = harg;
	data_budgets(d->data, budgets_done, r);
	return 0;
}

const struct ctl_ops ctl_daemon_ops = {
	.status = d_status,
	.list_calls = d_list_calls,
	.hangup = d_hangup,
	.reload = d_reload,
	.trunks = d_trunks,
	.budgets = d_budgets,
	.media = ctl_daemon_media,
};

struct b2bua *ctl_daemon_b2bua(struct ctl_daemon *d)
{
	return d->b;
}
