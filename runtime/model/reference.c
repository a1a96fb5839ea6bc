/* SPDX-License-Identifier: MIT */
/*
 * The scalar C reference forward pass: llama2.c's run.c forward(), step for
 * step, over typed host tensors, with what the other architectures add
 * (llama.cpp's graphs for llama, qwen2, qwen3, phi3). Each weight row is
 * dequantized to float (qvk_host_tensor_row) and dotted in float, so for a
 * quantized model this computes exactly "the float model those weights
 * stand for" -- the oracle the GPU kernels are compared with.
 *
 *   x = tok_embd[token]
 *   per layer: xb = rmsnorm(x) * attn_norm;
 *     q, k, v = wq xb + bq, wk xb + bk, wv xb + bv (biases if present);
 *     per head: q = rmsnorm(q) * q_norm, k likewise (Qwen3, if present);
 *     RoPE on the first rope_dims of each head, pairs (2i, 2i+1) or NeoX's
 *     (i, i + rope_dims/2), by the angle pos * freq[i]
 *     (qvk_model_rope_freqs(): scaling and Llama 3 / LongRoPE factors),
 *     cos and sin times the LongRoPE attention factor;
 *     k, v into the cache; per head h (kv head h / (n_heads/n_kv_heads)):
 *     softmax(q.k_t / sqrt(head_dim)) over t <= pos, weighted sum of v_t;
 *     x += wo att + bo; xb = rmsnorm(x) * ffn_norm;
 *     x += w2 (silu(w1 xb + b1) * (w3 xb + b3)) + b2
 *   logits = output (rmsnorm(x) * output_norm) + output_b
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "model_internal.h"

struct qvk_reference {
	struct qvk_ctx *ctx;
	const struct qvk_model *model;
	uint32_t n_past; /* positions in the cache */
	float *x;        /* (dim) residual stream */
	float *xb;       /* (max(dim, q_dim)) */
	float *xb2;      /* (dim) */
	float *hb, *hb2; /* (hidden_dim) */
	float *q;        /* (q_dim) */
	float *att;      /* (n_heads, seq_len) */
	float *row;      /* one dequantized weight row (max in) */
	float *bias;     /* (max out) a bias */
	float *norm;     /* (max(dim, head_dim)) a norm weight */
	float *freq;     /* (rope_dims/2) RoPE angle per position of each pair */
	float *logits;   /* (vocab_size) */
	float *key_cache;   /* (n_layers, seq_len, kv_dim) */
	float *value_cache; /* (n_layers, seq_len, kv_dim) */
	qvk_reference_capture_fn capture; /* calibration hook, or NULL */
	void *capture_user;
	bool kv_f16;        /* round cached k, v to fp16, as the GPU stores them */
};

static float *qvk_ref_alloc(size_t a, size_t b, bool *ok)
{
	size_t n;
	float *p;

	if (!qvk_mul_size(a, b, &n) || !qvk_mul_size(n, sizeof(float), &n) ||
	    !(p = calloc(1, n ? n : 1))) {
		*ok = false;
		return NULL;
	}
	return p;
}

qvk_status qvk_reference_create(struct qvk_ctx *ctx,
				const struct qvk_model *model,
				struct qvk_reference **out)
{
	const struct qvk_model_params *hp;
	struct qvk_reference *r;
	size_t q_dim, kv_dim, cache, widest;
	bool ok = true;

