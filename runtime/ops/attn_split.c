/* SPDX-License-Identifier: MIT */
/*
 * Split-KV decode attention (flash-decoding): pass 1 is the one-pass
 * kernel of the device (attention.comp on GPUs, attention_decode.comp on
 * CPU devices) with SPLIT set, on a grid whose z is the split; pass 2
 * (attention_combine.comp) merges the splits with the log-sum-exp
 * rescaling. A decode token otherwise occupies n_kv_heads workgroups, one
 * per kv head, whatever its context: 4 for TinyLlama, far fewer than a GPU
 * has compute units.
 */
#include <string.h>

#include "ops.h"

uint32_t qvk_ops_attn_split_tile(const struct qvk_ops *ops)
{
	/* CPU kernel: a subgroup of positions per step; GPU kernel: a
	 * workgroup's (one position per invocation). */
	return ops->cpu_attention ? ops->dev->info.subgroup_size : ops->wg_attn;
}

uint64_t qvk_ops_attention_split_bytes(const struct qvk_ops_model *mdl,
				       uint32_t m, uint32_t splits)
{
	/* acc (m, n_heads, splits, head_dim), then (max, sum) per split */
	return 4ull * m * mdl->n_heads * splits * (mdl->head_dim + 2ull);
}

uint32_t qvk_ops_attention_splits(const struct qvk_ops *ops,
				  const struct qvk_ops_model *mdl, uint32_t m)
{
	uint64_t per = (uint64_t)mdl->n_kv_heads * m;
	uint64_t splits;

	if (!ops->attn_split_wgs || !ops->attn_split_min || !per)
		return 0;
	splits = (ops->attn_split_wgs + per - 1) / per;
	/* No more splits than the cache has minimum-length splits. */
	splits = QVK_MIN(splits, QVK_DIV_ROUND_UP(mdl->max_seq,
						   ops->attn_split_min));
	splits = QVK_MIN(splits, (uint64_t)QVK_OPS_ATTN_MAX_SPLITS);
	splits = QVK_MIN(splits, (uint64_t)ops->dev->info.max_workgroup_count[2]);
	return splits >= 2 ? (uint32_t)splits : 0;
}

static qvk_status qvk_ops_split_pipeline(struct qvk_ops *ops,
					 const struct qvk_ops_model *mdl,
					 struct qvk_pipeline **out)
{
	uint32_t sg = ops->dev->info.subgroup_size, hu = mdl->head_dim / 8;
	uint32_t v = qvk_ops_attention_variant(mdl);
	uint32_t upt = QVK_DIV_ROUND_UP(QVK_OPS_MAX_HEAD_DIM / 8, ops->wg_attn);
	struct qvk_pipeline **slot = ops->cpu_attention ?
		&ops->attention_decode_split[hu][v] : &ops->attention_split[v];
	/* The spec constants of qvk_ops_cpu_attention_pipeline (decode) and
	 * of ops.c's attention table, then SPLIT. */
	struct qvk_pipeline_desc cpu = {
		.shader = "attention_decode",
		.n_bindings = 5,
		.push_bytes = QVK_OPS_PUSH_BYTES,
		.n_spec = 5,
		.spec = { sg, hu, 1u << v, sg, 1 },
		.subgroup_size = sg,
	}, gpu = {
		.shader = "attention",
		.n_bindings = 5,
		.push_bytes = QVK_OPS_PUSH_BYTES,
		.n_spec = 6,
		.spec = { ops->wg_attn, ops->attn_chunk[v], QVK_OPS_MAX_HEAD_DIM,
			  upt, 1u << v, 1 },
	};
	qvk_status st = QVK_OK;

	if (!*slot)
		st = qvk_pipeline_create(ops->dev,
					 ops->cpu_attention ? &cpu : &gpu, slot);
	*out = *slot;
	return st;
}

qvk_status qvk_ops_attention_split_bind(struct qvk_ops *ops, struct qvk_op op[2],
					const struct qvk_ops_model *mdl,
					uint32_t m, uint32_t splits,
					uint32_t split_min,
					const struct qvk_binding *step,
					const struct qvk_binding *q,
					const struct qvk_binding *k_cache,
					const struct qvk_binding *v_cache,
					const struct qvk_binding *part,
					const struct qvk_binding *out)
{
	struct qvk_ctx *ctx = ops->dev->ctx;
	uint32_t tile = qvk_ops_attn_split_tile(ops);
	struct qvk_pipeline *pass1;
	qvk_status st;

	memset(op, 0, 2 * sizeof(*op));
	if (splits < 2 || splits > QVK_OPS_ATTN_MAX_SPLITS ||
	    splits > ops->dev->info.max_workgroup_count[2] || !split_min ||
	    split_min % tile || (uint64_t)splits * split_min >= (1ull << 30))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "attention: %u splits of at least %u positions "
				 "(2..%u splits, a multiple of %u positions)",
				 splits, split_min, QVK_OPS_ATTN_MAX_SPLITS, tile);
	/* Offsets inside the kernels are 32-bit. */
	if (m > ops->dev->info.max_workgroup_count[1] ||
	    mdl->n_heads > ops->dev->info.max_workgroup_count[0] ||
	    qvk_ops_attention_split_bytes(mdl, m, splits) / 4 >= (1ull << 31))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "attention: %u tokens of %u heads", m,
				 mdl->n_heads);
	/* The one-pass bind checks the rest and sets the push constants. */
	QVK_OPS_CHECK(qvk_ops_attention_prepare(ops, &op[0], mdl, m, step, q,
						  k_cache, v_cache, out));
	QVK_OPS_CHECK(qvk_ops_check_binding(ctx, "attention partials", part,
					      qvk_ops_attention_split_bytes(mdl, m,
									    splits)));
	QVK_OPS_CHECK(qvk_ops_split_pipeline(ops, mdl, &pass1));
	if (!ops->attention_combine) {
		struct qvk_pipeline_desc d = {
			.shader = "attention_combine",
			.n_bindings = 3,
			.push_bytes = QVK_OPS_PUSH_BYTES,
			.n_spec = 1,
			.spec = { ops->wg_row },
		};

		QVK_OPS_CHECK(qvk_pipeline_create(ops->dev, &d,
						    &ops->attention_combine));
	}
	op[0].push[7] = split_min;
	op[0].groups[0] = mdl->n_kv_heads;
	op[0].groups[1] = m;
	op[0].groups[2] = splits;
	st = qvk_ops_bind_set(ops, &op[0], pass1,
			      (struct qvk_binding[]){ *step, *q, *k_cache,
						      *v_cache, *part });
	if (st != QVK_OK)
		return st;
	op[1].push[0] = mdl->head_dim;
	op[1].push[1] = mdl->n_heads;
	op[1].push[2] = mdl->max_seq;
	op[1].push[3] = m;
	op[1].push[4] = splits;
	op[1].push[5] = split_min;
	op[1].groups[0] = mdl->n_heads;
	op[1].groups[1] = m;
	op[1].groups[2] = 1;
	return qvk_ops_bind_set(ops, &op[1], ops->attention_combine,
				(struct qvk_binding[]){ *step, *part, *out });
}
