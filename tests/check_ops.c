/* SPDX-License-Identifier: MIT */
/*
 * The row and elementwise op kernels (rmsnorm, rmsnorm_q8, act_quant,
 * swiglu, swiglu_q8, residual_add; bias_add, per-head rmsnorm and argmax:
 * check_ops_head.c) and the int8 activation layout against the scalar C references of
 * runtime/ops/ops_ref.c, on fresh random inputs with odd sizes, outputs
 * poisoned first (in-place kernels: their expected outputs differ from
 * the inputs), validation layer on.
 *
 * Tolerances (all can fail; each test prints the measured error):
 * - rmsnorm, swiglu: |gpu - ref| <= 1e-6 + 2e-5 |ref| (summation order of
 *   the reduction, sqrt/exp within a few ulp).
 * - residual_add: exact (one correctly rounded add); nothing written
 *   past the rows.
 * - int8 activations: sa within 1e-6 relative (act_quant) or 2e-5 (fused,
 *   whose inputs differ from the reference by the fp32 errors above); each
 *   q equal to the reference's, or off by one where the reference's
 *   x * (1/d) lies within 2e-3 (fused) or 1e-4 (act_quant) of a rounding
 *   tie; suma exactly Σ of the kernel's own q per block; padding exactly 0.
 */
#include "check_ops.h"

#include "matmul/matmul.h"

/* The activation layout constants agree with the matmul side. */
_Static_assert(QVK_ACT_LAYOUT_K_ALIGN == QVK_ACT_ALIGN,
	       "act_layout.h and matmul.h disagree on the row padding");

static int8_t qvk_ops_lane(const uint32_t *qa, size_t word, uint32_t lane)
{
	return (int8_t)(qa[word] >> (8 * lane));
}

/*
 * Check GPU activations of m rows of k (ref values @y, row stride k),
 * scales per token or per 32-block, against qvk_ref_act_quant as described
 * in the file comment.
 */
static void qvk_ops_check_act(const char *what, uint32_t m, uint32_t k,
			      bool per_block, const float *y,
			      const struct qvk_buffer *qa_b,
			      const struct qvk_buffer *sa_b,
			      const struct qvk_buffer *suma_b, double sa_rtol,
			      double tie_window)
{
	uint32_t kp = QVK_ACT_LAYOUT_KP(k), nb = kp / 32;
	uint64_t sa_bytes = qvk_act_sa_bytes(m, k, per_block);
	uint32_t *qa = qvk_ops_test_alloc((size_t)m * kp);
	uint32_t *rqa = qvk_ops_test_alloc((size_t)m * kp);
	float *sa = qvk_ops_test_alloc(sa_bytes), *rsa = qvk_ops_test_alloc(sa_bytes);
	int32_t *suma = qvk_ops_test_alloc(4ull * m * nb);
	int32_t *rsuma = qvk_ops_test_alloc(4ull * m * nb);
	uint32_t off_by_one = 0;
	double worst_sa = 0;

	qvk_ops_test_read(qa_b, qa, (uint64_t)m * kp);
	qvk_ops_test_read(sa_b, sa, sa_bytes);
	qvk_ops_test_read(suma_b, suma, 4ull * m * nb);
	qvk_ref_act_quant(y, k, m, k, per_block, rqa, rsa, rsuma);
	for (uint32_t i = 0; i < sa_bytes / 4; i++) {
		double e = fabs((double)sa[i] - rsa[i]);

		ck_assert_msg(e <= sa_rtol * rsa[i], "%s: sa[%u] = %.9g, want %.9g",
			      what, i, (double)sa[i], (double)rsa[i]);
		if (rsa[i] > 0)
			worst_sa = fmax(worst_sa, e / rsa[i]);
	}
	for (uint32_t r = 0; r < m; r++) {
		for (uint32_t b = 0; b < nb; b++) {
			float d = rsa[per_block ? (size_t)r * nb + b : r];
			float inv = d > 0 ? 1.0f / d : 0.0f;
			int32_t s = 0;

			for (uint32_t j = b * 32; j < b * 32 + 32; j++) {
				size_t word = (size_t)r * (kp / 4) + j / 4;
				int g = qvk_ops_lane(qa, word, j % 4);
				int want = qvk_ops_lane(rqa, word, j % 4);

				s += g;
				if (j >= k) {
					ck_assert_msg(g == 0, "%s: padding q[%u][%u] = %d",
						      what, r, j, g);
					continue;
				}
				if (g == want)
					continue;
				float t = fabsf(y[(size_t)r * k + j] * inv);
				double frac = t - floorf(t);

				ck_assert_msg(abs(g - want) == 1 &&
						      fabs(frac - 0.5) < tie_window,
					      "%s: q[%u][%u] = %d, want %d (x/d = %.7f)",
					      what, r, j, g, want,
					      (double)(y[(size_t)r * k + j] * inv));
				off_by_one++;
			}
			ck_assert_msg(suma[(size_t)r * nb + b] == s,
				      "%s: suma[%u][%u] = %d, Σq = %d", what, r,
				      b, suma[(size_t)r * nb + b], s);
		}
	}
	printf("  %s, scales per %s: %u x %u (Kp %u): sa max rel err %.3g, %u "
	       "of %llu q off by one at rounding ties\n", what,
	       per_block ? "32-block" : "token", m, k, kp, worst_sa, off_by_one,
	       (unsigned long long)m * k);
	fflush(stdout);
	free(qa);
	free(rqa);
	free(sa);
	free(rsa);
	free(suma);
	free(rsuma);
}

