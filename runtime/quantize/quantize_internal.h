/* SPDX-License-Identifier: MIT */
/* Private header of runtime/quantize/: the float working model, the
 * calibration statistics and the smoothing folds. */
#ifndef QVK_RUNTIME_QUANTIZE_INTERNAL_H
#define QVK_RUNTIME_QUANTIZE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/quantize.h>

#include "../internal.h"

/*
 * Where a linear layer reads its input. Layers that read the same vector
 * share a site (q, k, v read the attention norm's output; gate and up the
 * FFN norm's), and so share statistics, a GPTQ Hessian and a smoothing
 * scale vector.
 */
enum qvk_site_kind {
	QVK_SITE_ATTN_IN = 0, /* wq wk wv, after attn_norm */
	QVK_SITE_ATTN_OUT,    /* wo, after attention (v rows fold) */
	QVK_SITE_FFN_IN,      /* w1 w3, after ffn_norm */
	QVK_SITE_FFN_OUT,     /* w2, after SwiGLU (w3 rows fold) */
	QVK_SITE_KINDS,
};

/* A float copy of a model: every tensor F32 in its own buffer. */
struct qvk_fmodel {
	struct qvk_model m;   /* points at the buffers below */
	float **bufs;         /* [qvk_model_tensor_count(&m)] */
	uint32_t n_bufs;
};

qvk_status qvk_fmodel_create(struct qvk_ctx *ctx, const struct qvk_model *src,
			     struct qvk_fmodel **out);
void qvk_fmodel_destroy(struct qvk_fmodel *fm);
/* The float data of a tensor of @fm (its type is F32). */
static inline float *qvk_fmodel_data(const struct qvk_host_tensor *t)
{
	return (float *)(uintptr_t)t->data;
}

/* Statistics of one site over the calibration tokens. */
struct qvk_calib_site {
	uint32_t k;          /* input width */
	uint64_t tokens;     /* positions seen */
	double *sum_abs;     /* (k) Σ|x| */
	double *sum_sq;      /* (k) Σx² */
	float *absmax;       /* (k) max|x| */
	float *xtx;          /* (k, k) upper triangle of XᵀX (GPTQ) or NULL */
	float *pending;      /* (QVK_CALIB_BATCH, k) rows not yet in xtx */
	uint32_t n_pending;
	float *rows;         /* (max_rows, k) sampled rows (AWQ) or NULL */
	uint32_t n_rows, max_rows;
};

#define QVK_CALIB_BATCH 64u

struct qvk_calib {
	uint32_t n_sites;            /* 4 per layer, then the classifier */
	struct qvk_calib_site *sites;
};

/* The site index of layer @l's @kind, and the classifier's. */
static inline uint32_t qvk_site_index(uint32_t l, enum qvk_site_kind kind)
{
	return l * QVK_SITE_KINDS + (uint32_t)kind;
}

/*
 * Run the calibration tokens through the reference forward pass of @fm and
 * gather per site: always Σ|x|, Σx², max|x|; XᵀX when @hessian; up to
 * @max_rows evenly spread rows when @max_rows > 0.
 */
qvk_status qvk_calib_run(struct qvk_ctx *ctx, const struct qvk_fmodel *fm,
			 const struct qvk_quantize_options *opt, bool hessian,
			 uint32_t max_rows, struct qvk_calib **out);
void qvk_calib_destroy(struct qvk_calib *c);

/*
 * AWQ or SmoothQuant: choose a scale vector per site from @c and fold it
 * into @fm (W·diag(s) in the site's layers, 1/s into the op before), so
 * that @fm still computes the same function. The sampled rows of @c are
 * divided by s too, so they stay the inputs of the folded layers.
 */
qvk_status qvk_smooth_fold(struct qvk_ctx *ctx, struct qvk_fmodel *fm,
			   struct qvk_calib *c,
			   const struct qvk_quantize_options *opt);

#endif
