/* SPDX-License-Identifier: MIT */
/*
 * llama2.c checkpoints, the legacy format run.c reads:
 *
 *   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *   (vocab_size < 0: the classifier is not shared and follows at the end),
 *   then float32 tensors, row-major (out, in):
 *   tok_embd (vocab, dim), rms_att (layers, dim), wq (layers, dim, dim),
 *   wk (layers, kv_dim, dim), wv (layers, kv_dim, dim), wo (layers, dim, dim),
 *   rms_ffn (layers, dim), w1 (layers, hidden, dim), w2 (layers, dim, hidden),
 *   w3 (layers, hidden, dim), rms_final (dim), freq_cis_real and
 *   freq_cis_imag (seq_len, head_size/2 each; unused: RoPE is recomputed),
 *   wcls (vocab, dim) when not shared.
 *
 * The file size must be exactly what the header implies, so a truncated or
 * padded file is refused before any weight is read. The newer export
 * versions (header magic "ak42") are refused with a clear message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define QVK_LLAMA2C_HEADER_BYTES 28
#define QVK_LLAMA2C_MAGIC 0x616b3432u /* "ak42" of export.py version >= 1 */
/* Upper bound of any one dimension: keeps every product below 2^63. */
#define QVK_LLAMA2C_DIM_MAX (1u << 20)

struct qvk_llama2c_cursor {
	const uint8_t *base;
	uint64_t pos; /* bytes used so far, checked against the file size */
};

/* The next tensor: a matrix (rows, cols), or a vector of cols when rows 0. */
static void qvk_llama2c_tensor(struct qvk_llama2c_cursor *c,
			       struct qvk_host_tensor *t, const char *name,
			       uint64_t rows, uint64_t cols)
{
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = QVK_GGML_TYPE_F32;
	t->n_dims = rows ? 2 : 1;
	t->ne[0] = cols;
	t->ne[1] = rows ? rows : 1;
	t->ne[2] = t->ne[3] = 1;
	t->data = c->base + c->pos;
	t->size_bytes = t->ne[1] * cols * sizeof(float);
	c->pos += t->size_bytes;
}

/* One tensor per layer, stacked in the file: [layers][rows][cols]. */
static void qvk_llama2c_stacked(struct qvk_llama2c_cursor *c,
				struct qvk_model *m, size_t field,
				const char *suffix, uint64_t rows, uint64_t cols)
{
	for (uint32_t l = 0; l < m->params.n_layers; l++) {
		struct qvk_host_tensor *t =
			(struct qvk_host_tensor *)((char *)&m->layers[l] + field);
		char name[QVK_TENSOR_NAME_MAX];

		snprintf(name, sizeof(name), "blk.%u.%s.weight", l, suffix);
		qvk_llama2c_tensor(c, t, name, rows, cols);
	}
}

static qvk_status qvk_llama2c_params(struct qvk_ctx *ctx, const char *path,
				     const uint8_t *p, size_t size,
				     struct qvk_model_params *hp)
{
	static const char *const names[7] = { "dim", "hidden_dim", "n_layers",
		"n_heads", "n_kv_heads", "vocab_size", "seq_len" };
	int32_t v[7];

	if (size < QVK_LLAMA2C_HEADER_BYTES)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: llama2.c header needs %d bytes, the file has "
				 "%zu", path, QVK_LLAMA2C_HEADER_BYTES, size);
	if (qvk_load_u32(p) == QVK_LLAMA2C_MAGIC)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "%s: llama2.c export version %u ('ak42' header); "
				 "qvk reads the legacy format (export.py "
				 "--version 0) and GGUF", path, qvk_load_u32(p + 4));
	for (int i = 0; i < 7; i++) {
		v[i] = (int32_t)qvk_load_u32(p + 4 * i);
		/* vocab_size may be negative: it flags an unshared classifier */
		int64_t mag = i == 5 && v[i] < 0 ? -(int64_t)v[i] : v[i];

		if (mag <= 0 || mag > QVK_LLAMA2C_DIM_MAX)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "%s: llama2.c header field %s at byte "
					 "offset %d is %d (must be 1..%u)", path,
					 names[i], 4 * i, v[i],
					 QVK_LLAMA2C_DIM_MAX);
	}
	hp->dim = (uint32_t)v[0];
	hp->hidden_dim = (uint32_t)v[1];
	hp->n_layers = (uint32_t)v[2];
	hp->n_heads = (uint32_t)v[3];
	hp->n_kv_heads = (uint32_t)v[4];
	hp->shared_classifier = v[5] > 0;
	hp->vocab_size = (uint32_t)(v[5] > 0 ? v[5] : -v[5]);
	hp->seq_len = (uint32_t)v[6];
	if (hp->dim % hp->n_heads || hp->n_heads % hp->n_kv_heads ||
	    (hp->dim / hp->n_heads) % 2)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: llama2.c header: dim %u, n_heads %u, "
				 "n_kv_heads %u (need dim %% n_heads == 0, "
				 "n_heads %% n_kv_heads == 0, even head size)",
				 path, hp->dim, hp->n_heads, hp->n_kv_heads);
	hp->head_dim = hp->dim / hp->n_heads;
	/* run.c's constants: RoPE base 10000 on interleaved pairs of the
	 * whole head, RMSNorm eps 1e-5 */
	hp->arch = QVK_ARCH_LLAMA;
	hp->rope_theta = 10000.0f;
	hp->rope_freq_scale = 1.0f;
	hp->rope_dims = hp->head_dim;
	hp->rope_attn_factor = 1.0f;
	hp->rope_orig_ctx = hp->seq_len;
	hp->norm_eps = 1e-5f;
	return QVK_OK;
}

