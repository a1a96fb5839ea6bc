/* SPDX-License-Identifier: MIT */
/*
 * The pipeline cache file (runtime/vk/pipeline_cache.c), by its behaviour:
 * a truncated, overlong, corrupted, foreign or empty file is noticed, never
 * handed to the driver, and replaced by a valid one when the device goes;
 * two `qvk run` processes sharing the file at once both succeed with the
 * same output and leave a file the next device loads (issue #13 item 7).
 * Every test points XDG_CACHE_HOME at a folder of its own (cache_sandbox.h).
 */
#include <fcntl.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache_sandbox.h"
#include "harness.h"

Suite *suite_pipeline_cache(void);

extern char **environ;

static struct qvk_cache_sandbox pc_sandbox;
static char pc_log[8192]; /* what the device said at QVK_LOG_INFO and above */

static void pc_log_fn(void *user, enum qvk_log_level level, const char *line)
{
	size_t n = strlen(pc_log);

	(void)user;
	(void)level;
	snprintf(pc_log + n, sizeof(pc_log) - n, "%s\n", line);
}

static void pc_setup(void)
{
	qvk_test_ctx_setup();
	qvk_cache_sandbox_enter(&pc_sandbox, "pipeline-cache");
}

static void pc_teardown(void)
{
	qvk_cache_sandbox_leave(&pc_sandbox);
	qvk_test_ctx_teardown();
}

/* Create and destroy a device (which loads, then saves, the cache). */
static void pc_device_cycle(void)
{
	struct qvk_device_options opt = { .validation = true };
	struct qvk_device *dev = NULL;
	uint32_t msgs;

	pc_log[0] = 0;
	qvk_ctx_set_log(qvk_test_ctx, QVK_LOG_INFO, pc_log_fn, NULL);
	ck_assert_msg(qvk_device_create(qvk_test_ctx, &opt, &dev) == QVK_OK,
		      "device: %s", qvk_ctx_message(qvk_test_ctx));
	msgs = qvk_device_validation_messages(dev);
	qvk_device_destroy(dev);
	qvk_ctx_set_log(qvk_test_ctx, QVK_LOG_WARN, NULL, NULL);
	ck_assert_msg(msgs == 0, "validation layer reported %u message(s)", msgs);
}

/* The one cache file in the folder, in @path; its size. */
static size_t pc_file(char *path, size_t len)
{
	char pattern[600];
	size_t size = 0;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/qvk/*.pipelines", pc_sandbox.dir);
	ck_assert_msg(glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1,
		      "not one pipeline cache file in %s/qvk", pc_sandbox.dir);
	snprintf(path, len, "%s", g.gl_pathv[0]);
	globfree(&g);
	free(qvk_test_read_file(path, &size));
	return size;
}

static bool pc_loaded(void)
{
	return strstr(pc_log, "pipeline cache: ") &&
	       strstr(pc_log, " bytes from ");
}

/* A valid file exists after a first device; the second loads it. */
START_TEST(test_cache_written_and_loaded)
{
	char path[1024];

	pc_device_cycle();
	ck_assert(!pc_loaded());
	printf("pipeline cache: %zu bytes written\n", pc_file(path, sizeof(path)));
	pc_device_cycle();
	ck_assert_msg(pc_loaded(), "second device did not load the cache: %s",
		      pc_log);
}
END_TEST

/*
 * Each damage is caught (the log names it), the damaged data never
 * reaches the driver, and the file is whole again after that device.
 */
START_TEST(test_damaged_cache_detected_and_rebuilt)
{
	static const struct {
		const char *name, *expect;
	} cases[] = {
		{ "truncated by one byte", "truncated" },
		{ "cut inside qvk's header", "not a qvk cache" },
		{ "one byte appended", "truncated or overlong" },
		{ "one data byte flipped", "corrupt" },
		{ "empty", NULL },
		{ "another program's bytes", "not a qvk cache" },
		{ "an older qvk's raw Vulkan data", "not a qvk cache" },
		{ "version 2 of qvk's header", "version 2" },
	};
	char path[1024];
	size_t size, good_size;
	uint8_t *good, *bad;

	pc_device_cycle();
	good_size = pc_file(path, sizeof(path));
	good = qvk_test_read_file(path, &size);
	ck_assert_uint_gt(good_size, 32);
	bad = malloc(good_size + 1);
	ck_assert(bad != NULL);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = good_size;

		memcpy(bad, good, good_size);
		switch (c) {
		case 0: n = good_size - 1; break;
		case 1: n = 20; break;
		case 2: bad[good_size] = 0x5a; n = good_size + 1; break;
		case 3: bad[good_size - 1] ^= 0x01; break;
		case 4: n = 0; break;
		case 5: memset(bad, 'x', good_size); break;
		case 6: memmove(bad, good + 32, good_size - 32); n -= 32; break;
		case 7: bad[8] = 2; break;
		}
		qvk_test_write_file(path, bad, n);
		pc_device_cycle();
		ck_assert_msg(!pc_loaded(), "%s: the damaged file was loaded: %s",
			      cases[c].name, pc_log);
		if (cases[c].expect)
			ck_assert_msg(strstr(pc_log, cases[c].expect),
				      "%s: no '%s' in the log: %s", cases[c].name,
				      cases[c].expect, pc_log);
		ck_assert_uint_eq(pc_file(path, sizeof(path)), good_size);
		pc_device_cycle();
		ck_assert_msg(pc_loaded(), "%s: not rebuilt: %s", cases[c].name,
			      pc_log);
		printf("pipeline cache %s: detected, rebuilt\n", cases[c].name);
	}
	free(bad);
	free(good);
}
END_TEST

