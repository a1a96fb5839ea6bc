/* SPDX-License-Identifier: MIT */
/*
 * The batched calibration pass: every calibration position at once, one
 * layer at a time, the computations of the scalar reference
 * (runtime/model/reference.c) over (positions, width) matrices so that the
 * linear layers are single matrix products (qvk_gemm_nt: sgemm). The
 * positions are windows of BOS followed by up to window - 1 text tokens;
 * attention is causal within a window.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

void qvk_batch_destroy(struct qvk_batch *b)
{
	if (!b)
		return;
	free(b->starts);
	free(b->tokens);
	free(b->x);
	free(b->freq);
	free(b);
}

qvk_status qvk_batch_create(struct qvk_ctx *ctx, const struct qvk_model *m,
			    const struct qvk_quantize_options *opt,
			    struct qvk_batch **out)
{
	const struct qvk_model_params *p = &m->params;
	uint32_t w = opt->calib_window ? opt->calib_window :
					 QVK_MIN(256u, p->seq_len);
	struct qvk_batch *b;
	size_t n = opt->n_calib_tokens, nw, t, x_bytes;

	*out = NULL;
	if (!opt->calib_tokens || !n)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: no "
				 "tokens");
	if (w < 2 || w > p->seq_len)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: window "
				 "%u outside 2..seq_len %u", w, p->seq_len);
	if (opt->bos >= p->vocab_size)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: BOS %u "
				 "past the vocabulary (%u)", opt->bos,
				 p->vocab_size);
	nw = QVK_DIV_ROUND_UP(n, (size_t)w - 1);
	t = n + nw;
	if (t > UINT32_MAX / 2 || !qvk_mul_size(t, p->dim, &x_bytes) ||
	    !qvk_mul_size(x_bytes, sizeof(float), &x_bytes))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: %zu "
				 "tokens are too many", n);
	b = calloc(1, sizeof(*b));
	if (!b)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration");
	b->p = p;
	b->window = w;
	b->n_windows = (uint32_t)nw;
	b->t = (uint32_t)t;
	b->starts = malloc((nw + 1) * sizeof(*b->starts));
	b->tokens = malloc(t * sizeof(*b->tokens));
	b->x = malloc(x_bytes);
	b->freq = calloc(qvk_model_rope_dims(p) / 2 + 1, sizeof(*b->freq));
	if (!b->starts || !b->tokens || !b->x || !b->freq) {
		qvk_batch_destroy(b);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration: %zu "
				 "positions of %u", t, p->dim);
	}
	for (size_t wi = 0, pos = 0; wi < nw; wi++) {
		size_t first = wi * (w - 1), len = QVK_MIN((size_t)w - 1, n - first);

		b->starts[wi] = (uint32_t)pos;
		b->tokens[pos++] = opt->bos;
		for (size_t i = 0; i < len; i++, pos++) {
			b->tokens[pos] = opt->calib_tokens[first + i];
			if (b->tokens[pos] >= p->vocab_size) {
				qvk_batch_destroy(b);
				return qvk_error(ctx, QVK_ERR_INVALID_ARG,
						 "calibration: token %u at %zu "
						 "past the vocabulary (%u)",
						 opt->calib_tokens[first + i],
						 first + i, p->vocab_size);
			}
		}
	}
	b->starts[nw] = (uint32_t)t;
	/* the context the reference holds picks the RoPE factors */
	qvk_model_rope_freqs(m, p->seq_len, b->freq);
	*out = b;
	return QVK_OK;
}

void qvk_batch_norm(const struct qvk_batch *b, const float *g, float *out)
{
	uint32_t n = b->p->dim;

	for (uint32_t t = 0; t < b->t; t++) {
		const float *x = b->x + (size_t)t * n;
		float *y = out + (size_t)t * n, ss = 0.0f;

		for (uint32_t i = 0; i < n; i++)
			ss += x[i] * x[i];
		ss = 1.0f / sqrtf(ss / (float)n + b->p->norm_eps);
		for (uint32_t i = 0; i < n; i++)
			y[i] = g[i] * (ss * x[i]);
	}
}

void qvk_batch_rope(const struct qvk_batch *b, float *v, uint32_t n_heads)
{
	const struct qvk_model_params *p = b->p;
	uint32_t half = qvk_model_rope_dims(p) / 2, width = n_heads * p->head_dim;
	float mscale = qvk_model_rope_mscale(p);

	for (uint32_t w = 0; w < b->n_windows; w++)
		for (uint32_t t = b->starts[w]; t < b->starts[w + 1]; t++) {
			uint32_t pos = t - b->starts[w];

			for (uint32_t h = 0; h < n_heads; h++) {
				float *head = v + (size_t)t * width +
					      (size_t)h * p->head_dim;

				for (uint32_t i = 0; i < half; i++) {
					float angle = (float)pos * b->freq[i];
					float c = cosf(angle) * mscale;
					float s = sinf(angle) * mscale;
					uint32_t j0 = p->rope_neox ? i : 2 * i;
					uint32_t j1 = p->rope_neox ? i + half :
								     2 * i + 1;
					float v0 = head[j0], v1 = head[j1];

					head[j0] = v0 * c - v1 * s;
					head[j1] = v0 * s + v1 * c;
				}
			}
		}
}

qvk_status qvk_batch_attention(struct qvk_ctx *ctx, const struct qvk_batch *b,
			       const float *q, const float *k, const float *v,
			       float *out)
{
	const struct qvk_model_params *p = b->p;
	uint32_t hd = p->head_dim, group = p->n_heads / p->n_kv_heads;
	size_t q_dim = (size_t)p->n_heads * hd, kv_dim = (size_t)p->n_kv_heads * hd;
	float scale = 1.0f / sqrtf((float)hd);
	float *att = malloc(b->window * sizeof(*att));

	if (!att)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration attention");
	for (uint32_t w = 0; w < b->n_windows; w++) {
		uint32_t s0 = b->starts[w];

		for (uint32_t t = s0; t < b->starts[w + 1]; t++)
			for (uint32_t h = 0; h < p->n_heads; h++) {
				const float *qh = q + (size_t)t * q_dim +
						  (size_t)h * hd;
				size_t kv_off = (size_t)(h / group) * hd;
				float *o = out + (size_t)t * q_dim + (size_t)h * hd;
				float max = -INFINITY, sum = 0.0f;

				for (uint32_t j = s0; j <= t; j++) {
					const float *kj = k + j * kv_dim + kv_off;
					float score = 0.0f;

					for (uint32_t i = 0; i < hd; i++)
						score += qh[i] * kj[i];
					att[j - s0] = score * scale;
					max = QVK_MAX(max, att[j - s0]);
				}
				for (uint32_t j = 0; j <= t - s0; j++) {
					att[j] = expf(att[j] - max);
					sum += att[j];
				}
				memset(o, 0, hd * sizeof(*o));
				for (uint32_t j = s0; j <= t; j++) {
					const float *vj = v + j * kv_dim + kv_off;
					float a = att[j - s0] / sum;

					for (uint32_t i = 0; i < hd; i++)
						o[i] += a * vj[i];
				}
			}
	}
	free(att);
	return QVK_OK;
}

void qvk_batch_swiglu(const struct qvk_batch *b, float *g, const float *u)
{
	size_t n = (size_t)b->t * b->p->hidden_dim;

	for (size_t i = 0; i < n; i++)
		g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
