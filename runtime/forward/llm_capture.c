/* SPDX-License-Identifier: MIT */
/*
 * Calibration capture: the inputs of the linear layers, as qvk's own
 * forward pass computes them, accumulated on the device for `qvk quantize`
 * (runtime/quantize/calib_gpu.c). A capture plan is the prefill plan of
 * one window (positions 0..m-1) with, after each op that produces a linear
 * layer's input, the calib_stats kernel (per channel Σ|x|, Σx², max|x|
 * and a row sample) and, for GPTQ, the calib_xtx kernel (XᵀX), both adding
 * into per-site device-local buffers that persist across windows. Only the
 * sums come back to the host, once, after the last window, through a
 * transfer (qvk_buffer_download): per window nothing is read back but the
 * fence.
 *
 * The sites of layer l are 4 * (l - first_layer) + kind, kind in the
 * order attn_in (q k v), attn_out (o), ffn_in (gate up), ffn_out (down),
 * as runtime/quantize's enum qvk_site_kind; the classifier's input last.
 * Sums are fp32: over one window's positions, then added to the totals
 * of the windows before (the host's are fp64; tests/check_calib_gpu.c
 * bounds the difference).
 */
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

struct qvk_capture_site {
	uint32_t k;
	struct qvk_buffer *stats; /* (3, k) fp32: Σ|x|, Σx², max|x| */
	struct qvk_buffer *rows;  /* (max_rows, k) sampled inputs, or NULL */
	struct qvk_buffer *xtx;   /* (k, k) upper triangle, pieces of rows */
};

/* std430 image of calib_stats.comp's P block, host-written per window. */
struct qvk_capture_params {
	uint32_t base, stride, max_rows, reserved;
};

#define QVK_CAPTURE_PLANS 2u /* full windows, and the last, shorter one */

struct qvk_llm_capture {
	struct qvk_llm *llm;
	struct qvk_llm_capture_options o;
	uint32_t n_sites;
	struct qvk_capture_site *sites;
	struct qvk_buffer *params;  /* struct qvk_capture_params */
	struct qvk_buffer *no_rows; /* bound where no sample is kept */
	struct qvk_pipeline *stats_pipe, *xtx_pipe;
	uint32_t wg_stats, wg_xtx;
	struct qvk_llm_plan plans[QVK_CAPTURE_PLANS];
};

void qvk_llm_capture_destroy(struct qvk_llm_capture *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < QVK_CAPTURE_PLANS; i++)
		qvk_llm_plan_finish(&c->plans[i]);
	for (uint32_t i = 0; c->sites && i < c->n_sites; i++) {
		qvk_buffer_destroy(c->sites[i].stats);
		qvk_buffer_destroy(c->sites[i].rows);
		qvk_buffer_destroy(c->sites[i].xtx);
	}
	free(c->sites);
	qvk_buffer_destroy(c->params);
	qvk_buffer_destroy(c->no_rows);
	qvk_pipeline_destroy(c->stats_pipe);
	qvk_pipeline_destroy(c->xtx_pipe);
	free(c);
}

uint32_t qvk_llm_capture_site_width(const struct qvk_llm *llm, uint32_t kind)
{
	const struct qvk_ops_model *md = &llm->md;

	return kind == QVK_CAPTURE_ATTN_OUT ? md->n_heads * md->head_dim :
	       kind == QVK_CAPTURE_FFN_OUT ? md->hidden_dim : md->dim;
}

/* A zeroed device-local buffer of @bytes in pieces of @align. */
static qvk_status qvk_capture_buffer(struct qvk_device *dev, uint64_t bytes,
				     uint64_t align, bool one_piece,
				     struct qvk_buffer **out)
{
	qvk_status st = qvk_buffer_create(dev, QVK_MEM_DEVICE, bytes, align,
					  out);

	if (st == QVK_OK && one_piece && (*out)->n_pieces != 1)
		st = qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED, "calibration: "
			       "%llu bytes of sums past the device's storage "
			       "range", (unsigned long long)bytes);
	return st == QVK_OK ? qvk_buffer_zero(*out) : st;
}

