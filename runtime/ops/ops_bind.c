/* SPDX-License-Identifier: MIT */
/*
 * Binding the op kernels to buffers: every binding is checked to hold what
 * the kernel will touch, then one descriptor set is written and the push
 * constants and grid are fixed in a struct qvk_op.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

qvk_status qvk_ops_check_binding(struct qvk_ctx *ctx, const char *what,
				 const struct qvk_binding *b,
				 uint64_t need_bytes)
{
	const struct qvk_buffer_piece *p;
	uint64_t avail, align;

	if (!b || !b->buf || b->piece >= b->buf->n_pieces)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: %s is not bound to a buffer piece", what);
	p = &b->buf->pieces[b->piece];
	align = b->buf->dev->info.min_storage_buffer_offset_alignment;
	if (b->offset_bytes > p->size_bytes ||
	    (align && b->offset_bytes % align))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: %s offset %llu (piece of %llu bytes, "
				 "alignment %llu)", what,
				 (unsigned long long)b->offset_bytes,
				 (unsigned long long)p->size_bytes,
				 (unsigned long long)align);
	avail = p->size_bytes - b->offset_bytes;
	if (b->range_bytes && b->range_bytes != VK_WHOLE_SIZE)
		avail = QVK_MIN(avail, b->range_bytes);
	if (need_bytes > avail)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: %s needs %llu bytes, its binding holds "
				 "%llu", what, (unsigned long long)need_bytes,
				 (unsigned long long)avail);
	return QVK_OK;
}

qvk_status qvk_ops_bind_set(struct qvk_ops *ops, struct qvk_op *op,
			    struct qvk_pipeline *pipe,
			    const struct qvk_binding *bindings)
{
	(void)ops;
	op->pipe = pipe;
	return qvk_descset_create(pipe, bindings, &op->set);
}

/* Grid of @n invocations of @wg, folded into y past the x limit. */
static void qvk_ops_flat_grid(struct qvk_ops *ops, struct qvk_op *op,
			      uint64_t n, uint32_t wg)
{
	uint64_t groups = QVK_DIV_ROUND_UP(n, wg);
	uint32_t gx = (uint32_t)QVK_MIN(groups, (uint64_t)ops->grid_x_max);

	op->groups[0] = gx ? gx : 1;
	op->groups[1] = (uint32_t)QVK_DIV_ROUND_UP(groups, op->groups[0]);
	op->groups[2] = 1;
}

static qvk_status qvk_ops_check_m(struct qvk_ops *ops, uint32_t m,
				  uint64_t per_token)
{
	if (!m || m > ops->dev->info.max_workgroup_count[1] ||
	    m > ops->dev->info.max_workgroup_count[0] ||
	    (uint64_t)m * per_token >= (1ull << 31))
		return qvk_error(ops->dev->ctx, QVK_ERR_INVALID_ARG,
				 "ops: %u tokens of %llu elements", m,
				 (unsigned long long)per_token);
	return QVK_OK;
}

/* vec4 accesses: every size a multiple of 4 floats, every offset of 16 bytes. */
static bool qvk_ops_vec4(uint32_t size_or, const struct qvk_binding *const *b,
			 uint32_t n)
{
	if (size_or % 4)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (b[i]->offset_bytes % 16)
			return false;
	return true;
}

static void qvk_ops_push_f32(struct qvk_op *op, uint32_t i, float f)
{
	memcpy(&op->push[i], &f, 4);
}

