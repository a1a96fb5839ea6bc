/* SPDX-License-Identifier: MIT */
/*
 * int8 activation layout written by the op kernels (rmsnorm_q8, swiglu_q8,
 * act_quant) and read by the integer matmuls. MUST AGREE with
 * shaders/include/act_layout.glsl (tests/check_ops.c checks the constants
 * and the rounding through shaders/act_layout_test.comp) and with the
 * per-token activations of include/qvk/quant.h (struct qvk_qact with
 * k_padded = QVK_ACT_LAYOUT_KP(k)).
 *
 * M tokens of K features; Kp = K rounded up to QVK_ACT_LAYOUT_K_ALIGN.
 *   uint32_t qa[M][Kp/4]    element k of token m: int8 (two's complement) in
 *                           byte k%4 of word m*Kp/4 + k/4; 0 for k >= K
 *   float    sa[M]          d = amax/127, amax = max_k |x_k|; 0 for a zero row
 *            or sa[M][Kp/32]  per 32-block: d of the block's amax (per-block
 *                           mode, llama.cpp's Q8_0 activations)
 *   int32_t  suma[M][Kp/32] Σ q_k over each 32-element block
 *   q_k = clamp(roundf(x_k * (1/d)), -127, 127), 1/d a float reciprocal,
 *   roundf = round half away from zero; q = 0 when d = 0.
 */
#ifndef QVK_RUNTIME_OPS_ACT_LAYOUT_H
#define QVK_RUNTIME_OPS_ACT_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#define QVK_ACT_LAYOUT_K_ALIGN 128u
#define QVK_ACT_LAYOUT_BLOCK 32u
#define QVK_ACT_LAYOUT_QMAX 127.0f

/* Kp for K features. */
#define QVK_ACT_LAYOUT_KP(k) \
	(((k) + QVK_ACT_LAYOUT_K_ALIGN - 1) / QVK_ACT_LAYOUT_K_ALIGN * \
	 QVK_ACT_LAYOUT_K_ALIGN)

/* Bytes of each array for m tokens of k features (no overflow below 2^32 m*Kp). */
static inline uint64_t qvk_act_qa_bytes(uint32_t m, uint32_t k)
{
	return (uint64_t)m * QVK_ACT_LAYOUT_KP(k);
}
static inline uint64_t qvk_act_sa_bytes(uint32_t m, uint32_t k, bool per_block)
{
	return (uint64_t)m * (per_block ? QVK_ACT_LAYOUT_KP(k) / QVK_ACT_LAYOUT_BLOCK :
					  1u) * 4u;
}
static inline uint64_t qvk_act_suma_bytes(uint32_t m, uint32_t k)
{
	return (uint64_t)m * (QVK_ACT_LAYOUT_KP(k) / QVK_ACT_LAYOUT_BLOCK) * 4u;
}

#endif
