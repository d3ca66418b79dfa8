/*
 * test_sdp_neg.c — offer/answer across the two legs: codec filtering, our address and
 * ports, payload-type numbers kept per leg, m= lines mirrored, hold re-offers, the
 * media engine's PT maps, refresh detection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"

static const char *const allowed[] = {"PCMU/8000", "PCMA/8000", "telephone-event/8000"};

static const char offer_a[] =
	"v=0\r\no=alice 100 1 IN IP4 10.0.0.1\r\ns=call\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

static const char answer_b[] =
	"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 8 100\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:100 telephone-event/8000\r\na=fmtp:100 0-15\r\n";

static void ctx_init(struct b2b_sdp_ctx *c)
{
	memset(c, 0, sizeof(*c));   /* no scratch: the functions allocate their own */
	c->media_addr = "192.0.2.10";
	c->port[MEDIA_SIDE_A] = 20000;
	c->port[MEDIA_SIDE_B] = 20002;
	c->allowed = allowed;
	c->n_allowed = 3;
}

static struct b2b_media *media_new(void)
{
	struct b2b_media *m = calloc(1, sizeof(*m));

	m->offer_from = -1;
	m->sess_id = 4242;
	return m;
}

static struct sdp_session *parse(const char *s, size_t n)
{
	struct sdp_session *p = calloc(1, sizeof(*p));
	char why[128];

	assert_int_equal(sdp_parse(p, s, n, why, sizeof(why)), 0);
	return p;
}

/* Initial negotiation A -> B, shared by several tests. */
static void negotiate(struct b2b_media *m, const struct b2b_sdp_ctx *c)
{
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	assert_int_equal(b2b_sdp_offer(m, c, MEDIA_SIDE_A, offer_a, strlen(offer_a), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	assert_int_equal(b2b_sdp_answer(m, c, answer_b, strlen(answer_b), out, sizeof(out), &n,
					why, sizeof(why)), 0);
}

static void test_offer_to_b(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, offer_a, strlen(offer_a), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	assert_int_equal(n, strlen(out));
	s = parse(out, n);
	assert_int_equal(s->n_media, 1);   /* only the audio stream goes to B */
	assert_string_equal(s->media[0].type, "audio");
	assert_string_equal(s->media[0].addr, "192.0.2.10");
	assert_int_equal(s->media[0].port, 20002);
	assert_int_equal(s->media[0].n_codecs, 3);   /* G729 is not relayed */
	assert_int_equal(s->media[0].codecs[0].pt, 0);
	assert_int_equal(s->media[0].codecs[1].pt, 8);
	assert_int_equal(s->media[0].codecs[2].pt, 101);
	assert_string_equal(s->media[0].codecs[2].fmtp, "0-16");
	assert_int_equal(s->media[0].ptime, 20);
	assert_int_equal(s->sess_id, 4242);
	assert_true(strstr(out, "10.0.0.1") == NULL);   /* nothing of A's addressing */
	/* What A declared is remembered for the media engine. */
	assert_string_equal(m->side[MEDIA_SIDE_A].addr, "10.0.0.1");
	assert_int_equal(m->side[MEDIA_SIDE_A].port, 4000);
	free(s);
	free(m);
}

static void test_answer_to_a_and_pt_maps(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	char out[SDP_BUF_MAX], why[128], codec[48];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, offer_a, strlen(offer_a), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	assert_int_equal(b2b_sdp_answer(m, &c, answer_b, strlen(answer_b), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	s = parse(out, n);
	/* The answer mirrors A's two m= lines; video is refused with port 0. */
	assert_int_equal(s->n_media, 2);
	assert_string_equal(s->media[0].type, "audio");
	assert_int_equal(s->media[0].port, 20000);
	assert_string_equal(s->media[0].addr, "192.0.2.10");
	assert_int_equal(s->media[0].n_codecs, 2);
	assert_int_equal(s->media[0].codecs[0].pt, 8);     /* B's choice, A's number */
	assert_int_equal(s->media[0].codecs[1].pt, 101);   /* A's number, not B's 100 */
	assert_string_equal(s->media[1].type, "video");
	assert_int_equal(s->media[1].port, 0);
	b2b_sdp_codec(m, codec, sizeof(codec));
	assert_string_equal(codec, "PCMA/8000");

	b2b_sdp_media_params(m, &p);
	/* From A: PT 8 -> 8, 101 -> B's 100; PCMU is not negotiated. */
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[8], 8);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], 100);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[0], MEDIA_PT_NONE);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[18], MEDIA_PT_NONE);
	/* From B: what we offered it (101), and its own number (100), both -> A's 101. */
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[8], 8);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[101], 101);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[100], 101);
	/* Remote addresses from each side's SDP. */
	assert_int_equal(ntohs(((struct sockaddr_in *)&p.side[MEDIA_SIDE_A].rtp)->sin_port), 4000);
	assert_int_equal(ntohs(((struct sockaddr_in *)&p.side[MEDIA_SIDE_B].rtp)->sin_port), 6000);
	assert_int_equal(p.side[MEDIA_SIDE_A].dir, MEDIA_DIR_SENDRECV);
	free(s);
	free(m);
}

