/* SPDX-License-Identifier: MIT */
/* The public matmul API over the kernels of matmul.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/matmul.h>

#include "matmul/matmul.h"

struct qvk_matmul {
	struct qvk_mm mm;
};

struct qvk_weight {
	struct qvk_mm_weight *w;
};

struct qvk_matmul_run {
	struct qvk_matmul *mm;
	uint32_t n_weights, max_m, m;
	struct qvk_mm_act *act;
	struct qvk_buffer *y;
	struct qvk_mm_binding *binds; /* one per weight */
	struct qvk_cmd cmd;
};

qvk_status qvk_matmul_create(struct qvk_device *dev, struct qvk_matmul **out)
{
	struct qvk_matmul *mm = calloc(1, sizeof(*mm));
	qvk_status st;

	*out = NULL;
	if (!mm)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "matmul");
	st = qvk_mm_init(dev, &mm->mm);
	if (st != QVK_OK) {
		free(mm);
		return st;
	}
	*out = mm;
	return QVK_OK;
}

void qvk_matmul_destroy(struct qvk_matmul *mm)
{
	if (!mm)
		return;
	qvk_mm_finish(&mm->mm);
	free(mm);
}

void qvk_matmul_describe(const struct qvk_matmul *mm, char *buf, size_t len)
{
	const struct qvk_mm *m = &mm->mm;
	char pre[QVK_MM_Q4A + 1][48];

	/* Prefill: the decode kernel, or matmul_q_tiled and its tile. */
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++) {
		char tile[32] = "";

		if (m->prefill[k])
			qvk_mm_tile_name(&m->tiles[m->prefill[k] - 1], tile,
					 sizeof(tile));
		snprintf(pre[k], sizeof(pre[k]), "%s%s%s",
			 m->prefill[k] ? QVK_MM_TILED_SHADER : "as decode",
			 tile[0] ? " " : "", tile);
	}
	snprintf(buf, len, "q8 %s x%u, q4 %s x%u, q4a %s x%u; prefill q8 %s, "
		 "q4 %s, q4a %s (%s)",
		 qvk_mm_variant_shader(m->q[QVK_MM_Q8].variant), m->q[QVK_MM_Q8].rpi,
		 qvk_mm_variant_shader(m->q[QVK_MM_Q4].variant), m->q[QVK_MM_Q4].rpi,
		 qvk_mm_variant_shader(m->q[QVK_MM_Q4A].variant), m->q[QVK_MM_Q4A].rpi,
		 pre[QVK_MM_Q8], pre[QVK_MM_Q4], pre[QVK_MM_Q4A],
		 m->tune_note[0] ? m->tune_note : "not tuned");
}

uint32_t qvk_matmul_tile_count(const struct qvk_matmul *mm)
{
	return mm->mm.n_tiles;
}

void qvk_matmul_tile_name(const struct qvk_matmul *mm, uint32_t tile,
			  char *buf, size_t len)
{
	if (tile >= 1 && tile <= mm->mm.n_tiles)
		qvk_mm_tile_name(&mm->mm.tiles[tile - 1], buf, len);
	else
		snprintf(buf, len, "decode");
}

qvk_status qvk_matmul_set_prefill(struct qvk_matmul *mm, uint32_t tile)
{
	struct qvk_mm *m = &mm->mm;

	if (tile > m->n_tiles)
		return qvk_error(m->dev->ctx, QVK_ERR_INVALID_ARG,
				 "prefill tile %u of the %u %s can run", tile,
				 m->n_tiles, m->dev->info.name);
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
		m->prefill[k] = tile;
	return QVK_OK;
}

qvk_status qvk_matmul_set_kernel(struct qvk_matmul *mm, const char *shader,
				 uint32_t rows_per_invocation)
{
	struct qvk_mm *m = &mm->mm;

	if (!shader) {
		for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
			m->q[k] = m->fallback;
		return QVK_OK;
	}
	for (uint32_t v = 0; v < QVK_MM_VARIANT_COUNT; v++) {
		if (strcmp(shader, qvk_mm_variant_shader(v)))
			continue;
		if (!m->can[v])
			return qvk_error(m->dev->ctx, QVK_ERR_UNSUPPORTED,
					 "%s cannot run on %s", shader,
					 m->dev->info.name);
		if ((v == QVK_MM_SUBGROUP && rows_per_invocation != 1) ||
		    (rows_per_invocation != 1 && rows_per_invocation != 2 &&
		     rows_per_invocation != 4))
			break;
		for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
			m->q[k] = (struct qvk_mm_choice){ v, rows_per_invocation };
		return QVK_OK;
	}
	return qvk_error(m->dev->ctx, QVK_ERR_INVALID_ARG,
			 "no matmul kernel %s with %u rows per invocation",
			 shader, rows_per_invocation);
}