	if (!out || !model)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "reference: no model");
	*out = NULL;
	hp = &model->params;
	q_dim = (size_t)hp->n_heads * hp->head_dim;
	kv_dim = (size_t)hp->n_kv_heads * hp->head_dim;
	widest = QVK_MAX(QVK_MAX((size_t)hp->dim, q_dim), (size_t)hp->hidden_dim);
	r = calloc(1, sizeof(*r));
	if (!r)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "reference");
	r->ctx = ctx;
	r->model = model;
	r->x = qvk_ref_alloc(hp->dim, 1, &ok);
	r->xb = qvk_ref_alloc(widest, 1, &ok);
	r->xb2 = qvk_ref_alloc(hp->dim, 1, &ok);
	r->hb = qvk_ref_alloc(hp->hidden_dim, 1, &ok);
	r->hb2 = qvk_ref_alloc(hp->hidden_dim, 1, &ok);
	r->q = qvk_ref_alloc(q_dim, 1, &ok);
	r->att = qvk_ref_alloc(hp->n_heads, hp->seq_len, &ok);
	r->row = qvk_ref_alloc(widest, 1, &ok);
	r->bias = qvk_ref_alloc(QVK_MAX(widest, (size_t)hp->vocab_size), 1, &ok);
	r->norm = qvk_ref_alloc(QVK_MAX(hp->dim, hp->head_dim), 1, &ok);
	r->freq = qvk_ref_alloc(qvk_model_rope_dims(hp) / 2 + 1, 1, &ok);
	r->logits = qvk_ref_alloc(hp->vocab_size, 1, &ok);
	if (ok && !qvk_mul_size((size_t)hp->n_layers * hp->seq_len, kv_dim, &cache))
		ok = false;
	r->key_cache = ok ? qvk_ref_alloc(cache, 1, &ok) : NULL;
	r->value_cache = ok ? qvk_ref_alloc(cache, 1, &ok) : NULL;
	if (!ok) {
		qvk_reference_destroy(r);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY,
				 "reference: buffers and a KV cache of %u "
				 "positions", hp->seq_len);
	}
	/* The context this reference holds picks LongRoPE's factors. */
	qvk_model_rope_freqs(model, hp->seq_len, r->freq);
	*out = r;
	return QVK_OK;
}

void qvk_reference_destroy(struct qvk_reference *r)
{
	if (!r)
		return;
	free(r->value_cache);
	free(r->key_cache);
	free(r->logits);
	free(r->freq);
	free(r->norm);
	free(r->bias);
	free(r->row);
	free(r->att);
	free(r->q);
	free(r->hb2);
	free(r->hb);
	free(r->xb2);
	free(r->xb);
	free(r->x);
	free(r);
}

void qvk_reference_set_capture(struct qvk_reference *r,
			       qvk_reference_capture_fn fn, void *user)
{
	if (!r)
		return;
	r->capture = fn;
	r->capture_user = user;
}

/*
 * out = W x (+ b when @b is present), W (out_dim, in) of any type, one
 * dequantized row at a time.
 */
static qvk_status qvk_ref_matmul(struct qvk_reference *r, float *out,
				 const float *x, const struct qvk_host_tensor *w,
				 const struct qvk_host_tensor *b)
{
	uint64_t in = w->ne[0], rows = qvk_host_tensor_rows(w);
	qvk_status st;

	if (r->capture)
		r->capture(r->capture_user, w, x);
	for (uint64_t o = 0; o < rows; o++) {
		float sum = 0.0f;

		if ((st = qvk_host_tensor_row(w, o, r->row)))
			return qvk_error(r->ctx, st, "reference: tensor '%s' row "
					 "%llu", w->name, (unsigned long long)o);
		for (uint64_t i = 0; i < in; i++)
			sum += r->row[i] * x[i];
		out[o] = sum;
	}
	if (!b || !b->data)
		return QVK_OK;
	if ((st = qvk_host_tensor_row(b, 0, r->bias)))
		return qvk_error(r->ctx, st, "reference: bias '%s'", b->name);
	for (uint64_t o = 0; o < rows; o++)
		out[o] += r->bias[o];
	return QVK_OK;
}

/*
 * out = rmsnorm(x) * weight over @rows rows of @n (one row of dim, or
 * Qwen3's per-head rows of head_dim); out may be x.
 */
static qvk_status qvk_ref_rmsnorm_rows(struct qvk_reference *r, float *out,
				       const float *x,
				       const struct qvk_host_tensor *weight,
				       uint32_t n, uint32_t rows)
{
	qvk_status st = qvk_host_tensor_row(weight, 0, r->norm);

	if (st)
		return qvk_error(r->ctx, st, "reference: norm '%s'", weight->name);
	for (uint32_t h = 0; h < rows; h++, x += n, out += n) {
		float ss = 0.0f;

		for (uint32_t i = 0; i < n; i++)
			ss += x[i] * x[i];
		ss = 1.0f / sqrtf(ss / (float)n + r->model->params.norm_eps);
		for (uint32_t i = 0; i < n; i++)
			out[i] = r->norm[i] * (ss * x[i]);
	}
	return QVK_OK;
}

