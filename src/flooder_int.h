/*
 * flooder_int.h - what the flooder's files share (flooder.c runs the
 * process, flood_out.c the links to neighbours, flood_in.c the links
 * from them).  Not a contract for anything outside the flooder.
 */
#ifndef HERD_FLOODER_INT_H
#define HERD_FLOODER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "linkauth.h"
#include "linkmsg.h"
#include "log.h"
#include "stats.h"
#include "table.h"

#define LINK_PING_AFTER_MS	3000	/* idle this long: send PING */
#define LINK_DEAD_AFTER_MS	10000	/* silent this long: drop the link */
#define LINK_HELLO_TIMEOUT_MS	10000
#define LINK_STABLE_MS		10000	/* up this long: reset the backoff */
#define LINK_BACKOFF_FIRST_MS	100
#define LINK_BACKOFF_CAP_MS	10000
#define LINK_OUT_HIGH		(1024 * 1024)	/* stop pulling changes */
#define LINK_OUT_LOW		(256 * 1024)	/* resume */
#define LINK_BATCH		4096	/* changes or slots per pump turn */
#define LINK_GAP_MS		100	/* PENDING this long: scan instead */
#define LINK_INVALID_MAX	100	/* bad lines before we drop a peer */
#define LINK_INBOUND_MAX	(2 * CONF_MEMBERS_MAX)	/* open in-links */

enum out_state {
	OUT_IDLE,		/* waiting to (re)connect */
	OUT_CONNECTING,
	OUT_HELLO,		/* HELLO sent, waiting for WELCOME */
	OUT_UP,
};

struct flooder;

/* A link to a neighbour: we send it our changes. */
struct out_link {
	struct flooder *f;
	size_t peer;			/* member index */
	unsigned index;			/* into f->outs and stats->links */
	bool classic;			/* plain AT lines to its client port */
	enum out_state state;
	struct bufferevent *bev;
	struct event *retry_ev;
	unsigned backoff_ms;
	bool failing;			/* a connect failure is already logged */
	bool discarding;		/* inside an over-long line */
	char nonce[LINKAUTH_NONCE_LEN + 1];	/* ours, in the HELLO */
	int64_t state_ms;		/* when it entered state */
	int64_t last_recv_ms, last_send_ms, pending_ms;
	uint64_t cursor;		/* every change <= cursor is sent */
	uint64_t marked;		/* the cursor in our last MARK */
	uint64_t catchup_upto;		/* changes up to here: catching up */
	bool scanning;			/* catching up by table scan */
	size_t scan_pos;
	uint64_t scan_upto;
	int64_t scan_started_ms;
	uint64_t scan_sent, scan_bytes;
	uint64_t sent, marks;		/* counters for the log */
	struct link_stats *stats;
};

/* A link from a neighbour: we apply its changes. */
struct in_link {
	struct flooder *f;
	struct bufferevent *bev;
	struct in_link *prev, *next;
	int peer;			/* member index; -1 until HELLO */
	bool authed;			/* AUTH checked: updates welcome */
	uint64_t epoch;			/* the sender's table epoch */
	char nonce_s[LINKAUTH_NONCE_LEN + 1];	/* from the HELLO */
	char nonce_r[LINKAUTH_NONCE_LEN + 1];	/* ours, in the WELCOME */
	bool discarding;		/* inside an over-long line */
	bool closing;			/* free once the output is written */
	int64_t since_ms, last_recv_ms, last_send_ms;
	uint64_t received, applied, invalid;
	struct link_stats *stats;	/* NULL until HELLO */
	char addr[64];
};

struct flooder {
	const struct herd_conf *conf;
	const struct conf_member *me;
	struct table *table;
	struct member_stats *stats;
	struct herd_log *log;
	struct proto_limits limits;
	struct linkauth_secret secret;
	struct event_base *base;
	struct event *wake_ev, *pump_ev, *tick_ev, *signal_evs[2];
	struct evconnlistener *listener;
	struct evbuffer *stage;		/* a pump turn's lines for one link */
	int wake_fd;
	struct out_link outs[CONF_MEMBERS_MAX];
	size_t n_outs;
	struct in_link *ins;
	size_t n_ins;
	int64_t last_refusal_log_ms;
	size_t line_cap;
	char *line;			/* one record's line */
	bool stopping;
};

int64_t flood_now_ms(void);
void flood_kick(struct flooder *f);

/* flood_out.c */
void out_init(struct flooder *f, struct out_link *l, size_t peer,
	      unsigned index);
void out_connect(struct out_link *l);
enum pump_result { PUMP_IDLE, PUMP_MORE, PUMP_WAIT };
enum pump_result out_pump(struct out_link *l);
bool out_wants_ring(const struct out_link *l);
void out_tick(struct out_link *l, int64_t now);
void out_close(struct out_link *l, const char *why);

/* flood_in.c */
void in_accept(struct flooder *f, evutil_socket_t fd,
	       const struct sockaddr *sa);
void in_tick(struct in_link *l, int64_t now);
void in_close(struct in_link *l, const char *why);

/* Both: reading lines off a link, bounded by max_line. */
typedef bool (*flood_line_fn)(void *arg, const char *line, size_t len);
bool flood_read_lines(struct flooder *f, struct bufferevent *bev,
		      bool *discarding, flood_line_fn fn, void *arg);
void flood_describe_addr(const struct sockaddr *sa, char *out, size_t cap);

#endif
