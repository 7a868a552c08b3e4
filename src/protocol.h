/*
 * protocol.h - the client wire protocol of herd (see PROTOCOL.md in the
 * design notes): line framing, IAMAT / WHATSAT / AT parsing, the AT reply,
 * and the "newer" total order.
 *
 * Everything here is pure: no allocation, no I/O, no global state.  Parsed
 * fields are spans that point into the caller's line, so a reply can echo
 * the client's bytes exactly.
 */
#ifndef HERD_PROTOCOL_H
#define HERD_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Bounds on fields the grammar leaves open.  A field longer than its bound
 * makes the command invalid ("? " reply); they exist so that a stored AT
 * line always fits a fixed-size table slot.
 */
#define PROTO_NAME_MAX      63	/* member (server) name */
#define PROTO_LOCATION_MAX  64	/* "+34.068930-118.445127" */
#define PROTO_TIME_MAX      32	/* "1621464827.959498503" */
#define PROTO_DIFF_MAX      32	/* "+0.263873386" */
#define PROTO_RADIUS_MAX    24	/* radius as written by the client */

/* Longest AT line for a given client-id bound (no terminator). */
#define PROTO_AT_MAX(client_max) \
	(3 + PROTO_NAME_MAX + 1 + PROTO_DIFF_MAX + 1 + (client_max) + 1 + \
	 PROTO_LOCATION_MAX + 1 + PROTO_TIME_MAX)

/* A point in time: sec + nsec / 1e9, nsec always in [0, 1e9). */
struct proto_time {
	int64_t sec;
	int32_t nsec;
};

/* A byte range inside the caller's line. */
struct proto_span {
	const char *p;
	size_t len;
};

enum proto_verb {
	PROTO_INVALID = 0,
	PROTO_IAMAT,
	PROTO_WHATSAT,
	PROTO_AT,
};

struct proto_cmd {
	enum proto_verb verb;
	struct proto_span client;	/* all verbs */
	struct proto_span location;	/* IAMAT, AT */
	struct proto_span time;		/* IAMAT, AT: as written */
	struct proto_time t;		/* IAMAT, AT: parsed time */
	struct proto_span server;	/* AT */
	struct proto_span diff;		/* AT */
	double lat, lng;		/* IAMAT, AT: parsed location */
	struct proto_span radius;	/* WHATSAT: kilometres as written */
	double radius_km;		/* WHATSAT */
	char radius_m[PROTO_RADIUS_MAX + 4]; /* WHATSAT: exact metres, "2500" */
	unsigned bound;			/* WHATSAT: 1..20 */
};

struct proto_limits {
	size_t max_client_len;		/* default 255 */
};

/*
 * Parses one command line (terminator already removed; any white space
 * allowed around and between fields).  Returns the verb, or PROTO_INVALID
 * if the line is not a valid command, in which case the reply is
 * "? " + line.  For WHATSAT only the arguments are checked here; whether
 * the client is known is the caller's business.
 */
enum proto_verb proto_parse(const char *line, size_t len,
			    const struct proto_limits *lim,
			    struct proto_cmd *cmd);

/*
 * Framing.  Looks at the bytes at the start of a connection's input and
 * finds the first line.  max_line bounds the line's content (excluding the
 * "\n" and a "\r" right before it).  eof says no more bytes will come.
 *
 *  FRAME_LINE:     a command line is buf[0 .. *line_len) (terminator
 *                  stripped); drop *consumed bytes.  At eof an unterminated
 *                  final line is returned this way too.
 *  FRAME_PARTIAL:  no complete line yet; wait for more bytes.  (At eof with
 *                  no bytes, or only white space ... see below.)
 *  FRAME_OVERLONG: the line exceeds max_line: answer "? " + the first
 *                  *line_len bytes, drop *consumed bytes, and if
 *                  *line_ended is false keep discarding input up to and
 *                  including the next "\n".
 *  FRAME_EMPTY:    an empty line (or an eof remainder of zero bytes):
 *                  nothing to answer, drop *consumed bytes (may be 0 at eof).
 *
 * A line that holds only white space is a command line like any other
 * (and so invalid: "? " + line); only a zero-length line is FRAME_EMPTY.
 */
enum proto_frame {
	FRAME_PARTIAL = 0,
	FRAME_LINE,
	FRAME_OVERLONG,
	FRAME_EMPTY,
};

enum proto_frame proto_frame(const char *buf, size_t len, size_t max_line,
			     bool eof, size_t *line_len, size_t *consumed,
			     bool *line_ended);

/*
 * Writes "AT <server> <diff> <client> <location> <time>" for an IAMAT
 * received at time now, into out (cap bytes, no terminator, no NUL).
 * Returns the length, or 0 if it does not fit.
 */
size_t proto_format_at(char *out, size_t cap, const char *server,
		       size_t server_len, struct proto_time now,
		       const struct proto_cmd *iamat);

/*
 * Writes a parsed AT command back as "AT <server> <diff> <client>
 * <location> <time>" with single spaces, whatever white space it came
 * with.  Returns the length, or 0 if it does not fit cap or cmd is not AT.
 */
size_t proto_canonical_at(char *out, size_t cap, const struct proto_cmd *at);

/*
 * Where the client field lies in an AT line (len bytes) that
 * proto_format_at or proto_canonical_at made from cmd: just before the
 * location and time, which end the line.
 */
const char *proto_at_client(const char *at, size_t len,
			    const struct proto_cmd *cmd);

/*
 * Writes the signed difference a - b with exactly nine decimals
 * ("+0.263873386", "-0.000012000") into out; returns its length (never
 * more than PROTO_DIFF_MAX), or 0 if cap is too small.
 */
size_t proto_format_diff(char *out, size_t cap, struct proto_time a,
			 struct proto_time b);

/*
 * The "newer" total order between two reports for one client: compares the
 * client times exactly, then the whole AT lines bytewise (the longer line
 * wins when one is a prefix of the other).  Returns >0 if a is newer than b,
 * <0 if older, 0 if they are the same report.
 */
int proto_newer(struct proto_time ta, const char *line_a, size_t len_a,
		struct proto_time tb, const char *line_b, size_t len_b);

/* Current wall-clock time. */
struct proto_time proto_now(void);

#endif
