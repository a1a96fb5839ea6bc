/* SPDX-License-Identifier: MIT */
/* Private header of runtime/quant/: group parameters and code helpers. */
#ifndef QVK_QUANT_INTERNAL_H
#define QVK_QUANT_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include <qvk/fp16.h>
#include <qvk/quant.h>

#include "internal.h"

/* The parameters of one group: stored fp16 values and their float twins. */
struct qvk_qgroup {
	float d;      /* scale, exactly the fp16 value d16 */
	float m;      /* Q4A min, exactly m16; 0 otherwise */
	uint16_t d16;
	uint16_t m16;
};

/* fp16 of @v rounded away from zero (|result| >= |v|); Inf if too large. */
uint16_t qvk_fp16_ceil_mag(float v);

/*
 * Parameters for the values in [lo, hi] (lo <= hi) in @format, as the
 * public quantizer documents them. Returns 0, or -1 when a scale or min
 * does not fit in fp16.
 */
int qvk_qgroup_fit(enum qvk_qformat format, float lo, float hi,
		   struct qvk_qgroup *g);

/*
 * Choose the group parameters for @count real values @x (finite) with the
 * clipping of @p. @importance: per-element weights (NULL: ones). @scratch:
 * @count floats (percentile sorting). Returns 0 or -1 as qvk_qgroup_fit.
 */
int qvk_qgroup_choose(const struct qvk_quant_params *p, const float *x,
		      uint32_t count, const float *importance, float *scratch,
		      struct qvk_qgroup *g);

/*
 * Round to nearest (ties to even) after clamping to [lo, hi]: adding and
 * subtracting 1.5·2^23 leaves the nearest integer for |v| < 2^22, and
 * unlike roundf() it compiles to vector code.
 */
static inline float qvk_round_clamp(float v, float lo, float hi)
{
	const float magic = 12582912.0f;

	v = v < lo ? lo : v;
	v = v > hi ? hi : v;
	return (v + magic) - magic;
}

/* The stored code of @x in a group, and the value a code stands for. */
static inline int qvk_qcode(enum qvk_qformat format,
			    const struct qvk_qgroup *g, float x)
{
	if (g->d == 0.0f)
		return format == QVK_QFORMAT_Q4 ? 8 : 0;
	switch (format) {
	case QVK_QFORMAT_Q8:
		return (int)qvk_round_clamp(x / g->d, -127.0f, 127.0f);
	case QVK_QFORMAT_Q4:
		return (int)qvk_round_clamp(x / g->d, -8.0f, 7.0f) + 8;
	case QVK_QFORMAT_Q4A:
	default:
		return (int)qvk_round_clamp((x - g->m) / g->d, 0.0f, 15.0f);
	}
}

static inline float qvk_qvalue(enum qvk_qformat format, float d, float m,
			       int code)
{
	switch (format) {
	case QVK_QFORMAT_Q8:
		return d * (float)code;
	case QVK_QFORMAT_Q4:
		return d * (float)(code - 8);
	case QVK_QFORMAT_Q4A:
	default:
		return d * (float)code + m;
	}
}

/* Layout arithmetic shared by create and the GGUF conversion. */
int qvk_qtensor_shape(enum qvk_qformat format, uint32_t k, uint32_t group,
		      uint32_t *k_padded, uint32_t *group_out,
		      uint32_t *row_words);

/* Store group (row, g)'s parameters. */
static inline void qvk_qtensor_set_group(struct qvk_qtensor *qt, uint32_t row,
					 uint32_t g, const struct qvk_qgroup *p)
{
	size_t i = (size_t)row * qt->n_groups + g;

	qt->scales[i] = p->d16;
	if (qt->mins)
		qt->mins[i] = p->m16;
}

/*
 * Quantize the real values x[0..count) of group (row, g) with @p and write
 * codes for the whole group, padding included (as 0.0).
 */
void qvk_qtensor_write_group(struct qvk_qtensor *qt, uint32_t row, uint32_t g,
			     const struct qvk_qgroup *p, const float *x,
			     uint32_t count);

