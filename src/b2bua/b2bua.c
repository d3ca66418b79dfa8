/*
 * b2bua.c — the call layer's context: builds the SIP user agent and the media
 * engine from the configuration, answers the out-of-dialog source check from the
 * routing snapshot, dispatches sipua and media events to calls, and serves the
 * cross-thread API (counters, list, hangup, reload, graceful stop).
 *
 * DESIGN
 * Every call object lives on the signalling thread. Media events arrive on worker
 * threads and are copied into a job for the signalling thread; API calls from the
 * control thread are jobs too, and their replies run on the signalling thread. The
 * counters are atomics so any thread may read them. A reload swaps the routing
 * snapshot on the signalling thread; calls keep a reference to the one they were
 * routed with. Stopping is: refuse new calls, end every call, wait up to the grace
 * period for the legs to finish, then shut the stack down, then the media engine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "auth/auth_digest.h"
#include "b2bua_int.h"
#include "log.h"

/* ---- sipua callbacks (signalling thread) ---- */

/*
 * Load shedding: while the SIP socket holds a standing queue, datagrams that have
 * waited more than overload_delay all through the last SHED_WINDOW_MS (a burst drains
 * within that, an overload does not), the signalling thread is behind, and new INVITEs
 * are answered 503 at once, before any call state exists. A 503 costs a fraction of a
 * call, so the thread catches up and the calls it admits keep short signalling
 * delays; without this, an offered rate above capacity grows the queue until every
 * transaction retransmits and almost no call completes. Logged at most once a second.
 */
#define SHED_WINDOW_MS B2B_SHED_WINDOW_MS

static bool overloaded(struct b2bua *b)
{
	unsigned delay;
	uint64_t now;

	if (!b->sip.overload_delay_ms)
		return false;
	delay = sipua_rx_standing_delay_ms(b->ua, SHED_WINDOW_MS);
	if (delay <= b->sip.overload_delay_ms)
		return false;
	atomic_fetch_add(&b->c_shed, 1);
	b->shed_unlogged++;
	now = sipua_now_ms();
	if (now - b->shed_log_ms >= 1000) {
		struct log_rec r;

		if (log_begin(&r, LOG_WARN, "sip.overload")) {
			log_uint(&r, "standing_delay_ms", delay);
			log_uint(&r, "queue_delay_ms", sipua_rx_delay_ms(b->ua));
			log_uint(&r, "threshold_ms", b->sip.overload_delay_ms);
			log_uint(&r, "shed", b->shed_unlogged);
			log_end(&r);
		}
		b->shed_log_ms = now;
		b->shed_unlogged = 0;
	}
	return true;
}

static enum sipua_verdict on_check(const struct sockaddr *src, const char *method,
				   void **peer, void *arg)
{
	struct b2bua *b = arg;
	const struct trunk *t = route_identify(b->rt, src);

	if (t) {
		*peer = (void *)t;
		if (strcmp(method, "INVITE") == 0 && overloaded(b))
			return SIPUA_BUSY;
		return SIPUA_ACCEPT;
	}
	if (log_get_level() <= LOG_DEBUG) {
		struct log_rec r;

		if (log_begin(&r, LOG_DEBUG, "sip.unknown_source")) {
			log_str(&r, "method", method);
			log_end(&r);
		}
	}
	if (b->sip.unknown_source == CONF_UNKNOWN_DROP) {
		atomic_fetch_add(&b->c_unknown_dropped, 1);
		return SIPUA_DROP;
	}
	atomic_fetch_add(&b->c_unknown_rejected, 1);
	return SIPUA_REJECT;
}

/* A trunk's source, or the address of a destination we send calls to: may send
 * requests inside any dialog and set a dialog's target. */
static bool on_known(const struct sockaddr *src, void *arg)
{
	struct b2bua *b = arg;

	return route_identify(b->rt, src) != NULL || route_is_destination(b->rt, src);
}

