/*
 * feat.c — prompts, recording and AMD on the session's worker (see feat.h and
 * media_feat.h).
 *
 * DESIGN
 * Taps: a packet accepted from a leg is decoded (G.711 or Opus, the leg's codec or a
 * static PT) only when something listens: the recorder places it by its timestamp,
 * the detector gets it after silence for any gap in the timestamps (up to 1 s), and a
 * prompt mixed toward the other leg takes it from a short FIFO.
 *
 * Prompts: while a prompt plays to a leg, the stream toward that leg is generated on
 * the worker's clock, 20 ms a packet (the transcoder's packet time when the call
 * transcodes), using the same session_out as the relay: same SSRC, the next sequence
 * number, and a timestamp advanced by the wall-clock time since the last packet (at
 * least one packet time), with the marker bit. What the other leg sends is dropped
 * (or mixed in). When the prompt ends, a relay resumes by the relay's rebase (next
 * sequence number, timestamp advanced by the time elapsed since the last prompt
 * packet but at least one packet time, marker), a transcoder simply goes on
 * generating.
 */
#include "feat.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amd.h"
#include "engine.h"
#include "log.h"
#include "media_feat.h"
#include "record.h"
#include "session.h"
#include "xcode.h"

#define FEAT_SLACK_US 500
#define FEAT_CATCHUP  5
#define FEAT_PTIME_US 20000u

static void emit(struct media_session *s, const struct media_feat_ev *fe)
{
	struct media_event ev = {.type = MEDIA_EV_FEAT, .cookie = s->cookie, .feat = *fe};

	if (s->me->eh && !(s->feat && s->feat->quiet))
		s->me->eh(&ev, s->me->arg);
}

/* Runs inside amd_process() on the worker. */
void feat_amd_event(const struct amd_event *ev, void *arg)
{
	struct feat_amd *fa = arg;
	struct media_feat_ev fe = {.side = fa->side};

	if (!fa->s)
		return;
	switch (ev->type) {
	case AMD_EV_DECISION:
		fe.kind = MEDIA_FEAT_AMD;
		if (fa->s->feat && fa->s->feat->amd_samples)
			fe.cost_ns = (uint32_t)(fa->s->feat->amd_ns * 160u /
						fa->s->feat->amd_samples);
		fe.cls = (int)ev->cls;
		fe.reason = (int)ev->reason;
		fe.confidence = ev->confidence;
		fe.ms = ev->decision_ms;
		break;
	case AMD_EV_BEEP:
		fe.kind = MEDIA_FEAT_BEEP;
		fe.ms = ev->beep_end_ms;
		fe.start_ms = ev->beep_start_ms;
		fe.hz = ev->beep_hz;
		break;
	case AMD_EV_BEEP_NONE:
		fe.kind = MEDIA_FEAT_BEEP_NONE;
		fe.ms = ev->now_ms;
		break;
	default:
		return;
	}
	emit(fa->s, &fe);
}

static void amd_free(struct feat_amd *fa)
{
	if (!fa)
		return;
	amd_destroy(fa->amd);
	free(fa);
}

void feat_cmd_free(struct feat_cmd *c)
{
	if (!c)
		return;
	free(c->pcm);
	if (c->rec)
		rec_finish(c->rec, NULL, NULL, NULL);   /* the writer frees it */
	amd_free(c->amd);
	free(c);
}

/* ---- taps --------------------------------------------------------------------------- */

static enum media_codec rx_codec(const struct session_side *sd, uint8_t pt)
{
	const struct media_codec_params *c = &sd->codec;

	if (c->codec != MEDIA_CODEC_NONE && (pt == c->pt_rx[0] || pt == c->pt_rx[1] || pt == c->pt))
		return c->codec;
	if (pt == 0)
		return MEDIA_CODEC_PCMU;
	if (pt == 8)
		return MEDIA_CODEC_PCMA;
	return MEDIA_CODEC_NONE;
}

static const int16_t zeros[REC_CHUNK];

static void amd_feed_silence(struct feat_amd *fa, uint64_t n)
{
	while (n) {
		size_t k = n > REC_CHUNK ? REC_CHUNK : (size_t)n;

		(void)amd_process(fa->amd, zeros, k);
		n -= k;
	}
}

