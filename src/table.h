/*
 * table.h - a member's location table, shared by its workers and flooder.
 *
 * One fixed-size mapping, created by the supervisor before it forks and
 * inherited by every child.  It maps a client id to the AT line that is its
 * latest known location, and only ever replaces a line with a newer one
 * (proto_newer).  Entries are never deleted.
 *
 * Layout.  Open addressing (linear probing) over fixed-size slots; the key
 * is the client field inside the stored AT line; offsets only, never
 * pointers.  The hash is keyed per table (SipHash) so clients cannot aim
 * many ids at one probe chain.
 *
 * Concurrency.  Writers lock the stripe of slots that a key hashes to (its
 * "home" stripe); every write to a key therefore happens under that key's
 * one lock.  An empty slot is claimed under the table's count lock, taken
 * only to insert a new client, so writers of different stripes never claim
 * the same slot and the entry count stays exact through crashes.  Readers
 * take no lock: they
 * copy a slot under its sequence counter (a seqlock) and retry if it moved,
 * so they never see a torn entry and never wait on a live writer for long.
 *
 * Crash recovery.  The stripe locks are robust process-shared mutexes.
 * Before a writer touches a slot it writes the complete new content into its
 * stripe's journal and marks the journal valid; then it copies the content
 * into the slot and clears the journal.  If a writer dies at any instant,
 * the next process to take that lock gets EOWNERDEAD and repairs the
 * stripe: if the journal is valid the copy is redone (so the write either
 * happened completely or not at all), the slot's sequence counter is made
 * even again, and the mutex is marked consistent.  A reader that finds a
 * slot stuck mid-write takes the slot's home lock, which triggers exactly
 * that repair.  Chosen over pid-owned locks released by the supervisor
 * because recovery then needs no other process to notice the death: the
 * table heals itself on next use, also between two workers.
 *
 * Changes.  Every stored write takes the next number of the table's change
 * counter, records it in the slot, and records "change n went to slot s"
 * in a ring of the most recent changes (65536).  The member's flooder reads
 * the ring past its cursor to learn what to send; when it has fallen
 * further behind than the ring holds, it scans the slots for changes past
 * its cursor instead (table_scan_slots).  Nothing is queued, so nothing a
 * worker stored can be lost to a slow or restarting flooder.
 */
#ifndef HERD_TABLE_H
#define HERD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct table;

enum table_result {
	TABLE_STORED,	/* the line is now the client's location */
	TABLE_STALE,	/* the table already holds this or a newer report */
	TABLE_FULL,	/* no free slot for a new client */
	TABLE_INVALID,	/* key or line longer than the table allows */
};

/*
 * Creates a table for up to capacity clients whose AT lines are at most
 * line_max bytes, in a MAP_SHARED anonymous mapping (so children forked
 * afterwards share it).  Returns NULL with errno set on failure.
 */
struct table *table_create(size_t capacity, size_t line_max);

/*
 * The same in a file, so the table outlives every process that maps it:
 * herdd killed outright and restarted finds every location, lock and
 * watermark where it was (a lock whose owner died is repaired as above).
 * If path holds a table of this geometry it is mapped again
 * (*reattached true; it keeps its epoch and change counter), else it is
 * made anew.  The file is locked (flock) for as long as *fd_out stays
 * open, so a second herdd cannot take the same member: it fails with
 * EBUSY.  The file's storage is reserved in full (fallocate) where the
 * file system can: a table that does not fit fails here with ENOSPC, not
 * later with SIGBUS.  Returns NULL with errno set on failure.
 */
struct table *table_open(const char *path, size_t capacity, size_t line_max,
			 int *fd_out, bool *reattached);

/*
 * Maps every page of the table into the calling process now, so that no
 * store or lookup later stops for a page fault (a process forked after
 * the table was mapped shares its pages but not its page tables).  The
 * pages are only read, so a table on a disk file system is not dirtied.
 * Returns 0, or -1 with errno set (EINVAL before Linux 5.14, which has
 * no way to do it; the table works the same, only its first touches are
 * slower).
 */
int table_prefault(struct table *t);

/* Unmaps the table (in the calling process only). */
void table_destroy(struct table *t);

/* Where a stored report came from: a member index, or this. */
#define TABLE_SOURCE_LOCAL 0xffu

