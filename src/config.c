/*
 * config.c - loads and validates herd.conf; see config.h.
 *
 * libinih does the INI syntax, but we feed it through our own line reader
 * (read_line) instead of letting it read the file, because the distribution
 * build of inih (INI_MAX_LINE 200, multi-line values on, no handler call
 * for a section header) would otherwise let mistakes through silently:
 *
 *  - it splits an over-long line into pieces and parses each piece as a
 *    line of its own; we refuse the line instead;
 *  - it reads an indented line as the continuation of the previous value,
 *    so an indented key or [section] would vanish into a value; we strip
 *    indentation, which turns continuations off;
 *  - it knows only ';' for inline comments; we strip ';' and '#' comments
 *    ourselves, whole-line and inline (after white space);
 *  - it never tells the handler about a section without keys, so an empty
 *    [member X] or a misspelt empty section would pass unnoticed; we start
 *    every section when its header is read;
 *  - it reports only the line of the first error; counting lines ourselves
 *    gives each error, and each member section, its exact line.
 *
 * Each section has a table of its keys (name, parser, field offset and
 * size, integer range); the inih handler only looks the key up and calls
 * its parser.  Cross-member checks (neighbours, address clashes) run after
 * the whole file is read, using the lines recorded while reading.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <ini.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define KEYS_MAX		24	/* keys in the largest section */
#define NEIGHBOURS_TEXT_MAX	1024	/* a "neighbours" value */
#define SECTION_LABEL_MAX	(PROTO_NAME_MAX + 16) /* "member NAME" */
#define ADDR_USES_MAX		(2 * CONF_MEMBERS_MAX) /* client, peer */
#define WHITE_SPACE		" \t\r\n\f\v"

struct parser;
struct key_spec;

/* Parses value into field; false (after fail()) if it is not valid. */
typedef bool (*key_parser)(struct parser *p, const struct key_spec *key,
			   void *field, const char *value);

struct key_spec {
	const char *name;
	key_parser parse;
	size_t offset;			/* of the field in its struct */
	size_t size;			/* of that field */
	unsigned long long min, max;	/* integers only: accepted range */
};

struct section_spec {
	const char *name;
	const struct key_spec *keys;
	size_t n_keys;
};

/* Where a section instance and each of its keys were written (0 = not). */
struct section_lines {
	unsigned header;
	unsigned key[KEYS_MAX];
};

struct parser {
	const char *path;
	FILE *fp;
	char *buf;			/* getline() buffer */
	size_t buf_cap;
	unsigned lineno;
	struct herd_conf *conf;

	/* The section being read; section is NULL before the first one. */
	const struct section_spec *section;
	char section_label[SECTION_LABEL_MAX];
	void *target;			/* the struct its keys fill */
	struct section_lines *lines;	/* that section's lines */
	size_t member;			/* index, in a [member] section */

	struct section_lines herd_lines;
	struct section_lines places_lines;
	struct section_lines member_lines[CONF_MEMBERS_MAX];
	/* Neighbour names are resolved once every member is known. */
	char neighbours[CONF_MEMBERS_MAX][NEIGHBOURS_TEXT_MAX];
	bool linked[CONF_MEMBERS_MAX][CONF_MEMBERS_MAX];

	bool failed;			/* err holds the first error */
	unsigned err_line;		/* and this is its line */
	char *err;
	size_t errlen;
};

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

static bool vfail_at(struct parser *p, unsigned line, const char *fmt,
		     va_list ap)
{
	int n;

	if (p->failed)
		return false;	/* keep the first error only */
	p->failed = true;
	p->err_line = line;
	if (p->err == NULL || p->errlen == 0)
		return false;
	n = snprintf(p->err, p->errlen, "%s:%u: ", p->path, line);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	return false;
}

/* Records "FILE:LINE: message" unless an error is already recorded. */
__attribute__((format(printf, 3, 4)))
static bool fail_at(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(p, line, fmt, ap);
	va_end(ap);
	return false;
}

/* The same, for the line being read. */
__attribute__((format(printf, 2, 3)))
static bool fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(p, p->lineno, fmt, ap);
	va_end(ap);
	return false;
}

/* ------------------------------------------------------------------ */
/* Value parsers                                                        */
/* ------------------------------------------------------------------ */

/* Member and herd names end up in AT lines and file names. */
static bool valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > PROTO_NAME_MAX)
		return false;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		if (*c <= ' ' || *c == 0x7f)	/* white space, control */
			return false;
	return true;
}

