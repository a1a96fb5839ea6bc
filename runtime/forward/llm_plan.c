/* SPDX-License-Identifier: MIT */
/*
 * Plans: the forward pass for m tokens, bound once and recorded once.
 *
 *   x = embed(tokens)
 *   per layer:  a = rmsnorm(x) * attn_norm            (int8 and/or fp32)
 *               q, k, v = wq a, wk a, wv a (+ biases)
 *               q, k = per-head rmsnorm (Qwen3's q_norm, k_norm)
 *               rope(q, k); cache <- k, v
 *               o = attention(q, cache); x += wo o     (epilogue add; + bo)
 *               a = rmsnorm(x) * ffn_norm
 *               x += w2 (silu(w1 a) * w3 a)            (SwiGLU fused
 *                                                       with quantization)
 *   logits = output (rmsnorm(x) * output_norm) (+ output_b)
 *
 * Every op's output is the next op's input, so each is followed by a
 * compute-to-compute barrier (qvk_op_record adds it; matmuls that share an
 * input are recorded together and then one barrier, and so are the bias
 * adds and head norms of q, k and v, which touch disjoint buffers).
 */
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

struct qvk_rec {
	struct qvk_llm *llm;
	struct qvk_llm_plan *plan;
	bool profile;
	const struct qvk_buffer *probe; /* residual copies (llm_check.c) */
	const struct qvk_llm_capture *cap; /* calibration (llm_capture.c) */
};

/* Room for @count ops after the recorded ones; *op: the first. */
static qvk_status qvk_plan_new_ops(struct qvk_llm_plan *plan, uint32_t count,
				   struct qvk_op **op)
{
	while (plan->n_ops + count > plan->cap_ops) {
		uint32_t cap = plan->cap_ops ? plan->cap_ops * 2 : 64;
		struct qvk_op *grown = realloc(plan->ops, cap * sizeof(*grown));

		if (!grown)
			return QVK_ERR_NO_MEMORY;
		plan->ops = grown;
		plan->cap_ops = cap;
	}
	*op = &plan->ops[plan->n_ops];
	memset(*op, 0, count * sizeof(**op));
	return QVK_OK;
}

qvk_status qvk_llm_plan_new_op(struct qvk_llm_plan *plan, struct qvk_op **op)
{
	return qvk_plan_new_ops(plan, 1, op);
}

/* After a stage: a timestamp when profiling, charged to @stage. */
static void qvk_stamp(struct qvk_rec *r, enum qvk_stage stage,
		      uint32_t dispatches)
{
	struct qvk_llm_plan *p = r->plan;

	if (!r->profile || p->n_stamps + 1 >= p->cmd.n_timestamps)
		return;
	p->n_stamps++;
	p->stamp_stage[p->n_stamps] = (uint8_t)stage;
	p->stamp_dispatches[p->n_stamps] = dispatches;
	qvk_cmd_timestamp(&p->cmd, p->n_stamps);
}

/*
 * Keep a bound op in the plan and record it: with its barrier, or without
 * when the ops recorded next until one with a barrier do not read its
 * output.
 */
static qvk_status qvk_rec_op(struct qvk_rec *r, qvk_status bound,
			     enum qvk_stage stage, bool barrier)
{
	struct qvk_llm_plan *p = r->plan;

	if (bound != QVK_OK)
		return bound;
	if (barrier)
		qvk_op_record(&p->cmd, &p->ops[p->n_ops++]);
	else
		qvk_op_record_nobarrier(&p->cmd, &p->ops[p->n_ops++]);
	qvk_stamp(r, stage, 1);
	return QVK_OK;
}

#define QVK_REC_OP(r, stage, barrier, bind_call)                               \
	do {                                                                   \
		struct qvk_op *op_;                                            \
		qvk_status st_ = qvk_llm_plan_new_op((r)->plan, &op_);         \
		if (st_ == QVK_OK)                                             \
			st_ = qvk_rec_op((r), (bind_call), (stage), (barrier)); \
		if (st_ != QVK_OK)                                             \
			return st_;                                            \
	} while (0)
