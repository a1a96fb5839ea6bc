/* SPDX-License-Identifier: MIT */
/*
 * Running the built `qvk` command from a test: its exit status, stdout and
 * stderr, and reading the flat JSON objects its --json options print.
 */
#ifndef QVK_TESTS_CLI_H
#define QVK_TESTS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A command has this long (times CK_TIMEOUT_MULTIPLIER) before it is
 * killed (SIGALRM) and fails.
 */
#define QVK_CLI_TIMEOUT_S 240

struct qvk_cli {
	int status;       /* exit status; 128 + N when killed by signal N */
	char *out, *err;  /* stdout and stderr, NUL-terminated */
	size_t out_len, err_len;
	double wall_s;
};

/*
 * Run qvk_test_qvk_path() with the NULL-terminated arguments (after
 * "qvk"), stdin from @in (NULL: empty), QVK_VALIDATION=1 and
 * XDG_CACHE_HOME at the test build's tests/cli-cache (the user's cache is
 * left alone; the tuning and pipelines are made once per build folder).
 * Prints the command line, its status and time; fails the test when it
 * cannot run, is killed, or the validation layer reports anything.
 */
void qvk_cli_run(struct qvk_cli *r, const char *in, ...)
	__attribute__((sentinel));
void qvk_cli_free(struct qvk_cli *r);

/* How often @needle occurs in @hay. */
unsigned qvk_cli_count(const char *hay, const char *needle);

/*
 * Members of the JSON object in @json by name (first match at any depth):
 * a number, a string (escapes decoded, \u as UTF-8; malloc()ed, *len
 * bytes), or an array of whole numbers into @out (at most @max; returns
 * how many, or -1). Each fails the test when the member is absent or
 * of another type.
 */
double qvk_cli_json_number(const char *json, const char *key);
char *qvk_cli_json_string(const char *json, const char *key, size_t *len);
bool qvk_cli_json_is_null(const char *json, const char *key);
/* Fails the test unless string member @key is @want. */
void qvk_cli_json_expect(const char *json, const char *key, const char *want);
int qvk_cli_json_ids(const char *json, const char *key, uint32_t *out,
		     int max);

#endif