static qvk_status qvk_weight_wrap(struct qvk_matmul *mm, qvk_status st,
				  struct qvk_mm_weight *w,
				  struct qvk_weight **out)
{
	if (st != QVK_OK)
		return st;
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		qvk_mm_weight_destroy(w);
		return qvk_error(mm->mm.dev->ctx, QVK_ERR_NO_MEMORY, "weight");
	}
	(*out)->w = w;
	return QVK_OK;
}

qvk_status qvk_weight_upload(struct qvk_matmul *mm, const struct qvk_qtensor *qt,
			     struct qvk_weight **out)
{
	struct qvk_mm_weight *w = NULL;

	qvk_status st = qvk_mm_weight_upload_q(mm->mm.dev, qt, &w);

	*out = NULL;
	return qvk_weight_wrap(mm, st, w, out);
}

qvk_status qvk_weight_upload_kq(struct qvk_matmul *mm,
				const struct qvk_kqtensor *kt,
				struct qvk_weight **out)
{
	struct qvk_mm_weight *w = NULL;

	qvk_status st = qvk_mm_weight_upload_kq(mm->mm.dev, kt, &w);

	*out = NULL;
	return qvk_weight_wrap(mm, st, w, out);
}

qvk_status qvk_weight_upload_float(struct qvk_matmul *mm, const float *src,
				   uint32_t n, uint32_t k, bool as_f16,
				   struct qvk_weight **out)
{
	struct qvk_mm_weight *w = NULL;

	qvk_status st = qvk_mm_weight_upload_float(mm->mm.dev, src, n, k,
						   as_f16, &w);

	*out = NULL;
	return qvk_weight_wrap(mm, st, w, out);
}

void qvk_weight_destroy(struct qvk_weight *w)
{
	if (!w)
		return;
	qvk_mm_weight_destroy(w->w);
	free(w);
}

uint64_t qvk_weight_bytes(const struct qvk_weight *w)
{
	uint64_t bytes = w->w->qs->size_bytes;

	if (w->w->scales)
		bytes += (uint64_t)w->w->n * w->w->n_groups * 2;
	if (w->w->mins)
		bytes += (uint64_t)w->w->n * w->w->n_groups * 2;
	return bytes;
}

qvk_status qvk_matmul_run_create(struct qvk_matmul *mm,
				 struct qvk_weight *const *weights,
				 uint32_t n_weights, uint32_t max_m,
				 struct qvk_matmul_run **out)
{
	struct qvk_device *dev = mm->mm.dev;
	const struct qvk_mm_weight *w0;
	struct qvk_matmul_run *run;
	qvk_status st;

	*out = NULL;
	if (!n_weights || !max_m)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "matmul run of %u weights, %u tokens",
				 n_weights, max_m);
	w0 = weights[0]->w;
	for (uint32_t i = 1; i < n_weights; i++)
		if (weights[i]->w->n != w0->n || weights[i]->w->k != w0->k ||
		    weights[i]->w->kind != w0->kind ||
		    weights[i]->w->type != w0->type)
			return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
					 "rotated weights differ in shape");
	run = calloc(1, sizeof(*run));
	if (!run)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "matmul run");
	run->mm = mm;
	run->max_m = max_m;
	run->binds = calloc(n_weights, sizeof(*run->binds));
	/* K-quants run on per-block activations, as in the forward pass */
	st = run->binds ? qvk_mm_act_create(dev, max_m, w0->k,
					    w0->kind == QVK_MM_KQ, &run->act) :
			  qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "bindings");
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_READBACK,
				       (VkDeviceSize)max_m * w0->n * 4, 4,
				       &run->y);
	for (uint32_t i = 0; st == QVK_OK && i < n_weights; i++) {
		st = qvk_mm_bind(&mm->mm, weights[i]->w, run->act, run->y,
				 w0->n, false, NULL, &run->binds[i]);
		if (st == QVK_OK)
			run->n_weights++;
	}
	if (st == QVK_OK)
		st = qvk_cmd_init(dev, &run->cmd);
	if (st == QVK_OK && dev->info.timestamps)
		st = qvk_cmd_timestamps_init(&run->cmd, 2);
	if (st != QVK_OK) {
		qvk_matmul_run_destroy(run);
		return st;
	}
	*out = run;
	return QVK_OK;
}