static qvk_status qvk_capture_sites(struct qvk_llm_capture *c)
{
	struct qvk_device *dev = c->llm->dev;
	qvk_status st = QVK_OK;

	for (uint32_t i = 0; st == QVK_OK && i < c->n_sites; i++) {
		struct qvk_capture_site *s = &c->sites[i];
		bool head = i == 4 * c->o.n_layers;

		s->k = qvk_llm_capture_site_width(c->llm, head ? 0 : i % 4);
		st = qvk_capture_buffer(dev, 12ull * s->k, 4, true, &s->stats);
		if (st == QVK_OK && c->o.max_rows)
			st = qvk_capture_buffer(dev, 4ull * c->o.max_rows * s->k,
						4, true, &s->rows);
		if (st == QVK_OK && c->o.xtx)
			st = qvk_capture_buffer(dev, 4ull * s->k * s->k,
						4ull * s->k, false, &s->xtx);
	}
	return st;
}

qvk_status qvk_llm_capture_create(struct qvk_llm *llm,
				  const struct qvk_llm_capture_options *o,
				  struct qvk_llm_capture **out)
{
	struct qvk_device *dev = llm->dev;
	uint32_t cap = QVK_MIN(dev->info.max_workgroup_invocations,
			       dev->info.max_workgroup_size[0]);
	struct qvk_llm_capture *c;
	qvk_status st;

	*out = NULL;
	if (!o->n_layers && !o->head)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG, "calibration: "
				 "nothing to capture");
	if (o->first_layer > llm->w.n_layers ||
	    o->n_layers > llm->w.n_layers - o->first_layer ||
	    (o->head && o->first_layer + o->n_layers != llm->w.n_layers))
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG, "calibration: "
				 "layers %u..+%u%s of a %u-layer model",
				 o->first_layer, o->n_layers,
				 o->head ? " and the classifier" : "",
				 llm->w.n_layers);
	c = calloc(1, sizeof(*c));
	if (!c)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "calibration");
	c->llm = llm;
	c->o = *o;
	c->n_sites = 4 * o->n_layers + o->head;
	c->sites = calloc(c->n_sites, sizeof(*c->sites));
	/* 64 and 8 x 8 are within every device's guaranteed 128 */
	c->wg_stats = QVK_MIN(64u, cap);
	c->wg_xtx = QVK_MIN(8u, dev->info.max_workgroup_size[1]);
	st = c->sites ? qvk_capture_sites(c) :
			qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "calibration");
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_UPLOAD,
				       sizeof(struct qvk_capture_params), 4,
				       &c->params);
	if (st == QVK_OK)
		st = qvk_capture_buffer(dev, 16, 4, true, &c->no_rows);
	if (st == QVK_OK)
		st = qvk_pipeline_create(dev, &(struct qvk_pipeline_desc){
			.shader = "calib_stats", .n_bindings = 4,
			.push_bytes = QVK_OPS_PUSH_BYTES, .n_spec = 1,
			.spec = { c->wg_stats } }, &c->stats_pipe);
	if (st == QVK_OK && o->xtx)
		st = qvk_pipeline_create(dev, &(struct qvk_pipeline_desc){
			.shader = "calib_xtx", .n_bindings = 2,
			.push_bytes = QVK_OPS_PUSH_BYTES, .n_spec = 2,
			.spec = { c->wg_xtx, c->wg_xtx } }, &c->xtx_pipe);
	if (st != QVK_OK) {
		qvk_llm_capture_destroy(c);
		return st;
	}
	*out = c;
	return QVK_OK;
}

/* The fp32 activation buffer that site @kind's layers read. */
static const struct qvk_buffer *qvk_capture_input(const struct qvk_llm *llm,
						  uint32_t kind)
{
	return kind == QVK_CAPTURE_ATTN_OUT ? llm->act_attn->x :
	       kind == QVK_CAPTURE_FFN_OUT ? llm->act_hid->x : llm->act_dim->x;
}

