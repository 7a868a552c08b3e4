/*
 * herdbench.c - a load generator for the herd client protocol.
 *
 *   herdbench iamat     -p PORT [-c CONNS] [-d DEPTH] [-t SEC] [-w SEC]
 *   herdbench whatsat   -p PORT [-c CONNS] [-d DEPTH] [--radius KM] [--bound N]
 *   herdbench idle      -p PORT -n CONNS [--pids PID,...] [--hold SEC]
 *   herdbench propagate -p PORT_A -P PORT_B [-n SAMPLES]
 *
 * iamat and whatsat are closed loops: every connection keeps DEPTH requests
 * in flight and sends a new one for each reply.  Every reply is checked
 * byte for byte (the AT prefix, the server name, a signed nine-decimal
 * difference, and the exact echo of the request's fields; for WHATSAT the
 * stored AT line, the JSON framing and the bound), and every mismatch is
 * counted by kind.  Latencies go into a log-bucketed histogram.  The last
 * line printed is a machine-readable summary starting with "RESULT".
 *
 * Design.  Raw epoll, level-triggered, one read per readiness event into a
 * per-connection buffer; all replies found in it are verified, then all the
 * requests they free up are written with one send.  That keeps the load
 * generator's cost per request to a few hundred nanoseconds, so on a small
 * machine it steals as little CPU from the server as possible.  With -T the
 * connections are split across threads, each with its own epoll set and
 * statistics (merged at the end), so nothing is shared on the hot path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSEC		UINT64_C(1000000000)
#define MAX_CONNS	60000
#define MAX_DEPTH	1024
#define MAX_THREADS	16
#define MAX_IDS		1024
#define MAX_PIDS	256
#define NAME_MAX_LEN	63	/* a member name, as in protocol.h */
#define CLIENT_MAX	96	/* our own client ids are short */
#define SUFFIX_MAX	192	/* " <client> <location> <time>" */
#define REQ_MAX		(SUFFIX_MAX + 48)
#define AT_LINE_MAX	512
#define RBUF_MIN	4096
#define RBUF_MAX	(4u << 20)	/* a WHATSAT reply is far smaller */
#define EPOLL_BATCH	256
#define TICK_MS		10
#define STALL_CHECK_NS	(50 * UINT64_C(1000000))
#define LOCATION_FMT	"+34.%06u-118.%06u"

/* --- errors -------------------------------------------------------------- */

enum err_kind {
	E_OK = 0,
	E_CONNECT,	/* connect failed or timed out */
	E_CLOSED,	/* the server closed the connection */
	E_IO,		/* read/write error */
	E_TIMEOUT,	/* a reply did not come within --timeout-ms */
	E_LOST,		/* a request in flight on a connection that died */
	E_QUESTION,	/* "? ..." reply to a valid command */
	E_BAD_PREFIX,	/* not "AT <server> ..." */
	E_BAD_SERVER,	/* another server name than expected */
	E_BAD_DIFF,	/* not a signed nine-decimal difference, or absurd */
	E_MISMATCH,	/* fields not echoed exactly / wrong stored line */
	E_FRAMING,	/* WHATSAT reply not AT line, JSON, blank line */
	E_OVERLONG,	/* a reply larger than we can buffer */
	E_OVER_BOUND,	/* more places than the bound asked for */
	E_UNEXPECTED,	/* a reply nobody asked for */
	E_KINDS
};

static const char *const err_names[E_KINDS] = {
	"ok", "connect", "closed", "io", "timeout", "lost", "question", "bad_prefix",
	"bad_server", "bad_diff", "mismatch", "framing", "overlong",
	"over_bound", "unexpected",
};

/* --- options ------------------------------------------------------------- */

enum mode { MODE_IAMAT, MODE_WHATSAT, MODE_IDLE, MODE_PROPAGATE };

static const char *const mode_names[] = {
	"iamat", "whatsat", "idle", "propagate",
};

struct options {
	enum mode mode;
	const char *host;
	struct sockaddr_storage addr, to_addr;
	socklen_t addr_len;
	unsigned port, to_port;
	double duration, warmup, hold, settle;
	unsigned conns, depth, count, threads, ids;
	unsigned timeout_ms, poll_interval_us;
	const char *server;		/* expected member name, or NULL */
	const char *radius;
	unsigned bound;
	const char *prefix;
	const char *hist_path;
	pid_t pids[MAX_PIDS];
	size_t n_pids;
	bool no_verify, allow_remote;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("herdbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* --- clocks and number formatting ---------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Writes v in decimal at p, zero-padded to at least width; returns end. */
static char *put_u64(char *p, uint64_t v, unsigned width)
{
	char tmp[24];
	unsigned n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || n < width);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *put_bytes(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

/* --- latency histogram --------------------------------------------------- */

/*
 * Log-linear buckets like HdrHistogram: values below 2^SUB_BITS get a
 * bucket each; above, every power of two is split into HALF equal buckets,
 * so a bucket is never wider than 1/HALF (1.6 %) of its values.  Values
 * are nanoseconds.
 */
#define HIST_SUB_BITS	7
#define HIST_HALF	(1u << (HIST_SUB_BITS - 1))
#define HIST_BUCKETS	((64 - HIST_SUB_BITS + 2) * HIST_HALF)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total, max, sum;
};

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < (UINT64_C(1) << HIST_SUB_BITS))
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS + 1;
	return shift * HIST_HALF + (unsigned)(v >> shift);
}

/* The largest value that lands in bucket i. */
static uint64_t hist_upper(unsigned i)
{
	unsigned shift, sub;

	if (i < (1u << HIST_SUB_BITS))
		return i;
	shift = i / HIST_HALF - 1;
	sub = i - shift * HIST_HALF;
	return ((uint64_t)(sub + 1) << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
}

/* The value at percentile pct (0..100), never above the true maximum. */
static uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0;

	if (h->total == 0)
		return 0;
	rank = (uint64_t)(pct / 100.0 * (double)h->total + 0.999999);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			return hist_upper(i) < h->max ? hist_upper(i) : h->max;
	}
	return h->max;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* A coarse picture: one row per power of two of microseconds. */
static void hist_print(const struct hist *h, FILE *out)
{
	uint64_t rows[40] = { 0 }, most = 0;
	unsigned first = 40, last = 0;

	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		uint64_t v = hist_upper(i) / 1000;
		unsigned row = v == 0 ? 0 : 64u - (unsigned)__builtin_clzll(v);

		if (h->counts[i] == 0)
			continue;
		row = row < 39 ? row : 39;
		rows[row] += h->counts[i];
		first = row < first ? row : first;
		last = row > last ? row : last;
	}
	for (unsigned r = first; r <= last && r < 40; r++)
		most = rows[r] > most ? rows[r] : most;
	for (unsigned r = first; r <= last && r < 40; r++) {
		unsigned bar = most ? (unsigned)(rows[r] * 50 / most) : 0;

		fprintf(out, "  %9" PRIu64 " .. %9" PRIu64 " us %11" PRIu64 " ",
			r == 0 ? 0 : UINT64_C(1) << (r - 1),
			UINT64_C(1) << r, rows[r]);
		for (unsigned b = 0; b < bar; b++)
			fputc('#', out);
		fputc('\n', out);
	}
}