static qvk_status qvk_ref_rmsnorm(struct qvk_reference *r, float *out,
				  const float *x,
				  const struct qvk_host_tensor *weight)
{
	return qvk_ref_rmsnorm_rows(r, out, x, weight, r->model->params.dim, 1);
}

static void qvk_ref_rope(const struct qvk_reference *r, float *v,
			 uint32_t n_heads, uint32_t pos)
{
	const struct qvk_model_params *hp = &r->model->params;
	uint32_t half = qvk_model_rope_dims(hp) / 2;
	float mscale = qvk_model_rope_mscale(hp);

	for (uint32_t h = 0; h < n_heads; h++) {
		float *head = v + (size_t)h * hp->head_dim;

		for (uint32_t i = 0; i < half; i++) {
			float angle = (float)pos * r->freq[i];
			float c = cosf(angle) * mscale, s = sinf(angle) * mscale;
			uint32_t j0 = hp->rope_neox ? i : 2 * i;
			uint32_t j1 = hp->rope_neox ? i + half : 2 * i + 1;
			float v0 = head[j0], v1 = head[j1];

			head[j0] = v0 * c - v1 * s;
			head[j1] = v0 * s + v1 * c;
		}
	}
}

static void qvk_ref_attention(struct qvk_reference *r, uint32_t layer,
			      uint32_t pos)
{
	const struct qvk_model_params *hp = &r->model->params;
	size_t kv_dim = (size_t)hp->n_kv_heads * hp->head_dim;
	size_t layer_off = (size_t)layer * hp->seq_len * kv_dim;
	uint32_t group = hp->n_heads / hp->n_kv_heads;
	float scale = 1.0f / sqrtf((float)hp->head_dim);

	for (uint32_t h = 0; h < hp->n_heads; h++) {
		const float *q = r->q + (size_t)h * hp->head_dim;
		float *att = r->att + (size_t)h * hp->seq_len;
		float *xb = r->xb + (size_t)h * hp->head_dim;
		size_t kv_off = layer_off + (size_t)(h / group) * hp->head_dim;
		float max = -INFINITY, sum = 0.0f;

		for (uint32_t t = 0; t <= pos; t++) {
			const float *k = r->key_cache + kv_off + t * kv_dim;
			float score = 0.0f;

			for (uint32_t i = 0; i < hp->head_dim; i++)
				score += q[i] * k[i];
			att[t] = score * scale;
			max = QVK_MAX(max, att[t]);
		}
		for (uint32_t t = 0; t <= pos; t++) {
			att[t] = expf(att[t] - max);
			sum += att[t];
		}
		memset(xb, 0, hp->head_dim * sizeof(*xb));
		for (uint32_t t = 0; t <= pos; t++) {
			const float *v = r->value_cache + kv_off + t * kv_dim;
			float a = att[t] / sum;

			for (uint32_t i = 0; i < hp->head_dim; i++)
				xb[i] += a * v[i];
		}
	}
}

