/*
 * fake_places.c - a stand-in for Google's Places web services, for tests
 * and benchmarks.  Never a real server: it binds 127.0.0.1 only.
 *
 *   fake_places [-p PORT] [-r REQUEST_LOG] [-d NEARBY_JSON] [-n NEW_JSON]
 *
 * Port 0 (the default) picks a free one; "PORT <n>" is printed on stdout
 * once the server listens.  It serves
 *
 *   GET  /maps/api/place/nearbysearch/json  the Nearby Search fixture (-d)
 *   POST /v1/places:searchNearby            the Places API (New) fixture
 *                                           (-n), cut to maxResultCount
 *   GET  /fake/config?delay_ms=N&fail=MODE  changes behaviour; MODE is
 *        none | http500 | http403 | badjson | status:STATUS | hang
 *   GET  /fake/count                        searches received so far
 *   GET  /fake/stats                        {"searches", "in_flight",
 *                                           "max_in_flight"}
 *
 * Every request is written to the request log as one JSON line (time,
 * method, client port, path, raw query, decoded params, headers, body),
 * flushed at once.
 * Bodies over 1 MiB are refused.  SIGTERM or SIGINT ends it cleanly.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (1 << 20)
#define FIXTURE_MAX (16 << 20)
#define NEARBY_PATH "/maps/api/place/nearbysearch/json"
#define SEARCH_NEARBY_PATH "/v1/places:searchNearby"

enum fail_mode { FAIL_NONE, FAIL_HTTP500, FAIL_HTTP403, FAIL_BADJSON,
		 FAIL_STATUS, FAIL_HANG };

struct answer {
	int code;
	const char *type;	/* Content-Type */
	char *body;		/* malloc'd */
	size_t len;
};

struct pending {
	struct fake *f;
	struct evhttp_request *req;
	struct event *timer;	/* NULL: hangs */
	struct answer a;
	LIST_ENTRY(pending) link;
};

struct fake {
	struct event_base *base;
	struct evhttp *http;
	FILE *log;
	char *nearby;			/* fixture text */
	size_t nearby_len;
	struct json_object *places;	/* New fixture's "places" */
	unsigned delay_ms;
	enum fail_mode fail;
	char fail_status[64];
	unsigned long searches;
	unsigned in_flight, max_in_flight;
	LIST_HEAD(, pending) pending;
};

/* ---- small helpers ------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *data = malloc(FIXTURE_MAX + 1);
	size_t n = 0;

	if (fp != NULL && data != NULL) {
		n = fread(data, 1, FIXTURE_MAX + 1, fp);
		if (ferror(fp) || n > FIXTURE_MAX) {
			free(data);
			data = NULL;
		}
	}
	if (fp != NULL)
		fclose(fp);
	if (fp == NULL || data == NULL) {
		fprintf(stderr, "fake_places: cannot read %s\n", path);
		free(data);
		return NULL;
	}
	data[n] = '\0';
	*len = n;
	return data;
}

static struct answer answer_text(int code, const char *type,
				 const char *text)
{
	struct answer a = { code, type, strdup(text), strlen(text) };

	if (a.body == NULL)
		a.len = 0;
	return a;
}

/* {"error": {"code", "message", "status"}}, the Google APIs' error. */
static struct answer api_error(int code, const char *message,
			       const char *status)
{
	char text[1024];

	snprintf(text, sizeof text, "{\n  \"error\": {\n    \"code\": %d,\n"
		 "    \"message\": \"%s\",\n    \"status\": \"%s\"\n  }\n}\n",
		 code, message, status);
	return answer_text(code, "application/json; charset=UTF-8", text);
}

/* A non-OK Nearby Search answer, laid out as Google does. */
static struct answer nearby_status(const char *status, const char *message)
{
	char text[1024];

	snprintf(text, sizeof text, "{\n   \"error_message\" : \"%s\",\n"
		 "   \"html_attributions\" : [],\n   \"results\" : [],\n"
		 "   \"status\" : \"%s\"\n}\n", message, status);
	return answer_text(200, "application/json; charset=UTF-8", text);
}

