/*
 * herdctl - controls a running herdd through its control socket.
 *
 *   herdctl [-c FILE] [-s SOCKET] [-t SECONDS] command [argument ...]
 *
 * Commands: start, stop, status [--json], reload, check, lookup MEMBER
 * CLIENT.  The socket's path comes from the configuration (control_socket)
 * unless -s gives it.  Exit statuses: 0 success, 1 failure; status follows
 * the LSB: 0 running, 3 not running, 4 unknown.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "config.h"
#include "control.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef HERDD_PATH
#define HERDD_PATH	"/usr/sbin/herdd"
#endif
#define DEFAULT_CONF	SYSCONFDIR "/herd/herd.conf"

#define LONG_TIMEOUT_S	30	/* start, stop, reload */
#define SHORT_TIMEOUT_S	10	/* status, lookup */
#define PROBE_MS	2000	/* "is one running already?" */
#define POLL_MS		20	/* waiting for a process */

/* Exit statuses; status uses the LSB ones. */
enum {
	HC_OK = 0,
	HC_FAIL = 1,
	HC_USAGE = 2,
	HC_NOT_RUNNING = 3,
	HC_UNKNOWN = 4,
};

struct ctl {
	const char *conf_path;
	char conf_abs[PATH_MAX];
	const char *socket;	/* -s, or the configuration's */
	int timeout_s;		/* -t; 0 = the command's default */
	bool json;		/* status --json */
};

enum call_result { CALL_ANSWERED, CALL_NOT_RUNNING, CALL_FAILED };

extern char **environ;

static struct herd_conf conf;	/* large: keep it off the stack */

/* ------------------------------------------------------------------ */
/* Messages and small helpers                                           */
/* ------------------------------------------------------------------ */

static void warnx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("herdctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herdctl [-c FILE] [-s SOCKET] [-t SECONDS] command\n"
		"commands:\n"
		"  start                  start herdd and wait until it is ready\n"
		"  stop                   stop herdd and wait until it is gone\n"
		"  status [--json]        show herdd's processes, links, tables\n"
		"  reload                 apply the configuration again\n"
		"  check                  check the configuration file\n"
		"  lookup MEMBER CLIENT   show CLIENT's location stored on MEMBER\n"
		"options:\n"
		"  -c FILE     configuration (default %s)\n"
		"  -s SOCKET   control socket (default: from the configuration)\n"
		"  -t SECONDS  how long to wait (default %d; status, lookup %d)\n"
		"  -h          show this help\n"
		"  -V          print the version\n",
		DEFAULT_CONF, LONG_TIMEOUT_S, SHORT_TIMEOUT_S);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int timeout_ms(const struct ctl *c, int default_s)
{
	return (c->timeout_s > 0 ? c->timeout_s : default_s) * 1000;
}

static json_object *field(json_object *obj, const char *key)
{
	json_object *value = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &value))
		return NULL;
	return value;
}

static bool is_number(json_object *value)
{
	return json_object_is_type(value, json_type_int) ||
	       json_object_is_type(value, json_type_double);
}

/* The number at key, or fallback if there is none. */
static double number(json_object *obj, const char *key, double fallback)
{
	json_object *value = field(obj, key);

	return is_number(value) ? json_object_get_double(value) : fallback;
}

static const char *text(json_object *obj, const char *key)
{
	json_object *value = field(obj, key);

	return json_object_is_type(value, json_type_string) ?
	       json_object_get_string(value) : "-";
}

/* ------------------------------------------------------------------ */
/* Talking to herdd                                                     */
/* ------------------------------------------------------------------ */

