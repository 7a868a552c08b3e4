/*
 * protocol.c - the client wire protocol of herd: line framing, IAMAT /
 * WHATSAT / AT parsing, the AT reply and the "newer" order.  PROTOCOL.md is
 * the spec; protocol.h is the contract.
 *
 * This is the hot path of every member, so it works in one pass over the
 * caller's bytes: no allocation, no copies of the line, no strlen (lines
 * are length-delimited and may hold NUL bytes, which are ordinary field
 * content).  It never uses <ctype.h>, whose answers depend on the locale.
 */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC   1000000000
#define TIME_NSEC_DIGITS 9	/* a time has at most 9 decimals */
#define DIFF_DECIMALS  9	/* a diff has exactly 9 decimals */
#define LAT_LIMIT      90
#define LNG_LIMIT      180
#define RADIUS_KM_MAX  50
#define BOUND_MAX      20
#define DEFAULT_CLIENT_MAX 255
#define MAX_FIELDS     6	/* "AT" plus its five arguments */

/* ---------------------------------------------------------------------
 * Bytes and numbers
 * ------------------------------------------------------------------ */

/* The protocol's white space: space, \t, \n, \v, \f, \r (9..13). */
static inline bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_digits(const char *p, const char *end)
{
	while (p < end && is_digit((unsigned char)*p))
		p++;
	return p;
}

static bool all_digits(const char *p, size_t len)
{
	return len > 0 && skip_digits(p, p + len) == p + len;
}

/* An unsigned decimal as written: "12.50" is int "12", frac "50". */
struct decimal {
	const char *int_p;
	size_t int_len;
	const char *frac_p;
	size_t frac_len;	/* 0 when there is no '.' */
};

/*
 * Scans digits, optionally followed by '.' and digits; both digit runs
 * must be non-empty ("5." and ".5" are not numbers here).  Returns the
 * first byte after the number, or NULL if there is no number at p.
 */
static const char *scan_decimal(const char *p, const char *end,
				struct decimal *d)
{
	d->int_p = p;
	p = skip_digits(p, end);
	d->int_len = (size_t)(p - d->int_p);
	d->frac_p = p;
	d->frac_len = 0;
	if (d->int_len == 0)
		return NULL;
	if (p == end || *p != '.')
		return p;
	d->frac_p = ++p;
	p = skip_digits(p, end);
	d->frac_len = (size_t)(p - d->frac_p);
	return d->frac_len > 0 ? p : NULL;
}

/* Like scan_decimal, but the number must fill [p, end) exactly. */
static bool whole_decimal(const char *p, const char *end, struct decimal *d)
{
	return scan_decimal(p, end, d) == end;
}

static const char *skip_zeros(const char *p, const char *end)
{
	while (p < end && *p == '0')
		p++;
	return p;
}

static bool frac_is_zero(const struct decimal *d)
{
	const char *end = d->frac_p + d->frac_len;

	return skip_zeros(d->frac_p, end) == end;
}

static bool decimal_is_zero(const struct decimal *d)
{
	const char *int_end = d->int_p + d->int_len;

	return skip_zeros(d->int_p, int_end) == int_end && frac_is_zero(d);
}

/*
 * Reads a run of digits as a uint64_t; false if the value exceeds max.
 * Leading zeros are fine however many there are.
 */
