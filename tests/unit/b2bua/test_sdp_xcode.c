/*
 * test_sdp_xcode.c — negotiation across legs with different codecs: trunx offers B
 * its transcodable set in B's trunk order, answers A with A's own codec when B chose
 * one A lacks (transcoding, with trunx's Opus fmtp), relays when B chose one of A's,
 * switches back and forth on re-offers, and gives the media engine each leg's codec,
 * payload types and Opus settings. Also the lenient Opus fmtp parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"

static const char *const allowed[] = {"PCMU/8000", "PCMA/8000", "opus/48000/2",
				      "telephone-event/8000", "telephone-event"};

static const char opus_only[] =
	"v=0\r\no=soft 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\n"
	"a=fmtp:96 useinbandfec=1; usedtx=1;maxaveragebitrate=20000\r\n"
	"a=rtpmap:97 telephone-event/48000\r\na=fmtp:97 0-16\r\na=ptime:20\r\n";

static const char pcmu_answer[] =
	"v=0\r\no=carrier 9 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

static const char pcmu_offer[] =
	"v=0\r\no=carrier 9 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

static const char opus_answer[] =
	"v=0\r\no=pbx 5 1 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\n"
	"m=audio 7000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000\r\n"
	"a=fmtp:111 useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\n";

static void ctx_init(struct b2b_sdp_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->media_addr = "192.0.2.10";
	c->port[MEDIA_SIDE_A] = 20000;
	c->port[MEDIA_SIDE_B] = 20002;
	c->allowed = allowed;
	c->n_allowed = 5;
	for (int i = 0; i < 2; i++) {
		c->opus[i].complexity = 5;
		c->opus[i].fec = true;
		c->opus[i].dtx = true;
	}
}

static struct b2b_media *media_new(void)
{
	struct b2b_media *m = calloc(1, sizeof(*m));

	m->offer_from = -1;
	m->sess_id = 77;
	return m;
}

static struct sdp_session *parse(const char *s)
{
	struct sdp_session *p = calloc(1, sizeof(*p));
	char why[128];

	assert_int_equal(sdp_parse(p, s, strlen(s), why, sizeof(why)), 0);
	return p;
}

static void opus_a_pcmu_b(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	char out[SDP_BUF_MAX], why[128];
	const struct sdp_codec *k;
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, opus_only, strlen(opus_only), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out);
	/* A's opus is relayable, PCMU and PCMA added; no trunk order: A's first */
	/* + telephone-event/8000 for a G.711 answer */
	assert_int_equal(s->media[0].n_codecs, 5);
	assert_non_null(sdp_media_find(&s->media[0], "telephone-event", 8000));
	assert_string_equal(s->media[0].codecs[0].name, "opus");
	assert_int_equal(s->media[0].codecs[0].pt, 96);
	assert_non_null(sdp_media_find(&s->media[0], "PCMU", 8000));
	assert_non_null(sdp_media_find(&s->media[0], "PCMA", 8000));
	free(s);
	/* B (a carrier) answers PCMU: transcoding */
	assert_int_equal(b2b_sdp_answer(m, &c, pcmu_answer, strlen(pcmu_answer), out,
					sizeof(out), &n, why, sizeof(why)), 0);
	assert_true(m->transcode);
	s = parse(out);
	assert_int_equal(s->media[0].n_codecs, 2);      /* opus + telephone-event/48000 */
	k = sdp_media_find(&s->media[0], "opus", 48000);
	assert_non_null(k);
	assert_int_equal(k->pt, 96);
	assert_int_equal(k->channels, 2);               /* opus/48000/2 on the wire */
	assert_non_null(strstr(k->fmtp, "maxplaybackrate=8000"));
	assert_non_null(strstr(k->fmtp, "useinbandfec=1"));
	k = sdp_media_find(&s->media[0], "telephone-event", 48000);
	assert_non_null(k);
	assert_int_equal(k->pt, 97);
	free(s);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.codec, MEDIA_CODEC_OPUS);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.pt, 96);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.te_pt, 97);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.te_rate, 48000);
	/* A asked for FEC and DTX, its trunk allows both */
	assert_true(p.side[MEDIA_SIDE_A].codec.opus.fec);
	assert_true(p.side[MEDIA_SIDE_A].codec.opus.dtx);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.opus.max_bitrate, 20000);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.codec, MEDIA_CODEC_PCMU);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.pt, 0);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.te_pt, 101);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.te_rate, 8000);
	{
		char ca[48], cb[48];

		b2b_sdp_codec_side(m, MEDIA_SIDE_A, ca, sizeof(ca));
		b2b_sdp_codec_side(m, MEDIA_SIDE_B, cb, sizeof(cb));
		assert_string_equal(ca, "opus/48000");
		assert_string_equal(cb, "PCMU/8000");
	}
	free(m);
}

