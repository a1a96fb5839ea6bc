/* SPDX-License-Identifier: MIT */
/*
 * The op kernels of a Llama block: pipelines created once per device with
 * work sizes chosen from its subgroup size and limits, recording, the step
 * buffer and model checks. The per-op binds are in ops_bind.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/*
 * Invocations per workgroup. On a CPU device (lavapipe) a workgroup runs on
 * one thread, its invocations as SIMD lanes of one subgroup at a time, so
 * a workgroup larger than a subgroup adds barriers but no parallelism: row
 * kernels take exactly one subgroup there (their reductions then execute
 * no barrier) and elementwise kernels a few. GPUs hide latency with more
 * threads per row: @gpu_want, a multiple of the subgroup. Always within
 * maxComputeWorkGroupInvocations and maxComputeWorkGroupSize[0].
 */
static uint32_t qvk_ops_pick_wg(const struct qvk_device_info *info,
				uint32_t cpu_subgroups, uint32_t gpu_want)
{
	uint32_t sg = info->subgroup_size ? info->subgroup_size : 1;
	uint32_t cap = QVK_MIN(info->max_workgroup_invocations,
			       info->max_workgroup_size[0]);
	uint32_t wg = info->type == QVK_DEVICE_CPU ? sg * cpu_subgroups :
						     QVK_MAX(gpu_want, sg);

	wg = QVK_MIN(wg, cap);
	if (wg >= sg)
		wg = wg / sg * sg;
	return wg ? wg : 1;
}

static qvk_status qvk_ops_check_subgroups(struct qvk_device *dev,
					  bool *shuffle)
{
	VkPhysicalDeviceSubgroupProperties sgp = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
	};
	VkPhysicalDeviceProperties2 p2 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
		.pNext = &sgp,
	};
	const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT |
					    VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;

	vkGetPhysicalDeviceProperties2(dev->pdev, &p2);
	*shuffle = sgp.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
	if (!(sgp.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
	    (sgp.supportedOperations & need) != need)
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "%s lacks subgroup arithmetic in compute "
				 "shaders, which the op kernels' reductions use",
				 dev->info.name);
	return QVK_OK;
}

qvk_status qvk_ops_init(struct qvk_device *dev, struct qvk_ops *ops)
{
	return qvk_ops_init_opts(dev, NULL, ops);
}

static qvk_status qvk_ops_wg_choose(struct qvk_device *dev, uint32_t given,
				    uint32_t picked, uint32_t *out)
{
	uint32_t cap = QVK_MIN(dev->info.max_workgroup_invocations,
			       dev->info.max_workgroup_size[0]);

	if (given > cap)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "ops: workgroup of %u invocations, device "
				 "limit %u", given, cap);
	*out = given ? given : picked;
	return QVK_OK;
}

/*
 * The prefill kernel until (or instead of) tuning: forced by @opt or
 * QVK_ATTN_PREFILL (a name of qvk_attn_prefill_name()), else what this
 * device measured, else the subgroup kernel on CPU devices and
 * attention.comp elsewhere.
 */
static qvk_status qvk_ops_prefill_choose(struct qvk_device *dev,
					 const struct qvk_ops_options *opt,
					 struct qvk_ops *ops)
{
	const char *env = getenv("QVK_ATTN_PREFILL");
	enum qvk_attn_prefill kind;

	if (opt->attn_prefill) {
		if (opt->attn_prefill > QVK_ATTN_PREFILL_KINDS)
			return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
					 "ops: prefill kernel %u (1..%u)",
					 opt->attn_prefill, QVK_ATTN_PREFILL_KINDS);
		ops->attn_prefill = (enum qvk_attn_prefill)(opt->attn_prefill - 1);
		ops->attn_prefill_forced = true;
	} else if (env && *env) {
		if (!qvk_attn_prefill_parse(env, &kind))
			return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
					 "QVK_ATTN_PREFILL=%s: not onepass, "
					 "subgroup, tiled or tiled-small", env);
		ops->attn_prefill = kind;
		ops->attn_prefill_forced = true;
	} else if (dev->attn_tuned) {
		ops->attn_prefill = (enum qvk_attn_prefill)dev->attn_prefill;
	} else {
		ops->attn_prefill = ops->cpu_attention ? QVK_ATTN_PREFILL_SUBGROUP :
							 QVK_ATTN_PREFILL_ONEPASS;
	}
	return QVK_OK;
}

