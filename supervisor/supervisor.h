/*
 * supervisor.h - herdd's parent process.
 *
 * For every member that runs on this host it creates the shared table and
 * one SO_REUSEPORT listener per worker slot (kept open for the member's
 * whole life, so a dead worker's queued connections wait for its
 * replacement), forks the workers, and respawns any that dies: at once
 * after a healthy run, then with exponential backoff; a slot that crashes
 * more than respawn_budget times in a minute stops the whole herdd with a
 * failure status.  It never parses client traffic.
 *
 * Signals: SIGTERM/SIGINT stop every child gracefully (SIGKILL after a
 * deadline) and reap them all; SIGHUP is logged and otherwise ignored
 * until reload exists.
 */
#ifndef HERD_SUPERVISOR_H
#define HERD_SUPERVISOR_H

#include <stdbool.h>

#include "config.h"

/*
 * Runs the members whose run_here[i] is true until told to stop.  When all
 * listeners are bound and every child is started it writes one byte to
 * ready_fd (if >= 0) and closes it.  Returns the process exit status.
 */
int supervisor_run(const struct herd_conf *conf,
		   const bool run_here[CONF_MEMBERS_MAX], int ready_fd);

#endif
