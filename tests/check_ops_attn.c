/* SPDX-License-Identifier: MIT */
/*
 * The position-dependent op kernels (embed, rope, kv_write, attention)
 * against the C references of runtime/ops/ops_ref.c, one kernel at a time
 * (check_ops_replay.c replays them as one recorded decode command buffer).
 *
 * Tolerances (each test prints the measured error):
 * - embed: exact (a copy; fp16 rows widen exactly).
 * - rope: |gpu - ref| <= 2e-5 + 2e-5 |ref| for inputs ~N(0,1) at positions
 *   up to 4095 (sin/cos of the reduced angle vs libm's of the full one),
 *   with and without frequency factors and a multiplier; dimensions past
 *   the rotated ones bit-exact.
 * - kv_write: each fp16 within one fp16 ulp of the fp32 input (exact when
 *   the device rounds to nearest even, as the reference; matches are
 *   counted), and every word outside the written positions untouched.
 * - attention: |gpu - ref| <= 2e-5 + 1e-4 |ref| on the same fp16 cache
 *   (summation orders of the dots, the online softmax's rescaling and the
 *   weighted sum over up to ~4k positions); split-KV decode is in
 *   check_ops_attn_split.c.
 */
#include "check_ops_attn.h"

/* ------------------------------------------------------------ embed */
static void qvk_embed_case(struct qvk_ops *ops, uint64_t *seed, bool f16,
			   uint32_t dim, uint32_t n_vocab, uint32_t m)
{
	struct qvk_ops_model mdl = qvk_attn_model(8, 8, 4, 64);
	uint64_t row_bytes = (uint64_t)dim * (f16 ? 2 : 4);
	uint32_t *tokens = qvk_ops_test_alloc(4ull * m);
	float *want = qvk_ops_test_alloc(4ull * m * dim);
	float *got = qvk_ops_test_alloc(4ull * m * dim);
	void *row = qvk_ops_test_alloc(row_bytes);
	struct qvk_buffer *table, *step, *out;
	struct qvk_op op;
	char what[96];

	mdl.dim = dim;
	mdl.n_vocab = n_vocab;
	ck_assert_int_eq(qvk_buffer_create(qvk_test_dev, QVK_MEM_DEVICE,
					   row_bytes * n_vocab, row_bytes, &table),
			 QVK_OK);
	for (uint32_t m_i = 0; m_i < m; m_i++)
		tokens[m_i] = m_i == 0 ? n_vocab - 1 : m_i == 1 ? 0 :
			(uint32_t)(qvk_test_rand(seed) % n_vocab);
	/* Rows are a hash of (token, k): only the looked-up ones are kept. */
	for (uint32_t t = 0; t < n_vocab; t++) {
		uint64_t s = *seed ^ ((uint64_t)t << 32);

		for (uint32_t k = 0; k < dim; k++) {
			float v = qvk_test_uniform(&s, -4.0f, 4.0f);

			if (f16) {
				uint16_t h = qvk_ref_f32_to_f16(v);

				((uint16_t *)row)[k] = h;
				v = qvk_ref_f16_to_f32(h);
			} else {
				((float *)row)[k] = v;
			}
			for (uint32_t m_i = 0; m_i < m; m_i++)
				if (tokens[m_i] == t)
					want[(size_t)m_i * dim + k] = v;
		}
		ck_assert_int_eq(qvk_buffer_write(table, row_bytes * t, row,
						  row_bytes),
				 QVK_OK);
	}
	step = qvk_attn_step_buffer(m);
	out = qvk_ops_test_buffer(NULL, 4ull * m * dim);
	ck_assert_int_eq(qvk_ops_step_write(step, 0, tokens, m, mdl.max_seq,
					    n_vocab),
			 QVK_OK);
	qvk_ops_test_check_bind(qvk_ops_embed_bind(ops, &op, &mdl, m, f16,
						   QVK_WHOLE(step), table,
						   QVK_WHOLE(out)));
	qvk_ops_test_run(&op, 1);
	qvk_ops_test_read(out, got, 4ull * m * dim);
	snprintf(what, sizeof(what), "embed %s dim %u vocab %u (%u pieces)",
		 f16 ? "f16" : "f32", dim, n_vocab, table->n_pieces);
	qvk_ops_test_close(what, got, want, (size_t)m * dim, 0.0f, 0.0f);

	/* A token id the host should have refused: a NaN row, no over-read. */
	tokens[0] = n_vocab + 5;
	ck_assert_int_eq(qvk_ops_step_write(step, 0, tokens, m, mdl.max_seq,
					    n_vocab),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_buffer_write(step, 16, tokens, 4), QVK_OK);
	qvk_buffer_fill_u32(out, 0);
	qvk_ops_test_run(&op, 1);
	qvk_ops_test_read(out, got, 4ull * m * dim);
	for (uint32_t k = 0; k < dim; k++)
		ck_assert_msg(isnan(got[k]), "bad token: out[%u] = %g", k,
			      (double)got[k]);
	qvk_buffer_destroy(table);
	qvk_buffer_destroy(step);
	qvk_buffer_destroy(out);
	free(tokens);
	free(want);
	free(got);
	free(row);
}