static void test_no_common_codec_and_garbage(void **state)
{
	static const char g729[] =
		"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
	static const char dtmf_only[] =
		"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n";
	static const char b_g722[] =
		"v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n";
	static const char b_rejects[] =
		"v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 0 RTP/AVP 0\r\n";
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	char out[SDP_BUF_MAX], why[128] = "";
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	assert_int_equal(b2b_sdp_offer(m, &c, 0, g729, strlen(g729), out, sizeof(out), &n, why,
				       sizeof(why)), ENOTSUP);
	assert_true(strstr(why, "codec") != NULL);
	assert_int_equal(b2b_sdp_offer(m, &c, 0, dtmf_only, strlen(dtmf_only), out, sizeof(out),
				       &n, why, sizeof(why)), ENOTSUP);
	why[0] = '\0';
	assert_int_equal(b2b_sdp_offer(m, &c, 0, "garbage\r\n", 9, out, sizeof(out), &n, why,
				       sizeof(why)), EINVAL);
	assert_true(why[0] != '\0');
	/* B answers with nothing we offered, or refuses the stream. */
	assert_int_equal(b2b_sdp_offer(m, &c, 0, offer_a, strlen(offer_a), out, sizeof(out), &n,
				       why, sizeof(why)), 0);
	assert_int_equal(b2b_sdp_answer(m, &c, b_g722, strlen(b_g722), out, sizeof(out), &n, why,
					sizeof(why)), ENOTSUP);
	assert_int_equal(b2b_sdp_answer(m, &c, b_rejects, strlen(b_rejects), out, sizeof(out), &n,
					why, sizeof(why)), ENOTSUP);
	free(m);
}

