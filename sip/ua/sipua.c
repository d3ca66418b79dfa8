/*
 * sipua.c — the signalling thread: su_root + NUA life cycle, the job queue other
 * threads post into, timers, and sofia-sip's logs routed into our JSON logger.
 *
 * DESIGN
 * sipua_start() spawns the thread and waits for it to report whether the stack bound
 * its sockets. The thread creates the su_root itself (a root belongs to the thread
 * that made it), turns threading off before nua_create() so the protocol engine runs
 * on this same thread, registers the job queue's eventfd in the root, and runs the
 * root. sipua_stop() posts a shutdown job: it releases silently dropped requests,
 * shortens the transaction lifetime to SIPUA_SHUTDOWN_T1X64_MS, calls nua_shutdown() and keeps the root running until nua_r_shutdown reports
 * completion (status >= 200); only then is the NUA destroyed (earlier aborts).
 */
#include "sipua_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <sofia-sip/nta_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#include "log.h"

/* Module log objects exported by the library but not declared in its headers. */
extern su_log_t nua_log[];
extern su_log_t nta_log[];
extern su_log_t tport_log[];

#define SIPUA_QUEUE_CAP 8192

struct sipua_job {
	sipua_job_h *fn;
	void        *arg;
	char         rid[32];   /**< the poster's request id (log.h): the job runs with it */
};

struct sipua_timer {
	su_timer_t  *t;
	sipua_job_h *fn;
	void        *arg;
};

uint64_t sipua_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *sipua_phrase(int status)
{
	const char *p = sip_status_phrase(status);

	return p ? p : "";
}

/* ---- sofia-sip logs -> JSON lines ---- */

size_t sipua_stack_log_shape(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		const char *close;

		out[o++] = in[i];
		if (in[i] == '<' && (close = memchr(in + i + 1, '>', len - i - 1)) != NULL) {
			i = (size_t)(close - in) - 1;   /* the '>' is copied next */
		} else if (in[i] == '0' && i + 1 < len && (in[i + 1] == 'x' || in[i + 1] == 'X')) {
			if (o + 1 < cap)
				out[o++] = in[++i];
			while (i + 1 < len && isxdigit((unsigned char)in[i + 1]))
				i++;
		}
	}
	out[o] = '\0';
	return o;
}

/* sofia writes a line in several calls; it is assembled in ua->logline. Logs come from
 * the signalling thread only (single-thread mode), so one buffer per agent suffices.
 * A line is written in its shape (sipua_stack_log_shape()). */
static void sofia_logger(void *stream, char const *fmt, va_list ap)
{
	struct sipua *ua = stream;
	int n;

	if (!ua)
		return;
	n = vsnprintf(ua->logline + ua->loglen, sizeof(ua->logline) - ua->loglen, fmt, ap);
	if (n > 0) {
		ua->loglen += (size_t)n;
		if (ua->loglen >= sizeof(ua->logline))
			ua->loglen = sizeof(ua->logline) - 1;
	}
	if (ua->loglen > 0 && (ua->logline[ua->loglen - 1] == '\n' ||
			       ua->loglen == sizeof(ua->logline) - 1)) {
		size_t len = ua->loglen;

		while (len > 0 && (ua->logline[len - 1] == '\n' || ua->logline[len - 1] == '\r'))
			len--;
		if (len > 0) {
			char shape[sizeof(ua->logline)];
			struct log_rec r;

			len = sipua_stack_log_shape(ua->logline, len, shape, sizeof(shape));
			if (log_begin(&r, LOG_WARN, "sip.stack")) {
				log_strn(&r, "msg", shape, len);
				log_end(&r);
			}
		}
		ua->loglen = 0;
	}
}

static void sofia_logs_setup(struct sipua *ua)
{
	su_log_t *logs[] = {su_log_default, nua_log, nta_log, tport_log};

	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		su_log_redirect(logs[i], sofia_logger, ua);
		/* Level 1: only the stack's serious complaints, unless the operator asked
		 * for more through SOFIA_DEBUG / NUA_DEBUG / ... */
		if (!getenv("SOFIA_DEBUG"))
			su_log_set_level(logs[i], 1);
	}
}

