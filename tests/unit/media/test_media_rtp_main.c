/* test_media_rtp_main.c — runs the parser, statistics and port pool tests. */
#include "test_media.h"

int main(void)
{
	int failed = 0;

	failed += test_rtp_run();
	failed += test_rtcp_run();
	failed += test_rtp_stats_run();
	failed += test_portpool_run();
	failed += test_rtcp_report_run();
	return failed ? 1 : 0;
}