#define QVK_REC(r, stage, bind_call) QVK_REC_OP(r, stage, true, bind_call)

/* y (m, n) += b, for the biases a model has; one barrier after them all. */
struct qvk_bias_job {
	const struct qvk_buffer *y, *b; /* b NULL: no bias */
	uint32_t n, m;
};

static qvk_status qvk_rec_biases(struct qvk_rec *r,
				 const struct qvk_bias_job *jobs, uint32_t count)
{
	struct qvk_llm *llm = r->llm;
	uint32_t last = count;

	for (uint32_t i = 0; i < count; i++)
		if (jobs[i].b)
			last = i;
	for (uint32_t i = 0; last < count && i <= last; i++) {
		struct qvk_binding y = qvk_ops_whole(jobs[i].y),
				   b = qvk_ops_whole(jobs[i].b);

		if (jobs[i].b)
			QVK_REC_OP(r, QVK_STAGE_BIAS, i == last,
				   qvk_ops_bias_add_bind(&llm->ops, op_,
							 jobs[i].n, jobs[i].m,
							 &y, &b));
	}
	return QVK_OK;
}

static struct qvk_ops_act qvk_act_bindings(const struct qvk_mm_act *a)
{
	return (struct qvk_ops_act){ qvk_ops_whole(a->qa), qvk_ops_whole(a->sa),
				     qvk_ops_whole(a->suma), a->per_block };
}

/* Matmuls sharing one input, then the barrier their consumers need. */
static void qvk_rec_matmuls_m(struct qvk_rec *r, struct qvk_mm_binding *b,
			      uint32_t count, uint32_t m)
{
	for (uint32_t i = 0; i < count; i++)
		qvk_mm_record(&r->plan->cmd, &b[i], m);
	qvk_cmd_barrier(&r->plan->cmd);
	qvk_stamp(r, QVK_STAGE_MATMUL, count);
}

static void qvk_rec_matmuls(struct qvk_rec *r, struct qvk_mm_binding *b,
			    uint32_t count)
{
	qvk_rec_matmuls_m(r, b, count, r->plan->m);
}

/* One row of @src (rows of @row_bytes) into row 0 of @dst. */
static void qvk_copy_row(VkCommandBuffer cb, const struct qvk_buffer *src,
			 const struct qvk_buffer *dst, VkDeviceSize row_bytes,
			 uint32_t row)
{
	VkBufferCopy region = { row * row_bytes, 0, row_bytes };

	vkCmdCopyBuffer(cb, src->pieces[0].buffer, dst->pieces[0].buffer, 1,
			&region);
}

/* The last token's normed activations (int8 and fp32) into act_last. */
static void qvk_rec_copy_last(struct qvk_rec *r)
{
	const struct qvk_mm_act *a = r->llm->act_dim, *d = r->llm->act_last;
	VkCommandBuffer cb = r->plan->cmd.cb;
	uint32_t last = r->plan->m - 1;
	/* The norm's shader writes must land before the copy reads them... */
	VkMemoryBarrier to_copy = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
	};
	/* ...and the copy's writes before the classifier reads them. */
	VkMemoryBarrier to_shader = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_SHADER_READ_BIT,
	};

	vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			     VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &to_copy, 0,
			     NULL, 0, NULL);
	qvk_copy_row(cb, a->qa, d->qa, a->k_padded, last);
	qvk_copy_row(cb, a->sa, d->sa, qvk_act_sa_bytes(1, a->k, a->per_block),
		     last);
	qvk_copy_row(cb, a->suma, d->suma, a->k_padded / 32 * 4, last);
	qvk_copy_row(cb, a->x, d->x, (VkDeviceSize)a->k * 4, last);
	vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
			     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
			     &to_shader, 0, NULL, 0, NULL);
}

