/*
 * check_config.c - unit tests for config.c (herd.conf loading).
 *
 * Input files: the shipped etc/herd*.conf (found through HERD_SRCDIR) and a
 * few samples in tests/conf (HERD_TEST_CONFDIR).  Most bad configurations
 * are written from a string to a temporary file inside the test, so each
 * case reads as "this text gives this error on this line".
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define ERR_MAX 512

static struct herd_conf *conf;
static char err[ERR_MAX];
static char temp_path[64];

static void setup(void)
{
	conf = calloc(1, sizeof(*conf));
	ck_assert_ptr_nonnull(conf);
	err[0] = '\0';
}

static void teardown(void)
{
	free(conf);
	conf = NULL;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static const char *env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value != NULL && value[0] != '\0' ? value : fallback;
}

/* dir/name in a static buffer. */
static const char *join(const char *dir, const char *name)
{
	static char path[CONF_PATH_MAX];

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
			 (int)sizeof(path));
	return path;
}

static const char *etc_path(const char *name)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "etc/%s", name);
	return join(env_or("HERD_SRCDIR", "."), rel);
}

static const char *sample_path(const char *name)
{
	return join(env_or("HERD_TEST_CONFDIR", "tests/conf"), name);
}

static int load(const char *path)
{
	return conf_load(path, conf, err, sizeof(err));
}

/* Writes len bytes of text to a fresh temporary file, loads it, removes it. */
static int load_bytes(const char *text, size_t len)
{
	int fd;

	snprintf(temp_path, sizeof(temp_path), "/tmp/herd-conf-XXXXXX");
	fd = mkstemp(temp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	int rc = load(temp_path);
	unlink(temp_path);
	return rc;
}

static int load_text(const char *text)
{
	return load_bytes(text, strlen(text));
}

static void assert_loaded(int rc)
{
	ck_assert_msg(rc == 0, "conf_load failed: %s", err);
}

/* err must be "PATH:LINE: ..." and contain every string in wanted. */
static void assert_error(int rc, const char *path, unsigned line,
			 const char *const *wanted)
{
	char prefix[128];

	ck_assert_int_eq(rc, -1);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
		      "error '%s' does not start with '%s'", err, prefix);
	for (; *wanted != NULL; wanted++)
		ck_assert_msg(strstr(err, *wanted) != NULL,
			      "error '%s' does not mention '%s'", err, *wanted);
}

static const struct conf_member *member(const char *name)
{
	int i = conf_member_index(conf, name);

	ck_assert_msg(i >= 0, "no member %s", name);
	return &conf->members[i];
}

static unsigned port_of(const struct conf_addr *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (addr->sa.ss_family == AF_INET6) {
		memcpy(&sin6, &addr->sa, sizeof(sin6));
		return ntohs(sin6.sin6_port);
	}
	memcpy(&sin, &addr->sa, sizeof(sin));
	return ntohs(sin.sin_port);
}

static bool linked(size_t a, size_t b)
{
	const struct conf_member *m = &conf->members[a];

	for (size_t k = 0; k < m->n_neighbours; k++)
		if (m->neighbours[k] == b)
			return true;
	return false;
}

/*
 * Every member's neighbour set is exactly what the link list says, in
 * both directions, without duplicates.
 */
static void assert_links(const char *const (*links)[2], size_t n_links)
{
	size_t expected[CONF_MEMBERS_MAX] = { 0 };

	for (size_t l = 0; l < n_links; l++) {
		size_t a = (size_t)conf_member_index(conf, links[l][0]);
		size_t b = (size_t)conf_member_index(conf, links[l][1]);

		ck_assert_msg(linked(a, b) && linked(b, a), "%s-%s missing",
			      links[l][0], links[l][1]);
		expected[a]++;
		expected[b]++;
	}
	for (size_t i = 0; i < conf->n_members; i++)
		ck_assert_msg(conf->members[i].n_neighbours == expected[i],
			      "%s has %zu neighbours, expected %zu",
			      conf->members[i].name,
			      conf->members[i].n_neighbours, expected[i]);
}

static struct conf_addr make_addr(int family, const char *ip, unsigned port)
{
	struct conf_addr addr;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&addr, 0, sizeof(addr));
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	snprintf(addr.text, sizeof(addr.text), "%s:%u", ip, port);
	if (family == AF_INET) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
		memcpy(&addr.sa, &sin, sizeof(sin));
		addr.salen = sizeof(sin);
	} else {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
		memcpy(&addr.sa, &sin6, sizeof(sin6));
		addr.salen = sizeof(sin6);
	}
	return addr;
}