static void sofia_logs_reset(void)
{
	su_log_t *logs[] = {su_log_default, nua_log, nta_log, tport_log};

	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
		su_log_redirect(logs[i], NULL, NULL);
}

/* ---- jobs from other threads ---- */

static void job_run(void *msg, void *arg)
{
	struct sipua_job *j = msg;

	(void)arg;
	log_set_request_id(j->rid);
	j->fn(j->arg);
	log_set_request_id(NULL);
	free(j);
}

static int mq_wakeup(struct sipua *ua, su_wait_t *w, struct sipua *arg)
{
	(void)w;
	(void)arg;
	mq_drain(ua->mq);
	return 0;
}

int sipua_post(struct sipua *ua, sipua_job_h *fn, void *arg)
{
	struct sipua_job *j;
	int err;

	if (!ua || !fn)
		return EINVAL;
	if (!atomic_load(&ua->accepting))
		return ESHUTDOWN;
	j = malloc(sizeof(*j));
	if (!j)
		return ENOMEM;
	j->fn = fn;
	j->arg = arg;
	snprintf(j->rid, sizeof(j->rid), "%s", log_request_id() ? log_request_id() : "");
	err = mq_push(ua->mq, j);
	if (err)
		free(j);
	return err;
}

bool sipua_on_thread(const struct sipua *ua)
{
	return ua && ua->thread_started && pthread_equal(pthread_self(), ua->thread);
}

unsigned sipua_tpm(const struct sipua *ua)
{
	return (ua->cfg.udp ? SIPUA_TPM_UDP : 0u) | (ua->cfg.tcp ? SIPUA_TPM_TCP : 0u) |
	       (ua->cfg.tls ? SIPUA_TPM_TLS : 0u);
}

void sipua_set_known(struct sipua *ua, sipua_known_h *h, void *arg)
{
	if (!ua)
		return;
	ua->known = h;
	ua->known_arg = arg;
}

void sipua_get_stats(struct sipua *ua, struct sipua_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!ua)
		return;
	st->in_dialog_refused = atomic_load(&ua->st_in_dialog_refused);
	st->in_dialog_bad = atomic_load(&ua->st_in_dialog_bad);
	st->contact_refused = atomic_load(&ua->st_contact_refused);
	st->glare = atomic_load(&ua->st_glare);
	st->tls_refused = atomic_load(&ua->st_tls_refused);
	st->tls_stranger = atomic_load(&ua->st_tls_stranger);
}

/* May a message from src set a dialog target? A trunk, or the peer of a live leg
 * (anyone when there is no known-peer check). Runs inside the stack's parser
 * (sipua_mclass.c), on the signalling thread. */
static bool trust_source(const struct sockaddr *src, void *arg)
{
	struct sipua *ua = arg;

	if (!ua->known || sipua_peers_has(ua->peers, src) || ua->known(src, ua->known_arg))
		return true;
	atomic_fetch_add(&ua->st_contact_refused, 1);
	return false;
}

/* The dialog gate, inside the stack's parser (sipua_mclass.c). */
static bool gate_source(const char *call_id, const struct sockaddr *src, void *arg)
{
	return sipua_leg_gate(arg, call_id, src);
}

/* The answer check for our PRACKs, inside the stack's parser (sipua_mclass.c). */
static bool answer_prack(const char *call_id, const struct sockaddr *src, int status,
			 void *arg)
{
	return sipua_leg_prack_refused(arg, call_id, src, status);
}

void sipua_set_retry_after(struct sipua *ua, unsigned seconds)
{
	if (ua)
		atomic_store(&ua->retry_after, seconds ? seconds : 5);
}

uint16_t sipua_port(const struct sipua *ua)
{
	return ua ? ua->cfg.bind_port : 0;
}

/* ---- timers ---- */

