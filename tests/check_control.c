/*
 * check_control.c - unit tests for control.c: request parsing, frames,
 * and control_call() against a small server forked for each test, which
 * misbehaves in one chosen way.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "tap.h"

#define ERR_MAX 256

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

static struct control_request req;
static char err[ERR_MAX];

static enum control_command parse(const char *json)
{
	memset(&req, 0x55, sizeof(req));
	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return control_parse_request(json, strlen(json), &req, err,
				     sizeof(err));
}

static const struct {
	const char *json;
	enum control_command command;
} good[] = {
	{ "{\"version\":1,\"command\":\"status\"}", CONTROL_STATUS },
	{ "{\"version\":1,\"command\":\"stop\"}", CONTROL_STOP },
	{ "{\"version\":1,\"command\":\"reload\"}", CONTROL_RELOAD },
	{ " {\"command\" : \"status\", \"version\" : 1}\n", CONTROL_STATUS },
	{ "{\"version\":1,\"command\":\"stop\",\"why\":[1,{\"a\":null}]}",
	  CONTROL_STOP },
};

START_TEST(parse_good)
{
	ck_assert_int_eq(parse(good[_i].json), good[_i].command);
	ck_assert_int_eq(req.command, good[_i].command);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(req.member, "");
	ck_assert_str_eq(req.client, "");
}
END_TEST

START_TEST(parse_lookup)
{
	ck_assert_int_eq(parse("{\"version\":1,\"command\":\"lookup\","
			       "\"member\":\"Riley\",\"client\":"
			       "\"kiwi.cs.ucla.edu\",\"extra\":true}"),
			 CONTROL_LOOKUP);
	ck_assert_str_eq(req.member, "Riley");
	ck_assert_str_eq(req.client, "kiwi.cs.ucla.edu");
}
END_TEST

START_TEST(parse_lookup_escapes)
{
	ck_assert_int_eq(parse("{\"version\":1,\"command\":\"lookup\","
			       "\"member\":\"R\\u00e9\",\"client\":"
			       "\"a\\/b\\\"c\"}"), CONTROL_LOOKUP);
	ck_assert_str_eq(req.member, "R\xc3\xa9");
	ck_assert_str_eq(req.client, "a/b\"c");
}
END_TEST

/* A JSON string of n copies of c, with quotes. */
static char *long_name(size_t n, char c)
{
	char *s = malloc(n + 3);

	ck_assert_ptr_nonnull(s);
	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

static enum control_command lookup_of(size_t member_len, size_t client_len)
{
	char *member = long_name(member_len, 'm');
	char *client = long_name(client_len, 'c');
	char *json = malloc(member_len + client_len + 128);
	enum control_command got;

	ck_assert_ptr_nonnull(json);
	sprintf(json, "{\"version\":1,\"command\":\"lookup\",\"member\":%s,"
		"\"client\":%s}", member, client);
	got = parse(json);
	free(member);
	free(client);
	free(json);
	return got;
}

START_TEST(parse_lookup_limits)
{
	ck_assert_int_eq(lookup_of(1, 1), CONTROL_LOOKUP);
	ck_assert_int_eq(lookup_of(PROTO_NAME_MAX, CONTROL_CLIENT_MAX),
			 CONTROL_LOOKUP);
	ck_assert_uint_eq(strlen(req.member), PROTO_NAME_MAX);
	ck_assert_uint_eq(strlen(req.client), CONTROL_CLIENT_MAX);
	ck_assert_int_eq(lookup_of(PROTO_NAME_MAX + 1, 1), CONTROL_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "member"));
	ck_assert_int_eq(lookup_of(1, CONTROL_CLIENT_MAX + 1),
			 CONTROL_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "client"));
	ck_assert_int_eq(lookup_of(0, 1), CONTROL_INVALID);
	ck_assert_int_eq(lookup_of(1, 0), CONTROL_INVALID);
}
END_TEST

