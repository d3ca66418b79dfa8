/* test_rtcp.c — RTCP compound walk and SSRC rewrite: SR, RR, SDES, BYE, unknown
 * types passed through, malformed compounds rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rtcp.h"
#include "rtp.h"
#include "test_media.h"

/* Builds SR(1 block) + SDES(CNAME) + APP + BYE(reason) and returns its length. */
static size_t compound(uint8_t *b)
{
	size_t o = 0;

	/* SR: header, sender SSRC, NTP(8), RTP ts, packets, octets, 1 report block */
	b[o] = 0x81; b[o + 1] = RTCP_SR; rtp_put16(b + o + 2, 52 / 4 - 1);
	rtp_put32(b + o + 4, 0x11111111);
	rtp_put32(b + o + 8, 0xaaaaaaaa); rtp_put32(b + o + 12, 0xbbbbbbbb);
	rtp_put32(b + o + 16, 1000);      /* RTP ts */
	rtp_put32(b + o + 20, 50); rtp_put32(b + o + 24, 8000);
	rtp_put32(b + o + 28, 0x22222222);        /* block about 0x22222222 */
	rtp_put32(b + o + 32, 0x01000005);        /* fraction + cumulative lost */
	rtp_put32(b + o + 36, 0x0001fff0);        /* cycles 1, seq 0xfff0 */
	rtp_put32(b + o + 40, 7); rtp_put32(b + o + 44, 8); rtp_put32(b + o + 48, 9);
	o += 52;
	/* SDES: one chunk, CNAME "ab", null, pad -> 4 + 4 + 2 + 2 + 1 + 3 = 16 */
	b[o] = 0x81; b[o + 1] = RTCP_SDES; rtp_put16(b + o + 2, 16 / 4 - 1);
	rtp_put32(b + o + 4, 0x11111111);
	b[o + 8] = 1; b[o + 9] = 2; b[o + 10] = 'a'; b[o + 11] = 'b';
	b[o + 12] = 0; b[o + 13] = 0; b[o + 14] = 0; b[o + 15] = 0;
	o += 16;
	/* APP: subtype 3, SSRC, name, 4 bytes data -> 16 */
	b[o] = 0x83; b[o + 1] = RTCP_APP; rtp_put16(b + o + 2, 16 / 4 - 1);
	rtp_put32(b + o + 4, 0x11111111);
	memcpy(b + o + 8, "TEST", 4);
	rtp_put32(b + o + 12, 0x12345678);
	o += 16;
	/* BYE: one SSRC, reason "bye" (1 + 3 bytes) -> 12 */
	b[o] = 0x81; b[o + 1] = RTCP_BYE; rtp_put16(b + o + 2, 12 / 4 - 1);
	rtp_put32(b + o + 4, 0x11111111);
	b[o + 8] = 3; memcpy(b + o + 9, "bye", 3);
	o += 12;
	return o;
}

struct seen {
	uint8_t types[8];
	int     n;
};

static int collect(const struct rtcp_pkt *pkt, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->types[s->n] = pkt->type;
	s->n++;
	return 0;
}

