/*
 * fuzz_control.c - libFuzzer target for the control socket's request
 * side (src/control.h): control_frame_ready() and
 * control_parse_request().
 *
 * Input: bytes as they arrive on the socket.  Checks:
 *  - control_frame_ready() on every prefix length the input suggests
 *    agrees with the framing rule (4-byte big-endian length, 1 ..
 *    CONTROL_FRAME_MAX, payload right after it) and control_frame_header()
 *    round-trips the length;
 *  - control_parse_request() of the whole input, and of the payload when
 *    a frame is complete, never returns an out-of-range command; when it
 *    refuses, the reason is a terminated non-empty string and req is
 *    zeroed; when it accepts, json-c on its own agrees (a JSON object with
 *    version 1 and that command, nothing after it but white space) and a
 *    lookup's member and client are the exact strings, terminated;
 *  - a tiny err buffer is never overrun.
 */
#include "fuzz_common.h"

#include <json-c/json.h>

#include "control.h"

/* Coverage is the library's: the checks below are not instrumented. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), \
			     apply_to = function)

static const char *const names[] = { NULL, "status", "stop", "reload",
				     "lookup" };

static void check_frame(const uint8_t *buf, size_t len)
{
	const unsigned char *payload = NULL;
	long got = control_frame_ready(buf, len, &payload);
	long want;

	if (len < 4) {
		want = 0;
	} else {
		uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
			     (uint32_t)buf[2] << 8 | buf[3];

		if (n == 0 || n > CONTROL_FRAME_MAX)
			want = -1;
		else
			want = len - 4 >= n ? (long)n : 0;
	}
	FUZZ_CHECK(got == want, "control_frame_ready(%zu bytes) = %ld, want "
		   "%ld", len, got, want);
	if (got > 0)
		FUZZ_CHECK(payload == buf + 4, "payload pointer");
}

static void check_header(size_t len)
{
	unsigned char hdr[4];
	uint8_t frame[5];
	const unsigned char *payload = NULL;

	control_frame_header(hdr, len);
	FUZZ_CHECK(((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		    (size_t)hdr[2] << 8 | hdr[3]) == len,
		   "header for %zu", len);
	if (len == 1) {
		memcpy(frame, hdr, 4);
		frame[4] = '{';
		FUZZ_CHECK(control_frame_ready(frame, 5, &payload) == 1 &&
			   payload == frame + 4, "one-byte frame");
	}
}

/* What json-c makes of the request on its own. */
static json_object *reference(const char *json, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *obj;
	size_t end;

	FUZZ_CHECK(tok != NULL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, json, (int)len);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (obj && end < len && (json[end] == ' ' || json[end] == '\t' ||
				    json[end] == '\r' || json[end] == '\n'))
		end++;
	if (obj != NULL && end != len) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

static void check_string(json_object *obj, const char *key, const char *got,
			 size_t max)
{
	json_object *v;
	size_t len;

	FUZZ_CHECK(json_object_object_get_ex(obj, key, &v) &&
		   json_object_is_type(v, json_type_string), "no %s", key);
	len = (size_t)json_object_get_string_len(v);
	FUZZ_CHECK(len >= 1 && len <= max && strnlen(got, max + 1) == len &&
		   memcmp(got, json_object_get_string(v), len) == 0,
		   "%s '%s' copied as '%s'", key,
		   fuzz_show(json_object_get_string(v), len),
		   fuzz_show(got, strnlen(got, max + 1)));
}

static void check_parse(const char *json, size_t len, size_t errlen)
{
	static const struct control_request zero;
	struct control_request req;
	char *err = malloc(errlen ? errlen : 1);
	enum control_command cmd;
	json_object *ref, *v;

	FUZZ_CHECK(err != NULL, "out of memory");
	memset(&req, 0x5a, sizeof req);
	cmd = control_parse_request(json, len, &req, errlen ? err : NULL,
				    errlen);
	FUZZ_CHECK(cmd >= CONTROL_INVALID && cmd <= CONTROL_LOOKUP,
		   "command %d", cmd);
	FUZZ_CHECK(req.command == cmd, "req.command %d, returned %d",
		   req.command, cmd);
	if (cmd == CONTROL_INVALID) {
		FUZZ_CHECK(memcmp(&req, &zero, sizeof req) == 0,
			   "refused request left fields set");
		if (errlen > 0)
			FUZZ_CHECK(memchr(err, '\0', errlen) &&
				   (errlen == 1 || err[0] != '\0'),
				   "no reason for a refused request");
		free(err);
		return;
	}
	free(err);
	FUZZ_CHECK(memchr(json, '\0', len) == NULL, "a NUL byte accepted");
	ref = reference(json, len);
	FUZZ_CHECK(ref != NULL && json_object_is_type(ref, json_type_object),
		   "accepted '%s' that is not one JSON object",
		   fuzz_show(json, len));
	FUZZ_CHECK(json_object_object_get_ex(ref, "version", &v) &&
		   json_object_is_type(v, json_type_int) &&
		   json_object_get_int64(v) == CONTROL_VERSION, "version");
	FUZZ_CHECK(json_object_object_get_ex(ref, "command", &v) &&
		   json_object_is_type(v, json_type_string) &&
		   (size_t)json_object_get_string_len(v) == strlen(names[cmd]) &&
		   strcmp(json_object_get_string(v), names[cmd]) == 0,
		   "command %d", cmd);
	if (cmd == CONTROL_LOOKUP) {
		FUZZ_CHECK(memchr(req.member, '\0', sizeof req.member) &&
			   memchr(req.client, '\0', sizeof req.client),
			   "unterminated lookup fields");
		check_string(ref, "member", req.member, PROTO_NAME_MAX);
		check_string(ref, "client", req.client, CONTROL_CLIENT_MAX);
	} else {
		FUZZ_CHECK(req.member[0] == '\0' && req.client[0] == '\0',
			   "fields set for command %d", cmd);
	}
	json_object_put(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *payload = NULL;
	long n;
	uint64_t rng = size;

	check_frame(data, size);
	for (int i = 0; i < 4 && size > 0; i++)
		check_frame(data, fuzz_next(&rng) % (size + 1));
	check_header(size);
	check_header(1);
	check_header(CONTROL_FRAME_MAX);
	check_parse((const char *)data, size, size % 5 == 4 ? size % 3 : 256);
	n = control_frame_ready(data, size, &payload);
	if (n > 0)
		check_parse((const char *)payload, (size_t)n, 256);
	return 0;
}

#pragma clang attribute pop