static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void amd_feed(struct feat *f, struct feat_tap *t, uint32_t ts, uint32_t clock,
		     const int16_t *pcm, size_t n, uint64_t now_us)
{
	struct feat_amd *fa = f->amd;
	uint64_t t0, fill = 0, fed = f->amd_idle_fed;

	if (amd_done(fa->amd))
		return;
	t0 = thread_ns();
	if (!f->amd_rx_us) {
		/* Time 0 is the answer: the silence before the first packet counts. */
		uint64_t gap = (now_us - f->amd_t0_us) * CODEC_RATE / 1000000u;

		gap = gap > 5 * FEAT_GAP_MAX ? 5 * FEAT_GAP_MAX : gap;
		fill = gap > fed ? gap - fed : 0;
	} else if (t->have_ts) {
		int64_t d = (int64_t)(int32_t)(ts - t->next_ts) * CODEC_RATE / clock;

		if (d < 0) {
			f->amd_ns += thread_ns() - t0;
			return;   /* late or repeated: its time has been fed already */
		}
		if (d <= FEAT_GAP_MAX && (uint64_t)d > fed)
			fill = (uint64_t)d - fed;   /* feat_tick fed the rest of the gap */
	}
	f->amd_started = true;
	f->amd_rx_us = now_us + (uint64_t)n * 1000000u / CODEC_RATE;   /* its audio's end */
	f->amd_idle_fed = 0;
	f->amd_samples += fill + n;
	amd_feed_silence(fa, fill);
	(void)amd_process(fa->amd, pcm, n);
	f->amd_ns += thread_ns() - t0;
}

void feat_tick(struct media_session *s, uint64_t now_us)
{
	struct feat *f = s->feat;
	uint64_t since, due, t0;

	if (!f || !f->amd || amd_done(f->amd->amd))
		return;
	since = f->amd_rx_us ? f->amd_rx_us : f->amd_t0_us;
	if (now_us < since + FEAT_IDLE_US)
		return;
	due = (now_us - since) * CODEC_RATE / 1000000u;
	if (due <= f->amd_idle_fed)
		return;
	t0 = thread_ns();
	f->amd_started = true;
	f->amd_samples += due - f->amd_idle_fed;
	amd_feed_silence(f->amd, due - f->amd_idle_fed);
	f->amd_idle_fed = due;
	f->amd_ns += thread_ns() - t0;
}

bool feat_rx(struct media_session *s, unsigned side, const uint8_t *buf,
	     const struct rtp_hdr *h, uint64_t now_us)
{
	struct feat *f = s->feat;
	struct feat_tap *t = &f->tap[side];
	struct feat_play *p = &f->play[side ^ 1];
	bool relay_play = p->active && !s->transcoding;
	bool amd = f->amd && f->amd_side == side;
	bool mix = relay_play && p->mix;
	int16_t pcm[CODEC_MAX_SAMPLES];
	enum media_codec codec;
	uint32_t clock;
	int n;

	if (!f->rec && !amd && !mix)
		return relay_play;
	codec = rx_codec(&s->side[side], h->pt);
	if (codec == MEDIA_CODEC_NONE)
		return relay_play;
	if (t->codec != codec) {
		codec_dec_fini(&t->dec);
		t->codec = MEDIA_CODEC_NONE;
		if (codec_dec_init(&t->dec, codec))
			return relay_play;
		t->codec = codec;
		t->have_ts = false;
	}
	if (t->have_ts && h->ssrc != t->ssrc)
		feat_new_source(s, side);
	n = codec_decode(&t->dec, buf + h->hdr_len, h->payload_len, pcm, CODEC_MAX_SAMPLES);
	if (n <= 0)
		return relay_play;
	clock = codec_clock(codec);
	if (f->rec)
		rec_put(f->rec, side, h->ts, clock, pcm, (size_t)n, now_us);
	if (amd)
		amd_feed(f, t, h->ts, clock, pcm, (size_t)n, now_us);
	if (mix) {
		size_t k = (size_t)n > FEAT_MIX_MAX ? FEAT_MIX_MAX : (size_t)n;

		if (t->mix_n + k > FEAT_MIX_MAX) {   /* keep the newest */
			size_t drop = t->mix_n + k - FEAT_MIX_MAX;

			memmove(t->mix, t->mix + drop, (t->mix_n - drop) * sizeof(int16_t));
			t->mix_n -= drop;
		}
		memcpy(t->mix + t->mix_n, pcm, k * sizeof(int16_t));
		t->mix_n += k;
	}
	if (!t->have_ts || (int32_t)(h->ts + (uint32_t)((uint64_t)n * clock / CODEC_RATE) -
				     t->next_ts) > 0)
		t->next_ts = h->ts + (uint32_t)((uint64_t)n * clock / CODEC_RATE);
	t->have_ts = true;
	t->ssrc = h->ssrc;
	return relay_play;
}

