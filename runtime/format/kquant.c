/* SPDX-License-Identifier: MIT */
/*
 * K-quant and IQ4 blocks: ggml's file blocks to the word-aligned device
 * blocks of kquant_layout.h, and rows of them dequantized through the
 * same decoding the GPU kernels use (so the reference forward pass and the
 * kernels read one definition; tests/check_kquant.c checks it against
 * ggml's formulas written out independently).
 */
#include <string.h>

#include <qvk/fp16.h>

#include "format/format_internal.h"
#include "format/kquant_layout.h"

void qvk_kq_block_from_file(uint32_t type, const uint8_t *src, uint32_t *dst)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	uint32_t words = qvk_kq_block_words(type);
	uint8_t bytes[4 * 53];

	memset(bytes, 0, sizeof(bytes));
	if (type == QVK_GGML_TYPE_IQ4_NL) {
		memcpy(bytes, src + 2, 16); /* codes first, word-aligned */
		memcpy(bytes + 16, src, 2);
	} else {
		memcpy(bytes, src, t->block_bytes);
	}
	for (uint32_t w = 0; w < words; w++)
		dst[w] = (uint32_t)bytes[4 * w] | (uint32_t)bytes[4 * w + 1] << 8 |
			 (uint32_t)bytes[4 * w + 2] << 16 |
			 (uint32_t)bytes[4 * w + 3] << 24;
}

void qvk_kq_block_d(uint32_t type, const uint32_t *blk, float *d, float *dmin)
{
	uint32_t od, om;

	qvk_kq_d_offsets(type, &od, &om);
	*d = qvk_fp16_to_f32((uint16_t)qvk_kq_half(blk, od));
	*dmin = om == 0xffff ? 0.0f :
			       qvk_fp16_to_f32((uint16_t)qvk_kq_half(blk, om));
}

void qvk_kq_block_dequantize(uint32_t type, const uint32_t *blk, float *out)
{
	uint32_t chunks = qvk_type_info(type)->block_elems / 32;
	float d, dmin;

	qvk_kq_block_d(type, blk, &d, &dmin);
	for (uint32_t j = 0; j < chunks; j++) {
		uint32_t codes[8];
		int32_t sc[2], mn[2];

		qvk_kq_codes(type, blk, j, codes);
		qvk_kq_scales(type, blk, j, sc, mn);
		for (uint32_t e = 0; e < 32; e++) {
			int code = (int8_t)(codes[e / 4] >> (8 * (e % 4)));
			/* ggml's order: the sub-block's scale first */
			float ds = d * (float)sc[e / 16], m = dmin * (float)mn[e / 16];

			out[32 * j + e] = ds * (float)code - m;
		}
	}
}

void qvk_kq_row_dequantize(uint32_t type, const uint8_t *src, uint64_t k,
			   float *out)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	uint32_t blk[53];

	for (uint64_t b = 0; b < k / t->block_elems; b++) {
		qvk_kq_block_from_file(type, src + b * t->block_bytes, blk);
		qvk_kq_block_dequantize(type, blk, out + b * t->block_elems);
	}
}