struct qvk_ops_act_bufs {
	struct qvk_buffer *qa, *sa, *suma;
	struct qvk_ops_act bind;
};

static void qvk_ops_act_bufs_create(struct qvk_ops_act_bufs *a, uint32_t m,
				    uint32_t k, bool per_block)
{
	a->qa = qvk_ops_test_buffer(NULL, qvk_act_qa_bytes(m, k));
	a->sa = qvk_ops_test_buffer(NULL, qvk_act_sa_bytes(m, k, per_block));
	a->suma = qvk_ops_test_buffer(NULL, qvk_act_suma_bytes(m, k));
	a->bind.qa = qvk_ops_whole(a->qa);
	a->bind.sa = qvk_ops_whole(a->sa);
	a->bind.suma = qvk_ops_whole(a->suma);
	a->bind.per_block = per_block;
}

static void qvk_ops_act_bufs_destroy(struct qvk_ops_act_bufs *a)
{
	qvk_buffer_destroy(a->qa);
	qvk_buffer_destroy(a->sa);
	qvk_buffer_destroy(a->suma);
}

/* ----------------------------------------------------------- layout */
START_TEST(test_act_layout_glsl_matches_c)
{
	struct qvk_pipeline_desc desc = { .shader = "act_layout_test",
					  .n_bindings = 1 };
	struct {
		float t[16];
		int32_t r[16];
		uint32_t c[4];
	} io = { .t = { 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.49999997f,
			-0.49999997f, 126.5f, 127.49f, 200.0f, -1e9f, -0.0f,
			1e-30f, 3.4999998f, 64.5f, -126.50001f } };
	struct qvk_pipeline *pipe;
	struct qvk_buffer *b;
	struct qvk_cmd cmd;
	VkDescriptorSet set;
	float qmax = QVK_ACT_LAYOUT_QMAX;
	uint32_t qmax_bits;

	b = qvk_ops_test_buffer(&io, sizeof(io));
	ck_assert_int_eq(qvk_pipeline_create(qvk_test_dev, &desc, &pipe), QVK_OK);
	ck_assert_int_eq(qvk_descset_create(pipe,
					    (struct qvk_binding[]){ qvk_ops_whole(b) },
					    &set),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(qvk_test_dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_cmd_dispatch(&cmd, pipe, set, NULL, 1, 1, 1);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	qvk_ops_test_read(b, &io, sizeof(io));
	memcpy(&qmax_bits, &qmax, 4);
	ck_assert_uint_eq(io.c[0], QVK_ACT_LAYOUT_K_ALIGN);
	ck_assert_uint_eq(io.c[1], QVK_ACT_LAYOUT_BLOCK);
	ck_assert_uint_eq(io.c[2], qmax_bits);
	for (int i = 0; i < 16; i++) {
		float want = fminf(fmaxf(roundf(io.t[i]), -qmax), qmax);

		ck_assert_msg(io.r[i] == (int32_t)want,
			      "round(%.9g): glsl %d, C %d", (double)io.t[i],
			      io.r[i], (int32_t)want);
	}
	qvk_cmd_finish(&cmd);
	qvk_pipeline_destroy(pipe);
	qvk_buffer_destroy(b);
}
END_TEST

/*
 * The C reference quantizer equals the quantization core's, bit for bit,
 * with scales per token and per 32-block (the K of 300 ends in a partial
 * block and padding blocks).
 */
START_TEST(test_act_ref_matches_quant_core)
{
	uint64_t seed = qvk_test_seed("act ref vs quant core");
	const uint32_t m = 5, k = 300, kp = QVK_ACT_LAYOUT_KP(k), nb = kp / 32;
	float *x = qvk_ops_test_alloc(4ull * m * k);
	uint32_t *qa = qvk_ops_test_alloc((size_t)m * kp);
	float *sa = qvk_ops_test_alloc(4ull * m * nb);
	int32_t *suma = qvk_ops_test_alloc(4ull * m * nb);

	qvk_ops_test_fill_normal(&seed, x, (size_t)m * k, 3.0f);
	for (uint32_t j = 0; j < k; j++)
		x[2 * k + j] = 0.0f; /* a zero row: d = 0, q = 0 */
	x[3 * k + 7] = 1000.0f;      /* an outlier */
	for (int pb = 0; pb < 2; pb++) {
		struct qvk_qact *qc;

		qvk_ref_act_quant(x, k, m, k, pb, qa, sa, suma);
		ck_assert_int_eq(qvk_qact_create(qvk_test_ctx, pb ? QVK_ACT_PER_BLOCK32 :
						 QVK_ACT_PER_TOKEN, m, k, kp, &qc),
				 QVK_OK);
		ck_assert_int_eq(qvk_quantize_act(qvk_test_ctx, "x", x, qc), QVK_OK);
		ck_assert_uint_eq(qc->row_words, kp / 4);
		ck_assert_int_eq(memcmp(qc->qs, qa, (size_t)m * kp), 0);
		ck_assert_int_eq(memcmp(qc->scales, sa, qvk_act_sa_bytes(m, k, pb)),
				 0);
		ck_assert_int_eq(memcmp(qc->sums, suma, 4ull * m * nb), 0);
		ck_assert_float_eq(sa[pb ? 2 * nb : 2], 0.0f);
		qvk_qact_destroy(qc);
	}
	free(x);
	free(qa);
	free(sa);
	free(suma);
}
END_TEST

/* ---------------------------------------------------------- rmsnorm */
static const uint32_t qvk_ops_dims[] = { 64, 172, 173, 288, 4096 };
static const uint32_t qvk_ops_ms[] = { 1, 3, 7 };

START_TEST(test_rmsnorm_matches_reference)
{
	uint64_t seed = qvk_test_seed("rmsnorm");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t di = 0; di < QVK_ARRAY_SIZE(qvk_ops_dims); di++) {
		uint32_t dim = qvk_ops_dims[di];
		uint32_t m = qvk_ops_ms[di % QVK_ARRAY_SIZE(qvk_ops_ms)];
		struct qvk_ops_model mdl = qvk_ops_model_dim(dim, dim);
		float *x = qvk_ops_test_alloc(4ull * m * dim);
		float *w = qvk_ops_test_alloc(4ull * dim);
		float *got = qvk_ops_test_alloc(4ull * m * dim);
		float *want = qvk_ops_test_alloc(4ull * m * dim);
		struct qvk_buffer *xb, *wb, *ob;
		struct qvk_op op[2];
		char what[64];

		qvk_ops_test_fill_normal(&seed, x, (size_t)m * dim, 2.0f);
		for (uint32_t j = 0; j < dim; j++)
			w[j] = qvk_test_uniform(&seed, -1.5f, 1.5f);
		qvk_ref_rmsnorm(x, w, dim, m, mdl.norm_eps, want);
		xb = qvk_ops_test_buffer(x, 4ull * m * dim);
		wb = qvk_ops_test_buffer(w, 4ull * dim);
		ob = qvk_ops_test_buffer(NULL, 4ull * m * dim);
		qvk_ops_test_check_bind(qvk_ops_rmsnorm_bind(
			&ops, &op[0], &mdl, m, QVK_WHOLE(xb),
			QVK_WHOLE(wb), QVK_WHOLE(ob)));
		/* In place: out aliases x. */
		qvk_ops_test_check_bind(qvk_ops_rmsnorm_bind(
			&ops, &op[1], &mdl, m, QVK_WHOLE(xb),
			QVK_WHOLE(wb), QVK_WHOLE(xb)));
		qvk_ops_test_run(op, 1);
		qvk_ops_test_read(ob, got, 4ull * m * dim);
		snprintf(what, sizeof(what), "rmsnorm dim %u m %u (%s)", dim, m,
			 op[0].pipe == ops.rmsnorm[1] ? "vec4" : "scalar");
		qvk_ops_test_close(what, got, want, (size_t)m * dim, 1e-6f, 2e-5f);
		qvk_ops_test_run(&op[1], 1);
		qvk_ops_test_read(xb, got, 4ull * m * dim);
		qvk_ops_test_close("  in place", got, want, (size_t)m * dim, 1e-6f,
				   2e-5f);
		qvk_buffer_destroy(xb);
		qvk_buffer_destroy(wb);
		qvk_buffer_destroy(ob);
		free(x);
		free(w);
		free(got);
		free(want);
	}
	qvk_ops_finish(&ops);
}
END_TEST

START_TEST(test_rmsnorm_q8_matches_reference)
{
	uint64_t seed = qvk_test_seed("rmsnorm_q8");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t di = 0; di < QVK_ARRAY_SIZE(qvk_ops_dims); di++) {
		uint32_t dim = qvk_ops_dims[di];
		uint32_t m = qvk_ops_ms[(di + 1) % QVK_ARRAY_SIZE(qvk_ops_ms)];
		struct qvk_ops_model mdl = qvk_ops_model_dim(dim, dim);
		float *x = qvk_ops_test_alloc(4ull * m * dim);
		float *w = qvk_ops_test_alloc(4ull * dim);
		float *y = qvk_ops_test_alloc(4ull * m * dim);
		struct qvk_buffer *xb, *wb;
		struct qvk_ops_act_bufs act;
		struct qvk_op op;
		char what[64];

		qvk_ops_test_fill_normal(&seed, x, (size_t)m * dim, 0.7f);
		x[dim / 2] = 40.0f; /* an outlier channel in row 0 */
		for (uint32_t j = 0; j < dim; j++)
			w[j] = qvk_test_uniform(&seed, 0.1f, 2.0f);
		qvk_ref_rmsnorm(x, w, dim, m, mdl.norm_eps, y);
		xb = qvk_ops_test_buffer(x, 4ull * m * dim);
		wb = qvk_ops_test_buffer(w, 4ull * dim);
		for (int pb = 0; pb < 2; pb++) {
			qvk_ops_act_bufs_create(&act, m, dim, pb);
			qvk_ops_test_check_bind(qvk_ops_rmsnorm_q8_bind(
				&ops, &op, &mdl, m, QVK_WHOLE(xb),
				QVK_WHOLE(wb), &act.bind));
			qvk_ops_test_run(&op, 1);
			snprintf(what, sizeof(what), "rmsnorm_q8 dim %u (%s)", dim,
				 op.pipe == ops.rmsnorm_q8[pb][1] ? "vec4" : "scalar");
			qvk_ops_check_act(what, m, dim, pb, y, act.qa, act.sa,
					  act.suma, 2e-5, 2e-3);
			qvk_ops_act_bufs_destroy(&act);
		}
		qvk_buffer_destroy(xb);
		qvk_buffer_destroy(wb);
		free(x);
		free(w);
		free(y);
	}
	qvk_ops_finish(&ops);
}
END_TEST

