/*
 * lines.c - taking protocol lines off a libevent input buffer; see lines.h.
 *
 * A line that sits in one chain of the buffer (the usual case) is framed
 * in place: evbuffer_pullup of bytes already contiguous copies nothing.
 */
#include "lines.h"

/* Drops input up to and including the next "\n"; false if none yet. */
static bool discard_rest_of_line(struct evbuffer *in, bool *discarding)
{
	size_t eol_len = 0;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len,
						      EVBUFFER_EOL_LF);

	if (eol.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return false;
	}
	evbuffer_drain(in, (size_t)eol.pos + eol_len);
	*discarding = false;
	return true;
}

enum proto_frame lines_next(struct evbuffer *in, size_t max_line, bool eof,
			    bool *discarding, const char **line, size_t *len,
			    size_t *consumed)
{
	size_t avail, want;
	bool ended = false;
	enum proto_frame frame;

	*consumed = 0;
	if (*discarding && !discard_rest_of_line(in, discarding))
		return FRAME_PARTIAL;
	avail = evbuffer_get_length(in);
	want = avail < max_line + 2 ? avail : max_line + 2;
	if (want == 0)
		return FRAME_PARTIAL;
	*line = (const char *)evbuffer_pullup(in, (ssize_t)want);
	if (*line == NULL) {		/* out of memory: lose this input */
		*discarding = true;
		return FRAME_PARTIAL;
	}
	frame = proto_frame(*line, want, max_line, eof && want == avail, len,
			    consumed, &ended);
	if (frame == FRAME_OVERLONG)
		*discarding = !ended;
	return frame;
}
