/* SPDX-License-Identifier: MIT */
/*
 * The Check runner: every tests/check_NAME.c contributes suite_NAME(),
 * listed in the generated check_suites.h. QVK_SUITE=NAME[,NAME...] runs
 * those suites, QVK_SKIP_SUITE=NAME[,NAME...] all but those (CI's
 * sanitizer run leaves out the suites whose work is in shaders, llama.cpp
 * or the VM, which a sanitizer does not see), CK_RUN_CASE runs one TCase
 * (Check's own variable).
 *
 * Timeouts hold on a loaded machine: Check's default of 4 s per test is
 * raised to QVK_TEST_DEFAULT_TIMEOUT_S for every TCase that sets none (the
 * slowest such test takes ~3 s on a quiet 2-core machine), and Check
 * multiplies every timeout, set or default, by CK_TIMEOUT_MULTIPLIER.
 * CK_DEFAULT_TIMEOUT, when set, wins.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QVK_TEST_DEFAULT_TIMEOUT_S "60"

#define QVK_SUITE(name) Suite *suite_##name(void);
#include "check_suites.h"
#undef QVK_SUITE

/* Is @name in the comma-separated @list? */
static bool qvk_suite_listed(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; *p; p += strcspn(p, ","), p += *p == ',')
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

int main(void)
{
	const char *only = getenv("QVK_SUITE");
	const char *skip = getenv("QVK_SKIP_SUITE");
	SRunner *sr = NULL;
	int failed;

	/*
	 * A failing test's child ends without flushing stdio: line buffering
	 * keeps the measurements it printed before the failed assertion.
	 */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Before any tcase_create(): Check reads it there. */
	setenv("CK_DEFAULT_TIMEOUT", QVK_TEST_DEFAULT_TIMEOUT_S, 0);
#define QVK_SUITE(name)                                                        \
	if ((!only || qvk_suite_listed(only, #name)) &&                        \
	    !(skip && qvk_suite_listed(skip, #name))) {                        \
		if (!sr)                                                       \
			sr = srunner_create(suite_##name());                   \
		else                                                           \
			srunner_add_suite(sr, suite_##name());                 \
	}
#include "check_suites.h"
#undef QVK_SUITE

	if (!sr)
		return EXIT_FAILURE;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
