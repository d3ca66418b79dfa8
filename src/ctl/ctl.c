/*
 * ctl.c — the control plane thread: its event_base, the listener, the wake-up
 * eventfd (stop, reload) and the reply mailbox through which other threads hand
 * answers back (see ctl.h for the design).
 *
 * Lifetimes: struct ctl and every libevent object belong to the control thread
 * while it runs (to the creating thread before ctl_start and after ctl_stop). The
 * mailbox alone is shared: it lives as long as ctl or any query still in flight.
 */
#include "ctl/ctl_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "log.h"
#include "mq.h"

/* ---- mailbox --------------------------------------------------------------- */

static void mbox_unref(struct ctl_mbox *mb)
{
	if (atomic_fetch_sub(&mb->refs, 1) != 1)
		return;
	/* Last reference: closed and drained, so the queue is empty. */
	mq_destroy(mb->mq);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}

/* mq handler: an answer reached the control thread (or the destroying thread). */
static void mbox_deliver(void *msg, void *arg)
{
	struct ctl_pending *p = msg;
	struct ctl *ctl = arg;

	ctl->n_pending--;
	if (p->client)
		ctl_client_answer(p);   /* detaches p from its client */
	ctl_pending_free(p);
}

int ctl_pending_new(struct ctl *ctl, struct ctl_client *cl, enum ctl_cmd cmd,
		    struct ctl_pending **pp)
{
	struct ctl_pending *p;

	if (ctl->n_pending >= CTL_MAX_PENDING)
		return EBUSY;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->mbox = ctl->mbox;
	atomic_fetch_add(&p->mbox->refs, 1);
	p->client = cl;
	p->cmd = cmd;
	ctl->n_pending++;
	*pp = p;
	return 0;
}

void ctl_pending_free(struct ctl_pending *p)
{
	if (!p)
		return;
	free(p->json);
	mbox_unref(p->mbox);
	free(p);
}

/* Runs on the answering thread: only posts. */
void ctl_on_answer(int status, char *json, void *arg)
{
	struct ctl_pending *p = arg;
	struct ctl_mbox *mb = p->mbox;
	bool posted = false;

	p->status = status;
	p->json = json;
	pthread_mutex_lock(&mb->lock);
	if (!mb->closed)
		posted = mq_push(mb->mq, p) == 0;
	pthread_mutex_unlock(&mb->lock);
	if (!posted) {
		/* ctl is gone (or, impossibly, the bounded queue is full: n_pending
		 * never exceeds its capacity). Nobody can receive it. */
		ctl_pending_free(p);
	}
}

static int mbox_create(struct ctl *ctl)
{
	struct ctl_mbox *mb = calloc(1, sizeof(*mb));
	int err;

	if (!mb)
		return ENOMEM;
	err = mq_create(&mb->mq, CTL_MAX_PENDING, mbox_deliver, ctl);
	if (err) {
		free(mb);
		return err;
	}
	pthread_mutex_init(&mb->lock, NULL);
	atomic_init(&mb->refs, 1);
	ctl->mbox = mb;
	return 0;
}

static void mbox_close(struct ctl *ctl)
{
	struct ctl_mbox *mb = ctl->mbox;

	if (!mb)
		return;
	pthread_mutex_lock(&mb->lock);
	mb->closed = true;
	pthread_mutex_unlock(&mb->lock);
	/* No push can happen any more; free what arrived (no client is left). */
	mq_drain(mb->mq);
	ctl->mbox = NULL;
	mbox_unref(mb);
}

/* ---- events on the control thread -------------------------------------------- */

static void on_mq(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *ctl = arg;

	(void)fd;
	(void)what;
	mq_drain(ctl->mbox->mq);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *ctl = arg;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	if (atomic_load(&ctl->stop_req)) {
		event_base_loopbreak(ctl->base);
		return;
	}
	if (atomic_exchange(&ctl->reload_req, 0))
		ctl_run_reload(ctl, NULL);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	ctl_client_accept(arg, fd);
}

/* EMFILE and friends: the connection stays in the backlog, so the listener would be
 * readable again at once (a spin of failing accept() calls, a line each). Keep serving
 * the clients we have and try again in a second. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct ctl *ctl = arg;
	struct timeval second = {1, 0};
	int err = EVUTIL_SOCKET_ERROR();

	log_msg(LOG_WARN, "ctl.accept_failed", "accept: %s; accepting paused 1 s",
		strerror(err));
	evconnlistener_disable(l);
	evtimer_add(ctl->resume_ev, &second);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *ctl = arg;

	(void)fd;
	(void)what;
	if (ctl->listener)
		evconnlistener_enable(ctl->listener);
}

static void *ctl_thread(void *arg)
{
	struct ctl *ctl = arg;
	sigset_t set;

	/* A client that leaves mid-reply must cost an EPIPE, never a SIGPIPE. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	event_base_dispatch(ctl->base);
	while (ctl->clients)
		ctl_client_free(ctl->clients);
	return NULL;
}

/* ---- public API ---------------------------------------------------------------- */

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

