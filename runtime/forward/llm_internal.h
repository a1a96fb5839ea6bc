/* SPDX-License-Identifier: MIT */
/* The device model's state, shared by llm.c and llm_plan.c. */
#ifndef QVK_RUNTIME_FORWARD_LLM_INTERNAL_H
#define QVK_RUNTIME_FORWARD_LLM_INTERNAL_H

#include "../ops/ops.h"
#include "forward.h"

enum qvk_stage {
	QVK_STAGE_EMBED,
	QVK_STAGE_RMSNORM,
	QVK_STAGE_MATMUL,
	QVK_STAGE_ROPE,
	QVK_STAGE_KV_WRITE,
	QVK_STAGE_ATTENTION,
	QVK_STAGE_ACT_QUANT,
	QVK_STAGE_SWIGLU,
	QVK_STAGE_BIAS,
	QVK_STAGE_COUNT,
};

/* Timestamps a plan can hold: one after every stage. */
#define QVK_LLM_MAX_STAMPS 1024u

/* Everything bound and recorded for one token count m. */
struct qvk_llm_plan {
	uint32_t m; /* 0: unused slot */
	bool all_logits; /* classifier on every token, or on the last only */
	struct qvk_op *ops;
	uint32_t n_ops, cap_ops;
	struct qvk_cmd cmd;
	/* Profile: stage of each timestamp slot after slot 0. */
	uint8_t stamp_stage[QVK_LLM_MAX_STAMPS];
	uint32_t stamp_dispatches[QVK_LLM_MAX_STAMPS];
	uint32_t n_stamps;
	uint64_t last_use;
};

#define QVK_LLM_MAX_PLANS 6u

struct qvk_llm {
	struct qvk_device *dev;
	struct qvk_llm_options opt;
	struct qvk_ops_model md;
	float rope_freqs[QVK_OPS_MAX_HEAD_DIM / 2]; /* md.rope_freqs */
	uint32_t max_m;
	struct qvk_llm_weights w;
	struct qvk_ops ops;
	struct qvk_mm mm;
	struct {
		bool dim_q8, dim_f32, attn_q8, hid_q8, hid_f32, final_f32;
		/* int8 with a scale per 32-block (K-quant consumers) */
		bool dim_block, attn_block, hid_block;
	} need;

	struct qvk_buffer *step;      /* struct qvk_ops_step, host-visible */
	struct qvk_buffer *x;         /* (max_m, dim) residual stream */
	struct qvk_buffer *q;         /* (max_m, n_heads*head_dim) */
	struct qvk_buffer *k, *v;     /* (max_m, n_kv_heads*head_dim) */
	struct qvk_buffer *hb, *hb2;  /* (max_m, hidden) gate, up */
	struct qvk_buffer *logits;    /* (max_m, vocab), host-visible */
	struct qvk_mm_act *act_dim;   /* normed x: int8 and fp32 */
	struct qvk_mm_act *act_attn;  /* attention output: fp32, then int8 */
	struct qvk_mm_act *act_hid;   /* SwiGLU output */
	struct qvk_mm_act *act_last;  /* the last token's normed x (1 token) */
	struct qvk_buffer **kv;       /* [2 * n_layers]: K, V per layer */
	/* Split-KV decode: splits per (kv head, token), 0 for one pass, and
	 * the partials all layers share (qvk_ops_attention_split_bytes). */
	uint32_t attn_splits;
	struct qvk_buffer *attn_part;

	/* 7 per layer, the classifier on all tokens, then on act_last */
	struct qvk_mm_binding *mmb;
	uint32_t n_mmb;
	struct qvk_llm_plan plans[QVK_LLM_MAX_PLANS];
	struct qvk_llm_plan *decode;
	uint64_t uses;
	uint64_t device_bytes;

	double prof_ms[QVK_STAGE_COUNT];
	uint64_t prof_dispatches[QVK_STAGE_COUNT];
};

/*
 * The plan for @m tokens, bound and recorded on first use. Without
 * @all_logits only the last token reaches the classifier: a prompt needs
 * no more, and the classifier is the largest matmul of a small model.
 */
qvk_status qvk_llm_plan_get(struct qvk_llm *llm, uint32_t m, bool all_logits,
			    struct qvk_llm_plan **out);
/*
 * Bind and record @plan for @m tokens. A @probe plan (not kept among the
 * plans) also copies the residual stream after the embedding and after
 * every layer into @probe: (n_layers + 1, m, dim) fp32, each piece holding
 * whole (m, dim) slots. Without @probe: what qvk_llm_plan_get() records.
 */
qvk_status qvk_llm_plan_build(struct qvk_llm *llm, struct qvk_llm_plan *plan,
			      uint32_t m, bool all_logits,
			      const struct qvk_buffer *probe);
void qvk_llm_plan_finish(struct qvk_llm_plan *plan);
/* A new op slot at the end of @plan's ops (counted by the caller). */
qvk_status qvk_llm_plan_new_op(struct qvk_llm_plan *plan, struct qvk_op **op);
/*
 * A capture plan for @m tokens (llm_capture.c): the pass up to @cap's
 * last layer (and the final norm when it captures the classifier's
 * input), every consumer's input in fp32, @cap's kernels after each site's
 * producer, no classifier.
 */
qvk_status qvk_llm_plan_build_capture(struct qvk_llm *llm,
				      struct qvk_llm_plan *plan, uint32_t m,
				      const struct qvk_llm_capture *cap);
/* Record @cap's kernels for layer @layer's site @kind (layer n_layers: the classifier's). */
qvk_status qvk_llm_capture_record(const struct qvk_llm_capture *cap,
				  struct qvk_llm_plan *plan, uint32_t layer,
				  uint32_t kind);
uint32_t qvk_llm_capture_last_layer(const struct qvk_llm_capture *cap);
bool qvk_llm_capture_head(const struct qvk_llm_capture *cap);
/*
 * After a pass over @tokens[0..m) at @pos through @plan: QVK_OK when the
 * @rows logit rows at @logits are finite. Otherwise the pass is replayed
 * through a probe plan to find where the residual stream first stopped
 * being finite, and QVK_ERR_NUMERIC names that layer (llm_check.c).
 */
qvk_status qvk_llm_check_logits(struct qvk_llm *llm,
				const struct qvk_llm_plan *plan,
				const uint32_t *tokens, uint32_t pos,
				const float *logits, uint32_t rows);
qvk_status qvk_llm_plan_collect_profile(struct qvk_llm *llm,
					struct qvk_llm_plan *plan);

#endif
