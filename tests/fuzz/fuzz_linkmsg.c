/*
 * fuzz_linkmsg.c - libFuzzer target for link_msg_parse() (src/linkmsg.h),
 * the messages between herd members on a peer link.
 *
 * Input: one line (terminator already removed, as the flooder hands it
 * over; it may hold any bytes).  Checks:
 *  - the type agrees with an independent reading of linkmsg.h's grammar;
 *  - every span lies inside the line and is the right field; numbers are
 *    exact (epoch 16 lower-case hex digits, change decimal <= UINT64_MAX);
 *    nonces and MACs have their exact shapes;
 *  - an AT is exactly what proto_parse() makes of the line;
 *  - a message written back in canonical form parses to the same values.
 */
#include "fuzz_common.h"

#include <inttypes.h>

#include "linkmsg.h"
#include "protocol.h"

/* Coverage is the library's: the checks below are not instrumented. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

static const struct proto_limits lim = { .max_client_len = 255 };

static bool ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	       c == '\r';
}

struct field {
	const char *p;
	size_t len;
};

static size_t fields_of(const char *s, size_t len, struct field *f,
			size_t max)
{
	size_t n = 0, i = 0;

	for (;;) {
		while (i < len && ws(s[i]))
			i++;
		if (i == len)
			return n;
		size_t start = i;
		while (i < len && !ws(s[i]))
			i++;
		if (n < max)
			f[n] = (struct field){ s + start, i - start };
		n++;
	}
}

static bool word(struct field f, const char *w)
{
	return f.len == strlen(w) && memcmp(f.p, w, f.len) == 0;
}

static bool lower_hex(struct field f, size_t len)
{
	if (f.len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((f.p[i] >= '0' && f.p[i] <= '9') ||
		      (f.p[i] >= 'a' && f.p[i] <= 'f')))
			return false;
	return true;
}

/* Decimal, 1..20 digits, <= UINT64_MAX. */
static bool decimal(struct field f, uint64_t *v)
{
	unsigned __int128 x = 0;

	if (f.len == 0 || f.len > 20)
		return false;
	for (size_t i = 0; i < f.len; i++) {
		if (f.p[i] < '0' || f.p[i] > '9')
			return false;
		x = x * 10 + (unsigned)(f.p[i] - '0');
	}
	if (x > UINT64_MAX)
		return false;
	*v = (uint64_t)x;
	return true;
}

static bool mac(struct field f)
{
	return (f.len == 1 && f.p[0] == '-') ||
	       lower_hex(f, LINKAUTH_MAC_LEN);
}

static bool version(struct field f)
{
	uint64_t v;

	return decimal(f, &v) && v == LINK_VERSION;
}

static uint64_t hex64(struct field f)
{
	char copy[17];

	memcpy(copy, f.p, 16);
	copy[16] = '\0';
	return strtoull(copy, NULL, 16);
}

/* linkmsg.h's grammar; also says which fields hold what. */
static enum link_msg_type ref_type(const char *line, size_t len,
				   struct field *f, uint64_t *change)
{
	struct proto_cmd cmd;
	size_t n;

	if (len >= 3 && memcmp(line, "AT", 2) == 0 && ws(line[2]))
		return proto_parse(line, len, &lim, &cmd) == PROTO_AT
		       ? LINK_AT : LINK_INVALID;
	if (len >= 7 && memcmp(line, "REFUSE", 6) == 0 && ws(line[6]))
		return LINK_REFUSE;
	n = fields_of(line, len, f, 8);
	if (n == 7 && word(f[0], "HELLO") && version(f[1]) &&
	    f[2].len <= PROTO_NAME_MAX && f[3].len <= PROTO_NAME_MAX &&
	    f[4].len <= PROTO_NAME_MAX && lower_hex(f[5], 16) &&
	    lower_hex(f[6], LINKAUTH_NONCE_LEN))
		return LINK_HELLO;
	if (n == 6 && word(f[0], "WELCOME") && version(f[1]) &&
	    lower_hex(f[2], 16) && decimal(f[3], change) &&
	    lower_hex(f[4], LINKAUTH_NONCE_LEN) && mac(f[5]))
		return LINK_WELCOME;
	if (n == 2 && word(f[0], "AUTH") && mac(f[1]))
		return LINK_AUTH;
	if (n == 2 && word(f[0], "MARK") && decimal(f[1], change))
		return LINK_MARK;
	if (n == 1 && word(f[0], "PING"))
		return LINK_PING;
	return LINK_INVALID;
}

static bool is(struct proto_span s, struct field f)
{
	return s.p == f.p && s.len == f.len;
}

