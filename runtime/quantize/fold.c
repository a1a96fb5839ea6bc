/* SPDX-License-Identifier: MIT */
/*
 * Smoothing scales for a whole model (AWQ, SmoothQuant), folded so that
 * they cost nothing at run time. Per site (the layers that read one
 * vector) one scale vector s: the layers' weight columns are multiplied by
 * s and the op that produces their input divides by s:
 *
 *   attention in  (wq, wk, wv)  attn_norm weight /= s
 *   attention out (wo)          wv rows /= s: out = softmax·V is linear in
 *                               V, and wo input channel i (head h, dim d)
 *                               is v channel (h / (n_heads/n_kv_heads),
 *                               d), so with grouped-query attention the
 *                               q heads that share a v head get one scale
 *                               (the geometric mean of theirs)
 *   FFN in        (w1, w3)      ffn_norm weight /= s
 *   FFN out       (w2)          w3 rows /= s: silu(w1 x)·(w3 x) is linear
 *                               in each row of w3
 *   classifier    (output)      output_norm weight /= s
 *
 * AWQ chooses s = mean|x|^α (normalised), α on a grid minimising the
 * stacked output error of the site's layers on sampled calibration rows
 * (α = 0 is plain RTN, so the search never does worse than RTN on them);
 * SmoothQuant takes s = max|x|^α / max|w|^(1−α) over the stacked weights.
 * A site's scale is chosen and folded as the layer is worked through, so
 * the next site's statistics come from the folded model: the fold keeps
 * the function, and each site's statistics are divided by its own s.
 * The search quantizes each matrix as planned (a Q4_K_M layer's attn_v
 * as Q6_K, say), round to nearest.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"
#include "quant/quant_internal.h"

#define QVK_AWQ_GRID 20u

/* wo input channel @i -> its v channel. */
static uint32_t qvk_v_channel(const struct qvk_site_desc *d, uint32_t i)
{
	return (i / d->head_dim / d->gqa_group) * d->head_dim +
	       i % d->head_dim;
}

/* Give the wo channels that share a v channel their geometric mean. */
static void qvk_tie_gqa(const struct qvk_site_desc *d, float *s, double *acc)
{
	if (!d->gqa_group || d->gqa_group == 1)
		return;
	memset(acc, 0, d->k * sizeof(*acc));
	for (uint32_t i = 0; i < d->k; i++)
		acc[qvk_v_channel(d, i)] += log((double)s[i]);
	for (uint32_t i = 0; i < d->k; i++)
		s[i] = (float)exp(acc[qvk_v_channel(d, i)] / d->gqa_group);
}

/*
 * Σ (Y − (X/s)·deq(Q(W·diag(s)))ᵀ)² over the sampled rows, each of the
 * site's matrices quantized as planned. @y: the float outputs (rows,
 * n_total); @wq, @ys scratch (the largest matrix, rows x its rows); @xs
 * (rows, k).
 */
static qvk_status qvk_awq_error(struct qvk_ctx *ctx,
				const struct qvk_site_desc *d,
				const struct qvk_calib_site *cs, const float *y,
				const float *s, float *wq, float *ws, float *xs,
				float *ys, double *err)
{
	uint32_t rows = cs->n_rows;
	size_t col = 0;
	qvk_status st = QVK_OK;

	memcpy(xs, cs->rows, (size_t)rows * d->k * sizeof(float));
	qvk_unfold_scale_from_act(xs, rows, d->k, s);
	*err = 0;
	for (uint32_t m = 0; st == QVK_OK && m < d->n_w; m++) {
		uint32_t n = d->rows[m];

		memcpy(ws, d->w[m], (size_t)n * d->k * sizeof(float));
		qvk_fold_scale_into_weight(ws, n, d->k, s);
		st = qvk_tensor_qdq(ctx, d->name, d->spec[m], ws, n, d->k, wq);
		if (st)
			break;
		qvk_gemm_nt(xs, wq, ys, rows, n, d->k, 0.0f);
		for (uint32_t t = 0; t < rows; t++)
			for (uint32_t j = 0; j < n; j++) {
				double e = (double)ys[(size_t)t * n + j] -
					   y[(size_t)t * d->n_total + col + j];

				*err += e * e;
			}
		col += n;
	}
	return st;
}

static void qvk_awq_scales(const struct qvk_site_desc *d, const double *mean,
			   float alpha, float *s, double *acc)
{
	float smax = 0.0f, smin = INFINITY, norm;

	for (uint32_t j = 0; j < d->k; j++)
		s[j] = powf(fmaxf((float)mean[j], 1e-4f), alpha);
	qvk_tie_gqa(d, s, acc);
	for (uint32_t j = 0; j < d->k; j++) {
		smax = fmaxf(smax, s[j]);
		smin = fminf(smin, s[j]);
	}
	norm = sqrtf(smax * smin);
	for (uint32_t j = 0; j < d->k; j++)
		s[j] /= norm;
}

