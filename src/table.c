/*
 * table.c - the shared location table (see table.h for the design).
 *
 * Memory layout of the one shared mapping, all addressed by offsets:
 *
 *   struct table      header: geometry, epoch, hash key, counters, and the
 *                     count lock with its journal
 *   stripes           nstripes x stripe_stride: a robust lock, and a
 *                     journal holding one complete slot content
 *   change ring       RING_SIZE x struct ring_rec: which slot each recent
 *                     change number went to (see table.h)
 *   slots             nslots x slot_stride: seqlock, claim, struct entry
 *
 * Slot lifecycle.  A slot is free while its claim is 0.  It is claimed once,
 * for one key, and never given back (entries are never deleted), so a claim
 * never changes after it is set.  The claim is the key's hash with the low
 * bit forced to 1, so it is never 0; the key's home slot, and hence its home
 * stripe and lock, are derived from the claim value itself, so writers,
 * readers and repair all agree on which lock guards a claimed slot.  Only
 * the holder of that lock ever writes the slot's content.
 *
 * Why the entry count has its own lock.  The count must stay exact through
 * crashes (it decides TABLE_FULL, and status reports it).  A shared atomic
 * counter bumped with fetch_add cannot be: a writer killed right after the
 * fetch_add but before it records "counted" in its journal leaves repair
 * unable to tell whether the bump happened, since other stripes move the
 * counter meanwhile.  So every insertion takes a second robust mutex, the
 * count lock (always after its stripe lock, never the other way, so there is
 * no deadlock), checks the capacity, and under it claims the slot and sets
 * count to an absolute value recorded in the count journal beforehand.
 * Setting an absolute value is idempotent, so repair can simply redo it.
 * The claim store is the one instant at which an insertion happens: both
 * journals decide "did it happen?" by looking at the slot's claim.  Since
 * every claim is made under the count lock, after checking that the slot is
 * still free, writers of different stripes never claim the same slot (the
 * lock does the job of the compare-and-swap table.h mentions).  Only
 * insertions of new clients take the count lock, for a few stores; updates,
 * the common case, never do.
 *
 * Crash windows of an insertion (stripe lock S, count lock C held):
 *   stage content in S's journal (not yet valid)
 *   C: journal S valid -> journal C valid -> claim slot -> count = after
 *      -> journal C clear
 *   copy content into the slot under its seqlock -> journal S clear
 * Death before the claim: both journals say "not claimed, discard".  Death
 * after it: S's repair redoes the copy, C's repair (run by whoever takes C
 * next, and by S's repair, which takes C) sets count = after, which is
 * right because nobody could move count while the dead writer held C.
 * Between the claim and the copy (after a death: until S is repaired) the
 * slot's content is empty (client_len 0), which matches no key, so readers
 * probe past it: the insertion has not happened yet for them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "table.h"

#define TABLE_MAGIC	UINT64_C(0x6865726474626c31)	/* "herdtbl1" */
#define TABLE_VERSION	1
#define STRIPE_SLOTS	64	/* slots per stripe, i.e. per lock */
#define CACHE_LINE	64
#define LINE_LIMIT	16384	/* largest line_max; table_scan's buffer */
#define SPIN_LIMIT	1000	/* reader spins on an odd seq before locking */
#define RING_SIZE	65536	/* recent changes the ring remembers */
#define WATERMARKS	TABLE_WATERMARKS

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "the table's atomics must be lock-free to work across processes");

/* One stored report: a slot's content, and what a journal stages. */
struct entry {
	uint64_t change;	/* 0 while a claimed slot is still empty */
	int64_t sec;
	int32_t nsec;
	uint32_t line_len;
	uint32_t client_off;	/* the key: line[client_off, +client_len) */
	uint32_t client_len;	/* 0 while empty, which matches no key */
	uint32_t source;	/* member it came from, or TABLE_SOURCE_LOCAL */
	uint32_t unused;
	char line[];		/* line_max bytes */
};

struct slot {
	_Atomic uint32_t seq;	/* odd while the content is being written */
	uint32_t unused;
	_Atomic uint64_t claim;	/* 0 = free, else the key's hash | 1 */
	/* struct entry follows */
};

/* A journal's record of the write in progress. */
struct intent {
	_Atomic uint32_t valid;	/* set last, cleared once the write is done */
	uint32_t unused;
	uint64_t slot;
	uint64_t claim;
};