/* `qvk run` with stdout/stderr to files; returns its pid. */
static pid_t pc_spawn_run(const char *qvk, const char *out, const char *err)
{
	char model[4096], tok[4096];
	char *argv[] = {
		(char *)qvk, "run", "-m",
		(char *)qvk_test_source_path("tests/data/stories260K.bin", model,
					     sizeof(model)),
		"-t",
		(char *)qvk_test_source_path("tests/data/tok512.bin", tok,
					     sizeof(tok)),
		"-p", "Once upon a time", "-n", "12", "--temp", "0", NULL,
	};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(posix_spawn(&pid, qvk, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

START_TEST(test_two_processes_share_the_cache)
{
	char qvk[4096], out[2][700], err[2][700], path[1024];
	char *text[2];
	size_t len[2];

	qvk_test_qvk_path(qvk, sizeof(qvk));
	ck_assert_msg(access(qvk, X_OK) == 0, "%s: not built", qvk);
	/* Three rounds: cold (both write), warm (both read and write), warm. */
	for (int round = 0; round < 3; round++) {
		pid_t pid[2];

		for (int i = 0; i < 2; i++) {
			snprintf(out[i], sizeof(out[i]), "%s/run%d.out", pc_sandbox.dir, i);
			snprintf(err[i], sizeof(err[i]), "%s/run%d.err", pc_sandbox.dir, i);
			pid[i] = pc_spawn_run(qvk, out[i], err[i]);
		}
		for (int i = 0; i < 2; i++) {
			int status;
			char *e;

			ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
			e = qvk_test_read_file(err[i], &len[i]);
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				      "round %d, process %d: status %d: %s",
				      round, i, status, e);
			free(e);
			text[i] = qvk_test_read_file(out[i], &len[i]);
		}
		ck_assert_msg(len[0] == len[1] && !memcmp(text[0], text[1], len[0]),
			      "round %d: the two processes wrote different text:"
			      "\n%s\n---\n%s", round, text[0], text[1]);
		free(text[0]);
		free(text[1]);
	}
	printf("pipeline cache: two qvk run processes at once, 3 rounds: same "
	       "text, both exit 0, %zu-byte cache\n", pc_file(path, sizeof(path)));
	/* What they left is whole: this device loads it. */
	pc_device_cycle();
	ck_assert_msg(pc_loaded(), "the shared cache does not load: %s", pc_log);
}
END_TEST

Suite *suite_pipeline_cache(void)
{
	Suite *s = suite_create("pipeline_cache");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, pc_setup, pc_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_cache_written_and_loaded);
	tcase_add_test(tc, test_damaged_cache_detected_and_rebuilt);
	tcase_add_test(tc, test_two_processes_share_the_cache);
	suite_add_tcase(s, tc);
	return s;
}
