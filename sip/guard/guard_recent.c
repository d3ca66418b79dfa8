/*
 * guard_recent.c — the front's memory of recent INVITE decisions: for each new INVITE
 * from a trunk that the front decided on (refused with a stateless 503, or admitted
 * and handed to the stack), its transaction key, when, and what was decided. A
 * retransmission of a refused INVITE is answered again without a second call record;
 * one of an admitted INVITE is not counted again; the stack's INVITE event claims the
 * admission so the call layer does not count it twice.
 *
 * A fixed set-associative table (WAYS slots a set, 24 bytes a slot): a key hashes to
 * its set; a new key takes a free or expired slot of its set, else the oldest one.
 * Nothing is allocated after creation, whatever a flood does; when the table is full,
 * the oldest decisions are forgotten first (guard_recent_put says what it displaced).
 */
#include "guard.h"

#include <errno.h>
#include <stdlib.h>

#define WAYS 8

struct slot {
	uint64_t key;     /**< 0 = free */
	uint64_t at_ms;   /**< when it was decided (or last changed) */
	uint8_t  state;   /**< enum guard_recent_state */
	uint32_t aux;     /**< the caller's value kept with it */
};

struct guard_recent {
	struct slot *s;
	size_t       sets;
	unsigned     ttl_ms;
	uint64_t     seed;
	size_t       count[GUARD_RECENT_STATES];   /**< live slots by state */
};

int guard_recent_create(struct guard_recent **tp, size_t capacity, unsigned ttl_ms)
{
	struct guard_recent *t;
	size_t sets = 1;

	if (!tp || !capacity || !ttl_ms)
		return EINVAL;
	while (sets * WAYS < capacity)
		sets <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->s = calloc(sets * WAYS, sizeof(*t->s));
	if (!t->s) {
		free(t);
		return ENOMEM;
	}
	t->sets = sets;
	t->ttl_ms = ttl_ms;
	t->seed = guard_mix((uint64_t)(uintptr_t)t ^ 0x7f4a7c159e3779b9ull);
	*tp = t;
	return 0;
}

void guard_recent_destroy(struct guard_recent *t)
{
	if (!t)
		return;
	free(t->s);
	free(t);
}

size_t guard_recent_capacity(const struct guard_recent *t)
{
	return t ? t->sets * WAYS : 0;
}

static bool live(const struct guard_recent *t, const struct slot *s, uint64_t now_ms)
{
	return s->key && now_ms - s->at_ms < t->ttl_ms;
}

/* Frees an expired slot (its count goes). */
static void expire(struct guard_recent *t, struct slot *s, uint64_t now_ms)
{
	if (s->key && !live(t, s, now_ms)) {
		t->count[s->state]--;
		s->key = 0;
	}
}

static struct slot *set_of(struct guard_recent *t, uint64_t key)
{
	return &t->s[(guard_mix(key ^ t->seed) & (t->sets - 1)) * WAYS];
}

static struct slot *find(struct guard_recent *t, uint64_t key, uint64_t now_ms)
{
	struct slot *set;

	if (!t)
		return NULL;
	key = key ? key : 1;
	set = set_of(t, key);
	for (size_t i = 0; i < WAYS; i++) {
		expire(t, &set[i], now_ms);
		if (set[i].key == key)
			return &set[i];
	}
	return NULL;
}

enum guard_recent_state guard_recent_get(struct guard_recent *t, uint64_t key, uint64_t now_ms,
					 uint32_t *aux)
{
	struct slot *s = find(t, key, now_ms);

	if (aux)
		*aux = s ? s->aux : 0;
	return s ? (enum guard_recent_state)s->state : GUARD_RECENT_NONE;
}

enum guard_recent_state guard_recent_put(struct guard_recent *t, uint64_t key,
					 enum guard_recent_state state, uint32_t aux, uint64_t now_ms)
{
	struct slot *set, *s, *old = NULL;
	enum guard_recent_state displaced = GUARD_RECENT_NONE;

	if (!t || state <= GUARD_RECENT_NONE || state >= GUARD_RECENT_STATES)
		return GUARD_RECENT_NONE;
	s = find(t, key, now_ms);
	key = key ? key : 1;
	if (!s) {
		set = set_of(t, key);
		for (size_t i = 0; i < WAYS && !s; i++) {
			if (!set[i].key)
				s = &set[i];
			else if (!old || set[i].at_ms < old->at_ms)
				old = &set[i];
		}
		if (!s) {
			s = old;
			displaced = (enum guard_recent_state)s->state;
		}
	}
	if (s->key)
		t->count[s->state]--;
	s->key = key;
	s->at_ms = now_ms;
	s->state = (uint8_t)state;
	s->aux = aux;
	t->count[state]++;
	return displaced;
}

bool guard_recent_change(struct guard_recent *t, uint64_t key, enum guard_recent_state from,
			 enum guard_recent_state to, uint64_t now_ms)
{
	struct slot *s = find(t, key, now_ms);

	if (!s || s->state != from || to <= GUARD_RECENT_NONE || to >= GUARD_RECENT_STATES)
		return false;
	t->count[from]--;
	t->count[to]++;
	s->state = (uint8_t)to;
	return true;
}

size_t guard_recent_lapse(struct guard_recent *t, enum guard_recent_state from,
			  enum guard_recent_state to, unsigned older_ms, uint64_t now_ms)
{
	size_t n = 0;

	if (!t || to <= GUARD_RECENT_NONE || to >= GUARD_RECENT_STATES || !t->count[from])
		return 0;
	for (size_t i = 0; i < t->sets * WAYS; i++) {
		struct slot *s = &t->s[i];

		expire(t, s, now_ms);
		if (s->key && s->state == from && now_ms - s->at_ms >= older_ms) {
			t->count[from]--;
			t->count[to]++;
			s->state = (uint8_t)to;
			n++;
		}
	}
	return n;
}

size_t guard_recent_count(const struct guard_recent *t, enum guard_recent_state state)
{
	return t && state < GUARD_RECENT_STATES ? t->count[state] : 0;
}
