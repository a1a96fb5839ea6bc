/* SPDX-License-Identifier: MIT */
/*
 * Scalar C references of the op kernels: the oracle of tests/check_ops*.c
 * and a building block of the C reference forward pass. They follow
 * llama2.c's run.c operation by operation (same formulas, same order of
 * float operations where that order is defined), in plain fp32.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

uint16_t qvk_ref_f32_to_f16(float f)
{
	uint32_t x, sign, exp32, mant;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000u;
	exp32 = (x >> 23) & 0xffu;
	mant = x & 0x7fffffu;
	if (exp32 == 0xffu) /* inf, NaN (kept quiet) */
		return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
	int32_t e = (int32_t)exp32 - 127 + 15;
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00u);
	if (e <= 0) {
		/* Subnormal half: shift the full mantissa, round to even. */
		if (e < -10)
			return (uint16_t)sign;
		mant |= 0x800000u;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1);
		uint32_t halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (h & 1u)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
		h++; /* may carry into the exponent: still right, up to inf */
	return (uint16_t)(sign | h);
}

float qvk_ref_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
	float f;

	if (e == 0) {
		f = ldexpf((float)mant, -24);
		return sign ? -f : f;
	}
	if (e == 31)
		x = sign | 0x7f800000u | (mant << 13);
	else
		x = sign | ((e - 15 + 127) << 23) | (mant << 13);
	memcpy(&f, &x, 4);
	return f;
}

void qvk_ref_rmsnorm(const float *x, const float *w, uint32_t dim,
		     uint32_t m, float eps, float *out)
{
	for (uint32_t r = 0; r < m; r++) {
		const float *xr = x + (size_t)r * dim;
		float ss = 0.0f;

		for (uint32_t j = 0; j < dim; j++)
			ss += xr[j] * xr[j];
		ss /= (float)dim;
		ss += eps;
		ss = 1.0f / sqrtf(ss);
		for (uint32_t j = 0; j < dim; j++)
			out[(size_t)r * dim + j] = w[j] * (ss * xr[j]);
	}
}

/* Quantize x[0..n) with scale d into qr's bytes at element @j0, summing. */
static void qvk_ref_quant_span(const float *x, uint32_t n, uint32_t j0, float d,
			       uint32_t *qr, int32_t *suma)
{
	float inv = d > 0.0f ? 1.0f / d : 0.0f;

	for (uint32_t j = 0; j < n; j++) {
		float t = roundf(x[j] * inv);
		int32_t q = (int32_t)fminf(fmaxf(t, -QVK_ACT_LAYOUT_QMAX),
					   QVK_ACT_LAYOUT_QMAX);

		qr[(j0 + j) / 4] |= ((uint32_t)q & 0xffu) << (8 * ((j0 + j) % 4));
		suma[(j0 + j) / QVK_ACT_LAYOUT_BLOCK] += q;
	}
}

void qvk_ref_act_quant(const float *x, uint32_t k, uint32_t m,
		       uint32_t x_stride, bool per_block, uint32_t *qa,
		       float *sa, int32_t *suma)
{
	uint32_t kp = QVK_ACT_LAYOUT_KP(k), nb = kp / QVK_ACT_LAYOUT_BLOCK;

	for (uint32_t r = 0; r < m; r++) {
		const float *xr = x + (size_t)r * x_stride;
		uint32_t *qr = qa + (size_t)r * (kp / 4);
		int32_t *sr = suma + (size_t)r * nb;
		float amax = 0.0f;

		memset(qr, 0, kp);
		memset(sr, 0, nb * sizeof(*sr));
		if (!per_block) {
			for (uint32_t j = 0; j < k; j++)
				amax = fmaxf(amax, fabsf(xr[j]));
			sa[r] = amax / QVK_ACT_LAYOUT_QMAX;
			qvk_ref_quant_span(xr, k, 0, sa[r], qr, sr);
			continue;
		}
		for (uint32_t b = 0; b < nb; b++) {
			uint32_t j0 = b * QVK_ACT_LAYOUT_BLOCK;
			uint32_t n = j0 >= k ? 0 : QVK_MIN(k - j0, QVK_ACT_LAYOUT_BLOCK);

			amax = 0.0f;
			for (uint32_t j = 0; j < n; j++)
				amax = fmaxf(amax, fabsf(xr[j0 + j]));
			sa[(size_t)r * nb + b] = amax / QVK_ACT_LAYOUT_QMAX;
			qvk_ref_quant_span(xr + j0, n, j0, sa[(size_t)r * nb + b],
					   qr, sr);
		}
	}
}

void qvk_ref_rope_freqs(float theta, uint32_t n_dims, float *freq)
{
	/* llama2.c: freq = 1 / powf(10000, head_dim_index / head_size). */
	for (uint32_t i = 0; i < n_dims / 2; i++)
		freq[i] = 1.0f / powf(theta, (float)(2 * i) / (float)n_dims);
}

