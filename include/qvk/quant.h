/* SPDX-License-Identifier: MIT */
/*
 * Group-wise weight quantization, dynamic activation quantization and the
 * scalar references that the GPU kernels are checked against.
 *
 * Shapes follow the linear layer Y = X · Wᵀ:
 *   X  (M, K)  activations, M tokens of K inputs, row-major
 *   W  (N, K)  weights, N outputs (rows) of K inputs, row-major
 *   Y  (M, N)
 * Groups run along K (the input dimension), as in ZeroQuant, GPTQ and AWQ.
 *
 * ---------------------------------------------------------------------------
 * Packed weight layout (struct qvk_qtensor); the GPU kernels read it as is.
 *
 *   group        elements of K sharing one scale (and min): 32, 64, 128, or
 *                for a whole row (per output channel) k_padded itself.
 *   k_padded     K rounded up to a multiple of 32 and of the group:
 *                  per-row:   k_padded = ALIGN_UP(K, 32), group = k_padded
 *                  otherwise: k_padded = ALIGN_UP(K, group)
 *                so every group is a whole number of 32-element blocks.
 *   n_groups     k_padded / group
 *   row_words    uint32 words per row of qs, also the row stride of qs:
 *                  Q8: k_padded / 4         Q4, Q4A: k_padded / 8
 *
 *   uint32_t qs[n * row_words]          codes, row r at qs + r * row_words
 *   uint16_t scales[n * n_groups]       fp16 d of (row r, group g) at r*n_groups+g
 *   uint16_t mins[n * n_groups]         fp16 m, Q4A only (NULL otherwise)
 *
 * Q8 (symmetric, GGUF Q8_0 at group 32): x = d * q, q int8 in [-128, 127]
 *   (qvk's own quantizer writes [-127, 127]). Element k of a row is byte
 *   k % 4 (little-endian: bits 8*(k%4)..+7) of word k / 4, two's complement:
 *   a word is an OpSDot "4x8 packed" operand as is.
 *
 * Q4 (symmetric, GGUF Q4_0 at group 32): x = d * (q - 8), q in 0..15.
 * Q4A (asymmetric, GGUF Q4_1 at group 32): x = d * q + m, q in 0..15.
 *   Both use GGUF's nibble order inside each 32-element block b of a row
 *   (elements 32b .. 32b+31, the 4 words qs[r*row_words + 4b + 0..3]):
 *     byte j (0..15) of the block = byte j % 4 of word 4b + j / 4
 *     low nibble  of byte j = code of element 32b + j
 *     high nibble of byte j = code of element 32b + 16 + j
 *   so for word w = qs[r*row_words + 4b + i] (i = 0..3):
 *     (w >> 0) & 0x0f0f0f0f  = 4 uint8 lanes, elements 32b + 4i + 0..3
 *     (w >> 4) & 0x0f0f0f0f  = 4 uint8 lanes, elements 32b + 16 + 4i + 0..3
 *   i.e. each masked word is an OpSDot operand (codes 0..15 are the same as
 *   signed int8), aligned with activation words 8b + i and 8b + 4 + i.
 *   The 16 bytes of a block are byte-for-byte GGUF's block qs[16].
 *
 * Padding: elements K .. k_padded-1 of each row are quantized as the value
 *   0 with their group's scale and min, and that scale and min come from the
 *   group's real elements only (llama.cpp refuses such tensors; qvk pads).
 *   Code of a padded element: Q8 0, Q4 8, Q4A the code nearest -m/d.
 *   Activations are zero there too, so padding never changes a result.
 *
 * ---------------------------------------------------------------------------
 * Activations (struct qvk_qact): int8 symmetric, dynamic (computed per call).
 *   per token:     one scale per row of X        (ZeroQuant token-wise)
 *   per 32-block:  one scale per 32 elements of a row
 *   d = amax / 127; q = clamp(roundf(x * (1/d)), -127, 127) (roundf: ties
 *   away from zero; 1/d as a float reciprocal); d = 0 and q = 0 when amax = 0.
 *   uint32_t qs[m * row_words]         row_words = k_padded / 4, layout as Q8
 *   float    scales[m * n_scales]      n_scales = 1 or k_padded / 32
 *   int32_t  sums[m * (k_padded / 32)] Σ q over each 32-block (the correction
 *                                      Σ qa·(qw − z) = dot(qa, qw) − z·Σqa)
 *
 * ---------------------------------------------------------------------------
 * Exact integer reference (the oracle of the GPU integer kernels).
 *   A dot unit is a weight group for per-token activations and a 32-block
 *   for per-32-block activations (unit = group or 32; units = k_padded/unit).
 *   dot[m][n][u] = Σ_{k in unit u} qa[m][k] · c[n][k]   exactly in int32, with
 *     c = q (Q8), q - 8 (Q4), q (Q4A, unsigned codes).
 *   Y[m][n] accumulates in fp32 over units u = 0, 1, ... in order:
 *     t   = (float)dot * d_w                         (d_w: fp16 scale as float)
 *     t   = fmaf((float)sum_u, m_w, t)               Q4A only; sum_u = Σ qa in u
 *     acc = fmaf(t, d_a, acc)                        d_a: activation scale of u
 *   starting from acc = 0.0f; fmaf is the correctly rounded fused multiply-add.
 *
 * Threads: no function here keeps state between calls; calls on different
 * tensors with different contexts may run concurrently. GPTQ and AWQ use
 * OpenBLAS's threads (OPENBLAS_NUM_THREADS sets how many).
 */
