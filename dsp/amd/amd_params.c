/*
 * amd_params.c — the AMD parameter table: defaults per strategy, setting by name
 * (configuration files, the trunx-amd command line), printing.
 *
 * The first nine names are app_amd's amd.conf keys with the same meaning, so an
 * operator's tuning carries over. The classic strategy's defaults are those of the
 * amd.conf shipped with Asterisk; the adaptive ones were tuned on the generated
 * corpus (see docs/PERFORMANCE.md).
 */
#include "amd_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef AMD_PHRASE_MODEL
#define AMD_PHRASE_MODEL "/usr/share/pocketsphinx/model/en-us"
#endif

enum ptype { P_MS, P_COUNT, P_DB, P_BOOL, P_PATH };

struct pdesc {
	const char *name;
	enum ptype  type;
	size_t      off;
	double      min, max;
};

#define F(name, type, min, max) \
	{ #name, type, offsetof(struct amd_params, name), min, max }

static const struct pdesc table[] = {
	F(initial_silence,         P_MS,    0, 600000),
	F(greeting,                P_MS,    0, 600000),
	F(after_greeting_silence,  P_MS,    0, 600000),
	F(total_analysis_time,     P_MS,   20, 600000),
	F(min_word_length,         P_MS,   20, 600000),
	F(between_words_silence,   P_MS,    0, 600000),
	F(maximum_number_of_words, P_COUNT, 0, 1000),
	F(silence_threshold,       P_COUNT, 0, 32767),
	F(maximum_word_length,     P_MS,    0, 600000),
	F(speech_margin_db,        P_DB,    0, 60),
	F(question_silence,        P_MS,   20, 600000),
	F(answer_silence,          P_MS,   20, 600000),
	F(sentence_greeting,       P_MS,    0, 600000),
	F(sentence_phrase,         P_MS,    0, 600000),
	F(statement_greeting,      P_MS,    0, 600000),
	F(message_end,             P_BOOL,  0, 1),
	F(message_silence,         P_MS,   20, 600000),
	F(tones,                   P_BOOL,  0, 1),
	F(beep,                    P_BOOL,  0, 1),
	F(beep_wait,               P_MS,    0, 3600000),
	F(trace,                   P_BOOL,  0, 1),
	F(provisional,             P_BOOL,  0, 1),
	F(phrases,                 P_BOOL,  0, 1),
	F(phrase_threshold,        P_DB,    1, 60),
	F(phrase_model,            P_PATH,  1, AMD_PATH_MAX - 1),
};

#undef F

void amd_params_init(struct amd_params *p, enum amd_strategy s)
{
	memset(p, 0, sizeof(*p));
	p->strategy = s;
	p->initial_silence = 2500;
	p->after_greeting_silence = 800;
	p->total_analysis_time = 5000;
	p->min_word_length = 100;
	p->maximum_word_length = 5000;
	p->beep_wait = 30000;
	p->question_silence = 1100;
	p->answer_silence = 2000;
	p->sentence_greeting = 2400;
	p->message_silence = 2500;
	p->phrase_threshold = 20.0f;
	snprintf(p->phrase_model, sizeof(p->phrase_model), "%s", AMD_PHRASE_MODEL);
	if (s == AMD_STRATEGY_CLASSIC) {
		p->greeting = 1500;
		p->between_words_silence = 50;
		p->maximum_number_of_words = 2;
		p->silence_threshold = 256;
		return;
	}
	p->greeting = 4800;
	p->after_greeting_silence = 1200;
	p->total_analysis_time = 7000;
	p->between_words_silence = 150;
	p->maximum_number_of_words = 0;
	p->silence_threshold = 24;
	p->speech_margin_db = 5.0f;
	p->tones = true;
	p->beep = true;
}

int amd_param_set(struct amd_params *p, const char *name, const char *value)
{
	char *end;
	double v;

	if (!p || !name || !value)
		return EINVAL;
	if (!strcmp(name, "strategy")) {
		if (!strcmp(value, "adaptive"))
			amd_params_init(p, AMD_STRATEGY_ADAPTIVE);
		else if (!strcmp(value, "classic"))
			amd_params_init(p, AMD_STRATEGY_CLASSIC);
		else
			return EINVAL;
		return 0;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct pdesc *d = &table[i];
		char *field = (char *)p + d->off;

		if (strcmp(name, d->name))
			continue;
		if (d->type == P_PATH) {
			size_t n = strlen(value);

			/* a path: not empty, bounded, no control characters */
			if (n < d->min || n > d->max)
				return EINVAL;
			for (size_t k = 0; k < n; k++)
				if ((unsigned char)value[k] < 0x20 || value[k] == 0x7f)
					return EINVAL;
			memcpy(field, value, n + 1);
			return 0;
		}
		v = strtod(value, &end);
		if (end == value || *end || v < d->min || v > d->max)
			return EINVAL;
		if (d->type != P_DB && v != (double)(uint32_t)v)
			return EINVAL;
		switch (d->type) {
		case P_MS:
		case P_COUNT:
			*(uint32_t *)(void *)field = (uint32_t)v;
			break;
		case P_DB:
			*(float *)(void *)field = (float)v;
			break;
		case P_BOOL:
			*(bool *)(void *)field = v != 0;
			break;
		case P_PATH:
			break;
		}
		return 0;
	}
	return EINVAL;
}

const char *amd_params_str(const struct amd_params *p, char *buf, size_t len)
{
	size_t o;

	if (!buf || !len)
		return buf;
	o = (size_t)snprintf(buf, len, "strategy=%s",
			     p->strategy == AMD_STRATEGY_CLASSIC ? "classic" : "adaptive");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && o < len; i++) {
		const struct pdesc *d = &table[i];
		const char *field = (const char *)p + d->off;

		switch (d->type) {
		case P_MS:
		case P_COUNT:
			o += (size_t)snprintf(buf + o, len - o, " %s=%u", d->name,
					      *(const uint32_t *)(const void *)field);
			break;
		case P_DB:
			o += (size_t)snprintf(buf + o, len - o, " %s=%g", d->name,
					      (double)*(const float *)(const void *)field);
			break;
		case P_BOOL:
			o += (size_t)snprintf(buf + o, len - o, " %s=%d", d->name,
					      *(const bool *)(const void *)field);
			break;
		case P_PATH:
			o += (size_t)snprintf(buf + o, len - o, " %s=%s", d->name, field);
			break;
		}
	}
	return buf;
}