static void test_hold_from_b_keeps_numbers(void **state)
{
	static const char hold_b[] =
		"v=0\r\no=bob 200 8 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 8 100\r\na=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:100 telephone-event/8000\r\na=sendonly\r\n";
	static const char answer_a[] =
		"v=0\r\no=alice 100 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	char out[SDP_BUF_MAX], why[128];
	uint64_t v_a, v_b;
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	negotiate(m, &c);
	v_a = m->side[MEDIA_SIDE_A].local_version;
	v_b = m->side[MEDIA_SIDE_B].local_version;
	assert_false(b2b_sdp_is_refresh(m, MEDIA_SIDE_B, hold_b, strlen(hold_b)));
	assert_true(b2b_sdp_is_refresh(m, MEDIA_SIDE_B, answer_b, strlen(answer_b)));

	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_B, hold_b, strlen(hold_b), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->media[0].port, 20000);
	assert_int_equal(s->media[0].dir, SDP_DIR_SENDONLY);
	assert_int_equal(s->media[0].codecs[0].pt, 8);
	assert_int_equal(s->media[0].codecs[1].pt, 101);   /* A keeps its number */
	assert_int_equal(s->sess_version, v_a + 1);        /* a new version toward A */
	free(s);

	assert_int_equal(b2b_sdp_answer(m, &c, answer_a, strlen(answer_a), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->n_media, 1);
	assert_int_equal(s->media[0].port, 20002);
	assert_int_equal(s->media[0].dir, SDP_DIR_RECVONLY);
	assert_int_equal(s->media[0].codecs[1].pt, 100);   /* B's number back to B */
	assert_int_equal(s->sess_version, v_b + 1);
	free(s);

	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].dir, MEDIA_DIR_SENDONLY);
	assert_int_equal(p.side[MEDIA_SIDE_A].dir, MEDIA_DIR_RECVONLY);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], 100);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[100], 101);
	free(m);
}

/* A WebRTC-style client offering DTLS-SRTP first and plain RTP/AVP as an alternative
 * line (and a best-effort RTP/SAVP line toward a trunk without SRTP): trunx takes the
 * line it can serve and rejects the other with port 0, m= lines kept in number and
 * order (RFC 3264 6). */
static void test_alternative_audio_line(void **state)
{
	static const char offer[] =
		"v=0\r\no=- 5 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"a=group:BUNDLE 0\r\n"
		"m=audio 50000 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\n"
		"a=rtpmap:111 opus/48000/2\r\na=setup:actpass\r\n"
		"a=fingerprint:sha-256 AB:CD\r\na=ice-ufrag:x1y2\r\na=rtcp-mux\r\n"
		"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
	static const char best_effort[] =
		"v=0\r\no=- 6 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4002 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
		"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
		"m=audio 4000 RTP/AVP 0\r\n";
	const char *const bodies[] = {offer, best_effort};
	struct b2b_sdp_ctx c;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	for (size_t k = 0; k < 2; k++) {
		const char *body = bodies[k];
		struct b2b_media *m = media_new();
		struct sdp_session *s;

		assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, body, strlen(body), out,
					       sizeof(out), &n, why, sizeof(why)), 0);
		s = parse(out, n);
		assert_int_equal(s->n_media, 1);
		assert_string_equal(s->media[0].proto, "RTP/AVP");
		free(s);
		assert_int_equal(m->side[MEDIA_SIDE_A].port, 4000);
		assert_int_equal(b2b_sdp_answer(m, &c, answer_b, strlen(answer_b), out,
						sizeof(out), &n, why, sizeof(why)), 0);
		s = parse(out, n);
		assert_int_equal(s->n_media, 2);
		assert_int_equal(s->media[0].port, 0);
		assert_string_equal(s->media[0].proto, k ? "RTP/SAVP" : "UDP/TLS/RTP/SAVPF");
		assert_int_equal(s->media[0].n_crypto, 0);
		assert_int_equal(s->media[1].port, 20000);
		assert_string_equal(s->media[1].proto, "RTP/AVP");
		assert_int_equal(s->media[1].codecs[0].pt, 0);
		free(s);
		free(m);
	}
	/* DTLS-SRTP alone: refused with a reason */
	{
		struct b2b_media *m = media_new();
		size_t cut = strstr(offer, "m=audio 4000") - offer;

		assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, offer, cut, out, sizeof(out),
					       &n, why, sizeof(why)), ENOTSUP);
		assert_non_null(strstr(why, "RTP/AVP"));
		free(m);
	}
}

/* A re-offer that changes the SDP but keeps the o= version (seen from OCS/Lync-era
 * gateways and some PBXs on hold) is an offer, not a refresh; the same bytes again
 * are a refresh. */