/* ------------------------------------------------------------------ */
/* The shipped herds                                                    */
/* ------------------------------------------------------------------ */

struct classic_herd {
	const char *file;
	const char *herd_name;
	const char *names[5];
	unsigned client_port, peer_port;	/* of names[0]; +1 each */
	const char *links[6][2];
};

static const struct classic_herd classic_herds[] = {
	{ "herd.conf", "herd2021",
	  { "Riley", "Jaquez", "Juzang", "Campbell", "Bernard" }, 12480, 12580,
	  { { "Riley", "Jaquez" }, { "Riley", "Juzang" },
	    { "Bernard", "Jaquez" }, { "Bernard", "Juzang" },
	    { "Bernard", "Campbell" }, { "Juzang", "Campbell" } } },
	{ "herd-2018.conf", "herd2018",
	  { "Goloman", "Hands", "Holiday", "Welsh", "Wilkes" }, 12680, 12690,
	  { { "Goloman", "Hands" }, { "Goloman", "Holiday" },
	    { "Goloman", "Wilkes" }, { "Hands", "Wilkes" },
	    { "Holiday", "Welsh" }, { "Holiday", "Wilkes" } } },
	{ "herd-2023.conf", "herd2023",
	  { "Bailey", "Bona", "Campbell", "Clark", "Jaquez" }, 12780, 12790,
	  { { "Clark", "Jaquez" }, { "Clark", "Bona" },
	    { "Campbell", "Bailey" }, { "Campbell", "Bona" },
	    { "Campbell", "Jaquez" }, { "Bona", "Bailey" } } },
};

START_TEST(test_classic_herd)
{
	const struct classic_herd *h = &classic_herds[_i];

	assert_loaded(load(etc_path(h->file)));
	ck_assert_str_eq(conf->herd_name, h->herd_name);
	ck_assert_uint_eq(conf->workers, 2);
	/* The demo answers WHATSAT from the landmarks shipped beside it. */
	ck_assert_int_eq(conf->places.provider, PLACES_FILE);
	ck_assert(strstr(conf->places.file, "/etc/places-demo.json") != NULL);
	ck_assert_uint_eq(conf->n_members, 5);
	for (size_t i = 0; i < 5; i++) {
		const struct conf_member *m = &conf->members[i];

		ck_assert_str_eq(m->name, h->names[i]);
		ck_assert_int_eq(m->client.sa.ss_family, AF_INET);
		ck_assert_uint_eq(port_of(&m->client), h->client_port + i);
		ck_assert_uint_eq(port_of(&m->peer), h->peer_port + i);
		ck_assert(!m->classic);
		ck_assert(conf_addr_is_local(&m->client));
	}
	assert_links(h->links, 6);
}
END_TEST

