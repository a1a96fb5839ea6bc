/* SPDX-License-Identifier: MIT */
/*
 * AWQ (Lin et al. 2023, "Activation-aware Weight Quantization"): protect
 * the input channels that see large activations by scaling them up in W
 * (and down in X, folded into the preceding op) before quantizing.
 *
 *   s(α)_j = max(mean_t |X_tj|, 1e-4)^α, normalised by sqrt(max s · min s)
 *   α*     = argmin_α ‖X·Wᵀ − (X/s)·Q(W·diag(s))ᵀ‖²  on a grid in [0, 1)
 *
 * The error of each α is one sgemm: E = X·(W − Q(W·s)/s)ᵀ over a sample of
 * the calibration rows. α = 0 is plain round-to-nearest, so the search
 * never does worse than RTN on its own sample. The clip search that
 * follows (qvk_awq_quantize) minimises the importance-weighted group error
 * Σ_j E[x_j²]/s_j² · e_j² per group: the diagonal of the layer's output
 * error, where AWQ's auto_clip evaluates the full product on 64 tokens.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"

static qvk_status awq_check(struct qvk_ctx *ctx, const char *name,
			    const float *x, uint32_t t, const float *w,
			    uint32_t n, uint32_t k,
			    const struct qvk_awq_params *p)
{
	qvk_status st;

	if (!x || !w || !p || t == 0 || n == 0 || k == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: NULL argument or empty shape", name);
	if ((uint64_t)n * k > ((uint64_t)1 << 34) || t > (1u << 26))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: %u x %u with %u tokens is too large", name,
				 n, k, t);
	st = qvk_check_finite(ctx, name, "weight", "row", w, n, k);
	if (st)
		return st;
	return qvk_check_finite(ctx, name, "calibration input", "token", x, t, k);
}

/* s_j for one α from the mean magnitudes, normalised. */
static void awq_scales(const float *mean_abs, uint32_t k, float alpha,
		       float *s)
{
	float smax = 0.0f, smin = INFINITY, norm;

	for (uint32_t j = 0; j < k; j++) {
		s[j] = powf(fmaxf(mean_abs[j], 1e-4f), alpha);
		smax = fmaxf(smax, s[j]);
		smin = fminf(smin, s[j]);
	}
	norm = sqrtf(smax * smin);
	for (uint32_t j = 0; j < k; j++)
		s[j] /= norm;
}

/* D = W − deq(Q(W·s))/s, the effective weight error, (n, k). */
static qvk_status awq_weight_error(struct qvk_ctx *ctx, const char *name,
				   const float *w, uint32_t n, uint32_t k,
				   const float *s,
				   const struct qvk_quant_params *qp, float *d)
{
	struct qvk_qtensor *qt;
	qvk_status st;
	size_t nk = (size_t)n * k;

	qvk_progress_fn progress = ctx ? ctx->progress_fn : NULL;

	memcpy(d, w, nk * sizeof(*d));
	qvk_fold_scale_into_weight(d, n, k, s);
	/* The search reports its own progress, not each trial's. */
	if (ctx)
		ctx->progress_fn = NULL;
	st = qvk_quantize_weights(ctx, name, d, n, k, qp, &qt);
	if (ctx)
		ctx->progress_fn = progress;
	if (st)
		return st;
	qvk_qtensor_dequantize(qt, d);
	qvk_qtensor_destroy(qt);
	for (size_t i = 0; i < nk; i++)
		d[i] = w[i] - d[i] / s[i % k];
	return QVK_OK;
}

