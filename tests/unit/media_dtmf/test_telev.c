/*
 * test_telev.c — RFC 4733 at the packet level: golden packets of a generated digit
 * (short and a 10 s press in segments), rescaling between 8 kHz and 48 kHz clocks,
 * the receiver's de-duplication on (timestamp, event), the end by timeout of a digit
 * whose end packets were lost, and generator -> receiver round trips.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "telev.h"
#include "test_media_dtmf.h"

/* Collects every packet of one generated event. */
struct seq {
	struct telev_pkt p[1200];
	size_t n;
};

static void gen_all(struct telev_tx *tx, struct seq *s)
{
	s->n = 0;
	while (s->n < sizeof(s->p) / sizeof(s->p[0]) && telev_tx_next(tx, &s->p[s->n]))
		s->n++;
}

static void assert_pkt(const struct telev_pkt *p, uint32_t ts, bool marker, uint8_t b0,
		       uint8_t b1, uint8_t b2, uint8_t b3)
{
	const uint8_t want[4] = {b0, b1, b2, b3};

	assert_int_equal(p->ts, ts);
	assert_int_equal(p->marker, marker);
	assert_memory_equal(p->payload, want, 4);
}

/* A 100 ms '5' at 8 kHz, 20 ms packets, volume 10: the exact bytes. */
static void test_golden_short(void **state)
{
	static struct seq s;
	struct telev_tx tx;

	(void)state;
	assert_int_equal(telev_tx_init(&tx, 8000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 5, 10, 1000, 800), 0);
	gen_all(&tx, &s);
	assert_int_equal(s.n, 7);
	assert_pkt(&s.p[0], 1000, true, 0x05, 0x0a, 0x00, 0xa0);
	assert_pkt(&s.p[1], 1000, false, 0x05, 0x0a, 0x01, 0x40);
	assert_pkt(&s.p[2], 1000, false, 0x05, 0x0a, 0x01, 0xe0);
	assert_pkt(&s.p[3], 1000, false, 0x05, 0x0a, 0x02, 0x80);
	for (int i = 4; i < 7; i++) {
		assert_pkt(&s.p[i], 1000, false, 0x05, 0x8a, 0x03, 0x20);
		assert_true(s.p[i].end);
		assert_int_equal(s.p[i].last, i == 6);
	}
	assert_false(telev_tx_busy(&tx));
}

/* A 10 s '#' at 8 kHz: one segment of 0xFFFF, then a second at ts + 0xFFFF. */
static void test_golden_10s_8k(void **state)
{
	static struct seq s;
	struct telev_tx tx;
	uint32_t t0 = 0xfffff000u;   /* the timestamp wraps inside the press */

	(void)state;
	assert_int_equal(telev_tx_init(&tx, 8000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 11, 10, t0, 80000), 0);
	gen_all(&tx, &s);
	assert_int_equal(s.n, 409 + 1 + 90 + 3);
	assert_pkt(&s.p[0], t0, true, 0x0b, 0x0a, 0x00, 0xa0);
	/* 409 * 160 = 65440, then the segment closes at 0xFFFF */
	assert_pkt(&s.p[408], t0, false, 0x0b, 0x0a, 0xff, 0xa0);
	assert_pkt(&s.p[409], t0, false, 0x0b, 0x0a, 0xff, 0xff);
	assert_pkt(&s.p[410], t0 + 0xffffu, false, 0x0b, 0x0a, 0x00, 0xa0);
	assert_pkt(&s.p[499], t0 + 0xffffu, false, 0x0b, 0x0a, 0x38, 0x40);
	/* 80000 - 65535 = 14465 = 0x3881 */
	for (size_t i = 500; i < 503; i++)
		assert_pkt(&s.p[i], t0 + 0xffffu, false, 0x0b, 0x8a, 0x38, 0x81);
	for (size_t i = 1; i < s.n; i++)
		assert_false(s.p[i].marker);
}

/* Feeds a generated sequence to a receiver, 20 ms apart; returns the END note. */
static struct telev_note roundtrip(struct seq *s, uint32_t clock, unsigned *begins,
				   unsigned *ends)
{
	struct telev_rx rx;
	struct telev_note notes[TELEV_NOTES_MAX], end = {0};

	telev_rx_init(&rx, clock, 0);
	*begins = *ends = 0;
	for (size_t i = 0; i < s->n; i++) {
		int n = telev_rx_packet(&rx, s->p[i].ts, s->p[i].payload, 4, i * 20000u, notes);

		assert_true(n >= 0);
		for (int k = 0; k < n; k++) {
			if (notes[k].type == TELEV_BEGIN) {
				(*begins)++;
			} else {
				(*ends)++;
				end = notes[k];
			}
		}
	}
	assert_int_equal(rx.dups, 2);   /* the second and third end packets */
	return end;
}

