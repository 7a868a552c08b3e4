/*
 * snapshot.h - a member's table on disk, so locations survive a restart of
 * herdd or of the host.
 *
 * The file is written whole to a temporary name, fsync'ed, renamed over
 * the old one, and the directory fsync'ed: a crash at any point leaves the
 * old snapshot or the new one, never a mix.  It ends with a CRC-32 of
 * everything before it; loading checks the magic, the version, every
 * length and the checksum of the whole file before it stores a single
 * entry, so a corrupt or truncated snapshot is refused, never loaded half
 * way.  It holds each entry's AT line, time and source, and the
 * neighbours' watermarks as they were before the entries were read (so
 * the entries are at least as new as the watermarks claim).
 */
#ifndef HERD_SNAPSHOT_H
#define HERD_SNAPSHOT_H

#include <stddef.h>

#include "protocol.h"
#include "table.h"

/* Writes t to path.  Returns the number of entries, or -1 (reason in err). */
long snapshot_write(struct table *t, const char *path, char *err,
		    size_t errlen);

/*
 * Loads path into t (which should be empty).  Returns the number of
 * entries loaded, 0 if there is no file, or -1 if the file is unusable
 * (reason in err; t is untouched).  err is "" after a clean load, and
 * says how many entries did not fit when the table is smaller than the
 * one that was saved.
 */
long snapshot_load(struct table *t, const char *path,
		   const struct proto_limits *lim, char *err, size_t errlen);

#endif
