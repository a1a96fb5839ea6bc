/* SPDX-License-Identifier: MIT */
/*
 * The decode design of runtime/ops/ops.h: one command buffer recorded once
 * (embed -> rope -> kv_write -> attention -> act_quant), then submitted for
 * step after step with only the step buffer (position, token id) and the
 * k/v inputs (what the matmuls would produce) rewritten by the host. Each
 * step's attention output and int8 activations are compared with the C
 * references run on the same sequence, so a value frozen at record time
 * (a position in a push constant) would fail from step 1 on.
 * Model sizes as stories260K: dim 64, 8 heads, 4 kv heads, head_dim 8;
 * the cache is layer 1 of a 3-layer cache buffer (qvk_ops_kv_layer_binding)
 * and the other layers must stay untouched.
 * Tolerance: attention |gpu - ref| <= 2e-5 + 1e-4 |ref| (as
 * check_ops_attn.c); activations within one step at rounding ties.
 */
#include "check_ops.h"

START_TEST(test_decode_replays_one_command_buffer)
{
	const struct qvk_ops_model mdl = {
		.dim = 64, .hidden_dim = 172, .n_heads = 8, .n_kv_heads = 4,
		.head_dim = 8, .max_seq = 40, .n_vocab = 512,
		.norm_eps = 1e-5f, .rope_theta = 10000.0f,
	};
	const uint32_t steps = 24, nq = 64, nk = 32;
	uint64_t seed = qvk_test_seed("decode replay");
	uint64_t lb = qvk_ops_kv_layer_bytes(&mdl);
	const uint32_t n_layers = 3, layer = 1; /* the cache of a 3-layer model */
	struct qvk_binding kcl, vcl;
	uint32_t *rest = qvk_ops_test_alloc(lb);
	uint32_t kp = QVK_ACT_LAYOUT_KP(nq);
	float *table = qvk_ops_test_alloc(4ull * mdl.n_vocab * mdl.dim);
	uint16_t *kc = qvk_ops_test_alloc(lb), *vc = qvk_ops_test_alloc(lb);
	float q[64], k[32], v[32], got[64], want[64], att[40];
	uint32_t qa[32], rqa[32], tok;
	float sa, rsa;
	int32_t suma[4], rsuma[4];
	struct qvk_buffer *tb, *step, *qb, *kb, *vb, *kcb, *vcb, *ob;
	struct qvk_buffer *qab, *sab, *sumab;
	struct qvk_ops_act act;
	struct qvk_op op[5];
	struct qvk_ops ops;
	struct qvk_cmd cmd;
	double worst = 0;

	_Static_assert(sizeof(qa) == 128, "one 128-padded row of 64");
	qvk_ops_test_init(&ops, _i);
	qvk_ops_test_fill_normal(&seed, table, (size_t)mdl.n_vocab * mdl.dim, 1.0f);
	tb = qvk_ops_test_buffer(table, 4ull * mdl.n_vocab * mdl.dim);
	ck_assert_int_eq(qvk_buffer_create(qvk_test_dev, QVK_MEM_UPLOAD,
					   QVK_OPS_STEP_BYTES(1), 4, &step),
			 QVK_OK);
	qb = qvk_ops_test_buffer(NULL, 4 * nq);
	kb = qvk_ops_test_buffer(NULL, 4 * nk);
	vb = qvk_ops_test_buffer(NULL, 4 * nk);
	/* Whole layers per piece; NaN: unwritten positions and layers. */
	ck_assert_int_eq(qvk_buffer_create(qvk_test_dev, QVK_MEM_DEVICE,
					   lb * n_layers, lb, &kcb),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(qvk_test_dev, QVK_MEM_DEVICE,
					   lb * n_layers, lb, &vcb),
			 QVK_OK);
	qvk_buffer_fill_u32(kcb, QVK_OPS_POISON);
	qvk_buffer_fill_u32(vcb, QVK_OPS_POISON);
	ck_assert_int_eq(qvk_ops_kv_layer_binding(qvk_test_ctx, kcb, &mdl, layer,
						  &kcl),
			 QVK_OK);
	ck_assert_int_eq(qvk_ops_kv_layer_binding(qvk_test_ctx, vcb, &mdl, layer,
						  &vcl),
			 QVK_OK);
	ck_assert_int_eq(qvk_ops_kv_layer_binding(qvk_test_ctx, vcb, &mdl,
						  n_layers, &vcl),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_ops_kv_layer_binding(qvk_test_ctx, vcb, &mdl, layer,
						  &vcl),
			 QVK_OK);
	ob = qvk_ops_test_buffer(NULL, 4 * nq);
	qab = qvk_ops_test_buffer(NULL, qvk_act_qa_bytes(1, nq));
	sab = qvk_ops_test_buffer(NULL, qvk_act_sa_bytes(1, nq, false));
	sumab = qvk_ops_test_buffer(NULL, qvk_act_suma_bytes(1, nq));
	act = (struct qvk_ops_act){ qvk_ops_whole(qab), qvk_ops_whole(sab),
				    qvk_ops_whole(sumab), false };
	/* q = embedding of the step's token (dim == n_heads * head_dim). */
	qvk_ops_test_check_bind(qvk_ops_embed_bind(&ops, &op[0], &mdl, 1, false,
						   QVK_WHOLE(step), tb,
						   QVK_WHOLE(qb)));
	qvk_ops_test_check_bind(qvk_ops_rope_bind(&ops, &op[1], &mdl, 1,
						  QVK_WHOLE(step), QVK_WHOLE(qb),
						  QVK_WHOLE(kb)));
	qvk_ops_test_check_bind(qvk_ops_kv_write_bind(
		&ops, &op[2], &mdl, 1, QVK_WHOLE(step), QVK_WHOLE(kb),
		QVK_WHOLE(vb), &kcl, &vcl));
	qvk_ops_test_check_bind(qvk_ops_attention_bind(
		&ops, &op[3], &mdl, 1, QVK_WHOLE(step), QVK_WHOLE(qb), &kcl,
		&vcl, QVK_WHOLE(ob)));
	qvk_ops_test_check_bind(qvk_ops_act_quant_bind(&ops, &op[4], nq, 1, nq,
						       QVK_WHOLE(ob), &act));
	ck_assert_int_eq(qvk_cmd_init(qvk_test_dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	for (uint32_t i = 0; i < QVK_ARRAY_SIZE(op); i++)
		qvk_op_record(&cmd, &op[i]);
	ck_assert_int_eq(QVK_VK(qvk_test_ctx, vkEndCommandBuffer(cmd.cb)), QVK_OK);

	for (uint32_t pos = 0; pos < steps; pos++) {
		tok = (uint32_t)(qvk_test_rand(&seed) % mdl.n_vocab);
		qvk_ops_test_fill_normal(&seed, k, nk, 1.0f);
		qvk_ops_test_fill_normal(&seed, v, nk, 1.0f);
		ck_assert_int_eq(qvk_ops_step_write(step, pos, &tok, 1,
						    mdl.max_seq, mdl.n_vocab),
				 QVK_OK);
		ck_assert_int_eq(qvk_buffer_write(kb, 0, k, sizeof(k)), QVK_OK);
		ck_assert_int_eq(qvk_buffer_write(vb, 0, v, sizeof(v)), QVK_OK);
		qvk_buffer_fill_u32(ob, QVK_OPS_POISON);
		qvk_buffer_fill_u32(qab, QVK_OPS_POISON);
		ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, false), QVK_OK);

		/* The same step on the C side. */
		memcpy(q, table + (size_t)tok * mdl.dim, sizeof(q));
		qvk_ref_rope(&mdl, q, 1, mdl.n_heads, pos);
		qvk_ref_rope(&mdl, k, 1, mdl.n_kv_heads, pos);
		qvk_ref_kv_write(&mdl, 1, pos, k, v, kc, vc);
		qvk_ref_attention(&mdl, 1, pos, q, kc, vc, att, want);
		qvk_ops_test_read(ob, got, sizeof(got));
		for (uint32_t i = 0; i < nq; i++) {
			double e = fabs((double)got[i] - want[i]);

			ck_assert_msg(e <= 2e-5 + 1e-4 * fabs(want[i]),
				      "step %u: out[%u] = %.9g, want %.9g", pos,
				      i, (double)got[i], (double)want[i]);
			worst = fmax(worst, e);
		}
		/* Quantized from the GPU's own attention output. */
		qvk_ref_act_quant(got, nq, 1, nq, false, rqa, &rsa, rsuma);
		qvk_ops_test_read(qab, qa, sizeof(qa));
		qvk_ops_test_read(sab, &sa, 4);
		qvk_ops_test_read(sumab, suma, 4ull * kp / 32);
		ck_assert_msg(fabsf(sa - rsa) <= 1e-6f * rsa, "step %u: sa %g vs %g",
			      pos, (double)sa, (double)rsa);
		for (uint32_t b = 0; b < kp / 32; b++) {
			int32_t s = 0;

			for (uint32_t j = 0; j < 32; j++) {
				uint32_t e = b * 32 + j;
				int g = (int8_t)(qa[e / 4] >> (8 * (e % 4)));
				int w = (int8_t)(rqa[e / 4] >> (8 * (e % 4)));

				ck_assert_msg(abs(g - w) <= 1, "step %u: q[%u] %d vs %d",
					      pos, e, g, w);
				s += g;
			}
			ck_assert_int_eq(suma[b], s);
		}
	}
	/* The other layers' caches are untouched. */
	for (uint32_t l = 0; l < n_layers; l++) {
		if (l == layer)
			continue;
		for (int t = 0; t < 2; t++) {
			ck_assert_int_eq(qvk_buffer_read(t ? vcb : kcb, lb * l, rest, lb),
					 QVK_OK);
			for (uint64_t i = 0; i < lb / 4; i++)
				ck_assert_msg(rest[i] == QVK_OPS_POISON,
					      "layer %u %s cache word %llu written", l,
					      t ? "V" : "K", (unsigned long long)i);
		}
	}
	printf("  decode replay: %u steps of one recorded command buffer, "
	       "attention max abs err %.3g; layer %u of %u cache pieces %u\n",
	       steps, worst, layer, n_layers, kcb->n_pieces);
	qvk_cmd_finish(&cmd);
	for (uint32_t i = 0; i < QVK_ARRAY_SIZE(op); i++)
		qvk_op_finish(&op[i]);
	qvk_ops_finish(&ops);
	qvk_buffer_destroy(tb);
	qvk_buffer_destroy(step);
	qvk_buffer_destroy(qb);
	qvk_buffer_destroy(kb);
	qvk_buffer_destroy(vb);
	qvk_buffer_destroy(kcb);
	qvk_buffer_destroy(vcb);
	qvk_buffer_destroy(ob);
	qvk_buffer_destroy(qab);
	qvk_buffer_destroy(sab);
	qvk_buffer_destroy(sumab);
	free(table);
	free(rest);
	free(kc);
	free(vc);
}
END_TEST

Suite *suite_ops_replay(void);
Suite *suite_ops_replay(void)
{
	Suite *s = suite_create("ops_replay");
	TCase *tc = tcase_create("decode");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_decode_replays_one_command_buffer, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