/* "sip:user@host:port;params" -> host (brackets kept off) and port (0 = none). */
static bool uri_hostport(const char *uri, char *host, size_t hlen, unsigned *port)
{
	const char *p = strchr(uri, ':'), *at, *end;
	size_t n;

	if (!p)
		return false;
	p++;
	at = strchr(p, '@');
	if (at)
		p = at + 1;
	if (*p == '[') {
		end = strchr(++p, ']');
		if (!end)
			return false;
	} else {
		end = p + strcspn(p, ":;?>");
	}
	n = (size_t)(end - p);
	if (!n || n >= hlen)
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (*end == ']')
		end++;
	*port = *end == ':' ? (unsigned)strtoul(end + 1, NULL, 10) : 0;
	return true;
}

static bool same_addr(const struct sockaddr *sa, const char *host, unsigned port)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (sa->sa_family == AF_INET && inet_pton(AF_INET, host, &a4) == 1) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		return s4->sin_addr.s_addr == a4.s_addr && ntohs(s4->sin_port) == port;
	}
	if (sa->sa_family == AF_INET6 && inet_pton(AF_INET6, host, &a6) == 1) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		return memcmp(&s6->sin6_addr, &a6, sizeof(a6)) == 0 && ntohs(s6->sin6_port) == port;
	}
	return false;
}

/*
 * TLS verification per trunk (signalling thread, during a handshake). A connection
 * trunx opens belongs to the trunk whose uri names that address and port, else to the
 * trunk whose networks hold it; a connection a peer opens, to the trunk of its source.
 * A trunk's tls_verify decides; an address of no trunk is verified.
 */
static bool on_tls_verify(const struct sockaddr *peer, bool incoming, char *name,
			  size_t namelen, void *arg)
{
	struct b2bua *b = arg;
	const struct trunk *t = NULL;
	char host[CONF_HOST_MAX];
	unsigned port;

	for (size_t i = 0; !incoming && i < route_table_trunk_count(b->rt) && !t; i++) {
		const struct trunk *x = route_table_trunk_at(b->rt, i);
		const struct trunk_cfg *tc = trunk_get_cfg(x);

		if (tc->uri[0] && sipua_uri_transport(tc->uri) == SIPUA_TP_TLS &&
		    uri_hostport(tc->uri, host, sizeof(host), &port) &&
		    same_addr(peer, host, port ? port : 5061))
			t = x;
	}
	if (!t)
		t = route_identify(b->rt, peer);
	if (!t)
		return true;
	if (!incoming && trunk_get_cfg(t)->uri[0] &&
	    uri_hostport(trunk_get_cfg(t)->uri, host, sizeof(host), &port))
		snprintf(name, namelen, "%s", host);
	return trunk_get_cfg(t)->tls_verify;
}

static void on_event(const struct sipua_ev *ev, void *arg)
{
	struct b2bua *b = arg;
	struct call *c;

	if (ev->type == SIPUA_EV_REFUSED) {
		call_on_refused(b, ev);
		return;
	}
	if (ev->type == SIPUA_EV_INCOMING) {
		if (route_table_is_db(b->rt)) {
			/* Database mode: trunks sharing a source are told apart by digest. */
			const struct trunk *who = NULL;
			struct sipua_incoming in;
			struct sipua_ev ev2;

			if (call_auth_incoming(b, ev, &who))
				return;   /* challenged or refused: no call */
			in = *ev->in;
			in.peer = (void *)who;
			ev2 = *ev;
			ev2.in = &in;
			call_on_incoming(b, &ev2);
			return;
		}
		call_on_incoming(b, ev);
		return;
	}
	c = sipua_leg_ctx(ev->leg);
	if (c)
		call_on_leg_event(b, c, ev);
}

/* ---- media events: worker thread -> signalling thread ---- */

struct media_job {
	struct b2bua      *b;
	struct media_event ev;
};

static void media_job_run(void *arg)
{
	struct media_job *j = arg;

	call_on_media_event(j->b, &j->ev);
	free(j);
}

static void on_media_event(const struct media_event *ev, void *arg)
{
	struct b2bua *b = arg;
	struct media_job *j = malloc(sizeof(*j));

	if (!j)
		return;
	j->b = b;
	j->ev = *ev;
	if (sipua_post(b->ua, media_job_run, j) != 0) {
		log_msg(LOG_WARN, "b2bua.media_event", "media event %d lost (queue full or stopped)",
			ev->type);
		free(j);
	}
}

/* ---- drop mode: the kernel filter on the SIP socket ---- */