START_TEST(test_act_quant_matches_reference)
{
	static const uint32_t ks[] = { 64, 172, 288, 4096, 11008, 301 };
	uint64_t seed = qvk_test_seed("act_quant");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t ki = 0; ki < QVK_ARRAY_SIZE(ks); ki++) {
		uint32_t k = ks[ki], m = 4, stride = k + (uint32_t)ki * 3;
		float *x = qvk_ops_test_alloc(4ull * m * stride);
		float *y = qvk_ops_test_alloc(4ull * m * k);
		struct qvk_ops_act_bufs act;
		struct qvk_buffer *xb;
		struct qvk_op op;
		char what[64];

		qvk_ops_test_fill_normal(&seed, x, (size_t)m * stride, 5.0f);
		for (uint32_t j = 0; j < k; j++)
			x[stride + j] = 0.0f; /* row 1 all zero */
		x[2 * stride + k - 1] = -300.0f; /* outlier in the last column */
		for (uint32_t r = 0; r < m; r++)
			memcpy(y + (size_t)r * k, x + (size_t)r * stride, 4ull * k);
		xb = qvk_ops_test_buffer(x, 4ull * m * stride);
		for (int pb = 0; pb < 2; pb++) {
			qvk_ops_act_bufs_create(&act, m, k, pb);
			qvk_ops_test_check_bind(qvk_ops_act_quant_bind(
				&ops, &op, k, m, stride, QVK_WHOLE(xb), &act.bind));
			qvk_ops_test_run(&op, 1);
			snprintf(what, sizeof(what), "act_quant k %u stride %u (%s)",
				 k, stride,
				 op.pipe == ops.act_quant[pb][1] ? "vec4" : "scalar");
			qvk_ops_check_act(what, m, k, pb, y, act.qa, act.sa,
					  act.suma, 1e-6, 1e-4);
			qvk_ops_act_bufs_destroy(&act);
		}
		qvk_buffer_destroy(xb);
		free(x);
		free(y);
	}
	qvk_ops_finish(&ops);
}
END_TEST

