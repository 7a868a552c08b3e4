/*
 * flood_out.c - the flooder's links to its neighbours (see flooder.h).
 *
 * State machine: IDLE -> CONNECTING -> HELLO -> UP, and back to IDLE on
 * any failure, from where a timer with jittered exponential backoff starts
 * the next attempt.  Every transition goes through set_state or link_fail,
 * which hold the side effects (log lines, timers, backoff).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "flooder_int.h"

static const char *peer_name(const struct out_link *l)
{
	return l->f->conf->members[l->peer].name;
}

static const struct conf_addr *target(const struct out_link *l)
{
	const struct conf_member *m = &l->f->conf->members[l->peer];

	return l->classic ? &m->client : &m->peer;
}

static void set_state(struct out_link *l, enum out_state state)
{
	static const enum stats_link_state published[] = {
		[OUT_IDLE] = STATS_LINK_IDLE,
		[OUT_CONNECTING] = STATS_LINK_CONNECTING,
		[OUT_HELLO] = STATS_LINK_HELLO,
		[OUT_UP] = STATS_LINK_UP,
	};

	l->state = state;
	l->state_ms = flood_now_ms();
	atomic_store_explicit(&l->stats->since_ms, l->state_ms,
			      memory_order_relaxed);
	atomic_store_explicit(&l->stats->state, published[state],
			      memory_order_relaxed);
}

static void drop_connection(struct out_link *l)
{
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	l->bev = NULL;
	l->discarding = false;
	l->scanning = false;
	l->pending_ms = 0;
	set_state(l, OUT_IDLE);
}

/* Next retry: the backoff, +-25% so that a herd does not retry in step. */
static void schedule_retry(struct out_link *l)
{
	unsigned base = l->backoff_ms ? l->backoff_ms : LINK_BACKOFF_FIRST_MS;
	unsigned delay = base * 3 / 4 + (unsigned)(random() % (base / 2 + 1));
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };

	l->backoff_ms = base * 2 > LINK_BACKOFF_CAP_MS ? LINK_BACKOFF_CAP_MS :
			base * 2;
	evtimer_add(l->retry_ev, &tv);
}

static void link_fail(struct out_link *l, const char *why)
{
	int64_t up_for = flood_now_ms() - l->state_ms;

	if (l->state == OUT_UP) {
		log_msg(l->f->log, "link to %s down: %s (sent %" PRIu64
			" updates)", peer_name(l), why, l->sent);
		if (up_for >= LINK_STABLE_MS)
			l->backoff_ms = 0;
	} else if (!l->failing) {
		log_msg(l->f->log, "cannot link to %s at %s: %s; retrying",
			peer_name(l), target(l)->text, why);
		l->failing = true;
	}
	drop_connection(l);
	if (!l->f->stopping)
		schedule_retry(l);
}

void out_close(struct out_link *l, const char *why)
{
	if (l->state == OUT_UP)
		log_msg(l->f->log, "link to %s closed: %s (sent %" PRIu64
			" updates)", peer_name(l), why, l->sent);
	drop_connection(l);
	if (l->retry_ev != NULL)
		evtimer_del(l->retry_ev);
}

/* --- sending ----------------------------------------------------------- */

static void send_text(struct out_link *l, const char *text, size_t len)
{
	evbuffer_add(bufferevent_get_output(l->bev), text, len);
	l->last_send_ms = flood_now_ms();
}

/*
 * Updates and MARKs are staged (f->stage) and handed over by flush_stage
 * at the end of the pump turn or tick that made them.  The stage holds
 * one link's lines at a time, so they still follow whatever that link
 * queued before them (HELLO, AUTH, PING).
 */
static void send_update(struct out_link *l, const struct table_record *rec)
{
	evbuffer_add(l->f->stage, rec->line, rec->line_len);
	evbuffer_add(l->f->stage, "\n", 1);
	l->sent++;
	stats_set(&l->stats->sent, l->sent);
	l->last_send_ms = flood_now_ms();
}

