/*
 * linkmsg.c - parsing the messages of a link; see linkmsg.h.
 */
#include "linkmsg.h"

#include <string.h>

#define LINK_FIELDS_MAX 7

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

/* Splits line into at most max fields; returns the count, or max+1. */
static size_t split(const char *line, size_t len, struct proto_span *f,
		    size_t max)
{
	size_t n = 0, i = 0;

	while (i < len) {
		size_t start;

		while (i < len && is_space(line[i]))
			i++;
		if (i == len)
			break;
		if (n == max)
			return max + 1;
		start = i;
		while (i < len && !is_space(line[i]))
			i++;
		f[n].p = line + start;
		f[n++].len = i - start;
	}
	return n;
}

static bool span_is(const struct proto_span *s, const char *word)
{
	size_t n = strlen(word);

	return s->len == n && memcmp(s->p, word, n) == 0;
}

/* Parses up to 20 decimal digits that fit in 64 bits. */
static bool parse_u64(const struct proto_span *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s->len == 0 || s->len > 20)
		return false;
	for (size_t i = 0; i < s->len; i++) {
		unsigned d = (unsigned char)s->p[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool is_hex(const struct proto_span *s, size_t len)
{
	if (s->len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s->p[i] >= '0' && s->p[i] <= '9') ||
		      (s->p[i] >= 'a' && s->p[i] <= 'f')))
			return false;
	return true;
}

/* A MAC: hex, or "-" from a member without a secret. */
static bool is_mac(const struct proto_span *s)
{
	return (s->len == 1 && s->p[0] == '-') || is_hex(s, LINKAUTH_MAC_LEN);
}

static bool parse_hex64(const struct proto_span *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s->len != 16)
		return false;
	for (size_t i = 0; i < 16; i++) {
		char c = s->p[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

static bool is_version(const struct proto_span *s)
{
	uint64_t v;

	return parse_u64(s, &v) && v == LINK_VERSION;
}

static enum link_msg_type parse_fields(const struct proto_span *f, size_t n,
				       struct link_msg *m)
{
	if (n == 7 && span_is(&f[0], "HELLO") && is_version(&f[1]) &&
	    f[2].len <= PROTO_NAME_MAX && f[3].len <= PROTO_NAME_MAX &&
	    f[4].len <= PROTO_NAME_MAX && parse_hex64(&f[5], &m->epoch) &&
	    is_hex(&f[6], LINKAUTH_NONCE_LEN)) {
		m->herd = f[2];
		m->from = f[3];
		m->to = f[4];
		m->nonce = f[6];
		return LINK_HELLO;
	}
	if (n == 6 && span_is(&f[0], "WELCOME") && is_version(&f[1]) &&
	    parse_hex64(&f[2], &m->epoch) && parse_u64(&f[3], &m->change) &&
	    is_hex(&f[4], LINKAUTH_NONCE_LEN) && is_mac(&f[5])) {
		m->nonce = f[4];
		m->mac = f[5];
		return LINK_WELCOME;
	}
	if (n == 2 && span_is(&f[0], "AUTH") && is_mac(&f[1])) {
		m->mac = f[1];
		return LINK_AUTH;
	}
	if (n == 2 && span_is(&f[0], "MARK") && parse_u64(&f[1], &m->change))
		return LINK_MARK;
	if (n == 1 && span_is(&f[0], "PING"))
		return LINK_PING;
	return LINK_INVALID;
}

enum link_msg_type link_msg_parse(const char *line, size_t len,
				  const struct proto_limits *lim,
				  struct link_msg *msg)
{
	struct proto_span f[LINK_FIELDS_MAX];
	size_t n;

	memset(msg, 0, sizeof(*msg));
	if (len >= 3 && memcmp(line, "AT", 2) == 0 && is_space(line[2])) {
		if (proto_parse(line, len, lim, &msg->at) != PROTO_AT)
			return LINK_INVALID;
		return msg->type = LINK_AT;
	}
	if (len >= 7 && memcmp(line, "REFUSE", 6) == 0 && is_space(line[6])) {
		msg->reason.p = line + 7;
		msg->reason.len = len - 7;
		return msg->type = LINK_REFUSE;
	}
	n = split(line, len, f, LINK_FIELDS_MAX);
	return msg->type = parse_fields(f, n, msg);
}
