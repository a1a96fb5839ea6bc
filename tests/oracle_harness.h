/* SPDX-License-Identifier: MIT */
/*
 * llama.cpp as the outside oracle in the Check suites: tools/oracle/setup.sh
 * builds build/oracle/llama-oracle (README, "The outside oracle"); when npm
 * or its registry is unreachable (setup.sh exits 77) tests skip with the
 * reason (qvk_test_skip_missing(): a failure under QVK_TEST_STRICT=1).
 */
#ifndef QVK_TESTS_ORACLE_HARNESS_H
#define QVK_TESTS_ORACLE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The llama-oracle binary's path in @bin, or false after
 * qvk_test_skip_missing() with setup.sh's reason; a failure of setup.sh
 * other than exit 77 fails the test.
 */
bool qvk_test_oracle(char *bin, size_t len);

/*
 * Run the shell command @cmd; its first line of stdout (without the
 * newline) into @out unless NULL. A nonzero exit fails the test, naming
 * the command.
 */
void qvk_test_oracle_run(const char *cmd, char *out, size_t len);

/* The space-separated ids at the start of @s into @ids; how many were read. */
uint32_t qvk_test_ids_parse(const char *s, uint32_t *ids, uint32_t max);

/* " ID ID ..." of @ids[0..n) appended to the string @buf of @len bytes. */
void qvk_test_ids_append(char *buf, size_t len, const uint32_t *ids,
			 uint32_t n);

#endif
