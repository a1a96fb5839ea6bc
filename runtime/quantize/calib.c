/* SPDX-License-Identifier: MIT */
/*
 * Calibration statistics of a site (the layers that read one vector):
 * Σ|x|, Σx², max|x| per channel, optionally XᵀX (GPTQ's Hessian, fed to
 * the quantization core in batches of rows) and a sample of rows (AWQ's
 * scale search, which needs the products themselves). The batched pass
 * adds whole matrices of positions; the scalar reference forward pass
 * adds one position at a time through its capture hook, which is the
 * oracle the batched statistics are tested against.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

qvk_status qvk_calib_site_init(struct qvk_ctx *ctx, struct qvk_calib_site *s,
			       uint32_t k, bool hessian, uint32_t max_rows)
{
	size_t kk;
	bool ok;

	memset(s, 0, sizeof(*s));
	s->k = k;
	s->sum_abs = calloc(k, sizeof(double));
	s->sum_sq = calloc(k, sizeof(double));
	s->absmax = calloc(k, sizeof(float));
	ok = s->sum_abs && s->sum_sq && s->absmax && qvk_mul_size(k, k, &kk);
	if (ok && hessian) {
		s->xtx = calloc(kk, sizeof(float));
		s->pending = malloc((size_t)QVK_CALIB_BATCH * k * sizeof(float));
		ok = s->xtx && s->pending;
	}
	if (ok && max_rows) {
		s->max_rows = max_rows;
		s->rows = malloc((size_t)max_rows * k * sizeof(float));
		ok = s->rows != NULL;
	}
	if (!ok) {
		qvk_calib_site_finish(s);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration statistics "
				 "of %u channels%s", k, hessian ?
				 " with a Hessian" : "");
	}
	return QVK_OK;
}

void qvk_calib_site_finish(struct qvk_calib_site *s)
{
	free(s->sum_abs);
	free(s->sum_sq);
	free(s->absmax);
	free(s->xtx);
	free(s->pending);
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

qvk_status qvk_calib_site_flush(struct qvk_ctx *ctx, struct qvk_calib_site *s,
				const char *name)
{
	qvk_status st = QVK_OK;

	if (s->n_pending)
		st = qvk_gptq_hessian_add(ctx, name, s->pending, s->n_pending,
					  s->k, s->xtx);
	s->n_pending = 0;
	return st;
}

qvk_status qvk_calib_site_add(struct qvk_ctx *ctx, struct qvk_calib_site *s,
			      const char *name, const float *x, uint32_t t,
			      uint32_t stride)
{
	for (uint32_t r = 0; r < t; r++) {
		const float *row = x + (size_t)r * s->k;

		for (uint32_t j = 0; j < s->k; j++) {
			double a = fabs((double)row[j]);

			if (!isfinite(row[j]))
				return qvk_error(ctx, QVK_ERR_NUMERIC,
						 "calibration: input %u of %s "
						 "is not finite", j, name);
			s->sum_abs[j] += a;
			s->sum_sq[j] += a * a;
			s->absmax[j] = fmaxf(s->absmax[j], (float)a);
		}
		if (s->rows && stride && (s->tokens + r) % stride == 0 &&
		    s->n_rows < s->max_rows)
			memcpy(s->rows + (size_t)s->n_rows++ * s->k, row,
			       s->k * sizeof(*row));
	}
	s->tokens += t;
	if (!s->xtx)
		return QVK_OK;
	if (t >= QVK_CALIB_BATCH) { /* a whole matrix: one rank-t update */
		qvk_status st = qvk_calib_site_flush(ctx, s, name);

		return st ? st : qvk_gptq_hessian_add(ctx, name, x, t, s->k,
						      s->xtx);
	}
	for (uint32_t r = 0; r < t; r++) {
		memcpy(s->pending + (size_t)s->n_pending * s->k,
		       x + (size_t)r * s->k, s->k * sizeof(*x));
		if (++s->n_pending == QVK_CALIB_BATCH) {
			qvk_status st = qvk_calib_site_flush(ctx, s, name);

			if (st)
				return st;
		}
	}
	return QVK_OK;
}

qvk_status qvk_calib_site_copy(struct qvk_ctx *ctx, struct qvk_calib_site *dst,
			       const struct qvk_calib_site *src)
{
	qvk_status st = qvk_calib_site_init(ctx, dst, src->k, src->xtx != NULL,
					    0);

	if (st)
		return st;
	dst->tokens = src->tokens;
	memcpy(dst->sum_abs, src->sum_abs, src->k * sizeof(double));
	memcpy(dst->sum_sq, src->sum_sq, src->k * sizeof(double));
	memcpy(dst->absmax, src->absmax, src->k * sizeof(float));
	if (src->xtx)
		memcpy(dst->xtx, src->xtx, (size_t)src->k * src->k * sizeof(float));
	return QVK_OK;
}

void qvk_calib_site_importance(const struct qvk_calib_site *s, float *imp)
{
	for (uint32_t j = 0; j < s->k; j++)
		imp[j] = s->tokens ? (float)(s->sum_sq[j] / (double)s->tokens) :
				     1.0f;
}

