/*
 * places_gnew.h - the "google-new" provider's formats: the Places API
 * (New) searchNearby request body, and its answer mapped into the Nearby
 * Search shape the protocol returns.
 */
#ifndef HERD_PLACES_GNEW_H
#define HERD_PLACES_GNEW_H

#include <stddef.h>

struct json_object;

/*
 * Only the fields that pg_map_answer() uses: Google bills by the fields
 * asked for.
 */
#define PG_FIELD_MASK \
	"places.id,places.displayName,places.location," \
	"places.formattedAddress,places.shortFormattedAddress," \
	"places.types,places.rating,places.userRatingCount," \
	"places.businessStatus,places.priceLevel,places.iconMaskBaseUri," \
	"places.plusCode"

/*
 * The POST body: at most max_results places within radius_m metres of
 * (lat, lng).  The three are decimal texts as the client wrote them
 * ("+34.068930", "2500"); they are written as JSON numbers.  Returns a
 * malloc'd string, or NULL if a text is not a plain decimal or out of
 * memory.
 */
char *pg_request_body(const char *lat, const char *lng, const char *radius_m,
		      unsigned max_results);

/*
 * Maps a searchNearby answer ({"places": [...]}, or {} for none) into a
 * Nearby Search document, keys in Google's (alphabetical) order, values
 * shared with answer.  NULL if answer is not an object or out of memory.
 */
struct json_object *pg_map_answer(struct json_object *answer);

/* The Nearby Search status for a failed HTTP answer. */
const char *pg_status_for_http(long http_code);

/* error.message of an error answer, or NULL. */
const char *pg_error_message(struct json_object *answer);

#endif
