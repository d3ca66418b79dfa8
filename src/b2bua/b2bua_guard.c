/*
 * b2bua_guard.c — the call layer's side of the SIP front's guards: their settings
 * from the configuration and the open-file budget, the address-only source check
 * (which trunk, if any, a source belongs to), and their counters. (The admission the
 * front asks for new INVITEs is b2b_front_admit, in b2bua_call.c.)
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "b2bua_int.h"
#include "budget/budget.h"

void b2b_guard_cfg(const struct conf *cf, struct sipua_guard_cfg *g)
{
	memset(g, 0, sizeof(*g));
	g->tcp_max_connections = cf->sip.tcp_max_connections;
	if (!g->tcp_max_connections) {
		/* What the open-file budget leaves (main raised the limit already). */
		struct budget bd;
		struct rlimit rl;
		char err[256];

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    budget_plan(cf, budget_workers(cf), rl.rlim_cur, rl.rlim_cur, &bd, err,
				sizeof(err)) == 0)
			g->tcp_max_connections = (unsigned)bd.tcp;
		if (!g->tcp_max_connections)
			g->tcp_max_connections = BUDGET_TCP_MIN;
	}
	g->tcp_max_per_source = cf->sip.tcp_max_per_source;
	g->tcp_max_per_trunk = cf->sip.tcp_max_per_trunk;
	g->tcp_idle_ms = cf->sip.tcp_idle_ms;
	g->tcp_unknown_ms = cf->sip.tcp_unknown_ms;
	g->tcp_message_ms = cf->sip.tcp_message_ms;
	g->max_message = cf->sip.max_message_size;
	g->rate_per_s = cf->sip.rate_limit;
	g->rate_burst = cf->sip.rate_burst;
}

static bool in_net(const struct sipua_net *n, const struct sockaddr *sa)
{
	const uint8_t *a, *b;
	size_t len;

	if (n->addr.ss_family != sa->sa_family)
		return false;
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)&n->addr)->sin_addr;
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		len = 4;
	} else if (sa->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)&n->addr)->sin6_addr;
		b = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		len = 16;
	} else {
		return false;
	}
	for (unsigned bit = 0; bit < n->bits && bit < len * 8; bit += 8) {
		unsigned keep = n->bits - bit >= 8 ? 8 : n->bits - bit;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		if ((a[bit / 8] & mask) != (b[bit / 8] & mask))
			return false;
	}
	return true;
}

enum sipua_verdict b2b_source_class(const struct sockaddr *src, bool connection, void *arg)
{
	struct b2bua *b = arg;

	if (route_identify(b->rt, src))
		return SIPUA_ACCEPT;
	if (b->sip.unknown_source != CONF_UNKNOWN_DROP)
		return SIPUA_REJECT;
	if (connection) {
		/* Drop mode still lets the hosts we send calls to connect (they may send
		 * in-dialog requests over a new connection), as the UDP filter does. */
		for (size_t i = 0; i < b->n_peer_nets; i++)
			if (in_net(&b->peer_nets[i], src))
				return SIPUA_REJECT;
	}
	return SIPUA_DROP;
}

int b2b_nets_copy(const struct sipua_net *nets, size_t n, struct sipua_net **outp)
{
	*outp = NULL;
	if (!n)
		return 0;
	*outp = malloc(n * sizeof(**outp));
	if (!*outp)
		return ENOMEM;
	memcpy(*outp, nets, n * sizeof(**outp));
	return 0;
}

void b2b_guard_counters(struct b2bua *b, struct b2bua_counters *c)
{
	struct sipua_guard_stats s;

	sipua_guard_stats(b->ua, &s);
	c->rejected_unknown_source += s.stateless_rejected;
	c->dropped_unknown_source += s.stateless_dropped;
	c->rate_limited = s.rate_limited;
	c->dropped_not_sip = s.not_sip;
	c->options_stateless = s.stateless_ok;
	c->malformed_stateless = s.stateless_malformed;
	c->methods_stateless = s.stateless_unserved;
	c->overload_stateless = s.overload_refused;
	c->overload_resent = s.overload_resent;
	c->overload_forgotten = s.overload_table_full;
	c->acks_absorbed = s.acks_absorbed;
	c->tcp_open = s.tcp_open;
	c->tcp_accepted = s.tcp_accepted;
	c->tcp_refused_limit = s.tcp_refused_limit;
	c->tcp_refused_unknown = s.tcp_refused_unknown;
	c->tcp_refused_fd = s.tcp_refused_fd;
	c->tcp_closed_unknown = s.tcp_closed_unknown;
	c->tcp_closed_idle = s.tcp_closed_idle;
	c->tcp_closed_incomplete = s.tcp_closed_incomplete;
	c->log_suppressed = log_suppressed();
}
