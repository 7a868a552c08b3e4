/*
 * fuzz_config.c - libFuzzer target for conf_load() and conf_select()
 * (src/config.h), i.e. herd.conf.
 *
 * Input: the whole file.  It is handed to conf_load() through a memfd
 * (/proc/self/fd/N; see fuzz_common.h), rewritten for every input.
 *
 * On failure: the error is "PATH:LINE: message", NUL-terminated within
 * the buffer (also for tiny buffers), LINE at most the file's line count.
 * On success, what config.h promises:
 *  - 1..64 members with valid, distinct names, each with a client
 *    address; every listening address used once; neighbour lists sorted,
 *    without self or duplicates, and symmetric;
 *  - every string terminated inside its array; numbers in their ranges;
 *    relative [places] and secret paths made absolute; allow-list blocks
 *    well formed, and conf_allowed() agrees with a bit-by-bit model;
 *  - conf_member_index() finds every member; conf_select() picks exactly
 *    the named members (refusing unknown and classic ones) or, with no
 *    names, only non-classic members;
 *  - a second load of the same bytes gives the same result.
 */
#include "fuzz_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"

/* Coverage is the library's: the checks below are not instrumented. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

static struct herd_conf conf, conf2;

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static bool valid_name(const char *s, size_t cap)
{
	size_t len = strnlen(s, cap);

	if (len == 0 || len > PROTO_NAME_MAX || len == cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

static bool valid_addr(const struct conf_addr *a)
{
	if (!TERMINATED(a->text))
		return false;
	if (a->sa.ss_family == AF_INET)
		return a->salen == sizeof(struct sockaddr_in);
	if (a->sa.ss_family == AF_INET6)
		return a->salen == sizeof(struct sockaddr_in6);
	return false;
}

static bool same_endpoint(const struct conf_addr *a, const struct conf_addr *b)
{
	if (a->sa.ss_family != b->sa.ss_family)
		return false;
	if (a->sa.ss_family == AF_INET) {
		struct sockaddr_in x, y;

		memcpy(&x, &a->sa, sizeof x);
		memcpy(&y, &b->sa, sizeof y);
		return x.sin_port == y.sin_port &&
		       x.sin_addr.s_addr == y.sin_addr.s_addr;
	}
	struct sockaddr_in6 x, y;

	memcpy(&x, &a->sa, sizeof x);
	memcpy(&y, &b->sa, sizeof y);
	return x.sin6_port == y.sin6_port &&
	       x.sin6_scope_id == y.sin6_scope_id &&
	       memcmp(&x.sin6_addr, &y.sin6_addr, 16) == 0;
}

static bool abs_or_empty(const char *p)
{
	return p[0] == '\0' || p[0] == '/';
}

/* Bit by bit: the first prefix bits of block and ip agree. */
static bool ref_in_block(const struct conf_cidr *c, const unsigned char *ip)
{
	for (unsigned b = 0; b < c->prefix; b++) {
		unsigned mask = 0x80u >> (b % 8);

		if ((c->addr[b / 8] & mask) != (ip[b / 8] & mask))
			return false;
	}
	return true;
}

static void check_allowed(const struct herd_conf *c)
{
	static const char *const v4[] = { "127.0.0.1", "10.1.2.3",
					  "192.168.255.255", "0.0.0.0" };
	static const char *const v6[] = { "::1", "fe80::1", "2001:db8::ff",
					  "::ffff:127.0.0.1" };

	for (size_t i = 0; i < c->n_peer_allow; i++) {
		const struct conf_cidr *b = &c->peer_allow[i];

		FUZZ_CHECK((b->family == AF_INET && b->prefix <= 32) ||
			   (b->family == AF_INET6 && b->prefix <= 128),
			   "allow-list block %zu: family %d prefix %u", i,
			   b->family, b->prefix);
	}
	for (size_t k = 0; k < 8; k++) {
		struct sockaddr_storage ss;
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		const unsigned char *ip;
		int family = k < 4 ? AF_INET : AF_INET6;
		bool want = c->n_peer_allow == 0;

		memset(&ss, 0, sizeof ss);
		ss.ss_family = (sa_family_t)family;
		if (family == AF_INET) {
			inet_pton(AF_INET, v4[k], &sin->sin_addr);
			ip = (const unsigned char *)&sin->sin_addr;
		} else {
			inet_pton(AF_INET6, v6[k - 4], &sin6->sin6_addr);
			ip = (const unsigned char *)&sin6->sin6_addr;
		}
		/* Also the block's own address, which must be allowed. */
		for (size_t i = 0; i < c->n_peer_allow; i++)
			if (c->peer_allow[i].family == family &&
			    ref_in_block(&c->peer_allow[i], ip))
				want = true;
		FUZZ_CHECK(conf_allowed(c->peer_allow, c->n_peer_allow,
					(struct sockaddr *)&ss) == want,
			   "conf_allowed disagrees for address %zu", k);
	}
	for (size_t i = 0; i < c->n_peer_allow; i++) {
		struct sockaddr_storage ss;
		const struct conf_cidr *b = &c->peer_allow[i];

		memset(&ss, 0, sizeof ss);
		ss.ss_family = (sa_family_t)b->family;
		if (b->family == AF_INET)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, b->addr, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr,
			       b->addr, 16);
		FUZZ_CHECK(conf_allowed(c->peer_allow, c->n_peer_allow,
					(struct sockaddr *)&ss),
			   "a block does not allow its own address");
	}
}