static void timer_fire(struct sipua *ua, su_timer_t *t, struct sipua_timer *st)
{
	sipua_job_h *fn = st->fn;
	void *arg = st->arg;

	(void)ua;
	(void)t;
	su_timer_destroy(st->t);
	free(st);
	fn(arg);
}

int sipua_timer_start(struct sipua *ua, unsigned ms, sipua_job_h *fn, void *arg,
		      struct sipua_timer **tp)
{
	struct sipua_timer *st;

	if (!ua || !ua->root || !fn)
		return EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ENOMEM;
	st->t = su_timer_create(su_root_task(ua->root), ms ? ms : 1);
	if (!st->t) {
		free(st);
		return ENOMEM;
	}
	st->fn = fn;
	st->arg = arg;
	if (su_timer_set(st->t, timer_fire, st) < 0) {
		su_timer_destroy(st->t);
		free(st);
		return ENOMEM;
	}
	if (tp)
		*tp = st;
	return 0;
}

void sipua_timer_cancel(struct sipua_timer *t)
{
	if (!t)
		return;
	su_timer_destroy(t->t);
	free(t);
}

static void reaper_tick(struct sipua *ua, su_timer_t *t, struct sipua_timer *unused)
{
	(void)t;
	(void)unused;
	sipua_drop_reap(ua, false);
}

/* ---- thread ---- */

static void fmt_host(char *out, size_t len, const char *host)
{
	if (strchr(host, ':') && host[0] != '[')
		snprintf(out, len, "[%s]", host);
	else
		snprintf(out, len, "%s", host);
}

static void start_report(struct sipua *ua, int err)
{
	pthread_mutex_lock(&ua->lock);
	ua->start_err = err;
	ua->ready = true;
	pthread_cond_signal(&ua->cond);
	pthread_mutex_unlock(&ua->lock);
}

