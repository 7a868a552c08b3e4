/*
 * linkmsg.h - the messages of a link between two herd members.
 *
 * A link is a TCP connection from one member (the sender) to a neighbour's
 * peer port (the receiver), carrying the sender's location updates; each
 * pair of neighbours has two links, one each way.  Every message is one
 * text line, so a capture of a link reads well with nc:
 *
 *   sender   -> receiver   HELLO 1 <herd> <from> <to> <epoch> <nonce>
 *   receiver -> sender     WELCOME 1 <epoch> <change> <nonce> <mac>
 *                          ("of your table, epoch <epoch>, I hold every
 *                          change up to <change>"; epoch 0 = nothing)
 *   sender   -> receiver   AUTH <mac>
 *                          (nonces and MACs: see linkauth.h)
 *   receiver -> sender     REFUSE <reason...>           (then closes)
 *   sender   -> receiver   AT <server> <diff> <client> <location> <time>
 *   sender   -> receiver   MARK <change>
 *                          ("you now hold every change of mine up to
 *                          <change>"; sent after the updates it covers)
 *   either way             PING                          (when idle)
 *
 * Epochs are 16 hex digits, changes decimal.  Updates stay plain AT lines,
 * so a classic server could read them.
 */
#ifndef HERD_LINKMSG_H
#define HERD_LINKMSG_H

#include <stddef.h>
#include <stdint.h>

#include "linkauth.h"
#include "protocol.h"

#define LINK_VERSION 1

enum link_msg_type {
	LINK_INVALID = 0,
	LINK_HELLO,
	LINK_WELCOME,
	LINK_REFUSE,
	LINK_AT,
	LINK_MARK,
	LINK_PING,
	LINK_AUTH,
};

struct link_msg {
	enum link_msg_type type;
	struct proto_span herd, from, to;	/* HELLO */
	uint64_t epoch;				/* HELLO, WELCOME */
	uint64_t change;			/* WELCOME, MARK */
	struct proto_span nonce;		/* HELLO, WELCOME */
	struct proto_span mac;			/* WELCOME, AUTH */
	struct proto_span reason;		/* REFUSE */
	struct proto_cmd at;			/* AT */
};

/* Parses one line (terminator removed); LINK_INVALID if it is not one. */
enum link_msg_type link_msg_parse(const char *line, size_t len,
				  const struct proto_limits *lim,
				  struct link_msg *msg);

#endif
