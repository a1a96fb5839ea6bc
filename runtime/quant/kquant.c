/* SPDX-License-Identifier: MIT */
/*
 * K-quant / IQ4 tensors (include/qvk/kquant.h): ggml's file blocks made
 * word-aligned for the GPU, dequantization, and the exact integer
 * reference of the matmul_kq kernels. Decoding is kquant_layout.h's, the
 * one definition the shaders mirror.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/kquant.h>

#include "format/format_internal.h"
#include "format/kquant_layout.h"
#include "quant/quant_internal.h"

bool qvk_kq_type(uint32_t type)
{
	const struct qvk_type_info *t = qvk_type_info(type);

	return t && t->readable && t->kernel == QVK_KERNEL_KQUANT;
}

qvk_status qvk_kqtensor_from_gguf(struct qvk_ctx *ctx, const char *name,
				  uint32_t type, const void *blocks,
				  size_t size_bytes, uint32_t n, uint32_t k,
				  struct qvk_kqtensor **out)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	const uint8_t *src = blocks;
	struct qvk_kqtensor *kt;
	size_t count, need, bpr;
	char label[QVK_TYPE_LABEL_MAX];

	if (!name)
		name = "tensor";
	if (!out || !blocks)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	*out = NULL;
	if (!qvk_kq_type(type))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED, "%s: %s is not a "
				 "K-quant or IQ4 type", name,
				 qvk_type_label(type, label));
	if (n == 0 || k == 0 || k % t->block_elems)
		return qvk_error(ctx, QVK_ERR_FORMAT, "%s: %s rows of %u "
				 "elements (n=%u): not whole blocks of %u", name,
				 t->name, k, n, t->block_elems);
	bpr = k / t->block_elems;
	if (!qvk_mul_size(n, bpr, &count) ||
	    !qvk_mul_size(count, t->block_bytes, &need) ||
	    count > SIZE_MAX / 4 / qvk_kq_block_words(type))
		return qvk_error(ctx, QVK_ERR_FORMAT, "%s: %u x %u overflows",
				 name, n, k);
	if (size_bytes != need)
		return qvk_error(ctx, QVK_ERR_FORMAT, "%s: %zu bytes of %s "
				 "blocks, %u x %u needs %zu", name, size_bytes,
				 t->name, n, k, need);
	kt = calloc(1, sizeof(*kt));
	if (!kt)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s", name);
	kt->type = type;
	kt->n = n;
	kt->k = k;
	kt->block_elems = t->block_elems;
	kt->block_words = qvk_kq_block_words(type);
	kt->unit = t->group;
	kt->row_words = (uint32_t)bpr * kt->block_words;
	kt->blocks = malloc(count * kt->block_words * 4);
	if (!kt->blocks) {
		free(kt);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: %zu blocks", name,
				 count);
	}
	for (size_t b = 0; b < count; b++) {
		uint32_t *dst = kt->blocks + b * kt->block_words;
		float d, dmin;

		qvk_kq_block_from_file(type, src + b * t->block_bytes, dst);
		qvk_kq_block_d(type, dst, &d, &dmin);
		if (!isfinite(d) || !isfinite(dmin)) {
			qvk_kqtensor_destroy(kt);
			return qvk_error(ctx, QVK_ERR_NUMERIC, "%s: non-finite "
					 "%s d or dmin in row %zu, block %zu",
					 name, t->name, b / bpr, b % bpr);
		}
	}
	*out = kt;
	return QVK_OK;
}

void qvk_kqtensor_destroy(struct qvk_kqtensor *kt)
{
	if (!kt)
		return;
	free(kt->blocks);
	free(kt);
}

size_t qvk_kqtensor_bytes(const struct qvk_kqtensor *kt)
{
	return (size_t)kt->n * kt->row_words * 4;
}

void qvk_kqtensor_dequantize(const struct qvk_kqtensor *kt, float *w)
{
	for (uint32_t r = 0; r < kt->n; r++)
		for (uint32_t b = 0; b < kt->k / kt->block_elems; b++)
			qvk_kq_block_dequantize(
				kt->type,
				kt->blocks + (size_t)r * kt->row_words +
					(size_t)b * kt->block_words,
				w + (size_t)r * kt->k + (size_t)b * kt->block_elems);
}

uint32_t qvk_ref_kq_units(const struct qvk_kqtensor *w)
{
	return w->k / w->unit;
}

/*
 * Row @r decoded: @codes (k int8), and per unit the exact float d * sc
 * and dmin * mn.
 */