void qvk_matmul_run_destroy(struct qvk_matmul_run *run)
{
	if (!run)
		return;
	qvk_cmd_finish(&run->cmd);
	for (uint32_t i = 0; i < run->n_weights; i++)
		qvk_mm_unbind(&run->binds[i]);
	free(run->binds);
	qvk_buffer_destroy(run->y);
	qvk_mm_act_destroy(run->act);
	free(run);
}

qvk_status qvk_matmul_run_set_input(struct qvk_matmul_run *run,
				    const struct qvk_qact *q, const float *x,
				    uint32_t m)
{
	struct qvk_ctx *ctx = run->mm->mm.dev->ctx;
	qvk_status st;

	if (!m || m > run->max_m || (q && q->m != m))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%u tokens for a run of at most %u", m,
				 run->max_m);
	if (q) {
		st = qvk_mm_act_write_q(run->act, q);
		if (st != QVK_OK)
			return st;
	}
	if (x) {
		st = qvk_buffer_write(run->act->x, 0, x,
				      (VkDeviceSize)m * run->act->k * 4);
		if (st != QVK_OK)
			return st;
	}
	run->m = m;
	return QVK_OK;
}

/* Record every rotated weight once (or only the first), with timestamps. */
static qvk_status qvk_run_record(struct qvk_matmul_run *run, uint32_t count)
{
	struct qvk_cmd *cmd = &run->cmd;
	qvk_status st;

	if (!run->m)
		return qvk_error(run->mm->mm.dev->ctx, QVK_ERR_INVALID_ARG,
				 "matmul run has no input yet");
	st = qvk_cmd_begin(cmd);
	if (st != QVK_OK)
		return st;
	if (cmd->timestamps) {
		qvk_cmd_timestamps_reset(cmd);
		qvk_cmd_timestamp(cmd, 0);
	}
	for (uint32_t i = 0; i < count; i++) {
		qvk_mm_record(cmd, &run->binds[i], run->m);
		/* Calls are serial in a forward pass: each waits for the last. */
		qvk_cmd_barrier(cmd);
	}
	if (cmd->timestamps)
		qvk_cmd_timestamp(cmd, 1);
	return QVK_OK;
}

qvk_status qvk_matmul_run_exec(struct qvk_matmul_run *run, float *y)
{
	const struct qvk_mm_weight *w = run->binds[0].w;
	qvk_status st = qvk_run_record(run, 1);

	if (st == QVK_OK)
		st = qvk_cmd_submit_wait(&run->cmd, true);
	if (st == QVK_OK && y)
		st = qvk_buffer_read(run->y, 0, y,
				     (VkDeviceSize)run->m * w->n * 4);
	return st;
}

qvk_status qvk_matmul_run_time(struct qvk_matmul_run *run, uint32_t reps,
			       double *ms)
{
	struct qvk_device *dev = run->mm->mm.dev;
	double ns[2];
	qvk_status st;

	if (!run->cmd.timestamps)
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "%s has no compute timestamps to time with",
				 dev->info.name);
	st = qvk_run_record(run, run->n_weights);
	if (st == QVK_OK)
		st = QVK_VK(dev->ctx, vkEndCommandBuffer(run->cmd.cb));
	for (uint32_t r = 0; st == QVK_OK && r < reps; r++) {
		st = qvk_cmd_submit_wait(&run->cmd, false);
		if (st == QVK_OK)
			st = qvk_cmd_timestamps_read_ns(&run->cmd, 2, ns);
		if (st == QVK_OK)
			ms[r] = ns[1] * 1e-6 / run->n_weights;
	}
	return st;
}
