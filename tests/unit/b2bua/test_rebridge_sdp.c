/*
 * test_rebridge_sdp.c — the SDP of a re-bridge (transfer mode bridge): the new leg is
 * offered what the replaced side negotiated (its codecs and our numbers, our port,
 * sendrecv, audio only, no crypto); its answer becomes the side's (address, port, its
 * payload types) only when it keeps the call's codec; the kept side is not touched.
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

static const char *const allowed[] = {"PCMU/8000", "PCMA/8000", "telephone-event/8000"};

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
	c.allowed = allowed;
	c.n_allowed = 3;
	m->offer_from = -1;
	m->sess_id = 4242;
	assert_int_equal(b2b_sdp_offer(m, &c, MEDIA_SIDE_A, offer_a, strlen(offer_a), out,
				       sizeof(out), &n, why, sizeof(why)), 0);
	assert_int_equal(b2b_sdp_answer(m, &c, answer_b, strlen(answer_b), out, sizeof(out), &n,
					why, sizeof(why)), 0);
	return m;
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

static void test_offer_is_what_the_side_negotiated(void **state)
{
	struct b2b_media *m = negotiated();
	struct sdp_session *s;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, out, sizeof(out), &n, why,
					    sizeof(why)), 0);
	s = parse(out, n);
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
	/* Side A too: what our answer to A carried. */
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_A, out, sizeof(out), &n, why,
					    sizeof(why)), 0);
	s = parse(out, n);
	assert_int_equal(s->n_media, 1);
	assert_int_equal(s->media[0].port, 20000);
	assert_int_equal(s->media[0].codecs[0].pt, 8);
	free(s);
	free(m);
}

static void test_answer_takes_the_side(void **state)
{
	struct b2b_media *m = negotiated(), before;
	struct media_session_params p;
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, out, sizeof(out), &n, why,
					    sizeof(why)), 0);
	before = *m;
	assert_int_equal(pt_of(m, "telephone-event", MEDIA_SIDE_B), 100);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, out, n, answer_new,
					     strlen(answer_new), why, sizeof(why)), 0);
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
	assert_memory_equal(m->side[MEDIA_SIDE_B].last_local, out, n);
	/* The media engine sends toward the new party, events with its number. */
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[MEDIA_SIDE_B].pt_map[101], 101);   /* its events to A's */
	assert_int_equal(p.side[MEDIA_SIDE_A].pt_map[101], 96);    /* A's events to its */
	free(m);
}

static void test_answer_refused_leaves_the_call(void **state)
{
	struct b2b_media *m = negotiated(), *copy = malloc(sizeof(*m));
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, out, sizeof(out), &n, why,
					    sizeof(why)), 0);
	*copy = *m;
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, out, n, answer_pcmu,
					     strlen(answer_pcmu), why, sizeof(why)), ENOTSUP);
	assert_non_null(strstr(why, "PCMU"));
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, out, n, answer_rejected,
					     strlen(answer_rejected), why, sizeof(why)), ENOTSUP);
	assert_int_equal(b2b_rebridge_answer(m, MEDIA_SIDE_B, out, n, "garbage", 7, why,
					     sizeof(why)), EINVAL);
	assert_memory_equal(m, copy, sizeof(*m));
	free(copy);
	free(m);
}

static void test_offer_refused(void **state)
{
	struct b2b_media *m = negotiated();
	char out[SDP_BUF_MAX], why[128];
	size_t n = 0;

	(void)state;
	m->crypto[MEDIA_SIDE_B].suite = SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80;
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, out, sizeof(out), &n, why,
					    sizeof(why)), ENOTSUP);
	assert_non_null(strstr(why, "SRTP"));
	memset(m, 0, sizeof(*m));   /* nothing negotiated */
	assert_int_equal(b2b_rebridge_offer(m, MEDIA_SIDE_B, out, sizeof(out), &n, why,
					    sizeof(why)), ENOTSUP);
	assert_int_equal(b2b_rebridge_offer(m, 2, out, sizeof(out), &n, why, sizeof(why)),
			 EINVAL);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_is_what_the_side_negotiated),
		cmocka_unit_test(test_answer_takes_the_side),
		cmocka_unit_test(test_answer_refused_leaves_the_call),
		cmocka_unit_test(test_offer_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
