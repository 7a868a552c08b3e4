/*
 * supervisor_int.h - what the supervisor's files share: supervisor.c
 * (processes and the loop), answers.c (control answers), reload.c.
 */
#ifndef HERD_SUPERVISOR_INT_H
#define HERD_SUPERVISOR_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ctlserver.h"
#include "log.h"
#include "stats.h"
#include "supervisor.h"
#include "table.h"

#define MAX_WORKERS	64
#define FLOODER_SLOT	MAX_WORKERS
#define KID_SLOTS	(MAX_WORKERS + 1)

/* What happens to a kid when it exits. */
enum kid_fate {
	KID_KEEP,	/* respawn (a crash: backoff and budget apply) */
	KID_REPLACE,	/* respawn at once with the new configuration */
	KID_RETIRE,	/* its slot is gone */
};

struct child {
	bool used;			/* the slot exists */
	pid_t pid;			/* 0: not running */
	enum kid_fate fate;
	int64_t started_ms;
	bool respawn_pending;
	int64_t respawn_at_ms;
	unsigned backoff_ms;		/* the delay the next crash will get */
	unsigned delay_ms;		/* the delay the last crash got */
	unsigned restarts;
	unsigned crashes;		/* in the window starting window_ms */
	int64_t window_ms;
};

struct member_run {
	bool active;
	bool removing;			/* dropped by a reload: kids stopping */
	size_t index;			/* into conf->members */
	char name[PROTO_NAME_MAX + 1];
	struct table *table;
	int table_fd;			/* holds the table file's lock */
	bool reattached;		/* the table outlived the last herdd */
	struct member_stats *stats;
	struct herd_log *log;
	char log_path[CONF_PATH_MAX + PROTO_NAME_MAX + 8];
	char snap_path[CONF_PATH_MAX + PROTO_NAME_MAX + 8];
	int listen_fds[MAX_WORKERS];	/* client port, one per worker */
	int peer_fd;			/* peer port, or -1 */
	int wake_fd;			/* workers -> flooder */
	struct child kids[KID_SLOTS];	/* workers, then the flooder */
};

struct supervisor {
	const struct herd_conf *conf;
	struct herd_conf *spare;	/* a reload parses into this, then */
	struct herd_conf spare_storage;	/* swaps it with conf */
	const struct supervisor_options *opts;
	struct member_run runs[CONF_MEMBERS_MAX];
	int signal_fd;
	sigset_t old_mask;
	struct ctl_server *ctl;
	int64_t started_ms;
	unsigned reloads;
	pid_t snapshot_pid;		/* a periodic snapshot being written */
	int64_t next_snapshot_ms;
	bool serving;			/* start-up completed */
	bool stopping;
	int64_t stop_deadline_ms;
	int exit_status;
	uint64_t watchdog_usec;		/* 0: no systemd watchdog */
	int64_t next_watchdog_ms;
	uid_t uid;			/* drop to these in children ... */
	gid_t gid;
	bool drop_privileges;		/* ... when this is set */
};

int64_t sup_now_ms(void);

/* supervisor.c */
int member_start(struct supervisor *s, struct member_run *run, size_t index);
int open_worker_listener(struct supervisor *s, struct member_run *run,
			 unsigned slot);
int spawn_kid(struct supervisor *s, struct member_run *run, unsigned slot);
void member_release(struct member_run *run);
void save_snapshot(struct member_run *run);
int check_places(const struct herd_conf *conf);
int check_secret(const struct herd_conf *conf);
void begin_stop(struct supervisor *s, const char *why);
void sup_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* answers.c */
char *sup_answer(void *arg, const struct control_request *req);

/* reload.c */
bool reload_in_progress(const struct supervisor *s);
int sup_reload(struct supervisor *s, char *why, size_t len);

#endif
