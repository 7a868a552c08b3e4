/*
 * check_table.c - unit tests of the shared location table: the single-
 * process contract, then writers and readers in several processes, writers
 * killed at random instants, and writers racing on one client.
 *
 * Tests that fork reap every child before asserting anything, bound every
 * wait with a deadline, and make each child die with its parent
 * (PR_SET_PDEATHSIG) so that a failed test leaves nothing running.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "table.h"
#include "tap.h"

#define TEST_LINE_MAX 453	/* PROTO_AT_MAX(255), the server's default */

/* ---- helpers --------------------------------------------------------- */

static struct proto_time at(int64_t sec, int32_t nsec)
{
	return (struct proto_time){ .sec = sec, .nsec = nsec };
}

/*
 * "AT <writer> +0.000000000 <client> +1+1 <sec>.<nsec>": every line says
 * who wrote it, for which client, and with which time, so a reader can
 * check that what it got is self-consistent.  Returns the length;
 * *client_off (if not NULL) receives the client field's offset.
 */
static size_t make_line(char *buf, size_t cap, const char *writer,
			const char *client, struct proto_time tm,
			size_t *client_off)
{
	int head = snprintf(buf, cap, "AT %s +0.000000000 ", writer);
	int tail = snprintf(buf + head, cap - (size_t)head, "%s +1+1 %lld.%09d",
			    client, (long long)tm.sec, (int)tm.nsec);

	if (client_off != NULL)
		*client_off = (size_t)head;
	return (size_t)head + (size_t)tail;
}

static enum table_result put_report(struct table *t, const char *writer,
				    const char *client, struct proto_time tm,
				    uint64_t *change)
{
	char line[TEST_LINE_MAX];
	size_t off, len = make_line(line, sizeof line, writer, client, tm,
				    &off);

	return table_put(t, line + off, strlen(client), tm, line, len,
			 change);
}

struct parsed {
	char writer[320];
	char client[64];
	struct proto_time tm;
};

static bool parse_line(const char *line, size_t len, struct parsed *p)
{
	char buf[TEST_LINE_MAX + 1];
	long long sec;
	int nsec, end = -1;

	if (len >= sizeof buf)
		return false;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (sscanf(buf, "AT %319s +0.000000000 %63s +1+1 %lld.%9d%n",
		   p->writer, p->client, &sec, &nsec, &end) != 4 ||
	    end != (int)len)
		return false;
	p->tm = at(sec, nsec);
	return true;
}

/* Gets client's line as a NUL-terminated string; false if unknown. */
static bool get_line(struct table *t, const char *client, char *line,
		     size_t *len, struct proto_time *tm)
{
	if (!table_get(t, client, strlen(client), line, TEST_LINE_MAX, len,
		       tm))
		return false;
	line[*len] = '\0';
	return true;
}

/*
 * Writer names in lines the tests check are "P", or "W", an optional
 * number, and one letter repeated (changing with every write, so that a
 * torn copy shows as mixed letters).
 */
static bool name_whole(const char *name)
{
	const char *letters = name + 1 + strspn(name + 1, "0123456789");
	char letter[2] = { letters[0], '\0' };

	if (name[0] != 'W')
		return strcmp(name, "P") == 0;
	return strspn(letters, letter) == strlen(letters);
}

/* Checks that a line read for client, with time tm, is one that was
 * written whole for it. */
static bool line_consistent(const char *client, const char *line, size_t len,
			    struct proto_time tm)
{
	struct parsed p;

	return parse_line(line, len, &p) && strcmp(p.client, client) == 0 &&
	       p.tm.sec == tm.sec && p.tm.nsec == tm.nsec &&
	       name_whole(p.writer);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

/* ---- children ------------------------------------------------------- */

#define WHY_MAX 160

/* A child's failure: says why in shared memory, returns its exit code. */
static int failed(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, WHY_MAX, fmt, ap);
	va_end(ap);
	return 1;
}

#define KIDS_MAX 16
#define KID_LIFETIME_S 30	/* a child that outlives this is killed */

struct kids {
	pid_t pid[KIDS_MAX];
	int status[KIDS_MAX];
	int n;
};

/*
 * Forks a child that runs fn(arg, id) and exits with its result.  The child
 * dies with the test process and after KID_LIFETIME_S at the latest.
 */
static void spawn(struct kids *k, int (*fn)(void *, int), void *arg, int id)
{
	pid_t parent = getpid();
	pid_t pid;

	ck_assert_int_lt(k->n, KIDS_MAX);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(99);
		alarm(KID_LIFETIME_S);
		_exit(fn(arg, id));
	}
	k->pid[k->n++] = pid;
}

/*
 * Waits for every child until deadline (monotonic seconds), then kills
 * what is left.  Returns the number of children that exited with 0.
 */
static int reap(struct kids *k, double deadline)
{
	int done = 0, ok = 0;
	bool reaped[KIDS_MAX] = { false };

	while (done < k->n) {
		bool late = now_s() > deadline;

		for (int i = 0; i < k->n; i++) {
			if (reaped[i])
				continue;
			if (late)
				kill(k->pid[i], SIGKILL);
			if (waitpid(k->pid[i], &k->status[i],
				    late ? 0 : WNOHANG) == k->pid[i]) {
				reaped[i] = true;
				done++;
				ok += WIFEXITED(k->status[i]) &&
				      WEXITSTATUS(k->status[i]) == 0;
			}
		}
		if (done < k->n && !late)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return ok;
}

/* ---- single process ------------------------------------------------- */

START_TEST(test_put_get)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1], expect[TEST_LINE_MAX];
	struct proto_time tm;
	size_t len;
	uint64_t change = 0;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(put_report(t, "Riley", "kiwi.cs.ucla.edu",
				    at(1621464827, 959498503), &change),
			 TABLE_STORED);
	ck_assert_uint_eq(change, 1);
	ck_assert(get_line(t, "kiwi.cs.ucla.edu", line, &len, &tm));
	make_line(expect, sizeof expect, "Riley", "kiwi.cs.ucla.edu",
		  at(1621464827, 959498503), NULL);
	ck_assert_str_eq(line, expect);
	ck_assert_int_eq(tm.sec, 1621464827);
	ck_assert_int_eq(tm.nsec, 959498503);
	ck_assert(table_get(t, "kiwi.cs.ucla.edu", 16, line, sizeof line, &len,
			    NULL));
	ck_assert_uint_eq(table_count(t), 1);
	table_destroy(t);
}
END_TEST