qvk_status qvk_ops_embed_bind(struct qvk_ops *ops, struct qvk_op *op,
			      const struct qvk_ops_model *mdl, uint32_t m,
			      bool f16, const struct qvk_binding *step,
			      const struct qvk_buffer *table,
			      const struct qvk_binding *out)
{
	struct qvk_ctx *ctx = ops->dev->ctx;
	struct qvk_binding b[2 + QVK_OPS_EMBED_PIECES];
	uint64_t row_bytes = (uint64_t)mdl->dim * (f16 ? 2 : 4);
	uint64_t rows_per_piece;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, mdl->dim));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "step", step,
					    QVK_OPS_STEP_BYTES(m)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "embedding out", out,
					    4ull * m * mdl->dim));
	if (!table || table->size_bytes < row_bytes * mdl->n_vocab ||
	    table->n_pieces > QVK_OPS_EMBED_PIECES ||
	    (table->n_pieces > 1 && table->piece_bytes % row_bytes))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: embedding table of %llu bytes in %u "
				 "pieces for %u rows of %llu bytes (at most %u "
				 "pieces of whole rows)",
				 table ? (unsigned long long)table->size_bytes : 0ull,
				 table ? table->n_pieces : 0, mdl->n_vocab,
				 (unsigned long long)row_bytes,
				 QVK_OPS_EMBED_PIECES);
	rows_per_piece = table->n_pieces > 1 ? table->piece_bytes / row_bytes :
					       mdl->n_vocab;
	if (rows_per_piece * mdl->dim >= (1ull << 32))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "ops: embedding piece too large to index");
	b[0] = *step;
	b[1] = *out;
	/* Unused piece bindings repeat the last piece; never read. */
	for (uint32_t i = 0; i < QVK_OPS_EMBED_PIECES; i++)
		b[2 + i] = (struct qvk_binding){
			.buf = table,
			.piece = QVK_MIN(i, table->n_pieces - 1),
		};
	op->push[0] = mdl->dim;
	op->push[1] = mdl->n_vocab;
	op->push[2] = (uint32_t)rows_per_piece;
	op->groups[0] = m;
	op->groups[1] = op->groups[2] = 1;
	return qvk_ops_bind_set(ops, op, f16 ? ops->embed_f16 : ops->embed_f32,
				b);
}

qvk_status qvk_ops_rmsnorm_bind(struct qvk_ops *ops, struct qvk_op *op,
				const struct qvk_ops_model *mdl, uint32_t m,
				const struct qvk_binding *x,
				const struct qvk_binding *w,
				const struct qvk_binding *out)
{
	struct qvk_ctx *ctx = ops->dev->ctx;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, mdl->dim));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rmsnorm x", x,
					    4ull * m * mdl->dim));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rmsnorm weight", w,
					    4ull * mdl->dim));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rmsnorm out", out,
					    4ull * m * mdl->dim));
	op->push[0] = mdl->dim;
	qvk_ops_push_f32(op, 1, mdl->norm_eps);
	op->groups[0] = m;
	op->groups[1] = op->groups[2] = 1;
	return qvk_ops_bind_set(ops, op,
				ops->rmsnorm[qvk_ops_vec4(mdl->dim,
					(const struct qvk_binding *[]){ x, w, out }, 3)],
				(struct qvk_binding[]){ *x, *w, *out });
}

qvk_status qvk_ops_head_rmsnorm_bind(struct qvk_ops *ops, struct qvk_op *op,
				     const struct qvk_ops_model *mdl, uint32_t m,
				     uint32_t n_heads,
				     const struct qvk_binding *x,
				     const struct qvk_binding *w)
{
	struct qvk_ops_model heads;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ops->dev->ctx, mdl));
	if (!n_heads || (uint64_t)m * n_heads > UINT32_MAX)
		return qvk_error(ops->dev->ctx, QVK_ERR_INVALID_ARG,
				 "head rmsnorm: %u tokens of %u heads", m,
				 n_heads);
	/* Rows of one head: the rmsnorm kernel, one workgroup per (token, head). */
	heads = *mdl;
	heads.dim = mdl->head_dim;
	return qvk_ops_rmsnorm_bind(ops, op, &heads, m * n_heads, x, w, x);
}

