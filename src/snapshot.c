/*
 * snapshot.c - a member's table on disk; see snapshot.h.
 *
 * Layout (integers little-endian as the host writes them; a snapshot is
 * read back on the machine that wrote it):
 *
 *   "HERDSNAP" u32 version
 *   u32 watermarks, then each { u8 name_len, name, u64 epoch, u64 change }
 *   u64 entries, then each { i64 sec, i32 nsec, u32 source, u32 line_len,
 *                            line }
 *   u32 crc32 of everything above
 */
#include "snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define SNAP_MAGIC	"HERDSNAP"
#define SNAP_VERSION	1
#define SNAP_MAX_BYTES	((size_t)16 << 30)	/* refuse anything larger */

struct writer {
	FILE *fp;
	uLong crc;
	long entries;
	bool failed;
};

static void put(struct writer *w, const void *data, size_t len)
{
	if (w->failed || fwrite(data, 1, len, w->fp) != len) {
		w->failed = true;
		return;
	}
	w->crc = crc32(w->crc, data, (uInt)len);
}

struct mark {
	char name[PROTO_NAME_MAX + 1];
	uint64_t epoch, change;
};

/* Copies the watermarks first, so the count written matches the list. */
static void put_watermarks(struct writer *w, struct table *t)
{
	struct mark marks[TABLE_WATERMARKS];
	uint32_t n = 0;

	for (size_t i = 0; i < TABLE_WATERMARKS; i++)
		n += table_watermark_at(t, i, marks[n].name, &marks[n].epoch,
					&marks[n].change);
	put(w, &n, sizeof n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t len = (uint8_t)strlen(marks[i].name);

		put(w, &len, 1);
		put(w, marks[i].name, len);
		put(w, &marks[i].epoch, sizeof marks[i].epoch);
		put(w, &marks[i].change, sizeof marks[i].change);
	}
}

static bool put_entry(void *arg, const struct table_record *rec)
{
	struct writer *w = arg;
	int64_t sec = rec->tm.sec;
	int32_t nsec = rec->tm.nsec;
	uint32_t source = rec->source, len = (uint32_t)rec->line_len;

	put(w, &sec, sizeof sec);
	put(w, &nsec, sizeof nsec);
	put(w, &source, sizeof source);
	put(w, &len, sizeof len);
	put(w, rec->line, rec->line_len);
	w->entries++;
	return !w->failed;
}

static bool count_entry(void *arg, const struct table_record *rec)
{
	(void)rec;
	++*(uint64_t *)arg;
	return true;
}

/*
 * The entry count goes in the header, but entries may be added while we
 * write; so the header says how many follow, and we write exactly that
 * many (the newest state of each; a client added meanwhile waits for the
 * next snapshot).
 */
struct bounded_writer {
	struct writer *w;
	uint64_t left;
};

static bool put_bounded(void *arg, const struct table_record *rec)
{
	struct bounded_writer *b = arg;

	if (b->left == 0)
		return false;
	b->left--;
	return put_entry(b->w, rec);
}

static void write_body(struct writer *w, struct table *t)
{
	uint32_t version = SNAP_VERSION;
	uint64_t entries = 0;
	struct bounded_writer b = { .w = w };

	put(w, SNAP_MAGIC, 8);
	put(w, &version, sizeof version);
	put_watermarks(w, t);	/* before the entries: see snapshot.h */
	table_scan(t, 0, count_entry, &entries);
	put(w, &entries, sizeof entries);
	b.left = entries;
	table_scan(t, 0, put_bounded, &b);
	if (b.left > 0)		/* entries are never deleted: cannot be */
		w->failed = true;
}

