/* SPDX-License-Identifier: MIT */
/*
 * The streaming run: the embedding, the layers one by one, the head. Each
 * tensor is read from the source as fp32, encoded into its planned type
 * and queued; the sink (a GGUF file being written, or memory) takes the
 * queue in file order as soon as the next tensor is ready, so at most a
 * layer's encoded tensors wait. With calibration the residual stream of
 * every calibration position moves through each layer as it is quantized
 * (layer.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

/* Hand every tensor that is next in file order to the sink. */
static qvk_status qvk_qrun_drain(struct qvk_qrun *run)
{
	while (run->next < run->plan->n && run->ready[run->next]) {
		struct qvk_host_tensor t = *qvk_model_tensor_at(&run->plan->out,
								run->next);
		void *bytes = run->ready[run->next];
		qvk_status st;

		run->ready[run->next] = NULL;
		t.data = bytes;
		st = run->sink->put(run->sink, run->next, &t, bytes);
		run->next++;
		if (st)
			return st;
	}
	return QVK_OK;
}

qvk_status qvk_qrun_put(struct qvk_qrun *run, uint32_t i, float *w,
			const struct qvk_calib_site *cs, bool prop)
{
	struct qvk_host_tensor t = *qvk_model_tensor_at(&run->plan->out, i);
	enum qvk_quant_method method = run->opt->method;
	struct qvk_encode e = { .method = method };
	uint64_t elems = t.ne[0] * qvk_host_tensor_rows(&t);
	float *imp = NULL;
	void *bytes = NULL;
	bool kept = true;
	char what[96];
	qvk_status st;

	if (run->opt->imatrix && method == QVK_METHOD_MSE &&
	    run->plan->site[i] != UINT32_MAX) {
		uint32_t k;

		e.importance = qvk_imatrix_find(run->opt->imatrix, t.name, &k);
		if (e.importance && k != t.ne[0])
			return qvk_error(run->ctx, QVK_ERR_INVALID_ARG, "imatrix: "
					 "%s has %u values, the tensor %llu "
					 "inputs", t.name, k,
					 (unsigned long long)t.ne[0]);
	} else if (cs && cs->tokens &&
		   (method == QVK_METHOD_MSE || method == QVK_METHOD_AWQ)) {
		imp = malloc(cs->k * sizeof(*imp));
		if (!imp)
			return qvk_error(run->ctx, QVK_ERR_NO_MEMORY, "%s", t.name);
		qvk_calib_site_importance(cs, imp);
		e.importance = imp;
	}
	if (method == QVK_METHOD_GPTQ)
		e.cs = cs;
	snprintf(what, sizeof(what), "quantizing %.60s", t.name);
	qvk_progress(run->ctx, what, (double)run->elems_done,
		     (double)QVK_MAX(run->plan->weight_elems, 1));
	st = qvk_tensor_encode(run->ctx, &t, run->rounding ? run->plan->spec[i] :
			       QVK_GGML_TYPE_F32, w, &e, &bytes, &kept);
	free(imp);
	if (st == QVK_OK && prop && run->batch) {
		/* what the layers after this one compute with */
		if (run->sequential) {
			t.data = bytes;
			st = qvk_tensor_decode(run->ctx, &t, w);
		} else if (!kept) { /* GPTQ worked in the float copy */
			st = qvk_tensor_decode(run->ctx, run->plan->src[i], w);
		}
	}
	if (st) {
		free(bytes);
		return st;
	}
	if (run->plan->site[i] != UINT32_MAX &&
	    qvk_type_info(run->plan->spec[i])->quantized)
		run->elems_done += elems;
	run->ready[i] = bytes;
	return qvk_qrun_drain(run);
}

