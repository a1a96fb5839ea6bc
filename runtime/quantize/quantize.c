/* SPDX-License-Identifier: MIT */
/*
 * Whole-model quantization: a float working copy of the model, optional
 * calibration through the reference forward pass, AWQ / SmoothQuant scales
 * folded into it, then every linear layer quantized with the chosen method
 * and stored in the most portable type that holds it exactly: GGUF's
 * Q8_0/Q4_0/Q4_1 at group 32 when K is a multiple of 32, qvk's own types
 * otherwise (include/qvk/quantize.h). Norms and the embedding stay F32
 * (F16 when --keep asks); the classifier is quantized like the other
 * linear layers, as its own tensor even when the source shared it with the
 * embedding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "quantize_internal.h"

struct qvk_quantized {
	struct qvk_fmodel *fm;   /* the (folded) float model */
	struct qvk_model out;    /* what gets written */
	void **bufs;             /* [n_bufs] data owned here (or NULL) */
	uint32_t n_bufs;
	struct qvk_quantize_options opt;
	char *keep;              /* copy of opt.keep */
	struct qvk_keep *rules;  /* opt.keep parsed */
	bool tied;               /* the source's classifier was the embedding */
	uint64_t calib_tokens;
	bool qvk_types;          /* some tensor uses a qvk type */
};

static const char *const qvk_method_names[] = {
	"rtn", "mse", "awq", "smoothquant", "gptq",
};

const char *qvk_quant_method_name(enum qvk_quant_method m)
{
	return (unsigned)m < QVK_ARRAY_SIZE(qvk_method_names) ?
		       qvk_method_names[m] : "unknown";
}

bool qvk_quant_method_parse(const char *name, enum qvk_quant_method *m)
{
	for (unsigned i = 0; i < QVK_ARRAY_SIZE(qvk_method_names); i++)
		if (!strcmp(name, qvk_method_names[i])) {
			*m = (enum qvk_quant_method)i;
			return true;
		}
	return false;
}

bool qvk_quant_method_needs_calib(enum qvk_quant_method m)
{
	return m == QVK_METHOD_AWQ || m == QVK_METHOD_SMOOTHQUANT ||
	       m == QVK_METHOD_GPTQ;
}

/* Calibration site of tensor @index in file order, or UINT32_MAX. */
static uint32_t qvk_tensor_site(const struct qvk_model *m, uint32_t index)
{
	static const int kinds[9] = { -1, QVK_SITE_ATTN_IN, QVK_SITE_ATTN_IN,
				      QVK_SITE_ATTN_IN, QVK_SITE_ATTN_OUT, -1,
				      QVK_SITE_FFN_IN, QVK_SITE_FFN_OUT,
				      QVK_SITE_FFN_IN };
	uint32_t n = 9 * m->params.n_layers;

	if (index == 0)
		return UINT32_MAX;
	if (index - 1 < n)
		return kinds[(index - 1) % 9] < 0 ?
			       UINT32_MAX :
			       qvk_site_index((index - 1) / 9,
					      (enum qvk_site_kind)
						      kinds[(index - 1) % 9]);
	return index == n + 2 ? qvk_site_index(m->params.n_layers, 0) :
				UINT32_MAX;
}

/* Quantize one float matrix with the method. */
static qvk_status qvk_quantize_matrix(struct qvk_ctx *ctx,
				      const struct qvk_host_tensor *t,
				      const struct qvk_quantize_options *opt,
				      const struct qvk_calib_site *cs,
				      struct qvk_qtensor **qt)
{
	const float *w = (const float *)t->data;
	uint32_t n = (uint32_t)qvk_host_tensor_rows(t), k = (uint32_t)t->ne[0];
	struct qvk_quant_params qp = qvk_quant_params_default(
		qvk_weight_format_qformat(opt->format), opt->group);
	float *imp = NULL, *ones = NULL;
	qvk_status st;

