/*
 * log.c - per-member log files; see log.h.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_BUF_SIZE	(64 * 1024)
#define LOG_LINE_MAX	(8 * 1024)	/* longer traffic lines are cut */
#define LOG_STAMP_LEN	27		/* "2026-11-22T01:56:09.123456Z" */

struct herd_log {
	int fd;
	bool owns_fd;
	char tag[96];
	void (*wakeup)(void *);
	void *wakeup_arg;
	time_t stamp_sec;		/* second cached in stamp_prefix */
	char stamp_prefix[24];		/* "2026-11-22T01:56:09." */
	size_t used;
	char buf[LOG_BUF_SIZE];
};

struct herd_log *log_open(const char *path, const char *tag)
{
	struct herd_log *log = calloc(1, sizeof(*log));

	if (log == NULL)
		return NULL;
	if (path == NULL) {
		log->fd = STDERR_FILENO;
	} else {
		log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			       0640);
		if (log->fd < 0) {
			int saved = errno;
			free(log);
			errno = saved;
			return NULL;
		}
		log->owns_fd = true;
	}
	snprintf(log->tag, sizeof(log->tag), "%s", tag);
	log->stamp_sec = -1;
	return log;
}

void log_close(struct herd_log *log)
{
	if (log == NULL)
		return;
	log_flush(log);
	if (log->owns_fd)
		close(log->fd);
	free(log);
}

void log_set_wakeup(struct herd_log *log, void (*fn)(void *), void *arg)
{
	log->wakeup = fn;
	log->wakeup_arg = arg;
}

/* Writes all of data, retrying short writes; a log must never stop us. */
static void write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

void log_flush(struct herd_log *log)
{
	if (log == NULL || log->used == 0)
		return;
	write_all(log->fd, log->buf, log->used);
	log->used = 0;
}

/* Appends "<stamp> <tag> " to the buffer; formatting the date once a second. */
static void put_prefix(struct herd_log *log)
{
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != log->stamp_sec) {
		gmtime_r(&now.tv_sec, &tm);
		strftime(log->stamp_prefix, sizeof(log->stamp_prefix),
			 "%Y-%m-%dT%H:%M:%S.", &tm);
		log->stamp_sec = now.tv_sec;
	}
	log->used += (size_t)snprintf(log->buf + log->used,
				      LOG_BUF_SIZE - log->used, "%s%06ldZ %s ",
				      log->stamp_prefix, now.tv_nsec / 1000,
				      log->tag);
}

/* Makes room for one line of at most need bytes plus the prefix. */
static void reserve(struct herd_log *log, size_t need)
{
	need += LOG_STAMP_LEN + sizeof(log->tag) + 2;
	if (LOG_BUF_SIZE - log->used < need)
		log_flush(log);
}

static void put_escaped(struct herd_log *log, const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *out = log->buf + log->used;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c >= 0x20 && c != 0x7f && c != '\\') {
			*out++ = (char)c;
			continue;
		}
		*out++ = '\\';
		switch (c) {
		case '\n': *out++ = 'n'; break;
		case '\r': *out++ = 'r'; break;
		case '\t': *out++ = 't'; break;
		case '\\': *out++ = '\\'; break;
		default:
			*out++ = 'x';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	log->used = (size_t)(out - log->buf);
}

void log_traffic(struct herd_log *log, const char *what, uint64_t conn,
		 const char *prefix, const char *data, size_t len)
{
	size_t shown = len < LOG_LINE_MAX ? len : LOG_LINE_MAX;

	if (log == NULL)
		return;
	reserve(log, 4 * shown + 64);
	if (log->used == 0 && log->wakeup != NULL)
		log->wakeup(log->wakeup_arg);
	put_prefix(log);
	log->used += (size_t)snprintf(log->buf + log->used,
				      LOG_BUF_SIZE - log->used, "%s #%llu %.8s",
				      what, (unsigned long long)conn, prefix);
	put_escaped(log, data, shown);
	if (shown < len)
		log->used += (size_t)snprintf(log->buf + log->used,
					      LOG_BUF_SIZE - log->used,
					      "... (%zu bytes)", len);
	log->buf[log->used++] = '\n';
}

void log_vmsg(struct herd_log *log, const char *fmt, va_list ap)
{
	int n;

	if (log == NULL)
		return;
	reserve(log, 1024);
	put_prefix(log);
	n = vsnprintf(log->buf + log->used, 1024, fmt, ap);
	if (n < 0)
		n = 0;
	log->used += (size_t)n < 1023 ? (size_t)n : 1023;
	log->buf[log->used++] = '\n';
	log_flush(log);
}

void log_msg(struct herd_log *log, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(log, fmt, ap);
	va_end(ap);
}
