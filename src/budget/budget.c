/*
 * budget.c — the open-file budget (see budget.h): plan it from the configuration and
 * the limits, and raise the soft limit at start-up.
 */
#include "budget/budget.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

unsigned budget_workers(const struct conf *cf)
{
	long n;

	if (cf->media.workers)
		return cf->media.workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int budget_plan(const struct conf *cf, unsigned workers, uint64_t soft, uint64_t hard,
		struct budget *b, char *err, size_t errlen)
{
	uint64_t fixed;
	bool streams;

	b->soft = soft;
	b->hard = hard;
	b->reserve = BUDGET_BASE + (uint64_t)BUDGET_PER_WORKER * workers;
	b->media = (uint64_t)BUDGET_PER_CALL * cf->sip.max_calls;
	b->api = (cf->api.listen_addr[0] ? (uint64_t)cf->api.max_connections : 0) +
		 (cf->api.service_listen[0] ? (uint64_t)cf->api.max_connections : 0);
	b->tcp = cf->sip.tcp_max_connections ? cf->sip.tcp_max_connections : BUDGET_TCP_AUTO;
	b->tcp_shrunk = false;
	fixed = b->reserve + b->media + b->api;
	/* TLS connections count against the same caps as TCP ones. */
	streams = cf->sip.tcp || cf->sip.tls;
	if (!streams && !cf->sip.tcp_max_connections)
		b->tcp = 0;
	if (!cf->sip.tcp_max_connections && streams && fixed + b->tcp > hard) {
		/* Automatic cap: what the hard limit leaves after the calls. */
		b->tcp = hard > fixed ? hard - fixed : 0;
		b->tcp_shrunk = true;
		if (b->tcp < BUDGET_TCP_MIN) {
			snprintf(err, errlen,
				 "open-file limit too low: max_calls %u needs %" PRIu64 " descriptors "
				 "(%d per call) plus %" PRIu64 " for trunxd itself, %" PRIu64
				 " for API connections and at least %d "
				 "for SIP connections, %" PRIu64 " in all; the hard limit is %" PRIu64
				 " (raise LimitNOFILE / ulimit -n, or lower max_calls)",
				 cf->sip.max_calls, b->media, BUDGET_PER_CALL, b->reserve, b->api,
				 BUDGET_TCP_MIN, fixed + BUDGET_TCP_MIN, hard);
			return EMFILE;
		}
	}
	b->needed = fixed + b->tcp;
	if (b->needed > hard) {
		snprintf(err, errlen,
			 "open-file limit too low: max_calls %u needs %" PRIu64 " descriptors "
			 "(%d per call), tcp_max_connections %" PRIu64 ", API connections %" PRIu64
			 ", trunxd itself %" PRIu64 ": %" PRIu64 " in all; the hard limit is %" PRIu64
			 " (raise LimitNOFILE / ulimit -n, or lower max_calls, tcp_max_connections "
			 "or [api] max_connections)",
			 cf->sip.max_calls, b->media, BUDGET_PER_CALL, b->tcp, b->api, b->reserve,
			 b->needed, hard);
		return EMFILE;
	}
	b->limit = soft >= b->needed ? soft : b->needed;
	return 0;
}

int budget_apply(const struct conf *cf, struct budget *b, char *err, size_t errlen)
{
	struct rlimit rl;
	uint64_t soft, hard;
	int e;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE) failed");
		return errno;
	}
	soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
	e = budget_plan(cf, budget_workers(cf), soft, hard, b, err, errlen);
	if (e || b->limit == soft)
		return e;
	rl.rlim_cur = (rlim_t)b->limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		e = errno;
		snprintf(err, errlen, "cannot raise the open-file limit from %" PRIu64 " to %" PRIu64,
			 soft, b->limit);
		return e;
	}
	return 0;
}