START_TEST(test_unknown_key)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1];
	size_t len;

	ck_assert_ptr_nonnull(t);
	ck_assert(!get_line(t, "nobody", line, &len, NULL));
	ck_assert_int_eq(put_report(t, "W", "somebody", at(1, 0), NULL),
			 TABLE_STORED);
	ck_assert(!get_line(t, "nobody", line, &len, NULL));
	ck_assert(!get_line(t, "somebod", line, &len, NULL));
	ck_assert(!get_line(t, "somebody2", line, &len, NULL));
	ck_assert(!table_get(t, "", 0, line, sizeof line, &len, NULL));
	table_destroy(t);
}
END_TEST

START_TEST(test_stale)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1];
	struct proto_time tm;
	size_t len;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(put_report(t, "W", "c", at(10, 5), NULL),
			 TABLE_STORED);
	ck_assert_int_eq(put_report(t, "W", "c", at(10, 4), NULL),
			 TABLE_STALE);
	ck_assert_int_eq(put_report(t, "W", "c", at(9, 999999999), NULL),
			 TABLE_STALE);
	/* The identical report again. */
	ck_assert_int_eq(put_report(t, "W", "c", at(10, 5), NULL),
			 TABLE_STALE);
	ck_assert(get_line(t, "c", line, &len, &tm));
	ck_assert_int_eq(tm.sec, 10);
	ck_assert_int_eq(tm.nsec, 5);
	ck_assert_uint_eq(table_last_change(t), 1);
	table_destroy(t);
}
END_TEST

START_TEST(test_newer_replaces)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1], expect[TEST_LINE_MAX];
	struct proto_time tm;
	size_t len;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(put_report(t, "A", "c", at(10, 5), NULL),
			 TABLE_STORED);
	ck_assert_int_eq(put_report(t, "A", "c", at(10, 6), NULL),
			 TABLE_STORED);
	ck_assert(get_line(t, "c", line, &len, &tm));
	ck_assert_int_eq(tm.nsec, 6);
	ck_assert_int_eq(put_report(t, "A", "c", at(11, 0), NULL),
			 TABLE_STORED);
	ck_assert(get_line(t, "c", line, &len, &tm));
	make_line(expect, sizeof expect, "A", "c", at(11, 0), NULL);
	ck_assert_str_eq(line, expect);
	ck_assert_uint_eq(table_count(t), 1);
	table_destroy(t);
}
END_TEST

START_TEST(test_tie_break)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1];
	struct proto_time tm = at(7, 7);
	size_t len;

	ck_assert_ptr_nonnull(t);
	/* Same time: the bytewise greater line wins, in either order. */
	ck_assert_int_eq(put_report(t, "B", "x", tm, NULL), TABLE_STORED);
	ck_assert_int_eq(put_report(t, "A", "x", tm, NULL), TABLE_STALE);
	ck_assert_int_eq(put_report(t, "A", "y", tm, NULL), TABLE_STORED);
	ck_assert_int_eq(put_report(t, "B", "y", tm, NULL), TABLE_STORED);
	ck_assert(get_line(t, "x", line, &len, NULL));
	ck_assert_str_eq(line, "AT B +0.000000000 x +1+1 7.000000007");
	ck_assert(get_line(t, "y", line, &len, NULL));
	ck_assert_str_eq(line, "AT B +0.000000000 y +1+1 7.000000007");
	/* A line that extends the stored one is greater. */
	ck_assert_int_eq(table_put(t, "z", 1, tm, "AT z", 4, NULL),
			 TABLE_STORED);
	ck_assert_int_eq(table_put(t, "z", 1, tm, "AT z 1", 6, NULL),
			 TABLE_STORED);
	ck_assert_int_eq(table_put(t, "z", 1, tm, "AT z", 4, NULL),
			 TABLE_STALE);
	ck_assert(get_line(t, "z", line, &len, NULL));
	ck_assert_str_eq(line, "AT z 1");
	table_destroy(t);
}
END_TEST

START_TEST(test_change_numbers)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	uint64_t change = 0;

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(table_last_change(t), 0);
	ck_assert_int_eq(put_report(t, "W", "a", at(1, 0), &change),
			 TABLE_STORED);
	ck_assert_uint_eq(change, 1);
	ck_assert_int_eq(put_report(t, "W", "b", at(1, 0), &change),
			 TABLE_STORED);
	ck_assert_uint_eq(change, 2);
	change = 99;
	ck_assert_int_eq(put_report(t, "W", "a", at(0, 0), &change),
			 TABLE_STALE);
	ck_assert_uint_eq(change, 99);	/* untouched */
	ck_assert_int_eq(put_report(t, "W", "a", at(2, 0), &change),
			 TABLE_STORED);
	ck_assert_uint_eq(change, 3);
	ck_assert_int_eq(put_report(t, "W", "b", at(2, 0), NULL),
			 TABLE_STORED);
	ck_assert_uint_eq(table_last_change(t), 4);
	ck_assert_uint_eq(table_count(t), 2);
	table_destroy(t);
}
END_TEST

