/* test_media_dtmf_main.c — runs the DTMF interworking tests (the engine ones on real
 * sockets, on the ports TRUNX_TEST_PORTS gives, see test_ports_from_env()). */
#include "media_peer.h"
#include "test_media_dtmf.h"

int main(void)
{
	int failed = 0;

	test_ports_from_env();
	failed += test_telev_run();
	failed += test_inband_run();
	failed += test_engine_dtmf_run();
	failed += test_opus_dtmf_run();
	return failed ? 1 : 0;
}
