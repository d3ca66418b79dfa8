/* fuzz_sip_frame.c — the SIP stream framer (sip/guard) on arbitrary bytes.
 * The first input byte picks which requests are dropped, the next two a split point.
 * Oracles: with nothing dropped every byte comes back unchanged; what is kept never
 * exceeds what came in; and the result (bytes, message and drop counts) is the same
 * whether the data comes in one iovec or split across two. The dropped bytes handed
 * over (guard_frame_filter_hold, as the front holds a refused source's split request)
 * are the same both ways, add up with the kept ones to the input, and each message
 * they end frames alone to exactly its length. At the end the framer is in a message
 * or not, and past a size cap or not, the same way for one iovec, two, or with nothing
 * dropped. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pick {
	uint8_t  mask;
	unsigned n;
	char    *held;       /* the dropped bytes, in order */
	size_t   held_len;
	size_t   msg_start;  /* where the current dropped message began in held */
};

static void hold(const char *p, size_t n, bool end, void *arg)
{
	struct pick *k = arg;

	if (!n)
		abort();
	memcpy(k->held + k->held_len, p, n);
	k->held_len += n;
	if (end) {
		size_t m = k->held_len - k->msg_start;

		/* A message the framer ended is one message, framed alone the same way. */
		if (guard_frame_length(k->held + k->msg_start, m) != m)
			abort();
		k->msg_start = k->held_len;
	}
}

static bool admit(enum guard_msg kind, const char *msg, size_t avail, void *arg)
{
	struct pick *p = arg;
	size_t len = guard_frame_length(msg, avail);

	(void)kind;
	/* A whole message found at hand is one message, framed the same way alone. */
	if (len > avail || (len && guard_frame_length(msg, len) != len))
		abort();
	return !((p->mask >> (p->n++ & 7)) & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guard_frame f1 = {0}, f2 = {0}, f3 = {0};
	struct pick p1, p2;
	size_t len, cut, k1, k2, k3;
	char *a, *b, *c;

	if (size < 3)
		return 0;
	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	p1.mask = p2.mask = data[0];
	len = size - 3;
	cut = len ? ((size_t)data[1] << 8 | data[2]) % (len + 1) : 0;
	data += 3;
	a = malloc(len + 1);
	b = malloc(len + 1);
	c = malloc(len + 1);
	p1.held = malloc(len + 1);
	p2.held = malloc(len + 1);
	memcpy(a, data, len);
	memcpy(b, data, len);
	memcpy(c, data, len);
	{
		struct iovec one = {a, len};
		struct iovec two[2] = {{b, cut}, {b + cut, len - cut}};
		struct iovec all = {c, len};

		k1 = guard_frame_filter_hold(&f1, &one, 1, len, admit, hold, &p1);
		k2 = guard_frame_filter_hold(&f2, two, 2, len, admit, hold, &p2);
		k3 = guard_frame_filter(&f3, &all, 1, len, NULL, NULL);
	}
	if (k1 > len || k1 != k2 || memcmp(a, b, k1) != 0)
		abort();   /* the split changed the result */
	if (f1.messages != f2.messages || f1.dropped != f2.dropped || f1.dropped > f1.messages)
		abort();
	if (k3 != len || memcmp(c, data, len) != 0 || f3.dropped)
		abort();   /* nothing to drop, yet bytes changed */
	if (k1 + p1.held_len != len || p1.held_len != p2.held_len ||
	    memcmp(p1.held, p2.held, p1.held_len) != 0)
		abort();   /* dropped bytes lost, or handed over differently */
	/* Where the stream stands at its end (in a message, and whether that message is
	 * already past a size cap, as the front closes such a connection) does not depend
	 * on how it was split either. */
	if (guard_frame_within(&f1) != guard_frame_within(&f2) ||
	    guard_frame_within(&f1) != guard_frame_within(&f3))
		abort();
	for (uint32_t max = 16; max <= 65536; max *= 4)
		if (guard_frame_oversize(&f1, max) != guard_frame_oversize(&f2, max) ||
		    guard_frame_oversize(&f1, max) != guard_frame_oversize(&f3, max))
			abort();
	free(p1.held);
	free(p2.held);
	free(a);
	free(b);
	free(c);
	return 0;
}