/*
 * Change n went to slot ring[n % RING_SIZE].slot if that record's change
 * is n.  The slot is stored first, the change last (release), so a reader
 * that sees change n before and after reading slot has a consistent pair.
 */
struct ring_rec {
	_Atomic uint64_t change;
	_Atomic uint64_t slot;
};

/* What a neighbour's flooder told us it holds of our table. */
struct watermark {
	char name[PROTO_NAME_MAX + 1];	/* "" = unused */
	_Atomic uint64_t epoch;
	_Atomic uint64_t change;
};

struct stripe {
	pthread_mutex_t lock;
	struct intent journal;
	/* struct entry follows: the complete new content for journal.slot */
};

struct table {
	uint64_t magic;
	uint32_t version;
	uint32_t unused;
	uint64_t capacity;	/* clients */
	uint64_t nslots;	/* a multiple of STRIPE_SLOTS */
	uint64_t nstripes;
	uint64_t slot_stride;
	uint64_t stripe_stride;
	uint64_t line_max;
	uint64_t stripes_off;
	uint64_t ring_off;
	uint64_t slots_off;
	uint64_t map_size;
	uint64_t epoch;
	uint64_t hash_key[2];
	_Atomic uint64_t changes;	/* last change number handed out */
	_Atomic uint64_t count;		/* clients stored; set under count_lock */
	pthread_mutex_t count_lock;	/* taken by insertions, after a stripe */
	struct intent count_journal;	/* the insertion being counted */
	uint64_t count_after;		/* its new count */
	_Atomic uint32_t flooder_waiting; /* the flooder wants a wake-up */
	struct watermark watermarks[WATERMARKS];
};

_Static_assert(sizeof(struct slot) % alignof(struct entry) == 0 &&
	       sizeof(struct stripe) % alignof(struct entry) == 0,
	       "an entry must be aligned after its slot or stripe header");

/* table_put's arguments, checked. */
struct report {
	const char *client;
	size_t client_len;
	size_t client_off;
	struct proto_time tm;
	const char *line;
	size_t line_len;
	uint64_t claim;
	uint32_t source;
};

/* ---- SipHash-2-4 (Aumasson & Bernstein), keyed per table ---------------- */

static uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl64(v[1], 13); v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3]; v[3] = rotl64(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl64(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl64(v[1], 17); v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

static uint64_t load_le64(const unsigned char *p, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= (uint64_t)p[i] << (8 * i);
	return m;
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

static uint64_t siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v[4] = {
		key[0] ^ UINT64_C(0x736f6d6570736575),
		key[1] ^ UINT64_C(0x646f72616e646f6d),
		key[0] ^ UINT64_C(0x6c7967656e657261),
		key[1] ^ UINT64_C(0x7465646279746573),
	};
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8)
		sip_absorb(v, load_le64(p + i, 8));
	sip_absorb(v, load_le64(p + whole, len % 8) | (uint64_t)len << 56);
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- addressing ---------------------------------------------------------- */

static uint64_t key_claim(const struct table *t, const char *key, size_t len)
{
	return siphash24(t->hash_key, key, len) | 1;
}

/*
 * The claim's home slot.  A multiply-shift range reduction (Lemire) instead
 * of a power-of-two mask: nslots then only has to be a multiple of the
 * stripe size, which keeps the load factor near 75% instead of anywhere in
 * 37..75%, saving about a third of the memory on average.  It uses the
 * hash's high bits, so forcing the low bit to 1 does not skew it.
 */
static uint64_t home_slot(const struct table *t, uint64_t claim)
{
	return (uint64_t)(((unsigned __int128)claim * t->nslots) >> 64);
}

static uint64_t next_slot(const struct table *t, uint64_t idx)
{
	return idx + 1 == t->nslots ? 0 : idx + 1;
}

static struct slot *slot_at(struct table *t, uint64_t idx)
{
	return (struct slot *)((char *)t + t->slots_off + idx * t->slot_stride);
}

static struct entry *slot_entry(struct slot *s)
{
	return (struct entry *)(s + 1);
}

static struct stripe *stripe_at(struct table *t, uint64_t i)
{
	return (struct stripe *)((char *)t + t->stripes_off +
				 i * t->stripe_stride);
}

static struct stripe *home_stripe(struct table *t, uint64_t claim)
{
	return stripe_at(t, home_slot(t, claim) / STRIPE_SLOTS);
}

static struct entry *journal_entry(struct stripe *st)
{
	return (struct entry *)(st + 1);
}

static struct ring_rec *ring_at(struct table *t, uint64_t change)
{
	return (struct ring_rec *)((char *)t + t->ring_off) +
	       change % RING_SIZE;
}

/* ---- locks --------------------------------------------------------------- */

static _Noreturn void table_bug(const char *what, int err)
{
	fprintf(stderr, "herd table: %s: %s\n", what, strerror(err));
	abort();
}

/*
 * Locks m.  Returns true if its previous owner died holding it: the caller
 * must repair what it guards, then mark it consistent.  Any other error
 * (ENOTRECOVERABLE needs an owner that unlocked without repairing, which
 * this file never does) is a bug.
 */
static bool lock_robust(pthread_mutex_t *m)
{
	int err = pthread_mutex_lock(m);

	if (err == EOWNERDEAD)
		return true;
	if (err != 0)
		table_bug("pthread_mutex_lock", err);
	return false;
}

static void mark_consistent(pthread_mutex_t *m)
{
	int err = pthread_mutex_consistent(m);

	if (err != 0)
		table_bug("pthread_mutex_consistent", err);
}

static void unlock_robust(pthread_mutex_t *m)
{
	int err = pthread_mutex_unlock(m);

	if (err != 0)
		table_bug("pthread_mutex_unlock", err);
}

/* ---- writing under a seqlock --------------------------------------------- */

/* Makes seq odd (it already is if a dead writer left it so). */
static void seq_begin(struct slot *s)
{
	uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	if (q % 2 == 0)
		atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
	/* The odd seq must be visible before any byte of the new content. */
	atomic_thread_fence(memory_order_release);
}

/* Makes seq even again, greater than before the write began. */
static void seq_end(struct slot *s)
{
	uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, q + 1, memory_order_release);
}

/*
 * Copies the stripe's valid journal into its slot and clears the journal.
 * Redoing it is harmless, which is what makes repair simple.
 */
static void commit(struct table *t, struct stripe *st)
{
	struct slot *s = slot_at(t, st->journal.slot);
	const struct entry *e = journal_entry(st);
	struct ring_rec *rec = ring_at(t, e->change);

	seq_begin(s);
	memcpy(slot_entry(s), e, sizeof *e + e->line_len);
	seq_end(s);
	/* After the content, so a flooder that finds the change finds it. */
	atomic_store_explicit(&rec->slot, st->journal.slot,
			      memory_order_relaxed);
	atomic_store_explicit(&rec->change, e->change, memory_order_release);
	atomic_store_explicit(&st->journal.valid, 0, memory_order_release);
}

/* ---- crash repair -------------------------------------------------------- */

static bool claimed_as(struct table *t, uint64_t idx, uint64_t claim)
{
	return idx < t->nslots &&
	       atomic_load_explicit(&slot_at(t, idx)->claim,
				    memory_order_acquire) == claim;
}

/*
 * The count lock's owner died.  If it had claimed the slot of its
 * insertion, the insertion happened: set count to the value it recorded
 * (nobody else could change count since).  Otherwise nothing happened.
 */
static void repair_count(struct table *t)
{
	struct intent *j = &t->count_journal;

	if (!atomic_load_explicit(&j->valid, memory_order_acquire))
		return;
	if (claimed_as(t, j->slot, j->claim))
		atomic_store_explicit(&t->count, t->count_after,
				      memory_order_release);
	atomic_store_explicit(&j->valid, 0, memory_order_release);
}

static void lock_count(struct table *t)
{
	if (lock_robust(&t->count_lock)) {
		repair_count(t);
		mark_consistent(&t->count_lock);
	}
}

static void unlock_count(struct table *t)
{
	unlock_robust(&t->count_lock);
}

/*
 * A stripe's owner died.  A valid journal means it may have been anywhere
 * in a write: redo the whole copy, unless the write was an insertion that
 * never claimed its slot (then the slot may even belong to another key by
 * now, and the write simply did not happen).  The claim is compared with
 * the journal's: a slot claimed with this key's hash can only have been
 * claimed under this stripe's lock, so by the dead owner.  An invalid
 * journal means no slot was touched.  The dead owner may have held the
 * count lock too: taking it repairs that.
 */
static void repair_stripe(struct table *t, struct stripe *st)
{
	struct intent *j = &st->journal;

	if (atomic_load_explicit(&j->valid, memory_order_acquire)) {
		if (claimed_as(t, j->slot, j->claim) &&
		    journal_entry(st)->line_len <= t->line_max)
			commit(t, st);
		else
			atomic_store_explicit(&j->valid, 0,
					      memory_order_release);
	}
	lock_count(t);
	unlock_count(t);
}

static void lock_stripe(struct table *t, struct stripe *st)
{
	if (lock_robust(&st->lock)) {
		repair_stripe(t, st);
		mark_consistent(&st->lock);
	}
}

static void unlock_stripe(struct stripe *st)
{
	unlock_robust(&st->lock);
}

/* ---- reading under a seqlock --------------------------------------------- */

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/*
 * A slot has stayed odd for a long time: its writer is slow or dead.  Take
 * the slot's home lock, which waits for a live writer or repairs after a
 * dead one.  Holding that lock nobody can be writing the slot, so a seq
 * still odd here (impossible by construction) is simply made even.
 */
static void unstick_slot(struct table *t, struct slot *s)
{
	uint64_t claim = atomic_load_explicit(&s->claim, memory_order_acquire);
	struct stripe *st = home_stripe(t, claim);
	uint32_t q;

	lock_stripe(t, st);
	q = atomic_load_explicit(&s->seq, memory_order_relaxed);
	if (q % 2 != 0)
		atomic_store_explicit(&s->seq, q + 1, memory_order_release);
	unlock_stripe(st);
}

static uint32_t wait_even_seq(struct table *t, struct slot *s)
{
	for (;;) {
		for (int i = 0; i < SPIN_LIMIT; i++) {
			uint32_t q = atomic_load_explicit(&s->seq,
							  memory_order_acquire);
			if (q % 2 == 0)
				return q;
			cpu_relax();
		}
		unstick_slot(t, s);
	}
}

/*
 * Copies slot idx's entry header into *hdr and its line into line (cap
 * bytes), consistently: retries while a writer moves the seq.  The copy
 * races with writers by design (the standard seqlock practice); the seq
 * check discards a torn copy, and lengths are clamped so that even a torn
 * one stays in bounds.  Returns false if the line does not fit cap.
 */
static bool read_entry(struct table *t, uint64_t idx, struct entry *hdr,
		       char *line, size_t cap)
{
	struct slot *s = slot_at(t, idx);
	const struct entry *e = slot_entry(s);

	for (;;) {
		uint32_t q = wait_even_seq(t, s);
		size_t n;

		memcpy(hdr, e, sizeof *hdr);
		n = hdr->line_len < t->line_max ? hdr->line_len : t->line_max;
		memcpy(line, e->line, n < cap ? n : cap);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == q)
			return hdr->line_len <= cap;
	}
}

