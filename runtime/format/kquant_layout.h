/* SPDX-License-Identifier: MIT */
/*
 * K-quant and IQ4 blocks (ggml's Q2_K..Q6_K, IQ4_NL, IQ4_XS) as the GPU
 * reads them, and how a 32-element chunk of a block decodes into int8
 * codes and integer sub-block scales. MUST AGREE with
 * shaders/include/kquant.glsl, which implements the same decoding for the
 * matmul_kq kernels (tests/check_kquant.c runs both on the same random
 * blocks through shaders/kquant_layout_test.comp and compares every code,
 * scale and min).
 *
 * File blocks are ggml's (ggml-common.h), fp16 little-endian. On the
 * device each block is padded to whole 32-bit words with every field at
 * its file byte offset, except IQ4_NL, whose fp16 d moves behind its codes
 * so that the codes are word-aligned:
 *
 *   type    elems file  words  fields (byte offsets in the device block)
 *   Q2_K    256    84   21     scales[16]@0 (lo 4 bits scale, hi 4 min)
 *                              qs[64]@16 (2-bit) d@80 dmin@82
 *   Q3_K    256   110   28     hmask[32]@0 qs[64]@32 (2-bit)
 *                              scales[12]@96 (6-bit, packed) d@108
 *   Q4_K    256   144   36     d@0 dmin@2 scales[12]@4 (6-bit scale and
 *                              min pairs, packed) qs[128]@16 (4-bit)
 *   Q5_K    256   176   44     d@0 dmin@2 scales[12]@4 qh[32]@16
 *                              qs[128]@48
 *   Q6_K    256   210   53     ql[128]@0 qh[64]@128 scales[16]@192
 *                              (int8) d@208
 *   IQ4_NL   32    18    5     qs[16]@0 d@16 (file: d@0 qs[16]@2)
 *   IQ4_XS  256   136   34     d@0 scales_h@2 (u16) scales_l[4]@4
 *                              qs[128]@8
 *
 * Chunk j of a block is its elements 32j .. 32j+31 (j < elems / 32).
 * Every type decodes a chunk into
 *   codes[8]   4 signed int8 codes per word, element 32j + 4w + l in byte
 *              l of word w (an OpSDot operand, aligned with the activation
 *              words 8j .. 8j+7 of the same 32 elements)
 *   sc[2]      integer sub-block scales of elements 0-15 and 16-31 of the
 *              chunk (equal for types with 32-element sub-blocks)
 *   mn[2]      integer sub-block mins (0 for types without)
 * and a block into d (and dmin), its fp16 super-block scales, so that
 * element e of the chunk is, exactly as ggml dequantizes it,
 *   x = (d * sc[e / 16]) * code - dmin * mn[e / 16].
 *
 *   Q2_K    code = q (0..3)                 sc, mn = scales[] lo, hi nibble
 *   Q3_K    code = q - 4 * !hmask bit (-4..3)   sc = 6-bit scale - 32
 *   Q4_K    code = q (0..15)                sc, mn 6-bit pairs
 *   Q5_K    code = q + 16 * qh bit (0..31)  sc, mn 6-bit pairs
 *   Q6_K    code = q - 32 (-32..31)         sc = int8 scale
 *   IQ4_NL  code = kvalues_iq4nl[q]         sc = 1
 *   IQ4_XS  code = kvalues_iq4nl[q]         sc = 6-bit scale - 32
 *
 * A dot unit is a sub-block (16 or 32 elements): the integer kernels
 * compute Σ qa · code over each unit exactly in int32 and scale it by
 * d * sc (exact in fp32: 11 by 8 bits) and, with mins, subtract
 * dmin * mn · Σ qa over the unit.
 */
#ifndef QVK_RUNTIME_FORMAT_KQUANT_LAYOUT_H
#define QVK_RUNTIME_FORMAT_KQUANT_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/format.h>