static bool digits_to_u64(const char *p, size_t len, uint64_t max,
			  uint64_t *out)
{
	uint64_t v = 0;

	for (const char *end = p + len; p < end; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (v > (max - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	*out = v;
	return true;
}

/*
 * Compares a decimal with a small integer limit exactly, on the digits:
 * no double rounding can let "90.0000000000000001" pass as 90.
 * Returns <0, 0 or >0 like memcmp.
 */
static int compare_decimal(const struct decimal *d, unsigned limit)
{
	uint64_t int_value;

	if (!digits_to_u64(d->int_p, d->int_len, UINT64_MAX, &int_value))
		return 1;
	if (int_value != limit)
		return int_value < limit ? -1 : 1;
	return frac_is_zero(d) ? 0 : 1;
}

/*
 * strtod on a NUL-terminated copy, since the line is not terminated.
 * The copy fits any number a valid field can hold (a location is at most
 * PROTO_LOCATION_MAX bytes); clipping is only a guard.  strtod assumes the
 * "C" LC_NUMERIC, the default as long as nobody calls setlocale.
 */
static double strtod_copy(const struct decimal *d)
{
	char copy[PROTO_LOCATION_MAX + 2];
	size_t int_len = d->int_len < PROTO_LOCATION_MAX ? d->int_len
							  : PROTO_LOCATION_MAX;
	size_t room = sizeof copy - 2 - int_len;
	size_t frac_len = d->frac_len < room ? d->frac_len : room;

	memcpy(copy, d->int_p, int_len);
	copy[int_len] = '.';
	memcpy(copy + int_len + 1, d->frac_p, frac_len);
	copy[int_len + 1 + frac_len] = '\0';
	return strtod(copy, NULL);
}

/*
 * Converts a decimal to the nearest double, exactly as strtod would.  With
 * at most 15 significant digits the digits form an exact integer and the
 * power of ten is exact too, so one IEEE division rounds correctly; that
 * covers every real coordinate and radius without calling strtod.
 */
static double decimal_to_double(const struct decimal *d)
{
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
		1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	};
	const char *int_start = skip_zeros(d->int_p, d->int_p + d->int_len);
	size_t int_sig = d->int_len - (size_t)(int_start - d->int_p);
	uint64_t mantissa = 0, frac = 0;

	if (int_sig + d->frac_len > 15)
		return strtod_copy(d);
	digits_to_u64(int_start, int_sig, UINT64_MAX, &mantissa);
	digits_to_u64(d->frac_p, d->frac_len, UINT64_MAX, &frac);
	mantissa = mantissa * (uint64_t)pow10[d->frac_len] + frac;
	return (double)mantissa / pow10[d->frac_len];
}

/* ---------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------ */

static bool span_is(struct proto_span s, const char *word, size_t word_len)
{
	return s.len == word_len && memcmp(s.p, word, word_len) == 0;
}

#define SPAN_IS(span, literal) span_is((span), literal, sizeof literal - 1)

/*
 * Splits a line into white-space separated fields.  Returns how many there
 * are, or max + 1 as soon as there are too many (no need to look further).
 */
static size_t split_fields(const char *line, size_t len,
			   struct proto_span *fields, size_t max)
{
	const char *p = line, *end = line + len;
	size_t n = 0;

	for (;;) {
		while (p < end && is_space((unsigned char)*p))
			p++;
		if (p == end)
			return n;
		if (n == max)
			return max + 1;
		fields[n].p = p;
		while (p < end && !is_space((unsigned char)*p))
			p++;
		fields[n].len = (size_t)(p - fields[n].p);
		n++;
	}
}

/* One ISO 6709 coordinate: mandatory sign, digits, optional fraction. */
static const char *scan_coordinate(const char *p, const char *end,
				   unsigned limit, double *value)
{
	struct decimal d;
	bool negative;

	if (p == end || (*p != '+' && *p != '-'))
		return NULL;
	negative = *p++ == '-';
	p = scan_decimal(p, end, &d);
	if (p == NULL || compare_decimal(&d, limit) > 0)
		return NULL;
	*value = negative ? -decimal_to_double(&d) : decimal_to_double(&d);
	return p;
}

/* "<lat><lng>", e.g. "+34.068930-118.445127", and nothing else. */
static bool parse_location(struct proto_span s, double *lat, double *lng)
{
	const char *end = s.p + s.len;
	const char *p;

	if (s.len > PROTO_LOCATION_MAX)
		return false;
	p = scan_coordinate(s.p, end, LAT_LIMIT, lat);
	if (p == NULL)
		return false;
	return scan_coordinate(p, end, LNG_LIMIT, lng) == end;
}

/* Nine decimals or fewer, as nanoseconds: "25" is 250000000. */
static int32_t frac_to_nsec(const struct decimal *d)
{
	int32_t nsec = 0;

	for (size_t i = 0; i < TIME_NSEC_DIGITS; i++)
		nsec = nsec * 10 + (i < d->frac_len ? d->frac_p[i] - '0' : 0);
	return nsec;
}

/*
 * POSIX time: optional '-', digits, optionally '.' and 1 to 9 digits.
 * Exact integer arithmetic; a negative time is normalised so nsec stays in
 * [0, 1e9): "-5.25" is sec -6, nsec 750000000.
 */
static bool parse_time(struct proto_span s, struct proto_time *t)
{
	const char *p = s.p, *end = s.p + s.len;
	bool negative = p < end && *p == '-';
	struct decimal d;
	uint64_t magnitude, max;
	int32_t nsec;

	if (s.len > PROTO_TIME_MAX || !whole_decimal(p + negative, end, &d) ||
	    d.frac_len > TIME_NSEC_DIGITS)
		return false;
	nsec = frac_to_nsec(&d);
	/* -(2^63) fits int64_t; with a fraction the borrow must fit too. */
	max = negative ? (uint64_t)INT64_MAX + (nsec == 0) : INT64_MAX;
	if (!digits_to_u64(d.int_p, d.int_len, max, &magnitude))
		return false;
	if (!negative) {
		t->sec = (int64_t)magnitude;
		t->nsec = nsec;
	} else {
		/* 0 - magnitude in unsigned wraps to the exact negative. */
		t->sec = (int64_t)(0 - magnitude - (nsec != 0));
		t->nsec = nsec != 0 ? NSEC_PER_SEC - nsec : 0;
	}
	return true;
}

static bool valid_client(struct proto_span s, const struct proto_limits *lim)
{
	size_t max = lim != NULL ? lim->max_client_len : DEFAULT_CLIENT_MAX;

	return s.len >= 1 && s.len <= max;
}

/* The time difference of an AT line: sign, digits, '.', nine digits. */
static bool valid_diff(struct proto_span s)
{
	struct decimal d;

	if (s.len > PROTO_DIFF_MAX || s.len == 0 ||
	    (s.p[0] != '+' && s.p[0] != '-'))
		return false;
	return whole_decimal(s.p + 1, s.p + s.len, &d) &&
	       d.frac_len == DIFF_DECIMALS;
}

/* ---------------------------------------------------------------------
 * WHATSAT arguments
 * ------------------------------------------------------------------ */

/* A bounds-checked writer into a fixed char array. */
struct writer {
	char *p;
	size_t len, cap;
};

static void put(struct writer *w, char c)
{
	if (w->len < w->cap)
		w->p[w->len] = c;
	w->len++;
}

/*
 * Kilometres to exact metres as text, by moving the decimal point three
 * places to the right: "2.5" -> "2500", "0.00125" -> "1.25".  No leading
 * zeros, no trailing fractional zeros, so Places gets a canonical number.
 * False only if it would not fit (cannot happen for a valid radius).
 */
static bool format_metres(const struct decimal *d, char *out, size_t size)
{
	struct writer w = { out, 0, size - 1 };
	const char *frac_end = d->frac_p + d->frac_len;
	size_t moved = d->frac_len < 3 ? d->frac_len : 3;

	for (size_t i = 0; i < d->int_len + 3; i++) {
		char c = i < d->int_len ? d->int_p[i]
			 : i - d->int_len < moved ? d->frac_p[i - d->int_len]
			 : '0';
		if (c != '0' || w.len > 0)
			put(&w, c);
	}
	if (w.len == 0)
		put(&w, '0');
	while (frac_end > d->frac_p + moved && frac_end[-1] == '0')
		frac_end--;
	if (frac_end > d->frac_p + moved)
		put(&w, '.');
	for (const char *p = d->frac_p + moved; p < frac_end; p++)
		put(&w, *p);
	if (w.len > w.cap)
		return false;
	out[w.len] = '\0';
	return true;
}

/* Radius in km: unsigned decimal, 0 < radius <= 50. */
static bool parse_radius(struct proto_span s, struct proto_cmd *cmd)
{
	struct decimal d;

	if (s.len > PROTO_RADIUS_MAX || !whole_decimal(s.p, s.p + s.len, &d) ||
	    decimal_is_zero(&d) || compare_decimal(&d, RADIUS_KM_MAX) > 0)
		return false;
	if (!format_metres(&d, cmd->radius_m, sizeof cmd->radius_m))
		return false;
	cmd->radius = s;
	cmd->radius_km = decimal_to_double(&d);
	return true;
}

/* Bound: digits only (leading zeros allowed), 1..20. */
static bool parse_bound(struct proto_span s, unsigned *bound)
{
	uint64_t value;

	if (!all_digits(s.p, s.len) ||
	    !digits_to_u64(s.p, s.len, BOUND_MAX, &value) || value == 0)
		return false;
	*bound = (unsigned)value;
	return true;
}

/* ---------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------ */

/* The three fields IAMAT and AT share: client, location, time. */
static bool parse_report(const struct proto_span *f,
			 const struct proto_limits *lim, struct proto_cmd *cmd)
{
	if (!valid_client(f[0], lim) ||
	    !parse_location(f[1], &cmd->lat, &cmd->lng) ||
	    !parse_time(f[2], &cmd->t))
		return false;
	cmd->client = f[0];
	cmd->location = f[1];
	cmd->time = f[2];
	return true;
}

static bool parse_whatsat(const struct proto_span *f,
			  const struct proto_limits *lim,
			  struct proto_cmd *cmd)
{
	if (!valid_client(f[0], lim) || !parse_radius(f[1], cmd) ||
	    !parse_bound(f[2], &cmd->bound))
		return false;
	cmd->client = f[0];
	return true;
}

/* AT <server> <diff> <client> <location> <time> */
static bool parse_at(const struct proto_span *f,
		     const struct proto_limits *lim, struct proto_cmd *cmd)
{
	if (f[0].len > PROTO_NAME_MAX || !valid_diff(f[1]) ||
	    !parse_report(f + 2, lim, cmd))
		return false;
	cmd->server = f[0];
	cmd->diff = f[1];
	return true;
}

static enum proto_verb parse_fields(const struct proto_span *f, size_t n,
				    const struct proto_limits *lim,
				    struct proto_cmd *cmd)
{
	if (n == 4 && SPAN_IS(f[0], "IAMAT"))
		return parse_report(f + 1, lim, cmd) ? PROTO_IAMAT
						     : PROTO_INVALID;
	if (n == 4 && SPAN_IS(f[0], "WHATSAT"))
		return parse_whatsat(f + 1, lim, cmd) ? PROTO_WHATSAT
						      : PROTO_INVALID;
	if (n == 6 && SPAN_IS(f[0], "AT"))
		return parse_at(f + 1, lim, cmd) ? PROTO_AT : PROTO_INVALID;
	return PROTO_INVALID;
}

enum proto_verb proto_parse(const char *line, size_t len,
			    const struct proto_limits *lim,
			    struct proto_cmd *cmd)
{
	struct proto_span fields[MAX_FIELDS];
	size_t n = split_fields(line, len, fields, MAX_FIELDS);

	/* Zeroed first so an invalid command leaves no half-parsed fields. */
	memset(cmd, 0, sizeof *cmd);
	cmd->verb = n <= MAX_FIELDS ? parse_fields(fields, n, lim, cmd)
				    : PROTO_INVALID;
	if (cmd->verb == PROTO_INVALID)
		memset(cmd, 0, sizeof *cmd);
	return cmd->verb;
}

/* ---------------------------------------------------------------------
 * Framing
 * ------------------------------------------------------------------ */

static enum proto_frame frame_result(enum proto_frame kind, size_t line_len,
				     size_t consumed, bool ended,
				     size_t *line_len_out, size_t *consumed_out,
				     bool *line_ended_out)
{
	*line_len_out = line_len;
	*consumed_out = consumed;
	*line_ended_out = ended;
	return kind;
}

/* A line (without "\n") of len bytes: its content drops a final "\r". */
static size_t content_len(const char *line, size_t len)
{
	return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

/*
 * A line that is certainly too long: echo max_line bytes and drop through
 * its "\n" if it is already here, else everything we have.
 */
static enum proto_frame frame_overlong(const char *buf, size_t len,
				       size_t max_line, bool eof,
				       size_t *line_len, size_t *consumed,
				       bool *line_ended)
{
	const char *nl = memchr(buf + max_line, '\n', len - max_line);

	if (nl != NULL)
		return frame_result(FRAME_OVERLONG, max_line,
				    (size_t)(nl - buf) + 1, true,
				    line_len, consumed, line_ended);
	/* At eof nothing is left to discard, so the line has ended too. */
	return frame_result(FRAME_OVERLONG, max_line, len, eof,
			    line_len, consumed, line_ended);
}

enum proto_frame proto_frame(const char *buf, size_t len, size_t max_line,
			     bool eof, size_t *line_len, size_t *consumed,
			     bool *line_ended)
{
	/* A line that fits has its "\n" within its first max_line + 2 bytes,
	 * so never scan further than that for it. */
	size_t window = len > max_line && len - max_line > 2 ? max_line + 2
							     : len;
	const char *nl = window > 0 ? memchr(buf, '\n', window) : NULL;
	size_t n;

	if (nl != NULL) {
		n = content_len(buf, (size_t)(nl - buf));
		if (n > max_line)
			return frame_overlong(buf, len, max_line, eof,
					      line_len, consumed, line_ended);
		return frame_result(n == 0 ? FRAME_EMPTY : FRAME_LINE, n,
				    (size_t)(nl - buf) + 1, true,
				    line_len, consumed, line_ended);
	}
	/* No "\n" yet.  A final "\r" is not counted: it may turn out to be
	 * part of the terminator, or at eof it is stripped. */
	n = content_len(buf, len);
	if (n > max_line)
		return frame_overlong(buf, len, max_line, eof,
				      line_len, consumed, line_ended);
	if (!eof)
		return frame_result(FRAME_PARTIAL, 0, 0, false,
				    line_len, consumed, line_ended);
	return frame_result(n == 0 ? FRAME_EMPTY : FRAME_LINE, n, len, true,
			    line_len, consumed, line_ended);
}

/* ---------------------------------------------------------------------
 * Replies and order
 * ------------------------------------------------------------------ */

/* Writes the decimal digits of v at the end of buf; returns the start. */
static char *u64_digits_backwards(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

static int time_cmp(struct proto_time a, struct proto_time b)
{
	if (a.sec != b.sec)
		return a.sec < b.sec ? -1 : 1;
	if (a.nsec != b.nsec)
		return a.nsec < b.nsec ? -1 : 1;
	return 0;
}

size_t proto_format_diff(char *out, size_t cap, struct proto_time a,
			 struct proto_time b)
{
	char text[PROTO_DIFF_MAX];
	char *end = text + sizeof text, *start;
	bool negative = time_cmp(a, b) < 0;
	struct proto_time hi = negative ? b : a, lo = negative ? a : b;
	/* hi >= lo, so the true second difference fits a uint64_t, and
	 * unsigned subtraction gives it exactly even across the int64 range. */
	uint64_t sec = (uint64_t)hi.sec - (uint64_t)lo.sec;
	int32_t nsec = hi.nsec - lo.nsec;

	if (nsec < 0) {
		nsec += NSEC_PER_SEC;
		sec--;
	}
	start = u64_digits_backwards((uint64_t)nsec + NSEC_PER_SEC, end);
	*start = '.';	/* overwrites the leading '1' used for zero padding */
	start = u64_digits_backwards(sec, start);
	*--start = negative ? '-' : '+';
	if ((size_t)(end - start) > cap)
		return 0;
	memcpy(out, start, (size_t)(end - start));
	return (size_t)(end - start);
}

static char *append(char *p, const char *bytes, size_t len, char after)
{
	if (len > 0)	/* memcpy from a NULL empty span is undefined */
		memcpy(p, bytes, len);
	p += len;
	if (after != '\0')
		*p++ = after;
	return p;
}

size_t proto_format_at(char *out, size_t cap, const char *server,
		       size_t server_len, struct proto_time now,
		       const struct proto_cmd *iamat)
{
	char diff[PROTO_DIFF_MAX];
	size_t diff_len, total;
	char *p = out;

	/* Only a parsed report has the spans to copy (an AT works too). */
	if (iamat->verb != PROTO_IAMAT && iamat->verb != PROTO_AT)
		return 0;
	diff_len = proto_format_diff(diff, sizeof diff, now, iamat->t);
	total = 3 + server_len + 1 + diff_len + 1 + iamat->client.len + 1 +
		iamat->location.len + 1 + iamat->time.len;
	if (total > cap)
		return 0;
	p = append(p, "AT", 2, ' ');
	p = append(p, server, server_len, ' ');
	p = append(p, diff, diff_len, ' ');
	p = append(p, iamat->client.p, iamat->client.len, ' ');
	p = append(p, iamat->location.p, iamat->location.len, ' ');
	p = append(p, iamat->time.p, iamat->time.len, '\0');
	return (size_t)(p - out);
}

const char *proto_at_client(const char *at, size_t len,
			    const struct proto_cmd *cmd)
{
	return at + len - cmd->time.len - 1 - cmd->location.len - 1 -
	       cmd->client.len;
}

size_t proto_canonical_at(char *out, size_t cap, const struct proto_cmd *at)
{
	size_t total;
	char *p = out;

	if (at->verb != PROTO_AT)
		return 0;
	total = 3 + at->server.len + 1 + at->diff.len + 1 + at->client.len +
		1 + at->location.len + 1 + at->time.len;
	if (total > cap)
		return 0;
	p = append(p, "AT", 2, ' ');
	p = append(p, at->server.p, at->server.len, ' ');
	p = append(p, at->diff.p, at->diff.len, ' ');
	p = append(p, at->client.p, at->client.len, ' ');
	p = append(p, at->location.p, at->location.len, ' ');
	p = append(p, at->time.p, at->time.len, '\0');
	return (size_t)(p - out);
}

int proto_newer(struct proto_time ta, const char *line_a, size_t len_a,
		struct proto_time tb, const char *line_b, size_t len_b)
{
	int order = time_cmp(ta, tb);

	if (order != 0)
		return order;
	/* Same time: any fixed rule works as long as every member uses it. */
	order = len_a > 0 && len_b > 0
		? memcmp(line_a, line_b, len_a < len_b ? len_a : len_b) : 0;
	if (order != 0)
		return order < 0 ? -1 : 1;
	return len_a == len_b ? 0 : len_a < len_b ? -1 : 1;
}

struct proto_time proto_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct proto_time){ .sec = ts.tv_sec,
				    .nsec = (int32_t)ts.tv_nsec };
}
