/* SPDX-License-Identifier: MIT */
/* <qvk/attention.h>: the attention choices and their benchmarks. */
#include <stdlib.h>

#include <qvk/attention.h>

#include "ops.h"

qvk_status qvk_attention_describe(struct qvk_device *dev, char *buf, size_t len)
{
	struct qvk_ops ops;
	qvk_status st = qvk_ops_init(dev, &ops);

	if (st != QVK_OK)
		return st;
	qvk_ops_attn_tune(&ops);
	qvk_ops_attn_describe(&ops, buf, len);
	qvk_ops_finish(&ops);
	return QVK_OK;
}

static qvk_status qvk_attention_bench_check(struct qvk_ctx *ctx,
					    const struct qvk_attention_bench_desc *d,
					    uint32_t *max_ctx, uint32_t *max_splits)
{
	*max_ctx = *max_splits = 0;
	if (!d->n_contexts || !d->n_splits || !d->reps || !d->calls ||
	    !d->contexts || !d->splits || d->reps > 1000 || d->calls > 1000)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "attention bench: "
				 "no contexts, splits, repetitions or calls");
	for (uint32_t i = 0; i < d->n_contexts; i++) {
		if (!d->contexts[i] || d->contexts[i] > 65536)
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "attention "
					 "bench: context %u (1..65536)",
					 d->contexts[i]);
		*max_ctx = QVK_MAX(*max_ctx, d->contexts[i]);
	}
	for (uint32_t i = 0; i < d->n_splits; i++) {
		if (d->splits[i] == 1 || d->splits[i] > QVK_OPS_ATTN_MAX_SPLITS)
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "attention "
					 "bench: %u splits (0 or 2..%u)",
					 d->splits[i], QVK_OPS_ATTN_MAX_SPLITS);
		*max_splits = QVK_MAX(*max_splits, d->splits[i]);
	}
	return QVK_OK;
}

qvk_status qvk_attention_bench(struct qvk_device *dev,
			       const struct qvk_attention_bench_desc *d,
			       struct qvk_attention_timing *out,
			       uint32_t *tuned_splits)
{
	struct qvk_ctx *ctx = dev->ctx;
	uint32_t max_ctx, max_splits, n_ops = 0;
	struct qvk_op (*ops2)[2] = NULL;
	struct qvk_attn_rig rig;
	struct qvk_ops ops;
	qvk_status st;

	st = qvk_attention_bench_check(ctx, d, &max_ctx, &max_splits);
	if (st != QVK_OK)
		return st;
	st = qvk_ops_init(dev, &ops);
	if (st != QVK_OK)
		return st;
	qvk_ops_attn_tune(&ops);
	st = qvk_attn_rig_init(&ops, d->n_heads, d->n_kv_heads, d->head_dim,
			       max_ctx, 1, max_splits, &rig);
	if (st != QVK_OK)
		goto out_finish_ops;
	if (tuned_splits)
		*tuned_splits = qvk_ops_attention_splits(&ops, &rig.mdl, 1);
	ops2 = calloc(d->n_splits, sizeof(*ops2));
	if (!ops2) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "attention bench");
		goto out_finish_rig;
	}
	for (; st == QVK_OK && n_ops < d->n_splits; n_ops++)
		st = qvk_attn_rig_bind(&rig, d->splits[n_ops], ops2[n_ops]);
	for (uint32_t c = 0; st == QVK_OK && c < d->n_contexts; c++)
		for (uint32_t s = 0; st == QVK_OK && s < d->n_splits; s++) {
			struct qvk_attention_timing *t = &out[c * d->n_splits + s];
			bool ok;

			*t = (struct qvk_attention_timing){
				.context = d->contexts[c], .splits = d->splits[s],
			};
			st = qvk_attn_rig_check(&rig, ops2[s], 1, t->context,
						&t->max_abs_err, &ok);
			if (st == QVK_OK && !ok)
				st = qvk_error(ctx, QVK_ERR_NUMERIC, "attention "
					       "bench: %u splits at %u positions "
					       "differ from the C reference by %g",
					       t->splits, t->context,
					       t->max_abs_err);
		}
	for (uint32_t r = 0; st == QVK_OK && r < d->reps; r++)
		for (uint32_t i = 0; st == QVK_OK && i < d->n_contexts * d->n_splits; i++) {
			double ms;

			st = qvk_attn_rig_time(&rig, ops2[i % d->n_splits], 1,
					       out[i].context, d->calls, &ms);
			if (st == QVK_OK && (r == 0 || ms < out[i].ms))
				out[i].ms = ms;
		}
	free(ops2);