static bool entry_has_key(const struct entry *hdr, const char *line,
			  const char *key, size_t key_len)
{
	return hdr->client_len == key_len &&
	       hdr->client_off <= hdr->line_len &&
	       key_len <= hdr->line_len - hdr->client_off &&
	       memcmp(line + hdr->client_off, key, key_len) == 0;
}

/* ---- table_put ----------------------------------------------------------- */

static uint64_t next_change(struct table *t)
{
	return atomic_fetch_add(&t->changes, 1) + 1;
}

/* Writes the new content into the stripe's journal, not yet valid. */
static void stage_write(struct stripe *st, const struct report *r)
{
	struct entry *e = journal_entry(st);

	e->sec = r->tm.sec;
	e->nsec = r->tm.nsec;
	e->line_len = (uint32_t)r->line_len;
	e->client_off = (uint32_t)r->client_off;
	e->client_len = (uint32_t)r->client_len;
	e->source = r->source;
	memcpy(e->line, r->line, r->line_len);
	st->journal.claim = r->claim;
}

/* Completes the staged journal and makes it valid: from here on, the
 * write will happen even if this process dies. */
static void arm_journal(struct stripe *st, uint64_t idx, uint64_t change)
{
	journal_entry(st)->change = change;
	st->journal.slot = idx;
	atomic_store_explicit(&st->journal.valid, 1, memory_order_release);
}

/* Under the count lock: claims slot idx and counts it, in one step as far
 * as repair_count can tell. */
static void claim_and_count(struct table *t, uint64_t idx, uint64_t claim)
{
	struct intent *j = &t->count_journal;
	uint64_t after = atomic_load_explicit(&t->count,
					      memory_order_relaxed) + 1;

	j->slot = idx;
	j->claim = claim;
	t->count_after = after;
	atomic_store_explicit(&j->valid, 1, memory_order_release);
	atomic_store_explicit(&slot_at(t, idx)->claim, claim,
			      memory_order_release);
	atomic_store_explicit(&t->count, after, memory_order_release);
	atomic_store_explicit(&j->valid, 0, memory_order_release);
}

