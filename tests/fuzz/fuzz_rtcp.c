/*
 * fuzz_rtcp.c — RTCP compound walk, SSRC rewrite and trunx's report reader on
 * arbitrary bytes. The first 16 input bytes choose the rewrite map; the rest is the
 * compound. A compound that walks
 * must rewrite, keep its length and framing, and walk again to the same packets.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtcp.h"
#include "rtcp_report.h"
#include "rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	unsigned n;
	uint8_t  types[64];
	size_t   lens[64];
};

static int count(const struct rtcp_pkt *pkt, void *arg)
{
	struct tally *t = arg;

	if (t->n < 64) {
		t->types[t->n] = pkt->type;
		t->lens[t->n] = pkt->len;
	}
	t->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally before = {0}, after = {0};
	struct rtcp_map m;
	uint8_t *buf;
	size_t len;
	int walked;

	if (size < 16)
		return 0;
	m.sender_ssrc = rtp_get32(data);
	m.sr_ts_add = rtp_get32(data + 4);
	m.report_from = rtp_get32(data + 8);
	m.report_to = rtp_get32(data + 12);
	m.report_map = (data[0] & 1) != 0;
	m.report_seq_add = (uint16_t)(data[1] << 8 | data[2]);
	len = size - 16;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 16, len);
	walked = rtcp_walk(buf, len, count, &before);
	{
		/* trunx's own report reader accepts exactly what the walk accepts */
		struct rtcp_report_in in;
		int r = rtcp_report_parse(buf, len, m.report_from, &in);

		if ((r == 0) != (walked == 0))
			abort();
	}
	if (rtcp_rewrite(buf, len, &m) != walked)
		abort();
	if (walked == 0) {
		if (rtcp_walk(buf, len, count, &after) || after.n != before.n)
			abort();
		for (unsigned i = 0; i < before.n && i < 64; i++)
			if (after.types[i] != before.types[i] || after.lens[i] != before.lens[i])
				abort();
	}
	free(buf);
	return 0;
}
