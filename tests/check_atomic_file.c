/* SPDX-License-Identifier: MIT */
/*
 * suite_atomic_file: every file libqvk writes (GGUF output, the pipeline
 * cache) goes through runtime/atomic_file.c. A symlink planted under a
 * predictable temporary name must not be written through, two writers of
 * one target must not share a temporary file, and a failed write leaves
 * the target as it was and no temporary file behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "harness.h"
#include "vk/vk.h"

static char tmp_dir[64];

static void atomic_setup(void)
{
	qvk_test_ctx_setup();
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/qvk-atomic-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void atomic_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "atomic_file: could not remove %s\n", tmp_dir);
	qvk_test_ctx_teardown();
}

static const char *in_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
	return buf;
}

/* Entries of @dir other than . and .., counting those ending in ".tmp". */
static int count_entries(const char *dir, int *n_tmp)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	*n_tmp = 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		*n_tmp += len > 4 && !strcmp(e->d_name + len - 4, ".tmp");
	}
	closedir(d);
	return n;
}

static void expect_content(const char *path, const char *text)
{
	size_t len;
	char *got = qvk_test_read_file(path, &len);

	ck_assert_msg(len == strlen(text) && !memcmp(got, text, len),
		      "%s holds %zu bytes '%.40s', want '%s'", path, len, got, text);
	free(got);
}

/* A one-tensor GGUF at @path; returns the writer's status. */
static qvk_status write_gguf(const char *path, uint32_t rows)
{
	static float data[64 * 64];
	struct qvk_host_tensor t = { .type = QVK_GGML_TYPE_F32, .n_dims = 2,
				     .ne = { 64, rows, 1, 1 }, .data = data,
				     .size_bytes = 64ull * rows * 4 };
	struct qvk_gguf_writer *w;
	qvk_status st;

	ck_assert_uint_le(rows, 64);
	snprintf(t.name, sizeof(t.name), "x.weight");
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_u32(w, "x.rows", rows), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &t), QVK_OK);
	st = qvk_gguf_writer_write(w, path);
	qvk_gguf_writer_destroy(w);
	return st;
}

START_TEST(test_gguf_planted_symlink)
{
	char out[128], victim[128], tmp[160];
	struct qvk_gguf *g;
	struct stat st;
	uint32_t rows;
	int n_tmp;

	/* The old writer's temporary name, and a symlink at OUT itself. */
	in_dir("victim", victim, sizeof(victim));
	in_dir("out.gguf", out, sizeof(out));
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	qvk_test_write_file(victim, "precious", 8);
	ck_assert_int_eq(symlink(victim, tmp), 0);

	ck_assert_msg(write_gguf(out, 4) == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	expect_content(victim, "precious");
	ck_assert_int_eq(lstat(out, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, out, &g), QVK_OK);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "x.rows", &rows), QVK_OK);
	ck_assert_uint_eq(rows, 4);
	qvk_gguf_close(g);

	/* OUT a symlink: the link is replaced, its target left alone. */
	ck_assert_int_eq(unlink(out), 0);
	ck_assert_int_eq(symlink(victim, out), 0);
	ck_assert_msg(write_gguf(out, 2) == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	expect_content(victim, "precious");
	ck_assert_int_eq(lstat(out, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	/* victim, out, out.gguf.tmp (the planted link): nothing else. */
	ck_assert_int_eq(count_entries(tmp_dir, &n_tmp), 3);
	ck_assert_int_eq(n_tmp, 1);
}
END_TEST

START_TEST(test_two_writers_one_target)
{
	struct qvk_atomic_file a, b;
	char out[128], path_a[400], path_b[400];
	int n_tmp;

	in_dir("cache", out, sizeof(out));
	ck_assert_int_eq(qvk_atomic_file_begin(qvk_test_ctx, out, 0666, &a), QVK_OK);
	ck_assert_int_eq(qvk_atomic_file_begin(qvk_test_ctx, out, 0666, &b), QVK_OK);
	fprintf(stderr, "two writers: %s and %s\n", a.tmp_name, b.tmp_name);
	ck_assert_str_ne(a.tmp_name, b.tmp_name);
	snprintf(path_a, sizeof(path_a), "%s/%s", tmp_dir, a.tmp_name);
	snprintf(path_b, sizeof(path_b), "%s/%s", tmp_dir, b.tmp_name);
	ck_assert_int_eq(access(path_a, F_OK), 0);
	ck_assert_int_eq(access(path_b, F_OK), 0);
	/* Interleaved writes stay apart. */
	fputs("first ", a.f);
	fputs("second ", b.f);
	fputs("writer", a.f);
	fputs("writer", b.f);
	ck_assert_int_eq(qvk_atomic_file_commit(qvk_test_ctx, &a), QVK_OK);
	expect_content(out, "first writer");
	ck_assert_int_eq(qvk_atomic_file_commit(qvk_test_ctx, &b), QVK_OK);
	expect_content(out, "second writer");
	ck_assert_int_eq(count_entries(tmp_dir, &n_tmp), 1);
	ck_assert_int_eq(n_tmp, 0);

	/* Abort leaves the target alone and removes the temporary file. */
	ck_assert_int_eq(qvk_atomic_file_begin(qvk_test_ctx, out, 0666, &a), QVK_OK);
	fputs("never", a.f);
	qvk_atomic_file_abort(&a);
	expect_content(out, "second writer");
	ck_assert_int_eq(count_entries(tmp_dir, &n_tmp), 1);
}
END_TEST

START_TEST(test_write_failure_keeps_target)
{
	struct rlimit old, small = { 512, 512 };
	char out[128];
	qvk_status st;
	int n_tmp;

	/* A full disk, as the file size limit fakes it: EFBIG, not a signal. */
	in_dir("out.gguf", out, sizeof(out));
	qvk_test_write_file(out, "old model", 9);
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	st = write_gguf(out, 64); /* 16 KiB of tensor data */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	fprintf(stderr, "write past the size limit: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_int_eq(st, QVK_ERR_IO);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), out));
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "nothing was replaced"));
	expect_content(out, "old model");
	ck_assert_int_eq(count_entries(tmp_dir, &n_tmp), 1);
	ck_assert_int_eq(n_tmp, 0);

	/* Folders that do not exist, names that are not files. */
	ck_assert_int_eq(write_gguf("/nonexistent/qvk/out.gguf", 1), QVK_ERR_IO);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "/nonexistent/qvk"));
	in_dir("", out, sizeof(out));
	ck_assert_int_eq(write_gguf(out, 1), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(write_gguf("", 1), QVK_ERR_INVALID_ARG);
	/* A folder at the target: the rename fails, nothing is left. */
	in_dir("dir.gguf", out, sizeof(out));
	ck_assert_int_eq(mkdir(out, 0755), 0);
	ck_assert_int_eq(write_gguf(out, 1), QVK_ERR_IO);
	ck_assert_int_eq(count_entries(tmp_dir, &n_tmp), 2);
	ck_assert_int_eq(n_tmp, 0);
}
END_TEST