/* {"version":1,"command":command} plus lookup's member and client. */
static char *make_request(const char *command, const char *member,
			  const char *client)
{
	json_object *req = json_object_new_object();
	char *out = NULL;

	if (req == NULL)
		return NULL;
	if (json_object_object_add(req, "version",
				   json_object_new_int(CONTROL_VERSION)) ||
	    json_object_object_add(req, "command",
				   json_object_new_string(command)) ||
	    (member != NULL && json_object_object_add(req, "member",
				json_object_new_string(member))) ||
	    (client != NULL && json_object_object_add(req, "client",
				json_object_new_string(client)))) {
		json_object_put(req);
		return NULL;
	}
	out = strdup(json_object_to_json_string_ext(req,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(req);
	return out;
}

/* An answer has "version" 1 and a boolean "ok". */
static json_object *parse_answer(const char *text_in)
{
	json_object *answer = json_tokener_parse(text_in);
	json_object *ok = field(answer, "ok");
	json_object *version = field(answer, "version");

	if (json_object_is_type(ok, json_type_boolean) &&
	    json_object_is_type(version, json_type_int) &&
	    json_object_get_int64(version) == CONTROL_VERSION)
		return answer;
	json_object_put(answer);
	return NULL;
}

static void explain_failure(const char *path, int err)
{
	if (err == ETIMEDOUT)
		warnx("%s: herdd did not answer in time", path);
	else if (err == EPROTO)
		warnx("%s: bad answer from herdd", path);
	else
		warnx("%s: %s", path, strerror(err));
}

/*
 * Sends one request.  CALL_ANSWERED sets *answer (to be released with
 * json_object_put); CALL_NOT_RUNNING means nothing listens on the socket;
 * CALL_FAILED has been reported on stderr unless quiet.
 */
static enum call_result call(const struct ctl *c, const char *request,
			     int wait_ms, json_object **answer, bool quiet)
{
	char *raw;
	int err;

	*answer = NULL;
	if (request == NULL) {
		warnx("out of memory");
		return CALL_FAILED;
	}
	raw = control_call(c->socket, request, wait_ms);
	err = errno;
	if (raw == NULL && (err == ENOENT || err == ECONNREFUSED))
		return CALL_NOT_RUNNING;
	if (raw != NULL)
		*answer = parse_answer(raw);
	free(raw);
	if (raw != NULL && *answer == NULL)
		err = EPROTO;
	if (*answer == NULL && !quiet)
		explain_failure(c->socket, err);
	return *answer != NULL ? CALL_ANSWERED : CALL_FAILED;
}

/* Like call(), for a request without arguments. */
static enum call_result simple_call(const struct ctl *c, const char *command,
				    int wait_ms, json_object **answer,
				    bool quiet)
{
	char *request = make_request(command, NULL, NULL);
	enum call_result res = call(c, request, wait_ms, answer, quiet);

	free(request);
	return res;
}

static bool answer_ok(json_object *answer)
{
	return json_object_get_boolean(field(answer, "ok"));
}

static const char *answer_error(json_object *answer)
{
	const char *why = text(answer, "error");

	return strcmp(why, "-") == 0 ? "herdd gave no reason" : why;
}

/* herdd's pid from a stop or status answer, or 0. */
static pid_t answer_pid(json_object *answer)
{
	json_object *herdd = field(answer, "herdd");
	double pid = number(herdd != NULL ? herdd : answer, "pid", 0);

	return pid >= 1 && pid <= INT_MAX ? (pid_t)pid : 0;
}

/* ------------------------------------------------------------------ */
/* The configuration                                                    */
/* ------------------------------------------------------------------ */

/* Loads the configuration; reports a failure. */
static int load_conf(struct ctl *c)
{
	char err[CONF_PATH_MAX + 256];

	if (realpath(c->conf_path, c->conf_abs) == NULL)
		snprintf(c->conf_abs, sizeof(c->conf_abs), "%s", c->conf_path);
	if (conf_load(c->conf_path, &conf, err, sizeof(err)) != 0) {
		warnx("%s", err);
		return -1;
	}
	return 0;
}

/* Finds the control socket: -s, or the configuration's. */
static int find_socket(struct ctl *c)
{
	if (c->socket != NULL)
		return 0;
	if (load_conf(c) != 0)
		return -1;
	c->socket = conf.control_socket;
	return 0;
}

static int cmd_check(struct ctl *c, char **args)
{
	(void)args;
	if (load_conf(c) != 0)
		return HC_FAIL;
	printf("%s: configuration OK\n", c->conf_path);
	return HC_OK;
}

/* ------------------------------------------------------------------ */
/* start                                                                */
/* ------------------------------------------------------------------ */

static const char *herdd_path(void)
{
	const char *env = getenv("HERDD");

	return env != NULL && env[0] != '\0' ? env : HERDD_PATH;
}

/* Runs "herdd -c FILE" (which detaches once ready); its pid, or -1. */
static pid_t spawn_herdd(const struct ctl *c)
{
	const char *path = herdd_path();
	char *argv[] = { (char *)path, (char *)"-c", (char *)c->conf_abs,
			 NULL };
	pid_t pid;
	int err;

	err = posix_spawn(&pid, path, NULL, NULL, argv, environ);
	if (err != 0) {
		warnx("cannot run %s: %s", path, strerror(err));
		return -1;
	}
	return pid;
}

/*
 * Waits for pid to exit until deadline.  Returns 1 with its wait status
 * in *status, 0 on time-out, -1 on error.
 */
static int wait_exit(pid_t pid, int64_t deadline, int *status)
{
	pid_t got;

	for (;;) {
		got = waitpid(pid, status, WNOHANG);
		if (got == pid)
			return 1;
		if (got < 0 && errno != EINTR) {
			warnx("waitpid: %s", strerror(errno));
			return -1;
		}
		if (mono_ms() >= deadline)
			return 0;
		(void)poll(NULL, 0, POLL_MS);
	}
}

static int report_start(const struct ctl *c, int status)
{
	json_object *answer;
	pid_t pid = 0;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (simple_call(c, "status", PROBE_MS, &answer, true) ==
		    CALL_ANSWERED)
			pid = answer_pid(answer);
		json_object_put(answer);
		if (pid > 0)
			printf("herdd started (pid %ld)\n", (long)pid);
		else
			printf("herdd started\n");
		return HC_OK;
	}
	if (WIFEXITED(status))
		warnx("herdd did not start (exit status %d)",
		      WEXITSTATUS(status));
	else
		warnx("herdd did not start (%s)",
		      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) :
		      "unknown wait status");
	return HC_FAIL;
}