/* The non-linear 4-bit codebook of IQ4_NL and IQ4_XS (ggml's). */
static const int8_t qvk_kq_iq4_values[16] = {
	-127, -104, -83, -65, -49, -35, -22, -10,
	1,    13,   25,  38,  53,  69,  89,  113,
};

/* Device words per block of @type; 0 for a type that is not one of these. */
static inline uint32_t qvk_kq_block_words(uint32_t type)
{
	switch (type) {
	case QVK_GGML_TYPE_Q2_K: return 21;
	case QVK_GGML_TYPE_Q3_K: return 28;
	case QVK_GGML_TYPE_Q4_K: return 36;
	case QVK_GGML_TYPE_Q5_K: return 44;
	case QVK_GGML_TYPE_Q6_K: return 53;
	case QVK_GGML_TYPE_IQ4_NL: return 5;
	case QVK_GGML_TYPE_IQ4_XS: return 34;
	}
	return 0;
}

/* Byte @i of a device block. */
static inline uint32_t qvk_kq_byte(const uint32_t *blk, uint32_t i)
{
	return (blk[i / 4] >> (8 * (i % 4))) & 0xffu;
}

static inline uint32_t qvk_kq_half(const uint32_t *blk, uint32_t byte)
{
	return (blk[byte / 4] >> (8 * (byte % 4))) & 0xffffu;
}

/* Byte offsets of d and dmin (dmin: 0xffff when the type has none). */
static inline void qvk_kq_d_offsets(uint32_t type, uint32_t *d, uint32_t *dmin)
{
	*dmin = 0xffff;
	switch (type) {
	case QVK_GGML_TYPE_Q2_K: *d = 80; *dmin = 82; break;
	case QVK_GGML_TYPE_Q3_K: *d = 108; break;
	case QVK_GGML_TYPE_Q4_K:
	case QVK_GGML_TYPE_Q5_K: *d = 0; *dmin = 2; break;
	case QVK_GGML_TYPE_Q6_K: *d = 208; break;
	case QVK_GGML_TYPE_IQ4_NL: *d = 16; break;
	default: *d = 0; break; /* IQ4_XS */
	}
}

/* Four IQ4 nibbles (bits 4l.. of byte l of @w after >> @shift) as codes. */
static inline uint32_t qvk_kq_iq4_word(uint32_t w, uint32_t shift)
{
	uint32_t out = 0;

	for (uint32_t l = 0; l < 4; l++)
		out |= (uint32_t)(uint8_t)qvk_kq_iq4_values[(w >> (8 * l + shift)) &
							    15] << (8 * l);
	return out;
}

/* The 8 code words of chunk @j (see above). */
static inline void qvk_kq_codes(uint32_t type, const uint32_t *blk, uint32_t j,
				uint32_t codes[8])
{
	const uint32_t half = j / 4, q = j % 4;

	for (uint32_t w = 0; w < 8; w++) {
		uint32_t v, t;

		switch (type) {
		case QVK_GGML_TYPE_Q2_K: /* qs: 32 bytes per 128, 2 bits each */
			codes[w] = (blk[4 + 8 * half + w] >> (2 * q)) & 0x03030303u;
			break;
		case QVK_GGML_TYPE_Q3_K:
			/* low 2 bits, and bit 2 set where hmask is clear: the
			 * 3-bit two's complement of q - 4 * !h, sign-extended */
			v = ((blk[8 + 8 * half + w] >> (2 * q)) & 0x03030303u) |
			    ((~blk[w] >> j) & 0x01010101u) << 2;
			t = v & 0x04040404u;
			codes[w] = v | t * 0x3eu;
			break;
		case QVK_GGML_TYPE_Q4_K:
			codes[w] = (blk[4 + 8 * (j / 2) + w] >> (4 * (j % 2))) &
				   0x0f0f0f0fu;
			break;
		case QVK_GGML_TYPE_Q5_K:
			codes[w] = ((blk[12 + 8 * (j / 2) + w] >> (4 * (j % 2))) &
				    0x0f0f0f0fu) |
				   ((blk[4 + w] >> j) & 0x01010101u) << 4;
			break;
		case QVK_GGML_TYPE_Q6_K:
			/* q - 32 = the 6-bit two's complement of q ^ 32 */
			v = (((blk[16 * half + 8 * (q % 2) + w] >> (4 * (q / 2))) &
			      0x0f0f0f0fu) |
			     ((blk[32 + 8 * half + w] >> (2 * q)) & 0x03030303u) << 4) ^
			    0x20202020u;
			t = v & 0x20202020u;
			codes[w] = v | t << 1 | t << 2;
			break;
		case QVK_GGML_TYPE_IQ4_NL: /* Q4_0's nibble order */
			codes[w] = qvk_kq_iq4_word(blk[w % 4], 4 * (w / 4));
			break;
		default: /* IQ4_XS: 16 bytes per chunk at byte 8 */
			codes[w] = qvk_kq_iq4_word(blk[2 + 4 * j + w % 4],
						   4 * (w / 4));
			break;
		}
	}
}