qvk_status qvk_ops_init_opts(struct qvk_device *dev,
			     const struct qvk_ops_options *opt,
			     struct qvk_ops *ops)
{
	static const struct qvk_ops_options automatic;
	const struct qvk_device_info *info = &dev->info;
	uint32_t shared_floats, upt, chunk[QVK_OPS_ATTN_VARIANTS];
	bool shuffle = false;
	qvk_status st;

	memset(ops, 0, sizeof(*ops));
	ops->dev = dev;
	if (!opt)
		opt = &automatic;
	st = qvk_ops_check_subgroups(dev, &shuffle);
	if (st == QVK_OK)
		st = qvk_ops_wg_choose(dev, opt->wg_row,
				       qvk_ops_pick_wg(info, 1, 256),
				       &ops->wg_row);
	if (st == QVK_OK)
		st = qvk_ops_wg_choose(dev, opt->wg_flat,
				       qvk_ops_pick_wg(info, 8, 256),
				       &ops->wg_flat);
	if (st == QVK_OK)
		st = qvk_ops_wg_choose(dev, opt->wg_attn,
				       qvk_ops_pick_wg(info, 1, 128),
				       &ops->wg_attn);
	if (st != QVK_OK)
		return st;
	/*
	 * On a CPU device (lavapipe) every buffer or shared-memory access
	 * is one operation per lane: the CPU attention kernels load each
	 * cache word once per subgroup and move data between lanes with
	 * subgroup shuffles instead. They keep whole rows in registers,
	 * which GPUs would spill; GPUs use attention.comp.
	 */
	ops->subgroup_prefill = !opt->no_cpu_attention && shuffle &&
				info->subgroup_size >= 1 &&
				info->min_subgroup_size == info->max_subgroup_size;
	ops->cpu_attention = ops->subgroup_prefill &&
			     info->type == QVK_DEVICE_CPU;
	/* attention_prefill.comp may run elsewhere too: the tuning times it. */
	st = qvk_ops_prefill_choose(dev, opt, ops);
	if (st != QVK_OK)
		return st;
	/*
	 * Split-KV decode: a split of fewer positions than this costs more in
	 * fixed work (q into registers, partials written and merged) than
	 * the parallelism it adds. Whether decode splits at all is measured
	 * (qvk_ops_attn_tune); until then, one pass.
	 */
	ops->attn_split_min = QVK_ALIGN_UP(QVK_OPS_ATTN_SPLIT_MIN,
					   qvk_ops_attn_split_tile(ops));
	ops->attn_split_wgs = dev->attn_tuned ? dev->attn_split_wgs : 0;
	ops->grid_x_max = QVK_MIN(info->max_workgroup_count[0], 65535u);
	if (opt->grid_x_max)
		ops->grid_x_max = QVK_MIN(ops->grid_x_max, opt->grid_x_max);
	/*
	 * Attention's shared memory: q of GMAX heads (MAX_HEAD_DIM floats
	 * each), reduction partials (WG), and the scores of a chunk of
	 * positions for each of the GMAX heads.
	 */
	shared_floats = info->max_shared_memory_bytes / 4;
	for (uint32_t v = 0; v < QVK_OPS_ATTN_VARIANTS; v++) {
		uint32_t gmax = 1u << v;
		uint32_t fixed = gmax * QVK_OPS_MAX_HEAD_DIM + ops->wg_attn;

		if (shared_floats < fixed + gmax * ops->wg_attn)
			return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
					 "%s has %u bytes of shared memory, too "
					 "few for attention", info->name,
					 info->max_shared_memory_bytes);
		/* More than ~1k positions per round saves nothing. */
		chunk[v] = QVK_MIN((shared_floats - fixed) / gmax, 1024u);
		chunk[v] = chunk[v] / ops->wg_attn * ops->wg_attn;
		ops->attn_chunk[v] = chunk[v];
	}
	upt = QVK_DIV_ROUND_UP(QVK_OPS_MAX_HEAD_DIM / 8, ops->wg_attn);

	const struct {
		struct qvk_pipeline **pipe;
		struct qvk_pipeline_desc desc;
	} table[] = {
#define QVK_OPS_PIPE(field, name, bindings, ...)                              \
	{ &ops->field, { .shader = name, .n_bindings = bindings,               \
			 .push_bytes = QVK_OPS_PUSH_BYTES,                     \
			 .n_spec = sizeof((uint32_t[]){ __VA_ARGS__ }) / 4,    \
			 .spec = { __VA_ARGS__ } } }
		QVK_OPS_PIPE(embed_f32, "embed", 2 + QVK_OPS_EMBED_PIECES,
			     ops->wg_row, 0),
		QVK_OPS_PIPE(embed_f16, "embed", 2 + QVK_OPS_EMBED_PIECES,
			     ops->wg_row, 1),
		QVK_OPS_PIPE(rmsnorm[0], "rmsnorm", 3, ops->wg_row, 0),
		QVK_OPS_PIPE(rmsnorm[1], "rmsnorm", 3, ops->wg_row, 1),
		QVK_OPS_PIPE(rmsnorm_q8[0][0], "rmsnorm_q8", 5, ops->wg_row, 0, 0),
		QVK_OPS_PIPE(rmsnorm_q8[0][1], "rmsnorm_q8", 5, ops->wg_row, 1, 0),
		QVK_OPS_PIPE(rmsnorm_q8[1][0], "rmsnorm_q8", 5, ops->wg_row, 0, 1),
		QVK_OPS_PIPE(rmsnorm_q8[1][1], "rmsnorm_q8", 5, ops->wg_row, 1, 1),
		QVK_OPS_PIPE(act_quant[0][0], "act_quant", 4, ops->wg_row, 0, 0),
		QVK_OPS_PIPE(act_quant[0][1], "act_quant", 4, ops->wg_row, 1, 0),
		QVK_OPS_PIPE(act_quant[1][0], "act_quant", 4, ops->wg_row, 0, 1),
		QVK_OPS_PIPE(act_quant[1][1], "act_quant", 4, ops->wg_row, 1, 1),
		QVK_OPS_PIPE(rope, "rope", 4, ops->wg_flat, 0),
		QVK_OPS_PIPE(rope_neox, "rope", 4, ops->wg_flat, 1),
		QVK_OPS_PIPE(kv_write, "kv_write", 5, ops->wg_flat),
		QVK_OPS_PIPE(attention[0], "attention", 5, ops->wg_attn,
			     chunk[0], QVK_OPS_MAX_HEAD_DIM, upt, 1),
		QVK_OPS_PIPE(attention[1], "attention", 5, ops->wg_attn,
			     chunk[1], QVK_OPS_MAX_HEAD_DIM, upt, 2),
		QVK_OPS_PIPE(attention[2], "attention", 5, ops->wg_attn,
			     chunk[2], QVK_OPS_MAX_HEAD_DIM, upt, 4),
		QVK_OPS_PIPE(attention[3], "attention", 5, ops->wg_attn,
			     chunk[3], QVK_OPS_MAX_HEAD_DIM, upt, 8),
		QVK_OPS_PIPE(swiglu[0], "swiglu", 3, ops->wg_flat, 0),
		QVK_OPS_PIPE(swiglu[1], "swiglu", 3, ops->wg_flat, 1),
		QVK_OPS_PIPE(swiglu_q8[0][0], "swiglu_q8", 5, ops->wg_row, 0, 0),
		QVK_OPS_PIPE(swiglu_q8[0][1], "swiglu_q8", 5, ops->wg_row, 1, 0),
		QVK_OPS_PIPE(swiglu_q8[1][0], "swiglu_q8", 5, ops->wg_row, 0, 1),
		QVK_OPS_PIPE(swiglu_q8[1][1], "swiglu_q8", 5, ops->wg_row, 1, 1),
		QVK_OPS_PIPE(residual_add, "residual_add", 2, ops->wg_flat),
		QVK_OPS_PIPE(bias_add, "bias_add", 2, ops->wg_flat),
		QVK_OPS_PIPE(argmax, "argmax", 2, ops->wg_row),
#undef QVK_OPS_PIPE
	};
	for (size_t i = 0; i < QVK_ARRAY_SIZE(table); i++) {
		st = qvk_pipeline_create(dev, &table[i].desc, table[i].pipe);
		if (st != QVK_OK) {
			qvk_ops_finish(ops);
			return st;
		}
	}
	qvk_log(dev->ctx, QVK_LOG_DEBUG,
		"ops: %u invocations per row, %u per elementwise group, "
		"attention %u with %u..%u positions per round", ops->wg_row,
		ops->wg_flat, ops->wg_attn, chunk[QVK_OPS_ATTN_VARIANTS - 1],
		chunk[0]);
	return QVK_OK;
}