static int cmd_start(struct ctl *c, char **args)
{
	int64_t deadline;
	json_object *answer;
	int status, got;
	pid_t pid;

	(void)args;
	if (load_conf(c) != 0)
		return HC_FAIL;
	if (c->socket == NULL)
		c->socket = conf.control_socket;
	switch (simple_call(c, "status", PROBE_MS, &answer, false)) {
	case CALL_ANSWERED:
		printf("herdd is already running (pid %ld)\n",
		       (long)answer_pid(answer));
		json_object_put(answer);
		return HC_OK;
	case CALL_FAILED:
		return HC_FAIL;
	case CALL_NOT_RUNNING:
		break;
	}
	deadline = mono_ms() + timeout_ms(c, LONG_TIMEOUT_S);
	pid = spawn_herdd(c);
	if (pid < 0)
		return HC_FAIL;
	got = wait_exit(pid, deadline, &status);
	if (got == 0)
		warnx("herdd did not report ready within %d s",
		      timeout_ms(c, LONG_TIMEOUT_S) / 1000);
	return got == 1 ? report_start(c, status) : HC_FAIL;
}

/* ------------------------------------------------------------------ */
/* stop                                                                 */
/* ------------------------------------------------------------------ */

/* True while pid exists and is not a zombie waiting to be reaped. */
static bool process_alive(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return errno != ENOENT;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren == NULL || paren[1] == '\0' || paren[2] != 'Z';
}

static int wait_gone(pid_t pid, int64_t deadline)
{
	while (process_alive(pid)) {
		if (mono_ms() >= deadline)
			return -1;
		(void)poll(NULL, 0, POLL_MS);
	}
	return 0;
}