START_TEST(test_embed_matches_table)
{
	uint64_t seed = qvk_test_seed("embed");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	qvk_embed_case(&ops, &seed, false, 64, 512, 5);
	qvk_embed_case(&ops, &seed, true, 64, 512, 5);
	qvk_embed_case(&ops, &seed, true, 173, 300, 7); /* odd dim: half rows */
	qvk_embed_case(&ops, &seed, false, 288, 32000, 1);
	qvk_ops_finish(&ops);
}
END_TEST

/* A table past maxStorageBufferRange is bound in pieces of whole rows. */
START_TEST(test_embed_table_in_pieces)
{
	uint64_t seed = qvk_test_seed("embed pieces");
	const uint32_t dim = 4096;
	uint64_t range = qvk_test_dev->info.max_storage_buffer_range;
	uint64_t rows = range / (4ull * dim) + 37;
	struct qvk_ops ops;

	if (rows * 4 * dim > (1ull << 30)) {
		printf("SKIP: maxStorageBufferRange %llu: a table past it needs "
		       "over 1 GiB\n", (unsigned long long)range);
		return;
	}
	qvk_ops_test_init(&ops, _i);
	qvk_embed_case(&ops, &seed, false, dim, (uint32_t)rows, 6);
	qvk_ops_finish(&ops);
}
END_TEST

/* ------------------------------------------------------------- rope */
/*
 * Cases: both pair layouts, partial rotary (rot < head_dim: the rest must
 * come back untouched), a host frequency table with Llama 3 / LongRoPE
 * style factors (random in [1, 8]) and linear scaling, and a cos/sin
 * multiplier (LongRoPE's attention factor).
 */