static void test_refresh_needs_same_body(void **state)
{
	static const char hold_same_version[] =
		"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 8 100\r\na=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:100 telephone-event/8000\r\na=fmtp:100 0-15\r\na=sendonly\r\n";
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	negotiate(m, &c);
	assert_true(b2b_sdp_is_refresh(m, MEDIA_SIDE_B, answer_b, strlen(answer_b)));
	assert_false(b2b_sdp_is_refresh(m, MEDIA_SIDE_B, hold_same_version,
					 strlen(hold_same_version)));
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_B, hold_same_version,
				       strlen(hold_same_version), out, sizeof(out), &n, why,
				       sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->media[0].dir, SDP_DIR_SENDONLY);
	free(s);
	/* now that SDP is the last one seen from B: sent again, it is a refresh */
	assert_true(b2b_sdp_is_refresh(m, MEDIA_SIDE_B, hold_same_version,
				       strlen(hold_same_version)));
	free(m);
}

/* RFC 2543 hold (c=0.0.0.0, no direction attribute or recvonly): relayed to the other
 * leg as the hold it is (sendonly, inactive), and the holder gets no media. */
static void test_hold_2543_relayed(void **state)
{
	static const char hold_a[] =
		"v=0\r\no=alice 100 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
	static const char hold_a_recvonly[] =
		"v=0\r\no=alice 100 3 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
		"a=recvonly\r\n";
	static const char ans_b[] =
		"v=0\r\no=bob 200 8 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 0 100\r\na=rtpmap:100 telephone-event/8000\r\n"
		"a=recvonly\r\n";
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	negotiate(m, &c);
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, hold_a, strlen(hold_a), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out, n);
	assert_string_equal(s->media[0].addr, "192.0.2.10");
	assert_int_equal(s->media[0].dir, SDP_DIR_SENDONLY);
	free(s);
	assert_int_equal(m->side[MEDIA_SIDE_A].dir, SDP_DIR_SENDONLY);
	assert_int_equal(b2b_sdp_answer(m, &c, ans_b, strlen(ans_b), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->media[0].dir, SDP_DIR_RECVONLY);
	free(s);
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, hold_a_recvonly,
				       strlen(hold_a_recvonly), out, sizeof(out), &n, why,
				       sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->media[0].dir, SDP_DIR_INACTIVE);
	free(s);
	free(m);
}

/* A callee that answers a sendonly offer sendrecv (an invalid answer, RFC 3264 6.1):
 * trunx's answer to the holder still says recvonly; an inactive offer gets inactive. */
static void test_answer_dir_clamped(void **state)
{
	static const char ans_b[] =
		"v=0\r\no=bob 200 8 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 0\r\na=sendrecv\r\n";
	static const char *const dirs[][2] = {
		{"sendonly", "recvonly"}, {"recvonly", "sendonly"}, {"inactive", "inactive"},
		{"sendrecv", "sendrecv"},
	};
	struct b2b_sdp_ctx c;
	char offer[512], out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	for (size_t i = 0; i < 4; i++) {
		struct b2b_media *m = media_new();
		struct sdp_session *s;

		snprintf(offer, sizeof(offer),
			 "v=0\r\no=alice 100 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
			 "t=0 0\r\na=%s\r\nm=audio 4000 RTP/AVP 0\r\n", dirs[i][0]);
		assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, offer, strlen(offer), out,
					       sizeof(out), &n, why, sizeof(why)), 0);
		assert_int_equal(b2b_sdp_answer(m, &c, ans_b, strlen(ans_b), out, sizeof(out),
						&n, why, sizeof(why)), 0);
		s = parse(out, n);
		assert_string_equal(sdp_dir_name(s->media[0].dir), dirs[i][1]);
		assert_int_equal(strstr(out, "a=sendrecv") ? 1 : 0, i == 3);
		free(s);
		free(m);
	}
}