/* Copies value into a field of size bytes; too long is an error. */
static bool copy_value(struct parser *p, const struct key_spec *key,
		       char *field, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (len >= size)
		return fail(p, "%s: value too long (%zu bytes, at most %zu)",
			    key->name, len, size - 1);
	memcpy(field, value, len + 1);
	return true;
}

static bool parse_string(struct parser *p, const struct key_spec *key,
			 void *field, const char *value)
{
	return copy_value(p, key, field, key->size, value);
}

/* A directory the daemon needs: an empty one would mean the cwd. */
static bool parse_path(struct parser *p, const struct key_spec *key,
		       void *field, const char *value)
{
	if (value[0] == '\0')
		return fail(p, "%s: a path is required", key->name);
	return copy_value(p, key, field, key->size, value);
}

static bool parse_name(struct parser *p, const struct key_spec *key,
		       void *field, const char *value)
{
	if (!valid_name(value))
		return fail(p, "%s = %s: a name is 1..%d bytes without white "
			    "space or control characters", key->name, value,
			    PROTO_NAME_MAX);
	return copy_value(p, key, field, key->size, value);
}

/* Stores n into an unsigned or size_t field (the table gives its size). */
static void store_uint(void *field, size_t size, unsigned long long n)
{
	if (size == sizeof(unsigned)) {
		unsigned u = (unsigned)n;
		memcpy(field, &u, sizeof(u));
	} else {
		size_t s = (size_t)n;
		memcpy(field, &s, sizeof(s));
	}
}

/*
 * Digits only: no sign, no hex, no suffix, no white space, so that "1e6"
 * or "-1" is an error rather than whatever strtoul makes of it.
 */
static bool parse_uint(struct parser *p, const struct key_spec *key,
		       void *field, const char *value)
{
	unsigned long long n = 0;

	if (value[0] == '\0')
		return fail(p, "%s: a number is required (%llu..%llu)",
			    key->name, key->min, key->max);
	for (const char *c = value; *c; c++) {
		if (*c < '0' || *c > '9')
			return fail(p, "%s = %s: not a number (digits only, "
				    "%llu..%llu)", key->name, value,
				    key->min, key->max);
		n = n * 10 + (unsigned long long)(*c - '0');
		/* Stopping past max (<< ULLONG_MAX) rules out overflow. */
		if (n > key->max)
			break;
	}
	if (n < key->min || n > key->max)
		return fail(p, "%s = %s: out of range (%llu..%llu)", key->name,
			    value, key->min, key->max);
	store_uint(field, key->size, n);
	return true;
}

static bool parse_bool(struct parser *p, const struct key_spec *key,
		       void *field, const char *value)
{
	static const struct { const char *word; bool value; } words[] = {
		{ "yes", true }, { "true", true }, { "on", true },
		{ "1", true }, { "no", false }, { "false", false },
		{ "off", false }, { "0", false },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(value, words[i].word) == 0) {
			*(bool *)field = words[i].value;
			return true;
		}
	}
	return fail(p, "%s = %s: not a boolean (yes/no, true/false, on/off, "
		    "1/0)", key->name, value);
}

static bool parse_provider(struct parser *p, const struct key_spec *key,
			   void *field, const char *value)
{
	static const struct {
		const char *word;
		enum places_provider provider;
	} providers[] = {
		{ "none", PLACES_NONE }, { "google", PLACES_GOOGLE },
		{ "google-new", PLACES_GOOGLE_NEW }, { "file", PLACES_FILE },
	};

	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		if (strcmp(value, providers[i].word) == 0) {
			*(enum places_provider *)field = providers[i].provider;
			return true;
		}
	}
	return fail(p, "%s = %s: unknown provider (none, google, google-new "
		    "or file)", key->name, value);
}

/*
 * Splits "1.2.3.4:PORT" or "[v6]:PORT" into host (copied into host) and
 * port (a pointer into text), and says which family the form implies.
 */
static bool split_host_port(const char *text, char *host, size_t host_size,
			    const char **port, int *family)
{
	const char *start = text, *end;

	if (text[0] == '[') {
		start = text + 1;
		end = strchr(start, ']');
		if (end == NULL || end[1] != ':')
			return false;
		*port = end + 2;
		*family = AF_INET6;
	} else {
		end = strrchr(text, ':');
		/* A second colon means IPv6 without its brackets. */
		if (end == NULL || memchr(text, ':', (size_t)(end - text)))
			return false;
		*port = end + 1;
		*family = AF_INET;
	}
	if (end == start || (size_t)(end - start) >= host_size)
		return false;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	return true;
}

