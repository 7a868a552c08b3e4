/*
 * fuzz_snapshot.c - libFuzzer target for snapshot_load() (src/snapshot.h):
 * arbitrary bytes as a member's snapshot file, loaded into a small table.
 *
 * Each input is loaded with its last 4 bytes made the right CRC-32, so
 * that mutated files get past the checksum and exercise the layout checks
 * and the loading itself; one in eight inputs with a wrong checksum is
 * also loaded as it is.  The file reaches snapshot_load() through a memfd
 * (/proc/self/fd/N, see fuzz_common.h).
 *
 * Checks, against an independent reading of the format in snapshot.c and
 * a model of the table (table.h: a new client is stored while there is
 * room, a known one only by a newer report, lines longer than line_max are
 * refused):
 *  - a file is loaded exactly when it is whole (checksum, magic, version,
 *    every length, every line an AT, nothing after) and refused with a
 *    reason otherwise, leaving the table untouched;
 *  - a loaded table holds exactly the model's entries (line, time,
 *    source), count and change counter, and the model's watermarks;
 *  - it survives snapshot_write() and a load into a fresh table.
 *
 * The table is created once per process and made anew only after a load
 * that changed it, as snapshot_load() wants an empty table.
 */
#include "fuzz_common.h"

#include <zlib.h>

#include "protocol.h"
#include "snapshot.h"
#include "table.h"

/* Coverage is the library's: the checks below are not instrumented. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

#define CAPACITY	16
#define CLIENT_MAX	255
#define LINE_MAX_T	PROTO_AT_MAX(CLIENT_MAX)
#define MARKS_MAX	TABLE_WATERMARKS

static const struct proto_limits lim = { .max_client_len = CLIENT_MAX };
static struct table *table;

/* ---- the model ---------------------------------------------------------- */

struct m_entry {
	const char *client;
	size_t client_len;
	struct proto_time tm;
	const char *line;
	size_t line_len;
	uint32_t source;
};

struct m_mark {
	char name[PROTO_NAME_MAX + 1];
	uint64_t epoch, change;
};

struct model {
	struct m_entry e[CAPACITY];
	size_t n;
	long stored;
	struct m_mark marks[MARKS_MAX];
	size_t n_marks;
};

static void model_mark(struct model *m, const char *name, uint64_t epoch,
		       uint64_t change)
{
	if (name[0] == '\0')
		return;
	for (size_t i = 0; i < m->n_marks; i++) {
		if (strcmp(m->marks[i].name, name) == 0) {
			m->marks[i].epoch = epoch;
			m->marks[i].change = change;
			return;
		}
	}
	if (m->n_marks == MARKS_MAX)
		return;
	snprintf(m->marks[m->n_marks].name, sizeof m->marks[0].name, "%s",
		 name);
	m->marks[m->n_marks].epoch = epoch;
	m->marks[m->n_marks++].change = change;
}

static void model_put(struct model *m, const struct proto_cmd *cmd,
		      const char *line, size_t len, uint32_t source)
{
	struct m_entry *e = NULL;

	if (len > LINE_MAX_T)
		return;				/* TABLE_INVALID */
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].client_len == cmd->client.len &&
		    memcmp(m->e[i].client, cmd->client.p, cmd->client.len) == 0)
			e = &m->e[i];
	if (e == NULL) {
		if (m->n == CAPACITY)
			return;			/* TABLE_FULL */
		e = &m->e[m->n++];
	} else if (proto_newer(cmd->t, line, len, e->tm, e->line,
			       e->line_len) <= 0) {
		return;				/* TABLE_STALE */
	}
	*e = (struct m_entry){ cmd->client.p, cmd->client.len, cmd->t, line,
			       len, source };
	m->stored++;
}

/* ---- the format, read independently ------------------------------------- */

struct rd {
	const uint8_t *p, *end;
};

static bool get(struct rd *r, void *out, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return false;
	if (out != NULL)
		memcpy(out, r->p, n);
	r->p += n;
	return true;
}

