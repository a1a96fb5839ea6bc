/* SPDX-License-Identifier: MIT */
/*
 * GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022), Algorithm 1 with lazy
 * batch updates, optional act-order with static groups, group-wise scales.
 *
 *   H   = 2XᵀX/t + λI                      (k, k)   ssyrk
 *   U   = chol(H⁻¹) upper, H⁻¹ = UᵀU        (k, k)   spotrf, spotri, spotrf
 *   for each block of B columns [i1, i2):
 *     for each column i in the block (row by row: rows are independent):
 *       q = Q(w_i); e = (w_i − q) / U[i][i]
 *       w_j −= e · U[i][j] for j in (i, i2)           in-block, immediate
 *     W[:, i2:] −= E · U[i1:i2, i2:]                   lazy, one sgemm
 *
 * Group parameters (scale, min) of a row come from its current, already
 * error-corrected weights at the group's first column; B is rounded to a
 * multiple of the group so a group never straddles two blocks. With
 * act_order the columns run by decreasing diag(H) and every group's
 * parameters are fixed up front from the original W ("static groups"), so
 * the stored layout stays in the original column order.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"

struct key_index {
	float key;
	uint32_t index;
};

/* Decreasing key, then increasing index: a deterministic order. */
static int cmp_key_desc(const void *a, const void *b)
{
	const struct key_index *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * H (k, k) = 2XᵀX/t, full symmetric, from the upper triangle of the sums
 * XᵀX; dead channels (never active) get H_jj = 1 and their weights zeroed,
 * as the reference implementation does.
 */
static void gptq_hessian(float *h, double tokens, uint32_t k, float *w,
			 uint32_t n)
{
	float scale = (float)(2.0 / tokens);

	for (uint32_t i = 0; i < k; i++) {
		for (uint32_t j = i; j < k; j++)
			h[(size_t)i * k + j] *= scale;
		for (uint32_t j = 0; j < i; j++)
			h[(size_t)i * k + j] = h[(size_t)j * k + i];
	}
	for (uint32_t j = 0; j < k; j++) {
		if (h[(size_t)j * k + j] != 0.0f)
			continue;
		h[(size_t)j * k + j] = 1.0f;
		for (uint32_t r = 0; r < n; r++)
			w[(size_t)r * k + j] = 0.0f;
	}
}

/*
 * U with H⁻¹ = UᵀU from H (k, k), in place; damping grows on failure.
 * With J the reversal of the k indices and JHJ = LLᵀ (lower Cholesky),
 * H⁻¹ = (L⁻¹J)ᵀ(L⁻¹J) = (JL⁻¹J)ᵀ(JL⁻¹J) and JL⁻¹J is upper triangular
 * with a positive diagonal: the unique upper factor, for a Cholesky and
 * a triangular inverse (2k³/3 flops) instead of inverting H and
 * factoring again (4k³/3).
 */
static qvk_status gptq_inverse_factor(struct qvk_ctx *ctx, const char *name,
				      float *h, float *work, uint32_t k,
				      float damp)
{
	double mean = 0.0;

	for (uint32_t j = 0; j < k; j++)
		mean += h[(size_t)j * k + j];
	mean /= k;
	for (int attempt = 0; attempt < 6; attempt++, damp *= 10.0f) {
		lapack_int info;

		for (uint32_t i = 0; i < k; i++)
			for (uint32_t j = 0; j < k; j++)
				work[(size_t)(k - 1 - i) * k + (k - 1 - j)] =
					h[(size_t)i * k + j];
		for (uint32_t j = 0; j < k; j++)
			work[(size_t)j * k + j] += damp * (float)mean;
		info = LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)k,
				      work, (lapack_int)k);
		if (!info)
			info = LAPACKE_strtri(LAPACK_ROW_MAJOR, 'L', 'N',
					      (lapack_int)k, work, (lapack_int)k);
		if (!info) {
			for (uint32_t i = 0; i < k; i++)
				for (uint32_t j = 0; j < k; j++)
					h[(size_t)i * k + j] =
						j < i ? 0.0f :
						work[(size_t)(k - 1 - i) * k +
						     (k - 1 - j)];
			return QVK_OK;
		}
		qvk_log(ctx, QVK_LOG_WARN,
			"%s: Hessian not positive definite with damping %g "
			"(LAPACK info %d); retrying with %g", name,
			(double)damp, (int)info, (double)damp * 10.0);
	}
	return qvk_error(ctx, QVK_ERR_NUMERIC,
			 "%s: the calibration Hessian stays singular even with "
			 "damping %g", name, (double)damp);
}

