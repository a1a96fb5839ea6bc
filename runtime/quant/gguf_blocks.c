/* SPDX-License-Identifier: MIT */
/*
 * GGUF Q8_0 / Q4_0 / Q4_1 blocks <-> qvk tensors at group 32, byte-exact
 * both ways. A block's quant bytes are the 4 (Q4) or 8 (Q8) words of one
 * 32-element block of a qvk row in little-endian byte order, so the
 * conversion moves bytes and never requantizes. The scale is read and
 * written as the little-endian fp16 GGUF stores.
 */
#include <string.h>

#include <qvk/format.h>

#include "quant/quant_internal.h"

/* The qvk format of GGUF block type @type, 0 when it is not one of the three. */
static enum qvk_qformat qvk_block_format(uint32_t type, size_t *block_bytes)
{
	const struct qvk_type_info *t = qvk_type_info(type);

	if (!t || !t->gguf_native || !t->qformat || t->block_elems != 32)
		return 0;
	*block_bytes = t->block_bytes;
	return t->qformat;
}

static uint16_t load_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void store_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Checks shared by both directions; *bytes: the size of n rows of blocks. */
static qvk_status check_gguf_shape(struct qvk_ctx *ctx, const char *name,
				   uint32_t type, uint32_t n, uint32_t k,
				   size_t *bytes, enum qvk_qformat *format)
{
	size_t bb = 0, blocks;
	char label[QVK_TYPE_LABEL_MAX];

	*format = qvk_block_format(type, &bb);
	if (!*format)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "%s: %s is not Q8_0, Q4_0 or Q4_1", name,
				 qvk_type_label(type, label));
	if (n == 0 || k == 0 || k % 32)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "%s: GGUF blocks need k a multiple of 32 "
				 "(n=%u k=%u)", name, n, k);
	if (!qvk_mul_size(n, k / 32, &blocks) ||
	    !qvk_mul_size(blocks, bb, bytes))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: %u x %u blocks overflow", name, n, k);
	return QVK_OK;
}

qvk_status qvk_qtensor_from_gguf(struct qvk_ctx *ctx, const char *name,
				 uint32_t type, const void *blocks,
				 size_t size_bytes, uint32_t n, uint32_t k,
				 struct qvk_qtensor **out)
{
	const uint8_t *src = blocks;
	size_t need, bb;
	struct qvk_qtensor *qt;
	enum qvk_qformat format;
	qvk_status st;

	if (!name)
		name = "tensor";
	if (!out || !blocks)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	*out = NULL;
	st = check_gguf_shape(ctx, name, type, n, k, &need, &format);
	if (st)
		return st;
	bb = need / ((size_t)n * (k / 32));
	if (size_bytes != need)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: %zu bytes of blocks, %u x %u needs %zu",
				 name, size_bytes, n, k, need);
	st = qvk_qtensor_create(ctx, format, n, k, 32, &qt);
	if (st)
		return st;
	for (uint32_t r = 0; r < n; r++) {
		uint32_t *row = qt->qs + (size_t)r * qt->row_words;

		for (uint32_t b = 0; b < k / 32; b++, src += bb) {
			size_t gi = (size_t)r * qt->n_groups + b;
			const uint8_t *q = src + (type == QVK_GGML_TYPE_Q4_1 ? 4 : 2);
			uint32_t words = format == QVK_QFORMAT_Q8 ? 8 : 4;

			qt->scales[gi] = load_le16(src);
			if (type == QVK_GGML_TYPE_Q4_1)
				qt->mins[gi] = load_le16(src + 2);
			/* exponent 31: Inf or NaN, which no quantizer writes */
			if ((qt->scales[gi] & 0x7c00u) == 0x7c00u ||
			    (qt->mins && (qt->mins[gi] & 0x7c00u) == 0x7c00u)) {
				qvk_qtensor_destroy(qt);
				return qvk_error(ctx, QVK_ERR_NUMERIC,
						 "%s: non-finite fp16 scale or min "
						 "in row %u, block %u", name, r, b);
			}
			for (uint32_t i = 0; i < words; i++, q += 4)
				row[b * words + i] = (uint32_t)q[0] |
						     (uint32_t)q[1] << 8 |
						     (uint32_t)q[2] << 16 |
						     (uint32_t)q[3] << 24;
		}
	}
	*out = qt;
	return QVK_OK;
}

qvk_status qvk_qtensor_to_gguf(struct qvk_ctx *ctx, const char *name,
			       const struct qvk_qtensor *qt,
			       uint32_t type, void *blocks,
			       size_t capacity_bytes)
{
	size_t need, bb;
	enum qvk_qformat format;
	uint8_t *dst = blocks;
	qvk_status st;

	if (!name)
		name = "tensor";
	if (!qt || !blocks)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	st = check_gguf_shape(ctx, name, type, qt->n, qt->k, &need, &format);
	if (st)
		return st;
	bb = need / ((size_t)qt->n * (qt->k / 32));
	if (format != qt->format || qt->group != 32)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "%s: a %s tensor at group %u is not %s",
				 name, qvk_qformat_name(qt->format), qt->group,
				 qvk_ggml_type_name(type));
	if (capacity_bytes < need)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: %zu bytes of room, %zu needed", name,
				 capacity_bytes, need);
	for (uint32_t r = 0; r < qt->n; r++) {
		const uint32_t *row = qt->qs + (size_t)r * qt->row_words;

		for (uint32_t b = 0; b < qt->k / 32; b++, dst += bb) {
			size_t gi = (size_t)r * qt->n_groups + b;
			uint8_t *q = dst + (type == QVK_GGML_TYPE_Q4_1 ? 4 : 2);
			uint32_t words = format == QVK_QFORMAT_Q8 ? 8 : 4;

			store_le16(dst, qt->scales[gi]);
			if (type == QVK_GGML_TYPE_Q4_1)
				store_le16(dst + 2, qt->mins[gi]);
			for (uint32_t i = 0; i < words; i++, q += 4) {
				uint32_t w = row[b * words + i];

				q[0] = (uint8_t)w;
				q[1] = (uint8_t)(w >> 8);
				q[2] = (uint8_t)(w >> 16);
				q[3] = (uint8_t)(w >> 24);
			}
		}
	}
	return QVK_OK;
}
