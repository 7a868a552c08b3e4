/*
 * worker.c - a member's client-port worker process; see worker.h.
 *
 * Each connection is a socket with a persistent read event and two
 * evbuffers.  A readable socket costs one read: the bytes go straight into
 * the input buffer's free space, lines are framed in place (evbuffer_pullup
 * of a line that sits in one chain copies nothing), every reply is appended
 * to the output, and the replies to everything that read brought are
 * written at once with one writev.  The write event is armed only when the
 * socket would not take everything, so the usual request costs two system
 * calls and no epoll_ctl.  The IAMAT path does no allocation: the AT line
 * is built in one scratch buffer, stored in the shared table and appended
 * to the output from there.
 */
#include "worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "lines.h"
#include "places.h"
#include "replyq.h"

#define SHUTDOWN_GRACE_S	2	/* to write what clients are owed */
#define ACCEPT_RETRY_MS		100	/* after EMFILE and the like */
#define PRIORITIES		3	/* 1 = default, 2 = log flush */
#define NOTICE_INTERVAL_S	60	/* repeated warnings, at most */
#define MAX_WHATSATS_IN_FLIGHT	16	/* per client; then reading pauses */
#define READ_SIZE		16384	/* bytes asked of one read */

struct worker;

struct conn {
	struct worker *w;
	evutil_socket_t fd;
	struct event *read_ev;	/* persistent; its timeout is the idle one */
	struct event *write_ev;	/* armed only while output is left over */
	struct evbuffer *in, *out;
	struct conn *prev, *next;
	uint64_t id;
	int classic_peer;	/* member index if a classic neighbour, else -1 */
	bool discarding;	/* inside an over-long line: drop to "\n" */
	bool reading;		/* read_ev is added */
	bool writing;		/* write_ev is added */
	bool throttled;		/* reading paused: client is not reading */
	bool eof;		/* client closed its write side */
	bool broken;		/* the socket failed: nothing more can be sent */
	bool closing;		/* free once the output is written */
	const char *close_why;	/* for the log */
	struct event *line_timer; /* a started line must end in time */
	struct replyq replies;	/* in order, also with WHATSATs pending */
};

struct worker {
	const struct herd_conf *conf;
	const struct conf_member *me;
	size_t name_len;
	struct table *table;
	int wake_fd;		/* the flooder's */
	struct worker_stats *stats;
	struct places *places;
	struct herd_log *log;
	struct proto_limits limits;
	struct event_base *base;
	/* libevent "common timeouts": every connection shares these two
	 * durations, so re-arming one is O(1), not a heap operation among
	 * all the idle connections'.  NULL: that limit is off. */
	const struct timeval *idle_limit;
	const struct timeval *line_limit;
	struct timeval idle_tv, line_tv;	/* if they cannot be common */
	struct evconnlistener *listener;
	struct event *flush_ev;
	struct event *accept_retry_ev;
	struct event *signal_evs[2];
	struct conn *conns;
	unsigned n_conns;
	uint64_t next_conn_id;
	bool stopping;
	bool flooder_owed;	/* stored changes it has not been told of */
	struct proto_time batch_time; /* when the lines being answered came */
	time_t last_full_notice;
	time_t last_accept_notice;
	size_t scratch_cap;
	char *scratch;		/* one AT line */
};

static void conn_process_input(struct conn *c);

/* --- small helpers ------------------------------------------------------ */

static bool should_notice(time_t *last)
{
	time_t now = time(NULL);

	if (now - *last < NOTICE_INTERVAL_S)
		return false;
	*last = now;
	return true;
}

static void send_bytes(struct conn *c, const char *data, size_t len)
{
	if (replyq_add(&c->replies, data, len) != 0) {
		c->closing = true;	/* out of memory: give up on this one */
		c->close_why = "out of memory";
	}
}

/* Sends one reply line (data has no "\n"; it is added) and logs it. */
static void send_line(struct conn *c, const char *data, size_t len)
{
	send_bytes(c, data, len);
	send_bytes(c, "\n", 1);
	if (c->w->conf->log_io)
		log_traffic(c->w->log, "send", c->id, "", data, len);
}

static void answer_invalid(struct conn *c, const char *line, size_t len)
{
	send_bytes(c, "? ", 2);
	send_bytes(c, line, len);
	send_bytes(c, "\n", 1);
	if (c->w->conf->log_io)
		log_traffic(c->w->log, "send", c->id, "? ", line, len);
}