static int cmd_stop(struct ctl *c, char **args)
{
	int64_t deadline = mono_ms() + timeout_ms(c, LONG_TIMEOUT_S);
	json_object *answer;
	pid_t pid;

	(void)args;
	if (find_socket(c) != 0)
		return HC_FAIL;
	switch (simple_call(c, "stop", timeout_ms(c, LONG_TIMEOUT_S), &answer,
			    false)) {
	case CALL_NOT_RUNNING:
		printf("herdd is not running\n");
		return HC_OK;
	case CALL_FAILED:
		return HC_FAIL;
	case CALL_ANSWERED:
		break;
	}
	pid = answer_ok(answer) ? answer_pid(answer) : 0;
	if (pid == 0)
		warnx("herdd refused to stop: %s", answer_ok(answer) ?
		      "no pid in its answer" : answer_error(answer));
	json_object_put(answer);
	if (pid == 0)
		return HC_FAIL;
	if (wait_gone(pid, deadline) != 0) {
		warnx("herdd (pid %ld) is still running after %d s", (long)pid,
		      timeout_ms(c, LONG_TIMEOUT_S) / 1000);
		return HC_FAIL;
	}
	printf("herdd stopped\n");
	return HC_OK;
}

/* ------------------------------------------------------------------ */
/* reload, lookup                                                       */
/* ------------------------------------------------------------------ */

static int cmd_reload(struct ctl *c, char **args)
{
	json_object *answer;
	int rc = HC_FAIL;

	(void)args;
	if (find_socket(c) != 0)
		return HC_FAIL;
	switch (simple_call(c, "reload", timeout_ms(c, LONG_TIMEOUT_S),
			    &answer, false)) {
	case CALL_NOT_RUNNING:
		warnx("herdd is not running");
		return HC_FAIL;
	case CALL_FAILED:
		return HC_FAIL;
	case CALL_ANSWERED:
		break;
	}
	if (answer_ok(answer)) {
		printf("reloaded\n");
		rc = HC_OK;
	} else {
		warnx("not reloaded: %s", answer_error(answer));
	}
	json_object_put(answer);
	return rc;
}

static int check_lookup_args(char **args)
{
	size_t member = strlen(args[0]), client = strlen(args[1]);

	if (member == 0 || member > PROTO_NAME_MAX) {
		warnx("a member name is 1 to %d bytes", PROTO_NAME_MAX);
		return -1;
	}
	if (client == 0 || client > CONTROL_CLIENT_MAX) {
		warnx("a client name is 1 to %d bytes", CONTROL_CLIENT_MAX);
		return -1;
	}
	return 0;
}

static int print_lookup(json_object *answer, char **args)
{
	json_object *line = field(answer, "line");

	if (!answer_ok(answer)) {
		warnx("%s: %s", args[0], answer_error(answer));
		return HC_FAIL;
	}
	if (!json_object_get_boolean(field(answer, "found"))) {
		warnx("%s has no location stored for %s", args[0], args[1]);
		return HC_FAIL;
	}
	if (!json_object_is_type(line, json_type_string)) {
		warnx("bad answer from herdd: no line");
		return HC_FAIL;
	}
	printf("%s\n", json_object_get_string(line));
	return HC_OK;
}

static int cmd_lookup(struct ctl *c, char **args)
{
	json_object *answer;
	char *request;
	enum call_result res;
	int rc;

	if (check_lookup_args(args) != 0 || find_socket(c) != 0)
		return HC_FAIL;
	request = make_request("lookup", args[0], args[1]);
	res = call(c, request, timeout_ms(c, SHORT_TIMEOUT_S), &answer, false);
	free(request);
	if (res == CALL_NOT_RUNNING)
		warnx("herdd is not running");
	if (res != CALL_ANSWERED)
		return HC_FAIL;
	rc = print_lookup(answer, args);
	json_object_put(answer);
	return rc;
}

/* ------------------------------------------------------------------ */
/* status: tables                                                       */
/* ------------------------------------------------------------------ */

#define CELL_MAX	64
#define COLS_MAX	12

/* Rows of cells, printed with each column as wide as its widest cell. */
struct table {
	const char *align;	/* per column: 'l' or 'r' */
	size_t ncols, nrows, cap, col;
	char (*cells)[COLS_MAX][CELL_MAX];
};

static void table_init(struct table *t, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->align = align;
	t->ncols = strlen(align);
}

