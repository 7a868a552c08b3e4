/*
 * check_snapshot.c - the table on disk: round trips, and refusal of every
 * damaged file without touching the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"
#include "table.h"
#include "tap.h"

#define LINE_MAX_TEST PROTO_AT_MAX(255)

static const struct proto_limits lim = { .max_client_len = 255 };
static char path[64];

static void fresh_path(void)
{
	snprintf(path, sizeof path, "/tmp/check_snapshot.%ld.snap",
		 (long)getpid());
	unlink(path);
}

static void put(struct table *t, const char *client, long sec,
		unsigned source)
{
	char line[256];
	int n = snprintf(line, sizeof line, "AT Riley +0.000000001 %s "
			 "+34.068930-118.445127 %ld.5", client, sec);
	struct proto_cmd cmd;

	ck_assert_int_eq(proto_parse(line, (size_t)n, &lim, &cmd), PROTO_AT);
	ck_assert_int_eq(table_put_from(t, cmd.client.p, cmd.client.len, cmd.t,
					line, (size_t)n, source, NULL),
			 TABLE_STORED);
}

static struct table *filled(size_t n)
{
	struct table *t = table_create(1000, LINE_MAX_TEST);
	char client[32];

	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < n; i++) {
		snprintf(client, sizeof client, "c%zu", i);
		put(t, client, 1700000000 + (long)i, i % 2 ? 3 : TABLE_SOURCE_LOCAL);
	}
	table_set_watermark(t, "Jaquez", 0xabcdef, 77);
	return t;
}

START_TEST(test_round_trip)
{
	struct table *a = filled(500), *b = table_create(1000, LINE_MAX_TEST);
	char err[256], la[512], lb[512];
	uint64_t epoch, change;
	size_t na, nb;

	fresh_path();
	ck_assert_int_eq(snapshot_write(a, path, err, sizeof err), 500);
	ck_assert_int_eq(snapshot_load(b, path, &lim, err, sizeof err), 500);
	ck_assert_uint_eq(table_count(b), 500);
	for (int i = 0; i < 500; i += 7) {
		char client[32];

		snprintf(client, sizeof client, "c%d", i);
		ck_assert(table_get(a, client, strlen(client), la, sizeof la,
				    &na, NULL));
		ck_assert(table_get(b, client, strlen(client), lb, sizeof lb,
				    &nb, NULL));
		ck_assert_uint_eq(na, nb);
		ck_assert(memcmp(la, lb, na) == 0);
	}
	table_get_watermark(b, "Jaquez", &epoch, &change);
	ck_assert_uint_eq(epoch, 0xabcdef);
	ck_assert_uint_eq(change, 77);
	unlink(path);
	table_destroy(a);
	table_destroy(b);
}
END_TEST

START_TEST(test_missing_file_is_empty_start)
{
	struct table *t = table_create(10, LINE_MAX_TEST);
	char err[256];

	fresh_path();
	ck_assert_int_eq(snapshot_load(t, path, &lim, err, sizeof err), 0);
	ck_assert_uint_eq(table_count(t), 0);
	table_destroy(t);
}
END_TEST

static long file_size(void)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

static void flip_byte(long at)
{
	FILE *f = fopen(path, "r+b");
	int c;

	ck_assert_ptr_nonnull(f);
	fseek(f, at, SEEK_SET);
	c = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
}

/* Every damaged copy is refused and leaves the table empty. */
static void assert_refused(void)
{
	struct table *t = table_create(1000, LINE_MAX_TEST);
	char err[256] = "";

	ck_assert_int_eq(snapshot_load(t, path, &lim, err, sizeof err), -1);
	ck_assert(strstr(err, "corrupt") != NULL);
	ck_assert_uint_eq(table_count(t), 0);
	table_destroy(t);
}

START_TEST(test_any_flipped_byte_is_refused)
{
	struct table *a = filled(50);
	char err[256];
	long size;

	fresh_path();
	ck_assert_int_ge(snapshot_write(a, path, err, sizeof err), 0);
	size = file_size();
	for (long at = 0; at < size; at += 97) {
		flip_byte(at);
		assert_refused();
		flip_byte(at);	/* back to good */
	}
	unlink(path);
	table_destroy(a);
}
END_TEST

START_TEST(test_truncated_file_is_refused)
{
	struct table *a = filled(50);
	char err[256];
	long size;

	fresh_path();
	ck_assert_int_ge(snapshot_write(a, path, err, sizeof err), 0);
	size = file_size();
	for (long cut = 0; cut < size; cut += size / 9 + 1) {
		ck_assert_int_eq(truncate(path, cut), 0);
		assert_refused();
		ck_assert_int_ge(snapshot_write(a, path, err, sizeof err), 0);
	}
	unlink(path);
	table_destroy(a);
}
END_TEST

START_TEST(test_write_replaces_atomically)
{
	struct table *a = filled(10), *b = filled(20);
	struct table *c = table_create(1000, LINE_MAX_TEST);
	char err[256], tmp[80];

	fresh_path();
	ck_assert_int_eq(snapshot_write(a, path, err, sizeof err), 10);
	ck_assert_int_eq(snapshot_write(b, path, err, sizeof err), 20);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	ck_assert_int_ne(access(tmp, F_OK), 0);	/* no temp file left */
	ck_assert_int_eq(snapshot_load(c, path, &lim, err, sizeof err), 20);
	unlink(path);
	table_destroy(a);
	table_destroy(b);
	table_destroy(c);
}
END_TEST

START_TEST(test_unwritable_directory_reports)
{
	struct table *a = filled(3);
	char err[256] = "";

	ck_assert_int_eq(snapshot_write(a, "/nonexistent/dir/x.snap", err,
					sizeof err), -1);
	ck_assert(strstr(err, "/nonexistent/dir/x.snap") != NULL);
	table_destroy(a);
}
END_TEST

START_TEST(test_smaller_table_reports_what_did_not_fit)
{
	struct table *a = filled(500), *small = table_create(100, LINE_MAX_TEST);
	char err[256] = "x";

	fresh_path();
	ck_assert_int_eq(snapshot_write(a, path, err, sizeof err), 500);
	ck_assert_int_eq(snapshot_load(small, path, &lim, err, sizeof err), 100);
	ck_assert(strstr(err, "400 entries did not fit") != NULL);
	unlink(path);
	table_destroy(a);
	table_destroy(small);
}
END_TEST

START_TEST(test_clean_load_leaves_no_message)
{
	struct table *a = filled(5), *b = table_create(10, LINE_MAX_TEST);
	char err[256] = "stale";

	fresh_path();
	ck_assert_int_eq(snapshot_write(a, path, err, sizeof err), 5);
	ck_assert_int_eq(snapshot_load(b, path, &lim, err, sizeof err), 5);
	ck_assert_str_eq(err, "");
	unlink(path);
	table_destroy(a);
	table_destroy(b);
}
END_TEST

static Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("snapshot");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_missing_file_is_empty_start);
	tcase_add_test(tc, test_any_flipped_byte_is_refused);
	tcase_add_test(tc, test_truncated_file_is_refused);
	tcase_add_test(tc, test_write_replaces_atomically);
	tcase_add_test(tc, test_unwritable_directory_reports);
	tcase_add_test(tc, test_smaller_table_reports_what_did_not_fit);
	tcase_add_test(tc, test_clean_load_leaves_no_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tap_run(snapshot_suite());
}
