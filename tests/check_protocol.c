/*
 * check_protocol.c - unit tests for src/protocol.c, one test per rule of
 * PROTOCOL.md so that a failure names the rule that broke.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "tap.h"

static const struct proto_limits limits = { .max_client_len = 255 };
static struct proto_cmd cmd;

/* Parses a NUL-terminated test line with the default limits. */
static enum proto_verb parse(const char *line)
{
	return proto_parse(line, strlen(line), &limits, &cmd);
}

#define ck_assert_span(span, text) do {					\
	struct proto_span span_ = (span);				\
	const char *text_ = (text);					\
	ck_assert_uint_eq(span_.len, strlen(text_));			\
	ck_assert_mem_eq(span_.p, text_, span_.len);			\
} while (0)

#define ck_assert_valid(line, verb) \
	ck_assert_msg(parse(line) == (verb), "not parsed as %s: \"%s\"", \
		      #verb, (line))
#define ck_assert_invalid(line) \
	ck_assert_msg(parse(line) == PROTO_INVALID, "accepted: \"%s\"", (line))

/* "IAMAT c <location> 1" */
static enum proto_verb parse_location(const char *location)
{
	static char line[256];	/* cmd spans point into it */

	snprintf(line, sizeof line, "IAMAT c %s 1", location);
	return parse(line);
}

/* "IAMAT c +1+1 <time>" */
static enum proto_verb parse_time(const char *time)
{
	static char line[256];	/* cmd spans point into it */

	snprintf(line, sizeof line, "IAMAT c +1+1 %s", time);
	return parse(line);
}

/* "WHATSAT c <radius> <bound>" */
static enum proto_verb parse_whatsat(const char *radius, const char *bound)
{
	static char line[256];	/* cmd spans point into it */

	snprintf(line, sizeof line, "WHATSAT c %s %s", radius, bound);
	return parse(line);
}

#define LOCATION_OK(s)  ck_assert_msg(parse_location(s) == PROTO_IAMAT, \
				      "location rejected: %s", s)
#define LOCATION_BAD(s) ck_assert_msg(parse_location(s) == PROTO_INVALID, \
				      "location accepted: %s", s)
#define TIME_BAD(s)     ck_assert_msg(parse_time(s) == PROTO_INVALID, \
				      "time accepted: %s", s)
#define RADIUS_BAD(s)   ck_assert_msg(parse_whatsat(s, "5") == PROTO_INVALID, \
				      "radius accepted: %s", s)
#define BOUND_BAD(s)    ck_assert_msg(parse_whatsat("10", s) == PROTO_INVALID, \
				      "bound accepted: %s", s)

static void assert_time(const char *text, int64_t sec, int32_t nsec)
{
	ck_assert_msg(parse_time(text) == PROTO_IAMAT, "time rejected: %s",
		      text);
	ck_assert_span(cmd.time, text);
	ck_assert_int_eq(cmd.t.sec, sec);
	ck_assert_int_eq(cmd.t.nsec, nsec);
}

static void assert_metres(const char *radius, const char *metres)
{
	ck_assert_msg(parse_whatsat(radius, "1") == PROTO_WHATSAT,
		      "radius rejected: %s", radius);
	ck_assert_str_eq(cmd.radius_m, metres);
}

/* ---- framing ------------------------------------------------------- */

struct framed {
	enum proto_frame kind;
	size_t line_len, consumed;
	bool ended;
};

static struct framed frame(const char *buf, size_t len, size_t max, bool eof)
{
	struct framed f = { 99, 12345, 12345, false };

	f.kind = proto_frame(buf, len, max, eof, &f.line_len, &f.consumed,
			     &f.ended);
	return f;
}

#define FRAME(literal, max, eof) frame(literal, sizeof literal - 1, max, eof)

START_TEST(frame_bare_lf)
{
	struct framed f = FRAME("IAMAT a +1+1 1\nWHATSAT", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 14);
	ck_assert_uint_eq(f.consumed, 15);
}
END_TEST

START_TEST(frame_crlf)
{
	struct framed f = FRAME("HELLO\r\nnext", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 7);
}
END_TEST

START_TEST(frame_only_last_cr_is_terminator)
{
	struct framed f = FRAME("a\r\r\n", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 2);	/* "a\r" */
	ck_assert_uint_eq(f.consumed, 4);
}
END_TEST

START_TEST(frame_partial_without_newline)
{
	struct framed f = FRAME("IAMAT a +1+1", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_PARTIAL);
	ck_assert_uint_eq(f.consumed, 0);
	f = FRAME("", 4096, false);
	ck_assert_int_eq(f.kind, FRAME_PARTIAL);
	ck_assert_uint_eq(f.consumed, 0);
}
END_TEST

START_TEST(frame_eof_terminated_last_line)
{
	struct framed f = FRAME("IAMAT a +1+1 1", 4096, true);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 14);
	ck_assert_uint_eq(f.consumed, 14);
	f = FRAME("IAMAT a +1+1 1\r", 4096, true);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 14);
	ck_assert_uint_eq(f.consumed, 15);
}
END_TEST

START_TEST(frame_empty_lines)
{
	struct framed f = FRAME("\nX", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_EMPTY);
	ck_assert_uint_eq(f.consumed, 1);
	f = FRAME("\r\nX", 4096, false);
	ck_assert_int_eq(f.kind, FRAME_EMPTY);
	ck_assert_uint_eq(f.consumed, 2);
	f = FRAME("", 4096, true);
	ck_assert_int_eq(f.kind, FRAME_EMPTY);
	ck_assert_uint_eq(f.consumed, 0);
	f = FRAME("\r", 4096, true);
	ck_assert_int_eq(f.kind, FRAME_EMPTY);
	ck_assert_uint_eq(f.consumed, 1);
}
END_TEST

