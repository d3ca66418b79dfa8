/*
 * route_dids.c — the DID table of a snapshot: E.164 number -> tenant, carrier and
 * destination, for a million numbers and more.
 *
 * DESIGN
 * An E.164 number has at most 15 digits and never starts with 0, so its digits read as
 * an integer are a unique 50-bit key. Entries are 32 bytes in one dense array: the key
 * and offsets into a string pool where every distinct text (tenant id, trunk id, peer
 * id, URI, and the announcement or the recording folder: an announcement DID is never
 * answered and recorded, so one slot holds either) is stored once — a million DIDs of
 * a few hundred tenants cost their entries and a few kilobytes of text. An
 * open-addressing index (linear probing, entry index + 1 per slot, at most half full)
 * finds a key in one or two probes.
 * Removal moves the last entry into the hole and shifts the probe run back, so the
 * table never holds tombstones.
 *
 * A table is built, frozen, then shared read-only by every snapshot that uses it; the
 * reference count is atomic so the last snapshot released on any thread frees it.
 *
 * Changing a few numbers never copies the big table. A layered table (route_dids_derive)
 * holds a reference to a frozen plain table, its base, and its own small table of the
 * changes made since: replaced or added numbers, and deletions as tombstones (`gone`)
 * that shadow the base's entry. A lookup asks the small table first (a few kilobytes,
 * cache-resident) and the base when the number is not there. Deriving the next change
 * copies only the changes, so one DID costs the same with ten numbers or ten million.
 * Tombstones are kept even for numbers the base lacks, so the changes of a table always
 * include those of the tables it was derived from: that is what lets route_dids_rebase
 * move a table onto a base folded meanwhile (route_dids_copy of an earlier table of the
 * same line, done off the hot path) and keep only the changes the fold did not include.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route_priv.h"

struct did_ent {
	uint64_t key;
	uint32_t tenant, trunk, peer, uri;        /**< offsets in the pool (0 = "") */
	uint32_t text;        /**< an announcement DID: its announcement; any other: its
			           record_dir (a call is answered and recorded only there) */
	uint8_t  dest;
	uint8_t  active;
	uint8_t  amd;
	uint8_t  gone;        /**< layered tables: the number is deleted (shadows the base) */
};
_Static_assert(sizeof(struct did_ent) == 32, "a DID entry stays 32 bytes");

struct intern {
	uint32_t *slots;    /**< pool offset, 0 = empty */
	size_t    cap;      /**< power of two */
	size_t    n;
};

