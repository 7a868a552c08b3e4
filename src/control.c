/*
 * control.c - the control socket protocol (see control.h): request
 * parsing and framing for herdd's end, and the blocking client herdctl
 * uses.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#define CONTROL_RETRY_MS	10	/* connect retry while the backlog is full */

/* Strict JSON, but trailing bytes are ours to report. */
#ifdef JSON_TOKENER_ALLOW_TRAILING_CHARS
#define TOKENER_FLAGS	(JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS)
#else
#define TOKENER_FLAGS	JSON_TOKENER_STRICT
#endif

#if JSON_C_VERSION_NUM >= (15 << 8)
#define parse_end_offset(tok)	json_tokener_get_parse_end(tok)
#else
#define parse_end_offset(tok)	((size_t)(tok)->char_offset)
#endif

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum control_command command;
} commands[] = {
	{ "status", CONTROL_STATUS },
	{ "stop", CONTROL_STOP },
	{ "reload", CONTROL_RELOAD },
	{ "lookup", CONTROL_LOOKUP },
};

static enum control_command fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", why);
	return CONTROL_INVALID;
}

/* Finishes a parse that consumed all its input: numbers, true, null. */
static json_object *parse_end(json_tokener *tok, json_object *obj,
			      const char **why)
{
	if (obj != NULL || json_tokener_get_error(tok) != json_tokener_continue)
		return obj;
	obj = json_tokener_parse_ex(tok, "", 1);
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_success)
		*why = "request is not a JSON object";	/* null */
	else if (obj == NULL)
		*why = "truncated JSON";
	return obj;
}

/* The whole of json..json+len as one JSON value, or NULL. */
static json_object *parse_whole(const char *json, size_t len,
				const char **why)
{
	json_tokener *tok;
	json_object *obj;
	size_t end;

	if (len == 0 || len > CONTROL_FRAME_MAX) {
		*why = len == 0 ? "empty request" : "request too long";
		return NULL;
	}
	if (memchr(json, '\0', len) != NULL) {
		*why = "request contains a NUL byte";
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, TOKENER_FLAGS);
	*why = "not valid JSON";
	obj = json_tokener_parse_ex(tok, json, (int)len);
	end = obj != NULL ? parse_end_offset(tok) : len;
	obj = parse_end(tok, obj, why);
	json_tokener_free(tok);
	while (obj != NULL && end < len && strchr(" \t\r\n", json[end]))
		end++;
	if (obj != NULL && end != len) {
		json_object_put(obj);
		*why = "data after the JSON value";
		return NULL;
	}
	return obj;
}

