/* SPDX-License-Identifier: MIT */
/*
 * One layer of the streaming run, and the head. Without calibration each
 * tensor is read, encoded and let go on its own. With calibration the
 * layer's nine tensors are held as fp32 while the residual stream of every
 * calibration position (T, dim) moves through it, half by half:
 *
 *   xn = rmsnorm(x)·g        statistics of site IN (q k v, or gate up)
 *   [AWQ/SmoothQuant: scale s chosen, folded into g and the matrices]
 *   [GPTQ: q k v encoded now, true-sequential: wo sees their outputs]
 *   y = the half's float or encoded matrices on xn   (attention, SwiGLU)
 *                            statistics of site OUT (wo, or down)
 *   [AWQ/SmoothQuant: its scale folded into wv or up rows and into wo or
 *    down; the IN matrices encoded, y recomputed through them]
 *   OUT encoded, x += y·OUTᵀ
 *
 * When sequential (the default) "encoded" means the values the file
 * stores, so the next layers' statistics are those of the quantized model
 * before them, as GPTQ and AWQ calibrate; with float_calib they are the
 * float model's (what the scalar reference sees: the tests' oracle).
 *
 * With the statistics from the device (calib_gpu.c: the float model's,
 * gathered by qvk's own forward pass) no activations are held on the
 * host: the sites' sums arrive whole and the steps above that compute or
 * rescale activations are skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"
#include "quant/quant_internal.h"

/* Layer tensor j (qvk_qplan_layer_index order). */
enum {
	J_ATTN_NORM = 0, J_WQ, J_WK, J_WV, J_WO, J_FFN_NORM, J_W1, J_W2, J_W3,
	J_COUNT,
};

struct qvk_layer_work {
	struct qvk_qrun *run;
	uint32_t l;
	float *w[J_COUNT];                     /* fp32 tensors of the layer */
	struct qvk_calib_site cs[QVK_SITE_KINDS];
	float *s;                              /* (widest input) scales */
	uint32_t stride;                       /* AWQ's row sampling */
};

static const char *qvk_lw_name(const struct qvk_layer_work *lw, uint32_t j)
{
	return lw->run->plan->src[qvk_qplan_layer_index(lw->l, j)]->name;
}

/* The first copy of site @site's statistics, for the tests' comparison. */
static qvk_status qvk_run_keep(struct qvk_qrun *run, uint32_t site,
			       const struct qvk_calib_site *cs)
{
	if (!run->keep || site >= run->keep->n_sites ||
	    run->keep->sites[site].k)
		return QVK_OK;
	return qvk_calib_site_copy(run->ctx, &run->keep->sites[site], cs);
}

static qvk_status qvk_lw_put(struct qvk_layer_work *lw, uint32_t j,
			     const struct qvk_calib_site *cs, bool prop)
{
	struct qvk_calib_site *mut = (struct qvk_calib_site *)(uintptr_t)cs;
	qvk_status st = QVK_OK;

	if (mut) /* rows still buffered for XᵀX go in before GPTQ reads it */
		st = qvk_calib_site_flush(lw->run->ctx, mut, qvk_lw_name(lw, j));
	if (st == QVK_OK && mut)
		st = qvk_run_keep(lw->run,
				  lw->run->plan->site[qvk_qplan_layer_index(lw->l,
									    j)],
				  mut);
	return st ? st : qvk_qrun_put(lw->run, qvk_qplan_layer_index(lw->l, j),
				      lw->w[j], cs, prop);
}

/* A site's description over the layer's fp32 tensors. */
static void qvk_lw_desc(const struct qvk_layer_work *lw, const uint32_t *js,
			uint32_t n_w, float *norm, float *prev,
			struct qvk_site_desc *d)
{
	const struct qvk_qplan *plan = lw->run->plan;
	const struct qvk_model_params *p = &lw->run->m->params;

	memset(d, 0, sizeof(*d));
	d->name = qvk_lw_name(lw, js[0]);
	for (uint32_t m = 0; m < n_w; m++) {
		const struct qvk_host_tensor *t =
			plan->src[qvk_qplan_layer_index(lw->l, js[m])];

		d->w[m] = lw->w[js[m]];
		d->rows[m] = (uint32_t)qvk_host_tensor_rows(t);
		d->spec[m] = plan->spec[qvk_qplan_layer_index(lw->l, js[m])];
		d->k = (uint32_t)t->ne[0];
		d->n_total += d->rows[m];
	}
	d->n_w = n_w;
	d->norm = norm;
	d->prev = prev;
	d->prev_cols = prev ? p->dim : 0;
	if (js[0] == J_WO) {
		d->gqa_group = p->n_heads / p->n_kv_heads;
		d->head_dim = p->head_dim;
	}
}

