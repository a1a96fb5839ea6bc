/* SPDX-License-Identifier: MIT */
/*
 * Whole-model quantization: the plan of every tensor's type (plan.c),
 * then one streaming pass (stream.c, layer.c) that reads, calibrates,
 * transforms and encodes tensor by tensor into a sink: memory for
 * qvk_quantize_model(), the GGUF file itself for qvk_quantize_to_file().
 * Grouped formats are stored in GGUF's Q8_0/Q4_0/Q4_1 where they hold a
 * tensor exactly and in qvk's own types otherwise; K-quant mixes in GGUF
 * Q4_K/Q5_K/Q6_K (include/qvk/quantize.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "quantize_internal.h"

struct qvk_quantized {
	struct qvk_qplan *plan;  /* plan->out is the model, data below */
	void **bufs;             /* (plan->n) encoded tensors */
	struct qvk_quantize_options opt;
	char *keep;              /* copy of opt.keep */
	uint64_t calib_tokens;
};

static const char *const qvk_kmix_names[] = {
	"none", "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m",
};

const char *qvk_kquant_mix_name(enum qvk_kquant_mix m)
{
	return (unsigned)m < QVK_ARRAY_SIZE(qvk_kmix_names) ?
		       qvk_kmix_names[m] : "unknown";
}

