/*
 * flood_in.c - links from neighbours: HELLO, then updates to apply.
 *
 * A connection to the peer port must open with a HELLO that names this
 * herd, this member, and one of its (non-classic) neighbours; anything
 * else is refused with a REFUSE line, logged, and closed, and nothing it
 * sent is applied.  An accepted link replaces an older one from the same
 * neighbour (which is then dead in all but name).
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "flooder_int.h"

static const char *in_name(const struct in_link *l)
{
	return l->peer >= 0 ? l->f->conf->members[l->peer].name : l->addr;
}

static void send_text(struct in_link *l, const char *text, size_t len)
{
	evbuffer_add(bufferevent_get_output(l->bev), text, len);
	l->last_send_ms = flood_now_ms();
}

void in_close(struct in_link *l, const char *why)
{
	struct flooder *f = l->f;

	if (l->authed)
		log_msg(f->log, "link from %s down: %s (received %" PRIu64
			" updates, applied %" PRIu64 ")", in_name(l), why,
			l->received, l->applied);
	if (l->stats != NULL)
		atomic_store_explicit(&l->stats->state, STATS_LINK_UNUSED,
				      memory_order_relaxed);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		f->ins = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	bufferevent_free(l->bev);
	free(l);
	f->n_ins--;
}

/* Answers REFUSE and closes once that is written. */
static void refuse(struct in_link *l, const char *why,
		   const struct link_msg *m)
{
	char line[160];
	int n = snprintf(line, sizeof line, "REFUSE %s\n", why);

	log_msg(l->f->log, "refused a link from %s (%.*s): %s", l->addr,
		m ? (int)m->from.len : 1, m ? m->from.p : "?", why);
	send_text(l, line, (size_t)n);
	l->closing = true;
	bufferevent_disable(l->bev, EV_READ);
}

