/* SPDX-License-Identifier: MIT */
/*
 * Model weights onto the device: each linear layer in the requested format
 * (quantized at load with round-to-nearest, or taken as stored when the
 * file already holds that GGUF block type at group 32, losslessly;
 * K-quants and IQ4 always as stored unless --format or --keep ask for
 * another), norms and the embedding table in fp32.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/quantize.h>

#include "forward.h"

qvk_status qvk_llm_upload_f32(struct qvk_device *dev, const float *src,
			      size_t count, size_t piece_align,
			      struct qvk_buffer **out)
{
	qvk_status st = qvk_buffer_create(dev, QVK_MEM_DEVICE, count * 4,
					  piece_align, out);

	return st == QVK_OK ? qvk_buffer_upload(*out, 0, src, count * 4) : st;
}

/* The format that runs @t as stored (q8 for float and converted types). */
static enum qvk_weight_format qvk_auto_format(const struct qvk_host_tensor *t)
{
	const struct qvk_type_info *ti = qvk_type_info(t->type);
	enum qvk_qformat qf = ti ? ti->qformat : 0;

	return qf == QVK_QFORMAT_Q4 ? QVK_WEIGHTS_Q4 :
	       qf == QVK_QFORMAT_Q4A ? QVK_WEIGHTS_Q4A : QVK_WEIGHTS_Q8;
}

/* What a linear layer runs as: a format at a group, or a stored K-quant. */
struct qvk_linear_used {
	enum qvk_weight_format format;
	uint32_t group;
	uint32_t kq_type; /* a K-quant/IQ4 type run as stored, else 0 */
};

static bool qvk_used_equal(const struct qvk_linear_used *a,
			   const struct qvk_linear_used *b)
{
	return a->kq_type == b->kq_type &&
	       (a->kq_type || (a->format == b->format && a->group == b->group));
}

/* "q8 g32", "q4 per-row", "f16", "Q4_K" (@group: with the group). */
static const char *qvk_used_name(const struct qvk_linear_used *u, bool group,
				 char *buf, size_t size)
{
	if (u->kq_type)
		return qvk_ggml_type_name(u->kq_type);
	if (!group || u->format < QVK_WEIGHTS_Q8)
		return qvk_weight_format_name(u->format);
	if (u->group)
		snprintf(buf, size, "%s g%u", qvk_weight_format_name(u->format),
			 u->group);
	else
		snprintf(buf, size, "%s per-row", qvk_weight_format_name(u->format));
	return buf;
}

/* A K-quant/IQ4 tensor onto the device as stored. */
static qvk_status qvk_load_kq(struct qvk_device *dev,
			      const struct qvk_host_tensor *t, uint32_t n,
			      uint32_t k, struct qvk_mm_weight **out)
{
	struct qvk_kqtensor *kt;
	qvk_status st = qvk_kqtensor_from_gguf(dev->ctx, t->name, t->type,
					       t->data, t->size_bytes, n, k, &kt);

	if (st == QVK_OK)
		st = qvk_mm_weight_upload_kq(dev, kt, out);
	qvk_kqtensor_destroy(kt);
	return st;
}

/*
 * @alias: a second name the tensor answers to in --keep (a classifier
 * tied to the embedding is also output.weight), or NULL.
 */
