/*
 * supervisor.h - herdd's parent process.
 *
 * For every member that runs on this host it creates the shared table, the
 * shared counters, one SO_REUSEPORT listener per worker slot and the peer
 * listener (all kept open for the member's whole life, so a dead child's
 * queued connections wait for its replacement), forks the workers and the
 * flooder, and respawns any that dies: at once after a healthy run, then
 * with exponential backoff; a slot that dies more than respawn_budget
 * times in a minute stops the whole herdd with a failure status.  It
 * serves the control socket (control.h), and never parses client traffic.
 *
 * Signals: SIGTERM/SIGINT stop every child gracefully (SIGKILL after a
 * deadline) and reap them all; SIGHUP reloads the configuration.  Under
 * systemd (NOTIFY_SOCKET) it reports READY, RELOADING, STOPPING, STATUS
 * and the watchdog.
 */
#ifndef HERD_SUPERVISOR_H
#define HERD_SUPERVISOR_H

#include <stddef.h>

#include "config.h"

struct supervisor_options {
	const char *conf_path;
	const char *const *members;	/* -m names, for reloads too */
	size_t n_members;
};

/*
 * Runs this host's members of conf (conf_select with opts) until told to
 * stop.  When every listener is bound and every child started it writes
 * one byte to ready_fd (if >= 0) and closes it.  Returns the exit status.
 */
int supervisor_run(const struct herd_conf *conf,
		   const struct supervisor_options *opts, int ready_fd);

#endif
