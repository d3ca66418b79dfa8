/*
 * g711.c — G.711 companding (see g711.h), following the segment arithmetic of the
 * ITU-T G.711 recommendation: mu-law with a bias of 0x84 and clip at 32635,
 * A-law with even-bit inversion (0x55).
 */
#include "g711.h"

static int top_bit(unsigned v)
{
	int b = -1;

	while (v) {
		v >>= 1;
		b++;
	}
	return b;
}

uint8_t g711_ulaw_encode(int16_t s)
{
	int v = s;
	unsigned mask = 0xff;
	int seg;

	if (v < 0) {
		v = -v;
		mask = 0x7f;
	}
	if (v > 32635)
		v = 32635;
	v += 0x84;
	seg = top_bit((unsigned)v >> 7);
	if (seg > 7)
		seg = 7;
	return (uint8_t)(((seg << 4) | ((v >> (seg + 3)) & 0x0f)) ^ mask);
}

int16_t g711_ulaw_decode(uint8_t u)
{
	int v;

	u = (uint8_t)~u;
	v = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
	return (int16_t)((u & 0x80) ? (0x84 - v) : (v - 0x84));
}

uint8_t g711_alaw_encode(int16_t s)
{
	int v = s;
	unsigned mask;
	int seg;
	uint8_t out;

	if (v >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		v = -v - 1;
	}
	if (v > 32767)
		v = 32767;
	seg = top_bit((unsigned)v >> 8) + 1; /* 0 for |v| < 256 */
	if (seg > 7)
		seg = 7;
	if (seg == 0)
		out = (uint8_t)((v >> 4) & 0x0f);
	else
		out = (uint8_t)((seg << 4) | ((v >> (seg + 3)) & 0x0f));
	return (uint8_t)(out ^ mask);
}

int16_t g711_alaw_decode(uint8_t a)
{
	int t, seg;

	a ^= 0x55;
	t = (a & 0x0f) << 4;
	seg = (a & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else
		t = (t + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? t : -t);
}
