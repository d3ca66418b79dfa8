/* test_wav.c — WAV reader: formats, malformed files, G.711 companding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "g711.h"
#include "wav.h"

static size_t build(uint8_t *out, uint16_t fmt, uint16_t ch, uint32_t rate, uint16_t bits,
		    const void *pcm, uint32_t pcm_len, uint32_t claimed_len)
{
	uint16_t align = (uint16_t)(ch * bits / 8);
	uint32_t v32;
	uint16_t v16;
	size_t o = 0;

#define PUT(p, n) do { memcpy(out + o, p, n); o += n; } while (0)
	PUT("RIFF", 4); v32 = 36 + pcm_len; PUT(&v32, 4); PUT("WAVE", 4);
	PUT("LIST", 4); v32 = 2; PUT(&v32, 4); PUT("xx", 2);   /* a chunk to skip */
	PUT("fmt ", 4); v32 = 16; PUT(&v32, 4);
	PUT(&fmt, 2); PUT(&ch, 2); PUT(&rate, 4); v32 = rate * align; PUT(&v32, 4);
	PUT(&align, 2); PUT(&bits, 2);
	v16 = 0; (void)v16;
	PUT("data", 4); PUT(&claimed_len, 4); PUT(pcm, pcm_len);
#undef PUT
	return o;
}

static void test_pcm16_stereo_first_channel(void **state)
{
	int16_t pcm[] = {100, -1, -200, -2, 300, -3};
	uint8_t img[256];
	struct wav w;
	size_t n = build(img, 1, 2, 8000, 16, pcm, sizeof(pcm), sizeof(pcm));

	(void)state;
	assert_int_equal(wav_parse(&w, img, n, NULL, 0), 0);
	assert_int_equal(w.count, 3);
	assert_int_equal(w.rate, 8000);
	assert_int_equal(w.channels, 2);
	assert_int_equal(w.samples[0], 100);
	assert_int_equal(w.samples[1], -200);
	assert_int_equal(w.samples[2], 300);
	wav_free(&w);
}

static void test_ulaw_decoded(void **state)
{
	uint8_t u[] = {g711_ulaw_encode(1000), g711_ulaw_encode(-1000)};
	uint8_t img[256];
	struct wav w;
	size_t n = build(img, 7, 1, 8000, 8, u, sizeof(u), sizeof(u));

	(void)state;
	assert_int_equal(wav_parse(&w, img, n, NULL, 0), 0);
	assert_int_equal(w.count, 2);
	assert_in_range(w.samples[0], 960, 1040);
	assert_in_range(w.samples[1], -1040, -960);
	wav_free(&w);
}

static void test_data_past_end_clipped(void **state)
{
	int16_t pcm[] = {1, 2, 3, 4};
	uint8_t img[256];
	struct wav w;
	size_t n = build(img, 1, 1, 16000, 16, pcm, sizeof(pcm), 100000);

	(void)state;
	assert_int_equal(wav_parse(&w, img, n, NULL, 0), 0);
	assert_int_equal(w.count, 4);
	assert_int_equal(w.rate, 16000);
	wav_free(&w);
}

static void test_refusals_with_reason(void **state)
{
	int16_t pcm[] = {1, 2};
	uint8_t img[256];
	char err[128];
	struct wav w;
	size_t n;

	(void)state;
	n = build(img, 3, 1, 8000, 32, pcm, sizeof(pcm), sizeof(pcm));
	assert_int_equal(wav_parse(&w, img, n, err, sizeof(err)), ENOTSUP);
	assert_non_null(strstr(err, "format tag 3"));

	n = build(img, 1, 1, 8000, 8, pcm, sizeof(pcm), sizeof(pcm));
	assert_int_equal(wav_parse(&w, img, n, err, sizeof(err)), ENOTSUP);
	assert_non_null(strstr(err, "8 bits"));

	assert_int_equal(wav_parse(&w, (const uint8_t *)"RIFX....WAVE", 12, err, sizeof(err)),
			 EINVAL);
	/* Cut inside the fmt chunk, and inside the headers of every length. */
	n = build(img, 1, 1, 8000, 16, pcm, sizeof(pcm), sizeof(pcm));
	for (size_t cut = 0; cut < 54; cut++)
		assert_int_not_equal(wav_parse(&w, img, cut, err, sizeof(err)), 0);
	assert_int_equal(wav_parse(&w, img, n, err, sizeof(err)), 0);
	wav_free(&w);
}

static void test_save_load_round_trip(void **state)
{
	int16_t pcm[160];
	char path[] = "/tmp/trunx-wav-XXXXXX";
	int fd = mkstemp(path);
	struct wav w;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (int i = 0; i < 160; i++)
		pcm[i] = (int16_t)(i * 200 - 16000);
	assert_int_equal(wav_save(path, pcm, 160, 8000), 0);
	assert_int_equal(wav_load(&w, path, NULL, 0), 0);
	unlink(path);
	assert_int_equal(w.count, 160);
	assert_memory_equal(w.samples, pcm, sizeof(pcm));
	wav_free(&w);
	assert_int_equal(wav_load(&w, "/nonexistent/x.wav", NULL, 0), ENOENT);
}

static void test_g711_round_trip(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		/* Every code decodes to a value that encodes back to itself,
		 * except mu-law's negative zero (0x7f) which maps to positive zero. */
		uint8_t u = (uint8_t)c;
		if (u != 0x7f)
			assert_int_equal(g711_ulaw_encode(g711_ulaw_decode(u)), u);
		assert_int_equal(g711_alaw_encode(g711_alaw_decode(u)), u);
	}
	/* Quantisation error stays within the segment step. */
	for (int s = -32768; s < 32768; s += 7) {
		int du = g711_ulaw_decode(g711_ulaw_encode((int16_t)s)) - s;
		int da = g711_alaw_decode(g711_alaw_encode((int16_t)s)) - s;
		int mag = abs(s);
		assert_true(abs(du) <= (mag < 32635 ? mag / 16 + 16 : 1200));
		assert_true(abs(da) <= mag / 16 + 16);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcm16_stereo_first_channel),
		cmocka_unit_test(test_ulaw_decoded),
		cmocka_unit_test(test_data_past_end_clipped),
		cmocka_unit_test(test_refusals_with_reason),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_g711_round_trip),
	};
	return cmocka_run_group_tests_name("wav", tests, NULL, NULL);
}
