/* SPDX-License-Identifier: MIT */
/*
 * The host model's tensors as one list (the order GGUF export and the
 * quantizer walk), its parameter and byte counts, and the export of llama
 * models back to GGUF (what `qvk quantize` writes).
 */
#include "model_internal.h"

uint32_t qvk_model_tensor_count(const struct qvk_model *m)
{
	return 2 + 9 * m->params.n_layers + !m->params.shared_classifier;
}

const struct qvk_host_tensor *qvk_model_tensor_at(const struct qvk_model *m,
						  uint32_t index)
{
	uint32_t n_layer_tensors = 9 * m->params.n_layers;

	if (index == 0)
		return &m->tok_embd;
	index--;
	if (index < n_layer_tensors) {
		const struct qvk_layer_weights *lw = &m->layers[index / 9];
		const struct qvk_host_tensor *order[9] = {
			&lw->attn_norm, &lw->wq, &lw->wk, &lw->wv, &lw->wo,
			&lw->ffn_norm, &lw->w1, &lw->w2, &lw->w3,
		};

		return order[index % 9];
	}
	index -= n_layer_tensors;
	if (index == 0)
		return &m->output_norm;
	if (index == 1 && !m->params.shared_classifier)
		return &m->output;
	return NULL;
}

/*
 * Biases, q/k norms and the output bias (the tensors outside the
 * enumeration) one by one into @fn; the count of those present.
 */
static uint32_t qvk_model_each_extra(const struct qvk_model *m,
				     void (*fn)(const struct qvk_host_tensor *,
						uint64_t *),
				     uint64_t *acc)
{
	uint32_t n = 0;

	for (uint32_t l = 0; l < m->params.n_layers; l++) {
		const struct qvk_layer_weights *L = &m->layers[l];
		const struct qvk_host_tensor *t[] = {
			&L->bq, &L->bk, &L->bv, &L->bo, &L->b1, &L->b2, &L->b3,
			&L->q_norm, &L->k_norm,
		};

		for (size_t i = 0; i < QVK_ARRAY_SIZE(t); i++)
			if (t[i]->data) {
				fn(t[i], acc);
				n++;
			}
	}
	if (m->output_b.data) {
		fn(&m->output_b, acc);
		n++;
	}
	return n;
}

static void qvk_add_elems(const struct qvk_host_tensor *t, uint64_t *acc)
{
	*acc += t->ne[0] * qvk_host_tensor_rows(t);
}

static void qvk_add_bytes(const struct qvk_host_tensor *t, uint64_t *acc)
{
	*acc += t->size_bytes;
}

static void qvk_add_none(const struct qvk_host_tensor *t, uint64_t *acc)
{
	(void)t;
	(void)acc;
}

/* RoPE factors: rope_dims/2 floats per table. */
static uint64_t qvk_model_factor_elems(const struct qvk_model *m)
{
	return (uint64_t)qvk_model_rope_dims(&m->params) / 2 *
	       (!!m->rope_factors + !!m->rope_factors_long);
}

uint64_t qvk_model_param_count(const struct qvk_model *m)
{
	uint64_t n = qvk_model_factor_elems(m);

	for (uint32_t i = 0; i < qvk_model_tensor_count(m); i++) {
		const struct qvk_host_tensor *t = qvk_model_tensor_at(m, i);

		n += t->ne[0] * qvk_host_tensor_rows(t);
	}
	qvk_model_each_extra(m, qvk_add_elems, &n);
	return n;
}

uint64_t qvk_model_weight_bytes(const struct qvk_model *m)
{
	uint64_t n = 4 * qvk_model_factor_elems(m);

	for (uint32_t i = 0; i < qvk_model_tensor_count(m); i++)
		n += qvk_model_tensor_at(m, i)->size_bytes;
	qvk_model_each_extra(m, qvk_add_bytes, &n);
	return n;
}

qvk_status qvk_model_check_llama_export(struct qvk_ctx *ctx,
					const struct qvk_model *m)
{
	const struct qvk_model_params *hp = &m->params;
	uint64_t unused = 0;
	uint32_t extras = qvk_model_each_extra(m, qvk_add_none, &unused);

	if (hp->arch != QVK_ARCH_LLAMA || hp->rope_neox || extras ||
	    m->fused_views || m->rope_factors_long ||
	    qvk_model_rope_mscale(hp) != 1.0f)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF export: a %s model%s%s%s%s cannot be "
				 "written: qvk writes llama models without "
				 "biases, q/k norms, fused tensors or LongRoPE",
				 qvk_arch_name(hp->arch),
				 extras ? " with biases or q/k norms" : "",
				 m->fused_views ? " with fused tensors" : "",
				 m->rope_factors_long ||
					 qvk_model_rope_mscale(hp) != 1.0f ?
					 " with LongRoPE" : "",
				 hp->rope_neox && hp->arch == QVK_ARCH_LLAMA ?
					 " with NeoX RoPE" : "");
	return QVK_OK;
}