void qvk_ref_rope(const struct qvk_ops_model *mdl, float *vec, uint32_t m,
		  uint32_t n_heads, uint32_t pos)
{
	float freq[QVK_OPS_MAX_HEAD_DIM / 2];
	uint32_t half = qvk_ops_rope_dims(mdl) / 2, hd = mdl->head_dim;
	float mscale = qvk_ops_rope_mscale(mdl);
	bool neox = mdl->rope_mode == QVK_ROPE_NEOX;

	qvk_ops_rope_table(mdl, freq);
	for (uint32_t r = 0; r < m; r++) {
		for (uint32_t h = 0; h < n_heads; h++) {
			float *v = vec + ((size_t)r * n_heads + h) * hd;

			for (uint32_t i = 0; i < half; i++) {
				float val = (float)(pos + r) * freq[i];
				float fcr = cosf(val) * mscale;
				float fci = sinf(val) * mscale;
				uint32_t j0 = neox ? i : 2 * i;
				uint32_t j1 = neox ? i + half : 2 * i + 1;
				float v0 = v[j0], v1 = v[j1];

				v[j0] = v0 * fcr - v1 * fci;
				v[j1] = v0 * fci + v1 * fcr;
			}
		}
	}
}

void qvk_ref_head_rmsnorm(float *x, const float *w, uint32_t head_dim,
			  uint32_t rows, float eps)
{
	/* Rows of one head each: RMSNorm in place, out may alias x. */
	qvk_ref_rmsnorm(x, w, head_dim, rows, eps, x);
}

void qvk_ref_bias_add(float *y, const float *b, uint32_t n, uint32_t m)
{
	for (uint32_t r = 0; r < m; r++)
		for (uint32_t j = 0; j < n; j++)
			y[(size_t)r * n + j] += b[j];
}

void qvk_ref_kv_write(const struct qvk_ops_model *mdl, uint32_t m,
		      uint32_t pos, const float *k, const float *v,
		      uint16_t *k_cache, uint16_t *v_cache)
{
	uint32_t hd = mdl->head_dim;

	for (uint32_t r = 0; r < m && pos + r < mdl->max_seq; r++)
		for (uint32_t h = 0; h < mdl->n_kv_heads; h++)
			for (uint32_t d = 0; d < hd; d++) {
				size_t src = ((size_t)r * mdl->n_kv_heads + h) * hd + d;
				size_t dst = ((size_t)h * mdl->max_seq + pos + r) * hd + d;

				k_cache[dst] = qvk_ref_f32_to_f16(k[src]);
				v_cache[dst] = qvk_ref_f32_to_f16(v[src]);
			}
}

void qvk_ref_attention(const struct qvk_ops_model *mdl, uint32_t m,
		       uint32_t pos, const float *q, const uint16_t *k_cache,
		       const uint16_t *v_cache, float *att, float *out)
{
	uint32_t hd = mdl->head_dim, group = mdl->n_heads / mdl->n_kv_heads;
	float scale = 1.0f / sqrtf((float)hd);

	for (uint32_t r = 0; r < m; r++) {
		uint32_t n = QVK_MIN(pos + r + 1, mdl->max_seq);

		for (uint32_t h = 0; h < mdl->n_heads; h++) {
			const float *qh = q + ((size_t)r * mdl->n_heads + h) * hd;
			float *oh = out + ((size_t)r * mdl->n_heads + h) * hd;
			size_t cb = (size_t)(h / group) * mdl->max_seq * hd;
			float maxv, sum = 0.0f;

			for (uint32_t t = 0; t < n; t++) {
				const uint16_t *kt = k_cache + cb + (size_t)t * hd;
				float s = 0.0f;

				for (uint32_t d = 0; d < hd; d++)
					s += qh[d] * qvk_ref_f16_to_f32(kt[d]);
				att[t] = s * scale;
			}
			/* softmax, max subtracted */
			maxv = att[0];
			for (uint32_t t = 1; t < n; t++)
				maxv = fmaxf(maxv, att[t]);
			for (uint32_t t = 0; t < n; t++) {
				att[t] = expf(att[t] - maxv);
				sum += att[t];
			}
			for (uint32_t t = 0; t < n; t++)
				att[t] /= sum;
			memset(oh, 0, hd * sizeof(*oh));
			for (uint32_t t = 0; t < n; t++) {
				const uint16_t *vt = v_cache + cb + (size_t)t * hd;

				for (uint32_t d = 0; d < hd; d++)
					oh[d] += att[t] * qvk_ref_f16_to_f32(vt[d]);
			}
		}
	}
}

void qvk_ref_swiglu(const float *gate, const float *up, uint32_t hidden,
		    uint32_t m, uint32_t x_stride, float *out)
{
	for (uint32_t r = 0; r < m; r++)
		for (uint32_t j = 0; j < hidden; j++) {
			float val = gate[(size_t)r * x_stride + j];

			val *= 1.0f / (1.0f + expf(-val));
			val *= up[(size_t)r * x_stride + j];
			out[(size_t)r * hidden + j] = val;
		}
}

uint32_t qvk_ref_argmax(const float *x, uint32_t n)
{
	uint32_t idx = UINT32_MAX;
	float best = -INFINITY;

	for (uint32_t k = 0; k < n; k++)
		if (x[k] > best || (idx == UINT32_MAX && x[k] == best)) {
			best = x[k];
			idx = k;
		}
	return idx == UINT32_MAX ? 0 : idx;
}
