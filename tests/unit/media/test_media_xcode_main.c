/* test_media_xcode_main.c — runs the transcoding tests (jitter buffer, codecs,
 * transcoder: simulated time, no sockets). */
#include "test_media.h"

int main(void)
{
	int failed = 0;

	failed += test_jb_run();
	failed += test_xcode_run();
	return failed ? 1 : 0;
}
