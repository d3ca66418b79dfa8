/* test_msrtp.c — one side's SRTP contexts (msrtp.h) against a party played with the
 * test's own libsrtp context: a party that sends under a new SSRC with every packet
 * cannot make the inbound context hold more than MSRTP_SSRC_MAX streams (memory, and
 * the per-packet search through them), the SSRCs in use keep their replay protection,
 * and the outbound context refuses a new SSRC over the bound rather than grow (or
 * free a stream it would later make again with its keystream repeated). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "msrtp.h"
#include "rtp.h"
#include "test_media.h"

#define PKT  (12 + 160)
#define MANY 3000

static void key_fill(uint8_t *k, uint8_t seed)
{
	for (int i = 0; i < MEDIA_SRTP_KEY_LEN; i++)
		k[i] = (uint8_t)(seed * 29 + i * 5 + 3);
}

static struct msrtp *side_make(uint8_t *party_key)
{
	struct media_srtp_params p = {.suite = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80};
	struct msrtp *m = NULL;

	key_fill(p.rx_key, 1);
	key_fill(p.tx_key, 2);
	memcpy(party_key, p.rx_key, MEDIA_SRTP_KEY_LEN);
	assert_int_equal(msrtp_set(&m, &p), 0);
	return m;
}

/* The party's sending context (its key). */
static srtp_t party_make(const uint8_t *key)
{
	srtp_policy_t pol;
	uint8_t k[MEDIA_SRTP_KEY_LEN];
	srtp_t ctx = NULL;

	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
	memcpy(k, key, sizeof(k));
	pol.key = k;
	pol.ssrc.type = ssrc_any_outbound;
	pol.window_size = 1024;
	assert_int_equal(srtp_create(&ctx, &pol), srtp_err_status_ok);
	return ctx;
}

static size_t rtp_pkt(uint8_t *buf, uint32_t ssrc, uint16_t seq)
{
	memset(buf, 0xd5, PKT);
	buf[0] = 0x80;
	buf[1] = 0;
	rtp_set_seq(buf, seq);
	rtp_set_ts(buf, 160u * seq);
	rtp_set_ssrc(buf, ssrc);
	return PKT;
}

/* Heap in use (0 where the allocator does not say, e.g. under a sanitizer). */
static size_t heap_used(void)
{
	return mallinfo2().uordblks;
}

static void test_inbound_ssrcs_bounded(void **state)
{
	uint8_t key[MEDIA_SRTP_KEY_LEN], buf[PKT + MSRTP_TRAILER], first[PKT + MSRTP_TRAILER];
	uint8_t again[PKT + MSRTP_TRAILER];
	struct msrtp *m;
	srtp_t party;
	size_t len, first_len, h0;
	int n;

	(void)state;
	m = side_make(key);
	party = party_make(key);
	/* The party's first packet, kept to replay later. */
	n = (int)rtp_pkt(first, 0x1000, 1);
	assert_int_equal(srtp_protect(party, first, &n), srtp_err_status_ok);
	first_len = (size_t)n;
	memcpy(buf, first, first_len);
	len = first_len;
	assert_int_equal(msrtp_unprotect(m, false, buf, &len), MSRTP_OK);
	memcpy(buf, first, first_len);
	len = first_len;
	assert_int_equal(msrtp_unprotect(m, false, buf, &len), MSRTP_REPLAY);
	h0 = heap_used();
	for (uint32_t i = 1; i <= MANY; i++) {
		n = (int)rtp_pkt(buf, 0x1000 + i, (uint16_t)i);
		assert_int_equal(srtp_protect(party, buf, &n), srtp_err_status_ok);
		memcpy(again, buf, (size_t)n);
		/* the party's context is not what is measured */
		assert_int_equal(srtp_remove_stream(party, htonl(0x1000 + i)), srtp_err_status_ok);
		len = (size_t)n;
		assert_int_equal(msrtp_unprotect(m, false, buf, &len), MSRTP_OK);
		assert_int_equal(len, PKT);
		/* the SSRC in use keeps its replay window */
		len = (size_t)n;
		assert_int_equal(msrtp_unprotect(m, false, again, &len), MSRTP_REPLAY);
	}
	/* 3,000 streams were ~1 MB; the bound holds a few KB. */
	if (h0)
		assert_true(heap_used() < h0 + (64u << 10));
	/* The first SSRC's stream was freed long ago: its packet is taken as a new
	 * stream's first (the price of the bound, for an SSRC the party left). */
	memcpy(buf, first, first_len);
	len = first_len;
	assert_int_equal(msrtp_unprotect(m, false, buf, &len), MSRTP_OK);
	srtp_dealloc(party);
	msrtp_destroy(m);
}

static void test_outbound_ssrcs_bounded(void **state)
{
	uint8_t key[MEDIA_SRTP_KEY_LEN], buf[PKT + MSRTP_TRAILER];
	struct msrtp *m;
	size_t len;

	(void)state;
	m = side_make(key);
	for (uint32_t i = 0; i < MANY; i++) {
		len = rtp_pkt(buf, 0x2000 + i, (uint16_t)i);
		assert_int_equal(msrtp_protect(m, false, buf, &len, sizeof(buf)),
				 i < MSRTP_SSRC_MAX ? 0 : EIO);
	}
	/* The SSRCs it has keep going. */
	len = rtp_pkt(buf, 0x2000, 7000);
	assert_int_equal(msrtp_protect(m, false, buf, &len, sizeof(buf)), 0);
	len = 4;
	assert_int_equal(msrtp_protect(m, true, buf, &len, sizeof(buf)), EIO);
	msrtp_destroy(m);
}

int test_msrtp_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbound_ssrcs_bounded),
		cmocka_unit_test(test_outbound_ssrcs_bounded),
	};

	return cmocka_run_group_tests_name("msrtp", tests, NULL, NULL);
}