static void *sipua_thread(void *p)
{
	struct sipua *ua = p;
	char bind[SIPUA_HOST_MAX + 4], adv[SIPUA_HOST_MAX + 4], url[SIPUA_HOST_MAX * 2 + 64];
	char tls_bind[SIPUA_HOST_MAX + 4], sips[SIPUA_HOST_MAX * 2 + 64] = "";
	const char *tp = "";
	su_wait_t w[1];
	int err = 0;

	fmt_host(bind, sizeof(bind), ua->cfg.bind_addr);
	fmt_host(adv, sizeof(adv), ua->cfg.advertise_addr[0] ? ua->cfg.advertise_addr
							      : ua->cfg.bind_addr);
	if (ua->cfg.udp && !ua->cfg.tcp)
		tp = ";transport=udp";
	else if (!ua->cfg.udp && ua->cfg.tcp)
		tp = ";transport=tcp";
	if (strcmp(bind, adv) != 0)
		snprintf(url, sizeof(url), "sip:%s:%u;maddr=%s%s", adv, ua->cfg.bind_port,
			 ua->cfg.bind_addr, tp);
	else
		snprintf(url, sizeof(url), "sip:%s:%u%s", adv, ua->cfg.bind_port, tp);
	snprintf(ua->contact_udp, sizeof(ua->contact_udp), "<sip:%s:%u>", adv,
		 (unsigned)(ua->cfg.advertise_port ? ua->cfg.advertise_port : ua->cfg.bind_port));
	snprintf(ua->contact_tcp, sizeof(ua->contact_tcp), "<sip:%s:%u;transport=tcp>", adv,
		 (unsigned)(ua->cfg.advertise_port ? ua->cfg.advertise_port : ua->cfg.bind_port));
	if (ua->cfg.tls) {
		fmt_host(tls_bind, sizeof(tls_bind), ua->cfg.tls_addr);
		if (strcmp(tls_bind, adv) != 0)
			snprintf(sips, sizeof(sips), "sips:%s:%u;maddr=%s", adv, ua->cfg.tls_port,
				 ua->cfg.tls_addr);
		else
			snprintf(sips, sizeof(sips), "sips:%s:%u", adv, ua->cfg.tls_port);
		snprintf(ua->contact_tls, sizeof(ua->contact_tls), "<sip:%s:%u;transport=tls>",
			 adv, ua->cfg.tls_port);
	}

	su_init();
	sofia_logs_setup(ua);
	ua->root = su_root_create(ua);
	if (!ua->root) {
		err = ENOMEM;
		goto out;
	}
	su_root_threading(ua->root, 0);
	if (su_wait_create(w, mq_fd(ua->mq), SU_WAIT_IN) < 0) {
		err = ENOMEM;
		goto out;
	}
	ua->mq_reg = su_root_register(ua->root, w, mq_wakeup, ua, 0);
	if (ua->mq_reg < 0) {
		su_wait_destroy(w);
		err = ENOMEM;
		goto out;
	}
	/* The TLS context the stack makes gets trunx's verification (sipua_tls.c). */
	sipua_tls_attach(ua->cfg.tls ? ua : NULL);
	ua->nua = nua_create(ua->root, sipua_nua_event, ua,
			     NUTAG_URL(url),
			     TAG_IF(ua->cfg.tls, NUTAG_SIPS_URL(sips)),
			     TAG_IF(ua->cfg.tls, TPTAG_CERTIFICATE(ua->tls_dir)),
			     TAG_IF(ua->cfg.tls, TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_NONE)),
			     /* A connection closed under a request (a TLS handshake refused on
			      * the peer's certificate) fails that request at once (503), not
			      * 32 s later. */
			     TAG_IF(ua->cfg.tls, TPTAG_SDWN_ERROR(1)),
			     NUTAG_MEDIA_ENABLE(0),
			     /* Our parser: Contacts and routes trunx cannot use never reach
			      * a dialog (sipua_mclass.c). */
			     NTATAG_MCLASS(sipua_mclass_get(ua->mclass)),
			     /* The transaction layer answers 400 on its own only when it
			      * could not even match or answer the request (request line,
			      * From, To, CSeq, Call-ID, Via, Content-Length); every other
			      * bad header reaches trunx, whose source check comes first. */
			     NTATAG_BAD_REQ_MASK(sip_mask_request | sip_mask_response),
			     NTATAG_UDP_MTU(65535),
			     NTATAG_SERVER_RPORT(2),
			     /* Bursts at high call rates must not overflow the socket. */
			     TPTAG_UDP_RMEM(8 * 1024 * 1024), TPTAG_UDP_WMEM(4 * 1024 * 1024),
			     /* No STUN server on the SIP port: its error replies leak memory
			      * in this version, one buffer per STUN-looking datagram. */
			     TPTAG_STUN_SERVER(0),
			     TAG_IF(ua->cfg.t1x64_ms, NTATAG_SIP_T1X64(ua->cfg.t1x64_ms)),
			     TAG_IF(ua->cfg.t4_ms, NTATAG_SIP_T4(ua->cfg.t4_ms)),
			     TAG_END());
	sipua_tls_attach(NULL);
	if (!ua->nua) {
		log_msg(LOG_ERROR, "sip.start", "cannot bind SIP transport %s%s%s", url,
			sips[0] ? " / " : "", sips);
		err = EADDRINUSE;
		goto out;
	}
	/* Every method reaches trunx (Allow below), so every out-of-dialog request goes
	 * through the source check; answers advertise SIPUA_ALLOW only. */
	nua_set_params(ua->nua,
		       NUTAG_AUTOALERT(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOACK(1),
		       /* 100 Trying only once the source check accepted the INVITE, so a
			* silently dropped one gets nothing at all. */
		       NUTAG_AUTO100(0),
		       NUTAG_AUTO302(0), NUTAG_AUTO305(0),
		       NUTAG_ENABLEMESSAGE(1), NUTAG_ENABLEINVITE(1),
		       SIPTAG_ALLOW_STR("INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO, "
					"REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, REFER, PUBLISH"),
		       /* Replace, never merge: merging into the default list crashes this
			* version (msg_params_join). NULL first clears the default. */
		       NUTAG_APPL_METHOD(NULL),
		       /* BYE too: one that meets our re-INVITE waits for it (sipua_leg.c). */
		       NUTAG_APPL_METHOD("INVITE, REGISTER, PUBLISH, SUBSCRIBE, OPTIONS, UPDATE, "
					 "INFO, MESSAGE, NOTIFY, REFER, BYE"),
		       SIPTAG_SUPPORTED_STR("timer, 100rel"),
		       NUTAG_SESSION_TIMER(0), NUTAG_MIN_SE(90), NUTAG_UPDATE_REFRESH(1),
		       NUTAG_OUTBOUND("no-options-keepalive, no-validate"),
		       SIPTAG_USER_AGENT_STR(ua->cfg.user_agent[0] ? ua->cfg.user_agent
								 : "trunx"),
		       TAG_END());
	if (!sipua_yield_interposed())
		log_msg(LOG_WARN, "sip.start", "su_root_yield() not replaced: the stack's timers "
			"may misfire under load (sipua_yield.c)");
	if (ua->cfg.udp && sipua_qdelay_start(ua) != 0)
		log_msg(LOG_WARN, "sip.start", "UDP SIP socket not found or not timestamped: "
			"no queueing-delay measure, no load shedding");
	sipua_front_start(ua);
	ua->reaper = su_timer_create(su_root_task(ua->root), 1000);
	if (ua->reaper)
		su_timer_set_for_ever(ua->reaper, reaper_tick, NULL);
	atomic_store(&ua->accepting, true);
	start_report(ua, 0);
	log_msg(LOG_INFO, "sip.start", "SIP listening on %s%s%s", url, sips[0] ? " and " : "",
		sips);

	su_root_run(ua->root);

	atomic_store(&ua->accepting, false);
	mq_drain(ua->mq);
	sipua_legs_release_all(ua);
	sipua_aux_release_all(ua);
	if (ua->reaper)
		su_timer_destroy(ua->reaper);
	ua->reaper = NULL;
	ua->udp_fd = -1;   /* closed with the stack's transports */
	ua->n_udp_fds = 0;
	nua_destroy(ua->nua);
	ua->nua = NULL;
	sipua_front_stop(ua);
out:
	if (ua->root) {
		if (ua->mq_reg >= 0)
			su_root_deregister(ua->root, ua->mq_reg);
		su_root_destroy(ua->root);
		ua->root = NULL;
	}
	sofia_logs_reset();
	su_deinit();
	if (err)
		start_report(ua, err);
	return NULL;
}

