/*
 * places_json.c - Places documents as text, in Google's layout.
 *
 * The writer mirrors JsonCpp's StyledWriter, which is what Google's
 * answers look like: an object is "{", then each member on its own line
 * as indent + "key" : value, then "}" on a line at the object's indent; an
 * array is either "[ a, b ]" on one line or "[", one element per line,
 * "]".  Numbers are written from the text json-c kept when it parsed them,
 * so 34.0689254 stays 34.0689254 and 1e2 stays 1e2.
 */
#include "places_json.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDENT "   "
#define INDENT_LEN 3
/* StyledWriter's right margin: a longer one-line array is split. */
#define RIGHT_MARGIN 74

struct writer {
	char *data;
	size_t len, cap;
	bool failed;		/* out of memory or over PJ_TEXT_MAX */
	unsigned bound;		/* cut for the top-level "results" */
};

/* ---- output buffer ------------------------------------------------ */

static bool grow(struct writer *w, size_t need)
{
	size_t cap = w->cap ? w->cap : 4096;
	char *data;

	if (need > PJ_TEXT_MAX)
		return false;
	while (cap < need)
		cap *= 2;
	if (cap > PJ_TEXT_MAX + 1)
		cap = PJ_TEXT_MAX + 1;
	data = realloc(w->data, cap);
	if (data == NULL)
		return false;
	w->data = data;
	w->cap = cap;
	return true;
}

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap && !grow(w, w->len + n + 1)) {
		w->failed = true;
		return;
	}
	memcpy(w->data + w->len, s, n);
	w->len += n;
}

static void put_str(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void newline_indent(struct writer *w, unsigned depth)
{
	put(w, "\n", 1);
	for (unsigned i = 0; i < depth; i++)
		put(w, INDENT, INDENT_LEN);
}

/* ---- scalars ------------------------------------------------------ */

/*
 * The escape for one byte of a string, or NULL to copy it as is.
 * Control characters must be escaped; '<' and '>' are escaped because
 * Google does (HTML-safe \u003c / \u003e in every html_attributions).
 * '/' and non-ASCII UTF-8 are copied.
 */
static const char *escape_of(unsigned char c, char tmp[8])
{
	switch (c) {
	case '"':  return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '<':  return "\\u003c";
	case '>':  return "\\u003e";
	default:
		if (c >= 0x20)
			return NULL;
		snprintf(tmp, 8, "\\u%04x", c);
		return tmp;
	}
}

static size_t quoted_len(const char *s, size_t n)
{
	size_t len = 2;
	char tmp[8];

	for (size_t i = 0; i < n; i++) {
		const char *esc = escape_of((unsigned char)s[i], tmp);
		len += esc != NULL ? strlen(esc) : 1;
	}
	return len;
}

static void put_quoted(struct writer *w, const char *s, size_t n)
{
	size_t plain = 0;	/* start of the run of bytes copied as is */
	char tmp[8];

	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		const char *esc = escape_of((unsigned char)s[i], tmp);
		if (esc == NULL)
			continue;
		put(w, s + plain, i - plain);
		put_str(w, esc);
		plain = i + 1;
	}
	put(w, s + plain, n - plain);
	put(w, "\"", 1);
}

/*
 * A number, boolean or null as text.  json-c serialises a parsed double
 * from the text it was parsed from; NaN and infinities (which its parser
 * tolerates) are not JSON and become null.
 */
static const char *plain_text(struct json_object *v)
{
	if (v == NULL)
		return "null";
	if (json_object_is_type(v, json_type_double) &&
	    !isfinite(json_object_get_double(v)))
		return "null";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static bool is_container(struct json_object *v)
{
	return json_object_is_type(v, json_type_object) ||
	       json_object_is_type(v, json_type_array);
}

static bool is_empty_container(struct json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return json_object_object_length(v) == 0;
	return json_object_array_length(v) == 0;
}

/* Length of a value that has a one-line form (scalar or empty). */
static size_t inline_len(struct json_object *v)
{
	if (is_container(v))
		return 2;
	if (json_object_is_type(v, json_type_string))
		return quoted_len(json_object_get_string(v),
				  (size_t)json_object_get_string_len(v));
	return strlen(plain_text(v));
}

/* ---- containers --------------------------------------------------- */

static void put_value(struct writer *w, struct json_object *v,
		      unsigned depth, size_t limit);

static void put_object(struct writer *w, struct json_object *obj,
		       unsigned depth)
{
	size_t left = (size_t)json_object_object_length(obj);

	if (left == 0) {
		put_str(w, "{}");
		return;
	}
	put(w, "{", 1);
	json_object_object_foreach(obj, key, val) {
		bool results = depth == 0 && strcmp(key, "results") == 0;

		newline_indent(w, depth + 1);
		put_quoted(w, key, strlen(key));
		put_str(w, " : ");
		put_value(w, val, depth + 1,
			  results && w->bound ? w->bound : SIZE_MAX);
		if (--left > 0)
			put(w, ",", 1);
	}
	newline_indent(w, depth);
	put(w, "}", 1);
}

/*
 * StyledWriter's rule: one line unless an element is a non-empty
 * container, or the one-line form "[ a, b ]" reaches the right margin.
 */
static bool array_fits_one_line(struct json_object *arr, size_t n)
{
	size_t line = 4 + (n - 1) * 2;	/* "[ " ", "... " ]" */

	if (n * 3 >= RIGHT_MARGIN)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		if (is_container(v) && !is_empty_container(v))
			return false;
		line += inline_len(v);
	}
	return line < RIGHT_MARGIN;
}