/*
 * Inserts r into the free slot idx.  Returns false, having done nothing,
 * if another stripe's writer claimed idx meanwhile.
 */
static bool put_new(struct table *t, struct stripe *st, uint64_t idx,
		    const struct report *r, uint64_t *change,
		    enum table_result *res)
{
	stage_write(st, r);
	lock_count(t);
	if (atomic_load_explicit(&slot_at(t, idx)->claim,
				 memory_order_relaxed) != 0) {
		unlock_count(t);
		return false;
	}
	*res = TABLE_FULL;
	if (atomic_load_explicit(&t->count, memory_order_relaxed) <
	    t->capacity) {
		*change = next_change(t);
		arm_journal(st, idx, *change);
		claim_and_count(t, idx, r->claim);
		*res = TABLE_STORED;
	}
	unlock_count(t);
	if (*res == TABLE_STORED)
		commit(t, st);
	return true;
}

/* Replaces the entry in slot idx (r's key) if r is newer. */
static enum table_result put_newer(struct table *t, struct stripe *st,
				   uint64_t idx, const struct report *r,
				   uint64_t *change)
{
	const struct entry *old = slot_entry(slot_at(t, idx));
	struct proto_time old_tm = { .sec = old->sec, .nsec = old->nsec };

	if (proto_newer(r->tm, r->line, r->line_len,
			old_tm, old->line, old->line_len) <= 0)
		return TABLE_STALE;
	stage_write(st, r);
	*change = next_change(t);
	arm_journal(st, idx, *change);
	commit(t, st);
	return TABLE_STORED;
}

/*
 * With r's home stripe locked: probes from the home slot.  The first free
 * slot ends the probe (entries are never deleted and r's key is only ever
 * inserted under this lock, so it cannot be further on).  Content read here
 * is stable: only this lock's holder writes slots claimed with r's hash.
 */
static enum table_result put_locked(struct table *t, struct stripe *st,
				    const struct report *r, uint64_t *change)
{
	uint64_t idx = home_slot(t, r->claim);
	enum table_result res;

	for (uint64_t n = 0; n < t->nslots; n++, idx = next_slot(t, idx)) {
		struct slot *s = slot_at(t, idx);
		uint64_t claim = atomic_load_explicit(&s->claim,
						      memory_order_acquire);

		if (claim == 0 && put_new(t, st, idx, r, change, &res))
			return res;
		if (claim == r->claim &&
		    entry_has_key(slot_entry(s), slot_entry(s)->line,
				  r->client, r->client_len))
			return put_newer(t, st, idx, r, change);
	}
	return TABLE_FULL;
}

/*
 * Where the key lies in the line.  Usually client points into line; if it
 * points elsewhere, any occurrence of its bytes will do, since the key is
 * compared by its bytes only.
 */
static bool find_key(const char *client, size_t client_len, const char *line,
		     size_t line_len, size_t *off)
{
	uintptr_t c = (uintptr_t)client, l = (uintptr_t)line;
	const char *found;

	if (c >= l && c - l <= line_len && client_len <= line_len - (c - l)) {
		*off = c - l;
		return true;
	}
	found = memmem(line, line_len, client, client_len);
	if (found == NULL)
		return false;
	*off = (size_t)(found - line);
	return true;
}

enum table_result table_put(struct table *t, const char *client,
			    size_t client_len, struct proto_time tm,
			    const char *line, size_t line_len,
			    uint64_t *change)
{
	return table_put_from(t, client, client_len, tm, line, line_len,
			      TABLE_SOURCE_LOCAL, change);
}

enum table_result table_put_from(struct table *t, const char *client,
				 size_t client_len, struct proto_time tm,
				 const char *line, size_t line_len,
				 unsigned source, uint64_t *change)
{
	struct report r = { .client = client, .client_len = client_len,
			    .tm = tm, .line = line, .line_len = line_len,
			    .source = source };
	uint64_t unused_change;
	struct stripe *st;
	enum table_result res;

	if (client_len == 0 || line_len > t->line_max ||
	    !find_key(client, client_len, line, line_len, &r.client_off))
		return TABLE_INVALID;
	r.claim = key_claim(t, client, client_len);
	st = home_stripe(t, r.claim);
	lock_stripe(t, st);
	res = put_locked(t, st, &r, change ? change : &unused_change);
	unlock_stripe(st);
	return res;
}

