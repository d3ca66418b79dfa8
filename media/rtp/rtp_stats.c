/*
 * rtp_stats.c — per-source receive statistics after RFC 3550 appendix A
 * (see rtp_stats.h). Owns no state beyond the caller's struct.
 */
#include "rtp_stats.h"

#include <string.h>

#define SEQ_MOD (1u << 16)

void rtp_stats_init(struct rtp_stats *s)
{
	memset(s, 0, sizeof(*s));
}

/* Starts counting at seq (A.1 init_seq); loss counted so far is carried over. */
static void restart(struct rtp_stats *s, uint16_t seq)
{
	if (s->received)
		s->lost_carried += (int64_t)rtp_stats_expected(s) - s->received;
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = SEQ_MOD + 1;   /* so seq == bad_seq is false */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
}

/* A.1 update_seq: returns true when the packet is counted. */
static bool seq_update(struct rtp_stats *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if (s->probation) {
		if (seq == (uint16_t)(s->max_seq + 1)) {
			s->probation--;
			s->max_seq = seq;
			if (s->probation == 0) {
				restart(s, seq);
				s->received++;
				return true;
			}
		} else {
			s->probation = RTP_STATS_MIN_SEQUENTIAL - 1;
			s->max_seq = seq;
		}
		return false;
	}
	if (udelta < RTP_STATS_MAX_DROPOUT) {
		if (seq < s->max_seq)
			s->cycles += SEQ_MOD;   /* wrapped */
		s->max_seq = seq;
	} else if (udelta <= SEQ_MOD - RTP_STATS_MAX_MISORDER) {
		/* A very large jump: a restarted sender if the next one follows on. */
		if (seq == s->bad_seq) {
			restart(s, seq);
		} else {
			s->bad_seq = (seq + 1u) & (SEQ_MOD - 1);
			return false;
		}
	}
	/* else: a duplicate or a reordered packet; counted as RFC 3550 does. */
	s->received++;
	return true;
}

static void jitter_update(struct rtp_stats *s, uint32_t ts, uint32_t arrival)
{
	uint32_t transit = arrival - ts;
	int64_t d;

	if (s->have_transit) {
		d = (int32_t)(transit - s->transit);
		if (d < 0)
			d = -d;
		/* J += (|D| - J) / 16, kept times 16 (A.8, integer form). */
		s->jitter16 = s->jitter16 + (uint64_t)d - ((s->jitter16 + 8) >> 4);
	}
	s->transit = transit;
	s->have_transit = true;
}

bool rtp_stats_update(struct rtp_stats *s, uint16_t seq, uint32_t ts, uint32_t arrival)
{
	if (!s->started) {
		restart(s, seq);
		s->max_seq = (uint16_t)(seq - 1);
		s->probation = RTP_STATS_MIN_SEQUENTIAL;
		s->started = true;
	}
	if (!seq_update(s, seq))
		return false;
	jitter_update(s, ts, arrival);
	return true;
}

uint32_t rtp_stats_ext_max(const struct rtp_stats *s)
{
	return s->cycles + s->max_seq;
}

uint32_t rtp_stats_expected(const struct rtp_stats *s)
{
	if (!s->started || s->probation)
		return 0;
	return rtp_stats_ext_max(s) - s->base_seq + 1;
}

int64_t rtp_stats_lost(const struct rtp_stats *s)
{
	int64_t cur = 0;

	if (s->started && !s->probation)
		cur = (int64_t)rtp_stats_expected(s) - s->received;
	return s->lost_carried + cur;
}

uint8_t rtp_stats_fraction_lost(struct rtp_stats *s)
{
	uint32_t expected = rtp_stats_expected(s);
	uint32_t exp_int = expected - s->expected_prior;
	uint32_t rec_int = s->received - s->received_prior;
	int64_t lost_int = (int64_t)exp_int - rec_int;

	s->expected_prior = expected;
	s->received_prior = s->received;
	if (exp_int == 0 || lost_int <= 0)
		return 0;
	return (uint8_t)(((uint64_t)lost_int << 8) / exp_int);
}

uint32_t rtp_stats_jitter(const struct rtp_stats *s)
{
	uint64_t j = s->jitter16 >> 4;

	return j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
}
