/* SPDX-License-Identifier: MIT */
/*
 * SmoothQuant with injected activation outliers (a few channels 50x
 * larger): W8A8 output error falls versus plain W8A8 while the float
 * product, with the scales folded into the preceding RMSNorm weight and
 * the linear's columns, changes by less than 1e-5 relative.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/metrics.h>
#include <qvk/quant.h>

#include "harness.h"

Suite *suite_smoothquant(void);

enum { K = 256, N = 192, T = 128, OUTLIERS = 4 };

/* W8A8: per-token int8 activations, per-row int8 weights; NMSE vs ref. */
static double w8a8_nmse(const float *x, const float *w, const float *yref)
{
	struct qvk_quant_params p = qvk_quant_params_default(QVK_QFORMAT_Q8,
							     QVK_GROUP_ROW);
	struct qvk_qtensor *qt;
	struct qvk_qact *qa;
	struct qvk_error_stats es;
	float *y = malloc(sizeof(float) * T * N);

	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, N, K, &p, &qt),
			 QVK_OK);
	ck_assert_int_eq(qvk_qact_create(qvk_test_ctx, QVK_ACT_PER_TOKEN, T, K,
					 qt->k_padded, &qa), QVK_OK);
	ck_assert_int_eq(qvk_quantize_act(qvk_test_ctx, "x", x, qa), QVK_OK);
	ck_assert_int_eq(qvk_ref_matmul_q(qvk_test_ctx, qt, qa, y), QVK_OK);
	ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "y", yref, y,
						 (size_t)T * N, &es), QVK_OK);
	qvk_qact_destroy(qa);
	qvk_qtensor_destroy(qt);
	free(y);
	return es.nmse;
}

START_TEST(test_outliers)
{
	uint64_t seed = qvk_test_seed("smoothquant"), st = seed;
	float *h = malloc(sizeof(float) * T * K);   /* normalised hidden state */
	float *x = malloc(sizeof(float) * T * K);   /* X = h * g */
	float *xs = malloc(sizeof(float) * T * K);  /* h * (g / s) */
	float *w = malloc(sizeof(float) * N * K);
	float *ws = malloc(sizeof(float) * N * K);
	float *y = malloc(sizeof(float) * T * N);
	float *ys = malloc(sizeof(float) * T * N);
	float g[K], gs[K], absmax[K] = { 0 }, s[K];
	struct qvk_error_stats fold;
	double plain, smooth;

	for (uint32_t j = 0; j < K; j++)
		g[j] = qvk_test_uniform(&st, 0.5f, 1.5f);
	for (uint32_t o = 0; o < OUTLIERS; o++)
		g[qvk_test_rand(&st) % K] *= 50.0f;
	for (size_t i = 0; i < (size_t)T * K; i++) {
		h[i] = qvk_test_normal(&st);
		x[i] = h[i] * g[i % K];
	}
	for (size_t i = 0; i < (size_t)N * K; i++)
		w[i] = 0.05f * qvk_test_normal(&st);
	qvk_ref_matmul_f32(x, w, y, T, N, K);

	ck_assert_int_eq(qvk_act_absmax_update(qvk_test_ctx, "x", x, T, K, absmax),
			 QVK_OK);
	ck_assert_int_eq(qvk_smoothquant_scales(qvk_test_ctx, "sq", absmax, w, N,
						K, 0.5f, s), QVK_OK);
	/* fold: the norm weight divided, the linear's columns multiplied */
	memcpy(gs, g, sizeof(g));
	qvk_fold_scale_into_norm(gs, K, s);
	memcpy(ws, w, sizeof(float) * N * K);
	qvk_fold_scale_into_weight(ws, N, K, s);
	for (size_t i = 0; i < (size_t)T * K; i++)
		xs[i] = h[i] * gs[i % K];
	qvk_ref_matmul_f32(xs, ws, ys, T, N, K);
	ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "fold", y, ys,
						 (size_t)T * N, &fold), QVK_OK);

	plain = w8a8_nmse(x, w, y);
	smooth = w8a8_nmse(xs, ws, y);
	printf("smoothquant: W8A8 output NMSE %.4g plain, %.4g smoothed (ratio "
	       "%.3f, need < 0.5); float product change %.3g relative (need < "
	       "1e-5); seed %llu\n", plain, smooth, smooth / plain,
	       sqrt(fold.nmse), (unsigned long long)seed);
	ck_assert(sqrt(fold.nmse) < 1e-5);
	ck_assert(smooth < 0.5 * plain);
	free(h);
	free(x);
	free(xs);
	free(w);
	free(ws);
	free(y);
	free(ys);
}
END_TEST

START_TEST(test_scales_and_rejects)
{
	float absmax[4] = { 4.0f, 0.0f, 1.0f, 9.0f };
	float w[2 * 4] = { 1.0f, 2.0f, -0.25f, 0.0f, -4.0f, 1.0f, 0.5f, 0.0f };
	float s[4];

	ck_assert_int_eq(qvk_smoothquant_scales(qvk_test_ctx, "sq", absmax, w, 2, 4,
						0.5f, s), QVK_OK);
	ck_assert(fabsf(s[0] - 1.0f) < 1e-6f);         /* sqrt(4) / sqrt(4) */
	ck_assert(s[1] == 1.0f && s[3] == 1.0f);      /* a zero max: 1 */
	ck_assert(fabsf(s[2] - sqrtf(2.0f)) < 1e-6f); /* sqrt(1) / sqrt(0.5) */
	ck_assert_int_eq(qvk_smoothquant_scales(qvk_test_ctx, "sq", absmax, w, 2, 4,
						1.5f, s), QVK_ERR_INVALID_ARG);
	absmax[2] = NAN;
	ck_assert_int_eq(qvk_smoothquant_scales(qvk_test_ctx, "sq", absmax, w, 2, 4,
						0.5f, s), QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "channel 2"));
}
END_TEST

Suite *suite_smoothquant(void)
{
	Suite *s = suite_create("smoothquant");
	TCase *tc = tcase_create("smoothquant");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_outliers);
	tcase_add_test(tc, test_scales_and_rejects);
	suite_add_tcase(s, tc);
	return s;
}