/* Fills m if the file is whole; false if snapshot_load must refuse it. */
static bool read_file(const uint8_t *data, size_t size, struct model *m)
{
	struct rd r = { data, data + (size >= 4 ? size - 4 : 0) };
	uint32_t crc, version, marks;
	uint64_t entries;
	char magic[8];

	memset(m, 0, sizeof *m);
	if (size < 4)
		return false;
	memcpy(&crc, data + size - 4, 4);
	if (crc != (uint32_t)crc32(crc32(0L, Z_NULL, 0), data,
				   (uInt)(size - 4)))
		return false;
	if (!get(&r, magic, 8) || memcmp(magic, "HERDSNAP", 8) != 0 ||
	    !get(&r, &version, 4) || version != 1 || !get(&r, &marks, 4))
		return false;
	for (uint32_t i = 0; i < marks; i++) {
		uint8_t len;
		char name[256];
		uint64_t epoch, change;

		if (!get(&r, &len, 1) || len == 0 || len > PROTO_NAME_MAX ||
		    !get(&r, name, len) || !get(&r, &epoch, 8) ||
		    !get(&r, &change, 8))
			return false;
		name[len] = '\0';		/* a NUL inside cuts it */
		model_mark(m, name, epoch, change);
	}
	if (!get(&r, &entries, 8))
		return false;
	for (uint64_t i = 0; i < entries; i++) {
		uint32_t source, len;
		struct proto_cmd cmd;
		const char *line;

		if (!get(&r, NULL, 12) || !get(&r, &source, 4) ||
		    !get(&r, &len, 4))
			return false;
		line = (const char *)r.p;
		if (!get(&r, NULL, len) ||
		    proto_parse(line, len, &lim, &cmd) != PROTO_AT)
			return false;
		model_put(m, &cmd, line, len, source);
	}
	return r.p == r.end;
}

/* ---- comparing a table with the model ----------------------------------- */

static bool empty(struct table *t)
{
	char name[PROTO_NAME_MAX + 1];
	uint64_t e, c;

	for (size_t i = 0; i < TABLE_WATERMARKS; i++)
		if (table_watermark_at(t, i, name, &e, &c))
			return false;
	return table_count(t) == 0 && table_last_change(t) == 0;
}

struct scan {
	const struct model *m;
	size_t seen;
	bool seen_e[CAPACITY];
};

static bool visit(void *arg, const struct table_record *rec)
{
	struct scan *s = arg;
	struct proto_cmd cmd;

	FUZZ_CHECK(proto_parse(rec->line, rec->line_len, &lim, &cmd) ==
		   PROTO_AT, "stored line '%s' is not an AT",
		   fuzz_show(rec->line, rec->line_len));
	for (size_t i = 0; i < s->m->n; i++) {
		const struct m_entry *e = &s->m->e[i];

		if (e->client_len != cmd.client.len ||
		    memcmp(e->client, cmd.client.p, e->client_len) != 0)
			continue;
		FUZZ_CHECK(!s->seen_e[i], "client twice in the table");
		s->seen_e[i] = true;
		FUZZ_CHECK(rec->line_len == e->line_len &&
			   memcmp(rec->line, e->line, e->line_len) == 0 &&
			   rec->tm.sec == e->tm.sec &&
			   rec->tm.nsec == e->tm.nsec &&
			   rec->source == e->source,
			   "entry '%s' (source %u), model '%s' (source %u)",
			   fuzz_show(rec->line, rec->line_len), rec->source,
			   fuzz_show(e->line, e->line_len), e->source);
		s->seen++;
		return true;
	}
	FUZZ_CHECK(false, "entry '%s' is not in the model",
		   fuzz_show(rec->line, rec->line_len));
	return true;
}