/* AWQ or SmoothQuant at a site; @act (T, k) divided by the scales. */
static qvk_status qvk_lw_smooth(struct qvk_layer_work *lw,
				const struct qvk_site_desc *d,
				struct qvk_calib_site *cs, float *act)
{
	struct qvk_qrun *run = lw->run;
	qvk_status st = qvk_smooth_site(run->ctx, d, cs, run->opt, lw->s);

	if (st == QVK_OK && run->batch) /* activations held on the host */
		qvk_unfold_scale_from_act(act, run->batch->t, d->k, lw->s);
	return st;
}

/* att (T, q_dim) from xn through the layer's current q, k, v. */
static qvk_status qvk_lw_attention(struct qvk_layer_work *lw)
{
	struct qvk_qrun *run = lw->run;
	const struct qvk_model_params *p = &run->m->params;
	const struct qvk_batch *b = run->batch;
	uint32_t q_dim = p->n_heads * p->head_dim;
	uint32_t kv_dim = p->n_kv_heads * p->head_dim;

	qvk_gemm_nt(run->xn, lw->w[J_WQ], run->q, b->t, q_dim, p->dim, 0.0f);
	qvk_gemm_nt(run->xn, lw->w[J_WK], run->k, b->t, kv_dim, p->dim, 0.0f);
	qvk_gemm_nt(run->xn, lw->w[J_WV], run->v, b->t, kv_dim, p->dim, 0.0f);
	qvk_batch_rope(b, run->q, p->n_heads);
	qvk_batch_rope(b, run->k, p->n_kv_heads);
	return qvk_batch_attention(run->ctx, b, run->q, run->k, run->v,
				   run->att);
}

/* g (T, hidden) = silu(xn·w1ᵀ) * xn·w3ᵀ through the current w1, w3. */
static void qvk_lw_ffn(struct qvk_layer_work *lw)
{
	struct qvk_qrun *run = lw->run;
	const struct qvk_model_params *p = &run->m->params;
	const struct qvk_batch *b = run->batch;

	qvk_gemm_nt(run->xn, lw->w[J_W1], run->g, b->t, p->hidden_dim, p->dim,
		    0.0f);
	qvk_gemm_nt(run->xn, lw->w[J_W3], run->u, b->t, p->hidden_dim, p->dim,
		    0.0f);
	qvk_batch_swiglu(b, run->g, run->u);
}

static bool qvk_run_smooths(const struct qvk_qrun *run)
{
	return run->opt->method == QVK_METHOD_AWQ ||
	       run->opt->method == QVK_METHOD_SMOOTHQUANT;
}

static qvk_status qvk_lw_attention_half(struct qvk_layer_work *lw)
{
	static const uint32_t in[3] = { J_WQ, J_WK, J_WV }, out[1] = { J_WO };
	struct qvk_qrun *run = lw->run;
	const struct qvk_model_params *p = &run->m->params;
	struct qvk_calib_site *ci = &lw->cs[QVK_SITE_ATTN_IN];
	struct qvk_calib_site *co = &lw->cs[QVK_SITE_ATTN_OUT];
	bool smooth = qvk_run_smooths(run), gptq = run->hessian;
	bool act = run->batch != NULL; /* else the sites came from the device */
	uint32_t t = act ? run->batch->t : 0, q_dim = p->n_heads * p->head_dim;
	struct qvk_site_desc d;
	qvk_status st = QVK_OK;

	if (act) {
		qvk_batch_norm(run->batch, lw->w[J_ATTN_NORM], run->xn);
		st = qvk_calib_site_add(run->ctx, ci, qvk_lw_name(lw, J_WQ),
					run->xn, t, lw->stride);
	}
	if (st == QVK_OK && smooth) {
		qvk_lw_desc(lw, in, 3, lw->w[J_ATTN_NORM], NULL, &d);
		st = qvk_lw_smooth(lw, &d, ci, run->xn);
	}
	for (uint32_t m = 0; st == QVK_OK && gptq && m < 3; m++)
		st = qvk_lw_put(lw, in[m], ci, true);
	if (st == QVK_OK && act)
		st = qvk_lw_attention(lw);
	if (st == QVK_OK && act)
		st = qvk_calib_site_add(run->ctx, co, qvk_lw_name(lw, J_WO),
					run->att, t, lw->stride);
	if (st == QVK_OK && smooth) {
		qvk_lw_desc(lw, out, 1, NULL, lw->w[J_WV], &d);
		st = qvk_lw_smooth(lw, &d, co, run->att);
	}
	if (!gptq) {
		for (uint32_t m = 0; st == QVK_OK && m < 3; m++)
			st = qvk_lw_put(lw, in[m], ci, true);
		if (st == QVK_OK && run->sequential && run->rounding)
			st = qvk_lw_attention(lw);
	}
	if (st == QVK_OK)
		st = qvk_lw_put(lw, J_WO, co, true);
	if (st == QVK_OK)
		st = qvk_lw_put(lw, J_ATTN_NORM, NULL, false);
	if (st == QVK_OK && act) /* x += att·woᵀ */
		qvk_gemm_nt(run->att, lw->w[J_WO], run->batch->x, t, p->dim,
			    q_dim, 1.0f);
	return st;
}

