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
#include <stdlib.h>
#include <sys/random.h>

#include "codec.h"
#include "log.h"
#include "msrtp.h"
#include "xcode.h"

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
		sd->out.clock_hz = SESSION_CLOCK_HZ;
		sd->clock_hz = SESSION_CLOCK_HZ;
		sd->st.rtt_ms = -1;
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

		if (!dir_ok(sp->dir) || sp->srtp.suite > MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 ||
		    (unsigned)sp->latch > MEDIA_SIDE_LATCH_ANY)
			return EINVAL;
		if (remote_from(&a, &sp->rtp, family, &known) ||
		    remote_from(&a, &sp->rtcp, family, &known))
			return EINVAL;
	}
	return 0;
}

static bool held(const struct media_session *s)
{
	return s->side[0].dir != MEDIA_DIR_SENDRECV || s->side[1].dir != MEDIA_DIR_SENDRECV;
}

/* The inactivity timeout that applies now (ms; 0 = none): rtp_timeout while both sides
 * send and receive, hold_timeout while either is on hold. */
static unsigned timer_wanted(const struct media_session *s, const struct session_cfg *cfg)
{
	if (s->timeout_sent)
		return 0;
	for (int i = 0; i < 2; i++)
		if (!s->side[i].have_remote || s->side[i].null_remote)
			return 0;
	return held(s) ? cfg->hold_timeout_ms : cfg->rtp_timeout_ms;
}

static void apply_side(struct session_side *sd, const struct media_side_params *sp,
		       const struct session_cfg *cfg)
{
	int family = cfg->family;
	union media_sa rtp, rtcp;
	bool known, rtcp_known;

	/* Checked by session_params_check() on the owner thread. */
	(void)remote_from(&rtp, &sp->rtp, family, &known);
	(void)remote_from(&rtcp, &sp->rtcp, family, &rtcp_known);
	if (known && sp->rtcp_mux) {
		rtcp = rtp;   /* RFC 5761: RTCP on the RTP port */
	} else if (known && !rtcp_known) {
		rtcp = rtp;
		sa_set_port(&rtcp, (uint16_t)(sa_port(&rtp) + 1));
	}
	if (!known) {
		sd->have_remote = false;
		sd->latched = false;
		sd->rtcp_latched = false;
	} else if (!sd->have_remote || !sa_eq(&rtp, &sd->sdp_rtp)) {
		/* A new remote address: the next source latches again (a packet from
		 * the new address itself takes a latch on any other source back). */
		sd->have_remote = true;
		sd->latched = false;
		sd->rtcp_latched = false;
	} else if (!sa_eq(&rtcp, &sd->sdp_rtcp)) {
		/* Same RTP address, another RTCP address: only RTCP latches again. */
		sd->rtcp_latched = false;
	}
	sd->null_remote = known && sa_is_any(&rtp);
	sd->latch_any = sp->latch == MEDIA_SIDE_LATCH_ANY ||
			(sp->latch == MEDIA_SIDE_LATCH_ENGINE && cfg->latch_any);
	sd->n_sig = 0;
	for (int i = 0; i < MEDIA_SIG_ADDRS; i++)   /* a family the sockets cannot reach: skipped */
		if (sp->sig[i].ss_family &&
		    sa_from_storage(&sd->sig[sd->n_sig], &sp->sig[i], family) == 0)
			sd->n_sig++;
	sd->sdp_rtp = rtp;
	sd->sdp_rtcp = rtcp;
	sd->dir = sp->dir;
	if (sd->rtcp_mux != sp->rtcp_mux)
		sd->rtcp_latched = false;
	sd->rtcp_mux = sp->rtcp_mux;
	memcpy(sd->pt_map, sp->pt_map, sizeof(sd->pt_map));
}

static unsigned out_ptime(const struct media_codec_params *to)
{
	unsigned p = to->ptime ? to->ptime : 20;

	if (to->codec == MEDIA_CODEC_OPUS)
		return p >= 60 ? 60 : p >= 40 ? 40 : p >= 20 ? 20 : 10;
	p = (p + 5) / 10 * 10;
	return p < 10 ? 10 : p > 60 ? 60 : p;
}

static bool same_opus(const struct media_opus_params *a, const struct media_opus_params *b)
{
	/* Member by member: the struct has padding, which a memcmp would compare too. */
	return a->complexity == b->complexity && a->fec == b->fec && a->dtx == b->dtx &&
	       a->max_bitrate == b->max_bitrate && a->max_playback_rate == b->max_playback_rate;
}