START_TEST(frame_white_space_line_is_a_line)
{
	struct framed f = FRAME(" \t\n", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 2);
	ck_assert_uint_eq(f.consumed, 3);
	ck_assert_int_eq(proto_parse(" \t", 2, &limits, &cmd), PROTO_INVALID);
}
END_TEST

START_TEST(frame_pipelined_lines)
{
	const char buf[] = "A\nBB\r\n\nCCC";
	size_t off = 0, len = sizeof buf - 1;
	struct framed f;

	f = frame(buf + off, len - off, 4096, false);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 1);
	off += f.consumed;
	f = frame(buf + off, len - off, 4096, false);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_mem_eq(buf + off, "BB", f.line_len);
	ck_assert_uint_eq(f.line_len, 2);
	off += f.consumed;
	f = frame(buf + off, len - off, 4096, false);
	ck_assert_int_eq(f.kind, FRAME_EMPTY);
	off += f.consumed;
	f = frame(buf + off, len - off, 4096, false);
	ck_assert_int_eq(f.kind, FRAME_PARTIAL);
	f = frame(buf + off, len - off, 4096, true);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 3);
	ck_assert_uint_eq(off + f.consumed, len);
}
END_TEST

START_TEST(frame_NUL_is_content)
{
	struct framed f = FRAME("a\0b\nc", 4096, false);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 3);
	ck_assert_uint_eq(f.consumed, 4);
}
END_TEST

START_TEST(frame_line_of_exactly_the_limit)
{
	struct framed f = FRAME("abcde\nX", 5, false);

	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 6);
	f = FRAME("abcde\r\nX", 5, false);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 7);
	f = FRAME("abcde", 5, false);
	ck_assert_int_eq(f.kind, FRAME_PARTIAL);
	f = FRAME("abcde", 5, true);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 5);
}
END_TEST

START_TEST(frame_overlong_with_newline_in_buffer)
{
	struct framed f = FRAME("abcdef\nX", 5, false);

	ck_assert_int_eq(f.kind, FRAME_OVERLONG);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 7);
	ck_assert(f.ended);
	f = FRAME("abcdefghijklmnop\r\nX", 5, false);
	ck_assert_int_eq(f.kind, FRAME_OVERLONG);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 18);
	ck_assert(f.ended);
}
END_TEST

START_TEST(frame_overlong_detected_before_newline)
{
	struct framed f = FRAME("abcdef", 5, false);

	ck_assert_int_eq(f.kind, FRAME_OVERLONG);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 6);
	ck_assert(!f.ended);
	f = FRAME("abcdefghijk", 5, false);
	ck_assert_int_eq(f.kind, FRAME_OVERLONG);
	ck_assert_uint_eq(f.consumed, 11);
	ck_assert(!f.ended);
}
END_TEST

START_TEST(frame_limit_line_with_crlf_split_across_reads)
{
	/* "abcde\r" may still become "abcde\r\n": not over-long yet. */
	struct framed f = FRAME("abcde\r", 5, false);

	ck_assert_int_eq(f.kind, FRAME_PARTIAL);
	ck_assert_uint_eq(f.consumed, 0);
	f = FRAME("abcde\r\n", 5, false);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 7);
	f = FRAME("abcde\r", 5, true);
	ck_assert_int_eq(f.kind, FRAME_LINE);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 6);
	/* ...but a "\r" followed by anything else is content. */
	f = FRAME("abcde\rx", 5, false);
	ck_assert_int_eq(f.kind, FRAME_OVERLONG);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 7);
	ck_assert(!f.ended);
}
END_TEST

START_TEST(frame_overlong_at_eof)
{
	struct framed f = FRAME("abcdefg", 5, true);

	ck_assert_int_eq(f.kind, FRAME_OVERLONG);
	ck_assert_uint_eq(f.line_len, 5);
	ck_assert_uint_eq(f.consumed, 7);
	ck_assert(f.ended);
}
END_TEST

/* ---- white space and verbs -------------------------------------------- */

START_TEST(parse_spec_example)
{
	ck_assert_valid("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 "
			"1621464827.959498503", PROTO_IAMAT);
	ck_assert_int_eq(cmd.verb, PROTO_IAMAT);
	ck_assert_span(cmd.client, "kiwi.cs.ucla.edu");
	ck_assert_span(cmd.location, "+34.068930-118.445127");
	ck_assert_span(cmd.time, "1621464827.959498503");
	ck_assert_int_eq(cmd.t.sec, 1621464827);
	ck_assert_int_eq(cmd.t.nsec, 959498503);
	ck_assert_double_eq(cmd.lat, 34.068930);
	ck_assert_double_eq(cmd.lng, -118.445127);
}
END_TEST

START_TEST(parse_all_white_space_separators)
{
	ck_assert_valid("IAMAT\tkiwi\r+1+2\v\f 3", PROTO_IAMAT);
	ck_assert_span(cmd.client, "kiwi");
	ck_assert_span(cmd.location, "+1+2");
	ck_assert_span(cmd.time, "3");
	ck_assert_valid("WHATSAT\nkiwi\f10\v5", PROTO_WHATSAT);
	ck_assert_uint_eq(cmd.bound, 5);
	ck_assert_valid("IAMAT \t\r\n\v\f kiwi  \t +1+2 \f\f 3", PROTO_IAMAT);
}
END_TEST

START_TEST(parse_leading_and_trailing_white_space)
{
	ck_assert_valid("  \t IAMAT kiwi +1+2 3", PROTO_IAMAT);
	ck_assert_valid("IAMAT kiwi +1+2 3 \t\r\v\f\n", PROTO_IAMAT);
	ck_assert_span(cmd.time, "3");
	ck_assert_valid("\r\n WHATSAT kiwi 10 5 \r", PROTO_WHATSAT);
}
END_TEST

START_TEST(parse_verbs_are_case_sensitive)
{
	ck_assert_invalid("iamat kiwi +1+2 3");
	ck_assert_invalid("Iamat kiwi +1+2 3");
	ck_assert_invalid("whatsat kiwi 10 5");
	ck_assert_invalid("at Riley +0.000000000 kiwi +1+2 3");
}
END_TEST

