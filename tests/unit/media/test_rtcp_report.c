/* test_rtcp_report.c — trunx's own RTCP reports: an SR with a report block and SDES
 * that rtcp_walk() accepts and rtcp_report_parse() reads back, an RR, the round-trip
 * time from LSR/DLSR, and the E-model figures at their reference points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "rtcp.h"
#include "rtcp_report.h"
#include "test_media.h"

static void sr_round_trip(void **state)
{
	struct rtcp_report_out o = {
		.ssrc = 0x11223344, .sender = true, .ntp = 0xe100b249aabbccddull, .rtp_ts = 960000,
		.packets = 250, .octets = 40000, .have_block = true, .src_ssrc = 0x55667788,
		.fraction = 13, .lost = -2, .ext_max = 70000, .jitter = 77, .lsr = 0x1234,
		.dlsr = 0x10000, .cname = "trunx",
	};
	struct rtcp_report_in in;
	uint8_t buf[128];
	size_t n;

	(void)state;
	n = rtcp_report_build(buf, sizeof(buf), &o);
	assert_true(n > 0 && n % 4 == 0);
	assert_int_equal(rtcp_walk(buf, n, NULL, NULL), 0);
	assert_int_equal(buf[1], 200);
	assert_int_equal(rtcp_report_parse(buf, n, 0x55667788, &in), 0);
	assert_true(in.have_sr);
	assert_int_equal(in.sr_ssrc, 0x11223344);
	assert_int_equal(in.sr_mid, 0xb249aabb);   /* high bit set: no signed shift */
	assert_true(in.have_block);
	assert_int_equal(in.fraction, 13);
	assert_int_equal(in.lost, -2);
	assert_int_equal(in.jitter, 77);
	assert_int_equal(in.lsr, 0x1234);
	/* a block about another SSRC is not ours */
	assert_int_equal(rtcp_report_parse(buf, n, 0x99, &in), 0);
	assert_false(in.have_block);
	assert_int_equal(rtcp_report_build(buf, 20, &o), 0);   /* too small */
	o.sender = false;
	n = rtcp_report_build(buf, sizeof(buf), &o);
	assert_int_equal(buf[1], 201);
	assert_int_equal(rtcp_walk(buf, n, NULL, NULL), 0);
}

static void rtt_and_quality(void **state)
{
	uint64_t now = (uint64_t)0x1000 << 32 | 0x80000000u;   /* 4096.5 s */
	uint32_t lsr = (uint32_t)(((uint64_t)0x1000 << 32 | 0x40000000u) >> 16);   /* 4096.25 */

	(void)state;
	/* sent 250 ms ago, the peer held it 200 ms: 50 ms round trip */
	assert_in_range(rtcp_rtt_ms(lsr, 200 * 65536 / 1000, now), 49, 50);
	assert_int_equal(rtcp_rtt_ms(0, 0, now), -1);
	assert_int_equal(rtcp_rtt_ms(lsr + 65536 * 100, 0, now), -1);   /* in the future */
	/* a peer overstating its DLSR by 0.5 ms (a ms clock) on loopback: 0, not unknown */
	assert_int_equal(rtcp_rtt_ms(lsr, 250 * 65536 / 1000 + 32, now), 0);
	assert_int_equal(rtcp_rtt_ms(lsr, 250 * 65536 / 1000 + RTCP_RTT_SLACK, now), 0);
	/* beyond the slack: unknown */
	assert_int_equal(rtcp_rtt_ms(lsr, 250 * 65536 / 1000 + RTCP_RTT_SLACK + 1, now), -1);
	assert_int_equal(rtcp_rtt_ms(lsr, 250 * 65536 / 1000, now), 0);
	/* G.107 default: R 93.2 -> MOS 4.41; loss and delay take it down */
	assert_true(quality_mos(quality_r(0, 0, 0, 25.1)) > 4.4);
	assert_true(quality_mos(quality_r(40, 0, 0, 25.1)) > 4.3);
	assert_true(quality_mos(quality_r(40, 5, 0, 25.1)) < 4.0);
	assert_true(quality_mos(quality_r(400, 0, 0, 25.1)) < 3.6);
	assert_true(quality_mos(quality_r(40, 50, 0, 25.1)) < 2.0);
}

int test_rtcp_report_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sr_round_trip),
		cmocka_unit_test(rtt_and_quality),
	};

	return cmocka_run_group_tests_name("rtcp_report", tests, NULL, NULL);
}
