/* SPDX-License-Identifier: MIT */
/*
 * Quantizing to K-quants (GGUF Q4_K, Q5_K, Q6_K): the codes, sub-block
 * scales (and mins) and super-block scales of each 256-element block,
 * packed by runtime/format/kquant_pack.c.
 *
 * A super-block is fitted in three steps:
 *   1. each sub-block gets a real scale s (and, Q4_K/Q5_K, a min m >= 0:
 *      x ≈ s·q − m with q in 0..nmax, the range always holding 0) from
 *      its range, or with @search from the best of a grid of candidate
 *      step sizes around the range's, each refitted by weighted least
 *      squares for the codes it gives (the idea of ggml's make_qkx2 /
 *      make_qx_quants, done here from the formulas);
 *   2. the scales become integers under one fp16 d (and dmin): Q4_K/Q5_K
 *      sc = round(s / d) in 0..63 with d = max s / 63; Q6_K sc in
 *      -128..127 with d = -s_max / 128 for the scale s_max of largest
 *      magnitude, so that it uses the extra negative value, as ggml does;
 *   3. with @search each sub-block's integer scale (and min) is then
 *      moved by -1, 0 or +1 to whichever gives the least weighted error
 *      with the codes rounded under the stored values.
 * The error the search minimizes is Σ w_e (x_e − x̂_e)², w_e the
 * per-column importance (the layer's mean input squares, GPTQ's Hessian
 * diagonal; 1 without one) times sqrt(2·mean(x²) + x_e²): the larger
 * weights of a block carry more of a layer's output, so their error
 * counts more (as ggml weighs its K-quant fits). Measured through
 * llama.cpp on tests/check_quantize_kquant.c's model: KL to F32 from
 * 1.02x llama.cpp's Q4_K_M (0.93..1.10) with the importance alone to
 * 0.99x (0.88..1.09, 20 seeds) with it scaled so.
 *
 * Every value is computed as the decoders compute it (kquant_layout.h):
 * (d * sc) * code − dmin * mn in float, so the codes chosen here are the
 * ones the stored scales round to.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/kquant.h>

#include "format/format_internal.h"
#include "quant/quant_internal.h"

/* The shape of a writable K-quant type. */
struct qvk_kq_shape {
	uint32_t unit;  /* elements per sub-block */
	int cmin, cmax; /* code range */
	bool mins;      /* asymmetric: sub-block mins under dmin */
};

bool qvk_kq_writable(uint32_t type)
{
	const struct qvk_type_info *t = qvk_type_info(type);

	return t && t->writable && t->kernel == QVK_KERNEL_KQUANT;
}

static struct qvk_kq_shape qvk_kq_shape_of(uint32_t type)
{
	switch (type) {
	case QVK_GGML_TYPE_Q4_K: return (struct qvk_kq_shape){ 32, 0, 15, true };
	case QVK_GGML_TYPE_Q5_K: return (struct qvk_kq_shape){ 32, 0, 31, true };
	default: return (struct qvk_kq_shape){ 16, -32, 31, false }; /* Q6_K */
	}
}

static inline int qvk_kq_round(float v, int lo, int hi)
{
	return (int)qvk_round_clamp(v, (float)lo, (float)hi);
}

/*
 * The code of @x under step @s and offset @m (x̂ = s·q − m), and x̂.
 * A zero step codes everything as the code nearest 0.
 */
static inline int qvk_kq_code_at(const struct qvk_kq_shape *sh, float s,
				 float m, float x, float *value)
{
	int q = s != 0.0f ? qvk_kq_round((x + m) / s, sh->cmin, sh->cmax) :
			    (sh->cmin > 0 ? sh->cmin : 0);

	*value = s * (float)q - m;
	return q;
}

/* Σ w (x − x̂)² of @n values under (s, m), codes into @q when not NULL. */
static float qvk_kq_sse(const struct qvk_kq_shape *sh, const float *x,
			const float *w, uint32_t n, float s, float m, int8_t *q)
{
	float err = 0.0f;

	for (uint32_t i = 0; i < n; i++) {
		float v, e;
		int c = qvk_kq_code_at(sh, s, m, x[i], &v);

		if (q)
			q[i] = (int8_t)c;
		e = x[i] - v;
		err += (w ? w[i] : 1.0f) * e * e;
	}
	return err;
}

/*
 * Weighted least squares of x ≈ s·L − m for fixed codes L: the normal
 * equations of (s, b = −m); an offset that would leave 0 outside the
 * range (b > 0) is clamped to 0 and s refitted alone.
 */
