/*
 * test_sdp_dtmf.c — telephone-event in offer/answer follows each leg's DTMF mode:
 * offered and answered only toward a leg whose trunk carries digits as RFC 4733, on
 * relayed and transcoded calls, with the media engine's event payload types per side.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b2bua/b2bua_int.h"

/* What the call layer allows (b2bua_call.c): events at any rate are relayed. */
static const char *const allowed[] = {"PCMU/8000", "PCMA/8000", "opus/48000/2",
				      "telephone-event/8000", "telephone-event"};

static const char offer_pcmu_te[] =
	"v=0\r\no=alice 100 1 IN IP4 10.0.0.1\r\ns=call\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

static const char offer_pcmu[] =
	"v=0\r\no=alice 100 1 IN IP4 10.0.0.1\r\ns=call\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

static const char offer_opus_te48[] =
	"v=0\r\no=alice 100 1 IN IP4 10.0.0.1\r\ns=call\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	"m=audio 4000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n"
	"a=rtpmap:101 telephone-event/48000\r\na=fmtp:101 0-16\r\n";

static const char answer_pcmu[] =
	"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

static const char answer_pcmu_te100[] =
	"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 0 100\r\na=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:100 telephone-event/8000\r\na=fmtp:100 0-15\r\n";

static void ctx_init(struct b2b_sdp_ctx *c, enum media_dtmf_mode a, enum media_dtmf_mode b)
{
	memset(c, 0, sizeof(*c));
	c->media_addr = "192.0.2.10";
	c->port[MEDIA_SIDE_A] = 20000;
	c->port[MEDIA_SIDE_B] = 20002;
	c->allowed = allowed;
	c->n_allowed = 5;
	c->dtmf[MEDIA_SIDE_A] = (uint8_t)a;
	c->dtmf[MEDIA_SIDE_B] = (uint8_t)b;
}

static struct b2b_media *media_new(void)
{
	struct b2b_media *m = calloc(1, sizeof(*m));

	m->offer_from = -1;
	m->sess_id = 4242;
	return m;
}

/* The telephone-event line of an SDP: its payload type and rate, 0 when none. */
static int te_of(const char *sdp, unsigned *rate)
{
	struct sdp_session *s = calloc(1, sizeof(*s));
	char why[128];
	int pt = 0;

	assert_int_equal(sdp_parse(s, sdp, strlen(sdp), why, sizeof(why)), 0);
	for (size_t i = 0; i < s->media[0].n_codecs; i++) {
		if (strcasecmp(s->media[0].codecs[i].name, "telephone-event") == 0) {
			pt = s->media[0].codecs[i].pt;
			if (rate)
				*rate = s->media[0].codecs[i].rate;
		}
	}
	free(s);
	return pt;
}

static void offer_answer(struct b2b_media *m, const struct b2b_sdp_ctx *c, const char *offer,
			 const char *answer, char *to_b, char *to_a)
{
	char why[128];
	size_t n = 0;

	assert_int_equal(b2b_sdp_offer(m, c, MEDIA_SIDE_A, offer, strlen(offer), to_b,
				       SDP_BUF_MAX, &n, why, sizeof(why)), 0);
	assert_int_equal(b2b_sdp_answer(m, c, answer, strlen(answer), to_a, SDP_BUF_MAX, &n, why,
					sizeof(why)), 0);
}

/* A takes RFC 4733, B INFO: B is not offered events; A is still answered them (its
 * events become INFO), and the session knows A's event PT only. */
static void test_rfc4733_to_info(void **state)
{
	static char to_b[SDP_BUF_MAX], to_a[SDP_BUF_MAX];
	struct b2b_media *m = media_new();
	struct media_session_params p;
	struct b2b_sdp_ctx c;

	(void)state;
	ctx_init(&c, MEDIA_DTMF_RFC4733, MEDIA_DTMF_INFO);
	offer_answer(m, &c, offer_pcmu_te, answer_pcmu, to_b, to_a);
	assert_int_equal(te_of(to_b, NULL), 0);
	assert_int_equal(te_of(to_a, NULL), 101);
	assert_false(m->transcode);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].dtmf.te_pt, 101);
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_pt, MEDIA_PT_NONE);
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.mode, MEDIA_DTMF_INFO);
	/* A's events never map onto B's stream as events. */
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], MEDIA_PT_NONE);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[0], 0);
	free(m);
}

/* A in-band (offers events all the same), B RFC 4733: A is not answered events; B is
 * offered trunx's own telephone-event/8000 and its answer's PT is B's event PT. */
static void test_inband_to_rfc4733(void **state)
{
	static char to_b[SDP_BUF_MAX], to_a[SDP_BUF_MAX];
	struct b2b_media *m = media_new();
	struct media_session_params p;
	struct b2b_sdp_ctx c;
	unsigned rate = 0;

	(void)state;
	ctx_init(&c, MEDIA_DTMF_INBAND, MEDIA_DTMF_RFC4733);
	offer_answer(m, &c, offer_pcmu_te, answer_pcmu_te100, to_b, to_a);
	assert_int_equal(te_of(to_b, &rate), 101);
	assert_int_equal(rate, 8000);
	assert_int_equal(te_of(to_a, NULL), 0);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].dtmf.te_pt, MEDIA_PT_NONE);
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_pt, 100);     /* what B receives */
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_pt_rx, 101);  /* what B sends us */
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_rate, 8000);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[101], MEDIA_PT_NONE);
	free(m);

	/* An offer without any events: B still gets them offered. */
	m = media_new();
	offer_answer(m, &c, offer_pcmu, answer_pcmu_te100, to_b, to_a);
	assert_int_equal(te_of(to_b, NULL), 101);
	assert_int_equal(te_of(to_a, NULL), 0);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_pt, 100);
	free(m);
}

