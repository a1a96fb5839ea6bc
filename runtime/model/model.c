/* SPDX-License-Identifier: MIT */
/*
 * The host model description: GGUF llama models (hyper-parameters from
 * llama.* metadata, tensors by llama.cpp's names, every shape checked), the
 * format detection, tensor enumeration and the export back to GGUF.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_internal.h"

/* Hyper-parameter: required unless @def is non-negative. */
static qvk_status qvk_model_hparam(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g, const char *key,
				   int64_t def, uint32_t *out)
{
	qvk_status st = qvk_gguf_get_u32(ctx, g, key, out);

	if (st == QVK_ERR_NOT_FOUND && def >= 0) {
		*out = (uint32_t)def;
		return QVK_OK;
	}
	if (st)
		return st;
	if (*out == 0 || *out > (1u << 24))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: %s at byte offset %llu is %u (must be "
				 "1..2^24)", key,
				 (unsigned long long)qvk_gguf_find(g, key)->offset,
				 *out);
	return QVK_OK;
}

static qvk_status qvk_model_fparam(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g, const char *key,
				   float def, float *out)
{
	qvk_status st = qvk_gguf_get_f32(ctx, g, key, out);

	if (st == QVK_ERR_NOT_FOUND) {
		*out = def;
		return QVK_OK;
	}
	if (st)
		return st;
	if (!(*out > 0.0f))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: %s at byte offset %llu is %g (must be > 0)",
				 key,
				 (unsigned long long)qvk_gguf_find(g, key)->offset,
				 (double)*out);
	return QVK_OK;
}

static qvk_status qvk_model_rope_scaling(struct qvk_ctx *ctx,
					 const struct qvk_gguf *g,
					 struct qvk_model_params *hp)
{
	struct qvk_gguf_str type;
	float factor;
	qvk_status st;

	hp->rope_freq_scale = 1.0f;
	if (qvk_gguf_tensor_find(g, "rope_freqs.weight"))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: per-frequency RoPE factors "
				 "(rope_freqs.weight, Llama 3.1 scaling) are not "
				 "supported");
	st = qvk_gguf_get_str(ctx, g, "llama.rope.scaling.type", &type);
	if (st == QVK_ERR_NOT_FOUND)
		return QVK_OK;
	if (st)
		return st;
	if (type.len == 4 && !memcmp(type.ptr, "none", 4))
		return QVK_OK;
	if (type.len != 6 || memcmp(type.ptr, "linear", 6))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: llama.rope.scaling.type '%.*s' is not "
				 "supported (none, linear)",
				 (int)QVK_MIN(type.len, 64), type.ptr);
	if ((st = qvk_model_fparam(ctx, g, "llama.rope.scaling.factor", 1.0f,
				   &factor)))
		return st;
	hp->rope_freq_scale = 1.0f / factor;
	return QVK_OK;
}

static qvk_status qvk_model_gguf_params(struct qvk_ctx *ctx,
					const struct qvk_gguf *g,
					struct qvk_model_params *hp)
{
	struct qvk_gguf_str arch;
	uint32_t rope_dims, v_dim;
	qvk_status st;

