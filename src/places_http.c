/*
 * places_http.c - libcurl's multi interface on a libevent loop.
 *
 * The hiperfifo arrangement: libcurl tells us, through its socket
 * callback, which sockets it waits on and for what; each gets one
 * persistent event, re-armed when the interest changes and freed on
 * CURL_POLL_REMOVE.  Its timer callback moves one evtimer.  When an event
 * or the timer fires, curl_multi_socket_action() runs, and then every
 * finished transfer is collected with curl_multi_info_read().
 *
 * libcurl is never called from inside its own callbacks (the one
 * documented exception, curl_multi_assign() from the socket callback,
 * aside): the callbacks only move events, and transfers are added,
 * removed and reported from our libevent callbacks or the caller's code.
 *
 * Each transfer has its own easy handle; connections live in the multi
 * handle's connection cache, so consecutive requests to one host reuse
 * them (keep-alive, TLS sessions).
 */
#include "places_http.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

struct ph_sock {
	struct ph *h;
	curl_socket_t fd;
	struct event *ev;
	LIST_ENTRY(ph_sock) link;
};

struct ph_xfer {
	struct ph *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t len, cap;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t started_us;
	ph_done_fn fn;
	void *arg;
	LIST_ENTRY(ph_xfer) link;
};

struct ph {
	struct event_base *base;
	CURLM *multi;
	CURL *escaper;		/* only for curl_easy_escape() */
	struct event *timer;
	bool global_init;
	LIST_HEAD(, ph_sock) socks;
	LIST_HEAD(, ph_xfer) xfers;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- sockets ------------------------------------------------------ */

static void collect_finished(struct ph *h);

/*
 * Lets libcurl act on fd (or on its timer), then reports what finished.
 * An error from curl_multi_socket_action() has no remedy here: every
 * transfer still ends, at the latest at its timeout, and is reported then.
 */
static void drive(struct ph *h, curl_socket_t fd, int action)
{
	int running;

	(void)curl_multi_socket_action(h->multi, fd, action, &running);
	collect_finished(h);
}

static void on_socket_event(evutil_socket_t fd, short kind, void *arg)
{
	drive(arg, fd, (kind & EV_READ ? CURL_CSELECT_IN : 0) |
		       (kind & EV_WRITE ? CURL_CSELECT_OUT : 0));
}

static struct ph_sock *sock_new(struct ph *h, curl_socket_t fd)
{
	struct ph_sock *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->ev = event_new(h->base, fd, 0, on_socket_event, h);
	if (s->ev == NULL) {
		free(s);
		return NULL;
	}
	s->h = h;
	s->fd = fd;
	LIST_INSERT_HEAD(&h->socks, s, link);
	return s;
}

static void sock_free(struct ph_sock *s)
{
	if (s == NULL)
		return;
	event_free(s->ev);	/* also deletes it, even from its callback */
	LIST_REMOVE(s, link);
	free(s);
}

/* Re-arms the socket's one event for what libcurl now waits for. */
static bool sock_watch(struct ph_sock *s, int what)
{
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
		     (what & CURL_POLL_OUT ? EV_WRITE : 0);

	if (event_del(s->ev) != 0 ||
	    event_assign(s->ev, s->h->base, s->fd, kind, on_socket_event,
			 s->h) != 0)
		return false;
	return event_add(s->ev, NULL) == 0;
}

/* CURLMOPT_SOCKETFUNCTION */
static int on_socket_change(CURL *easy, curl_socket_t fd, int what,
			    void *userp, void *socketp)
{
	struct ph *h = userp;
	struct ph_sock *s = socketp;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		sock_free(s);
		return 0;
	}
	if (s == NULL) {
		s = sock_new(h, fd);
		if (s == NULL)
			return -1;
		if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
			sock_free(s);
			return -1;
		}
	}
	return sock_watch(s, what) ? 0 : -1;
}

/* ---- timer -------------------------------------------------------- */

static void on_timeout(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

/*
 * CURLMOPT_TIMERFUNCTION.  A zero timeout fires on the next turn of the
 * loop rather than here: acting now would call libcurl from its own
 * callback.
 */
static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct ph *h = userp;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(h->timer) == 0 ? 0 : -1;
	return evtimer_add(h->timer, &tv) == 0 ? 0 : -1;
}

/* ---- transfers ---------------------------------------------------- */

/* CURLOPT_WRITEFUNCTION: keeps the body, up to PH_BODY_MAX. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct ph_xfer *x = arg;
	size_t n = size * nmemb, cap = x->cap ? x->cap : 16384;
	char *body;

	if (n > PH_BODY_MAX - x->len) {
		x->too_big = true;
		return 0;	/* makes the transfer fail */
	}
	while (cap < x->len + n + 1)
		cap *= 2;
	if (cap != x->cap) {
		body = realloc(x->body, cap);
		if (body == NULL)
			return 0;
		x->body = body;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	x->body[x->len] = '\0';
	return n;
}

