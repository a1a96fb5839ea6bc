/* SPDX-License-Identifier: MIT */
/*
 * GPTQ into K-quant super-blocks (Q4_K, Q5_K, Q6_K): the grid of
 * runtime/quant/gptq.c over kquant_fit.c's blocks. A super-block (256
 * columns) is GPTQ's group: its sub-block scales and mins are fitted at
 * its first column from the row's weights as error feedback has left
 * them, or with act-order from the original weights up front (static
 * groups), weighted by the Hessian's diagonal (the layer's input squares,
 * the importance of each column); then every weight is coded under them
 * with its error fed forward.
 */
#include <stdlib.h>
#include <string.h>

#include <qvk/kquant.h>

#include "format/format_internal.h"
#include "quant/quant_internal.h"

struct gptq_kgrid {
	struct qvk_gptq_grid base;
	uint32_t type, k, per_row;  /* super-blocks per row */
	const float *imp;           /* (k) diag(XᵀX) */
	struct qvk_kq_block *blocks; /* (n, per_row) */
};

static int gptq_kgrid_fit(struct qvk_gptq_grid *base, uint32_t row,
			  uint32_t g, const float *wrow)
{
	struct gptq_kgrid *q = (struct gptq_kgrid *)base;
	struct qvk_kq_block *b = &q->blocks[(size_t)row * q->per_row + g];

	qvk_kq_fit_block(q->type, wrow + 256 * g, q->imp + 256 * g, true, b);
	return isfinite(qvk_fp16_to_f32(b->d16)) &&
	       isfinite(qvk_fp16_to_f32(b->dmin16)) ? 0 : -1;
}

static float gptq_kgrid_put(struct qvk_gptq_grid *base, uint32_t row,
			    uint32_t col, float w)
{
	struct gptq_kgrid *q = (struct gptq_kgrid *)base;
	float v;

	(void)qvk_kq_block_put(q->type,
			       &q->blocks[(size_t)row * q->per_row + col / 256],
			       col % 256, w, &v);
	return v;
}

qvk_status qvk_gptq_kq_consume(struct qvk_ctx *ctx, const char *name,
			       const float *xtx, uint64_t tokens, float *w,
			       uint32_t n, uint32_t k, uint32_t type,
			       const struct qvk_gptq_params *params,
			       void *blocks, size_t capacity_bytes)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	struct gptq_kgrid grid = { .type = type, .k = k };
	float *h = NULL, *imp = NULL;
	uint8_t *dst = blocks;
	qvk_status st = QVK_OK;

	if (!name)
		name = "gptq";
	if (!qvk_kq_writable(type) || k % 256 || !n || !w || !xtx || !tokens ||
	    !blocks || capacity_bytes < (size_t)n * (k / 256) * t->block_bytes)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%s: GPTQ to %s needs "
				 "rows of whole 256-blocks, calibration sums "
				 "and room for the blocks", name,
				 t ? t->name : "a K-quant");
	grid.per_row = k / 256;
	grid.base.group = 256;
	grid.base.fit = gptq_kgrid_fit;
	grid.base.put = gptq_kgrid_put;
	h = malloc((size_t)k * k * sizeof(*h));
	imp = malloc((size_t)k * sizeof(*imp));
	grid.blocks = malloc((size_t)n * grid.per_row * sizeof(*grid.blocks));
	if (!h || !imp || !grid.blocks) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: GPTQ of %u x %u",
			       name, n, k);
		goto out_free;
	}
	for (uint32_t i = 0; i < k; i++) {
		for (uint32_t j = i; j < k; j++)
			if (!isfinite(xtx[(size_t)i * k + j]))
				st = qvk_error(ctx, QVK_ERR_NUMERIC, "%s: "
					       "non-finite Hessian sum at (%u, "
					       "%u)", name, i, j);
		imp[i] = xtx[(size_t)i * k + i] / (float)tokens;
	}
	if (st == QVK_OK)
		st = qvk_check_finite(ctx, name, "weight", "row", w, n, k);
	if (st)
		goto out_free;
	memcpy(h, xtx, (size_t)k * k * sizeof(*h));
	grid.imp = imp;
	qvk_progress(ctx, name, 0, k);
	st = qvk_gptq_solve(ctx, name, h, (double)tokens, w, n, k, params,
			    &grid.base);
	for (size_t b = 0; st == QVK_OK && b < (size_t)n * grid.per_row; b++)
		qvk_kq_block_pack(type, &grid.blocks[b],
				  dst + b * t->block_bytes);
out_free:
	free(grid.blocks);
	free(imp);
	free(h);
	return st;
}
