/*
 * supervisor.c - herdd's parent process; see supervisor.h.
 *
 * A plain poll loop over a signalfd and the control socket.  Keeping
 * libevent out of this process means a forked child starts from a clean
 * slate instead of inheriting an event base it must not touch.
 */
#include "supervisor_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>

#include "flooder.h"
#include "linkauth.h"
#include "places.h"
#include "snapshot.h"
#include "worker.h"

#define HEALTHY_RUN_MS		10000	/* a run this long resets backoff */
#define BACKOFF_FIRST_MS	100
#define BACKOFF_CAP_MS		5000
#define CRASH_WINDOW_MS		60000
#define STOP_DEADLINE_MS	5000	/* then SIGKILL */
#define LISTEN_BACKLOG		4096
#define POLL_FDS		16

int64_t sup_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "worker 3" or "flooder", for log lines. */
static const char *kid_label(unsigned slot, char buf[16])
{
	if (slot == FLOODER_SLOT)
		return "flooder";
	snprintf(buf, 16, "worker %u", slot);
	return buf;
}

/* Tells systemd (if it started us) one state change; else nothing. */
void sup_notify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	(void)sd_notify(0, msg);
}

/* --- listeners ------------------------------------------------------------ */

/*
 * With SO_REUSEPORT a second herd (or anything of the same user) could
 * silently join our group and steal connections, so first make sure the
 * port is free with a plain bind.
 */
static int check_port_free(const struct conf_addr *addr)
{
	int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, rc;

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, (const struct sockaddr *)&addr->sa, addr->salen);
	close(fd);
	return rc;
}

