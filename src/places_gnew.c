/*
 * places_gnew.c - Places API (New) searchNearby: request body and answer
 * mapping.
 *
 * A Places API (New) place such as
 *   { "id", "displayName": {"text"}, "location": {"latitude", "longitude"},
 *     "businessStatus", "rating", "userRatingCount", "types", ... }
 * becomes a Nearby Search result with the members in the order Google's
 * Nearby Search writes them (alphabetical): business_status, geometry,
 * icon_mask_base_uri, name, place_id, plus_code, price_level, rating,
 * types, user_ratings_total, vicinity.  A member missing upstream is left
 * out, as Google does.  Values are shared, not copied, so numbers keep
 * the text they arrived with.
 */
#include "places_gnew.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "places_json.h"

/* ---- request ------------------------------------------------------ */

static size_t digits(const char *s)
{
	return strspn(s, "0123456789");
}

/*
 * "+034.5" -> "34.5": JSON numbers have no '+' and no leading zeros.
 * Accepts [sign] digits [. digits] only.
 */
static bool json_number(const char *text, char *out, size_t cap)
{
	const char *s = text;
	size_t whole, frac = 0;

	if (*s == '+' || *s == '-')
		s++;
	whole = digits(s);
	if (whole == 0)
		return false;
	if (s[whole] == '.' && (frac = digits(s + whole + 1)) == 0)
		return false;
	if (s[whole + (frac ? frac + 1 : 0)] != '\0')
		return false;
	while (whole > 1 && *s == '0') {
		s++;
		whole--;
	}
	return snprintf(out, cap, "%s%s", *text == '-' ? "-" : "", s) <
	       (int)cap;
}

char *pg_request_body(const char *lat, const char *lng, const char *radius_m,
		      unsigned max_results)
{
	char la[64], ln[64], r[64], *body;

	if (!json_number(lat, la, sizeof la) ||
	    !json_number(lng, ln, sizeof ln) ||
	    !json_number(radius_m, r, sizeof r))
		return NULL;
	if (asprintf(&body, "{\"maxResultCount\": %u, \"locationRestriction\":"
		     " {\"circle\": {\"center\": {\"latitude\": %s, "
		     "\"longitude\": %s}, \"radius\": %s}}}",
		     max_results, la, ln, r) < 0)
		return NULL;
	return body;
}

/* ---- answer ------------------------------------------------------- */

/* A member of obj, or NULL if absent or JSON null. */
static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* dst[dkey] = src (shared); true also when there is nothing to copy. */
static bool share(struct json_object *dst, const char *dkey,
		  struct json_object *src)
{
	return src == NULL || pj_add(dst, dkey, json_object_get(src));
}

/* {"location": {"lat", "lng"}} from "location": {latitude, longitude}. */
static bool add_geometry(struct json_object *r, struct json_object *place)
{
	struct json_object *from = member(place, "location");
	struct json_object *geometry, *location;

	if (from == NULL)
		return true;
	geometry = json_object_new_object();
	location = json_object_new_object();
	if (geometry == NULL || location == NULL) {
		json_object_put(geometry);
		json_object_put(location);
		return false;
	}
	if (!pj_add(geometry, "location", location) ||
	    !share(location, "lat", member(from, "latitude")) ||
	    !share(location, "lng", member(from, "longitude"))) {
		json_object_put(geometry);
		return false;
	}
	return pj_add(r, "geometry", geometry);
}

static bool add_plus_code(struct json_object *r, struct json_object *place)
{
	struct json_object *from = member(place, "plusCode");
	struct json_object *code;

	if (from == NULL)
		return true;
	code = json_object_new_object();
	if (code == NULL)
		return false;
	if (!share(code, "compound_code", member(from, "compoundCode")) ||
	    !share(code, "global_code", member(from, "globalCode"))) {
		json_object_put(code);
		return false;
	}
	return pj_add(r, "plus_code", code);
}

/* "PRICE_LEVEL_MODERATE" -> 2, Nearby Search's 0..4 scale. */
static bool add_price_level(struct json_object *r, struct json_object *place)
{
	static const char *const levels[] = {
		"PRICE_LEVEL_FREE", "PRICE_LEVEL_INEXPENSIVE",
		"PRICE_LEVEL_MODERATE", "PRICE_LEVEL_EXPENSIVE",
		"PRICE_LEVEL_VERY_EXPENSIVE",
	};
	const char *level = json_object_get_string(member(place, "priceLevel"));

	for (int i = 0; level != NULL && i < 5; i++)
		if (strcmp(level, levels[i]) == 0)
			return pj_add(r, "price_level", json_object_new_int(i));
	return true;
}

static bool add_vicinity(struct json_object *r, struct json_object *place)
{
	struct json_object *addr = member(place, "shortFormattedAddress");

	return share(r, "vicinity",
		     addr ? addr : member(place, "formattedAddress"));
}

static bool map_members(struct json_object *r, struct json_object *place)
{
	return share(r, "business_status", member(place, "businessStatus")) &&
	       add_geometry(r, place) &&
	       share(r, "icon_mask_base_uri",
		     member(place, "iconMaskBaseUri")) &&
	       share(r, "name", member(member(place, "displayName"), "text")) &&
	       share(r, "place_id", member(place, "id")) &&
	       add_plus_code(r, place) &&
	       add_price_level(r, place) &&
	       share(r, "rating", member(place, "rating")) &&
	       share(r, "types", member(place, "types")) &&
	       share(r, "user_ratings_total",
		     member(place, "userRatingCount")) &&
	       add_vicinity(r, place);
}

static struct json_object *map_place(struct json_object *place)
{
	struct json_object *r = json_object_new_object();

	if (r != NULL && !map_members(r, place)) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

static struct json_object *map_places(struct json_object *places)
{
	struct json_object *results = json_object_new_array();
	size_t n = json_object_array_length(places);

	for (size_t i = 0; results != NULL && i < n; i++) {
		struct json_object *place = json_object_array_get_idx(places, i);
		struct json_object *r;

		if (!json_object_is_type(place, json_type_object))
			continue;
		r = map_place(place);
		if (r == NULL || json_object_array_add(results, r) != 0) {
			json_object_put(r);
			json_object_put(results);
			results = NULL;
		}
	}
	return results;
}

struct json_object *pg_map_answer(struct json_object *answer)
{
	struct json_object *places = member(answer, "places");
	struct json_object *results;

	if (!json_object_is_type(answer, json_type_object) ||
	    (places != NULL && !json_object_is_type(places, json_type_array)))
		return NULL;
	results = places ? map_places(places) : json_object_new_array();
	return results ? pj_results_doc(results) : NULL;
}

const char *pg_status_for_http(long http_code)
{
	switch (http_code) {
	case 400: return "INVALID_REQUEST";
	case 403: return "REQUEST_DENIED";
	case 429: return "OVER_QUERY_LIMIT";
	default:  return "UNKNOWN_ERROR";
	}
}

const char *pg_error_message(struct json_object *answer)
{
	struct json_object *message = member(member(answer, "error"), "message");

	if (!json_object_is_type(message, json_type_string))
		return NULL;
	return json_object_get_string(message);
}
