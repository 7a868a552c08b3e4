/*
 * ceiling.c - the smallest possible line server: the speed limit of this
 * machine for any server that speaks a line protocol over TCP.
 *
 *   ceiling -p PORT [-H ADDR] [-w PROCESSES] [-r REPLY]
 *
 * N processes each open their own SO_REUSEPORT listener on the port (the
 * kernel spreads connections across them, as herd's workers do) and run
 * one epoll loop.  For every "\n" that arrives the server answers one
 * fixed line; it parses nothing else.  Whatever herd does beyond this is
 * the price of the protocol, the table, and logging.
 *
 * The parent only supervises: it waits for the workers and, on SIGTERM or
 * SIGINT, stops and reaps them.  Workers die with the parent
 * (PR_SET_PDEATHSIG), so nothing outlives a killed benchmark.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS	64
#define READ_BUF	65536
#define OUT_MAX		(4u << 20)	/* unsent replies before we drop a client */
#define EPOLL_BATCH	256
#define DEFAULT_REPLY	"AT Ceiling +0.000012345 ceiling.client " \
			"+34.068930-118.445127 1621464827.959498503"

struct options {
	const char *host;
	unsigned port;
	unsigned workers;
	const char *reply;
};

/* Per connection: only replies that did not fit the socket yet. */
struct client {
	int fd;
	bool want_out;
	char *out;
	size_t out_len, out_cap;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void fail(const char *what)
{
	fprintf(stderr, "ceiling: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_listener(const struct options *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)o->port) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail("socket");
	if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) {
		fprintf(stderr, "ceiling: %s: not an IPv4 address\n", o->host);
		exit(2);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		fail("setsockopt");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		fail("bind");
	if (listen(fd, 4096) != 0)
		fail("listen");
	return fd;
}

static void client_close(int epfd, struct client *c)
{
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static bool client_queue(struct client *c, const char *p, size_t len)
{
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *bigger;

		while (cap < c->out_len + len)
			cap *= 2;
		if (cap > OUT_MAX || (bigger = realloc(c->out, cap)) == NULL)
			return false;
		c->out = bigger;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return true;
}

/* Sends what is queued; false if the connection is broken. */
static bool client_flush(int epfd, struct client *c)
{
	size_t off = 0;
	bool full = false;
	struct epoll_event ev = { .data.ptr = c };

	while (off < c->out_len) {
		ssize_t n = send(c->fd, c->out + off, c->out_len - off,
				 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			full = true;
			break;
		}
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	memmove(c->out, c->out + off, c->out_len - off);
	c->out_len -= off;
	if (full == c->want_out)
		return true;
	c->want_out = full;
	ev.events = EPOLLIN | (full ? EPOLLOUT : 0u);
	return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/*
 * One fixed reply per "\n" read.  Replies go into a stack batch first so
 * one send carries them all; only what the socket refuses is queued.
 */
static bool client_read(int epfd, struct client *c, const char *reply,
			size_t reply_len)
{
	char in[READ_BUF], batch[READ_BUF];
	size_t batch_len = 0;
	ssize_t n = recv(c->fd, in, sizeof in, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	for (const char *p = in, *end = in + n;
	     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
		if (batch_len + reply_len > sizeof batch) {
			if (!client_queue(c, batch, batch_len))
				return false;
			batch_len = 0;
		}
		memcpy(batch + batch_len, reply, reply_len);
		batch_len += reply_len;
	}
	return client_queue(c, batch, batch_len) && client_flush(epfd, c);
}

static void accept_all(int epfd, int lfd)
{
	int one = 1;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;	/* EAGAIN, or out of fds: retry on next event */
		c = calloc(1, sizeof *c);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.data.ptr = c;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
		}
	}
}

static int worker_loop(int lfd, const char *reply)
{
	size_t reply_len = strlen(reply);
	struct epoll_event evs[EPOLL_BATCH];
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) != 0)
		fail("epoll");
	while (!stop) {
		int n = epoll_wait(epfd, evs, EPOLL_BATCH, 500);

		if (n < 0 && errno != EINTR)
			fail("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			bool ok = true;

			if (c == NULL) {
				accept_all(epfd, lfd);
				continue;
			}
			if (evs[i].events & EPOLLOUT)
				ok = client_flush(epfd, c);
			if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				ok = client_read(epfd, c, reply, reply_len);
			if (!ok)
				client_close(epfd, c);
		}
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ceiling -p PORT [-H IPV4] [-w PROCESSES] "
		"[-r REPLY]\n"
		"  answers one fixed line (default an 86-byte AT line) per "
		"request line\n");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int c;

	*o = (struct options){ .host = "127.0.0.1", .workers = 1,
			       .reply = DEFAULT_REPLY };
	while ((c = getopt(argc, argv, "H:p:w:r:h")) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = (unsigned)atoi(optarg); break;
		case 'w': o->workers = (unsigned)atoi(optarg); break;
		case 'r': o->reply = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (o->port == 0 || o->port > 65535 || o->workers == 0 ||
	    o->workers > MAX_WORKERS || optind != argc) {
		usage(stderr);
		exit(2);
	}
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		fail("sigaction");
}

/* Stops the workers (SIGTERM, then SIGKILL after a second) and reaps them. */
static void reap_workers(pid_t *pids, unsigned n)
{
	unsigned left = n;

	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], SIGTERM);
	for (int tries = 0; left > 0 && tries < 200; tries++) {
		for (unsigned i = 0; i < n; i++)
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) != 0) {
				pids[i] = 0;
				left--;
			}
		if (tries == 100)
			for (unsigned i = 0; i < n; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], SIGKILL);
		usleep(10000);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	pid_t pids[MAX_WORKERS] = { 0 };
	struct rlimit rl;
	char reply[4096];

	parse_options(argc, argv, &o);
	if (snprintf(reply, sizeof reply, "%s\n", o.reply) >= (int)sizeof reply)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	install(SIGTERM, on_stop);
	install(SIGINT, on_stop);
	for (unsigned i = 0; i < o.workers; i++) {
		int lfd = open_listener(&o);	/* bound before the fork */
		pid_t parent = getpid();

		pids[i] = fork();
		if (pids[i] < 0)
			fail("fork");
		if (pids[i] == 0) {
			(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(0);	/* the parent is already gone */
			_exit(worker_loop(lfd, reply));
		}
		close(lfd);
	}
	fprintf(stderr, "ceiling: %u process(es) on %s:%u\n", o.workers,
		o.host, o.port);
	while (!stop) {
		pid_t dead = waitpid(-1, NULL, 0);

		if (dead < 0 && errno == ECHILD)
			break;
		for (unsigned i = 0; dead > 0 && i < o.workers; i++)
			if (pids[i] == dead) {
				pids[i] = 0;
				stop = 1;	/* a worker died: stop them all */
			}
	}
	reap_workers(pids, o.workers);
	return 0;
}
