/* SPDX-License-Identifier: MIT */
/*
 * Activation quantization and the scalar references: the int8 bound and
 * block sums, the exact int32 group dots (recomputed here the way a GPU
 * kernel does, from packed words and masked nibbles), and the quantized
 * matmul against the float matmul of the dequantized operands.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/quant.h>

#include "harness.h"

Suite *suite_quant_ref(void);

static void fill(uint64_t *st, float *v, size_t count, float scale)
{
	for (size_t i = 0; i < count; i++)
		v[i] = qvk_test_normal(st) * scale *
		       (qvk_test_rand(st) % 50 == 0 ? 10.0f : 1.0f);
}

START_TEST(test_act_quant)
{
	uint64_t seed = qvk_test_seed("act quant"), st = seed;
	uint32_t m = 6, k = 172;
	float x[6 * 172], dq[6 * 172];
	double worst = 0.0;

	fill(&st, x, (size_t)m * k, 2.0f);
	for (uint32_t j = 0; j < k; j++)
		x[2 * k + j] = 0.0f; /* an all-zero token */
	for (int gran = 0; gran < 2; gran++) {
		struct qvk_qact *qa;

		ck_assert_int_eq(qvk_qact_create(qvk_test_ctx,
						 (enum qvk_act_granularity)gran, m,
						 k, 256, &qa), QVK_OK);
		ck_assert_uint_eq(qa->row_words, 64);
		ck_assert_uint_eq(qa->n_scales, gran ? 8 : 1);
		ck_assert_int_eq(qvk_quantize_act(qvk_test_ctx, "x", x, qa), QVK_OK);
		qvk_qact_dequantize(qa, dq);
		for (uint32_t t = 0; t < m; t++) {
			for (uint32_t b = 0; b < 8; b++) {
				int32_t sum = 0;

				for (uint32_t j = b * 32; j < b * 32 + 32; j++) {
					int8_t q = (int8_t)(qa->qs[t * 64 + j / 4] >>
							    (8 * (j % 4)));

					ck_assert(q >= -127);
					if (j >= k)
						ck_assert_int_eq(q, 0);
					sum += q;
				}
				ck_assert_int_eq(sum, qa->sums[t * 8 + b]);
			}
			for (uint32_t j = 0; j < k; j++) {
				float d = qa->scales[t * qa->n_scales +
						     (gran ? j / 32 : 0)];
				double e = fabs((double)dq[t * k + j] - x[t * k + j]);

				if (d > 0)
					worst = fmax(worst, e / (d / 2.0));
				ck_assert_msg(e <= d / 2.0 * (1 + 1e-5) + 1e-30,
					      "token %u col %u: error %g, d %g", t,
					      j, e, (double)d);
			}
		}
		ck_assert(qa->scales[2 * qa->n_scales] == 0.0f);
		qvk_qact_destroy(qa);
	}
	printf("act: worst error / half step = %.6f (bound 1)\n", worst);
}
END_TEST

/* Unpacked weight code as the dot sees it, from the words alone. */
static int32_t w_lane(const struct qvk_qtensor *w, uint32_t r, uint32_t j)
{
	const uint32_t *row = w->qs + (size_t)r * w->row_words;
	uint32_t b, e, word;

	if (w->format == QVK_QFORMAT_Q8)
		return (int8_t)(row[j / 4] >> (8 * (j % 4)));
	b = j / 32;
	e = j % 32;
	word = row[4 * b + (e % 16) / 4];
	word = (word >> (e < 16 ? 0 : 4)) & 0x0f0f0f0fu;
	return (int32_t)((word >> (8 * (e % 4))) & 0xffu);
}

/*
 * The dots as an integer-dot kernel computes them: unsigned nibble codes
 * times int8 activations, then −8·Σqa for the symmetric int4 format.
 */
static int32_t kernel_dot(const struct qvk_qtensor *w, const struct qvk_qact *a,
			  uint32_t t, uint32_t r, uint32_t k0, uint32_t len)
{
	int32_t acc = 0, sum = 0;

	for (uint32_t j = k0; j < k0 + len; j++) {
		int32_t q = (int8_t)(a->qs[(size_t)t * a->row_words + j / 4] >>
				     (8 * (j % 4)));

		acc += q * w_lane(w, r, j);
	}
	for (uint32_t b = k0 / 32; b < (k0 + len) / 32; b++)
		sum += a->sums[(size_t)t * (a->k_padded / 32) + b];
	return w->format == QVK_QFORMAT_Q4 ? acc - 8 * sum : acc;
}

/*
 * The scale of the terms summed for Y[t][r]: Σ|x·w|, plus Σ|x·m| for Q4A
 * whose d·q + m can cancel. fp32 accumulation errs relative to this.
 */
static double magnitude(const struct qvk_qtensor *w, const float *xd,
			const float *wd, uint32_t t, uint32_t r)
{
	double mag = 1e-30;

	for (uint32_t j = 0; j < w->k; j++) {
		double m = w->mins ? qvk_fp16_to_f32(w->mins[(size_t)r * w->n_groups +
							     j / w->group]) : 0.0;

		mag += fabs(xd[(size_t)t * w->k + j]) *
		       (fabs(wd[(size_t)r * w->k + j]) + fabs(m));
	}
	return mag;
}

