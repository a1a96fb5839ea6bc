/* SPDX-License-Identifier: MIT */
/*
 * Synthetic-weight GGUF models of real shapes (see synth.h): the presets,
 * the deterministic weights, the tokenizer copied from a vocab file, and
 * the GGUF written through libqvk's writer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "internal.h" /* qvk_error: messages in the context */

#include "synth.h"

/*
 * Dims are multiples of 256 (K-quant super-blocks), 2-3 layers, grouped
 * queries, each preset what its architecture adds. The small ones share
 * the first 1024 tokens of the Llama 2 SentencePiece vocab (its byte
 * tokens included); the -vocab ones carry a real vocabulary whole.
 */
const struct qvk_synth_spec qvk_synth_presets[] = {
	/* Llama 3.2 shape: tied, theta 5e5, rope_freqs factors; original
	 * context 64 so that the factors move angles within 64 positions. */
	{ .preset = "llama3", .arch = QVK_ARCH_LLAMA, .dim = 256,
	  .hidden_dim = 768, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
	  .context = 2048, .rope_theta = 500000.0f, .norm_eps = 1e-5f,
	  .rope = QVK_SYNTH_ROPE_LLAMA3, .rope_orig_ctx = 64, .tied = true,
	  .vocab_limit = 1024, .vocab = "ggml-vocab-llama-spm.gguf" },
	/* Mistral 7B shape: llama arch, 8 heads over 2, theta 1e6, untied. */
	{ .preset = "mistral", .arch = QVK_ARCH_LLAMA, .dim = 256,
	  .hidden_dim = 512, .n_layers = 3, .n_heads = 8, .n_kv_heads = 2,
	  .context = 4096, .rope_theta = 1000000.0f, .norm_eps = 1e-5f,
	  .vocab_limit = 1024, .vocab = "ggml-vocab-llama-spm.gguf" },
	/* Qwen2.5: q/k/v biases, NeoX RoPE, tied, eps 1e-6. */
	{ .preset = "qwen2", .arch = QVK_ARCH_QWEN2, .dim = 256,
	  .hidden_dim = 512, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
	  .context = 4096, .rope_theta = 1000000.0f, .norm_eps = 1e-6f,
	  .tied = true, .qkv_bias = true, .vocab_limit = 1024,
	  .vocab = "ggml-vocab-llama-spm.gguf" },
	/* Qwen3: head_dim 128 with 4 heads (q is 512 wide, dim 256), q/k norm. */
	{ .preset = "qwen3", .arch = QVK_ARCH_QWEN3, .dim = 256,
	  .hidden_dim = 768, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
	  .head_dim = 128, .context = 4096, .rope_theta = 1000000.0f,
	  .norm_eps = 1e-6f, .tied = true, .qk_norm = true,
	  .vocab_limit = 1024, .vocab = "ggml-vocab-llama-spm.gguf" },
	/* Phi-3: fused attn_qkv and gate|up, LongRoPE (short factors here). */
	{ .preset = "phi3", .arch = QVK_ARCH_PHI3, .dim = 256,
	  .hidden_dim = 512, .n_layers = 2, .n_heads = 4, .n_kv_heads = 4,
	  .context = 4096, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
	  .rope = QVK_SYNTH_ROPE_LONGROPE, .rope_orig_ctx = 4096,
	  .fused = true, .vocab_limit = 1024,
	  .vocab = "ggml-vocab-llama-spm.gguf" },
	/* Real vocabularies: Phi-3's 32064 SentencePiece tokens... */
	{ .preset = "phi3-vocab", .arch = QVK_ARCH_PHI3, .dim = 256,
	  .hidden_dim = 512, .n_layers = 2, .n_heads = 4, .n_kv_heads = 4,
	  .context = 4096, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
	  .rope = QVK_SYNTH_ROPE_LONGROPE, .rope_orig_ctx = 4096,
	  .fused = true, .vocab = "ggml-vocab-phi-3.gguf" },
	/* ...Llama 3's 128256 BPE tokens, Qwen2's 151936. */
	{ .preset = "llama3-vocab", .arch = QVK_ARCH_LLAMA, .dim = 256,
	  .hidden_dim = 768, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
	  .context = 2048, .rope_theta = 500000.0f, .norm_eps = 1e-5f,
	  .rope = QVK_SYNTH_ROPE_LLAMA3, .rope_orig_ctx = 64, .tied = true,
	  .vocab = "ggml-vocab-llama-bpe.gguf" },
	{ .preset = "qwen2-vocab", .arch = QVK_ARCH_QWEN2, .dim = 256,
	  .hidden_dim = 512, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
	  .context = 4096, .rope_theta = 1000000.0f, .norm_eps = 1e-6f,
	  .tied = true, .qkv_bias = true,
	  .vocab = "ggml-vocab-qwen2.gguf" },
};
const uint32_t qvk_synth_n_presets =
	sizeof(qvk_synth_presets) / sizeof(qvk_synth_presets[0]);

