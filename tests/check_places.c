/*
 * check_places.c - tests for the Places client (src/places*.c).
 *
 * Four groups:
 *   layout  the JSON layout writer, byte for byte, on small documents and
 *           on tests/data/nearby-25.json (written in Google's layout)
 *   cut     pj_parse_cut() against pj_parse(): the same layouts, the same
 *           verdicts on every prefix, and mutants that never crash it
 *   file    the offline provider (tests/data/places-line.json,
 *           etc/places-demo.json), found through HERD_SRCDIR
 *   fake    end to end against tests/fake_places (FAKE_PLACES), started
 *           per test on an ephemeral port, with its request log read back
 *
 * Every wait has a deadline, and the fake server is killed and reaped in
 * teardown, at exit, and by PR_SET_PDEATHSIG if this process dies.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "places.h"
#include "places_file.h"
#include "places_gnew.h"
#include "places_json.h"
#include "tap.h"

#define KEY_ENV "HERD_TEST_PLACES_KEY"
#define TEST_KEY "test-key-123"
#define UCLA "+34.068930-118.445127"
#define NEARBY_PATH "/maps/api/place/nearbysearch/json"
#define NEW_PATH "/v1/places:searchNearby"

/* ---- paths and files ---------------------------------------------- */

static const char *env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value != NULL && value[0] != '\0' ? value : fallback;
}

/* HERD_SRCDIR/rel, in one of a few static buffers. */
static const char *src_path(const char *rel)
{
	static char paths[4][1024];
	static unsigned next;
	char *path = paths[next++ % 4];

	snprintf(path, sizeof paths[0], "%s/%s", env_or("HERD_SRCDIR", "."),
		 rel);
	return path;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *text;
	long len;

	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	ck_assert_int_ge(len, 0);
	rewind(fp);
	text = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return text;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- layout helpers ----------------------------------------------- */

static struct json_object *parse(const char *text)
{
	char why[128];
	struct json_object *doc = pj_parse(text, strlen(text), why, sizeof why);

	ck_assert_msg(doc != NULL, "not parsed (%s): %s", why, text);
	return doc;
}

static char *layout(struct json_object *doc, unsigned bound)
{
	size_t len = 0;
	char *text = pj_layout(doc, bound, &len);

	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	return text;
}

static void assert_layout(const char *input, unsigned bound,
			  const char *expected)
{
	struct json_object *doc = parse(input);
	char *text = layout(doc, bound);

	ck_assert_str_eq(text, expected);
	free(text);
	json_object_put(doc);
}

/* The fixture cut after its bound-th result, as pj_layout must write it. */
static char *fixture_cut(const char *fixture, unsigned bound)
{
	const char *end = strstr(fixture, "\"results\" : [\n");
	static const char tail[] = "\n   ],\n   \"status\" : \"OK\"\n}";
	char *out;
	size_t n;

	ck_assert_ptr_nonnull(end);
	for (unsigned i = 0; i < bound; i++) {
		end = strstr(end + 1, "\n      }");
		ck_assert_ptr_nonnull(end);
	}
	end += strlen("\n      }");
	n = (size_t)(end - fixture);
	out = malloc(n + sizeof tail);
	ck_assert_ptr_nonnull(out);
	memcpy(out, fixture, n);
	memcpy(out + n, tail, sizeof tail);
	return out;
}

static size_t results_length(const char *json)
{
	struct json_object *doc = parse(json), *results;
	size_t n;

	ck_assert(json_object_object_get_ex(doc, "results", &results));
	n = json_object_array_length(results);
	json_object_put(doc);
	return n;
}

/* A top-level string member of a JSON text, copied; NULL if absent. */
static char *member_of(const char *json, const char *key)
{
	struct json_object *doc = parse(json), *v;
	char *copy = NULL;

	if (json_object_object_get_ex(doc, key, &v))
		copy = strdup(json_object_get_string(v));
	json_object_put(doc);
	return copy;
}

static void assert_status(const char *json, const char *status)
{
	char *got = member_of(json, "status");

	ck_assert_msg(got != NULL && strcmp(got, status) == 0,
		      "status %s, not %s, in:\n%s", got, status, json);
	free(got);
}

/* Message contains want; the key never appears anywhere. */
static void assert_message(const char *json, const char *want)
{
	char *msg = member_of(json, "error_message");

	ck_assert_msg(msg != NULL && strstr(msg, want) != NULL,
		      "error_message \"%s\" lacks \"%s\"", msg, want);
	ck_assert_ptr_null(strstr(json, TEST_KEY));
	free(msg);
}

/* ---- layout tests ------------------------------------------------- */

START_TEST(layout_nested_objects)
{
	assert_layout("{\"a\": {\"b\": {\"c\": 1}}, \"d\": \"x\"}", 0,
		      "{\n"
		      "   \"a\" : {\n"
		      "      \"b\" : {\n"
		      "         \"c\" : 1\n"
		      "      }\n"
		      "   },\n"
		      "   \"d\" : \"x\"\n"
		      "}");
}
END_TEST

START_TEST(layout_empty_containers)
{
	assert_layout("{\"a\": [], \"b\": {}, \"c\": [[], {}], \"d\": {\"e\": []}}",
		      0,
		      "{\n"
		      "   \"a\" : [],\n"
		      "   \"b\" : {},\n"
		      "   \"c\" : [ [], {} ],\n"
		      "   \"d\" : {\n"
		      "      \"e\" : []\n"
		      "   }\n"
		      "}");
	assert_layout("{}", 0, "{}");
}
END_TEST

START_TEST(layout_scalar_array_inline)
{
	assert_layout("{\"types\":[\"university\",\"point_of_interest\","
		      "\"establishment\"],\"n\":[1,2.5,true,null,false]}", 0,
		      "{\n"
		      "   \"types\" : [ \"university\", \"point_of_interest\", "
		      "\"establishment\" ],\n"
		      "   \"n\" : [ 1, 2.5, true, null, false ]\n"
		      "}");
}
END_TEST

/* "[ " + 69 bytes + " ]" is 73 columns: one line; one byte more: split. */
START_TEST(layout_long_scalar_array_split)
{
	char input[256], expected[512];
	const char *s67 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

	snprintf(input, sizeof input, "{\"a\":[\"%s\"]}", s67);
	snprintf(expected, sizeof expected, "{\n   \"a\" : [ \"%s\" ]\n}", s67);
	assert_layout(input, 0, expected);
	snprintf(input, sizeof input, "{\"a\":[\"%sb\"]}", s67);
	snprintf(expected, sizeof expected,
		 "{\n   \"a\" : [\n      \"%sb\"\n   ]\n}", s67);
	assert_layout(input, 0, expected);
}
END_TEST

START_TEST(layout_array_of_objects)
{
	assert_layout("{\"results\":[{\"a\":1},{\"b\":[1]},{}],\"m\":[[1,[2]]]}",
		      0,
		      "{\n"
		      "   \"results\" : [\n"
		      "      {\n"
		      "         \"a\" : 1\n"
		      "      },\n"
		      "      {\n"
		      "         \"b\" : [ 1 ]\n"
		      "      },\n"
		      "      {}\n"
		      "   ],\n"
		      "   \"m\" : [\n"
		      "      [\n"
		      "         1,\n"
		      "         [ 2 ]\n"
		      "      ]\n"
		      "   ]\n"
		      "}");
}
END_TEST

START_TEST(layout_numbers_as_written)
{
	assert_layout("{\"lat\":34.0689254,\"lng\":-118.4451815,\"rating\":4.5,"
		      "\"e\":1e2,\"E\":-1.5E-3,\"z\":0.10,\"i\":42,\"neg\":-7,"
		      "\"big\":34.07424532989272}", 0,
		      "{\n"
		      "   \"lat\" : 34.0689254,\n"
		      "   \"lng\" : -118.4451815,\n"
		      "   \"rating\" : 4.5,\n"
		      "   \"e\" : 1e2,\n"
		      "   \"E\" : -1.5E-3,\n"
		      "   \"z\" : 0.10,\n"
		      "   \"i\" : 42,\n"
		      "   \"neg\" : -7,\n"
		      "   \"big\" : 34.07424532989272\n"
		      "}");
}
END_TEST

START_TEST(layout_unicode_kept)
{
	assert_layout("{\"name\":\"Caf\\u00e9 1919\",\"b\":\"東京 😀\"}", 0,
		      "{\n"
		      "   \"name\" : \"Café 1919\",\n"
		      "   \"b\" : \"東京 😀\"\n"
		      "}");
}
END_TEST

START_TEST(layout_escapes)
{
	assert_layout("{\"k\\\"\":\"q\\\"b\\\\s/n\\nt\\tc\\u0001\\r\\b\\f"
		      "<a href=\\\"x\\\">\"}", 0,
		      "{\n"
		      "   \"k\\\"\" : \"q\\\"b\\\\s/n\\nt\\tc\\u0001\\r\\b\\f"
		      "\\u003ca href=\\\"x\\\"\\u003e\"\n"
		      "}");
}
END_TEST

START_TEST(layout_not_finite_is_null)
{
	assert_layout("[NaN, -Infinity]", 0, "[ null, null ]");
}
END_TEST

START_TEST(layout_fixture_round_trip)
{
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));
	struct json_object *doc = parse(fixture);
	char *text = layout(doc, 0);

	fixture[strlen(fixture) - 1] = '\0';	/* its final newline */
	ck_assert_str_eq(text, fixture);
	free(text);
	json_object_put(doc);
	free(fixture);
}
END_TEST

