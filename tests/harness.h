/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check suites: seeds, data paths, GPU fixtures. */
#ifndef QVK_TESTS_HARNESS_H
#define QVK_TESTS_HARNESS_H

#include <check.h>
#include <stdint.h>

#include <qvk/qvk.h>

/*
 * A fresh seed per run (time and pid), or QVK_TEST_SEED to replay one.
 * Printed so that any failure can be reproduced.
 */
uint64_t qvk_test_seed(const char *test_name);

/* splitmix64: small, good enough for test data, reproducible from a seed. */
uint64_t qvk_test_rand(uint64_t *state);
/* Uniform in [lo, hi). */
float qvk_test_uniform(uint64_t *state, float lo, float hi);
/* Standard normal (Box-Muller). */
float qvk_test_normal(uint64_t *state);

/*
 * The whole file at @path in a malloc()ed buffer with a NUL after its
 * *@len bytes; fails the test when the file cannot be read.
 */
void *qvk_test_read_file(const char *path, size_t *len);
/* Creates or replaces @path with @len bytes; fails the test on any error. */
void qvk_test_write_file(const char *path, const void *data, size_t len);

/* A tokenizer from @path on qvk_test_ctx; fails the test when it will not load. */
struct qvk_tokenizer *qvk_test_tokenizer_load(const char *path);
/* The same for a model (llama2.c checkpoint or GGUF). */
struct qvk_model *qvk_test_model_load(const char *path);

/* Index of the largest of @x[0..@n) (ties: the lowest index); @n >= 1. */
uint32_t qvk_test_argmax(const float *x, uint32_t n);

/* Sleeps @ms milliseconds (tests that need time to pass between readings). */
void qvk_test_sleep_ms(unsigned ms);

/*
 * Path of a file in the shared model folder ($QVK_MODELS), or NULL after
 * qvk_test_skip_missing() when it is absent.
 */
const char *qvk_test_model_path(const char *file, char *buf, size_t len);

/*
 * A test cannot run because a fixture (a model file, a text) is missing:
 * prints "SKIP: ..." and returns, so the caller returns too; under
 * QVK_TEST_STRICT=1 (set in CI) the test fails instead, so that a CI
 * machine without the fixtures cannot pass silently.
 */
void qvk_test_skip_missing(const char *fmt, ...) QVK_PRINTF(1, 2);

/*
 * CK_TIMEOUT_MULTIPLIER (default 1), for bounds a test sets itself beside
 * Check's own timeouts (which Check already multiplies).
 */
double qvk_test_timeout_multiplier(void);

/*
 * A fresh empty folder under $TMPDIR (else /tmp) in @buf; fails the test
 * when it cannot be made. qvk_test_rmtree() removes it and all it holds.
 */
const char *qvk_test_tmpdir(const char *name, char *buf, size_t len);
void qvk_test_rmtree(const char *path);

/* This build's folder ($QVK_BUILD_DIR, which make check sets, else build/). */
const char *qvk_test_build_dir(char *buf, size_t len);
/* The qvk command of this build ($QVK_BUILD_DIR/qvk, else build/qvk). */
const char *qvk_test_qvk_path(char *buf, size_t len);

/* Path of a file in the source tree (tests/data/...). */
const char *qvk_test_source_path(const char *rel, char *buf, size_t len);

/*
 * GPU fixture: a context and a device with the validation layer on. Tests
 * use qvk_test_ctx/qvk_test_dev; teardown fails the test if the validation
 * layer said anything. Add with tcase_add_checked_fixture().
 */
extern struct qvk_ctx *qvk_test_ctx;
extern struct qvk_device *qvk_test_dev;
void qvk_test_gpu_setup(void);
void qvk_test_gpu_teardown(void);
/* The same on the fallback (no integer dot product) kernels. */
void qvk_test_gpu_fallback_setup(void);

/* CPU-only fixture: just a context. */
void qvk_test_ctx_setup(void);
void qvk_test_ctx_teardown(void);

#endif