qvk_status qvk_awq_search(struct qvk_ctx *ctx, const char *name,
			  const float *x, uint32_t t, const float *w,
			  uint32_t n, uint32_t k,
			  const struct qvk_awq_params *params, float *s,
			  float *alpha_out)
{
	struct qvk_quant_params qp;
	float *mean_abs = NULL, *cand = NULL, *d = NULL, *e = NULL, *xs = NULL;
	uint32_t grid, te;
	double best = INFINITY;
	qvk_status st;

	if (!name)
		name = "awq";
	st = awq_check(ctx, name, x, t, w, n, k, params);
	if (st)
		return st;
	if (!s)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: s is NULL", name);
	qp = params->quant;
	qp.clip = QVK_CLIP_MINMAX;
	qp.importance = NULL;
	grid = params->grid ? params->grid : 20;
	te = QVK_MIN(t, params->eval_tokens ? params->eval_tokens : 512);
	mean_abs = calloc(k, sizeof(*mean_abs));
	cand = malloc((size_t)k * sizeof(*cand));
	d = malloc((size_t)n * k * sizeof(*d));
	e = malloc((size_t)te * n * sizeof(*e));
	xs = malloc((size_t)te * k * sizeof(*xs));
	if (!mean_abs || !cand || !d || !e || !xs) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
		goto out_free;
	}
	for (uint32_t i = 0; i < t; i++)
		for (uint32_t j = 0; j < k; j++)
			mean_abs[j] += fabsf(x[(size_t)i * k + j]);
	for (uint32_t j = 0; j < k; j++)
		mean_abs[j] /= (float)t;
	/* Evenly spaced calibration rows: te of t. */
	for (uint32_t i = 0; i < te; i++)
		memcpy(xs + (size_t)i * k, x + (size_t)((uint64_t)i * t / te) * k,
		       (size_t)k * sizeof(*xs));
	for (uint32_t gi = 0; gi < grid; gi++) {
		float alpha = (float)gi / (float)grid;
		double err = 0.0;

		awq_scales(mean_abs, k, alpha, cand);
		st = awq_weight_error(ctx, name, w, n, k, cand, &qp, d);
		if (st)
			goto out_free;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)te,
			    (int)n, (int)k, 1.0f, xs, (int)k, d, (int)k, 0.0f,
			    e, (int)n);
		for (size_t i = 0; i < (size_t)te * n; i++)
			err += (double)e[i] * e[i];
		qvk_log(ctx, QVK_LOG_DEBUG, "%s: alpha %.2f error %g", name,
			(double)alpha, err);
		if (err < best) {
			best = err;
			memcpy(s, cand, (size_t)k * sizeof(*s));
			if (alpha_out)
				*alpha_out = alpha;
		}
		qvk_progress(ctx, name, gi + 1, grid);
	}
	st = QVK_OK;
out_free:
	free(xs);
	free(e);
	free(d);
	free(cand);
	free(mean_abs);
	return st;
}

qvk_status qvk_awq_quantize(struct qvk_ctx *ctx, const char *name,
			    const float *x, uint32_t t, const float *w,
			    uint32_t n, uint32_t k, const float *s,
			    const struct qvk_awq_params *params,
			    struct qvk_qtensor **out)
{
	struct qvk_quant_params qp;
	float *ws = NULL, *imp = NULL;
	qvk_status st;

	if (!name)
		name = "awq";
	if (!out || !s)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	*out = NULL;
	st = awq_check(ctx, name, x, t, w, n, k, params);
	if (st)
		return st;
	for (uint32_t j = 0; j < k; j++)
		if (!isfinite(s[j]) || !(s[j] > 0.0f))
			return qvk_error(ctx, QVK_ERR_NUMERIC,
					 "%s: scale %g at channel %u is not a "
					 "positive number", name, (double)s[j], j);
	qp = params->quant;
	ws = malloc((size_t)n * k * sizeof(*ws));
	imp = calloc(k, sizeof(*imp));
	if (!ws || !imp) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
		goto out_free;
	}
	memcpy(ws, w, (size_t)n * k * sizeof(*ws));
	qvk_fold_scale_into_weight(ws, n, k, s);
	if (params->clip_search) {
		for (uint32_t i = 0; i < t; i++)
			for (uint32_t j = 0; j < k; j++) {
				float v = x[(size_t)i * k + j];

				imp[j] += v * v;
			}
		for (uint32_t j = 0; j < k; j++)
			imp[j] = imp[j] / (float)t / (s[j] * s[j]);
		qp.clip = QVK_CLIP_MSE;
		qp.importance = imp;
	}
	st = qvk_quantize_weights(ctx, name, ws, n, k, &qp, out);
out_free:
	free(imp);
	free(ws);
	return st;
}
