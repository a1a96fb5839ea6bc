/* SPDX-License-Identifier: MIT */
/*
 * The host model description: the tensors of GGUF models of every
 * architecture qvk runs, by llama.cpp's names (hyper-parameters:
 * model_hparams.c), every shape checked, fused tensors split into views,
 * nothing in the file left unused, and the format detection (the tensor
 * list, counts and GGUF export: model_tensors.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_internal.h"

/*
 * Tensor lookup that remembers what was taken: a file with a tensor the
 * architecture does not use is refused, as llama.cpp refuses it, instead
 * of running a model that silently lacks it.
 */
struct qvk_tensor_take {
	struct qvk_ctx *ctx;
	const struct qvk_gguf *g;
	bool *used; /* [n_tensors] */
};

static const struct qvk_host_tensor *qvk_take(struct qvk_tensor_take *tt,
					      const char *name)
{
	for (uint64_t i = 0; i < qvk_gguf_tensor_count(tt->g); i++) {
		const struct qvk_host_tensor *t = qvk_gguf_tensor_at(tt->g, i);

		if (!strcmp(t->name, name)) {
			tt->used[i] = true;
			return t;
		}
	}
	return NULL;
}

/*
 * Check @t's shape is (rows, cols), or (cols) if rows is 0 (vectors must
 * be F32 or F16), and copy it to @out.
 */
static qvk_status qvk_model_shape(struct qvk_ctx *ctx,
				  const struct qvk_host_tensor *t,
				  uint64_t rows, uint64_t cols,
				  struct qvk_host_tensor *out)
{
	uint32_t want_dims = rows ? 2 : 1;

	if (t->n_dims != want_dims || t->ne[0] != cols ||
	    (rows && t->ne[1] != rows))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s' has shape [%llu, %llu] "
				 "(%u dims), expected [%llu, %llu] (ne[0] = in)",
				 t->name, (unsigned long long)t->ne[0],
				 (unsigned long long)t->ne[1], t->n_dims,
				 (unsigned long long)cols,
				 (unsigned long long)(rows ? rows : 1));
	if (!rows && qvk_type_info(t->type)->quantized)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: vector tensor '%s' is %s (F32, F16 or "
				 "BF16 only)", t->name, qvk_ggml_type_name(t->type));
	*out = *t;
	return QVK_OK;
}

/* Tensor @name of that shape: required, or left absent if @optional. */
static qvk_status qvk_model_tensor(struct qvk_tensor_take *tt,
				   const char *name, uint64_t rows,
				   uint64_t cols, bool optional,
				   struct qvk_host_tensor *out)
{
	const struct qvk_host_tensor *t = qvk_take(tt, name);

	if (!t)
		return optional ? QVK_OK :
				  qvk_error(tt->ctx, QVK_ERR_FORMAT,
					    "GGUF: tensor '%s' is missing", name);
	return qvk_model_shape(tt->ctx, t, rows, cols, out);
}

/*
 * Rows [row0, row0 + rows) of the matrix or vector @t as a tensor of its
 * own (a fused attn_qkv or gate|up split into its parts): row-major data,
 * so quantized rows are sliced whole and stay valid blocks.
 */
static qvk_status qvk_model_rows(struct qvk_ctx *ctx,
				 const struct qvk_host_tensor *t,
				 uint64_t row0, uint64_t rows,
				 struct qvk_host_tensor *out)
{
	bool vec = t->n_dims == 1;
	uint64_t total = vec ? t->ne[0] : t->ne[1], elems = vec ? 1 : t->ne[0];
	uint64_t unit = total ? t->size_bytes / total : 0;
	uint64_t ne[2] = { vec ? rows : t->ne[0], rows }, size;

	/* Vectors: elements of F32/F16; matrices: rows of one size. */
	if (!qvk_ggml_tensor_size(t->type, vec ? 1 : 2, ne, &size) ||
	    unit * total != t->size_bytes || size != unit * rows ||
	    row0 + rows > total || !elems)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s' (%s) cannot be split into "
				 "parts of %llu rows", t->name,
				 qvk_ggml_type_name(t->type),
				 (unsigned long long)rows);
	*out = *t;
	out->data = (const uint8_t *)t->data + row0 * unit;
	out->size_bytes = size;
	if (vec)
		out->ne[0] = rows;
	else
		out->ne[1] = rows;
	return QVK_OK;
}