static qvk_status qvk_lw_ffn_half(struct qvk_layer_work *lw)
{
	static const uint32_t in[2] = { J_W1, J_W3 }, out[1] = { J_W2 };
	struct qvk_qrun *run = lw->run;
	const struct qvk_model_params *p = &run->m->params;
	struct qvk_calib_site *ci = &lw->cs[QVK_SITE_FFN_IN];
	struct qvk_calib_site *co = &lw->cs[QVK_SITE_FFN_OUT];
	bool smooth = qvk_run_smooths(run), gptq = run->hessian;
	bool act = run->batch != NULL; /* else the sites came from the device */
	uint32_t t = act ? run->batch->t : 0;
	struct qvk_site_desc d;
	qvk_status st = QVK_OK;

	if (act) {
		qvk_batch_norm(run->batch, lw->w[J_FFN_NORM], run->xn);
		st = qvk_calib_site_add(run->ctx, ci, qvk_lw_name(lw, J_W1),
					run->xn, t, lw->stride);
	}
	if (st == QVK_OK && smooth) {
		qvk_lw_desc(lw, in, 2, lw->w[J_FFN_NORM], NULL, &d);
		st = qvk_lw_smooth(lw, &d, ci, run->xn);
	}
	for (uint32_t m = 0; st == QVK_OK && gptq && m < 2; m++)
		st = qvk_lw_put(lw, in[m], ci, true);
	if (st == QVK_OK && act) {
		qvk_lw_ffn(lw);
		st = qvk_calib_site_add(run->ctx, co, qvk_lw_name(lw, J_W2),
					run->g, t, lw->stride);
	}
	if (st == QVK_OK && smooth) {
		qvk_lw_desc(lw, out, 1, NULL, lw->w[J_W3], &d);
		st = qvk_lw_smooth(lw, &d, co, run->g);
	}
	if (!gptq) {
		for (uint32_t m = 0; st == QVK_OK && m < 2; m++)
			st = qvk_lw_put(lw, in[m], ci, true);
		if (st == QVK_OK && run->sequential && run->rounding)
			qvk_lw_ffn(lw);
	}
	if (st == QVK_OK)
		st = qvk_lw_put(lw, J_W2, co, true);
	if (st == QVK_OK)
		st = qvk_lw_put(lw, J_FFN_NORM, NULL, false);
	if (st == QVK_OK && act) /* x += g·w2ᵀ */
		qvk_gemm_nt(run->g, lw->w[J_W2], run->batch->x, t, p->dim,
			    p->hidden_dim, 1.0f);
	return st;
}

static void qvk_lw_finish(struct qvk_layer_work *lw)
{
	for (uint32_t j = 0; j < J_COUNT; j++)
		free(lw->w[j]);
	for (uint32_t i = 0; i < QVK_SITE_KINDS; i++)
		qvk_calib_site_finish(&lw->cs[i]);
	free(lw->s);
}

/* Sampling every stride-th position keeps about max_rows of them. */
static uint32_t qvk_run_stride(const struct qvk_qrun *run)
{
	return run->max_rows && run->batch ?
		       QVK_MAX(1u, run->batch->t / run->max_rows) : 0;
}

