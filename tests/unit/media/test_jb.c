/* test_jb.c — the jitter buffer with simulated time: in-order play, loss with an FEC
 * candidate, DTX gaps (no loss), burst loss concealed once, late/duplicate/bad
 * packets, a sequence restart, stray numbers and jumps back, bounded delay under +-40 ms
 * jitter with +-0.5 % sender clock skew, and a stalled reader's backlog drained. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jb.h"
#include "test_media.h"

#define F 160   /* 20 ms at 8 kHz */

static struct jb *new_jb(void)
{
	struct jb *jb = malloc(sizeof(*jb));

	assert_non_null(jb);
	jb_init(jb, 8000, 200);
	return jb;
}

static void put(struct jb *jb, uint16_t seq, uint32_t ts, uint64_t t_us)
{
	uint8_t p[F];

	memset(p, (uint8_t)seq, sizeof(p));
	assert_int_not_equal(jb_put(jb, seq, ts, p, sizeof(p), F, t_us), JB_PUT_BAD);
}

static void in_order(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 1000000;
	int played = 0, none = 0;

	(void)state;
	for (int i = 0; i < 50; i++, t += 20000) {
		put(jb, (uint16_t)(1000 + i), (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
		if (o.kind == JB_PACKET) {
			assert_int_equal(o.ts, (uint32_t)(played * F));
			assert_int_equal(o.data[0], (uint8_t)(1000 + played));
			played++;
		} else {
			assert_int_equal(o.kind, JB_NONE);
			none++;
		}
	}
	assert_true(none >= 1 && none <= 3);   /* the initial buffering, 40 ms */
	assert_int_equal(jb->c.lost, 0);
	assert_int_equal(jb->c.expanded, 0);
	assert_true(jb_depth_ms(jb) >= 20 && jb_depth_ms(jb) <= 60);
	free(jb);
}

static void loss_offers_next(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 0;
	bool saw_lost = false;

	(void)state;
	for (int i = 0; i < 20; i++, t += 20000) {
		if (i != 10)
			put(jb, (uint16_t)i, (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
		if (o.kind == JB_LOST) {
			saw_lost = true;
			assert_non_null(o.fec);
			assert_int_equal(o.fec[0], 11);   /* the next packet: FEC source */
			assert_int_equal(o.dur, F);
		}
	}
	assert_true(saw_lost);
	assert_int_equal(jb->c.lost, 1);
	free(jb);
}

/* Ticks n frames: arrivals[k] are put just before the k-th pull. Returns the kinds. */
static void dtx_gap(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 0;
	uint16_t seq = 0;
	uint32_t ts = 0;
	int empties = 0;

	(void)state;
	/* 1 s of talk, 600 ms of DTX (no packets, contiguous seq after), 1 s of talk. */
	for (int tick = 0; tick < 130; tick++, t += 20000) {
		bool talk = tick < 50 || tick >= 80;

		if (talk) {
			put(jb, seq++, ts, t);
		}
		ts += F;
		jb_get(jb, t + 1000, &o);
		if (o.kind == JB_EMPTY)
			empties++;
	}
	assert_int_equal(jb->c.lost, 0);        /* DTX is not loss */
	assert_true(empties >= 25);
	assert_int_equal(jb->c.expanded, (uint64_t)empties);
	free(jb);
}

static void burst_concealed_once(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 0;
	int out = 0, ticks = 0;

	(void)state;
	for (int i = 0; i < 100; i++, t += 20000) {
		if (i < 40 || i >= 46)   /* 6 packets lost in a row */
			put(jb, (uint16_t)i, (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
		if (o.kind != JB_NONE) {
			out++;
			if (!ticks)
				ticks = 100 - i;
		}
	}
	/* one result per pull once playing: no pull without audio, none doubled */
	assert_int_equal(out, ticks);
	assert_int_equal(jb->c.lost, 6);
	/* the delay did not grow by the burst: at most a frame more than before */
	assert_true(jb_depth_ms(jb) <= 80);
	free(jb);
}

static void late_dup_bad(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint8_t p[F] = {0};
	uint64_t t = 0;

	(void)state;
	for (int i = 0; i < 10; i++, t += 20000) {
		put(jb, (uint16_t)i, (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
	}
	assert_int_equal(jb_put(jb, 1, F, p, F, F, t), JB_PUT_LATE);
	assert_int_equal(jb_put(jb, 10, 10 * F, p, F, F, t), JB_PUT_OK);
	assert_int_equal(jb_put(jb, 10, 10 * F, p, F, F, t), JB_PUT_DUP);
	assert_int_equal(jb_put(jb, 11, 11 * F, p, 0, F, t), JB_PUT_BAD);
	assert_int_equal(jb_put(jb, 11, 11 * F, p, F, 0, t), JB_PUT_BAD);
	assert_int_equal(jb_put(jb, 11, 11 * F, p, JB_PAYLOAD_MAX + 1, F, t), JB_PUT_BAD);
	assert_int_equal(jb->c.late, 1);
	assert_int_equal(jb->c.dup, 1);
	assert_int_equal(jb->c.bad, 3);
	free(jb);
}

/* 20 packets numbered from old0, then 20 from new0 whose timeline starts at ts0 (the
 * old one at 0): returns how many of the new ones were played. */
static int renumbered(struct jb *jb, uint16_t old0, uint16_t new0, uint32_t ts0)
{
	struct jb_out o;
	uint64_t t = 0;
	int after = 0;

	for (int i = 0; i < 20; i++, t += 20000) {
		put(jb, (uint16_t)(old0 + i), (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
	}
	for (int i = 0; i < 20; i++, t += 20000) {
		put(jb, (uint16_t)(new0 + i), ts0 + (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
		if (o.kind == JB_PACKET && o.ts >= ts0)
			after++;
	}
	return after;
}

/* The peer restarts its numbering (and timeline) mid-call. */
static void seq_restart(void **state)
{
	struct jb *jb = new_jb();

	(void)state;
	assert_true(renumbered(jb, 40000, 7, 999999) >= 16);
	assert_int_equal(jb->c.resets, 1);
	free(jb);
}

/* Single packets far outside the window (a corrupted or forged number, ahead by 100 or
 * 999, behind by 500 or 40,000) between two packets of the stream: each is dropped as
 * stray, the stream plays on without a late packet, a loss or a reset. Without the
 * probation the +100 one moved the cursor and the next 68 packets came "late". */
static void stray_packets_ignored(void **state)
{
	static const int stray[] = {100, 999, -500, -40000};
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 1000000;
	int played = 0;

	(void)state;
	for (int i = 0; i < 200; i++, t += 20000) {
		put(jb, (uint16_t)(3000 + i), (uint32_t)(i * F), t);
		if (i % 40 == 20) {
			int k = stray[(i / 40) % 4];
			uint8_t p[F] = {0};

			assert_int_equal(jb_put(jb, (uint16_t)(3000 + i + k), (uint32_t)((i + k) * F),
						p, F, F, t + 5000), JB_PUT_STRAY);
		}
		jb_get(jb, t + 1000, &o);
		played += o.kind == JB_PACKET;
	}
	assert_int_equal(jb->c.stray, 5);
	assert_int_equal(jb->c.late, 0);
	assert_int_equal(jb->c.lost, 0);
	assert_int_equal(jb->c.resets, 0);
	assert_true(played >= 197);
	free(jb);
}

/* A sender that moves its numbering back by 500 with the same SSRC (another source
 * behind the same stream) is followed after two packets, not left "late" for 10 s. */
static void seq_back_jump(void **state)
{
	struct jb *jb = new_jb();

	(void)state;
	assert_true(renumbered(jb, 9000, 8520, 20 * F) >= 14);
	assert_int_equal(jb->c.resets, 1);
	assert_int_equal(jb->c.stray, 1);
	free(jb);
}

/* A burst loss longer than the window (60 packets, 1.2 s): the cursor moves once the
 * packet after the gap is followed by its successor; one frame more is lost. */
static void long_burst_loss(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 0;
	int played = 0;

	(void)state;
	for (int i = 0; i < 100; i++, t += 20000) {
		if (i < 20 || i >= 80)
			put(jb, (uint16_t)(65500 + i), (uint32_t)(i * F), t);
		jb_get(jb, t + 1000, &o);
		played += o.kind == JB_PACKET && i >= 80;
	}
	assert_int_equal(jb->c.stray, 1);
	assert_int_equal(jb->c.resets, 0);
	assert_int_equal(jb->c.late, 0);
	assert_true(played >= 16);
	free(jb);
}

/*
 * A sender whose clock runs `skew` fast (0.005 = +0.5 %), arrivals jittered uniformly
 * by +-40 ms (so packets also reorder), pulled every 20 ms for 120 s: the delay each
 * played packet spent in the buffer stays bounded, and almost nothing is lost.
 */
static void jitter_skew(double skew)
{
	struct jb *jb = new_jb();
	enum { N = 6000 };
	static uint64_t arrive[N], sent[N];
	struct jb_out o;
	uint64_t next_pull = 0, max_delay = 0;
	unsigned seed = 7, k = 0, played = 0;
	int order[N];

	for (int i = 0; i < N; i++) {
		int64_t j = (int64_t)(rand_r(&seed) % 80001) - 40000;

		sent[i] = (uint64_t)(1000000 + i * 20000.0 / (1.0 + skew));
		arrive[i] = (uint64_t)((int64_t)sent[i] + 40000 + j);
		order[i] = i;
	}
	/* arrival order */
	for (int i = 1; i < N; i++) {
		int v = order[i], m = i - 1;

		while (m >= 0 && arrive[order[m]] > arrive[v]) {
			order[m + 1] = order[m];
			m--;
		}
		order[m + 1] = v;
	}
	next_pull = arrive[order[0]];
	while (k < N || next_pull < arrive[order[N - 1]] + 400000) {
		while (k < N && arrive[order[k]] <= next_pull) {
			int i = order[k++];
			uint8_t p[F];

			memset(p, 0, sizeof(p));
			p[0] = (uint8_t)i;
			p[1] = (uint8_t)(i >> 8);
			jb_put(jb, (uint16_t)i, (uint32_t)(i * F), p, F, F, arrive[i]);
		}
		jb_get(jb, next_pull, &o);
		if (o.kind == JB_PACKET) {
			int i = o.data[0] | (o.data[1] << 8);
			uint64_t d = next_pull - sent[i];

			played++;
			if (i > N / 4 && d > max_delay)   /* after the start-up */
				max_delay = d;
		}
		next_pull += 20000;
	}
	print_message("skew %+.1f %%: played %u/%d, lost %llu, late %llu, discarded %llu, "
		      "expanded %llu, max delay %llu ms\n", skew * 100, played, N,
		      (unsigned long long)jb->c.lost, (unsigned long long)jb->c.late,
		      (unsigned long long)jb->c.discarded, (unsigned long long)jb->c.expanded,
		      (unsigned long long)(max_delay / 1000));
	/* the network alone holds a packet up to 80 ms; the buffer adds at most ~100 */
	assert_true(max_delay < 250000);
	assert_true(jb->c.late + jb->c.lost < N / 50);   /* < 2 % */
	free(jb);
}

static void jitter_skew_fast(void **state)
{
	(void)state;
	jitter_skew(0.005);
}

static void jitter_skew_slow(void **state)
{
	(void)state;
	jitter_skew(-0.005);
}

/*
 * A reader that stalls for 500 ms while the packets keep coming (a worker held up)
 * finds 0.5 s of audio waiting: the discard rule takes the backlog out in a few
 * windows (half the excess each), not a packet a second, and loses nothing that was
 * not already played late: no loss, nothing late, the order kept.
 */
static void stall_backlog_drains(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 1000000, stall_end = 0;
	uint32_t depth_after_stall = 0, depth_5s = 0;
	int last = -1;

	(void)state;
	for (int i = 0; i < 500; i++, t += 20000) {
		put(jb, (uint16_t)i, (uint32_t)(i * F), t);
		if (i >= 100 && i < 125)
			continue;   /* the reader stalls: 500 ms of packets pile up */
		if (i == 125) {
			stall_end = t;
			depth_after_stall = jb_depth_ms(jb);
		}
		jb_get(jb, t + 1000, &o);
		if (o.kind == JB_PACKET) {
			assert_true(o.data[0] == (uint8_t)(last + 1) || last < 0 ||
				    jb->c.discarded > 0);
			last = o.data[0];
		}
		if (stall_end && !depth_5s && t >= stall_end + 5000000)
			depth_5s = jb_depth_ms(jb);
	}
	print_message("after a 500 ms stall: %u ms held, %u ms 5 s later; discarded %llu, "
		      "lost %llu, late %llu\n", depth_after_stall, depth_5s,
		      (unsigned long long)jb->c.discarded, (unsigned long long)jb->c.lost,
		      (unsigned long long)jb->c.late);
	assert_true(depth_after_stall >= 450);
	assert_true(depth_5s <= 100);
	assert_true(jb->c.discarded >= 18);
	assert_int_equal(jb->c.lost, 0);
	assert_int_equal(jb->c.late, 0);
	free(jb);
}

/* telephone-event packets take numbers of the stream: skipped, not lost; a stray
 * number far away changes nothing. */
static void skip_markers(void **state)
{
	struct jb *jb = new_jb();
	struct jb_out o;
	uint64_t t = 0;
	int played = 0;

	(void)state;
	for (int i = 0; i < 60; i++, t += 20000) {
		if (i >= 20 && i < 25)
			jb_put_skip(jb, (uint16_t)i, 20 * F, t);   /* a digit's packets */
		else
			put(jb, (uint16_t)i, (uint32_t)(i * F), t);
		if (i == 40)
			jb_put_skip(jb, 30000, 0, t);              /* stray */
		jb_get(jb, t + 1000, &o);
		played += o.kind == JB_PACKET;
	}
	assert_int_equal(jb->c.lost, 0);
	assert_int_equal(jb->c.late, 0);
	assert_true(played >= 50);
	free(jb);
}

int test_jb_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order),
		cmocka_unit_test(loss_offers_next),
		cmocka_unit_test(dtx_gap),
		cmocka_unit_test(burst_concealed_once),
		cmocka_unit_test(late_dup_bad),
		cmocka_unit_test(seq_restart),
		cmocka_unit_test(stray_packets_ignored),
		cmocka_unit_test(seq_back_jump),
		cmocka_unit_test(long_burst_loss),
		cmocka_unit_test(skip_markers),
		cmocka_unit_test(jitter_skew_fast),
		cmocka_unit_test(jitter_skew_slow),
		cmocka_unit_test(stall_backlog_drains),
	};

	return cmocka_run_group_tests_name("jb", tests, NULL, NULL);
}
