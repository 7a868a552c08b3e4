/*
 * places.h - WHATSAT's Places lookups, asynchronous, on a worker's loop.
 *
 * One struct places per worker process, created after fork.  It answers
 * "what is within radius of (lat, lng), at most bound results" from the
 * provider in the configuration:
 *
 *   google      Nearby Search web service (GET .../nearbysearch/json)
 *   google-new  Places API (New) (POST .../v1/places:searchNearby), its
 *               answer mapped into the Nearby Search shape
 *   file        an offline JSON file of places in the Nearby Search shape
 *   none        always an error document saying no service is configured
 *
 * HTTP goes through libcurl's multi interface driven by the worker's
 * libevent loop: nothing here blocks the loop (DNS included).  The answer
 * is always a complete JSON document in Google's layout (three-space
 * indent, "key" : value, original key order, numbers as written), with
 * "results" cut to bound, runs of newlines collapsed to one, and no
 * trailing newline.  Failures (timeout, HTTP error, unparsable body,
 * non-OK status) give a document with a non-OK "status" and an
 * "error_message", within the configured timeout.
 */
#ifndef HERD_PLACES_H
#define HERD_PLACES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct event_base;
struct places;
struct places_req;

/*
 * Called exactly once per request that was not cancelled, never from
 * inside places_query().  json is valid only during the call.
 */
typedef void (*places_done_fn)(void *arg, const char *json, size_t len);

struct places_query_args {
	struct proto_span location;	/* as the client wrote it, */
					/* "+34.068930-118.445127" */
	double lat, lng;		/* degrees */
	double radius_km;		/* for distance filtering */
	const char *radius_m;		/* exact metres as text, "2500" */
	unsigned bound;			/* 1..20 */
};

struct places_stats {
	uint64_t requests;		/* queries answered */
	uint64_t upstream;		/* HTTP requests made */
	uint64_t errors;		/* answers with a non-OK status */
	uint64_t coalesced;		/* queries that shared a request */
	uint64_t cache_hits;
	uint64_t latency_us_total;	/* over upstream requests */
	uint64_t latency_us_max;
	unsigned in_flight;
	unsigned queued;
};

/*
 * Creates the per-worker client.  Reads the API key (key_file or key_env)
 * and, for the file provider, loads the data file: call it before the
 * loop runs.  Returns NULL and writes a reason into err on failure.
 */
struct places *places_new(struct event_base *base,
			  const struct conf_places *conf, char *err,
			  size_t errlen);

/* Cancels everything in flight (no callbacks) and frees. */
void places_free(struct places *p);

/*
 * Starts a query; fn(arg, ...) is called later with the answer.  Returns
 * a handle for places_cancel, or NULL only if out of memory.
 */
struct places_req *places_query(struct places *p,
				const struct places_query_args *q,
				places_done_fn fn, void *arg);

/* The client went away: fn will not be called for req. */
void places_cancel(struct places_req *req);

void places_get_stats(const struct places *p, struct places_stats *out);

#endif
