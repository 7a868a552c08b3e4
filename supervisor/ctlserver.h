/*
 * ctlserver.h - the supervisor's end of the control socket (control.h).
 *
 * Non-blocking and driven by the supervisor's poll loop: it accepts up to
 * a handful of clients at once, reads one framed request from each within
 * a deadline, asks the supervisor for the answer, writes it, and closes.
 * A client that sends garbage, too much, or nothing only loses its own
 * connection.
 */
#ifndef HERD_CTLSERVER_H
#define HERD_CTLSERVER_H

#include <poll.h>
#include <stddef.h>

#include "control.h"

struct ctl_server;

/* Returns a malloc'd JSON answer for req (never NULL: an error answer). */
typedef char *(*ctl_answer_fn)(void *arg, const struct control_request *req);

/*
 * Listens on path (mode 0660).  A stale socket file is replaced; one that
 * a live herdd answers on is an error.  NULL with a reason in err.
 */
struct ctl_server *ctl_open(const char *path, ctl_answer_fn fn, void *arg,
			    char *err, size_t errlen);

/* Stops listening, drops every client, removes the socket file. */
void ctl_close(struct ctl_server *srv);

/* In a forked child: closes our descriptors, leaves the socket file. */
void ctl_close_in_child(struct ctl_server *srv);

/* The descriptors to poll (at most max); returns how many it filled. */
size_t ctl_fill_pollfds(struct ctl_server *srv, struct pollfd *fds,
			size_t max);

/* Handles what poll() reported for the descriptors ctl_fill_pollfds gave. */
void ctl_handle(struct ctl_server *srv, const struct pollfd *fds, size_t n);

/* Milliseconds until the next client deadline, or -1. */
int ctl_timeout_ms(const struct ctl_server *srv);

#endif
