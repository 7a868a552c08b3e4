/*
 * flooder.c - a member's flooding process: the loop, wake-ups, and the
 * pump that moves table changes onto the links.  See flooder.h; the links
 * themselves are in flood_out.c and flood_in.c.
 */
#include "flooder.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "flooder_int.h"
#include "lines.h"

#define TICK_MS		1000
#define PUMP_WAIT_MS	1	/* a change is numbered but not yet recorded */

int64_t flood_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void flood_kick(struct flooder *f)
{
	event_active(f->pump_ev, EV_TIMEOUT, 0);
}

void flood_describe_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, cap, "%s port %u", host, port);
}

bool flood_read_lines(struct flooder *f, struct bufferevent *bev,
		      bool *discarding, flood_line_fn fn, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		const char *line = NULL;
		size_t len = 0, consumed;
		enum proto_frame frame = lines_next(in, f->conf->max_line,
						    false, discarding, &line,
						    &len, &consumed);

		if (frame == FRAME_PARTIAL)
			return true;
		/* An over-long line is handed on cut: it fails to parse. */
		if (frame != FRAME_EMPTY && !fn(arg, line, len))
			return false;	/* the link is gone or closing */
		evbuffer_drain(in, consumed);
	}
}

/* --- the pump ------------------------------------------------------------ */

/*
 * Sleeps only if no link that reads the ring is behind the table: the
 * table then wakes us (table_wake_flooder) for the next change.  Links
 * that are scanning or whose output is full are driven by their own
 * events instead.
 */
static void try_to_sleep(struct flooder *f)
{
	uint64_t seen = table_last_change(f->table);
	bool wanted = false;

	for (size_t i = 0; i < f->n_outs; i++) {
		if (!out_wants_ring(&f->outs[i]))
			continue;
		wanted = true;
		if (f->outs[i].cursor < seen)
			seen = f->outs[i].cursor;
	}
	/*
	 * With no link reading the ring, changes are of no use to us, and a
	 * wake-up per change would cost the workers a system call each.  A
	 * link that starts to read it (up, caught up, drained) kicks us.
	 */
	if (wanted && !table_flooder_sleep(f->table, seen))
		flood_kick(f);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flooder *f = arg;
	bool more = false, wait = false;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < f->n_outs; i++) {
		enum pump_result r = out_pump(&f->outs[i]);

		more |= r == PUMP_MORE;
		wait |= r == PUMP_WAIT;
	}
	if (more) {
		flood_kick(f);
	} else if (wait) {
		struct timeval tv = { 0, PUMP_WAIT_MS * 1000 };
		event_add(f->pump_ev, &tv);
	} else {
		try_to_sleep(f);
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t count;

	(void)what;
	if (read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
		log_msg(((struct flooder *)arg)->log, "wake-up read: %s",
			strerror(errno));
	flood_kick(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flooder *f = arg;
	int64_t now = flood_now_ms();
	struct in_link *l, *next;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < f->n_outs; i++)
		out_tick(&f->outs[i], now);
	for (l = f->ins; l != NULL; l = next) {
		next = l->next;
		in_tick(l, now);
	}
}

static void accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	(void)lst;
	(void)salen;
	in_accept(arg, fd, sa);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct flooder *f = arg;

	(void)what;
	if (f->stopping)
		return;
	f->stopping = true;
	log_msg(f->log, "stopping on signal %d", (int)sig);
	for (size_t i = 0; i < f->n_outs; i++)
		out_close(&f->outs[i], "flooder stopping");
	while (f->ins != NULL)
		in_close(f->ins, "flooder stopping");
	event_base_loopexit(f->base, NULL);
}

/* --- process ------------------------------------------------------------- */