/* --- commands ------------------------------------------------------------ */

/* Stores a report; if it changed the table, the flooder is owed a wake-up. */
static void store_report(struct worker *w, const char *client,
			 const struct proto_cmd *cmd, const char *line,
			 size_t len, unsigned source)
{
	switch (table_put_from(w->table, client, cmd->client.len, cmd->t, line,
			       len, source, NULL)) {
	case TABLE_STORED:
		w->flooder_owed = true;	/* woken once per batch */
		break;
	case TABLE_FULL:
		if (should_notice(&w->last_full_notice))
			log_msg(w->log, "table full (%zu clients): new "
				"clients are answered but not stored",
				table_capacity(w->table));
		break;
	case TABLE_STALE:
	case TABLE_INVALID:
		break;
	}
}

static void answer_iamat(struct conn *c, const struct proto_cmd *cmd,
			 const char *line, size_t len)
{
	struct worker *w = c->w;
	size_t n = proto_format_at(w->scratch, w->scratch_cap, w->me->name,
				   w->name_len, w->batch_time, cmd);

	if (n == 0) {
		answer_invalid(c, line, len);
		return;
	}
	store_report(w, proto_at_client(w->scratch, n, cmd), cmd,
		     w->scratch, n, TABLE_SOURCE_LOCAL);
	send_line(c, w->scratch, n);
}

/*
 * An AT line on the client port: an update from a classic neighbour, which
 * speaks only the client protocol.  From anyone else it is invalid.  It is
 * stored as "AT" and its five fields with single spaces, and not answered,
 * as classic servers do.
 */
static void accept_update(struct conn *c, const struct proto_cmd *cmd,
			  const char *line, size_t len)
{
	struct worker *w = c->w;
	size_t n;

	if (c->classic_peer < 0) {
		answer_invalid(c, line, len);
		return;
	}
	n = proto_canonical_at(w->scratch, w->scratch_cap, cmd);
	if (n > 0)
		store_report(w, proto_at_client(w->scratch, n, cmd), cmd,
			     w->scratch, n, (unsigned)c->classic_peer);
}

/* A WHATSAT waiting for its Places answer. */
struct whatsat {
	struct conn *c;
	struct replyq_slot *slot;
	struct places_req *req;
	size_t at_len;
	char at[];		/* the stored AT line, as it was asked */
};

static void conn_settle(struct conn *c);

static void cancel_whatsat(void *cookie)
{
	struct whatsat *q = cookie;

	places_cancel(q->req);
	free(q);
}

static void publish_places_stats(struct worker *w)
{
	struct places_stats ps;

	places_get_stats(w->places, &ps);
	stats_set(&w->stats->places_requests, ps.requests);
	stats_set(&w->stats->places_upstream, ps.upstream);
	stats_set(&w->stats->places_errors, ps.errors);
	stats_set(&w->stats->places_latency_us_total, ps.latency_us_total);
	stats_set(&w->stats->places_latency_us_max, ps.latency_us_max);
}

/* The reply: the stored AT line, the JSON, and a blank line. */
static void fill_whatsat(struct whatsat *q, const char *json, size_t len)
{
	struct conn *c = q->c;
	struct evbuffer *ans = replyq_answer(q->slot);

	evbuffer_add(ans, q->at, q->at_len);
	evbuffer_add(ans, "\n", 1);
	evbuffer_add(ans, json, len);
	evbuffer_add(ans, "\n\n", 2);
	if (c->w->conf->log_io) {
		log_traffic(c->w->log, "send", c->id, "", q->at, q->at_len);
		log_traffic(c->w->log, "send", c->id, "", json, len);
	}
	replyq_complete(&c->replies, q->slot);
}

static void whatsat_done(void *arg, const char *json, size_t len)
{
	struct whatsat *q = arg;
	struct conn *c = q->c;

	fill_whatsat(q, json, len);
	free(q);
	publish_places_stats(c->w);
	conn_settle(c);
}

static const char out_of_memory_body[] =
	"{\n   \"error_message\" : \"The server is out of memory\",\n"
	"   \"html_attributions\" : [],\n   \"results\" : [],\n"
	"   \"status\" : \"UNKNOWN_ERROR\"\n}";

