/* SPDX-License-Identifier: MIT */
/*
 * The head and per-architecture op kernels (bias_add for Qwen's biases,
 * the per-head q/k rmsnorm, the greedy argmax) against the scalar C
 * references of runtime/ops/ops_ref.c, and the binding's refusal of
 * wrong sizes; the same rules as check_ops.c (fresh random inputs,
 * outputs poisoned first, validation layer on, tolerances printed):
 * bias_add exact (one correctly rounded add), nothing written past the
 * rows; the per-head rmsnorm as check_ops.c's rmsnorm.
 */
#include "check_ops.h"

/* ------------------------------------------------- bias, head norm */
/* y += b on every row is one correctly rounded add: exact; past m rows untouched. */
START_TEST(test_bias_add_is_exact)
{
	static const struct { uint32_t n, m; } cases[] = {
		{ 896, 1 }, { 128, 7 }, { 4864 + 3, 3 }, { 5, 64 },
	};
	uint64_t seed = qvk_test_seed("bias_add");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
		uint32_t n = cases[c].n, m = cases[c].m;
		size_t len = (size_t)m * n, extra = 9;
		float *y = qvk_ops_test_alloc(4 * (len + extra));
		float *b = qvk_ops_test_alloc(4ull * n);
		float *got = qvk_ops_test_alloc(4 * (len + extra));
		struct qvk_buffer *yb, *bb;
		struct qvk_op op;
		char what[64];

		qvk_ops_test_fill_normal(&seed, y, len, 4.0f);
		qvk_ops_test_fill_normal(&seed, b, n, 0.5f);
		yb = qvk_ops_test_buffer(NULL, 4 * (len + extra)); /* poisoned tail */
		ck_assert_int_eq(qvk_buffer_write(yb, 0, y, 4 * len), QVK_OK);
		bb = qvk_ops_test_buffer(b, 4ull * n);
		qvk_ops_test_check_bind(qvk_ops_bias_add_bind(
			&ops, &op, n, m, QVK_WHOLE(yb), QVK_WHOLE(bb)));
		qvk_ops_test_run(&op, 1);
		qvk_ops_test_read(yb, got, 4 * (len + extra));
		qvk_ref_bias_add(y, b, n, m);
		snprintf(what, sizeof(what), "bias_add n %u m %u", n, m);
		qvk_ops_test_close(what, got, y, len, 0.0f, 0.0f);
		for (size_t i = len; i < len + extra; i++) {
			uint32_t bits;

			memcpy(&bits, &got[i], 4);
			ck_assert_msg(bits == QVK_OPS_POISON, "bias_add wrote past "
				      "its rows at %zu", i);
		}
		qvk_buffer_destroy(yb);
		qvk_buffer_destroy(bb);
		free(y);
		free(b);
		free(got);
	}
	qvk_ops_finish(&ops);
}
END_TEST

/* Qwen3's q/k norm: each head's row normed in place with one weight. */
START_TEST(test_head_rmsnorm_matches_reference)
{
	static const struct { uint32_t hd, heads, m; } cases[] = {
		{ 128, 16, 1 }, { 128, 8, 5 }, { 64, 2, 3 }, { 72, 3, 2 },
	};
	uint64_t seed = qvk_test_seed("head rmsnorm");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
		uint32_t hd = cases[c].hd, heads = cases[c].heads, m = cases[c].m;
		struct qvk_ops_model mdl = qvk_ops_model_dim(256, 512);
		size_t len = (size_t)m * heads * hd;
		float *x = qvk_ops_test_alloc(4 * len);
		float *w = qvk_ops_test_alloc(4ull * hd);
		float *got = qvk_ops_test_alloc(4 * len);
		struct qvk_buffer *xb, *wb;
		struct qvk_op op;
		char what[64];

		mdl.head_dim = hd;
		mdl.n_heads = heads;
		mdl.n_kv_heads = 1;
		mdl.norm_eps = 1e-6f;
		qvk_ops_test_fill_normal(&seed, x, len, 3.0f);
		for (uint32_t j = 0; j < hd; j++)
			w[j] = qvk_test_uniform(&seed, 0.2f, 2.0f);
		xb = qvk_ops_test_buffer(x, 4 * len);
		wb = qvk_ops_test_buffer(w, 4ull * hd);
		qvk_ops_test_check_bind(qvk_ops_head_rmsnorm_bind(
			&ops, &op, &mdl, m, heads, QVK_WHOLE(xb), QVK_WHOLE(wb)));
		qvk_ops_test_run(&op, 1);
		qvk_ops_test_read(xb, got, 4 * len);
		qvk_ref_head_rmsnorm(x, w, hd, m * heads, mdl.norm_eps);
		snprintf(what, sizeof(what), "head rmsnorm hd %u heads %u m %u (%s)",
			 hd, heads, m, op.pipe == ops.rmsnorm[1] ? "vec4" : "scalar");
		qvk_ops_test_close(what, got, x, len, 1e-6f, 2e-5f);
		qvk_buffer_destroy(xb);
		qvk_buffer_destroy(wb);
		free(x);
		free(w);
		free(got);
	}
	qvk_ops_finish(&ops);
}
END_TEST