static const char *header(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:    return "GET";
	case EVHTTP_REQ_POST:   return "POST";
	case EVHTTP_REQ_HEAD:   return "HEAD";
	case EVHTTP_REQ_PUT:    return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	default:                return "OTHER";
	}
}

/* ---- request log -------------------------------------------------- */

static struct json_object *pairs_object(const struct evkeyvalq *kv)
{
	struct json_object *obj = json_object_new_object();
	const struct evkeyval *p;

	TAILQ_FOREACH(p, kv, next)
		json_object_object_add(obj, p->key,
				       json_object_new_string(p->value));
	return obj;
}

static struct json_object *params_object(struct evhttp_request *req)
{
	const char *query = evhttp_uri_get_query(
		evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	struct json_object *obj;

	TAILQ_INIT(&params);
	if (query != NULL && evhttp_parse_query_str(query, &params) != 0)
		evhttp_clear_headers(&params);
	obj = pairs_object(&params);
	evhttp_clear_headers(&params);
	return obj;
}

static struct json_object *body_string(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	unsigned char *data = evbuffer_pullup(in, -1);

	return json_object_new_string_len(data ? (const char *)data : "",
					  (int)len);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The client's port: requests on one connection share it. */
static int peer_port(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *address = NULL;
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &address, &port);
	return port;
}

static void log_request(struct fake *f, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri);
	struct json_object *line = json_object_new_object();

	if (f->log == NULL || line == NULL) {
		json_object_put(line);
		return;
	}
	json_object_object_add(line, "t_ms", json_object_new_int64(now_ms()));
	json_object_object_add(line, "method", json_object_new_string(
		method_name(evhttp_request_get_command(req))));
	json_object_object_add(line, "peer_port",
			       json_object_new_int(peer_port(req)));
	json_object_object_add(line, "path", json_object_new_string(
		evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : ""));
	json_object_object_add(line, "query",
			       json_object_new_string(query ? query : ""));
	json_object_object_add(line, "params", params_object(req));
	json_object_object_add(line, "headers", pairs_object(
		evhttp_request_get_input_headers(req)));
	json_object_object_add(line, "body", body_string(req));
	fprintf(f->log, "%s\n", json_object_to_json_string_ext(line,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(f->log);
	json_object_put(line);
}

/* ---- answers ------------------------------------------------------ */

static void send_answer(struct evhttp_request *req, struct answer *a)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", a->type);
	if (out != NULL && a->body != NULL)
		evbuffer_add(out, a->body, a->len);
	evhttp_send_reply(req, a->code, a->code == 200 ? "OK" : "Error", out);
	if (out != NULL)
		evbuffer_free(out);
	free(a->body);
	a->body = NULL;
}

static struct answer nearby_answer(struct fake *f, struct evhttp_request *req)
{
	struct json_object *params = params_object(req);
	bool has_key = json_object_object_get_ex(params, "key", NULL);

	json_object_put(params);
	switch (f->fail) {
	case FAIL_HTTP500:
		return answer_text(500, "text/html", "<html><body>500 "
				   "Internal Server Error</body></html>\n");
	case FAIL_HTTP403:
		return answer_text(403, "text/html", "<html><body>403 "
				   "Forbidden</body></html>\n");
	case FAIL_BADJSON:
		return answer_text(200, "application/json; charset=UTF-8",
				   "{\n   \"html_attributions\" : [],\n"
				   "   \"results\" : [\n      {\n         \"busi");
	case FAIL_STATUS:
		return nearby_status(f->fail_status, strcmp(f->fail_status,
			"OVER_QUERY_LIMIT") == 0 ? "You have exceeded your daily "
			"request quota for this API." : "fake_places was told "
			"to answer this status");
	default:
		break;
	}
	if (!has_key)
		return nearby_status("REQUEST_DENIED", "You must use an API key "
				     "to authenticate each request to Google "
				     "Maps Platform APIs.");
	return answer_text(200, "application/json; charset=UTF-8", f->nearby);
}

static struct answer status_as_api_error(const char *status)
{
	if (strcmp(status, "OVER_QUERY_LIMIT") == 0)
		return api_error(429, "Quota exceeded for quota metric "
				 "'SearchNearby requests'.", "RESOURCE_EXHAUSTED");
	if (strcmp(status, "REQUEST_DENIED") == 0)
		return api_error(403, "The caller does not have permission",
				 "PERMISSION_DENIED");
	if (strcmp(status, "INVALID_REQUEST") == 0)
		return api_error(400, "Request contains an invalid argument.",
				 "INVALID_ARGUMENT");
	return api_error(500, "Internal error encountered.", "INTERNAL");
}

/* {"places": the fixture's first maxResultCount places} */
static struct answer places_answer(struct fake *f, struct json_object *rq)
{
	struct json_object *count, *doc, *places;
	int n = 20;
	size_t total = json_object_array_length(f->places);
	struct answer a;

