/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz.
 *
 * Header-only (every target is one .c file plus the sources it needs):
 *  - FUZZ_CHECK: an invariant; when it fails the target prints why and
 *    aborts, which libFuzzer reports as a crash and saves the input;
 *  - fuzz_file(): the input as a file, for the APIs that take a path:
 *    one tmpfs file per process, rewritten for every input, removed at
 *    exit or death;
 *  - fuzz_tmpdir(): a private directory for APIs that write files;
 *  - a small deterministic PRNG for choices derived from the input.
 */
#ifndef HERD_FUZZ_COMMON_H
#define HERD_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

/*
 * The targets' own code (these helpers, the models and the checks) is
 * kept out of libFuzzer's coverage: it would only slow every run down and
 * blur what the fuzzer learns about the code under test.  Each target
 * wraps its functions in the same push ... pop.
 */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

static inline void fuzz_remove_file(void);
static inline void fuzz_remove_dir(void);

/* Run by the sanitizers (and fuzz_fail) before the process dies. */
static inline void fuzz_cleanup(void)
{
	fuzz_remove_file();
	fuzz_remove_dir();
}

__attribute__((noreturn, format(printf, 3, 4)))
static void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: invariant violated: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fuzz_cleanup();
	abort();
}

#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_fail(__FILE__, __LINE__, "(" #cond ") " \
				  __VA_ARGS__); \
	} while (0)

/* ---- the input as a file ---------------------------------------------- */

/*
 * One file per process, in $TMPDIR (tests/fuzz/run points it at a
 * directory of its own, on /dev/shm when there is one), else /dev/shm,
 * else /tmp.  A plain tmpfs file is cheaper to reopen for every input than
 * a memfd through /proc/self/fd.  It is removed at exit and when the
 * process dies of a finding.
 */
static char fuzz_path[4096];
static int fuzz_fd = -1;

static inline const char *fuzz_tmp_base(void)
{
	const char *dir = getenv("TMPDIR");

	if (dir != NULL && dir[0] != '\0')
		return dir;
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static inline void fuzz_remove_file(void)
{
	if (fuzz_fd >= 0)
		unlink(fuzz_path);
}

static inline void fuzz_open_file(void)
{
	snprintf(fuzz_path, sizeof fuzz_path, "%s/herd-fuzz-input-XXXXXX",
		 fuzz_tmp_base());
	fuzz_fd = mkstemp(fuzz_path);
	if (fuzz_fd < 0) {
		perror("fuzz: cannot create the input file");
		abort();
	}
	atexit(fuzz_remove_file);
	__sanitizer_set_death_callback(fuzz_cleanup);
}

/* Makes the file at the returned path hold exactly data[0..size). */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (fuzz_fd < 0)
		fuzz_open_file();
	while (done < size) {
		ssize_t n = pwrite(fuzz_fd, data + done, size - done,
				   (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("fuzz: pwrite");
			abort();
		}
		done += (size_t)n;
	}
	/* Written first, cut after: cheaper than emptying it each time. */
	if (ftruncate(fuzz_fd, (off_t)size) != 0) {
		perror("fuzz: ftruncate");
		abort();
	}
	return fuzz_path;
}

/* ---- a private directory ---------------------------------------------- */

static char fuzz_dir[4096];

static inline void fuzz_remove_dir(void)
{
	char path[8192];
	struct dirent *e;
	DIR *d;

	if (fuzz_dir[0] == '\0' || (d = opendir(fuzz_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {	/* only files are made there */
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(fuzz_dir);
}

static inline const char *fuzz_tmpdir(void)
{
	if (fuzz_dir[0] == '\0') {
		snprintf(fuzz_dir, sizeof fuzz_dir, "%s/herd-fuzz-XXXXXX",
			 fuzz_tmp_base());
		if (mkdtemp(fuzz_dir) == NULL) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fuzz_remove_dir);
		__sanitizer_set_death_callback(fuzz_cleanup);
	}
	return fuzz_dir;
}

/* ---- choices ---------------------------------------------------------- */

/* splitmix64: a deterministic stream of choices from one seed. */
static inline uint64_t fuzz_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A printable rendering of bytes for failure messages (4 buffers used
   in turn, so one message can show a few). */
static inline const char *fuzz_show(const void *bytes, size_t len)
{
	static char bufs[4][1024];
	static unsigned turn;
	char *out = bufs[turn++ % 4];
	const unsigned char *p = bytes;
	size_t o = 0, i;

	for (i = 0; i < len && o + 5 < sizeof bufs[0] - 4; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", p[i]);
	}
	if (i < len)
		o += (size_t)snprintf(out + o, 4, "...");
	out[o] = '\0';
	return out;
}

#pragma clang attribute pop

#endif
