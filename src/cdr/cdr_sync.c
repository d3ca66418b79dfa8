/*
 * cdr_sync.c — the journal's sync thread (see cdr_sync.h): group commit of queued
 * records, the "durable up to" hand-back to the control thread, and the commits.
 */
#include "cdr/cdr_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

#define RETRY_MS 1000

struct rec {
	struct rec *next;
	char       *text;
	size_t      len;
};

struct cdr_sync {
	struct journal    *j;
	unsigned           gather_ms;
	cdr_sync_ack_h    *ack;
	void              *arg;
	pthread_t          thr;
	bool               started;
	int                efd;
	struct event      *ack_ev;

	pthread_mutex_t    lock;        /**< guards everything below */
	pthread_cond_t     cond;
	struct rec        *head, *tail; /**< queued, in order */
	uint64_t           first_at;    /**< when the oldest queued record came (ms) */
	uint64_t           submitted;
	bool               flush, stop;
	bool               commit_set;
	struct journal_pos commit;      /**< asked by the control thread, not yet done */
	uint64_t           durable_n;   /**< records made durable, running count */
	uint64_t           dropped_n;
	struct journal_pos durable;     /**< the journal's head after the last sync */
	/* The control thread's side: what it has been told. */
	uint64_t           told_n, told_dropped;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void deadline(struct timespec *ts, uint64_t at_ms)
{
	ts->tv_sec = (time_t)(at_ms / 1000);
	ts->tv_nsec = (long)(at_ms % 1000) * 1000000;
}

/* ---- the control thread's side ---- */

static void on_ack(evutil_socket_t fd, short what, void *arg)
{
	struct cdr_sync *s = arg;
	struct journal_pos pos;
	uint64_t v, n, dropped;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&s->lock);
	n = s->durable_n - s->told_n;
	dropped = s->dropped_n - s->told_dropped;
	pos = s->durable;
	s->told_n += n;
	s->told_dropped += dropped;
	pthread_mutex_unlock(&s->lock);
	s->ack(n, dropped, &pos, s->arg);
}

/* ---- the thread ---- */

/* Takes out records the journal would refuse (it refuses a whole batch for one). */
static uint64_t drop_invalid(struct rec **list)
{
	uint64_t n = 0;

	for (struct rec **pp = list; *pp;) {
		struct rec *r = *pp;

		if (r->len && r->len <= JOURNAL_REC_MAX) {
			pp = &r->next;
			continue;
		}
		log_msg(LOG_ERROR, "cdr.lost", "a record of %zu bytes cannot be journaled "
			"(limit %u): %.200s", r->len, JOURNAL_REC_MAX, r->text ? r->text : "");
		*pp = r->next;
		free(r->text);
		free(r);
		n++;
	}
	return n;
}

/* One append of the list; 0, or the errno (the list is then still the caller's). */
static int write_list(struct cdr_sync *s, struct rec *list, size_t n)
{
	const char **texts = malloc(n * sizeof(*texts));
	size_t *lens = malloc(n * sizeof(*lens)), k = 0;
	int err;

	if (!texts || !lens) {
		free(texts);
		free(lens);
		return ENOMEM;
	}
	for (struct rec *r = list; r; r = r->next) {
		texts[k] = r->text;
		lens[k++] = r->len;
	}
	err = journal_append(s->j, texts, lens, n);
	free(texts);
	free(lens);
	return err;
}

static void free_list(struct rec *list)
{
	while (list) {
		struct rec *r = list;

		list = r->next;
		free(r->text);
		free(r);
	}
}