	if (json_object_object_get_ex(rq, "maxResultCount", &count))
		n = json_object_get_int(count);
	if (n < 1 || n > 20)
		return api_error(400, "maxResultCount must be between 1 and 20.",
				 "INVALID_ARGUMENT");
	doc = json_object_new_object();
	places = json_object_new_array();
	for (size_t i = 0; i < (size_t)n && i < total; i++)
		json_object_array_add(places, json_object_get(
			json_object_array_get_idx(f->places, i)));
	json_object_object_add(doc, "places", places);
	a = answer_text(200, "application/json; charset=UTF-8",
			json_object_to_json_string_ext(doc,
				JSON_C_TO_STRING_PRETTY |
				JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return a;
}

static struct answer search_nearby_answer(struct fake *f,
					  struct evhttp_request *req)
{
	struct json_object *body, *rq;
	struct answer a;

	switch (f->fail) {
	case FAIL_HTTP500: return api_error(500, "Internal error encountered.",
					    "INTERNAL");
	case FAIL_HTTP403: return api_error(403, "The caller does not have "
					    "permission", "PERMISSION_DENIED");
	case FAIL_BADJSON: return answer_text(200, "application/json",
					      "{\n  \"places\": [\n    {\n");
	case FAIL_STATUS:  return status_as_api_error(f->fail_status);
	default:           break;
	}
	if (header(req, "X-Goog-Api-Key") == NULL)
		return api_error(403, "Method doesn't allow unregistered "
				 "callers.", "PERMISSION_DENIED");
	body = body_string(req);
	rq = json_tokener_parse(json_object_get_string(body));
	json_object_put(body);
	if (!json_object_is_type(rq, json_type_object))
		a = api_error(400, "Invalid JSON payload received.",
			      "INVALID_ARGUMENT");
	else
		a = places_answer(f, rq);
	json_object_put(rq);
	return a;
}

/* ---- searches ----------------------------------------------------- */

static void finish_pending(struct pending *p)
{
	struct fake *f = p->f;

	LIST_REMOVE(p, link);
	if (p->timer != NULL)
		event_free(p->timer);
	send_answer(p->req, &p->a);
	f->in_flight--;
	free(p);
}

static void on_delay_over(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish_pending(arg);
}

/* Holds the answer back: for delay_ms, or for ever when hanging. */
static void hold(struct fake *f, struct evhttp_request *req,
		 struct answer a)
{
	struct pending *p = calloc(1, sizeof *p);
	struct timeval tv = { f->delay_ms / 1000, (f->delay_ms % 1000) * 1000 };

	if (p == NULL) {
		send_answer(req, &a);
		f->in_flight--;
		return;
	}
	*p = (struct pending){ .f = f, .req = req, .a = a };
	LIST_INSERT_HEAD(&f->pending, p, link);
	if (f->fail == FAIL_HANG)
		return;
	p->timer = evtimer_new(f->base, on_delay_over, p);
	if (p->timer == NULL || evtimer_add(p->timer, &tv) != 0)
		finish_pending(p);
}

static void search(struct fake *f, struct evhttp_request *req,
		   struct answer a)
{
	f->searches++;
	if (++f->in_flight > f->max_in_flight)
		f->max_in_flight = f->in_flight;
	if (f->fail == FAIL_HANG || f->delay_ms > 0) {
		hold(f, req, a);
		return;
	}
	send_answer(req, &a);
	f->in_flight--;
}

/* ---- control ------------------------------------------------------ */

static bool set_fail(struct fake *f, const char *mode)
{
	static const char *const names[] = {
		"none", "http500", "http403", "badjson", "", "hang",
	};

	if (strncmp(mode, "status:", 7) == 0 && mode[7] != '\0' &&
	    strlen(mode + 7) < sizeof f->fail_status &&
	    strspn(mode + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == strlen(mode + 7)) {
		snprintf(f->fail_status, sizeof f->fail_status, "%s", mode + 7);
		f->fail = FAIL_STATUS;
		return true;
	}
	for (int i = 0; i < 6; i++)
		if (names[i][0] != '\0' && strcmp(mode, names[i]) == 0) {
			f->fail = (enum fail_mode)i;
			return true;
		}
	return false;
}

static bool set_delay(struct fake *f, const char *text)
{
	char *end;
	unsigned long ms;

	errno = 0;
	ms = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || ms > 600000)
		return false;
	f->delay_ms = (unsigned)ms;
	return true;
}

static struct answer configure(struct fake *f, struct evhttp_request *req)
{
	struct json_object *params = params_object(req), *v;
	bool ok = true;

	if (json_object_object_get_ex(params, "delay_ms", &v))
		ok = set_delay(f, json_object_get_string(v));
	if (ok && json_object_object_get_ex(params, "fail", &v))
		ok = set_fail(f, json_object_get_string(v));
	json_object_put(params);
	return ok ? answer_text(200, "text/plain", "ok\n") :
		    answer_text(400, "text/plain", "bad delay_ms or fail\n");
}

static struct answer stats(struct fake *f, bool count_only)
{
	char text[160];

	if (count_only)
		snprintf(text, sizeof text, "%lu\n", f->searches);
	else
		snprintf(text, sizeof text, "{\"searches\": %lu, \"in_flight\": "
			 "%u, \"max_in_flight\": %u}\n", f->searches,
			 f->in_flight, f->max_in_flight);
	return answer_text(200, count_only ? "text/plain" : "application/json",
			   text);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct fake *f = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct answer a;

	log_request(f, req);
	if (path == NULL)
		path = "";
	if (cmd == EVHTTP_REQ_GET && strcmp(path, NEARBY_PATH) == 0) {
		search(f, req, nearby_answer(f, req));
		return;
	}
	if (cmd == EVHTTP_REQ_POST && strcmp(path, SEARCH_NEARBY_PATH) == 0) {
		search(f, req, search_nearby_answer(f, req));
		return;
	}
	if (strcmp(path, "/fake/config") == 0)
		a = configure(f, req);
	else if (strcmp(path, "/fake/count") == 0 ||
		 strcmp(path, "/fake/stats") == 0)
		a = stats(f, strcmp(path, "/fake/count") == 0);
	else
		a = answer_text(404, "text/plain", "not found\n");
	send_answer(req, &a);
}

/* ---- main --------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static bool load_fixtures(struct fake *f, const char *nearby,
			  const char *new_api)
{
	struct json_object *doc = NULL;
	size_t len;
	char *text;

	f->nearby = read_file(nearby, &f->nearby_len);
	text = read_file(new_api, &len);
	if (text != NULL)
		doc = json_tokener_parse(text);
	free(text);
	if (json_object_object_get_ex(doc, "places", &f->places) &&
	    json_object_is_type(f->places, json_type_array))
		json_object_get(f->places);
	else
		f->places = NULL;
	json_object_put(doc);
	if (f->places == NULL)
		fprintf(stderr, "fake_places: %s has no \"places\" array\n",
			new_api);
	return f->nearby != NULL && f->places != NULL;
}

static int listen_port(struct evhttp_bound_socket *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	if (getsockname(evhttp_bound_socket_get_fd(bound),
			(struct sockaddr *)&sin, &len) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

static bool start_server(struct fake *f, unsigned port)
{
	struct evhttp_bound_socket *bound;
	int actual;

	f->http = evhttp_new(f->base);
	if (f->http == NULL)
		return false;
	evhttp_set_max_body_size(f->http, BODY_MAX);
	evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(f->http, on_request, f);
	bound = evhttp_bind_socket_with_handle(f->http, "127.0.0.1",
					       (ev_uint16_t)port);
	if (bound == NULL || (actual = listen_port(bound)) < 0) {
		fprintf(stderr, "fake_places: cannot listen on 127.0.0.1:%u\n",
			port);
		return false;
	}
	/* evhttp listens with a backlog of 128; a thousand herd workers'
	   connections at once need more (listen again just resizes it). */
	(void)listen(evhttp_bound_socket_get_fd(bound), 4096);
	printf("PORT %d\n", actual);
	fflush(stdout);
	return true;
}

static void shut_down(struct fake *f)
{
	/* Whatever is still held gets an answer; evhttp_free frees it. */
	while (!LIST_EMPTY(&f->pending)) {
		struct pending *p = LIST_FIRST(&f->pending);
		free(p->a.body);
		p->a = answer_text(503, "text/plain", "shutting down\n");
		finish_pending(p);
	}
	if (f->http != NULL)
		evhttp_free(f->http);
	json_object_put(f->places);
	free(f->nearby);
	if (f->log != NULL)
		fclose(f->log);
}

static int usage(void)
{
	fprintf(stderr, "usage: fake_places [-p PORT] [-r REQUEST_LOG] "
		"[-d NEARBY_JSON] [-n SEARCHNEARBY_JSON]\n");
	return 2;
}

struct options {
	const char *nearby, *new_api, *log_path;
	unsigned port;
};

static bool parse_args(int argc, char **argv, struct options *o)
{
	unsigned long port = 0;
	int opt;

	while ((opt = getopt(argc, argv, "p:r:d:n:")) != -1) {
		switch (opt) {
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 'r': o->log_path = optarg; break;
		case 'd': o->nearby = optarg; break;
		case 'n': o->new_api = optarg; break;
		default: return false;
		}
	}
	o->port = (unsigned)port;
	return optind == argc && port <= 65535;
}

/* Serves until SIGTERM or SIGINT; false if it could not start. */
static bool serve(struct fake *f, const struct options *o)
{
	struct event *term = evsignal_new(f->base, SIGTERM, on_signal, f->base);
	struct event *intr = evsignal_new(f->base, SIGINT, on_signal, f->base);
	bool ok = term != NULL && intr != NULL &&
		  evsignal_add(term, NULL) == 0 && evsignal_add(intr, NULL) == 0 &&
		  load_fixtures(f, o->nearby, o->new_api) &&
		  start_server(f, o->port) && event_base_dispatch(f->base) >= 0;

	shut_down(f);
	if (term != NULL)
		event_free(term);
	if (intr != NULL)
		event_free(intr);
	return ok;
}

int main(int argc, char **argv)
{
	struct options o = { .nearby = "tests/data/nearby-25.json",
			     .new_api = "tests/data/searchnearby-25.json" };
	struct fake f = { .fail = FAIL_NONE };
	bool ok;

	if (!parse_args(argc, argv, &o))
		return usage();
	signal(SIGPIPE, SIG_IGN);
	LIST_INIT(&f.pending);
	if (o.log_path != NULL && (f.log = fopen(o.log_path, "a")) == NULL) {
		fprintf(stderr, "fake_places: %s: %s\n", o.log_path,
			strerror(errno));
		return 1;
	}
	f.base = event_base_new();
	ok = f.base != NULL && serve(&f, &o);
	if (f.base != NULL)
		event_base_free(f.base);
	else if (f.log != NULL)
		fclose(f.log);
	return ok ? 0 : 1;
}