static bool valid_port(const char *port)
{
	unsigned long n = 0;
	size_t len = strlen(port);

	if (len == 0 || len > 5 || strspn(port, "0123456789") != len)
		return false;
	n = strtoul(port, NULL, 10);
	return n >= 1 && n <= 65535;
}

/*
 * Numeric only (AI_NUMERICHOST): a herd.conf must mean the same thing on
 * every host and at every start, so it never depends on DNS.  For IPv4 we
 * also insist on the dotted quad, which inet_pton accepts and
 * getaddrinfo's looser "127.1" / "0x7f.0.0.1" forms are not.
 */
static bool resolve_numeric(const char *host, const char *port, int family,
			    struct conf_addr *addr)
{
	struct addrinfo hints, *res = NULL;
	struct in_addr v4;
	bool ok;

	if (family == AF_INET && inet_pton(AF_INET, host, &v4) != 1)
		return false;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	ok = res->ai_addrlen <= sizeof(addr->sa);
	if (ok) {
		memset(&addr->sa, 0, sizeof(addr->sa));
		memcpy(&addr->sa, res->ai_addr, res->ai_addrlen);
		addr->salen = res->ai_addrlen;
	}
	freeaddrinfo(res);
	return ok;
}

static bool parse_addr(struct parser *p, const struct key_spec *key,
		       void *field, const char *value)
{
	struct conf_addr *addr = field;
	char host[INET6_ADDRSTRLEN + 64];	/* room for a %zone */
	const char *port;
	int family;

	if (!copy_value(p, key, addr->text, sizeof(addr->text), value))
		return false;
	if (!split_host_port(value, host, sizeof(host), &port, &family))
		return fail(p, "%s = %s: bad address, expected IPv4 "
			    "1.2.3.4:PORT or IPv6 [::1]:PORT", key->name,
			    value);
	if (!valid_port(port))
		return fail(p, "%s = %s: bad port '%s' (1..65535)", key->name,
			    value, port);
	if (!resolve_numeric(host, port, family, addr))
		return fail(p, "%s = %s: bad address, '%s' is not a numeric "
			    "IPv%c address (host names are not allowed)",
			    key->name, value, host,
			    family == AF_INET ? '4' : '6');
	return true;
}

/* Kept as text: the names may belong to members not read yet. */
/* "ADDR" or "ADDR/PREFIX", IPv4 or IPv6, numbers only. */
static bool parse_cidr(const char *text, struct conf_cidr *c)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	char *end;
	unsigned long prefix;

	if (len >= sizeof addr)
		return false;
	memcpy(addr, text, len);
	addr[len] = '\0';
	c->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, addr, c->addr) != 1)
		return false;
	c->prefix = c->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return true;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
	    prefix > c->prefix)
		return false;
	c->prefix = (unsigned)prefix;
	return true;
}

static bool parse_allow(struct parser *p, const struct key_spec *key,
			void *field, const char *value)
{
	struct herd_conf *conf = p->conf;
	char copy[CONF_PATH_MAX], *save = NULL, *word;

	(void)field;
	if (!copy_value(p, key, copy, sizeof copy, value))
		return false;
	conf->n_peer_allow = 0;
	for (word = strtok_r(copy, " \t", &save); word != NULL;
	     word = strtok_r(NULL, " \t", &save)) {
		if (conf->n_peer_allow == CONF_ALLOW_MAX)
			return fail(p, "%s: more than %d entries", key->name,
				    CONF_ALLOW_MAX);
		if (!parse_cidr(word, &conf->peer_allow[conf->n_peer_allow++]))
			return fail(p, "%s: bad address or block '%s'",
				    key->name, word);
	}
	return true;
}

static bool parse_neighbours(struct parser *p, const struct key_spec *key,
			     void *field, const char *value)
{
	(void)field;
	return copy_value(p, key, p->neighbours[p->member],
			  sizeof(p->neighbours[p->member]), value);
}

/* ------------------------------------------------------------------ */
/* Sections and their keys                                              */
/* ------------------------------------------------------------------ */

#define FIELD(type, field) \
	offsetof(type, field), sizeof(((type *)0)->field)
#define KEY(type, name, parser, field) \
	{ name, parser, FIELD(type, field), 0, 0 }