static void check_select(const struct herd_conf *c)
{
	const char *names[CONF_MEMBERS_MAX + 1];
	bool run[CONF_MEMBERS_MAX];
	char err[256];
	size_t n = 0, classic = CONF_MEMBERS_MAX;
	int got;

	for (size_t i = 0; i < c->n_members; i++) {
		if (c->members[i].classic)
			classic = i;
		else
			names[n++] = c->members[i].name;
	}
	/* The named non-classic members, each once even if named twice. */
	if (n > 0) {
		names[n] = names[0];
		got = conf_select(c, names, n + 1, run, err, sizeof err);
		FUZZ_CHECK(got == (int)n, "conf_select of %zu names: %d", n,
			   got);
		for (size_t i = 0; i < c->n_members; i++)
			FUZZ_CHECK(run[i] == !c->members[i].classic,
				   "conf_select picked the wrong members");
	}
	if (classic < CONF_MEMBERS_MAX) {
		names[0] = c->members[classic].name;
		err[0] = '\0';
		FUZZ_CHECK(conf_select(c, names, 1, run, err, sizeof err) == -1
			   && err[0] != '\0', "classic member selected");
	}
	names[0] = "no such member name, it has spaces";
	err[0] = '\0';
	FUZZ_CHECK(conf_select(c, names, 1, run, err, sizeof err) == -1 &&
		   err[0] != '\0', "unknown member selected");
	/* By address: whatever is local, never a classic member. */
	err[0] = '\0';
	got = conf_select(c, NULL, 0, run, err, sizeof err);
	FUZZ_CHECK(got == -1 || (got >= 1 && (size_t)got <= c->n_members),
		   "conf_select by address: %d", got);
	if (got == -1)
		FUZZ_CHECK(err[0] != '\0' && TERMINATED(err), "no reason");
	for (size_t i = 0, count = 0; i < CONF_MEMBERS_MAX; i++) {
		FUZZ_CHECK(!run[i] || (i < c->n_members &&
				       !c->members[i].classic),
			   "conf_select by address picked member %zu", i);
		count += run[i];
		if (i + 1 == CONF_MEMBERS_MAX)
			FUZZ_CHECK(got == -1 ? count == 0 : count == (size_t)got,
				   "conf_select count");
	}
}