START_TEST(test_ref_matmul)
{
	static const enum qvk_qformat formats[] = { QVK_QFORMAT_Q8, QVK_QFORMAT_Q4,
						    QVK_QFORMAT_Q4A };
	static const uint32_t groups[] = { 32, 64, 128, QVK_GROUP_ROW };
	static const uint32_t ks[] = { 172, 256 };
	uint64_t seed = qvk_test_seed("reference matmul"), st = seed;
	double worst = 0.0;
	uint64_t dots_checked = 0;

	for (size_t f = 0; f < 3; f++)
		for (size_t g = 0; g < 4; g++)
			for (size_t ki = 0; ki < 2; ki++)
				for (int gran = 0; gran < 2; gran++) {
					uint32_t m = 5, n = 9, k = ks[ki], units;
					float *x = malloc(sizeof(float) * m * k);
					float *w = malloc(sizeof(float) * n * k);
					float *xd = malloc(sizeof(float) * m * k);
					float *wd = malloc(sizeof(float) * n * k);
					float *yq = malloc(sizeof(float) * m * n);
					float *yf = malloc(sizeof(float) * m * n);
					struct qvk_quant_params p =
						qvk_quant_params_default(formats[f], groups[g]);
					struct qvk_qtensor *qt;
					struct qvk_qact *qa;
					int32_t *dots;

					fill(&st, x, (size_t)m * k, 1.0f);
					fill(&st, w, (size_t)n * k, 0.05f);
					for (size_t i = 0; i < (size_t)n * k; i += 3)
						w[i] += 0.02f; /* skew for Q4A */
					ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w",
									      w, n, k, &p, &qt),
							 QVK_OK);
					ck_assert_int_eq(qvk_qact_create(qvk_test_ctx,
									 (enum qvk_act_granularity)gran,
									 m, k, qt->k_padded, &qa),
							 QVK_OK);
					ck_assert_int_eq(qvk_quantize_act(qvk_test_ctx, "x", x, qa),
							 QVK_OK);
					units = qvk_ref_qdot_units(qt, qa);
					dots = malloc(sizeof(int32_t) * m * n * units);
					ck_assert_int_eq(qvk_ref_qdots(qvk_test_ctx, qt, qa, dots),
							 QVK_OK);
					for (uint32_t t = 0; t < m; t++)
						for (uint32_t r = 0; r < n; r++)
							for (uint32_t u = 0; u < units; u++) {
								uint32_t len = qt->k_padded / units;

								ck_assert_int_eq(
									dots[(t * n + r) * units + u],
									kernel_dot(qt, qa, t, r, u * len, len));
								dots_checked++;
							}
					ck_assert_int_eq(qvk_ref_matmul_q(qvk_test_ctx, qt, qa, yq),
							 QVK_OK);
					qvk_qtensor_dequantize(qt, wd);
					qvk_qact_dequantize(qa, xd);
					qvk_ref_matmul_f32(xd, wd, yf, m, n, k);
					for (uint32_t i = 0; i < m * n; i++) {
						double mag = magnitude(qt, xd, wd, i / n, i % n);
						double tol = 1e-5 * mag;
						double e = fabs((double)yq[i] - yf[i]);

						worst = fmax(worst, e / mag);
						ck_assert_msg(e <= tol,
							      "%s g%u k%u gran %d: %g vs %g",
							      qvk_qformat_name(formats[f]),
							      qt->group, k, gran,
							      (double)yq[i], (double)yf[i]);
					}
					free(dots);
					qvk_qact_destroy(qa);
					qvk_qtensor_destroy(qt);
					free(x);
					free(w);
					free(xd);
					free(wd);
					free(yq);
					free(yf);
				}
	printf("reference: %llu int32 dots equal; quantized vs float of "
	       "dequantized: worst error / sum|x*w| %.3g (bound 1e-5)\n",
	       (unsigned long long)dots_checked, worst);
}
END_TEST

START_TEST(test_ref_rejects_mismatch)
{
	struct qvk_qtensor *qt;
	struct qvk_qact *qa;
	float y[4];

	ck_assert_int_eq(qvk_qtensor_create(qvk_test_ctx, QVK_QFORMAT_Q8, 2, 172,
					    128, &qt), QVK_OK);
	ck_assert_int_eq(qvk_qact_create(qvk_test_ctx, QVK_ACT_PER_TOKEN, 2, 172,
					 0, &qa), QVK_OK);
	/* 192 < 256: the activation rows are too short for the weight */
	ck_assert_int_eq(qvk_ref_matmul_q(qvk_test_ctx, qt, qa, y),
			 QVK_ERR_INVALID_ARG);
	qvk_qact_destroy(qa);
	ck_assert_int_eq(qvk_qact_create(qvk_test_ctx, QVK_ACT_PER_TOKEN, 2, 171,
					 256, &qa), QVK_OK);
	ck_assert_int_eq(qvk_ref_matmul_q(qvk_test_ctx, qt, qa, y),
			 QVK_ERR_INVALID_ARG);
	qvk_qact_destroy(qa);
	ck_assert_int_eq(qvk_qact_create(qvk_test_ctx, QVK_ACT_PER_TOKEN, 2, 172,
					 100, &qa), QVK_ERR_INVALID_ARG);
	qvk_qtensor_destroy(qt);
}
END_TEST

START_TEST(test_ref_matmul_f32)
{
	float x[2 * 3] = { 1, 2, 3, -1, 0.5f, 4 };
	float w[2 * 3] = { 0.5f, -1, 2, 1, 1, 1 };
	float y[4];

	qvk_ref_matmul_f32(x, w, y, 2, 2, 3);
	ck_assert(y[0] == 4.5f && y[1] == 6.0f && y[2] == 7.0f && y[3] == 3.5f);
}
END_TEST

Suite *suite_quant_ref(void)
{
	Suite *s = suite_create("quant_ref");
	TCase *tc = tcase_create("reference");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_act_quant);
	tcase_add_test(tc, test_ref_matmul);
	tcase_add_test(tc, test_ref_rejects_mismatch);
	tcase_add_test(tc, test_ref_matmul_f32);
	suite_add_tcase(s, tc);
	return s;
}