/* Expected file size; every factor is at most 2^20, the sum stays < 2^64. */
static uint64_t qvk_llama2c_size(const struct qvk_model_params *hp)
{
	uint64_t dim = hp->dim, hid = hp->hidden_dim, l = hp->n_layers;
	uint64_t kv = (uint64_t)hp->n_kv_heads * hp->head_dim;
	uint64_t floats = (uint64_t)hp->vocab_size * dim +
			  l * (2 * dim + 2 * dim * dim + 2 * kv * dim +
			       3 * hid * dim) +
			  dim + (uint64_t)hp->seq_len * hp->head_dim;

	if (!hp->shared_classifier)
		floats += (uint64_t)hp->vocab_size * dim;
	return QVK_LLAMA2C_HEADER_BYTES + floats * sizeof(float);
}

qvk_status qvk_model_load_llama2c(struct qvk_ctx *ctx, const char *path,
				  struct qvk_model **out)
{
	struct qvk_llama2c_cursor c;
	struct qvk_model_params hp = { 0 };
	struct qvk_model *m;
	uint64_t want, dim, hid, kv;
	void *map;
	size_t size;
	qvk_status st;

	if (!out || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "llama2.c: no path");
	*out = NULL;
	if ((st = qvk_map_file(ctx, path, &map, &size)))
		return st;
	if ((st = qvk_llama2c_params(ctx, path, map, size, &hp)))
		goto out_unmap;
	want = qvk_llama2c_size(&hp);
	if (want != size) {
		st = qvk_error(ctx, QVK_ERR_FORMAT,
			       "%s: llama2.c file is %zu bytes, its header "
			       "(dim %u, hidden %u, layers %u, heads %u/%u, "
			       "vocab %u, seq_len %u) implies %llu (%s)",
			       path, size, hp.dim, hp.hidden_dim, hp.n_layers,
			       hp.n_heads, hp.n_kv_heads, hp.vocab_size,
			       hp.seq_len, (unsigned long long)want,
			       size < want ? "truncated" : "trailing bytes");
		goto out_unmap;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->layers = calloc(hp.n_layers, sizeof(*m->layers)))) {
		free(m);
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "llama2.c model");
		goto out_unmap;
	}
	m->format = QVK_MODEL_LLAMA2C;
	m->params = hp;
	m->map = map;
	m->map_size_bytes = size;

	dim = hp.dim;
	hid = hp.hidden_dim;
	kv = (uint64_t)hp.n_kv_heads * hp.head_dim;
	c.base = map;
	c.pos = QVK_LLAMA2C_HEADER_BYTES;
#define QVK_FIELD(f) offsetof(struct qvk_layer_weights, f)
	qvk_llama2c_tensor(&c, &m->tok_embd, "token_embd.weight",
			   hp.vocab_size, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(attn_norm), "attn_norm", 0, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(wq), "attn_q", dim, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(wk), "attn_k", kv, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(wv), "attn_v", kv, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(wo), "attn_output", dim, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(ffn_norm), "ffn_norm", 0, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(w1), "ffn_gate", hid, dim);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(w2), "ffn_down", dim, hid);
	qvk_llama2c_stacked(&c, m, QVK_FIELD(w3), "ffn_up", hid, dim);
#undef QVK_FIELD
	qvk_llama2c_tensor(&c, &m->output_norm, "output_norm.weight", 0, dim);
	c.pos += (uint64_t)hp.seq_len * hp.head_dim * sizeof(float);
	if (hp.shared_classifier) {
		m->output = m->tok_embd;
	} else {
		qvk_llama2c_tensor(&c, &m->output, "output.weight",
				   hp.vocab_size, dim);
	}
	*out = m;
	return QVK_OK;

out_unmap:
	qvk_unmap_file(map, size);
	return st;
}
