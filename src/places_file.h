/*
 * places_file.h - the offline "file" provider: places read from a JSON
 * file in the Nearby Search shape ({"results": [...]}), searched by
 * great-circle distance.
 */
#ifndef HERD_PLACES_FILE_H
#define HERD_PLACES_FILE_H

#include <stddef.h>

struct json_object;
struct places_file;

/* Largest data file read. */
#define PF_FILE_MAX (16u << 20)

/*
 * Reads and checks path: every result needs a numeric
 * geometry.location.lat / lng.  Returns NULL with "PATH: reason" in err.
 */
struct places_file *pf_load(const char *path, char *err, size_t errlen);

void pf_free(struct places_file *pf);

/*
 * A Nearby Search document ("html_attributions", "results", "status") of
 * the places within radius_km of (lat, lng), nearest first, at most bound
 * of them; status OK or ZERO_RESULTS.  New reference, NULL if out of
 * memory.
 */
struct json_object *pf_search(const struct places_file *pf, double lat,
			      double lng, double radius_km, unsigned bound);

/* Great-circle distance in kilometres (haversine, mean Earth radius). */
double pf_distance_km(double lat1, double lng1, double lat2, double lng2);

#endif