START_TEST(test_full)
{
	struct table *t = table_create(100, TEST_LINE_MAX);
	char client[32], line[TEST_LINE_MAX + 1];
	size_t len;
	uint64_t change;

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(table_capacity(t), 100);
	for (int i = 0; i < 100; i++) {
		snprintf(client, sizeof client, "client%d", i);
		ck_assert_int_eq(put_report(t, "W", client, at(1, 0), NULL),
				 TABLE_STORED);
	}
	ck_assert_uint_eq(table_count(t), 100);
	ck_assert_int_eq(put_report(t, "W", "client100", at(1, 0), NULL),
			 TABLE_FULL);
	ck_assert(!get_line(t, "client100", line, &len, NULL));
	ck_assert_uint_eq(table_count(t), 100);
	ck_assert_uint_eq(table_last_change(t), 100);	/* FULL took none */
	/* Known clients still move when the table is full. */
	for (int i = 0; i < 100; i++) {
		snprintf(client, sizeof client, "client%d", i);
		ck_assert_int_eq(put_report(t, "W", client, at(2, 0), &change),
				 TABLE_STORED);
		ck_assert_uint_eq(change, 101 + (unsigned)i);
	}
	ck_assert(get_line(t, "client42", line, &len, NULL));
	ck_assert(line_consistent("client42", line, len, at(2, 0)));
	table_destroy(t);
}
END_TEST

START_TEST(test_invalid)
{
	struct table *t = table_create(16, 40);
	char line[64];
	size_t len;

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(table_line_max(t), 40);
	memset(line, 'x', sizeof line);
	memcpy(line, "AT c", 4);
	/* Exactly line_max fits; one more byte does not. */
	ck_assert_int_eq(table_put(t, line + 3, 1, at(1, 0), line, 40, NULL),
			 TABLE_STORED);
	ck_assert_int_eq(table_put(t, line + 3, 1, at(2, 0), line, 41, NULL),
			 TABLE_INVALID);
	/* The client must occur in the line, and not be empty. */
	ck_assert_int_eq(table_put(t, "q", 1, at(1, 0), "AT c", 4, NULL),
			 TABLE_INVALID);
	ck_assert_int_eq(table_put(t, "AT c!", 5, at(1, 0), "AT c", 4, NULL),
			 TABLE_INVALID);
	ck_assert_int_eq(table_put(t, line, 0, at(1, 0), line, 4, NULL),
			 TABLE_INVALID);
	ck_assert_uint_eq(table_last_change(t), 1);
	ck_assert_uint_eq(table_count(t), 1);
	ck_assert(table_get(t, "c", 1, line, sizeof line, &len, NULL));
	ck_assert_uint_eq(len, 40);
	/* Bad geometry. */
	errno = 0;
	ck_assert_ptr_null(table_create(0, 40));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(table_create(16, 0));
	ck_assert_ptr_null(table_create(SIZE_MAX / 2, 40));
	table_destroy(t);
}
END_TEST

START_TEST(test_client_outside_line)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	const char *line = "AT Riley +0.1 bob +1+1 5.000000000";
	char key[] = "bob", got[TEST_LINE_MAX + 1];
	size_t len;

	ck_assert_ptr_nonnull(t);
	/* The key's bytes are in the line, but the pointer is elsewhere. */
	ck_assert_int_eq(table_put(t, key, 3, at(5, 0), line, strlen(line),
				   NULL), TABLE_STORED);
	key[0] = 'x';	/* the table must not keep the caller's pointer */
	ck_assert(get_line(t, "bob", got, &len, NULL));
	ck_assert_str_eq(got, line);
	ck_assert_int_eq(table_put(t, "bob", 3, at(5, 1), line, strlen(line),
				   NULL), TABLE_STORED);
	ck_assert_uint_eq(table_count(t), 1);
	table_destroy(t);
}
END_TEST

#define MANY 100000

START_TEST(test_many_keys)
{
	struct table *t = table_create(MANY, TEST_LINE_MAX);
	char client[32], line[TEST_LINE_MAX + 1];
	struct proto_time tm;
	size_t len;

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < MANY; i++) {
		snprintf(client, sizeof client, "c%d", i);
		ck_assert_int_eq(put_report(t, "W", client, at(i, i), NULL),
				 TABLE_STORED);
	}
	ck_assert_uint_eq(table_count(t), MANY);
	ck_assert_int_eq(put_report(t, "W", "one-more", at(1, 0), NULL),
			 TABLE_FULL);
	for (int i = 0; i < MANY; i++) {
		snprintf(client, sizeof client, "c%d", i);
		ck_assert_msg(get_line(t, client, line, &len, &tm),
			      "%s lost", client);
		ck_assert(line_consistent(client, line, len, at(i, i)));
	}
	table_destroy(t);
}
END_TEST

struct scan_log {
	int calls, stop_after;
	uint64_t changes[64];
	bool consistent;
};

static bool scan_visit(void *arg, const struct table_record *rec)
{
	struct scan_log *log = arg;
	struct parsed p;

	if (!parse_line(rec->line, rec->line_len, &p) ||
	    p.tm.sec != rec->tm.sec)
		log->consistent = false;
	if (log->calls < 64)
		log->changes[log->calls] = rec->change;
	log->calls++;
	return log->calls != log->stop_after;
}