static void assert_fixture_cut(unsigned bound, unsigned expect_results)
{
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));
	struct json_object *doc = parse(fixture);
	char *text = layout(doc, bound);
	char *expected = fixture_cut(fixture, expect_results);

	ck_assert_str_eq(text, expected);
	ck_assert_uint_eq(results_length(text), expect_results);
	free(expected);
	free(text);
	json_object_put(doc);
	free(fixture);
}

START_TEST(layout_bound_25_to_3) { assert_fixture_cut(3, 3); } END_TEST
START_TEST(layout_bound_25_to_20) { assert_fixture_cut(20, 20); } END_TEST
START_TEST(layout_bound_25_to_1) { assert_fixture_cut(1, 1); } END_TEST
START_TEST(layout_bound_above_results) { assert_fixture_cut(30, 25); } END_TEST

START_TEST(layout_bound_only_top_level)
{
	assert_layout("{\"results\":[{\"results\":[1,2,3]},{\"x\":1}],"
		      "\"y\":{\"results\":[1,2]}}", 1,
		      "{\n"
		      "   \"results\" : [\n"
		      "      {\n"
		      "         \"results\" : [ 1, 2, 3 ]\n"
		      "      }\n"
		      "   ],\n"
		      "   \"y\" : {\n"
		      "      \"results\" : [ 1, 2 ]\n"
		      "   }\n"
		      "}");
}
END_TEST

static void assert_collapsed(const char *in, const char *out)
{
	char buf[64];
	size_t n;

	snprintf(buf, sizeof buf, "%s", in);
	n = pj_collapse_newlines(buf, strlen(buf));
	buf[n] = '\0';
	ck_assert_str_eq(buf, out);
}

START_TEST(newline_runs_collapse)
{
	assert_collapsed("a\n\n\nb\n\nc", "a\nb\nc");
	assert_collapsed("a\nb\n", "a\nb");
	assert_collapsed("a\n\n\n", "a");
	assert_collapsed("\n\n", "");
	assert_collapsed("", "");
	assert_collapsed("x", "x");
	assert_collapsed("\n\na", "\na");
	assert_collapsed("\na\n", "\na");
	assert_collapsed("ab\n\ncd\n\n\nef\ng\n\n", "ab\ncd\nef\ng");
	assert_collapsed("a\n\n\n\n\n\n\n\nb", "a\nb");
}
END_TEST

/* Deeper than one copy of the indent covers: every level still counts. */
START_TEST(deep_documents_indent_fully)
{
	enum { LEVELS = 40 };
	struct json_object *doc = json_object_new_object(), *at = doc;
	char want[4 + LEVELS * 3 + 16], *text;
	size_t len;

	for (int i = 0; i < LEVELS; i++) {
		struct json_object *inner = json_object_new_object();
		ck_assert(pj_add(at, "a", inner));
		at = inner;
	}
	ck_assert(pj_add(at, "k", json_object_new_int(1)));
	snprintf(want, sizeof want, "\n%*s\"k\" : 1\n", (LEVELS + 1) * 3, "");
	text = pj_layout(doc, 0, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, want));
	free(text);
	json_object_put(doc);
}
END_TEST

static const char none_doc[] =
	"{\n"
	"   \"error_message\" : \"No Places service is configured on this herd\",\n"
	"   \"html_attributions\" : [],\n"
	"   \"results\" : [],\n"
	"   \"status\" : \"REQUEST_DENIED\"\n"
	"}";

START_TEST(error_document_layout)
{
	struct json_object *doc = pj_error_doc("REQUEST_DENIED",
		"No Places service is configured on this herd");
	char *text = layout(doc, 5);

	ck_assert_str_eq(text, none_doc);
	ck_assert_str_eq(pj_status(doc), "REQUEST_DENIED");
	ck_assert(!pj_status_ok(pj_status(doc)));
	free(text);
	json_object_put(doc);
}
END_TEST

START_TEST(parse_rejects_bad_json)
{
	static const char *const bad[] = {
		"{\"results\": [", "{\"a\":1} x", "[01]", "[1,]", "\"\xff\"", "",
	};
	char why[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct json_object *doc = pj_parse(bad[i], strlen(bad[i]), why,
						   sizeof why);
		ck_assert_msg(doc == NULL, "accepted: %s", bad[i]);
		ck_assert(why[0] != '\0');
	}
}
END_TEST

/* ---- cutting "results" before parsing ----------------------------- */

struct parsed {
	struct json_object *doc;
	char why[128];
};

/* How much of a text a failure message shows (Check's are bounded). */
static int shown(size_t len)
{
	return len < 300 ? (int)len : 300;
}

/*
 * Parses text[0..len) from a buffer of exactly len bytes (no NUL after
 * it), so that ASan catches any read past the end; keep 0: pj_parse().
 */
static struct parsed parse_exact(const char *text, size_t len, unsigned keep)
{
	struct parsed r = { .doc = NULL };
	char *copy = malloc(len > 0 ? len : 1);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, len);
	r.doc = keep == 0 ? pj_parse(copy, len, r.why, sizeof r.why) :
		pj_parse_cut(copy, len, keep, r.why, sizeof r.why);
	free(copy);
	return r;
}

/* Layouts for bounds 1..keep are the same from both documents. */
static void assert_same_layouts(struct json_object *whole,
				struct json_object *cut, unsigned keep)
{
	for (unsigned bound = 1; bound <= keep; bound++) {
		char *want = layout(whole, bound), *got = layout(cut, bound);
		size_t at = 0;

		while (want[at] != '\0' && want[at] == got[at])
			at++;
		ck_assert_msg(want[at] == got[at], "bound %u: byte %zu is "
			      "\"%.40s\", not \"%.40s\"", bound, at, got + at,
			      want + at);
		free(want);
		free(got);
	}
}

/*
 * The cut parse of text agrees with the whole one: both fail with the
 * same reason, or both succeed and lay out alike for bounds 1..keep.
 */
static void assert_cut_agrees_n(const char *text, size_t len, unsigned keep)
{
	struct parsed whole = parse_exact(text, len, 0);
	struct parsed cut = parse_exact(text, len, keep);

	ck_assert_msg((whole.doc != NULL) == (cut.doc != NULL),
		      "keep %u: whole %s, cut %s, for: %.*s", keep,
		      whole.doc != NULL ? "parsed" : whole.why,
		      cut.doc != NULL ? "parsed" : cut.why, shown(len), text);
	if (whole.doc == NULL)
		ck_assert_str_eq(cut.why, whole.why);
	else
		assert_same_layouts(whole.doc, cut.doc, keep);
	json_object_put(whole.doc);
	json_object_put(cut.doc);
}

static void assert_cut_agrees(const char *text, unsigned keep)
{
	assert_cut_agrees_n(text, strlen(text), keep);
}

/* The cut parse succeeds and json-c saw results_seen top-level results. */
static void assert_cut_sees(const char *text, unsigned keep,
			    size_t results_seen)
{
	struct parsed cut = parse_exact(text, strlen(text), keep);
	struct json_object *results;

	ck_assert_msg(cut.doc != NULL, "keep %u: %s: %.*s", keep, cut.why,
		      shown(strlen(text)), text);
	ck_assert(json_object_object_get_ex(cut.doc, "results", &results));
	ck_assert_msg(json_object_array_length(results) == results_seen,
		      "keep %u: %zu results, not %zu: %.*s", keep,
		      json_object_array_length(results), results_seen,
		      shown(strlen(text)), text);
	json_object_put(cut.doc);
	assert_cut_agrees(text, keep);
}

/* A well-formed document with n top-level results, for keeps 1..n + 1. */
static void assert_cut_keeps_first(const char *text, size_t n)
{
	for (unsigned keep = 1; keep <= n + 1; keep++)
		assert_cut_sees(text, keep, keep < n ? keep : n);
}

START_TEST(cut_fixture_same_layout)
{
	static const unsigned keeps[] = { 1, 5, 20, 25, 26 };
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));

	for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++)
		assert_cut_sees(fixture, keeps[i],
				keeps[i] < 25 ? keeps[i] : 25);
	assert_cut_sees(fixture, 0, 25);
	free(fixture);
}
END_TEST