START_TEST(parse_unknown_verbs)
{
	ck_assert_invalid("HELLO there");
	ck_assert_invalid("IAMATX kiwi +1+2 3");
	ck_assert_invalid("IAMA kiwi +1+2 3");
	ck_assert_invalid("");
	ck_assert_invalid(" \t ");
	ck_assert_int_eq(cmd.verb, PROTO_INVALID);
}
END_TEST

START_TEST(parse_iamat_field_count)
{
	ck_assert_invalid("IAMAT");
	ck_assert_invalid("IAMAT kiwi +1+2");
	ck_assert_invalid("IAMAT kiwi +1+2 3 4");
	ck_assert_invalid("IAMAT kiwi +1+2 3 4 5 6 7 8");
}
END_TEST

START_TEST(parse_whatsat_field_count)
{
	ck_assert_invalid("WHATSAT");
	ck_assert_invalid("WHATSAT kiwi 10");
	ck_assert_invalid("WHATSAT kiwi 10 5 5");
}
END_TEST

START_TEST(parse_at_field_count)
{
	ck_assert_invalid("AT Riley +0.000000000 kiwi +1+2");
	ck_assert_invalid("AT Riley +0.000000000 kiwi +1+2 3 4");
	ck_assert_invalid("AT +0.000000000 kiwi +1+2 3");
}
END_TEST

START_TEST(parse_NUL_byte_is_field_content)
{
	static const char line[] = "IAMAT a\0b +1+2 3";

	ck_assert_int_eq(proto_parse(line, sizeof line - 1, &limits, &cmd),
			 PROTO_IAMAT);
	ck_assert_uint_eq(cmd.client.len, 3);
	ck_assert_mem_eq(cmd.client.p, "a\0b", 3);
}
END_TEST

START_TEST(parse_is_length_delimited)
{
	/* Bytes past len must not be read as part of the line. */
	static const char line[] = "IAMAT kiwi +1+2 35 trailing";

	ck_assert_int_eq(proto_parse(line, 17, &limits, &cmd), PROTO_IAMAT);
	ck_assert_span(cmd.time, "3");
	ck_assert_int_eq(cmd.t.sec, 3);
}
END_TEST

/* ---- client ids --------------------------------------------------------- */

START_TEST(client_length_limit)
{
	char line[400], id[300];

	memset(id, 'x', 256);
	id[255] = '\0';
	snprintf(line, sizeof line, "IAMAT %s +1+2 3", id);
	ck_assert_valid(line, PROTO_IAMAT);
	ck_assert_uint_eq(cmd.client.len, 255);
	id[255] = 'x';
	id[256] = '\0';
	snprintf(line, sizeof line, "IAMAT %s +1+2 3", id);
	ck_assert_invalid(line);
	snprintf(line, sizeof line, "WHATSAT %s 10 5", id);
	ck_assert_invalid(line);
}
END_TEST

START_TEST(client_length_limit_is_configurable)
{
	const struct proto_limits three = { .max_client_len = 3 };
	const char ok[] = "IAMAT abc +1+2 3", bad[] = "IAMAT abcd +1+2 3";

	ck_assert_int_eq(proto_parse(ok, strlen(ok), &three, &cmd),
			 PROTO_IAMAT);
	ck_assert_int_eq(proto_parse(bad, strlen(bad), &three, &cmd),
			 PROTO_INVALID);
}
END_TEST

START_TEST(client_utf8_bytes_kept)
{
	ck_assert_valid("IAMAT k\xc3\xafwi\xf0\x9f\xa5\x9d +1+2 3", PROTO_IAMAT);
	ck_assert_span(cmd.client, "k\xc3\xafwi\xf0\x9f\xa5\x9d");
}
END_TEST

/* ---- location ------------------------------------------------------------ */

START_TEST(location_values)
{
	LOCATION_OK("+12-118");
	ck_assert_double_eq(cmd.lat, 12.0);
	ck_assert_double_eq(cmd.lng, -118.0);
	LOCATION_OK("-33.8670522+151.1957362");
	ck_assert_double_eq(cmd.lat, strtod("-33.8670522", NULL));
	ck_assert_double_eq(cmd.lng, strtod("151.1957362", NULL));
	LOCATION_OK("+0.1234567890123456789+0.3");
	ck_assert_double_eq(cmd.lat, strtod("0.1234567890123456789", NULL));
	ck_assert_double_eq(cmd.lng, 0.3);
}
END_TEST

START_TEST(location_sign_is_mandatory)
{
	LOCATION_BAD("34.068930-118.445127");
	LOCATION_BAD("+34.068930118.445127");
	LOCATION_BAD("34-118");
	LOCATION_BAD("++34-118");
	LOCATION_BAD("+-34-118");
}
END_TEST

START_TEST(location_no_exponent)
{
	LOCATION_BAD("+3e1-118");
	LOCATION_BAD("+3E1-118");
	LOCATION_BAD("+34.0-1.18e2");
	LOCATION_BAD("+34.0-1.18e+2");
}
END_TEST

START_TEST(location_no_comma_form)
{
	LOCATION_BAD("+34,068930-118,445127");
	LOCATION_BAD("+34.068930,-118.445127");
	LOCATION_BAD("34.068930,-118.445127");
}
END_TEST

START_TEST(location_out_of_range)
{
	LOCATION_BAD("+90.0000001+0");
	LOCATION_BAD("-90.0000001+0");
	LOCATION_BAD("+0-180.5");
	LOCATION_BAD("+0+180.0000001");
	LOCATION_BAD("+91+0");
	LOCATION_BAD("+0+181");
	LOCATION_BAD("+900+0");
	LOCATION_BAD("+90.0000000000000001+0");	/* rounds to 90.0 */
	LOCATION_BAD("+0-180.00000000000000001");
	LOCATION_BAD("+99999999999999999999999999+0");
}
END_TEST

