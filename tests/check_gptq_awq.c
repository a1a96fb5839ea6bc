/* SPDX-License-Identifier: MIT */
/*
 * GPTQ and AWQ against round-to-nearest at 4-bit g128 on a linear layer
 * whose calibration inputs are correlated across channels and have a few
 * salient channels: each must give clearly lower output NMSE on held-out
 * inputs from the same distribution.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/metrics.h>
#include <qvk/quant.h>

#include "harness.h"

Suite *suite_gptq_awq(void);

enum { K = 512, N = 256, T_CAL = 1024, T_EVAL = 512, SALIENT = 8 };

struct layer {
	float *w;    /* (N, K) */
	float *xcal; /* (T_CAL, K) */
	float *xev;  /* (T_EVAL, K) */
	float *yev;  /* (T_EVAL, N) float reference */
};

/*
 * Channels follow an AR(1) process along K (neighbours correlate with
 * ρ = 0.8), each with its own log-normal scale; SALIENT channels are 20x.
 */
static void gen_inputs(uint64_t *st, float *x, uint32_t t, const float *chan)
{
	for (uint32_t i = 0; i < t; i++) {
		float prev = qvk_test_normal(st);

		for (uint32_t j = 0; j < K; j++) {
			prev = 0.8f * prev + 0.6f * qvk_test_normal(st);
			x[(size_t)i * K + j] = prev * chan[j];
		}
	}
}

static void layer_make(uint64_t *st, struct layer *l)
{
	bool salient[K] = { false };
	float chan[K];

	l->w = malloc(sizeof(float) * N * K);
	l->xcal = malloc(sizeof(float) * T_CAL * K);
	l->xev = malloc(sizeof(float) * T_EVAL * K);
	l->yev = malloc(sizeof(float) * T_EVAL * N);
	for (uint32_t j = 0; j < K; j++)
		chan[j] = expf(0.5f * qvk_test_normal(st));
	/* SALIENT distinct channels 20x larger (a repeat would make one 400x). */
	for (uint32_t s = 0; s < SALIENT;) {
		uint32_t j = (uint32_t)(qvk_test_rand(st) % K);

		if (salient[j])
			continue;
		salient[j] = true;
		chan[j] *= 20.0f;
		s++;
	}
	for (size_t i = 0; i < (size_t)N * K; i++)
		l->w[i] = 0.02f * qvk_test_normal(st);
	gen_inputs(st, l->xcal, T_CAL, chan);
	gen_inputs(st, l->xev, T_EVAL, chan);
	qvk_ref_matmul_f32(l->xev, l->w, l->yev, T_EVAL, N, K);
}

static void layer_free(struct layer *l)
{
	free(l->w);
	free(l->xcal);
	free(l->xev);
	free(l->yev);
}

/* Output NMSE on the held-out inputs of W ≈ deq(qt) / s (s NULL: 1). */
static double output_nmse(const struct layer *l, const struct qvk_qtensor *qt,
			  const float *s)
{
	float *wd = malloc(sizeof(float) * N * K);
	float *y = malloc(sizeof(float) * T_EVAL * N);
	struct qvk_error_stats es;

	qvk_qtensor_dequantize(qt, wd);
	if (s)
		for (size_t i = 0; i < (size_t)N * K; i++)
			wd[i] /= s[i % K];
	qvk_ref_matmul_f32(l->xev, wd, y, T_EVAL, N, K);
	ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "y", l->yev, y,
						 (size_t)T_EVAL * N, &es), QVK_OK);
	free(wd);
	free(y);
	return es.nmse;
}

static double rtn_nmse(const struct layer *l, enum qvk_qformat f)
{
	struct qvk_quant_params p = qvk_quant_params_default(f, 128);
	struct qvk_qtensor *qt;
	double e;

	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", l->w, N, K, &p,
					      &qt), QVK_OK);
	e = output_nmse(l, qt, NULL);
	qvk_qtensor_destroy(qt);
	return e;
}

START_TEST(test_gptq_beats_rtn)
{
	static const enum qvk_qformat formats[] = { QVK_QFORMAT_Q4, QVK_QFORMAT_Q4A };
	uint64_t seed = qvk_test_seed("gptq"), st = seed;
	const double need = 0.7; /* GPTQ NMSE <= 0.7 x RTN */
	struct layer l;

	if (!qvk_quant_has_blas()) {
		printf("SKIP: GPTQ left out of this build (QVK_BLAS=0)\n");
		return;
	}
	layer_make(&st, &l);
	for (size_t f = 0; f < 2; f++)
		for (int act_order = 0; act_order < 2; act_order++) {
			struct qvk_gptq_params gp = {
				.quant = qvk_quant_params_default(formats[f], 128),
				.damp = 0.01f,
				.block = 128,
				.act_order = act_order,
			};
			struct qvk_qtensor *qt;
			double rtn = rtn_nmse(&l, formats[f]), gptq, ratio;

			ck_assert_int_eq(qvk_gptq_quantize(qvk_test_ctx, "w", l.xcal,
							   T_CAL, l.w, N, K, &gp, &qt),
					 QVK_OK);
			gptq = output_nmse(&l, qt, NULL);
			ratio = gptq / rtn;
			printf("gptq %s g128%s: output NMSE %.4g vs RTN %.4g, ratio "
			       "%.3f (need <= %.2f), seed %llu\n",
			       qvk_qformat_name(formats[f]),
			       act_order ? " act-order" : "", gptq, rtn, ratio,
			       need, (unsigned long long)seed);
			ck_assert_msg(ratio <= need, "GPTQ ratio %.3f", ratio);
			qvk_qtensor_destroy(qt);
		}
	layer_free(&l);
}
END_TEST