static bool span_eq(struct proto_span s, const char *text)
{
	return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

/* Which of our neighbours m comes from, or why it may not link. */
static int hello_peer(const struct flooder *f, const struct link_msg *m,
		      const char **why)
{
	const struct conf_member *me = f->me;

	*why = "wrong herd";
	if (!span_eq(m->herd, f->conf->herd_name))
		return -1;
	*why = "wrong member";
	if (!span_eq(m->to, me->name))
		return -1;
	*why = "not a neighbour";
	for (size_t i = 0; i < me->n_neighbours; i++) {
		const struct conf_member *n = &f->conf->members[me->neighbours[i]];

		if (span_eq(m->from, n->name) && !n->classic)
			return (int)me->neighbours[i];
	}
	return -1;
}

static void replace_older_link(struct in_link *l)
{
	for (struct in_link *o = l->f->ins; o != NULL; o = o->next)
		if (o != l && o->peer == l->peer && o->authed) {
			in_close(o, "replaced by a new connection");
			return;
		}
}

/* Takes a free link stats block (after the out-links' ones). */
static void publish_link(struct in_link *l)
{
	struct member_stats *st = l->f->stats;

	for (size_t i = l->f->n_outs; i < STATS_LINKS; i++) {
		struct link_stats *ls = &st->links[i];

		if (atomic_load_explicit(&ls->state, memory_order_relaxed) !=
		    STATS_LINK_UNUSED)
			continue;
		memset(ls, 0, sizeof *ls);
		snprintf(ls->peer, sizeof ls->peer, "%s", in_name(l));
		atomic_store_explicit(&ls->inbound, 1, memory_order_relaxed);
		atomic_store_explicit(&ls->since_ms, flood_now_ms(),
				      memory_order_relaxed);
		atomic_store_explicit(&ls->state, STATS_LINK_UP,
				      memory_order_relaxed);
		l->stats = ls;
		return;
	}
}

static void auth_context(const struct in_link *l, struct linkauth_ctx *ctx)
{
	*ctx = (struct linkauth_ctx){
		.herd = l->f->conf->herd_name, .sender = in_name(l),
		.receiver = l->f->me->name, .nonce_s = l->nonce_s,
		.nonce_r = l->nonce_r, .epoch = l->epoch,
	};
}

/*
 * A HELLO from a neighbour: answer with our watermark for it, our nonce,
 * and our proof of the herd secret.  Nothing it sends is applied until
 * its AUTH checks out.
 */
static bool on_hello(struct in_link *l, const struct link_msg *m)
{
	const char *why = "expected HELLO";
	int peer = m->type == LINK_HELLO ? hello_peer(l->f, m, &why) : -1;
	char line[256], mac[LINKAUTH_MAC_LEN + 1];
	struct linkauth_ctx ctx;
	uint64_t epoch, change;
	int n;

	if (peer < 0) {
		refuse(l, why, m->type == LINK_HELLO ? m : NULL);
		return false;
	}
	l->peer = peer;
	l->epoch = m->epoch;
	memcpy(l->nonce_s, m->nonce.p, LINKAUTH_NONCE_LEN);
	l->nonce_s[LINKAUTH_NONCE_LEN] = '\0';
	linkauth_nonce(l->nonce_r);
	auth_context(l, &ctx);
	linkauth_mac(&l->f->secret, "WELCOME", &ctx, mac);
	table_get_watermark(l->f->table, in_name(l), &epoch, &change);
	if (epoch != m->epoch)
		change = 0;	/* a new table over there: we hold none of it */
	n = snprintf(line, sizeof line, "WELCOME %d %016" PRIx64 " %" PRIu64
		     " %s %s\n", LINK_VERSION, m->epoch, change, l->nonce_r,
		     mac);
	send_text(l, line, (size_t)n);
	return true;
}

static bool on_auth(struct in_link *l, const struct link_msg *m)
{
	struct linkauth_ctx ctx;
	uint64_t epoch, change;

	auth_context(l, &ctx);
	if (m->type != LINK_AUTH ||
	    !linkauth_check(&l->f->secret, "AUTH", &ctx, m->mac.p,
			    m->mac.len)) {
		log_msg(l->f->log, "link from %s (%s) failed to prove the herd "
			"secret", in_name(l), l->addr);
		l->peer = -1;
		refuse(l, "authentication failed", NULL);
		return false;
	}
	l->authed = true;
	replace_older_link(l);
	publish_link(l);
	table_get_watermark(l->f->table, in_name(l), &epoch, &change);
	log_msg(l->f->log, "link from %s up (%s), holding its changes up to %"
		PRIu64, in_name(l), l->addr, epoch == l->epoch ? change : 0);
	return true;
}

/*
 * Stores an update as "AT" and its five fields with single spaces, the
 * same bytes on every member whatever white space a peer used.
 */
static void apply_update(struct in_link *l, const struct link_msg *m)
{
	const struct proto_cmd *at = &m->at;
	struct flooder *f = l->f;
	size_t len = proto_canonical_at(f->line, f->line_cap, at);
	const char *line = f->line;

	l->received++;
	if (len == 0)
		return;
	if (l->stats != NULL)
		stats_set(&l->stats->received, l->received);
	if (table_put_from(f->table, proto_at_client(line, len, at),
			   at->client.len, at->t, line, len, (unsigned)l->peer,
			   NULL) == TABLE_STORED) {
		l->applied++;
		flood_kick(l->f);
	}
}

static bool on_invalid(struct in_link *l, const char *line, size_t len)
{
	if (++l->invalid == 1)
		log_msg(l->f->log, "link from %s: invalid line \"%.*s\"",
			in_name(l), (int)(len < 200 ? len : 200), line);
	if (l->invalid <= LINK_INVALID_MAX)
		return true;
	in_close(l, "too many invalid lines");
	return false;
}

static bool on_line(void *arg, const char *line, size_t len)
{
	struct in_link *l = arg;
	struct link_msg m;

	l->last_recv_ms = flood_now_ms();
	link_msg_parse(line, len, &l->f->limits, &m);
	if (l->peer < 0)
		return on_hello(l, &m);
	if (!l->authed)
		return on_auth(l, &m);
	switch (m.type) {
	case LINK_AT:
		apply_update(l, &m);
		return true;
	case LINK_MARK:
		table_set_watermark(l->f->table, in_name(l), l->epoch,
				    m.change);
		return true;
	case LINK_PING:
		return true;
	default:
		return on_invalid(l, line, len);
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct in_link *l = arg;

	flood_read_lines(l->f, bev, &l->discarding, on_line, l);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct in_link *l = arg;

	if (l->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		in_close(l, "refused");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	in_close(arg, (what & BEV_EVENT_EOF) ? "closed by the neighbour" :
		 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

void in_accept(struct flooder *f, evutil_socket_t fd,
	       const struct sockaddr *sa)
{
	struct in_link *l;
	char addr[64];

	if (!conf_allowed(f->conf->peer_allow, f->conf->n_peer_allow, sa) ||
	    f->n_ins >= LINK_INBOUND_MAX) {
		int64_t now = flood_now_ms();

		if (now - f->last_refusal_log_ms >= 1000) {	/* a flood */
			flood_describe_addr(sa, addr, sizeof addr);
			log_msg(f->log, "refused a connection from %s: %s",
				addr, f->n_ins >= LINK_INBOUND_MAX ?
				"too many peer connections" :
				"not in peer_allow");
			f->last_refusal_log_ms = now;
		}
		evutil_closesocket(fd);
		return;
	}
	l = calloc(1, sizeof *l);
	if (l == NULL ||
	    (l->bev = bufferevent_socket_new(f->base, fd,
					     BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(l);
		evutil_closesocket(fd);
		return;
	}
	l->f = f;
	l->peer = -1;
	l->since_ms = l->last_recv_ms = l->last_send_ms = flood_now_ms();
	flood_describe_addr(sa, l->addr, sizeof l->addr);
	bufferevent_setcb(l->bev, read_cb, write_cb, event_cb, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->next = f->ins;
	if (f->ins != NULL)
		f->ins->prev = l;
	f->ins = l;
	f->n_ins++;
}

void in_tick(struct in_link *l, int64_t now)
{
	if (!l->authed) {
		if (now - l->since_ms > LINK_HELLO_TIMEOUT_MS)
			in_close(l, "no HELLO and AUTH in time");
		return;
	}
	if (now - l->last_recv_ms > LINK_DEAD_AFTER_MS) {
		in_close(l, "no word from the neighbour for 10 s");
		return;
	}
	if (now - l->last_send_ms >= LINK_PING_AFTER_MS)
		send_text(l, "PING\n", 5);
}