static void test_10s_roundtrip_both_clocks(void **state)
{
	static struct seq s;
	struct telev_tx tx;
	struct telev_note end;
	unsigned b, e;

	(void)state;
	assert_int_equal(telev_tx_init(&tx, 8000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 11, 10, 77, 80000), 0);
	gen_all(&tx, &s);
	end = roundtrip(&s, 8000, &b, &e);
	assert_int_equal(b, 1);
	assert_int_equal(e, 1);
	assert_int_equal(end.digit, '#');
	assert_int_equal(end.duration, 80000);
	assert_int_equal(end.duration_ms, 10000);
	assert_false(end.timed_out);
	assert_int_equal(end.ts, 77);

	/* 48 kHz: 0xFFFF is 1.37 s, so 10 s spans eight segments */
	assert_int_equal(telev_tx_init(&tx, 48000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 1, 10, 5, 480000), 0);
	gen_all(&tx, &s);
	assert_true(s.n > 500);
	end = roundtrip(&s, 48000, &b, &e);
	assert_int_equal(b, 1);
	assert_int_equal(e, 1);
	assert_int_equal(end.digit, '1');
	assert_int_equal(end.duration, 480000);
	assert_int_equal(end.duration_ms, 10000);
}

/* Moves a generated event onto another clock as a relay does, in place. */
static void map_all(struct seq *s, uint32_t from, uint32_t to, uint32_t out_base)
{
	struct telev_map m;

	telev_map_init(&m, from, to);
	for (size_t i = 0; i < s->n; i++) {
		uint32_t ts = 0;

		/* the input's timestamps carry an offset: only differences count */
		assert_int_equal(telev_map_packet(&m, s->p[i].ts + 12345u, s->p[i].payload, 4,
						  out_base + (uint32_t)i * 7u, &ts), 0);
		s->p[i].ts = ts;
	}
}

/* Timestamps and durations move together between 8 and 48 kHz event clocks: a short
 * digit keeps one timestamp (where the output stream placed it), a 10 s press keeps
 * its length and is one digit to a receiver on the other clock (8 kHz segments split
 * into 48 kHz ones, 48 kHz segments merge into 8 kHz ones). */
static void test_map_clocks(void **state)
{
	static struct seq s;
	struct telev_tx tx;
	struct telev_note end;
	struct telev_map m;
	uint8_t bad[2] = {0};
	uint32_t ts;
	unsigned b, e;

	(void)state;
	/* 100 ms '5' at 8 kHz -> 48 kHz: durations x6, one timestamp */
	assert_int_equal(telev_tx_init(&tx, 8000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 5, 10, 1000, 800), 0);
	gen_all(&tx, &s);
	map_all(&s, 8000, 48000, 900000);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.p[i].ts, 900000);
		assert_int_equal(s.p[i].payload[2] << 8 | s.p[i].payload[3],
				 i < 4 ? 960 * (i + 1) : 4800);
	}
	end = roundtrip(&s, 48000, &b, &e);
	assert_int_equal(end.duration_ms, 100);

	/* 10 s at 8 kHz -> 48 kHz: 2 segments in, 8 out, one digit of 480,000 */
	assert_int_equal(telev_tx_start(&tx, 11, 10, 77, 80000), 0);
	gen_all(&tx, &s);
	map_all(&s, 8000, 48000, 5);
	assert_int_equal(s.p[s.n - 1].ts, 5u + 7u * TELEV_SEG_MAX);
	end = roundtrip(&s, 48000, &b, &e);
	assert_int_equal(b, 1);
	assert_int_equal(e, 1);
	assert_int_equal(end.digit, '#');
	assert_int_equal(end.duration, 480000);
	assert_int_equal(end.duration_ms, 10000);
	assert_false(end.timed_out);
	assert_int_equal(end.ts, 5);

	/* 10 s at 48 kHz -> 8 kHz: 8 segments in, 2 out */
	assert_int_equal(telev_tx_init(&tx, 48000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 1, 10, 4000000000u, 480000), 0);
	gen_all(&tx, &s);
	map_all(&s, 48000, 8000, 0xfffffff0u);
	assert_int_equal(s.p[s.n - 1].ts, (uint32_t)(0xfffffff0u + TELEV_SEG_MAX));
	end = roundtrip(&s, 8000, &b, &e);
	assert_int_equal(b, 1);
	assert_int_equal(e, 1);
	assert_int_equal(end.duration, 80000);
	assert_int_equal(end.duration_ms, 10000);

	/* the next digit (another timestamp) starts where the output places it */
	telev_map_init(&m, 48000, 8000);
	{
		uint8_t pl[4] = {3, 10, 0x03, 0xc0};   /* 960 */

		assert_int_equal(telev_map_packet(&m, 100, pl, 4, 7000, &ts), 0);
		assert_int_equal(ts, 7000);
		assert_int_equal(pl[2] << 8 | pl[3], 160);
		assert_int_equal(telev_map_packet(&m, 100 + 9600, pl, 4, 8600, &ts), 0);
		assert_int_equal(ts, 8600);
		pl[0] = 4;   /* another event at the same timestamp: a new one too */
		assert_int_equal(telev_map_packet(&m, 100 + 9600, pl, 4, 8700, &ts), 0);
		assert_int_equal(ts, 8700);
	}
	assert_int_equal(telev_map_packet(&m, 1, bad, sizeof(bad), 0, &ts), EBADMSG);
}