/* Strings that a scanner blind to them would take for structure. */
static const char tricky_strings[] =
	"{\"html_attributions\":[\"]\",\"{\\\"results\\\":[\",\",,\"],"
	"\"results\":["
	"{\"name\":\"a]b,c{d\",\"note\":\"\\\"results\\\":[1,2]\"},"
	"{\"name\":\"quote \\\" inside\",\"x\":\"back\\\\\"},"
	"{\"name\":\"\\\\\\\"\",\"y\":\"]]],\"},"
	"{\"name\":\"}{][\",\"z\":\",\"},"
	"{\"name\":\"\\\\\\\\\"}],"
	"\"status\":\"OK\"}";

START_TEST(cut_strings_with_brackets_quotes_backslashes)
{
	assert_cut_keeps_first(tricky_strings, 5);
}
END_TEST

static const char nested[] =
	"{\"results\":[[1,[2,3]],{\"a\":{\"b\":[4,{\"c\":5}]}},[],{},"
	"[[[]]],\"s\",7,true,null,-1.5e3],\"status\":\"OK\"}";

START_TEST(cut_nested_containers)
{
	assert_cut_keeps_first(nested, 10);
}
END_TEST

static const char results_elsewhere[] =
	"{\"a\":\"results\" ,\"b\":{\"results\":[1,2,3]},"
	"\"c\":[\"results\",{\"results\":[9,8,7]}],"
	"\"results\":[1,2,3,4],\"d\":\"results\",\"status\":\"OK\"}";

START_TEST(cut_results_as_value_and_nested_key)
{
	assert_cut_keeps_first(results_elsewhere, 4);
}
END_TEST

static const char *const spacings[] = {
	"{\"results\":[1,2,3],\"status\":\"OK\"}",
	"{ \"results\" : [ 1 , 2 , 3 ] , \"status\" : \"OK\" }",
	" \r\n\t{\r\n\"results\"\t:\n[\n1\n,\n2\n,3\n]\n}\n ",
	"{\"results\"\n\n:[1 ,2 ,3 ]}",
};

START_TEST(cut_whitespace_variants)
{
	for (size_t i = 0; i < sizeof spacings / sizeof spacings[0]; i++)
		assert_cut_keeps_first(spacings[i], 3);
}
END_TEST

START_TEST(cut_empty_and_short_results)
{
	assert_cut_keeps_first("{\"results\":[],\"status\":\"ZERO_RESULTS\"}",
			       0);
	assert_cut_keeps_first("{\"results\":[ \n ]}", 0);
	assert_cut_keeps_first("{\"results\":[{\"a\":[1,2,3]}]}", 1);
	assert_cut_sees("{\"results\":[1,2],\"status\":\"OK\"}", 20, 2);
}
END_TEST

START_TEST(cut_duplicate_results_keys)
{
	/* json-c keeps the last; only the first is cut */
	assert_cut_sees("{\"results\":[1,2,3,4],\"status\":\"OK\","
			"\"results\":[5,6,7]}", 2, 3);
	assert_cut_sees("{\"results\":[1,2],\"results\":[3,4,5,6]}", 1, 4);
	assert_cut_sees("{\"results\":\"none\",\"results\":[3,4,5,6]}", 1, 4);
}
END_TEST

/* n containers deep at the results' elements: 2 + n in all. */
static char *nested_results(unsigned n)
{
	char *text = malloc(64 + 2 * n);
	size_t len;

	ck_assert_ptr_nonnull(text);
	len = (size_t)sprintf(text, "{\"results\":[1,");
	memset(text + len, '[', n);
	memset(text + len + n, ']', n);
	strcpy(text + len + 2 * n, "]}");
	return text;
}

START_TEST(cut_depth_as_json_c)
{
	char *deepest = nested_results(JSON_TOKENER_DEFAULT_DEPTH - 2);
	char *too_deep = nested_results(JSON_TOKENER_DEFAULT_DEPTH - 1);
	struct parsed whole = parse_exact(too_deep, strlen(too_deep), 0);

	ck_assert_ptr_null(whole.doc);	/* json-c's limit, not ours */
	assert_cut_sees(deepest, 1, 1);
	assert_cut_agrees(too_deep, 1);
	free(deepest);
	free(too_deep);
}
END_TEST

/* Shapes that are parsed whole: same verdict and reason as pj_parse(). */
START_TEST(cut_falls_back_to_whole_parse)
{
	static const char *const texts[] = {
		"[{\"results\":[1,2,3]}]",
		"{\"results\":{\"a\":[1,2],\"b\":2},\"x\":[1,2]}",
		"{\"results\":[1,2,{]}],\"status\":\"OK\"}",
		"{\"results\":[1,2,[}],\"status\":\"OK\"}",
		"{\"results\":[1,2,\"open]}",
		"{\"results\":[,1,2]}",
		"{\"results\":[1,,2]}",
		"{\"results\":[1,2,]}",
		"{\"results\":[1 2,3]}",
		"{\"results\" [1,2,3]}",
		"{\"a\":01,\"results\":[1,2,3]}",
		"{\"results\":[1,2,3]} x",
		"{\"results\":[1,2,3]",
		"{\"results\":[1,2,3]]}",
		"{\"results\":[1,2,3]}}",
		"null", "", "   ", "]", "}", "\"results\"",
	};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		for (unsigned keep = 1; keep <= 4; keep++)
			assert_cut_agrees(texts[i], keep);
}
END_TEST

/* The contract's one give: tokens inside cut elements are not read. */
START_TEST(cut_does_not_read_what_it_cuts)
{
	static const char *const flawed[] = {
		"{\"results\":[1,tru]}",
		"{\"results\":[1,01]}",
		"{\"results\":[1,\"\\x\"]}",
		"{\"results\":[1,2 3]}",
		"{\"results\":[1,{\"a\" 1}]}",
		"{\"results\":[1,[2,,3]]}",
	};

	for (size_t i = 0; i < sizeof flawed / sizeof flawed[0]; i++) {
		struct parsed whole = parse_exact(flawed[i], strlen(flawed[i]),
						  0);
		struct parsed cut = parse_exact(flawed[i], strlen(flawed[i]),
						1);

		ck_assert_msg(whole.doc == NULL, "parsed: %s", flawed[i]);
		ck_assert_msg(cut.doc != NULL, "%s: %s", cut.why, flawed[i]);
		json_object_put(cut.doc);
	}
}
END_TEST

static const char *const small_docs[] = {
	tricky_strings, nested, results_elsewhere,
	"{\"results\":[1,2,3],\"status\":\"OK\"}",
	"{ \"results\" : [ {\"a\":\"]\"} , [\",\"] , 3 ] }",
	"{\"results\":[],\"status\":\"ZERO_RESULTS\"}",
	"{\"results\":[1,2],\"results\":[3,4,5,6]}",
};

/* Every prefix of a document: the same verdict, cut or whole. */
START_TEST(cut_every_prefix_agrees)
{
	for (size_t i = 0; i < sizeof small_docs / sizeof small_docs[0]; i++) {
		size_t len = strlen(small_docs[i]);

		for (size_t n = 0; n <= len; n++)
			for (unsigned keep = 1; keep <= 3; keep++)
				assert_cut_agrees_n(small_docs[i], n, keep);
	}
}
END_TEST

START_TEST(cut_fixture_prefixes_agree)
{
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));
	size_t len = strlen(fixture), tail = len - 256;

	for (size_t n = 0; n < tail; n += 97)
		assert_cut_agrees_n(fixture, n, 5);
	for (size_t n = tail; n <= len; n++)
		assert_cut_agrees_n(fixture, n, 5);
	free(fixture);
}
END_TEST