static void test_walk(void **state)
{
	uint8_t b[256];
	size_t n = compound(b);
	struct seen s = {0};

	(void)state;
	assert_int_equal(rtcp_walk(b, n, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.types[0], RTCP_SR);
	assert_int_equal(s.types[1], RTCP_SDES);
	assert_int_equal(s.types[2], RTCP_APP);
	assert_int_equal(s.types[3], RTCP_BYE);
	assert_int_equal(rtcp_walk(b, n, NULL, NULL), 0);
}

/* Feedback (RFC 4585) and any other type: the sender's SSRC is the outgoing one
 * (the far side never sees the party's own, and an SRTP leg's context files the
 * packet under trunx's SSRC, not one per SSRC the party makes up); the media source
 * of a feedback packet about our stream becomes the original source's. */
static void test_rewrite_feedback(void **state)
{
	uint8_t b[64], orig[64];
	struct rtcp_map m = {.sender_ssrc = 0x99999999, .report_map = true,
			     .report_from = 0x22222222, .report_to = 0x33333333};
	size_t o = 0;

	(void)state;
	/* PSFB PLI (12), RTPFB NACK (16), XR with an empty body (8), an unknown type
	 * carrying only its header (4) */
	b[o] = 0x81; b[o + 1] = 206; rtp_put16(b + o + 2, 2);
	rtp_put32(b + o + 4, 0x11111111); rtp_put32(b + o + 8, 0x22222222);
	o += 12;
	b[o] = 0x81; b[o + 1] = 205; rtp_put16(b + o + 2, 3);
	rtp_put32(b + o + 4, 0x11111111); rtp_put32(b + o + 8, 0x55555555);
	rtp_put32(b + o + 12, 0x00070001);
	o += 16;
	b[o] = 0x80; b[o + 1] = 207; rtp_put16(b + o + 2, 1);
	rtp_put32(b + o + 4, 0x11111111);
	o += 8;
	b[o] = 0x80; b[o + 1] = 210; rtp_put16(b + o + 2, 0);
	o += 4;
	memcpy(orig, b, o);
	assert_int_equal(rtcp_rewrite(b, o, &m), 0);
	assert_int_equal(rtp_get32(b + 4), 0x99999999);          /* PLI sender */
	assert_int_equal(rtp_get32(b + 8), 0x33333333);          /* about our stream */
	assert_int_equal(rtp_get32(b + 12 + 4), 0x99999999);     /* NACK sender */
	assert_int_equal(rtp_get32(b + 12 + 8), 0x55555555);     /* about another: kept */
	assert_memory_equal(b + 12 + 12, orig + 12 + 12, 4);     /* FCI untouched */
	assert_int_equal(rtp_get32(b + 28 + 4), 0x99999999);     /* XR sender */
	assert_memory_equal(b + 36, orig + 36, 4);               /* header-only packet */
	/* the walk alone writes nothing */
	memcpy(b, orig, o);
	assert_int_equal(rtcp_walk(b, o, NULL, NULL), 0);
	assert_memory_equal(b, orig, o);
}

static void test_rewrite(void **state)
{
	uint8_t b[256], orig[256];
	size_t n = compound(b);
	struct rtcp_map m = {.sender_ssrc = 0x99999999, .sr_ts_add = 500, .report_map = true,
			     .report_from = 0x22222222, .report_to = 0x33333333,
			     .report_seq_add = 0x20};

	(void)state;
	memcpy(orig, b, n);
	assert_int_equal(rtcp_rewrite(b, n, &m), 0);
	assert_int_equal(rtp_get32(b + 4), 0x99999999);          /* SR sender */
	assert_int_equal(rtp_get32(b + 16), 1500);               /* SR RTP ts */
	assert_int_equal(rtp_get32(b + 28), 0x33333333);         /* report block SSRC */
	assert_int_equal(rtp_get32(b + 36), 0x00010010);         /* seq 0xfff0+0x20 */
	assert_memory_equal(b + 32, orig + 32, 4);               /* loss untouched */
	assert_memory_equal(b + 40, orig + 40, 12);              /* LSR etc untouched */
	assert_int_equal(rtp_get32(b + 52 + 4), 0x99999999);     /* SDES chunk */
	assert_memory_equal(b + 52 + 8, orig + 52 + 8, 8);       /* items untouched */
	assert_memory_equal(b + 68, orig + 68, 4);               /* APP header untouched */
	assert_int_equal(rtp_get32(b + 68 + 4), 0x99999999);     /* APP source */
	assert_memory_equal(b + 68 + 8, orig + 68 + 8, 8);       /* name, data untouched */
	assert_int_equal(rtp_get32(b + 84 + 4), 0x99999999);     /* BYE source */
	assert_memory_equal(b + 84 + 8, orig + 84 + 8, 4);

	/* A block about another SSRC is left alone. */
	n = compound(b);
	m.report_from = 0x44444444;
	assert_int_equal(rtcp_rewrite(b, n, &m), 0);
	assert_int_equal(rtp_get32(b + 28), 0x22222222);
	assert_int_equal(rtp_get32(b + 36), 0x0001fff0);
	assert_int_equal(rtcp_rewrite(b, n, NULL), EINVAL);
}

static void test_rr_and_padding(void **state)
{
	/* RR with one block, padded by 4 bytes (P bit, last byte = 4). */
	uint8_t b[8 + 24 + 4] = {0xa1, RTCP_RR, 0, 8};
	struct rtcp_map m = {.sender_ssrc = 5, .report_map = true, .report_from = 1,
			     .report_to = 2};

	(void)state;
	rtp_put32(b + 4, 77);
	rtp_put32(b + 8, 1);
	b[sizeof(b) - 1] = 4;
	assert_int_equal(rtcp_rewrite(b, sizeof(b), &m), 0);
	assert_int_equal(rtp_get32(b + 4), 5);
	assert_int_equal(rtp_get32(b + 8), 2);
	b[sizeof(b) - 1] = 8;   /* padding eats into the report block */
	assert_int_equal(rtcp_walk(b, sizeof(b), NULL, NULL), EBADMSG);
	b[sizeof(b) - 1] = 0;
	assert_int_equal(rtcp_walk(b, sizeof(b), NULL, NULL), EBADMSG);
}

static void test_malformed(void **state)
{
	uint8_t b[256], c[256];
	size_t n = compound(b);

	(void)state;
	memcpy(c, b, n);
	assert_int_equal(rtcp_walk(c, 0, NULL, NULL), EBADMSG);
	assert_int_equal(rtcp_walk(c, n - 2, NULL, NULL), EBADMSG);   /* not whole words */
	assert_int_equal(rtcp_walk(c, n - 4, NULL, NULL), EBADMSG);   /* BYE cut */
	assert_int_equal(rtcp_walk(NULL, 4, NULL, NULL), EINVAL);
	c[0] = 0x41;                                                  /* version 1 */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
	memcpy(c, b, n);
	c[0] = 0x83;                                                  /* SR claims 3 blocks */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
	memcpy(c, b, n);
	rtp_put16(c + 2, 200);                                        /* length past end */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
	memcpy(c, b, n);
	c[52 + 9] = 40;                                               /* SDES item too long */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
	memcpy(c, b, n);
	c[52] = 0x82;                                                 /* SDES: 2 chunks, 1 there */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
	memcpy(c, b, n);
	c[84 + 8] = 9;                                                /* BYE reason too long */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
	memcpy(c, b, n);
	c[84] = 0x84;                                                 /* BYE: 4 sources */
	assert_int_equal(rtcp_walk(c, n, NULL, NULL), EBADMSG);
}

static int stop_at_second(const struct rtcp_pkt *pkt, void *arg)
{
	int *n = arg;

	(void)pkt;
	return ++*n == 2 ? 42 : 0;
}

static void test_handler_stops(void **state)
{
	uint8_t b[256];
	size_t n = compound(b);
	int count = 0;

	(void)state;
	assert_int_equal(rtcp_walk(b, n, stop_at_second, &count), 42);
	assert_int_equal(count, 2);
}

int test_rtcp_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_rewrite_feedback),
		cmocka_unit_test(test_rr_and_padding),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_handler_stops),
	};

	return cmocka_run_group_tests_name("rtcp", tests, NULL, NULL);
}
