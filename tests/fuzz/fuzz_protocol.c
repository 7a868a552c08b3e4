/*
 * fuzz_protocol.c - libFuzzer target for the client protocol
 * (src/protocol.h) and the line framing built on it (src/lines.h).
 *
 * Input: a byte stream followed by 4 parameter bytes (an input shorter
 * than 4 bytes is a stream with all-zero parameters):
 *   p[0], p[1] & 0x80   max_line: p[0] (0..255), or 4096 if the bit is set
 *   p[1] & 0x7f         max_client_len: 255 if >= 64, 1024 if 63, else it
 *   p[2]                seed for chunk sizes and sub-ranges
 *   p[3]                the "now" and the server name for proto_format_at
 *
 * Checks:
 *  - proto_frame() equals a straightforward model of the framing rules of
 *    protocol.h on the stream and on sub-ranges, with and without eof;
 *  - lines_next() fed the stream in random chunks gives exactly the events
 *    (lines, over-long echoes, empty lines) the model gives for the whole
 *    stream, and drains everything at eof;
 *  - proto_parse() of the stream and of every framed line agrees with an
 *    independent grammar (PROTOCOL.md), its spans are the right fields,
 *    numbers are exact (times as integers, coordinates and radius as
 *    strtod reads them, radius in metres as text), an invalid line leaves
 *    a zeroed cmd;
 *  - an AT re-written by proto_canonical_at() parses to the same fields
 *    and is a fixed point; an IAMAT or AT answered by proto_format_at()
 *    parses as an AT with the same client fields and the exact diff;
 *    proto_newer() is an antisymmetric order; outputs never pass cap.
 */
#include "fuzz_common.h"

#include <math.h>

#include <event2/buffer.h>

#include "lines.h"
#include "protocol.h"

/* Coverage is the library's: the checks below are not instrumented. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

#define PARAMS 4
#define STREAM_MAX 65536	/* longer streams are cut for the chunk test */

struct params {
	size_t max_line;
	struct proto_limits lim;
	uint64_t seed;
	unsigned now_pick;
};

/* ---- an independent reading of the grammar (PROTOCOL.md) ---------------- */

static bool ws(unsigned char c)
{
	return c == ' ' || (c >= 9 && c <= 13);
}

static bool dig(unsigned char c)
{
	return c >= '0' && c <= '9';
}

struct field {
	const char *p;
	size_t len;
};

/* All fields (up to max; returns the true count, however many). */
static size_t fields_of(const char *s, size_t len, struct field *f,
			size_t max)
{
	size_t n = 0, i = 0;

	for (;;) {
		while (i < len && ws((unsigned char)s[i]))
			i++;
		if (i == len)
			return n;
		size_t start = i;
		while (i < len && !ws((unsigned char)s[i]))
			i++;
		if (n < max)
			f[n] = (struct field){ s + start, i - start };
		n++;
	}
}

static bool is_word(struct field f, const char *w)
{
	return f.len == strlen(w) && memcmp(f.p, w, f.len) == 0;
}

/* digits, optionally '.' digits: returns bytes taken (0 = none). */
static size_t number_at(const char *p, size_t len, size_t *int_len,
			size_t *frac_len)
{
	size_t i = 0;

	while (i < len && dig((unsigned char)p[i]))
		i++;
	*int_len = i;
	*frac_len = 0;
	if (i == 0)
		return 0;
	if (i < len && p[i] == '.') {
		size_t j = i + 1;

		while (j < len && dig((unsigned char)p[j]))
			j++;
		if (j == i + 1)
			return 0;
		*frac_len = j - i - 1;
		return j;
	}
	return i;
}

