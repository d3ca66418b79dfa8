/*
 * session.c — media session state outside the packet path: random stream identities,
 * applying updates (remotes, directions, PT maps, re-latch), the inactivity timer and
 * the final counters. Runs on the session's worker, except session_init() and
 * session_params_check(), which the owner thread calls before handing the session over.
 */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

int session_init(struct media_session *s)
{
	struct {
		uint32_t ssrc[2];
		uint32_t ts[2];
		uint16_t seq[2];
	} r;
	ssize_t n;

	do {
		n = getrandom(&r, sizeof(r), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(r))
		return n < 0 ? errno : EIO;
	if (r.ssrc[0] == r.ssrc[1])
		r.ssrc[1] ^= 0x5a5a5a5a;
	for (int i = 0; i < 2; i++) {
		struct session_side *sd = &s->side[i];

		sd->out.ssrc = r.ssrc[i];
		sd->out.seq_init = r.seq[i];
		sd->out.ts_init = r.ts[i];
		sd->dir = MEDIA_DIR_SENDRECV;
		memset(sd->pt_map, MEDIA_PT_NONE, sizeof(sd->pt_map));
		rtp_stats_init(&sd->rx);
	}
	return 0;
}

static bool dir_ok(enum media_dir d)
{
	return d == MEDIA_DIR_SENDRECV || d == MEDIA_DIR_SENDONLY ||
	       d == MEDIA_DIR_RECVONLY || d == MEDIA_DIR_INACTIVE;
}

/* An address from the API: known (port != 0) or not; a known one must convert. */
static int remote_from(union media_sa *out, const struct sockaddr_storage *ss, int family,
		       bool *known)
{
	uint16_t port = 0;

	if (ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	*known = port != 0;
	if (!*known) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return sa_from_storage(out, ss, family) ? EINVAL : 0;
}

int session_params_check(const struct media_session_params *p, int family)
{
	if (!p)
		return EINVAL;
	for (int i = 0; i < 2; i++) {
		const struct media_side_params *sp = &p->side[i];
		union media_sa a;
		bool known;

		if (!dir_ok(sp->dir))
			return EINVAL;
		if (remote_from(&a, &sp->rtp, family, &known) ||
		    remote_from(&a, &sp->rtcp, family, &known))
			return EINVAL;
	}
	return 0;
}

static bool timer_wanted(const struct media_session *s, const struct session_cfg *cfg)
{
	if (!cfg->rtp_timeout_ms || s->timeout_sent)
		return false;
	for (int i = 0; i < 2; i++)
		if (!s->side[i].have_remote || s->side[i].null_remote ||
		    s->side[i].dir != MEDIA_DIR_SENDRECV)
			return false;
	return true;
}

static void apply_side(struct session_side *sd, const struct media_side_params *sp, int family)
{
	union media_sa rtp, rtcp;
	bool known, rtcp_known;

	/* Checked by session_params_check() on the owner thread. */
	(void)remote_from(&rtp, &sp->rtp, family, &known);
	(void)remote_from(&rtcp, &sp->rtcp, family, &rtcp_known);
	if (known && !rtcp_known) {
		rtcp = rtp;
		sa_set_port(&rtcp, (uint16_t)(sa_port(&rtp) + 1));
	}
	if (!known) {
		sd->have_remote = false;
		sd->latched = false;
		sd->rtcp_latched = false;
	} else if (!sd->have_remote || !sa_eq(&rtp, &sd->sdp_rtp)) {
		/* A new remote address: the next source latches again. */
		sd->have_remote = true;
		sd->latched = false;
		sd->rtcp_latched = false;
	} else if (!sa_eq(&rtcp, &sd->sdp_rtcp)) {
		/* Same RTP address, another RTCP address: only RTCP latches again. */
		sd->rtcp_latched = false;
	}
	sd->null_remote = known && sa_is_any(&rtp);
	sd->sdp_rtp = rtp;
	sd->sdp_rtcp = rtcp;
	sd->dir = sp->dir;
	memcpy(sd->pt_map, sp->pt_map, sizeof(sd->pt_map));
}

void session_apply(struct media_session *s, const struct session_cfg *cfg,
		   const struct media_session_params *p, uint64_t now_ms)
{
	bool was_armed = s->timer_armed;

	for (int i = 0; i < 2; i++)
		apply_side(&s->side[i], &p->side[i], cfg->family);
	s->timer_armed = timer_wanted(s, cfg);
	if (s->timer_armed && !was_armed)
		s->last_activity_ms = now_ms;   /* (re)start: resume counts from now */
}

bool session_timer(struct media_session *s, const struct session_cfg *cfg, uint64_t now_ms)
{
	if (!s->timer_armed || now_ms - s->last_activity_ms < cfg->rtp_timeout_ms)
		return false;
	s->timer_armed = false;
	s->timeout_sent = true;
	return true;
}

void session_stats(const struct media_session *s, struct media_side_stats st[2])
{
	for (int i = 0; i < 2; i++) {
		const struct session_side *sd = &s->side[i];
		int64_t lost = sd->lost_prev + rtp_stats_lost(&sd->rx);
		uint64_t jit_us = (uint64_t)rtp_stats_jitter(&sd->rx) * 1000000u / SESSION_CLOCK_HZ;

		st[i] = sd->st;
		st[i].rtp_lost = lost > 0 ? (uint64_t)lost : 0;
		st[i].jitter_us = jit_us > UINT32_MAX ? UINT32_MAX : (uint32_t)jit_us;
	}
}