const struct qvk_synth_spec *qvk_synth_preset(const char *name)
{
	for (uint32_t i = 0; i < qvk_synth_n_presets; i++)
		if (!strcmp(qvk_synth_presets[i].preset, name))
			return &qvk_synth_presets[i];
	return NULL;
}

/* splitmix64 */
static uint64_t qvk_synth_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [-a, a): 24 random bits, exact conversions, one multiply. */
static float qvk_synth_uniform(uint64_t *s, float a)
{
	int32_t r = (int32_t)(qvk_synth_next(s) >> 40) - (1 << 23);

	return (float)r * (a * 0x1.0p-23f);
}

struct qvk_synth {
	struct qvk_ctx *ctx;
	struct qvk_gguf_writer *w;
	const struct qvk_synth_spec *spec;
	enum qvk_ggml_type type;
	uint64_t seed;
	void **owned;
	uint32_t n_owned, cap_owned;
};

static void *qvk_synth_keep(struct qvk_synth *s, size_t bytes)
{
	void *p;

	if (s->n_owned == s->cap_owned) {
		uint32_t cap = s->cap_owned ? 2 * s->cap_owned : 64;
		void **grown = realloc(s->owned, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		s->owned = grown;
		s->cap_owned = cap;
	}
	p = calloc(1, bytes ? bytes : 1);
	if (p)
		s->owned[s->n_owned++] = p;
	return p;
}

/* fp32 values into GGUF Q8_0 blocks (ggml's reference: d = amax / 127). */
static void qvk_synth_q8_0(const float *x, uint64_t n, uint8_t *out)
{
	for (uint64_t b = 0; b < n / 32; b++, x += 32, out += 34) {
		float amax = 0.0f, d, id;
		uint16_t h;

		for (int i = 0; i < 32; i++)
			amax = fmaxf(amax, fabsf(x[i]));
		d = amax / 127.0f;
		id = d > 0.0f ? 1.0f / d : 0.0f;
		h = qvk_fp16_from_f32(d);
		memcpy(out, &h, 2);
		for (int i = 0; i < 32; i++)
			out[2 + i] = (uint8_t)(int8_t)roundf(x[i] * id);
	}
}

/*
 * Tensor @name of (rows, cols) (rows 0: a vector of cols), values from
 * @fill(i) or uniform in [-a, a) around @center; stored as @type.
 */
static qvk_status qvk_synth_tensor(struct qvk_synth *s, const char *name,
				   uint64_t rows, uint64_t cols, float center,
				   float a, enum qvk_ggml_type type,
				   const float *fill)
{
	uint64_t n = (rows ? rows : 1) * cols;
	struct qvk_host_tensor t = {
		.type = type, .n_dims = rows ? 2 : 1,
		.ne = { cols, rows ? rows : 1, 1, 1 },
	};
	float *v = qvk_synth_keep(s, n * sizeof(float));
	void *data;

	if (!v)
		return qvk_error(s->ctx, QVK_ERR_NO_MEMORY, "synth: %s", name);
	snprintf(t.name, sizeof(t.name), "%s", name);
	for (uint64_t i = 0; i < n; i++)
		v[i] = fill ? fill[i] : center + qvk_synth_uniform(&s->seed, a);
	switch (type) {
	case QVK_GGML_TYPE_F32:
		data = v;
		t.size_bytes = n * 4;
		break;
	case QVK_GGML_TYPE_F16:
		t.size_bytes = n * 2;
		if (!(data = qvk_synth_keep(s, t.size_bytes)))
			return qvk_error(s->ctx, QVK_ERR_NO_MEMORY, "synth");
		qvk_fp16_from_f32_n(data, v, n);
		break;
	case QVK_GGML_TYPE_Q8_0:
		t.size_bytes = n / 32 * 34;
		if (cols % 32 || !(data = qvk_synth_keep(s, t.size_bytes)))
			return qvk_error(s->ctx, QVK_ERR_INVALID_ARG,
					 "synth: %s: Q8_0 of %llu columns", name,
					 (unsigned long long)cols);
		qvk_synth_q8_0(v, n, data);
		break;
	default:
		return qvk_error(s->ctx, QVK_ERR_INVALID_ARG, "synth: type %u "
				 "(F32, F16 or Q8_0)", type);
	}
	t.data = data;
	return qvk_gguf_writer_add_tensor(s->w, &t);
}

/* A (rows, cols) matrix with the variance of N(0, 1/cols). */
static qvk_status qvk_synth_matrix(struct qvk_synth *s, const char *name,
				   uint64_t rows, uint64_t cols)
{
	return qvk_synth_tensor(s, name, rows, cols, 0.0f,
				sqrtf(3.0f / (float)cols), s->type, NULL);
}

static qvk_status qvk_synth_vector(struct qvk_synth *s, const char *name,
				   uint64_t n, float center, float a)
{
	return qvk_synth_tensor(s, name, 0, n, center, a, QVK_GGML_TYPE_F32,
				NULL);
}

/* transformers' _compute_llama3_parameters (factor 8, low 1, high 4). */
static void qvk_synth_llama3_factors(const struct qvk_synth_spec *sp,
				     uint32_t dims, float *out)
{
	const double factor = 8.0, low = 1.0, high = 4.0;
	double old = sp->rope_orig_ctx;

	for (uint32_t i = 0; i < dims / 2; i++) {
		double freq = 1.0 / pow(sp->rope_theta, (double)(2 * i) / dims);
		double wavelen = 2.0 * M_PI / freq, smooth;

		if (wavelen < old / high) {
			out[i] = 1.0f;
		} else if (wavelen > old / low) {
			out[i] = (float)factor;
		} else {
			smooth = (old / wavelen - low) / (high - low);
			out[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
		}
	}
}

#define QVK_SYNTH_CHECK(call)                  \
	do {                                   \
		qvk_status st_ = (call);       \
		if (st_ != QVK_OK)             \
			return st_;            \
	} while (0)

static qvk_status qvk_synth_hparams(struct qvk_synth *s, uint32_t vocab)
{
	const struct qvk_synth_spec *sp = s->spec;
	const char *a = qvk_arch_name(sp->arch);
	uint32_t hd = sp->head_dim ? sp->head_dim : sp->dim / sp->n_heads;
	char key[96], name[64];
#define QVK_KEY(suffix) (snprintf(key, sizeof(key), "%s." suffix, a), key)

	/* Not in general.name: llama.cpp sets token attributes by it ("phi3"). */
	snprintf(name, sizeof(name), "qvk synthetic-weight preset %s", sp->preset);
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_str(s->w, "general.architecture", a));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_str(s->w, "general.name", "qvk synthetic"));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_str(s->w, "general.description", name));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w, QVK_KEY("context_length"),
						sp->context));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w, QVK_KEY("embedding_length"),
						sp->dim));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
			QVK_KEY("feed_forward_length"), sp->hidden_dim));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w, QVK_KEY("block_count"),
						sp->n_layers));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
			QVK_KEY("attention.head_count"), sp->n_heads));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
			QVK_KEY("attention.head_count_kv"), sp->n_kv_heads));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_f32(s->w, QVK_KEY("rope.freq_base"),
						sp->rope_theta));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
			QVK_KEY("rope.dimension_count"),
			sp->rope_dims ? sp->rope_dims : hd));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_f32(s->w,
			QVK_KEY("attention.layer_norm_rms_epsilon"), sp->norm_eps));
	QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w, QVK_KEY("vocab_size"),
						vocab));
	if (sp->head_dim) {
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
				QVK_KEY("attention.key_length"), hd));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
				QVK_KEY("attention.value_length"), hd));
	}
	if (sp->rope == QVK_SYNTH_ROPE_LONGROPE) {
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_str(s->w,
				QVK_KEY("rope.scaling.type"), "longrope"));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_f32(s->w,
				QVK_KEY("rope.scaling.attn_factor"), 1.1902381f));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
				QVK_KEY("rope.scaling.original_context_length"),
				sp->rope_orig_ctx));
	}
	if (sp->rope == QVK_SYNTH_ROPE_LLAMA3_KEYS) {
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_str(s->w,
				QVK_KEY("rope.scaling.type"), "llama3"));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_f32(s->w,
				QVK_KEY("rope.scaling.factor"), 8.0f));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_f32(s->w,
				QVK_KEY("rope.scaling.low_freq_factor"), 1.0f));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_f32(s->w,
				QVK_KEY("rope.scaling.high_freq_factor"), 4.0f));
		QVK_SYNTH_CHECK(qvk_gguf_writer_set_u32(s->w,
				QVK_KEY("rope.scaling.original_context_length"),
				sp->rope_orig_ctx));
	}
