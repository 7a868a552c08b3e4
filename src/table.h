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
 * one lock.  An empty slot is claimed with a compare-and-swap, so writers of
 * different stripes never claim the same slot.  Readers take no lock: they
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

/* Unmaps the table (in the calling process only). */
void table_destroy(struct table *t);

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

/*
 * Calls fn for every stored entry whose change number is greater than
 * after, in slot order, each copied consistently; stops early if fn returns
 * false.  Takes no lock.  Returns the number of entries passed to fn.
 */
typedef bool (*table_visit_fn)(void *arg, const char *line, size_t line_len,
			       struct proto_time tm, uint64_t change);
size_t table_scan(struct table *t, uint64_t after, table_visit_fn fn,
		  void *arg);

#endif
