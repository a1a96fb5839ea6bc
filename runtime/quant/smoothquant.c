/* SPDX-License-Identifier: MIT */
/*
 * SmoothQuant (Xiao et al. 2023): move activation outliers into the
 * weights with per-input-channel scales s, and the scale-folding helpers
 * shared with AWQ. The fold keeps Y = X·Wᵀ = (X/s)·(W·s)ᵀ (quant.h).
 */
#include <math.h>

#include "quant/quant_internal.h"

void qvk_fold_scale_into_weight(float *w, uint32_t n, uint32_t k,
				const float *s)
{
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t j = 0; j < k; j++)
			w[(size_t)r * k + j] *= s[j];
}

void qvk_fold_scale_into_norm(float *norm_w, uint32_t k, const float *s)
{
	for (uint32_t j = 0; j < k; j++)
		norm_w[j] /= s[j];
}

void qvk_fold_scale_into_prev_rows(float *prev, uint32_t k, uint32_t k_prev,
				   const float *s)
{
	for (uint32_t j = 0; j < k; j++)
		for (uint32_t i = 0; i < k_prev; i++)
			prev[(size_t)j * k_prev + i] /= s[j];
}

void qvk_unfold_scale_from_act(float *x, uint32_t m, uint32_t k,
			       const float *s)
{
	for (uint32_t t = 0; t < m; t++)
		for (uint32_t j = 0; j < k; j++)
			x[(size_t)t * k + j] /= s[j];
}

/*
 * absmax[j] = max(absmax[j], |x[r][j]|) over the (@rows, @k) matrix @x;
 * a non-finite entry is refused as "@name: non-finite @what V at
 * @row_name R, column C" (the activations' and the weights' wording).
 */
static qvk_status qvk_absmax_columns(struct qvk_ctx *ctx, const char *name,
				     const char *what, const char *row_name,
				     const float *x, uint32_t rows, uint32_t k,
				     float *absmax)
{
	for (uint32_t r = 0; r < rows; r++) {
		const float *row = x + (size_t)r * k;
		size_t bad = qvk_find_nonfinite(row, k);

		if (bad < k)
			return qvk_error(ctx, QVK_ERR_NUMERIC,
					 "%s: non-finite %s %g at %s %u, column %zu",
					 name, what, (double)row[bad], row_name, r,
					 bad);
		for (uint32_t j = 0; j < k; j++)
			absmax[j] = fmaxf(absmax[j], fabsf(row[j]));
	}
	return QVK_OK;
}

qvk_status qvk_act_absmax_update(struct qvk_ctx *ctx, const char *name,
				 const float *x, uint32_t m, uint32_t k,
				 float *absmax)
{
	if (!name)
		name = "activations";
	if (!x || !absmax)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	return qvk_absmax_columns(ctx, name, "value", "token", x, m, k, absmax);
}

qvk_status qvk_smoothquant_scales(struct qvk_ctx *ctx, const char *name,
				  const float *act_absmax, const float *w,
				  uint32_t n, uint32_t k, float alpha, float *s)
{
	qvk_status st;

	if (!name)
		name = "smoothquant";
	if (!act_absmax || !w || !s || n == 0 || k == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: NULL argument or empty shape", name);
	if (!(alpha >= 0.0f && alpha <= 1.0f))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: alpha %g is not in [0, 1]", name,
				 (double)alpha);
	for (uint32_t j = 0; j < k; j++) {
		if (!isfinite(act_absmax[j]) || act_absmax[j] < 0.0f)
			return qvk_error(ctx, QVK_ERR_NUMERIC,
					 "%s: activation max %g at channel %u",
					 name, (double)act_absmax[j], j);
		s[j] = 0.0f; /* max |W_j| first */
	}
	st = qvk_absmax_columns(ctx, name, "weight", "row", w, n, k, s);
	if (st)
		return st;
	for (uint32_t j = 0; j < k; j++) {
		double v;

		if (act_absmax[j] == 0.0f || s[j] == 0.0f) {
			s[j] = 1.0f;
			continue;
		}
		v = pow(act_absmax[j], alpha) / pow(s[j], 1.0 - alpha);
		s[j] = (float)fmin(fmax(v, 1e-5), 1e5);
	}
	return QVK_OK;
}