bool qvk_kquant_mix_parse(const char *name, enum qvk_kquant_mix *m)
{
	for (unsigned i = 1; name && i < QVK_ARRAY_SIZE(qvk_kmix_names); i++)
		if (!strcasecmp(name, qvk_kmix_names[i])) {
			*m = (enum qvk_kquant_mix)i;
			return true;
		}
	return false;
}

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
	if ((unsigned)opt->kmix >= QVK_ARRAY_SIZE(qvk_kmix_names))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: K-quant "
				 "mix %d", (int)opt->kmix);
	if ((unsigned)opt->calib_device > QVK_CALIB_GPU)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: "
				 "calib_device %d", (int)opt->calib_device);
	if (opt->calib_device == QVK_CALIB_GPU && !opt->calib_dev)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: "
				 "calibration on the device: no device given "
				 "(calib_dev)");
	if (opt->n_tensor_types && !opt->tensor_types)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: %u "
				 "tensor types without the list",
				 opt->n_tensor_types);
	if (qvk_quant_method_needs_calib(opt->method) &&
	    (opt->format >= QVK_WEIGHTS_Q8 || opt->kmix) &&
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


/* ------------------------------------------------------------ memory */

struct qvk_mem_sink {
	struct qvk_qsink base;
	struct qvk_quantized *q;
};

static qvk_status qvk_mem_sink_put(struct qvk_qsink *base, uint32_t index,
				   const struct qvk_host_tensor *t, void *bytes)
{
	struct qvk_quantized *q = ((struct qvk_mem_sink *)base)->q;
	struct qvk_host_tensor *dst = (struct qvk_host_tensor *)(uintptr_t)
		qvk_model_tensor_at(&q->plan->out, index);

	(void)t;
	q->bufs[index] = bytes;
	dst->data = bytes;
	return QVK_OK;
}

static uint64_t qvk_calib_used(const struct qvk_quantize_options *opt)
{
	return opt->calib_tokens ? opt->n_calib_tokens : 0;
}

static qvk_status qvk_quantize_impl(struct qvk_ctx *ctx,
				    const struct qvk_model *model,
				    const struct qvk_quantize_options *opt,
				    bool rounding, struct qvk_quantized **out)
{
	struct qvk_quantized *q;
	struct qvk_mem_sink sink = { { qvk_mem_sink_put }, NULL };
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
	q->opt.tensor_types = NULL; /* the caller's; only the plan reads them */
	q->opt.n_tensor_types = 0;
	q->calib_tokens = qvk_calib_used(opt);
	sink.q = q;
	st = opt->keep && !q->keep ?
		     qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize: --keep") :
		     qvk_qplan_create(ctx, model, opt, rounding, &q->plan);
	if (st == QVK_OK && !(q->bufs = calloc(q->plan->n, sizeof(*q->bufs))))
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize");
	if (st == QVK_OK)
		st = qvk_quantize_stream(ctx, model, opt, q->plan, rounding,
					 &sink.base, NULL);
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
	return q ? &q->plan->out : NULL;
}

void qvk_quantized_destroy(struct qvk_quantized *q)
{
	if (!q)
		return;
	for (uint32_t i = 0; q->bufs && i < q->plan->n; i++)
		free(q->bufs[i]);
	free(q->bufs);
	qvk_qplan_destroy(q->plan);
	free(q->keep);
	free(q);
}

/* -------------------------------------------------------------- file */

/* Everything of the file but the tensor data: model, vocabulary, qvk.*. */
static qvk_status qvk_quantize_header(struct qvk_gguf_writer *w,
				      const struct qvk_qplan *plan,
				      const struct qvk_tokenizer *tok,
				      const struct qvk_quantize_options *o,
				      uint64_t calib_tokens)
{
	qvk_status st;

	if ((st = qvk_model_to_gguf(&plan->out, w)) ||
	    (st = qvk_tokenizer_to_gguf(tok, w)) ||
	    (st = qvk_gguf_writer_set_str(w, "general.name", "qvk quantized")) ||
	    (st = qvk_gguf_writer_set_str(w, "qvk.quantize.method",
					  qvk_quant_method_name(o->method))) ||
	    (st = qvk_gguf_writer_set_str(w, "qvk.quantize.format",
					  o->kmix ? qvk_kquant_mix_name(o->kmix) :
					  qvk_weight_format_name(o->format))) ||
	    (st = qvk_gguf_writer_set_u32(w, "qvk.quantize.group",
					  o->kmix ? 256 : o->group)) ||
	    (st = qvk_gguf_writer_set_u32(w, "qvk.quantize.calib_tokens",
					  (uint32_t)QVK_MIN(calib_tokens,
							    UINT32_MAX))))
		return st;
	if (o->keep && (st = qvk_gguf_writer_set_str(w, "qvk.quantize.keep",
						     o->keep)))
		return st;
	if (plan->qvk_types &&
	    (st = qvk_gguf_writer_set_u32(w, "qvk.tensor_types",
					  QVK_TENSOR_TYPES_VERSION)))
		return st;
	return QVK_OK;
}

qvk_status qvk_quantized_write(struct qvk_ctx *ctx,
			       const struct qvk_quantized *q,
			       const struct qvk_tokenizer *tok,
			       const char *path)
{
	struct qvk_gguf_writer *w = NULL;
	qvk_status st;

	if (!q || !tok || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: write "
				 "needs a model, a tokenizer and a path");
	st = qvk_gguf_writer_create(ctx, &w);
	if (st == QVK_OK)
		st = qvk_quantize_header(w, q->plan, tok, &q->opt,
					 q->calib_tokens);
	if (st == QVK_OK)
		st = qvk_gguf_writer_write(w, path);
	qvk_gguf_writer_destroy(w);
	return st;
}

struct qvk_file_sink {
	struct qvk_qsink base;
	struct qvk_gguf_writer *w;
};

static qvk_status qvk_file_sink_put(struct qvk_qsink *base, uint32_t index,
				    const struct qvk_host_tensor *t, void *bytes)
{
	struct qvk_file_sink *fs = (struct qvk_file_sink *)base;
	qvk_status st = qvk_gguf_writer_put_data(fs->w, bytes, t->size_bytes);

	(void)index;
	free(bytes);
	return st;
}

static uint64_t qvk_peak_rss_bytes(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : (uint64_t)ru.ru_maxrss * 1024;
}

qvk_status qvk_quantize_to_file(struct qvk_ctx *ctx,
				const struct qvk_model *model,
				const struct qvk_quantize_options *opt,
				const struct qvk_tokenizer *tok,
				const char *path,
				struct qvk_quantize_report *report)
{
	struct qvk_file_sink sink = { { qvk_file_sink_put }, NULL };
	struct qvk_quantize_report r = { 0 };
	struct qvk_qrun_extra extra = { 0 };
	struct qvk_qplan *plan = NULL;
	struct timespec t0, t1;
	struct stat sb;
	qvk_status st;

	if (!tok || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: writing "
				 "needs a tokenizer and a path");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = qvk_quantize_check(ctx, model, opt);
	if (st == QVK_OK)
		st = qvk_qplan_create(ctx, model, opt, true, &plan);
	if (st == QVK_OK)
		st = qvk_gguf_writer_create(ctx, &sink.w);
	if (st)
		goto out_plan;
	qvk_gguf_writer_defer_data(sink.w);
	st = qvk_quantize_header(sink.w, plan, tok, opt, qvk_calib_used(opt));
	if (st == QVK_OK)
		st = qvk_gguf_writer_begin(sink.w, path);
	if (st == QVK_OK)
		st = qvk_quantize_stream(ctx, model, opt, plan, true, &sink.base,
					 &extra);
	if (st == QVK_OK && plan->out.rope_factors) /* after the model's */
		st = qvk_gguf_writer_put_data(
			sink.w, plan->out.rope_factors,
			4ull * (qvk_model_rope_dims(&plan->out.params) / 2));
	if (st == QVK_OK)
		st = qvk_gguf_writer_commit(sink.w);
	if (st == QVK_OK) {
		for (uint32_t i = 0; i < plan->n; i++) {
			const struct qvk_host_tensor *t = plan->src[i];
			uint64_t b = 4 * t->ne[0] * qvk_host_tensor_rows(t);

			r.largest_f32_bytes = QVK_MAX(r.largest_f32_bytes, b);
		}
		if (!stat(path, &sb))
			r.file_bytes = (uint64_t)sb.st_size;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		r.seconds = (double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
		r.peak_host_bytes = qvk_peak_rss_bytes();
		r.calib_bytes = extra.calib_bytes;
		if (report)
			*report = r;
	}
	qvk_gguf_writer_destroy(sink.w); /* removes the temporary on failure */
out_plan:
	qvk_qplan_destroy(plan);
	return st;
}