/* Each is invalid; the reason must mention the word given. */
static const struct {
	const char *json;
	const char *reason;
} bad[] = {
	{ "{\"version\":2,\"command\":\"status\"}", "version" },
	{ "{\"version\":0,\"command\":\"status\"}", "version" },
	{ "{\"version\":\"1\",\"command\":\"status\"}", "version" },
	{ "{\"version\":1.0,\"command\":\"status\"}", "version" },
	{ "{\"version\":true,\"command\":\"status\"}", "version" },
	{ "{\"version\":4294967297,\"command\":\"status\"}", "version" },
	{ "{\"command\":\"status\"}", "version" },
	{ "{\"version\":1}", "command" },
	{ "{\"version\":1,\"command\":\"restart\"}", "command" },
	{ "{\"version\":1,\"command\":\"STATUS\"}", "command" },
	{ "{\"version\":1,\"command\":\"status \"}", "command" },
	{ "{\"version\":1,\"command\":\"stat\"}", "command" },
	{ "{\"version\":1,\"command\":7}", "command" },
	{ "{\"version\":1,\"command\":[\"status\"]}", "command" },
	{ "{\"version\":1,\"command\":\"lookup\"}", "member" },
	{ "{\"version\":1,\"command\":\"lookup\",\"member\":\"Riley\"}",
	  "client" },
	{ "{\"version\":1,\"command\":\"lookup\",\"client\":\"kiwi\"}",
	  "member" },
	{ "{\"version\":1,\"command\":\"lookup\",\"member\":5,"
	  "\"client\":\"kiwi\"}", "member" },
	{ "{\"version\":1,\"command\":\"lookup\",\"member\":\"Riley\","
	  "\"client\":null}", "client" },
	{ "{\"version\":1,\"command\":\"lookup\",\"member\":\"Ri\\u0000ley\","
	  "\"client\":\"kiwi\"}", "member" },
	{ "[1,\"status\"]", "object" },
	{ "\"status\"", "object" },
	{ "null", "object" },
	{ "true", "object" },
	{ "", "empty" },
	{ "   ", "JSON" },
	{ "{\"version\":1,\"command\":\"status\"", "truncated" },
	{ "{\"version\":1,\"comm", "truncated" },
	{ "{\"version\":1,\"command\":\"status\"}}", "after" },
	{ "{\"version\":1,\"command\":\"status\"} x", "after" },
	{ "{\"version\":1,\"command\":\"status\"}{}", "after" },
	{ "{'version':1,'command':'status'}", "JSON" },
	{ "{\"version\":1,\"command\":\"status\",}", "JSON" },
	{ "\x01\x02\xff\xfe garbage", "JSON" },
	{ "GET / HTTP/1.0\r\n\r\n", "JSON" },
};

START_TEST(parse_bad)
{
	ck_assert_msg(parse(bad[_i].json) == CONTROL_INVALID,
		      "accepted %s", bad[_i].json);
	ck_assert_int_eq(req.command, CONTROL_INVALID);
	ck_assert_msg(strstr(err, bad[_i].reason) != NULL,
		      "%s: reason \"%s\" lacks \"%s\"", bad[_i].json, err,
		      bad[_i].reason);
}
END_TEST

