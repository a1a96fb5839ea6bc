/* SPDX-License-Identifier: MIT */
/*
 * Architectures and hyper-parameters of GGUF models: which architectures
 * qvk runs, every hyper-parameter read from its {arch}.* key (llama.cpp's
 * names and defaults), RoPE scaling (none, linear, Llama 3 factors,
 * LongRoPE) and the per-pair RoPE frequencies that both the GPU forward
 * pass and the C reference use.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static const struct {
	const char *name;
	bool neox; /* llama.cpp's llama_model_rope_type(): NORM or NEOX */
} qvk_archs[QVK_ARCH_COUNT] = {
	[QVK_ARCH_LLAMA] = { "llama", false },
	[QVK_ARCH_QWEN2] = { "qwen2", true },
	[QVK_ARCH_QWEN3] = { "qwen3", true },
	[QVK_ARCH_PHI3] = { "phi3", true },
};

const char *qvk_arch_name(enum qvk_arch arch)
{
	return (unsigned)arch < QVK_ARCH_COUNT ? qvk_archs[arch].name : NULL;
}

/* "{arch}.@suffix" into @key. */
static const char *qvk_arch_key(char *key, size_t len, enum qvk_arch arch,
				const char *suffix)
{
	snprintf(key, len, "%s.%s", qvk_archs[arch].name, suffix);
	return key;
}

/* Hyper-parameter {arch}.@suffix: required unless @def is non-negative. */
static qvk_status qvk_model_hparam(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g, enum qvk_arch arch,
				   const char *suffix, int64_t def,
				   uint32_t *out)
{
	char key[96];
	qvk_status st = qvk_gguf_get_u32(ctx, g,
					 qvk_arch_key(key, sizeof(key), arch,
						      suffix), out);

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

/* Float {arch}.@suffix, > 0 when present, else @def. */
static qvk_status qvk_model_fparam(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g, enum qvk_arch arch,
				   const char *suffix, float def, float *out)
{
	char key[96];
	qvk_status st = qvk_gguf_get_f32(ctx, g,
					 qvk_arch_key(key, sizeof(key), arch,
						      suffix), out);

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

static bool qvk_str_is(const struct qvk_gguf_str *s, const char *lit)
{
	return s->len == strlen(lit) && !memcmp(s->ptr, lit, s->len);
}

/*
 * {arch}.rope.scaling.*: the type (llama.cpp's default "linear"), its
 * factor (or the older rope.scale_linear), LongRoPE's attention factor and
 * original context. As in llama.cpp the factor scales the angles for every
 * type but "none"; "llama3" (not a llama.cpp type: its converter stores
 * the factors as rope_freqs.weight instead) turns the factor and its
 * low/high frequency keys into factors in qvk_model_rope_setup().
 */
static qvk_status qvk_model_rope_scaling(struct qvk_ctx *ctx,
					 const struct qvk_gguf *g,
					 struct qvk_model_params *hp,
					 struct qvk_rope_scaling *rs)
{
	enum qvk_arch a = hp->arch;
	struct qvk_gguf_str type = { "linear", 6 };
	char key[96];
	float factor;
	bool has_orig;
	qvk_status st;

	memset(rs, 0, sizeof(*rs));
	hp->rope_freq_scale = 1.0f;
	st = qvk_gguf_get_str(ctx, g, qvk_arch_key(key, sizeof(key), a,
						   "rope.scaling.type"), &type);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	has_orig = qvk_gguf_find(g, qvk_arch_key(key, sizeof(key), a,
				 "rope.scaling.original_context_length"));
	if ((st = qvk_model_fparam(ctx, g, a, "rope.scaling.factor", 0.0f,
				   &factor)) ||
	    (factor == 0.0f &&
	     (st = qvk_model_fparam(ctx, g, a, "rope.scale_linear", 0.0f,
				    &factor))) ||
	    (st = qvk_model_fparam(ctx, g, a, "rope.scaling.attn_factor", 1.0f,
				   &hp->rope_attn_factor)) ||
	    (st = qvk_model_hparam(ctx, g, a,
				   "rope.scaling.original_context_length",
				   hp->seq_len, &hp->rope_orig_ctx)))
		return st;
	if (qvk_str_is(&type, "none"))
		return QVK_OK;
	if (qvk_str_is(&type, "linear") || qvk_str_is(&type, "longrope")) {
		hp->rope_freq_scale = factor > 0.0f ? 1.0f / factor : 1.0f;
		return QVK_OK;
	}
	if (!qvk_str_is(&type, "llama3"))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: %s.rope.scaling.type '%.*s' is not "
				 "supported (qvk: none, linear, llama3, longrope)",
				 qvk_archs[a].name, (int)QVK_MIN(type.len, 64),
				 type.ptr);
	/* Defaults of transformers' _compute_llama3_parameters. */
	rs->llama3 = true;
	rs->factor = factor > 0.0f ? factor : 8.0f;
	rs->orig_ctx = has_orig ? hp->rope_orig_ctx : 8192;
	if ((st = qvk_model_fparam(ctx, g, a, "rope.scaling.low_freq_factor",
				   1.0f, &rs->low_freq_factor)) ||
	    (st = qvk_model_fparam(ctx, g, a, "rope.scaling.high_freq_factor",
				   4.0f, &rs->high_freq_factor)))
		return st;
	if (!(rs->high_freq_factor > rs->low_freq_factor))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: %s.rope.scaling: llama3 needs "
				 "high_freq_factor %g > low_freq_factor %g",
				 qvk_archs[a].name, (double)rs->high_freq_factor,
				 (double)rs->low_freq_factor);
	return QVK_OK;
}