/*
 * Stores line (an AT line whose client field is client) with client time
 * tm if it is newer than what the table holds for client.  On
 * TABLE_STORED, *change (if not NULL) receives the change number given to
 * this write: every stored write takes the next value of the table's
 * change counter, starting at 1.
 */
enum table_result table_put(struct table *t, const char *client,
			    size_t client_len, struct proto_time tm,
			    const char *line, size_t line_len,
			    uint64_t *change);

/* table_put for a report that came from member source (TABLE_SOURCE_*). */
enum table_result table_put_from(struct table *t, const char *client,
				 size_t client_len, struct proto_time tm,
				 const char *line, size_t line_len,
				 unsigned source, uint64_t *change);

/*
 * Copies the client's stored line into line (cap bytes; at least the
 * table's line_max), its length into *line_len, its time into *tm (may be
 * NULL).  Returns false if the client is unknown.
 */
bool table_get(struct table *t, const char *client, size_t client_len,
	       char *line, size_t cap, size_t *line_len, struct proto_time *tm);

/* For status: clients stored, and the most the table can hold. */
size_t table_count(const struct table *t);
size_t table_capacity(const struct table *t);
size_t table_line_max(const struct table *t);

/* The last change number handed out (0 for an empty table). */
uint64_t table_last_change(const struct table *t);

/* A random number chosen when the table was created. */
uint64_t table_epoch(const struct table *t);

/* One stored entry, as scans and change reads hand it out. */
struct table_record {
	const char *line;
	size_t line_len;
	struct proto_time tm;
	uint64_t change;
	unsigned source;
};

/*
 * Calls fn for every stored entry whose change number is greater than
 * after, in slot order, each copied consistently; stops early if fn returns
 * false.  Takes no lock.  Returns the number of entries passed to fn.
 */
typedef bool (*table_visit_fn)(void *arg, const struct table_record *rec);
size_t table_scan(struct table *t, uint64_t after, table_visit_fn fn,
		  void *arg);

/*
 * The same over at most max_slots slots from *pos, which it advances; the
 * scan is complete when *pos reaches table_slots().  For scanning a large
 * table a bit at a time without blocking an event loop.
 */
size_t table_scan_slots(struct table *t, size_t *pos, size_t max_slots,
			uint64_t after, table_visit_fn fn, void *arg);
size_t table_slots(const struct table *t);

enum table_change {
	TABLE_CHANGE_OK,		/* *rec is change n */
	TABLE_CHANGE_SUPERSEDED,	/* its slot has a later change now */
	TABLE_CHANGE_PENDING,		/* numbered, not yet recorded */
	TABLE_CHANGE_FUTURE,		/* not handed out yet */
	TABLE_CHANGE_LOST,		/* the ring has moved past it: scan */
};

/*
 * Reads change n through the ring.  On TABLE_CHANGE_OK, *rec describes it
 * and its line is copied into line (cap bytes, at least table_line_max()).
 * PENDING normally lasts microseconds; a writer that died between taking
 * the number and recording it leaves it PENDING until someone repairs
 * that stripe, so a reader stuck on PENDING should scan instead.
 */
enum table_change table_read_change(struct table *t, uint64_t n, char *line,
				    size_t cap, struct table_record *rec);

/*
 * Waking the flooder without a system call per write.  The flooder calls
 * table_flooder_sleep(t, seen) before it waits on wake_fd: it returns
 * false if changes past seen exist (do not sleep), else true and the next
 * table_wake_flooder() writes wake_fd once.  Writers call
 * table_wake_flooder() after every TABLE_STORED.
 */
void table_wake_flooder(struct table *t, int wake_fd);
bool table_flooder_sleep(struct table *t, uint64_t seen);

/*
 * Watermarks: for each neighbour (by name), the epoch of its table and the
 * last of its changes this member holds.  Kept in the table so they
 * survive a flooder restart; written by the flooder only.  Unknown
 * neighbours read as (0, 0).
 */
void table_get_watermark(struct table *t, const char *peer, uint64_t *epoch,
			 uint64_t *change);
void table_set_watermark(struct table *t, const char *peer, uint64_t epoch,
			 uint64_t change);

/*
 * The i-th watermark slot (0 .. TABLE_WATERMARKS-1): false if unused, else
 * copies the neighbour's name (PROTO_NAME_MAX + 1 bytes) and its values.
 */
#define TABLE_WATERMARKS 64
bool table_watermark_at(struct table *t, size_t i, char *peer,
			uint64_t *epoch, uint64_t *change);

#endif