/* Adds host (an IPv4 literal in a SIP URI) as a /32; other hosts are skipped. */
static void add_uri_host(struct sipua_net *nets, size_t *n, size_t cap, const char *uri)
{
	const char *p = strchr(uri, '@');
	char host[64];
	size_t len;
	struct sockaddr_in *a;

	p = p ? p + 1 : (strncmp(uri, "sip:", 4) == 0 ? uri + 4 : uri);
	len = strcspn(p, ":;>?");
	if (len == 0 || len >= sizeof(host) || *n >= cap)
		return;
	memcpy(host, p, len);
	host[len] = '\0';
	a = (struct sockaddr_in *)&nets[*n].addr;
	memset(&nets[*n], 0, sizeof(nets[*n]));
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return;
	a->sin_family = AF_INET;
	nets[*n].bits = 32;
	(*n)++;
}

/*
 * In drop mode, the networks whose datagrams reach the stack: every trunk's sources,
 * and the hosts of trunk and route URIs (peers we call send in-dialog requests too).
 * Returns the count (0 in reject mode) and the array in *netsp (malloc'd).
 */
static size_t drop_nets_from(const struct conf_sip *sip, const struct route_table *rt,
			     struct sipua_net **netsp)
{
	size_t cap = route_table_route_count(rt) + 1, n = 0;
	size_t nt = route_table_trunk_count(rt);
	struct sipua_net *nets;

	*netsp = NULL;
	if (sip->unknown_source != CONF_UNKNOWN_DROP)
		return 0;
	for (size_t i = 0; i < nt; i++)
		cap += trunk_get_cfg(route_table_trunk_at(rt, i))->n_cidrs + 1;
	nets = calloc(cap, sizeof(*nets));
	if (!nets)
		return 0;
	for (size_t i = 0; i < nt; i++) {
		const struct trunk_cfg *t = trunk_get_cfg(route_table_trunk_at(rt, i));

		if (t->status == TRUNK_INACTIVE)
			continue;
		for (size_t j = 0; j < t->n_cidrs && n < cap; j++) {
			nets[n].addr = t->cidrs[j].addr;
			nets[n].bits = t->cidrs[j].bits;
			n++;
		}
		if (t->uri[0])
			add_uri_host(nets, &n, cap, t->uri);
	}
	for (size_t i = 0; i < route_table_route_count(rt); i++) {
		const struct route_cfg *r = route_get_cfg(route_table_route_at(rt, i));

		if (r->uri[0])
			add_uri_host(nets, &n, cap, r->uri);
	}
	*netsp = nets;
	return n;
}

static void drop_filter_apply(struct b2bua *b)
{
	int err = sipua_set_source_filter(b->ua, b->drop_nets, b->n_drop_nets);

	if (err == ENOTSUP && b->n_drop_nets)
		log_msg(LOG_WARN, "sip.source_filter", "no kernel source filter (it reads "
			"IPv4 sources on IPv4 UDP SIP sockets only): the SIP front drops "
			"unknown sources itself");
	else if (err && !(err == ENOTSUP && !b->n_drop_nets))
		log_msg(LOG_WARN, "sip.source_filter", "cannot %s the source filter: %s",
			b->n_drop_nets ? "set" : "remove", strerror(err));
}

/* ---- life cycle ---- */

void b2bua_set_hooks(struct b2bua *b, const struct b2bua_hooks *h)
{
	if (b && h)
		b->hooks = *h;
}

static void copy_conf(struct b2bua *b, const struct conf *cf)
{
	b->sip = cf->sip;
	b->media_cfg = cf->media;
	snprintf(b->media_addr, sizeof(b->media_addr), "%s",
		 cf->media_advertise[0] ? cf->media_advertise : cf->media.bind_addr);
	{
		/* A host in a URI, a Warning or a Referred-By: an IPv6 literal bracketed
		 * ("sip:x@::1" does not parse, and the stack refuses such a From). */
		const char *h = cf->sip.advertise_addr[0] ? cf->sip.advertise_addr
							  : cf->sip.listen_addr;

		snprintf(b->sip_host, sizeof(b->sip_host), strchr(h, ':') && h[0] != '[' ?
			 "[%s]" : "%s", h);
	}
	{
		struct in6_addr a6;

		b->media_ip6 = inet_pton(AF_INET6, cf->media.bind_addr, &a6) == 1;
		b->media_dual = b->media_ip6 && IN6_IS_ADDR_UNSPECIFIED(&a6);
	}
	conf_node_id(cf, b->node_id, sizeof(b->node_id));
	b->admit_timeout_ms = cf->data.admit_timeout_ms;
}