/*
 * What GPTQ quantizes into: a qvk_qtensor's groups (below) or K-quant
 * super-blocks (kquant_fit.c's, through qvk_gptq_kq_*). fit() chooses
 * the parameters of (row, group) from @wrow, the row's weights in their
 * original column order; put() codes one weight under them and returns
 * the value it decodes to.
 */
struct gptq_run {
	struct qvk_gptq_grid *grid;
	uint32_t n, k, block;
	float *w;             /* (n, k) working weights, processing order */
	const float *u;       /* (k, k) upper factor, processing order */
	float *err;           /* (n, block) */
	const uint32_t *perm; /* processing position -> original column */
	bool static_groups;   /* every group fitted up front */
};

/* Columns [i1, i2) of one row, with immediate in-block error feedback. */
static int gptq_row_block(struct gptq_run *run, uint32_t row, uint32_t i1,
			  uint32_t i2)
{
	struct qvk_gptq_grid *g = run->grid;
	float *wrow = run->w + (size_t)row * run->k;
	float *erow = run->err + (size_t)row * run->block;

	for (uint32_t i = i1; i < i2; i++) {
		uint32_t col = run->perm ? run->perm[i] : i;
		const float *urow = run->u + (size_t)i * run->k;
		float w = wrow[i], q, e;

		/* without act-order processing order is column order */
		if (!run->static_groups && i % g->group == 0 &&
		    g->fit(g, row, i / g->group, wrow))
			return -1;
		q = g->put(g, row, col, w);
		e = (w - q) / urow[i];
		erow[i - i1] = e;
		for (uint32_t j = i + 1; j < i2; j++)
			wrow[j] -= e * urow[j];
	}
	return 0;
}

static qvk_status gptq_run_blocks(struct qvk_ctx *ctx, const char *name,
				  struct gptq_run *run)
{
	for (uint32_t i1 = 0; i1 < run->k; i1 += run->block) {
		uint32_t i2 = QVK_MIN(i1 + run->block, run->k);

		for (uint32_t r = 0; r < run->n; r++)
			if (gptq_row_block(run, r, i1, i2))
				return qvk_error(ctx, QVK_ERR_NUMERIC,
						 "%s: row %u near column %u: a "
						 "group's range does not fit an "
						 "fp16 scale", name, r, i1);
		if (i2 < run->k)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    (int)run->n, (int)(run->k - i2),
				    (int)(i2 - i1), -1.0f, run->err,
				    (int)run->block,
				    run->u + (size_t)i1 * run->k + i2,
				    (int)run->k, 1.0f, run->w + i2, (int)run->k);
		qvk_progress(ctx, name, i2, run->k);
	}
	return QVK_OK;
}

/* Permute the columns of W (n, k) and both axes of H (k, k) by perm. */
static void gptq_permute(float *w, float *h, float *tmp, uint32_t n,
			 uint32_t k, const uint32_t *perm)
{
	for (uint32_t r = 0; r < n; r++) {
		float *row = w + (size_t)r * k;

		for (uint32_t i = 0; i < k; i++)
			tmp[i] = row[perm[i]];
		memcpy(row, tmp, (size_t)k * sizeof(*row));
	}
	for (uint32_t i = 0; i < k; i++)
		for (uint32_t j = 0; j < k; j++)
			tmp[(size_t)i * k + j] = h[(size_t)perm[i] * k + perm[j]];
	memcpy(h, tmp, (size_t)k * k * sizeof(*h));
}