static qvk_status qvk_load_linear(struct qvk_device *dev,
				  const struct qvk_host_tensor *t,
				  const char *alias,
				  const struct qvk_llm_options *opt,
				  struct qvk_keep *keep,
				  struct qvk_mm_weight **out,
				  struct qvk_linear_used *used,
				  bool float_as_stored)
{
	struct qvk_ctx *ctx = dev->ctx;
	enum qvk_weight_format f = qvk_keep_lookup(keep, t->name, alias);
	uint64_t n = qvk_host_tensor_rows(t), k = t->ne[0];
	struct qvk_quant_params qp;
	struct qvk_qtensor *qt = NULL;
	enum qvk_qformat stored_fmt;
	uint32_t stored_group;
	bool stored_qvk = qvk_ggml_type_is_qvk(t->type, &stored_fmt,
					       &stored_group);
	float *w;
	qvk_status st = QVK_OK;

	if (n > UINT32_MAX || k > UINT32_MAX || !t->data)
		return qvk_error(ctx, QVK_ERR_FORMAT, "tensor %s: shape "
				 "(%llu, %llu) unusable", t->name,
				 (unsigned long long)n, (unsigned long long)k);
	/* K-quants and IQ4 run as stored unless something asks otherwise */
	if (f == QVK_WEIGHTS_AUTO && opt->format == QVK_WEIGHTS_AUTO &&
	    qvk_kq_type(t->type)) {
		*used = (struct qvk_linear_used){ .kq_type = t->type };
		return qvk_load_kq(dev, t, (uint32_t)n, (uint32_t)k, out);
	}
	if (f == QVK_WEIGHTS_AUTO && opt->format == QVK_WEIGHTS_AUTO &&
	    float_as_stored && (t->type == QVK_GGML_TYPE_F32 ||
				t->type == QVK_GGML_TYPE_F16))
		f = t->type == QVK_GGML_TYPE_F16 ? QVK_WEIGHTS_F16 :
						   QVK_WEIGHTS_F32;
	if (f == QVK_WEIGHTS_AUTO)
		f = opt->format != QVK_WEIGHTS_AUTO ? opt->format :
						      qvk_auto_format(t);
	*used = (struct qvk_linear_used){ .format = f, .group = opt->group };
	/*
	 * Stored as the very layout wanted (auto: whatever group the file
	 * has): take the codes losslessly.
	 */
	if (stored_qvk && f >= QVK_WEIGHTS_Q8 &&
	    qvk_weight_format_qformat(f) == stored_fmt &&
	    (opt->format == QVK_WEIGHTS_AUTO || opt->group == stored_group)) {
		used->group = stored_group;
		st = qvk_qtensor_from_host(ctx, t, &qt);
		if (st == QVK_OK)
			st = qvk_mm_weight_upload_q(dev, qt, out);
		qvk_qtensor_destroy(qt);
		return st;
	}
	if (f >= QVK_WEIGHTS_Q8 &&
	    t->type == qvk_ggml_type_gguf(qvk_weight_format_qformat(f)) &&
	    (opt->group == 32 || opt->format == QVK_WEIGHTS_AUTO)) {
		used->group = 32;
		st = qvk_qtensor_from_gguf(ctx, t->name, t->type, t->data,
					   t->size_bytes, (uint32_t)n,
					   (uint32_t)k, &qt);
		if (st == QVK_OK)
			st = qvk_mm_weight_upload_q(dev, qt, out);
		qvk_qtensor_destroy(qt);
		return st;
	}
	w = malloc(n * k * sizeof(*w));
	if (!w)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tensor %s: %llu floats",
				 t->name, (unsigned long long)(n * k));
	for (uint64_t r = 0; st == QVK_OK && r < n; r++)
		st = qvk_host_tensor_row(t, r, w + r * k);
	if (st != QVK_OK)
		st = qvk_error(ctx, st, "tensor %s: cannot read its rows",
			       t->name);
	else if (f == QVK_WEIGHTS_F32 || f == QVK_WEIGHTS_F16)
		st = qvk_mm_weight_upload_float(dev, w, (uint32_t)n, (uint32_t)k,
						f == QVK_WEIGHTS_F16, out);
	else {
		qp = qvk_quant_params_default(qvk_weight_format_qformat(f),
					      opt->group);
		st = qvk_quantize_weights(ctx, t->name, w, (uint32_t)n,
					  (uint32_t)k, &qp, &qt);
		if (st == QVK_OK)
			st = qvk_mm_weight_upload_q(dev, qt, out);
		qvk_qtensor_destroy(qt);
	}
	free(w);
	return st;
}

static qvk_status qvk_load_vector(struct qvk_device *dev,
				  const struct qvk_host_tensor *t,
				  uint64_t rows, uint64_t cols,
				  struct qvk_buffer **out)
{
	float *v = malloc(rows * cols * sizeof(*v));
	qvk_status st = QVK_OK;

	if (!v)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "tensor %s",
				 t->name);
	if (t->ne[0] != cols || qvk_host_tensor_rows(t) != rows)
		st = qvk_error(dev->ctx, QVK_ERR_FORMAT, "tensor %s: shape "
			       "(%llu, %llu), expected (%llu, %llu)", t->name,
			       (unsigned long long)qvk_host_tensor_rows(t),
			       (unsigned long long)t->ne[0],
			       (unsigned long long)rows,
			       (unsigned long long)cols);
	for (uint64_t r = 0; st == QVK_OK && r < rows; r++)
		st = qvk_host_tensor_row(t, r, v + r * cols);
	if (st == QVK_OK)
		/* Pieces of whole rows: the embedding kernel reads rows. */
		st = qvk_llm_upload_f32(dev, v, rows * cols, cols * 4, out);
	free(v);
	return st;
}

