/*
 * fuzz_sdp_fmtp.c — the Opus fmtp parser on arbitrary text: it never fails, keeps
 * every value in its range, and what trunx writes parses back to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_opus o, back;
	char text[SDP_FMTP_MAX + 1], out[256];
	size_t n = size < SDP_FMTP_MAX ? size : SDP_FMTP_MAX;

	memcpy(text, data, n);
	text[n] = '\0';
	sdp_opus_parse(&o, text);
	if (o.maxplaybackrate < 8000 || o.maxplaybackrate > 48000 ||
	    o.sprop_maxcapturerate < 8000 || o.sprop_maxcapturerate > 48000 ||
	    (o.maxaveragebitrate && (o.maxaveragebitrate < 6000 || o.maxaveragebitrate > 510000)) ||
	    o.ptime > 120 || o.minptime > 120 || o.maxptime > 120)
		abort();
	if (sdp_opus_write(&o, out, sizeof(out)) < 0)
		abort();
	sdp_opus_parse(&back, out);
	if (back.maxplaybackrate != o.maxplaybackrate ||
	    back.sprop_maxcapturerate != o.sprop_maxcapturerate ||
	    back.maxaveragebitrate != o.maxaveragebitrate || back.stereo != o.stereo ||
	    back.sprop_stereo != o.sprop_stereo || back.useinbandfec != o.useinbandfec ||
	    back.usedtx != o.usedtx)
		abort();
	return 0;
}
