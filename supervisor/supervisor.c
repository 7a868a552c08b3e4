/*
 * supervisor.c - herdd's parent process; see supervisor.h.
 *
 * A plain poll loop over a signalfd: the supervisor has no other input yet,
 * and keeping libevent out of this process means a forked child starts
 * from a clean slate instead of inheriting an event base it must not touch.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "table.h"
#include "flooder.h"
#include "worker.h"

#define HEALTHY_RUN_MS		10000	/* a run this long resets backoff */
#define BACKOFF_FIRST_MS	100
#define BACKOFF_CAP_MS		5000
#define CRASH_WINDOW_MS		60000
#define STOP_DEADLINE_MS	5000	/* then SIGKILL */
#define LISTEN_BACKLOG		4096

struct child {
	pid_t pid;			/* 0: not running */
	int64_t started_ms;
	bool respawn_pending;
	int64_t respawn_at_ms;
	unsigned backoff_ms;
	unsigned restarts;
	unsigned crashes;		/* in the window starting window_ms */
	int64_t window_ms;
};

/*
 * A member's processes are its kids: workers 0 .. workers-1 and, if the
 * member has links, the flooder right after them.
 */
struct member_run {
	size_t index;			/* into conf->members */
	struct table *table;
	struct herd_log *log;
	char log_path[CONF_PATH_MAX + PROTO_NAME_MAX + 8];
	int listen_fds[64];		/* client port, one per worker */
	int peer_fd;			/* peer port, or -1 */
	int wake_fd;			/* workers -> flooder */
	unsigned n_kids;
	unsigned flooder_slot;		/* n_kids if there is no flooder */
	struct child kids[65];
};