static int table_grow(struct table *t)
{
	size_t cap = t->cap == 0 ? 8 : t->cap * 2;
	void *cells = realloc(t->cells, cap * sizeof(*t->cells));

	if (cells == NULL)
		return -1;
	t->cells = cells;
	t->cap = cap;
	return 0;
}

/* Adds a cell to the current row; a row is full after ncols cells. */
static void table_cell(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;

	if (t->col == 0 && t->nrows == t->cap && table_grow(t) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(t->cells[t->nrows][t->col], CELL_MAX, fmt, ap);
	va_end(ap);
	if (++t->col == t->ncols) {
		t->col = 0;
		t->nrows++;
	}
}

static void table_print(struct table *t, const char *indent)
{
	size_t width[COLS_MAX] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++)
			if (strlen(t->cells[r][i]) > width[i])
				width[i] = strlen(t->cells[r][i]);
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent, stdout);
		for (size_t i = 0; i < t->ncols; i++) {
			int w = (int)width[i];
			bool last = i + 1 == t->ncols;

			if (t->align[i] == 'r')
				printf("%*s%s", w, t->cells[r][i],
				       last ? "" : "  ");
			else if (last)
				printf("%s", t->cells[r][i]);
			else
				printf("%-*s  ", w, t->cells[r][i]);
		}
		putchar('\n');
	}
	free(t->cells);
	t->cells = NULL;
}

/* ------------------------------------------------------------------ */
/* status: formatting                                                   */
/* ------------------------------------------------------------------ */

/* "12s", "3m12s", "2h05m", "3d04h"; "-" if unknown. */
static void fmt_duration(double s, char *out, size_t cap)
{
	long v = (long)s;

	if (s < 0)
		snprintf(out, cap, "-");
	else if (v < 60)
		snprintf(out, cap, "%lds", v);
	else if (v < 3600)
		snprintf(out, cap, "%ldm%02lds", v / 60, v % 60);
	else if (v < 86400)
		snprintf(out, cap, "%ldh%02ldm", v / 3600, v % 3600 / 60);
	else
		snprintf(out, cap, "%ldd%02ldh", v / 86400, v % 86400 / 3600);
}

/* A count, or "-" if the answer has none. */
static void fmt_count(json_object *obj, const char *key, char *out,
		      size_t cap)
{
	double v = number(obj, key, -1);

	if (v < 0)
		snprintf(out, cap, "-");
	else
		snprintf(out, cap, "%.0f", v);
}

static void fmt_backoff(double ms, char *out, size_t cap)
{
	if (ms <= 0)
		snprintf(out, cap, ms < 0 ? "-" : "0");
	else if (ms < 1000)
		snprintf(out, cap, "%.0fms", ms);
	else
		snprintf(out, cap, "%.1fs", ms / 1000);
}

static void process_cells(struct table *t, const char *name,
			  json_object *proc)
{
	char pid[24], up[24], restarts[24], backoff[24];

	fmt_count(proc, "pid", pid, sizeof(pid));
	if (strcmp(pid, "0") == 0)
		snprintf(pid, sizeof(pid), "-");
	fmt_duration(strcmp(pid, "-") == 0 ? -1 : number(proc, "uptime_s", -1),
		     up, sizeof(up));
	fmt_count(proc, "restarts", restarts, sizeof(restarts));
	fmt_backoff(number(proc, "backoff_ms", -1), backoff,
		    sizeof(backoff));
	table_cell(t, "%s", name);
	table_cell(t, "%s", pid);
	table_cell(t, "%s", text(proc, "state"));
	table_cell(t, "%s", up);
	table_cell(t, "%s", restarts);
	table_cell(t, "%s", backoff);
}

static void places_cells(struct table *t, json_object *places)
{
	char requests[24], errors[24];
	double n = number(places, "requests", -1);

	fmt_count(places, "requests", requests, sizeof(requests));
	fmt_count(places, "errors", errors, sizeof(errors));
	table_cell(t, "%s", requests);
	table_cell(t, "%s", errors);
	if (n > 0) {
		table_cell(t, "%.1f", number(places, "latency_ms_avg", 0));
		table_cell(t, "%.1f", number(places, "latency_ms_max", 0));
	} else {
		table_cell(t, "-");
		table_cell(t, "-");
	}
}