/* o= versions per leg change only with the description (RFC 3264 8): a re-offer that
 * changes nothing (a refresh with a new version) reaches the other leg with the same
 * version and bytes, and its answer goes back unchanged; a hold then moves each leg's
 * version by one. */
static void test_version_only_on_change(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char again[sizeof(offer_a) + 8], out[SDP_BUF_MAX], why[128], prev_b[SDP_BUF_MAX],
	     prev_a[SDP_BUF_MAX];
	char *hold;
	uint64_t v_a, v_b;
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	negotiate(m, &c);
	v_a = m->side[MEDIA_SIDE_A].local_version;
	v_b = m->side[MEDIA_SIDE_B].local_version;
	snprintf(prev_a, sizeof(prev_a), "%s", m->side[MEDIA_SIDE_A].last_local);
	snprintf(prev_b, sizeof(prev_b), "%s", m->side[MEDIA_SIDE_B].last_local);
	snprintf(again, sizeof(again), "%s", offer_a);
	again[strstr(again, "100 1 IN") - again + 4] = '2';   /* o=alice 100 2 */
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, again, strlen(again), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	assert_string_equal(out, prev_b);
	assert_int_equal(m->side[MEDIA_SIDE_B].local_version, v_b);
	assert_int_equal(b2b_sdp_answer(m, &c, answer_b, strlen(answer_b), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	assert_string_equal(out, prev_a);
	assert_int_equal(m->side[MEDIA_SIDE_A].local_version, v_a);

	hold = strdup(again);
	hold[strstr(hold, "100 2 IN") - hold + 4] = '3';
	memcpy(strstr(hold, "a=ptime:20"), "a=sendonly", 10);   /* same length */
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, hold, strlen(hold), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->media[0].dir, SDP_DIR_SENDONLY);
	assert_int_equal(s->sess_version, v_b + 1);
	free(s);
	free(hold);
	free(m);
}

/* An offer with more m= lines than a simple phone sends (a room system's audio, video,
 * content, BFCP, FECC and data lines): the audio line is taken and every other line
 * comes back with port 0, the answer keeping their number and order (RFC 3264 6), up
 * to 32 lines; beyond, a refusal with a reason. */
static void test_many_mlines(void **state)
{
	static const size_t totals[] = {9, 12, 32, 33};
	static const char *const other[] = {
		"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
		"m=application 5002 UDP/BFCP *\r\n",
		"m=text 5004 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n",
		"m=image 5006 udptl t38\r\n",
	};
	char body[8192], out[SDP_BUF_MAX], why[128];
	struct b2b_sdp_ctx c;
	size_t n = 0;
	int len;

	(void)state;
	ctx_init(&c);
	for (size_t k = 0; k < 4; k++) {
		struct b2b_media *m = media_new();
		struct sdp_session *s;
		size_t total = totals[k], audio = total / 2;

		len = snprintf(body, sizeof(body), "v=0\r\no=room 1 1 IN IP4 10.0.0.1\r\n"
			       "s=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n");
		for (size_t i = 0; i < total; i++)
			len += snprintf(body + len, sizeof(body) - (size_t)len, "%s",
					i == audio ? "m=audio 4000 RTP/AVP 0\r\n"
						   : other[i % 4]);
		if (total > 32) {
			assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, body, (size_t)len,
						       out, sizeof(out), &n, why, sizeof(why)),
					 EINVAL);
			assert_non_null(strstr(why, "m= lines"));
			free(m);
			continue;
		}
		assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, body, (size_t)len, out,
					       sizeof(out), &n, why, sizeof(why)), 0);
		s = parse(out, n);
		assert_int_equal(s->n_media, 1);
		free(s);
		assert_int_equal(b2b_sdp_answer(m, &c, answer_b, strlen(answer_b), out,
						sizeof(out), &n, why, sizeof(why)), 0);
		s = parse(out, n);
		assert_int_equal(s->n_media, total);
		for (size_t i = 0; i < total; i++) {
			if (i == audio) {
				assert_string_equal(s->media[i].type, "audio");
				assert_int_equal(s->media[i].port, 20000);
				continue;
			}
			assert_int_equal(s->media[i].port, 0);
			assert_true(strncmp(other[i % 4] + 2, s->media[i].type,
					    strlen(s->media[i].type)) == 0);
		}
		free(s);
		free(m);
	}
}

