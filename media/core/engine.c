/*
 * engine.c — the media engine's public API (media.h): workers, the port pool, and the
 * owner-thread half of every session.
 *
 * DESIGN
 * media_engine_create() freezes the configuration, builds the port pool and starts N
 * workers. media_session_create() runs on the owner (signalling) thread: it takes two
 * port pairs from the pool and binds the four sockets right away, so the ports can go
 * into SDP before the worker has even seen the session, then pins the session to the
 * worker with the fewest sessions and posts it there. From then on the owner only
 * posts updates and the close through the worker's control list, which cannot fail
 * (an update not yet applied is replaced by a newer one). The worker closes the
 * sockets, returns the ports and reports MEDIA_EV_CLOSED.
 */
#include "media.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtmf.h"
#include "engine.h"
#include "kfwd.h"
#include "log.h"
#include "record.h"
#include "worker.h"

#define ENGINE_WORKERS_MAX 256
#define ENGINE_RELATCH_MS  2000   /**< default silence before another source may latch */
#define ENGINE_DSCP_EF     0xb8   /**< TOS byte for expedited forwarding (RFC 3246) */

/* Loads the in-kernel forwarding if asked; a failure only leaves it off. */
static void kfwd_start(struct media_engine *me)
{
	const char *why = "";
	int err;

	if (me->cfg.kernel_forward == MEDIA_KFWD_OFF)
		return;
	/* auto: only as a tcx link, which the kernel removes with the process; on: a tc
	 * filter where the kernel has no tcx, which a SIGKILL leaves behind */
	err = kfwd_create(&me->kf, &me->bind,
			  me->cfg.kernel_forward == MEDIA_KFWD_ON ? KFWD_TC_FALLBACK : 0, &why);
	if (err) {
		log_msg(me->cfg.kernel_forward == MEDIA_KFWD_ON ? LOG_ERROR : LOG_INFO,
			"media.kernel_forward", "off, pure relays stay in userspace: %s (%s)",
			why, strerror(err));
		return;
	}
	log_msg(LOG_INFO, "media.kernel_forward", "on: pure-relay RTP to %s is forwarded "
		"by a tc program (%s delivery)", me->cfg.bind_addr,
		kfwd_local(me->kf) ? "local" : "routed");
}

int media_engine_create(struct media_engine **mep, const struct media_engine_cfg *cfg,
			media_event_h *eh, void *arg)
{
	struct media_engine *me;
	long ncpu;
	int err;

	if (!mep || !cfg || cfg->workers > ENGINE_WORKERS_MAX)
		return EINVAL;
	me = calloc(1, sizeof(*me));
	if (!me)
		return ENOMEM;
	me->cfg = *cfg;
	me->cfg.bind_addr[sizeof(me->cfg.bind_addr) - 1] = '\0';
	if (!me->cfg.relatch_ms)
		me->cfg.relatch_ms = ENGINE_RELATCH_MS;
	me->eh = eh;
	me->arg = arg;
	err = sa_parse(&me->bind, me->cfg.bind_addr, 0);
	if (err)
		goto out;
	me->scfg.rtp_timeout_ms = me->cfg.rtp_timeout_ms;
	me->scfg.hold_timeout_ms = me->cfg.hold_timeout_ms;
	me->scfg.relatch_ms = me->cfg.relatch_ms;
	me->scfg.latch_any = me->cfg.latch == MEDIA_LATCH_ANY;
	me->scfg.jb_max_ms = me->cfg.jb_max_ms ? me->cfg.jb_max_ms : 200;
	me->scfg.family = me->bind.sa.sa_family;
	err = portpool_create(&me->pool, cfg->port_min, cfg->port_max);
	if (err)
		goto out;
	me->nworkers = cfg->workers;
	if (!me->nworkers) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		me->nworkers = ncpu < 1 ? 1 : ncpu > ENGINE_WORKERS_MAX ? ENGINE_WORKERS_MAX
									: (unsigned)ncpu;
	}
	me->workers = calloc(me->nworkers, sizeof(*me->workers));
	if (!me->workers) {
		err = ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < me->nworkers; i++) {
		err = worker_create(&me->workers[i], me, i);
		if (err)
			goto out;
	}
	err = rec_writer_create(&me->writer);
	if (err)
		goto out;
	kfwd_start(me);
	for (unsigned i = 0; i < me->nworkers; i++) {
		err = worker_start(me->workers[i]);
		if (err)
			goto out;
	}
out:
	if (err) {
		log_msg(LOG_ERROR, "media.engine", "cannot start the media engine: %s",
			strerror(err));
		media_engine_destroy(me);
		return err;
	}
	*mep = me;
	return 0;
}

void media_engine_destroy(struct media_engine *me)
{
	if (!me)
		return;
	for (unsigned i = 0; me->workers && i < me->nworkers; i++)
		worker_destroy(me->workers[i]);
	free(me->workers);
	kfwd_destroy(me->kf);   /* after the workers: they removed their entries */
	rec_writer_destroy(me->writer);   /* after the workers: every recording finished */
	portpool_destroy(me->pool);
	free(me);
}

void media_engine_counters(const struct media_engine *me, struct media_engine_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (!me)
		return;
	c->workers = me->nworkers;
	c->sessions_active = atomic_load(&me->sessions_active);
	c->sessions_total = atomic_load(&me->sessions_total);
	c->ports_free = portpool_free_count(me->pool);
	for (unsigned i = 0; i < me->nworkers; i++) {
		uint64_t r, d, l;

		worker_packet_counters(me->workers[i], &r, &d, &l);
		c->rtp_relayed += r;
		c->rtp_dropped += d;
		c->rtp_dropped_late += l;
	}
	c->kfwd_active = me->kf != NULL;
	c->kfwd_flows = atomic_load(&me->kf_flows);
	c->kfwd_packets = atomic_load(&me->kf_packets);
}

