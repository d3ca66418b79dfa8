/*
 * test_rebridge_sdp.c — the SDP of a re-bridge (transfer mode bridge): the new leg is
 * offered what the replaced side negotiated (its codecs and our numbers, our port,
 * sendrecv, audio only) and the codecs trunx transcodes, as the new trunk allows, with
 * SRTP by the new trunk's policy; its answer becomes the side's (address, port, its
 * payload types, its keys): relay when it keeps the call's codec, transcoding when it
 * picks another; the kept side is not touched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"

static const char *const allowed[] = {"PCMU/8000", "PCMA/8000", "opus/48000/2",
				      "telephone-event/8000"};
/* The call itself: G.711 only. */
static const char *const call_allowed[] = {"PCMU/8000", "PCMA/8000", "telephone-event/8000"};

static const char offer_a[] =
	"v=0\r\no=alice 100 1 IN IP4 10.0.0.1\r\ns=call\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
	"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

static const char answer_b[] =
	"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 8 100\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:100 telephone-event/8000\r\na=fmtp:100 0-15\r\na=sendonly\r\n";

/* The new party: the same codec, its own event number, its own address. */
static const char answer_new[] =
	"v=0\r\no=carol 300 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
	"m=audio 7000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:96 telephone-event/8000\r\n";

static const char answer_pcmu[] =
	"v=0\r\no=dave 400 1 IN IP4 10.0.0.8\r\ns=-\r\nc=IN IP4 10.0.0.8\r\nt=0 0\r\n"
	"m=audio 7100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

static const char answer_g722[] =
	"v=0\r\no=fred 600 1 IN IP4 10.0.0.6\r\ns=-\r\nc=IN IP4 10.0.0.6\r\nt=0 0\r\n"
	"m=audio 7200 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n";

static const char answer_opus_srtp[] =
	"v=0\r\no=gina 700 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
	"m=audio 7300 RTP/SAVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n";

static const char answer_rejected[] =
	"v=0\r\no=erin 500 1 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\n"
	"m=audio 0 RTP/AVP 8\r\n";

static struct b2b_media *negotiated(void)
{
	struct b2b_media *m = calloc(1, sizeof(*m));
	struct b2b_sdp_ctx c;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	memset(&c, 0, sizeof(c));
	c.media_addr = "192.0.2.10";
	c.port[MEDIA_SIDE_A] = 20000;
	c.port[MEDIA_SIDE_B] = 20002;
	c.allowed = call_allowed;
	c.n_allowed = 3;
	m->offer_from = -1;
	m->sess_id = 4242;
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, offer_a, strlen(offer_a), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	assert_int_equal(b2b_sdp_answer(m, &c, answer_b, strlen(answer_b), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	return m;
}

/* The new leg's context: every codec trunx has, no trunk list, no SRTP. */
static void new_ctx(struct b2b_sdp_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->media_addr = "192.0.2.10";
	c->allowed = allowed;
	c->n_allowed = 4;
	for (int k = 0; k < 2; k++) {
		c->opus[k].complexity = 5;
		c->opus[k].fec = true;
		c->dtmf[k] = MEDIA_DTMF_RFC4733;
	}
}

static struct sdp_session *parse(const char *s, size_t n)
{
	struct sdp_session *p = calloc(1, sizeof(*p));
	char why[128];

	assert_int_equal(sdp_parse(p, s, n, why, sizeof(why)), 0);
	return p;
}

static uint8_t pt_of(const struct b2b_media *m, const char *name, int side)
{
	for (size_t i = 0; i < m->n_codecs; i++)
		if (strcmp(m->codecs[i].name, name) == 0 && m->codecs[i].pt[side] < 128)
			return m->codecs[i].pt[side];
	return MEDIA_PT_NONE;
}

static const struct sdp_codec *codec_in(const struct sdp_media *am, const char *name)
{
	for (size_t i = 0; i < am->n_codecs; i++)
		if (strcmp(am->codecs[i].name, name) == 0)
			return &am->codecs[i];
	return NULL;
}

static void test_offer_is_what_the_side_negotiated(void **state)
{
	static const char pcma_only[][32] = {"PCMA/8000"};
	struct b2b_media *m = negotiated();
	struct b2b_reoffer *o = calloc(1, sizeof(*o));
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char why[128];

	(void)state;
	new_ctx(&c);
	c.prefer[MEDIA_SIDE_B] = pcma_only;   /* the new trunk: PCMA only */
	c.n_prefer[MEDIA_SIDE_B] = 1;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	s = parse(o->sdp, o->len);
	assert_int_equal(s->n_media, 1);
	assert_string_equal(s->media[0].type, "audio");
	assert_string_equal(s->media[0].addr, "192.0.2.10");
	assert_int_equal(s->media[0].port, 20002);   /* the same media port */
	assert_int_equal(s->media[0].dir, SDP_DIR_SENDRECV);
	assert_int_equal(s->media[0].n_crypto, 0);
	/* PCMU was offered to B but not negotiated: only PCMA and events, our numbers. */
	assert_int_equal(s->media[0].n_codecs, 2);
	assert_string_equal(s->media[0].codecs[0].name, "PCMA");
	assert_int_equal(s->media[0].codecs[0].pt, 8);
	assert_string_equal(s->media[0].codecs[1].name, "telephone-event");
	assert_int_equal(s->media[0].codecs[1].pt, 101);
	assert_int_equal(s->sess_id, 4242);
	free(s);
	/* A trunk with no list: the codecs trunx transcodes to the kept PCMA come after
	 * (PCMU was offered to B but not negotiated: it is one of them now). */
	new_ctx(&c);
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	s = parse(o->sdp, o->len);
	assert_int_equal(s->media[0].n_codecs, 4);
	assert_string_equal(s->media[0].codecs[0].name, "PCMA");
	assert_non_null(codec_in(&s->media[0], "PCMU"));
	assert_int_equal(codec_in(&s->media[0], "PCMU")->pt, 0);
	assert_non_null(codec_in(&s->media[0], "opus"));
	assert_int_equal(codec_in(&s->media[0], "opus")->pt, 111);
	assert_int_equal(codec_in(&s->media[0], "telephone-event")->pt, 101);
	assert_string_equal(s->media[0].proto, "RTP/AVP");
	free(s);
	/* Side A too: what our answer to A carried. */
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_A, &c, o, why, sizeof(why)), 0);
	s = parse(o->sdp, o->len);
	assert_int_equal(s->n_media, 1);
	assert_int_equal(s->media[0].port, 20000);
	assert_int_equal(s->media[0].codecs[0].pt, 8);
	free(s);
	free(o);
	free(m);
}

