/*
 * mdtmf.c — DTMF interworking in a media session: digits read from what each side
 * sends (RFC 4733 or in-band), reported, and generated toward the other side in the
 * form it takes. Runs on the session's worker; see mdtmf.h for the design.
 */
#include "mdtmf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "codec.h"
#include "dtmf.h"
#include "engine.h"
#include "g711.h"
#include "inband.h"
#include "session.h"
#include "xcode.h"

#define MDTMF_VOLUME     10      /**< RFC 4733 volume we send (-10 dBm0) */
#define MDTMF_LEVEL_DBM0 -8.0f   /**< generated tones, low group */
#define MDTMF_TWIST_DB   2.0f
#define MDTMF_GAP_PKTS   3       /**< packets between two queued digits (60 ms) */
#define MDTMF_MAX_MS     10000u
#define MDTMF_OPUS_BPS   24000   /**< our own Opus frames (tones stay detectable) */
#define MDTMF_IB_IDLE_US 100000  /**< an in-band leg silent this long ends its digit */
#define MDTMF_IB_IDLE_SAMPLES 800 /**< the silence that ends it (100 ms) */

int mdtmf_queue_push(struct mdtmf_queue *q, unsigned to, char digit, unsigned duration_ms)
{
	if (q->n >= MEDIA_DTMF_QUEUE)
		return ENOSPC;
	q->d[q->n].to = (uint8_t)to;
	q->d[q->n].digit = digit;
	q->d[q->n].duration_ms = (uint16_t)(duration_ms > MDTMF_MAX_MS ? MDTMF_MAX_MS :
					    duration_ms ? duration_ms : 100);
	q->n++;
	return 0;
}

static uint32_t te_rate(const struct mdtmf_side *sd)
{
	return sd->p.te_rate ? sd->p.te_rate : 8000;
}

static void report(struct media_session *s, unsigned side, char digit, uint32_t dur_ms,
		   bool inband, bool timed_out)
{
	struct media_event ev = {.type = MEDIA_EV_DTMF, .cookie = s->cookie};

	if (!digit || !s->me || !s->me->eh)
		return;
	ev.dtmf.side = (uint8_t)side;
	ev.dtmf.digit = digit;
	ev.dtmf.duration_ms = dur_ms;
	ev.dtmf.inband = inband;
	ev.dtmf.timed_out = timed_out;
	s->me->eh(&ev, s->me->arg);
}

/* ---- set-up ---- */

static int side_apply(struct mdtmf *d, unsigned i, const struct media_dtmf_params *np)
{
	struct mdtmf_side *sd = &d->side[i];
	struct mdtmf_dir *dir = &d->dir[i];
	bool audio = np->enabled && np->audio_pt <= 127;
	bool want_ib = audio && np->mode == MEDIA_DTMF_INBAND;
	uint32_t rate = np->te_rate ? np->te_rate : 8000;

	if (!sd->known || te_rate(sd) != rate)
		telev_rx_init(&sd->rx, rate, 0);
	if (sd->ib && (!want_ib || sd->p.alaw != np->alaw || sd->p.opus != np->opus)) {
		inband_destroy(sd->ib);
		sd->ib = NULL;
	}
	if (want_ib && !sd->ib &&
	    inband_create(&sd->ib, np->opus ? INBAND_PCM : np->alaw ? INBAND_PCMA : INBAND_PCMU))
		return ENOMEM;
	if (want_ib && np->opus && !sd->dec) {
		sd->dec = calloc(1, sizeof(*sd->dec));
		if (!sd->dec)
			return ENOMEM;
		if (codec_dec_init(sd->dec, MEDIA_CODEC_OPUS)) {
			free(sd->dec);
			sd->dec = NULL;
			return ENOMEM;
		}
	}
	if (!telev_tx_busy(&dir->tx) &&
	    telev_tx_init(&dir->tx, rate, np->ptime ? np->ptime : 20))
		(void)telev_tx_init(&dir->tx, rate, 20);
	if (want_ib && !dir->gen && dtmf_gen_create(&dir->gen))
		return ENOMEM;
	sd->p = *np;
	sd->known = np->enabled;
	return 0;
}

