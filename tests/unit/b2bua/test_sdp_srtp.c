/*
 * test_sdp_srtp.c — SDES-SRTP in the negotiation across legs: RTP/SAVP taken with the
 * first usable crypto line (MKI, other suites and malformed lines skipped), the answer
 * echoing the offer's tag and suite; each trunk's policy (off / optional / required)
 * and whether its signalling may carry keys; best-effort offers (RTP/AVP + a=crypto)
 * taken or declined; RTP <-> SRTP bridging in the media parameters; re-offers that
 * keep the key (same contexts), rekey, or renumber the tags; delayed offers.
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
				      "telephone-event/8000", "telephone-event"};

/* 30 bytes of base64 keys */
#define KEY_A  "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
#define KEY_A2 "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"
#define KEY_B  "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU2"

#define HEAD(o) "v=0\r\no=" o " IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"

static const char savp_offer[] =
	HEAD("a 1 1")
	"m=audio 4000 RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "|2^20|1:32\r\n"   /* MKI: skip */
	"a=crypto:2 F8_128_HMAC_SHA1_80 inline:" KEY_A "\r\n"                 /* suite: skip */
	"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:!!!\r\n"                   /* bad: skip */
	"a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A "|2^31\r\n";

static const char avp_crypto_offer[] =
	HEAD("a 1 1")
	"m=audio 4000 RTP/AVP 0\r\n"
	"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n";

static const char avp_offer[] = HEAD("a 1 1") "m=audio 4000 RTP/AVP 0\r\n";

static const char avp_answer[] =
	"v=0\r\no=b 9 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
	"m=audio 6000 RTP/AVP 0\r\n";

static char answer_buf[1024];

/* B's answer with one crypto line (proto, tag, suite). */
static const char *b_answer(const char *proto, const char *line)
{
	snprintf(answer_buf, sizeof(answer_buf),
		 "v=0\r\no=b 9 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		 "m=audio 6000 %s 0\r\n%s%s%s", proto, line ? "a=crypto:" : "", line ? line : "",
		 line ? "\r\n" : "");
	return answer_buf;
}

static uint8_t key_seq;

static void fake_keys(uint8_t *key, size_t n)
{
	key_seq++;
	for (size_t i = 0; i < n; i++)
		key[i] = (uint8_t)(key_seq * 16 + i);
}

static void ctx_init(struct b2b_sdp_ctx *c, enum b2b_srtp_mode ma, bool tls_a,
		     enum b2b_srtp_mode mb, bool tls_b)
{
	memset(c, 0, sizeof(*c));
	c->media_addr = "192.0.2.10";
	c->port[MEDIA_SIDE_A] = 20000;
	c->port[MEDIA_SIDE_B] = 20002;
	c->allowed = allowed;
	c->n_allowed = 5;
	c->srtp[0] = (struct b2b_srtp_policy){ma, tls_a, fake_keys};
	c->srtp[1] = (struct b2b_srtp_policy){mb, tls_b, fake_keys};
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

static int offer(struct b2b_media *m, struct b2b_sdp_ctx *c, int from, const char *sdp,
		 struct sdp_session **out_s, char *why)
{
	char out[SDP_BUF_MAX];
	size_t n = 0;
	int err = b2b_sdp_offer(m, c, from, sdp, strlen(sdp), out, sizeof(out), &n, why, 128);

	if (!err && out_s)
		*out_s = parse(out);
	return err;
}

static int answer(struct b2b_media *m, struct b2b_sdp_ctx *c, const char *sdp,
		  struct sdp_session **out_s, char *why)
{
	char out[SDP_BUF_MAX];
	size_t n = 0;
	int err = b2b_sdp_answer(m, c, sdp, strlen(sdp), out, sizeof(out), &n, why, 128);

	if (!err && out_s)
		*out_s = parse(out);
	return err;
}

/* The crypto line our offer gave for tag t, parsed. */
static struct sdp_crypto line_tag(const struct sdp_media *sm, uint32_t t)
{
	struct sdp_crypto k;