#ifndef QVK_QUANT_H
#define QVK_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>
#include <qvk/status.h>

enum qvk_qformat {
	QVK_QFORMAT_Q8 = 1,  /* symmetric int8, x = d*q */
	QVK_QFORMAT_Q4 = 2,  /* symmetric int4, x = d*(q-8) */
	QVK_QFORMAT_Q4A = 3, /* asymmetric int4, x = d*q + m */
};

/* Group size argument meaning "one group per row" (per output channel). */
#define QVK_GROUP_ROW 0u
#define QVK_QBLOCK 32u

/* Short name: "q8", "q4", "q4a" (NULL for an unknown format). */
QVK_API const char *qvk_qformat_name(enum qvk_qformat format);

struct qvk_qtensor {
	enum qvk_qformat format;
	uint32_t n;         /* rows (outputs) */
	uint32_t k;         /* real inputs per row */
	uint32_t k_padded;  /* see the layout above */
	uint32_t group;     /* elements per group (k_padded when per-row) */
	uint32_t n_groups;  /* k_padded / group */
	uint32_t row_words; /* row stride of qs in uint32 words */
	uint32_t *qs;       /* (n, row_words) packed codes */
	uint16_t *scales;   /* (n, n_groups) fp16 */
	uint16_t *mins;     /* (n, n_groups) fp16, Q4A only, else NULL */
};

/*
 * A zero-filled tensor (all codes and scales 0). @group is 32, 64, 128 or
 * QVK_GROUP_ROW. Sizes: qs n*row_words*4 bytes, scales/mins n*n_groups*2.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_qtensor_create(
	struct qvk_ctx *ctx, enum qvk_qformat format, uint32_t n, uint32_t k,
	uint32_t group, struct qvk_qtensor **out);
QVK_API void qvk_qtensor_destroy(struct qvk_qtensor *qt);

/* Bytes of qs, scales and mins (0 when absent). */
QVK_API size_t qvk_qtensor_qs_bytes(const struct qvk_qtensor *qt);
QVK_API size_t qvk_qtensor_scales_bytes(const struct qvk_qtensor *qt);

/* Code of (row, k) as stored (Q8: -128..127; Q4/Q4A: 0..15). */
QVK_API int qvk_qtensor_get_code(const struct qvk_qtensor *qt, uint32_t row,
				 uint32_t k);
QVK_API void qvk_qtensor_set_code(struct qvk_qtensor *qt, uint32_t row,
				  uint32_t k, int code);

/* W ≈ dequantized (n, k) floats into @w (real elements only). */
QVK_API void qvk_qtensor_dequantize(const struct qvk_qtensor *qt, float *w);

/* ------------------------------------------------------------ quantizers */

enum qvk_clip {
	QVK_CLIP_MINMAX = 0,     /* range of the group */
	QVK_CLIP_PERCENTILE = 1, /* x at the p-th and (100-p)-th percentiles */
	QVK_CLIP_MSE = 2,        /* range shrink minimising squared error */
};