/*
 * Asks the Places service about the client's stored location.  The reply
 * keeps its place among the connection's replies (replyq) while the
 * answer is on its way.
 */
static void answer_whatsat(struct conn *c, const struct proto_cmd *cmd,
			   const char *line, size_t len)
{
	struct worker *w = c->w;
	struct places_query_args args;
	struct proto_cmd at;
	struct whatsat *q;
	size_t at_len;

	if (!table_get(w->table, cmd->client.p, cmd->client.len, w->scratch,
		       w->scratch_cap, &at_len, NULL) ||
	    (q = malloc(sizeof *q + at_len)) == NULL) {
		answer_invalid(c, line, len);
		return;
	}
	memcpy(q->at, w->scratch, at_len);
	q->at_len = at_len;
	q->c = c;
	if (proto_parse(q->at, at_len, &w->limits, &at) != PROTO_AT ||
	    (q->slot = replyq_reserve(&c->replies)) == NULL) {
		free(q);
		answer_invalid(c, line, len);
		return;
	}
	args = (struct places_query_args){
		.lat = at.lat, .lng = at.lng, .location = at.location,
		.radius_km = cmd->radius_km, .radius_m = cmd->radius_m,
		.bound = cmd->bound,
	};
	q->req = places_query(w->places, &args, whatsat_done, q);
	if (q->req == NULL) {
		fill_whatsat(q, out_of_memory_body, sizeof out_of_memory_body - 1);
		free(q);
		return;
	}
	replyq_set_cookie(q->slot, q);
}

static void handle_line(struct conn *c, const char *line, size_t len)
{
	struct proto_cmd cmd;

	stats_bump(&c->w->stats->requests);
	if (c->w->conf->log_io)
		log_traffic(c->w->log, "recv", c->id, "", line, len);
	switch (proto_parse(line, len, &c->w->limits, &cmd)) {
	case PROTO_IAMAT:
		answer_iamat(c, &cmd, line, len);
		break;
	case PROTO_WHATSAT:
		answer_whatsat(c, &cmd, line, len);
		break;
	case PROTO_AT:
		accept_update(c, &cmd, line, len);
		break;
	case PROTO_INVALID:
		answer_invalid(c, line, len);
		break;
	}
}

/* --- connection lifecycle ------------------------------------------------- */

static void worker_maybe_finish(struct worker *w)
{
	if (w->stopping && w->n_conns == 0)
		event_base_loopexit(w->base, NULL);
}

/* Frees what conn_new made; the socket is the caller's. */
static void conn_release(struct conn *c)
{
	if (c->read_ev != NULL)
		event_free(c->read_ev);
	if (c->write_ev != NULL)
		event_free(c->write_ev);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	free(c);
}

static void conn_free(struct conn *c, const char *why)
{
	struct worker *w = c->w;

	replyq_clear(&c->replies, cancel_whatsat);
	if (c->line_timer != NULL)
		event_free(c->line_timer);
	if (w->conf->log_io)
		log_traffic(w->log, "close", c->id, "", why, strlen(why));
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	evutil_closesocket(c->fd);
	conn_release(c);
	if (w->n_conns-- == w->conf->max_clients && !w->stopping &&
	    w->listener != NULL)
		evconnlistener_enable(w->listener);
	stats_set(&w->stats->connections, w->n_conns);
	worker_maybe_finish(w);
}

/* Reading on or off; the idle clock runs only while reading. */
static void conn_set_reading(struct conn *c, bool on)
{
	if (on == c->reading)
		return;
	if (on ? event_add(c->read_ev, c->w->idle_limit) == 0 :
		 event_del(c->read_ev) == 0)
		c->reading = on;
}

/*
 * Writes what the connection owes now, and watches for writability only
 * while the socket would not take it all.  A client that reads nothing
 * for idle_timeout is then cut by the write event's timeout.
 */
static void conn_flush(struct conn *c)
{
	size_t left = evbuffer_get_length(c->out);

	if (left > 0 && !c->broken) {
		if (evbuffer_write(c->out, c->fd) < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)
			c->broken = true;
		left = evbuffer_get_length(c->out);
	}
	if (left > 0 && !c->broken && !c->writing)
		c->writing = event_add(c->write_ev, c->w->idle_limit) == 0;
	else if ((left == 0 || c->broken) && c->writing)
		c->writing = event_del(c->write_ev) != 0;
}