static int open_listener(const struct conf_addr *addr, bool reuseport)
{
	int fd = socket(addr->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (reuseport &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int open_worker_listener(struct supervisor *s, struct member_run *run,
			 unsigned slot)
{
	const struct conf_addr *addr = &s->conf->members[run->index].client;

	run->listen_fds[slot] = open_listener(addr, true);
	if (run->listen_fds[slot] >= 0)
		return 0;
	fprintf(stderr, "herdd: %s: cannot listen on %s: %s\n", run->name,
		addr->text, strerror(errno));
	return -1;
}

static int open_listeners(struct supervisor *s, struct member_run *run)
{
	const struct conf_member *m = &s->conf->members[run->index];

	if (check_port_free(&m->client) != 0) {
		fprintf(stderr, "herdd: %s: cannot listen on %s: %s\n",
			run->name, m->client.text, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < s->conf->workers; i++)
		if (open_worker_listener(s, run, i) != 0)
			return -1;
	if (m->peer.salen == 0)
		return 0;
	run->peer_fd = open_listener(&m->peer, false);
	if (run->peer_fd >= 0)
		return 0;
	fprintf(stderr, "herdd: %s: cannot listen on peer address %s: %s\n",
		run->name, m->peer.text, strerror(errno));
	return -1;
}

/* --- members ---------------------------------------------------------------- */

static void plan_kids(struct supervisor *s, struct member_run *run)
{
	const struct conf_member *m = &s->conf->members[run->index];

	for (unsigned i = 0; i < KID_SLOTS; i++)
		run->kids[i].used = i < s->conf->workers;
	run->kids[FLOODER_SLOT].used = m->peer.salen > 0 ||
				       m->n_neighbours > 0;
}

/*
 * The table lives in a file in table_dir, so herdd killed outright (all of
 * it) finds every acknowledged location again when it comes back.
 */
static int create_shared(struct supervisor *s, struct member_run *run)
{
	size_t line_max = PROTO_AT_MAX(s->conf->max_client_len);
	char path[CONF_PATH_MAX + PROTO_NAME_MAX + 8];

	snprintf(path, sizeof path, "%s/%s.table", s->conf->table_dir,
		 run->name);
	run->table = table_open(path, s->conf->table_capacity, line_max,
				&run->table_fd, &run->reattached);
	if (run->table == NULL) {
		fprintf(stderr, "herdd: %s: cannot open a table of %zu clients "
			"in %s: %s\n", run->name, s->conf->table_capacity, path,
			errno == EBUSY ? "another herdd runs this member" :
			strerror(errno));
		return -1;
	}
	run->stats = stats_create();
	run->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (run->stats != NULL && run->wake_fd >= 0)
		return 0;
	fprintf(stderr, "herdd: %s: %s\n", run->name, strerror(errno));
	return -1;
}

/*
 * Loads the member's snapshot, if any.  A bad one is reported, kept aside
 * as NAME.snap.corrupt for a post-mortem, and the member starts empty: its
 * neighbours then teach it the whole table.
 */
static void load_snapshot(struct supervisor *s, struct member_run *run)
{
	struct proto_limits lim = { .max_client_len = s->conf->max_client_len };
	char err[CONF_PATH_MAX + 160] = "", aside[sizeof run->snap_path + 16];
	long n = snapshot_load(run->table, run->snap_path, &lim, err,
			       sizeof err);

	if (n > 0)
		log_msg(run->log, "loaded %ld locations from %s", n,
			run->snap_path);
	if (n >= 0 && err[0] != '\0')
		log_msg(run->log, "snapshot only partly loaded: %s", err);
	if (n >= 0)
		return;
	log_msg(run->log, "not using the snapshot: %s", err);
	fprintf(stderr, "herdd: %s: not using the snapshot: %s\n", run->name,
		err);
	snprintf(aside, sizeof aside, "%s.corrupt", run->snap_path);
	(void)rename(run->snap_path, aside);
}

void save_snapshot(struct member_run *run)
{
	char err[CONF_PATH_MAX + 128];
	long n = snapshot_write(run->table, run->snap_path, err, sizeof err);

	if (n < 0)
		log_msg(run->log, "snapshot failed: %s", err);
	else
		log_msg(run->log, "saved %ld locations to %s", n,
			run->snap_path);
}

int member_start(struct supervisor *s, struct member_run *run, size_t index)
{
	memset(run, 0, sizeof *run);
	run->active = true;
	run->index = index;
	run->peer_fd = run->wake_fd = run->table_fd = -1;
	for (unsigned i = 0; i < MAX_WORKERS; i++)
		run->listen_fds[i] = -1;
	snprintf(run->name, sizeof run->name, "%s",
		 s->conf->members[index].name);
	snprintf(run->log_path, sizeof(run->log_path), "%s/%s.log",
		 s->conf->log_dir, run->name);
	snprintf(run->snap_path, sizeof(run->snap_path), "%s/%s.snap",
		 s->conf->state_dir, run->name);
	run->log = log_open(run->log_path, run->name);
	if (run->log == NULL) {
		fprintf(stderr, "herdd: %s: cannot open %s: %s\n", run->name,
			run->log_path, strerror(errno));
		return -1;
	}
	plan_kids(s, run);
	if (create_shared(s, run) != 0 || open_listeners(s, run) != 0)
		return -1;
	if (run->reattached)
		log_msg(run->log, "found the table as the last herdd left it: "
			"%zu locations", table_count(run->table));
	else
		load_snapshot(s, run);
	log_msg(run->log, "member starting: %u workers on %s",
		s->conf->workers, s->conf->members[index].client.text);
	return 0;
}

void member_release(struct member_run *run)
{
	for (unsigned i = 0; i < MAX_WORKERS; i++)
		if (run->listen_fds[i] >= 0)
			close(run->listen_fds[i]);
	if (run->peer_fd >= 0)
		close(run->peer_fd);
	if (run->wake_fd >= 0)
		close(run->wake_fd);
	table_destroy(run->table);
	if (run->table_fd >= 0)
		close(run->table_fd);
	stats_destroy(run->stats);
	log_msg(run->log, "member stopped");
	log_close(run->log);
	run->active = false;
}

/* --- children ------------------------------------------------------------ */

/* Closes every descriptor of ours that the kid (mine, slot) has no use for. */
static void close_others(struct supervisor *s, const struct member_run *mine,
			 unsigned slot)
{
	close(s->signal_fd);
	ctl_close_in_child(s->ctl);
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		const struct member_run *run = &s->runs[r];

		if (!run->active)
			continue;
		for (unsigned i = 0; i < MAX_WORKERS; i++)
			if ((run != mine || i != slot) && run->listen_fds[i] >= 0)
				close(run->listen_fds[i]);
		if ((run != mine || slot != FLOODER_SLOT) && run->peer_fd >= 0)
			close(run->peer_fd);
		if (run != mine)
			close(run->wake_fd);
		close(run->table_fd);	/* the mapping is all a kid needs */
	}
}

/* Leaves the child holding only what its job needs. */
static void child_prepare(struct supervisor *s, const struct member_run *mine,
			  unsigned slot, pid_t parent)
{
	char title[PROTO_NAME_MAX + 16];

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(EXIT_FAILURE);	/* the supervisor is already gone */
	if (slot == FLOODER_SLOT)
		snprintf(title, sizeof(title), "herd-fl-%s", mine->name);
	else
		snprintf(title, sizeof(title), "herd-w%u-%s", slot, mine->name);
	title[15] = '\0';	/* what the kernel keeps of a name */
	(void)prctl(PR_SET_NAME, title);
	close_others(s, mine, slot);
	unsetenv("NOTIFY_SOCKET");	/* only herdd itself talks to systemd */
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	if (s->drop_privileges &&
	    (setgroups(1, &s->gid) != 0 || setgid(s->gid) != 0 ||
	     setuid(s->uid) != 0)) {
		fprintf(stderr, "herdd: cannot drop privileges: %s\n",
			strerror(errno));
		_exit(EXIT_FAILURE);
	}
	/* Best effort: without it a page is mapped at its first touch. */
	(void)table_prefault(mine->table);
}

static int run_kid(struct supervisor *s, struct member_run *run,
		   unsigned slot)
{
	if (slot == FLOODER_SLOT) {
		struct flooder_args args = {
			.conf = s->conf, .member = run->index,
			.table = run->table, .peer_fd = run->peer_fd,
			.wake_fd = run->wake_fd, .stats = run->stats,
			.log_path = run->log_path,
		};
		return flooder_main(&args);
	} else {
		struct worker_args args = {
			.conf = s->conf, .member = run->index, .slot = slot,
			.listen_fd = run->listen_fds[slot],
			.wake_fd = run->wake_fd, .table = run->table,
			.stats = &run->stats->workers[slot],
			.log_path = run->log_path,
		};
		return worker_main(&args);
	}
}

int spawn_kid(struct supervisor *s, struct member_run *run, unsigned slot)
{
	struct child *ch = &run->kids[slot];
	pid_t parent = getpid();
	char buf[16];
	pid_t pid;

	if (slot != FLOODER_SLOT)
		memset(&run->stats->workers[slot], 0,
		       sizeof run->stats->workers[slot]);
	pid = fork();
	if (pid < 0) {
		log_msg(run->log, "cannot fork %s: %s", kid_label(slot, buf),
			strerror(errno));
		return -1;
	}
	if (pid == 0) {
		child_prepare(s, run, slot, parent);
		_exit(run_kid(s, run, slot));
	}
	ch->pid = pid;
	ch->fate = KID_KEEP;
	ch->started_ms = sup_now_ms();
	return 0;
}

/* Decides when a crashed child comes back, or that nothing should. */
static void schedule_respawn(struct supervisor *s, struct member_run *run,
			     unsigned slot)
{
	struct child *ch = &run->kids[slot];
	int64_t now = sup_now_ms();
	char buf[16];

	if (now - ch->started_ms >= HEALTHY_RUN_MS)
		ch->backoff_ms = 0;
	if (now - ch->window_ms > CRASH_WINDOW_MS) {
		ch->window_ms = now;
		ch->crashes = 0;
	}
	if (++ch->crashes > s->conf->respawn_budget) {
		log_msg(run->log, "%s died %u times within %d s: giving up",
			kid_label(slot, buf), ch->crashes,
			CRASH_WINDOW_MS / 1000);
		fprintf(stderr, "herdd: %s %s keeps dying; stopping\n",
			run->name, kid_label(slot, buf));
		s->exit_status = EXIT_FAILURE;
		return;
	}
	ch->respawn_pending = true;
	ch->respawn_at_ms = now + ch->backoff_ms;
	ch->delay_ms = ch->backoff_ms;
	log_msg(run->log, "respawning %s in %u ms", kid_label(slot, buf),
		ch->backoff_ms);
	ch->backoff_ms = ch->backoff_ms == 0 ? BACKOFF_FIRST_MS :
			 ch->backoff_ms * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS :
			 ch->backoff_ms * 2;
}

static void describe_exit(int status, char *out, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(out, cap, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, cap, "ended with wait status %#x", status);
}

static bool find_child(struct supervisor *s, pid_t pid,
		       struct member_run **run, unsigned *slot)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		if (!s->runs[r].active)
			continue;
		for (unsigned i = 0; i < KID_SLOTS; i++)
			if (s->runs[r].kids[i].pid == pid) {
				*run = &s->runs[r];
				*slot = i;
				return true;
			}
	}
	return false;
}

static bool member_has_kids(const struct member_run *run)
{
	for (unsigned i = 0; i < KID_SLOTS; i++)
		if (run->kids[i].pid > 0)
			return true;
	return false;
}

/* A retired slot gives up its listener; a removed member all it had. */
static void bury_kid(struct supervisor *s, struct member_run *run,
		     unsigned slot)
{
	struct child *ch = &run->kids[slot];

	switch (ch->fate) {
	case KID_REPLACE:
		if (!s->stopping && spawn_kid(s, run, slot) != 0)
			schedule_respawn(s, run, slot);
		break;
	case KID_RETIRE:
		ch->used = false;
		if (slot < MAX_WORKERS && run->listen_fds[slot] >= 0) {
			close(run->listen_fds[slot]);
			run->listen_fds[slot] = -1;
		}
		break;
	case KID_KEEP:
		if (!s->stopping)
			schedule_respawn(s, run, slot);
		break;
	}
	if (run->removing && !member_has_kids(run)) {
		save_snapshot(run);
		member_release(run);
	}
}

static void reap_children(struct supervisor *s)
{
	struct member_run *run;
	unsigned slot;
	char how[96], buf[16];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->snapshot_pid)
			s->snapshot_pid = 0;
		if (!find_child(s, pid, &run, &slot))
			continue;
		run->kids[slot].pid = 0;
		describe_exit(status, how, sizeof(how));
		log_msg(run->log, "%s (pid %ld) %s", kid_label(slot, buf),
			(long)pid, how);
		bury_kid(s, run, slot);
	}
}

