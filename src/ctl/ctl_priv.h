/*
 * ctl_priv.h — the control plane's private structures, shared by ctl.c (thread,
 * listener, mailbox), ctl_client.c (connections, commands) and ctl_sock.c (socket
 * file). Nothing here leaves src/ctl/.
 */
#ifndef TRUNX_CTL_PRIV_H
#define TRUNX_CTL_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ctl/ctl.h"
#include "ctl/ctl_proto.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;
struct mq;
struct ctl_client;

/**
 * The reply mailbox. Shared between the control thread and every thread holding an
 * unanswered query, so it is reference-counted (one reference for ctl, one per query
 * in flight). Once closed, late answers are freed by the posting thread.
 */
struct ctl_mbox {
	_Atomic unsigned refs;
	pthread_mutex_t  lock;     /**< guards closed against concurrent posts */
	bool             closed;   /**< ctl is gone: posts free their answer */
	struct mq       *mq;       /**< pending answers, drained on the control thread */
};

/** One asynchronous query in flight. Freed on the control thread (or by a late post). */
struct ctl_pending {
	struct ctl_mbox   *mbox;   /**< reference held until freed */
	struct ctl_client *client; /**< control thread only; NULL once the client left */
	enum ctl_cmd       cmd;
	int                status; /**< the answer, set by the posting thread */
	char              *json;   /**< the answer, owned */
};

struct ctl_client {
	struct ctl          *ctl;
	struct bufferevent  *bev;
	struct event        *req_timer;  /**< request timeout while a query is in flight */
	struct ctl_pending  *pending;    /**< query in flight, or NULL */
	bool                 closing;    /**< free once the output buffer has drained */
	bool                 held;       /**< reading stopped: answers wait unsent */
	struct ctl_client   *prev, *next;
};

struct ctl {
	struct ctl_cfg         cfg;
	struct ctl_ops         ops;
	void                  *arg;
	struct event_base     *base;
	struct evconnlistener *listener;
	struct event          *wake_ev;
	struct event          *mq_ev;
	struct event          *resume_ev;    /**< accepting again after an accept() error */
	struct ctl_mbox       *mbox;
	int                    wake_fd;      /**< eventfd: stop / reload requested */
	_Atomic int            stop_req;
	_Atomic int            reload_req;
	pthread_t              thread;
	bool                   running;      /**< thread started and not joined */
	struct timespec        started;      /**< CLOCK_MONOTONIC at creation */
	dev_t                  sock_dev;     /**< identity of the socket file we made */
	ino_t                  sock_ino;
	bool                   sock_made;
	struct ctl_client     *clients;      /**< control thread only */
	unsigned               n_clients;
	unsigned               n_pending;    /**< queries in flight (bounded by MQ size) */
	uint64_t               requests;     /**< requests handled since start */
};

/** Unsent answer bytes past which a client's next request is not read (until they
 * are sent): a client that pipelines requests without reading the answers holds this
 * much plus one answer, then TCP's (the socket's) flow control stops it. */
#define CTL_OUT_MAX (64u << 10)

/** Most queries in flight at once; the mailbox queue holds this many answers. */
#define CTL_MAX_PENDING 256

/* ctl_sock.c */
int ctl_sock_listen(struct ctl *ctl, int *fdp);
void ctl_sock_unlink(struct ctl *ctl);

/* ctl_client.c (control thread) */
void ctl_client_accept(struct ctl *ctl, int fd);
void ctl_client_free(struct ctl_client *cl);
void ctl_client_answer(struct ctl_pending *p);
void ctl_run_reload(struct ctl *ctl, struct ctl_client *cl);

/* ctl.c */
int ctl_pending_new(struct ctl *ctl, struct ctl_client *cl, enum ctl_cmd cmd,
		    struct ctl_pending **pp);
void ctl_pending_free(struct ctl_pending *p);
void ctl_on_answer(int status, char *json, void *arg);

#endif