	switch (opt->method) {
	case QVK_METHOD_MSE:
		qp.clip = QVK_CLIP_MSE;
		if (cs && cs->tokens && (imp = malloc(k * sizeof(float)))) {
			for (uint32_t j = 0; j < k; j++)
				imp[j] = (float)(cs->sum_sq[j] / cs->tokens);
			qp.importance = imp;
		}
		st = qvk_quantize_weights(ctx, t->name, w, n, k, &qp, qt);
		break;
	case QVK_METHOD_AWQ: {
		/* W and the sampled rows are already folded: s = 1 here */
		struct qvk_awq_params ap = { .quant = qp, .clip_search = 1,
					     .eval_tokens = cs->n_rows };

		ones = malloc(k * sizeof(float));
		if (!ones)
			return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", t->name);
		for (uint32_t j = 0; j < k; j++)
			ones[j] = 1.0f;
		st = qvk_awq_quantize(ctx, t->name, cs->rows, cs->n_rows, w, n,
				      k, ones, &ap, qt);
		break;
	}
	case QVK_METHOD_GPTQ: {
		struct qvk_gptq_params gp = { .quant = qp, .act_order = 1 };

		st = qvk_gptq_quantize_hessian(ctx, t->name, cs->xtx,
					       cs->tokens, w, n, k, &gp, qt);
		break;
	}
	default: /* RTN; SmoothQuant's weights are already smoothed */
		st = qvk_quantize_weights(ctx, t->name, w, n, k, &qp, qt);
		break;
	}
	free(imp);
	free(ones);
	return st;
}

/* Store @qt as GGUF blocks when they hold it, else as a qvk type. */
static qvk_status qvk_store_q(struct qvk_ctx *ctx, struct qvk_quantized *q,
			      const struct qvk_qtensor *qt,
			      struct qvk_host_tensor *dst, void **buf)
{
	uint32_t type = qvk_ggml_type_gguf(qt->format), be, bb;
	qvk_status st;

	if (qt->group == 32 && qt->k % 32 == 0 &&
	    qvk_ggml_type_block(type, &be, &bb)) {
		size_t size = (size_t)qt->n * (qt->k / be) * bb;

		*buf = malloc(size);
		if (!*buf)
			return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", dst->name);
		st = qvk_qtensor_to_gguf(ctx, dst->name, qt, type, *buf, size);
		dst->type = (enum qvk_ggml_type)type;
		dst->size_bytes = size;
	} else {
		st = qvk_qtensor_to_host_bytes(ctx, qt, &type, buf,
					       &dst->size_bytes);
		dst->type = (enum qvk_ggml_type)type;
		q->qvk_types = true;
	}
	dst->data = *buf;
	return st;
}

static qvk_status qvk_store_float(struct qvk_ctx *ctx,
				  const struct qvk_host_tensor *src,
				  enum qvk_weight_format type,
				  struct qvk_host_tensor *dst, void **buf)
{
	size_t count = src->size_bytes / sizeof(float);
	uint16_t *h;

	dst->type = QVK_GGML_TYPE_F32;
	dst->data = src->data; /* the float model lives as long as we do */
	dst->size_bytes = src->size_bytes;
	if (type != QVK_WEIGHTS_F16)
		return QVK_OK;
	h = malloc(count * sizeof(*h) + 1);
	if (!h)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", src->name);
	qvk_fp16_from_f32_n(h, (const float *)src->data, count);
	*buf = h;
	dst->type = QVK_GGML_TYPE_F16;
	dst->data = h;
	dst->size_bytes = count * sizeof(*h);
	return QVK_OK;
}

/*
 * Every rule must match a tensor of @m (a tied classifier answers to
 * output.weight too): a pattern that matches nothing is a typo, and
 * quantizing a whole model to find that out wastes the user's time.
 */
static qvk_status qvk_keep_check(struct qvk_ctx *ctx, struct qvk_keep *rules,
				 const struct qvk_model *m)
{
	uint32_t n = qvk_model_tensor_count(m);

	for (uint32_t i = 0; i < n && qvk_keep_count(rules); i++)
		(void)qvk_keep_lookup(rules, qvk_model_tensor_at(m, i)->name,
				      NULL);
	if (m->params.shared_classifier)
		(void)qvk_keep_lookup(rules, "output.weight", NULL);
	for (uint32_t r = 0; r < qvk_keep_count(rules); r++)
		if (!qvk_keep_matches(rules, r))
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep '%s' "
					 "matches no tensor of the model (names "
					 "are GGUF's: token_embd.weight, "
					 "blk.N.attn_q.weight ... "
					 "blk.N.ffn_down.weight, output.weight)",
					 qvk_keep_rule(rules, r));
	return QVK_OK;
}