/* Capture plans: site @kind of layer @l (n_layers: the classifier). */
static qvk_status qvk_rec_capture(struct qvk_rec *r, uint32_t l, uint32_t kind)
{
	return r->cap ? qvk_llm_capture_record(r->cap, r->plan, l, kind) :
			QVK_OK;
}

/*
 * a = rmsnorm(x) * w, in the representations the consumers read; capture
 * plans read the fp32 one.
 */
static qvk_status qvk_rec_norm(struct qvk_rec *r, const struct qvk_buffer *w,
			       bool q8, bool f32)
{
	struct qvk_llm *llm = r->llm;
	uint32_t m = r->plan->m;
	struct qvk_binding x = qvk_ops_whole(llm->x), wb = qvk_ops_whole(w),
			   xf = qvk_ops_whole(llm->act_dim->x);
	struct qvk_ops_act act = qvk_act_bindings(llm->act_dim);

	/* int8 with scales per token or per 32-block, as act_dim holds them */
	if (q8)
		QVK_REC(r, QVK_STAGE_RMSNORM,
			qvk_ops_rmsnorm_q8_bind(&llm->ops, op_, &llm->md, m, &x,
						&wb, &act));
	if (f32 || r->cap)
		QVK_REC(r, QVK_STAGE_RMSNORM,
			qvk_ops_rmsnorm_bind(&llm->ops, op_, &llm->md, m, &x,
					     &wb, &xf));
	return QVK_OK;
}

static qvk_status qvk_rec_attention(struct qvk_rec *r, uint32_t l)
{
	struct qvk_llm *llm = r->llm;
	const struct qvk_ops_model *md = &llm->md;
	uint32_t m = r->plan->m, q_dim = md->n_heads * md->head_dim;
	struct qvk_binding step = qvk_ops_whole(llm->step),
			   q = qvk_ops_whole(llm->q), k = qvk_ops_whole(llm->k),
			   v = qvk_ops_whole(llm->v),
			   kc = qvk_ops_whole(llm->kv[2 * l]),
			   vc = qvk_ops_whole(llm->kv[2 * l + 1]),
			   out = qvk_ops_whole(llm->act_attn->x);
	struct qvk_ops_act act = qvk_act_bindings(llm->act_attn);
	const struct qvk_llm_layer *L = &llm->w.layers[l];
	const struct qvk_bias_job bias[3] = {
		{ llm->q, L->bq, q_dim, m },
		{ llm->k, L->bk, md->n_kv_heads * md->head_dim, m },
		{ llm->v, L->bv, md->n_kv_heads * md->head_dim, m },
	};
	struct qvk_binding qn = qvk_ops_whole(L->q_norm),
			   kn = qvk_ops_whole(L->k_norm);
	qvk_status st = qvk_rec_biases(r, bias, 3);

	if (st != QVK_OK)
		return st;
	if (L->q_norm) /* q's and k's rows are disjoint: one barrier */
		QVK_REC_OP(r, QVK_STAGE_RMSNORM, !L->k_norm,
			   qvk_ops_head_rmsnorm_bind(&llm->ops, op_, md, m,
						     md->n_heads, &q, &qn));
	if (L->k_norm)
		QVK_REC(r, QVK_STAGE_RMSNORM,
			qvk_ops_head_rmsnorm_bind(&llm->ops, op_, md, m,
						  md->n_kv_heads, &k, &kn));
	QVK_REC(r, QVK_STAGE_ROPE,
		qvk_ops_rope_bind(&llm->ops, op_, md, m, &step, &q, &k));
	QVK_REC(r, QVK_STAGE_KV_WRITE,
		qvk_ops_kv_write_bind(&llm->ops, op_, md, m, &step, &k, &v, &kc,
				      &vc));
	if (m == 1 && llm->attn_splits) {
		/* Split-KV decode: pass 1, then the combine (each with the
		 * barrier the next needs). */
		struct qvk_binding part = qvk_ops_whole(llm->attn_part);
		struct qvk_op *ops2;

		st = qvk_plan_new_ops(r->plan, 2, &ops2);
		if (st == QVK_OK)
			st = qvk_ops_attention_split_bind(&llm->ops, ops2, md, m,
							  llm->attn_splits,
							  llm->ops.attn_split_min,
							  &step, &q, &kc, &vc,
							  &part, &out);
		if (st == QVK_OK)
			st = qvk_rec_op(r, QVK_OK, QVK_STAGE_ATTENTION, true);
		if (st == QVK_OK)
			st = qvk_rec_op(r, QVK_OK, QVK_STAGE_ATTENTION, true);
		if (st != QVK_OK)
			return st;
	} else {
		QVK_REC(r, QVK_STAGE_ATTENTION,
			qvk_ops_attention_bind(&llm->ops, op_, md, m, &step, &q,
					       &kc, &vc, &out));
	}
	if (llm->need.attn_q8)
		QVK_REC(r, QVK_STAGE_ACT_QUANT,
			qvk_ops_act_quant_bind(&llm->ops, op_, q_dim, m, q_dim,
					       &out, &act));
	return QVK_OK;
}

