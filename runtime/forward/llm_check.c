/* SPDX-License-Identifier: MIT */
/*
 * Non-finite logits stop generation. Weights and scales are checked at
 * load, but finite weights can still overflow inside the pass (an
 * embedding of 3e38 squares to Inf in the first RMSNorm), and the kernels
 * carry Inf/NaN on rather than hiding it (rmsnorm, act quantization). So
 * every pass ends with a scan of the logits it produced: vocab floats per
 * row, cheap next to the pass. Only when that scan fails is the same pass
 * replayed through a probe plan that copies the residual stream after the
 * embedding and after every layer, to name the first layer whose output
 * is not finite. Replaying is safe: the positions written to the KV cache
 * are written again with the same values.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "llm_internal.h"
#include "quant/quant_internal.h"

/* Where a probe found the first non-finite value. */
struct qvk_probe_hit {
	uint32_t slot;       /* 0: embedding, l + 1: after layer l */
	uint32_t token;      /* row in the batch */
	uint32_t column;
	float value;
	float prev_amax;     /* max |x| of that row in the slot before */
};

/* Slots are scanned in order: the first one holding a non-finite value. */
static bool qvk_probe_scan(const struct qvk_llm *llm, const struct qvk_buffer *probe,
			   uint32_t m, struct qvk_probe_hit *hit)
{
	const uint32_t dim = llm->md.dim, n_slots = llm->w.n_layers + 1;
	const size_t slot_floats = (size_t)m * dim;
	const uint32_t per_piece = (uint32_t)(probe->piece_bytes / (slot_floats * 4));

	for (uint32_t s = 0; s < n_slots; s++) {
		const float *x = (const float *)qvk_buffer_piece_map(probe, s / per_piece) +
				 (size_t)(s % per_piece) * slot_floats;
		size_t bad = qvk_find_nonfinite(x, slot_floats);
		const float *prev;

		if (bad == slot_floats)
			continue;
		hit->slot = s;
		hit->token = (uint32_t)(bad / dim);
		hit->column = (uint32_t)(bad % dim);
		hit->value = x[bad];
		hit->prev_amax = 0;
		if (s > 0) {
			prev = (const float *)qvk_buffer_piece_map(probe, (s - 1) / per_piece) +
			       (size_t)((s - 1) % per_piece) * slot_floats +
			       (size_t)hit->token * dim;
			for (uint32_t k = 0; k < dim; k++)
				hit->prev_amax = fmaxf(hit->prev_amax, fabsf(prev[k]));
		}
		return true;
	}
	return false;
}

/* Replay @plan's pass with residual copies; describe what it found. */
static qvk_status qvk_llm_locate(struct qvk_llm *llm,
				 const struct qvk_llm_plan *plan,
				 const uint32_t *tokens, uint32_t pos,
				 char *where, size_t len)
{
	struct qvk_ctx *ctx = llm->dev->ctx;
	const uint32_t m = plan->m, dim = llm->md.dim;
	const VkDeviceSize slot_bytes = (VkDeviceSize)m * dim * 4;
	struct qvk_llm_plan probe_plan;
	struct qvk_buffer *probe = NULL;
	struct qvk_probe_hit hit;
	qvk_status st;

	if (llm->x->n_pieces != 1)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED, "residual stream in "
				 "%u pieces", llm->x->n_pieces);
	st = qvk_buffer_create(llm->dev, QVK_MEM_READBACK,
			       slot_bytes * (llm->w.n_layers + 1), slot_bytes,
			       &probe);
	if (st == QVK_OK)
		st = qvk_llm_plan_build(llm, &probe_plan, m, plan->all_logits,
					probe);
	if (st == QVK_OK) {
		st = qvk_ops_step_write(llm->step, pos, tokens, m,
					llm->md.max_seq, llm->md.n_vocab);
		if (st == QVK_OK)
			st = qvk_cmd_submit_wait(&probe_plan.cmd, false);
		qvk_llm_plan_finish(&probe_plan);
	}
	if (st != QVK_OK)
		goto out_destroy_probe;
	if (!qvk_probe_scan(llm, probe, m, &hit)) {
		snprintf(where, len, "produced by the final norm or the classifier "
			 "(output.weight): the residual stream is finite after "
			 "every layer");
	} else if (hit.slot == 0) {
		snprintf(where, len, "already in the token embedding "
			 "(token_embd.weight): %g at token %u, column %u",
			 (double)hit.value, tokens[hit.token], hit.column);
	} else {
		/* Squares of |x| past sqrt(FLT_MAX / dim) overflow the norm. */
		char why[96] = "";

		if ((double)hit.prev_amax * hit.prev_amax > (double)FLT_MAX / dim)
			snprintf(why, sizeof(why), "; its input reached |x| = %.3g, "
				 "whose square overflows fp32 in RMSNorm",
				 (double)hit.prev_amax);
		snprintf(where, len, "first produced by layer %u (blk.%u): %g "
			 "in the residual stream at position %u, column %u%s",
			 hit.slot - 1, hit.slot - 1, (double)hit.value,
			 pos + hit.token, hit.column, why);
	}
out_destroy_probe:
	qvk_buffer_destroy(probe);
	return st;
}

qvk_status qvk_llm_check_logits(struct qvk_llm *llm,
				const struct qvk_llm_plan *plan,
				const uint32_t *tokens, uint32_t pos,
				const float *logits, uint32_t rows)
{
	const uint32_t vocab = llm->md.n_vocab;
	size_t bad = qvk_find_nonfinite(logits, (size_t)rows * vocab);
	char where[320] = "";
	uint32_t row;
	float value;
	qvk_status st;

	if (bad == (size_t)rows * vocab)
		return QVK_OK;
	value = logits[bad];
	/* One row: the last token's; otherwise one row per token. */
	row = rows == 1 ? plan->m - 1 : (uint32_t)(bad / vocab);
	st = qvk_llm_locate(llm, plan, tokens, pos, where, sizeof(where));
	if (st != QVK_OK)
		snprintf(where, sizeof(where), "not located "
			 "(%s: %s)", qvk_strerror(st), qvk_ctx_message(llm->dev->ctx));
	return qvk_error(llm->dev->ctx, QVK_ERR_NUMERIC, "logit %zu at "
			 "position %u (token %u) is %g; the non-finite value was "
			 "%s", bad % vocab, pos + row, tokens[row], (double)value,
			 where);
}