/* Offers as equipment writes them, each answered or refused as RFC 3264 says: two
 * active audio lines (the first taken, the second port 0), a disabled audio line before
 * the active one, an inactive offer (inactive both ways), c= only at media level,
 * telephone-event without a voice codec (refused with a reason). */
static void test_offer_shapes(void **state)
{
#define H "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
	static const struct {
		const char *offer;
		int         rc;
		size_t      n_media;     /* lines in the answer to A */
		int         audio;       /* the line answered */
		enum sdp_dir to_b, to_a; /* directions offered to B, answered to A */
	} cases[] = {
		{H "c=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\n",
		 0, 2, 0, SDP_DIR_SENDRECV, SDP_DIR_SENDRECV},
		{H "c=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\n",
		 0, 2, 1, SDP_DIR_SENDRECV, SDP_DIR_SENDRECV},
		{H "c=IN IP4 10.0.0.1\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n",
		 0, 1, 0, SDP_DIR_INACTIVE, SDP_DIR_INACTIVE},
		{H "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.7\r\na=sendonly\r\n",
		 0, 1, 0, SDP_DIR_SENDONLY, SDP_DIR_RECVONLY},
		{H "c=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 101\r\n"
		 "a=rtpmap:101 telephone-event/8000\r\n", ENOTSUP, 0, 0, 0, 0},
	};
	static const char answer_inactive[] =
		"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 0 8\r\na=inactive\r\n";
	static const char answer_recvonly[] =
		"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 0 8\r\na=recvonly\r\n";
	static const char answer_any[] =
		"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 0 8\r\n";
	char out[SDP_BUF_MAX], why[128];
	struct b2b_sdp_ctx c;
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct b2b_media *m = media_new();
		struct sdp_session *s;
		const char *ans;

		why[0] = '\0';
		assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, cases[k].offer,
					       strlen(cases[k].offer), out, sizeof(out), &n, why,
					       sizeof(why)), cases[k].rc);
		if (cases[k].rc) {
			assert_non_null(strstr(why, "codec"));
			free(m);
			continue;
		}
		s = parse(out, n);
		assert_int_equal(s->media[0].dir, cases[k].to_b);
		free(s);
		ans = cases[k].to_b == SDP_DIR_INACTIVE ? answer_inactive :
		      cases[k].to_b == SDP_DIR_SENDONLY ? answer_recvonly : answer_any;
		assert_int_equal(b2b_sdp_answer(m, &c, ans, strlen(ans), out, sizeof(out), &n,
						why, sizeof(why)), 0);
		s = parse(out, n);
		assert_int_equal(s->n_media, cases[k].n_media);
		for (size_t i = 0; i < s->n_media; i++)
			assert_int_equal(s->media[i].port == 0, (int)i != cases[k].audio);
		assert_int_equal(s->media[cases[k].audio].dir, cases[k].to_a);
		free(s);
		free(m);
	}
#undef H
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_to_b),
		cmocka_unit_test(test_answer_to_a_and_pt_maps),
		cmocka_unit_test(test_no_common_codec_and_garbage),
		cmocka_unit_test(test_hold_from_b_keeps_numbers),
		cmocka_unit_test(test_alternative_audio_line),
		cmocka_unit_test(test_many_mlines),
		cmocka_unit_test(test_offer_shapes),
		cmocka_unit_test(test_refresh_needs_same_body),
		cmocka_unit_test(test_hold_2543_relayed),
		cmocka_unit_test(test_answer_dir_clamped),
		cmocka_unit_test(test_version_only_on_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