static qvk_status qvk_rec_ffn(struct qvk_rec *r, uint32_t l)
{
	struct qvk_llm *llm = r->llm;
	const struct qvk_ops_model *md = &llm->md;
	uint32_t m = r->plan->m;
	struct qvk_binding gate = qvk_ops_whole(llm->hb),
			   up = qvk_ops_whole(llm->hb2),
			   out = qvk_ops_whole(llm->act_hid->x);
	struct qvk_ops_act act = qvk_act_bindings(llm->act_hid);
	const struct qvk_llm_layer *L = &llm->w.layers[l];
	const struct qvk_bias_job bias[2] = {
		{ llm->hb, L->b1, md->hidden_dim, m },
		{ llm->hb2, L->b3, md->hidden_dim, m },
	};
	const struct qvk_bias_job down = { llm->x, L->b2, md->dim, m };
	qvk_status st;

	st = qvk_rec_norm(r, L->ffn_norm, llm->need.dim_q8, llm->need.dim_f32);
	if (st == QVK_OK)
		st = qvk_rec_capture(r, l, QVK_CAPTURE_FFN_IN);
	if (st != QVK_OK)
		return st;
	qvk_rec_matmuls(r, &llm->mmb[7 * l + 4], 2); /* w1, w3 */
	if ((st = qvk_rec_biases(r, bias, 2)))
		return st;
	if (llm->need.hid_q8)
		QVK_REC(r, QVK_STAGE_SWIGLU,
			qvk_ops_swiglu_q8_bind(&llm->ops, op_, md, m,
					       md->hidden_dim, &gate, &up,
					       &act));
	if (llm->need.hid_f32 || r->cap)
		QVK_REC(r, QVK_STAGE_SWIGLU,
			qvk_ops_swiglu_bind(&llm->ops, op_, md, m,
					    md->hidden_dim, &gate, &up, &out));
	if ((st = qvk_rec_capture(r, l, QVK_CAPTURE_FFN_OUT)))
		return st;
	qvk_rec_matmuls(r, &llm->mmb[7 * l + 6], 1); /* x += w2 h */
	return qvk_rec_biases(r, &down, 1);
}

/*
 * Probe plans only: the residual stream x (m, dim) into slot @slot of the
 * probe buffer, whose pieces hold whole slots. The copy reads what the
 * last kernel wrote and must finish before the next kernel writes x again.
 */