qvk_status qvk_model_gguf_params(struct qvk_ctx *ctx, const struct qvk_gguf *g,
				 struct qvk_model_params *hp,
				 struct qvk_rope_scaling *rs)
{
	struct qvk_gguf_str arch;
	uint32_t v_dim, a;
	qvk_status st;

	if ((st = qvk_gguf_get_str(ctx, g, "general.architecture", &arch)))
		return st;
	for (a = 0; a < QVK_ARCH_COUNT; a++)
		if (qvk_str_is(&arch, qvk_archs[a].name))
			break;
	if (a == QVK_ARCH_COUNT)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: general.architecture '%.*s' is not "
				 "supported (qvk runs llama, qwen2, qwen3, phi3; "
				 "Mistral files are llama)",
				 (int)QVK_MIN(arch.len, 64), arch.ptr);
	hp->arch = (enum qvk_arch)a;
	hp->rope_neox = qvk_archs[a].neox;
	if ((st = qvk_model_hparam(ctx, g, a, "embedding_length", -1,
				   &hp->dim)) ||
	    (st = qvk_model_hparam(ctx, g, a, "feed_forward_length", -1,
				   &hp->hidden_dim)) ||
	    (st = qvk_model_hparam(ctx, g, a, "block_count", -1,
				   &hp->n_layers)) ||
	    (st = qvk_model_hparam(ctx, g, a, "attention.head_count", -1,
				   &hp->n_heads)) ||
	    (st = qvk_model_hparam(ctx, g, a, "attention.head_count_kv",
				   hp->n_heads, &hp->n_kv_heads)) ||
	    (st = qvk_model_hparam(ctx, g, a, "context_length", -1,
				   &hp->seq_len)) ||
	    (st = qvk_model_hparam(ctx, g, a, "attention.key_length",
				   hp->dim / hp->n_heads, &hp->head_dim)) ||
	    (st = qvk_model_hparam(ctx, g, a, "attention.value_length",
				   hp->head_dim, &v_dim)) ||
	    (st = qvk_model_hparam(ctx, g, a, "rope.dimension_count",
				   hp->head_dim, &hp->rope_dims)) ||
	    (st = qvk_model_fparam(ctx, g, a, "rope.freq_base", 10000.0f,
				   &hp->rope_theta)) ||
	    (st = qvk_model_fparam(ctx, g, a,
				   "attention.layer_norm_rms_epsilon", 1e-5f,
				   &hp->norm_eps)) ||
	    (st = qvk_model_rope_scaling(ctx, g, hp, rs)))
		return st;
	if (hp->n_heads % hp->n_kv_heads || hp->head_dim % 2 ||
	    v_dim != hp->head_dim || hp->rope_dims % 2 ||
	    hp->rope_dims > hp->head_dim)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: heads %u, kv heads %u, key/value length "
				 "%u/%u, rope dims %u: qvk needs n_heads %% "
				 "n_kv_heads == 0, one even head size for keys "
				 "and values, and an even number of rotated "
				 "dims up to it", hp->n_heads, hp->n_kv_heads,
				 hp->head_dim, v_dim, hp->rope_dims);
	return QVK_OK;
}

