/*
 * mq.h — a multi-producer, single-consumer message queue with an eventfd wake-up.
 *
 * Threads in trunx never share mutable objects; they send each other messages.
 * A queue belongs to the thread that consumes it: that thread polls mq_fd() in its
 * own loop (epoll, libevent, su_root) and calls mq_drain() when it is readable.
 * Any thread may call mq_push(). Messages are caller-allocated pointers; ownership
 * passes to the consumer's handler.
 *
 * The queue is bounded; mq_push() returns EAGAIN when it is full so that a slow
 * consumer turns into back-pressure at the producer, never into unbounded memory.
 */
#ifndef TRUNX_MQ_H
#define TRUNX_MQ_H

#include <stddef.h>

struct mq;

/** Handler run by mq_drain() on the consumer thread, once per message. */
typedef void (mq_h)(void *msg, void *arg);

/**
 * Creates a queue holding up to capacity messages.
 * @param mqp      receives the queue
 * @param capacity maximum messages in flight (>0)
 * @param h        consumer handler
 * @param arg      handler argument
 * @return 0, EINVAL or ENOMEM, or the errno of eventfd()
 */
int mq_create(struct mq **mqp, size_t capacity, mq_h *h, void *arg);

/** Destroys the queue; messages still queued are passed to h first. */
void mq_destroy(struct mq *q);

/** Enqueues msg from any thread. Returns 0, EINVAL, or EAGAIN when full. */
int mq_push(struct mq *q, void *msg);

/** The descriptor that becomes readable when messages are waiting. */
int mq_fd(const struct mq *q);

/** Runs the handler for every queued message. Consumer thread only. Returns the count. */
size_t mq_drain(struct mq *q);

#endif