static void qvk_kq_lsq(const float *x, const float *w, const float *lv,
		       uint32_t n, bool with_min, float *s, float *m)
{
	double sw = 0, sl = 0, sll = 0, sx = 0, slx = 0, det;

	for (uint32_t i = 0; i < n; i++) {
		double wi = w ? w[i] : 1.0;

		sw += wi;
		sl += wi * lv[i];
		sll += wi * lv[i] * lv[i];
		sx += wi * x[i];
		slx += wi * lv[i] * x[i];
	}
	*m = 0.0f;
	if (with_min && (det = sw * sll - sl * sl) > 0) {
		double b = (sll * sx - sl * slx) / det;

		if (b <= 0) {
			*s = (float)((sw * slx - sl * sx) / det);
			*m = (float)-b;
			return;
		}
	}
	*s = sll > 0 ? (float)(slx / sll) : 0.0f;
}

/* Step 1: the real (s, m) of one sub-block. */
static void qvk_kq_fit_sub(const struct qvk_kq_shape *sh, const float *x,
			   const float *w, bool search, float *s_out,
			   float *m_out)
{
	uint32_t n = sh->unit;
	float lo = x[0], hi = x[0], vmax = x[0], best, lv[32];

	for (uint32_t i = 1; i < n; i++) {
		lo = fminf(lo, x[i]);
		hi = fmaxf(hi, x[i]);
		if (fabsf(x[i]) > fabsf(vmax))
			vmax = x[i];
	}
	if (sh->mins) {
		lo = fminf(lo, 0.0f);
		*m_out = -lo;
		*s_out = hi > lo ? (hi - lo) / (float)sh->cmax : 0.0f;
	} else {
		*m_out = 0.0f;
		/* the largest magnitude on the extra negative code */
		*s_out = vmax / (float)sh->cmin;
	}
	if (!search || *s_out == 0.0f)
		return;
	best = qvk_kq_sse(sh, x, w, n, *s_out, *m_out, NULL);
	for (int step = -10; step <= 10; step++) {
		float range = sh->mins ? hi - lo : -vmax;
		float inv = ((float)(sh->mins ? sh->cmax : -sh->cmin) +
			     0.1f * (float)step) / range;
		float s, m, err;

		for (uint32_t i = 0; i < n; i++) {
			int c = qvk_kq_round(sh->mins ? (x[i] - lo) * inv :
							x[i] * inv,
					     sh->cmin, sh->cmax);

			lv[i] = (float)c;
		}
		qvk_kq_lsq(x, w, lv, n, sh->mins, &s, &m);
		if (!isfinite(s) || !isfinite(m) || s == 0.0f ||
		    (sh->mins && s < 0.0f))
			continue;
		err = qvk_kq_sse(sh, x, w, n, s, m, NULL);
		if (err < best) {
			best = err;
			*s_out = s;
			*m_out = m;
		}
	}
}

/* fp16 of @v (round to nearest), and its float value. */
static float qvk_kq_half(float v, uint16_t *h)
{
	*h = qvk_fp16_from_f32(v);
	return qvk_fp16_to_f32(*h);
}

/* Effective step and offset of sub-block @j, as the decoders form them. */
static inline void qvk_kq_sub_params(const struct qvk_kq_block *b, uint32_t j,
				     float *s, float *m)
{
	float d = qvk_fp16_to_f32(b->d16), dmin = qvk_fp16_to_f32(b->dmin16);

	*s = d * (float)b->sc[j];
	*m = dmin * (float)b->mn[j];
}

/* Step 3: integer scale (and min) of sub-block @j moved by -1..1. */
static void qvk_kq_refine(const struct qvk_kq_shape *sh, const float *x,
			  const float *w, struct qvk_kq_block *b, uint32_t j)
{
	int lo = sh->mins ? 0 : -128, hi = sh->mins ? 63 : 127;
	int sc0 = b->sc[j], mn0 = b->mn[j], best_sc = sc0, best_mn = mn0;
	float s, m, best;

	qvk_kq_sub_params(b, j, &s, &m);
	best = qvk_kq_sse(sh, x, w, sh->unit, s, m, NULL);
	for (int ds = -1; ds <= 1; ds++)
		for (int dm = sh->mins ? -1 : 0; dm <= (sh->mins ? 1 : 0); dm++) {
			float err;

			if (sc0 + ds < lo || sc0 + ds > hi || mn0 + dm < 0 ||
			    mn0 + dm > 63 || (!ds && !dm))
				continue;
			b->sc[j] = (int16_t)(sc0 + ds);
			b->mn[j] = (int16_t)(mn0 + dm);
			qvk_kq_sub_params(b, j, &s, &m);
			err = qvk_kq_sse(sh, x, w, sh->unit, s, m, NULL);
			if (err < best) {
				best = err;
				best_sc = sc0 + ds;
				best_mn = mn0 + dm;
			}
		}
	b->sc[j] = (int16_t)best_sc;
	b->mn[j] = (int16_t)best_mn;
}