	if ((st = qvk_gguf_get_str(ctx, g, "general.architecture", &arch)))
		return st;
	if (arch.len != 5 || memcmp(arch.ptr, "llama", 5))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: general.architecture '%.*s' (qvk runs "
				 "'llama')", (int)QVK_MIN(arch.len, 64), arch.ptr);
	if ((st = qvk_model_hparam(ctx, g, "llama.embedding_length", -1,
				   &hp->dim)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.feed_forward_length", -1,
				   &hp->hidden_dim)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.block_count", -1,
				   &hp->n_layers)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.attention.head_count", -1,
				   &hp->n_heads)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.attention.head_count_kv",
				   hp->n_heads, &hp->n_kv_heads)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.context_length", -1,
				   &hp->seq_len)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.attention.key_length",
				   hp->dim / hp->n_heads, &hp->head_dim)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.attention.value_length",
				   hp->head_dim, &v_dim)) ||
	    (st = qvk_model_hparam(ctx, g, "llama.rope.dimension_count",
				   hp->head_dim, &rope_dims)) ||
	    (st = qvk_model_fparam(ctx, g, "llama.rope.freq_base", 10000.0f,
				   &hp->rope_theta)) ||
	    (st = qvk_model_fparam(ctx, g,
				   "llama.attention.layer_norm_rms_epsilon",
				   1e-5f, &hp->norm_eps)) ||
	    (st = qvk_model_rope_scaling(ctx, g, hp)))
		return st;
	if (hp->n_heads % hp->n_kv_heads || hp->head_dim % 2 ||
	    v_dim != hp->head_dim || rope_dims != hp->head_dim)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: heads %u, kv heads %u, key/value length "
				 "%u/%u, rope dims %u: qvk needs n_heads %% "
				 "n_kv_heads == 0 and one even head size for "
				 "keys, values and RoPE", hp->n_heads,
				 hp->n_kv_heads, hp->head_dim, v_dim, rope_dims);
	return QVK_OK;
}

/* Find tensor @name and check its shape is (rows, cols), or (cols) if
 * rows is 0. */
static qvk_status qvk_model_tensor(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g, const char *name,
				   uint64_t rows, uint64_t cols,
				   struct qvk_host_tensor *out)
{
	const struct qvk_host_tensor *t = qvk_gguf_tensor_find(g, name);
	uint32_t want_dims = rows ? 2 : 1;

	if (!t)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s' is missing", name);
	if (t->n_dims != want_dims || t->ne[0] != cols ||
	    (rows && t->ne[1] != rows))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s' has shape [%llu, %llu] "
				 "(%u dims), expected [%llu, %llu] (ne[0] = in)",
				 name, (unsigned long long)t->ne[0],
				 (unsigned long long)t->ne[1], t->n_dims,
				 (unsigned long long)cols,
				 (unsigned long long)(rows ? rows : 1));
	if (!rows && t->type != QVK_GGML_TYPE_F32 &&
	    t->type != QVK_GGML_TYPE_F16)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: norm tensor '%s' is %s (F32 or F16 only)",
				 name, qvk_ggml_type_name(t->type));
	*out = *t;
	return QVK_OK;
}

static qvk_status qvk_model_gguf_tensors(struct qvk_ctx *ctx,
					 const struct qvk_gguf *g,
					 struct qvk_model *m)
{
	struct qvk_model_params *hp = &m->params;
	uint64_t dim = hp->dim, hid = hp->hidden_dim;
	uint64_t q = (uint64_t)hp->n_heads * hp->head_dim;
	uint64_t kv = (uint64_t)hp->n_kv_heads * hp->head_dim;
	const struct qvk_host_tensor *emb = qvk_gguf_tensor_find(g,
							"token_embd.weight");
	uint32_t vocab_meta;
	char name[QVK_TENSOR_NAME_MAX];
	qvk_status st;