static qvk_status qvk_ops_check_act(struct qvk_ctx *ctx,
				    const struct qvk_ops_act *act, uint32_t m,
				    uint32_t k)
{
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "qa", &act->qa,
					    qvk_act_qa_bytes(m, k)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "sa", &act->sa,
					    qvk_act_sa_bytes(m, k, act->per_block)));
	return qvk_ops_check_binding(ctx, "suma", &act->suma,
				     qvk_act_suma_bytes(m, k));
}

qvk_status qvk_ops_rmsnorm_q8_bind(struct qvk_ops *ops, struct qvk_op *op,
				   const struct qvk_ops_model *mdl, uint32_t m,
				   const struct qvk_binding *x,
				   const struct qvk_binding *w,
				   const struct qvk_ops_act *act)
{
	struct qvk_ctx *ctx = ops->dev->ctx;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, QVK_ACT_LAYOUT_KP(mdl->dim)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rmsnorm x", x,
					    4ull * m * mdl->dim));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rmsnorm weight", w,
					    4ull * mdl->dim));
	QVK_OPS_CHECK(qvk_ops_check_act(ctx, act, m, mdl->dim));
	op->push[0] = mdl->dim;
	op->push[1] = QVK_ACT_LAYOUT_KP(mdl->dim);
	qvk_ops_push_f32(op, 2, mdl->norm_eps);
	op->groups[0] = m;
	op->groups[1] = op->groups[2] = 1;
	return qvk_ops_bind_set(ops, op,
				ops->rmsnorm_q8[act->per_block][qvk_ops_vec4(mdl->dim,
					(const struct qvk_binding *[]){ x, w }, 2)],
				(struct qvk_binding[]){ *x, *w, act->qa,
							act->sa, act->suma });
}

qvk_status qvk_ops_act_quant_bind(struct qvk_ops *ops, struct qvk_op *op,
				  uint32_t k, uint32_t m, uint32_t x_stride,
				  const struct qvk_binding *x,
				  const struct qvk_ops_act *act)
{
	struct qvk_ctx *ctx = ops->dev->ctx;

	memset(op, 0, sizeof(*op));
	if (!k || x_stride < k || k > (1u << 30))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "act_quant: k %u, row stride %u", k, x_stride);
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, QVK_MAX(QVK_ACT_LAYOUT_KP(k),
						      x_stride)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "act_quant x", x,
					    4ull * ((uint64_t)(m - 1) * x_stride + k)));
	QVK_OPS_CHECK(qvk_ops_check_act(ctx, act, m, k));
	op->push[0] = k;
	op->push[1] = QVK_ACT_LAYOUT_KP(k);
	op->push[2] = x_stride;
	op->groups[0] = m;
	op->groups[1] = op->groups[2] = 1;
	return qvk_ops_bind_set(ops, op,
				ops->act_quant[act->per_block][qvk_ops_vec4(k | x_stride,
					(const struct qvk_binding *[]){ x }, 1)],
				(struct qvk_binding[]){ *x, act->qa, act->sa,
							act->suma });
}

