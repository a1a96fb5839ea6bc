/* SPDX-License-Identifier: MIT */
/*
 * A model on the device: buffers, the recorded forward pass, and running
 * it. One plan per token count m: the ops bound for m and one command
 * buffer recorded once. Decode (m = 1) is recorded at creation and replayed
 * for every token with only the step buffer rewritten; prefill plans are
 * built for the batch sizes a prompt needs and kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "llm_internal.h"

static const char *const qvk_stage_names[QVK_STAGE_COUNT] = {
	"embed", "rmsnorm", "matmul", "rope", "kv_write", "attention",
	"act_quant", "swiglu", "bias",
};

static bool qvk_is_float(const struct qvk_mm_weight *w)
{
	return w->kind == QVK_MM_F32 || w->kind == QVK_MM_F16;
}

static bool qvk_is_kq(const struct qvk_mm_weight *w)
{
	return w->kind == QVK_MM_KQ;
}

/*
 * Which representations each activation needs: int8, fp32 or both; and
 * whether its int8 form has a scale per 32-block: by default (llama.cpp's
 * Q8_0 activations), and always where K-quant weights read it (their
 * other consumers then read that form too).
 */
static void qvk_llm_needs(struct qvk_llm *llm)
{
	const struct qvk_llm_weights *w = &llm->w;

	for (uint32_t l = 0; l < w->n_layers; l++) {
		const struct qvk_llm_layer *L = &w->layers[l];
		const struct qvk_mm_weight *dim_in[] = { L->wq, L->wk, L->wv,
							 L->w1, L->w3 };

		for (size_t i = 0; i < QVK_ARRAY_SIZE(dim_in); i++) {
			llm->need.dim_f32 |= qvk_is_float(dim_in[i]);
			llm->need.dim_q8 |= !qvk_is_float(dim_in[i]);
			llm->need.dim_block |= qvk_is_kq(dim_in[i]);
		}
		llm->need.attn_q8 |= !qvk_is_float(L->wo);
		llm->need.attn_block |= qvk_is_kq(L->wo);
		llm->need.hid_f32 |= qvk_is_float(L->w2);
		llm->need.hid_q8 |= !qvk_is_float(L->w2);
		llm->need.hid_block |= qvk_is_kq(L->w2);
	}
	llm->need.final_f32 = qvk_is_float(w->output);
	/* the classifier reads the normed x too (act_dim, act_last) */
	llm->need.dim_block |= qvk_is_kq(w->output);
	if (!llm->opt.act_per_token)
		llm->need.dim_block = llm->need.attn_block =
			llm->need.hid_block = true;
}

/*
 * Decode attention: split-KV where this device measured it faster (or as
 * the options force), else one pass.
 */
static qvk_status qvk_llm_attn_choose(struct qvk_llm *llm)
{
	uint32_t want = llm->opt.attn_splits;

	if (want > QVK_OPS_ATTN_MAX_SPLITS)
		return qvk_error(llm->dev->ctx, QVK_ERR_INVALID_ARG,
				 "attention: %u splits (at most %u)", want,
				 QVK_OPS_ATTN_MAX_SPLITS);
	if (!want && QVK_DIV_ROUND_UP(llm->md.max_seq,
				      llm->ops.attn_split_min) < 2) {
		/* A cache this short has one split at most: nothing to tune. */
	} else if (!want) {
		qvk_ops_attn_tune(&llm->ops);
		llm->attn_splits = qvk_ops_attention_splits(&llm->ops, &llm->md, 1);
	} else if (want >= 2) {
		/* Splits past the cache's minimum-length ones never run. */
		llm->attn_splits = QVK_MIN(want, QVK_DIV_ROUND_UP(
			llm->md.max_seq, llm->ops.attn_split_min));
		llm->attn_splits = QVK_MIN(llm->attn_splits,
			llm->dev->info.max_workgroup_count[2]);
		if (llm->attn_splits < 2)
			llm->attn_splits = 0;
	}
	if (llm->attn_splits)
		qvk_log(llm->dev->ctx, QVK_LOG_DEBUG, "decode attention: "
			"split-KV, %u splits per kv head", llm->attn_splits);
	else
		qvk_log(llm->dev->ctx, QVK_LOG_DEBUG, "decode attention: one "
			"pass per kv head");
	return QVK_OK;
}