static uint32_t xorshift(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* text with 1 to 3 bytes replaced, inserted or dropped; returns its len. */
static size_t mutate(const char *text, char *out, size_t cap, uint32_t *rng)
{
	static const char alphabet[] = "\"\\[]{},: 1a";
	size_t len = strlen(text);

	memcpy(out, text, len);
	for (unsigned edits = 1 + xorshift(rng) % 3; edits > 0; edits--) {
		size_t at = len > 0 ? xorshift(rng) % len : 0;
		char c = alphabet[xorshift(rng) % (sizeof alphabet - 1)];
		unsigned op = xorshift(rng) % 3;

		if (op == 0 && len > 0)
			out[at] = c;
		else if (op == 1 && len + 1 < cap) {
			memmove(out + at + 1, out + at, len - at);
			out[at] = c;
			len++;
		} else if (len > 0) {
			memmove(out + at, out + at + 1, len - at - 1);
			len--;
		}
	}
	return len;
}

/*
 * Mutants of small documents: never a crash or a read out of bounds, a
 * cut never turns down what parses whole, and what parses whole lays out
 * the same from the cut parse.
 */
START_TEST(cut_fuzz_mutants)
{
	uint32_t rng = 2463534242u;
	char text[512];
	unsigned valid = 0;

	for (unsigned round = 0; round < 30000; round++) {
		const char *doc = small_docs[round % (sizeof small_docs /
						      sizeof small_docs[0])];
		size_t len = mutate(doc, text, sizeof text, &rng);
		unsigned keep = 1 + round % 3;
		struct parsed whole = parse_exact(text, len, 0);
		struct parsed cut = parse_exact(text, len, keep);

		ck_assert_msg(whole.doc == NULL || cut.doc != NULL,
			      "cut turned down: %.*s", (int)len, text);
		if (whole.doc != NULL) {
			assert_same_layouts(whole.doc, cut.doc, keep);
			valid++;
		}
		json_object_put(whole.doc);
		json_object_put(cut.doc);
	}
	ck_assert_uint_gt(valid, 1000);	/* the property was put to work */
}
END_TEST

START_TEST(gnew_request_body)
{
	char *body = pg_request_body("+034.068930", "-118.445127", "2500", 4);

	ck_assert_str_eq(body, "{\"maxResultCount\": 4, \"locationRestriction\":"
			 " {\"circle\": {\"center\": {\"latitude\": 34.068930, "
			 "\"longitude\": -118.445127}, \"radius\": 2500}}}");
	free(body);
	ck_assert_ptr_null(pg_request_body("+1e5", "+1", "10", 1));
	ck_assert_ptr_null(pg_request_body("+1.", "+1", "10", 1));
}
END_TEST

/* ---- the event loop ----------------------------------------------- */

static struct event_base *base;

struct answer {
	int calls;
	char *json;
	uint64_t at_ms;
};

static void on_answer(void *arg, const char *json, size_t len)
{
	struct answer *a = arg;

	a->calls++;
	free(a->json);
	a->json = strndup(json, len);
	a->at_ms = now_ms();
	ck_assert_uint_eq(strlen(a->json), len);
}

static void free_answers(struct answer *as, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(as[i].json);
		as[i].json = NULL;
	}
}

static void on_expired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

static bool all_answered(const struct answer *as, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (as[i].calls == 0)
			return false;
	return true;
}

/* Runs the loop until as[0..n) are all answered or ms have passed. */
static bool run_until(const struct answer *as, size_t n, unsigned ms)
{
	bool expired = false;
	struct event *timer = evtimer_new(base, on_expired, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(timer);
	ck_assert_int_eq(evtimer_add(timer, &tv), 0);
	while (!expired && (n == 0 || !all_answered(as, n)))
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	event_free(timer);
	return n > 0 && all_answered(as, n);
}

static void run_for(unsigned ms)
{
	run_until(NULL, 0, ms);
}

static struct places_query_args query_at(const char *location, double lat,
					 double lng, const char *radius_m,
					 unsigned bound)
{
	return (struct places_query_args){
		.location = { location, strlen(location) },
		.lat = lat, .lng = lng,
		.radius_km = atof(radius_m) / 1000, .radius_m = radius_m,
		.bound = bound,
	};
}

static struct places_query_args ucla(const char *radius_m, unsigned bound)
{
	return query_at(UCLA, 34.068930, -118.445127, radius_m, bound);
}

static struct places *open_places(const struct conf_places *conf)
{
	char err[256] = "";
	struct places *p = places_new(base, conf, err, sizeof err);

	ck_assert_msg(p != NULL, "places_new: %s", err);
	return p;
}

static struct places_req *ask(struct places *p, struct places_query_args q,
			      struct answer *a)
{
	struct places_req *req = places_query(p, &q, on_answer, a);

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(a->calls, 0);	/* never from inside places_query */
	return req;
}

static void base_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(setenv(KEY_ENV, TEST_KEY, 1), 0);
}

static void base_teardown(void)
{
	if (base != NULL)
		event_base_free(base);
	base = NULL;
}

/* ---- file and none providers -------------------------------------- */

static struct conf_places file_conf(const char *rel)
{
	struct conf_places c = { .provider = PLACES_FILE, .timeout_ms = 1000,
				 .max_concurrent = 4 };

	snprintf(c.file, sizeof c.file, "%s", src_path(rel));
	return c;
}

/* Answer's place_ids joined by ' '. */
static char *place_ids(const char *json)
{
	struct json_object *doc = parse(json), *results, *id;
	char *out = calloc(1, 4096);

	ck_assert_ptr_nonnull(out);
	ck_assert(json_object_object_get_ex(doc, "results", &results));
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		ck_assert(json_object_object_get_ex(
			json_object_array_get_idx(results, i), "place_id", &id));
		if (i > 0)
			strcat(out, " ");
		strncat(out, json_object_get_string(id), 100);
	}
	json_object_put(doc);
	return out;
}

static void assert_line_search(const char *radius_m, unsigned bound,
			       const char *ids, const char *status)
{
	struct conf_places c = file_conf("tests/data/places-line.json");
	struct places *p = open_places(&c);
	struct answer a = { 0 };
	char *got;

	ask(p, query_at("+0+0", 0, 0, radius_m, bound), &a);
	ck_assert(run_until(&a, 1, 2000));
	assert_status(a.json, status);
	got = place_ids(a.json);
	ck_assert_str_eq(got, ids);
	free(got);
	free_answers(&a, 1);
	places_free(p);
}

START_TEST(file_nearest_first_within_radius)
{
	assert_line_search("400", 20, "line-p1 line-p2 line-east", "OK");
	assert_line_search("500", 20, "line-p1 line-p2 line-east line-p4", "OK");
	assert_line_search("2000", 20,
			   "line-p1 line-p2 line-east line-p4 line-far", "OK");
}
END_TEST

START_TEST(file_cut_to_bound)
{
	assert_line_search("2000", 2, "line-p1 line-p2", "OK");
}
END_TEST

START_TEST(file_zero_results)
{
	assert_line_search("50", 5, "", "ZERO_RESULTS");
}
END_TEST

START_TEST(file_zero_results_layout)
{
	struct conf_places c = file_conf("tests/data/places-line.json");
	struct places *p = open_places(&c);
	struct answer a = { 0 };

	ask(p, query_at("+10+10", 10, 10, "1000", 5), &a);
	ck_assert(run_until(&a, 1, 2000));
	ck_assert_str_eq(a.json, "{\n   \"html_attributions\" : [],\n"
			 "   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}");
	free_answers(&a, 1);
	places_free(p);
}
END_TEST

/* Distances from the demo location, read back from the answer. */
static void assert_nearest_first(const char *json, double max_km)
{
	struct json_object *doc = parse(json), *results, *loc, *v;
	double last = 0;

	ck_assert(json_object_object_get_ex(doc, "results", &results));
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		struct json_object *r = json_object_array_get_idx(results, i);
		double lat, lng, km;

		ck_assert(json_object_object_get_ex(r, "geometry", &v));
		ck_assert(json_object_object_get_ex(v, "location", &loc));
		ck_assert(json_object_object_get_ex(loc, "lat", &v));
		lat = json_object_get_double(v);
		ck_assert(json_object_object_get_ex(loc, "lng", &v));
		lng = json_object_get_double(v);
		km = pf_distance_km(34.068930, -118.445127, lat, lng);
		ck_assert_msg(km >= last && km <= max_km, "result %zu at %f km",
			      i, km);
		last = km;
	}
	json_object_put(doc);
}

START_TEST(file_demo_around_ucla)
{
	struct conf_places c = file_conf("etc/places-demo.json");
	struct places *p = open_places(&c);
	struct answer a[3] = { { 0 } };

	ask(p, ucla("1000", 20), &a[0]);
	ask(p, ucla("5000", 20), &a[1]);
	ask(p, ucla("50000", 20), &a[2]);
	ck_assert(run_until(a, 3, 2000));
	ck_assert_ptr_nonnull(strstr(a[0].json, "\"demo-royce-hall\""));
	ck_assert_ptr_null(strstr(a[0].json, "\"demo-getty-center\""));
	ck_assert_ptr_nonnull(strstr(a[1].json, "\"demo-getty-center\""));
	assert_nearest_first(a[0].json, 1);
	assert_nearest_first(a[1].json, 5);
	ck_assert_uint_eq(results_length(a[2].json), 20);
	ck_assert_ptr_null(strstr(a[2].json, "\n\n"));
	free_answers(a, 3);
	places_free(p);
}
END_TEST

START_TEST(file_distance_haversine)
{
	ck_assert_double_eq_tol(pf_distance_km(0, 0, 1, 0), 111.195, 0.001);
	ck_assert_double_eq_tol(pf_distance_km(0, 179.5, 0, -179.5), 111.195,
				0.001);
	/* UCLA to the Getty Center, about 2.7 km */
	ck_assert_double_eq_tol(pf_distance_km(34.068930, -118.445127,
					       34.0780358, -118.4740954),
				2.83, 0.1);
}
END_TEST

