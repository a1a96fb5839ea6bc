/* SPDX-License-Identifier: MIT */
/*
 * Synthetic Llama models of real shapes for the benchmarks. Weights are
 * random codes with small fp16 scales, built directly in the tensor type
 * the loader takes as is, so a 1.1B model costs one pass of random bytes
 * and no quantization.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "synth_model.h"
#include "tool.h"

#define QVK_SYNTH_PARAMS(d, l, h, nh, kv, v, ctx, theta)                      \
	{ .dim = d, .n_layers = l, .hidden_dim = h, .n_heads = nh,             \
	  .n_kv_heads = kv, .head_dim = (d) / (nh), .vocab_size = v,           \
	  .seq_len = ctx, .rope_theta = theta, .rope_freq_scale = 1,           \
	  .norm_eps = 1e-5f }

static const struct qvk_synth_shape qvk_synth_shapes[] = {
	/* llama2.c's stories110M */
	{ "110m", QVK_SYNTH_PARAMS(768, 12, 2048, 12, 12, 32000, 1024, 10000) },
	{ "tinyllama-1.1b",
	  QVK_SYNTH_PARAMS(2048, 22, 5632, 32, 4, 32000, 2048, 10000) },
	{ "llama-2-7b",
	  QVK_SYNTH_PARAMS(4096, 32, 11008, 32, 32, 32000, 4096, 10000) },
	/*
	 * Llama 3.2 1B ties its classifier to the embedding and scales RoPE
	 * (llama3 frequency factors); here the classifier is its own tensor
	 * (the same bytes a token reads) and RoPE plain at theta 500000 (the
	 * same work).
	 */
	{ "llama-3.2-1b",
	  QVK_SYNTH_PARAMS(2048, 16, 8192, 32, 8, 128256, 131072, 500000) },
};

const char qvk_synth_shape_names[] = "110m, tinyllama-1.1b, llama-2-7b, "
				     "llama-3.2-1b";

bool qvk_synth_shape_parse(const char *text, struct qvk_synth_shape *out,
			   char *why, size_t why_len)
{
	static const char *const fields[6] = { "DIM", "LAYERS", "HIDDEN",
					       "HEADS", "KVHEADS", "VOCAB" };
	static const uint64_t max[6] = { 65536, 1024, 262144, 1024, 1024,
					 1u << 20 };
	uint64_t v[6];
	const char *p = text;

	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_synth_shapes); i++) {
		if (!strcmp(text, qvk_synth_shapes[i].name)) {
			*out = qvk_synth_shapes[i];
			return true;
		}
	}
	if (!strchr(text, ',')) {
		snprintf(why, why_len, "unknown shape '%s' (known: %s, or "
			 "DIM,LAYERS,HIDDEN,HEADS,KVHEADS,VOCAB)", text,
			 qvk_synth_shape_names);
		return false;
	}
	for (int i = 0; i < 6; i++) {
		char *end;

		if (*p < '0' || *p > '9' ||
		    (v[i] = strtoull(p, &end, 10)) < 1 || v[i] > max[i] ||
		    (i < 5 ? *end != ',' : *end != '\0')) {
			snprintf(why, why_len, "shape '%s': %s must be a number "
				 "in 1..%llu%s", text, fields[i],
				 (unsigned long long)max[i],
				 i < 5 ? " followed by ','" : " and the last field");
			return false;
		}
		p = end + 1;
	}
	/* What the kernels need: 32-blocks along K, 8 | head_dim <= 256. */
	if (v[0] % 32 || v[2] % 32 || v[0] % v[3] || v[3] % v[4] ||
	    (v[0] / v[3]) % 8 || v[0] / v[3] > 256 || v[5] < 2) {
		snprintf(why, why_len, "shape '%s': DIM and HIDDEN must be "
			 "multiples of 32, HEADS divide DIM with DIM/HEADS a "
			 "multiple of 8 up to 256, KVHEADS divide HEADS, VOCAB "
			 ">= 2", text);
		return false;
	}
	snprintf(out->name, sizeof(out->name), "%s", text);
	out->p = (struct qvk_model_params)QVK_SYNTH_PARAMS(
		(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3],
		(uint32_t)v[4], (uint32_t)v[5], 4096, 10000);
	return true;
}

