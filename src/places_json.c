/*
 * places_json.c - Places documents as text, in Google's layout.
 *
 * The writer mirrors JsonCpp's StyledWriter, which is what Google's
 * answers look like: an object is "{", then each member on its own line
 * as indent + "key" : value, then "}" on a line at the object's indent; an
 * array is either "[ a, b ]" on one line or "[", one element per line,
 * "]".  Numbers are written from the text json-c kept when it parsed them,
 * so 34.0689254 stays 34.0689254 and 1e2 stays 1e2.
 *
 * pj_parse_cut() spares json-c the results no one will be sent: a scan of
 * strings and brackets finds where they lie in the text, and json-c is fed
 * the text around them.
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

/* A newline and the indent of depth, in as few copies as it takes. */
static void newline_indent(struct writer *w, unsigned depth)
{
	static const char spaces[] = "\n"
		"                                                "
		"                                                ";
	const size_t most = sizeof spaces - 2;	/* spaces after the "\n" */
	size_t left = (size_t)depth * INDENT_LEN;
	size_t n = left < most ? left : most;

	put(w, spaces, 1 + n);
	for (left -= n; left > 0; left -= n) {
		n = left < most ? left : most;
		put(w, spaces + 1, n);
	}
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

/* Whether escape_of(c) is NULL, without its switch: most bytes are. */
static bool is_plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>';
}

static size_t quoted_len(const char *s, size_t n)
{
	size_t len = 2;
	char tmp[8];

	for (size_t i = 0; i < n; i++)
		len += is_plain((unsigned char)s[i]) ? 1 :
		       strlen(escape_of((unsigned char)s[i], tmp));
	return len;
}