/* ---- reading ------------------------------------------------------------- */

bool table_get(struct table *t, const char *client, size_t client_len,
	       char *line, size_t cap, size_t *line_len, struct proto_time *tm)
{
	uint64_t claim, idx;

	if (client_len == 0 || client_len > t->line_max)
		return false;
	claim = key_claim(t, client, client_len);
	idx = home_slot(t, claim);
	for (uint64_t n = 0; n < t->nslots; n++, idx = next_slot(t, idx)) {
		uint64_t c = atomic_load_explicit(&slot_at(t, idx)->claim,
						  memory_order_acquire);
		struct entry hdr;

		if (c == 0)
			return false;
		if (c != claim || !read_entry(t, idx, &hdr, line, cap) ||
		    !entry_has_key(&hdr, line, client, client_len))
			continue;
		*line_len = hdr.line_len;
		if (tm != NULL)
			*tm = (struct proto_time){ hdr.sec, hdr.nsec };
		return true;
	}
	return false;
}

static void fill_record(struct table_record *rec, const struct entry *hdr,
			const char *line)
{
	rec->line = line;
	rec->line_len = hdr->line_len;
	rec->tm = (struct proto_time){ hdr->sec, hdr->nsec };
	rec->change = hdr->change;
	rec->source = hdr->source;
}

size_t table_scan_slots(struct table *t, size_t *pos, size_t max_slots,
			uint64_t after, table_visit_fn fn, void *arg)
{
	char line[LINE_LIMIT];
	size_t visited = 0;

	for (; *pos < t->nslots && max_slots > 0; max_slots--) {
		uint64_t idx = (*pos)++;
		struct table_record rec;
		struct entry hdr;

		if (atomic_load_explicit(&slot_at(t, idx)->claim,
					 memory_order_acquire) == 0 ||
		    !read_entry(t, idx, &hdr, line, sizeof line))
			continue;
		/* A claimed slot still empty has change 0, never > after. */
		if (hdr.change <= after)
			continue;
		visited++;
		fill_record(&rec, &hdr, line);
		if (!fn(arg, &rec))
			break;
	}
	return visited;
}

size_t table_scan(struct table *t, uint64_t after, table_visit_fn fn,
		  void *arg)
{
	size_t pos = 0;

	return table_scan_slots(t, &pos, SIZE_MAX, after, fn, arg);
}

size_t table_slots(const struct table *t)
{
	return (size_t)t->nslots;
}

enum table_change table_read_change(struct table *t, uint64_t change,
				    char *line, size_t cap,
				    struct table_record *rec)
{
	struct ring_rec *r = ring_at(t, change);
	uint64_t seen = atomic_load_explicit(&r->change, memory_order_acquire);
	uint64_t idx = atomic_load_explicit(&r->slot, memory_order_relaxed);
	struct entry hdr;

	atomic_thread_fence(memory_order_acquire);
	if (seen != change ||
	    atomic_load_explicit(&r->change, memory_order_relaxed) != seen)
		return seen > change ? TABLE_CHANGE_LOST :
		       change > atomic_load(&t->changes) ?
		       TABLE_CHANGE_FUTURE : TABLE_CHANGE_PENDING;
	if (idx >= t->nslots || !read_entry(t, idx, &hdr, line, cap))
		return TABLE_CHANGE_LOST;
	if (hdr.change != change)
		return TABLE_CHANGE_SUPERSEDED;
	fill_record(rec, &hdr, line);
	return TABLE_CHANGE_OK;
}

/* ---- the flooder's wake-up and watermarks -------------------------------- */

/*
 * Dekker-style with table_flooder_sleep: the writer bumped changes (a
 * seq_cst read-modify-write) before it reads the flag here, and the flooder
 * sets the flag before it reads changes, so one of them sees the other.
 */
void table_wake_flooder(struct table *t, int wake_fd)
{
	uint64_t one = 1;

	if (atomic_load(&t->flooder_waiting) == 0 ||
	    atomic_exchange(&t->flooder_waiting, 0) == 0)
		return;
	if (write(wake_fd, &one, sizeof one) < 0) {
		/* EAGAIN: the counter is full, so a wake-up is pending. */
	}
}