int b2bua_create(struct b2bua **bp, const struct conf *cf, struct route_table *rt)
{
	struct sipua_cfg ucfg = {0};
	struct b2bua *b;
	int err;

	if (!bp || !cf || !rt)
		return EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	copy_conf(b, cf);
	if (getrandom(&b->id_salt, sizeof(b->id_salt), 0) != sizeof(b->id_salt))
		b->id_salt = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
	snprintf(ucfg.bind_addr, sizeof(ucfg.bind_addr), "%s", cf->sip.listen_addr);
	ucfg.bind_port = cf->sip.listen_port;
	ucfg.udp = cf->sip.udp;
	ucfg.tcp = cf->sip.tcp;
	snprintf(ucfg.advertise_addr, sizeof(ucfg.advertise_addr), "%s", cf->sip.advertise_addr);
	ucfg.advertise_port = cf->sip.advertise_port;
	ucfg.retry_after = cf->sip.retry_after;
	ucfg.tls = cf->sip.tls;
	snprintf(ucfg.tls_addr, sizeof(ucfg.tls_addr), "%s", cf->sip.tls_addr);
	ucfg.tls_port = cf->sip.tls_port;
	snprintf(ucfg.tls_cert, sizeof(ucfg.tls_cert), "%s", cf->sip.tls_cert);
	snprintf(ucfg.tls_key, sizeof(ucfg.tls_key), "%s", cf->sip.tls_key);
	snprintf(ucfg.tls_ca, sizeof(ucfg.tls_ca), "%s", cf->sip.tls_ca);
	snprintf(ucfg.tls_ciphers, sizeof(ucfg.tls_ciphers), "%s", cf->sip.tls_ciphers);
	ucfg.t1x64_ms = cf->sip.transaction_timeout_ms;
	ucfg.t4_ms = cf->sip.timer_t4_ms;
	b2b_guard_cfg(cf, &ucfg.guard);
	if (cf->sip.user_agent[0])
		snprintf(ucfg.user_agent, sizeof(ucfg.user_agent), "%s", cf->sip.user_agent);
	else
		snprintf(ucfg.user_agent, sizeof(ucfg.user_agent), "trunx");
	err = sipua_create(&b->ua, &ucfg, on_event, on_check, b);
	if (err)
		goto fail;
	sipua_set_known(b->ua, on_known, b);
	sipua_set_tls_verify(b->ua, on_tls_verify, b);
	sipua_set_source_class(b->ua, b2b_source_class);
	sipua_set_admit(b->ua, b2b_front_admit);
	err = media_engine_create(&b->me, &b->media_cfg, on_media_event, b);
	if (err) {
		log_msg(LOG_ERROR, "b2bua.start", "media engine: %s", strerror(err));
		goto fail;
	}
	b->rt = route_table_ref(rt);
	b->rng = b->id_salt | 1;
	err = auth_nonces_create(&b->nonces, 30000);
	if (err)
		goto fail;
	b->ctl_rt = route_table_ref(rt);
	b->ctl_unknown_source = cf->sip.unknown_source;
	b->n_drop_nets = drop_nets_from(&cf->sip, rt, &b->drop_nets);
	if (b2b_nets_copy(b->drop_nets, b->n_drop_nets, &b->peer_nets) == 0)
		b->n_peer_nets = b->n_drop_nets;
	*bp = b;
	return 0;
fail:
	sipua_destroy(b->ua);
	free(b);
	return err;
}

static void trunks_sync_job(void *arg)
{
	b2b_trunks_sync(arg);
}

int b2bua_start(struct b2bua *b)
{
	int err;

	if (!b)
		return EINVAL;
	b->started = true;
	err = sipua_start(b->ua);
	if (!err) {
		drop_filter_apply(b);
		sipua_post(b->ua, trunks_sync_job, b);   /* the first snapshot's trunks */
	}
	return err;
}

