/*
 * answers.c - the supervisor's answers on the control socket (control.h
 * documents every field).  Read-only but for stop and reload.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "supervisor_int.h"

static void add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/* A number with three decimals, as a person would write it. */
static json_object *new_decimal(double v)
{
	char text[48];

	snprintf(text, sizeof text, "%.3f", v);
	return json_object_new_double_s(v, text);
}

static void add_secs(json_object *o, const char *key, int64_t ms)
{
	json_object_object_add(o, key, new_decimal(ms / 1000.0));
}

static const char *kid_state(const struct child *ch)
{
	if (ch->pid > 0)
		return "running";
	return ch->respawn_pending ? "respawning" : "stopped";
}

static void add_kid(json_object *o, const struct child *ch)
{
	add_int(o, "pid", ch->pid);
	add_str(o, "state", kid_state(ch));
	add_secs(o, "uptime_s", ch->pid > 0 ? sup_now_ms() - ch->started_ms : 0);
	add_int(o, "restarts", ch->restarts);
	add_int(o, "backoff_ms", ch->respawn_pending ? ch->delay_ms : 0);
}

static json_object *places_status(struct worker_stats *ws)
{
	json_object *o = json_object_new_object();
	uint64_t upstream = stats_get(&ws->places_upstream);
	uint64_t total = stats_get(&ws->places_latency_us_total);

	add_int(o, "requests", (int64_t)stats_get(&ws->places_requests));
	add_int(o, "errors", (int64_t)stats_get(&ws->places_errors));
	add_int(o, "upstream", (int64_t)upstream);
	json_object_object_add(o, "latency_ms_avg", new_decimal(
		upstream ? total / 1000.0 / (double)upstream : 0.0));
	json_object_object_add(o, "latency_ms_max", new_decimal(
		stats_get(&ws->places_latency_us_max) / 1000.0));
	return o;
}

static json_object *workers_status(const struct member_run *run)
{
	json_object *list = json_object_new_array();

	for (unsigned i = 0; i < MAX_WORKERS; i++) {
		struct worker_stats *ws = &run->stats->workers[i];
		json_object *w;

		if (!run->kids[i].used)
			continue;
		w = json_object_new_object();
		add_int(w, "slot", i);
		add_kid(w, &run->kids[i]);
		add_int(w, "connections", (int64_t)stats_get(&ws->connections));
		add_int(w, "requests", (int64_t)stats_get(&ws->requests));
		json_object_object_add(w, "places", places_status(ws));
		json_object_array_add(list, w);
	}
	return list;
}

static const char *link_state(uint32_t state)
{
	static const char *const names[] = {
		[STATS_LINK_UNUSED] = "unused", [STATS_LINK_IDLE] = "idle",
		[STATS_LINK_CONNECTING] = "connecting",
		[STATS_LINK_HELLO] = "hello", [STATS_LINK_UP] = "up",
	};

	return state <= STATS_LINK_UP ? names[state] : "unknown";
}

static json_object *links_status(struct member_stats *st)
{
	json_object *list = json_object_new_array();
	int64_t now = sup_now_ms();

	for (size_t i = 0; i < STATS_LINKS; i++) {
		struct link_stats *ls = &st->links[i];
		uint32_t state = atomic_load(&ls->state);
		json_object *l;

		if (state == STATS_LINK_UNUSED)
			continue;
		l = json_object_new_object();
		add_str(l, "peer", ls->peer);
		add_str(l, "direction", atomic_load(&ls->inbound) ? "in" : "out");
		add_str(l, "state", link_state(state));
		add_secs(l, "since_s", now - atomic_load(&ls->since_ms));
		add_int(l, "sent", (int64_t)stats_get(&ls->sent));
		add_int(l, "received", (int64_t)stats_get(&ls->received));
		json_object_array_add(list, l);
	}
	return list;
}

static json_object *table_status(struct table *t)
{
	json_object *o = json_object_new_object();
	char epoch[17];

	snprintf(epoch, sizeof epoch, "%016" PRIx64, table_epoch(t));
	add_int(o, "entries", (int64_t)table_count(t));
	add_int(o, "capacity", (int64_t)table_capacity(t));
	add_int(o, "last_change", (int64_t)table_last_change(t));
	add_str(o, "epoch", epoch);
	return o;
}

static json_object *member_status(const struct supervisor *s,
				  const struct member_run *run)
{
	const struct conf_member *m = &s->conf->members[run->index];
	json_object *o = json_object_new_object();
	json_object *fl = NULL;

	add_str(o, "name", run->name);
	add_str(o, "client", m->client.text);
	add_str(o, "peer", m->peer.salen ? m->peer.text : "");
	json_object_object_add(o, "table", table_status(run->table));
	json_object_object_add(o, "workers", workers_status(run));
	if (run->kids[FLOODER_SLOT].used) {
		fl = json_object_new_object();
		add_kid(fl, &run->kids[FLOODER_SLOT]);
		json_object_object_add(fl, "links", links_status(run->stats));
	}
	json_object_object_add(o, "flooder", fl);
	return o;
}

static void add_status(const struct supervisor *s, json_object *a)
{
	json_object *h = json_object_new_object();
	json_object *members = json_object_new_array();

	add_int(h, "pid", getpid());
	add_secs(h, "uptime_s", sup_now_ms() - s->started_ms);
	add_str(h, "config", s->conf->path);
	add_str(h, "herd", s->conf->herd_name);
	add_int(h, "reloads", s->reloads);
	json_object_object_add(a, "herdd", h);
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
		if (s->runs[r].active && !s->runs[r].removing)
			json_object_array_add(members,
					      member_status(s, &s->runs[r]));
	json_object_object_add(a, "members", members);
}

static const char *add_lookup(struct supervisor *s, json_object *a,
			      const struct control_request *req)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		struct member_run *run = &s->runs[r];
		char *line = NULL;
		size_t len = 0;
		bool found;

		if (!run->active || run->removing ||
		    strcmp(run->name, req->member) != 0)
			continue;
		line = malloc(table_line_max(run->table) + 1);
		if (line == NULL)
			return "out of memory";
		found = table_get(run->table, req->client, strlen(req->client),
				  line, table_line_max(run->table), &len, NULL);
		json_object_object_add(a, "found",
					json_object_new_boolean(found));
		if (found)
			json_object_object_add(a, "line",
				json_object_new_string_len(line, (int)len));
		free(line);
		return NULL;
	}
	return "no such member runs here";
}

char *sup_answer(void *arg, const struct control_request *req)
{
	struct supervisor *s = arg;
	json_object *a = json_object_new_object();
	const char *error = NULL;
	char why[1024];
	char *text;

	add_int(a, "version", CONTROL_VERSION);
	switch (req->command) {
	case CONTROL_STATUS:
		add_status(s, a);
		break;
	case CONTROL_STOP:
		add_int(a, "pid", getpid());
		begin_stop(s, "asked to stop");
		break;
	case CONTROL_RELOAD:
		if (sup_reload(s, why, sizeof why) != 0)
			error = why;
		break;
	case CONTROL_LOOKUP:
		error = add_lookup(s, a, req);
		break;
	case CONTROL_INVALID:
		error = "invalid request";
		break;
	}
	json_object_object_add(a, "ok", json_object_new_boolean(!error));
	if (error)
		add_str(a, "error", error);
	text = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return text;
}