bool table_flooder_sleep(struct table *t, uint64_t seen)
{
	atomic_store(&t->flooder_waiting, 1);
	if (atomic_load(&t->changes) <= seen)
		return true;
	atomic_store(&t->flooder_waiting, 0);
	return false;
}

static struct watermark *find_watermark(struct table *t, const char *peer,
					bool create)
{
	struct watermark *free_one = NULL;

	for (size_t i = 0; i < WATERMARKS; i++) {
		struct watermark *w = &t->watermarks[i];

		if (strcmp(w->name, peer) == 0)
			return w;
		if (w->name[0] == '\0' && free_one == NULL)
			free_one = w;
	}
	if (create && free_one != NULL && strlen(peer) <= PROTO_NAME_MAX) {
		strcpy(free_one->name, peer);
		return free_one;
	}
	return NULL;
}

void table_get_watermark(struct table *t, const char *peer, uint64_t *epoch,
			 uint64_t *change)
{
	struct watermark *w = find_watermark(t, peer, false);

	*epoch = w ? atomic_load(&w->epoch) : 0;
	*change = w ? atomic_load(&w->change) : 0;
}

/*
 * Only the flooder writes watermarks.  A new epoch resets change first, so
 * a flooder killed in between leaves (old epoch, 0) or (new epoch, 0),
 * never a change of one epoch paired with another.
 */
void table_set_watermark(struct table *t, const char *peer, uint64_t epoch,
			 uint64_t change)
{
	struct watermark *w = find_watermark(t, peer, true);

	if (w == NULL)
		return;
	if (atomic_load(&w->epoch) != epoch) {
		atomic_store(&w->change, 0);
		atomic_store(&w->epoch, epoch);
	}
	atomic_store(&w->change, change);
}

size_t table_count(const struct table *t)
{
	return (size_t)atomic_load(&t->count);
}

size_t table_capacity(const struct table *t)
{
	return (size_t)t->capacity;
}

size_t table_line_max(const struct table *t)
{
	return (size_t)t->line_max;
}

uint64_t table_last_change(const struct table *t)
{
	return atomic_load(&t->changes);
}

uint64_t table_epoch(const struct table *t)
{
	return t->epoch;
}

bool table_watermark_at(struct table *t, size_t i, char *peer,
			uint64_t *epoch, uint64_t *change)
{
	struct watermark *w;

	if (i >= WATERMARKS || t->watermarks[i].name[0] == '\0')
		return false;
	w = &t->watermarks[i];
	memcpy(peer, w->name, sizeof w->name);
	*epoch = atomic_load(&w->epoch);
	*change = atomic_load(&w->change);
	return true;
}

/* ---- creation ------------------------------------------------------------ */

static size_t round_up(size_t n, size_t unit)
{
	return (n + unit - 1) / unit * unit;
}

/*
 * Fills the geometry of a table for capacity clients: enough slots for a
 * load factor of at most 75%, in whole stripes.  Returns false if the
 * arguments are out of range or the size overflows.
 */
static bool plan_layout(size_t capacity, size_t line_max, struct table *g)
{
	size_t stripes_size, slots_size, total;

	if (capacity == 0 || capacity > SIZE_MAX / 8 || line_max == 0 ||
	    line_max > LINE_LIMIT)
		return false;
	g->capacity = capacity;
	g->line_max = line_max;
	g->nslots = round_up((capacity * 4 + 2) / 3, STRIPE_SLOTS);
	g->nstripes = g->nslots / STRIPE_SLOTS;
	g->slot_stride = round_up(sizeof(struct slot) + sizeof(struct entry) +
				  line_max, CACHE_LINE);
	g->stripe_stride = round_up(sizeof(struct stripe) +
				    sizeof(struct entry) + line_max,
				    CACHE_LINE);
	g->stripes_off = round_up(sizeof(struct table), CACHE_LINE);
	if (__builtin_mul_overflow(g->nstripes, g->stripe_stride,
				   &stripes_size) ||
	    __builtin_mul_overflow(g->nslots, g->slot_stride, &slots_size) ||
	    __builtin_add_overflow(g->stripes_off, stripes_size, &total) ||
	    __builtin_add_overflow(total, RING_SIZE * sizeof(struct ring_rec),
				   &total) ||
	    __builtin_add_overflow(total, slots_size, &total))
		return false;
	g->ring_off = g->stripes_off + stripes_size;
	g->slots_off = g->ring_off + RING_SIZE * sizeof(struct ring_rec);
	g->map_size = total;
	return true;
}