static void signal_children(struct supervisor *s, int sig)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
		for (unsigned i = 0; s->runs[r].active && i < KID_SLOTS; i++)
			if (s->runs[r].kids[i].pid > 0)
				kill(s->runs[r].kids[i].pid, sig);
}

static bool any_child_running(const struct supervisor *s)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
		if (s->runs[r].active && member_has_kids(&s->runs[r]))
			return true;
	return false;
}

void begin_stop(struct supervisor *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->stop_deadline_ms = sup_now_ms() + STOP_DEADLINE_MS;
	sup_notify("STOPPING=1\nSTATUS=Stopping: %s", why);
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
		if (s->runs[r].active)
			log_msg(s->runs[r].log, "stopping: %s", why);
	signal_children(s, SIGTERM);
}

/* Starts the respawns that are due; returns ms until the next one, or -1. */
static int run_due_respawns(struct supervisor *s)
{
	int64_t now = sup_now_ms(), next = -1;

	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		for (unsigned i = 0; s->runs[r].active && i < KID_SLOTS; i++) {
			struct child *ch = &s->runs[r].kids[i];

			if (!ch->respawn_pending)
				continue;
			if (ch->respawn_at_ms <= now) {
				ch->respawn_pending = false;
				ch->restarts++;
				if (spawn_kid(s, &s->runs[r], i) != 0)
					schedule_respawn(s, &s->runs[r], i);
				continue;
			}
			if (next < 0 || ch->respawn_at_ms - now < next)
				next = ch->respawn_at_ms - now;
		}
	}
	return (int)next;
}