static bool opus_inband(const struct mdtmf_side *sd)
{
	return sd->known && sd->p.opus && sd->p.mode == MEDIA_DTMF_INBAND && sd->ib;
}

static void xc_tap(void *arg, int16_t *pcm, size_t n);

/* The Opus encoder of our own frames toward an Opus side, where a side is in-band. */
static int enc_apply(struct mdtmf *d, unsigned to)
{
	struct mdtmf_dir *dir = &d->dir[to];
	struct media_opus_params op = {.complexity = 5, .max_bitrate = MDTMF_OPUS_BPS};

	if (dir->enc || !d->side[to].known || !d->side[to].p.opus ||
	    (!opus_inband(&d->side[0]) && !opus_inband(&d->side[1])))
		return 0;
	dir->enc = calloc(1, sizeof(*dir->enc));
	if (!dir->enc)
		return ENOMEM;
	if (codec_enc_init(dir->enc, MEDIA_CODEC_OPUS, &op)) {
		free(dir->enc);
		dir->enc = NULL;
		return ENOMEM;
	}
	return 0;
}

int mdtmf_apply(struct media_session *s, const struct media_session_params *p)
{
	int err = 0;

	if (!s->dtmf) {
		if (!p->side[0].dtmf.enabled && !p->side[1].dtmf.enabled)
			return 0;
		s->dtmf = calloc(1, sizeof(*s->dtmf));
		if (!s->dtmf)
			return ENOMEM;
	}
	for (unsigned i = 0; i < 2 && !err; i++)
		err = side_apply(s->dtmf, i, &p->side[i].dtmf);
	for (unsigned i = 0; i < 2 && !err; i++)
		err = enc_apply(s->dtmf, i);
	/* a transcoded direction from or toward an in-band Opus side: its tap */
	for (unsigned i = 0; i < 2; i++) {
		struct xcode *x = s->side[i].xc;
		bool tap = opus_inband(&s->dtmf->side[i]) || opus_inband(&s->dtmf->side[i ^ 1]);

		s->dtmf->tap[i].s = s;
		s->dtmf->tap[i].from = i;
		if (x) {
			x->tap = tap ? xc_tap : NULL;
			x->tap_arg = tap ? &s->dtmf->tap[i] : NULL;
		}
	}
	return err;
}

void mdtmf_fini(struct media_session *s)
{
	struct mdtmf *d = s->dtmf;

	if (!d)
		return;
	for (int i = 0; i < 2; i++) {
		inband_destroy(d->side[i].ib);
		dtmf_gen_destroy(d->dir[i].gen);
		if (d->side[i].dec)
			codec_dec_fini(d->side[i].dec);
		free(d->side[i].dec);
		if (d->dir[i].enc)
			codec_enc_fini(d->dir[i].enc);
		free(d->dir[i].enc);
		if (s->side[i].xc) {
			s->side[i].xc->tap = NULL;
			s->side[i].xc->tap_arg = NULL;
		}
	}
	free(d);
	s->dtmf = NULL;
}

/* Appends a digit to a direction's queue, making room by forgetting what was sent. */
static void dir_queue(struct mdtmf_dir *dir, unsigned to, char digit, uint16_t duration_ms)
{
	if (dir->q.n >= MEDIA_DTMF_QUEUE && dir->q_head > 0) {
		memmove(dir->q.d, dir->q.d + dir->q_head,
			(dir->q.n - dir->q_head) * sizeof(dir->q.d[0]));
		dir->q.n -= dir->q_head;
		dir->q_head = 0;
	}
	if (dir->q.n < MEDIA_DTMF_QUEUE) {
		dir->q.d[dir->q.n].to = (uint8_t)to;
		dir->q.d[dir->q.n].digit = digit;
		dir->q.d[dir->q.n].duration_ms = duration_ms;
		dir->q.n++;
	}
}

