/* SPDX-License-Identifier: MIT */
/*
 * K-quant and IQ4 weights (GGUF Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL,
 * IQ4_XS) in the word-aligned layout the matmul_kq kernels read, and the
 * exact integer reference those kernels are checked against.
 *
 * A row of K inputs is K / 256 super-blocks (IQ4_NL: K / 32 blocks) of
 * ggml's layout, each padded to whole 32-bit words (the table of fields is
 * in runtime/format/kquant_layout.h). Element e of a 32-element chunk is
 *   x = (d * sc) * code - dmin * mn
 * with int8 codes, integer sub-block scales sc and mins mn (16- or
 * 32-element sub-blocks) and the block's fp16 d, dmin: ggml's values,
 * bit for bit.
 *
 * Exact integer reference. A dot unit is a sub-block (unit = 16 or 32;
 * units = K / unit per row), with activations (struct qvk_qact) per token
 * or per 32-block:
 *   dot[m][n][u] = Σ_{k in unit u} qa[m][k] · code[n][k]   exactly in int32
 *   Y[m][n] accumulates in fp32 over u = 0, 1, ... in order:
 *     t   = (float)dot * (d * sc)                 (d * sc exact in fp32)
 *     t   = fmaf(-(float)Σ_{k in u} qa[m][k], dmin * mn, t)   with mins
 *     acc = fmaf(t, d_a, acc)    d_a: the token's scale, or unit u's block's
 *   from acc = 0.0f.
 *
 * Threads: as include/qvk/quant.h.
 */
#ifndef QVK_KQUANT_H
#define QVK_KQUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>
#include <qvk/quant.h>
#include <qvk/status.h>

struct qvk_kqtensor {
	uint32_t type;        /* ggml type id: QVK_GGML_TYPE_Q4_K, ... */
	uint32_t n;           /* rows (outputs) */
	uint32_t k;           /* inputs per row, a multiple of block_elems */
	uint32_t block_elems; /* 256 (IQ4_NL: 32) */
	uint32_t block_words; /* device words per block */
	uint32_t unit;        /* elements per sub-block: 16 or 32 */
	uint32_t row_words;   /* k / block_elems * block_words, row stride */
	uint32_t *blocks;     /* (n, row_words) device blocks */
};

/* Whether @type is one of the seven types above. */
QVK_API bool qvk_kq_type(uint32_t type);

/*
 * @n rows of @k elements of ggml file blocks (@size_bytes long) of @type
 * into a new tensor, every bit kept. A non-finite d or dmin is
 * QVK_ERR_NUMERIC naming @name, the row and the block; a wrong size or a
 * k that is not a whole number of blocks QVK_ERR_FORMAT.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_kqtensor_from_gguf(
	struct qvk_ctx *ctx, const char *name, uint32_t type,
	const void *blocks, size_t size_bytes, uint32_t n, uint32_t k,
	struct qvk_kqtensor **out);
QVK_API void qvk_kqtensor_destroy(struct qvk_kqtensor *kt);
/* Bytes of kt->blocks. */
QVK_API size_t qvk_kqtensor_bytes(const struct qvk_kqtensor *kt);

/* W (n, k) as float, exactly ggml's dequantization. */
QVK_API void qvk_kqtensor_dequantize(const struct qvk_kqtensor *kt, float *w);

/* Dot units per (token, row): k / unit. */
QVK_API uint32_t qvk_ref_kq_units(const struct qvk_kqtensor *w);

/*
 * The exact int32 dots, dots[(i * n + j) * units + u], and Y (m, n) as
 * accumulated above. QVK_ERR_INVALID_ARG when the shapes do not match
 * (same k, a->k_padded >= k).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_ref_kqdots(struct qvk_ctx *ctx,
						 const struct qvk_kqtensor *w,
						 const struct qvk_qact *a,
						 int32_t *dots);
QVK_API QVK_MUST_CHECK qvk_status qvk_ref_matmul_kq(
	struct qvk_ctx *ctx, const struct qvk_kqtensor *w,
	const struct qvk_qact *a, float *y);

/*
 * Quantize W (n, k), k a multiple of 256, into @type blocks (Q4_K, Q5_K or
 * Q6_K, ggml's file layout, n * k / 256 blocks into @blocks of
 * @capacity_bytes). @importance (k, optional): per-column weights of the
 * squared error (a layer's mean input squares); @search: choose each
 * sub-block's scale and min by a weighted error search
 * (runtime/quant/kquant_fit.c), else from its range. Non-finite weights or
 * importance are QVK_ERR_NUMERIC naming @name, row and column.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_kq_quantize(
	struct qvk_ctx *ctx, const char *name, uint32_t type, const float *w,
	uint32_t n, uint32_t k, const float *importance, int search,
	void *blocks, size_t capacity_bytes);

#endif