void qvk_ops_finish(struct qvk_ops *ops)
{
	struct qvk_pipeline **all[] = {
		&ops->embed_f32, &ops->embed_f16, &ops->rmsnorm[0],
		&ops->rmsnorm[1], &ops->rope, &ops->rope_neox, &ops->kv_write,
		&ops->attention[0], &ops->attention[1], &ops->attention[2],
		&ops->attention[3], &ops->swiglu[0], &ops->swiglu[1],
		&ops->residual_add, &ops->bias_add, &ops->argmax,
		&ops->attention_split[0], &ops->attention_split[1],
		&ops->attention_split[2], &ops->attention_split[3],
		&ops->attention_combine,
	};

	for (size_t i = 0; i < QVK_ARRAY_SIZE(all); i++) {
		qvk_pipeline_destroy(*all[i]);
		*all[i] = NULL;
	}
	for (int b = 0; b < 2; b++)
		for (int v = 0; v < 2; v++) {
			qvk_pipeline_destroy(ops->rmsnorm_q8[b][v]);
			qvk_pipeline_destroy(ops->act_quant[b][v]);
			qvk_pipeline_destroy(ops->swiglu_q8[b][v]);
			ops->rmsnorm_q8[b][v] = ops->act_quant[b][v] =
				ops->swiglu_q8[b][v] = NULL;
		}
	qvk_ops_attention_prefill_finish(ops);
	for (size_t i = 0; i < QVK_ARRAY_SIZE(ops->attention_prefill); i++) {
		qvk_pipeline_destroy(ops->attention_prefill[i]);
		ops->attention_prefill[i] = NULL;
		for (size_t v = 0; v < QVK_OPS_ATTN_VARIANTS; v++) {
			qvk_pipeline_destroy(ops->attention_decode[i][v]);
			qvk_pipeline_destroy(ops->attention_decode_split[i][v]);
			ops->attention_decode[i][v] = NULL;
			ops->attention_decode_split[i][v] = NULL;
		}
	}
}