	for (size_t i = 0; i < sm->n_crypto; i++) {
		assert_int_equal(sdp_crypto_parse(sm->crypto[i], &k, NULL), 0);
		if (k.tag == t)
			return k;
	}
	fail_msg("no crypto tag %u", t);
	return k;
}

/* A SAVP with junk lines first -> B required over TLS: both legs SRTP, each with its
 * own keys, the answer to A echoing tag 7 and _32. */
static void savp_both(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	struct sdp_crypto k, b1;
	char why[128], line[160];

	(void)state;
	ctx_init(&c, B2B_SRTP_OPTIONAL, true, B2B_SRTP_REQUIRED, true);
	assert_int_equal(offer(m, &c, 0, savp_offer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/SAVP");
	assert_int_equal(s->media[0].n_crypto, 2);
	b1 = line_tag(&s->media[0], 1);
	assert_int_equal(b1.suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(line_tag(&s->media[0], 2).suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32);
	assert_memory_not_equal(b1.key, line_tag(&s->media[0], 2).key, 30);
	free(s);
	/* before the answer: A's keys known, B pending */
	b2b_sdp_media_params_pending(m, &p);
	assert_int_equal(p.side[0].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_true(p.side[1].srtp.pending);
	snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", KEY_B);
	assert_int_equal(answer(m, &c, b_answer("RTP/SAVP", line), &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/SAVP");
	assert_int_equal(s->media[0].n_crypto, 1);
	assert_int_equal(sdp_crypto_parse(s->media[0].crypto[0], &k, NULL), 0);
	assert_int_equal(k.tag, 7);                                    /* echoed */
	assert_int_equal(k.suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32);
	free(s);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[0].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_memory_equal(p.side[0].srtp.tx_key, k.key, 30);         /* ours to A */
	assert_int_equal(p.side[1].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_memory_equal(p.side[1].srtp.tx_key, b1.key, 30);        /* ours to B, tag 1 */
	assert_false(p.side[1].srtp.pending);
	free(m);
}

/* SRTP on A, plain on B (off) and the other way: the engine bridges. */
static void bridging(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p;
	char why[128], line[160];

	(void)state;
	ctx_init(&c, B2B_SRTP_REQUIRED, true, B2B_SRTP_OFF, false);
	assert_int_equal(offer(m, &c, 0, savp_offer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/AVP");
	assert_int_equal(s->media[0].n_crypto, 0);
	free(s);
	assert_int_equal(answer(m, &c, avp_answer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/SAVP");
	assert_int_equal(s->media[0].n_crypto, 1);
	free(s);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[0].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(p.side[1].srtp.suite, MEDIA_SRTP_NONE);
	free(m);

	/* plain A, SRTP B (optional: best-effort RTP/AVP + crypto, taken by B) */
	m = media_new();
	ctx_init(&c, B2B_SRTP_OFF, false, B2B_SRTP_OPTIONAL, true);
	assert_int_equal(offer(m, &c, 0, avp_offer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/AVP");
	assert_int_equal(s->media[0].n_crypto, 2);
	free(s);
	snprintf(line, sizeof(line), "2 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_B);
	assert_int_equal(answer(m, &c, b_answer("RTP/AVP", line), &s, why), 0);
	assert_int_equal(s->media[0].n_crypto, 0);
	assert_string_equal(s->media[0].proto, "RTP/AVP");
	free(s);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[0].srtp.suite, MEDIA_SRTP_NONE);
	assert_int_equal(p.side[1].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	free(m);

	/* best effort declined by B: plain both */
	m = media_new();
	assert_int_equal(offer(m, &c, 0, avp_offer, NULL, why), 0);
	assert_int_equal(answer(m, &c, avp_answer, NULL, why), 0);
	b2b_sdp_media_params(m, &p);
	assert_int_equal(p.side[1].srtp.suite, MEDIA_SRTP_NONE);
	free(m);
}

/* Policies refusing: 488 reasons. */
static void refusals(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	char why[128];

	(void)state;
	ctx_init(&c, B2B_SRTP_OFF, true, B2B_SRTP_OFF, true);
	assert_int_equal(offer(m, &c, 0, savp_offer, NULL, why), ENOTSUP);
	assert_string_equal(why, "SRTP is not allowed on this trunk");
	ctx_init(&c, B2B_SRTP_OPTIONAL, false, B2B_SRTP_OFF, true);
	assert_int_equal(offer(m, &c, 0, savp_offer, NULL, why), ENOTSUP);
	assert_string_equal(why, "SDES keys need TLS signalling on this trunk");
	ctx_init(&c, B2B_SRTP_REQUIRED, true, B2B_SRTP_OFF, true);
	assert_int_equal(offer(m, &c, 0, avp_offer, NULL, why), ENOTSUP);
	assert_string_equal(why, "SRTP is required on this trunk");
	/* a SAVP offer whose every line is unusable */
	assert_int_equal(offer(m, &c, 0,
			       HEAD("a 1 1") "m=audio 4000 RTP/SAVP 0\r\n"
			       "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_A "\r\n",
			       NULL, why), ENOTSUP);
	assert_non_null(strstr(why, "no usable crypto"));
	/* B required but its signalling cannot carry keys */
	ctx_init(&c, B2B_SRTP_OFF, true, B2B_SRTP_REQUIRED, false);
	assert_int_equal(offer(m, &c, 0, avp_offer, NULL, why), ENOTSUP);
	assert_non_null(strstr(why, "not TLS"));
	/* best effort from A over plain signalling: taken as plain RTP, no key sent */
	{
		struct sdp_session *s;
		struct media_session_params p;

		ctx_init(&c, B2B_SRTP_OPTIONAL, false, B2B_SRTP_OFF, true);
		assert_int_equal(offer(m, &c, 0, avp_crypto_offer, NULL, why), 0);
		assert_int_equal(answer(m, &c, avp_answer, &s, why), 0);
		assert_int_equal(s->media[0].n_crypto, 0);
		free(s);
		b2b_sdp_media_params(m, &p);
		assert_int_equal(p.side[0].srtp.suite, MEDIA_SRTP_NONE);
	}
	/* B answers SAVP without a line we offered */
	m->offer_from = -1;
	ctx_init(&c, B2B_SRTP_OFF, true, B2B_SRTP_REQUIRED, true);
	assert_int_equal(offer(m, &c, 0, avp_offer, NULL, why), 0);
	assert_int_equal(answer(m, &c,
				b_answer("RTP/SAVP", "9 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B),
				NULL, why), ENOTSUP);
	free(m);
}

/* Re-offers from A: the same key keeps our key (contexts kept); renumbered tags are
 * echoed; a new key from A gives a new rx key and still keeps ours. B is re-offered
 * its line in use. */
static void reoffers(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	struct media_session_params p1, p2;
	struct sdp_crypto k;
	char why[128], line[160], re[1024];

	(void)state;
	ctx_init(&c, B2B_SRTP_OPTIONAL, true, B2B_SRTP_REQUIRED, true);
	assert_int_equal(offer(m, &c, 0, avp_crypto_offer, NULL, why), 0);
	snprintf(line, sizeof(line), "2 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_B);
	assert_int_equal(answer(m, &c, b_answer("RTP/SAVP", line), &s, why), 0);
	assert_int_equal(sdp_crypto_parse(s->media[0].crypto[0], &k, NULL), 0);
	assert_int_equal(k.tag, 4);
	free(s);
	b2b_sdp_media_params(m, &p1);

	/* the same key, renumbered tag 9, as a re-INVITE (new version) */
	snprintf(re, sizeof(re), HEAD("a 1 2") "m=audio 4000 RTP/AVP 0\r\n"
		 "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n");
	assert_int_equal(offer(m, &c, 0, re, &s, why), 0);
	/* B is offered its line in use again: tag 2, the key it has */
	assert_int_equal(s->media[0].n_crypto, 1);
	k = line_tag(&s->media[0], 2);
	assert_memory_equal(k.key, p1.side[1].srtp.tx_key, 30);
	free(s);
	assert_int_equal(answer(m, &c, b_answer("RTP/SAVP", line), &s, why), 0);
	assert_int_equal(sdp_crypto_parse(s->media[0].crypto[0], &k, NULL), 0);
	assert_int_equal(k.tag, 9);                                    /* echoed */
	free(s);
	b2b_sdp_media_params(m, &p2);
	assert_memory_equal(&p1.side[0].srtp, &p2.side[0].srtp, sizeof(p1.side[0].srtp));
	assert_memory_equal(&p1.side[1].srtp, &p2.side[1].srtp, sizeof(p1.side[1].srtp));

	/* a rekey: A's new key; ours to A stays (one fresh context, one kept) */
	snprintf(re, sizeof(re), HEAD("a 1 3") "m=audio 4000 RTP/AVP 0\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A2 "\r\n");
	assert_int_equal(offer(m, &c, 0, re, NULL, why), 0);
	assert_int_equal(answer(m, &c, b_answer("RTP/SAVP", line), NULL, why), 0);
	b2b_sdp_media_params(m, &p2);
	assert_memory_not_equal(p1.side[0].srtp.rx_key, p2.side[0].srtp.rx_key, 30);
	assert_memory_equal(p1.side[0].srtp.tx_key, p2.side[0].srtp.tx_key, 30);

	/* a suite change from A: a new key of ours too */
	snprintf(re, sizeof(re), HEAD("a 1 4") "m=audio 4000 RTP/AVP 0\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A2 "\r\n");
	assert_int_equal(offer(m, &c, 0, re, NULL, why), 0);
	assert_int_equal(answer(m, &c, b_answer("RTP/SAVP", line), NULL, why), 0);
	b2b_sdp_media_params(m, &p2);
	assert_int_equal(p2.side[0].srtp.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_memory_not_equal(p1.side[0].srtp.tx_key, p2.side[0].srtp.tx_key, 30);

	/* B's answer to a repeat of our SDP with a new key of its own (b2b_sdp_remote) */
	snprintf(re, sizeof(re), "v=0\r\no=b 9 5 IN IP4 10.0.0.2\r\ns=-\r\n"
		 "c=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/SAVP 0\r\n"
		 "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A "\r\n");
	assert_int_equal(b2b_sdp_remote(m, 1, re, strlen(re), why, sizeof(why)), 0);
	b2b_sdp_media_params(m, &p1);
	assert_memory_not_equal(p1.side[1].srtp.rx_key, p2.side[1].srtp.rx_key, 30);
	assert_memory_equal(p1.side[1].srtp.tx_key, p2.side[1].srtp.tx_key, 30);
	free(m);
}

/* A delayed offer: SRTP toward B as its policy says; A plain (its answer comes in the
 * ACK) and refused when A's trunk requires SRTP. */
static void delayed(void **state)
{
	struct b2b_media *m = media_new();
	struct b2b_sdp_ctx c;
	char out[SDP_BUF_MAX], why[128];
	size_t n;

	(void)state;
	ctx_init(&c, B2B_SRTP_OFF, false, B2B_SRTP_REQUIRED, true);
	assert_int_equal(b2b_sdp_offer_local(m, &c, 1, out, sizeof(out), &n, why, sizeof(why)),
			 0);
	assert_non_null(strstr(out, "RTP/SAVP"));
	assert_non_null(strstr(out, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	ctx_init(&c, B2B_SRTP_REQUIRED, true, B2B_SRTP_OFF, true);
	assert_int_equal(b2b_sdp_offer_local(m, &c, 1, out, sizeof(out), &n, why, sizeof(why)),
			 ENOTSUP);
	free(m);
}

/* RTP/AVPF (RFC 4585) is AVP-compatible: an offer whose audio line is plain AVPF (a
 * softphone or gateway without DTLS) is answered RTP/AVPF on that leg (no feedback
 * asked of trunx: none offered in rtcp-fb lines is echoed), the other leg gets RTP/AVP
 * as usual. RTP/SAVPF with SDES keys likewise, RTP/SAVPF in the answer. */
static void avpf(void **state)
{
	static const char avpf_offer[] =
		HEAD("a 1 1")
		"m=audio 4000 RTP/AVPF 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
		"a=rtcp-fb:* nack\r\na=rtcp-mux\r\n";
	static const char savpf_offer[] =
		HEAD("a 1 1")
		"m=audio 4000 RTP/SAVPF 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n";
	struct b2b_media *m;
	struct b2b_sdp_ctx c;
	struct sdp_session *s;
	char why[128] = "";

	(void)state;
	ctx_init(&c, B2B_SRTP_OFF, false, B2B_SRTP_OFF, false);
	m = media_new();
	assert_int_equal(offer(m, &c, 0, avpf_offer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/AVP");
	free(s);
	assert_int_equal(answer(m, &c, avp_answer, &s, why), 0);
	assert_int_equal(s->n_media, 1);
	assert_string_equal(s->media[0].proto, "RTP/AVPF");
	assert_int_not_equal(s->media[0].port, 0);
	assert_int_equal(s->media[0].n_crypto, 0);
	free(s);
	free(m);

	ctx_init(&c, B2B_SRTP_OPTIONAL, true, B2B_SRTP_OFF, false);
	m = media_new();
	assert_int_equal(offer(m, &c, 0, savpf_offer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/AVP");
	assert_int_equal(s->media[0].n_crypto, 0);
	free(s);
	assert_int_equal(answer(m, &c, avp_answer, &s, why), 0);
	assert_string_equal(s->media[0].proto, "RTP/SAVPF");
	assert_int_equal(s->media[0].n_crypto, 1);
	assert_int_equal(m->crypto[0].suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80);
	free(s);
	free(m);

	/* SAVPF without SDES keys (DTLS would be UDP/TLS/RTP/SAVPF): refused, and where
	 * SRTP is off, refused with that reason */
	ctx_init(&c, B2B_SRTP_OFF, false, B2B_SRTP_OFF, false);
	m = media_new();
	assert_int_equal(offer(m, &c, 0, savpf_offer, NULL, why), ENOTSUP);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(savp_both),
		cmocka_unit_test(bridging),
		cmocka_unit_test(refusals),
		cmocka_unit_test(reoffers),
		cmocka_unit_test(delayed),
		cmocka_unit_test(avpf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