START_TEST(file_load_errors)
{
	char err[256] = "";
	char path[] = "/tmp/check_places_bad.XXXXXX";
	int fd;

	ck_assert_ptr_null(pf_load("/nonexistent/places.json", err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/places.json"));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{\"results\":[{\"name\":\"x\"}]}", 26), 26);
	close(fd);
	ck_assert_ptr_null(pf_load(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "results[0]"));
	unlink(path);
}
END_TEST

START_TEST(none_provider_denies)
{
	struct conf_places c = { .provider = PLACES_NONE };
	struct places *p = open_places(&c);
	struct answer a = { 0 };
	struct places_stats st;

	ask(p, ucla("10000", 5), &a);
	ck_assert(run_until(&a, 1, 2000));
	ck_assert_str_eq(a.json, none_doc);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.errors, 1);
	ck_assert_uint_eq(st.upstream, 0);
	free_answers(&a, 1);
	places_free(p);
}
END_TEST

START_TEST(cancel_local_answer)
{
	struct conf_places c = { .provider = PLACES_NONE };
	struct places *p = open_places(&c);
	struct answer a = { 0 }, b = { 0 };

	places_cancel(ask(p, ucla("10000", 5), &a));
	ask(p, ucla("10000", 5), &b);	/* left pending for places_free */
	run_for(50);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 1);
	ask(p, ucla("10000", 5), &a);
	places_free(p);			/* no callback, nothing leaks */
	ck_assert_int_eq(a.calls, 0);
	free_answers(&b, 1);
}
END_TEST

/* ---- places_new failures ------------------------------------------ */

static void assert_new_fails(const struct conf_places *c, const char *want)
{
	char err[256] = "";

	ck_assert_ptr_null(places_new(base, c, err, sizeof err));
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"", err,
		      want);
	ck_assert_ptr_null(strstr(err, TEST_KEY));
}

START_TEST(new_needs_a_key)
{
	struct conf_places c = { .provider = PLACES_GOOGLE };

	assert_new_fails(&c, "API key");
	snprintf(c.key_env, sizeof c.key_env, "HERD_TEST_NO_SUCH_VARIABLE");
	unsetenv("HERD_TEST_NO_SUCH_VARIABLE");
	assert_new_fails(&c, "HERD_TEST_NO_SUCH_VARIABLE");
	snprintf(c.key_file, sizeof c.key_file, "/nonexistent/key");
	assert_new_fails(&c, "/nonexistent/key");
	c.provider = PLACES_GOOGLE_NEW;
	assert_new_fails(&c, "/nonexistent/key");
}
END_TEST

START_TEST(new_file_provider_errors)
{
	struct conf_places c = { .provider = PLACES_FILE };

	snprintf(c.file, sizeof c.file, "/nonexistent/demo.json");
	assert_new_fails(&c, "/nonexistent/demo.json");
}
END_TEST

START_TEST(new_rejects_bad_base_url)
{
	struct conf_places c = { .provider = PLACES_GOOGLE };

	snprintf(c.key_env, sizeof c.key_env, KEY_ENV);
	snprintf(c.base_url, sizeof c.base_url, "ftp://example.invalid");
	assert_new_fails(&c, "base_url");
}
END_TEST

/* ---- the fake Places server --------------------------------------- */

static struct {
	pid_t pid;
	int port;
	char log[128];
} fake;

/*
 * The request logs live in one directory per test case, made and removed
 * by an unchecked fixture: that runs in the runner process, so the
 * directory goes even when a failed check ends a forked test early.
 */
static char fake_dir[64];

static void fake_dir_create(void)
{
	snprintf(fake_dir, sizeof fake_dir, "/tmp/check_places.XXXXXX");
	if (mkdtemp(fake_dir) == NULL)
		fake_dir[0] = '\0';
}

static void fake_dir_remove(void)
{
	DIR *dir = fake_dir[0] != '\0' ? opendir(fake_dir) : NULL;
	struct dirent *e;
	char path[sizeof fake_dir + sizeof e->d_name + 1];

	while (dir != NULL && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", fake_dir, e->d_name);
		unlink(path);
	}
	if (dir != NULL) {
		closedir(dir);
		rmdir(fake_dir);
	}
	fake_dir[0] = '\0';
}

static bool reap(pid_t pid, unsigned ms)
{
	uint64_t deadline = now_ms() + ms;

	do {
		pid_t got = waitpid(pid, NULL, WNOHANG);
		if (got == pid || (got < 0 && errno == ECHILD))
			return true;
		usleep(5000);
	} while (now_ms() < deadline);
	return false;
}

static void fake_stop(void)
{
	if (fake.pid > 0) {
		kill(fake.pid, SIGTERM);
		if (!reap(fake.pid, 2000)) {
			kill(fake.pid, SIGKILL);
			waitpid(fake.pid, NULL, 0);
		}
		fake.pid = 0;
	}
	if (fake.log[0] != '\0')
		unlink(fake.log);
	fake.log[0] = '\0';
}

/* Reads "PORT <n>\n" from the fake's stdout, within ms. */
static int read_port(int fd, unsigned ms)
{
	char line[64] = "";
	size_t len = 0;
	uint64_t deadline = now_ms() + ms;
	int port = -1;

	while (strchr(line, '\n') == NULL && len + 1 < sizeof line &&
	       now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fd, line + len, sizeof line - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
	}
	if (sscanf(line, "PORT %d", &port) != 1)
		return -1;
	return port;
}

static void exec_fake(int out_fd, pid_t parent)
{
	const char *path = env_or("FAKE_PLACES", "tests/fake_places");
	const char *nearby = src_path("tests/data/nearby-25.json");
	const char *new_api = src_path("tests/data/searchnearby-25.json");

	/* Dies with us, however we die. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(126);
	if (dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(126);
	execl(path, "fake_places", "-p", "0", "-r", fake.log, "-d", nearby,
	      "-n", new_api, (char *)NULL);
	_exit(127);
}

static void fake_start(void)
{
	static bool stop_at_exit;
	static unsigned started;
	pid_t parent = getpid();
	int fds[2];

	ck_assert_msg(fake_dir[0] != '\0', "no directory for request logs");
	snprintf(fake.log, sizeof fake.log, "%s/requests-%ld-%u.log", fake_dir,
		 (long)parent, started++);
	if (!stop_at_exit)	/* a failed check exits the test process */
		stop_at_exit = atexit(fake_stop) == 0;
	ck_assert_int_eq(pipe(fds), 0);
	fake.pid = fork();
	ck_assert_int_ge(fake.pid, 0);
	if (fake.pid == 0) {
		close(fds[0]);
		exec_fake(fds[1], parent);
	}
	close(fds[1]);
	fake.port = read_port(fds[0], 5000);
	close(fds[0]);
	ck_assert_msg(fake.port > 0, "fake_places (%s) did not start",
		      env_or("FAKE_PLACES", "tests/fake_places"));
}

static void fake_setup(void)
{
	base_setup();
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	fake_start();
}

static void fake_teardown(void)
{
	fake_stop();
	curl_global_cleanup();
	base_teardown();
}

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
	char **text = arg;
	size_t old = *text ? strlen(*text) : 0, n = size * nmemb;
	char *grown = realloc(*text, old + n + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + old, data, n);
	grown[old + n] = '\0';
	*text = grown;
	return n;
}

/* GET from the fake, blocking (only for test control, never places). */
static char *fake_get(const char *path)
{
	CURL *easy = curl_easy_init();
	char url[256], *body = NULL;

	ck_assert_ptr_nonnull(easy);
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", fake.port, path);
	ck_assert_int_eq(curl_easy_setopt(easy, CURLOPT_URL, url), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
					  collect), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body),
			 CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 2000L),
			 CURLE_OK);
	ck_assert_int_eq(curl_easy_perform(easy), CURLE_OK);
	curl_easy_cleanup(easy);
	ck_assert_ptr_nonnull(body);
	return body;
}

static void fake_config(const char *query)
{
	char path[128], *reply;

	snprintf(path, sizeof path, "/fake/config?%s", query);
	reply = fake_get(path);
	ck_assert_str_eq(reply, "ok\n");
	free(reply);
}

static long fake_stat(const char *name)
{
	char *reply = fake_get("/fake/stats");
	struct json_object *doc = parse(reply), *v;
	long value;

	ck_assert(json_object_object_get_ex(doc, name, &v));
	value = (long)json_object_get_int64(v);
	json_object_put(doc);
	free(reply);
	return value;
}

/* The search lines of the request log, parsed, as one JSON array. */
static struct json_object *logged_searches(void)
{
	char *text = slurp(fake.log), *line, *save = NULL;
	struct json_object *all = json_object_new_array(), *path;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct json_object *rq = parse(line);

		ck_assert(json_object_object_get_ex(rq, "path", &path));
		if (strcmp(json_object_get_string(path), NEARBY_PATH) == 0 ||
		    strcmp(json_object_get_string(path), NEW_PATH) == 0)
			json_object_array_add(all, rq);
		else
			json_object_put(rq);
	}
	free(text);
	return all;
}