/* Tells the neighbour it now holds every change up to the cursor. */
static void send_mark(struct out_link *l)
{
	char mark[32];
	int n;

	if (l->classic)
		return;
	n = snprintf(mark, sizeof mark, "MARK %" PRIu64 "\n", l->cursor);
	evbuffer_add(l->f->stage, mark, (size_t)n);
	l->last_send_ms = flood_now_ms();
	l->marked = l->cursor;
	l->marks++;
}

/* Bytes on their way to the neighbour, staged or not. */
static size_t queued(const struct out_link *l)
{
	return evbuffer_get_length(bufferevent_get_output(l->bev)) +
	       evbuffer_get_length(l->f->stage);
}

/*
 * Hands the staged lines to the link.  Added to the bufferevent, they
 * would go out only when the next epoll_wait reports the socket writable:
 * per update an EPOLLOUT armed and disarmed (two epoll_ctl) and a loop
 * turn in between, on every hop.  With nothing queued before them they
 * are written now instead; the bufferevent gets only what the socket
 * did not take, and any error shows on its next read or write.
 */
static void flush_stage(struct out_link *l)
{
	struct evbuffer *out = bufferevent_get_output(l->bev);

	if (evbuffer_get_length(l->f->stage) == 0)
		return;
	if (evbuffer_get_length(out) == 0)
		(void)evbuffer_write(l->f->stage, bufferevent_getfd(l->bev));
	evbuffer_add_buffer(out, l->f->stage);
}

static void go_up(struct out_link *l, uint64_t cursor)
{
	uint64_t last = table_last_change(l->f->table);

	set_state(l, OUT_UP);
	l->failing = false;
	l->cursor = cursor < last ? cursor : last;
	l->marked = l->cursor;	/* the neighbour's own watermark */
	l->catchup_upto = last;
	log_msg(l->f->log, "link to %s up, sending changes after %" PRIu64
		" of %" PRIu64, peer_name(l), l->cursor, last);
	flood_kick(l->f);
}

/* --- pulling changes --------------------------------------------------- */

static void start_scan(struct out_link *l)
{
	l->scanning = true;
	l->scan_pos = 0;
	l->scan_upto = table_last_change(l->f->table);
	l->pending_ms = 0;
	l->scan_started_ms = flood_now_ms();
	l->catchup_upto = l->scan_upto;
	l->scan_sent = l->scan_bytes = 0;
	log_msg(l->f->log, "link to %s: catching up on changes %" PRIu64
		"..%" PRIu64 " by table scan", peer_name(l), l->cursor + 1,
		l->scan_upto);
}

static void finish_scan(struct out_link *l)
{
	l->scanning = false;
	l->cursor = l->scan_upto;
	send_mark(l);
	log_msg(l->f->log, "link to %s: caught up to change %" PRIu64 ": %"
		PRIu64 " updates, %" PRIu64 " bytes in %" PRId64 " ms",
		peer_name(l), l->cursor, l->scan_sent, l->scan_bytes,
		flood_now_ms() - l->scan_started_ms);
}

/*
 * Live, an update never goes back to the neighbour it came from.  While
 * catching up it does: the neighbour may have lost it (a restart with no
 * usable snapshot), and if not, it is merely stale there.
 */
static bool should_send(const struct out_link *l,
			const struct table_record *rec)
{
	return rec->source != l->peer || rec->change <= l->catchup_upto;
}

static bool scan_visit(void *arg, const struct table_record *rec)
{
	struct out_link *l = arg;

	if (rec->change <= l->scan_upto) {
		send_update(l, rec);
		l->scan_sent++;
		l->scan_bytes += rec->line_len + 1;
	}
	return true;
}

/*
 * One chunk of a catch-up scan: every entry whose change lies in
 * (cursor, scan_upto].  Changes after scan_upto follow through the ring.
 */
static enum pump_result pump_scan(struct out_link *l)
{
	struct table *t = l->f->table;

	table_scan_slots(t, &l->scan_pos, LINK_BATCH, l->cursor, scan_visit, l);
	if (l->scan_pos < table_slots(t))
		return PUMP_MORE;
	finish_scan(l);
	return PUMP_MORE;
}

/* A change not recorded yet: wait a little, then assume its writer died. */
static enum pump_result wait_for_change(struct out_link *l)
{
	int64_t now = flood_now_ms();