static void test_rescale(void **state)
{
	uint8_t pl[8] = {0x05, 0x0a, 0x00, 0xa0, 0x05, 0x8a, 0x03, 0x20};
	uint8_t big[4] = {0x01, 0x0a, 0x4e, 0x20};   /* 20000 at 8 kHz */

	(void)state;
	assert_int_equal(telev_rescale(160, 8000, 48000), 960);
	assert_int_equal(telev_rescale(960, 48000, 8000), 160);
	assert_int_equal(telev_rescale(123, 0, 8000), 123);
	telev_rescale_payload(pl, sizeof(pl), 8000, 48000);
	assert_int_equal(pl[2] << 8 | pl[3], 960);
	assert_int_equal(pl[6] << 8 | pl[7], 4800);
	assert_int_equal(pl[0], 0x05);
	assert_int_equal(pl[5], 0x8a);   /* E bit and volume kept */
	telev_rescale_payload(pl, sizeof(pl), 48000, 8000);
	assert_int_equal(pl[2] << 8 | pl[3], 160);
	telev_rescale_payload(big, sizeof(big), 8000, 48000);
	assert_int_equal(big[2] << 8 | big[3], 0xffff);   /* saturates */
	/* a trailing partial block is left alone */
	telev_rescale_payload(pl, 3, 8000, 48000);
	assert_int_equal(pl[2] << 8 | pl[3], 160);
}

static int feed(struct telev_rx *rx, uint32_t ts, uint8_t ev, bool end, uint16_t dur,
		uint64_t now_us, struct telev_note notes[TELEV_NOTES_MAX])
{
	uint8_t pl[4];
	struct telev_payload p = {.event = ev, .end = end, .volume = 10, .duration = dur};

	telev_write(pl, &p);
	return telev_rx_packet(rx, ts, pl, sizeof(pl), now_us, notes);
}

/* The marker means nothing to the receiver: (timestamp, event) does. */
static void test_dedupe(void **state)
{
	struct telev_rx rx;
	struct telev_note n[TELEV_NOTES_MAX];

	(void)state;
	telev_rx_init(&rx, 8000, 0);
	/* first packet lost: the digit begins on an update */
	assert_int_equal(feed(&rx, 100, 1, false, 320, 0, n), 1);
	assert_int_equal(n[0].type, TELEV_BEGIN);
	assert_int_equal(n[0].digit, '1');
	/* a repeated "first" packet (the sender retransmits with the marker) is an update */
	assert_int_equal(feed(&rx, 100, 1, false, 160, 20000, n), 0);
	assert_int_equal(feed(&rx, 100, 1, true, 800, 40000, n), 1);
	assert_int_equal(n[0].type, TELEV_END);
	assert_int_equal(n[0].duration_ms, 100);
	assert_int_equal(feed(&rx, 100, 1, true, 800, 40100, n), 0);
	assert_int_equal(feed(&rx, 100, 1, true, 800, 40200, n), 0);
	assert_int_equal(rx.dups, 2);
	/* the same digit again, a new timestamp: a second digit */
	assert_int_equal(feed(&rx, 1700, 1, false, 160, 200000, n), 1);
	assert_int_equal(n[0].type, TELEV_BEGIN);
	assert_int_equal(feed(&rx, 1700, 1, true, 640, 260000, n), 1);
	/* an end of the first digit delayed past the second: still a duplicate */
	assert_int_equal(feed(&rx, 100, 1, true, 800, 270000, n), 0);
	assert_int_equal(rx.dups, 3);
	/* a digit seen only by its end packet: begin and end at once */
	assert_int_equal(feed(&rx, 4000, 12, true, 480, 500000, n), 2);
	assert_int_equal(n[0].type, TELEV_BEGIN);
	assert_int_equal(n[1].type, TELEV_END);
	assert_int_equal(n[1].digit, 'A');
	assert_int_equal(n[1].duration_ms, 60);
	/* malformed payloads */
	assert_int_equal(telev_rx_packet(&rx, 1, (const uint8_t *)"\x01\x02", 2, 0, n),
			 -EBADMSG);
}

