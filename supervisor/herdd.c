/*
 * herdd - the herd daemon: reads herd.conf and runs this host's members.
 *
 *   herdd [-f] [-t] [-c FILE] [-m MEMBER]...
 *
 * Without -m it runs every member whose client address belongs to this
 * host.  Without -f it detaches, and returns only once the members are
 * listening (status 0) or start-up failed (status 1, reason on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "supervisor.h"

#define DEFAULT_CONF	SYSCONFDIR "/herd/herd.conf"

struct options {
	const char *conf_path;
	const char *members[CONF_MEMBERS_MAX];	/* -m, in order */
	size_t n_members;
	bool foreground;
	bool check_only;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herdd [-f] [-t] [-c FILE] [-m MEMBER]...\n"
		"  -c FILE    configuration (default %s)\n"
		"  -m MEMBER  run this member (repeatable; default: every\n"
		"             member whose client address is on this host)\n"
		"  -f         stay in the foreground\n"
		"  -t         check the configuration and exit\n"
		"  -V         print the version\n", DEFAULT_CONF);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	int c;

	opt->conf_path = DEFAULT_CONF;
	while ((c = getopt(argc, argv, "c:m:ftVh")) != -1) {
		switch (c) {
		case 'c': opt->conf_path = optarg; break;
		case 'f': opt->foreground = true; break;
		case 't': opt->check_only = true; break;
		case 'm':
			if (opt->n_members == CONF_MEMBERS_MAX) {
				fprintf(stderr, "herdd: too many -m\n");
				return -1;
			}
			opt->members[opt->n_members++] = optarg;
			break;
		case 'V': printf("herdd %s\n", PACKAGE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0750) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "herdd: cannot create %s: %s\n", path,
		strerror(errno));
	return -1;
}

/*
 * Detaches into the background.  The parent waits for the child's ready
 * byte, so whoever started herdd learns whether it really started.
 * Returns the write end of the ready pipe in the child; never returns in
 * the parent.
 */
static int daemonize(void)
{
	int pipefd[2], devnull, status;
	char byte;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		perror("herdd");
		exit(EXIT_FAILURE);
	}
	if (pid > 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &byte, 1) == 1)
			exit(EXIT_SUCCESS);
		waitpid(pid, &status, 0);
		exit(EXIT_FAILURE);
	}
	close(pipefd[0]);
	if (setsid() < 0)
		exit(EXIT_FAILURE);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return pipefd[1];
}

int main(int argc, char **argv)
{
	static struct herd_conf conf;
	bool run_here[CONF_MEMBERS_MAX];
	struct options opt = { 0 };
	struct supervisor_options sup;
	char err[1024];
	int ready_fd = -1;

	if (parse_options(argc, argv, &opt) != 0)
		return EXIT_FAILURE;
	if (conf_load(opt.conf_path, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "herdd: %s\n", err);
		return EXIT_FAILURE;
	}
	if (conf_select(&conf, opt.members, opt.n_members, run_here, err,
			sizeof(err)) < 0) {
		fprintf(stderr, "herdd: %s\n", err);
		return EXIT_FAILURE;
	}
	if (opt.check_only) {
		printf("herdd: %s: configuration OK\n", conf.path);
		return EXIT_SUCCESS;
	}
	if (make_dir(conf.log_dir) != 0 || make_dir(conf.state_dir) != 0)
		return EXIT_FAILURE;
	/* run_dir, the default, is made later with the control socket. */
	if (strcmp(conf.table_dir, conf.run_dir) != 0 &&
	    make_dir(conf.table_dir) != 0)
		return EXIT_FAILURE;
	if (!opt.foreground)
		ready_fd = daemonize();
	sup = (struct supervisor_options){ .conf_path = opt.conf_path,
		.members = opt.members, .n_members = opt.n_members };
	return supervisor_run(&conf, &sup, ready_fd);
}
