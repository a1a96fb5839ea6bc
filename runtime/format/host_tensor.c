/* SPDX-License-Identifier: MIT */
/*
 * Host tensors: the size of a tensor of any type qvk reads, and its rows
 * as float -- ggml's block layouts dequantized exactly as ggml-quants.c
 * does (K-quants and IQ4 through kquant.c), qvk's own types (include/qvk/format.h) through the quantization
 * core's dequantizer -- plus the lossless conversion of qvk-typed tensors
 * to and from struct qvk_qtensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "format/format_internal.h"

/* The qtensor geometry of K real inputs of qvk type @type. */
static bool qvk_qvk_geometry(uint32_t type, uint64_t k, struct qvk_qtensor *g)
{
	enum qvk_qformat f;
	uint32_t group;

	if (!qvk_ggml_type_is_qvk(type, &f, &group) || k == 0 ||
	    k > UINT32_MAX - 128)
		return false;
	memset(g, 0, sizeof(*g));
	g->format = f;
	g->k = (uint32_t)k;
	g->k_padded = (uint32_t)QVK_ALIGN_UP(k, group ? group : QVK_QBLOCK);
	g->group = group ? group : g->k_padded;
	g->n_groups = g->k_padded / g->group;
	g->row_words = f == QVK_QFORMAT_Q8 ? g->k_padded / 4 : g->k_padded / 8;
	return true;
}

bool qvk_ggml_type_qvk_row_bytes(uint32_t type, uint64_t k,
				 uint64_t *row_bytes)
{
	struct qvk_qtensor g;

	if (!qvk_qvk_geometry(type, k, &g))
		return false;
	*row_bytes = 4ull * g.row_words +
		     2ull * g.n_groups * (g.format == QVK_QFORMAT_Q4A ? 2 : 1);
	return true;
}

bool qvk_ggml_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *ne,
			  uint64_t *size_bytes)
{
	uint32_t be, bb;
	uint64_t size;

	if (n_dims < 1 || n_dims > QVK_TENSOR_MAX_DIMS || ne[0] == 0)
		return false;
	if (qvk_ggml_type_block(type, &be, &bb)) {
		if (ne[0] % be)
			return false;
		size = ne[0] / be * bb;
	} else if (!qvk_ggml_type_qvk_row_bytes(type, ne[0], &size)) {
		return false; /* neither blocks nor a qvk row: not read */
	}
	for (uint32_t i = 1; i < n_dims; i++)
		if (ne[i] == 0 || __builtin_mul_overflow(size, ne[i], &size))
			return false;
	*size_bytes = size;
	return true;
}

uint64_t qvk_host_tensor_rows(const struct qvk_host_tensor *t)
{
	uint64_t rows = 1;

	for (uint32_t i = 1; i < t->n_dims && i < QVK_TENSOR_MAX_DIMS; i++)
		rows *= t->ne[i];
	return rows;
}

/*
 * A qtensor view of the file bytes (const cast: views are only read).
 * The reader has checked the size, so the arrays are inside the data.
 */
static bool qvk_qvk_view(const struct qvk_host_tensor *t,
			 struct qvk_qtensor *v)
{
	uint64_t rows = qvk_host_tensor_rows(t), size;

	if (!t->data || !qvk_qvk_geometry(t->type, t->ne[0], v) ||
	    rows > UINT32_MAX ||
	    !qvk_ggml_tensor_size(t->type, t->n_dims, t->ne, &size) ||
	    size != t->size_bytes || (uintptr_t)t->data % 4)
		return false;
	v->n = (uint32_t)rows;
	v->qs = (uint32_t *)(uintptr_t)t->data;
	v->scales = (uint16_t *)(v->qs + (size_t)v->n * v->row_words);
	v->mins = v->format == QVK_QFORMAT_Q4A ?
			  v->scales + (size_t)v->n * v->n_groups : NULL;
	return true;
}

static qvk_status qvk_qvk_row(const struct qvk_host_tensor *t, uint64_t row,
			      float *out)
{
	struct qvk_qtensor v;

	if (!qvk_qvk_view(t, &v) || row >= v.n)
		return QVK_ERR_INVALID_ARG;
	/* one row of the view: the quant core's own dequantizer, bit exact */
	v.qs += (size_t)row * v.row_words;
	v.scales += (size_t)row * v.n_groups;
	if (v.mins)
		v.mins += (size_t)row * v.n_groups;
	v.n = 1;
	qvk_qtensor_dequantize(&v, out);
	return QVK_OK;
}

static float qvk_block_half(const uint8_t *p)
{
	return qvk_fp16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

static float qvk_bf16(const uint8_t *p)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)(p[0] | p[1] << 8)
						  << 16 };

	return v.f;
}

/* One row of Q8_0 / Q4_0 / Q4_1 blocks (32 elements each). */
static void qvk_row_blocks32(uint32_t type, const uint8_t *src, uint64_t k,
			     uint32_t bb, float *out)
{
	for (uint64_t b = 0; b < k / 32; b++, src += bb) {
		float d = qvk_block_half(src), *y = out + b * 32;

		switch (type) {
		case QVK_GGML_TYPE_Q8_0:
			for (int j = 0; j < 32; j++)
				y[j] = (float)(int8_t)src[2 + j] * d;
			break;
		case QVK_GGML_TYPE_Q4_0:
			for (int j = 0; j < 16; j++) {
				y[j] = (float)((src[2 + j] & 0x0f) - 8) * d;
				y[j + 16] = (float)((src[2 + j] >> 4) - 8) * d;
			}
			break;
		default: { /* Q4_1 */
			float m = qvk_block_half(src + 2);

			for (int j = 0; j < 16; j++) {
				y[j] = (float)(src[4 + j] & 0x0f) * d + m;
				y[j + 16] = (float)(src[4 + j] >> 4) * d + m;
			}
			break;
		}
		}
	}
}