struct sync_job {
	struct b2bua   *b;
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	bool            done;
	void          (*fn)(struct b2bua *b);
};

static void sync_job_run(void *arg)
{
	struct sync_job *j = arg;

	j->fn(j->b);
	pthread_mutex_lock(&j->lock);
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

/* Runs fn on the signalling thread and waits for it. False if it could not be posted. */
static bool run_sync(struct b2bua *b, void (*fn)(struct b2bua *b))
{
	struct sync_job j = {.b = b, .fn = fn};
	bool ok;

	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cond, NULL);
	ok = sipua_post(b->ua, sync_job_run, &j) == 0;
	if (ok) {
		pthread_mutex_lock(&j.lock);
		while (!j.done)
			pthread_cond_wait(&j.cond, &j.lock);
		pthread_mutex_unlock(&j.lock);
	}
	pthread_mutex_destroy(&j.lock);
	pthread_cond_destroy(&j.cond);
	return ok;
}

static void stop_calls(struct b2bua *b)
{
	struct call *c = b->calls, *next;

	b->stopping = true;
	b2b_trunks_stop(b);   /* registrations undone, qualify stopped */
	for (; c; c = next) {
		next = c->next;
		if (c->a || c->b_leg)
			call_hangup(c, "shutdown");
	}
}

static void aux_check(struct b2bua *b)
{
	atomic_store(&b->aux_busy, sipua_aux_pending(b->ua));
}

/* Last job before the stack goes down: no timer or leg of ours may outlive it. */
static void detach_calls(struct b2bua *b)
{
	b2b_view_stop(b);
	b2b_trunks_stop(b);
	for (struct call *c = b->calls; c; c = c->next) {
		sipua_timer_cancel(c->invite_timer);
		sipua_timer_cancel(c->ring_timer);
		c->invite_timer = c->ring_timer = NULL;
		if (c->a)
			sipua_leg_set_ctx(c->a, NULL);
		if (c->b_leg)
			sipua_leg_set_ctx(c->b_leg, NULL);
		c->a = c->b_leg = NULL;
	}
}

void b2bua_stop(struct b2bua *b)
{
	uint64_t deadline;

	if (!b || !b->ua)
		return;
	if (run_sync(b, stop_calls)) {
		deadline = sipua_now_ms() + (uint64_t)b->sip.shutdown_grace * 1000u;
		while (atomic_load(&b->c_active) > 0 && sipua_now_ms() < deadline) {
			struct timespec ts = {0, 20 * 1000000};
			nanosleep(&ts, NULL);
		}
		if (atomic_load(&b->c_active) > 0)
			log_msg(LOG_WARN, "b2bua.stop", "%" PRIu64 " calls still up after %u s",
				atomic_load(&b->c_active), b->sip.shutdown_grace);
		/* Registrars get a moment to answer our un-REGISTERs, no more. */
		deadline = sipua_now_ms() + UNREGISTER_WAIT_MS;
		while (sipua_now_ms() < deadline && run_sync(b, aux_check) &&
		       atomic_load(&b->aux_busy)) {
			struct timespec ts = {0, 20 * 1000000};
			nanosleep(&ts, NULL);
		}
		run_sync(b, detach_calls);
	}
	sipua_stop(b->ua);
}

void b2bua_destroy(struct b2bua *b)
{
	if (!b)
		return;
	b2bua_stop(b);
	sipua_destroy(b->ua);
	b->ua = NULL;
	media_engine_destroy(b->me);
	b->me = NULL;
	b->view_hook = NULL;   /* the calls abandoned below are no news to anyone */
	while (b->calls) {
		struct call *c = b->calls;

		c->ms = NULL;   /* the engine freed every session */
		call_abandon(c);   /* its record, without the final media counters */
	}
	route_table_unref(b->rt);
	route_table_unref(b->ctl_rt);
	auth_nonces_destroy(b->nonces);
	free(b->drop_nets);
	free(b->peer_nets);
	free(b);
}

/* ---- reload ---- */

struct reload_job {
	struct b2bua       *b;
	struct conf_sip     sip;
	struct route_table *rt;
	struct sipua_net   *nets;
	size_t              n_nets;
};

