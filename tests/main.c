/* SPDX-License-Identifier: MIT */
/*
 * The Check runner: every tests/check_NAME.c contributes suite_NAME(),
 * listed in the generated check_suites.h. QVK_SUITE=NAME runs one suite,
 * CK_RUN_CASE runs one TCase (Check's own variable).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#define QVK_SUITE(name) Suite *suite_##name(void);
#include "check_suites.h"
#undef QVK_SUITE

int main(void)
{
	const char *only = getenv("QVK_SUITE");
	SRunner *sr = NULL;
	int failed;

#define QVK_SUITE(name)                                                        \
	if (!only || !strcmp(only, #name)) {                                   \
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