struct supervisor {
	const struct herd_conf *conf;
	struct member_run runs[CONF_MEMBERS_MAX];
	size_t n_runs;
	int signal_fd;
	sigset_t old_mask;
	bool stopping;
	int64_t stop_deadline_ms;
	int exit_status;
	uid_t uid;			/* drop to these in children ... */
	gid_t gid;
	bool drop_privileges;		/* ... when this is set */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *member_name(const struct supervisor *s,
			       const struct member_run *run)
{
	return s->conf->members[run->index].name;
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

static int open_listeners(struct supervisor *s, struct member_run *run)
{
	const struct conf_addr *addr = &s->conf->members[run->index].client;

	if (check_port_free(addr) != 0) {
		fprintf(stderr, "herdd: %s: cannot listen on %s: %s\n",
			member_name(s, run), addr->text, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < s->conf->workers; i++) {
		run->listen_fds[i] = open_listener(addr, true);
		if (run->listen_fds[i] < 0) {
			fprintf(stderr, "herdd: %s: cannot listen on %s: %s\n",
				member_name(s, run), addr->text,
				strerror(errno));
			return -1;
		}
	}
	addr = &s->conf->members[run->index].peer;
	if (addr->salen == 0)
		return 0;
	run->peer_fd = open_listener(addr, false);
	if (run->peer_fd < 0) {
		fprintf(stderr, "herdd: %s: cannot listen on peer address "
			"%s: %s\n", member_name(s, run), addr->text,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* --- members ---------------------------------------------------------------- */

/* A member with a peer port or neighbours needs a flooder. */
static void plan_kids(struct supervisor *s, struct member_run *run)
{
	const struct conf_member *m = &s->conf->members[run->index];

	run->n_kids = s->conf->workers;
	run->flooder_slot = run->n_kids;
	if (m->peer.salen > 0 || m->n_neighbours > 0)
		run->n_kids++;
}

static const char *kid_role(const struct member_run *run, unsigned slot)
{
	return slot == run->flooder_slot ? "flooder" : "worker";
}

static int member_start(struct supervisor *s, struct member_run *run)
{
	const struct herd_conf *conf = s->conf;
	const char *name = member_name(s, run);
	size_t line_max = PROTO_AT_MAX(conf->max_client_len);

	for (unsigned i = 0; i < 64; i++)
		run->listen_fds[i] = -1;
	run->peer_fd = run->wake_fd = -1;
	snprintf(run->log_path, sizeof(run->log_path), "%s/%s.log",
		 conf->log_dir, name);
	run->log = log_open(run->log_path, name);
	if (run->log == NULL) {
		fprintf(stderr, "herdd: %s: cannot open %s: %s\n", name,
			run->log_path, strerror(errno));
		return -1;
	}
	run->table = table_create(conf->table_capacity, line_max);
	if (run->table == NULL) {
		fprintf(stderr, "herdd: %s: cannot create a table of %zu "
			"clients: %s\n", name, conf->table_capacity,
			strerror(errno));
		return -1;
	}
	run->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (run->wake_fd < 0) {
		fprintf(stderr, "herdd: %s: eventfd: %s\n", name,
			strerror(errno));
		return -1;
	}
	plan_kids(s, run);
	return open_listeners(s, run);
}

static void member_release(struct member_run *run)
{
	for (unsigned i = 0; i < 64; i++)
		if (run->listen_fds[i] >= 0)
			close(run->listen_fds[i]);
	if (run->peer_fd >= 0)
		close(run->peer_fd);
	if (run->wake_fd >= 0)
		close(run->wake_fd);
	if (run->table != NULL)
		table_destroy(run->table);
	log_close(run->log);
}

/* --- children ------------------------------------------------------------ */

/* Closes every descriptor of ours that the kid (mine, slot) has no use for. */
static void close_others(struct supervisor *s, const struct member_run *mine,
			 unsigned slot)
{
	close(s->signal_fd);
	for (size_t r = 0; r < s->n_runs; r++) {
		const struct member_run *run = &s->runs[r];

		for (unsigned i = 0; i < s->conf->workers; i++)
			if (run != mine || i != slot)
				close(run->listen_fds[i]);
		if (run != mine || slot != run->flooder_slot)
			if (run->peer_fd >= 0)
				close(run->peer_fd);
		if (run != mine)
			close(run->wake_fd);
	}
}

/* Leaves the child holding only what its job needs. */
static void child_prepare(struct supervisor *s, const struct member_run *mine,
			  unsigned slot, pid_t parent)
{
	char title[16];

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(EXIT_FAILURE);	/* the supervisor is already gone */
	if (slot == mine->flooder_slot)
		snprintf(title, sizeof(title), "herd-fl-%s",
			 member_name(s, mine));
	else
		snprintf(title, sizeof(title), "herd-w%u-%s", slot,
			 member_name(s, mine));
	(void)prctl(PR_SET_NAME, title);
	close_others(s, mine, slot);
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	if (s->drop_privileges &&
	    (setgroups(1, &s->gid) != 0 || setgid(s->gid) != 0 ||
	     setuid(s->uid) != 0)) {
		fprintf(stderr, "herdd: cannot drop privileges: %s\n",
			strerror(errno));
		_exit(EXIT_FAILURE);
	}
}

static int run_kid(struct supervisor *s, struct member_run *run,
		   unsigned slot)
{
	if (slot == run->flooder_slot) {
		struct flooder_args args = {
			.conf = s->conf, .member = run->index,
			.table = run->table, .peer_fd = run->peer_fd,
			.wake_fd = run->wake_fd, .log_path = run->log_path,
		};
		return flooder_main(&args);
	} else {
		struct worker_args args = {
			.conf = s->conf, .member = run->index, .slot = slot,
			.listen_fd = run->listen_fds[slot],
			.wake_fd = run->wake_fd,
			.table = run->table, .log_path = run->log_path,
		};
		return worker_main(&args);
	}
}

static int spawn_kid(struct supervisor *s, struct member_run *run,
		     unsigned slot)
{
	struct child *ch = &run->kids[slot];
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		log_msg(run->log, "cannot fork %s %u: %s", kid_role(run, slot),
			slot, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		child_prepare(s, run, slot, parent);
		_exit(run_kid(s, run, slot));
	}
	ch->pid = pid;
	ch->started_ms = now_ms();
	return 0;
}

/* Decides when a dead child comes back, or that it should not. */
static void schedule_respawn(struct supervisor *s, struct member_run *run,
			     unsigned slot)
{
	struct child *ch = &run->kids[slot];
	int64_t now = now_ms();

	if (now - ch->started_ms >= HEALTHY_RUN_MS)
		ch->backoff_ms = 0;
	if (now - ch->window_ms > CRASH_WINDOW_MS) {
		ch->window_ms = now;
		ch->crashes = 0;
	}
	if (++ch->crashes > s->conf->respawn_budget) {
		log_msg(run->log, "%s %u died %u times within %d s: "
			"giving up", kid_role(run, slot), slot, ch->crashes,
			CRASH_WINDOW_MS / 1000);
		fprintf(stderr, "herdd: %s %s %u keeps dying; stopping\n",
			member_name(s, run), kid_role(run, slot), slot);
		s->exit_status = EXIT_FAILURE;
		return;
	}
	ch->respawn_pending = true;
	ch->respawn_at_ms = now + ch->backoff_ms;
	log_msg(run->log, "respawning %s %u in %u ms", kid_role(run, slot),
		slot, ch->backoff_ms);
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
	for (size_t r = 0; r < s->n_runs; r++)
		for (unsigned i = 0; i < s->runs[r].n_kids; i++)
			if (s->runs[r].kids[i].pid == pid) {
				*run = &s->runs[r];
				*slot = i;
				return true;
			}
	return false;
}

static void reap_children(struct supervisor *s)
{
	struct member_run *run;
	unsigned slot;
	char how[96];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (!find_child(s, pid, &run, &slot))
			continue;
		run->kids[slot].pid = 0;
		describe_exit(status, how, sizeof(how));
		log_msg(run->log, "%s %u (pid %ld) %s", kid_role(run, slot),
			slot, (long)pid, how);
		if (!s->stopping)
			schedule_respawn(s, run, slot);
	}
}

static void signal_children(struct supervisor *s, int sig)
{
	for (size_t r = 0; r < s->n_runs; r++)
		for (unsigned i = 0; i < s->runs[r].n_kids; i++)
			if (s->runs[r].kids[i].pid > 0)
				kill(s->runs[r].kids[i].pid, sig);
}

static bool any_child_running(const struct supervisor *s)
{
	for (size_t r = 0; r < s->n_runs; r++)
		for (unsigned i = 0; i < s->runs[r].n_kids; i++)
			if (s->runs[r].kids[i].pid > 0)
				return true;
	return false;
}

static void begin_stop(struct supervisor *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->stop_deadline_ms = now_ms() + STOP_DEADLINE_MS;
	for (size_t r = 0; r < s->n_runs; r++)
		log_msg(s->runs[r].log, "stopping: %s", why);
	signal_children(s, SIGTERM);
}

/* Starts the respawns that are due; returns ms until the next one, or -1. */
static int run_due_respawns(struct supervisor *s)
{
	int64_t now = now_ms(), next = -1;

	for (size_t r = 0; r < s->n_runs; r++) {
		for (unsigned i = 0; i < s->runs[r].n_kids; i++) {
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

static void handle_signal(struct supervisor *s)
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
			for (size_t r = 0; r < s->n_runs; r++)
				log_msg(s->runs[r].log, "SIGHUP: reload is "
					"not supported yet; configuration "
					"unchanged");
			break;
		}
	}
}

static int poll_timeout(struct supervisor *s)
{
	int timeout = s->stopping ? -1 : run_due_respawns(s);

	if (s->stopping) {
		int64_t left = s->stop_deadline_ms - now_ms();

		if (left <= 0) {
			signal_children(s, SIGKILL);
			left = 1000;
		}
		timeout = (int)left;
	}
	return timeout;
}

static void main_loop(struct supervisor *s)
{
	struct pollfd pfd = { .fd = s->signal_fd, .events = POLLIN };

	while (!s->stopping || any_child_running(s)) {
		if (s->exit_status != EXIT_SUCCESS)
			begin_stop(s, "a worker keeps dying");
		if (poll(&pfd, 1, poll_timeout(s)) > 0)
			handle_signal(s);
	}
}

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

static int start_everything(struct supervisor *s,
			    const bool run_here[CONF_MEMBERS_MAX], bool detached)
{
	if (setup_signals(s) != 0 || resolve_user(s) != 0)
		return -1;
	for (size_t i = 0; i < s->conf->n_members; i++) {
		if (!run_here[i])
			continue;
		s->runs[s->n_runs].index = i;
		if (member_start(s, &s->runs[s->n_runs++]) != 0)
			return -1;
	}
	if (detached)
		redirect_stderr(s->conf);
	for (size_t r = 0; r < s->n_runs; r++) {
		log_msg(s->runs[r].log, "member starting: %u workers on %s",
			s->conf->workers,
			s->conf->members[s->runs[r].index].client.text);
		for (unsigned i = 0; i < s->runs[r].n_kids; i++)
			if (spawn_kid(s, &s->runs[r], i) != 0)
				return -1;
	}
	return 0;
}

static void report_ready(int ready_fd)
{
	if (write(ready_fd, "R", 1) != 1)
		fprintf(stderr, "herdd: cannot report readiness: %s\n",
			strerror(errno));
	close(ready_fd);
}

int supervisor_run(const struct herd_conf *conf,
		   const bool run_here[CONF_MEMBERS_MAX], int ready_fd)
{
	static struct supervisor s;	/* large; keep it off the stack */

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.signal_fd = -1;
	s.exit_status = EXIT_SUCCESS;
	if (start_everything(&s, run_here, ready_fd >= 0) != 0) {
		s.exit_status = EXIT_FAILURE;
		begin_stop(&s, "start-up failed");
	} else if (ready_fd >= 0) {
		report_ready(ready_fd);
	}
	if (s.signal_fd >= 0)
		main_loop(&s);
	for (size_t r = 0; r < s.n_runs; r++) {
		log_msg(s.runs[r].log, "member stopped");
		member_release(&s.runs[r]);
	}
	if (s.signal_fd >= 0)
		close(s.signal_fd);
	return s.exit_status;
}