/* libevent's own complaints (an accept() error, a bad descriptor) as log records, so
 * that the repeat limit of the log holds them too; its debug lines are dropped. */
static void evlog(int severity, const char *msg)
{
	if (severity == EVENT_LOG_DEBUG)
		return;
	log_msg(severity >= EVENT_LOG_ERR ? LOG_ERROR : LOG_WARN, "libevent", "%s", msg);
}

static void evthread_init(void)
{
	evthread_use_pthreads();
	event_set_log_callback(evlog);
}

static void apply_defaults(struct ctl_cfg *cfg)
{
	if (!cfg->idle_timeout_ms)
		cfg->idle_timeout_ms = 30000;
	if (!cfg->request_timeout_ms)
		cfg->request_timeout_ms = 10000;
	if (!cfg->max_clients)
		cfg->max_clients = 32;
	if (!cfg->line_max)
		cfg->line_max = 1024;
}

int ctl_create(struct ctl **ctlp, const struct ctl_cfg *cfg, const struct ctl_ops *ops,
	       void *arg)
{
	struct ctl *ctl = NULL;
	int fd = -1, err;

	if (!ctlp || !cfg || !ops || !memchr(cfg->socket_path, '\0', sizeof(cfg->socket_path)))
		return EINVAL;
	pthread_once(&evthread_once, evthread_init);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return ENOMEM;
	ctl->cfg = *cfg;
	apply_defaults(&ctl->cfg);
	ctl->ops = *ops;
	ctl->arg = arg;
	ctl->wake_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &ctl->started);
	err = mbox_create(ctl);
	if (err)
		goto out;
	ctl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ctl->wake_fd < 0) {
		err = errno;
		goto out;
	}
	ctl->base = event_base_new();
	if (!ctl->base) {
		err = ENOMEM;
		goto out;
	}
	ctl->wake_ev = event_new(ctl->base, ctl->wake_fd, EV_READ | EV_PERSIST, on_wake, ctl);
	ctl->mq_ev = event_new(ctl->base, mq_fd(ctl->mbox->mq), EV_READ | EV_PERSIST,
			       on_mq, ctl);
	ctl->resume_ev = evtimer_new(ctl->base, on_resume, ctl);
	if (!ctl->wake_ev || !ctl->mq_ev || !ctl->resume_ev || event_add(ctl->wake_ev, NULL) != 0 ||
	    event_add(ctl->mq_ev, NULL) != 0) {
		err = ENOMEM;
		goto out;
	}
	err = ctl_sock_listen(ctl, &fd);
	if (err)
		goto out;
	ctl->listener = evconnlistener_new(ctl->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE,
					   -1, fd);
	if (!ctl->listener) {
		close(fd);
		err = ENOMEM;
		goto out;
	}
	evconnlistener_set_error_cb(ctl->listener, on_accept_error);
	log_msg(LOG_INFO, "ctl.listen", "control socket %s", ctl->cfg.socket_path);
out:
	if (err) {
		ctl_destroy(ctl);
		return err;
	}
	*ctlp = ctl;
	return 0;
}

struct event_base *ctl_event_base(struct ctl *ctl)
{
	return ctl ? ctl->base : NULL;
}

int ctl_start(struct ctl *ctl)
{
	int err;

	if (!ctl || ctl->running)
		return EINVAL;
	err = pthread_create(&ctl->thread, NULL, ctl_thread, ctl);
	if (err)
		return err;
	ctl->running = true;
	return 0;
}

static void wake(struct ctl *ctl)
{
	uint64_t one = 1;
	ssize_t w;

	do {
		w = write(ctl->wake_fd, &one, sizeof(one));
	} while (w < 0 && errno == EINTR);
}

void ctl_request_reload(struct ctl *ctl)
{
	int saved = errno;   /* callable from a signal handler */

	if (!ctl)
		return;
	atomic_store(&ctl->reload_req, 1);
	wake(ctl);
	errno = saved;
}

void ctl_stop(struct ctl *ctl)
{
	if (!ctl || !ctl->running)
		return;
	atomic_store(&ctl->stop_req, 1);
	wake(ctl);
	pthread_join(ctl->thread, NULL);
	ctl->running = false;
}

void ctl_destroy(struct ctl *ctl)
{
	if (!ctl)
		return;
	ctl_stop(ctl);
	while (ctl->clients)   /* only if never started: none */
		ctl_client_free(ctl->clients);
	if (ctl->listener)
		evconnlistener_free(ctl->listener);
	ctl_sock_unlink(ctl);
	if (ctl->wake_ev)
		event_free(ctl->wake_ev);
	if (ctl->mq_ev)
		event_free(ctl->mq_ev);
	if (ctl->resume_ev)
		event_free(ctl->resume_ev);
	mbox_close(ctl);
	if (ctl->base)
		event_base_free(ctl->base);
	if (ctl->wake_fd >= 0)
		close(ctl->wake_fd);
	free(ctl);
}
