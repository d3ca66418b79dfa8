/*
 * plc.h — packet loss concealment for 8 kHz linear audio without a codec of its own
 * (G.711), after the method of G.711 Appendix I: the last pitch period is repeated,
 * attenuated after the first 10 ms and silent after 60 ms, and the first good frame
 * after a loss is cross-faded from the synthetic signal. Plain value struct, no
 * allocation.
 */
#ifndef TRUNX_PLC_H
#define TRUNX_PLC_H

#include <stddef.h>
#include <stdint.h>

#define PLC_HIST    360   /**< history kept: 45 ms at 8 kHz */
#define PLC_PMIN    40    /**< shortest pitch period searched (200 Hz) */
#define PLC_PMAX    120   /**< longest (66 Hz) */
#define PLC_OLA     32    /**< cross-fade into the first good samples (4 ms) */

struct plc {
	int16_t  hist[PLC_HIST];  /**< the last PLC_HIST samples played */
	unsigned lost;            /**< samples concealed in the current loss, 0 = none */
	unsigned pitch;           /**< period in use during a loss */
	unsigned pos;             /**< read position inside the repeated period */
};

void plc_init(struct plc *p);

/** Records n good samples (and cross-fades them in place after a loss). */
void plc_good(struct plc *p, int16_t *pcm, size_t n);

/** Writes n concealment samples into out. */
void plc_conceal(struct plc *p, int16_t *out, size_t n);

#endif