static qvk_status qvk_llm_buffers(struct qvk_llm *llm)
{
	struct qvk_device *dev = llm->dev;
	const struct qvk_ops_model *md = &llm->md;
	uint32_t m = llm->max_m, q_dim = md->n_heads * md->head_dim,
		 kv_dim = md->n_kv_heads * md->head_dim;
	struct {
		struct qvk_buffer **buf;
		enum qvk_mem_kind kind;
		uint64_t bytes;
	} bufs[] = {
		{ &llm->step, QVK_MEM_UPLOAD, QVK_OPS_STEP_BYTES(m) },
		{ &llm->x, QVK_MEM_DEVICE, (uint64_t)m * md->dim * 4 },
		{ &llm->q, QVK_MEM_DEVICE, (uint64_t)m * q_dim * 4 },
		{ &llm->k, QVK_MEM_DEVICE, (uint64_t)m * kv_dim * 4 },
		{ &llm->v, QVK_MEM_DEVICE, (uint64_t)m * kv_dim * 4 },
		{ &llm->hb, QVK_MEM_DEVICE, (uint64_t)m * md->hidden_dim * 4 },
		{ &llm->hb2, QVK_MEM_DEVICE, (uint64_t)m * md->hidden_dim * 4 },
		{ &llm->logits, QVK_MEM_READBACK, (uint64_t)m * md->n_vocab * 4 },
	};
	qvk_status st = QVK_OK;

	for (size_t i = 0; st == QVK_OK && i < QVK_ARRAY_SIZE(bufs); i++)
		st = qvk_buffer_create(dev, bufs[i].kind, bufs[i].bytes, 4,
				       bufs[i].buf);
	if (st == QVK_OK)
		st = qvk_mm_act_create(dev, m, md->dim, llm->need.dim_block,
				       &llm->act_dim);
	if (st == QVK_OK)
		st = qvk_mm_act_create(dev, m, q_dim, llm->need.attn_block,
				       &llm->act_attn);
	if (st == QVK_OK)
		st = qvk_mm_act_create(dev, m, md->hidden_dim,
				       llm->need.hid_block, &llm->act_hid);
	if (st == QVK_OK)
		st = qvk_mm_act_create(dev, 1, md->dim, llm->need.dim_block,
				       &llm->act_last);
	if (st == QVK_OK && llm->attn_splits)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE,
				       qvk_ops_attention_split_bytes(md, 1,
								     llm->attn_splits),
				       4, &llm->attn_part);
	if (st != QVK_OK)
		return st;
	llm->kv = calloc(2 * (size_t)llm->w.n_layers, sizeof(*llm->kv));
	if (!llm->kv)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "KV cache");
	for (uint32_t i = 0; st == QVK_OK && i < 2 * llm->w.n_layers; i++)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE,
				       qvk_ops_kv_layer_bytes(md), 4,
				       &llm->kv[i]);
	return st;
}

/* Matmul bindings: independent of m, made once. */
static qvk_status qvk_llm_bind_matmuls(struct qvk_llm *llm)
{
	const struct qvk_ops_model *md = &llm->md;
	uint32_t q_dim = md->n_heads * md->head_dim,
		 kv_dim = md->n_kv_heads * md->head_dim;
	qvk_status st = QVK_OK;

	llm->mmb = calloc((size_t)7 * llm->w.n_layers + 2, sizeof(*llm->mmb));
	if (!llm->mmb)
		return qvk_error(llm->dev->ctx, QVK_ERR_NO_MEMORY, "bindings");
	for (uint32_t l = 0; st == QVK_OK && l < llm->w.n_layers; l++) {
		const struct qvk_llm_layer *L = &llm->w.layers[l];
		struct qvk_mm_binding *b = &llm->mmb[7 * l];
		struct {
			const struct qvk_mm_weight *w;
			const struct qvk_mm_act *a;
			const struct qvk_buffer *y;
			uint32_t stride;
			bool acc;
		} mm[7] = {
			{ L->wq, llm->act_dim, llm->q, q_dim, false },
			{ L->wk, llm->act_dim, llm->k, kv_dim, false },
			{ L->wv, llm->act_dim, llm->v, kv_dim, false },
			/* Residual adds fused into the epilogue: x += W·a. */
			{ L->wo, llm->act_attn, llm->x, md->dim, true },
			{ L->w1, llm->act_dim, llm->hb, md->hidden_dim, false },
			{ L->w3, llm->act_dim, llm->hb2, md->hidden_dim, false },
			{ L->w2, llm->act_hid, llm->x, md->dim, true },
		};

		for (int i = 0; st == QVK_OK && i < 7; i++) {
			st = qvk_mm_bind(&llm->mm, mm[i].w, mm[i].a, mm[i].y,
					 mm[i].stride, mm[i].acc, NULL, &b[i]);
			llm->n_mmb += st == QVK_OK;
		}
	}
	if (st == QVK_OK) {
		st = qvk_mm_bind(&llm->mm, llm->w.output, llm->act_dim,
				 llm->logits, md->n_vocab, false, NULL,
				 &llm->mmb[7 * llm->w.n_layers]);
		llm->n_mmb += st == QVK_OK;
	}
	if (st == QVK_OK) {
		st = qvk_mm_bind(&llm->mm, llm->w.output, llm->act_last,
				 llm->logits, md->n_vocab, false, NULL,
				 &llm->mmb[7 * llm->w.n_layers + 1]);
		llm->n_mmb += st == QVK_OK;
	}
	return st;
}

