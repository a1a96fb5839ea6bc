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
 * All scales are chosen on the unfolded model first, then folded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

#define QVK_AWQ_GRID 20u

struct qvk_site_desc {
	const char *name;
	float *w[3];
	uint32_t rows[3];
	uint32_t n_w, k, n_total;
	float *norm;        /* (k) norm weight before the site, or NULL */
	float *prev;        /* rows to divide (wv or w3), or NULL */
	uint32_t prev_cols; /* columns of prev */
	uint32_t gqa_group; /* wo: n_heads / n_kv_heads, else 0 */
	uint32_t head_dim;
};

static void qvk_site_describe(struct qvk_fmodel *fm, uint32_t i,
			      struct qvk_site_desc *d)
{
	struct qvk_model *m = &fm->m;
	const struct qvk_model_params *p = &m->params;
	uint32_t l = i / QVK_SITE_KINDS, kind = i % QVK_SITE_KINDS;
	struct qvk_layer_weights *L = l < p->n_layers ? &m->layers[l] : NULL;
	const struct qvk_host_tensor *t[3] = { NULL, NULL, NULL };

	memset(d, 0, sizeof(*d));
	if (!L) {
		t[0] = &m->output;
		d->norm = qvk_fmodel_data(&m->output_norm);
	} else if (kind == QVK_SITE_ATTN_IN) {
		t[0] = &L->wq, t[1] = &L->wk, t[2] = &L->wv;
		d->norm = qvk_fmodel_data(&L->attn_norm);
	} else if (kind == QVK_SITE_ATTN_OUT) {
		t[0] = &L->wo;
		d->prev = qvk_fmodel_data(&L->wv);
		d->prev_cols = p->dim;
		d->gqa_group = p->n_heads / p->n_kv_heads;
		d->head_dim = p->head_dim;
	} else if (kind == QVK_SITE_FFN_IN) {
		t[0] = &L->w1, t[1] = &L->w3;
		d->norm = qvk_fmodel_data(&L->ffn_norm);
	} else {
		t[0] = &L->w2;
		d->prev = qvk_fmodel_data(&L->w3);
		d->prev_cols = p->dim;
	}
	d->name = t[0]->name;
	d->k = (uint32_t)t[0]->ne[0];
	for (uint32_t j = 0; j < 3 && t[j]; j++) {
		d->w[j] = qvk_fmodel_data(t[j]);
		d->rows[j] = (uint32_t)qvk_host_tensor_rows(t[j]);
		d->n_total += d->rows[j];
		d->n_w++;
	}
}

/* wo input channel @i -> its v channel. */
static uint32_t qvk_v_channel(const struct qvk_site_desc *d, uint32_t i)
{
	return (i / d->head_dim / d->gqa_group) * d->head_dim +
	       i % d->head_dim;
}

/* Give the wo channels that share a v channel their geometric mean. */
static void qvk_tie_gqa(const struct qvk_site_desc *d, float *s,
			double *acc, uint32_t n_v)
{
	if (!d->gqa_group || d->gqa_group == 1)
		return;
	memset(acc, 0, n_v * sizeof(*acc));
	for (uint32_t i = 0; i < d->k; i++)
		acc[qvk_v_channel(d, i)] += log((double)s[i]);
	for (uint32_t i = 0; i < d->k; i++)
		s[i] = (float)exp(acc[qvk_v_channel(d, i)] / d->gqa_group);
}

/* The site's weights stacked along N into @ws (n_total, k). */
static void qvk_site_stack(const struct qvk_site_desc *d, float *ws)
{
	size_t off = 0;

	for (uint32_t j = 0; j < d->n_w; j++) {
		memcpy(ws + off, d->w[j], (size_t)d->rows[j] * d->k * sizeof(float));
		off += (size_t)d->rows[j] * d->k;
	}
}

/* Σ (Y - (X/s)·deq(Q(W·diag(s)))ᵀ)² over the sampled rows. */
static qvk_status qvk_awq_error(struct qvk_ctx *ctx,
				const struct qvk_site_desc *d,
				const struct qvk_calib_site *cs,
				const float *ws, const float *y,
				const float *s, const struct qvk_quant_params *qp,
				float *wq, float *xs, double *err)
{
	size_t nk = (size_t)d->n_total * d->k;
	qvk_progress_fn progress = ctx ? ctx->progress_fn : NULL;
	struct qvk_qtensor *qt;
	qvk_status st;

	memcpy(wq, ws, nk * sizeof(float));
	qvk_fold_scale_into_weight(wq, d->n_total, d->k, s);
	/* One trial of the search: the search reports progress, not it. */
	if (ctx)
		ctx->progress_fn = NULL;
	st = qvk_quantize_weights(ctx, d->name, wq, d->n_total, d->k, qp, &qt);
	if (ctx)
		ctx->progress_fn = progress;
	if (st)
		return st;
	qvk_qtensor_dequantize(qt, wq);
	qvk_qtensor_destroy(qt);
	memcpy(xs, cs->rows, (size_t)cs->n_rows * d->k * sizeof(float));
	qvk_unfold_scale_from_act(xs, cs->n_rows, d->k, s);
	*err = 0;
	for (uint32_t t = 0; t < cs->n_rows; t++) {
		const float *x = xs + (size_t)t * d->k;

		for (uint32_t n = 0; n < d->n_total; n++) {
			const float *w = wq + (size_t)n * d->k;
			float acc = 0.0f;

			for (uint32_t j = 0; j < d->k; j++)
				acc += x[j] * w[j];
			acc -= y[(size_t)t * d->n_total + n];
			*err += (double)acc * acc;
		}
	}
	return QVK_OK;
}