struct qvk_quant_params {
	enum qvk_qformat format;
	uint32_t group;         /* 32, 64, 128 or QVK_GROUP_ROW */
	enum qvk_clip clip;
	float percentile;       /* QVK_CLIP_PERCENTILE: in (50, 100], e.g. 99.9 */
	uint32_t mse_steps;     /* QVK_CLIP_MSE: shrink factors tried (0: 20) */
	float mse_min_shrink;   /* QVK_CLIP_MSE: smallest factor (0: 0.5) */
	/*
	 * Optional per-input-channel importance (k), e.g. mean x_j² from
	 * calibration: the MSE search then minimises Σ_j importance_j · e_j²,
	 * the diagonal of the layer's output error. NULL: all ones.
	 */
	const float *importance;
};

/* Defaults: min/max clipping for @format and @group. */
QVK_API struct qvk_quant_params qvk_quant_params_default(
	enum qvk_qformat format, uint32_t group);

/*
 * Quantize W (n, k) row-major into a new tensor. @name names W in errors
 * (a NaN/Inf at (row, col) is QVK_ERR_NUMERIC naming both; so is a group
 * whose scale does not fit in fp16).
 *
 * With QVK_CLIP_MINMAX every real element comes back within half a step
 * (|d|/2) of its value: Q8 d = amax/127; Q4 d = the smaller of
 * max(max⁺/7.5, max⁻/8.5) and its sign-flipped twin (codes -8..7 both
 * used); Q4A covers [min(x,0), max(x,0)] with m = -z·d for an integer z, so
 * 0.0 is reproduced exactly. Every scale is rounded to fp16 away from zero
 * (so the range still fits) and codes are computed with the stored scale.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_quantize_weights(
	struct qvk_ctx *ctx, const char *name, const float *w, uint32_t n,
	uint32_t k, const struct qvk_quant_params *params,
	struct qvk_qtensor **out);

/* ------------------------------------------------------------ GGUF blocks */

/*
 * GGUF's Q8_0 / Q4_0 / Q4_1 blocks (@type is the ggml type id, see
 * include/qvk/format.h: { fp16 d; int8 qs[32]; } 34 bytes, { fp16 d;
 * uint8 qs[16]; } 18 bytes, { fp16 d; fp16 m; uint8 qs[16]; } 20 bytes)
 * are qvk's Q8 / Q4 / Q4A at group 32 byte for byte.
 */

/*
 * GGUF rows of @n x @k (k a multiple of 32) blocks, @size_bytes long, to a
 * group-32 tensor, byte-exact (every code, scale and min kept). A scale or
 * min that is Inf or NaN is QVK_ERR_NUMERIC naming the row and block.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_qtensor_from_gguf(
	struct qvk_ctx *ctx, const char *name, uint32_t type,
	const void *blocks, size_t size_bytes, uint32_t n, uint32_t k,
	struct qvk_qtensor **out);

/*
 * The reverse: @qt must be group 32 with k a multiple of 32 (GGUF has no
 * padded rows; QVK_ERR_UNSUPPORTED otherwise). Writes n*k/32 blocks.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_qtensor_to_gguf(
	struct qvk_ctx *ctx, const char *name, const struct qvk_qtensor *qt,
	uint32_t type, void *blocks, size_t capacity_bytes);

/* ------------------------------------------------------------ activations */

enum qvk_act_granularity {
	QVK_ACT_PER_TOKEN = 0,
	QVK_ACT_PER_BLOCK32 = 1,
};

struct qvk_qact {
	enum qvk_act_granularity granularity;
	uint32_t m;         /* tokens */
	uint32_t k;         /* real elements per token */
	uint32_t k_padded;  /* multiple of 32; elements past k are 0 */
	uint32_t row_words; /* k_padded / 4, row stride of qs */
	uint32_t n_scales;  /* per row: 1 or k_padded / 32 */
	uint32_t *qs;       /* (m, row_words) int8 quads, layout as Q8 */
	float *scales;      /* (m, n_scales) */
	int32_t *sums;      /* (m, k_padded / 32) Σ q per 32-block */
};

/*
 * @k_padded: 0 for ALIGN_UP(k, 32), or pass the weight's k_padded so that
 * both sides have the same row length (any multiple of 32 >= k).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_qact_create(
	struct qvk_ctx *ctx, enum qvk_act_granularity granularity, uint32_t m,
	uint32_t k, uint32_t k_padded, struct qvk_qact **out);
QVK_API void qvk_qact_destroy(struct qvk_qact *qa);

/* Quantize X (m, k) into @qa (created with the same m and k). */
QVK_API QVK_MUST_CHECK qvk_status qvk_quantize_act(struct qvk_ctx *ctx,
						   const char *name,
						   const float *x,
						   struct qvk_qact *qa);