static int fill_random(void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno != EINTR)
			return errno;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

/* A process-shared robust mutex.  Returns 0 or an error number. */
static int init_robust_mutex(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int err = pthread_mutexattr_init(&attr);

	if (err != 0)
		return err;
	err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (err == 0)
		err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (err == 0)
		err = pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return err;
}

/* The rest of the mapping is zero already: free slots, empty journals. */
static int init_table(struct table *t)
{
	int err;

	t->magic = TABLE_MAGIC;
	t->version = TABLE_VERSION;
	do
		err = fill_random(&t->epoch, sizeof t->epoch);
	while (err == 0 && t->epoch == 0);
	if (err == 0)
		err = fill_random(t->hash_key, sizeof t->hash_key);
	if (err == 0)
		err = init_robust_mutex(&t->count_lock);
	for (uint64_t i = 0; err == 0 && i < t->nstripes; i++)
		err = init_robust_mutex(&stripe_at(t, i)->lock);
	return err;
}

/* Maps fd (or anonymous memory if fd < 0) and initialises a new table. */
static struct table *map_new(const struct table *geometry, int fd)
{
	struct table *t;
	int err;

	t = mmap(NULL, geometry->map_size, PROT_READ | PROT_WRITE,
		 fd < 0 ? MAP_SHARED | MAP_ANONYMOUS : MAP_SHARED, fd, 0);
	if (t == MAP_FAILED)
		return NULL;
	memcpy(t, geometry, sizeof *geometry);
	err = init_table(t);
	if (err != 0) {
		/* Linux's mutexes hold no resources: unmapping frees all. */
		(void)munmap(t, geometry->map_size);
		errno = err;
		return NULL;
	}
	return t;
}

struct table *table_create(size_t capacity, size_t line_max)
{
	struct table geometry = { 0 };

	if (!plan_layout(capacity, line_max, &geometry)) {
		errno = EINVAL;
		return NULL;
	}
	return map_new(&geometry, -1);
}

/* True if the file at fd holds a table of exactly this geometry. */
static bool same_geometry(int fd, const struct table *want)
{
	struct table have;
	struct stat st;

	return fstat(fd, &st) == 0 && (uint64_t)st.st_size == want->map_size &&
	       pread(fd, &have, sizeof have, 0) == (ssize_t)sizeof have &&
	       have.magic == TABLE_MAGIC && have.version == TABLE_VERSION &&
	       have.capacity == want->capacity &&
	       have.line_max == want->line_max &&
	       have.nslots == want->nslots && have.map_size == want->map_size;
}

static struct table *reattach(int fd, const struct table *geometry)
{
	struct table *t = mmap(NULL, geometry->map_size,
			       PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return t == MAP_FAILED ? NULL : t;
}

/*
 * Gives every byte of the file its storage now.  The table is written
 * through a shared mapping, where a file system that runs out of room
 * cannot say ENOSPC: it raises SIGBUS in whichever process touched the
 * page, long after start-up.  A file system that cannot reserve
 * (EOPNOTSUPP) is left to allocate as the table fills.
 */
static bool reserve_storage(int fd, uint64_t size)
{
	int err;

	do
		err = fallocate(fd, 0, 0, (off_t)size) == 0 ? 0 : errno;
	while (err == EINTR);
	if (err == EOPNOTSUPP)
		err = 0;
	errno = err;
	return err == 0;
}

struct table *table_open(const char *path, size_t capacity, size_t line_max,
			 int *fd_out, bool *reattached)
{
	struct table geometry = { 0 };
	struct table *t = NULL;
	int fd, saved;

	*reattached = false;
	if (!plan_layout(capacity, line_max, &geometry)) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		errno = EBUSY;		/* another herdd runs this member */
	} else if (same_geometry(fd, &geometry)) {
		if (reserve_storage(fd, geometry.map_size)) {
			t = reattach(fd, &geometry);
			*reattached = t != NULL;
		}
	} else if (ftruncate(fd, 0) == 0 &&
		   ftruncate(fd, (off_t)geometry.map_size) == 0 &&
		   reserve_storage(fd, geometry.map_size)) {
		t = map_new(&geometry, fd);
	}
	if (t != NULL) {
		*fd_out = fd;
		return t;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

int table_prefault(struct table *t)
{
	return madvise(t, t->map_size, MADV_POPULATE_READ);
}

void table_destroy(struct table *t)
{
	if (t != NULL)
		(void)munmap(t, t->map_size);
}
