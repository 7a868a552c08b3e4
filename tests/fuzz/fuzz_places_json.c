/*
 * fuzz_places_json.c - libFuzzer target for the Places JSON handling of
 * WHATSAT replies (src/places_json.h, and the Places API (New) mapping in
 * src/places_gnew.h that feeds it).
 *
 * Input: a document as the Places service would send it.  If pj_parse()
 * accepts it, it is written with pj_layout() twice (no cut, and the
 * top-level "results" cut to 1..20 entries) and each text is checked:
 *  - it parses back (strictly, as the client would) to the same document:
 *    same keys in the same order, same strings, same numbers, "results"
 *    cut to the bound, and non-finite numbers written as null;
 *  - the layout rules: no empty line, no trailing newline, no raw control
 *    character, '<' and '>' escaped;
 * and the same for pg_map_answer() of the document (the google-new
 * provider, which goes through pj_results_doc()) and pj_error_doc().
 * Whatever the input: pj_collapse_newlines() on its bytes (short inputs)
 * and pg_request_body() on its first words behave as documented, and
 * nothing leaks.
 */
#include "fuzz_common.h"

#include <math.h>

#include <json-c/json.h>

#include "places_gnew.h"
#include "places_json.h"

/* Coverage is the library's: the checks below are not instrumented. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

/* a and b are the same, b being a's layout parsed back; limit is how
   many elements of a (an array) b keeps. */
static void check_same(struct json_object *a, struct json_object *b,
		       unsigned depth, size_t limit);

/* Where the layout cut the top-level object's "results" array. */
static size_t results_cut;

static bool non_finite(struct json_object *v)
{
	return json_object_is_type(v, json_type_double) &&
	       !isfinite(json_object_get_double(v));
}

static void check_same(struct json_object *a, struct json_object *b,
		       unsigned depth, size_t limit)
{
	enum json_type ta = json_object_get_type(a);
	enum json_type tb = json_object_get_type(b);

	FUZZ_CHECK(depth < 64, "too deep");
	if (non_finite(a)) {
		FUZZ_CHECK(tb == json_type_null, "a non-finite number is not "
			   "written as null");
		return;
	}
	FUZZ_CHECK(ta == tb || (ta == json_type_int && tb == json_type_double)
		   || (ta == json_type_double && tb == json_type_int),
		   "type %d became %d", ta, tb);
	switch (ta) {
	case json_type_object: {
		struct json_object_iterator ia = json_object_iter_begin(a);
		struct json_object_iterator ea = json_object_iter_end(a);
		struct json_object_iterator ib = json_object_iter_begin(b);
		struct json_object_iterator eb = json_object_iter_end(b);

		FUZZ_CHECK(json_object_object_length(a) ==
			   json_object_object_length(b), "member count");
		while (!json_object_iter_equal(&ia, &ea)) {
			const char *ka = json_object_iter_peek_name(&ia);
			const char *kb;

			FUZZ_CHECK(!json_object_iter_equal(&ib, &eb), "keys");
			kb = json_object_iter_peek_name(&ib);
			FUZZ_CHECK(strcmp(ka, kb) == 0, "key '%s' became '%s' "
				   "(or the order changed)", fuzz_show(ka,
				   strlen(ka)), fuzz_show(kb, strlen(kb)));
			check_same(json_object_iter_peek_value(&ia),
				   json_object_iter_peek_value(&ib), depth + 1,
				   depth == 0 && strcmp(ka, "results") == 0
				   ? results_cut : SIZE_MAX);
			json_object_iter_next(&ia);
			json_object_iter_next(&ib);
		}
		break;
	}
	case json_type_array: {
		size_t na = json_object_array_length(a);
		size_t nb = json_object_array_length(b);

		FUZZ_CHECK(nb == (na < limit ? na : limit),
			   "array of %zu became %zu (limit %zu)", na, nb,
			   limit);
		for (size_t i = 0; i < nb; i++)
			check_same(json_object_array_get_idx(a, i),
				   json_object_array_get_idx(b, i), depth + 1,
				   SIZE_MAX);
		break;
	}
	case json_type_string: {
		int la = json_object_get_string_len(a);

		FUZZ_CHECK(la == json_object_get_string_len(b) &&
			   memcmp(json_object_get_string(a),
				  json_object_get_string(b), (size_t)la) == 0,
			   "string '%s' became '%s'",
			   fuzz_show(json_object_get_string(a), (size_t)la),
			   fuzz_show(json_object_get_string(b),
				     (size_t)json_object_get_string_len(b)));
		break;
	}
	case json_type_boolean:
		FUZZ_CHECK(json_object_get_boolean(a) ==
			   json_object_get_boolean(b), "boolean");
		break;
	case json_type_int:
	case json_type_double: {
		/* Numbers are written as their text: same text, same value. */
		const char *sa = json_object_to_json_string_ext(a,
						JSON_C_TO_STRING_PLAIN);
		char copy[512];

		snprintf(copy, sizeof copy, "%s", sa);
		FUZZ_CHECK(strcmp(copy, json_object_to_json_string_ext(b,
					JSON_C_TO_STRING_PLAIN)) == 0,
			   "number %s became %s", copy,
			   json_object_to_json_string_ext(b,
						JSON_C_TO_STRING_PLAIN));
		break;
	}
	default:
		break;
	}
}

