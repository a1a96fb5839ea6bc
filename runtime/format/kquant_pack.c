/* SPDX-License-Identifier: MIT */
/*
 * K-quant super-blocks written: integer codes, sub-block scales and mins
 * and the fp16 d, dmin packed into ggml's file blocks (ggml-common.h), the
 * inverse of the decoding in kquant_layout.h. tests/check_kquant_write.c
 * packs random blocks and reads them back through that decoding, and
 * llama.cpp reads the files qvk writes (tests/check_kquant_oracle.c).
 *
 *   Q4_K  d@0 dmin@2 scales[12]@4 qs[128]@16
 *         scales: bytes 0-3 low 6 bits sc[0..3], top 2 bits sc[4..7] >> 4;
 *         bytes 4-7 likewise mn; bytes 8-11 sc[4..7] & 15 | (mn[4..7] & 15) << 4
 *         qs: 64-element chunk c is 32 bytes, element 64c + l in the low
 *         nibble of byte 32c + l, element 64c + 32 + l in its high nibble
 *   Q5_K  as Q4_K, then qh[32]@16 (bit j of byte l: bit 4 of element
 *         32j + l) and the low nibbles qs[128]@48
 *   Q6_K  ql[128]@0 qh[64]@128 scales[16]@192 (int8) d@208; codes + 32 in
 *         six bits, per 128-element half h, elements 128h + 32q + l
 *         (q = 0..3, l = 0..31): low nibble in ql[64h + l + 32 (q & 1)]
 *         (high nibble for q >= 2), top two bits in qh[32h + l] at bit 2q
 */
#include <string.h>

#include "format/format_internal.h"

static void qvk_kq_put_half(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The 12 bytes of 6-bit scale and min pairs of Q4_K and Q5_K. */
static void qvk_kq_pack_scales_k4(const struct qvk_kq_block *b, uint8_t *s)
{
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t sc = (uint32_t)b->sc[i], mn = (uint32_t)b->mn[i];
		uint32_t sc4 = (uint32_t)b->sc[i + 4], mn4 = (uint32_t)b->mn[i + 4];

		s[i] = (uint8_t)((sc & 63) | (sc4 >> 4) << 6);
		s[i + 4] = (uint8_t)((mn & 63) | (mn4 >> 4) << 6);
		s[i + 8] = (uint8_t)((sc4 & 15) | (mn4 & 15) << 4);
	}
}

void qvk_kq_block_pack(uint32_t type, const struct qvk_kq_block *b,
		       uint8_t *dst)
{
	const uint8_t *q = (const uint8_t *)b->codes;

	switch (type) {
	case QVK_GGML_TYPE_Q4_K:
	case QVK_GGML_TYPE_Q5_K: {
		uint8_t *qs = dst + (type == QVK_GGML_TYPE_Q4_K ? 16 : 48);

		qvk_kq_put_half(dst, b->d16);
		qvk_kq_put_half(dst + 2, b->dmin16);
		qvk_kq_pack_scales_k4(b, dst + 4);
		if (type == QVK_GGML_TYPE_Q5_K)
			memset(dst + 16, 0, 32);
		for (uint32_t c = 0; c < 4; c++)
			for (uint32_t l = 0; l < 32; l++)
				qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 15) |
							   (q[64 * c + 32 + l] & 15)
								   << 4);
		for (uint32_t e = 0; type == QVK_GGML_TYPE_Q5_K && e < 256; e++)
			dst[16 + e % 32] |= (uint8_t)(((q[e] >> 4) & 1) << (e / 32));
		break;
	}
	case QVK_GGML_TYPE_Q6_K:
		memset(dst + 128, 0, 64);
		for (uint32_t h = 0; h < 2; h++) {
			for (uint32_t l = 0; l < 32; l++) {
				uint32_t u[4];

				for (uint32_t qq = 0; qq < 4; qq++)
					u[qq] = (uint32_t)(b->codes[128 * h +
								    32 * qq + l] +
							   32) & 63;
				dst[64 * h + l] = (uint8_t)((u[0] & 15) |
							    (u[2] & 15) << 4);
				dst[64 * h + l + 32] = (uint8_t)((u[1] & 15) |
								 (u[3] & 15) << 4);
				dst[128 + 32 * h + l] =
					(uint8_t)(u[0] >> 4 | (u[1] >> 4) << 2 |
						  (u[2] >> 4) << 4 |
						  (u[3] >> 4) << 6);
			}
		}
		for (uint32_t i = 0; i < 16; i++)
			dst[192 + i] = (uint8_t)(int8_t)b->sc[i];
		qvk_kq_put_half(dst + 208, b->d16);
		break;
	}
}
