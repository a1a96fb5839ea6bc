/* SPDX-License-Identifier: MIT */
/*
 * The packed weight tensor: shape arithmetic, allocation, code access,
 * dequantization. The layout is specified in include/qvk/quant.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/format.h>

#include "quant/quant_internal.h"

const char *qvk_qformat_name(enum qvk_qformat format)
{
	switch (format) {
	case QVK_QFORMAT_Q8:
		return "q8";
	case QVK_QFORMAT_Q4:
		return "q4";
	case QVK_QFORMAT_Q4A:
		return "q4a";
	}
	return NULL;
}

int qvk_qtensor_shape(enum qvk_qformat format, uint32_t k, uint32_t group,
		      uint32_t *k_padded, uint32_t *group_out,
		      uint32_t *row_words)
{
	uint64_t kp;

	if (!qvk_qformat_name(format) || k == 0)
		return -1;
	if (!qvk_group_valid(group))
		return -1;
	kp = QVK_ALIGN_UP((uint64_t)k, group ? group : QVK_QBLOCK);
	if (kp > UINT32_MAX - 128)
		return -1;
	*k_padded = (uint32_t)kp;
	*group_out = group == QVK_GROUP_ROW ? (uint32_t)kp : group;
	*row_words = (uint32_t)(format == QVK_QFORMAT_Q8 ? kp / 4 : kp / 8);
	return 0;
}

qvk_status qvk_qtensor_create(struct qvk_ctx *ctx, enum qvk_qformat format,
			      uint32_t n, uint32_t k, uint32_t group,
			      struct qvk_qtensor **out)
{
	struct qvk_qtensor *qt;
	uint32_t kp, g, words;
	size_t qs_count, sc_count;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "qtensor: out is NULL");
	*out = NULL;
	if (n == 0 || qvk_qtensor_shape(format, k, group, &kp, &g, &words))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "qtensor: bad shape n=%u k=%u group=%u format %s "
				 "(group must be " QVK_GROUPS_TEXT ")", n, k, group,
				 qvk_qformat_name(format) ? qvk_qformat_name(format) :
							    "unknown");
	if (!qvk_mul_size(n, words, &qs_count) ||
	    !qvk_mul_size(n, kp / g, &sc_count) ||
	    qs_count > SIZE_MAX / 4)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY,
				 "qtensor: %u x %u does not fit in memory", n, k);

	qt = calloc(1, sizeof(*qt));
	if (!qt)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "qtensor: no memory");
	qt->format = format;
	qt->n = n;
	qt->k = k;
	qt->k_padded = kp;
	qt->group = g;
	qt->n_groups = kp / g;
	qt->row_words = words;
	qt->qs = calloc(qs_count, sizeof(*qt->qs));
	qt->scales = calloc(sc_count, sizeof(*qt->scales));
	if (format == QVK_QFORMAT_Q4A)
		qt->mins = calloc(sc_count, sizeof(*qt->mins));
	if (!qt->qs || !qt->scales || (format == QVK_QFORMAT_Q4A && !qt->mins)) {
		qvk_qtensor_destroy(qt);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY,
				 "qtensor: no memory for %u x %u", n, k);
	}
	*out = qt;
	return QVK_OK;
}

void qvk_qtensor_destroy(struct qvk_qtensor *qt)
{
	if (!qt)
		return;
	free(qt->qs);
	free(qt->scales);
	free(qt->mins);
	free(qt);
}

size_t qvk_qtensor_qs_bytes(const struct qvk_qtensor *qt)
{
	return (size_t)qt->n * qt->row_words * sizeof(uint32_t);
}

size_t qvk_qtensor_scales_bytes(const struct qvk_qtensor *qt)
{
	return (size_t)qt->n * qt->n_groups * sizeof(uint16_t);
}

/* Byte address and nibble shift of element k in a Q4 row (see quant.h). */
static inline void q4_locate(uint32_t k, uint32_t *byte, uint32_t *shift)
{
	uint32_t j = k % 32;

	*byte = (k / 32) * 16 + (j & 15);
	*shift = j < 16 ? 0 : 4;
}