out_finish_rig:
	qvk_attn_rig_finish(&rig);
out_finish_ops:
	qvk_ops_finish(&ops);
	return st;
}

qvk_status qvk_attention_prefill_bench(struct qvk_device *dev,
				       const struct qvk_attention_bench_desc *d,
				       uint32_t tokens,
				       struct qvk_attention_prefill_timing *out,
				       const char **tuned)
{
	const uint32_t nk = QVK_ATTENTION_PREFILL_KERNELS;
	struct qvk_ctx *ctx = dev->ctx;
	struct qvk_op (*ops2)[2] = NULL;
	uint32_t max_ctx, max_splits;
	struct qvk_attn_rig rig;
	struct qvk_ops ops;
	qvk_status st;

	st = qvk_attention_bench_check(ctx, d, &max_ctx, &max_splits);
	if (st != QVK_OK)
		return st;
	for (uint32_t c = 0; c < d->n_contexts; c++)
		if (tokens < 2 || tokens > 1024 || tokens > d->contexts[c])
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "attention "
					 "bench: a prefill of %u tokens at %u "
					 "positions (2..1024, at most the "
					 "context)", tokens, d->contexts[c]);
	st = qvk_ops_init(dev, &ops);
	if (st != QVK_OK)
		return st;
	qvk_ops_attn_tune(&ops);
	if (tuned)
		*tuned = qvk_attn_prefill_name(ops.attn_prefill);
	st = qvk_attn_rig_init(&ops, d->n_heads, d->n_kv_heads, d->head_dim,
			       max_ctx, tokens, 0, &rig);
	if (st != QVK_OK)
		goto out_finish_ops;
	ops2 = calloc(nk, sizeof(*ops2));
	if (!ops2) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "attention bench");
		goto out_finish_rig;
	}
	for (uint32_t c = 0; c < d->n_contexts; c++)
		for (uint32_t k = 0; k < nk; k++)
			out[c * nk + k] = (struct qvk_attention_prefill_timing){
				.context = d->contexts[c], .tokens = tokens,
				.kernel = qvk_attn_prefill_name(k),
				.runs = qvk_ops_attn_prefill_runs(&ops, &rig.mdl, k),
			};
	for (uint32_t k = 0; st == QVK_OK && k < nk; k++)
		if (out[k].runs)
			st = qvk_attn_rig_bind_prefill(&rig, k, tokens, ops2[k]);
	for (uint32_t i = 0; st == QVK_OK && i < d->n_contexts * nk; i++) {
		struct qvk_attention_prefill_timing *t = &out[i];
		bool ok;

		if (!t->runs)
			continue;
		st = qvk_attn_rig_check(&rig, ops2[i % nk], tokens, t->context,
					&t->max_abs_err, &ok);
		if (st == QVK_OK && !ok)
			st = qvk_error(ctx, QVK_ERR_NUMERIC, "attention bench: "
				       "prefill kernel %s at %u positions "
				       "differs from the C reference by %g",
				       t->kernel, t->context, t->max_abs_err);
	}
	for (uint32_t r = 0; st == QVK_OK && r < d->reps; r++)
		for (uint32_t i = 0; st == QVK_OK && i < d->n_contexts * nk; i++) {
			double ms;

			if (!out[i].runs)
				continue;
			st = qvk_attn_rig_time(&rig, ops2[i % nk], tokens,
					       out[i].context, d->calls, &ms);
			if (st == QVK_OK && (r == 0 || ms < out[i].ms))
				out[i].ms = ms;
		}
	free(ops2);
out_finish_rig:
	qvk_attn_rig_finish(&rig);
out_finish_ops:
	qvk_ops_finish(&ops);
	return st;
}
