/* SPDX-License-Identifier: MIT */
/*
 * Weights and activations on the device. Weights are written straight into
 * mapped device memory on unified-memory devices (lavapipe, iGPUs) and
 * through a staging buffer and a transfer otherwise. Weight rows never
 * straddle two pieces, so a kernel sees whole rows per binding.
 */
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "matmul/matmul.h"

static qvk_status qvk_weight_alloc(struct qvk_device *dev,
				   struct qvk_mm_weight *w, bool scales)
{
	size_t row_bytes = (size_t)w->row_words * 4, bytes;
	qvk_status st;

	if (!qvk_mul_size(row_bytes, w->n, &bytes))
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "weight (%u, %u) is too large", w->n, w->k);
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, bytes, row_bytes, &w->qs);
	if (st != QVK_OK)
		return st;
	w->rows_per_piece = (uint32_t)(w->qs->piece_bytes / row_bytes);
	if (!scales)
		return QVK_OK;
	/* fp16 pairs: round the count up to whole words. */
	bytes = QVK_ALIGN_UP((size_t)w->n * w->n_groups * 2, 4);
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, bytes, 4, &w->scales);
	if (st == QVK_OK && w->kind == QVK_MM_Q4A)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE, bytes, 4, &w->mins);
	return st;
}

/*
 * Texel views of a grouped weight for matmul_q_texel. Not having them is
 * no error where the layout rules them out (the device has no texel
 * buffers, or the scales span several pieces): the storage-buffer kernels
 * run instead. A view the device fails to create (out of memory) is an
 * error, as any other object of the upload.
 */
static qvk_status qvk_weight_views_create(struct qvk_device *dev,
					  struct qvk_mm_weight *w)
{
	qvk_status st = QVK_OK;
	uint32_t i, texel;
	VkFormat fmt;

	if (!dev->info.max_texel_buffer_elements ||
	    w->scales->n_pieces != 1 || (w->mins && w->mins->n_pieces != 1))
		return QVK_OK;
	w->qs_views = calloc(w->qs->n_pieces, sizeof(*w->qs_views));
	if (!w->qs_views)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY,
				 "matmul weight: texel view list");
	for (i = 0; st == QVK_OK && i < w->qs->n_pieces; i++)
		st = qvk_buffer_view_create(w->qs, i, VK_FORMAT_R32G32B32A32_UINT,
					    16, &w->qs_views[i]);
	/* Four scales a texel where every row starts one (see the kernel). */
	w->scales_vec = w->group <= 128 && w->n_groups % 4 == 0;
	fmt = w->scales_vec ? VK_FORMAT_R32G32_UINT : VK_FORMAT_R32_UINT;
	texel = w->scales_vec ? 8 : 4;
	if (st == QVK_OK)
		st = qvk_buffer_view_create(w->scales, 0, fmt, texel,
					    &w->scales_view);
	if (st == QVK_OK && w->mins)
		st = qvk_buffer_view_create(w->mins, 0, fmt, texel,
					    &w->mins_view);
	if (st != QVK_OK)
		qvk_mm_weight_views_destroy(dev, w);
	/* a piece past maxTexelBufferElements: the other kernels run */
	return st == QVK_ERR_UNSUPPORTED ? QVK_OK : st;
}

void qvk_mm_weight_views_destroy(struct qvk_device *dev,
				 struct qvk_mm_weight *w)
{
	for (uint32_t i = 0; w->qs_views && i < w->qs->n_pieces; i++)
		qvk_buffer_view_destroy(dev, w->qs_views[i]);
	free(w->qs_views);
	w->qs_views = NULL;
	qvk_buffer_view_destroy(dev, w->scales_view);
	qvk_buffer_view_destroy(dev, w->mins_view);
	w->scales_view = w->mins_view = VK_NULL_HANDLE;
}

qvk_status qvk_mm_weight_upload_q(struct qvk_device *dev,
				  const struct qvk_qtensor *qt,
				  struct qvk_mm_weight **out)
{
	struct qvk_mm_weight *w;
	qvk_status st;

