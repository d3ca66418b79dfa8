/* test_media_dtmf_main.c — runs the DTMF interworking tests (no sockets). */
#include "test_media_dtmf.h"

int main(void)
{
	int failed = 0;

	failed += test_telev_run();
	failed += test_inband_run();
	failed += test_engine_dtmf_run();
	failed += test_opus_dtmf_run();
	return failed ? 1 : 0;
}