START_TEST(test_herd_conf_details)
{
	assert_loaded(load(etc_path("herd.conf")));
	ck_assert_str_eq(conf->log_dir, "/var/log/herd");
	ck_assert_str_eq(conf->state_dir, "/var/lib/herd");
	ck_assert_str_eq(member("Riley")->client.text, "127.0.0.1:12480");
	ck_assert_str_eq(member("Bernard")->peer.text, "127.0.0.1:12584");
	/* The commented-out keys leave their defaults. */
	ck_assert_uint_eq(conf->max_line, 4096);
	ck_assert_uint_eq(conf->places.timeout_ms, 5000);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Good configurations                                                  */
/* ------------------------------------------------------------------ */

START_TEST(test_defaults)
{
	const char *path = sample_path("minimal.conf");

	assert_loaded(load(path));
	ck_assert_str_eq(conf->path, path);
	ck_assert_str_eq(conf->herd_name, "herd");
	ck_assert_uint_eq(conf->workers, 2);
	ck_assert_str_eq(conf->log_dir, LOCALSTATEDIR "/log/herd");
	ck_assert_str_eq(conf->state_dir, LOCALSTATEDIR "/lib/herd");
	ck_assert_str_eq(conf->run_dir, RUNSTATEDIR "/herd");
	ck_assert_str_eq(conf->user, "");
	ck_assert(conf->log_io);
	ck_assert_uint_eq(conf->table_capacity, 100000);
	ck_assert_uint_eq(conf->max_line, 4096);
	ck_assert_uint_eq(conf->max_client_len, 255);
	ck_assert_uint_eq(conf->idle_timeout_s, 300);
	ck_assert_uint_eq(conf->max_clients, 10000);
	ck_assert_uint_eq(conf->max_output, 1024 * 1024);
	ck_assert_uint_eq(conf->respawn_budget, 5);
	ck_assert_int_eq(conf->places.provider, PLACES_NONE);
	ck_assert_str_eq(conf->places.base_url, "");
	ck_assert_str_eq(conf->places.key_file, "");
	ck_assert_str_eq(conf->places.key_env, "");
	ck_assert_str_eq(conf->places.file, "");
	ck_assert_str_eq(conf->control_socket, RUNSTATEDIR "/herd/herdd.sock");
	ck_assert_uint_eq(conf->places.timeout_ms, 5000);
	ck_assert_uint_eq(conf->places.max_concurrent, 64);
	ck_assert_uint_eq(conf->places.cache_ttl_s, 0);
	ck_assert_uint_eq(conf->n_members, 1);
	ck_assert_str_eq(conf->members[0].name, "Solo");
	ck_assert_uint_eq(conf->members[0].peer.salen, 0);
	ck_assert_uint_eq(conf->members[0].n_neighbours, 0);
	ck_assert(!conf->members[0].classic);
}
END_TEST

START_TEST(test_every_key)
{
	assert_loaded(load(sample_path("everything.conf")));
	ck_assert_str_eq(conf->herd_name, "everything");
	ck_assert_uint_eq(conf->workers, 64);
	ck_assert_str_eq(conf->log_dir, "/tmp/herd-test/log");
	ck_assert_str_eq(conf->state_dir, "/tmp/herd-test/state");
	ck_assert_str_eq(conf->run_dir, "/tmp/herd-test/run");
	ck_assert_str_eq(conf->user, "nobody");
	ck_assert(!conf->log_io);
	ck_assert_uint_eq(conf->table_capacity, 50000000);
	ck_assert_uint_eq(conf->max_line, 64);
	ck_assert_uint_eq(conf->max_client_len, 1024);
	ck_assert_uint_eq(conf->idle_timeout_s, 0);
	ck_assert_uint_eq(conf->max_clients, 1);
	ck_assert_uint_eq(conf->max_output, 4096);
	ck_assert_uint_eq(conf->respawn_budget, 0);
	ck_assert_int_eq(conf->places.provider, PLACES_FILE);
	ck_assert_str_eq(conf->places.base_url,
		"http://127.0.0.1:18080/maps/api/place/nearbysearch/json");
	ck_assert_str_eq(conf->places.key_file, "/etc/herd/places.key");
	ck_assert_str_eq(conf->places.key_env, "HERD_PLACES_KEY");
	/* Relative to the configuration file's directory. */
	ck_assert_str_eq(conf->places.file, sample_path("places.json"));
	ck_assert_uint_eq(conf->places.timeout_ms, 250);
	ck_assert_uint_eq(conf->places.max_concurrent, 3);
	ck_assert_uint_eq(conf->places.cache_ttl_s, 60);
	ck_assert(!member("Alpha")->classic);
	ck_assert(member("Beta")->classic);
	ck_assert_uint_eq(member("Alpha")->n_neighbours, 1);
	ck_assert_uint_eq(member("Beta")->n_neighbours, 1);
}
END_TEST

START_TEST(test_bool_words)
{
	static const char *const words[][2] = {
		{ "yes", "1" }, { "true", "1" }, { "on", "1" }, { "1", "1" },
		{ "YES", "1" }, { "no", "0" }, { "false", "0" },
		{ "off", "0" }, { "0", "0" }, { "Off", "0" },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(text, sizeof(text), "[herd]\nlog_io = %s\n"
			 "[member A]\nclient = 127.0.0.1:13001\n", words[i][0]);
		assert_loaded(load_text(text));
		ck_assert_msg(conf->log_io == (words[i][1][0] == '1'),
			      "log_io = %s", words[i][0]);
	}
}
END_TEST

START_TEST(test_provider_words)
{
	static const struct { const char *word; enum places_provider p; }
	providers[] = {
		{ "none", PLACES_NONE }, { "google", PLACES_GOOGLE },
		{ "google-new", PLACES_GOOGLE_NEW }, { "file", PLACES_FILE },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		snprintf(text, sizeof(text), "[places]\nprovider = %s\n"
			 "file = x.json\n[member A]\nclient = 127.0.0.1:1\n",
			 providers[i].word);
		assert_loaded(load_text(text));
		ck_assert_int_eq(conf->places.provider, providers[i].p);
	}
}
END_TEST

START_TEST(test_comments)
{
	assert_loaded(load_text(
		"\xEF\xBB\xBF# a hash comment, after a UTF-8 BOM\n"
		"; a semicolon comment\n"
		"[herd]   ; inline after a header\n"
		"workers = 3 ; inline semicolon\n"
		"max_line = 128\t# inline hash after a tab\n"
		"    table_capacity = 77\n"	/* a key, not continued */
		"\t  # an indented comment\n"
		"user = a#b;c\n"		/* no white space: part of it */
		"\n"
		"   [member A] # indented header\n"
		"client = 127.0.0.1:13001   # comment\n"
		"neighbours = B ; comment\n"
		"[member B]\n"
		"client=127.0.0.1:13002\n"));
	ck_assert_uint_eq(conf->workers, 3);
	ck_assert_uint_eq(conf->max_line, 128);
	ck_assert_uint_eq(conf->table_capacity, 77);
	ck_assert_str_eq(conf->user, "a#b;c");
	ck_assert_uint_eq(conf->n_members, 2);
	ck_assert_str_eq(member("A")->client.text, "127.0.0.1:13001");
	ck_assert_uint_eq(member("A")->n_neighbours, 1);
	ck_assert_str_eq(member("B")->client.text, "127.0.0.1:13002");
}
END_TEST

START_TEST(test_ipv6)
{
	struct sockaddr_in6 sin6;
	char ip[INET6_ADDRSTRLEN];

	assert_loaded(load_text("[member A]\n"
				"client = [::1]:13001\n"
				"peer = [2001:db8::7]:13101\n"));
	ck_assert_int_eq(member("A")->client.sa.ss_family, AF_INET6);
	ck_assert_uint_eq(member("A")->client.salen, sizeof(sin6));
	ck_assert_uint_eq(port_of(&member("A")->client), 13001);
	ck_assert_str_eq(member("A")->client.text, "[::1]:13001");
	memcpy(&sin6, &member("A")->peer.sa, sizeof(sin6));
	inet_ntop(AF_INET6, &sin6.sin6_addr, ip, sizeof(ip));
	ck_assert_str_eq(ip, "2001:db8::7");
	ck_assert_uint_eq(port_of(&member("A")->peer), 13101);
	ck_assert(conf_addr_is_local(&member("A")->client));
	ck_assert(!conf_addr_is_local(&member("A")->peer));
}
END_TEST

START_TEST(test_links_symmetric)
{
	/* One-sided, repeated and mutual mentions all make one link. */
	assert_loaded(load_text("[member A]\nclient = 127.0.0.1:13001\n"
				"neighbours = B B C\n"
				"[member B]\nclient = 127.0.0.1:13002\n"
				"neighbours = A\n"
				"[member C]\nclient = 127.0.0.1:13003\n"
				"neighbours =\n"
				"[member D]\nclient = 127.0.0.1:13004\n"));
	static const char *const links[][2] = { { "A", "B" }, { "A", "C" } };
	assert_links(links, 2);
	ck_assert_uint_eq(member("D")->n_neighbours, 0);
	/* Listed in member order. */
	ck_assert_uint_eq(member("A")->neighbours[0], 1);
	ck_assert_uint_eq(member("A")->neighbours[1], 2);
}
END_TEST

/* Builds "[member M0]..." for n members with distinct ports. */
static char *members_text(size_t n)
{
	size_t cap = n * 64 + 1, used = 0;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, cap - used,
					 "[member M%zu]\nclient = "
					 "127.0.0.1:%zu\n", i, 20000 + i);
	return text;
}