START_TEST(location_boundaries)
{
	LOCATION_OK("+90+180");
	ck_assert_double_eq(cmd.lat, 90.0);
	ck_assert_double_eq(cmd.lng, 180.0);
	LOCATION_OK("-90-180");
	ck_assert_double_eq(cmd.lat, -90.0);
	ck_assert_double_eq(cmd.lng, -180.0);
	LOCATION_OK("+90.000-180.000000");
	LOCATION_OK("+0090+000180.0");
	LOCATION_OK("-0+0");
}
END_TEST

START_TEST(location_exactly_two_numbers)
{
	LOCATION_BAD("+1+2+3");
	LOCATION_BAD("+1");
	LOCATION_BAD("+1+");
	LOCATION_BAD("+1+2x");
	LOCATION_BAD("+1+2.");
	ck_assert_invalid("IAMAT c +1 +2 3");	/* a space splits fields */
}
END_TEST

START_TEST(location_number_grammar)
{
	LOCATION_BAD("+1.-2");
	LOCATION_BAD("+.5+1");
	LOCATION_BAD("+1.5.5+1");
	LOCATION_BAD("+nan+1");
	LOCATION_BAD("+inf+1");
	LOCATION_BAD("+0x10+1");
	LOCATION_BAD("+1-2\xc2\xb0");
}
END_TEST

START_TEST(location_length_limit)
{
	char loc[PROTO_LOCATION_MAX + 2];

	/* "+1." then zeros then "+1": exactly PROTO_LOCATION_MAX bytes. */
	memset(loc, '0', sizeof loc);
	memcpy(loc, "+1.", 3);
	memcpy(loc + PROTO_LOCATION_MAX - 2, "+1", 3);
	ck_assert_uint_eq(strlen(loc), PROTO_LOCATION_MAX);
	LOCATION_OK(loc);
	ck_assert_double_eq(cmd.lat, 1.0);
	memcpy(loc + PROTO_LOCATION_MAX - 2, "0+1", 4);
	LOCATION_BAD(loc);
}
END_TEST

/* ---- time ------------------------------------------------------------------ */

START_TEST(time_values)
{
	assert_time("1621464827.959498503", 1621464827, 959498503);
	assert_time("5", 5, 0);
	assert_time("5.5", 5, 500000000);
	assert_time("0001", 1, 0);
	assert_time("1.000000001", 1, 1);
	assert_time("0.123456789", 0, 123456789);
	assert_time("1621464827.9", 1621464827, 900000000);
}
END_TEST

START_TEST(time_negative_normalised)
{
	assert_time("-5.25", -6, 750000000);
	assert_time("-0.5", -1, 500000000);
	assert_time("-5", -5, 0);
	assert_time("-0", 0, 0);
	assert_time("-0.000000001", -1, 999999999);
}
END_TEST

START_TEST(time_no_nan_inf_hex)
{
	TIME_BAD("nan");
	TIME_BAD("NaN");
	TIME_BAD("inf");
	TIME_BAD("-inf");
	TIME_BAD("infinity");
	TIME_BAD("0x1p30");
	TIME_BAD("0x10");
}
END_TEST

START_TEST(time_no_exponent)
{
	TIME_BAD("1e3");
	TIME_BAD("1E3");
	TIME_BAD("1.5e3");
	TIME_BAD("1e-3");
}
END_TEST

START_TEST(time_at_most_nine_decimals)
{
	assert_time("1.123456789", 1, 123456789);
	TIME_BAD("1.1234567890");
	TIME_BAD("1621464827.9594985031");
}
END_TEST

START_TEST(time_number_grammar)
{
	TIME_BAD("+5");
	TIME_BAD("5.");
	TIME_BAD(".5");
	TIME_BAD("-");
	TIME_BAD("--5");
	TIME_BAD("-.5");
	TIME_BAD("1.2.3");
	TIME_BAD("5-");
	TIME_BAD("1,5");
	TIME_BAD("5s");
}
END_TEST

START_TEST(time_int64_range)
{
	assert_time("9223372036854775807", INT64_MAX, 0);
	assert_time("9223372036854775807.999999999", INT64_MAX, 999999999);
	assert_time("-9223372036854775808", INT64_MIN, 0);
	assert_time("-9223372036854775807.5", INT64_MIN, 500000000);
	assert_time("0000000000009223372036854775807", INT64_MAX, 0);
	TIME_BAD("9223372036854775808");
	TIME_BAD("-9223372036854775809");
	TIME_BAD("-9223372036854775808.5");
	TIME_BAD("18446744073709551617");
	TIME_BAD("99999999999999999999999");
}
END_TEST

START_TEST(time_length_limit)
{
	char time[PROTO_TIME_MAX + 2];

	memset(time, '0', sizeof time);
	time[PROTO_TIME_MAX - 1] = '7';
	time[PROTO_TIME_MAX] = '\0';
	assert_time(time, 7, 0);
	time[PROTO_TIME_MAX] = '7';
	time[PROTO_TIME_MAX + 1] = '\0';
	TIME_BAD(time);
}
END_TEST

/* ---- WHATSAT ------------------------------------------------------------- */

START_TEST(whatsat_fields)
{
	ck_assert_valid("WHATSAT kiwi.cs.ucla.edu 10 5", PROTO_WHATSAT);
	ck_assert_int_eq(cmd.verb, PROTO_WHATSAT);
	ck_assert_span(cmd.client, "kiwi.cs.ucla.edu");
	ck_assert_span(cmd.radius, "10");
	ck_assert_double_eq(cmd.radius_km, 10.0);
	ck_assert_str_eq(cmd.radius_m, "10000");
	ck_assert_uint_eq(cmd.bound, 5);
}
END_TEST