qvk_status qvk_ops_rope_bind(struct qvk_ops *ops, struct qvk_op *op,
			     const struct qvk_ops_model *mdl, uint32_t m,
			     const struct qvk_binding *step,
			     const struct qvk_binding *q,
			     const struct qvk_binding *k)
{
	struct qvk_ctx *ctx = ops->dev->ctx;
	float freq[QVK_OPS_MAX_HEAD_DIM / 2];
	uint32_t half;
	uint64_t pairs;
	qvk_status st;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	half = qvk_ops_rope_dims(mdl) / 2; /* >= 4: head_dim % 8 == 0 */
	pairs = (uint64_t)(mdl->n_heads + mdl->n_kv_heads) * half;
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, pairs * 2));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "step", step,
					    QVK_OPS_STEP_BYTES(m)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rope q", q,
					    4ull * m * mdl->n_heads * mdl->head_dim));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "rope k", k,
					    4ull * m * mdl->n_kv_heads * mdl->head_dim));
	/* The frequencies as the C reference uses them, once. */
	qvk_ops_rope_table(mdl, freq);
	for (uint32_t i = 0; i < half; i++)
		if (!isfinite(freq[i]))
			return qvk_error(ctx, QVK_ERR_INVALID_ARG,
					 "ops: RoPE frequency %u is %g", i,
					 (double)freq[i]);
	QVK_OPS_CHECK(qvk_buffer_create(ops->dev, QVK_MEM_UPLOAD, 4ull * half,
					4, &op->owned));
	st = qvk_buffer_write(op->owned, 0, freq, 4ull * half);
	if (st != QVK_OK)
		goto out_destroy_freq;
	op->push[0] = mdl->head_dim;
	op->push[1] = mdl->n_heads;
	op->push[2] = mdl->n_kv_heads;
	op->push[3] = m;
	op->push[4] = half;
	qvk_ops_push_f32(op, 5, qvk_ops_rope_mscale(mdl));
	qvk_ops_flat_grid(ops, op, pairs * m, ops->wg_flat);
	st = qvk_ops_bind_set(ops, op,
			      mdl->rope_mode == QVK_ROPE_NEOX ? ops->rope_neox :
								ops->rope,
			      (struct qvk_binding[]){
				      *step, qvk_ops_whole(op->owned), *q, *k });
	if (st == QVK_OK)
		return QVK_OK;
out_destroy_freq:
	qvk_buffer_destroy(op->owned);
	op->owned = NULL;
	return st;
}

static qvk_status qvk_ops_check_cache(struct qvk_ctx *ctx,
				      const struct qvk_ops_model *mdl,
				      const struct qvk_binding *k_cache,
				      const struct qvk_binding *v_cache)
{
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "K cache", k_cache,
					    qvk_ops_kv_layer_bytes(mdl)));
	return qvk_ops_check_binding(ctx, "V cache", v_cache,
				     qvk_ops_kv_layer_bytes(mdl));
}

qvk_status qvk_ops_kv_write_bind(struct qvk_ops *ops, struct qvk_op *op,
				 const struct qvk_ops_model *mdl, uint32_t m,
				 const struct qvk_binding *step,
				 const struct qvk_binding *k,
				 const struct qvk_binding *v,
				 const struct qvk_binding *k_cache,
				 const struct qvk_binding *v_cache)
{
	struct qvk_ctx *ctx = ops->dev->ctx;
	uint64_t kv = (uint64_t)mdl->n_kv_heads * mdl->head_dim;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, kv));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "step", step,
					    QVK_OPS_STEP_BYTES(m)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "k", k, 4ull * m * kv));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "v", v, 4ull * m * kv));
	QVK_OPS_CHECK(qvk_ops_check_cache(ctx, mdl, k_cache, v_cache));
	op->push[0] = mdl->head_dim;
	op->push[1] = mdl->n_kv_heads;
	op->push[2] = mdl->max_seq;
	op->push[3] = m;
	op->push[4] = mdl->kv_f32;
	qvk_ops_flat_grid(ops, op, kv / 2 * m, ops->wg_flat);
	return qvk_ops_bind_set(ops, op, ops->kv_write,
				(struct qvk_binding[]){ *step, *k, *v, *k_cache,
							*v_cache });
}

qvk_status qvk_ops_attention_prepare(struct qvk_ops *ops, struct qvk_op *op,
				     const struct qvk_ops_model *mdl, uint32_t m,
				     const struct qvk_binding *step,
				     const struct qvk_binding *q,
				     const struct qvk_binding *k_cache,
				     const struct qvk_binding *v_cache,
				     const struct qvk_binding *out)
{
	struct qvk_ctx *ctx = ops->dev->ctx;
	uint64_t qn = (uint64_t)mdl->n_heads * mdl->head_dim;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, qn));
	if (mdl->n_kv_heads > ops->dev->info.max_workgroup_count[0])
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "attention: %u kv heads", mdl->n_kv_heads);
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "step", step,
					    QVK_OPS_STEP_BYTES(m)));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "attention q", q,
					    4ull * m * qn));
	QVK_OPS_CHECK(qvk_ops_check_cache(ctx, mdl, k_cache, v_cache));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "attention out", out,
					    4ull * m * qn));
	op->push[0] = mdl->head_dim;
	op->push[1] = mdl->n_heads;
	op->push[2] = mdl->n_kv_heads;
	op->push[3] = mdl->max_seq;
	qvk_ops_push_f32(op, 4, 1.0f / sqrtf((float)mdl->head_dim));
	op->push[5] = m;
	op->push[6] = mdl->kv_f32;
	op->groups[2] = 1;
	return QVK_OK;
}