/* --- the loop ------------------------------------------------------------- */

static void reload_on_signal(struct supervisor *s)
{
	char why[1024];

	if (sup_reload(s, why, sizeof why) != 0) {
		fprintf(stderr, "herdd: reload refused: %s\n", why);
		for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
			if (s->runs[r].active)
				log_msg(s->runs[r].log, "reload refused: %s",
					why);
	}
}

static void handle_signals(struct supervisor *s)
{
	struct signalfd_siginfo info;

	while (read(s->signal_fd, &info, sizeof(info)) == sizeof(info)) {
		switch (info.ssi_signo) {
		case SIGCHLD:
			reap_children(s);
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(s, strsignal((int)info.ssi_signo));
			break;
		case SIGHUP:
			reload_on_signal(s);
			break;
		}
	}
}

static int earliest(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Keeps systemd's watchdog fed, if it set one. */
static int feed_watchdog(struct supervisor *s)
{
	int64_t now = sup_now_ms();

	if (s->watchdog_usec == 0)
		return -1;
	if (now >= s->next_watchdog_ms) {
		sup_notify("WATCHDOG=1");
		s->next_watchdog_ms = now + (int64_t)(s->watchdog_usec / 2000);
	}
	return (int)(s->next_watchdog_ms - now);
}

/*
 * Periodic snapshots are written by a short-lived child, so a big table
 * never stalls the control socket or respawns.
 */
static int snapshot_if_due(struct supervisor *s)
{
	int64_t now = sup_now_ms();
	pid_t pid;

	if (s->conf->snapshot_interval_s == 0 || s->stopping)
		return -1;
	if (now < s->next_snapshot_ms)
		return (int)(s->next_snapshot_ms - now);
	s->next_snapshot_ms = now + s->conf->snapshot_interval_s * 1000LL;
	if (s->snapshot_pid > 0)
		return (int)(s->next_snapshot_ms - now);  /* still writing */
	pid = fork();
	if (pid == 0) {
		(void)prctl(PR_SET_NAME, "herd-snapshot");
		for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
			if (s->runs[r].active && !s->runs[r].removing)
				save_snapshot(&s->runs[r]);
		_exit(EXIT_SUCCESS);
	}
	if (pid > 0)
		s->snapshot_pid = pid;
	return (int)(s->next_snapshot_ms - now);
}

static int poll_timeout(struct supervisor *s)
{
	int timeout = earliest(feed_watchdog(s), ctl_timeout_ms(s->ctl));

	timeout = earliest(timeout, snapshot_if_due(s));

	if (!s->stopping)
		return earliest(timeout, run_due_respawns(s));
	if (s->stop_deadline_ms <= sup_now_ms()) {
		signal_children(s, SIGKILL);
		s->stop_deadline_ms = sup_now_ms() + 1000;
	}
	return earliest(timeout, (int)(s->stop_deadline_ms - sup_now_ms()));
}

static void main_loop(struct supervisor *s)
{
	struct pollfd fds[POLL_FDS];

	while (!s->stopping || any_child_running(s)) {
		size_t n_ctl;

		if (s->exit_status != EXIT_SUCCESS)
			begin_stop(s, "a process keeps dying");
		fds[0] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
		n_ctl = s->ctl ?
			ctl_fill_pollfds(s->ctl, fds + 1, POLL_FDS - 1) : 0;
		if (poll(fds, 1 + n_ctl, poll_timeout(s)) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			handle_signals(s);
		if (n_ctl > 0)
			ctl_handle(s->ctl, fds + 1, n_ctl);
	}
}

/* --- start-up and shut-down ------------------------------------------------- */

static int setup_signals(struct supervisor *s)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &s->old_mask) != 0)
		return -1;
	(void)signal(SIGPIPE, SIG_IGN);
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return s->signal_fd < 0 ? -1 : 0;
}

