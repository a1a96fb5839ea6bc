/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

struct qvk_ctx *qvk_test_ctx;
struct qvk_device *qvk_test_dev;

uint64_t qvk_test_seed(const char *test_name)
{
	const char *env = getenv("QVK_TEST_SEED");
	struct timespec ts;
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^
		       (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	}
	printf("%s: seed %llu (QVK_TEST_SEED=%llu replays it)\n", test_name,
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	return seed;
}

uint64_t qvk_test_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

float qvk_test_uniform(uint64_t *state, float lo, float hi)
{
	double u = (double)(qvk_test_rand(state) >> 11) * 0x1.0p-53;
	float x = (float)(lo + (hi - lo) * u);

	/* Rounding to float can reach hi itself: keep the interval half-open. */
	return x < hi ? x : nextafterf(hi, lo);
}

float qvk_test_normal(uint64_t *state)
{
	double u1 = ((double)(qvk_test_rand(state) >> 11) + 1.0) * 0x1.0p-53;
	double u2 = (double)(qvk_test_rand(state) >> 11) * 0x1.0p-53;

	return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void *qvk_test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert(buf != NULL);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

void qvk_test_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

struct qvk_tokenizer *qvk_test_tokenizer_load(const char *path)
{
	struct qvk_tokenizer *tok = NULL;
	qvk_status st = qvk_tokenizer_load(qvk_test_ctx, path, &tok);

	ck_assert_msg(st == QVK_OK, "%s: %s: %s", path, qvk_strerror(st),
		      qvk_ctx_message(qvk_test_ctx));
	return tok;
}

struct qvk_model *qvk_test_model_load(const char *path)
{
	struct qvk_model *m = NULL;
	qvk_status st = qvk_model_load(qvk_test_ctx, path, &m);

	ck_assert_msg(st == QVK_OK, "%s: %s: %s", path, qvk_strerror(st),
		      qvk_ctx_message(qvk_test_ctx));
	return m;
}

uint32_t qvk_test_argmax(const float *x, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

void qvk_test_sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

const char *qvk_test_model_path(const char *file, char *buf, size_t len)
{
	const char *dir = getenv("QVK_MODELS");

	if (!dir || !*dir)
		dir = QVK_MODELS_DEFAULT;
	snprintf(buf, len, "%s/%s", dir, file);
	if (access(buf, R_OK) != 0) {
		qvk_test_skip_missing("%s not found (set QVK_MODELS to the "
				      "folder of real model files)", buf);
		return NULL;
	}
	return buf;
}

void qvk_test_skip_missing(const char *fmt, ...)
{
	const char *strict = getenv("QVK_TEST_STRICT");
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (strict && *strict && strcmp(strict, "0"))
		ck_abort_msg("%s; QVK_TEST_STRICT=%s makes a missing fixture a "
			     "failure", what, strict);
	printf("SKIP: %s\n", what);
	fflush(stdout);
}

double qvk_test_timeout_multiplier(void)
{
	const char *env = getenv("CK_TIMEOUT_MULTIPLIER");
	char *end;
	double m;

	if (!env || !*env)
		return 1.0;
	m = strtod(env, &end);
	/* Check ignores a value it cannot parse; so do we. */
	return *end || !(m > 0) ? 1.0 : m;
}

const char *qvk_test_tmpdir(const char *name, char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/qvk-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp %s: %s", buf,
		      strerror(errno));
	return buf;
}

static int qvk_test_rm_one(const char *path, const struct stat *st, int flag,
			   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void qvk_test_rmtree(const char *path)
{
	nftw(path, qvk_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *qvk_test_build_dir(char *buf, size_t len)
{
	const char *build = getenv("QVK_BUILD_DIR");

	if (build && *build)
		snprintf(buf, len, "%s", build);
	else
		snprintf(buf, len, "%s/build", QVK_SOURCE_DIR);
	return buf;
}

const char *qvk_test_qvk_path(char *buf, size_t len)
{
	char build[512];

	snprintf(buf, len, "%s/qvk", qvk_test_build_dir(build, sizeof(build)));
	return buf;
}

const char *qvk_test_source_path(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", QVK_SOURCE_DIR, rel);
	return buf;
}

void qvk_test_ctx_setup(void)
{
	ck_assert_int_eq(qvk_ctx_create(&qvk_test_ctx), QVK_OK);
}

void qvk_test_ctx_teardown(void)
{
	qvk_ctx_destroy(qvk_test_ctx);
	qvk_test_ctx = NULL;
}

static void qvk_test_gpu_open(bool no_int_dot)
{
	struct qvk_device_options opt = { .validation = true,
					  .no_int_dot = no_int_dot };
	qvk_status st;

	qvk_test_ctx_setup();
	st = qvk_device_create(qvk_test_ctx, &opt, &qvk_test_dev);
	ck_assert_msg(st == QVK_OK, "device: %s: %s", qvk_strerror(st),
		      qvk_ctx_message(qvk_test_ctx));
}

void qvk_test_gpu_setup(void)
{
	qvk_test_gpu_open(false);
}

void qvk_test_gpu_fallback_setup(void)
{
	qvk_test_gpu_open(true);
}

void qvk_test_gpu_teardown(void)
{
	uint32_t msgs = qvk_device_validation_messages(qvk_test_dev);

	qvk_device_destroy(qvk_test_dev);
	qvk_test_dev = NULL;
	qvk_test_ctx_teardown();
	ck_assert_msg(msgs == 0, "validation layer reported %u message(s)",
		      msgs);
}
