/* SPDX-License-Identifier: MIT */
/*
 * Scalar references: the float matmul and the exact integer matmul of a
 * quantized weight and quantized activations. These are the oracles of the
 * GPU tests, so they favour obviousness over speed; the accumulation order
 * of the integer path is the one quant.h documents.
 */
#include <math.h>

#include "quant/quant_internal.h"

void qvk_ref_matmul_f32(const float *x, const float *w, float *y, uint32_t m,
			uint32_t n, uint32_t k)
{
	for (uint32_t i = 0; i < m; i++) {
		const float *xr = x + (size_t)i * k;

		for (uint32_t j = 0; j < n; j++) {
			const float *wr = w + (size_t)j * k;
			double acc = 0.0;

			for (uint32_t l = 0; l < k; l++)
				acc += (double)xr[l] * (double)wr[l];
			y[(size_t)i * n + j] = (float)acc;
		}
	}
}

uint32_t qvk_ref_qdot_units(const struct qvk_qtensor *w,
			    const struct qvk_qact *a)
{
	uint32_t unit = a->granularity == QVK_ACT_PER_TOKEN ? w->group : 32;

	return w->k_padded / unit;
}

static qvk_status check_pair(struct qvk_ctx *ctx, const struct qvk_qtensor *w,
			     const struct qvk_qact *a, const void *out)
{
	if (!w || !a || !out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "reference matmul: NULL argument");
	if (w->k != a->k || a->k_padded < w->k_padded)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "reference matmul: weight k=%u (padded %u) and "
				 "activation k=%u (padded %u) do not match",
				 w->k, w->k_padded, a->k, a->k_padded);
	return QVK_OK;
}

/* The signed value a stored code stands for in the dot (quant.h). */
static inline int32_t dot_code(const struct qvk_qtensor *w, uint32_t row,
			       uint32_t k)
{
	int c = qvk_qtensor_get_code(w, row, k);

	return w->format == QVK_QFORMAT_Q4 ? c - 8 : c;
}

static inline int32_t act_code(const struct qvk_qact *a, uint32_t t,
			       uint32_t k)
{
	return (int8_t)(uint8_t)(a->qs[(size_t)t * a->row_words + k / 4] >>
				 (8 * (k % 4)));
}

qvk_status qvk_ref_qdots(struct qvk_ctx *ctx, const struct qvk_qtensor *w,
			 const struct qvk_qact *a, int32_t *dots)
{
	qvk_status st = check_pair(ctx, w, a, dots);
	uint32_t units, unit;

	if (st)
		return st;
	units = qvk_ref_qdot_units(w, a);
	unit = w->k_padded / units;
	for (uint32_t i = 0; i < a->m; i++)
		for (uint32_t j = 0; j < w->n; j++)
			for (uint32_t u = 0; u < units; u++) {
				int32_t acc = 0;

				for (uint32_t l = u * unit; l < (u + 1) * unit; l++)
					acc += act_code(a, i, l) * dot_code(w, j, l);
				dots[((size_t)i * w->n + j) * units + u] = acc;
			}
	return QVK_OK;
}

qvk_status qvk_ref_matmul_q(struct qvk_ctx *ctx, const struct qvk_qtensor *w,
			    const struct qvk_qact *a, float *y)
{
	qvk_status st = check_pair(ctx, w, a, y);
	uint32_t units, unit, blocks_a;

	if (st)
		return st;
	units = qvk_ref_qdot_units(w, a);
	unit = w->k_padded / units;
	blocks_a = a->k_padded / 32;
	for (uint32_t i = 0; i < a->m; i++) {
		for (uint32_t j = 0; j < w->n; j++) {
			float acc = 0.0f;

			for (uint32_t u = 0; u < units; u++) {
				int32_t dot = 0, sum = 0;
				uint32_t k0 = u * unit;
				size_t gi = (size_t)j * w->n_groups + k0 / w->group;
				float dw = qvk_fp16_to_f32(w->scales[gi]);
				float da = a->scales[(size_t)i * a->n_scales +
						     (a->n_scales == 1 ? 0 : k0 / 32)];
				float t;

				for (uint32_t l = k0; l < k0 + unit; l++)
					dot += act_code(a, i, l) * dot_code(w, j, l);
				for (uint32_t b = k0 / 32; b < (k0 + unit) / 32; b++)
					sum += a->sums[(size_t)i * blocks_a + b];
				t = (float)dot * dw;
				if (w->format == QVK_QFORMAT_Q4A)
					t = fmaf((float)sum,
						 qvk_fp16_to_f32(w->mins[gi]), t);
				acc = fmaf(t, da, acc);
			}
			y[(size_t)i * w->n + j] = acc;
		}
	}
	return QVK_OK;
}