enum qvk_ggml_type qvk_synth_type(enum qvk_weight_format format,
				  uint32_t group)
{
	switch (format) {
	case QVK_WEIGHTS_F32:
		return QVK_GGML_TYPE_F32;
	case QVK_WEIGHTS_Q8:
	case QVK_WEIGHTS_AUTO:
		return group == 32 ? QVK_GGML_TYPE_Q8_0 : QVK_GGML_TYPE_F16;
	case QVK_WEIGHTS_Q4:
		return group == 32 ? QVK_GGML_TYPE_Q4_0 : QVK_GGML_TYPE_F16;
	case QVK_WEIGHTS_Q4A:
		return group == 32 ? QVK_GGML_TYPE_Q4_1 : QVK_GGML_TYPE_F16;
	default:
		return QVK_GGML_TYPE_F16;
	}
}

/* Rows and columns of the seven matrices of a layer. */
static void qvk_synth_layer_shapes(const struct qvk_model_params *p,
				   uint64_t rows[7], uint64_t cols[7])
{
	uint64_t q = (uint64_t)p->n_heads * p->head_dim,
		 kv = (uint64_t)p->n_kv_heads * p->head_dim;
	const uint64_t r[7] = { q, kv, kv, p->dim, p->hidden_dim, p->dim,
				p->hidden_dim };
	const uint64_t c[7] = { p->dim, p->dim, p->dim, q, p->dim,
				p->hidden_dim, p->dim };

	memcpy(rows, r, sizeof(r));
	memcpy(cols, c, sizeof(c));
}

static uint64_t qvk_synth_tensor_bytes(enum qvk_ggml_type type, uint64_t rows,
				       uint64_t cols)
{
	uint32_t be = 1, bb = 4;

	qvk_ggml_type_block(type, &be, &bb);
	return rows * (cols / be) * bb;
}

uint64_t qvk_synth_bytes(const struct qvk_model_params *p,
			 enum qvk_ggml_type type)
{
	uint64_t rows[7], cols[7], bytes = 0;

	qvk_synth_layer_shapes(p, rows, cols);
	for (int i = 0; i < 7; i++)
		bytes += qvk_synth_tensor_bytes(type, rows[i], cols[i]);
	bytes *= p->n_layers;
	bytes += qvk_synth_tensor_bytes(type, p->vocab_size, p->dim);
	/* F32 embedding and norms. */
	return bytes + 4ull * p->dim * (p->vocab_size + 2ull * p->n_layers + 1);
}

/* The model and what it owns; qvk_synth_destroy() frees both. */
struct qvk_synth {
	struct qvk_model model;
	void **owned;
	uint32_t n_owned;
	uint64_t rng;
};

/* A (rows, cols) tensor: F32 filled with @fill, or random codes. */
static bool qvk_synth_tensor(struct qvk_synth *s, struct qvk_host_tensor *t,
			     const char *name, enum qvk_ggml_type type,
			     uint64_t rows, uint64_t cols, float fill)
{
	uint32_t be, bb;
	uint8_t *d;

	if (!qvk_ggml_type_block(type, &be, &bb))
		return false;
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	t->n_dims = 2;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->size_bytes = qvk_synth_tensor_bytes(type, rows, cols);
	d = malloc(t->size_bytes);
	if (!d)
		return false;
	s->owned[s->n_owned++] = d;
	t->data = d;
	if (type == QVK_GGML_TYPE_F32 || type == QVK_GGML_TYPE_F16) {
		for (uint64_t i = 0; i < rows * cols; i++) {
			float v = fill != 0 ? fill :
				(float)((int)(qvk_tool_rand(&s->rng) % 2001) - 1000) *
					1e-5f;

			if (type == QVK_GGML_TYPE_F32)
				((float *)d)[i] = v;
			else
				((uint16_t *)d)[i] = qvk_fp16_from_f32(v);
		}
		return true;
	}
	for (uint64_t i = 0; i + 8 <= t->size_bytes; i += 8) {
		uint64_t r = qvk_tool_rand(&s->rng);

		memcpy(d + i, &r, 8);
	}
	/* Every block's fp16 scale (and min) finite and small. */
	for (uint64_t b = 0; b < t->size_bytes / bb; b++) {
		uint16_t h = qvk_fp16_from_f32(0.002f);

		memcpy(d + b * bb, &h, 2);
		if (type == QVK_GGML_TYPE_Q4_1) {
			h = qvk_fp16_from_f32(-0.01f);
			memcpy(d + b * bb + 2, &h, 2);
		}
	}
	return true;
}

