/*
 * log.h - per-member log files.
 *
 * Each member logs to its own file, which the supervisor and every one of
 * the member's processes append to.  A log line is written whole by one
 * write(2) on an O_APPEND descriptor, and a write only ever carries whole
 * lines, so lines from different processes never interleave mid-line.
 *
 * Lines are "<UTC time with microseconds> <tag> <text>".  Client traffic is
 * buffered and written in batches (log_flush, called once per turn of the
 * event loop); messages (log_msg) are written at once, after whatever traffic
 * is buffered so the file stays in order.
 */
#ifndef HERD_LOG_H
#define HERD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct herd_log;

/*
 * Opens (creating, mode 0640) path for appending; NULL means standard
 * error.  tag prefixes every line ("Riley w0").  Returns NULL with errno
 * set on failure.
 */
struct herd_log *log_open(const char *path, const char *tag);

/* Flushes and closes. */
void log_close(struct herd_log *log);

/* Writes one message line now. */
void log_msg(struct herd_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(struct herd_log *log, const char *fmt, va_list ap);

/*
 * Buffers one line of client traffic: "<what> #<conn> <prefix><data>", with
 * data's control bytes and backslashes escaped (\n, \r, \t, \xHH) so one
 * protocol line is one log line.
 */
void log_traffic(struct herd_log *log, const char *what, uint64_t conn,
		 const char *prefix, const char *data, size_t len);

/* Writes what log_traffic buffered. */
void log_flush(struct herd_log *log);

/*
 * Called when the buffer goes from empty to non-empty, so the owner can
 * schedule a log_flush for the end of the current loop turn.
 */
void log_set_wakeup(struct herd_log *log, void (*fn)(void *), void *arg);

#endif