/* A bias or per-head norm of @n floats, or NULL when the model has none. */
static qvk_status qvk_load_optional(struct qvk_device *dev,
				    const struct qvk_host_tensor *t, uint64_t n,
				    struct qvk_buffer **out)
{
	*out = NULL;
	return t->data ? qvk_load_vector(dev, t, 1, n, out) : QVK_OK;
}

static qvk_status qvk_load_layer_extras(struct qvk_device *dev,
					const struct qvk_model_params *p,
					const struct qvk_layer_weights *src,
					struct qvk_llm_layer *dst)
{
	uint64_t q = (uint64_t)p->n_heads * p->head_dim,
		 kv = (uint64_t)p->n_kv_heads * p->head_dim;
	const struct {
		const struct qvk_host_tensor *t;
		uint64_t n;
		struct qvk_buffer **out;
	} v[] = {
		{ &src->bq, q, &dst->bq },
		{ &src->bk, kv, &dst->bk },
		{ &src->bv, kv, &dst->bv },
		{ &src->bo, p->dim, &dst->bo },
		{ &src->b1, p->hidden_dim, &dst->b1 },
		{ &src->b2, p->dim, &dst->b2 },
		{ &src->b3, p->hidden_dim, &dst->b3 },
		{ &src->q_norm, p->head_dim, &dst->q_norm },
		{ &src->k_norm, p->head_dim, &dst->k_norm },
	};
	qvk_status st = QVK_OK;

	for (size_t i = 0; st == QVK_OK && i < QVK_ARRAY_SIZE(v); i++)
		st = qvk_load_optional(dev, v[i].t, v[i].n, v[i].out);
	return st;
}

qvk_status qvk_llm_weights_load(struct qvk_device *dev,
				const struct qvk_model *model,
				const struct qvk_llm_options *opt,
				struct qvk_llm_weights *w)
{
	/* One bar for the whole load, not one per tensor quantized. */
	qvk_progress_fn progress = dev->ctx->progress_fn;
	const struct qvk_model_params *p = &model->params;
	/* the distinct formats of the layers, for qvk_llm_describe() */
	struct qvk_linear_used used, kinds[4], out_used;
	uint32_t n_kinds = 0;
	char buf[2][32];
	/*
	 * A file that `qvk quantize` wrote says which tensors it left in
	 * float (--keep, --format f32/f16): auto keeps them so.
	 */
	bool float_as_stored = model->gguf &&
			       qvk_gguf_find(model->gguf, "qvk.quantize.method");
	double total = (double)p->n_layers * 7 + 1, done = 0;
	bool more = false;
	struct qvk_keep *keep;
	qvk_status st;

