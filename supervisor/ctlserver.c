/*
 * ctlserver.c - the supervisor's end of the control socket; see
 * ctlserver.h.  Each client is a tiny state machine: READING a frame,
 * then WRITING the answer, then closed.
 */
#include "ctlserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_CLIENTS		8	/* at once; more are turned away */
#define CTL_REQUEST_MAX		(64 * 1024)
#define CTL_DEADLINE_MS		5000

enum ctl_state { CTL_FREE, CTL_READING, CTL_WRITING };

struct ctl_client {
	enum ctl_state state;
	int fd;
	int64_t deadline_ms;
	size_t in_len;
	unsigned char in[4 + CTL_REQUEST_MAX];
	unsigned char *out;	/* header + answer */
	size_t out_len, out_done;
};

struct ctl_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ctl_answer_fn answer;
	void *arg;
	struct ctl_client clients[CTL_CLIENTS];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int make_address(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		return -1;
	strcpy(sun->sun_path, path);
	return 0;
}

/* True if a live server answers on path. */
static bool someone_listens(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
	close(fd);
	return live;
}

static int bind_socket(struct ctl_server *srv, const struct sockaddr_un *sun,
		       char *err, size_t errlen)
{
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (srv->fd < 0 ||
	    bind(srv->fd, (const struct sockaddr *)sun, sizeof *sun) != 0 ||
	    chmod(sun->sun_path, 0660) != 0 || listen(srv->fd, 16) != 0) {
		snprintf(err, errlen, "control socket %s: %s", sun->sun_path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

struct ctl_server *ctl_open(const char *path, ctl_answer_fn fn, void *arg,
			    char *err, size_t errlen)
{
	struct ctl_server *srv = calloc(1, sizeof *srv);
	struct sockaddr_un sun;

	if (srv == NULL || make_address(path, &sun) != 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
			 srv ? "path too long" : strerror(errno));
		free(srv);
		return NULL;
	}
	srv->fd = -1;
	if (someone_listens(&sun)) {
		snprintf(err, errlen, "control socket %s: another herdd is "
			 "running there", path);
		free(srv);
		return NULL;
	}
	unlink(path);	/* stale, left by a herdd that died */
	if (bind_socket(srv, &sun, err, errlen) != 0) {
		if (srv->fd >= 0)
			close(srv->fd);
		free(srv);
		return NULL;
	}
	strcpy(srv->path, path);
	srv->answer = fn;
	srv->arg = arg;
	return srv;
}

static void drop_client(struct ctl_client *c)
{
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->state = CTL_FREE;
}

void ctl_close(struct ctl_server *srv)
{
	if (srv == NULL)
		return;
	for (size_t i = 0; i < CTL_CLIENTS; i++)
		if (srv->clients[i].state != CTL_FREE)
			drop_client(&srv->clients[i]);
	close(srv->fd);
	unlink(srv->path);
	free(srv);
}

void ctl_close_in_child(struct ctl_server *srv)
{
	if (srv == NULL)
		return;
	for (size_t i = 0; i < CTL_CLIENTS; i++)
		if (srv->clients[i].state != CTL_FREE)
			close(srv->clients[i].fd);
	close(srv->fd);
}

/* --- one client ---------------------------------------------------------- */

static struct ctl_client *free_slot(struct ctl_server *srv)
{
	for (size_t i = 0; i < CTL_CLIENTS; i++)
		if (srv->clients[i].state == CTL_FREE)
			return &srv->clients[i];
	return NULL;
}

static void accept_client(struct ctl_server *srv)
{
	struct ctl_client *c = free_slot(srv);
	int fd;

	if (c == NULL)
		return;		/* it waits in the listen queue */
	fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	c->state = CTL_READING;
	c->fd = fd;
	c->in_len = 0;
	c->deadline_ms = mono_ms() + CTL_DEADLINE_MS;
}

static void start_answer(struct ctl_client *c, char *json)
{
	size_t len = strlen(json);

	c->out = malloc(4 + len);
	if (c->out == NULL) {
		free(json);
		drop_client(c);
		return;
	}
	control_frame_header(c->out, len);
	memcpy(c->out + 4, json, len);
	free(json);
	c->out_len = 4 + len;
	c->out_done = 0;
	c->state = CTL_WRITING;
}

static char *error_answer(const char *why)
{
	char *text;
	size_t n = strlen(why) * 6 + 64;	/* worst case: all \u00XX */
	char *escaped = malloc(n), *p = escaped;

	if (escaped == NULL)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)why; *s; s++) {
		if (*s == '"' || *s == '\\')
			p += sprintf(p, "\\%c", *s);
		else if (*s < 0x20)
			p += sprintf(p, "\\u%04x", *s);
		else
			*p++ = (char)*s;
	}
	*p = '\0';
	if (asprintf(&text, "{\"version\":%d,\"ok\":false,\"error\":\"%s\"}",
		     CONTROL_VERSION, escaped) < 0)
		text = NULL;
	free(escaped);
	return text;
}