/* Every non-empty bucket: upper bound (us), count, cumulative fraction. */
static void hist_dump(const struct hist *h, const char *path)
{
	FILE *f = fopen(path, "w");
	uint64_t seen = 0;

	if (f == NULL) {
		fprintf(stderr, "herdbench: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "# upper_us count cumulative\n");
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		if (h->counts[i] == 0)
			continue;
		seen += h->counts[i];
		fprintf(f, "%.3f %" PRIu64 " %.6f\n", us(hist_upper(i)),
			h->counts[i], (double)seen / (double)h->total);
	}
	if (fclose(f) != 0)
		fprintf(stderr, "herdbench: %s: %s\n", path, strerror(errno));
}

/* --- statistics ---------------------------------------------------------- */

struct stats {
	uint64_t replies;		/* inside the measured window */
	uint64_t errors[E_KINDS];
	uint64_t places_ok, places_zero, places_err;
	char places_status[32];		/* the first non-OK status seen */
	struct hist hist;
};

static void stats_merge(struct stats *into, const struct stats *from)
{
	into->replies += from->replies;
	for (int k = 0; k < E_KINDS; k++)
		into->errors[k] += from->errors[k];
	into->places_ok += from->places_ok;
	into->places_zero += from->places_zero;
	into->places_err += from->places_err;
	if (into->places_status[0] == '\0')
		memcpy(into->places_status, from->places_status,
		       sizeof into->places_status);
	hist_merge(&into->hist, &from->hist);
}

static uint64_t stats_errors(const struct stats *s)
{
	uint64_t n = 0;

	for (int k = 1; k < E_KINDS; k++)
		n += s->errors[k];
	return n;
}

/* --- sockets ------------------------------------------------------------- */

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)ss;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/* Numeric addresses only (and "localhost"): a benchmark never resolves. */
static socklen_t make_addr(const char *host, unsigned port,
			   struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return sizeof *in;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof *in6;
	}
	die("%s: not a numeric IPv4 or IPv6 address", host);
}

