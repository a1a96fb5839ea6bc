/* SPDX-License-Identifier: MIT */
/*
 * Round-to-nearest weight quantization: the scale (and min) of a group from
 * its range, rounded to fp16 so that the range still fits, then every code
 * computed with the stored scale. Clipping chooses the range (clip.c).
 */
#include <math.h>
#include <stdlib.h>

#include "quant/quant_internal.h"

uint16_t qvk_fp16_ceil_mag(float v)
{
	uint16_t h = qvk_fp16_from_f32(v);

	/* Sign-magnitude: one more in the low bits is one ulp further out. */
	if (fabsf(qvk_fp16_to_f32(h)) < fabsf(v))
		h++;
	return h;
}

static int fit_q8(float lo, float hi, struct qvk_qgroup *g)
{
	float amax = fmaxf(fabsf(lo), fabsf(hi));

	g->m = 0.0f;
	g->m16 = 0;
	g->d16 = qvk_fp16_ceil_mag(amax / 127.0f);
	g->d = qvk_fp16_to_f32(g->d16);
	return isfinite(g->d) ? 0 : -1;
}

/*
 * Codes -8..7: with d > 0 positive values may reach 7.5 steps and negative
 * ones 8.5 steps and still round within half a step (the clamp takes 8 to
 * 7 and -9 to -8); with d < 0 the roles swap. The smaller |d| wins.
 */
static int fit_q4(float lo, float hi, struct qvk_qgroup *g)
{
	float pos = fmaxf(hi, 0.0f), neg = fmaxf(-lo, 0.0f);
	float d_pos = fmaxf(pos / 7.5f, neg / 8.5f);
	float d_neg = fmaxf(neg / 7.5f, pos / 8.5f);
	float d = d_neg < d_pos ? -d_neg : d_pos;

	g->m = 0.0f;
	g->m16 = 0;
	g->d16 = qvk_fp16_ceil_mag(d);
	g->d = qvk_fp16_to_f32(g->d16);
	return isfinite(g->d) ? 0 : -1;
}

/*
 * [min(lo,0), max(hi,0)] with m = -z*d for an integer z = round(-lo/d): 0.0
 * is then the exact code z. d >= (hi-lo)/15 keeps every value within half a
 * step of a code (lo within half a step below -z*d by the rounding of z,
 * hi within (15-z)*d + d/2 since 15d + lo <= 15d - (z - 1/2)d). -z*d must
 * also be an fp16 value: d steps up one fp16 ulp at a time until it is
 * (at most 16 steps: a significand divisible by 16 always works).
 */
static int fit_q4a(float lo, float hi, struct qvk_qgroup *g)
{
	float lo0 = fminf(lo, 0.0f), hi0 = fmaxf(hi, 0.0f);
	uint16_t h;

	if (hi0 - lo0 == 0.0f) {
		g->d = g->m = 0.0f;
		g->d16 = g->m16 = 0;
		return 0;
	}
	h = qvk_fp16_ceil_mag((hi0 - lo0) / 15.0f);
	for (int tries = 0; tries < 64; tries++, h++) {
		float d = qvk_fp16_to_f32(h);
		float z, mz;
		uint16_t m16;

		if (!isfinite(d))
			return -1;
		z = fminf(fmaxf(roundf(-lo0 / d), 0.0f), 15.0f);
		mz = -z * d; /* exact in float: 11 x 4 significant bits */
		m16 = qvk_fp16_from_f32(mz);
		if (qvk_fp16_to_f32(m16) == mz) {
			g->d = d;
			g->d16 = h;
			g->m = mz;
			g->m16 = m16;
			return 0;
		}
	}
	return -1;
}

int qvk_qgroup_fit(enum qvk_qformat format, float lo, float hi,
		   struct qvk_qgroup *g)
{
	switch (format) {
	case QVK_QFORMAT_Q8:
		return fit_q8(lo, hi, g);
	case QVK_QFORMAT_Q4:
		return fit_q4(lo, hi, g);
	case QVK_QFORMAT_Q4A:
		return fit_q4a(lo, hi, g);
	}
	return -1;
}