void mdtmf_take(struct media_session *s, const struct mdtmf_queue *q)
{
	struct mdtmf *d = s->dtmf;

	if (!d)
		return;
	for (unsigned i = 0; i < q->n; i++)
		dir_queue(&d->dir[q->d[i].to & 1], q->d[i].to & 1, q->d[i].digit,
			  q->d[i].duration_ms);
}

/* The end of the oldest RFC 4733 digit still open toward an in-band side: the tone
 * playing, the one waiting, or one queued behind it. */
static void close_open(struct mdtmf_dir *dir, uint32_t samples)
{
	if (dir->gen_on && dir->gen_open) {
		(void)dtmf_gen_set_duration(dir->gen, samples);
		dir->gen_open = false;
		return;
	}
	if (dir->pend_digit && !dir->pend_samples) {
		dir->pend_samples = samples ? samples : 1;
		return;
	}
	for (unsigned i = dir->q_head; i < dir->q.n; i++)
		if (dir->q.d[i].duration_ms == 0) {
			uint32_t ms = samples / (DTMF_RATE / 1000u);

			dir->q.d[i].duration_ms = (uint16_t)(ms > MDTMF_MAX_MS ? MDTMF_MAX_MS :
							     ms ? ms : 1);
			return;
		}
	if (dir->gen_on)
		(void)dtmf_gen_set_duration(dir->gen, samples);
}

/* ---- receiving ---- */

/* A note of the RFC 4733 receiver of `side`: report, and drive tones toward the other
 * side when it takes in-band. */
static void on_rx_note(struct media_session *s, unsigned side, const struct telev_note *n)
{
	struct mdtmf *d = s->dtmf;
	struct mdtmf_side *to = &d->side[side ^ 1];
	struct mdtmf_dir *dir = &d->dir[side ^ 1];
	bool tones = to->known && to->p.mode == MEDIA_DTMF_INBAND && dir->gen && n->digit;

	uint32_t samples;

	if (n->type == TELEV_BEGIN) {
		if (!tones)
			return;
		if (dir->pend_digit) {
			/* more digits ahead of the audio: queued in order, end not known */
			dir_queue(dir, side ^ 1, n->digit, 0);
		} else if (dir->gen_on || dir->gap) {
			/* the previous tone is still playing (audio lags the events): this
			 * one follows it after a pause, never cutting it short */
			dir->pend_digit = n->digit;
			dir->pend_samples = 0;
		} else if (dtmf_gen_start(dir->gen, n->digit, 0, MDTMF_LEVEL_DBM0,
					  MDTMF_TWIST_DB) == 0) {
			dir->gen_on = true;
			dir->gen_open = true;
		}
		return;
	}
	report(s, side, n->digit, n->duration_ms, false, n->timed_out);
	if (!tones)
		return;
	samples = (uint32_t)telev_rescale(n->duration, te_rate(&d->side[side]), DTMF_RATE);
	if (n->timed_out && samples < 40 * (DTMF_RATE / 1000u))
		samples = 40 * (DTMF_RATE / 1000u);
	close_open(dir, samples);
}

static void on_inband_note(struct media_session *s, unsigned side, const struct inband_note *n)
{
	struct mdtmf *d = s->dtmf;
	struct mdtmf_side *to = &d->side[side ^ 1];
	struct mdtmf_dir *dir = &d->dir[side ^ 1];
	bool events = to->known && to->p.mode == MEDIA_DTMF_RFC4733 && to->p.te_pt <= 127;

	if (n->type == INBAND_BEGIN) {
		int ev = dtmf_digit_event(n->digit);

		if (events && ev >= 0) {
			dir->tx_pending = true;
			dir->tx_event = (uint8_t)ev;
			dir->tx_total = 0;
		}
		return;
	}
	report(s, side, n->digit, n->duration_ms, true, false);
	if (dir->tx_pending && dir->tx_total == 0)
		dir->tx_pending = false;   /* never went out */
	else if (telev_tx_busy(&dir->tx) && dir->tx.total == 0)
		telev_tx_end(&dir->tx);
}

