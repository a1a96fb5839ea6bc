/* SPDX-License-Identifier: MIT */
/*
 * The float working copy of a model, and calibration: the calibration text
 * runs through the scalar reference forward pass, whose capture hook hands
 * over the input of every linear layer; per site (the layers that read one
 * vector) we keep Σ|x|, Σx², max|x|, optionally XᵀX (GPTQ's Hessian, fed to
 * the quantization core in batches of rows) and a sample of rows (AWQ's
 * search, which needs the products themselves).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

void qvk_fmodel_destroy(struct qvk_fmodel *fm)
{
	if (!fm)
		return;
	for (uint32_t i = 0; fm->bufs && i < fm->n_bufs; i++)
		free(fm->bufs[i]);
	free(fm->bufs);
	free(fm->m.layers);
	free(fm);
}

qvk_status qvk_fmodel_create(struct qvk_ctx *ctx, const struct qvk_model *src,
			     struct qvk_fmodel **out)
{
	struct qvk_fmodel *fm = calloc(1, sizeof(*fm));
	qvk_status st = QVK_OK;

	*out = NULL;
	if (!fm)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "float model");
	fm->m = *src;
	fm->m.gguf = NULL;
	fm->m.map = NULL;
	fm->m.map_size_bytes = 0;
	fm->m.layers = calloc(src->params.n_layers, sizeof(*fm->m.layers));
	if (fm->m.layers)
		memcpy(fm->m.layers, src->layers,
		       src->params.n_layers * sizeof(*fm->m.layers));
	/* The classifier gets its own copy: it is quantized (and maybe
	 * scaled), the embedding is not. */
	if (src->params.shared_classifier) {
		fm->m.params.shared_classifier = false;
		fm->m.output = src->tok_embd;
		snprintf(fm->m.output.name, sizeof(fm->m.output.name),
			 "output.weight");
	}
	fm->n_bufs = qvk_model_tensor_count(&fm->m);
	fm->bufs = calloc(fm->n_bufs, sizeof(*fm->bufs));
	if (!fm->m.layers || !fm->bufs) {
		qvk_fmodel_destroy(fm);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "float model");
	}
	for (uint32_t i = 0; st == QVK_OK && i < fm->n_bufs; i++) {
		struct qvk_host_tensor *t = (struct qvk_host_tensor *)
			(uintptr_t)qvk_model_tensor_at(&fm->m, i);
		uint64_t rows = qvk_host_tensor_rows(t), k = t->ne[0];
		size_t bytes;

		if (!qvk_mul_size(rows * k, sizeof(float), &bytes) ||
		    rows > UINT32_MAX || k > UINT32_MAX ||
		    !(fm->bufs[i] = malloc(bytes ? bytes : 1))) {
			st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "float copy of "
				       "%s", t->name);
			break;
		}
		for (uint64_t r = 0; st == QVK_OK && r < rows; r++)
			st = qvk_host_tensor_row(t, r, fm->bufs[i] + r * k);
		if (st) {
			st = qvk_error(ctx, st, "tensor %s: cannot read its "
				       "rows", t->name);
			break;
		}
		t->type = QVK_GGML_TYPE_F32;
		t->data = fm->bufs[i];
		t->size_bytes = bytes;
	}
	if (st) {
		qvk_fmodel_destroy(fm);
		return st;
	}
	*out = fm;
	return QVK_OK;
}

void qvk_calib_destroy(struct qvk_calib *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->sites && i < c->n_sites; i++) {
		struct qvk_calib_site *s = &c->sites[i];

		free(s->sum_abs);
		free(s->sum_sq);
		free(s->absmax);
		free(s->xtx);
		free(s->pending);
		free(s->rows);
	}
	free(c->sites);
	free(c);
}

/* State of one calibration run, seen by the capture hook. */
struct qvk_calib_run {
	struct qvk_ctx *ctx;
	const struct qvk_model *m;
	struct qvk_calib *c;
	bool sample;   /* keep this position's rows */
	qvk_status st; /* first error inside the hook */
};

