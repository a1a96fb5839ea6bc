// SPDX-License-Identifier: MIT
// K-quant and IQ4 device blocks (Q2_K..Q6_K, IQ4_NL, IQ4_XS): the word
// layout and the decoding of a 32-element chunk into int8 codes and
// integer sub-block scales. MUST AGREE with runtime/format/kquant_layout.h,
// which documents the layout and the formulas; tests/check_kquant.c runs
// this file (through shaders/kquant_layout_test.comp) and the C header on
// the same random blocks and compares every code, scale and min.
//
// The including kernel declares `uint qw[]` (the blocks) and the
// specialization constant TYPE (the ggml type id); every branch on TYPE
// folds away when the pipeline is made.
#ifndef QVK_KQUANT_GLSL
#define QVK_KQUANT_GLSL

#include "fp16.glsl"

const uint QVK_Q2_K = 10u, QVK_Q3_K = 11u, QVK_Q4_K = 12u, QVK_Q5_K = 13u,
	   QVK_Q6_K = 14u, QVK_IQ4_NL = 20u, QVK_IQ4_XS = 23u;

// Device words per block, 32-element chunks per block.
const uint QVK_KQ_WORDS = TYPE == QVK_Q2_K ? 21u : TYPE == QVK_Q3_K ? 28u :
			  TYPE == QVK_Q4_K ? 36u : TYPE == QVK_Q5_K ? 44u :
			  TYPE == QVK_Q6_K ? 53u : TYPE == QVK_IQ4_NL ? 5u : 34u;
const uint QVK_KQ_CHUNKS = TYPE == QVK_IQ4_NL ? 1u : 8u;
// Sub-blocks of 16 elements (two per chunk) or of 32 (one).
const bool QVK_KQ_HALVES = TYPE == QVK_Q2_K || TYPE == QVK_Q3_K ||
			   TYPE == QVK_Q6_K;
const bool QVK_KQ_HAS_MIN = TYPE == QVK_Q2_K || TYPE == QVK_Q4_K ||
			    TYPE == QVK_Q5_K;

const int qvk_kq_iq4_values[16] = int[16](-127, -104, -83, -65, -49, -35, -22,
					  -10, 1, 13, 25, 38, 53, 69, 89, 113);

uint qvk_kq_byte(uint base, uint i)
{
	return (qw[base + (i >> 2)] >> ((i & 3u) * 8u)) & 0xffu;
}

// fp16 d and dmin of the block at word @base (dmin 0 when none).
vec2 qvk_kq_d(uint base)
{
	if (TYPE == QVK_Q2_K)
		return qvk_unpack_half2x16(qw[base + 20u]);
	if (TYPE == QVK_Q3_K)
		return vec2(qvk_unpack_half2x16(qw[base + 27u]).x, 0.0);
	if (TYPE == QVK_Q4_K || TYPE == QVK_Q5_K)
		return qvk_unpack_half2x16(qw[base]);
	if (TYPE == QVK_Q6_K)
		return vec2(qvk_unpack_half2x16(qw[base + 52u]).x, 0.0);
	if (TYPE == QVK_IQ4_NL)
		return vec2(qvk_unpack_half2x16(qw[base + 4u]).x, 0.0);
	return vec2(qvk_unpack_half2x16(qw[base]).x, 0.0); // IQ4_XS
}

// Four IQ4 nibbles (at bit @shift of each byte of @w) as int8 codes.
uint qvk_kq_iq4_word(uint w, uint shift)
{
	uint out_w = 0u;
	for (uint l = 0u; l < 4u; l++)
		out_w |= (uint(qvk_kq_iq4_values[(w >> (8u * l + shift)) & 15u]) &
			  0xffu) << (8u * l);
	return out_w;
}

