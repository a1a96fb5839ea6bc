/* SPDX-License-Identifier: MIT */
/* Error metrics: NMSE, max error, SQNR, cosine; KL and top-1 of logits. */
#include <math.h>

#include <qvk/metrics.h>

#include "internal.h"

static qvk_status check_finite(struct qvk_ctx *ctx, const char *name,
			       const char *which, const float *v, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (!isfinite(v[i]))
			return qvk_error(ctx, QVK_ERR_NUMERIC,
					 "%s: non-finite %s value %g at index %zu",
					 name, which, (double)v[i], i);
	return QVK_OK;
}

qvk_status qvk_error_stats_compute(struct qvk_ctx *ctx, const char *name,
				   const float *ref, const float *got,
				   size_t count, struct qvk_error_stats *out)
{
	double se = 0.0, sr = 0.0, sg = 0.0, dot = 0.0, maxe = 0.0;
	qvk_status st;

	if (!name)
		name = "metrics";
	if (!ref || !got || !out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: NULL argument",
				 name);
	st = check_finite(ctx, name, "reference", ref, count);
	if (!st)
		st = check_finite(ctx, name, "result", got, count);
	if (st)
		return st;
	for (size_t i = 0; i < count; i++) {
		double r = ref[i], g = got[i], e = g - r;

		se += e * e;
		sr += r * r;
		sg += g * g;
		dot += r * g;
		maxe = fmax(maxe, fabs(e));
	}
	out->nmse = sr > 0.0 ? se / sr : se;
	out->max_abs_err = maxe;
	out->sqnr_db = se > 0.0 ? 10.0 * log10(sr / se) : INFINITY;
	if (sr == 0.0 && sg == 0.0)
		out->cosine = 1.0;
	else if (sr == 0.0 || sg == 0.0)
		out->cosine = 0.0;
	else
		out->cosine = dot / (sqrt(sr) * sqrt(sg));
	return QVK_OK;
}

/* log Σ exp(v) in double, the max subtracted first. */
static double log_sum_exp(const float *v, uint32_t n, double vmax)
{
	double s = 0.0;

	for (uint32_t i = 0; i < n; i++)
		s += exp((double)v[i] - vmax);
	return vmax + log(s);
}

static uint32_t argmax(const float *v, uint32_t n, double *vmax)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	*vmax = v[best];
	return best;
}

qvk_status qvk_logit_stats_compute(struct qvk_ctx *ctx, const char *name,
				   const float *ref, const float *got,
				   uint32_t rows, uint32_t vocab,
				   struct qvk_logit_stats *out)
{
	double kl_sum = 0.0, kl_max = 0.0;
	uint64_t agree = 0;
	size_t count;
	qvk_status st;

	if (!name)
		name = "logits";
	if (!ref || !got || !out || rows == 0 || vocab == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: NULL argument or empty logits", name);
	if (!qvk_mul_size(rows, vocab, &count))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: too large", name);
	st = check_finite(ctx, name, "reference logit", ref, count);
	if (!st)
		st = check_finite(ctx, name, "logit", got, count);
	if (st)
		return st;
	for (uint32_t r = 0; r < rows; r++) {
		const float *p = ref + (size_t)r * vocab;
		const float *q = got + (size_t)r * vocab;
		double pmax, qmax, lp, lq, kl = 0.0;
		uint32_t ap = argmax(p, vocab, &pmax);
		uint32_t aq = argmax(q, vocab, &qmax);

		lp = log_sum_exp(p, vocab, pmax);
		lq = log_sum_exp(q, vocab, qmax);
		/* KL = Σ P (log P − log Q), log P = p − lse(p). */
		for (uint32_t i = 0; i < vocab; i++) {
			double logp = (double)p[i] - lp;
			double logq = (double)q[i] - lq;

			kl += exp(logp) * (logp - logq);
		}
		kl = fmax(kl, 0.0); /* rounding can leave -1e-17 */
		kl_sum += kl;
		kl_max = fmax(kl_max, kl);
		agree += ap == aq;
	}
	out->kl_mean = kl_sum / rows;
	out->kl_max = kl_max;
	out->top1 = (double)agree / rows;
	out->rows = rows;
	return QVK_OK;
}
