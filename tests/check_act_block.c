/* SPDX-License-Identifier: MIT */
/*
 * Per-32-block activation quantization on the GPU (act_quant_block.comp)
 * against the quantization core's qvk_quantize_act(QVK_ACT_PER_BLOCK32),
 * then those GPU activations through the per-block integer matmul against
 * the exact reference of the same activations.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/quant.h>

#include "harness.h"
#include "matmul/matmul.h"

/* The int8 code of token @i, element @k (layout of struct qvk_qact). */
static int qvk_act_code(const struct qvk_qact *a, uint32_t i, uint32_t k)
{
	return (int8_t)(a->qs[(size_t)i * a->row_words + k / 4] >> (8 * (k % 4)));
}

struct qvk_act_push {
	uint32_t k, kp, m, x_stride;
};

/* Quantize x (m, k) on the GPU into @da (per-block buffers). */
static void qvk_gpu_act_block(struct qvk_mm_act *da, const float *x, uint32_t m)
{
	struct qvk_device *dev = qvk_test_dev;
	struct qvk_pipeline_desc desc = {
		.shader = "act_quant_block", .n_bindings = 4,
		.push_bytes = sizeof(struct qvk_act_push), .n_spec = 1,
		.spec = { 64 },
	};
	struct qvk_act_push push = { da->k, da->k_padded, m, da->k };
	struct qvk_pipeline *pipe;
	struct qvk_cmd cmd;
	VkDescriptorSet set;

	qvk_buffer_fill_u32(da->qa, 0xdeadbeefu); /* poison */
	qvk_buffer_fill_u32(da->sa, 0x7fc00000u);
	qvk_buffer_fill_u32(da->suma, 0x80000000u);
	ck_assert_int_eq(qvk_buffer_write(da->x, 0, x, (VkDeviceSize)m * da->k * 4),
			 QVK_OK);
	ck_assert_int_eq(qvk_pipeline_create(dev, &desc, &pipe), QVK_OK);
	ck_assert_int_eq(qvk_descset_create(pipe,
					    (struct qvk_binding[]){
						    { da->x, 0, 0, 0 },
						    { da->qa, 0, 0, 0 },
						    { da->sa, 0, 0, 0 },
						    { da->suma, 0, 0, 0 } },
					    &set),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_cmd_dispatch(&cmd, pipe, set, &push,
			 QVK_DIV_ROUND_UP(m * (da->k_padded / 32), 64), 1, 1);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	qvk_cmd_finish(&cmd);
	qvk_descset_free(dev, &set, 1);
	qvk_pipeline_destroy(pipe);
}

static void qvk_check_act_block(uint32_t m, uint32_t n, uint32_t k,
				uint64_t *seed)
{
	struct qvk_ctx *ctx = qvk_test_ctx;
	float *x = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4);
	float *y = malloc((size_t)m * n * 4), *ref = malloc((size_t)m * n * 4);
	struct qvk_quant_params qp = qvk_quant_params_default(QVK_QFORMAT_Q4A, 64);
	struct qvk_qact *cpu, *gpu;
	struct qvk_mm_act *da;
	struct qvk_qtensor *qt;
	struct qvk_mm_weight *dw;
	struct qvk_buffer *yb;
	struct qvk_mm_binding bind;
	struct qvk_mm mm;
	struct qvk_cmd cmd;
	uint32_t nb, near_ties = 0;
	double worst = 0;

	ck_assert(x && w && y && ref);
	for (size_t i = 0; i < (size_t)m * k; i++)
		x[i] = qvk_test_normal(seed) * (i % 61 == 0 ? 30.0f : 1.0f);
	for (size_t i = 0; i < (size_t)n * k; i++)
		w[i] = 0.05f * qvk_test_normal(seed);
	ck_assert_int_eq(qvk_quantize_weights(ctx, "w", w, n, k, &qp, &qt), QVK_OK);
	ck_assert_int_eq(qvk_mm_act_create(qvk_test_dev, m, k, true, &da), QVK_OK);
	nb = da->k_padded / 32;
	ck_assert_int_eq(qvk_qact_create(ctx, QVK_ACT_PER_BLOCK32, m, k,
					 da->k_padded, &cpu),
			 QVK_OK);
	ck_assert_int_eq(qvk_qact_create(ctx, QVK_ACT_PER_BLOCK32, m, k,
					 da->k_padded, &gpu),
			 QVK_OK);
	ck_assert_int_eq(qvk_quantize_act(ctx, "x", x, cpu), QVK_OK);
	qvk_gpu_act_block(da, x, m);
	ck_assert_int_eq(qvk_buffer_read(da->qa, 0, gpu->qs,
					 (VkDeviceSize)m * da->k_padded),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(da->sa, 0, gpu->scales,
					 (VkDeviceSize)m * nb * 4),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(da->suma, 0, gpu->sums,
					 (VkDeviceSize)m * nb * 4),
			 QVK_OK);
	/*
	 * Scales within 2 ulp (GPU division need not be correctly rounded);
	 * codes equal, or one apart only where x/d sits within 1e-4 of a
	 * rounding tie; each sum exactly the sum of the GPU's own codes.
	 */
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t b = 0; b < nb; b++) {
			float dg = gpu->scales[i * nb + b], dc = cpu->scales[i * nb + b];
			int32_t s = 0;

			ck_assert_msg(fabsf(dg - dc) <= 2.5e-7f * fabsf(dc),
				      "scale [%u][%u] %g vs %g", i, b, dg, dc);
			for (uint32_t e = 0; e < 32; e++) {
				uint32_t kk = b * 32 + e;
				int cg = qvk_act_code(gpu, i, kk), cc = qvk_act_code(cpu, i, kk);
				double t = kk < k && dc > 0 ? x[(size_t)i * k + kk] / dc : 0;

				s += cg;
				if (cg == cc)
					continue;
				ck_assert_msg(abs(cg - cc) == 1 &&
						      fabs(fabs(t - trunc(t)) - 0.5) < 1e-4,
					      "code [%u][%u] GPU %d CPU %d (x/d %.7f)",
					      i, kk, cg, cc, t);
				near_ties++;
			}
			ck_assert_int_eq(s, gpu->sums[i * nb + b]);
		}

	/* The GPU's activations through the per-block matmul, exactly. */
	ck_assert_int_eq(qvk_ref_matmul_q(ctx, qt, gpu, ref), QVK_OK);
	ck_assert_int_eq(qvk_mm_init(qvk_test_dev, &mm), QVK_OK);
	ck_assert_int_eq(qvk_mm_weight_upload_q(qvk_test_dev, qt, &dw), QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(qvk_test_dev, QVK_MEM_READBACK,
					   (VkDeviceSize)m * n * 4, 4, &yb),
			 QVK_OK);
	qvk_buffer_fill_u32(yb, 0x7fc00000u);
	ck_assert_int_eq(qvk_mm_bind(&mm, dw, da, yb, n, false, NULL, &bind),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(qvk_test_dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_mm_record(&cmd, &bind, m);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(yb, 0, y, (VkDeviceSize)m * n * 4),
			 QVK_OK);
	/* Tolerance against Σ|x·w| of the dequantized pair: sums cancel. */
	qvk_qact_dequantize(gpu, x);
	qvk_qtensor_dequantize(qt, w);
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++) {
			double mag = 0, err = fabs((double)y[i * n + j] - ref[i * n + j]);

			for (uint32_t e = 0; e < k; e++)
				mag += fabs((double)x[(size_t)i * k + e] *
					    w[(size_t)j * k + e]);
			ck_assert_msg(isfinite(y[i * n + j]) && err <= 1e-5 * mag,
				      "y[%u][%u] %g vs %g (magnitude %g)", i, j,
				      y[i * n + j], ref[i * n + j], mag);
			worst = fmax(worst, mag > 0 ? err / mag : 0);
		}
	printf("  act/32 m%u k%u: %u codes one apart at rounding ties; q4a g64 "
	       "matmul on them: worst error %.2e of Σ|x·w| (bound 1e-5)\n", m, k, near_ties,
	       worst);
	qvk_cmd_finish(&cmd);
	qvk_mm_unbind(&bind);
	qvk_mm_finish(&mm);
	qvk_buffer_destroy(yb);
	qvk_mm_weight_destroy(dw);
	qvk_mm_act_destroy(da);
	qvk_qact_destroy(cpu);
	qvk_qact_destroy(gpu);
	qvk_qtensor_destroy(qt);
	free(x);
	free(w);
	free(y);
	free(ref);
}

START_TEST(test_act_block_matches_reference)
{
	uint64_t seed = qvk_test_seed("act per block");

	qvk_check_act_block(1, 33, 172, &seed);
	qvk_check_act_block(7, 65, 4352, &seed);
	qvk_check_act_block(64, 17, 256, &seed);
}
END_TEST

Suite *suite_act_block(void);
Suite *suite_act_block(void)
{
	Suite *s = suite_create("act_block");
	TCase *tc = tcase_create("gpu");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_act_block_matches_reference);
	suite_add_tcase(s, tc);
	return s;
}
