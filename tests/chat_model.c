/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/model.h>

#include "chat_model.h"
#include "harness.h"

#define CM_DIM 64
#define CM_HIDDEN 128
#define CM_LAYERS 2
#define CM_HEADS 4
#define CM_KV_HEADS 2
#define CM_HEAD_DIM (CM_DIM / CM_HEADS)
#define CM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One tensor of the file: its data lives until the writer has written. */
struct cm_tensor {
	struct qvk_host_tensor t;
	void *data;
};

static void cm_add(struct qvk_gguf_writer *w, struct cm_tensor *ct,
		   const char *name, uint64_t rows, uint64_t cols,
		   enum qvk_ggml_type type, const float *v)
{
	size_t n = (size_t)(rows * cols), es = type == QVK_GGML_TYPE_F16 ? 2 : 4;

	memset(ct, 0, sizeof(*ct));
	snprintf(ct->t.name, sizeof(ct->t.name), "%s", name);
	ct->t.type = type;
	ct->t.n_dims = rows > 1 ? 2 : 1;
	ct->t.ne[0] = cols;
	ct->t.ne[1] = rows;
	ct->t.ne[2] = ct->t.ne[3] = 1;
	ct->data = malloc(n * es);
	ck_assert_ptr_nonnull(ct->data);
	if (type == QVK_GGML_TYPE_F16)
		qvk_fp16_from_f32_n(ct->data, v, n);
	else
		memcpy(ct->data, v, n * es);
	ct->t.data = ct->data;
	ct->t.size_bytes = n * es;
	ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &ct->t), QVK_OK);
}

/* @n values: @scale times standard normal, or zero. */
static float *cm_values(size_t n, float scale, uint64_t *rng)
{
	float *v = calloc(n, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; scale != 0 && i < n; i++)
		v[i] = scale * qvk_test_normal(rng);
	return v;
}

void qvk_test_write_chat_model(const char *vocab_path, const char *path,
			       uint32_t seq_len,
			       const struct qvk_test_chat_plan *plan,
			       uint64_t seed)
{
	static const struct {
		const char *name;
		uint32_t rows, cols;
		float scale;
	} layer[] = {
		{ "attn_norm", 1, CM_DIM, 0 },
		{ "attn_q", CM_HEADS * CM_HEAD_DIM, CM_DIM, 0.2f },
		{ "attn_k", CM_KV_HEADS * CM_HEAD_DIM, CM_DIM, 0.2f },
		{ "attn_v", CM_KV_HEADS * CM_HEAD_DIM, CM_DIM, 0.2f },
		{ "attn_output", CM_DIM, CM_HEADS * CM_HEAD_DIM, 0 },
		{ "ffn_norm", 1, CM_DIM, 0 },
		{ "ffn_gate", CM_HIDDEN, CM_DIM, 0.2f },
		{ "ffn_down", CM_DIM, CM_HIDDEN, 0 },
		{ "ffn_up", CM_HIDDEN, CM_DIM, 0.2f },
	};
	struct qvk_model_params hp = {
		.dim = CM_DIM, .hidden_dim = CM_HIDDEN, .n_layers = CM_LAYERS,
		.n_heads = CM_HEADS, .n_kv_heads = CM_KV_HEADS,
		.head_dim = CM_HEAD_DIM, .seq_len = seq_len,
		.rope_theta = 10000.0f, .rope_freq_scale = 1.0f,
		.norm_eps = 1e-5f,
	};
	enum { N_TENSORS = 3 + CM_LAYERS * 9 };
	struct cm_tensor *ts = calloc(N_TENSORS, sizeof(*ts));
	struct qvk_gguf_writer *w;
	struct qvk_gguf *vocab;
	uint64_t rng = seed;
	uint32_t n_vocab, k = 0;
	float *v;
	char name[64];

	ck_assert_ptr_nonnull(ts);
	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, vocab_path, &vocab), QVK_OK);
	n_vocab = (uint32_t)qvk_gguf_find(vocab, "tokenizer.ggml.tokens")->count;
	hp.vocab_size = n_vocab;
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_model_params_to_gguf(&hp, w), QVK_OK);
	for (uint64_t i = 0; i < qvk_gguf_kv_count(vocab); i++) {
		const struct qvk_gguf_kv *kv = qvk_gguf_kv_at(vocab, i);

		if ((kv->key.len > 10 && !memcmp(kv->key.ptr, "tokenizer.", 10)) ||
		    (kv->key.len == 12 && !memcmp(kv->key.ptr, "general.name", 12)))
			ck_assert_int_eq(qvk_gguf_writer_copy_kv(w, kv), QVK_OK);
	}

	/* embeddings: random, but one-hot classes 0, 1, 2 for the chain */
	v = cm_values((size_t)n_vocab * CM_DIM, 0.3f, &rng);
	memset(v + (size_t)plan->first * CM_DIM, 0, CM_DIM * sizeof(*v));
	memset(v + (size_t)plan->reply[0] * CM_DIM, 0, CM_DIM * sizeof(*v));
	memset(v + (size_t)plan->reply[1] * CM_DIM, 0, CM_DIM * sizeof(*v));
	v[(size_t)plan->first * CM_DIM + 0] = 1;
	v[(size_t)plan->reply[0] * CM_DIM + 1] = 1;
	v[(size_t)plan->reply[1] * CM_DIM + 2] = 1;
	cm_add(w, &ts[k++], "token_embd.weight", n_vocab, CM_DIM,
	       QVK_GGML_TYPE_F16, v);
	free(v);
	for (uint32_t l = 0; l < CM_LAYERS; l++)
		for (size_t j = 0; j < CM_ARRAY_SIZE(layer); j++) {
			v = cm_values((size_t)layer[j].rows * layer[j].cols,
				      layer[j].scale, &rng);
			if (layer[j].rows == 1) /* norms: ones */
				for (uint32_t i = 0; i < layer[j].cols; i++)
					v[i] = 1;
			snprintf(name, sizeof(name), "blk.%u.%s.weight", l,
				 layer[j].name);
			cm_add(w, &ts[k++], name, layer[j].rows, layer[j].cols,
			       QVK_GGML_TYPE_F32, v);
			free(v);
		}
	v = cm_values(CM_DIM, 0, &rng);
	for (uint32_t i = 0; i < CM_DIM; i++)
		v[i] = 1;
	cm_add(w, &ts[k++], "output_norm.weight", 1, CM_DIM, QVK_GGML_TYPE_F32, v);
	free(v);
	/* class c of the current token gives logit 80 to the row with 10 at c */
	v = cm_values((size_t)n_vocab * CM_DIM, 0.05f, &rng);
	memset(v + (size_t)plan->reply[0] * CM_DIM, 0, CM_DIM * sizeof(*v));
	memset(v + (size_t)plan->reply[1] * CM_DIM, 0, CM_DIM * sizeof(*v));
	memset(v + (size_t)plan->end * CM_DIM, 0, CM_DIM * sizeof(*v));
	v[(size_t)plan->reply[0] * CM_DIM + 0] = 10;
	v[(size_t)plan->reply[1] * CM_DIM + 1] = 10;
	v[(size_t)plan->end * CM_DIM + 2] = 10;
	cm_add(w, &ts[k++], "output.weight", n_vocab, CM_DIM, QVK_GGML_TYPE_F16, v);
	free(v);
	ck_assert_uint_eq(k, N_TENSORS);

	ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
	qvk_gguf_writer_destroy(w);
	qvk_gguf_close(vocab);
	for (uint32_t i = 0; i < k; i++)
		free(ts[i].data);
	free(ts);
}