/* The site that @w is the first reader of, or UINT32_MAX. */
static uint32_t qvk_calib_site_of(const struct qvk_model *m,
				  const struct qvk_host_tensor *w)
{
	if (w == &m->output)
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

static qvk_status qvk_calib_flush(struct qvk_ctx *ctx,
				  struct qvk_calib_site *s, const char *name)
{
	qvk_status st = QVK_OK;

	if (s->n_pending)
		st = qvk_gptq_hessian_add(ctx, name, s->pending, s->n_pending,
					  s->k, s->xtx);
	s->n_pending = 0;
	return st;
}

static void qvk_calib_capture(void *user, const struct qvk_host_tensor *w,
			      const float *x)
{
	struct qvk_calib_run *run = user;
	uint32_t i = qvk_calib_site_of(run->m, w);
	struct qvk_calib_site *s;

	if (i == UINT32_MAX || run->st)
		return;
	s = &run->c->sites[i];
	for (uint32_t j = 0; j < s->k; j++) {
		double a = fabs((double)x[j]);

		s->sum_abs[j] += a;
		s->sum_sq[j] += a * a;
		s->absmax[j] = fmaxf(s->absmax[j], (float)a);
		if (!isfinite(x[j])) {
			run->st = qvk_error(run->ctx, QVK_ERR_NUMERIC,
					    "calibration: input %u of %s is not "
					    "finite", j, w->name);
			return;
		}
	}
	s->tokens++;
	if (s->xtx) {
		memcpy(s->pending + (size_t)s->n_pending * s->k, x,
		       s->k * sizeof(*x));
		if (++s->n_pending == QVK_CALIB_BATCH)
			run->st = qvk_calib_flush(run->ctx, s, w->name);
	}
	if (s->rows && run->sample && s->n_rows < s->max_rows)
		memcpy(s->rows + (size_t)s->n_rows++ * s->k, x,
		       s->k * sizeof(*x));
}

static qvk_status qvk_calib_alloc(struct qvk_ctx *ctx, const struct qvk_model *m,
				  bool hessian, uint32_t max_rows,
				  struct qvk_calib **out)
{
	const struct qvk_model_params *p = &m->params;
	struct qvk_calib *c = calloc(1, sizeof(*c));
	bool ok = c != NULL;

	if (ok) {
		c->n_sites = p->n_layers * QVK_SITE_KINDS + 1;
		c->sites = calloc(c->n_sites, sizeof(*c->sites));
		ok = c->sites != NULL;
	}
	for (uint32_t i = 0; ok && i < c->n_sites; i++) {
		struct qvk_calib_site *s = &c->sites[i];
		uint32_t kind = i % QVK_SITE_KINDS;
		size_t kk;

		s->k = i == c->n_sites - 1 ? p->dim :
		       kind == QVK_SITE_ATTN_OUT ? p->n_heads * p->head_dim :
		       kind == QVK_SITE_FFN_OUT ? p->hidden_dim : p->dim;
		s->sum_abs = calloc(s->k, sizeof(double));
		s->sum_sq = calloc(s->k, sizeof(double));
		s->absmax = calloc(s->k, sizeof(float));
		ok = s->sum_abs && s->sum_sq && s->absmax &&
		     qvk_mul_size(s->k, s->k, &kk);
		if (ok && hessian) {
			s->xtx = calloc(kk, sizeof(float));
			s->pending = malloc((size_t)QVK_CALIB_BATCH * s->k *
					    sizeof(float));
			ok = s->xtx && s->pending;
		}
		if (ok && max_rows) {
			s->max_rows = max_rows;
			s->rows = malloc((size_t)max_rows * s->k * sizeof(float));
			ok = s->rows != NULL;
		}
	}
	if (!ok) {
		qvk_calib_destroy(c);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration "
				 "statistics (%s)", hessian ? "with Hessians" :
				 "without Hessians");
	}
	*out = c;
	return QVK_OK;
}

qvk_status qvk_calib_run(struct qvk_ctx *ctx, const struct qvk_fmodel *fm,
			 const struct qvk_quantize_options *opt, bool hessian,
			 uint32_t max_rows, struct qvk_calib **out)
{
	const struct qvk_model *m = &fm->m;
	uint32_t w = opt->calib_window ? opt->calib_window :
					 QVK_MIN(256u, m->params.seq_len);
	struct qvk_calib_run run = { ctx, m, NULL, false, QVK_OK };
	struct qvk_reference *ref = NULL;
	size_t n_windows, positions, stride, pos_index = 0;
	qvk_status st;

	*out = NULL;
	if (!opt->calib_tokens || !opt->n_calib_tokens)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: no "
				 "tokens");
	if (w < 2 || w > m->params.seq_len)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: window "
				 "%u outside 2..seq_len %u", w,
				 m->params.seq_len);
	n_windows = QVK_DIV_ROUND_UP(opt->n_calib_tokens, (size_t)w - 1);
	positions = opt->n_calib_tokens + n_windows;
	stride = max_rows ? QVK_MAX((size_t)1, positions / max_rows) : 1;
	st = qvk_calib_alloc(ctx, m, hessian, max_rows, &run.c);
	if (st == QVK_OK)
		st = qvk_reference_create(ctx, m, &ref);
	if (st) {
		qvk_calib_destroy(run.c);
		return st;
	}
	qvk_reference_set_capture(ref, qvk_calib_capture, &run);
	for (size_t wi = 0; st == QVK_OK && wi < n_windows; wi++) {
		size_t first = wi * (w - 1);
		size_t len = QVK_MIN((size_t)w - 1, opt->n_calib_tokens - first);
		const float *logits;

		for (uint32_t pos = 0; st == QVK_OK && pos <= len; pos++) {
			uint32_t tok = pos ? opt->calib_tokens[first + pos - 1] :
					     opt->bos;

			run.sample = pos_index++ % stride == 0;
			st = qvk_reference_forward(ref, tok, pos, &logits);
			if (st == QVK_OK)
				st = run.st;
		}
		qvk_progress(ctx, "calibrating", (double)wi + 1,
			     (double)n_windows);
	}
	for (uint32_t i = 0; st == QVK_OK && hessian && i < run.c->n_sites; i++)
		st = qvk_calib_flush(ctx, &run.c->sites[i], "calibration");
	qvk_reference_destroy(ref);
	if (st) {
		qvk_calib_destroy(run.c);
		return st;
	}
	*out = run.c;
	return QVK_OK;
}
