/*
 * g711.h — ITU-T G.711 mu-law and A-law companding, sample by sample.
 * Pure functions; used by the WAV reader, the DSP tests (G.711 round trips) and the
 * media layer's codecs.
 */
#ifndef TRUNX_G711_H
#define TRUNX_G711_H

#include <stdint.h>

int16_t g711_ulaw_decode(uint8_t u);
int16_t g711_alaw_decode(uint8_t a);
uint8_t g711_ulaw_encode(int16_t s);
uint8_t g711_alaw_encode(int16_t s);

#endif
