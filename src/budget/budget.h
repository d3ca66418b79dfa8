/*
 * budget.h — trunxd's open-file budget. Every call holds four sockets (an RTP/RTCP
 * pair per leg), every accepted SIP or API connection one, and the process needs a base of
 * its own (stdio, epoll and event descriptors of each thread, the SIP and control
 * sockets and their clients, the resolver, the spare descriptor of the SIP guards).
 * At start-up the soft RLIMIT_NOFILE is raised toward what max_calls and the SIP
 * connection cap need; when even the hard limit is too low, trunxd refuses to start
 * with the numbers. tcp_max_connections = 0 takes what the limit leaves (at most
 * BUDGET_TCP_AUTO), so that calls always keep their media sockets.
 */
#ifndef TRUNX_BUDGET_H
#define TRUNX_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

#define BUDGET_PER_CALL   4      /**< media sockets per call */
#define BUDGET_BASE       64     /**< descriptors besides calls, connections, workers */
#define BUDGET_PER_WORKER 4      /**< per media worker (epoll, event descriptors) */
#define BUDGET_TCP_AUTO   1024   /**< tcp_max_connections = 0: at most this many */
#define BUDGET_TCP_MIN    16     /**< ... and at least this many, or no start */

struct budget {
	uint64_t soft, hard;     /**< RLIMIT_NOFILE as found (UINT64_MAX: unlimited) */
	uint64_t limit;          /**< the soft limit to run with */
	uint64_t reserve;        /**< base + workers */
	uint64_t media;          /**< BUDGET_PER_CALL * max_calls */
	uint64_t tcp;            /**< SIP connections allowed */
	uint64_t api;            /**< API connections ([api] max_connections per listener) */
	uint64_t needed;         /**< reserve + media + api + tcp */
	bool     tcp_shrunk;     /**< tcp_max_connections = 0 got less than BUDGET_TCP_AUTO */
};

/**
 * Plans the budget of a configuration under given limits (pure).
 * @param workers  media workers the engine runs (the resolved count)
 * @return 0; EMFILE with a message naming the numbers when it cannot fit
 */
int budget_plan(const struct conf *cf, unsigned workers, uint64_t soft, uint64_t hard,
		struct budget *b, char *err, size_t errlen);

/**
 * Plans with the process's limits and raises the soft limit to b->limit.
 * @return 0, EMFILE (does not fit, message in err), or the errno of setrlimit
 */
int budget_apply(const struct conf *cf, struct budget *b, char *err, size_t errlen);

/** The media workers a configuration runs (0 = one per online CPU). */
unsigned budget_workers(const struct conf *cf);

#endif
