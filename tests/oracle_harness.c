/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "oracle_harness.h"

static void qvk_copy_line(char *dst, size_t len, const char *src)
{
	size_t n = strcspn(src, "\n");

	n = n < len ? n : len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool qvk_test_oracle(char *bin, size_t len)
{
	char cmd[1024], line[1024], last[1024] = "", reason[512] = "";
	FILE *p;
	int rc;

	/* setup.sh's logs go to stderr; its last stdout line is the binary */
	snprintf(cmd, sizeof(cmd), "'%s/tools/oracle/setup.sh' 2>&1",
		 QVK_SOURCE_DIR);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "unavailable"))
			qvk_copy_line(reason, sizeof(reason), line);
		qvk_copy_line(last, sizeof(last), line);
	}
	rc = pclose(p);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && last[0] == '/') {
		snprintf(bin, len, "%s", last);
		return true;
	}
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 77,
		      "tools/oracle/setup.sh failed (exit %d): %s",
		      WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, last);
	qvk_test_skip_missing("the llama.cpp oracle is unavailable: %s", reason);
	return false;
}

void qvk_test_oracle_run(const char *cmd, char *out, size_t len)
{
	char line[8192];
	FILE *p = popen(cmd, "r");
	int rc;

	ck_assert_ptr_nonnull(p);
	if (out)
		out[0] = '\0';
	while (fgets(line, sizeof(line), p))
		if (out && !out[0])
			qvk_copy_line(out, len, line);
	rc = pclose(p);
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
		      "llama-oracle failed (exit %d): %s",
		      WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, cmd);
}

uint32_t qvk_test_ids_parse(const char *s, uint32_t *ids, uint32_t max)
{
	uint32_t n = 0;
	char *end;

	while (n < max) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		ids[n++] = (uint32_t)v;
		s = end;
	}
	return n;
}

void qvk_test_ids_append(char *buf, size_t len, const uint32_t *ids,
			 uint32_t n)
{
	size_t at = strlen(buf);

	for (uint32_t i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, " %u", ids[i]);
}