struct qvk_model *qvk_synth_create(const struct qvk_model_params *p,
				   enum qvk_ggml_type type, uint64_t seed)
{
	static const char *const what[7] = { "attn_q", "attn_k", "attn_v",
					     "attn_output", "ffn_gate",
					     "ffn_down", "ffn_up" };
	struct qvk_synth *s = calloc(1, sizeof(*s));
	struct qvk_model *m;
	uint64_t rows[7], cols[7];
	char name[64];
	bool ok;

	if (!s)
		return NULL;
	m = &s->model;
	s->rng = seed;
	s->owned = calloc(9 * (size_t)p->n_layers + 3, sizeof(*s->owned));
	m->layers = calloc(p->n_layers, sizeof(*m->layers));
	if (!s->owned || !m->layers) {
		qvk_synth_destroy(m);
		return NULL;
	}
	m->format = QVK_MODEL_GGUF;
	m->params = *p;
	qvk_synth_layer_shapes(p, rows, cols);
	ok = qvk_synth_tensor(s, &m->tok_embd, "token_embd.weight",
			      QVK_GGML_TYPE_F32, p->vocab_size, p->dim, 0) &&
	     qvk_synth_tensor(s, &m->output_norm, "output_norm.weight",
			      QVK_GGML_TYPE_F32, 1, p->dim, 1) &&
	     qvk_synth_tensor(s, &m->output, "output.weight", type,
			      p->vocab_size, p->dim, 0);
	for (uint32_t l = 0; ok && l < p->n_layers; l++) {
		struct qvk_layer_weights *L = &m->layers[l];
		struct qvk_host_tensor *lin[7] = { &L->wq, &L->wk, &L->wv,
						   &L->wo, &L->w1, &L->w2,
						   &L->w3 };

		snprintf(name, sizeof(name), "blk.%u.attn_norm.weight", l);
		ok = qvk_synth_tensor(s, &L->attn_norm, name, QVK_GGML_TYPE_F32,
				      1, p->dim, 1);
		snprintf(name, sizeof(name), "blk.%u.ffn_norm.weight", l);
		ok = ok && qvk_synth_tensor(s, &L->ffn_norm, name,
					    QVK_GGML_TYPE_F32, 1, p->dim, 1);
		for (int i = 0; ok && i < 7; i++) {
			snprintf(name, sizeof(name), "blk.%u.%s.weight", l,
				 what[i]);
			ok = qvk_synth_tensor(s, lin[i], name, type, rows[i],
					      cols[i], 0);
		}
	}
	/* Norms are 1-D. */
	for (uint32_t l = 0; ok && l < p->n_layers; l++)
		m->layers[l].attn_norm.n_dims = m->layers[l].ffn_norm.n_dims = 1;
	m->output_norm.n_dims = 1;
	if (!ok) {
		qvk_synth_destroy(m);
		return NULL;
	}
	return m;
}

void qvk_synth_destroy(struct qvk_model *m)
{
	/* The model is the first member of its qvk_synth. */
	struct qvk_synth *s = (struct qvk_synth *)m;

	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
	free(s->owned);
	free(s->model.layers);
	free(s);
}

qvk_status qvk_synth_save(struct qvk_ctx *ctx, const struct qvk_model *m,
			  const struct qvk_tokenizer *tok, const char *path)
{
	struct qvk_gguf_writer *w;
	qvk_status st = qvk_gguf_writer_create(ctx, &w);

	if (st != QVK_OK)
		return st;
	if ((st = qvk_model_to_gguf(m, w)) == QVK_OK &&
	    (st = qvk_gguf_writer_set_str(w, "general.name",
					  "qvk synthetic (random weights)")) ==
		    QVK_OK &&
	    (st = qvk_tokenizer_to_gguf(tok, w)) == QVK_OK)
		st = qvk_gguf_writer_write(w, path);
	qvk_gguf_writer_destroy(w);
	return st;
}