static void qvk_rec_probe(struct qvk_rec *r, uint32_t slot)
{
	const struct qvk_buffer *x = r->llm->x, *p = r->probe;
	VkDeviceSize bytes = (VkDeviceSize)r->plan->m * r->llm->md.dim * 4;
	uint32_t per_piece = (uint32_t)(p->piece_bytes / bytes);
	VkBufferCopy region = { 0, (slot % per_piece) * bytes, bytes };
	VkMemoryBarrier to_copy = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
	};
	VkMemoryBarrier to_host = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_HOST_READ_BIT,
	};

	vkCmdPipelineBarrier(r->plan->cmd.cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			     VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &to_copy, 0,
			     NULL, 0, NULL);
	vkCmdCopyBuffer(r->plan->cmd.cb, x->pieces[0].buffer,
			p->pieces[slot / per_piece].buffer, 1, &region);
	/* Execution order for the next write of x (write after read). */
	vkCmdPipelineBarrier(r->plan->cmd.cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
			     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
				     VK_PIPELINE_STAGE_HOST_BIT,
			     0, 1, &to_host, 0, NULL, 0, NULL);
}

static qvk_status qvk_plan_record(struct qvk_rec *r)
{
	struct qvk_llm *llm = r->llm;
	struct qvk_binding step = qvk_ops_whole(llm->step),
			   x = qvk_ops_whole(llm->x);
	uint32_t n_layers = r->cap ? qvk_llm_capture_last_layer(r->cap) :
				     llm->w.n_layers;
	qvk_status st;

	if (r->profile) {
		qvk_cmd_timestamps_reset(&r->plan->cmd);
		qvk_cmd_timestamp(&r->plan->cmd, 0);
	}
	QVK_REC(r, QVK_STAGE_EMBED,
		qvk_ops_embed_bind(&llm->ops, op_, &llm->md, r->plan->m, false,
				   &step, llm->w.tok_embd, &x));
	if (r->probe)
		qvk_rec_probe(r, 0);
	for (uint32_t l = 0; l < n_layers; l++) {
		st = qvk_rec_norm(r, llm->w.layers[l].attn_norm,
				  llm->need.dim_q8, llm->need.dim_f32);
		if (st == QVK_OK)
			st = qvk_rec_capture(r, l, QVK_CAPTURE_ATTN_IN);
		if (st != QVK_OK)
			return st;
		qvk_rec_matmuls(r, &llm->mmb[7 * l], 3); /* q, k, v */
		st = qvk_rec_attention(r, l);
		if (st == QVK_OK)
			st = qvk_rec_capture(r, l, QVK_CAPTURE_ATTN_OUT);
		if (st != QVK_OK)
			return st;
		qvk_rec_matmuls(r, &llm->mmb[7 * l + 3], 1); /* x += wo o */
		st = qvk_rec_biases(r, &(struct qvk_bias_job){
			llm->x, llm->w.layers[l].bo, llm->md.dim, r->plan->m }, 1);
		if (st == QVK_OK)
			st = qvk_rec_ffn(r, l);
		if (st != QVK_OK)
			return st;
		if (r->probe)
			qvk_rec_probe(r, l + 1);
	}
	if (r->cap && !qvk_llm_capture_head(r->cap))
		return QVK_OK; /* the layers after the captured ones add nothing */
	st = qvk_rec_norm(r, llm->w.output_norm, !llm->need.final_f32,
			  llm->need.final_f32);
	if (st == QVK_OK && r->cap)
		return qvk_rec_capture(r, llm->w.n_layers, QVK_CAPTURE_ATTN_IN);
	if (st != QVK_OK)
		return st;
	if (r->plan->all_logits || r->plan->m == 1) {
		qvk_rec_matmuls(r, &llm->mmb[7 * llm->w.n_layers], 1);
		return qvk_rec_biases(r, &(struct qvk_bias_job){
			llm->logits, llm->w.output_b, llm->md.n_vocab,
			r->plan->m }, 1);
	}
	qvk_rec_copy_last(r);
	qvk_rec_matmuls_m(r, &llm->mmb[7 * llm->w.n_layers + 1], 1, 1);
	return qvk_rec_biases(r, &(struct qvk_bias_job){
		llm->logits, llm->w.output_b, llm->md.n_vocab, 1 }, 1);
}