/* X ≈ dequantized (m, k) into @x. */
QVK_API void qvk_qact_dequantize(const struct qvk_qact *qa, float *x);

/* ------------------------------------------------------------ references */

/*
 * Y (m, n) = X (m, k) · Wᵀ, W (n, k): each output a double-precision sum
 * over k in ascending order, rounded once to float.
 */
QVK_API void qvk_ref_matmul_f32(const float *x, const float *w, float *y,
				uint32_t m, uint32_t n, uint32_t k);

/* Number of dot units per (m, n) for this pair (see the layout above). */
QVK_API uint32_t qvk_ref_qdot_units(const struct qvk_qtensor *w,
				    const struct qvk_qact *a);

/*
 * The exact int32 dots, dots[(i * n + j) * units + u] for token i, row j.
 * QVK_ERR_INVALID_ARG when the shapes do not match (same k; a->k_padded >=
 * w->k_padded).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_ref_qdots(struct qvk_ctx *ctx,
						const struct qvk_qtensor *w,
						const struct qvk_qact *a,
						int32_t *dots);

/* Y (m, n) from the quantized pair, accumulated as documented above. */
QVK_API QVK_MUST_CHECK qvk_status qvk_ref_matmul_q(struct qvk_ctx *ctx,
						   const struct qvk_qtensor *w,
						   const struct qvk_qact *a,
						   float *y);

/* ------------------------------------------------- fixed-point requantize */

/*
 * A real scale s in [2^-31, 1) as an int32 multiplier M (2^30 <= M < 2^31)
 * and a right shift r (0..31): s ≈ M · 2^-(31 + r), M = round(s·2^(31+r)).
 * Other scales are QVK_ERR_INVALID_ARG.
 */
struct qvk_fixed_point {
	int32_t multiplier;
	int32_t shift;
};

QVK_API QVK_MUST_CHECK qvk_status qvk_fixed_point_from_scale(
	struct qvk_ctx *ctx, double scale, struct qvk_fixed_point *out);

/*
 * int8 = clamp(zero_point + RDBPOT(SRDHM(acc, M), r), -128, 127): the
 * rounding doubling high multiply (round(acc·M / 2^31), ties away from
 * zero, saturating INT32_MIN·INT32_MIN) then a rounding right shift by r
 * (ties away from zero), as gemmlowp and TFLite do.
 *
 * Error bound before the clamp, checked in tests/check_fixed_point.c over
 * 10^6 random cases against double:
 *   |result − acc·s| <= 1/2 + 2^-(r+1) + |acc|·2^-(r+31)
 * (1/2 from the final rounding, half a shifted-out unit from the high
 * multiply, and the multiplier's own rounding: at most 1/2 unit of
 * 2^-(31+r), or 1 unit where s rounds up to 2^31 and M saturates).
 */
QVK_API int32_t qvk_fixed_point_apply(struct qvk_fixed_point fp, int32_t acc);
QVK_API int8_t qvk_fixed_point_requantize_i8(struct qvk_fixed_point fp,
					     int32_t acc, int32_t zero_point);

/* ------------------------------------------------------------ smoothing */

/*
 * Folding per-input-channel scales s (k): a linear Y = X·Wᵀ is unchanged if
 * its input is divided by s and its weight columns multiplied by s:
 *   Y = (X · diag(1/s)) · (W · diag(s))ᵀ.
 * The division is folded into the op that produces X, so it costs nothing:
 *   - an RMSNorm weight g (k):      g_j /= s_j       (q/k/v, gate/up)
 *   - a preceding linear P (k, k'): row j of P /= s_j (down_proj via up_proj)
 * and the quantizer then sees W·diag(s). Several linears that share X
 * (q, k, v) share s: compute it from their weights stacked along N.
 */
QVK_API void qvk_fold_scale_into_weight(float *w, uint32_t n, uint32_t k,
					const float *s);
QVK_API void qvk_fold_scale_into_norm(float *norm_w, uint32_t k,
				      const float *s);
QVK_API void qvk_fold_scale_into_prev_rows(float *prev, uint32_t k,
					   uint32_t k_prev, const float *s);
/* X · diag(1/s) in place, for tests and calibration data (m, k). */
QVK_API void qvk_unfold_scale_from_act(float *x, uint32_t m, uint32_t k,
				       const float *s);