static qvk_status gptq_check(struct qvk_ctx *ctx, const char *name,
			     const float *w, uint32_t n, uint32_t k,
			     const struct qvk_gptq_params *p)
{
	if (!w || !p || n == 0 || k == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: NULL argument or empty shape", name);
	if (k > 65536 || n > (1u << 24))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: %u x %u is beyond GPTQ's limits here", name,
				 n, k);
	if (p->quant.clip == QVK_CLIP_PERCENTILE || p->quant.importance)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: GPTQ takes min/max or MSE clipping without "
				 "importance", name);
	if (!(p->damp >= 0.0f && p->damp < 10.0f))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: damping %g is not in [0, 10)", name,
				 (double)p->damp);
	return qvk_check_finite(ctx, name, "weight", "row", w, n, k);
}

static qvk_status gptq_check_x(struct qvk_ctx *ctx, const char *name,
			       const float *x, uint32_t t, uint32_t k)
{
	if (!x || t == 0 || t > (1u << 26))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: no calibration rows, or too many (%u)",
				 name, t);
	return qvk_check_finite(ctx, name, "calibration input", "token", x, t, k);
}

qvk_status qvk_gptq_solve(struct qvk_ctx *ctx, const char *name, float *h,
			  double tokens, float *w, uint32_t n, uint32_t k,
			  const struct qvk_gptq_params *params,
			  struct qvk_gptq_grid *grid)
{
	struct gptq_run run = { 0 };
	float *work = NULL;
	struct key_index *order = NULL;
	uint32_t *perm = NULL;
	qvk_status st = QVK_OK;
	size_t kk = (size_t)k * k;

	run.grid = grid;
	run.n = n;
	run.k = k;
	run.block = params->block ? params->block : 128;
	run.block = grid->group >= k ? run.block :
		    QVK_ALIGN_UP(run.block, grid->group);
	work = malloc(QVK_MAX(kk, (size_t)k) * sizeof(*work));
	run.err = malloc((size_t)n * run.block * sizeof(*run.err));
	if (!work || !run.err) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY,
			       "%s: no memory for GPTQ of %u x %u", name, n, k);
		goto out_free;
	}
	gptq_hessian(h, tokens, k, w, n);
	run.w = w;
	if (params->act_order) {
		order = malloc((size_t)k * sizeof(*order));
		perm = malloc((size_t)k * sizeof(*perm));
		if (!order || !perm) {
			st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory",
				       name);
			goto out_free;
		}
		/* static groups: fitted from W before any error feedback */
		for (uint32_t r = 0; r < n; r++)
			for (uint32_t g = 0; g * grid->group < k; g++)
				if (grid->fit(grid, r, g, w + (size_t)r * k)) {
					st = qvk_error(ctx, QVK_ERR_NUMERIC,
						       "%s: row %u: a group's "
						       "range does not fit an "
						       "fp16 scale", name, r);
					goto out_free;
				}
		run.static_groups = true;
		for (uint32_t j = 0; j < k; j++)
			order[j] = (struct key_index){ h[(size_t)j * k + j], j };
		qsort(order, k, sizeof(*order), cmp_key_desc);
		for (uint32_t j = 0; j < k; j++)
			perm[j] = order[j].index;
		gptq_permute(w, h, work, n, k, perm);
		run.perm = perm;
	}
	st = gptq_inverse_factor(ctx, name, h, work, k,
				 params->damp > 0.0f ? params->damp : 0.01f);
	if (st)
		goto out_free;
	run.u = h;
	st = gptq_run_blocks(ctx, name, &run);
out_free:
	free(perm);
	free(order);
	free(run.err);
	free(work);
	return st;
}