START_TEST(test_scan)
{
	struct table *t = table_create(64, TEST_LINE_MAX);
	struct scan_log log = { .consistent = true };
	char client[32];
	uint64_t seen = 0;

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(table_scan(t, 0, scan_visit, &log), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(client, sizeof client, "s%d", i);
		ck_assert_int_eq(put_report(t, "W", client, at(i, 0), NULL),
				 TABLE_STORED);
	}
	ck_assert_uint_eq(table_scan(t, 0, scan_visit, &log), 10);
	ck_assert_int_eq(log.calls, 10);
	for (int i = 0; i < 10; i++)
		seen |= UINT64_C(1) << log.changes[i];
	ck_assert_uint_eq(seen, 0x7fe);	/* each of 1..10 exactly once */

	log = (struct scan_log){ .consistent = true };
	ck_assert_uint_eq(table_scan(t, 6, scan_visit, &log), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_gt(log.changes[i], 6);

	log = (struct scan_log){ .consistent = true, .stop_after = 3 };
	ck_assert_uint_eq(table_scan(t, 0, scan_visit, &log), 3);
	ck_assert_int_eq(log.calls, 3);

	/* An update moves its entry past the old watermark. */
	ck_assert_int_eq(put_report(t, "W", "s3", at(100, 0), NULL),
			 TABLE_STORED);
	log = (struct scan_log){ .consistent = true };
	ck_assert_uint_eq(table_scan(t, 10, scan_visit, &log), 1);
	ck_assert_uint_eq(log.changes[0], 11);
	ck_assert_uint_eq(table_scan(t, 11, scan_visit, &log), 0);
	ck_assert(log.consistent);
	table_destroy(t);
}
END_TEST

START_TEST(test_epoch)
{
	struct table *a = table_create(16, TEST_LINE_MAX);
	struct table *b = table_create(16, TEST_LINE_MAX);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ne(table_epoch(a), 0);
	ck_assert_uint_ne(table_epoch(b), 0);
	ck_assert_uint_ne(table_epoch(a), table_epoch(b));
	table_destroy(a);
	table_destroy(b);
}
END_TEST

/* ---- writers and readers in many processes --------------------------- */

#define RW_WRITERS 8
#define RW_READERS 2
#define RW_CLIENTS 64
#define RW_RUN_S 1	/* seconds */
#define RW_PAD 200

struct rw_report {
	char line[TEST_LINE_MAX];
	size_t len;
	struct proto_time tm;
};

struct rw_shared {
	struct table *t;
	_Atomic int go, stop;
	struct rw_report last[RW_WRITERS][RW_CLIENTS];	/* newest written */
	uint64_t stored[RW_WRITERS];
	uint64_t reads[RW_READERS];
	char why[RW_WRITERS + RW_READERS][WHY_MAX];
};

static void rw_client(char *buf, size_t cap, int c)
{
	snprintf(buf, cap, "client-%02d", c);
}

static void wait_go(_Atomic int *go)
{
	while (!atomic_load(go))
		sched_yield();
}

/*
 * Writes ever newer reports for every client, recording its newest.  The
 * writer's name is "W<w>" and then RW_PAD times a letter that changes with
 * every write, so that consecutive lines differ along their whole length
 * and a torn read cannot pass for a whole one.
 */
static int rw_writer(void *arg, int w)
{
	struct rw_shared *sh = arg;
	uint64_t next_sec[RW_CLIENTS] = { 0 }, last_change = 0;
	char writer[RW_PAD + 8], client[32];
	int name_len = snprintf(writer, sizeof writer, "W%d", w);

	writer[name_len + RW_PAD] = '\0';
	wait_go(&sh->go);
	for (unsigned j = 0; !atomic_load(&sh->stop); j++) {
		int c = (int)((j * 13 + (unsigned)w * 7) % RW_CLIENTS);
		struct rw_report *r = &sh->last[w][c];
		uint64_t change;

		memset(writer + name_len, 'a' + (int)(j % 26), RW_PAD);
		rw_client(client, sizeof client, c);
		r->tm = at((int64_t)++next_sec[c], 0);	/* ties across writers */
		r->len = make_line(r->line, sizeof r->line, writer, client,
				   r->tm, NULL);
		switch (put_report(sh->t, writer, client, r->tm, &change)) {
		case TABLE_STORED:
			if (change <= last_change)
				return failed(sh->why[w], "change %llu after "
					      "%llu", (unsigned long long)change,
					      (unsigned long long)last_change);
			last_change = change;
			sh->stored[w]++;
			break;
		case TABLE_STALE:
			break;
		default:
			return failed(sh->why[w], "put failed");
		}
	}
	return 0;
}

/* Reads every client in turn: self-consistent, and never going back. */
static int rw_reader(void *arg, int r)
{
	struct rw_shared *sh = arg;
	struct rw_report seen[RW_CLIENTS] = { 0 };
	char *why = sh->why[RW_WRITERS + r];
	char client[32], line[TEST_LINE_MAX + 1];

	wait_go(&sh->go);
	for (unsigned i = 0; !atomic_load(&sh->stop); i++) {
		int c = (int)(i % RW_CLIENTS);
		struct rw_report *old = &seen[c];
		struct proto_time tm;
		size_t len;

		rw_client(client, sizeof client, c);
		if (!get_line(sh->t, client, line, &len, &tm)) {
			if (old->len != 0)
				return failed(why, "%s vanished", client);
			continue;
		}
		if (!line_consistent(client, line, len, tm))
			return failed(why, "torn: %s", line);
		if (old->len != 0 && proto_newer(tm, line, len, old->tm,
						 old->line, old->len) < 0)
			return failed(why, "went back: %s", line);
		memcpy(old->line, line, len);
		old->len = len;
		old->tm = tm;
		sh->reads[r]++;
	}
	return 0;
}

/* The newest of all reports written for client c. */
static const struct rw_report *rw_newest(const struct rw_shared *sh, int c)
{
	const struct rw_report *best = NULL;

	for (int w = 0; w < RW_WRITERS; w++) {
		const struct rw_report *r = &sh->last[w][c];

		if (r->len != 0 && (best == NULL ||
				    proto_newer(r->tm, r->line, r->len, best->tm,
						best->line, best->len) > 0))
			best = r;
	}
	return best;
}

START_TEST(test_readers_writers)
{
	struct rw_shared *sh = shared_alloc(sizeof *sh);
	struct kids kids = { .n = 0 };
	char client[32], line[TEST_LINE_MAX + 1];
	uint64_t stored = 0;
	int ok;

	sh->t = table_create(1024, TEST_LINE_MAX);
	ck_assert_ptr_nonnull(sh->t);
	for (int w = 0; w < RW_WRITERS; w++)
		spawn(&kids, rw_writer, sh, w);
	for (int r = 0; r < RW_READERS; r++)
		spawn(&kids, rw_reader, sh, r);
	atomic_store(&sh->go, 1);
	nanosleep(&(struct timespec){ RW_RUN_S, 0 }, NULL);
	atomic_store(&sh->stop, 1);
	ok = reap(&kids, now_s() + 10);
	for (int i = 0; i < RW_WRITERS + RW_READERS; i++)
		ck_assert_msg(sh->why[i][0] == '\0', "child %d: %s", i,
			      sh->why[i]);
	ck_assert_int_eq(ok, kids.n);
	for (int c = 0; c < RW_CLIENTS; c++) {
		const struct rw_report *best = rw_newest(sh, c);
		size_t len;

		rw_client(client, sizeof client, c);
		ck_assert_ptr_nonnull(best);
		ck_assert(get_line(sh->t, client, line, &len, NULL));
		ck_assert_str_eq(line, best->line);
	}
	for (int w = 0; w < RW_WRITERS; w++)
		stored += sh->stored[w];
	ck_assert_uint_eq(table_last_change(sh->t), stored);
	ck_assert_uint_eq(table_count(sh->t), RW_CLIENTS);
	for (int r = 0; r < RW_READERS; r++)
		ck_assert_uint_gt(sh->reads[r], 1000);
	table_destroy(sh->t);
	munmap(sh, sizeof *sh);
}
END_TEST

/* ---- writers racing on one client ------------------------------------ */

#define RACE_WRITERS 4
#define RACE_WRITES 100000

struct race_shared {
	struct table *t;
	_Atomic int go;
	uint64_t stored[RACE_WRITERS];
};

/*
 * Writer w writes times w, w + N, w + 2N, ... for client "spread" (each
 * time once across writers), and the same times as everybody for client
 * "tied" (ties broken by the writer's name in the line).
 */
static int race_writer(void *arg, int w)
{
	struct race_shared *sh = arg;
	char writer[16];

	snprintf(writer, sizeof writer, "W%d", w);
	wait_go(&sh->go);
	for (int k = 0; k < RACE_WRITES; k++) {
		struct proto_time spread = at(k * RACE_WRITERS + w, 0);
		enum table_result a = put_report(sh->t, writer, "spread",
						 spread, NULL);
		enum table_result b = put_report(sh->t, writer, "tied",
						 at(k, 0), NULL);

		if (a > TABLE_STALE || b > TABLE_STALE)
			return 1;
		sh->stored[w] += (a == TABLE_STORED) + (b == TABLE_STORED);
	}
	return 0;
}

START_TEST(test_newer_race)
{
	struct race_shared *sh = shared_alloc(sizeof *sh);
	struct kids kids = { .n = 0 };
	char line[TEST_LINE_MAX + 1], expect[TEST_LINE_MAX];
	size_t len;
	uint64_t stored = 0;
	int last = RACE_WRITES - 1;

	sh->t = table_create(16, TEST_LINE_MAX);
	ck_assert_ptr_nonnull(sh->t);
	for (int w = 0; w < RACE_WRITERS; w++)
		spawn(&kids, race_writer, sh, w);
	atomic_store(&sh->go, 1);
	ck_assert_int_eq(reap(&kids, now_s() + 20), RACE_WRITERS);

	ck_assert(get_line(sh->t, "spread", line, &len, NULL));
	make_line(expect, sizeof expect, "W3", "spread",
		  at(last * RACE_WRITERS + RACE_WRITERS - 1, 0), NULL);
	ck_assert_str_eq(line, expect);
	ck_assert(get_line(sh->t, "tied", line, &len, NULL));
	make_line(expect, sizeof expect, "W3", "tied", at(last, 0), NULL);
	ck_assert_str_eq(line, expect);
	for (int w = 0; w < RACE_WRITERS; w++)
		stored += sh->stored[w];
	ck_assert_uint_eq(table_last_change(sh->t), stored);
	ck_assert_uint_eq(table_count(sh->t), 2);
	table_destroy(sh->t);
	munmap(sh, sizeof *sh);
}
END_TEST

/* ---- writers killed at random instants -------------------------------- */

#define CRASH_TABLES 10		/* a fresh table every */
#define CRASH_ROUNDS 20		/* rounds (each a writer killed) */
#define CRASH_HOT 4		/* keys every round's writer hammers */
#define CRASH_FRESH 1024	/* new keys each round's writer inserts, */
#define CRASH_FRESH_EVERY 4	/* one every this many writes */
#define CRASH_PAD 300		/* letters in the writer's name */
#define CRASH_SPAN 10000000	/* client seconds per round */
#define CRASH_CHECK_S 5		/* a check that takes longer has hung */

struct crash_shared {
	struct table *t;
	_Atomic int started;	/* the writer's first put is done */
};

static void hot_name(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "hot%d", i);
}