static size_t searches_logged(void)
{
	struct json_object *all = logged_searches();
	size_t n = json_object_array_length(all);

	json_object_put(all);
	return n;
}

/* A member of the first logged search ("query", "body", ...), copied. */
static char *first_search(const char *key, const char *sub)
{
	struct json_object *all = logged_searches(), *v;
	char *copy;

	ck_assert_uint_ge(json_object_array_length(all), 1);
	ck_assert(json_object_object_get_ex(
		json_object_array_get_idx(all, 0), key, &v));
	if (sub != NULL)
		ck_assert_msg(json_object_object_get_ex(v, sub, &v),
			      "no %s.%s logged", key, sub);
	copy = strdup(json_object_get_string(v));
	json_object_put(all);
	return copy;
}

static struct conf_places google_conf(enum places_provider provider)
{
	struct conf_places c = { .provider = provider, .timeout_ms = 5000,
				 .max_concurrent = 8 };

	snprintf(c.base_url, sizeof c.base_url, "http://127.0.0.1:%d/",
		 fake.port);
	snprintf(c.key_env, sizeof c.key_env, KEY_ENV);
	return c;
}

/* One query through a fresh client; the answer's JSON, caller frees. */
static char *ask_once(const struct conf_places *c,
		      struct places_query_args q)
{
	struct places *p = open_places(c);
	struct answer a = { 0 };

	ask(p, q, &a);
	ck_assert_msg(run_until(&a, 1, 3000), "no answer in time");
	places_free(p);
	return a.json;
}

/* ---- google (Nearby Search) --------------------------------------- */

START_TEST(google_request_and_answer)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p = open_places(&c);
	struct answer a = { 0 };
	struct places_stats st;
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));
	char *expected = fixture_cut(fixture, 3), *query, *location;

	ask(p, ucla("2500", 3), &a);
	ck_assert(run_until(&a, 1, 3000));
	ck_assert_str_eq(a.json, expected);
	run_for(100);			/* nothing more goes upstream */
	ck_assert_uint_eq(searches_logged(), 1);
	query = first_search("query", NULL);
	ck_assert_str_eq(query, "location=%2B34.068930,-118.445127"
			 "&radius=2500&key=" TEST_KEY);
	location = first_search("params", "location");
	ck_assert_str_eq(location, "+34.068930,-118.445127");
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.upstream, 1);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_gt(st.latency_us_total, 0);
	ck_assert_uint_ge(st.latency_us_total, st.latency_us_max);
	free(query);
	free(location);
	free(expected);
	free(fixture);
	free_answers(&a, 1);
	places_free(p);
}
END_TEST

START_TEST(google_bound_20)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	char *json = ask_once(&c, ucla("50000", 20));
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));
	char *expected = fixture_cut(fixture, 20);

	ck_assert_str_eq(json, expected);
	free(expected);
	free(fixture);
	free(json);
}
END_TEST

START_TEST(google_key_file_wins)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	char path[] = "/tmp/check_places_key.XXXXXX", *key;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "  file-key-456 \r\nsecond line\n", 29), 29);
	close(fd);
	snprintf(c.key_file, sizeof c.key_file, "%s", path);
	free(ask_once(&c, ucla("1000", 1)));
	key = first_search("params", "key");
	ck_assert_str_eq(key, "file-key-456");
	free(key);
	unlink(path);
}
END_TEST

START_TEST(google_coalesces_identical_queries)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[5] = { { 0 } };
	struct places_stats st;

	fake_config("delay_ms=200");
	p = open_places(&c);
	for (unsigned i = 0; i < 5; i++)
		ask(p, ucla("2500", i + 1), &a[i]);
	ck_assert(run_until(a, 5, 3000));
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_uint_eq(results_length(a[i].json), i + 1);
	}
	ck_assert_uint_eq(searches_logged(), 1);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.upstream, 1);
	ck_assert_uint_eq(st.coalesced, 4);
	ck_assert_uint_eq(st.requests, 5);
	free_answers(a, 5);
	places_free(p);
}
END_TEST

/* The answer is parsed for the largest bound, whichever waiter has it. */
START_TEST(google_waiters_keep_their_bounds)
{
	static const unsigned bounds[] = { 3, 20, 1 };
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[3] = { { 0 } };

	fake_config("delay_ms=200");
	p = open_places(&c);
	for (unsigned i = 0; i < 3; i++)
		ask(p, ucla("2500", bounds[i]), &a[i]);
	ck_assert(run_until(a, 3, 3000));
	for (unsigned i = 0; i < 3; i++)
		ck_assert_uint_eq(results_length(a[i].json), bounds[i]);
	ck_assert_uint_eq(searches_logged(), 1);
	free_answers(a, 3);
	places_free(p);
}
END_TEST

START_TEST(google_different_queries_not_coalesced)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p = open_places(&c);
	struct answer a[3] = { { 0 } };

	ask(p, ucla("2500", 5), &a[0]);
	ask(p, ucla("2600", 5), &a[1]);
	ask(p, query_at("+34.068930-118.445128", 34.068930, -118.445128,
			"2500", 5), &a[2]);
	ck_assert(run_until(a, 3, 3000));
	ck_assert_uint_eq(searches_logged(), 3);
	free_answers(a, 3);
	places_free(p);
}
END_TEST

/* Consecutive requests go over one kept-alive connection. */
START_TEST(google_reuses_connections)
{
	static const char *const radii[] = { "1000", "2000", "3000" };
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p = open_places(&c);
	struct answer a[3] = { { 0 } };
	struct json_object *all, *port;
	int first = -1;

	for (int i = 0; i < 3; i++) {
		ask(p, ucla(radii[i], 1), &a[i]);
		ck_assert(run_until(&a[i], 1, 3000));
	}
	all = logged_searches();
	ck_assert_uint_eq(json_object_array_length(all), 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert(json_object_object_get_ex(
			json_object_array_get_idx(all, i), "peer_port", &port));
		if (first < 0)
			first = json_object_get_int(port);
		ck_assert_int_eq(json_object_get_int(port), first);
	}
	json_object_put(all);
	free_answers(a, 3);
	places_free(p);
}
END_TEST

static void ask_twice(unsigned ttl_s, size_t want_upstream, uint64_t hits)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[2] = { { 0 } };
	struct places_stats st;

	c.cache_ttl_s = ttl_s;
	p = open_places(&c);
	ask(p, ucla("2500", 2), &a[0]);
	ck_assert(run_until(&a[0], 1, 3000));
	ask(p, ucla("2500", 4), &a[1]);
	ck_assert(run_until(&a[1], 1, 3000));
	ck_assert_uint_eq(results_length(a[1].json), 4);
	ck_assert_uint_eq(searches_logged(), want_upstream);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.cache_hits, hits);
	ck_assert_uint_eq(st.requests, 2);
	free_answers(a, 2);
	places_free(p);
}

START_TEST(google_cache_on) { ask_twice(60, 1, 1); } END_TEST
START_TEST(google_cache_off) { ask_twice(0, 2, 0); } END_TEST

/* A cached answer was parsed for any bound, not the first asker's. */
START_TEST(google_cache_serves_a_larger_bound)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[2] = { { 0 } };
	struct places_stats st;
	char *fixture = slurp(src_path("tests/data/nearby-25.json"));
	char *expected = fixture_cut(fixture, 20);

	c.cache_ttl_s = 60;
	p = open_places(&c);
	ask(p, ucla("2500", 1), &a[0]);
	ck_assert(run_until(&a[0], 1, 3000));
	ask(p, ucla("2500", 20), &a[1]);
	ck_assert(run_until(&a[1], 1, 3000));
	ck_assert_uint_eq(results_length(a[0].json), 1);
	ck_assert_uint_eq(results_length(a[1].json), 20);
	ck_assert_str_eq(a[1].json, expected);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.cache_hits, 1);
	ck_assert_uint_eq(searches_logged(), 1);
	free(expected);
	free(fixture);
	free_answers(a, 2);
	places_free(p);
}
END_TEST

START_TEST(google_cache_keeps_no_errors)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[2] = { { 0 } };

	c.cache_ttl_s = 60;
	fake_config("fail=http500");
	p = open_places(&c);
	ask(p, ucla("2500", 2), &a[0]);
	ck_assert(run_until(&a[0], 1, 3000));
	fake_config("fail=none");
	ask(p, ucla("2500", 2), &a[1]);
	ck_assert(run_until(&a[1], 1, 3000));
	assert_status(a[1].json, "OK");
	ck_assert_uint_eq(searches_logged(), 2);
	free_answers(a, 2);
	places_free(p);
}
END_TEST