qvk_status qvk_ops_attention_bind(struct qvk_ops *ops, struct qvk_op *op,
				  const struct qvk_ops_model *mdl, uint32_t m,
				  const struct qvk_binding *step,
				  const struct qvk_binding *q,
				  const struct qvk_binding *k_cache,
				  const struct qvk_binding *v_cache,
				  const struct qvk_binding *out)
{
	if (m > 1)
		return qvk_ops_attention_prefill_bind(ops, op, mdl, m,
						      ops->attn_prefill, step, q,
						      k_cache, v_cache, out);
	QVK_OPS_CHECK(qvk_ops_attention_prepare(ops, op, mdl, m, step, q,
						k_cache, v_cache, out));
	if (ops->cpu_attention) {
		struct qvk_pipeline *pipe;

		QVK_OPS_CHECK(qvk_ops_cpu_attention_pipeline(ops, mdl, m, &pipe));
		op->groups[0] = mdl->n_kv_heads; /* (kv head, token) */
		op->groups[1] = m;
		return qvk_ops_bind_set(ops, op, pipe,
					(struct qvk_binding[]){ *step, *q, *k_cache,
								*v_cache, *out });
	}
	op->groups[0] = mdl->n_kv_heads; /* a kv head's query heads together */
	op->groups[1] = m;
	return qvk_ops_bind_set(ops, op,
				ops->attention[qvk_ops_attention_variant(mdl)],
				(struct qvk_binding[]){ *step, *q, *k_cache,
							*v_cache, *out });
}

static qvk_status qvk_ops_check_glu(struct qvk_ops *ops,
				    const struct qvk_ops_model *mdl,
				    uint32_t m, uint32_t x_stride,
				    const struct qvk_binding *gate,
				    const struct qvk_binding *up)
{
	struct qvk_ctx *ctx = ops->dev->ctx;
	uint64_t need;

	QVK_OPS_CHECK(qvk_ops_model_check(ctx, mdl));
	if (x_stride < mdl->hidden_dim)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "swiglu: row stride %u below hidden %u",
				 x_stride, mdl->hidden_dim);
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, QVK_MAX(QVK_ACT_LAYOUT_KP(mdl->hidden_dim),
						      x_stride)));
	need = 4ull * ((uint64_t)(m - 1) * x_stride + mdl->hidden_dim);
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "gate", gate, need));
	return qvk_ops_check_binding(ctx, "up", up, need);
}

qvk_status qvk_ops_swiglu_bind(struct qvk_ops *ops, struct qvk_op *op,
			       const struct qvk_ops_model *mdl, uint32_t m,
			       uint32_t x_stride,
			       const struct qvk_binding *gate,
			       const struct qvk_binding *up,
			       const struct qvk_binding *out)
{
	bool vec4;

	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_check_glu(ops, mdl, m, x_stride, gate, up));
	QVK_OPS_CHECK(qvk_ops_check_binding(ops->dev->ctx, "swiglu out", out,
					    4ull * m * mdl->hidden_dim));
	op->push[0] = mdl->hidden_dim;
	op->push[1] = m;
	op->push[2] = x_stride;
	vec4 = qvk_ops_vec4(mdl->hidden_dim | x_stride,
			    (const struct qvk_binding *[]){ gate, up, out }, 3);
	qvk_ops_flat_grid(ops, op, (uint64_t)m * mdl->hidden_dim / (vec4 ? 4 : 1),
			  ops->wg_flat);
	return qvk_ops_bind_set(ops, op, ops->swiglu[vec4],
				(struct qvk_binding[]){ *gate, *up, *out });
}