int sipua_create(struct sipua **uap, const struct sipua_cfg *cfg, sipua_event_h *eh,
		 sipua_check_h *ch, void *arg)
{
	struct sipua *ua;
	uint64_t seed = 0;
	int err;

	if (!uap || !cfg || !eh || !cfg->bind_addr[0] || !cfg->bind_port ||
	    (!cfg->udp && !cfg->tcp) ||
	    (cfg->tls && (!cfg->tls_addr[0] || !cfg->tls_port || !cfg->tls_cert[0] ||
			  !cfg->tls_key[0])))
		return EINVAL;
	ua = calloc(1, sizeof(*ua));
	if (!ua)
		return ENOMEM;
	ua->cfg = *cfg;
	ua->eh = eh;
	ua->ch = ch;
	ua->arg = arg;
	ua->mq_reg = -1;
	atomic_init(&ua->accepting, false);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)sipua_now_ms() * 0x9e3779b97f4a7c15ull;
	ua->cid_state = seed | 1;
	err = mq_create(&ua->mq, SIPUA_QUEUE_CAP, job_run, ua);
	if (err) {
		free(ua);
		return err;
	}
	err = sipua_peers_create(&ua->peers);
	if (!err)
		err = sipua_mclass_create(&ua->mclass, sipua_tpm(ua), trust_source,
					  gate_source, ua);
	if (!err)
		sipua_mclass_set_answer(ua->mclass, answer_prack);
	if (err) {
		sipua_peers_destroy(ua->peers);
		mq_destroy(ua->mq);
		free(ua);
		return err;
	}
	pthread_mutex_init(&ua->lock, NULL);
	pthread_cond_init(&ua->cond, NULL);
	pthread_mutex_init(&ua->tap_lock, NULL);
	ua->tap_fd = -1;
	ua->udp_fd = -1;
	atomic_store(&ua->retry_after, cfg->retry_after ? cfg->retry_after : 5);
	atomic_init(&ua->tap_count, 0);
	atomic_init(&ua->st_in_dialog_refused, 0);
	atomic_init(&ua->st_in_dialog_bad, 0);
	atomic_init(&ua->st_contact_refused, 0);
	atomic_init(&ua->st_glare, 0);
	atomic_init(&ua->st_tls_refused, 0);
	atomic_init(&ua->st_tls_stranger, 0);
	*uap = ua;
	return 0;
}