/* Both legs RFC 4733: events relayed as before, both sides answered. */
static void test_rfc4733_both(void **state)
{
	static char to_b[SDP_BUF_MAX], to_a[SDP_BUF_MAX];
	struct b2b_media *m = media_new();
	struct media_session_params p;
	struct b2b_sdp_ctx c;

	(void)state;
	ctx_init(&c, MEDIA_DTMF_RFC4733, MEDIA_DTMF_RFC4733);
	offer_answer(m, &c, offer_pcmu_te, answer_pcmu_te100, to_b, to_a);
	assert_int_equal(te_of(to_b, NULL), 101);
	assert_int_equal(te_of(to_a, NULL), 101);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], 100);
	free(m);

	/* B does not answer events: A is not answered them either (nowhere to go). */
	m = media_new();
	offer_answer(m, &c, offer_pcmu_te, answer_pcmu, to_b, to_a);
	assert_int_equal(te_of(to_a, NULL), 0);
	free(m);
}

/* Neither leg uses RFC 4733: no events anywhere. */
static void test_info_inband(void **state)
{
	static char to_b[SDP_BUF_MAX], to_a[SDP_BUF_MAX];
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;

	(void)state;
	ctx_init(&c, MEDIA_DTMF_INFO, MEDIA_DTMF_INBAND);
	offer_answer(m, &c, offer_pcmu_te, answer_pcmu, to_b, to_a);
	assert_int_equal(te_of(to_b, NULL), 0);
	assert_int_equal(te_of(to_a, NULL), 0);
	free(m);
}

/* Transcoded: A Opus with telephone-event/48000 (RFC 4733), B G.711 in-band. B is
 * offered no events; A is answered its own 48 kHz events. */
static void test_transcoded_opus_to_inband(void **state)
{
	static char to_b[SDP_BUF_MAX], to_a[SDP_BUF_MAX];
	struct b2b_media *m = media_new();
	struct media_session_params p;
	struct b2b_sdp_ctx c;
	unsigned rate = 0;

	(void)state;
	ctx_init(&c, MEDIA_DTMF_RFC4733, MEDIA_DTMF_INBAND);
	offer_answer(m, &c, offer_opus_te48, answer_pcmu, to_b, to_a);
	assert_true(m->transcode);
	assert_int_equal(te_of(to_b, NULL), 0);
	assert_int_equal(te_of(to_a, &rate), 101);
	assert_int_equal(rate, 48000);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.te_pt, 101);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.te_rate, 48000);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.te_pt, MEDIA_PT_NONE);
	free(m);

	/* The other way round: B RFC 4733 is offered (and answers) 8 kHz events, A not. */
	m = media_new();
	ctx_init(&c, MEDIA_DTMF_INBAND, MEDIA_DTMF_RFC4733);
	offer_answer(m, &c, offer_opus_te48, answer_pcmu_te100, to_b, to_a);
	assert_true(m->transcode);
	assert_int_equal(te_of(to_b, &rate), 101);
	assert_int_equal(rate, 8000);
	assert_int_equal(te_of(to_a, NULL), 0);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].codec.te_pt, 100);
	assert_int_equal(p.side[MEDIA_SIDE_A].codec.te_pt, MEDIA_PT_NONE);
	free(m);
}

/* Relayed Opus whose legs use different event clocks: A sends telephone-event/48000,
 * B answers only the telephone-event/8000 trunx added. Each side gets its own event
 * type and clock (the media session moves events between them), A keeps its own. */
static void test_relay_two_event_clocks(void **state)
{
	static const char answer_opus_te8k[] =
		"v=0\r\no=bob 200 7 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		"m=audio 6000 RTP/AVP 111 96\r\na=rtpmap:111 opus/48000/2\r\n"
		"a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n";
	static char to_b[SDP_BUF_MAX], to_a[SDP_BUF_MAX];
	struct b2b_media *m = media_new();
	struct media_session_params p;
	struct b2b_sdp_ctx c;
	unsigned rate = 0;

	(void)state;
	ctx_init(&c, MEDIA_DTMF_RFC4733, MEDIA_DTMF_RFC4733);
	offer_answer(m, &c, offer_opus_te48, answer_opus_te8k, to_b, to_a);
	assert_false(m->transcode);
	assert_non_null(strstr(to_b, "telephone-event/48000"));
	assert_non_null(strstr(to_b, "a=rtpmap:96 telephone-event/8000"));
	assert_int_equal(te_of(to_a, &rate), 101);
	assert_int_equal(rate, 48000);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_A].dtmf.te_pt, 101);
	assert_int_equal(p.side[MEDIA_SIDE_A].dtmf.te_rate, 48000);
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_pt, 96);
	assert_int_equal(p.side[MEDIA_SIDE_B].dtmf.te_rate, 8000);
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[111], 111);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4733_to_info),
		cmocka_unit_test(test_inband_to_rfc4733),
		cmocka_unit_test(test_rfc4733_both),
		cmocka_unit_test(test_info_inband),
		cmocka_unit_test(test_transcoded_opus_to_inband),
		cmocka_unit_test(test_relay_two_event_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