enum mdtmf_verdict mdtmf_in(struct media_session *s, unsigned side, uint8_t *buf,
			    size_t len, const struct rtp_hdr *h, uint64_t now_us)
{
	struct mdtmf *d = s->dtmf;
	struct mdtmf_side *in, *to;

	(void)len;
	if (!d || !d->side[side].known)
		return MDTMF_PASS;
	in = &d->side[side];
	to = &d->side[side ^ 1];
	in->mute_samples = 0;
	if ((in->p.te_pt <= 127 && h->pt == in->p.te_pt) ||
	    (in->p.te_pt_rx <= 127 && h->pt == in->p.te_pt_rx)) {
		struct telev_note n[TELEV_NOTES_MAX];
		int k = telev_rx_packet(&in->rx, h->ts, buf + h->hdr_len, h->payload_len,
					now_us, n);

		for (int i = 0; i < k; i++)
			on_rx_note(s, side, &n[i]);
		if (k < 0 || (to->known && to->p.mode != MEDIA_DTMF_RFC4733)) {
			/* taken out of the stream: no sequence gap toward the other side */
			s->side[side].out.seq_off--;
			return MDTMF_CONSUME;
		}
		/* durations and timestamps move to the other clock in mdtmf_out */
		return to->known ? MDTMF_EVENT : MDTMF_PASS;
	}
	if (in->ib && (h->pt == in->p.audio_pt || h->pt == in->p.audio_pt_rx) &&
	    !(to->known && to->p.mode == MEDIA_DTMF_INBAND)) {
		struct inband_note n[INBAND_NOTES_MAX];
		size_t k = 0;

		if (!in->p.opus) {
			k = inband_process(in->ib, buf + h->hdr_len, h->payload_len, n, NULL);
			in->ib_rx_us = now_us;
		} else if (!s->transcoding && in->dec) {
			/* a relay: decoded for the detector only (a transcoder's tap does
			 * this on a transcoded session) */
			int16_t pcm[CODEC_MAX_SAMPLES];
			int ns = codec_decode(in->dec, buf + h->hdr_len, h->payload_len, pcm,
					      CODEC_MAX_SAMPLES);
			bool muted = false;

			if (ns > 0) {
				k = inband_process_pcm(in->ib, pcm, (size_t)ns, n, &muted);
				in->mute_samples = muted ? (uint32_t)ns : 0;
				in->ib_rx_us = now_us;
			}
		}
		for (size_t i = 0; i < k; i++)
			on_inband_note(s, side, &n[i]);
	}
	return MDTMF_PASS;
}

uint8_t mdtmf_event_pt(const struct media_session *s, unsigned to)
{
	return s->dtmf ? s->dtmf->side[to & 1].p.te_pt : MEDIA_PT_NONE;
}

bool mdtmf_xc_event(struct media_session *s, unsigned side, uint32_t ts, const uint8_t *pl,
		    size_t len, uint64_t now_us)
{
	struct mdtmf *d = s->dtmf;
	struct telev_note n[TELEV_NOTES_MAX];
	int k;

	if (!d || !d->side[side].known)
		return true;
	k = telev_rx_packet(&d->side[side].rx, ts, pl, len, now_us, n);
	for (int i = 0; i < k; i++)
		on_rx_note(s, side, &n[i]);   /* reported; tones toward an in-band side */
	return !d->side[side ^ 1].known || d->side[side ^ 1].p.mode == MEDIA_DTMF_RFC4733;
}

/*
 * An in-band leg that stops sending while the detector holds a digit (silence
 * suppression as the key is released) would keep the digit, and the events sent for
 * it, going until its next packet: after MDTMF_IB_IDLE_US without audio, the detector
 * is given MDTMF_IB_IDLE_SAMPLES of silence, once a pause, which ends the digit.
 */