int qvk_qtensor_get_code(const struct qvk_qtensor *qt, uint32_t row,
			 uint32_t k)
{
	const uint32_t *r = qt->qs + (size_t)row * qt->row_words;
	uint32_t byte, shift, b;

	if (qt->format == QVK_QFORMAT_Q8)
		return (int8_t)(uint8_t)(r[k / 4] >> (8 * (k % 4)));
	q4_locate(k, &byte, &shift);
	b = (r[byte / 4] >> (8 * (byte % 4))) & 0xffu;
	return (int)((b >> shift) & 0xfu);
}

void qvk_qtensor_set_code(struct qvk_qtensor *qt, uint32_t row, uint32_t k,
			  int code)
{
	uint32_t *r = qt->qs + (size_t)row * qt->row_words;
	uint32_t byte, shift, bit;

	if (qt->format == QVK_QFORMAT_Q8) {
		bit = 8 * (k % 4);
		r[k / 4] = (r[k / 4] & ~(0xffu << bit)) |
			   ((uint32_t)(uint8_t)(int8_t)code << bit);
		return;
	}
	q4_locate(k, &byte, &shift);
	bit = 8 * (byte % 4) + shift;
	r[byte / 4] = (r[byte / 4] & ~(0xfu << bit)) |
		      (((uint32_t)code & 0xfu) << bit);
}

void qvk_qtensor_dequantize(const struct qvk_qtensor *qt, float *w)
{
	for (uint32_t r = 0; r < qt->n; r++) {
		for (uint32_t g = 0; g < qt->n_groups; g++) {
			size_t gi = (size_t)r * qt->n_groups + g;
			float d = qvk_fp16_to_f32(qt->scales[gi]);
			float m = qt->mins ? qvk_fp16_to_f32(qt->mins[gi]) : 0.0f;
			uint32_t end = QVK_MIN((g + 1) * qt->group, qt->k);

			for (uint32_t k = g * qt->group; k < end; k++)
				w[(size_t)r * qt->k + k] = qvk_qvalue(
					qt->format, d, m,
					qvk_qtensor_get_code(qt, r, k));
		}
	}
}

/*
 * Codes a 32-element block at a time straight into its words (this is the
 * inner loop of every quantizer, so no per-element bit surgery).
 */
void qvk_qtensor_write_group(struct qvk_qtensor *qt, uint32_t row, uint32_t g,
			     const struct qvk_qgroup *p, const float *x,
			     uint32_t count)
{
	uint32_t *words = qt->qs + (size_t)row * qt->row_words;
	uint32_t k0 = g * qt->group;

	qvk_qtensor_set_group(qt, row, g, p);
	for (uint32_t b = 0; b < qt->group / 32; b++) {
		uint8_t c[32];
		uint32_t base = b * 32, kb = (k0 + base) / 32;

		for (uint32_t i = 0; i < 32; i++)
			c[i] = (uint8_t)qvk_qcode(qt->format, p,
						  base + i < count ? x[base + i]
								   : 0.0f);
		if (qt->format == QVK_QFORMAT_Q8) {
			for (uint32_t w = 0; w < 8; w++)
				words[kb * 8 + w] = (uint32_t)c[4 * w] |
						    (uint32_t)c[4 * w + 1] << 8 |
						    (uint32_t)c[4 * w + 2] << 16 |
						    (uint32_t)c[4 * w + 3] << 24;
		} else {
			for (uint32_t w = 0; w < 4; w++) {
				uint32_t v = 0;

				for (uint32_t l = 0; l < 4; l++)
					v |= (uint32_t)(c[4 * w + l] |
							c[16 + 4 * w + l] << 4)
					     << (8 * l);
				words[kb * 4 + w] = v;
			}
		}
	}
}

size_t qvk_find_nonfinite(const float *x, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (!isfinite(x[i]))
			return i;
	return count;
}

qvk_status qvk_check_finite(struct qvk_ctx *ctx, const char *name,
			    const char *what, const char *row_name,
			    const float *x, size_t rows, uint32_t k)
{
	size_t count = rows * k, bad = qvk_find_nonfinite(x, count);

	if (bad < count)
		return qvk_error(ctx, QVK_ERR_NUMERIC,
				 "%s: non-finite %s at %s %zu, column %zu", name,
				 what, row_name, bad / k, bad % k);
	return QVK_OK;
}