void feat_new_source(struct media_session *s, unsigned side)
{
	struct feat *f = s->feat;

	if (!f)
		return;
	f->tap[side].have_ts = false;
	f->tap[side].mix_n = 0;
	if (f->rec)
		rec_new_source(f->rec, side);
}

/* ---- prompts ------------------------------------------------------------------------ */

static bool xc_of(const struct media_session *s, unsigned from)
{
	return s->transcoding && s->side[from].xc;
}

static void play_end(struct media_session *s, unsigned to)
{
	struct feat *f = s->feat;
	struct feat_play *p = &f->play[to];
	struct session_out *o = &s->side[to ^ 1].out;
	struct media_feat_ev fe = {
		.kind = MEDIA_FEAT_PLAY_END, .side = (uint8_t)to, .mix = p->mix,
		.ms = (uint32_t)(p->pos * 1000u / CODEC_RATE),
	};

	bool fill = p->fill;

	if (!p->active)
		return;
	p->active = false;
	p->fill = false;
	free(p->pcm);
	p->pcm = NULL;
	f->tap[to ^ 1].mix_n = 0;
	if (!xc_of(s, to ^ 1)) {
		/* The relay takes over: the next packet is at least one packet time on. */
		o->gen = false;
		if (o->started) {
			o->rebase = true;
			o->rebase_min = (uint32_t)((uint64_t)o->gen_period_us * o->clock_hz /
						   1000000u);
		}
	}
	if (!fill)
		emit(s, &fe);
}

/* The encoder of the leg's codec for what is generated toward it. */
static bool play_enc(struct media_session *s, unsigned to)
{
	struct feat_play *p = &s->feat->play[to];
	struct session_side *tos = &s->side[to];
	enum media_codec codec = tos->codec.codec ? tos->codec.codec : MEDIA_CODEC_PCMU;

	if (p->have_enc && p->codec == codec)
		return true;
	if (p->have_enc)
		codec_enc_fini(&p->enc);
	p->have_enc = codec_enc_init(&p->enc, codec, &tos->codec.opus) == 0;
	p->codec = codec;
	if (!p->have_enc)
		log_msg(LOG_ERROR, "media.play", "session %llu: no %s encoder",
			(unsigned long long)s->cookie, codec_name(codec));
	return p->have_enc;
}

/* The generated stream toward `to` goes on from where the leg's stream was (same SSRC,
 * timestamps by the wall clock since its last packet). */
static void gen_begin(struct media_session *s, unsigned to, uint64_t now_us)
{
	struct session_out *o = &s->side[to ^ 1].out;

	if (!o->gen) {
		uint64_t now_ms = now_us / 1000u;
		uint32_t frame = (uint32_t)((uint64_t)FEAT_PTIME_US * o->clock_hz / 1000000u);
		uint64_t step = (now_ms - o->last_ms) * o->clock_hz / 1000u;

		o->gen_ts = o->started ? o->ts_last + (uint32_t)(step > frame ? step : frame)
				       : o->ts_init;
		o->gen_due_us = now_us;
		o->gen_sent = false;
		o->gen_period_us = FEAT_PTIME_US;
		o->gen = true;
	}
}