/* AWQ's α search for one site into @s. */
static qvk_status qvk_awq_choose(struct qvk_ctx *ctx,
				 const struct qvk_site_desc *d,
				 const struct qvk_calib_site *cs, float *s,
				 double *acc)
{
	uint32_t rows = cs->n_rows, widest = 0;
	float *wq, *ws, *xs, *y, *ys;
	double *mean = malloc(d->k * sizeof(double)), best = INFINITY, err;
	float best_alpha = 0.0f;
	qvk_status st = QVK_OK;

	for (uint32_t m = 0; m < d->n_w; m++)
		widest = QVK_MAX(widest, d->rows[m]);
	wq = malloc((size_t)widest * d->k * sizeof(float));
	ws = malloc((size_t)widest * d->k * sizeof(float));
	xs = malloc(((size_t)rows * d->k + 1) * sizeof(float));
	y = malloc(((size_t)rows * d->n_total + 1) * sizeof(float));
	ys = malloc(((size_t)rows * widest + 1) * sizeof(float));
	if (!wq || !ws || !xs || !y || !ys || !mean) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "AWQ search of %s",
			       d->name);
		goto out;
	}
	for (uint32_t j = 0; j < d->k; j++)
		mean[j] = cs->sum_abs[j] / (double)QVK_MAX(cs->tokens, 1u);
	/* the float outputs, the site's matrices side by side */
	for (uint32_t m = 0, col = 0; m < d->n_w; col += d->rows[m], m++) {
		qvk_gemm_nt(cs->rows, d->w[m], ys, rows, d->rows[m], d->k, 0.0f);
		for (uint32_t t = 0; t < rows; t++)
			memcpy(y + (size_t)t * d->n_total + col,
			       ys + (size_t)t * d->rows[m],
			       d->rows[m] * sizeof(float));
	}
	for (uint32_t g = 0; st == QVK_OK && g < QVK_AWQ_GRID; g++) {
		float alpha = (float)g / QVK_AWQ_GRID;

		qvk_awq_scales(d, mean, alpha, s, acc);
		st = qvk_awq_error(ctx, d, cs, y, s, wq, ws, xs, ys, &err);
		if (st == QVK_OK && err < best) {
			best = err;
			best_alpha = alpha;
		}
	}
	if (st == QVK_OK) {
		qvk_awq_scales(d, mean, best_alpha, s, acc);
		qvk_log(ctx, QVK_LOG_DEBUG, "AWQ %s: alpha %.2f", d->name,
			(double)best_alpha);
	}
out:
	free(wq);
	free(ws);
	free(xs);
	free(y);
	free(ys);
	free(mean);
	return st;
}

/* SmoothQuant's s = max|x|^α / max|w|^(1−α) over the stacked matrices. */
static qvk_status qvk_smoothquant_choose(struct qvk_ctx *ctx,
					 const struct qvk_site_desc *d,
					 const struct qvk_calib_site *cs,
					 float alpha, float *s, double *acc)
{
	float *wmax = calloc(d->k, sizeof(float));
	qvk_status st;

	if (!wmax)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "SmoothQuant of %s",
				 d->name);
	/* max|W_j| over every row of every matrix: a one-row "matrix" */
	for (uint32_t m = 0; m < d->n_w; m++)
		for (size_t i = 0; i < (size_t)d->rows[m] * d->k; i++)
			wmax[i % d->k] = fmaxf(wmax[i % d->k], fabsf(d->w[m][i]));
	st = qvk_smoothquant_scales(ctx, d->name, cs->absmax, wmax, 1, d->k,
				    alpha, s);
	free(wmax);
	if (st == QVK_OK)
		qvk_tie_gqa(d, s, acc);
	return st;
}

static void qvk_site_fold(const struct qvk_site_desc *d,
			  struct qvk_calib_site *cs, const float *s, float *sv)
{
	for (uint32_t j = 0; j < d->n_w; j++)
		qvk_fold_scale_into_weight(d->w[j], d->rows[j], d->k, s);
	if (d->norm)
		qvk_fold_scale_into_norm(d->norm, d->k, s);
	if (d->prev && d->gqa_group) {
		/* tied: every wo channel of a v channel has the same s */
		for (uint32_t i = 0; i < d->k; i++)
			sv[qvk_v_channel(d, i)] = s[i];
		qvk_fold_scale_into_prev_rows(d->prev, d->k / d->gqa_group,
					      d->prev_cols, sv);
	} else if (d->prev) {
		qvk_fold_scale_into_prev_rows(d->prev, d->k, d->prev_cols, s);
	}
	if (cs->rows)
		qvk_unfold_scale_from_act(cs->rows, cs->n_rows, d->k, s);
	for (uint32_t j = 0; j < d->k; j++) {
		cs->sum_abs[j] /= s[j];
		cs->sum_sq[j] /= (double)s[j] * s[j];
		cs->absmax[j] /= s[j];
	}
}

qvk_status qvk_smooth_site(struct qvk_ctx *ctx, const struct qvk_site_desc *d,
			   struct qvk_calib_site *cs,
			   const struct qvk_quantize_options *opt, float *s)
{
	float *sv = malloc(d->k * sizeof(float));
	double *acc = malloc(d->k * sizeof(double));
	float alpha = opt->smooth_alpha > 0 ? opt->smooth_alpha : 0.5f;
	qvk_status st;

	if (!sv || !acc) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "smoothing scales of %s",
			       d->name);
		goto out;
	}
	st = opt->method == QVK_METHOD_AWQ ?
		     qvk_awq_choose(ctx, d, cs, s, acc) :
		     qvk_smoothquant_choose(ctx, d, cs, alpha, s, acc);
	if (st == QVK_OK)
		qvk_site_fold(d, cs, s, sv);
out:
	free(sv);
	free(acc);
	return st;
}