/* transformers' _compute_llama3_parameters, as llama.cpp's converter runs it. */
static void qvk_rope_llama3_factors(const struct qvk_model_params *hp,
				    const struct qvk_rope_scaling *rs,
				    float *factor)
{
	uint32_t dims = qvk_model_rope_dims(hp);
	double low_wavelen = rs->orig_ctx / rs->low_freq_factor;
	double high_wavelen = rs->orig_ctx / rs->high_freq_factor;

	for (uint32_t i = 0; i < dims / 2; i++) {
		float freq = 1.0f / powf(hp->rope_theta,
					 (float)(2 * i) / (float)dims);
		double wavelen = 2.0 * M_PI / freq, smooth;

		if (wavelen < high_wavelen) {
			factor[i] = 1.0f;
		} else if (wavelen > low_wavelen) {
			factor[i] = rs->factor;
		} else {
			smooth = (rs->orig_ctx / wavelen - rs->low_freq_factor) /
				 (rs->high_freq_factor - rs->low_freq_factor);
			factor[i] = (float)(1.0 / ((1.0 - smooth) / rs->factor +
						   smooth));
		}
	}
}

/* Factors of @t (rope_dims/2 positive finite values) into @out. */
static qvk_status qvk_rope_factors_read(struct qvk_ctx *ctx,
					const struct qvk_model_params *hp,
					const struct qvk_host_tensor *t,
					float *out)
{
	uint32_t half = qvk_model_rope_dims(hp) / 2;
	qvk_status st;

	if (t->n_dims != 1 || t->ne[0] != half)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s' has %llu values, RoPE has %u "
				 "pairs", t->name, (unsigned long long)t->ne[0],
				 half);
	if ((st = qvk_host_tensor_row(t, 0, out)))
		return qvk_error(ctx, st, "GGUF: tensor '%s' (F32 or F16)",
				 t->name);
	for (uint32_t i = 0; i < half; i++)
		if (!(out[i] > 0.0f) || isinf(out[i]))
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "GGUF: %s[%u] is %g (RoPE factors must "
					 "be positive and finite)", t->name, i,
					 (double)out[i]);
	return QVK_OK;
}

qvk_status qvk_model_rope_setup(struct qvk_ctx *ctx, struct qvk_model *m,
				const struct qvk_rope_scaling *rs,
				const struct qvk_host_tensor *freqs,
				const struct qvk_host_tensor *f_short,
				const struct qvk_host_tensor *f_long)
{
	uint32_t half = qvk_model_rope_dims(&m->params) / 2;
	qvk_status st = QVK_OK;

	if (!freqs && !f_short && !f_long && !rs->llama3)
		return QVK_OK;
	m->rope_storage = calloc(2 * (size_t)half, sizeof(float));
	if (!m->rope_storage)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "RoPE factors");
	/*
	 * llama.cpp's get_rope_factors(): rope_freqs when the file has it,
	 * else LongRoPE's short or long factors by the context size.
	 */
	if (freqs)
		st = qvk_rope_factors_read(ctx, &m->params, freqs,
					   m->rope_storage);
	else if (f_short)
		st = qvk_rope_factors_read(ctx, &m->params, f_short,
					   m->rope_storage);
	else if (rs->llama3)
		qvk_rope_llama3_factors(&m->params, rs, m->rope_storage);
	else
		for (uint32_t i = 0; i < half; i++)
			m->rope_storage[i] = 1.0f; /* long factors only */
	if (st == QVK_OK && f_long && !freqs) {
		st = qvk_rope_factors_read(ctx, &m->params, f_long,
					   m->rope_storage + half);
		m->rope_factors_long = m->rope_storage + half;
	}
	m->rope_factors = m->rope_storage;
	return st;
}

uint32_t qvk_model_rope_dims(const struct qvk_model_params *hp)
{
	return hp->rope_dims ? hp->rope_dims : hp->head_dim;
}

float qvk_model_rope_mscale(const struct qvk_model_params *hp)
{
	return hp->rope_attn_factor > 0.0f ? hp->rope_attn_factor : 1.0f;
}

void qvk_model_rope_freqs(const struct qvk_model *m, uint32_t n_ctx,
			  float *freq)
{
	const struct qvk_model_params *hp = &m->params;
	uint32_t dims = qvk_model_rope_dims(hp);
	uint32_t orig = hp->rope_orig_ctx ? hp->rope_orig_ctx : hp->seq_len;
	const float *factor = m->rope_factors_long && n_ctx > orig ?
				      m->rope_factors_long : m->rope_factors;
	float scale = hp->rope_freq_scale > 0.0f ? hp->rope_freq_scale : 1.0f;

	/* llama2.c's 1 / powf(theta, 2i / dims), then ggml's scale and factor. */
	for (uint32_t i = 0; i < dims / 2; i++) {
		freq[i] = 1.0f / powf(hp->rope_theta, (float)(2 * i) / (float)dims);
		freq[i] = scale * freq[i];
		if (factor)
			freq[i] /= factor[i];
	}
}