/* The embedding, and the residual stream's start: its rows per position. */
static qvk_status qvk_qrun_embedding(struct qvk_qrun *run)
{
	struct qvk_batch *b = run->batch;
	uint32_t dim = run->m->params.dim;
	float *w;
	qvk_status st = qvk_tensor_load_f32(run->ctx, run->plan->src[0], &w);

	if (st)
		return st;
	st = qvk_qrun_put(run, 0, w, NULL, true);
	for (uint32_t t = 0; st == QVK_OK && b && t < b->t; t++)
		memcpy(b->x + (size_t)t * dim, w + (size_t)b->tokens[t] * dim,
		       dim * sizeof(float));
	free(w);
	return st;
}

static void qvk_qrun_finish(struct qvk_qrun *run)
{
	for (uint32_t i = 0; run->ready && i < run->plan->n; i++)
		free(run->ready[i]);
	free(run->ready);
	qvk_batch_destroy(run->batch);
	qvk_calib_gpu_destroy(run->gpu);
	free(run->xn);
	free(run->q);
	free(run->k);
	free(run->v);
	free(run->att);
	free(run->g);
	free(run->u);
}

/* Whether the run calibrates: a method that uses the text, given. */
static bool qvk_qrun_calibrates(const struct qvk_quantize_options *opt,
				const struct qvk_qplan *plan, bool rounding)
{
	bool smooth = opt->method == QVK_METHOD_AWQ ||
		      opt->method == QVK_METHOD_SMOOTHQUANT;

	if (!opt->calib_tokens || !opt->n_calib_tokens)
		return false;
	if (!rounding)
		return smooth;
	return plan->weight_elems &&
	       (qvk_quant_method_needs_calib(opt->method) ||
		(opt->method == QVK_METHOD_MSE && !opt->imatrix));
}

/*
 * The activations of every position, and what calibration holds besides:
 * the residual stream, one layer's sites (sums, XᵀX, sampled rows) and
 * one layer's fp32 tensors, into *@bytes.
 */
static qvk_status qvk_qrun_alloc(struct qvk_qrun *run, uint64_t *bytes)
{
	const struct qvk_model_params *p = &run->m->params;
	size_t t = run->batch->t, q_dim = (size_t)p->n_heads * p->head_dim;
	size_t kv_dim = (size_t)p->n_kv_heads * p->head_dim;
	uint64_t ks = 3 * (uint64_t)p->dim + q_dim + p->hidden_dim;
	uint64_t kk = 3 * (uint64_t)p->dim * p->dim + q_dim * q_dim +
		      (uint64_t)p->hidden_dim * p->hidden_dim;
	uint64_t layer = 2 * p->dim + ((uint64_t)q_dim + 2 * kv_dim) * p->dim +
			 q_dim * p->dim + 3ull * p->hidden_dim * p->dim;

	*bytes = 4 * (t * (2 * (uint64_t)p->dim + 2 * q_dim + 2 * kv_dim +
			   2 * (uint64_t)p->hidden_dim) +
		      ks * (5 + (uint64_t)run->max_rows +
			    (run->hessian ? QVK_CALIB_BATCH : 0)) +
		      (run->hessian ? kk : 0) + layer);

	run->xn = malloc(t * p->dim * sizeof(float));
	run->q = malloc(t * q_dim * sizeof(float));
	run->att = malloc(t * q_dim * sizeof(float));
	run->k = malloc(t * kv_dim * sizeof(float));
	run->v = malloc(t * kv_dim * sizeof(float));
	run->g = malloc(t * p->hidden_dim * sizeof(float));
	run->u = malloc(t * p->hidden_dim * sizeof(float));
	if (!run->xn || !run->q || !run->att || !run->k || !run->v || !run->g ||
	    !run->u)
		return qvk_error(run->ctx, QVK_ERR_NO_MEMORY, "calibration: "
				 "activations of %zu positions", t);
	return QVK_OK;
}

qvk_status qvk_quantize_stream(struct qvk_ctx *ctx, const struct qvk_model *m,
			       const struct qvk_quantize_options *opt,
			       struct qvk_qplan *plan, bool rounding,
			       struct qvk_qsink *sink,
			       struct qvk_qrun_extra *extra)
{
	uint64_t cb = 0;