static void put_array(struct writer *w, struct json_object *arr,
		      unsigned depth, size_t limit)
{
	size_t n = json_object_array_length(arr);
	bool one_line;

	if (n > limit)
		n = limit;
	if (n == 0) {
		put_str(w, "[]");
		return;
	}
	one_line = array_fits_one_line(arr, n);
	put_str(w, one_line ? "[ " : "[");
	for (size_t i = 0; i < n; i++) {
		if (!one_line)
			newline_indent(w, depth + 1);
		put_value(w, json_object_array_get_idx(arr, i), depth + 1,
			  SIZE_MAX);
		if (i + 1 < n)
			put_str(w, one_line ? ", " : ",");
	}
	if (one_line)
		put_str(w, " ]");
	else {
		newline_indent(w, depth);
		put(w, "]", 1);
	}
}

static void put_value(struct writer *w, struct json_object *v,
		      unsigned depth, size_t limit)
{
	if (json_object_is_type(v, json_type_object))
		put_object(w, v, depth);
	else if (json_object_is_type(v, json_type_array))
		put_array(w, v, depth, limit);
	else if (json_object_is_type(v, json_type_string))
		put_quoted(w, json_object_get_string(v),
			   (size_t)json_object_get_string_len(v));
	else
		put_str(w, plain_text(v));
}

/* ---- public ------------------------------------------------------- */

char *pj_layout(struct json_object *doc, unsigned bound, size_t *len)
{
	struct writer w = { .bound = bound };

	put_value(&w, doc, 0, SIZE_MAX);
	if (w.failed || w.data == NULL) {
		free(w.data);
		return NULL;
	}
	w.len = pj_collapse_newlines(w.data, w.len);
	w.data[w.len] = '\0';
	*len = w.len;
	return w.data;
}

size_t pj_collapse_newlines(char *s, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && out > 0 && s[out - 1] == '\n')
			continue;
		s[out++] = s[i];
	}
	while (out > 0 && s[out - 1] == '\n')
		out--;
	return out;
}

struct json_object *pj_parse(const char *text, size_t len, char *why,
			     size_t whylen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc;
	enum json_tokener_error error;
	int flags = JSON_TOKENER_STRICT;

	if (tok == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
#ifdef JSON_TOKENER_VALIDATE_UTF8
	flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
	json_tokener_set_flags(tok, flags);
	doc = len > INT32_MAX ? NULL : json_tokener_parse_ex(tok, text, (int)len);
	error = json_tokener_get_error(tok);
	if (doc == NULL || error != json_tokener_success) {
		/* json-c parses a bare "null" to NULL, and calls it success. */
		snprintf(why, whylen, "%s", error == json_tokener_continue ?
			 "truncated JSON" : error == json_tokener_success ?
			 "the body is null, not a document" :
			 json_tokener_error_desc(error));
		json_object_put(doc);
		doc = NULL;
	}
	json_tokener_free(tok);
	return doc;
}

bool pj_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (val == NULL)
		return false;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

struct json_object *pj_error_doc(const char *status, const char *message)
{
	struct json_object *doc = json_object_new_object();

	if (doc == NULL)
		return NULL;
	if (!pj_add(doc, "error_message", json_object_new_string(message)) ||
	    !pj_add(doc, "html_attributions", json_object_new_array()) ||
	    !pj_add(doc, "results", json_object_new_array()) ||
	    !pj_add(doc, "status", json_object_new_string(status))) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

struct json_object *pj_results_doc(struct json_object *results)
{
	struct json_object *doc = json_object_new_object();
	size_t n = json_object_array_length(results);

	if (doc == NULL ||
	    !pj_add(doc, "html_attributions", json_object_new_array())) {
		json_object_put(doc);
		json_object_put(results);
		return NULL;
	}
	if (!pj_add(doc, "results", results) ||
	    !pj_add(doc, "status",
		    json_object_new_string(n ? "OK" : "ZERO_RESULTS"))) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

const char *pj_status(struct json_object *doc)
{
	struct json_object *status;

	if (!json_object_is_type(doc, json_type_object) ||
	    !json_object_object_get_ex(doc, "status", &status) ||
	    !json_object_is_type(status, json_type_string))
		return NULL;
	return json_object_get_string(status);
}

bool pj_status_ok(const char *status)
{
	return status != NULL && (strcmp(status, "OK") == 0 ||
				  strcmp(status, "ZERO_RESULTS") == 0);
}