START_TEST(test_rope_matches_reference)
{
	static const struct {
		uint32_t hd, heads, kv, m, rot;
		enum qvk_rope_mode mode;
		bool factors;
		float mscale;
	} cases[] = {
		{ 8, 8, 4, 1, 0, QVK_ROPE_INTERLEAVED, false, 0 },
		{ 48, 6, 6, 3, 0, QVK_ROPE_INTERLEAVED, false, 0 },
		{ 64, 8, 4, 4, 0, QVK_ROPE_NEOX, false, 0 },
		{ 128, 8, 4, 1, 0, QVK_ROPE_INTERLEAVED, true, 0 },
		{ 96, 4, 2, 5, 32, QVK_ROPE_NEOX, true, 1.1902f },
		{ 64, 8, 8, 2, 48, QVK_ROPE_INTERLEAVED, false, 0.75f },
		{ 128, 16, 8, 3, 128, QVK_ROPE_NEOX, true, 0 },
		{ 128, 32, 8, 2, 0, QVK_ROPE_NEOX, false, 0 },
	};
	uint64_t seed = qvk_test_seed("rope");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
		struct qvk_ops_model mdl = qvk_attn_model(cases[c].hd, cases[c].heads,
							  cases[c].kv, 4096);
		uint32_t m = cases[c].m;
		size_t nq = (size_t)m * mdl.n_heads * mdl.head_dim;
		size_t nk = (size_t)m * mdl.n_kv_heads * mdl.head_dim;
		uint32_t pos = c == 0 ? 0 : (uint32_t)(qvk_test_rand(&seed) %
						       (mdl.max_seq - m + 1));
		float *q = qvk_ops_test_alloc(4 * nq), *k = qvk_ops_test_alloc(4 * nk);
		float *got = qvk_ops_test_alloc(4 * (nq + nk));
		float *q0 = qvk_ops_test_alloc(4 * nq);
		float freq[QVK_OPS_MAX_HEAD_DIM / 2], table[QVK_OPS_MAX_HEAD_DIM / 2];
		uint32_t rot, untouched = 0;
		struct qvk_buffer *step, *qb, *kb;
		struct qvk_op op;
		char what[128];

		if (c == QVK_ARRAY_SIZE(cases) - 1)
			pos = mdl.max_seq - m; /* the largest angles */
		mdl.rope_mode = cases[c].mode;
		mdl.rope_dims = cases[c].rot;
		mdl.rope_mscale = cases[c].mscale;
		rot = qvk_ops_rope_dims(&mdl);
		if (cases[c].factors) {
			qvk_ref_rope_freqs(500000.0f, rot, freq);
			for (uint32_t i = 0; i < rot / 2; i++)
				freq[i] *= 0.5f / qvk_test_uniform(&seed, 1.0f, 8.0f);
			memcpy(table, freq, sizeof(freq));
			mdl.rope_freqs = table;
		}
		qvk_ops_test_fill_normal(&seed, q, nq, 1.0f);
		qvk_ops_test_fill_normal(&seed, k, nk, 1.0f);
		memcpy(q0, q, 4 * nq);
		step = qvk_attn_step_buffer(m);
		qb = qvk_ops_test_buffer(q, 4 * nq);
		kb = qvk_ops_test_buffer(k, 4 * nk);
		ck_assert_int_eq(qvk_ops_step_write(step, pos, NULL, m,
						    mdl.max_seq, mdl.n_vocab),
				 QVK_OK);
		qvk_ops_test_check_bind(qvk_ops_rope_bind(&ops, &op, &mdl, m,
							  QVK_WHOLE(step),
							  QVK_WHOLE(qb),
							  QVK_WHOLE(kb)));
		/* The table is read at bind: changing it now must not matter. */
		table[0] = NAN;
		qvk_ops_test_run(&op, 1);
		if (cases[c].factors)
			mdl.rope_freqs = freq;
		qvk_ref_rope(&mdl, q, m, mdl.n_heads, pos);
		qvk_ref_rope(&mdl, k, m, mdl.n_kv_heads, pos);
		qvk_ops_test_read(qb, got, 4 * nq);
		qvk_ops_test_read(kb, got + nq, 4 * nk);
		for (size_t i = 0; i < nq; i++)
			if (i % mdl.head_dim >= rot) {
				ck_assert_msg(got[i] == q0[i], "rope: unrotated q[%zu] "
					      "changed: %g, was %g", i,
					      (double)got[i], (double)q0[i]);
				untouched++;
			}
		snprintf(what, sizeof(what), "rope %s hd %u rot %u heads %u/%u m %u "
			 "pos %u%s mscale %g q", mdl.rope_mode == QVK_ROPE_NEOX ?
			 "neox" : "interleaved", mdl.head_dim, rot, mdl.n_heads,
			 mdl.n_kv_heads, m, pos, cases[c].factors ? " factors" : "",
			 (double)qvk_ops_rope_mscale(&mdl));
		qvk_ops_test_close(what, got, q, nq, 2e-5f, 2e-5f);
		qvk_ops_test_close("  k", got + nq, k, nk, 2e-5f, 2e-5f);
		if (rot < mdl.head_dim)
			printf("  %u unrotated q values unchanged\n", untouched);
		qvk_op_finish(&op);
		qvk_buffer_destroy(step);
		qvk_buffer_destroy(qb);
		qvk_buffer_destroy(kb);
		free(q);
		free(q0);
		free(k);
		free(got);
	}
	qvk_ops_finish(&ops);
}
END_TEST

