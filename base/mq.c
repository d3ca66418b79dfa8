/*
 * mq.c — bounded MPSC queue with eventfd wake-up (see mq.h).
 *
 * DESIGN: a ring of pointers under one mutex. Producers hold the mutex only to store
 * a pointer; the consumer swaps out everything queued in one critical section and
 * runs the handlers without the lock. The eventfd is written only on the empty ->
 * non-empty transition, so a burst of pushes costs one wake-up.
 */
#include "mq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct mq {
	pthread_mutex_t lock;     /**< guards ring, head, count */
	void          **ring;     /**< capacity slots */
	size_t          capacity;
	size_t          head;     /**< index of the oldest message */
	size_t          count;    /**< messages queued */
	void          **batch;    /**< consumer-only scratch, capacity slots */
	int             efd;      /**< eventfd, readable while messages wait */
	mq_h           *h;
	void           *arg;
};

int mq_create(struct mq **mqp, size_t capacity, mq_h *h, void *arg)
{
	struct mq *q;

	if (!mqp || !capacity || !h)
		return EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return ENOMEM;
	q->ring = calloc(capacity, sizeof(void *));
	q->batch = calloc(capacity, sizeof(void *));
	if (!q->ring || !q->batch) {
		free(q->ring);
		free(q->batch);
		free(q);
		return ENOMEM;
	}
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		int err = errno;
		free(q->ring);
		free(q->batch);
		free(q);
		return err;
	}
	pthread_mutex_init(&q->lock, NULL);
	q->capacity = capacity;
	q->h = h;
	q->arg = arg;
	*mqp = q;
	return 0;
}

void mq_destroy(struct mq *q)
{
	if (!q)
		return;
	mq_drain(q);
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q->batch);
	free(q);
}

int mq_push(struct mq *q, void *msg)
{
	bool wake;

	if (!q)
		return EINVAL;
	pthread_mutex_lock(&q->lock);
	if (q->count == q->capacity) {
		pthread_mutex_unlock(&q->lock);
		return EAGAIN;
	}
	q->ring[(q->head + q->count) % q->capacity] = msg;
	wake = q->count++ == 0;
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		uint64_t one = 1;
		ssize_t w;
		do {
			w = write(q->efd, &one, sizeof(one));
		} while (w < 0 && errno == EINTR);
	}
	return 0;
}

int mq_fd(const struct mq *q)
{
	return q ? q->efd : -1;
}

size_t mq_drain(struct mq *q)
{
	size_t total = 0;
	uint64_t v;

	if (!q)
		return 0;
	/* Clear the wake-up first: a push after this point writes it again. */
	while (read(q->efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	for (;;) {
		size_t n;

		pthread_mutex_lock(&q->lock);
		n = q->count;
		for (size_t i = 0; i < n; i++)
			q->batch[i] = q->ring[(q->head + i) % q->capacity];
		q->head = (q->head + n) % q->capacity;
		q->count = 0;
		pthread_mutex_unlock(&q->lock);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			q->h(q->batch[i], q->arg);
		total += n;
	}
	return total;
}