/* Frees the connection once everything it is owed has been written. */
static void conn_close_when_flushed(struct conn *c, const char *why)
{
	c->closing = true;
	if (c->close_why == NULL)
		c->close_why = why;
	conn_set_reading(c, false);
	if (c->broken || (evbuffer_get_length(c->out) == 0 &&
			  c->replies.pending == 0))
		conn_free(c, c->broken ? "error" : c->close_why);
}

/*
 * Reading pauses while the client is not reading what we send it, or has
 * too many WHATSATs waiting for their answers.
 */
static bool conn_over_limits(const struct conn *c)
{
	return evbuffer_get_length(c->out) + c->replies.held >
		       c->w->conf->max_output ||
	       c->replies.pending >= MAX_WHATSATS_IN_FLIGHT;
}

static bool conn_throttle_if_full(struct conn *c)
{
	if (!conn_over_limits(c))
		return false;
	c->throttled = true;
	conn_set_reading(c, false);
	return true;
}

/* One wake-up for all the changes a batch of lines stored. */
static void wake_flooder_if_owed(struct worker *w)
{
	if (w->flooder_owed) {
		w->flooder_owed = false;
		table_wake_flooder(w->table, w->wake_fd);
	}
}

/* Answers every complete line in the input (and the last one at eof). */
static void conn_process_input(struct conn *c)
{
	size_t max_line = c->w->conf->max_line;

	c->w->batch_time = proto_now();	/* one clock read per batch */
	while (!c->closing && !conn_throttle_if_full(c)) {
		const char *line = NULL;
		size_t len = 0, consumed;
		enum proto_frame frame = lines_next(c->in, max_line, c->eof,
						    &c->discarding, &line,
						    &len, &consumed);

		if (frame == FRAME_PARTIAL)
			break;
		if (frame == FRAME_LINE)
			handle_line(c, line, len);
		else if (frame == FRAME_OVERLONG)
			answer_invalid(c, line, len);
		evbuffer_drain(c->in, consumed);
		if (consumed == 0)
			break;
	}
	wake_flooder_if_owed(c->w);
}

/*
 * After anything happened to a connection: send what it is owed, resume
 * reading if it was paused and no longer has to be, close it once the
 * client is done and owed nothing.  May free c.
 */
static void conn_settle(struct conn *c)
{
	conn_flush(c);
	if (!c->closing && !c->broken && c->throttled &&
	    !conn_over_limits(c)) {
		c->throttled = false;
		conn_set_reading(c, !c->eof);
		conn_process_input(c);
		conn_flush(c);
	}
	if (c->closing || c->broken)
		conn_close_when_flushed(c, c->close_why);
	else if (c->eof && !c->throttled)
		conn_close_when_flushed(c, "eof");
}

static void line_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_free(arg, "timeout: line not finished");
}

/*
 * Slow clients (slowloris): a line that has started must end within
 * line_timeout, however steadily its bytes trickle in.  The clock restarts
 * whenever a line completes, so a busy pipelining client is never cut.
 */
static void conn_watch_partial_line(struct conn *c, size_t before)
{
	size_t left = evbuffer_get_length(c->in);

	if (c->w->line_limit == NULL)
		return;
	if (left == 0 && !c->discarding) {
		if (c->line_timer != NULL)
			event_del(c->line_timer);
		return;
	}
	if (c->line_timer == NULL) {
		c->line_timer = evtimer_new(c->w->base, line_timeout_cb, c);
		if (c->line_timer == NULL)
			return;
	} else if (left >= before && evtimer_pending(c->line_timer, NULL)) {
		return;		/* no line completed: the clock runs on */
	}
	evtimer_add(c->line_timer, c->w->line_limit);
}

/* Marks the first n bytes of a reservation as read and commits them. */
static void commit_read(struct evbuffer *in, struct evbuffer_iovec *vec,
			int nvec, size_t n)
{
	for (int i = 0; i < nvec; i++) {
		if (vec[i].iov_len > n)
			vec[i].iov_len = n;
		n -= vec[i].iov_len;
	}
	(void)evbuffer_commit_space(in, vec, nvec);
}

