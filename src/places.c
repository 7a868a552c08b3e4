/*
 * places.c - WHATSAT's Places lookups: queueing, sharing and answering.
 *
 * A query for an HTTP provider becomes a "flight": one upstream request
 * and the queries (waiters) that want its answer.  Identical concurrent
 * queries join the flight in the air instead of asking again.  At most
 * max_concurrent flights run at once; the rest wait in a FIFO queue.
 * Each flight has a deadline timer armed when it is created, so every
 * waiter gets an answer within timeout_ms, queued or not.  When a flight
 * lands, its document is laid out once per waiter, cut to that waiter's
 * bound.
 *
 * Answers that need no network (file and none providers, cache hits) are
 * handed over from a zero-timeout event, never from inside places_query().
 *
 * The API key never goes into a log line or an answer: error messages are
 * scrubbed of it, and it is wiped when the client is freed.
 */
#include "places.h"

#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/linkhash.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "places_cache.h"
#include "places_file.h"
#include "places_gnew.h"
#include "places_http.h"
#include "places_json.h"

#define API_KEY_MAX 512
#define COORD_MAX 32		/* "+34.068930", "2500" */
#define QUERY_KEY_MAX (3 * COORD_MAX + 16)
#define URL_MAX (CONF_PATH_MAX + 4 * API_KEY_MAX)
#define MESSAGE_MAX 512
#define CACHE_ENTRIES 1024
#define BOUND_MAX 20

/* What a client gets when even an error document cannot be built. */
static const char OOM_DOC[] =
	"{\n"
	"   \"error_message\" : \"The Places lookup ran out of memory\",\n"
	"   \"html_attributions\" : [],\n"
	"   \"results\" : [],\n"
	"   \"status\" : \"UNKNOWN_ERROR\"\n"
	"}";

enum flight_state { FLIGHT_QUEUED, FLIGHT_RUNNING, FLIGHT_DELIVERING };

struct flight {
	struct places *p;
	char key[QUERY_KEY_MAX];	/* what makes two queries identical */
	char lat[COORD_MAX], lng[COORD_MAX], radius_m[COORD_MAX];
	unsigned bound;			/* google-new asks for this many */
	enum flight_state state;
	bool start_failed;
	uint64_t deadline_ms;		/* monotonic */
	struct event *deadline;
	struct ph_xfer *xfer;		/* while running */
	TAILQ_HEAD(, places_req) waiters;
	TAILQ_ENTRY(flight) link;	/* in p->queued or p->running */
};

struct places_req {
	struct places *p;
	struct flight *flight;		/* NULL: answered locally */
	unsigned bound;
	places_done_fn fn;
	void *arg;
	struct event *ready;		/* local answer: fires at once */
	struct json_object *doc;	/* local answer */
	TAILQ_ENTRY(places_req) link;	/* in flight->waiters or p->local */
};

