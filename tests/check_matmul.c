/* SPDX-License-Identifier: MIT */
/*
 * The grouped integer matmul kernels against the exact integer reference of
 * the quantization core: every format x group x path (OpSDot and the SWAR
 * fallback), decode and prefill token counts, odd N, K equal to the group,
 * K = 4352 and the padded K = 172 of stories260K. The int32 group dots must
 * match exactly; the fp32 outputs within 1e-5 of the magnitude of their
 * terms. Fresh random inputs each run (seed printed), outputs poisoned.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/matmul.h>
#include <qvk/quant.h>

#include "harness.h"
#include "matmul/matmul.h"

struct qvk_mm_case {
	uint32_t m, n, k;
};

static const uint32_t qvk_groups[] = { 32, 64, 128, QVK_GROUP_ROW };
static const enum qvk_qformat qvk_formats[] = { QVK_QFORMAT_Q8, QVK_QFORMAT_Q4,
						QVK_QFORMAT_Q4A };

static float *qvk_random_matrix(uint64_t *seed, uint32_t rows, uint32_t cols,
				float scale)
{
	float *x = malloc((size_t)rows * cols * sizeof(*x));

	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < (size_t)rows * cols; i++)
		x[i] = scale * qvk_test_normal(seed);
	/* An outlier per row, as real activations have. */
	for (uint32_t r = 0; r < rows; r++)
		x[(size_t)r * cols + qvk_test_rand(seed) % cols] *= 8.0f;
	return x;
}

/*
 * Σ over dot units of |t_u · d_a|: the scale of the sum, for the tolerance.
 * A unit is a weight group (per-token activations) or a 32-block.
 */
static double qvk_term_magnitude(const struct qvk_qtensor *w,
				 const struct qvk_qact *a, const int32_t *dots,
				 uint32_t i, uint32_t j)
{
	uint32_t units = qvk_ref_qdot_units(w, a), unit = w->k_padded / units;
	double mag = 0;

	for (uint32_t u = 0; u < units; u++) {
		size_t si = (size_t)j * w->n_groups + u * unit / w->group;
		double t = (double)dots[((size_t)i * w->n + j) * units + u] *
			   qvk_fp16_to_f32(w->scales[si]);
		double da = a->scales[(size_t)i * a->n_scales +
				      (a->n_scales == 1 ? 0 : u * unit / 32)];

		if (w->format == QVK_QFORMAT_Q4A) {
			int32_t sum = 0;

			for (uint32_t b = u * unit / 32; b < (u + 1) * unit / 32; b++)
				sum += a->sums[(size_t)i * (a->k_padded / 32) + b];
			t = fabs(t) + fabs((double)sum * qvk_fp16_to_f32(w->mins[si]));
		}
		mag += fabs(t) * da;
	}
	return mag;
}

static void qvk_check_case(struct qvk_mm *mm, enum qvk_qformat fmt,
			   uint32_t group, struct qvk_mm_case c,
			   enum qvk_act_granularity gran, uint64_t *seed)
{
	struct qvk_device *dev = qvk_test_dev;
	struct qvk_ctx *ctx = qvk_test_ctx;
	float *w = qvk_random_matrix(seed, c.n, c.k, 0.05f);
	float *x = qvk_random_matrix(seed, c.m, c.k, 1.0f);
	float *y_ref = malloc((size_t)c.m * c.n * 4);
	float *y_gpu = malloc((size_t)c.m * c.n * 4);
	struct qvk_quant_params qp = qvk_quant_params_default(fmt, group);
	struct qvk_mm_binding bind;
	struct qvk_mm_weight *dw;
	struct qvk_buffer *y, *dots_buf;
	struct qvk_qtensor *qt;
	struct qvk_qact *qa;
	struct qvk_mm_act *da;
	int32_t *dots_ref, *dots_gpu;
	size_t n_dots;
	struct qvk_cmd cmd;
	double worst = 0;

	ck_assert_int_eq(qvk_quantize_weights(ctx, "w", w, c.n, c.k, &qp, &qt),
			 QVK_OK);
	ck_assert_int_eq(qvk_qact_create(ctx, gran, c.m, c.k, qt->k_padded, &qa),
			 QVK_OK);
	ck_assert_int_eq(qvk_quantize_act(ctx, "x", x, qa), QVK_OK);
	n_dots = (size_t)c.m * c.n * qvk_ref_qdot_units(qt, qa);
	dots_ref = malloc(n_dots * 4);
	dots_gpu = malloc(n_dots * 4);
	ck_assert(y_ref && y_gpu && dots_ref && dots_gpu);
	ck_assert_int_eq(qvk_ref_qdots(ctx, qt, qa, dots_ref), QVK_OK);
	ck_assert_int_eq(qvk_ref_matmul_q(ctx, qt, qa, y_ref), QVK_OK);

