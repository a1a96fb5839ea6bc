/* SPDX-License-Identifier: MIT */
/* Shared helpers of the qvk command: argument parsing, errors, progress. */
#ifndef QVK_TOOLS_TOOL_H
#define QVK_TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <qvk/qvk.h>

#define QVK_COMMAND(name)                                                      \
	int qvk_cmd_##name(int argc, char **argv);                             \
	extern const char qvk_cmd_##name##_summary[];
#define QVK_BENCH(name)                                                        \
	int qvk_bench_##name(int argc, char **argv);                           \
	extern const char qvk_bench_##name##_summary[];
#include "tool_commands.h"
#undef QVK_COMMAND
#undef QVK_BENCH

/* Print "qvk CMD: WHAT: status: detail" to stderr; returns 1 (exit code). */
int qvk_tool_fail(struct qvk_ctx *ctx, qvk_status st, const char *cmd,
		  const char *what);

/* Print "qvk CMD: message" to stderr; returns 2 (usage exit code). */
int qvk_tool_usage_error(const char *cmd, const char *fmt, ...)
	QVK_PRINTF(2, 3);

/*
 * Strict number parsing for CLI arguments: the whole string must be a
 * number within [min, max]; otherwise print an error naming @opt and
 * return false.
 */
bool qvk_tool_parse_u64(const char *cmd, const char *opt, const char *text,
			uint64_t min, uint64_t max, uint64_t *out);
bool qvk_tool_parse_double(const char *cmd, const char *opt, const char *text,
			   double min, double max, double *out);

/*
 * Whether --keep @list parses (the library's parser, so that the command
 * line and the API agree); prints the error naming the bad entry if not.
 */
bool qvk_tool_keep_ok(const char *cmd, const char *list);

/*
 * A progress callback for qvk_ctx_set_progress(): a bar on stderr when
 * stderr is a terminal, otherwise a line every 10%. @user is unused.
 */
void qvk_tool_progress(void *user, const char *what, double done,
		       double total);

/* Create a context with the tool's progress bar; prints errors itself. */
struct qvk_ctx *qvk_tool_ctx(const char *cmd);

#define QVK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define QVK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define QVK_DIV_ROUND_UP(a, b) (((a) + (b) - 1) / (b))

/*
 * A whole file, NUL-terminated (@len excludes the NUL); NULL with errno
 * (EISDIR for a folder, EINVAL for anything else but a regular file).
 */
char *qvk_tool_read_file(const char *path, size_t *len);
/* The rest of @f (stdin, a pipe), the same way. */
char *qvk_tool_read_stream(FILE *f, size_t *len);

/*
 * @len bytes of @s as a JSON string: RFC 8259 escapes, and each byte that
 * is not part of valid UTF-8 (a byte token, half a character) as U+FFFD.
 */
void qvk_tool_json_string(FILE *f, const char *s, size_t len);
/* Bytes of the UTF-8 character at @s (1..4), 0 if not valid UTF-8. */
size_t qvk_tool_utf8_len(const char *s, size_t avail);

/* Monotonic time in seconds. */
double qvk_tool_now_s(void);

/* splitmix64: the benchmarks' synthetic data, reproducible from a seed. */
uint64_t qvk_tool_rand(uint64_t *state);

#endif