START_TEST(parse_nul_byte)
{
	static const char json[] = "{\"version\":1,\"command\":\"status\"}";
	char buf[sizeof(json) + 1];

	memcpy(buf, json, sizeof(json));	/* with its NUL */
	ck_assert_int_eq(control_parse_request(buf, sizeof(json), &req, err,
					       sizeof(err)), CONTROL_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
}
END_TEST

START_TEST(parse_not_terminated)
{
	/* The length counts, not a terminator: parse a prefix. */
	static const char json[] =
		"{\"version\":1,\"command\":\"stop\"}{\"version\":2}";

	ck_assert_int_eq(control_parse_request(json, 30, &req, err,
					       sizeof(err)), CONTROL_STOP);
	ck_assert_int_eq(control_parse_request(json, 29, &req, err,
					       sizeof(err)), CONTROL_INVALID);
}
END_TEST

START_TEST(parse_tiny_err)
{
	char small[4];

	ck_assert_int_eq(control_parse_request("[]", 2, &req, small,
					       sizeof(small)),
			 CONTROL_INVALID);
	ck_assert_uint_eq(strlen(small), 3);
	ck_assert_int_eq(control_parse_request("[]", 2, &req, NULL, 0),
			 CONTROL_INVALID);
}
END_TEST

START_TEST(parse_deep_nesting)
{
	size_t depth = 100000;
	char *json = malloc(2 * depth + 64);
	size_t n;

	ck_assert_ptr_nonnull(json);
	n = (size_t)sprintf(json, "{\"version\":1,\"command\":\"stop\",\"x\":");
	memset(json + n, '[', depth);
	memset(json + n + depth, ']', depth);
	strcpy(json + n + 2 * depth, "}");
	ck_assert_int_eq(parse(json), CONTROL_INVALID);
	free(json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Frames                                                               */
/* ------------------------------------------------------------------ */

START_TEST(frame_header)
{
	unsigned char hdr[4];

	control_frame_header(hdr, 0x01020304);
	ck_assert_mem_eq(hdr, "\x01\x02\x03\x04", 4);
	control_frame_header(hdr, 5);
	ck_assert_mem_eq(hdr, "\0\0\0\x05", 4);
	control_frame_header(hdr, CONTROL_FRAME_MAX);
	ck_assert_mem_eq(hdr, "\0\x40\0\0", 4);
}
END_TEST

START_TEST(frame_partial_header)
{
	const unsigned char buf[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };
	const unsigned char *payload = NULL;

	for (size_t len = 0; len < 4; len++)
		ck_assert_int_eq(control_frame_ready(buf, len, &payload), 0);
	ck_assert_ptr_null(payload);
}
END_TEST

START_TEST(frame_partial_payload)
{
	const unsigned char buf[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };
	const unsigned char *payload = NULL;

	for (size_t len = 4; len < sizeof(buf); len++)
		ck_assert_int_eq(control_frame_ready(buf, len, &payload), 0);
	ck_assert_ptr_null(payload);
	ck_assert_int_eq(control_frame_ready(buf, sizeof(buf), &payload), 5);
	ck_assert_ptr_eq(payload, buf + 4);
}
END_TEST

START_TEST(frame_followed_by_more)
{
	const unsigned char buf[] = { 0, 0, 0, 2, 'o', 'k', 0, 0, 0, 9, 'x' };
	const unsigned char *payload = NULL;

	ck_assert_int_eq(control_frame_ready(buf, sizeof(buf), &payload), 2);
	ck_assert_mem_eq(payload, "ok", 2);
}
END_TEST

START_TEST(frame_too_big)
{
	unsigned char hdr[4];
	const unsigned char *payload = NULL;
	const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff };

	control_frame_header(hdr, CONTROL_FRAME_MAX);
	ck_assert_int_eq(control_frame_ready(hdr, 4, &payload), 0);
	control_frame_header(hdr, (size_t)CONTROL_FRAME_MAX + 1);
	ck_assert_int_eq(control_frame_ready(hdr, 4, &payload), -1);
	ck_assert_int_eq(control_frame_ready(huge, 4, &payload), -1);
	ck_assert_ptr_null(payload);
}
END_TEST

START_TEST(frame_empty)
{
	const unsigned char buf[] = { 0, 0, 0, 0, '{' };
	const unsigned char *payload = NULL;

	ck_assert_int_eq(control_frame_ready(buf, sizeof(buf), &payload), -1);
}
END_TEST

START_TEST(frame_max_whole)
{
	size_t len = 4 + (size_t)CONTROL_FRAME_MAX;
	unsigned char *buf = calloc(1, len);
	const unsigned char *payload = NULL;

	ck_assert_ptr_nonnull(buf);
	control_frame_header(buf, CONTROL_FRAME_MAX);
	ck_assert_int_eq(control_frame_ready(buf, len - 1, &payload), 0);
	ck_assert_int_eq(control_frame_ready(buf, len, &payload),
			 CONTROL_FRAME_MAX);
	free(buf);
}
END_TEST

/* ------------------------------------------------------------------ */
/* control_call against a forked server                                 */
/* ------------------------------------------------------------------ */

enum behaviour {
	SERVE_ECHO,		/* answers {"ok":true,"got":REQUEST} */
	SERVE_SILENT,		/* reads the request, never answers */
	SERVE_NO_ACCEPT,	/* listens, never accepts */
	SERVE_HUGE,		/* answers a 4 GiB header */
	SERVE_TOO_BIG,		/* answers CONTROL_FRAME_MAX + 1 */
	SERVE_EMPTY,		/* answers a zero-length frame */
	SERVE_HALF,		/* half a frame, then closes */
	SERVE_HALF_HEADER,	/* two bytes of header, then closes */
	SERVE_CLOSE,		/* closes without a word */
	SERVE_NUL,		/* an answer with a NUL byte in it */
	SERVE_SLOW,		/* the answer a byte at a time */
	SERVE_BIG,		/* a 1 MiB answer */
	SERVE_EARLY,		/* answers before reading, then closes */
};

static char dir[64];
static char path[128];
static pid_t server = -1;
static int listen_fd = -1;

static void setup_dir(void)
{
	strcpy(dir, "/tmp/check_control-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
}

static void teardown_server(void)
{
	int status;

	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
		server = -1;
	}
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	unlink(path);
	rmdir(dir);
}

static int listen_on(const char *p, int backlog)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sun.sun_path, p);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n <= 0)
			_exit(2);
		p += n;
		len -= (size_t)n;
	}
}