	if (l->pending_ms == 0)
		l->pending_ms = now;
	if (now - l->pending_ms < LINK_GAP_MS)
		return PUMP_WAIT;
	start_scan(l);
	return PUMP_MORE;
}

static enum pump_result pump_ring(struct out_link *l)
{
	struct flooder *f = l->f;
	uint64_t last = table_last_change(f->table);
	enum pump_result res = PUMP_IDLE;
	struct table_record rec;
	bool sent = false;

	for (int n = 0; l->cursor < last; n++) {
		if (n == LINK_BATCH || queued(l) >= LINK_OUT_HIGH) {
			res = n == LINK_BATCH ? PUMP_MORE : PUMP_IDLE;
			break;
		}
		switch (table_read_change(f->table, l->cursor + 1, f->line,
					  f->line_cap, &rec)) {
		case TABLE_CHANGE_OK:
			if (should_send(l, &rec)) {
				send_update(l, &rec);
				sent = true;
			}
			/* fall through */
		case TABLE_CHANGE_SUPERSEDED:
			l->cursor++;
			l->pending_ms = 0;
			continue;
		case TABLE_CHANGE_PENDING:
		case TABLE_CHANGE_FUTURE:
			res = wait_for_change(l);
			break;
		case TABLE_CHANGE_LOST:
			start_scan(l);
			res = PUMP_MORE;
			break;
		}
		break;
	}
	/*
	 * The MARK rides with the updates.  A turn that only skipped changes
	 * (this neighbour's own, or superseded ones) leaves it to the tick:
	 * on every hop that would be a wake-up of the neighbour the update
	 * came from, beside the ones it goes on to, for a watermark that is
	 * merely behind (it is safe there: a catch-up resends a little more).
	 */
	if (sent)
		send_mark(l);
	return res;
}

enum pump_result out_pump(struct out_link *l)
{
	enum pump_result res;

	if (l->state != OUT_UP ||
	    evbuffer_get_length(bufferevent_get_output(l->bev)) >=
		    LINK_OUT_HIGH)
		return PUMP_IDLE;	/* the write callback kicks us */
	res = l->scanning ? pump_scan(l) : pump_ring(l);
	flush_stage(l);
	return res;
}

bool out_wants_ring(const struct out_link *l)
{
	return l->state == OUT_UP && !l->scanning &&
	       evbuffer_get_length(bufferevent_get_output(l->bev)) <
		       LINK_OUT_HIGH;
}

/* --- receiving ----------------------------------------------------------- */

static void auth_context(const struct out_link *l, const char *nonce_r,
			 struct linkauth_ctx *ctx)
{
	*ctx = (struct linkauth_ctx){
		.herd = l->f->conf->herd_name, .sender = l->f->me->name,
		.receiver = peer_name(l), .nonce_s = l->nonce,
		.nonce_r = nonce_r, .epoch = table_epoch(l->f->table),
	};
}

/*
 * The neighbour proved it knows the herd secret (or neither of us has
 * one): prove it back, then start sending.
 */
static bool on_welcome(struct out_link *l, const struct link_msg *m)
{
	char nonce_r[LINKAUTH_NONCE_LEN + 1], mac[LINKAUTH_MAC_LEN + 1];
	char auth[LINKAUTH_MAC_LEN + 8];
	struct linkauth_ctx ctx;
	int n;

	memcpy(nonce_r, m->nonce.p, LINKAUTH_NONCE_LEN);
	nonce_r[LINKAUTH_NONCE_LEN] = '\0';
	auth_context(l, nonce_r, &ctx);
	if (!linkauth_check(&l->f->secret, "WELCOME", &ctx, m->mac.p,
			    m->mac.len)) {
		log_msg(l->f->log, "%s failed to prove the herd secret",
			peer_name(l));
		link_fail(l, "authentication failed");
		return false;
	}
	linkauth_mac(&l->f->secret, "AUTH", &ctx, mac);
	n = snprintf(auth, sizeof auth, "AUTH %s\n", mac);
	send_text(l, auth, (size_t)n);
	go_up(l, m->epoch == table_epoch(l->f->table) ? m->change : 0);
	return true;
}