int media_engine_worker_counters(const struct media_engine *me, unsigned idx,
				 struct media_worker_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (!me || idx >= me->nworkers)
		return EINVAL;
	c->sessions = worker_sessions(me->workers[idx]);
	worker_packet_counters(me->workers[idx], &c->rtp_relayed, &c->rtp_dropped,
			       &c->rtp_dropped_late);
	return 0;
}

/* ---- sessions, owner side ---------------------------------------------------------- */

static int bind_one(const struct media_engine *me, uint16_t port, int *fdp)
{
	union media_sa a = me->bind;
	int tos = ENGINE_DSCP_EF;
	int fd, err;

	fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* Best effort: mark RTP as expedited forwarding. */
	if (a.sa.sa_family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	/* Bounded delay: the kernel stamps each datagram on arrival (worker.c reads it). */
	if (me->cfg.max_delay_ms) {
		int on = 1;

		if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) {
			err = errno;
			close(fd);
			return err;
		}
	}
	sa_set_port(&a, port);
	if (bind(fd, &a.sa, sa_len(&a)) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

/*
 * Takes a port pair and binds its two sockets. A pair some other program holds is put
 * back (at the end of the queue) and the next one tried, once around the pool at most.
 */
static int bind_pair(struct media_engine *me, struct session_side *sd)
{
	unsigned tries = portpool_size(me->pool);
	uint16_t port;
	int err;

	while (tries--) {
		err = portpool_take(me->pool, &port);
		if (err)
			return err;
		err = bind_one(me, port, &sd->fd[SESSION_FD_RTP]);
		if (!err) {
			err = bind_one(me, (uint16_t)(port + 1), &sd->fd[SESSION_FD_RTCP]);
			if (err) {
				close(sd->fd[SESSION_FD_RTP]);
				sd->fd[SESSION_FD_RTP] = -1;
			}
		}
		if (!err) {
			sd->port = port;
			return 0;
		}
		portpool_put(me->pool, port);
		if (err != EADDRINUSE && err != EACCES)
			return err;
	}
	return EADDRINUSE;
}

static struct worker *pick_worker(struct media_engine *me)
{
	unsigned start = atomic_fetch_add(&me->rr, 1) % me->nworkers, best = start;
	uint64_t best_n = UINT64_MAX;

	for (unsigned k = 0; k < me->nworkers; k++) {
		unsigned i = (start + k) % me->nworkers;
		uint64_t n = worker_sessions(me->workers[i]);

		if (n < best_n) {
			best_n = n;
			best = i;
		}
	}
	return me->workers[best];
}

int media_session_create(struct media_engine *me, uint64_t cookie,
			 struct media_session **msp)
{
	struct media_session *s;
	int err;

	if (!me || !msp)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->me = me;
	s->cookie = cookie;
	s->owner = pthread_self();
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			s->side[i].fd[k] = -1;
			s->side[i].fdh[k].s = s;
			s->side[i].fdh[k].side = (uint8_t)i;
			s->side[i].fdh[k].kind = (uint8_t)k;
		}
	}
	err = session_init(s);
	if (err)
		goto out;
	err = bind_pair(me, &s->side[MEDIA_SIDE_A]);
	if (!err)
		err = bind_pair(me, &s->side[MEDIA_SIDE_B]);
	if (err == EADDRINUSE)
		log_msg(LOG_WARN, "media.port_pool", "no free RTP port pair in %u-%u",
			me->cfg.port_min, me->cfg.port_max);
	if (err)
		goto out;
	s->w = pick_worker(me);
	atomic_fetch_add(&me->sessions_active, 1);
	atomic_fetch_add(&me->sessions_total, 1);
	worker_post_add(s->w, s);
	*msp = s;
out:
	if (err) {
		for (int i = 0; i < 2; i++) {
			if (s->side[i].fd[SESSION_FD_RTP] < 0)
				continue;
			close(s->side[i].fd[SESSION_FD_RTP]);
			close(s->side[i].fd[SESSION_FD_RTCP]);
			portpool_put(me->pool, s->side[i].port);
		}
		free(s);
	}
	return err;
}

uint16_t media_session_port(const struct media_session *ms, enum media_side side)
{
	if (!ms || (side != MEDIA_SIDE_A && side != MEDIA_SIDE_B))
		return 0;
	return ms->side[side].port;
}

int media_session_update(struct media_session *ms, const struct media_session_params *p)
{
	if (!ms || session_params_check(p, ms->me->scfg.family))
		return EINVAL;
	MEDIA_ASSERT_THREAD(ms->owner);
	worker_post_update(ms->w, ms, p);
	return 0;
}

int media_session_send_digit(struct media_session *ms, enum media_side to, char digit,
			     unsigned duration_ms)
{
	if (!ms || (to != MEDIA_SIDE_A && to != MEDIA_SIDE_B) || dtmf_digit_event(digit) < 0)
		return EINVAL;
	return worker_post_digit(ms->w, ms, to, digit, duration_ms);
}

void media_session_destroy(struct media_session *ms)
{
	if (!ms)
		return;
	MEDIA_ASSERT_THREAD(ms->owner);
	worker_post_close(ms->w, ms);
}