	ck_assert_int_eq(qvk_mm_weight_upload_q(dev, qt, &dw), QVK_OK);
	ck_assert_int_eq(qvk_mm_act_create(dev, c.m, c.k,
					   gran == QVK_ACT_PER_BLOCK32, &da),
			 QVK_OK);
	ck_assert_int_eq(qvk_mm_act_write_q(da, qa), QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK,
					   (VkDeviceSize)c.m * c.n * 4, 4, &y),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK, n_dots * 4, 4,
					   &dots_buf),
			 QVK_OK);
	qvk_buffer_fill_u32(y, 0x7fc00000u);        /* NaN */
	qvk_buffer_fill_u32(dots_buf, 0x80000000u); /* INT_MIN */
	ck_assert_int_eq(qvk_mm_bind(mm, dw, da, y, c.n, false, dots_buf, &bind),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_mm_record(&cmd, &bind, c.m);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(y, 0, y_gpu, (size_t)c.m * c.n * 4),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(dots_buf, 0, dots_gpu, n_dots * 4),
			 QVK_OK);

	for (size_t i = 0; i < n_dots; i++)
		ck_assert_msg(dots_gpu[i] == dots_ref[i],
			      "%s g%u m%u n%u k%u: dot %zu = %d, want %d",
			      qvk_qformat_name(fmt), group, c.m, c.n, c.k, i,
			      dots_gpu[i], dots_ref[i]);
	for (uint32_t i = 0; i < c.m; i++)
		for (uint32_t j = 0; j < c.n; j++) {
			float got = y_gpu[(size_t)i * c.n + j];
			float want = y_ref[(size_t)i * c.n + j];
			double mag = qvk_term_magnitude(qt, qa, dots_ref, i, j);
			double err = fabs((double)got - want);

			ck_assert_msg(isfinite(got) && err <= 1e-5 * mag + 1e-30,
				      "%s g%u m%u n%u k%u: y[%u][%u] = %g, want "
				      "%g (error %g, term magnitude %g)",
				      qvk_qformat_name(fmt), group, c.m, c.n,
				      c.k, i, j, got, want, err, mag);
			if (mag > 0 && err / mag > worst)
				worst = err / mag;
		}
	printf("  %-3s g%-3u m%-3u n%-3u k%-4u %s: dots exact, worst error "
	       "%.2e of term magnitude\n", qvk_qformat_name(fmt),
	       group ? group : qt->group, c.m, c.n, c.k,
	       gran == QVK_ACT_PER_BLOCK32 ? "act/32" : "act/tok", worst);
	qvk_cmd_finish(&cmd);
	qvk_mm_unbind(&bind);
	qvk_buffer_destroy(y);
	qvk_buffer_destroy(dots_buf);
	qvk_mm_act_destroy(da);
	qvk_mm_weight_destroy(dw);
	qvk_qact_destroy(qa);
	qvk_qtensor_destroy(qt);
	free(w);
	free(x);
	free(y_ref);
	free(y_gpu);
	free(dots_ref);
	free(dots_gpu);
}

static void qvk_check_all(const char *name, bool subgroup_rows)
{
	uint64_t seed = qvk_test_seed(name);
	struct qvk_mm mm;

	ck_assert_int_eq(qvk_mm_init(qvk_test_dev, &mm), QVK_OK);
	/* Both kernels on every device: lanes per row, or a subgroup per row. */
	mm.subgroup_rows = subgroup_rows;
	printf("  kernel: %s\n", subgroup_rows ? "matmul_q_sg (subgroup per row)" :
						 "matmul_q (rows per invocation)");
	for (size_t f = 0; f < QVK_ARRAY_SIZE(qvk_formats); f++)
		for (size_t g = 0; g < QVK_ARRAY_SIZE(qvk_groups); g++) {
			uint32_t gs = qvk_groups[g] ? qvk_groups[g] : 96;
			const struct qvk_mm_case cases[] = {
				{ 1, 33, 172 },  { 2, 17, gs },
				{ 7, 65, 4352 }, { 64, 31, 256 },
				{ 300, 19, 172 }, { 8, 129, 2048 },
			};

			for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
				qvk_check_case(&mm, qvk_formats[f], qvk_groups[g],
					       cases[c], QVK_ACT_PER_TOKEN, &seed);
				qvk_check_case(&mm, qvk_formats[f], qvk_groups[g],
					       cases[c], QVK_ACT_PER_BLOCK32,
					       &seed);
			}
		}
	qvk_mm_finish(&mm);
}