START_TEST(test_awq_beats_rtn)
{
	static const enum qvk_qformat formats[] = { QVK_QFORMAT_Q4, QVK_QFORMAT_Q4A };
	uint64_t seed = qvk_test_seed("awq"), st = seed;
	const double need = 0.8; /* AWQ NMSE <= 0.8 x RTN */
	struct layer l;
	float s[K];

	if (!qvk_quant_has_blas()) {
		printf("SKIP: AWQ left out of this build (QVK_BLAS=0)\n");
		return;
	}
	layer_make(&st, &l);
	for (size_t f = 0; f < 2; f++)
		for (int clip = 0; clip < 2; clip++) {
			struct qvk_awq_params ap = {
				.quant = qvk_quant_params_default(formats[f], 128),
				.grid = 20,
				.eval_tokens = 512,
				.clip_search = clip,
			};
			struct qvk_qtensor *qt;
			double rtn = rtn_nmse(&l, formats[f]), awq, ratio;
			float alpha = -1.0f;

			ck_assert_int_eq(qvk_awq_search(qvk_test_ctx, "w", l.xcal, T_CAL,
							l.w, N, K, &ap, s, &alpha),
					 QVK_OK);
			ck_assert_int_eq(qvk_awq_quantize(qvk_test_ctx, "w", l.xcal,
							  T_CAL, l.w, N, K, s, &ap, &qt),
					 QVK_OK);
			awq = output_nmse(&l, qt, s);
			ratio = awq / rtn;
			printf("awq %s g128 alpha %.2f%s: output NMSE %.4g vs RTN %.4g, "
			       "ratio %.3f (need <= %.2f), seed %llu\n",
			       qvk_qformat_name(formats[f]), (double)alpha,
			       clip ? " +clip" : "", awq, rtn, ratio, need,
			       (unsigned long long)seed);
			ck_assert_msg(ratio <= need, "AWQ ratio %.3f", ratio);
			qvk_qtensor_destroy(qt);
		}
	layer_free(&l);
}
END_TEST

/* Calibration sums gathered in 4 pieces give the same quality. */
START_TEST(test_gptq_hessian_pieces)
{
	uint64_t seed = qvk_test_seed("gptq pieces"), st = seed;
	struct qvk_gptq_params gp = {
		.quant = qvk_quant_params_default(QVK_QFORMAT_Q4, 128),
	};
	struct qvk_qtensor *a, *b;
	struct layer l;
	float *xtx;
	double ea, eb;

	if (!qvk_quant_has_blas()) {
		printf("SKIP: GPTQ left out of this build (QVK_BLAS=0)\n");
		return;
	}
	layer_make(&st, &l);
	xtx = calloc((size_t)K * K, sizeof(*xtx));
	for (uint32_t p = 0; p < 4; p++)
		ck_assert_int_eq(qvk_gptq_hessian_add(qvk_test_ctx, "w",
						      l.xcal + (size_t)p * (T_CAL / 4) * K,
						      T_CAL / 4, K, xtx), QVK_OK);
	ck_assert_int_eq(qvk_gptq_quantize_hessian(qvk_test_ctx, "w", xtx, T_CAL,
						   l.w, N, K, &gp, &b), QVK_OK);
	ck_assert_int_eq(qvk_gptq_quantize(qvk_test_ctx, "w", l.xcal, T_CAL, l.w,
					   N, K, &gp, &a), QVK_OK);
	ea = output_nmse(&l, a, NULL);
	eb = output_nmse(&l, b, NULL);
	printf("gptq: one-shot NMSE %.5g, from 4 pieces %.5g (need within 2%%)\n",
	       ea, eb);
	ck_assert(fabs(ea - eb) <= 0.02 * ea);
	qvk_qtensor_destroy(a);
	qvk_qtensor_destroy(b);
	free(xtx);
	layer_free(&l);
}
END_TEST

/*
 * K = 172 (stories260K's width) per row and at group 32, with and without
 * act-order: a valid tensor whose padding encodes 0, no worse than RTN.
 */