static void put_quoted(struct writer *w, const char *s, size_t n)
{
	size_t plain = 0;	/* start of the run of bytes copied as is */
	char tmp[8];

	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (is_plain((unsigned char)s[i]))
			continue;
		put(w, s + plain, i - plain);
		put_str(w, escape_of((unsigned char)s[i], tmp));
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

/* ---- cutting "results" in the text ------------------------------- */

/*
 * The scanner follows strings and brackets only, never recursing.  It
 * gives up on nesting deeper than json-c parses, so that json-c, not a
 * cut, still rejects such a text.
 */
#define SCAN_DEPTH_MAX JSON_TOKENER_DEFAULT_DEPTH
_Static_assert(SCAN_DEPTH_MAX <= 64, "one bit per level in a uint64_t");

struct scan {
	const char *text;
	size_t len, at;		/* at <= len */
	unsigned depth;		/* containers open at text[at] */
	uint64_t arrays;	/* bit d - 1: the container at depth d is [] */
};

/* The bytes to leave out: [from, to), a comma up to a closing ']'. */
struct cut {
	size_t from, to;
};

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(struct scan *s)
{
	while (s->at < s->len && is_json_space(s->text[s->at]))
		s->at++;
}

/* A quote is escaped when an odd run of backslashes precedes it. */
static bool quote_is_escaped(const struct scan *s, size_t quote, size_t start)
{
	size_t i = quote;

	while (i > start && s->text[i - 1] == '\\')
		i--;
	return (quote - i) % 2 == 1;
}

/* From the '"' at s->at to just past its closing quote; false if none. */
static bool skip_string(struct scan *s)
{
	size_t start = s->at + 1, at = start;
	const char *quote;

	for (;;) {
		quote = memchr(s->text + at, '"', s->len - at);
		if (quote == NULL)
			return false;
		at = (size_t)(quote - s->text);
		if (!quote_is_escaped(s, at, start))
			break;
		at++;
	}
	s->at = at + 1;
	return true;
}

static bool open_container(struct scan *s, bool array)
{
	if (s->depth >= SCAN_DEPTH_MAX)
		return false;
	if (array)
		s->arrays |= UINT64_C(1) << s->depth;
	else
		s->arrays &= ~(UINT64_C(1) << s->depth);
	s->depth++;
	s->at++;
	return true;
}

/* Closes the innermost container, if c is the bracket that matches it. */
static bool close_container(struct scan *s, char c)
{
	bool array;

	if (s->depth == 0)
		return false;
	array = (s->arrays >> (s->depth - 1)) & 1;
	if (array != (c == ']'))
		return false;
	s->depth--;
	s->at++;
	return true;
}

/* The bytes the scanner stops at; it skips runs of others at once. */
static const bool structural[256] = {
	['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true,
	[','] = true,
};

/*
 * The first structural byte from at on, or len.  It works on locals: a
 * char read may alias s->at, which would cost a store per byte.
 */
static size_t skip_plain(const char *text, size_t len, size_t at)
{
	while (at < len && !structural[(unsigned char)text[at]])
		at++;
	return at;
}

/*
 * Moves past one string, bracket or comma, or a run of other bytes; false
 * if the text ends or is unbalanced there.
 */
static bool step(struct scan *s)
{
	switch (s->text[s->at]) {
	case '"':
		return skip_string(s);
	case '{':
	case '[':
		return open_container(s, s->text[s->at] == '[');
	case '}':
	case ']':
		return close_container(s, s->text[s->at]);
	default:
		s->at = skip_plain(s->text, s->len, s->at + 1);
		return true;
	}
}

/*
 * After the string that ended at s->at (it began at start): if it was the
 * key "results", true with s->at on what follows its ':'.
 */
static bool is_results_key(struct scan *s, size_t start)
{
	static const char key[] = "\"results\"";

	if (s->at - start != sizeof key - 1 ||
	    memcmp(s->text + start, key, sizeof key - 1) != 0)
		return false;
	skip_space(s);
	if (s->at == s->len || s->text[s->at] != ':')
		return false;
	s->at++;
	skip_space(s);
	return true;
}

/*
 * Into the array of the top-level object's first "results" member: true
 * with s->at just past its '['; false if there is none.
 */
static bool enter_results(struct scan *s)
{
	skip_space(s);
	if (s->at == s->len || s->text[s->at] != '{')
		return false;
	(void)open_container(s, false);
	while (s->at < s->len && s->depth > 0) {
		size_t start = s->at;

		if (s->depth > 1 || s->text[s->at] != '"') {
			if (!step(s))
				return false;
		} else if (!skip_string(s))
			return false;
		else if (is_results_key(s, start))
			return s->at < s->len && s->text[s->at] == '[' &&
			       open_container(s, true);
	}
	return false;
}

/*
 * Whether a value ends before the ',' or ']' at text[at], not the array's
 * '[' or another comma: elements are counted by commas, and "[1,,2]" cut
 * to "[1]" would parse.
 */
static bool value_before(const struct scan *s, size_t at)
{
	size_t i = at;

	while (i > 0 && is_json_space(s->text[i - 1]))
		i--;
	return i > 0 && s->text[i - 1] != '[' && s->text[i - 1] != ',';
}

/*
 * Inside "results" (depth 2), finds its keep-th comma and the ']' that
 * closes it.  False if the array has no more than keep elements or does
 * not close.
 */
static bool find_cut_in_results(struct scan *s, unsigned keep,
				struct cut *cut)
{
	unsigned commas = 0;

	while (s->at < s->len) {
		char c = s->text[s->at];

		if (s->depth == 2 && (c == ',' || c == ']') &&
		    !value_before(s, s->at))
			return false;
		if (s->depth == 2 && c == ',' && ++commas == keep)
			cut->from = s->at;
		if (s->depth == 2 && c == ']') {
			cut->to = s->at;
			return commas >= keep;
		}
		if (!step(s))
			return false;
	}
	return false;
}

static bool find_results_cut(const char *text, size_t len, unsigned keep,
			     struct cut *cut)
{
	struct scan s = { .text = text, .len = len };

	return enter_results(&s) && find_cut_in_results(&s, keep, cut);
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
	size_t out = 0, at = 0;

	/* From newline to newline with memchr: the text moves in runs. */
	while (at < len) {
		const char *nl = memchr(s + at, '\n', len - at);
		size_t run = nl != NULL ? (size_t)(nl - s) + 1 - at : len - at;

		if (out != at)
			memmove(s + out, s + at, run);
		out += run;
		at += run;
		while (nl != NULL && at < len && s[at] == '\n')
			at++;
	}
	while (out > 0 && s[out - 1] == '\n')
		out--;
	return out;
}

/* A tokener as strict as Google's JSON allows us to be. */
static struct json_tokener *strict_tokener(void)
{
	struct json_tokener *tok = json_tokener_new();
	int flags = JSON_TOKENER_STRICT;

	if (tok == NULL)
		return NULL;
#ifdef JSON_TOKENER_VALIDATE_UTF8
	flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
	json_tokener_set_flags(tok, flags);
	return tok;
}

/* doc if tok parsed one, else NULL and why; frees tok either way. */
static struct json_object *parse_result(struct json_tokener *tok,
					struct json_object *doc, char *why,
					size_t whylen)
{
	enum json_tokener_error error = json_tokener_get_error(tok);

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

struct json_object *pj_parse(const char *text, size_t len, char *why,
			     size_t whylen)
{
	struct json_tokener *tok = strict_tokener();

	if (tok == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	return parse_result(tok, len > INT32_MAX ? NULL :
			    json_tokener_parse_ex(tok, text, (int)len),
			    why, whylen);
}

struct json_object *pj_parse_cut(const char *text, size_t len, unsigned keep,
				 char *why, size_t whylen)
{
	struct cut cut = { 0, 0 };
	struct json_tokener *tok;
	struct json_object *doc;

	if (keep == 0 || len > INT32_MAX ||
	    !find_results_cut(text, len, keep, &cut) ||
	    (tok = strict_tokener()) == NULL)
		return pj_parse(text, len, why, whylen);
	/* One document in two chunks: json-c's incremental parse. */
	doc = json_tokener_parse_ex(tok, text, (int)cut.from);
	if (doc != NULL ||
	    json_tokener_get_error(tok) != json_tokener_continue) {
		/* Bad before the cut: let the whole text say how. */
		json_object_put(doc);
		json_tokener_free(tok);
		return pj_parse(text, len, why, whylen);
	}
	doc = json_tokener_parse_ex(tok, text + cut.to, (int)(len - cut.to));
	return parse_result(tok, doc, why, whylen);
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