#undef QVK_KEY
	return QVK_OK;
}

/*
 * The tokenizer: every tokenizer.* key of @vocab, or for a cut vocab the
 * first @limit tokens, scores and types of a SentencePiece ("llama") one
 * with its special ids kept when they fit (else </s> = 2). Returns the
 * vocabulary size in *n.
 */
static qvk_status qvk_synth_tokenizer(struct qvk_synth *s,
				      const struct qvk_gguf *vocab,
				      uint32_t limit, uint32_t *n)
{
	const struct qvk_gguf_kv *toks = qvk_gguf_find(vocab, "tokenizer.ggml.tokens");
	struct qvk_gguf_str model = { 0 };
	const char **strs = NULL;
	uint64_t *lens = NULL;
	qvk_status st;

	if (!toks || toks->type != QVK_GGUF_ARRAY || !toks->count ||
	    toks->count > (1u << 24))
		return qvk_error(s->ctx, QVK_ERR_FORMAT,
				 "synth: the vocab file has no token list");
	*n = limit && limit < toks->count ? limit : (uint32_t)toks->count;
	if (*n == toks->count) {
		for (uint64_t i = 0; i < qvk_gguf_kv_count(vocab); i++) {
			const struct qvk_gguf_kv *kv = qvk_gguf_kv_at(vocab, i);

			if (kv->key.len > 10 && !memcmp(kv->key.ptr, "tokenizer.", 10))
				QVK_SYNTH_CHECK(qvk_gguf_writer_copy_kv(s->w, kv));
		}
		return QVK_OK;
	}
	QVK_SYNTH_CHECK(qvk_gguf_get_str(s->ctx, vocab, "tokenizer.ggml.model",
					 &model));
	if (model.len != 5 || memcmp(model.ptr, "llama", 5))
		return qvk_error(s->ctx, QVK_ERR_INVALID_ARG,
				 "synth: only a SentencePiece vocab can be cut "
				 "(BPE merges name every token)");
	strs = calloc(*n, sizeof(*strs));
	lens = calloc(*n, sizeof(*lens));
	st = strs && lens ? QVK_OK : qvk_error(s->ctx, QVK_ERR_NO_MEMORY, "synth");
	for (uint32_t i = 0; st == QVK_OK && i < *n; i++) {
		struct qvk_gguf_str t;

		st = qvk_gguf_array_str(s->ctx, toks, i, &t);
		strs[i] = t.ptr;
		lens[i] = t.len;
	}
	if (st == QVK_OK)
		st = qvk_gguf_writer_set_str_array(s->w, "tokenizer.ggml.tokens",
						   strs, lens, *n);
	free(strs);
	free(lens);
	for (uint64_t i = 0; st == QVK_OK && i < qvk_gguf_kv_count(vocab); i++) {
		const struct qvk_gguf_kv *kv = qvk_gguf_kv_at(vocab, i);
		char key[128];
		uint32_t id;

		snprintf(key, sizeof(key), "%.*s", (int)(kv->key.len < 127 ? kv->key.len : 127),
			 kv->key.ptr);
		if (strncmp(key, "tokenizer.", 10) || kv == toks ||
		    !strcmp(key, "tokenizer.chat_template"))
			continue;
		if (kv->type == QVK_GGUF_ARRAY)
			st = qvk_gguf_writer_set_array(s->w, key, kv->elem_type,
						       kv->data, *n);
		else if (strstr(key, "_token_id") &&
			 qvk_gguf_get_u32(s->ctx, vocab, key, &id) == QVK_OK &&
			 id >= *n)
			st = qvk_gguf_writer_set_u32(s->w, key, 2);
		else
			st = qvk_gguf_writer_copy_kv(s->w, kv);
	}
	return st;
}