START_TEST(test_pipeline_cache_planted_symlink)
{
	const char *old_xdg = getenv("XDG_CACHE_HOME");
	char saved_xdg[512] = "", victim[128], planted[640], cache[600];
	struct stat st;

	if (old_xdg)
		snprintf(saved_xdg, sizeof(saved_xdg), "%s", old_xdg);
	ck_assert_int_eq(setenv("XDG_CACHE_HOME", tmp_dir, 1), 0);
	unsetenv("QVK_NO_PIPELINE_CACHE");
	qvk_test_ctx_teardown(); /* the GPU fixture makes its own context */
	qvk_test_gpu_setup();
	snprintf(cache, sizeof(cache), "%s", qvk_test_dev->pipeline_cache_path);
	ck_assert_msg(!strncmp(cache, tmp_dir, strlen(tmp_dir)), "cache at %s", cache);

	/* The old saver's temporary name was the path and our pid. */
	in_dir("victim", victim, sizeof(victim));
	qvk_test_write_file(victim, "precious", 8);
	in_dir("qvk", planted, sizeof(planted));
	ck_assert_int_eq(mkdir(planted, 0755), 0);
	snprintf(planted, sizeof(planted), "%s.%d", cache, (int)getpid());
	ck_assert_int_eq(symlink(victim, planted), 0);
	qvk_test_gpu_teardown(); /* saves the cache */
	qvk_test_ctx_setup();

	if (old_xdg)
		setenv("XDG_CACHE_HOME", saved_xdg, 1);
	else
		unsetenv("XDG_CACHE_HOME");
	expect_content(victim, "precious");
	ck_assert_int_eq(lstat(cache, &st), 0);
	fprintf(stderr, "pipeline cache: %s, %lld bytes\n", cache, (long long)st.st_size);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_ge(st.st_size, 32); /* at least Vulkan's cache header */
}
END_TEST

Suite *suite_atomic_file(void);
Suite *suite_atomic_file(void)
{
	Suite *s = suite_create("atomic_file");
	TCase *tc = tcase_create("writes");

	tcase_add_checked_fixture(tc, atomic_setup, atomic_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_gguf_planted_symlink);
	tcase_add_test(tc, test_two_writers_one_target);
	tcase_add_test(tc, test_write_failure_keeps_target);
	tcase_add_test(tc, test_pipeline_cache_planted_symlink);
	suite_add_tcase(s, tc);
	return s;
}
