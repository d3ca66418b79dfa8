/*
 * api_view.h — the control thread's copy of the calls' public view (api_view.c): what
 * GET /v1/calls[/{id}] answer, kept from the B2BUA's view messages (b2bua_view) so
 * that a read never hops through the signalling thread. Control thread only.
 */
#ifndef TRUNX_API_VIEW_H
#define TRUNX_API_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "b2bua/b2bua.h"

struct api_view;

/** What the copy has seen, for logs and /metrics. */
struct api_view_stats {
	size_t   calls;        /**< calls held now */
	uint64_t applied;      /**< messages applied */
	uint64_t gaps;         /**< times a message was found missing (the copy went stale) */
	uint64_t overflows;    /**< calls refused: the table was full (the copy went stale) */
	uint64_t resyncs;      /**< whole lists applied */
};

/**
 * Creates an empty copy, in step with a B2BUA that has sent nothing yet (message 1
 * comes next). max_calls bounds it: a call beyond makes the copy stale until a whole
 * list that fits arrives.
 * @return 0, EINVAL (max_calls 0), ENOMEM
 */
int api_view_create(struct api_view **vp, size_t max_calls);

void api_view_destroy(struct api_view *v);

/** Applies a view message in the order the B2BUA numbered them; takes m. */
void api_view_apply(struct api_view *v, struct b2bua_view *m);

/** The copy is complete and current: reads may be answered from it. */
bool api_view_synced(const struct api_view *v);

/**
 * One call as GET /v1/calls/{id} shows it: a new object, duration_ms and age_ms
 * computed at now_ms (wall clock, ms).
 * @param tenant  the reader's tenant; NULL for an operator (every call)
 * @return 0 (*out set), ENOENT (no such call, or another tenant's), ESTALE (the copy
 *         is not current: ask the B2BUA), ENOMEM
 */
int api_view_get(const struct api_view *v, const char *id, const char *tenant,
		 uint64_t now_ms, json_t **out);

/**
 * The calls the reader may see, newest first, as GET /v1/calls lists them: a new array.
 * @return 0 (*out set), ESTALE, ENOMEM
 */
int api_view_list(const struct api_view *v, const char *tenant, uint64_t now_ms,
		  json_t **out);

void api_view_get_stats(const struct api_view *v, struct api_view_stats *s);

#endif
