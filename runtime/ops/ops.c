/* SPDX-License-Identifier: MIT */
/*
 * The op kernels of a Llama block: pipelines created once per device with
 * work sizes chosen from its subgroup size and limits, recording, the step
 * buffer and model checks. The per-op binds are in ops_bind.c.
 */
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

static qvk_status qvk_ops_check_subgroups(struct qvk_device *dev)
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

qvk_status qvk_ops_init_opts(struct qvk_device *dev,
			     const struct qvk_ops_options *opt,
			     struct qvk_ops *ops)
{
	static const struct qvk_ops_options automatic;
	const struct qvk_device_info *info = &dev->info;
	uint32_t shared_floats, wpt;
	qvk_status st;

	memset(ops, 0, sizeof(*ops));
	ops->dev = dev;
	if (!opt)
		opt = &automatic;
	st = qvk_ops_check_subgroups(dev);
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
	/* Shared memory: q (MAX_HEAD_DIM), reduction partials (WG), scores. */
	shared_floats = info->max_shared_memory_bytes / 4;
	if (shared_floats < QVK_OPS_MAX_HEAD_DIM + ops->wg_attn * 2)
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "%s has %u bytes of shared memory, too few for "
				 "attention", info->name,
				 info->max_shared_memory_bytes);
	ops->attn_chunk = shared_floats - QVK_OPS_MAX_HEAD_DIM - ops->wg_attn;
	/* More than ~1k positions per round saves nothing and costs occupancy. */
	ops->attn_chunk = QVK_MIN(ops->attn_chunk, 1024u);
	ops->attn_chunk = ops->attn_chunk / ops->wg_attn * ops->wg_attn;
	wpt = QVK_DIV_ROUND_UP(QVK_OPS_MAX_HEAD_DIM / 2, ops->wg_attn);

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
		QVK_OPS_PIPE(rmsnorm, "rmsnorm", 3, ops->wg_row),
		QVK_OPS_PIPE(rmsnorm_q8, "rmsnorm_q8", 5, ops->wg_row),
		QVK_OPS_PIPE(act_quant, "act_quant", 4, ops->wg_row),
		QVK_OPS_PIPE(rope, "rope", 4, ops->wg_flat, 0),
		QVK_OPS_PIPE(rope_neox, "rope", 4, ops->wg_flat, 1),
		QVK_OPS_PIPE(kv_write, "kv_write", 5, ops->wg_flat),
		QVK_OPS_PIPE(attention, "attention", 5, ops->wg_attn,
			     ops->attn_chunk, QVK_OPS_MAX_HEAD_DIM, wpt),
		QVK_OPS_PIPE(swiglu, "swiglu", 3, ops->wg_flat),
		QVK_OPS_PIPE(swiglu_q8, "swiglu_q8", 5, ops->wg_row),
		QVK_OPS_PIPE(residual_add, "residual_add", 2, ops->wg_flat),
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
		"attention %u with %u positions per round", ops->wg_row,
		ops->wg_flat, ops->wg_attn, ops->attn_chunk);
	return QVK_OK;
}

void qvk_ops_finish(struct qvk_ops *ops)
{
	struct qvk_pipeline **all[] = {
		&ops->embed_f32, &ops->embed_f16, &ops->rmsnorm,
		&ops->rmsnorm_q8, &ops->act_quant, &ops->rope,
		&ops->rope_neox, &ops->kv_write, &ops->attention,
		&ops->swiglu, &ops->swiglu_q8, &ops->residual_add,
	};

	for (size_t i = 0; i < QVK_ARRAY_SIZE(all); i++) {
		qvk_pipeline_destroy(*all[i]);
		*all[i] = NULL;
	}
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
	if (mdl->head_dim % 2 || mdl->head_dim > QVK_OPS_MAX_HEAD_DIM)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "ops: head_dim %u (must be even and <= %u)",
				 mdl->head_dim, QVK_OPS_MAX_HEAD_DIM);
	if (!(mdl->norm_eps >= 0.0f) || !(mdl->rope_theta > 0.0f) ||
	    (mdl->rope_mode != QVK_ROPE_INTERLEAVED &&
	     mdl->rope_mode != QVK_ROPE_NEOX))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "ops: eps %g, rope theta %g or mode %d invalid",
				 (double)mdl->norm_eps, (double)mdl->rope_theta,
				 (int)mdl->rope_mode);
	/* Offsets inside the kernels are 32-bit. */
	if ((uint64_t)mdl->n_kv_heads * mdl->max_seq * mdl->head_dim >=
		    (1ull << 31) ||
	    (uint64_t)mdl->max_seq * 64 >= (1ull << 31))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "ops: KV cache of %u positions too large",
				 mdl->max_seq);
	return QVK_OK;
}

uint64_t qvk_ops_kv_layer_bytes(const struct qvk_ops_model *mdl)
{
	return (uint64_t)mdl->n_kv_heads * mdl->max_seq * mdl->head_dim * 2;
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
