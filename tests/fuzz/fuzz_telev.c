/*
 * fuzz_telev.c — RFC 4733 payloads on arbitrary bytes: the receiver fed a stream of
 * (timestamp, payload, arrival) records, the in-place duration rescaling, the map
 * between event clocks (each output timestamp a whole number of 0xFFFF segments from
 * its event's base), and the generator driven by the same bytes with its invariants
 * checked.
 *
 * Input: records [ts delta: 2][arrival step ms: 1][len: 1][len bytes]. The first
 * byte also picks the receiver's clock (8 or 48 kHz).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_note(const struct telev_note *n, uint32_t clock)
{
	if (n->type != TELEV_BEGIN && n->type != TELEV_END)
		abort();
	if (n->type == TELEV_END && n->duration_ms != (uint32_t)(n->duration * 1000u / clock))
		abort();
}

/* Generates one event from the input's parameters and checks what RFC 4733 asks. */
static void gen(const uint8_t *d, size_t n)
{
	struct telev_tx tx;
	struct telev_pkt p;
	uint32_t clock = (n && (d[0] & 1)) ? 48000 : 8000;
	uint64_t total = n >= 4 ? ((uint64_t)d[1] << 16 | (uint64_t)d[2] << 8 | d[3]) : 800;
	unsigned ends = 0, count = 0, stop_at = n >= 5 ? d[4] : 0;
	uint32_t ts = 0;
	uint16_t last_dur = 0;

	if (telev_tx_init(&tx, clock, 20) || telev_tx_start(&tx, n >= 6 ? d[5] : 1, 10, 7, total))
		abort();
	while (telev_tx_next(&tx, &p)) {
		struct telev_payload pl;

		if (telev_parse(&pl, p.payload, 4))
			abort();
		if (p.marker != (count == 0) || (count && p.ts != ts && p.ts != ts + TELEV_SEG_MAX))
			abort();
		if (count && p.ts == ts && pl.duration < last_dur)
			abort();
		if (ends && !pl.end)
			abort();   /* nothing but end packets after the first end */
		ends += pl.end;
		ts = p.ts;
		last_dur = pl.duration;
		if (++count == stop_at && total == 0)
			telev_tx_end(&tx);
		if (count > 20000)
			break;   /* long open events: stop here */
	}
	if (count <= 20000 && ends != TELEV_END_COUNT && count)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct telev_rx rx;
	struct telev_note notes[TELEV_NOTES_MAX], t;
	uint32_t clock = size && (data[0] & 0x80) ? 48000 : 8000;
	uint32_t ts = 1000;
	uint64_t now = 0;
	size_t off = 0;
	int active = 0;
	struct telev_map up, down;

	telev_rx_init(&rx, clock, 0);
	telev_map_init(&up, 8000, 48000);
	telev_map_init(&down, 48000, 8000);
	while (size - off >= 4) {
		uint8_t buf[256];
		size_t len = data[off + 3];
		int n;

		ts += (uint32_t)(data[off] << 8 | data[off + 1]);
		now += (uint64_t)data[off + 2] * 1000u;
		off += 4;
		if (len > size - off)
			len = size - off;
		memcpy(buf, data + off, len);
		off += len;
		n = telev_rx_packet(&rx, ts, buf, len, now, notes);
		if (n < 0 && len >= 4)
			abort();
		for (int i = 0; i < n; i++) {
			check_note(&notes[i], clock);
			active += notes[i].type == TELEV_BEGIN ? 1 : -1;
			if (active < 0 || active > 1)
				abort();   /* begins and ends alternate */
		}
		if (telev_rx_tick(&rx, now, false, &t)) {
			check_note(&t, clock);
			active--;
		}
		for (int k = 0; k < 2; k++) {
			struct telev_map *m = k ? &down : &up;
			uint8_t copy[256];
			uint32_t out_ts = 0, base = ts * 3u;

			memcpy(copy, buf, len);
			if (telev_map_packet(m, ts, copy, len, base, &out_ts) != (len < 4 ? EBADMSG : 0))
				abort();
			if (len >= 4 && (out_ts - m->out_ts0) % TELEV_SEG_MAX)
				abort();
		}
		telev_rescale_payload(buf, len, 8000, 48000);
		telev_rescale_payload(buf, len, 48000, 8000);
	}
	if (telev_rx_tick(&rx, now, true, &t))
		active--;
	if (active != 0)
		abort();
	gen(data, size);
	return 0;
}