/* The string member key of obj, its length in *len, or NULL. */
static const char *string_field(json_object *obj, const char *key,
				size_t *len)
{
	json_object *value;

	if (!json_object_object_get_ex(obj, key, &value) ||
	    !json_object_is_type(value, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(value);
	return json_object_get_string(value);
}

static bool version_ok(json_object *obj)
{
	json_object *value;

	return json_object_object_get_ex(obj, "version", &value) &&
	       json_object_is_type(value, json_type_int) &&
	       json_object_get_int64(value) == CONTROL_VERSION;
}

static enum control_command command_of(json_object *obj)
{
	const char *name;
	size_t len;

	name = string_field(obj, "command", &len);
	for (size_t i = 0; name != NULL && i < sizeof(commands) /
	     sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == len &&
		    memcmp(commands[i].name, name, len) == 0)
			return commands[i].command;
	return CONTROL_INVALID;
}

/* Copies the string field key (1..max bytes, no NUL) into out. */
static bool copy_name(json_object *obj, const char *key, char *out,
		      size_t max)
{
	const char *value;
	size_t len;

	value = string_field(obj, key, &len);
	if (value == NULL || len == 0 || len > max ||
	    memchr(value, '\0', len) != NULL)
		return false;
	memcpy(out, value, len);
	out[len] = '\0';
	return true;
}

static enum control_command parse_object(json_object *obj,
					 struct control_request *req,
					 char *err, size_t errlen)
{
	if (!json_object_is_type(obj, json_type_object))
		return fail(err, errlen, "request is not a JSON object");
	if (!version_ok(obj))
		return fail(err, errlen, "request version must be 1");
	req->command = command_of(obj);
	if (req->command == CONTROL_INVALID)
		return fail(err, errlen, "unknown command (want status, "
			    "stop, reload or lookup)");
	if (req->command != CONTROL_LOOKUP)
		return req->command;
	if (!copy_name(obj, "member", req->member, PROTO_NAME_MAX))
		return fail(err, errlen, "lookup needs \"member\": a name "
			    "of 1 to 63 bytes");
	if (!copy_name(obj, "client", req->client, CONTROL_CLIENT_MAX))
		return fail(err, errlen, "lookup needs \"client\": a name "
			    "of 1 to 1024 bytes");
	return req->command;
}

enum control_command control_parse_request(const char *json, size_t len,
					   struct control_request *req,
					   char *err, size_t errlen)
{
	const char *why = NULL;
	enum control_command command;
	json_object *obj;

	memset(req, 0, sizeof(*req));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	obj = parse_whole(json, len, &why);
	if (obj == NULL)
		return fail(err, errlen, why);
	command = parse_object(obj, req, err, errlen);
	json_object_put(obj);
	if (command == CONTROL_INVALID)
		memset(req, 0, sizeof(*req));
	return command;
}

/* ------------------------------------------------------------------ */
/* Frames                                                               */
/* ------------------------------------------------------------------ */

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * A zero length is refused like an oversized one: no request or answer
 * is empty, and 0 already means "need more bytes".
 */
long control_frame_ready(const unsigned char *buf, size_t len,
			 const unsigned char **payload)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = get_be32(buf);
	if (n == 0 || n > CONTROL_FRAME_MAX)
		return -1;
	if (len - 4 < n)
		return 0;
	*payload = buf + 4;
	return (long)n;
}

void control_frame_header(unsigned char hdr[4], size_t len)
{
	uint32_t n = (uint32_t)len;

	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
}

/* ------------------------------------------------------------------ */
/* The blocking client                                                  */
/* ------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none) for poll(), or 0. */
static int time_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Waits until fd is ready for events; 0, or -1 with errno set. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n, left;

	for (;;) {
		left = time_left(deadline);
		if (left == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Completes a non-blocking connect that said EINPROGRESS. */
static int finish_connect(int fd, int64_t deadline)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (wait_fd(fd, POLLOUT, deadline) != 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/*
 * A UNIX stream connect fails with EAGAIN while the listener's backlog
 * is full; it is retried until the deadline.
 */
static int connect_until(int fd, const struct sockaddr_un *sun,
			 int64_t deadline)
{
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun,
			    sizeof(*sun)) == 0)
			return 0;
		if (errno == EINPROGRESS)
			return finish_connect(fd, deadline);
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (time_left(deadline) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno == EAGAIN && poll(NULL, 0, CONTROL_RETRY_MS) < 0 &&
		    errno != EINTR)
			return -1;
	}
}

static int open_socket(const char *path, int64_t deadline)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect_until(fd, &sun, deadline) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int send_all(int fd, const unsigned char *buf, size_t len,
		    int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (wait_fd(fd, POLLOUT, deadline) != 0) {
			return -1;
		}
	}
	return 0;
}

static int send_request(int fd, const char *request, int64_t deadline)
{
	size_t len = strlen(request);
	unsigned char hdr[4];

	if (len == 0 || len > CONTROL_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	control_frame_header(hdr, len);
	if (send_all(fd, hdr, sizeof(hdr), deadline) != 0)
		return -1;
	return send_all(fd, (const unsigned char *)request, len, deadline);
}

/* Reads exactly len bytes; an early end of stream is EPROTO. */
static int recv_all(int fd, unsigned char *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		n = recv(fd, buf, len, 0);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == 0 || errno == ECONNRESET) {
			errno = EPROTO;	/* herdd hung up without a whole answer */
			return -1;
		} else if (errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (wait_fd(fd, POLLIN, deadline) != 0) {
			return -1;
		}
	}
	return 0;
}

static char *recv_answer(int fd, int64_t deadline)
{
	unsigned char hdr[4];
	char *answer;
	uint32_t n;
	int saved;

	if (recv_all(fd, hdr, sizeof(hdr), deadline) != 0)
		return NULL;
	n = get_be32(hdr);
	if (n == 0 || n > CONTROL_FRAME_MAX) {
		errno = EPROTO;
		return NULL;
	}
	answer = malloc((size_t)n + 1);
	if (answer == NULL)
		return NULL;
	if (recv_all(fd, (unsigned char *)answer, n, deadline) != 0) {
		saved = errno;
		free(answer);
		errno = saved;
		return NULL;
	}
	if (memchr(answer, '\0', n) != NULL) {
		free(answer);
		errno = EPROTO;
		return NULL;
	}
	answer[n] = '\0';
	return answer;
}

char *control_call(const char *path, const char *request, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	char *answer = NULL;
	int fd, saved;

	fd = open_socket(path, deadline);
	if (fd < 0)
		return NULL;
	/*
	 * herdd may answer and close before it has read all of a request it
	 * refuses; its answer is still worth reading.
	 */
	if (send_request(fd, request, deadline) == 0 || errno == EPIPE ||
	    errno == ECONNRESET)
		answer = recv_answer(fd, deadline);
	saved = errno;
	close(fd);
	errno = saved;
	return answer;
}