static void worker_row(struct table *t, json_object *w)
{
	char name[32], conns[24], requests[24];

	snprintf(name, sizeof(name), "worker %.0f", number(w, "slot", -1));
	process_cells(t, name, w);
	fmt_count(w, "connections", conns, sizeof(conns));
	fmt_count(w, "requests", requests, sizeof(requests));
	table_cell(t, "%s", conns);
	table_cell(t, "%s", requests);
	places_cells(t, field(w, "places"));
}

static void flooder_row(struct table *t, json_object *fl)
{
	process_cells(t, "flooder", fl);
	for (int i = 0; i < 6; i++)
		table_cell(t, "-");
}

static void print_processes(json_object *member)
{
	json_object *workers = field(member, "workers");
	json_object *fl = field(member, "flooder");
	size_t n = json_object_is_type(workers, json_type_array) ?
		   json_object_array_length(workers) : 0;
	struct table t;

	table_init(&t, "lrlrrrrrrrrr");
	table_cell(&t, "PROCESS"); table_cell(&t, "PID");
	table_cell(&t, "STATE"); table_cell(&t, "UPTIME");
	table_cell(&t, "RESTARTS"); table_cell(&t, "BACKOFF");
	table_cell(&t, "CONNS"); table_cell(&t, "REQUESTS");
	table_cell(&t, "PLACES"); table_cell(&t, "ERRORS");
	table_cell(&t, "AVG_MS"); table_cell(&t, "MAX_MS");
	for (size_t i = 0; i < n; i++)
		worker_row(&t, json_object_array_get_idx(workers, i));
	if (json_object_is_type(fl, json_type_object))
		flooder_row(&t, fl);
	table_print(&t, "  ");
}

static void link_row(struct table *t, json_object *link)
{
	char since[24], sent[24], received[24];

	fmt_duration(number(link, "since_s", -1), since, sizeof(since));
	fmt_count(link, "sent", sent, sizeof(sent));
	fmt_count(link, "received", received, sizeof(received));
	table_cell(t, "%s", text(link, "peer"));
	table_cell(t, "%s", text(link, "direction"));
	table_cell(t, "%s", text(link, "state"));
	table_cell(t, "%s", since);
	table_cell(t, "%s", sent);
	table_cell(t, "%s", received);
}

static void print_links(json_object *member)
{
	json_object *links = field(field(member, "flooder"), "links");
	size_t n = json_object_is_type(links, json_type_array) ?
		   json_object_array_length(links) : 0;
	struct table t;

	if (n == 0) {
		printf("  no links\n");
		return;
	}
	table_init(&t, "lllrrr");
	table_cell(&t, "LINK TO/FROM"); table_cell(&t, "DIR");
	table_cell(&t, "STATE"); table_cell(&t, "SINCE");
	table_cell(&t, "SENT"); table_cell(&t, "RECEIVED");
	for (size_t i = 0; i < n; i++)
		link_row(&t, json_object_array_get_idx(links, i));
	table_print(&t, "  ");
}

static void print_member(json_object *member)
{
	json_object *table = field(member, "table");
	char entries[24], capacity[24];
	const char *peer = text(member, "peer");

	fmt_count(table, "entries", entries, sizeof(entries));
	fmt_count(table, "capacity", capacity, sizeof(capacity));
	printf("\n%s: client %s, %s%s, table %s of %s entries\n",
	       text(member, "name"), text(member, "client"),
	       peer[0] != '\0' ? "peer " : "no peer", peer, entries,
	       capacity);
	print_processes(member);
	print_links(member);
}