static void read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n <= 0)
			_exit(3);
		p += n;
		len -= (size_t)n;
	}
}

/* The request's payload, NUL-terminated (malloc'd). */
static char *read_request(int fd)
{
	unsigned char hdr[4];
	const unsigned char *payload;
	uint32_t n;
	char *buf;

	read_all(fd, hdr, 4);
	if (control_frame_ready(hdr, 4, &payload) < 0)
		_exit(4);
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	buf = malloc(n + 1);
	if (buf == NULL)
		_exit(5);
	read_all(fd, buf, n);
	buf[n] = '\0';
	return buf;
}

static void send_frame(int fd, const char *payload, size_t len)
{
	unsigned char hdr[4];

	control_frame_header(hdr, len);
	write_all(fd, hdr, 4);
	write_all(fd, payload, len);
}

static void serve_echo(int fd)
{
	char *request = read_request(fd);
	char *answer = malloc(strlen(request) + 64);

	if (answer == NULL)
		_exit(5);
	sprintf(answer, "{\"version\":1,\"ok\":true,\"got\":%s}", request);
	send_frame(fd, answer, strlen(answer));
	free(request);
	free(answer);
}

static void serve_big(int fd, size_t len)
{
	char *answer = malloc(len);

	if (answer == NULL)
		_exit(5);
	free(read_request(fd));
	memset(answer, 'a', len);
	send_frame(fd, answer, len);
	free(answer);
}

static void serve_slow(int fd)
{
	const char answer[] = "\0\0\0\x0b{\"ok\":true}";

	free(read_request(fd));
	for (size_t i = 0; i < sizeof(answer) - 1; i++) {
		write_all(fd, answer + i, 1);
		usleep(2000);
	}
}

