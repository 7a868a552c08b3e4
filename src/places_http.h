/*
 * places_http.h - HTTP requests on a libevent loop, through libcurl's
 * multi interface (the "hiperfifo" arrangement): one multi handle per
 * process, one persistent event per socket libcurl uses, one timer, and
 * finished transfers collected after each curl_multi_socket_action().
 * Connections are kept in the multi handle's cache and reused.
 */
#ifndef HERD_PLACES_HTTP_H
#define HERD_PLACES_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ph;
struct ph_xfer;

/* Largest answer body accepted; a larger one is an error. */
#define PH_BODY_MAX (4u << 20)

struct ph_request {
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const char *post_body;		/* NULL: GET */
	unsigned timeout_ms;		/* whole transfer */
};

struct ph_result {
	bool completed;		/* an HTTP answer arrived (any status) */
	long http_code;
	const char *error;	/* why not, when !completed */
	const char *body;	/* NUL-terminated */
	size_t len;
	uint64_t latency_us;
};

/* Called once per transfer that was not aborted; res is valid only then. */
typedef void (*ph_done_fn)(void *arg, const struct ph_result *res);

/*
 * NULL with a reason in err if libcurl cannot be set up, or if its DNS
 * resolver would block the loop.
 */
struct ph *ph_new(struct event_base *base, char *err, size_t errlen);

/* Aborts every transfer (no callbacks) and frees. */
void ph_free(struct ph *h);

/* NULL if out of memory or libcurl refuses the request. */
struct ph_xfer *ph_start(struct ph *h, const struct ph_request *rq,
			 ph_done_fn fn, void *arg);

/* Stops a transfer; its callback will not be called. */
void ph_abort(struct ph_xfer *x);

/* URL-encodes s (curl_easy_escape) into out; false if it does not fit. */
bool ph_escape(struct ph *h, const char *s, char *out, size_t cap);

#endif
