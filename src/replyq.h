/*
 * replyq.h - keeping a connection's replies in order while some of them
 * (WHATSAT answers) arrive later.
 *
 * While no answer is outstanding, replies go straight to the connection's
 * output.  An outstanding answer reserves a slot; replies to later
 * commands are held behind it, and when the slot is filled, it and what it
 * held move to the output, followed by any later slots already filled.
 */
#ifndef HERD_REPLYQ_H
#define HERD_REPLYQ_H

#include <stddef.h>

#include <event2/buffer.h>

struct replyq_slot;

struct replyq {
	struct evbuffer *out;		/* the connection's output */
	struct replyq_slot *head, *tail;
	size_t pending;			/* slots not yet filled */
	size_t held;			/* bytes held behind pending slots */
};

/* Called for each unfilled slot when the queue is cleared. */
typedef void (*replyq_cancel_fn)(void *cookie);

void replyq_init(struct replyq *q, struct evbuffer *out);

/* Adds reply bytes: to out, or held behind the last slot. 0 or -1. */
int replyq_add(struct replyq *q, const void *data, size_t len);

/* Reserves the next reply's place; NULL if out of memory. */
struct replyq_slot *replyq_reserve(struct replyq *q);
void replyq_set_cookie(struct replyq_slot *slot, void *cookie);

/* The buffer a slot's answer is written into, before replyq_complete. */
struct evbuffer *replyq_answer(struct replyq_slot *slot);

/* The answer is whole: it goes out in order; the slot is then freed. */
void replyq_complete(struct replyq *q, struct replyq_slot *slot);

/* Drops everything, calling cancel(cookie) for each unfilled slot. */
void replyq_clear(struct replyq *q, replyq_cancel_fn cancel);

#endif