struct places {
	struct event_base *base;
	struct conf_places conf;
	char api_key[API_KEY_MAX];
	char base_url[CONF_PATH_MAX];
	struct ph *http;
	struct places_file *file;
	struct places_cache *cache;	/* NULL when off */
	struct lh_table *flights;	/* key -> queued or running flight */
	TAILQ_HEAD(, flight) queued;
	TAILQ_HEAD(, flight) running;
	unsigned n_queued, n_running;
	TAILQ_HEAD(, places_req) local;
	struct places_stats stats;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval ms_to_timeval(uint64_t ms)
{
	return (struct timeval){ (time_t)(ms / 1000),
				 (suseconds_t)(ms % 1000) * 1000 };
}

/* ---- error documents ---------------------------------------------- */

/* Drops a UTF-8 sequence that truncation cut short. */
static void trim_partial_utf8(char *s)
{
	size_t n = strlen(s), i = n, need;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0 || (unsigned char)s[i - 1] < 0xC0)
		return;
	need = (unsigned char)s[i - 1] >= 0xF0 ? 4 :
	       (unsigned char)s[i - 1] >= 0xE0 ? 3 : 2;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

/* Overwrites every copy of the API key in msg. */
static void scrub_key(const struct places *p, char *msg)
{
	size_t klen = strlen(p->api_key);
	char *hit;

	while (klen > 0 && (hit = strstr(msg, p->api_key)) != NULL)
		memset(hit, '*', klen);
}

__attribute__((format(printf, 3, 4)))
static struct json_object *failure(const struct places *p,
				   const char *status, const char *fmt, ...)
{
	char msg[MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	trim_partial_utf8(msg);
	scrub_key(p, msg);
	return pj_error_doc(status, msg);
}

/* ---- answering ---------------------------------------------------- */

/* Lays doc out for req, hands it over and frees req (already unlinked). */
static void deliver(struct places_req *req, struct json_object *doc)
{
	struct places *p = req->p;
	size_t len = 0;
	char *text = doc != NULL ? pj_layout(doc, req->bound, &len) : NULL;

	p->stats.requests++;
	if (text == NULL || !pj_status_ok(pj_status(doc)))
		p->stats.errors++;
	if (text != NULL)
		req->fn(req->arg, text, len);
	else
		req->fn(req->arg, OOM_DOC, sizeof OOM_DOC - 1);
	free(text);
	free(req);
}

static void local_req_free(struct places_req *req)
{
	TAILQ_REMOVE(&req->p->local, req, link);
	event_free(req->ready);
	json_object_put(req->doc);
	free(req);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct places_req *req = arg;
	struct json_object *doc = req->doc;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&req->p->local, req, link);
	event_free(req->ready);
	deliver(req, doc);
	json_object_put(doc);
}

/*
 * Answers req with doc (taking the reference) on the next turn of the
 * loop, so the caller of places_query() never sees its callback run
 * before places_query() returned.
 */
static bool answer_soon(struct places *p, struct places_req *req,
			struct json_object *doc)
{
	const struct timeval now = { 0, 0 };

	req->ready = evtimer_new(p->base, on_ready, req);
	if (req->ready == NULL || evtimer_add(req->ready, &now) != 0) {
		if (req->ready != NULL)
			event_free(req->ready);
		return false;
	}
	req->doc = doc;
	TAILQ_INSERT_TAIL(&p->local, req, link);
	return true;
}

static bool answer_locally(struct places *p, struct places_req *req,
			   const struct places_query_args *q)
{
	struct json_object *doc;

	if (p->conf.provider == PLACES_FILE)
		doc = pf_search(p->file, q->lat, q->lng, q->radius_km,
				req->bound);
	else
		doc = pj_error_doc("REQUEST_DENIED",
				   "No Places service is configured on this herd");
	if (doc == NULL)
		return false;
	if (!answer_soon(p, req, doc)) {
		json_object_put(doc);
		return false;
	}
	return true;
}

/* ---- flights ------------------------------------------------------ */

/* Takes f out of the table and its queue; it can no longer be joined. */
static void flight_unlink(struct flight *f)
{
	struct places *p = f->p;

	(void)lh_table_delete(p->flights, f->key);	/* always there */
	if (f->state == FLIGHT_QUEUED) {
		TAILQ_REMOVE(&p->queued, f, link);
		p->n_queued--;
	} else if (f->state == FLIGHT_RUNNING) {
		TAILQ_REMOVE(&p->running, f, link);
		p->n_running--;
	}
	f->state = FLIGHT_DELIVERING;
}

/* Frees an unlinked flight and any waiters left, without callbacks. */
static void flight_free(struct flight *f)
{
	struct places_req *req;

	while ((req = TAILQ_FIRST(&f->waiters)) != NULL) {
		TAILQ_REMOVE(&f->waiters, req, link);
		free(req);
	}
	ph_abort(f->xfer);
	if (f->deadline != NULL)
		event_free(f->deadline);
	free(f);
}

static void pump(struct places *p);

/* The flight is over: answer every waiter from doc, then free it. */
static void land(struct flight *f, struct json_object *doc)
{
	struct places *p = f->p;
	struct places_req *req;

	flight_unlink(f);
	pump(p);	/* a slot is free: start the next one first */
	/* A waiter's callback may cancel another: take them one by one. */
	while ((req = TAILQ_FIRST(&f->waiters)) != NULL) {
		TAILQ_REMOVE(&f->waiters, req, link);
		deliver(req, doc);
	}
	flight_free(f);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct flight *f = arg;
	struct places *p = f->p;
	struct json_object *doc;

	(void)fd;
	(void)what;
	ph_abort(f->xfer);
	f->xfer = NULL;
	if (f->start_failed)
		doc = failure(p, "UNKNOWN_ERROR",
			      "The Places request could not be made");
	else
		doc = failure(p, "UNKNOWN_ERROR", "The Places service did "
			      "not answer within %u ms", p->conf.timeout_ms);
	land(f, doc);
	json_object_put(doc);
}

static struct flight *flight_new(struct places *p, const char *key)
{
	struct flight *f = calloc(1, sizeof *f);
	struct timeval tv = ms_to_timeval(p->conf.timeout_ms);