static bool same_xcode(const struct media_codec_params *a, const struct media_codec_params *b)
{
	return a->codec == b->codec && out_ptime(a) == out_ptime(b) && same_opus(&a->opus, &b->opus);
}

/* Starts or stops generating the stream o (a mode switch keeps it continuous). */
static void out_mode(struct session_out *o, bool gen, uint32_t period_us, uint64_t now_ms)
{
	if (gen && !o->gen) {
		uint64_t step = (now_ms - o->last_ms) * o->clock_hz / 1000u;

		o->gen_ts = o->started ? o->ts_last + (uint32_t)(step ? step : 1) : o->ts_init;
		o->gen_due_us = now_ms * 1000u;
		o->gen_sent = false;
		o->te_map.active = false;
	} else if (!gen && o->gen && o->started) {
		o->rebase = true;   /* the relay continues from the last frame sent */
	}
	o->gen = gen;
	o->gen_period_us = period_us;
}

/* Frees a side's transcoder, keeping its counters in the side's totals. */
static void xc_drop(struct session_side *sd)
{
	struct xcode *x = sd->xc;

	if (!x)
		return;
	sd->st.concealed += x->c.concealed;
	sd->st.fec_recovered += x->c.fec;
	sd->st.jb_late += x->jb.c.late + x->jb.c.stray;
	sd->st.jb_discarded += x->jb.c.discarded;
	sd->st.jb_expanded += x->jb.c.expanded;
	xcode_destroy(x);
	sd->xc = NULL;
}

/* Creates, keeps or frees the transcoders after an update. */
static void apply_mode(struct media_session *s, const struct session_cfg *cfg,
		       const struct media_codec_params old[2], uint64_t now_ms)
{
	enum media_codec ca = s->side[0].codec.codec, cb = s->side[1].codec.codec;
	bool xc = ca != MEDIA_CODEC_NONE && cb != MEDIA_CODEC_NONE && ca != cb;

	for (int i = 0; i < 2; i++) {
		struct session_side *in = &s->side[i], *to = &s->side[i ^ 1];
		bool keep = xc && in->xc && in->codec.codec == old[i].codec &&
			    same_xcode(&to->codec, &old[i ^ 1]);

		in->clock_hz = in->codec.codec ? codec_clock(in->codec.codec) : SESSION_CLOCK_HZ;
		if (!keep)
			xc_drop(in);
		if (xc && !in->xc) {
			int err = xcode_create(&in->xc, in->codec.codec, to->codec.codec,
					       out_ptime(&to->codec), &to->codec.opus,
					       cfg->jb_max_ms);

			if (err)
				log_msg(LOG_ERROR, "media.xcode", "cannot transcode %s to %s: %s",
					codec_name(in->codec.codec), codec_name(to->codec.codec),
					strerror(err));
		}
	}
	for (int i = 0; i < 2; i++) {
		struct session_side *in = &s->side[i], *to = &s->side[i ^ 1];

		in->out.clock_hz = to->clock_hz;
		out_mode(&in->out, xc && in->xc, out_ptime(&to->codec) * 1000u, now_ms);
	}
	s->transcoding = xc && s->side[0].xc && s->side[1].xc;
}

void session_fini(struct media_session *s)
{
	for (int i = 0; i < 2; i++) {
		xc_drop(&s->side[i]);
		msrtp_destroy(s->side[i].srtp);
		s->side[i].srtp = NULL;
	}
	mdtmf_fini(s);
	s->transcoding = false;
}

/* SRTP of a side: contexts kept while their keys stay (msrtp.h). A side whose keys are
 * not known yet, or whose contexts cannot be made, is blocked: nothing leaves toward
 * it in the clear and nothing it sends is taken. */
static void apply_srtp(struct media_session *s, unsigned i, const struct media_srtp_params *sp)
{
	struct session_side *sd = &s->side[i];
	int err;

	if (sp->pending) {
		msrtp_destroy(sd->srtp);
		sd->srtp = NULL;
		sd->srtp_block = true;
		return;
	}
	err = msrtp_set(&sd->srtp, sp);
	sd->srtp_block = err != 0;
	if (err)
		log_msg(LOG_ERROR, "media.srtp", "session %llu side %c: no SRTP context: %s",
			(unsigned long long)s->cookie, i ? 'b' : 'a', strerror(err));
}

