/*
 * wav.h — reads RIFF/WAVE audio into 16-bit linear samples.
 *
 * Parsing works on a memory buffer (wav_parse) so tests and the fuzzer need no files;
 * wav_load() reads a file and parses it. Accepted: PCM 16-bit (format 1, or
 * WAVE_FORMAT_EXTENSIBLE with the PCM sub-format), G.711 mu-law (7) and A-law (6),
 * any channel count (the first channel is kept), any sample rate (reported, never
 * converted: callers that need 8 kHz check wav->rate and refuse other rates).
 * Anything else is refused with a reason.
 */
#ifndef TRUNX_WAV_H
#define TRUNX_WAV_H

#include <stddef.h>
#include <stdint.h>

struct wav {
	int16_t *samples;   /**< first channel, linear 16-bit; owned, free with wav_free() */
	size_t   count;     /**< samples in the first channel */
	uint32_t rate;      /**< samples per second */
	uint16_t channels;  /**< channels in the file (only the first is kept) */
	uint16_t format;    /**< 1 PCM, 6 A-law, 7 mu-law */
};

/**
 * Parses a WAV image.
 * @param wav    receives the audio (zeroed on error)
 * @param data   file contents
 * @param len    bytes in data
 * @param err    receives a human-readable reason on error (may be NULL)
 * @param errlen size of err
 * @return 0, EINVAL (not a WAV file or malformed), ENOTSUP (unsupported encoding),
 *         ENOMEM
 */
int wav_parse(struct wav *wav, const uint8_t *data, size_t len, char *err, size_t errlen);

/** Reads and parses a file; errors as wav_parse() plus the errno of the read. */
int wav_load(struct wav *wav, const char *path, char *err, size_t errlen);

/**
 * Writes 16-bit mono PCM samples as a WAV file. Returns 0 or an errno value.
 */
int wav_save(const char *path, const int16_t *samples, size_t count, uint32_t rate);

void wav_free(struct wav *wav);

#endif