struct qvk_quant_params qvk_quant_params_default(enum qvk_qformat format,
						 uint32_t group)
{
	struct qvk_quant_params p = {
		.format = format,
		.group = group,
		.clip = QVK_CLIP_MINMAX,
		.percentile = 99.9f,
		.mse_steps = 20,
		.mse_min_shrink = 0.5f,
		.importance = NULL,
	};
	return p;
}

static qvk_status check_params(struct qvk_ctx *ctx, const char *name,
			       const struct qvk_quant_params *p)
{
	if (!p || !qvk_qformat_name(p->format))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: unknown quantization format", name);
	if (p->clip == QVK_CLIP_PERCENTILE &&
	    !(p->percentile > 50.0f && p->percentile <= 100.0f))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: percentile %g is not in (50, 100]", name,
				 (double)p->percentile);
	if (p->clip == QVK_CLIP_MSE &&
	    !(p->mse_min_shrink >= 0.0f && p->mse_min_shrink <= 1.0f))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: mse_min_shrink %g is not in [0, 1]", name,
				 (double)p->mse_min_shrink);
	if (p->clip != QVK_CLIP_MINMAX && p->clip != QVK_CLIP_PERCENTILE &&
	    p->clip != QVK_CLIP_MSE)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: unknown clipping method %d", name,
				 (int)p->clip);
	return QVK_OK;
}

qvk_status qvk_quantize_weights(struct qvk_ctx *ctx, const char *name,
				const float *w, uint32_t n, uint32_t k,
				const struct qvk_quant_params *params,
				struct qvk_qtensor **out)
{
	struct qvk_qtensor *qt = NULL;
	float *scratch = NULL;
	qvk_status st;

	if (!name)
		name = "weights";
	if (!out || !w)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	*out = NULL;
	st = check_params(ctx, name, params);
	if (st)
		return st;
	for (uint32_t j = 0; params->importance && j < k; j++)
		if (!isfinite(params->importance[j]) || params->importance[j] < 0.0f)
			return qvk_error(ctx, QVK_ERR_NUMERIC,
					 "%s: importance %g at column %u is not a "
					 "finite number >= 0", name,
					 (double)params->importance[j], j);
	st = qvk_qtensor_create(ctx, params->format, n, k, params->group, &qt);
	if (st)
		return st;
	scratch = malloc((size_t)qt->group * sizeof(*scratch));
	if (!scratch) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
		goto out_destroy_tensor;
	}
	for (uint32_t r = 0; r < n; r++) {
		const float *row = w + (size_t)r * k;
		size_t bad = qvk_find_nonfinite(row, k);

		if (bad < k) {
			st = qvk_error(ctx, QVK_ERR_NUMERIC,
				       "%s: non-finite value %g at row %u, column %zu",
				       name, (double)row[bad], r, bad);
			goto out_free_scratch;
		}
		for (uint32_t g = 0; g < qt->n_groups; g++) {
			uint32_t k0 = g * qt->group;
			uint32_t count = QVK_MIN(qt->group, k - k0);
			const float *imp = params->importance ?
						   params->importance + k0 : NULL;
			struct qvk_qgroup gp;

			if (qvk_qgroup_choose(params, row + k0, count, imp,
					      scratch, &gp)) {
				st = qvk_error(ctx, QVK_ERR_NUMERIC,
					       "%s: group at row %u, column %u has a "
					       "range too large for an fp16 scale",
					       name, r, k0);
				goto out_free_scratch;
			}
			qvk_qtensor_write_group(qt, r, g, &gp, row + k0, count);
		}
		if ((r & 255) == 255 || r + 1 == n)
			qvk_progress(ctx, name, r + 1, n);
	}
	free(scratch);
	*out = qt;
	return QVK_OK;

out_free_scratch:
	free(scratch);
out_destroy_tensor:
	qvk_qtensor_destroy(qt);
	return st;
}
