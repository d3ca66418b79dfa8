/* test_media_rtp_main.c — runs the parser, statistics, port pool and SRTP context tests. */
#include "test_media.h"

int main(void)
{
	int failed = 0;

	failed += test_rtp_run();
	failed += test_rtcp_run();
	failed += test_rtp_stats_run();
	failed += test_portpool_run();
	failed += test_rtcp_report_run();
	failed += test_msrtp_run();
	return failed ? 1 : 0;
}