	*out = NULL;
	if (qt->format != QVK_QFORMAT_Q8 && qt->format != QVK_QFORMAT_Q4 &&
	    qt->format != QVK_QFORMAT_Q4A)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "unknown weight format %d", (int)qt->format);
	w = calloc(1, sizeof(*w));
	if (!w)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "weight");
	w->kind = (enum qvk_mm_kind)qt->format;
	w->n = qt->n;
	w->k = qt->k;
	w->k_padded = qt->k_padded;
	w->group = qt->group;
	w->n_groups = qt->n_groups;
	w->row_words = qt->row_words;
	st = qvk_weight_alloc(dev, w, true);
	if (st == QVK_OK)
		st = qvk_buffer_upload(w->qs, 0, qt->qs, qvk_qtensor_qs_bytes(qt));
	if (st == QVK_OK)
		st = qvk_buffer_upload(w->scales, 0, qt->scales,
				qvk_qtensor_scales_bytes(qt));
	if (st == QVK_OK && w->mins)
		st = qvk_buffer_upload(w->mins, 0, qt->mins,
				qvk_qtensor_scales_bytes(qt));
	if (st == QVK_OK)
		st = qvk_weight_views_create(dev, w);
	if (st != QVK_OK) {
		qvk_mm_weight_destroy(w);
		return st;
	}
	*out = w;
	return QVK_OK;
}

qvk_status qvk_mm_weight_upload_kq(struct qvk_device *dev,
				   const struct qvk_kqtensor *kt,
				   struct qvk_mm_weight **out)
{
	struct qvk_mm_weight *w;
	qvk_status st;

	*out = NULL;
	if (!qvk_kq_type(kt->type))
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "weight: %u is not a K-quant type", kt->type);
	w = calloc(1, sizeof(*w));
	if (!w)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "weight");
	w->kind = QVK_MM_KQ;
	w->type = kt->type;
	w->n = kt->n;
	w->k = kt->k;
	w->k_padded = kt->k;
	w->group = kt->unit;
	w->n_groups = kt->k / kt->unit;
	w->blocks = kt->k / kt->block_elems;
	w->row_words = kt->row_words;
	/* scales and mins live inside the blocks */
	st = qvk_weight_alloc(dev, w, false);
	if (st == QVK_OK)
		st = qvk_buffer_upload(w->qs, 0, kt->blocks,
				       qvk_kqtensor_bytes(kt));
	if (st != QVK_OK) {
		qvk_mm_weight_destroy(w);
		return st;
	}
	*out = w;
	return QVK_OK;
}

qvk_status qvk_mm_weight_upload_float(struct qvk_device *dev, const float *src,
				      uint32_t n, uint32_t k, bool as_f16,
				      struct qvk_mm_weight **out)
{
	struct qvk_mm_weight *w = calloc(1, sizeof(*w));
	size_t elem = as_f16 ? 2 : 4, row_bytes, chunk_rows;
	uint8_t *chunk = NULL;
	qvk_status st;

	*out = NULL;
	if (!w)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "weight");
	w->kind = as_f16 ? QVK_MM_F16 : QVK_MM_F32;
	w->n = n;
	w->k = k;
	/* Rows padded with zeros to whole uvec4 loads of 8 elements. */
	w->k_padded = QVK_ALIGN_UP(k, 8);
	w->row_words = (uint32_t)(w->k_padded * elem / 4);
	row_bytes = (size_t)w->row_words * 4;
	/* Converted in chunks of ~16 MiB: one staged transfer each. */
	chunk_rows = QVK_MAX((size_t)1, (16u << 20) / row_bytes);
	chunk_rows = QVK_MIN(chunk_rows, (size_t)n);
	st = qvk_weight_alloc(dev, w, false);
	if (st == QVK_OK && !(chunk = calloc(chunk_rows, row_bytes)))
		st = qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "weight rows");
	for (size_t r0 = 0; st == QVK_OK && r0 < n; r0 += chunk_rows) {
		size_t rows = QVK_MIN(chunk_rows, n - r0);

		for (size_t r = 0; r < rows; r++) {
			const float *s = src + (r0 + r) * k;
			uint8_t *row = chunk + r * row_bytes;

			if (as_f16)
				qvk_fp16_from_f32_n((uint16_t *)row, s, k);
			else
				memcpy(row, s, (size_t)k * 4);
		}
		st = qvk_buffer_upload(w->qs, (VkDeviceSize)r0 * row_bytes, chunk,
				       (VkDeviceSize)rows * row_bytes);
	}
	free(chunk);
	if (st != QVK_OK) {
		qvk_mm_weight_destroy(w);
		return st;
	}
	*out = w;
	return QVK_OK;
}

void qvk_mm_weight_destroy(struct qvk_mm_weight *w)
{
	if (!w)
		return;
	if (w->qs)
		qvk_mm_weight_views_destroy(w->qs->dev, w);
	qvk_buffer_destroy(w->qs);
	qvk_buffer_destroy(w->scales);
	qvk_buffer_destroy(w->mins);
	free(w);
}

qvk_status qvk_mm_act_create(struct qvk_device *dev, uint32_t max_m,
			     uint32_t k, bool per_block,
			     struct qvk_mm_act **out)
{
	struct qvk_mm_act *a = calloc(1, sizeof(*a));
	qvk_status st;

