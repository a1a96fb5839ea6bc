/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by tests/check_ops*.c: device buffers from host arrays,
 * one-op runs, and float comparison that reports the worst error and never
 * lets a NaN pass. static inline: each suite uses a subset.
 */
#ifndef QVK_TESTS_CHECK_OPS_H
#define QVK_TESTS_CHECK_OPS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"

/* Pointer to a binding of a whole one-piece buffer (a compound literal). */
#define QVK_WHOLE(b) (&(struct qvk_binding){ .buf = (b) })

/* A quiet-NaN pattern: any unwritten output read back fails comparisons. */
#define QVK_OPS_POISON 0x7fc00001u

static inline void *qvk_ops_test_alloc(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* Device buffer with @bytes of @src (NULL: poisoned). */
static inline struct qvk_buffer *qvk_ops_test_buffer(const void *src,
						     uint64_t bytes)
{
	struct qvk_buffer *b;
	qvk_status st = qvk_buffer_create(qvk_test_dev, QVK_MEM_DEVICE, bytes,
					  4, &b);

	ck_assert_msg(st == QVK_OK, "buffer: %s", qvk_ctx_message(qvk_test_ctx));
	ck_assert_ptr_nonnull(qvk_buffer_piece_map(b, 0));
	qvk_buffer_fill_u32(b, QVK_OPS_POISON);
	if (src)
		ck_assert_int_eq(qvk_buffer_write(b, 0, src, bytes), QVK_OK);
	return b;
}

static inline void qvk_ops_test_read(const struct qvk_buffer *b, void *dst,
				     uint64_t bytes)
{
	ck_assert_int_eq(qvk_buffer_read(b, 0, dst, bytes), QVK_OK);
}

/* Record @n ops (each followed by its barrier), submit, wait. */
static inline void qvk_ops_test_run(const struct qvk_op *ops, uint32_t n)
{
	struct qvk_cmd cmd;

	ck_assert_int_eq(qvk_cmd_init(qvk_test_dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	for (uint32_t i = 0; i < n; i++)
		qvk_op_record(&cmd, &ops[i]);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	qvk_cmd_finish(&cmd);
}

/*
 * Loop tests run twice: @variant 0 with the device's work sizes, 1 with
 * GPU-like ones (256/256/128, clamped to the device), so that on a CPU
 * device whose choice is one subgroup per row the multi-subgroup
 * reductions (shared memory, barriers) are exercised too.
 */
static inline void qvk_ops_test_init(struct qvk_ops *ops, int variant)
{
	const struct qvk_device_info *info = &qvk_test_dev->info;
	uint32_t cap = info->max_workgroup_invocations < info->max_workgroup_size[0] ?
			       info->max_workgroup_invocations :
			       info->max_workgroup_size[0];
	struct qvk_ops_options wide = {
		.wg_row = cap < 256 ? cap : 256,
		.wg_flat = cap < 256 ? cap : 256,
		.wg_attn = cap < 128 ? cap : 128,
		.grid_x_max = 7, /* every flat grid folds into y */
		.no_cpu_attention = true, /* attention through the GPU kernel */
	};
	qvk_status st = qvk_ops_init_opts(qvk_test_dev, variant ? &wide : NULL,
					  ops);

	ck_assert_msg(st == QVK_OK, "ops: %s", qvk_ctx_message(qvk_test_ctx));
	printf("  [work sizes: row %u, flat %u (grid x <= %u), attention %u x "
	       "%u..%u positions, %s attention kernels; subgroup %u]\n",
	       ops->wg_row, ops->wg_flat, ops->grid_x_max, ops->wg_attn,
	       ops->attn_chunk[QVK_OPS_ATTN_VARIANTS - 1], ops->attn_chunk[0],
	       ops->cpu_attention ? "CPU" : "GPU",
	       info->subgroup_size);
}

static inline void qvk_ops_test_check_bind(qvk_status st)
{
	ck_assert_msg(st == QVK_OK, "bind: %s: %s", qvk_strerror(st),
		      qvk_ctx_message(qvk_test_ctx));
}

/*
 * |got - want| <= atol + rtol * |want| for all @n; prints the worst
 * absolute and relative errors under @what. NaN or inf in @got fails.
 */
static inline void qvk_ops_test_close(const char *what, const float *got,
				      const float *want, size_t n, float atol,
				      float rtol)
{
	double worst_abs = 0, worst_rel = 0;
	size_t bad = n;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - (double)want[i]);
		double r = e / fmax(fabs((double)want[i]), 1e-30);

		if (!(e <= atol + rtol * fabs((double)want[i]))) {
			if (bad == n)
				bad = i;
		}
		if (e > worst_abs || isnan(e))
			worst_abs = e;
		if (r > worst_rel || isnan(r))
			worst_rel = r;
	}
	printf("  %s: %zu values, max abs err %.3g, max rel err %.3g "
	       "(tolerance %.3g + %.3g*|ref|)\n", what, n, worst_abs,
	       worst_rel, (double)atol, (double)rtol);
	fflush(stdout);
	ck_assert_msg(bad == n, "%s[%zu] = %.9g, want %.9g", what, bad,
		      bad < n ? (double)got[bad] : 0.0,
		      bad < n ? (double)want[bad] : 0.0);
}

static inline void qvk_ops_test_fill_normal(uint64_t *seed, float *x,
					    size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = qvk_test_normal(seed) * scale;
}

/* A small model shape for the row kernels: dim and hidden as asked. */
static inline struct qvk_ops_model qvk_ops_model_dim(uint32_t dim, uint32_t hidden)
{
	return (struct qvk_ops_model){
		.dim = dim, .hidden_dim = hidden, .n_heads = 8,
		.n_kv_heads = 4, .head_dim = 8, .max_seq = 512,
		.n_vocab = 512, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
	};
}

#endif