static void apply_reload(struct b2bua *b, const struct conf_sip *sip, struct route_table *rt,
			 struct sipua_net *nets, size_t n_nets)
{
	free(b->peer_nets);
	b->peer_nets = nets;
	b->n_peer_nets = n_nets;
	/* Only what can change live; addresses and ports need a restart. */
	b->sip.max_calls = sip->max_calls;
	b->sip.max_cps = sip->max_cps;
	b->sip.retry_after = sip->retry_after;
	b->sip.overload_delay_ms = sip->overload_delay_ms;
	sipua_set_retry_after(b->ua, sip->retry_after);
	b->sip.unknown_source = sip->unknown_source;
	b->sip.invite_timeout = sip->invite_timeout;
	b->sip.ring_timeout = sip->ring_timeout;
	b->sip.max_forwards = sip->max_forwards;
	b->sip.shutdown_grace = sip->shutdown_grace;
	if (rt) {   /* NULL: the routing stays (database mode) */
		route_table_unref(b->rt);
		b->rt = rt;
	}
}

static void reload_run(void *arg)
{
	struct reload_job *j = arg;

	apply_reload(j->b, &j->sip, j->rt, j->nets, j->n_nets);
	log_msg(LOG_INFO, "b2bua.reload", "routing and limits updated");
	free(j);
}

int b2bua_reload(struct b2bua *b, const struct conf *cf, struct route_table *rt)
{
	struct reload_job *j;
	int err;

	if (!b || !cf)
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->b = b;
	j->sip = cf->sip;
	j->rt = route_table_ref(rt);
	/* The filter is the caller's to change (any thread may set it). */
	if (rt) {   /* NULL: the routing stays (database mode: the last snapshot) */
		route_table_unref(b->ctl_rt);
		b->ctl_rt = route_table_ref(rt);
	}
	b->ctl_unknown_source = cf->sip.unknown_source;
	free(b->drop_nets);
	b->n_drop_nets = drop_nets_from(&cf->sip, b->ctl_rt, &b->drop_nets);
	drop_filter_apply(b);
	if (b2b_nets_copy(b->drop_nets, b->n_drop_nets, &j->nets) == 0)
		j->n_nets = b->n_drop_nets;
	{
		struct sipua_guard_cfg g;

		b2b_guard_cfg(cf, &g);
		sipua_set_guard(b->ua, &g);
	}
	err = sipua_post(b->ua, reload_run, j);
	if (err == ESHUTDOWN) {
		/* Not running: no other thread touches the context. */
		apply_reload(b, &j->sip, j->rt, j->nets, j->n_nets);
		free(j);
		return 0;
	}
	if (err) {
		route_table_unref(j->rt);
		free(j->nets);
		free(j);
	}
	return err;
}

/* ---- admission answers: control thread -> signalling thread ---- */

struct admitted_job {
	struct call       *c;
	enum admit_verdict v;
};

static void admitted_run(void *arg)
{
	struct admitted_job *j = arg;

	call_admitted(j->c, j->v);
	free(j);
}

int b2bua_admitted(struct b2bua *b, void *token, enum admit_verdict v)
{
	struct admitted_job *j;
	int err;

	if (!b || !token)
		return EINVAL;
	j = malloc(sizeof(*j));
	if (!j)
		return ENOMEM;
	j->c = token;
	j->v = v;
	err = sipua_post(b->ua, admitted_run, j);
	if (err)
		free(j);
	return err;
}

/* ---- routing from the database ---- */

struct routes_job {
	struct b2bua       *b;
	struct route_table *rt;
	struct sipua_net   *nets;     /* the guard's drop-mode peers of this snapshot */
	size_t              n_nets;
};

static void routes_run(void *arg)
{
	struct routes_job *j = arg;

	route_table_unref(j->b->rt);
	j->b->rt = j->rt;   /* b2b_source_class (the TCP guard, the rate limiter's
			       stateless answers) identifies trunks by this one */
	free(j->b->peer_nets);
	j->b->peer_nets = j->nets;
	j->b->n_peer_nets = j->n_nets;
	if (sipua_on_thread(j->b->ua))
		b2b_trunks_sync(j->b);   /* qualify, registration */
	free(j);
}

