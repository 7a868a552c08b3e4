/*
 * lines.h - taking protocol lines off a libevent input buffer.
 *
 * Shared by the client port (worker) and the peer links (flooder): frames
 * with proto_frame(), bounded by max_line, and remembers across reads that
 * the rest of an over-long line is to be discarded.
 */
#ifndef HERD_LINES_H
#define HERD_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "protocol.h"

/*
 * Finds the next line in in.  FRAME_LINE / FRAME_OVERLONG: *line and *len
 * are valid until the caller drains *consumed bytes (which it must do
 * before the next call); for FRAME_OVERLONG *len is max_line and the rest
 * of the line is dropped by later calls.  FRAME_EMPTY: just drain.
 * FRAME_PARTIAL: wait for more input.  eof: no more input will come, so an
 * unterminated last line is a line.
 */
enum proto_frame lines_next(struct evbuffer *in, size_t max_line, bool eof,
			    bool *discarding, const char **line, size_t *len,
			    size_t *consumed);

#endif