/* The decimal int.frac is <= limit (limit < 1000), exactly. */
static bool within(const char *p, size_t int_len, size_t frac_len,
		   unsigned limit)
{
	size_t z = 0;
	unsigned v = 0;

	while (z < int_len && p[z] == '0')
		z++;
	if (int_len - z > 3)
		return false;
	for (size_t i = z; i < int_len; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	if (v != limit)
		return v < limit;
	for (size_t i = 0; i < frac_len; i++)
		if (p[int_len + 1 + i] != '0')
			return false;
	return true;
}

static bool ref_coordinate(const char **p, const char *end, unsigned limit)
{
	size_t il, fl, n;

	if (*p == end || (**p != '+' && **p != '-'))
		return false;
	n = number_at(*p + 1, (size_t)(end - *p - 1), &il, &fl);
	if (n == 0 || !within(*p + 1, il, fl, limit))
		return false;
	*p += 1 + n;
	return true;
}

static bool ref_location(struct field f)
{
	const char *p = f.p, *end = f.p + f.len;

	return f.len <= PROTO_LOCATION_MAX && ref_coordinate(&p, end, 90) &&
	       ref_coordinate(&p, end, 180) && p == end;
}

/* The time as nanoseconds (exact), if it is valid. */
static bool ref_time(struct field f, __int128 *ns)
{
	bool neg = f.len > 0 && f.p[0] == '-';
	size_t il, fl, n;
	__int128 mag = 0, frac = 0, sec;

	if (f.len > PROTO_TIME_MAX)
		return false;
	n = number_at(f.p + neg, f.len - neg, &il, &fl);
	if (n == 0 || n != f.len - neg || fl > 9)
		return false;
	for (size_t i = 0; i < il; i++) {
		mag = mag * 10 + (f.p[neg + i] - '0');
		if (mag > ((__int128)1 << 64))
			return false;
	}
	for (size_t i = 0; i < 9; i++)
		frac = frac * 10 + (i < fl ? f.p[neg + il + 1 + i] - '0' : 0);
	/* seconds after normalising nsec into [0, 1e9) */
	sec = neg ? -mag - (frac != 0) : mag;
	if (sec > INT64_MAX || sec < INT64_MIN)
		return false;
	*ns = neg ? -(mag * 1000000000 + frac) : mag * 1000000000 + frac;
	return true;
}

static bool ref_client(struct field f, const struct proto_limits *lim)
{
	return f.len >= 1 && f.len <= lim->max_client_len;
}

static bool ref_radius(struct field f)
{
	size_t il, fl;
	bool zero = true;

	if (f.len > PROTO_RADIUS_MAX ||
	    number_at(f.p, f.len, &il, &fl) != f.len)
		return false;
	for (size_t i = 0; i < f.len; i++)
		if (f.p[i] != '0' && f.p[i] != '.')
			zero = false;
	return !zero && within(f.p, il, fl, 50);
}

static bool ref_bound(struct field f, unsigned *bound)
{
	unsigned v = 0;

	if (f.len == 0)
		return false;
	for (size_t i = 0; i < f.len; i++) {
		if (!dig((unsigned char)f.p[i]))
			return false;
		if (v <= 20)
			v = v * 10 + (unsigned)(f.p[i] - '0');
	}
	*bound = v;
	return v >= 1 && v <= 20;
}

static bool ref_diff(struct field f)
{
	size_t il, fl;

	return f.len >= 1 && f.len <= PROTO_DIFF_MAX &&
	       (f.p[0] == '+' || f.p[0] == '-') &&
	       number_at(f.p + 1, f.len - 1, &il, &fl) == f.len - 1 &&
	       fl == 9;
}

static enum proto_verb ref_verb(const char *line, size_t len,
				const struct proto_limits *lim,
				struct field *f)
{
	size_t n = fields_of(line, len, f, 7);
	__int128 ns;
	unsigned bound;

	if (n == 4 && is_word(f[0], "IAMAT"))
		return ref_client(f[1], lim) && ref_location(f[2]) &&
		       ref_time(f[3], &ns) ? PROTO_IAMAT : PROTO_INVALID;
	if (n == 4 && is_word(f[0], "WHATSAT"))
		return ref_client(f[1], lim) && ref_radius(f[2]) &&
		       ref_bound(f[3], &bound) ? PROTO_WHATSAT
					       : PROTO_INVALID;
	if (n == 6 && is_word(f[0], "AT"))
		return f[1].len <= PROTO_NAME_MAX && ref_diff(f[2]) &&
		       ref_client(f[3], lim) && ref_location(f[4]) &&
		       ref_time(f[5], &ns) ? PROTO_AT : PROTO_INVALID;
	return PROTO_INVALID;
}

/* ---- checks on a parsed command ----------------------------------------- */

static bool same_span(struct proto_span s, struct field f)
{
	return s.p == f.p && s.len == f.len;
}

static bool same_bytes(struct proto_span a, struct proto_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static double strtod_of(const char *p, size_t len)
{
	char copy[128];

	FUZZ_CHECK(len < sizeof copy, "number too long for the check");
	memcpy(copy, p, len);
	copy[len] = '\0';
	return strtod(copy, NULL);
}

static bool same_double(double a, double b)
{
	return a == b && signbit(a) == signbit(b);
}

static void check_location(const struct proto_cmd *cmd)
{
	const char *p = cmd->location.p;
	size_t len = cmd->location.len, split = 1;

	while (split < len && p[split] != '+' && p[split] != '-')
		split++;
	FUZZ_CHECK(split < len, "location without a longitude: %s",
		   fuzz_show(p, len));
	FUZZ_CHECK(same_double(cmd->lat, strtod_of(p, split)),
		   "lat %.17g for %s", cmd->lat, fuzz_show(p, len));
	FUZZ_CHECK(same_double(cmd->lng, strtod_of(p + split, len - split)),
		   "lng %.17g for %s", cmd->lng, fuzz_show(p, len));
	FUZZ_CHECK(cmd->lat >= -90 && cmd->lat <= 90, "lat %g", cmd->lat);
	FUZZ_CHECK(cmd->lng >= -180 && cmd->lng <= 180, "lng %g", cmd->lng);
}

static void check_time(const struct proto_cmd *cmd)
{
	__int128 ns = 0;
	struct field f = { cmd->time.p, cmd->time.len };

	FUZZ_CHECK(ref_time(f, &ns), "time");
	FUZZ_CHECK(cmd->t.nsec >= 0 && cmd->t.nsec < 1000000000,
		   "nsec %d out of range", cmd->t.nsec);
	FUZZ_CHECK((__int128)cmd->t.sec * 1000000000 + cmd->t.nsec == ns,
		   "time %s parsed as %lld.%09d",
		   fuzz_show(cmd->time.p, cmd->time.len),
		   (long long)cmd->t.sec, cmd->t.nsec);
}

/* Kilometres text -> metres text, moving the point 3 places. */
static void ref_metres(const char *p, size_t len, char *out, size_t cap)
{
	char digits[64];
	size_t nd = 0, point = len, o = 0, i;

	for (i = 0; i < len; i++) {
		if (p[i] == '.')
			point = nd;
		else
			digits[nd++] = p[i];
	}
	if (point == len)
		point = nd;
	point += 3;			/* digits before the new point */
	while (nd < point)
		digits[nd++] = '0';
	i = 0;
	while (i + 1 < point && digits[i] == '0')
		i++;
	for (; i < point; i++)
		out[o++] = digits[i];
	while (nd > point && digits[nd - 1] == '0')
		nd--;
	if (nd > point) {
		out[o++] = '.';
		for (i = point; i < nd; i++)
			out[o++] = digits[i];
	}
	FUZZ_CHECK(o < cap, "metres too long");
	out[o] = '\0';
}

static void check_cmd(const char *line, size_t len,
		      const struct proto_limits *lim, enum proto_verb verb,
		      const struct proto_cmd *cmd)
{
	static const struct proto_cmd zero;
	struct field f[7];
	enum proto_verb want = ref_verb(line, len, lim, f);

	FUZZ_CHECK(verb == want, "proto_parse says %d, the grammar %d for "
		   "'%s' (max_client_len %zu)", verb, want,
		   fuzz_show(line, len), lim->max_client_len);
	FUZZ_CHECK(cmd->verb == verb, "cmd->verb %d, returned %d",
		   cmd->verb, verb);
	if (verb == PROTO_INVALID) {
		FUZZ_CHECK(memcmp(cmd, &zero, sizeof zero) == 0,
			   "invalid command left fields set");
		return;
	}
	if (verb == PROTO_IAMAT || verb == PROTO_AT) {
		size_t c = verb == PROTO_IAMAT ? 1 : 3;

		FUZZ_CHECK(same_span(cmd->client, f[c]) &&
			   same_span(cmd->location, f[c + 1]) &&
			   same_span(cmd->time, f[c + 2]), "spans");
		check_location(cmd);
		check_time(cmd);
	}
	if (verb == PROTO_AT)
		FUZZ_CHECK(same_span(cmd->server, f[1]) &&
			   same_span(cmd->diff, f[2]), "AT spans");
	if (verb == PROTO_WHATSAT) {
		char metres[64];
		unsigned bound = 0;

		FUZZ_CHECK(same_span(cmd->client, f[1]) &&
			   same_span(cmd->radius, f[2]), "WHATSAT spans");
		FUZZ_CHECK(ref_bound(f[3], &bound) && cmd->bound == bound,
			   "bound %u", cmd->bound);
		FUZZ_CHECK(same_double(cmd->radius_km,
				       strtod_of(f[2].p, f[2].len)),
			   "radius_km %.17g for %s", cmd->radius_km,
			   fuzz_show(f[2].p, f[2].len));
		FUZZ_CHECK(cmd->radius_km > 0 && cmd->radius_km <= 50,
			   "radius_km %g", cmd->radius_km);
		ref_metres(f[2].p, f[2].len, metres, sizeof metres);
		FUZZ_CHECK(memchr(cmd->radius_m, '\0', sizeof cmd->radius_m) &&
			   strcmp(cmd->radius_m, metres) == 0,
			   "radius %s km is '%s' m, want '%s'",
			   fuzz_show(f[2].p, f[2].len), cmd->radius_m,
			   metres);
	}
}

/* The line is parsed from a copy in its own allocation, so that ASan
   sees any read past len. */
static enum proto_verb parse_checked(const char *line, size_t len,
				     const struct proto_limits *lim,
				     struct proto_cmd *cmd)
{
	enum proto_verb verb = proto_parse(line, len, lim, cmd);

	check_cmd(line, len, lim, verb, cmd);
	return verb;
}

/* ---- replies ------------------------------------------------------------ */

static const struct proto_time nows[] = {
	{ 1621464828, 223372889 }, { 0, 0 }, { INT64_MAX, 999999999 },
	{ INT64_MIN, 0 }, { -1, 999999999 }, { 1, 0 }, { 4102444800, 1 },
};

static const char long_name[PROTO_NAME_MAX + 1] =
	"SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS";
static const char *const servers[] = { "Riley", "x", long_name };

static __int128 ns_of(struct proto_time t)
{
	return (__int128)t.sec * 1000000000 + t.nsec;
}

/* A diff field's value in ns; checks its shape. */
static __int128 diff_ns(const char *p, size_t len)
{
	__int128 v = 0;
	size_t i = 1;

	FUZZ_CHECK(len >= 12 && (p[0] == '+' || p[0] == '-') &&
		   p[len - 10] == '.', "diff shape '%s'", fuzz_show(p, len));
	for (; i < len; i++)
		if (p[i] != '.')
			v = v * 10 + (p[i] - '0');
	return p[0] == '-' ? -v : v;
}

static void check_format_diff(struct proto_time a, struct proto_time b)
{
	char buf[PROTO_DIFF_MAX];
	size_t n = proto_format_diff(buf, sizeof buf, a, b);
	char *exact;

	FUZZ_CHECK(n > 0 && n <= PROTO_DIFF_MAX, "diff length %zu", n);
	FUZZ_CHECK(diff_ns(buf, n) == ns_of(a) - ns_of(b), "diff '%s'",
		   fuzz_show(buf, n));
	FUZZ_CHECK(ns_of(a) != ns_of(b) || buf[0] == '+', "-0 diff");
	exact = malloc(n);
	FUZZ_CHECK(exact != NULL, "out of memory");
	FUZZ_CHECK(proto_format_diff(exact, n, a, b) == n, "exact cap");
	FUZZ_CHECK(memcmp(exact, buf, n) == 0, "same diff");
	FUZZ_CHECK(proto_format_diff(exact, n - 1, a, b) == 0, "short cap");
	free(exact);
}

/* out: exactly cap bytes of heap, so ASan catches a write past cap. */
static void check_canonical(const struct proto_cmd *at,
			    const struct proto_limits *lim)
{
	size_t cap = PROTO_AT_MAX(lim->max_client_len);
	char *out = malloc(cap), *small;
	struct proto_cmd again, third;
	size_t n, m;

	FUZZ_CHECK(out != NULL, "out of memory");
	n = proto_canonical_at(out, cap, at);
	FUZZ_CHECK(n > 0, "a parsed AT does not fit PROTO_AT_MAX");
	FUZZ_CHECK(proto_parse(out, n, lim, &again) == PROTO_AT,
		   "canonical AT '%s' does not parse", fuzz_show(out, n));
	FUZZ_CHECK(same_bytes(again.server, at->server) &&
		   same_bytes(again.diff, at->diff) &&
		   same_bytes(again.client, at->client) &&
		   same_bytes(again.location, at->location) &&
		   same_bytes(again.time, at->time), "canonical fields");
	FUZZ_CHECK(again.t.sec == at->t.sec && again.t.nsec == at->t.nsec &&
		   same_double(again.lat, at->lat) &&
		   same_double(again.lng, at->lng), "canonical values");
	small = malloc(n);
	FUZZ_CHECK(small != NULL, "out of memory");
	m = proto_canonical_at(small, n, &again);
	FUZZ_CHECK(m == n && memcmp(small, out, n) == 0,
		   "canonical form is not a fixed point");
	FUZZ_CHECK(proto_canonical_at(small, n - 1, &again) == 0,
		   "canonical AT written past cap");
	third = again;
	third.verb = PROTO_IAMAT;
	FUZZ_CHECK(proto_canonical_at(small, n, &third) == 0,
		   "canonical of a non-AT");
	FUZZ_CHECK(proto_newer(at->t, out, n, again.t, small, m) == 0,
		   "a line is not as new as itself");
	free(small);
	free(out);
}

static void check_format_at(const struct proto_cmd *cmd,
			    const struct proto_limits *lim,
			    const struct params *par)
{
	struct proto_time now = nows[par->now_pick % 7];
	const char *server = servers[(par->now_pick / 7) % 3];
	size_t cap = PROTO_AT_MAX(lim->max_client_len);
	char *out = malloc(cap), *tight;
	struct proto_cmd at;
	size_t n;
	int ab, ba;

	FUZZ_CHECK(out != NULL, "out of memory");
	if ((par->now_pick & 0x80) != 0) {	/* near the client's time */
		now = cmd->t;
		if (par->now_pick & 0x40)
			now.nsec = (now.nsec + 1) % 1000000000;
	}
	n = proto_format_at(out, cap, server, strlen(server), now, cmd);
	FUZZ_CHECK(n > 0, "the reply does not fit PROTO_AT_MAX");
	FUZZ_CHECK(proto_parse(out, n, lim, &at) == PROTO_AT,
		   "reply '%s' does not parse", fuzz_show(out, n));
	FUZZ_CHECK(at.server.len == strlen(server) &&
		   memcmp(at.server.p, server, at.server.len) == 0 &&
		   same_bytes(at.client, cmd->client) &&
		   same_bytes(at.location, cmd->location) &&
		   same_bytes(at.time, cmd->time) &&
		   at.t.sec == cmd->t.sec && at.t.nsec == cmd->t.nsec,
		   "reply fields");
	FUZZ_CHECK(diff_ns(at.diff.p, at.diff.len) == ns_of(now) -
		   ns_of(cmd->t), "reply diff '%s'",
		   fuzz_show(at.diff.p, at.diff.len));
	check_format_diff(now, cmd->t);
	check_format_diff(cmd->t, now);
	tight = malloc(n);
	FUZZ_CHECK(tight != NULL, "out of memory");
	FUZZ_CHECK(proto_format_at(tight, n, server, strlen(server), now,
				   cmd) == n && memcmp(tight, out, n) == 0,
		   "exact cap");
	FUZZ_CHECK(proto_format_at(tight, n - 1, server, strlen(server), now,
				   cmd) == 0, "reply written past cap");
	/* The order: antisymmetric, and time decides first. */
	if (cmd->verb == PROTO_AT) {
		char *canon = malloc(cap);
		size_t cn;

		FUZZ_CHECK(canon != NULL, "out of memory");
		cn = proto_canonical_at(canon, cap, cmd);
		ab = proto_newer(cmd->t, canon, cn, at.t, out, n);
		ba = proto_newer(at.t, out, n, cmd->t, canon, cn);
		FUZZ_CHECK(ab == -ba && ab >= -1 && ab <= 1, "newer %d %d",
			   ab, ba);
		FUZZ_CHECK((ab == 0) == (cn == n && !memcmp(canon, out, n)),
			   "newer 0 for different lines");
		free(canon);
	}
	ab = proto_newer(now, out, n, cmd->t, out, n);
	FUZZ_CHECK(ab == (ns_of(now) > ns_of(cmd->t) ? 1 :
			  ns_of(now) < ns_of(cmd->t) ? -1 : 0),
		   "time decides first");
	free(tight);
	free(out);
}

static void check_line(const char *bytes, size_t len,
		       const struct params *par)
{
	struct proto_cmd cmd;
	char *line = malloc(len ? len : 1);
	enum proto_verb verb;

	FUZZ_CHECK(line != NULL, "out of memory");
	if (len > 0)
		memcpy(line, bytes, len);
	verb = parse_checked(line, len, &par->lim, &cmd);
	if (verb == PROTO_AT)
		check_canonical(&cmd, &par->lim);
	if (verb == PROTO_AT || verb == PROTO_IAMAT)
		check_format_at(&cmd, &par->lim, par);
	/* NULL limits mean the default client bound, 255. */
	if (par->lim.max_client_len == 255) {
		struct proto_cmd other;

		FUZZ_CHECK(proto_parse(line, len, NULL, &other) == verb,
			   "NULL limits differ from 255");
	}
	free(line);
}

/* ---- framing ------------------------------------------------------------ */

/* The rules of protocol.h, the obvious way. */
static enum proto_frame ref_frame(const char *buf, size_t len, size_t max,
				  bool eof, size_t *line_len,
				  size_t *consumed, bool *ended)
{
	const char *nl = len ? memchr(buf, '\n', len) : NULL;
	size_t end = nl ? (size_t)(nl - buf) : len;
	size_t n = end > 0 && buf[end - 1] == '\r' ? end - 1 : end;

	if (nl == NULL && !eof && n <= max) {
		*line_len = *consumed = 0;
		*ended = false;
		return FRAME_PARTIAL;
	}
	*consumed = nl ? end + 1 : len;
	if (n > max) {
		*line_len = max;
		*ended = nl != NULL || eof;
		return FRAME_OVERLONG;
	}
	*line_len = n;
	*ended = true;
	return n == 0 ? FRAME_EMPTY : FRAME_LINE;
}

static void check_frame(const char *buf, size_t len, size_t max, bool eof)
{
	size_t ll = 7, co = 7, rll, rco;
	bool le = false, rle;
	enum proto_frame got = proto_frame(buf, len, max, eof, &ll, &co, &le);
	enum proto_frame want = ref_frame(buf, len, max, eof, &rll, &rco,
					  &rle);

	FUZZ_CHECK(got == want && ll == rll && co == rco && le == rle,
		   "proto_frame('%s', max %zu, eof %d) = %d len %zu consumed "
		   "%zu ended %d; want %d %zu %zu %d", fuzz_show(buf, len),
		   max, eof, got, ll, co, le, want, rll, rco, rle);
	FUZZ_CHECK(co <= len && ll <= len, "beyond the buffer");
	FUZZ_CHECK(got != FRAME_OVERLONG || ll <= max, "overlong echo");
	FUZZ_CHECK(got != FRAME_LINE || (ll > 0 && ll <= max), "line length");
	FUZZ_CHECK(!eof || got != FRAME_PARTIAL, "partial at eof");
	FUZZ_CHECK(!eof || memchr(buf, '\n', len) || co == len,
		   "eof without newline leaves bytes");
}

struct event {
	enum proto_frame kind;
	const char *p;
	size_t len;
};

/* The events of the whole stream, by the model. */
static size_t ref_events(const char *s, size_t len, size_t max,
			 struct event *ev)
{
	size_t n = 0, ll, co;
	bool ended;

	while (len > 0) {
		enum proto_frame k = ref_frame(s, len, max, true, &ll, &co,
					       &ended);

		FUZZ_CHECK(co > 0, "model stuck");
		ev[n++] = (struct event){ k, s, ll };
		s += co;
		len -= co;
	}
	return n;
}

struct feed {
	struct evbuffer *in;
	bool discarding;
	const struct event *want;
	size_t n_want, seen;
	size_t max;
	const struct params *par;
};

static void drive(struct feed *f, bool eof)
{
	for (;;) {
		const char *line = NULL;
		size_t len = 0, consumed = 99, avail;
		enum proto_frame k;

		avail = evbuffer_get_length(f->in);
		k = lines_next(f->in, f->max, eof, &f->discarding, &line, &len,
			       &consumed);
		if (k == FRAME_PARTIAL) {
			FUZZ_CHECK(consumed == 0, "partial consumed");
			break;
		}
		FUZZ_CHECK(consumed > 0 && consumed <= avail,
			   "consumed %zu of %zu", consumed, avail);
		FUZZ_CHECK(f->seen < f->n_want, "extra event %d '%s'", k,
			   fuzz_show(line, len));
		const struct event *w = &f->want[f->seen++];
		FUZZ_CHECK(k == w->kind && len == w->len &&
			   (len == 0 || memcmp(line, w->p, len) == 0),
			   "event %zu: lines_next %d '%s', model %d '%s'",
			   f->seen - 1, k, fuzz_show(line, len), w->kind,
			   fuzz_show(w->p, w->len));
		evbuffer_drain(f->in, consumed);
	}
}

static void check_chunks(const char *s, size_t len, const struct params *par)
{
	/* Static: a fresh allocation per input costs more than the rest. */
	static struct event want[STREAM_MAX + 1];
	struct feed f = { .max = par->max_line, .par = par };
	uint64_t rng = par->seed;
	size_t pos = 0;

	if (len > STREAM_MAX)
		len = STREAM_MAX;
	f.want = want;
	f.n_want = ref_events(s, len, par->max_line, want);
	f.in = evbuffer_new();
	FUZZ_CHECK(f.in != NULL, "out of memory");
	while (pos < len) {
		uint64_t r = fuzz_next(&rng);
		size_t chunk = r & 1 ? 1 + (r >> 8) % 4 : 1 + (r >> 8) % 64;

		if (chunk > len - pos)
			chunk = len - pos;
		evbuffer_add(f.in, s + pos, chunk);
		pos += chunk;
		drive(&f, false);
	}
	drive(&f, true);
	FUZZ_CHECK(f.seen == f.n_want, "%zu events of %zu", f.seen, f.n_want);
	FUZZ_CHECK(evbuffer_get_length(f.in) == 0, "bytes left at eof");
	evbuffer_free(f.in);
	/* Every framed line is a command line: parse it. */
	for (size_t i = 0; i < f.n_want; i++)
		if (want[i].kind == FRAME_LINE)
			check_line(want[i].p, want[i].len, par);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t p[PARAMS] = { 0 };
	size_t len = size >= PARAMS ? size - PARAMS : size;
	const char *s = (const char *)data;
	struct params par;
	uint64_t rng;

	if (size >= PARAMS)
		memcpy(p, data + len, PARAMS);
	par.max_line = p[1] & 0x80 ? 4096 : p[0];
	par.lim.max_client_len = (p[1] & 0x7f) >= 64 ? 255 :
				 (p[1] & 0x7f) == 63 ? 1024 : (p[1] & 0x7f);
	par.seed = p[2];
	par.now_pick = p[3];

	/* A one-line stream is checked as the line check_chunks frames. */
	if (len > 0 && memchr(s, '\n', len) != NULL)
		check_line(s, len, &par);
	check_frame(s, len, par.max_line, false);
	check_frame(s, len, par.max_line, true);
	rng = par.seed ^ len;
	for (int i = 0; i < 4 && len > 0; i++) {
		size_t off = fuzz_next(&rng) % len;
		size_t n = fuzz_next(&rng) % (len - off + 1);

		check_frame(s + off, n, par.max_line, i & 1);
	}
	check_chunks(s, len, &par);
	return 0;
}

#pragma clang attribute pop
