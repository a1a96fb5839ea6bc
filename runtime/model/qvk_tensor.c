/* SPDX-License-Identifier: MIT */
/*
 * qvk's own GGUF tensor types (the layout is documented in
 * include/qvk/quantize.h): ids, sizes, row dequantization for the
 * reference, and the lossless conversion to and from struct qvk_qtensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/quantize.h>

#include "qvk_tensor.h"

static const uint32_t qvk_type_groups[4] = { QVK_GROUP_ROW, 32, 64, 128 };

static const char *const qvk_type_names[QVK_GGML_TYPE_QVK_COUNT] = {
	"QVK_Q8_ROW",  "QVK_Q8_G32",  "QVK_Q8_G64",  "QVK_Q8_G128",
	"QVK_Q4_ROW",  "QVK_Q4_G32",  "QVK_Q4_G64",  "QVK_Q4_G128",
	"QVK_Q4A_ROW", "QVK_Q4A_G32", "QVK_Q4A_G64", "QVK_Q4A_G128",
};

uint32_t qvk_ggml_type_qvk(enum qvk_qformat format, uint32_t group)
{
	if (format < QVK_QFORMAT_Q8 || format > QVK_QFORMAT_Q4A)
		return 0;
	for (uint32_t g = 0; g < 4; g++)
		if (qvk_type_groups[g] == group)
			return QVK_GGML_TYPE_QVK_BASE + 4 * (format - 1) + g;
	return 0;
}

bool qvk_ggml_type_is_qvk(uint32_t type, enum qvk_qformat *format,
			  uint32_t *group)
{
	uint32_t i = type - QVK_GGML_TYPE_QVK_BASE;

	if (type < QVK_GGML_TYPE_QVK_BASE || i >= QVK_GGML_TYPE_QVK_COUNT)
		return false;
	if (format)
		*format = (enum qvk_qformat)(i / 4 + 1);
	if (group)
		*group = qvk_type_groups[i % 4];
	return true;
}

const char *qvk_qvk_type_name(uint32_t type)
{
	if (!qvk_ggml_type_is_qvk(type, NULL, NULL))
		return NULL;
	return qvk_type_names[type - QVK_GGML_TYPE_QVK_BASE];
}

/* The qtensor geometry of K real inputs (k <= 2^32 - 129 checked). */
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
	g->k_padded = (uint32_t)QVK_ALIGN_UP(k, group ? group : 32u);
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

bool qvk_qvk_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *ne,
			 uint64_t *size_bytes)
{
	uint64_t size;

	if (n_dims < 1 || n_dims > QVK_TENSOR_MAX_DIMS ||
	    !qvk_ggml_type_qvk_row_bytes(type, ne[0], &size))
		return false;
	for (uint32_t i = 1; i < n_dims; i++)
		if (ne[i] == 0 || __builtin_mul_overflow(size, ne[i], &size))
			return false;
	*size_bytes = size;
	return true;
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
	    !qvk_qvk_tensor_size(t->type, t->n_dims, t->ne, &size) ||
	    size != t->size_bytes || (uintptr_t)t->data % 4)
		return false;
	v->n = (uint32_t)rows;
	v->qs = (uint32_t *)(uintptr_t)t->data;
	v->scales = (uint16_t *)(v->qs + (size_t)v->n * v->row_words);
	v->mins = v->format == QVK_QFORMAT_Q4A ?
			  v->scales + (size_t)v->n * v->n_groups : NULL;
	return true;
}

qvk_status qvk_qvk_tensor_row(const struct qvk_host_tensor *t, uint64_t row,
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
	uint32_t group = qt->group == 32 || qt->group == 64 ||
				 qt->group == 128 ? qt->group : QVK_GROUP_ROW;
	size_t qs = qvk_qtensor_qs_bytes(qt), sc = qvk_qtensor_scales_bytes(qt);
	uint64_t ne[2] = { qt->k, qt->n }, size;
	uint8_t *p;

	*data = NULL;
	*type = qvk_ggml_type_qvk(qt->format, group);
	if (!*type || !qvk_qvk_tensor_size(*type, 2, ne, &size) ||
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