void session_apply(struct media_session *s, const struct session_cfg *cfg,
		   const struct media_session_params *p, uint64_t now_ms)
{
	bool was_armed = s->timer_armed, was_hold = s->on_hold;
	unsigned timeout_ms;
	struct media_codec_params old[2] = {s->side[0].codec, s->side[1].codec};

	for (int i = 0; i < 2; i++) {
		apply_side(&s->side[i], &p->side[i], cfg);
		apply_srtp(s, (unsigned)i, &p->side[i].srtp);
		s->side[i].codec = p->side[i].codec;
	}
	apply_mode(s, cfg, old, now_ms);
	if (mdtmf_apply(s, p))
		log_msg(LOG_WARN, "media.dtmf", "no memory for DTMF interworking");
	timeout_ms = timer_wanted(s, cfg);
	s->timer_armed = timeout_ms != 0;
	s->on_hold = held(s);
	if (s->timer_armed && (!was_armed || s->on_hold != was_hold))
		s->last_activity_ms = now_ms;   /* (re)start: resume counts from now */
}

bool session_timer(struct media_session *s, const struct session_cfg *cfg, uint64_t now_ms)
{
	unsigned timeout_ms = s->on_hold ? cfg->hold_timeout_ms : cfg->rtp_timeout_ms;

	if (!s->timer_armed || now_ms - s->last_activity_ms < timeout_ms)
		return false;
	s->timer_armed = false;
	s->timeout_sent = true;
	return true;
}

void session_publish(struct media_session *s, uint64_t now_ms)
{
	uint64_t words[SESSION_PUB_WORDS] = { 0 };
	struct media_side_stats st[2];

	if (now_ms < s->pub_next_ms)
		return;
	s->pub_next_ms = now_ms + 1000;
	session_stats(s, st);
	memcpy(words, st, sizeof(st));
	atomic_fetch_add_explicit(&s->pub_seq, 1, memory_order_acq_rel);   /* odd */
	for (size_t i = 0; i < SESSION_PUB_WORDS; i++)
		atomic_store_explicit(&s->pub[i], words[i], memory_order_relaxed);
	atomic_fetch_add_explicit(&s->pub_seq, 1, memory_order_acq_rel);   /* even */
}

/* The owner thread's read of what session_publish() wrote (media.h). */
int media_session_stats(const struct media_session *ms, struct media_side_stats st[2])
{
	struct media_session *m = (struct media_session *)(uintptr_t)ms;   /* read only */
	uint64_t words[SESSION_PUB_WORDS];
	unsigned a, b;

	if (!ms || !st)
		return EINVAL;
	for (int tries = 0; tries < 100; tries++) {
		a = atomic_load_explicit(&m->pub_seq, memory_order_acquire);
		if (a & 1)
			continue;
		for (size_t i = 0; i < SESSION_PUB_WORDS; i++)
			words[i] = atomic_load_explicit(&m->pub[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		b = atomic_load_explicit(&m->pub_seq, memory_order_relaxed);
		if (a == b) {
			memcpy(st, words, 2 * sizeof(st[0]));
			return a ? 0 : EAGAIN;
		}
	}
	return EAGAIN;
}

void session_stats(const struct media_session *s, struct media_side_stats st[2])
{
	for (int i = 0; i < 2; i++) {
		const struct session_side *sd = &s->side[i];
		int64_t lost = sd->lost_prev + rtp_stats_lost(&sd->rx);
		uint64_t jit_us = (uint64_t)rtp_stats_jitter(&sd->rx) * 1000000u / sd->clock_hz;

		st[i] = sd->st;
		if (sd->xc) {
			st[i].concealed += sd->xc->c.concealed;
			st[i].fec_recovered += sd->xc->c.fec;
			st[i].jb_late += sd->xc->jb.c.late + sd->xc->jb.c.stray;
			st[i].jb_discarded += sd->xc->jb.c.discarded;
			st[i].jb_expanded += sd->xc->jb.c.expanded;
			st[i].jb_delay_ms = jb_delay_ms(&sd->xc->jb);
		}
		st[i].rtp_lost = lost > 0 ? (uint64_t)lost : 0;
		st[i].jitter_us = jit_us > UINT32_MAX ? UINT32_MAX : (uint32_t)jit_us;
	}
}