	struct qvk_qrun run = {
		.ctx = ctx, .m = m, .opt = opt, .plan = plan, .sink = sink,
		.rounding = rounding, .sequential = !opt->float_calib,
		.keep = extra ? extra->keep : NULL,
	};
	qvk_status st = QVK_OK;

	run.ready = calloc(plan->n, sizeof(*run.ready));
	if (!run.ready)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize");
	if (qvk_qrun_calibrates(opt, plan, rounding)) {
		run.hessian = opt->method == QVK_METHOD_GPTQ;
		run.max_rows = opt->method == QVK_METHOD_AWQ ? QVK_AWQ_ROWS : 0;
		if (opt->calib_device == QVK_CALIB_GPU) {
			/* the float model's statistics, never sequential */
			run.sequential = false;
			st = qvk_calib_gpu_create(ctx, opt->calib_dev, m, opt,
						  run.hessian, run.max_rows, 0,
						  &run.gpu);
			if (st == QVK_OK) {
				cb = qvk_calib_gpu_host_bytes(run.gpu);
				qvk_log(ctx, QVK_LOG_INFO, "calibration on the "
					"device %s: %s",
					qvk_device_info(opt->calib_dev)->name,
					qvk_calib_gpu_describe(run.gpu));
			}
		} else {
			st = qvk_batch_create(ctx, m, opt, &run.batch);
			if (st == QVK_OK)
				st = qvk_qrun_alloc(&run, &cb);
		}
	}
	if (st == QVK_OK)
		st = qvk_qrun_embedding(&run);
	for (uint32_t l = 0; st == QVK_OK && l < m->params.n_layers; l++)
		st = qvk_layer_quantize(&run, l);
	if (st == QVK_OK)
		st = qvk_head_quantize(&run);
	if (st == QVK_OK && run.next != plan->n)
		st = qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: %u of %u "
			       "tensors written", run.next, plan->n);
	if (st == QVK_OK)
		qvk_progress(ctx, "quantizing", 1, 1);
	qvk_qrun_finish(&run);
	if (extra)
		extra->calib_bytes = cb;
	return st;
}

/* A sink that drops what it is given. */
static qvk_status qvk_drop_put(struct qvk_qsink *s, uint32_t index,
			       const struct qvk_host_tensor *t, void *bytes)
{
	(void)s, (void)index, (void)t;
	free(bytes);
	return QVK_OK;
}

qvk_status qvk_calib_batched(struct qvk_ctx *ctx, const struct qvk_model *m,
			     const struct qvk_quantize_options *opt,
			     struct qvk_calib **out)
{
	struct qvk_quantize_options o = *opt;
	struct qvk_qsink sink = { qvk_drop_put };
	struct qvk_qrun_extra extra = { 0 };
	struct qvk_qplan *plan = NULL;
	qvk_status st;

	*out = NULL;
	o.method = QVK_METHOD_GPTQ;
	o.format = QVK_WEIGHTS_Q8;
	o.kmix = QVK_KMIX_NONE;
	o.float_calib = true;
	extra.keep = calloc(1, sizeof(*extra.keep));
	if (extra.keep) {
		extra.keep->n_sites = m->params.n_layers * QVK_SITE_KINDS + 1;
		extra.keep->sites = calloc(extra.keep->n_sites,
					   sizeof(*extra.keep->sites));
	}
	if (!extra.keep || !extra.keep->sites) {
		qvk_calib_destroy(extra.keep);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration copies");
	}
	st = qvk_qplan_create(ctx, m, &o, true, &plan);
	if (st == QVK_OK)
		st = qvk_quantize_stream(ctx, m, &o, plan, true, &sink, &extra);
	qvk_qplan_destroy(plan);
	if (st) {
		qvk_calib_destroy(extra.keep);
		return st;
	}
	*out = extra.keep;
	return QVK_OK;
}
