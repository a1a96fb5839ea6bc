/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the attention suites (check_ops_attn.c,
 * check_ops_attn_split.c): a model of given heads, a step buffer, and one
 * attention case run on the device against qvk_ref_attention. static
 * inline: each suite uses a subset.
 */
#ifndef QVK_TESTS_CHECK_OPS_ATTN_H
#define QVK_TESTS_CHECK_OPS_ATTN_H

#include "check_ops.h"

static inline struct qvk_ops_model qvk_attn_model(uint32_t head_dim, uint32_t n_heads,
					   uint32_t n_kv, uint32_t max_seq)
{
	return (struct qvk_ops_model){
		.dim = n_heads * head_dim, .hidden_dim = 4 * n_heads * head_dim,
		.n_heads = n_heads, .n_kv_heads = n_kv, .head_dim = head_dim,
		.max_seq = max_seq, .n_vocab = 512, .norm_eps = 1e-5f,
		.rope_theta = 10000.0f,
	};
}

static inline struct qvk_buffer *qvk_attn_step_buffer(uint32_t m)
{
	struct qvk_buffer *b;

	ck_assert_int_eq(qvk_buffer_create(qvk_test_dev, QVK_MEM_UPLOAD,
					   QVK_OPS_STEP_BYTES(m), 4, &b),
			 QVK_OK);
	qvk_buffer_fill_u32(b, 0);
	return b;
}

/* -------------------------------------------------------- attention */struct qvk_attn_case {
	uint32_t hd, heads, kv, max_seq, m, pos;
	float q_scale;
	/* Split-KV: splits (0: the one-pass kernel), split_min in tiles. */
	uint32_t splits, min_tiles;
	/* Prefill kernel forced (enum qvk_attn_prefill + 1; 0: the bound
	 * one), fp32 cache (of fp16-exact values: the reference's). */
	uint32_t prefill;
	bool f32;
};