START_TEST(google_concurrency_cap)
{
	static const char *const radii[] = { "1000", "2000", "3000", "4000",
					     "5000", "6000" };
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[6] = { { 0 } };
	struct places_stats st;
	uint64_t start = now_ms();

	c.max_concurrent = 2;
	fake_config("delay_ms=200");
	p = open_places(&c);
	for (int i = 0; i < 6; i++)
		ask(p, ucla(radii[i], 3), &a[i]);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.in_flight, 2);
	ck_assert_uint_eq(st.queued, 4);
	ck_assert(run_until(a, 6, 5000));
	ck_assert_uint_ge(now_ms() - start, 550);	/* three rounds */
	for (int i = 0; i < 6; i++)
		assert_status(a[i].json, "OK");
	ck_assert_int_eq(fake_stat("max_in_flight"), 2);
	ck_assert_int_eq(fake_stat("searches"), 6);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.in_flight + st.queued, 0);
	free_answers(a, 6);
	places_free(p);
}
END_TEST

START_TEST(google_timeout)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a = { 0 };
	struct places_stats st;
	uint64_t start;

	c.timeout_ms = 300;
	fake_config("fail=hang");
	p = open_places(&c);
	start = now_ms();
	ask(p, ucla("2500", 3), &a);
	ck_assert(run_until(&a, 1, 2000));
	ck_assert_uint_ge(a.at_ms - start, 250);
	ck_assert_uint_le(a.at_ms - start, 1000);
	assert_status(a.json, "UNKNOWN_ERROR");
	assert_message(a.json, "");
	ck_assert_uint_eq(results_length(a.json), 0);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.errors, 1);
	free_answers(&a, 1);
	places_free(p);
}
END_TEST

/* A queued query still gets its answer within the timeout. */
START_TEST(google_timeout_while_queued)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[2] = { { 0 } };
	uint64_t start = now_ms();

	c.timeout_ms = 300;
	c.max_concurrent = 1;
	fake_config("fail=hang");
	p = open_places(&c);
	ask(p, ucla("1000", 3), &a[0]);
	ask(p, ucla("2000", 3), &a[1]);
	ck_assert(run_until(a, 2, 2000));
	ck_assert_uint_le(a[1].at_ms - start, 1000);
	assert_status(a[1].json, "UNKNOWN_ERROR");
	free_answers(a, 2);
	places_free(p);
}
END_TEST

static void assert_google_failure(const char *mode, const char *status,
				  const char *message)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	char query[64], *json;

	snprintf(query, sizeof query, "fail=%s", mode);
	fake_config(query);
	json = ask_once(&c, ucla("2500", 3));
	assert_status(json, status);
	assert_message(json, message);
	ck_assert_uint_eq(results_length(json), 0);
	free(json);
}

START_TEST(google_http_500)
{
	assert_google_failure("http500", "UNKNOWN_ERROR", "HTTP 500");
}
END_TEST

START_TEST(google_bad_json)
{
	assert_google_failure("badjson", "UNKNOWN_ERROR", "unreadable");
}
END_TEST

START_TEST(google_over_query_limit)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	char *json;

	fake_config("fail=status:OVER_QUERY_LIMIT");
	json = ask_once(&c, ucla("2500", 3));
	ck_assert_str_eq(json, "{\n"
		"   \"error_message\" : \"You have exceeded your daily request "
		"quota for this API.\",\n"
		"   \"html_attributions\" : [],\n"
		"   \"results\" : [],\n"
		"   \"status\" : \"OVER_QUERY_LIMIT\"\n"
		"}");
	free(json);
}
END_TEST

START_TEST(google_connection_refused)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	char *json;

	fake_stop();	/* nothing listens on the port any more */
	json = ask_once(&c, ucla("2500", 3));
	assert_status(json, "UNKNOWN_ERROR");
	assert_message(json, "The Places request failed");
	free(json);
}
END_TEST

/* ---- google-new (Places API (New)) -------------------------------- */

static const char gnew_first_result[] =
	"{\n"
	"   \"html_attributions\" : [],\n"
	"   \"results\" : [\n"
	"      {\n"
	"         \"business_status\" : \"OPERATIONAL\",\n"
	"         \"geometry\" : {\n"
	"            \"location\" : {\n"
	"               \"lat\" : 34.0728955,\n"
	"               \"lng\" : -118.4421969\n"
	"            }\n"
	"         },\n"
	"         \"icon_mask_base_uri\" : \"https://maps.gstatic.com/mapfiles/"
	"place_api/icons/v2/generic_pinlet\",\n"
	"         \"name\" : \"Royce Hall\",\n"
	"         \"place_id\" : \"ChIJH3juGF8Y8A62RaeJSgEj25H\",\n"
	"         \"plus_code\" : {\n"
	"            \"compound_code\" : \"3HF5+54 Los Angeles, California\",\n"
	"            \"global_code\" : \"85633HF5+54\"\n"
	"         },\n"
	"         \"rating\" : 4.8,\n"
	"         \"types\" : [ \"tourist_attraction\", \"point_of_interest\", "
	"\"establishment\" ],\n"
	"         \"user_ratings_total\" : 512,\n"
	"         \"vicinity\" : \"340 Royce Drive, Los Angeles\"\n"
	"      },\n";

START_TEST(gnew_request_and_mapping)
{
	struct conf_places c = google_conf(PLACES_GOOGLE_NEW);
	char *json = ask_once(&c, ucla("2500", 4));
	char *body = first_search("body", NULL);
	char *key = first_search("headers", "X-Goog-Api-Key");
	char *mask = first_search("headers", "X-Goog-FieldMask");
	char *type = first_search("headers", "Content-Type");
	char *method = first_search("method", NULL);

	ck_assert_str_eq(method, "POST");
	ck_assert_str_eq(body, "{\"maxResultCount\": 4, \"locationRestriction\":"
			 " {\"circle\": {\"center\": {\"latitude\": 34.068930, "
			 "\"longitude\": -118.445127}, \"radius\": 2500}}}");
	ck_assert_str_eq(key, TEST_KEY);
	ck_assert_str_eq(mask, PG_FIELD_MASK);
	ck_assert_str_eq(type, "application/json");
	ck_assert_int_eq(strncmp(json, gnew_first_result,
				 strlen(gnew_first_result)), 0);
	ck_assert_uint_eq(results_length(json), 4);
	assert_status(json, "OK");
	ck_assert_ptr_nonnull(strstr(json, "\n   ],\n   \"status\" : \"OK\"\n}"));
	free(method);
	free(type);
	free(mask);
	free(key);
	free(body);
	free(json);
}
END_TEST

START_TEST(gnew_price_level)
{
	struct conf_places c = google_conf(PLACES_GOOGLE_NEW);
	char *json = ask_once(&c, ucla("5000", 20));

	ck_assert_uint_eq(results_length(json), 20);
	/* Regency Village Theatre: PRICE_LEVEL_MODERATE */
	ck_assert_ptr_nonnull(strstr(json, "\"price_level\" : 2,"));
	ck_assert_ptr_null(strstr(json, "\n\n"));
	free(json);
}
END_TEST

START_TEST(gnew_bound_is_part_of_the_query)
{
	struct conf_places c = google_conf(PLACES_GOOGLE_NEW);
	struct places *p;
	struct answer a[3] = { { 0 } };

	fake_config("delay_ms=100");
	p = open_places(&c);
	ask(p, ucla("2500", 3), &a[0]);
	ask(p, ucla("2500", 3), &a[1]);
	ask(p, ucla("2500", 5), &a[2]);
	ck_assert(run_until(a, 3, 3000));
	ck_assert_uint_eq(searches_logged(), 2);
	ck_assert_uint_eq(results_length(a[1].json), 3);
	ck_assert_uint_eq(results_length(a[2].json), 5);
	free_answers(a, 3);
	places_free(p);
}
END_TEST

static void assert_gnew_failure(const char *mode, const char *status,
				const char *message)
{
	struct conf_places c = google_conf(PLACES_GOOGLE_NEW);
	char query[64], *json;

	snprintf(query, sizeof query, "fail=%s", mode);
	fake_config(query);
	json = ask_once(&c, ucla("2500", 3));
	assert_status(json, status);
	assert_message(json, message);
	free(json);
}

START_TEST(gnew_http_403)
{
	assert_gnew_failure("http403", "REQUEST_DENIED",
			    "The caller does not have permission");
}
END_TEST

START_TEST(gnew_http_429)
{
	assert_gnew_failure("status:OVER_QUERY_LIMIT", "OVER_QUERY_LIMIT",
			    "Quota exceeded");
}
END_TEST

START_TEST(gnew_http_400)
{
	assert_gnew_failure("status:INVALID_REQUEST", "INVALID_REQUEST",
			    "invalid argument");
}
END_TEST

START_TEST(gnew_http_500)
{
	assert_gnew_failure("http500", "UNKNOWN_ERROR",
			    "Internal error encountered.");
}
END_TEST

START_TEST(gnew_bad_json)
{
	assert_gnew_failure("badjson", "UNKNOWN_ERROR", "unreadable");
}
END_TEST

