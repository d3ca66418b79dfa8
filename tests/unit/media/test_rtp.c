/* test_rtp.c — RTP header parse/build: fields, CSRCs, extension, padding, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rtp.h"
#include "test_media.h"

static void test_parse_fixed(void **state)
{
	const uint8_t pkt[] = {0x80, 0x80 | 8, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
			       0x01, 0x02, 0x03, 0x04, 0xd5, 0xd5, 0xd5};
	struct rtp_hdr h;

	(void)state;
	assert_int_equal(rtp_hdr_parse(&h, pkt, sizeof(pkt)), 0);
	assert_int_equal(h.version, 2);
	assert_false(h.padding);
	assert_false(h.ext);
	assert_int_equal(h.cc, 0);
	assert_true(h.marker);
	assert_int_equal(h.pt, 8);
	assert_int_equal(h.seq, 0x1234);
	assert_int_equal(h.ts, 0xdeadbeef);
	assert_int_equal(h.ssrc, 0x01020304);
	assert_int_equal(h.hdr_len, 12);
	assert_int_equal(h.payload_len, 3);
}

static void test_build_roundtrip(void **state)
{
	struct rtp_hdr in = {.cc = 2, .marker = true, .pt = 101, .seq = 65535, .ts = 1,
			     .ssrc = 0xcafebabe, .csrc = {7, 9}, .ext = true,
			     .ext_profile = 0xbede, .ext_len = 8};
	uint8_t buf[64] = {0};
	struct rtp_hdr out;
	size_t n;

	(void)state;
	assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &in, &n), 0);
	assert_int_equal(n, 12 + 8 + 4);
	/* extension data (8 bytes) then a 4-byte payload */
	memset(buf + n, 0xaa, 8 + 4);
	assert_int_equal(rtp_hdr_parse(&out, buf, n + 12), 0);
	assert_int_equal(out.cc, 2);
	assert_int_equal(out.csrc[0], 7);
	assert_int_equal(out.csrc[1], 9);
	assert_true(out.ext);
	assert_int_equal(out.ext_profile, 0xbede);
	assert_int_equal(out.ext_len, 8);
	assert_int_equal(out.hdr_len, 32);
	assert_int_equal(out.payload_len, 4);
	assert_int_equal(out.pt, 101);
	assert_int_equal(out.seq, 65535);
	assert_true(out.marker);
	assert_int_equal(rtp_hdr_build(buf, 12, &in, &n), ENOSPC);
	in.pt = 128;
	assert_int_equal(rtp_hdr_build(buf, sizeof(buf), &in, &n), EINVAL);
}

static void test_padding(void **state)
{
	uint8_t pkt[12 + 4 + 4] = {0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
	struct rtp_hdr h;

	(void)state;
	pkt[sizeof(pkt) - 1] = 4;
	assert_int_equal(rtp_hdr_parse(&h, pkt, sizeof(pkt)), 0);
	assert_int_equal(h.pad_len, 4);
	assert_int_equal(h.payload_len, 4);
	pkt[sizeof(pkt) - 1] = 8;          /* all of the payload is padding */
	assert_int_equal(rtp_hdr_parse(&h, pkt, sizeof(pkt)), 0);
	assert_int_equal(h.payload_len, 0);
	pkt[sizeof(pkt) - 1] = 9;          /* more padding than bytes after the header */
	assert_int_equal(rtp_hdr_parse(&h, pkt, sizeof(pkt)), EBADMSG);
	pkt[sizeof(pkt) - 1] = 0;          /* a zero count is invalid */
	assert_int_equal(rtp_hdr_parse(&h, pkt, sizeof(pkt)), EBADMSG);
}

static void test_malformed(void **state)
{
	uint8_t pkt[32] = {0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
	struct rtp_hdr h;

	(void)state;
	assert_int_equal(rtp_hdr_parse(&h, pkt, 11), EBADMSG);       /* short */
	assert_int_equal(rtp_hdr_parse(&h, pkt, 12), 0);             /* empty payload ok */
	pkt[0] = 0x40;                                               /* version 1 */
	assert_int_equal(rtp_hdr_parse(&h, pkt, 12), EBADMSG);
	pkt[0] = 0x85;                                               /* 5 CSRCs, 20 bytes */
	assert_int_equal(rtp_hdr_parse(&h, pkt, 31), EBADMSG);
	assert_int_equal(rtp_hdr_parse(&h, pkt, 32), 0);
	pkt[0] = 0x90;                                               /* ext, 2 words */
	pkt[14] = 0;
	pkt[15] = 2;
	assert_int_equal(rtp_hdr_parse(&h, pkt, 23), EBADMSG);
	assert_int_equal(rtp_hdr_parse(&h, pkt, 24), 0);
	assert_int_equal(rtp_hdr_parse(&h, pkt, 15), EBADMSG);       /* ext header cut */
	assert_int_equal(rtp_hdr_parse(NULL, pkt, 12), EINVAL);
}

static void test_setters_and_seq_order(void **state)
{
	uint8_t pkt[12] = {0x80, 0x00};
	struct rtp_hdr h;

	(void)state;
	rtp_set_pt(pkt, 0, true);
	rtp_set_seq(pkt, 0xfffe);
	rtp_set_ts(pkt, 0x80000001);
	rtp_set_ssrc(pkt, 42);
	assert_int_equal(rtp_hdr_parse(&h, pkt, sizeof(pkt)), 0);
	assert_true(h.marker);
	assert_int_equal(h.pt, 0);
	assert_int_equal(h.seq, 0xfffe);
	assert_int_equal(h.ts, 0x80000001);
	assert_int_equal(h.ssrc, 42);
	assert_true(rtp_seq_after(1, 0xffff));
	assert_false(rtp_seq_after(0xffff, 1));
	assert_false(rtp_seq_after(5, 5));
}

int test_rtp_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fixed),
		cmocka_unit_test(test_build_roundtrip),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_setters_and_seq_order),
	};

	return cmocka_run_group_tests_name("rtp", tests, NULL, NULL);
}
