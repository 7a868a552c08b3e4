/*
 * places_file.c - the offline "file" provider.
 *
 * The file is parsed once, at places_new(), and each result's location is
 * indexed; a search measures every place (a demo file holds tens of them,
 * a big one thousands: a linear scan is microseconds) and answers the
 * nearest ones, sharing the result objects with the loaded document.
 */
#include "places_file.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "places_json.h"

/* Mean Earth radius (IUGG), what great-circle distances usually use. */
#define EARTH_RADIUS_KM 6371.0088

struct pf_place {
	double lat, lng;
	struct json_object *entry;	/* borrowed from doc */
};

struct places_file {
	struct json_object *doc;
	struct pf_place *places;
	size_t n;
};

struct match {
	double km;
	size_t index;		/* file order breaks ties */
};

/* ---- loading ------------------------------------------------------ */

static char *read_bounded(FILE *fp, size_t *len)
{
	char *data = malloc(PF_FILE_MAX + 1);
	size_t n;

	if (data == NULL)
		return NULL;
	n = fread(data, 1, PF_FILE_MAX + 1, fp);
	if (ferror(fp) || n > PF_FILE_MAX) {
		free(data);
		return NULL;
	}
	*len = n;
	return data;
}

static struct json_object *parse_file(const char *path, char *err,
				      size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	struct json_object *doc;
	char why[128];
	size_t len;
	char *text;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = read_bounded(fp, &len);
	fclose(fp);
	if (text == NULL) {
		snprintf(err, errlen, "%s: unreadable or larger than %u bytes",
			 path, PF_FILE_MAX);
		return NULL;
	}
	doc = pj_parse(text, len, why, sizeof why);
	free(text);
	if (doc == NULL)
		snprintf(err, errlen, "%s: not JSON: %s", path, why);
	return doc;
}

static bool number_member(struct json_object *obj, const char *key,
			  double *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	      json_object_is_type(v, json_type_int)))
		return false;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

static bool entry_location(struct json_object *entry, double *lat,
			   double *lng)
{
	struct json_object *geometry, *location;

	return json_object_object_get_ex(entry, "geometry", &geometry) &&
	       json_object_object_get_ex(geometry, "location", &location) &&
	       number_member(location, "lat", lat) &&
	       number_member(location, "lng", lng) &&
	       fabs(*lat) <= 90 && fabs(*lng) <= 180;
}

static bool index_places(struct places_file *pf, struct json_object *results,
			 const char *path, char *err, size_t errlen)
{
	size_t n = json_object_array_length(results);

	pf->places = calloc(n ? n : 1, sizeof *pf->places);
	if (pf->places == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		struct pf_place *place = &pf->places[i];

		place->entry = json_object_array_get_idx(results, i);
		if (!json_object_is_type(place->entry, json_type_object) ||
		    !entry_location(place->entry, &place->lat, &place->lng)) {
			snprintf(err, errlen, "%s: results[%zu] has no valid "
				 "geometry.location lat/lng", path, i);
			return false;
		}
	}
	pf->n = n;
	return true;
}

struct places_file *pf_load(const char *path, char *err, size_t errlen)
{
	struct places_file *pf = calloc(1, sizeof *pf);
	struct json_object *results;

	if (pf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	pf->doc = parse_file(path, err, errlen);
	if (pf->doc == NULL)
		goto fail;
	if (!json_object_object_get_ex(pf->doc, "results", &results) ||
	    !json_object_is_type(results, json_type_array)) {
		snprintf(err, errlen, "%s: no \"results\" array", path);
		goto fail;
	}
	if (!index_places(pf, results, path, err, errlen))
		goto fail;
	return pf;
fail:
	pf_free(pf);
	return NULL;
}

void pf_free(struct places_file *pf)
{
	if (pf == NULL)
		return;
	json_object_put(pf->doc);
	free(pf->places);
	free(pf);
}

/* ---- searching ---------------------------------------------------- */

static double radians(double degrees)
{
	return degrees * (M_PI / 180.0);
}

double pf_distance_km(double lat1, double lng1, double lat2, double lng2)
{
	double dlat = radians(lat2 - lat1), dlng = radians(lng2 - lng1);
	double a = sin(dlat / 2) * sin(dlat / 2) +
		   cos(radians(lat1)) * cos(radians(lat2)) *
		   sin(dlng / 2) * sin(dlng / 2);

	return 2 * EARTH_RADIUS_KM * asin(sqrt(fmin(1.0, a)));
}

static int nearer_first(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->km != y->km)
		return x->km < y->km ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static struct json_object *results_array(const struct places_file *pf,
					 const struct match *m, size_t n)
{
	struct json_object *results = json_object_new_array();

	for (size_t i = 0; results != NULL && i < n; i++) {
		struct json_object *entry = pf->places[m[i].index].entry;

		if (json_object_array_add(results, json_object_get(entry))) {
			json_object_put(entry);
			json_object_put(results);
			results = NULL;
		}
	}
	return results;
}

struct json_object *pf_search(const struct places_file *pf, double lat,
			      double lng, double radius_km, unsigned bound)
{
	struct match *m = calloc(pf->n ? pf->n : 1, sizeof *m);
	struct json_object *results;
	size_t n = 0;

	if (m == NULL)
		return NULL;
	for (size_t i = 0; i < pf->n; i++) {
		double km = pf_distance_km(lat, lng, pf->places[i].lat,
					   pf->places[i].lng);
		if (km <= radius_km)
			m[n++] = (struct match){ km, i };
	}
	qsort(m, n, sizeof *m, nearer_first);
	if (n > bound)
		n = bound;
	results = results_array(pf, m, n);
	free(m);
	return results != NULL ? pj_results_doc(results) : NULL;
}