#define INT_KEY(type, name, field, min, max) \
	{ name, parse_uint, FIELD(type, field), min, max }
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Defaults are in set_defaults(); ranges here keep values sane. */
static const struct key_spec herd_keys[] = {
	KEY(struct herd_conf, "name", parse_name, herd_name),
	INT_KEY(struct herd_conf, "workers", workers, 1, 64),
	KEY(struct herd_conf, "log_dir", parse_path, log_dir),
	KEY(struct herd_conf, "state_dir", parse_path, state_dir),
	KEY(struct herd_conf, "run_dir", parse_path, run_dir),
	KEY(struct herd_conf, "control_socket", parse_path, control_socket),
	KEY(struct herd_conf, "table_dir", parse_path, table_dir),
	KEY(struct herd_conf, "user", parse_string, user),
	KEY(struct herd_conf, "log_io", parse_bool, log_io),
	INT_KEY(struct herd_conf, "table_capacity", table_capacity,
		1, 50000000),
	INT_KEY(struct herd_conf, "max_line", max_line, 64, 1048576),
	INT_KEY(struct herd_conf, "max_client_len", max_client_len, 1, 1024),
	INT_KEY(struct herd_conf, "idle_timeout", idle_timeout_s, 0, 2592000),
	INT_KEY(struct herd_conf, "line_timeout", line_timeout_s, 0, 2592000),
	INT_KEY(struct herd_conf, "max_clients", max_clients, 1, 1000000),
	INT_KEY(struct herd_conf, "max_output", max_output,
		4096, 1073741824),
	INT_KEY(struct herd_conf, "respawn_budget", respawn_budget, 0, 1000),
	INT_KEY(struct herd_conf, "snapshot_interval", snapshot_interval_s,
		0, 86400),
	KEY(struct herd_conf, "secret_file", parse_path, secret_file),
	KEY(struct herd_conf, "peer_allow", parse_allow, peer_allow),
};

static const struct key_spec places_keys[] = {
	KEY(struct conf_places, "provider", parse_provider, provider),
	KEY(struct conf_places, "base_url", parse_string, base_url),
	KEY(struct conf_places, "key_file", parse_string, key_file),
	KEY(struct conf_places, "key_env", parse_string, key_env),
	KEY(struct conf_places, "file", parse_string, file),
	INT_KEY(struct conf_places, "timeout_ms", timeout_ms, 1, 600000),
	INT_KEY(struct conf_places, "max_concurrent", max_concurrent,
		1, 100000),
	INT_KEY(struct conf_places, "cache_ttl", cache_ttl_s, 0, 2592000),
};

static const struct key_spec member_keys[] = {
	KEY(struct conf_member, "client", parse_addr, client),
	KEY(struct conf_member, "peer", parse_addr, peer),
	KEY(struct conf_member, "neighbours", parse_neighbours, neighbours),
	KEY(struct conf_member, "classic", parse_bool, classic),
};

_Static_assert(COUNT(herd_keys) <= KEYS_MAX, "raise KEYS_MAX");
_Static_assert(COUNT(places_keys) <= KEYS_MAX, "raise KEYS_MAX");
_Static_assert(COUNT(member_keys) <= KEYS_MAX, "raise KEYS_MAX");

static const struct section_spec herd_section =
	{ "herd", herd_keys, COUNT(herd_keys) };
static const struct section_spec places_section =
	{ "places", places_keys, COUNT(places_keys) };
static const struct section_spec member_section =
	{ "member", member_keys, COUNT(member_keys) };

static const struct key_spec *find_key(const struct section_spec *section,
				       const char *name)
{
	for (size_t i = 0; i < section->n_keys; i++)
		if (strcmp(section->keys[i].name, name) == 0)
			return &section->keys[i];
	return NULL;
}

/* The line a key was set on in one section instance, 0 if it was not. */
static unsigned key_line(const struct section_spec *section,
			 const struct section_lines *lines, const char *name)
{
	const struct key_spec *key = find_key(section, name);

	return key == NULL ? 0 : lines->key[key - section->keys];
}

static bool enter_section(struct parser *p, const struct section_spec *spec,
			  struct section_lines *lines, void *target,
			  const char *label)
{
	if (lines->header != 0)
		return fail(p, "duplicate section [%s] (first on line %u)",
			    label, lines->header);
	lines->header = p->lineno;
	p->section = spec;
	p->lines = lines;
	p->target = target;
	snprintf(p->section_label, sizeof(p->section_label), "%s", label);
	return true;
}

static bool begin_member(struct parser *p, const char *name)
{
	struct herd_conf *conf = p->conf;
	int other = conf_member_index(conf, name);
	struct conf_member *member;
	char label[SECTION_LABEL_MAX];

	if (!valid_name(name))
		return fail(p, "bad member name '%s': 1..%d bytes without "
			    "white space or control characters", name,
			    PROTO_NAME_MAX);
	if (other >= 0)
		return fail(p, "duplicate member '%s' (first on line %u)",
			    name, p->member_lines[other].header);
	if (conf->n_members == CONF_MEMBERS_MAX)
		return fail(p, "too many members (at most %d)",
			    CONF_MEMBERS_MAX);
	p->member = conf->n_members++;
	member = &conf->members[p->member];
	snprintf(member->name, sizeof(member->name), "%s", name);
	snprintf(label, sizeof(label), "member %s", name);
	return enter_section(p, &member_section, &p->member_lines[p->member],
			     member, label);
}