START_TEST(radius_positive_decimal)
{
	RADIUS_BAD("0");
	RADIUS_BAD("0.000");
	RADIUS_BAD("000");
	RADIUS_BAD("-1");
	RADIUS_BAD("+1");
	RADIUS_BAD("nan");
	RADIUS_BAD("inf");
	RADIUS_BAD("1e1");
	RADIUS_BAD("0x10");
	RADIUS_BAD("2.");
	RADIUS_BAD(".5");
	RADIUS_BAD("1,5");
	RADIUS_BAD("1.2.3");
}
END_TEST

START_TEST(radius_at_most_50)
{
	ck_assert_int_eq(parse_whatsat("50", "1"), PROTO_WHATSAT);
	ck_assert_double_eq(cmd.radius_km, 50.0);
	ck_assert_int_eq(parse_whatsat("50.000", "1"), PROTO_WHATSAT);
	ck_assert_int_eq(parse_whatsat("0050", "1"), PROTO_WHATSAT);
	RADIUS_BAD("50.0001");
	RADIUS_BAD("50.00000000000000001");
	RADIUS_BAD("51");
	RADIUS_BAD("500");
}
END_TEST

START_TEST(radius_values)
{
	ck_assert_int_eq(parse_whatsat("2.5", "1"), PROTO_WHATSAT);
	ck_assert_span(cmd.radius, "2.5");
	ck_assert_double_eq(cmd.radius_km, 2.5);
	ck_assert_int_eq(parse_whatsat("0.1", "1"), PROTO_WHATSAT);
	ck_assert_double_eq(cmd.radius_km, 0.1);
}
END_TEST

START_TEST(radius_exact_metres)
{
	assert_metres("10", "10000");
	assert_metres("2.5", "2500");
	assert_metres("0.0001", "0.1");
	assert_metres("0.00125", "1.25");
	assert_metres("007", "7000");
	assert_metres("1.000", "1000");
	assert_metres("0.001", "1");
	assert_metres("12.3450", "12345");
	assert_metres("49.99999990", "49999.9999");
	assert_metres("50.000", "50000");
	assert_metres("0.000000000000000000001", "0.000000000000000001");
}
END_TEST

START_TEST(radius_length_limit)
{
	char radius[PROTO_RADIUS_MAX + 2];

	/* "1." and zeros: PROTO_RADIUS_MAX bytes is fine, one more is not. */
	memset(radius, '0', sizeof radius);
	memcpy(radius, "1.", 2);
	radius[PROTO_RADIUS_MAX] = '\0';
	assert_metres(radius, "1000");
	radius[PROTO_RADIUS_MAX] = '0';
	radius[PROTO_RADIUS_MAX + 1] = '\0';
	RADIUS_BAD(radius);
}
END_TEST

START_TEST(bound_range)
{
	BOUND_BAD("0");
	BOUND_BAD("00");
	BOUND_BAD("21");
	BOUND_BAD("2.5");
	BOUND_BAD("+3");
	BOUND_BAD("-1");
	BOUND_BAD("x");
	BOUND_BAD("1e1");
	BOUND_BAD("99999999999999999999999");
}
END_TEST

START_TEST(bound_values)
{
	ck_assert_int_eq(parse_whatsat("10", "1"), PROTO_WHATSAT);
	ck_assert_uint_eq(cmd.bound, 1);
	ck_assert_int_eq(parse_whatsat("10", "20"), PROTO_WHATSAT);
	ck_assert_uint_eq(cmd.bound, 20);
	ck_assert_int_eq(parse_whatsat("10", "05"), PROTO_WHATSAT);
	ck_assert_uint_eq(cmd.bound, 5);
	ck_assert_int_eq(parse_whatsat("10", "0000000000000000000000020"),
			 PROTO_WHATSAT);
	ck_assert_uint_eq(cmd.bound, 20);
}
END_TEST

/* ---- AT lines from other members --------------------------------------- */

START_TEST(at_line_fields)
{
	ck_assert_valid("AT Riley +0.263873386 kiwi.cs.ucla.edu "
			"+34.068930-118.445127 1621464827.959498503", PROTO_AT);
	ck_assert_int_eq(cmd.verb, PROTO_AT);
	ck_assert_span(cmd.server, "Riley");
	ck_assert_span(cmd.diff, "+0.263873386");
	ck_assert_span(cmd.client, "kiwi.cs.ucla.edu");
	ck_assert_span(cmd.location, "+34.068930-118.445127");
	ck_assert_span(cmd.time, "1621464827.959498503");
	ck_assert_int_eq(cmd.t.sec, 1621464827);
	ck_assert_int_eq(cmd.t.nsec, 959498503);
	ck_assert_double_eq(cmd.lat, 34.068930);
	ck_assert_double_eq(cmd.lng, -118.445127);
	ck_assert_valid("AT Bernard -12.000012000 c -5+5 -5.25", PROTO_AT);
	ck_assert_int_eq(cmd.t.sec, -6);
	ck_assert_int_eq(cmd.t.nsec, 750000000);
}
END_TEST

START_TEST(at_diff_grammar)
{
	ck_assert_invalid("AT Riley 0.263873386 kiwi +1+2 3");
	ck_assert_invalid("AT Riley +0.26387338 kiwi +1+2 3");
	ck_assert_invalid("AT Riley +0.2638733860 kiwi +1+2 3");
	ck_assert_invalid("AT Riley +1 kiwi +1+2 3");
	ck_assert_invalid("AT Riley +.263873386 kiwi +1+2 3");
	ck_assert_invalid("AT Riley +0.263873386e0 kiwi +1+2 3");
	ck_assert_invalid("AT Riley ++0.263873386 kiwi +1+2 3");
	ck_assert_invalid("AT Riley nan kiwi +1+2 3");
}
END_TEST

START_TEST(at_diff_length_limit)
{
	/* sign + 22 digits + '.' + 9 = 33 bytes > PROTO_DIFF_MAX */
	ck_assert_invalid("AT R +0000000000000000000001.000000000 c +1+2 3");
	ck_assert_valid("AT R +000000000000000000001.000000000 c +1+2 3",
			PROTO_AT);
}
END_TEST