static void trunk_order_and_relay(void **state)
{
	static const char b_list[][32] = {"opus/48000/2", "PCMA/8000"};
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	c.prefer[MEDIA_SIDE_B] = b_list;
	c.n_prefer[MEDIA_SIDE_B] = 2;
	/* A offers PCMU: B's trunk takes opus and PCMA, in that order */
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, pcmu_offer, strlen(pcmu_offer), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out);
	assert_int_equal(s->media[0].n_codecs, 3);
	assert_string_equal(s->media[0].codecs[0].name, "opus");
	assert_string_equal(s->media[0].codecs[1].name, "PCMA");
	assert_string_equal(s->media[0].codecs[2].name, "telephone-event");
	assert_null(sdp_media_find(&s->media[0], "PCMU", 8000));
	free(s);
	assert_int_equal(b2b_sdp_answer(m, &c, opus_answer, strlen(opus_answer), out,
					sizeof(out), &n, why, sizeof(why)), 0);
	assert_true(m->transcode);
	s = parse(out);
	assert_string_equal(s->media[0].codecs[0].name, "PCMU");
	assert_int_equal(s->media[0].codecs[0].pt, 0);
	free(s);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.codec, MEDIA_CODEC_PCMU);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.codec, MEDIA_CODEC_OPUS);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.pt, 111);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.te_rate, 8000);  /* te/8000 on Opus */

	/* B re-offers PCMA only; A takes it: a relay again */
	{
		static const char pcma_offer[] =
			"v=0\r\no=pbx 5 2 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\n"
			"t=0 0\r\nm=audio 7000 RTP/AVP 8\r\n";
		static const char a_ans[] =
			"v=0\r\no=a 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
			"t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";

		assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_B, pcma_offer, strlen(pcma_offer),
					       out, sizeof(out), &n, why, sizeof(why)), 0);
		s = parse(out);
		assert_string_equal(s->media[0].codecs[0].name, "PCMA");
		assert_non_null(sdp_media_find(&s->media[0], "PCMU", 8000));  /* A may keep it */
		free(s);
		assert_int_equal(b2b_sdp_answer(m, &c, a_ans, strlen(a_ans), out, sizeof(out), &n,
						why, sizeof(why)), 0);
	}
	assert_false(m->transcode);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.codec, p.side[MEDIA_SIDE_B].codec.codec);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[8], 8);
	free(m);
}

/* A (Twinkle with ptime=30) offers 30 ms G.711: the offer to B adds Opus, whose frames
 * are 10, 20, 40 or 60 ms, so its a=ptime must be one of those (a UA takes the offer's
 * ptime for its Opus encoder: baresip then fails every frame and sends no audio). A
 * keeps its 30 ms when trunx transcodes. */
static void ptime30_offer_with_opus(void **state)
{
	static const char pcmu_30[] =
		"v=0\r\no=twinkle 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\na=ptime:30\r\n";
	static const char opus_20[] =
		"v=0\r\no=pbx 5 1 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\n"
		"m=audio 7000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n"
		"a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";
	static const char b_list[][32] = {"opus/48000/2"};
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, pcmu_30, strlen(pcmu_30), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out);
	assert_non_null(sdp_media_find(&s->media[0], "opus", 48000));
	assert_int_equal(s->media[0].ptime, 20);
	free(s);
	/* the same toward an Opus-only trunk */
	free(m);
	m = media_new();
	c.prefer[MEDIA_SIDE_B] = b_list;
	c.n_prefer[MEDIA_SIDE_B] = 1;
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, pcmu_30, strlen(pcmu_30), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out);
	assert_string_equal(s->media[0].codecs[0].name, "opus");
	assert_int_equal(s->media[0].ptime, 20);
	free(s);
	assert_int_equal(b2b_sdp_answer(m, &c, opus_20, strlen(opus_20), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	assert_true(m->transcode);
	s = parse(out);
	assert_string_equal(s->media[0].codecs[0].name, "PCMU");
	assert_int_equal(s->media[0].ptime, 30);          /* A's own packets */
	free(s);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.ptime, 30);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.ptime, 20);
	free(m);
}

static void ptime_offer_g711_only(void **state)
{
	static const char pcmu_30[] =
		"v=0\r\no=twinkle 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=ptime:30\r\n";
	static const char b_list[][32] = {"PCMU/8000", "PCMA/8000"};
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	ctx_init(&c);
	c.prefer[MEDIA_SIDE_B] = b_list;
	c.n_prefer[MEDIA_SIDE_B] = 2;
	/* no Opus in the offer to B: A's 30 ms goes through as it is */
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, pcmu_30, strlen(pcmu_30), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	s = parse(out);
	assert_null(sdp_media_find(&s->media[0], "opus", 48000));
	assert_int_equal(s->media[0].ptime, 30);
	free(s);
	free(m);
}

static void opus_fmtp_lenient(void **state)
{
	struct sdp_opus o;
	char buf[160];

	(void)state;
	sdp_opus_parse(&o, " MaxPlaybackRate = 16000 ;stereo=1;;junk;useinbandfec=2;"
			   "usedtx=1;maxaveragebitrate=99999999;ptime=40;x-foo=bar;cbr");
	assert_int_equal(o.maxplaybackrate, 16000);
	assert_true(o.stereo);
	assert_false(o.useinbandfec);             /* 2 is not a value: default kept */
	assert_true(o.usedtx);
	assert_int_equal(o.maxaveragebitrate, 0); /* out of range: ignored */
	assert_int_equal(o.ptime, 40);
	sdp_opus_parse(&o, "");
	assert_int_equal(o.maxplaybackrate, 48000);
	sdp_opus_parse(&o, "maxplaybackrate=4000");  /* below 8000: ignored */
	assert_int_equal(o.maxplaybackrate, 48000);
	o.useinbandfec = true;
	o.maxaveragebitrate = 24000;
	assert_true(sdp_opus_write(&o, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "maxplaybackrate=48000;sprop-maxcapturerate=48000;stereo=0;"
			    "sprop-stereo=0;useinbandfec=1;usedtx=0;maxaveragebitrate=24000");
	assert_int_equal(sdp_opus_write(&o, buf, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(opus_a_pcmu_b),
		cmocka_unit_test(trunk_order_and_relay),
		cmocka_unit_test(opus_fmtp_lenient),
		cmocka_unit_test(ptime30_offer_with_opus),
		cmocka_unit_test(ptime_offer_g711_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
