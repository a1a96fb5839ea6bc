/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a fake sysfs tree -> the telemetry probes and readers
 * (powercap RAPL zones, hwmon energy/power/labels, the amdgpu render-node
 * uevent match, the CPU list and cpufreq/throttle files) -> two polls and
 * an energy window with its clock readings.
 *
 * Input: one file a line, "RELPATH=CONTENT": RELPATH under the sysfs
 * root; in CONTENT "\n" is a newline and "\\" a backslash, and a newline
 * is appended unless the line ends in a lone '\'. The seeds are
 * tests/fixtures/telemetry/ written this way (tests/fuzz/run.sh).
 * The tree is rebuilt in a private folder for every input; paths with
 * "..", absolute paths and odd characters are skipped.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "telemetry/telemetry_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FILES 64
#define FUZZ_MAX_DEPTH 10

static char fuzz_root[64];

static int fuzz_rm(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void fuzz_rm_root(void)
{
	nftw(fuzz_root, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(fuzz_root);
}

/* A relative path of plain components that stays under the root. */
static bool fuzz_path_ok(const char *p, size_t len)
{
	unsigned depth = 1;

	if (!len || len > 200 || p[0] == '/' || p[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '/') {
			if (p[i + 1] == '/' || ++depth > FUZZ_MAX_DEPTH)
				return false;
		} else if (!(c == ':' || c == '_' || c == '-' || c == '.' ||
			     (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z'))) {
			return false;
		}
		if (c == '.' && (i == 0 || p[i - 1] == '/') &&
		    (i + 1 == len || p[i + 1] == '/' || p[i + 1] == '.'))
			return false;
	}
	return true;
}

static void fuzz_write(const char *rel, size_t rel_len, const char *content,
		       size_t len, bool newline)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%.*s", fuzz_root, (int)rel_len, rel);
	/* Make the folders; a file in the way makes the write fail, fine. */
	for (char *s = path + strlen(fuzz_root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "w");
	if (!f)
		return;
	for (size_t i = 0; i < len; i++) {
		char c = content[i];

		if (c == '\\' && i + 1 < len)
			c = content[++i] == 'n' ? '\n' : content[i];
		fputc(c, f);
	}
	if (newline)
		fputc('\n', f);
	fclose(f);
}

static int fuzz_fake_open(void *user, const char *path)
{
	(void)user;
	(void)path;
	errno = ENOENT;
	return -1;
}

static void fuzz_fake_close(void *user, int fd)
{
	(void)user;
	(void)fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* amdgpu: its uevent match runs, the device itself never opens. */
	static const struct qvk_amdgpu_api amdgpu = {
		.open_node = fuzz_fake_open, .close_node = fuzz_fake_close,
	};
	static const struct qvk_telemetry_backends fakes = { .amdgpu = &amdgpu };
	const char *p = (const char *)data, *end = p + size;
	struct qvk_telemetry_options opt = {
		.poll_period_s = -1,
		.disable = 1u << QVK_TELEMETRY_NVML,
	};
	struct qvk_energy_result *res;
	struct qvk_energy_window *w;
	struct qvk_telemetry *t;
	struct qvk_ctx *ctx;
	char node[96];
	unsigned files = 0;

	if (!fuzz_root[0]) {
		/* tmpfs where there is one: the tree is rebuilt for every input */
		snprintf(fuzz_root, sizeof(fuzz_root), "%s/qvk-fuzz-sysfs.XXXXXX",
			 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
		if (!mkdtemp(fuzz_root))
			abort();
		atexit(fuzz_rm_root);
	}
	nftw(fuzz_root, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
	while (p < end && files < FUZZ_MAX_FILES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(line_end - p));

		if (eq && fuzz_path_ok(p, (size_t)(eq - p))) {
			bool cont = line_end > eq + 1 && line_end[-1] == '\\';

			fuzz_write(p, (size_t)(eq - p), eq + 1,
				   (size_t)(line_end - eq - 1 - cont), !cont);
			files++;
		}
		p = nl ? nl + 1 : end;
	}
	snprintf(node, sizeof(node), "%s/no-module", fuzz_root);
	opt.sysfs_root = fuzz_root;
	opt.module_path = node;
	if (qvk_ctx_create(&ctx))
		return 0;
	qvk_ctx_set_log(ctx, QVK_LOG_ERROR, NULL, NULL);
	res = calloc(1, sizeof(*res));
	if (res && qvk_telemetry_create_with(ctx, &opt, &fakes, &t) == QVK_OK) {
		(void)qvk_telemetry_describe(t);
		(void)qvk_telemetry_poll(t);
		if (qvk_energy_window_begin(t, &w) == QVK_OK) {
			(void)qvk_telemetry_poll(t);
			(void)qvk_energy_window_end(t, w, res);
		}
		qvk_telemetry_destroy(t);
	}
	free(res);
	qvk_ctx_destroy(ctx);
	return 0;
}