static void answer_request(struct ctl_server *srv, struct ctl_client *c,
			   const unsigned char *payload, size_t len)
{
	struct control_request req;
	char why[256];
	char *json;

	if (control_parse_request((const char *)payload, len, &req, why,
				  sizeof why) == CONTROL_INVALID)
		json = error_answer(why);
	else
		json = srv->answer(srv->arg, &req);
	if (json == NULL) {
		drop_client(c);
		return;
	}
	start_answer(c, json);
}

/* A framed request we will not read: say why, then close. */
static bool refuse_bad_frame(struct ctl_client *c)
{
	uint32_t len;
	char *json;

	if (c->in_len < 4)
		return false;
	len = (uint32_t)c->in[0] << 24 | (uint32_t)c->in[1] << 16 |
	      (uint32_t)c->in[2] << 8 | c->in[3];
	if (len > 0 && len <= CTL_REQUEST_MAX)
		return false;
	json = error_answer(len == 0 ? "empty request" : "request too large");
	if (json == NULL)
		drop_client(c);
	else
		start_answer(c, json);
	return true;
}

static void read_request(struct ctl_server *srv, struct ctl_client *c)
{
	const unsigned char *payload;
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
	long ready;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(c);
		return;
	}
	c->in_len += (size_t)n;
	if (refuse_bad_frame(c))
		return;
	ready = control_frame_ready(c->in, c->in_len, &payload);
	if (ready < 0) {
		drop_client(c);
		return;
	}
	if (ready > 0)
		answer_request(srv, c, payload, (size_t)ready);
}

static void write_answer(struct ctl_client *c)
{
	ssize_t n = write(c->fd, c->out + c->out_done,
			  c->out_len - c->out_done);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(c);
		return;
	}
	c->out_done += (size_t)n;
	if (c->out_done == c->out_len)
		drop_client(c);
}

/* --- the poll loop's side ------------------------------------------------ */

size_t ctl_fill_pollfds(struct ctl_server *srv, struct pollfd *fds,
			size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	/* While every slot is taken, new clients wait in the listen queue
	   (each slot frees within CTL_DEADLINE_MS) instead of being shut. */
	fds[n++] = (struct pollfd){
		.fd = srv->fd,
		.events = free_slot(srv) != NULL ? POLLIN : 0,
	};
	for (size_t i = 0; i < CTL_CLIENTS && n < max; i++) {
		const struct ctl_client *c = &srv->clients[i];

		if (c->state == CTL_FREE)
			continue;
		fds[n++] = (struct pollfd){
			.fd = c->fd,
			.events = c->state == CTL_READING ? POLLIN : POLLOUT,
		};
	}
	return n;
}

static struct ctl_client *client_of(struct ctl_server *srv, int fd)
{
	for (size_t i = 0; i < CTL_CLIENTS; i++)
		if (srv->clients[i].state != CTL_FREE &&
		    srv->clients[i].fd == fd)
			return &srv->clients[i];
	return NULL;
}

void ctl_handle(struct ctl_server *srv, const struct pollfd *fds, size_t n)
{
	int64_t now = mono_ms();

	for (size_t i = 1; i < n; i++) {
		struct ctl_client *c = client_of(srv, fds[i].fd);

		if (c == NULL || fds[i].revents == 0)
			continue;
		if (c->state == CTL_READING)
			read_request(srv, c);
		else
			write_answer(c);
	}
	for (size_t i = 0; i < CTL_CLIENTS; i++)
		if (srv->clients[i].state != CTL_FREE &&
		    now >= srv->clients[i].deadline_ms)
			drop_client(&srv->clients[i]);
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_client(srv);
}

int ctl_timeout_ms(const struct ctl_server *srv)
{
	int64_t now = mono_ms(), next = INT64_MAX;

	for (size_t i = 0; i < CTL_CLIENTS; i++) {
		const struct ctl_client *c = &srv->clients[i];

		if (c->state != CTL_FREE && c->deadline_ms - now < next)
			next = c->deadline_ms - now;
	}
	if (next == INT64_MAX)
		return -1;
	return next < 0 ? 0 : (int)next;
}