/* The 6-bit scale (@is_min false) or min of sub-block @j of Q4_K/Q5_K. */
static inline int32_t qvk_kq_scale_min_k4(const uint32_t *blk, uint32_t j,
					  bool is_min)
{
	/* scales[] starts at byte 4: ggml's get_scale_min_k4() */
	if (j < 4)
		return (int32_t)(qvk_kq_byte(blk, 4 + j + (is_min ? 4 : 0)) & 63);
	if (!is_min)
		return (int32_t)((qvk_kq_byte(blk, 4 + j + 4) & 15) |
				 (qvk_kq_byte(blk, 4 + j - 4) >> 6) << 4);
	return (int32_t)((qvk_kq_byte(blk, 4 + j + 4) >> 4) |
			 (qvk_kq_byte(blk, 4 + j) >> 6) << 4);
}

/* Integer scales and mins of the two 16-element halves of chunk @j. */
static inline void qvk_kq_scales(uint32_t type, const uint32_t *blk, uint32_t j,
				 int32_t sc[2], int32_t mn[2])
{
	for (uint32_t h = 0; h < 2; h++) {
		const uint32_t i = 2 * j + h; /* 16-element sub-block index */

		mn[h] = 0;
		switch (type) {
		case QVK_GGML_TYPE_Q2_K:
			sc[h] = (int32_t)(qvk_kq_byte(blk, i) & 15);
			mn[h] = (int32_t)(qvk_kq_byte(blk, i) >> 4);
			break;
		case QVK_GGML_TYPE_Q3_K:
			sc[h] = (int32_t)(((qvk_kq_byte(blk, 96 + i % 8) >>
					    (4 * (i / 8))) & 15) |
					  ((qvk_kq_byte(blk, 104 + i % 4) >>
					    (2 * (i / 4))) & 3) << 4) - 32;
			break;
		case QVK_GGML_TYPE_Q4_K:
		case QVK_GGML_TYPE_Q5_K:
			sc[h] = qvk_kq_scale_min_k4(blk, j, false);
			mn[h] = qvk_kq_scale_min_k4(blk, j, true);
			break;
		case QVK_GGML_TYPE_Q6_K:
			sc[h] = (int8_t)qvk_kq_byte(blk, 192 + i);
			break;
		case QVK_GGML_TYPE_IQ4_NL:
			sc[h] = 1;
			break;
		default: /* IQ4_XS */
			sc[h] = (int32_t)(((qvk_kq_byte(blk, 4 + j / 2) >>
					    (4 * (j % 2))) & 15) |
					  ((qvk_kq_half(blk, 2) >> (2 * j)) & 3)
						  << 4) - 32;
			break;
		}
	}
}

#endif
