/* SPDX-License-Identifier: MIT */
/* Private header of runtime/format/: the type table and host tensors. */
#ifndef QVK_RUNTIME_FORMAT_INTERNAL_H
#define QVK_RUNTIME_FORMAT_INTERNAL_H

#include <qvk/format.h>

#include "internal.h"

/*
 * K-quant / IQ4 blocks (kquant.c; layouts in kquant_layout.h). @type is
 * one whose kernel is QVK_KERNEL_KQUANT.
 */
/* One ggml file block at @src to its device words at @dst. */
void qvk_kq_block_from_file(uint32_t type, const uint8_t *src, uint32_t *dst);
/* The block's fp16 super-block scales as float (dmin 0 when none). */
void qvk_kq_block_d(uint32_t type, const uint32_t *blk, float *d, float *dmin);
/* A device block's elements as float, exactly as ggml dequantizes. */
void qvk_kq_block_dequantize(uint32_t type, const uint32_t *blk, float *out);
/* A row of @k elements of file blocks at @src. */
void qvk_kq_row_dequantize(uint32_t type, const uint8_t *src, uint64_t k,
			   float *out);

/*
 * A Q4_K, Q5_K or Q6_K super-block to be written (kquant_pack.c), in the
 * terms of kquant_layout.h: element e is (d * sc[e / unit]) * codes[e] -
 * dmin * mn[e / unit], unit 32 (Q4_K, Q5_K: 8 sub-blocks, sc and mn
 * 0..63, codes 0..15 or 0..31) or 16 (Q6_K: 16 sub-blocks, sc -128..127,
 * codes -32..31, no mins).
 */
struct qvk_kq_block {
	uint16_t d16, dmin16;
	int16_t sc[16], mn[16];
	int8_t codes[256];
};

/* @b as the file block of @type at @dst (block_bytes of the type). */
void qvk_kq_block_pack(uint32_t type, const struct qvk_kq_block *b,
		       uint8_t *dst);

#endif