static void fresh_name(char *buf, size_t cap, int round, int i)
{
	snprintf(buf, cap, "r%dk%d", round, i);
}

static bool count_visit(void *arg, const struct table_record *rec)
{
	(void)rec;
	++*(size_t *)arg;
	return true;
}

/* Counts the entries that are self-consistent. */
static bool consistent_visit(void *arg, const struct table_record *rec)
{
	struct parsed p;

	*(size_t *)arg += parse_line(rec->line, rec->line_len, &p) &&
			  p.tm.sec == rec->tm.sec && p.tm.nsec == rec->tm.nsec &&
			  name_whole(p.writer);
	return true;
}

/*
 * One key's line for the crash writer: "AT W<CRASH_PAD times one letter>
 * ... <seconds>".  Each put rewrites the letters (a different one each
 * time) and the fixed-width seconds in place, so that consecutive lines
 * differ from end to end (a torn copy shows as a mixed name or a time that
 * is not the entry's), and so that formatting costs little next to
 * table_put (most kills then land inside one).
 */
struct crash_line {
	char buf[TEST_LINE_MAX];
	size_t len, client_off, client_len, sec_off;
};

#define CRASH_SEC_DIGITS 12
#define CRASH_NAME_OFF 4	/* after "AT W" */

static void crash_line_init(struct crash_line *l, const char *client)
{
	char writer[CRASH_PAD + 2] = "W";

	memset(writer + 1, 'a', CRASH_PAD);
	writer[CRASH_PAD + 1] = '\0';
	l->len = make_line(l->buf, sizeof l->buf, writer, client,
			   at(100000000000, 0), &l->client_off);
	l->client_len = strlen(client);
	l->sec_off = l->len - 10 - CRASH_SEC_DIGITS;
}