void qvk_llm_plan_finish(struct qvk_llm_plan *plan)
{
	for (uint32_t i = 0; i < plan->n_ops; i++)
		qvk_op_finish(&plan->ops[i]);
	free(plan->ops);
	qvk_cmd_finish(&plan->cmd);
	memset(plan, 0, sizeof(*plan));
}

static qvk_status qvk_plan_build(struct qvk_rec *r, uint32_t m,
				 bool all_logits)
{
	struct qvk_llm_plan *plan = r->plan;
	struct qvk_device *dev = r->llm->dev;
	qvk_status st;

	memset(plan, 0, sizeof(*plan));
	plan->m = m;
	plan->all_logits = all_logits;
	st = qvk_cmd_init(dev, &plan->cmd);
	if (st == QVK_OK && r->profile)
		st = qvk_cmd_timestamps_init(&plan->cmd, QVK_LLM_MAX_STAMPS);
	if (st == QVK_OK)
		st = qvk_cmd_begin(&plan->cmd);
	if (st == QVK_OK)
		st = qvk_plan_record(r);
	if (st == QVK_OK)
		st = QVK_VK(dev->ctx, vkEndCommandBuffer(plan->cmd.cb));
	if (st != QVK_OK)
		qvk_llm_plan_finish(plan);
	return st;
}

qvk_status qvk_llm_plan_build(struct qvk_llm *llm, struct qvk_llm_plan *plan,
			      uint32_t m, bool all_logits,
			      const struct qvk_buffer *probe)
{
	struct qvk_rec r = { llm, plan, llm->opt.profile && !probe, probe,
			     NULL };

	return qvk_plan_build(&r, m, all_logits);
}

qvk_status qvk_llm_plan_build_capture(struct qvk_llm *llm,
				      struct qvk_llm_plan *plan, uint32_t m,
				      const struct qvk_llm_capture *cap)
{
	struct qvk_rec r = { llm, plan, false, NULL, cap };

	return qvk_plan_build(&r, m, false);
}

qvk_status qvk_llm_plan_get(struct qvk_llm *llm, uint32_t m, bool all_logits,
			    struct qvk_llm_plan **out)
{
	struct qvk_llm_plan *slot = NULL;

	for (uint32_t i = 0; i < QVK_LLM_MAX_PLANS; i++) {
		struct qvk_llm_plan *p = &llm->plans[i];

		if (p->m == m && (m == 1 || p->all_logits == all_logits)) {
			p->last_use = ++llm->uses;
			*out = p;
			return QVK_OK;
		}
		/* A free slot, else the least recently used (never decode). */
		if (p != llm->decode &&
		    (!slot || (slot->m && (!p->m || p->last_use < slot->last_use))))
			slot = p;
	}
	qvk_llm_plan_finish(slot);
	slot->last_use = ++llm->uses;
	*out = slot;
	return qvk_llm_plan_build(llm, slot, m, all_logits, NULL);
}

qvk_status qvk_llm_plan_collect_profile(struct qvk_llm *llm,
					struct qvk_llm_plan *plan)
{
	double ns[QVK_LLM_MAX_STAMPS];
	qvk_status st = qvk_cmd_timestamps_read_ns(&plan->cmd,
						   plan->n_stamps + 1, ns);

	for (uint32_t i = 1; st == QVK_OK && i <= plan->n_stamps; i++) {
		llm->prof_ms[plan->stamp_stage[i]] += (ns[i] - ns[i - 1]) * 1e-6;
		llm->prof_dispatches[plan->stamp_stage[i]] +=
			plan->stamp_dispatches[i];
	}
	return st;
}