static qvk_status qvk_ref_layer(struct qvk_reference *r, uint32_t l,
				uint32_t pos)
{
	const struct qvk_model_params *hp = &r->model->params;
	const struct qvk_layer_weights *w = &r->model->layers[l];
	size_t kv_dim = (size_t)hp->n_kv_heads * hp->head_dim;
	float *k = r->key_cache + ((size_t)l * hp->seq_len + pos) * kv_dim;
	float *v = r->value_cache + ((size_t)l * hp->seq_len + pos) * kv_dim;
	qvk_status st;

	if ((st = qvk_ref_rmsnorm(r, r->xb, r->x, &w->attn_norm)) ||
	    (st = qvk_ref_matmul(r, r->q, r->xb, &w->wq, &w->bq)) ||
	    (st = qvk_ref_matmul(r, k, r->xb, &w->wk, &w->bk)) ||
	    (st = qvk_ref_matmul(r, v, r->xb, &w->wv, &w->bv)))
		return st;
	if (w->q_norm.data &&
	    (st = qvk_ref_rmsnorm_rows(r, r->q, r->q, &w->q_norm, hp->head_dim,
				       hp->n_heads)))
		return st;
	if (w->k_norm.data &&
	    (st = qvk_ref_rmsnorm_rows(r, k, k, &w->k_norm, hp->head_dim,
				       hp->n_kv_heads)))
		return st;
	qvk_ref_rope(r, r->q, hp->n_heads, pos);
	qvk_ref_rope(r, k, hp->n_kv_heads, pos);
	for (size_t i = 0; r->kv_f16 && i < kv_dim; i++) {
		k[i] = qvk_fp16_to_f32(qvk_fp16_from_f32(k[i]));
		v[i] = qvk_fp16_to_f32(qvk_fp16_from_f32(v[i]));
	}
	qvk_ref_attention(r, l, pos);
	if ((st = qvk_ref_matmul(r, r->xb2, r->xb, &w->wo, &w->bo)))
		return st;
	for (uint32_t i = 0; i < hp->dim; i++)
		r->x[i] += r->xb2[i];

	if ((st = qvk_ref_rmsnorm(r, r->xb, r->x, &w->ffn_norm)) ||
	    (st = qvk_ref_matmul(r, r->hb, r->xb, &w->w1, &w->b1)) ||
	    (st = qvk_ref_matmul(r, r->hb2, r->xb, &w->w3, &w->b3)))
		return st;
	for (uint32_t i = 0; i < hp->hidden_dim; i++) {
		float g = r->hb[i];

		r->hb[i] = g / (1.0f + expf(-g)) * r->hb2[i]; /* SwiGLU */
	}
	if ((st = qvk_ref_matmul(r, r->xb2, r->hb, &w->w2, &w->b2)))
		return st;
	for (uint32_t i = 0; i < hp->dim; i++)
		r->x[i] += r->xb2[i];
	return QVK_OK;
}

qvk_status qvk_reference_forward(struct qvk_reference *r, uint32_t token,
				 uint32_t pos, const float **logits)
{
	const struct qvk_model_params *hp;
	qvk_status st;

	if (!r || !logits)
		return QVK_ERR_INVALID_ARG;
	hp = &r->model->params;
	if (token >= hp->vocab_size || pos >= hp->seq_len || pos > r->n_past)
		return qvk_error(r->ctx, QVK_ERR_INVALID_ARG,
				 "reference: token %u (vocab %u) at position %u "
				 "(seq_len %u, %u positions run)", token,
				 hp->vocab_size, pos, hp->seq_len, r->n_past);
	*logits = NULL;
	/* a failed step leaves positions from @pos on undefined */
	r->n_past = pos;
	if ((st = qvk_host_tensor_row(&r->model->tok_embd, token, r->x)))
		return qvk_error(r->ctx, st, "reference: embedding row %u",
				 token);
	for (uint32_t l = 0; l < hp->n_layers; l++)
		if ((st = qvk_ref_layer(r, l, pos)))
			return st;
	if ((st = qvk_ref_rmsnorm(r, r->x, r->x, &r->model->output_norm)) ||
	    (st = qvk_ref_matmul(r, r->logits, r->x, &r->model->output,
				 &r->model->output_b)))
		return st;
	r->n_past = pos + 1;
	*logits = r->logits;
	return QVK_OK;
}

void qvk_reference_set_kv_f16(struct qvk_reference *ref, bool kv_f16)
{
	ref->kv_f16 = kv_f16;
}

qvk_status qvk_reference_nll(struct qvk_reference *r, const uint32_t *tokens,
			     uint32_t n, double *nll_sum)
{
	uint32_t vocab;
	qvk_status st;

	if (!r || !tokens || !nll_sum || n < 2)
		return qvk_error(r ? r->ctx : NULL, QVK_ERR_INVALID_ARG,
				 "reference: NLL needs at least 2 tokens");
	vocab = r->model->params.vocab_size;
	*nll_sum = 0.0;
	for (uint32_t i = 0; i + 1 < n; i++) {
		const float *l;
		double max = -INFINITY, sum = 0.0;

		if ((st = qvk_reference_forward(r, tokens[i], i, &l)))
			return st;
		if (tokens[i + 1] >= vocab)
			return qvk_error(r->ctx, QVK_ERR_INVALID_ARG,
					 "reference: token %u at %u past the "
					 "vocabulary", tokens[i + 1], i + 1);
		for (uint32_t v = 0; v < vocab; v++)
			max = l[v] > max ? l[v] : max;
		for (uint32_t v = 0; v < vocab; v++)
			sum += exp(l[v] - max);
		*nll_sum += max + log(sum) - l[tokens[i + 1]];
	}
	return QVK_OK;
}