qvk_status qvk_ops_cpu_attention_pipeline(struct qvk_ops *ops,
					  const struct qvk_ops_model *mdl,
					  uint32_t m, struct qvk_pipeline **out)
{
	uint32_t sg = ops->dev->info.subgroup_size, hu = mdl->head_dim / 8;
	uint32_t v = qvk_ops_attention_variant(mdl);
	struct qvk_pipeline **slot = m > 1 ? &ops->attention_prefill[hu] :
					     &ops->attention_decode[hu][v];
	/* Prefill: WG, HU, SG. Decode: one subgroup; WG, HU, GMAX, SG. */
	struct qvk_pipeline_desc desc = {
		.shader = m > 1 ? "attention_prefill" : "attention_decode",
		.n_bindings = 5,
		.push_bytes = QVK_OPS_PUSH_BYTES,
		.n_spec = m > 1 ? 3 : 4,
		.spec = { m > 1 ? ops->wg_attn : sg, hu, m > 1 ? sg : 1u << v, sg },
		.subgroup_size = sg,
	};
	qvk_status st = QVK_OK;

	if (!*slot)
		st = qvk_pipeline_create(ops->dev, &desc, slot);
	*out = *slot;
	return st;
}

void qvk_op_finish(struct qvk_op *op)
{
	qvk_buffer_destroy(op->owned);
	memset(op, 0, sizeof(*op));
}

void qvk_op_record_nobarrier(struct qvk_cmd *cmd, const struct qvk_op *op)
{
	qvk_cmd_dispatch(cmd, op->pipe, op->set, op->push, op->groups[0],
			 op->groups[1], op->groups[2]);
}

void qvk_op_record(struct qvk_cmd *cmd, const struct qvk_op *op)
{
	qvk_op_record_nobarrier(cmd, op);
	/* The next op reads this one's output (see ops.h). */
	qvk_cmd_barrier(cmd);
}

struct qvk_binding qvk_ops_whole(const struct qvk_buffer *buf)
{
	return (struct qvk_binding){ .buf = buf };
}

qvk_status qvk_ops_model_check(struct qvk_ctx *ctx,
			       const struct qvk_ops_model *mdl)
{
	if (!mdl->dim || !mdl->hidden_dim || !mdl->n_heads ||
	    !mdl->n_kv_heads || !mdl->head_dim || !mdl->max_seq ||
	    !mdl->n_vocab)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: a model size is zero");
	if (mdl->n_heads % mdl->n_kv_heads)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: %u heads are not a multiple of %u kv heads",
				 mdl->n_heads, mdl->n_kv_heads);
	/* Attention reads the cache 8 halves (one uvec4) at a time. */
	if (mdl->head_dim % 8 || mdl->head_dim > QVK_OPS_MAX_HEAD_DIM)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "ops: head_dim %u (must be a multiple of 8, "
				 "<= %u)",
				 mdl->head_dim, QVK_OPS_MAX_HEAD_DIM);
	if (!(mdl->norm_eps >= 0.0f) || !(mdl->rope_theta > 0.0f) ||
	    (mdl->rope_mode != QVK_ROPE_INTERLEAVED &&
	     mdl->rope_mode != QVK_ROPE_NEOX) ||
	    !(mdl->rope_mscale >= 0.0f) || isinf(mdl->rope_mscale))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: eps %g, rope theta %g, mode %d or "
				 "multiplier %g invalid",
				 (double)mdl->norm_eps, (double)mdl->rope_theta,
				 (int)mdl->rope_mode, (double)mdl->rope_mscale);
	if (mdl->rope_dims % 2 || mdl->rope_dims > mdl->head_dim)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: %u rotated dims of a head of %u (even, "
				 "at most the head)", mdl->rope_dims,
				 mdl->head_dim);
	/* Offsets inside the kernels are 32-bit. */
	if ((uint64_t)mdl->n_kv_heads * mdl->max_seq * mdl->head_dim >=
		    (1ull << 31) ||
	    (uint64_t)mdl->max_seq * 64 >= (1ull << 31))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "ops: KV cache of %u positions too large",
				 mdl->max_seq);
	return QVK_OK;
}

