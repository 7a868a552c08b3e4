/*
 * reload.c - applying a changed herd.conf without a restart.
 *
 * The new file is parsed and checked first; on any error nothing changes.
 * Then every kept member keeps its table, counters and listeners, and its
 * processes are replaced one by one by ones started with the new
 * configuration (each finishes what it is doing first, and connections
 * arriving meanwhile wait in the listen queues).  Worker slots are added
 * or retired to match the new worker count, members added or removed.
 * What the running processes cannot adopt (table geometry, directories,
 * addresses of a running member, the control socket, the user) is
 * refused with a reason: those need a restart.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "supervisor_int.h"

bool reload_in_progress(const struct supervisor *s)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		const struct member_run *run = &s->runs[r];

		if (!run->active)
			continue;
		if (run->removing)
			return true;
		for (unsigned i = 0; i < KID_SLOTS; i++)
			if (run->kids[i].pid > 0 && run->kids[i].fate != KID_KEEP)
				return true;
	}
	return false;
}

#define SAME_TEXT(field) (strcmp(old->field, new->field) == 0)
#define SAME_VALUE(field) (old->field == new->field)

/* The settings running processes cannot take over. */
static const char *needs_restart(const struct herd_conf *old,
				 const struct herd_conf *new)
{
	if (!SAME_TEXT(log_dir) || !SAME_TEXT(state_dir) ||
	    !SAME_TEXT(run_dir) || !SAME_TEXT(control_socket) ||
	    !SAME_TEXT(table_dir))
		return "log_dir, state_dir, run_dir, table_dir and control_socket";
	if (!SAME_TEXT(user))
		return "user";
	if (!SAME_VALUE(table_capacity) || !SAME_VALUE(max_client_len))
		return "table_capacity and max_client_len";
	return NULL;
}

static int check_kept_members(const struct supervisor *s,
			      const struct herd_conf *new,
			      const bool run_here[], char *why, size_t len)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		const struct member_run *run = &s->runs[r];
		const struct conf_member *was, *now;
		int idx;

		if (!run->active || run->removing)
			continue;
		idx = conf_member_index(new, run->name);
		if (idx < 0 || !run_here[idx])
			continue;
		was = &s->conf->members[run->index];
		now = &new->members[idx];
		if (strcmp(was->client.text, now->client.text) != 0 ||
		    strcmp(was->peer.text, now->peer.text) != 0) {
			snprintf(why, len, "%s: a member's addresses cannot "
				 "change without a restart (%s)", new->path,
				 run->name);
			return -1;
		}
	}
	return 0;
}

/* Parses and checks the new file into s->spare; nothing changes yet. */
static int prepare(struct supervisor *s, bool run_here[], char *why,
		   size_t len)
{
	const char *what;

	if (reload_in_progress(s)) {
		snprintf(why, len, "a reload is already in progress");
		return -1;
	}
	if (conf_load(s->opts->conf_path, s->spare, why, len) != 0 ||
	    conf_select(s->spare, s->opts->members, s->opts->n_members,
			run_here, why, len) < 0)
		return -1;
	if (check_places(s->spare) != 0 || check_secret(s->spare) != 0) {
		snprintf(why, len, "%s: the [places] or secret_file settings do not work "
			 "(see herdd's log)", s->spare->path);
		return -1;
	}
	what = needs_restart(s->conf, s->spare);
	if (what != NULL) {
		snprintf(why, len, "%s: %s cannot change without a restart",
			 s->spare->path, what);
		return -1;
	}
	return check_kept_members(s, s->spare, run_here, why, len);
}

/* --- applying ---------------------------------------------------------- */

/* Ends a kid's slot: now if it is not running, else once it exits. */
static void retire_kid(struct member_run *run, unsigned slot)
{
	struct child *ch = &run->kids[slot];

	ch->respawn_pending = false;
	if (ch->pid > 0) {
		ch->fate = KID_RETIRE;
		kill(ch->pid, SIGTERM);
		return;
	}
	ch->used = false;
	if (slot < MAX_WORKERS && run->listen_fds[slot] >= 0) {
		close(run->listen_fds[slot]);
		run->listen_fds[slot] = -1;
	}
}