	if (f == NULL)
		return NULL;
	f->p = p;
	snprintf(f->key, sizeof f->key, "%s", key);
	TAILQ_INIT(&f->waiters);
	f->deadline_ms = now_ms() + p->conf.timeout_ms;
	f->deadline = evtimer_new(p->base, on_deadline, f);
	if (f->deadline == NULL || evtimer_add(f->deadline, &tv) != 0 ||
	    lh_table_insert(p->flights, f->key, f) != 0) {
		flight_free(f);
		return NULL;
	}
	f->state = FLIGHT_QUEUED;
	TAILQ_INSERT_TAIL(&p->queued, f, link);
	p->n_queued++;
	return f;
}

static struct flight *flight_find(struct places *p, const char *key)
{
	void *f;

	return lh_table_lookup_ex(p->flights, key, &f) ? f : NULL;
}

/* ---- upstream requests -------------------------------------------- */

static void on_upstream_done(void *arg, const struct ph_result *res);

static unsigned remaining_ms(const struct flight *f)
{
	uint64_t now = now_ms();

	return f->deadline_ms > now ? (unsigned)(f->deadline_ms - now) : 1;
}

/* GET .../nearbysearch/json?location=LAT,LNG&radius=M&key=KEY */
static struct ph_xfer *start_google(struct places *p, struct flight *f)
{
	char lat[3 * COORD_MAX], lng[3 * COORD_MAX], radius[3 * COORD_MAX];
	char key[3 * API_KEY_MAX], url[URL_MAX];
	struct ph_request rq = { .url = url, .timeout_ms = remaining_ms(f) };

	if (!ph_escape(p->http, f->lat, lat, sizeof lat) ||
	    !ph_escape(p->http, f->lng, lng, sizeof lng) ||
	    !ph_escape(p->http, f->radius_m, radius, sizeof radius) ||
	    !ph_escape(p->http, p->api_key, key, sizeof key))
		return NULL;
	if (snprintf(url, sizeof url, "%s/maps/api/place/nearbysearch/json"
		     "?location=%s,%s&radius=%s&key=%s", p->base_url, lat, lng,
		     radius, key) >= (int)sizeof url)
		return NULL;
	return ph_start(p->http, &rq, on_upstream_done, f);
}

/* POST .../v1/places:searchNearby, the key in a header */
static struct ph_xfer *start_google_new(struct places *p, struct flight *f)
{
	char url[URL_MAX], key_header[API_KEY_MAX + 32];
	const char *headers[] = {
		"Content-Type: application/json", key_header,
		"X-Goog-FieldMask: " PG_FIELD_MASK, NULL,
	};
	struct ph_request rq = { .url = url, .headers = headers,
				 .timeout_ms = remaining_ms(f) };
	struct ph_xfer *x = NULL;
	char *body = pg_request_body(f->lat, f->lng, f->radius_m, f->bound);