/* Split fused @t (parts of @rows[0..n) rows, in order) into @out[i]. */
static qvk_status qvk_model_split(struct qvk_ctx *ctx,
				  const struct qvk_host_tensor *t,
				  const uint64_t *rows, uint32_t n,
				  struct qvk_host_tensor *const *out)
{
	uint64_t row0 = 0;
	qvk_status st = QVK_OK;

	for (uint32_t i = 0; st == QVK_OK && i < n; i++) {
		st = qvk_model_rows(ctx, t, row0, rows[i], out[i]);
		row0 += rows[i];
	}
	return st;
}

/* attn_qkv fused or q, k, v apart, each with an optional bias. */
static qvk_status qvk_model_qkv(struct qvk_tensor_take *tt, uint32_t l,
				struct qvk_model *m)
{
	const struct qvk_model_params *hp = &m->params;
	struct qvk_layer_weights *L = &m->layers[l];
	uint64_t dim = hp->dim, rows[3] = {
		(uint64_t)hp->n_heads * hp->head_dim,
		(uint64_t)hp->n_kv_heads * hp->head_dim,
		(uint64_t)hp->n_kv_heads * hp->head_dim,
	};
	struct qvk_host_tensor *w[3] = { &L->wq, &L->wk, &L->wv };
	struct qvk_host_tensor *b[3] = { &L->bq, &L->bk, &L->bv };
	static const char *const part[3] = { "attn_q", "attn_k", "attn_v" };
	struct qvk_host_tensor fused = { 0 };
	char name[QVK_TENSOR_NAME_MAX];
	qvk_status st;

	snprintf(name, sizeof(name), "blk.%u.attn_qkv.weight", l);
	if ((st = qvk_model_tensor(tt, name, rows[0] + rows[1] + rows[2], dim,
				   true, &fused)))
		return st;
	if (fused.data) {
		m->fused_views = true;
		if ((st = qvk_model_split(tt->ctx, &fused, rows, 3, w)))
			return st;
		snprintf(name, sizeof(name), "blk.%u.attn_qkv.bias", l);
		memset(&fused, 0, sizeof(fused));
		if ((st = qvk_model_tensor(tt, name, 0,
					   rows[0] + rows[1] + rows[2], true,
					   &fused)))
			return st;
		return fused.data ? qvk_model_split(tt->ctx, &fused, rows, 3, b) :
				    QVK_OK;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "blk.%u.%s.weight", l, part[i]);
		if ((st = qvk_model_tensor(tt, name, rows[i], dim, false, w[i])))
			return st;
		snprintf(name, sizeof(name), "blk.%u.%s.bias", l, part[i]);
		if ((st = qvk_model_tensor(tt, name, 0, rows[i], true, b[i])))
			return st;
	}
	return QVK_OK;
}

/* Gate and up apart, or Phi-3's ffn_up of 2*hidden rows: gate, then up. */
static qvk_status qvk_model_gate_up(struct qvk_tensor_take *tt, uint32_t l,
				    struct qvk_model *m)
{
	const struct qvk_model_params *hp = &m->params;
	struct qvk_layer_weights *L = &m->layers[l];
	uint64_t hid = hp->hidden_dim, halves[2] = { hid, hid };
	struct qvk_host_tensor fused = { 0 };
	char name[QVK_TENSOR_NAME_MAX];
	qvk_status st;

	snprintf(name, sizeof(name), "blk.%u.ffn_gate.weight", l);
	if ((st = qvk_model_tensor(tt, name, hid, hp->dim, true, &L->w1)))
		return st;
	if (L->w1.data) {
		snprintf(name, sizeof(name), "blk.%u.ffn_up.weight", l);
		if ((st = qvk_model_tensor(tt, name, hid, hp->dim, false,
					   &L->w3)))
			return st;
		snprintf(name, sizeof(name), "blk.%u.ffn_gate.bias", l);
		if ((st = qvk_model_tensor(tt, name, 0, hid, true, &L->b1)))
			return st;
		snprintf(name, sizeof(name), "blk.%u.ffn_up.bias", l);
		return qvk_model_tensor(tt, name, 0, hid, true, &L->b3);
	}
	/* ggml_swiglu: silu(first half) * second half. */
	snprintf(name, sizeof(name), "blk.%u.ffn_up.weight", l);
	if ((st = qvk_model_tensor(tt, name, 2 * hid, hp->dim, false, &fused)) ||
	    (st = qvk_model_split(tt->ctx, &fused, halves, 2,
				  (struct qvk_host_tensor *[]){ &L->w1, &L->w3 })))
		return st;
	m->fused_views = true;
	snprintf(name, sizeof(name), "blk.%u.ffn_up.bias", l);
	memset(&fused, 0, sizeof(fused));
	if ((st = qvk_model_tensor(tt, name, 0, 2 * hid, true, &fused)))
		return st;
	return fused.data ?
		       qvk_model_split(tt->ctx, &fused, halves, 2,
				       (struct qvk_host_tensor *[]){ &L->b1, &L->b3 }) :
		       QVK_OK;
}