/* A blocking connect bounded by timeout_ms; returns a non-blocking fd. */
static int connect_to(const struct sockaddr_storage *ss, socklen_t len,
		      unsigned timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
	    connect(fd, (const struct sockaddr *)ss, len) != 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* --- connections --------------------------------------------------------- */

/* A request in flight: what its reply must echo, and when it left. */
struct pending {
	uint64_t sent_ns;
	uint16_t id;
	uint16_t suffix_len;
	char suffix[SUFFIX_MAX];	/* " <client> <location> <time>" */
};

struct conn {
	int fd;
	unsigned index;			/* across all threads */
	bool dead;
	bool want_out;			/* EPOLLOUT armed */
	char *rbuf;
	size_t rlen, rcap;
	char *wbuf;
	size_t wlen, wcap;
	struct pending *ring;		/* FIFO of depth requests */
	unsigned head, inflight;
	uint64_t issued;		/* requests sent in this phase */
	uint64_t last_progress_ns;
	uint64_t last_time_ns;		/* client times strictly increase */
	unsigned next_id;
	char location[32];
	size_t location_len;
	char (*at)[AT_LINE_MAX];	/* whatsat: stored line per id */
	uint16_t *at_len;
};

enum phase {
	PH_LOAD,	/* the mode's closed loop, timed */
	PH_REGISTER,	/* whatsat: one IAMAT per id, lines remembered */
	PH_PROBE,	/* idle: one IAMAT per connection */
};

struct thread_ctx {
	const struct options *o;
	struct conn *conns;
	unsigned n_conns, first_index;
	int epfd;
	enum phase phase;
	uint64_t limit;			/* requests per connection, 0 = none */
	uint64_t measure_from, measure_until, stop_issuing, deadline;
	char server[NAME_MAX_LEN + 1];	/* learned or given */
	size_t server_len;
	struct stats st;
	pthread_t tid;
	pthread_barrier_t *barrier;
	const uint64_t *shared_times;	/* set by main between barriers */
};

static void conn_count_error(struct thread_ctx *x, enum err_kind k)
{
	x->st.errors[k]++;
}

/*
 * Gives up on a connection.  A timeout counts every request that went
 * unanswered; any other cause counts once, and its requests as lost.
 */
static void conn_kill(struct thread_ctx *x, struct conn *c, enum err_kind why)
{
	if (c->dead)
		return;
	if (why == E_TIMEOUT)
		x->st.errors[E_TIMEOUT] += c->inflight > 0 ? c->inflight : 1;
	else {
		conn_count_error(x, why);
		x->st.errors[E_LOST] += c->inflight;
	}
	c->inflight = 0;
	c->dead = true;
	if (c->fd >= 0) {
		(void)epoll_ctl(x->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

static bool conn_alloc(struct conn *c, const struct options *o)
{
	unsigned depth = o->mode == MODE_IDLE ? 1 : o->depth;

	c->rcap = RBUF_MIN;
	c->rbuf = malloc(c->rcap);
	c->wcap = (size_t)depth * REQ_MAX;
	c->wbuf = malloc(c->wcap);
	c->ring = calloc(depth, sizeof *c->ring);
	if (o->mode == MODE_WHATSAT) {
		c->at = calloc(o->ids, sizeof *c->at);
		c->at_len = calloc(o->ids, sizeof *c->at_len);
	}
	return c->rbuf && c->wbuf && c->ring &&
	       (o->mode != MODE_WHATSAT || (c->at && c->at_len));
}

static void conn_release(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->rbuf);
	free(c->wbuf);
	free(c->ring);
	free(c->at);
	free(c->at_len);
}

/* Each connection reports from its own spot, so no two share a query. */
static void conn_init(struct conn *c, unsigned index)
{
	int n = snprintf(c->location, sizeof c->location, LOCATION_FMT,
			 (68930u + index * 7u) % 1000000u, 445127u);

	c->fd = -1;
	c->index = index;
	c->location_len = n > 0 ? (size_t)n : 0;
}

static int conn_open(struct thread_ctx *x, struct conn *c)
{
	const struct options *o = x->o;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	c->fd = connect_to(&o->addr, o->addr_len, o->timeout_ms);
	if (c->fd < 0 || epoll_ctl(x->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		conn_kill(x, c, E_CONNECT);
		return -1;
	}
	c->last_progress_ns = mono_ns();
	return 0;
}

/* --- requests ------------------------------------------------------------ */

static size_t client_id(const struct options *o, const struct conn *c,
			unsigned id, char *out)
{
	int n = snprintf(out, CLIENT_MAX, "%s.%u.%u", o->prefix, c->index, id);

	return n > 0 && n < CLIENT_MAX ? (size_t)n : 0;
}

/* Fills p->suffix with " <client> <location> <time>" for an IAMAT now. */
static void make_report(const struct options *o, struct conn *c,
			struct pending *p, uint64_t real_now)
{
	char client[CLIENT_MAX];
	size_t client_len = client_id(o, c, p->id, client);
	uint64_t t = real_now > c->last_time_ns ? real_now
						 : c->last_time_ns + 1;
	char *s = p->suffix;

	c->last_time_ns = t;
	*s++ = ' ';
	s = put_bytes(s, client, client_len);
	*s++ = ' ';
	s = put_bytes(s, c->location, c->location_len);
	*s++ = ' ';
	s = put_u64(s, t / NSEC, 1);
	*s++ = '.';
	s = put_u64(s, t % NSEC, 9);
	p->suffix_len = (uint16_t)(s - p->suffix);
}

static bool phase_sends_iamat(const struct thread_ctx *x)
{
	return x->phase != PH_LOAD || x->o->mode != MODE_WHATSAT;
}

/* Appends the next request of connection c to its output buffer. */
static void conn_enqueue(struct thread_ctx *x, struct conn *c,
			 uint64_t mono_now, uint64_t real_now)
{
	const struct options *o = x->o;
	unsigned depth = o->mode == MODE_IDLE ? 1 : o->depth;
	struct pending *p = &c->ring[(c->head + c->inflight) % depth];
	char *w = c->wbuf + c->wlen;

	p->id = (uint16_t)(x->phase == PH_REGISTER ? c->issued
						   : c->next_id++ % o->ids);
	p->sent_ns = mono_now;
	if (phase_sends_iamat(x)) {
		make_report(o, c, p, real_now);
		w = put_bytes(w, "IAMAT", 5);
		w = put_bytes(w, p->suffix, p->suffix_len);
	} else {
		char client[CLIENT_MAX];
		size_t n = client_id(o, c, p->id, client);

		w = put_bytes(w, "WHATSAT ", 8);
		w = put_bytes(w, client, n);
		*w++ = ' ';
		w = put_bytes(w, o->radius, strlen(o->radius));
		*w++ = ' ';
		w = put_u64(w, o->bound, 1);
		p->suffix_len = 0;
	}
	*w++ = '\n';
	c->wlen = (size_t)(w - c->wbuf);
	c->inflight++;
	c->issued++;
}

static void conn_want_out(struct thread_ctx *x, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0u),
				  .data.ptr = c };

	if (c->want_out == on)
		return;
	c->want_out = on;
	if (epoll_ctl(x->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		conn_kill(x, c, E_IO);
}

/* Writes what is buffered; arms EPOLLOUT if the socket is full. */
static void conn_flush(struct thread_ctx *x, struct conn *c)
{
	while (c->wlen > 0 && !c->dead) {
		ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_want_out(x, c, true);
			return;
		}
		if (n <= 0) {
			conn_kill(x, c, E_IO);
			return;
		}
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
	}
	if (!c->dead)
		conn_want_out(x, c, false);
}

static bool conn_may_issue(const struct thread_ctx *x, const struct conn *c,
			   uint64_t now)
{
	unsigned depth = x->o->mode == MODE_IDLE ? 1 : x->o->depth;

	return !c->dead && c->inflight < depth && now < x->stop_issuing &&
	       (x->limit == 0 || c->issued < x->limit) && !interrupted;
}

/* Tops the connection up to its depth and sends. */
static void conn_refill(struct thread_ctx *x, struct conn *c, uint64_t now)
{
	uint64_t real_now = 0;

	while (conn_may_issue(x, c, now)) {
		if (real_now == 0)
			real_now = clock_ns(CLOCK_REALTIME);
		conn_enqueue(x, c, now, real_now);
	}
	conn_flush(x, c);
}

/* --- verifying replies --------------------------------------------------- */

/* "+0.263873386": sign, digits, '.', nine digits; plausible on one host. */
static bool diff_ok(const char *p, size_t len)
{
	size_t i = 1, int_digits = 0;
	uint64_t secs = 0;

	if (len < 12 || (p[0] != '+' && p[0] != '-'))
		return false;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, int_digits++)
		secs = secs < 1000000 ? secs * 10 + (uint64_t)(p[i] - '0')
				      : secs;
	if (int_digits == 0 || i + 10 != len || p[i] != '.')
		return false;
	for (i++; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	/* Same clock on both ends: a difference of minutes is a bug. */
	return p[0] == '+' ? secs < 60 : secs < 1;
}

static bool server_ok(struct thread_ctx *x, const char *name, size_t len)
{
	if (x->server_len == 0) {
		if (len == 0 || len > NAME_MAX_LEN)
			return false;
		memcpy(x->server, name, len);
		x->server_len = len;
		return true;
	}
	return len == x->server_len && memcmp(name, x->server, len) == 0;
}

/* "AT <server> <diff>" + exactly the suffix the request carried. */
static enum err_kind check_at_line(struct thread_ctx *x, const char *line,
				   size_t len, const struct pending *p)
{
	const char *end = line + len, *name_end, *diff, *diff_end;

	if (len >= 2 && line[0] == '?' && line[1] == ' ')
		return E_QUESTION;
	if (len < 3 || memcmp(line, "AT ", 3) != 0)
		return E_BAD_PREFIX;
	name_end = memchr(line + 3, ' ', len - 3);
	if (name_end == NULL)
		return E_BAD_PREFIX;
	if (!server_ok(x, line + 3, (size_t)(name_end - (line + 3))))
		return E_BAD_SERVER;
	diff = name_end + 1;
	diff_end = memchr(diff, ' ', (size_t)(end - diff));
	if (diff_end == NULL || !diff_ok(diff, (size_t)(diff_end - diff)))
		return E_BAD_DIFF;
	if ((size_t)(end - diff_end) != p->suffix_len ||
	    memcmp(diff_end, p->suffix, p->suffix_len) != 0)
		return E_MISMATCH;
	return E_OK;
}

static size_t count_occurrences(const char *p, size_t len, const char *word)
{
	size_t n = 0, wlen = strlen(word);
	const char *end = p + len, *hit;

	while ((hit = memmem(p, (size_t)(end - p), word, wlen)) != NULL) {
		n++;
		p = hit + wlen;
	}
	return n;
}

/* The top-level "status" is the document's last "status" key. */
static void classify_places_status(struct stats *st, const char *body,
				   size_t len)
{
	static const char key[] = "\"status\" : \"";
	const char *p = body, *end = body + len, *hit, *last = NULL, *q;
	size_t n;

	while ((hit = memmem(p, (size_t)(end - p), key, sizeof key - 1))) {
		last = hit + sizeof key - 1;
		p = last;
	}
	q = last ? memchr(last, '"', (size_t)(end - last)) : NULL;
	n = q ? (size_t)(q - last) : 0;
	if (n == 2 && memcmp(last, "OK", 2) == 0) {
		st->places_ok++;
		return;
	}
	if (n == 12 && memcmp(last, "ZERO_RESULTS", 12) == 0) {
		st->places_zero++;
		return;
	}
	st->places_err++;
	if (st->places_status[0] == '\0') {
		n = n == 0 ? 7 : n < sizeof st->places_status - 1 ?
		    n : sizeof st->places_status - 1;
		memcpy(st->places_status, last ? last : "MISSING", n);
		st->places_status[n] = '\0';
	}
}

/*
 * Length of the complete WHATSAT reply at buf (0 if incomplete): a "? "
 * line, or the AT line, JSON, "\n\n".  The JSON never holds a blank line.
 */
static size_t whatsat_reply_len(const char *buf, size_t len, size_t *at_len)
{
	const char *nl = memchr(buf, '\n', len), *end;

	if (nl == NULL)
		return 0;
	*at_len = (size_t)(nl - buf);
	if (*at_len >= 2 && buf[0] == '?' && buf[1] == ' ')
		return *at_len + 1;
	end = memmem(nl + 1, len - *at_len - 1, "\n\n", 2);
	return end ? (size_t)(end + 2 - buf) : 0;
}

static enum err_kind check_whatsat(struct thread_ctx *x, struct conn *c,
				   const char *buf, size_t len, size_t at_len,
				   const struct pending *p)
{
	const char *body = buf + at_len + 1;
	size_t body_len;

	if (at_len >= 2 && buf[0] == '?' && buf[1] == ' ')
		return E_QUESTION;
	if (at_len != c->at_len[p->id] ||
	    memcmp(buf, c->at[p->id], at_len) != 0)
		return E_MISMATCH;
	body_len = len - at_len - 1 - 2;
	if (body_len < 2 || body[0] != '{' || body[body_len - 1] != '}')
		return E_FRAMING;
	classify_places_status(&x->st, body, body_len);
	if (count_occurrences(body, body_len, "\"place_id\"") > x->o->bound)
		return E_OVER_BOUND;
	return E_OK;
}

/* --- reading replies ----------------------------------------------------- */

static void record_reply(struct thread_ctx *x, const struct pending *p,
			 uint64_t now)
{
	if (now >= x->measure_from && now < x->measure_until) {
		x->st.replies++;
		hist_add(&x->st.hist, now - p->sent_ns);
	}
}

/* Remembers a registration's AT line for the WHATSATs that follow. */
static void remember_at(struct conn *c, const struct pending *p,
			const char *line, size_t len)
{
	if (c->at == NULL || len >= AT_LINE_MAX)
		return;
	memcpy(c->at[p->id], line, len);
	c->at_len[p->id] = (uint16_t)len;
}

/*
 * Verifies the reply at buf (at most len bytes) against the oldest request
 * in flight.  Returns the bytes it used, or 0 if the reply is incomplete.
 */
static size_t take_reply(struct thread_ctx *x, struct conn *c,
			 const char *buf, size_t len, uint64_t now)
{
	unsigned depth = x->o->mode == MODE_IDLE ? 1 : x->o->depth;
	struct pending *p = &c->ring[c->head];
	enum err_kind err = E_OK;
	size_t used, at_len;

	if (phase_sends_iamat(x)) {
		const char *nl = memchr(buf, '\n', len);

		if (nl == NULL)
			return 0;
		used = (size_t)(nl - buf) + 1;
		at_len = used - 1;
		if (c->inflight > 0 && !x->o->no_verify)
			err = check_at_line(x, buf, at_len, p);
		if (err == E_OK && c->inflight > 0 && x->phase == PH_REGISTER)
			remember_at(c, p, buf, at_len);
	} else {
		used = whatsat_reply_len(buf, len, &at_len);
		if (used == 0)
			return 0;
		if (c->inflight > 0)
			err = check_whatsat(x, c, buf, used, at_len, p);
	}
	if (c->inflight == 0) {
		conn_count_error(x, E_UNEXPECTED);
		return used;
	}
	if (err != E_OK)
		conn_count_error(x, err);
	else
		record_reply(x, p, now);
	c->head = (c->head + 1) % depth;
	c->inflight--;
	return used;
}

static bool conn_make_room(struct thread_ctx *x, struct conn *c)
{
	char *bigger;

	if (c->rlen < c->rcap)
		return true;
	if (c->rcap >= RBUF_MAX) {
		conn_kill(x, c, E_OVERLONG);
		return false;
	}
	bigger = realloc(c->rbuf, c->rcap * 2);
	if (bigger == NULL) {
		conn_kill(x, c, E_OVERLONG);
		return false;
	}
	c->rbuf = bigger;
	c->rcap *= 2;
	return true;
}

static void conn_on_readable(struct thread_ctx *x, struct conn *c,
			     uint64_t now)
{
	size_t off = 0, used;
	ssize_t n;

	if (!conn_make_room(x, c))
		return;
	n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n <= 0) {
		conn_kill(x, c, n == 0 ? E_CLOSED : E_IO);
		return;
	}
	c->rlen += (size_t)n;
	c->last_progress_ns = now;
	while (off < c->rlen &&
	       (used = take_reply(x, c, c->rbuf + off, c->rlen - off, now)))
		off += used;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	conn_refill(x, c, now);
}

/* --- the event loop ------------------------------------------------------ */

static void check_stalls(struct thread_ctx *x, uint64_t now)
{
	uint64_t limit = (uint64_t)x->o->timeout_ms * 1000000;

	for (unsigned i = 0; i < x->n_conns; i++) {
		struct conn *c = &x->conns[i];

		if (!c->dead && c->inflight > 0 &&
		    now - c->last_progress_ns > limit)
			conn_kill(x, c, E_TIMEOUT);
	}
}

static bool phase_done(const struct thread_ctx *x, uint64_t now)
{
	if (now >= x->deadline || interrupted)
		return true;
	for (unsigned i = 0; i < x->n_conns; i++) {
		const struct conn *c = &x->conns[i];

		if (!c->dead && (c->inflight > 0 || conn_may_issue(x, c, now)))
			return false;
	}
	return true;
}

/* Runs the current phase until every connection is done or the deadline. */
static void run_phase(struct thread_ctx *x)
{
	struct epoll_event evs[EPOLL_BATCH];
	uint64_t now = mono_ns(), next_check = now + STALL_CHECK_NS;

	for (unsigned i = 0; i < x->n_conns; i++) {
		x->conns[i].issued = 0;
		x->conns[i].last_progress_ns = now;
		if (!x->conns[i].dead)
			conn_refill(x, &x->conns[i], now);
	}
	while (!phase_done(x, now)) {
		int n = epoll_wait(x->epfd, evs, EPOLL_BATCH, TICK_MS);

		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		now = mono_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c->dead && (evs[i].events & EPOLLOUT))
				conn_flush(x, c);
			if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR |
							  EPOLLHUP)))
				conn_on_readable(x, c, now);
		}
		if (now >= next_check) {
			check_stalls(x, now);
			next_check = now + STALL_CHECK_NS;
		}
	}
	for (unsigned i = 0; i < x->n_conns; i++)	/* never answered */
		if (!x->conns[i].dead && x->conns[i].inflight > 0)
			conn_kill(x, &x->conns[i], E_TIMEOUT);
}

