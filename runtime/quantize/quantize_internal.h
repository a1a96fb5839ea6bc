/* SPDX-License-Identifier: MIT */
/*
 * Private header of runtime/quantize/: the plan of what each tensor
 * becomes, the calibration statistics, the batched calibration pass, the
 * smoothing folds and the streaming run that ties them together.
 *
 * A run streams: tensors are read from the source mapping one at a time,
 * converted to fp32, transformed and quantized, and handed to a sink (the
 * GGUF file, or memory for the in-memory API) in file order. Calibration
 * runs layer by layer over all calibration positions at once: the
 * residual stream of every position (T, dim) is kept between layers, each
 * layer's sites take their statistics from it, and it moves through the
 * layer with the weights as quantized (sequential, as GPTQ and AWQ do) or
 * as float (the scalar reference's statistics, which the tests compare).
 */
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

/* The site index of layer @l's @kind; the classifier's is (n_layers, 0). */
static inline uint32_t qvk_site_index(uint32_t l, enum qvk_site_kind kind)
{
	return l * QVK_SITE_KINDS + (uint32_t)kind;
}

/* Statistics of one site over the calibration positions. */
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
/* Rows AWQ's scale search keeps per site. */
#define QVK_AWQ_ROWS 512u

qvk_status qvk_calib_site_init(struct qvk_ctx *ctx, struct qvk_calib_site *s,
			       uint32_t k, bool hessian, uint32_t max_rows);
void qvk_calib_site_finish(struct qvk_calib_site *s);
/*
 * Add @t rows of @x (t, k) to @s: sums, maxima, XᵀX when kept, and every
 * @stride-th row (from row @first on) to the sample. A non-finite input
 * is QVK_ERR_NUMERIC naming @name.
 */
qvk_status qvk_calib_site_add(struct qvk_ctx *ctx, struct qvk_calib_site *s,
			      const char *name, const float *x, uint32_t t,
			      uint32_t stride);
/* Rows still buffered for XᵀX into it (after the last add). */
qvk_status qvk_calib_site_flush(struct qvk_ctx *ctx, struct qvk_calib_site *s,
				const char *name);
/* mean x² per channel into @imp (k): the importance of each input. */
void qvk_calib_site_importance(const struct qvk_calib_site *s, float *imp);

/* Every site of a model, as the scalar reference sees them. */
struct qvk_calib {
	uint32_t n_sites;            /* 4 per layer, then the classifier */
	struct qvk_calib_site *sites;
};

/*
 * The oracle: run the calibration tokens through the scalar reference
 * forward pass of @m (float, nothing quantized) and gather every site's
 * statistics (XᵀX when @hessian, up to @max_rows rows when > 0).
 */
qvk_status qvk_calib_run(struct qvk_ctx *ctx, const struct qvk_model *m,
			 const struct qvk_quantize_options *opt, bool hessian,
			 uint32_t max_rows, struct qvk_calib **out);
void qvk_calib_destroy(struct qvk_calib *c);

/* Copy @src's sums, maxima and XᵀX (flushed) into @dst, allocated here. */
qvk_status qvk_calib_site_copy(struct qvk_ctx *ctx, struct qvk_calib_site *dst,
			       const struct qvk_calib_site *src);
/*
 * The statistics of the batched pass over @m's float weights
 * (float_calib: what the reference sees), from a GPTQ q8 run whose
 * output is dropped: the tests compare them with qvk_calib_run()'s.
 */
qvk_status qvk_calib_batched(struct qvk_ctx *ctx, const struct qvk_model *m,
			     const struct qvk_quantize_options *opt,
			     struct qvk_calib **out);

/*
 * Calibration on the device (calib_gpu.c): the float model's statistics
 * from qvk's own forward pass on @dev, site by site in layer order, in
 * passes of as many layers as fit @max_pass_bytes of sums (0: up to
 * 1 GiB, half the device memory left).
 */
struct qvk_calib_gpu;

qvk_status qvk_calib_gpu_create(struct qvk_ctx *ctx, struct qvk_device *dev,
				const struct qvk_model *m,
				const struct qvk_quantize_options *opt,
				bool hessian, uint32_t max_rows,
				uint64_t max_pass_bytes,
				struct qvk_calib_gpu **out);
void qvk_calib_gpu_destroy(struct qvk_calib_gpu *g);
/* "f16 weights, 2 layers per pass". */
const char *qvk_calib_gpu_describe(const struct qvk_calib_gpu *g);
/* Host bytes the statistics take (one pass's sites and a layer's copy). */
uint64_t qvk_calib_gpu_host_bytes(const struct qvk_calib_gpu *g);
/*
 * Site @site's statistics into @dst (qvk_calib_site_init()ed with the
 * site's width, XᵀX and rows as the calibrator was made), running the
 * pass that holds it when the last one does not.
 */