static enum table_result crash_put(struct table *t, struct crash_line *l,
				   int64_t sec)
{
	int64_t rest = sec;

	memset(l->buf + CRASH_NAME_OFF, 'a' + (int)(sec % 26), CRASH_PAD);
	for (int i = CRASH_SEC_DIGITS - 1; i >= 0; i--, rest /= 10)
		l->buf[l->sec_off + (size_t)i] = (char)('0' + rest % 10);
	return table_put(t, l->buf + l->client_off, l->client_len,
			 at(sec, 0), l->buf, l->len, NULL);
}

/*
 * Writes in a tight loop, mostly updates of the hot keys (so it nearly
 * always holds a lock), with an insertion every CRASH_FRESH_EVERY writes
 * at first.  Times grow, so every put must be STORED.  Returns only if
 * never killed.
 */
static int crash_writer(void *arg, int round)
{
	struct crash_shared *sh = arg;
	struct crash_line hot[CRASH_HOT], fresh;
	char client[32];

	for (int i = 0; i < CRASH_HOT; i++) {
		hot_name(client, sizeof client, i);
		crash_line_init(&hot[i], client);
	}
	/* A forked child faults the shared pages in afresh: do it now, or
	 * insertions spend their time, and catch most kills, in page faults
	 * while probing. */
	table_scan(sh->t, 0, count_visit, &(size_t){ 0 });
	for (int64_t j = 0; j < CRASH_SPAN - 1; j++) {
		struct crash_line *l = &hot[j % CRASH_HOT];

		if (j % CRASH_FRESH_EVERY == 0 &&
		    j / CRASH_FRESH_EVERY < CRASH_FRESH) {
			fresh_name(client, sizeof client, round,
				   (int)(j / CRASH_FRESH_EVERY));
			crash_line_init(&fresh, client);
			l = &fresh;
		}
		if (crash_put(sh->t, l, (int64_t)round * CRASH_SPAN + j) !=
		    TABLE_STORED)
			return 3;
		atomic_store_explicit(&sh->started, 1, memory_order_relaxed);
	}
	return 2;
}

/* Reads every key the dead writer may have touched; counts fresh ones. */
static int crash_check_reads(struct table *t, int round,
			     struct rw_report *hot_seen)
{
	char client[32], line[TEST_LINE_MAX + 1];
	struct proto_time tm;
	size_t len;
	int fresh = 0;

	for (int i = 0; i < CRASH_HOT; i++) {
		struct rw_report *old = &hot_seen[i];

		hot_name(client, sizeof client, i);
		ck_assert_msg(get_line(t, client, line, &len, &tm),
			      "round %d: %s lost", round, client);
		ck_assert_msg(line_consistent(client, line, len, tm),
			      "round %d: torn %s", round, line);
		ck_assert_msg(proto_newer(tm, line, len, old->tm, old->line,
					  old->len) >= 0,
			      "round %d: %s went back", round, client);
		memcpy(old->line, line, len);
		old->len = len;
		old->tm = tm;
	}
	for (; fresh < CRASH_FRESH; fresh++) {
		fresh_name(client, sizeof client, round, fresh);
		if (!get_line(t, client, line, &len, &tm))
			break;
		ck_assert_msg(line_consistent(client, line, len, tm),
			      "round %d: torn %s", round, line);
	}
	return fresh;
}

/* Writes a newer report for client, and checks it is the one read back
 * and that an older one is refused. */
static void crash_check_write(struct table *t, int round, const char *client)
{
	struct proto_time newest = at((int64_t)round * CRASH_SPAN +
				      CRASH_SPAN - 1, 0);
	char line[TEST_LINE_MAX + 1], expect[TEST_LINE_MAX];
	size_t len;

	ck_assert_int_eq(put_report(t, "P", client, newest, NULL),
			 TABLE_STORED);
	ck_assert_int_eq(put_report(t, "P", client, at(0, 0), NULL),
			 TABLE_STALE);
	ck_assert(get_line(t, client, line, &len, NULL));
	make_line(expect, sizeof expect, "P", client, newest, NULL);
	ck_assert_str_eq(line, expect);
}

/*
 * Writes to every key whose lock the writer may have died holding: the hot
 * keys, the last fresh key it inserted, and the one it was inserting (the
 * count lock is only ever held with that key's lock).  Taking those locks
 * repairs whatever it left half done.  Returns the number of fresh keys
 * the table now holds.
 */
static int crash_check_writes(struct table *t, int round, int fresh)
{
	char client[32];
	int last = fresh < CRASH_FRESH ? fresh : CRASH_FRESH - 1;

	for (int i = 0; i < CRASH_HOT; i++) {
		hot_name(client, sizeof client, i);
		crash_check_write(t, round, client);
	}
	for (int i = fresh > 0 ? fresh - 1 : 0; i <= last; i++) {
		fresh_name(client, sizeof client, round, i);
		crash_check_write(t, round, client);
	}
	return last + 1;
}

static void crash_round(struct crash_shared *sh, int round, size_t *keys,
			struct rw_report *hot_seen)
{
	struct kids kids = { .n = 0 };
	struct table *t = sh->t;
	int fresh;
	size_t scanned = 0;

