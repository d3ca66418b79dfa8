/* test_media.h — test groups of the media/ unit tests, run by the two mains. */
#ifndef TEST_MEDIA_H
#define TEST_MEDIA_H
int test_rtp_run(void);
int test_rtcp_run(void);
int test_rtp_stats_run(void);
int test_portpool_run(void);
int test_engine_run(void);
int test_engine_relay_run(void);
int test_engine_timers_run(void);
int test_engine_scale_run(void);
int test_jb_run(void);
int test_xcode_run(void);
int test_engine_xcode_run(void);
int test_rtcp_report_run(void);
int test_engine_srtp_run(void);
int test_engine_delay_run(void);
#endif
