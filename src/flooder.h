/*
 * flooder.h - a member's flooding process.
 *
 * One per member, one libevent loop.  It owns every link of the member:
 *
 *  - out-links: a persistent connection to each neighbour's peer port (or,
 *    for a classic neighbour, its client port), over which it sends the
 *    member's table changes as AT lines.  Each is a small state machine,
 *    IDLE -> CONNECTING -> HELLO -> UP, reconnecting with jittered
 *    exponential backoff (reset once a link has stayed up), heartbeats when
 *    idle and a dead-peer timeout.
 *  - in-links: the connections neighbours make to this member's peer port,
 *    whose updates it applies to the table.
 *
 * What to send comes from the table itself, not from a queue: every stored
 * write takes the next change number and is recorded in the table's change
 * ring (see table.h).  Each out-link keeps a cursor, "every change up to
 * here is on its way to this neighbour", and pulls from the ring past it,
 * skipping changes that came from that neighbour.  A link that falls
 * further behind than the ring holds (slow neighbour, long outage) catches
 * up by scanning the table for changes past its cursor instead, in chunks,
 * without blocking the loop; so does a new link, from the watermark the
 * neighbour states in its WELCOME.  Nothing a worker acknowledged can be
 * lost: it is in the table with a change number, and whether or not this
 * process was running at the time, the neighbour's watermark is below it
 * until a MARK past it went out after the update itself.  A restarted
 * flooder therefore needs no state of its own: the watermarks live in the
 * shared table, and links resume from them.
 *
 * Workers wake the flooder through an eventfd only when it is about to
 * sleep (table_wake_flooder), so under load the hand-off costs them no
 * system call.
 */
#ifndef HERD_FLOODER_H
#define HERD_FLOODER_H

#include <stddef.h>

#include "config.h"
#include "stats.h"
#include "table.h"

struct flooder_args {
	const struct herd_conf *conf;
	size_t member;		/* index into conf->members */
	struct table *table;	/* the member's table */
	int peer_fd;		/* listening socket of the peer port, or -1 */
	int wake_fd;		/* eventfd the workers signal */
	struct member_stats *stats;	/* link counters go here */
	const char *log_path;	/* the member's log file */
};

/* Runs the flooder until SIGTERM/SIGINT; returns an exit status. */
int flooder_main(const struct flooder_args *args);

#endif