qvk_status qvk_host_tensor_row(const struct qvk_host_tensor *t, uint64_t row,
			       float *out)
{
	uint32_t be, bb;
	uint64_t k;
	const uint8_t *src;

	if (!t || !out || !t->data)
		return QVK_ERR_INVALID_ARG;
	if (qvk_ggml_type_is_qvk(t->type, NULL, NULL))
		return qvk_qvk_row(t, row, out);
	if (!qvk_ggml_type_block(t->type, &be, &bb) ||
	    row >= qvk_host_tensor_rows(t))
		return QVK_ERR_INVALID_ARG;
	k = t->ne[0];
	src = (const uint8_t *)t->data + row * (k / be * bb);

	switch (t->type) {
	case QVK_GGML_TYPE_F32:
		memcpy(out, src, k * sizeof(float));
		break;
	case QVK_GGML_TYPE_F16:
		for (uint64_t i = 0; i < k; i++)
			out[i] = qvk_block_half(src + 2 * i);
		break;
	case QVK_GGML_TYPE_BF16:
		for (uint64_t i = 0; i < k; i++)
			out[i] = qvk_bf16(src + 2 * i);
		break;
	case QVK_GGML_TYPE_Q8_0:
	case QVK_GGML_TYPE_Q4_0:
	case QVK_GGML_TYPE_Q4_1:
		qvk_row_blocks32(t->type, src, k, bb, out);
		break;
	default:
		if (qvk_type_info(t->type)->kernel != QVK_KERNEL_KQUANT)
			return QVK_ERR_INVALID_ARG;
		qvk_kq_row_dequantize(t->type, src, k, out);
		break;
	}
	return QVK_OK;
}

qvk_status qvk_qtensor_from_host(struct qvk_ctx *ctx,
				 const struct qvk_host_tensor *t,
				 struct qvk_qtensor **out)
{
	struct qvk_qtensor v, *qt = NULL;
	uint32_t group = 0;
	size_t groups;
	qvk_status st;

	if (!t || !out || !qvk_qvk_view(t, &v))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "tensor %s: not a "
				 "valid qvk-typed tensor", t ? t->name : "?");
	*out = NULL;
	groups = (size_t)v.n * v.n_groups;
	for (size_t i = 0; i < groups; i++) {
		float d = qvk_fp16_to_f32(v.scales[i]);
		float m = v.mins ? qvk_fp16_to_f32(v.mins[i]) : 0.0f;

		if (!isfinite(d) || !isfinite(m))
			return qvk_error(ctx, QVK_ERR_NUMERIC, "tensor %s: row "
					 "%zu group %zu: %s is not finite",
					 t->name, i / v.n_groups, i % v.n_groups,
					 isfinite(d) ? "min" : "scale");
	}
	st = qvk_ggml_type_is_qvk(t->type, NULL, &group) ?
		     qvk_qtensor_create(ctx, v.format, v.n, v.k, group, &qt) :
		     QVK_ERR_INVALID_ARG;
	if (st)
		return st;
	if (qt->k_padded != v.k_padded || qt->row_words != v.row_words ||
	    qt->n_groups != v.n_groups) {
		qvk_qtensor_destroy(qt);
		return qvk_error(ctx, QVK_ERR_FORMAT, "tensor %s: layout "
				 "disagrees with the quantization core", t->name);
	}
	memcpy(qt->qs, v.qs, qvk_qtensor_qs_bytes(qt));
	memcpy(qt->scales, v.scales, qvk_qtensor_scales_bytes(qt));
	if (qt->mins)
		memcpy(qt->mins, v.mins, qvk_qtensor_scales_bytes(qt));
	*out = qt;
	return QVK_OK;
}

qvk_status qvk_qtensor_to_host_bytes(struct qvk_ctx *ctx,
				     const struct qvk_qtensor *qt,
				     uint32_t *type, void **data,
				     uint64_t *size_bytes)
{
	/* a per-row tensor whose row is 32, 64 or 128 wide has that group's
	 * layout exactly, so either type describes it */
	uint32_t group = qvk_group_valid(qt->group) ? qt->group : QVK_GROUP_ROW;
	size_t qs = qvk_qtensor_qs_bytes(qt), sc = qvk_qtensor_scales_bytes(qt);
	uint64_t ne[2] = { qt->k, qt->n }, size;
	uint8_t *p;

	*data = NULL;
	*type = qvk_ggml_type_qvk(qt->format, group);
	if (!*type || !qvk_ggml_tensor_size(*type, 2, ne, &size) ||
	    size != qs + sc * (qt->mins ? 2 : 1))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "qvk tensor type: "
				 "%s group %u k %u has no qvk type",
				 qvk_qformat_name(qt->format), qt->group, qt->k);
	p = malloc(size);
	if (!p)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "qvk tensor: %llu "
				 "bytes", (unsigned long long)size);
	memcpy(p, qt->qs, qs);
	memcpy(p + qs, qt->scales, sc);
	if (qt->mins)
		memcpy(p + qs + sc, qt->mins, sc);
	*data = p;
	*size_bytes = size;
	return QVK_OK;
}