void qvk_kq_fit_block(uint32_t type, const float *x, const float *w,
		      bool search, struct qvk_kq_block *b)
{
	struct qvk_kq_shape sh = qvk_kq_shape_of(type);
	uint32_t subs = 256 / sh.unit;
	float s[16], m[16], smax = 0.0f, mmax = 0.0f, d, dmin, ew[256];
	double sx2 = 0;

	memset(b, 0, sizeof(*b));
	if (search) { /* the element weights of the error (see the top) */
		for (uint32_t e = 0; e < 256; e++)
			sx2 += (double)x[e] * x[e];
		for (uint32_t e = 0; e < 256; e++)
			ew[e] = (w ? w[e] : 1.0f) *
				sqrtf((float)(2.0 * sx2 / 256.0) + x[e] * x[e]);
		w = ew;
	}
	for (uint32_t j = 0; j < subs; j++) {
		qvk_kq_fit_sub(&sh, x + j * sh.unit, w ? w + j * sh.unit : NULL,
			       search, &s[j], &m[j]);
		if (fabsf(s[j]) > fabsf(smax))
			smax = s[j];
		mmax = fmaxf(mmax, m[j]);
	}
	/* step 2: integer sub-block scales under the fp16 super-block ones */
	d = qvk_kq_half(sh.mins ? smax / 63.0f : -smax / 128.0f, &b->d16);
	dmin = qvk_kq_half(mmax / 63.0f, &b->dmin16);
	if (!sh.mins)
		b->dmin16 = 0, dmin = 0.0f;
	for (uint32_t j = 0; j < subs; j++) {
		b->sc[j] = (int16_t)(d != 0.0f ?
			   qvk_kq_round(s[j] / d, sh.mins ? 0 : -128,
					sh.mins ? 63 : 127) : 0);
		b->mn[j] = (int16_t)(dmin != 0.0f ?
			   qvk_kq_round(m[j] / dmin, 0, 63) : 0);
		if (search)
			qvk_kq_refine(&sh, x + j * sh.unit,
				      w ? w + j * sh.unit : NULL, b, j);
	}
	for (uint32_t j = 0; j < subs; j++) {
		float sj, mj;

		qvk_kq_sub_params(b, j, &sj, &mj);
		(void)qvk_kq_sse(&sh, x + j * sh.unit, NULL, sh.unit, sj, mj,
				 b->codes + j * sh.unit);
	}
}

int qvk_kq_block_put(uint32_t type, struct qvk_kq_block *b, uint32_t e,
		     float x, float *value)
{
	struct qvk_kq_shape sh = qvk_kq_shape_of(type);
	float s, m;
	int q;

	qvk_kq_sub_params(b, e / sh.unit, &s, &m);
	q = qvk_kq_code_at(&sh, s, m, x, value);
	b->codes[e] = (int8_t)q;
	return q;
}

qvk_status qvk_kq_quantize(struct qvk_ctx *ctx, const char *name,
			   uint32_t type, const float *w, uint32_t n, uint32_t k,
			   const float *importance, int search, void *blocks,
			   size_t capacity_bytes)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	uint8_t *dst = blocks;
	size_t need;
	qvk_status st;

	if (!name)
		name = "weights";
	if (!w || !blocks)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	if (!qvk_kq_writable(type))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED, "%s: qvk writes the "
				 "K-quants Q4_K, Q5_K and Q6_K, not %s", name,
				 t ? t->name : "this type");
	if (n == 0 || k == 0 || k % 256)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: %s rows of %u "
				 "(n=%u) are not whole blocks of 256", name,
				 t->name, k, n);
	if (!qvk_mul_size((size_t)n * (k / 256), t->block_bytes, &need) ||
	    capacity_bytes < need)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: %zu bytes of "
				 "room for %u x %u %s", name, capacity_bytes, n,
				 k, t->name);
	st = qvk_check_finite(ctx, name, "weight", "row", w, n, k);
	for (uint32_t j = 0; st == QVK_OK && importance && j < k; j++)
		if (!isfinite(importance[j]) || importance[j] < 0.0f)
			st = qvk_error(ctx, QVK_ERR_NUMERIC, "%s: importance %g "
				       "at column %u is not a finite number >= "
				       "0", name, (double)importance[j], j);
	for (uint32_t r = 0; st == QVK_OK && r < n; r++) {
		for (uint32_t c = 0; c < k / 256; c++, dst += t->block_bytes) {
			struct qvk_kq_block b;

			qvk_kq_fit_block(type, w + (size_t)r * k + 256 * c,
					 importance ? importance + 256 * c : NULL,
					 search, &b);
			if (!isfinite(qvk_fp16_to_f32(b.d16)) ||
			    !isfinite(qvk_fp16_to_f32(b.dmin16))) {
				st = qvk_error(ctx, QVK_ERR_NUMERIC, "%s: row %u "
					       "block %u: a scale does not fit "
					       "in fp16", name, r, c);
				break;
			}
			qvk_kq_block_pack(type, &b, dst);
		}
		if ((r & 255) == 255 || r + 1 == n)
			qvk_progress(ctx, name, r + 1, n);
	}
	return st;
}