static int setup_events(struct flooder *f, int peer_fd)
{
	static const int signals[2] = { SIGTERM, SIGINT };
	struct timeval tick = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };

	f->base = event_base_new();
	f->stage = evbuffer_new();
	if (f->base == NULL || f->stage == NULL)
		return -1;
	f->pump_ev = event_new(f->base, -1, 0, pump_cb, f);
	f->tick_ev = event_new(f->base, -1, EV_PERSIST, tick_cb, f);
	f->wake_ev = event_new(f->base, f->wake_fd, EV_READ | EV_PERSIST,
			       wake_cb, f);
	if (f->pump_ev == NULL || f->tick_ev == NULL || f->wake_ev == NULL ||
	    event_add(f->tick_ev, &tick) != 0 || event_add(f->wake_ev, NULL) != 0)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		f->signal_evs[i] = evsignal_new(f->base, signals[i], stop_cb, f);
		if (f->signal_evs[i] == NULL ||
		    event_add(f->signal_evs[i], NULL) != 0)
			return -1;
	}
	if (peer_fd >= 0) {
		f->listener = evconnlistener_new(f->base, accept_cb, f,
						 LEV_OPT_CLOSE_ON_EXEC, -1,
						 peer_fd);
		if (f->listener == NULL)
			return -1;
	}
	return 0;
}

static void start_links(struct flooder *f)
{
	/* A previous flooder's links are gone with it. */
	memset(f->stats->links, 0, sizeof f->stats->links);
	for (size_t i = 0; i < f->me->n_neighbours; i++) {
		struct out_link *l = &f->outs[f->n_outs++];

		out_init(f, l, f->me->neighbours[i], (unsigned)i);
		out_connect(l);
	}
}

static void teardown(struct flooder *f)
{
	for (size_t i = 0; i < f->n_outs; i++) {
		out_close(&f->outs[i], "flooder stopped");
		if (f->outs[i].retry_ev != NULL)
			event_free(f->outs[i].retry_ev);
	}
	while (f->ins != NULL)
		in_close(f->ins, "flooder stopped");
	if (f->listener != NULL)
		evconnlistener_free(f->listener);
	for (size_t i = 0; i < 2; i++)
		if (f->signal_evs[i] != NULL)
			event_free(f->signal_evs[i]);
	if (f->pump_ev != NULL)
		event_free(f->pump_ev);
	if (f->tick_ev != NULL)
		event_free(f->tick_ev);
	if (f->wake_ev != NULL)
		event_free(f->wake_ev);
	if (f->stage != NULL)
		evbuffer_free(f->stage);
	if (f->base != NULL)
		event_base_free(f->base);
	log_close(f->log);
	free(f->line);
	OPENSSL_cleanse(&f->secret, sizeof f->secret);
}

int flooder_main(const struct flooder_args *args)
{
	static struct flooder f;	/* large: the out-links */
	char tag[PROTO_NAME_MAX + 16], err[CONF_PATH_MAX + 64];
	int status = EXIT_SUCCESS;

	memset(&f, 0, sizeof f);
	f.conf = args->conf;
	f.me = &args->conf->members[args->member];
	f.table = args->table;
	f.stats = args->stats;
	f.wake_fd = args->wake_fd;
	f.limits.max_client_len = args->conf->max_client_len;
	f.line_cap = table_line_max(args->table) + 1;
	f.line = malloc(f.line_cap);
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	snprintf(tag, sizeof tag, "%s flooder", f.me->name);
	f.log = log_open(args->log_path, tag);
	if (f.log == NULL || f.line == NULL ||
	    setup_events(&f, args->peer_fd) != 0) {
		fprintf(stderr, "%s: cannot start: %s\n", tag, strerror(errno));
		status = EXIT_FAILURE;
	} else if (linkauth_load(f.conf->secret_file, &f.secret, err,
				 sizeof err) != 0) {
		log_msg(f.log, "cannot start: %s", err);
		status = EXIT_FAILURE;
	} else {
		log_msg(f.log, "started (pid %ld), %zu neighbours, "
			"table epoch %016" PRIx64 " at change %" PRIu64,
			(long)getpid(), f.me->n_neighbours,
			table_epoch(f.table), table_last_change(f.table));
		start_links(&f);
		flood_kick(&f);
		event_base_dispatch(f.base);
		log_msg(f.log, "stopped");
	}
	teardown(&f);
	return status;
}