static void qvk_kq_row(const struct qvk_kqtensor *w, uint32_t r, int8_t *codes,
		       float *ds, float *dm)
{
	uint32_t chunks = w->block_elems / 32, per = 32 / w->unit;

	for (uint32_t b = 0; b < w->k / w->block_elems; b++) {
		const uint32_t *blk = w->blocks + (size_t)r * w->row_words +
				      (size_t)b * w->block_words;
		float d, dmin;

		qvk_kq_block_d(w->type, blk, &d, &dmin);
		for (uint32_t j = 0; j < chunks; j++) {
			uint32_t c = b * chunks + j, words[8];
			int32_t sc[2], mn[2];

			qvk_kq_codes(w->type, blk, j, words);
			qvk_kq_scales(w->type, blk, j, sc, mn);
			for (uint32_t e = 0; e < 32; e++)
				codes[32 * c + e] = (int8_t)(words[e / 4] >>
							     (8 * (e % 4)));
			for (uint32_t h = 0; h < per; h++) {
				ds[c * per + h] = d * (float)sc[h];
				dm[c * per + h] = dmin * (float)mn[h];
			}
		}
	}
}

static inline int32_t qvk_act_code(const struct qvk_qact *a, uint32_t t,
				   uint32_t k)
{
	return (int8_t)(uint8_t)(a->qs[(size_t)t * a->row_words + k / 4] >>
				 (8 * (k % 4)));
}

/* Both references: @dots and/or @y (either may be NULL). */
static qvk_status qvk_ref_kq(struct qvk_ctx *ctx, const struct qvk_kqtensor *w,
			     const struct qvk_qact *a, int32_t *dots, float *y)
{
	uint32_t units, unit, od, om;
	int8_t *codes;
	float *ds, *dm;

	if (!w || !a || (!dots && !y))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "K-quant reference: NULL argument");
	if (w->k != a->k || a->k_padded < w->k)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "K-quant reference: weight k=%u and activation "
				 "k=%u (padded %u) do not match", w->k, a->k,
				 a->k_padded);
	units = qvk_ref_kq_units(w);
	unit = w->unit;
	qvk_kq_d_offsets(w->type, &od, &om); /* om: whether it has mins */
	codes = malloc(w->k);
	ds = malloc(units * sizeof(*ds));
	dm = malloc(units * sizeof(*dm));
	if (!codes || !ds || !dm) {
		free(codes);
		free(ds);
		free(dm);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "K-quant reference");
	}
	for (uint32_t j = 0; j < w->n; j++) {
		qvk_kq_row(w, j, codes, ds, dm);
		for (uint32_t i = 0; i < a->m; i++) {
			float acc = 0.0f;

			for (uint32_t u = 0; u < units; u++) {
				int32_t dot = 0, sum = 0;
				uint32_t k0 = u * unit;
				float da = a->scales[(size_t)i * a->n_scales +
						     (a->n_scales == 1 ? 0 : k0 / 32)];
				float t;

				for (uint32_t l = k0; l < k0 + unit; l++) {
					dot += qvk_act_code(a, i, l) * codes[l];
					sum += qvk_act_code(a, i, l);
				}
				if (dots)
					dots[((size_t)i * w->n + j) * units + u] = dot;
				t = (float)dot * ds[u];
				if (om != 0xffff)
					t = fmaf(-(float)sum, dm[u], t);
				acc = fmaf(t, da, acc);
			}
			if (y)
				y[(size_t)i * w->n + j] = acc;
		}
	}
	free(codes);
	free(ds);
	free(dm);
	return QVK_OK;
}

qvk_status qvk_ref_kqdots(struct qvk_ctx *ctx, const struct qvk_kqtensor *w,
			  const struct qvk_qact *a, int32_t *dots)
{
	return qvk_ref_kq(ctx, w, a, dots, NULL);
}

qvk_status qvk_ref_matmul_kq(struct qvk_ctx *ctx, const struct qvk_kqtensor *w,
			     const struct qvk_qact *a, float *y)
{
	return qvk_ref_kq(ctx, w, a, NULL, y);
}
