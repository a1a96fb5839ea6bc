/* SPDX-License-Identifier: MIT */
/*
 * Clipping calibration: MSE clipping lowers the squared error below
 * min/max, percentile clipping narrows the step, and importance weights
 * steer the MSE search towards the channels that matter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/quant.h>

#include "harness.h"

Suite *suite_quant_calib(void);

enum { N = 64, K = 512 };

/* Heavy-tailed weights: normal with occasional 6x outliers. */
static void fill(uint64_t *st, float *w)
{
	for (size_t i = 0; i < (size_t)N * K; i++)
		w[i] = qvk_test_normal(st) *
		       (qvk_test_rand(st) % 64 == 0 ? 6.0f : 1.0f);
}

/* Σ imp_j · (w − ŵ)² over the tensor (imp NULL: ones). */
static double sse(const float *w, const struct qvk_qtensor *qt,
		  const float *imp)
{
	float *dq = malloc(sizeof(float) * N * K);
	double s = 0.0;

	qvk_qtensor_dequantize(qt, dq);
	for (size_t i = 0; i < (size_t)N * K; i++) {
		double e = (double)w[i] - dq[i];

		s += (imp ? imp[i % K] : 1.0) * e * e;
	}
	free(dq);
	return s;
}

static struct qvk_qtensor *quant(const float *w, const struct qvk_quant_params *p)
{
	struct qvk_qtensor *qt;

	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, N, K, p, &qt),
			 QVK_OK);
	return qt;
}

START_TEST(test_mse_clip_lowers_error)
{
	static const enum qvk_qformat formats[] = { QVK_QFORMAT_Q8, QVK_QFORMAT_Q4,
						    QVK_QFORMAT_Q4A };
	uint64_t seed = qvk_test_seed("mse clip"), st = seed;
	float *w = malloc(sizeof(float) * N * K);

	fill(&st, w);
	for (size_t f = 0; f < 3; f++) {
		struct qvk_quant_params p = qvk_quant_params_default(formats[f], 128);
		struct qvk_qtensor *a = quant(w, &p), *b;
		double e_minmax = sse(w, a, NULL), e_mse;

		p.clip = QVK_CLIP_MSE;
		b = quant(w, &p);
		e_mse = sse(w, b, NULL);
		/*
		 * 8 bits rarely gain from clipping (the search may not lose more
		 * than its rounding shortcut's 0.1%); 4 bits must gain.
		 */
		printf("clip %s g128: SSE min/max %.5g, MSE-clip %.5g (ratio %.3f, "
		       "need %s)\n", qvk_qformat_name(formats[f]), e_minmax, e_mse,
		       e_mse / e_minmax, f ? "< 1" : "<= 1.001");
		ck_assert(f ? e_mse < e_minmax : e_mse <= 1.001 * e_minmax);
		qvk_qtensor_destroy(a);
		qvk_qtensor_destroy(b);
	}
	free(w);
}
END_TEST

START_TEST(test_percentile_narrows)
{
	uint64_t seed = qvk_test_seed("percentile"), st = seed;
	float *w = malloc(sizeof(float) * N * K);
	struct qvk_quant_params p = qvk_quant_params_default(QVK_QFORMAT_Q4, 128);
	struct qvk_qtensor *a, *b;
	uint32_t narrower = 0;

	fill(&st, w);
	a = quant(w, &p);
	p.clip = QVK_CLIP_PERCENTILE;
	p.percentile = 99.0f;
	b = quant(w, &p);
	for (size_t i = 0; i < (size_t)N * a->n_groups; i++) {
		float da = fabsf(qvk_fp16_to_f32(a->scales[i]));
		float db = fabsf(qvk_fp16_to_f32(b->scales[i]));

		ck_assert_msg(db <= da, "group %zu: percentile step %g > %g", i,
			      (double)db, (double)da);
		narrower += db < da;
	}
	printf("percentile 99: %u of %u groups have a finer step\n", narrower,
	       N * a->n_groups);
	ck_assert_uint_gt(narrower, N * a->n_groups / 2);
	qvk_qtensor_destroy(a);
	qvk_qtensor_destroy(b);
	p.percentile = 30.0f;
	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, N, K, &p, &b),
			 QVK_ERR_INVALID_ARG);
	free(w);
}
END_TEST

START_TEST(test_importance_weighting)
{
	uint64_t seed = qvk_test_seed("importance"), st = seed;
	float *w = malloc(sizeof(float) * N * K);
	float imp[K];
	struct qvk_quant_params p = qvk_quant_params_default(QVK_QFORMAT_Q4, 32);
	struct qvk_qtensor *a, *b;
	double plain, weighted;

	fill(&st, w);
	for (uint32_t j = 0; j < K; j++) /* a few channels matter 100x */
		imp[j] = qvk_test_rand(&st) % 16 == 0 ? 100.0f : 1.0f;
	p.clip = QVK_CLIP_MSE;
	a = quant(w, &p);
	p.importance = imp;
	b = quant(w, &p);
	plain = sse(w, a, imp);
	weighted = sse(w, b, imp);
	printf("importance: weighted SSE %.5g with plain MSE clip, %.5g with "
	       "importance (ratio %.3f, need <= 1)\n", plain, weighted,
	       weighted / plain);
	ck_assert(weighted <= plain);
	qvk_qtensor_destroy(a);
	qvk_qtensor_destroy(b);
	free(w);
}
END_TEST

Suite *suite_quant_calib(void)
{
	Suite *s = suite_create("quant_calib");
	TCase *tc = tcase_create("clip");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_mse_clip_lowers_error);
	tcase_add_test(tc, test_percentile_narrows);
	tcase_add_test(tc, test_importance_weighting);
	suite_add_tcase(s, tc);
	return s;
}