qvk_status qvk_calib_gpu_site(struct qvk_calib_gpu *g, uint32_t site,
			      struct qvk_calib_site *dst);
/* Every site, as qvk_calib_run() gives them (the tests' comparison). */
qvk_status qvk_calib_gpu_run(struct qvk_ctx *ctx, struct qvk_device *dev,
			     const struct qvk_model *m,
			     const struct qvk_quantize_options *opt,
			     bool hessian, uint32_t max_rows,
			     uint64_t max_pass_bytes, struct qvk_calib **out);

/* ------------------------------------------------------------- plan */

/*
 * What every tensor of the output becomes, decided before any work (the
 * file's header is written first). Tensors are in the output model's
 * order (qvk_model_tensor_count()): the embedding, 9 per layer, the
 * final norm and, unless it stays tied, the classifier.
 */
struct qvk_qplan {
	struct qvk_model out;   /* the output's description (data NULL) */
	uint32_t n;             /* tensors */
	/* per tensor: */
	const struct qvk_host_tensor **src; /* where it is read from */
	uint32_t *spec;         /* requested type: F32, F16, Q8_0 (q8 g32),
				 * QVK_Q4_G64..., Q4_K...: the type table */
	uint32_t *site;         /* calibration site, or UINT32_MAX */
	bool tied;              /* the source shares its classifier */
	bool qvk_types;         /* some tensor is stored in a qvk type */
	uint64_t weight_elems;  /* elements of quantized matrices (progress) */
};

qvk_status qvk_qplan_create(struct qvk_ctx *ctx, const struct qvk_model *m,
			    const struct qvk_quantize_options *opt,
			    bool rounding, struct qvk_qplan **out);
void qvk_qplan_destroy(struct qvk_qplan *p);
/* The stored type of @spec for rows of @k (a padded K takes a qvk type). */
uint32_t qvk_qplan_stored_type(uint32_t spec, uint64_t k);
/* Output index of layer @l's tensor @j (0 attn_norm .. 8 w3). */
static inline uint32_t qvk_qplan_layer_index(uint32_t l, uint32_t j)
{
	return 1 + 9 * l + j;
}

/* ------------------------------------------------------- tensor work */

/*
 * Tensor @t of the source as fp32 (rows, ne[0]) into a new buffer; the
 * source pages it read are handed back to the kernel as it goes
 * (MADV_PAGEOUT), so a mapped model costs one tensor's pages at a time.
 */
qvk_status qvk_tensor_load_f32(struct qvk_ctx *ctx,
			       const struct qvk_host_tensor *t, float **out);
/* Rows of @t (stored bytes of its type) back to fp32 into @w. */
qvk_status qvk_tensor_decode(struct qvk_ctx *ctx,
			     const struct qvk_host_tensor *t, float *w);

/* How a matrix is encoded into its stored type. */
struct qvk_encode {
	enum qvk_quant_method method;
	const float *importance;          /* (k) or NULL */
	const struct qvk_calib_site *cs;  /* GPTQ's Hessian, or NULL */
};

/*
 * Encode @w (n, k) as @spec into *bytes (malloc'ed), @dst's type and size
 * set; @w may be overwritten (GPTQ works in it): *w_kept says whether it
 * still holds the float weights.
 */
qvk_status qvk_tensor_encode(struct qvk_ctx *ctx, struct qvk_host_tensor *dst,
			     uint32_t spec, float *w, const struct qvk_encode *e,
			     void **bytes, bool *w_kept);
/*
 * Quantize and dequantize @w (n, k) as @spec, round to nearest, into @out:
 * what a search trial sees.
 */
qvk_status qvk_tensor_qdq(struct qvk_ctx *ctx, const char *name, uint32_t spec,
			  const float *w, uint32_t n, uint32_t k, float *out);

/* ------------------------------------------------------ batched pass */

/*
 * The calibration positions: windows of up to @window positions, each
 * BOS then text, all positions' activations at once.
 */
struct qvk_batch {
	const struct qvk_model_params *p;
	uint32_t n_windows, window, t; /* t: positions in all */
	uint32_t *starts;              /* (n_windows + 1) first position */
	uint32_t *tokens;              /* (t) token at each position */
	float *x;                      /* (t, dim) the residual stream */
	float *freq;                   /* (rope_dims / 2) RoPE angles */
};

qvk_status qvk_batch_create(struct qvk_ctx *ctx, const struct qvk_model *m,
			    const struct qvk_quantize_options *opt,
			    struct qvk_batch **out);
