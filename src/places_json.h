/*
 * places_json.h - Places documents as text, in Google's layout.
 *
 * Google's web services write JSON the way JsonCpp's StyledWriter does:
 * three-space indentation, "key" : value, one member per line, empty
 * containers as [] and {}, and an array on one line ("[ a, b ]") when it
 * holds no non-empty container and its one-line form stays under 74
 * columns.  pj_layout() reproduces that from a json-c tree, keeping the
 * keys in their original order and every number exactly as it was written
 * in the text it was parsed from.
 */
#ifndef HERD_PLACES_JSON_H
#define HERD_PLACES_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* Largest document pj_layout() writes; larger ones are an error. */
#define PJ_TEXT_MAX (8u << 20)

/*
 * Parses text as strict JSON (what Google sends).  Returns a new
 * reference, or NULL with a short reason in why.
 */
struct json_object *pj_parse(const char *text, size_t len, char *why,
			     size_t whylen);

/*
 * pj_parse() for a document that is only ever laid out with a bound of 1
 * to keep (keep 0: no cut).  The elements of the top-level "results" array
 * past the first keep never reach json-c: it is fed the text before them
 * and the text from the array's ']' on, in place, not copied.  For any
 * text pj_parse() takes, pj_layout(doc, b, ...) then writes the same bytes
 * as after pj_parse(), for every b in 1..keep.
 *
 * Only the array of the first top-level "results" member is cut (json-c
 * keeps the last of duplicate keys, and pj_layout() cuts that one too),
 * and only when it has more than keep elements and the text up to its ']'
 * is sound in structure: an object, strings closed, brackets matched,
 * nesting no deeper than json-c takes, a value before each of the array's
 * commas and its ']'.  Otherwise the whole text is parsed, with
 * pj_parse()'s verdict and reason.  All that is kept is checked as
 * strictly as by pj_parse(); in the elements cut only that structure is,
 * so a text whose one flaw is a token inside them (a bad number, literal,
 * escape or UTF-8 sequence, a missing comma, a stray one inside an
 * element) is accepted.
 */
struct json_object *pj_parse_cut(const char *text, size_t len, unsigned keep,
				 char *why, size_t whylen);

/*
 * Writes doc in Google's layout with the top-level "results" array cut to
 * its first bound entries (0 = no cut), runs of newlines collapsed and no
 * trailing newline.  Returns a NUL-terminated malloc'd string and its
 * length, or NULL when out of memory or over PJ_TEXT_MAX.
 */
char *pj_layout(struct json_object *doc, unsigned bound, size_t *len);

/*
 * Google's failure document:
 * { "error_message", "html_attributions" : [], "results" : [], "status" }.
 * Returns a new reference or NULL when out of memory.
 */
struct json_object *pj_error_doc(const char *status, const char *message);

/*
 * A successful Nearby Search document around results (which it takes):
 * { "html_attributions" : [], "results", "status" : "OK" or
 * "ZERO_RESULTS" }.  NULL when out of memory.
 */
struct json_object *pj_results_doc(struct json_object *results);

/* The document's top-level "status" string, or NULL. */
const char *pj_status(struct json_object *doc);

/* True for the statuses of an answer that worked: OK, ZERO_RESULTS. */
bool pj_status_ok(const char *status);

/*
 * Turns every run of two or more '\n' in s into one and drops trailing
 * ones, in place.  Returns the new length (s is not re-terminated).
 */
size_t pj_collapse_newlines(char *s, size_t len);

/* json_object_object_add() that also drops val when it fails. */
bool pj_add(struct json_object *obj, const char *key, struct json_object *val);

#endif