static bool on_hello_reply(struct out_link *l, const struct link_msg *m)
{
	if (m->type == LINK_WELCOME)
		return on_welcome(l, m);
	if (m->type == LINK_REFUSE)
		log_msg(l->f->log, "%s refused our link: %.*s", peer_name(l),
			(int)m->reason.len, m->reason.p);
	link_fail(l, m->type == LINK_REFUSE ? "refused" :
		  "unexpected answer to HELLO");
	return false;
}

static bool on_line(void *arg, const char *line, size_t len)
{
	struct out_link *l = arg;
	struct link_msg m;

	l->last_recv_ms = flood_now_ms();
	link_msg_parse(line, len, &l->f->limits, &m);
	if (l->state == OUT_HELLO)
		return on_hello_reply(l, &m);
	if (m.type == LINK_PING)
		return true;
	link_fail(l, "protocol error");
	return false;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct out_link *l = arg;

	if (l->classic) {	/* a classic server's answers mean nothing */
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	flood_read_lines(l->f, bev, &l->discarding, on_line, l);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct out_link *l = arg;

	(void)bev;
	if (l->state == OUT_UP)
		flood_kick(l->f);	/* drained below the low mark */
}

static void send_hello(struct out_link *l)
{
	const struct flooder *f = l->f;
	char hello[256];
	int n;

	linkauth_nonce(l->nonce);
	n = snprintf(hello, sizeof hello, "HELLO %d %s %s %s %016" PRIx64
		     " %s\n", LINK_VERSION, f->conf->herd_name, f->me->name,
		     peer_name(l), table_epoch(f->table), l->nonce);
	send_text(l, hello, (size_t)n);
	set_state(l, OUT_HELLO);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct out_link *l = arg;
	int one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
				 TCP_NODELAY, &one, sizeof one);
		l->last_recv_ms = flood_now_ms();
		if (l->classic)
			go_up(l, 0);	/* it may have restarted: send all */
		else
			send_hello(l);
		return;
	}
	link_fail(l, (what & BEV_EVENT_EOF) ? "closed by the neighbour" :
		  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* --- lifecycle ----------------------------------------------------------- */

void out_connect(struct out_link *l)
{
	const struct conf_addr *addr = target(l);

	l->bev = bufferevent_socket_new(l->f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL) {
		link_fail(l, strerror(errno));
		return;
	}
	bufferevent_setcb(l->bev, read_cb, write_cb, event_cb, l);
	bufferevent_setwatermark(l->bev, EV_WRITE, LINK_OUT_LOW, 0);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	set_state(l, OUT_CONNECTING);
	if (bufferevent_socket_connect(l->bev, (const struct sockaddr *)&addr->sa,
				       (int)addr->salen) != 0)
		link_fail(l, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	out_connect(arg);
}

void out_init(struct flooder *f, struct out_link *l, size_t peer,
	      unsigned index)
{
	memset(l, 0, sizeof *l);
	l->f = f;
	l->peer = peer;
	l->index = index;
	l->stats = &f->stats->links[index];
	memset(l->stats, 0, sizeof *l->stats);
	snprintf(l->stats->peer, sizeof l->stats->peer, "%s",
		 f->conf->members[peer].name);
	l->classic = f->conf->members[peer].classic;
	l->retry_ev = evtimer_new(f->base, retry_cb, l);
	set_state(l, OUT_IDLE);
}

void out_tick(struct out_link *l, int64_t now)
{
	if ((l->state == OUT_CONNECTING || l->state == OUT_HELLO) &&
	    now - l->state_ms > LINK_HELLO_TIMEOUT_MS) {
		link_fail(l, "timed out");
		return;
	}
	if (l->state != OUT_UP || l->classic)
		return;
	if (now - l->last_recv_ms > LINK_DEAD_AFTER_MS) {
		link_fail(l, "no word from the neighbour for 10 s");
		return;
	}
	if (l->marked != l->cursor && !l->scanning) {
		send_mark(l);	/* one pump_ring left for the tick */
		flush_stage(l);
	}
	if (now - l->last_send_ms >= LINK_PING_AFTER_MS)
		send_text(l, "PING\n", 5);
}
