/*
 * stats.h - counters a member's processes publish for herdctl status.
 *
 * One shared mapping per member, created by the supervisor before it forks
 * (like the table).  Each worker writes only its own block, the flooder
 * only the link blocks; the supervisor reads them all.  Every field has a
 * single writer, so writes are plain relaxed stores (no locked
 * instructions on the hot path) and a reader sees each value whole.
 */
#ifndef HERD_STATS_H
#define HERD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "protocol.h"

#define STATS_WORKERS	64
#define STATS_LINKS	128	/* out-links and in-links */

struct worker_stats {
	_Atomic uint64_t connections;	/* open now */
	_Atomic uint64_t requests;	/* command lines answered */
	_Atomic uint64_t places_requests;
	_Atomic uint64_t places_upstream;
	_Atomic uint64_t places_errors;
	_Atomic uint64_t places_latency_us_total;
	_Atomic uint64_t places_latency_us_max;
	char pad[8];
};

enum stats_link_state {
	STATS_LINK_UNUSED = 0,
	STATS_LINK_IDLE,
	STATS_LINK_CONNECTING,
	STATS_LINK_HELLO,
	STATS_LINK_UP,
};

struct link_stats {
	_Atomic uint32_t state;		/* enum stats_link_state */
	_Atomic uint32_t inbound;	/* 1: a link from the peer */
	_Atomic int64_t since_ms;	/* CLOCK_MONOTONIC, state entered */
	_Atomic uint64_t sent;		/* updates */
	_Atomic uint64_t received;	/* updates */
	char peer[PROTO_NAME_MAX + 1];
};

struct member_stats {
	struct worker_stats workers[STATS_WORKERS];
	struct link_stats links[STATS_LINKS];
};

/* A zeroed shared mapping, or NULL with errno set. */
struct member_stats *stats_create(void);
void stats_destroy(struct member_stats *stats);

/* Single-writer updates: a plain store, never a read-modify-write. */
static inline void stats_set(_Atomic uint64_t *field, uint64_t value)
{
	atomic_store_explicit(field, value, memory_order_relaxed);
}

static inline void stats_bump(_Atomic uint64_t *field)
{
	stats_set(field, atomic_load_explicit(field, memory_order_relaxed) + 1);
}

static inline uint64_t stats_get(_Atomic uint64_t *field)
{
	return atomic_load_explicit(field, memory_order_relaxed);
}

#endif