static void inband_idle(struct media_session *s, unsigned side, uint64_t now_us)
{
	struct mdtmf_side *in = &s->dtmf->side[side];
	struct inband_note n[INBAND_NOTES_MAX];
	int16_t quiet[MDTMF_IB_IDLE_SAMPLES];
	size_t k;

	if (!in->ib || !in->ib_rx_us || now_us < in->ib_rx_us + MDTMF_IB_IDLE_US)
		return;
	in->ib_rx_us = 0;
	if (!inband_holding(in->ib))
		return;
	memset(quiet, 0, sizeof(quiet));
	k = inband_process_pcm(in->ib, quiet, MDTMF_IB_IDLE_SAMPLES, n, NULL);
	for (size_t i = 0; i < k; i++)
		on_inband_note(s, side, &n[i]);
}

void mdtmf_tick(struct media_session *s, uint64_t now_us)
{
	struct mdtmf *d = s->dtmf;
	struct telev_note n;

	if (!d)
		return;
	for (unsigned i = 0; i < 2; i++) {
		if (d->side[i].known && telev_rx_tick(&d->side[i].rx, now_us, false, &n))
			on_rx_note(s, i, &n);
		if (d->side[i].known)
			inband_idle(s, i, now_us);
	}
}

/* ---- generating ---- */

/* Starts the next digit from signalling toward `to`, if any. */
static void start_queued(struct mdtmf *d, unsigned to)
{
	struct mdtmf_dir *dir = &d->dir[to];
	struct mdtmf_side *sd = &d->side[to];

	if (dir->pend_digit) {
		char digit = dir->pend_digit;

		dir->pend_digit = 0;
		if (dir->gen && dtmf_gen_start(dir->gen, digit, dir->pend_samples,
					       MDTMF_LEVEL_DBM0, MDTMF_TWIST_DB) == 0) {
			dir->gen_on = true;
			dir->gen_open = dir->pend_samples == 0;
			return;
		}
	}
	while (dir->q_head < dir->q.n) {
		char digit = dir->q.d[dir->q_head].digit;
		unsigned ms = dir->q.d[dir->q_head].duration_ms;
		int ev = dtmf_digit_event(digit);

		dir->q_head++;
		if (ev < 0)
			continue;
		if (sd->p.mode == MEDIA_DTMF_INBAND && dir->gen) {
			/* ms 0: an RFC 4733 digit whose end has not come yet */
			if (dtmf_gen_start(dir->gen, digit, ms * (DTMF_RATE / 1000u),
					   MDTMF_LEVEL_DBM0, MDTMF_TWIST_DB) == 0) {
				dir->gen_on = true;
				dir->gen_open = ms == 0;
				return;
			}
		} else if (sd->p.te_pt <= 127) {
			dir->tx_pending = true;
			dir->tx_event = (uint8_t)ev;
			dir->tx_total = telev_rescale(ms, 1000, te_rate(sd));
			return;
		}
	}
	dir->q.n = dir->q_head = 0;
}

/* Writes the generated tone over 8 kHz audio; the tone ends with a pause after it. */
static bool tone_pcm(struct mdtmf_dir *dir, int16_t *pcm, size_t n)
{
	if (!dir->gen_on)
		return false;
	(void)dtmf_gen_fill(dir->gen, pcm, n);
	if (!dtmf_gen_busy(dir->gen)) {
		dir->gen_on = false;
		dir->gen_open = false;
		dir->gap = MDTMF_GAP_PKTS;
	}
	return true;
}

/* Writes the generated tone over a G.711 payload. */
static void fill_tone(struct mdtmf_dir *dir, bool alaw, uint8_t *pl, size_t n)
{
	int16_t pcm[160];

	for (size_t off = 0; off < n; off += 160) {
		size_t k = n - off < 160 ? n - off : 160;

		(void)dtmf_gen_fill(dir->gen, pcm, k);
		for (size_t i = 0; i < k; i++)
			pl[off + i] = alaw ? g711_alaw_encode(pcm[i]) : g711_ulaw_encode(pcm[i]);
	}
	if (!dtmf_gen_busy(dir->gen)) {
		dir->gen_on = false;
		dir->gen_open = false;
		dir->gap = MDTMF_GAP_PKTS;
	}
}

/* The transcoder's tap of the direction from t->from: tones from an in-band Opus side
 * detected and zeroed; a tone toward an in-band Opus side written. */