static void set_phase(struct thread_ctx *x, enum phase ph, uint64_t limit,
		      uint64_t stop_issuing, uint64_t deadline)
{
	x->phase = ph;
	x->limit = limit;
	x->stop_issuing = stop_issuing;
	x->deadline = deadline;
}

static void barrier_wait(pthread_barrier_t *b)
{
	int rc = pthread_barrier_wait(b);

	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(rc));
}

/*
 * One load thread: connect, register (whatsat), wait for the common start,
 * run the timed closed loop, drain.
 */
static void *load_thread(void *arg)
{
	struct thread_ctx *x = arg;
	const struct options *o = x->o;
	uint64_t timeout = (uint64_t)o->timeout_ms * 1000000;

	for (unsigned i = 0; i < x->n_conns && !interrupted; i++)
		(void)conn_open(x, &x->conns[i]);
	if (o->mode == MODE_WHATSAT) {
		set_phase(x, PH_REGISTER, o->ids, UINT64_MAX,
			  mono_ns() + timeout);
		run_phase(x);
	}
	barrier_wait(x->barrier);	/* all connected */
	barrier_wait(x->barrier);	/* main has set the clock */
	x->measure_from = x->shared_times[0];
	x->measure_until = x->shared_times[1];
	/* Requests still in flight at the end are drained, not counted. */
	set_phase(x, PH_LOAD, 0, x->measure_until,
		  x->measure_until + timeout);
	run_phase(x);
	return NULL;
}