void qvk_batch_destroy(struct qvk_batch *b);
/* @out (t, dim) = rmsnorm(x) * @g. */
void qvk_batch_norm(const struct qvk_batch *b, const float *g, float *out);
/* @q (t, q_dim), @k (t, kv_dim): RoPE at each position, in place. */
void qvk_batch_rope(const struct qvk_batch *b, float *q, uint32_t n_heads);
/* @out (t, q_dim) = causal attention of q over k, v within each window. */
qvk_status qvk_batch_attention(struct qvk_ctx *ctx, const struct qvk_batch *b,
			       const float *q, const float *k, const float *v,
			       float *out);
/* @g (t, hidden) = silu(@g) * @u. */
void qvk_batch_swiglu(const struct qvk_batch *b, float *g, const float *u);

/* ---------------------------------------------------------- folding */

/* A site's matrices and what its scale folds into. */
struct qvk_site_desc {
	const char *name;
	float *w[3];        /* the site's matrices (float, this layer's) */
	uint32_t rows[3];
	uint32_t spec[3];   /* their planned types (the search's trials) */
	uint32_t n_w, k, n_total;
	float *norm;        /* (k) norm weight before the site, or NULL */
	float *prev;        /* rows to divide (wv or w3), or NULL */
	uint32_t prev_cols; /* columns of prev */
	uint32_t gqa_group; /* wo: n_heads / n_kv_heads, else 0 */
	uint32_t head_dim;
};

/*
 * AWQ or SmoothQuant: choose the site's scale vector @s (k, the caller's)
 * from @cs and the site's float weights, then fold it (W·diag(s) in the site's
 * matrices, 1/s into the norm or the previous rows) and divide the
 * statistics by it, so they stay those of the folded site's inputs.
 */
qvk_status qvk_smooth_site(struct qvk_ctx *ctx, const struct qvk_site_desc *d,
			   struct qvk_calib_site *cs,
			   const struct qvk_quantize_options *opt, float *s);

/* ------------------------------------------------------------- run */

/* Where the encoded tensors go, in output order. */
struct qvk_qsink {
	/* @bytes (malloc'ed) is the sink's to keep or free. */
	qvk_status (*put)(struct qvk_qsink *s, uint32_t index,
			  const struct qvk_host_tensor *t, void *bytes);
};

/* What a run reports and keeps beyond its tensors. */
struct qvk_qrun_extra {
	uint64_t calib_bytes;    /* out: held besides the model's tensors */
	struct qvk_calib *keep;  /* in: sites to copy the statistics into */
};

/*
 * The whole streaming run: @plan's tensors from @m through the sink.
 * @rounding false keeps everything float (folds only). @extra may be
 * NULL.
 */
qvk_status qvk_quantize_stream(struct qvk_ctx *ctx, const struct qvk_model *m,
			       const struct qvk_quantize_options *opt,
			       struct qvk_qplan *plan, bool rounding,
			       struct qvk_qsink *sink,
			       struct qvk_qrun_extra *extra);

/* The state of one run (stream.c), shared with the layer steps (layer.c). */
struct qvk_qrun {
	struct qvk_ctx *ctx;
	const struct qvk_model *m;
	const struct qvk_quantize_options *opt;
	struct qvk_qplan *plan;
	struct qvk_qsink *sink;
	struct qvk_batch *batch; /* NULL: no calibration on the CPU */
	struct qvk_calib_gpu *gpu; /* statistics from the device, or NULL */
	bool rounding;           /* false: float output (folds only) */
	bool sequential;         /* propagate through the quantized weights */
	bool hessian;            /* GPTQ: XᵀX per site */
	uint32_t max_rows;       /* AWQ: sampled rows per site */
	void **ready;            /* (n) encoded tensors waiting their turn */
	uint32_t next;           /* the next index the sink takes */
	uint64_t elems_done;     /* of plan->weight_elems, for progress */
	struct qvk_calib *keep;  /* copies of every site's statistics, or NULL */
	/* activations of every position: (t, dim), (t, q_dim), (t, kv_dim),
	 * (t, hidden) */
	float *xn, *q, *k, *v, *att, *g, *u;
};

/*
 * Encode output tensor @i from @w (its float values, or NULL: read from
 * the source) with site statistics @cs (NULL: none; GPTQ's Hessian,
 * MSE/AWQ's importance) and queue it for the sink. With calibration and
 * @prop, @w is left holding what the next layers compute with: the
 * decoded stored values (sequential) or the float ones.
 */
qvk_status qvk_qrun_put(struct qvk_qrun *run, uint32_t i, float *w,
			const struct qvk_calib_site *cs, bool prop);
/* Layer @l: its nine tensors, calibration moving x through it. */
qvk_status qvk_layer_quantize(struct qvk_qrun *run, uint32_t l);
/* The final norm and the classifier. */
qvk_status qvk_head_quantize(struct qvk_qrun *run);

#endif
