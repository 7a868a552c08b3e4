/*
 * places_cache.h - recent Places answers, kept for a while so repeats of
 * a query are served from memory.  A bounded number of entries; when full
 * the oldest goes.  Times are on the monotonic clock.
 */
#ifndef HERD_PLACES_CACHE_H
#define HERD_PLACES_CACHE_H

#include <stddef.h>

struct json_object;
struct places_cache;

/* NULL if out of memory. */
struct places_cache *pc_new(unsigned ttl_s, size_t max_entries);

void pc_free(struct places_cache *pc);

/* A new reference to the unexpired document stored for key, or NULL. */
struct json_object *pc_get(struct places_cache *pc, const char *key);

/*
 * Stores doc (taking a new reference of its own) for key, replacing what
 * was there; silently does nothing when out of memory.
 */
void pc_put(struct places_cache *pc, const char *key, struct json_object *doc);

#endif