/* Comfort noise toward `to` (when asked for and no prompt plays there). */
static void fill_start(struct media_session *s, unsigned to, uint64_t now_us)
{
	struct feat *f = s->feat;
	struct feat_play *p = &f->play[to];

	if (p->active || !f->fill_want[to] || !play_enc(s, to))
		return;
	p->pcm = NULL;
	p->n = p->pos = 0;
	p->mix = false;
	p->fill = true;
	p->noise = 0x9E3779B9u ^ (uint32_t)now_us;
	p->active = true;
	p->start_us = now_us;
	f->tap[to ^ 1].mix_n = 0;
	gen_begin(s, to, now_us);
}

/* A prompt ended (played out, or stopped): the comfort noise takes up again. */
static void play_done(struct media_session *s, unsigned to, uint64_t now_us)
{
	play_end(s, to);
	fill_start(s, to, now_us);
}

/* About -78 dBov of white noise: keeps a far end's media timers and NAT bindings busy
 * without being heard. */
static int16_t noise_sample(uint32_t *st)
{
	*st = *st * 1664525u + 1013904223u;
	return (int16_t)((int32_t)(*st >> 29) - 4);
}

static void play_start(struct media_session *s, struct feat_cmd *c, uint64_t now_us)
{
	struct feat *f = s->feat;
	unsigned to = c->side;
	struct feat_play *p = &f->play[to];
	struct media_feat_ev fe = {.kind = MEDIA_FEAT_PLAY_START, .side = (uint8_t)to,
				   .mix = c->mix};

	play_end(s, to);
	if (!play_enc(s, to)) {
		fill_start(s, to, now_us);
		return;
	}
	p->pcm = c->pcm;
	c->pcm = NULL;
	p->n = c->n;
	p->pos = 0;
	p->mix = c->mix;
	p->active = true;
	p->start_us = now_us;
	f->tap[to ^ 1].mix_n = 0;
	gen_begin(s, to, now_us);
	emit(s, &fe);
}

bool feat_clocked(const struct feat *f)
{
	return f && (f->play[0].active || f->play[1].active);
}