static qvk_status qvk_model_layer(struct qvk_tensor_take *tt, uint32_t l,
				  struct qvk_model *m)
{
	const struct qvk_model_params *hp = &m->params;
	struct qvk_layer_weights *L = &m->layers[l];
	uint64_t dim = hp->dim, q = (uint64_t)hp->n_heads * hp->head_dim;
	bool qk_norm = hp->arch == QVK_ARCH_QWEN3;
	const struct {
		const char *name;
		struct qvk_host_tensor *t;
		uint64_t rows, cols;
		bool optional;
	} spec[] = {
		{ "attn_norm.weight", &L->attn_norm, 0, dim, false },
		{ "attn_output.weight", &L->wo, dim, q, false },
		{ "attn_output.bias", &L->bo, 0, dim, true },
		/* required by Qwen3, applied wherever a file has them */
		{ "attn_q_norm.weight", &L->q_norm, 0, hp->head_dim, !qk_norm },
		{ "attn_k_norm.weight", &L->k_norm, 0, hp->head_dim, !qk_norm },
		{ "ffn_norm.weight", &L->ffn_norm, 0, dim, false },
		{ "ffn_down.weight", &L->w2, dim, hp->hidden_dim, false },
		{ "ffn_down.bias", &L->b2, 0, dim, true },
	};
	char name[QVK_TENSOR_NAME_MAX];
	qvk_status st;

	for (size_t i = 0; i < QVK_ARRAY_SIZE(spec); i++) {
		snprintf(name, sizeof(name), "blk.%u.%s", l, spec[i].name);
		if ((st = qvk_model_tensor(tt, name, spec[i].rows, spec[i].cols,
					   spec[i].optional, spec[i].t)))
			return st;
	}
	if ((st = qvk_model_qkv(tt, l, m)))
		return st;
	return qvk_model_gate_up(tt, l, m);
}

/* The model's RoPE factor tensors (rope_dims/2 each), all optional. */
static qvk_status qvk_model_rope_tensors(struct qvk_tensor_take *tt,
					 struct qvk_model *m,
					 const struct qvk_rope_scaling *rs)
{
	const struct qvk_host_tensor *freqs = qvk_take(tt, "rope_freqs.weight");
	const struct qvk_host_tensor *f_short =
		qvk_take(tt, "rope_factors_short.weight");
	const struct qvk_host_tensor *f_long =
		qvk_take(tt, "rope_factors_long.weight");

	return qvk_model_rope_setup(tt->ctx, m, rs, freqs, f_short, f_long);
}

static qvk_status qvk_model_gguf_tensors(struct qvk_tensor_take *tt,
					 struct qvk_model *m,
					 const struct qvk_rope_scaling *rs)
{
	struct qvk_model_params *hp = &m->params;
	const struct qvk_host_tensor *emb = qvk_take(tt, "token_embd.weight");
	uint32_t vocab_meta;
	char key[96];
	qvk_status st;

	if (!emb || emb->n_dims != 2 || emb->ne[1] > (1u << 24))
		return qvk_error(tt->ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor 'token_embd.weight' is missing or "
				 "not (vocab <= 2^24, dim)");
	hp->vocab_size = (uint32_t)emb->ne[1];
	snprintf(key, sizeof(key), "%s.vocab_size", qvk_arch_name(hp->arch));
	st = qvk_gguf_get_u32(tt->ctx, tt->g, key, &vocab_meta);
	if (st == QVK_OK && vocab_meta != hp->vocab_size)
		return qvk_error(tt->ctx, QVK_ERR_FORMAT,
				 "GGUF: %s %u but token_embd has %u rows", key,
				 vocab_meta, hp->vocab_size);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	if ((st = qvk_model_shape(tt->ctx, emb, hp->vocab_size, hp->dim,
				  &m->tok_embd)) ||
	    (st = qvk_model_tensor(tt, "output_norm.weight", 0, hp->dim, false,
				   &m->output_norm)) ||
	    (st = qvk_model_tensor(tt, "output.weight", hp->vocab_size,
				   hp->dim, true, &m->output)) ||
	    (st = qvk_model_tensor(tt, "output.bias", 0, hp->vocab_size, true,
				   &m->output_b)))
		return st;
	hp->shared_classifier = !m->output.data;
	if (hp->shared_classifier)
		m->output = m->tok_embd;
	for (uint32_t l = 0; l < hp->n_layers; l++)
		if ((st = qvk_model_layer(tt, l, m)))
			return st;
	if ((st = qvk_model_rope_tensors(tt, m, rs)))
		return st;
	for (uint64_t i = 0; i < qvk_gguf_tensor_count(tt->g); i++)
		if (!tt->used[i])
			return qvk_error(tt->ctx, QVK_ERR_UNSUPPORTED,
					 "GGUF: tensor '%s' is not part of a %s "
					 "model as qvk runs it",
					 qvk_gguf_tensor_at(tt->g, i)->name,
					 qvk_arch_name(hp->arch));
	return QVK_OK;
}