qvk_status qvk_llm_create(struct qvk_device *dev, const struct qvk_model *model,
			  const struct qvk_llm_options *opt,
			  struct qvk_llm **out)
{
	const struct qvk_model_params *p = &model->params;
	struct qvk_llm_options o = opt ? *opt : (struct qvk_llm_options){ 0 };
	uint64_t used_before, used_after, budget;
	struct qvk_llm *llm;
	qvk_status st;

	*out = NULL;
	if (!o.max_batch)
		o.max_batch = 64;
	if (!o.max_seq || o.max_seq > p->seq_len)
		o.max_seq = p->seq_len;
	if (!qvk_group_valid(o.group))
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "group %u (use " QVK_GROUPS_TEXT ")", o.group);
	llm = calloc(1, sizeof(*llm));
	if (!llm)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "model");
	qvk_device_memory_usage(dev, &used_before, &budget);
	llm->dev = dev;
	llm->opt = o;
	llm->max_m = QVK_MIN(o.max_batch, o.max_seq);
	llm->md = (struct qvk_ops_model){
		.dim = p->dim, .hidden_dim = p->hidden_dim,
		.n_heads = p->n_heads, .n_kv_heads = p->n_kv_heads,
		.head_dim = p->head_dim, .max_seq = o.max_seq,
		.n_vocab = p->vocab_size, .norm_eps = p->norm_eps,
		.rope_theta = p->rope_theta,
		.rope_mode = p->rope_neox ? QVK_ROPE_NEOX : QVK_ROPE_INTERLEAVED,
		.rope_dims = qvk_model_rope_dims(p),
		.rope_freqs = llm->rope_freqs,
		.rope_mscale = qvk_model_rope_mscale(p),
		.kv_f32 = o.kv_f32,
	};
	st = qvk_ops_model_check(dev->ctx, &llm->md);
	/* The cache's size picks LongRoPE's short or long factors. */
	if (st == QVK_OK)
		qvk_model_rope_freqs(model, o.max_seq, llm->rope_freqs);
	if (st == QVK_OK)
		st = qvk_llm_weights_load(dev, model, &o, &llm->w);
	if (st == QVK_OK)
		st = qvk_ops_init(dev, &llm->ops);
	if (st == QVK_OK)
		st = qvk_mm_init(dev, &llm->mm);
	if (st == QVK_OK)
		st = qvk_llm_attn_choose(llm);
	if (st == QVK_OK) {
		qvk_llm_needs(llm);
		st = qvk_llm_buffers(llm);
	}
	if (st == QVK_OK)
		st = qvk_llm_bind_matmuls(llm);
	/* The decode plan, recorded once and replayed for every token. */
	if (st == QVK_OK)
		st = qvk_llm_plan_get(llm, 1, false, &llm->decode);
	if (st != QVK_OK) {
		qvk_llm_destroy(llm);
		return st;
	}
	/* What this model holds: device memory is shared by the device. */
	qvk_device_memory_usage(dev, &used_after, &budget);
	llm->device_bytes = used_after - used_before;
	*out = llm;
	return QVK_OK;
}

