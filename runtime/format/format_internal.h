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

#endif
