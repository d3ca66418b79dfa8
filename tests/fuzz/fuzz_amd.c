/*
 * fuzz_amd.c — the AMD parameter parser and the detector (with its tone detector)
 * on arbitrary input. Bytes before the first NUL are "name=value" settings
 * separated by ';' or newlines, given to amd_param_set(); the rest is 16-bit audio,
 * repeated to fill 2 s and fed in blocks of a size taken from the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "amd.h"

#define AUDIO_SAMPLES 16000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(const struct amd_event *ev, void *arg)
{
	(void)ev;
	(*(unsigned *)arg)++;
}

static void apply_settings(struct amd_params *p, const char *text)
{
	char buf[512], *save = NULL, *kv;

	strncpy(buf, text, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (kv = strtok_r(buf, ";\n", &save); kv; kv = strtok_r(NULL, ";\n", &save)) {
		char *eq = strchr(kv, '=');

		if (eq) {
			*eq = '\0';
			(void)amd_param_set(p, kv, eq + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int16_t audio[AUDIO_SAMPLES];
	const uint8_t *nul = memchr(data, 0, size), *pcm;
	size_t text_len = nul ? (size_t)(nul - data) : 0, skip = nul ? text_len + 1 : 0;
	size_t n, block;
	char text[512], desc[1024];
	struct amd_params p;
	struct amd *amd;
	unsigned events = 0;

	amd_params_init(&p, AMD_STRATEGY_ADAPTIVE);
	if (text_len >= sizeof(text))
		text_len = sizeof(text) - 1;
	memcpy(text, data, text_len);
	text[text_len] = '\0';
	apply_settings(&p, text);
	/* The phrase spotter loads a 30 MB model per detector and is a library of its
	 * own: its parameters are parsed here, the recogniser is not fuzzed. */
	p.phrases = false;
	amd_params_str(&p, desc, sizeof(desc));

	pcm = data + skip;
	n = (size - skip) / 2;
	if (!n)
		return 0;
	for (size_t i = 0; i < AUDIO_SAMPLES; i++) {
		size_t j = (i % n) * 2;

		audio[i] = (int16_t)(pcm[j] | (pcm[j + 1] << 8));
	}
	block = 1 + pcm[0] % 200;
	if (amd_create(&amd, &p, on_event, &events))
		return 0;
	for (size_t i = 0; i < AUDIO_SAMPLES && !amd_done(amd); i += block)
		amd_process(amd, audio + i, AUDIO_SAMPLES - i < block ? AUDIO_SAMPLES - i : block);
	amd_finish(amd);
	amd_destroy(amd);
	return 0;
}