START_TEST(at_server_name_limit)
{
	char name[PROTO_NAME_MAX + 2], line[200];

	memset(name, 'S', sizeof name);
	name[PROTO_NAME_MAX] = '\0';
	snprintf(line, sizeof line, "AT %s +0.000000000 c +1+2 3", name);
	ck_assert_valid(line, PROTO_AT);
	ck_assert_uint_eq(cmd.server.len, PROTO_NAME_MAX);
	name[PROTO_NAME_MAX] = 'S';
	name[PROTO_NAME_MAX + 1] = '\0';
	snprintf(line, sizeof line, "AT %s +0.000000000 c +1+2 3", name);
	ck_assert_invalid(line);
}
END_TEST

START_TEST(at_report_fields_checked)
{
	ck_assert_invalid("AT Riley +0.000000000 kiwi 34-118 3");
	ck_assert_invalid("AT Riley +0.000000000 kiwi +91+0 3");
	ck_assert_invalid("AT Riley +0.000000000 kiwi +1+2 1e3");
	ck_assert_invalid("AT Riley +0.000000000 kiwi +1+2 nan");
}
END_TEST

/* ---- time differences ------------------------------------------------- */

static void assert_diff(struct proto_time a, struct proto_time b,
			const char *expected)
{
	char out[PROTO_DIFF_MAX];
	size_t n = proto_format_diff(out, sizeof out, a, b);

	ck_assert_uint_eq(n, strlen(expected));
	ck_assert_mem_eq(out, expected, n);
}

#define T(s, ns) ((struct proto_time){ (s), (ns) })

START_TEST(diff_spec_example)
{
	assert_diff(T(1621464828, 223371889), T(1621464827, 959498503),
		    "+0.263873386");
}
END_TEST

START_TEST(diff_negative)
{
	assert_diff(T(100, 0), T(100, 12000), "-0.000012000");
	assert_diff(T(98, 500000000), T(100, 0), "-1.500000000");
	assert_diff(T(1621464827, 959498503), T(1621464828, 223371889),
		    "-0.263873386");
}
END_TEST

START_TEST(diff_zero_is_positive)
{
	assert_diff(T(1621464827, 959498503), T(1621464827, 959498503),
		    "+0.000000000");
	assert_diff(T(0, 0), T(0, 0), "+0.000000000");
}
END_TEST

START_TEST(diff_nanosecond_borrow)
{
	assert_diff(T(1700000000, 1), T(1699999999, 999999999),
		    "+0.000000002");
	assert_diff(T(1699999999, 999999999), T(1700000000, 1),
		    "-0.000000002");
	assert_diff(T(2, 0), T(1, 1), "+0.999999999");
	assert_diff(T(1, 1), T(2, 0), "-0.999999999");
}
END_TEST

START_TEST(diff_exact_where_double_rounds)
{
	/* 2^53 + 1 seconds is not representable as a double. */
	assert_diff(T(9007199254740993LL, 1), T(0, 0),
		    "+9007199254740993.000000001");
	assert_diff(T(9007199254740993LL, 0), T(9007199254740992LL, 999999999),
		    "+0.000000001");
	assert_diff(T(1621464827, 959498503), T(-5, 0),
		    "+1621464832.959498503");
}
END_TEST

START_TEST(diff_full_int64_range)
{
	assert_diff(T(INT64_MAX, 999999999), T(INT64_MIN, 0),
		    "+18446744073709551615.999999999");
	assert_diff(T(INT64_MIN, 0), T(INT64_MAX, 999999999),
		    "-18446744073709551615.999999999");
}
END_TEST

START_TEST(diff_cap_too_small)
{
	char out[PROTO_DIFF_MAX];

	ck_assert_uint_eq(proto_format_diff(out, 11, T(1, 263873386), T(1, 0)),
			  0);
	ck_assert_uint_eq(proto_format_diff(out, 12, T(1, 263873386), T(1, 0)),
			  12);
	ck_assert_mem_eq(out, "+0.263873386", 12);
}
END_TEST

/* ---- AT replies ---------------------------------------------------------- */

static const char spec_iamat[] =
	"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
static const char spec_at[] =
	"AT Riley +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 "
	"1621464827.959498503";

START_TEST(format_at_spec_example)
{
	char out[PROTO_AT_MAX(255)];
	size_t n;

	ck_assert_valid(spec_iamat, PROTO_IAMAT);
	n = proto_format_at(out, sizeof out, "Riley", 5,
			    T(1621464828, 223371889), &cmd);
	ck_assert_uint_eq(n, strlen(spec_at));
	ck_assert_mem_eq(out, spec_at, n);
}
END_TEST

START_TEST(format_at_echoes_fields_byte_for_byte)
{
	const char expected[] = "AT Jaquez +0.100000000 k\xc3\xafwi\xf0\x9f\xa5\x9d "
				"+0089.50-000.0 1621464827.9";
	char out[PROTO_AT_MAX(255)];
	size_t n;

	ck_assert_valid("IAMAT\tk\xc3\xafwi\xf0\x9f\xa5\x9d  +0089.50-000.0 "
			"\t1621464827.9\r", PROTO_IAMAT);
	n = proto_format_at(out, sizeof out, "Jaquez", 6, T(1621464828, 0),
			    &cmd);
	ck_assert_uint_eq(n, strlen(expected));
	ck_assert_mem_eq(out, expected, n);
}
END_TEST

START_TEST(format_at_negative_time)
{
	const char expected[] = "AT R +5.250000000 c +1+2 -5.25";
	char out[100];
	size_t n;

	ck_assert_valid("IAMAT c +1+2 -5.25", PROTO_IAMAT);
	n = proto_format_at(out, sizeof out, "R", 1, T(0, 0), &cmd);
	ck_assert_uint_eq(n, strlen(expected));
	ck_assert_mem_eq(out, expected, n);
}
END_TEST

