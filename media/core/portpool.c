/*
 * portpool.c — RTP/RTCP port pairs (see portpool.h). Owns the free ring and the
 * in-use bitmap, both under one mutex held only for a few instructions.
 */
#include "portpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct portpool {
	pthread_mutex_t lock;    /**< guards ring, head, count, used */
	uint16_t        base;    /**< RTP port of pair 0 (even) */
	unsigned        size;    /**< pairs in the range */
	uint16_t       *ring;    /**< free pair indices, FIFO; size slots */
	unsigned        head;    /**< oldest free entry */
	unsigned        count;   /**< free entries */
	bool           *used;    /**< per pair: taken */
};

int portpool_create(struct portpool **pp, uint16_t port_min, uint16_t port_max)
{
	struct portpool *p;
	uint32_t base = port_min + (port_min & 1u);
	unsigned size;

	if (!pp || port_min == 0 || port_max < base + 1u)
		return EINVAL;
	size = (unsigned)((port_max - base + 1u) / 2);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->ring = calloc(size, sizeof(*p->ring));
	p->used = calloc(size, sizeof(*p->used));
	if (!p->ring || !p->used) {
		free(p->ring);
		free(p->used);
		free(p);
		return ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->base = (uint16_t)base;
	p->size = size;
	for (unsigned i = 0; i < size; i++)
		p->ring[i] = (uint16_t)i;
	p->count = size;
	*pp = p;
	return 0;
}

void portpool_destroy(struct portpool *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->ring);
	free(p->used);
	free(p);
}

int portpool_take(struct portpool *p, uint16_t *portp)
{
	unsigned idx;

	pthread_mutex_lock(&p->lock);
	if (p->count == 0) {
		pthread_mutex_unlock(&p->lock);
		return EADDRINUSE;
	}
	idx = p->ring[p->head];
	p->head = (p->head + 1) % p->size;
	p->count--;
	p->used[idx] = true;
	pthread_mutex_unlock(&p->lock);
	*portp = (uint16_t)(p->base + 2 * idx);
	return 0;
}

void portpool_put(struct portpool *p, uint16_t port)
{
	unsigned idx;

	if (!p || port < p->base || (port - p->base) % 2)
		return;
	idx = (unsigned)(port - p->base) / 2;
	if (idx >= p->size)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->used[idx]) {
		p->used[idx] = false;
		p->ring[(p->head + p->count) % p->size] = (uint16_t)idx;
		p->count++;
	}
	pthread_mutex_unlock(&p->lock);
}

unsigned portpool_free_count(struct portpool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->count;
	pthread_mutex_unlock(&p->lock);
	return n;
}

unsigned portpool_size(const struct portpool *p)
{
	return p->size;
}