/* Keeps a kid's slot with a fresh process running the new configuration. */
static int renew_kid(struct supervisor *s, struct member_run *run,
		     unsigned slot)
{
	struct child *ch = &run->kids[slot];

	if (!ch->used) {
		memset(ch, 0, sizeof *ch);
		ch->used = true;
		if (slot < MAX_WORKERS && open_worker_listener(s, run, slot))
			return -1;
		return spawn_kid(s, run, slot);
	}
	if (ch->pid > 0) {
		ch->fate = KID_REPLACE;
		kill(ch->pid, SIGTERM);
	}	/* else a pending respawn will use the new configuration */
	return 0;
}

static void remove_member(struct member_run *run)
{
	log_msg(run->log, "removed from the configuration: stopping");
	run->removing = true;
	for (unsigned i = 0; i < KID_SLOTS; i++)
		if (run->kids[i].used)
			retire_kid(run, i);
	for (unsigned i = 0; i < KID_SLOTS; i++)
		if (run->kids[i].pid > 0)
			return;
	save_snapshot(run);
	member_release(run);
}

static int update_member(struct supervisor *s, struct member_run *run,
			 size_t index)
{
	const struct conf_member *m = &s->conf->members[index];
	bool wants_flooder = m->peer.salen > 0 || m->n_neighbours > 0;
	int rc = 0;

	run->index = index;
	for (unsigned i = 0; i < MAX_WORKERS; i++) {
		if (i < s->conf->workers)
			rc |= renew_kid(s, run, i);
		else if (run->kids[i].used)
			retire_kid(run, i);
	}
	if (wants_flooder)
		rc |= renew_kid(s, run, FLOODER_SLOT);
	else if (run->kids[FLOODER_SLOT].used)
		retire_kid(run, FLOODER_SLOT);
	log_msg(run->log, "configuration reloaded: %u workers",
		s->conf->workers);
	return rc;
}

static int add_member(struct supervisor *s, size_t index)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		struct member_run *run = &s->runs[r];

		if (run->active)
			continue;
		if (member_start(s, run, index) != 0) {
			member_release(run);
			return -1;
		}
		for (unsigned i = 0; i < KID_SLOTS; i++)
			if (run->kids[i].used && spawn_kid(s, run, i) != 0)
				return -1;
		return 0;
	}
	return -1;
}

static int apply(struct supervisor *s, bool run_here[])
{
	int rc = 0;

	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		struct member_run *run = &s->runs[r];
		int idx;

		if (!run->active || run->removing)
			continue;
		idx = conf_member_index(s->conf, run->name);
		if (idx < 0 || !run_here[idx]) {
			remove_member(run);
			continue;
		}
		run_here[idx] = false;	/* handled */
		rc |= update_member(s, run, (size_t)idx);
	}
	for (size_t i = 0; i < s->conf->n_members; i++)
		if (run_here[i])
			rc |= add_member(s, i);
	return rc;
}

int sup_reload(struct supervisor *s, char *why, size_t len)
{
	bool run_here[CONF_MEMBERS_MAX];
	struct herd_conf *old;
	int rc;

	sup_notify("RELOADING=1\nSTATUS=Reloading %s", s->opts->conf_path);
	rc = prepare(s, run_here, why, len);
	if (rc == 0) {
		old = (struct herd_conf *)s->conf;
		s->conf = s->spare;
		s->spare = old;
		s->reloads++;
		if (apply(s, run_here) != 0) {
			snprintf(why, len, "the new configuration is in place "
				 "but some processes could not start: %s "
				 "(see the member logs)", strerror(errno));
			rc = -1;
		}
	}
	sup_notify("READY=1\nSTATUS=%s", rc == 0 ? "Reloaded" :
		   "Reload refused");
	return rc;
}