/* ---- cancelling --------------------------------------------------- */

START_TEST(cancel_before_completion)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a = { 0 };
	struct places_stats st;

	fake_config("delay_ms=200");
	p = open_places(&c);
	places_cancel(ask(p, ucla("2500", 3), &a));
	run_for(400);
	ck_assert_int_eq(a.calls, 0);
	places_get_stats(p, &st);
	ck_assert_uint_eq(st.requests, 0);
	ck_assert_uint_eq(st.in_flight + st.queued, 0);
	places_free(p);
}
END_TEST

START_TEST(cancel_in_flight_after_sent)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a = { 0 };
	struct places_req *req;
	uint64_t deadline;

	fake_config("delay_ms=300");
	p = open_places(&c);
	req = ask(p, ucla("2500", 3), &a);
	deadline = now_ms() + 2000;
	while (fake_stat("in_flight") == 0 && now_ms() < deadline)
		run_for(10);	/* until the fake holds the request */
	ck_assert_int_eq(fake_stat("in_flight"), 1);
	places_cancel(req);
	run_for(500);
	ck_assert_int_eq(a.calls, 0);
	places_free(p);
}
END_TEST

START_TEST(cancel_one_of_two_waiters)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[2] = { { 0 } };

	fake_config("delay_ms=100");
	p = open_places(&c);
	places_cancel(ask(p, ucla("2500", 3), &a[0]));
	ask(p, ucla("2500", 2), &a[1]);
	ck_assert(run_until(&a[1], 1, 3000));
	run_for(50);
	ck_assert_int_eq(a[0].calls, 0);
	ck_assert_int_eq(a[1].calls, 1);
	ck_assert_uint_eq(results_length(a[1].json), 2);
	free_answers(a, 2);
	places_free(p);
}
END_TEST

START_TEST(cancel_queued_query)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[3] = { { 0 } };
	struct places_req *second;

	c.max_concurrent = 1;
	fake_config("delay_ms=100");
	p = open_places(&c);
	ask(p, ucla("1000", 3), &a[0]);
	second = ask(p, ucla("2000", 3), &a[1]);
	ask(p, ucla("3000", 3), &a[2]);
	places_cancel(second);
	ck_assert(run_until(&a[2], 1, 3000));
	ck_assert_int_eq(a[0].calls, 1);
	ck_assert_int_eq(a[1].calls, 0);
	ck_assert_uint_eq(searches_logged(), 2);
	free_answers(a, 3);
	places_free(p);
}
END_TEST

START_TEST(free_with_queries_in_flight)
{
	struct conf_places c = google_conf(PLACES_GOOGLE);
	struct places *p;
	struct answer a[4] = { { 0 } };

	c.max_concurrent = 2;
	c.cache_ttl_s = 60;
	fake_config("delay_ms=300");
	p = open_places(&c);
	for (int i = 0; i < 4; i++)
		ask(p, ucla(i % 2 ? "1000" : "2000", 3), &a[i]);
	run_for(50);
	places_free(p);		/* no callbacks, nothing leaks */
	run_for(50);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(a[i].calls, 0);
}
END_TEST

/* ---- suite -------------------------------------------------------- */

static TCase *layout_tcase(void)
{
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, layout_nested_objects);
	tcase_add_test(tc, layout_empty_containers);
	tcase_add_test(tc, layout_scalar_array_inline);
	tcase_add_test(tc, layout_long_scalar_array_split);
	tcase_add_test(tc, layout_array_of_objects);
	tcase_add_test(tc, layout_numbers_as_written);
	tcase_add_test(tc, layout_unicode_kept);
	tcase_add_test(tc, layout_escapes);
	tcase_add_test(tc, layout_not_finite_is_null);
	tcase_add_test(tc, layout_fixture_round_trip);
	tcase_add_test(tc, layout_bound_25_to_3);
	tcase_add_test(tc, layout_bound_25_to_20);
	tcase_add_test(tc, layout_bound_25_to_1);
	tcase_add_test(tc, layout_bound_above_results);
	tcase_add_test(tc, layout_bound_only_top_level);
	tcase_add_test(tc, newline_runs_collapse);
	tcase_add_test(tc, deep_documents_indent_fully);
	tcase_add_test(tc, error_document_layout);
	tcase_add_test(tc, parse_rejects_bad_json);
	tcase_add_test(tc, gnew_request_body);
	return tc;
}

static TCase *cut_tcase(void)
{
	TCase *tc = tcase_create("cut");

	tcase_add_test(tc, cut_fixture_same_layout);
	tcase_add_test(tc, cut_strings_with_brackets_quotes_backslashes);
	tcase_add_test(tc, cut_nested_containers);
	tcase_add_test(tc, cut_results_as_value_and_nested_key);
	tcase_add_test(tc, cut_whitespace_variants);
	tcase_add_test(tc, cut_empty_and_short_results);
	tcase_add_test(tc, cut_duplicate_results_keys);
	tcase_add_test(tc, cut_depth_as_json_c);
	tcase_add_test(tc, cut_falls_back_to_whole_parse);
	tcase_add_test(tc, cut_does_not_read_what_it_cuts);
	tcase_add_test(tc, cut_every_prefix_agrees);
	tcase_add_test(tc, cut_fixture_prefixes_agree);
	tcase_add_test(tc, cut_fuzz_mutants);
	tcase_set_timeout(tc, 60);
	return tc;
}

static TCase *local_tcase(void)
{
	TCase *tc = tcase_create("local");

	tcase_add_checked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, file_nearest_first_within_radius);
	tcase_add_test(tc, file_cut_to_bound);
	tcase_add_test(tc, file_zero_results);
	tcase_add_test(tc, file_zero_results_layout);
	tcase_add_test(tc, file_demo_around_ucla);
	tcase_add_test(tc, file_distance_haversine);
	tcase_add_test(tc, file_load_errors);
	tcase_add_test(tc, none_provider_denies);
	tcase_add_test(tc, cancel_local_answer);
	tcase_add_test(tc, new_needs_a_key);
	tcase_add_test(tc, new_file_provider_errors);
	tcase_add_test(tc, new_rejects_bad_base_url);
	return tc;
}

/* End-to-end cases: each test gets its own fake_places. */
static TCase *fake_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, fake_dir_create, fake_dir_remove);
	tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
	tcase_set_timeout(tc, 30);
	return tc;
}

static TCase *google_tcase(void)
{
	TCase *tc = fake_tcase("google");

	tcase_add_test(tc, google_request_and_answer);
	tcase_add_test(tc, google_bound_20);
	tcase_add_test(tc, google_key_file_wins);
	tcase_add_test(tc, google_coalesces_identical_queries);
	tcase_add_test(tc, google_waiters_keep_their_bounds);
	tcase_add_test(tc, google_different_queries_not_coalesced);
	tcase_add_test(tc, google_reuses_connections);
	tcase_add_test(tc, google_cache_on);
	tcase_add_test(tc, google_cache_off);
	tcase_add_test(tc, google_cache_serves_a_larger_bound);
	tcase_add_test(tc, google_cache_keeps_no_errors);
	tcase_add_test(tc, google_concurrency_cap);
	tcase_add_test(tc, google_timeout);
	tcase_add_test(tc, google_timeout_while_queued);
	tcase_add_test(tc, google_http_500);
	tcase_add_test(tc, google_bad_json);
	tcase_add_test(tc, google_over_query_limit);
	tcase_add_test(tc, google_connection_refused);
	return tc;
}

static TCase *google_new_tcase(void)
{
	TCase *tc = fake_tcase("google-new");

	tcase_add_test(tc, gnew_request_and_mapping);
	tcase_add_test(tc, gnew_price_level);
	tcase_add_test(tc, gnew_bound_is_part_of_the_query);
	tcase_add_test(tc, gnew_http_403);
	tcase_add_test(tc, gnew_http_429);
	tcase_add_test(tc, gnew_http_400);
	tcase_add_test(tc, gnew_http_500);
	tcase_add_test(tc, gnew_bad_json);
	return tc;
}

static TCase *cancel_tcase(void)
{
	TCase *tc = fake_tcase("cancel");

	tcase_add_test(tc, cancel_before_completion);
	tcase_add_test(tc, cancel_in_flight_after_sent);
	tcase_add_test(tc, cancel_one_of_two_waiters);
	tcase_add_test(tc, cancel_queued_query);
	tcase_add_test(tc, free_with_queries_in_flight);
	return tc;
}

static Suite *places_suite(void)
{
	Suite *s = suite_create("places");

	suite_add_tcase(s, layout_tcase());
	suite_add_tcase(s, cut_tcase());
	suite_add_tcase(s, local_tcase());
	suite_add_tcase(s, google_tcase());
	suite_add_tcase(s, google_new_tcase());
	suite_add_tcase(s, cancel_tcase());
	return s;
}

int main(void)
{
	return tap_run(places_suite());
}