/* --- shared setup -------------------------------------------------------- */

static struct thread_ctx *make_threads(const struct options *o, unsigned n,
				       unsigned conns)
{
	struct thread_ctx *xs = calloc(n, sizeof *xs);
	unsigned next = 0;

	if (xs == NULL)
		die("out of memory");
	for (unsigned t = 0; t < n; t++) {
		struct thread_ctx *x = &xs[t];

		x->o = o;
		x->first_index = next;
		x->n_conns = conns / n + (t < conns % n);
		next += x->n_conns;
		x->conns = calloc(x->n_conns ? x->n_conns : 1, sizeof *x->conns);
		x->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (x->conns == NULL || x->epfd < 0)
			die("out of memory or descriptors");
		if (o->server != NULL) {
			x->server_len = strlen(o->server);
			memcpy(x->server, o->server, x->server_len);
		}
		for (unsigned i = 0; i < x->n_conns; i++) {
			conn_init(&x->conns[i], x->first_index + i);
			if (!conn_alloc(&x->conns[i], o))
				die("out of memory");
		}
	}
	return xs;
}

static void free_threads(struct thread_ctx *xs, unsigned n)
{
	for (unsigned t = 0; t < n; t++) {
		for (unsigned i = 0; i < xs[t].n_conns; i++)
			conn_release(&xs[t].conns[i]);
		free(xs[t].conns);
		close(xs[t].epfd);
	}
	free(xs);
}

static unsigned live_conns(const struct thread_ctx *xs, unsigned n)
{
	unsigned live = 0;

	for (unsigned t = 0; t < n; t++)
		for (unsigned i = 0; i < xs[t].n_conns; i++)
			live += !xs[t].conns[i].dead;
	return live;
}

/* --- reporting ----------------------------------------------------------- */

static void print_errors(const struct stats *st, FILE *out, bool machine)
{
	for (int k = 1; k < E_KINDS; k++) {
		if (st->errors[k] == 0)
			continue;
		if (machine)
			fprintf(out, " err_%s=%" PRIu64, err_names[k],
				st->errors[k]);
		else
			fprintf(out, "  %-12s %" PRIu64 "\n", err_names[k],
				st->errors[k]);
	}
}

static void print_latency(const struct stats *st, FILE *out)
{
	const struct hist *h = &st->hist;

	fprintf(out, "latency (us): p50 %.1f  p90 %.1f  p99 %.1f  "
		"p99.9 %.1f  max %.1f  mean %.1f\n",
	       us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
	       us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
	       us(h->max), h->total ? us(h->sum / h->total) : 0.0);
	hist_print(h, out);
}

/* The fields every RESULT line shares, after "RESULT mode=..." */
static void print_result_latency(const struct stats *st)
{
	const struct hist *h = &st->hist;

	printf(" p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
	       "max_us=%.1f errors=%" PRIu64,
	       us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
	       us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
	       us(h->max), stats_errors(st));
}

static void report_load(const struct options *o, const struct stats *st,
			double seconds, unsigned live)
{
	double rps = seconds > 0 ? (double)st->replies / seconds : 0;

	printf("%s: %u connections x %u in flight, %.2f s measured "
	       "(after %.2f s warm-up)\n", mode_names[o->mode], o->conns,
	       o->depth, seconds, o->warmup);
	printf("replies: %" PRIu64 "  (%.0f/s)%s\n", st->replies, rps,
	       o->no_verify ? "  [not verified]" : "");
	if (o->mode == MODE_WHATSAT)
		printf("places status (all replies): OK %" PRIu64
		       ", ZERO_RESULTS %" PRIu64 ", other %" PRIu64 "%s%s\n", st->places_ok,
		       st->places_zero, st->places_err,
		       st->places_status[0] ? " e.g. " : "",
		       st->places_status);
	printf("errors: %" PRIu64 "\n", stats_errors(st));
	print_errors(st, stdout, false);
	print_latency(st, stdout);
	printf("RESULT mode=%s conns=%u depth=%u threads=%u duration=%.2f "
	       "live=%u replies=%" PRIu64 " rps=%.0f", mode_names[o->mode],
	       o->conns, o->depth, o->threads, seconds, live, st->replies,
	       rps);
	print_result_latency(st);
	if (o->mode == MODE_WHATSAT)
		printf(" places_ok=%" PRIu64 " places_zero=%" PRIu64
		       " places_err=%" PRIu64 " places_status=%s",
		       st->places_ok, st->places_zero, st->places_err,
		       st->places_status[0] ? st->places_status : "-");
	print_errors(st, stdout, true);
	printf(" verified=%s\n", o->no_verify ? "no" : "yes");
}

/* --- iamat / whatsat ----------------------------------------------------- */

static int run_load(const struct options *o)
{
	unsigned n = o->threads;
	struct thread_ctx *xs = make_threads(o, n, o->conns);
	pthread_barrier_t barrier;
	uint64_t times[2];
	struct stats *total = calloc(1, sizeof *total);
	int rc;

	if (total == NULL || pthread_barrier_init(&barrier, NULL, n + 1) != 0)
		die("cannot set up threads");
	for (unsigned t = 0; t < n; t++) {
		xs[t].barrier = &barrier;
		xs[t].shared_times = times;
		rc = pthread_create(&xs[t].tid, NULL, load_thread, &xs[t]);
		if (rc != 0)
			die("pthread_create: %s", strerror(rc));
	}
	barrier_wait(&barrier);
	times[0] = mono_ns() + (uint64_t)(o->warmup * 1e9);
	times[1] = times[0] + (uint64_t)(o->duration * 1e9);
	barrier_wait(&barrier);
	for (unsigned t = 0; t < n; t++) {
		rc = pthread_join(xs[t].tid, NULL);
		if (rc != 0)
			die("pthread_join: %s", strerror(rc));
		stats_merge(total, &xs[t].st);
	}
	report_load(o, total, o->duration, live_conns(xs, n));
	if (o->hist_path != NULL)
		hist_dump(&total->hist, o->hist_path);
	rc = stats_errors(total) == 0 && total->replies > 0 ? 0 : 1;
	pthread_barrier_destroy(&barrier);
	free_threads(xs, n);
	free(total);
	return rc;
}

