/*
 * tap.h - runs a Check suite with TAP output on stdout, so the test harness
 * counts every test case (not just every test program).
 */
#ifndef HERD_TESTS_TAP_H
#define HERD_TESTS_TAP_H

#include <check.h>
#include <stdlib.h>

static inline int tap_run(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	int failed;

	srunner_set_tap(runner, "-");
	srunner_run_all(runner, CK_SILENT);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