static void xc_tap(void *arg, int16_t *pcm, size_t n)
{
	const struct mdtmf_tap *t = arg;
	struct media_session *s = t->s;
	struct mdtmf *d = s->dtmf;
	struct mdtmf_side *in = &d->side[t->from], *to = &d->side[t->from ^ 1];
	struct mdtmf_dir *dir = &d->dir[t->from ^ 1];

	if (opus_inband(in) && !(to->known && to->p.mode == MEDIA_DTMF_INBAND)) {
		struct inband_note notes[INBAND_NOTES_MAX];
		size_t k = inband_process_pcm(in->ib, pcm, n, notes, NULL);

		for (size_t i = 0; i < k; i++)
			on_inband_note(s, t->from, &notes[i]);
	}
	if (opus_inband(to) && dir->gen && tone_pcm(dir, pcm, n))
		dir->tapped = true;
}

/* Largest Opus frame (8 kHz samples) that fits in n: 10 ms to 120 ms. */
static size_t opus_frame_fit(size_t n)
{
	static const size_t sizes[] = {960, 800, 640, 480, 320, 160, 80};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (n >= sizes[i])
			return sizes[i];
	return 80;
}

/* A packet toward an Opus side on a relay (or one of our own): its payload becomes an
 * Opus frame of ours of the same duration when a tone goes toward the side, or when
 * the tone the other (in-band Opus) side sent in it must not be heard. */
static size_t opus_own(struct media_session *s, unsigned to, uint8_t *buf,
		       const struct rtp_hdr *h, size_t len, size_t cap)
{
	struct mdtmf *d = s->dtmf;
	struct mdtmf_dir *dir = &d->dir[to];
	struct mdtmf_side *from = &d->side[to ^ 1];
	int16_t pcm[CODEC_MAX_SAMPLES];
	size_t n;
	int r;

	if (!dir->enc || (!dir->gen_on && !from->mute_samples) || cap <= h->hdr_len)
		return len;
	n = codec_packet_dur(MEDIA_CODEC_OPUS, buf + h->hdr_len, h->payload_len) /
	    (48000u / CODEC_RATE);
	if (!n)   /* one of our own (no audio flows): a packet time */
		n = from->mute_samples ? from->mute_samples
				       : 8u * (d->side[to].p.ptime ? d->side[to].p.ptime : 20);
	n = opus_frame_fit(n > CODEC_MAX_SAMPLES ? CODEC_MAX_SAMPLES : n);
	memset(pcm, 0, n * sizeof(int16_t));
	if (tone_pcm(dir, pcm, n))
		dir->filled = true;
	from->mute_samples = 0;
	r = codec_encode(dir->enc, pcm, n, buf + h->hdr_len, cap - h->hdr_len);
	if (r <= 0)
		return len;
	buf[0] &= (uint8_t)~0x20;   /* no padding after our frame */
	return h->hdr_len + (size_t)r;
}