/* --------------------------------------------------------- kv_write */
START_TEST(test_kv_write_matches_reference)
{
	static const struct {
		uint32_t hd, kv, m, max_seq;
	} cases[] = { { 8, 4, 1, 512 }, { 64, 4, 6, 512 }, { 128, 8, 3, 300 } };
	uint64_t seed = qvk_test_seed("kv_write");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
		struct qvk_ops_model mdl = qvk_attn_model(cases[c].hd, 8, cases[c].kv,
							  cases[c].max_seq);
		uint32_t m = cases[c].m;
		uint32_t pos = c == 2 ? mdl.max_seq - m :
			(uint32_t)(qvk_test_rand(&seed) % (mdl.max_seq - m + 1));
		size_t nk = (size_t)m * mdl.n_kv_heads * mdl.head_dim;
		uint64_t lb = qvk_ops_kv_layer_bytes(&mdl);
		float *k = qvk_ops_test_alloc(4 * nk), *v = qvk_ops_test_alloc(4 * nk);
		uint16_t *kc = qvk_ops_test_alloc(lb), *vc = qvk_ops_test_alloc(lb);
		uint16_t *gk = qvk_ops_test_alloc(lb), *gv = qvk_ops_test_alloc(lb);
		struct qvk_buffer *step, *kb, *vb, *kcb, *vcb;
		uint32_t exact = 0, written = 0;
		struct qvk_op op;

		qvk_ops_test_fill_normal(&seed, k, nk, 2.0f);
		qvk_ops_test_fill_normal(&seed, v, nk, 0.5f);
		k[0] = 70000.0f;  /* past fp16's range: inf */
		v[1] = 3e-6f;     /* fp16 subnormal */
		step = qvk_attn_step_buffer(m);
		kb = qvk_ops_test_buffer(k, 4 * nk);
		vb = qvk_ops_test_buffer(v, 4 * nk);
		kcb = qvk_ops_test_buffer(NULL, lb);
		vcb = qvk_ops_test_buffer(NULL, lb);
		for (uint64_t i = 0; i < lb / 2; i++)
			kc[i] = vc[i] = (uint16_t)(i & 1 ? QVK_OPS_POISON >> 16 :
						  QVK_OPS_POISON & 0xffff);
		ck_assert_int_eq(qvk_ops_step_write(step, pos, NULL, m,
						    mdl.max_seq, mdl.n_vocab),
				 QVK_OK);
		qvk_ops_test_check_bind(qvk_ops_kv_write_bind(
			&ops, &op, &mdl, m, QVK_WHOLE(step), QVK_WHOLE(kb),
			QVK_WHOLE(vb), QVK_WHOLE(kcb), QVK_WHOLE(vcb)));
		qvk_ops_test_run(&op, 1);
		qvk_ref_kv_write(&mdl, m, pos, k, v, kc, vc);
		qvk_ops_test_read(kcb, gk, lb);
		qvk_ops_test_read(vcb, gv, lb);
		for (uint32_t h = 0; h < mdl.n_kv_heads; h++)
			for (uint32_t p = 0; p < mdl.max_seq; p++)
				for (uint32_t d = 0; d < mdl.head_dim; d++) {
					size_t i = ((size_t)h * mdl.max_seq + p) * mdl.head_dim + d;
					bool in = p >= pos && p < pos + m;

					for (int t = 0; t < 2; t++) {
						uint16_t g = t ? gv[i] : gk[i];
						uint16_t want = t ? vc[i] : kc[i];
						float gf = qvk_ref_f16_to_f32(g);
						float wf = qvk_ref_f16_to_f32(want);

						if (!in || g == want) {
							ck_assert_msg(g == want,
								      "cache[%u][%u][%u] %s: %#x, want %#x",
								      h, p, d, t ? "v" : "k", g, want);
							exact += in;
							written += in;
							continue;
						}
						written++;
						/* One ulp: a rounding mode other than RTE. */
						ck_assert_msg(fabsf(gf - wf) <= fabsf(wf) * 0x1p-10f + 0x1p-24f,
							      "cache[%u][%u][%u] %s: %g, want %g",
							      h, p, d, t ? "v" : "k",
							      (double)gf, (double)wf);
					}
				}
		printf("  kv_write hd %u kv %u m %u pos %u: %u of %u halves equal "
		       "the RTE reference, the rest within 1 ulp; other positions "
		       "untouched\n", mdl.head_dim, mdl.n_kv_heads, m, pos, exact,
		       written);
		ck_assert_uint_eq(written, 2 * nk);
		qvk_buffer_destroy(step);
		qvk_buffer_destroy(kb);
		qvk_buffer_destroy(vb);
		qvk_buffer_destroy(kcb);
		qvk_buffer_destroy(vcb);
		free(k);
		free(v);
		free(kc);
		free(vc);
		free(gk);
		free(gv);
	}
	qvk_ops_finish(&ops);
}
END_TEST