static void test_answer_takes_the_side(void **state)
{
	struct b2b_media *m = negotiated(), before;
	struct b2b_reoffer *o = calloc(1, sizeof(*o));
	struct media_session_params p;
	struct b2b_sdp_ctx c;
	char why[128];

	(void)state;
	new_ctx(&c);
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	before = *m;
	assert_int_equal(pt_of(m, "telephone-event", MEDIA_SIDE_B), 100);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_new,
					     strlen(answer_new), why, sizeof(why)), 0);
	assert_false(m->transcode);
	assert_string_equal(m->side[MEDIA_SIDE_B].addr, "10.0.0.9");
	assert_int_equal(m->side[MEDIA_SIDE_B].port, 7000);
	assert_int_equal(m->side[MEDIA_SIDE_B].dir, SDP_DIR_SENDRECV);   /* was sendonly */
	assert_int_equal(pt_of(m, "telephone-event", MEDIA_SIDE_B), 96);
	assert_int_equal(m->choice[MEDIA_SIDE_B].pt, 8);
	/* The kept side is untouched. */
	assert_memory_equal(&m->side[MEDIA_SIDE_A], &before.side[MEDIA_SIDE_A],
			    sizeof(before.side[MEDIA_SIDE_A]));
	assert_memory_equal(&m->choice[MEDIA_SIDE_A], &before.choice[MEDIA_SIDE_A],
			    sizeof(before.choice[MEDIA_SIDE_A]));
	assert_int_equal(pt_of(m, "telephone-event", MEDIA_SIDE_A), 101);
	/* Our offer is now our SDP toward the side. */
	assert_memory_equal(m->side[MEDIA_SIDE_B].last_local, o->sdp, o->len);
	/* The media engine sends toward the new party, events with its number. */
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[101], 101);   /* its events to A's */
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], 96);    /* A's events to its */
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.codec, p.side[MEDIA_SIDE_B].codec.codec);
	free(o);
	free(m);
}

/* The new party answers another codec: transcoding, the kept leg as it was; a second
 * re-bridge answered in the kept leg's codec goes back to relaying. */
static void test_codec_change_transcodes(void **state)
{
	struct b2b_media *m = negotiated(), before;
	struct b2b_reoffer *o = calloc(1, sizeof(*o));
	struct media_session_params p;
	struct b2b_sdp_ctx c;
	char why[128];

	(void)state;
	new_ctx(&c);
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	before = *m;
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_pcmu,
					     strlen(answer_pcmu), why, sizeof(why)), 0);
	assert_true(m->transcode);
	assert_string_equal(m->choice[MEDIA_SIDE_B].name, "PCMU");
	assert_int_equal(m->choice[MEDIA_SIDE_B].pt, 0);
	assert_int_equal(m->choice[MEDIA_SIDE_B].sent, 0);
	assert_int_equal(m->choice[MEDIA_SIDE_B].te_pt, MEDIA_PT_NONE);  /* none answered */
	assert_string_equal(m->choice[MEDIA_SIDE_A].name, "PCMA");
	assert_int_equal(m->choice[MEDIA_SIDE_A].pt, 8);       /* A's own numbers */
	assert_int_equal(m->choice[MEDIA_SIDE_A].te_pt, 101);
	assert_memory_equal(&m->side[MEDIA_SIDE_A], &before.side[MEDIA_SIDE_A],
			    sizeof(before.side[MEDIA_SIDE_A]));
	assert_int_equal(m->side[MEDIA_SIDE_B].port, 7100);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.codec, MEDIA_CODEC_PCMA);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.pt, 8);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.codec, MEDIA_CODEC_PCMU);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.pt, 0);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.pt_rx[0], 0);
	/* Again, answered in PCMA: relay. */
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_new,
					     strlen(answer_new), why, sizeof(why)), 0);
	assert_false(m->transcode);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.codec, MEDIA_CODEC_PCMA);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[8], 8);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], 96);
	free(o);
	free(m);
}