int sipua_start(struct sipua *ua)
{
	int err;

	if (!ua || ua->thread_started)
		return EINVAL;
	ua->ready = false;
	err = sipua_tls_prepare(ua);
	if (err)
		return err;
	err = pthread_create(&ua->thread, NULL, sipua_thread, ua);
	if (err) {
		sipua_tls_unprepare(ua);
		return err;
	}
	ua->thread_started = true;
	pthread_mutex_lock(&ua->lock);
	while (!ua->ready)
		pthread_cond_wait(&ua->cond, &ua->lock);
	err = ua->start_err;
	pthread_mutex_unlock(&ua->lock);
	sipua_tls_unprepare(ua);   /* the stack has read its files */
	if (err) {
		pthread_join(ua->thread, NULL);
		ua->thread_started = false;
	}
	return err;
}

static void shutdown_job(void *arg)
{
	struct sipua *ua = arg;

	if (ua->stopping)
		return;
	ua->stopping = true;
	sipua_drop_reap(ua, true);
	/* REGISTER and OPTIONS handles go before the stack would un-REGISTER them and
	 * wait up to 30 s for registrars that do not answer (the owner had its chance
	 * to un-register, sipua_reg_stop() and sipua_aux_pending()). */
	sipua_aux_release_all(ua);
	/* A PRACK of ours still out would time out in the shortened time below with its
	 * INVITE open, which this stack answers with a leak (sipua_leg.c, PRACK). */
	sipua_legs_end_prack(ua);
	/* Shortens the transactions still out (timer F of the last BYEs) so a peer that
	 * answers nothing holds the exit for seconds, not 32 s; queued before the
	 * shutdown, so applied first. */
	if (!ua->cfg.t1x64_ms || ua->cfg.t1x64_ms > SIPUA_SHUTDOWN_T1X64_MS)
		nua_set_params(ua->nua, NTATAG_SIP_T1X64(SIPUA_SHUTDOWN_T1X64_MS), TAG_END());
	nua_shutdown(ua->nua);
}

void sipua_stop(struct sipua *ua)
{
	struct sipua_job *j;

	if (!ua || !ua->thread_started)
		return;
	/* The shutdown job bypasses sipua_post() so it is never refused. */
	j = calloc(1, sizeof(*j));
	if (j) {
		j->fn = shutdown_job;
		j->arg = ua;
		while (mq_push(ua->mq, j) == EAGAIN) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	pthread_join(ua->thread, NULL);
	ua->thread_started = false;
}

void sipua_destroy(struct sipua *ua)
{
	if (!ua)
		return;
	sipua_stop(ua);
	sipua_set_source_filter(ua, NULL, 0);   /* closes the counting socket */
	pthread_mutex_destroy(&ua->tap_lock);
	mq_destroy(ua->mq);
	sipua_mclass_destroy(ua->mclass);
	sipua_peers_destroy(ua->peers);
	pthread_mutex_destroy(&ua->lock);
	pthread_cond_destroy(&ua->cond);
	free(ua);
}