/* --- idle ---------------------------------------------------------------- */

/* Resident memory of the given processes, in KiB (0 for any that is gone). */
static uint64_t rss_kib(const struct options *o)
{
	uint64_t total = 0;

	for (size_t i = 0; i < o->n_pids; i++) {
		char path[64], line[256];
		FILE *f;

		snprintf(path, sizeof path, "/proc/%ld/status", (long)o->pids[i]);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL) {
			unsigned long long kb;

			if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
				total += kb;
		}
		fclose(f);
	}
	return total;
}

/*
 * The kernel's slab memory, in KiB: socket, file and epoll objects of both
 * ends of every connection land there (system-wide, so only a rough
 * figure on a machine doing other things).
 */
static uint64_t slab_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Slab: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void sleep_seconds(double s)
{
	uint64_t end = mono_ns() + (uint64_t)(s * 1e9);

	while (!interrupted && mono_ns() < end) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void report_idle(const struct options *o, const struct stats *st,
			unsigned opened, uint64_t answered, uint64_t rss0,
			uint64_t rss1, uint64_t slab0, uint64_t slab1)
{
	double per_conn = opened && rss1 > rss0 ?
		(double)(rss1 - rss0) * 1024.0 / opened : 0.0;

	printf("idle: %u of %u connections opened, %" PRIu64 " answered "
	       "afterwards\n", opened, o->count, answered);
	if (o->n_pids > 0)
		printf("server RSS: %" PRIu64 " KiB -> %" PRIu64 " KiB: %.0f "
		       "bytes per connection\n", rss0, rss1, per_conn);
	printf("kernel slab (system-wide, both ends): %" PRIu64 " KiB -> %"
	       PRIu64 " KiB\n", slab0, slab1);
	printf("errors: %" PRIu64 "\n", stats_errors(st));
	print_errors(st, stdout, false);
	print_latency(st, stdout);
	printf("RESULT mode=idle conns=%u opened=%u answered=%" PRIu64
	       " rss_before_kib=%" PRIu64 " rss_after_kib=%" PRIu64
	       " bytes_per_conn=%.0f slab_before_kib=%" PRIu64
	       " slab_after_kib=%" PRIu64, o->count, opened, answered,
	       rss0, rss1, per_conn, slab0, slab1);
	print_result_latency(st);
	print_errors(st, stdout, true);
	printf("\n");
}

/*
 * Opens count connections and leaves them silent, measures what the server
 * paid for them, holds them (another herdbench can load the server
 * meanwhile: "HOLDING" on stdout says when), then proves every one of them
 * still answers an IAMAT.
 */
static int run_idle(const struct options *o)
{
	struct thread_ctx *x = make_threads(o, 1, o->count);
	uint64_t rss0 = rss_kib(o), slab0 = slab_kib(), rss1, slab1, now;
	uint64_t timeout = (uint64_t)o->timeout_ms * 1000000;
	unsigned opened = 0;
	int rc;

	for (unsigned i = 0; i < x->n_conns && !interrupted; i++)
		opened += conn_open(x, &x->conns[i]) == 0;
	sleep_seconds(o->settle);	/* let the server accept them all */
	rss1 = rss_kib(o);
	slab1 = slab_kib();
	printf("HOLDING conns=%u\n", opened);
	fflush(stdout);
	sleep_seconds(o->hold);
	now = mono_ns();
	x->measure_from = now;
	x->measure_until = UINT64_MAX;
	set_phase(x, PH_PROBE, 1, UINT64_MAX, now + timeout);
	run_phase(x);
	report_idle(o, &x->st, opened, x->st.replies, rss0, rss1, slab0,
		    slab1);
	rc = stats_errors(&x->st) == 0 && x->st.replies == o->count ? 0 : 1;
	free_threads(x, 1);
	return rc;
}

/* --- propagate ----------------------------------------------------------- */

/* A blocking line reader with deadlines, for the one-at-a-time probes. */
struct line_conn {
	int fd;
	size_t len;
	char buf[1 << 16];
};

/* Reads until marker is in the buffer; returns its end offset or 0. */
static size_t read_until(struct line_conn *lc, const char *marker,
			 size_t skip, uint64_t deadline)
{
	size_t mlen = strlen(marker);

	for (;;) {
		const char *hit = lc->len > skip ?
			memmem(lc->buf + skip, lc->len - skip, marker, mlen) :
			NULL;
		uint64_t now = mono_ns();
		struct pollfd pfd = { .fd = lc->fd, .events = POLLIN };
		ssize_t n;

		if (hit != NULL)
			return (size_t)(hit - lc->buf) + mlen;
		if (now >= deadline || lc->len == sizeof lc->buf || interrupted)
			return 0;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) < 0 &&
		    errno != EINTR)
			return 0;
		n = recv(lc->fd, lc->buf + lc->len, sizeof lc->buf - lc->len,
			 MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0)
			lc->len += (size_t)n;
	}
}

static void consume(struct line_conn *lc, size_t n)
{
	memmove(lc->buf, lc->buf + n, lc->len - n);
	lc->len -= n;
}

static bool send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
				return false;
			continue;
		}
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

struct probe {
	struct line_conn *a, *b;
	struct thread_ctx *x;		/* for verification and stats */
	struct conn *c;			/* client id and time source */
	char seen[AT_LINE_MAX];		/* the line B returned */
	size_t seen_len;
};

/* Sends the IAMAT to A; its reply is read later (probe_check_report). */
static enum err_kind probe_send_report(struct probe *pr, struct pending *p)
{
	char req[REQ_MAX];

	make_report(pr->x->o, pr->c, p, clock_ns(CLOCK_REALTIME));
	memcpy(req, "IAMAT", 5);
	memcpy(req + 5, p->suffix, p->suffix_len);
	req[5 + p->suffix_len] = '\n';
	p->sent_ns = mono_ns();
	return send_all(pr->a->fd, req, 6 + (size_t)p->suffix_len) ? E_OK
								     : E_IO;
}

/* A's reply must be right, and B must have returned exactly that line. */
static enum err_kind probe_check_report(struct probe *pr,
					const struct pending *p,
					uint64_t deadline)
{
	size_t end = read_until(pr->a, "\n", 0, deadline);
	enum err_kind err;

	if (end == 0)
		return E_TIMEOUT;
	err = check_at_line(pr->x, pr->a->buf, end - 1, p);
	if (err == E_OK && (end - 1 != pr->seen_len ||
			    memcmp(pr->a->buf, pr->seen, pr->seen_len) != 0))
		err = E_MISMATCH;
	consume(pr->a, end);
	return err;
}

