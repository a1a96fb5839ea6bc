/* SPDX-License-Identifier: MIT */
/*
 * Prefill attention (m > 1 tokens of one step): which kernel runs, and the
 * tiles of the tiled one (attention_prefill_tiled.comp).
 *
 * Kernels (enum qvk_attn_prefill): attention.comp (one workgroup per kv
 * head and token: reads the cache once per token), attention_prefill.comp
 * (invocations on tokens, cache words shared in a subgroup with shuffles:
 * devices with shuffles and one fixed subgroup size), and the tiled kernel
 * at two tile sizes (one workgroup per BR tokens of GQ heads of one kv
 * head: each K/V tile read once per workgroup into shared memory). Which
 * one runs is measured per device (attn_tune.c), or forced with
 * QVK_ATTN_PREFILL or struct qvk_ops_options. A kernel that does not apply
 * to a model (the tiles do not fit the device, a binding not 16-byte
 * aligned) falls back to attention.comp.
 */
#include <stdlib.h>
#include <string.h>

#include "ops.h"

static const char *const qvk_attn_prefill_names[QVK_ATTN_PREFILL_KINDS] = {
	[QVK_ATTN_PREFILL_ONEPASS] = "onepass",
	[QVK_ATTN_PREFILL_SUBGROUP] = "subgroup",
	[QVK_ATTN_PREFILL_TILED] = "tiled",
	[QVK_ATTN_PREFILL_TILED_SMALL] = "tiled-small",
};

const char *qvk_attn_prefill_name(enum qvk_attn_prefill kind)
{
	return (unsigned)kind < QVK_ATTN_PREFILL_KINDS ?
		       qvk_attn_prefill_names[kind] : "?";
}

bool qvk_attn_prefill_parse(const char *name, enum qvk_attn_prefill *kind)
{
	for (unsigned i = 0; i < QVK_ATTN_PREFILL_KINDS; i++)
		if (!strcmp(name, qvk_attn_prefill_names[i])) {
			*kind = (enum qvk_attn_prefill)i;
			return true;
		}
	return false;
}

/* Largest power of two dividing @x, at most @cap. */
static uint32_t qvk_pow2_divisor(uint32_t x, uint32_t cap)
{
	uint32_t p = 1;

	while (p * 2 <= cap && x % (p * 2) == 0)
		p *= 2;
	return p;
}

static uint64_t qvk_tile_shared_bytes(const struct qvk_attn_tile *t,
				      uint32_t hd4)
{
	/* s_q, s_k, s_v (vec4; tile rows padded by one), s_p (float) */
	return 16ull * (t->br * t->gq * hd4 + 2ull * t->bc * (hd4 + 1)) +
	       4ull * t->br * t->gq * t->bc;
}

bool qvk_ops_attn_tile(const struct qvk_ops *ops,
		       const struct qvk_ops_model *mdl,
		       enum qvk_attn_prefill kind, struct qvk_attn_tile *t)
{
	const struct qvk_device_info *info = &ops->dev->info;
	uint32_t hd4 = mdl->head_dim / 4, sg = QVK_MAX(info->subgroup_size, 1u);
	uint32_t cap = QVK_MIN(info->max_workgroup_invocations,
			       info->max_workgroup_size[0]);
	bool small = kind == QVK_ATTN_PREFILL_TILED_SMALL;
	/*
	 * Every row of a workgroup reads the same K/V tile, so rows per
	 * workgroup (br * gq) are the reuse: large tiles take 256 invocations
	 * at up to 4 per row (64 rows; up to 64 positions per tile), small
	 * ones 64 at up to 8 per row (8 rows, 32 positions: more workgroups
	 * for short prefills and fewer registers per invocation).
	 */
	uint32_t wg = QVK_MIN(small ? 64u : 256u, cap), bc_max = small ? 32 : 64;

	memset(t, 0, sizeof(*t));
	if (kind != QVK_ATTN_PREFILL_TILED && !small)
		return false;
	if (wg >= sg)
		wg = wg / sg * sg; /* whole subgroups */
	/* Invocations per query row: each owns hd4 / tpr vec4s of output. */
	t->tpr = qvk_pow2_divisor(hd4, small ? 8 : 4);
	t->gq = 1u << qvk_ops_attention_variant(mdl);
	while (t->gq > 1 && t->gq * t->tpr > wg)
		t->gq /= 2;
	t->br = wg / (t->gq * t->tpr);
	if (!t->br)
		return false;
	/* The largest tile that fits; fewer tokens if none of 8 does. */
	for (;;) {
		uint64_t fixed, per;

		t->bc = 0;
		fixed = 16ull * t->br * t->gq * hd4;
		per = 32ull * (hd4 + 1) + 4ull * t->br * t->gq;
		if (info->max_shared_memory_bytes > fixed)
			t->bc = (uint32_t)QVK_MIN((info->max_shared_memory_bytes -
						   fixed) / per,
						  (uint64_t)bc_max);
		t->bc = t->bc / t->tpr * t->tpr;
		if (t->bc >= QVK_MAX(8u, t->tpr))
			break;
		if (t->br == 1)
			return false;
		t->br /= 2;
	}
	t->wg = t->br * t->gq * t->tpr;
	return qvk_tile_shared_bytes(t, hd4) <= info->max_shared_memory_bytes;
}

