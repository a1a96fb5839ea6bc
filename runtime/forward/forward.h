/* SPDX-License-Identifier: MIT */
/* libqvk private header for runtime/forward/: a model on the device. */
#ifndef QVK_RUNTIME_FORWARD_H
#define QVK_RUNTIME_FORWARD_H

#include <qvk/llm.h>

#include "matmul/matmul.h"

struct qvk_llm_layer {
	struct qvk_buffer *attn_norm, *ffn_norm; /* (dim) fp32 */
	struct qvk_mm_weight *wq; /* (n_heads*head_dim, dim) */
	struct qvk_mm_weight *wk; /* (n_kv_heads*head_dim, dim) */
	struct qvk_mm_weight *wv; /* (n_kv_heads*head_dim, dim) */
	struct qvk_mm_weight *wo; /* (dim, n_heads*head_dim) */
	struct qvk_mm_weight *w1; /* gate (hidden_dim, dim) */
	struct qvk_mm_weight *w2; /* down (dim, hidden_dim) */
	struct qvk_mm_weight *w3; /* up (hidden_dim, dim) */
	/* Biases (fp32, one per output of the matrix) or NULL when absent. */
	struct qvk_buffer *bq, *bk, *bv, *bo, *b1, *b2, *b3;
	struct qvk_buffer *q_norm, *k_norm; /* (head_dim) fp32, or NULL */
};

/* Weights of a model on the device (llm_weights.c). */
struct qvk_llm_weights {
	struct qvk_buffer *tok_embd;     /* (vocab, dim) fp32 */
	struct qvk_llm_layer *layers;    /* [n_layers] */
	struct qvk_buffer *output_norm;  /* (dim) fp32 */
	struct qvk_mm_weight *output;    /* (vocab, dim) */
	struct qvk_buffer *output_b;     /* (vocab) fp32, or NULL */
	uint32_t n_layers;
	char describe[256];
};

qvk_status qvk_llm_weights_load(struct qvk_device *dev,
				const struct qvk_model *model,
				const struct qvk_llm_options *opt,
				struct qvk_llm_weights *w);
void qvk_llm_weights_finish(struct qvk_llm_weights *w);

/* Upload fp32 host data into a new device buffer of pieces of @piece_align. */
qvk_status qvk_llm_upload_f32(struct qvk_device *dev, const float *src,
			      size_t count, size_t piece_align,
			      struct qvk_buffer **out);

/*
 * Calibration capture (llm_capture.c): run windows through @llm from
 * position 0 and accumulate, on the device, the inputs of the linear
 * layers of layers [first_layer, first_layer + n_layers) and, with @head,
 * of the classifier (then the range must end at the last layer). Per
 * site: Σ|x|, Σx², max|x| per channel, XᵀX with @xtx, and with @max_rows
 * the input at every @row_stride-th position counted over all windows.
 * Sites: 4 per layer in enum qvk_capture_kind order, the classifier's
 * last. The model should hold float weights (f16/f32) to give the float
 * model's activations; @llm must outlive the capture.
 */
enum qvk_capture_kind {
	QVK_CAPTURE_ATTN_IN = 0, /* wq wk wv read rmsnorm(x)·attn_norm */
	QVK_CAPTURE_ATTN_OUT,    /* wo reads the attention output */
	QVK_CAPTURE_FFN_IN,      /* w1 w3 read rmsnorm(x)·ffn_norm */
	QVK_CAPTURE_FFN_OUT,     /* w2 reads silu(w1·a)·(w3·a) */
};

struct qvk_llm_capture_options {
	uint32_t first_layer, n_layers;
	bool head;
	bool xtx;
	uint32_t max_rows, row_stride;
};

struct qvk_llm_capture;

qvk_status qvk_llm_capture_create(struct qvk_llm *llm,
				  const struct qvk_llm_capture_options *o,
				  struct qvk_llm_capture **out);
void qvk_llm_capture_destroy(struct qvk_llm_capture *c);
/* Input width of sites of @kind (the classifier's: kind 0, dim). */
uint32_t qvk_llm_capture_site_width(const struct qvk_llm *llm, uint32_t kind);
/*
 * Add window @tokens (m <= max_batch, BOS first) at positions 0..m-1;
 * @base: the index of its first position over all windows (sampling).
 */
qvk_status qvk_llm_capture_window(struct qvk_llm_capture *c,
				  const uint32_t *tokens, uint32_t m,
				  uint32_t base);
/*
 * Site @i's sums after the windows: @stats (3, k) Σ|x|, Σx², max|x|;
 * @xtx (k, k) and @rows (max_rows, k) when kept and not NULL.
 */
qvk_status qvk_llm_capture_read(const struct qvk_llm_capture *c, uint32_t i,
				float *stats, float *xtx, float *rows);

#endif