static void check_text(const char *text, size_t len)
{
	FUZZ_CHECK(text[len] == '\0' && strlen(text) == len,
		   "layout length or terminator");
	FUZZ_CHECK(len == 0 || text[len - 1] != '\n', "trailing newline");
	FUZZ_CHECK(strstr(text, "\n\n") == NULL, "an empty line");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		FUZZ_CHECK(c >= 0x20 || c == '\n', "raw control byte %02x at "
			   "%zu", c, i);
		FUZZ_CHECK(c != '<' && c != '>', "unescaped '%c'", c);
	}
}

/*
 * Parses text strictly, as a client would; deeper than json-c's default
 * 32 levels is allowed, since a document pj_parse() accepted may be
 * wrapped (pj_results_doc, pg_map_answer) a level or two deeper.  A
 * newline is added, as the reply has one after the document: a top-level
 * number only ends where something follows it.
 */
static struct json_object *parse_back(const char *text, size_t len,
				      bool *ok, const char **why)
{
	struct json_tokener *tok = json_tokener_new_ex(128);
	struct json_object *doc;
	char *copy = malloc(len + 1);
	int flags = JSON_TOKENER_STRICT;

	FUZZ_CHECK(tok != NULL && copy != NULL, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\n';
#ifdef JSON_TOKENER_VALIDATE_UTF8
	flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
	json_tokener_set_flags(tok, flags);
	/* (JSON null is a NULL object: success says it parsed) */
	doc = json_tokener_parse_ex(tok, copy, (int)len + 1);
	*ok = json_tokener_get_error(tok) == json_tokener_success;
	*why = json_tokener_error_desc(json_tokener_get_error(tok));
	if (*ok && json_tokener_get_parse_end(tok) < len) {
		*why = "data after the document";
		*ok = false;
	}
	if (!*ok) {
		json_object_put(doc);
		doc = NULL;
	}
	json_tokener_free(tok);
	free(copy);
	return doc;
}

/* Lays doc out with bound, parses it back, compares. */
static void check_layout(struct json_object *doc, unsigned bound)
{
	size_t len = 0;
	char *text = pj_layout(doc, bound, &len);
	const char *why = "";
	struct json_object *back;
	bool ok;

	if (text == NULL)	/* out of memory or over PJ_TEXT_MAX */
		return;
	FUZZ_CHECK(len <= PJ_TEXT_MAX, "%zu bytes", len);
	check_text(text, len);
	back = parse_back(text, len, &ok, &why);
	FUZZ_CHECK(ok, "layout is not valid JSON (%s): %s", why,
		   fuzz_show(text, len));
	results_cut = bound ? bound : SIZE_MAX;
	check_same(doc, back, 0, SIZE_MAX);
	json_object_put(back);
	free(text);
}

static void check_collapse(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	size_t n;

	FUZZ_CHECK(s != NULL, "out of memory");
	if (size > 0)
		memcpy(s, data, size);
	n = pj_collapse_newlines(s, size);
	FUZZ_CHECK(n <= size, "longer");
	FUZZ_CHECK(n == 0 || s[n - 1] != '\n', "trailing newline kept");
	for (size_t i = 1; i < n; i++)
		FUZZ_CHECK(!(s[i] == '\n' && s[i - 1] == '\n'), "double newline");
	/* Same bytes once each newline run is one newline (none at the
	   end). */
	size_t i = 0, j = 0;

	while (i < size) {
		if (data[i] == '\n') {
			while (i < size && data[i] == '\n')
				i++;
			if (i == size)
				break;
			FUZZ_CHECK(j < n && s[j] == '\n', "run not collapsed");
		} else {
			FUZZ_CHECK(j < n && s[j] == (char)data[i], "byte lost");
			i++;
		}
		j++;
	}
	FUZZ_CHECK(j == n, "%zu bytes out, %zu expected", n, j);
	FUZZ_CHECK(pj_collapse_newlines(s, n) == n, "not idempotent");
	free(s);
}

/* Up to three words of the input as the lat, lng and radius texts. */
static void check_request_body(const uint8_t *data, size_t size)
{
	char words[3][48];
	size_t w = 0, i = 0;
	char *body, why[128];
	struct json_object *doc;

	while (w < 3 && i < size) {
		size_t n = 0;

		while (i < size && data[i] == ' ')
			i++;
		while (i < size && data[i] != ' ' && data[i] != '\0' &&
		       n < sizeof words[0] - 1)
			words[w][n++] = (char)data[i++];
		if (i < size && data[i] == '\0')
			i++;
		words[w++][n] = '\0';
	}
	if (w < 3)
		return;
	body = pg_request_body(words[0], words[1], words[2], 20);
	if (body == NULL)
		return;
	doc = pj_parse(body, strlen(body), why, sizeof why);
	FUZZ_CHECK(doc != NULL, "request body is not JSON (%s): %s", why,
		   fuzz_show(body, strlen(body)));
	{
		struct json_object *r, *c, *center, *lat, *lng, *rad;

		FUZZ_CHECK(json_object_object_get_ex(doc, "locationRestriction",
						     &r) &&
			   json_object_object_get_ex(r, "circle", &c) &&
			   json_object_object_get_ex(c, "center", &center) &&
			   json_object_object_get_ex(center, "latitude", &lat) &&
			   json_object_object_get_ex(center, "longitude", &lng) &&
			   json_object_object_get_ex(c, "radius", &rad),
			   "request body shape: %s", body);
		/* (json-c reads a long integer as it likes: skip those) */
		FUZZ_CHECK((strlen(words[0]) > 16 ||
			    json_object_get_double(lat) ==
			    strtod(words[0], NULL)) &&
			   (strlen(words[1]) > 16 ||
			    json_object_get_double(lng) ==
			    strtod(words[1], NULL)) &&
			   (strlen(words[2]) > 16 ||
			    json_object_get_double(rad) ==
			    strtod(words[2], NULL)),
			   "request numbers changed: %s", body);
	}
	json_object_put(doc);
	free(body);
}

/* Valid UTF-8 prefix of the input, as a C string for pj_error_doc. */
static void check_error_doc(const uint8_t *data, size_t size)
{
	char msg[256];
	size_t n = 0, i = 0;
	struct json_object *doc;

	while (i < size && n + 5 < sizeof msg && data[i] != '\0') {
		unsigned char c = data[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			   (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = k > 0 && i + k <= size;

		for (size_t j = 1; ok && j < k; j++)
			ok = (data[i + j] & 0xc0) == 0x80;
		if (ok && k == 2 && c < 0xc2)
			ok = false;		/* overlong */
		if (ok && k == 3) {
			unsigned cp = (c & 0x0fu) << 12 |
				      (data[i + 1] & 0x3fu) << 6 |
				      (data[i + 2] & 0x3fu);
			ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok && k == 4) {
			unsigned cp = (c & 0x07u) << 18 |
				      (data[i + 1] & 0x3fu) << 12 |
				      (data[i + 2] & 0x3fu) << 6 |
				      (data[i + 3] & 0x3fu);
			ok = cp >= 0x10000 && cp <= 0x10ffff;
		}
		if (!ok)
			break;
		memcpy(msg + n, data + i, k);
		n += k;
		i += k;
	}
	msg[n] = '\0';
	doc = pj_error_doc("UNKNOWN_ERROR", msg);
	FUZZ_CHECK(doc != NULL, "pj_error_doc");
	FUZZ_CHECK(pj_status(doc) && strcmp(pj_status(doc),
					    "UNKNOWN_ERROR") == 0 &&
		   !pj_status_ok(pj_status(doc)), "error status");
	check_layout(doc, 0);
	json_object_put(doc);
}

static void check_doc(struct json_object *doc, size_t size)
{
	const char *status = pj_status(doc);
	struct json_object *mapped, *results;

	FUZZ_CHECK(pj_status_ok(status) == (status != NULL &&
		   (strcmp(status, "OK") == 0 ||
		    strcmp(status, "ZERO_RESULTS") == 0)), "pj_status_ok");
	check_layout(doc, 0);
	if (json_object_object_get_ex(doc, "results", &results) &&
	    json_object_is_type(results, json_type_array))
		check_layout(doc, 1 + (unsigned)(size % 20));
	/* The google-new shape, as places.c uses it. */
	(void)pg_error_message(doc);
	mapped = pg_map_answer(doc);
	if (mapped != NULL) {
		FUZZ_CHECK(pj_status_ok(pj_status(mapped)), "mapped status");
		FUZZ_CHECK(json_object_object_get_ex(mapped, "results",
						     &results) &&
			   json_object_is_type(results, json_type_array),
			   "mapped results");
		check_layout(mapped, 1 + (unsigned)(size % 20));
		json_object_put(mapped);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[128] = "";
	struct json_object *doc;

	doc = pj_parse((const char *)data, size, why, sizeof why);
	/* ("null" parses to NULL, which pj_parse cannot tell from failure) */
	if (doc != NULL) {
		check_doc(doc, size);
		json_object_put(doc);
	} else {
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof why),
			   "no reason for a refused document");
	}
	if (size <= 512)	/* it is simple: spend the time elsewhere */
		check_collapse(data, size);
	check_request_body(data, size);
	check_error_doc(data, size);
	return 0;
}

#pragma clang attribute pop