qvk_status qvk_layer_quantize(struct qvk_qrun *run, uint32_t l)
{
	const struct qvk_model_params *p = &run->m->params;
	struct qvk_layer_work lw = { .run = run, .l = l };
	uint32_t ks[QVK_SITE_KINDS] = { p->dim, p->n_heads * p->head_dim,
					p->dim, p->hidden_dim };
	qvk_status st = QVK_OK;

	if (!run->batch && !run->gpu) { /* one tensor at a time */
		for (uint32_t j = 0; st == QVK_OK && j < J_COUNT; j++) {
			st = qvk_tensor_load_f32(
				run->ctx,
				run->plan->src[qvk_qplan_layer_index(l, j)],
				&lw.w[j]);
			if (st == QVK_OK)
				st = qvk_lw_put(&lw, j, NULL, false);
			free(lw.w[j]);
			lw.w[j] = NULL;
		}
		return st;
	}
	lw.stride = qvk_run_stride(run);
	lw.s = malloc(QVK_MAX(p->dim, QVK_MAX(ks[1], p->hidden_dim)) *
		      sizeof(float));
	if (!lw.s)
		st = qvk_error(run->ctx, QVK_ERR_NO_MEMORY, "layer %u", l);
	for (uint32_t j = 0; st == QVK_OK && j < J_COUNT; j++)
		st = qvk_tensor_load_f32(run->ctx,
					 run->plan->src[qvk_qplan_layer_index(l, j)],
					 &lw.w[j]);
	for (uint32_t i = 0; st == QVK_OK && i < QVK_SITE_KINDS; i++)
		st = qvk_calib_site_init(run->ctx, &lw.cs[i], ks[i], run->hessian,
					 run->max_rows);
	for (uint32_t i = 0; st == QVK_OK && run->gpu && i < QVK_SITE_KINDS; i++)
		st = qvk_calib_gpu_site(run->gpu, qvk_site_index(l, i), &lw.cs[i]);
	if (st == QVK_OK)
		st = qvk_lw_attention_half(&lw);
	if (st == QVK_OK)
		st = qvk_lw_ffn_half(&lw);
	qvk_lw_finish(&lw);
	return st;
}

qvk_status qvk_head_quantize(struct qvk_qrun *run)
{
	const struct qvk_model_params *p = &run->m->params;
	struct qvk_qplan *plan = run->plan;
	uint32_t i_norm = 9 * p->n_layers + 1, i_out = i_norm + 1;
	bool has_out = plan->n > i_out;
	float *norm = NULL, *w = NULL, *s = NULL;
	struct qvk_calib_site cs = { 0 };
	bool have_cs = false;
	qvk_status st;

	st = qvk_tensor_load_f32(run->ctx, plan->src[i_norm], &norm);
	if (st == QVK_OK && has_out)
		st = qvk_tensor_load_f32(run->ctx, plan->src[i_out], &w);
	if (st == QVK_OK && has_out && (run->batch || run->gpu)) {
		struct qvk_site_desc d = {
			.name = plan->src[i_out]->name, .w = { w },
			.rows = { p->vocab_size }, .spec = { plan->spec[i_out] },
			.n_w = 1, .k = p->dim, .n_total = p->vocab_size,
			.norm = norm,
		};

		st = qvk_calib_site_init(run->ctx, &cs, p->dim, run->hessian,
					 run->max_rows);
		have_cs = st == QVK_OK;
		if (st == QVK_OK && run->gpu) {
			st = qvk_calib_gpu_site(run->gpu,
						qvk_site_index(p->n_layers, 0),
						&cs);
		} else if (st == QVK_OK) {
			qvk_batch_norm(run->batch, norm, run->xn);
			st = qvk_calib_site_add(run->ctx, &cs, d.name, run->xn,
						run->batch->t,
						qvk_run_stride(run));
		}
		if (st == QVK_OK && qvk_run_smooths(run)) {
			s = malloc(p->dim * sizeof(*s));
			st = s ? qvk_smooth_site(run->ctx, &d, &cs, run->opt, s) :
				 qvk_error(run->ctx, QVK_ERR_NO_MEMORY,
					   "classifier scales");
		}
		if (st == QVK_OK)
			st = qvk_calib_site_flush(run->ctx, &cs, d.name);
		if (st == QVK_OK)
			st = qvk_run_keep(run, plan->site[i_out], &cs);
	}
	if (st == QVK_OK)
		st = qvk_qrun_put(run, i_norm, norm, NULL, false);
	if (st == QVK_OK && has_out)
		st = qvk_qrun_put(run, i_out, w, have_cs ? &cs : NULL, false);
	if (have_cs)
		qvk_calib_site_finish(&cs);
	free(s);
	free(w);
	free(norm);
	return st;
}