	*out = NULL;
	if (!a)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "activations");
	a->max_m = max_m;
	a->k = k;
	a->k_padded = QVK_ALIGN_UP(k, QVK_ACT_ALIGN);
	a->per_block = per_block;
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, (VkDeviceSize)max_m *
						  a->k_padded, 4, &a->qa);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE,
				       (VkDeviceSize)max_m * 4 *
					       (per_block ? a->k_padded / 32 : 1),
				       4, &a->sa);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE,
				       (VkDeviceSize)max_m * a->k_padded / 32 * 4,
				       4, &a->suma);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE,
				       (VkDeviceSize)max_m * k * 4, 4, &a->x);
	/*
	 * Views for matmul_q_texel; where the layout rules them out (no
	 * texel buffers, pieces, past maxTexelBufferElements) the other
	 * kernels run, but a view the device fails to create is an error.
	 */
	if (st == QVK_OK && dev->info.max_texel_buffer_elements &&
	    a->qa->n_pieces == 1 && a->sa->n_pieces == 1 &&
	    a->suma->n_pieces == 1) {
		st = qvk_buffer_view_create(a->qa, 0, VK_FORMAT_R32G32B32A32_UINT,
					    16, &a->qa_view);
		if (st == QVK_OK)
			st = qvk_buffer_view_create(a->sa, 0, VK_FORMAT_R32_UINT, 4,
						    &a->sa_view);
		if (st == QVK_OK)
			st = qvk_buffer_view_create(a->suma, 0, VK_FORMAT_R32_UINT,
						    4, &a->suma_view);
		if (st != QVK_OK)
			qvk_mm_act_views_destroy(a);
		if (st == QVK_ERR_UNSUPPORTED)
			st = QVK_OK;
	}
	if (st != QVK_OK) {
		qvk_mm_act_destroy(a);
		return st;
	}
	*out = a;
	return QVK_OK;
}

void qvk_mm_act_views_destroy(struct qvk_mm_act *a)
{
	struct qvk_device *dev = a->qa->dev;

	qvk_buffer_view_destroy(dev, a->qa_view);
	qvk_buffer_view_destroy(dev, a->sa_view);
	qvk_buffer_view_destroy(dev, a->suma_view);
	a->qa_view = a->sa_view = a->suma_view = VK_NULL_HANDLE;
}

void qvk_mm_act_destroy(struct qvk_mm_act *a)
{
	if (!a)
		return;
	if (a->qa)
		qvk_mm_act_views_destroy(a);
	qvk_buffer_destroy(a->qa);
	qvk_buffer_destroy(a->sa);
	qvk_buffer_destroy(a->suma);
	qvk_buffer_destroy(a->x);
	free(a);
}

qvk_status qvk_mm_act_write_q(struct qvk_mm_act *a, const struct qvk_qact *q)
{
	struct qvk_device *dev = a->qa->dev;
	uint32_t blocks = a->k_padded / 32, qblocks = q->k_padded / 32;
	qvk_status st = QVK_OK;
	uint32_t *row;
	int32_t *sums;

	if (q->m > a->max_m || q->k != a->k || q->k_padded > a->k_padded ||
	    (q->granularity == QVK_ACT_PER_BLOCK32) != a->per_block)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "activations (%u, %u) do not fit (%u, %u) "
				 "%s buffers", q->m, q->k, a->max_m, a->k,
				 a->per_block ? "per-block" : "per-token");
	row = calloc(a->k_padded / 4, 4);
	sums = calloc(blocks, 4);
	if (!row || !sums)
		st = qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "activation row");
	/* Rows are re-padded from the quantizer's k_padded to ours. */
	for (uint32_t i = 0; st == QVK_OK && i < q->m; i++) {
		memcpy(row, q->qs + (size_t)i * q->row_words, q->row_words * 4);
		memcpy(sums, q->sums + (size_t)i * qblocks, qblocks * 4);
		st = qvk_buffer_upload(a->qa, (VkDeviceSize)i * a->k_padded, row,
				a->k_padded);
		if (st == QVK_OK)
			st = qvk_buffer_upload(a->suma,
					(VkDeviceSize)i * blocks * 4, sums,
					blocks * 4);
		/* Per-block scales are re-padded like the sums. */
		if (st == QVK_OK && a->per_block) {
			memcpy(sums, q->scales + (size_t)i * qblocks, qblocks * 4);
			st = qvk_buffer_upload(a->sa, (VkDeviceSize)i * blocks * 4,
					       sums, blocks * 4);
		}
	}
	if (st == QVK_OK && !a->per_block)
		st = qvk_buffer_upload(a->sa, 0, q->scales, (VkDeviceSize)q->m * 4);
	free(row);
	free(sums);
	return st;
}