static qvk_status qvk_synth_layer(struct qvk_synth *s, uint32_t l)
{
	const struct qvk_synth_spec *sp = s->spec;
	uint32_t hd = sp->head_dim ? sp->head_dim : sp->dim / sp->n_heads;
	uint64_t q = (uint64_t)sp->n_heads * hd, kv = (uint64_t)sp->n_kv_heads * hd;
	char n[64];
#define QVK_NAME(suffix) (snprintf(n, sizeof(n), "blk.%u." suffix, l), n)

	QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("attn_norm.weight"), sp->dim,
					 1.0f, 0.2f));
	if (sp->fused) {
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("attn_qkv.weight"),
						 q + 2 * kv, sp->dim));
	} else {
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("attn_q.weight"), q,
						 sp->dim));
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("attn_k.weight"), kv,
						 sp->dim));
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("attn_v.weight"), kv,
						 sp->dim));
	}
	if (sp->qkv_bias) {
		QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("attn_q.bias"), q,
						 0.0f, 0.5f));
		QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("attn_k.bias"), kv,
						 0.0f, 0.5f));
		QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("attn_v.bias"), kv,
						 0.0f, 0.5f));
	}
	if (sp->qk_norm) {
		QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("attn_q_norm.weight"),
						 hd, 1.0f, 0.5f));
		QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("attn_k_norm.weight"),
						 hd, 1.0f, 0.5f));
	}
	QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("attn_output.weight"),
					 sp->dim, q));
	QVK_SYNTH_CHECK(qvk_synth_vector(s, QVK_NAME("ffn_norm.weight"), sp->dim,
					 1.0f, 0.2f));
	if (sp->fused) {
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("ffn_up.weight"),
						 2ull * sp->hidden_dim, sp->dim));
	} else {
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("ffn_gate.weight"),
						 sp->hidden_dim, sp->dim));
		QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("ffn_up.weight"),
						 sp->hidden_dim, sp->dim));
	}
	QVK_SYNTH_CHECK(qvk_synth_matrix(s, QVK_NAME("ffn_down.weight"), sp->dim,
					 sp->hidden_dim));
