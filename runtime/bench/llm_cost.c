/* SPDX-License-Identifier: MIT */
/*
 * What a token costs a loaded model, from the tensors as they sit on the
 * device: the bytes a decode step must read (every linear layer once, the
 * cache of every earlier position) and the operations a token needs. With
 * the device's measured ceilings these give the roofline: the best
 * tokens/s the hardware allows. Each key and value is counted as read
 * once, the lower bound (the attention kernels read a cached head once
 * per group of query heads they handle).
 */
#include <qvk/bench.h>

#include "forward/llm_internal.h"

static uint64_t qvk_mm_weight_bytes(const struct qvk_mm_weight *w)
{
	return w->qs->size_bytes + (w->scales ? w->scales->size_bytes : 0) +
	       (w->mins ? w->mins->size_bytes : 0);
}

void qvk_llm_cost(const struct qvk_llm *llm, struct qvk_llm_cost *out)
{
	const struct qvk_ops_model *md = &llm->md;
	const uint32_t n_layers = llm->w.n_layers;
	double int_ops = 0, float_ops = 0;

	*out = (struct qvk_llm_cost){ .max_batch = llm->max_m };
	for (uint32_t l = 0; l <= n_layers; l++) {
		const struct qvk_llm_layer *L = &llm->w.layers[l < n_layers ? l : 0];
		const struct qvk_mm_weight *ws[7] = { L->wq, L->wk, L->wv, L->wo,
						      L->w1, L->w2, L->w3 };
		uint32_t n = 7;

		/* The pass after the last layer counts the classifier. */
		if (l == n_layers) {
			ws[0] = llm->w.output;
			n = 1;
		}
		for (uint32_t i = 0; i < n; i++) {
			double ops = 2.0 * ws[i]->n * ws[i]->k;
			bool is_float = ws[i]->kind == QVK_MM_F32 ||
					ws[i]->kind == QVK_MM_F16;

			out->weight_bytes += qvk_mm_weight_bytes(ws[i]);
			*(is_float ? &float_ops : &int_ops) += ops;
			out->matmul_ops_per_token += ops;
			if (l == n_layers) {
				out->classifier_bytes = qvk_mm_weight_bytes(ws[i]);
				out->classifier_ops = ops;
			}
		}
	}
	out->compute = int_ops >= float_ops ? QVK_COMPUTE_INT8_DOT :
					      QVK_COMPUTE_FP32_FMA;
	out->kv_bytes_per_position = 2ull * n_layers * md->n_kv_heads *
				     md->head_dim * (md->kv_f32 ? 4 : 2);
	/* The embedding row and the fp32 norm weights (two a layer, one final). */
	out->other_bytes_per_token = 4ull * md->dim * (2ull + 2ull * n_layers);
	/* Biases and per-head q/k norms, where the architecture has them. */
	for (uint32_t l = 0; l < n_layers; l++) {
		const struct qvk_llm_layer *L = &llm->w.layers[l];
		const struct qvk_buffer *extra[9] = { L->bq, L->bk, L->bv, L->bo,
						      L->b1, L->b2, L->b3,
						      L->q_norm, L->k_norm };

		for (int i = 0; i < 9; i++)
			out->other_bytes_per_token += extra[i] ? extra[i]->size_bytes : 0;
	}
	if (llm->w.output_b)
		out->other_bytes_per_token += llm->w.output_b->size_bytes;
	out->attention_ops_per_position =
		4.0 * n_layers * md->n_heads * md->head_dim;
}

/* Cached positions attention reads over tokens at pos0 .. pos0+n-1. */
static double qvk_positions_read(uint32_t pos0, uint32_t n)
{
	return (double)n * pos0 + (double)n * (n + 1) / 2;
}

double qvk_llm_decode_bytes_per_token(const struct qvk_llm_cost *c,
				      uint32_t pos0, uint32_t n)
{
	if (!n)
		return 0;
	return (double)(c->weight_bytes + c->other_bytes_per_token) +
	       (double)c->kv_bytes_per_position * qvk_positions_read(pos0, n) / n;
}

double qvk_llm_decode_ops_per_token(const struct qvk_llm_cost *c,
				    uint32_t pos0, uint32_t n)
{
	if (!n)
		return 0;
	return c->matmul_ops_per_token +
	       c->attention_ops_per_position * qvk_positions_read(pos0, n) / n;
}

double qvk_llm_prefill_ops(const struct qvk_llm_cost *c, uint32_t n)
{
	if (!n)
		return 0;
	return (double)n * (c->matmul_ops_per_token - c->classifier_ops) +
	       c->classifier_ops +
	       c->attention_ops_per_position * qvk_positions_read(0, n);
}

double qvk_llm_prefill_bytes(const struct qvk_llm_cost *c, uint32_t n)
{
	uint32_t batches = c->max_batch ? (n + c->max_batch - 1) / c->max_batch : 1;

	if (!n)
		return 0;
	/* The classifier runs once, on the last token. */
	return (double)batches * (c->weight_bytes - c->classifier_bytes) +
	       (double)c->classifier_bytes +
	       (double)n * c->other_bytes_per_token +
	       (double)c->kv_bytes_per_position * qvk_positions_read(0, n);
}