/* ----------------------------------------------------------- swiglu */
static const uint32_t qvk_ops_hiddens[] = { 172, 688, 768, 11008, 770, 5 };

START_TEST(test_swiglu_matches_reference)
{
	uint64_t seed = qvk_test_seed("swiglu");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	for (size_t hi = 0; hi < QVK_ARRAY_SIZE(qvk_ops_hiddens); hi++) {
		uint32_t hid = qvk_ops_hiddens[hi], m = hi % 2 ? 5 : 1;
		/* Odd cases: gate|up fused in one (m, 2*hidden) output. */
		bool fused = hi % 2, pb = hi >= 3; /* the last: per-block scales */
		uint32_t stride = fused ? 2 * hid : hid;
		struct qvk_ops_model mdl = qvk_ops_model_dim(64, hid);
		size_t n_in = (size_t)m * stride;
		float *g = qvk_ops_test_alloc(4 * n_in), *u = qvk_ops_test_alloc(4 * n_in);
		float *got = qvk_ops_test_alloc(4ull * m * hid);
		float *want = qvk_ops_test_alloc(4ull * m * hid);
		struct qvk_buffer *gb, *ub, *ob;
		struct qvk_ops_act_bufs act;
		struct qvk_binding gbind, ubind;
		struct qvk_op op[2];
		char what[64];

		qvk_ops_test_fill_normal(&seed, g, n_in, 3.0f);
		qvk_ops_test_fill_normal(&seed, u, n_in, 1.0f);
		g[0] = -100.0f; /* exp(100): silu -> -0 */
		g[1] = 90.0f;
		gb = qvk_ops_test_buffer(g, 4 * n_in);
		ub = fused ? gb : qvk_ops_test_buffer(u, 4 * n_in);
		ob = qvk_ops_test_buffer(NULL, 4ull * m * hid);
		gbind = qvk_ops_whole(gb);
		ubind = qvk_ops_whole(ub);
		if (fused) {
			/* up = second half of each row: an offset binding. */
			uint64_t align = qvk_test_dev->info.min_storage_buffer_offset_alignment;

			if ((4ull * hid) % align) {
				fused = false;
			} else {
				ubind.offset_bytes = 4ull * hid;
			}
		}
		qvk_ref_swiglu(g, fused ? g + hid : (ub == gb ? g : u), hid, m,
			       stride, want);
		qvk_ops_test_check_bind(qvk_ops_swiglu_bind(
			&ops, &op[0], &mdl, m, stride, &gbind, &ubind,
			QVK_WHOLE(ob)));
		qvk_ops_act_bufs_create(&act, m, hid, pb);
		qvk_ops_test_check_bind(qvk_ops_swiglu_q8_bind(
			&ops, &op[1], &mdl, m, stride, &gbind, &ubind,
			&act.bind));
		/* Both read gate/up and write different buffers: one barrier. */
		qvk_ops_test_run(op, 2);
		qvk_ops_test_read(ob, got, 4ull * m * hid);
		snprintf(what, sizeof(what), "swiglu hidden %u m %u%s (%s)", hid, m,
			 fused ? " (fused gate|up rows)" : "",
			 op[0].pipe == ops.swiglu[1] ? "vec4" : "scalar");
		qvk_ops_test_close(what, got, want, (size_t)m * hid, 1e-6f, 2e-5f);
		snprintf(what, sizeof(what), "swiglu_q8 hidden %u (%s)", hid,
			 op[1].pipe == ops.swiglu_q8[pb][1] ? "vec4" : "scalar");
		qvk_ops_check_act(what, m, hid, pb, want, act.qa, act.sa, act.suma,
				  2e-5, 2e-3);
		qvk_ops_act_bufs_destroy(&act);
		if (ub != gb)
			qvk_buffer_destroy(ub);
		qvk_buffer_destroy(gb);
		qvk_buffer_destroy(ob);
		free(g);
		free(u);
		free(got);
		free(want);
	}
	qvk_ops_finish(&ops);
}
END_TEST

