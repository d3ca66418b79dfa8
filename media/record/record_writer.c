/*
 * record_writer.c — the engine's recording writer thread (see record.h): it creates
 * each recording's file, drains the rings every REC_WRITER_MS into it, and finishes
 * the WAV header when the worker is done with the recording. The only media thread
 * that touches the disk. A recording is written as PATH.part and renamed to PATH once
 * its header is final, so a file at PATH is always a whole WAV (call.record, sent when
 * the worker lets go, can come a moment before it appears).
 *
 * New recorders arrive on a list guarded by a mutex held only to link or take them
 * (never during I/O), so the owner thread never waits on the disk.
 */
#include "record.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define REC_WRITER_MS 40
#define WAV_HDR 44

struct rec_writer {
	pthread_t        thread;
	pthread_mutex_t  lock;
	pthread_cond_t   cond;
	bool             stop;          /* guarded by lock */
	struct recorder *incoming;      /* guarded by lock */
	struct recorder *active;        /* writer thread only */
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The 44-byte header of a stereo 16-bit 8 kHz PCM file of `frames` frames. */
static void wav_header(uint8_t h[WAV_HDR], uint64_t frames)
{
	uint64_t bytes = frames * 4;
	uint32_t data = bytes > UINT32_MAX - 36 ? UINT32_MAX - 36 : (uint32_t)bytes;

	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + data);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, 1);
	put16(h + 22, 2);
	put32(h + 24, REC_RATE);
	put32(h + 28, REC_RATE * 4);
	put16(h + 32, 4);
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, data);
}

static void fail(struct recorder *r, const char *what)
{
	if (!r->failed)
		log_msg(LOG_ERROR, "media.record", "%s: %s: %s", r->path, what, strerror(errno));
	r->failed = true;
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}

static void put_frames(void *arg, const int16_t (*fr)[2], size_t n)
{
	struct recorder *r = arg;
	uint8_t buf[REC_CHUNK * 4];

	if (r->failed)
		return;
	while (n) {
		size_t k = n > REC_CHUNK ? REC_CHUNK : n;

		for (size_t i = 0; i < k; i++) {
			put16(buf + 4 * i, fr ? (uint16_t)fr[i][0] : 0);
			put16(buf + 4 * i + 2, fr ? (uint16_t)fr[i][1] : 0);
		}
		if (fwrite(buf, 4, k, r->f) != k) {
			fail(r, "write");
			return;
		}
		r->written += k;
		if (fr)
			fr += k;
		n -= k;
	}
}

#define PART_MAX (REC_PATH_MAX + sizeof(REC_PART_SUFFIX))

static void part_path(const struct recorder *r, char out[PART_MAX])
{
	snprintf(out, PART_MAX, "%s%s", r->path, REC_PART_SUFFIX);
}

static void open_file(struct recorder *r)
{
	uint8_t h[WAV_HDR];
	char part[PART_MAX];

	part_path(r, part);
	r->f = fopen(part, "wb");
	if (!r->f) {
		fail(r, "cannot create");
		return;
	}
	wav_header(h, 0);
	if (fwrite(h, 1, WAV_HDR, r->f) != WAV_HDR)
		fail(r, "write");
}

static void close_file(struct recorder *r)
{
	uint8_t h[WAV_HDR];
	char part[PART_MAX];

	if (r->failed || !r->f)
		return;
	wav_header(h, r->written);
	if (fflush(r->f) || fseek(r->f, 0, SEEK_SET) || fwrite(h, 1, WAV_HDR, r->f) != WAV_HDR) {
		fail(r, "write header");
		return;
	}
	/* On the disk before the rename shows it: a crash or power loss after the rename
	 * must not leave a whole-looking WAV of zeros. (The rings hold 5 s of audio, so
	 * the other recordings wait for this without loss.) */
	if (fflush(r->f) || fdatasync(fileno(r->f))) {
		fail(r, "sync");
		return;
	}
	if (fclose(r->f)) {
		r->f = NULL;
		fail(r, "close");
		return;
	}
	r->f = NULL;
	part_path(r, part);
	if (rename(part, r->path) != 0)
		fail(r, "rename");
}

/* One pass over the recordings; finished ones are closed and freed. */
static void serve(struct rec_writer *w)
{
	struct recorder **pp = &w->active;

	while (*pp) {
		struct recorder *r = *pp;

		if (!r->f && !r->failed)
			open_file(r);
		if (!rec_drain(r, put_frames, r)) {
			pp = &r->wnext;
			continue;
		}
		close_file(r);
		*pp = r->wnext;
		rec_destroy(r);
	}
}

static void *writer_main(void *arg)
{
	struct rec_writer *w = arg;
	bool stop = false;

	pthread_setname_np(pthread_self(), "media-rec");
	while (!stop || w->active) {
		struct timespec ts;

		pthread_mutex_lock(&w->lock);
		if (!w->active && !w->incoming && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		while (w->incoming) {
			struct recorder *r = w->incoming;

			w->incoming = r->wnext;
			r->wnext = w->active;
			w->active = r;
		}
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		serve(w);
		if (w->active && !stop) {
			ts.tv_sec = 0;
			ts.tv_nsec = REC_WRITER_MS * 1000000L;
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int rec_writer_create(struct rec_writer **wp)
{
	struct rec_writer *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = pthread_create(&w->thread, NULL, writer_main, w);
	if (err) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return err;
	}
	*wp = w;
	return 0;
}

void rec_writer_add(struct rec_writer *w, struct recorder *r)
{
	pthread_mutex_lock(&w->lock);
	r->wnext = w->incoming;
	w->incoming = r;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void rec_writer_destroy(struct rec_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