/*
 * One WHATSAT at B.  *found is set once B holds a line for the client
 * (a fresh id, so it can only be this report's); an unknown client
 * ("? ...") just means "not yet".
 */
static enum err_kind probe_lookup(struct probe *pr, const char *client,
				  uint64_t deadline, bool *found)
{
	char req[CLIENT_MAX + 32];
	int n = snprintf(req, sizeof req, "WHATSAT %s 1 1\n", client);
	size_t end, nl;

	*found = false;
	if (n <= 0 || !send_all(pr->b->fd, req, (size_t)n))
		return E_IO;
	end = read_until(pr->b, "\n", 0, deadline);
	if (end == 0)
		return E_TIMEOUT;
	if (end >= 2 && pr->b->buf[0] == '?' && pr->b->buf[1] == ' ') {
		consume(pr->b, end);
		return E_OK;
	}
	nl = end;
	end = read_until(pr->b, "\n\n", nl - 1, deadline);
	if (end == 0)
		return E_TIMEOUT;
	*found = true;
	pr->seen_len = nl - 1 < sizeof pr->seen ? nl - 1 : 0;
	memcpy(pr->seen, pr->b->buf, pr->seen_len);
	consume(pr->b, end);
	return E_OK;
}

/* Sleeps that long, not the default 50 us timer slack longer. */
static void pause_us(unsigned usec)
{
	struct timespec ts = { .tv_sec = usec / 1000000,
			       .tv_nsec = (long)(usec % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted)
		;
}

/*
 * One update: IAMAT at A, and at once WHATSAT at B until B knows the
 * client; the latency is from sending the IAMAT to B's answer.  Polling
 * starts without waiting for A's reply, so the measuring floor (the
 * 0-hop route, B = A) is about one round trip.
 */
static enum err_kind probe_once(struct probe *pr, uint64_t *ns)
{
	const struct options *o = pr->x->o;
	uint64_t deadline = mono_ns() + (uint64_t)o->timeout_ms * 1000000;
	struct pending p = { .id = (uint16_t)(pr->c->next_id++ % MAX_IDS) };
	char client[CLIENT_MAX];
	enum err_kind err;
	bool found = false;

	pr->c->index++;		/* a fresh id: B cannot already hold it */
	client_id(o, pr->c, p.id, client);
	err = probe_send_report(pr, &p);
	while (err == E_OK && !found) {
		err = probe_lookup(pr, client, deadline, &found);
		if (err == E_OK && !found && o->poll_interval_us > 0)
			pause_us(o->poll_interval_us);
	}
	*ns = mono_ns() - p.sent_ns;
	if (err == E_OK)
		err = probe_check_report(pr, &p, deadline);
	return err;
}

static int open_line_conn(struct line_conn *lc,
			  const struct sockaddr_storage *ss, socklen_t len,
			  unsigned timeout_ms)
{
	lc->len = 0;
	lc->fd = connect_to(ss, len, timeout_ms);
	return lc->fd < 0 ? -1 : 0;
}

static void report_propagate(const struct options *o, const struct stats *st,
			     unsigned samples, const char *status)
{
	printf("propagate: port %u -> port %u, %u samples (%s)\n", o->port,
	       o->to_port, samples, status);
	printf("errors: %" PRIu64 "\n", stats_errors(st));
	print_errors(st, stdout, false);
	print_latency(st, stdout);
	printf("RESULT mode=propagate from=%u to=%u samples=%" PRIu64
	       " status=%s", o->port, o->to_port, st->hist.total, status);
	print_result_latency(st);
	print_errors(st, stdout, true);
	printf("\n");
}

#define PROPAGATE_WARMUP	10	/* samples not recorded */
#define PROPAGATE_GIVE_UP	3	/* timeouts in a row: no flooding */

static int run_propagate(const struct options *o)
{
	struct thread_ctx *x = make_threads(o, 1, 1);
	struct line_conn *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	struct probe pr = { .a = a, .b = b, .x = x, .c = &x->conns[0] };
	unsigned timeouts = 0, done = 0;
	const char *status = "ok";
	int rc;

	if (a == NULL || b == NULL)
		die("out of memory");
	if (open_line_conn(a, &o->addr, o->addr_len, o->timeout_ms) != 0 ||
	    open_line_conn(b, &o->to_addr, o->addr_len, o->timeout_ms) != 0)
		die("cannot connect: %s", strerror(errno));
	pr.c->index = (unsigned)getpid() * 1000u;
	if (o->poll_interval_us > 0)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL);	/* 1 us */
	while (done < o->count + PROPAGATE_WARMUP && !interrupted) {
		uint64_t ns = 0;
		enum err_kind err = probe_once(&pr, &ns);

		timeouts = err == E_TIMEOUT ? timeouts + 1 : 0;
		if (err != E_OK)
			conn_count_error(x, err);
		else if (done >= PROPAGATE_WARMUP)
			hist_add(&x->st.hist, ns);
		if (timeouts >= PROPAGATE_GIVE_UP) {
			status = "timeout";
			break;
		}
		if (err == E_IO)
			die("connection lost");
		done++;
	}
	report_propagate(o, &x->st, done, status);
	if (o->hist_path != NULL)
		hist_dump(&x->st.hist, o->hist_path);
	rc = stats_errors(&x->st) == 0 ? 0 : 1;
	close(a->fd);
	close(b->fd);
	free(a);
	free(b);
	free_threads(x, 1);
	return rc;
}