START_TEST(test_residual_add_is_exact)
{
	uint64_t seed = qvk_test_seed("residual_add");
	/* n % 4 = 1: the scalar tail; the wide variant folds the grid into y. */
	const uint32_t n = 7 * 4096 + 13 + 65536 * 72;
	float *x = qvk_ops_test_alloc(4ull * n), *y = qvk_ops_test_alloc(4ull * n);
	float *got = qvk_ops_test_alloc(4ull * n);
	struct qvk_buffer *xb, *yb;
	struct qvk_ops ops;
	struct qvk_op op;

	qvk_ops_test_init(&ops, _i);
	qvk_ops_test_fill_normal(&seed, x, n, 10.0f);
	qvk_ops_test_fill_normal(&seed, y, n, 0.1f);
	xb = qvk_ops_test_buffer(x, 4ull * n);
	yb = qvk_ops_test_buffer(y, 4ull * n);
	qvk_ops_test_check_bind(qvk_ops_residual_add_bind(
		&ops, &op, n, QVK_WHOLE(xb), QVK_WHOLE(yb)));
	printf("  residual_add: %u elements, grid %u x %u\n", n, op.groups[0],
	       op.groups[1]);
	qvk_ops_test_run(&op, 1);
	qvk_ops_test_read(xb, got, 4ull * n);
	for (uint32_t i = 0; i < n; i++)
		x[i] += y[i];
	qvk_ops_test_close("residual_add", got, x, n, 0.0f, 0.0f);
	qvk_buffer_destroy(xb);
	qvk_buffer_destroy(yb);
	free(x);
	free(y);
	free(got);
	qvk_ops_finish(&ops);
}
END_TEST

Suite *suite_ops(void);
Suite *suite_ops(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("layout");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_act_layout_glsl_matches_c);
	tcase_add_test(tc, test_act_ref_matches_quant_core);
	suite_add_tcase(s, tc);
	tc = tcase_create("rows");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_rmsnorm_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_rmsnorm_q8_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_act_quant_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_swiglu_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_residual_add_is_exact, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