	atomic_store(&sh->started, 0);
	spawn(&kids, crash_writer, sh, round);
	for (double end = now_s() + 2; !atomic_load(&sh->started) &&
	     now_s() < end;)
		sched_yield();
	nanosleep(&(struct timespec){ 0, random() % 2000000 }, NULL);
	kill(kids.pid[0], SIGKILL);
	reap(&kids, now_s() + 2);
	ck_assert_msg(WIFSIGNALED(kids.status[0]) &&
		      WTERMSIG(kids.status[0]) == SIGKILL,
		      "round %d: writer was not killed mid-run (status %#x)",
		      round, kids.status[0]);

	alarm(CRASH_CHECK_S);	/* a hang in a read or a lock fails the test */
	fresh = crash_check_reads(t, round, hot_seen);
	*keys += (size_t)crash_check_writes(t, round, fresh);
	ck_assert_uint_eq(table_count(t), *keys);
	ck_assert_uint_eq(table_scan(t, 0, count_visit, &scanned), *keys);
	ck_assert_uint_eq(scanned, *keys);
	alarm(0);
}

/* CRASH_ROUNDS rounds of killing a writer, on one new table. */
static void crash_table(struct crash_shared *sh, int first_round)
{
	struct rw_report hot_seen[CRASH_HOT] = { 0 };
	size_t keys = CRASH_HOT, good = 0;
	char client[32];

	sh->t = table_create(CRASH_HOT + CRASH_ROUNDS * CRASH_FRESH,
			     TEST_LINE_MAX);
	ck_assert_ptr_nonnull(sh->t);
	for (int i = 0; i < CRASH_HOT; i++) {
		hot_name(client, sizeof client, i);
		ck_assert_int_eq(put_report(sh->t, "P", client, at(0, 0), NULL),
				 TABLE_STORED);
	}
	for (int round = first_round; round < first_round + CRASH_ROUNDS;
	     round++)
		crash_round(sh, round, &keys, hot_seen);
	ck_assert_uint_eq(table_scan(sh->t, 0, consistent_visit, &good), keys);
	ck_assert_uint_eq(good, keys);
	table_destroy(sh->t);
}

/* SIGALRM during a check: a get or a put hung on what the writer left. */
static void crash_hung(int sig)
{
	static const char msg[] = "check_table: a get or put hung after a "
				  "writer was killed\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
		_exit(3);
	_exit(3);
}

START_TEST(test_crash_recovery)
{
	struct crash_shared *sh = shared_alloc(sizeof *sh);

	/* Check's own SIGALRM handler, inherited by the test process, would
	 * report a hang as a mere SIGKILL. */
	signal(SIGALRM, crash_hung);
	srandom((unsigned)getpid());
	for (int i = 0; i < CRASH_TABLES; i++)
		crash_table(sh, 1 + i * CRASH_ROUNDS);
	munmap(sh, sizeof *sh);
}
END_TEST

/* ---- change ring, chunked scans, wake-ups, watermarks ------------------- */

START_TEST(test_ring_reads_changes_in_order)
{
	struct table *t = table_create(64, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1];
	struct table_record rec;
	uint64_t change;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(table_read_change(t, 1, line, sizeof line, &rec),
			 TABLE_CHANGE_FUTURE);
	put_report(t, "P", "a", at(10, 0), &change);
	put_report(t, "P", "b", at(10, 0), &change);
	put_report(t, "P", "a", at(11, 0), &change);
	ck_assert_uint_eq(change, 3);
	/* Change 1 was a's first report; a has moved on to change 3. */
	ck_assert_int_eq(table_read_change(t, 1, line, sizeof line, &rec),
			 TABLE_CHANGE_SUPERSEDED);
	ck_assert_int_eq(table_read_change(t, 2, line, sizeof line, &rec),
			 TABLE_CHANGE_OK);
	ck_assert_uint_eq(rec.change, 2);
	ck_assert_uint_eq(rec.source, TABLE_SOURCE_LOCAL);
	ck_assert(rec.line_len > 0 && memmem(rec.line, rec.line_len, " b ", 3));
	ck_assert_int_eq(table_read_change(t, 3, line, sizeof line, &rec),
			 TABLE_CHANGE_OK);
	ck_assert_int_eq(rec.tm.sec, 11);
	ck_assert_int_eq(table_read_change(t, 4, line, sizeof line, &rec),
			 TABLE_CHANGE_FUTURE);
	table_destroy(t);
}
END_TEST

START_TEST(test_ring_reports_lost_changes)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1];
	struct table_record rec;
	uint64_t change = 0;

	ck_assert_ptr_nonnull(t);
	for (int i = 1; i <= 70000; i++)
		ck_assert_int_eq(put_report(t, "P", "k", at(i, 0), &change),
				 TABLE_STORED);
	ck_assert_int_eq(table_read_change(t, 1, line, sizeof line, &rec),
			 TABLE_CHANGE_LOST);
	ck_assert_int_eq(table_read_change(t, change, line, sizeof line,
					   &rec), TABLE_CHANGE_OK);
	ck_assert_int_eq(rec.tm.sec, 70000);
	table_destroy(t);
}
END_TEST

START_TEST(test_put_from_records_source)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	char line[TEST_LINE_MAX + 1], text[TEST_LINE_MAX];
	struct table_record rec;
	size_t off, len = make_line(text, sizeof text, "P", "c", at(5, 0), &off);
	uint64_t change;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(table_put_from(t, text + off, 1, at(5, 0), text, len,
					7, &change), TABLE_STORED);
	ck_assert_int_eq(table_read_change(t, change, line, sizeof line, &rec),
			 TABLE_CHANGE_OK);
	ck_assert_uint_eq(rec.source, 7);
	table_destroy(t);
}
END_TEST

static bool collect_change(void *arg, const struct table_record *rec)
{
	uint64_t *sum = arg;

	*sum += rec->change;
	return true;
}