// Code word @w (elements 32j + 4w .. +3, int8 lanes) of chunk @j.
uint qvk_kq_code_word(uint base, uint j, uint w)
{
	const uint half_ = j >> 2, q = j & 3u;
	if (TYPE == QVK_Q2_K)
		return (qw[base + 4u + 8u * half_ + w] >> (2u * q)) & 0x03030303u;
	if (TYPE == QVK_Q3_K) {
		// 3-bit two's complement of q - 4 * !h, sign-extended
		const uint v = ((qw[base + 8u + 8u * half_ + w] >> (2u * q)) &
				0x03030303u) |
			       (((~qw[base + w]) >> j) & 0x01010101u) << 2;
		return v | (v & 0x04040404u) * 0x3eu;
	}
	if (TYPE == QVK_Q4_K)
		return (qw[base + 4u + 8u * (j >> 1) + w] >> (4u * (j & 1u))) &
		       0x0f0f0f0fu;
	if (TYPE == QVK_Q5_K)
		return ((qw[base + 12u + 8u * (j >> 1) + w] >> (4u * (j & 1u))) &
			0x0f0f0f0fu) |
		       ((qw[base + 4u + w] >> j) & 0x01010101u) << 4;
	if (TYPE == QVK_Q6_K) {
		// q - 32: the 6-bit two's complement of q ^ 32, sign-extended
		const uint v = (((qw[base + 16u * half_ + 8u * (q & 1u) + w] >>
				  (4u * (q >> 1))) & 0x0f0f0f0fu) |
				((qw[base + 32u + 8u * half_ + w] >> (2u * q)) &
				 0x03030303u) << 4) ^ 0x20202020u;
		const uint t = v & 0x20202020u;
		return v | (t << 1) | (t << 2);
	}
	if (TYPE == QVK_IQ4_NL)
		return qvk_kq_iq4_word(qw[base + (w & 3u)], 4u * (w >> 2));
	return qvk_kq_iq4_word(qw[base + 2u + 4u * j + (w & 3u)], 4u * (w >> 2));
}

// The 6-bit scale or min of sub-block @j of Q4_K/Q5_K (ggml's
// get_scale_min_k4 over scales[] at byte 4).
int qvk_kq_scale_min_k4(uint base, uint j, bool is_min)
{
	if (j < 4u)
		return int(qvk_kq_byte(base, 4u + j + (is_min ? 4u : 0u)) & 63u);
	if (!is_min)
		return int((qvk_kq_byte(base, 8u + j) & 15u) |
			   (qvk_kq_byte(base, j) >> 6) << 4);
	return int((qvk_kq_byte(base, 8u + j) >> 4) |
		   (qvk_kq_byte(base, 4u + j) >> 6) << 4);
}

// Integer scale and min of half @h (elements 16h .. 16h+15) of chunk @j.
ivec2 qvk_kq_scale(uint base, uint j, uint h)
{
	const uint i = 2u * j + h;
	if (TYPE == QVK_Q2_K) {
		const uint b = qvk_kq_byte(base, i);
		return ivec2(int(b & 15u), int(b >> 4));
	}
	if (TYPE == QVK_Q3_K)
		return ivec2(int(((qvk_kq_byte(base, 96u + (i & 7u)) >> (4u * (i >> 3))) &
				  15u) |
				 ((qvk_kq_byte(base, 104u + (i & 3u)) >> (2u * (i >> 2))) &
				  3u) << 4) - 32, 0);
	if (TYPE == QVK_Q4_K || TYPE == QVK_Q5_K)
		return ivec2(qvk_kq_scale_min_k4(base, j, false),
			     qvk_kq_scale_min_k4(base, j, true));
	if (TYPE == QVK_Q6_K)
		return ivec2((int(qvk_kq_byte(base, 192u + i)) << 24) >> 24, 0);
	if (TYPE == QVK_IQ4_NL)
		return ivec2(1, 0);
	return ivec2(int(((qvk_kq_byte(base, 4u + (j >> 1)) >> (4u * (j & 1u))) & 15u) |
			 ((qw[base] >> (16u + 2u * j)) & 3u) << 4) - 32, 0);
}

#endif
