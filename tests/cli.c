/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache_sandbox.h"
#include "cli.h"
#include "harness.h"
#include "model/unicode.h"

#define QVK_CLI_MAX_ARGS 64

static double qvk_cli_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * The cache folder of every command this test build runs: not the user's,
 * and lasting, so that the device is tuned once per build folder, not once
 * per command (with no cache folder, or a bare one, each command re-tuned
 * the kernels and lavapipe recompiled every shader: 5-35 s a command,
 * several times that under ASan). Seeded with the tuning of the cache in
 * use, Mesa's shader cache shared (tests/cache_sandbox.h).
 */
static void qvk_cli_cache(char *dir, size_t len, char *mesa, size_t mesa_len)
{
	char build[512];

	snprintf(dir, len, "%s/tests/cli-cache",
		 qvk_test_build_dir(build, sizeof(build)));
	qvk_cache_sandbox_lasting(dir, mesa, mesa_len);
}

void qvk_cli_run(struct qvk_cli *r, const char *in, ...)
{
	char bin[600], dir[256], out_path[300], err_path[300], in_path[300];
	char cache[600], mesa[1100];
	const char *argv[QVK_CLI_MAX_ARGS + 2];
	int argc = 0, status = 0;
	double t0;
	va_list ap;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	qvk_test_qvk_path(bin, sizeof(bin));
	argv[argc++] = bin;
	va_start(ap, in);
	for (const char *a; (a = va_arg(ap, const char *));) {
		ck_assert_int_lt(argc, QVK_CLI_MAX_ARGS);
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	qvk_test_tmpdir("cli", dir, sizeof(dir));
	snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	snprintf(in_path, sizeof(in_path), "%s/stdin", dir);
	qvk_test_write_file(in_path, in ? in : "", in ? strlen(in) : 0);
	qvk_cli_cache(cache, sizeof(cache), mesa, sizeof(mesa));
	printf("$ qvk");
	for (int i = 1; i < argc; i++)
		printf(" '%s'", argv[i]);
	printf("%s\n", in ? " < (stdin)" : "");
	fflush(stdout);

	t0 = qvk_cli_now_s();
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fi = open(in_path, O_RDONLY), fo = creat(out_path, 0600),
		    fe = creat(err_path, 0600);

		if (fi < 0 || fo < 0 || fe < 0 || dup2(fi, 0) < 0 ||
		    dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(126);
		setenv("QVK_VALIDATION", "1", 1);
		setenv("XDG_CACHE_HOME", cache, 1);
		if (mesa[0])
			setenv("MESA_SHADER_CACHE_DIR", mesa, 1);
		unsetenv("QVK_LOG");
		/* An alarm survives exec: a hung command dies of SIGALRM. */
		alarm((unsigned)(QVK_CLI_TIMEOUT_S *
				 qvk_test_timeout_multiplier()));
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->wall_s = qvk_cli_now_s() - t0;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) :
					128 + WTERMSIG(status);
	r->out = qvk_test_read_file(out_path, &r->out_len);
	r->err = qvk_test_read_file(err_path, &r->err_len);
	qvk_test_rmtree(dir);
	printf("  exit %d after %.2f s\n", r->status, r->wall_s);
	ck_assert_msg(r->status != 126 && r->status != 127,
		      "cannot run %s (status %d)", bin, r->status);
	ck_assert_msg(r->status < 128, "qvk was killed by signal %d after "
		      "%.1f s (SIGALRM %d: over %g s)\nstderr:\n%s",
		      r->status - 128, r->wall_s, SIGALRM,
		      QVK_CLI_TIMEOUT_S * qvk_test_timeout_multiplier(), r->err);
	ck_assert_msg(!strstr(r->err, "vulkan validation"),
		      "the validation layer reported:\n%s", r->err);
}

void qvk_cli_free(struct qvk_cli *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

unsigned qvk_cli_count(const char *hay, const char *needle)
{
	unsigned n = 0;
	size_t len = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

/* The value after "key": in @json, or NULL. */
static const char *qvk_cli_json_find(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	return p;
}

static const char *qvk_cli_json_need(const char *json, const char *key)
{
	const char *p = qvk_cli_json_find(json, key);

	ck_assert_msg(p, "no \"%s\" in the JSON:\n%s", key, json);
	return p;
}

double qvk_cli_json_number(const char *json, const char *key)
{
	const char *p = qvk_cli_json_need(json, key);
	char *end;
	double v = strtod(p, &end);

	ck_assert_msg(end != p, "\"%s\" is not a number: %.40s", key, p);
	return v;
}

bool qvk_cli_json_is_null(const char *json, const char *key)
{
	return !strncmp(qvk_cli_json_need(json, key), "null", 4);
}

char *qvk_cli_json_string(const char *json, const char *key, size_t *len)
{
	const char *p = qvk_cli_json_need(json, key);
	char *s, *o;

	ck_assert_msg(*p == '"', "\"%s\" is not a string: %.40s", key, p);
	s = o = malloc(strlen(p) + 1);
	ck_assert_ptr_nonnull(s);
	for (p++; *p && *p != '"'; p++) {
		unsigned cp;

		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		switch (*++p) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u':
			ck_assert_msg(sscanf(p + 1, "%4x", &cp) == 1,
				      "bad \\u escape in \"%s\"", key);
			o += qvk_utf8_encode(cp, o);
			p += 4;
			break;
		default: *o++ = *p; break;
		}
	}
	ck_assert_msg(*p == '"', "\"%s\": the string does not end", key);
	*o = 0;
	if (len)
		*len = (size_t)(o - s);
	return s;
}

void qvk_cli_json_expect(const char *json, const char *key, const char *want)
{
	char *got = qvk_cli_json_string(json, key, NULL);
	int same = !strcmp(got, want);

	ck_assert_msg(same, "\"%s\" is \"%s\", not \"%s\"", key, got, want);
	free(got);
}

int qvk_cli_json_ids(const char *json, const char *key, uint32_t *out,
		     int max)
{
	const char *p = qvk_cli_json_need(json, key);
	int n = 0;

	ck_assert_msg(*p == '[', "\"%s\" is not an array: %.40s", key, p);
	for (p++; *p && *p != ']';) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		ck_assert_msg(end != p, "\"%s\": not a whole number at %.20s",
			      key, p);
		if (n == max)
			return -1;
		out[n++] = (uint32_t)v;
		p = end + (*end == ',');
	}
	return n;
}