	if (!emb || emb->n_dims != 2 || emb->ne[1] > (1u << 24))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor 'token_embd.weight' is missing or "
				 "not (vocab <= 2^24, dim)");
	hp->vocab_size = (uint32_t)emb->ne[1];
	st = qvk_gguf_get_u32(ctx, g, "llama.vocab_size", &vocab_meta);
	if (st == QVK_OK && vocab_meta != hp->vocab_size)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: llama.vocab_size %u but token_embd has "
				 "%u rows", vocab_meta, hp->vocab_size);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	if ((st = qvk_model_tensor(ctx, g, "token_embd.weight", hp->vocab_size,
				   dim, &m->tok_embd)) ||
	    (st = qvk_model_tensor(ctx, g, "output_norm.weight", 0, dim,
				   &m->output_norm)))
		return st;
	hp->shared_classifier = !qvk_gguf_tensor_find(g, "output.weight");
	if (hp->shared_classifier)
		m->output = m->tok_embd;
	else if ((st = qvk_model_tensor(ctx, g, "output.weight",
					hp->vocab_size, dim, &m->output)))
		return st;

	for (uint32_t l = 0; l < hp->n_layers; l++) {
		static const struct {
			const char *suffix;
			size_t field;
			int rows, cols; /* 0 dim, 1 hidden, 2 q, 3 kv, -1 vector */
		} spec[] = {
#define QVK_F(f) offsetof(struct qvk_layer_weights, f)
			{ "attn_norm", QVK_F(attn_norm), -1, 0 },
			{ "attn_q", QVK_F(wq), 2, 0 },
			{ "attn_k", QVK_F(wk), 3, 0 },
			{ "attn_v", QVK_F(wv), 3, 0 },
			{ "attn_output", QVK_F(wo), 0, 2 },
			{ "ffn_norm", QVK_F(ffn_norm), -1, 0 },
			{ "ffn_gate", QVK_F(w1), 1, 0 },
			{ "ffn_down", QVK_F(w2), 0, 1 },
			{ "ffn_up", QVK_F(w3), 1, 0 },
#undef QVK_F
		};
		const uint64_t size[4] = { dim, hid, q, kv };

		for (size_t i = 0; i < QVK_ARRAY_SIZE(spec); i++) {
			struct qvk_host_tensor *t = (struct qvk_host_tensor *)
				((char *)&m->layers[l] + spec[i].field);

			snprintf(name, sizeof(name), "blk.%u.%s.weight", l,
				 spec[i].suffix);
			if ((st = qvk_model_tensor(ctx, g, name,
					spec[i].rows < 0 ? 0 : size[spec[i].rows],
					size[spec[i].cols], t)))
				return st;
		}
	}
	return QVK_OK;
}

qvk_status qvk_model_from_gguf(struct qvk_ctx *ctx, struct qvk_gguf *g,
			       struct qvk_model **out)
{
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
	if ((st = qvk_model_gguf_params(ctx, g, &m->params)))
		goto out_destroy;
	/* each block has 9 tensors: refuse before allocating per block */
	if (m->params.n_layers > qvk_gguf_tensor_count(g) / 9) {
		st = qvk_error(ctx, QVK_ERR_FORMAT,
			       "GGUF: llama.block_count %u needs %llu tensors, "
			       "the file has %llu", m->params.n_layers,
			       9ull * m->params.n_layers,
			       (unsigned long long)qvk_gguf_tensor_count(g));
		goto out_destroy;
	}
	m->layers = calloc(m->params.n_layers, sizeof(*m->layers));
	if (!m->layers) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "model layers");
		goto out_destroy;
	}
	if ((st = qvk_model_gguf_tensors(ctx, g, m)))
		goto out_destroy;
	*out = m;
	return QVK_OK;

out_destroy:
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
	qvk_gguf_close(m->gguf);
	qvk_unmap_file(m->map, m->map_size_bytes);
	free(m);
}

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

uint64_t qvk_model_param_count(const struct qvk_model *m)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < qvk_model_tensor_count(m); i++) {
		const struct qvk_host_tensor *t = qvk_model_tensor_at(m, i);

		n += t->ne[0] * qvk_host_tensor_rows(t);
	}
	return n;
}

uint64_t qvk_model_weight_bytes(const struct qvk_model *m)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < qvk_model_tensor_count(m); i++)
		n += qvk_model_tensor_at(m, i)->size_bytes;
	return n;
}

qvk_status qvk_model_params_to_gguf(const struct qvk_model_params *hp,
				    struct qvk_gguf_writer *w)
{
	qvk_status st;

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
					  hp->head_dim)) ||
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
	qvk_status st = qvk_model_params_to_gguf(&m->params, w);

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
