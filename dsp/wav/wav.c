/*
 * wav.c — RIFF/WAVE reader and a minimal writer (see wav.h).
 *
 * The reader walks the chunk list with every length checked against the bytes that
 * remain, so a truncated or lying file yields EINVAL and a reason, never a read past
 * the buffer. A data chunk whose length runs past the end of the file is clipped
 * to what is there (common in files written by streaming recorders).
 */
#include "wav.h"
#include "g711.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAV_FMT_PCM        1
#define WAV_FMT_ALAW       6
#define WAV_FMT_ULAW       7
#define WAV_FMT_EXTENSIBLE 0xfffe
#define WAV_MAX_FILE       (512u * 1024 * 1024)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

struct wav_fmt {
	uint16_t format;
	uint16_t channels;
	uint32_t rate;
	uint16_t block_align;
	uint16_t bits;
};

static int parse_fmt(struct wav_fmt *f, const uint8_t *p, uint32_t len,
		     char *err, size_t errlen)
{
	if (len < 16)
		return fail(err, errlen, EINVAL, "fmt chunk too short (%u bytes)", len);
	f->format = rd16(p);
	f->channels = rd16(p + 2);
	f->rate = rd32(p + 4);
	f->block_align = rd16(p + 12);
	f->bits = rd16(p + 14);
	if (f->format == WAV_FMT_EXTENSIBLE) {
		if (len < 40)
			return fail(err, errlen, EINVAL, "extensible fmt chunk too short");
		/* The sub-format GUID starts with the plain format code. */
		f->format = rd16(p + 24);
	}
	if (f->channels == 0)
		return fail(err, errlen, EINVAL, "zero channels");
	if (f->rate == 0)
		return fail(err, errlen, EINVAL, "zero sample rate");
	switch (f->format) {
	case WAV_FMT_PCM:
		if (f->bits != 16)
			return fail(err, errlen, ENOTSUP,
				    "unsupported PCM sample size %u bits (need 16)", f->bits);
		break;
	case WAV_FMT_ALAW:
	case WAV_FMT_ULAW:
		if (f->bits != 8)
			return fail(err, errlen, ENOTSUP, "G.711 with %u bits per sample",
				    f->bits);
		break;
	default:
		return fail(err, errlen, ENOTSUP, "unsupported encoding (format tag %u)",
			    f->format);
	}
	if (f->block_align != f->channels * (f->bits / 8))
		return fail(err, errlen, EINVAL, "block align %u does not match %u channels",
			    f->block_align, f->channels);
	return 0;
}

int wav_parse(struct wav *wav, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	struct wav_fmt fmt = {0};
	bool have_fmt = false;
	const uint8_t *pcm = NULL;
	size_t pcm_len = 0;
	size_t off = 12;
	int e;

	if (!wav || (!data && len))
		return EINVAL;
	memset(wav, 0, sizeof(*wav));
	if (len < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WAVE", 4) != 0)
		return fail(err, errlen, EINVAL, "not a RIFF/WAVE file");

	while (off + 8 <= len) {
		const uint8_t *ck = data + off;
		uint32_t cklen = rd32(ck + 4);
		size_t avail = len - off - 8;

		if (memcmp(ck, "fmt ", 4) == 0) {
			if (cklen > avail)
				return fail(err, errlen, EINVAL, "fmt chunk runs past end of file");
			e = parse_fmt(&fmt, ck + 8, cklen, err, errlen);
			if (e)
				return e;
			have_fmt = true;
		} else if (memcmp(ck, "data", 4) == 0) {
			pcm = ck + 8;
			pcm_len = cklen < avail ? cklen : avail;
			break;
		}
		if (cklen > avail)
			break;
		off += 8 + (size_t)cklen + (cklen & 1);
	}
	if (!have_fmt)
		return fail(err, errlen, EINVAL, "no fmt chunk before the audio");
	if (!pcm)
		return fail(err, errlen, EINVAL, "no data chunk");

	wav->rate = fmt.rate;
	wav->channels = fmt.channels;
	wav->format = fmt.format;
	wav->count = pcm_len / fmt.block_align;
	wav->samples = malloc((wav->count ? wav->count : 1) * sizeof(int16_t));
	if (!wav->samples)
		return fail(err, errlen, ENOMEM, "out of memory for %zu samples", wav->count);
	for (size_t i = 0; i < wav->count; i++) {
		const uint8_t *s = pcm + i * fmt.block_align;
		switch (fmt.format) {
		case WAV_FMT_PCM:
			wav->samples[i] = (int16_t)rd16(s);
			break;
		case WAV_FMT_ALAW:
			wav->samples[i] = g711_alaw_decode(s[0]);
			break;
		default:
			wav->samples[i] = g711_ulaw_decode(s[0]);
			break;
		}
	}
	return 0;
}

int wav_load(struct wav *wav, const char *path, char *err, size_t errlen)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int e;

	if (!wav || !path)
		return EINVAL;
	memset(wav, 0, sizeof(*wav));
	f = fopen(path, "rb");
	if (!f) {
		e = errno;
		return fail(err, errlen, e, "%s: %s", path, strerror(e));
	}
	for (;;) {
		size_t n;
		if (len == cap) {
			uint8_t *nb;
			if (cap >= WAV_MAX_FILE) {
				free(buf);
				fclose(f);
				return fail(err, errlen, EFBIG, "%s: larger than %u bytes", path,
					    WAV_MAX_FILE);
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return fail(err, errlen, ENOMEM, "out of memory");
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		e = errno ? errno : EIO;
		free(buf);
		fclose(f);
		return fail(err, errlen, e, "%s: read error", path);
	}
	fclose(f);
	e = wav_parse(wav, buf, len, err, errlen);
	free(buf);
	return e;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}

int wav_save(const char *path, const int16_t *samples, size_t count, uint32_t rate)
{
	uint8_t hdr[44];
	uint32_t bytes;
	FILE *f;
	int e = 0;

	if (!path || (!samples && count) || count > (UINT32_MAX - 44) / 2)
		return EINVAL;
	bytes = (uint32_t)(count * 2);
	memcpy(hdr, "RIFF", 4);
	wr32(hdr + 4, 36 + bytes);
	memcpy(hdr + 8, "WAVEfmt ", 8);
	wr32(hdr + 16, 16);
	wr16(hdr + 20, WAV_FMT_PCM);
	wr16(hdr + 22, 1);
	wr32(hdr + 24, rate);
	wr32(hdr + 28, rate * 2);
	wr16(hdr + 32, 2);
	wr16(hdr + 34, 16);
	memcpy(hdr + 36, "data", 4);
	wr32(hdr + 40, bytes);
	f = fopen(path, "wb");
	if (!f)
		return errno;
	if (fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
		e = EIO;
	for (size_t i = 0; !e && i < count; i++) {
		uint8_t s[2];
		wr16(s, (uint16_t)samples[i]);
		if (fwrite(s, 1, 2, f) != 2)
			e = EIO;
	}
	if (fclose(f) != 0 && !e)
		e = errno;
	return e;
}

void wav_free(struct wav *wav)
{
	if (!wav)
		return;
	free(wav->samples);
	memset(wav, 0, sizeof(*wav));
}
