/*
 * config.h - herd.conf, the one file that describes a whole herd.
 *
 * The same file is used on every host.  It is an INI file (parsed with
 * libinih): a [herd] section of global settings, a [places] section, and
 * one [member NAME] section per member.  See herd.conf(5).
 *
 * conf_load() reads and validates everything (unknown sections and keys,
 * bad values, duplicate members, unknown or self neighbours, clashing
 * addresses) and reports the first error as "FILE:LINE: message".
 * Neighbour links are symmetric: naming B among A's neighbours links A and
 * B both ways.
 */
#ifndef HERD_CONFIG_H
#define HERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "protocol.h"

#define CONF_PATH_MAX 1024
#define CONF_MEMBERS_MAX 64

enum places_provider {
	PLACES_NONE = 0,	/* WHATSAT answers an error body */
	PLACES_GOOGLE,		/* Nearby Search web service */
	PLACES_GOOGLE_NEW,	/* Places API (New) searchNearby */
	PLACES_FILE,		/* offline, from a JSON file */
};

struct conf_addr {
	char text[128];			/* as written: "127.0.0.1:12480" */
	struct sockaddr_storage sa;
	socklen_t salen;
};

/* An address block: family AF_INET or AF_INET6, prefix length in bits. */
struct conf_cidr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

#define CONF_ALLOW_MAX 32

struct conf_member {
	char name[PROTO_NAME_MAX + 1];
	struct conf_addr client;	/* client port */
	struct conf_addr peer;		/* peer port (flooder); salen 0 if none */
	bool classic;			/* speaks only plain AT lines on client */
	size_t neighbours[CONF_MEMBERS_MAX];	/* indices into members */
	size_t n_neighbours;
};

struct conf_places {
	enum places_provider provider;
	char base_url[CONF_PATH_MAX];	/* "" = the provider's default */
	char key_file[CONF_PATH_MAX];	/* API key from this file, or */
	char key_env[128];		/* from this environment variable */
	char file[CONF_PATH_MAX];	/* PLACES_FILE data */
	/* key_file and file, if relative, are taken from the directory of
	   the configuration file (conf_load makes them absolute). */
	unsigned timeout_ms;		/* default 5000 */
	unsigned max_concurrent;	/* per worker, default 64 */
	unsigned cache_ttl_s;		/* default 0 = off */
};

struct herd_conf {
	char path[CONF_PATH_MAX];
	char herd_name[PROTO_NAME_MAX + 1];	/* default "herd" */
	unsigned workers;		/* per member, default 2, 1..64 */
	char log_dir[CONF_PATH_MAX];	/* default LOCALSTATEDIR/log/herd */
	char state_dir[CONF_PATH_MAX];	/* default LOCALSTATEDIR/lib/herd */
	char run_dir[CONF_PATH_MAX];	/* default RUNSTATEDIR/herd */
	char control_socket[CONF_PATH_MAX]; /* default run_dir/herdd.sock */
	char table_dir[CONF_PATH_MAX];	/* table files; default run_dir */
	char user[64];			/* drop to this user; "" = stay */
	bool log_io;			/* log client lines, default yes */
	size_t table_capacity;		/* default 100000 */
	size_t max_line;		/* default 4096 */
	size_t max_client_len;		/* default 255, at most 1024 */
	unsigned idle_timeout_s;	/* default 300, 0 = none */
	unsigned line_timeout_s;	/* a started line must end: default 30 */
	unsigned max_clients;		/* per worker, default 10000 */
	size_t max_output;		/* per client, default 1 MiB */
	unsigned respawn_budget;	/* crashes per minute per slot, default 5 */
	unsigned snapshot_interval_s;	/* default 60, 0 = only at stop */
	char secret_file[CONF_PATH_MAX]; /* herd secret for links; "" = none */
	struct conf_cidr peer_allow[CONF_ALLOW_MAX]; /* peer port allow-list */
	size_t n_peer_allow;		/* 0 = anyone may try (and must HELLO) */
	struct conf_places places;
	struct conf_member members[CONF_MEMBERS_MAX];
	size_t n_members;
};

/*
 * Reads path into *conf (which it fully initialises, defaults first).
 * Returns 0, or -1 with a "FILE:LINE: message" (LINE 0 when the error is
 * not tied to one line) in err.
 */
int conf_load(const char *path, struct herd_conf *conf, char *err,
	      size_t errlen);

/* True if sa's address lies in one of the blocks (or there are none). */
bool conf_allowed(const struct conf_cidr *list, size_t n,
		  const struct sockaddr *sa);

/* Index of the member called name, or -1. */
int conf_member_index(const struct herd_conf *conf, const char *name);

/*
 * Which members run on this host: the ones named (n > 0), which must exist
 * and not be classic, or else every non-classic member whose client
 * address is local.  Fills run_here; returns the count, or -1 with a
 * reason in err.
 */
int conf_select(const struct herd_conf *conf, const char *const *names,
		size_t n, bool run_here[CONF_MEMBERS_MAX], char *err,
		size_t errlen);

/*
 * True if addr is one of this host's addresses (a loopback or an
 * interface address), i.e. a member with that client address runs here.
 */
bool conf_addr_is_local(const struct conf_addr *addr);

#endif