qvk_status qvk_ops_swiglu_q8_bind(struct qvk_ops *ops, struct qvk_op *op,
				  const struct qvk_ops_model *mdl, uint32_t m,
				  uint32_t x_stride,
				  const struct qvk_binding *gate,
				  const struct qvk_binding *up,
				  const struct qvk_ops_act *act)
{
	memset(op, 0, sizeof(*op));
	QVK_OPS_CHECK(qvk_ops_check_glu(ops, mdl, m, x_stride, gate, up));
	QVK_OPS_CHECK(qvk_ops_check_act(ops->dev->ctx, act, m, mdl->hidden_dim));
	op->push[0] = mdl->hidden_dim;
	op->push[1] = QVK_ACT_LAYOUT_KP(mdl->hidden_dim);
	op->push[2] = x_stride;
	op->groups[0] = m;
	op->groups[1] = op->groups[2] = 1;
	return qvk_ops_bind_set(ops, op,
				ops->swiglu_q8[act->per_block][qvk_ops_vec4(mdl->hidden_dim | x_stride,
					(const struct qvk_binding *[]){ gate, up }, 2)],
				(struct qvk_binding[]){ *gate, *up, act->qa,
							act->sa, act->suma });
}

qvk_status qvk_ops_bias_add_bind(struct qvk_ops *ops, struct qvk_op *op,
				 uint32_t n, uint32_t m,
				 const struct qvk_binding *y,
				 const struct qvk_binding *b)
{
	struct qvk_ctx *ctx = ops->dev->ctx;

	memset(op, 0, sizeof(*op));
	if (!n)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "bias_add: empty rows");
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, n));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "bias_add y", y, 4ull * m * n));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "bias", b, 4ull * n));
	op->push[0] = n;
	op->push[1] = m;
	qvk_ops_flat_grid(ops, op, (uint64_t)n * m, ops->wg_flat);
	return qvk_ops_bind_set(ops, op, ops->bias_add,
				(struct qvk_binding[]){ *y, *b });
}

qvk_status qvk_ops_residual_add_bind(struct qvk_ops *ops, struct qvk_op *op,
				     uint32_t n, const struct qvk_binding *x,
				     const struct qvk_binding *y)
{
	struct qvk_ctx *ctx = ops->dev->ctx;

	memset(op, 0, sizeof(*op));
	if (!n || n >= (1u << 31))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "residual_add: %u elements", n);
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "residual x", x, 4ull * n));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "residual y", y, 4ull * n));
	op->push[0] = n;
	qvk_ops_flat_grid(ops, op, n / 4 + n % 4, ops->wg_flat);
	return qvk_ops_bind_set(ops, op, ops->residual_add,
				(struct qvk_binding[]){ *x, *y });
}

qvk_status qvk_ops_argmax_bind(struct qvk_ops *ops, struct qvk_op *op,
			       uint32_t n, uint32_t m,
			       const struct qvk_binding *logits,
			       const struct qvk_binding *tokens)
{
	struct qvk_ctx *ctx = ops->dev->ctx;

	memset(op, 0, sizeof(*op));
	if (!n)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "argmax: empty rows");
	QVK_OPS_CHECK(qvk_ops_check_m(ops, m, n));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "argmax logits", logits,
					    4ull * m * n));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "argmax tokens", tokens,
					    4ull * m));
	op->push[0] = n;
	op->groups[0] = m;
	op->groups[1] = op->groups[2] = 1;
	return qvk_ops_bind_set(ops, op, ops->argmax,
				(struct qvk_binding[]){ *logits, *tokens });
}