static void qvk_awq_scales(const struct qvk_site_desc *d, const double *mean,
			   float alpha, float *s, double *acc, uint32_t n_v)
{
	float smax = 0.0f, smin = INFINITY, norm;

	for (uint32_t j = 0; j < d->k; j++)
		s[j] = powf(fmaxf((float)mean[j], 1e-4f), alpha);
	qvk_tie_gqa(d, s, acc, n_v);
	for (uint32_t j = 0; j < d->k; j++) {
		smax = fmaxf(smax, s[j]);
		smin = fminf(smin, s[j]);
	}
	norm = sqrtf(smax * smin);
	for (uint32_t j = 0; j < d->k; j++)
		s[j] /= norm;
}

/* AWQ's α search for one site into @s. */
static qvk_status qvk_awq_site(struct qvk_ctx *ctx,
			       const struct qvk_site_desc *d,
			       const struct qvk_calib_site *cs,
			       const struct qvk_quantize_options *opt,
			       float *s, double *acc, uint32_t n_v)
{
	size_t nk = (size_t)d->n_total * d->k;
	struct qvk_quant_params qp = qvk_quant_params_default(
		opt->format == QVK_WEIGHTS_Q4 ? QVK_QFORMAT_Q4 :
		opt->format == QVK_WEIGHTS_Q4A ? QVK_QFORMAT_Q4A :
						 QVK_QFORMAT_Q8, opt->group);
	float *ws = malloc(nk * sizeof(float)), *wq = malloc(nk * sizeof(float));
	float *xs = malloc((size_t)cs->n_rows * d->k * sizeof(float));
	float *y = malloc((size_t)cs->n_rows * d->n_total * sizeof(float));
	double *mean = malloc(d->k * sizeof(double)), best = INFINITY, err;
	float best_alpha = 0.0f;
	qvk_status st = QVK_OK;

	if (!ws || !wq || !xs || !y || !mean) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "AWQ search of %s",
			       d->name);
		goto out;
	}
	qvk_site_stack(d, ws);
	for (uint32_t j = 0; j < d->k; j++)
		mean[j] = cs->sum_abs[j] / (double)QVK_MAX(cs->tokens, 1u);
	qvk_ref_matmul_f32(cs->rows, ws, y, cs->n_rows, d->n_total, d->k);
	for (uint32_t g = 0; st == QVK_OK && g < QVK_AWQ_GRID; g++) {
		float alpha = (float)g / QVK_AWQ_GRID;

		qvk_awq_scales(d, mean, alpha, s, acc, n_v);
		st = qvk_awq_error(ctx, d, cs, ws, y, s, &qp, wq, xs, &err);
		if (st == QVK_OK && err < best) {
			best = err;
			best_alpha = alpha;
		}
	}
	if (st == QVK_OK) {
		qvk_awq_scales(d, mean, best_alpha, s, acc, n_v);
		qvk_log(ctx, QVK_LOG_DEBUG, "AWQ %s: alpha %.2f", d->name,
			(double)best_alpha);
	}
out:
	free(ws);
	free(wq);
	free(xs);
	free(y);
	free(mean);
	return st;
}

static qvk_status qvk_smooth_site(struct qvk_ctx *ctx,
				  const struct qvk_site_desc *d,
				  const struct qvk_calib_site *cs, float alpha,
				  float *s, double *acc, uint32_t n_v)
{
	float *ws = malloc((size_t)d->n_total * d->k * sizeof(float));
	qvk_status st;

	if (!ws)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "SmoothQuant of %s",
				 d->name);
	qvk_site_stack(d, ws);
	st = qvk_smoothquant_scales(ctx, d->name, cs->absmax, ws, d->n_total,
				    d->k, alpha, s);
	free(ws);
	if (st == QVK_OK)
		qvk_tie_gqa(d, s, acc, n_v);
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

qvk_status qvk_smooth_fold(struct qvk_ctx *ctx, struct qvk_fmodel *fm,
			   struct qvk_calib *c,
			   const struct qvk_quantize_options *opt)
{
	const struct qvk_model_params *p = &fm->m.params;
	uint32_t widest = QVK_MAX(QVK_MAX(p->dim, p->hidden_dim),
				  p->n_heads * p->head_dim);
	float **scales = calloc(c->n_sites, sizeof(*scales));
	float *sv = malloc(widest * sizeof(float));
	double *acc = malloc(widest * sizeof(double));
	float alpha = opt->smooth_alpha > 0 ? opt->smooth_alpha : 0.5f;
	qvk_status st = QVK_OK;

	if (!scales || !sv || !acc) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "smoothing scales");
		goto out;
	}
	/* choose every scale on the unfolded model, then fold them all */
	for (uint32_t i = 0; st == QVK_OK && i < c->n_sites; i++) {
		struct qvk_site_desc d;

		qvk_site_describe(fm, i, &d);
		scales[i] = malloc(d.k * sizeof(float));
		if (!scales[i]) {
			st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "scales");
			break;
		}
		if (opt->method == QVK_METHOD_AWQ)
			st = qvk_awq_site(ctx, &d, &c->sites[i], opt, scales[i],
					  acc, widest);
		else
			st = qvk_smooth_site(ctx, &d, &c->sites[i], alpha,
					     scales[i], acc, widest);
		qvk_progress(ctx, opt->method == QVK_METHOD_AWQ ?
				 "AWQ scale search" : "SmoothQuant scales",
			     (double)i + 1, (double)c->n_sites);
	}
	for (uint32_t i = 0; st == QVK_OK && i < c->n_sites; i++) {
		struct qvk_site_desc d;

		qvk_site_describe(fm, i, &d);
		qvk_site_fold(&d, &c->sites[i], scales[i], sv);
	}
out:
	for (uint32_t i = 0; scales && i < c->n_sites; i++)
		free(scales[i]);
	free(scales);
	free(sv);
	free(acc);
	return st;
}