qvk_status qvk_llm_capture_record(const struct qvk_llm_capture *c,
				  struct qvk_llm_plan *plan, uint32_t layer,
				  uint32_t kind)
{
	struct qvk_llm *llm = c->llm;
	bool head = layer == llm->w.n_layers;
	uint32_t m = plan->m, i;
	const struct qvk_capture_site *s;
	struct qvk_binding x;
	struct qvk_op *op;
	qvk_status st;

	if (head ? !c->o.head : layer < c->o.first_layer ||
				layer >= c->o.first_layer + c->o.n_layers)
		return QVK_OK;
	i = head ? c->n_sites - 1 : 4 * (layer - c->o.first_layer) + kind;
	s = &c->sites[i];
	x = qvk_ops_whole(qvk_capture_input(llm, head ? 0 : kind));
	st = qvk_llm_plan_new_op(plan, &op);
	if (st != QVK_OK)
		return qvk_error(llm->dev->ctx, st, "calibration plan");
	op->push[0] = s->k;
	op->push[1] = m;
	op->groups[0] = QVK_DIV_ROUND_UP(s->k, c->wg_stats);
	op->groups[1] = op->groups[2] = 1;
	st = qvk_ops_bind_set(&llm->ops, op, c->stats_pipe,
			      (struct qvk_binding[]){
				      x, qvk_ops_whole(s->stats),
				      qvk_ops_whole(s->rows ? s->rows :
							      c->no_rows),
				      qvk_ops_whole(c->params) });
	if (st != QVK_OK)
		return st;
	plan->n_ops++;
	/* The XᵀX dispatches read the same input and write other buffers. */
	if (!s->xtx) {
		qvk_op_record(&plan->cmd, op);
		return QVK_OK;
	}
	qvk_op_record_nobarrier(&plan->cmd, op);
	for (uint32_t p = 0; p < s->xtx->n_pieces; p++) {
		const struct qvk_buffer_piece *piece = &s->xtx->pieces[p];
		uint32_t rows = (uint32_t)(piece->size_bytes / (4ull * s->k));

		st = qvk_llm_plan_new_op(plan, &op);
		if (st != QVK_OK)
			return qvk_error(llm->dev->ctx, st, "calibration plan");
		op->push[0] = s->k;
		op->push[1] = m;
		op->push[2] = (uint32_t)(piece->offset_bytes / (4ull * s->k));
		op->push[3] = rows;
		op->groups[0] = QVK_DIV_ROUND_UP(s->k, c->wg_xtx);
		op->groups[1] = QVK_DIV_ROUND_UP(rows, c->wg_xtx);
		op->groups[2] = 1;
		st = qvk_ops_bind_set(&llm->ops, op, c->xtx_pipe,
				      (struct qvk_binding[]){
					      x, { .buf = s->xtx, .piece = p } });
		if (st != QVK_OK)
			return st;
		plan->n_ops++;
		/* one barrier after the site's kernels, before x is rewritten */
		if (p + 1 == s->xtx->n_pieces)
			qvk_op_record(&plan->cmd, op);
		else
			qvk_op_record_nobarrier(&plan->cmd, op);
	}
	return QVK_OK;
}

uint32_t qvk_llm_capture_last_layer(const struct qvk_llm_capture *c)
{
	return c->o.first_layer + c->o.n_layers;
}

bool qvk_llm_capture_head(const struct qvk_llm_capture *c)
{
	return c->o.head;
}

qvk_status qvk_llm_capture_window(struct qvk_llm_capture *c,
				  const uint32_t *tokens, uint32_t m,
				  uint32_t base)
{
	struct qvk_llm *llm = c->llm;
	struct qvk_capture_params prm = { base, c->o.row_stride,
					  c->o.max_rows, 0 };
	struct qvk_llm_plan *plan = &c->plans[0];
	qvk_status st;

	if (!m || m > llm->max_m)
		return qvk_error(llm->dev->ctx, QVK_ERR_INVALID_ARG,
				 "calibration: a window of %u positions, the "
				 "device model takes 1..%u", m, llm->max_m);
	/* Full windows keep plan 0; the last, shorter one takes plan 1. */
	if (plan->m && plan->m != m)
		plan = &c->plans[1];
	if (plan->m != m) {
		qvk_llm_plan_finish(plan);
		st = qvk_llm_plan_build_capture(llm, plan, m, c);
		if (st != QVK_OK)
			return st;
	}
	st = qvk_buffer_write(c->params, 0, &prm, sizeof(prm));
	if (st == QVK_OK)
		st = qvk_ops_step_write(llm->step, 0, tokens, m, llm->md.max_seq,
					llm->md.n_vocab);
	return st ? st : qvk_cmd_submit_wait(&plan->cmd, false);
}

qvk_status qvk_llm_capture_read(const struct qvk_llm_capture *c, uint32_t i,
				float *stats, float *xtx, float *rows)
{
	const struct qvk_capture_site *s;
	qvk_status st;

	if (i >= c->n_sites)
		return qvk_error(c->llm->dev->ctx, QVK_ERR_INVALID_ARG,
				 "calibration: site %u of %u", i, c->n_sites);
	s = &c->sites[i];
	st = qvk_buffer_download(s->stats, 0, stats, 12ull * s->k);
	if (st == QVK_OK && xtx && s->xtx)
		st = qvk_buffer_download(s->xtx, 0, xtx, 4ull * s->k * s->k);
	if (st == QVK_OK && rows && s->rows)
		st = qvk_buffer_download(s->rows, 0, rows,
					 4ull * c->o.max_rows * s->k);
	return st;
}