	memset(w, 0, sizeof(*w));
	st = qvk_keep_parse(dev->ctx, opt->keep, &keep);
	if (st != QVK_OK)
		return st;
	w->layers = calloc(p->n_layers, sizeof(*w->layers));
	if (!w->layers) {
		qvk_keep_destroy(keep);
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "layers");
	}
	w->n_layers = p->n_layers;
	st = qvk_load_vector(dev, &model->tok_embd, p->vocab_size, p->dim,
			     &w->tok_embd);
	if (st == QVK_OK)
		st = qvk_load_vector(dev, &model->output_norm, 1, p->dim,
				     &w->output_norm);
	for (uint32_t l = 0; st == QVK_OK && l < p->n_layers; l++) {
		const struct qvk_layer_weights *src = &model->layers[l];
		struct qvk_llm_layer *dst = &w->layers[l];
		const struct qvk_host_tensor *lin[7] = {
			&src->wq, &src->wk, &src->wv, &src->wo,
			&src->w1, &src->w2, &src->w3,
		};
		struct qvk_mm_weight **slot[7] = {
			&dst->wq, &dst->wk, &dst->wv, &dst->wo,
			&dst->w1, &dst->w2, &dst->w3,
		};

		st = qvk_load_vector(dev, &src->attn_norm, 1, p->dim,
				     &dst->attn_norm);
		if (st == QVK_OK)
			st = qvk_load_vector(dev, &src->ffn_norm, 1, p->dim,
					     &dst->ffn_norm);
		if (st == QVK_OK)
			st = qvk_load_layer_extras(dev, p, src, dst);
		for (int i = 0; st == QVK_OK && i < 7; i++) {
			dev->ctx->progress_fn = NULL;
			st = qvk_load_linear(dev, lin[i], NULL, opt, keep,
					     slot[i], &used, float_as_stored);
			dev->ctx->progress_fn = progress;
			uint32_t u = 0;

			while (u < n_kinds && !qvk_used_equal(&kinds[u], &used))
				u++;
			if (u == n_kinds && n_kinds < QVK_ARRAY_SIZE(kinds))
				kinds[n_kinds++] = used;
			more |= u == QVK_ARRAY_SIZE(kinds);
			qvk_progress(dev->ctx, "loading weights", ++done, total);
		}
	}
	if (st == QVK_OK)
		st = qvk_load_optional(dev, &model->output_b, p->vocab_size,
				       &w->output_b);
	dev->ctx->progress_fn = NULL;
	if (st == QVK_OK)
		st = qvk_load_linear(dev, &model->output,
				     p->shared_classifier ? "output.weight" : NULL,
				     opt, keep, &w->output, &out_used,
				     float_as_stored);
	dev->ctx->progress_fn = progress;
	qvk_progress(dev->ctx, "loading weights", total, total);
	/* --keep applies to the linear layers: say which rule found none */
	for (uint32_t r = 0; st == QVK_OK && r < qvk_keep_count(keep); r++)
		if (!qvk_keep_matches(keep, r))
			qvk_log(dev->ctx, QVK_LOG_WARN, "--keep '%s' matched no "
				"linear layer of the model (names: "
				"blk.N.attn_q.weight ... blk.N.ffn_down.weight, "
				"output.weight); it does nothing",
				qvk_keep_rule(keep, r));
	qvk_keep_destroy(keep);
	if (st != QVK_OK) {
		qvk_llm_weights_finish(w);
		return st;
	}
	/* "q8 g32, classifier q8", "Q4_K+Q6_K, classifier Q6_K" */
	for (uint32_t u = 0; u < n_kinds; u++) {
		size_t len = strlen(w->describe);

		snprintf(w->describe + len, sizeof(w->describe) - len, "%s%s",
			 u ? "+" : "",
			 qvk_used_name(&kinds[u], true, buf[0], sizeof(buf[0])));
	}
	snprintf(w->describe + strlen(w->describe),
		 sizeof(w->describe) - strlen(w->describe), "%s, classifier %s",
		 more ? "+..." : "",
		 qvk_used_name(&out_used, false, buf[1], sizeof(buf[1])));
	return QVK_OK;
}

void qvk_llm_weights_finish(struct qvk_llm_weights *w)
{
	for (uint32_t l = 0; w->layers && l < w->n_layers; l++) {
		struct qvk_llm_layer *L = &w->layers[l];

		qvk_buffer_destroy(L->attn_norm);
		qvk_buffer_destroy(L->ffn_norm);
		qvk_mm_weight_destroy(L->wq);
		qvk_mm_weight_destroy(L->wk);
		qvk_mm_weight_destroy(L->wv);
		qvk_mm_weight_destroy(L->wo);
		qvk_mm_weight_destroy(L->w1);
		qvk_mm_weight_destroy(L->w2);
		qvk_mm_weight_destroy(L->w3);
		qvk_buffer_destroy(L->bq);
		qvk_buffer_destroy(L->bk);
		qvk_buffer_destroy(L->bv);
		qvk_buffer_destroy(L->bo);
		qvk_buffer_destroy(L->b1);
		qvk_buffer_destroy(L->b2);
		qvk_buffer_destroy(L->b3);
		qvk_buffer_destroy(L->q_norm);
		qvk_buffer_destroy(L->k_norm);
	}
	free(w->layers);
	qvk_buffer_destroy(w->tok_embd);
	qvk_buffer_destroy(w->output_norm);
	qvk_mm_weight_destroy(w->output);
	qvk_buffer_destroy(w->output_b);
	memset(w, 0, sizeof(*w));
}