qvk_status qvk_model_params_to_gguf(const struct qvk_model_params *hp,
				    struct qvk_gguf_writer *w)
{
	qvk_status st;

	if (hp->arch != QVK_ARCH_LLAMA || hp->rope_neox)
		return qvk_error(qvk_gguf_writer_ctx(w), QVK_ERR_UNSUPPORTED,
				 "GGUF export: %s hyper-parameters (qvk writes "
				 "llama ones)", qvk_arch_name(hp->arch));
	if ((st = qvk_gguf_writer_set_str(w, "general.architecture", "llama")) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.context_length",
					  hp->seq_len)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.embedding_length",
					  hp->dim)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.feed_forward_length",
					  hp->hidden_dim)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.block_count",
					  hp->n_layers)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.attention.head_count",
					  hp->n_heads)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.attention.head_count_kv",
					  hp->n_kv_heads)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.rope.dimension_count",
					  qvk_model_rope_dims(hp))) ||
	    (st = qvk_gguf_writer_set_f32(w, "llama.rope.freq_base",
					  hp->rope_theta)) ||
	    (st = qvk_gguf_writer_set_f32(w,
			"llama.attention.layer_norm_rms_epsilon", hp->norm_eps)) ||
	    (st = qvk_gguf_writer_set_u32(w, "llama.vocab_size",
					  hp->vocab_size)))
		return st;
	if (hp->head_dim * hp->n_heads != hp->dim &&
	    ((st = qvk_gguf_writer_set_u32(w, "llama.attention.key_length",
					   hp->head_dim)) ||
	     (st = qvk_gguf_writer_set_u32(w, "llama.attention.value_length",
					   hp->head_dim))))
		return st;
	if (hp->rope_freq_scale != 1.0f &&
	    ((st = qvk_gguf_writer_set_str(w, "llama.rope.scaling.type",
					   "linear")) ||
	     (st = qvk_gguf_writer_set_f32(w, "llama.rope.scaling.factor",
					   1.0f / hp->rope_freq_scale))))
		return st;
	return QVK_OK;
}

qvk_status qvk_model_to_gguf(const struct qvk_model *m,
			     struct qvk_gguf_writer *w)
{
	uint32_t n = qvk_model_tensor_count(m), ftype;
	int matrix_type = -1;
	bool mixed = false;
	qvk_status st = qvk_model_check_llama_export(qvk_gguf_writer_ctx(w), m);

	if (st == QVK_OK)
		st = qvk_model_params_to_gguf(&m->params, w);
	if (st)
		return st;
	for (uint32_t i = 0; i < n; i++) {
		const struct qvk_host_tensor *t = qvk_model_tensor_at(m, i);

		if (t->n_dims == 2) { /* matrices decide the file type */
			if (matrix_type < 0)
				matrix_type = (int)t->type;
			else if (matrix_type != (int)t->type)
				mixed = true;
		}
		if ((st = qvk_gguf_writer_add_tensor(w, t)))
			return st;
	}
	if (m->rope_factors) { /* Llama 3's factors, as its converter stores them */
		struct qvk_host_tensor f = {
			.name = "rope_freqs.weight", .type = QVK_GGML_TYPE_F32,
			.n_dims = 1, .ne = { qvk_model_rope_dims(&m->params) / 2,
					     1, 1, 1 },
			.data = m->rope_factors,
		};

		f.size_bytes = 4 * f.ne[0];
		if ((st = qvk_gguf_writer_add_tensor(w, &f)))
			return st;
	}
	/*
	 * general.file_type (llama.cpp's llama_ftype) when every matrix has
	 * one type: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3,
	 * MOSTLY_Q8_0 7. Mixed files leave it to the caller.
	 */
	if (mixed || matrix_type < 0)
		return QVK_OK;
	switch (matrix_type) {
	case QVK_GGML_TYPE_F32: ftype = 0; break;
	case QVK_GGML_TYPE_F16: ftype = 1; break;
	case QVK_GGML_TYPE_Q4_0: ftype = 2; break;
	case QVK_GGML_TYPE_Q4_1: ftype = 3; break;
	case QVK_GGML_TYPE_Q8_0: ftype = 7; break;
	default: return QVK_OK;
	}
	return qvk_gguf_writer_set_u32(w, "general.file_type", ftype);
}