START_TEST(test_scan_in_chunks_equals_whole_scan)
{
	struct table *t = table_create(1000, TEST_LINE_MAX);
	uint64_t whole = 0, chunked = 0;
	size_t pos = 0, visited = 0;
	char client[32];

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 1000; i++) {
		snprintf(client, sizeof client, "c%d", i);
		put_report(t, "P", client, at(1, 0), NULL);
	}
	ck_assert_uint_eq(table_scan(t, 500, collect_change, &whole), 500);
	while (pos < table_slots(t))
		visited += table_scan_slots(t, &pos, 37, 500, collect_change,
					    &chunked);
	ck_assert_uint_eq(visited, 500);
	ck_assert_uint_eq(chunked, whole);
	ck_assert_uint_eq(whole, (501 + 1000) * 500 / 2);
	table_destroy(t);
}
END_TEST

static uint64_t eventfd_pending(int fd)
{
	uint64_t n = 0;

	return read(fd, &n, sizeof n) == sizeof n ? n : 0;
}

/*
 * Minor page faults a freshly forked process takes storing n clients
 * (named from first on), after table_prefault() if prefault.
 */
static long faults_storing(struct table *t, bool prefault, int first, int n)
{
	int fds[2];
	long faults = -1;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rusage before, after;
		char client[32];

		if (prefault && table_prefault(t) != 0)
			_exit(1);
		getrusage(RUSAGE_SELF, &before);
		for (int i = first; i < first + n; i++) {
			snprintf(client, sizeof client, "c%d", i);
			put_report(t, "P", client, at(1, 0), NULL);
		}
		getrusage(RUSAGE_SELF, &after);
		faults = after.ru_minflt - before.ru_minflt;
		_exit(write(fds[1], &faults, sizeof faults) == sizeof faults ?
		      0 : 1);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &faults, sizeof faults), sizeof faults);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	return faults;
}

START_TEST(test_prefault_maps_every_page)
{
	struct table *t = table_create(20000, TEST_LINE_MAX);
	long cold, warm;

	ck_assert_ptr_nonnull(t);
	cold = faults_storing(t, false, 0, 2000);
	warm = faults_storing(t, true, 2000, 2000);

	/* The control shows that the count sees the table's faults at all.
	 * Some stay: the child's own stack and heap and, in a sanitizer
	 * build, the shadow of the table (a page per eight of it). */
	ck_assert_int_gt(cold, 100);
	ck_assert_int_lt(warm * 4, cold);
	table_destroy(t);
}
END_TEST

START_TEST(test_flooder_wake_protocol)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	int fd = eventfd(0, EFD_NONBLOCK);

	ck_assert_ptr_nonnull(t);
	ck_assert_int_ge(fd, 0);
	put_report(t, "P", "a", at(1, 0), NULL);
	table_wake_flooder(t, fd);	/* flooder not waiting: no write */
	ck_assert_uint_eq(eventfd_pending(fd), 0);
	ck_assert(!table_flooder_sleep(t, 0));	/* change 1 is unseen */
	ck_assert(table_flooder_sleep(t, 1));
	put_report(t, "P", "b", at(1, 0), NULL);
	table_wake_flooder(t, fd);
	table_wake_flooder(t, fd);	/* coalesced into one wake-up */
	ck_assert_uint_eq(eventfd_pending(fd), 1);
	close(fd);
	table_destroy(t);
}
END_TEST

START_TEST(test_watermarks)
{
	struct table *t = table_create(16, TEST_LINE_MAX);
	uint64_t epoch, change;

	ck_assert_ptr_nonnull(t);
	table_get_watermark(t, "Riley", &epoch, &change);
	ck_assert_uint_eq(epoch, 0);
	ck_assert_uint_eq(change, 0);
	table_set_watermark(t, "Riley", 0xabc, 42);
	table_set_watermark(t, "Jaquez", 0xdef, 7);
	table_get_watermark(t, "Riley", &epoch, &change);
	ck_assert_uint_eq(epoch, 0xabc);
	ck_assert_uint_eq(change, 42);
	table_set_watermark(t, "Riley", 0x123, 3);
	table_get_watermark(t, "Riley", &epoch, &change);
	ck_assert_uint_eq(epoch, 0x123);
	ck_assert_uint_eq(change, 3);
	table_get_watermark(t, "Jaquez", &epoch, &change);
	ck_assert_uint_eq(change, 7);
	table_destroy(t);
}
END_TEST

static Suite *table_suite(void)
{
	Suite *s = suite_create("table");
	TCase *basic = tcase_create("basic");
	TCase *procs = tcase_create("processes");

	tcase_set_timeout(basic, 30);
	tcase_add_test(basic, test_put_get);
	tcase_add_test(basic, test_unknown_key);
	tcase_add_test(basic, test_stale);
	tcase_add_test(basic, test_newer_replaces);
	tcase_add_test(basic, test_tie_break);
	tcase_add_test(basic, test_change_numbers);
	tcase_add_test(basic, test_full);
	tcase_add_test(basic, test_invalid);
	tcase_add_test(basic, test_client_outside_line);
	tcase_add_test(basic, test_many_keys);
	tcase_add_test(basic, test_scan);
	tcase_add_test(basic, test_epoch);
	tcase_add_test(basic, test_ring_reads_changes_in_order);
	tcase_add_test(basic, test_ring_reports_lost_changes);
	tcase_add_test(basic, test_put_from_records_source);
	tcase_add_test(basic, test_scan_in_chunks_equals_whole_scan);
	tcase_add_test(basic, test_flooder_wake_protocol);
	tcase_add_test(basic, test_prefault_maps_every_page);
	tcase_add_test(basic, test_watermarks);
	suite_add_tcase(s, basic);

	tcase_set_timeout(procs, 60);
	tcase_add_test(procs, test_readers_writers);
	tcase_add_test(procs, test_newer_race);
	tcase_add_test(procs, test_crash_recovery);
	suite_add_tcase(s, procs);
	return s;
}

int main(void)
{
	return tap_run(table_suite());
}