/* All end packets lost: the timeout ends the digit; a late end is then a duplicate. */
static void test_lost_end(void **state)
{
	struct telev_rx rx;
	struct telev_note n[TELEV_NOTES_MAX], t;

	(void)state;
	telev_rx_init(&rx, 8000, 0);
	assert_int_equal(feed(&rx, 500, 9, false, 160, 1000000, n), 1);
	assert_int_equal(feed(&rx, 500, 9, false, 480, 1040000, n), 0);
	/* a tick whose clock reads a little before the last packet (rounded to the ms) */
	assert_int_equal(telev_rx_tick(&rx, 1039999, false, &t), 0);
	assert_int_equal(telev_rx_tick(&rx, 1040000 + TELEV_TIMEOUT_US - 1, false, &t), 0);
	assert_int_equal(telev_rx_tick(&rx, 1040000 + TELEV_TIMEOUT_US, false, &t), 1);
	assert_int_equal(t.type, TELEV_END);
	assert_int_equal(t.digit, '9');
	assert_true(t.timed_out);
	assert_int_equal(t.duration_ms, 60);
	assert_int_equal(telev_rx_tick(&rx, 9000000, true, &t), 0);
	assert_int_equal(feed(&rx, 500, 9, true, 800, 1500000, n), 0);

	/* a new event while one is active: the active one ends first */
	assert_int_equal(feed(&rx, 2000, 2, false, 160, 2000000, n), 1);
	assert_int_equal(feed(&rx, 2400, 3, false, 160, 2060000, n), 2);
	assert_int_equal(n[0].type, TELEV_END);
	assert_int_equal(n[0].digit, '2');
	assert_true(n[0].timed_out);
	assert_int_equal(n[1].type, TELEV_BEGIN);
	assert_int_equal(n[1].digit, '3');
	/* the stream ends mid-digit */
	assert_int_equal(telev_rx_tick(&rx, 2060001, true, &t), 1);
	assert_int_equal(t.digit, '3');
}

/* The call ends mid-digit: the generator sends three end packets at once. */
static void test_end_mid_digit(void **state)
{
	static struct seq s;
	struct telev_tx tx;

	(void)state;
	assert_int_equal(telev_tx_init(&tx, 48000, 20), 0);
	assert_int_equal(telev_tx_start(&tx, 0, 10, 42, 0), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(telev_tx_next(&tx, &s.p[i]), 1);
	telev_tx_end(&tx);
	gen_all(&tx, &s);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++)
		assert_pkt(&s.p[i], 42, false, 0x00, 0x8a, 0x12, 0xc0);   /* 4800 */
	/* ending a digit nothing was sent for sends nothing */
	assert_int_equal(telev_tx_start(&tx, 4, 10, 1, 0), 0);
	telev_tx_end(&tx);
	assert_false(telev_tx_busy(&tx));
	assert_int_equal(telev_tx_start(&tx, 256, 10, 1, 0), EINVAL);
	assert_int_equal(telev_tx_init(&tx, 0, 20), EINVAL);
}

int test_telev_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_short),
		cmocka_unit_test(test_golden_10s_8k),
		cmocka_unit_test(test_10s_roundtrip_both_clocks),
		cmocka_unit_test(test_rescale),
		cmocka_unit_test(test_map_clocks),
		cmocka_unit_test(test_dedupe),
		cmocka_unit_test(test_lost_end),
		cmocka_unit_test(test_end_mid_digit),
	};

	return cmocka_run_group_tests_name("telev", tests, NULL, NULL);
}