static qvk_status qvk_quantize_tensors(struct qvk_ctx *ctx,
				       struct qvk_quantized *q,
				       const struct qvk_calib *c, bool quantize)
{
	const struct qvk_model *fm = &q->fm->m;
	qvk_progress_fn progress = ctx ? ctx->progress_fn : NULL;
	qvk_status st = QVK_OK;
	char what[96];

	for (uint32_t i = 0; st == QVK_OK && i < q->n_bufs; i++) {
		const struct qvk_host_tensor *src = qvk_model_tensor_at(fm, i);
		struct qvk_host_tensor *dst = (struct qvk_host_tensor *)
			(uintptr_t)qvk_model_tensor_at(&q->out, i);
		uint32_t site = qvk_tensor_site(fm, i);
		/* a classifier that was tied answers to both names */
		enum qvk_weight_format keep = qvk_keep_lookup(
			q->rules, src->name,
			q->tied && src == &fm->output ? "token_embd.weight" :
							NULL);
		struct qvk_qtensor *qt = NULL;

		snprintf(what, sizeof(what), "quantizing %.60s", src->name);
		qvk_progress(ctx, what, i, q->n_bufs);
		if (site == UINT32_MAX || keep != QVK_WEIGHTS_AUTO || !quantize ||
		    q->opt.format == QVK_WEIGHTS_F32 ||
		    q->opt.format == QVK_WEIGHTS_F16) {
			if (keep == QVK_WEIGHTS_AUTO && site != UINT32_MAX &&
			    q->opt.format == QVK_WEIGHTS_F16 && quantize)
				keep = QVK_WEIGHTS_F16;
			st = qvk_store_float(ctx, src, keep, dst, &q->bufs[i]);
			continue;
		}
		if (ctx) /* one bar for the model, not one per layer */
			ctx->progress_fn = NULL;
		st = qvk_quantize_matrix(ctx, src, &q->opt,
					 c ? &c->sites[site] : NULL, &qt);
		if (ctx)
			ctx->progress_fn = progress;
		if (st == QVK_OK)
			st = qvk_store_q(ctx, q, qt, dst, &q->bufs[i]);
		qvk_qtensor_destroy(qt);
	}
	if (st == QVK_OK)
		qvk_progress(ctx, "quantizing", q->n_bufs, q->n_bufs);
	return st;
}

static qvk_status qvk_quantize_check(struct qvk_ctx *ctx,
				     const struct qvk_model *model,
				     const struct qvk_quantize_options *opt)
{
	if (!model || !opt)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: no model");
	/* Before calibrating: only llama models can be written back. */
	if (qvk_model_check_llama_export(ctx, model))
		return QVK_ERR_UNSUPPORTED;
	if (opt->format < QVK_WEIGHTS_F32 || opt->format > QVK_WEIGHTS_Q4A)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: format "
				 "%s is not f32, f16, q8, q4 or q4a",
				 qvk_weight_format_name(opt->format));
	if (!qvk_group_valid(opt->group))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: group %u "
				 "(use " QVK_GROUPS_TEXT ")", opt->group);
	if ((unsigned)opt->method >= QVK_ARRAY_SIZE(qvk_method_names))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: method "
				 "%d", (int)opt->method);
	if (qvk_quant_method_needs_calib(opt->method) &&
	    opt->format >= QVK_WEIGHTS_Q8 &&
	    (!opt->calib_tokens || !opt->n_calib_tokens))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: method "
				 "%s needs calibration text",
				 qvk_quant_method_name(opt->method));
	if ((opt->method == QVK_METHOD_AWQ || opt->method == QVK_METHOD_GPTQ) &&
	    !qvk_quant_has_blas())
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED, "quantize: %s needs "
				 "BLAS (this libqvk was built with QVK_BLAS=0)",
				 qvk_quant_method_name(opt->method));
	return QVK_OK;
}