static void serve_one(int fd, enum behaviour how)
{
	switch (how) {
	case SERVE_ECHO: serve_echo(fd); break;
	case SERVE_SILENT: free(read_request(fd)); pause(); break;
	case SERVE_NO_ACCEPT: break;
	case SERVE_HUGE: write_all(fd, "\xff\xff\xff\xff", 4); pause(); break;
	case SERVE_TOO_BIG: serve_big(fd, CONTROL_FRAME_MAX + 1); break;
	case SERVE_EMPTY: write_all(fd, "\0\0\0\0", 4); pause(); break;
	case SERVE_HALF: write_all(fd, "\0\0\0\x20{\"version\":1", 17); break;
	case SERVE_HALF_HEADER: write_all(fd, "\0\0", 2); break;
	case SERVE_CLOSE: break;
	case SERVE_NUL: send_frame(fd, "{\"ok\":\0true}", 12); break;
	case SERVE_SLOW: serve_slow(fd); break;
	case SERVE_BIG: serve_big(fd, 1024 * 1024); break;
	case SERVE_EARLY: send_frame(fd, "{\"early\":1}", 11); break;
	}
}

/* Forks a server that handles one connection as told. */
static void start_server(enum behaviour how)
{
	int fd;

	setup_dir();
	listen_fd = listen_on(path, 4);
	server = fork();
	ck_assert_int_ge(server, 0);
	if (server > 0)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(20);
	if (how == SERVE_NO_ACCEPT)
		pause();
	fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	serve_one(fd, how);
	close(fd);
	_exit(0);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 +
	       (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* control_call that must fail with want_errno, within limit_ms. */
static void call_fails(int timeout_ms, int want_errno, long limit_ms)
{
	struct timespec start;
	char *answer;

	clock_gettime(CLOCK_MONOTONIC, &start);
	errno = 0;
	answer = control_call(path, "{\"version\":1,\"command\":\"status\"}",
			      timeout_ms);
	ck_assert_ptr_null(answer);
	ck_assert_msg(errno == want_errno, "errno %d (%s), want %d (%s)",
		      errno, strerror(errno), want_errno,
		      strerror(want_errno));
	ck_assert_int_lt(elapsed_ms(&start), limit_ms);
}

START_TEST(call_roundtrip)
{
	const char *request = "{\"version\":1,\"command\":\"lookup\","
			      "\"member\":\"Riley\",\"client\":\"kiwi\"}";
	char *answer;

	start_server(SERVE_ECHO);
	answer = control_call(path, request, 5000);
	ck_assert_ptr_nonnull(answer);
	ck_assert_ptr_nonnull(strstr(answer, request));
	ck_assert_ptr_nonnull(strstr(answer, "\"ok\":true"));
	free(answer);
}
END_TEST

START_TEST(call_slow_answer)
{
	char *answer;

	start_server(SERVE_SLOW);
	answer = control_call(path, "{\"version\":1,\"command\":\"status\"}",
			      5000);
	ck_assert_ptr_nonnull(answer);
	ck_assert_str_eq(answer, "{\"ok\":true}");
	free(answer);
}
END_TEST

START_TEST(call_big_answer)
{
	char *answer;

	start_server(SERVE_BIG);
	answer = control_call(path, "{\"version\":1,\"command\":\"status\"}",
			      5000);
	ck_assert_ptr_nonnull(answer);
	ck_assert_uint_eq(strlen(answer), 1024 * 1024);
	free(answer);
}
END_TEST

START_TEST(call_early_answer)
{
	char *big = malloc(1024 * 1024 + 1), *answer;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 1024 * 1024);
	memcpy(big, "{\"version\":1", 12);
	big[1024 * 1024] = '\0';
	start_server(SERVE_EARLY);
	answer = control_call(path, big, 5000);
	/* Either the early answer, or a clean failure: never a hang. */
	if (answer != NULL)
		ck_assert_str_eq(answer, "{\"early\":1}");
	else
		ck_assert_int_ne(errno, ETIMEDOUT);
	free(answer);
	free(big);
}
END_TEST

START_TEST(call_timeout_silent)
{
	start_server(SERVE_SILENT);
	call_fails(300, ETIMEDOUT, 2000);
}
END_TEST

START_TEST(call_timeout_no_accept)
{
	start_server(SERVE_NO_ACCEPT);
	call_fails(300, ETIMEDOUT, 2000);
}
END_TEST

START_TEST(call_timeout_backlog_full)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fds[64], n = 0;

	setup_dir();
	listen_fd = listen_on(path, 0);
	strcpy(sun.sun_path, path);
	for (; n < 64; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fds[n], 0);
		if (connect(fds[n], (struct sockaddr *)&sun, sizeof(sun)) != 0)
			break;
	}
	ck_assert_int_lt(n, 64);
	ck_assert_int_eq(errno, EAGAIN);
	call_fails(300, ETIMEDOUT, 2000);
	while (n >= 0)
		close(fds[n--]);
}
END_TEST