/* ------------------------------------------------- qvk_qtensor groups */

struct gptq_qgrid {
	struct qvk_gptq_grid base;
	const struct qvk_quant_params *qp;
	struct qvk_qtensor *qt;
	struct qvk_qgroup *groups; /* (n, n_groups) */
	float *scratch;            /* group floats */
	uint32_t k;
};

static int gptq_qgrid_fit(struct qvk_gptq_grid *base, uint32_t row,
			  uint32_t g, const float *wrow)
{
	struct gptq_qgrid *q = (struct gptq_qgrid *)base;
	uint32_t k0 = g * q->qt->group;
	struct qvk_qgroup *gp = &q->groups[(size_t)row * q->qt->n_groups + g];

	if (qvk_qgroup_choose(q->qp, wrow + k0,
			      QVK_MIN(q->qt->group, q->k - k0), NULL,
			      q->scratch, gp))
		return -1;
	qvk_qtensor_set_group(q->qt, row, g, gp);
	return 0;
}

static float gptq_qgrid_put(struct qvk_gptq_grid *base, uint32_t row,
			    uint32_t col, float w)
{
	struct gptq_qgrid *q = (struct gptq_qgrid *)base;
	const struct qvk_qgroup *gp =
		&q->groups[(size_t)row * q->qt->n_groups + col / q->qt->group];
	int code = qvk_qcode(q->qp->format, gp, w);

	qvk_qtensor_set_code(q->qt, row, col, code);
	return qvk_qvalue(q->qp->format, gp->d, gp->m, code);
}

/*
 * GPTQ into a qvk_qtensor on @h (k, k): the upper triangle holds XᵀX
 * summed over @tokens rows. @h and @w are consumed (overwritten).
 */
static qvk_status gptq_core(struct qvk_ctx *ctx, const char *name, float *h,
			    double tokens, float *w, uint32_t n, uint32_t k,
			    const struct qvk_gptq_params *params,
			    struct qvk_qtensor **out)
{
	struct gptq_qgrid grid = { .qp = &params->quant, .k = k };
	struct qvk_qtensor *qt = NULL;
	qvk_status st;

	st = qvk_qtensor_create(ctx, params->quant.format, n, k,
				params->quant.group, &qt);
	if (st)
		return st;
	grid.qt = qt;
	grid.base.group = qt->group;
	grid.base.fit = gptq_qgrid_fit;
	grid.base.put = gptq_qgrid_put;
	grid.groups = calloc((size_t)n * qt->n_groups, sizeof(*grid.groups));
	grid.scratch = malloc((size_t)qt->group * sizeof(*grid.scratch));
	if (!grid.groups || !grid.scratch) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY,
			       "%s: no memory for GPTQ of %u x %u", name, n, k);
		goto out_free;
	}
	st = qvk_gptq_solve(ctx, name, h, tokens, w, n, k, params, &grid.base);
	if (st)
		goto out_free;
	/* The zero padding of the last group, with that group's parameters. */
	for (uint32_t r = 0; r < n && k < qt->k_padded; r++) {
		size_t gi = (size_t)r * qt->n_groups + qt->n_groups - 1;

		for (uint32_t j = k; j < qt->k_padded; j++)
			qvk_qtensor_set_code(qt, r, j,
					     qvk_qcode(qt->format,
						       &grid.groups[gi], 0.0f));
	}
	*out = qt;
	qt = NULL;
out_free:
	free(grid.scratch);
	free(grid.groups);
	qvk_qtensor_destroy(qt);
	return st;
}

qvk_status qvk_gptq_hessian_add(struct qvk_ctx *ctx, const char *name,
				const float *x, uint32_t t, uint32_t k,
				float *xtx)
{
	qvk_status st;

	if (!name)
		name = "gptq";
	if (!xtx || k == 0 || k > 65536)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: NULL sums or bad width %u", name, k);
	st = gptq_check_x(ctx, name, x, t, k);
	if (st)
		return st;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)t,
		    1.0f, x, (int)k, 1.0f, xtx, (int)k);
	return QVK_OK;
}

