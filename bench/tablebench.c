/*
 * tablebench.c - microbenchmark of a member's shared location table
 * (src/table.h), the structure every IAMAT writes and every WHATSAT reads.
 *
 *   tablebench [-n ENTRIES] [-t SEC] [-P PROCESSES] [-l MAX_CLIENT_LEN]
 *
 * Fills a table created for ENTRIES clients (default 1,000,000) with
 * ENTRIES distinct clients, then measures, for 1 and for PROCESSES forked
 * processes sharing the table (as a member's workers do):
 *   lookups/s  table_get of a random stored client
 *   updates/s  table_put of a newer report for a random stored client
 * and the memory cost: the table mapping's size / its capacity.
 *
 * The AT lines are built the way a worker builds them (same shape and
 * length), from precomputed client ids, so the figures are the table's
 * cost plus a memcpy-sized line build, not printf's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "table.h"

#define KEY_LEN		20	/* "bench.client.0000000" */
#define PREFIX		"AT Riley +0.000123456 "
#define SUFFIX_LOC	" +34.068930-118.445127 "
#define MAX_PROCS	16
#define CHECK_EVERY	1024	/* operations between clock reads */

struct options {
	size_t entries;
	double seconds;
	unsigned procs;
	size_t client_max;
};

/* What one process did, passed back to the parent through shared memory. */
struct tally {
	uint64_t ops;
	uint64_t misses;	/* lookups that found nothing: must stay 0 */
	uint64_t failures;	/* updates not stored: must stay 0 */
	double seconds;
};