/* ----------------------------------------------------------- argmax */
START_TEST(test_argmax_matches_reference)
{
	static const uint32_t ns[] = { 512, 32000, 1, 37 };
	uint64_t seed = qvk_test_seed("argmax");
	const uint32_t m = 6;
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t c = 0; c < QVK_ARRAY_SIZE(ns); c++) {
		uint32_t n = ns[c], got[6], want[6];
		float *x = qvk_ops_test_alloc(4ull * m * n);
		struct qvk_buffer *xb, *tb;
		struct qvk_op op;

		qvk_ops_test_fill_normal(&seed, x, (size_t)m * n, 4.0f);
		/* Row 1: a tie, the first wins. Row 2: NaNs never win. */
		x[n + n / 2] = x[n + n - 1] = 100.0f;
		for (uint32_t k = 0; k < n; k += 3)
			x[2 * n + k] = NAN;
		/* Row 3: all NaN -> 0. Row 4: all -inf -> 0 (the first). */
		for (uint32_t k = 0; k < n; k++) {
			x[3 * n + k] = NAN;
			x[4 * n + k] = -INFINITY;
		}
		/* Row 5: the maximum at the last index. */
		x[5 * n + n - 1] = 1e30f;
		xb = qvk_ops_test_buffer(x, 4ull * m * n);
		tb = qvk_ops_test_buffer(NULL, 4ull * m);
		qvk_ops_test_check_bind(qvk_ops_argmax_bind(&ops, &op, n, m,
							    QVK_WHOLE(xb),
							    QVK_WHOLE(tb)));
		qvk_ops_test_run(&op, 1);
		qvk_ops_test_read(tb, got, 4ull * m);
		for (uint32_t r = 0; r < m; r++) {
			want[r] = qvk_ref_argmax(x + (size_t)r * n, n);
			ck_assert_msg(got[r] == want[r], "argmax n %u row %u: %u, want %u",
				      n, r, got[r], want[r]);
		}
		ck_assert_uint_eq(want[1], n > 1 ? n / 2 : 0);
		ck_assert_uint_eq(want[3], 0);
		ck_assert_uint_eq(want[5], n - 1);
		printf("  argmax n %u: %u rows equal the reference\n", n, m);
		qvk_buffer_destroy(xb);
		qvk_buffer_destroy(tb);
		free(x);
	}
	qvk_ops_finish(&ops);
}
END_TEST

/* ------------------------------------------------------- validation */
START_TEST(test_bind_rejects_bad_sizes)
{
	struct qvk_ops_model mdl = qvk_ops_model_dim(288, 768);
	struct qvk_buffer *small = qvk_ops_test_buffer(NULL, 4ull * 287);
	struct qvk_buffer *big = qvk_ops_test_buffer(NULL, 4ull * 288 * 4);
	struct qvk_binding bs = qvk_ops_whole(small), bb = qvk_ops_whole(big);
	struct qvk_ops ops;
	struct qvk_op op;

	qvk_ops_test_init(&ops, _i);
	/* A weight one float short. */
	ck_assert_int_eq(qvk_ops_rmsnorm_bind(&ops, &op, &mdl, 1, &bb, &bs, &bb),
			 QVK_ERR_INVALID_ARG);
	/* Too many tokens for x. */
	ck_assert_int_eq(qvk_ops_rmsnorm_bind(&ops, &op, &mdl, 5, &bb, &bb, &bb),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_ops_rmsnorm_bind(&ops, &op, &mdl, 0, &bb, &bb, &bb),
			 QVK_ERR_INVALID_ARG);
	/* A range past the piece. */
	bb.offset_bytes = 16 * 1024 * 1024;
	ck_assert_int_eq(qvk_ops_residual_add_bind(&ops, &op, 4, &bb, &bs),
			 QVK_ERR_INVALID_ARG);
	bb.offset_bytes = 0;
	mdl.n_kv_heads = 3; /* 8 heads */
	ck_assert_int_eq(qvk_ops_rmsnorm_bind(&ops, &op, &mdl, 1, &bb, &bb, &bb),
			 QVK_ERR_INVALID_ARG);
	mdl.n_kv_heads = 4;
	mdl.head_dim = 7;
	ck_assert_int_eq(qvk_ops_model_check(qvk_test_ctx, &mdl),
			 QVK_ERR_UNSUPPORTED);
	mdl.head_dim = 8;
	mdl.norm_eps = NAN;
	ck_assert_int_eq(qvk_ops_model_check(qvk_test_ctx, &mdl),
			 QVK_ERR_INVALID_ARG);
	/* act_quant: stride below k; swiglu: stride below hidden. */
	ck_assert_int_eq(qvk_ops_act_quant_bind(&ops, &op, 288, 1, 100, &bb,
						&(struct qvk_ops_act){ bb, bb, bb }),
			 QVK_ERR_INVALID_ARG);
	mdl.norm_eps = 1e-5f;
	ck_assert_int_eq(qvk_ops_swiglu_bind(&ops, &op, &mdl, 1, 767, &bb, &bb, &bb),
			 QVK_ERR_INVALID_ARG);
	qvk_ops_finish(&ops);
	qvk_buffer_destroy(small);
	qvk_buffer_destroy(big);
}
END_TEST

Suite *suite_ops_head(void);
Suite *suite_ops_head(void)
{
	Suite *s = suite_create("ops_head");
	TCase *tc = tcase_create("rows");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_bias_add_is_exact, 0, 2);
	tcase_add_loop_test(tc, test_head_rmsnorm_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_argmax_matches_reference, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("validation");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bind_rejects_bad_sizes);
	suite_add_tcase(s, tc);
	return s;
}