/* --- command line -------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
"usage: herdbench MODE [options]\n"
"modes:\n"
"  iamat      closed loop of IAMATs (C connections x D in flight)\n"
"  whatsat    registers each client, then a closed loop of WHATSATs\n"
"  idle       holds -n silent connections, then checks each still answers\n"
"  propagate  IAMAT at -p, poll -P with WHATSAT until it holds that line\n"
"options:\n"
"  -H HOST          server address, numeric (default 127.0.0.1)\n"
"  -p PORT          server port (required)\n"
"  -P PORT          propagate: the member polled (default: -p)\n"
"  -t SEC           measured duration, 0.1..3600 (default 10)\n"
"  -w SEC           warm-up before measuring (default 1)\n"
"  -c N             connections (default 64)\n"
"  -d N             requests in flight per connection (default 1)\n"
"  -n N             idle: connections; propagate: samples (default 1000)\n"
"  -T N             load threads (default 1)\n"
"  -s NAME          expected server name (default: learned from replies)\n"
"  --ids N          client ids per connection (default 1)\n"
"  --radius KM      whatsat radius as sent (default 10)\n"
"  --bound N        whatsat bound (default 5)\n"
"  --timeout-ms N   deadline of each reply / propagation (default 5000)\n"
"  --poll-us N      propagate: pause between polls (default 0)\n"
"  --hold SEC       idle: hold the connections this long (default 0)\n"
"  --settle SEC     idle: wait before measuring memory (default 1)\n"
"  --pids P,P,...   idle: server processes whose RSS to measure\n"
"  --prefix STR     client id prefix (default hb<pid>)\n"
"  --hist FILE      write the latency histogram (us, count, cumulative)\n"
"  --no-verify      count reply lines without checking (ceiling server)\n"
"  --allow-remote   allow a target that is not a loopback address\n");
}

enum long_opt {
	OPT_IDS = 256, OPT_RADIUS, OPT_BOUND, OPT_TIMEOUT, OPT_POLL,
	OPT_HOLD, OPT_SETTLE, OPT_PIDS, OPT_PREFIX, OPT_HIST, OPT_NO_VERIFY,
	OPT_REMOTE,
};

static const struct option long_opts[] = {
	{ "ids", required_argument, NULL, OPT_IDS },
	{ "radius", required_argument, NULL, OPT_RADIUS },
	{ "bound", required_argument, NULL, OPT_BOUND },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "poll-us", required_argument, NULL, OPT_POLL },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "settle", required_argument, NULL, OPT_SETTLE },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "hist", required_argument, NULL, OPT_HIST },
	{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
	{ "allow-remote", no_argument, NULL, OPT_REMOTE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static unsigned parse_uint(const char *s, unsigned lo, unsigned hi,
			   const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("%s: expected an integer in %u..%u, got '%s'", what, lo,
		    hi, s);
	return (unsigned)v;
}

static double parse_seconds(const char *s, double lo, double hi,
			    const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		die("%s: expected seconds in %g..%g, got '%s'", what, lo, hi,
		    s);
	return v;
}

static void parse_pids(struct options *o, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (copy == NULL)
		die("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (o->n_pids == MAX_PIDS)
			die("--pids: at most %d", MAX_PIDS);
		o->pids[o->n_pids++] = (pid_t)parse_uint(tok, 1, 1u << 30,
							 "--pids");
	}
	free(copy);
}

/* The radius is sent as written; it must be a plain positive decimal. */
static const char *check_radius(const char *s)
{
	size_t n = strspn(s, "0123456789.");

	if (n == 0 || s[n] != '\0' || strlen(s) > 24)
		die("--radius: expected kilometres like 10 or 2.5");
	return s;
}

static void parse_long_option(struct options *o, int c, const char *arg)
{
	switch (c) {
	case OPT_IDS: o->ids = parse_uint(arg, 1, MAX_IDS, "--ids"); break;
	case OPT_RADIUS: o->radius = check_radius(arg); break;
	case OPT_BOUND: o->bound = parse_uint(arg, 1, 1000, "--bound"); break;
	case OPT_TIMEOUT:
		o->timeout_ms = parse_uint(arg, 1, 600000, "--timeout-ms");
		break;
	case OPT_POLL:
		o->poll_interval_us = parse_uint(arg, 0, 1000000, "--poll-us");
		break;
	case OPT_HOLD: o->hold = parse_seconds(arg, 0, 3600, "--hold"); break;
	case OPT_SETTLE:
		o->settle = parse_seconds(arg, 0, 600, "--settle");
		break;
	case OPT_PIDS: parse_pids(o, arg); break;
	case OPT_PREFIX: o->prefix = arg; break;
	case OPT_HIST: o->hist_path = arg; break;
	case OPT_NO_VERIFY: o->no_verify = true; break;
	case OPT_REMOTE: o->allow_remote = true; break;
	default: usage(stderr); exit(2);
	}
}

static void parse_short_option(struct options *o, int c, const char *arg)
{
	switch (c) {
	case 'H': o->host = arg; break;
	case 'p': o->port = parse_uint(arg, 1, 65535, "-p"); break;
	case 'P': o->to_port = parse_uint(arg, 1, 65535, "-P"); break;
	case 't': o->duration = parse_seconds(arg, 0.1, 3600, "-t"); break;
	case 'w': o->warmup = parse_seconds(arg, 0, 600, "-w"); break;
	case 'c': o->conns = parse_uint(arg, 1, MAX_CONNS, "-c"); break;
	case 'd': o->depth = parse_uint(arg, 1, MAX_DEPTH, "-d"); break;
	case 'n': o->count = parse_uint(arg, 1, MAX_CONNS, "-n"); break;
	case 'T': o->threads = parse_uint(arg, 1, MAX_THREADS, "-T"); break;
	case 's':
		if (strlen(arg) == 0 || strlen(arg) > NAME_MAX_LEN)
			die("-s: a member name of 1..%d bytes", NAME_MAX_LEN);
		o->server = arg;
		break;
	case 'h': usage(stdout); exit(0);
	default: parse_long_option(o, c, arg);
	}
}

static enum mode parse_mode(const char *s)
{
	for (size_t i = 0; i < sizeof mode_names / sizeof *mode_names; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (enum mode)i;
	usage(stderr);
	die("unknown mode '%s'", s);
}

static void set_defaults(struct options *o)
{
	static char prefix[32];

	snprintf(prefix, sizeof prefix, "hb%ld", (long)getpid());
	*o = (struct options){
		.host = "127.0.0.1", .duration = 10, .warmup = 1,
		.settle = 1, .conns = 64, .depth = 1, .count = 1000,
		.threads = 1, .ids = 1, .timeout_ms = 5000, .radius = "10",
		.bound = 5, .prefix = prefix,
	};
}

static void check_options(struct options *o)
{
	if (o->port == 0)
		die("-p PORT is required");
	if (o->to_port == 0)
		o->to_port = o->port;
	o->addr_len = make_addr(o->host, o->port, &o->addr);
	(void)make_addr(o->host, o->to_port, &o->to_addr);
	if (!is_loopback(&o->addr) && !o->allow_remote)
		die("%s is not a loopback address; pass --allow-remote to "
		    "load a remote server", o->host);
	if (o->threads > o->conns)
		o->threads = o->conns;
	if (strlen(o->prefix) > 40)
		die("--prefix: at most 40 bytes");
	if (o->no_verify && o->mode != MODE_IAMAT)
		die("--no-verify is for iamat only");
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("sigaction: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct options o;
	int c;

	set_defaults(&o);
	if (argc < 2 || argv[1][0] == '-') {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	o.mode = parse_mode(argv[1]);
	optind = 2;
	while ((c = getopt_long(argc, argv, "H:p:P:t:w:c:d:n:T:s:h",
				long_opts, NULL)) != -1)
		parse_short_option(&o, c, optarg);
	if (optind != argc)
		die("unexpected argument '%s'", argv[optind]);
	check_options(&o);
	install_signals();
	raise_fd_limit();
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (o.mode) {
	case MODE_IAMAT:
	case MODE_WHATSAT:
		return run_load(&o);
	case MODE_IDLE:
		return run_idle(&o);
	case MODE_PROPAGATE:
		return run_propagate(&o);
	}
	return 2;
}
