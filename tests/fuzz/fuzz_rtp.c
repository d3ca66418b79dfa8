/*
 * fuzz_rtp.c — the RTP receive path on arbitrary bytes: header parse and build, the
 * receive statistics, and the relay of a media session (latching, source changes,
 * PT mapping, rewrite) without sockets.
 *
 * Input: a sequence of records [flags][arrival step][len][len bytes]. flags bit 0
 * picks the side the packet arrives on, bits 1-2 one of three source addresses, bit 3
 * an update that moves side A's remote; the arrival step (ms) advances the clock.
 * An update to the third address also makes both sides Opus (PT 111, a relay) with
 * DTMF interworking: A in-band (its audio decoded for the detector, tone packets
 * replaced by frames of trunx's own), B RFC 4733 (events become tones toward A).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtp.h"
#include "rtp_stats.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void opus_dtmf(struct media_side_params *sp, bool inband)
{
	sp->pt_map[111] = 111;
	sp->codec.codec = MEDIA_CODEC_OPUS;
	sp->codec.pt = sp->codec.pt_rx[0] = 111;
	sp->codec.pt_rx[1] = sp->codec.te_pt_rx[1] = MEDIA_PT_NONE;
	sp->codec.te_pt = sp->codec.te_pt_rx[0] = inband ? MEDIA_PT_NONE : 101;
	sp->dtmf.enabled = true;
	sp->dtmf.mode = inband ? MEDIA_DTMF_INBAND : MEDIA_DTMF_RFC4733;
	sp->dtmf.te_pt = sp->dtmf.te_pt_rx = inband ? MEDIA_PT_NONE : 101;
	sp->dtmf.te_rate = 48000;
	sp->dtmf.audio_pt = sp->dtmf.audio_pt_rx = 111;
	sp->dtmf.opus = true;
}

static void params(struct media_session_params *p, uint16_t port_a)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&p->side[i].rtp;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(i ? 6000 : port_a);
		p->side[i].dir = MEDIA_DIR_SENDRECV;
		memset(p->side[i].pt_map, MEDIA_PT_NONE, sizeof(p->side[i].pt_map));
		p->side[i].pt_map[0] = 0;
		p->side[i].pt_map[8] = 8;
		p->side[i].pt_map[101] = 96;
		p->side[i].pt_map[96] = 101;
	}
	if (port_a == 5004) {
		opus_dtmf(&p->side[0], true);
		opus_dtmf(&p->side[1], false);
	}
}

static void check_build(const struct rtp_hdr *parsed)
{
	uint8_t buf[RTP_HDR_MIN + 4 * RTP_CSRC_MAX + 4];
	struct rtp_hdr back, hh = *parsed, *h = &hh;
	size_t n;

	hh.padding = false;   /* build writes no padding bytes */
	if (rtp_hdr_build(buf, sizeof(buf), h, &n))
		abort();
	/* Without extension data or padding the built header must parse the same. */
	if (!h->ext) {
		if (rtp_hdr_parse(&back, buf, n) || back.seq != h->seq || back.ts != h->ts ||
		    back.ssrc != h->ssrc || back.pt != h->pt || back.cc != h->cc ||
		    back.marker != h->marker)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_cfg cfg = {.rtp_timeout_ms = 1000, .relatch_ms = 50,
				  .family = AF_INET};
	struct media_session *s = calloc(1, sizeof(*s));
	struct media_session_params p;
	struct rtp_stats st;
	union media_sa src[3];
	uint64_t now_us = 1000000;
	uint8_t buf[2048];
	size_t off = 0;

	if (!s)
		return 0;
	if (session_init(s)) {
		free(s);
		return 0;
	}
	for (int i = 0; i < 2; i++)
		s->side[i].fd[0] = s->side[i].fd[1] = -1;
	params(&p, 5000);
	session_apply(s, &cfg, &p, now_us / 1000);
	for (int i = 0; i < 3; i++)
		sa_parse(&src[i], "127.0.0.1", (uint16_t)(5000 + 2 * i));
	rtp_stats_init(&st);

	while (size - off >= 3) {
		uint8_t flags = data[off], step = data[off + 1];
		size_t len = data[off + 2];
		struct relay_out out;
		struct rtp_hdr h;
		unsigned side = flags & 1;

		off += 3;
		if (len > size - off)
			len = size - off;
		memcpy(buf, data + off, len);
		off += len;
		now_us += (uint64_t)step * 1000;
		if (flags & 8) {
			params(&p, (uint16_t)(5000 + 2 * ((flags >> 4) % 3)));
			p.side[side].dir = (enum media_dir)((flags >> 6) & 3);
			session_apply(s, &cfg, &p, now_us / 1000);
		}
		if (rtp_hdr_parse(&h, buf, len) == 0) {
			if (h.hdr_len + h.payload_len + h.pad_len != len)
				abort();
			check_build(&h);
			(void)rtp_stats_update(&st, h.seq, h.ts, (uint32_t)(now_us / 125));
		}
		if (relay_rtp(s, &cfg, side, buf, len, &src[(flags >> 1) % 3], now_us,
			      now_us - (flags & 0x40u), &out) ==
		    RELAY_SEND) {
			/* What leaves must be valid RTP in the direction's stable SSRC. */
			if (out.len > sizeof(buf) || rtp_hdr_parse(&h, buf, out.len) ||
			    h.ssrc != s->side[side].out.ssrc ||
			    out.side != (side ^ 1))
				abort();
		}
		(void)session_timer(s, &cfg, now_us / 1000);
	}
	(void)rtp_stats_lost(&st);
	(void)rtp_stats_fraction_lost(&st);
	(void)rtp_stats_jitter(&st);
	{
		struct media_side_stats out[2];

		session_stats(s, out);
	}
	session_fini(s);
	free(s);
	return 0;
}