static void check_table(struct table *t, const struct model *m,
			bool changes_too)
{
	char line[LINE_MAX_T + 64];
	char name[PROTO_NAME_MAX + 1];
	struct scan s = { .m = m };
	uint64_t e, c;

	FUZZ_CHECK(table_count(t) == m->n, "count %zu, model %zu",
		   table_count(t), m->n);
	if (changes_too)
		FUZZ_CHECK(table_last_change(t) == (uint64_t)m->stored,
			   "last change %llu, %ld stores",
			   (unsigned long long)table_last_change(t),
			   m->stored);
	FUZZ_CHECK(table_scan(t, 0, visit, &s) == m->n && s.seen == m->n,
		   "scan saw %zu of %zu", s.seen, m->n);
	for (size_t i = 0; i < m->n; i++) {
		size_t len = 0;
		struct proto_time tm;

		FUZZ_CHECK(table_get(t, m->e[i].client, m->e[i].client_len,
				     line, sizeof line, &len, &tm) &&
			   len == m->e[i].line_len &&
			   memcmp(line, m->e[i].line, len) == 0 &&
			   tm.sec == m->e[i].tm.sec &&
			   tm.nsec == m->e[i].tm.nsec,
			   "table_get of '%s'",
			   fuzz_show(m->e[i].client, m->e[i].client_len));
	}
	for (size_t i = 0; i < TABLE_WATERMARKS; i++) {
		bool used = table_watermark_at(t, i, name, &e, &c);

		FUZZ_CHECK(used == (i < m->n_marks), "watermark slot %zu", i);
		if (used)
			FUZZ_CHECK(strcmp(name, m->marks[i].name) == 0 &&
				   e == m->marks[i].epoch &&
				   c == m->marks[i].change,
				   "watermark %s: %llu/%llu, model %s: "
				   "%llu/%llu", name, (unsigned long long)e,
				   (unsigned long long)c, m->marks[i].name,
				   (unsigned long long)m->marks[i].epoch,
				   (unsigned long long)m->marks[i].change);
	}
}

static struct table *new_table(void)
{
	struct table *t = table_create(CAPACITY, LINE_MAX_T);

	FUZZ_CHECK(t != NULL, "table_create: %s", strerror(errno));
	return t;
}

/* snapshot_write, then a load into a fresh table: the same content. */
static void check_round_trip(struct table *t, const struct model *m)
{
	char path[4200], err[512] = "";
	struct table *t2;
	long n;

	snprintf(path, sizeof path, "%s/snapshot", fuzz_tmpdir());
	n = snapshot_write(t, path, err, sizeof err);
	FUZZ_CHECK(n == (long)m->n, "snapshot_write: %ld (%s)", n, err);
	t2 = new_table();
	n = snapshot_load(t2, path, &lim, err, sizeof err);
	FUZZ_CHECK(n == (long)m->n, "reload: %ld of %zu (%s)", n, m->n, err);
	check_table(t2, m, false);
	table_destroy(t2);
	unlink(path);
}

static void load(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	char err[512];
	struct model m;
	bool whole = read_file(data, size, &m);
	long n;

	memset(err, 0x5a, sizeof err);
	n = snapshot_load(table, path, &lim, err, sizeof err);
	if (!whole) {
		FUZZ_CHECK(n == -1, "a broken file loaded: %ld", n);
		FUZZ_CHECK(memchr(err, '\0', sizeof err) && err[0] != '\0',
			   "no reason for a refused file");
		FUZZ_CHECK(empty(table), "a refused file changed the table");
		return;
	}
	FUZZ_CHECK(n == m.stored, "loaded %ld, model stores %ld (%s)", n,
		   m.stored, n < 0 ? err : "");
	check_table(table, &m, true);
	check_round_trip(table, &m);
	table_destroy(table);		/* no longer empty */
	table = new_table();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	table = new_table();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t crc;
	uint8_t *fixed;

	if (size < 4) {
		load(data, size);
		return 0;
	}
	crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)(size - 4));
	/* A wrong checksum is refused early: try that on some inputs only,
	   as it is; the rest get past it. */
	if (memcmp(&crc, data + size - 4, 4) == 0 || (crc & 7) == 0)
		load(data, size);
	if (memcmp(&crc, data + size - 4, 4) == 0)
		return 0;
	fixed = malloc(size);
	FUZZ_CHECK(fixed != NULL, "out of memory");
	memcpy(fixed, data, size - 4);
	memcpy(fixed + size - 4, &crc, 4);
	load(fixed, size);
	free(fixed);
	return 0;
}

#pragma clang attribute pop
