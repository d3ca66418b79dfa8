/* test_media_dtmf.h — test groups of the DTMF interworking unit tests. */
#ifndef TEST_MEDIA_DTMF_H
#define TEST_MEDIA_DTMF_H
int test_telev_run(void);
int test_inband_run(void);
int test_engine_dtmf_run(void);
int test_opus_dtmf_run(void);
#endif