static void print_status(json_object *answer)
{
	json_object *herdd = field(answer, "herdd");
	json_object *members = field(answer, "members");
	size_t n = json_object_is_type(members, json_type_array) ?
		   json_object_array_length(members) : 0;
	char up[24], reloads[24];

	fmt_duration(number(herdd, "uptime_s", -1), up, sizeof(up));
	fmt_count(herdd, "reloads", reloads, sizeof(reloads));
	printf("herdd: running, pid %ld, up %s, reloads %s\n",
	       (long)answer_pid(answer), up, reloads);
	printf("config: %s (herd %s)\n", text(herdd, "config"),
	       text(herdd, "herd"));
	for (size_t i = 0; i < n; i++)
		print_member(json_object_array_get_idx(members, i));
}

static int cmd_status(struct ctl *c, char **args)
{
	json_object *answer;

	(void)args;
	if (find_socket(c) != 0)
		return HC_UNKNOWN;
	switch (simple_call(c, "status", timeout_ms(c, SHORT_TIMEOUT_S),
			    &answer, false)) {
	case CALL_NOT_RUNNING:
		fprintf(c->json ? stderr : stdout, "herdd is not running\n");
		return HC_NOT_RUNNING;
	case CALL_FAILED:
		return HC_UNKNOWN;
	case CALL_ANSWERED:
		break;
	}
	if (!answer_ok(answer)) {
		warnx("status: %s", answer_error(answer));
		json_object_put(answer);
		return HC_UNKNOWN;
	}
	if (c->json)
		printf("%s\n", json_object_to_json_string_ext(answer,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_status(answer);
	json_object_put(answer);
	return HC_OK;
}

/* ------------------------------------------------------------------ */
/* main                                                                 */
/* ------------------------------------------------------------------ */

static const struct command {
	const char *name;
	int (*run)(struct ctl *c, char **args);
	int nargs;
	int usage_status;	/* exit status of a usage error */
} commands[] = {
	{ "start", cmd_start, 0, HC_USAGE },
	{ "stop", cmd_stop, 0, HC_USAGE },
	{ "status", cmd_status, 0, HC_UNKNOWN },
	{ "reload", cmd_reload, 0, HC_USAGE },
	{ "check", cmd_check, 0, HC_USAGE },
	{ "lookup", cmd_lookup, 2, HC_USAGE },
};

static int parse_timeout(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > 86400) {
		warnx("-t wants seconds, 1 to 86400");
		return -1;
	}
	return (int)v;
}

static int parse_options(int argc, char **argv, struct ctl *c)
{
	int ch;

	c->conf_path = DEFAULT_CONF;
	while ((ch = getopt(argc, argv, "+c:s:t:hV")) != -1) {
		switch (ch) {
		case 'c': c->conf_path = optarg; break;
		case 's': c->socket = optarg; break;
		case 't':
			c->timeout_s = parse_timeout(optarg);
			if (c->timeout_s < 0)
				return -1;
			break;
		case 'V': printf("herdctl %s\n", PACKAGE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return 0;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Takes "--json" off status's arguments; -1 on anything unexpected. */
static int command_args(const struct command *cmd, int argc, char **argv,
			struct ctl *c)
{
	if (strcmp(cmd->name, "status") == 0 && argc == 1 &&
	    strcmp(argv[0], "--json") == 0) {
		c->json = true;
		return 0;
	}
	return argc == cmd->nargs ? 0 : -1;
}

/* A failed write to stdout turns success into failure. */
static int flush_stdout(int rc, const struct command *cmd)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	warnx("standard output: %s", strerror(errno));
	if (rc != HC_OK)
		return rc;
	return cmd->run == cmd_status ? HC_UNKNOWN : HC_FAIL;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	struct ctl c = { 0 };

	if (parse_options(argc, argv, &c) != 0 || optind >= argc) {
		usage(stderr);
		return HC_USAGE;
	}
	cmd = find_command(argv[optind]);
	if (cmd == NULL) {
		warnx("unknown command \"%s\"", argv[optind]);
		usage(stderr);
		return HC_USAGE;
	}
	if (command_args(cmd, argc - optind - 1, argv + optind + 1, &c) != 0) {
		usage(stderr);
		return cmd->usage_status;
	}
	return flush_stdout(cmd->run(&c, argv + optind + 1), cmd);
}
