/* test_media.h — test groups of the media/ unit tests, run by the two mains. */
#ifndef TEST_MEDIA_H
#define TEST_MEDIA_H
#include "media.h"

/** The worker I/O path the engine tests run on (set by the mains, one pass each). */
extern enum media_io test_media_io;
/** media_engine_create() with cfg->io = test_media_io (cfg NULL passed through). */
int test_engine_create(struct media_engine **mep, const struct media_engine_cfg *cfg,
		       media_event_h *eh, void *arg);
/** The name of test_media_io, for the logs. */
const char *test_media_io_name(void);
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
int test_msrtp_run(void);
int test_engine_srtp_run(void);
int test_engine_delay_run(void);
int test_engine_kfwd_run(void);
#endif
