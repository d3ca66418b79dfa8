/*
 * fuzz_jb.c — the jitter buffer and a transcoder fed arbitrary streams: any sequence
 * numbers, timestamps, sizes and arrival steps, pulled at arbitrary times, with the
 * payloads decoded as Opus (and as G.711) on the way. Checks the buffer's invariants.
 *
 * Input: records [seq hi][seq lo][ts: 4][len][step][pulls] + len payload bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jb.h"
#include "xcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct jb *jb)
{
	unsigned held = 0;

	for (unsigned i = 0; i < JB_SLOTS; i++)
		held += jb->slot[i].used;
	if (held != jb->held || held > JB_SLOTS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jb jb;
	struct xcode *xo = NULL, *xu = NULL;
	uint64_t now = 1000000;
	size_t off = 0;
	uint8_t out[CODEC_OUT_MAX];

	jb_init(&jb, 8000, 200);
	if (xcode_create(&xo, MEDIA_CODEC_OPUS, MEDIA_CODEC_PCMU, 20, NULL, 120) ||
	    xcode_create(&xu, MEDIA_CODEC_PCMA, MEDIA_CODEC_OPUS, 60, NULL, 200))
		goto out;
	while (size - off >= 9) {
		const uint8_t *r = data + off;
		uint16_t seq = (uint16_t)(r[0] << 8 | r[1]);
		uint32_t ts = (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | (uint32_t)r[4] << 8 | r[5];
		size_t len = r[6];
		unsigned pulls = r[8] & 7;
		struct jb_out o;

		off += 9;
		if (len > size - off)
			len = size - off;
		now += (uint64_t)r[7] * 500;
		jb_put(&jb, seq, ts, data + off, len, (uint32_t)len, now);
		xcode_push(xo, seq, ts, data + off, len, now);
		xcode_push(xu, seq, ts, data + off, len, now);
		off += len;
		check(&jb);
		for (unsigned i = 0; i < pulls; i++) {
			now += 5000;
			jb_get(&jb, now, &o);
			if (o.kind == JB_PACKET && (o.len == 0 || o.len > JB_PAYLOAD_MAX))
				abort();
			if (xcode_pull(xo, now, out, sizeof(out)) > (int)sizeof(out) ||
			    xcode_pull(xu, now, out, sizeof(out)) > (int)sizeof(out))
				abort();
			check(&jb);
		}
	}
out:
	xcode_destroy(xo);
	xcode_destroy(xu);
	return 0;
}
