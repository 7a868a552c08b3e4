/*
 * worker.h - a member's client-port worker process.
 *
 * One libevent loop that accepts clients on one listening socket (its slot
 * of the member's SO_REUSEPORT group), answers IAMAT from its own clock and
 * the member's shared table, and answers WHATSAT from the table.  Every
 * buffer, line and wait is bounded by the configuration; a client can only
 * ever hurt its own connection.
 *
 * SIGTERM/SIGINT: stop accepting, finish writing what each client is owed
 * (up to a short deadline), then return.
 */
#ifndef HERD_WORKER_H
#define HERD_WORKER_H

#include <stddef.h>

#include "config.h"
#include "log.h"
#include "stats.h"
#include "table.h"

struct worker_args {
	const struct herd_conf *conf;
	size_t member;			/* index into conf->members */
	unsigned slot;			/* 0 .. workers-1 */
	int listen_fd;			/* this slot's listener */
	int wake_fd;			/* to wake the member's flooder */
	struct table *table;		/* the member's table */
	struct worker_stats *stats;	/* this slot's counters */
	const char *log_path;		/* the member's log file */
};

/* Runs the worker until it is told to stop; returns an exit status. */
int worker_main(const struct worker_args *args);

#endif
