/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_fixtures.h"
#include "telemetry/telemetry_internal.h"

/* The tree the running test copied, "" when none; one test at a time. */
static char tmp_root[256];

void telem_setup(void)
{
	qvk_test_ctx_setup();
	tmp_root[0] = 0;
}

void telem_teardown(void)
{
	char cmd[300];

	if (tmp_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		if (system(cmd) != 0)
			fprintf(stderr, "telemetry: could not remove %s\n", tmp_root);
	}
	qvk_test_ctx_teardown();
}

const char *telem_fixture(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/tests/fixtures/telemetry/%s", QVK_SOURCE_DIR,
		 name);
	return path;
}

const char *telem_fixture_copy(const char *name)
{
	char cmd[1024];

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/qvk-telemetry-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	snprintf(cmd, sizeof(cmd), "cp -R '%s/.' '%s'", telem_fixture(name),
		 tmp_root);
	ck_assert_int_eq(system(cmd), 0);
	return tmp_root;
}

void telem_put(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "open %s", path);
	fputs(text, f);
	fclose(f);
}

struct qvk_telemetry *telem_open(const char *root, uint32_t disable,
				 const struct qvk_telemetry_backends *fake)
{
	struct qvk_telemetry_options opt = {
		.sysfs_root = root,
		.module_path = "/nonexistent/qvk_telem",
		.disable = disable,
		.poll_period_s = -1, /* tests poll by hand */
	};
	struct qvk_telemetry *t = NULL;
	qvk_status st = qvk_telemetry_create_with(qvk_test_ctx, &opt, fake, &t);

	ck_assert_msg(st == QVK_OK, "create: %s: %s", qvk_strerror(st),
		      qvk_ctx_message(qvk_test_ctx));
	return t;
}

int telem_find_domain(const struct qvk_telemetry *t, const char *name)
{
	for (uint32_t i = 0; i < qvk_telemetry_domain_count(t); i++)
		if (!strcmp(qvk_telemetry_domain(t, i)->name, name))
			return (int)i;
	return -1;
}

void telem_describes(const struct qvk_telemetry *t, const char *text)
{
	ck_assert_msg(strstr(qvk_telemetry_describe(t), text) != NULL,
		      "describe() lacks '%s':\n%s", text, qvk_telemetry_describe(t));
}

const struct qvk_clock_reading *telem_find_clock(const struct qvk_energy_result *r,
						 const char *name)
{
	for (uint32_t i = 0; i < r->n_clocks; i++)
		if (!strcmp(r->clocks[i].name, name))
			return &r->clocks[i];
	return NULL;
}