size_t mdtmf_out(struct media_session *s, unsigned to, uint8_t *buf, size_t len,
		 size_t cap)
{
	struct mdtmf *d = s->dtmf;
	struct mdtmf_side *sd;
	struct mdtmf_dir *dir;
	struct rtp_hdr h;
	struct telev_pkt p;
	bool tapped;

	if (!d || !d->side[to].known || rtp_hdr_parse(&h, buf, len))
		return len;
	sd = &d->side[to];
	dir = &d->dir[to];
	dir->filled = false;
	tapped = dir->tapped;
	dir->tapped = false;
	if (sd->p.te_pt <= 127 && h.pt == sd->p.te_pt) {
		/* an event relayed as it came, moved to this side's event clock */
		const struct mdtmf_side *from = &d->side[to ^ 1];
		uint32_t ts;

		if (!from->known || te_rate(from) == te_rate(sd))
			return len;
		if (dir->map.from_hz != te_rate(from) || dir->map.to_hz != te_rate(sd))
			telev_map_init(&dir->map, te_rate(from), te_rate(sd));
		if (telev_map_packet(&dir->map, h.ts, buf + h.hdr_len, h.payload_len, h.ts,
				     &ts) == 0)
			rtp_set_ts(buf, ts);
		return len;
	}
	if (dir->gap)
		dir->gap--;
	else if (!dir->tx_pending && !telev_tx_busy(&dir->tx) && !dir->gen_on)
		start_queued(d, to);
	if (dir->tx_pending && cap >= RTP_HDR_MIN + TELEV_PAYLOAD_LEN) {
		(void)telev_tx_start(&dir->tx, dir->tx_event, MDTMF_VOLUME, h.ts, dir->tx_total);
		dir->tx_pending = false;
	}
	if (telev_tx_busy(&dir->tx) && telev_tx_next(&dir->tx, &p)) {
		buf[0] = RTP_VERSION << 6;   /* no padding, extension or CSRCs */
		rtp_set_pt(buf, sd->p.te_pt, p.marker);
		rtp_set_ts(buf, p.ts);
		memcpy(buf + RTP_HDR_MIN, p.payload, TELEV_PAYLOAD_LEN);
		if (p.last)
			dir->gap = MDTMF_GAP_PKTS;
		dir->filled = true;
		return RTP_HDR_MIN + TELEV_PAYLOAD_LEN;
	}
	if (sd->p.opus) {
		if (tapped)   /* a transcoder's frame: the tone is in it already */
			dir->filled = true;
		else if (h.pt == sd->p.audio_pt && (!s->transcoding || h.payload_len == 0))
			len = opus_own(s, to, buf, &h, len, cap);
		return len;
	}
	if (dir->gen_on && h.pt == sd->p.audio_pt) {
		fill_tone(dir, sd->p.alaw, buf + h.hdr_len, h.payload_len);
		dir->filled = true;
	}
	return len;
}

/* ---- digits with no audio flowing ---- */

static bool dir_busy(const struct mdtmf_dir *dir)
{
	return dir->tx_pending || telev_tx_busy(&dir->tx) || dir->gen_on || dir->gap ||
	       dir->pend_digit || dir->q_head < dir->q.n;
}

bool mdtmf_busy(const struct media_session *s)
{
	const struct mdtmf *d = s->dtmf;

	return d && ((d->side[0].known && dir_busy(&d->dir[0])) ||
		     (d->side[1].known && dir_busy(&d->dir[1])));
}

/* One packet of our own toward `to`: a G.711 silence frame (or an empty one) that
 * mdtmf_out() turns into an event packet or a tone; sent only if it did. */
static void own_packet(struct media_session *s, unsigned to, unsigned ptime, uint64_t now_us)
{
	struct mdtmf_side *ms = &s->dtmf->side[to];
	struct session_side *sd = &s->side[to];
	struct session_out *o = &s->side[to ^ 1].out;   /* the stream toward `to` */
	const union media_sa *dst = sd->latched ? &sd->peer_rtp : &sd->sdp_rtp;
	uint8_t pkt[RTP_HDR_MIN + 8 * 60 + 64];
	size_t pl = ms->p.audio_pt <= 127 && !ms->p.opus ? 8u * (ptime > 60 ? 60 : ptime) : 0;
	size_t len;
	uint64_t now_ms = now_us / 1000u;
	uint32_t ts = o->ts_init;
	uint16_t seq = o->seq_init;
	ssize_t r;

	if (o->started) {
		uint64_t step = (now_ms - o->last_ms) * o->clock_hz / 1000u;

		ts = o->ts_last + (uint32_t)(step ? step : 1);
		seq = (uint16_t)(o->seq_max + 1);
	}
	pkt[0] = RTP_VERSION << 6;
	rtp_set_pt(pkt, ms->p.audio_pt <= 127 ? ms->p.audio_pt : 0, false);
	rtp_set_seq(pkt, seq);
	rtp_set_ts(pkt, ts);
	rtp_set_ssrc(pkt, o->ssrc);
	memset(pkt + RTP_HDR_MIN, ms->p.alaw ? 0xd5 : 0xff, pl);
	len = mdtmf_out(s, to, pkt, RTP_HDR_MIN + pl, sizeof(pkt) - 64);
	if (!s->dtmf->dir[to].filled)
		return;   /* a pause between digits: time passes, nothing is sent */
	o->started = true;
	o->seq_max = seq;
	o->ts_last = ts;
	o->last_ms = now_ms;
	if (!o->gen)
		o->rebase = true;   /* relayed audio continues after our packets */
	if (!session_srtp_out(sd, false, pkt, &len, sizeof(pkt)))
		return;
	r = sendto(sd->fd[SESSION_FD_RTP], pkt, len, MSG_DONTWAIT, &dst->sa, sa_len(dst));
	if (r > 0) {
		sd->st.rtp_out++;
		sd->st.bytes_out += (uint64_t)r;
	}
}