static bool same(struct proto_span a, struct proto_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool inside(struct proto_span s, const char *line, size_t len)
{
	return s.len == 0 ||
	       (s.p >= line && s.len <= len && s.p <= line + len - s.len);
}

/* A growing text in a fixed buffer; spans may hold NUL bytes. */
struct out {
	char *p;
	size_t len, cap;
};

static void add(struct out *o, const char *s, size_t n)
{
	FUZZ_CHECK(o->len + n <= o->cap, "canonical form too long");
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void add_str(struct out *o, const char *s)
{
	add(o, s, strlen(s));
}

static void add_span(struct out *o, struct proto_span s)
{
	add(o, " ", 1);
	add(o, s.p, s.len);
}

static void add_u64(struct out *o, const char *fmt, uint64_t v)
{
	char num[32];

	snprintf(num, sizeof num, fmt, v);
	add(o, " ", 1);
	add_str(o, num);
}

/* Writes m back in canonical form; 0 for types without one. */
static size_t canonical(const struct link_msg *m, char *buf, size_t cap)
{
	struct out o = { buf, 0, cap };

	switch (m->type) {
	case LINK_HELLO:
		add_str(&o, "HELLO 1");
		add_span(&o, m->herd);
		add_span(&o, m->from);
		add_span(&o, m->to);
		add_u64(&o, "%016" PRIx64, m->epoch);
		add_span(&o, m->nonce);
		break;
	case LINK_WELCOME:
		add_str(&o, "WELCOME 1");
		add_u64(&o, "%016" PRIx64, m->epoch);
		add_u64(&o, "%" PRIu64, m->change);
		add_span(&o, m->nonce);
		add_span(&o, m->mac);
		break;
	case LINK_AUTH:
		add_str(&o, "AUTH");
		add_span(&o, m->mac);
		break;
	case LINK_MARK:
		add_str(&o, "MARK");
		add_u64(&o, "%" PRIu64, m->change);
		break;
	case LINK_PING:
		add_str(&o, "PING");
		break;
	default:
		return 0;
	}
	return o.len;
}

static void check(const char *line, size_t len)
{
	struct link_msg m, again;
	struct field f[8];
	uint64_t change = 0;
	enum link_msg_type t = link_msg_parse(line, len, &lim, &m);
	enum link_msg_type want = ref_type(line, len, f, &change);
	char buf[512];
	size_t n;

	FUZZ_CHECK(t == want, "link_msg_parse says %d, the grammar %d for "
		   "'%s'", t, want, fuzz_show(line, len));
	FUZZ_CHECK(m.type == t, "msg.type %d, returned %d", m.type, t);
	FUZZ_CHECK(inside(m.herd, line, len) && inside(m.from, line, len) &&
		   inside(m.to, line, len) && inside(m.nonce, line, len) &&
		   inside(m.mac, line, len) && inside(m.reason, line, len),
		   "a span outside the line");
	switch (t) {
	case LINK_HELLO:
		FUZZ_CHECK(is(m.herd, f[2]) && is(m.from, f[3]) &&
			   is(m.to, f[4]) && is(m.nonce, f[6]) &&
			   m.epoch == hex64(f[5]), "HELLO fields");
		break;
	case LINK_WELCOME:
		FUZZ_CHECK(m.epoch == hex64(f[2]) && m.change == change &&
			   is(m.nonce, f[4]) && is(m.mac, f[5]),
			   "WELCOME fields");
		break;
	case LINK_AUTH:
		FUZZ_CHECK(is(m.mac, f[1]), "AUTH fields");
		break;
	case LINK_MARK:
		FUZZ_CHECK(m.change == change, "MARK %" PRIu64 " for '%s'",
			   m.change, fuzz_show(line, len));
		break;
	case LINK_REFUSE:
		FUZZ_CHECK(m.reason.p == line + 7 && m.reason.len == len - 7,
			   "REFUSE reason");
		break;
	case LINK_AT: {
		struct proto_cmd cmd;

		FUZZ_CHECK(proto_parse(line, len, &lim, &cmd) == PROTO_AT &&
			   m.at.verb == PROTO_AT && same(m.at.client, cmd.client) &&
			   m.at.client.p == cmd.client.p &&
			   m.at.server.p == cmd.server.p &&
			   m.at.diff.p == cmd.diff.p &&
			   m.at.location.p == cmd.location.p &&
			   m.at.time.p == cmd.time.p &&
			   m.at.t.sec == cmd.t.sec && m.at.t.nsec == cmd.t.nsec,
			   "AT differs from proto_parse");
		break;
	}
	default:
		break;
	}
	n = canonical(&m, buf, sizeof buf);
	if (n > 0) {
		FUZZ_CHECK(link_msg_parse(buf, n, &lim, &again) == t,
			   "canonical '%s' does not parse back",
			   fuzz_show(buf, n));
		FUZZ_CHECK(again.epoch == m.epoch && again.change == m.change &&
			   same(again.herd, m.herd) && same(again.from, m.from) &&
			   same(again.to, m.to) && same(again.nonce, m.nonce) &&
			   same(again.mac, m.mac), "canonical round trip");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* In its own allocation, so ASan sees a read past the end. */
	char *line = malloc(size ? size : 1);

	FUZZ_CHECK(line != NULL, "out of memory");
	if (size > 0)
		memcpy(line, data, size);
	check(line, size);
	free(line);
	return 0;
}

#pragma clang attribute pop