/*
 * The fp32/fp16 baseline kernels through the public API (upload, run,
 * exec) against the double-precision float reference, K not a multiple
 * of 8 included; fp16 weights are compared with their own rounded values.
 */
static void qvk_check_float(bool f16, uint32_t m, uint32_t n, uint32_t k,
			    uint64_t *seed)
{
	float *w = qvk_random_matrix(seed, n, k, 0.05f);
	float *x = qvk_random_matrix(seed, m, k, 1.0f);
	float *y = malloc((size_t)m * n * 4), *ref = malloc((size_t)m * n * 4);
	struct qvk_matmul *mm;
	struct qvk_weight *dw;
	struct qvk_matmul_run *run;
	double worst = 0;

	ck_assert(y && ref);
	if (f16)
		for (size_t i = 0; i < (size_t)n * k; i++)
			w[i] = qvk_fp16_to_f32(qvk_fp16_from_f32(w[i]));
	qvk_ref_matmul_f32(x, w, ref, m, n, k);
	for (size_t i = 0; i < (size_t)m * n; i++)
		y[i] = NAN;
	ck_assert_int_eq(qvk_matmul_create(qvk_test_dev, &mm), QVK_OK);
	ck_assert_int_eq(qvk_weight_upload_float(mm, w, n, k, f16, &dw), QVK_OK);
	ck_assert_int_eq(qvk_matmul_run_create(mm, &dw, 1, m, &run), QVK_OK);
	ck_assert_int_eq(qvk_matmul_run_set_input(run, NULL, x, m), QVK_OK);
	ck_assert_int_eq(qvk_matmul_run_exec(run, y), QVK_OK);
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++) {
			double mag = 0, err;

			for (uint32_t e = 0; e < k; e++)
				mag += fabs((double)x[(size_t)i * k + e] *
					    w[(size_t)j * k + e]);
			err = fabs((double)y[(size_t)i * n + j] - ref[(size_t)i * n + j]);
			ck_assert_msg(isfinite(y[(size_t)i * n + j]) &&
					      err <= 1e-5 * mag + 1e-30,
				      "%s m%u n%u k%u: y[%u][%u] = %g, want %g",
				      f16 ? "f16" : "f32", m, n, k, i, j,
				      y[(size_t)i * n + j], ref[(size_t)i * n + j]);
			if (mag > 0 && err / mag > worst)
				worst = err / mag;
		}
	printf("  %s m%-3u n%-3u k%-4u: worst error %.2e of term magnitude "
	       "(bound 1e-5)\n", f16 ? "f16" : "f32", m, n, k, worst);
	qvk_matmul_run_destroy(run);
	qvk_weight_destroy(dw);
	qvk_matmul_destroy(mm);
	free(w);
	free(x);
	free(y);
	free(ref);
}

START_TEST(test_matmul_float_matches_reference)
{
	uint64_t seed = qvk_test_seed("matmul float");
	const struct qvk_mm_case cases[] = {
		{ 1, 33, 172 }, { 7, 65, 4352 }, { 64, 31, 256 }, { 300, 19, 13 },
		/* 139 MB of fp32 weights: past lavapipe's 128 MiB storage
		 * range, so bound as two pieces of whole rows. */
		{ 2, 17000, 2048 },
	};

	for (int f16 = 0; f16 < 2; f16++)
		for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++)
			qvk_check_float(f16, cases[c].m, cases[c].n, cases[c].k,
					&seed);
}
END_TEST

START_TEST(test_matmul_intdot_matches_reference)
{
	qvk_check_all("matmul intdot", false);
}
END_TEST

START_TEST(test_matmul_fallback_matches_reference)
{
	qvk_check_all("matmul fallback", false);
}
END_TEST

START_TEST(test_matmul_sg_intdot_matches_reference)
{
	qvk_check_all("matmul subgroup intdot", true);
}
END_TEST

START_TEST(test_matmul_sg_fallback_matches_reference)
{
	qvk_check_all("matmul subgroup fallback", true);
}
END_TEST

Suite *suite_matmul(void);
Suite *suite_matmul(void)
{
	Suite *s = suite_create("matmul");
	TCase *tc = tcase_create("intdot");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_intdot_matches_reference);
	tcase_add_test(tc, test_matmul_float_matches_reference);
	tcase_add_test(tc, test_matmul_sg_intdot_matches_reference);
	suite_add_tcase(s, tc);
	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, qvk_test_gpu_fallback_setup,
				  qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_fallback_matches_reference);
	tcase_add_test(tc, test_matmul_sg_fallback_matches_reference);
	suite_add_tcase(s, tc);
	return s;
}