struct route_dids {
	atomic_uint     refs;
	bool            frozen;
	struct did_ent *ents;
	size_t          n, cap;
	uint32_t       *index;     /**< entry index + 1; 0 = empty */
	size_t          icap;      /**< power of two, >= 2 * cap */
	char           *pool;      /**< NUL-terminated strings; offset 0 is "" */
	size_t          pool_len, pool_cap;
	struct intern   in;        /**< text -> offset, to store each text once */
	struct route_dids *base;   /**< layered: the frozen plain table under these changes */
	size_t          live;      /**< layered: numbers answered (base and changes) */
	uint32_t       *uris;      /**< frozen plain: distinct URI offsets (each_uri) */
	size_t          n_uris;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/** The key of "+digits", or 0 if it is not E.164. */
static uint64_t did_key(const char *e164)
{
	uint64_t k = 0;
	size_t n = 0;

	if (!e164 || e164[0] != '+' || e164[1] < '1' || e164[1] > '9')
		return 0;
	for (const char *p = e164 + 1; *p; p++, n++) {
		if (*p < '0' || *p > '9' || n == 15)
			return 0;
		k = k * 10 + (uint64_t)(*p - '0');
	}
	return k;
}

static size_t pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

/* ---- strings ---- */

static int intern_grow(struct route_dids *d)
{
	size_t cap = d->in.cap ? d->in.cap * 2 : 64;
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return ENOMEM;
	for (size_t i = 0; i < d->in.cap; i++) {
		uint32_t off = d->in.slots[i];
		size_t j;

		if (!off)
			continue;
		for (j = str_hash(d->pool + off) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = off;
	}
	free(d->in.slots);
	d->in.slots = slots;
	d->in.cap = cap;
	return 0;
}

/** The pool offset of s, stored once. */
static int intern(struct route_dids *d, const char *s, uint32_t *off)
{
	size_t len, j;

	if (!s || !*s) {
		*off = 0;
		return 0;
	}
	if ((d->in.n + 1) * 2 > d->in.cap && intern_grow(d))
		return ENOMEM;
	for (j = str_hash(s) & (d->in.cap - 1); d->in.slots[j]; j = (j + 1) & (d->in.cap - 1)) {
		if (strcmp(d->pool + d->in.slots[j], s) == 0) {
			*off = d->in.slots[j];
			return 0;
		}
	}
	len = strlen(s) + 1;
	if (d->pool_len + len > UINT32_MAX)
		return ENOSPC;
	if (d->pool_len + len > d->pool_cap) {
		size_t cap = d->pool_cap * 2 > d->pool_len + len ? d->pool_cap * 2 :
			     d->pool_len + len + 256;
		char *p = realloc(d->pool, cap);

		if (!p)
			return ENOMEM;
		d->pool = p;
		d->pool_cap = cap;
	}
	memcpy(d->pool + d->pool_len, s, len);
	*off = (uint32_t)d->pool_len;
	d->pool_len += len;
	d->in.slots[j] = *off;
	d->in.n++;
	return 0;
}

/* ---- the index ---- */

static size_t slot_of(const struct route_dids *d, uint64_t key)
{
	return (size_t)(mix(key) & (d->icap - 1));
}

/** The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const struct route_dids *d, uint64_t key)
{
	size_t j = slot_of(d, key);

	while (d->index[j] && d->ents[d->index[j] - 1].key != key)
		j = (j + 1) & (d->icap - 1);
	return j;
}

static int index_resize(struct route_dids *d, size_t icap)
{
	uint32_t *idx = calloc(icap, sizeof(*idx));

	if (!idx)
		return ENOMEM;
	free(d->index);
	d->index = idx;
	d->icap = icap;
	for (size_t i = 0; i < d->n; i++)
		d->index[find_slot(d, d->ents[i].key)] = (uint32_t)(i + 1);
	return 0;
}

/* Empties slot j and moves later members of its probe run back (no tombstones). */
static void index_remove_slot(struct route_dids *d, size_t j)
{
	size_t i = j;

	d->index[j] = 0;
	for (;;) {
		size_t home;

		i = (i + 1) & (d->icap - 1);
		if (!d->index[i])
			return;
		home = slot_of(d, d->ents[d->index[i] - 1].key);
		/* Move it back unless its home lies cyclically in (j, i]. */
		if ((j < i) ? (home <= j || home > i) : (home <= j && home > i)) {
			d->index[j] = d->index[i];
			d->index[i] = 0;
			j = i;
		}
	}
}

/* ---- entries ---- */

/** The entry of key (hashed: h = mix(key)) in d's own table (not its base), or NULL. */
static const struct did_ent *own_ent_h(const struct route_dids *d, uint64_t key, uint64_t h)
{
	size_t j = (size_t)(h & (d->icap - 1));
	uint32_t i;

	while ((i = d->index[j]) != 0) {
		if (d->ents[i - 1].key == key)
			return &d->ents[i - 1];
		j = (j + 1) & (d->icap - 1);
	}
	return NULL;
}

static const struct did_ent *own_ent(const struct route_dids *d, uint64_t key)
{
	return own_ent_h(d, key, mix(key));
}

/** True if d answers key (its changes first, then its base). */
static bool live_in(const struct route_dids *d, uint64_t key)
{
	const struct did_ent *e = own_ent(d, key);

	if (e)
		return !e->gone;
	return d->base && own_ent(d->base, key) != NULL;
}

/** Inserts or replaces e in d's own table. */
static int put_ent(struct route_dids *d, const struct did_ent *e)
{
	size_t j = find_slot(d, e->key);

	if (d->index[j]) {
		d->ents[d->index[j] - 1] = *e;
		return 0;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap * 2;
		struct did_ent *ents = realloc(d->ents, cap * sizeof(*ents));

		if (!ents)
			return ENOMEM;
		d->ents = ents;
		d->cap = cap;
	}
	if ((d->n + 1) * 2 > d->icap) {
		if (index_resize(d, d->icap * 2))
			return ENOMEM;
		j = find_slot(d, e->key);
	}
	d->ents[d->n] = *e;
	d->index[j] = (uint32_t)(++d->n);
	return 0;
}

/** Removes key from d's own table. @return 0 or ENOENT */
static int del_ent(struct route_dids *d, uint64_t key)
{
	size_t j = find_slot(d, key), i, last;

	if (!d->index[j])
		return ENOENT;
	i = d->index[j] - 1;
	index_remove_slot(d, j);
	last = d->n - 1;
	if (i != last) {
		/* The last entry fills the hole; its slot points at its new place. */
		size_t k = find_slot(d, d->ents[last].key);

		d->ents[i] = d->ents[last];
		d->index[k] = (uint32_t)(i + 1);
	}
	d->n--;
	return 0;
}

/** e (its strings in pool) as an entry of d: its texts interned in d's pool. */
static int import_ent(struct route_dids *d, const char *pool, const struct did_ent *e,
		      struct did_ent *out)
{
	*out = *e;
	if (e->gone)
		return 0;
	if (intern(d, pool + e->tenant, &out->tenant) || intern(d, pool + e->trunk, &out->trunk) ||
	    intern(d, pool + e->peer, &out->peer) || intern(d, pool + e->uri, &out->uri) ||
	    intern(d, pool + e->text, &out->text))
		return ENOMEM;
	return 0;
}

/** True if two live entries (each with its pool) say the same. */
static bool same_ent(const char *pa, const struct did_ent *a, const char *pb,
		     const struct did_ent *b)
{
	return a->dest == b->dest && a->active == b->active && a->amd == b->amd &&
	       strcmp(pa + a->tenant, pb + b->tenant) == 0 &&
	       strcmp(pa + a->trunk, pb + b->trunk) == 0 &&
	       strcmp(pa + a->peer, pb + b->peer) == 0 && strcmp(pa + a->uri, pb + b->uri) == 0 &&
	       strcmp(pa + a->text, pb + b->text) == 0;
}

/* ---- API ---- */

int route_dids_create(struct route_dids **dp, size_t expected)
{
	struct route_dids *d;

	if (!dp)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	atomic_init(&d->refs, 1);
	d->cap = expected ? expected : 16;
	d->ents = malloc(d->cap * sizeof(*d->ents));
	d->icap = pow2_at_least(d->cap * 2);
	d->index = calloc(d->icap, sizeof(*d->index));
	d->pool_cap = 256;
	d->pool = malloc(d->pool_cap);
	if (!d->ents || !d->index || !d->pool) {
		route_dids_unref(d);
		return ENOMEM;
	}
	d->pool[0] = '\0';
	d->pool_len = 1;
	*dp = d;
	return 0;
}

/** An unfrozen copy of src's own table (not its base): the arrays copied as they are. */
static int copy_own(struct route_dids **dp, const struct route_dids *src)
{
	struct route_dids *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	atomic_init(&d->refs, 1);
	d->n = src->n;
	d->cap = src->n + src->n / 8 + 16;
	d->icap = src->icap;
	while (d->icap < d->cap * 2)
		d->icap <<= 1;
	d->ents = malloc(d->cap * sizeof(*d->ents));
	d->pool = malloc(src->pool_cap);
	d->in.slots = src->in.cap ? malloc(src->in.cap * sizeof(*d->in.slots)) : NULL;
	if (!d->ents || !d->pool || (src->in.cap && !d->in.slots)) {
		route_dids_unref(d);
		return ENOMEM;
	}
	memcpy(d->ents, src->ents, src->n * sizeof(*d->ents));
	memcpy(d->pool, src->pool, src->pool_len);
	d->pool_len = src->pool_len;
	d->pool_cap = src->pool_cap;
	if (src->in.cap)
		memcpy(d->in.slots, src->in.slots, src->in.cap * sizeof(*d->in.slots));
	d->in.cap = src->in.cap;
	d->in.n = src->in.n;
	if (d->icap == src->icap) {
		d->index = malloc(d->icap * sizeof(*d->index));
		if (!d->index) {
			route_dids_unref(d);
			return ENOMEM;
		}
		memcpy(d->index, src->index, d->icap * sizeof(*d->index));
	} else if (index_resize(d, d->icap)) {
		route_dids_unref(d);
		return ENOMEM;
	}
	*dp = d;
	return 0;
}

int route_dids_copy(struct route_dids **dp, const struct route_dids *src)
{
	struct route_dids *d = NULL;
	int err;

	if (!dp || !src)
		return EINVAL;
	if (!src->base)
		return copy_own(dp, src);
	/* A layered table: its base copied, its changes applied (the fold). */
	err = copy_own(&d, src->base);
	for (size_t i = 0; !err && i < src->n; i++) {
		const struct did_ent *e = &src->ents[i];
		struct did_ent x;

		if (e->gone)
			del_ent(d, e->key);   /* ENOENT: a number the base never had */
		else if ((err = import_ent(d, src->pool, e, &x)) == 0)
			err = put_ent(d, &x);
	}
	if (err) {
		if (d)
			route_dids_unref(d);
		return err;
	}
	*dp = d;
	return 0;
}

int route_dids_derive(struct route_dids **dp, struct route_dids *src)
{
	struct route_dids *d;
	int err;

	if (!dp || !src || !src->frozen)
		return EINVAL;
	err = src->base ? copy_own(&d, src) : route_dids_create(&d, 64);
	if (err)
		return err;
	d->base = route_dids_ref(src->base ? src->base : src);
	d->live = route_dids_count(src);
	*dp = d;
	return 0;
}

int route_dids_rebase(struct route_dids **dp, const struct route_dids *cur,
		      struct route_dids *folded)
{
	struct route_dids *d;
	int err;

	if (!dp || !cur || !folded || !cur->base || folded->base || !folded->frozen)
		return EINVAL;
	err = route_dids_create(&d, 64);
	if (err)
		return err;
	d->base = route_dids_ref(folded);
	d->live = cur->live;
	for (size_t i = 0; !err && i < cur->n; i++) {
		const struct did_ent *e = &cur->ents[i], *b = own_ent(folded, e->key);
		struct did_ent x;

		/* What the fold already holds is dropped; the rest stays a change. */
		if (e->gone ? !b : (b && same_ent(cur->pool, e, folded->pool, b)))
			continue;
		if ((err = import_ent(d, cur->pool, e, &x)) == 0)
			err = put_ent(d, &x);
	}
	if (err) {
		route_dids_unref(d);
		return err;
	}
	*dp = d;
	return 0;
}

int route_dids_put(struct route_dids *d, const struct did_cfg *cfg)
{
	struct did_ent e = {0};
	bool was;
	int err;

	if (!d || !cfg || d->frozen)
		return EINVAL;
	if (!memchr(cfg->number, '\0', sizeof(cfg->number)) ||
	    !memchr(cfg->trunk_id, '\0', sizeof(cfg->trunk_id)) ||
	    !memchr(cfg->tenant, '\0', sizeof(cfg->tenant)) ||
	    !memchr(cfg->peer_id, '\0', sizeof(cfg->peer_id)) ||
	    !memchr(cfg->uri, '\0', sizeof(cfg->uri)) ||
	    !memchr(cfg->announcement, '\0', sizeof(cfg->announcement)) ||
	    !memchr(cfg->record_dir, '\0', sizeof(cfg->record_dir)) ||
	    (unsigned)cfg->dest > DID_DEST_ANNOUNCEMENT)
		return EINVAL;
	e.key = did_key(cfg->number);
	if (!e.key)
		return EINVAL;
	e.dest = (uint8_t)cfg->dest;
	e.active = cfg->active;
	e.amd = cfg->amd;
	if (intern(d, cfg->tenant, &e.tenant) || intern(d, cfg->trunk_id, &e.trunk) ||
	    intern(d, cfg->peer_id, &e.peer) || intern(d, cfg->uri, &e.uri) ||
	    intern(d, cfg->dest == DID_DEST_ANNOUNCEMENT ? cfg->announcement : cfg->record_dir,
		   &e.text))
		return ENOMEM;
	was = d->base && live_in(d, e.key);
	err = put_ent(d, &e);
	if (!err && d->base && !was)
		d->live++;
	return err;
}

int route_dids_del(struct route_dids *d, const char *e164)
{
	struct did_ent gone = {0};
	uint64_t key = did_key(e164);
	int err;

	if (!d || d->frozen || !key)
		return EINVAL;
	if (!d->base)
		return del_ent(d, key);
	if (!live_in(d, key))
		return ENOENT;
	gone.key = key;
	gone.gone = 1;
	err = put_ent(d, &gone);
	if (!err)
		d->live--;
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

void route_dids_freeze(struct route_dids *d)
{
	size_t n = 0;

	if (!d || d->frozen)
		return;
	d->frozen = true;
	if (d->base)
		return;
	/* The distinct destination URIs, so that each_uri costs their number, not the
	 * table's. Without memory for it each_uri walks the entries. */
	free(d->uris);
	d->uris = malloc((d->n + 1) * sizeof(*d->uris));
	if (!d->uris)
		return;
	for (size_t i = 0; i < d->n; i++)
		if (d->ents[i].uri && (!n || d->uris[n - 1] != d->ents[i].uri))
			d->uris[n++] = d->ents[i].uri;
	qsort(d->uris, n, sizeof(*d->uris), cmp_u32);
	d->n_uris = 0;
	for (size_t i = 0; i < n; i++)
		if (!d->n_uris || d->uris[d->n_uris - 1] != d->uris[i])
			d->uris[d->n_uris++] = d->uris[i];
}

struct route_dids *route_dids_ref(struct route_dids *d)
{
	if (d)
		atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	return d;
}

void route_dids_unref(struct route_dids *d)
{
	if (!d || atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	route_dids_unref(d->base);
	free(d->ents);
	free(d->index);
	free(d->pool);
	free(d->in.slots);
	free(d->uris);
	free(d);
}

size_t route_dids_count(const struct route_dids *d)
{
	if (!d)
		return 0;
	return d->base ? d->live : d->n;
}

size_t route_dids_changes(const struct route_dids *d)
{
	return d && d->base ? d->n : 0;
}

const struct route_dids *route_dids_base(const struct route_dids *d)
{
	return d && d->base ? d->base : d;
}

size_t route_dids_bytes(const struct route_dids *d)
{
	if (!d)
		return 0;
	return sizeof(*d) + d->cap * sizeof(*d->ents) + d->icap * sizeof(*d->index) +
	       d->pool_cap + d->in.cap * sizeof(*d->in.slots) + d->n_uris * sizeof(*d->uris) +
	       route_dids_bytes(d->base);
}

static void each_own_uri(const struct route_dids *d, void (*fn)(const char *uri, void *arg),
			 void *arg)
{
	uint32_t last = 0;

	if (d->uris) {
		for (size_t i = 0; i < d->n_uris; i++)
			fn(d->pool + d->uris[i], arg);
		return;
	}
	/* Distinct by pool offset; repeats of the last one are skipped, others may be
	 * reported more than once (the caller dedupes). */
	for (size_t i = 0; i < d->n; i++) {
		uint32_t u = d->ents[i].uri;

		if (!u || u == last || d->ents[i].gone)
			continue;
		last = u;
		fn(d->pool + u, arg);
	}
}

void route_dids_each_uri(const struct route_dids *d, void (*fn)(const char *uri, void *arg),
			 void *arg)
{
	if (!d || !fn)
		return;
	/* A layered table: the base's URIs include those of numbers changed or deleted
	 * since (a superset until the next fold), then the changes' own. */
	if (d->base)
		each_own_uri(d->base, fn, arg);
	each_own_uri(d, fn, arg);
}

bool route_dids_get(const struct route_dids *d, const char *e164, struct did_view *v)
{
	uint64_t key = did_key(e164);
	uint64_t h = mix(key);
	const struct did_ent *e;
	const char *pool;

	if (!d || !key || !v)
		return false;
	e = own_ent_h(d, key, h);
	pool = d->pool;
	if (e && e->gone)
		return false;
	if (!e && d->base) {
		e = own_ent_h(d->base, key, h);
		pool = d->base->pool;
	}
	if (!e)
		return false;
	v->tenant = pool + e->tenant;
	v->trunk_id = pool + e->trunk;
	v->peer_id = pool + e->peer;
	v->uri = pool + e->uri;
	v->announcement = e->dest == DID_DEST_ANNOUNCEMENT ? pool + e->text : "";
	v->dest = (enum did_dest)e->dest;
	v->active = e->active;
	v->record_dir = e->dest == DID_DEST_ANNOUNCEMENT ? "" : pool + e->text;
	v->amd = e->amd;
	return true;
}