static int16_t sat16(int32_t v)
{
	return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

unsigned feat_clock(struct media_session *s, unsigned to, uint64_t now_us,
		    uint64_t *next_due_us)
{
	struct feat *f = s->feat;
	struct feat_play *p = &f->play[to];
	struct session_side *in = &s->side[to ^ 1], *tos = &s->side[to];
	struct session_out *o = &in->out;
	bool xc = xc_of(s, to ^ 1);
	uint64_t period = o->gen_period_us ? o->gen_period_us : FEAT_PTIME_US;
	size_t ns = xc ? in->xc->out_samples : (size_t)(period * CODEC_RATE / 1000000u);
	uint32_t step = xc ? xcode_out_step(in->xc) : (uint32_t)(ns * o->clock_hz / CODEC_RATE);
	struct codec_enc *enc = xc ? &in->xc->enc : &p->enc;
	uint8_t out[CODEC_OUT_MAX];
	unsigned sent = 0;

	if (ns > CODEC_MAX_SAMPLES)
		ns = CODEC_MAX_SAMPLES;
	if (now_us > o->gen_due_us + FEAT_CATCHUP * period) {
		uint64_t k = (now_us - o->gen_due_us) / period - 1;

		o->gen_due_us += k * period;
		o->gen_ts += (uint32_t)(k * step);
		p->pos += k * ns;
		tos->st.frames_skipped += k;
	}
	while (p->active && o->gen_due_us <= now_us + FEAT_SLACK_US) {
		int16_t pcm[CODEC_MAX_SAMPLES];
		uint32_t ts = o->gen_ts;
		int len;

		memset(pcm, 0, ns * sizeof(int16_t));
		if (xc) {
			/* The transcoder keeps draining its buffer; its audio is kept for a mix. */
			if (xcode_pull_pcm(in->xc, now_us, pcm) <= 0 || !p->mix)
				memset(pcm, 0, ns * sizeof(int16_t));
		} else if (p->mix) {
			struct feat_tap *t = &f->tap[to ^ 1];
			size_t k = t->mix_n < ns ? t->mix_n : ns;

			memcpy(pcm, t->mix, k * sizeof(int16_t));
			memmove(t->mix, t->mix + k, (t->mix_n - k) * sizeof(int16_t));
			t->mix_n -= k;
		}
		if (p->fill)
			for (size_t k = 0; k < ns; k++)
				pcm[k] = noise_sample(&p->noise);
		for (size_t k = 0; k < ns && p->pos < p->n; k++)
			pcm[k] = sat16((int32_t)pcm[k] + p->pcm[p->pos++]);
		len = codec_encode(enc, pcm, ns, out, sizeof(out));
		o->gen_ts += step;
		o->gen_due_us += period;
		if (len > 0 && session_takes_rtp(tos))
			sent += session_send_frame(in, tos, out, (size_t)len, ts, now_us);
		else
			o->gen_sent = false;
		if (!p->fill && p->pos >= p->n)
			play_done(s, to, now_us);
	}
	if ((p->active || xc) && o->gen_due_us < *next_due_us)
		*next_due_us = o->gen_due_us;
	return sent;
}

/* ---- commands ----------------------------------------------------------------------- */

static void record_end(struct media_session *s)
{
	struct feat *f = s->feat;
	struct recorder *r = f->rec;
	struct media_feat_ev fe = {.kind = MEDIA_FEAT_RECORD_END};

	if (!r)
		return;
	f->rec = NULL;
	rec_finish(r, &fe.frames, &fe.late, &fe.overflow);   /* r is the writer's now */
	fe.ms = (uint32_t)(fe.frames * 1000u / REC_RATE);
	emit(s, &fe);
}

void feat_apply(struct media_session *s, struct feat_cmd *cmds, uint64_t now_us)
{
	struct feat_cmd *c, *next;
	struct feat *f = s->feat;

	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			log_msg(LOG_ERROR, "media.feat", "session %llu: out of memory",
				(unsigned long long)s->cookie);
			for (c = cmds; c; c = next) {
				next = c->next;
				feat_cmd_free(c);
			}
			return;
		}
		f->s = s;
		s->feat = f;
	}
	for (c = cmds; c; c = next) {
		next = c->next;
		switch (c->kind) {
		case FEAT_CMD_PLAY:
			play_start(s, c, now_us);
			break;
		case FEAT_CMD_PLAY_STOP:
			if (!f->play[c->side].fill)   /* a prompt, not the comfort noise */
				play_done(s, c->side, now_us);
			break;
		case FEAT_CMD_FILL:
			f->fill_want[c->side] = c->mix;
			if (c->mix)
				fill_start(s, c->side, now_us);
			else if (f->play[c->side].fill)
				play_end(s, c->side);
			break;
		case FEAT_CMD_RECORD:
			record_end(s);
			f->rec = c->rec;
			c->rec = NULL;
			f->tap[0].have_ts = f->tap[1].have_ts = false;
			break;
		case FEAT_CMD_RECORD_STOP:
			record_end(s);
			break;
		case FEAT_CMD_AMD:
			amd_free(f->amd);
			f->amd = c->amd;
			c->amd = NULL;
			(f->amd)->s = s;
			f->amd_side = c->side;
			f->amd_started = false;
			f->amd_t0_us = now_us;
			f->amd_rx_us = f->amd_idle_fed = 0;
			f->amd_ns = f->amd_samples = 0;
			f->tap[c->side].have_ts = false;
			break;
		}
		feat_cmd_free(c);
	}
}

void feat_fini(struct media_session *s, bool events)
{
	struct feat *f = s->feat;

	if (!f)
		return;
	f->quiet = !events;
	for (unsigned i = 0; i < 2; i++) {
		play_end(s, i);
		if (f->play[i].have_enc)
			codec_enc_fini(&f->play[i].enc);
		codec_dec_fini(&f->tap[i].dec);
	}
	record_end(s);
	if (f->amd) {
		if (f->amd_started)
			amd_finish(f->amd->amd);   /* an undecided detector reports HANGUP */
		amd_free(f->amd);
		f->amd = NULL;
	}
	free(f);
	s->feat = NULL;
}