/* A checked copy of the Hessian sums @xtx (k, k) for one quantization. */
static qvk_status gptq_hessian_copy(struct qvk_ctx *ctx, const char *name,
				    const float *xtx, uint64_t tokens,
				    uint32_t k, float **h)
{
	*h = NULL;
	if (!xtx || tokens == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: no calibration sums", name);
	for (uint32_t i = 0; i < k; i++)
		for (uint32_t j = i; j < k; j++)
			if (!isfinite(xtx[(size_t)i * k + j]))
				return qvk_error(ctx, QVK_ERR_NUMERIC,
						 "%s: non-finite Hessian sum at "
						 "(%u, %u)", name, i, j);
	*h = malloc((size_t)k * k * sizeof(**h));
	if (!*h)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
	memcpy(*h, xtx, (size_t)k * k * sizeof(**h));
	return QVK_OK;
}

/* A copy of W for GPTQ to work in. */
static float *gptq_w_copy(const float *w, uint32_t n, uint32_t k)
{
	float *wk = malloc((size_t)n * k * sizeof(*wk));

	if (wk)
		memcpy(wk, w, (size_t)n * k * sizeof(*wk));
	return wk;
}

qvk_status qvk_gptq_qtensor_consume(struct qvk_ctx *ctx, const char *name,
				    const float *xtx, uint64_t tokens,
				    float *w, uint32_t n, uint32_t k,
				    const struct qvk_gptq_params *params,
				    struct qvk_qtensor **out)
{
	qvk_status st;
	float *h;

	if (!name)
		name = "gptq";
	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: out is NULL", name);
	*out = NULL;
	st = gptq_check(ctx, name, w, n, k, params);
	if (st == QVK_OK)
		st = gptq_hessian_copy(ctx, name, xtx, tokens, k, &h);
	if (st)
		return st;
	qvk_progress(ctx, name, 0, k);
	st = gptq_core(ctx, name, h, (double)tokens, w, n, k, params, out);
	free(h);
	return st;
}

qvk_status qvk_gptq_quantize_hessian(struct qvk_ctx *ctx, const char *name,
				     const float *xtx, uint64_t tokens,
				     const float *w, uint32_t n, uint32_t k,
				     const struct qvk_gptq_params *params,
				     struct qvk_qtensor **out)
{
	float *wk;
	qvk_status st;

	if (!name)
		name = "gptq";
	if (out)
		*out = NULL;
	st = gptq_check(ctx, name, w, n, k, params);
	if (st)
		return st;
	wk = gptq_w_copy(w, n, k);
	if (!wk)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
	st = qvk_gptq_qtensor_consume(ctx, name, xtx, tokens, wk, n, k, params,
				      out);
	free(wk);
	return st;
}

qvk_status qvk_gptq_quantize(struct qvk_ctx *ctx, const char *name,
			     const float *x, uint32_t t, const float *w,
			     uint32_t n, uint32_t k,
			     const struct qvk_gptq_params *params,
			     struct qvk_qtensor **out)
{
	qvk_status st;
	float *h, *wk;

	if (!name)
		name = "gptq";
	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: out is NULL", name);
	*out = NULL;
	st = gptq_check(ctx, name, w, n, k, params);
	if (!st)
		st = gptq_check_x(ctx, name, x, t, k);
	if (st)
		return st;
	h = malloc((size_t)k * k * sizeof(*h));
	wk = gptq_w_copy(w, n, k);
	if (!h || !wk) {
		free(h);
		free(wk);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: no memory", name);
	}
	qvk_progress(ctx, name, 0, k);
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)t, 1.0f,
		    x, (int)k, 0.0f, h, (int)k);
	st = gptq_core(ctx, name, h, (double)t, wk, n, k, params, out);
	free(h);
	free(wk);
	return st;
}