/*
 * One read straight into the input buffer's free space (evbuffer_read
 * would first ask the kernel how much is waiting, a second system call).
 * Returns what readv() returned.
 */
static ssize_t conn_fill_input(struct conn *c)
{
	struct evbuffer_iovec vec[2];
	struct iovec iov[2];
	int nvec = evbuffer_reserve_space(c->in, READ_SIZE, vec, 2);
	ssize_t n;

	if (nvec <= 0) {
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < nvec; i++)
		iov[i] = (struct iovec){ vec[i].iov_base, vec[i].iov_len };
	n = readv(c->fd, iov, nvec);
	if (n > 0)
		commit_read(c->in, vec, nvec, (size_t)n);
	return n;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	size_t before;
	ssize_t n;

	(void)fd;
	if (what & EV_TIMEOUT) {
		conn_free(c, "timeout: idle");
		return;
	}
	n = conn_fill_input(c);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n < 0) {
		conn_free(c, "error");
		return;
	}
	if (n == 0) {
		c->eof = true;
		conn_set_reading(c, false);
	}
	before = evbuffer_get_length(c->in);
	conn_process_input(c);
	conn_watch_partial_line(c, before);
	conn_settle(c);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		conn_free(c, "timeout: client not reading");
	else
		conn_settle(c);
}

static void describe_peer(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, cap, "from %s port %u", host, port);
}

static bool same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

/* The classic neighbour connecting from sa's address, or -1. */
static int classic_neighbour_at(const struct worker *w,
				const struct sockaddr *sa)
{
	for (size_t i = 0; i < w->me->n_neighbours; i++) {
		const struct conf_member *n =
			&w->conf->members[w->me->neighbours[i]];

		if (n->classic &&
		    same_host(sa, (const struct sockaddr *)&n->client.sa))
			return (int)w->me->neighbours[i];
	}
	return -1;
}

static struct conn *conn_new(struct worker *w, evutil_socket_t fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL)
		return NULL;
	c->w = w;
	c->fd = fd;
	c->read_ev = event_new(w->base, fd, EV_READ | EV_PERSIST,
			       conn_read_cb, c);
	c->write_ev = event_new(w->base, fd, EV_WRITE | EV_PERSIST,
				conn_write_cb, c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (c->read_ev != NULL && c->write_ev != NULL && c->in != NULL &&
	    c->out != NULL)
		conn_set_reading(c, true);
	if (!c->reading) {
		conn_release(c);
		return NULL;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->id = ++w->next_conn_id;
	replyq_init(&c->replies, c->out);
	return c;
}

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct worker *w = arg;
	struct conn *c = conn_new(w, fd);
	char peer[96];

	(void)salen;
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->classic_peer = classic_neighbour_at(w, sa);
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	if (++w->n_conns >= w->conf->max_clients)
		evconnlistener_disable(listener);
	stats_set(&w->stats->connections, w->n_conns);
	if (w->conf->log_io) {
		describe_peer(sa, peer, sizeof(peer));
		log_traffic(w->log, "open", c->id, "", peer, strlen(peer));
	}
}

/* Out of descriptors (or similar): pause accepting briefly, then retry. */
static void accept_error_cb(struct evconnlistener *listener, void *arg)
{
	struct worker *w = arg;
	struct timeval retry = { 0, ACCEPT_RETRY_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(listener);
	event_add(w->accept_retry_ev, &retry);
	if (should_notice(&w->last_accept_notice))
		log_msg(w->log, "accept: %s; pausing accepts for %d ms",
			strerror(err), ACCEPT_RETRY_MS);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (!w->stopping && w->n_conns < w->conf->max_clients)
		evconnlistener_enable(w->listener);
}

/* --- process lifecycle --------------------------------------------------- */

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_flush(w->log);
}

static void wake_flush(void *arg)
{
	struct worker *w = arg;

	event_active(w->flush_ev, EV_TIMEOUT, 0);
}

/* Stop accepting; let every client get what it is owed, then exit. */
static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval grace = { SHUTDOWN_GRACE_S, 0 };
	struct conn *c, *next;

	(void)what;
	if (w->stopping)
		return;
	w->stopping = true;
	log_msg(w->log, "stopping on signal %d with %u clients", (int)sig,
		w->n_conns);
	evconnlistener_disable(w->listener);
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		conn_close_when_flushed(c, "server stopping");
	}
	event_base_loopexit(w->base, &grace);
	worker_maybe_finish(w);
}