/* Index of the first non-finite value in x[0..count), or count. */
size_t qvk_find_nonfinite(const float *x, size_t count);

/*
 * QVK_OK when the (@rows, @k) matrix @x is all finite; otherwise
 * QVK_ERR_NUMERIC naming the first bad entry as
 * "@name: non-finite @what at @row_name R, column C".
 */
QVK_MUST_CHECK qvk_status qvk_check_finite(struct qvk_ctx *ctx, const char *name,
					   const char *what, const char *row_name,
					   const float *x, size_t rows, uint32_t k);

/*
 * C (m, n) = A (m, k) · Bᵀ, B (n, k), plus beta · C (gemm.c: sgemm with
 * BLAS, a blocked loop without).
 */
void qvk_gemm_nt(const float *a, const float *b, float *c, uint32_t m,
		 uint32_t n, uint32_t k, float beta);

/* ------------------------------------------------------------ GPTQ */

/*
 * What GPTQ codes weights into (gptq.c: qvk_qtensor groups; gptq_kq.c:
 * K-quant super-blocks). @group columns share their parameters: fit()
 * chooses those of (row, group g) from @wrow, the row's current weights
 * in original column order (nonzero: a scale does not fit); put() codes
 * weight (row, col) and returns the value its code decodes to.
 */
struct qvk_gptq_grid {
	uint32_t group;
	int (*fit)(struct qvk_gptq_grid *g, uint32_t row, uint32_t group_index,
		   const float *wrow);
	float (*put)(struct qvk_gptq_grid *g, uint32_t row, uint32_t col,
		     float w);
};

/*
 * GPTQ proper (gptq.c) on @h (k, k, consumed): XᵀX summed over @tokens
 * rows in its upper triangle; @w (n, k) is worked in and left
 * overwritten.
 */
QVK_MUST_CHECK qvk_status qvk_gptq_solve(struct qvk_ctx *ctx, const char *name,
					 float *h, double tokens, float *w,
					 uint32_t n, uint32_t k,
					 const struct qvk_gptq_params *params,
					 struct qvk_gptq_grid *grid);

/*
 * qvk_gptq_quantize_hessian() without the copy of W: @w is left
 * overwritten (whole-model quantization owns it and saves a tensor).
 */
QVK_MUST_CHECK qvk_status qvk_gptq_qtensor_consume(
	struct qvk_ctx *ctx, const char *name, const float *xtx,
	uint64_t tokens, float *w, uint32_t n, uint32_t k,
	const struct qvk_gptq_params *params, struct qvk_qtensor **out);
/*
 * GPTQ into K-quant blocks of @type (k a multiple of 256) at @blocks,
 * ggml's file layout; params->quant is not used. @w is left overwritten.
 */
QVK_MUST_CHECK qvk_status qvk_gptq_kq_consume(
	struct qvk_ctx *ctx, const char *name, const float *xtx,
	uint64_t tokens, float *w, uint32_t n, uint32_t k, uint32_t type,
	const struct qvk_gptq_params *params, void *blocks,
	size_t capacity_bytes);

/* ------------------------------------------------------------ K-quants */

struct qvk_kq_block; /* runtime/format/format_internal.h */

/* Whether qvk writes @type (Q4_K, Q5_K, Q6_K: the type table's flag). */
bool qvk_kq_writable(uint32_t type);
/*
 * Fit the super-block of @type (writable) to x[0..256) with element
 * weights @w (NULL: ones); @search: the error search (kquant_fit.c), else
 * each sub-block's range. Fills every field of @b, codes included.
 */
void qvk_kq_fit_block(uint32_t type, const float *x, const float *w,
		      bool search, struct qvk_kq_block *b);
/* Code element @e of @b for @x under b's scales; *value: what it decodes to. */
int qvk_kq_block_put(uint32_t type, struct qvk_kq_block *b, uint32_t e,
		     float x, float *value);

#endif