/* Looks the configured user up once, before any child needs it. */
static int resolve_user(struct supervisor *s)
{
	struct passwd *pw;

	if (s->conf->user[0] == '\0' || geteuid() != 0)
		return 0;
	pw = getpwnam(s->conf->user);
	if (pw == NULL) {
		fprintf(stderr, "herdd: unknown user \"%s\"\n", s->conf->user);
		return -1;
	}
	s->uid = pw->pw_uid;
	s->gid = pw->pw_gid;
	s->drop_privileges = true;
	return 0;
}

static int open_control(struct supervisor *s)
{
	char err[512];

	if (mkdir(s->conf->run_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "herdd: cannot create %s: %s\n",
			s->conf->run_dir, strerror(errno));
		return -1;
	}
	s->ctl = ctl_open(s->conf->control_socket, sup_answer, s, err,
			  sizeof err);
	if (s->ctl == NULL)
		fprintf(stderr, "herdd: %s\n", err);
	return s->ctl == NULL ? -1 : 0;
}

static int start_members(struct supervisor *s)
{
	bool run_here[CONF_MEMBERS_MAX];
	char err[512];

	if (conf_select(s->conf, s->opts->members, s->opts->n_members,
			run_here, err, sizeof err) < 0) {
		fprintf(stderr, "herdd: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < s->conf->n_members; i++)
		if (run_here[i] && member_start(s, &s->runs[i], i) != 0)
			return -1;
	return 0;
}

/*
 * Once detached, our stderr (and our children's) goes to herdd.log in the
 * log directory instead of the terminal of whoever started us, which must
 * not be held open after we report ready.
 */
static void redirect_stderr(const struct herd_conf *conf)
{
	char path[CONF_PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/herdd.log", conf->log_dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

static int spawn_all(struct supervisor *s)
{
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
		for (unsigned i = 0; s->runs[r].active && i < KID_SLOTS; i++)
			if (s->runs[r].kids[i].used &&
			    spawn_kid(s, &s->runs[r], i) != 0)
				return -1;
	return 0;
}

/*
 * Every worker makes its own Places client after fork; trying once here
 * turns a missing key or a bad data file into a start-up error instead of
 * a crash loop.
 */
int check_places(const struct herd_conf *conf)
{
	struct event_base *base = event_base_new();
	struct places *p;
	char err[512] = "cannot create an event base";

	p = base ? places_new(base, &conf->places, err, sizeof err) : NULL;
	if (p == NULL)
		fprintf(stderr, "herdd: %s: [places]: %s\n", conf->path, err);
	places_free(p);
	if (base != NULL)
		event_base_free(base);
	return p == NULL ? -1 : 0;
}

/* The flooders read the secret after fork: make sure they can. */
int check_secret(const struct herd_conf *conf)
{
	struct linkauth_secret secret;
	char err[CONF_PATH_MAX + 64];
	int rc = linkauth_load(conf->secret_file, &secret, err, sizeof err);

	if (rc != 0)
		fprintf(stderr, "herdd: %s: %s\n", conf->path, err);
	OPENSSL_cleanse(&secret, sizeof secret);
	return rc;
}

static int start_everything(struct supervisor *s, bool detached)
{
	if (check_places(s->conf) != 0 || check_secret(s->conf) != 0 ||
	    setup_signals(s) != 0 ||
	    resolve_user(s) != 0 ||
	    open_control(s) != 0 || start_members(s) != 0)
		return -1;
	if (detached)
		redirect_stderr(s->conf);
	return spawn_all(s);
}

static void report_ready(struct supervisor *s, int ready_fd)
{
	size_t members = 0;

	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++)
		members += s->runs[r].active;
	if (sd_watchdog_enabled(0, &s->watchdog_usec) <= 0)
		s->watchdog_usec = 0;
	sup_notify("READY=1\nSTATUS=Serving %zu member%s", members,
		   members == 1 ? "" : "s");
	if (ready_fd < 0)
		return;
	if (write(ready_fd, "R", 1) != 1)
		fprintf(stderr, "herdd: cannot report readiness: %s\n",
			strerror(errno));
	close(ready_fd);
}

int supervisor_run(const struct herd_conf *conf,
		   const struct supervisor_options *opts, int ready_fd)
{
	static struct supervisor s;	/* large; keep it off the stack */

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.spare = &s.spare_storage;
	s.opts = opts;
	s.signal_fd = -1;
	s.exit_status = EXIT_SUCCESS;
	s.started_ms = sup_now_ms();
	if (start_everything(&s, ready_fd >= 0) != 0) {
		s.exit_status = EXIT_FAILURE;
		begin_stop(&s, "start-up failed");
	} else {
		s.serving = true;
		report_ready(&s, ready_fd);
	}
	s.next_snapshot_ms = sup_now_ms() + conf->snapshot_interval_s * 1000LL;
	if (s.signal_fd >= 0)
		main_loop(&s);
	if (s.snapshot_pid > 0)
		(void)waitpid(s.snapshot_pid, NULL, 0);
	for (size_t r = 0; r < CONF_MEMBERS_MAX; r++) {
		if (!s.runs[r].active)
			continue;
		if (s.serving)	/* never an empty table over a good file */
			save_snapshot(&s.runs[r]);
		member_release(&s.runs[r]);
	}
	ctl_close(s.ctl);
	if (s.signal_fd >= 0)
		close(s.signal_fd);
	return s.exit_status;
}