START_TEST(format_at_negative_difference)
{
	const char expected[] = "AT R -0.000012000 c +1+2 100.000012";
	char out[100];
	size_t n;

	ck_assert_valid("IAMAT c +1+2 100.000012", PROTO_IAMAT);
	n = proto_format_at(out, sizeof out, "R", 1, T(100, 0), &cmd);
	ck_assert_uint_eq(n, strlen(expected));
	ck_assert_mem_eq(out, expected, n);
}
END_TEST

START_TEST(format_at_cap_too_small)
{
	char out[PROTO_AT_MAX(255)];
	size_t len = strlen(spec_at);

	ck_assert_valid(spec_iamat, PROTO_IAMAT);
	ck_assert_uint_eq(proto_format_at(out, len - 1, "Riley", 5,
					  T(1621464828, 223371889), &cmd), 0);
	ck_assert_uint_eq(proto_format_at(out, len, "Riley", 5,
					  T(1621464828, 223371889), &cmd),
			  len);
	ck_assert_uint_eq(proto_format_at(out, 0, "Riley", 5,
					  T(1621464828, 223371889), &cmd), 0);
}
END_TEST

START_TEST(format_at_needs_a_parsed_report)
{
	char out[100];

	ck_assert_valid("WHATSAT c 10 5", PROTO_WHATSAT);
	ck_assert_uint_eq(proto_format_at(out, sizeof out, "R", 1, T(0, 0),
					  &cmd), 0);
	ck_assert_invalid("IAMAT c +1+2 x");
	ck_assert_uint_eq(proto_format_at(out, sizeof out, "R", 1, T(0, 0),
					  &cmd), 0);
}
END_TEST

START_TEST(format_at_reply_parses_as_at)
{
	char out[PROTO_AT_MAX(255)];
	size_t n;

	ck_assert_valid(spec_iamat, PROTO_IAMAT);
	n = proto_format_at(out, sizeof out, "Riley", 5,
			    T(1621464828, 223371889), &cmd);
	ck_assert_int_eq(proto_parse(out, n, &limits, &cmd), PROTO_AT);
	ck_assert_span(cmd.server, "Riley");
	ck_assert_span(cmd.diff, "+0.263873386");
	ck_assert_span(cmd.client, "kiwi.cs.ucla.edu");
	ck_assert_int_eq(cmd.t.nsec, 959498503);
}
END_TEST

/* ---- the "newer" order ------------------------------------------------- */

#define NEWER(ta, a, tb, b) proto_newer(ta, a, strlen(a), tb, b, strlen(b))

START_TEST(newer_by_seconds_then_nanoseconds)
{
	ck_assert_int_gt(NEWER(T(2, 0), "AT A", T(1, 999999999), "AT Z"), 0);
	ck_assert_int_lt(NEWER(T(1, 999999999), "AT Z", T(2, 0), "AT A"), 0);
	ck_assert_int_gt(NEWER(T(1, 2), "AT A", T(1, 1), "AT Z"), 0);
	ck_assert_int_lt(NEWER(T(1, 1), "AT Z", T(1, 2), "AT A"), 0);
	ck_assert_int_gt(NEWER(T(0, 0), "x", T(-1, 500000000), "x"), 0);
	ck_assert_int_gt(NEWER(T(INT64_MIN + 1, 0), "x", T(INT64_MIN, 999999999),
			       "x"), 0);
}
END_TEST

START_TEST(newer_tie_break_is_bytewise)
{
	const char *a = "AT Riley +0.1 c +1+2 3", *b = "AT Jaquez +0.1 c +1+2 3";

	ck_assert_int_gt(NEWER(T(3, 0), a, T(3, 0), b), 0);
	ck_assert_int_lt(NEWER(T(3, 0), b, T(3, 0), a), 0);
	/* bytes compare unsigned: 0xc3 sorts after 'z' */
	ck_assert_int_gt(NEWER(T(3, 0), "AT \xc3", T(3, 0), "AT z"), 0);
	ck_assert_int_lt(NEWER(T(3, 0), "AT z", T(3, 0), "AT \xc3"), 0);
}
END_TEST

START_TEST(newer_longer_line_wins_on_prefix)
{
	ck_assert_int_gt(NEWER(T(3, 0), "AT Rileyx", T(3, 0), "AT Riley"), 0);
	ck_assert_int_lt(NEWER(T(3, 0), "AT Riley", T(3, 0), "AT Rileyx"), 0);
}
END_TEST

START_TEST(newer_same_report_is_zero)
{
	ck_assert_int_eq(NEWER(T(3, 5), spec_at, T(3, 5), spec_at), 0);
	ck_assert_int_eq(proto_newer(T(3, 5), "", 0, T(3, 5), "", 0), 0);
}
END_TEST

/* ---- clock --------------------------------------------------------------- */

START_TEST(now_is_wall_clock)
{
	struct proto_time t = proto_now();

	ck_assert_int_gt(t.sec, 1600000000);
	ck_assert_int_ge(t.nsec, 0);
	ck_assert_int_lt(t.nsec, 1000000000);
}
END_TEST

/* ---------------------------------------------------------------------- */

START_TEST(canonical_at_single_spaces_and_client_position)
{
	const char *in = " AT\tRiley  +0.263873386\vkiwi.cs.ucla.edu\f"
			 "+34.068930-118.445127   1621464827.959498503 ";
	const char *want = "AT Riley +0.263873386 kiwi.cs.ucla.edu "
			   "+34.068930-118.445127 1621464827.959498503";
	struct proto_cmd cmd;
	char out[256];
	size_t n;

	ck_assert_int_eq(proto_parse(in, strlen(in), &limits, &cmd), PROTO_AT);
	n = proto_canonical_at(out, sizeof out, &cmd);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert(memcmp(out, want, n) == 0);
	ck_assert(memcmp(proto_at_client(out, n, &cmd), "kiwi.cs.ucla.edu ",
			 17) == 0);
	ck_assert_uint_eq(proto_canonical_at(out, n - 1, &cmd), 0);
}
END_TEST

