/* SPDX-License-Identifier: MIT */
/*
 * One tensor at a time: read from the source as fp32 (its mapped pages
 * handed back as they are consumed), encoded into its planned type with
 * the method, decoded back to fp32 (what the next layers compute with in
 * a sequential calibration), and quantized-dequantized for the searches.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <qvk/fp16.h>
#include <qvk/kquant.h>

#include "quantize_internal.h"
#include "quant/quant_internal.h"

/* Source bytes read between two hand-backs of their pages. */
#define QVK_PAGEOUT_BYTES (8u << 20)

/*
 * Give the whole pages of [p, p + n) back to the kernel. MADV_PAGEOUT
 * reclaims clean file pages (a mapped model's, read again from the file
 * if touched again) and never loses data, so it is safe on any memory:
 * on heap memory (a model built in memory) it does nothing without swap.
 * Older kernels refuse it; the only cost then is a higher peak.
 */
static void qvk_pageout(const void *p, size_t n)
{
#ifdef MADV_PAGEOUT
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = QVK_ALIGN_UP((uintptr_t)p, page);
	uintptr_t b = ((uintptr_t)p + n) / page * page;

	if (b > a)
		(void)madvise((void *)a, b - a, MADV_PAGEOUT);
#else
	(void)p, (void)n;
#endif
}

qvk_status qvk_tensor_load_f32(struct qvk_ctx *ctx,
			       const struct qvk_host_tensor *t, float **out)
{
	uint64_t rows = qvk_host_tensor_rows(t), k = t->ne[0];
	uint64_t row_bytes = rows ? t->size_bytes / rows : 0, since = 0;
	size_t bytes;
	float *w;

	*out = NULL;
	if (!t->data || rows > UINT32_MAX || k > UINT32_MAX ||
	    !qvk_mul_size((size_t)(rows * k), sizeof(float), &bytes))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: tensor %s "
				 "is absent or too large", t->name);
	w = malloc(bytes ? bytes : 1);
	if (!w)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize: fp32 copy "
				 "of %s (%zu bytes)", t->name, bytes);
	for (uint64_t r = 0; r < rows; r++) {
		qvk_status st = qvk_host_tensor_row(t, r, w + r * k);

		if (st) {
			free(w);
			return qvk_error(ctx, st, "quantize: tensor %s: cannot "
					 "read row %llu", t->name,
					 (unsigned long long)r);
		}
		since += row_bytes;
		if (since >= QVK_PAGEOUT_BYTES || r + 1 == rows) {
			const uint8_t *end = (const uint8_t *)t->data +
					     (r + 1) * row_bytes;

			qvk_pageout(end - since, since);
			since = 0;
		}
	}
	*out = w;
	return QVK_OK;
}

qvk_status qvk_tensor_decode(struct qvk_ctx *ctx,
			     const struct qvk_host_tensor *t, float *w)
{
	uint64_t rows = qvk_host_tensor_rows(t), k = t->ne[0];

	for (uint64_t r = 0; r < rows; r++) {
		qvk_status st = qvk_host_tensor_row(t, r, w + r * k);

		if (st)
			return qvk_error(ctx, st, "quantize: tensor %s: cannot "
					 "decode row %llu", t->name,
					 (unsigned long long)r);
	}
	return QVK_OK;
}

/* A quantized qtensor into its stored bytes (GGUF blocks or a qvk type). */
static qvk_status qvk_qtensor_store(struct qvk_ctx *ctx,
				    const struct qvk_host_tensor *dst,
				    const struct qvk_qtensor *qt, void **bytes)
{
	uint32_t type;
	uint64_t size;
	qvk_status st;

	if (!qvk_ggml_type_is_qvk(dst->type, NULL, NULL)) {
		*bytes = malloc(dst->size_bytes);
		if (!*bytes)
			return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", dst->name);
		return qvk_qtensor_to_gguf(ctx, dst->name, qt, dst->type, *bytes,
					   dst->size_bytes);
	}
	st = qvk_qtensor_to_host_bytes(ctx, qt, &type, bytes, &size);
	if (st == QVK_OK && (type != dst->type || size != dst->size_bytes))
		st = qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: %s came "
			       "out as type %u of %llu bytes, planned %u of "
			       "%llu", dst->name, type, (unsigned long long)size,
			       dst->type, (unsigned long long)dst->size_bytes);
	return st;
}

/* Float tensors: F32 as is, F16 rounded to nearest. */
static qvk_status qvk_encode_float(struct qvk_ctx *ctx,
				   const struct qvk_host_tensor *dst,
				   const float *w, void **bytes)
{
	size_t count = (size_t)(dst->ne[0] * qvk_host_tensor_rows(dst));

	*bytes = malloc(dst->size_bytes ? dst->size_bytes : 1);
	if (!*bytes)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", dst->name);
	if (dst->type == QVK_GGML_TYPE_F16)
		qvk_fp16_from_f32_n(*bytes, w, count);
	else
		memcpy(*bytes, w, count * sizeof(float));
	return QVK_OK;
}