static void *run(void *arg)
{
	struct cdr_sync *s = arg;
	uint64_t retry_at = 0, one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		uint64_t now = now_ms(), due = 0, dropped, n = 0;
		struct rec *list;
		int err;

		if (s->commit_set) {
			struct journal_pos pos = s->commit;

			s->commit_set = false;
			pthread_mutex_unlock(&s->lock);
			journal_commit(s->j, &pos);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (s->head && !s->stop) {
			due = s->flush ? now : s->first_at + s->gather_ms;
			if (retry_at > due)
				due = retry_at;
		}
		if (!s->head && s->stop)
			break;
		if (!s->head || (!s->stop && due > now)) {
			if (s->head) {
				struct timespec ts;

				clock_gettime(CLOCK_MONOTONIC, &ts);
				deadline(&ts, due - now + (uint64_t)ts.tv_sec * 1000 +
					 (uint64_t)ts.tv_nsec / 1000000);
				pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			} else {
				s->flush = false;
				pthread_cond_wait(&s->cond, &s->lock);
			}
			continue;
		}
		list = s->head;
		s->head = s->tail = NULL;
		pthread_mutex_unlock(&s->lock);

		dropped = drop_invalid(&list);
		for (struct rec *r = list; r; r = r->next)
			n++;
		err = n ? write_list(s, list, n) : 0;

		pthread_mutex_lock(&s->lock);
		if (err) {
			struct rec *last = list;

			log_msg(LOG_ERROR, "cdr.journal", "cannot write %llu records to the journal: "
				"%s; kept in memory, retrying", (unsigned long long)n, strerror(err));
			while (last->next)
				last = last->next;
			last->next = s->head;   /* back in front, in order */
			if (!s->head)
				s->tail = last;
			s->head = list;
			s->first_at = now;
			retry_at = now_ms() + RETRY_MS;
			if (s->stop) {
				/* Stopping and the disk refuses: nothing more can be done. */
				log_msg(LOG_ERROR, "cdr.lost", "stopping: %llu records could not be "
					"journaled", (unsigned long long)n);
				list = s->head;
				s->head = s->tail = NULL;
				pthread_mutex_unlock(&s->lock);
				free_list(list);
				pthread_mutex_lock(&s->lock);
			}
			if (!dropped)
				continue;
		} else {
			free_list(list);
			retry_at = 0;
			s->durable = journal_head(s->j);
			s->durable_n += n;
		}
		s->dropped_n += dropped;
		if (s->head)
			s->first_at = now;   /* came while we wrote: no more waiting than that */
		pthread_mutex_unlock(&s->lock);
		while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&s->lock);
	}
	/* The last commit asked for, so that a clean stop leaves no committed segment. */
	if (s->commit_set) {
		struct journal_pos pos = s->commit;

		s->commit_set = false;
		pthread_mutex_unlock(&s->lock);
		journal_commit(s->j, &pos);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- API ---- */

int cdr_sync_create(struct cdr_sync **sp, struct journal *j, struct event_base *base,
		    unsigned gather_ms, cdr_sync_ack_h *ack, void *arg)
{
	struct cdr_sync *s;
	pthread_condattr_t ca;
	int rc;

	if (!sp || !j || !base || !ack)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->j = j;
	s->gather_ms = gather_ms;
	s->ack = ack;
	s->arg = arg;
	s->durable = journal_head(j);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		rc = errno;
		goto fail;
	}
	s->ack_ev = event_new(base, s->efd, EV_READ | EV_PERSIST, on_ack, s);
	if (!s->ack_ev || event_add(s->ack_ev, NULL) != 0) {
		rc = ENOMEM;
		goto fail;
	}
	rc = pthread_create(&s->thr, NULL, run, s);
	if (rc)
		goto fail;
	pthread_setname_np(s->thr, "cdr-sync");
	s->started = true;
	*sp = s;
	return 0;
fail:
	cdr_sync_destroy(s);
	return rc;
}

void cdr_sync_submit(struct cdr_sync *s, char *rec, size_t len)
{
	struct rec *r = malloc(sizeof(*r));

	if (!r) {
		log_msg(LOG_ERROR, "cdr.lost", "out of memory: a record is lost: %.200s", rec);
		free(rec);
		return;
	}
	r->text = rec;
	r->len = len;
	r->next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->tail) {
		s->tail->next = r;
	} else {
		s->head = r;
		s->first_at = now_ms();
		pthread_cond_signal(&s->cond);
	}
	s->tail = r;
	s->submitted++;
	pthread_mutex_unlock(&s->lock);
}

uint64_t cdr_sync_submitted(struct cdr_sync *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->submitted;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void cdr_sync_flush(struct cdr_sync *s)
{
	pthread_mutex_lock(&s->lock);
	s->flush = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void cdr_sync_commit(struct cdr_sync *s, const struct journal_pos *pos)
{
	pthread_mutex_lock(&s->lock);
	s->commit = *pos;
	s->commit_set = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void cdr_sync_destroy(struct cdr_sync *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thr, NULL);
	}
	if (s->ack_ev)
		event_free(s->ack_ev);
	if (s->efd >= 0)
		close(s->efd);
	free_list(s->head);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
