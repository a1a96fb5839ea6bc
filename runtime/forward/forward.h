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

#endif