void qvk_llm_destroy(struct qvk_llm *llm)
{
	if (!llm)
		return;
	for (uint32_t i = 0; i < QVK_LLM_MAX_PLANS; i++)
		qvk_llm_plan_finish(&llm->plans[i]);
	for (uint32_t i = 0; i < llm->n_mmb; i++)
		qvk_mm_unbind(&llm->mmb[i]);
	free(llm->mmb);
	for (uint32_t i = 0; llm->kv && i < 2 * llm->w.n_layers; i++)
		qvk_buffer_destroy(llm->kv[i]);
	free(llm->kv);
	qvk_mm_act_destroy(llm->act_dim);
	qvk_mm_act_destroy(llm->act_attn);
	qvk_mm_act_destroy(llm->act_hid);
	qvk_mm_act_destroy(llm->act_last);
	qvk_buffer_destroy(llm->attn_part);
	qvk_buffer_destroy(llm->step);
	qvk_buffer_destroy(llm->x);
	qvk_buffer_destroy(llm->q);
	qvk_buffer_destroy(llm->k);
	qvk_buffer_destroy(llm->v);
	qvk_buffer_destroy(llm->hb);
	qvk_buffer_destroy(llm->hb2);
	qvk_buffer_destroy(llm->logits);
	if (llm->mm.dev)
		qvk_mm_finish(&llm->mm);
	if (llm->ops.dev)
		qvk_ops_finish(&llm->ops);
	qvk_llm_weights_finish(&llm->w);
	free(llm);
}

/* Run one plan over tokens[0..m) at @pos and collect its profile. */
static qvk_status qvk_llm_submit(struct qvk_llm *llm, struct qvk_llm_plan *plan,
				 const uint32_t *tokens, uint32_t pos)
{
	qvk_status st = qvk_ops_step_write(llm->step, pos, tokens, plan->m,
					   llm->md.max_seq, llm->md.n_vocab);

	if (st == QVK_OK)
		st = qvk_cmd_submit_wait(&plan->cmd, false);
	if (st == QVK_OK && plan->n_stamps)
		st = qvk_llm_plan_collect_profile(llm, plan);
	return st;
}

qvk_status qvk_llm_forward(struct qvk_llm *llm, const uint32_t *tokens,
			   uint32_t n, uint32_t pos0, float *logits,
			   const float **last)
{
	struct qvk_ctx *ctx = llm->dev->ctx;
	const uint32_t vocab = llm->md.n_vocab;
	const float *mapped = qvk_buffer_piece_map(llm->logits, 0);
	uint32_t done = 0;
	qvk_status st = QVK_OK;

	if (!tokens || !n || pos0 > llm->md.max_seq ||
	    n > llm->md.max_seq - pos0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "%u tokens at "
				 "position %u: the context holds %u", n, pos0,
				 llm->md.max_seq);
	while (st == QVK_OK && done < n) {
		uint32_t m = QVK_MIN(n - done, llm->max_m);
		struct qvk_llm_plan *plan = NULL;

		/* Decode and prompts need the last token's logits only. */
		bool all = logits && m > 1;

		st = qvk_llm_plan_get(llm, m, all, &plan);
		if (st == QVK_OK)
			st = qvk_llm_submit(llm, plan, tokens + done, pos0 + done);
		/* Non-finite logits are an error, never tokens. */
		if (st == QVK_OK)
			st = qvk_llm_check_logits(llm, plan, tokens + done,
						  pos0 + done, mapped,
						  all ? m : 1);
		if (st == QVK_OK && logits)
			memcpy(logits + (size_t)done * vocab, mapped,
			       (size_t)m * vocab * sizeof(float));
		done += m;
		if (st == QVK_OK && last)
			*last = mapped + (size_t)(all ? m - 1 : 0) * vocab;
	}
	return st;
}

uint64_t qvk_llm_device_bytes(const struct qvk_llm *llm)
{
	return llm->device_bytes;
}

const char *qvk_llm_describe(const struct qvk_llm *llm)
{
	return llm->w.describe;
}

uint32_t qvk_llm_profile(const struct qvk_llm *llm,
			 struct qvk_llm_profile_entry *entries, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < QVK_STAGE_COUNT && n < max; k++) {
		if (!llm->prof_dispatches[k])
			continue;
		entries[n++] = (struct qvk_llm_profile_entry){
			.kind = qvk_stage_names[k],
			.ms = llm->prof_ms[k],
			.dispatches = llm->prof_dispatches[k],
		};
	}
	return n;
}

void qvk_llm_profile_reset(struct qvk_llm *llm)
{
	memset(llm->prof_ms, 0, sizeof(llm->prof_ms));
	memset(llm->prof_dispatches, 0, sizeof(llm->prof_dispatches));
}
