/*
 * replyq.c - in-order replies with late answers; see replyq.h.
 */
#include "replyq.h"

#include <stdbool.h>
#include <stdlib.h>

struct replyq_slot {
	struct replyq_slot *next;
	bool filled;
	void *cookie;
	struct evbuffer *answer;	/* this slot's reply */
	struct evbuffer *held;		/* replies that came after it */
};

void replyq_init(struct replyq *q, struct evbuffer *out)
{
	q->out = out;
	q->head = q->tail = NULL;
	q->pending = q->held = 0;
}

int replyq_add(struct replyq *q, const void *data, size_t len)
{
	if (q->tail == NULL)
		return evbuffer_add(q->out, data, len);
	q->held += len;
	return evbuffer_add(q->tail->held, data, len);
}

static void free_slot(struct replyq_slot *slot)
{
	if (slot->answer != NULL)
		evbuffer_free(slot->answer);
	if (slot->held != NULL)
		evbuffer_free(slot->held);
	free(slot);
}

struct replyq_slot *replyq_reserve(struct replyq *q)
{
	struct replyq_slot *slot = calloc(1, sizeof *slot);

	if (slot == NULL)
		return NULL;
	slot->answer = evbuffer_new();
	slot->held = evbuffer_new();
	if (slot->answer == NULL || slot->held == NULL) {
		free_slot(slot);
		return NULL;
	}
	if (q->tail != NULL)
		q->tail->next = slot;
	else
		q->head = slot;
	q->tail = slot;
	q->pending++;
	return slot;
}

void replyq_set_cookie(struct replyq_slot *slot, void *cookie)
{
	slot->cookie = cookie;
}

/* Moves filled slots at the head, and what they held, to the output. */
static void flush_ready(struct replyq *q)
{
	while (q->head != NULL && q->head->filled) {
		struct replyq_slot *slot = q->head;

		q->held -= evbuffer_get_length(slot->held);
		evbuffer_add_buffer(q->out, slot->answer);
		evbuffer_add_buffer(q->out, slot->held);
		q->head = slot->next;
		if (q->head == NULL)
			q->tail = NULL;
		free_slot(slot);
	}
}

struct evbuffer *replyq_answer(struct replyq_slot *slot)
{
	return slot->answer;
}

void replyq_complete(struct replyq *q, struct replyq_slot *slot)
{
	slot->filled = true;
	q->pending--;
	flush_ready(q);
}

void replyq_clear(struct replyq *q, replyq_cancel_fn cancel)
{
	while (q->head != NULL) {
		struct replyq_slot *slot = q->head;

		q->head = slot->next;
		if (!slot->filled && cancel != NULL)
			cancel(slot->cookie);
		free_slot(slot);
	}
	q->tail = NULL;
	q->pending = q->held = 0;
}