	if (snprintf(url, sizeof url, "%s/v1/places:searchNearby",
		     p->base_url) >= (int)sizeof url ||
	    snprintf(key_header, sizeof key_header, "X-Goog-Api-Key: %s",
		     p->api_key) >= (int)sizeof key_header) {
		free(body);
		return NULL;
	}
	if (body != NULL) {
		rq.post_body = body;
		x = ph_start(p->http, &rq, on_upstream_done, f);
	}
	free(body);
	return x;
}

static void start_flight(struct places *p, struct flight *f)
{
	const struct timeval now = { 0, 0 };

	TAILQ_REMOVE(&p->queued, f, link);
	p->n_queued--;
	TAILQ_INSERT_TAIL(&p->running, f, link);
	p->n_running++;
	f->state = FLIGHT_RUNNING;
	f->xfer = p->conf.provider == PLACES_GOOGLE ? start_google(p, f) :
		  start_google_new(p, f);
	if (f->xfer != NULL) {
		p->stats.upstream++;
		return;
	}
	/*
	 * Out of memory or a URL too long: answer from the deadline timer
	 * on the next turn, since we may be inside places_query().  If even
	 * re-arming fails, the deadline still answers, later.
	 */
	f->start_failed = true;
	(void)evtimer_add(f->deadline, &now);
}

/* Starts flights from the queue while there is a free slot. */
static void pump(struct places *p)
{
	while (p->n_running < p->conf.max_concurrent &&
	       !TAILQ_EMPTY(&p->queued))
		start_flight(p, TAILQ_FIRST(&p->queued));
}

/* ---- upstream answers --------------------------------------------- */

/* A non-OK Nearby Search answer: its status and message, our layout. */
static struct json_object *pass_error(const struct places *p,
				      struct json_object *answer,
				      const char *status)
{
	struct json_object *msg;

	if (json_object_object_get_ex(answer, "error_message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		return failure(p, status, "%s", json_object_get_string(msg));
	return failure(p, status, "The Places service answered %s", status);
}

static bool has_results(struct json_object *doc)
{
	struct json_object *results;

	return json_object_object_get_ex(doc, "results", &results) &&
	       json_object_is_type(results, json_type_array);
}

static struct json_object *shape_google(const struct places *p,
					const struct ph_result *res,
					unsigned keep)
{
	struct json_object *answer, *doc;
	const char *status;
	char why[128];

	if (!res->completed)
		return failure(p, "UNKNOWN_ERROR",
			       "The Places request failed: %s", res->error);
	if (res->http_code != 200)
		return failure(p, "UNKNOWN_ERROR", "The Places service "
			       "answered HTTP %ld", res->http_code);
	answer = pj_parse_cut(res->body, res->len, keep, why, sizeof why);
	if (answer == NULL)
		return failure(p, "UNKNOWN_ERROR", "The Places service sent "
			       "an unreadable answer: %s", why);
	status = pj_status(answer);
	if (pj_status_ok(status) && has_results(answer))
		return answer;
	if (status == NULL || pj_status_ok(status))
		doc = failure(p, "UNKNOWN_ERROR", "The Places service sent an "
			      "answer without %s", status ? "results" : "a status");
	else
		doc = pass_error(p, answer, status);
	json_object_put(answer);
	return doc;
}

static struct json_object *shape_google_new(const struct places *p,
					    const struct ph_result *res)
{
	struct json_object *answer, *doc;
	const char *msg;
	char why[128] = "";

	if (!res->completed)
		return failure(p, "UNKNOWN_ERROR",
			       "The Places request failed: %s", res->error);
	answer = pj_parse(res->body, res->len, why, sizeof why);
	msg = pg_error_message(answer);
	if (res->http_code != 200 && msg != NULL)
		doc = failure(p, pg_status_for_http(res->http_code), "%s", msg);
	else if (res->http_code != 200)
		doc = failure(p, pg_status_for_http(res->http_code), "The "
			      "Places service answered HTTP %ld", res->http_code);
	else if (answer == NULL)
		doc = failure(p, "UNKNOWN_ERROR", "The Places service sent "
			      "an unreadable answer: %s", why);
	else if ((doc = pg_map_answer(answer)) == NULL)
		doc = failure(p, "UNKNOWN_ERROR", "The Places service sent "
			      "an answer of an unexpected shape");
	json_object_put(answer);
	return doc;
}

static void count_latency(struct places_stats *s, uint64_t us)
{
	s->latency_us_total += us;
	if (us > s->latency_us_max)
		s->latency_us_max = us;
}

/*
 * How many results the flight's answer can ever be sent with: the largest
 * bound among its waiters, or any bound when it goes into the cache.
 */
static unsigned results_wanted(const struct flight *f)
{
	const struct places_req *req;
	unsigned keep = 0;

	if (f->p->cache != NULL)
		return BOUND_MAX;
	TAILQ_FOREACH(req, &f->waiters, link)
		if (req->bound > keep)
			keep = req->bound;
	return keep;
}

static void on_upstream_done(void *arg, const struct ph_result *res)
{
	struct flight *f = arg;
	struct places *p = f->p;
	struct json_object *doc;

	f->xfer = NULL;		/* finished: ph frees it after we return */
	count_latency(&p->stats, res->latency_us);
	/* Parsing results nobody is sent was most of a worker's time. */
	doc = p->conf.provider == PLACES_GOOGLE ?
	      shape_google(p, res, results_wanted(f)) :
	      shape_google_new(p, res);
	if (p->cache != NULL && pj_status_ok(pj_status(doc)))
		pc_put(p->cache, f->key, doc);
	land(f, doc);
	json_object_put(doc);
}

/* ---- query texts -------------------------------------------------- */

/* ISO 6709 number: sign, digits, optionally '.' and digits. */
static bool coordinate_text(const char *s, size_t n)
{
	size_t i = 1, whole, frac = 0;

	if (n < 2 || n >= COORD_MAX || (s[0] != '+' && s[0] != '-'))
		return false;
	for (whole = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		whole++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			frac++;
	return whole > 0 && i == n && (frac > 0 || s[n - 1] != '.');
}

/*
 * The client's own texts of the two numbers ("+34.068930",
 * "-118.445127"), or, if the caller passed none, the numbers printed.
 */
static void location_texts(const struct places_query_args *q, char *lat,
			   char *lng)
{
	const char *s = q->location.p;
	size_t n = s != NULL ? q->location.len : 0, cut = 1;

	while (cut < n && s[cut] != '+' && s[cut] != '-')
		cut++;
	if (cut < n && coordinate_text(s, cut) &&
	    coordinate_text(s + cut, n - cut)) {
		snprintf(lat, COORD_MAX, "%.*s", (int)cut, s);
		snprintf(lng, COORD_MAX, "%.*s", (int)(n - cut), s + cut);
		return;
	}
	snprintf(lat, COORD_MAX, "%+.6f", q->lat);
	snprintf(lng, COORD_MAX, "%+.6f", q->lng);
}

static void radius_text(const struct places_query_args *q, char *radius)
{
	if (q->radius_m == NULL || q->radius_m[0] == '\0' ||
	    snprintf(radius, COORD_MAX, "%s", q->radius_m) >= COORD_MAX)
		snprintf(radius, COORD_MAX, "%.10g", q->radius_km * 1000);
}

/* ---- queries ------------------------------------------------------ */

static bool join_or_start(struct places *p, struct places_req *req,
			  const struct places_query_args *q, const char *key)
{
	struct flight *f = flight_find(p, key);
	bool fresh = f == NULL;

	if (fresh) {
		f = flight_new(p, key);
		if (f == NULL)
			return false;
		location_texts(q, f->lat, f->lng);
		radius_text(q, f->radius_m);
		f->bound = req->bound;
	} else
		p->stats.coalesced++;
	req->flight = f;
	TAILQ_INSERT_TAIL(&f->waiters, req, link);
	if (fresh)
		pump(p);
	return true;
}

static bool ask_upstream(struct places *p, struct places_req *req,
			 const struct places_query_args *q)
{
	char lat[COORD_MAX], lng[COORD_MAX], radius[COORD_MAX];
	char key[QUERY_KEY_MAX];
	struct json_object *cached;

	location_texts(q, lat, lng);
	radius_text(q, radius);
	/* google-new's answer depends on the bound; Nearby Search's not */
	snprintf(key, sizeof key, "%s%s|%s|%u", lat, lng, radius,
		 p->conf.provider == PLACES_GOOGLE_NEW ? req->bound : 0);
	cached = p->cache != NULL ? pc_get(p->cache, key) : NULL;
	if (cached == NULL)
		return join_or_start(p, req, q, key);
	if (!answer_soon(p, req, cached)) {
		json_object_put(cached);
		return false;
	}
	p->stats.cache_hits++;
	return true;
}

struct places_req *places_query(struct places *p,
				const struct places_query_args *q,
				places_done_fn fn, void *arg)
{
	struct places_req *req = calloc(1, sizeof *req);
	bool local = p->conf.provider == PLACES_NONE ||
		     p->conf.provider == PLACES_FILE;

	if (req == NULL)
		return NULL;
	req->p = p;
	req->bound = q->bound < 1 ? 1 : q->bound > BOUND_MAX ? BOUND_MAX :
		     q->bound;
	req->fn = fn;
	req->arg = arg;
	if (!(local ? answer_locally(p, req, q) : ask_upstream(p, req, q))) {
		free(req);
		return NULL;
	}
	return req;
}

void places_cancel(struct places_req *req)
{
	struct flight *f;

	if (req == NULL)
		return;
	f = req->flight;
	if (f == NULL) {
		local_req_free(req);
		return;
	}
	TAILQ_REMOVE(&f->waiters, req, link);
	free(req);
	if (f->state != FLIGHT_DELIVERING && TAILQ_EMPTY(&f->waiters)) {
		/* Nobody wants the answer now: stop and free the slot. */
		struct places *p = f->p;

		flight_unlink(f);
		flight_free(f);
		pump(p);
	}
}

void places_get_stats(const struct places *p, struct places_stats *out)
{
	*out = p->stats;
	out->in_flight = p->n_running;
	out->queued = p->n_queued;
}

/* ---- setting up --------------------------------------------------- */

static void trim(char *s)
{
	size_t n = strlen(s), start = strspn(s, " \t\r\n");

	while (n > start && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	memmove(s, s + start, n - start);
	s[n - start] = '\0';
}

static bool read_key_file(struct places *p, char *err, size_t errlen)
{
	const char *path = p->conf.key_file;
	FILE *fp = fopen(path, "r");
	bool whole;

	if (fp == NULL) {
		snprintf(err, errlen, "key_file %s: %s", path, strerror(errno));
		return false;
	}
	if (fgets(p->api_key, sizeof p->api_key, fp) == NULL)
		p->api_key[0] = '\0';
	whole = strchr(p->api_key, '\n') != NULL || feof(fp);
	fclose(fp);
	if (!whole)
		snprintf(err, errlen, "key_file %s: first line too long", path);
	return whole;
}

static bool read_key_env(struct places *p, char *err, size_t errlen)
{
	const char *value = getenv(p->conf.key_env);

	if (snprintf(p->api_key, sizeof p->api_key, "%s",
		     value != NULL ? value : "") < (int)sizeof p->api_key)
		return true;
	snprintf(err, errlen, "environment variable %s: too long",
		 p->conf.key_env);
	return false;
}

static bool key_is_printable(const char *key)
{
	for (; *key != '\0'; key++)
		if ((unsigned char)*key <= ' ' || (unsigned char)*key >= 0x7f)
			return false;
	return true;
}

/* From key_file's first line, else from key_env. */
static bool load_key(struct places *p, char *err, size_t errlen)
{
	bool from_file = p->conf.key_file[0] != '\0';
	const char *where = from_file ? p->conf.key_file : p->conf.key_env;

	if (!from_file && p->conf.key_env[0] == '\0') {
		snprintf(err, errlen, "the Places provider needs an API key: "
			 "set key_file or key_env in [places]");
		return false;
	}
	if (!(from_file ? read_key_file(p, err, errlen) :
	      read_key_env(p, err, errlen)))
		return false;
	trim(p->api_key);
	if (p->api_key[0] == '\0' || !key_is_printable(p->api_key)) {
		snprintf(err, errlen, "%s %s holds no usable API key",
			 from_file ? "key_file" : "environment variable", where);
		return false;
	}
	return true;
}

static bool set_base_url(struct places *p, char *err, size_t errlen)
{
	const char *base = p->conf.base_url;
	size_t n;

	if (base[0] == '\0')
		base = p->conf.provider == PLACES_GOOGLE ?
		       "https://maps.googleapis.com" :
		       "https://places.googleapis.com";
	snprintf(p->base_url, sizeof p->base_url, "%s", base);
	n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		p->base_url[--n] = '\0';
	if (strncmp(p->base_url, "http://", 7) == 0 ||
	    strncmp(p->base_url, "https://", 8) == 0)
		return true;
	snprintf(err, errlen, "base_url %s is not an http(s) URL", base);
	return false;
}

static bool setup_http(struct places *p, char *err, size_t errlen)
{
	if (!load_key(p, err, errlen) || !set_base_url(p, err, errlen))
		return false;
	p->http = ph_new(p->base, err, errlen);
	if (p->http == NULL)
		return false;
	if (p->conf.cache_ttl_s > 0) {
		p->cache = pc_new(p->conf.cache_ttl_s, CACHE_ENTRIES);
		if (p->cache == NULL) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	return true;
}

static bool setup_provider(struct places *p, char *err, size_t errlen)
{
	switch (p->conf.provider) {
	case PLACES_NONE:
		return true;
	case PLACES_FILE:
		p->file = pf_load(p->conf.file, err, errlen);
		return p->file != NULL;
	case PLACES_GOOGLE:
	case PLACES_GOOGLE_NEW:
		return setup_http(p, err, errlen);
	}
	snprintf(err, errlen, "unknown Places provider %d",
		 (int)p->conf.provider);
	return false;
}

struct places *places_new(struct event_base *base,
			  const struct conf_places *conf, char *err,
			  size_t errlen)
{
	struct places *p = calloc(1, sizeof *p);

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->base = base;
	p->conf = *conf;
	if (p->conf.timeout_ms == 0)
		p->conf.timeout_ms = 5000;
	if (p->conf.max_concurrent == 0)
		p->conf.max_concurrent = 1;
	TAILQ_INIT(&p->queued);
	TAILQ_INIT(&p->running);
	TAILQ_INIT(&p->local);
	p->flights = lh_kchar_table_new(64, NULL);
	if (p->flights == NULL)
		snprintf(err, errlen, "out of memory");
	if (p->flights == NULL || !setup_provider(p, err, errlen)) {
		places_free(p);
		return NULL;
	}
	return p;
}

static void free_flights(struct places *p)
{
	struct flight *f;

	while ((f = TAILQ_FIRST(&p->queued)) != NULL ||
	       (f = TAILQ_FIRST(&p->running)) != NULL) {
		flight_unlink(f);
		flight_free(f);
	}
}

void places_free(struct places *p)
{
	if (p == NULL)
		return;
	while (!TAILQ_EMPTY(&p->local))
		local_req_free(TAILQ_FIRST(&p->local));
	free_flights(p);
	ph_free(p->http);
	pf_free(p->file);
	pc_free(p->cache);
	if (p->flights != NULL)
		lh_table_free(p->flights);
	explicit_bzero(p->api_key, sizeof p->api_key);
	free(p);
}
