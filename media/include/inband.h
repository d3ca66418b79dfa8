/*
 * inband.h — in-band DTMF on a G.711 stream, or on 8 kHz linear audio (a decoded Opus
 * stream): digits detected (dsp/ detector) and the tones removed from the audio that
 * is forwarded, frame by frame, in place.
 *
 * DESIGN
 * The detector confirms a digit 35-40 ms after its tone starts; waiting for it would
 * let the first two 20 ms frames of every tone through (the far side would hear the
 * leading tone and could take it as a second digit). So every frame is also looked at
 * on its own: eight Goertzel filters at the DTMF frequencies measure how much of the
 * frame's energy sits in one low-group and one high-group tone, and a frame that is
 * nearly all DTMF (purity, level and twist as a detector would ask) is replaced by
 * G.711 silence at once, without delaying the stream. Frames stay muted while the
 * detector holds a digit and for a short hang-over after it ends, which covers the
 * tone's tail. Speech is broadband and rarely passes the per-frame test; when it does,
 * one 20 ms frame is muted and nothing is reported (only the detector reports
 * digits). Nothing is allocated after create.
 */
#ifndef TRUNX_INBAND_H
#define TRUNX_INBAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum inband_law {
	INBAND_PCMU = 0,
	INBAND_PCMA = 1,
	INBAND_PCM  = 2,   /**< 8 kHz 16-bit linear (inband_process_pcm only) */
};

enum inband_note_type { INBAND_BEGIN = 1, INBAND_END };

/** A digit's begin or end, as the detector reported it. */
struct inband_note {
	enum inband_note_type type;
	char     digit;         /**< '0'-'9' '*' '#' 'A'-'D' */
	uint64_t start;         /**< first sample of the tone (8 kHz, from create) */
	uint32_t duration_ms;   /**< END: length of the tone */
};

#define INBAND_NOTES_MAX 4      /**< notes one call to inband_process() can give */
#define INBAND_HANGOVER  2      /**< frames kept muted after a digit ends */

struct inband;

/** @return 0, EINVAL, ENOMEM */
int inband_create(struct inband **ibp, enum inband_law law);

void inband_destroy(struct inband *ib);

/** Forgets the current digit and the sample count (a new source). */
void inband_reset(struct inband *ib);

/**
 * Takes one G.711 frame: detects, and mutes it in place when it carries DTMF.
 * @param notes  receives up to INBAND_NOTES_MAX notes
 * @param muted  set when the frame was replaced by silence (may be NULL)
 * @return the number of notes written
 */
size_t inband_process(struct inband *ib, uint8_t *payload, size_t len,
		      struct inband_note notes[INBAND_NOTES_MAX], bool *muted);

/**
 * The same on 8 kHz linear audio (any length; a decoded Opus packet or a transcoder's
 * frame): a frame carrying DTMF is zeroed in place.
 */
size_t inband_process_pcm(struct inband *ib, int16_t *pcm, size_t n,
			  struct inband_note notes[INBAND_NOTES_MAX], bool *muted);

/** True while the detector holds a digit: begun, not yet ended. */
bool inband_holding(const struct inband *ib);

/** Frames muted so far (statistics and tests). */
uint64_t inband_muted_frames(const struct inband *ib);

#endif