static Suite *protocol_suite(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc_frame = tcase_create("frame");
	TCase *tc_parse = tcase_create("parse");
	TCase *tc_fields = tcase_create("fields");
	TCase *tc_reply = tcase_create("reply");

	tcase_add_test(tc_frame, frame_bare_lf);
	tcase_add_test(tc_frame, frame_crlf);
	tcase_add_test(tc_frame, frame_only_last_cr_is_terminator);
	tcase_add_test(tc_frame, frame_partial_without_newline);
	tcase_add_test(tc_frame, frame_eof_terminated_last_line);
	tcase_add_test(tc_frame, frame_empty_lines);
	tcase_add_test(tc_frame, frame_white_space_line_is_a_line);
	tcase_add_test(tc_frame, frame_pipelined_lines);
	tcase_add_test(tc_frame, frame_NUL_is_content);
	tcase_add_test(tc_frame, frame_line_of_exactly_the_limit);
	tcase_add_test(tc_frame, frame_overlong_with_newline_in_buffer);
	tcase_add_test(tc_frame, frame_overlong_detected_before_newline);
	tcase_add_test(tc_frame, frame_limit_line_with_crlf_split_across_reads);
	tcase_add_test(tc_frame, frame_overlong_at_eof);
	suite_add_tcase(s, tc_frame);

	tcase_add_test(tc_parse, parse_spec_example);
	tcase_add_test(tc_parse, parse_all_white_space_separators);
	tcase_add_test(tc_parse, parse_leading_and_trailing_white_space);
	tcase_add_test(tc_parse, parse_verbs_are_case_sensitive);
	tcase_add_test(tc_parse, parse_unknown_verbs);
	tcase_add_test(tc_parse, parse_iamat_field_count);
	tcase_add_test(tc_parse, parse_whatsat_field_count);
	tcase_add_test(tc_parse, parse_at_field_count);
	tcase_add_test(tc_parse, parse_NUL_byte_is_field_content);
	tcase_add_test(tc_parse, parse_is_length_delimited);
	suite_add_tcase(s, tc_parse);

	tcase_add_test(tc_fields, client_length_limit);
	tcase_add_test(tc_fields, client_length_limit_is_configurable);
	tcase_add_test(tc_fields, client_utf8_bytes_kept);
	tcase_add_test(tc_fields, location_values);
	tcase_add_test(tc_fields, location_sign_is_mandatory);
	tcase_add_test(tc_fields, location_no_exponent);
	tcase_add_test(tc_fields, location_no_comma_form);
	tcase_add_test(tc_fields, location_out_of_range);
	tcase_add_test(tc_fields, location_boundaries);
	tcase_add_test(tc_fields, location_exactly_two_numbers);
	tcase_add_test(tc_fields, location_number_grammar);
	tcase_add_test(tc_fields, location_length_limit);
	tcase_add_test(tc_fields, time_values);
	tcase_add_test(tc_fields, time_negative_normalised);
	tcase_add_test(tc_fields, time_no_nan_inf_hex);
	tcase_add_test(tc_fields, time_no_exponent);
	tcase_add_test(tc_fields, time_at_most_nine_decimals);
	tcase_add_test(tc_fields, time_number_grammar);
	tcase_add_test(tc_fields, time_int64_range);
	tcase_add_test(tc_fields, time_length_limit);
	tcase_add_test(tc_fields, whatsat_fields);
	tcase_add_test(tc_fields, radius_positive_decimal);
	tcase_add_test(tc_fields, radius_at_most_50);
	tcase_add_test(tc_fields, radius_values);
	tcase_add_test(tc_fields, radius_exact_metres);
	tcase_add_test(tc_fields, radius_length_limit);
	tcase_add_test(tc_fields, bound_range);
	tcase_add_test(tc_fields, bound_values);
	tcase_add_test(tc_fields, at_line_fields);
	tcase_add_test(tc_fields, at_diff_grammar);
	tcase_add_test(tc_fields, at_diff_length_limit);
	tcase_add_test(tc_fields, at_server_name_limit);
	tcase_add_test(tc_fields, at_report_fields_checked);
	suite_add_tcase(s, tc_fields);

	tcase_add_test(tc_reply, diff_spec_example);
	tcase_add_test(tc_reply, diff_negative);
	tcase_add_test(tc_reply, diff_zero_is_positive);
	tcase_add_test(tc_reply, diff_nanosecond_borrow);
	tcase_add_test(tc_reply, diff_exact_where_double_rounds);
	tcase_add_test(tc_reply, diff_full_int64_range);
	tcase_add_test(tc_reply, diff_cap_too_small);
	tcase_add_test(tc_reply, format_at_spec_example);
	tcase_add_test(tc_reply, format_at_echoes_fields_byte_for_byte);
	tcase_add_test(tc_reply, format_at_negative_time);
	tcase_add_test(tc_reply, format_at_negative_difference);
	tcase_add_test(tc_reply, format_at_cap_too_small);
	tcase_add_test(tc_reply, format_at_needs_a_parsed_report);
	tcase_add_test(tc_reply, format_at_reply_parses_as_at);
	tcase_add_test(tc_reply, newer_by_seconds_then_nanoseconds);
	tcase_add_test(tc_reply, newer_tie_break_is_bytewise);
	tcase_add_test(tc_reply, newer_longer_line_wins_on_prefix);
	tcase_add_test(tc_reply, newer_same_report_is_zero);
	tcase_add_test(tc_reply, now_is_wall_clock);
	tcase_add_test(tc_reply, canonical_at_single_spaces_and_client_position);
	suite_add_tcase(s, tc_reply);
	return s;
}

int main(void)
{
	return tap_run(protocol_suite());
}