static void xfer_free(struct ph_xfer *x)
{
	if (x->easy != NULL) {
		/* fails only for a handle already out: fine either way */
		(void)curl_multi_remove_handle(x->h->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	LIST_REMOVE(x, link);
	curl_slist_free_all(x->headers);
	free(x->body);
	free(x);
}

static const char *failure_text(struct ph_xfer *x, CURLcode code)
{
	if (x->too_big)
		return "the answer is larger than 4 MiB";
	return x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(code);
}

/* Reports one finished transfer and frees it. */
static void finish(struct ph *h, CURL *easy, CURLcode code)
{
	struct ph_result res = { .completed = code == CURLE_OK };
	struct ph_xfer *x = NULL;
	char *priv = NULL;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
	    priv == NULL) {
		(void)curl_multi_remove_handle(h->multi, easy);	/* not ours */
		return;
	}
	x = (struct ph_xfer *)priv;
	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE,
			      &res.http_code) != CURLE_OK)
		res.http_code = 0;
	res.error = res.completed ? NULL : failure_text(x, code);
	res.body = x->body != NULL ? x->body : "";
	res.len = x->len;
	res.latency_us = now_us() - x->started_us;
	/* Out of the multi handle first: the callback may start others. */
	(void)curl_multi_remove_handle(h->multi, x->easy);
	x->fn(x->arg, &res);
	xfer_free(x);
}

static void collect_finished(struct ph *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE)
			finish(h, msg->easy_handle, msg->data.result);
	}
}

static bool set_common_options(struct ph_xfer *x, unsigned timeout_ms)
{
	CURL *e = x->easy;

	return curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_WRITEDATA, x) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK &&
	       /* no SIGALRM: DNS timeouts must not touch our signals */
	       curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
				(long)timeout_ms) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
				(curl_off_t)PH_BODY_MAX) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_USERAGENT, "herd") == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
	       curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
				"http,https") == CURLE_OK;
#else
	       curl_easy_setopt(e, CURLOPT_PROTOCOLS,
				(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) ==
	       CURLE_OK;
#endif
}

static bool set_request(struct ph_xfer *x, const struct ph_request *rq)
{
	for (size_t i = 0; rq->headers != NULL && rq->headers[i]; i++) {
		struct curl_slist *l = curl_slist_append(x->headers,
							 rq->headers[i]);
		if (l == NULL)
			return false;
		x->headers = l;
	}
	if (curl_easy_setopt(x->easy, CURLOPT_URL, rq->url) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER,
			     x->headers) != CURLE_OK)
		return false;
	if (rq->post_body == NULL)
		return true;
	return curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE,
				(long)strlen(rq->post_body)) == CURLE_OK &&
	       curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS,
				rq->post_body) == CURLE_OK;
}

struct ph_xfer *ph_start(struct ph *h, const struct ph_request *rq,
			 ph_done_fn fn, void *arg)
{
	struct ph_xfer *x = calloc(1, sizeof *x);

	if (x == NULL)
		return NULL;
	x->h = h;
	x->fn = fn;
	x->arg = arg;
	LIST_INSERT_HEAD(&h->xfers, x, link);
	x->easy = curl_easy_init();
	if (x->easy == NULL || !set_common_options(x, rq->timeout_ms) ||
	    !set_request(x, rq) ||
	    curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		xfer_free(x);
		return NULL;
	}
	x->started_us = now_us();
	return x;
}

void ph_abort(struct ph_xfer *x)
{
	if (x != NULL)
		xfer_free(x);
}

/* ---- the client --------------------------------------------------- */

/*
 * A resolver that blocks would stall the whole worker during a DNS
 * lookup.  Debian's libcurl is built with the threaded resolver, which
 * libcurl reports as CURL_VERSION_ASYNCHDNS: lookups run on a helper
 * thread and the loop only sees a socket.  Refuse to run without it.
 */
static bool dns_is_asynchronous(void)
{
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);

	return info != NULL && (info->features & CURL_VERSION_ASYNCHDNS);
}

static bool set_multi_options(struct ph *h)
{
	CURLM *m = h->multi;

	return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION,
				 on_socket_change) == CURLM_OK &&
	       curl_multi_setopt(m, CURLMOPT_SOCKETDATA, h) == CURLM_OK &&
	       curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION,
				 on_timer_change) == CURLM_OK &&
	       curl_multi_setopt(m, CURLMOPT_TIMERDATA, h) == CURLM_OK;
}

struct ph *ph_new(struct event_base *base, char *err, size_t errlen)
{
	struct ph *h = calloc(1, sizeof *h);

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->base = base;
	LIST_INIT(&h->socks);
	LIST_INIT(&h->xfers);
	h->global_init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	if (!h->global_init || !dns_is_asynchronous()) {
		snprintf(err, errlen, h->global_init ?
			 "libcurl has no asynchronous DNS resolver" :
			 "libcurl could not be initialised");
		ph_free(h);
		return NULL;
	}
	h->multi = curl_multi_init();
	h->escaper = curl_easy_init();
	h->timer = evtimer_new(base, on_timeout, h);
	if (h->multi == NULL || h->escaper == NULL || h->timer == NULL ||
	    !set_multi_options(h)) {
		snprintf(err, errlen, "libcurl could not be set up");
		ph_free(h);
		return NULL;
	}
	return h;
}

void ph_free(struct ph *h)
{
	if (h == NULL)
		return;
	while (!LIST_EMPTY(&h->xfers))
		xfer_free(LIST_FIRST(&h->xfers));
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);	/* may report REMOVEs */
	while (!LIST_EMPTY(&h->socks))
		sock_free(LIST_FIRST(&h->socks));
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->escaper != NULL)
		curl_easy_cleanup(h->escaper);
	if (h->global_init)
		curl_global_cleanup();
	free(h);
}

bool ph_escape(struct ph *h, const char *s, char *out, size_t cap)
{
	char *esc = curl_easy_escape(h->escaper, s, 0);
	bool fits;

	if (esc == NULL)
		return false;
	fits = snprintf(out, cap, "%s", esc) < (int)cap;
	curl_free(esc);
	return fits;
}