START_TEST(test_gptq_padded)
{
	static const uint32_t groups[] = { 32, 128, QVK_GROUP_ROW };
	uint64_t seed = qvk_test_seed("gptq padded"), st = seed;
	uint32_t n = 48, k = 172, t = 512;
	float *x = malloc(sizeof(float) * t * k), *w = malloc(sizeof(float) * n * k);
	float *y = malloc(sizeof(float) * t * n), *yq = malloc(sizeof(float) * t * n);
	float *wd = malloc(sizeof(float) * n * k);

	if (!qvk_quant_has_blas()) {
		printf("SKIP: GPTQ left out of this build (QVK_BLAS=0)\n");
		goto out;
	}
	for (uint32_t i = 0; i < t; i++) {
		float prev = qvk_test_normal(&st);

		for (uint32_t j = 0; j < k; j++) {
			prev = 0.8f * prev + 0.6f * qvk_test_normal(&st);
			x[(size_t)i * k + j] = prev;
		}
	}
	for (size_t i = 0; i < (size_t)n * k; i++)
		w[i] = qvk_test_normal(&st);
	qvk_ref_matmul_f32(x, w, y, t, n, k);
	for (size_t g = 0; g < 3; g++)
		for (int ao = 0; ao < 2; ao++) {
			struct qvk_gptq_params gp = {
				.quant = qvk_quant_params_default(QVK_QFORMAT_Q4A, groups[g]),
				.act_order = ao,
			};
			struct qvk_qtensor *qt, *rt;
			struct qvk_error_stats eg, er;

			ck_assert_int_eq(qvk_gptq_quantize(qvk_test_ctx, "w", x, t, w, n,
							   k, &gp, &qt), QVK_OK);
			ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, n, k,
							      &gp.quant, &rt), QVK_OK);
			for (uint32_t r = 0; r < n; r++)
				for (uint32_t j = k; j < qt->k_padded; j++) {
					size_t gi = (size_t)r * qt->n_groups + qt->n_groups - 1;
					float d = qvk_fp16_to_f32(qt->scales[gi]);
					float m = qvk_fp16_to_f32(qt->mins[gi]);

					ck_assert(fabsf(d * qvk_qtensor_get_code(qt, r, j) + m) <=
						  fabsf(d) / 2);
				}
			qvk_qtensor_dequantize(qt, wd);
			qvk_ref_matmul_f32(x, wd, yq, t, n, k);
			ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "y", y, yq,
								 (size_t)t * n, &eg), QVK_OK);
			qvk_qtensor_dequantize(rt, wd);
			qvk_ref_matmul_f32(x, wd, yq, t, n, k);
			ck_assert_int_eq(qvk_error_stats_compute(qvk_test_ctx, "y", y, yq,
								 (size_t)t * n, &er), QVK_OK);
			printf("gptq q4a k172 g%u%s: NMSE %.4g vs RTN %.4g\n",
			       qt->group, ao ? " act-order" : "", eg.nmse, er.nmse);
			ck_assert(eg.nmse < er.nmse);
			qvk_qtensor_destroy(qt);
			qvk_qtensor_destroy(rt);
		}
out:
	free(x);
	free(w);
	free(y);
	free(yq);
	free(wd);
}
END_TEST

START_TEST(test_rejects)
{
	float w[64 * 32], x[16 * 32];
	struct qvk_gptq_params gp = {
		.quant = qvk_quant_params_default(QVK_QFORMAT_Q4, 32),
	};
	struct qvk_awq_params ap = {
		.quant = qvk_quant_params_default(QVK_QFORMAT_Q4, 32),
	};
	struct qvk_qtensor *qt = NULL;
	qvk_status want = qvk_quant_has_blas() ? QVK_ERR_NUMERIC
					       : QVK_ERR_UNSUPPORTED;
	float s[32];

	for (int i = 0; i < 64 * 32; i++)
		w[i] = (float)(i % 7) - 3.0f;
	for (int i = 0; i < 16 * 32; i++)
		x[i] = (float)(i % 5) - 2.0f;
	x[5 * 32 + 9] = NAN;
	ck_assert_int_eq(qvk_gptq_quantize(qvk_test_ctx, "blk.0.ffn_up", x, 16, w,
					   64, 32, &gp, &qt), want);
	printf("gptq: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_ptr_null(qt);
	if (want == QVK_ERR_NUMERIC)
		ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
					     "blk.0.ffn_up: non-finite calibration "
					     "input at token 5, column 9"));
	ck_assert_int_eq(qvk_awq_search(qvk_test_ctx, "a", x, 16, w, 64, 32, &ap,
					s, NULL), want);
	x[5 * 32 + 9] = 0.0f;
	w[70] = INFINITY;
	ck_assert_int_eq(qvk_gptq_quantize(qvk_test_ctx, "g", x, 16, w, 64, 32,
					   &gp, &qt), want);
}
END_TEST

Suite *suite_gptq_awq(void)
{
	Suite *s = suite_create("gptq_awq");
	TCase *tc = tcase_create("calibrated");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_gptq_beats_rtn);
	tcase_add_test(tc, test_awq_beats_rtn);
	tcase_add_test(tc, test_gptq_hessian_pieces);
	tcase_add_test(tc, test_gptq_padded);
	tcase_add_test(tc, test_rejects);
	suite_add_tcase(s, tc);
	return s;
}
