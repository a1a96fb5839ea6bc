/* SPDX-License-Identifier: MIT */
/*
 * Dynamic int8 activation quantization, per token (ZeroQuant token-wise) or
 * per 32-element block, with every block's integer sum kept for the
 * asymmetric-weight correction. The rounding is specified in quant.h; the
 * GPU's activation kernel is checked against this one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"

qvk_status qvk_qact_create(struct qvk_ctx *ctx,
			   enum qvk_act_granularity granularity, uint32_t m,
			   uint32_t k, uint32_t k_padded, struct qvk_qact **out)
{
	struct qvk_qact *qa;
	size_t words, scales, sums;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "qact: out is NULL");
	*out = NULL;
	if (k_padded == 0 && k <= UINT32_MAX - 31)
		k_padded = QVK_ALIGN_UP(k, QVK_QBLOCK);
	if (m == 0 || k == 0 || k_padded < k || k_padded % QVK_QBLOCK ||
	    (granularity != QVK_ACT_PER_TOKEN &&
	     granularity != QVK_ACT_PER_BLOCK32))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "qact: bad shape m=%u k=%u k_padded=%u "
				 "granularity=%d", m, k, k_padded,
				 (int)granularity);
	if (!qvk_mul_size(m, k_padded / 4, &words) ||
	    !qvk_mul_size(m, k_padded / 32, &sums) || words > SIZE_MAX / 4)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "qact: %u x %u too large",
				 m, k);
	scales = granularity == QVK_ACT_PER_TOKEN ? m : sums;

	qa = calloc(1, sizeof(*qa));
	if (!qa)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "qact: no memory");
	qa->granularity = granularity;
	qa->m = m;
	qa->k = k;
	qa->k_padded = k_padded;
	qa->row_words = k_padded / 4;
	qa->n_scales = granularity == QVK_ACT_PER_TOKEN ? 1 : k_padded / 32;
	qa->qs = calloc(words, sizeof(*qa->qs));
	qa->scales = calloc(scales, sizeof(*qa->scales));
	qa->sums = calloc(sums, sizeof(*qa->sums));
	if (!qa->qs || !qa->scales || !qa->sums) {
		qvk_qact_destroy(qa);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "qact: no memory");
	}
	*out = qa;
	return QVK_OK;
}

void qvk_qact_destroy(struct qvk_qact *qa)
{
	if (!qa)
		return;
	free(qa->qs);
	free(qa->scales);
	free(qa->sums);
	free(qa);
}

/* Quantize x[0..count) (count <= len) with one scale, writing len codes. */
static float quantize_span(const float *x, uint32_t count, uint32_t len,
			   int8_t *q)
{
	float amax = 0.0f, d, id;

	for (uint32_t i = 0; i < count; i++)
		amax = fmaxf(amax, fabsf(x[i]));
	d = amax / 127.0f;
	id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!isfinite(id)) /* amax ~1e-36 or less: treated as all zero */
		d = id = 0.0f;
	for (uint32_t i = 0; i < len; i++) {
		float v = i < count ? roundf(x[i] * id) : 0.0f;

		q[i] = (int8_t)fminf(fmaxf(v, -127.0f), 127.0f);
	}
	return d;
}

qvk_status qvk_quantize_act(struct qvk_ctx *ctx, const char *name,
			    const float *x, struct qvk_qact *qa)
{
	uint32_t kp, blocks;
	int8_t *q;

	if (!name)
		name = "activations";
	if (!x || !qa)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	kp = qa->k_padded;
	blocks = kp / 32;
	q = malloc(kp);
	if (!q)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
	for (uint32_t t = 0; t < qa->m; t++) {
		const float *row = x + (size_t)t * qa->k;
		uint32_t *words = qa->qs + (size_t)t * qa->row_words;
		size_t bad = qvk_find_nonfinite(row, qa->k);

		if (bad < qa->k) {
			free(q);
			return qvk_error(ctx, QVK_ERR_NUMERIC,
					 "%s: non-finite value %g at token %u, "
					 "column %zu", name, (double)row[bad], t,
					 bad);
		}
		if (qa->granularity == QVK_ACT_PER_TOKEN) {
			qa->scales[t] = quantize_span(row, qa->k, kp, q);
		} else {
			for (uint32_t b = 0; b < blocks; b++) {
				uint32_t k0 = b * 32;
				uint32_t count = k0 < qa->k ?
						 QVK_MIN(32u, qa->k - k0) : 0;

				qa->scales[(size_t)t * blocks + b] =
					quantize_span(row + k0, count, 32,
						      q + k0);
			}
		}
		for (uint32_t b = 0; b < blocks; b++) {
			int32_t sum = 0;

			for (uint32_t i = 0; i < 32; i++)
				sum += q[b * 32 + i];
			qa->sums[(size_t)t * blocks + b] = sum;
		}
		for (uint32_t i = 0; i < qa->row_words; i++)
			words[i] = (uint32_t)(uint8_t)q[4 * i] |
				   (uint32_t)(uint8_t)q[4 * i + 1] << 8 |
				   (uint32_t)(uint8_t)q[4 * i + 2] << 16 |
				   (uint32_t)(uint8_t)q[4 * i + 3] << 24;
	}
	free(q);
	return QVK_OK;
}

void qvk_qact_dequantize(const struct qvk_qact *qa, float *x)
{
	for (uint32_t t = 0; t < qa->m; t++) {
		const uint32_t *words = qa->qs + (size_t)t * qa->row_words;

		for (uint32_t i = 0; i < qa->k; i++) {
			int8_t q = (int8_t)(uint8_t)(words[i / 4] >> (8 * (i % 4)));
			float d = qa->scales[(size_t)t * qa->n_scales +
					     (qa->n_scales == 1 ? 0 : i / 32)];

			x[(size_t)t * qa->k + i] = d * (float)q;
		}
	}
}
