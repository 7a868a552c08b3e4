/*
 * stats.c - the shared counters' mapping; see stats.h.
 */
#include "stats.h"

#include <sys/mman.h>

struct member_stats *stats_create(void)
{
	void *map = mmap(NULL, sizeof(struct member_stats),
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0);

	return map == MAP_FAILED ? NULL : map;
}

void stats_destroy(struct member_stats *stats)
{
	if (stats != NULL)
		(void)munmap(stats, sizeof *stats);
}
