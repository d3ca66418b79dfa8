/*
 * media_feat.h — what a media session can do besides bridging: play a prompt into a
 * leg, record the call to a WAV file, and run answering-machine detection on a leg.
 *
 * DESIGN
 * Every request is built off the media threads and handed to the session's worker
 * with everything it needs already allocated: a prompt is decoded and converted to
 * 8 kHz by media_prompt_load() on a thread that may wait on disk (the control
 * thread); a recorder is created by the owner thread and its file is opened and
 * written by the engine's writer thread; a detector is created by the caller. The
 * worker only moves samples: it decodes what a leg sends (G.711 or Opus, gaps by
 * RTP timestamp filled with silence) for the recorder and the detector, and while a
 * prompt plays toward a leg it generates that leg's stream on its clock with the
 * same SSRC, continuing sequence numbers and timestamps, and hands the stream back
 * to the relay (or transcoder) without a jump when the prompt ends.
 *
 * Results come back as MEDIA_EV_FEAT events (media.h) through the engine's event
 * handler, always before the session's MEDIA_EV_CLOSED.
 */
#ifndef TRUNX_MEDIA_FEAT_H
#define TRUNX_MEDIA_FEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media.h"

struct amd_params;

enum media_feat_kind {
	MEDIA_FEAT_PLAY_START = 1,  /**< a prompt started toward `side` */
	MEDIA_FEAT_PLAY_END,        /**< it ended (ms played; stopped early or complete) */
	MEDIA_FEAT_RECORD_END,      /**< the recording ended: duration, frames, losses */
	MEDIA_FEAT_AMD,             /**< the detector's decision on `side` */
	MEDIA_FEAT_BEEP,            /**< after MACHINE: the beep ended at ms */
	MEDIA_FEAT_BEEP_NONE,       /**< after MACHINE: no beep came */
};

#define MEDIA_PROMPT_MAX_S 600      /**< longest prompt accepted, seconds */

/**
 * Reads a WAV prompt (PCM 16-bit mono at 8, 16 or 48 kHz, or G.711 at 8 kHz) and
 * converts it to 8 kHz (low-pass filtered decimation). May wait on disk: never call
 * it on a media or signalling thread.
 * @param pcm  receives the malloc'd samples (caller frees, or hands to play)
 * @param err  receives a human-readable reason on error
 * @return 0, ENOENT/EACCES/... (the file), EINVAL (not a WAV, empty, too long),
 *         ENOTSUP (another rate, channel count or encoding), ENOMEM
 */
int media_prompt_load(const char *path, int16_t **pcm, size_t *n, char *err, size_t errlen);

/** Converts a WAV image already in memory (as media_prompt_load; for tests, fuzzing). */
int media_prompt_parse(const uint8_t *data, size_t len, int16_t **pcm, size_t *n, char *err,
		       size_t errlen);

/**
 * Plays 8 kHz samples to leg `to`, replacing what the other leg sends it (mix: added
 * to it), then gives the leg back to the bridge. A prompt already playing to that leg
 * is replaced. Owner thread; always takes ownership of pcm (freed by the worker, or
 * here on error).
 * @return 0, EINVAL, ENOMEM
 */
int media_session_play(struct media_session *ms, enum media_side to, int16_t *pcm, size_t n,
		       bool mix);

/**
 * Comfort noise toward leg `to` (on) while nothing else is sent to it: low-level noise
 * (about -78 dBov) encoded in the leg's codec, one packet per 20 ms, the leg's stream
 * going on (same SSRC, continuous sequence and timestamps), so that the far end's
 * media timers and NAT bindings hold on a leg nobody speaks to. A prompt replaces it
 * and it takes up again after; no events. Off: the bridge (relay or transcoder) has
 * the leg again. Owner thread.
 * @return 0, EINVAL, ENOMEM
 */
int media_session_fill(struct media_session *ms, enum media_side to, bool on);

/** Stops the prompt playing to leg `to`, if any (PLAY_END follows). Owner thread. */
int media_session_play_stop(struct media_session *ms, enum media_side to);

/**
 * Records both legs to path as a stereo 8 kHz 16-bit WAV (channel 1 = A, 2 = B): what
 * each leg sends, placed by its RTP timestamps, lost packets as silence. The writer
 * thread creates the file (an error is logged as media.record). A recording already
 * running is stopped first. Owner thread.
 * @return 0, EINVAL, ENAMETOOLONG, ENOMEM
 */
int media_session_record(struct media_session *ms, const char *path);

/** Stops the recording (RECORD_END follows). Owner thread. */
int media_session_record_stop(struct media_session *ms);

/**
 * Runs answering-machine detection (dsp/amd.h, the detector trunx-amd runs) on what
 * leg `side` sends from now on (time 0), decoded at 8 kHz with gaps as silence; its
 * decision and the beep come back as events. A detector already running is
 * replaced. The phrase layer is never loaded here (it reads a model from disk).
 * Owner thread.
 * @param p  parameters (NULL: the adaptive defaults)
 * @return 0, EINVAL, ENOMEM
 */
int media_session_amd(struct media_session *ms, enum media_side side,
		      const struct amd_params *p);

#endif
