/* SPDX-License-Identifier: MIT */
/* A test's own cache folder, seeded with the device's tuning (cache_sandbox.h). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache_sandbox.h"
#include "harness.h"

/* The cache folder qvk and Mesa use now, as runtime/vk/pipeline_cache.c finds it. */
static int qvk_cache_sandbox_current(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg)
		return snprintf(buf, len, "%s", xdg) < (int)len;
	if (home && *home)
		return snprintf(buf, len, "%s/.cache", home) < (int)len;
	return 0;
}

static char *qvk_cache_sandbox_dup(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

/* Copy the tuning files (qvk/NAME.tune) of @from into @to/qvk. */
static void qvk_cache_sandbox_seed(const char *from, const char *to)
{
	char pattern[1100], path[1100];
	glob_t g;

	snprintf(path, sizeof(path), "%s/qvk", to);
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path,
		      strerror(errno));
	snprintf(pattern, sizeof(pattern), "%s/qvk/*.tune", from);
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t len = 0;
		char *bytes = qvk_test_read_file(g.gl_pathv[i], &len);

		snprintf(path, sizeof(path), "%s/qvk/%s", to,
			 strrchr(g.gl_pathv[i], '/') + 1);
		qvk_test_write_file(path, bytes, len);
		free(bytes);
	}
	globfree(&g);
}

void qvk_cache_sandbox_enter(struct qvk_cache_sandbox *s, const char *name)
{
	char from[1024], mesa[1100];
	int have = qvk_cache_sandbox_current(from, sizeof(from));

	memset(s, 0, sizeof(*s));
	s->saved_xdg = qvk_cache_sandbox_dup("XDG_CACHE_HOME");
	qvk_test_tmpdir(name, s->dir, sizeof(s->dir));
	if (have)
		qvk_cache_sandbox_seed(from, s->dir);
	if (have && !getenv("MESA_SHADER_CACHE_DIR")) {
		snprintf(mesa, sizeof(mesa), "%s/mesa_shader_cache", from);
		setenv("MESA_SHADER_CACHE_DIR", mesa, 1);
		s->mesa_set = 1;
	}
	setenv("XDG_CACHE_HOME", s->dir, 1);
}

void qvk_cache_sandbox_lasting(const char *dir, char *mesa, size_t len)
{
	char from[1024];
	int have = qvk_cache_sandbox_current(from, sizeof(from));

	mesa[0] = 0;
	if (mkdir(dir, 0755) == 0) {
		if (have)
			qvk_cache_sandbox_seed(from, dir);
	} else {
		ck_assert_msg(errno == EEXIST, "mkdir %s: %s", dir,
			      strerror(errno));
	}
	if (have && !getenv("MESA_SHADER_CACHE_DIR"))
		snprintf(mesa, len, "%s/mesa_shader_cache", from);
}

void qvk_cache_sandbox_leave(struct qvk_cache_sandbox *s)
{
	if (!s->dir[0])
		return;
	qvk_test_rmtree(s->dir);
	s->dir[0] = 0;
	if (s->saved_xdg)
		setenv("XDG_CACHE_HOME", s->saved_xdg, 1);
	else
		unsetenv("XDG_CACHE_HOME");
	if (s->mesa_set)
		unsetenv("MESA_SHADER_CACHE_DIR");
	free(s->saved_xdg);
	s->saved_xdg = NULL;
	s->mesa_set = 0;
}