struct bench {
	struct table *table;
	const struct options *o;
	char *keys;		/* entries x KEY_LEN, not terminated */
	size_t line_max;
	int64_t time_base;	/* raised before each run */
	unsigned procs_now;	/* processes of the run in progress */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap, and good enough to spread keys over the table. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static char *put_digits(char *p, uint64_t v, unsigned width)
{
	for (unsigned i = width; i > 0; i--) {
		p[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

static char *make_keys(size_t n)
{
	char *keys = malloc(n * KEY_LEN);

	if (keys == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		memcpy(keys + i * KEY_LEN, "bench.client.", 13);
		put_digits(keys + i * KEY_LEN + 13, i, 7);
	}
	return keys;
}

/* "AT Riley +0.000123456 <key> +34.068930-118.445127 <sec>.<nsec>" */
static size_t make_line(char *out, const char *key, struct proto_time t)
{
	char *p = out;

	memcpy(p, PREFIX, sizeof PREFIX - 1);
	p += sizeof PREFIX - 1;
	memcpy(p, key, KEY_LEN);
	p += KEY_LEN;
	memcpy(p, SUFFIX_LOC, sizeof SUFFIX_LOC - 1);
	p += sizeof SUFFIX_LOC - 1;
	p = put_digits(p, (uint64_t)t.sec, 10);
	*p++ = '.';
	p = put_digits(p, (uint64_t)t.nsec, 9);
	return (size_t)(p - out);
}

/* Client times only grow: each run starts past everything written before. */
static struct proto_time report_time(const struct bench *b, uint64_t n)
{
	return (struct proto_time){ .sec = 1700000000 + b->time_base +
					   (int64_t)n,
				    .nsec = 0 };
}

static bool put_one(struct bench *b, size_t i, struct proto_time t)
{
	char line[256];
	const char *key = b->keys + i * KEY_LEN;
	size_t len = make_line(line, key, t);

	return table_put(b->table, key, KEY_LEN, t, line, len, NULL) ==
	       TABLE_STORED;
}

static double fill(struct bench *b)
{
	uint64_t start = now_ns();

	for (size_t i = 0; i < b->o->entries; i++)
		if (!put_one(b, i, report_time(b, 0))) {
			fprintf(stderr, "tablebench: insert %zu failed "
				"(table full?)\n", i);
			exit(1);
		}
	return (double)(now_ns() - start) / 1e9;
}

static void run_lookups(struct bench *b, unsigned proc, struct tally *out)
{
	uint64_t seed = 0x9e3779b97f4a7c15u ^ (proc + 1), ops = 0;
	uint64_t start = now_ns(), limit = (uint64_t)(b->o->seconds * 1e9);
	char *line = malloc(b->line_max + 1);
	size_t len;

	if (line == NULL)
		exit(1);
	for (;;) {
		for (unsigned k = 0; k < CHECK_EVERY; k++, ops++) {
			size_t i = next_random(&seed) % b->o->entries;

			if (!table_get(b->table, b->keys + i * KEY_LEN,
				       KEY_LEN, line, b->line_max + 1, &len,
				       NULL))
				out->misses++;
		}
		if (now_ns() - start >= limit)
			break;
	}
	out->ops = ops;
	out->seconds = (double)(now_ns() - start) / 1e9;
	free(line);
}

/*
 * Process p updates only the keys i with i % procs == p, with a time that
 * grows with every put, so every put is a real (newer) write: the stale
 * path is cheaper and would flatter the figure.
 */
static void run_updates(struct bench *b, unsigned proc, struct tally *out)
{
	uint64_t seed = 0xda942042e4dd58b5u ^ (proc + 1), ops = 0;
	uint64_t start = now_ns(), limit = (uint64_t)(b->o->seconds * 1e9);
	unsigned procs = b->procs_now;
	size_t share = b->o->entries / procs;

	for (;;) {
		for (unsigned k = 0; k < CHECK_EVERY; k++, ops++) {
			size_t i = (next_random(&seed) % share) * procs + proc;

			if (!put_one(b, i, report_time(b, ops + 1)))
				out->failures++;
		}
		if (now_ns() - start >= limit)
			break;
	}
	out->ops = ops;
	out->seconds = (double)(now_ns() - start) / 1e9;
}

typedef void (*work_fn)(struct bench *, unsigned, struct tally *);

/* Runs fn in procs forked processes at once; sums their rates. */
static double run_parallel(struct bench *b, unsigned procs, work_fn fn,
			   uint64_t *bad)
{
	pid_t pids[MAX_PROCS];
	double rate = 0;
	struct tally *t;

	b->procs_now = procs;
	b->time_base += 1000000000;	/* past any time of the last run */
	t = mmap(NULL, sizeof *t * MAX_PROCS,
			       PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		perror("tablebench: mmap");
		exit(1);
	}
	memset(t, 0, sizeof *t * MAX_PROCS);
	for (unsigned p = 0; p < procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			perror("tablebench: fork");
			exit(1);
		}
		if (pids[p] == 0) {
			fn(b, p, &t[p]);
			_exit(0);
		}
	}
	for (unsigned p = 0; p < procs; p++) {
		int status;

		if (waitpid(pids[p], &status, 0) != pids[p] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "tablebench: worker %u failed\n", p);
			exit(1);
		}
		rate += t[p].seconds > 0 ? (double)t[p].ops / t[p].seconds : 0;
		*bad += t[p].misses + t[p].failures;
	}
	munmap(t, sizeof *t * MAX_PROCS);
	return rate;
}

/* The size of the mapping that starts at the table, from /proc/self/maps. */
static size_t mapping_size(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	size_t size = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			size = hi - lo;
			break;
		}
	}
	fclose(f);
	return size;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: tablebench [-n ENTRIES] [-t SECONDS] "
		"[-P PROCESSES] [-l MAX_CLIENT_LEN]\n");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int c;

	*o = (struct options){ .entries = 1000000, .seconds = 2, .procs = 2,
			       .client_max = 255 };
	while ((c = getopt(argc, argv, "n:t:P:l:h")) != -1) {
		switch (c) {
		case 'n': o->entries = strtoul(optarg, NULL, 10); break;
		case 't': o->seconds = strtod(optarg, NULL); break;
		case 'P': o->procs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': o->client_max = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (o->entries < 1 || o->entries > 50000000 ||
	    !(o->seconds > 0 && o->seconds <= 600) || o->procs < 1 ||
	    o->procs > MAX_PROCS || o->client_max < KEY_LEN ||
	    o->client_max > 1024 || optind != argc) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct bench b = { .o = &o };
	double fill_s, get1, getn, put1, putn;
	uint64_t bad = 0;
	size_t map;

	parse_options(argc, argv, &o);
	b.line_max = PROTO_AT_MAX(o.client_max);
	b.keys = make_keys(o.entries);
	b.table = table_create(o.entries, b.line_max);
	if (b.keys == NULL || b.table == NULL) {
		fprintf(stderr, "tablebench: cannot create a table of %zu: %s\n",
			o.entries, strerror(errno));
		return 1;
	}
	fill_s = fill(&b);
	get1 = run_parallel(&b, 1, run_lookups, &bad);
	getn = run_parallel(&b, o.procs, run_lookups, &bad);
	put1 = run_parallel(&b, 1, run_updates, &bad);
	putn = run_parallel(&b, o.procs, run_updates, &bad);
	map = mapping_size(b.table);
	printf("table: %zu entries, line_max %zu (max_client_len %zu), "
	       "count %zu\n", o.entries, b.line_max, o.client_max,
	       table_count(b.table));
	printf("fill:    %.0f inserts/s\n", (double)o.entries / fill_s);
	printf("lookups: %.0f/s (1 process), %.0f/s (%u processes)\n",
	       get1, getn, o.procs);
	printf("updates: %.0f/s (1 process), %.0f/s (%u processes)\n",
	       put1, putn, o.procs);
	printf("memory:  %zu bytes mapped, %.0f bytes per entry\n", map,
	       (double)map / (double)table_capacity(b.table));
	printf("RESULT mode=table entries=%zu procs=%u line_max=%zu "
	       "inserts_per_s=%.0f lookups_per_s_1=%.0f lookups_per_s_n=%.0f "
	       "updates_per_s_1=%.0f updates_per_s_n=%.0f map_bytes=%zu "
	       "bytes_per_entry=%.0f errors=%" PRIu64 "\n", o.entries,
	       o.procs, b.line_max, (double)o.entries / fill_s, get1, getn,
	       put1, putn, map, (double)map / (double)table_capacity(b.table),
	       bad);
	table_destroy(b.table);
	free(b.keys);
	return bad == 0 ? 0 : 1;
}