/* header: the text between '[' and ']', trimmed. */
static bool begin_section(struct parser *p, const char *header)
{
	size_t word = strcspn(header, WHITE_SPACE);

	if (strcmp(header, "herd") == 0)
		return enter_section(p, &herd_section, &p->herd_lines,
				     p->conf, "herd");
	if (strcmp(header, "places") == 0)
		return enter_section(p, &places_section, &p->places_lines,
				     &p->conf->places, "places");
	if (word != strlen("member") || strncmp(header, "member", word) != 0)
		return fail(p, "unknown section [%s] (expected [herd], "
			    "[places] or [member NAME])", header);
	if (header[word] == '\0')
		return fail(p, "[member] needs a name: [member NAME]");
	return begin_member(p, header + word + strspn(header + word,
						      WHITE_SPACE));
}

/* ------------------------------------------------------------------ */
/* Reading lines (see the top of the file for why we do it ourselves)   */
/* ------------------------------------------------------------------ */

static char *trim_right(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && strchr(WHITE_SPACE, s[len - 1]) != NULL)
		s[--len] = '\0';
	return s;
}

/* Removes a UTF-8 BOM, indentation, comments and trailing white space. */
static char *tidy_line(char *line, bool first_line)
{
	if (first_line && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	line += strspn(line, WHITE_SPACE);
	if (line[0] == ';' || line[0] == '#')
		line[0] = '\0';
	for (char *c = line; *c; c++) {
		if ((*c == ';' || *c == '#') && c > line &&
		    (c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	}
	return trim_right(line);
}

/* A "[...]" line; one without ']' is left for inih to call a syntax error. */
static bool read_section_header(struct parser *p, const char *line)
{
	const char *close = strchr(line, ']');
	char header[SECTION_LABEL_MAX];
	size_t len;

	if (close == NULL)
		return true;
	if (close[1] != '\0')
		return fail(p, "unexpected text after ']': '%s'", close + 1);
	len = (size_t)(close - (line + 1));
	if (len >= sizeof(header))
		return fail(p, "section header too long (at most %zu bytes)",
			    sizeof(header) - 1);
	memcpy(header, line + 1, len);
	header[len] = '\0';
	return begin_section(p, trim_right(header + strspn(header,
							    WHITE_SPACE)));
}

/* An ini_reader: hands inih one tidied line at a time. */
static char *read_line(char *out, int size, void *stream)
{
	struct parser *p = stream;
	ssize_t n;
	char *line;
	size_t len;

	if (p->failed)
		return NULL;	/* stop at the first error */
	n = getline(&p->buf, &p->buf_cap, p->fp);
	if (n < 0)
		return NULL;
	p->lineno++;
	if (memchr(p->buf, '\0', (size_t)n) != NULL) {
		fail(p, "NUL byte in line");
		return NULL;
	}
	line = tidy_line(p->buf, p->lineno == 1);
	if (line[0] == '[' && !read_section_header(p, line))
		return NULL;
	len = strlen(line);
	if (size <= 0 || len >= (size_t)size) {
		fail(p, "line too long (at most %d bytes without indentation "
		     "and comments)", size - 1);
		return NULL;
	}
	memcpy(out, line, len + 1);
	return out;
}

/* The inih handler: one "key = value" of the current section. */
static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parser *p = user;
	const struct key_spec *key;
	unsigned *set_on;

	(void)section;	/* read_line tracks sections, even empty ones */
	if (p->failed)
		return 0;
	if (p->section == NULL)
		return fail(p, "key '%s' before any [section]", name);
	key = find_key(p->section, name);
	if (key == NULL)
		return fail(p, "unknown key '%s' in [%s]", name,
			    p->section_label);
	set_on = &p->lines->key[key - p->section->keys];
	if (*set_on != 0)
		return fail(p, "duplicate key '%s' in [%s] (first set on line "
			    "%u)", name, p->section_label, *set_on);
	*set_on = p->lineno;
	return key->parse(p, key, (char *)p->target + key->offset, value);
}

/* ------------------------------------------------------------------ */
/* Checks across sections, once the whole file is read                  */
/* ------------------------------------------------------------------ */

static bool check_members(struct parser *p)
{
	const struct herd_conf *conf = p->conf;

	if (conf->n_members == 0)
		return fail_at(p, 0, "no [member NAME] section: a herd needs "
			       "at least one member");
	for (size_t i = 0; i < conf->n_members; i++)
		if (conf->members[i].client.salen == 0)
			return fail_at(p, p->member_lines[i].header,
				       "member %s has no client address "
				       "(client = HOST:PORT)",
				       conf->members[i].name);
	return true;
}

static bool link_neighbours_of(struct parser *p, size_t i)
{
	const char *self = p->conf->members[i].name;
	unsigned line = key_line(&member_section, &p->member_lines[i],
				 "neighbours");
	char *saved, *name;

	for (name = strtok_r(p->neighbours[i], WHITE_SPACE, &saved);
	     name != NULL; name = strtok_r(NULL, WHITE_SPACE, &saved)) {
		int j = conf_member_index(p->conf, name);

		if (j < 0)
			return fail_at(p, line, "member %s: unknown neighbour "
				       "'%s'", self, name);
		if ((size_t)j == i)
			return fail_at(p, line, "member %s lists itself as a "
				       "neighbour", self);
		/* Links are symmetric; naming one twice is harmless. */
		p->linked[i][j] = p->linked[j][i] = true;
	}
	return true;
}

/* Resolves every neighbours list, then fills them in member order. */
static bool link_neighbours(struct parser *p)
{
	struct herd_conf *conf = p->conf;

	for (size_t i = 0; i < conf->n_members; i++)
		if (!link_neighbours_of(p, i))
			return false;
	for (size_t i = 0; i < conf->n_members; i++) {
		struct conf_member *m = &conf->members[i];

		m->n_neighbours = 0;
		for (size_t j = 0; j < conf->n_members; j++)
			if (p->linked[i][j])
				m->neighbours[m->n_neighbours++] = j;
	}
	return true;
}

/* Same IP (and IPv6 scope) and port; "[::1]" and "[0::1]" are equal. */
static bool same_endpoint(const struct conf_addr *a, const struct conf_addr *b)
{
	struct sockaddr_in a4, b4;
	struct sockaddr_in6 a6, b6;

	if (a->sa.ss_family != b->sa.ss_family)
		return false;
	if (a->sa.ss_family == AF_INET) {
		memcpy(&a4, &a->sa, sizeof(a4));
		memcpy(&b4, &b->sa, sizeof(b4));
		return a4.sin_port == b4.sin_port &&
		       a4.sin_addr.s_addr == b4.sin_addr.s_addr;
	}
	memcpy(&a6, &a->sa, sizeof(a6));
	memcpy(&b6, &b->sa, sizeof(b6));
	return a6.sin6_port == b6.sin6_port &&
	       a6.sin6_scope_id == b6.sin6_scope_id &&
	       memcmp(&a6.sin6_addr, &b6.sin6_addr, sizeof(a6.sin6_addr)) == 0;
}

struct addr_use {
	const struct conf_addr *addr;
	const char *member;
	const char *role;		/* "client" or "peer" */
	unsigned line;
};

static size_t collect_addr_uses(struct parser *p, struct addr_use *uses)
{
	static const char *const roles[] = { "client", "peer" };
	size_t n = 0;

	for (size_t i = 0; i < p->conf->n_members; i++) {
		const struct conf_member *m = &p->conf->members[i];
		const struct conf_addr *addrs[] = { &m->client, &m->peer };

		for (size_t r = 0; r < COUNT(roles); r++) {
			if (addrs[r]->salen == 0)
				continue;
			uses[n++] = (struct addr_use){
				addrs[r], m->name, roles[r],
				key_line(&member_section, &p->member_lines[i],
					 roles[r]),
			};
		}
	}
	return n;
}

/* Every listening address is bound by exactly one member and role. */
static bool check_address_clashes(struct parser *p)
{
	struct addr_use uses[ADDR_USES_MAX];
	size_t n = collect_addr_uses(p, uses);

	for (size_t b = 1; b < n; b++)
		for (size_t a = 0; a < b; a++)
			if (same_endpoint(uses[a].addr, uses[b].addr))
				return fail_at(p, uses[b].line, "%s address %s "
					       "of member %s is already the %s "
					       "address of member %s (line %u)",
					       uses[b].role, uses[b].addr->text,
					       uses[b].member, uses[a].role,
					       uses[a].member, uses[a].line);
	return true;
}

static bool check_places(struct parser *p)
{
	const struct conf_places *places = &p->conf->places;

	if (places->provider == PLACES_FILE && places->file[0] == '\0')
		return fail_at(p, key_line(&places_section, &p->places_lines,
					   "provider"),
			       "provider = file needs file = PATH in [places]");
	return true;
}

static bool check_herd(struct parser *p)
{
	return check_members(p) && link_neighbours(p) &&
	       check_address_clashes(p) && check_places(p);
}

/* ------------------------------------------------------------------ */
/* Public functions                                                     */
/* ------------------------------------------------------------------ */

static void set_defaults(struct herd_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	snprintf(conf->herd_name, sizeof(conf->herd_name), "herd");
	conf->workers = 2;
	snprintf(conf->log_dir, sizeof(conf->log_dir), "%s",
		 LOCALSTATEDIR "/log/herd");
	snprintf(conf->state_dir, sizeof(conf->state_dir), "%s",
		 LOCALSTATEDIR "/lib/herd");
	snprintf(conf->run_dir, sizeof(conf->run_dir), "%s",
		 RUNSTATEDIR "/herd");
	conf->log_io = true;
	conf->table_capacity = 100000;
	conf->max_line = 4096;
	conf->max_client_len = 255;
	conf->idle_timeout_s = 300;
	conf->line_timeout_s = 30;
	conf->max_clients = 10000;
	conf->max_output = 1024 * 1024;
	conf->respawn_budget = 5;
	conf->snapshot_interval_s = 60;
	conf->places.provider = PLACES_NONE;
	conf->places.timeout_ms = 5000;
	conf->places.max_concurrent = 64;
	conf->places.cache_ttl_s = 0;
}

/* Runs inih over the open file; the first error, by line, wins. */
static void parse_file(struct parser *p)
{
	int rc = ini_parse_stream(read_line, p, on_key, p);

	if (ferror(p->fp)) {
		p->failed = false;
		fail(p, "read error: %s", strerror(errno));
	} else if (rc > 0 && (!p->failed || (unsigned)rc < p->err_line)) {
		/* A line inih rejected before the error we recorded. */
		p->failed = false;
		fail_at(p, (unsigned)rc, "syntax error: expected [section], "
			"key = value or a comment");
	} else if (rc < 0 && !p->failed) {
		fail_at(p, 0, "out of memory");
	}
}

/* Makes path absolute against dir; false if it does not fit. */
static bool resolve_against(char *path, size_t cap, const char *dir,
			    size_t dir_len)
{
	char joined[CONF_PATH_MAX];
	int n;

	if (path[0] == '\0' || path[0] == '/')
		return true;
	n = snprintf(joined, sizeof joined, "%.*s/%s", (int)dir_len, dir, path);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof joined)
		return false;
	memcpy(path, joined, (size_t)n + 1);
	return true;
}

/* Fills in what defaults to other settings, and anchors relative paths. */
static void finish_paths(struct parser *p)
{
	struct herd_conf *conf = p->conf;
	const char *slash = strrchr(conf->path, '/');
	const char *dir = slash ? conf->path : ".";
	size_t dir_len = slash ? (size_t)(slash - conf->path) : 1;
	int n;

	if (slash == conf->path)
		dir_len = 1;	/* a file in / */
	if (conf->table_dir[0] == '\0')
		memcpy(conf->table_dir, conf->run_dir, sizeof conf->table_dir);
	if (conf->control_socket[0] == '\0') {
		n = snprintf(conf->control_socket, sizeof conf->control_socket,
			     "%s/herdd.sock", conf->run_dir);
		if (n < 0 || (size_t)n >= sizeof conf->control_socket)
			fail_at(p, 0, "run_dir too long for the control socket");
	}
	if (!resolve_against(conf->places.file, sizeof conf->places.file, dir,
			     dir_len) ||
	    !resolve_against(conf->places.key_file,
			     sizeof conf->places.key_file, dir, dir_len) ||
	    !resolve_against(conf->secret_file, sizeof conf->secret_file, dir,
			     dir_len))
		fail_at(p, 0, "a [places] path is too long");
}

int conf_load(const char *path, struct herd_conf *conf, char *err,
	      size_t errlen)
{
	struct parser *p = calloc(1, sizeof(*p));
	bool ok;

	set_defaults(conf);
	if (p == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:0: out of memory", path);
		return -1;
	}
	p->path = path;
	p->conf = conf;
	p->err = err;
	p->errlen = errlen;
	if (strlen(path) >= sizeof(conf->path)) {
		fail_at(p, 0, "path too long");
	} else if ((p->fp = fopen(path, "re")) == NULL) {	/* e: CLOEXEC */
		fail_at(p, 0, "cannot open: %s", strerror(errno));
	} else {
		memcpy(conf->path, path, strlen(path) + 1);
		parse_file(p);
		fclose(p->fp);
		free(p->buf);
		if (!p->failed)
			check_herd(p);
		if (!p->failed)
			finish_paths(p);
	}
	ok = !p->failed;
	free(p);
	return ok ? 0 : -1;
}

static bool in_block(const struct conf_cidr *c, const unsigned char *ip)
{
	unsigned whole = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->addr, ip, whole) != 0)
		return false;
	return rest == 0 ||
	       ((c->addr[whole] ^ ip[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

bool conf_allowed(const struct conf_cidr *list, size_t n,
		  const struct sockaddr *sa)
{
	const unsigned char *ip;

	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (list[i].family != sa->sa_family)
			continue;
		ip = sa->sa_family == AF_INET ?
		     (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr :
		     (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (in_block(&list[i], ip))
			return true;
	}
	return false;
}

int conf_member_index(const struct herd_conf *conf, const char *name)
{
	if (conf == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < conf->n_members; i++)
		if (strcmp(conf->members[i].name, name) == 0)
			return (int)i;
	return -1;
}

int conf_select(const struct herd_conf *conf, const char *const *names,
		size_t n, bool run_here[CONF_MEMBERS_MAX], char *err,
		size_t errlen)
{
	int chosen = 0;

	memset(run_here, 0, CONF_MEMBERS_MAX * sizeof run_here[0]);
	for (size_t i = 0; i < n; i++) {
		int idx = conf_member_index(conf, names[i]);

		if (idx < 0 || conf->members[idx].classic) {
			snprintf(err, errlen, "%s: %s \"%s\"", conf->path,
				 idx < 0 ? "no member called" :
				 "herdd does not run classic member", names[i]);
			return -1;
		}
		chosen += !run_here[idx];
		run_here[idx] = true;
	}
	for (size_t i = 0; n == 0 && i < conf->n_members; i++)
		if (!conf->members[i].classic &&
		    conf_addr_is_local(&conf->members[i].client)) {
			run_here[i] = true;
			chosen++;
		}
	if (chosen == 0)
		snprintf(err, errlen, "%s: no member runs on this host (use -m "
			 "NAME)", conf->path);
	return chosen > 0 ? chosen : -1;
}

/* Is ip (an in_addr or in6_addr of family) on one of our interfaces? */
static bool interface_has(int family, const void *ip)
{
	struct ifaddrs *list, *ifa;
	bool found = false;

	if (getifaddrs(&list) != 0)
		return false;
	for (ifa = list; ifa != NULL && !found; ifa = ifa->ifa_next) {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;

		if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET) {
			memcpy(&sin, ifa->ifa_addr, sizeof(sin));
			found = memcmp(&sin.sin_addr, ip,
				       sizeof(sin.sin_addr)) == 0;
		} else {
			memcpy(&sin6, ifa->ifa_addr, sizeof(sin6));
			found = memcmp(&sin6.sin6_addr, ip,
				       sizeof(sin6.sin6_addr)) == 0;
		}
	}
	freeifaddrs(list);
	return found;
}

static bool ipv4_is_local(struct in_addr ip)
{
	uint32_t host_order = ntohl(ip.s_addr);

	/* 127.0.0.0/8 is loopback; 0.0.0.0 binds every local address. */
	if ((host_order >> 24) == 127 || host_order == INADDR_ANY)
		return true;
	return interface_has(AF_INET, &ip);
}

static bool ipv6_is_local(const struct in6_addr *ip)
{
	struct in_addr v4;

	if (IN6_IS_ADDR_V4MAPPED(ip)) {
		memcpy(&v4, &ip->s6_addr[12], sizeof(v4));
		return ipv4_is_local(v4);
	}
	if (IN6_IS_ADDR_LOOPBACK(ip) || IN6_IS_ADDR_UNSPECIFIED(ip))
		return true;
	return interface_has(AF_INET6, ip);
}

bool conf_addr_is_local(const struct conf_addr *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (addr == NULL || addr->salen == 0)
		return false;
	if (addr->sa.ss_family == AF_INET) {
		memcpy(&sin, &addr->sa, sizeof(sin));
		return ipv4_is_local(sin.sin_addr);
	}
	if (addr->sa.ss_family == AF_INET6) {
		memcpy(&sin6, &addr->sa, sizeof(sin6));
		return ipv6_is_local(&sin6.sin6_addr);
	}
	return false;
}