void mdtmf_clock(struct media_session *s, uint64_t now_us, uint64_t *next_due_us)
{
	struct mdtmf *d = s->dtmf;

	if (!d)
		return;
	for (unsigned to = 0; to < 2; to++) {
		struct mdtmf_dir *dir = &d->dir[to];
		struct session_out *o = &s->side[to ^ 1].out;
		unsigned ptime = d->side[to].p.ptime ? d->side[to].p.ptime : 20;
		unsigned gap_ms = d->side[to ^ 1].p.ptime > ptime ? d->side[to ^ 1].p.ptime : ptime;
		uint64_t due;

		if (!d->side[to].known || !dir_busy(dir) || !session_takes_rtp(&s->side[to])) {
			dir->own = false;
			continue;
		}
		if (dir->own && o->last_ms == dir->own_ms)
			due = dir->own_due_us;   /* our own cadence */
		else   /* audio flowed: wait until one and a half packet times passed (the
			* longer of the two sides', as a relay forwards the other's) */
			due = o->started ? o->last_ms * 1000u + gap_ms * 1500u : 0;
		if (due > now_us + 500) {
			if (due < *next_due_us)
				*next_due_us = due;
			continue;
		}
		own_packet(s, to, ptime, now_us);
		dir->own = true;
		dir->own_ms = o->last_ms;
		dir->own_due_us = now_us + ptime * 1000u;
		if (dir->own_due_us < *next_due_us)
			*next_due_us = dir->own_due_us;
	}
}

void mdtmf_close(struct media_session *s)
{
	struct mdtmf *d = s->dtmf;

	if (!d)
		return;
	for (unsigned to = 0; to < 2; to++) {
		struct mdtmf_dir *dir = &d->dir[to];
		struct session_side *sd = &s->side[to];
		struct session_out *o = &s->side[to ^ 1].out;   /* the stream toward `to` */
		const union media_sa *dst = sd->latched ? &sd->peer_rtp : &sd->sdp_rtp;
		struct telev_pkt p;

		if (!telev_tx_busy(&dir->tx) || !o->started)
			continue;
		telev_tx_end(&dir->tx);
		while (telev_tx_next(&dir->tx, &p)) {
			uint8_t pkt[RTP_HDR_MIN + TELEV_PAYLOAD_LEN + 64];
			size_t n = RTP_HDR_MIN + TELEV_PAYLOAD_LEN;

			if (!session_takes_rtp(sd))
				continue;
			o->seq_max++;
			o->seq_off++;
			pkt[0] = RTP_VERSION << 6;
			rtp_set_pt(pkt, d->side[to].p.te_pt, p.marker);
			rtp_set_seq(pkt, o->seq_max);
			rtp_set_ts(pkt, p.ts);
			rtp_set_ssrc(pkt, o->ssrc);
			memcpy(pkt + RTP_HDR_MIN, p.payload, TELEV_PAYLOAD_LEN);
			if (session_srtp_out(sd, false, pkt, &n, sizeof(pkt)) &&
			    sendto(sd->fd[SESSION_FD_RTP], pkt, n, MSG_DONTWAIT, &dst->sa,
				   sa_len(dst)) > 0)
				sd->st.rtp_out++;
		}
	}
}