START_TEST(call_huge_header)
{
	start_server(SERVE_HUGE);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_too_big)
{
	start_server(SERVE_TOO_BIG);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_empty_frame)
{
	start_server(SERVE_EMPTY);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_half_frame)
{
	start_server(SERVE_HALF);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_half_header)
{
	start_server(SERVE_HALF_HEADER);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_closed)
{
	start_server(SERVE_CLOSE);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_nul_in_answer)
{
	start_server(SERVE_NUL);
	call_fails(5000, EPROTO, 4000);
}
END_TEST

START_TEST(call_no_socket)
{
	setup_dir();
	call_fails(1000, ENOENT, 1000);
}
END_TEST

START_TEST(call_refused)
{
	setup_dir();
	close(listen_on(path, 1));	/* a stale socket file */
	call_fails(1000, ECONNREFUSED, 1000);
}
END_TEST

START_TEST(call_not_a_socket)
{
	int fd;

	setup_dir();
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	call_fails(1000, ECONNREFUSED, 1000);
}
END_TEST

START_TEST(call_path_too_long)
{
	char long_path[200];
	char *answer;

	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	errno = 0;
	answer = control_call(long_path, "{}", 1000);
	ck_assert_ptr_null(answer);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(call_empty_request)
{
	start_server(SERVE_SILENT);
	errno = 0;
	ck_assert_ptr_null(control_call(path, "", 1000));
	ck_assert_int_eq(errno, EMSGSIZE);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("requests");

	tcase_add_loop_test(tc, parse_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_test(tc, parse_lookup);
	tcase_add_test(tc, parse_lookup_escapes);
	tcase_add_test(tc, parse_lookup_limits);
	tcase_add_loop_test(tc, parse_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, parse_nul_byte);
	tcase_add_test(tc, parse_not_terminated);
	tcase_add_test(tc, parse_tiny_err);
	tcase_add_test(tc, parse_deep_nesting);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_add_test(tc, frame_header);
	tcase_add_test(tc, frame_partial_header);
	tcase_add_test(tc, frame_partial_payload);
	tcase_add_test(tc, frame_followed_by_more);
	tcase_add_test(tc, frame_too_big);
	tcase_add_test(tc, frame_empty);
	tcase_add_test(tc, frame_max_whole);
	suite_add_tcase(s, tc);

	tc = tcase_create("call");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, NULL, teardown_server);
	tcase_add_test(tc, call_roundtrip);
	tcase_add_test(tc, call_slow_answer);
	tcase_add_test(tc, call_big_answer);
	tcase_add_test(tc, call_early_answer);
	tcase_add_test(tc, call_timeout_silent);
	tcase_add_test(tc, call_timeout_no_accept);
	tcase_add_test(tc, call_timeout_backlog_full);
	tcase_add_test(tc, call_huge_header);
	tcase_add_test(tc, call_too_big);
	tcase_add_test(tc, call_empty_frame);
	tcase_add_test(tc, call_half_frame);
	tcase_add_test(tc, call_half_header);
	tcase_add_test(tc, call_closed);
	tcase_add_test(tc, call_nul_in_answer);
	tcase_add_test(tc, call_no_socket);
	tcase_add_test(tc, call_refused);
	tcase_add_test(tc, call_not_a_socket);
	tcase_add_test(tc, call_path_too_long);
	tcase_add_test(tc, call_empty_request);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_run(control_suite());
}