START_TEST(test_attention_decode_matches_reference)
{
	uint64_t seed = qvk_test_seed("attention decode");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	const struct qvk_attn_case cases[] = {
		{ 8, 8, 4, 512, 1, 0, 1.0f },    /* one position */
		{ 8, 8, 4, 512, 1, 511, 1.0f },  /* the whole cache */
		{ 64, 8, 4, 512, 1, 300, 1.0f },
		{ 128, 8, 4, 512, 1, 77, 1.0f },
		{ 64, 6, 6, 512, 1, 200, 20.0f }, /* MHA, peaked softmax */
		{ 48, 8, 1, 600, 2, 390, 1.0f },  /* MQA, 2 tokens */
		{ 48, 8, 1, 600, 1, 599, 1.0f },  /* head_dim / 8 < subgroup */
		/* Several chunks: the online softmax's rescaling. */
		{ 64, 4, 2, 2 * ops.attn_chunk[1] + 100, 1,
		  2 * ops.attn_chunk[1] + 99, 3.0f },
		{ 128, 16, 2, 2 * ops.attn_chunk[3] + 10, 1,
		  2 * ops.attn_chunk[3] + 9, 1.0f }, /* GMAX 8 */
		{ 64, 12, 3, ops.attn_chunk[2] + 30, 1,
		  ops.attn_chunk[2] + 20, 1.0f },    /* GMAX 4 */
		{ 64, 6, 2, ops.attn_chunk[0] + 30, 1,
		  ops.attn_chunk[0] + 20, 1.0f },    /* G = 3: GMAX 1 */
	};
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++)
		qvk_attn_run_case(&ops, &seed, &cases[c]);
	qvk_ops_finish(&ops);
}
END_TEST

START_TEST(test_attention_prefill_is_causal)
{
	uint64_t seed = qvk_test_seed("attention prefill");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	const struct qvk_attn_case cases[] = {
		{ 8, 8, 4, 512, 13, 0, 1.0f },
		{ 64, 8, 4, 512, 32, 100, 1.0f },
		{ 128, 8, 4, 512, 7, 505, 2.0f }, /* up to the last position */
		{ 64, 4, 2, ops.attn_chunk[1] + 40, 24, ops.attn_chunk[1] - 10, 1.0f },
		{ 64, 32, 4, 300, 9, 250, 1.0f }, /* TinyLlama's heads */
	};
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++)
		qvk_attn_run_case(&ops, &seed, &cases[c]);
	qvk_ops_finish(&ops);
}
END_TEST

Suite *suite_ops_attn(void);
Suite *suite_ops_attn(void)
{
	Suite *s = suite_create("ops_attn");
	TCase *tc = tcase_create("embed");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_embed_matches_table, 0, 2);
	tcase_add_test(tc, test_embed_table_in_pieces);
	suite_add_tcase(s, tc);
	tc = tcase_create("position");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_rope_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_kv_write_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_attention_decode_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_attention_prefill_is_causal, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