/* absmax[j] = max(absmax[j], max_t |x[t][j]|) over calibration rows (m, k). */
QVK_API QVK_MUST_CHECK qvk_status qvk_act_absmax_update(
	struct qvk_ctx *ctx, const char *name, const float *x, uint32_t m,
	uint32_t k, float *absmax);

/*
 * SmoothQuant: s_j = max|X_j|^α / max|W_j|^(1−α) with max|W_j| over the
 * rows of W (n, k); channels where either max is 0 get s_j = 1. s is
 * clamped to [1e-5, 1e5]. α in [0, 1] (0.5 is the paper's default).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_smoothquant_scales(
	struct qvk_ctx *ctx, const char *name, const float *act_absmax,
	const float *w, uint32_t n, uint32_t k, float alpha, float *s);

/* --------------------------------------------------- AWQ and GPTQ (BLAS) */

/*
 * Both need OpenBLAS/LAPACKE; a QVK_BLAS=0 build keeps the declarations and
 * returns QVK_ERR_UNSUPPORTED (runtime/quant/no_blas.c).
 */
QVK_API int qvk_quant_has_blas(void);

struct qvk_awq_params {
	struct qvk_quant_params quant; /* the target format (clip ignored) */
	uint32_t grid;        /* α = i / grid for i = 0..grid-1 (0: 20) */
	uint32_t eval_tokens; /* calibration rows used in the α search (0: 512) */
	int clip_search;      /* then an importance-weighted MSE clip search */
};

/*
 * AWQ (Lin et al. 2023): s_j = mean_t |X_tj|^α / sqrt(max s · min s), α
 * chosen on the grid to minimise ‖X·Wᵀ − (X/s)·Q(W·diag(s))ᵀ‖² on the
 * calibration rows X (t, k). Writes s (k); the caller folds it (above) and
 * quantizes W·diag(s), e.g. with qvk_awq_quantize(). *alpha_out: the α found.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_awq_search(
	struct qvk_ctx *ctx, const char *name, const float *x, uint32_t t,
	const float *w, uint32_t n, uint32_t k,
	const struct qvk_awq_params *params, float *s, float *alpha_out);

/*
 * Quantize W·diag(s) (w is the unscaled W) with the AWQ clip search when
 * params->clip_search (importance = mean x_j² / s_j²).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_awq_quantize(
	struct qvk_ctx *ctx, const char *name, const float *x, uint32_t t,
	const float *w, uint32_t n, uint32_t k, const float *s,
	const struct qvk_awq_params *params, struct qvk_qtensor **out);

struct qvk_gptq_params {
	struct qvk_quant_params quant; /* format, group; clip = MINMAX or MSE */
	float damp;         /* λ = damp · mean diag(H) (0: 0.01) */
	uint32_t block;     /* lazy batch width B (0: 128) */
	int act_order;      /* columns by decreasing diag(H), static groups */
};

/*
 * GPTQ (Frantar et al. 2022, Alg. 1) on calibration rows X (t, k) for W
 * (n, k): H = 2XᵀX/t + λI, U = Cholesky(H⁻¹) upper, columns quantized in
 * order with the error fed forward through U, lazy updates per block of B
 * columns through sgemm. Group scales come from the current (updated)
 * weights at each group's first column, or with act_order from the
 * original W up front ("static groups"), so the stored layout is the same.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gptq_quantize(
	struct qvk_ctx *ctx, const char *name, const float *x, uint32_t t,
	const float *w, uint32_t n, uint32_t k,
	const struct qvk_gptq_params *params, struct qvk_qtensor **out);

/*
 * The same from calibration sums gathered in pieces (a model's layers see
 * many windows): xtx (k, k) starts zeroed, qvk_gptq_hessian_add() adds
 * XᵀX of each batch of rows X (t, k) into its upper triangle (j >= i,
 * row-major; the lower one is not read), and @tokens is the rows in all.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gptq_hessian_add(
	struct qvk_ctx *ctx, const char *name, const float *x, uint32_t t,
	uint32_t k, float *xtx);
QVK_API QVK_MUST_CHECK qvk_status qvk_gptq_quantize_hessian(
	struct qvk_ctx *ctx, const char *name, const float *xtx,
	uint64_t tokens, const float *w, uint32_t n, uint32_t k,
	const struct qvk_gptq_params *params, struct qvk_qtensor **out);

#endif