static qvk_status qvk_encode_grouped(struct qvk_ctx *ctx,
				     const struct qvk_host_tensor *dst,
				     const struct qvk_type_info *ti, float *w,
				     uint32_t n, uint32_t k,
				     const struct qvk_encode *e, void **bytes,
				     bool *w_kept)
{
	struct qvk_quant_params qp = qvk_quant_params_default(ti->qformat,
							      ti->group);
	struct qvk_qtensor *qt = NULL;
	qvk_status st;

	if (e->method == QVK_METHOD_GPTQ && e->cs && e->cs->xtx) {
		struct qvk_gptq_params gp = { .quant = qp, .act_order = 1 };

		*w_kept = false;
		st = qvk_gptq_qtensor_consume(ctx, dst->name, e->cs->xtx,
					      e->cs->tokens, w, n, k, &gp, &qt);
	} else {
		/* MSE and AWQ's final step: the importance-weighted clip search */
		if (e->method == QVK_METHOD_MSE || e->method == QVK_METHOD_AWQ) {
			qp.clip = QVK_CLIP_MSE;
			qp.importance = e->importance;
		}
		st = qvk_quantize_weights(ctx, dst->name, w, n, k, &qp, &qt);
	}
	if (st == QVK_OK)
		st = qvk_qtensor_store(ctx, dst, qt, bytes);
	qvk_qtensor_destroy(qt);
	return st;
}

static qvk_status qvk_encode_kquant(struct qvk_ctx *ctx,
				    const struct qvk_host_tensor *dst, float *w,
				    uint32_t n, uint32_t k,
				    const struct qvk_encode *e, void **bytes,
				    bool *w_kept)
{
	/* round to nearest from each sub-block's range; else the search */
	bool search = e->method != QVK_METHOD_RTN &&
		      e->method != QVK_METHOD_SMOOTHQUANT;

	*bytes = malloc(dst->size_bytes);
	if (!*bytes)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", dst->name);
	if (e->method == QVK_METHOD_GPTQ && e->cs && e->cs->xtx) {
		struct qvk_gptq_params gp = { .act_order = 1 };

		*w_kept = false;
		return qvk_gptq_kq_consume(ctx, dst->name, e->cs->xtx,
					   e->cs->tokens, w, n, k, dst->type,
					   &gp, *bytes, dst->size_bytes);
	}
	return qvk_kq_quantize(ctx, dst->name, dst->type, w, n, k,
			       search ? e->importance : NULL, search, *bytes,
			       dst->size_bytes);
}

qvk_status qvk_tensor_encode(struct qvk_ctx *ctx, struct qvk_host_tensor *dst,
			     uint32_t spec, float *w, const struct qvk_encode *e,
			     void **bytes, bool *w_kept)
{
	const struct qvk_type_info *ti = qvk_type_info(spec);
	uint32_t n = (uint32_t)qvk_host_tensor_rows(dst), k = (uint32_t)dst->ne[0];
	qvk_progress_fn progress = ctx ? ctx->progress_fn : NULL;
	qvk_status st;

	*bytes = NULL;
	*w_kept = true;
	if (!ti->quantized)
		return qvk_encode_float(ctx, dst, w, bytes);
	/* one bar for the model, not one per tensor (the run reports) */
	if (ctx)
		ctx->progress_fn = NULL;
	st = ti->kernel == QVK_KERNEL_KQUANT ?
		     qvk_encode_kquant(ctx, dst, w, n, k, e, bytes, w_kept) :
		     qvk_encode_grouped(ctx, dst, ti, w, n, k, e, bytes, w_kept);
	if (ctx)
		ctx->progress_fn = progress;
	if (st) {
		free(*bytes);
		*bytes = NULL;
	}
	return st;
}

qvk_status qvk_tensor_qdq(struct qvk_ctx *ctx, const char *name, uint32_t spec,
			  const float *w, uint32_t n, uint32_t k, float *out)
{
	struct qvk_host_tensor t = { .n_dims = 2, .ne = { k, n, 1, 1 } };
	struct qvk_encode e = { .method = QVK_METHOD_RTN };
	bool kept;
	void *bytes = NULL;
	qvk_status st;

	snprintf(t.name, sizeof(t.name), "%s", name);
	t.type = (enum qvk_ggml_type)qvk_qplan_stored_type(spec, k);
	if (!qvk_ggml_tensor_size(t.type, 2, t.ne, &t.size_bytes))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: no %u x %u "
				 "tensor of type %u", name, n, k, t.type);
	/* encode works in place only for GPTQ; RTN leaves w as it was */
	st = qvk_tensor_encode(ctx, &t, spec, (float *)(uintptr_t)w, &e, &bytes,
			       &kept);
	t.data = bytes;
	if (st == QVK_OK)
		st = qvk_tensor_decode(ctx, &t, out);
	free(bytes);
	return st;
}
