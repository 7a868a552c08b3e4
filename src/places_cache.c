/*
 * places_cache.c - recent Places answers.
 *
 * Entries sit in a hash (json-c's linkhash, keyed by the query) and in a
 * list in insertion order.  Every entry lives for the same ttl, so the
 * list is also in expiry order: expired entries are always at its head,
 * and so is the oldest one to evict when the cache is full.
 */
#include "places_cache.h"

#include <json-c/json.h>
#include <json-c/linkhash.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

struct entry {
	char *key;
	struct json_object *doc;
	uint64_t expires_ms;
	TAILQ_ENTRY(entry) link;
};

struct places_cache {
	struct lh_table *index;		/* key -> struct entry */
	TAILQ_HEAD(, entry) by_age;	/* oldest first */
	size_t n, max;
	uint64_t ttl_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct places_cache *pc_new(unsigned ttl_s, size_t max_entries)
{
	struct places_cache *pc = calloc(1, sizeof *pc);

	if (pc == NULL)
		return NULL;
	pc->index = lh_kchar_table_new(64, NULL);
	if (pc->index == NULL) {
		free(pc);
		return NULL;
	}
	TAILQ_INIT(&pc->by_age);
	pc->max = max_entries ? max_entries : 1;
	pc->ttl_ms = (uint64_t)ttl_s * 1000;
	return pc;
}

static void drop(struct places_cache *pc, struct entry *e)
{
	(void)lh_table_delete(pc->index, e->key);	/* always there */
	TAILQ_REMOVE(&pc->by_age, e, link);
	json_object_put(e->doc);
	free(e->key);
	free(e);
	pc->n--;
}

static void drop_expired(struct places_cache *pc)
{
	uint64_t now = now_ms();
	struct entry *e;

	while ((e = TAILQ_FIRST(&pc->by_age)) != NULL && e->expires_ms <= now)
		drop(pc, e);
}

void pc_free(struct places_cache *pc)
{
	struct entry *e;

	if (pc == NULL)
		return;
	while ((e = TAILQ_FIRST(&pc->by_age)) != NULL)
		drop(pc, e);
	lh_table_free(pc->index);
	free(pc);
}

static struct entry *find(struct places_cache *pc, const char *key)
{
	void *e;

	return lh_table_lookup_ex(pc->index, key, &e) ? e : NULL;
}

struct json_object *pc_get(struct places_cache *pc, const char *key)
{
	struct entry *e;

	drop_expired(pc);
	e = find(pc, key);
	return e != NULL ? json_object_get(e->doc) : NULL;
}

void pc_put(struct places_cache *pc, const char *key, struct json_object *doc)
{
	struct entry *e = find(pc, key);

	if (e != NULL)
		drop(pc, e);
	drop_expired(pc);
	if (pc->n >= pc->max)
		drop(pc, TAILQ_FIRST(&pc->by_age));
	e = calloc(1, sizeof *e);
	if (e == NULL || (e->key = strdup(key)) == NULL ||
	    lh_table_insert(pc->index, e->key, e) != 0) {
		if (e != NULL)
			free(e->key);
		free(e);
		return;
	}
	e->doc = json_object_get(doc);
	e->expires_ms = now_ms() + pc->ttl_ms;
	TAILQ_INSERT_TAIL(&pc->by_age, e, link);
	pc->n++;
}