void qvk_calib_destroy(struct qvk_calib *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->sites && i < c->n_sites; i++)
		qvk_calib_site_finish(&c->sites[i]);
	free(c->sites);
	free(c);
}

/* State of one reference calibration run, seen by the capture hook. */
struct qvk_calib_ref {
	struct qvk_ctx *ctx;
	const struct qvk_model *m;
	struct qvk_calib *c;
	uint32_t stride; /* sample every stride-th position */
	qvk_status st;   /* first error inside the hook */
};

/* The site that @w is the first reader of, or UINT32_MAX. */
static uint32_t qvk_calib_site_of(const struct qvk_model *m,
				  const struct qvk_host_tensor *w)
{
	if (w == &m->output || (m->params.shared_classifier &&
				w == &m->tok_embd))
		return qvk_site_index(m->params.n_layers, 0);
	for (uint32_t l = 0; l < m->params.n_layers; l++) {
		const struct qvk_layer_weights *L = &m->layers[l];

		if (w == &L->wq)
			return qvk_site_index(l, QVK_SITE_ATTN_IN);
		if (w == &L->wo)
			return qvk_site_index(l, QVK_SITE_ATTN_OUT);
		if (w == &L->w1)
			return qvk_site_index(l, QVK_SITE_FFN_IN);
		if (w == &L->w2)
			return qvk_site_index(l, QVK_SITE_FFN_OUT);
	}
	return UINT32_MAX; /* wk, wv, w3: the same input as wq, w1 */
}

static void qvk_calib_capture(void *user, const struct qvk_host_tensor *w,
			      const float *x)
{
	struct qvk_calib_ref *run = user;
	uint32_t i = qvk_calib_site_of(run->m, w);

	if (i == UINT32_MAX || run->st)
		return;
	run->st = qvk_calib_site_add(run->ctx, &run->c->sites[i], w->name, x,
				     1, run->stride);
}

qvk_status qvk_calib_run(struct qvk_ctx *ctx, const struct qvk_model *m,
			 const struct qvk_quantize_options *opt, bool hessian,
			 uint32_t max_rows, struct qvk_calib **out)
{
	const struct qvk_model_params *p = &m->params;
	uint32_t w = opt->calib_window ? opt->calib_window :
					 QVK_MIN(256u, p->seq_len);
	struct qvk_calib_ref run = { ctx, m, NULL, 1, QVK_OK };
	struct qvk_reference *ref = NULL;
	size_t n_windows, positions;
	qvk_status st = QVK_OK;

	*out = NULL;
	if (!opt->calib_tokens || !opt->n_calib_tokens || w < 2 ||
	    w > p->seq_len)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: no "
				 "tokens, or window %u outside 2..%u", w,
				 p->seq_len);
	n_windows = QVK_DIV_ROUND_UP(opt->n_calib_tokens, (size_t)w - 1);
	positions = opt->n_calib_tokens + n_windows;
	run.stride = max_rows ? (uint32_t)QVK_MAX((size_t)1, positions / max_rows) :
				0;
	run.c = calloc(1, sizeof(*run.c));
	if (run.c) {
		run.c->n_sites = p->n_layers * QVK_SITE_KINDS + 1;
		run.c->sites = calloc(run.c->n_sites, sizeof(*run.c->sites));
	}
	if (!run.c || !run.c->sites) {
		qvk_calib_destroy(run.c);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration");
	}
	for (uint32_t i = 0; st == QVK_OK && i < run.c->n_sites; i++) {
		uint32_t kind = i % QVK_SITE_KINDS;
		uint32_t k = i == run.c->n_sites - 1 ? p->dim :
			     kind == QVK_SITE_ATTN_OUT ? p->n_heads * p->head_dim :
			     kind == QVK_SITE_FFN_OUT ? p->hidden_dim : p->dim;

		st = qvk_calib_site_init(ctx, &run.c->sites[i], k, hessian,
					 max_rows);
	}
	if (st == QVK_OK)
		st = qvk_reference_create(ctx, m, &ref);
	if (ref)
		qvk_reference_set_capture(ref, qvk_calib_capture, &run);
	for (size_t wi = 0; st == QVK_OK && wi < n_windows; wi++) {
		size_t first = wi * (w - 1);
		size_t len = QVK_MIN((size_t)w - 1, opt->n_calib_tokens - first);
		const float *logits;

		for (uint32_t pos = 0; st == QVK_OK && pos <= len; pos++) {
			uint32_t tok = pos ? opt->calib_tokens[first + pos - 1] :
					     opt->bos;

			st = qvk_reference_forward(ref, tok, pos, &logits);
			if (st == QVK_OK)
				st = run.st;
		}
	}
	for (uint32_t i = 0; st == QVK_OK && hessian && i < run.c->n_sites; i++)
		st = qvk_calib_site_flush(ctx, &run.c->sites[i], "calibration");
	qvk_reference_destroy(ref);
	if (st) {
		qvk_calib_destroy(run.c);
		return st;
	}
	*out = run.c;
	return QVK_OK;
}