int b2bua_set_routes(struct b2bua *b, struct route_table *rt)
{
	struct routes_job *j;
	int err;

	if (!b || !rt)
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->b = b;
	j->rt = route_table_ref(rt);
	route_table_unref(b->ctl_rt);
	b->ctl_rt = route_table_ref(rt);
	/* The filter is the caller's to change (any thread may set it); the guard's copy
	 * of the same networks goes to the signalling thread with the snapshot. */
	if (b->ctl_unknown_source == CONF_UNKNOWN_DROP) {
		struct conf_sip sip = { .unknown_source = CONF_UNKNOWN_DROP };

		free(b->drop_nets);
		b->n_drop_nets = drop_nets_from(&sip, rt, &b->drop_nets);
		drop_filter_apply(b);
		if (b2b_nets_copy(b->drop_nets, b->n_drop_nets, &j->nets) == 0)
			j->n_nets = b->n_drop_nets;
	}
	err = sipua_post(b->ua, routes_run, j);
	if (err == ESHUTDOWN && !b->started) {
		/* Not running yet: no other thread touches the context. */
		routes_run(j);
		return 0;
	}
	if (err) {
		route_table_unref(j->rt);
		free(j->nets);
		free(j);
	}
	return err;
}

void b2bua_get_counters(const struct b2bua *b, struct b2bua_counters *c)
{
	struct b2bua *m = (struct b2bua *)b;   /* atomics are read, never written */
	struct media_engine_counters mc = {0};

	memset(c, 0, sizeof(*c));
	if (!b)
		return;
	c->calls_active = atomic_load(&m->c_active);
	c->calls_total = atomic_load(&m->c_total);
	c->calls_answered = atomic_load(&m->c_answered);
	c->calls_failed = atomic_load(&m->c_failed);
	c->rejected_overload = atomic_load(&m->c_overload);
	c->shed_overload = atomic_load(&m->c_shed);
	c->rejected_unknown_source = atomic_load(&m->c_unknown_rejected);
	c->dropped_unknown_source = atomic_load(&m->c_unknown_dropped) + sipua_filtered(m->ua);
	c->rejected_no_route = atomic_load(&m->c_no_route);
	c->rejected_bad_request = atomic_load(&m->c_bad_request);
	c->rtp_timeouts = atomic_load(&m->c_rtp_timeouts);
	{
		struct sipua_stats st;

		sipua_get_stats(m->ua, &st);
		c->in_dialog_refused = st.in_dialog_refused;
		c->in_dialog_bad = st.in_dialog_bad;
		c->contact_refused = st.contact_refused;
		c->offer_glare = st.glare;
		c->tls_refused = st.tls_refused;
		c->tls_refused_stranger = st.tls_stranger;
	}
	c->rejected_callerid = atomic_load(&m->c_callerid);
	c->rejected_refused = atomic_load(&m->c_refused);
	c->rejected_budget = atomic_load(&m->c_budget);
	c->rejected_admission = atomic_load(&m->c_admit_unavailable);
	c->auth_challenged = atomic_load(&m->c_auth_challenged);
	c->auth_failed = atomic_load(&m->c_auth_failed);
	c->failovers = atomic_load(&m->c_failover);
	if (b->me)
		media_engine_counters(b->me, &mc);
	c->media_workers = mc.workers;
	c->media_sessions = mc.sessions_active;
	c->media_ports_free = mc.ports_free;
	c->rtp_relayed = mc.rtp_relayed;
	c->rtp_dropped = mc.rtp_dropped;
	c->rtp_dropped_late = mc.rtp_dropped_late;
	c->rtp_foreign = atomic_load(&m->c_rtp_foreign);
	c->kfwd_active = mc.kfwd_active;
	c->kfwd_flows = mc.kfwd_flows;
	c->kfwd_packets = mc.kfwd_packets;
	for (int s = 0; s < 2; s++) {
		c->rtp_in_leg[s] = atomic_load(&m->c_rtp_in[s]);
		c->rtp_lost_leg[s] = atomic_load(&m->c_rtp_lost[s]);
	}
	{
		uint64_t sum = 0;

		for (int i = 0; i < B2BUA_LOSS_BUCKETS; i++) {   /* cumulative */
			sum += atomic_load(&m->c_loss_legs[i]);
			c->loss_legs[i] = sum;
		}
		c->loss_sum = (double)atomic_load(&m->c_loss_sum_ppm) / 1e6;
	}
	b2b_guard_counters(m, c);
}