/* The new trunk wants SRTP: the offer carries keys of its own, the answer's key is the
 * new side's; the kept side's keys stay, and so does nothing of the replaced leg's
 * (SRTP too). Opus answered: transcoding. */
static void test_srtp_new_leg(void **state)
{
	struct b2b_media *m = negotiated();
	struct b2b_reoffer *o = calloc(1, sizeof(*o));
	struct media_session_params p;
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char why[128];

	struct b2b_crypto kept, old;

	(void)state;
	memset(&kept, 0, sizeof(kept));
	kept.suite = SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32;
	kept.tag = 3;
	memset(kept.local, 0x11, sizeof(kept.local));
	memset(kept.remote, 0x22, sizeof(kept.remote));
	m->crypto[MEDIA_SIDE_A] = kept;
	old = kept;
	memset(old.local, 0x33, sizeof(old.local));
	m->crypto[MEDIA_SIDE_B] = old;   /* the replaced leg's own keys */
	new_ctx(&c);
	c.srtp[MEDIA_SIDE_B].mode = B2B_SRTP_REQUIRED;
	c.srtp[MEDIA_SIDE_B].keys_ok = true;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	s = parse(o->sdp, o->len);
	assert_string_equal(s->media[0].proto, "RTP/SAVP");
	assert_int_equal(s->media[0].n_crypto, 2);
	free(s);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_opus_srtp,
					     strlen(answer_opus_srtp), why, sizeof(why)), 0);
	assert_true(m->transcode);
	assert_int_equal(m->crypto[MEDIA_SIDE_B].suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80);
	assert_memory_not_equal(m->crypto[MEDIA_SIDE_B].local, old.local, sizeof(old.local));
	assert_memory_equal(&m->crypto[MEDIA_SIDE_A], &kept, sizeof(kept));
	assert_int_equal(m->choice[MEDIA_SIDE_B].te_pt, 101);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.codec, MEDIA_CODEC_OPUS);
	assert_int_equal(p.side[MEDIA_SIDE_B].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(p.side[MEDIA_SIDE_A].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	/* A plain answer to an SRTP-only offer is refused. */
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_new,
					     strlen(answer_new), why, sizeof(why)), ENOTSUP);
	free(o);
	free(m);
}

static void test_answer_refused_leaves_the_call(void **state)
{
	struct b2b_media *m = negotiated(), *copy = malloc(sizeof(*m));
	struct b2b_reoffer *o = calloc(1, sizeof(*o));
	struct b2b_sdp_ctx c;
	char why[128];

	(void)state;
	new_ctx(&c);
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)), 0);
	*copy = *m;
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_g722,
					     strlen(answer_g722), why, sizeof(why)), ENOTSUP);
	assert_non_null(strstr(why, "G722"));
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, answer_rejected,
					     strlen(answer_rejected), why, sizeof(why)), ENOTSUP);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, &c, o, "garbage", 7, why,
					     sizeof(why)), EINVAL);
	assert_memory_equal(m, copy, sizeof(*m));
	free(copy);
	free(o);
	free(m);
}

static void test_offer_refused(void **state)
{
	struct b2b_media *m = negotiated();
	struct b2b_reoffer *o = calloc(1, sizeof(*o));
	struct b2b_sdp_ctx c;
	char why[128];

	(void)state;
	new_ctx(&c);
	/* SRTP required toward a trunk whose signalling may not carry keys */
	c.srtp[MEDIA_SIDE_B].mode = B2B_SRTP_REQUIRED;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)),
			 ENOTSUP);
	assert_non_null(strstr(why, "SRTP"));
	new_ctx(&c);
	memset(m, 0, sizeof(*m));   /* nothing negotiated */
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, &c, o, why, sizeof(why)),
			 ENOTSUP);
	assert_int_equal(b2b_rebridge_offer(m, 2, &c, o, why, sizeof(why)), EINVAL);
	free(o);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_is_what_the_side_negotiated),
		cmocka_unit_test(test_answer_takes_the_side),
		cmocka_unit_test(test_codec_change_transcodes),
		cmocka_unit_test(test_srtp_new_leg),
		cmocka_unit_test(test_answer_refused_leaves_the_call),
		cmocka_unit_test(test_offer_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