static inline void qvk_attn_run_case(struct qvk_ops *ops, uint64_t *seed,
			      const struct qvk_attn_case *c)
{
	struct qvk_ops_model mdl = qvk_attn_model(c->hd, c->heads, c->kv,
						  c->max_seq);
	uint64_t lb = qvk_ops_kv_layer_bytes(&mdl), lb32 = 2 * lb;
	float *kc32 = c->f32 ? qvk_ops_test_alloc(lb32) : NULL;
	float *vc32 = c->f32 ? qvk_ops_test_alloc(lb32) : NULL;
	size_t nq = (size_t)c->m * c->heads * c->hd;
	uint16_t *kc = qvk_ops_test_alloc(lb), *vc = qvk_ops_test_alloc(lb);
	float *q = qvk_ops_test_alloc(4 * nq), *want = qvk_ops_test_alloc(4 * nq);
	float *got = qvk_ops_test_alloc(4 * nq);
	float *att = qvk_ops_test_alloc(4ull * c->max_seq);
	struct qvk_buffer *step, *qb, *kcb, *vcb, *ob, *pb = NULL;
	uint32_t filled = c->pos + c->m;
	uint32_t split_min = c->min_tiles * qvk_ops_attn_split_tile(ops);
	struct qvk_op op[2];
	char what[160];

	/* Positions the step may see hold data; later ones are NaN. */
	for (uint32_t h = 0; h < c->kv; h++)
		for (uint32_t p = 0; p < c->max_seq; p++)
			for (uint32_t d = 0; d < c->hd; d++) {
				size_t i = ((size_t)h * c->max_seq + p) * c->hd + d;

				kc[i] = p < filled ? qvk_ref_f32_to_f16(qvk_test_normal(seed)) :
						     0x7e00;
				vc[i] = p < filled ? qvk_ref_f32_to_f16(qvk_test_normal(seed)) :
						     0x7e00;
			}
	qvk_ops_test_fill_normal(seed, q, nq, c->q_scale);
	step = qvk_attn_step_buffer(c->m);
	qb = qvk_ops_test_buffer(q, 4 * nq);
	if (c->f32) {
		for (uint64_t i = 0; i < lb / 2; i++) {
			kc32[i] = qvk_ref_f16_to_f32(kc[i]); /* NaN stays NaN */
			vc32[i] = qvk_ref_f16_to_f32(vc[i]);
		}
		mdl.kv_f32 = true;
	}
	kcb = c->f32 ? qvk_ops_test_buffer(kc32, lb32) : qvk_ops_test_buffer(kc, lb);
	vcb = c->f32 ? qvk_ops_test_buffer(vc32, lb32) : qvk_ops_test_buffer(vc, lb);
	ob = qvk_ops_test_buffer(NULL, 4 * nq);
	ck_assert_int_eq(qvk_ops_step_write(step, c->pos, NULL, c->m,
					    mdl.max_seq, mdl.n_vocab),
			 QVK_OK);
	if (c->splits) {
		/* Poisoned partials: reading a split pass 1 skipped fails. */
		pb = qvk_ops_test_buffer(NULL, qvk_ops_attention_split_bytes(
						       &mdl, c->m, c->splits));
		qvk_ops_test_check_bind(qvk_ops_attention_split_bind(
			ops, op, &mdl, c->m, c->splits, split_min,
			QVK_WHOLE(step), QVK_WHOLE(qb), QVK_WHOLE(kcb),
			QVK_WHOLE(vcb), QVK_WHOLE(pb), QVK_WHOLE(ob)));
		qvk_ops_test_run(op, 2);
	} else if (c->prefill) {
		qvk_ops_test_check_bind(qvk_ops_attention_prefill_bind(
			ops, &op[0], &mdl, c->m,
			(enum qvk_attn_prefill)(c->prefill - 1), QVK_WHOLE(step),
			QVK_WHOLE(qb), QVK_WHOLE(kcb), QVK_WHOLE(vcb),
			QVK_WHOLE(ob)));
		qvk_ops_test_run(op, 1);
	} else {
		qvk_ops_test_check_bind(qvk_ops_attention_bind(
			ops, &op[0], &mdl, c->m, QVK_WHOLE(step), QVK_WHOLE(qb),
			QVK_WHOLE(kcb), QVK_WHOLE(vcb), QVK_WHOLE(ob)));
		qvk_ops_test_run(op, 1);
	}
	qvk_ops_test_read(ob, got, 4 * nq);
	mdl.kv_f32 = false; /* the reference reads the fp16 copy */
	qvk_ref_attention(&mdl, c->m, c->pos, q, kc, vc, att, want);
	if (c->splits) {
		uint32_t len = qvk_ops_attn_split_len(filled, c->splits, split_min);

		snprintf(what, sizeof(what),
			 "split attention hd %u heads %u/%u m %u pos %u..%u: %u "
			 "splits of %u (last token: %u active, the last of %u), "
			 "q x%g", c->hd, c->heads, c->kv, c->m, c->pos,
			 filled - 1, c->splits, len, QVK_DIV_ROUND_UP(filled, len),
			 filled - (QVK_DIV_ROUND_UP(filled, len) - 1) * len,
			 (double)c->q_scale);
	} else if (c->prefill) {
		struct qvk_attn_tile t;
		enum qvk_attn_prefill k = (enum qvk_attn_prefill)(c->prefill - 1);

		if (!qvk_ops_attn_tile(ops, &mdl, k, &t))
			memset(&t, 0, sizeof(t));
		snprintf(what, sizeof(what),
			 "%s attention hd %u heads %u/%u m %u pos %u..%u, %s cache "
			 "(tile %u tokens x %u heads, %u positions, %u lanes/row), "
			 "q x%g", qvk_attn_prefill_name(k), c->hd, c->heads, c->kv,
			 c->m, c->pos, filled - 1, c->f32 ? "fp32" : "fp16", t.br,
			 t.gq, t.bc, t.tpr, (double)c->q_scale);
	} else {
		snprintf(what, sizeof(what),
			 "attention hd %u heads %u/%u m %u pos %u..%u (chunk %u, "
			 "q x%g)", c->hd, c->heads, c->kv, c->m, c->pos,
			 filled - 1,
			 ops->attn_chunk[qvk_ops_attention_variant(&mdl)],
			 (double)c->q_scale);
	}
	qvk_ops_test_close(what, got, want, nq, 2e-5f, 1e-4f);
	qvk_buffer_destroy(pb);
	qvk_buffer_destroy(step);
	qvk_buffer_destroy(qb);
	qvk_buffer_destroy(kcb);
	qvk_buffer_destroy(vcb);
	qvk_buffer_destroy(ob);
	free(kc);
	free(vc);
	free(kc32);
	free(vc32);
	free(q);
	free(want);
	free(got);
	free(att);
}

#endif
