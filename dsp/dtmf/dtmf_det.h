/*
 * dtmf_det.h — the DTMF detector's state, shared by its two halves: dtmf_det.c (the
 * stream: sub-blocks, digit state machine, events) and dtmf_win.c (the analysis of
 * one window: frequency, level, purity and talk-off guards). Private to dsp/dtmf.
 */
#ifndef TRUNX_DTMF_DET_H
#define TRUNX_DTMF_DET_H

#include "dtmf.h"

#include <stdbool.h>
#include <stdint.h>

#define SUB        40   /* samples per sub-block (5 ms) */
#define WIN        6    /* filtered values per analysis window */
#define SPAN       (WIN + 1) /* sub-blocks an analysis window spans (35 ms) */
#define NSPAN      (SPAN * SUB) /* samples an analysis window spans */
#define HIST       32   /* sub-blocks of history kept, for the walk back to a tone's start */
#define NGRID      25   /* frequency grid points */
#define GRID_STEP  0.005 /* grid spacing, fraction of the nominal frequency */
#define NTONES     8

#define SUB_SHARE  0.4f  /* both tones' share of a sub-block's power, lower bound */

#define FULL_SCALE_POW (32767.0 * 32767.0 / 2.0) /* power of a full-scale sine */
#define FULL_SCALE_DBM0 3.14

/*
 * One sub-block. Correlations are referred to absolute time (phase continuous from
 * one sub-block to the next). b is the plain sum over the sub-block (5 ms boxcar);
 * c is the sum over this sub-block and the previous one with a triangular taper
 * (10 ms), whose sidelobes keep the other group's tone from aliasing into the
 * 200 Hz decimated baseband (with the boxcar it biased the frequency estimate by up
 * to 0.4 %).
 */
struct sub {
	float e;               /* energy: sum of x^2 over the sub-block */
	float b[NTONES][2];    /* boxcar correlation with each tone */
	float r[NTONES][2];    /* the rising half of the taper over this sub-block */
	float c[NTONES][2];    /* tapered correlation over the previous and this one */
};

struct dtmf_det {
	struct dtmf_det_params p;
	dtmf_det_h *h;
	void *arg;

	/* constants derived at create */
	/* e^{-j w m} for m = 0..SUB-1, real and imaginary parts, and the same times the
	 * rising taper (m + 0.5) / SUB; tone index last so the 8 tones vectorise. */
	float tab_re[SUB][NTONES], tab_im[SUB][NTONES];
	float tabr_re[SUB][NTONES], tabr_im[SUB][NTONES];
	double step[NTONES][2];       /* e^{-j w SUB}: phase advance per sub-block */
	float grid[NTONES][NGRID][2]; /* e^{-j dw SUB} for each grid offset dw */
	float win[WIN];               /* window weights, oldest first */
	float ewin[SPAN];             /* the matching weight of each sub-block's energy */
	float win_sum;
	float hann[NSPAN];            /* taper for the probes of unclean() */
	float hann_sum;
	float xw[NSPAN];              /* the span's samples times hann (scratch) */
	float min_pow;                /* per-tone power at min_level, sample units^2 */
	float twist_min, twist_max;   /* power ratios high/low */
	unsigned n_gap;               /* sub-blocks of absence that end a digit */

	/* stream state */
	float buf[SUB];
	unsigned fill;
	float dc_x1, dc_y1;
	double rot[NTONES][2];        /* phase reference of the current sub-block */
	uint64_t nsub;                /* sub-blocks completed */
	struct sub ring[HIST];
	float xs[SPAN][SUB];          /* samples of the last SPAN sub-blocks */

	int last_hit;                 /* digit index of the previous window, -1 none */
	unsigned hit_run;             /* consecutive windows naming last_hit */
	struct dtmf_event hit_ev;     /* measurements of the latest hit window */

	int active;                   /* digit index sounding, -1 none */
	struct dtmf_event ev;         /* the active digit's event */
	float e_ref;                  /* reference sub-block energy of the active tone */
	uint64_t last_on;             /* last sub-block where the tone was present */
	unsigned absent;              /* consecutive sub-blocks without the tone */
};

/* Sub-block k (absolute index) in the history ring. */
static inline struct sub *sub_at(struct dtmf_det *d, uint64_t k)
{
	return &d->ring[k % HIST];
}

/* Power of tone t in sub-block s, in the units of a tone's A^2/2. */
static inline float sub_tone_pow(const struct sub *s, int t)
{
	return 2.0f * (s->b[t][0] * s->b[t][0] + s->b[t][1] * s->b[t][1]) /
	       (float)(SUB * SUB);
}

/* True when the pair (lo, hi) carries its share of sub-block s's power. */
static inline bool sub_has_pair(const struct sub *s, int lo, int hi)
{
	float mean = s->e / SUB;

	return sub_tone_pow(s, lo) + sub_tone_pow(s, hi) >= SUB_SHARE * mean && mean > 0.0f;
}

/** Fills the window tables of d (grid rotations, weights, probe taper). */
void dtmf_win_setup(struct dtmf_det *d);

/**
 * Analyses the window ending with the newest sub-block (d->nsub >= SPAN).
 * @return the digit index (0-15) it shows, or -1; on a new digit, fills d->hit_ev
 *         with the measured levels and frequency errors
 */
int dtmf_win_analyse(struct dtmf_det *d);

#endif
