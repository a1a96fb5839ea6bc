/* SPDX-License-Identifier: MIT */
/* Error metrics on vectors with known answers, and logits KL / top-1. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <qvk/metrics.h>

#include "harness.h"

Suite *suite_metrics(void);

START_TEST(test_error_stats_known)
{
	float ref[4] = { 1, 2, 3, 4 }, got[4] = { 1, 2, 3, 5 };
	struct qvk_error_stats s;

	ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "v", ref, got, 4,
						 &s), QVK_OK);
	/* Σe² = 1, Σr² = 30 */
	ck_assert(fabs(s.nmse - 1.0 / 30.0) < 1e-15);
	ck_assert(s.max_abs_err == 1.0);
	ck_assert(fabs(s.sqnr_db - 10.0 * log10(30.0)) < 1e-12);
	ck_assert(fabs(s.cosine - 34.0 / (sqrt(30.0) * sqrt(39.0))) < 1e-14);
	ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "v", ref, ref, 4,
						 &s), QVK_OK);
	ck_assert(s.nmse == 0.0 && isinf(s.sqnr_db) && fabs(s.cosine - 1) < 1e-15);
	got[2] = NAN;
	ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "layer7", ref, got,
						 4, &s), QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "layer7: non-finite result value nan at index 2"));
}
END_TEST

START_TEST(test_logit_stats)
{
	uint64_t seed = qvk_test_seed("logits"), st = seed;
	enum { R = 8, V = 1000 };
	static float ref[R * V], got[R * V];
	struct qvk_logit_stats s;
	double want = 0.0;

	/* identical logits, then shifted by a constant: KL 0, top-1 1 */
	for (int i = 0; i < R * V; i++)
		ref[i] = got[i] = qvk_test_normal(&st) * 5.0f + 500.0f;
	ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "l", ref, got, R, V,
						 &s), QVK_OK);
	ck_assert(s.kl_mean < 1e-12 && s.top1 == 1.0 && s.rows == R);
	for (int i = 0; i < R * V; i++)
		got[i] = ref[i] + 123.0f;
	ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "l", ref, got, R, V,
						 &s), QVK_OK);
	ck_assert(s.kl_mean < 1e-9 && s.top1 == 1.0);
	/* two-way distributions with a closed form KL */
	{
		float p[2] = { 0.0f, 0.0f }, q[2] = { 0.0f, logf(3.0f) };
		/* P = (1/2, 1/2), Q = (1/4, 3/4): KL = ½ln2 + ½ln(2/3) */
		ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "l", p, q, 1,
							 2, &s), QVK_OK);
		want = 0.5 * log(2.0) + 0.5 * log(2.0 / 3.0);
		printf("logits: KL %.12f, want %.12f; seed %llu\n", s.kl_mean, want,
		       (unsigned long long)seed);
		ck_assert(fabs(s.kl_mean - want) < 1e-7);
		ck_assert(s.top1 == 0.0); /* argmax 0 (tie: lowest) vs 1 */
	}
	/* very large logits stay finite (softmax with the max subtracted) */
	ref[0] = 1e30f;
	got[0] = -1e30f;
	ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "l", ref, got, 1, V,
						 &s), QVK_OK);
	ck_assert(isfinite(s.kl_mean) && s.kl_mean > 1e29 && s.top1 == 0.0);
}
END_TEST

Suite *suite_metrics(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_error_stats_known);
	tcase_add_test(tc, test_logit_stats);
	suite_add_tcase(s, tc);
	return s;
}