static qvk_status qvk_ops_tiled_pipeline(struct qvk_ops *ops,
					 const struct qvk_ops_model *mdl,
					 enum qvk_attn_prefill kind,
					 const struct qvk_attn_tile *t,
					 struct qvk_pipeline **out)
{
	uint32_t hu = mdl->head_dim / 8, v = qvk_ops_attention_variant(mdl);
	struct qvk_pipeline **slot =
		&ops->attention_tiled[hu][v][kind == QVK_ATTN_PREFILL_TILED_SMALL];
	struct qvk_pipeline_desc d = {
		.shader = "attention_prefill_tiled",
		.n_bindings = 5,
		.push_bytes = QVK_OPS_PUSH_BYTES,
		.n_spec = 6,
		.spec = { t->wg, mdl->head_dim / 4, t->br, t->gq, t->bc, t->tpr },
	};
	qvk_status st = QVK_OK;

	if (!*slot)
		st = qvk_pipeline_create(ops->dev, &d, slot);
	*out = *slot;
	return st;
}

static bool qvk_aligned16(const struct qvk_binding *b)
{
	return b->offset_bytes % 16 == 0;
}

bool qvk_ops_attn_prefill_runs(const struct qvk_ops *ops,
				const struct qvk_ops_model *mdl,
				enum qvk_attn_prefill kind)
{
	struct qvk_attn_tile t;

	if (kind == QVK_ATTN_PREFILL_ONEPASS)
		return true;
	if (kind == QVK_ATTN_PREFILL_SUBGROUP)
		return ops->subgroup_prefill;
	return qvk_ops_attn_tile(ops, mdl, kind, &t);
}

/* Whether @kind runs @mdl's prefill on this device with these bindings. */
static bool qvk_ops_prefill_applies(const struct qvk_ops *ops,
				    const struct qvk_ops_model *mdl,
				    enum qvk_attn_prefill kind,
				    const struct qvk_binding *q,
				    const struct qvk_binding *out,
				    uint32_t m, struct qvk_attn_tile *t)
{
	const struct qvk_device_info *info = &ops->dev->info;

	switch (kind) {
	case QVK_ATTN_PREFILL_SUBGROUP: /* m == 1 there is the decode kernel */
		return ops->subgroup_prefill && m > 1 &&
		       mdl->n_heads <= info->max_workgroup_count[0];
	case QVK_ATTN_PREFILL_TILED:
	case QVK_ATTN_PREFILL_TILED_SMALL:
		/* vec4 views of q and out (the cache is whole layers). */
		return qvk_ops_attn_tile(ops, mdl, kind, t) &&
		       qvk_aligned16(q) && qvk_aligned16(out) &&
		       mdl->n_heads / t->gq <= info->max_workgroup_count[0] &&
		       QVK_DIV_ROUND_UP(m, t->br) <= info->max_workgroup_count[1];
	default:
		return false;
	}
}

qvk_status qvk_ops_attention_prefill_bind(struct qvk_ops *ops,
					  struct qvk_op *op,
					  const struct qvk_ops_model *mdl,
					  uint32_t m, enum qvk_attn_prefill kind,
					  const struct qvk_binding *step,
					  const struct qvk_binding *q,
					  const struct qvk_binding *k_cache,
					  const struct qvk_binding *v_cache,
					  const struct qvk_binding *out)
{
	const struct qvk_binding b[] = { *step, *q, *k_cache, *v_cache, *out };
	struct qvk_pipeline *pipe;
	struct qvk_attn_tile t;

	QVK_OPS_CHECK(qvk_ops_attention_prepare(ops, op, mdl, m, step, q,
						k_cache, v_cache, out));
	if (!qvk_ops_prefill_applies(ops, mdl, kind, q, out, m, &t))
		kind = QVK_ATTN_PREFILL_ONEPASS;
	switch (kind) {
	case QVK_ATTN_PREFILL_SUBGROUP:
		QVK_OPS_CHECK(qvk_ops_cpu_attention_pipeline(ops, mdl, m, &pipe));
		op->groups[0] = mdl->n_heads; /* (head, token block) */
		op->groups[1] = QVK_DIV_ROUND_UP(m, ops->wg_attn);
		break;
	case QVK_ATTN_PREFILL_TILED:
	case QVK_ATTN_PREFILL_TILED_SMALL:
		QVK_OPS_CHECK(qvk_ops_tiled_pipeline(ops, mdl, kind, &t, &pipe));
		op->groups[0] = mdl->n_heads / t.gq; /* (head group, token block) */
		op->groups[1] = QVK_DIV_ROUND_UP(m, t.br);
		break;
	default:
		pipe = ops->attention[qvk_ops_attention_variant(mdl)];
		op->groups[0] = mdl->n_kv_heads; /* (kv head, token) */
		op->groups[1] = m;
		break;
	}
	return qvk_ops_bind_set(ops, op, pipe, b);
}

void qvk_ops_attention_prefill_finish(struct qvk_ops *ops)
{
	struct qvk_pipeline **p = &ops->attention_tiled[0][0][0];
	size_t n = sizeof(ops->attention_tiled) / sizeof(*p);

	for (size_t i = 0; i < n; i++) {
		qvk_pipeline_destroy(p[i]);
		p[i] = NULL;
	}
}