/* A limit of seconds for events of base; NULL if seconds is 0 (none). */
static const struct timeval *shared_limit(struct event_base *base,
					  unsigned seconds, struct timeval *tv)
{
	const struct timeval *common;

	*tv = (struct timeval){ .tv_sec = seconds };
	if (seconds == 0)
		return NULL;
	common = event_base_init_common_timeout(base, tv);
	return common != NULL ? common : tv;
}

static int worker_setup_events(struct worker *w, int listen_fd)
{
	static const int signals[2] = { SIGTERM, SIGINT };

	w->base = event_base_new();
	if (w->base == NULL || event_base_priority_init(w->base, PRIORITIES) != 0)
		return -1;
	w->idle_limit = shared_limit(w->base, w->conf->idle_timeout_s,
				     &w->idle_tv);
	w->line_limit = shared_limit(w->base, w->conf->line_timeout_s,
				     &w->line_tv);
	w->flush_ev = event_new(w->base, -1, 0, flush_cb, w);
	w->accept_retry_ev = evtimer_new(w->base, accept_retry_cb, w);
	if (w->flush_ev == NULL || w->accept_retry_ev == NULL ||
	    event_priority_set(w->flush_ev, PRIORITIES - 1) != 0)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		w->signal_evs[i] = evsignal_new(w->base, signals[i], stop_cb, w);
		if (w->signal_evs[i] == NULL ||
		    event_add(w->signal_evs[i], NULL) != 0)
			return -1;
	}
	w->listener = evconnlistener_new(w->base, accept_cb, w,
					 LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (w->listener == NULL)
		return -1;
	evconnlistener_set_error_cb(w->listener, accept_error_cb);
	return 0;
}

/* The Places client is made after fork: libcurl handles never cross one. */
static int worker_setup_places(struct worker *w)
{
	char err[512];

	w->places = places_new(w->base, &w->conf->places, err, sizeof err);
	if (w->places != NULL)
		return 0;
	log_msg(w->log, "cannot start the Places client: %s", err);
	fprintf(stderr, "%s: cannot start the Places client: %s\n",
		w->me->name, err);
	return -1;
}

static void worker_teardown(struct worker *w)
{
	while (w->conns != NULL)
		conn_free(w->conns, "server stopped");
	if (w->places != NULL)
		places_free(w->places);
	if (w->listener != NULL)
		evconnlistener_free(w->listener);
	for (size_t i = 0; i < 2; i++)
		if (w->signal_evs[i] != NULL)
			event_free(w->signal_evs[i]);
	if (w->flush_ev != NULL)
		event_free(w->flush_ev);
	if (w->accept_retry_ev != NULL)
		event_free(w->accept_retry_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	log_close(w->log);
	free(w->scratch);
}

int worker_main(const struct worker_args *args)
{
	struct worker w = { 0 };
	char tag[PROTO_NAME_MAX + 16];
	int status = EXIT_SUCCESS;

	w.conf = args->conf;
	w.me = &args->conf->members[args->member];
	w.name_len = strlen(w.me->name);
	w.table = args->table;
	w.wake_fd = args->wake_fd;
	w.stats = args->stats;
	w.limits.max_client_len = args->conf->max_client_len;
	w.scratch_cap = table_line_max(args->table) + 1;
	w.scratch = malloc(w.scratch_cap);
	w.last_full_notice = w.last_accept_notice = -NOTICE_INTERVAL_S;
	snprintf(tag, sizeof(tag), "%s w%u", w.me->name, args->slot);
	w.log = log_open(args->log_path, tag);
	if (w.log == NULL || w.scratch == NULL ||
	    worker_setup_events(&w, args->listen_fd) != 0) {
		fprintf(stderr, "%s: cannot start: %s\n", tag, strerror(errno));
		status = EXIT_FAILURE;
	} else if (worker_setup_places(&w) != 0) {
		status = EXIT_FAILURE;
	} else {
		log_set_wakeup(w.log, wake_flush, &w);
		log_msg(w.log, "worker started (pid %ld)", (long)getpid());
		event_base_dispatch(w.base);
		log_msg(w.log, "worker stopped");
	}
	worker_teardown(&w);
	return status;
}