static void check_loaded(const struct herd_conf *c)
{
	FUZZ_CHECK(c->n_members >= 1 && c->n_members <= CONF_MEMBERS_MAX,
		   "%zu members", c->n_members);
	FUZZ_CHECK(TERMINATED(c->path) && TERMINATED(c->log_dir) &&
		   TERMINATED(c->state_dir) && TERMINATED(c->run_dir) &&
		   TERMINATED(c->control_socket) && TERMINATED(c->user) &&
		   TERMINATED(c->secret_file) &&
		   TERMINATED(c->places.base_url) &&
		   TERMINATED(c->places.key_file) &&
		   TERMINATED(c->places.key_env) &&
		   TERMINATED(c->places.file), "unterminated string");
	FUZZ_CHECK(valid_name(c->herd_name, sizeof c->herd_name),
		   "herd name '%s'", c->herd_name);
	FUZZ_CHECK(c->workers >= 1 && c->workers <= 64, "workers %u",
		   c->workers);
	FUZZ_CHECK(c->max_client_len >= 1 && c->max_client_len <= 1024,
		   "max_client_len %zu", c->max_client_len);
	FUZZ_CHECK(c->max_line >= 64, "max_line %zu", c->max_line);
	FUZZ_CHECK(c->table_capacity >= 1, "table_capacity 0");
	FUZZ_CHECK(c->control_socket[0] != '\0' && c->run_dir[0] != '\0' &&
		   c->state_dir[0] != '\0' && c->log_dir[0] != '\0',
		   "an empty directory");
	FUZZ_CHECK(abs_or_empty(c->places.file) &&
		   abs_or_empty(c->places.key_file) &&
		   abs_or_empty(c->secret_file), "a relative path is left");
	FUZZ_CHECK(c->places.provider != PLACES_FILE ||
		   c->places.file[0] != '\0', "provider file without a file");
	FUZZ_CHECK(c->n_peer_allow <= CONF_ALLOW_MAX, "allow-list size");
	for (size_t i = 0; i < c->n_members; i++) {
		const struct conf_member *m = &c->members[i];

		FUZZ_CHECK(valid_name(m->name, sizeof m->name),
			   "member name '%s'", fuzz_show(m->name,
							 strnlen(m->name, 64)));
		FUZZ_CHECK(conf_member_index(c, m->name) == (int)i,
			   "member %s is not found at %zu", m->name, i);
		FUZZ_CHECK(valid_addr(&m->client), "member %s client address",
			   m->name);
		FUZZ_CHECK(m->peer.salen == 0 || valid_addr(&m->peer),
			   "member %s peer address", m->name);
		FUZZ_CHECK(m->n_neighbours < c->n_members, "member %s has %zu "
			   "neighbours", m->name, m->n_neighbours);
		for (size_t k = 0; k < m->n_neighbours; k++) {
			size_t j = m->neighbours[k];
			const struct conf_member *o = &c->members[j];
			bool back = false;

			FUZZ_CHECK(j < c->n_members && j != i &&
				   (k == 0 || m->neighbours[k - 1] < j),
				   "neighbour list of %s", m->name);
			for (size_t b = 0; b < o->n_neighbours; b++)
				back |= o->neighbours[b] == i;
			FUZZ_CHECK(back, "%s-%s only one way", m->name,
				   o->name);
		}
		for (size_t j = 0; j < i; j++) {
			const struct conf_member *o = &c->members[j];

			FUZZ_CHECK(!same_endpoint(&m->client, &o->client) &&
				   (m->peer.salen == 0 ||
				    !same_endpoint(&m->peer, &o->client)) &&
				   (o->peer.salen == 0 ||
				    !same_endpoint(&m->client, &o->peer)) &&
				   (m->peer.salen == 0 || o->peer.salen == 0 ||
				    !same_endpoint(&m->peer, &o->peer)),
				   "members %s and %s share an address",
				   m->name, o->name);
		}
		FUZZ_CHECK(m->peer.salen == 0 ||
			   !same_endpoint(&m->client, &m->peer),
			   "member %s: client and peer address are one",
			   m->name);
	}
	FUZZ_CHECK(conf_member_index(c, "") == -1 &&
		   conf_member_index(c, NULL) == -1 &&
		   conf_member_index(NULL, "x") == -1, "conf_member_index");
	check_allowed(c);
	check_select(c);
}

static void check_error(const char *path, const char *err, size_t errlen,
			size_t lines)
{
	char want[4200];
	size_t plen;
	unsigned long line;
	char *end;

	if (errlen == 0)
		return;
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL,
		   "error not terminated in %zu bytes", errlen);
	plen = (size_t)snprintf(want, sizeof want, "%s:", path);
	if (errlen <= plen + 4)		/* cut short: a prefix of the path */
		return;
	FUZZ_CHECK(strncmp(err, want, plen) == 0, "error '%s' without the "
		   "path", err);
	line = strtoul(err + plen, &end, 10);
	if (*end == '\0' && (size_t)(end - err) + 1 == errlen)
		return;			/* cut in the line number */
	FUZZ_CHECK(end > err + plen && *end == ':', "error '%s' without a "
		   "line", err);
	FUZZ_CHECK(line <= lines, "error on line %lu of %zu: '%s'", line,
		   lines, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	/* Mostly a roomy buffer; sometimes a tiny one, to test cutting. */
	size_t errlen = size % 7 == 3 ? size % 23 : 512;
	char *err = malloc(errlen ? errlen : 1);
	size_t lines = 1;
	int rc;

	FUZZ_CHECK(err != NULL, "out of memory");
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	rc = conf_load(path, &conf, errlen ? err : NULL, errlen);
	FUZZ_CHECK(rc == 0 || rc == -1, "conf_load returned %d", rc);
	if (rc == 0) {
		FUZZ_CHECK(strcmp(conf.path, path) == 0, "conf.path '%s'",
			   conf.path);
		check_loaded(&conf);
		FUZZ_CHECK(conf_load(path, &conf2, NULL, 0) == 0 &&
			   memcmp(&conf, &conf2, sizeof conf) == 0,
			   "a second load differs");
	} else {
		check_error(path, err, errlen, lines);
	}
	free(err);
	return 0;
}

#pragma clang attribute pop
