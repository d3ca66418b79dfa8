/*
 * fuzz_srtp.c — the SRTP/SRTCP unprotect path (media/srtp) on arbitrary bytes, and
 * its integrity: a packet protected then unprotected comes back unchanged, and one
 * with any single byte changed after protection is refused.
 *
 * Input: [flags][where] + packet bytes.
 *   flags bit 0: 0 = unprotect the bytes as they are; 1 = protect them first
 *   flags bit 1: RTCP (else RTP)
 *   flags bit 2: AES_CM_128_HMAC_SHA1_32 (else _80)
 *   where: with bit 0, the byte of the protected packet to flip (0 = none), modulo
 *          its length
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msrtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct media_srtp_params p = {0};
	struct msrtp *m = NULL;
	uint8_t buf[2048 + MSRTP_TRAILER], orig[2048];
	size_t len, n;
	bool rtcp;

	if (size < 2 || size - 2 > 2048)
		return 0;
	rtcp = data[0] & 2;
	p.suite = data[0] & 4 ? MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32
			      : MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
	for (int i = 0; i < MEDIA_SRTP_KEY_LEN; i++)
		p.rx_key[i] = p.tx_key[i] = (uint8_t)(i * 7 + 3);   /* one key both ways */
	if (msrtp_set(&m, &p) != 0)
		abort();
	len = size - 2;
	memcpy(buf, data + 2, len);
	memcpy(orig, data + 2, len);
	if (!(data[0] & 1)) {
		n = len;
		if (msrtp_unprotect(m, rtcp, buf, &n) == MSRTP_OK && n > len)
			abort();
		goto out;
	}
	/* protect needs a valid header to work on; anything else may be refused */
	n = len;
	if (msrtp_protect(m, rtcp, buf, &n, sizeof(buf)) != 0)
		goto out;
	if (n <= len || n > len + MSRTP_TRAILER)
		abort();
	if (data[1]) {
		buf[data[1] % n] ^= 0x5a;
		if (msrtp_unprotect(m, rtcp, buf, &n) == MSRTP_OK)
			abort();   /* a changed byte got through */
		goto out;
	}
	if (msrtp_unprotect(m, rtcp, buf, &n) != MSRTP_OK || n != len ||
	    memcmp(buf, orig, len) != 0)
		abort();
out:
	msrtp_destroy(m);
	return 0;
}