/* Makes the rename durable: fsync the directory that holds path. */
static int sync_parent(const char *path)
{
	char copy[4096];
	int fd, rc;

	if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int finish_file(struct writer *w, const char *tmp, const char *path)
{
	uint32_t crc = (uint32_t)w->crc;

	if (!w->failed && fwrite(&crc, 1, sizeof crc, w->fp) != sizeof crc)
		w->failed = true;
	if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0)
		w->failed = true;
	if (fclose(w->fp) != 0)
		w->failed = true;
	if (w->failed || rename(tmp, path) != 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return sync_parent(path);
}

long snapshot_write(struct table *t, const char *path, char *err,
		    size_t errlen)
{
	char tmp[4096];
	struct writer w = { .crc = crc32(0L, Z_NULL, 0) };
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || (w.fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	write_body(&w, t);
	if (finish_file(&w, tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path,
			 errno ? strerror(errno) : "write failed");
		return -1;
	}
	return w.entries;
}

/* --- loading ------------------------------------------------------------- */

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static const void *take(struct reader *r, size_t len)
{
	const unsigned char *at = r->p;

	if (r->bad || (size_t)(r->end - r->p) < len) {
		r->bad = true;
		return NULL;
	}
	r->p += len;
	return at;
}

/* Copies the next size bytes into out (zeros past the end). */
static void take_copy(struct reader *r, void *out, size_t size)
{
	const void *at = take(r, size);

	if (at != NULL)
		memcpy(out, at, size);
	else
		memset(out, 0, size);
}

static uint64_t take_u64(struct reader *r)
{
	uint64_t v;

	take_copy(r, &v, sizeof v);
	return v;
}

static uint32_t take_u32(struct reader *r)
{
	uint32_t v;

	take_copy(r, &v, sizeof v);
	return v;
}

static uint8_t take_u8(struct reader *r)
{
	const uint8_t *at = take(r, 1);

	return at != NULL ? *at : 0;
}

/* Reads the whole file; NULL with errno (ENOENT: there is none). */
static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size > SNAP_MAX_BYTES ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*len = got;
out:
	close(fd);
	if (buf != NULL && got != (size_t)st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	return buf;
}

/* Walks every record without storing any: true if the file is whole. */
static bool check_layout(struct reader r, const struct proto_limits *lim)
{
	const void *magic = take(&r, 8);
	struct proto_cmd cmd;
	uint64_t marks, entries;

	if (magic == NULL || memcmp(magic, SNAP_MAGIC, 8) != 0 ||
	    take_u32(&r) != SNAP_VERSION)
		return false;
	marks = take_u32(&r);
	for (uint64_t i = 0; i < marks && !r.bad; i++) {
		size_t len = take_u8(&r);

		if (len == 0 || len > PROTO_NAME_MAX)
			return false;
		take(&r, len + 16);
	}
	entries = take_u64(&r);
	for (uint64_t i = 0; i < entries && !r.bad; i++) {
		size_t len;
		const char *line;

		take(&r, 16);
		len = take_u32(&r);
		line = take(&r, len);
		if (line == NULL ||
		    proto_parse(line, len, lim, &cmd) != PROTO_AT)
			return false;
	}
	return !r.bad && r.p == r.end;
}

static void load_watermarks(struct reader *r, struct table *t)
{
	uint32_t marks = take_u32(r);

	for (uint32_t i = 0; i < marks; i++) {
		char name[PROTO_NAME_MAX + 1];
		size_t len = take_u8(r);
		uint64_t epoch, change;

		memcpy(name, take(r, len), len);
		name[len] = '\0';
		epoch = take_u64(r);
		change = take_u64(r);
		table_set_watermark(t, name, epoch, change);
	}
}

/* Stores the entries of a file check_layout has accepted. */
static long load_entries(struct reader *r, struct table *t,
			 const struct proto_limits *lim, uint64_t *refused)
{
	uint64_t entries = take_u64(r);
	long stored = 0;

	for (uint64_t i = 0; i < entries; i++) {
		struct proto_cmd cmd;
		uint32_t source, len;
		const char *line;

		take(r, 12);	/* the time is in the line too */
		source = take_u32(r);
		len = take_u32(r);
		line = take(r, len);
		proto_parse(line, len, lim, &cmd);
		switch (table_put_from(t, cmd.client.p, cmd.client.len, cmd.t,
				       line, len, source, NULL)) {
		case TABLE_STORED:
			stored++;
			break;
		case TABLE_FULL:
		case TABLE_INVALID:
			++*refused;
			break;
		case TABLE_STALE:
			break;
		}
	}
	return stored;
}

long snapshot_load(struct table *t, const char *path,
		   const struct proto_limits *lim, char *err, size_t errlen)
{
	size_t len = 0;
	unsigned char *buf = slurp(path, &len);
	struct reader r;
	uint64_t refused = 0;
	uint32_t crc;
	long stored;

	if (errlen > 0)
		err[0] = '\0';

	if (buf == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	r = (struct reader){ .p = buf, .end = buf + (len >= 4 ? len - 4 : 0) };
	if (len >= 4)
		memcpy(&crc, buf + len - 4, sizeof crc);
	if (len < 4 || crc != (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf,
					     (uInt)(len - 4)) ||
	    !check_layout(r, lim)) {
		snprintf(err, errlen, "%s: corrupt or truncated snapshot "
			 "(checksum, version or layout wrong)", path);
		free(buf);
		return -1;
	}
	take(&r, 12);
	load_watermarks(&r, t);
	stored = load_entries(&r, t, lim, &refused);
	free(buf);
	if (refused > 0)
		snprintf(err, errlen, "%s: %" PRIu64 " entries did not fit this "
			 "table (table_capacity or max_client_len is smaller "
			 "than when it was written)", path, refused);
	return stored;
}