#undef QVK_NAME
	return QVK_OK;
}

static qvk_status qvk_synth_rope_tensors(struct qvk_synth *s)
{
	const struct qvk_synth_spec *sp = s->spec;
	uint32_t hd = sp->head_dim ? sp->head_dim : sp->dim / sp->n_heads;
	uint32_t half = (sp->rope_dims ? sp->rope_dims : hd) / 2;
	float *f = qvk_synth_keep(s, half * sizeof(float));

	if (!f)
		return qvk_error(s->ctx, QVK_ERR_NO_MEMORY, "synth");
	if (sp->rope == QVK_SYNTH_ROPE_LLAMA3) {
		qvk_synth_llama3_factors(sp, 2 * half, f);
		return qvk_synth_tensor(s, "rope_freqs.weight", 0, half, 0, 0,
					QVK_GGML_TYPE_F32, f);
	}
	if (sp->rope != QVK_SYNTH_ROPE_LONGROPE)
		return QVK_OK;
	/* Phi-3.5's shape: short factors near 1..2, long ones up to ~8. */
	QVK_SYNTH_CHECK(qvk_synth_vector(s, "rope_factors_short.weight", half,
					 1.5f, 0.5f));
	return qvk_synth_vector(s, "rope_factors_long.weight", half, 5.0f, 3.0f);
}