uint32_t qvk_ops_rope_dims(const struct qvk_ops_model *mdl)
{
	return mdl->rope_dims ? mdl->rope_dims : mdl->head_dim;
}

float qvk_ops_rope_mscale(const struct qvk_ops_model *mdl)
{
	return mdl->rope_mscale > 0.0f ? mdl->rope_mscale : 1.0f;
}

void qvk_ops_rope_table(const struct qvk_ops_model *mdl, float *freq)
{
	uint32_t half = qvk_ops_rope_dims(mdl) / 2;

	if (mdl->rope_freqs)
		memcpy(freq, mdl->rope_freqs, half * sizeof(*freq));
	else
		qvk_ref_rope_freqs(mdl->rope_theta, 2 * half, freq);
}

uint32_t qvk_ops_attention_variant(const struct qvk_ops_model *mdl)
{
	uint32_t g = mdl->n_heads / mdl->n_kv_heads, v = 0;

	while (v + 1 < QVK_OPS_ATTN_VARIANTS && g % (2u << v) == 0)
		v++;
	return v;
}

uint64_t qvk_ops_kv_layer_bytes(const struct qvk_ops_model *mdl)
{
	return (uint64_t)mdl->n_kv_heads * mdl->max_seq * mdl->head_dim *
	       (mdl->kv_f32 ? 4 : 2);
}

qvk_status qvk_ops_kv_layer_binding(struct qvk_ctx *ctx,
				    const struct qvk_buffer *cache,
				    const struct qvk_ops_model *mdl,
				    uint32_t layer, struct qvk_binding *out)
{
	uint64_t lb = qvk_ops_kv_layer_bytes(mdl);
	uint64_t start = lb * layer;
	uint32_t piece;

	if (!cache->piece_bytes || cache->piece_bytes % lb ||
	    start + lb > cache->size_bytes)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: KV cache of %llu bytes (pieces of %llu) "
				 "has no whole layer %u of %llu bytes",
				 (unsigned long long)cache->size_bytes,
				 (unsigned long long)cache->piece_bytes, layer,
				 (unsigned long long)lb);
	piece = (uint32_t)(start / cache->piece_bytes);
	*out = (struct qvk_binding){
		.buf = cache,
		.piece = piece,
		.offset_bytes = start - cache->pieces[piece].offset_bytes,
		.range_bytes = lb,
	};
	return QVK_OK;
}

qvk_status qvk_ops_step_write(struct qvk_buffer *step, uint32_t pos,
			      const uint32_t *tokens, uint32_t m,
			      uint32_t max_seq, uint32_t n_vocab)
{
	struct qvk_ctx *ctx = step->dev->ctx;
	uint32_t head[4] = { pos, 0, 0, 0 };
	qvk_status st;

	if (!m || (uint64_t)pos + m > max_seq)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "step: positions %u..%u past the cache of %u",
				 pos, pos + m - 1, max_seq);
	if (QVK_OPS_STEP_BYTES(m) > step->size_bytes)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "step: %u tokens do not fit %llu bytes", m,
				 (unsigned long long)step->size_bytes);
	for (uint32_t i = 0; tokens && i < m; i++)
		if (tokens[i] >= n_vocab)
			return qvk_error(ctx, QVK_ERR_INVALID_ARG,
					 "step: token %u is %u, vocabulary %u",
					 i, tokens[i], n_vocab);
	st = qvk_buffer_write(step, 0, head, sizeof(head));
	if (st == QVK_OK && tokens)
		st = qvk_buffer_write(step, 16, tokens, 4ull * m);
	return st;
}