int b2bua_media_worker_counters(const struct b2bua *b, unsigned idx,
				struct media_worker_counters *c)
{
	return media_engine_worker_counters(b->me, idx, c);
}

/* ---- queries from the control plane ---- */

struct query_job {
	struct b2bua  *b;
	b2bua_reply_h *h;
	void          *arg;
	char           id[CALL_ID_MAX];
};

/* Runs run(job) on the signalling thread; the job answers through h and frees itself.
 * call_id: the call it is about, or NULL. @return 0, EINVAL, ENOMEM or sipua_post's */
static int post_query(struct b2bua *b, void (*run)(void *), const char *call_id,
		      b2bua_reply_h *h, void *arg)
{
	struct query_job *j;
	int err;

	if (!b || !h || (call_id && strlen(call_id) >= CALL_ID_MAX))
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->b = b;
	j->h = h;
	j->arg = arg;
	if (call_id)
		snprintf(j->id, sizeof(j->id), "%s", call_id);
	err = sipua_post(b->ua, run, j);
	if (err)
		free(j);
	return err;
}

/* One call as the control plane sees it (trunxctl calls, GET /v1/calls). */
static json_t *call_json(const struct call *c, uint64_t wall)
{
	json_t *o = b2b_call_json_base(c);

	if (!o)
		return NULL;
	json_object_set_new(o, "duration_ms",
			    json_integer(c->t_answer_ms ? (json_int_t)(wall - c->t_answer_ms) : 0));
	json_object_set_new(o, "age_ms", json_integer((json_int_t)(wall - c->t_start_ms)));
	return o;
}

/* Every call (j->id ""), or the one call j->id names: a JSON array either way. */
static void list_run(void *arg)
{
	struct query_job *j = arg;
	json_t *arr = json_array();
	struct timespec ts;
	uint64_t wall;
	char *s = NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	for (struct call *c = j->b->calls; c && arr; c = c->next) {
		json_t *o;

		if (j->id[0] && strcmp(c->id, j->id) != 0)
			continue;
		o = call_json(c, wall);
		if (o)
			json_array_append_new(arr, o);
		if (j->id[0])
			break;
	}
	if (arr)
		s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	j->h(s ? 0 : ENOMEM, s, j->arg);
	free(j);
}

int b2bua_get_call(struct b2bua *b, const char *call_id, b2bua_reply_h *h, void *arg)
{
	if (!call_id || !call_id[0])
		return EINVAL;
	return post_query(b, list_run, call_id, h, arg);
}

int b2bua_list_calls(struct b2bua *b, b2bua_reply_h *h, void *arg)
{
	return post_query(b, list_run, NULL, h, arg);
}

static void trunks_run(void *arg)
{
	struct query_job *j = arg;
	json_t *arr = b2b_trunks_json(j->b);
	char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;

	json_decref(arr);
	j->h(s ? 0 : ENOMEM, s, j->arg);
	free(j);
}

int b2bua_list_trunks(struct b2bua *b, b2bua_reply_h *h, void *arg)
{
	return post_query(b, trunks_run, NULL, h, arg);
}

static void hangup_run(void *arg)
{
	struct query_job *j = arg;
	struct call *c;
	json_t *o;
	char *s;

	for (c = j->b->calls; c; c = c->next) {
		if (strcmp(c->id, j->id) == 0 && (c->a || c->b_leg))
			break;
	}
	o = json_pack("{s:s,s:s}", "id", j->id, "result", c ? "hangup" : "not found");
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (c) {
		call_log(LOG_INFO, "call.hangup", c, NULL, "asked by the control plane");
		call_hangup(c, "admin_hangup");
	}
	j->h(c ? 0 : ENOENT, s, j->arg);
	free(j);
}

int b2bua_hangup(struct b2bua *b, const char *call_id, b2bua_reply_h *h, void *arg)
{
	if (!call_id)
		return EINVAL;
	return post_query(b, hangup_run, call_id, h, arg);
}