qvk_status qvk_synth_write(struct qvk_ctx *ctx,
			   const struct qvk_synth_spec *spec,
			   enum qvk_ggml_type type, uint64_t seed,
			   const struct qvk_gguf *vocab, const char *path)
{
	struct qvk_synth s = { .ctx = ctx, .spec = spec, .type = type,
			       .seed = seed };
	uint32_t n_vocab = 0;
	qvk_status st = qvk_gguf_writer_create(ctx, &s.w);

	if (st == QVK_OK)
		st = qvk_synth_tokenizer(&s, vocab, spec->vocab_limit, &n_vocab);
	if (st == QVK_OK)
		st = qvk_synth_hparams(&s, n_vocab);
	/*
	 * Embedding rows of RMS 0.05, as trained models have: each layer adds
	 * ~1 to the residual stream, so a tied classifier does not just
	 * predict the input token again.
	 */
	if (st == QVK_OK)
		st = qvk_synth_tensor(&s, "token_embd.weight", n_vocab, spec->dim,
				      0.0f, 0.05f * sqrtf(3.0f), type, NULL);
	for (uint32_t l = 0; st == QVK_OK && l < spec->n_layers; l++)
		st = qvk_synth_layer(&s, l);
	/*
	 * Logits of standard deviation ~3 (a peaked next-token distribution,
	 * as trained models have): the final norm scales the unit-RMS state
	 * by 3, or by 3 / (0.05 sqrt(dim)) for the tied embedding's rows.
	 */
	if (st == QVK_OK) {
		float g = spec->tied ? 3.0f / (0.05f * sqrtf((float)spec->dim)) :
				       3.0f;

		st = qvk_synth_vector(&s, "output_norm.weight", spec->dim, g,
				      0.2f * g);
	}
	if (st == QVK_OK && !spec->tied)
		st = qvk_synth_matrix(&s, "output.weight", n_vocab, spec->dim);
	if (st == QVK_OK && spec->output_bias)
		st = qvk_synth_vector(&s, "output.bias", n_vocab, 0.0f, 0.5f);
	if (st == QVK_OK)
		st = qvk_synth_rope_tensors(&s);
	if (st == QVK_OK)
		st = qvk_gguf_writer_write(s.w, path);
	qvk_gguf_writer_destroy(s.w);
	while (s.n_owned--)
		free(s.owned[s.n_owned]);
	free(s.owned);
	return st;
}

bool qvk_synth_file_hash(const char *path, uint64_t *hash)
{
	FILE *f = fopen(path, "rb");
	unsigned char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ull;
	size_t got;

	if (!f)
		return false;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < got; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	*hash = h;
	got = ferror(f);
	return !got & !fclose(f);
}
