/* SPDX-License-Identifier: MIT */
/*
 * Calibration of a group's clipping range: min/max, percentile, or the
 * shrink factor of the range that minimises the group's (importance
 * weighted) squared error — "MSE clipping", the per-group scale search of
 * AWQ's auto_clip and llama.cpp's make_qx_quants in simpler form.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks of sorted v[0..count). */
static float percentile_sorted(const float *v, uint32_t count, double p)
{
	double pos = p / 100.0 * (double)(count - 1);
	uint32_t i = (uint32_t)pos;
	double frac = pos - (double)i;

	if (i + 1 >= count)
		return v[count - 1];
	return (float)((1.0 - frac) * v[i] + frac * v[i + 1]);
}

/*
 * Σ imp·(x − x̂)² of a candidate, for the search only (the stored codes
 * come from qvk_qcode): a reciprocal instead of a division, in 8
 * independent lanes that the compiler turns into vector code.
 */
static float group_sse(const struct qvk_quant_params *p, const float *x,
		       uint32_t count, const float *importance,
		       const struct qvk_qgroup *g)
{
	float lo, hi, inv, off, acc[8] = { 0 };
	uint32_t i = 0;

	switch (p->format) {
	case QVK_QFORMAT_Q8:
		lo = -127.0f, hi = 127.0f, off = 0.0f;
		break;
	case QVK_QFORMAT_Q4:
		lo = -8.0f, hi = 7.0f, off = 0.0f;
		break;
	case QVK_QFORMAT_Q4A:
	default:
		lo = 0.0f, hi = 15.0f, off = g->m;
		break;
	}
	inv = g->d != 0.0f ? 1.0f / g->d : 0.0f;
	for (; i + 8 <= count; i += 8) {
		float e[8];

		for (uint32_t l = 0; l < 8; l++) {
			float v = qvk_round_clamp((x[i + l] - off) * inv, lo, hi);

			e[l] = x[i + l] - (v * g->d + off);
			e[l] *= e[l];
		}
		if (importance)
			for (uint32_t l = 0; l < 8; l++)
				acc[l] += importance[i + l] * e[l];
		else
			for (uint32_t l = 0; l < 8; l++)
				acc[l] += e[l];
	}
	for (; i < count; i++) {
		float v = qvk_round_clamp((x[i] - off) * inv, lo, hi);
		float e = x[i] - (v * g->d + off);

		acc[0] += (importance ? importance[i] : 1.0f) * e * e;
	}
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
	       ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

int qvk_qgroup_choose(const struct qvk_quant_params *p, const float *x,
		      uint32_t count, const float *importance, float *scratch,
		      struct qvk_qgroup *g)
{
	float lo = x[0], hi = x[0];
	uint32_t steps;
	float best;

	for (uint32_t i = 1; i < count; i++) {
		lo = fminf(lo, x[i]);
		hi = fmaxf(hi, x[i]);
	}
	switch (p->clip) {
	case QVK_CLIP_PERCENTILE:
		memcpy(scratch, x, (size_t)count * sizeof(*x));
		qsort(scratch, count, sizeof(*scratch), cmp_float);
		hi = percentile_sorted(scratch, count, p->percentile);
		lo = percentile_sorted(scratch, count, 100.0 - p->percentile);
		return qvk_qgroup_fit(p->format, lo, hi, g);
	case QVK_CLIP_MSE:
		if (qvk_qgroup_fit(p->format, lo, hi, g))
			return -1;
		best = group_sse(p, x, count, importance, g);
		if (!isfinite(best)) /* extreme ranges: keep min/max */
			return 0;
		steps = p->mse_steps ? p->mse_steps : 20;
		for (uint32_t s = 1; s < steps && best > 0.0; s++) {
			float f = 1.0f - (1.0f - p->mse_min_shrink) * (float)s /
						 (float)(steps > 1 ? steps - 1 : 1);
			struct qvk_qgroup c;
			float sse;

			if (qvk_qgroup_fit(p->format, lo * f, hi * f, &c))
				continue;
			sse = group_sse(p, x, count, importance, &c);
			if (sse < best) { /* ties keep the wider range */
				best = sse;
				*g = c;
			}
		}
		return 0;
	case QVK_CLIP_MINMAX:
	default:
		return qvk_qgroup_fit(p->format, lo, hi, g);
	}
}