static qvk_status qvk_quantize_impl(struct qvk_ctx *ctx,
				    const struct qvk_model *model,
				    const struct qvk_quantize_options *opt,
				    bool quantize, struct qvk_quantized **out)
{
	struct qvk_quantized *q;
	struct qvk_calib *c = NULL;
	bool calib = opt && opt->format >= QVK_WEIGHTS_Q8 &&
		     (qvk_quant_method_needs_calib(opt->method) ||
		      (opt->method == QVK_METHOD_MSE && opt->n_calib_tokens));
	qvk_status st;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: no out");
	*out = NULL;
	if ((st = qvk_quantize_check(ctx, model, opt)))
		return st;
	q = calloc(1, sizeof(*q));
	if (!q)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize");
	q->opt = *opt;
	q->keep = opt->keep ? strdup(opt->keep) : NULL;
	q->opt.keep = q->keep;
	st = opt->keep && !q->keep ?
		     qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize: --keep") :
		     qvk_keep_parse(ctx, q->keep, &q->rules);
	if (st == QVK_OK)
		st = qvk_keep_check(ctx, q->rules, model);
	q->tied = model->params.shared_classifier;
	if (st == QVK_OK)
		st = qvk_fmodel_create(ctx, model, &q->fm);
	if (st == QVK_OK && calib) {
		st = qvk_calib_run(ctx, q->fm, opt,
				   opt->method == QVK_METHOD_GPTQ,
				   opt->method == QVK_METHOD_AWQ ? 512 : 0, &c);
		q->calib_tokens = opt->n_calib_tokens;
	}
	if (st == QVK_OK && c && (opt->method == QVK_METHOD_AWQ ||
				  opt->method == QVK_METHOD_SMOOTHQUANT))
		st = qvk_smooth_fold(ctx, q->fm, c, opt);
	if (st == QVK_OK) {
		const struct qvk_model *fm = &q->fm->m;

		q->out = *fm;
		/* a float classifier still equal to the embedding stays shared */
		q->out.params.shared_classifier =
			model->params.shared_classifier &&
			(!quantize || opt->format <= QVK_WEIGHTS_F16) &&
			!memcmp(fm->output.data, fm->tok_embd.data,
				fm->tok_embd.size_bytes);
		q->n_bufs = qvk_model_tensor_count(&q->out);
		q->out.layers = malloc(q->out.params.n_layers *
				       sizeof(*q->out.layers));
		q->bufs = calloc(q->n_bufs, sizeof(*q->bufs));
		if (!q->out.layers || !q->bufs)
			st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize");
		else
			memcpy(q->out.layers, q->fm->m.layers,
			       q->out.params.n_layers * sizeof(*q->out.layers));
	}
	if (st == QVK_OK)
		st = qvk_quantize_tensors(ctx, q, c, quantize);
	qvk_calib_destroy(c);
	if (st) {
		qvk_quantized_destroy(q);
		return st;
	}
	*out = q;
	return QVK_OK;
}

qvk_status qvk_quantize_model(struct qvk_ctx *ctx,
			      const struct qvk_model *model,
			      const struct qvk_quantize_options *opt,
			      struct qvk_quantized **out)
{
	return qvk_quantize_impl(ctx, model, opt, true, out);
}

qvk_status qvk_quantize_fold_only(struct qvk_ctx *ctx,
				  const struct qvk_model *model,
				  const struct qvk_quantize_options *opt,
				  struct qvk_quantized **out)
{
	return qvk_quantize_impl(ctx, model, opt, false, out);
}

const struct qvk_model *qvk_quantized_model(const struct qvk_quantized *q)
{
	return q ? &q->out : NULL;
}

void qvk_quantized_destroy(struct qvk_quantized *q)
{
	if (!q)
		return;
	for (uint32_t i = 0; q->bufs && i < q->n_bufs; i++)
		free(q->bufs[i]);
	free(q->bufs);
	free(q->out.layers);
	qvk_fmodel_destroy(q->fm);
	qvk_keep_destroy(q->rules);
	free(q->keep);
	free(q);
}

qvk_status qvk_quantized_write(struct qvk_ctx *ctx,
			       const struct qvk_quantized *q,
			       const struct qvk_tokenizer *tok,
			       const char *path)
{
	struct qvk_gguf_writer *w = NULL;
	const struct qvk_quantize_options *o;
	qvk_status st;

	if (!q || !tok || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: write "
				 "needs a model, a tokenizer and a path");
	o = &q->opt;
	st = qvk_gguf_writer_create(ctx, &w);
	if (st)
		return st;
	if ((st = qvk_model_to_gguf(&q->out, w)) ||
	    (st = qvk_tokenizer_to_gguf(tok, w)) ||
	    (st = qvk_gguf_writer_set_str(w, "general.name", "qvk quantized")) ||
	    (st = qvk_gguf_writer_set_str(w, "qvk.quantize.method",
					  qvk_quant_method_name(o->method))) ||
	    (st = qvk_gguf_writer_set_str(w, "qvk.quantize.format",
					  qvk_weight_format_name(o->format))) ||
	    (st = qvk_gguf_writer_set_u32(w, "qvk.quantize.group", o->group)) ||
	    (st = qvk_gguf_writer_set_u32(w, "qvk.quantize.calib_tokens",
					  (uint32_t)QVK_MIN(q->calib_tokens,
							    UINT32_MAX))))
		goto out;
	if (q->keep && (st = qvk_gguf_writer_set_str(w, "qvk.quantize.keep",
						     q->keep)))
		goto out;
	if (q->qvk_types &&
	    (st = qvk_gguf_writer_set_u32(w, "qvk.tensor_types",
					  QVK_TENSOR_TYPES_VERSION)))
		goto out;
	st = qvk_gguf_writer_write(w, path);
out:
	qvk_gguf_writer_destroy(w);
	return st;
}