START_TEST(test_max_members)
{
	char *text = members_text(CONF_MEMBERS_MAX);
	int rc = load_text(text);

	free(text);
	assert_loaded(rc);
	ck_assert_uint_eq(conf->n_members, CONF_MEMBERS_MAX);
	ck_assert_int_eq(conf_member_index(conf, "M63"), 63);
}
END_TEST

START_TEST(test_longest_name)
{
	char text[256];
	char name[PROTO_NAME_MAX + 1];

	memset(name, 'n', PROTO_NAME_MAX);
	name[PROTO_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "[herd]\nname = %s\n[member %s]\n"
		 "client = 127.0.0.1:1\n", name, name);
	assert_loaded(load_text(text));
	ck_assert_str_eq(conf->herd_name, name);
	ck_assert_str_eq(conf->members[0].name, name);
}
END_TEST

START_TEST(test_member_index)
{
	assert_loaded(load(etc_path("herd.conf")));
	ck_assert_int_eq(conf_member_index(conf, "Riley"), 0);
	ck_assert_int_eq(conf_member_index(conf, "Bernard"), 4);
	ck_assert_int_eq(conf_member_index(conf, "riley"), -1);
	ck_assert_int_eq(conf_member_index(conf, "Goloman"), -1);
	ck_assert_int_eq(conf_member_index(conf, ""), -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bad configurations                                                   */
/* ------------------------------------------------------------------ */

#define MEMBER_A "[member A]\nclient = 127.0.0.1:13001\n"	/* two lines */
#define MEMBER_B "[member B]\nclient = 127.0.0.1:13002\n"
#define NAME16 "nnnnnnnnnnnnnnnn"
#define NAME64 NAME16 NAME16 NAME16 NAME16
#define TEXT130 NAME64 NAME64 "xx"

struct bad_case {
	const char *text;
	unsigned line;
	const char *wanted[4];
};

static const struct bad_case bad_cases[] = {
	/* sections */
	{ "[herd]\nworkers = 2\n[bogus]\n", 3,
	  { "unknown section", "[bogus]" } },
	{ MEMBER_A "[memberB]\nclient = 127.0.0.1:1\n", 3,
	  { "unknown section", "[memberB]" } },
	{ "[herd]\n[places]\n[herd]\n" MEMBER_A, 3,
	  { "duplicate section [herd]", "line 1" } },
	{ "[herd] workers = 2\n" MEMBER_A, 1, { "unexpected text after ']'" } },
	{ "[member]\nclient = 127.0.0.1:1\n", 1, { "needs a name" } },
	{ "workers = 2\n" MEMBER_A, 1,
	  { "'workers'", "before any [section]" } },
	/* keys */
	{ "[herd]\nworkers = 2\nwrokers = 3\n" MEMBER_A, 3,
	  { "unknown key", "'wrokers'", "[herd]" } },
	{ MEMBER_A "port = 5\n", 3, { "unknown key 'port'", "[member A]" } },
	{ "[places]\nprovider = none\napi_key = x\n" MEMBER_A, 3,
	  { "unknown key 'api_key'", "[places]" } },
	{ "[herd]\nworkers = 2\n; comment\nworkers = 3\n" MEMBER_A, 4,
	  { "duplicate key 'workers'", "[herd]", "line 2" } },
	{ MEMBER_A "client = 127.0.0.1:13002\n", 3,
	  { "duplicate key 'client'", "[member A]" } },
	{ MEMBER_A "not a key\n", 3, { "syntax error" } },
	/* an inih syntax error before a later error is the one reported */
	{ "[herd]\nnonsense\nworkers = 0\n" MEMBER_A, 2, { "syntax error" } },
	/* integers */
	{ "[herd]\nworkers = 2x\n" MEMBER_A, 2,
	  { "workers = 2x", "not a number", "1..64" } },
	{ "[herd]\nworkers = -1\n" MEMBER_A, 2,
	  { "workers = -1", "not a number" } },
	{ "[herd]\nworkers = +1\n" MEMBER_A, 2, { "not a number" } },
	{ "[herd]\nworkers = 0x10\n" MEMBER_A, 2, { "not a number" } },
	{ "[herd]\nworkers = 2;x\n" MEMBER_A, 2,
	  { "workers = 2;x", "not a number" } },
	{ "[herd]\nworkers =\n" MEMBER_A, 2,
	  { "workers", "number is required" } },
	{ "[herd]\nworkers = 0\n" MEMBER_A, 2,
	  { "workers = 0", "out of range", "1..64" } },
	{ "[herd]\nworkers = 65\n" MEMBER_A, 2, { "workers = 65", "1..64" } },
	{ "[herd]\ntable_capacity = 99999999999999999999999999999\n"
	  MEMBER_A, 2,
	  { "table_capacity", "out of range", "1..50000000" } },
	{ "[herd]\ntable_capacity = 50000001\n" MEMBER_A, 2,
	  { "table_capacity = 50000001", "out of range" } },
	{ "[herd]\ntable_capacity = 0\n" MEMBER_A, 2,
	  { "table_capacity = 0" } },
	{ "[herd]\nmax_line = 63\n" MEMBER_A, 2, { "max_line = 63", "64.." } },
	{ "[herd]\nmax_client_len = 0\n" MEMBER_A, 2,
	  { "max_client_len = 0", "1..1024" } },
	{ "[herd]\nmax_client_len = 1025\n" MEMBER_A, 2,
	  { "max_client_len = 1025", "1..1024" } },
	{ "[places]\ntimeout_ms = 0\n" MEMBER_A, 2, { "timeout_ms = 0" } },
	/* booleans and words */
	{ "[herd]\nlog_io = maybe\n" MEMBER_A, 2,
	  { "log_io = maybe", "not a boolean" } },
	{ MEMBER_A "classic = 2\n", 3, { "classic = 2", "not a boolean" } },
	{ "[places]\nprovider = bing\n" MEMBER_A, 2,
	  { "provider = bing", "unknown provider" } },
	{ "[places]\nprovider = file\n" MEMBER_A, 2,
	  { "provider = file needs file" } },
	/* strings */
	{ "[herd]\nuser = " NAME64 "\n" MEMBER_A, 2,
	  { "user", "too long", "at most 63" } },
	{ "[places]\nkey_env = " TEXT130 "\n" MEMBER_A, 2,
	  { "key_env", "too long" } },
	{ "[herd]\nlog_dir =\n" MEMBER_A, 2,
	  { "log_dir", "path is required" } },
	{ "[herd]\nname = " NAME64 "\n" MEMBER_A, 2,
	  { "name = n", "1..63 bytes" } },
	{ "[herd]\nname =\n" MEMBER_A, 2, { "name =", "1..63 bytes" } },
	/* addresses */
	{ "[member A]\nclient = localhost:12480\n", 2,
	  { "client = localhost:12480", "bad address" } },
	{ "[member A]\nclient = 127.0.0.1\n", 2,
	  { "client = 127.0.0.1", "bad address" } },
	{ "[member A]\nclient =\n", 2, { "client", "bad address" } },
	{ "[member A]\nclient = 127.0.0.1:0\n", 2,
	  { "bad port '0'", "1..65535" } },
	{ "[member A]\nclient = 127.0.0.1:65536\n", 2, { "bad port '65536'" } },
	{ "[member A]\nclient = 127.0.0.1:\n", 2, { "bad port ''" } },
	{ "[member A]\nclient = 127.0.0.1:http\n", 2, { "bad port 'http'" } },
	{ "[member A]\nclient = 127.1:80\n", 2,
	  { "127.1", "not a numeric IPv4" } },
	{ "[member A]\nclient = 1.2.3.256:80\n", 2, { "not a numeric IPv4" } },
	{ "[member A]\nclient = ::1:80\n", 2,
	  { "client = ::1:80", "bad address" } },
	{ "[member A]\nclient = [::1]80\n", 2, { "bad address" } },
	{ "[member A]\nclient = [::g]:80\n", 2, { "not a numeric IPv6" } },
	{ "[member A]\nclient = [127.0.0.1]:80\n", 2,
	  { "not a numeric IPv6" } },
	{ MEMBER_A "peer = 10.0.0.1:1:2\n", 3,
	  { "peer = 10.0.0.1:1:2", "bad address" } },
	/* members */
	{ "[member " NAME64 "]\nclient = 127.0.0.1:1\n", 1,
	  { "bad member name", "1..63 bytes" } },
	{ "[member A B]\nclient = 127.0.0.1:1\n", 1,
	  { "bad member name 'A B'" } },
	{ "[member A\x01]\nclient = 127.0.0.1:1\n", 1, { "bad member name" } },
	{ MEMBER_A MEMBER_B "[member A]\nclient = 127.0.0.1:13003\n", 5,
	  { "duplicate member 'A'", "line 1" } },
	{ "[herd]\nworkers = 2\n\n[member A]\npeer = 127.0.0.1:13101\n", 4,
	  { "member A has no client address" } },
	{ MEMBER_A "[member B]\n; empty\n", 3,
	  { "member B has no client address" } },
	{ "[herd]\nworkers = 2\n", 0, { "no [member NAME] section" } },
	{ "", 0, { "no [member NAME] section" } },
	/* neighbours */
	{ MEMBER_A "neighbours = B\n", 3,
	  { "member A", "unknown neighbour 'B'" } },
	{ MEMBER_A MEMBER_B "neighbours = A a\n", 5,
	  { "member B", "unknown neighbour 'a'" } },
	{ MEMBER_A "neighbours = A\n", 3, { "member A lists itself" } },
	/* clashing addresses */
	{ MEMBER_A "[member B]\nclient = 127.0.0.1:13001\n", 4,
	  { "client address 127.0.0.1:13001 of member B",
	    "client address of member A (line 2)" } },
	{ MEMBER_A "[member B]\nclient = 127.0.0.1:13002\n"
	  "peer = 127.0.0.1:13001\n",
	  5, { "peer address 127.0.0.1:13001 of member B",
	       "client address of member A" } },
	{ MEMBER_A "peer = 127.0.0.1:13001\n", 3,
	  { "peer address", "of member A is already the client address" } },
	{ MEMBER_A MEMBER_B "peer = 127.0.0.1:13101\n[member C]\n"
	  "client = 127.0.0.1:13003\npeer = 127.0.0.1:13101\n", 8,
	  { "peer address", "member C", "peer address of member B" } },
	{ "[member A]\nclient = [::1]:13001\n"
	  "[member B]\nclient = [0:0::1]:13001\n", 4,
	  { "client address [0:0::1]:13001 of member B" } },
};

START_TEST(test_bad_config)
{
	const struct bad_case *c = &bad_cases[_i];

	assert_error(load_text(c->text), temp_path, c->line, c->wanted);
}
END_TEST

START_TEST(test_bad_config_file)
{
	const char *path = sample_path("bad-neighbour.conf");
	static const char *const wanted[] = {
		"member Jaquez", "unknown neighbour 'Juznag'", NULL,
	};
	char saved[CONF_PATH_MAX];

	snprintf(saved, sizeof(saved), "%s", path);
	assert_error(load(saved), saved, 11, wanted);
}
END_TEST

START_TEST(test_too_many_members)
{
	static const char *const wanted[] = { "too many members", "64", NULL };
	char *text = members_text(CONF_MEMBERS_MAX + 1);
	int rc = load_text(text);

	free(text);
	/* Two lines per member: the 65th header is line 129. */
	assert_error(rc, temp_path, 2 * CONF_MEMBERS_MAX + 1, wanted);
}
END_TEST

START_TEST(test_line_too_long)
{
	static const char *const wanted[] = { "line too long", NULL };
	char text[512];
	char value[301];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	/* inih would cut this line in two and parse the halves. */
	snprintf(text, sizeof(text), "[herd]\nuser = x\n\nbase_url = %s\n"
		 "[member A]\nclient = 127.0.0.1:1\n", value);
	assert_error(load_text(text), temp_path, 4, wanted);
}
END_TEST

START_TEST(test_long_comment_is_fine)
{
	char text[1024];
	char comment[301];

	memset(comment, 'c', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	snprintf(text, sizeof(text), "# %s\n[member A] ; %s\n"
		 "client = 127.0.0.1:1\n", comment, comment);
	assert_loaded(load_text(text));
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char *const wanted[] = { "NUL", NULL };
	static const char text[] = "[herd]\nuser = a\0b\n" MEMBER_A;

	assert_error(load_bytes(text, sizeof(text) - 1), temp_path, 2, wanted);
}
END_TEST

START_TEST(test_missing_file)
{
	static const char *const wanted[] = { "cannot open", NULL };
	const char *path = "/nonexistent/herd.conf";

	assert_error(load(path), path, 0, wanted);
}
END_TEST

START_TEST(test_directory)
{
	static const char *const wanted[] = { "read error", NULL };
	const char *dir = env_or("HERD_TEST_CONFDIR", "tests/conf");

	assert_error(load(dir), dir, 0, wanted);
}
END_TEST

START_TEST(test_small_error_buffer)
{
	char small[12];

	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(conf_load("/nonexistent/herd.conf", conf, small,
				   sizeof(small)), -1);
	ck_assert_str_eq(small, "/nonexisten");
	ck_assert_int_eq(conf_load("/nonexistent/herd.conf", conf, NULL, 0),
			 -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* conf_addr_is_local                                                   */
/* ------------------------------------------------------------------ */

START_TEST(test_local_addresses)
{
	struct conf_addr addr;

	addr = make_addr(AF_INET, "127.0.0.1", 1);
	ck_assert(conf_addr_is_local(&addr));
	addr = make_addr(AF_INET, "127.42.0.9", 1);
	ck_assert(conf_addr_is_local(&addr));
	addr = make_addr(AF_INET, "0.0.0.0", 1);
	ck_assert(conf_addr_is_local(&addr));
	addr = make_addr(AF_INET6, "::1", 1);
	ck_assert(conf_addr_is_local(&addr));
	addr = make_addr(AF_INET6, "::", 1);
	ck_assert(conf_addr_is_local(&addr));
	addr = make_addr(AF_INET6, "::ffff:127.0.0.1", 1);
	ck_assert(conf_addr_is_local(&addr));
}
END_TEST

START_TEST(test_remote_addresses)
{
	struct conf_addr addr;

	addr = make_addr(AF_INET, "192.0.2.1", 1);	/* TEST-NET-1 */
	ck_assert(!conf_addr_is_local(&addr));
	addr = make_addr(AF_INET, "128.0.0.1", 1);
	ck_assert(!conf_addr_is_local(&addr));
	addr = make_addr(AF_INET6, "2001:db8::1", 1);	/* documentation */
	ck_assert(!conf_addr_is_local(&addr));
	addr = make_addr(AF_INET6, "::ffff:192.0.2.1", 1);
	ck_assert(!conf_addr_is_local(&addr));
	memset(&addr, 0, sizeof(addr));			/* no address */
	ck_assert(!conf_addr_is_local(&addr));
}
END_TEST

/* A non-loopback address of one of our interfaces counts as local. */
START_TEST(test_interface_address)
{
	struct ifaddrs *list, *ifa;
	struct conf_addr addr;
	char ip[INET_ADDRSTRLEN] = "";

	ck_assert_int_eq(getifaddrs(&list), 0);
	for (ifa = list; ifa != NULL && ip[0] == '\0'; ifa = ifa->ifa_next) {
		struct sockaddr_in sin;

		if (ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_INET)
			continue;
		memcpy(&sin, ifa->ifa_addr, sizeof(sin));
		if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127)
			inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
	}
	freeifaddrs(list);
	if (ip[0] == '\0')
		return;	/* only loopback here: nothing more to check */
	addr = make_addr(AF_INET, ip, 1);
	ck_assert_msg(conf_addr_is_local(&addr), "%s is ours", ip);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *shipped = tcase_create("shipped");
	TCase *good = tcase_create("good");
	TCase *bad = tcase_create("bad");
	TCase *local = tcase_create("local");
	TCase *all[] = { shipped, good, bad, local };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_loop_test(shipped, test_classic_herd, 0,
			    sizeof(classic_herds) / sizeof(classic_herds[0]));
	tcase_add_test(shipped, test_herd_conf_details);
	tcase_add_test(shipped, test_member_index);

	tcase_add_test(good, test_defaults);
	tcase_add_test(good, test_every_key);
	tcase_add_test(good, test_bool_words);
	tcase_add_test(good, test_provider_words);
	tcase_add_test(good, test_comments);
	tcase_add_test(good, test_ipv6);
	tcase_add_test(good, test_links_symmetric);
	tcase_add_test(good, test_max_members);
	tcase_add_test(good, test_longest_name);
	tcase_add_test(good, test_long_comment_is_fine);

	tcase_add_loop_test(bad, test_bad_config, 0,
			    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(bad, test_bad_config_file);
	tcase_add_test(bad, test_too_many_members);
	tcase_add_test(bad, test_line_too_long);
	tcase_add_test(bad, test_nul_byte);
	tcase_add_test(bad, test_missing_file);
	tcase_add_test(bad, test_directory);
	tcase_add_test(bad, test_small_error_buffer);

	tcase_add_test(local, test_local_addresses);
	tcase_add_test(local, test_remote_addresses);
	tcase_add_test(local, test_interface_address);
	return s;
}

int main(void)
{
	return tap_run(config_suite());
}
