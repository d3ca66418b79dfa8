/*
 * record.h — a call recording: the worker places each leg's decoded audio by its RTP
 * timestamps into a short stereo staging window, and what leaves the window goes
 * through a single-producer single-consumer ring of 20 ms chunks to the engine's
 * writer thread (record_writer.c), which writes the WAV file. Private to media/.
 *
 * Threads: rec_create() on the owner thread; rec_put()/rec_finish() on the session's
 * worker only (no lock, no allocation); rec_drain()/rec_destroy() on the writer.
 * A full ring never blocks the worker: the frames it could not take are counted and
 * the writer writes that much silence in their place, so the file keeps its length.
 */
#ifndef TRUNX_RECORD_H
#define TRUNX_RECORD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REC_RATE    8000
#define REC_CHUNK   160     /**< stereo frames per chunk (20 ms) */
#define REC_RING    256     /**< chunks in the ring (5.1 s of audio) */
#define REC_STAGE   3200    /**< frames in the staging window (400 ms of reordering) */
#define REC_REANCHOR 8000   /**< a leg whose timestamps stray this far (frames) from its
			         arrival times starts over where it arrives */
#define REC_PATH_MAX 512
#define REC_PART_SUFFIX ".part"   /* the file's name while it is written */

struct rec_chunk {
	uint32_t silence_before;   /**< frames of silence to write before these */
	uint16_t n;                /**< frames in s */
	int16_t  s[REC_CHUNK][2];
};

struct rec_chan {
	bool     anchored;
	uint32_t ts0;              /**< RTP timestamp at pos0 */
	uint32_t clock_hz;
	int64_t  pos0;             /**< frame of the recording where ts0 falls */
	int64_t  first, end;       /**< the span placed since the anchor */
};

#define REC_EARLY 80   /**< a packet this much (frames) earlier than its place moves
			    the leg's audio earlier: its first packets were delayed */

struct recorder {
	char     path[REC_PATH_MAX];

	/* Worker side. */
	bool     started;          /**< the first packet set t0 */
	uint64_t t0_us;            /**< arrival of the first packet: frame 0 */
	struct rec_chan ch[2];
	int64_t  commit;           /**< frames handed to the ring (or counted as overflow) */
	int64_t  hi;               /**< end of the audio placed so far */
	uint32_t pending_silence;  /**< frames lost to a full ring, for the next chunk */
	uint64_t late;             /**< packets older than the window (dropped) */
	uint64_t overflow;         /**< frames the ring could not take */
	int16_t  stage[REC_STAGE][2];

	/* The ring: head written by the worker, tail by the writer. */
	_Atomic uint32_t head, tail;
	_Atomic bool     done;     /**< the worker finished; total_frames is final */
	uint32_t         tail_silence; /**< overflow after the last chunk (set before done) */
	uint64_t         total_frames;
	struct rec_chunk ring[REC_RING];

	/* Writer side. */
	FILE    *f;
	bool     failed;           /**< the file could not be written: drained, not kept */
	uint64_t written;          /**< frames in the file */
	struct recorder *wnext;
};

/** Allocates a recorder for path. Owner thread. @return 0, EINVAL, ENAMETOOLONG, ENOMEM */
int rec_create(struct recorder **rp, const char *path);

/**
 * Places n samples that leg ch sent (RTP timestamp ts at clock_hz, arrived at now_us).
 * Worker only.
 */
void rec_put(struct recorder *r, unsigned ch, uint32_t ts, uint32_t clock_hz,
	     const int16_t *pcm, size_t n, uint64_t now_us);

/** A leg's source changed: its next packet is placed by its arrival time. */
void rec_new_source(struct recorder *r, unsigned ch);

/**
 * Hands everything left to the writer and marks the end; the recorder belongs to the
 * writer from then on (it may be freed at once). Worker; once.
 * @param frames, late, overflow  receive the final counts (each may be NULL)
 */
void rec_finish(struct recorder *r, uint64_t *frames, uint64_t *late, uint64_t *overflow);

/**
 * Writer: takes the chunks ready in the ring, calling put(arg, frames, n) for audio
 * and put(arg, NULL, n) for n frames of silence.
 * @return true once the recording is finished and fully drained
 */
bool rec_drain(struct recorder *r, void (*put)(void *arg, const int16_t (*fr)[2], size_t n),
	       void *arg);

void rec_destroy(struct recorder *r);

/* The engine's writer thread (record_writer.c). */
struct rec_writer;

/** Starts the writer thread. @return 0, ENOMEM, or the pthread_create() error */
int rec_writer_create(struct rec_writer **wp);

/** Hands a recorder to the writer (any thread; a short lock, no I/O under it). */
void rec_writer_add(struct rec_writer *w, struct recorder *r);

/** Finishes every recording it holds (their workers must be gone) and joins. */
void rec_writer_destroy(struct rec_writer *w);

#endif