qvk_status qvk_model_from_gguf(struct qvk_ctx *ctx, struct qvk_gguf *g,
			       struct qvk_model **out)
{
	struct qvk_tensor_take tt = { ctx, g, NULL };
	struct qvk_rope_scaling rs;
	struct qvk_model *m;
	qvk_status st;

	if (!out || !g)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "model: no GGUF");
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		qvk_gguf_close(g);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "model");
	}
	m->format = QVK_MODEL_GGUF;
	m->gguf = g;
	if ((st = qvk_model_gguf_params(ctx, g, &m->params, &rs)))
		goto out_destroy;
	/* each block has at least 6 tensors: refuse before allocating per block */
	if (m->params.n_layers > qvk_gguf_tensor_count(g) / 6) {
		st = qvk_error(ctx, QVK_ERR_FORMAT,
			       "GGUF: %s.block_count %u needs %llu tensors, "
			       "the file has %llu",
			       qvk_arch_name(m->params.arch), m->params.n_layers,
			       6ull * m->params.n_layers,
			       (unsigned long long)qvk_gguf_tensor_count(g));
		goto out_destroy;
	}
	m->layers = calloc(m->params.n_layers, sizeof(*m->layers));
	tt.used = calloc(qvk_gguf_tensor_count(g) + 1, sizeof(*tt.used));
	if (!m->layers || !tt.used) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "model layers");
		goto out_destroy;
	}
	if ((st = qvk_model_gguf_tensors(&tt, m, &rs)))
		goto out_destroy;
	free(tt.used);
	*out = m;
	return QVK_OK;

out_destroy:
	free(tt.used);
	qvk_model_destroy(m);
	return st;
}

qvk_status qvk_model_load_gguf(struct qvk_ctx *ctx, const char *path,
			       struct qvk_model **out)
{
	struct qvk_gguf *g;
	qvk_status st;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "model: no output");
	*out = NULL;
	if ((st = qvk_gguf_open(ctx, path, &g)))
		return st;
	st = qvk_model_from_gguf(ctx, g, out);
	if (st && ctx) { /* name the file in front of the detail */
		char detail[QVK_MESSAGE_MAX];

		snprintf(detail, sizeof(detail), "%s", qvk_ctx_message(ctx));
		qvk_error(ctx, st, "%s: %s", path, detail);
	}
	return st;
}

qvk_status qvk_model_load(struct qvk_ctx *ctx, const char *path,
			  struct qvk_model **out)
{
	unsigned char magic[4] = { 0 };
	struct stat sb;
	FILE *f;

	if (!out || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "model: no path");
	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return qvk_error(ctx, QVK_ERR_IO, "%s: cannot open: %s", path,
				 strerror(errno));
	/* fopen() opens a folder too; only reading it fails. */
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: is a folder, "
				 "not a model file", path);
	}
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic)) {
		fclose(f);
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: too short to be a model (under 4 bytes)",
				 path);
	}
	fclose(f);
	if (!memcmp(magic, "GGUF", 4))
		return qvk_model_load_gguf(ctx, path, out);
	return qvk_model_load_llama2c(ctx, path, out);
}

void qvk_model_destroy(struct qvk_model *m)
{
	if (!m)
		return;
	free(m->layers);
	free(m->rope_storage);
	qvk_gguf_close(m->gguf);
	qvk_unmap_file(m->map, m->map_size_bytes);
	free(m);
}
